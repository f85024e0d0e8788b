"""ex05c's checks of adaptive_step(), and their messages."""

from __future__ import annotations

import numpy as np

from grader.feedback import short
from grader.references import ex05c_optimizers as ref
from grader.scoring import depends_on
from grader.checks.ex05c.common import (
    _ADAPTIVE_ATOL_PER_STEP, _ADAPTIVE_RATES, _BETA_1, _BETA_2, _EPSILON, _FALL, _NAMES, _RISE, _STEPS,
    _first_difference, _other_variant, _pair, _rng, _run, _same_run,
)


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
