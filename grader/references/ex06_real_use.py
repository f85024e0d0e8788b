"""Exercise 06's references, apart from its checks (grader/checks/ex06/, collected by grader/checks/ex06_real_use.py): the pictures
prepare_image is called with (MNIST digits as photos on gray, coloured and transparent paper, printed digits),
the 3-nearest-neighbour reader that says whether a prepared picture is recognised, the probe models
predict_digit is called with, whose weights are fixed here so that every expected probability is NumPy, and
the validation results choose_threshold is called with (`threshold_cases`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


INK = 0.2  # a pixel counts as ink when it is above this fraction of the brightest one


KNN_TRAIN = 20_000  # training images the reader compares with


KNN_K = 3  # neighbours it asks


PHOTOS = 60  # MNIST test digits re-saved as photos


# Pillow's printed 1, 6 and 9 look unlike handwritten ones (a flag on the 1,
# closed loops on the 6 and 9), so a classifier trained on handwriting misreads
# them however well they are prepared; the printed set leaves them out.
PRINTED = (0, 2, 3, 4, 5, 7, 8)


SEED = 6


@dataclass
class Picture:
    image: np.ndarray  # uint8, (H, W), (H, W, 3) or (H, W, 4)
    label: int
    shown: str  # how it reads in messages
    digit_hw: tuple[int, int]  # height and width of the digit's ink in the picture
    # the box a correct preparation of the noise-free digit measures (laid_out_hw): a thin stroke's faint ends,
    # which resizing dims below the checks' ink level, count in `digit_hw` and not here
    laid_out_hw: tuple[int, int] | None = None
    # the noise-free digit laid out as the contract lays it out (laid_out): what a preparation of the picture resembles
    laid_out: np.ndarray | None = None


def ink_box(ink: np.ndarray, level: float = INK) -> tuple[int, int] | None:
    """Height and width of the bounding box of pixels above `level` x the brightest."""
    top = float(ink.max()) if ink.size else 0.0
    if top <= 0:
        return None
    mask = ink > level * top
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def resized(ink: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(ink.astype(np.float32)).resize((width, height), Image.BILINEAR), dtype=np.float32)


def _resized_to_20(ink: np.ndarray) -> np.ndarray | None:
    """A noise-free digit's ink (light on dark, 0..1) cropped to its box (ink_box's own pixels) and resized so
    that its longer side is 20, its aspect kept."""
    top = float(ink.max()) if ink.size else 0.0
    if top <= 0:
        return None
    mask = ink > INK * top
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20 / max(crop.shape)
    return resized(crop, max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))


def laid_out_hw(ink: np.ndarray) -> tuple[int, int] | None:
    """The height and width of a noise-free digit's ink once its box is resized so that its longer side is
    20, measured as the checks measure a prepared digit (ink_box): what the contract's layout gives this
    digit, faint ends dimmed by the resizing and all."""
    digit = _resized_to_20(ink)
    return None if digit is None else ink_box(digit)


def laid_out(ink: np.ndarray) -> np.ndarray | None:
    """A noise-free digit's ink laid out in a 28 x 28 field as the contract lays a picture out: resized so its
    longer side is 20, its centre of mass moved to row 14, column 14, the strongest ink 1.0. What a prepared
    picture of this digit looks like, whatever the paper, pen and noise it was drawn with."""
    digit = _resized_to_20(ink)
    if digit is None or float(digit.max()) <= 0:
        return None
    total = float(digit.sum())
    top = round(14 - float(digit.sum(axis=1) @ np.arange(digit.shape[0])) / total)
    left = round(14 - float(digit.sum(axis=0) @ np.arange(digit.shape[1])) / total)
    field = np.zeros((28, 28), np.float32)
    r0, c0, r1, c1 = max(top, 0), max(left, 0), min(top + digit.shape[0], 28), min(left + digit.shape[1], 28)
    field[r0:r1, c0:c1] = digit[r0 - top : r1 - top, c0 - left : c1 - left]
    return field / field.max()


def placed_on_sheet(ink: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Put a digit's ink (0..1, light on dark) off-centre on a larger sheet."""
    h, w = ink.shape
    height = h + int(rng.integers(h // 3, h + 1))
    width = w + int(rng.integers(w // 3, 2 * w + 1))
    top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
    sheet = np.zeros((height, width), dtype=np.float32)
    sheet[top : top + h, left : left + w] = ink
    return sheet, f"{height}×{width}"


def gray_paper(ink: np.ndarray, rng: np.random.Generator, noise: float = 3.0) -> np.ndarray:
    """Dark ink on light-gray paper: pixel = paper + (ink colour - paper) x ink."""
    paper, pen = rng.uniform(205, 252), rng.uniform(5, 70)
    gray = paper + (pen - paper) * ink + rng.normal(0, noise, ink.shape) * (noise > 0)
    return np.clip(np.round(gray), 0, 255).astype(np.uint8)


def colour_paper(ink: np.ndarray, rng: np.random.Generator, noise: float = 3.0) -> np.ndarray:
    """Blue-black ink on tinted paper, in RGB."""
    paper = np.array([rng.uniform(225, 252), rng.uniform(220, 248), rng.uniform(195, 235)])
    pen = np.array([rng.uniform(10, 40), rng.uniform(20, 50), rng.uniform(60, 130)])
    rgb = paper + (pen - paper) * ink[..., None] + rng.normal(0, noise, (*ink.shape, 3)) * (noise > 0)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def transparent(ink: np.ndarray, colour: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Ink of one colour (black by default) on a transparent background, as drawing apps save it: paper is
    (0, 0, 0, 0), and the ink's colour is the same everywhere, its strength in alpha alone."""
    rgba = np.zeros((*ink.shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.where(ink[..., None] > 0, np.array(colour, np.uint8), 0)
    rgba[..., 3] = np.round(ink * 255).astype(np.uint8)
    return rgba


# Pairs of inks that the contract's gray (0.299 R + 0.587 G + 0.114 B) sees equally dark on white paper, about
# 91 to 97 levels below it. Two inks pin one equation only (weights w with w . (255 - one) = w . (255 - other)
# see them alike, as (R + 2 G + B) / 4 does the first pair: a review), so there are two pairs, and only weights
# near the contract's see both pairs' inks alike. Found by searches over colours in steps of 15 levels, with
# both inks at least 90 levels below the paper (more contrast gives smaller gaps): the first pair for the
# largest gap of a plain mean, the weights reversed and one channel alone (one ink at most 0.55 as dark as the
# other); the second for the largest gap of every gray whose weights are 0.15 or further from the contract's
# (summed), given the first pair: at least 0.19 in one pair or the other, e.g. 0.32 for (R + 2 G + B) / 4.
PEN_PAIRS = (((255, 90, 255), (0, 225, 240)), ((195, 180, 0), (210, 120, 255)))


def in_two_inks(ink: np.ndarray, inks: tuple[tuple[int, int, int], tuple[int, int, int]]) -> np.ndarray:
    """The digit in RGB on white paper, its upper half (above the ink's mean row) in the first ink and its lower
    half in the second. Halves by rows, not columns, so that each ink covers whole strokes: a line between
    columns would cut a "1" down its middle, and a comparison that forgives a pixel would not see it."""
    rows = np.arange(ink.shape[0])
    upper = rows < (ink.sum(axis=1) @ rows) / ink.sum()
    pen = np.where(upper[:, None, None], np.array(inks[0], float), np.array(inks[1], float))
    rgb = 255 + (pen - 255) * ink[..., None]
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


GRAY = (0.299, 0.587, 0.114)  # prepare_image's contract: a colour pixel counts as 0.299 R + 0.587 G + 0.114 B


def in_gray(image: np.ndarray) -> np.ndarray:
    """A colour picture as prepare_image's contract sees it, as a grayscale picture: each pixel's gray
    0.299 R + 0.587 G + 0.114 B, laid over white paper by its alpha, rounded to uint8."""
    pixels = image.astype(np.float64)
    gray = pixels[..., :3] @ np.array(GRAY)
    if image.shape[-1] == 4:
        alpha = pixels[..., 3] / 255
        gray = alpha * gray + (1 - alpha) * 255
    return np.clip(np.round(gray), 0, 255).astype(np.uint8)


def in_pencil(gray: np.ndarray, darkest: int, paper: int = 230) -> np.ndarray:
    """A grayscale photo redrawn in light pencil: plain paper of level `paper`, and its ink (how much darker than
    its own paper, the median, each pixel is) scaled so that the strongest is exactly `darkest` levels darker."""
    ink = np.clip(np.median(gray) - gray.astype(np.float64), 0, None)
    return (paper - np.round(ink / ink.max() * darkest)).astype(np.uint8)


def opaque(rgb: np.ndarray) -> np.ndarray:
    """An RGB photo saved with an alpha channel that is 255 everywhere, as many apps save a PNG."""
    return np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=-1)


def photo_ink(digit: np.ndarray, scale: float) -> np.ndarray:
    """An MNIST digit (light on dark, 0..255) resized, as ink 0..1."""
    size = max(10, round(28 * scale))
    return np.clip(resized(digit, size, size) / 255, 0, 1)


def printed_ink(digit: int, size: int, stroke: int) -> np.ndarray:
    """A digit drawn with Pillow's built-in font, cropped, as ink 0..1."""
    font = ImageFont.load_default(size=size)
    canvas = Image.new("L", (2 * size, 2 * size), 0)
    ImageDraw.Draw(canvas).text((size // 2, size // 4), str(digit), font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    ink = np.asarray(canvas, dtype=np.float32) / 255
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


_PICTURES: dict[tuple[int, int], list[Picture]] = {}


def pictures(mnist, seed: int = SEED) -> list[Picture]:
    """The graded set, drawn from `seed` (each file's own, drawn when it is graded: an adversarial review
    answered a fixed set from a table of the MNIST digits it was made from, 12/12): PHOTOS test digits drawn
    from the whole test set, re-saved as photos (every third in colour) at a drawn size, place, paper, pen
    and noise; then the PRINTED digits twice each, at two drawn sizes."""
    key = (id(mnist), seed)
    if key not in _PICTURES:
        rng = np.random.default_rng(seed)
        found = []
        for n, i in enumerate(int(i) for i in rng.choice(len(mnist.x_test), min(PHOTOS, len(mnist.x_test)), replace=False)):
            ink = photo_ink(mnist.x_test[i], rng.uniform(0.8, 5))
            sheet, size = placed_on_sheet(ink, rng)
            colour = n % 3 == 2
            image = colour_paper(sheet, rng) if colour else gray_paper(sheet, rng)
            kind = "RGB, blue ink on tinted paper" if colour else "grayscale"
            label = int(mnist.y_test[i])
            found.append(Picture(image, label, f"x_test[{i}] (a {label}) re-saved dark on light, {size} {kind}, off-centre", ink_box(sheet),
                                 laid_out_hw(sheet), laid_out(sheet)))
        for n, digit in enumerate(PRINTED * 2):
            size = int(rng.integers(24, 48)) if n < len(PRINTED) else int(rng.integers(60, 120))
            ink = printed_ink(digit, size, stroke=round(size / 30 * rng.uniform(0.5, 1.5)))
            sheet, shape = placed_on_sheet(ink, rng)
            found.append(Picture(gray_paper(sheet, rng), digit, f"a printed {digit} (Pillow's font, size {size}) on a {shape} grayscale page",
                                 ink_box(sheet), laid_out_hw(sheet), laid_out(sheet)))
        _PICTURES[key] = found
    return _PICTURES[key]


SPECKLED = 6  # pictures the specks check poses, each with and without its specks
SPECK_INSIDE = True  # one speck inside the digit's box, where there is room (speckled_pictures)
IN_TWO_PIECES = 2  # of them, digits cut in two by a stroke lifted off the page, where a cut leaves two large pieces


@dataclass
class Speckled:
    clean: np.ndarray  # a photo of a digit, as `pictures` draws them
    speckled: np.ndarray  # the same photo, paper, pen and noise, with specks of ink apart from the digit
    specks: int
    inside: bool  # whether one of them lies inside the digit's box
    gap: int  # pixels between the digit's ink and the nearest speck's edge
    shown: str
    in_two_pieces: bool = False  # the digit cut in two (_in_two_pieces): both pieces are the digit
    laid_out_hw: tuple[int, int] | None = None  # the box the contract's layout of the noise-free digit measures


def _in_two_pieces(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """The digit with a band of rows taken out of its middle third where that leaves exactly two pieces of touching
    ink, each holding at least a quarter of it (a 5 whose bar was lifted off the page), or None where no cut does."""
    from scipy import ndimage

    h, total = ink.shape[0], float(ink.sum())
    gap = max(2, round(0.06 * h))
    for row in rng.permutation(np.arange(h // 3, max(h // 3 + 1, 2 * h // 3 - gap))):
        cut = ink.copy()
        cut[row : row + gap] = 0
        pieces, count = ndimage.label(cut > 0.02, structure=np.ones((3, 3)))
        if count == 2 and min(ndimage.sum(cut, pieces, [1, 2])) >= total / 4:
            return cut
    return None


def speckled_pictures(mnist, seed: int) -> list[Speckled]:
    """SPECKLED photos of MNIST test digits drawn from `seed` (each file's own), each with specks: round dots of
    nearly the digit's strongest ink (dust, a touch of the pen), each about 2% of the digit's ink, 1 to 3 of them
    outside the digit's box by at least a quarter of its size, and one inside the box wherever a spot lies 3
    pixels or more from every stroke (a review cropped to the inked rows' and columns' heaviest run instead of
    finding pieces, and kept the point while every speck lay outside). The photo without them is drawn with the
    same paper, pen and noise, so a preparation that leaves the specks out gives the same result for both. The
    first IN_TWO_PIECES digits are cut in two, both pieces large (a review kept only the largest piece of ink and
    lost nothing while every digit came in one)."""
    from scipy import ndimage  # the grader's side: the distance from every pixel to the digit's faintest ink

    rng = np.random.default_rng([seed, 8])
    found = []
    for n, i in enumerate(int(i) for i in rng.choice(len(mnist.x_test), SPECKLED, replace=False)):
        ink = photo_ink(mnist.x_test[i], rng.uniform(1.5, 4.5))
        cut = _in_two_pieces(ink, rng) if n < IN_TWO_PIECES else None
        ink = ink if cut is None else cut
        h, w = ink.shape
        side = max(h, w)
        margin = side // 2 + 2
        sheet = np.zeros((h + 2 * margin, w + 2 * margin), np.float32)
        sheet[margin : margin + h, margin : margin + w] = ink
        from_ink = ndimage.distance_transform_edt(sheet <= 0.02)
        radius = max(1.0, float(np.sqrt(0.02 * ink.sum() / np.pi)))  # a dot of 2% of the digit's ink
        reach = math.ceil(radius)
        box = np.zeros(sheet.shape, bool)
        box[margin : margin + h, margin : margin + w] = True
        outside, places = int(rng.integers(1, 4)), []
        while len(places) < outside:
            r, c = (int(rng.integers(reach, length - reach)) for length in sheet.shape)
            if max(margin - r, r - (margin + h - 1), margin - c, c - (margin + w - 1)) - reach >= side // 4:
                places.append((r, c))
        spots = np.argwhere(box & (from_ink >= radius + 3))
        inside = SPECK_INSIDE and len(spots) > 0
        if inside:
            r, c = spots[int(rng.integers(len(spots)))]
            places.append((int(r), int(c)))
        specks = sheet.copy()
        rows, cols = np.ogrid[: sheet.shape[0], : sheet.shape[1]]
        for r, c in places:
            # nearly the pen's strongest, so that the noise on a speck never tops the digit's strongest ink
            specks[(rows - r) ** 2 + (cols - c) ** 2 <= radius**2] = 0.9 * ink.max()
        gap = min(int(from_ink[r, c] - radius) for r, c in places)
        colour = n % 3 == 2
        paint = colour_paper if colour else gray_paper
        state = int(rng.integers(2**32))
        clean, speckled = paint(sheet, np.random.default_rng(state)), paint(specks, np.random.default_rng(state))
        label = int(mnist.y_test[i])
        kind = ", cut in two by a stroke lifted off the page" if cut is not None else ""
        found.append(Speckled(clean, speckled, len(places), inside, gap, f"x_test[{i}] (a {label}{kind}) re-saved dark on light, "
                              f"{sheet.shape[0]}×{sheet.shape[1]} {'RGB' if colour else 'grayscale'}", cut is not None, laid_out_hw(sheet)))
    return found


# The k-nearest-neighbour reference classifier, built once per data set.
_KNN: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def knn_predict(mnist, images: np.ndarray) -> np.ndarray:
    key = id(mnist)
    if key not in _KNN:
        train = mnist.x_train[:KNN_TRAIN].reshape(-1, 784).astype(np.float32) / 255
        _KNN[key] = (train, (train**2).sum(axis=1), mnist.y_train[:KNN_TRAIN].astype(np.int64))
    train, norms, labels = _KNN[key]
    queries = images.reshape(len(images), 784).astype(np.float32)
    distances = norms[None, :] - 2 * queries @ train.T  # + |query|^2, the same for every neighbour
    nearest = np.argsort(distances, axis=1)[:, :KNN_K]
    votes = labels[nearest]
    predicted = []
    for row in votes:
        counts = np.bincount(row, minlength=10)
        tied = np.flatnonzero(counts == counts.max())
        predicted.append(next(label for label in row if label in tied))  # a tie goes to the nearest
    return np.array(predicted)


SHARPNESS = 0.15  # logit per unit of template match: confident, yet with a readable top 3


def probe_weights(mnist) -> tuple[np.ndarray, np.ndarray]:
    """The probe's Dense layer before its shift: class templates."""
    x = mnist.x_train[:KNN_TRAIN].reshape(-1, 784).astype(np.float64) / 255
    y = mnist.y_train[:KNN_TRAIN]
    means = np.stack([x[y == k].mean(axis=0) for k in range(10)])
    kernel = SHARPNESS * means.T  # (784, 10): logit_k = SHARPNESS * (x . mean_k - |mean_k|^2 / 2)
    bias = -SHARPNESS * (means**2).sum(axis=1) / 2
    return kernel.astype(np.float32), bias.astype(np.float32)


def shifted_bias(bias: np.ndarray, seed: int) -> np.ndarray:
    """Each logit moved by up to 1 either way, drawn from `seed` (each file's own, drawn when it is graded),
    so that only the model itself knows its probabilities: an adversarial review computed them from the
    templates, which ship with the grader, without calling the model."""
    return (bias + np.random.default_rng([seed, 6]).uniform(-1.0, 1.0, len(bias))).astype(np.float32)


def with_bias(model_file: Path, bias: np.ndarray, into: Path) -> Path:
    """A copy of a probe's .keras file (a zip: config, metadata, model.weights.h5) whose Dense bias is
    `bias`, written with h5py: no Keras in the grader's process for each file's own probe."""
    import tempfile
    import zipfile

    import h5py  # Keras's own weights format, and its dependency

    with zipfile.ZipFile(model_file) as source:
        members = {name: source.read(name) for name in source.namelist()}
    with tempfile.TemporaryDirectory() as scratch:
        weights = Path(scratch) / "model.weights.h5"
        weights.write_bytes(members["model.weights.h5"])
        with h5py.File(weights, "r+") as f:
            stored = f["layers/dense/vars/1"]
            assert stored.shape == bias.shape, (stored.shape, bias.shape)
            stored[...] = bias
        members["model.weights.h5"] = weights.read_bytes()
    with zipfile.ZipFile(into, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)
    return into


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


PROBE_MODELS = (("cnn", (28, 28, 1), "a CNN-shaped model, input (None, 28, 28, 1)"), ("dense", (28, 28), "a dense model, input (None, 28, 28)"))


def save_probe_models(kernel: np.ndarray, bias: np.ndarray, folder: Path) -> None:
    """probe-<name>.keras for each of PROBE_MODELS, whose last layer holds these weights."""
    from mnist_course.data import quiet_keras  # only predict_digit's checks need Keras, and only here

    keras = quiet_keras()
    layers = keras.layers
    for name, shape, _ in PROBE_MODELS:
        model = keras.Sequential(
            [keras.Input(shape), layers.Rescaling(1 / 255), layers.Flatten(), layers.Dense(10, activation="softmax")],
            name=f"probe_{name}",
        )
        model.layers[-1].set_weights([kernel, bias])
        model.save(folder / f"probe-{name}.keras")


# -- choose_threshold's validation results

# The shares of wrong answers allowed: powers of two, so max_error × answered is exact in floating point and
# every correct way of comparing a share with it (wrong / answered <= max_error, wrong <= max_error ×
# answered, 1 - accuracy <= max_error) agrees on every threshold.
THRESHOLD_SHARES = (1 / 16, 1 / 32, 1 / 64)


@dataclass(frozen=True)
class ThresholdCase:
    confidences: np.ndarray  # float64 in [0, 1], two or three decimals, so equal confidences occur
    correct: np.ndarray  # bool
    max_error: float
    best: float  # the contract's threshold, known from how the set was built (no search for it is shipped)
    shown: str  # how the call reads in messages
    kind: str  # what it is built to tell: "validation", "dip and tie", "at the limit", "none", "late break", "zero allowed", "one answer"


def answered_share(confidences: np.ndarray, correct: np.ndarray, t: float) -> tuple[int, int]:
    """(answered, wrong) for threshold t: the images whose confidence is t or more, and how many of them are wrong."""
    answered = confidences >= t
    return int(answered.sum()), int((answered & ~correct).sum())


def keeps(answered: int, wrong: int, max_error: float) -> bool:
    """Whether `wrong` of `answered` answers keep the share (exact for THRESHOLD_SHARES and 0)."""
    return wrong <= max_error * answered


def _case(rng, answers, max_error, best, kind, shown) -> ThresholdCase:
    """The (confidence, right?) answers, in an order of their own (never sorted by confidence)."""
    order = rng.permutation(len(answers))
    confidences = np.array([c for c, _ in answers], np.float64)[order]
    correct = np.array([ok for _, ok in answers], bool)[order]
    return ThresholdCase(confidences, correct, max_error, best, f"the confidences and correctness of {len(answers)} {shown}", kind)


def _broken_below(rng, answers: list, values: np.ndarray, max_error: float, chance) -> list:
    """`answers` (those at or above the best threshold, which keep the share) and below them a group at each of
    `values` (largest first), each right with `chance(value)`: a right answer is turned wrong wherever the group
    would leave the share kept, so that every threshold below the best breaks it and the best is the smallest."""
    answered, wrong = len(answers), sum(not ok for _, ok in answers)
    for value in values:
        group = [bool(rng.random() < chance(value)) for _ in range(int(rng.integers(1, 5)))]
        for i in range(len(group)):
            if keeps(answered + len(group), wrong + group.count(False), max_error) and group[i]:
                group[i] = False
        while keeps(answered + len(group), wrong + group.count(False), max_error):
            group.append(False)
        answers += [(value, ok) for ok in group]
        answered, wrong = answered + len(group), wrong + group.count(False)
    return answers


def _validation_like(rng: np.random.Generator) -> ThresholdCase:
    """Answers like a model's on validation digits: confidences with two decimals (many equal), mostly right
    when sure, and a confident mistake at the top, so that the share of wrong answers starts above the limit
    and falls back below it on the way down; below the best threshold, mistakes grow common."""
    max_error = float(rng.choice(THRESHOLD_SHARES[:2]))
    best = round(float(rng.uniform(0.80, 0.93)), 2)
    top = [(1.0, False)] + [(1.0, True)] * int(rng.integers(1, 4))
    # wrong a little less often than the limit allows, so the share at the best threshold is close to it
    above = [(round(float(rng.uniform(best + 0.005, 0.995)), 2), bool(rng.random() >= 0.8 * max_error)) for _ in range(int(rng.integers(150, 300)))]
    answers = top + above + [(best, True)] * int(rng.integers(3, 12))
    wrong = sum(not ok for _, ok in answers)
    while not keeps(len(answers), wrong, max_error):  # more right answers at the best threshold, until it keeps the share
        answers.append((best, True))
    lower = np.round(np.arange(best - 0.01, 0.105, -0.01), 2)
    answers = _broken_below(rng, answers, lower, max_error, lambda c: c)  # right about as often as sure
    return _case(rng, answers, max_error, best, "validation", "validation answers")


def _distinct(rng: np.random.Generator, n: int, low: int, high: int, scale: int = 1000) -> np.ndarray:
    """n distinct confidences in [low, high) / scale (three decimals by default), largest first."""
    return np.sort(rng.choice(np.arange(low, high), n, replace=False))[::-1] / scale


def _dip_and_tie(rng: np.random.Generator) -> ThresholdCase:
    """Built so that the two classic searches fail: the most confident answer is wrong (the share starts above
    the limit, so a search that stops at the first threshold breaking it answers nothing), and just below the
    best threshold comes a group of equal confidences whose first member alone keeps the share but whose whole
    group breaks it (so counting one answer at a time, not one confidence at a time, goes one group too far,
    whichever order the equal ones are counted in). Everything below it is wrong."""
    q = int(rng.choice([16, 32, 64]))
    tie_wrong, tie_size = int(rng.integers(1, 3)), int(rng.integers(3, 7))
    # the first member of the next group, right or wrong, still keeps the share: (2 + tie_wrong) / (2 + rights + tie_size) <= 1/q
    rights = q * (2 + tie_wrong) - 2 - tie_size + int(rng.integers(0, 4))
    next_size = int(rng.integers(3, 7))
    next_wrong = int(rng.integers(2, next_size))  # the whole next group breaks it: 1 + tie_wrong + next_wrong > answered / q
    tail = int(rng.integers(5, 15))
    values = _distinct(rng, 1 + rights + 2 + tail, 300, 1000)
    c_tie, c_next = values[1 + rights], values[2 + rights]
    answers = [(values[0], False)] + [(c, True) for c in values[1 : 1 + rights]]
    answers += [(c_tie, i >= tie_wrong) for i in range(tie_size)]
    answers += [(c_next, i >= next_wrong) for i in range(next_size)]
    answers += [(c, False) for c in values[3 + rights :]]
    return _case(rng, answers, 1 / q, float(c_tie), "dip and tie", "answers, the most confident of them wrong")


def _at_the_limit(rng: np.random.Generator) -> ThresholdCase:
    """The best threshold answers exactly q images of which exactly one is wrong: a share equal to max_error = 1/q,
    which "at most" keeps; below it two equal confidences, both wrong, then only wrong answers."""
    q = int(rng.choice([16, 32, 64]))
    wrong_at = int(rng.integers(q // 2, q - 1))
    values = _distinct(rng, q + 1 + int(rng.integers(3, 10)), 200, 1000)
    answers = [(c, i != wrong_at) for i, c in enumerate(values[:q])]
    answers += [(values[q], False), (values[q], False)] + [(c, False) for c in values[q + 1 :]]
    return _case(rng, answers, 1 / q, float(values[q - 1]), "at the limit", f"answers, one wrong among the {q} most confident")


def _none_answered(rng: np.random.Generator) -> ThresholdCase:
    """max_error 0, and the two most confident answers share one confidence, one of them wrong: no threshold answers without a mistake."""
    values = _distinct(rng, int(rng.integers(20, 60)), 100, 1000)
    answers = [(values[0], True), (values[0], False)] + [(c, bool(rng.random() < 0.8)) for c in values[1:]]
    return _case(rng, answers, 0.0, math.inf, "none", "answers, one of the two most confident (equal) wrong")


def _late_break(rng: np.random.Generator) -> ThresholdCase:
    """A share that breaks the limit late and recovers (an adversarial review's): more than 200 answers, and more
    than 8 / max_error, all right at the top; then a run of wrong ones that breaks the limit; then right ones that
    bring the share back within it, the last of them the best threshold; below it, every threshold breaks it. A
    search that trusts the share to settle once enough answers are counted (a minimum count, a warm-up, a binary
    search over the confidences) stops at the break."""
    q = int(rng.choice([16, 32]))
    top = max(200, 8 * q) + int(rng.integers(5, 60))
    run = top // (q - 1) + int(rng.integers(1, 4))  # run wrong answers after `top` right ones: run > (top + run) / q
    back = q * run - top - run + int(rng.integers(0, 5))  # then right ones, until run <= (top + run + back) / q
    tail = int(rng.integers(5, 15))
    values = _distinct(rng, top + run + back + tail, 2000, 10000, scale=10000)  # four decimals: enough distinct values
    answers = [(c, True) for c in values[:top]] + [(c, False) for c in values[top:top + run]]
    answers += [(c, True) for c in values[top + run:top + run + back]] + [(c, False) for c in values[top + run + back:]]
    best = float(values[top + run + back - 1])
    return _case(rng, answers, 1 / q, best, "late break", f"answers, the {top} most confident right, the next {run} wrong")


def _zero_allowed(rng: np.random.Generator) -> ThresholdCase:
    """max_error 0 with a threshold that keeps it: the most confident answers right, then a wrong one (an adversarial
    review's: `if max_error == 0: return math.inf` stood in for handling "nothing keeps" while max_error 0 came only
    with the set where nothing does)."""
    values = _distinct(rng, int(rng.integers(20, 60)), 100, 1000)
    right = int(rng.integers(3, 12))
    answers = [(c, True) for c in values[:right]] + [(values[right], False)] + [(c, bool(rng.random() < 0.8)) for c in values[right + 1:]]
    return _case(rng, answers, 0.0, float(values[right - 1]), "zero allowed", f"answers, the {right} most confident right")


def _one_answer(rng: np.random.Generator) -> ThresholdCase:
    """The smallest valid input: one answer, right, at confidence 0.0 (which answers it: 0.0 >= 0.0), so that
    validation stricter than the contract's shows."""
    return _case(rng, [(0.0, True)], float(rng.choice(THRESHOLD_SHARES)), 0.0, "one answer", "answer, right at confidence 0.0")


def threshold_cases(seed: int) -> list[ThresholdCase]:
    """choose_threshold's validation results for one file: one like a model's, five built to tell a mistake each,
    and the smallest valid input."""
    rng = np.random.default_rng([seed, 6])
    return [_validation_like(rng), _dip_and_tie(rng), _at_the_limit(rng), _none_answered(rng), _late_break(rng),
            _zero_allowed(rng), _one_answer(rng)]
