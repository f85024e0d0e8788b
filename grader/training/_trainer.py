"""The grader's own training process: inspect, train and evaluate a student's model.

Started by grader/training/trainer.py as `python -I _trainer.py`, with the request as
one JSON document on stdin. No student code runs here, and no file the student
could have touched is read: the request carries the model's configuration,
which the grader read once from the student's `.keras` file and checked (only
Keras's own classes, no hidden weights, seeds removed), and Keras rebuilds it
with `deserialize_keras_object(..., safe_mode=True)` under the grader's seed,
so every weight is freshly drawn. The student's worker is stopped while this
runs. It is a separate process so that a model too big or too slow for its
budget is stopped by the operating system (memory cap, timeout) without
taking the grader down.

Two modes:
  inspect  describe the model (shapes, layers, loss, parameters) and run it on
           a few training images;
  train    train on the training set (its work was capped beforehand), evaluate on the test
           set (which student code never receives), and report accuracy,
           epochs, seconds, the history, the predictions and the most
           confident mistakes.
Progress goes to stdout as one JSON line per epoch, then {"result": ...}.
This file imports nothing from the grader, so it runs as a plain script.
"""

import inspect
import json
import math
import os
import sys
import time

WEIGHTED = {"Dense", "Conv1D", "Conv2D", "Conv3D", "SeparableConv2D", "DepthwiseConv2D", "EinsumDense"}
MISTAKES_SHOWN = 16  # most confident test-set mistakes returned for the feedback page
# TensorFlow sizes its thread pools from the cores it may use, and how work is
# split between threads can change the last bits of a sum. A fixed count
# makes the same submission train to the same weights whether the machine
# has 1 core free or 16 (tests/test_fairness.py).
THREADS = 2
# Work counted per element by layers without a kernel; Keras's augmentation
# layers interpolate (about 8 operations per output value).
ELEMENT_WORK = {"Random": 8, "BatchNormalization": 4, "LayerNormalization": 4}


def _quiet_keras():
    """Import Keras without TensorFlow's start-up lines on stderr, with the
    trainer's fixed thread counts."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for variable in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[variable] = str(THREADS)
    # Keras imports scikit-learn (for its wrappers) and matplotlib (for its image gallery) where
    # they are installed, as they are for the course; the trainer uses neither, and skipping
    # them saves about 1.5 CPU s of every trainer's start (Keras takes their absence in its stride).
    for unused in ("sklearn", "matplotlib"):
        sys.modules.setdefault(unused, None)
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(THREADS)
        import keras
    finally:
        os.dup2(saved, 2)
        os.close(null)
        os.close(saved)
    return keras, tf


def _all_layers(model):
    """Every layer, nested models included, in order."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
        else:
            yield layer


def _activation_name(layer):
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", type(activation).__name__)


def _describe_layer(layer):
    info = {"class": type(layer).__name__, "name": layer.name}
    for attr in ("units", "filters", "rate", "kernel_size", "pool_size"):
        value = getattr(layer, attr, None)
        if isinstance(value, (int, float, tuple, list)):
            info[attr] = list(value) if isinstance(value, tuple) else value
    if hasattr(layer, "activation"):
        info["activation"] = _activation_name(layer)
    # A Dense layer on a flat vector, or on each position of an image (weights shared, as a convolution's): the
    # widest input of every call, since a layer used twice could take a flat vector first and an image after.
    # `_inbound_nodes` is Keras's own record of the calls (not public): a Keras without it leaves the rank
    # unread, which check_hidden_dense refuses, so the references' own gradings would fail at once.
    ranks = [len(tensor.shape) for node in getattr(layer, "_inbound_nodes", ()) for tensor in node.input_tensors]
    if ranks:
        info["input_rank"] = max(ranks)
    return info


def _output_activation(model):
    """The activation that produces the model's output: softmax, linear, ..."""
    layers = list(_all_layers(model))
    for layer in reversed(layers):
        name = type(layer).__name__
        if name == "Softmax":
            return "softmax"
        if name == "Activation" or name in WEIGHTED:
            return _activation_name(layer) or "linear"
    return None


def _loss_info(keras, model):
    """The compiled loss as {kind: sparse|categorical|other, from_logits, name}."""
    loss = getattr(model, "loss", None)
    if isinstance(loss, (str, dict)):
        try:
            loss = keras.losses.get(loss)
        except Exception:  # noqa: BLE001 - described below as "other"
            return {"kind": "other", "from_logits": False, "name": str(loss)}
    if loss is None:
        return None
    fn = getattr(loss, "fn", loss)
    name = getattr(fn, "__name__", type(loss).__name__)
    kwargs = getattr(loss, "_fn_kwargs", {}) or {}
    if "sparse_categorical_crossentropy" in name:
        kind = "sparse"
    elif "categorical_crossentropy" in name:
        kind = "categorical"
    else:
        kind = "other"
    return {"kind": kind, "from_logits": bool(kwargs.get("from_logits", False)), "name": getattr(loss, "name", name)}


class Refused(Exception):
    """The built model holds a layer or operation whose work the estimate does not count."""


def _operations(model):
    """Every layer and operation the model's graph calls, nested models' own included."""
    for operation in getattr(model, "operations", None) or model.layers:
        if hasattr(operation, "layers"):
            yield from _operations(operation)
        else:
            yield operation


def _check_classes(model, allowed):
    """The classes Keras actually built, whatever module or alias the configuration
    named them by (the grader checked the names; this checks the objects): a
    layer must be one of `allowed["layers"]` from keras.src.layers, and no
    operation between layers may be one of `allowed["ops"]` (matrix products,
    attention, loops). None to skip (a request from an older grader)."""
    if not allowed:
        return
    for operation in _operations(model):
        cls = type(operation)
        module, name = cls.__module__, cls.__name__
        if module.startswith("keras.src.layers."):
            if name not in allowed["layers"]:
                raise Refused(name)
        elif module.startswith("keras.src.ops."):
            if any(part.lower() in name.lower() for part in allowed["ops"]):
                raise Refused(name)
        elif not module.startswith("keras.src.models."):
            raise Refused(name)


def _build(keras, request):
    """The model from its checked configuration, every weight drawn from the seed
    (and compiled, when the configuration says how); Refused if it holds a layer
    whose work the estimate does not count."""
    keras.utils.set_random_seed(request["seed"])
    model = keras.saving.deserialize_keras_object(request["config"], safe_mode=True)
    _check_classes(model, request.get("allowed"))
    return model


def _element_work(class_name):
    return next((work for prefix, work in ELEMENT_WORK.items() if class_name.startswith(prefix)), 1)


def forward_flops(model):
    """The work of one image's forward pass, in floating-point operations, and
    the layers that cost most: [(layer, class, flops)], largest first.

    A layer with kernels (Dense, Conv*, SeparableConv2D, ...) does a multiply
    and an add per kernel weight at each output position, trainable or frozen; any other layer
    (pooling, normalization, activation, augmentation, reshaping) is counted
    by the values it reads or writes, whichever is more. A layer called
    several times (a shared layer) counts every call, a nested model its own
    layers once per call. Shapes come from the model Keras built."""
    per_layer = {}

    def calls(model):
        """(layer, input tensors, output tensors) for every call in the model's own graph."""
        graph = getattr(model, "_functional", None) or model  # a Sequential keeps its graph beside it
        by_depth = getattr(graph, "_nodes_by_depth", None)
        if by_depth is not None:
            for depth in sorted(by_depth, reverse=True):
                for node in by_depth[depth]:
                    yield node.operation, node.arguments.keras_tensors, node.outputs
            return
        for layer in model.layers:  # no graph (a model built without an Input): each layer once
            node = layer._inbound_nodes[-1]
            yield layer, node.arguments.keras_tensors, node.outputs

    def count(model, times):
        for layer, inputs, outputs in calls(model):
            if not inputs:
                continue  # an Input layer
            if hasattr(layer, "layers"):  # a nested model: its own layers, once per call
                count(layer, times)
                continue
            # Every kernel, frozen ones included: a layer with trainable=False still computes
            # its whole forward pass (and its input gradient) at every step.
            kernel = sum(math.prod(w.shape) for w in layer.weights if len(w.shape) >= 2)
            n_in = sum(math.prod(d or 1 for d in t.shape[1:]) for t in inputs)
            n_out = sum(math.prod(d or 1 for d in t.shape[1:]) for t in outputs)
            out_shape = outputs[0].shape[1:]
            positions = math.prod(d or 1 for d in out_shape[:-1]) if len(out_shape) > 1 else 1
            flops = 2 * kernel * positions + _element_work(type(layer).__name__) * max(n_in, n_out)
            key = (layer.name, type(layer).__name__)
            per_layer[key] = per_layer.get(key, 0) + flops * times

    count(model, 1)
    ranked = sorted(((name, cls, int(f)) for (name, cls), f in per_layer.items()), key=lambda t: -t[2])
    return int(sum(f for _, _, f in ranked)), ranked


def _first_weighted_input(keras, model, probe):
    """Largest absolute value reaching the first Dense/Conv layer on the probe images."""
    import numpy as np

    for layer in model.layers:
        if type(layer).__name__ in WEIGHTED:
            sub = keras.Model(model.inputs, layer.input)
            return float(np.max(np.abs(sub.predict(probe, verbose=0))))
        if hasattr(layer, "layers"):
            return None  # nested model: not traced
    return None


NOT_PLAIN = "<not a plain value>"  # what the grader reads for a setting that is not a number, a string or a flag


def _optimizer_settings(optimizer):
    """Every setting of the compiled optimizer (momentum, nesterov, use_ema, clipnorm, the learning rate...) as
    plain data for the grader's checks: a value that is not a number, a string, a flag or None (a schedule,
    a list) is named as NOT_PLAIN, never passed on as an object and never dropped."""
    config = optimizer.get_config()
    return {str(k): v if v is None or isinstance(v, (bool, int, float, str)) else NOT_PLAIN for k, v in config.items()}


def inspect_model(keras, request):
    import numpy as np

    model = _build(keras, request)
    info = {
        "status": "ok",
        "input_shape": list(model.input_shape) if isinstance(model.input_shape, tuple) else None,
        "n_inputs": len(model.inputs),
        "output_shape": list(model.output_shape) if isinstance(model.output_shape, tuple) else None,
        "params": int(model.count_params()),
        "layers": [_describe_layer(layer) for layer in _all_layers(model)],
        "compiled": bool(getattr(model, "compiled", False)),
        "output_activation": _output_activation(model),
    }
    info["forward_flops"], ranked = forward_flops(model)
    info["costliest_layers"] = [list(entry) for entry in ranked[:3]]
    info["loss"] = _loss_info(keras, model) if info["compiled"] else None
    info["optimizer"] = type(model.optimizer).__name__ if info["compiled"] and model.optimizer is not None else None
    info["optimizer_settings"] = _optimizer_settings(model.optimizer) if info["optimizer"] else None
    expected = [None, *request["input_shape"]]
    if info["input_shape"] != expected or info["n_inputs"] != 1:
        return info  # the probe would not fit; the grader explains the shape
    limit = request.get("max_forward_flops")
    if limit is not None and info["forward_flops"] > limit:
        # More work per image than any training within the budget can hold: the
        # probe would only burn the start-up clock (a model that computes for
        # hours on 64 images); the grader fails it from these figures.
        info["probe_skipped"] = True
        return info
    probe = np.load(request["probe"], allow_pickle=False)
    out = np.asarray(model.predict(probe, verbose=0), dtype=np.float64)
    info["probe"] = {
        "shape": list(out.shape),
        "finite": bool(np.isfinite(out).all()),
        "min": float(np.nanmin(out)) if out.size else None,
        "max": float(np.nanmax(out)) if out.size else None,
        "max_row_sum_error": float(np.nanmax(np.abs(out.sum(axis=-1) - 1))) if out.ndim == 2 and out.size else None,
    }
    try:
        info["first_weighted_input_max"] = _first_weighted_input(keras, model, probe)
    except Exception:  # noqa: BLE001 - a diagnosis aid only
        info["first_weighted_input_max"] = None
    return info


class _Progress:
    """One progress line per epoch on stdout, for the grader to show."""

    def __init__(self, keras, epochs):
        self.keras, self.epochs = keras, epochs

    def make(self):
        progress = self

        class ProgressCallback(progress.keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                progress.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                line = {"epoch": epoch + 1, "epochs": progress.epochs, "seconds": round(time.perf_counter() - progress.started, 1)}
                line.update({k: round(float(v), 4) for k, v in (logs or {}).items() if k in ("loss", "accuracy", "val_loss", "val_accuracy")})
                print(json.dumps(line), flush=True)

        return ProgressCallback()


class _WorkGuard:
    """Stops a training whose first epoch uses more CPU time than its declared
    work explains (request["guard"], from mnist_course/budget.py): a model that
    does far more work than the grader's estimate counted. Every thread's CPU
    time of this process counts (time.process_time), so a busy machine does
    not trip it. Checked after every batch of the first epoch, so such a
    training is stopped as soon as it is past its allowance."""

    def __init__(self, keras, guard, declared_epoch_flops):
        self.keras, self.limit = keras, guard["allowance_s"] + guard["seconds_per_flop"] * declared_epoch_flops
        self.declared = declared_epoch_flops
        self.tripped, self.epoch, self.started = None, -1, 0.0

    def make(self):
        guard = self

        class WorkGuard(self.keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                guard.epoch = epoch
                if epoch == 0:
                    guard.started = time.process_time()

            def _check(self):
                used = time.process_time() - guard.started
                if guard.epoch == 0 and guard.tripped is None and used > guard.limit:
                    # rounded outwards, so the two figures a student reads differ as the real ones do
                    guard.tripped = {"cpu_seconds": math.ceil(used * 10) / 10, "allowed_cpu_seconds": math.floor(guard.limit * 10) / 10, "declared_epoch_flops": guard.declared}
                    self.model.stop_training = True

            def on_train_batch_end(self, batch, logs=None):
                self._check()

            def on_test_batch_end(self, batch, logs=None):
                self._check()

            def on_epoch_end(self, epoch, logs=None):
                self._check()

        return WorkGuard()


def _declared_epoch_flops(model, guard, settings, n_train):
    """One epoch's declared work, as mnist_course/budget.py counts it."""
    flops, _ = forward_flops(model)
    fit = int(math.floor(n_train * (1.0 - settings["validation_split"])))
    steps = math.ceil(fit / settings["batch_size"])
    return fit * guard["backward_factor"] * flops + (n_train - fit) * flops + steps * guard["step_flops"]


def _callbacks(keras, specs):
    made = []
    for spec in specs:
        cls = getattr(keras.callbacks, spec["class"])
        accepted = set(list(inspect.signature(cls.__init__).parameters)[1:])
        made.append(cls(**{k: v for k, v in spec["config"].items() if k in accepted and k != "verbose"}))
    return made


def train_model(keras, tf, request):
    import numpy as np

    tf.config.experimental.enable_op_determinism()  # same submission, same seed: same score
    settings = request["settings"]
    fresh = _build(keras, request)
    x = np.load(request["x_train"], mmap_mode="r")
    y = np.load(request["y_train"], allow_pickle=False)
    x = np.asarray(x, dtype=np.float32).reshape((len(x), *request["input_shape"]))
    if settings["labels"] == "one-hot":
        y = np.eye(10, dtype=np.float32)[y]
    # The training's work was counted and capped before this process started
    # (mnist_course/budget.py); the only clock is the grader's safety timeout.
    callbacks = _callbacks(keras, settings["callbacks"])
    guard = None
    if request.get("guard"):
        guard = _WorkGuard(keras, request["guard"], _declared_epoch_flops(fresh, request["guard"], settings, len(x)))
        callbacks.append(guard.make())
    fresh.steps_per_execution = request["steps_per_execution"]  # the grader's (trainer.py), whatever the submission compiled with
    started = time.perf_counter()
    history = fresh.fit(
        x,
        y,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        validation_split=settings["validation_split"],
        callbacks=[*callbacks, keras.callbacks.TerminateOnNaN(), _Progress(keras, settings["epochs"]).make()],
        shuffle=True,
        verbose=0,
    )
    seconds = time.perf_counter() - started
    result = {
        "status": "ok",
        "seconds": round(seconds, 2),
        "epochs_run": len(history.history.get("loss", [])),
        "history": {k: [float(v) for v in values] for k, values in history.history.items()},
    }
    if guard is not None and guard.tripped is not None:
        result.update(status="overworked", **guard.tripped)
        return result
    for cb in callbacks:
        if type(cb).__name__ == "EarlyStopping":
            result["early_stopping"] = {
                "monitor": cb.monitor,
                "monitor_seen": cb.monitor in history.history,
                "stopped_early": bool(cb.stopped_epoch),
                "best_epoch": int(cb.best_epoch) + 1 if getattr(cb, "best_epoch", None) is not None else None,
                "restore_best_weights": bool(cb.restore_best_weights),
            }
    x_test = np.load(request["x_test"], mmap_mode="r")
    x_test = np.asarray(x_test, dtype=np.float32).reshape((len(x_test), *request["input_shape"]))
    y_test = np.load(request["y_test"], allow_pickle=False)
    probs = np.asarray(fresh.predict(x_test, batch_size=1000, verbose=0))
    if not np.isfinite(probs).all():
        result["status"] = "not_finite"
        return result
    predicted = probs.argmax(axis=1)
    result["test_accuracy"] = float((predicted == y_test).mean())
    result["predictions"] = predicted.tolist()
    # The most confident mistakes, for the feedback page: [index, true, predicted, confidence].
    confidence = probs.max(axis=1)
    wrong = np.flatnonzero(predicted != y_test)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")][:MISTAKES_SHOWN]
    result["mistakes"] = [[int(i), int(y_test[i]), int(predicted[i]), round(float(confidence[i]), 4)] for i in wrong]
    return result


def main():
    request = json.load(sys.stdin)
    try:
        keras, tf = _quiet_keras()
    except BaseException as exc:  # noqa: BLE001 - TensorFlow could not start (too little memory, say): said as data
        print(json.dumps({"result": {"status": "error", "stage": "start", "type": type(exc).__name__, "message": str(exc)[:2000]}}), flush=True)
        return
    try:
        if request["mode"] == "inspect":
            result = inspect_model(keras, request)
        else:
            result = train_model(keras, tf, request)
    except Refused as refused:
        result = {"status": "refused", "class": str(refused)[:100]}
    except Exception as exc:  # noqa: BLE001 - reported to the grader as data
        result = {"status": "error", "type": type(exc).__name__, "message": str(exc)[:2000]}
    result["versions"] = {"keras": keras.__version__, "tensorflow": tf.__version__}
    result["threads"] = {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(), "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}
    print(json.dumps({"result": result}), flush=True)


if __name__ == "__main__":
    main()
