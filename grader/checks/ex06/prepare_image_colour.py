"""ex06's check of prepare_image() on colour pictures, and its messages (collected by grader/checks/ex06_real_use.py):
each colour form of one photo drawn for the file must prepare as the same picture in gray does."""

from __future__ import annotations

import numpy as np

from grader.references import ex06_real_use as ref  # the pictures, the contract's gray and the two-pen pictures
from grader.scoring import depends_on
from grader.checks.ex06.common import _valid
from grader.checks.ex06.prepare_image import test_prepare_image_inverted


def _one_picture_in_colour(mnist, seed: int):
    """One photo drawn for the file, in six colour forms, without noise: RGB (blue-black ink on tinted
    paper), the same with an alpha of 255 everywhere (as many apps save a PNG), black and blue ink on a
    transparent background (an adversarial review took alpha for the ink, which only the black one on
    transparent tells nothing), and RGB written with two pens, twice (ref.PEN_PAIRS: only the contract's
    gray sees both pairs' inks alike). Each must prepare as the same picture in gray does (`ref.in_gray`):
    the same contrast, so that a step that depends on it (a fixed ink threshold) prepares both alike."""
    rng = np.random.default_rng([seed, 1])
    i = int(rng.integers(len(mnist.x_test)))
    ink = ref.photo_ink(mnist.x_test[i], 3.0)
    sheet, size = ref.placed_on_sheet(ink, rng)
    label = int(mnist.y_test[i])
    rgb = ref.colour_paper(sheet, rng, noise=0)
    return (
        (rgb, f"x_test[{i}] (a {label}) re-saved dark on light in RGB (blue-black ink on tinted paper), {size}×3"),
        (ref.opaque(rgb), f"the same RGB picture with an alpha channel of 255 everywhere (an opaque PNG), {size}×4"),
        (ref.transparent(sheet), f"the same digit in RGBA: black ink on a transparent background (transparent pixels are (0, 0, 0, 0)), {size}×4"),
        (ref.transparent(sheet, (30, 40, 160)), f"the same digit in RGBA: blue ink (30, 40, 160) on a transparent background, {size}×4"),
        *((ref.in_two_inks(sheet, inks), f"the same digit in RGB, written with two pens on white paper: its upper half in {inks[0]}, its "
                                         f"lower half in {inks[1]}, {size}×3 (the contract's gray sees both inks {_darkness(ref.GRAY, inks)} levels "
                                         "darker than the paper)") for inks in ref.PEN_PAIRS),
    )


MEAN, GREEN = (1 / 3, 1 / 3, 1 / 3), (0, 1, 0)  # two of the grays a two-pen picture tells from the contract's


def _darkness(weights, inks) -> str:
    """How many levels darker than white paper a gray of these weights sees each ink, as words."""
    return " and ".join(str(round(float(np.dot(weights, 255 - np.array(ink))))) for ink in inks)


# Of the digit's ink. Measured on 300 files (benchmarks/COLOUR.md): the reference's largest is 0.0034, and a
# fixed ink threshold's 0.012; the smallest of a plain mean of the channels is 0.076, and of grays nearer the
# contract's, Rec. 709's 0.030 and (R + 2 G + B) / 4's 0.027 (caught on 299 files of 300).
APART = 0.03


def _ink_apart(out: np.ndarray, reference: np.ndarray) -> float:
    """How far two prepared digits are apart, as a fraction of the reference's ink: the larger of the ink that
    one has and the other lacks within one pixel (its 3 x 3 neighbourhood), each way. A stroke moved by one
    pixel costs nothing (a picture's gray on another scale can move the crop by a pixel, and with it the whole
    digit); a stroke missing or added costs its ink, and one at another strength than the rest of the digit
    costs the difference where it exceeds its neighbours' (along its ridge, more on a thick stroke)."""
    from scipy import ndimage  # the grader's side, imported where it is used: every grading collects this module

    def grown(a: np.ndarray) -> np.ndarray:
        return ndimage.maximum_filter(a, size=3, mode="constant", cval=-np.inf)

    missing = float(np.clip(reference - grown(out), 0, None).sum())
    added = float(np.clip(out - grown(reference), 0, None).sum())
    # Ink is what is above 0: a background below 0 (a review set it to -1) would otherwise count as ink here.
    return max(missing, added) / (float(np.clip(reference, 0, None).sum()) or 1.0)


@depends_on(test_prepare_image_inverted, earns="treating colour pictures like gray ones")
def test_prepare_image_colour(student, mnist):
    # Treating colour like gray counts once the function prepares a digit at all.
    for image, shown in _one_picture_in_colour(mnist, student.picture_seed):
        in_gray = student.call("prepare_image", ref.in_gray(image), shown=f"{shown}, in gray: 0.299 R + 0.587 G + 0.114 B, transparent "
                               "as white, rounded to uint8", expect="a float32 array of shape (28, 28)")
        reference = _valid(in_gray, strict=False)
        r = student.call("prepare_image", image, shown=shown, expect="the same prepared digit as for the picture in gray")
        rgba = image.shape[-1] == 4
        opaque = rgba and bool((image[..., 3] == 255).all())
        alpha_hint = "lay the picture over white first: gray * alpha + 255 * (1 - alpha), with alpha = A / 255"

        def alpha_cause(so: str) -> str:
            if opaque:
                return "the alpha channel was taken for the ink: in an opaque picture alpha is 255 everywhere, and the ink is in the colour channels"
            return f"the alpha channel was ignored: a transparent pixel's colour values are (0, 0, 0), black, so {so}"

        o = r.outcome
        if rgba and o.status == "raised" and o.stage == "call" and o.exc_type != "NotImplementedError":
            where = f" at {o.where}" if o.where else ""
            raise r.fail(f"it raised {o.exc_type}: {o.exc_message}{where}", cause=alpha_cause("the whole picture looks like ink and no paper is left"),
                         hint=alpha_hint)
        out = _valid(r, strict=False)
        # Compared at the same scale: an unscaled result is prepare_image_shape_dtype's business.
        apart = _ink_apart(out / (float(out.max()) or 1.0), reference / (float(reference.max()) or 1.0))
        if apart <= APART:
            continue
        gray_hint = "0.299 R + 0.587 G + 0.114 B: a matrix product with the last axis, image[..., :3] @ weights"
        if rgba:
            cause, hint = alpha_cause("the paper turned into ink"), alpha_hint
        elif "two pens" in shown:
            inks = next(pair for pair in ref.PEN_PAIRS if str(pair[0]) in shown)
            cause = ("the colour channels were weighed otherwise than the contract's gray: to it both inks are about equally dark, "
                     "and to other weights one of them is darker than the other (a plain mean of R, G and B sees them "
                     f"{_darkness(MEAN, inks)} levels darker than the paper, green alone {_darkness(GREEN, inks)})")
            hint = gray_hint
        else:
            cause, hint = "the colour channels were not combined into one gray level", gray_hint
        raise r.fail(
            f"got a digit that differs in {apart:.0%} of its ink from the one the same picture in gray gives (strokes moved by one pixel forgiven)",
            f"the same prepared digit as from the picture in gray (at most {APART:.0%} of its ink different)",
            cause=cause,
            hint=hint,
        )
