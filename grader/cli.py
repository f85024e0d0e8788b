"""`grader` (or `python -m grader`): grade exercises and print the score table.

    grader                          grade every exercise in exercises/
    grader ex01                     grade one exercise (ex01, 01 or 1)
    grader --target solutions       grade the reference solutions
    grader --target DIR             grade a student's folder of exercise files
    grader --data PATH              MNIST .npz or IDX folder (else $MNIST_COURSE_DATA, else Keras)
    grader --json report.json       also write the machine-readable report
    grader --hint ex01 [FUNCTION]   the hints for an exercise

Exit status: 0 every check passed, 1 some check did not pass, 2 the grader
could not run (bad arguments, no data, a broken grader).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from mnist_course.course import CourseError, Exercise, load_course
from mnist_course.data import DataError

from .report import Gradebook, build_report, data_summary, render_table, write_json
from .session import GRADER_DIR, TargetError, load_data, resolve_target
EXIT_PASSED, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2
MARKS = {"passed": ".", "failed": "F", "not started": "-", "error": "E"}


class Progress:
    """Shows which exercise is being graded, one mark per finished check."""

    def __init__(self, exercises: list[Exercise]):
        self.titles = {ex.module: f"{ex.id} · {ex.title}" for ex in exercises}
        self.current: str | None = None
        self.collect_errors: list[str] = []

    def pytest_runtest_logstart(self, nodeid: str, location) -> None:
        module = Path(nodeid.split("::")[0]).stem.removeprefix("test_")
        if module != self.current:
            if self.current is not None:
                print(flush=True)
            self.current = module
            print(f"Grading {self.titles.get(module, module)} ", end="", flush=True)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, row in report.user_properties:
            if key == "grade":
                print(MARKS[row["status"]], end="", flush=True)

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {str(report.longrepr).strip().splitlines()[-1]}")

    def pytest_sessionfinish(self) -> None:
        if self.current is not None:
            print(flush=True)


def show_hints(exercise: Exercise, function: str | None, level: int) -> int:
    functions = [exercise.function(function)] if function else list(exercise.functions)
    print(f"Hints for {exercise.id} · {exercise.title}")
    for fn in functions:
        print(f'\n{fn.name}()  (lesson {exercise.lesson_number}, "{fn.section}")')
        for i, hint in enumerate(fn.hints[:level], start=1):
            print(f"  {i}. {hint}")
        if level < len(fn.hints):
            print(f"  ({len(fn.hints) - level} more: --level {level + 1})")
    return EXIT_PASSED


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="grader",
        description="Grade the MNIST course's exercises.",
        epilog="Exit status: 0 all checks passed, 1 some did not, 2 the grader could not run.",
    )
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE", help="ids to grade (default: all), e.g. ex01")
    parser.add_argument("--target", help="folder to grade: exercises (default), solutions, or a path")
    parser.add_argument("--data", help="MNIST .npz file or IDX folder (default: $MNIST_COURSE_DATA, then Keras)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report to FILE")
    parser.add_argument("--hint", metavar="EXERCISE", help="show hints for an exercise instead of grading")
    parser.add_argument("--level", type=int, default=1, help="how many hints per function to show (default 1)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        course = load_course()
        if args.hint:
            exercise = course.exercise(args.hint)
            function = args.exercises[0] if args.exercises else None
            if function and function not in [f.name for f in exercise.functions]:
                raise CourseError(f"{exercise.id} has no function {function!r}")
            return show_hints(exercise, function, max(1, args.level))
        exercises = [course.exercise(key) for key in args.exercises] or list(course.exercises)
        target = resolve_target(args.target)
        if args.json and not os.access(args.json.resolve().parent, os.W_OK):
            raise TargetError(f"cannot write the report to {args.json}: its folder is missing or read-only")
        mnist = load_data(args.data)
    except (CourseError, TargetError, DataError) as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE

    print(f"Data: {mnist.provenance.describe()}")
    started, t0 = datetime.now(), time.perf_counter()
    gradebook, progress = Gradebook(), Progress(exercises)
    # The graders' own config (-c) makes grader/ the rootdir: no configuration
    # or conftest.py from the student's folder or the environment is read.
    for variable in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        os.environ.pop(variable, None)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    pytest_args = [
        *(str(ex.grader_path) for ex in exercises),
        "-c", str(GRADER_DIR / "pytest.ini"),
        "-p", "no:terminal",
        f"--target={target}",  # one token each: a value can never be taken for a test path
    ]
    if args.data:
        pytest_args.append(f"--data={args.data}")
    code = pytest.main(pytest_args, plugins=[gradebook, progress])

    report = build_report(
        course,
        exercises,
        gradebook.rows,
        target=target,
        data=data_summary(mnist),
        started=started,
        seconds=time.perf_counter() - t0,
    )
    print()
    print(render_table(report))
    for error in progress.collect_errors:
        print(f"grader: could not load {error}", file=sys.stderr)
    if args.json:
        try:
            write_json(report, args.json)
        except OSError as exc:
            print(f"grader: could not write {args.json}: {exc}", file=sys.stderr)
            return EXIT_UNUSABLE
        print(f"Report written to {args.json}")
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or progress.collect_errors:
        print(f"grader: pytest could not run the graders (exit {int(code)})", file=sys.stderr)
        return EXIT_UNUSABLE
    return EXIT_PASSED if report["score"] == report["max_score"] else EXIT_FAILED
