"""Attacks on the grader found by an adversarial review of the capacity code
(issue 25), each proven both ways: the test fails with the fix switched off.

Cheap by design: no model is trained. Where the grader's trainer must run,
it only builds and inspects a model (a TensorFlow import, seconds).
"""

import copy
import json
import zipfile

import pytest

from grader.training import trainer as training
from grader.training.trainer import trainer_for
from grader.training.vetting import ModelRefused, model_config
from mnist_course.course import load_course
from grader.session import load_data

COURSE = load_course()
EX02 = COURSE.exercise("ex02")


def _sequential(layers: list[dict]) -> dict:
    """A Sequential model's configuration as Keras writes it (an Input of (28, 28), then `layers`), compiled."""
    return {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {
            "name": "sequential",
            "trainable": True,
            "dtype": "float32",
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "registered_name": None,
                    "config": {"batch_shape": [None, 28, 28], "dtype": "float32", "sparse": False, "name": "input_layer"},
                },
                *layers,
            ],
            "build_input_shape": [None, 28, 28],
        },
        "compile_config": {
            "optimizer": "adam",
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
            "loss_weights": None,
            "weighted_metrics": None,
            "run_eagerly": False,
            "steps_per_execution": 1,
            "jit_compile": False,
        },
    }


_NAMES = iter(range(1_000_000))


def _layer(class_name: str, module: str = "keras.layers", **config) -> dict:
    return {"module": module, "class_name": class_name, "registered_name": None, "config": {"name": f"layer_{next(_NAMES)}", **config}}


def _saved(tmp_path, config: dict) -> str:
    """`config` as the .keras file a student's own `save()` can write: config.json alone."""
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    return str(path)


LSTM = _layer("LSTM", units=32)
SOFTMAX = _layer("Dense", units=10, activation="softmax")


@pytest.mark.parametrize(
    "module, class_name",
    [
        ("keras", "layers.LSTM"),  # Keras resolves "keras" + "layers.LSTM" to keras.layers.LSTM
        ("keras._tf_keras.keras.layers", "LSTM"),  # the tf.keras compatibility package exports every layer
        ("keras.api.layers", "LSTM"),
    ],
)
def test_a_layer_named_through_an_alias_module_is_refused_like_the_layer_itself(tmp_path, module, class_name):
    # The refused layers (issue 25: attention, recurrent layers) were refused by
    # their module being "keras.layers"; the same class named through another
    # module Keras resolves passed the check and trained with its work undercounted.
    plain = _sequential([LSTM, SOFTMAX])
    with pytest.raises(ModelRefused):
        model_config(_saved(tmp_path, plain))
    aliased = copy.deepcopy(plain)
    aliased["config"]["layers"][1].update(module=module, class_name=class_name)
    with pytest.raises(ModelRefused):
        model_config(_saved(tmp_path, aliased))


@pytest.fixture(scope="module")
def trainer(mnist_path):
    return trainer_for(load_data(mnist_path))


def test_the_trainer_refuses_a_layer_whose_work_is_not_counted_whatever_module_names_it(tmp_path, trainer):
    # keras.src.quantizers.gptq imports EinsumDense, so Keras builds an
    # EinsumDense from that module's name: no module list can name every such
    # path, so the trainer checks the classes it actually built.
    einsum = _layer(
        "EinsumDense", module="keras.src.quantizers.gptq", equation="abc,cd->abd", output_shape=[28, 64], bias_axes="d"
    )
    config = _sequential([einsum, _layer("Flatten"), SOFTMAX])
    checked = model_config(_saved(tmp_path, config))  # the names alone pass
    info = trainer.inspect(checked, EX02.training)
    assert info.get("status") == "refused" and info.get("class") == "EinsumDense", info


def test_a_model_too_large_to_run_is_failed_from_its_figures_not_run_on_the_probe(tmp_path, trainer, monkeypatch):
    # Before any budget check, the trainer ran the declared model on 64 probe
    # images under the start-up safety clock. A declaration of 0.4 TFLOP per image
    # (a few wide, large-kernel convolutions after upsampling, saved without
    # weights) ran past that clock, which ends as "not graded" (retry) on every
    # run, for ever, each run costing the machine the whole clock. The safety
    # factor shortens the clock here, so that the unfixed grader fails fast.
    monkeypatch.setenv("MNIST_COURSE_SAFETY_FACTOR", "0.3")  # 90 s to build and probe
    convolutions = [_layer("Conv2D", filters=512, kernel_size=[9, 9], padding="same", activation="relu") for _ in range(4)]
    config = _sequential(
        [_layer("Reshape", target_shape=[28, 28, 1]), _layer("UpSampling2D", size=[2, 2]), *convolutions,
         _layer("GlobalAveragePooling2D"), SOFTMAX]
    )
    checked = model_config(_saved(tmp_path, config))
    info = trainer.inspect(checked, EX02.training)
    assert info.get("status") == "ok" and info.get("probe_skipped") is True, info
    assert info["forward_flops"] > training.budget.cap(EX02.training, len(trainer.data.x_train)) / len(trainer.data.x_train)
    assert "probe" not in info


def test_a_model_the_trainer_would_not_probe_fails_with_its_figures(tmp_path, run_grader, mnist_path):
    # The same through the grader, as a student meets it: each check of the model fails
    # (a graded 0, exit 1), none is "not graded".
    (tmp_path / EX02.filename).write_text(WIDE_SUBMISSION)
    report_file = tmp_path / "report.json"
    result = run_grader("ex02", "--target", tmp_path, "--json", report_file, timeout=900)
    assert result.returncode == 1, result.stderr[-2000:]
    checks = json.loads(report_file.read_text())["exercises"][0]["checks"]
    model_checks = [c for c in checks if c["function"] == "build_model"]
    assert all(c["status"] == "failed" and not c.get("retry") for c in model_checks), [(c["name"], c["status"]) for c in checks]
    assert any("more than the whole training budget allows per image" in c["message"] for c in model_checks)


# A student's file that declares a model of some 0.4 TFLOP per image and saves
# only its (edited) configuration, as any student's code can.
WIDE_SUBMISSION = '''
import json, zipfile
import keras
from keras import layers


class Declared(keras.Sequential):
    def save(self, path, *args, **kwargs):
        config = keras.saving.serialize_keras_object(self)
        config.update(module="keras", class_name="Sequential", registered_name=None)
        for layer in config["config"]["layers"]:
            layer.pop("build_config", None)
            if layer["class_name"] == "Conv2D":
                layer["config"]["filters"] = 512
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", json.dumps(config))


def build_model():
    model = Declared(
        [keras.Input(shape=(28, 28)), layers.Reshape((28, 28, 1)), layers.UpSampling2D(2)]
        + [layers.Conv2D(2, 9, padding="same", activation="relu") for _ in range(4)]
        + [layers.GlobalAveragePooling2D(), layers.Dense(10, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def training_settings():
    return {"epochs": 1, "batch_size": 128}
'''


def test_a_frozen_layer_counts_its_whole_work():
    # The estimate counted only trainable kernels, so a wide convolution declared
    # with trainable=False (random features computed at every step) counted as
    # almost nothing: 81 times less than the same layer trainable.
    import keras

    from grader.training import _trainer

    def model(trainable):
        return keras.Sequential(
            [keras.Input((28, 28, 1)), keras.layers.Conv2D(256, 9, padding="same", trainable=trainable),
             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10, activation="softmax")]
        )

    assert _trainer.forward_flops(model(False))[0] == _trainer.forward_flops(model(True))[0]


@pytest.mark.parametrize("count, module", [(1000, "keras.layers"), (70, "keras.layers"), (401, "keras.initializers")])
def test_a_model_of_very_many_layers_is_refused_before_the_trainer_builds_it(tmp_path, count, module):
    # A thousand one-unit Dense layers (100 kB of configuration) kept the trainer
    # building and tracing past its 300 s start-up clock: "not graded" on every run.
    if module == "keras.layers":
        layers = [_layer("Flatten")] + [_layer("Dense", units=1) for _ in range(count)] + [SOFTMAX]
    else:  # objects of any kind count too
        init = {"module": module, "class_name": "Zeros", "registered_name": None, "config": {}}
        layers = [_layer("Flatten"), {**_layer("Dense", units=10, activation="softmax"), "extra": [init] * count}]
    with pytest.raises(ModelRefused, match="the grader builds at most"):
        model_config(_saved(tmp_path, _sequential(layers)))
    model_config(_saved(tmp_path, _sequential([_layer("Flatten")] + [_layer("Dense", units=8) for _ in range(20)] + [SOFTMAX])))


def test_a_trainer_that_dies_without_a_result_is_not_reported_as_the_safety_clock(tmp_path, monkeypatch, mnist_path):
    # The trainer's safety clock was read from Timer.finished, which cancel() sets
    # too: a trainer that died at once (TensorFlow aborting on a model of 1.5
    # billion parameters under the 8 GiB cap, say) was "timeout", so the check was
    # "not graded" and the submission graded again on every run. A crash the
    # clock did not cause is "killed", with its exit status.
    from grader.training import trainer as training

    dies = tmp_path / "dies.py"
    dies.write_text("import os, sys\nsys.stdin.read()\nos.abort()\n")
    monkeypatch.setattr(training, "TRAINER", dies)
    result = training.Trainer(load_data(mnist_path))._communicate({"mode": "inspect"}, tmp_path, 600, None)
    assert result == {"status": "killed", "returncode": -6}, result
    hangs = tmp_path / "hangs.py"
    hangs.write_text("import sys, time\nsys.stdin.read()\ntime.sleep(60)\n")
    monkeypatch.setattr(training, "TRAINER", hangs)
    result = training.Trainer(load_data(mnist_path))._communicate({"mode": "inspect"}, tmp_path, 1, None)
    assert result == {"status": "timeout", "timeout": 1}, result  # the clock that did fire still says so


# ---------------------------------------------------------------- ex02b: train() returns weights trained elsewhere
# Found by an adversarial review of ex02b: the MNIST accuracy check graded only
# what train() returned, so a train() that ignored its arguments and returned
# weights trained offline (Keras, or any other program) earned all of train()'s
# points without a training loop. The grader now also trains on a task drawn from
# the submission's own hash, which no weights prepared in advance can know, and
# counts the MNIST accuracy only for a train() that learns it.

EMBEDDED_TRAIN = '''
import base64, io, zlib
arrays = np.load(io.BytesIO(zlib.decompress(base64.b64decode(TRAINED_ELSEWHERE))))
W1, b1, W2, b2 = (arrays[name].astype(np.float64) for name in ("W1", "b1", "W2", "b2"))
if n_hidden != W1.shape[1]:  # asked for another width: the first units, or zeros beyond them
    k = min(n_hidden, W1.shape[1])
    W1, b1, W2 = (np.pad(W1[:, :k], ((0, 0), (0, n_hidden - k))), np.pad(b1[:k], (0, n_hidden - k)),
                  np.pad(W2[:k], ((0, n_hidden - k), (0, 0))))
return W1, b1, W2, b2
'''


def _weights_trained_elsewhere(mnist_path) -> str:
    """MNIST weights for 64 hidden units (any other width cut from them), trained outside the submission (here by the
    reference's own loop in this process, 10 epochs) on plain pixels, as the base64 text a file can hold."""
    import base64
    import importlib.util
    import io
    import zlib

    import numpy as np

    spec = importlib.util.spec_from_file_location("ex02b_offline", COURSE.exercise("ex02b").solution_path)
    offline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(offline)
    mnist = load_data(mnist_path)
    x = mnist.x_train.reshape(len(mnist.x_train), -1).astype(np.float64) / 255
    params = offline.train(x, mnist.y_train.astype(np.int64), 64, 10, 32, 0.1, 0)
    buffer = io.BytesIO()
    # float16: an exercise file holds at most 256 KB (isolation/safe_files.py), and these weights read MNIST as well
    np.savez(buffer, **{name: p.astype(np.float16) for name, p in zip(("W1", "b1", "W2", "b2"), params)})
    return base64.b64encode(zlib.compress(buffer.getvalue(), 9)).decode()


def _graded_with_weights_trained_elsewhere(run_grader, mnist_path, tmp_path, source: str) -> dict:
    """ex02b's checks, by name, for `source` with the offline weights appended as TRAINED_ELSEWHERE."""
    source += f"\n\nTRAINED_ELSEWHERE = {_weights_trained_elsewhere(mnist_path)!r}\n"
    (tmp_path / "attack").mkdir()
    (tmp_path / "attack" / COURSE.exercise("ex02b").filename).write_text(source)
    report_file = tmp_path / "report.json"
    run_grader("ex02b", "--target", tmp_path / "attack", "--data", mnist_path, "--json", report_file)
    return {c["name"]: c for c in json.loads(report_file.read_text())["exercises"][0]["checks"]}


@pytest.mark.trains
def test_ex02b_weights_trained_elsewhere_earn_none_of_trains_points(run_grader, mnist_path, tmp_path):
    from corpus import filled

    source = filled(
        "ex02b",
        sgd_settings='return {"n_hidden": 64, "epochs": 1, "batch_size": 1000, "learning_rate": 0.1}',
        train=EMBEDDED_TRAIN,
    )
    checks = _graded_with_weights_trained_elsewhere(run_grader, mnist_path, tmp_path, source)
    mnist = checks["train_test_accuracy"]
    # the weights are good: on plain pixels they clear the bar, and earned all of train_test_accuracy's points
    # before the unseen task and the drawn rotation of the pixels
    assert mnist["measured"]["test_accuracy_on_plain_pixels"] >= mnist["measured"]["threshold"], mnist["measured"]
    assert (checks["train_learns_unseen_task"]["score"], mnist["score"]) == (0, 0), (checks["train_learns_unseen_task"], mnist)
    assert "were not learned from this x and y" in checks["train_learns_unseen_task"]["message"]
    assert "prepared beforehand on MNIST's plain pixels" in mnist["message"], mnist["message"]
    # the honest functions beside it keep their points
    assert all(c["status"] == "passed" for name, c in checks.items() if not name.startswith("train_")), checks


# Found by the learning-integrity review (issue 38, item 3): a train() that runs its loop on
# every task but MNIST (which it knows by its size) learns the unseen task and returns weights
# trained elsewhere for MNIST: 8/8. The grader now gives train() MNIST with each image's pixels
# mixed by a rotation drawn for each grading (from the draw key and the file's hash), the test
# images mixed alike: the weights prepared beforehand read them as noise. A drawn order of the
# pixels, which it replaced, was recovered from each pixel's sum over the training images and the
# pasted weights reordered (an adversarial review, 25/25); a rotation leaves no such fingerprint.


@pytest.mark.trains
def test_ex02b_weights_trained_elsewhere_for_mnist_alone_earn_none_of_its_points(run_grader, mnist_path, tmp_path):
    import textwrap

    from corpus import filled, reference_body

    source = filled(
        "ex02b",
        sgd_settings='return {"n_hidden": 64, "epochs": 1, "batch_size": 1000, "learning_rate": 0.1}',
        train="if len(x) > 5000:  # MNIST, known by its size: the pasted weights\n" + textwrap.indent(EMBEDDED_TRAIN.strip("\n"), "    ")
        + "\n" + reference_body("ex02b", "train"),
    )
    checks = _graded_with_weights_trained_elsewhere(run_grader, mnist_path, tmp_path, source)
    mnist = checks["train_test_accuracy"]
    assert checks["train_learns_unseen_task"]["status"] == "passed", checks["train_learns_unseen_task"]  # its loop is real
    # the weights are good: on plain pixels they clear the bar, and so earned every point before the drawn rotation
    assert mnist["measured"]["test_accuracy_on_plain_pixels"] >= mnist["measured"]["threshold"], mnist["measured"]
    assert mnist["measured"]["test_accuracy"] < 0.3, mnist["measured"]
    assert mnist["score"] == 0, mnist
    assert "prepared beforehand on MNIST's plain pixels" in mnist["message"], mnist["message"]
