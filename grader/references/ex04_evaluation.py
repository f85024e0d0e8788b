"""Exercise 04's references, apart from its checks (grader/checks/ex04/, collected by grader/checks/ex04_evaluation.py): the confusion matrix
and precision, recall and F1 as scikit-learn computes them, the most confused pairs (each variant's way) and the most confident
mistakes as the contracts define them (sorted by pandas), the reliability table binned by pandas, the expected calibration error as
an average weighted by the counts, McNemar's exact p-value as SciPy's binomial test, and the inputs the checks call with, drawn from
each file's own seed (grader/checks/ex04_evaluation.py).
scikit-learn, pandas and SciPy, so that pasted into the by-hand file they earn nothing: its worker refuses all three."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes):
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

    if len(y_true) == 0:  # no samples: scikit-learn refuses them; the contract counts nothing
        return np.zeros((num_classes, num_classes), dtype=np.int64)
    return sklearn_confusion_matrix(y_true, y_pred, labels=np.arange(num_classes)).astype(np.int64)


def precision_recall_f1(cm):
    """scikit-learn's per-class precision, recall and F1 of the samples `cm` counts, 0 where a denominator
    is 0 (the contract's rule, and scikit-learn's zero_division=0)."""
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
        precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0.0)
    return precision.astype(np.float64), recall.astype(np.float64), f1.astype(np.float64)


def confusion_sizes(cm, pairs) -> dict:
    """{(i, j): (count, size)} for every confusion of `cm` measured the `pairs` way, the size an exact Fraction: a
    variant's (PAIRS), lesson 4's count, or a usual mistake's, which the checks name when a file answers with it.
    Every count and total is read through pandas, so that pasted into the by-hand file it earns nothing."""
    from fractions import Fraction

    import pandas as pd

    frame = pd.DataFrame(np.asarray(cm, dtype=np.int64))
    rows, cols = frame.sum(axis=1), frame.sum(axis=0)
    diagonal = pd.Series([frame.iat[k, k] for k in range(len(frame))])
    cell = frame.iat
    totals = {  # way -> (the pair's total: a function of i and j, both cells together)
        "of_true": (lambda i, j: rows[i], False), "of_predicted": (lambda i, j: cols[j], False),
        "both_ways": (lambda i, j: rows[i] + rows[j], True), "count": (lambda i, j: 1, False),
        "both_ways_count": (lambda i, j: 1, True),
        "of_true_over_j": (lambda i, j: rows[j], False), "of_predicted_over_i": (lambda i, j: cols[i], False),
        "both_ways_answers": (lambda i, j: cols[i] + cols[j], True),
        "of_true_mistakes": (lambda i, j: rows[i] - diagonal[i], False),
        "of_predicted_mistakes": (lambda i, j: cols[j] - diagonal[j], False),
        "both_ways_mistakes": (lambda i, j: rows[i] + rows[j] - diagonal[i] - diagonal[j], True),
        "both_ways_one_class": (lambda i, j: rows[i], True),
    }
    sizes = {}
    for i in range(len(frame)):
        for j in range(len(frame)):
            if pairs == "both_ways_shares_added":
                if i < j and cell[i, j] + cell[j, i]:
                    sizes[(i, j)] = (int(cell[i, j] + cell[j, i]), Fraction(int(cell[i, j]), int(rows[i]) or 1) + Fraction(int(cell[j, i]), int(rows[j]) or 1))
                continue
            total, both = totals[pairs]
            count = (int(cell[i, j] + cell[j, i]) if i < j else 0) if both else (int(cell[i, j]) if i != j else 0)
            if count:
                sizes[(i, j)] = (count, Fraction(count, max(int(total(i, j)), 1)))
    return sizes


def most_confused_pairs(cm, k, pairs="of_true", sized=False):
    """The contract's k largest confusions, each variant's way (`pairs`: PAIRS), or another way of
    `confusion_sizes`, sorted by pandas. `sized`: each tuple ends with its size, a Fraction."""
    import pandas as pd

    cells = [(i, j, count, size) for (i, j), (count, size) in confusion_sizes(cm, pairs).items()]
    table = pd.DataFrame(cells, columns=["i", "j", "count", "size"])
    table = table.sort_values(["size", "i", "j"], ascending=[False, True, True], kind="stable").head(k)
    return [(int(i), int(j), int(c), size) if sized else (int(i), int(j), int(c)) for i, j, c, size in table.itertuples(index=False)]


def random_labels(seed, n=300, num_classes=10, right=0.7):
    """Labels and predictions drawn from `seed`: `right` of them correct, the rest random."""
    rng = np.random.default_rng([seed, 11])
    y_true = rng.integers(0, num_classes, n)
    y_pred = np.where(rng.random(n) < right, y_true, rng.integers(0, num_classes, n))
    return y_true, y_pred


def random_cm(seed):
    """A 10 x 10 confusion matrix drawn from `seed`: a heavy diagonal, small random mistakes,
    no empty row or column, and (but for one draw in a great many) not symmetric."""
    rng = np.random.default_rng([seed, 12])
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


# The hand-made edge cases above and in the checks are situations (a class that never occurs, ties between
# equal counts), not numbers: each file gets them under class labels and in a sample order of its own, so
# that no table of answers to the literal inputs can stand in for the rule (issue 38, item 4).
def class_relabelling(seed, purpose: int, n: int, keep=(), attempt: int = 0) -> np.ndarray:
    """A permutation `new = relabelling[old]` of the classes 0..n-1 drawn from `seed` (each file's own) for
    one edge case (`purpose`); the classes in `keep` keep their labels (the largest, where a case needs it
    unseen). `attempt`: the next draw, where a check needs one that tells a look-alike apart."""
    moved = np.array([k for k in range(n) if k not in keep])
    relabelling = np.arange(n)
    relabelling[moved] = np.random.default_rng([seed, 40, purpose, attempt]).permutation(moved)
    return relabelling


def relabelled_cm(cm, relabelling) -> np.ndarray:
    """`cm` with class k renamed relabelling[k], on both axes: the same situation under other labels."""
    cm = np.asarray(cm)
    out = np.zeros_like(cm)
    out[np.ix_(relabelling, relabelling)] = cm
    return out


def sample_order(seed, purpose: int, n: int) -> np.ndarray:
    """The order a hand-made case's samples come in for this file (drawn from `seed`)."""
    return np.random.default_rng([seed, 41, purpose]).permutation(n)


PAIRS_WAYS = ("of_true", "of_predicted", "both_ways", "count", "both_ways_count")  # the variants' three, and counts alone


def pairs_cm(seed, k=5):
    """A random 10 x 10 matrix drawn from `seed` whose classes differ in size (so a share ranks otherwise than a
    count) with a few large mistakes planted, drawn again until its k worst confusions differ under each variant
    and under counts alone (lesson 4's, and both cells of a pair), so that a message can say which was answered,
    and its k + 1 largest sizes differ under each (ties are test_most_confused_pairs_ties_and_few's). Read
    transposed, "of_true" is "of_predicted" with the classes of each pair swapped, and the other way round."""
    for attempt in range(100):
        rng = np.random.default_rng([seed, 12, attempt])
        cm = rng.integers(0, 10, (10, 10))
        cm[np.arange(10), np.arange(10)] = rng.integers(40, 400, 10)
        for _ in range(6):
            t, p = rng.choice(10, size=2, replace=False)
            cm[t, p] = rng.integers(15, 45)
        answers = [most_confused_pairs(cm, k, way) for way in PAIRS_WAYS]
        sizes = [[pair[3] for pair in most_confused_pairs(cm, k + 1, way, sized=True)] for way in PAIRS_WAYS]
        if len({tuple(a) for a in answers}) == len(answers) and all(len(set(s)) == len(s) for s in sizes):
            return cm.astype(np.int64)
    raise AssertionError(f"no matrix that tells the rankings apart in 100 draws from seed {seed}")


def most_confident_mistakes(probs, y_true, k):
    import pandas as pd

    rows = pd.DataFrame({"confidence": [float(row.max()) for row in probs], "predicted": [int(np.argmax(row)) for row in probs],
                         "true": [int(t) for t in y_true]})
    wrong = rows[rows["predicted"] != rows["true"]]
    return wrong.sort_values("confidence", ascending=False, kind="stable").index[:k].tolist()


def mistake_probs(seed, n=200, right=0.7):
    """Softmax outputs (float32, as model.predict gives them) and labels drawn from `seed`:
    `right` of the images predicted right, the rest wrong with confidences
    spread from about 20% to nearly 100%."""
    rng = np.random.default_rng([seed, 13])
    logits = rng.normal(0.0, 1.0, (n, 10)) * rng.uniform(0.5, 6.0, (n, 1))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    predicted = probs.argmax(axis=1)
    other = (predicted + rng.integers(1, 10, n)) % 10
    y_true = np.where(rng.random(n) < right, predicted, other).astype(np.int64)
    return probs, y_true


MISTAKES_SHOWN = "probs, y_true (200 softmax rows of float32 drawn for your file, 30% of them wrong)"


def tied_mistakes(seed, n=40):
    """Rows over 3 classes drawn from `seed` whose confidence is one of only four levels,
    nearly all of them wrong: dozens of mistakes tie, more than the 16 below
    which NumPy's default (unstable) sort happens to keep ties in order."""
    rng = np.random.default_rng([seed, 14])
    confidence = rng.choice([0.9, 0.8, 0.7, 0.6], size=n)
    predicted = rng.integers(0, 3, size=n)
    probs = np.repeat(((1 - confidence) / 2)[:, None], 3, axis=1)
    probs[np.arange(n), predicted] = confidence
    y_true = (predicted + 1) % 3
    right = rng.choice(n, size=3, replace=False)
    y_true[right] = predicted[right]
    return probs, y_true.astype(np.int64)


def shared_top_probs(seed, tied=13, untied=5, n_classes=10):
    """Softmax rows (float32) drawn from `seed`: `tied` rows whose largest probability, 0.42, two classes share
    exactly, the label one of the two, and `untied` rows, in a drawn order. np.argmax predicts the first of the two,
    so a prediction taken as the last of equal values turns each tied row from right to wrong or from wrong to
    right: the mistakes differ, and so does the accuracy of the one bin (of 10) that holds every tied row, since an
    odd number of rows cannot turn as many one way as the other (a review found 50/50 bins that hid the turn)."""
    rng = np.random.default_rng([seed, 16])
    rows, labels = [], []
    for i in range(tied + untied):
        top = 0.42 if i < tied else float(rng.choice([0.55, 0.71, 0.88]))
        classes = rng.choice(n_classes, size=2 if i < tied else 1, replace=False)
        row = np.full(n_classes, (1.0 - top * len(classes)) / (n_classes - len(classes)))
        row[classes] = top
        rows.append(row)
        labels.append(int(rng.choice(classes)) if i < tied else int(rng.integers(n_classes)))
    order = rng.permutation(tied + untied)
    return np.array(rows, np.float32)[order], np.array(labels, np.int64)[order]


def last_of_equal(probs, y_true):
    """The same answers with the classes in reverse order, (probs, labels): np.argmax of these rows is the last of equal
    values of the original's, so a reference fed them gives what a prediction taken as the last of equal values gives."""
    probs, y_true = np.asarray(probs), np.asarray(y_true)
    return probs[:, ::-1].copy(), probs.shape[1] - 1 - y_true


def run_sizes(n: int, n_bins: int) -> list[int]:
    """BINS "mass": the sizes of the n_bins runs of n answers, differing by at most one, the larger first."""
    small, extra = divmod(n, n_bins)
    return [small + 1] * extra + [small] * (n_bins - extra)


def reliability_table(probs, y_true, n_bins, closed="top", of="answer", bins="width", larger="first", order="stable"):
    """The contract's bins, each variant's (`bins`: BINS), as pandas cuts them; their counts and means, 0.0 where a
    bin is empty. "width": (b / n_bins, (b + 1) / n_bins] with 0 in the first. "mass": the answers in order of
    confidence (equal ones in row order), cut into n_bins runs whose sizes differ by at most one, the larger first.
    The checks' likely mistakes too: bins closed at the bottom (1.0 in the last), the true label's probability
    binned and averaged as if it were the confidence; for "mass", the larger runs last or spread (rank * n_bins // N),
    equal confidences in the reverse of row order (a descending sort reversed), or confidences ordered as float16."""
    import pandas as pd

    probs, y_true = np.asarray(probs), np.asarray(y_true)
    answered = probs.max(axis=1) if of == "answer" else probs[np.arange(len(probs)), y_true]
    rows = pd.DataFrame({"confidence": answered.astype(np.float64), "right": probs.argmax(axis=1) == y_true})
    if bins == "mass":
        key = rows["confidence"].astype(np.float16) if order == "float16" else rows["confidence"]
        ranked = (rows[::-1] if order == "reversed" else rows).assign(key=key).sort_values("key", kind="stable")
        if larger == "spread":  # rank * n_bins // N
            in_order = (pd.Series(range(len(rows))) * n_bins // max(len(rows), 1)).to_numpy()
        else:
            sizes = run_sizes(len(rows), n_bins)
            in_order = pd.Series(range(n_bins)).repeat(sizes if larger == "first" else sizes[::-1]).to_numpy()
        rows.loc[ranked.index, "bin"] = in_order
    else:
        edges = np.arange(n_bins + 1) / n_bins  # b / n_bins, each edge exactly as the contract writes it
        cut = pd.cut(rows["confidence"], edges, right=closed == "top", include_lowest=True, labels=False)
        rows["bin"] = cut.fillna(n_bins - 1)  # closed at the bottom, 1.0 lies past the last edge: the last bin takes it
    grouped = rows.groupby("bin").agg(counts=("right", "size"), confidence=("confidence", "mean"), accuracy=("right", "mean"))
    grouped = grouped.reindex(range(n_bins), fill_value=0)
    return (grouped["counts"].to_numpy(np.int64), grouped["confidence"].to_numpy(np.float64),
            grouped["accuracy"].to_numpy(np.float64))


def _rows_topped(rng, tops, n_classes=10, units=64):
    """One softmax row for each of `tops`: `top` sixty-fourths on a drawn answer, the rest spread below it (exact floats)."""
    rows = []
    for top in tops:
        row = np.zeros(n_classes, np.int64)
        answer = int(rng.integers(n_classes))
        row[answer] = top
        others = [k for k in range(n_classes) if k != answer]
        for _ in range(units - top):
            k = int(rng.choice([k for k in others if row[k] < top - 1]))
            row[k] += 1
        rows.append(row / units)
    return rows


def _half_right(rng, probs, n_classes=10):
    """Labels for `probs`: each answer right or wrong at even odds, a wrong one another class drawn."""
    answers = probs.argmax(axis=1)
    wrong = (answers + rng.integers(1, n_classes, len(probs))) % n_classes
    return np.where(rng.random(len(probs)) < 0.5, answers, wrong)


def tied_probs(seed, n_bins, n_classes=10):
    """Softmax rows drawn for a file, for BINS "mass": N answers, N not a multiple of n_bins (so the runs' sizes
    differ), with confidences of four values (multiples of 1/64), so that runs of equal confidence straddle the
    cuts with right and wrong answers among them, and the rows of one of the four raised by distinct multiples of
    2**-16 (apart in float32, mostly equal in float16 or to three decimals); drawn until the contract's table differs
    from the likely mistakes (the larger runs last; equal confidences in the reverse of row order; confidences
    compared as float16). In a drawn order."""
    for attempt in range(1000):
        rng = np.random.default_rng([seed, n_bins, 6, attempt])
        n = n_bins * int(rng.integers(2, 4)) + int(rng.integers(1, n_bins))
        tops = rng.choice(np.arange(16, 63), 4, replace=False)
        probs = np.array(_rows_topped(rng, rng.choice(tops, n), n_classes))
        near = np.flatnonzero(np.isclose(probs.max(axis=1), tops[0] / 64))
        for step, i in enumerate(rng.permutation(near), start=1):  # raised by step / 65536, taken from the next-largest class
            top, second = np.argsort(probs[i], kind="stable")[::-1][:2]
            probs[i, top] += step / 65536
            probs[i, second] -= step / 65536
        y_true = _half_right(rng, probs, n_classes)
        table = reliability_table(probs, y_true, n_bins, bins="mass")
        mistakes = (reliability_table(probs, y_true, n_bins, bins="mass", larger="last"),
                    reliability_table(probs, y_true, n_bins, bins="mass", order="reversed"),
                    reliability_table(probs, y_true, n_bins, bins="mass", order="float16"))
        if all(any(not np.allclose(a, b, rtol=0, atol=1e-9) for a, b in zip(table, mistake)) for mistake in mistakes):
            return probs, y_true
    raise AssertionError("no tied problem tells the mistakes apart")  # pragma: no cover


def edge_probs(seed, n_bins, n_classes=10):
    """Softmax rows drawn for a file whose confidences lie exactly on edges b / n_bins between bins (n_bins a power
    of two, every probability a multiple of 1/64: exact floats), up to five edges below 1.0 (from 1/8 up: three of
    4 bins') and 1.0 itself; two rows drawn off the edges, mostly; and one row of 0.3, which bins that start at 0.1 (lesson 4's diagram) put lower. Labels drawn: about
    half the answers right. In a drawn order, so no rule closed at the other end of a bin can pass by position."""
    rng = np.random.default_rng([seed, n_bins, 4])
    units = 64  # every probability a multiple of 1/64
    edges = [b for b in range(1, n_bins + 1) if b * units >= n_bins * 8]  # b / n_bins >= 1/8: the rest can stay below it
    below_one = rng.permutation([b for b in edges if b < n_bins])[:5]
    confidences = [b * units // n_bins for b in [*below_one, n_bins]]
    confidences += [int(rng.integers(9, 63)) for _ in range(2)]  # off the edges, mostly (a multiple of 1/64 may land on one)
    rows = _rows_topped(rng, confidences, n_classes, units)
    rows.append(np.r_[0.3, np.full(n_classes - 1, 0.7 / (n_classes - 1))])
    probs = np.array(rows)[rng.permutation(len(rows))]
    return probs, _half_right(rng, probs, n_classes)


def expected_calibration_error(counts, confidence, accuracy) -> float:
    """The expected gap over the answers: one row per answer (pandas repeats each bin's row by its count), the mean of their gaps."""
    import pandas as pd

    table = pd.DataFrame({"gap": (pd.Series(accuracy, dtype=float) - pd.Series(confidence, dtype=float)).abs()})
    return float(table.loc[table.index.repeat(np.asarray(counts, np.int64)), "gap"].mean())


def exact_p_value(b: int, c: int) -> float:
    """SciPy's exact two-sided binomial p-value of b heads in b + c tosses of a fair coin (1.0 with no toss)."""
    from scipy.stats import binomtest

    return float(binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0


def mcnemar(y_true, pred_a, pred_b):
    """b, c and their exact p-value."""
    right_a, right_b = np.asarray(pred_a) == np.asarray(y_true), np.asarray(pred_b) == np.asarray(y_true)
    b, c = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    return b, c, exact_p_value(b, c)


def conclusion(b: int, c: int, p_value: float, alpha: float) -> str:
    """compare_models's contract, in its docstring's words, on the numbers of a McNemar test."""
    return "neither" if not p_value < alpha else ("A" if b > c else "B")


def calibration_probs(seed, n=600, n_classes=10):
    """Seeded softmax outputs (float32) and labels from an overconfident model: its answers are right less often
    than it says, and more so the surer it is, so the gaps grow along the bins; no confidence within 1e-5 of
    an edge of 4, 8, 10, 15 or 40 bins (as many as the checks ask), where the contract's rule and a rounding one would part."""
    rng = np.random.default_rng(seed)
    probs = np.empty((0, n_classes), np.float32)
    while len(probs) < n:
        logits = rng.normal(0.0, 1.0, (n, n_classes)) * rng.uniform(0.3, 5.0, (n, 1))
        batch = np.exp(logits - logits.max(axis=1, keepdims=True))
        batch = (batch / batch.sum(axis=1, keepdims=True)).astype(np.float32)
        confidence = batch.max(axis=1).astype(np.float64)
        far = np.all([np.abs(confidence * bins - np.round(confidence * bins)) > 1e-5 for bins in (4, 8, 10, 15, 40)], axis=0)
        probs = np.concatenate([probs, batch[far]])[:n]
    confidence, predicted = probs.max(axis=1).astype(np.float64), probs.argmax(axis=1)
    right = rng.random(n) < confidence ** 1.6  # a shade less often right than the confidence says
    other = (predicted + rng.integers(1, n_classes, n)) % n_classes
    return probs, np.where(right, predicted, other).astype(np.int64)


def paired_predictions(rng, b, c, both_right, both_wrong, n_classes=10):
    """Labels and two models' predictions for b + c + both_right + both_wrong images, shuffled: A alone right on
    b of them, B alone right on c; where a model is wrong it answers another class at random."""
    n = b + c + both_right + both_wrong
    y_true = rng.integers(0, n_classes, n)
    wrong = lambda: (y_true + rng.integers(1, n_classes, n)) % n_classes  # noqa: E731 - a wrong answer per image
    a_right = np.r_[np.ones(b, bool), np.zeros(c, bool), np.ones(both_right, bool), np.zeros(both_wrong, bool)]
    b_right = np.r_[np.zeros(b, bool), np.ones(c, bool), np.ones(both_right, bool), np.zeros(both_wrong, bool)]
    order = rng.permutation(n)
    a_right, b_right = a_right[order], b_right[order]
    return y_true, np.where(a_right, y_true, wrong()), np.where(b_right, y_true, wrong())
