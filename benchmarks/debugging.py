"""ex05d's margins, measured: how near its twin a repaired run comes, and how far a run left as it was falls.

For each variant (how the runs scale their pixels) and DRAWS runs drawn as the grader draws them
(mnist_course.debugging.raw_run), every kind of mistake is planted in turn; the reference's diagnose()
(solutions/ex05d_debugging.py, with PIXELS set to the variant) names it, its repair() is trained by the run's
own trainer, and so is the run left as it was; both are measured on 2,000 test digits beside the twin (the
same run before its mistake). The grader's margins (grader/references/ex05d_debugging.py: ACCURACY_MARGIN,
LOSS_MARGIN) must sit above every repaired run's shortfall and below every unrepaired run's excess loss.

    python benchmarks/debugging.py --data ../shared/data/mnist-22k.npz --draws 100 --markdown benchmarks/DEBUGGING.md
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core each: NumPy's threads only fight over 2 cores here
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.references.ex05d_debugging import ACCURACY_MARGIN, LOSS_MARGIN, TEST_IMAGES  # noqa: E402
from mnist_course.data import load_mnist  # noqa: E402
from mnist_course.debugging import BUGS, CONVENTIONS, accuracy, mean_loss, plant, raw_run, scaled, train  # noqa: E402


def reference(pixels: str) -> dict:
    """The reference solution's functions, with PIXELS set to `pixels`."""
    source = (ROOT / "solutions" / "ex05d_debugging.py").read_text()
    namespace: dict = {}
    exec(compile(source.replace('PIXELS = "unit"', f'PIXELS = "{pixels}"'), "ex05d_debugging", "exec"), namespace)
    return namespace


def measure(mnist, pixels: str, draws: int) -> tuple[dict, collections.Counter, float]:
    ns = reference(pixels)
    rows = {bug: {"short": [], "over": [], "left_short": [], "left_over": []} for bug in BUGS}
    wrong = collections.Counter()
    started = time.perf_counter()
    for i in range(draws):
        rng = np.random.default_rng([321, i])
        raw, labels, settings = raw_run(mnist.x_train, mnist.y_train, rng, pixels)
        pick = rng.choice(len(mnist.x_test), TEST_IMAGES, replace=False)
        test_x, test_y = scaled(mnist.x_test[pick].reshape(TEST_IMAGES, -1), pixels), mnist.y_test[pick]
        w, b, _ = train(scaled(raw, pixels), labels, settings)
        twin = accuracy(w, b, test_x, test_y), mean_loss(w, b, test_x, test_y)
        for bug in BUGS:
            run = plant(bug, raw, labels, settings, np.random.default_rng([8, i, BUGS.index(bug)]), pixels)
            if (said := ns["diagnose"](*run)) != bug:
                wrong[(bug, said)] += 1
            for key, trained in (("", ns["repair"](*run)), ("left_", run)):
                w, b, _ = train(*trained)
                rows[bug][key + "short"].append(twin[0] - accuracy(w, b, test_x, test_y))
                rows[bug][key + "over"].append(mean_loss(w, b, test_x, test_y) - twin[1])
    return rows, wrong, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--variants", nargs="*", default=list(CONVENTIONS))
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    mnist = load_mnist(args.data)
    lines = [
        f"Margins: a repaired run must come within {ACCURACY_MARGIN} of its twin's accuracy and {LOSS_MARGIN} of its loss.",
        "",
        "| variant | mistake | diagnosed right | repaired: accuracy short by at most | repaired: loss over by at most "
        "| left as it was: accuracy short by at least | left as it was: loss over by at least |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for pixels in args.variants:
        rows, wrong, seconds = measure(mnist, pixels, args.draws)
        for bug in BUGS:
            r = rows[bug]
            right = args.draws - sum(n for (b, _), n in wrong.items() if b == bug)
            left = ("—", "—") if bug == "none" else (f"{min(r['left_short']):.3f}", f"{min(r['left_over']):.3f}")
            lines.append(f"| {pixels} | {bug} | {right} / {args.draws} | {max(r['short']):.3f} | {max(r['over']):.3f} | {left[0]} | {left[1]} |")
        print(f"{pixels}: {args.draws} draws of {len(BUGS)} kinds in {seconds:.0f} s; misdiagnosed: {dict(wrong) or 'none'}", flush=True)
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.write_text(
            "# ex05d's margins, measured\n\n"
            f"`python benchmarks/debugging.py --data PATH --draws {args.draws}` (benchmarks/README.md says what it measures), "
            f"on mnist-22k, {time.strftime('%Y-%m-%d')}. A healthy run (\"none\") left as it was is its twin.\n\n" + table + "\n"
        )


if __name__ == "__main__":
    main()
