"""ex02b's checks of loss(), and their messages."""

from __future__ import annotations

import math

import numpy as np

from grader.feedback import describe
from grader.references import ex02b_backprop as ref  # the grader's forward pass, gradients, inputs and unseen task
from grader.checks.ex02b.common import _other_variant


def _loss_value(r) -> float:
    value = r.value
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise r.fail(
            f"got {describe(value)}",
            "one number, the mean loss over the batch",
            cause="the loss of every image, not their mean" if isinstance(value, np.ndarray) else "",
            hint="return float(...) of the mean",
        )
    return float(value)


def _explain_loss(student, r, got, x, y, params, situation=""):
    """A wrong loss value, with the classic mistake that explains it if one does: another
    variant's loss (a classmate's file) first."""
    hidden = student.hidden
    if other := _other_variant(student, lambda h: math.isclose(got, ref.loss(x, y, *params, hidden=h), rel_tol=1e-9, abs_tol=1e-12)):
        raise other(r, f"got {got:.10g}")
    want = ref.loss(x, y, *params, hidden=hidden)
    where = f" ({situation})" if situation else ""
    n = len(y)
    cause = ""
    if not math.isfinite(got):
        cause = "exp of large logits overflows to inf, and inf / inf is nan: subtract each row's largest logit first (lesson 2's softmax())"
    elif n > 1 and math.isclose(got, want * n, rel_tol=1e-6):
        cause = f"the losses of the {n} images summed, not averaged"
    elif math.isclose(got, want / math.log(10), rel_tol=1e-6):
        cause = "log10 instead of the natural log"
    elif math.isclose(got, ref.linear_loss(x, y, params), rel_tol=1e-6):
        cause = "the hidden layer without its activation: z2 = (x @ W1 + b1) @ W2 + b2"
    elif got < want and math.isclose(got, ref.floored_loss(x, y, params, hidden), rel_tol=1e-6):
        cause = "a probability that rounded to 0 was floored (lesson 2's 1e-12): the true -ln p is larger; ln p = z - ln(sum of exp(z)) needs no floor"
    raise r.fail(
        f"got {got:.10g}{where}",
        f"{want:.10g}",
        cause=cause or "a step of the forward pass that differs from the module docstring's",
        hint="compute it step by step as the module docstring writes it, and compare with lesson 2's cross_entropy(softmax(...)) on a small batch",
    )


def test_loss_value(student, mnist):
    x, y, params = ref.small_problem(student.problem_seed)
    mx, my, mparams = ref.mnist_problem(mnist, seed=student.problem_seed)
    cases = [
        (x, y, params, ref.SMALL_SHOWN, ""),
        (x[:1], y[:1], params, "x[:1], y[:1], W1, b1, W2, b2 (one image)", "a batch of one image"),
        (mx, my, mparams, "40 training images drawn for your file (float64, [0, 1]), their labels, He-scaled weights drawn for 16 hidden units", "MNIST images"),
    ]
    for xs, ys, ps, shown, situation in cases:
        r = student.call("loss", xs, ys, *ps, shown=shown, expect="the mean cross-entropy, one float")
        got = _loss_value(r)
        if not math.isclose(got, ref.loss(xs, ys, *ps, hidden=student.hidden), rel_tol=1e-9, abs_tol=1e-12):
            _explain_loss(student, r, got, xs, ys, ps, situation)


def test_loss_stable(student):
    x, y, params = ref.small_problem(student.problem_seed)
    # An untouched stub is "not started" on any call: said before TensorFlow is imported for the factor
    # below (loss_value's first call, kept for this grading, answers without another worker call). A loss
    # that raises the stub's own error on this small problem is taken as not started here too, whatever
    # it does on large logits (found by review; the stub's words are no answer a student hands in).
    first = student.call("loss", x, y, *params, shown=ref.SMALL_SHOWN, expect="the mean cross-entropy, one float")
    if first.not_started:
        first.value  # raises NotStarted, as the call below would
    W1, b1, W2, b2 = params
    # logits past a thousand, whatever the drawn problem: exp overflows float64 past about 709
    factor = float(max(400, 100 * np.ceil(15 / np.abs(ref.logits(x, params, student.hidden)).max())))
    big = (W1, b1, W2 * factor, b2)
    r = student.call(
        "loss", x, y, *big, shown=f"x, y, W1, b1, W2 * {factor:g}, b2 (the small problem with logits in the hundreds or more)",
        expect="a finite mean cross-entropy",
    )
    got = _loss_value(r)
    want = ref.loss(x, y, *big, hidden=student.hidden)
    if not math.isfinite(got) or not math.isclose(got, want, rel_tol=1e-9):
        if other := _other_variant(student, lambda h: math.isclose(got, ref.loss(x, y, *big, hidden=h), rel_tol=1e-9)):
            raise other(r, f"got {got:.10g}")
        raise r.fail(
            f"got {got:.10g}" + (f" (warnings: {'; '.join(r.warnings[:2])})" if r.warnings else ""),
            f"{want:.10g} (these logits reach {float(np.abs(ref.logits(x, big, student.hidden)).max()):.0f})",
            cause="exp of a logit above about 709 overflows to inf, and inf / inf is nan" if not math.isfinite(got)
            else "a probability that underflowed to 0 was floored (lesson 2's 1e-12): the true -ln p is larger than the floor's 27.6"
            if got < want
            else "a forward pass that differs from the docstring's on large logits",
            hint="subtract each row's largest logit, then take ln p = z - ln(sum of exp(z)) (lesson 2: from_logits and log-sum-exp)",
            contract="The result is finite for any finite input, however large the logits",
        )
