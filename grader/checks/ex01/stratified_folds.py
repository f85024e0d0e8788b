"""ex01's checks of stratified_folds(), and their messages.

Every check judges the folds that come back by the docstring's promises, counted: no folds are dealt here, so
any way of keeping both promises earns the points (a deal in turn, a greedy fill, a search).
"""

import numpy as np

from grader.feedback import Opaque, describe
from grader.references import ex01_preprocessing as ref
from grader.scoring import depends_on


def _folds(student, labels, k, shown, seed=0, cached=True):
    """The call, and its folds once they are an integer array of one fold number per sample, 0..k-1."""
    r = student.call("stratified_folds", labels, shown=shown, expect=f"an int64 array of {len(labels)} fold numbers, 0..{k - 1}",
                     cached=cached, k=k, seed=seed)
    folds = r.value
    if not isinstance(folds, np.ndarray) or folds.ndim != 1 or len(folds) != len(labels):
        length = _sequence_length(folds)
        if length == len(labels):
            raise r.fail(f"got {describe(folds)}", cause="a Python list where the docstring asks for a NumPy array",
                         hint="return np.asarray(folds, dtype=np.int64)")
        cause = "one list of samples per fold rather than one fold number per sample" if length == k else ""
        raise r.fail(f"got {describe(folds)}", cause=cause, hint="return one fold number per sample: folds[i] is sample i's fold")
    if folds.dtype.kind not in "iu":
        raise r.fail(f"got an array of dtype {folds.dtype}", cause="fold numbers computed in floating point" if folds.dtype.kind == "f" else "",
                     hint="fold numbers are integers: build them as int64 (np.empty(N, dtype=np.int64), or .astype(np.int64))")
    if folds.min() < 0 or folds.max() >= k:
        numbered_from_one = folds.min() == 1 and folds.max() == k
        raise r.fail(f"got fold numbers from {folds.min()} to {folds.max()}",
                     cause="folds numbered 1..k, where Python counts from 0" if numbered_from_one else "",
                     hint=f"with k={k}, the folds are 0 to {k - 1}", contract="an int64 array of N fold numbers 0..k-1")
    return r, folds


def _sequence_length(value):
    """A returned list's or tuple's length (a long one crosses from the worker as an Opaque with its length), or None."""
    if isinstance(value, (list, tuple)):
        return len(value)
    if isinstance(value, Opaque) and value.description.endswith(("list", "tuple")):
        return value.length
    return None


def _even(counts, n, k) -> bool:
    """Whether counts that share out n over k folds are each floor(n / k) or ceil(n / k): both promises' test."""
    return counts.min() >= n // k and counts.max() <= -(-n // k)


def _allowed(n, k) -> str:
    """What _even allows, as a message says it."""
    return f"{n // k}" + (f" or {n // k + 1}" if n % k else "")


def _counts(labels, folds, k):
    """{label: its count in each fold}, the labels sorted."""
    return {int(c): np.bincount(folds[labels == c], minlength=k) for c in np.unique(labels)}


def _types_case(mnist):
    return mnist.y_train[:103].copy(), 5, "y_train[:103]"


def test_stratified_folds_types(student, mnist):
    labels, k, shown = _types_case(mnist)
    r, _ = _folds(student, labels, k, shown)
    (after,) = r.args_after
    if not np.array_equal(after, labels):
        raise r.fail("afterwards the caller's labels had changed", "the labels left untouched",
                     cause="sorting or shuffling the labels in place (labels.sort(), rng.shuffle(labels))",
                     hint="sort or shuffle indices, and leave the array you were given as it was",
                     contract="The input is not modified")


@depends_on(test_stratified_folds_types, earns="how each class spreads over the folds (once the folds come back as the docstring says)")
def test_stratified_folds_class_balance(student, mnist):
    for labels, k, shown in ref.fold_cases(mnist.y_train, student.folds_seed):
        r, folds = _folds(student, labels, k, shown)
        counts = _counts(labels, folds, k)
        for c, per_fold in counts.items():
            n = int(per_fold.sum())
            if _even(per_fold, n, k):
                continue
            sizes_kept = _even(np.bincount(folds, minlength=k), len(labels), k)
            rounds_kept = all(counted.min() >= counted.sum() // k for counted in counts.values())
            if rounds_kept:
                cause = (f"every class gave each fold at least floor(n / {k}) of its samples, but the leftover samples (n mod {k} "
                         f"of each class) were placed without regard to their class, and fold {int(np.argmax(per_fold))} got "
                         f"{int(per_fold.max()) - n // k} of digit {c}'s {n % k}")
            elif sizes_kept:
                cause = ("the folds were dealt without looking at the classes: every fold got its share of the samples, but how "
                         "a class spreads over them was left to chance")
            else:
                cause = "the samples were not dealt class by class"
            raise r.fail(
                f"digit {c}'s {n} samples fell {', '.join(map(str, per_fold))} into folds 0 to {k - 1}",
                f"{_allowed(n, k)} of them in every fold ({n} / {k} = {n / k:.4g})",
                cause=cause,
                hint="a fold's share of the whole set is not enough: count how each class spreads over your folds, and make "
                     "the count decide before the shuffle picks which samples",
                contract="a class with n samples has floor(n / k) or ceil(n / k) of them in every fold")


def _pile_up(counts, k):
    """Why the folds' sizes spread, from where each class's leftover samples (n mod k) went."""
    leftovers = {c: np.flatnonzero(per_fold > per_fold.sum() // k) for c, per_fold in counts.items()}
    piles = np.zeros(k, dtype=np.int64)
    for folds_given in leftovers.values():
        piles[folds_given] += 1
    from_zero = all(np.array_equal(given, np.arange(len(given))) for given in leftovers.values())
    where = (f"fold {int(np.argmax(piles))} got a leftover sample from {piles.max()} classes, fold {int(np.argmin(piles))} "
             f"from {piles.min()}")
    if from_zero:
        return (f"every class gave its leftover samples (n mod {k} of them) to the first folds, from fold 0 on: {where} "
                "(dealing each class afresh from fold 0 does this, and so does np.array_split of each class)")
    return (f"each class kept its own share, but the classes' leftover samples (n mod {k} of each) did not spread evenly: "
            f"{where}; each class placed its leftovers without regard to where the others' went")


@depends_on(test_stratified_folds_class_balance, earns="the folds' sizes (once every class keeps its share in every fold)")
def test_stratified_folds_fold_sizes(student, mnist):
    for labels, k, shown in ref.fold_cases(mnist.y_train, student.folds_seed):
        r, folds = _folds(student, labels, k, shown)
        sizes = np.bincount(folds, minlength=k)
        n = len(labels)
        if _even(sizes, n, k):
            continue
        raise r.fail(
            f"folds of {', '.join(map(str, sizes))} samples",
            f"{_allowed(n, k)} samples in every fold ({n} / {k} = {n / k:.4g}), "
            "with every class's share kept",
            cause=_pile_up(_counts(labels, folds, k), k),
            hint="both promises at once: a class's leftovers may go to any folds, so choose them with the other classes' in "
                 "mind. Work a case on paper first (three classes of 4 samples, k=3: where must the second class's leftover go, "
                 "given where the first one's went?), then count your folds on it",
            contract="every fold holds floor(N / k) or ceil(N / k) samples")


@depends_on(test_stratified_folds_types, earns="reproducibility")
def test_stratified_folds_reproducible(student, mnist):
    labels, k, shown = _types_case(mnist)
    _, first = _folds(student, labels, k, shown, seed=0)
    r, again = _folds(student, labels, k, shown, seed=0, cached=False)
    if not np.array_equal(first, again):
        raise r.fail("two calls with seed=0 gave different folds", "the same folds for the same seed",
                     cause="a random generator that ignores the seed (np.random.shuffle, np.random.permutation, default_rng())",
                     hint="create the generator from the argument: np.random.default_rng(seed)")
    r, other = _folds(student, labels, k, shown, seed=1)
    if np.array_equal(first, other):
        raise r.fail("seed=0 and seed=1 gave the same folds", "different seeds to shuffle differently",
                     cause="the folds were dealt in the samples' own order, without a shuffle, or the seed never reached the generator",
                     hint="let np.random.default_rng(seed) decide which samples of a class go to which fold",
                     contract="Which samples of a class go to which fold is the shuffle's choice")
    if _groups(first) == _groups(other):
        raise r.fail("seed=0 and seed=1 put the same samples together, only under other fold numbers",
                     "different seeds to put different samples together",
                     cause="the shuffle renamed the folds but did not decide which samples share one",
                     hint="let np.random.default_rng(seed) decide which samples of a class go to which fold, not only the folds' numbers",
                     contract="Which samples of a class go to which fold is the shuffle's choice")


def _groups(folds):
    """The folds as sets of samples, whatever their numbers."""
    return {frozenset(np.flatnonzero(folds == fold).tolist()) for fold in np.unique(folds)}


@depends_on(test_stratified_folds_types, earns="validating its input")
def test_stratified_folds_rejects_bad_input(student, mnist):
    labels = mnist.y_train[:12].copy()
    cases = [(labels, {"k": k}, "y_train[:12]", why) for k, why in ((1, "k=1 is no cross-validation"), (0, "k=0"),
                                                                     (13, "k=13 folds of 12 samples leaves one empty"),
                                                                     (2.5, "k=2.5 is not a whole number of folds"))]
    cases.append((labels.reshape(3, 4), {"k": 2}, "y_train[:12].reshape(3, 4) (not 1-D)", "labels of shape (3, 4)"))
    for y, kwargs, shown, why in cases:
        r = student.call("stratified_folds", y, shown=shown, expect=f"ValueError: {why}", **kwargs)
        r.expect_raises("ValueError", hint="validate first: labels.ndim == 1, and k an integer with 2 <= k <= N",
                        contract="Raises ValueError if `labels` is not 1-D, or if k is not an integer with 2 <= k <= N")
