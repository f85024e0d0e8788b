"""ex05c's optimizers in training, measured: softmax regression on MNIST trained by the reference fit()
(solutions/ex05c_optimizers.py, every variant's steps) with plain SGD, momentum 0.9 and the adaptive
optimizer, each at a few learning rates, and the test accuracy after each epoch. The table answers
issue 39's "fewer epochs than plain SGD" as measured, and holds the figures the written question
`speed` asks a student to measure with their own fit() (course.toml, docs/RUBRICS.md).

    python benchmarks/optimizers.py --data ../shared/data/mnist-22k.npz [--epochs 5] [--markdown benchmarks/OPTIMIZERS.md]

Pixels scaled to [0, 1] and flattened; batches of 32; seed 0; mnist-22k's 22,699 training images and
its full 10,000-image test set. A few seconds an epoch, NumPy only.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_course.course import load_course  # noqa: E402

RATES = {"sgd": (0.01, 0.1, 0.5), "momentum": (0.001, 0.01, 0.05), "adaptive": (0.0001, 0.001, 0.01)}
BAR = 0.915  # a test accuracy softmax regression reaches on mnist-22k, but not in its first epoch at every rate


def _solution(momentum: str, adaptive: str):
    """The reference module with its variant names set."""
    path = load_course().exercise("ex05c").solution_path
    spec = importlib.util.spec_from_file_location(f"ex05c_{momentum}_{adaptive}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.MOMENTUM, module.ADAPTIVE = momentum, adaptive
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--markdown")
    args = parser.parse_args()
    data = np.load(args.data)
    x_train = data["x_train"].reshape(len(data["x_train"]), -1).astype(np.float64) / 255
    x_test = data["x_test"].reshape(len(data["x_test"]), -1).astype(np.float64) / 255
    y_train, y_test = data["y_train"].astype(np.int64), data["y_test"].astype(np.int64)

    # (row name, fit's optimizer, the variant names its steps read): every kind of momentum and adaptive step
    runs = [("SGD", "sgd", ("classic", "adam")),
            ("classic momentum 0.9", "momentum", ("classic", "adam")), ("Nesterov momentum 0.9", "momentum", ("nesterov", "adam")),
            ("Adam", "adaptive", ("classic", "adam")), ("AMSGrad", "adaptive", ("classic", "amsgrad")), ("Adamax", "adaptive", ("classic", "adamax"))]
    rows = []
    for name, optimizer, kinds in runs:
        solution = _solution(*kinds)
        for rate in RATES[optimizer]:
            accuracies = []
            for epochs in range(1, args.epochs + 1):
                W, b = solution.fit(x_train, y_train, optimizer, rate, epochs, 32, 0)
                accuracies.append(float(np.mean((x_test @ W + b).argmax(axis=1) == y_test)))
            reached = next((n + 1 for n, a in enumerate(accuracies) if a >= BAR), None)
            rows.append((name, rate, accuracies, reached))
            print(f"{name:24s} {rate:<7g} " + " ".join(f"{a:.2%}" for a in accuracies), flush=True)

    lines = [f"Softmax regression on mnist-22k ({len(x_train):,} training images, {len(x_test):,} test), batches of 32, seed 0, "
             f"trained by the reference fit() (`python benchmarks/optimizers.py`). Test accuracy after each epoch; "
             f"the first epoch at or above {BAR:.1%}.", "",
             "| optimizer | learning rate | " + " | ".join(f"epoch {n}" for n in range(1, args.epochs + 1)) + f" | epochs to {BAR:.1%} |",
             "|---|---|" + "---|" * args.epochs + "---|"]
    for name, rate, accuracies, reached in rows:
        lines.append(f"| {name} | {rate:g} | " + " | ".join(f"{a:.2%}" for a in accuracies) + f" | {reached or 'not in ' + str(args.epochs)} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.markdown:
        Path(args.markdown).write_text("# Optimizers in training (ex05c)\n\n" + table, encoding="utf-8")


if __name__ == "__main__":
    main()
