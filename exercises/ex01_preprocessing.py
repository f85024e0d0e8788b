# Exercise 01 · Preprocessing MNIST: your work goes in this file.
# Grade it with `grader ex01`; ask for a hint with `grader --hint ex01`.
# (Generated from solutions/ex01_preprocessing.py by `mnist-course build`: course maintainers
# edit the solution and regenerate, never this file.)

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
    # TODO: return a float32 copy scaled to [0, 1]; raise ValueError for anything but uint8
    #       (lesson 1, "Scaling the pixels")
    raise NotImplementedError("normalize() is not started yet")


def add_channel_axis(images):
    """Add a trailing channel axis: (N, 28, 28) -> (N, 28, 28, 1).

    images: an array of rank 3 (a batch of 2-D images), any dtype.
    Returns an array of shape (N, H, W, 1) with the same dtype and values.
    Raises ValueError if `images` is not rank 3 (a single image, or images
    that already have a channel axis).
    """
    # TODO: append a channel axis of size 1; raise ValueError unless the input has rank 3
    #       (lesson 1, "Adding the channel axis")
    raise NotImplementedError("add_channel_axis() is not started yet")


def one_hot(labels, num_classes=10):
    """Turn integer labels into one-hot rows.

    labels: a 1-D integer array with values in 0..num_classes-1.
    Returns a float32 array of shape (len(labels), num_classes) with a single
    1.0 per row, at the label's index.
    Raises ValueError if `labels` is not 1-D, or for a label outside
    0..num_classes-1; the message names the first bad label.
    """
    # TODO: build the float32 one-hot matrix; raise ValueError for bad labels, naming the first one
    #       (lesson 1, "Encoding the labels")
    raise NotImplementedError("one_hot() is not started yet")


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
    # TODO: split off the validation samples class by class, as many of each class as the docstring's rule gives; shuffle with np.random.default_rng(seed)
    #       (lesson 1, "A validation split")
    raise NotImplementedError("train_val_split() is not started yet")


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
    # TODO: give every sample a fold number 0..k-1 so that both of the docstring's promises hold; shuffle with np.random.default_rng(seed)
    #       (lesson 1, "Folds: every image validates once")
    raise NotImplementedError("stratified_folds() is not started yet")


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
    # TODO: standardise every pixel position with a mean and a standard deviation that only the training images decide, the same map for both arrays, a constant position shifted only; raise ValueError for bad input
    #       (lesson 1, "Statistics from the training images")
    raise NotImplementedError("standardize() is not started yet")


def answers():
    """Your answers to this exercise's written questions: about YOUR results, in your own words.

    The grader does not score them. It hands them to your instructor, who grades them by hand
    (2 points in all), and shows them on your feedback page. Write between
    the triple quotes: a few sentences each, with the numbers from your own runs that you rely on.
    """
    return {
        # 1. Your train_val_split keeps the validation images apart. Suppose a preprocessing step also
        # needed a statistic of the images (a per-pixel mean, say). Which images must it be computed on,
        # and what would happen to your validation accuracy, and to the accuracy on new images, if it were
        # computed on all of them? (2 points)
        "leakage": """
        """,
    }
