"""ex04's checks of reliability_table(), and their messages: its inputs are drawn for each file
(`student.input_seed`, set by grader/checks/ex04_evaluation.py before any of its code runs). The bins are the
variant's (course.toml: BINS, a word at the top of the file): of equal width, or of equal numbers of answers; a
file that bins the other way fails with the message that names both (grader/variants.py `told_apart`).
"""

import numpy as np

from grader import variants
from grader.feedback import describe
from grader.references import ex04_evaluation as ref  # the contracts' own computations and the inputs drawn for each file
from grader.checks.ex04.common import _bins as _way


# How close a table must be: counts exact; each bin's mean confidence within 1e-5, since the confidences are float32 (as
# model.predict gives them) and a mean added up in float32, as lesson 4's reliability diagram does, is off by up to
# about 1e-6 (every binning mistake changes the counts); accuracies, shares of whole answers, within 1e-9.
TABLE_TOLERANCE = (0.0, 1e-5, 1e-9)


def _same(got, expected) -> list[bool]:
    """Whether each of the three arrays of a table agrees with the contract's, within TABLE_TOLERANCE."""
    return [bool(np.allclose(g, e, rtol=0, atol=tol)) for g, e, tol in zip(got, expected, TABLE_TOLERANCE)]


_MISMATCH_CAUSE = ("the word BINS at the top of your file is not your variant's (the file starts with the first "
                   "variant's), or the file was written for another variant: a classmate's, or your own under another student id")

_HINTS = {
    "width": "bin b holds the confidences c with b / n_bins < c <= (b + 1) / n_bins; each bin's means are over its own answers",
    "mass": "order the answers by confidence, lowest first and equal ones in row order, then cut that order into n_bins runs "
            "whose sizes differ by at most one, the larger first; each bin's means are over its own answers",
}


def _bin(b: int, n_bins: int, way: str = "width") -> str:
    if way == "mass":
        return f"bin {b} (run {b + 1} of {n_bins} of the answers in order of confidence)"
    return f"bin {b} ({b}/{n_bins} < c <= {b + 1}/{n_bins})"


def _table(r, n_bins):
    """A returned reliability table as three float64 arrays (counts kept exact), or the Feedback that says why it is none."""
    value = r.value
    if not (isinstance(value, tuple) and len(value) == 3):
        raise r.fail(f"got {describe(value)}", hint="return the three arrays as a tuple: return counts, confidence, accuracy")
    arrays = []
    for name, part in zip(("counts", "confidence", "accuracy"), value):
        if not isinstance(part, np.ndarray) or part.shape != (n_bins,) or part.dtype.kind not in "iuf":
            cause = ""
            if isinstance(part, (list, tuple)):
                cause = "a list: return numpy arrays"
            elif isinstance(part, np.ndarray) and part.ndim == 1 and len(part) < n_bins and len(value[0]) == len(part) and np.all(np.asarray(value[0]) > 0):
                cause = "the empty bins were left out: every bin has its place in the table, an empty one with a count of 0"
            elif isinstance(part, np.ndarray) and part.ndim == 1:
                cause = "n_bins was not used (a hard-coded number of bins?)"
            raise r.fail(f"{name} is {describe(part)}", f"a 1-D array of n_bins = {n_bins} numbers", cause=cause,
                         hint="one value per bin, empty bins included: np.bincount(..., minlength=n_bins) keeps them")
        arrays.append(part.astype(np.float64))
    return arrays


def _table_mismatch(r, got, expected, probs, y_true, n_bins, student, variant, situation=""):
    """Explain how a reliability table differs from the contract's: the first bin where it does, and the rule it
    follows instead where it is one of the likely ones, or another variant's bins."""
    way = _way(variant)
    where = f" ({situation})" if situation else ""
    names = ("counts", "confidence", "accuracy")
    first = _same(got, expected).index(False)
    b = int(np.argmax(~np.isclose(got[first], expected[first], rtol=0, atol=TABLE_TOLERANCE[first])))
    shown = f"{names[first]}[{b}] = {got[first][b]:.6g} in {_bin(b, n_bins, way)}{where}"
    # every variant of the other BINS answers so, whatever its PAIRS: a classmate's file may differ in both
    other_way = "width" if way == "mass" else "mass"
    theirs = variant is not None and all(_same(got, ref.reliability_table(probs, y_true, n_bins, bins=other_way)))
    other = variants.told_apart(student.exercise, variant, lambda v: theirs and _way(v) == other_way, cause=_MISMATCH_CAUSE)
    if other:
        raise other(r, shown)
    if way == "mass":
        mistakes = {
            "the runs' sizes are right but the larger ones come last; with N answers, the first N % n_bins runs hold one "
            "answer more": ref.reliability_table(probs, y_true, n_bins, bins="mass", larger="last"),
            "answers of equal confidence were taken in the reverse of their row order (a descending sort reversed, or a sort "
            "that is not stable); equal confidences keep the order of their rows":
                ref.reliability_table(probs, y_true, n_bins, bins="mass", order="reversed"),
            "the sizes differ by at most one, but the larger runs are spread among the others (rank * n_bins // N, say); the "
            "contract puts them first": ref.reliability_table(probs, y_true, n_bins, bins="mass", larger="spread"),
            "confidences that differ only far below their first digits were taken as equal (rounded, or compared in a "
            "narrower float): the order is that of the confidences as given, equal ones only in row order":
                ref.reliability_table(probs, y_true, n_bins, bins="mass", order="float16"),
        }
    else:
        mistakes = {
            "the bins were closed at the bottom (b / n_bins <= c < (b + 1) / n_bins), the other way round from the contract":
                ref.reliability_table(probs, y_true, n_bins, closed="bottom"),
        }
    rules = {
        **mistakes,
        "the probability of the true label was used as the confidence; an answer's confidence is its row's largest "
        "probability, the one the model answered with": ref.reliability_table(probs, y_true, n_bins, of="label", bins=way),
        "where two classes share a row's largest probability, the prediction was taken as the last of them; an answer's "
        "prediction is the first, as np.argmax gives it": ref.reliability_table(*ref.last_of_equal(probs, y_true), n_bins, bins=way),
        "confidence and accuracy swapped": [expected[0], expected[2], expected[1]],
        "each bin's sums were returned, not its means: divide by the bin's count": [expected[0], expected[1] * expected[0],
                                                                                     expected[2] * expected[0]],
    }
    cause = next((why for why, table in rules.items() if all(_same(got, table))), "")
    if not cause and first == 2 and all(_same(got, expected)[:2]):
        cause = ("the right bins and confidences, but some answers counted right or wrong against the contract: an answer is right "
                 "when its row's argmax (the first, if several are equal) is the label")
        if way == "mass" and _ties_straddle_a_cut(probs, n_bins):
            # equal confidences on either side of a cut: the same counts and means whichever of them goes first
            cause = ("the right sizes and confidences, but other answers in some bins: where answers of equal confidence straddle a "
                     "cut between bins, they go in the order of their rows (np.argsort's default sort is not stable: kind=\"stable\" is); "
                     "or an answer counted right or wrong against the contract, which is right when its row's argmax (the first, if "
                     "several are equal) is the label")
    hint = _HINTS[way]
    if np.isnan(np.concatenate(got)).any():
        cause, hint = "nan where a bin is empty: 0 / 0", "divide only where a bin holds answers: np.divide(..., out=np.zeros(n_bins), where=counts > 0)"
    elif not cause and got[0].sum() != len(probs):
        cause = f"the counts add up to {got[0].sum():g}, not to the {len(probs)} answers: some answers were put in no bin, or in two"
    raise r.fail(shown, f"{expected[first][b]:.6g}", cause=cause, hint=hint)


def _ties_straddle_a_cut(probs, n_bins) -> bool:
    """Whether, in order of confidence, two answers of equal confidence fall on either side of a cut between runs."""
    confidence = np.sort(np.asarray(probs).max(axis=1).astype(np.float64))
    cuts = np.cumsum(ref.run_sizes(len(confidence), n_bins))[:-1]
    return any(0 < cut < len(confidence) and confidence[cut - 1] == confidence[cut] for cut in cuts)


def _reliability_call(student, probs, y_true, n_bins, shown):
    return student.call("reliability_table", probs, y_true, n_bins=n_bins, shown=shown,
                        expect=f"(counts, confidence, accuracy): three arrays of {n_bins} numbers")


def test_reliability_table_values(student, variant):
    way = _way(variant)
    probs, y_true = ref.calibration_probs(student.input_seed)
    shown = f"probs, y_true ({len(probs)} softmax rows of float32 drawn for your file, overconfident answers)"
    for n_bins in (10, 15):
        r = _reliability_call(student, probs, y_true, n_bins, shown)
        got, expected = _table(r, n_bins), ref.reliability_table(probs, y_true, n_bins, bins=way)
        if not all(_same(got, expected)):
            _table_mismatch(r, got, expected, probs, y_true, n_bins, student, variant)
    # Rows whose largest probability two classes share: the prediction is the first of them (np.argmax's).
    # For "mass", one bin: the tied rows would straddle the cuts of 10 runs of 18 answers, and this call is about the
    # argmax rule; the runs' sizes and the order of equal confidences are bin_edges' (an adversarial review found a
    # mistake in them costing 5 points on mass against 1 for width's closed-at-the-bottom).
    n_bins = 1 if way == "mass" else 10
    probs, y_true = ref.shared_top_probs(student.input_seed)
    shown = f"probs, y_true ({len(probs)} softmax rows of float32 drawn for your file, most with their largest probability shared by two classes)"
    r = _reliability_call(student, probs, y_true, n_bins, shown)
    got, expected = _table(r, n_bins), ref.reliability_table(probs, y_true, n_bins, bins=way)
    if not all(_same(got, expected)):
        _table_mismatch(r, got, expected, probs, y_true, n_bins, student, variant, "largest probabilities shared by two classes")


def test_reliability_table_bin_edges(student, variant):
    """Where an answer goes at a bin's limit: for "width", confidences exactly on the edges b / n_bins; for
    "mass", runs of equal confidence across the cuts, and N not a multiple of n_bins."""
    way = _way(variant)
    # n_bins drawn for the file among the powers of two (b / n_bins is then an exact float), and rows on its edges
    rng = np.random.default_rng([student.input_seed, 5])
    for n_bins in (int(rng.choice([4, 8])), int(rng.choice([16, 32]))):
        if way == "mass":
            probs, y_true = ref.tied_probs(student.input_seed, n_bins)
            shown = (f"probs, y_true ({len(probs)} softmax rows drawn for your file, not a multiple of n_bins = {n_bins}, "
                     "their confidences of four values only)")
            situation = "equal confidences across the cuts between bins, and runs of two sizes"
        else:
            probs, y_true = ref.edge_probs(student.input_seed, n_bins)
            shown = f"probs, y_true ({len(probs)} softmax rows drawn for your file, most with a confidence exactly on an edge between bins)"
            situation = "confidences exactly on the edges between bins, and one of 0.3"
        r = _reliability_call(student, probs, y_true, n_bins, shown)
        got, expected = _table(r, n_bins), ref.reliability_table(probs, y_true, n_bins, bins=way)
        if not all(_same(got, expected)):
            _table_mismatch(r, got, expected, probs, y_true, n_bins, student, variant, situation)


def test_reliability_table_empty_bins(student, variant):
    way = _way(variant)
    probs, y_true = ref.calibration_probs(student.input_seed, n=30)
    n_bins = 40  # more bins than answers: most are empty
    r = _reliability_call(student, probs, y_true, n_bins, "probs, y_true (30 softmax rows drawn for your file)")
    got, expected = _table(r, n_bins), ref.reliability_table(probs, y_true, n_bins, bins=way)
    if not all(_same(got, expected)):
        _table_mismatch(r, got, expected, probs, y_true, n_bins, student, variant, "most bins empty")
    for name, part, dtype in zip(("counts", "confidence", "accuracy"), r.value, (np.int64, np.float64, np.float64)):
        if part.dtype != dtype:
            cause = ("counts added up in floats (np.bincount with weights=, or np.zeros without a dtype)" if name == "counts"
                     else "means computed from integer sums without a float dtype")
            raise r.fail(f"the right values, but {name} has dtype {part.dtype}", f"dtype {np.dtype(dtype)}", cause=cause,
                         hint=f"convert with .astype(np.{np.dtype(dtype)})", contract="for bin b, counts[b] (int64) is how many answers fall in it, confidence[b] (float64) their mean confidence and accuracy[b] (float64) the share of them that are right")
    if r.warnings:
        raise r.fail(
            f"the right values, but the call emitted a warning: {r.warnings[0]}",
            "no warning",
            cause="dividing by every bin's count, 0 included, and replacing nan afterwards",
            hint="skip the division where a bin is empty: np.divide(a, b, out=np.zeros(...), where=b > 0)",
            contract="the result never holds nan, and computing it emits no warning",
        )
