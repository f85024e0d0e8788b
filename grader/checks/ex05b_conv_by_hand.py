"""Exercise 05b · A convolution by hand: the graded checks.

Each test is one check; its points, function, hints and lesson section live in
course.toml under the same name (without "test_"). The student's conv2d and
max_pool2d are compared with what Keras's layers compute (Conv2D with the
student's kernels and bias set as its weights, MaxPooling2D): the reference is
SciPy's float64 cross-correlation and maximum filter (`Case.expected`,
`max_pooled` in grader/references/ex05b_conv_by_hand.py, `ref` here), which
tests/test_references.py holds equal to real Keras layers on every case below;
scipy.ndimage is far lighter to import than Keras or TensorFlow, and the worker
refuses it, so a student cannot paste it. The variants below compute the classic mistakes
(a flipped kernel, the odd padding row on top, ...) only to name the likely
cause of a mismatch.

Each student has a variant (course.toml: the kernels' DILATION and the pool's
side POOL, two numbers at the top of the file), and every check grades that
one. An answer that is exactly another variant's (a classmate's file, or the
file's numbers left at the first variant's) fails with the message that names
both variants (grader/variants.py `told_apart`), never "your code is wrong".

The checks' sizes, as course.toml states them: batches of N = 2 seeded
standard-normal float32 images of 7 x 9, 8 x 6, 9 x 8 or 6 x 7 pixels (then
grown by the kernel's size - 1, `ref.GROWTH`, the same for every variant) with
C_in = 1 or 3 channels, kernels from 1 x 1 to 5 x 5 (odd and even, square and
not) with C_out = 1 or 4 filters, strides 1, 2 and 3; pools of (2, 7, 9, 3)
and smaller. A pure-Python loop over every output value, window position
and channel (tests/test_alternatives.py's ex05b_loops) answers the largest of
these calls in about 3 ms of its own CPU time, and all of them in 0.02 s: far
inside the exercise's call_timeout_s.

The checks live in grader/checks/ex05b/, one module per graded function with its teaching
messages (`conv_output_size`, `conv2d`, `max_pool2d`, `conv2d_backward`, `max_pool2d_backward`); this
module is what pytest collects: the module's fixture (the cost probes' seed, drawn before any of the
file's code runs), and the checks imported in course.toml's order.
"""

from __future__ import annotations

import pytest


# The draw of the probes' numbers (grader/draws.py): another purpose would draw every submission new ones.
PROBE_PURPOSE = "ex05b conv2d_backward's cost probes"


@pytest.fixture(scope="module", autouse=True)
def _probe_seed(student, settings):
    """The seed of the cost probes' x, kernels and dout: from the file's bytes and the run's draw key,
    read before any of its code runs, so a file cannot hold the probes' answers (an adversarial review
    stored them, worked out at home, when the probes were seeded with constants)."""
    student.probe_seed = settings.draw(PROBE_PURPOSE, student.source_bytes())
    yield


# The checks, in course.toml's order (pytest collects them here, so they share this module's worker and fixtures).
from grader.checks.ex05b.conv_output_size import (  # noqa: E402, F401
    test_conv_output_size_values,
    test_conv_output_size_rejects_bad_input,
)
from grader.checks.ex05b.conv2d import (  # noqa: E402, F401
    test_conv2d_shape_dtype,
    test_conv2d_one_channel,
    test_conv2d_channels,
    test_conv2d_stride,
    test_conv2d_same_padding,
    test_conv2d_rejects_bad_input,
)
from grader.checks.ex05b.max_pool2d import (  # noqa: E402, F401
    test_max_pool2d_values,
)
from grader.checks.ex05b.conv2d_backward import (  # noqa: E402, F401
    test_conv2d_backward_dx,
    test_conv2d_backward_dkernels,
    test_conv2d_backward_dbias,
    test_conv2d_backward_dtypes,
    test_conv2d_backward_rejects_bad_input,
)
from grader.checks.ex05b.max_pool2d_backward import (  # noqa: E402, F401
    test_max_pool2d_backward_values,
    test_max_pool2d_backward_ties,
)
