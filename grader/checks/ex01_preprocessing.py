"""Exercise 01 · Preprocessing MNIST: the graded checks.

Each test is one check; its points, function, hints and lesson section live in
course.toml under the same name (without "test_"). Every check calls the
student's code through `student.call` (a child process) and judges the plain
data that comes back against the contract in the exercise's docstrings.
"""

import numpy as np
import pytest

from grader.feedback import describe, short
from grader.references import ex01_preprocessing as ref  # standardize()'s inputs and scikit-learn's answer
from grader.scoring import depends_on


# ---------------------------------------------------------------- normalize


def _normalized(student, mnist):
    x = mnist.x_train[:5]
    r = student.call("normalize", x, shown="x_train[:5]", expect="a float32 array of shape (5, 28, 28) in [0, 1]")
    return x, r


def test_normalize_shape_dtype(student, mnist):
    x, r = _normalized(student, mnist)
    out = r.array()
    if out.shape != x.shape:
        raise r.fail(
            f"got shape {out.shape}",
            cause="a reshape or flatten inside normalize()" if out.size == x.size else "",
            hint="scaling changes the values only; keep the shape",
        )
    if out.dtype != np.float32:
        if out.dtype == np.float64:
            cause = "numpy turns uint8 / 255 into float64 unless told otherwise"
        elif out.dtype.kind in "ui":
            cause = "the pixels were never converted to floats (or // was used)"
        else:
            cause = ""
        raise r.fail(f"got dtype {out.dtype}", cause=cause, hint="convert with .astype(np.float32)")


def _normalize_dim_batch(student, mnist):
    """The contract's look-alike: a batch whose brightest pixel is below 255 tells dividing
    by 255 from dividing by the batch's own maximum (both agree on a batch that reaches 255)."""
    dim = mnist.x_train[:5] // 2  # brightest pixel 127
    r = student.call("normalize", dim, shown="x_train[:5] // 2 (a dim batch: its brightest pixel is 127)",
                     expect="a float32 array of shape (5, 28, 28), each pixel / 255 (so at most 127/255 ≈ 0.498)")
    out = r.array()
    expected = dim.astype(np.float64) / 255
    if out.shape == dim.shape and np.allclose(out.astype(np.float64), expected, atol=1e-6):
        return
    top = float(out.max()) if out.size else 0.0
    raise r.fail(
        f"got values up to {top:g}",
        f"values up to {expected.max():g} (127 / 255)",
        cause="the pixels were divided by the batch's brightest pixel (or stretched to fill [0, 1]) rather than by 255"
        if np.isclose(top, 1.0) else "a scaling that depends on the batch rather than on the pixel's fixed range 0..255",
        hint="divide every pixel by 255, whatever the batch holds: a dim image must stay dim",
    )


def test_normalize_values(student, mnist):
    x, r = _normalized(student, mnist)
    out = r.array()
    if out.shape != x.shape:
        raise r.fail(f"got shape {out.shape}, so the values cannot be compared")
    out = out.astype(np.float64)
    expected = x.astype(np.float64) / 255
    if np.allclose(out, expected, atol=1e-6):
        _normalize_dim_batch(student, mnist)
        return
    top = float(out.max())
    if top > 1.5:
        raise r.fail(
            f"got values up to {top:g}",
            "values in [0, 1]",
            cause="the pixels were not divided by 255",
            hint="convert to float32 and divide every pixel by 255",
        )
    if 0 < top <= 1 / 200:
        raise r.fail(
            f"got values up to {top:.5f}",
            "values up to 1.0",
            cause="the pixels were scaled twice (divided by 255 two times)",
            hint="divide by 255 once, in one place",
        )
    if np.allclose(out, x / 256, atol=1e-6):
        raise r.fail(
            "got pixel / 256", "pixel / 255", cause="the wrong divisor: 255 is the largest uint8 value", hint="divide by 255, so that white becomes exactly 1.0"
        )
    if top == 0:
        raise r.fail(
            "got all zeros",
            cause="integer division (//), or dividing before converting to float",
            hint="convert with .astype(np.float32) first, then divide by 255",
        )
    where = tuple(int(i) for i in np.argwhere(~np.isclose(out, expected, atol=1e-6))[0])
    raise r.fail(
        f"got {out[where]:g} at index {where}",
        f"{expected[where]:g} (pixel {x[where]} / 255)",
        cause="a transformation beyond scaling (clipping, rounding, standardizing with the mean)",
        hint="normalize only divides each pixel by 255",
    )


@depends_on(test_normalize_values)
def test_normalize_leaves_input(student, mnist):
    x, r = _normalized(student, mnist)
    (after,) = r.args_after
    if not np.array_equal(after, x):
        raise r.fail(
            "afterwards the caller's array had changed",
            "the input left untouched",
            cause="an in-place operation on the input (images /= 255, images[...] = ...)",
            hint="build a new array: converting the dtype with astype makes a copy, while writing into images changes the caller's data",
            contract="the input is not modified",
        )


@depends_on(test_normalize_values)
def test_normalize_rejects_non_uint8(student, mnist):
    x = mnist.x_train[:5]
    for bad, shown in (
        (x.astype(np.float32) / 255, "x_train[:5].astype('float32') / 255 (already scaled)"),
        (x.astype(np.int64) * 257, "x_train[:5].astype('int64') * 257 (int64, values up to 65535)"),
    ):
        r = student.call("normalize", bad, shown=shown, expect="ValueError: only uint8 pixels may be normalized")
        r.expect_raises(
            "ValueError",
            hint="check images.dtype == np.uint8 first; normalizing twice is a classic silent bug",
            contract="Raises ValueError if `images` is not uint8 (this catches scaling twice)",
        )


# ---------------------------------------------------------------- add_channel_axis


def test_add_channel_axis_shape_values(student, mnist):
    # The contract is any (N, H, W): a batch of 5×7 images tells it from a reshape to (-1, 28, 28, 1).
    small = np.arange(70, dtype=np.int16).reshape(2, 5, 7)
    for x, shown in ((mnist.x_train[:5], "x_train[:5]"), (mnist.x_train[:3].astype(np.float32) / 255, "x_train[:3] as float32 in [0, 1]"),
                     (small, "np.arange(70, dtype=np.int16).reshape(2, 5, 7) (two 5×7 images)")):
        expected = x[..., np.newaxis]
        r = student.call("add_channel_axis", x, shown=shown, expect=f"a {x.dtype} array of shape {expected.shape}")
        out = r.array()
        if out.shape != expected.shape:
            n = len(x)
            if out.shape == (n, 1, 28, 28):
                cause = "the channel axis went first (channels-first); Keras expects it last"
            elif out.shape == x.shape:
                cause = "no axis was added"
            elif x.shape[1:] != (28, 28):
                cause = "a shape written for MNIST's 28×28 images rather than read from the input's own (N, H, W)"
            else:
                cause = ""
            raise r.fail(f"got shape {out.shape}", cause=cause, hint="np.expand_dims adds an axis where you say; -1 means at the end")
        if out.dtype != x.dtype:
            raise r.fail(f"got dtype {out.dtype}", cause="a conversion that the task does not ask for", hint="adding an axis never needs astype")
        if not np.array_equal(out, expected):
            raise r.fail("got the right shape but different values", cause="the pixels were reordered or changed")


@depends_on(test_add_channel_axis_shape_values)
def test_add_channel_axis_rejects_wrong_rank(student, mnist):
    x = mnist.x_train[:5]
    for bad, shown in ((x[0], "x_train[0] (one image, shape (28, 28))"), (x[..., np.newaxis], "an array that already has the axis, shape (5, 28, 28, 1)")):
        r = student.call("add_channel_axis", bad, shown=shown, expect="ValueError: the input must have rank 3 (N, H, W)")
        r.expect_raises(
            "ValueError",
            hint="check images.ndim == 3 before adding the axis",
            contract="Raises ValueError if `images` is not rank 3 (a single image, or images that already have a channel axis)",
        )


# ---------------------------------------------------------------- one_hot


def test_one_hot_shape_dtype(student, mnist):
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


def test_one_hot_values(student, mnist):
    _one_hot_values_case(student, mnist.y_train[:8], 10)
    _one_hot_values_case(student, np.array([2, 0, 1, 1, 2]), 3)
    _one_hot_values_case(student, np.array([0, 1, 2]), 10)  # the default width, with labels that never reach 9


@depends_on(test_one_hot_values)
def test_one_hot_rejects_bad_labels(student, mnist):
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


@depends_on(test_one_hot_values)
def test_one_hot_rejects_wrong_rank(student, mnist):
    already = np.eye(10, dtype=np.int64)[[3, 0]]
    r = student.call(
        "one_hot", already, shown="an already one-hot (2, 10) array", expect="ValueError: labels must be 1-D"
    )
    r.expect_raises(
        "ValueError", hint="check labels.ndim == 1; encoding twice is a classic silent bug", contract="Raises ValueError if `labels` is not 1-D"
    )


# ---------------------------------------------------------------- train_val_split


def _indexed(mnist, n):
    """n real digits whose two top-left pixels (always 0 in MNIST) encode their index."""
    images = mnist.x_train[:n].copy()
    images[:, 0, 0] = np.arange(n) // 256
    images[:, 0, 1] = np.arange(n) % 256
    return images, mnist.y_train[:n].copy()


def _index_of(images):
    return images[:, 0, 0].astype(np.int64) * 256 + images[:, 0, 1]


def _split(student, mnist, n=250, val_fraction=0.2, seed=0, cached=True):
    images, labels = _indexed(mnist, n)
    r = student.call(
        "train_val_split",
        images,
        labels,
        shown=f"x_train[:{n}], y_train[:{n}]",
        expect=f"(x_train, y_train, x_val, y_val) with {n - round(n * val_fraction)} training and {round(n * val_fraction)} validation samples",
        cached=cached,
        val_fraction=val_fraction,
        seed=seed,
    )
    value = r.value
    if not isinstance(value, (tuple, list)) or len(value) != 4:
        raise r.fail(f"got {describe(value)}", hint="return x_train, y_train, x_val, y_val")
    parts = []
    for name, part in zip(("x_train", "y_train", "x_val", "y_val"), value):
        if not isinstance(part, np.ndarray) or part.ndim == 0:
            raise r.fail(f"{name} is not a numpy array", hint="index the input arrays to build each part")
        parts.append(part)
    return images, labels, r, parts


def test_train_val_split_sizes(student, mnist):
    # 99 * 0.2 = 19.8: round() gives 20, int() 19, so the contract's rounding shows.
    for n, fraction in ((250, 0.2), (101, 0.25), (99, 0.2)):
        _, _, r, (xt, yt, xv, yv) = _split(student, mnist, n, fraction)
        n_val = round(n * fraction)
        got = (len(xt), len(yt), len(xv), len(yv))
        if got == (n - n_val, n - n_val, n_val, n_val) and xt.shape[1:] == (28, 28):
            continue
        cause = "the parts were not sized from round(N * val_fraction)"
        if got == (n_val, n_val, n - n_val, n - n_val):
            cause = "the two parts are swapped: the validation part is the small one"
        elif abs(len(xv) - n * fraction) < 1:
            cause = f"rounding: the contract asks for round({n} * {fraction}) = {n_val} validation samples"
        raise r.fail(
            f"got part lengths x_train={got[0]}, y_train={got[1]}, x_val={got[2]}, y_val={got[3]}",
            f"{n - n_val}, {n - n_val}, {n_val}, {n_val}",
            cause=cause,
            hint=f"round(N × val_fraction) = {n_val} samples for validation, the remaining {n - n_val} for training",
        )


def test_train_val_split_partition(student, mnist):
    images, labels, r, (xt, yt, xv, yv) = _split(student, mnist)
    if xt.shape[1:] != (28, 28) or xv.shape[1:] != (28, 28) or len(xt) != len(yt) or len(xv) != len(yv):
        raise r.fail(f"got parts of shapes {xt.shape}, {yt.shape}, {xv.shape}, {yv.shape}", hint="return x_train, y_train, x_val, y_val")
    it, iv = _index_of(xt), _index_of(xv)
    everything = np.concatenate([it, iv])
    if everything.max(initial=0) >= len(images) or not np.array_equal(np.concatenate([xt, xv]), images[everything]):
        raise r.fail("some returned images are not images of the input", cause="the images were modified or mixed up while splitting")
    if len(np.intersect1d(it, iv)):
        raise r.fail(
            f"{len(np.intersect1d(it, iv))} samples appear in both parts",
            "disjoint parts",
            cause="the two index sets overlap",
            hint="slice one permutation into two non-overlapping pieces",
        )
    if len(np.unique(everything)) != len(everything) or len(everything) != len(images):
        raise r.fail(
            f"the parts hold {len(np.unique(everything))} distinct samples of {len(images)} (with {len(everything) - len(np.unique(everything))} repeats)",
            "every sample exactly once",
            cause="sampling with replacement (rng.choice without replace=False, or rng.integers)",
            hint="use rng.permutation(len(images))",
        )
    if not (np.array_equal(yt, labels[it]) and np.array_equal(yv, labels[iv])):
        raise r.fail(
            "some images came back with another image's label",
            "each image paired with its own label",
            cause="images and labels were shuffled separately",
            hint="shuffle one index array and use it for both images and labels",
        )


def test_train_val_split_reproducible(student, mnist):
    first = _split(student, mnist, seed=0)
    again = _split(student, mnist, seed=0, cached=False)
    other = _split(student, mnist, seed=1)
    r = again[2]
    order = lambda split: np.concatenate([_index_of(split[3][0]), _index_of(split[3][2])])  # noqa: E731
    if not np.array_equal(order(first), order(again)):
        raise r.fail(
            "two calls with seed=0 gave different splits",
            "the same split for the same seed",
            cause="a random generator that ignores the seed (np.random.shuffle, np.random.permutation, default_rng())",
            hint="create the generator from the argument: np.random.default_rng(seed)",
        )
    if np.array_equal(order(first), order(other)):
        raise r.fail("seed=0 and seed=1 gave the same split", "different seeds to shuffle differently", cause="the seed is not passed to the generator")
    val = np.sort(_index_of(first[3][2]))
    n = len(first[0])
    if np.array_equal(val, np.arange(len(val))) or np.array_equal(val, np.arange(n - len(val), n)):
        raise r.fail(
            "the validation part is a contiguous slice of the input",
            "a shuffled split",
            cause="the data was sliced without shuffling",
            hint="permute the indices first: rng.permutation(len(images))",
        )


@depends_on(test_train_val_split_partition)
def test_train_val_split_leaves_input(student, mnist):
    images, labels, r, _ = _split(student, mnist)
    after_images, after_labels = r.args_after
    if not (np.array_equal(after_images, images) and np.array_equal(after_labels, labels)):
        raise r.fail(
            "afterwards the caller's images or labels had changed",
            "the inputs left untouched",
            cause="shuffling in place (rng.shuffle(images) reorders the caller's array)",
            hint="shuffle indices and index the arrays: images[order] is a new array",
            contract="the inputs are not modified",
        )


@depends_on(test_train_val_split_partition)
def test_train_val_split_rejects_bad_input(student, mnist):
    images, labels = _indexed(mnist, 20)
    cases = [
        (images, labels, {"val_fraction": fraction}, "x_train[:20], y_train[:20]") for fraction in (0.0, 1.0, 1.5, -0.2)
    ] + [
        (images, labels[:-1], {"val_fraction": 0.25}, "x_train[:20], y_train[:19] (one label short)"),
        (images[:5], labels[:5], {"val_fraction": 0.05}, "x_train[:5], y_train[:5] (round(5 * 0.05) = 0)"),
        (images[:5], labels[:5], {"val_fraction": 0.95}, "x_train[:5], y_train[:5] (round(5 * 0.95) = 5)"),
    ]
    for x, y, kwargs, shown in cases:
        r = student.call("train_val_split", x, y, shown=shown, expect="ValueError", **kwargs)
        r.expect_raises(
            "ValueError",
            hint="validate first: equal lengths, 0 < val_fraction < 1, and neither part empty",
            contract="Raises ValueError if the lengths differ, if val_fraction is not strictly between 0 and 1, or if either part would be empty",
        )


# ---------------------------------------------------------------- standardize
# Against scikit-learn's StandardScaler, fitted on the training images (grader/references/ex01_preprocessing.py).

_STANDARDIZE_TOL = 1e-4  # relative, and absolute near 0: float32 results, up to some hundreds at rarely inked pixels
# The draw of standardize()'s images (grader/draws.py): another purpose would draw every submission new ones.
STANDARDIZE_PURPOSE = "ex01 standardize's images"


@pytest.fixture(scope="module", autouse=True)
def _standardize_seed(student, settings):
    """The seed of standardize()'s images: from the file's bytes and the run's draw key, read before any
    of its code runs, so that a file cannot hold answers worked out at home for fixed images."""
    student.standardize_seed = settings.draw(STANDARDIZE_PURPOSE, student.source_bytes())
    yield


def _standardized(student, mnist):
    """standardize() on the file's drawn images: (its call, train, other, what it returned in float64, the
    constant position), or the Feedback that says why it returned no two arrays of their shapes."""
    train, other, shown_train, shown_other, at = ref.inputs(mnist, student.standardize_seed)
    r = student.call("standardize", train, other, shown=f"train_images = {shown_train}, other_images = {shown_other}",
                     expect=f"(train_out, other_out): float32 arrays of shapes {train.shape} and {other.shape}, each pixel "
                     "position mapped as the training images' statistics say")
    value = r.value
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise r.fail(f"got {describe(value)}", cause="" if value is not None else "a missing `return`", hint="return train_out, other_out")
    for name, part, given in (("train_out", value[0], train), ("other_out", value[1], other)):
        if not isinstance(part, np.ndarray) or part.dtype.kind not in "biuf":
            raise r.fail(f"{name} is {describe(part)}", f"an array of shape {given.shape}", hint="return numpy arrays")
        if part.shape != given.shape:
            raise r.fail(f"{name} has shape {part.shape}", f"shape {given.shape}, the shape of its input",
                         cause="the images flattened for the statistics and not shaped back" if part.size == given.size else "",
                         hint="standardising changes the values only: reshape back to the input's shape if you flattened")
    return r, train, other, [np.asarray(v, np.float64) for v in value], at


def _close(got, want) -> bool:
    return np.allclose(got, want, rtol=_STANDARDIZE_TOL, atol=_STANDARDIZE_TOL)


def _standardize_cause(got: list[np.ndarray], train, other) -> tuple[str, str]:
    """(likely cause, hint) for a standardize() that returned `got`: a classic mistake's answer, compared
    where neither array is constant (where each mistake divides by a spread of its own)."""
    where = (slice(None), ~ref.constant_positions(train) & ~ref.constant_positions(other))
    says = {
        "leaked": ("the statistics were computed on the training images and other_images together: the images the model "
                   "meets later moved the map it is trained with (a leak), so validation and test scores are no longer honest",
                   "compute the mean and the standard deviation on train_images alone, then apply the same map to both arrays"),
        "own_statistics": ("other_images were standardised with their own statistics: the model then sees them through "
                           "another map than the one it was trained with", "apply the training images' a and b to other_images"),
        "one_mean": ("one mean and one standard deviation for every pixel, as lesson 1's Normalization(axis=None) does; "
                     "the contract asks for them per position", "take the mean and standard deviation over the images (axis 0)"),
        "sample_std": ("the sample standard deviation (dividing by N - 1); the contract asks for the population's (dividing by N)",
                       "np.std's default, ddof=0, divides by N"),
    }
    for name, answer in ref.mistakes(train, other).items():
        if _close(got[0][where], answer[0][where]) and _close(got[1][where], answer[1][where]):
            return says[name]
    hint = "for each pixel position: a is its mean over train_images and b its standard deviation there"
    if np.allclose(got[0][where].std(axis=0), train[where].std(axis=0), rtol=1e-3, atol=1e-6):
        return "the values shifted but not divided: their spread over the training images is still the images' own", hint
    return "a and b are not each position's mean and standard deviation over train_images", hint


def test_standardize_train_moments(student, mnist):
    r, train, other, got, _ = _standardized(student, mnist)
    varies = ~ref.constant_positions(train)
    mean, std = got[0].mean(axis=0), got[0].std(axis=0)
    if not (np.allclose(mean[varies], 0, atol=1e-3) and np.allclose(std[varies], 1, atol=1e-3)):
        wrong = varies & ~(np.isclose(mean, 0, atol=1e-3) & np.isclose(std, 1, atol=1e-3))
        i = tuple(int(v) for v in np.argwhere(wrong)[0])
        spread, right = train.std(axis=0), varies & ~wrong
        # a threshold on the spread: the least varying positions only centred, every other one right
        if (right.any() and spread[wrong].max() < spread[right].min()
                and np.allclose(got[0][:, wrong], (train - train.mean(axis=0))[:, wrong], atol=_STANDARDIZE_TOL)):
            cause = (f"positions that vary a little over the training images (a standard deviation of {spread[wrong].min():.2g} at "
                     "the least) taken for constant ones: a threshold on the spread; only a position that is the same in every "
                     "training image has none")
            hint = "give b = 1 only where every training image holds the same value at that position"
        else:
            cause, hint = _standardize_cause(got, train, other)
        raise r.fail(f"over the training images, train_out at position {i} has mean {mean[i]:.4g} and standard deviation {std[i]:.4g}",
                     "mean 0 and standard deviation 1 at every position that varies over train_images",
                     cause=cause, hint=hint, contract="the one under which that position has mean 0 and standard deviation 1 "
                     "(the population's, dividing by N) over train_images")
    if r.value[0].dtype != np.float32 or r.value[1].dtype != np.float32:
        raise r.fail(f"got dtypes {r.value[0].dtype} and {r.value[1].dtype}", "float32 arrays",
                     cause="NumPy computes in float64 unless told otherwise", hint="convert both results with .astype(np.float32)")


def test_standardize_applies_the_training_map(student, mnist):
    r, train, other, got, _ = _standardized(student, mnist)
    want = ref.standardized(train, other)
    varies = ~ref.constant_positions(train)
    if _close(got[1][:, varies], want[1][:, varies]):
        return
    cause, hint = _standardize_cause(got, train, other)
    n, *i = (int(v) for v in np.argwhere(varies & ~np.isclose(got[1], want[1], rtol=_STANDARDIZE_TOL, atol=_STANDARDIZE_TOL))[0])
    raise r.fail(f"other_out[{n}, {i[0]}, {i[1]}] = {got[1][n, i[0], i[1]]:.5g}",
                 f"{want[1][n, i[0], i[1]]:.5g}: other_images[{n}, {i[0]}, {i[1]}] through the map of position ({i[0]}, {i[1]}) "
                 "that standardises the training images there", cause=cause, hint=hint,
                 contract="Each pixel position is transformed by one affine map, value -> (value - a) / b with b > 0, the same for both arrays")


def test_standardize_constant_positions(student, mnist):
    r, train, other, got, at = _standardized(student, mnist)
    want = ref.standardized(train, other)
    constant = ref.constant_positions(train)
    spread = got[0][:, ~constant].std(axis=0)
    if not np.allclose(spread, 1, atol=0.01):  # a shift alone, or no map at all, would pass what follows
        raise r.fail(f"over the training images, train_out's standard deviation ranges from {spread.min():.4g} to {spread.max():.4g} "
                     "at the positions that vary", "about 1 at every position that varies: this check counts for a standardisation",
                     cause=_standardize_cause(got, train, other)[0],
                     hint="divide each position that varies by its standard deviation over train_images; constant positions by 1")
    if _close(got[0][:, constant], want[0][:, constant]) and _close(got[1][:, constant], want[1][:, constant]):
        return
    seen = f"train_out[0, {at[0]}, {at[1]}] = {got[0][(0, *at)]:.5g}, other_out[0, {at[0]}, {at[1]}] = {got[1][(0, *at)]:.5g}"
    if not (np.isfinite(got[0]).all() and np.isfinite(got[1]).all()):
        cause = "a division by a standard deviation of 0: a position that never changes over the training images has no spread"
    elif np.allclose(got[1][:, constant], 0):
        cause = "the constant positions set to 0 in other_out too; their map only shifts: other_images' values there minus a"
    elif np.abs(got[1][:, constant]).max() > 1e3:
        cause = "a tiny number added to every standard deviation (std + 1e-8): at a constant position it divides by almost 0"
    else:  # the map is wrong everywhere, not only here: the same cause as the other checks'
        cause = "" if _close(got[1][:, ~constant], want[1][:, ~constant]) else _standardize_cause(got, train, other)[0]
    raise r.fail(f"{seen} (pixel {at} is {ref.CONSTANT} in every training image; the MNIST border, 0)",
                 f"train_out 0 there, and other_out = other_images' value there minus {ref.CONSTANT} "
                 f"({want[1][(0, *at)]:.5g} for the first image)",
                 cause=cause, hint="where the standard deviation over train_images is 0, divide by 1 instead",
                 contract="A position whose value is the same in every training image (an MNIST border pixel, say) has no "
                 "spread to divide by: train_out is 0 there whatever b is, and its b is the one that keeps other_images' "
                 "differences from that value as they are")


@depends_on(test_standardize_applies_the_training_map)
def test_standardize_leaves_input(student, mnist):
    r, train, other, *_ = _standardized(student, mnist)
    for after, given, name in zip(r.args_after, (train, other), ("train_images", "other_images")):
        if not np.array_equal(after, given):
            raise r.fail(f"afterwards the caller's {name} had changed", "the inputs left untouched",
                         cause="an in-place operation on the input (images -= mean, images /= std)",
                         hint="compute new arrays: images - mean makes one, images -= mean changes the caller's data",
                         contract="The inputs are not modified")


@depends_on(test_standardize_applies_the_training_map)
def test_standardize_rejects_bad_input(student, mnist):
    train, other, *_ = ref.inputs(mnist, student.standardize_seed)
    for t, o, shown in ((train[:1], other, "train_images of 1 image"),
                        (train, other[:, :27], "other_images of 28 x 27 pixels, train_images of 28 x 28"),
                        (train, other[0], "other_images of shape (28, 28): one image without its batch axis"),
                        (train, other[:, :, :1], "other_images of 28 x 1 pixels, which NumPy would broadcast against 28 x 28")):
        r = student.call("standardize", t, o, shown=shown, expect=f"ValueError ({shown})")
        r.expect_raises("ValueError", hint="check the arguments first and raise ValueError saying what is wrong",
                        contract="Raises ValueError if train_images holds fewer than 2 images, or if the two arrays' images differ in shape")
