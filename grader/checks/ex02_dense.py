"""Exercise 02 · A first dense network: the graded checks.

The student's build_model() and training_settings() run in the worker; every
check below judges what the grader itself found in the saved model, and the
accuracy check trains it in the grader's own trainer (grader/training/trainer.py).
The `submission` fixture (grader/plugin.py) holds one ModelSubmission per module.
The bars of the variants are set for a dense network trained by plain SGD, so the
accuracy counts once both are what the model declares (a CNN, or Adam, meets them
without the decision the exercise asks for).
"""

from grader.scoring import depends_on


def test_build_model_accepts_images(submission):
    submission.check_input()


def test_build_model_outputs_10_classes(submission):
    submission.check_output()


def test_build_model_outputs_probabilities(submission):
    submission.check_probabilities()


def test_build_model_loss_fits_output(submission):
    submission.check_loss()


def test_build_model_within_parameter_budget(submission):
    submission.check_parameters()


def test_build_model_dense_network(submission):
    submission.check_hidden_dense(1)


def test_build_model_plain_sgd(submission):
    submission.check_plain_sgd()


@depends_on(test_build_model_dense_network, test_build_model_plain_sgd,
            earns="its accuracy: the bar is set for a dense network that plain SGD trains, as your variant asks")
def test_build_model_test_accuracy(submission, check):
    submission.check_accuracy(check)


def test_training_settings_valid(submission):
    submission.check_settings()


def test_training_settings_labels_match_loss(submission):
    submission.check_labels_match_loss()
