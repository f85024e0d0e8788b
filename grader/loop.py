"""The student's loop around the exercises: hints, progress, watch mode.

State (hint levels seen, last scores of exercises/) lives in
`.grader/state.json` at the course root, which git ignores
(`$MNIST_COURSE_STATE` points elsewhere, as the test suite does).
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from mnist_course.course import ROOT, Course, CourseError, Exercise, Function, load_course, solutions_elsewhere

from .reports.report import render_table, write_text
from .session import NAMED_TARGETS, is_stub_folder
from .settings import STATE_ENV, RunSettings



def state_file() -> Path:
    """Where the hint levels and last grading are kept: a student's progress, never a verdict."""
    return Path(os.environ.get(STATE_ENV) or ROOT / ".grader" / "state.json")


class State:
    """Hint levels seen, the last grading of exercises/ and the student's id (`grader --student`:
    whose variants they work on), kept between runs."""

    def __init__(self, data: Any, path: Path):
        # Only well-formed entries survive: a damaged file is a convenience lost, never a crash.
        data = data if isinstance(data, dict) else {}
        hints, progress = data.get("hints"), data.get("progress")
        self.path = path
        self.data = {
            "hints": {
                ex: {fn: level for fn, level in levels.items() if isinstance(level, int) and not isinstance(level, bool)}
                for ex, levels in (hints.items() if isinstance(hints, dict) else ())
                if isinstance(levels, dict)
            },
            "progress": {
                ex: record
                for ex, record in (progress.items() if isinstance(progress, dict) else ())
                if isinstance(record, dict)
                and isinstance(record.get("score"), (int, float))
                and isinstance(record.get("status"), str)
                and isinstance(record.get("failing", []), list)
            },
        }
        student = data.get("student")
        if isinstance(student, str) and student.strip():
            self.data["student"] = student

    @classmethod
    def load(cls, path: Path | None = None) -> "State":
        path = path or state_file()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # missing or damaged: start afresh
            data = {}
        return cls(data, path)

    def save(self) -> None:
        try:
            write_text(self.path, json.dumps(self.data, indent=2) + "\n")
        except OSError as exc:  # a read-only course folder must not stop grading
            print(f"grader: could not save progress to {self.path}: {exc}", file=sys.stderr)

    def record(self, report: dict[str, Any]) -> None:
        for ex in report["exercises"]:
            self.data["progress"][ex["id"]] = {
                "score": ex["score"],
                "max_score": ex["max_score"],
                "status": ex["status"],
                "failing": [c["name"] for c in ex["checks"] if c["status"] != "passed"],
                "graded_at": report["started_at"],
            }
        self.save()

    @property
    def student(self) -> str | None:
        """The student id `grader --student` remembered, or None."""
        return self.data.get("student")

    def remember_student(self, student: str) -> None:
        self.data["student"] = student
        self.save()

    def hint_level(self, exercise: Exercise, function: Function) -> int:
        return int(self.data["hints"].get(exercise.id, {}).get(function.name, 0))

    def set_hint_level(self, exercise: Exercise, function: Function, level: int) -> None:
        self.data["hints"].setdefault(exercise.id, {})[function.name] = level
        self.save()

    def progress(self, exercise: Exercise) -> dict[str, Any] | None:
        return self.data["progress"].get(exercise.id)


# ---------------------------------------------------------------- hints


def _function_for(exercise: Exercise, name: str | None, state: State) -> Function:
    """The function a hint is for: named (or named by one of its checks), else the first unfinished one."""
    if name:
        for fn in exercise.functions:
            if name == fn.name or name in fn.checks:
                return fn
        known = ", ".join(f.name for f in exercise.functions)
        raise CourseError(f"{exercise.id} has no function or check {name!r}; its functions: {known}")
    failing = set((state.progress(exercise) or {}).get("failing", exercise.checks))
    for fn in exercise.functions:
        if failing & set(fn.checks):
            return fn
    return exercise.functions[0]


def show_hint(exercise: Exercise, name: str | None, level: int | None, state: State) -> None:
    """Print hints one level at a time: each call reveals the next one and remembers it."""
    fn = _function_for(exercise, name, state)
    if level is None:
        level = min(state.hint_level(exercise, fn) + 1, len(fn.hints))
        state.set_hint_level(exercise, fn, level)
    level = max(1, min(level, len(fn.hints)))
    print(f'Hints for {exercise.id} · {fn.name}()  (lesson {exercise.lesson_number}, "{fn.section}")')
    for i, hint in enumerate(fn.hints[:level], start=1):
        print(f"  {i}. {hint}")
    if level < len(fn.hints):
        print(f"  ({len(fn.hints) - level} more: run `grader --hint {exercise.id} {fn.name}` again)")
    else:
        print(f'  That was the last hint. Reread lesson {exercise.lesson_number}, "{fn.section}", and the docstring.')


# ---------------------------------------------------------------- progress


def exercise_status(record: dict[str, Any] | None) -> str:
    if record is None or record["status"] == "not started":
        return "not started"
    return "passed" if record["status"] == "passed" else "in progress"


def _whose(exercise: Exercise, settings: RunSettings) -> str:
    """Where a run's variant of `exercise` comes from, in the student's words."""
    if exercise.id in dict(settings.variant_choices):
        return "chosen with --use-variant"
    if settings.student is None:
        return "the default: no student id given; in a class, run `grader --student YOUR-ID` once, as your instructor names you"
    return f"drawn from your student id {settings.student!r}"


def variant_lines(exercises: list[Exercise], settings: RunSettings) -> list[str]:
    """One line above a grading for each exercise graded on a variant."""
    lines = []
    for exercise in exercises:
        variant = settings.variant_of(exercise)
        if variant is not None:
            lines.append(f"{exercise.id} · your variant {variant.key!r} ({_whose(exercise, settings)}): {variant.says}. "
                         "`grader --variant` shows it again.")
    return lines


def show_variants(course: Course, exercises: list[Exercise], settings: RunSettings) -> None:
    """`grader --variant [EXERCISE...]`: each exercise's variant for this student, what it asks, and the others."""
    varied = [ex for ex in exercises if ex.variants]
    if not varied:
        print("None of these exercises has variants: every student does the same one.")
        return
    for exercise in varied:
        variant = settings.variant_of(exercise)
        print(f"{exercise.id} · {exercise.title}: your variant is {variant.key!r} ({_whose(exercise, settings)})")
        print(f"    {variant.says}")
        others = [v.key for v in exercise.variants if v.key != variant.key]
        print(f"    The others: {', '.join(others)}. The grader grades yours; to practise another: "
              f"grader {exercise.id} --use-variant {exercise.id}={others[0]}")


def show_progress(course: Course, state: State) -> None:
    marks = {"passed": "✓", "in progress": "~", "not started": "·"}
    print("Your progress in exercises/ (from the last grading of each exercise)")
    total = maximum = 0
    rows = []
    for ex in course.exercises:
        record = state.progress(ex)
        status = exercise_status(record)
        score = record["score"] if record else 0
        total, maximum = round(total + score, 2), maximum + ex.max_score
        rows.append((marks[status], ex.id, ex.title, f"{score:g}", str(ex.max_score), status))
    # Columns as wide as their longest entry, so long titles and partial scores stay aligned.
    width = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    for mark, ex_id, title, score, most, status in rows:
        print(f"  {mark} {ex_id:<{width[1]}} · {title:<{width[2]}}  {score:>{width[3]}}/{most:<{width[4]}}  {status}")
    print(f"Total: {total:g}/{maximum} points")
    upcoming = next((ex for ex in course.exercises if exercise_status(state.progress(ex)) != "passed"), None)
    if upcoming:
        print(f"Next: lesson {upcoming.lesson_number}, then `grader {upcoming.id}` (or `grader --watch`)")


def print_passed(report: dict[str, Any], target: Path) -> None:
    """Point a student who passed an exercise at the reference, to compare (as rustlings does),
    or, in a copy without solutions/ (a class's starter), say where the references are."""
    if target == NAMED_TARGETS["solutions"].resolve():
        return
    passed = [ex["id"] for ex in report["exercises"] if ex["status"] == "passed"]
    if passed and not NAMED_TARGETS["solutions"].is_dir():
        print(f"{', '.join(passed)} {'passes' if len(passed) == 1 else 'pass'}. To compare with the reference: {solutions_elsewhere()}.")
        return
    for ex_id in passed:
        filename = load_course().exercise(ex_id).filename
        print(f"{ex_id} passes. Compare your solution with the reference: solutions/{filename}")


# ---------------------------------------------------------------- watch


def _changes(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    if before is None:
        return ""
    old = {c["name"]: c["status"] for c in before["checks"]}
    now_passing = [c["name"] for c in after["checks"] if c["status"] == "passed" and old.get(c["name"]) != "passed"]
    now_failing = [c["name"] for c in after["checks"] if c["status"] != "passed" and old.get(c["name"]) == "passed"]
    parts = []
    if now_passing:
        parts.append("now passing: " + ", ".join(now_passing))
    if now_failing:
        parts.append("no longer passing: " + ", ".join(now_failing))
    return "; ".join(parts) or "no check changed"


def _stamp(path: Path):
    try:
        stat = path.stat()
        return stat.st_mtime_ns, stat.st_size
    except OSError:
        return None


def _wait_for_save(path: Path, since, poll: float) -> None:
    """Return once `path` differs from its state `since` (a save during grading counts too)."""
    while _stamp(path) == since:
        time.sleep(poll)


def watch(
    exercises: list[Exercise],
    target: Path,
    grade_one: Callable[[Exercise], dict[str, Any]],
    poll: float = 0.5,
) -> int:
    """Re-grade the current exercise on every save; move on once it passes."""
    queue = list(exercises)
    previous: dict[str, Any] | None = None
    while queue:
        exercise = queue[0]
        path = target / exercise.filename
        before = _stamp(path)
        report = grade_one(exercise)
        result = report["exercises"][0]
        print()
        print(render_table(report))
        if previous is not None:
            print(f"\n{_changes(previous, result)}")
        if result["status"] == "passed":
            print_passed(report, target)
            queue.pop(0)
            previous = None
            if queue:
                print(f"\nOn to {queue[0].id} · {queue[0].title} (lesson {queue[0].lesson_number}).")
            continue
        previous = result
        print(f"\nWatching {path} ({datetime.now():%H:%M:%S}): save it to re-grade, Ctrl-C to stop.", flush=True)
        _wait_for_save(path, before, poll)
    where = "exercises/" if is_stub_folder(target) else str(target)
    print(f"\nEvery exercise in {where} passes. Well done!")
    return 0
