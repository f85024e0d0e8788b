"""ex04's checks of most_confident_mistakes(), and their messages."""

import numpy as np

from grader.feedback import describe, short
from grader.references import ex04_evaluation as ref  # the contracts' own computations and the inputs drawn for each file
from grader.scoring import depends_on
from grader.checks.ex04.common import _lit


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
    if got == ref.most_confident_mistakes(*ref.last_of_equal(probs, y_true), k):
        cause = "where two classes share a row's largest probability, the prediction was taken as the last of them; it is the first"
        hint = "np.argmax gives the first of equal values, the contract's prediction; the last of them (a loop with >=, the reversed row's argmax) is not"
    elif any(not 0 <= i < len(probs) for i in got):
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
    probs, y_true = ref.mistake_probs(student.input_seed)
    r, _ = _mistakes_call(student, probs, y_true, ref.MISTAKES_SHOWN, k=10)
    out = r.array("a 1-D int64 array of indices")
    if out.ndim != 1:
        raise r.fail(f"got shape {out.shape}", "a 1-D array of indices", hint="np.flatnonzero gives a flat array of indices")
    if out.dtype != np.int64:
        cause = "values taken from probs (floats) rather than positions" if out.dtype.kind == "f" else (
            "an integer type of another size" if out.dtype.kind in "iu" else "")
        raise r.fail(f"got dtype {out.dtype}", "dtype int64", cause=cause, hint="convert with .astype(np.int64)")


def test_most_confident_mistakes_values(student):
    probs, y_true = ref.mistake_probs(student.input_seed)
    for k, shown in ((10, ref.MISTAKES_SHOWN), (None, "the same probs and y_true, k left at its default")):
        r, expected = _mistakes_call(student, probs, y_true, shown, k=k)
        got = _as_indices(r)
        if got == expected:
            continue
        if k is None and len(got) != 24 and got == ref.most_confident_mistakes(probs, y_true, len(got)):
            raise r.fail(f"got {len(got)} indices", "24 (the default k)", cause="the default k=24 was not kept", contract="k: how many indices to return")
        _mistakes_mismatch(r, got, expected, probs, y_true, 24 if k is None else k)


def test_most_confident_mistakes_ties_and_few(student):
    # Three rows are wrong with the same confidence 0.7, one is wrong and surer; one row alone is wrong in few_true.
    # The rows' order and the classes are drawn for each file (ref.sample_order, ref.class_relabelling). Last, rows
    # whose largest probability two classes share: a prediction taken as the last of them changes which are mistakes.
    order, classes = ref.sample_order(student.input_seed, 8, 6), ref.class_relabelling(student.input_seed, 8, 3)
    ties = np.array([[0.1, 0.9, 0.0], [0.7, 0.3, 0.0], [0.2, 0.8, 0.0], [0.3, 0.0, 0.7], [0.0, 0.7, 0.3], [0.6, 0.4, 0.0]])
    ties[:, classes] = ties.copy()
    ties = ties[order]
    ties_true = classes[np.array([0, 1, 1, 0, 2, 0])][order]
    few_true = classes[np.array([1, 0, 0, 2, 1, 0])][order]
    perfect_true = ties.argmax(axis=1)
    many, many_true = ref.tied_mistakes(student.input_seed)
    cases = [
        (ties, ties_true, 4, "three mistakes share the confidence 0.7: equal confidences are ordered by index",
         "a stable sort of -confidence keeps index order among ties; reversing an ascending sort reverses them"),
        (many, many_true, 30, f"{int((many.argmax(axis=1) != many_true).sum())} mistakes sharing four confidence levels: "
         "equal confidences are ordered by index",
         "np.argsort's default sort is not stable once there are more than 16 values, so ties come out in any order: "
         "ask for kind=\"stable\" (lesson 4, 'Misclassified digits')"),
        (ties, few_true, 3, "only one image is wrong, fewer than k", "return the mistakes there are, never pad"),
        (ties, perfect_true, 3, "a perfect model: no mistakes at all", "with no mistakes the array is empty (shape (0,))"),
        (*ref.shared_top_probs(student.input_seed), 24, "most rows' largest probability shared by two classes: the prediction is the first of them",
         "np.argmax gives the first of equal values, the contract's prediction"),
    ]
    for probs, y_true, k, situation, hint in cases:
        shown = f"probs={_lit(probs)}, y_true={_lit(y_true)}" if len(probs) <= 8 else (
            f"probs, y_true ({len(probs)} rows over {probs.shape[1]} classes drawn for your file, {situation.split(':')[0]})")
        r, expected = _mistakes_call(student, probs, y_true, shown, k=k)
        got = _as_indices(r)
        if got != expected:
            _mistakes_mismatch(r, got, expected, probs, y_true, k, situation, hint)


@depends_on(test_most_confident_mistakes_values, earns="leaving its inputs alone")
def test_most_confident_mistakes_leaves_input(student):
    probs, y_true = ref.mistake_probs(student.input_seed)
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
    probs, y_true = ref.mistake_probs(student.input_seed, n=12)
    contract = ("Raises ValueError if probs is not a 2-D float array, if y_true is not a 1-D integer array of the same "
                "length, if a label is outside 0..K-1, or if k < 1")
    out_of_range, negative = y_true.copy(), y_true.copy()
    out_of_range[3], negative[5] = 10, -1
    shown = "12 softmax rows drawn for your file"
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
