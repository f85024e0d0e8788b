"""ex04's checks of most_confused_pairs(), and their messages."""

import numpy as np

from grader.feedback import describe
from grader.references import ex04_evaluation as ref  # the contracts' own computations and the inputs drawn for each file
from grader.scoring import depends_on
from grader.isolation.reply import Opaque
from grader.checks.ex04.common import _lit


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
    cm = ref.pairs_cm(student.input_seed)
    r, _ = _pairs_call(student, cm, "a random 10 x 10 confusion matrix drawn for your file", k=3)
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
    cm = ref.pairs_cm(student.input_seed)
    small = ref.SMALL_CM
    for matrix, shown, k in ((cm, "a random 10 x 10 confusion matrix drawn for your file", 5), (cm, "the same matrix", None), (small, _lit(small), 2)):
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


def _tied_pairs(seed):
    """Three mistakes of 4 and two of 2 under class labels drawn for the file, drawn again until ordering the
    ties by (predicted, true), or reversing them, gives another answer than the contract's (true, predicted)."""
    ties = np.array([[9, 0, 4, 0, 0], [4, 9, 0, 0, 0], [0, 0, 9, 0, 2], [0, 4, 0, 9, 0], [0, 0, 0, 2, 9]], dtype=np.int64)
    for attempt in range(100):
        cm = ref.relabelled_cm(ties, ref.class_relabelling(seed, 5, 5, attempt=attempt))
        cells = [(t, p, int(cm[t, p])) for t in range(5) for p in range(5) if t != p and cm[t, p]]
        contract = sorted(cells, key=lambda c: (-c[2], c[0], c[1]))
        if contract != sorted(cells, key=lambda c: (-c[2], c[1], c[0])) and contract != sorted(cells, key=lambda c: (-c[2], -c[0], -c[1])):
            return cm
    return ties  # the literal tells both apart; a hundred draws without one that does is not expected


def test_most_confused_pairs_ties_and_few(student):
    ties = _tied_pairs(student.input_seed)
    few = ref.relabelled_cm(np.array([[5, 0, 0, 2, 0], [0, 6, 0, 0, 0], [1, 0, 7, 0, 0], [0, 0, 0, 8, 0], [0, 0, 0, 0, 3]], dtype=np.int64),
                            ref.class_relabelling(student.input_seed, 6, 5))
    perfect = ref.relabelled_cm(np.diag([5, 3, 0, 4, 2]).astype(np.int64), ref.class_relabelling(student.input_seed, 7, 5))
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
    cm = ref.pairs_cm(student.input_seed)
    r, _ = _pairs_call(student, cm, "a random 10 x 10 confusion matrix drawn for your file", k=5)
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
