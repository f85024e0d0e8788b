"""Exercise 01's references, apart from its checks (grader/checks/ex01/, collected by grader/checks/ex01_preprocessing.py): the images
standardize() is called with, its answer as scikit-learn's StandardScaler computes it (fitted on the
training images, then applied to both arrays: a mean and a population standard deviation per
position, and a scale of 1 where a position is constant), and the classic mistakes' answers that
name a likely cause. scikit-learn, so that pasted into the exercise file it earns nothing: ex01's
worker refuses it (course.toml's `by_hand`). And train_val_split()'s labelled sets for its class counts
(`class_count_cases`) and stratified_folds()'s (`fold_cases`), drawn for each file: no split is made and no
fold dealt here, so nothing of it answers either function."""

from __future__ import annotations

import functools

import numpy as np

# a constant position that is not 0 (the MNIST border's are): standardize() must shift it, never scale it;
# a binary fraction, so that its mean over the images is exact and its standard deviation exactly 0
CONSTANT = 0.75
NUDGE = 2.0 ** -10


def inputs(mnist, seed: int) -> tuple[np.ndarray, np.ndarray, str, str]:
    """(train, other, how each reads in a message), drawn from `seed` (a seed drawn for each file at
    grading time, so that no answer can be worked out at home and stored): 300 training images in
    [0, 1] with two positions, on the digits' side of the border, constant in all of them (one at
    CONSTANT, one at a level k / 255 not exact in binary) and one nearly so, and 60 test images on
    grey paper (paper + (1 - paper) * pixel, paper between 0.15 and 0.3), brighter than anything the
    training images hold, as real photos are, so that statistics that took them in move a long way."""
    rng = np.random.default_rng(seed)
    train = mnist.x_train[np.sort(rng.choice(len(mnist.x_train), 300, replace=False))].astype(np.float64) / 255
    at = (int(rng.integers(4, 24)), int(rng.integers(4, 24)))
    train[(slice(None), *at)] = CONSTANT
    # and one that barely varies: CONSTANT but in two images, NUDGE above and below it (a standard deviation of
    # about 8e-5, exact in float32 too), which standardize() must still scale to 1: a threshold on the spread
    # (std < 1e-4) takes it for constant (an adversarial review)
    near = next(p for p in ((int(rng.integers(4, 24)), int(rng.integers(4, 24))) for _ in range(100)) if p != at)
    train[(slice(None), *near)] = CONSTANT
    up, down = rng.choice(len(train), 2, replace=False)
    train[(up, *near)], train[(down, *near)] = CONSTANT + NUDGE, CONSTANT - NUDGE
    paper = float(rng.uniform(0.15, 0.3))
    other = paper + (1 - paper) * mnist.x_test[np.sort(rng.choice(len(mnist.x_test), 60, replace=False))].astype(np.float64) / 255
    # and a constant position whose value is a scaled pixel, k / 255, not exact in binary: its mean comes out a
    # rounding error off the value, and its computed standard deviation a rounding error above 0 (about 1e-16), so
    # code that finds constant positions by `std == 0` divides that error by itself there and returns -1 or 1 for 0
    # (the contract's "the same in every training image" is about the values; an issue's look-alike)
    inexact = next(p for p in ((int(rng.integers(4, 24)), int(rng.integers(4, 24))) for _ in range(100)) if p not in (at, near))
    k = int(rng.choice(_inexact_levels(len(train))))
    train[(slice(None), *inexact)] = k / 255
    return (train, other, f"300 training images / 255, drawn for this grading, with pixel {at} set to {CONSTANT} and pixel "
            f"{inexact} to {k}/255 in every one, "
            f"and pixel {near} set to {CONSTANT} in all but two ({CONSTANT} + 1/1024 in one, {CONSTANT} - 1/1024 in the other)",
            f"60 test images drawn for this grading, on grey paper ({paper:.3f} + {1 - paper:.3f} * pixel / 255: brighter than the "
            "training images)")


@functools.cache
def _inexact_levels(n: int) -> tuple[int, ...]:
    """The levels k (1..254) whose k / 255, in `n` images, has a standard deviation above 0 however it is usually
    computed: so that `std == 0` is caught on every file, whichever way the student wrote it (97 of the 254)."""
    return tuple(k for k in range(1, 255) if _spread_is_a_rounding_error(k / 255, n))


def _spread_is_a_rounding_error(value: float, n: int) -> bool:
    """Whether `n` copies of `value` have a standard deviation above 0 as each usual way computes it: NumPy over
    an axis of images or along one position's column, in float64 and float32, and Python's own sums."""
    images = np.full((n, 2, 2), value)
    spreads = [images.std(axis=0)[1, 1], images.astype(np.float32).std(axis=0)[1, 1], np.std(images[:, 1, 1]),
               np.std(images[:, 1, 1].astype(np.float32))]
    mean = sum([value] * n) / n
    spreads.append((sum([(value - mean) ** 2] * n) / n) ** 0.5)
    return all(spread != 0 for spread in spreads)


def named(value: float) -> str:
    """A constant position's value as ref.inputs wrote it: CONSTANT, the border's 0, or k/255."""
    return str(value) if value in (CONSTANT, 0.0) else f"{round(value * 255)}/255"


def _scaler(fitted_on: np.ndarray):
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit(fitted_on.reshape(len(fitted_on), -1))


def _applied(scaler, images: np.ndarray) -> np.ndarray:
    return scaler.transform(images.reshape(len(images), -1)).reshape(images.shape)


def standardized(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What standardize() returns, in float64: StandardScaler fitted on `train`, applied to both."""
    scaler = _scaler(train)
    return _applied(scaler, train), _applied(scaler, other)


def constant_positions(train: np.ndarray) -> np.ndarray:
    """The positions where every training image holds the same value."""
    return (train == train[:1]).all(axis=0)


def mistakes(train: np.ndarray, other: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The classic mistakes' (train_out, other_out), by name."""
    both = np.concatenate([train, other])
    leaked = _scaler(both)
    right_train, right_other = standardized(train, other)
    n = len(train)
    return {
        "leaked": (_applied(leaked, train), _applied(leaked, other)),
        "own_statistics": (right_train, _applied(_scaler(other), other)),
        "one_mean": ((train - train.mean()) / train.std(), (other - train.mean()) / train.std()),
        "sample_std": (right_train * np.sqrt((n - 1) / n), right_other * np.sqrt((n - 1) / n)),
    }


# ---- train_val_split()'s class counts: the labelled sets it is called with, drawn for each file. No split is made
# here, and no rule is applied: the check (checks/ex01/train_val_split.py) judges the counts that come back by their
# properties. Every fraction is a power-of-two one, so that each n * val_fraction and its fractional part are exact in
# floating point, and no two correct ways of computing them can disagree.

# A tie the leftovers must split: `high` classes whose fractional part is 0.75, `tied` classes whose part is 0.25, and
# at most two with none. Their parts add up to 0.75 * high + 0.25 * tied (never a half, which round() would take to
# the even number), so the leftovers number more than `high` and fewer than `high + tied`: some of the tied classes
# get one and some do not, and only the tie rule says which.
SPLIT_TIES = ((0, 5), (1, 4), (1, 5), (2, 5), (0, 7), (2, 6))  # (high, tied)


def class_count_cases(labels: np.ndarray, seed: int) -> list[tuple[np.ndarray, float, str]]:
    """Two sets for train_val_split()'s class counts, drawn from `seed`, each as (indices of the training images
    `labels` belongs to, val_fraction, how the call reads in a message):
    1. a made-up set of 5 to 10 digits in blocks, at a val_fraction of 0.25 or 0.75, whose leftover samples must
       split a tie of fractional parts (SPLIT_TIES). The tie's smallest labels are the ones the rule gives a
       leftover; the tie's blocks come largest label first, and its sizes are drawn until those smallest labels
       are neither its largest nor its smallest classes: ties broken by first appearance or by size fail;
    2. 150 to 400 consecutive training images, at a val_fraction of k / 64 with k odd: ten classes whose
       fractional parts are multiples of 1/64, so only their exact order decides where the leftovers go."""
    rng = np.random.default_rng(seed)
    fraction = float(rng.choice([0.25, 0.75]))
    high, tied = SPLIT_TIES[int(rng.integers(len(SPLIT_TIES)))]
    zero = int(rng.integers(0, min(2, 10 - high - tied) + 1))
    won = round(0.75 * high + 0.25 * tied) - high  # how many of the tie get a leftover: its `won` smallest labels
    # n mod 4 gives the part: at 0.25, 3 -> 0.75 and 1 -> 0.25; at 0.75, 1 -> 0.75 and 3 -> 0.25
    high_rest, tie_rest = (3, 1) if fraction == 0.25 else (1, 3)
    digits = rng.choice(10, size=high + tied + zero, replace=False)
    tie_digits = np.sort(digits[high:high + tied])
    while True:  # distinct sizes for the tie, its winners neither its largest nor its smallest `won`
        steps = rng.choice(7, size=tied, replace=False)
        by_size = list(np.argsort(steps))
        if set(by_size[:won]) != set(range(won)) and set(by_size[-won:]) != set(range(won)):
            break
    size = {int(d): 4 * int(q) + tie_rest for d, q in zip(tie_digits, steps)}
    size.update({int(d): 4 * int(rng.integers(0, 7)) + high_rest for d in digits[:high]})
    size.update({int(d): 4 * int(rng.integers(1, 7)) for d in digits[high + tied:]})
    order = [int(d) for d in rng.permutation(digits)]
    tie_set = set(tie_digits.tolist())
    tie_places = [i for i, d in enumerate(order) if d in tie_set]
    for place, digit in zip(tie_places, sorted(tie_digits.tolist(), reverse=True)):
        order[place] = digit
    picked = np.concatenate([np.flatnonzero(labels == d)[:size[d]] for d in order])
    made_up = (picked, fraction, f"{len(picked)} real digits drawn for this grading: "
               + ", ".join(f"{size[d]} of digit {d}" for d in order) + ", in that order")
    n = int(rng.integers(150, 401))
    start = int(rng.integers(0, len(labels) - n))
    consecutive = (np.arange(start, start + n), int(rng.choice(np.arange(9, 56, 2))) / 64,
                   f"x_train[{start}:{start + n}], y_train[{start}:{start + n}]")
    return [made_up, consecutive]


# ---- stratified_folds(): the labelled sets it is called with, drawn for each file. No folds are dealt here: the check
# (checks/ex01/stratified_folds.py) judges the folds that come back by the docstring's two promises, counted.

def leftover_piles(sizes: dict[int, int], k: int, folds_of) -> np.ndarray:
    """How many leftover samples (n mod k of a class of n) each fold gets when each class hands its leftovers to the
    folds `folds_of(label, rank, n mod k)` names, each class placing its own without regard to the others'."""
    piles = np.zeros(k, dtype=np.int64)
    for rank, label in enumerate(sorted(sizes)):
        piles[np.asarray(folds_of(label, rank, sizes[label] % k), dtype=np.int64) % k] += 1
    return piles


def near_misses(k: int) -> dict[str, object]:
    """The classic near-misses, as where each class's leftovers go (for leftover_piles): from fold 0 on (dealing
    each class afresh, or np.array_split of each class); from a fold of the class's own, its label or its rank;
    and alternately from fold 0 up and from fold k-1 down (a reviewer's, which passed one draw in twelve of a
    single made-up set)."""
    up = lambda first, r: first + np.arange(r)  # noqa: E731
    return {
        "from fold 0": lambda label, rank, r: up(0, r),
        "from the label's fold": lambda label, rank, r: up(label, r),
        "from the rank's fold": lambda label, rank, r: up(rank, r),
        "up and down in turn": lambda label, rank, r: up(0, r) if rank % 2 == 0 else k - 1 - np.arange(r),
    }


def _piled_up(sizes: dict[int, int], k: int) -> bool:
    """Whether every near-miss leaves two folds more than one leftover apart."""
    return all(np.ptp(leftover_piles(sizes, k, folds_of)) > 1 for folds_of in near_misses(k).values())


def _made_up(rng: np.random.Generator) -> tuple[np.ndarray, int, str]:
    k = int(rng.integers(3, 7))
    digits = [int(d) for d in rng.choice(10, size=int(rng.integers(8, 11)), replace=False)]
    while True:
        sizes = {d: int(rng.integers(2 * k, 6 * k)) for d in digits}
        sizes[digits[0]] = int(rng.integers(1, k))
        if _piled_up(sizes, k):
            break
    made_up = rng.permutation(np.concatenate([np.full(n, d) for d, n in sizes.items()]))
    return made_up, k, (f"{len(made_up)} labels drawn for this grading, in a shuffled order: "
                        + ", ".join(f"{sizes[d]} of digit {d}" for d in sorted(sizes)))


def fold_cases(labels: np.ndarray, seed: int) -> list[tuple[np.ndarray, int, str]]:
    """Three labelled sets for stratified_folds(), drawn from `seed`, each as (labels, k, how the call reads):
    1-2. two made-up sets of 8 to 10 digits, k from 3 to 6, each digit's count drawn (one digit with fewer than k
       samples, so that it is absent from some folds) until every near-miss puts two folds more than one leftover
       apart, the labels in a shuffled order (labels in blocks would let a deal that ignores the classes keep them
       by accident). Two, so that a way of placing leftovers that no near-miss names, random starts say, has to be
       lucky twice;
    3. 150 to 400 consecutive training labels (MNIST's own order, already mixed), k from 3 to 10."""
    rng = np.random.default_rng(seed)
    made_up = [_made_up(rng), _made_up(rng)]
    n = int(rng.integers(150, 401))
    start = int(rng.integers(0, len(labels) - n))
    real_k = int(rng.integers(3, 11))
    return [*made_up, (labels[start:start + n].copy(), real_k, f"y_train[{start}:{start + n}]")]
