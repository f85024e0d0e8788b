"""ex04's check of expected_calibration_error(), and its messages."""

import numpy as np

from grader.feedback import describe
from grader.references import ex04_evaluation as ref  # the contracts' own computations and the inputs drawn for each file
from grader.checks.ex04.common import _bins, _lit


# Hand-made tables: one bin holding every answer (its gap is the ECE, by the contract's first property), and four
# bins, one empty, over- and underconfident in turn, whose gaps an unweighted or a signed mean gets wrong.
ONE_BIN_TABLE = (np.array([0, 25, 0], dtype=np.int64), np.array([0.0, 0.8, 0.0]), np.array([0.0, 0.6, 0.0]))
ECE_TABLE = (np.array([0, 10, 30, 60], dtype=np.int64), np.array([0.0, 0.4, 0.7, 0.9]), np.array([0.0, 0.5, 0.6, 0.95]))


def test_expected_calibration_error_values(student, variant):
    probs, y_true = ref.calibration_probs(student.input_seed)
    drawn = ref.reliability_table(probs, y_true, 10, bins=_bins(variant))  # binned the variant's way
    for table, shown in ((ONE_BIN_TABLE, ", ".join(_lit(part) for part in ONE_BIN_TABLE)),
                         (ECE_TABLE, ", ".join(_lit(part) for part in ECE_TABLE)),
                         (drawn, "counts, confidence, accuracy (the reliability table, 10 bins, of 600 answers drawn for your file)")):
        expected = ref.expected_calibration_error(*table)
        r = student.call("expected_calibration_error", *table, shown=shown, expect=f"a float, {expected:.6g}")
        value = r.value
        if not isinstance(value, float):
            raise r.fail(f"got {describe(value)}", hint="return float(...) of the number")
        if np.isclose(value, expected, rtol=1e-9, atol=1e-12):
            continue
        counts, confidence, accuracy = (np.asarray(part, np.float64) for part in table)
        gaps, filled = accuracy - confidence, counts > 0
        # Each likely mistake named by the property of the contract it breaks, never by the formula that keeps them all.
        candidates = {
            "the gaps kept their sign, so over- and underconfident bins cancel; a bin's gap is a distance, the larger less the smaller":
                float((counts * gaps).sum() / counts.sum()),
            "every non-empty bin weighed the same; join a table of 10 answers in one bin with one of 90 in another: the "
            "joined ECE is the mean of the two weighted by their numbers of answers, not their plain mean":
                float(np.abs(gaps[filled]).mean()),
            "the mean over all bins, empty ones included; empty bins change nothing": float(np.abs(gaps).mean()),
            "a number that grows with the count of answers: a table whose answers all lie in one bin has that bin's gap, "
            "however many answers it holds": float((counts * np.abs(gaps)).sum()),
            "the gaps were squared: that is a calibration error too, but a one-bin table's ECE is its gap, not the gap squared":
                float((counts * gaps**2).sum() / counts.sum()),
            "a number divided by the number of bins: empty bins change nothing, and a one-bin table's ECE is its gap":
                float((counts * np.abs(gaps)).mean()),
            "the largest gap (the maximum calibration error, the worst bin): two tables joined give the weighted mean of their "
            "ECEs, not the larger": float(np.abs(gaps).max()),
        }
        cause = next((c for c, v in candidates.items() if np.isclose(value, v, rtol=1e-9, atol=1e-12)), "")
        raise r.fail(f"got {value:.6g}", f"{expected:.6g}", cause=cause,
                     hint="work the docstring's properties by hand: two one-bin tables joined, then three; they fix what each bin's gap counts for")
