"""What do batch normalisation and varied augmentation each buy? Lesson 6's ablation.

    python benchmarks/ablation.py [--data PATH] [--seeds 0 1 2] [--out benchmarks/ablation.json]

Trains the four combinations of mnist_course.models.stronger_cnn()'s two
switches (batch normalisation on or off; exercise 5's shifts or the varied
augmentation), each with the same recipe (STRONGER_CNN_SETTINGS: 30 epochs on
every training image, a cosine learning rate) and each from seeds 0, 1 and 2,
exactly as `mnist-course train` trains the full model. Every run is appended to
the JSON file as it ends, so an interrupted run resumes where it stopped; the
table printed at the end (mean and standard deviation over the seeds) is the
one benchmarks/MODELS.md quotes and lesson 6 plots. A benchmark, not a test:
about 25 minutes per seed on 2 CPU cores.

    python benchmarks/ablation.py --validation [--seeds 0]

chooses the variant `mnist-course train` serves without looking at the test
set: each variant trains on the first 20,000 training images and is scored on
the last 2,699, which it never saw (benchmarks/validation.json). The rule,
fixed before the runs: the highest mean validation accuracy wins; variants
within TIE_IMAGES validation images of the best count as tied, and the one that
trains fastest among them is chosen, because a model a student retrains in
fewer minutes is worth more than one image in 2,699.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_course.data import load_mnist, quiet_keras  # noqa: E402
from mnist_course.models import STRONGER_CNN_SETTINGS, stronger_cnn  # noqa: E402

# (name, batch_norm, augmentation), from the base network (exercise 5's reference's layers) to lesson 6's.
VARIANTS = [
    ("the base network", False, "shifts"),
    ("+ batch normalisation", True, "shifts"),
    ("+ varied augmentation", False, "varied"),
    ("+ both", True, "varied"),
]
DEFAULT_OUT = ROOT / "benchmarks" / "ablation.json"
VALIDATION_OUT = ROOT / "benchmarks" / "validation.json"
VALIDATION_IMAGES = 2_699  # the last ones of the training set; 20,000 remain to train on
TIE_IMAGES = 2


def train_one(data, batch_norm: bool, augmentation: str, seed: int, validation: bool = False) -> dict:
    """Train one variant from one seed; score it on the test set, or with
    `validation` on the held-out end of the training set (the test set unseen)."""
    keras = quiet_keras()
    x_train = data.x_train[..., np.newaxis].astype(np.float32)
    y_train = data.y_train
    x_score, y_score, score_name = data.x_test[..., np.newaxis].astype(np.float32), data.y_test, "test_accuracy"
    if validation:
        x_score, y_score, score_name = x_train[-VALIDATION_IMAGES:], y_train[-VALIDATION_IMAGES:], "validation_accuracy"
        x_train, y_train = x_train[:-VALIDATION_IMAGES], y_train[:-VALIDATION_IMAGES]
    keras.utils.set_random_seed(seed)
    model = stronger_cnn(len(x_train), batch_norm=batch_norm, augmentation=augmentation)
    started = time.perf_counter()
    model.fit(x_train, y_train, verbose=0, **STRONGER_CNN_SETTINGS)
    seconds = time.perf_counter() - started
    predicted = model.predict(x_score, verbose=0).argmax(axis=1)
    return {score_name: float((predicted == y_score).mean()), "train_seconds": round(seconds, 1), "params": model.count_params()}


def summary(runs: list[dict], score: str = "test_accuracy") -> list[dict]:
    """One row per variant: accuracies per seed, their mean and standard deviation."""
    rows = []
    for name, batch_norm, augmentation in VARIANTS:
        mine = sorted((r for r in runs if r["variant"] == name), key=lambda r: r["seed"])
        if not mine:
            continue
        accuracies = [r[score] for r in mine]
        rows.append(
            {
                "variant": name,
                "batch_norm": batch_norm,
                "augmentation": augmentation,
                "seeds": [r["seed"] for r in mine],
                "accuracies": accuracies,
                "mean": statistics.fmean(accuracies),
                "sd": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                "median": statistics.median(accuracies),
                "train_seconds_median": statistics.median(r["train_seconds"] for r in mine),
            }
        )
    return rows


def choose(rows: list[dict], images: int = VALIDATION_IMAGES) -> str:
    """The module docstring's rule: best mean validation accuracy, ties (within
    TIE_IMAGES images) broken by the shorter training time."""
    best = max(row["mean"] for row in rows)
    tied = [row for row in rows if (best - row["mean"]) * images <= TIE_IMAGES + 1e-9]
    return min(tied, key=lambda row: row["train_seconds_median"])["variant"]


def markdown(rows: list[dict], score: str = "test_accuracy") -> str:
    lines = [
        f"| variant | batch norm | augmentation | seeds: {score.replace('_', ' ')} | mean ± sd | median | train s (median) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        per_seed = " / ".join(f"{a:.2%}" for a in row["accuracies"])
        lines.append(
            f"| {row['variant']} | {'yes' if row['batch_norm'] else 'no'} | {row['augmentation']} | {per_seed} | "
            f"{row['mean']:.2%} ± {row['sd']:.2%} | **{row['median']:.2%}** | {row['train_seconds_median']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None, help="the MNIST file (default: the course's usual search)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=None, help=f"default {DEFAULT_OUT.name}, or {VALIDATION_OUT.name} with --validation")
    parser.add_argument("--validation", action="store_true", help="score on held-out training images, not the test set, and choose a variant")
    parser.add_argument("--only", nargs="+", default=None, help="train only the variants whose names contain these words")
    args = parser.parse_args(argv)
    args.out = args.out or (VALIDATION_OUT if args.validation else DEFAULT_OUT)
    score = "validation_accuracy" if args.validation else "test_accuracy"

    data = load_mnist(args.data)
    print(data.provenance.describe(), flush=True)
    keras = quiet_keras()
    record = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if record.get("data_sha256") not in (None, data.provenance.sha256):
        print(f"{args.out} holds runs on other data: move it away or pass another --out", file=sys.stderr)
        return 2
    record.update(
        data=data.provenance.dataset,
        data_sha256=data.provenance.sha256,
        recipe=dict(STRONGER_CNN_SETTINGS, learning_rate="cosine from 2e-3 to 0", validation_split=0.0),
        scored_on=(
            f"the last {VALIDATION_IMAGES:,} training images, trained on the first {len(data.x_train) - VALIDATION_IMAGES:,}"
            if args.validation
            else "the test set, trained on every training image"
        ),
        machine=f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPU cores, Python {platform.python_version()}, Keras {keras.__version__}",
    )
    runs = record.setdefault("runs", [])
    for seed in args.seeds:
        for name, batch_norm, augmentation in VARIANTS:
            if args.only and not any(word in name for word in args.only):
                continue
            if any(r["variant"] == name and r["seed"] == seed for r in runs):
                continue
            result = train_one(data, batch_norm, augmentation, seed, validation=args.validation)
            runs.append({"variant": name, "seed": seed, **result})
            print(f"{name}, seed {seed}: {result[score]:.2%} in {result['train_seconds']:.0f} s", flush=True)
            record["summary"] = summary(runs, score)
            args.out.write_text(json.dumps(record, indent=1) + "\n")
    record["summary"] = summary(runs, score)
    if args.validation:
        record["chosen"] = choose(record["summary"])
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(markdown(record["summary"], score))
    if args.validation:
        print(f"chosen by validation: {record['chosen']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
