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
