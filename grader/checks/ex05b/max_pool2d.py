"""ex05b's check of max_pool2d(), and its messages."""

from __future__ import annotations

import numpy as np

from grader.feedback import short
from grader.references import ex05b_conv_by_hand as ref  # the seeded cases and what Keras's layers compute on them
from grader.checks.ex05b.common import _other_variant, _params


def _pooling(p: int) -> str:
    """The Keras layer a variant's max_pool2d computes, as the messages name it."""
    return "MaxPooling2D()" if p == 2 else f"MaxPooling2D({p})"


def _pool_cause(out, x, expected, p) -> tuple[str, str]:
    n, h, w, c = x.shape
    block = f"x[:, {p}i:{p}i+{p}, {p}j:{p}j+{p}]"
    if out.shape == (n, h - p + 1, w - p + 1, c):
        return (f"every {p} x {p} window, overlapping (stride 1); {_pooling(p)} moves by {p}", f"block (i, j) is {block}")
    if out.shape == (n, -(-h // p), -(-w // p), c):
        if p == 2:
            return ("the odd last row or column got a block of its own (that is padding='same'); Keras leaves it out",
                    "cut the image to an even height and width first")
        return ("the last rows or columns got a block of their own (that is padding='same'); Keras leaves them out",
                f"cut the image to a multiple of {p} in height and width first")
    if out.shape == (n, h // p, w // p):
        return ("the channels were pooled together", "each channel is pooled on its own")
    if out.shape != expected.shape:
        return ("", f"the output is (N, H // {p}, W // {p}, C)")
    crop = x[:, : h // p * p, : w // p * p].astype(np.float64).reshape(n, h // p, p, w // p, p, c)
    if np.allclose(out, np.maximum(expected, 0)):
        return ("the running maximum started at 0, so with negative values 0 wins",
                "start from the block's first value (or -inf), not from 0")
    if np.allclose(out, crop.mean(axis=(2, 4)), atol=1e-5):
        return ("the blocks were averaged (that is AveragePooling2D)", f"keep the largest of the {'four' if p == 2 else p * p} values")
    if np.allclose(out, crop.transpose(0, 1, 4, 3, 2, 5).max(axis=(2, 4)), atol=1e-5):
        return ("rows and columns mixed up in the reshape", f"reshape to (N, H // {p}, {p}, W // {p}, {p}, C) and take the maximum over axes 2 and 4")
    return ("", f"out[n, i, j, c] is the largest of {block.replace('x[:,', 'x[n,').replace(']', ', c]')}")


def _answers_another_pool(out, x, params: dict) -> bool:
    """Is `out` what max_pool2d gives on `x` with another variant's pool (`params`)?"""
    theirs = ref.max_pooled(x, params["pool"])
    return theirs is not None and theirs.shape == out.shape and np.allclose(out, theirs, rtol=0, atol=1e-6)


def test_max_pool2d_values(student, variant):
    p = _params(variant)["pool"]
    for x, situation in ref.pool_inputs():
        n, h, w, c = x.shape
        shape = (n, h // p, w // p, c)
        r = student.call("max_pool2d", x, shown=f"x (seeded random, shape {x.shape})",
                         expect=f"a float32 array of shape {shape}, equal to keras.layers.{_pooling(p)}'s output")
        out = r.array()
        expected = ref.max_pooled(x, p)
        if out.shape != shape or not np.allclose(out, expected, rtol=0, atol=1e-6):
            if other := _other_variant(student, variant, lambda v: v["pool"] != p and _answers_another_pool(out, x, v)):
                raise other(r, f"got shape {out.shape} ({situation})" if out.shape != shape else f"got different values ({situation})")
        if out.shape != shape:
            cause, hint = _pool_cause(out, x, np.zeros(shape), p)
            raise r.fail(f"got shape {out.shape} ({situation})", cause=cause, hint=hint)
        if not np.allclose(out, expected, rtol=0, atol=1e-6):
            cause, hint = _pool_cause(out.astype(np.float64), x, expected, p)
            i = tuple(int(v) for v in np.argwhere(~np.isclose(out, expected, rtol=0, atol=1e-6))[0])
            raise r.fail(
                f"got out{list(i)} = {float(out[i]):.5g} ({situation}); that block holds {short(x[i[0], p * i[1]:p * i[1] + p, p * i[2]:p * i[2] + p, i[3]])}",
                f"{float(expected[i]):.5g}, as keras.layers.{_pooling(p)} computes",
                cause=cause, hint=hint,
            )
        if out.dtype != np.float32:
            raise r.fail(f"got dtype {out.dtype} ({situation})", cause="np.zeros() makes float64 unless told otherwise" if out.dtype == np.float64 else "",
                         hint="return a float32 array")
