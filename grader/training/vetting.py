"""Vetting a student's `.keras` file before the grader builds anything from it.

`build_model()` comes back from the worker as the `.keras` file Keras wrote.
`model_config` reads its configuration once and holds it to what the grader
will load: a zip of the right size; only Keras's own classes (Functional
tensors and Keras's functions by name included), never a Lambda or a layer
that reads files; no weights hidden in lists or initializers, no adapted
Normalization; only layers whose work the budget counts (`MODELLED_LAYERS`),
at most `MAX_LAYERS` of them; every explicit seed removed. What fails is a
`ModelRefused` whose words the checks show. Only the checked copy ever
reaches the trainer; `allowed_at_build` is what the trainer checks again on
the model Keras actually built (grader/training/_trainer.py).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from ..isolation.safe_files import clean_text

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
