"""Where a point is decided: the one place from a check's outcome to its points and status.

A check passes, or raises a `Feedback` (feedback.py). This module turns that
outcome into a row of the report, whatever the route (the command, a batch,
a cluster, Gradescope, nbgrader's cells: all run the checks through pytest and
plugin.py, whose `Reporter.finish` makes each row with reports/report.py's
`check_record`, which asks this module what the outcome is worth):

- **Points** come from course.toml (`CheckRun.points`), never from a check's
  code: a pass earns them all, `PartialCredit(fraction)` that share (only the
  accuracy checks raise it, the Keras ones through training/accuracy.py and ex02b's
  `train_test_accuracy` itself; `earned_fraction` is the band rule and
  `below_the_bar` the one message below it), anything else none.
- **Statuses:** `passed`; `failed` (partial credit included); `not started`
  (the stub's TODO is still there); `error` (the grader's failure: `NotGraded`
  or a crash in the grader, never a verdict, so the row says `retry`).
- **An exercise's status** (`exercise_status`) from its checks' statuses.
- **Dependencies are declared**, as check50 declares them beside each check:
  `@depends_on(test_x_values, earns="validating its input")` says that the check
  counts only once `x_values` passes. plugin.py asks `dependency_verdict`
  before the check runs, from the outcome the dependency already had in this
  run (it runs the dependency itself only when it was not selected, under `-k`,
  after the same rule for the dependency's own dependencies). A dependency that
  passed but earns nothing in the end (a by-hand function found to use a forbidden
  library) fails its dependents too: the report applies the rule once more to its
  final rows (reports/report.py, `point_to_dependency`).
  The dependents' message is written once, here (`counts_once`).
- **A failure the submission caused by exhausting its own limits** on several
  runs in a row becomes a failure (`exhausted_own_limits`), which a batch applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from mnist_course.course import Exercise

from .feedback import Feedback, NotGraded, NotStarted, PartialCredit

STATUSES = ("passed", "failed", "not started", "error")

# What a check may add to its row besides its verdict: the grader's measurement, the
# training's curves and confusion matrix, a note for the instructor, and the runs of an
# experiment the grader made again itself (ex03b: the student's number and the grader's).
EXTRAS = ("measured", "training", "note", "replayed")


@dataclass
class CheckRun:
    """One check as it runs: its exercise, its name and points (course.toml), and what
    it adds to its row (EXTRAS). A check gets it from the `check` fixture; the check
    library (training/model_checks.py) records through it and reads its points from it,
    with no pytest node in sight."""

    exercise: Exercise
    name: str
    extras: dict[str, Any] = field(default_factory=dict)
    # Its declared dependencies (`depends_on`), by name, and what it earns: the report applies
    # the rule again once every row is final (a dependency can earn nothing after it passed).
    dependencies: tuple[str, ...] = ()
    earns: str = ""

    @property
    def points(self) -> float:
        return self.exercise.checks.get(self.name, 0)

    def record(self, key: str, value: Any) -> None:
        if key not in EXTRAS:
            raise ValueError(f"a check records only {', '.join(EXTRAS)}, not {key!r}")
        self.extras[key] = value


def earned_fraction(accuracy: float, threshold: float, band: float) -> float:
    """The share of an accuracy check's points: all at `threshold` or above, none at
    threshold - band or below, linear between (course.toml's accuracy_band)."""
    return min(1.0, max(0.0, 1 - (threshold - accuracy) / band))


def below_the_bar(accuracy: float, threshold: float, band: float, *, dataset: str, half: str, test_images: int, points: float,
                  after: str = "", called: str = "", cause: str = "", hint: str = "", expected_note: str = "") -> PartialCredit:
    """An accuracy below its bar, said one way for every accuracy check (the Keras
    trainings and ex02b's by hand): by how much, in percentage points and in test
    images, what it earns of the check's points, what full points need. `after` says
    how the training ran ("after 5 epochs (12 s)")."""
    fraction = earned_fraction(accuracy, threshold, band)
    return PartialCredit(
        fraction,
        f"Test accuracy {accuracy:.2%} on the {half} half{' ' + after if after else ''}: "
        f"{(threshold - accuracy) * 100:.2f} percentage points below the bar ({round((threshold - accuracy) * test_images)} test images), "
        f"which earns {fraction * points:.2f} of this check's {points} points",
        f"at least {threshold:.2%} on {dataset}'s {half} half for full points (none at {threshold - band:.2%} or below)" + expected_note,
        called=called,
        cause=cause,
        hint=hint,
    )


def status_of(passed: bool, exc: BaseException | None) -> str:
    """A check's status from its outcome: a Feedback says its own; any other exception
    is the grader's failure."""
    if passed:
        return "passed"
    return exc.status if isinstance(exc, Feedback) else "error"


def score_of(points: float, status: str, exc: BaseException | None) -> float:
    """Points × 1 for a pass, × the fraction for partial credit, × 0 otherwise."""
    if status == "passed":
        return points
    return round(points * exc.fraction, 2) if isinstance(exc, PartialCredit) else 0


def needs_retry(status: str, exc: BaseException | None) -> bool:
    """Not the submission's verdict: the grader did not finish the check (grade again)."""
    return isinstance(exc, NotGraded) or status == "error"


def exercise_status(statuses: Iterable[str]) -> str:
    """An exercise's status from its checks': passed when all passed, not started when
    none was started, else incomplete."""
    statuses = set(statuses)
    return "passed" if statuses == {"passed"} else "not started" if statuses == {"not started"} else "incomplete"


def as_points(value: float) -> int | float:
    """Points as the grader writes them: a whole number when it is one, else rounded to hundredths."""
    value = round(float(value), 2)
    return int(value) if value.is_integer() else value


def total(scores: Iterable[float]) -> int | float:
    """A sum of points, written as points."""
    return as_points(sum(scores))


# --- declared dependencies ---------------------------------------------------------------

DEPENDS_ON = "_grader_depends_on"


def depends_on(*dependencies: Callable, earns: str = "validating or for leaving inputs alone") -> Callable:
    """Declare, beside a check, that it counts only once each of `dependencies` (other checks
    of the same exercise, defined above it) passes: rejecting bad input or leaving it alone
    earns points only for a function that does its job, never for one that does nothing.
    When a dependency was not graded (a safety clock fired) or not started, neither is
    this check, for the same reason."""
    if not dependencies:
        raise TypeError("depends_on needs at least one check")

    def declare(check: Callable) -> Callable:
        setattr(check, DEPENDS_ON, (dependencies, earns))
        return check

    return declare


def declared_dependencies(check: Callable) -> tuple[tuple[Callable, ...], str] | None:
    """(the checks it depends on, in the order declared; what it earns), or None."""
    return getattr(check, DEPENDS_ON, None)


def declared_names(check: Callable) -> tuple[tuple[str, ...], str]:
    """A check's declared dependencies by name, and what it earns; ((), "") for none."""
    declared = declared_dependencies(check)
    return ((), "") if declared is None else (tuple(check_name(d) for d in declared[0]), declared[1])


def check_name(test: Callable) -> str:
    return test.__name__.removeprefix("test_")


def counts_once(name: str, earns: str, used: tuple[str, str] | None = None) -> Feedback:
    """The one message of a check whose dependency did not pass; `used`, (function, library)
    where the dependency passed but earns nothing because its function used a library its
    by-hand exercise does not allow (reports/report.py, point_to_dependency)."""
    if used is not None:
        function, library = used
        return Feedback(
            f"This check counts once {name} passes, and {name} earns nothing: {function}() used {library}, which this exercise does not allow",
            f"{name} passing with {function}() written by hand",
            cause=f"a check that counts once {name} passes earns nothing for {earns} while {function}() uses a library for its work",
            hint=f"write {function}() with NumPy alone; this check counts again once {name} passes",
        )
    return Feedback(
        f"This check counts once {name} passes, and it does not yet",
        f"{name} passing first",
        cause=f"a function that does not do its job yet earns nothing for {earns}",
        hint=f"fix {name} first; its message says what is wrong",
    )


def what_it_said(problem: Feedback) -> str:
    """A failed check's own first sentence (after "Called …"), to quote in another's cause."""
    return problem.render().splitlines()[1 if problem.called else 0]


def earlier_check_failed(got: str, expected: str, reason: str) -> Feedback:
    """The one form of "not checked, because an earlier check failed" inside a check
    whose steps come one after another (a model's training waits on the checks of its
    model and settings; ex02b's training on its settings): `reason` is what that
    earlier check said."""
    return Feedback(got, expected, cause=reason[0].lower() + reason[1:], hint="fix that check first; its own message says more")


NOT_RUN = object()  # the dependency has no outcome in this run (it was not selected)


def dependency_verdict(check: Callable, outcome_of: Callable[[str], Any], run_it: Callable[[Callable], None],
                       ran: dict[str, Any] | None = None) -> None:
    """Raise what a check with a declared dependency must say before it runs, or return
    to let it run. `outcome_of(name)` is the dependency's outcome in this run: None for a
    pass, the exception it raised, or NOT_RUN; `run_it(test)` runs an unselected
    dependency now (raising what it raises), once its own dependencies allow it, and once
    only (`ran` keeps the outcomes of those run here, so a dependency two others share runs
    once). A dependency not started or not graded passes its own exception on (the
    dependent is not started or not graded either)."""
    declared = declared_dependencies(check)
    if declared is None:
        return
    ran = {} if ran is None else ran
    dependencies, earns = declared
    for dependency in dependencies:  # the first that did not pass speaks
        name = check_name(dependency)
        outcome = ran[name] if name in ran else outcome_of(name)
        if outcome is NOT_RUN:
            try:
                dependency_verdict(dependency, outcome_of, run_it, ran)  # its own dependencies first, as if it had been selected
                run_it(dependency)
                ran[name] = None
                continue
            except Feedback as raised:
                outcome = ran[name] = raised
        if outcome is None:
            continue
        if isinstance(outcome, (NotStarted, NotGraded)):
            raise outcome
        if isinstance(outcome, Feedback):
            raise counts_once(check_name(dependency), earns) from None
        raise outcome  # the grader failed on the dependency: an error here too, never a verdict


# --- a batch's rule for limits hit run after run ------------------------------------------

LIMITS_SAID = {"processes": "its limit of processes", "memory": "its memory limit", "disk": "the size of its writable folder"}


def exhausted_own_limits(check: dict[str, Any], runs: int, cause: list[str]) -> None:
    """A check not graded on `runs` runs in a row because the submission's code reached
    its own limits (`cause`), turned into the failure it has earned (in place)."""
    check.pop("retry", None)
    check.pop("limits", None)
    check.update(
        status="failed",
        score=0,
        message=(
            f"Not graded on {runs} runs in a row: each time, your code had reached {' and '.join(LIMITS_SAID.get(c, c) for c in cause)} "
            "and the grader could not finish this check. Graded as a failure: keep to one process, a few arrays in "
            "memory and no files, and the check will run."
        ),
        cause="the submission exhausted its own limits",
    )
