"""What do the models reach? The course's references against the seed projects.

    python benchmarks/models.py [--data PATH] [--seeds 0 1 2] [--peer-seeds 0] [--only NAME ...] [--markdown FILE]

Trains, on the same data and one after another in this run, the seed projects'
configurations and the course's reference models, each exactly as the grader
trains a student's model (grader/training/trainer.py: the model saved as .keras, loaded
with safe_mode=True, weights re-initialised from the seed, trained under the
exercise's settings, evaluated on the test set). Prints a table: parameters,
epochs run, training seconds, test accuracy per seed and its median, and the
error rate relative to the best model's. The course's references train with
--seeds (default 0 1 2), the seed projects' peers with --peer-seeds (default 0,
to keep the run short). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.isolation._child import _callback_config  # noqa: E402
from grader.training.declared_settings import Settings  # noqa: E402
from grader.training.trainer import Trainer  # noqa: E402
from grader.training.vetting import model_config  # noqa: E402
from mnist_course.course import Reference, Training, load_course  # noqa: E402
from mnist_course.data import TEST_HALVES, load_mnist, quiet_keras, test_half  # noqa: E402

keras = quiet_keras()
layers = keras.layers


def _compiled(model, optimizer="adam"):
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _dense(widths, dropout=0.0, optimizer="adam"):
    stack = [keras.Input((28, 28)), layers.Rescaling(1 / 255), layers.Flatten()]
    for width in widths:
        stack.append(layers.Dense(width, activation="relu"))
        if dropout:
            stack.append(layers.Dropout(dropout))
    return _compiled(keras.Sequential([*stack, layers.Dense(10, activation="softmax")]), optimizer)


def _seed_cnn():
    """Conv 32/64 + MaxPool + Dropout + Dense 128, as in the seed project."""
    return _compiled(
        keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                layers.Rescaling(1 / 255),
                layers.Conv2D(32, 3, activation="relu"),
                layers.Conv2D(64, 3, activation="relu"),
                layers.MaxPooling2D(),
                layers.Dropout(0.25),
                layers.Flatten(),
                layers.Dense(128, activation="relu"),
                layers.Dropout(0.5),
                layers.Dense(10, activation="softmax"),
            ]
        )
    )


def _keras_example():
    """keras.io's "Simple MNIST convnet"."""
    return _compiled(
        keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                layers.Rescaling(1 / 255),
                layers.Conv2D(32, 3, activation="relu"),
                layers.MaxPooling2D(),
                layers.Conv2D(64, 3, activation="relu"),
                layers.MaxPooling2D(),
                layers.Flatten(),
                layers.Dropout(0.5),
                layers.Dense(10, activation="softmax"),
            ]
        )
    )


def _settings(epochs, batch_size, validation_split=0.1):
    return Settings(epochs, batch_size, validation_split, (), "integer")


def _specs(callbacks):
    """Keras callbacks as the grader's settings carry them: exactly what the
    student's worker sends (grader/isolation/_child.py), class and constructor arguments."""
    encoded = [_callback_config(cb) for cb in callbacks]
    return tuple({"class": e["class"], "config": e["config"]} for e in encoded)


def _from_solution(module_name, **constants):
    """The reference of an exercise: its solution's build_model() and training_settings(), with the
    module's `constants` (a variant's, CONSTRAINT="budget") set first."""
    import importlib.util

    exercise = load_course().exercise_of_module(module_name)
    spec = importlib.util.spec_from_file_location(module_name, exercise.solution_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, value in constants.items():
        setattr(module, name, value)
    raw = module.training_settings()
    callbacks = _specs(raw.get("callbacks", []))
    settings = Settings(raw["epochs"], raw["batch_size"], raw.get("validation_split", 0.0), callbacks, raw.get("labels", "integer"))
    return module.build_model, settings, exercise.training.input_shape


def _stronger():
    from mnist_course.models import STRONGER_CNN_SETTINGS, stronger_cnn

    s = STRONGER_CNN_SETTINGS
    settings = Settings(s["epochs"], s["batch_size"], 0.0, [], "integer")
    return stronger_cnn, settings, (28, 28, 1)


SEEDS_DENSE = (28, 28)
SEEDS_CNN = (28, 28, 1)
MODELS = {
    # name: () -> (build, settings, input_shape)
    "seed: dense 128, 5 epochs": lambda: (lambda: _dense([128]), _settings(5, 32), SEEDS_DENSE),
    "seed: dense 128, 10 epochs": lambda: (lambda: _dense([128]), _settings(10, 32), SEEDS_DENSE),
    "seed: dense 256-128, batch 2000": lambda: (lambda: _dense([256, 128]), _settings(20, 2000), SEEDS_DENSE),
    "seed: dense 256-128 + dropout": lambda: (lambda: _dense([256, 128], 0.2), _settings(20, 128), SEEDS_DENSE),
    "seed: CNN 32/64 + dense 128": lambda: (_seed_cnn, _settings(12, 128), SEEDS_CNN),
    "Keras example convnet": lambda: (_keras_example, _settings(15, 128), SEEDS_CNN),
    "course: ex02 dense (lesson 2)": lambda: _from_solution("ex02_dense"),
    "course: ex03 deeper (lesson 3)": lambda: _from_solution("ex03_deeper"),
    "course: ex05 CNN (lesson 5)": lambda: _from_solution("ex05_cnn"),
    "course: stronger CNN (lesson 6)": _stronger,
}


def half_accuracies(result, y_test):
    """Accuracy on the public and on the private half of the test set (each
    has its own bar in course.toml: mnist_course/data.py, test_half)."""
    predicted = np.asarray(result["predictions"])
    return tuple(float((predicted[idx] == y_test[idx]).mean()) for idx in (test_half(len(y_test), half) for half in TEST_HALVES))


def run(name, trainer, seeds, folder, make=None):
    """Train MODELS[name] (or `make`, a maker of the same kind) with each seed on `trainer`'s data."""
    build, settings, input_shape = (make or MODELS[name])()
    model = build()
    path = Path(folder) / f"{abs(hash(name))}.keras"
    model.save(path)
    config = model_config(path)  # exactly what the grader would train
    rows = []
    for seed in seeds:
        # Not graded, so no cap: a reference far heavier than any model here only sets the safety clock.
        heavy = Reference(forward_flops=10**8, epochs=settings.epochs, batch_size=1, validation_split=0.0)
        training = Training(tuple(input_shape), model.count_params(), settings.epochs, seed, cost_cap=10.0, reference=heavy)
        started = time.perf_counter()
        result = trainer.train(config, settings, training)
        if result.get("status") != "ok":
            raise SystemExit(f"{name}, seed {seed}: {result}")
        rows.append((result["test_accuracy"], result["seconds"], result["epochs_run"], *half_accuracies(result, trainer.data.y_test)))
        print(f"  {name} · seed {seed}: {result['test_accuracy']:.2%} in {result['seconds']:.0f} s "
              f"({result['epochs_run']} epochs; {time.perf_counter() - started:.0f} s with start-up)", flush=True)
    return {"name": name, "params": model.count_params(), "rows": rows, "seeds": list(seeds)}


KEPT_BELOW = "<!-- Below: from benchmarks/ablation.py and `mnist-course train`; benchmarks/models.py keeps it. -->"


def table(results, seeds, data, markdown):
    best_error = min(1 - statistics.median(r[0] for r in res["rows"]) for res in results)
    head = ["model", "params", "epochs", "train s (median)", *[f"seed {s}" for s in seeds], "median", "error ÷ best", "public half: worst / median", "private half: worst / median"]
    column = {seed: i for i, seed in enumerate(seeds)}
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for res in results:
        accs = [r[0] for r in res["rows"]]
        median = statistics.median(accs)
        epochs = "/".join(str(r[2]) for r in res["rows"])
        seconds = statistics.median(r[1] for r in res["rows"])
        ratio = (1 - median) / best_error if best_error else float("nan")
        shown = ["–"] * len(seeds)
        for seed, acc in zip(res["seeds"], accs):
            shown[column[seed]] = f"{acc:.2%}"
        halves = [f"{min(r[i] for r in res['rows']):.2%} / {statistics.median(r[i] for r in res['rows']):.2%}" for i in (3, 4)]
        cells = [res["name"], f"{res['params']:,}", epochs, f"{seconds:.0f}", *shown, f"**{median:.2%}**", f"{ratio:.2f}×", *halves]
        lines.append("| " + " | ".join(cells) + " |")
    header = (
        f"Data: {data.provenance.describe(folder=False)}\n\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"Keras {keras.__version__}; trained one after another, each as the grader trains a submission.\n"
    )
    text = header + "\n" + "\n".join(lines) + "\n"
    print("\n" + text)
    if markdown:
        # Sections below KEPT_BELOW (the ablation, the served model) come from other scripts: kept as they are.
        path = Path(markdown)
        kept = path.read_text(encoding="utf-8").partition(KEPT_BELOW)[2] if path.is_file() else ""
        written = "# What the models reach\n\nWritten by `python benchmarks/models.py`.\n\n" + text
        path.write_text(written + (f"\n{KEPT_BELOW}{kept}" if kept else ""), encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="MNIST .npz or IDX folder (default: $MNIST_COURSE_DATA, then Keras)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds for the course's references")
    parser.add_argument("--peer-seeds", type=int, nargs="+", default=[0], help="seeds for the seed projects' models")
    parser.add_argument("--only", nargs="+", default=None, help="names (or parts of names) of the models to train")
    parser.add_argument("--markdown", default=None, help="also write the table to this Markdown file")
    args = parser.parse_args(argv)
    data = load_mnist(args.data)
    os.environ.pop("MNIST_COURSE_TRAINING_CACHE", None)  # measure, never reuse
    trainer = Trainer(data)
    names = [n for n in MODELS if not args.only or any(part.lower() in n.lower() for part in args.only)]
    with tempfile.TemporaryDirectory() as folder:
        results = [run(name, trainer, args.seeds if name.startswith("course") else args.peer_seeds, folder) for name in names]
    table(results, sorted(set(args.seeds) | set(args.peer_seeds)), data, args.markdown)


if __name__ == "__main__":
    main()
