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


def _explain(r, got, expected, cm, k_used, way, variant, student, situation=""):
    """The Feedback for pairs that are not the contract's: the classic mistakes first, then another variant's answer."""
    cause, hint = "", "work the small matrix by hand first: write each confusion's size as your variant measures it, then rank them"
    where = f" ({situation})" if situation else ""
    if any(i == j for i, j, _ in got):
        cause = "the diagonal was included: cm[i, i] counts correct answers, not confusions"
        hint = "leave the diagonal out, on a copy of cm"
    elif any(c == 0 for *_, c in got):
        cause = "pairs with a count of 0 were included"
        hint = "a cell with count 0 is no confusion: return fewer than k pairs rather than pad"
    elif len(got) > len(expected):
        cause = f"k was not applied: {len(got)} pairs instead of at most {k_used}"
        hint = "slice the sorted list to its first k items"
    elif way == "both_ways" and any(i > j for i, j, _ in got):
        cause = "a pair named with its larger class first: both_ways names the pair (i, j) with i < j"
        if len({frozenset((i, j)) for i, j, _ in got}) < len(got):
            cause = "a pair of classes listed twice, once each way round: both_ways counts the pair once, both cells together"
    elif (other := variants.told_apart(student.exercise, variant, lambda v: got == ref.most_confused_pairs(cm, k_used, _way(v)),
                                       cause=_MISMATCH_CAUSE)) is not None:
        raise other(r, f"got {_show_pairs(got)}{where}")
    elif got == ref.most_confused_pairs(cm, k_used, "count"):
        cause = "ranked by the count alone, as lesson 4's list does: your variant measures a confusion otherwise"
        hint = "read the docstring's PAIRS again and write down, for your variant, the size of one confusion (i, j) of the small matrix"
    elif _smallest_first(got, cm, way):
        cause = "sorted smallest first; the largest confusion comes first"
    elif len(got) < len(expected):
        cause = f"only {len(got)} pairs; there are at least {len(expected)} confusions to return"
    elif sorted(got) == sorted(expected):
        cause = ("the right pairs in the wrong order among equal sizes: ties are ordered by (i, j), smallest first, "
                 "and shares equal as fractions (2/10 and 1/5) are equal")
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


def test_most_confused_pairs_values(student, variant):
    way = _way(variant)
    cm = ref.pairs_cm(student.input_seed)
    small = ref.SMALL_CM
    for matrix, shown, k in ((cm, SHOWN_DRAWN, 5), (cm, "the same matrix", None), (small, _lit(small), 3)):
        r, expected = _pairs_call(student, matrix, shown, way, k=k)
        got = _as_pairs(r)
        if got == expected:
            continue
        if k is None and len(got) != 3 and got[:3] == expected:
            raise r.fail(f"got {len(got)} pairs", "3, the default k", cause="the default k=3 was not kept")
        _explain(r, got, expected, matrix, 3 if k is None else k, way, variant, student)


# Hand-made ties, one matrix per variant: three confusions of one size and three of another. Where the size is a
# share, the larger tie is reached by three different counts (3/10, 6/20 and 9/30), so that neither the count nor a
# share computed otherwise than by one division (3 * (1 / 10) is not the float 9 * (1 / 30) is) orders them.
_TIES = np.array([[7, 3, 0, 0, 0], [0, 14, 0, 6, 0], [9, 0, 21, 0, 0], [0, 0, 1, 8, 1], [0, 1, 0, 0, 9]], dtype=np.int64)
_TIES_BOTH_WAYS = np.array([[9, 3, 0, 1, 0], [1, 9, 0, 0, 4], [0, 0, 9, 2, 2], [1, 0, 2, 9, 0], [0, 0, 0, 0, 9]], dtype=np.int64)
TIES = {"of_true": _TIES, "of_predicted": _TIES.T.copy(), "both_ways": _TIES_BOTH_WAYS}


def _tied_pairs(seed, way):
    """The variant's ties under class labels drawn for the file, drawn again until ordering the ties by (j, i),
    reversing them, or (for a share) sizing them by a product with a reciprocal or by the count alone gives another
    answer than the contract's."""
    for attempt in range(100):
        cm = ref.relabelled_cm(TIES[way], ref.class_relabelling(seed, 5, 5, attempt=attempt))
        every = ref.most_confused_pairs(cm, 25, way, sized=True)
        contract = [pair[:3] for pair in every]
        by_j = [pair[:3] for pair in sorted(every, key=lambda pair: (-pair[3], pair[1], pair[0]))]
        reversed_ties = [pair[:3] for pair in sorted(every, key=lambda pair: (-pair[3], -pair[0], -pair[1]))]
        # count * (1 / total) in floats, total = count / size; stable, so float ties keep the contract's (i, j) order
        by_reciprocal = [pair[:3] for pair in sorted(every, key=lambda pair: -(pair[2] * (1 / int(pair[2] / pair[3]))))]
        by_count = ref.most_confused_pairs(cm, 25, "count")
        if contract not in (by_j, reversed_ties) and (way == "both_ways" or contract not in (by_reciprocal, by_count)):
            return cm
    return TIES[way]  # the literal tells them apart; a hundred draws without one that does is not expected


def test_most_confused_pairs_ties_and_few(student, variant):
    way = _way(variant)
    ties = _tied_pairs(student.input_seed, way)
    few = ref.relabelled_cm(np.array([[5, 0, 0, 2, 0], [0, 6, 0, 0, 0], [1, 0, 7, 0, 0], [0, 0, 0, 8, 0], [0, 0, 0, 0, 3]], dtype=np.int64),
                            ref.class_relabelling(student.input_seed, 6, 5))
    perfect = ref.relabelled_cm(np.diag([5, 3, 0, 4, 2]).astype(np.int64), ref.class_relabelling(student.input_seed, 7, 5))
    cases = [
        (ties, 6, "equal sizes: ties are ordered by (i, j)"),
        (few, 5, "only two cells off the diagonal are non-zero, fewer than k"),
        (perfect, 3, "a perfect classifier: no confusions at all"),
    ]
    for cm, k, situation in cases:
        r, expected = _pairs_call(student, cm, _lit(cm), way, k=k)
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
