"""ex04's check of compare_models(): the conclusion, judged against the student's own mcnemar() numbers."""

import numpy as np

from grader.references import ex04_evaluation as ref  # the contracts' own computations and the inputs drawn for each file
from grader.scoring import depends_on
from grader.checks.ex04.mcnemar import _drawn_counts, _mcnemar_result, _same_p_value, test_mcnemar_p_value


AT_THE_P_VALUE = object()  # a case's alpha: the p-value the student's own mcnemar() gives for its images


@depends_on(test_mcnemar_p_value, earns="a conclusion drawn from the right numbers")
def test_compare_models_verdict(student):
    rng = np.random.default_rng([student.input_seed, 3])
    cases = []
    for purpose, wanted, alphas in (("A ahead", lambda b, c, p: b > c and p < 0.01, (0.05,)),
                                    ("B ahead", lambda b, c, p: c > b and p < 0.01, (0.05,)),
                                    ("no evidence", lambda b, c, p: b > c and 0.1 < p < 0.9, (0.05,)),
                                    ("between the levels", lambda b, c, p: 0.01 < p < 0.05, (0.05, 0.01)),
                                    # alpha set to the p-value itself (AT_THE_P_VALUE): "below alpha" is not "at most alpha"
                                    ("at the level", lambda b, c, p: 0.01 < p < 0.05, (AT_THE_P_VALUE,))):
        b, c = _drawn_counts(student, "verdict " + purpose, wanted)
        cases += [(ref.paired_predictions(rng, b, c, 400, 25), alpha) for alpha in alphas]
    for (y_true, pred_a, pred_b), alpha in cases:
        shown = f"y_true, pred_a, pred_b ({len(y_true)} images drawn for your file)"
        # Judged against the student's own numbers for these images (right, as test_mcnemar_p_value has shown on others).
        own = student.call("mcnemar", y_true, pred_a, pred_b, shown=shown, expect="b, c, p_value")
        b, c, p_value = _mcnemar_result(own)
        right = ref.mcnemar(y_true, pred_a, pred_b)
        if (b, c) != right[:2] or not _same_p_value(p_value, right[2]):
            raise own.fail(f"b = {b}, c = {c}, p_value = {p_value:.6g}", f"b = {right[0]}, c = {right[1]}, p_value = {right[2]:.6g}",
                           cause="mcnemar() gave other numbers on these images than on the same kind of images before",
                           hint="the conclusion rests on mcnemar()'s numbers, so they must be right here too: the same inputs, the same answer")
        if alpha is AT_THE_P_VALUE:
            alpha = p_value
        expected = ref.conclusion(b, c, p_value, alpha)
        r = student.call("compare_models", y_true, pred_a, pred_b, alpha=alpha, shown=shown, expect=repr(expected))
        value = r.value
        if value == expected:
            continue
        numbers = f"your mcnemar() gives b = {b}, c = {c} and p_value = {p_value:.4g}"
        if value not in ("A", "B", "neither"):
            cause = ""
        elif expected == "neither" and p_value == alpha:
            cause = f"{numbers}, and alpha is that very number: significant means a p-value below alpha, and one equal to it is not"
        elif expected == "neither":
            cause = (f"{numbers}, not below alpha = {alpha}: the split is one two equally good models often give"
                     + (", so the smaller alpha asks for more evidence than these images hold" if alpha < 0.05 else ""))
        elif value == "neither":
            cause = f"{numbers}, below alpha = {alpha}: the difference is significant" + (
                " (was alpha ignored, and 0.05 or another level used instead?)" if p_value < 0.05 else "")
        else:
            cause = f"{numbers}: the model that got more of the disputed images right is {expected}, not {value}"
        raise r.fail(f"got {value!r}", repr(expected), cause=cause,
                     hint="decide with the p-value at the alpha you were given first, then name the model the disagreements favour",
                     contract="naming the model that got more of the images they disagree on right" if value in ("A", "B") and expected in ("A", "B") else "")
