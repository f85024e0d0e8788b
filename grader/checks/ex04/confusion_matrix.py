"""ex04's checks of confusion_matrix(), and their messages (collected by grader/checks/ex04_evaluation.py)."""

import numpy as np

from grader.references import ex04_evaluation as ref  # the contracts' own computations and the inputs drawn for each file
from grader.scoring import depends_on
from grader.checks.ex04.common import _lit


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


def _cm_cases(student):
    y_true, y_pred = ref.random_labels(student.input_seed)
    small_true = np.array([0, 1, 1, 2, 3, 3, 3, 0, 2, 1, 1, 3])
    small_pred = np.array([0, 1, 2, 2, 3, 0, 3, 1, 2, 1, 1, 3])
    return [
        (y_true, y_pred, 10, "y_true, y_pred (300 random labels 0..9 drawn for your file, 70% predicted right)"),
        (small_true, small_pred, 4, f"{_lit(small_true)}, {_lit(small_pred)}"),
    ]


def test_confusion_matrix_shape_dtype(student):
    for y_true, y_pred, num_classes, shown in _cm_cases(student):
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
    y_true, y_pred = ref.random_labels(student.input_seed)
    uint8 = (y_true.astype(np.uint8), y_pred.astype(np.uint8), 10,
             "the same 300 labels as uint8 arrays (the dtype of MNIST's own labels)")
    for y_true, y_pred, num_classes, shown in [*_cm_cases(student), uint8]:
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
    # One class is predicted but never true, class 5 neither true nor predicted, and the largest label seen
    # (4) is not num_classes - 1; then one class alone, never 9. Classes and order drawn for each file (ref).
    relabelling = ref.class_relabelling(student.input_seed, 1, 6, keep=(5,))
    order = ref.sample_order(student.input_seed, 1, 10)
    y_true = relabelling[np.array([0, 0, 1, 1, 2, 2, 4, 4, 0, 1])][order]
    y_pred = relabelling[np.array([0, 3, 1, 1, 2, 0, 4, 1, 0, 2])][order]
    alone = int(ref.class_relabelling(student.input_seed, 2, 10, keep=(9,))[2])
    one = np.array([alone] * 3)
    empty = np.array([], dtype=np.int64)
    cases = [
        (y_true, y_pred, 6, f"{_lit(y_true)}, {_lit(y_pred)}", f"class {relabelling[3]} never occurs, class 5 never occurs and is never predicted"),
        (one, one, 10, f"{_lit(one)}, {_lit(one)}", f"only class {alone} occurs"),
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
    y_true, y_pred = ref.random_labels(student.input_seed, n=20)
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
