"""ex01's checks of standardize(), and their messages: against scikit-learn's StandardScaler, fitted on the
training images (grader/references/ex01_preprocessing.py), on images drawn for each file
(`student.standardize_seed`, set by grader/checks/ex01_preprocessing.py).
"""

import numpy as np

from grader.feedback import describe
from grader.references import ex01_preprocessing as ref  # standardize()'s inputs and scikit-learn's answer
from grader.scoring import depends_on


# Against scikit-learn's StandardScaler, fitted on the training images (grader/references/ex01_preprocessing.py).

_STANDARDIZE_TOL = 1e-4  # relative, and absolute near 0: float32 results, up to some hundreds at rarely inked pixels


def _standardized(student, mnist):
    """standardize() on the file's drawn images: (its call, train, other, what it returned in float64), or
    the Feedback that says why it returned no two arrays of their shapes."""
    train, other, shown_train, shown_other = ref.inputs(mnist, student.standardize_seed)
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
    return r, train, other, [np.asarray(v, np.float64) for v in value]


def _near(got, want) -> np.ndarray:
    """Where two results agree, value by value, within the checks' tolerance."""
    return np.isclose(got, want, rtol=_STANDARDIZE_TOL, atol=_STANDARDIZE_TOL)


def _close(got, want) -> bool:
    return bool(_near(got, want).all())


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
    r, train, other, got = _standardized(student, mnist)
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
    r, train, other, got = _standardized(student, mnist)
    want = ref.standardized(train, other)
    # The position that barely varies (ref.inputs) is standardize_train_moments' question: there an epsilon
    # added to every standard deviation (standardize_constant_positions' mistake) moves other_out by 1e-4.
    varies = ~ref.constant_positions(train) & ~(train.std(axis=0) < 1e-4)
    if _close(got[1][:, varies], want[1][:, varies]):
        return
    cause, hint = _standardize_cause(got, train, other)
    n, *i = (int(v) for v in np.argwhere(varies & ~_near(got[1], want[1]))[0])
    raise r.fail(f"other_out[{n}, {i[0]}, {i[1]}] = {got[1][n, i[0], i[1]]:.5g}",
                 f"{want[1][n, i[0], i[1]]:.5g}: other_images[{n}, {i[0]}, {i[1]}] through the map of position ({i[0]}, {i[1]}) "
                 "that standardises the training images there", cause=cause, hint=hint,
                 contract="Each pixel position is transformed by one affine map, value -> (value - a) / b with b > 0, the same for both arrays")


def test_standardize_constant_positions(student, mnist):
    r, train, other, got = _standardized(student, mnist)
    want = ref.standardized(train, other)
    constant = ref.constant_positions(train)
    spread = got[0][:, ~constant].std(axis=0)
    if not np.allclose(spread, 1, atol=0.01):  # a shift alone, or no map at all, would pass what follows
        raise r.fail(f"over the training images, train_out's standard deviation ranges from {spread.min():.4g} to {spread.max():.4g} "
                     "at the positions that vary", "about 1 at every position that varies: this check counts for a standardisation",
                     cause=_standardize_cause(got, train, other)[0],
                     hint="divide each position that varies by its standard deviation over train_images; constant positions by 1")
    wrong = constant & ~(_near(got[0], want[0]).all(axis=0) & _near(got[1], want[1]).all(axis=0))
    if not wrong.any():
        return
    broken = wrong & ~(np.isfinite(got[0]).all(axis=0) & np.isfinite(got[1]).all(axis=0))  # said first: the cause below
    at = tuple(int(v) for v in np.argwhere(broken if broken.any() else wrong)[0])
    value = ref.named(float(train[(0, *at)]))
    seen = f"train_out[0, {at[0]}, {at[1]}] = {got[0][(0, *at)]:.5g}, other_out[0, {at[0]}, {at[1]}] = {got[1][(0, *at)]:.5g}"
    hint = "where the standard deviation over train_images is 0, divide by 1 instead"
    if broken.any():
        cause = "a division by a standard deviation of 0: a position that never changes over the training images has no spread"
    elif np.allclose(np.abs(got[0][:, at[0], at[1]]), 1, atol=1e-3):
        cause = (f"the constant positions found by comparing the computed standard deviation with 0 (or with a tolerance "
                 "below its rounding error, which is about 1e-16 in float64 and up to about 1e-6 in float32): at pixel "
                 f"{at}, whose value {value} is not exact in binary, the mean comes out a rounding error off the value, "
                 "and so does the standard deviation; divided by it, that error gives -1 or 1, not 0")
        hint = ("decide which positions are constant from the values themselves (every training image holding the same value "
                "there), not from a standard deviation computed in floating point")
    elif np.allclose(got[1][:, constant], 0):
        cause = "the constant positions set to 0 in other_out too; their map only shifts: other_images' values there minus a"
    elif np.abs(got[1][:, constant]).max() > 1e3:
        cause = "a tiny number added to every standard deviation (std + 1e-8): at a constant position it divides by almost 0"
    else:  # the map is wrong everywhere, not only here: the same cause as the other checks'
        cause = "" if _close(got[1][:, ~constant], want[1][:, ~constant]) else _standardize_cause(got, train, other)[0]
    raise r.fail(f"{seen} (pixel {at} is {value} in every training image; the MNIST border, 0)",
                 f"train_out 0 there, and other_out = other_images' value there minus {value} "
                 f"({want[1][(0, *at)]:.5g} for the first image)",
                 cause=cause, hint=hint,
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
