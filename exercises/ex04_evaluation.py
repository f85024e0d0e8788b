# Exercise 04 · Evaluating a classifier: your work goes in this file.
# Grade it with `grader ex04`; ask for a hint with `grader --hint ex04`.
# (Generated from solutions/ex04_evaluation.py by `mnist-course build`: course maintainers
# edit the solution and regenerate, never this file.)

"""Exercise 04 · Evaluating a classifier (lesson 4: Evaluating a classifier).

Eight functions that turn a classifier's predictions into the numbers, and
the images, that say where it goes wrong, how far its confidence can be
trusted, and whether it really beats another model, in NumPy alone. Each docstring is
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
# the cell at the top prints it). Set PAIRS and BINS to its two words: the file
# starts with the first variant's, which the grader uses when it has no student id.
PAIRS = "of_true"  # how most_confused_pairs measures a confusion: "of_true", "of_predicted" or "both_ways"
BINS = "width"  # how reliability_table bins the answers: "width" or "mass"


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
    """Per-class precision, recall and F1 score from a confusion matrix.

    cm: a square (K, K) integer array of non-negative counts, rows = true
    class, columns = predicted class (as confusion_matrix returns).
    Returns (precision, recall, f1), three float64 arrays of shape (K,):
      precision[k] = cm[k, k] / (sum of column k: everything predicted k)
      recall[k]    = cm[k, k] / (sum of row k: everything truly k)
      f1[k]        = the harmonic mean of precision[k] and recall[k]
    A class that is never predicted has precision 0.0, a class that never
    occurs has recall 0.0, and f1 is 0.0 where precision and recall are both
    0: the result never holds nan, and computing it emits no warning.
    Raises ValueError if cm is not a square 2-D array, is not of an integer
    dtype, or holds a negative count.
    """
    # TODO: compute per-class precision, recall and F1 as float64 arrays, 0.0 (never nan, no warning) where a denominator is 0
    #       (lesson 4, "Precision, recall and F1")
    raise NotImplementedError("precision_recall_f1() is not started yet")


def most_confused_pairs(cm, k=3):
    """The k worst confusions in a confusion matrix, measured as your variant says.

    cm: a square (K, K) integer array of non-negative counts, rows = true
    class, columns = predicted class.
    k: how many confusions to return, a positive integer.
    A confusion is a cell (i, j) off the diagonal (the diagonal holds correct
    answers) with a count above 0. Your variant's PAIRS says how large it is:

        "of_true"       the share of the images of true class i that the
                        model predicted as j
        "of_predicted"  the share of the model's answers j whose true class
                        is i
        "both_ways"     i taken for j and j taken for i together, as a
                        share of the images of the two classes: one
                        confusion per pair of classes, named (i, j) with
                        i < j

    Returns a list of at most k tuples (i, j, count) of Python ints, the
    largest confusions first, where count is the number of images the
    confusion counts (cm[i, j], or both cells for "both_ways"). Equal sizes
    are ordered by (i, j), smallest first; shares are compared as exact
    fractions, so 2/10 and 1/5 are equal. When fewer than k confusions exist
    the list is shorter (empty for a perfect classifier). The input is not
    modified.
    Raises ValueError if cm is not a square 2-D array, is not of an integer
    dtype, or holds a negative count, or if k < 1.
    """
    # TODO: list the k largest confusions, measured your variant's way (PAIRS), as (i, j, count) tuples of Python ints; raise ValueError for bad input
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


def reliability_table(probs, y_true, n_bins=10):
    """How far the confidence can be trusted: the answers sorted into bins by confidence.

    probs, y_true: as most_confident_mistakes takes them; an image's
    prediction is its row's argmax (the first, if several are equal), its
    confidence that row's largest probability, and the answer is right when
    the prediction is the label.
    n_bins: a positive integer, the number of bins. BINS, at the top of the
    file, says how the answers are sorted into them:

    "width"   the bins cut [0, 1] into n_bins intervals of equal width, each
              open at the bottom and closed at the top: bin b holds the
              confidences c with b / n_bins < c <= (b + 1) / n_bins (and bin
              0 also holds c = 0), c compared as a float64 with
              (b + 1) / n_bins as Python computes it.
    "mass"    the bins hold equal numbers of answers: in order of confidence,
              lowest first (answers of equal confidence in the order of their
              rows), the answers are cut into n_bins runs of consecutive
              answers whose sizes differ by at most one, the larger runs
              first: bin 0 is the first run, bin 1 the next, and so on
              (with fewer answers than bins, the last bins are empty).

    Returns (counts, confidence, accuracy), three 1-D arrays of length
    n_bins; for bin b, counts[b] (int64) is how many answers fall in it,
    confidence[b] (float64) their mean confidence and accuracy[b] (float64)
    the share of them that are right. An empty bin has 0.0 for both means:
    the result never holds nan, and computing it emits no warning. The
    inputs are not modified.
    """
    # TODO: sort the answers into n_bins bins of confidence your variant's way (BINS), and give each bin's count, mean confidence and accuracy (0.0 where a bin is empty)
    #       (lesson 4, "How far to trust the confidence")
    raise NotImplementedError("reliability_table() is not started yet")


def expected_calibration_error(counts, confidence, accuracy):
    """One number for a reliability table: its expected calibration error (ECE).

    counts, confidence, accuracy: a reliability table as reliability_table
    returns it, with at least one answer in it.
    The ECE, returned as a Python float, is the one number with these three
    properties; work out from them how it combines the bins:
    - a table whose answers all lie in one bin has that bin's gap: its
      accuracy and its mean confidence, the larger less the smaller (0.0 for
      a perfectly calibrated bin, the same whether the model is over- or
      underconfident);
    - empty bins change nothing;
    - two tables with no bin holding answers in both, joined into one (each
      answer kept in its bin), give the mean of their two ECEs weighted by
      the numbers of answers they hold.
    """
    # TODO: one number for a reliability table, the one with the three properties of the docstring: work out how it combines the bins
    #       (lesson 4, "How far to trust the confidence")
    raise NotImplementedError("expected_calibration_error() is not started yet")


def mcnemar(y_true, pred_a, pred_b):
    """McNemar's exact test: do models A and B really differ on these images?

    y_true, pred_a, pred_b: 1-D integer arrays of the same length, the labels
    and the two models' predictions for the same images.
    Returns (b, c, p_value): b, a Python int, is the number of images A gets
    right and B wrong; c those B gets right and A wrong. p_value, a Python
    float, is the two-sided exact p-value: if each of the b + c disagreements
    were a fair coin toss between A and B, the probability of a split at
    least as uneven as b to c, either way round. It is 1.0 when the models
    never disagree, never above 1, and exact to float precision even when
    the models disagree on thousands of images.
    """
    # TODO: count b and c, the images only A gets right and only B gets right, and McNemar's exact two-sided p-value, exact even for thousands of disagreements
    #       (lesson 4, "Comparing two models on the same test set")
    raise NotImplementedError("mcnemar() is not started yet")


def compare_models(y_true, pred_a, pred_b, alpha=0.05):
    """The conclusion of your mcnemar() for these images, at level alpha.

    y_true, pred_a, pred_b: as mcnemar takes them. alpha: the significance
    level, a float between 0 and 1.
    Returns "A" or "B" when the difference between the two models is
    significant at level alpha (mcnemar's p-value below alpha), naming the
    model that got more of the images they disagree on right; "neither" when
    it is not.
    """
    # TODO: the conclusion of your mcnemar() at level alpha: "A" or "B" for a significant difference, naming the model the disagreements favour, else "neither"
    #       (lesson 4, "Comparing two models on the same test set")
    raise NotImplementedError("compare_models() is not started yet")


def answers():
    """Your answers to this exercise's written questions: about YOUR results, in your own words.

    The grader does not score them. It hands them to your instructor, who grades them by hand
    (2 points in all), and shows them on your feedback page. Write between
    the triple quotes: a few sentences each, with the numbers from your own runs that you rely on.
    """
    return {
        # 1. Run your reliability_table and expected_calibration_error on the validation predictions of
        # lesson 4's model (val_probs and y_val in the lesson's notebook), with 10 bins and with 40. Quote
        # both ECEs and the share of answers in the top bin. Why does the ECE move with the number of bins
        # though the model is the same? And what would the plain mean of the non-empty bins' gaps say
        # about this model, compared with your ECE? (2 points)
        "calibration": """
        """,
    }
