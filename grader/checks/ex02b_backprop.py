"""Exercise 02b · Backpropagation by hand: the graded checks.

Each test is one check; its points, function, hints and lesson section live in
course.toml under the same name (without "test_"). The student's functions run
in the worker; everything they are judged against is computed on the
grader's side: the reference forward pass and gradients of
grader/references/ex02b_backprop.py (`ref`, never imported from solutions/), centred finite differences of the grader's
own loss, tf.GradientTape on the same weights, and, for train(), what it
learns twice: a small task drawn for this submission alone (from the run's draw key
and the file's hash, so weights prepared in advance cannot know it; train() is handed
a seed of its own, from which the task cannot be rebuilt), and MNIST, whose accuracy on this run's half of the test set (which student
code never sees) counts only for a train() that learned the first. The grader replays
both trainings itself, on the very calls it grades (grader/checks/ex02b/replay.py), and
credits only parameters the contract's steps reach. MNIST reaches train() with each
image's 784 pixels mixed by a rotation drawn for this grading (an orthogonal matrix,
from the run's draw key and the file's hash, grader/draws.py), the test images mixed
alike: a dense network learns them as well as the pixels themselves (its first layer
takes any rotation in; measured per variant in course.toml), but weights trained
beforehand on MNIST read them as noise. Neither the rotation nor the drawn order of the
pixels it replaced stops a determined file alone: adversarial reviews undid the order
from each pixel's sum and the rotation from the rotated images' covariance, and mapped
weights trained at home onto them (25/25 each); the replay of the MNIST training does.

Each student has a variant, the hidden activation (course.toml: relu, leaky_relu, tanh, elu), whose
derivative the backward pass needs; every reference here computes with it, and an answer that is
exactly another variant's is told apart as such. A slope f'(z1) taken numerically from f alone
(finite differences of the activation in float64 at a fixed step, element by element) agrees with
TensorFlow's gradients to 1e-6 but never to rounding, and `gradients_derived` tells it apart on hidden
sums spread from 0 to 1 (an adversarial review had earned 25/25 so on tanh before it). What no output
can tell (a second review, 27/27 each): a complex step or dual numbers, a high-order scheme whose step
shrinks with |z|, differences in long double, or on relu's and leaky_relu's straight pieces a
difference whose step scales with |z| (the slope itself, once 0 is taken apart) is as exact as a
derivation; the derivation itself is asked as a written question, graded by a person.

The checks live in grader/checks/ex02b/, one module per graded function with its teaching
messages (`init_params`, `loss`, `gradients`, `sgd_settings`, `train`); this module is what pytest
collects: the module's fixture (the unseen task's seed, train()'s seed, the problems the loss and
gradient checks pose and MNIST's rotation, drawn before any of the file's code runs), and the
checks imported in course.toml's order. The problems are drawn, never fixed: an adversarial review
answered fixed ones from a table of tf.GradientTape's gradients made at home, 7/7, without a chain rule.
"""

from __future__ import annotations

import pytest

from grader.checks.ex02b.common import _hidden
from grader.references import ex02b_backprop as ref  # the rotation of MNIST's pixels


# The draws (grader/draws.py): another purpose would draw every submission a new one.
UNSEEN_TASK_PURPOSE = "ex02b unseen task"
TRAIN_SEED_PURPOSE = "ex02b train seed"  # train()'s own: an adversarial review rebuilt the task from the seed train() was handed
PROBLEMS_PURPOSE = "ex02b loss and gradient problems"
PIXEL_MIX_PURPOSE = "ex02b MNIST pixel rotation"


@pytest.fixture(scope="module", autouse=True)
def _unseen_seed(student, settings, variant):
    """The seed of the submission's unseen task and of its train() there, the problems the loss and
    gradient checks pose, and the rotation of MNIST's pixels it is trained on: from the hash of its
    file, read before any of its code runs, so nothing it does while graded changes them. Each is a
    function of the submission, the grader and the run's draw key alone, never of the clock. Also
    the variant graded and its hidden activation, which every check's reference computes with."""
    student.variant, student.hidden = variant, _hidden(variant)
    content = student.source_bytes()
    student.unseen_seed = settings.draw(UNSEEN_TASK_PURPOSE, content) >> 32  # < 2**31, as a seed is shown
    student.train_seed = settings.draw(TRAIN_SEED_PURPOSE, content) >> 32
    student.problem_seed = settings.draw(PROBLEMS_PURPOSE, content)
    student.pixel_mix = ref.rotation(settings.draw(PIXEL_MIX_PURPOSE, content))
    yield


# The checks, in course.toml's order (pytest collects them here, so they share this module's worker and fixtures).
from grader.checks.ex02b.init_params import (  # noqa: E402, F401
    test_init_params_shapes_dtypes,
    test_init_params_reproducible,
    test_init_params_breaks_symmetry,
    test_init_params_scale,
)
from grader.checks.ex02b.loss import (  # noqa: E402, F401
    test_loss_value,
    test_loss_stable,
)
from grader.checks.ex02b.gradients import (  # noqa: E402, F401
    test_gradients_shapes_dtypes,
    test_gradients_finite_differences,
    test_gradients_match_gradient_tape,
    test_gradients_derived,
)
from grader.checks.ex02b.sgd_settings import (  # noqa: E402, F401
    test_sgd_settings_within_budget,
)
from grader.checks.ex02b.train import (  # noqa: E402, F401
    test_train_learns_unseen_task,
    test_train_test_accuracy,
)
