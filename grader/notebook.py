"""Grading inside a notebook: the test cells of the nbgrader course call `check`.

    from grader.notebook import check
    check("ex01", "normalize_values", globals())

`check` finds the notebook cells that define the exercise's functions (the
kernel keeps each cell's source), writes them below the exercise's imports
as the exercise's module in a temporary folder, and grades that folder with
`python -m grader`, the same grader, sandbox and trainer as on the command
line. The student's code therefore runs in the grader's worker process, not
in the notebook's kernel. A passing check prints one line; a failing one
raises `CheckFailed`, whose message is the grader's teaching message and
which Jupyter shows without a traceback into the grader. nbgrader gives a
test cell its points when it ends without an error, and 0 when it raises.

One grading per exercise and source: the other test cells of the exercise
reuse its report while the answer cells stay unchanged.

What this cannot protect: nbgrader runs the student's cells and the test
cells in one kernel, so code in an answer cell can replace this function
before the tests run. For grades that must hold against that, grade the
students' files with `grader --batch` (README, "Grading a class").
"""

from __future__ import annotations

import hashlib
import json
import linecache
import subprocess
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

from mnist_course.course import ROOT, Exercise, load_course
from mnist_course.nbgrader_course import exercise_module

from .report import measured_line

_reports: dict[tuple[str, str], dict[str, Any]] = {}


class CheckFailed(AssertionError):
    """A check that did not pass, shown as its message alone."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook for how an error is shown
        return [f"✗ {self}"]


def _cell_source(function: Any) -> str | None:
    """The whole source of the cell (or file) that defined `function`."""
    code = getattr(function, "__code__", None)
    if code is None:
        return None
    lines = linecache.getlines(code.co_filename)
    return "".join(lines) or None


def module_source(exercise: Exercise, namespace: dict[str, Any]) -> str:
    """The exercise's module as this notebook defines it: the cell of each of
    its functions (a function not defined yet keeps the stub's body)."""
    answers = {}
    for function in exercise.functions:
        value = namespace.get(function.name)
        if value is not None:
            answers[function.name] = _cell_source(value)
            if answers[function.name] is None:
                raise CheckFailed(
                    f"{function.name} is {type(value).__name__}, not a function defined in this notebook. "
                    f"Run the cell that defines {function.name}() again, then this one."
                )
    return exercise_module(exercise, answers)


def _grade(exercise: Exercise, source: str) -> dict[str, Any]:
    """Grade the module with the course's grader; its JSON report."""
    with tempfile.TemporaryDirectory(prefix="mnist-notebook-") as tmp:
        folder = Path(tmp) / "submission"
        folder.mkdir()
        (folder / exercise.filename).write_text(source, encoding="utf-8")
        report_file = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "grader", exercise.id, "--target", str(folder), "--json", str(report_file)]
        print(f"Grading {exercise.id} · {exercise.title} with the course's grader…", flush=True)
        # Training progress comes on the grader's stderr: shown here on stdout,
        # because nbgrader scores a test cell that writes to stderr 0.
        process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        last = deque(maxlen=5)
        for line in process.stderr:
            if " training: epoch " in line:
                print(line.rstrip(), flush=True)
            elif line.strip():
                last.append(line.rstrip())
        code = process.wait()
        if code not in (0, 1) or not report_file.is_file():
            why = "\n".join(last) or "no message"
            raise CheckFailed(f"The grader could not run (exit status {code}):\n{why}")
        return json.loads(report_file.read_text(encoding="utf-8"))


def check(exercise_id: str, check_name: str, namespace: dict[str, Any]) -> None:
    """Grade one check of an exercise against the functions in `namespace`."""
    exercise = load_course().exercise(exercise_id)
    if check_name not in exercise.checks:
        raise CheckFailed(f"{exercise.id} has no check {check_name!r}")
    source = module_source(exercise, namespace)
    key = (exercise.id, hashlib.sha256(source.encode("utf-8")).hexdigest())
    if key not in _reports:
        _reports[key] = _grade(exercise, source)
    report = _reports[key]
    rows = [c for ex in report["exercises"] for c in ex["checks"] if c["name"] == check_name]
    if not rows:
        raise CheckFailed(f"The grader's report has no result for {check_name}")
    row = rows[0]
    if row["status"] != "passed":
        raise CheckFailed(f"{check_name}: {row['status']}\n{row['message']}")
    measured = row.get("measured")
    extra = f" ({measured_line(measured)})" if measured else ""
    print(f"✓ {check_name}: {row['score']}/{row['max_score']} points{extra}")
