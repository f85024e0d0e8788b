"""The plots of the feedback pages: what the grader's training of each model shows.

For every model exercise whose accuracy check carries `training` in the report
(grader/training/accuracy.py `training_summary`: the per-epoch history, the confusion
matrix, the most confident mistakes as test-set indices), three PNG files are
drawn beside the Markdown file, in a folder named after it
(`feedback.md` -> `feedback_files/ex02_learning_curves.png`, `..._confusion.png`,
`..._misclassified.png`) and linked with relative links and a caption on how
to read them. The images of the mistakes are never stored in the report: they
are read from the test set the report names, through the course's data loader.

The HTML page (`--feedback feedback.html`, and the batch's feedback.html)
says the same as the Markdown one and embeds these PNGs, so it stands alone.

Drawing never costs a score and never stops a report: a figure that fails is
left out and the page says so in one line. Matplotlib is imported only here,
only when a page has something to plot, and draws with its Agg canvas (no
display, no pyplot state).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from mnist_course.constraints import graded_test_images
from mnist_course.course import load_course

from .formats import html_feedback, markdown_feedback

FOLDER_SUFFIX = "_files"  # feedback.md -> feedback_files/
KINDS = ("learning_curves", "confusion", "misclassified")
_OURS = re.compile(r"^ex\w*_(learning_curves|confusion|misclassified)\.png$")


def figures_folder(markdown_path: Path) -> Path:
    """Where the figures of a Markdown page go: beside it, named after it."""
    markdown_path = Path(markdown_path)
    return markdown_path.with_name(markdown_path.stem + FOLDER_SUFFIX)


HTML_SUFFIXES = (".html", ".htm")


def feedback_page(report: dict[str, Any], markdown_path: Path, title: str = "Feedback", mnist=None) -> str:
    """The feedback page for `report`, to be written at `markdown_path`, with its
    figures already written beside it: Markdown, or standalone HTML (figures
    embedded) when the path ends in .html. `mnist` (the data that was graded,
    when the caller has it loaded) spares re-reading the test images."""
    figures = _figures(report, Path(markdown_path), mnist)
    if Path(markdown_path).suffix.lower() in HTML_SUFFIXES:
        return html_feedback(report, title=title, figures=figures, base=Path(markdown_path).parent)
    return markdown_feedback(report, title=title, figures=figures)


def feedback_pages(report: dict[str, Any], markdown_path: Path, title: str = "Feedback", mnist=None) -> tuple[str, str]:
    """Both pages of one report, from one drawing of its figures: (Markdown to be
    written at `markdown_path`, standalone HTML with the same figures embedded)."""
    figures = _figures(report, Path(markdown_path), mnist)
    return (
        markdown_feedback(report, title=title, figures=figures),
        html_feedback(report, title=title, figures=figures, base=Path(markdown_path).parent),
    )


def _figures(report: dict[str, Any], path: Path, mnist) -> dict[str, list[dict[str, str]]]:
    try:
        return render_figures(report, path, mnist)
    except Exception as exc:  # noqa: BLE001 - figures are a bonus; the page must still be written
        return {ex["id"]: [{"note": f"The figures could not be drawn ({_why(exc)})."}] for ex in report["exercises"] if _training(ex)}


def render_figures(report: dict[str, Any], markdown_path: Path, mnist=None) -> dict[str, list[dict[str, str]]]:
    """Draw every figure the report has data for; return, per exercise id, the
    items of its "training" section: {"path", "alt", "caption"} or {"note"}."""
    folder = figures_folder(markdown_path)
    _remove_old_figures(folder)
    sections: dict[str, list[dict[str, str]]] = {}
    images = _TestImages(report.get("data"), mnist)
    for ex in report["exercises"]:
        found = _training(ex)
        if not found:
            continue
        check, training = found
        items = sections.setdefault(ex["id"], [])
        drawers: list[tuple[str, str, Callable, tuple]] = [("learning_curves", "learning curves", _learning_curves, (ex, check, training))]
        if training.get("confusion"):
            drawers.append(("confusion", "confusion matrix", _confusion, (ex, training["confusion"])))
        if training.get("misclassified"):
            drawers.append(("misclassified", "misclassified digits", _misclassified, (ex, training["misclassified"], images)))
        for kind, what, draw, args in drawers:
            try:
                fig, caption, alt = draw(*args)
                name = f"{re.sub(r'[^A-Za-z0-9_-]', '_', str(ex['id']))}_{kind}.png"
                save_png(fig, folder / name)
            except Exception as exc:  # noqa: BLE001 - one figure lost, never the page
                items.append({"note": f"The {what} could not be drawn ({_why(exc)})."})
                continue
            items.append({"path": f"{quote(folder.name)}/{name}", "alt": alt, "caption": caption})
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return sections


# ---------------------------------------------------------------- helpers


def _training(ex: dict) -> tuple[dict, dict] | None:
    """The check of an exercise that carries training data, and that data."""
    for check in ex.get("checks", []):
        training = check.get("training")
        if isinstance(training, dict) and (training.get("history") or {}).get("loss"):
            return check, training
    return None


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def _remove_old_figures(folder: Path) -> None:
    """Figures of an earlier page at the same place must not outlive it."""
    if folder.is_dir() and not folder.is_symlink():
        for path in folder.iterdir():
            if _OURS.match(path.name) and path.is_file():
                path.unlink(missing_ok=True)


def agg_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # the non-interactive Agg canvas, explicitly: no display ever needed
    return fig


def save_png(fig, path: Path) -> None:
    """Write the PNG atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png")
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _series(history: dict, key: str) -> np.ndarray | None:
    values = history.get(key)
    if not isinstance(values, list) or not values:
        return None
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


# ---------------------------------------------------------------- learning curves


def _learning_curves(ex: dict, check: dict, training: dict):
    from matplotlib.ticker import MaxNLocator

    history = training["history"]
    measured = check.get("measured") or {}
    panels = [("loss", "Loss (lower is better)"), ("accuracy", "Accuracy (higher is better)")]
    panels = [(key, title) for key, title in panels if _series(history, key) is not None]
    fig = agg_figure(5.0 * len(panels), 3.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    loss, val_loss = _series(history, "loss"), _series(history, "val_loss")
    best = int(np.nanargmin(val_loss)) + 1 if val_loss is not None and np.isfinite(val_loss).any() else None
    for ax, (key, title) in zip(axes, panels):
        train, val = _series(history, key), _series(history, f"val_{key}")
        epochs = np.arange(1, len(train) + 1)
        ax.plot(epochs, train, "o-", color="tab:blue", markersize=3, label="training")
        if val is not None:
            ax.plot(np.arange(1, len(val) + 1), val, "o--", color="tab:orange", markersize=3, label="validation")
        if best is not None:
            ax.axvline(best, color="grey", linestyle=":", linewidth=1, label=f"lowest validation loss (epoch {best})")
        if key == "accuracy" and isinstance(measured.get("threshold"), (int, float)):
            ax.axhline(measured["threshold"], color="tab:red", linestyle="-.", linewidth=1, label=f"pass mark ({measured['threshold']:.1%})")
            if isinstance(measured.get("test_accuracy"), (int, float)):
                ax.plot([len(train)], [measured["test_accuracy"]], "*", color="tab:green", markersize=12, label=f"test accuracy{' (' + measured['half'] + ' half)' if measured.get('half') else ''}: {measured['test_accuracy']:.2%}")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{ex['id']} · the grader's training of your model")
    caption = (
        "**Learning curves** of the grader's training: loss and accuracy after each epoch, on the training data "
        "(solid) and on the validation split (dashed). Both falling together: the model is still learning, and more "
        "epochs may help. Validation loss rising while training loss falls: overfitting, see lesson 3, \"Overfitting\" "
        "and \"Early stopping\". Both high and flat: the model barely learns; check the input scaling and the loss "
        "(lesson 2)."
    )
    reading = _read_curves(history, loss, val_loss, best)
    return fig, caption + (f" {reading}" if reading else ""), _curves_alt(ex, history, measured, best)


def _curves_alt(ex: dict, history: dict, measured: dict, best: int | None) -> str:
    """The learning curves in words, with their numbers: what a reader who cannot see the plot needs."""
    def moved(key: str, name: str, form: str) -> str | None:
        values = _series(history, key)
        if values is None or not np.isfinite(values[[0, -1]]).all():
            return None
        verb = "rose" if values[-1] > values[0] else "fell" if values[-1] < values[0] else "stayed"
        return f"{name} {verb} from {values[0]:{form}} to {values[-1]:{form}}"

    epochs = len(_series(history, "loss"))
    said = [m for m in (moved("accuracy", "training accuracy", ".1%"), moved("val_accuracy", "validation accuracy", ".1%"),
                        moved("loss", "training loss", ".3g"), moved("val_loss", "validation loss", ".3g")) if m]
    alt = f"{ex['id']}: learning curves of the grader's training over {epochs} epoch{'s' * (epochs != 1)}"
    alt += (": " + ", ".join(said) + ".") if said else "."
    if best is not None:
        alt += f" Validation loss was lowest at epoch {best}."
    if isinstance(measured.get("test_accuracy"), (int, float)) and isinstance(measured.get("threshold"), (int, float)):
        alt += f" Test accuracy {measured['test_accuracy']:.2%} against a pass mark of {measured['threshold']:.1%}."
    return alt


def _read_curves(history: dict, loss: np.ndarray, val_loss: np.ndarray | None, best: int | None) -> str:
    """One sentence on what this training's curves show, when something stands out."""
    accuracy = _series(history, "accuracy")
    if not np.isfinite(loss).all():
        first = int(np.flatnonzero(~np.isfinite(loss))[0]) + 1
        return f"Here: the training loss stopped being a number at epoch {first}: training diverged (a learning rate far too high, or unscaled inputs)."
    if accuracy is not None and np.isfinite(accuracy[-1]) and accuracy[-1] < 0.5:
        return f"Here: training accuracy ended at {accuracy[-1]:.0%}, so the model barely learned."
    if val_loss is None:
        return "Here: no dashed curves, because training_settings() kept no validation split, so overfitting cannot show."
    if best is None:
        return ""
    last = len(val_loss)
    rose = val_loss[-1] / val_loss[best - 1] - 1 if val_loss[best - 1] > 0 else 0.0
    if best < last and rose > 0.05 and loss[-1] < loss[best - 1]:
        return (
            f"Here: validation loss was lowest at epoch {best} and {rose:.0%} higher by epoch {last}, while training "
            f"loss kept falling: overfitting. EarlyStopping with restore_best_weights=True keeps the best epoch's weights."
        )
    if best == last and last > 1:
        return f"Here: validation loss was still falling at the last epoch ({last}): more epochs may help."
    return ""


# ---------------------------------------------------------------- confusion matrix


def _confusion(ex: dict, confusion: list) -> tuple[Any, str]:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.ticker import MaxNLocator

    cm = np.asarray(confusion, dtype=np.int64)
    if cm.shape != (10, 10) or (cm < 0).any():
        raise ValueError(f"a confusion matrix of shape {cm.shape}")
    mistakes = cm.copy()
    np.fill_diagonal(mistakes, 0)
    norm = Normalize(0, max(int(mistakes.max()), 1))
    cmap = colormaps["Reds"]
    colours = cmap(norm(mistakes))
    colours[mistakes == 0] = (1, 1, 1, 1)
    colours[np.arange(10), np.arange(10)] = (0.86, 0.86, 0.86, 1)
    fig = agg_figure(6.2, 5.4)
    ax = fig.add_subplot()
    ax.imshow(colours)
    for i in range(10):
        for j in range(10):
            if cm[i, j]:
                dark = i != j and norm(mistakes[i, j]) > 0.6
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7 if cm[i, j] >= 1000 else 8,
                        color="white" if dark else "black", fontweight="normal" if i == j else "bold")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"{ex['id']} · confusion matrix on {int(cm.sum()):,} test images\n(grey diagonal: correct; red: mistakes)", fontsize=10)
    fig.colorbar(ScalarMappable(norm, cmap), ax=ax, shrink=0.8, label="mistakes", ticks=MaxNLocator(integer=True))
    caption = (
        f"**Confusion matrix** of your model on the {int(cm.sum()):,} test images: each row is a true digit, each "
        "column the digit your model answered. The grey diagonal counts the right answers; every other cell is one "
        "kind of mistake, darker red for more. The darkest cells are the pairs your model confuses most (lesson 4, "
        "\"The confusion matrix\")."
    )
    pairs = sorted(((int(mistakes[i, j]), i, j) for i in range(10) for j in range(10) if mistakes[i, j]), key=lambda t: (-t[0], t[1], t[2]))
    if pairs:
        shown = ", ".join(f"{i} read as {j} ({n}×)" for n, i, j in pairs[:3])
        caption += f" Here, most often: {shown}."
    right = int(np.trace(cm))
    alt = (f"{ex['id']}: confusion matrix on {int(cm.sum()):,} test images, true digit by row, predicted by column: "
           f"{right:,} right ({right / max(int(cm.sum()), 1):.1%}), {int(mistakes.sum()):,} mistakes")
    alt += f"; most often {', '.join(f'{i} read as {j} ({n} times)' for n, i, j in pairs[:3])}." if pairs else "."
    return fig, caption, alt


# ---------------------------------------------------------------- misclassified digits


class _TestImages:
    """The test images of the data the report names, loaded at most once."""

    def __init__(self, data: dict | None, mnist=None):
        self.data, self.mnist, self._images = data or {}, mnist, None

    def get(self) -> np.ndarray:
        if self._images is None:
            self._images = self._load()
        return self._images

    def _load(self) -> np.ndarray:
        sha = self.data.get("sha256")
        if self.mnist is not None and self.mnist.provenance.sha256 == sha:
            return self.mnist.x_test
        path = self.data.get("path")
        if not path or not sha:
            raise LookupError("the report names no data file to read the test images from")
        from ..session import load_data

        loaded = load_data(path)
        if loaded.provenance.sha256 != sha:
            raise LookupError(f"{path} is no longer the data that was graded")
        return loaded.x_test


def _as_graded(ex: dict, x_test: np.ndarray) -> np.ndarray:
    """The test images as the exercise's variant had them graded (ex05's `shifted` moves them:
    mnist_course/constraints.py), so the page shows the digits the model read."""
    key = (ex.get("variant") or {}).get("key")
    if not key:
        return x_test
    return graded_test_images(x_test, load_course().exercise(ex["id"]).variant(key).params)


def _misclassified(ex: dict, mistakes: list, images: _TestImages) -> tuple[Any, str]:
    try:
        x_test = _as_graded(ex, images.get())
    except Exception as exc:  # noqa: BLE001 - said in the page's one line
        raise LookupError(f"the test images could not be loaded: {_why(exc)}") from None
    mistakes = [m for m in mistakes[:16] if 0 <= int(m["index"]) < len(x_test)]
    if not mistakes:
        raise LookupError("the test set has none of the images the report names")
    cols = min(8, len(mistakes))
    rows = math.ceil(len(mistakes) / cols)
    fig = agg_figure(1.4 * cols, 1.75 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, m in zip(axes.flat, mistakes):
        ax.imshow(x_test[int(m["index"])], cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(f"true {m['label']} → {m['predicted']}\n{float(m['confidence']):.0%} sure", fontsize=9)
    fig.suptitle(f"{ex['id']} · the test digits your model got wrong most confidently")
    caption = (
        f"**Misclassified digits**: the {len(mistakes)} test images your model got wrong with the highest confidence, "
        "each titled with the true digit, the digit your model answered, and how sure it was. Some are ambiguous even "
        "for a person; the same pair coming back again and again is a weakness a better model fixes (lesson 4, "
        "\"Misclassified digits\")."
    )
    alt = (f"{ex['id']}: the {len(mistakes)} test digits the model got wrong most confidently, each as true digit, answer and "
           "confidence: " + ", ".join(f"{m['label']} read as {m['predicted']} ({float(m['confidence']):.0%} sure)" for m in mistakes) + ".")
    return fig, caption, alt
