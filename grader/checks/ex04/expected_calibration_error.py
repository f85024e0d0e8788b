"""ex04's check of expected_calibration_error(), and its messages."""

import numpy as np

from grader.feedback import describe
from grader.references import ex04_evaluation as ref  # the contracts' own computations and the inputs drawn for each file
from grader.checks.ex04.common import _lit
from grader.checks.ex04.reliability_table import _way


# A hand-made table, over- and underconfident in turn, whose gaps an unweighted or a signed mean gets wrong.
ECE_TABLE = (np.array([0, 10, 30, 60], dtype=np.int64), np.array([0.0, 0.4, 0.7, 0.9]), np.array([0.0, 0.5, 0.6, 0.95]))


def test_expected_calibration_error_values(student, variant):
    probs, y_true = ref.calibration_probs(student.input_seed)
    drawn = ref.reliability_table(probs, y_true, 10, bins=_way(variant))  # binned the variant's way
    for table, shown in ((ECE_TABLE, ", ".join(_lit(part) for part in ECE_TABLE)),
                         (drawn, "counts, confidence, accuracy (the reliability table, 10 bins, of 600 answers drawn for your file)")):
        expected = ref.expected_calibration_error(*table)
        r = student.call("expected_calibration_error", *table, shown=shown, expect=f"a float, {expected:.6g}")
        value = r.value
        if not isinstance(value, float):
            raise r.fail(f"got {describe(value)}", hint="return float(...) of the sum")
        if np.isclose(value, expected, rtol=1e-9, atol=1e-12):
            continue
        counts, confidence, accuracy = (np.asarray(part, np.float64) for part in table)
        gaps, filled = accuracy - confidence, counts > 0
        candidates = {
            "the gaps kept their sign, so over- and underconfident bins cancel; the gap is a distance, the larger less the smaller":
                float((counts * gaps).sum() / counts.sum()),
            "every non-empty bin weighed the same; an answer picked at random lands in a bin as often as the bin holds answers":
                float(np.abs(gaps[filled]).mean()),
            "the mean over all bins, empty ones included; an answer picked at random never lands in an empty bin":
                float(np.abs(gaps).mean()),
            "the gaps weighted by the counts but not divided by the number of answers: a sum of counts, not an expected value":
                float((counts * np.abs(gaps)).sum()),
            "the gaps were squared: that is a calibration error too, but not the expected gap":
                float((counts * gaps**2).sum() / counts.sum()),
            "the counts times the gaps averaged over the bins: the weights are each bin's share of the answers, so the sum is "
            "divided by the number of answers, not of bins": float((counts * np.abs(gaps)).mean()),
            "the largest gap: that is the maximum calibration error, the worst bin, not the expected gap": float(np.abs(gaps).max()),
        }
        cause = next((c for c, v in candidates.items() if np.isclose(value, v, rtol=1e-9, atol=1e-12)), "")
        raise r.fail(f"got {value:.6g}", f"{expected:.6g}", cause=cause,
                     hint="an expected value over the answers: each bin's gap counts as often as the bin has answers")
