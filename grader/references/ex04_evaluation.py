"""Exercise 04's references, apart from its checks (grader/checks/ex04_evaluation.py): the confusion matrix,
precision, recall and F1, the most confused pairs and the most confident mistakes as the contracts define
them (plain loops, for clarity over speed), and the seeded inputs the checks call with."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes):
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        cm[t, p] += 1
    return cm


def precision_recall_f1(cm):
    cm = cm.astype(np.float64)
    correct, predicted, actual = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, correct / predicted, 0.0)
        recall = np.where(actual > 0, correct / actual, 0.0)
        both = precision + recall
        f1 = np.where(both > 0, 2 * precision * recall / both, 0.0)
    return precision, recall, f1


def most_confused_pairs(cm, k):
    n = len(cm)
    cells = [(i, j, int(cm[i, j])) for i in range(n) for j in range(n) if i != j and cm[i, j] > 0]
    cells.sort(key=lambda cell: (-cell[2], cell[0], cell[1]))
    return cells[:k]


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
    wrong = [i for i in range(len(probs)) if int(np.argmax(probs[i])) != int(y_true[i])]
    wrong.sort(key=lambda i: (-float(probs[i].max()), i))
    return wrong[:k]


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
