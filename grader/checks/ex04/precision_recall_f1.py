"""ex04's checks of precision_recall_f1(), and their messages."""

import numpy as np

from grader.feedback import describe, short
from grader.references import ex04_evaluation as ref  # the contracts' own computations and the inputs drawn for each file
from grader.scoring import depends_on
from grader.checks.ex04.common import _lit


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
    cm = ref.random_cm(student.input_seed)
    r = _prf_call(student, cm, "a random 10 x 10 confusion matrix drawn for your file")
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


def _f_mistake(f, p, r) -> str:
    """The likely cause of an F1 that is not the contract's, from the classic mistakes."""
    with np.errstate(all="ignore"):
        if _close(f, (p + r) / 2):
            return "the plain average (p + r) / 2; F1 is the harmonic mean"
        if _close(f, p * r / np.where(p + r > 0, p + r, 1)):
            return "the factor 2 is missing: f1 = 2 * p * r / (p + r)"
    return ""


def _check_prf(r, cm, situation=""):
    """Compare the three results with the reference, explaining classic mistakes."""
    k = len(cm)
    precision, recall, f1 = (p.astype(np.float64) for p in _prf_parts(r, k))
    want_p, want_r, want_f = ref.precision_recall_f1(cm)
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
        p, q = f"{want_p[c]:g}", f"{want_r[c]:g}"
        raise r.fail(
            f"got f1[{c}] = {f1[c]:g}{where}",
            f"{want_f[c]:g} (2 * {p} * {q} / ({p} + {q}))",
            cause=_f_mistake(f1, want_p, want_r),
            hint="F1 is the harmonic mean of precision and recall: the mean of their reciprocals, inverted",
        )


def test_precision_recall_f1_values(student):
    for cm, shown in ((ref.random_cm(student.input_seed), "a random 10 x 10 confusion matrix drawn for your file"), (ref.SMALL_CM, _lit(ref.SMALL_CM))):
        _check_prf(_prf_call(student, cm, shown), cm)


def test_precision_recall_f1_empty_classes(student):
    # The situations under class labels drawn for each file (ref.class_relabelling)
    empty_classes = ref.relabelled_cm(ref.EMPTY_CLASSES, ref.class_relabelling(student.input_seed, 3, 5))
    relabelling = ref.class_relabelling(student.input_seed, 4, 3)
    perfect = ref.relabelled_cm(np.diag([5, 3, 0]).astype(np.int64), relabelling)
    right, never = sorted(relabelling[:2]), relabelling[2]
    cases = [
        (empty_classes, _lit(empty_classes), "classes that never occur, are never predicted, or are never right"),
        (perfect, _lit(perfect), f"a perfect classifier on classes {right[0]} and {right[1]}; class {never} never occurs"),
        (np.zeros((10, 10), dtype=np.int64), "np.zeros((10, 10), dtype=np.int64)", "no samples at all"),
    ]
    for cm, shown, situation in cases:
        r = _prf_call(student, cm, shown)
        _check_prf(r, cm, situation)
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
