"""Exercise 05 · Convolutional networks: the graded checks.

Shared model checks live in grader/training/model_checks.py; new here are the input
with its channel axis and the convolution and pooling layers.
"""


def test_build_model_accepts_images(submission):
    submission.check_input()


def test_build_model_outputs_10_classes(submission):
    submission.check_output()
    submission.check_probabilities()


def test_build_model_loss_fits_output(submission):
    submission.check_loss()


def test_build_model_convolution_and_pooling(submission):
    submission.check_conv_and_pooling()


def test_build_model_within_parameter_budget(submission):
    submission.check_parameters()


def test_build_model_test_accuracy(submission, check):
    submission.check_accuracy(check)


def test_training_settings_valid(submission):
    submission.check_settings()
    submission.check_labels_match_loss()
