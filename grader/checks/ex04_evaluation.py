"""Exercise 04 · Evaluating a classifier: the graded checks.

Each test is one check; its points, function, hints and lesson section live in
course.toml under the same name (without "test_"). Every check calls the
student's code through `student.call` (a child process) and judges the plain
data that comes back against the contract in the exercise's docstrings, using
the small reference computations of grader/references/ex04_evaluation.py (`ref`,
never imported from solutions/). Inputs are fixed (seeded random ones and hand-made edge cases), except
those of the calibration and McNemar checks, drawn for each file when it is graded (`_comparison_seed`).

Each student has a variant (course.toml: BETA, the beta of precision_recall_f1's F score, a number
at the top of the file), and the F checks grade that one; an F score that is exactly another
variant's fails with the message that names both (grader/variants.py `told_apart`).
"""

import numpy as np
import pytest

from grader import variants
from grader.feedback import describe, short
from grader.references import ex04_evaluation as ref  # the contracts' own computations and the seeded inputs
from grader.scoring import depends_on
from grader.isolation.reply import Opaque


def _lit(array) -> str:
    """How a small array reads in a message: as the code that builds it."""
    array = np.asarray(array)
    dtype = "" if array.dtype == np.int64 or array.dtype == np.float64 else f", dtype=np.{array.dtype}"
    return f"np.array({array.tolist()}{dtype})"


# ---------------------------------------------------------------- confusion_matrix


def _cm_call(student, y_true, y_pred, num_classes, shown):
    kwargs = {} if num_classes == 10 else {"num_classes": num_classes}
    return student.call(
        "confusion_matrix",
        y_true,
        y_pred,
        shown=shown,
        expect=f"an int64 array of shape ({num_classes}, {num_classes})",
        **kwargs,
    )


def _cm_cases():
    y_true, y_pred = ref.random_labels()
    small_true = np.array([0, 1, 1, 2, 3, 3, 3, 0, 2, 1, 1, 3])
    small_pred = np.array([0, 1, 2, 2, 3, 0, 3, 1, 2, 1, 1, 3])
    return [
        (y_true, y_pred, 10, "y_true, y_pred (300 seeded random labels 0..9, 70% predicted right)"),
        (small_true, small_pred, 4, f"{_lit(small_true)}, {_lit(small_pred)}"),
    ]


def test_confusion_matrix_shape_dtype(student):
    for y_true, y_pred, num_classes, shown in _cm_cases():
        r = _cm_call(student, y_true, y_pred, num_classes, shown)
        out = r.array()
        if out.shape != (num_classes, num_classes):
            cause = ""
            if num_classes != 10 and out.shape == (10, 10):
                cause = "num_classes was ignored (a hard-coded 10?)"
            elif out.ndim == 1:
                cause = "the counts were kept flat (np.bincount gives num_classes**2 numbers: reshape them)"
            raise r.fail(f"got shape {out.shape}", cause=cause, hint="one row per true class, one column per predicted class")
        if out.dtype != np.int64:
            if out.dtype.kind == "f":
                cause = "np.zeros() makes float64 unless told otherwise"
            elif out.dtype.kind in "iu":
                cause = "an integer type of another size (on some systems dtype=int is 32-bit)"
            else:
                cause = ""
            raise r.fail(f"got dtype {out.dtype}", cause=cause, hint="create the matrix with dtype=np.int64")


def _cm_mismatch(r, out, expected, n, situation=""):
    """Explain how a confusion matrix of the right shape differs from the reference."""
    where = f" ({situation})" if situation else ""
    if np.array_equal(out, expected.T):
        raise r.fail(
            f"got the matrix transposed{where}",
            "cm[i, j] to count the samples of true class i predicted as j",
            cause="rows and columns swapped",
            hint="index the matrix as cm[true, predicted]: rows are true classes, columns predicted ones",
        )
    if np.array_equal(out, (expected > 0).astype(out.dtype)) and int(out.sum()) != n:
        raise r.fail(
            f"got only 0s and 1s, adding up to {int(out.sum())}{where}",
            f"counts that add up to the number of samples, {n}",
            cause="cm[y_true, y_pred] += 1 with fancy indexing counts a repeated (true, predicted) pair only once",
            hint="count every sample: a loop over the (true, predicted) pairs, or NumPy's unbuffered np.add.at, adds once per sample",
        )
    if out.dtype.kind == "f" and n and np.allclose(out, expected / np.maximum(expected.sum(axis=1, keepdims=True), 1)):
        raise r.fail(f"got each row divided by its total{where}", "raw counts", cause="the matrix was normalized", hint="return the counts; normalizing is for plotting")
    if int(out.sum()) != n:
        cause = f"the counts add up to {int(out.sum())}, but there are {n} samples"
    elif not np.array_equal(out.sum(axis=1), expected.sum(axis=1)):
        cause = "the row totals are wrong: row i must count every sample whose true label is i"
    else:
        cause = ""
    i, j = (int(v) for v in np.argwhere(out != expected)[0])
    raise r.fail(
        f"got cm[{i}, {j}] = {out[i, j]}{where}",
        f"{expected[i, j]}, the number of samples with true label {i} predicted as {j}",
        cause=cause,
    )


def test_confusion_matrix_values(student):
    y_true, y_pred = ref.random_labels()
    uint8 = (y_true.astype(np.uint8), y_pred.astype(np.uint8), 10,
             "the same 300 labels as uint8 arrays (the dtype of MNIST's own labels)")
    for y_true, y_pred, num_classes, shown in [*_cm_cases(), uint8]:
        r = _cm_call(student, y_true, y_pred, num_classes, shown)
        if y_true.dtype == np.uint8 and r.outcome.status == "raised" and r.outcome.stage == "call" and not r.not_started:
            raise r.fail(
                f"it raised {r.outcome.exc_type}: {r.outcome.exc_message}",
                "the same matrix as for the int64 labels: the contract takes labels of any integer dtype",
                cause="only int64 labels accepted (a dtype compared with np.int64) where any integer dtype is valid; "
                "MNIST's own labels are uint8",
                hint="accept every integer dtype, signed or unsigned (int32, uint8, ...): ask whether the dtype is an integer "
                "kind, not whether it is int64",
                contract="1-D integer arrays of the same length N (any integer dtype)",
            )
        out = r.array()
        expected = ref.confusion_matrix(y_true, y_pred, num_classes)
        if out.shape != expected.shape:
            raise r.fail(f"got shape {out.shape}, so the counts cannot be compared")
        if not np.array_equal(out, expected):
            _cm_mismatch(r, out, expected, len(y_true))


def test_confusion_matrix_missing_classes(student):
    # Class 3 is predicted but never true, class 5 neither true nor predicted,
    # and the largest label seen (4) is not num_classes - 1.
    y_true = np.array([0, 0, 1, 1, 2, 2, 4, 4, 0, 1])
    y_pred = np.array([0, 3, 1, 1, 2, 0, 4, 1, 0, 2])
    one = np.array([2, 2, 2])
    empty = np.array([], dtype=np.int64)
    cases = [
        (y_true, y_pred, 6, f"{_lit(y_true)}, {_lit(y_pred)}", "class 3 never occurs, class 5 never occurs and is never predicted"),
        (one, one, 10, f"{_lit(one)}, {_lit(one)}", "only class 2 occurs"),
        (empty, empty, 10, "np.array([], dtype=np.int64), np.array([], dtype=np.int64)", "no samples at all"),
    ]
    for t, p, num_classes, shown, situation in cases:
        r = _cm_call(student, t, p, num_classes, shown)
        o = r.outcome
        if o.status == "raised" and o.stage == "call" and not r.not_started and len(t) == 0:
            raise r.fail(
                f"it raised {o.exc_type}: {o.exc_message}",
                f"a {num_classes} x {num_classes} matrix of zeros ({situation})",
                cause="a reduction such as labels.max() fails on an empty array"
                if "zero-size" in o.exc_message
                else "the contract allows N = 0: no samples is valid input, not an error",
                hint="check the range with ((labels < 0) | (labels >= num_classes)).any(), which is False for no labels",
            )
        out = r.array()
        expected = ref.confusion_matrix(t, p, num_classes)  # after the call: an untouched stub imports no scikit-learn
        if out.shape != expected.shape:
            seen = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
            cause = ""
            if out.shape == (seen, seen):
                cause = "the size came from the labels seen (max() + 1), not from num_classes"
            elif out.ndim == 2 and out.shape[0] == out.shape[1] == len(np.union1d(t, p)):
                cause = "the size came from the distinct labels seen (np.unique), not from num_classes"
            raise r.fail(
                f"got shape {out.shape} ({situation})",
                f"shape {expected.shape}: a class that never occurs keeps its row and column of zeros",
                cause=cause,
                hint="size the matrix with num_classes",
            )
        if not np.array_equal(out, expected):
            _cm_mismatch(r, out, expected, len(t), situation)


CM_REJECTS = (
    "Raises ValueError if either input is not 1-D, if their lengths differ, if either is not of an integer dtype "
    "(floats, bools), or for a label outside 0..num_classes-1; that message names the bad label"
)


@depends_on(test_confusion_matrix_values, earns="validating its input")
def test_confusion_matrix_rejects_bad_labels(student):
    y = np.array([0, 3, 9, 1])
    cases = [
        (y, np.array([0, 3, 10, 1]), 10, "10", "a predicted label of 10 with num_classes=10"),
        (np.array([0, -1, 9, 1]), y, 10, "-1", "a true label of -1"),
        (np.array([0, 4, 1, 2]), np.array([0, 7, 1, 2]), 5, "7", "a predicted label of 7 with num_classes=5"),
        (y, y.astype(np.float64), 10, "", "float labels"),
        (y.astype(np.float64) + 0.5, y, 10, "", "float labels that are not whole numbers"),
        (np.array([True, False, True, True]), np.array([True, True, False, True]), 10, "", "bool labels"),
    ]
    for t, p, num_classes, bad, situation in cases:
        r = student.call(
            "confusion_matrix",
            t,
            p,
            shown=f"{_lit(t)}, {_lit(p)}",
            expect=f"ValueError ({situation})" + (f", naming the bad label {bad}" if bad else ""),
            **({} if num_classes == 10 else {"num_classes": num_classes}),
        )
        r.expect_raises(
            "ValueError",
            mentions=bad,
            hint="check that both arrays hold integers (np.issubdtype against np.integer) and every label satisfies 0 <= label < num_classes, before counting; "
            "negative labels would silently index from the end",
            contract=CM_REJECTS,
        )


@depends_on(test_confusion_matrix_values, earns="validating its input")
def test_confusion_matrix_rejects_bad_shapes(student):
    y_true, y_pred = ref.random_labels(n=20)
    probs = np.eye(10)[y_pred] * 0.9 + 0.01
    cases = [
        (y_true, y_pred[:-1], "y_true (20 labels), y_pred[:-1] (19 labels)", "lengths that differ",
         "zip() silently stops at the shorter array; compare len(y_true) and len(y_pred) first"),
        (y_true.reshape(-1, 1), y_pred, "y_true.reshape(-1, 1) (shape (20, 1)), y_pred", "a 2-D y_true",
         "check y_true.ndim == 1 and y_pred.ndim == 1"),
        (y_true, probs, "y_true, the (20, 10) probabilities instead of predicted labels", "probabilities in place of labels",
         "predicted labels are the argmax of each row of probabilities, one per image; check y_pred.ndim == 1"),
    ]
    for t, p, shown, situation, hint in cases:
        r = student.call("confusion_matrix", t, p, shown=shown, expect=f"ValueError ({situation})")
        r.expect_raises("ValueError", hint=hint, contract=CM_REJECTS)


# ---------------------------------------------------------------- precision_recall_f1


def _prf_call(student, cm, shown):
    return student.call(
        "precision_recall_f1",
        cm,
        shown=shown,
        expect=f"a tuple (precision, recall, f1) of three float64 arrays of shape ({len(cm)},)",
    )


def _prf_parts(r, k):
    """The three returned arrays, or a Feedback on the structure."""
    value = r.value
    if isinstance(value, np.ndarray) and value.shape == (3, k):
        raise r.fail(
            f"got {describe(value)}",
            cause="the three results were stacked into one array",
            hint="return a tuple of three arrays, in the order (precision, recall, f1)",
        )
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise r.fail(f"got {describe(value)}", hint="return a tuple of three arrays, in the order (precision, recall, f1)")
    parts = []
    for name, part in zip(("precision", "recall", "f1"), value):
        if not isinstance(part, np.ndarray) or part.ndim == 0 or part.dtype.kind not in "biuf":
            raise r.fail(
                f"{name} is {describe(part)}",
                f"an array of shape ({k},)",
                cause="a single overall number instead of one per class" if np.ndim(part) == 0 else "",
                hint="compute every class at once from np.diag(cm) and the row and column sums",
            )
        parts.append(part)
    return parts


def test_precision_recall_f1_shape_dtype(student):
    cm = ref.random_cm()
    r = _prf_call(student, cm, "a seeded random 10 x 10 confusion matrix")
    for name, part in zip(("precision", "recall", "f1"), _prf_parts(r, 10)):
        if part.shape != (10,):
            cause = "a sum with keepdims=True, or an axis too many" if part.size == 10 else ""
            raise r.fail(f"{name} has shape {part.shape}", cause=cause, hint="one number per class")
        if part.dtype != np.float64:
            if part.dtype.kind in "biu":
                cause = "integer division, or counts never converted to floats"
            else:
                cause = f"counts converted to {part.dtype} rather than float64 (NumPy's default float)"
            raise r.fail(f"{name} has dtype {part.dtype}", cause=cause, hint="divide floats: convert with .astype(np.float64)")


def _close(a, b):
    # float32 results are prepare_recall_f1_shape_dtype's point; values are judged to float32's precision
    return a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-9)


_MISMATCH_CAUSE = ("your code leaves BETA out, or the number at the top of your file is not your variant's (the file "
                   "starts with the first variant's), or the file was written for another variant: a classmate's, or "
                   "your own under another student id")


def _beta(variant) -> float:
    return variant.params["beta"] if variant else 1


def _f_mistake(f, p, r, beta) -> str:
    """The likely cause of an F score that is not the contract's, from the classic mistakes."""
    with np.errstate(all="ignore"):
        if beta == 1 and _close(f, (p + r) / 2):
            return "the plain average (p + r) / 2; F1 is the harmonic mean"
        if beta == 1 and _close(f, p * r / np.where(p + r > 0, p + r, 1)):
            return "the factor 2 is missing: f1 = 2 * p * r / (p + r)"
        if beta != 1 and _close(f, np.where(beta * p + r > 0, (1 + beta) * p * r / np.where(beta * p + r > 0, beta * p + r, 1), 0)):
            return f"beta where the formula squares it: with BETA = {beta:g} the weights are BETA**2 = {beta**2:g}"
        if beta != 1 and _close(f, np.where(p + beta**2 * r > 0, (1 + beta**2) * p * r / np.where(p + beta**2 * r > 0, p + beta**2 * r, 1), 0)):
            return "BETA**2 multiplies recall instead of precision in the denominator: that weighs precision BETA times as much"
    return ""


def _check_prf(r, cm, situation="", student=None, variant=None):
    """Compare the three results with the reference for the variant's beta, explaining classic mistakes."""
    k = len(cm)
    beta = _beta(variant)
    precision, recall, f1 = (p.astype(np.float64) for p in _prf_parts(r, k))
    want_p, want_r, want_f = ref.precision_recall_f1(cm, beta)
    where = f" ({situation})" if situation else ""
    for name, got, want in (("precision", precision, want_p), ("recall", recall, want_r), ("f1", f1, want_f)):
        if got.shape != (k,):
            raise r.fail(f"{name} has shape {got.shape}{where}", f"shape ({k},)")
        if np.isnan(got).any():
            c = int(np.flatnonzero(np.isnan(got))[0])
            raise r.fail(
                f"{name}[{c}] is nan{where}",
                f"{want[c]:g}",
                cause="a division by zero: 0 / 0 gives nan",
                hint="divide only where the denominator is positive and use 0.0 elsewhere",
                contract="the result never holds nan, and computing it emits no warning",
            )
    if _close(precision, want_r) and _close(recall, want_p) and not _close(precision, want_p):
        raise r.fail(
            f"got precision {short(precision, 4)} and recall {short(recall, 4)}{where}",
            f"precision {short(want_p, 4)} and recall {short(want_r, 4)}",
            cause="precision and recall swapped",
            hint="precision divides by the column sum (everything predicted as k), recall by the row sum (everything truly k)",
        )
    for name, got, want, other, axis in (
        ("precision", precision, want_p, want_r, "column"),
        ("recall", recall, want_r, want_p, "row"),
    ):
        if _close(got, want):
            continue
        cause = ""
        if _close(got, other):
            cause = f"{name} divided by the wrong sums: it needs the {axis} sums"
        elif _close(got, want * 100):
            cause = "percentages: the contract asks for fractions between 0 and 1"
        elif np.isin(got, (0.0, 1.0)).all():
            cause = "integer division (//) or integer counts, which round every fraction down to 0"
        c = int(np.flatnonzero(~np.isclose(got, want, rtol=1e-9, atol=1e-12))[0])
        raise r.fail(
            f"got {name}[{c}] = {got[c]:g}{where}",
            f"{want[c]:g} (cm[{c}, {c}] = {cm[c, c]} divided by the {axis} sum {int(cm.sum(axis=0 if axis == 'column' else 1)[c])})",
            cause=cause,
        )
    if not _close(f1, want_f):
        c = int(np.flatnonzero(~np.isclose(f1, want_f, rtol=1e-9, atol=1e-12))[0])
        name = "f1" if beta == 1 else "f"
        if student is not None and (other := variants.told_apart(
                student.exercise, variant, lambda v: _close(f1, ref.precision_recall_f1(cm, _beta(v))[2]), cause=_MISMATCH_CAUSE)):
            raise other(r, f"got {name}[{c}] = {f1[c]:g}{where}")
        p, q = f"{want_p[c]:g}", f"{want_r[c]:g}"
        formula = f"2 * {p} * {q} / ({p} + {q})" if beta == 1 else f"(1 + {beta**2:g}) * {p} * {q} / ({beta**2:g} * {p} + {q}), F-beta for beta {beta:g}"
        raise r.fail(
            f"got {name}[{c}] = {f1[c]:g}{where}",
            f"{want_f[c]:g} ({formula})",
            cause=_f_mistake(f1, want_p, want_r, beta),
            hint="f1 = 2 * precision * recall / (precision + recall)" if beta == 1
            else f"f = (1 + BETA**2) * precision * recall / (BETA**2 * precision + recall), with your variant's BETA = {beta:g}",
        )


def test_precision_recall_f1_values(student, variant):
    for cm, shown in ((ref.random_cm(), "a seeded random 10 x 10 confusion matrix"), (ref.SMALL_CM, _lit(ref.SMALL_CM))):
        _check_prf(_prf_call(student, cm, shown), cm, student=student, variant=variant)


def test_precision_recall_f1_empty_classes(student, variant):
    perfect = np.diag([5, 3, 0]).astype(np.int64)
    cases = [
        (ref.EMPTY_CLASSES, _lit(ref.EMPTY_CLASSES), "classes that never occur, are never predicted, or are never right"),
        (perfect, _lit(perfect), "a perfect classifier on classes 0 and 1; class 2 never occurs"),
        (np.zeros((10, 10), dtype=np.int64), "np.zeros((10, 10), dtype=np.int64)", "no samples at all"),
    ]
    for cm, shown, situation in cases:
        r = _prf_call(student, cm, shown)
        _check_prf(r, cm, situation, student=student, variant=variant)
        if r.warnings:
            raise r.fail(
                f"the right values, but the call emitted a warning: {r.warnings[0]}",
                "no warning",
                cause="dividing by zero first and replacing nan afterwards (np.where and np.nan_to_num still compute 0 / 0)",
                hint="skip the division where the denominator is 0: np.divide(a, b, out=np.zeros(...), where=b > 0)",
                contract="the result never holds nan, and computing it emits no warning",
            )


@depends_on(test_precision_recall_f1_values, earns="validating its input")
def test_precision_recall_f1_rejects_bad_input(student):
    negative = ref.SMALL_CM.copy()
    negative[2, 1] = -3
    normalized = ref.SMALL_CM / ref.SMALL_CM.sum(axis=1, keepdims=True)
    cases = [
        (ref.SMALL_CM[:, :3], "cm[:, :3], a 5 x 3 matrix (not square)", "check cm.ndim == 2 and cm.shape[0] == cm.shape[1]"),
        (np.diag(ref.SMALL_CM), "np.diag(cm), a 1-D array", "check cm.ndim == 2 and cm.shape[0] == cm.shape[1]"),
        (negative, _lit(negative), "counts are never negative: check (cm < 0).any()"),
        (normalized, "a row-normalized confusion matrix (float64 fractions)", "counts are integers: check the dtype with np.issubdtype against np.integer"),
    ]
    for cm, shown, hint in cases:
        r = student.call("precision_recall_f1", cm, shown=shown, expect="ValueError")
        r.expect_raises(
            "ValueError", hint=hint, contract="Raises ValueError if cm is not a square 2-D array, is not of an integer dtype, or holds a negative count"
        )


# ---------------------------------------------------------------- most_confused_pairs
# No 4 x 4 matrices here, and never exactly 16 non-zero cells: the worker sends a
# list of up to 16 items, but 16 three-tuples exceed what one result may hold, so
# a wrong answer of that length would read as a crash instead of being explained.


def _pairs_call(student, cm, shown, k=None):
    """(the call, the reference's pairs): None for an untouched stub, whose grading imports no pandas."""
    kwargs = {} if k is None else {"k": k}
    r = student.call("most_confused_pairs", cm, shown=shown, **kwargs)
    if r.not_started:
        return r, None
    expected = ref.most_confused_pairs(cm, 3 if k is None else k)
    r.expect = f"a list of {len(expected)} (true, predicted, count) tuples"
    return r, expected


def _as_pairs(r):
    """The returned pairs as a list of int triples, however they came; or a Feedback."""
    value = r.value
    if isinstance(value, Opaque) and (value.length or 0) > 16 and value.description.endswith(("list", "tuple")):
        raise r.fail(f"got {describe(value)}", cause="k was not applied: return at most k pairs", hint="slice the sorted list to its first k items")
    if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1:] == (3,):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise r.fail(f"got {describe(value)}", hint="build a list of (true, predicted, count) tuples")
    pairs = []
    for item in value:
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise r.fail(f"got an item that is {describe(item)}", "tuples of three numbers (true, predicted, count)")
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in item):
            raise r.fail(f"got the item {item!r}", "three integers (true, predicted, count)", hint="convert each number with int(...)")
        pairs.append(tuple(int(v) for v in item))
    return pairs


def _smallest_first(got, cm):
    """The pairs come in ascending order of count, smallest mistakes first."""
    counts = [c for _, _, c in got]
    off = cm[~np.eye(len(cm), dtype=bool)]
    smallest = sorted(int(c) for c in off if c > 0)[: len(got)]
    ascending = counts == sorted(counts) and counts != sorted(counts, reverse=True)
    return len(got) > 1 and (ascending or (counts == smallest and counts != [c for *_, c in ref.most_confused_pairs(cm, len(got))]))


def _show_pairs(pairs):
    return "[" + ", ".join(f"({t}, {p}, {c})" for t, p, c in pairs) + "]"


def test_most_confused_pairs_types(student):
    cm = ref.pairs_cm()
    r, _ = _pairs_call(student, cm, "a seeded random 10 x 10 confusion matrix", k=3)
    value = r.value
    if isinstance(value, Opaque):
        _as_pairs(r)  # explains a list too long to send (k not applied) or an object
    if not isinstance(value, list):
        raise r.fail(
            f"got {describe(value)}",
            "a list",
            cause="an array or tuple where the contract asks for a list" if isinstance(value, (np.ndarray, tuple)) else "",
            hint="build the result with [...] or list(...)",
        )
    for item in value:
        if not isinstance(item, tuple):
            raise r.fail(f"got an item that is {describe(item)}", "each item a tuple (true, predicted, count)", hint="make each item with (t, p, count)")
        if len(item) != 3:
            raise r.fail(f"got an item with {len(item)} values", "three values (true, predicted, count)")
        for v in item:
            if type(v) is not int:
                cause = "numpy integers (np.int64) from indexing an array" if isinstance(v, np.generic) else ""
                raise r.fail(f"got the item {item!r} holding {describe(v)}", "Python ints", cause=cause, hint="convert each number with int(...)")


def test_most_confused_pairs_values(student):
    cm = ref.pairs_cm()
    small = ref.SMALL_CM
    for matrix, shown, k in ((cm, "a seeded random 10 x 10 confusion matrix", 5), (cm, "the same matrix", None), (small, _lit(small), 2)):
        r, expected = _pairs_call(student, matrix, shown, k=k)
        got = _as_pairs(r)
        if got == expected:
            continue
        k_used = 3 if k is None else k
        cause, hint = "", ""
        if any(t == p for t, p, _ in got):
            cause = "the diagonal was included: cm[i, i] counts correct answers, not confusions"
            hint = "set the diagonal to 0 first (np.fill_diagonal on a copy)"
        elif got == [(p, t, c) for t, p, c in expected] or got == ref.most_confused_pairs(matrix.T, k_used):
            cause = "true and predicted swapped: rows are the true class, columns the predicted one"
            hint = "for cm[i, j], the pair is (i, j, cm[i, j])"
        elif _smallest_first(got, matrix):
            cause = "sorted smallest first; the largest count comes first"
            hint = "sort by the count, descending (reverse=True, or sort by -count)"
        elif len(got) > len(expected):
            cause = f"k was not applied: {len(got)} pairs instead of at most {k_used}"
            hint = "slice the sorted list to its first k items"
        elif len(got) < len(expected):
            cause = f"only {len(got)} pairs; there are at least {k_used} confusions to return"
        elif k is None and len(got) != 3:
            cause = "the default k=3 was not kept"
        elif [c for *_, c in got] == [c for *_, c in expected]:
            cause = "equal counts were not ordered by (true, predicted), smallest first"
        raise r.fail(f"got {_show_pairs(got)}", _show_pairs(expected), cause=cause, hint=hint)


def test_most_confused_pairs_ties_and_few(student):
    ties = np.array(
        [[9, 0, 4, 0, 0], [4, 9, 0, 0, 0], [0, 0, 9, 0, 2], [0, 4, 0, 9, 0], [0, 0, 0, 2, 9]], dtype=np.int64
    )
    few = np.array([[5, 0, 0, 2, 0], [0, 6, 0, 0, 0], [1, 0, 7, 0, 0], [0, 0, 0, 8, 0], [0, 0, 0, 0, 3]], dtype=np.int64)
    perfect = np.diag([5, 3, 0, 4, 2]).astype(np.int64)
    cases = [
        (ties, 4, "three mistakes of 4 and two of 2: ties are ordered by (true, predicted)",
         "sort by count descending, then true ascending, then predicted ascending: key=lambda t: (-t[2], t[0], t[1])"),
        (few, 5, "only two cells off the diagonal are non-zero, fewer than k",
         "a cell with count 0 is no confusion: return fewer than k pairs rather than pad"),
        (perfect, 3, "a perfect classifier: no confusions at all", "with no mistakes the list is empty"),
    ]
    for cm, k, situation, hint in cases:
        r, expected = _pairs_call(student, cm, _lit(cm), k=k)
        got = _as_pairs(r)
        if got == expected:
            continue
        cause = ""
        if len(got) > k:
            cause = f"k was not applied: {len(got)} pairs instead of at most {k}"
            hint = "slice the sorted list to its first k items"
        elif _smallest_first(got, cm):
            cause = "sorted smallest first; the largest count comes first"
        elif any(t == p for t, p, _ in got):
            cause = "the diagonal was included: cm[i, i] counts correct answers, not confusions"
            hint = "set the diagonal to 0 first (np.fill_diagonal on a copy)"
        elif any(c == 0 for _, _, c in got):
            cause = "pairs with a count of 0 were included"
            hint = "a cell with count 0 is no confusion: return fewer than k pairs rather than pad"
        elif sorted(got, key=lambda x: (-x[2], x[0], x[1])) == sorted(expected, key=lambda x: (-x[2], x[0], x[1])):
            cause = "the right pairs in the wrong order among equal counts"
        elif got and sorted(got, key=lambda x: -x[2]) == got and [c for _, _, c in got] == [c for _, _, c in expected]:
            cause = "equal counts were not ordered by (true, predicted), smallest first"
        raise r.fail(f"got {_show_pairs(got)} ({situation})", _show_pairs(expected), cause=cause, hint=hint)


@depends_on(test_most_confused_pairs_values, earns="validating its input")
def test_most_confused_pairs_leaves_input(student):
    cm = ref.pairs_cm()
    r, _ = _pairs_call(student, cm, "a seeded random 10 x 10 confusion matrix", k=5)
    (after,) = r.args_after
    if not np.array_equal(after, cm):
        changed = "its diagonal was set to 0" if np.array_equal(after, cm - np.diag(np.diag(cm))) else "it had changed"
        raise r.fail(
            f"afterwards the caller's matrix was different: {changed}",
            "the input left untouched",
            cause="an in-place change of cm (np.fill_diagonal(cm, 0), cm[...] = ...), which corrupts the caller's confusion matrix",
            hint="work on a copy: mistakes = cm.copy()",
            contract="The input is not modified",
        )


@depends_on(test_most_confused_pairs_values, earns="validating its input")
def test_most_confused_pairs_rejects_bad_input(student):
    negative = ref.SMALL_CM.copy()
    negative[0, 2] = -5
    cases = [
        (ref.SMALL_CM[:3], {}, "cm[:3], a 3 x 5 matrix (not square)", "check cm.ndim == 2 and cm.shape[0] == cm.shape[1]"),
        (negative, {}, _lit(negative), "counts are never negative: check (cm < 0).any()"),
        (ref.SMALL_CM.astype(np.float64), {}, f"{_lit(ref.SMALL_CM)}.astype(np.float64)", "counts are integers: check the dtype with np.issubdtype against np.integer"),
        (ref.SMALL_CM, {"k": 0}, _lit(ref.SMALL_CM), "k must be at least 1: slicing with [:0] would silently return nothing"),
        (ref.SMALL_CM, {"k": -2}, _lit(ref.SMALL_CM), "k must be at least 1: slicing with [:-2] would silently drop pairs"),
    ]
    for cm, kwargs, shown, hint in cases:
        r = student.call("most_confused_pairs", cm, shown=shown, expect="ValueError", **kwargs)
        r.expect_raises(
            "ValueError",
            hint=hint,
            contract="Raises ValueError if cm is not a square 2-D array, is not of an integer dtype, or holds a negative count, or if k < 1",
        )


# ---------------------------------------------------------------- most_confident_mistakes


def _mistakes_call(student, probs, y_true, shown, k=None):
    """(the call, the reference's indices): None for an untouched stub, whose grading imports no pandas."""
    kwargs = {} if k is None else {"k": k}
    r = student.call("most_confident_mistakes", probs, y_true, shown=shown, **kwargs)
    if r.not_started:
        return r, None
    expected = ref.most_confident_mistakes(probs, y_true, 24 if k is None else k)
    r.expect = f"an int64 array of {len(expected)} indices, most confident mistake first"
    return r, expected


def _as_indices(r):
    """The returned indices as a list of ints, however they came; or a Feedback."""
    value = r.value
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        return [int(v) for v in value]
    # The dtype is test_most_confident_mistakes_types's business; here only the values count.
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iuf" and np.all(value == np.round(value)):
        return [int(v) for v in value.tolist()]
    raise r.fail(f"got {describe(value)}", hint="return a 1-D array of indices: np.flatnonzero gives them")


def _mistakes_mismatch(r, got, expected, probs, y_true, k, situation="", hint=""):
    """Explain how a list of indices differs from the reference (`hint` when no
    more telling one is found)."""
    where = f" ({situation})" if situation else ""
    predicted, confidence = probs.argmax(axis=1), probs.max(axis=1)
    cause = ""
    if any(not 0 <= i < len(probs) for i in got):
        cause = "an index outside the images: return positions in probs, not labels or counts"
    elif any(predicted[i] == y_true[i] for i in got):
        right = next(i for i in got if predicted[i] == y_true[i])
        cause = f"image {right} is not a mistake: its prediction {predicted[right]} is its label"
        hint = "keep only the images whose row argmax differs from their label"
    elif len(got) > len(expected):
        cause = f"k was not applied: {len(got)} indices instead of at most {k}"
        hint = "slice the sorted indices to their first k"
    elif len(got) < len(expected):
        cause = f"only {len(got)} indices; there are at least {len(expected)} mistakes to return"
    elif sorted(got) == sorted(expected) or set(got) < set(np.flatnonzero(predicted != y_true).tolist()):
        conf = [float(confidence[i]) for i in got]
        true_prob = [float(probs[i, y_true[i]]) for i in got]
        if conf == sorted(conf) and conf != sorted(conf, reverse=True):
            cause = "sorted least confident first; the most confident mistake comes first"
            hint = "sort by -confidence, or reverse an ascending order"
        elif true_prob == sorted(true_prob, reverse=True) and got != expected:
            cause = "ranked by the probability of the true label; the confidence is the row's largest probability, the one the model answered with"
            hint = "confidence = probs.max(axis=1)"
        elif conf == sorted(conf, reverse=True):
            cause = "equal confidences were not ordered by index, smallest first"
            hint = "only a stable sort keeps index order among equal confidences: np.argsort's default sort is not stable for more than 16 values, kind=\"stable\" is (lesson 4, 'Misclassified digits')"
        elif sorted(got) == got:
            cause = "the mistakes in index order: they were not sorted by confidence"
            hint = "order them by confidence, highest first, with a stable sort"
    raise r.fail(f"got {short(got, 12)}{where}", short(expected, 12), cause=cause, hint=hint)


def test_most_confident_mistakes_types(student):
    probs, y_true = ref.mistake_probs()
    r, _ = _mistakes_call(student, probs, y_true, ref.MISTAKES_SHOWN, k=10)
    out = r.array("a 1-D int64 array of indices")
    if out.ndim != 1:
        raise r.fail(f"got shape {out.shape}", "a 1-D array of indices", hint="np.flatnonzero gives a flat array of indices")
    if out.dtype != np.int64:
        cause = "values taken from probs (floats) rather than positions" if out.dtype.kind == "f" else (
            "an integer type of another size" if out.dtype.kind in "iu" else "")
        raise r.fail(f"got dtype {out.dtype}", "dtype int64", cause=cause, hint="convert with .astype(np.int64)")


def test_most_confident_mistakes_values(student):
    probs, y_true = ref.mistake_probs()
    for k, shown in ((10, ref.MISTAKES_SHOWN), (None, "the same probs and y_true, k left at its default")):
        r, expected = _mistakes_call(student, probs, y_true, shown, k=k)
        got = _as_indices(r)
        if got == expected:
            continue
        if k is None and len(got) != 24 and got == ref.most_confident_mistakes(probs, y_true, len(got)):
            raise r.fail(f"got {len(got)} indices", "24 (the default k)", cause="the default k=24 was not kept", contract="k: how many indices to return")
        _mistakes_mismatch(r, got, expected, probs, y_true, 24 if k is None else k)


def test_most_confident_mistakes_ties_and_few(student):
    # Rows 1, 3 and 4 are wrong with the same confidence 0.7; row 0 is wrong and surer.
    ties = np.array([[0.1, 0.9, 0.0], [0.7, 0.3, 0.0], [0.2, 0.8, 0.0], [0.3, 0.0, 0.7], [0.0, 0.7, 0.3], [0.6, 0.4, 0.0]])
    ties_true = np.array([0, 1, 1, 0, 2, 0])
    few_true = np.array([1, 0, 0, 2, 1, 0])  # only row 2 is wrong
    perfect_true = ties.argmax(axis=1)
    many, many_true = ref.tied_mistakes()
    cases = [
        (ties, ties_true, 4, "three mistakes share the confidence 0.7: equal confidences are ordered by index",
         "a stable sort of -confidence keeps index order among ties; reversing an ascending sort reverses them"),
        (many, many_true, 30, f"{int((many.argmax(axis=1) != many_true).sum())} mistakes sharing four confidence levels: "
         "equal confidences are ordered by index",
         "np.argsort's default sort is not stable once there are more than 16 values, so ties come out in any order: "
         "ask for kind=\"stable\" (lesson 4, 'Misclassified digits')"),
        (ties, few_true, 3, "only one image is wrong, fewer than k", "return the mistakes there are, never pad"),
        (ties, perfect_true, 3, "a perfect model: no mistakes at all", "with no mistakes the array is empty (shape (0,))"),
    ]
    for probs, y_true, k, situation, hint in cases:
        shown = f"probs={_lit(probs)}, y_true={_lit(y_true)}" if len(probs) <= 8 else f"probs, y_true ({len(probs)} seeded rows over 3 classes, {situation.split(':')[0]})"
        r, expected = _mistakes_call(student, probs, y_true, shown, k=k)
        got = _as_indices(r)
        if got != expected:
            _mistakes_mismatch(r, got, expected, probs, y_true, k, situation, hint)


@depends_on(test_most_confident_mistakes_values, earns="leaving its inputs alone")
def test_most_confident_mistakes_leaves_input(student):
    probs, y_true = ref.mistake_probs()
    r, _ = _mistakes_call(student, probs, y_true, ref.MISTAKES_SHOWN, k=10)
    after_probs, after_true = r.args_after
    if not (np.array_equal(after_probs, probs) and np.array_equal(after_true, y_true)):
        which = "probs" if not np.array_equal(after_probs, probs) else "y_true"
        raise r.fail(
            f"afterwards the caller's {which} was different",
            "the inputs left untouched",
            cause="an in-place change (probs[...] = ..., probs.sort(), y_true[...] = ...), which corrupts the caller's predictions",
            hint="compute new arrays (a mask, probs.max(axis=1)) instead of writing into the inputs",
            contract="The inputs are not modified",
        )


@depends_on(test_most_confident_mistakes_values, earns="validating its input")
def test_most_confident_mistakes_rejects_bad_input(student):
    probs, y_true = ref.mistake_probs(n=12)
    contract = ("Raises ValueError if probs is not a 2-D float array, if y_true is not a 1-D integer array of the same "
                "length, if a label is outside 0..K-1, or if k < 1")
    out_of_range, negative = y_true.copy(), y_true.copy()
    out_of_range[3], negative[5] = 10, -1
    shown = "12 seeded softmax rows"
    cases = [
        (probs[0], y_true, {}, f"probs[0] (one row, 1-D), y_true ({shown})", "check probs.ndim == 2"),
        ((probs * 100).astype(np.int64), y_true, {}, f"probs as int64 percentages, y_true ({shown})", "probabilities are floats: check the dtype with np.issubdtype against np.floating"),
        (probs, y_true[:-1], {}, f"probs ({shown}), y_true[:-1] (11 labels)", "one label per row: check len(y_true) == len(probs)"),
        (probs, y_true.astype(np.float64), {}, f"probs, y_true.astype(np.float64) ({shown})", "labels are integers: check the dtype with np.issubdtype against np.integer"),
        (probs, out_of_range, {}, f"probs, y_true with label 10 ({shown}, K = 10)", "every label must be in 0..probs.shape[1] - 1"),
        (probs, negative, {}, f"probs, y_true with label -1 ({shown})", "a label of -1 would silently index the last class: check y_true >= 0"),
        (probs, y_true, {"k": 0}, f"probs, y_true ({shown})", "k must be at least 1: slicing with [:0] would silently return nothing"),
        (probs, y_true, {"k": -3}, f"probs, y_true ({shown})", "k must be at least 1: slicing with [:-3] would silently drop mistakes"),
    ]
    for p, t, kwargs, shown_args, hint in cases:
        r = student.call("most_confident_mistakes", p, t, shown=shown_args, expect="ValueError", **kwargs)
        r.expect_raises("ValueError", hint=hint, contract=contract)


# ---------------------------------------------------------------- calibration and McNemar's test

COMPARISON_PURPOSE = "ex04 calibration's and McNemar's inputs"


@pytest.fixture(scope="module", autouse=True)
def _comparison_seed(student, settings):
    """The seed of the calibration and McNemar checks' inputs: from the file's bytes and the run's draw key, read
    before any of its code runs, so that a file cannot hold tables or p-values worked out at home."""
    student.comparison_seed = settings.draw(COMPARISON_PURPOSE, student.source_bytes())
    yield


# How close a table must be: counts exact; each bin's mean confidence within 1e-5, since the confidences are float32 (as
# model.predict gives them) and a mean added up in float32, as lesson 4's reliability diagram does, is off by up to
# about 1e-6 (every binning mistake changes the counts); accuracies, shares of whole answers, within 1e-9.
TABLE_TOLERANCE = (0.0, 1e-5, 1e-9)


def _same(got, expected) -> list[bool]:
    """Whether each of the three arrays of a table agrees with the contract's, within TABLE_TOLERANCE."""
    return [bool(np.allclose(g, e, rtol=0, atol=tol)) for g, e, tol in zip(got, expected, TABLE_TOLERANCE)]


def _bin(b: int, n_bins: int) -> str:
    return f"bin {b} ({b}/{n_bins} < c <= {b + 1}/{n_bins})"


def _table(r, n_bins):
    """A returned reliability table as three float64 arrays (counts kept exact), or the Feedback that says why it is none."""
    value = r.value
    if not (isinstance(value, tuple) and len(value) == 3):
        raise r.fail(f"got {describe(value)}", hint="return the three arrays as a tuple: return counts, confidence, accuracy")
    arrays = []
    for name, part in zip(("counts", "confidence", "accuracy"), value):
        if not isinstance(part, np.ndarray) or part.shape != (n_bins,) or part.dtype.kind not in "iuf":
            cause = ""
            if isinstance(part, (list, tuple)):
                cause = "a list: return numpy arrays"
            elif isinstance(part, np.ndarray) and part.ndim == 1 and len(part) < n_bins and len(value[0]) == len(part) and np.all(np.asarray(value[0]) > 0):
                cause = "the empty bins were left out: every bin has its place in the table, an empty one with a count of 0"
            elif isinstance(part, np.ndarray) and part.ndim == 1:
                cause = "n_bins was not used (a hard-coded number of bins?)"
            raise r.fail(f"{name} is {describe(part)}", f"a 1-D array of n_bins = {n_bins} numbers", cause=cause,
                         hint="one value per bin, empty bins included: np.bincount(..., minlength=n_bins) keeps them")
        arrays.append(part.astype(np.float64))
    return arrays


def _table_mismatch(r, got, expected, probs, y_true, n_bins, situation=""):
    """Explain how a reliability table differs from the contract's: the first bin where it does, and the rule it
    follows instead where it is one of the likely ones."""
    where = f" ({situation})" if situation else ""
    names = ("counts", "confidence", "accuracy")
    first = _same(got, expected).index(False)
    b = int(np.argmax(~np.isclose(got[first], expected[first], rtol=0, atol=TABLE_TOLERANCE[first])))
    rules = {
        "the bins were closed at the bottom (b / n_bins <= c < (b + 1) / n_bins), the other way round from the contract":
            ref.reliability_table(probs, y_true, n_bins, closed="bottom"),
        "the probability of the true label was used as the confidence; an answer's confidence is its row's largest "
        "probability, the one the model answered with": ref.reliability_table(probs, y_true, n_bins, of="label"),
        "confidence and accuracy swapped": [expected[0], expected[2], expected[1]],
        "each bin's sums were returned, not its means: divide by the bin's count": [expected[0], expected[1] * expected[0],
                                                                                     expected[2] * expected[0]],
    }
    cause = next((why for why, table in rules.items() if all(_same(got, table))), "")
    if not cause and first == 2 and all(_same(got, expected)[:2]):
        cause = ("the right bins and confidences, but some answers counted right or wrong against the contract: an answer is right "
                 "when its row's argmax (the first, if several are equal) is the label")
    hint = "bin b holds the confidences c with b / n_bins < c <= (b + 1) / n_bins; each bin's means are over its own answers"
    if np.isnan(np.concatenate(got)).any():
        cause, hint = "nan where a bin is empty: 0 / 0", "divide only where a bin holds answers: np.divide(..., out=np.zeros(n_bins), where=counts > 0)"
    elif not cause and got[0].sum() != len(probs):
        cause = f"the counts add up to {got[0].sum():g}, not to the {len(probs)} answers: some answers were put in no bin, or in two"
    raise r.fail(f"{names[first]}[{b}] = {got[first][b]:.6g} in {_bin(b, n_bins)}{where}",
                 f"{expected[first][b]:.6g}", cause=cause, hint=hint)


def _reliability_call(student, probs, y_true, n_bins, shown):
    return student.call("reliability_table", probs, y_true, n_bins=n_bins, shown=shown,
                        expect=f"(counts, confidence, accuracy): three arrays of {n_bins} numbers")


def test_reliability_table_values(student):
    probs, y_true = ref.calibration_probs(student.comparison_seed)
    shown = f"probs, y_true ({len(probs)} softmax rows of float32 drawn for your file, overconfident answers)"
    for n_bins in (10, 15):
        r = _reliability_call(student, probs, y_true, n_bins, shown)
        got, expected = _table(r, n_bins), ref.reliability_table(probs, y_true, n_bins)
        if not all(_same(got, expected)):
            _table_mismatch(r, got, expected, probs, y_true, n_bins)


# Rows whose confidences lie exactly on bin edges of 4 and 8 bins (quarters and eighths are exact floats), and one
# of 0.3, which bins that start at 0.1 (lesson 4's diagram) put lower; the right answers: rows 0, 2, 4 and 6.
EDGE_PROBS = np.array([[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0], [0.125, 0.75, 0.125, 0.0], [0.0, 0.0, 1.0, 0.0],
                       [0.375, 0.25, 0.25, 0.125], [0.0, 0.375, 0.625, 0.0], [0.3, 0.25, 0.25, 0.2]])
EDGE_TRUE = np.array([0, 1, 1, 0, 0, 1, 0])


def test_reliability_table_bin_edges(student):
    for n_bins in (4, 8):
        r = _reliability_call(student, EDGE_PROBS, EDGE_TRUE, n_bins, f"probs={_lit(EDGE_PROBS)}, y_true={_lit(EDGE_TRUE)}")
        got, expected = _table(r, n_bins), ref.reliability_table(EDGE_PROBS, EDGE_TRUE, n_bins)
        if not all(_same(got, expected)):
            _table_mismatch(r, got, expected, EDGE_PROBS, EDGE_TRUE, n_bins, "confidences exactly on the edges between bins, and one of 0.3")


def test_reliability_table_empty_bins(student):
    probs, y_true = ref.calibration_probs(student.comparison_seed, n=30)
    n_bins = 40  # more bins than answers: most are empty
    r = _reliability_call(student, probs, y_true, n_bins, "probs, y_true (30 softmax rows drawn for your file)")
    got, expected = _table(r, n_bins), ref.reliability_table(probs, y_true, n_bins)
    if not all(_same(got, expected)):
        _table_mismatch(r, got, expected, probs, y_true, n_bins, "most bins empty")
    for name, part, dtype in zip(("counts", "confidence", "accuracy"), r.value, (np.int64, np.float64, np.float64)):
        if part.dtype != dtype:
            cause = ("counts added up in floats (np.bincount with weights=, or np.zeros without a dtype)" if name == "counts"
                     else "means computed from integer sums without a float dtype")
            raise r.fail(f"the right values, but {name} has dtype {part.dtype}", f"dtype {np.dtype(dtype)}", cause=cause,
                         hint=f"convert with .astype(np.{np.dtype(dtype)})", contract="for bin b, counts[b] (int64) is how many answers fall in it, confidence[b] (float64) their mean confidence and accuracy[b] (float64) the share of them that are right")
    if r.warnings:
        raise r.fail(
            f"the right values, but the call emitted a warning: {r.warnings[0]}",
            "no warning",
            cause="dividing by every bin's count, 0 included, and replacing nan afterwards",
            hint="skip the division where a bin is empty: np.divide(a, b, out=np.zeros(...), where=b > 0)",
            contract="the result never holds nan, and computing it emits no warning",
        )


# A hand-made table, over- and underconfident in turn, whose gaps an unweighted or a signed mean gets wrong.
ECE_TABLE = (np.array([0, 10, 30, 60], dtype=np.int64), np.array([0.0, 0.4, 0.7, 0.9]), np.array([0.0, 0.5, 0.6, 0.95]))


def test_expected_calibration_error_values(student):
    probs, y_true = ref.calibration_probs(student.comparison_seed)
    drawn = ref.reliability_table(probs, y_true, 10)
    for table, shown in ((ECE_TABLE, ", ".join(_lit(part) for part in ECE_TABLE)),
                         (drawn, "counts, confidence, accuracy (the reliability table, 10 bins, of 600 answers drawn for your file)")):
        expected = ref.expected_calibration_error(*table)
        r = student.call("expected_calibration_error", *table, shown=shown, expect=f"a float, {expected:.6g}")
        value = r.value
        if not isinstance(value, float):
            raise r.fail(f"got {describe(value)}", hint="return float(...) of the sum")
        if np.isclose(value, expected, rtol=1e-9, atol=1e-12):
            continue
        counts, confidence, accuracy = (np.asarray(part, np.float64) for part in table)
        gaps, filled = accuracy - confidence, counts > 0
        candidates = {
            "the gaps kept their sign, so over- and underconfident bins cancel; the gap is a distance, whichever is larger":
                float((counts * gaps).sum() / counts.sum()),
            "every non-empty bin weighed the same; an answer picked at random lands in a bin as often as the bin holds answers":
                float(np.abs(gaps[filled]).mean()),
            "the mean over all bins, empty ones included; an answer picked at random never lands in an empty bin":
                float(np.abs(gaps).mean()),
            "the gaps weighted by the counts but not divided by the number of answers: a sum of counts, not an expected value":
                float((counts * np.abs(gaps)).sum()),
            "the gaps were squared: that is a calibration error too, but not the expected gap":
                float((counts * gaps**2).sum() / counts.sum()),
            "the counts times the gaps averaged over the bins: the weights are each bin's share of the answers, so the sum is "
            "divided by the number of answers, not of bins": float((counts * np.abs(gaps)).mean()),
            "the largest gap: that is the maximum calibration error, the worst bin, not the expected gap": float(np.abs(gaps).max()),
        }
        cause = next((c for c, v in candidates.items() if np.isclose(value, v, rtol=1e-9, atol=1e-12)), "")
        raise r.fail(f"got {value:.6g}", f"{expected:.6g}", cause=cause,
                     hint="an expected value over the answers: each bin's gap counts as often as the bin has answers")


def _pairs(student, purpose: str, counts):
    """Labels and two models' predictions with the disagreements `counts` = (b, c, both right, both wrong),
    shuffled with the file's own draw."""
    rng = np.random.default_rng([student.comparison_seed, sum(map(ord, purpose))])
    return ref.paired_predictions(rng, *counts)


def _drawn_counts(student, purpose: str, wanted):
    """(b, c) drawn for the file until `wanted(b, c, p)` holds, deterministically: from 5 to 399 each, so
    that a file would need the p-values of some 150,000 pairs to look them up instead of computing them."""
    rng = np.random.default_rng([student.comparison_seed, sum(map(ord, purpose)), 1])
    while True:
        b, c = (int(v) for v in rng.integers(5, 400, 2))
        if wanted(b, c, ref.exact_p_value(b, c)):
            return b, c


def _mcnemar_cases(student):
    """(y_true, pred_a, pred_b, shown) drawn for the file: a clear winner, either way round; a split too even to
    say; a tie, whose p-value is exactly 1; no disagreement at all."""
    out = []
    for purpose, wanted in (("A ahead", lambda b, c, p: b > c and p < 0.01), ("B ahead", lambda b, c, p: c > b and p < 0.01),
                            ("no evidence", lambda b, c, p: 0.1 < p < 0.9)):
        b, c = _drawn_counts(student, purpose, wanted)
        y_true, pred_a, pred_b = _pairs(student, purpose, (b, c, 400, 25))
        out.append((y_true, pred_a, pred_b, f"y_true, pred_a, pred_b ({len(y_true)} images drawn for your file)"))
    tie = _pairs(student, "tie", (31, 31, 300, 20))
    out.append((*tie, f"y_true, pred_a, pred_b ({len(tie[0])} images drawn for your file, on which each model alone is right as often as the other)"))
    agree = _pairs(student, "agree", (0, 0, 150, 10))
    out.append((*agree, f"y_true, pred_a, pred_b ({len(agree[0])} images on which the two models are right and wrong together)"))
    return out


def _mcnemar_result(r):
    """(b, c, p_value) as returned, or the Feedback that says why they are not three numbers."""
    value = r.value
    if not (isinstance(value, tuple) and len(value) == 3):
        raise r.fail(f"got {describe(value)}", hint="return b, c, p_value as a tuple")
    b, c, p_value = value
    for name, number in (("b", b), ("c", c)):
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)):
            raise r.fail(f"{name} is {describe(number)}", f"{name} as an int", hint="a count: int(np.sum(...))")
    if isinstance(p_value, bool) or not isinstance(p_value, (float, int, np.floating, np.integer)):
        raise r.fail(f"p_value is {describe(p_value)}", "a float", hint="return float(...)")
    return int(b), int(c), float(p_value)


def test_mcnemar_counts(student):
    for y_true, pred_a, pred_b, shown in _mcnemar_cases(student):
        b, c, _ = ref.mcnemar(y_true, pred_a, pred_b)
        r = student.call("mcnemar", y_true, pred_a, pred_b, shown=shown, expect=f"b = {b}, c = {c}")
        got_b, got_c, _ = _mcnemar_result(r)
        if (got_b, got_c) == (b, c):
            continue
        differ = int(np.sum(pred_a != pred_b))
        cause = ""
        if (got_b, got_c) == (c, b):
            cause = "b and c swapped: b counts the images A gets right and B wrong"
        elif got_b + got_c == differ != b + c:
            cause = (f"every image where the predictions differ was counted ({differ}), also those both models get wrong with "
                     "different answers; only the images one model gets right and the other wrong decide between them")
        raise r.fail(f"b = {got_b}, c = {got_c}", f"b = {b}, c = {c}", cause=cause,
                     hint="compare each model's predictions with the labels first: right_a = pred_a == y_true")


def _p_value_cause(b: int, c: int, value: float) -> str:
    """The likely reason a p-value differs from the exact two-sided one of b to c."""
    from scipy.stats import binom, chi2  # the grader's side only: the worker refuses SciPy

    n, exact = b + c, ref.exact_p_value(b, c)
    one_tail = float(binom.cdf(min(b, c), n, 0.5))
    known = {
        "only one tail: a split as uneven the other way round is as surprising, so the two-sided p-value counts both": one_tail,
        "both tails added without the cap: with b = c they overlap in the middle and the sum passes 1": 2 * one_tail,
        "the probability of exactly this split, not of a split at least this uneven": float(binom.pmf(min(b, c), n, 0.5)),
        "twice the probability of exactly this split: the p-value adds up every split at least this uneven": 2 * float(binom.pmf(min(b, c), n, 0.5)),
        "the chi-squared approximation; the contract asks the exact test, which counts the coin tosses themselves":
            float(chi2.sf((abs(b - c) - 1) ** 2 / n, 1)) if n else 1.0,
        "the chi-squared approximation without continuity correction; the contract asks the exact test":
            float(chi2.sf((b - c) ** 2 / n, 1)) if n else 1.0,
    }
    if not np.isfinite(value):
        return "a float overflowed: 2 ** (b + c) is too large for a float once b + c passes about 1,000"
    if value == 0.0 and exact > 0.0:
        return "a float underflowed: 0.5 ** (b + c) is 0.0 once b + c passes about 1,075, and every probability built on it with it"
    return next((why for why, v in known.items() if not np.isclose(v, exact, rtol=1e-9, atol=0) and np.isclose(value, v, rtol=1e-6, atol=0)), "")


def _same_p_value(p_value: float, expected: float) -> bool:
    """A p-value exact to float precision, however small (the contract's "exact to float precision")."""
    return bool(np.isclose(p_value, expected, rtol=1e-9, atol=1e-300))


def _check_p_value(r, b, c, p_value, expected, hint):
    if _same_p_value(p_value, expected):
        return
    raise r.fail(f"p_value = {p_value:.6g} for b = {b}, c = {c}", f"{expected:.6g}", cause=_p_value_cause(b, c, p_value), hint=hint)


@depends_on(test_mcnemar_counts, earns="a p-value of the right counts")
def test_mcnemar_p_value(student):
    hint = ("if A and B were equally good, b would be the number of heads in b + c fair tosses: add up the binomial "
            "probabilities of every split at least as uneven, the splits lesson 4's simulation counts ('Comparing two models on the same test set')")
    for y_true, pred_a, pred_b, shown in _mcnemar_cases(student):
        b, c, expected = ref.mcnemar(y_true, pred_a, pred_b)
        r = student.call("mcnemar", y_true, pred_a, pred_b, shown=shown, expect=f"p_value = {expected:.6g}")
        *_, p_value = _mcnemar_result(r)
        _check_p_value(r, b, c, p_value, expected, hint)


@depends_on(test_mcnemar_counts, earns="a p-value of the right counts")
def test_mcnemar_large_counts(student):
    rng = np.random.default_rng([student.comparison_seed, 2])
    # p from about 0.5 to 0.0001, either model ahead: 640,000 pairs (b + c at most about 6,200: the reference's exact sum
    # takes about 1 s there, its cost growing faster than n squared)
    fewer, more = int(rng.integers(1000, 3000)), int(rng.integers(40, 200))
    b, c = (fewer, fewer + more) if rng.random() < 0.5 else (fewer + more, fewer)
    y_true, pred_a, pred_b = ref.paired_predictions(rng, b, c, 6000, 300)
    b, c, expected = ref.mcnemar(y_true, pred_a, pred_b)
    shown = f"y_true, pred_a, pred_b ({len(y_true):,} images drawn for your file, {b + c:,} of them disagreements)"
    r = student.call("mcnemar", y_true, pred_a, pred_b, shown=shown, expect=f"p_value = {expected:.6g}")
    if r.outcome.status == "raised" and r.outcome.exc_type == "OverflowError":
        raise r.fail(f"it raised OverflowError({r.outcome.exc_message!r})", f"p_value = {expected:.6g}",
                     cause=f"2 ** {b + c} or a binomial coefficient of {b + c} tosses converted to a float, which ends near 1.8e308",
                     hint="Python's ints are exact at any size: keep the sum of math.comb(n, k) and 2 ** n as ints and divide once at the end")
    *_, p_value = _mcnemar_result(r)
    _check_p_value(r, b, c, p_value, expected,
                   "Python's ints are exact at any size: add up math.comb(n, k) as ints and divide by 2 ** n once, at the end")


@depends_on(test_mcnemar_p_value, earns="a conclusion drawn from the right numbers")
def test_compare_models_verdict(student):
    rng = np.random.default_rng([student.comparison_seed, 3])
    cases = []
    for purpose, wanted, alphas in (("A ahead", lambda b, c, p: b > c and p < 0.01, (0.05,)),
                                    ("B ahead", lambda b, c, p: c > b and p < 0.01, (0.05,)),
                                    ("no evidence", lambda b, c, p: b > c and 0.1 < p < 0.9, (0.05,)),
                                    ("between the levels", lambda b, c, p: 0.01 < p < 0.05, (0.05, 0.01))):
        b, c = _drawn_counts(student, "verdict " + purpose, wanted)
        cases += [(ref.paired_predictions(rng, b, c, 400, 25), alpha) for alpha in alphas]
    for (y_true, pred_a, pred_b), alpha in cases:
        shown = f"y_true, pred_a, pred_b ({len(y_true)} images drawn for your file)"
        # Judged against the student's own numbers for these images (right, as test_mcnemar_p_value has shown on others).
        own = student.call("mcnemar", y_true, pred_a, pred_b, shown=shown, expect="b, c, p_value")
        b, c, p_value = _mcnemar_result(own)
        right = ref.mcnemar(y_true, pred_a, pred_b)
        if (b, c) != right[:2] or not _same_p_value(p_value, right[2]):
            raise own.fail(f"b = {b}, c = {c}, p_value = {p_value:.6g}", f"b = {right[0]}, c = {right[1]}, p_value = {right[2]:.6g}",
                           cause="mcnemar() gave other numbers on these images than on the same kind of images before",
                           hint="the conclusion rests on mcnemar()'s numbers, so they must be right here too: the same inputs, the same answer")
        expected = ref.conclusion(b, c, p_value, alpha)
        r = student.call("compare_models", y_true, pred_a, pred_b, alpha=alpha, shown=shown, expect=repr(expected))
        value = r.value
        if value == expected:
            continue
        numbers = f"your mcnemar() gives b = {b}, c = {c} and p_value = {p_value:.4g}"
        if value not in ("A", "B", "neither"):
            cause = ""
        elif expected == "neither":
            cause = (f"{numbers}, not below alpha = {alpha}: the split is one two equally good models often give"
                     + (", so the smaller alpha asks for more evidence than these images hold" if alpha < 0.05 else ""))
        elif value == "neither":
            cause = f"{numbers}, below alpha = {alpha}: the difference is significant" + (
                " (was alpha ignored, and 0.05 or another level used instead?)" if p_value < 0.05 else "")
        else:
            cause = f"{numbers}: the model that got more of the disputed images right is {expected}, not {value}"
        raise r.fail(f"got {value!r}", repr(expected), cause=cause,
                     hint="decide with the p-value at the alpha you were given first, then name the model the disagreements favour",
                     contract="naming the model that got more of the images they disagree on right" if value in ("A", "B") and expected in ("A", "B") else "")
