"""Exercise 01 · Preprocessing MNIST (lesson 1: A first look at MNIST).

Six small functions that turn raw MNIST arrays into what a Keras model
expects, and split them for validation. Each docstring is the contract the grader checks: any implementation
that keeps it gets full points.
"""

import numpy as np


def normalize(images):
    """Scale uint8 pixel values 0..255 to float32 values in [0, 1].

    images: a uint8 array of any shape, typically (N, 28, 28).
    Returns a new float32 array of the same shape (pixel / 255); the input
    is not modified.
    Raises ValueError if `images` is not uint8 (this catches scaling twice).
    """
    ### BEGIN SOLUTION
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"normalize() expects uint8 pixels 0..255, got dtype {images.dtype}")
    return images.astype(np.float32) / np.float32(255)
    ### END SOLUTION


def add_channel_axis(images):
    """Add a trailing channel axis: (N, 28, 28) -> (N, 28, 28, 1).

    images: an array of rank 3 (a batch of 2-D images), any dtype.
    Returns an array of shape (N, H, W, 1) with the same dtype and values.
    Raises ValueError if `images` is not rank 3 (a single image, or images
    that already have a channel axis).
    """
    ### BEGIN SOLUTION
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(
            f"add_channel_axis() expects a batch of shape (N, H, W), got shape {images.shape}"
        )
    return np.expand_dims(images, -1)
    ### END SOLUTION


def one_hot(labels, num_classes=10):
    """Turn integer labels into one-hot rows.

    labels: a 1-D integer array with values in 0..num_classes-1.
    Returns a float32 array of shape (len(labels), num_classes) with a single
    1.0 per row, at the label's index.
    Raises ValueError if `labels` is not 1-D, or for a label outside
    0..num_classes-1; the message names the first bad label.
    """
    ### BEGIN SOLUTION
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"one_hot() expects a 1-D array of labels, got shape {labels.shape}")
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        first = labels[np.argmax(bad)]
        raise ValueError(f"label {first} is outside 0..{num_classes - 1}")
    return np.eye(num_classes, dtype=np.float32)[labels]
    ### END SOLUTION


def train_val_split(images, labels, val_fraction=0.1, seed=0):
    """Split a labelled set reproducibly, class by class, into a training and a validation part.

    images: an array of N samples (first axis); labels: an array of N integer
    labels. val_fraction: the share of samples for validation, strictly
    between 0 and 1. seed: the same seed always gives the same split;
    different seeds shuffle differently (use np.random.default_rng(seed)).
    Returns (x_train, y_train, x_val, y_val): the validation part has
    round(N * val_fraction) samples, the training part the rest, and the
    validation part keeps every class's share as closely as whole samples
    allow. A class with n samples gives floor(n * val_fraction) of them; the
    samples still missing from the total then go one each to the classes
    whose n * val_fraction has the largest fractional part (the product as
    floating point computes it; between equal fractional parts, to the
    smaller label). Which samples of a class go is the shuffle's choice. Every sample lands in exactly one part, each image
    keeps its own label, and the inputs are not modified.
    Raises ValueError if the lengths differ, if val_fraction is not strictly
    between 0 and 1, or if either part would be empty.
    """
    ### BEGIN SOLUTION
    images, labels = np.asarray(images), np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be strictly between 0 and 1, got {val_fraction}")
    n_val = round(len(images) * val_fraction)
    if n_val == 0 or n_val == len(images):
        raise ValueError(
            f"val_fraction={val_fraction} of {len(images)} samples leaves one part empty"
        )
    classes, sizes = np.unique(labels, return_counts=True)
    shares = sizes * val_fraction
    taken = np.floor(shares).astype(np.int64)
    # what the floors leave short of n_val, one sample each to the largest fractional parts
    # (np.unique sorted the classes, and a stable sort keeps equal parts in that order)
    taken[np.argsort(-(shares - taken), kind="stable")[: n_val - taken.sum()]] += 1
    rng = np.random.default_rng(seed)
    val = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, taken)])
    val = rng.permutation(val)
    train = rng.permutation(np.setdiff1d(np.arange(len(labels)), val))
    return images[train], labels[train], images[val], labels[val]
    ### END SOLUTION


def stratified_folds(labels, k=5, seed=0):
    """Deal a labelled set into k folds for k-fold cross-validation, every class's share kept in every fold.

    labels: a 1-D array of N integer labels. k: the number of folds, an integer
    with 2 <= k <= N. seed: the same seed always gives the same folds; different
    seeds shuffle differently (use np.random.default_rng(seed)).
    Returns an int64 array of N fold numbers 0..k-1: sample i goes to fold
    folds[i]. Two promises hold together:
    - every fold holds floor(N / k) or ceil(N / k) samples;
    - a class with n samples has floor(n / k) or ceil(n / k) of them in every fold.
    Which samples of a class go to which fold is the shuffle's choice. The
    input is not modified.
    Raises ValueError if `labels` is not 1-D, or if k is not an integer with
    2 <= k <= N.
    """
    ### BEGIN SOLUTION
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"stratified_folds() expects a 1-D array of labels, got shape {labels.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= len(labels):
        raise ValueError(f"k must be an integer from 2 to the number of samples ({len(labels)}), got {k!r}")
    # shuffle, then bring each class's samples together (a stable sort keeps the shuffle within a class) and
    # deal the whole line out in turn: any run of n consecutive places meets every fold floor(n / k) or
    # ceil(n / k) times, so each class's run does, and so does the whole
    order = np.random.default_rng(seed).permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]
    folds = np.empty(len(labels), dtype=np.int64)
    folds[order] = np.arange(len(labels)) % k
    return folds
    ### END SOLUTION


def standardize(train_images, other_images):
    """Standardise every pixel position with the statistics of the training images.

    train_images: a float array of N >= 2 images, shape (N, ...); the images
    a model is trained on. other_images: a float array of M images of the
    same shape per image, shape (M, ...): images the model meets later
    (validation, test or real ones).
    Returns (train_out, other_out), float32 arrays of the shapes of the
    inputs. Each pixel position is transformed by one affine map,
    value -> (value - a) / b with b > 0, the same for both arrays: the one
    under which that position has mean 0 and standard deviation 1 (the
    population's, dividing by N) over train_images. A position whose value is the same in
    every training image (an MNIST border pixel, say) has no spread to
    divide by: train_out is 0 there whatever b is, and its b is the one that
    keeps other_images' differences from that value as they are. The inputs
    are not modified.
    Raises ValueError if train_images holds fewer than 2 images, or if the
    two arrays' images differ in shape.
    """
    ### BEGIN SOLUTION
    train, other = np.asarray(train_images, np.float64), np.asarray(other_images, np.float64)
    if train.ndim < 1 or len(train) < 2:
        raise ValueError(f"standardize() needs at least 2 training images, got shape {train.shape}")
    if other.shape[1:] != train.shape[1:]:
        raise ValueError(f"the images differ in shape: {train.shape[1:]} and {other.shape[1:]}")
    mean, std = train.mean(axis=0), train.std(axis=0)
    # a constant position: centred only (its std may come out a rounding error above 0, never exactly 0)
    std = np.where((train == train[0]).all(axis=0), 1.0, std)
    return ((train - mean) / std).astype(np.float32), ((other - mean) / std).astype(np.float32)
    ### END SOLUTION
