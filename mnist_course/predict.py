"""`mnist-course predict` and `mnist-course train`: a trained model in real use.

predict reads photos or scans of handwritten digits with Pillow, prepares each
one MNIST-style with exercise 6's `prepare_image` and asks a saved model with
`predict_digit`. Both functions come from the reference solution,
solutions/ex06_real_use.py, loaded by path so there is one source of truth
(`--use-exercises` takes the student's own exercises/ex06_real_use.py
instead, as does a copy of the course without solutions/, a class's starter,
saying so). A file that cannot be read as an image gets its own error line and
the other files are still predicted.

train trains `mnist_course.models.stronger_cnn()` with the settings beside it
(a fixed number of epochs on every training image, a cosine learning rate),
with Keras's progress bar, prints the test accuracy and saves the model where
predict looks for it by default, with a training record beside it
(`<model>.json`: the data, seed, epochs, time and test accuracy).
"""

from __future__ import annotations

import io
import json
import re
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import TextIO

import numpy as np

from .course import ROOT, import_file, solutions_elsewhere
from .data import quiet_keras

DEFAULT_MODEL = ROOT / "models" / "mnist-cnn.keras"


def training_record_path(model_path: str | Path) -> Path:
    """Where `train` writes what it knows of a model: models/mnist-cnn.keras -> models/mnist-cnn.json."""
    return Path(model_path).with_suffix(".json")
MODULE = "ex06_real_use"


class PredictError(Exception):
    """Something predict or train cannot go on without (the model, the functions)."""


def _shown(path: Path) -> str:
    """A path for messages: relative to the current folder if it lies inside it, else absolute."""
    path = Path(path)
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_functions(use_exercises: bool = False, say=lambda line: print(line, file=sys.stderr)) -> ModuleType:
    """Exercise 6's module: the reference solution, or the student's own file (also where
    solutions/ is not there, as in a class's starter: `say` tells why)."""
    if not use_exercises and not (ROOT / "solutions").is_dir():
        say(f"{solutions_elsewhere()}; using your own exercises/{MODULE}.py")
        use_exercises = True
    path = ROOT / ("exercises" if use_exercises else "solutions") / f"{MODULE}.py"
    if not path.is_file():
        other = "" if use_exercises else " (or pass --use-exercises to use your own exercises/ex06_real_use.py)"
        raise PredictError(f"{_shown(path)} is missing: predict needs its prepare_image() and predict_digit(){other}")
    try:
        module = import_file(path)
    except Exception as exc:  # noqa: BLE001 - whatever the file does wrong, say so and stop
        raise PredictError(f"{_shown(path)} could not be imported: {type(exc).__name__}: {exc}") from None
    for name in ("prepare_image", "predict_digit"):
        if not callable(getattr(module, name, None)):
            raise PredictError(f"{_shown(path)} has no function {name}()")
    return module


class ImageTooLarge(OSError):
    """A picture with more pixels than the reader agreed to decode."""


class NotAnImage(OSError):
    """Bytes that no decoder the reader tried recognises as a picture (a text file, say)."""


def read_image(path: Path) -> np.ndarray:
    """A picture file as a uint8 array: (H, W) grayscale, (H, W, 3) RGB or (H, W, 4) RGBA.

    Phone photos are turned upright by their EXIF orientation; palette and
    16-bit images are converted. Raises OSError (with a message naming the
    file) for anything Pillow cannot read as an image.
    """
    path = Path(path)
    if path.is_dir():
        raise OSError(f"{_shown(path)} is a folder, not an image")
    if not path.exists():
        raise OSError(f"{_shown(path)}: no such file")
    return _decode(path, _shown(path), max_side=None, max_pixels=None)


def decode_image(
    data: bytes,
    name: str = "the picture",
    max_side: int | None = None,
    max_pixels: int | None = None,
    formats: tuple[str, ...] | None = None,
) -> np.ndarray:
    """read_image() for a picture already in memory (an upload): the same arrays and errors.
    With `max_side`, a larger picture is shrunk to fit it (keeping its shape); with
    `max_pixels`, one with more pixels is refused before it is decoded (ImageTooLarge);
    `formats` limits the Pillow decoders tried (None: all of them)."""
    if not data:
        raise OSError(f"{name} is empty (0 bytes)")
    return _decode(io.BytesIO(data), name, max_side, max_pixels, formats)


def _too_many_pixels(name: str, size: str, limit: int) -> str:
    return f"{name} is {size}, more than the {limit / 1e6:,.0f} million this reads: a photo of one digit needs far fewer (the model sees 28 x 28)"


def _decode(source, name: str, max_side: int | None, max_pixels: int | None, formats: tuple[str, ...] | None = None) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(source, formats=formats) as opened:
            if max_pixels and opened.width * opened.height > max_pixels:  # from the header: nothing is decoded yet
                raise ImageTooLarge(_too_many_pixels(name, f"{opened.width:,} x {opened.height:,} pixels", max_pixels))
            if max_side:
                opened.draft(None, (max_side, max_side))  # JPEG decodes at a reduced scale: faster, less memory
            opened.load()
            image = opened
            if max_side and max(image.size) > max_side:
                # Shrunk before anything else copies it; box filter: thin strokes fade, never vanish.
                image = image.resize(_fit(image.size, max_side), Image.Resampling.BOX if image.mode not in ("P", "1") else Image.Resampling.NEAREST)
            ImageOps.exif_transpose(image, in_place=True)  # upright, for phone photos; no copy
            return _as_array(image)
    except ImageTooLarge:
        raise
    except UnidentifiedImageError:
        kinds = f"this reads ({', '.join(formats)})" if formats else "Pillow can read (PNG, JPEG, BMP, GIF, TIFF, WebP...)"
        raise NotAnImage(f"{name} is not an image {kinds}") from None
    except Image.DecompressionBombError as exc:  # Pillow's own guard fires in open(), above twice its warning size
        count = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(count.group(1)) / 1e6:,.0f} million pixels" if count else "too many pixels"
        raise ImageTooLarge(_too_many_pixels(name, size, max_pixels or Image.MAX_IMAGE_PIXELS)) from None
    except Exception as exc:  # noqa: BLE001 - any decoder's failure (a corrupt or exotic file) is that file's error
        raise OSError(f"{name} could not be read as an image: {type(exc).__name__}: {exc}") from None


def _as_array(image) -> np.ndarray:
    """A decoded Pillow image as uint8 gray, RGB or RGBA."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit or float grayscale: rescale to 0..255
        values = np.asarray(image.convert("F"), dtype=np.float32)
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if finite.size else 0.0  # one NaN or infinite pixel must not blank the rest
        scaled = np.nan_to_num(values / top * 255 if top > 0 else values, nan=0.0, posinf=255.0, neginf=0.0)
        return np.round(scaled).clip(0, 255).astype(np.uint8)
    if image.mode in ("L", "RGB", "RGBA"):
        pass
    elif "A" in image.getbands() or "transparency" in image.info:
        image = image.convert("RGBA")
    elif image.mode == "1":
        image = image.convert("L")
    else:
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """(width, height) scaled to fit in side x side, keeping the shape."""
    scale = side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def load_model(path: Path):
    """A saved .keras model, loaded with safe_mode=True (no code runs from the file)."""
    path = Path(path)
    if not path.is_file():
        default = path.resolve() == DEFAULT_MODEL.resolve()
        how = (
            "Train one with `mnist-course train` (it saves there)"
            if default
            else f"Train one with `mnist-course train --out {_shown(path)}`, or pass --model PATH of a saved .keras model"
        )
        raise PredictError(f"no trained model at {_shown(path)}. {how}.")
    if path.suffix != ".keras":
        raise PredictError(f"{_shown(path)} is not a .keras file: give a model saved with model.save('....keras')")
    keras = quiet_keras()
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - a broken or foreign file: say which and why
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PredictError(f"{_shown(path)} could not be loaded as a Keras model: {first}") from None


def format_prediction(name: str, digit: int, confidence: float, top3: list[tuple[int, float]]) -> str:
    ranked = ", ".join(f"{k} {p:.1%}" for k, p in top3)
    return f"{name}: {digit} ({confidence:.1%})   top 3: {ranked}"


def predict_files(
    paths: list[str | Path],
    model_path: str | Path = DEFAULT_MODEL,
    use_exercises: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Predict each image and print one line per file. Exit status: 0 all predicted,
    1 some file failed (the others were still predicted), 2 nothing could be
    predicted (no model, no functions)."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        functions = load_functions(use_exercises)
        model = load_model(Path(model_path))
    except PredictError as exc:
        print(f"mnist-course predict: {exc}", file=err)
        return 2
    failed = 0
    for raw in paths:
        path, name = Path(raw), str(raw)  # each file named as the user typed it
        try:
            image = read_image(path)
            prepared = functions.prepare_image(image)
            digit, confidence, top3 = functions.predict_digit(model, prepared)
            line = format_prediction(name, digit, confidence, top3)
        except NotImplementedError as exc:
            print(f"mnist-course predict: {exc} (in exercises/{MODULE}.py; grade it with `grader ex06`)", file=err)
            return 2
        except OSError as exc:  # the message names the file
            print(f"error: {exc}", file=err)
            failed += 1
            continue
        except ValueError as exc:  # prepare_image() found no digit, say
            print(f"error: {name}: {exc}", file=err)
            failed += 1
            continue
        except Exception as exc:  # noqa: BLE001 - a bug in the functions (a student's, with --use-exercises) stops one file only
            print(f"error: {name}: {type(exc).__name__} in exercise 6's functions: {exc}", file=err)
            failed += 1
            continue
        print(line, file=out, flush=True)
    return 1 if failed else 0


def train(
    out_path: str | Path = DEFAULT_MODEL,
    epochs: int | None = None,
    data: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    out: TextIO | None = None,
    full: bool | None = None,
) -> int:
    """Train the stronger CNN, print its test accuracy, save it. Returns the exit status.
    `full`: all 60,000 training images (None: as $MNIST_COURSE_FULL says, load_mnist's default)."""
    out = out or sys.stdout
    from .data import load_mnist
    from .models import STRONGER_CNN_SETTINGS, stronger_cnn

    settings = dict(STRONGER_CNN_SETTINGS)
    if epochs:
        settings["epochs"] = epochs
    mnist = load_mnist(data, full=full)
    print(mnist.provenance.describe(), file=out)
    x_train, y_train, x_test, y_test = mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test
    if limit:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[:limit], y_test[:limit]
    # Raw pixels 0..255 with a channel axis: the model scales them itself.
    x_train = x_train[..., np.newaxis].astype(np.float32)
    x_test = x_test[..., np.newaxis].astype(np.float32)

    keras = quiet_keras()
    keras.utils.set_random_seed(seed)
    # The learning rate falls along a cosine to 0 at the last epoch, so the schedule needs the run's length.
    model = stronger_cnn(len(x_train), settings["epochs"])
    print(
        f"Training {model.name} ({model.count_params():,} parameters) on all {len(x_train):,} training images "
        f"for {settings['epochs']} epochs, the learning rate falling from 0.002 to 0 along a cosine.",
        file=out,
        flush=True,
    )
    started = time.perf_counter()
    model.fit(x_train, y_train, verbose=1, **settings)  # Keras's own progress bar, one per epoch
    seconds = time.perf_counter() - started
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(out_path)
    record = {
        "model": model.name,
        "params": model.count_params(),
        "data": mnist.provenance.dataset,
        "data_sha256": mnist.provenance.sha256,
        "train_images": len(x_train),
        "test_images": len(x_test),
        "epochs": settings["epochs"],
        "seed": seed,
        "train_seconds": round(seconds, 1),
        "test_accuracy": float(accuracy),
        "keras": keras.__version__,
    }
    training_record_path(out_path).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"Test accuracy: {accuracy:.2%} on {len(x_test):,} test images ({settings['epochs']} epochs in {seconds:.0f} s).", file=out)
    model_option = "" if out_path.resolve() == DEFAULT_MODEL.resolve() else f" --model {_shown(out_path)}"
    print(f"Saved to {_shown(out_path)}. Try it: mnist-course predict IMAGE...{model_option}", file=out)
    return 0
