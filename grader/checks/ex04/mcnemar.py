"""ex04's checks of mcnemar(), and their messages: the counts are drawn for each file
(`student.input_seed`, set by grader/checks/ex04_evaluation.py before any of its code runs).
"""

import numpy as np

from grader.feedback import describe
from grader.references import ex04_evaluation as ref  # the contracts' own computations and the inputs drawn for each file
from grader.scoring import depends_on


def _pairs(student, purpose: str, counts):
    """Labels and two models' predictions with the disagreements `counts` = (b, c, both right, both wrong),
    shuffled with the file's own draw."""
    rng = np.random.default_rng([student.input_seed, sum(map(ord, purpose))])
    return ref.paired_predictions(rng, *counts)


def _drawn_counts(student, purpose: str, wanted):
    """(b, c) drawn for the file until `wanted(b, c, p)` holds, deterministically: from 5 each, at most 1,000
    together (where 2 ** (b + c) still fits a float: exactness at scale is mcnemar_large_counts' question), so
    that a file would need the p-values of some 240,000 pairs, over 1 MB at the precision the checks ask, to
    look them up instead of computing them (an adversarial review fitted 5 to 399 each in 0.8 MB; an exercise
    file holds at most 256 KB)."""
    rng = np.random.default_rng([student.input_seed, sum(map(ord, purpose)), 1])
    while True:
        b, c = (int(v) for v in rng.integers(5, 996, 2))
        if b + c <= 1000 and wanted(b, c, ref.exact_p_value(b, c)):
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
    rng = np.random.default_rng([student.input_seed, 2])
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
