"""Model exercises: the student declares, the grader trains.

A model exercise has two functions: `build_model()` returns a compiled Keras
model, `training_settings()` a dict (epochs, batch size, validation split,
callbacks, label encoding). Both run in the student's worker; the model comes
back as the `.keras` file Keras writes, the settings as plain data.

From there on only the grader works: it reads the file's configuration once
and checks it (Keras's own classes only, no hidden weights, seeds removed),
stops the student's worker, and hands the configuration to its trainer process
(grader/training/_trainer.py), which builds the model with `safe_mode=True` under the
exercise's seed (so every weight is fresh), trains (the declaration's work
was capped beforehand, mnist_course/budget.py) and evaluates on the test set. Results are memoised per
process, and cached on disk where $MNIST_COURSE_TRAINING_CACHE names a folder
(the course's own test suite does, so each reference trains once per run; a
batch does, so identical declarations train once per class).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock; a key may then train twice at once, never wrongly
    fcntl = None

from mnist_course.course import Exercise, Training
from mnist_course.data import MNIST

from mnist_course import budget
from mnist_course.budget import BACKWARD_FACTOR, STEP_FLOPS, epoch_cpu_allowance_s, safety_timeout_s, start_up_timeout_s
from ..feedback import Feedback, describe
from ..provenance import grading_machine
from ..settings import switches
from ..isolation.sandbox import CallbackSpec, _limiter, clean_text, machine_failure, read_regular

TRAINER = Path(__file__).with_name("_trainer.py")
CACHE_VERSION = 4  # bump when training or evaluation changes meaning (3: fixed threads, work counted; 4: entries hold their key)
TRAINER_MEMORY = 8 << 30  # address-space cap of the trainer process
MAX_CONFIG = 1 << 20  # bytes of config.json a .keras file may hold
MAX_UNPACKED = 256 << 20  # bytes a .keras file may unpack to
MAX_CONFIG_LIST = 64  # numbers in one list of the config: shapes and kernel sizes, never weights
# Numbers in all the config's lists together: a real model's shapes, kernel
# sizes and strides come to a few dozen; spreading weights over many short
# lists is refused however many layers carry them.
MAX_CONFIG_NUMBERS = 1024
# Layers (and operations between them) in one model, and Keras objects in its
# configuration: the course's references have 5 to 13 layers in 16 to 38
# objects. Every layer costs the trainer time to build and trace before any
# budget is checked: a thousand one-unit Dense layers (100 kB of configuration)
# ran past the 300 s start-up clock, which ends as "not graded" on every run.
MAX_LAYERS = 64
MAX_CONFIG_OBJECTS = 400
SETTINGS_KEYS = {"epochs", "batch_size", "validation_split", "callbacks", "labels"}
ALLOWED_CALLBACKS = ("EarlyStopping", "ReduceLROnPlateau")
MONITORS = ("loss", "accuracy", "val_loss", "val_accuracy")  # what the grader's training reports
PROBE_IMAGES = 64


@dataclass(frozen=True)
class Settings:
    """Validated training settings, as the trainer receives them."""

    epochs: int
    batch_size: int
    validation_split: float
    callbacks: tuple[dict, ...]
    labels: str  # "integer" or "one-hot"

    def as_json(self) -> dict:
        return {**self.__dict__, "callbacks": list(self.callbacks)}


# ---------------------------------------------------------------- settings


def validate_settings(value: Any, training: Training, call) -> Settings:
    """The dict `training_settings()` returned, checked against the contract;
    a Feedback (from `call.fail`) says what is wrong."""
    if not isinstance(value, dict):
        raise call.fail(
            f"got {describe(value)}",
            "a dict of training settings",
            cause="returning the settings in another form (a list, a tuple, or None from a missing return)",
            hint="return a dict such as {'epochs': ..., 'batch_size': ...}, with whole numbers in place of the dots",
        )
    unknown = sorted(set(value) - SETTINGS_KEYS)
    if unknown:
        raise call.fail(
            f"got the unknown key(s) {', '.join(map(repr, unknown))}",
            f"only the keys {', '.join(sorted(SETTINGS_KEYS))}",
            cause="a typo (epoch for epochs, say), or an option the grader does not take",
            hint="the optimizer and learning rate belong in model.compile(...), not in these settings",
        )
    if "epochs" not in value or "batch_size" not in value:
        raise call.fail(
            "got no 'epochs' or no 'batch_size'",
            "both, as whole numbers",
            cause="a key left out of the dict",
            hint="return {'epochs': ..., 'batch_size': ..., ...} with a whole number for each",
        )
    epochs, batch_size = value["epochs"], value["batch_size"]
    for key, number in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise call.fail(
                f"got {key}={number!r}",
                f"{key} as a whole number of at least 1",
                cause="a fraction, a string or a flag where Keras needs a count",
                hint=f"write {key} as a whole number (an int), without a decimal point or quotes",
            )
    if epochs > training.max_epochs:
        raise call.fail(
            f"got epochs={epochs}",
            f"at most {training.max_epochs} epochs (the grader's cap for this exercise)",
            cause="more epochs than this exercise allows",
            hint="use EarlyStopping to stop when validation stops improving, rather than many epochs",
        )
    if batch_size > 4096:
        raise call.fail(
            f"got batch_size={batch_size}",
            "a batch size of at most 4096",
            cause="a batch as large as the training set: few updates per epoch, and a lot of memory",
            hint="a batch of a few dozen to a few hundred images: the lesson's batch size works well here",
        )
    split = value.get("validation_split", 0.0)
    if not isinstance(split, (int, float)) or isinstance(split, bool) or not 0 <= split < 0.5:
        raise call.fail(
            f"got validation_split={split!r}",
            "a fraction from 0.0 to below 0.5 (a fraction of the training images, not a percentage)",
            cause="a percentage written as a whole number, or more data kept for validation than for training",
            hint="validation_split is a fraction of the training images, well below 0.5: a tenth or so, as in the lessons",
        )
    labels = value.get("labels", "integer")
    if labels not in ("integer", "one-hot"):
        raise call.fail(
            f"got labels={labels!r}",
            "'integer' (labels 0-9) or 'one-hot' (rows of 10)",
            cause="another spelling of the label encoding",
            hint="leave 'labels' out for integer labels with sparse_categorical_crossentropy",
        )
    callbacks = value.get("callbacks", [])
    if not isinstance(callbacks, (list, tuple)):
        raise call.fail(
            f"got callbacks={describe(callbacks)}",
            "a list of Keras callbacks",
            cause="a single callback not wrapped in a list",
            hint="'callbacks': [keras.callbacks.EarlyStopping(...)]",
        )
    specs = []
    for cb in callbacks:
        if not isinstance(cb, CallbackSpec) or cb.class_name not in ALLOWED_CALLBACKS or not cb.module.startswith("keras"):
            shown = cb.class_name if isinstance(cb, CallbackSpec) else describe(cb)
            raise call.fail(
                f"got the callback {shown}",
                f"only keras.callbacks.{' or keras.callbacks.'.join(ALLOWED_CALLBACKS)}",
                cause="the grader trains your model itself and runs only callbacks it knows",
                hint="keep EarlyStopping and ReduceLROnPlateau; print or plot in your notebook instead",
            )
        monitor = cb.config.get("monitor", "val_loss")
        if monitor not in MONITORS or (monitor.startswith("val_") and split <= 0):
            raise call.fail(
                f"got {cb.class_name}(monitor={clean_text(str(monitor), 40)!r})"
                + (" without a validation_split" if monitor in MONITORS else ""),
                f"monitor one of {', '.join(MONITORS)} (val_ ones need a validation_split above 0)",
                cause="a metric name training never reports (val_acc for val_accuracy, say)" if monitor not in MONITORS else "no validation data to compute it on",
                hint="monitor='val_loss' or 'val_accuracy', with a validation_split above 0 so that they exist",
            )
        specs.append({"class": cb.class_name, "config": cb.config})
    return Settings(epochs, batch_size, float(split), tuple(specs), labels)


# ---------------------------------------------------------------- the model file


class ModelRefused(Exception):
    """The .keras file is not something the grader will load."""

    def __init__(self, got: str, cause: str = "", hint: str = ""):
        super().__init__(got)
        self.got, self.cause, self.hint = got, cause, hint


def _numbers_in(items: list) -> int:
    """Numbers in a (nested) list, not counting those inside dicts."""
    return sum(_numbers_in(v) if isinstance(v, list) else isinstance(v, (int, float)) for v in items)


def _long_lists(node: Any) -> bool:
    """Some list in the config holds more numbers than a shape or kernel size would."""
    if isinstance(node, dict):
        return any(_long_lists(v) for v in node.values())
    if isinstance(node, list):
        return _numbers_in(node) > MAX_CONFIG_LIST or any(_long_lists(v) for v in node)
    return False


def _listed_numbers(node: Any) -> int:
    """Numbers in every list of the config together."""
    if isinstance(node, dict):
        return sum(_listed_numbers(v) for v in node.values())
    if isinstance(node, list):
        return _numbers_in(node) + sum(_listed_numbers(v) for v in node if isinstance(v, (dict, list)))
    return 0


def _initializer_with_data(node: Any) -> bool:
    """An initializer whose configuration holds more than single numbers and
    names (Constant([...]), say): fresh weights must be drawn, never carried."""
    if isinstance(node, dict):
        module = node.get("module")
        if isinstance(module, str) and "initializers" in module.split("."):
            config = node.get("config")
            values = config.values() if isinstance(config, dict) else [config]
            if any(isinstance(v, (list, dict)) for v in values):
                return True
        return any(_initializer_with_data(v) for v in node.values())
    if isinstance(node, list):
        return any(_initializer_with_data(v) for v in node)
    return False


def _smuggled_numbers(node: Any) -> bool:
    """The config carries a table of numbers (weights hidden in initializers,
    say), which re-initialising the model would not remove."""
    return _long_lists(node) or _listed_numbers(node) > MAX_CONFIG_NUMBERS or _initializer_with_data(node)


def _classes(node: Any):
    """Every (module, class_name, registered_name, config) a Keras config names, recursively."""
    if isinstance(node, dict):
        if "class_name" in node:
            yield node.get("module"), str(node.get("class_name")), node.get("registered_name"), node.get("config")
        for value in node.values():
            yield from _classes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _classes(value)


# Keras's own functions a model may name (activations, losses, metrics); any
# other name is refused, whatever Keras would resolve it to.
KERAS_FUNCTIONS = frozenset(
    """
    relu relu6 leaky_relu elu selu gelu silu swish mish softmax log_softmax sigmoid hard_sigmoid
    hard_silu hard_swish tanh softplus softsign linear exponential
    sparse_categorical_crossentropy categorical_crossentropy binary_crossentropy mean_squared_error
    mean_absolute_error kl_divergence poisson hinge squared_hinge categorical_hinge huber log_cosh
    sparse_categorical_accuracy categorical_accuracy accuracy binary_accuracy
    sparse_top_k_categorical_accuracy top_k_categorical_accuracy
    """.split()
)
# Keras layers that read files or run stored graphs: never part of an MNIST model.
FILE_LAYERS = frozenset({"TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer"})


# The layers whose cost the work estimate models (_trainer.forward_flops: kernel
# weights x output positions, and values read or written for the rest): the
# course's Dense and convolution layers, pooling, normalisation, dropout and
# noise, reshaping and merging, activations, augmentation and Rescaling. Any
# other layer is refused before training: attention's score products, a
# recurrent layer's kernels (applied at every time step) and an EinsumDense
# that sums over an axis do far more work than that count says, so a model
# built from them could train for many times the budget it declares.
MODELLED_LAYERS = frozenset(
    """
    InputLayer Dense Conv1D Conv2D Conv3D SeparableConv1D SeparableConv2D DepthwiseConv1D DepthwiseConv2D
    MaxPooling1D MaxPooling2D MaxPooling3D AveragePooling1D AveragePooling2D AveragePooling3D
    GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D GlobalAveragePooling1D GlobalAveragePooling2D
    GlobalAveragePooling3D BatchNormalization LayerNormalization GroupNormalization UnitNormalization Normalization
    Dropout SpatialDropout1D SpatialDropout2D SpatialDropout3D GaussianDropout GaussianNoise AlphaDropout
    ActivityRegularization Flatten Reshape Permute RepeatVector Cropping1D Cropping2D Cropping3D
    ZeroPadding1D ZeroPadding2D ZeroPadding3D UpSampling1D UpSampling2D UpSampling3D Identity
    Add Subtract Multiply Average Maximum Minimum Concatenate
    Activation ReLU LeakyReLU PReLU ELU Softmax
    Rescaling Resizing CenterCrop RandomFlip RandomRotation RandomZoom RandomTranslation RandomContrast
    RandomCrop RandomBrightness
    """.split()
)
LAYER_MODULES = ("keras.layers", "keras.src.layers")
# Operations a functional model may apply between layers (x + y, keras.ops.*):
# these do work the estimate does not see, so they are refused like such layers.
UNMODELLED_OPS = ("Matmul", "Einsum", "Tensordot", "Dot", "Inner", "Outer", "Kron", "Conv", "Correlate", "Convolve",
                  "Fft", "Stft", "Attention", "Loop", "Scan", "Map", "Solve", "Inv", "Qr", "Svd", "Eig", "Lstsq",
                  "Det", "Cholesky", "Cond", "Rnn", "Lstm", "Gru")


def allowed_at_build() -> dict:
    """What the trainer checks again on the model Keras built, whatever module or
    alias the configuration named each class by (_trainer._check_classes)."""
    return {"layers": sorted(MODELLED_LAYERS), "ops": list(UNMODELLED_OPS)}


def _unmodelled(module: Any, name: str) -> bool:
    """A layer or an operation whose work the estimate does not count."""
    if not isinstance(module, str):
        return False
    if module in LAYER_MODULES or module.startswith("keras.src.layers."):
        return name not in MODELLED_LAYERS
    if module.startswith("keras.src.ops") or module.startswith("keras.ops"):
        return any(part.lower() in name.lower() for part in UNMODELLED_OPS)
    return False


def _layer_or_op(module: Any) -> bool:
    """A configuration object that becomes a layer or an operation of the model's graph."""
    return isinstance(module, str) and (
        module in LAYER_MODULES or module.startswith(("keras.src.layers.", "keras.src.ops", "keras.ops"))
    )


def _allowed(module: Any, name: str, registered: Any, config: Any) -> bool:
    """Keras's own classes; the tensors linking a Functional model's layers; and
    Keras's own functions given by name (loss=keras.losses.sparse_categorical_crossentropy)."""
    if name == "__keras_tensor__":
        return module is None and isinstance(config, dict)
    if name == "function":
        return module == "builtins" and registered in (None, "function") and config in KERAS_FUNCTIONS
    if name in FILE_LAYERS:
        return False
    own = isinstance(module, str) and (module == "keras" or module.startswith("keras."))
    # Keras writes a class's own name; a dotted one ("layers.LSTM" in the module
    # "keras") or an alias package of the public API would name a layer by a
    # module the checks below do not read as a layer module.
    alias = isinstance(module, str) and module.split(".")[:2] in (["keras", "api"], ["keras", "_tf_keras"])
    return own and not alias and "." not in name and registered in (None, name)


def _without_seeds(node: Any) -> Any:
    """The config with every explicit seed removed: the grader's seed decides all randomness."""
    if isinstance(node, dict):
        return {k: None if k == "seed" else _without_seeds(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_seeds(v) for v in node]
    return node


def _read_config(path: Path) -> Any:
    try:
        with zipfile.ZipFile(path) as archive:
            if sum(i.file_size for i in archive.infolist()) > MAX_UNPACKED:
                raise ModelRefused("the model file unpacks to more than the grader accepts")
            info = archive.getinfo("config.json")
            if info.file_size > MAX_CONFIG:
                raise ModelRefused(
                    "the model's configuration is larger than the grader accepts",
                    cause="weights or data written into the configuration (a constant initializer, say)",
                    hint="use Keras's default initializers: the grader trains every model from freshly drawn weights",
                )
            return json.loads(archive.read(info))
    except ModelRefused:
        raise
    except Exception:  # noqa: BLE001 - a broken, odd or hostile file: all refused alike
        raise ModelRefused("the saved model is not a valid .keras file") from None


def model_config(path: Path) -> dict:
    """The model's configuration from its .keras file, read once and checked: only
    Keras's own classes (so safe_mode loading never imports anything else), no
    weights hidden in it, every explicit seed removed. Only this checked copy is
    ever given to the trainer; the file is not read again."""
    config = _read_config(path)
    try:
        classes = list(_classes(config))
        smuggled = _smuggled_numbers(config)
    except RecursionError:
        raise ModelRefused("the model's configuration is nested far too deeply") from None
    if not isinstance(config, dict) or not classes:
        raise ModelRefused("the saved model is not a valid .keras file")
    if smuggled or any(name == "__numpy__" for _, name, _, _ in classes):
        raise ModelRefused(
            "the model's configuration carries a list of numbers (weights in an initializer, say)",
            cause="initializers given arrays (Constant([...])) or preset statistics built from data; only a single number, such as Constant(0.0), is accepted",
            hint="use Keras's default initializers: the grader trains every model from freshly drawn weights",
        )
    layers = sum(1 for module, *_ in classes if _layer_or_op(module))
    if layers > MAX_LAYERS or len(classes) > MAX_CONFIG_OBJECTS:
        raise ModelRefused(
            f"the model has {layers:,} layers and operations in {len(classes):,} Keras objects; "
            f"the grader builds at most {MAX_LAYERS} layers ({MAX_CONFIG_OBJECTS} objects)",
            cause="layers made in a loop, far more of them than an MNIST network needs",
            hint="a few Dense or Conv2D layers with pooling and dropout are enough; the lessons' models have under 15",
        )
    for module, name, registered, layer_config in classes:
        shown, where = clean_text(name, 60), clean_text(str(module), 80)
        if name == "Lambda":
            raise ModelRefused(
                "the model has a Lambda layer, which the grader does not load (it would run code from the file)",
                cause="layers.Lambda(...) for a step that Keras has a layer for",
                hint="use Keras's own layers: Rescaling(1/255) scales, Reshape/Flatten change shapes",
            )
        if name == "Normalization" and isinstance(layer_config, dict) and layer_config.get("mean") is None:
            raise ModelRefused(
                "the model has a Normalization layer adapted to data; its statistics are weights, which the grader draws afresh",
                cause="Normalization().adapt(...) before returning the model",
                hint="scale with layers.Rescaling(1 / 255) instead (or give Normalization(mean=..., variance=...) as numbers)",
            )
        if _allowed(module, name, registered, layer_config) and _unmodelled(module, name):
            raise ModelRefused(
                f"the model uses {shown}, a layer whose work the grader's budget does not count",
                cause=f"{shown} (attention, recurrent layers such as LSTM/GRU/SimpleRNN, EinsumDense and matrix products "
                "between layers do far more work per image than the grader's estimate of kernels times output positions); "
                "this course's models need none of them",
                hint="build the model from Dense and Conv2D layers with pooling, normalisation, dropout, reshaping, "
                "activations, augmentation and Rescaling: the grader counts their work exactly",
            )
        if not _allowed(module, name, registered, layer_config):
            raise ModelRefused(
                f"the model uses {shown} from {where}, which is not one of Keras's own classes",
                cause="a custom layer, loss or other object defined in your code",
                hint="build the model from keras.layers only; the grader loads it with safe_mode=True",
            )
    return _without_seeds(config)


def _canonical(config: Any) -> Any:
    """The config without Keras's per-process object ids, for hashing."""
    if isinstance(config, dict):
        return {k: _canonical(v) for k, v in config.items() if k != "shared_object_id"}
    if isinstance(config, list):
        return [_canonical(v) for v in config]
    return config


# ---------------------------------------------------------------- the trainer


MAX_CACHE_ENTRY = 64 << 20  # bytes of one cached training result


@contextmanager
def _locked(path: Path):
    """An exclusive lock on `path` across processes (and, on a shared folder, machines)."""
    with open(path, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _read_entry(path: Path, key: str) -> dict | None:
    """The result a cache entry holds, or None if it is missing, unreadable or not this key's."""
    try:
        entry = json.loads(read_regular(path, MAX_CACHE_ENTRY).decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("result"), dict):
        return None
    return entry["result"]


class Trainer:
    """Runs grader/training/_trainer.py on one data set; one per grading process.

    The data reaches the trainer as .npy files written for each run into a
    folder of the grader's and removed right after, while no student process
    runs (the caller stops the worker first). `cache`: the folder where
    results are kept across processes (the run's settings), or None."""

    def __init__(self, data: MNIST, cache: str | Path | None = None):
        self.data = data
        self._dir = tempfile.TemporaryDirectory(prefix="mnist-grader-trainer-")
        self.dir = Path(self._dir.name)
        self._memo: dict[str, dict] = {}
        self.cache = Path(cache) if cache else None

    def _run(self, request: dict, timeout: float, arrays: dict[str, np.ndarray], progress: Callable[[dict], None] | None = None) -> dict:
        folder = Path(tempfile.mkdtemp(prefix="run-", dir=self.dir))
        try:
            for name, array in arrays.items():
                request[name] = str(folder / f"{name}.npy")
                np.save(request[name], array, allow_pickle=False)
            return self._communicate(request, folder, timeout, progress)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _communicate(self, request: dict, folder: Path, timeout: float, progress) -> dict:
        # On the CPU even where a GPU exists: the thresholds were measured there,
        # op determinism holds there, and CUDA cannot start under the memory cap.
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0", "KERAS_HOME": str(folder / ".keras"), "CUDA_VISIBLE_DEVICES": ""}
        proc = subprocess.Popen(
            [sys.executable, "-I", str(TRAINER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=folder,
            start_new_session=True,
            preexec_fn=_limiter(TRAINER_MEMORY, oom_score=500) if os.name == "posix" else None,
            text=True,
        )
        fired = threading.Event()  # the safety clock's own flag: Timer.cancel() sets timer.finished too

        def expire() -> None:
            fired.set()
            proc.kill()

        timer = threading.Timer(timeout, expire)
        timer.start()
        result = None
        try:
            proc.stdin.write(json.dumps(request))
            proc.stdin.close()
            for line in proc.stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue  # a stray line from a library
                if isinstance(message, dict) and "result" in message:
                    result = message["result"]
                elif progress is not None and isinstance(message, dict):
                    progress(message)
            proc.wait()
        except BrokenPipeError:
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:  # interrupted while reading (Ctrl-C): leave nothing running
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if isinstance(result, dict):
            if result.get("status") == "error":  # a MemoryError where the machine gives less than TRAINER_MEMORY is the machine's
                why = machine_failure(TRAINER_MEMORY, f"{result.get('type', '')}: {result.get('message', '')}")
                if why:
                    return {"status": "machine", "why": why, "failed": f"{result.get('type', '')}: {clean_text(str(result.get('message', '')), 300)}"}
            return result
        if fired.is_set():
            return {"status": "timeout", "timeout": timeout}
        if proc.returncode != -9:  # SIGKILL is said as it always was ("killed by the system"); other deaths of a short machine are its own
            why = machine_failure(TRAINER_MEMORY, exit_code=proc.returncode)
            if why:
                return {"status": "machine", "why": why, "failed": f"it ended with {-proc.returncode if proc.returncode < 0 else proc.returncode}"}
        return {"status": "killed", "returncode": proc.returncode}

    def _probe(self, input_shape: tuple[int, ...]) -> np.ndarray:
        return self.data.x_train[:PROBE_IMAGES].astype(np.float32).reshape((-1, *input_shape))

    def _cached(self, identity: dict, run: Callable[[], dict]) -> dict:
        """`run()`'s result for this identity: memoised, and kept on disk when a
        cache folder is configured, so an identical declaration (another
        student's, another run's, another worker's sharing the folder) is
        trained once: a grader that finds the key locked waits for the one
        training it, then reads its entry. A result read from disk carries
        "reused": True. Only finished results are kept (never a run the safety
        timeout stopped); an entry that is unreadable or names another key is
        ignored and trained again."""
        identity = {
            "cache_version": CACHE_VERSION,
            # The grader, its code (the trainer's included: a fixed trainer never serves results
            # of the old one), the libraries and the CPU family: provenance.py's one definition.
            "machine": grading_machine(),
            **identity,
        }
        key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
        if key in self._memo:
            return self._memo[key]
        result = None
        if self.cache is not None:
            try:
                result = self._through_cache(key, run)
            except OSError:  # a cache that fails (a full disk, a lock refused) costs only the sharing: train without it
                result = None
        if result is None:
            result = run()
        self._memo[key] = result
        return result

    def _through_cache(self, key: str, run: Callable[[], dict]) -> dict:
        self.cache.mkdir(mode=0o700, parents=True, exist_ok=True)  # the grading account's alone
        entry = self.cache / f"{key}.json"
        with _locked(self.cache / f"{key}.lock"):
            result = _read_entry(entry, key)
            if result is not None:
                result["reused"] = True
                return result
            result = run()
            if result.get("status") in ("ok", "not_finite"):
                try:
                    temp = entry.with_suffix(f".{os.getpid()}.tmp")
                    temp.write_text(json.dumps({"key": key, "result": result}), encoding="utf-8")
                    os.replace(temp, entry)
                except OSError:
                    pass  # not kept: the next grader trains it again
            return result

    def inspect(self, config: dict, training: Training, before_run: Callable[[], None] = lambda: None) -> dict:
        """Shapes, layers, loss, and the freshly built model run on a few training images.
        `before_run` is called only when the trainer actually runs (stop the student's worker)."""
        request = {
            "mode": "inspect",
            "config": config,
            "input_shape": list(training.input_shape),
            "seed": training.seed,
            "allowed": allowed_at_build(),
            # No training within the cap does more work per image than the cap spread over
            # one pass of the training images: past that, the probe is not run (max_forward_flops).
            "max_forward_flops": budget.cap(training, len(self.data.x_train)) / len(self.data.x_train),
        }
        identity = {**request, "config": _canonical(config), "training": training.__dict__, "data": self.data.provenance.sha256}
        probe = {"probe": self._probe(training.input_shape)}

        def run() -> dict:
            before_run()
            return self._run(dict(request), start_up_timeout_s() * switches().safety_factor, probe)

        return self._cached(identity, run)

    def train(
        self,
        config: dict,
        settings: Settings,
        training: Training,
        progress: Callable[[dict], None] | None = None,
        before_run: Callable[[], None] = lambda: None,
    ) -> dict:
        """Build from the seed, train, evaluate on the test set (see _trainer.py). The
        declaration's work was checked against the cap before (mnist_course/budget.py);
        the only clock is the safety timeout, whose firing is the grader's failure."""
        request = {
            "mode": "train",
            "config": config,
            "settings": settings.as_json(),
            "input_shape": list(training.input_shape),
            "seed": training.seed,
            "allowed": allowed_at_build(),
            # The throughput guard: the first epoch's CPU time against its declared work (mnist_course/budget.py).
            "guard": None if not switches().work_guard else {
                "allowance_s": epoch_cpu_allowance_s(0.0),
                "seconds_per_flop": (epoch_cpu_allowance_s(1e12) - epoch_cpu_allowance_s(0.0)) / 1e12,
                "step_flops": STEP_FLOPS,
                "backward_factor": BACKWARD_FACTOR,
            },
        }
        identity = {**request, "config": _canonical(config), "training": training.__dict__, "data": self.data.provenance.sha256}
        arrays = {"x_train": self.data.x_train, "y_train": self.data.y_train, "x_test": self.data.x_test, "y_test": self.data.y_test}

        def run() -> dict:
            before_run()
            started = time.perf_counter()
            result = self._run(dict(request), safety_timeout_s(training, len(self.data.x_train)) * switches().safety_factor, arrays, progress)
            result["wall_seconds"] = round(time.perf_counter() - started, 1)
            return result

        return self._cached(identity, run)


HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")  # the learning curves a report keeps


def training_summary(result: dict, y_test: np.ndarray, graded: np.ndarray | None = None) -> dict | None:
    """What the feedback page plots from one training, as small plain data for the
    report: the per-epoch history, the 10 x 10 confusion matrix (rows: true
    digit, columns: predicted) and the most confident mistakes as test-set
    indices (never pixels), both over the `graded` test images only (the half
    of the test set the accuracy was measured on; default all). None when
    nothing was trained."""
    history = result.get("history") or {}
    summary: dict[str, Any] = {
        "history": {
            key: [round(v, 5) if isinstance(v, float) and np.isfinite(v) else None for v in history[key]]
            for key in HISTORY_KEYS
            if isinstance(history.get(key), list)
        }
    }
    if not summary["history"].get("loss"):
        return None
    predictions = result.get("predictions")
    predicted = np.asarray(predictions if isinstance(predictions, list) else [], dtype=np.int64)
    if len(predicted) == len(y_test) > 0 and predicted.min() >= 0 and predicted.max() < 10:
        graded = np.arange(len(y_test)) if graded is None else graded
        confusion = np.bincount(np.asarray(y_test, dtype=np.int64)[graded] * 10 + predicted[graded], minlength=100).reshape(10, 10)
        summary["confusion"] = confusion.tolist()
        shown = set(graded.tolist())
        summary["misclassified"] = [
            {"index": index, "label": label, "predicted": guess, "confidence": confidence}
            for index, label, guess, confidence in result.get("mistakes") or []
            if index in shown
        ]
    return summary


_TRAINERS: dict[tuple[int, str | None], Trainer] = {}


def trainer_for(data: MNIST, cache: str | None = None) -> Trainer:
    """One trainer per data set (and cache folder) per process."""
    key = (id(data), None if cache is None else str(cache))
    if key not in _TRAINERS:
        _TRAINERS[key] = Trainer(data, cache)
    return _TRAINERS[key]


def threshold_for(exercise: Exercise, data: MNIST, half: str) -> tuple[float, float, str]:
    """The exercise's accuracy threshold for this data set and half of its test
    set, the band below it over which points fall to none, and the set's name."""
    name = data.provenance.dataset
    if name not in exercise.thresholds:
        name = "custom"
    if name not in exercise.thresholds:
        raise Feedback(
            f"course.toml has no accuracy threshold for the data set {data.provenance.dataset}",
            "a threshold for every data set the grader can load",
            hint="this is a problem of the course, not of your code; please report it",
        )
    return exercise.thresholds[name][half], exercise.accuracy_bands.get(name, exercise.accuracy_bands.get("custom", 0.01)), name
