"""Grading inside a notebook: the test cells of the nbgrader course call `check`.

    from grader.notebook import check
    check("ex01", "normalize_values", globals())

`check` finds the notebook cell that defines each of the exercise's functions
(the kernel keeps each cell's source), takes from it that function with the
cell's imports, helpers and constants, writes them below the locked imports
cell as the exercise's module in a temporary folder, and grades that folder with
`python -m grader`, the same grader, sandbox and trainer as on the command
line, through the same runner as a batch (child_grader.py, one rule for the
grader's exit). The student's code therefore runs in the grader's worker
process, not in the notebook's kernel. A passing check prints one line; a
failing one raises `CheckFailed`, whose message is the grader's teaching
message and which Jupyter shows without a traceback into the grader. nbgrader
gives a test cell its points when it ends without an error, and 0 when it
raises. When a safety clock fired (a machine too slow or overloaded), or
memory ran out on a machine that gives less than the grader promises (issue
26), the checks it stopped raise `CheckNotGraded`, which says "not graded"
and how to grade again, and the checks that passed keep their points.

One grading per exercise and source: the other test cells of the exercise
reuse its report while the answer cells stay unchanged.

What this cannot protect: nbgrader runs the student's cells and the test
cells in one kernel, so code in an answer cell can replace this function
before the tests run (the grader's environment, at least, is the one the
locked cell saw). For grades that must hold against that, grade the
students' files with `grader --batch` (docs/INSTRUCTORS.md, "Grading").
"""

from __future__ import annotations

import hashlib
import inspect
import linecache
import os
import tempfile
from pathlib import Path
from typing import Any

from mnist_course.course import Exercise, load_course
from mnist_course.nbgrader_course import exercise_module, imports_mark

from .classroom import child_grader
from .reports.report import cause_heading, exercise_cause, measured_line, pointer
from .settings import STUDENT_ENV, RunSettings

_reports: dict[tuple[str, str], dict[str, Any]] = {}
# Per exercise and one cause: the check whose test cell said it in full, the first that met it in
# this kernel. Every other cell points there: a cell that ran above it and failed with that cause.
_cause_said_in: dict[tuple[str, str], str] = {}
# The environment when the notebook loaded this module (its locked cell above
# the answers): what an answer cell later sets in os.environ (another data
# file, a training cache, PYTHONPATH) never reaches the grader.
_ENVIRONMENT = dict(os.environ)
_FOLDER = Path.cwd()  # likewise the folder it ran in: where nbgrader's autograde names the student


def identity(environ: dict[str, str] | None = None, folder: Path | None = None) -> str | None:
    """Whose variants a notebook is graded on (grader/variants.py): $MNIST_COURSE_STUDENT where it
    is set; under `nbgrader autograde`, the student id nbgrader runs the notebook for (its
    course folder's `submitted/<student id>/<assignment>/`, nbgrader's directory structure);
    on a JupyterHub, the hub's user name, which nbgrader takes as the student id there; else
    None (every exercise's default variant). Read as the notebook saw them when this module loaded."""
    environ = _ENVIRONMENT if environ is None else environ
    folder = _FOLDER if folder is None else folder
    if STUDENT_ENV in environ:
        return environ[STUDENT_ENV].strip() or None
    if environ.get("NBGRADER_EXECUTION") == "autograde" and len(folder.parts) >= 3 and folder.parent.parent.name in ("submitted", "autograded"):
        return folder.parent.name
    return environ.get("JUPYTERHUB_USER", "").strip() or None


def _settings() -> RunSettings:
    """The run's settings as the notebook had them (nbgrader's config says the private half) and its identity."""
    return RunSettings.resolve(environ={**_ENVIRONMENT, STUDENT_ENV: identity() or ""})


def show_variant(exercise_id: str) -> None:
    """Print this student's variant of an exercise and what it asks (the notebooks of varied exercises call it)."""
    exercise = load_course().exercise(exercise_id)
    settings = _settings()
    variant = settings.variant_of(exercise)
    if variant is None:
        return
    whose = f"drawn from your student id {settings.student!r}" if settings.student else "the default: no student id is known here"
    print(f"{exercise.id} · your variant {variant.key!r} ({whose}): {variant.says}.")


class CheckFailed(AssertionError):
    """A check that did not pass, shown as its message alone."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for how an error is shown
        return [f"✗ {self}"]


class CheckNotGraded(CheckFailed):
    """A check the grader could not judge (a safety clock fired on a slow machine): not a verdict."""

    def _render_traceback_(self) -> list[str]:
        return [f"… {self}"]


def _answer(exercise: Exercise, name: str, value: Any) -> tuple[str, int]:
    """(source of the cell that defined `value`, line of its `def`), or why not."""
    function = inspect.unwrap(value) if callable(value) else value
    code = getattr(function, "__code__", None)
    entry = linecache.cache.get(code.co_filename) if code is not None else None
    # A notebook cell: defined in __main__, and kept by the kernel with no file behind it.
    if getattr(function, "__module__", None) != "__main__" or entry is None or entry[1] is not None:
        origin = getattr(function, "__module__", None) or type(value).__name__
        raise CheckFailed(
            f"{name} is not your function from this notebook: it comes from {origin}. "
            f"A later cell replaced it (an import, or an assignment). Run the answer cell of "
            f"{name}() again, then this one."
        )
    return "".join(entry[2]), code.co_firstlineno


def _imports_cell(exercise: Exercise, namespace: dict[str, Any]) -> str:
    """The locked imports cell, as the kernel last ran it (IPython's `In`)."""
    history = namespace.get("In")
    if not isinstance(history, list):
        raise CheckFailed("check() grades the cells of a Jupyter notebook; run it in one (Jupyter, JupyterLab, Colab).")
    mark = imports_mark(exercise)
    for source in reversed(history):
        if isinstance(source, str) and source.startswith(mark):
            return source
    raise CheckFailed(f"Run the imports cell at the top of the notebook first (the one that starts with `{mark[:40]}…`), then this one.")


def module_source(exercise: Exercise, namespace: dict[str, Any]) -> tuple[str, list[str]]:
    """The exercise's module as this notebook defines it (see
    mnist_course.nbgrader_course.exercise_module), and what it left out."""
    answers = {f.name: _answer(exercise, f.name, namespace[f.name]) for f in exercise.functions if namespace.get(f.name) is not None}
    return exercise_module(exercise, _imports_cell(exercise, namespace), answers)


def _show_progress(line: str) -> None:
    """Training progress comes on the grader's stderr: shown here on stdout,
    because nbgrader scores a test cell that writes to stderr 0."""
    if " training: epoch " in line:
        print(line, flush=True)


def _grade(exercise: Exercise, source: str) -> dict[str, Any]:
    """Grade the module with the course's grader (child_grader: the same runner and
    the same rule for its exit as a batch); its JSON report, which says `retry` on
    the checks a safety clock stopped."""
    with tempfile.TemporaryDirectory(prefix="mnist-notebook-") as tmp:
        folder = Path(tmp) / "submission"
        folder.mkdir()
        (folder / exercise.filename).write_text(source, encoding="utf-8")
        print(f"Grading {exercise.id} · {exercise.title} with the course's grader…", flush=True)
        # No clock of its own: nbgrader's timeout (or the student's interrupt) stops the cell, and the grader with it.
        settings = _settings()
        result = child_grader.grade_folder(folder, [exercise.id], env=settings.child_environment(_ENVIRONMENT), on_line=_show_progress)
    if "error" in result:  # the grader's failure (killed for memory, say), never the code's: not graded
        raise CheckNotGraded(
            f"Not graded: the grader could not run: {result['error']}\n{result['log']}\n"
            "This is not a judgement of your code; run this cell again on a machine with the memory and time the course needs "
            "(platforms/README.md, \"Memory\")."
        )
    return result


def _not_graded(check_name: str, message: str) -> CheckNotGraded:
    return CheckNotGraded(
        f"{check_name}: not graded\n{message}\n"
        "This cell scores 0 only until it is graded again (nbgrader has no \"not graded\" for a test cell). "
        "In your own notebook: restart the kernel and run all cells. Instructors: `nbgrader autograde ASSIGNMENT --force` "
        "on a machine that keeps up (MNIST_COURSE_SAFETY_FACTOR=2 gives a slower one twice the time) and gives the "
        "memory the message names."
    )


def _one_cause(graded: dict[str, Any], row: dict[str, Any], first: str) -> str:
    """A check not checked because of the exercise's one cause (its module could not be
    imported, or a by-hand function used a library): the cause in full in the test cell of
    `first`, the first check that met this cause in the kernel, and a pointer to that cell in
    the others. Not the exercise's first check: a later answer cell can break the import, and
    the cells above it ran against the module before it and passed."""
    if row["name"] == first:
        return f"{row['name']}: {row['status']}\n{cause_heading(graded)}\n{exercise_cause(graded)[1]['message']}"
    return f"{row['name']}: {row['status']}\n{pointer(graded, row, where=f'in the test cell of {first}')}"


def check(exercise_id: str, check_name: str, namespace: dict[str, Any]) -> float | None:
    """Grade one check of an exercise against the functions in `namespace`: None
    when it passes, the points earned when it earns part of them, else CheckFailed."""
    exercise = load_course().exercise(exercise_id)
    if check_name not in exercise.checks:
        raise CheckFailed(f"{exercise.id} has no check {check_name!r}")
    source, dropped = module_source(exercise, namespace)
    key = (exercise.id, hashlib.sha256(source.encode("utf-8")).hexdigest())
    if key not in _reports:
        if dropped:
            print(f"Not graded (top-level code in your answer cells): {'; '.join(dropped[:3])}" + (" …" if len(dropped) > 3 else ""))
        _reports[key] = _grade(exercise, source)
    report = _reports[key]
    if "exercises" not in report:  # the whole grading passed its safety limit (a runner with a clock)
        raise _not_graded(check_name, f"Not graded: {report['retry']}")
    rows = [c for ex in report["exercises"] for c in ex["checks"] if c["name"] == check_name]
    if not rows:
        raise CheckFailed(f"The grader's report has no result for {check_name}")
    row = rows[0]
    graded = next(ex for ex in report["exercises"] if ex["id"] == exercise.id)
    if exercise_cause(graded)[0] is None:  # no cause now: one that comes back is said in full again
        for said in [said for said in _cause_said_in if said[0] == exercise.id]:
            del _cause_said_in[said]
    if row.get("not_checked"):  # the exercise's one cause: one cell says why, the others point to it
        said = (exercise.id, exercise_cause(graded)[1]["message"])
        raise CheckFailed(_one_cause(graded, row, _cause_said_in.setdefault(said, check_name)))
    if row.get("retry"):  # a safety clock fired: not a verdict on the code; the checks that passed stand
        raise _not_graded(check_name, row["message"])
    if row["status"] == "failed" and row["score"] > 0:
        # Part of the points (an accuracy inside its band below the bar): nbgrader
        # takes a number a test cell evaluates to as that cell's partial credit.
        print(f"{check_name}: {row['score']}/{row['max_score']} points\n{row['message']}")
        return row["score"]
    if row["status"] != "passed":
        raise CheckFailed(f"{check_name}: {row['status']}\n{row['message']}")
    measured = row.get("measured")
    extra = f" ({measured_line(measured)})" if measured else ""
    print(f"✓ {check_name}: {row['score']}/{row['max_score']} points{extra}")
