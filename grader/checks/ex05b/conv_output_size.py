"""ex05b's checks of conv_output_size(), and their messages (collected by grader/checks/ex05b_conv_by_hand.py)."""

from __future__ import annotations

import math

import numpy as np

from grader.feedback import describe
from grader.references import ex05b_conv_by_hand as ref  # the seeded cases and what Keras's layers compute on them
from grader.scoring import depends_on
from grader.checks.ex05b.common import _other_variant, _params


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
