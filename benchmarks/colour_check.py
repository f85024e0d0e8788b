"""ex06's colour check, measured: how often it fails correct code, and how often it catches a gray of other weights.

prepare_image_colour (grader/checks/ex06/prepare_image_colour.py) prepares one photo drawn for each file in six colour
forms. For FILES drawn files (picture seeds 0, 1, ...) and each prepare_image() below (the reference solution with
one line changed), this prints the share of files the check fails, as it was and as it is:

- as it was: each of the four colour pictures other than the two-pen ones against one grayscale photo of the same
  digit (other paper, other pen), by the mean absolute difference of the two results, each scaled to a strongest
  ink of 1, over 0.05;
- as it is: each of the six against the same picture in gray (`in_gray`: the same contrast), by `_ink_apart`,
  the share of the digit's ink that one result has and the other lacks within one pixel, over APART.

Correct code must fail neither; the look-alikes (another gray than 0.299 R + 0.587 G + 0.114 B) must fail the
second on every file.

    python benchmarks/colour_check.py --data ../shared/data/mnist-22k.npz --files 1000 --markdown benchmarks/COLOUR.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.checks.ex06.prepare_image_colour import APART, _ink_apart, _one_picture_in_colour  # noqa: E402
from grader.references.ex06_real_use import colour_paper, gray_paper, in_gray, photo_ink, placed_on_sheet  # noqa: E402
from mnist_course.data import load_mnist  # noqa: E402

PER_PIXEL = 0.05
GRAY = "pixels[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)"
THRESHOLD = "ink[ink < ink.max() / 5] = 0"

# name: (correct?, what it does, {line in the reference: its replacement})
FUNCTIONS = {
    "reference": (True, "solutions/ex06_real_use.py as it is", {}),
    "pillow_L": (True, "gray by Pillow's convert('L') (the same weights, rounded to whole levels)",
                 {GRAY: "np.asarray(Image.fromarray(image[..., :3]).convert('L'), np.float32)"}),
    "float64": (True, "the gray in float64", {GRAY: "pixels[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])"}),
    "paper_p25": (True, "the paper's level as the ink's 25th percentile, not its median", {"np.median(ink)": "np.percentile(ink, 25)"}),
    "fixed_threshold": (True, "ink under a fixed 32 levels dropped, not under a fifth of the strongest", {THRESHOLD: "ink[ink < 32] = 0"}),
    "plain_mean": (False, "gray as the plain mean of R, G and B", {GRAY: "pixels[..., :3].mean(axis=-1)"}),
    "reversed": (False, "the weights reversed: 0.114 R + 0.587 G + 0.299 B",
                 {GRAY: "pixels[..., :3] @ np.array([0.114, 0.587, 0.299], dtype=np.float32)"}),
    "rec709": (False, "Rec. 709's weights (scikit-image's rgb2gray): 0.2125 R + 0.7154 G + 0.0721 B",
               {GRAY: "pixels[..., :3] @ np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)"}),
    "quarter_half_quarter": (False, "(R + 2 G + B) / 4", {GRAY: "pixels[..., :3] @ np.array([0.25, 0.5, 0.25], dtype=np.float32)"}),
    "mostly_blue": (False, "0.1 R + 0.26 G + 0.64 B", {GRAY: "pixels[..., :3] @ np.array([0.1, 0.26, 0.64], dtype=np.float32)"}),
    "rec2020": (False, "Rec. 2020's weights: 0.2627 R + 0.678 G + 0.0593 B",
                {GRAY: "pixels[..., :3] @ np.array([0.2627, 0.678, 0.0593], dtype=np.float32)"}),
    "green_alone": (False, "the green channel alone", {GRAY: "pixels[..., 1]"}),
    "red_alone": (False, "the red channel alone", {GRAY: "pixels[..., 0]"}),
}


def prepare_image(edits: dict[str, str]):
    source = (ROOT / "solutions" / "ex06_real_use.py").read_text()
    for old, new in edits.items():
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    namespace: dict = {}
    exec(compile(source, "ex06_real_use", "exec"), namespace)
    return namespace["prepare_image"]


def sheet_of(mnist, seed: int) -> tuple[np.ndarray, np.random.Generator]:
    """The check's digit on its sheet for `seed`, and its draws where the check as it was drew a grayscale photo."""
    rng = np.random.default_rng([seed, 1])
    ink = photo_ink(mnist.x_test[int(rng.integers(len(mnist.x_test)))], 3.0)
    sheet, _ = placed_on_sheet(ink, rng)
    colour_paper(sheet, rng, noise=0)
    return sheet, rng


def scaled(image: np.ndarray) -> np.ndarray:
    return image / (float(image.max()) or 1.0)


def measure(mnist, fn, files: int) -> dict:
    """For each file, the largest of its colour pictures' differences, under both comparisons (inf: it raised)."""
    per_pixel, apart = [], []
    for seed in range(files):
        colours = _one_picture_in_colour(mnist, seed)
        photo = gray_paper(*sheet_of(mnist, seed), noise=0)
        worst = [0.0, 0.0]
        try:
            plain = scaled(fn(photo))
            for image, shown in colours:
                out = scaled(fn(image))
                if "two pens" not in shown:  # the check as it was: four pictures, each against one grayscale photo
                    worst[0] = max(worst[0], float(np.abs(out - plain).mean()))
                worst[1] = max(worst[1], _ink_apart(out, scaled(fn(in_gray(image)))))  # as it is
        except ValueError:
            worst = [np.inf, np.inf]
        per_pixel.append(worst[0])
        apart.append(worst[1])
    return {"per_pixel": np.array(per_pixel), "apart": np.array(apart)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--only", help="the rows to measure, by name, comma-separated (default: all)")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    mnist = load_mnist(args.data)
    head = (f"| prepare_image | correct? | as it was (per pixel > {PER_PIXEL}): files failed | largest | as it is (ink apart > {APART}): files failed | "
            "smallest | largest | seconds |")
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    print(head, flush=True)
    names = args.only.split(",") if args.only else list(FUNCTIONS)
    for name in names:
        correct, what, edits = FUNCTIONS[name]
        started = time.perf_counter()
        got = measure(mnist, prepare_image(edits), args.files)
        pp, ap = got["per_pixel"], got["apart"]
        line = (f"| {name}: {what} | {'yes' if correct else 'no'} | {int((pp > PER_PIXEL).sum())} of {args.files} | {pp.max():.4f} | "
                f"{int((ap > APART).sum())} of {args.files} | {ap.min():.4f} | {ap.max():.4f} | {time.perf_counter() - started:.0f} |")
        lines.append(line)
        print(line, flush=True)
    if args.markdown:
        args.markdown.write_text(
            "# ex06's colour check: correct code kept, other grays caught\n\n"
            f"Written by `python benchmarks/colour_check.py --files {args.files}{f' --only {args.only}' if args.only else ''}` (see its docstring). Each row is the "
            "reference solution with one line changed; a file fails when any of its colour pictures is further from its "
            "counterpart's result than the bar (inf: prepare_image raised on a picture).\n\n"
            + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
