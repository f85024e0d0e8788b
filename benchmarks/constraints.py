"""What ex05's constraints ask: each variant's reference against the models that do not meet it.

    python benchmarks/constraints.py [--data PATH] [--seeds 0 1 2] [--markdown FILE]

ex05's variants (course.toml) each hold a constraint no model of lesson 5 meets as it stands
(mnist_course/constraints.py): test digits shifted by up to 4 pixels, 2,000 training images, or
10,000 parameters. For each, this trains, exactly as the grader trains a submission (benchmarks/models.py's
`run`) and on the data the variant asks for: the variant's reference (solutions/ex05_cnn.py with its
CONSTRAINT) with --seeds, the bar course.toml derives from its worst seed beside it; lesson 5's network as
it stands (20 epochs); and, on shifted digits, ex02's dense reference with and without the augmentation
the shifted reference uses, to measure what convolutions add where digits move (issue 39 item 4). A
benchmark, not a test: about 12 minutes on 2 cores.
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

from models import _compiled, _from_solution, _settings, keras, layers, run  # noqa: E402

from grader.training.accuracy import threshold_for  # noqa: E402
from grader.training.trainer import Trainer  # noqa: E402
from mnist_course.constraints import constrained_data  # noqa: E402
from mnist_course.course import load_course  # noqa: E402
from mnist_course.data import TEST_HALVES, load_mnist  # noqa: E402

EX05 = load_course().exercise("ex05")


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


def rows_for(variant) -> dict:
    """name -> (() -> (build, settings, input shape), is the reference)."""
    lesson = (lambda: (_lesson_5, _settings(20, 128), (28, 28, 1)), False)
    rows = {f"{variant.key}: reference (CONSTRAINT = {variant.key!r})": (lambda: _from_solution("ex05_cnn", CONSTRAINT=variant.key), True)}
    if variant.key != "budget":  # lesson 5's network has 34,826 parameters: over this budget, never trained
        rows[f"{variant.key}: lesson 5's network as it stands"] = lesson
    if variant.key == "shifted":
        rows["shifted: ex02's dense reference"] = (lambda: _from_solution("ex02_dense"), False)
        rows["shifted: ex02's dense reference + the reference's augmentation"] = (
            lambda: (lambda: _dense_shifted(0.15), _settings(20, 128), (28, 28)), False)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="MNIST .npz or IDX folder (default: $MNIST_COURSE_DATA, then Keras)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds for each variant's reference")
    parser.add_argument("--markdown", default=None, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    data = load_mnist(args.data)
    os.environ.pop("MNIST_COURSE_TRAINING_CACHE", None)  # measure, never reuse
    lines = ["| variant: model | params | seeds | accuracy per seed | public half: worst | private half: worst | bar (public / private) |", "|---|---|---|---|---|---|---|"]
    gap = {}
    with tempfile.TemporaryDirectory() as folder:
        for variant in EX05.variants:
            constrained = constrained_data(data, variant.params)
            trainer = Trainer(constrained)
            bars = [threshold_for(EX05, constrained, half, variant)[0] for half in TEST_HALVES]
            for name, (make, is_reference) in rows_for(variant).items():
                seeds = args.seeds if is_reference else args.seeds[:1]
                result = run(name, trainer, seeds, folder, make)
                accuracies = [r[0] for r in result["rows"]]
                public, private = (min(r[i] for r in result["rows"]) for i in (3, 4))
                gap[name] = statistics.median(accuracies)
                bar = f"{bars[0]:.1%} / {bars[1]:.1%}" if is_reference else "–"
                lines.append(f"| {name} | {result['params']:,} | {', '.join(map(str, seeds))} | "
                             f"{', '.join(f'{a:.2%}' for a in accuracies)} | {public:.2%} | {private:.2%} | {bar} |")
    cnn, dense = gap["shifted: reference (CONSTRAINT = 'shifted')"], gap["shifted: ex02's dense reference + the reference's augmentation"]
    text = (
        f"Data: {data.provenance.describe(folder=False)}, as each variant asks for it (mnist_course/constraints.py)\n\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, Keras {keras.__version__}; "
        "each model trained as the grader trains a submission, accuracies on the whole test set of the variant.\n\n"
        + "\n".join(lines) + "\n\n"
        f"On digits shifted by up to 4 pixels, with the same augmentation, the convolutional reference errs on "
        f"{1 - cnn:.2%} of the test digits and the dense network on {1 - dense:.2%}: {(1 - dense) / (1 - cnn):.1f} times as many.\n"
    )
    print("\n" + text)
    if args.markdown:
        Path(args.markdown).write_text("# What ex05's constraints ask\n\nWritten by `python benchmarks/constraints.py`.\n\n" + text, encoding="utf-8")


if __name__ == "__main__":
    main()
