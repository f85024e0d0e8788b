"""What a model exercise's variant asks of a student's model: a constraint on the grader's training.

A model exercise (ex02, ex03, ex05) may list variants that constrain the grader's training (issue 39 item 4), each a
constraint no lesson model meets as it stands:

- `params.test_shift = k`: every test digit is moved by a whole number of pixels, up or down and left or
  right, each drawn from -k..k (zeros come in at the edge), so a model must read a digit wherever it sits;
  the training images stay as MNIST centres them.
- `params.train_images = n`: the grader trains on the first n training images only.
- a `training` table (course.toml): the variant's parameter budget, epoch cap, smallest batch size, or the
  reference declaration its work cap is counted from (mnist_course/course.py reads it into `Variant.training`).

What a variant asks of the model itself beyond these (ex02's plain SGD) is a check of its exercise
(grader/training/model_checks.py), the same for each of its variants.

`constrained_data` makes the data a variant's params ask for (`graded_test_images` its test digits, which
the feedback page shows), and `constrained_training` picks the variant's training; both are functions of
the variant and the data alone (the shifts come from one fixed seed), so every machine and every route
grades the same test digits.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from .course import Training, Variant
from .data import MNIST

# The shifts of the test digits: one draw for the course, never a student's (the variant is theirs).
SHIFT_SEED = 20261126
DATA_PARAMS = ("test_shift", "train_images")


def shifted(images: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Each image moved down by rows[i] and right by columns[i] pixels (negative: up, left), zeros
    coming in where it left; what passes the edge is lost."""
    out = np.zeros_like(images)
    height, width = images.shape[1:3]
    for i, (dy, dx) in enumerate(zip(rows.tolist(), columns.tolist())):
        out[i, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
            images[i, max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def digit_shifts(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows and columns by which the n test digits move, each drawn from -k..k."""
    rng = np.random.default_rng(SHIFT_SEED)
    return rng.integers(-k, k + 1, size=n), rng.integers(-k, k + 1, size=n)


def graded_test_images(x_test: np.ndarray, params: dict | None) -> np.ndarray:
    """The test images as a variant's params have the grader test on them: shifted where it asks."""
    k = (params or {}).get("test_shift")
    return shifted(x_test, *digit_shifts(len(x_test), int(k))) if k else x_test


# (data, its constrained copy): the data kept alive, so that its id is never another's.
_MEMO: dict[tuple, tuple[MNIST, MNIST]] = {}


def constrained_data(data: MNIST, params: dict | None) -> MNIST:
    """`data` as a variant's params have the grader train and test on it; `data` itself where they change
    nothing. One object per data set and params in a process, so the grader's trainer for it is made once."""
    asked = {name: params[name] for name in DATA_PARAMS if params and params.get(name)}
    if not asked:
        return data
    key = (id(data), tuple(sorted(asked.items())))
    if key not in _MEMO:
        x_train, y_train, x_test = data.x_train, data.y_train, data.x_test
        if "train_images" in asked:
            x_train, y_train = x_train[: asked["train_images"]], y_train[: asked["train_images"]]
        x_test = graded_test_images(x_test, asked)
        said = ",".join(f"{name}={value}" for name, value in sorted(asked.items()))
        # Named as the data it was made from (its bars are the variant's, course.toml), told apart by its checksum.
        provenance = dataclasses.replace(
            data.provenance,
            sha256=hashlib.sha256(f"{data.provenance.sha256}|{said}".encode()).hexdigest(),
            n_train=len(x_train),
        )
        _MEMO[key] = (data, MNIST(x_train, y_train, x_test, data.y_test, provenance))
    return _MEMO[key][1]


def constrained_training(training: Training | None, variant: Variant | None) -> Training | None:
    """The training the grader holds a variant's model to: the variant's own where it has one."""
    return variant.training if variant is not None and variant.training is not None else training


def constrains(variant: Variant | None) -> bool:
    """Whether a variant constrains the grader's training at all (its data or its budget)."""
    return variant is not None and (variant.training is not None or any(variant.params.get(name) for name in DATA_PARAMS))
