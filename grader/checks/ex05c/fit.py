"""ex05c's checks of fit(), and their messages: the loop against Keras's plain SGD, then a replay that takes
every step with the student's own step functions.
"""

from __future__ import annotations

import numpy as np

from grader.feedback import describe, short
from grader.references import ex05c_optimizers as ref
from grader.scoring import depends_on
from grader.checks.ex05c.common import _FIT_RTOL, _STEP_OF, _kept_shape, _pair, _rng


_FIT_RATES = {"sgd": 0.0625, "momentum": 0.03125, "adaptive": 0.015625}
_FIT_EPOCHS = 3


def _fit_task(student):
    rng = _rng(student, "fit")
    images, labels = ref.task(rng.integers(2**31))
    batch_size, seed = int(rng.choice((16, 20, 24))), int(rng.integers(1000))
    shown = f"images, labels ({len(images)} points of {images.shape[1]} features in ten overlapping clusters, drawn for your file)"
    return images, labels, batch_size, seed, shown


def _fit_call(student, optimizer: str, expect: str):
    """fit() with `optimizer` on the file's drawn task: (call, W, b, task)."""
    images, labels, batch_size, seed, shown = task = _fit_task(student)
    r = student.call("fit", images, labels, optimizer=optimizer, learning_rate=_FIT_RATES[optimizer], epochs=_FIT_EPOCHS,
                     batch_size=batch_size, seed=seed, shown=shown, expect=expect)
    value = r.value
    shapes = [(images.shape[1], 10), (10,)]
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.shape == want for v, want in zip(value, shapes))):
        got = f"({', '.join(describe(v) for v in value)})" if isinstance(value, (tuple, list)) and len(value) == 2 else describe(value)
        raise r.fail(f"got {got}", f"(W, b): float64 arrays of shapes {shapes[0]} and {shapes[1]}",
                     hint="return W, b: the two arrays of numbers your training ends with")
    W, b = (np.asarray(v, np.float64) for v in value)
    return r, W, b, task


def _close_to(W, b, want) -> bool:
    scale = max(np.abs(want[0]).max(), np.abs(want[1]).max())
    return bool(np.all(np.abs(W - want[0]) <= _FIT_RTOL * scale) and np.all(np.abs(b - want[1]) <= _FIT_RTOL * scale))


def test_fit_plain_sgd(student):
    r, W, b, (images, labels, batch_size, seed, _) = _fit_call(student, "sgd", "(W, b) as Keras's SGD trains them on the same batches")
    lr = _FIT_RATES["sgd"]
    trained = lambda order: ref.keras_fit(images, labels, "sgd", lr, ref.batches(len(images), _FIT_EPOCHS, batch_size, seed, order=order))
    want = trained("contract")
    if _close_to(W, b, want):
        return
    if _close_to(W, b, trained("same every epoch")):
        cause = "every epoch visits the images in the same order: the generator is made anew each epoch, not once for the whole training"
    elif _close_to(W, b, trained("unshuffled")):
        cause = "the images are visited in their given order, not in the permutation the contract draws every epoch"
    else:
        cause = ("the loop already differs with plain steps: the gradient of each batch's mean loss, or the batches themselves (their order "
                 f"and their sizes: {len(images)} points in batches of {batch_size})")
    raise r.fail(f"optimizer='sgd': W {short(W)}, b {short(b)}",
                 f"W {short(want[0])}, b {short(want[1])}, as keras.optimizers.SGD (learning_rate={lr}) trains them on the same batches",
                 cause=cause, hint="follow the docstring's order: one generator for the whole training, a permutation per epoch, batches taken "
                 "in that order, and the gradient of each batch's mean loss (lesson 2's train_by_hand)")


def _with_own_steps(student, task, optimizer, *, fresh_each_epoch=False, steps_per_epoch=False):
    """fit()'s training as the contract orders it, with the gradients the grader takes (TensorFlow's tape) and every step
    taken by the student's own momentum_step or adaptive_step (a call into their worker per parameter and batch): what
    their fit() must return whatever their steps do. The two flags replay two classic misuses, to name them."""
    images, labels, batch_size, seed, _ = task
    function = _STEP_OF[optimizer]
    settings = {"momentum": ref.FIT_MOMENTUM} if optimizer == "momentum" else {"epsilon": ref.FIT_EPSILON}
    params = [np.zeros((images.shape[1], 10)), np.zeros(10)]
    order = ref.batches(len(images), _FIT_EPOCHS, batch_size, seed)
    per_epoch = len(order) // _FIT_EPOCHS
    for i, batch in enumerate(order):
        epoch, within = divmod(i, per_epoch)
        if i == 0 or (fresh_each_epoch and within == 0):
            kept = [np.zeros(_kept_shape(function, p.shape)) for p in params]
        if optimizer == "adaptive":
            settings["step"] = epoch + 1 if steps_per_epoch else within + 1 if fresh_each_epoch else i + 1
        for j, gradient in enumerate(ref.batch_gradients(images[batch], labels[batch], *params)):
            r = student.call(function, params[j], gradient, kept[j], learning_rate=_FIT_RATES[optimizer], shown=f"W or b, its gradient, "
                             f"what it keeps (fit()'s batch {i + 1}, replayed by the grader)", expect="the step your fit() takes", **settings)
            params[j], kept[j] = _pair(r, function, params[j].shape)
            if not np.all(np.isfinite(params[j])):
                raise r.fail(f"your {function}() gave non-finite weights at fit()'s batch {i + 1}", "finite weights, to judge fit() on",
                             cause=f"{function}() itself: its own checks above say what it does wrong",
                             hint=f"make {function}() pass its checks first; this check then judges how fit() uses it")
    return params


@depends_on(test_fit_plain_sgd, earns="using your steps in a loop that is right")
def test_fit_threads_your_steps(student):
    for optimizer, function in _STEP_OF.items():
        r, W, b, task = _fit_call(student, optimizer, f"(W, b) as the contract's loop trains them with your own {function}()")
        want = _with_own_steps(student, task, optimizer)
        if _close_to(W, b, want):
            continue
        if _close_to(W, b, _with_own_steps(student, task, optimizer, fresh_each_epoch=True)):
            cause = "the optimizer starts afresh every epoch: what it keeps (and the step number) must carry over from one epoch to the next"
        elif optimizer == "adaptive" and _close_to(W, b, _with_own_steps(student, task, optimizer, steps_per_epoch=True)):
            cause = "the step number counts epochs: the bias correction is then that of too few values"
        else:
            cause = (f"with plain steps your loop agrees with Keras, so what differs is how fit() hands your {function}() its state: "
                     "each parameter has its own, carried from every batch to the next")
        raise r.fail(f"optimizer={optimizer!r}: W {short(W)}, b {short(b)}",
                     f"W {short(want[0])}, b {short(want[1])}: your own {function}() taking every step of the contract's loop "
                     f"(learning_rate={_FIT_RATES[optimizer]}), judged on your steps whether they are right or not",
                     cause=cause, hint="one state for W and one for b, zeros before the first batch, each handed back at the next batch; "
                     "the adaptive step's number counts batches from 1 over the whole training")
