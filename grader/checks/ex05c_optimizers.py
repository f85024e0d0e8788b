"""Exercise 05c · Optimizers by hand: the graded checks.

Each test is one check; its points, function, hints and lesson section live in
course.toml under the same name (without "test_"). The student's steps are
compared with Keras's own optimizers (grader/references/ex05c_optimizers.py, `ref`),
given the same starting weights and the same gradients: the grader threads what a
step returns (the velocity, the moments) into the next call, and compares the
weights after every step. fit() is compared with softmax regression trained by Keras
on the same batches: it judges the loop (the batches, the gradient, one state per
parameter carried across epochs, the step counted in batches). On its small task an
adaptive optimizer's second moment only grows, so Adam and AMSGrad train alike there:
AMSGrad's maximum is judged by the step checks, whose gradients fall part-way.

Every input is drawn for each file when it is graded (`_draw_seed`: the file's bytes
and the run's draw key), so that a file cannot hold weights worked out at home; the
hyperparameters are drawn among numbers that float32 holds exactly (Keras casts its
momentum and betas through float32), so that a step that follows the contract agrees
with Keras to about 1e-15.

Each student has a variant (course.toml: MOMENTUM, classic or Nesterov, and ADAPTIVE,
Adam, AMSGrad or Adamax, two names at the top of the file). A file whose steps are
exactly another variant's gets the message that names both (grader/variants.py
`told_apart`).
"""

from __future__ import annotations

import numpy as np
import pytest

from grader import variants
from grader.feedback import describe, short
from grader.references import ex05c_optimizers as ref
from grader.scoring import depends_on

DRAW_PURPOSE = "ex05c optimizers' inputs"
_DEFAULT = {"momentum": "classic", "adaptive": "adam"}
_NAMES = {"sgd": "SGD", "classic": "SGD(momentum=...)", "nesterov": "SGD(momentum=..., nesterov=True)", "adam": "Adam",
          "amsgrad": "Adam(amsgrad=True)", "adamax": "Adamax"}
_MISMATCH_CAUSE = ("your code leaves MOMENTUM or ADAPTIVE out, or the two names at the top of your file are not your variant's "
                   "(the file starts with the first variant's), or the file was written for another variant: a classmate's, "
                   "or your own under another student id")
# Numbers float32 holds exactly (Keras casts momentum and the betas through float32)
_RATES = (0.015625, 0.0234375, 0.03125)
_MOMENTA = (0.75, 0.8125, 0.875, 0.9375)
_ADAPTIVE_RATES = (0.0078125, 0.01171875, 0.015625)
_BETA_1, _BETA_2 = (0.8125, 0.875, 0.9375), (0.98828125, 0.9921875, 0.99609375, 0.998046875)
# How close: a momentum step is sums and products, exact to rounding. An adaptive step's weights may differ by where
# epsilon is added (Keras adds it to the root of the second moment before its bias correction, the paper's Algorithm 1
# after): with the checks' epsilon of 1e-10 and no gradient below 5e-4, by at most about 6e-6 of a step. 1e-5 of the
# learning rate per step passed allows for it (tests/test_references.py holds the paper's placement inside it on 30
# draws), where every mistake moves a weight by a sizeable part of a step. fit() is judged on its trained weights.
_MOMENTUM_RTOL = 1e-9
_ADAPTIVE_ATOL_PER_STEP = 1e-5
_FIT_RTOL = 1e-3
_STEPS = 30
_FALL, _RISE = 10, 20  # the trajectory's gradients: a hundred times smaller from step 11, three times their first size from step 21
_EPSILON = 1e-10  # passed to adaptive_step by the step checks: where it is added cannot matter at all


def _kinds(variant) -> dict:
    return {**_DEFAULT, **(variant.params if variant else {})}


@pytest.fixture(scope="module", autouse=True)
def _draw_seed(student, settings, variant):
    """The seed of every input here, from the file's bytes and the run's draw key, read before any of its code
    runs; and the variant graded, whose optimizers every reference runs."""
    student.variant, student.kinds = variant, _kinds(variant)
    student.draw_seed = settings.draw(DRAW_PURPOSE, student.source_bytes())
    yield


def _rng(student, purpose: str):
    return np.random.default_rng([student.draw_seed, sum(map(ord, purpose))])


def _other_variant(student, which: str, matches):
    """told_apart's message where the student's steps are exactly another variant's `which` optimizer
    (`matches(kind)` says whether they are)."""
    return variants.told_apart(student.exercise, student.variant, lambda v: _kinds(v)[which] != student.kinds[which]
                               and matches(_kinds(v)[which]), cause=_MISMATCH_CAUSE)


# What each step function keeps between steps, by its contract's name, and its shape for weights of a shape
_KEPT = {"momentum_step": "velocity", "adaptive_step": "moments"}
_STEP_OF = {"momentum": "momentum_step", "adaptive": "adaptive_step"}  # fit()'s optimizer -> the step it calls


def _kept_shape(function: str, shape: tuple) -> tuple:
    return shape if function == "momentum_step" else (3, *shape)


def _pair(r, function: str, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """A step's (new_weights, what it keeps), both float64 arrays of their shapes, or the Feedback that says what came back."""
    kept, kept_shape = _KEPT[function], _kept_shape(function, shape)
    value = r.value
    expected = f"(new_weights, new_{kept}): two float64 arrays of shapes {shape} and {kept_shape}"
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise r.fail(f"got {describe(value)}", expected, hint=f"return both: `return new_weights, new_{kept}`")
    got = []
    for item, want in zip(value, (shape, kept_shape)):
        if not isinstance(item, np.ndarray) or item.dtype.kind != "f" or item.shape != want:
            raise r.fail(f"got ({describe(value[0])}, {describe(value[1])})", expected,
                         hint="np.asarray(x, np.float64) makes an array of any number or list; keep every shape as the docstring gives it")
        if item.dtype != np.float64:
            raise r.fail(f"got ({describe(value[0])}, {describe(value[1])})", expected,
                         cause=f"{item.dtype} keeps about 7 digits, and the steps are compared with Keras's float64 ones to about 9",
                         hint="compute in float64 from start to end: no float32 array or astype(np.float32) on the way")
        got.append(item)
    return got[0], got[1]


def _run(student, function: str, weights, gradients, shown: str, **kwargs):
    """The student's weights after each step, calling `function` once per gradient and handing back what it
    keeps; stops at the first call that fails (raising its Feedback). Returns [(call, weights), ...]."""
    w, state, out = weights, np.zeros(_kept_shape(function, weights.shape)), []
    for k, gradient in enumerate(gradients, 1):
        step = {"step": k} if function == "adaptive_step" else {}
        r = student.call(function, w, gradient, state, shown=f"{shown}; call {k} of {len(gradients)}", expect="the weights Keras has after this step",
                         **step, **kwargs)
        w, state = _pair(r, function, weights.shape)
        if not np.all(np.isfinite(w)):
            if function == "adaptive_step":
                cause, hint = ("a division by zero or an overflow: `step` is 1 at the first step, and the moments start at zero",
                               "print the moments and the bias corrections for step 1: 1 - beta ** step is 0 only where step is 0")
            else:
                cause, hint = ("an overflow: the steps grow instead of shrinking, a velocity that adds up instead of decaying",
                               "print the velocity for the first few steps: from zero, it should stay of the size of a few plain steps")
            raise r.fail(f"after step {k}, new_weights holds {short(w)}", "finite weights", cause=cause, hint=hint)
        out.append((r, w))
    return out


def _first_difference(run, expected, atol_at) -> int | None:
    """The first step (from 1) whose weights differ from `expected` beyond atol_at(step, expected weights)."""
    for k, ((_, got), want) in enumerate(zip(run, expected), 1):
        if not np.all(np.abs(got - want) <= atol_at(k, want)):
            return k
    return None


def _same_run(run, expected, atol_at) -> bool:
    return _first_difference(run, expected, atol_at) is None


# ---------------------------------------------------------------- momentum_step


def _momentum_case(student, purpose: str, shape: tuple):
    rng = _rng(student, purpose)
    weights, gradients = ref.gradient_sequence(rng.integers(2**31), shape, _STEPS)
    return weights, gradients, float(rng.choice(_RATES)), float(rng.choice(_MOMENTA))


def _momentum_atol(k, want):
    return _MOMENTUM_RTOL * (1 + np.abs(want))


def test_momentum_step_matches_keras(student):
    kind = student.kinds["momentum"]
    for purpose, shape in (("momentum matrix", (4, 3)), ("momentum vector", (7,))):
        weights, gradients, lr, mom = _momentum_case(student, purpose, shape)
        shown = f"weights, gradient ({purpose.split()[1]} of shape {shape} drawn for your file), velocity"
        run = _run(student, "momentum_step", weights, gradients, shown, learning_rate=lr, momentum=mom)
        expected = ref.keras_steps(kind, weights, gradients, lr, momentum=mom)
        k = _first_difference(run, expected, _momentum_atol)
        if k is None:
            continue
        r, got = run[k - 1]
        told = _other_variant(student, "momentum", lambda other: _same_run(run, ref.keras_steps(other, weights, gradients, lr, momentum=mom), _momentum_atol))
        if told:
            raise told(r, f"after {len(run)} steps its weights are {short(run[-1][1])}")
        cause = ""
        if _same_run(run, ref.keras_steps("sgd", weights, gradients, lr), _momentum_atol):
            cause = "every step is a plain gradient step: the velocity is not carried from one step to the next (is the returned velocity the new one?)"
        elif k == 1:
            moved = float(np.median((run[0][1] - weights) / (-lr * gradients[0])))
            cause = (f"already the first step differs, from a zero velocity: your weights moved by about {moved:.4g} plain gradient steps "
                     f"(learning_rate times the gradient{', downhill' if moved > 0 else ': uphill'}); work out how many {_NAMES[kind]}'s first step is")
        else:
            cause = f"the first {k - 1} steps agree with Keras's and step {k} does not: the velocity carried from one step to the next differs from the one Keras keeps"
        raise r.fail(f"after step {k}: {short(got)}", f"{short(expected[k - 1])}, the weights keras.optimizers.{_NAMES[kind]} has after step {k} "
                     f"(learning_rate={lr}, momentum={mom})", cause=cause,
                     hint="write the velocity's update and the weights' update on paper for two steps, from a zero velocity, and compare them with "
                          "what Keras's SGD documentation says it does; use the arguments learning_rate and momentum, not numbers of your own")


@depends_on(test_momentum_step_matches_keras, earns="leaving the caller's arrays alone")
def test_momentum_step_leaves_input(student):
    weights, gradients, lr, mom = _momentum_case(student, "momentum leaves", (3, 5))
    velocity = -lr * gradients[0]
    given = (weights.copy(), gradients[1].copy(), velocity.copy())
    r = student.call("momentum_step", weights, gradients[1], velocity, learning_rate=lr, momentum=mom,
                     shown="weights, gradient, velocity (3 x 5, drawn for your file)", expect="new arrays; weights and gradient unchanged")
    _pair(r, "momentum_step", weights.shape)
    for name, before, after in zip(("weights", "gradient"), given, r.args_after):
        if not np.array_equal(before, after):
            raise r.fail(f"afterwards the caller's {name} had changed", f"{name} left untouched",
                         cause=f"an in-place update of {name} (`{name} -= ...` or `{name} += ...` changes the caller's array)",
                         hint="compute new arrays: `new_weights = weights + ...`", contract="weights and gradient are left unchanged")


# ---------------------------------------------------------------- largest_stable_rate

_RATE_RTOL = 1e-6
_CURVATURE_EIGHTHS = (4, 400)  # curvatures k / 8 (exact in float32): from 0.5 to 50


def test_largest_stable_rate_values(student):
    kind = student.kinds["momentum"]
    rng = _rng(student, "largest stable rate")
    cases = [(float(rng.integers(*_CURVATURE_EIGHTHS)) / 8, float(m)) for m in rng.choice(_MOMENTA + (0.5,), size=3, replace=False)]
    cases.append((float(rng.integers(*_CURVATURE_EIGHTHS)) / 8, 0.0))  # no momentum: lesson 6's 2 / h
    for h, mom in cases:
        r = student.call("largest_stable_rate", curvature=h, momentum=mom)
        if not r.not_started:  # an untouched stub's grading imports no Keras
            want = ref.largest_stable_rate(kind, h, mom)
            r.expect = f"{want:.10g}"
        got = r.value
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.integer, np.floating)) or not np.isfinite(got):
            raise r.fail(f"got {describe(got)}", f"a float, {want:.10g}", hint="return the learning rate as a number")
        if abs(got - want) <= _RATE_RTOL * want:
            continue
        told = _other_variant(student, "momentum", lambda other: abs(got - ref.largest_stable_rate(other, h, mom)) <= _RATE_RTOL * want)
        if told:
            raise told(r, f"it returned {got:.10g}")
        if mom and abs(got - 2 / h) <= _RATE_RTOL * want:
            cause = ("plain SGD's bound, 2 / h: with momentum, the velocity carries part of each step into the next, so a step is no "
                     "longer one factor times the weight, and the bound moves")
        else:
            cause = (f"your momentum_step along this direction (learning rate {got:.6g}) would "
                     + ("still converge: the bound lies further out" if got < want else "already diverge: the bound lies below"))
        raise r.fail(f"{got:.10g}", f"{want:.10g}, where {_NAMES[kind]}'s steps stop converging on f(w) = {h:g} * w**2 / 2 "
                     f"(momentum={mom})", cause=cause,
                     hint="write one step as a map of (weight, velocity) to the next (weight, velocity): it is linear, a 2 x 2 matrix "
                     "whose entries hold learning_rate * h and momentum. The weight converges from every start while both of its "
                     "eigenvalues are smaller than 1 in size; find the rate where one reaches size 1")


# ---------------------------------------------------------------- adaptive_step


def _adaptive_atol(lr):
    return lambda k, want: _ADAPTIVE_ATOL_PER_STEP * lr * k + 1e-12


def _adaptive_hyper(student, purpose: str) -> dict:
    rng = _rng(student, purpose + " hyperparameters")
    return dict(learning_rate=float(rng.choice(_ADAPTIVE_RATES)), beta_1=float(rng.choice(_BETA_1)), beta_2=float(rng.choice(_BETA_2)))


_ADAPTIVE_CAUSE = ("a moment, its bias correction or the division differs from {name}'s: the first step of every weight should be about the "
                   "learning rate, and each moment must carry over from one step to the next in the moments array")
# What each optimizer's contract adds, said where its steps differ and no simpler cause fits
_ADAPTIVE_DETAIL = {"adam": "",
                    "amsgrad": "; AMSGrad's maximum is over the second moments before their bias correction, as the docstring says",
                    "adamax": ""}


def _adaptive_cause(kind: str) -> str:
    return _ADAPTIVE_CAUSE.format(name=_NAMES[kind]) + _ADAPTIVE_DETAIL[kind]


def _first_step_cause(ratio: np.ndarray, hyper: dict) -> str:
    """What the first step's size says, as multiples of the learning rate (the right first step is the learning
    rate itself for every weight, whatever its gradient's size)."""
    b1, b2 = hyper["beta_1"], hyper["beta_2"]
    if np.ptp(np.log(ratio)) > 1:  # sizes that follow the gradient's size
        return "the step follows the gradient's size: it is not divided by a running size of that weight's gradients"
    for value, cause in (((1 - b1) / np.sqrt(1 - b2), "neither moment is bias-corrected"),
                         (1 / np.sqrt(1 - b2), "the first moment is corrected, the second is not"),
                         (1 - b1, "the second moment is corrected, the first is not")):
        if np.allclose(ratio, value, rtol=1e-3):
            return (f"each weight moved by {value:.4g} times the learning rate: {cause}; a moving average started at zero holds only "
                    "1 - beta ** step of its weight after `step` steps (lesson 6, 'Optimizers by hand')")
    return ""


def test_adaptive_step_bias_correction(student):
    kind, shape = student.kinds["adaptive"], (6,)
    hyper = _adaptive_hyper(student, "first steps")
    weights, gradients = ref.gradient_sequence(_rng(student, "first steps").integers(2**31), shape, 3)
    run = _run(student, "adaptive_step", weights, gradients,
               f"weights, gradient (6 weights, their gradients from about 0.001 to 20 in size, drawn for your file), moments",
               epsilon=_EPSILON, **hyper)
    expected = ref.keras_steps(kind, weights, gradients, epsilon=_EPSILON, **hyper)
    k = _first_difference(run, expected, _adaptive_atol(hyper["learning_rate"]))
    if k is None:
        return
    r, got = run[k - 1]
    atol = _adaptive_atol(hyper["learning_rate"])
    told = _other_variant(student, "adaptive", lambda other: _same_run(run, ref.keras_steps(other, weights, gradients, epsilon=_EPSILON, **hyper), atol))
    if told:
        raise told(r, f"after {len(run)} steps its weights are {short(run[-1][1])}")
    cause = _first_step_cause(np.abs(run[0][1] - weights) / hyper["learning_rate"], hyper) if k == 1 else ""
    raise r.fail(f"after step {k}: {short(got)}", f"{short(expected[k - 1])}, the weights keras.optimizers.{_NAMES[kind]} has after step {k} ({hyper})",
                 cause=cause or _adaptive_cause(kind), hint="after one step from zero moments, what does each bias-corrected moment equal? Then each weight's first step "
                 "is the learning rate itself, whatever its gradient's size (lesson 6, 'Optimizers by hand')")


def test_adaptive_step_matches_keras(student):
    kind, shape = student.kinds["adaptive"], (4, 3)
    hyper = _adaptive_hyper(student, "trajectory")
    weights, gradients = ref.gradient_sequence(_rng(student, "trajectory").integers(2**31), shape, _STEPS, fall_at=_FALL, rise_at=_RISE)
    run = _run(student, "adaptive_step", weights, gradients,
               f"weights, gradient (4 x 3, drawn for your file; the gradients a hundred times smaller from step {_FALL + 1}, "
               f"three times larger than at first from step {_RISE + 1}), moments",
               epsilon=_EPSILON, **hyper)
    expected = ref.keras_steps(kind, weights, gradients, epsilon=_EPSILON, **hyper)
    atol = _adaptive_atol(hyper["learning_rate"])
    k = _first_difference(run, expected, atol)
    if k is None:
        return
    r, got = run[k - 1]
    told = _other_variant(student, "adaptive", lambda other: _same_run(run, ref.keras_steps(other, weights, gradients, epsilon=_EPSILON, **hyper), atol))
    if told:
        raise told(r, f"after {len(run)} steps its weights are {short(run[-1][1])}")
    cause = ""
    if _same_run(run, ref.keras_steps(kind, weights, gradients, learning_rate=hyper["learning_rate"], epsilon=_EPSILON), atol):
        cause = "the steps are those of the default betas 0.9 and 0.999: use the arguments beta_1 and beta_2"
    elif k == 1:
        cause = _first_step_cause(np.abs(run[0][1] - weights) / hyper["learning_rate"], hyper)
    elif k > _FALL:
        cause = (f"the steps agree until the gradients change size (from step {_FALL + 1}) and part ways after: "
                 + {"adam": "the second moment must follow the gradients down",
                    "amsgrad": "AMSGrad divides by the largest second moment so far (before its bias correction), kept in the moments from step to step",
                    "adamax": "Adamax's running maximum of the gradients' sizes must be able to fall when they do"}[kind])
    raise r.fail(f"after step {k}: {short(got)}", f"{short(expected[k - 1])}, the weights keras.optimizers.{_NAMES[kind]} has after step {k} ({hyper})",
                 cause=cause or _adaptive_cause(kind), hint=f"read {_NAMES[kind]}'s step in its paper (lesson 6 names it) and write it for two steps on paper, "
                 "from zero moments; keep in the moments array everything the next step needs")


@depends_on(test_adaptive_step_matches_keras, earns="leaving the caller's arrays alone")
def test_adaptive_step_leaves_input(student):
    shape = (2, 5)
    weights, gradients = ref.gradient_sequence(_rng(student, "adaptive leaves").integers(2**31), shape, 2)
    moments = np.stack([0.1 * gradients[0], 0.001 * gradients[0] ** 2, 0.001 * gradients[0] ** 2])
    given = (weights.copy(), gradients[1].copy(), moments.copy())
    r = student.call("adaptive_step", weights, gradients[1], moments, step=2, shown="weights, gradient, moments (2 x 5, drawn for your file), step=2",
                     expect="new arrays; weights, gradient and moments unchanged")
    _pair(r, "adaptive_step", shape)
    for name, before, after in zip(("weights", "gradient", "moments"), given, r.args_after):
        if not np.array_equal(before, after):
            raise r.fail(f"afterwards the caller's {name} had changed", f"{name} left untouched",
                         cause=f"an in-place update of {name} (`{name}[0] = ...`, `{name} *= ...` or an unpacked row changed in place)",
                         hint="build new arrays and return them (np.stack([m, v, ...]) makes a new moments array)",
                         contract="weights, gradient and moments are left unchanged")


# ---------------------------------------------------------------- fit


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
