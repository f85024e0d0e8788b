"""ex06's checks of choose_threshold(), and their messages.

Its validation results are drawn for each file (references.threshold_cases): one set like a model's answers,
five built so that a classic mistake gives another threshold (equal confidences counted one at a time, a search
that stops at the first threshold breaking the limit, a share equal to the limit refused, nothing answerable, a
share that breaks the limit only after many answers, max_error 0 with a threshold that keeps it), and one answer
at confidence 0.0, the smallest valid input. Each set's best threshold is known from how it was built: the grader
holds no search for it.
"""

import math

import numpy as np

from grader.checks.ex06.common import python_number
from grader.feedback import describe
from grader.references import ex06_real_use as ref
from grader.scoring import depends_on

CONTRACT = ("Returns the threshold, as a Python float, that answers as many of the N images as possible while at most a "
            "share max_error of the answers it gives are wrong (wrong / answered <= max_error); of the thresholds that answer "
            "those same images, the largest")
NONE_KEEPS = ("If no threshold that answers something keeps it (the most confident answers are already wrong too often), "
              "returns math.inf")


def _threshold(student, case: ref.ThresholdCase):
    """The student's threshold for `case`, as a number (a call that gave none fails here), and the call."""
    r = student.call("choose_threshold", case.confidences, case.correct, shown=case.shown,
                     expect="the threshold that answers the most images while keeping the share of wrong ones at most max_error",
                     max_error=case.max_error)
    t = r.value
    if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)) and not (isinstance(t, np.ndarray) and t.size == 1):
        raise r.fail(f"got {describe(t)}", "one number, the threshold", hint="return the threshold itself, a float (math.inf when no threshold keeps the share)")
    return r, float(np.asarray(t).reshape(()))


def _number(t: float) -> str:
    """A threshold as a message writes it: short where that is exact, in full where it is not (a float32's
    0.8700000047683716 is not 0.87, and answers other images)."""
    return f"{t:g}" if float(f"{t:g}") == t else repr(t)


def _answers(case: ref.ThresholdCase, t: float) -> str:
    answered, wrong = ref.answered_share(case.confidences, case.correct, t)
    return f"threshold {_number(t)} answers {answered} of {len(case.confidences)} images, {wrong} of them wrong"


def _limit(case: ref.ThresholdCase) -> str:
    return f"at most {case.max_error:g} of the answers wrong"


def _answered_above(case: ref.ThresholdCase, t: float) -> tuple[int, int]:
    """(answered, wrong) for the answers whose confidence is above t, not t or more."""
    above = case.confidences > t
    return int(above.sum()), int((above & ~case.correct).sum())


def _tie_counted_one_at_a_time(case: ref.ThresholdCase, t: float) -> bool:
    """Whether some of the answers at confidence t, counted before the rest of them, keep the share that all of them break."""
    answered, wrong = _answered_above(case, t)
    group = case.correct[case.confidences == t]
    return len(group) > 1 and ref.keeps(answered + 1, wrong + int(not np.sort(group)[::-1][0]), case.max_error)


def _missed_the_best(r, case: ref.ThresholdCase, t: float):
    """The failure of a threshold above the best one (math.inf included), with the classic search that gives it."""
    best = case.best
    answered, wrong = ref.answered_share(case.confidences, case.correct, best)
    got = _answers(case, t) if math.isfinite(t) else f"{t:g}, which answers nothing"
    if math.isfinite(t) and not np.any(case.confidences == t):
        got += " (not one of the confidences)"
    missed = f"threshold {best:g} answers {answered} images with {wrong} wrong, a share of {wrong / answered:.4f}, within {case.max_error:g}"
    higher = np.unique(case.confidences[(case.confidences > best) & (case.confidences <= t)])
    broke = [c for c in higher if not ref.keeps(*ref.answered_share(case.confidences, case.correct, c), case.max_error)]
    stopped = ("On the way down from the most confident answer, the share breaks the limit at the threshold {at} (after {n} "
               "answers) and comes back within it lower down, as right answers pile up: a search that stops at the first "
               "threshold breaking the limit{late} never reaches the best one")
    if case.max_error == 0 and not math.isfinite(t):
        cause = (f"{missed}: with max_error 0 a threshold keeps the limit when every answer it gives is right (0 wrong is at "
                 f"most 0 × {answered}), and the {answered} most confident are. Returning math.inf whenever max_error is 0, "
                 "or comparing with < (0 < 0 is false), refuses it")
        hint = "max_error 0 is a limit like any other: a share of 0 wrong answers is at most 0, so compare with <=, for every threshold you try"
    elif wrong == case.max_error * answered and broke:
        at = max(broke)
        cause = (f"{missed}: exactly the share allowed, which \"at most\" keeps. Between it and your threshold the share breaks "
                 f"the limit at the threshold {at:g} and comes back: either a strict comparison (<) refused the equal share, or the search "
                 "stopped at the first threshold breaking the limit")
        hint = "compare with <=, and try every distinct confidence, wherever the share broke the limit above"
    elif wrong == case.max_error * answered:
        cause = (f"{missed}: exactly the share allowed, and \"at most\" keeps it; a strict comparison (<) refuses it")
        hint = "a share equal to max_error keeps the limit: compare with <="
    elif broke:
        at = max(broke)
        n = ref.answered_share(case.confidences, case.correct, at)[0]
        cause = f"{missed}. " + stopped.format(at=f"{at:g}", n=n, late=", or once many answers are counted," if case.kind == "late break" else "")
        hint = ("the share can come back within the limit after breaking it: a search must look at every threshold that answers "
                "other images than the one before it, past any break")
    else:
        cause = f"{missed}, and a smaller threshold answers more"
        hint = "of all the thresholds that keep the share, return the one that answers the most images"
    return r.fail(got, f"{best:g}, the threshold that answers the most images with {_limit(case)}", cause=cause, hint=hint, contract=CONTRACT)


def test_choose_threshold_keeps_the_limit(student):
    for case in ref.threshold_cases(student.threshold_seed):
        r, t = _threshold(student, case)
        answered, wrong = ref.answered_share(case.confidences, case.correct, t)
        if case.kind == "none":
            if t == math.inf:
                continue
            cause = ("a threshold above every confidence answers nothing, as it must here, but the contract returns math.inf "
                     "for that, so a caller can tell" if answered == 0 else
                     "no threshold keeps this share: the most confident answers already include a wrong one")
            raise r.fail(_answers(case, t), f"math.inf: no threshold that answers something keeps {_limit(case)}", cause=cause,
                         hint="when no confidence keeps the share, say so with math.inf, which answers nothing", contract=NONE_KEEPS)
        if answered and ref.keeps(answered, wrong, case.max_error):
            continue
        if answered == 0:  # answering nothing keeps any limit, and is no answer where a threshold keeps it
            raise _missed_the_best(r, case, t)
        cause = f"{wrong} wrong of {answered} answered is a share of {wrong / answered:.4f}, above {case.max_error:g}"
        hint = "count, for each threshold you try, all the answers whose confidence is at least that threshold"
        if np.any(case.confidences == t) and _tie_counted_one_at_a_time(case, t):
            cause += (f": {int(np.sum(case.confidences == t))} answers share the confidence {t:g}, and a threshold of {t:g} answers "
                      "all of them; counting them one at a time (a running count over the sorted answers) stops partway "
                      "through the group, where the share still looked kept")
            hint = "count the answers one distinct confidence at a time: equal confidences are answered, or not, together"
        elif (above := _answered_above(case, t))[0] and ref.keeps(*above, case.max_error):
            cause += f": the answers above {t:g} keep it, but a threshold answers the images whose confidence is t or more, so those at {t:g} count too"
            hint = "answer and count confidence >= t, not > t"
        raise r.fail(_answers(case, t), _limit(case), cause=cause, hint=hint, contract=CONTRACT)


@depends_on(test_choose_threshold_keeps_the_limit, earns="a Python float and the inputs left untouched (once its answers keep the limit)")
def test_choose_threshold_types(student):
    case = ref.threshold_cases(student.threshold_seed)[0]
    r, _ = _threshold(student, case)
    python_number(r, "the threshold", r.value, float)
    confidences, correct = r.args_after
    if not (np.array_equal(confidences, case.confidences) and np.array_equal(correct, case.correct)):
        raise r.fail("afterwards the caller's confidences or correct had changed", "the inputs left untouched",
                     cause="sorting in place (confidences.sort(), or writing the sorted order back into the arrays)",
                     hint="sort indices (np.argsort) or a copy, and leave the arrays you were given as they were",
                     contract="The inputs are not modified")


@depends_on(test_choose_threshold_keeps_the_limit, earns="answering the most images (once its answers keep the limit)")
def test_choose_threshold_answers_the_most(student):
    for case in ref.threshold_cases(student.threshold_seed):
        if case.kind == "none":
            continue
        r, t = _threshold(student, case)
        best = case.best
        if t == best:
            continue
        if t < best:  # answers the same images as `best` (the previous check saw the share kept), from below it
            raise r.fail(f"{t:g}, which answers the same images as the confidence {best:g}", f"{best:g} itself",
                         cause="the threshold lies between two confidences, and every threshold from there up to the confidence above it answers the same images",
                         hint="of the thresholds that answer the same images, the contract asks for the largest: find which number in your data that is",
                         contract=CONTRACT)
        raise _missed_the_best(r, case, t)


@depends_on(test_choose_threshold_keeps_the_limit, earns="validating its input")
def test_choose_threshold_rejects_bad_input(student):
    case = ref.threshold_cases(student.threshold_seed)[2]
    conf, ok = case.confidences, case.correct
    above_one = conf.copy()
    above_one[0] = 1.5
    with_nan = conf.copy()
    with_nan[1] = np.nan
    bad = [
        ((conf, ok[:-1]), {"max_error": case.max_error}, f"confidences of {len(conf)} answers, correct of {len(conf) - 1}", "ValueError: the lengths differ"),
        ((conf[:0], ok[:0]), {"max_error": case.max_error}, "two empty arrays", "ValueError: N >= 1"),
        ((conf.reshape(1, -1), ok.reshape(1, -1)), {"max_error": case.max_error}, f"two arrays of shape {(1, len(conf))}", "ValueError: 1-D arrays"),
        ((conf, ok.astype(np.int64)), {"max_error": case.max_error}, "the confidences, and correct as 0s and 1s of dtype int64", "ValueError: correct is not bool"),
        ((np.round(conf).astype(np.int64), ok), {"max_error": case.max_error}, "the confidences rounded to 0 or 1, of dtype int64, and correct", "ValueError: confidences is not a float array"),
        ((above_one, ok), {"max_error": case.max_error}, "the confidences with one of them 1.5, and correct", "ValueError: a confidence outside [0, 1]"),
        ((with_nan, ok), {"max_error": case.max_error}, "the confidences with one of them nan, and correct", "ValueError: a confidence is nan"),
        ((conf, ok), {"max_error": 1.0}, "the confidences and correct", "ValueError: max_error not in [0, 1)"),
        ((conf, ok), {"max_error": -0.0625}, "the confidences and correct", "ValueError: max_error not in [0, 1)"),
    ]
    for args, kwargs, shown, expect in bad:
        r = student.call("choose_threshold", *args, shown=shown, expect=expect, **kwargs)
        r.expect_raises(
            "ValueError",
            hint="check the arrays' shapes, correct's dtype, the confidences' range (a comparison with nan is False) and max_error before counting",
            contract="Raises ValueError if the two arrays are not 1-D of the same length N >= 1, if correct is not a bool array or "
                     "confidences not a float one, if a confidence is nan or outside [0, 1], or if max_error is not in [0, 1)",
        )
