"""ex01's check of normalize(), and its messages (collected by grader/checks/ex01_preprocessing.py).

normalize() is lesson 1's scaling written as a function: one point, for its whole contract, judged in the
order a student would meet the parts (shape and dtype, the values, the input left alone, the refusal), each
part with its own message.
"""

import numpy as np


def _normalized(student, mnist):
    x = mnist.x_train[:5]
    r = student.call("normalize", x, shown="x_train[:5]", expect="a float32 array of shape (5, 28, 28) in [0, 1]")
    return x, r


def _shape_dtype(student, mnist):
    x, r = _normalized(student, mnist)
    out = r.array()
    if out.shape != x.shape:
        raise r.fail(
            f"got shape {out.shape}",
            cause="a reshape or flatten inside normalize()" if out.size == x.size else "",
            hint="scaling changes the values only; keep the shape",
        )
    if out.dtype != np.float32:
        if out.dtype == np.float64:
            cause = "numpy turns uint8 / 255 into float64 unless told otherwise"
        elif out.dtype.kind in "ui":
            cause = "the pixels were never converted to floats (or // was used)"
        else:
            cause = ""
        raise r.fail(f"got dtype {out.dtype}", cause=cause, hint="convert with .astype(np.float32)")


def _normalize_dim_batch(student, mnist):
    """The contract's look-alike: a batch whose brightest pixel is below 255 tells dividing
    by 255 from dividing by the batch's own maximum (both agree on a batch that reaches 255)."""
    dim = mnist.x_train[:5] // 2  # brightest pixel 127
    r = student.call("normalize", dim, shown="x_train[:5] // 2 (a dim batch: its brightest pixel is 127)",
                     expect="a float32 array of shape (5, 28, 28), each pixel / 255 (so at most 127/255 ≈ 0.498)")
    out = r.array()
    expected = dim.astype(np.float64) / 255
    if out.shape == dim.shape and np.allclose(out.astype(np.float64), expected, atol=1e-6):
        return
    top = float(out.max()) if out.size else 0.0
    raise r.fail(
        f"got values up to {top:g}",
        f"values up to {expected.max():g} (127 / 255)",
        cause="the pixels were divided by the batch's brightest pixel (or stretched to fill [0, 1]) rather than by 255"
        if np.isclose(top, 1.0) else "a scaling that depends on the batch rather than on the pixel's fixed range 0..255",
        hint="divide every pixel by 255, whatever the batch holds: a dim image must stay dim",
    )


def _values(student, mnist):
    x, r = _normalized(student, mnist)
    out = r.array()
    if out.shape != x.shape:
        raise r.fail(f"got shape {out.shape}, so the values cannot be compared")
    out = out.astype(np.float64)
    expected = x.astype(np.float64) / 255
    if np.allclose(out, expected, atol=1e-6):
        _normalize_dim_batch(student, mnist)
        return
    top = float(out.max())
    if top > 1.5:
        raise r.fail(
            f"got values up to {top:g}",
            "values in [0, 1]",
            cause="the pixels were not divided by 255",
            hint="convert to float32 and divide every pixel by 255",
        )
    if 0 < top <= 1 / 200:
        raise r.fail(
            f"got values up to {top:.5f}",
            "values up to 1.0",
            cause="the pixels were scaled twice (divided by 255 two times)",
            hint="divide by 255 once, in one place",
        )
    if np.allclose(out, x / 256, atol=1e-6):
        raise r.fail(
            "got pixel / 256", "pixel / 255", cause="the wrong divisor: 255 is the largest uint8 value", hint="divide by 255, so that white becomes exactly 1.0"
        )
    if top == 0:
        raise r.fail(
            "got all zeros",
            cause="integer division (//), or dividing before converting to float",
            hint="convert with .astype(np.float32) first, then divide by 255",
        )
    where = tuple(int(i) for i in np.argwhere(~np.isclose(out, expected, atol=1e-6))[0])
    raise r.fail(
        f"got {out[where]:g} at index {where}",
        f"{expected[where]:g} (pixel {x[where]} / 255)",
        cause="a transformation beyond scaling (clipping, rounding, standardizing with the mean)",
        hint="normalize only divides each pixel by 255",
    )


def _leaves_input(student, mnist):
    x, r = _normalized(student, mnist)
    (after,) = r.args_after
    if not np.array_equal(after, x):
        raise r.fail(
            "afterwards the caller's array had changed",
            "the input left untouched",
            cause="an in-place operation on the input (images /= 255, images[...] = ...)",
            hint="build a new array: converting the dtype with astype makes a copy, while writing into images changes the caller's data",
            contract="the input is not modified",
        )


def _rejects_non_uint8(student, mnist):
    x = mnist.x_train[:5]
    for bad, shown in (
        (x.astype(np.float32) / 255, "x_train[:5].astype('float32') / 255 (already scaled)"),
        (x.astype(np.int64) * 257, "x_train[:5].astype('int64') * 257 (int64, values up to 65535)"),
    ):
        r = student.call("normalize", bad, shown=shown, expect="ValueError: only uint8 pixels may be normalized")
        r.expect_raises(
            "ValueError",
            hint="check images.dtype == np.uint8 first; normalizing twice is a classic silent bug",
            contract="Raises ValueError if `images` is not uint8 (this catches scaling twice)",
        )


def test_normalize_values(student, mnist):
    for part in (_shape_dtype, _values, _leaves_input, _rejects_non_uint8):
        part(student, mnist)
