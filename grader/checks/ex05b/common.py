"""What several of ex05b's check modules share: the tolerance, the variant's dilation and pool, how a case is called."""

from __future__ import annotations

from grader import variants
from grader.references import ex05b_conv_by_hand as ref  # the seeded cases and what Keras's layers compute on them


# float32 tolerance: sums of up to 75 products of standard-normal numbers,
# each rounded to float32 by Keras (and perhaps by the student)
_RTOL, _ATOL = 1e-4, 1e-4


# The first variant's numbers: what an exercise without a variant table would ask.
_DEFAULT = {"dilation": 1, "pool": 2}
_MISMATCH_CAUSE = ("your code leaves DILATION or POOL out, or the two numbers at the top of your file are not your variant's "
                   "(the file starts with the first variant's), or the file was written for another variant: a classmate's, "
                   "or your own under another student id")


def _params(variant) -> dict:
    return {**_DEFAULT, **(variant.params if variant else {})}


def _other_variant(student, mine, answers):
    """What to raise where what came back is exactly another variant's answer (`answers(params)` says
    whether it is): grader/variants.py `told_apart`, else None."""
    return variants.told_apart(student.exercise, mine, lambda v: answers(_params(v)), cause=_MISMATCH_CAUSE)


def _dilated(dilation: int) -> str:
    """What the messages add to Conv2D's settings: nothing for the lesson's plain convolution."""
    return "" if dilation == 1 else f", dilation_rate={dilation}"


def _layer(case: ref.Case) -> str:
    return "keras.layers.Conv2D" if case.dilation == 1 else f"keras.layers.Conv2D(dilation_rate={case.dilation})"


def _call(student, case: ref.Case):
    return student.call(
        "conv2d",
        case.x,
        case.kernels,
        case.bias,
        shown=case.shown,
        expect=f"a float32 array of shape {case.expected_shape}, equal to {_layer(case)}'s output with these weights",
        stride=case.stride,
        padding=case.padding,
    )
