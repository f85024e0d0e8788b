"""What `training_settings()` may declare, and the one check of it.

A model exercise's `training_settings()` returns a dict (epochs, batch size,
validation split, callbacks, label encoding); it comes back from the
student's worker as plain data. `validate_settings` holds it to the contract
and turns it into `Settings`, the frozen form the grader's trainer receives
(grader/training/trainer.py); anything else fails with a message that says
what is wrong and how to write it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mnist_course.course import Training

from ..feedback import describe
from ..isolation.reply import CallbackSpec
from ..isolation.safe_files import clean_text

SETTINGS_KEYS = {"epochs", "batch_size", "validation_split", "callbacks", "labels"}
ALLOWED_CALLBACKS = ("EarlyStopping", "ReduceLROnPlateau")
MONITORS = ("loss", "accuracy", "val_loss", "val_accuracy")  # what the grader's training reports


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
    if batch_size < training.min_batch_size:
        raise call.fail(
            f"got batch_size={batch_size}",
            f"a batch size of at least {training.min_batch_size:,} (your variant's constraint)",
            cause="a batch size below the one your variant asks for: the grader trains at least that many images per step",
            hint="keep the batch size your variant asks for, and choose the learning rate that suits so few, large steps",
        )
    if batch_size > 4096:
        raise call.fail(
            f"got batch_size={batch_size}",
            "a batch size of at most 4096",
            cause="a batch as large as the training set: few updates per epoch, and a lot of memory",
            hint="a batch of a few dozen to a few hundred images: the lesson's batch size works well here" if training.min_batch_size == 1
            else f"a batch from {training.min_batch_size:,} to 4,096 images, as your variant asks",
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
