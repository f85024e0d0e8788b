"""Exercise 01's references, apart from its checks (grader/checks/ex01/, collected by grader/checks/ex01_preprocessing.py): the images
standardize() is called with, its answer as scikit-learn's StandardScaler computes it (fitted on the
training images, then applied to both arrays: a mean and a population standard deviation per
position, and a scale of 1 where a position is constant), and the classic mistakes' answers that
name a likely cause. scikit-learn, so that pasted into the exercise file it earns nothing: ex01's
worker refuses it (course.toml's `by_hand`)."""

from __future__ import annotations

import numpy as np

# a constant position that is not 0 (the MNIST border's are): standardize() must shift it, never scale it;
# a binary fraction, so that its mean over the images is exact and its standard deviation exactly 0
CONSTANT = 0.75
NUDGE = 2.0 ** -10


def inputs(mnist, seed: int) -> tuple[np.ndarray, np.ndarray, str, str, tuple[int, int]]:
    """(train, other, how each reads in a message, the constant position), drawn from `seed` (a seed
    drawn for each file at grading time, so that no answer can be worked out at home and stored):
    300 training images in [0, 1] with one position, on the digits' side of the border, set to
    CONSTANT in all of them, and 60 test images on grey paper (paper + (1 - paper) * pixel, paper
    between 0.15 and 0.3), brighter than anything the training images hold, as real photos are, so
    that statistics that took them in move a long way."""
    rng = np.random.default_rng(seed)
    train = mnist.x_train[np.sort(rng.choice(len(mnist.x_train), 300, replace=False))].astype(np.float64) / 255
    at = (int(rng.integers(4, 24)), int(rng.integers(4, 24)))
    train[(slice(None), *at)] = CONSTANT
    # and one that barely varies: CONSTANT but in two images, NUDGE above and below it (a standard deviation of
    # about 8e-5, exact in float32 too), which standardize() must still scale to 1: a threshold on the spread
    # (std < 1e-4) takes it for constant (an adversarial review)
    near = next(p for p in ((int(rng.integers(4, 24)), int(rng.integers(4, 24))) for _ in range(100)) if p != at)
    train[(slice(None), *near)] = CONSTANT
    up, down = rng.choice(len(train), 2, replace=False)
    train[(up, *near)], train[(down, *near)] = CONSTANT + NUDGE, CONSTANT - NUDGE
    paper = float(rng.uniform(0.15, 0.3))
    other = paper + (1 - paper) * mnist.x_test[np.sort(rng.choice(len(mnist.x_test), 60, replace=False))].astype(np.float64) / 255
    return (train, other, f"300 training images / 255, drawn for this grading, with pixel {at} set to {CONSTANT} in every one "
            f"and pixel {near} set to {CONSTANT} in all but two ({CONSTANT} + 1/1024 in one, {CONSTANT} - 1/1024 in the other)",
            f"60 test images drawn for this grading, on grey paper ({paper:.3f} + {1 - paper:.3f} * pixel / 255: brighter than the "
            "training images)", at)


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
