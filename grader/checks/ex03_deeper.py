"""Exercise 03 · Deeper dense networks and overfitting: the graded checks.

Shared model checks live in grader/training/model_checks.py; the new ones here are a
dense body with two or more hidden layers (on which the accuracy depends), Dropout
at the requested rate after each hidden layer, and early stopping that is declared
and configured so that it can do its job (judged from the declaration, not from
whether one training happened to stop early).
"""

from grader.scoring import depends_on

REQUESTED_RATE = 0.25  # build_model(dropout_rate=...) must use the rate it is given


def test_build_model_shapes(submission):
    submission.check_input()
    submission.check_output()
    submission.check_probabilities()


def test_build_model_loss_fits_output(submission):
    submission.check_loss()


def test_build_model_two_hidden_layers(submission):
    submission.check_hidden_dense(2)


def test_build_model_dropout_rate(submission):
    submission.check_dropout_rate(REQUESTED_RATE)


def test_build_model_within_parameter_budget(submission):
    submission.check_parameters()


# The bars and budgets are set for a dense network of two or more hidden layers: another kind of model
# (a CNN reaches 97.9% within the tight budget) earns no accuracy here, and is not trained.
@depends_on(test_build_model_two_hidden_layers, earns="its accuracy: the bar is set for the dense network this exercise asks for")
def test_build_model_test_accuracy(submission, check):
    submission.check_accuracy(check)


def test_training_settings_valid(submission):
    submission.check_settings()
    submission.check_labels_match_loss()


def test_training_settings_early_stopping(submission):
    submission.early_stopping()


def test_training_settings_early_stopping_configured(submission):
    submission.check_early_stopping_configured()
