"""ex02b's checks of init_params(), and their messages (collected by grader/checks/ex02b_backprop.py)."""

from __future__ import annotations

import math

import numpy as np

from grader.feedback import describe, short
from grader.scoring import depends_on
from grader.references import ex02b_backprop as ref  # the grader's forward pass, gradients, inputs and unseen task


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
