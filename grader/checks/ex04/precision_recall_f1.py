"""ex04's checks of precision_recall_f1(), and their messages: the F score is the variant's (BETA)."""

import numpy as np

from grader import variants
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
        # Another variant's F score, or a mistake in this variant's formula that gives it (BETA**2 on recall
        # turns F2 into F0.5 exactly): where a usual mistake explains it too, the message names both.
        mistake = _f_mistake(f1, want_p, want_r, beta)
        if student is not None and (other := variants.told_apart(
                student.exercise, variant, lambda v: _close(f1, ref.precision_recall_f1(cm, _beta(v))[2]),
                cause=f"{mistake}; or {_MISMATCH_CAUSE}" if mistake else _MISMATCH_CAUSE)):
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
    for cm, shown in ((ref.random_cm(student.input_seed), "a random 10 x 10 confusion matrix drawn for your file"), (ref.SMALL_CM, _lit(ref.SMALL_CM))):
        _check_prf(_prf_call(student, cm, shown), cm, student=student, variant=variant)


def test_precision_recall_f1_empty_classes(student, variant):
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
