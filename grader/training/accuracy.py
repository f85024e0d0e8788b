"""From the trainer's result to points: the accuracy check's measures and its messages.

A model exercise's last check (`ModelSubmission.check_accuracy`) has the
grader's training in hand; this module says what it is worth. `threshold_for`
is the exercise's bar for this data set and half of the test set (course.toml)
and the band below it; `half_accuracy` the accuracy on the graded half, from
the trainer's prediction for every test image; the share of the check's points
is scoring.py's `earned_fraction` (all at the bar, none at bar - band, linear between).
When training did not finish, `training_failure` says why; when the accuracy
falls short, `below_the_bar` says by how much and what it earns, and
`diagnosis` reads the training log for the likely cause. `training_summary` is
what the feedback page plots (grader/reports/figures.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnist_course.course import Exercise, Variant
from mnist_course.data import MNIST, test_half

from ..feedback import Feedback, PartialCredit
from .. import scoring
from ..scoring import earned_fraction
from ..isolation.safe_files import clean_text

SCALED_INPUT_MAX = 10.0  # larger values reaching the first Dense/Conv layer mean unscaled pixels


def threshold_for(exercise: Exercise, data: MNIST, half: str, variant: Variant | None = None) -> tuple[float, float, str]:
    """The exercise's accuracy threshold for this data set and half of its test
    set (the variant's, where course.toml gives it one), the band below it over
    which points fall to none, and the set's name."""
    thresholds = {**exercise.thresholds, **((variant.thresholds or {}) if variant else {})}
    name = data.provenance.dataset
    if name not in thresholds:
        name = "custom"
    if name not in thresholds:
        raise Feedback(
            f"course.toml has no accuracy threshold for the data set {data.provenance.dataset}",
            "a threshold for every data set the grader can load",
            hint="this is a problem of the course, not of your code; please report it",
        )
    return thresholds[name][half], exercise.accuracy_bands.get(name, exercise.accuracy_bands.get("custom", 0.01)), name


def half_accuracy(result: dict, y_test: np.ndarray, graded: np.ndarray) -> float | None:
    """Accuracy over the graded half, from the trainer's prediction for every test image."""
    predictions = result.get("predictions")
    if result.get("status") != "ok" or not isinstance(predictions, list) or len(predictions) != len(y_test):
        return None
    return float((np.asarray(predictions)[graded] == y_test[graded]).mean())


def public_half(exercise: Exercise, data: MNIST, result: dict, variant: Variant | None = None) -> dict:
    """The same training measured on the half of the test set students see: what
    an instructor's release setting shows them until the private grade is
    released (grader/classroom/release.py)."""
    return public_half_record(exercise, data, half_accuracy(result, data.y_test, test_half(len(data.y_test), "public")), variant)


def public_half_record(exercise: Exercise, data: MNIST, accuracy: float, variant: Variant | None = None) -> dict:
    """An accuracy on the public half, with that half's bar and band and the share of the
    points it would earn: the record a hold shows (Keras trainings and ex02b's alike)."""
    threshold, band, _ = threshold_for(exercise, data, "public", variant)
    return {"test_accuracy": accuracy, "threshold": threshold, "band": band, "fraction": round(earned_fraction(accuracy, threshold, band), 6)}


def training_failure(result: dict, shown: str) -> Feedback | None:
    """Why a training that ran did not end with a model to measure (None when it did):
    outputs that are not finite, the throughput guard, a training that failed."""
    status = result.get("status")
    if status == "not_finite":
        return Feedback(
            "After training, the model's outputs contained NaN or infinity",
            "finite probabilities",
            called=shown,
            cause="a learning rate far too high, or unscaled inputs that blow up the activations",
            hint="use a smaller learning rate, by factors of 3 to 10 (with Adam, where your exercise allows it, its default), "
            "and scale the inputs with layers.Rescaling(1/255)",
        )
    if status == "overworked":  # the throughput guard (issue 25): a failing verdict, not a retry
        return Feedback(
            f"The grader stopped the training in its first epoch: your model does more work than it declares "
            f"({result.get('cpu_seconds')} s of CPU time where its declared work allows {result.get('allowed_cpu_seconds')} s)",
            "a model whose work the grader's estimate counts (kernel weights × output positions)",
            called=shown,
            cause="a layer or operation whose real work is far beyond the grader's count of it",
            hint="build the model from Dense and Conv2D layers with pooling, normalisation, dropout and reshaping",
        )
    if status != "ok":
        detail = clean_text(str(result.get("message") or status), 500)
        if status == "killed":
            detail = f"the training process ended abruptly (exit {result.get('returncode')}): a model or batch too large for the grader's memory"
        return Feedback(
            f"Training failed: {result.get('type', '')} {detail}".strip(),
            "a model the grader can train",
            called=shown,
            cause="a layer or setting that fails during training",
            hint="train your model in the notebook with the same settings to see the error",
        )
    return None


def below_the_bar(accuracy: float, measured: dict, result: dict, points: float, *, called: str, cause: str, lesson: int) -> PartialCredit:
    """An accuracy below the threshold: by how much (in points of percentage and
    in test images), what it earns of the check's `points`, what full points
    need. `measured` is the check's record (threshold, band, dataset, half,
    test_images); `cause` the diagnosis."""
    dataset = measured["dataset"]
    return scoring.below_the_bar(
        accuracy, measured["threshold"], measured["band"], dataset=dataset, half=measured["half"], test_images=measured["test_images"],
        points=points, after=f"after {result['epochs_run']} epochs ({result['seconds']:.0f} s)",
        expected_note="; mnist-full's bars are estimates, measured on the course's 22,699 images" if dataset == "mnist-full" else "",
        called=called,
        cause=cause,
        hint=f"the training log shows the curves (grader --feedback FILE plots them); lesson {lesson}'s "
        "'Your turn' says where its own model lands against this bar and what lifts it",
    )


def _falling(values: list) -> bool:
    """Whether a curve is still going down at its end: its lowest value in the
    last two epochs, and the last below where it stood three epochs earlier."""
    return len(values) >= 2 and int(np.argmin(values)) >= len(values) - 2 and values[-1] < values[max(0, len(values) - 4)]


def _unsteady(values: list) -> bool:
    """Whether a curve jumps about rather than settles: from epoch to epoch it rose by more than a tenth at
    least twice and fell by more than a tenth at least twice after its first epoch (steps too long for the
    valley). A curve that turns up once and keeps rising (overfitting) does neither twice."""
    steps = list(zip(values[1:], values[2:]))
    return sum(b > 1.1 * a for a, b in steps) >= 2 and sum(b < a / 1.1 for a, b in steps) >= 2


def kept_epoch(result: dict) -> int | None:
    """The epoch whose weights the grader measured, where early stopping restored them (the training's
    last epoch otherwise: None)."""
    stopping = result.get("early_stopping") or {}
    return stopping.get("best_epoch") if stopping.get("stopped_early") and stopping.get("restore_best_weights") else None


def constraint_diagnosis(variant: Variant | None, result: dict, accuracy: float) -> str | None:
    """What a variant's constraint (mnist_course/constraints.py) explains of a low `accuracy` (on the graded
    half), where it does: a model that read its centred validation digits well, at the epoch it kept, and
    the variant's shifted test digits badly. `diagnosis` asks it after the scaling of the pixels."""
    shift = variant.params.get("test_shift") if variant is not None else None
    history = result.get("history", {}).get("val_accuracy", [])
    kept = kept_epoch(result)
    read = history[kept - 1] if kept and 0 < kept <= len(history) else (history[-1] if history else None)
    if not shift or read is None or not np.isfinite(read) or read - accuracy <= 0.02:
        return None
    return (
        f"the shifted test digits of your variant: {read:.1%} on the validation images, centred as MNIST "
        f"centres its digits, but {accuracy:.1%} on the test digits, each moved by up to {shift} pixels: the model "
        "reads a digit where its training showed it digits. Lesson 5's 'Shifted digits: the claim, tested' measures "
        "this; 'Padding, and data augmentation' shows how a training can show the model digits in other places"
    )


def diagnosis(exercise: Exercise, info: dict, result: dict, threshold: float, variant: Variant | None = None, accuracy: float | None = None) -> str:
    """What the training log says about a low accuracy (`accuracy`, on the graded half): a classic mistake if
    one shows, then what the variant's constraint explains, else over- or underfitting read from the validation
    curve (lesson 2, "Learning curves"), else what is true of the run."""
    scale = info.get("first_weighted_input_max")
    if scale is not None and scale > SCALED_INPUT_MAX:
        return (
            f"inputs not scaled to [0, 1]: values up to {scale:.0f} reach the first layer; "
            "add layers.Rescaling(1/255) right after the Input"
        )
    if accuracy is not None and (constrained := constraint_diagnosis(variant, result, accuracy)):
        return constrained
    history = result.get("history", {})
    train = [v for v in history.get("accuracy", []) if v is not None and np.isfinite(v)]
    val_loss = [v for v in history.get("val_loss", []) if v is not None and np.isfinite(v)]
    val_acc = [v for v in history.get("val_accuracy", []) if v is not None and np.isfinite(v)]
    epochs = result["epochs_run"]
    if len(train) >= 2 and train[-1] < 0.5:
        return ("the model barely learned (training accuracy below 50%): a learning rate far too large (the loss jumps about) "
                "or far too small (it crawls), or a loss that does not fit the output; the epoch log tells which")
    if _unsteady(val_loss):
        return (
            f"steps too long: the validation loss jumped up and down instead of settling "
            f"({', '.join(f'{v:.3f}' for v in val_loss)}); the learning rate is too large for the batch size: try smaller "
            "rates, by factors of 2 to 3, on your own validation split (lesson 2, 'How a network learns')"
        )
    classes = {layer["class"] for layer in info.get("layers", [])}
    if exercise.lesson_number <= 2:  # ex02's variants: plain SGD for at most 10 epochs, so the steps decide
        grow = ("longer steps or more of them: a larger learning rate for plain SGD, or smaller batches where your variant "
                "allows them, compared on your own validation split (lesson 2, 'How a network learns' and 'Your turn')")
    elif classes & {"Conv2D", "SeparableConv2D", "DepthwiseConv2D"}:
        grow = "weigh lesson 5's tools (epochs, augmentation, the layers and their pooling) against your variant's constraint, on validation images like its test (lesson 5, 'Your turn')"
    elif "Dropout" in classes:
        grow = ("weigh lesson 3's tools (where the parameter budget's units go, Dropout, epochs and patience) against what "
                "the curves say, over- or underfitting, on your own validation split (lesson 3, 'Your turn')")
    else:
        grow = "more epochs, or more units in the hidden layer (lesson 2, 'Your turn')"
    stopping = result.get("early_stopping") or {}
    kept = kept_epoch(result)
    if len(val_loss) >= 3 and kept is None:
        best = int(np.argmin(val_loss))
        # Turned up: the lowest validation loss two or more epochs before the end, and the last a tenth above it.
        if best <= len(val_loss) - 3 and val_loss[-1] >= 1.1 * val_loss[best]:
            if "Dropout" in classes:
                remedy = "more Dropout or data augmentation, or EarlyStopping with restore_best_weights=True to keep the best epoch"
            elif exercise.lesson_number >= 3:
                remedy = "add Dropout, or EarlyStopping with restore_best_weights=True to keep the best epoch (lesson 3)"
            else:
                remedy = "train fewer epochs, or keep the best epoch (lesson 3 adds Dropout and early stopping)"
            return (
                f"overfitting: the validation loss was lowest at epoch {best + 1} ({val_loss[best]:.3f}) and rose to "
                f"{val_loss[-1]:.3f} by epoch {len(val_loss)}, while training went on improving; {remedy}"
            )
    if epochs <= 3:
        return f"only {epochs} epochs: the model had little time to learn; {grow}"
    if val_loss and _falling(val_loss):
        gained = f", validation accuracy {val_acc[0]:.1%} to {val_acc[-1]:.1%}" if len(val_acc) == len(val_loss) else ""
        return (
            f"still learning, not overfitting: the validation loss was still falling at the last epoch "
            f"({val_loss[0]:.3f} at epoch 1, {val_loss[-1]:.3f} at epoch {len(val_loss)}{gained}); {grow}"
        )
    if train and train[-1] < threshold:
        return (
            f"underfitting: even on its own training images the model reached only {train[-1]:.1%}, below the bar; "
            f"it needs more capacity or more training: {grow}"
        )
    if kept:
        return (
            f"no classic mistake shows: early stopping kept epoch {kept} of {epochs}, the best on "
            f"{stopping.get('monitor')}, so this is what this model learns with these settings; to do better: {grow}"
        )
    if val_loss:
        best = int(np.argmin(val_loss))
        return (
            f"no classic mistake shows: the validation loss levelled off (lowest at epoch {best + 1} of {len(val_loss)}), "
            f"so this is what this model learns with these settings; to do better: {grow}"
        )
    return (
        f"no classic mistake shows, and without a validation_split the log cannot tell over- from underfitting "
        f"(training accuracy {train[-1]:.1%} at the last epoch); a validation split shows it. To do better: {grow}"
        if train else f"no classic mistake shows; to do better: {grow}"
    )


HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")  # the learning curves a report keeps


def training_summary(result: dict, y_test: np.ndarray, graded: np.ndarray | None = None) -> dict | None:
    """What the feedback page plots from one training, as small plain data for the
    report: the per-epoch history, the 10 x 10 confusion matrix (rows: true
    digit, columns: predicted) and the most confident mistakes as test-set
    indices (never pixels), both over the `graded` test images only (the half
    of the test set the accuracy was measured on; default all). None when
    nothing was trained."""
    history = result.get("history") or {}
    summary: dict[str, Any] = {
        "history": {
            key: [round(v, 5) if isinstance(v, float) and np.isfinite(v) else None for v in history[key]]
            for key in HISTORY_KEYS
            if isinstance(history.get(key), list)
        }
    }
    if not summary["history"].get("loss"):
        return None
    predictions = result.get("predictions")
    predicted = np.asarray(predictions if isinstance(predictions, list) else [], dtype=np.int64)
    if len(predicted) == len(y_test) > 0 and predicted.min() >= 0 and predicted.max() < 10:
        graded = np.arange(len(y_test)) if graded is None else graded
        confusion = np.bincount(np.asarray(y_test, dtype=np.int64)[graded] * 10 + predicted[graded], minlength=100).reshape(10, 10)
        summary["confusion"] = confusion.tolist()
        shown = set(graded.tolist())
        summary["misclassified"] = [
            {"index": index, "label": label, "predicted": guess, "confidence": confidence}
            for index, label, guess, confidence in result.get("mistakes") or []
            if index in shown
        ]
    return summary
