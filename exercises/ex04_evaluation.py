# Exercise 04 · Evaluating a classifier: your work goes in this file.
# Grade it with `grader ex04`; ask for a hint with `grader --hint ex04`.
# (Generated from solutions/ex04_evaluation.py by `mnist-course build`: course maintainers
# edit the solution and regenerate, never this file.)

"""Exercise 04 · Evaluating a classifier (lesson 4: Evaluating a classifier).

Four functions that turn a classifier's predictions into the numbers, and
the images, that say where it goes wrong, in NumPy alone. Each docstring is
the contract the grader checks: any implementation that keeps it gets full
points.

NumPy by hand: when this file is graded, TensorFlow, Keras, PyTorch, JAX,
SciPy, scikit-learn and the other libraries that would do this work for
you cannot be used, and a function that uses one earns none of its points.
Importing one still succeeds (so your other functions keep theirs), but what
it gives fails when used: a `try: import ... except ImportError` fallback
does not run.
"""

import numpy as np

# Your variant: `grader --variant ex04` prints the one your student id draws
# (give the id once with `grader --student YOUR-ID`; in the course's notebook,
# the cell at the top prints it). Set this number to it: the file starts with
# the first variant's, which the grader uses when it has no student id.
BETA = 1  # precision_recall_f1's third array is the F-beta score for this beta


def confusion_matrix(y_true, y_pred, num_classes=10):
    """Count how often each true class was predicted as each class.

    y_true, y_pred: 1-D integer arrays of the same length N (any integer
    dtype), with values in 0..num_classes-1. N may be 0.
    Returns an int64 array `cm` of shape (num_classes, num_classes): cm[i, j]
    is the number of samples whose true class is i and whose predicted class
    is j (rows = true, columns = predicted). A class that never occurs gets a
    row or column of zeros; the matrix always has num_classes rows and
    columns, and its entries add up to N.
    Raises ValueError if either input is not 1-D, if their lengths differ, if
    either is not of an integer dtype (floats, bools), or for a label outside
    0..num_classes-1; that message names the bad label.
    """
    # TODO: count (true, predicted) pairs into an int64 (num_classes, num_classes) matrix; raise ValueError for bad input
    #       (lesson 4, "The confusion matrix")
    raise NotImplementedError("confusion_matrix() is not started yet")


def precision_recall_f1(cm):
    """Per-class precision, recall and F-beta score from a confusion matrix.

    cm: a square (K, K) integer array of non-negative counts, rows = true
    class, columns = predicted class (as confusion_matrix returns).
    Returns (precision, recall, f), three float64 arrays of shape (K,):
      precision[k] = cm[k, k] / (sum of column k: everything predicted k)
      recall[k]    = cm[k, k] / (sum of row k: everything truly k)
      f[k]         = the F-beta score of precision[k] and recall[k] for
                     beta = BETA (your variant's): recall counts BETA times
                     as much as precision; with BETA = 1 it is F1, their
                     harmonic mean 2 * p * r / (p + r)
    A class that is never predicted has precision 0.0, a class that never
    occurs has recall 0.0, and f is 0.0 where precision and recall are both
    0: the result never holds nan, and computing it emits no warning.
    Raises ValueError if cm is not a square 2-D array, is not of an integer
    dtype, or holds a negative count.
    """
    # TODO: compute per-class precision, recall and your variant's F-beta score (BETA) as float64 arrays, 0.0 (never nan, no warning) where a denominator is 0
    #       (lesson 4, "Precision, recall and F1")
    raise NotImplementedError("precision_recall_f1() is not started yet")


def most_confused_pairs(cm, k=3):
    """The k most frequent mistakes in a confusion matrix.

    cm: a square (K, K) integer array of non-negative counts, rows = true
    class, columns = predicted class.
    k: how many pairs to return, a positive integer.
    Returns a list of at most k tuples (true, predicted, count) of Python
    ints, one per off-diagonal cell with a count above 0 (the diagonal holds
    correct answers, not confusions), sorted by count, largest first; equal
    counts are ordered by (true, predicted), smallest first. When fewer than
    k cells are non-zero the list is shorter (empty for a perfect
    classifier). The input is not modified.
    Raises ValueError if cm is not a square 2-D array, is not of an integer
    dtype, or holds a negative count, or if k < 1.
    """
    # TODO: list the k largest off-diagonal cells as (true, predicted, count) tuples of Python ints; raise ValueError for bad input
    #       (lesson 4, "The most confused pairs")
    raise NotImplementedError("most_confused_pairs() is not started yet")


def most_confident_mistakes(probs, y_true, k=24):
    """The k mistakes the model was surest about: the images worth looking at first.

    probs: a 2-D float array of shape (N, K), one row of K class
    probabilities per image, as model.predict returns them; the prediction
    for an image is its row's argmax (the first, if several are equal), and
    the confidence is that row's largest probability.
    y_true: a 1-D integer array of the N true labels, each in 0..K-1.
    k: how many indices to return, a positive integer.
    Returns a 1-D int64 array of at most k indices into probs, one per image
    whose prediction differs from its label, ordered by confidence, highest
    first; equal confidences are ordered by index, smallest first. When
    fewer than k images are wrong the array is shorter (empty for a perfect
    model). The inputs are not modified.
    Raises ValueError if probs is not a 2-D float array, if y_true is not a
    1-D integer array of the same length, if a label is outside 0..K-1, or
    if k < 1.
    """
    # TODO: return the int64 indices of the k wrong predictions with the highest confidence, highest first; raise ValueError for bad input
    #       (lesson 4, "Misclassified digits")
    raise NotImplementedError("most_confident_mistakes() is not started yet")
