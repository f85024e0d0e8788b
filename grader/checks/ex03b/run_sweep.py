"""ex03b's checks of run_sweep(), and their messages: one cell of each width, its seed drawn for the file
(`student.rerun_cells`), is compared with the grader's own run of the declared protocol."""

import numpy as np

from grader.checks.ex03b.common import (
    RERUN_TOLERANCE, SEEDS, VALIDATION_IMAGES, WIDTHS, _declared, _record_runs, _sweep, _table,
)
from grader.feedback import Feedback, describe, short
from grader.scoring import depends_on


def test_run_sweep_shape(student, mnist):
    r = _sweep(student, mnist)
    table = r.array()
    if table.shape != (len(WIDTHS), len(SEEDS)):
        transposed = table.shape == (len(SEEDS), len(WIDTHS))
        raise r.fail(
            f"Got {describe(table)}",
            cause="rows and columns swapped (a row per seed)" if transposed else "the table summarised (means per width) or built with other sizes",
            hint="table[i, j] holds widths[i] trained with seeds[j]: np.zeros((len(widths), len(seeds))) and fill it",
        )
    if table.dtype.kind != "f" or not np.all((table >= 0) & (table <= 1)):
        raise r.fail(
            f"Got {describe(table)} with values {short(table)}",
            cause="something other than validation accuracies in the cells",
            hint="each cell is what validation_accuracy() returns: a fraction between 0 and 1",
        )


@depends_on(test_run_sweep_shape, earns="the table's contents")
def test_run_sweep_uses_each_seed(student, mnist):
    r, table = _table(student, mnist)
    same = [(SEEDS[a], SEEDS[b]) for a in range(len(SEEDS)) for b in range(a + 1, len(SEEDS)) if np.array_equal(table[:, a], table[:, b])]
    if same:
        a, b = same[0]
        raise r.fail(
            f"The columns of seeds {a} and {b} are identical: {short(table[:, SEEDS.index(a)])}",
            "a different training run in every column, so the seeds show how much results vary",
            cause="one seed used for every run (a fixed seed, or the loop's variable not passed on)",
            hint="pass seeds[j] on to validation_accuracy() for column j",
        )


@depends_on(test_run_sweep_uses_each_seed, earns="the table's runs")
def test_run_sweep_matches_rerun(student, mnist, declared, check):
    r, table = _table(student, mnist)
    if declared is None:  # a table, while validation_accuracy() is the stub's: no cell can be a run of it
        raise r.fail(
            f"Got a table ({short(table)}) while validation_accuracy() is not started",
            "each cell a run of validation_accuracy() with that cell's width and seed",
            cause="cells not computed by validation_accuracy()",
            hint="write validation_accuracy() first, then fill table[i, j] with validation_accuracy(..., widths[i], seeds[j])",
        )
    cells = [(w, s, WIDTHS.index(w), SEEDS.index(s)) for w, s in student.rerun_cells]
    wanted = {(w, s): _declared(declared, (w, s)) for w, s, _, _ in cells}
    _record_runs(check, [(w, s, table[i, j], wanted[w, s]) for w, s, i, j in cells])
    for width, seed, i, j in cells:
        want = wanted[width, seed]
        if abs(want - table[i, j]) > RERUN_TOLERANCE:
            raise Feedback(
                f"The table says {table[i, j]:.4f} for width {width}, seed {seed}; the docstring's model, trained by the grader "
                f"with that width and seed on the same images, reaches {want:.4f}",
                f"the same number within {RERUN_TOLERANCE} ({RERUN_TOLERANCE * VALIDATION_IMAGES:.0f} of the {VALIDATION_IMAGES:,} "
                "validation images): each cell is a real run of the declared model",
                called=r.called,
                cause="cells not computed by validation_accuracy() with their own width and seed (typed in, or copied from another "
                "run), or a validation_accuracy() that does not train the docstring's model",
                hint="fill table[i, j] with validation_accuracy(..., widths[i], seeds[j]) and nothing else; the grader trains the "
                "declared model itself for cells it draws, so only real runs match",
            )


def own_table(student, mnist):
    """The student's own sweep, as choose_width()'s and seeds_the_choice_rests_on()'s checks judge
    them on it: None where run_sweep's shape check fails (its own checks say what is wrong)."""
    try:
        test_run_sweep_shape(student, mnist)
        return _table(student, mnist)[1]
    except Feedback:
        return None
