"""Exercise 04 · Evaluating a classifier: the graded checks.

Each test is one check; its points, function, hints and lesson section live in
course.toml under the same name (without "test_"). Every check calls the
student's code through `student.call` (a child process) and judges the plain
data that comes back against the contract in the exercise's docstrings, using
the small reference computations of grader/references/ex04_evaluation.py (`ref`,
never imported from solutions/). Random inputs are drawn for each file when it is graded (`_input_seed`), so
that a table of answers worked out at home answers none of them (an adversarial review answered
precision_recall_f1 from one, 6/6, when they were fixed). The hand-made edge cases (missing and empty
classes, ties, fewer mistakes than k) keep their situation and take class labels and a sample order drawn
for the file (`ref.class_relabelling`, `ref.sample_order`): a table of answers to them as literals earned
confusion_matrix_missing_classes for a matrix sized by the labels seen (tests/test_integrity.py).

Each student has a variant (course.toml: PAIRS, how most_confused_pairs measures a confusion, and BINS,
how reliability_table bins the answers, two words at the top of the file), and the pairs and table
checks grade that one; pairs or a table that are exactly another variant's fail with the message that
names both (grader/variants.py `told_apart`).

The checks live in grader/checks/ex04/, one module per graded function with its teaching
messages (`confusion_matrix`, `precision_recall_f1`, `most_confused_pairs`, `most_confident_mistakes`,
`reliability_table`, `expected_calibration_error`, `mcnemar`, `compare_models`); this module is
what pytest collects: the module's fixtures, and the checks imported in course.toml's order.
"""

import pytest


# The draw's purpose, a salt: it keeps the words it had when only calibration's and McNemar's inputs were drawn,
# so that those stay what they were.
INPUTS_PURPOSE = "ex04 calibration's and McNemar's inputs"


@pytest.fixture(scope="module", autouse=True)
def _input_seed(student, settings):
    """The seed of every random input the checks pose: from the file's bytes and the run's draw key, read
    before any of its code runs, so that a file cannot hold tables or p-values worked out at home."""
    student.input_seed = settings.draw(INPUTS_PURPOSE, student.source_bytes())
    yield


# The checks, in course.toml's order (pytest collects them here, so they share this module's worker and fixtures).
from grader.checks.ex04.confusion_matrix import (  # noqa: E402, F401
    test_confusion_matrix_shape_dtype,
    test_confusion_matrix_values,
    test_confusion_matrix_missing_classes,
    test_confusion_matrix_rejects_bad_labels,
    test_confusion_matrix_rejects_bad_shapes,
)
from grader.checks.ex04.precision_recall_f1 import (  # noqa: E402, F401
    test_precision_recall_f1_shape_dtype,
    test_precision_recall_f1_values,
    test_precision_recall_f1_empty_classes,
    test_precision_recall_f1_rejects_bad_input,
)
from grader.checks.ex04.most_confused_pairs import (  # noqa: E402, F401
    test_most_confused_pairs_types,
    test_most_confused_pairs_values,
    test_most_confused_pairs_ties_and_few,
    test_most_confused_pairs_leaves_input,
    test_most_confused_pairs_rejects_bad_input,
)
from grader.checks.ex04.most_confident_mistakes import (  # noqa: E402, F401
    test_most_confident_mistakes_types,
    test_most_confident_mistakes_values,
    test_most_confident_mistakes_ties_and_few,
    test_most_confident_mistakes_leaves_input,
    test_most_confident_mistakes_rejects_bad_input,
)
from grader.checks.ex04.reliability_table import (  # noqa: E402, F401
    test_reliability_table_values,
    test_reliability_table_bin_edges,
    test_reliability_table_empty_bins,
)
from grader.checks.ex04.expected_calibration_error import (  # noqa: E402, F401
    test_expected_calibration_error_values,
)
from grader.checks.ex04.mcnemar import (  # noqa: E402, F401
    test_mcnemar_counts,
    test_mcnemar_p_value,
    test_mcnemar_large_counts,
)
from grader.checks.ex04.compare_models import (  # noqa: E402, F401
    test_compare_models_verdict,
)
