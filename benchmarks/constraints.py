"""What the model exercises' constraints ask: each variant's reference against the models that do not meet it.

    python benchmarks/constraints.py [--data PATH] [--seeds 0 1 2] [--exercise ex02 ex03 ex05] [--markdown FILE]

ex02's, ex03's and ex05's variants (course.toml) each hold a constraint no model of their lesson meets as it
stands (mnist_course/constraints.py): ex02 plain SGD for at most 10 epochs, with any batch size or batches of
at least 1,024; ex03 a parameter budget of 50,000 or 20,000; ex05 test digits shifted by up
to 4 pixels, 2,000 training images, or 10,000 parameters. For each, this trains, exactly as the grader
trains a submission (benchmarks/models.py's `run`) and on the data the variant asks for: the variant's
reference (the solution with its CONSTRAINT) with --seeds, the bar course.toml derives from its worst seed
beside it; the lesson's network as it stands where it fits the budget (lesson 5's, 20 epochs), or else
the reference's layout with lesson 3's Dropout of 0.3 (what Dropout costs a model that underfits); lesson
2's network with plain SGD at Keras's default rate (and, for big batches, the reference's layout at lesson 2's
best rate by hand); and, on shifted digits, a dense network of 512 with and without the augmentation the
shifted reference uses, to measure what convolutions add where digits move (issue 39 item 4). A benchmark,
not a test: about 2 minutes for ex02, 2 for ex03 and 12 for ex05 on 2 cores. With --markdown, each exercise run replaces its own section
of the file and keeps the others'.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from models import _compiled, _dense, _from_solution, _settings, keras, layers, run  # noqa: E402

from grader.training.accuracy import threshold_for  # noqa: E402
from grader.training.trainer import Trainer  # noqa: E402
from mnist_course.constraints import constrained_data  # noqa: E402
from mnist_course.course import load_course  # noqa: E402
from mnist_course.data import TEST_HALVES, load_mnist  # noqa: E402

COURSE = load_course()
SECTION = "## {id}: {title}"


def _lesson_5():
    """Lesson 5's network as it stands ('A convolutional network')."""
    return _compiled(keras.Sequential([
        keras.Input((28, 28, 1)), layers.Rescaling(1 / 255),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dropout(0.5), layers.Dense(10, activation="softmax"),
    ]))


def _dense_shifted(shift: float):
    """ex02's reference (one hidden layer of 512) with the shifted reference's augmentation before it."""
    return _compiled(keras.Sequential([
        keras.Input((28, 28)), layers.Rescaling(1 / 255), layers.Reshape((28, 28, 1)),
        layers.RandomTranslation(shift, shift, fill_mode="constant"), layers.Flatten(),
        layers.Dense(512, activation="relu"), layers.Dense(10, activation="softmax"),
    ]))


def _plain_sgd(units: int, learning_rate: float = 0.01):
    """Lesson 2's layout with a hidden layer of `units` (models.py's `_dense`), compiled with plain SGD at
    `learning_rate` (Keras's default: 0.01)."""
    return _dense([units], optimizer=keras.optimizers.SGD(learning_rate=learning_rate))


def _ex02_rows(variant) -> dict:
    """Lesson 2's network with Adam is refused (the variants ask for plain SGD), so what it carries over is
    measured with plain SGD: at Keras's default rate, and at the rate 0.5 that lesson 2's runs by hand found
    best (with batches of 1,024, on the reference's layout)."""
    batch = 128 if variant.key == "sgd" else 1024
    rows = {
        f"{variant.key}: reference (CONSTRAINT = {variant.key!r})": (lambda: _from_solution("ex02_dense", CONSTRAINT=variant.key), True),
        f"{variant.key}: lesson 2's network, plain SGD at its default rate (0.01), 10 epochs, batch {batch}":
            (lambda: (lambda: _plain_sgd(128), _settings(10, batch), (28, 28)), False),
    }
    if variant.key == "sgd":
        rows["sgd: lesson 2's network at rate 0.5 (lesson 2's best by hand), 10 epochs, batch 128"] = (
            lambda: (lambda: _plain_sgd(128, 0.5), _settings(10, 128), (28, 28)), False)
    if variant.key == "big_batch":
        rows["big_batch: the reference's layout at rate 0.5 (lesson 2's best by hand), 10 epochs, batch 1024"] = (
            lambda: (lambda: _plain_sgd(512, 0.5), _settings(10, 1024), (28, 28)), False)
    return rows


def _ex05_rows(variant) -> dict:
    lesson = (lambda: (_lesson_5, _settings(20, 128), (28, 28, 1)), False)
    rows = {f"{variant.key}: reference (CONSTRAINT = {variant.key!r})": (lambda: _from_solution("ex05_cnn", CONSTRAINT=variant.key), True)}
    if variant.key != "budget":  # lesson 5's network has 34,826 parameters: over this budget, never trained
        rows[f"{variant.key}: lesson 5's network as it stands"] = lesson
    if variant.key == "shifted":
        rows["shifted: a dense network of 512 (ex02's reference before its variants)"] = (
            lambda: (lambda: _dense([512]), _settings(20, 128), (28, 28)), False)
        rows["shifted: that dense network + the reference's augmentation"] = (
            lambda: (lambda: _dense_shifted(0.15), _settings(20, 128), (28, 28)), False)
    return rows


def _ex03_rows(variant) -> dict:
    """Lesson 3's network (235,146 parameters) is over both budgets, never trained; what the lesson would
    carry over is its Dropout of 0.3, measured on the reference's own layout."""
    def lesson_dropout():
        build, settings, shape = _from_solution("ex03_deeper", CONSTRAINT=variant.key)
        return (lambda: build(dropout_rate=0.3)), settings, shape

    return {
        f"{variant.key}: reference (CONSTRAINT = {variant.key!r})": (lambda: _from_solution("ex03_deeper", CONSTRAINT=variant.key), True),
        f"{variant.key}: the reference's layout with lesson 3's Dropout of 0.3": (lesson_dropout, False),
    }


def rows_for(exercise, variant) -> dict:
    """name -> (() -> (build, settings, input shape), is the reference)."""
    return {"ex02": _ex02_rows, "ex03": _ex03_rows, "ex05": _ex05_rows}[exercise.id](variant)


def measure(exercise, data, seeds, folder) -> tuple[list[str], dict]:
    """The table's rows for one exercise, and each row's median accuracy by name."""
    lines, medians = [], {}
    for variant in exercise.variants:
        constrained = constrained_data(data, variant.params)
        trainer = Trainer(constrained)
        bars = [threshold_for(exercise, constrained, half, variant)[0] for half in TEST_HALVES]
        for name, (make, is_reference) in rows_for(exercise, variant).items():
            runs = seeds if is_reference else seeds[:1]
            result = run(name, trainer, runs, folder, make)
            accuracies = [r[0] for r in result["rows"]]
            public, private = (min(r[i] for r in result["rows"]) for i in (3, 4))
            medians[name] = statistics.median(accuracies)
            bar = f"{bars[0]:.1%} / {bars[1]:.1%}" if is_reference else "–"
            lines.append(f"| {name} | {result['params']:,} | {', '.join(map(str, runs))} | "
                         f"{', '.join(f'{a:.2%}' for a in accuracies)} | {public:.2%} | {private:.2%} | {bar} |")
    return lines, medians


def _section(exercise, lines: list[str], medians: dict) -> str:
    text = (SECTION.format(id=exercise.id, title=exercise.title) + "\n\n"
            "| variant: model | params | seeds | accuracy per seed | public half: worst | private half: worst | bar (public / private) |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n")
    if exercise.id == "ex05":
        cnn, dense = medians["shifted: reference (CONSTRAINT = 'shifted')"], medians["shifted: that dense network + the reference's augmentation"]
        text += (f"\nOn digits shifted by up to 4 pixels, with the same augmentation, the convolutional reference errs on "
                 f"{1 - cnn:.2%} of the test digits and the dense network on {1 - dense:.2%}: {(1 - dense) / (1 - cnn):.1f} times as many.\n")
    return text


def _merged(path: Path, header: str, sections: dict[str, str]) -> str:
    """The file's text with `sections` (by exercise id) replacing its own, in course order."""
    kept: dict[str, str] = {}
    if path.exists():
        for part in path.read_text(encoding="utf-8").split("\n## ")[1:]:
            kept[part.split(":", 1)[0]] = "## " + part.rstrip("\n") + "\n"
    kept.update(sections)
    order = [e.id for e in COURSE.exercises if e.id in kept]
    return header + "\n".join(kept[i] for i in order)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="MNIST .npz or IDX folder (default: $MNIST_COURSE_DATA, then Keras)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds for each variant's reference")
    parser.add_argument("--exercise", nargs="+", default=["ex02", "ex03", "ex05"], choices=["ex02", "ex03", "ex05"], help="the exercises to measure")
    parser.add_argument("--markdown", default=None, help="also write the tables to this Markdown file (each exercise's section replaced)")
    args = parser.parse_args(argv)
    data = load_mnist(args.data)
    os.environ.pop("MNIST_COURSE_TRAINING_CACHE", None)  # measure, never reuse
    sections = {}
    with tempfile.TemporaryDirectory() as folder:
        for exercise_id in args.exercise:
            exercise = COURSE.exercise(exercise_id)
            sections[exercise_id] = _section(exercise, *measure(exercise, data, args.seeds, folder))
    header = (
        "# What the model exercises' constraints ask\n\nWritten by `python benchmarks/constraints.py`.\n\n"
        f"Data: {data.provenance.describe(folder=False)}, as each variant asks for it (mnist_course/constraints.py)\n\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, Keras {keras.__version__}; "
        "each model trained as the grader trains a submission, accuracies on the whole test set of the variant.\n\n"
    )
    print("\n" + header + "\n".join(sections.values()))
    if args.markdown:
        path = Path(args.markdown)
        path.write_text(_merged(path, header, sections), encoding="utf-8")


if __name__ == "__main__":
    main()
