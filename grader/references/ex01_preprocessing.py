"""Exercise 01's references, apart from its checks (grader/checks/ex01_preprocessing.py): the images
standardize() is called with, its answer as scikit-learn's StandardScaler computes it (fitted on the
training images, then applied to both arrays: a mean and a population standard deviation per
position, and a scale of 1 where a position is constant), and the classic mistakes' answers that
name a likely cause. scikit-learn, so that pasted into the exercise file it earns nothing: ex01's
worker refuses it (course.toml's `by_hand`)."""

from __future__ import annotations

import numpy as np

# a constant position that is not 0 (the MNIST border's are): standardize() must shift it, never scale it
CONSTANT_AT, CONSTANT = (0, 5), 0.75  # a binary fraction: its mean over the images is exact, its std exactly 0


def inputs(mnist) -> tuple[np.ndarray, np.ndarray, str, str]:
    """(train, other, how each reads in a message): 300 training images in [0, 1], one position set
    to CONSTANT in all of them, and 60 test images on grey paper (0.2 + 0.8 * pixel), brighter than
    anything the training images hold, as real photos are, so that statistics that took them in
    move a long way."""
    train = mnist.x_train[:300].astype(np.float64) / 255
    train[(slice(None), *CONSTANT_AT)] = CONSTANT
    other = 0.2 + 0.8 * mnist.x_test[:60].astype(np.float64) / 255
    return (train, other, f"x_train[:300] / 255 with pixel {CONSTANT_AT} set to {CONSTANT} in every image",
            "0.2 + 0.8 * x_test[:60] / 255 (60 test images on grey paper: brighter than the training images)")


def _scaler(fitted_on: np.ndarray):
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit(fitted_on.reshape(len(fitted_on), -1))


def _applied(scaler, images: np.ndarray) -> np.ndarray:
    return scaler.transform(images.reshape(len(images), -1)).reshape(images.shape)


def standardized(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What standardize() returns, in float64: StandardScaler fitted on `train`, applied to both."""
    scaler = _scaler(train)
    return _applied(scaler, train), _applied(scaler, other)


def constant_positions(train: np.ndarray) -> np.ndarray:
    """The positions where every training image holds the same value."""
    return (train == train[:1]).all(axis=0)


def mistakes(train: np.ndarray, other: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The classic mistakes' (train_out, other_out), by name."""
    both = np.concatenate([train, other])
    leaked = _scaler(both)
    right_train, right_other = standardized(train, other)
    n = len(train)
    return {
        "leaked": (_applied(leaked, train), _applied(leaked, other)),
        "own_statistics": (right_train, _applied(_scaler(other), other)),
        "one_mean": ((train - train.mean()) / train.std(), (other - train.mean()) / train.std()),
        "sample_std": (right_train * np.sqrt((n - 1) / n), right_other * np.sqrt((n - 1) / n)),
    }
