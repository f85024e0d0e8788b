"""ex05c's check of largest_stable_rate(), and its messages."""

from __future__ import annotations

import numpy as np

from grader.feedback import describe
from grader.references import ex05c_optimizers as ref
from grader.checks.ex05c.common import _MOMENTA, _NAMES, _other_variant, _rng


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
