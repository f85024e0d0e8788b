"""ex04's checks of most_confused_pairs(), and their messages: a confusion is measured the variant's way
(course.toml: PAIRS, a word at the top of the file); a file that answers another variant's way fails with the
message that names both (grader/variants.py `told_apart`), and lesson 4's ranking by the count alone is named."""

import numpy as np

from grader import variants
from grader.feedback import describe
from grader.references import ex04_evaluation as ref  # the contracts' own computations and the inputs drawn for each file
from grader.scoring import depends_on
from grader.isolation.reply import Opaque
from grader.checks.ex04.common import _lit


# No 4 x 4 matrices here, and never exactly 16 non-zero cells: the worker sends a
# list of up to 16 items, but 16 three-tuples exceed what one result may hold, so
# a wrong answer of that length would read as a crash instead of being explained.

SHOWN_DRAWN = "a random 10 x 10 confusion matrix drawn for your file"

_MISMATCH_CAUSE = ("the word PAIRS at the top of your file is not your variant's (the file starts with the first "
                   "variant's), or rows and columns were read the other way round (rows are the true class), or the "
                   "file was written for another variant: a classmate's, or your own under another student id")


def _way(variant) -> str:
    return variant.params["pairs"] if variant else "of_true"


def _pairs_call(student, cm, shown, way, k=None):
    """(the call, the reference's pairs): None for an untouched stub, whose grading imports no pandas."""
    kwargs = {} if k is None else {"k": k}
    r = student.call("most_confused_pairs", cm, shown=shown, **kwargs)
    if r.not_started:
        return r, None
    expected = ref.most_confused_pairs(cm, 3 if k is None else k, way)
    r.expect = f"a list of {len(expected)} (i, j, count) tuples"
    return r, expected


def _as_pairs(r):
    """The returned pairs as a list of int triples, however they came; or a Feedback."""
    value = r.value
    if isinstance(value, Opaque) and (value.length or 0) > 16 and value.description.endswith(("list", "tuple")):
        raise r.fail(f"got {describe(value)}", cause="k was not applied: return at most k pairs", hint="slice the sorted list to its first k items")
    if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1:] == (3,):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise r.fail(f"got {describe(value)}", hint="build a list of (i, j, count) tuples")
    pairs = []
    for item in value:
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise r.fail(f"got an item that is {describe(item)}", "tuples of three numbers (i, j, count)")
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in item):
            raise r.fail(f"got the item {item!r}", "three integers (i, j, count)", hint="convert each number with int(...)")
        pairs.append(tuple(int(v) for v in item))
    return pairs


def _smallest_first(got, cm, way) -> bool:
    """The pairs come smallest first: the contract's list read from its other end, ties either way round."""
    every = ref.most_confused_pairs(cm, cm.size, way, sized=True)
    backwards = [pair[:3] for pair in reversed(every)]
    ascending = [pair[:3] for pair in sorted(every, key=lambda pair: (pair[3], pair[0], pair[1]))]
    return len(got) > 1 and got in (backwards[: len(got)], ascending[: len(got)])


def _show_pairs(pairs):
    return "[" + ", ".join(f"({t}, {p}, {c})" for t, p, c in pairs) + "]"


# The usual ways of measuring a confusion otherwise than the variant asks, each with its likely cause: lesson 4's
# count, a share over another total, and (both_ways) the two shares added or one class's images only.
_MISMEASURES = {
    "of_true": {"count": "ranked by the count alone, as lesson 4's list does: of_true measures a confusion by a share",
                "of_true_over_j": "each count divided by the images of the predicted class j, not of the true class i "
                                  "(a row of sums divides the columns when it is broadcast: cm / cm.sum(axis=1))",
                "of_true_mistakes": "a share of the class's mistakes, not of its images: the total left its diagonal out"},
    "of_predicted": {"count": "ranked by the count alone, as lesson 4's list does: of_predicted measures a confusion by a share",
                     "of_predicted_over_i": "each count divided by the answers i, not by the answers j it is a share of",
                     "of_predicted_mistakes": "a share of the wrong answers j, not of all of them: the total left its diagonal out"},
    "both_ways": {"both_ways_count": "ranked by the pair's count alone: both_ways measures it as a share of the two classes' images",
                  "count": "ranked by one cell's count, as lesson 4's list does: both_ways adds the two cells of a pair "
                           "and measures them as a share",
                  "both_ways_answers": "the share of the answers i and j, not of the images of classes i and j",
                  "both_ways_mistakes": "a share of the two classes' mistakes, not of their images: the totals left the diagonal out",
                  "both_ways_shares_added": "the two cells' shares added, each over its own class: a pair's share is both "
                                            "cells over both classes' images together",
                  "both_ways_one_class": "both cells over the images of class i alone, not of i and j together"},
}
_BY_HAND = "work the small matrix by hand first: write each confusion's size as your variant measures it, then rank them"


def _mismeasured(got, cm, k_used, way) -> str:
    """The likely cause where the pairs are a usual mistake's ranking (_MISMEASURES), or ""."""
    return next((said for mistake, said in _MISMEASURES[way].items() if got == ref.most_confused_pairs(cm, k_used, mistake)), "")


def _told_apart(r, got, cm, k_used, variant, student, where):
    """The Feedback naming both variants where the pairs are exactly another variant's, or None."""
    # every variant of another PAIRS that answers so, whatever its BINS: a classmate's file may differ in both
    other = variants.told_apart(student.exercise, variant, lambda v: got == ref.most_confused_pairs(cm, k_used, _way(v)), cause=_MISMATCH_CAUSE)
    return other(r, f"got {_show_pairs(got)}{where}") if other else None


def _rounded(got, cm, way) -> bool:
    """The pairs are the ranking of the shares rounded to a tenth of a percent or to a whole percent."""
    every = ref.most_confused_pairs(cm, cm.size, way, sized=True)
    return any(got == [pair[:3] for pair in sorted(every, key=lambda pair: (-round(float(pair[3]) * 100, digits), pair[0], pair[1]))][: len(got)]
               for digits in (1, 0))


def _explain(r, got, expected, cm, k_used, way, variant, student, situation="", drawn=False):
    """The Feedback for pairs that are not the contract's: the classic mistakes; another variant's answer on the
    matrix drawn for the file (which tells them all apart); equal sizes in another order, rounded shares and the usual
    mismeasures, in that order (a hand-made matrix may not tell them apart: where the sizes are right, the order of
    the ties is what is wrong); another variant's answer on a hand-made matrix; then the rest."""
    cause, hint = "", _BY_HAND
    where = f" ({situation})" if situation else ""
    sizes = ref.confusion_sizes(cm, way)
    ranked = all((i, j) in sizes and sizes[(i, j)][0] == c for i, j, c in got) and all(
        sizes[got[n][:2]][1] >= sizes[got[n + 1][:2]][1] for n in range(len(got) - 1))
    if any(i == j for i, j, _ in got):
        cause = "the diagonal was included: cm[i, i] counts correct answers, not confusions"
        hint = "leave the diagonal out, on a copy of cm"
    elif any(c == 0 for *_, c in got):
        cause = "pairs with a count of 0 were included"
        hint = "a cell with count 0 is no confusion: return fewer than k pairs rather than pad"
    elif way == "both_ways" and any(i > j for i, j, _ in got):
        cause = "a pair named with its larger class first: both_ways names the pair (i, j) with i < j"
        if len({frozenset((i, j)) for i, j, _ in got}) < len(got):
            cause = "a pair of classes listed twice, once each way round: both_ways counts the pair once, both cells together"
    elif len(got) > k_used:
        cause = f"k was not applied: {len(got)} pairs instead of at most {k_used}"
        hint = "slice the sorted list to its first k items"
    elif drawn and (other := _told_apart(r, got, cm, k_used, variant, student, where)):
        raise other
    elif ranked and [sizes[pair[:2]][1] for pair in got] == [sizes[pair[:2]][1] for pair in expected]:
        cause = ("the right sizes, but equal sizes in another order: ties are ordered by (i, j), smallest first, "
                 "and shares equal as fractions (3/10 and 9/30) are equal")
        hint = ("a stable sort keeps the order the cells came in; compute each share by one division of two integers "
                "(a product with a reciprocal can make equal fractions unequal floats)")
    elif _rounded(got, cm, way):
        cause = "shares rounded before they were ranked: two shares that round alike (43/300 and 1/7 both read 14.3%) are not equal"
        hint = "rank the shares as they are; round only what you print"
    elif said := _mismeasured(got, cm, k_used, way):
        cause = said
    elif not drawn and (other := _told_apart(r, got, cm, k_used, variant, student, where)):
        raise other  # a hand-made matrix may not tell a usual mistake from another variant: the mistake comes first
    elif _smallest_first(got, cm, way):
        cause = "sorted smallest first; the largest confusion comes first"
    elif len(got) < len(expected):
        cause = f"only {len(got)} pairs; there are at least {len(expected)} confusions to return"
    elif sorted(got) == sorted(expected):
        cause = "the right confusions ranked by another size than your variant's"
    raise r.fail(f"got {_show_pairs(got)}{where}", _show_pairs(expected), cause=cause, hint=hint)


def test_most_confused_pairs_types(student, variant):
    cm = ref.pairs_cm(student.input_seed)
    r, _ = _pairs_call(student, cm, SHOWN_DRAWN, _way(variant), k=3)
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
            raise r.fail(f"got an item that is {describe(item)}", "each item a tuple (i, j, count)", hint="make each item with (i, j, count)")
        if len(item) != 3:
            raise r.fail(f"got an item with {len(item)} values", "three values (i, j, count)")
        for v in item:
            if type(v) is not int:
                cause = "numpy integers (np.int64) from indexing an array" if isinstance(v, np.generic) else ""
                raise r.fail(f"got the item {item!r} holding {describe(v)}", "Python ints", cause=cause, hint="convert each number with int(...)")


# Two shares less than 0.05 percentage points apart (1/7 and 43/300), one matrix per variant, so that a share
# rounded before it is ranked, even to a tenth of a percent, ties where the contract does not; both_ways's also
# ranks otherwise by the two shares added.
_CLOSE = np.array([[6, 1, 0], [0, 257, 43], [0, 0, 9]], dtype=np.int64)
_CLOSE_BOTH_WAYS = np.array([[2, 1, 0, 0, 0], [0, 4, 0, 0, 0], [0, 0, 130, 20, 0], [0, 0, 23, 127, 0], [0, 0, 0, 0, 5]], dtype=np.int64)
CLOSE = {"of_true": _CLOSE, "of_predicted": _CLOSE.T.copy(), "both_ways": _CLOSE_BOTH_WAYS}


def _close_shares(seed, way):
    """The variant's close shares under class labels drawn for the file, drawn again until ranking the shares
    rounded to a tenth of a percent gives another answer than the contract's."""
    n = len(CLOSE[way])
    for attempt in range(100):
        cm = ref.relabelled_cm(CLOSE[way], ref.class_relabelling(seed, 8, n, attempt=attempt))
        if not _rounded(ref.most_confused_pairs(cm, 2, way), cm, way):
            return cm
    return CLOSE[way]


def test_most_confused_pairs_values(student, variant):
    way = _way(variant)
    cm = ref.pairs_cm(student.input_seed)
    small = ref.SMALL_CM
    close = _close_shares(student.input_seed, way)
    for matrix, shown, k in ((cm, SHOWN_DRAWN, 5), (cm, "the same matrix", None), (small, _lit(small), 3), (close, _lit(close), 2)):
        r, expected = _pairs_call(student, matrix, shown, way, k=k)
        got = _as_pairs(r)
        if got == expected:
            continue
        if k is None and len(got) != 3 and got[:3] == expected:
            raise r.fail(f"got {len(got)} pairs", "3, the default k", cause="the default k=3 was not kept")
        _explain(r, got, expected, matrix, 3 if k is None else k, way, variant, student, drawn=matrix is cm)


# Hand-made ties, one matrix per variant. Where the size is a share, the larger tie is reached by three different
# counts (3/10, 6/20 and 9/30), so that neither the count nor a share computed otherwise than by one division
# (3 * (1 / 10) is not the float 9 * (1 / 30) is) orders them.
_TIES = np.array([[7, 3, 0, 0, 0], [0, 14, 0, 6, 0], [9, 0, 21, 0, 0], [0, 0, 1, 8, 1], [0, 1, 0, 0, 9]], dtype=np.int64)
_TIES_BOTH_WAYS = np.array([[1, 2, 1, 0, 0, 0], [1, 4, 0, 1, 0, 0], [0, 0, 4, 4, 0, 0], [0, 0, 2, 10, 0, 0],
                            [0, 0, 0, 0, 9, 5], [0, 0, 0, 0, 4, 12]], dtype=np.int64)
TIES = {"of_true": _TIES, "of_predicted": _TIES.T.copy(), "both_ways": _TIES_BOTH_WAYS}


def _many_ties(way) -> np.ndarray:
    """Twenty confusions of one size and thirty of a smaller one, the two sizes interleaved row by row, each reached
    by counts of 1 to 20 (of_true's and of_predicted's), or 35 pairs of 1/60 and 10 of 1/120 over classes of 60 and
    120 images, reached by counts of 1 to 4 (both_ways's): more ties than the 16 below which NumPy's default sort
    happens to keep them in order, among values it has to move, and not in the order of their counts."""
    cm = np.zeros((10, 10), dtype=np.int64)
    if way == "both_ways":
        images = np.where(np.arange(10) % 2 == 0, 60, 120)
        for i in range(10):
            for j in range(i + 1, 10):
                both = (images[i] + images[j]) // 60 if (i % 2 != j % 2 or (i + j) % 4 == 0) else (images[i] + images[j]) // 120
                cm[i, j], cm[j, i] = (both - both // 2, both // 2) if (i + 2 * j) % 3 == 0 else (both, 0)
        cm[np.arange(10), np.arange(10)] = images - cm.sum(axis=1)
        return cm
    for i in range(10):
        for d in range(1, 6):
            cm[i, (i + d) % 10] = (i + 1) * (2 if d % 2 == 0 else 1)
        cm[i, i] = 13 * (i + 1)  # every class 20 (i + 1) images: confusions of 1/10 or 1/20 of their class
    return cm if way == "of_true" else cm.T.copy()


def _tied_pairs(seed, way):
    """The variant's ties under class labels drawn for the file, drawn again until ordering the ties by (j, i),
    reversing them, ordering them by their counts, or sizing them by a product with a reciprocal or by the count alone
    gives another answer than the contract's."""
    for attempt in range(100):
        cm = ref.relabelled_cm(TIES[way], ref.class_relabelling(seed, 5, len(TIES[way]), attempt=attempt))
        every = ref.most_confused_pairs(cm, 25, way, sized=True)
        contract = [pair[:3] for pair in every]
        by_j = [pair[:3] for pair in sorted(every, key=lambda pair: (-pair[3], pair[1], pair[0]))]
        reversed_ties = [pair[:3] for pair in sorted(every, key=lambda pair: (-pair[3], -pair[0], -pair[1]))]
        # count * (1 / total) in floats, total = count / size; stable, so float ties keep the contract's (i, j) order
        by_reciprocal = [pair[:3] for pair in sorted(every, key=lambda pair: -(pair[2] * (1 / int(pair[2] / pair[3]))))]
        by_count = ref.most_confused_pairs(cm, 25, "both_ways_count" if way == "both_ways" else "count")
        ties_by_count = [[pair[:3] for pair in sorted(every, key=lambda pair: (-pair[3], sign * pair[2]))] for sign in (1, -1)]
        if contract not in (by_j, reversed_ties, by_reciprocal, by_count, *ties_by_count):
            return cm
    return TIES[way]  # the literal tells them apart; a hundred draws without one that does is not expected


def test_most_confused_pairs_ties_and_few(student, variant):
    way = _way(variant)
    ties = _tied_pairs(student.input_seed, way)
    many = ref.relabelled_cm(_many_ties(way), ref.class_relabelling(student.input_seed, 9, 10))
    few = ref.relabelled_cm(np.array([[5, 0, 0, 2, 0], [0, 6, 0, 0, 0], [1, 0, 7, 0, 0], [0, 0, 0, 8, 0], [0, 0, 0, 0, 3]], dtype=np.int64),
                            ref.class_relabelling(student.input_seed, 6, 5))
    perfect = ref.relabelled_cm(np.diag([5, 3, 0, 4, 2]).astype(np.int64), ref.class_relabelling(student.input_seed, 7, 5))
    cases = [
        (ties, _lit(ties), 6, "equal sizes: ties are ordered by (i, j)"),
        (many, _lit(many), 15, "many confusions of equal size: ties are ordered by (i, j)"),
        (few, _lit(few), 5, "only two cells off the diagonal are non-zero, fewer than k"),
        (perfect, _lit(perfect), 3, "a perfect classifier: no confusions at all"),
    ]
    for cm, shown, k, situation in cases:
        r, expected = _pairs_call(student, cm, shown, way, k=k)
        got = _as_pairs(r)
        if got != expected:
            _explain(r, got, expected, cm, k, way, variant, student, situation)


@depends_on(test_most_confused_pairs_values, earns="validating its input")
def test_most_confused_pairs_leaves_input(student, variant):
    cm = ref.pairs_cm(student.input_seed)
    r, _ = _pairs_call(student, cm, SHOWN_DRAWN, _way(variant), k=5)
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
