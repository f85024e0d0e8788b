"""ex01's check of one_hot(), and its messages: one point for the whole contract (shape and dtype, the
values, then the refusals of a bad label and of a wrong rank)."""

import numpy as np

from grader.feedback import short


def _shape_dtype(student, mnist):
    labels = mnist.y_train[:8]
    r = student.call("one_hot", labels, shown=f"np.array({labels.tolist()})", expect="a float32 array of shape (8, 10)")
    out = r.array()
    if out.shape != (8, 10):
        cause = "num_classes was not used for the width" if out.ndim == 2 and len(out) == 8 else ""
        raise r.fail(f"got shape {out.shape}", cause=cause, hint="one row per label, one column per class")
    if out.dtype != np.float32:
        cause = "np.eye() and np.zeros() make float64 unless given dtype=np.float32" if out.dtype == np.float64 else ""
        raise r.fail(f"got dtype {out.dtype}", cause=cause, hint="pass dtype=np.float32 or convert with .astype(np.float32)")


def _one_hot_values_case(student, labels, num_classes):
    kwargs = {} if num_classes == 10 else {"num_classes": num_classes}
    expected = np.eye(num_classes)[labels]
    r = student.call(
        "one_hot", labels, shown=f"np.array({labels.tolist()})", expect=f"an array of shape {expected.shape}", **kwargs
    )
    out = r.array()
    if out.shape != expected.shape:
        cause = "num_classes was ignored (a hard-coded 10?)" if num_classes != 10 and out.shape[-1:] == (10,) else ""
        if out.ndim == 2 and out.shape[1] == labels.max() + 1 != num_classes:
            cause = ("the width was taken from the labels (their largest + 1) instead of num_classes, as "
                     "keras.utils.to_categorical(labels) does without num_classes: a batch without a 9 gets 9 columns")
        raise r.fail(f"got shape {out.shape}", cause=cause, hint="make the rows num_classes wide: np.eye(num_classes)")
    if np.allclose(out, expected):
        return
    row = int(np.argwhere(~np.isclose(out, expected).all(axis=1))[0][0])
    hot = np.flatnonzero(out[row] == 1)
    cause = "the 1.0 was not put at the label's index"
    if len(hot) == 1 and abs(int(hot[0]) - int(labels[row])) == 1:
        cause = "an off-by-one when indexing (labels start at 0)"
    elif not np.isclose(out[row].sum(), 1):
        cause = f"row {row} sums to {out[row].sum():g}, not 1"
    raise r.fail(
        f"got row {row} = {short(out[row])}",
        f"a single 1 at index {labels[row]}",
        cause=cause,
        hint="row i is all zeros except column labels[i]",
    )


def _values(student, mnist):
    _one_hot_values_case(student, mnist.y_train[:8], 10)
    _one_hot_values_case(student, np.array([2, 0, 1, 1, 2]), 3)
    _one_hot_values_case(student, np.array([0, 1, 2]), 10)  # the default width, with labels that never reach 9


def _rejects_bad_labels(student, mnist):
    for labels, first_bad in ((np.array([3, 12, 0, -1]), "12"), (np.array([-1, 2]), "-1"), (np.array([0, 10]), "10")):
        r = student.call(
            "one_hot", labels, shown=f"np.array({labels.tolist()})", expect=f"ValueError naming the first bad label, {first_bad}"
        )
        r.expect_raises(
            "ValueError",
            mentions=first_bad,
            hint="check 0 <= label < num_classes for every label before encoding; negative labels would silently index from the end",
            contract="for a label outside 0..num_classes-1; the message names the first bad label",
        )


def _rejects_wrong_rank(student, mnist):
    already = np.eye(10, dtype=np.int64)[[3, 0]]
    r = student.call(
        "one_hot", already, shown="an already one-hot (2, 10) array", expect="ValueError: labels must be 1-D"
    )
    r.expect_raises(
        "ValueError", hint="check labels.ndim == 1; encoding twice is a classic silent bug", contract="Raises ValueError if `labels` is not 1-D"
    )


def test_one_hot_values(student, mnist):
    for part in (_shape_dtype, _values, _rejects_bad_labels, _rejects_wrong_rank):
        part(student, mnist)
