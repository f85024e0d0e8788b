"""Photo-like pictures of handwritten digits, made reproducibly for lesson 7.

    python -m mnist_course.photos lessons/photos     # (re)write the set the course ships

Not MNIST images re-saved: each digit is drawn anew, as a pen would draw it,
from a skeleton of strokes (the paths a hand follows for that digit), then put
through what a phone camera does to a sheet of paper:

1. strokes: each skeleton point moved a little at random (a hand never draws
   the same digit twice), the digit slanted, stretched and placed off-centre,
   drawn with a pen of random width and dark ink of a random colour;
2. paper: off-white, with fine grain and light that falls unevenly (brighter on
   one side, a soft shadow at a corner);
3. the camera: a small perspective tilt, a little blur (focus, shake), and
   JPEG compression at a low to middling quality.

Everything is drawn with Pillow from one seeded NumPy generator, so the same
seed gives the same pictures on every machine (up to the JPEG codec of the
Pillow build; tests/test_photos.py compares decoded pixels with a tolerance).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 160  # pixels, square: about what a phone crop of one digit gives
PER_DIGIT = 6
SEED = 2026

# Strokes in a unit box (x right, y down), as a hand draws them: lists of points.
_t = np.linspace(0, 2 * np.pi, 40)
SKELETONS: dict[int, list[list[tuple[float, float]]]] = {
    0: [[(0.5 + 0.32 * np.sin(a), 0.5 - 0.45 * np.cos(a)) for a in _t]],
    1: [[(0.38, 0.22), (0.55, 0.05), (0.55, 0.95)]],
    2: [[(0.2, 0.28), (0.3, 0.1), (0.5, 0.03), (0.7, 0.1), (0.78, 0.28), (0.7, 0.48), (0.45, 0.7), (0.2, 0.95), (0.85, 0.95)]],
    3: [[(0.22, 0.15), (0.45, 0.03), (0.72, 0.12), (0.72, 0.35), (0.45, 0.48), (0.75, 0.6), (0.78, 0.82), (0.5, 0.97), (0.2, 0.87)]],
    4: [[(0.62, 0.95), (0.62, 0.05), (0.15, 0.68), (0.88, 0.68)]],
    5: [[(0.78, 0.05), (0.3, 0.05), (0.25, 0.45), (0.5, 0.38), (0.75, 0.5), (0.78, 0.78), (0.55, 0.96), (0.22, 0.88)]],
    6: [[(0.72, 0.08), (0.45, 0.2), (0.27, 0.5), (0.25, 0.78), (0.42, 0.96), (0.68, 0.9), (0.75, 0.7), (0.6, 0.55), (0.38, 0.58), (0.26, 0.72)]],
    7: [[(0.15, 0.08), (0.85, 0.08), (0.55, 0.5), (0.4, 0.95)]],
    8: [
        [(0.5 + 0.22 * np.sin(a), 0.27 - 0.22 * np.cos(a)) for a in _t],
        [(0.5 + 0.28 * np.sin(a), 0.73 + 0.24 * np.cos(a)) for a in _t],
    ],
    9: [[(0.72, 0.35), (0.6, 0.5), (0.38, 0.5), (0.27, 0.32), (0.38, 0.08), (0.62, 0.06), (0.74, 0.25), (0.72, 0.55), (0.65, 0.95)]],
}


def _stroke_points(stroke: list[tuple[float, float]], rng: np.random.Generator) -> np.ndarray:
    """The stroke with a smooth wobble (a random offset at up to 8 places along it,
    interpolated between), resampled densely and smoothed."""
    points = np.asarray(stroke, dtype=float)
    places = min(len(points), 8)
    offsets = rng.normal(0, 0.025, (places, 2))
    along = np.linspace(0, places - 1, len(points))
    points = points + np.stack([np.interp(along, np.arange(places), offsets[:, i]) for i in range(2)], axis=1)
    dense = []
    for a, b in zip(points[:-1], points[1:]):
        for t in np.linspace(0, 1, 8, endpoint=False):
            dense.append(a + (b - a) * t)
    dense.append(points[-1])
    dense = np.asarray(dense)
    kernel = np.ones(5) / 5  # a moving average rounds the corners as a moving pen does
    padded = np.pad(dense, ((2, 2), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(2)], axis=1)


def _paper(rng: np.random.Generator) -> np.ndarray:
    """Off-white paper with grain, lit unevenly: an (H, W, 3) float array, 0..255."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 - 0.18 * ((x - 0.5) * np.cos(angle) + (y - 0.5) * np.sin(angle) + 0.5)  # brighter on one side
    cx, cy = rng.choice([0.0, 1.0], 2)
    light -= 0.12 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.15)  # a soft shadow at a corner
    tint = rng.uniform(225, 250) * np.array([1.0, rng.uniform(0.97, 1.0), rng.uniform(0.9, 0.98)])
    grain = rng.normal(0, 3, (SIZE, SIZE, 1))
    return np.clip(light[..., None] * tint + grain, 0, 255)


def draw_digit(digit: int, rng: np.random.Generator) -> Image.Image:
    """One photo-like RGB picture of `digit`."""
    slant, stretch = rng.uniform(-0.3, 0.15), rng.uniform(0.8, 1.15)
    height = rng.uniform(0.45, 0.7) * SIZE
    width = height * 0.7 * stretch
    left, top = rng.uniform(0.1, 0.9) * (SIZE - width), rng.uniform(0.1, 0.9) * (SIZE - height)
    pen = int(rng.integers(4, 11))
    ink = tuple(int(v) for v in rng.choice([(20, 20, 25), (25, 35, 110), (60, 60, 70), (15, 40, 60)]))
    layer = Image.new("L", (SIZE, SIZE), 0)  # where the ink goes
    canvas = ImageDraw.Draw(layer)
    for stroke in SKELETONS[digit]:
        points = _stroke_points(stroke, rng)
        xs = left + (points[:, 0] - slant * (points[:, 1] - 0.5)) * width
        ys = top + points[:, 1] * height
        path = [(float(a), float(b)) for a, b in zip(xs, ys)]
        canvas.line(path, fill=255, width=pen, joint="curve")
        for cap in (path[0], path[-1]):  # round pen ends
            canvas.ellipse((cap[0] - pen / 2, cap[1] - pen / 2, cap[0] + pen / 2, cap[1] + pen / 2), fill=255)
    coverage = np.asarray(layer.filter(ImageFilter.GaussianBlur(0.7)), dtype=float)[..., None] / 255
    coverage *= rng.uniform(0.75, 1.0)  # ink that does not cover the paper fully
    pixels = _paper(rng) * (1 - coverage) + np.asarray(ink, dtype=float) * coverage
    picture = Image.fromarray(pixels.astype(np.uint8), "RGB")
    # The camera: a slight perspective tilt (each corner moved a few pixels), blur, JPEG.
    shift = rng.uniform(-0.06, 0.06, 8) * SIZE
    corners = np.array([0, 0, 0, SIZE, SIZE, SIZE, SIZE, 0], dtype=float) + shift
    picture = picture.transform((SIZE, SIZE), Image.QUAD, tuple(corners), Image.BICUBIC, fillcolor=(200, 200, 195))
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.4)))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=int(rng.integers(35, 85)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def make_photos(seed: int = SEED, per_digit: int = PER_DIGIT) -> list[tuple[int, Image.Image]]:
    """(digit, picture) pairs, `per_digit` of each digit, in a fixed shuffled order."""
    rng = np.random.default_rng(seed)
    labels = [d for d in range(10) for _ in range(per_digit)]
    order = rng.permutation(len(labels))
    return [(labels[i], draw_digit(labels[i], rng)) for i in order]


def photo_name(index: int, digit: int) -> str:
    return f"photo-{index:02d}-digit-{digit}.jpg"


def write_photos(folder: Path, seed: int = SEED) -> list[Path]:
    """Write the set as JPEG files named with their digit; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, (digit, picture) in enumerate(make_photos(seed)):
        path = folder / photo_name(index, digit)
        picture.save(path, "JPEG", quality=95)
        paths.append(path)
    return paths


def load_photos(folder: Path) -> list[tuple[int, np.ndarray]]:
    """(digit, RGB uint8 array) for every photo in `folder`, in file order."""
    found = sorted(folder.glob("photo-*-digit-*.jpg"))
    return [(int(p.stem.rsplit("-", 1)[1]), np.asarray(Image.open(p).convert("RGB"))) for p in found]


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "lessons/photos")
    print(f"wrote {len(write_photos(target))} photos to {target}")
