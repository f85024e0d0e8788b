"""ex02b's checks of gradients(), and their messages: against finite differences and tf.GradientTape, at
the cost backpropagation allows.
"""

from __future__ import annotations

import math

import numpy as np

from grader.feedback import describe
from grader.scoring import depends_on
from grader.references import ex02b_backprop as ref  # the grader's forward pass, gradients, inputs and unseen task
from grader.checks.ex02b.common import REL_TOLERANCE, _other_variant


def _grad_call(student, x, y, params, shown):
    shapes = ", ".join(str(p.shape) for p in params)
    return student.call("gradients", x, y, *params, shown=shown, expect=f"(loss, dW1, db1, dW2, db2) with arrays of shapes {shapes}")


def _grad_parts(r, x, params) -> tuple[float, list[np.ndarray]]:
    value = r.value
    if not isinstance(value, (list, tuple)) or len(value) != 5:
        raise r.fail(
            f"got {describe(value)}",
            cause="the loss left out of the result" if isinstance(value, (list, tuple)) and len(value) == 4 else "",
            hint="return loss, dW1, db1, dW2, db2",
        )
    loss_value = value[0]
    if isinstance(loss_value, np.ndarray) and loss_value.size == 1:
        loss_value = loss_value.reshape(())[()]
    if isinstance(loss_value, (bool, np.bool_)) or not isinstance(loss_value, (int, float, np.integer, np.floating)):
        raise r.fail(f"the first item is {describe(value[0])}", "the loss, one number", hint="return the loss first, then the four gradients")
    grads = []
    for name, g, p in zip(ref.GRAD_NAMES, value[1:], params):
        if not isinstance(g, np.ndarray) or g.dtype.kind not in "biuf":
            raise r.fail(f"{name} is {describe(g)}", f"an array of shape {p.shape}", hint="every gradient is an array shaped like its parameter")
        if g.shape != p.shape:
            cause = ""
            if g.ndim == 2 and g.shape == p.shape[::-1]:
                cause = f"a transposed product: {name} = (input of the layer).T @ (gradient at its output) has one row per input"
            elif p.ndim == 1 and g.shape == (len(x),):
                cause = f"the bias gradient summed over the wrong axis: {name} sums the rows, over the batch (axis 0)"
            elif p.ndim == 1 and g.ndim == 2:
                cause = "a bias gradient kept 2-D: sum over the batch without keepdims"
            raise r.fail(f"{name} has shape {g.shape}", f"shape {p.shape}, the shape of {name[1:]}", cause=cause,
                         hint="each gradient has exactly the shape of its parameter: write the shapes next to each line")
        grads.append(g)
    return float(loss_value), grads


def test_gradients_shapes_dtypes(student):
    x, y, params = ref.small_problem(student.problem_seed)
    r = _grad_call(student, x, y, params, ref.SMALL_SHOWN)
    _, grads = _grad_parts(r, x, params)
    for name, g in zip(ref.GRAD_NAMES, grads):
        if g.dtype != np.float64:
            raise r.fail(f"{name} has dtype {g.dtype}", "float64", cause=f"a conversion to {g.dtype}", hint="keep NumPy's float64 throughout")


def _farthest_entry(got: np.ndarray, want: np.ndarray) -> tuple[tuple, str]:
    """The index where `got` is farthest from `want`, and that index written as Python writes it."""
    k = np.unravel_index(int(np.argmax(np.abs(got - want))), got.shape)
    return k, f"[{', '.join(str(int(i)) for i in k)}]"


def _agree(got, want) -> bool:
    return max(ref.rel_error(g, w) for g, w in zip(got, want)) < REL_TOLERANCE


def _explain_gradients(student, r, x, y, params, got: list[np.ndarray], want: list[np.ndarray], against: str, how: str = "") -> None:
    """Compare each gradient with `want`; fail naming the first wrong one and the likely mistake:
    another variant's gradients (a classmate's file) first."""
    errors = [ref.rel_error(g, w) for g, w in zip(got, want)]
    if max(errors) < REL_TOLERANCE:
        return
    if other := _other_variant(student, lambda h: _agree(got, ref.grads(x, y, *params, hidden=h))):
        raise other(r, "the gradients it returned")
    name_i = int(np.argmax(np.array(errors) >= REL_TOLERANCE))
    name = ref.GRAD_NAMES[name_i]
    g, w = got[name_i], want[name_i]
    k, at = _farthest_entry(g, w)
    cause = ""
    n = len(x)
    if all(np.allclose(a, b * n, rtol=1e-6, atol=1e-12) for a, b in zip(got, want)):
        cause = f"every gradient {n} times too large: the loss is a mean over the {n} images, so its gradient carries a factor 1/N too"
    elif all(np.allclose(a, -b, rtol=1e-6, atol=1e-12) for a, b in zip(got, want)):
        cause = "every gradient has the wrong sign: the gradient with respect to the logits is p - onehot(y), not onehot(y) - p"
    elif all(np.allclose(a, b, rtol=1e-6, atol=1e-12) for a, b in zip(got, ref.grads(x, y, *params, hidden=student.hidden, mask=False))):
        cause = ("the hidden activation's derivative is missing: on the way back through h = f(z1), the gradient at h is "
                 "multiplied, number by number, by f's slope at z1")
    elif errors[2] < REL_TOLERANCE and errors[3] < REL_TOLERANCE:
        cause = ("dW2 and db2 are right, so the mistake is in the step back through W2 and the hidden activation (the chain rule's "
                 "steps after the output layer, lesson 2): f's slope at z1, for your variant's f")
    elif errors[0] < REL_TOLERANCE and errors[1] < REL_TOLERANCE:
        cause = "dW1 and db1 are right but the output layer's are not: look at dW2 = h.T @ dz2 and db2"
    else:
        cause = "the gradient at the logits, (p - onehot(y)) / N, is where every other starts: check it first (the activation's slope belongs to the hidden sums, not to the logits)"
    raise r.fail(
        f"{name}{at} = {g[k]:.10g}; {against} gives {w[k]:.10g} (relative error {errors[name_i]:.2g})",
        f"every gradient within a relative error of {REL_TOLERANCE:g} of {against}" + (f": {how}" if how else ""),
        cause=cause,
        hint="check the shapes and the chain rule line by line, backwards from the loss (lesson 2, 'Backpropagation through a hidden layer')",
    )


# Backpropagation costs about three forward passes; finite differences of the loss cost
# two per parameter. On COST_PROBLEM (512 training images, 256 hidden units: 203,530
# parameters) the reference takes about 8 ms of its own time and numeric gradients about
# 400,000 forward passes, over 20 minutes (measured on this course's 2-core machine, one
# BLAS thread, as in the worker). A limit of COST_LIMIT_S own seconds, over 1,000 times
# the reference and over 100 times below numeric gradients, tells one from the other on
# any machine; it is own time (isolation/own_time.py), so a busy machine never moves it.
COST_PROBLEM = {"n": 512, "hidden": 256}
COST_LIMIT_S = 10.0


def _costs_what_backprop_costs(student, mnist) -> None:
    """gradients() on a full-sized network: within COST_LIMIT_S of its own time, and right
    (a result that is fast but wrong at this size is no gradient either)."""
    x, y, params = ref.mnist_problem(mnist, **COST_PROBLEM, seed=student.problem_seed)
    n_params = sum(p.size for p in params)
    shown = f"{COST_PROBLEM['n']} training images and weights for {COST_PROBLEM['hidden']} hidden units, drawn for your file ({n_params:,} parameters)"
    shapes = ", ".join(str(p.shape) for p in params)
    r = student.call("gradients", x, y, *params, shown=shown, own_time_limit=COST_LIMIT_S,
                     expect=f"(loss, dW1, db1, dW2, db2) with arrays of shapes {shapes}, within {COST_LIMIT_S:g} s")
    if r.outcome.status == "timeout":
        raise r.fail(
            f"It had not returned after {COST_LIMIT_S:g} s of its own time (stopped)",
            "the gradients in well under a second: backpropagation costs about three forward passes, "
            "the reference takes about 0.01 s here",
            cause=f"gradients computed from the loss by finite differences, which need two forward passes per parameter "
            f"({2 * n_params:,} here), or loops in Python over every weight",
            hint="derive each gradient with the chain rule and compute it with matrix products, one per layer, backwards from the loss",
            contract="Work them out with the chain rule, layer by layer from the loss back to W1",
        )
    _, grads = _grad_parts(r, x, params)
    _, tape_grads = ref.gradient_tape(x, y, params, student.hidden)
    _explain_gradients(student, r, x, y, params, grads, tape_grads, "tf.GradientTape on the same weights")


def _loss_first(student, r, x, y, params, loss_value: float, want: float, as_computed: str) -> None:
    """The loss gradients() returned first: `want`, or a message (another variant's, if it is)."""
    if math.isclose(loss_value, want, rel_tol=1e-9):
        return
    if other := _other_variant(student, lambda h: math.isclose(loss_value, ref.loss(x, y, *params, hidden=h), rel_tol=1e-9)):
        raise other(r, f"the loss it returned is {loss_value:.10g}")
    raise r.fail(f"the loss it returned is {loss_value:.10g}", f"{want:.10g}, {as_computed}", hint="return the mean cross-entropy of the forward pass first")


def test_gradients_finite_differences(student, mnist):
    x, y, params = ref.small_problem(student.problem_seed)
    r = _grad_call(student, x, y, params, ref.SMALL_SHOWN)
    loss_value, grads = _grad_parts(r, x, params)
    _loss_first(student, r, x, y, params, loss_value, ref.loss(x, y, *params, hidden=student.hidden), "as loss() computes it")
    numeric = ref.finite_differences(x, y, params, student.hidden)
    _explain_gradients(student, r, x, y, params, grads, numeric, "the grader's centred finite differences", "(L(w + ε) - L(w - ε)) / 2ε with ε = 1e-5, on its own loss")
    _costs_what_backprop_costs(student, mnist)


def test_gradients_match_gradient_tape(student, mnist):
    x, y, params = ref.mnist_problem(mnist, seed=student.problem_seed)
    r = _grad_call(student, x, y, params, "40 training images drawn for your file (float64, [0, 1]), their labels, weights drawn for 16 hidden units and non-zero biases")
    loss_value, grads = _grad_parts(r, x, params)
    tape_loss, tape_grads = ref.gradient_tape(x, y, params, student.hidden)
    _loss_first(student, r, x, y, params, loss_value, tape_loss, "TensorFlow's sparse softmax cross-entropy, averaged")
    _explain_gradients(student, r, x, y, params, grads, tape_grads, "tf.GradientTape on the same weights")
    _costs_what_backprop_costs(student, mnist)  # the same call as the check above: run once


# gradients_derived compares dW1 and db1, the two gradients f's slope reaches, with TensorFlow's, each
# entry's error against the largest size its sum can reach (ref.first_layer_sizes, where no term
# cancels another): a slope derived and coded as a formula agrees to rounding there, and a slope taken
# by finite differences of f in float64 at a fixed step, whatever the step, does not. Measured on 200
# problems a variant (tests/test_references.py, on every run): the references, the alternatives and
# slopes written otherwise at most 3.6e-15; such differences at least 1.6e-12 (tanh's best step; 3.5e-10
# and more for the other variants, whose kink or bend sits among the sums). DERIVED_TOLERANCE lies 28
# times above the first and 16 times below the second. Fixed-step differences are the shortcut a
# student who skips the derivation reaches for first. What no output can tell, and the written question
# `slope` is there for (an adversarial review, 27/27 each): a complex step of f or dual numbers; a
# high-order or Richardson scheme whose step shrinks with |z|; plain differences in np.longdouble; on
# relu's and leaky_relu's straight pieces, a difference whose step scales with |z| (the slope itself,
# once the image of zeros, at the kink, is taken apart). Each is more work than the derivation.
DERIVED_TOLERANCE = 1e-13


def _derived_errors(grads, want, sizes) -> list[float]:
    """dW1's and db1's largest error, each against its size; inf where a gradient is not finite."""
    return [float(np.abs(g - w).max()) / max(size, 1e-300) if np.isfinite(g).all() else math.inf
            for g, w, size in zip(grads[:2], want[:2], sizes)]


@depends_on(test_gradients_match_gradient_tape, earns="gradients exact to rounding (once they agree with TensorFlow's to 1e-6)")
def test_gradients_derived(student):
    x, y, params = ref.derivation_problem(student.problem_seed)
    r = _grad_call(student, x, y, params, ref.DERIVATION_SHOWN)
    _, grads = _grad_parts(r, x, params)
    _, tape_grads = ref.gradient_tape(x, y, params, student.hidden)
    sizes = ref.first_layer_sizes(x, y, params, student.hidden)
    errors = _derived_errors(grads, tape_grads, sizes)
    if max(errors) < DERIVED_TOLERANCE:
        return
    worst = int(np.argmax(errors))
    name, g, w = ref.GRAD_NAMES[worst], grads[worst], tape_grads[worst]
    W1, b1, W2, b2 = params
    above = ref.grads(x, y, W1, b1 + ref.ABOVE_ZERO, W2, b2, hidden=student.hidden)
    if max(_derived_errors(grads, above, sizes)) < DERIVED_TOLERANCE:
        cause = ("at a hidden sum of exactly 0 (the image of zeros: each of its sums is its bias, 0) f's slope taken just "
                 "above 0, where the contract takes the slope f has just below 0: `z1 >= 0` where it means `z1 > 0`")
    elif errors[worst] == math.inf:
        cause = ("a gradient that is not finite (nan or inf): a slope computed as a difference divided by a step that is 0 "
                 "where a hidden sum is 0, or a division by z1")
    elif errors[worst] >= REL_TOLERANCE:
        cause = ("f's slope taken otherwise than by f'(z) where the hidden sums are close to 0: finite differences (of f, or of the "
                 "loss) whose step straddles f's kink or bend at 0, or a slope switched at a threshold other than 0")
    else:
        cause = ("f's slope, or a layer's gradient, computed numerically: finite differences in float64 at a fixed step agree "
                 "with a derivative to about 1e-12 at best, never to rounding")
    if errors[worst] == math.inf:
        got = f"{name} holds nan or inf"
    else:
        k, at = _farthest_entry(g, w)
        got = (f"{name}{at} = {g[k]:.17g}; tf.GradientTape on the same weights gives {w[k]:.17g}, an error of {errors[worst]:.2g} "
               f"of the largest size its sum can reach ({sizes[worst]:.3g})")
    raise r.fail(
        got,
        f"dW1 and db1, the gradients f's slope reaches, within {DERIVED_TOLERANCE:g} of that size: a slope derived on paper "
        "and coded as a formula agrees to rounding (about 1e-15)",
        cause=cause,
        hint="derive f'(z) for your variant on paper, on each side of 0 (the written question `slope` asks for it), and code "
        "that formula, with the slope just below 0 at a sum of exactly 0: no step h anywhere in gradients()",
        contract="Work them out with the chain rule, layer by layer from the loss back to W1; where f has a kink (a hidden "
        "sum of exactly 0), take the slope f has just below 0",
    )
