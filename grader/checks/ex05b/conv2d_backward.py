"""ex05b's checks of conv2d_backward(), and their messages: against the references' gradients, and at the cost
backpropagation allows on probes drawn for each file (`student.probe_seed`, set by grader/checks/ex05b_conv_by_hand.py).
"""

from __future__ import annotations

import functools

import numpy as np

from grader.feedback import describe
from grader.references import ex05b_conv_by_hand as ref  # the seeded cases and what Keras's layers compute on them
from grader.scoring import depends_on
from grader.checks.ex05b.common import _ATOL, _RTOL, _call, _layer, _other_variant, _params
from grader.checks.ex05b.conv2d import _answers_another_dilation
from grader.checks.ex05b.max_pool2d import _answers_another_pool


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
