"""ex03b's checks of choose_width(), and their messages: the variant's rule on the grader's tables
(`student.rule_cases`, moved for each file) and on the student's own table."""

import numpy as np

from grader import variants
from grader.checks.ex03b.common import SEEDS, WIDTHS, _MISMATCH_CAUSE, _rule_key
from grader.checks.ex03b.run_sweep import own_table
from grader.feedback import describe, short
from grader.isolation.safe_files import clean_text
from grader.references import ex03b_experiment as ref
from grader.scoring import depends_on


def _choose(student, widths, table, shown):
    return student.call(
        "choose_width", np.asarray(widths, dtype=np.int64), np.asarray(table, dtype=np.float64),
        shown=f"np.array({list(widths)}), {shown}", expect="(width, reason): a Python int from widths and a one-line str",
    )


def test_choose_width_types(student, mnist):
    widths, table = student.rule_cases[0]
    r = _choose(student, widths, table, "table_1 (one of the grader's)")
    value = r.value
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise r.fail(f"Got {describe(value)}", cause="the width alone, or more than two things", hint="return width, reason")
    width, reason = value
    if type(width) is not int or width not in widths:
        raise r.fail(
            f"Got width {describe(width)}",
            "one of widths, as a Python int",
            cause="a NumPy integer (from indexing an array), or a width that is not in the list",
            hint="convert with int(...) before returning",
        )
    if not isinstance(reason, str) or not reason.strip() or "\n" in reason.strip():
        raise r.fail(
            f"Got reason {describe(reason)}",
            "a one-line, non-empty str",
            cause="no reason given, or several lines",
            hint="one sentence, in your own words, that says why this width",
        )


_RULE_SAYS = {
    "one_sd": "the narrowest width whose mean is at least the best mean minus the sample standard deviation of the best width's seeds",
    "one_se": "the narrowest width whose mean is at least the best mean minus its standard error (the best width's sample "
              "standard deviation over the square root of its number of seeds)",
    "worst_seed": "the narrowest width whose mean is at least the best width's worst seed",
}


@depends_on(test_choose_width_types, earns="the decision")
def test_choose_width_follows_rule(student, mnist, check, variant):
    key = _rule_key(variant)
    cases = student.rule_cases
    calls = [_choose(student, widths, table, f"table_{k + 1} (one of the grader's)") for k, (widths, table) in enumerate(cases)]
    chose = [r.value[0] for r in calls]
    # A wrong rule is named only if it gives the student's answer on every table
    # (two wrong rules can agree on one table).
    consistent = None
    for got, (widths, table) in zip(chose, cases):
        agree = {name for name, width in ref.near_misses(widths, table, key).items() if width == got}
        consistent = agree if consistent is None else consistent & agree
    for r, got, (widths, table) in zip(calls, chose, cases):
        expected = ref.rule(widths, table, key)
        if got != expected:
            means = np.asarray(table).mean(axis=1)
            shown = (f"It chose {got} for a table whose means per width are {short(np.round(means, 4))} "
                     f"and whose rows are {np.asarray(table).tolist()}")
            misses = [name for name in ref.near_misses(widths, table, key) if name in consistent]
            # Every table answered by another variant's rule: a classmate's file, or a usual mistake that answers them all too.
            if other := variants.told_apart(student.exercise, variant, lambda v: all(
                    c == ref.rule(w, t, _rule_key(v)) for c, (w, t) in zip(chose, cases)),
                    cause=f"the choice follows {misses[0]}; or {_MISMATCH_CAUSE}" if misses else _MISMATCH_CAUSE):
                raise other(r, shown)
            raise r.fail(
                shown,
                f"{expected}: {_RULE_SAYS[key]} (your variant's RULE = {key!r})",
                cause=f"the choice follows {misses[0]}" if misses else "a rule other than your variant's",
                hint=f"work this table by hand by your rule ({key}) as the docstring states it, and compare each step with what your "
                     "code computes: each width's mean, the best row, the floor below it, the narrowest width that reaches it",
            )
    # The student's own table, when run_sweep gives one: the decision must follow from it.
    if (table := own_table(student, mnist)) is None:
        return  # the rule is judged above
    r = _choose(student, WIDTHS, table, "the table run_sweep returned")
    got, expected = r.value[0], ref.rule(WIDTHS, table, key)
    if got != expected:
        raise r.fail(
            f"On your own table (means {short(np.round(table.mean(axis=1), 4))}) it chose {got}",
            f"{expected}, which your variant's rule ({key}) gives for that table",
            cause="a choice made from something other than the table it is given",
            hint="decide from the `table` argument alone, by the docstring's rule",
        )
    reason = clean_text(r.value[1], 500).replace("\n", " ")
    check.record(
        "note",
        f"choose_width() chose {got} from the student's own sweep by rule {key} (widths {WIDTHS}, seeds {SEEDS}; "
        f"mean validation accuracy per width {short(np.round(table.mean(axis=1), 4))}); its reason, not graded: {reason}",
    )
