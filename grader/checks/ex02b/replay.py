"""ex02b's replays of train(): the grader takes the contract's training itself and compares what train() returned
(`_replays_the_steps` on the unseen task, step by step; `_reached_by_its_own_steps` on MNIST, by TensorFlow,
ref.sgd_replay). Called by grader/checks/ex02b/train.py, whose checks they serve: a train() that learns by any
other means (class-mean templates, least squares, weights trained at home and mapped onto the data given, another
optimiser) earns no training points, however well its parameters score.
"""

from __future__ import annotations

import numpy as np

from grader.feedback import Feedback, NotGraded, NotStarted
from grader.settings import switches
from grader.references import ex02b_backprop as ref  # the grader's gradients and its replay of the training
from grader.training.by_hand import digests, shared_arrays
from grader.checks.ex02b.gradients import _agree, _grad_call, _grad_parts
from grader.checks.ex02b.init_params import _params


def _gradients_agree(student) -> bool:
    """The student's gradients() on the small problem agree with the grader's (a cached call)."""
    x, y, params = ref.small_problem(student.problem_seed)
    try:
        _, grads = _grad_parts(_grad_call(student, x, y, params, ref.SMALL_SHOWN), x, params)
    except NotStarted:
        return True  # no evidence either way: train() may not use it
    except Feedback:
        return False
    return _agree(grads, ref.grads(x, y, *params, hidden=student.hidden))


# Over the unseen task's 150 steps, a W1 kept in float32 (init_params_shapes_dtypes names that mistake, and the MNIST
# replay's 14,000 steps tell it apart) moves the parameters by about 1e-6 of their size: not this check's business.
REPLAY_TOLERANCE = {"rtol": 1e-4, "atol": 1e-6}


def _points_downhill(student, x, y, params) -> bool:
    """Whether the student's gradients() at `params` point downhill (under 90 degrees from the grader's, over all
    parameters): a slope mistake still descends; zeros and the wrong sign do not."""
    try:
        call = student.call("gradients", x, y, *params, shown="the task's first batch at init_params(seed)", expect="(loss, dW1, db1, dW2, db2)")
        own = np.concatenate([g.astype(np.float64).ravel() for g in _grad_parts(call, x, params)[1]])
    except NotGraded:
        raise
    except Feedback:
        return False
    theirs = np.concatenate([np.asarray(g, np.float64).ravel() for g in ref.gradient_tape(x, y, params, student.hidden)[1]])
    norms = float(np.linalg.norm(own) * np.linalg.norm(theirs))
    return bool(np.isfinite(norms) and norms > 0 and float(own @ theirs) / norms > 0.0)


def _replays_the_steps(student, learned, trained, x, y, settings, seed, first, no_start) -> None:
    """The unseen task's training replayed on the grader's side, step by step as the contract fixes it: from
    init_params(seed), in each epoch the images in the order rng.permutation(N) gives (one
    np.random.default_rng(seed) for the run), after each batch W <- W - learning_rate * dW. `trained` is what
    that very call of train() returned, so no branch of train() can tell the replay from the grading (an
    adversarial review passed a replay of its own call with two full-batch steps, and learned the task with
    class-mean templates). dW is the grader's gradient, or the student's gradients() where those disagree
    with the grader's finite differences but point the same way (a wrong gradient is its own checks'
    business, never this one's too; zeros or the wrong sign give no descent to replay)."""
    h = settings["n_hidden"]
    if first is None:  # where train() started cannot be known, so its steps cannot be replayed
        raise learned.fail(
            f"it learned the task, but init_params(seed={seed}, 784, {h}, 10) gave no parameters to start from: "
            f"{getattr(no_start, 'got', '') or 'it did not return four arrays of the right shapes'}",
            "train() to start from init_params(seed, 784, n_hidden, 10), as its docstring says, and init_params to give them",
            cause="an init_params() that fails for this task's size (an adversarial review skipped the replay of train()'s steps so)",
            hint="init_params must work for any n_in, n_hidden and n_out: try it with the sizes this message names",
            contract="Start from init_params(seed, 784, n_hidden, 10)",
        )
    epochs, size, lr, n = settings["epochs"], settings["batch_size"], settings["learning_rate"], len(x)
    own = not _gradients_agree(student) and _points_downhill(student, x[:200], y[:200], first)

    def gradient(xb, yb, params) -> list[np.ndarray]:
        if own:
            try:
                call = student.call("gradients", xb, yb, *params, shown="a batch of the replay", expect="(loss, dW1, db1, dW2, db2)")
                return [g.astype(np.float64) for g in _grad_parts(call, xb, params)[1]]
            except NotGraded:
                raise
            except Feedback:  # no gradients at all here: the grader's own
                pass
        return [np.asarray(g, np.float64) for g in ref.gradient_tape(xb, yb, params, student.hidden)[1]]

    def replayed(rate: float = lr, orders: str = "permutation", per_epoch: bool = False) -> list[np.ndarray]:
        params, rng, index = [p.copy() for p in first], np.random.default_rng(seed), np.arange(n)
        for _ in range(epochs):
            if orders == "permutation":
                index = rng.permutation(n)
            elif orders == "shuffled in place":
                rng.shuffle(index)
            for start in ([0] if per_epoch else range(0, n, size)):
                batch = index[start : start + (n if per_epoch else size)]
                params = [p - rate * g for p, g in zip(params, gradient(x[batch], y[batch], params))]
        return params

    def same(params) -> bool:
        return all(np.allclose(g, w, **REPLAY_TOLERANCE) for g, w in zip(trained, params))

    want = replayed()
    if same(want):
        return
    again = [p.astype(np.float64) for p in _params(student.call("init_params", seed=seed, n_in=784, n_hidden=h, n_out=10, cached=False),
                                                  tuple(p.shape for p in first))]
    if not all(np.array_equal(p, q) for p, q in zip(again, first)):
        cause = ("init_params(seed) returned other parameters at its second call (init_params_reproducible says why), so train() "
                 "cannot give the same parameters from the same arguments, and where it started cannot be known")
    else:
        causes = {
            "the images in another order: the contract's is rng.permutation(N) anew in every epoch, and that rng's draws "
            "only (not rng.shuffle of an array kept from the epoch before)": lambda: replayed(orders="shuffled in place"),
            "the images in the order they came, never shuffled": lambda: replayed(orders="as given"),
            "one step per epoch, on all the images at once, not one per batch": lambda: replayed(per_epoch=True),
            f"steps {size} times too long: the gradient summed over the batch, not averaged (gradients() returns the mean's)": lambda: replayed(rate=lr * size),
            "steps along the gradient, not against it: the loss climbs": lambda: replayed(rate=-lr),
        }
        cause = next((why for why, other in causes.items() if same(other())), (
            "parameters that are not init_params(seed) moved by plain gradient steps: a learner of another kind (class means as "
            "templates, least squares, weights computed from x and y without descending the loss), another start, or a step "
            "other than W - learning_rate * dW (momentum, a decayed rate)"))
    worst = max(ref.rel_error(g, w) for g, w in zip(trained, want))
    raise learned.fail(
        f"parameters that differ from the grader's replay of this training by up to {worst:.2g} (relative to the largest entry)",
        f"init_params(seed={seed}, 784, {h}, 10), then, in each of the {epochs} epochs, the images in the order "
        f"rng.permutation({n}) gives, and after each batch of {size} W <- W - {lr:g} * dW, dW the gradient of the mean loss on "
        "the batch" + (" as your gradients() gives it" if own else " (the grader's own, by tf.GradientTape)"),
        cause=cause,
        hint="train() is lesson 2's loop: start from init_params(seed), visit the images in a fresh permutation from that one rng in "
        "every epoch (its permutation method, not shuffle on an array kept from before), and after every batch move every "
        "parameter against its gradient; nothing else changes them",
        contract="after each batch move every parameter against its gradient: W <- W - learning_rate * dW",
    )


# How far a correct train()'s parameters may be from the grader's replay of its MNIST training, entry by entry:
# |got - replay| <= MNIST_REPLAY_ATOL + MNIST_REPLAY_RTOL * |replay|. float64 loops agree to 1e-14 of the largest
# weight over 20 epochs of mnist-22k. A loop in float32 drifts from 0.04 to 0.28 of the largest weight, by the
# rotation drawn, so the contract asks float64 throughout; weights reached any other way (trained at home and
# mapped onto the rotated pixels through their covariance: an adversarial review, 25/25) are as far as the weights
# themselves. Entry by entry, not relative to an array's largest entry: a review made that tolerance as wide as
# it liked with an inert hidden unit of enormous weights (1e8, a bias of -1e12), and returned weights from 20
# epochs where one step at 1e-9 was declared (25/25).
MNIST_REPLAY_RTOL, MNIST_REPLAY_ATOL = 1e-6, 1e-9


def _worst_entry(params, replayed) -> tuple[float, str]:
    """(how far the farthest entry is, in tolerances: 1 is the edge; where it is and its two values, in words)."""
    worst, where = 0.0, ""
    for name, got, want in zip(("W1", "b1", "W2", "b2"), params, replayed):
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        with np.errstate(all="ignore"):
            excess = np.nan_to_num(np.abs(got - want) / (MNIST_REPLAY_ATOL + MNIST_REPLAY_RTOL * np.abs(want)), nan=np.inf)
        i = np.unravel_index(int(np.argmax(excess)), excess.shape)
        if excess[i] > worst:
            index = ", ".join(map(str, i))
            worst, where = float(excess[i]), f"{name}[{index}] is {got[i]:.6g} where the replay reached {want[i]:.6g}"
    return worst, where


# And what both networks say: each logit on the measured test images within LOGIT_ATOL + LOGIT_RTOL x the replay's,
# so that the accuracy is the replay's. Parameters within their tolerance can still say something else: a review
# hid a classifier in the room 1e-6 of enormous weights leaves (1e9 gates whose units cancel, a rate of 1e-30, so
# the replay stayed where it started and its logits were 0), and earned the accuracy (25/25).
LOGIT_RTOL, LOGIT_ATOL = 1e-6, 1e-6


def _worst_logit(x_measured, params, replayed, hidden: str) -> tuple[float, str]:
    """(how far the farthest logit is from the replay's on `x_measured`, in tolerances; where, in words)."""
    with np.errstate(all="ignore"):
        got = ref.logits(x_measured, [np.asarray(p, np.float64) for p in params], hidden)
        want = ref.logits(x_measured, [np.asarray(p, np.float64) for p in replayed], hidden)
        excess = np.nan_to_num(np.abs(got - want) / (LOGIT_ATOL + LOGIT_RTOL * np.abs(want)), nan=np.inf)
    i, k = np.unravel_index(int(np.argmax(excess)), excess.shape)
    return float(excess[i, k]), f"the logit of class {k} for the {i}th test image measured is {got[i, k]:.6g} where the replay's is {want[i, k]:.6g}"


def _reached_by_its_own_steps(student, cache, x, y, params, settings, seed, called: str, accuracy: float, half: str, measured: dict,
                              x_measured: np.ndarray) -> None:
    """The MNIST accuracy counts only for parameters that train()'s own steps reach: the grader takes the
    contract's steps itself (ref.sgd_replay, from the student's init_params(seed)), on the very x and y it
    gave train(), and compares the parameters entry by entry and the logits on `x_measured` (the test images
    the accuracy was measured on). Run only where the accuracy would earn points, and once per class for the
    same inputs: the replay is kept in the run's cache folder (`cache`), keyed by all it is computed from."""
    h = settings["n_hidden"]
    start = [p.astype(np.float64) for p in _params(student.call("init_params", seed=seed, n_in=784, n_hidden=h, n_out=10),
                                                  ((784, h), (h,), (h, 10), (10,)))]
    steps = {k: settings[k] for k in ("epochs", "batch_size", "learning_rate")}
    identity = {"ex02b MNIST replay": 1, "x": digests([x]), "y": digests([y]), "start": digests(start), "seed": seed,
                "hidden": student.hidden, **steps}
    replayed, measured["replay_reused"] = shared_arrays(
        cache if switches().reuse_trainings else None, identity,
        lambda: ref.sgd_replay(x, y, start, seed, hidden=student.hidden, **steps))
    apart = max(ref.rel_error(np.asarray(p, np.float64), q) for p, q in zip(params, replayed))
    measured["replay_distance"] = round(apart, 6)
    worst, where = _worst_entry(params, replayed)
    if worst <= 1:
        worst, where = _worst_logit(x_measured, params, replayed, student.hidden)
        if worst <= 1:
            return
    why = Feedback(
        f"Test accuracy {accuracy:.2%} on the {half} half, which counts only for parameters train()'s own steps reach: the "
        f"grader's replay of this training (init_params(seed={seed}), the images in the order rng.permutation gives, "
        f"W <- W - learning_rate * dW after every batch) ends elsewhere: {where} ({apart:.2g} of the largest weight away at most)",
        f"the parameters of that training (each entry within {MNIST_REPLAY_ATOL:g} + {MNIST_REPLAY_RTOL:g} x its own size) and its "
        f"logits (within {LOGIT_ATOL:g} + {LOGIT_RTOL:g} x theirs); float64 steps agree to 1e-14 of the largest weight",
        called=called,
        cause=("parameters computed in float32 (" + ", ".join(f"{name} is {p.dtype}" for name, p in zip(("W1", "b1", "W2", "b2"), params)
               if np.asarray(p).dtype != np.float64) + "): float32's rounding, step after step, drifts from the contract's float64 steps")
        if any(np.asarray(p).dtype == np.float32 for p in params) else
        "parameters that train()'s loop did not reach on this x: weights prepared elsewhere and mapped onto the data it was "
        "given, another optimiser (momentum, a decayed rate), or a loop that treats MNIST differently from the unseen task",
        hint="train() is lesson 2's loop, the same for every task: start from init_params(seed), a fresh permutation of the images "
        "from that one rng in every epoch, and a step against the gradient after every batch",
        contract="after each batch move every parameter against its gradient: W <- W - learning_rate * dW",
    )
    why.not_credited = "replay"
    raise why
