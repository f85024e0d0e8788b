"""Exercise 05b · A convolution by hand: the graded checks.

Each test is one check; its points, function, hints and lesson section live in
course.toml under the same name (without "test_"). The student's conv2d and
max_pool2d are compared with what Keras's layers compute (Conv2D with the
student's kernels and bias set as its weights, MaxPooling2D): the reference is
SciPy's float64 cross-correlation and maximum filter (`Case.expected`,
`max_pooled` in grader/references/ex05b_conv_by_hand.py, `ref` here), which
tests/test_references.py holds equal to real Keras layers on every case below;
scipy.ndimage is far lighter to import than Keras or TensorFlow, and the worker
refuses it, so a student cannot paste it. The variants below compute the classic mistakes
(a flipped kernel, the odd padding row on top, ...) only to name the likely
cause of a mismatch.

Each student has a variant (course.toml: the kernels' DILATION and the pool's
side POOL, two numbers at the top of the file), and every check grades that
one. An answer that is exactly another variant's (a classmate's file, or the
file's numbers left at the first variant's) fails with the message that names
both variants (grader/variants.py `told_apart`), never "your code is wrong".

The checks' sizes, as course.toml states them: batches of N = 2 seeded
standard-normal float32 images of 7 x 9, 8 x 6, 9 x 8 or 6 x 7 pixels (then
grown by the kernel's size - 1, `ref.GROWTH`, the same for every variant) with
C_in = 1 or 3 channels, kernels from 1 x 1 to 5 x 5 (odd and even, square and
not) with C_out = 1 or 4 filters, strides 1, 2 and 3; pools of (2, 7, 9, 3)
and smaller. A pure-Python loop over every output value, window position
and channel (tests/test_alternatives.py's ex05b_loops) answers the largest of
these calls in about 3 ms of its own CPU time, and all of them in 0.02 s: far
inside the exercise's call_timeout_s.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from grader import variants
from grader.feedback import describe, short
from grader.references import ex05b_conv_by_hand as ref  # the seeded cases and what Keras's layers compute on them
from grader.scoring import depends_on

# float32 tolerance: sums of up to 75 products of standard-normal numbers,
# each rounded to float32 by Keras (and perhaps by the student)
_RTOL, _ATOL = 1e-4, 1e-4


# ---------------------------------------------------------------- variants

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


# ---------------------------------------------------------------- cases


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


# ---------------------------------------------------------------- conv_output_size


def _size_cause(got, size, kernel, stride, padding, dilation) -> tuple[str, str]:
    if padding == "valid" and dilation > 1 and got == (size - kernel * dilation) // stride + 1:  # before "+ 1 missing"
        return (f"the span taken as kernel * DILATION = {kernel * dilation}; a kernel of {kernel} taps, {dilation} apart, "
                f"spans (kernel - 1) * DILATION + 1 = {ref.span(kernel, dilation)} positions",
                "count the positions from the first tap to the last: there are kernel - 1 gaps of DILATION between them")
    kernel = ref.span(kernel, dilation)  # below, what matters is the positions the kernel spans
    f = "" if dilation == 1 else ", F being the kernel's span"
    if padding == "same":
        if got == size // stride:
            return ('rounded down; Keras\'s "same" rounds up: ceil(size / stride)',
                    "round a division up in integers: -(-size // stride), or math.ceil(size / stride)")
        if got == size:
            return ("the stride was ignored", 'with a stride, "same" keeps ceil(size / stride) positions, not size')
        p = (kernel - 1) // 2
        if got == (size - kernel + 2 * p) // stride + 1:
            return ('the formula (W - F + 2P) / S + 1 with P = (F - 1) // 2, which is Keras\'s "same" only for stride 1 and odd kernels',
                    'Keras\'s "same" promises ceil(size / stride) positions, whatever the kernel')
        return ("", 'Keras\'s "same" promises ceil(size / stride) positions, whatever the kernel')
    if got == (size - kernel) // stride:
        return ("the + 1 is missing: the kernel's first position counts too", f"(W - F) // S + 1 with P = 0{f}")
    if got == math.ceil((size - kernel) / stride) + 1:
        return ("rounded up; a position counts only where the whole kernel fits, so round down",
                "integer division // rounds down")
    if got == size - kernel + 1:
        return ("the stride was ignored", "divide by the stride: (W - F) // S + 1")
    return ("", 'with "valid" there is no padding: P = 0 in (W - F + 2P) / S + 1, rounded down')


def test_conv_output_size_values(student, variant):
    dilation = _params(variant)["dilation"]
    for size, kernel, stride, padding in ref.size_cases():
        expected = ref.output_size(size, kernel, stride, padding, dilation)
        r = student.call("conv_output_size", shown="", expect=f"{expected}", size=size, kernel=kernel, stride=stride, padding=padding)
        got = r.value
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer, float, np.floating)):
            raise r.fail(f"got {describe(got)}", f"the int {expected}", hint="return one int, the number of positions")
        if got != expected:
            if other := _other_variant(student, variant, lambda v: got == ref.output_size(size, kernel, stride, padding, v["dilation"])):
                raise other(r, f"got {got!r}")
            cause, hint = _size_cause(got, size, kernel, stride, padding, dilation)
            raise r.fail(f"got {got!r}", cause=cause, hint=hint)
        if not isinstance(got, (int, np.integer)):
            raise r.fail(f"got {describe(got)}", f"the int {expected}",
                         cause="the / operator, or np.ceil and np.floor, give floats",
                         hint="use integer division //, or int(...) around the result")


SIZE_REJECTS = (
    'Raises ValueError if size, kernel or stride is below 1, if padding is neither "valid" nor "same", or if a '
    '"valid" kernel\'s span is longer than the input'
)


@depends_on(test_conv_output_size_values, earns="validating its input")
def test_conv_output_size_rejects_bad_input(student, variant):
    dilation = _params(variant)["dilation"]
    cases = [
        (0, 3, 1, "valid", "size=0"), (28, 0, 1, "valid", "kernel=0"), (28, 3, 0, "same", "stride=0"),
        (28, 3, -2, "valid", "stride=-2"), (28, 3, 1, "full", "padding='full'"), (3, 5, 1, "valid", "a 'valid' kernel of 5 on 3 positions"),
    ]
    if dilation > 1:  # taps that fit side by side, but not DILATION apart
        span = ref.span(3, dilation)
        cases.append((span - 1, 3, 1, "valid", f"a 'valid' kernel of 3 taps, spanning {span} positions with DILATION = {dilation}, on {span - 1}"))
    for size, kernel, stride, padding, situation in cases:
        r = student.call("conv_output_size", shown="", expect=f"ValueError ({situation})", size=size, kernel=kernel, stride=stride, padding=padding)
        r.expect_raises("ValueError", hint="check the arguments first and raise ValueError saying which one is wrong", contract=SIZE_REJECTS)


# ---------------------------------------------------------------- conv2d: what went wrong


def _shape_cause(shape, case: ref.Case) -> tuple[str, str]:
    """(likely cause, hint) for an output of the wrong shape."""
    n, h, w, c_in, kh, kw, c_out = case.dims
    s, p = case.stride, case.padding
    full = (case.out_size(h, kh, 1), case.out_size(w, kw, 1))
    strided = (case.out_size(h, kh), case.out_size(w, kw))
    valid = (case.out_size(h, kh, padding="valid"), case.out_size(w, kw, padding="valid"))
    if len(shape) == 5:
        return ("the input channels were kept as an axis of their own instead of being added up",
                "each filter's output adds the contributions of every input channel: sum over c too")
    if len(shape) != 4:
        return ("", "one output image per input image, with one channel per filter: (N, out_h, out_w, C_out)")
    if p == "same" and case.dilation > 1:
        taps = case.convolved(pads=[case.same_pads(h, kh, dilation=1), case.same_pads(w, kw, dilation=1)])
        if taps is not None and tuple(shape) == taps.shape:
            return (f'"same" padding worked out from the kernel\'s taps, not from its span: with DILATION = {case.dilation} '
                    f"a {kh} x {kw} kernel spans {ref.span(kh, case.dilation)} x {ref.span(kw, case.dilation)} pixels",
                    "pad max((out - 1) * stride + span - size, 0) in all along each axis, span = (k - 1) * DILATION + 1")
    if shape[3] == c_in != c_out:
        return ("the sum ran over the filters (kernels' last axis) and kept the input channels",
                "filter o is kernels[:, :, :, o]: sum over the window and over the input channels c, once per filter")
    if shape[3] == c_in * c_out != c_out:
        return ("every (input channel, filter) pair got its own output channel: the input channels were not added up",
                "filter o's output is the sum over every input channel c of the window times kernels[:, :, c, o]")
    if s > 1 and tuple(shape[1:3]) == full or (shape[1] > strided[0] and shape[2] > strided[1] and s > 1):
        return (f"the stride was ignored: the window moved one pixel at a time instead of {s}",
                "the window's top-left corner moves by `stride` rows and by `stride` columns")
    if s > 1 and (shape[1] == strided[0]) != (shape[2] == strided[1]) and max(shape[1] - strided[0], shape[2] - strided[1]) > 0:
        return ("the stride was applied along one axis only",
                "step by `stride` along the height and along the width")
    if p == "same" and tuple(shape[1:3]) == valid:
        return ('no padding: "same" was computed as "valid"',
                'with "same", pad the input with zeros first: the lesson gives the total padding along each axis')
    if tuple(shape[1:3]) == strided[::-1] and strided[0] != strided[1]:
        return ("height and width swapped", "x's axes are (N, H, W, C_in) and kernels' (kh, kw, C_in, C_out)")
    if p == "same" and tuple(shape[1:3]) == (h // s, w // s):
        return ('the output size was rounded down; Keras\'s "same" gives ceil(size / stride) positions',
                "conv_output_size's answer is the output size")
    return ("", "the output has conv_output_size's number of rows and columns, and one channel per filter")


def _value_cause(out, case: ref.Case) -> tuple[str, str]:
    """(likely cause, hint) for an output of the right shape but wrong values."""
    n, h, w, c_in, kh, kw, c_out = case.dims
    close = functools.partial(np.allclose, out, rtol=_RTOL, atol=_ATOL * max(1.0, float(np.abs(out).max())))
    flipped = case.kernels[::-1, ::-1]
    if close(case.convolved(kernels=flipped)):
        return ("the kernel was flipped (a true convolution, as in signal processing); Keras's Conv2D does not flip it: "
                "its \"convolution\" is a cross-correlation",
                "multiply the window's top-left pixel by kernels[0, 0, c, o], and so on: the same position in both")
    if case.padding == "same":
        k = "k" if case.dilation == 1 else "span"  # with a dilation, what pads is the kernel's span
        top_left = ("the odd padding row or column went to the top or left; TensorFlow puts it at the bottom and the right",
                    "with an odd total, put total // 2 zeros before the input and the rest after it")
        tl = [case.same_pads(h, kh, extra_first=True), case.same_pads(w, kw, extra_first=True)]
        if case.stride > 1:  # checked first: on some inputs it also looks like padding on the top or left
            once = case.convolved(pads=[case.same_pads(h, kh, 1), case.same_pads(w, kw, 1)], stride=1)[:, ::case.stride, ::case.stride]
            if once.shape == out.shape and close(once):
                cause = (f'"same" padding was worked out as for stride 1 ({k} - 1 zeros in all), then every stride-th value kept; '
                         f"with a stride the total padding is max((out - 1) * stride + {k} - size, 0)")
                if close(case.convolved(pads=tl)):  # on this input the two mistakes give the same numbers: say both
                    return (f"either {top_left[0]}, or {cause}", f"{top_left[1]}; compute the total from the strided output size")
                return (cause, "compute the padding from the strided output size, as the lesson's section does")
        if close(case.convolved(pads=tl)):
            return top_left
    if close(case.convolved(bias=np.zeros_like(case.bias))):
        return ("the bias was not added", "add bias[o] to every value of filter o's output")
    if c_in == c_out > 1 and close(case.convolved(kernels=case.kernels.transpose(0, 1, 3, 2))):
        return ("the kernels' channel axes were swapped: kernels[:, :, o, c] instead of kernels[:, :, c, o]",
                "kernels' axes are (kh, kw, C_in, C_out): the third is the input channel, the last the filter")
    if kh == kw and close(case.convolved(kernels=case.kernels.transpose(1, 0, 2, 3))):
        return ("the kernel's rows and columns were swapped", "kernels[a, b] is row a, column b of the window")
    if close(case.convolved(bias=case.bias * 0 + case.bias.sum())) and c_out > 1:
        return ("every filter got the sum of all the biases", "filter o gets bias[o] alone")
    if case.stride > 1 and close(case.convolved(stride=1)[:, : out.shape[1], : out.shape[2]]):
        return ("the output has the right size but the stride was not applied to the window's position",
                "the window of output (i, j) starts at row i * stride, column j * stride")
    return ("", "compare one output value by hand with the lesson's window sum; a loop over a single image, "
                "a single filter and stride 1 is the place to start")


def _answers_another_dilation(out, case: ref.Case, params: dict) -> bool:
    """Is `out` what conv2d gives on `case` with another variant's dilation (`params`)?"""
    if params["dilation"] == case.dilation:
        return False
    theirs = case.convolved(dilation=params["dilation"])
    return theirs is not None and theirs.shape == out.shape and np.allclose(out, theirs, rtol=_RTOL, atol=_ATOL * max(1.0, float(np.abs(theirs).max())))


def _check_conv(student, variant, specs, situation):
    for case in ref.cases(specs, _params(variant)["dilation"]):
        r = _call(student, case)
        out = r.array()
        if out.shape != case.expected_shape:
            if other := _other_variant(student, variant, functools.partial(_answers_another_dilation, out, case)):
                raise other(r, f"got shape {out.shape} ({situation})")
            cause, hint = _shape_cause(out.shape, case)
            raise r.fail(f"got shape {out.shape} ({situation})", cause=cause, hint=hint)
        expected = case.expected()
        scale = max(1.0, float(np.abs(expected).max()))
        if not np.allclose(out, expected, rtol=_RTOL, atol=_ATOL * scale):
            if other := _other_variant(student, variant, functools.partial(_answers_another_dilation, out.astype(np.float64), case)):
                raise other(r, f"got different values ({situation})")
            cause, hint = _value_cause(out.astype(np.float64), case)
            if not np.isfinite(out).all():
                cause, hint = "the output holds nan or inf: an uninitialised array (np.empty) or a division", "start from zeros"
            where = tuple(int(i) for i in np.argwhere(~np.isclose(out, expected, rtol=_RTOL, atol=_ATOL * scale))[0])
            raise r.fail(
                f"got out{list(where)} = {float(out[where]):.5g} ({situation})",
                f"{float(expected[where]):.5g}, as keras.layers.Conv2D({case.dims[6]}, {case.dims[4:6]}, strides={case.stride}, "
                f"padding={case.padding!r}{_dilated(case.dilation)}) computes with these kernels and bias",
                cause=cause,
                hint=hint,
            )


def test_conv2d_shape_dtype(student, variant):
    for case in ref.cases(ref.SHAPES, _params(variant)["dilation"]):
        r = _call(student, case)
        out = r.array()
        if out.shape != case.expected_shape:
            if other := _other_variant(student, variant, functools.partial(_answers_another_dilation, out, case)):
                raise other(r, f"got shape {out.shape}")
            cause, hint = _shape_cause(out.shape, case)
            raise r.fail(f"got shape {out.shape}", cause=cause, hint=hint)
        if out.dtype != np.float32:
            cause = "np.zeros() makes float64 unless told otherwise" if out.dtype == np.float64 else ""
            raise r.fail(f"got dtype {out.dtype}", cause=cause, hint="convert the result to float32 before returning it, or allocate the output array as float32 from the start")


def test_conv2d_one_channel(student, variant):
    _check_conv(student, variant, ref.ONE_CHANNEL, "one input channel, one filter, stride 1, padding 'valid'")


def test_conv2d_channels(student, variant):
    _check_conv(student, variant, ref.CHANNELS, "several input channels or filters, stride 1, padding 'valid'")


def test_conv2d_stride(student, variant):
    _check_conv(student, variant, ref.STRIDE, f"stride {ref.STRIDE[0][6]} or more, padding 'valid'")


def test_conv2d_same_padding(student, variant):
    _check_conv(student, variant, ref.SAME, "padding 'same'")


CONV_REJECTS = (
    'Raises ValueError if x or kernels is not 4-D, if kernels.shape[2] is not x\'s channel count, if bias is not of '
    'shape (C_out,), if stride is below 1, if padding is neither "valid" nor "same", or if a "valid" kernel\'s span is '
    "larger than the image"
)


@depends_on(test_conv2d_one_channel, earns="validating its input")
def test_conv2d_rejects_bad_input(student, variant):
    dilation = _params(variant)["dilation"]
    good = ref.cases([(7, 9, 3, 3, 3, 4, 1, "valid")], dilation)[0]
    x, k, b = good.x, good.kernels, good.bias
    cases = [
        (x[0], k, b, 1, "valid", f"x of shape {x[0].shape}: one image without its batch axis"),
        (x, k[:, :, :, 0], b, 1, "valid", "kernels of shape (3, 3, 3): not 4-D"),
        (x, k[:, :, :1], b, 1, "valid", "kernels for 1 input channel, x with 3"),
        (x, k, b[:1], 1, "valid", "bias of shape (1,) for 4 filters"),
        (x, k, b, 0, "valid", "stride=0"),
        (x, k, b, -1, "valid", "stride=-1"),
        (x, k, b, 1, "full", "padding='full'"),
        (x[:, :2, :2], k, b, 1, "valid", "a 3 x 3 kernel on 2 x 2 images with padding 'valid'"),
    ]
    if dilation > 1:  # a kernel that fits side by side, but not DILATION apart
        span = ref.span(3, dilation)
        cases.append((x[:, : span - 1, : span - 1], k, b, 1, "valid",
                      f"a 3 x 3 kernel spanning {span} x {span} pixels with DILATION = {dilation} on {span - 1} x {span - 1} images with padding 'valid'"))
    for xi, ki, bi, stride, padding, situation in cases:
        r = student.call(
            "conv2d", xi, ki, bi,
            shown=f"x of shape {xi.shape}, kernels of shape {ki.shape}, bias of shape {bi.shape}",
            expect=f"ValueError ({situation})",
            stride=stride, padding=padding,
        )
        r.expect_raises(
            "ValueError",
            hint="check the shapes, the stride and the padding first and raise ValueError with a message that says what is wrong",
            contract=CONV_REJECTS,
        )


# ---------------------------------------------------------------- max_pool2d


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


# ---------------------------------------------------------------- conv2d_backward
# Compared with the gradients TensorFlow takes back through Conv2D (`Case.gradients`, SciPy's, which
# tests/test_references.py holds equal to tf.GradientTape's and to finite differences on every case).

_GRADIENTS = ("dx", "dkernels", "dbias")


def _situation(case: ref.Case) -> str:
    n, h, w, c_in, kh, kw, c_out = case.dims
    filters = "1 filter" if c_out == 1 else f"{c_out} filters"
    return f"{n} images of {h} x {w} x {c_in}, {filters} of {kh} x {kw}, stride {case.stride}, padding {case.padding!r}"


def _forward_of_another_variant(student, variant, r, function: str, case, got: str) -> None:
    """Raise the message that names both variants where the file's own forward pass (`function` on
    `case`, a conv2d Case or max_pool2d's x) is another variant's: a backward pass is handed a dout
    of its variant's shape, which another variant's file may refuse, or compute nothing sensible from."""
    if function == "conv2d":
        forward = _call(student, case)
        answers = functools.partial(_answers_another_dilation, forward.value.astype(np.float64) if forward.outcome.status == "returned"
                                    and isinstance(forward.outcome.value, np.ndarray) else np.zeros(0), case)
    else:
        forward = student.call("max_pool2d", case, shown=f"x (shape {case.shape})", expect="")
        out = forward.outcome.value if forward.outcome.status == "returned" and isinstance(forward.outcome.value, np.ndarray) else np.zeros(0)
        answers = lambda v: v["pool"] != _params(variant)["pool"] and _answers_another_pool(out, case, v)
    if other := _other_variant(student, variant, answers):
        raise other(r, got)


def _backward(student, case: ref.Case, variant, own_time_limit=None):
    """conv2d_backward on `case`: its call and the three things it returned (or the Feedback that
    says why there are not three)."""
    dout = case.dout()
    r = student.call(
        "conv2d_backward", case.x, case.kernels, dout,
        shown=(f"x (seeded random, shape {case.x.shape}), kernels (shape {case.kernels.shape}), dout (seeded random, shape {dout.shape})"
               if case.seed == ref.SEED else f"x, kernels and dout drawn for this grading, of shapes {case.x.shape}, {case.kernels.shape} "
               f"and {dout.shape}"),
        expect=f"(dx, dkernels, dbias), float32 arrays of shapes {case.x.shape}, {case.kernels.shape}, {case.bias.shape}: the "
        f"gradients tf.GradientTape takes back through {_layer(case)}" + (f", within {own_time_limit:g} s" if own_time_limit else ""),
        stride=case.stride, padding=case.padding, own_time_limit=own_time_limit,
    )
    if own_time_limit and r.outcome.status == "timeout":
        unknowns = "pixel of x" if case.x.size > case.kernels.size else "weight of the kernels"
        raise r.fail(
            f"It had not returned after {own_time_limit:g} s of its own time (stopped)",
            f"the gradients in well under a second: backpropagation costs about what the forward pass costs (the reference takes "
            f"a few ms here, loops over every output value and tap in Python under a second)",
            cause=f"gradients worked out by finite differences, nudging each {unknowns} ({max(case.x.size, case.kernels.size):,} here) "
            "and running the forward pass twice for each; or, for each pixel or weight, a pass over every output value",
            hint="derive each gradient with the chain rule, as lesson 5 does along one axis: go through the forward pass's windows "
            "once, and send each output's dout back to the pixels and weights that made it",
            contract="They cost about what the forward pass costs",
        )
    if r.outcome.status != "returned":  # dout's shape is the variant's: another's file may refuse it
        _forward_of_another_variant(student, variant, r, "conv2d", case, f"it raised {r.outcome.exc_type} on a dout of your "
                                    "variant's shape, and your conv2d's output on the same x and kernels is")
    value = r.value
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise r.fail(f"got {describe(value)}", cause="" if value is not None else "a missing `return`", hint="return dx, dkernels, dbias")
    return r, value


def _gradient(student, variant, r, value, name: str, case: ref.Case) -> np.ndarray:
    """The gradient `name` of what conv2d_backward returned: an array of its shape, or a Feedback."""
    part, shape = value[_GRADIENTS.index(name)], (case.x.shape, case.kernels.shape, case.bias.shape)[_GRADIENTS.index(name)]
    if not isinstance(part, np.ndarray) or part.dtype.kind not in "biuf":
        raise r.fail(f"{name} is {describe(part)}", f"an array of shape {shape}", hint="return every gradient as a numpy array")
    if part.shape != shape:
        _forward_of_another_variant(student, variant, r, "conv2d", case, f"{name} has shape {part.shape} ({_situation(case)})")
        padded = (case.x.shape[0], *(s + sum(p) for s, p in zip(case.x.shape[1:3], case.pads())), case.x.shape[3])
        causes = {
            padded: "the padded input's gradient returned whole: the zeros \"same\" added are not part of x, cut their rows and columns off",
            ref.spread(case.kernels, case.dilation).shape: f"the gradient of the kernels spread DILATION = {case.dilation} apart, zeros "
            "included: keep the taps' own, every DILATION-th row and column",
            (case.x.shape[0], case.kernels.shape[3]): "dbias added up over the positions, not over the images of the batch too",
        }
        raise r.fail(f"{name} has shape {part.shape} ({_situation(case)})", f"shape {shape}, the shape of {name[1:]}",
                     cause=causes.get(part.shape, ""), hint="each gradient has exactly the shape of what it is the gradient of")
    return part


def _backward_cause(name: str, got: np.ndarray, case: ref.Case) -> tuple[str, str]:
    """(likely cause, hint) for one gradient of the right shape but wrong values."""
    index = _GRADIENTS.index(name)
    n, h, w, c_in, kh, kw, c_out = case.dims
    dout = case.dout().astype(np.float64)
    first = dout * (np.arange(n) == 0)[:, None, None, None]

    def close(want) -> bool:
        want = want[index] if isinstance(want, tuple) else want
        return want.shape == got.shape and np.allclose(got, want, rtol=_RTOL, atol=_ATOL * max(1.0, float(np.abs(want).max())))

    right = case.gradients()
    mistakes = [
        (name != "dx" and n > 1 and close(right[index] / n), "the gradient averaged over the batch; the loss adds every image's "
         "contributions, so its gradient adds them up", "sum over the images, not the mean"),
        (name != "dx" and n > 1 and close(case.gradients(dout=first)), "only the first image's contribution: the batch was not added up",
         "every image's windows used the same weights: add all of them up"),
        (name == "dkernels" and close(right[1][::-1, ::-1]), "the kernels' gradient flipped: weight (a, b) met the pixel a rows, "
         "b columns from each window's corner, the same place as in the forward pass", "take each tap's gradient from the pixels that tap met"),
        (name == "dx" and close(case.gradients(kernels=case.kernels[::-1, ::-1])), "the kernel flipped on the way back: the forward "
         "pass's tap (a, b) met one pixel, and that pixel's gradient gets dout times that same weight, kernels[a, b]",
         "send dout back through each tap's own weight, unflipped, to the pixel the tap met"),
        (name == "dx" and close(case.gradients(flipped=True)), "the kernel was not flipped for dx: a pixel below and to the right of a "
         "window's corner met the kernel's lower right weights, so sending dout back is a true (flipped) convolution",
         "loop over the forward pass's windows and add each weight times dout to the pixel it met"),
        (case.padding == "same" and close(case.gradients(pads=case.pads(extra_first=True))), "the odd padding row or column put "
         "on the top or left, as if the forward pass had padded there", "total // 2 zeros before the input and the rest after it"),
        (case.stride > 1 and close(case.gradients(stride=1)), f"the stride left out: output (i, j)'s window starts at row i * {case.stride}, "
         f"column j * {case.stride}", "send dout[n, i, j] back to the window it came from, stride included"),
        (name == "dx" and c_in == c_out > 1 and close(case.gradients(kernels=case.kernels.transpose(0, 1, 3, 2))),
         "the kernels' channel axes swapped: kernels[:, :, c, o] met input channel c for filter o", "dx[..., c] adds kernels[:, :, c, o] for every filter o"),
    ]
    for found, cause, hint in mistakes:
        if found:
            return cause, hint
    if name == "dx":  # right on the pixels one window reads, wrong on those several read: = where += was meant
        reads = case.gradients(dout=np.ones(dout.shape), kernels=np.ones(case.kernels.shape))[0]
        once, more = reads == c_out, reads > c_out
        if once.any() and more.any() and close(np.where(once, right[0], got)) and not close(np.where(more, right[0], got)):
            return ("right for the pixels that a single window reads, wrong for those several windows read: one window's "
                    "contribution replaced another's (=) instead of adding to it (+=)", "start dx from zeros and add every contribution to it")
    return ("", "check one number as the lesson's gradient check does: nudge one value of the input by h = 1e-3 up and down, and compare "
                "(sum(conv2d(...) * dout) up - down) / 2h with your gradient there")


def _first_difference(got: np.ndarray, want: np.ndarray) -> tuple[int, ...] | None:
    """The first index where a gradient is not `want` within the checks' float32 tolerance (scaled by
    want's largest value), or None where it is `want` everywhere."""
    off = ~np.isclose(got, want, rtol=_RTOL, atol=_ATOL * max(1.0, float(np.abs(want).max())))
    return tuple(int(i) for i in np.argwhere(off)[0]) if off.any() else None


def _differs(r, name: str, case: ref.Case, got: np.ndarray, want: np.ndarray, where, cause: str, hint: str):
    """The Feedback for gradient `name`, wrong at index `where`."""
    return r.fail(f"got {name}{list(where)} = {got[where]:.5g} ({_situation(case)})",
                  f"{want[where]:.5g}, the gradient tf.GradientTape takes back through {_layer(case)} with this dout",
                  cause=cause, hint=hint)


def _check_backward(student, variant, name: str):
    index = _GRADIENTS.index(name)
    for case in ref.cases(ref.BACKWARD, _params(variant)["dilation"]):
        r, value = _backward(student, case, variant)
        got, want = _gradient(student, variant, r, value, name, case).astype(np.float64), case.gradients()[index]
        where = _first_difference(got, want)
        if where is None:
            continue

        def theirs(v) -> bool:  # another dilation's answer, where its conv2d's output has this dout's shape ("same")
            other = case.on_dilation(v["dilation"])
            return (v["dilation"] != case.dilation and other.expected_shape == case.expected_shape
                    and _first_difference(got, other.gradients(dout=case.dout())[index]) is None)

        if other := _other_variant(student, variant, theirs):
            raise other(r, f"got different values of {name} ({_situation(case)})")
        cause, hint = _backward_cause(name, got, case)
        scale = max(1.0, float(np.abs(want).max()))
        if value[index].dtype == np.float16 and np.allclose(got, want, rtol=1e-2, atol=1e-2 * scale):
            cause, hint = "float16: right to its precision, which is too coarse for a gradient", "compute in float64 and return float32"
        if not np.isfinite(got).all():
            cause, hint = "the gradient holds nan or inf: an uninitialised array (np.empty) or a division", "start from zeros and add to them"
        raise _differs(r, name, case, got, want, where, cause, hint)


# Measured on this course's 2-core machine (one BLAS thread, as in the worker), on each probe
# (ref.COST_PROBES): a vectorised conv2d_backward takes a few ms, pure-Python loops over every output
# value, tap and channel (tests/test_alternatives.py's ex05b_loops) 0.65 s (many pixels) and 0.2 s (many
# weights); finite differences of a vectorised float64 forward pass, two passes per pixel or weight,
# 150 s and 1,700 s (280 s and 3,000 s with DILATION 2). A limit of COST_LIMIT_S of its own time, 15 times
# the loops and 15 times below finite differences, tells one from the other on any machine; it is own
# time (isolation/own_time.py), so a busy machine never moves it.
COST_LIMIT_S = 10.0
# The draw of the probes' numbers (grader/draws.py): another purpose would draw every submission new ones.
PROBE_PURPOSE = "ex05b conv2d_backward's cost probes"


@pytest.fixture(scope="module", autouse=True)
def _probe_seed(student, settings):
    """The seed of the cost probes' x, kernels and dout: from the file's bytes and the run's draw key,
    read before any of its code runs, so a file cannot hold the probes' answers (an adversarial review
    stored them, worked out at home, when the probes were seeded with constants)."""
    student.probe_seed = settings.draw(PROBE_PURPOSE, student.source_bytes())
    yield


def _costs_what_backprop_costs(student, variant, name: str) -> None:
    """conv2d_backward on the probe of `name`, within COST_LIMIT_S of its own time, and right there too
    (a function that is fast but wrong on a large input computes no gradient either)."""
    case = ref.cost_probe(name, _params(variant)["dilation"], student.probe_seed)
    r, value = _backward(student, case, variant, own_time_limit=COST_LIMIT_S)
    got, want = _gradient(student, variant, r, value, name, case).astype(np.float64), case.gradients(parts=(name,))[_GRADIENTS.index(name)]
    if (where := _first_difference(got, want)) is not None:
        raise _differs(r, name, case, got, want, where, "right on the small inputs, wrong on this large one",
                       "the same code must serve every size of input")


def test_conv2d_backward_dx(student, variant):
    _check_backward(student, variant, "dx")
    _costs_what_backprop_costs(student, variant, "dx")


def test_conv2d_backward_dkernels(student, variant):
    _check_backward(student, variant, "dkernels")
    _costs_what_backprop_costs(student, variant, "dkernels")


def test_conv2d_backward_dbias(student, variant):
    _check_backward(student, variant, "dbias")


@depends_on(test_conv2d_backward_dx, earns="the gradients' dtype")
def test_conv2d_backward_dtypes(student, variant):
    for case in ref.cases(ref.BACKWARD[:1] + ref.BACKWARD[-1:], _params(variant)["dilation"]):
        r, value = _backward(student, case, variant)
        for name, part in zip(_GRADIENTS, value):  # their shapes and values are the other checks' business
            if isinstance(part, np.ndarray) and part.dtype != np.float32:
                raise r.fail(f"{name} has dtype {part.dtype}", cause="np.zeros() makes float64 unless told otherwise" if part.dtype == np.float64 else "",
                             hint="convert each gradient to float32 before returning it, as conv2d's output")


BACKWARD_REJECTS = "Raises ValueError where conv2d would for x, kernels, stride and padding, and if dout's shape is not the shape of conv2d's output for them"


@depends_on(test_conv2d_backward_dx, earns="validating its input")
def test_conv2d_backward_rejects_bad_input(student, variant):
    case = ref.cases(ref.BACKWARD[3:4], _params(variant)["dilation"])[0]  # stride 2, "valid"
    x, k, dout = case.x, case.kernels, case.dout()
    for xi, ki, di, stride, padding, situation in [
        (x, k, dout[:, :-1], case.stride, "valid", f"dout of shape {dout[:, :-1].shape}, conv2d's output being {dout.shape}"),
        (x, k, dout, 1, "valid", f"dout of shape {dout.shape}, the output with stride 1 being larger"),
        (x, k, dout[..., :1], case.stride, "valid", f"dout with 1 channel for {k.shape[3]} filters"),
        (x, k[:, :, :1], dout, case.stride, "valid", f"kernels for 1 input channel, x with {x.shape[3]}"),
        (x, k, dout, 0, "valid", "stride=0"),
        (x, k, dout, case.stride, "full", "padding='full'"),
    ]:
        r = student.call("conv2d_backward", xi, ki, di, shown=f"x of shape {xi.shape}, kernels of shape {ki.shape}, dout of shape {di.shape}",
                         expect=f"ValueError ({situation})", stride=stride, padding=padding)
        r.expect_raises("ValueError", hint="check the arguments first, as conv2d does, and that dout has conv2d's output shape for them",
                        contract=BACKWARD_REJECTS)


# ---------------------------------------------------------------- max_pool2d_backward


def _check_pool_backward(student, variant, kind: str):
    p = _params(variant)["pool"]
    for x, situation in ref.pool_gradient_inputs()[kind]:
        dout = ref.pool_dout(x, p)
        r = student.call("max_pool2d_backward", x, dout, shown=f"x (shape {x.shape}), dout (seeded random, shape {dout.shape})",
                         expect=f"a float32 array of shape {x.shape}: the gradient tf.GradientTape takes back through keras.layers.{_pooling(p)}")
        if r.outcome.status != "returned":  # dout's shape is the variant's: another's file may refuse it
            _forward_of_another_variant(student, variant, r, "max_pool2d", x, f"it raised {r.outcome.exc_type} on a dout of your variant's shape ({situation}), and your max_pool2d's output on the same x is")
        got, want = r.array(), ref.pool_gradient(x, dout, p)
        if got.shape == want.shape and np.allclose(got, want, rtol=0, atol=1e-6) and got.dtype == np.float32:
            continue
        if got.dtype != np.float32 and got.shape == want.shape and np.allclose(got, want, rtol=1e-3, atol=1e-3):
            raise r.fail(f"got dtype {got.dtype} ({situation}), the right values to its precision", "a float32 array",
                         cause="a result kept in another precision", hint="return a float32 array, as max_pool2d's output")
        if got.shape == want.shape and not np.allclose(got, want, rtol=0, atol=1e-6):
            if other := _other_variant(student, variant, lambda v: v["pool"] != p and np.allclose(got, ref.pool_gradient(x, ref.pool_dout(x, v["pool"]), v["pool"]), atol=1e-6)):
                raise other(r, f"got different values ({situation})")
        cause, hint = "", "only the value that won a block had an effect on the output: it gets the block's dout, every other value 0"
        if got.shape != want.shape:
            _forward_of_another_variant(student, variant, r, "max_pool2d", x, f"got shape {got.shape} ({situation})")
            cause = "the gradient of the output's shape, not the input's" if got.shape == dout.shape else ""
            raise r.fail(f"got shape {got.shape} ({situation})", cause=cause, hint="dx has x's shape: one gradient per input value")
        mistakes = {"every": ("each of a block's equal largest values got the whole of its dout, so the block sends back more than it received",
                              "the docstring says which one of equal values takes it: the first, row by row"),
                    "last": ("the last of a block's equal largest values took the gradient", "the first of them in row-major order takes it"),
                    "spread": (f"every value of a block got dout / {p * p}: that is an average pool's gradient", "the block's largest value alone gets it")}
        for mistake, (because, how) in mistakes.items():
            if np.allclose(got, ref.pool_gradient(x, dout, p, mistake), atol=1e-6):
                cause, hint = because, how
                break
        i = tuple(int(v) for v in np.argwhere(~np.isclose(got, want, rtol=0, atol=1e-6))[0])
        raise r.fail(f"got dx{list(i)} = {float(got[i]) + 0.0:.5g} ({situation})",
                     f"{want[i]:.5g}, the gradient tf.GradientTape takes back through keras.layers.{_pooling(p)} with this dout",
                     cause=cause, hint=hint)


def test_max_pool2d_backward_values(student, variant):
    _check_pool_backward(student, variant, "values")


def test_max_pool2d_backward_ties(student, variant):
    _check_pool_backward(student, variant, "ties")
