"""ex05c's checks of momentum_step(), and their messages (collected by grader/checks/ex05c_optimizers.py)."""

from __future__ import annotations

import numpy as np

from grader.feedback import short
from grader.references import ex05c_optimizers as ref
from grader.scoring import depends_on
from grader.checks.ex05c.common import (
    _MOMENTA, _MOMENTUM_RTOL, _NAMES, _RATES, _STEPS, _first_difference, _other_variant, _pair, _rng, _run,
    _same_run,
)


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
