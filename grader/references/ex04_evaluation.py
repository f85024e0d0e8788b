"""Exercise 04's references, apart from its checks (grader/checks/ex04_evaluation.py): the confusion matrix
and precision, recall and F-beta (each variant's beta) as scikit-learn computes them, the most confused pairs and the most confident
mistakes as the contracts define them (sorted by pandas), and the seeded inputs the checks call with.
scikit-learn and pandas, so that pasted into the by-hand file they earn nothing: its worker refuses both."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes):
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

    if len(y_true) == 0:  # no samples: scikit-learn refuses them; the contract counts nothing
        return np.zeros((num_classes, num_classes), dtype=np.int64)
    return sklearn_confusion_matrix(y_true, y_pred, labels=np.arange(num_classes)).astype(np.int64)


def precision_recall_f1(cm, beta=1):
    """scikit-learn's per-class precision, recall and F-beta score of the samples `cm` counts (beta:
    the variant's, 1 for F1), 0 where a denominator is 0 (the contract's rule, and scikit-learn's
    zero_division=0)."""
    import warnings

    from sklearn.metrics import precision_recall_fscore_support

    k = len(cm)
    if not np.asarray(cm).sum():  # no samples at all: every denominator is 0
        return np.zeros(k), np.zeros(k), np.zeros(k)
    classes = np.arange(k)
    y_true = np.repeat(np.repeat(classes, k), np.asarray(cm, dtype=np.int64).ravel())  # one sample per count of cm[t, p]
    y_pred = np.repeat(np.tile(classes, k), np.asarray(cm, dtype=np.int64).ravel())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=classes, beta=beta, zero_division=0.0)
    return precision.astype(np.float64), recall.astype(np.float64), f1.astype(np.float64)


def most_confused_pairs(cm, k):
    import pandas as pd

    n = len(cm)
    cells = pd.DataFrame([(i, j, int(cm[i, j])) for i in range(n) for j in range(n)], columns=["true", "predicted", "count"])
    cells = cells[(cells["true"] != cells["predicted"]) & (cells["count"] > 0)]
    cells = cells.sort_values(["count", "true", "predicted"], ascending=[False, True, True], kind="stable").head(k)
    return [(int(t), int(p), int(c)) for t, p, c in cells.itertuples(index=False)]


RNG_SEED = 4


def random_labels(n=300, num_classes=10, right=0.7):
    """Seeded labels and predictions: `right` of them correct, the rest random."""
    rng = np.random.default_rng(RNG_SEED)
    y_true = rng.integers(0, num_classes, n)
    y_pred = np.where(rng.random(n) < right, y_true, rng.integers(0, num_classes, n))
    return y_true, y_pred


def random_cm():
    """A seeded 10 x 10 confusion matrix: a heavy diagonal, small random mistakes,
    no empty row or column, and not symmetric."""
    rng = np.random.default_rng(RNG_SEED)
    cm = rng.integers(0, 12, (10, 10))
    cm[np.arange(10), np.arange(10)] = rng.integers(60, 200, 10)
    return cm.astype(np.int64)


# A small, lopsided matrix whose mistakes are easy to read in a message:
# rows are true classes 0..4, columns predicted classes.
SMALL_CM = np.array(
    [[5, 3, 0, 1, 0], [0, 7, 0, 0, 1], [2, 0, 4, 6, 0], [0, 1, 0, 8, 0], [0, 0, 2, 0, 6]], dtype=np.int64
)


# Edge cases, each with a denominator of 0 somewhere:
# class 1 never occurs (row 0) but is predicted; class 2 is never predicted (column 0)
# but occurs; class 3 never occurs and is never predicted; class 4 occurs and is
# predicted but never correctly, so precision + recall = 0.
EMPTY_CLASSES = np.array(
    [
        [6, 1, 0, 0, 1],
        [0, 0, 0, 0, 0],
        [2, 0, 0, 0, 3],
        [0, 0, 0, 0, 0],
        [1, 2, 0, 0, 0],
    ],
    dtype=np.int64,
)


def pairs_cm():
    """The random matrix with a few clearly largest mistakes planted; 4 -> 9 and 9 -> 4
    differ, so a transposed reading shows."""
    cm = random_cm()
    for (t, p), count in {(4, 9): 40, (9, 4): 35, (7, 2): 30, (3, 5): 25, (5, 3): 20, (8, 3): 18}.items():
        cm[t, p] = count
    return cm


def most_confident_mistakes(probs, y_true, k):
    import pandas as pd

    rows = pd.DataFrame({"confidence": [float(row.max()) for row in probs], "predicted": [int(np.argmax(row)) for row in probs],
                         "true": [int(t) for t in y_true]})
    wrong = rows[rows["predicted"] != rows["true"]]
    return wrong.sort_values("confidence", ascending=False, kind="stable").index[:k].tolist()


def mistake_probs(n=200, right=0.7):
    """Seeded softmax outputs (float32, as model.predict gives them) and labels:
    `right` of the images predicted right, the rest wrong with confidences
    spread from about 20% to nearly 100%."""
    rng = np.random.default_rng(RNG_SEED)
    logits = rng.normal(0.0, 1.0, (n, 10)) * rng.uniform(0.5, 6.0, (n, 1))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    predicted = probs.argmax(axis=1)
    other = (predicted + rng.integers(1, 10, n)) % 10
    y_true = np.where(rng.random(n) < right, predicted, other).astype(np.int64)
    return probs, y_true


MISTAKES_SHOWN = "probs, y_true (200 seeded softmax rows of float32, 30% of them wrong)"


def tied_mistakes(n=40):
    """Seeded rows over 3 classes whose confidence is one of only four levels,
    nearly all of them wrong: dozens of mistakes tie, more than the 16 below
    which NumPy's default (unstable) sort happens to keep ties in order."""
    rng = np.random.default_rng(RNG_SEED)
    confidence = rng.choice([0.9, 0.8, 0.7, 0.6], size=n)
    predicted = rng.integers(0, 3, size=n)
    probs = np.repeat(((1 - confidence) / 2)[:, None], 3, axis=1)
    probs[np.arange(n), predicted] = confidence
    y_true = (predicted + 1) % 3
    right = rng.choice(n, size=3, replace=False)
    y_true[right] = predicted[right]
    return probs, y_true.astype(np.int64)
