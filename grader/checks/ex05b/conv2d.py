"""ex05b's checks of conv2d(), and their messages: what went wrong, told from the output."""

from __future__ import annotations

import functools

import numpy as np

from grader.references import ex05b_conv_by_hand as ref  # the seeded cases and what Keras's layers compute on them
from grader.scoring import depends_on
from grader.checks.ex05b.common import _ATOL, _RTOL, _call, _dilated, _other_variant, _params


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
