"""Every check of the model exercises (2, 3 and 5) proven in the failing direction.

Each mutation is the reference with one plausible student mistake, and names
the checks it must fail: the check it targets and those that depend on it
(a model the grader refuses to train also fails the checks that need the
training). The whole corpus is graded as a class in one `grader --batch`
run; each failed check must teach: what came back, what was expected, the
likely cause and a hint, never a traceback. A test also keeps the corpus
covering every check of these exercises in course.toml.

The correct-but-different direction is tests/test_alternatives.py; the other
exercises' mutations are in tests/test_mutations.py.
"""

import pytest

from corpus import COURSE, assert_teaches, checks_of, edited, grade_class

ACCURACY = "build_model_test_accuracy"
EFFECTIVE = "training_settings_early_stopping_effective"

EX02_MODEL = """            keras.Input(shape=(28, 28)),
            layers.Rescaling(1 / 255),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dense(10, activation="softmax"),"""
EX02_SETTINGS = 'return {"epochs": 20, "batch_size": 128, "validation_split": 0.1}'
EX03_SETTINGS = 'return {"epochs": 50, "batch_size": 128, "validation_split": 0.1, "callbacks": [slower, stop]}'
EX05_HEAD = """            keras.Input(shape=(28, 28, 1)),
            layers.Rescaling(1 / 255),"""
COMPILE = 'model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])'
FROM_LOGITS = 'model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])'

# name: (exercise, {reference text: mutated text}, the checks it must fail)
MUTATIONS = {
    # ex02 · a first dense network
    "ex02_flattened_input": ("ex02", {EX02_MODEL: EX02_MODEL.replace("shape=(28, 28)", "shape=(784,)").replace("            layers.Flatten(),\n", "")},
                             {"build_model_accepts_images", "build_model_outputs_probabilities", ACCURACY}),
    "ex02_nine_outputs": ("ex02", {'layers.Dense(10, activation="softmax")': 'layers.Dense(9, activation="softmax")'},
                          {"build_model_outputs_10_classes", "build_model_outputs_probabilities", ACCURACY}),
    # logits with a matching loss train well, but the contract asks for probabilities
    "ex02_logits_output": ("ex02", {'layers.Dense(10, activation="softmax")': "layers.Dense(10)", COMPILE: FROM_LOGITS},
                           {"build_model_outputs_probabilities"}),
    "ex02_softmax_from_logits": ("ex02", {COMPILE: FROM_LOGITS}, {"build_model_loss_fits_output", ACCURACY}),
    "ex02_too_wide": ("ex02", {"layers.Dense(512": "layers.Dense(1024"}, {"build_model_within_parameter_budget", ACCURACY}),
    "ex02_unscaled_inputs": ("ex02", {"            layers.Rescaling(1 / 255),\n": ""}, {ACCURACY}),
    "ex02_batch_of_one": ("ex02", {EX02_SETTINGS: 'return {"epochs": 30, "batch_size": 1, "validation_split": 0.1}'}, {ACCURACY}),
    "ex02_unknown_setting": ("ex02", {EX02_SETTINGS: EX02_SETTINGS.replace("}", ', "optimizer": "adam"}')},
                             {"training_settings_valid", "training_settings_labels_match_loss", ACCURACY}),
    "ex02_one_hot_with_sparse_loss": ("ex02", {EX02_SETTINGS: EX02_SETTINGS.replace("}", ', "labels": "one-hot"}')},
                                      {"training_settings_labels_match_loss", ACCURACY}),
    # ex03 · deeper dense networks and overfitting
    "ex03_sigmoid_output": ("ex03", {'layers.Dense(10, activation="softmax")': 'layers.Dense(10, activation="sigmoid")'},
                            {"build_model_shapes", "build_model_loss_fits_output", ACCURACY, EFFECTIVE}),
    "ex03_softmax_from_logits": ("ex03", {COMPILE: FROM_LOGITS}, {"build_model_loss_fits_output", ACCURACY, EFFECTIVE}),
    "ex03_one_hidden_layer": ("ex03", {'            layers.Dense(256, activation="relu"),\n            layers.Dropout(dropout_rate),\n': ""},
                              {"build_model_two_hidden_layers"}),
    "ex03_fixed_dropout": ("ex03", {"layers.Dropout(dropout_rate)": "layers.Dropout(0.3)"}, {"build_model_dropout_rate"}),
    "ex03_too_wide": ("ex03", {"layers.Dense(512": "layers.Dense(1500"}, {"build_model_within_parameter_budget", ACCURACY, EFFECTIVE}),
    "ex03_tiny_layers": ("ex03", {"layers.Dense(512": "layers.Dense(16", "layers.Dense(256": "layers.Dense(16"}, {ACCURACY}),
    "ex03_half_the_data_for_validation": ("ex03", {EX03_SETTINGS: EX03_SETTINGS.replace('"validation_split": 0.1', '"validation_split": 0.6')},
                                          {"training_settings_valid", "training_settings_early_stopping", EFFECTIVE, ACCURACY}),
    "ex03_last_weights_kept": ("ex03", {"patience=8, restore_best_weights=True": "patience=8"},
                               {"training_settings_early_stopping", EFFECTIVE}),
    "ex03_never_stops": ("ex03", {EX03_SETTINGS: EX03_SETTINGS.replace('"epochs": 50', '"epochs": 12')}, {EFFECTIVE}),
    # ex05 · convolutional networks
    "ex05_no_channel_axis": ("ex05", {EX05_HEAD: "            keras.Input(shape=(28, 28)),\n            layers.Reshape((28, 28, 1)),\n            layers.Rescaling(1 / 255),"},
                             # ex05's output check also runs the model on images, which needs the right input
                             {"build_model_accepts_images", "build_model_outputs_10_classes", ACCURACY}),
    "ex05_eight_outputs": ("ex05", {'layers.Dense(10, activation="softmax")': 'layers.Dense(8, activation="softmax")'},
                           {"build_model_outputs_10_classes", ACCURACY}),
    "ex05_softmax_from_logits": ("ex05", {COMPILE: FROM_LOGITS}, {"build_model_loss_fits_output", ACCURACY}),
    # without convolutions a dense network is also weaker than the bar
    "ex05_dense_only": ("ex05", {'            layers.Conv2D(32, 3, padding="same", activation="relu"),\n            layers.MaxPooling2D(),\n'
                                 '            layers.Conv2D(64, 3, padding="same", activation="relu"),\n            layers.MaxPooling2D(),\n'
                                 '            layers.Conv2D(64, 3, activation="relu"),\n': ""},
                        {"build_model_convolution_and_pooling", ACCURACY}),
    "ex05_too_wide": ("ex05", {"layers.Dense(128": "layers.Dense(1024"}, {"build_model_within_parameter_budget", ACCURACY}),
    "ex05_two_epochs": ("ex05", {'return {"epochs": 20,': 'return {"epochs": 2,'}, {ACCURACY}),
    "ex05_too_many_epochs": ("ex05", {'return {"epochs": 20,': 'return {"epochs": 31,'}, {"training_settings_valid", ACCURACY}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mnist_path):
    submissions = {name: (ex, edited(ex, edits, name)) for name, (ex, edits, _) in MUTATIONS.items()}
    return grade_class(submissions, tmp_path_factory.mktemp("model-mutants"), mnist_path)


def test_the_corpus_covers_every_check_of_the_model_exercises():
    covered = {(ex_id, check) for ex_id, _, failing in MUTATIONS.values() for check in failing}
    missing = [(ex.id, check) for ex in COURSE.exercises if ex.training for check in ex.checks if (ex.id, check) not in covered]
    assert missing == []


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_a_mistake_fails_exactly_its_checks_with_a_message_that_teaches(graded, name):
    exercise_id, _, expected = MUTATIONS[name]
    checks = checks_of(graded, name, exercise_id)
    failed = {c["name"]: c["message"] for c in checks if c["status"] != "passed"}
    assert set(failed) == expected, failed
    for check, message in failed.items():
        assert next(c["status"] for c in checks if c["name"] == check) == "failed", check
        assert_teaches(exercise_id, check, message)
