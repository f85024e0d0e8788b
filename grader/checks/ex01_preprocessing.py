"""Exercise 01 · Preprocessing MNIST: the graded checks.

Each test is one check; its points, function, hints and lesson section live in
course.toml under the same name (without "test_"). Every check calls the
student's code through `student.call` (a child process) and judges the plain
data that comes back against the contract in the exercise's docstrings.

The checks live in grader/checks/ex01/, one module per graded function with its teaching
messages (`normalize`, `add_channel_axis`, `one_hot`, `train_val_split`, `stratified_folds`, `standardize`);
this module is what pytest collects: the module's fixture (the seeds of standardize()'s images and of
train_val_split()'s and stratified_folds()'s labelled sets, drawn before any of the file's code runs), and the
checks imported in course.toml's order.
"""

import pytest


# The draws of standardize()'s images, of train_val_split()'s labelled sets for its class counts and of
# stratified_folds()'s (grader/draws.py): another purpose would draw every submission new ones.
STANDARDIZE_PURPOSE = "ex01 standardize's images"
SPLIT_PURPOSE = "ex01 train_val_split's class counts"
FOLDS_PURPOSE = "ex01 stratified_folds's labelled sets"


@pytest.fixture(scope="module", autouse=True)
def _draw_seeds(student, settings):
    """The seeds of standardize()'s images and of train_val_split()'s and stratified_folds()'s labelled sets: from
    the file's bytes and the run's draw key, read before any of its code runs, so that a file cannot hold answers
    worked out at home for fixed inputs."""
    student.standardize_seed = settings.draw(STANDARDIZE_PURPOSE, student.source_bytes())
    student.split_seed = settings.draw(SPLIT_PURPOSE, student.source_bytes())
    student.folds_seed = settings.draw(FOLDS_PURPOSE, student.source_bytes())
    yield


# The checks, in course.toml's order (pytest collects them here, so they share this module's worker and fixtures).
from grader.checks.ex01.normalize import (  # noqa: E402, F401
    test_normalize_values,
)
from grader.checks.ex01.add_channel_axis import (  # noqa: E402, F401
    test_add_channel_axis_shape_values,
)
from grader.checks.ex01.one_hot import (  # noqa: E402, F401
    test_one_hot_values,
)
from grader.checks.ex01.train_val_split import (  # noqa: E402, F401
    test_train_val_split_sizes,
    test_train_val_split_partition,
    test_train_val_split_class_counts,
    test_train_val_split_reproducible,
    test_train_val_split_leaves_input,
    test_train_val_split_rejects_bad_input,
)
from grader.checks.ex01.stratified_folds import (  # noqa: E402, F401
    test_stratified_folds_types,
    test_stratified_folds_class_balance,
    test_stratified_folds_fold_sizes,
    test_stratified_folds_reproducible,
    test_stratified_folds_rejects_bad_input,
)
from grader.checks.ex01.standardize import (  # noqa: E402, F401
    test_standardize_train_moments,
    test_standardize_applies_the_training_map,
    test_standardize_constant_positions,
    test_standardize_leaves_input,
    test_standardize_rejects_bad_input,
)
