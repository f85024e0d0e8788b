"""Exercise 02b · Backpropagation by hand: the graded checks.

Each test is one check; its points, function, hints and lesson section live in
course.toml under the same name (without "test_"). The student's functions run
in the worker; everything they are judged against is computed on the
grader's side: the reference forward pass and gradients of
grader/references/ex02b_backprop.py (`ref`, never imported from solutions/), centred finite differences of the grader's
own loss, tf.GradientTape on the same weights, and, for train(), what it
learns twice: a small task drawn for this submission alone (its seed is the
hash of the submission's file, so weights prepared in advance cannot know it),
and MNIST, whose accuracy on this run's half of the test set (which student
code never sees) counts only for a train() that learned the first. MNIST reaches
train() with its 784 pixels in an order drawn for this grading (from the run's draw
key and the file's hash, grader/draws.py), the test images in the same order: a dense
network learns them as well as in the usual order, but weights trained beforehand
on MNIST read them as noise. It does not stop a train() that recovers the order from
the data's per-pixel statistics and reorders weights trained beforehand (an adversarial
review earned 25/25 so): only a replay of the student's loop on the grader's side would.

Each student has a variant, the hidden activation (course.toml: relu, leaky_relu, tanh, elu), whose
derivative the backward pass needs; every reference here computes with it, and an answer that is
exactly another variant's is told apart as such. What no output can tell: a slope f'(z1) computed
numerically from f alone (a finite difference or a complex step of the activation, element by
element) is as exact as a derived one, so it earns the gradient points (an adversarial review earned
25/25 so on tanh); the derivation itself is asked as a written question, graded by a person.
"""

from __future__ import annotations

import hashlib
import math
import sys
import time

import numpy as np
import pytest

from grader import variants
from grader.feedback import Feedback, NotGraded, NotStarted, describe, short
from grader.scoring import below_the_bar, depends_on, earlier_check_failed, earned_fraction, what_it_said
from grader.training.accuracy import public_half_record, threshold_for
from grader.references import ex02b_backprop as ref  # the grader's forward pass, gradients, inputs and unseen task
from grader.training.by_hand import shared_call
from mnist_course.course import COURSE_FILE
from mnist_course.data import test_half as _half_indices  # not `test_half`: pytest would collect it

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REL_TOLERANCE = 1e-6


# ---------------------------------------------------------------- variants

# The first variant's activation: what an exercise without a variant table would ask.
_DEFAULT_HIDDEN = "relu"
_MISMATCH_CAUSE = ("HIDDEN at the top of your file, or the activation your code computes, is not your variant's (the file "
                   "starts with the first variant's), or the file was written for another variant: a classmate's, or your own "
                   "under another student id")


def _hidden(variant) -> str:
    """The hidden activation the variant asks for (course.toml's params `hidden`)."""
    return (variant.params if variant else {}).get("hidden", _DEFAULT_HIDDEN)


def _other_variant(student, answers):
    """What to raise where what came back is exactly another variant's answer (`answers(hidden)` says
    whether it is): grader/variants.py `told_apart`, else None."""
    return variants.told_apart(student.exercise, student.variant, lambda v: answers(_hidden(v)), cause=_MISMATCH_CAUSE)


# ---------------------------------------------------------------- the grader's reference


# ---------------------------------------------------------------- inputs


def _table(exercise, name: str) -> dict:
    raw = tomllib.loads(COURSE_FILE.read_text(encoding="utf-8"))
    return next(e for e in raw["exercise"] if e["id"] == exercise.id)[name]


def _sgd(exercise) -> dict:
    """course.toml's `sgd` table of this exercise: seed, work cap, reference settings."""
    return _table(exercise, "sgd")


# ---------------------------------------------------------------- init_params

INIT_SIZES = {"n_in": 784, "n_hidden": 64, "n_out": 10}
INIT_SHAPES = ((784, 64), (64,), (64, 10), (10,))


def _init_call(student, seed=3, cached=True, **sizes):
    sizes = sizes or INIT_SIZES
    shapes = ((sizes["n_in"], sizes["n_hidden"]), (sizes["n_hidden"],), (sizes["n_hidden"], sizes["n_out"]), (sizes["n_out"],))
    expect = "(W1, b1, W2, b2): float64 arrays of shapes " + ", ".join(str(s) for s in shapes)
    return student.call("init_params", seed=seed, cached=cached, expect=expect, **sizes), shapes


def _params(r, shapes, what="parameters") -> list[np.ndarray]:
    """Four float arrays of the given shapes, or a Feedback saying what came back."""
    value = r.value
    if isinstance(value, dict) and set(value) >= set(ref.NAMES):
        value = [value[name] for name in ref.NAMES]
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise r.fail(
            f"got {describe(value)}",
            cause="" if value is not None else "a missing `return`",
            hint=f"return the four {what} in order: return W1, b1, W2, b2",
        )
    arrays = []
    for name, part, shape in zip(ref.NAMES, value, shapes):
        if not isinstance(part, np.ndarray) or part.dtype.kind not in "biuf":
            raise r.fail(f"{name} is {describe(part)}", f"an array of shape {shape}", hint="build every parameter as a numpy array")
        if part.shape != shape:
            cause = "rows and columns swapped: W has one row per input and one column per unit" if part.shape == shape[::-1] and len(shape) == 2 else ""
            if len(shape) == 1 and part.ndim == 2 and part.size == shape[0]:
                cause = "a bias kept as a 2-D row or column: it is 1-D, one number per unit"
            raise r.fail(f"{name} has shape {part.shape}", f"shape {shape}", cause=cause, hint="x @ W1 must work for x of shape (N, n_in)")
        arrays.append(part)
    return arrays


def test_init_params_shapes_dtypes(student):
    r, shapes = _init_call(student)
    for name, part in zip(ref.NAMES, _params(r, shapes)):
        if part.dtype != np.float64:
            raise r.fail(
                f"{name} has dtype {part.dtype}",
                "float64 for every parameter",
                cause="an integer array (np.zeros(n, dtype=int)) or a float32 conversion" if part.dtype.kind != "f" else f"a conversion to {part.dtype}",
                hint="NumPy's generators and np.zeros give float64 unless told otherwise",
            )


@depends_on(test_init_params_shapes_dtypes, earns="reproducibility")
def test_init_params_reproducible(student):
    first, shapes = _init_call(student, seed=5)
    again, _ = _init_call(student, seed=5, cached=False)
    other, _ = _init_call(student, seed=6)
    a, b, c = (_params(call, shapes) for call in (first, again, other))
    if not all(np.array_equal(p, q) for p, q in zip(a, b)):
        raise again.fail(
            "a second call with the same seed gave other weights",
            "the same parameters for the same seed",
            cause="a generator that is not made from the seed (np.random.default_rng() without it, or np.random.normal), or one kept between calls",
            hint="make the generator inside init_params, from the seed it is given (NumPy's default_rng), rather than using a global one",
            contract="the same seed gives the same parameters",
        )
    if np.array_equal(a[0], c[0]) and np.ptp(a[0]) > 0:  # constant weights are init_params_breaks_symmetry's to explain
        raise other.fail(
            "seeds 5 and 6 gave the same W1",
            "other weights for another seed",
            cause="the seed is not used: a fixed seed inside the function",
            hint="pass the seed argument to np.random.default_rng",
        )


def _symmetric_story(params, mnist, hidden, steps=3, learning_rate=0.5) -> str:
    """What gradient descent does to hidden units that start alike: a few steps
    of the grader's own, correct gradients from these parameters, in numbers."""
    x = mnist.x_train[:64].reshape(64, -1).astype(np.float64) / 255
    y = mnist.y_train[:64].astype(np.int64)
    params = [p.astype(np.float64).copy() for p in params]
    start = ref.loss(x, y, *params, hidden=hidden)
    for _ in range(steps):
        for p, g in zip(params, ref.grads(x, y, *params, hidden=hidden)):
            p -= learning_rate * g
    W1 = params[0]
    spread = float(np.abs(W1 - W1[:, :1]).max())
    pixel = 14 * 28 + 14  # the centre of the image
    shown = ", ".join(f"{v:.6g}" for v in W1[pixel, :4])
    moved = "not moved at all" if not np.any(W1) else "moved, but all alike"
    return (
        f"after {steps} steps of gradient descent (learning rate {learning_rate}) on 64 training images with the grader's correct gradients, "
        f"the weights from the centre pixel into hidden units 0-3 are {shown}: every hidden unit's weights have {moved} "
        f"(largest difference between two units: {spread:.3g}), and the loss went only from {start:.3f} to {ref.loss(x, y, *params, hidden=hidden):.3f}"
    )


def test_init_params_breaks_symmetry(student, mnist):
    r, shapes = _init_call(student)
    W1, b1, W2, b2 = _params(r, shapes)
    columns = W1.T.reshape(W1.shape[1], -1)
    _, first, counts = np.unique(columns, axis=0, return_index=True, return_counts=True)
    if counts.max() > 1:
        alike = int(counts.max())
        group = int(first[np.argmax(counts)])
        story = _symmetric_story((W1, b1, W2, b2), mnist, student.hidden) if alike == W1.shape[1] else ""
        raise r.fail(
            f"{alike} of the {W1.shape[1]} hidden units start with identical weights (column {group} of W1 and {alike - 1} other"
            f"{'s' * (alike > 2)})" + (f"; {story}" if story else ""),
            "every hidden unit's weights different from every other's",
            cause="units that start alike get identical gradients and stay alike forever: "
            + ("all-zero weights (the softmax regression of lesson 2 could start from 0, a hidden layer cannot)" if not np.any(W1) else "a constant or repeated initial value"),
            hint="draw W1 and W2 at random from np.random.default_rng(seed), at He or Glorot scale",
            contract="The weights are random, so that no two hidden units start alike",
        )
    rows = W2.reshape(W2.shape[0], -1)
    if len(np.unique(rows, axis=0)) < len(rows):
        raise r.fail(
            "some hidden units send identical weights to the outputs (repeated rows of W2)",
            "every row of W2 different",
            cause="W2 filled with a constant or a repeated value",
            hint="draw W2 at random too",
            contract="The weights are random, so that no two hidden units start alike",
        )


SCALE_CASES = ({"n_in": 784, "n_hidden": 64, "n_out": 10}, {"n_in": 100, "n_hidden": 400, "n_out": 10})


def test_init_params_scale(student):
    for sizes in SCALE_CASES:
        r, shapes = _init_call(student, **sizes)
        W1, b1, W2, b2 = _params(r, shapes)
        for name, W, fan_in, fan_out in (("W1", W1, sizes["n_in"], sizes["n_hidden"]), ("W2", W2, sizes["n_hidden"], sizes["n_out"])):
            glorot, he = math.sqrt(2 / (fan_in + fan_out)), math.sqrt(2 / fan_in)
            low, high = 0.5 * min(glorot, he), 1.5 * max(glorot, he)
            std, mean = float(W.std()), float(W.mean())
            if not low <= std <= high or abs(mean) > 0.25 * std:
                if abs(mean) > 0.25 * std and low <= std <= high:
                    got, cause = f"{name}'s entries average {mean:.3g} (standard deviation {std:.3g})", "weights drawn from [0, a) instead of around 0"
                elif std < low:
                    got = f"{name}'s entries have a standard deviation of {std:.3g}"
                    cause = "weights too small: each layer shrinks the signal and its gradients (they vanish as layers are added)"
                else:
                    got = f"{name}'s entries have a standard deviation of {std:.3g}"
                    cause = "weights too large: each layer blows the signal up (an np.random.normal without a scale has standard deviation 1)"
                raise r.fail(
                    got,
                    f"about {he:.3g} (He, sqrt(2 / {fan_in})) or {glorot:.3g} (Glorot, sqrt(2 / ({fan_in} + {fan_out}))), centred on 0: "
                    f"the grader accepts {low:.3g} to {high:.3g}",
                    cause=cause,
                    hint="scale the draw by the layer's He or Glorot standard deviation (lesson 2, 'Initialising the weights')",
                    contract="at He scale (standard deviation sqrt(2 / fan_in)) or Glorot scale (sqrt(2 / (fan_in + fan_out)))",
                )
        for name, b in (("b1", b1), ("b2", b2)):
            if np.any(b):
                raise r.fail(f"{name} holds {short(b, 4)}", "zeros", hint="start the biases at np.zeros(...): the random weights already break the symmetry",
                             contract="the biases are zeros")


# ---------------------------------------------------------------- loss


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
    x, y, params = ref.small_problem()
    mx, my, mparams = ref.mnist_problem(mnist)
    cases = [
        (x, y, params, ref.SMALL_SHOWN, ""),
        (x[:1], y[:1], params, "x[:1], y[:1], W1, b1, W2, b2 (one image)", "a batch of one image"),
        (mx, my, mparams, "40 training images (float64, [0, 1]), their labels, seeded He-scaled weights for 16 hidden units", "MNIST images"),
    ]
    for xs, ys, ps, shown, situation in cases:
        r = student.call("loss", xs, ys, *ps, shown=shown, expect="the mean cross-entropy, one float")
        got = _loss_value(r)
        if not math.isclose(got, ref.loss(xs, ys, *ps, hidden=student.hidden), rel_tol=1e-9, abs_tol=1e-12):
            _explain_loss(student, r, got, xs, ys, ps, situation)


def test_loss_stable(student):
    x, y, params = ref.small_problem()
    W1, b1, W2, b2 = params
    big = (W1, b1, W2 * 400.0, b2)  # logits in the hundreds: exp overflows float64 past about 709
    r = student.call(
        "loss", x, y, *big, shown="x, y, W1, b1, W2 * 400, b2 (the small problem with logits in the hundreds)",
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


# ---------------------------------------------------------------- gradients


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
    x, y, params = ref.small_problem()
    r = _grad_call(student, x, y, params, ref.SMALL_SHOWN)
    _, grads = _grad_parts(r, x, params)
    for name, g in zip(ref.GRAD_NAMES, grads):
        if g.dtype != np.float64:
            raise r.fail(f"{name} has dtype {g.dtype}", "float64", cause=f"a conversion to {g.dtype}", hint="keep NumPy's float64 throughout")


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
    k = np.unravel_index(int(np.argmax(np.abs(g - w))), g.shape)
    at = f"[{', '.join(str(int(i)) for i in k)}]"
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
    x, y, params = ref.mnist_problem(mnist, **COST_PROBLEM)
    n_params = sum(p.size for p in params)
    shown = f"{COST_PROBLEM['n']} training images, seeded weights for {COST_PROBLEM['hidden']} hidden units ({n_params:,} parameters)"
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
    x, y, params = ref.small_problem()
    r = _grad_call(student, x, y, params, ref.SMALL_SHOWN)
    loss_value, grads = _grad_parts(r, x, params)
    _loss_first(student, r, x, y, params, loss_value, ref.loss(x, y, *params, hidden=student.hidden), "as loss() computes it")
    numeric = ref.finite_differences(x, y, params, student.hidden)
    _explain_gradients(student, r, x, y, params, grads, numeric, "the grader's centred finite differences", "(L(w + ε) - L(w - ε)) / 2ε with ε = 1e-5, on its own loss")
    _costs_what_backprop_costs(student, mnist)


def test_gradients_match_gradient_tape(student, mnist):
    x, y, params = ref.mnist_problem(mnist)
    r = _grad_call(student, x, y, params, "40 training images (float64, [0, 1]), their labels, seeded weights for 16 hidden units and non-zero biases")
    loss_value, grads = _grad_parts(r, x, params)
    tape_loss, tape_grads = ref.gradient_tape(x, y, params, student.hidden)
    _loss_first(student, r, x, y, params, loss_value, tape_loss, "TensorFlow's sparse softmax cross-entropy, averaged")
    _explain_gradients(student, r, x, y, params, grads, tape_grads, "tf.GradientTape on the same weights")
    _costs_what_backprop_costs(student, mnist)  # the same call as the check above: run once


# ---------------------------------------------------------------- sgd_settings and train

SETTING_TYPES = {"n_hidden": int, "epochs": int, "batch_size": int, "learning_rate": float}


def _flops(value: float) -> str:
    for unit, size in (("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.3g} FLOP"


def _settings(student, mnist) -> tuple[dict, object]:
    """The validated settings (and the call that gave them), within the work cap."""
    r = student.call("sgd_settings", expect="a dict with n_hidden, epochs, batch_size and learning_rate")
    value = r.value
    sgd = _sgd(student.exercise)
    n_train = len(mnist.x_train)
    if not isinstance(value, dict):
        raise r.fail(f"got {describe(value)}", hint='return {"n_hidden": ..., "epochs": ..., "batch_size": ..., "learning_rate": ...}')
    missing = [k for k in SETTING_TYPES if k not in value]
    extra = [k for k in value if k not in SETTING_TYPES]
    if missing or extra:
        raise r.fail(
            f"got the keys {sorted(value)}",
            f"exactly {list(SETTING_TYPES)}",
            cause=f"missing {missing}" if missing else f"unknown {extra}",
            hint="the keys are train()'s arguments, apart from x, y and seed",
        )
    for key, kind in SETTING_TYPES.items():
        v = value[key]
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) if kind is float else isinstance(v, int) and not isinstance(v, bool)
        if not ok:
            raise r.fail(f"{key} is {describe(v)}", f"{'a number' if kind is float else 'a Python int'}", hint="plain Python numbers: int(...), float(...)")
    limits = {"n_hidden": (1, sgd["max_hidden"]), "epochs": (1, sgd["max_epochs"]), "batch_size": (1, n_train)}
    for key, (low, high) in limits.items():
        if not low <= value[key] <= high:
            raise r.fail(f"{key} is {value[key]}", f"{key} from {low} to {high:,}", hint="see sgd_settings()'s docstring for the ranges")
    if not (math.isfinite(value["learning_rate"]) and value["learning_rate"] > 0):
        raise r.fail(f"learning_rate is {value['learning_rate']!r}", "a finite number above 0", hint="steps go against the gradient: a positive learning rate")
    reference = sgd["reference"]
    declared = ref.work(sgd, n_train, value["n_hidden"], value["epochs"], value["batch_size"])
    ref_work = ref.work(sgd, n_train, reference["n_hidden"], reference["epochs"], reference["batch_size"])
    cap = sgd["cost_cap"] * ref_work
    if declared > cap:
        raise r.fail(
            f"{value['epochs']} epochs × ({n_train:,} images × 3 × {_flops(ref.forward_flops(value['n_hidden']))} forward + "
            f"{math.ceil(n_train / value['batch_size']):,} steps × {_flops(sgd['step_flops'])}) = {_flops(declared)} of training work",
            f"at most {_flops(cap)} ({sgd['cost_cap']:g}× the reference's {_flops(ref_work)})",
            cause="more epochs, a wider hidden layer or a smaller batch than this exercise needs",
            hint="count the work with the docstring's formula before you hand in: lower epochs or n_hidden, or raise batch_size",
        )
    return {k: (float(value[k]) if k == "learning_rate" else int(value[k])) for k in SETTING_TYPES}, (declared, cap, ref_work)


def test_sgd_settings_within_budget(student, mnist):
    _settings(student, mnist)


# ---------------------------------------------------------------- train, on a task it cannot know in advance

UNSEEN_SALT = b"mnist-course ex02b unseen task 1\0"  # another salt would draw every submission a new task
# The draw of MNIST's pixel order (grader/draws.py): another purpose would draw every submission a new order.
PIXEL_ORDER_PURPOSE = "ex02b MNIST pixel order"
UNSEEN_SETTINGS = ("n_hidden", "epochs", "batch_size", "learning_rate")
UNCHANGED = ("it returned the parameters it started from, unchanged: no step reached them (in `for W, dW in zip(params, grads): "
             "W = W - learning_rate * dW` the assignment rebinds the loop's name only; update in place with -=, or build a new list)")


@pytest.fixture(scope="module", autouse=True)
def _unseen_seed(student, settings, variant):
    """The seed of the submission's unseen task, and the order of MNIST's pixels it is
    trained on: from the hash of its file, read before any of its code runs, so nothing
    it does while graded changes them. Each is a function of the submission, the grader
    and the run's draw key alone, never of the clock. Also the variant graded and its
    hidden activation, which every check's reference computes with."""
    student.variant, student.hidden = variant, _hidden(variant)
    content = student.source_bytes()
    student.unseen_seed = int.from_bytes(hashlib.sha256(UNSEEN_SALT + content).digest()[:4], "little") >> 1  # < 2**31
    student.pixel_order = np.random.default_rng(settings.draw(PIXEL_ORDER_PURPOSE, content)).permutation(784)
    yield


def _learns_unseen_task(student, cache) -> dict:
    """train() on the submission's unseen task, with the grader's settings; what it
    learned, or a Feedback saying why it learned too little. `cache`: the run's
    cache folder, where an identical file's training is kept (training/by_hand.py)."""
    spec = _table(student.exercise, "unseen_task")
    seed = student.unseen_seed
    settings = {k: spec[k] for k in UNSEEN_SETTINGS}
    x, y, x_held, y_held = ref.unseen_task(seed, spec)
    h = settings["n_hidden"]
    shapes = ((784, h), (h,), (h, 10), (10,))
    r, _ = shared_call(
        student, cache, "train", x, y,
        shown=f"x, y ({len(x):,} images of a task drawn for this submission from its file's hash: 784 pixels in [0, 1], "
        "10 classes, each image a noisy copy of one of three random patterns of its class)",
        expect=f"(W1, b1, W2, b2) of shapes (784, {h}), ({h},), ({h}, 10), (10,), trained on x and y",
        seed=seed, **settings,
    )
    params = [p.astype(np.float64) for p in _params(r, shapes, what="trained parameters")]
    with np.errstate(all="ignore"):
        finite = all(bool(np.isfinite(p).all()) for p in params)
        end = ref.loss(x, y, *params, hidden=student.hidden) if finite else math.nan
        logits = ref.logits(x_held, params, student.hidden)
        accuracy = _right_share(logits, y_held) if finite else 0.0
    first = None
    start = math.log(10)
    try:
        first = [p.astype(np.float64) for p in _params(student.call("init_params", seed=seed, n_in=784, n_hidden=h, n_out=10), shapes)]
        with np.errstate(all="ignore"):
            start = ref.loss(x, y, *first, hidden=student.hidden)
    except NotGraded:
        raise
    except Feedback:
        pass
    measured = {"seed": seed, "held_out_accuracy": accuracy, "loss_before": start, "loss_after": end}
    bar = spec["bar"]
    if accuracy >= bar and end < start:
        return measured
    fell = f"the training loss on x went from {start:.3f} (init_params(seed={seed}, 784, {h}, 10)) to {end:.4g}"
    if first is not None and all(np.array_equal(p, q) for p, q in zip(params, first)):
        cause = UNCHANGED
    elif not finite or not math.isfinite(end):
        cause = (f"the training diverged ({fell}) at a learning rate of {settings['learning_rate']:g}, which a correct loop takes "
                 "in its stride here: steps far too long, as gradients N times too large make them")
    elif h > 1 and np.allclose(params[0], params[0][:, :1]):
        cause = "every hidden unit has the same weights after training: they started alike (a zero or constant initialisation)"
    elif end >= start:
        cause = (f"the parameters it returned were not learned from this x and y: {fell}. Weights prepared in advance, "
                 "loaded from a file or trained on other data know nothing of a task drawn afresh for each submission")
    elif not _gradients_agree(student):
        cause = f"{fell}, but your gradients() disagrees with the grader's finite differences (gradients_finite_differences says where)"
    else:
        cause = f"{fell}, too little: check that every parameter is updated after every batch, against its gradient"
    raise r.fail(
        f"the parameters it returned classify {accuracy:.1%} of the task's {len(y_held):,} held-out images right (chance is 10%)",
        f"at least {bar:.0%} of them right, and a training loss that falls: a loop that steps against the gradient on the "
        "batches of the x and y it is given gets nearly all of them right here",
        cause=cause,
        hint="train() is graded on what it learns from its arguments: use x, y, n_hidden, epochs, batch_size, learning_rate "
        "and seed, and nothing else. Try it on a small task of your own, printing the loss every epoch (lesson 2, "
        "'A training loop of your own')",
    )


def test_train_learns_unseen_task(student, settings):
    _learns_unseen_task(student, settings.training_cache)


def _credited_only_if_trained(student, cache, called: str, accuracy: float, half: str) -> None:
    """The MNIST accuracy counts only for a train() that learned its unseen task:
    weights prepared elsewhere would score on MNIST without any training of its own."""
    try:
        _learns_unseen_task(student, cache)
    except (NotStarted, NotGraded):
        raise
    except Feedback:
        raise Feedback(
            f"Test accuracy {accuracy:.2%} on the {half} half, which counts only for a train() that learned the task the grader "
            "drew for this submission, and yours did not (train_learns_unseen_task)",
            "parameters that train() learned from the data it was given: on MNIST, and on a task it could not know in advance",
            called=called,
            cause="train() returns parameters that do not come from its own training on its arguments: weights trained "
            "elsewhere (with Keras, or another program) score on MNIST but learn nothing of a task drawn afresh for each submission",
            hint="make train() train: start from init_params(seed, ...) and step every parameter against gradients() on batches "
            "of the x and y it is given; train_learns_unseen_task's message says what came back",
        ) from None


# A loop can reach the bar on gradients that are not the loss's (an ELU's slope taken as ReLU's trains
# nearly as well), so the same mistake would cost one variant these points and not another: they are
# for a training with the student's own, correct backpropagation (an adversarial review, variant elu).
@depends_on(test_gradients_finite_differences, earns="the accuracy its training reaches (the points are for a training with your own, correct gradients)")
def test_train_test_accuracy(student, mnist, settings, check):
    exercise = student.exercise
    sgd = _sgd(exercise)
    half, cache = settings.half, settings.training_cache
    threshold, band, dataset = threshold_for(exercise, mnist, half, student.variant)
    graded = _half_indices(len(mnist.y_test), half)
    measured = {"threshold": threshold, "band": band, "dataset": dataset, "half": half, "test_images": len(graded), "seed": sgd["seed"]}
    check.record("measured", measured)
    try:
        settings, (declared, cap, ref_work) = _settings(student, mnist)
    except Feedback as problem:
        if problem.status == "not started":
            raise
        raise earlier_check_failed(
            "The grader did not train the network, because sgd_settings() is not accepted",
            "settings that pass sgd_settings_within_budget",
            what_it_said(problem),
        ) from None
    measured["work"] = {"declared_flops": declared, "cap_flops": cap, "reference_flops": ref_work}
    n = len(mnist.x_train)
    order = student.pixel_order  # the same for the training and the test images: a dense network learns either order alike
    x = (mnist.x_train.reshape(n, -1).astype(np.float64) / 255)[:, order]
    y = mnist.y_train.astype(np.int64)
    shown_settings = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    started = time.perf_counter()
    r, shared = shared_call(  # an identical file's training, kept by an earlier grading, is read, not run again
        student, cache, "train", x, y,
        shown=f"x_train ({n:,} training images, float64 in [0, 1], shape ({n}, 784), their pixels in an order drawn for this "
        f"grading), y_train, {shown_settings}, seed={sgd['seed']}",
        expect=f"(W1, b1, W2, b2) of shapes (784, {settings['n_hidden']}), ({settings['n_hidden']},), ({settings['n_hidden']}, 10), (10,)",
        seed=sgd["seed"], **settings,
    )
    h = settings["n_hidden"]
    W1, b1, W2, b2 = params = _params(r, ((784, h), (h,), (h, 10), (10,)), what="trained parameters")
    seconds = shared.seconds if shared.reused else time.perf_counter() - started  # a reused training: the seconds it took
    measured.update({"epochs_run": settings["epochs"], "training_seconds": round(seconds, 1), "training_reused": shared.reused})
    usual_order = mnist.x_test.reshape(len(mnist.x_test), -1).astype(np.float64) / 255
    x_test = usual_order[:, order]
    params = [p.astype(np.float64) for p in params]
    with np.errstate(all="ignore"):
        logits = ref.logits(x_test, params, student.hidden)
        finite = bool(np.isfinite(logits[graded]).all())
        accuracy = _right_share(logits[graded], mnist.y_test[graded])
    measured.update({"test_accuracy": accuracy, "margin": round(accuracy - threshold, 6)})
    called = (f"train(...) with your settings ({shown_settings}, seed={sgd['seed']}) on {dataset}'s {n:,} training images, "
              f"their pixels in an order drawn for this grading; the grader measured the parameters it returned on the {half} "
              f"half of the test set ({len(graded):,} images, their pixels in the same order)")
    points = exercise.checks["train_test_accuracy"]
    fraction = earned_fraction(accuracy, threshold, band)
    if half == "private":  # what a release date shows until then (grader/classroom/release.py), as the Keras checks record it
        measured["public_half"] = _public_half(exercise, student.variant, mnist, logits)
    if fraction > 0 or measured.get("public_half", {}).get("fraction", 0) > 0:
        try:
            _credited_only_if_trained(student, cache, called, accuracy, half)
        except (NotStarted, NotGraded):
            raise  # never a verdict of this check's: said as such, whichever half
        except Feedback:
            if "public_half" in measured:  # the public half's view earns nothing either, and says why
                measured["public_half"].update(fraction=0.0, not_credited="train_learns_unseen_task")
            if fraction > 0:
                raise
    if accuracy >= threshold:
        return
    with np.errstate(all="ignore"):  # what the drawn order took away, in the report
        usual = measured["test_accuracy_in_usual_pixel_order"] = _right_share(ref.logits(usual_order[graded], params, student.hidden), mnist.y_test[graded])
    raise below_the_bar(
        accuracy, threshold, band, dataset=dataset, half=half, test_images=len(graded), points=points,
        called=called,
        cause=_prepared_in_advance(usual, accuracy, threshold)
        or _another_variants_network(student, x_test[graded], mnist.y_test[graded], params, accuracy, threshold)
        or _train_diagnosis(student, x, y, params, settings, sgd["seed"], finite),
        hint="print the training loss after every epoch in your notebook: it should fall steadily from about 2.3 (lesson 2, 'A training loop of your own')",
    )


def _right_share(logits, y) -> float:
    """The share of rows whose largest logit is the label's; 0 where any logit is not finite."""
    return float((logits.argmax(axis=1) == y).mean()) if np.isfinite(logits).all() else 0.0


def _prepared_in_advance(usual: float, accuracy: float, threshold: float) -> str | None:
    """Why parameters that score `accuracy` in this grading's pixel order and `usual` on the
    same test images in the usual order were not trained on what train() was given (None when
    that is not so)."""
    if usual < threshold or usual - accuracy < 0.25:
        return None
    return (f"the parameters train() returned classify {usual:.1%} of these test images right in the usual pixel order, and "
            f"{accuracy:.1%} in the order this grading drew, which is the one its training images were given in: they were not "
            "learned from the x train() was given, but prepared beforehand on MNIST in its usual order (trained elsewhere, "
            "or loaded from a file). A dense network has no notion of neighbouring pixels, so your own loop learns the drawn "
            "order as well as the usual one")


def _another_variants_network(student, x, y, params, accuracy: float, threshold: float) -> str | None:
    """Why parameters that score `accuracy` through this variant's activation were trained for another
    variant's (None when no other activation reads them above the bar): a classmate's file, whose loop
    trained its own network."""
    if student.variant is None:
        return None
    with np.errstate(all="ignore"):
        scores = [(v, _right_share(ref.logits(x, params, _hidden(v)), y)) for v in variants.others(student.exercise, student.variant)]
    theirs = [(v, score) for v, score in scores if score >= threshold and score - accuracy >= 0.02]
    if not theirs:
        return None
    named = " or ".join(f"{score:.1%} through variant {v.key!r}'s ({v.says})" for v, score in theirs)
    return (f"the parameters train() returned score {accuracy:.1%} through your variant's hidden activation and {named}: your loop "
            f"trained another variant's network, not yours ({student.variant.says}); the cause: {_MISMATCH_CAUSE}")


def _public_half(exercise, variant, mnist, logits) -> dict:
    """The same parameters measured on the public half of the test set (the images students tune
    against), as accuracy.public_half_record keeps it for every exercise."""
    public = _half_indices(len(mnist.y_test), "public")
    accuracy = _right_share(logits[public], mnist.y_test[public])
    return public_half_record(exercise, mnist, accuracy, variant)


def _train_diagnosis(student, x, y, params, settings, seed, finite) -> str:
    """Why a trained network scores low: divergence, symmetry, or too little training."""
    h = settings["n_hidden"]
    sample = slice(0, 4096)  # the training loss, measured by the grader on the first 4,096 training images
    with np.errstate(all="ignore"):
        end = ref.loss(x[sample], y[sample], *params, hidden=student.hidden) if finite and all(np.isfinite(p).all() for p in params) else math.nan
    start = math.log(10)
    first = None
    try:
        first = [p.astype(np.float64) for p in _params(student.call("init_params", seed=seed, n_in=784, n_hidden=h, n_out=10), ((784, h), (h,), (h, 10), (10,)))]
        with np.errstate(all="ignore"):
            start = ref.loss(x[sample], y[sample], *first, hidden=student.hidden)
    except NotGraded:
        raise
    except Feedback:
        pass
    lr = settings["learning_rate"]
    if first is not None and all(np.array_equal(p, q) for p, q in zip(params, first)):
        return UNCHANGED
    if not math.isfinite(end) or end >= start:
        return (
            f"the training diverged: the training loss went from {start:.3f} before training to {end:.4g} after it. "
            f"A learning rate too large ({lr:g} here) makes every step overshoot the valley it aims at, and the loss climbs or overflows "
            "to nan (lesson 2's learning-rate runs: with 100 the loss jumped above where it started); "
            "a smaller learning rate, or gradients that are not N times too large, fix it"
        )
    W1 = params[0]
    if W1.shape[1] > 1 and np.allclose(W1, W1[:, :1]):
        return "every hidden unit has the same weights after training: they started alike (a zero or constant initialisation) and got identical gradients ever since"
    fell = f"the training loss fell from {start:.3f} to {end:.3f}"  # its gradients agree: the check depends on gradients_finite_differences
    h = ref.hidden_output(x[sample], params, student.hidden)
    train_accuracy = float(((h @ params[2] + params[3]).argmax(axis=1) == y[sample]).mean())
    fell += f" ({train_accuracy:.1%} of the training images right)"
    if start > 2 * math.log(10):
        return (f"{fell}; a start far above ln 10 = 2.30 means the initial weights were far too large (init_params_scale says more): "
                "the network learns its training images but generalises worse")
    dead = float((h.max(axis=0) == 0).mean()) if student.hidden == "relu" else 0.0  # only a ReLU's units can die: its slope is 0 below 0
    if dead > 0.5:
        return (f"{fell}, but {dead:.0%} of the hidden units are dead (inactive on every training image): steps too large knocked "
                "their sums below 0 for good, a learning rate too large (lesson 2's learning-rate runs)")
    if train_accuracy < 0.5:
        return f"{fell}: the network barely learned; check the update's sign, that every parameter is updated, and the learning rate"
    return f"{fell}: it learned, but not enough: more epochs, a better learning rate or a wider hidden layer, within the work cap"


def _gradients_agree(student) -> bool:
    """The student's gradients() on the small problem agree with the grader's (a cached call)."""
    x, y, params = ref.small_problem()
    try:
        _, grads = _grad_parts(_grad_call(student, x, y, params, ref.SMALL_SHOWN), x, params)
    except NotStarted:
        return True  # no evidence either way: train() may not use it
    except Feedback:
        return False
    return _agree(grads, ref.grads(x, y, *params, hidden=student.hidden))
