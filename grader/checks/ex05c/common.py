"""What several of ex05c's check modules share: the variant's optimizers, the numbers drawn from, the
tolerances, and how a sequence of the student's steps is run and compared.
"""

from __future__ import annotations

import numpy as np

from grader import variants
from grader.feedback import describe, short


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
