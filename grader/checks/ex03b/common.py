"""What several of ex03b's check modules share: the sizes and purposes of what is drawn for each
file, the file's images, the grader's own runs, and the calls the checks make."""

from __future__ import annotations

import numpy as np

from grader.feedback import NotGraded, describe
from grader.references import ex03b_experiment as ref  # the declared protocol, run by the grader

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
FRAGILITY_PURPOSE = "ex03b tables with seeds left out"
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


def _data(student, mnist):
    """The submission's training subset and validation split, both drawn from the training set."""
    n = min(TRAIN_IMAGES + VALIDATION_IMAGES, len(mnist.x_train))
    n_train = n * TRAIN_IMAGES // (TRAIN_IMAGES + VALIDATION_IMAGES)
    chosen = np.sort(np.random.default_rng(student.split_seed).permutation(len(mnist.x_train))[:n])
    x, y = mnist.x_train[chosen], mnist.y_train[chosen].astype(np.int64)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


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


def _record_runs(check, runs) -> None:
    """What the report keeps of the comparison (benchmarks/replay.py reads it): each run, the student's and the grader's."""
    check.record("replayed", {"tolerance": RERUN_TOLERANCE, "runs": [
        {"width": w, "seed": s, "student": round(float(mine), 6), "grader": round(float(theirs), 6)} for w, s, mine, theirs in runs]})


def _sweep(student, mnist):
    x_train, y_train, x_val, y_val = _data(student, mnist)
    return student.call(
        "run_sweep", x_train, y_train, x_val, y_val, shown=SHOWN, widths=WIDTHS, seeds=SEEDS,
        expect=f"a float array of shape ({len(WIDTHS)}, {len(SEEDS)}): one row per width, one column per seed",
    )


def _table(student, mnist):
    r = _sweep(student, mnist)
    return r, r.array().astype(np.float64)


_MISMATCH_CAUSE = ("RULE at the top of your file, or the floor your code computes, is not your variant's (the file "
                   "starts with the first variant's), or the file was written for another variant: a classmate's, or "
                   "your own under another student id")


def _rule_key(variant) -> str:
    return variant.params["rule"] if variant else "one_sd"


