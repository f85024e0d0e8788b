"""Exercise 03b · An experiment with a decision: the graded checks.

The student's code trains small Keras models inside the worker, on data the
grader hands in: the first TRAIN_IMAGES images of the course's training set
and the VALIDATION_IMAGES after them, labels included. The test set never
leaves the grader (the worker's sandbox has no network and no view of the
data file either; tests/test_sandbox.py proves both for this exercise).

What is judged:
- validation_accuracy() learns, measures on the validation split it is
  given (labels shuffled there must give chance), and uses its width;
- run_sweep()'s table has one row per width and one column per seed, its
  seeds really differ, and one cell re-run through the student's own
  validation_accuracy() gives the number the table holds (within
  RERUN_TOLERANCE), so a made-up table fails. Which cell is re-run follows
  from the table's own contents (a hash of its values), so it is a function
  of the submission, and editing any cell moves it;
- choose_width() applies the stated rule, on tables made here to tell the
  rule from near-misses and on the student's own table. Its one-line reason is
  not graded: it goes to the report as a note for the instructor.
"""

from __future__ import annotations

import hashlib

import numpy as np

from grader.feedback import Feedback, NotGraded, describe, short
from grader.scoring import depends_on
from grader.isolation.safe_files import clean_text

TRAIN_IMAGES = 3000
VALIDATION_IMAGES = 1000
WIDTHS = [8, 32, 128]
SEEDS = [0, 1, 2]
# One re-run must give the table's number within this much: 0.005 is 5 of the
# 1,000 validation images. The same call in the same worker gives the same
# number bit for bit; the margin only absorbs a worker that had to be
# restarted between the sweep and the re-run (other thread timings).
RERUN_TOLERANCE = 0.005
# validation_accuracy(width=32) on the grader's split: the reference, trained for the
# 2 epochs its contract says, reaches 0.873-0.897 over seeds 0-3 on mnist-22k; a model
# that learned anything at all clears 0.80.
LEARNS_BAR = 0.80
# With the validation labels shuffled, an honest measurement is at chance (0.1; the
# reference: 0.098 and 0.099 on seeds 0 and 1).
CHANCE_BAR = 0.25
# Two hidden units cannot hold ten digits: the reference gets 0.26-0.33 there.
NARROW, NARROW_GAP = 2, 0.10

SHOWN = "x_train, y_train, x_val, y_val"


def _data(mnist):
    """The grader's training subset and validation split, both cut from the training set."""
    n = min(TRAIN_IMAGES + VALIDATION_IMAGES, len(mnist.x_train))
    n_train = n * TRAIN_IMAGES // (TRAIN_IMAGES + VALIDATION_IMAGES)
    x, y = mnist.x_train[:n], mnist.y_train[:n].astype(np.int64)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def _accuracy(student, mnist, width, seed, *, y_val=None, cached=True, shown=SHOWN):
    x_train, y_train, x_val, y_val_true = _data(mnist)
    y_val = y_val_true if y_val is None else y_val
    r = student.call(
        "validation_accuracy", x_train, y_train, x_val, y_val, shown=shown, cached=cached,
        expect="a float in [0, 1]: the fraction of validation images classified right", width=width, seed=seed,
    )
    value = r.value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) or not 0.0 <= float(value) <= 1.0:
        raise r.fail(
            f"Got {describe(value)}",
            cause="something other than the accuracy: the loss, the whole evaluate() list, or a percentage",
            hint="return the fraction of validation images whose most probable class is the label, a float between 0 and 1",
        )
    return r, float(value)


# ---------------------------------------------------------------- validation_accuracy


def test_validation_accuracy_learns(student, mnist):
    r, accuracy = _accuracy(student, mnist, 32, 0)
    if accuracy < LEARNS_BAR:
        raise r.fail(
            f"It returned {accuracy:.3f}",
            f"at least {LEARNS_BAR:.2f}: a width-32 network trained as the docstring says reaches about 0.88",
            cause="a model that was not trained (fit() not called, or on other data), or not the docstring's recipe",
            hint="build, compile and fit the model exactly as the docstring lists, then measure it on x_val",
        )


@depends_on(test_validation_accuracy_learns, earns="measuring on the right data")
def test_validation_accuracy_on_validation_data(student, mnist):
    _, _, _, y_val = _data(mnist)
    shuffled = np.random.default_rng(3).permutation(y_val)
    r, accuracy = _accuracy(student, mnist, 32, 0, y_val=shuffled, shown="x_train, y_train, x_val, shuffled_y_val")
    if accuracy > CHANCE_BAR:
        raise r.fail(
            f"With the validation labels shuffled it still returned {accuracy:.3f}",
            f"about 0.1 (chance, at most {CHANCE_BAR}): against shuffled labels no model can do better",
            cause="the accuracy is measured on the training images (or labels) instead of x_val and y_val",
            hint="predict on x_val and compare with y_val; the training data only goes into fit()",
        )


@depends_on(test_validation_accuracy_learns, earns="the width")
def test_validation_accuracy_uses_width(student, mnist):
    _, wide = _accuracy(student, mnist, 32, 0)
    r, narrow = _accuracy(student, mnist, NARROW, 0)
    if narrow > wide - NARROW_GAP:
        raise r.fail(
            f"With width={NARROW} it returned {narrow:.3f}, against {wide:.3f} with width=32",
            f"clearly less (at least {NARROW_GAP:.2f} below): {NARROW} hidden units are far too few for ten digits",
            cause="the hidden layer's size is fixed in the code instead of taken from `width`",
            hint="give the hidden Dense layer `width` units; the experiment varies nothing else",
        )


# ---------------------------------------------------------------- run_sweep


def _sweep(student, mnist):
    x_train, y_train, x_val, y_val = _data(mnist)
    return student.call(
        "run_sweep", x_train, y_train, x_val, y_val, shown=SHOWN, widths=WIDTHS, seeds=SEEDS,
        expect=f"a float array of shape ({len(WIDTHS)}, {len(SEEDS)}): one row per width, one column per seed",
    )


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


def _table(student, mnist):
    r = _sweep(student, mnist)
    return r, r.array().astype(np.float64)


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


def rerun_cell(table: np.ndarray) -> tuple[int, int]:
    """The cell to re-run: a hash of the table's values, rounded to 4 decimals."""
    digest = hashlib.sha256(np.round(np.asarray(table, dtype=np.float64), 4).tobytes()).hexdigest()
    index = int(digest[:12], 16) % table.size
    return divmod(index, table.shape[1])


@depends_on(test_run_sweep_uses_each_seed, earns="the re-run of a cell")
def test_run_sweep_matches_rerun(student, mnist):
    r, table = _table(student, mnist)
    i, j = rerun_cell(table)
    width, seed = WIDTHS[i], SEEDS[j]
    try:
        _, again = _accuracy(student, mnist, width, seed, cached=False)
    except NotGraded:
        raise  # the machine's fault, not the table's: graded again later
    except Feedback:
        raise Feedback(
            f"The table's cell for width {width}, seed {seed} could not be re-run: validation_accuracy() does not work yet",
            "validation_accuracy() to work first",
            cause="a table that does not come from validation_accuracy()",
            hint="fix validation_accuracy() first (its own checks say what is wrong)",
        ) from None
    if abs(again - table[i, j]) > RERUN_TOLERANCE:
        raise Feedback(
            f"The table says {table[i, j]:.4f} for width {width}, seed {seed}, but "
            f"validation_accuracy(..., width={width}, seed={seed}) re-run by the grader returned {again:.4f}",
            f"the same number within {RERUN_TOLERANCE} ({RERUN_TOLERANCE * VALIDATION_IMAGES:.0f} of the {VALIDATION_IMAGES:,} validation images)",
            called=r.called,
            cause="a validation_accuracy() that does not repeat itself for the same width and seed (the seed set after the "
            "model is built, or not at all), or cells not computed by validation_accuracy() with that width and seed",
            hint="fill table[i, j] with validation_accuracy(..., widths[i], seeds[j]) and nothing else; "
            "keras.utils.set_random_seed(seed) first makes each run repeatable",
        )


# ---------------------------------------------------------------- choose_width


def rule(widths, table) -> int:
    """The docstring's rule, written out: the narrowest width whose mean is
    within one sample standard deviation (of the best width's seeds) of the best mean."""
    table = np.asarray(table, dtype=np.float64)
    means = table.mean(axis=1)
    best = min((i for i in range(len(widths)) if means[i] == means.max()), key=lambda i: widths[i])
    floor = means[best] - table[best].std(ddof=1)
    return min((widths[i] for i in range(len(widths)) if means[i] >= floor), default=widths[best])


def _near_misses(widths, table) -> dict[str, int]:
    """What the usual wrong rules give, to name the likely cause."""
    table = np.asarray(table, dtype=np.float64)
    means = table.mean(axis=1)
    best = int(np.argmax(means))
    misses = {"the best mean alone": widths[best]}
    floor = means[best] - table[best].std()
    misses["np.std's default ddof=0 (the rule says the sample standard deviation, ddof=1)"] = min(w for w, m in zip(widths, means) if m >= floor)
    misses["each width's own spread instead of the best width's"] = min(
        w for w, m, row in zip(widths, means, table) if m + row.std(ddof=1) >= means[best]
    )
    misses["the first width in the list instead of the narrowest"] = next(
        w for w, m in zip(widths, means) if m >= means[best] - table[best].std(ddof=1)
    )
    return misses


# Tables where the rule and its near-misses disagree (means and spreads far
# from any boundary): (widths, table).
RULE_CASES = [
    # the widest is best, but 32 is within its spread: the rule picks 32, the best mean 128
    ([8, 32, 128], [[0.80, 0.82, 0.81, 0.79], [0.880, 0.900, 0.870, 0.890], [0.905, 0.875, 0.895, 0.885]]),
    # the best width's spread is small: only the best itself qualifies
    ([8, 32, 128], [[0.70, 0.72, 0.69, 0.71], [0.860, 0.870, 0.865, 0.855], [0.900, 0.902, 0.898, 0.900]]),
    # ddof matters: with ddof=1 (0.0122) width 32 qualifies (0.889 >= 0.8878), with ddof=0 (0.0106) it does not
    ([8, 32, 128], [[0.60, 0.61, 0.62, 0.60], [0.889, 0.889, 0.889, 0.889], [0.885, 0.915, 0.900, 0.900]]),
    # a noisy narrow width whose own spread would reach the best mean, but not the best width's spread
    ([16, 64, 256], [[0.75, 0.95, 0.70, 0.88], [0.90, 0.91, 0.90, 0.91], [0.930, 0.925, 0.935, 0.930]]),
    # widths not in order: the narrowest is 8, wherever it stands
    ([128, 8, 32], [[0.900, 0.880, 0.910, 0.890], [0.890, 0.895, 0.885, 0.890], [0.895, 0.890, 0.900, 0.885]]),
]


def _choose(student, widths, table, shown):
    return student.call(
        "choose_width", np.asarray(widths, dtype=np.int64), np.asarray(table, dtype=np.float64),
        shown=f"np.array({list(widths)}), {shown}", expect="(width, reason): a Python int from widths and a one-line str",
    )


def test_choose_width_types(student, mnist):
    widths, table = RULE_CASES[0]
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


@depends_on(test_choose_width_types, earns="the decision")
def test_choose_width_follows_rule(student, mnist, check):
    calls = [_choose(student, widths, table, f"table_{k + 1} (one of the grader's)") for k, (widths, table) in enumerate(RULE_CASES)]
    # A wrong rule is named only if it gives the student's answer on every table
    # (two wrong rules can agree on one table).
    consistent = None
    for r, (widths, table) in zip(calls, RULE_CASES):
        agree = {name for name, width in _near_misses(widths, table).items() if width == r.value[0]}
        consistent = agree if consistent is None else consistent & agree
    for r, (widths, table) in zip(calls, RULE_CASES):
        got, expected = r.value[0], rule(widths, table)
        if got != expected:
            means = np.asarray(table).mean(axis=1)
            misses = [name for name in _near_misses(widths, table) if name in consistent]
            raise r.fail(
                f"It chose {got} for a table whose means per width are {short(np.round(means, 4))} "
                f"and whose rows are {np.asarray(table).tolist()}",
                f"{expected}: the narrowest width whose mean is within one sample standard deviation "
                "(of the best width's seeds) of the best mean",
                cause=f"the choice follows {misses[0]}" if misses else "a rule other than the docstring's",
                hint="fix the rule before the results: means per row, the best mean, the best row's std with ddof=1, "
                "then the smallest width at or above best mean minus that spread",
            )
    # The student's own table, when run_sweep gives one: the decision must follow from it.
    try:
        test_run_sweep_shape(student, mnist)  # the table is judged only from a run_sweep whose shape check passes
        _, table = _table(student, mnist)
    except Feedback:
        return  # run_sweep's own checks say what is wrong; the rule is judged above
    r = _choose(student, WIDTHS, table, "the table run_sweep returned")
    got, expected = r.value[0], rule(WIDTHS, table)
    if got != expected:
        raise r.fail(
            f"On your own table (means {short(np.round(table.mean(axis=1), 4))}) it chose {got}",
            f"{expected}, which the rule gives for that table",
            cause="a choice made from something other than the table it is given",
            hint="decide from the `table` argument alone, by the docstring's rule",
        )
    reason = clean_text(r.value[1], 500).replace("\n", " ")
    check.record(
        "note",
        f"choose_width() chose {got} from the student's own sweep (widths {WIDTHS}, seeds {SEEDS}; "
        f"mean validation accuracy per width {short(np.round(table.mean(axis=1), 4))}); its reason, not graded: {reason}",
    )
