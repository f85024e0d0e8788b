"""ex06's checks of prepare_image(), and their messages (collected by grader/checks/ex06_real_use.py)."""

from __future__ import annotations

import numpy as np

from grader.feedback import Feedback
from grader.references import ex06_real_use as ref  # the pictures, the digit reader and the probe models
from grader.scoring import depends_on
from grader.checks.ex06.common import (
    BOX, BOX_SLACK, CENTRE, CENTRE_TOLERANCE, RECOGNISED, SIZE_TOLERANCE, _box_centre, _com, _expected_hw,
    _fits, _fog, _not_inverted, _paper, _prepared, _sample, _shows_its_digits, _valid,
)


def _no_ink(r, expected: str) -> Feedback:
    """A result with no ink where a check measures the digit: one cause and hint whatever it measures."""
    return r.fail(
        "got an image with no ink at all",
        expected,
        cause="a result that was never filled in (np.zeros kept as it was), or every pixel clipped away",
        hint="look at your image after each of your steps (plt.imshow), beside an MNIST digit (lesson 7, 'What MNIST's digits look like')",
    )


def test_prepare_image_shape_dtype(student, mnist):
    for picture in _sample(student, mnist, few=True):
        r = _prepared(student, picture)
        out = _valid(r)
        if not out.any():  # the right shape and dtype, but no digit: a function that does nothing earns nothing
            raise r.fail(
                "got an image with no ink at all: every pixel is 0",
                "the picture's digit, light on a dark field, in [0, 1]",
                cause="a result that is never filled in (np.zeros returned as it was made), or the digit pasted outside the field",
                hint="paste the resized digit into the 28 x 28 field and return that field",
            )


def test_prepare_image_inverted(student, mnist):
    for picture in ref.pictures(mnist, student.picture_seed):
        r = _prepared(student, picture)
        out = _valid(r, strict=False)
        if float(out.max()) <= 0:
            raise _no_ink(r, "a light digit on a background of 0")
        edge, brighter = _paper(out)
        if edge > 0.7 and brighter > 0:
            raise r.fail(
                f"got bright paper around a dark digit (the edge of the inked area averages {edge:.2f})",
                "a light digit on a background of 0, like MNIST",
                cause="the picture was not inverted: on paper the ink is dark, in MNIST it is bright",
                hint="ink = 255 - gray makes the paper dark and the ink light",
            )
        fog = _fog(out)
        if fog > 0.25:
            raise r.fail(
                f"got a gray haze: {fog:.0%} of the pixels are faint gray (between 0.02 and 0.3)",
                "a background of 0 around the digit, like MNIST (whose digits have at most 8% faint pixels)",
                cause="the paper's own gray level was kept, so the paper became faint ink",
                hint="the paper must become 0 whatever its own shade, and its grain too: lesson 7's step 1, 'Ink, not paper', does that for reader B",
            )
        if float(out.max()) < 0.5:
            raise r.fail(
                f"got a faint digit: the brightest pixel is {float(out.max()):.3f}",
                "the strongest ink at 1.0",
                cause="the result was not scaled at the end, or it was divided by 255 twice",
                hint="divide by the largest value as the last step",
            )
        # A review returned np.ones((28, 28)): no edge brighter than its inside, no haze, the strongest ink at 1.
        background = float((out / float(out.max()) < 0.02).mean())
        if background < 1 / 3:
            raise r.fail(
                f"got ink nearly everywhere: {background:.0%} of the pixels are background (below 0.02 of the strongest ink)",
                "a light digit on a background of 0: a digit fitted in a 20 x 20 box leaves at least half of the 28 x 28 field at 0",
                cause="a field filled with ink rather than the picture's digit: a constant result, or the whole picture stretched over the field",
                hint="make the paper 0 and keep only the digit's ink, then fit that in 20 x 20 (lesson 7, 'Ink, not paper')",
            )


def test_prepare_image_size_aspect(student, mnist):
    for picture in _sample(student, mnist):
        r = _prepared(student, picture)
        out = _valid(r, strict=False)
        box = ref.ink_box(out)
        if box is None:
            raise _no_ink(r, "the digit, fitted in a 20 x 20 box")
        h, w = box
        eh, ew = _expected_hw(picture)
        _not_inverted(r, out)
        got = f"got a digit {h} pixels high and {w} wide (pixels above {ref.INK:g} x the brightest)"
        expected = f"about {eh:.0f} x {ew:.0f}: the source digit is {picture.digit_hw[0]} x {picture.digit_hw[1]}, scaled so its longer side is 20"
        if max(h, w) > BOX + BOX_SLACK:
            cause = (
                "the digit was resized to 28 pixels, filling the field: MNIST leaves a 4-pixel margin"
                if max(h, w) >= 26
                else "the digit was resized to more than 20 pixels"
            )
            raise r.fail(got, expected, cause=cause, hint="resize the crop so its longer side is 20 pixels, then place it in the 28 x 28 field")
        if _fits(picture, h, w):
            continue
        small = max(h, w) < BOX - SIZE_TOLERANCE
        if small and ref.ink_box(out, 0.5) and max(ref.ink_box(out, 0.5)) < 12:
            cause = "the crop was larger than the digit: the whole picture was resized, or faint specks of paper noise widened the crop"
            hint = "crop to the ink only once faint grain and shadows count as paper (lesson 7's step 1)"
        elif small:
            cause = "the digit does not fill the 20-pixel box"
            hint = "scale by 20 / max(height, width) of the cropped digit"
        elif min(h, w) >= BOX - SIZE_TOLERANCE and min(eh, ew) < BOX - SIZE_TOLERANCE - 1:
            cause = "the aspect ratio was lost: the crop was stretched to a square"
            hint = "compute one scale factor, 20 / max(height, width), and apply it to both sides"
        else:
            cause = "the height and width were not scaled by the same factor (or swapped: Pillow's resize takes (width, height))"
            hint = "scale both sides by 20 / max(height, width); Image.resize wants (width, height)"
        raise r.fail(got, expected, cause=cause, hint=hint)
    _shows_its_digits(student, mnist, "The prepared digits have their pictures' sizes")


def test_prepare_image_centred(student, mnist):
    for picture in _sample(student, mnist):
        r = _prepared(student, picture)
        out = _valid(r, strict=False)
        if float(out.sum()) <= 0:
            raise _no_ink(r, "the digit, centred by its centre of mass")
        _not_inverted(r, out)
        row, col = _com(out)
        if abs(row - CENTRE) <= CENTRE_TOLERANCE + 1e-6 and abs(col - CENTRE) <= CENTRE_TOLERANCE + 1e-6:
            continue
        box_row, box_col = _box_centre(out)
        if max(abs(box_row - 13.5), abs(box_col - 13.5)) <= 1:
            heavy = "top" if row < CENTRE else "bottom"
            cause = (f"the bounding box was centred, not the centre of mass: this {picture.label} has more of its ink in its "
                     f"{heavy} half (as a 7's bar or a 9's loop puts ink at the top, and a 6's loop at the bottom), so centring its mass moves it {'down' if heavy == 'top' else 'up'} from "
                     "where centring its box puts it")
        elif row < 10 and col < 10:
            cause = "the digit was pasted at the top-left corner and never moved"
        else:
            cause = "the shift was computed the wrong way round, or from the centre of mass of the whole picture rather than of the resized digit"
        raise r.fail(
            f"got the centre of mass at row {row:.2f}, column {col:.2f}",
            f"row 14, column 14, within {CENTRE_TOLERANCE:g} pixel",
            cause=cause,
            hint="measure your result's centre of mass as lesson 7 measures MNIST's, then ask where the resized digit must go for it to land on row 14, column 14",
        )
    _shows_its_digits(student, mnist, "The prepared digits are centred at row 14, column 14")


def _problems(picture: ref.Picture, out: np.ndarray) -> list[str]:
    """What the shape checks would say about one prepared picture, in a few words."""
    if not np.isfinite(out).all() or float(out.max()) <= 0:
        return ["no ink"]
    edge, brighter = _paper(out)
    if edge > 0.7 and brighter > 0:
        return ["not inverted"]
    found = []
    if _fog(out) > 0.25:
        found.append("in a gray haze")
    h, w = ref.ink_box(out)
    if max(h, w) > BOX + BOX_SLACK:
        found.append("larger than 20 pixels")
    elif max(h, w) < BOX - SIZE_TOLERANCE:
        found.append("smaller than 20 pixels")
    elif not _fits(picture, h, w):
        found.append("stretched")
    row, col = _com(out)
    if max(abs(row - CENTRE), abs(col - CENTRE)) > CENTRE_TOLERANCE + 1e-6:
        found.append("off-centre")
    return found


def test_prepare_image_recognised(student, mnist):
    found = ref.pictures(mnist, student.picture_seed)
    # float64 or unscaled output is prepare_image_shape_dtype's point, not this check's
    outs = np.stack([_valid(_prepared(student, picture), strict=False) for picture in found])
    labels = np.array([p.label for p in found])
    predicted = ref.knn_predict(mnist, outs)
    right = predicted == labels
    rate = float(right.mean())
    if rate >= RECOGNISED:
        _shows_its_digits(student, mnist, f"A nearest-neighbour classifier trained on MNIST recognised {right.sum()} of {len(found)} ({rate:.0%})")
        return
    photos, printed = right[:ref.PHOTOS].sum(), right[ref.PHOTOS:].sum()
    wrong = [(p, int(k)) for p, k, ok in zip(found, predicted, right) if not ok]
    examples = "; ".join(f"{p.shown.split(' re-saved')[0].split(' (Pillow')[0]} was read as {k}" for p, k in wrong[:3])
    tally: dict[str, int] = {}
    for picture, out in zip(found, outs):
        for problem in _problems(picture, out):
            tally[problem] = tally.get(problem, 0) + 1
    if tally:
        listed = ", ".join(f"{n} {problem}" for problem, n in sorted(tally.items(), key=lambda item: -item[1]))
        cause = f"of the {len(found)} prepared digits: {listed} (the other prepare_image checks explain each)"
        hint = "fix the failing shape checks first; then show your output next to an MNIST digit (plt.imshow)"
    else:
        cause = "the prepared digits pass the shape checks but still differ from MNIST's: too thin or too blurred, say"
        hint = "show your output next to an MNIST digit (plt.imshow) and compare stroke width and sharpness"
    raise Feedback(
        f"A nearest-neighbour classifier trained on MNIST recognised {right.sum()} of {len(found)} ({rate:.0%}): "
        f"{photos} of {ref.PHOTOS} photos of MNIST test digits, {printed} of {len(found) - ref.PHOTOS} printed digits; "
        f"for example, {examples}",
        f"at least {RECOGNISED:.0%} (the reference solution gets about 96%)",
        called=f"prepare_image() on {len(found)} pictures: MNIST test digits re-saved dark on light at other sizes and positions, and printed digits",
        cause=cause,
        hint=hint,
    )


# How far any pixel of a picture's result may move when specks are added (results scaled to a strongest ink of 1):
# over 900 drawn pairs (seeds 0-149), the reference and two ways of its own (4-connected pieces, pieces weighed by
# pixels) move at most 0.15 (a speck on the page can move the paper's median gray by a level); a preparation that
# keeps the specks moves one by 0.63 or more. A digit cut in two must keep both pieces: over 100 files (193 such
# digits) those three come within a pixel of the box both pieces make, while keeping the largest piece alone
# misses it by up to 13 pixels and fails on 94 of the files, and a crop to the heaviest run of inked rows and
# columns instead of finding pieces (an adversarial review) on 99.
SPECKS_MOVE = 0.3


@depends_on(test_prepare_image_size_aspect, earns="leaving specks out (once the digit itself is laid out right)")
def test_prepare_image_ignores_specks(student, mnist):
    for pair in ref.speckled_pictures(mnist, student.picture_seed):
        first = student.call("prepare_image", pair.clean, shown=pair.shown, expect="a prepared digit")
        clean = _valid(first, strict=False)
        if pair.in_two_pieces and pair.laid_out_hw and (box := ref.ink_box(clean)) and any(
                abs(got - want) > SIZE_TOLERANCE for got, want in zip(box, pair.laid_out_hw)):
            raise first.fail(
                f"got a digit {box[0]} pixels high and {box[1]} wide, where both of its pieces laid out make {pair.laid_out_hw[0]} x "
                f"{pair.laid_out_hw[1]}",
                "both pieces of the digit, each of them at least a quarter of its ink, laid out together",
                cause="a piece of the digit was taken for a speck: only the largest piece of ink was kept, or pieces were weighed "
                "against too high a bar",
                hint="a speck is far smaller than any piece of the digit: keep every piece that is not, as lesson 7 says a digit may "
                "come in more than one",
                contract="a speck apart from the digit (dust, a touch of the pen: a piece of ink that touches none of the digit's strokes and "
                "holds at most a twentieth of the digit's ink) is not the digit",
            )
        where = "one of them inside the digit's box, " if pair.inside else ""
        r = student.call("prepare_image", pair.speckled, shown=f"the same picture with {pair.specks} specks of ink, {where}each at least "
                         f"{pair.gap} pixels from the digit's strokes", expect="the same prepared digit as without the specks")
        out = _valid(r, strict=False)
        moved = float(np.abs(out / (float(out.max()) or 1.0) - clean / (float(clean.max()) or 1.0)).max())
        if moved <= SPECKS_MOVE:
            continue
        (h, w), (sh, sw) = ref.ink_box(clean) or (0, 0), ref.ink_box(out) or (0, 0)
        if max(sh, sw) > max(h, w) + 1 or (sh, sw) == (h, w):
            cause = "the specks were kept in the result: they count as ink of the digit"
        else:
            cause = ("the specks counted as the digit's ink: the crop grew to hold them, so the digit was shrunk to fit a box "
                     f"that holds them too ({sh} x {sw} pixels instead of {h} x {w}) and moved off its centre")
        raise r.fail(
            f"got a result that differs from the picture's without the specks by up to {moved:.2f} at a pixel",
            f"the same prepared digit (no pixel {SPECKS_MOVE:g} apart, of a strongest ink of 1): specks are not the digit",
            cause=cause,
            hint="before you crop, find the pieces of touching ink, as lesson 7 does on a small grid, and decide which of them are "
            "the digit: a speck is far smaller than the digit's strokes",
            contract="a speck apart from the digit (dust, a touch of the pen: a piece of ink that touches none of the digit's strokes and "
            "holds at most a twentieth of the digit's ink) is not the digit",
        )


# A pencil digit's strongest ink, in levels below its paper: well above the contract's bar of 32 for "no digit"
PENCIL = 40


@depends_on(test_prepare_image_inverted, earns="validating its input")
def test_prepare_image_rejects_bad_input(student, mnist):
    gray = ref.pictures(mnist, student.picture_seed)[0].image
    rng = np.random.default_rng([student.picture_seed, 2])
    noisy_blank = np.clip(np.round(rng.normal(240, 2, (60, 50))), 233, 247).astype(np.uint8)
    # the bar's two sides, each far enough from 32 that no arithmetic (0..255 or [0, 1], float32 or float64) puts
    # it on the other: a smudge 20 levels darker than the paper is no digit, a pencil digit 40 darker is one
    smudged_blank = noisy_blank.copy()
    row, col = (int(v) for v in rng.integers(10, 40, 2))
    smudged_blank[row : row + 4, col : col + 4] = 220
    bar = {"hint": "raise when, and only when, no pixel is 32 or more levels darker than the paper, on the 0..255 scale",
           "contract": "if it shows no digit: no pixel is darker than the paper by 32 or more (on the 0..255 scale)"}
    cases = [
        (gray.astype(np.float32) / 255, "the first photo as float32 in [0, 1]", "ValueError: only uint8 pictures"),
        # whole numbers 0..255 too, but not uint8: a test of "is an integer" is not the contract's
        (gray.astype(np.uint16), "the first photo as uint16 (the same values 0..255)", "ValueError: only uint8 pictures"),
        (gray[0], f"one row of a picture, shape {gray[0].shape}", "ValueError: the shape must be (H, W), (H, W, 3) or (H, W, 4)"),
        (np.stack([gray, gray], axis=-1), f"a picture with 2 channels, shape {gray.shape + (2,)}", "ValueError: 2 channels are none of gray, RGB, RGBA"),
        (gray[None, :, :, None].repeat(3, axis=-1), f"a batch of one RGB picture, shape {(1,) + gray.shape + (3,)}", "ValueError: one picture at a time"),
        (np.full((60, 50), 255, np.uint8), "a blank white page, np.full((60, 50), 255, np.uint8)", "ValueError: no digit"),
        (np.full((60, 50), 128, np.uint8), "a uniformly gray page, np.full((60, 50), 128, np.uint8)", "ValueError: no digit"),
        (noisy_blank, "a blank page with faint scanner noise (gray 233..247, nothing 32 levels darker than the paper)", "ValueError: no digit"),
    ]
    for image, shown, expect in cases:
        r = student.call("prepare_image", image, shown=shown, expect=expect)
        hint = (
            "after subtracting the paper level, a page whose strongest ink is below 32 holds no digit: raise ValueError before cropping"
            if "no digit" in expect
            else "check image.dtype and image.shape before converting anything"
        )
        r.expect_raises(
            "ValueError",
            hint=hint,
            contract="Raises ValueError if `image` is not uint8, if its shape is none of the three above, or if it shows no digit",
        )
    r = student.call("prepare_image", smudged_blank, shown=f"that blank page with a smudge of gray 220 at rows {row}..{row + 3}, "
                     f"columns {col}..{col + 3} (20 levels darker than the paper)", expect="ValueError: no digit")
    r.expect_raises("ValueError", cause="a bar for \"no digit\" below the contract's 32 levels: this smudge is 20 levels darker "
                    "than its paper", **bar)
    faint = ref.in_pencil(gray, PENCIL)
    r = student.call("prepare_image", faint, shown=f"the first photo redrawn in pencil: paper 230, its strongest ink {PENCIL} levels darker",
                     expect="the digit prepared: a float32 array of shape (28, 28) with its ink")
    if r.outcome.status == "raised" and r.outcome.exc_type == "ValueError":
        raise r.fail(
            f"It raised ValueError: {r.outcome.exc_message}",
            cause=f"a bar for \"no digit\" above the contract's 32 levels: this digit's strongest ink is {PENCIL} levels darker than "
            "its paper (a bar of half the scale, 0.5 on [0, 1], refuses every light pencil)",
            **bar,
        )
    if not _valid(r, strict=False).any():  # its dtype and range are prepare_image_shape_dtype's to judge
        raise _no_ink(r, "the faint digit, light on a background of 0")


@depends_on(test_prepare_image_inverted, earns="leaving its input untouched")
def test_prepare_image_leaves_input(student, mnist):
    for picture in _sample(student, mnist, few=True):
        r = _prepared(student, picture)
        (after,) = r.args_after
        if not np.array_equal(after, picture.image):
            raise r.fail(
                "afterwards the caller's picture had changed",
                "the input left untouched",
                cause="an in-place operation on the input (image[...] = ..., image -= ...)",
                hint="work on a converted copy: astype returns a new array, while writing into image changes the caller's photo",
                contract="The input is not modified",
            )
