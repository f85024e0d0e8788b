"""Exercise 03b · An experiment with a decision: the graded checks.

The student's code trains small Keras models inside the worker, on data the
grader hands in: TRAIN_IMAGES and VALIDATION_IMAGES images of the course's
training set, labels included, drawn for each submission (grader/draws.py). The test set never
leaves the grader (the worker's sandbox has no network and no view of the
data file either; tests/test_sandbox.py proves both for this exercise).

What is judged:
- validation_accuracy() learns, measures on the validation split it is
  given (labels shuffled there must give chance), and uses its width;
- validation_accuracy() trains the model its docstring declares: its width-32,
  seed-0 run gives what the grader's own run of the protocol gives
  (grader/references/ex03b_experiment.py), within RERUN_TOLERANCE;
- run_sweep()'s table has one row per width and one column per seed, its
  seeds really differ, and one cell of each width, its seed drawn in the
  grader's process (grader/draws.py: from the run's key and the file's bytes,
  never from anything the submission sees or returns), holds what the grader's
  own run of the protocol gives for that width and seed. The images are drawn
  the same way, so no number can be known before the file exists: a table with
  invented cells, numbers looked up, a validation_accuracy() that trains
  something else, and one that remembers what it returned all fail;
- choose_width() applies the variant's rule (course.toml: RULE at the top of
  the file sets the floor below the best mean), on tables made here to tell the
  variants' rules and each rule's near-misses apart, and on the student's own
  table; a choice that is exactly another variant's on every table gets the
  message that names both (grader/variants.py `told_apart`). Its one-line reason
  is not graded: it goes to the report as a note for the instructor.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

from grader import variants
from grader.feedback import Feedback, NotGraded, describe, short
from grader.references import ex03b_experiment as ref  # the declared protocol, run by the grader
from grader.scoring import depends_on
from grader.isolation.safe_files import clean_text

TRAIN_IMAGES = 3000
VALIDATION_IMAGES = 1000
WIDTHS = [8, 32, 128]
SEEDS = [0, 1, 2]
# A run of the student's must give the grader's run of the same cell within this much: 0.005
# is 5 of the 1,000 validation images. The docstring's model trained with the same seed on the
# same images gives the same number bit for bit, in the worker as in the grader's own process
# (benchmarks/REPLAY.md: every honest run measured, none off by more than it); the margin only
# absorbs what other thread timings or another way of writing the same model could move.
RERUN_TOLERANCE = 0.005
# The purposes of what the grader draws for each submission (grader/draws.py): its images, and
# the seed of the cell of each width that the grader trains itself. Another purpose would draw
# every submission anew.
SPLIT_PURPOSE = "ex03b training subset and validation split"
RERUN_PURPOSE = "ex03b rerun cells"
RULE_CASES_PURPOSE = "ex03b rule tables"
# validation_accuracy()'s own checked run: the width and seed the grader compares with its own.
CHECKED_RUN = (32, 0)
# validation_accuracy(width=32) on a drawn split: the reference, trained for the 2 epochs its
# contract says, reaches 0.839-0.887 with seed 0 on six draws from mnist-22k (0.873-0.897 over
# seeds 0-3 on its first 4,000 images); a model that learned anything at all clears 0.80.
LEARNS_BAR = 0.80
# With the validation labels shuffled, an honest measurement is at chance (0.1; the
# reference: 0.098 and 0.099 on seeds 0 and 1).
CHANCE_BAR = 0.25
# Two hidden units cannot hold ten digits: the reference gets 0.21-0.33 there.
NARROW, NARROW_GAP = 2, 0.10

SHOWN = "x_train, y_train, x_val, y_val"


@pytest.fixture(scope="module", autouse=True)
def _drawn(student, settings):
    """What the grader draws for this submission (grader/draws.py), from the run's key and its
    file's bytes, read before any of its code runs: which training images form its training
    subset and validation split, which cells of its table the grader trains itself (one of
    each width, each with a seed of its own), and how choose_width()'s tables are moved
    (`ref.drawn_cases`). So no table can be prepared in advance: its every number depends on
    images the file could not know when it was written, and no choice can be looked up."""
    student.content = student.source_bytes()
    student.split_seed = settings.draw(SPLIT_PURPOSE, student.content)
    rng = np.random.default_rng(settings.draw(RERUN_PURPOSE, student.content))
    student.rerun_cells = [(width, SEEDS[int(rng.integers(len(SEEDS)))]) for width in WIDTHS]
    student.rule_cases = ref.drawn_cases(settings.draw(RULE_CASES_PURPOSE, student.content))
    yield


def _data(student, mnist):
    """The submission's training subset and validation split, both drawn from the training set."""
    n = min(TRAIN_IMAGES + VALIDATION_IMAGES, len(mnist.x_train))
    n_train = n * TRAIN_IMAGES // (TRAIN_IMAGES + VALIDATION_IMAGES)
    chosen = np.sort(np.random.default_rng(student.split_seed).permutation(len(mnist.x_train))[:n])
    x, y = mnist.x_train[chosen], mnist.y_train[chosen].astype(np.int64)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


@pytest.fixture(scope="module")
def declared(student, settings, mnist):
    """What the grader's own runs of the protocol give: validation_accuracy()'s checked run and
    the table's cells drawn for this submission, {(width, seed): accuracy}, on the submission's
    own images, trained before the student's code runs (the worker is stopped first, so the two
    never share the machine's memory). None while validation_accuracy() is the stub's: nothing
    of it would be compared."""
    if _as_the_stub_left_it(student.content, student.exercise.stub_path.read_bytes(), "validation_accuracy"):
        return None
    student.stop_worker()
    try:
        return ref.declared_accuracies(_data(student, mnist), [CHECKED_RUN, *student.rerun_cells], cache=settings.training_cache)
    except ref.ProtocolFailed as failed:
        return failed  # each check that needs it is not graded, saying why


def _as_the_stub_left_it(content: bytes, stub: bytes, function: str) -> bool:
    """Whether `function` in the file is still the stub's (or the file does not parse): then
    its checks say "not started", or the import's failure, and the grader trains nothing."""
    def body(source: bytes):
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # the import will say what is wrong
            return None
        return next((ast.dump(ast.Module(body=node.body, type_ignores=[])) for node in tree.body
                     if isinstance(node, ast.FunctionDef) and node.name == function), None)

    mine = body(content)
    return mine is None or mine == body(stub)


def _declared(declared, cell):
    """The grader's own run of `cell`, or NotGraded where it could not be made."""
    if isinstance(declared, ref.ProtocolFailed):
        raise NotGraded(f"The grader's own run of the experiment's protocol did not finish ({declared}): the machine's failure, "
                        "not your code's; this check is graded again on the next run")
    return declared[cell]


def _accuracy(student, mnist, width, seed, *, y_val=None, cached=True, shown=SHOWN):
    x_train, y_train, x_val, y_val_true = _data(student, mnist)
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


def _record_runs(check, runs) -> None:
    """What the report keeps of the comparison (benchmarks/replay.py reads it): each run, the student's and the grader's."""
    check.record("replayed", {"tolerance": RERUN_TOLERANCE, "runs": [
        {"width": w, "seed": s, "student": round(float(mine), 6), "grader": round(float(theirs), 6)} for w, s, mine, theirs in runs]})


def test_validation_accuracy_learns(student, mnist, declared, check):
    r, accuracy = _accuracy(student, mnist, *CHECKED_RUN)
    if accuracy < LEARNS_BAR:
        raise r.fail(
            f"It returned {accuracy:.3f}",
            f"at least {LEARNS_BAR:.2f}: a width-32 network trained as the docstring says reaches about 0.88",
            cause="a model that was not trained (fit() not called, or on other data), or not the docstring's recipe",
            hint="build, compile and fit the model exactly as the docstring lists, then measure it on x_val",
        )
    want = _declared(declared, CHECKED_RUN)
    _record_runs(check, [(*CHECKED_RUN, accuracy, want)])
    if abs(accuracy - want) > RERUN_TOLERANCE:
        raise r.fail(
            f"It returned {accuracy:.4f}; the docstring's model, trained by the grader on the same images with the same width and seed, "
            f"reaches {want:.4f}",
            f"the same number within {RERUN_TOLERANCE} ({RERUN_TOLERANCE * VALIDATION_IMAGES:.0f} of the {VALIDATION_IMAGES:,} "
            "validation images): every run of the experiment is a run of the declared model",
            cause="a model other than the docstring's (another layer, activation, optimizer, number of epochs or batch size), the seed "
            "set after the model is built, or an accuracy that does not come from training that model",
            hint="follow the docstring's recipe in its order: keras.utils.set_random_seed(seed) first, then build, compile and fit "
            "exactly that model, and measure it on x_val",
        )


@depends_on(test_validation_accuracy_learns, earns="measuring on the right data")
def test_validation_accuracy_on_validation_data(student, mnist):
    _, _, _, y_val = _data(student, mnist)
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
    x_train, y_train, x_val, y_val = _data(student, mnist)
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


# ---------------------------------------------------------------- choose_width

_MISMATCH_CAUSE = ("RULE at the top of your file, or the floor your code computes, is not your variant's (the file "
                   "starts with the first variant's), or the file was written for another variant: a classmate's, or "
                   "your own under another student id")


def _rule_key(variant) -> str:
    return variant.params["rule"] if variant else "one_sd"


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
_RULE_HINT = {
    "one_sd": "means per row, the best mean, the best row's std with ddof=1, then the smallest width at or above best mean minus that spread",
    "one_se": "means per row, the best mean, the best row's std with ddof=1 divided by the square root of its length, then the smallest "
              "width at or above best mean minus that standard error",
    "worst_seed": "means per row, the best mean's row, its lowest value, then the smallest width whose mean is at or above it",
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
                hint=f"fix the rule before the results: {_RULE_HINT[key]}",
            )
    # The student's own table, when run_sweep gives one: the decision must follow from it.
    try:
        test_run_sweep_shape(student, mnist)  # the table is judged only from a run_sweep whose shape check passes
        _, table = _table(student, mnist)
    except Feedback:
        return  # run_sweep's own checks say what is wrong; the rule is judged above
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
