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

The checks live in grader/checks/ex05c/, one module per graded function with its teaching
messages (`momentum_step`, `largest_stable_rate`, `adaptive_step`, `fit`); this module is what pytest
collects: the module's fixture (the seed of every input, drawn before any of the file's code runs,
and the variant graded), and the checks imported in course.toml's order.
"""

from __future__ import annotations

import pytest

from grader.checks.ex05c.common import _kinds


DRAW_PURPOSE = "ex05c optimizers' inputs"


@pytest.fixture(scope="module", autouse=True)
def _draw_seed(student, settings, variant):
    """The seed of every input here, from the file's bytes and the run's draw key, read before any of its code
    runs; and the variant graded, whose optimizers every reference runs."""
    student.variant, student.kinds = variant, _kinds(variant)
    student.draw_seed = settings.draw(DRAW_PURPOSE, student.source_bytes())
    yield


# The checks, in course.toml's order (pytest collects them here, so they share this module's worker and fixtures).
from grader.checks.ex05c.momentum_step import (  # noqa: E402, F401
    test_momentum_step_matches_keras,
    test_momentum_step_leaves_input,
)
from grader.checks.ex05c.largest_stable_rate import (  # noqa: E402, F401
    test_largest_stable_rate_values,
)
from grader.checks.ex05c.adaptive_step import (  # noqa: E402, F401
    test_adaptive_step_bias_correction,
    test_adaptive_step_matches_keras,
    test_adaptive_step_leaves_input,
)
from grader.checks.ex05c.fit import (  # noqa: E402, F401
    test_fit_plain_sgd,
    test_fit_threads_your_steps,
)
