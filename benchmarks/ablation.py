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

# (name, batch_norm, augmentation), from exercise 5's network to lesson 6's.
VARIANTS = [
    ("exercise 5's network", False, "shifts"),
    ("+ batch normalisation", True, "shifts"),
    ("+ varied augmentation", False, "varied"),
    ("+ both: the stronger CNN", True, "varied"),
]
DEFAULT_OUT = ROOT / "benchmarks" / "ablation.json"


def train_one(data, batch_norm: bool, augmentation: str, seed: int) -> dict:
    keras = quiet_keras()
    x_train = data.x_train[..., np.newaxis].astype(np.float32)
    x_test = data.x_test[..., np.newaxis].astype(np.float32)
    keras.utils.set_random_seed(seed)
    model = stronger_cnn(len(x_train), batch_norm=batch_norm, augmentation=augmentation)
    started = time.perf_counter()
    model.fit(x_train, data.y_train, verbose=0, **STRONGER_CNN_SETTINGS)
    seconds = time.perf_counter() - started
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    return {"test_accuracy": float((predicted == data.y_test).mean()), "train_seconds": round(seconds, 1), "params": model.count_params()}


def summary(runs: list[dict]) -> list[dict]:
    """One row per variant: accuracies per seed, their mean and standard deviation."""
    rows = []
    for name, batch_norm, augmentation in VARIANTS:
        mine = sorted((r for r in runs if r["variant"] == name), key=lambda r: r["seed"])
        if not mine:
            continue
        accuracies = [r["test_accuracy"] for r in mine]
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


def markdown(rows: list[dict]) -> str:
    lines = [
        "| variant | batch norm | augmentation | seeds: test accuracy | mean ± sd | median | train s (median) |",
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
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", nargs="+", default=None, help="train only the variants whose names contain these words")
    args = parser.parse_args(argv)

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
        machine=f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPU cores, Python {platform.python_version()}, Keras {keras.__version__}",
    )
    runs = record.setdefault("runs", [])
    for seed in args.seeds:
        for name, batch_norm, augmentation in VARIANTS:
            if args.only and not any(word in name for word in args.only):
                continue
            if any(r["variant"] == name and r["seed"] == seed for r in runs):
                continue
            result = train_one(data, batch_norm, augmentation, seed)
            runs.append({"variant": name, "seed": seed, **result})
            print(f"{name}, seed {seed}: {result['test_accuracy']:.2%} in {result['train_seconds']:.0f} s", flush=True)
            record["summary"] = summary(runs)
            args.out.write_text(json.dumps(record, indent=1) + "\n")
    record["summary"] = summary(runs)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(markdown(record["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
