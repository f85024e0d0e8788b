"""ex03b's check of seeds_the_choice_rests_on(), and its messages: the count on the grader's tables
(`student.fragility_cases`: each with its answer per variant as data, every one asked twice under two
moves, in an order drawn for the file), and a count within the contract's range on the student's own table."""

import numpy as np

from grader import variants
from grader.checks.ex03b.choose_width import test_choose_width_follows_rule
from grader.checks.ex03b.common import SEEDS, WIDTHS, _MISMATCH_CAUSE, _rule_key
from grader.checks.ex03b.run_sweep import own_table
from grader.feedback import describe
from grader.references import ex03b_experiment as ref
from grader.scoring import depends_on


def _rests_on(student, widths, table, shown):
    return student.call(
        "seeds_the_choice_rests_on", np.asarray(widths, dtype=np.int64), np.asarray(table, dtype=np.float64),
        shown=f"np.array({list(widths)}), {shown}", expect="a Python int m from 1 to k - 2, or None",
    )


def _says(m, k: int) -> str:
    """What a count says about a table of k seeds."""
    if m is None:
        some = "any one" if k == 3 else f"any 1 to {k - 2}"
        return f"None: leaving out {some} of its {k} seeds still gives the same width"
    fewer = "" if m == 1 else f"; no {'single seed' if m == 2 else f'{m - 1} seeds or fewer'} left out changes it"
    return f"{m}: some {'single seed' if m == 1 else f'{m} seeds'} left out change{'s' if m == 1 else ''} the width chosen{fewer}"


# A hint for each usual mistake the message names; otherwise the general one.
_HINTS = {
    ref.WHOLE_FLOOR: "leave out one seed of this table by hand and decide as choose_width() would: the best width, its spread and "
                     "so the floor are all measured on the seeds that are left",
    ref.ONE_AT_A_TIME: "the count is the fewest seeds: when no single seed changes the choice, try every two together, then every "
                       "three, up to k - 2",
    ref.SE_DDOF0: "a sample standard deviation divides by k - 1 (np.std's ddof=1), on the seeds that are left as on the whole table",
    ref.SE_WHOLE_K: "the smaller table is an experiment of its own: its standard error comes from its own seeds and their number",
    ref.DOWN_TO_ONE: "stop once k - 2 seeds are left out: the contract keeps at least two to decide from",
}
_HINT = ("work this table by hand: leave out one seed, decide as choose_width() would, and compare; then see which of the best "
         "width, its spread and the floor moved when the seed went")


def _a_count(m, k: int) -> bool:
    """Whether `m` is a count the contract allows for a table of k seeds."""
    return m is None or (type(m) is int and 1 <= m <= k - 2)


def _not_a_count(r, m, k: int, where: str):
    return r.fail(
        f"Got {describe(m)} for {where} of {k} seeds",
        f"a Python int from 1 to {k - 2} (at least 2 seeds stay to decide from), or None",
        cause="a NumPy integer, the number of seeds left rather than left out, 0 for \"nothing changes it\", a width rather "
              "than a number of seeds, or a count that is not this table's",
        hint="return a plain int, the number of seed columns left out, or None when no such number changes the choice",
    )


@depends_on(test_choose_width_follows_rule, earns="how much the decision rests on")
def test_seeds_the_choice_rests_on_counts(student, mnist, check, variant):
    key = _rule_key(variant)
    drawn = student.fragility_cases  # (which case, widths, table): every case twice, moved, in the file's own order
    calls = [_rests_on(student, widths, table, f"table_{n + 1} (one of the grader's)") for n, (_, widths, table) in enumerate(drawn)]
    got = [r.value for r in calls]
    for r, m, (_, _, table) in zip(calls, got, drawn):
        if not _a_count(m, table.shape[1]):
            raise _not_a_count(r, m, table.shape[1], "a table")
    cases = [ref.FRAGILITY_CASES[which] for which, _, _ in drawn]
    # A usual mistake is named only if it applies to the variant and gives the student's answer on every table.
    mistakes = [name for name in ref.FRAGILITY_CASES[0][3]
                if all(key in case[3][name] and m == case[3][name][key] for m, case in zip(got, cases))]
    for r, m, (_, widths, table), case in zip(calls, got, drawn, cases):
        expected, k = case[2][key], table.shape[1]
        if m == expected:
            continue
        shown = f"It returned {m} for a table of {k} seeds whose rows (widths {list(widths)}) are {np.round(table, 4).tolist()}"
        cause = mistakes[0] if mistakes else ("a count that does not decide each smaller table anew by your rule, or that does not "
                                              "try every set of m columns (any m of them, not only neighbours)")
        if other := variants.told_apart(student.exercise, variant, lambda v: all(
                g == c[2][_rule_key(v)] for g, c in zip(got, cases)),
                cause=f"{cause}; or {_MISMATCH_CAUSE}"):
            raise other(r, shown)
        raise r.fail(
            shown,
            f"{_says(expected, k)}, by your variant's rule ({key}) applied anew to what is left",
            cause=cause,
            hint=_HINTS[mistakes[0]] if mistakes else _HINT,
        )
    # The student's own table, when run_sweep gives one: a count outside the contract's range fails; the count goes to the note.
    if (table := own_table(student, mnist)) is None:
        return
    r = _rests_on(student, WIDTHS, table, "the table run_sweep returned")
    if not _a_count(r.value, len(SEEDS)):
        raise _not_a_count(r, r.value, len(SEEDS), "your own table")
    check.record("note", f"seeds_the_choice_rests_on() on the student's own sweep ({len(SEEDS)} seeds): {_says(r.value, len(SEEDS))}")
