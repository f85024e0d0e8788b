"""The grader's side of model exercises (grader/training/: declared_settings.py, vetting.py, trainer.py, _trainer.py):
settings are validated, only Keras's own classes are loaded, weights are
re-initialised from the seed, training is reproducible and stays in budget."""

import json
import zipfile

import numpy as np
import pytest

from grader.feedback import Feedback
from grader.isolation.reply import CallbackSpec, SavedModel
from grader.training.declared_settings import Settings, validate_settings
from grader.settings import REUSE_ENV
from grader.training.trainer import Trainer
from grader.training.vetting import ModelRefused, model_config
from mnist_course.budget import STEP_FLOPS, cap, flops, reference_cost, training_cost
from mnist_course.course import Reference, Training, load_course
from mnist_course.data import MNIST, Provenance, load_mnist, quiet_keras

DENSE = Training(
    input_shape=(28, 28), max_params=500_000, max_epochs=30, seed=0, cost_cap=3.0, reference=Reference(815_920, 20, 128, 0.1)
)


class FakeCall:
    """What validate_settings needs from a grader Call: a way to fail."""

    def fail(self, got, expected="", cause="", hint=""):
        return Feedback(got, expected, called="training_settings()", cause=cause, hint=hint)


def early_stopping(**config):
    return CallbackSpec("EarlyStopping", "keras.src.callbacks.early_stopping", {"monitor": "val_loss", **config})


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"epoch": 5, "batch_size": 32}, "unknown key(s) 'epoch'"),
        ({"epochs": 5}, "no 'epochs' or no 'batch_size'"),
        ({"epochs": 31, "batch_size": 32}, "at most 30 epochs"),
        ({"epochs": 2.5, "batch_size": 32}, "epochs as a whole number"),
        ({"epochs": 5, "batch_size": True}, "batch_size as a whole number"),
        ({"epochs": 5, "batch_size": 32, "validation_split": 0.7}, "a fraction from 0.0 to below 0.5"),
        ({"epochs": 5, "batch_size": 32, "labels": "onehot"}, "'integer' (labels 0-9) or 'one-hot'"),
        ({"epochs": 5, "batch_size": 32, "callbacks": [CallbackSpec("ModelCheckpoint", "keras.src.callbacks", {})]}, "only keras.callbacks.EarlyStopping"),
        ({"epochs": 5, "batch_size": 32, "callbacks": [CallbackSpec("EarlyStopping", "mine", {})]}, "only keras.callbacks.EarlyStopping"),
        ([("epochs", 5)], "return a dict"),
        ({"epochs": 5, "batch_size": 32, "validation_split": 0.1, "callbacks": [early_stopping(monitor="val_acc")]}, "a metric name training never reports"),
        ({"epochs": 5, "batch_size": 32, "callbacks": [early_stopping()]}, "without a validation_split"),
    ],
)
def test_settings_outside_the_contract_are_explained(settings, message):
    with pytest.raises(Feedback) as caught:
        validate_settings(settings, DENSE, FakeCall())
    assert message in str(caught.value)


def test_settings_within_the_contract_are_kept():
    settings = validate_settings(
        {"epochs": 30, "batch_size": 128, "validation_split": 0.1, "callbacks": [early_stopping(patience=3)], "labels": "one-hot"},
        DENSE,
        FakeCall(),
    )
    assert settings == Settings(30, 128, 0.1, ({"class": "EarlyStopping", "config": {"monitor": "val_loss", "patience": 3}},), "one-hot")


@pytest.fixture(scope="module")
def keras():
    return quiet_keras()


def saved(keras, tmp_path, *body, name="model", compile=True):
    model = keras.Sequential([keras.Input((28, 28)), *body, keras.layers.Dense(10, activation="softmax")])
    if compile:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    path = tmp_path / f"{name}.keras"
    model.save(path)
    return SavedModel(path, path.stat().st_size)


def test_only_keras_own_classes_are_loaded(keras, tmp_path):
    layers = keras.layers
    inputs = keras.Input((28, 28))
    outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(layers.Rescaling(1 / 255)(inputs)))
    functional = keras.Model(inputs, outputs)
    functional.compile(optimizer="adam", loss=keras.losses.sparse_categorical_crossentropy, metrics=[keras.metrics.sparse_categorical_accuracy])
    functional.save(tmp_path / "functional.keras")
    assert model_config(tmp_path / "functional.keras")["class_name"] == "Functional"  # the Functional API, losses given as functions
    seeded = saved(keras, tmp_path, layers.Flatten(), layers.Dropout(0.2, seed=7), layers.Dense(8, kernel_initializer=keras.initializers.GlorotUniform(seed=3)), name="seeded")
    assert '"seed": null' in json.dumps(model_config(seeded.path)) and '"seed": 7' not in json.dumps(model_config(seeded.path))

    class Doubling(layers.Layer):
        def call(self, x):
            return x * 2

    good = saved(keras, tmp_path, layers.Rescaling(1 / 255), layers.Flatten())
    assert model_config(good.path)["class_name"] == "Sequential"
    refused = {
        "Lambda layer": saved(keras, tmp_path, layers.Lambda(lambda x: x / 255), layers.Flatten(), name="lambda"),
        "not one of Keras's own classes": saved(keras, tmp_path, Doubling(), layers.Flatten(), name="custom"),
        "list of numbers": saved(
            keras, tmp_path, layers.Flatten(), layers.Dense(100, kernel_initializer=keras.initializers.Constant(np.ones((784, 100)) * 0.01)), name="smuggled"
        ),
    }
    for message, model in refused.items():
        with pytest.raises(ModelRefused, match=message):
            model_config(model.path)
    adapted = layers.Normalization()
    adapted.adapt(np.zeros((4, 28, 28), np.float32))
    with pytest.raises(ModelRefused, match="Normalization layer adapted to data"):
        model_config(saved(keras, tmp_path, adapted, layers.Flatten(), name="adapted").path)
    not_a_model = tmp_path / "fake.keras"
    with zipfile.ZipFile(not_a_model, "w") as archive:
        archive.writestr("config.json", "{not json")
    with pytest.raises(ModelRefused, match="not a valid .keras file"):
        model_config(not_a_model)


@pytest.fixture(scope="module")
def small_mnist(mnist_path):
    """2,000 training and 1,000 test images: enough to learn, quick to train."""
    data = load_mnist(mnist_path)
    provenance = Provenance("npz", None, "test-subset", "custom", 2000, 1000)
    return MNIST(data.x_train[:2000], data.y_train[:2000], data.x_test[:1000], data.y_test[:1000], provenance)


@pytest.mark.trains
def test_training_is_reproducible_and_starts_from_fresh_weights(keras, tmp_path, small_mnist, monkeypatch):
    monkeypatch.delenv("MNIST_COURSE_TRAINING_CACHE", raising=False)
    layers = keras.layers
    first = saved(keras, tmp_path, layers.Rescaling(1 / 255), layers.Flatten(), layers.Dense(32, activation="relu"), name="a")
    second = saved(keras, tmp_path, layers.Rescaling(1 / 255), layers.Flatten(), layers.Dense(32, activation="relu"), name="b")
    assert first.path.read_bytes() != second.path.read_bytes()  # built twice: different initial weights
    settings = Settings(2, 64, 0.1, ({"class": "EarlyStopping", "config": {"monitor": "val_loss", "patience": 1, "restore_best_weights": True}},), "integer")
    results = [Trainer(small_mnist).train(model_config(model.path), settings, DENSE) for model in (first, second)]
    for result in results:
        assert result["status"] == "ok", result
        assert result["epochs_run"] == 2 and result["early_stopping"]["monitor_seen"]
        assert 0.5 < result["test_accuracy"] <= 1
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"]
    assert results[0]["predictions"] == results[1]["predictions"]


@pytest.mark.trains
def test_steps_run_in_one_call_train_the_same_weights_as_steps_run_one_by_one(keras, tmp_path, small_mnist, monkeypatch):
    """The trainer runs 32 batches per call into TensorFlow (trainer.STEPS_PER_EXECUTION), for speed
    only: a model with Dropout, at a batch size whose epoch ends in a partial call, trains to the same
    losses and predictions bit for bit as with one batch per call."""
    from grader.training import trainer

    batches = 1800 // 24  # 2,000 images less the validation split: 75 batches an epoch
    assert trainer.STEPS_PER_EXECUTION > 1 and batches % trainer.STEPS_PER_EXECUTION  # so the epoch ends in a partial call
    monkeypatch.delenv("MNIST_COURSE_TRAINING_CACHE", raising=False)
    layers = keras.layers
    model = saved(keras, tmp_path, layers.Rescaling(1 / 255), layers.Flatten(), layers.Dense(32, activation="relu"), layers.Dropout(0.3))
    settings = Settings(2, 24, 0.1, ({"class": "ReduceLROnPlateau", "config": {"monitor": "val_loss", "patience": 0}},), "integer")
    results = {}
    for steps in (1, trainer.STEPS_PER_EXECUTION):
        monkeypatch.setattr(trainer, "STEPS_PER_EXECUTION", steps)
        results[steps] = Trainer(small_mnist).train(model_config(model.path), settings, DENSE)
    one, many = results.values()
    assert one["status"] == many["status"] == "ok", results
    assert (one["history"], one["predictions"]) == (many["history"], many["predictions"])


def test_work_is_counted_from_the_declaration_and_scales_with_the_data():
    cost = training_cost(forward_flops=1_000_000, epochs=10, batch_size=100, validation_split=0.1, n_train=1000)
    assert (cost.fit_images, cost.validation_images, cost.steps_per_epoch) == (900, 100, 9)
    assert cost.total == 10 * (900 * 3 * 1e6 + 100 * 1e6 + 9 * STEP_FLOPS)
    # a batch of one costs a step per image: as slow as it is in reality
    assert training_cost(1_000_000, 10, 1, 0.1, 1000).total > 20 * cost.total
    # the cap is a multiple of the reference's own work on the same data, so it scales with the data
    assert cap(DENSE, 60_000) / cap(DENSE, 22_699) == pytest.approx(60_000 / 22_699, rel=0.01)
    assert cap(DENSE, 22_699) == 3.0 * reference_cost(DENSE, 22_699).total
    assert flops(2.5e13) == "25 TFLOP" and flops(6.1e7) == "61 MFLOP" and flops(1.68e12) == "1.68 TFLOP"


def test_course_records_what_each_reference_declares(keras, tmp_path, small_mnist):
    """course.toml's `reference` (the basis of every cap) is the reference solution's own declaration."""
    import importlib.util

    for exercise in [ex for ex in load_course().exercises if ex.training]:
        spec = importlib.util.spec_from_file_location(exercise.module, exercise.solution_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        path = tmp_path / f"{exercise.module}.keras"
        module.build_model().save(path)
        info = Trainer(small_mnist).inspect(model_config(path), exercise.training)
        settings = module.training_settings()
        assert exercise.training.reference == Reference(
            info["forward_flops"], settings["epochs"], settings["batch_size"], settings["validation_split"]
        ), exercise.id


def test_inspection_describes_the_model(keras, tmp_path, small_mnist):
    layers = keras.layers
    model = saved(keras, tmp_path, layers.Flatten(), layers.Dense(16, activation="relu"), layers.Dropout(0.25))
    info = Trainer(small_mnist).inspect(model_config(model.path), DENSE)
    assert info["status"] == "ok", info
    assert info["input_shape"] == [None, 28, 28] and info["output_shape"] == [None, 10]
    assert info["params"] == 784 * 16 + 16 + 16 * 10 + 10
    # kernel layers: a multiply and an add per weight; others: the values they read or write
    assert info["forward_flops"] == 784 + (2 * 784 * 16 + 784) + 16 + (2 * 16 * 10 + 16)
    assert info["costliest_layers"][0][1:] == ["Dense", 2 * 784 * 16 + 784]
    assert [layer["class"] for layer in info["layers"]] == ["Flatten", "Dense", "Dropout", "Dense"]
    assert info["loss"] == {"kind": "sparse", "from_logits": False, "name": "sparse_categorical_crossentropy"}
    assert info["output_activation"] == "softmax"
    assert info["probe"]["finite"] and info["probe"]["max_row_sum_error"] < 1e-5
    assert info["first_weighted_input_max"] == 255.0  # no Rescaling: the diagnosis of unscaled inputs


def _keras_file(tmp_path, config, name="crafted"):
    """A .keras file written by hand, as a hostile worker could."""
    path = tmp_path / f"{name}.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    return path


@pytest.mark.parametrize(
    "layer, message",
    [
        ({"module": "keras.layers", "class_name": "TFSMLayer", "config": {"filepath": "/tmp/x"}, "registered_name": None}, "not one of Keras's own classes"),
        ({"module": "keras.layers", "class_name": "Dense", "config": {"units": 10, "activation": {"module": "builtins", "class_name": "function", "config": "get_file", "registered_name": "function"}}, "registered_name": None}, "not one of Keras's own classes"),
        ({"module": "keras.layers", "class_name": "Dense", "config": {"units": 10, "kernel_initializer": {"module": "keras.initializers", "class_name": "Constant", "config": {"value": {"class_name": "__numpy__", "config": {"value": [1.0], "dtype": "float32"}}}}}, "registered_name": None}, "carries a list of numbers"),
    ],
    ids=["file-loading layer", "a function outside activations, losses and metrics", "a numpy array in an initializer"],
)
def test_hand_written_model_files_are_refused(tmp_path, layer, message):
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [layer]}, "registered_name": None}
    with pytest.raises(ModelRefused, match=message):
        model_config(_keras_file(tmp_path, config))


def _dense(units, kernel_initializer=None, name="d"):
    config = {"units": units, "name": name}
    if kernel_initializer is not None:
        config["kernel_initializer"] = kernel_initializer
    return {"module": "keras.layers", "class_name": "Dense", "config": config, "registered_name": None}


def _constant(value):
    return {"module": "keras.initializers", "class_name": "Constant", "config": {"value": value}, "registered_name": None}


def test_fresh_weights_mean_fresh_whatever_the_number_of_layers_or_lists(tmp_path):
    """Weights trained elsewhere, spread over many small Constant initializers (each
    list far under the per-list limit), are refused; a single number is fine."""
    def sequential(layers):
        return {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": layers}, "registered_name": None}

    one_short_list = sequential([_dense(10, _constant([0.1] * 10))])
    # 20 layers of 60 numbers each: every list under the limit, 1,200 numbers in all
    spread = sequential([
        {"module": "keras.layers", "class_name": "Rescaling", "config": {"name": f"r{i}", "scale": [0.01] * 60, "offset": 0.0}, "registered_name": None}
        for i in range(20)
    ])
    for config in (one_short_list, spread):
        with pytest.raises(ModelRefused, match="carries a list of numbers"):
            model_config(_keras_file(tmp_path, config))
    scalar = sequential([_dense(10, _constant(0.0)), _dense(10, _constant(1), "e")])
    assert model_config(_keras_file(tmp_path, scalar, "scalar"))["class_name"] == "Sequential"


# ---------------------------------------------------------------- the training cache


def test_identical_declarations_train_once_and_bad_entries_are_retrained(tmp_path):
    """The cache serves a key's result to the next grader, marked reused; an entry
    that is corrupt or holds another key's result is ignored and trained again."""
    runs = []

    def run():
        runs.append(1)
        return {"status": "ok", "accuracy": 0.97}

    def grader_process(identity):  # each grading process has its own Trainer
        return Trainer(None, tmp_path / "cache")._cached(identity, run)

    assert grader_process({"config": "a"}) == {"status": "ok", "accuracy": 0.97} and len(runs) == 1
    assert grader_process({"config": "a"}) == {"status": "ok", "accuracy": 0.97, "reused": True} and len(runs) == 1
    (entry,) = (tmp_path / "cache").glob("*.json")

    entry.write_text('{"key": ')  # corrupt: a half-written file
    assert "reused" not in grader_process({"config": "a"}) and len(runs) == 2
    assert grader_process({"config": "a"})["reused"] and len(runs) == 2

    grader_process({"config": "b"})  # another declaration: its own entry
    other = next(path for path in (tmp_path / "cache").glob("*.json") if path != entry)
    entry.write_bytes(other.read_bytes())  # a foreign entry under a's name
    assert "reused" not in grader_process({"config": "a"}) and len(runs) == 4
    assert json.loads(entry.read_text())["key"] == entry.stem  # rewritten with its own key


def test_with_reuse_switched_off_an_identical_declaration_trains_again(tmp_path, monkeypatch):
    runs = []
    Trainer(None, tmp_path / "cache")._cached({"config": "a"}, lambda: runs.append(1) or {"status": "ok"})
    monkeypatch.setenv(REUSE_ENV, "off")
    assert "reused" not in Trainer(None, tmp_path / "cache")._cached({"config": "a"}, lambda: runs.append(1) or {"status": "ok"})
    assert len(runs) == 2


def test_the_cache_key_keeps_which_objects_a_model_shares_but_not_their_process_ids():
    """Keras numbers a shared object (`shared_object_id`) per process: the same sharing under other
    numbers is the same model, but one object in two places (one set of weights) is not two objects."""
    from grader.training.trainer import _canonical

    def model(first, second):
        return {"layers": [{"config": {"units": 8}, "shared_object_id": first}, {"config": {"units": 8}, "shared_object_id": second}]}

    assert _canonical(model(140_001, 140_001)) == _canonical(model(77, 77))
    assert _canonical(model(140_001, 140_002)) == _canonical(model(9, 8))
    assert _canonical(model(140_001, 140_001)) != _canonical(model(140_001, 140_002))
    unshared = {"layers": [{"config": {"units": 8}}, {"config": {"units": 8}}]}
    assert _canonical(model(5, 5)) != _canonical(unshared)


def test_a_training_the_safety_clock_stopped_is_never_cached(tmp_path):
    Trainer(None, tmp_path / "cache")._cached({"config": "slow"}, lambda: {"status": "timeout", "timeout": 1})
    assert list((tmp_path / "cache").glob("*.json")) == []


def _train_slowly(cache: str, log: str) -> dict:
    import time

    def run():
        with open(log, "a") as fh:
            fh.write("trained\n")
        time.sleep(1.0)
        return {"status": "ok"}

    return Trainer(None, cache)._cached({"config": "same"}, run)


def test_two_graders_with_the_same_key_at_once_train_it_once(tmp_path):
    import multiprocessing

    log = tmp_path / "log.txt"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(_train_slowly, [(str(tmp_path / "cache"), str(log))] * 2)
    assert log.read_text() == "trained\n"
    assert sorted(bool(r.get("reused")) for r in results) == [False, True]


def test_layers_whose_work_the_budget_does_not_count_are_refused(keras, tmp_path, monkeypatch):
    """Issue 25: attention, recurrent layers and a summing EinsumDense do 8-31 times the work the
    estimate counts; refused with a message that teaches, and loaded once the refusal is switched off."""
    from grader.training import vetting

    layers = keras.layers

    def functional(name, body):
        inputs = keras.Input((28, 28))
        model = keras.Model(inputs, layers.Dense(10, activation="softmax")(layers.Flatten()(body(inputs))))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.save(tmp_path / f"{name}.keras")
        return tmp_path / f"{name}.keras"

    models = {
        "Attention": functional("attention", lambda x: layers.Attention()([x, x])),
        "MultiHeadAttention": functional("mha", lambda x: layers.MultiHeadAttention(2, 8)(x, x)),
        "LSTM": functional("lstm", lambda x: layers.LSTM(32, return_sequences=True)(x)),
        "GRU": functional("gru", lambda x: layers.GRU(16)(x)),
        "SimpleRNN": functional("rnn", lambda x: layers.SimpleRNN(16)(x)),
        "EinsumDense": functional("einsum", lambda x: layers.EinsumDense("abc,cd->ad", output_shape=(32,))(x)),
    }
    for name, path in models.items():
        with pytest.raises(ModelRefused, match=f"uses {name}, a layer whose work the grader's budget does not count") as refused:
            model_config(path)
        assert "Dense and Conv2D" in refused.value.hint
    monkeypatch.setattr(vetting, "MODELLED_LAYERS", vetting.MODELLED_LAYERS | set(models))
    for path in models.values():  # switched off, nothing else stood in their way
        assert model_config(path)["class_name"] == "Functional"


@pytest.mark.trains
def test_a_training_that_does_far_more_work_than_it_declares_is_stopped_as_a_failure(keras, tmp_path, small_mnist, monkeypatch):
    """The throughput guard behind the refusal of unmodelled layers: a 784-token Attention
    (let through here) declares about 0.04 MFLOP per image and does 24 times the reference's work
    per declared FLOP; its first epoch passes the allowance (lowered here to 2 CPU seconds, for a
    quick test) and the training ends "overworked". Switched off, the same training finishes."""
    from grader.settings import WORK_GUARD_ENV
    from grader.training import vetting
    from mnist_course import budget

    monkeypatch.delenv("MNIST_COURSE_TRAINING_CACHE", raising=False)
    monkeypatch.setattr(vetting, "MODELLED_LAYERS", vetting.MODELLED_LAYERS | {"Attention"})
    monkeypatch.setattr(budget, "GUARD_ALLOWANCE_S", 2.0)
    layers = keras.layers
    inputs = keras.Input((28, 28))
    tokens = layers.Dense(8)(layers.Reshape((784, 1))(inputs))
    outputs = layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling1D()(layers.Attention()([tokens, tokens])))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(tmp_path / "attention.keras")
    settings = Settings(1, 64, 0.1, (), "integer")
    stopped = Trainer(small_mnist).train(model_config(tmp_path / "attention.keras"), settings, DENSE)
    assert stopped["status"] == "overworked" and stopped["cpu_seconds"] > stopped["allowed_cpu_seconds"], stopped
    monkeypatch.setenv(WORK_GUARD_ENV, "off")
    finished = Trainer(small_mnist).train(model_config(tmp_path / "attention.keras"), settings, DENSE)
    assert finished["status"] == "ok", finished
