"""Scores from pytest's reports: the gradebook, the table and the JSON report.

Every check is one pytest test; `check_record` turns its outcome into a row
(status, score, teaching message). The `Reporter`, one per run, keeps the rows
as checks finish (plugin.py hands it each outcome) and builds the report:
`build_report` fills in any check that never ran (so one broken grader file
never hides the others) and adds the totals.
The JSON layout is documented in grader/README.md and grader/reports/report.schema.json.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from mnist_course.budget import SAFETY_FLOPS_PER_S, flops
from mnist_course.course import Course, Exercise, Variant

from .. import scoring
from ..feedback import CannotImport, Feedback, LibraryUsed
from ..scoring import STATUSES, CheckRun
from ..variants import record as variant_record
from .written import section, summary as written_summary
from .. import provenance
from ..provenance import GRADER_VERSION, LIBRARIES

SCHEMA_VERSION = 1


def check_record(exercise: Exercise, check: str, report: pytest.TestReport, excinfo) -> dict[str, Any]:
    """The row for one check from its pytest report: status, points and retry as
    scoring.py decides them, and the message with its lesson section."""
    points = exercise.checks.get(check, 0)
    function = exercise.function_of_check(check) if check in exercise.checks else None
    exc = excinfo.value if excinfo is not None else None
    status = scoring.status_of(report.passed, exc)
    if status == "passed":
        message = ""
    elif isinstance(exc, Feedback):
        message = taught(exercise, check, exc)
    else:
        what = f"{type(exc).__name__}: {exc}" if exc is not None else str(report.longrepr)[-300:]
        message = (
            f"The grader could not finish this check ({what}). "
            "This is not a mistake in your code; please report it to the course maintainers."
        )
    row = {
        "name": check,
        "function": function.name if function else None,
        "status": status,
        "score": scoring.score_of(points, status, exc),
        "max_score": points,
        "message": message,
        "seconds": round(report.duration, 3),
    }
    if isinstance(exc, Feedback) and exc.cause:  # the grader's own diagnosis, apart from any text a student's code produced
        row["cause"] = exc.cause.rstrip(".")
    if scoring.needs_retry(status, exc):
        row["retry"] = True  # the grader's failure, not the submission's: never a final grade, grade again
    return row


def taught(exercise: Exercise, check: str, problem: Feedback) -> str:
    """A teaching message as a row says it: the message, then the lesson section of the check's function."""
    function = exercise.function_of_check(check) if check in exercise.checks else None
    where = f'\nSee lesson {exercise.lesson_number}, "{function.section}" · more: grader --hint {exercise.id}' if function is not None else ""
    return problem.render() + where


def point_to_dependency(row: dict[str, Any], exercise: Exercise, rows: dict[tuple[str, str], dict[str, Any]],
                        dependencies: tuple[str, ...], earns: str, used: dict[str, str]) -> dict[str, Any]:
    """A check that declared dependencies (scoring.depends_on) and earned points, once every row
    is final: where a dependency did not pass in the end, it counts nothing, with the dependents'
    one message. Before it ran, every dependency had passed; one fails after it only by the by-hand
    library rule (point_to_library: `used`, its exercise's functions that used a forbidden library),
    which also holds for a dependency that ran under `-k` and left no row. A row that earned
    nothing keeps its own message (a failure of its own, a cause of its own)."""
    if row["status"] not in ("passed", "failed") or row.get("not_checked") or row["score"] == 0:
        return row
    for name in dependencies:
        dependency, function = rows.get((exercise.id, name)), exercise.function_of_check(name).name
        if (dependency is None and function in used) or (dependency is not None and dependency["status"] != "passed"):
            problem = scoring.counts_once(name, earns, (function, used[function]) if function in used else None)
            return {**row, "status": "failed", "score": scoring.score_of(row["max_score"], "failed", problem),
                    "message": taught(exercise, row["name"], problem), "cause": problem.cause.rstrip(".")}
    return row


def not_checked(exercise_id: str, filename: str, where: str = "") -> str:
    """The one line a failed check shows when its exercise's file could not be imported;
    `where` the cause is said, on a page without an exercise's top (nbgrader's cells)."""
    return f"Not checked: {filename} could not be imported; see the cause {where or f'at the top of {exercise_id}'}."


def used_a_library(exercise_id: str, function: str, name: str, where: str = "") -> str:
    """The one line each check of a by-hand exercise's function that used a forbidden library shows."""
    return f"Not checked: {function}() used {name}, which {exercise_id} does not allow; see the cause {where or f'at the top of {exercise_id}'}."


def pointer(exercise: dict[str, Any], check: dict[str, Any], where: str = "") -> str:
    """A not-checked row's line, from the exercise's report: it points to the exercise's one cause."""
    kind, cause = exercise_cause(exercise)
    if kind == LibraryUsed.kind:
        return used_a_library(exercise["id"], check["function"], cause["functions"][check["function"]], where)
    return not_checked(exercise["id"], cause["file"], where)


def exercise_cause(exercise: dict[str, Any]) -> tuple[str, dict[str, Any]] | tuple[None, None]:
    """An exercise report's one cause, said once at its top, and its kind: its file could not be
    imported (`import_failure`), or a by-hand exercise's functions used a forbidden library
    (`by_hand`). A file that could not be imported ran no function, so never both."""
    for kind in (CannotImport.kind, LibraryUsed.kind):
        if exercise.get(kind):
            return kind, exercise[kind]
    return None, None


def one_cause(exercise: Exercise, problem: CannotImport | LibraryUsed) -> dict[str, Any]:
    """The exercise's one cause, said once (its report's `import_failure` or `by_hand`): the file,
    the teaching message in full, the grader's diagnosis, and (by_hand) each function's use;
    `kind` names the report's field that holds it."""
    cause = {"kind": problem.kind, "file": exercise.filename, "message": problem.render(), **({"cause": problem.cause.rstrip(".")} if problem.cause else {})}
    if isinstance(problem, LibraryUsed):
        cause["functions"] = dict(problem.used)
    return cause


def point_to_cause(row: dict[str, Any], exercise: Exercise, problem: CannotImport) -> dict[str, Any]:
    """A failed check of an exercise whose file could not be imported: its status and
    points stay as they are; its message becomes a pointer to the exercise's one cause,
    and `not_checked` names the exercise's field that holds it. Every check calls the
    file, so no failure of the exercise can be anything else (a dependent's "counts once"
    included); a check that passed or was not graded keeps its own row."""
    if row["status"] != "failed":
        return row
    row = {**row, "message": not_checked(exercise.id, exercise.filename), "not_checked": CannotImport.kind}
    row.pop("cause", None)  # the diagnosis is the exercise's, in import_failure
    return row


def point_to_library(row: dict[str, Any], exercise: Exercise, used: dict[str, str]) -> dict[str, Any]:
    """A check of a by-hand exercise's function that used a forbidden library, in this
    check or any other: it earns nothing, whatever it measured (scoring.py), and its
    message points to the exercise's one cause. A check the grader could not judge
    ("error") keeps its row: it is graded again."""
    function = row.get("function")
    if function not in used or row["status"] not in ("passed", "failed"):
        return row
    status = "failed"
    row = {**row, "status": status, "score": scoring.score_of(row["max_score"], status, None),
           "message": used_a_library(exercise.id, function, used[function]), "not_checked": LibraryUsed.kind}
    row.pop("cause", None)  # the diagnosis is the exercise's, in by_hand
    return row


class Reporter:
    """A score's one path, made once per run (by `grader`, or by the plugin for
    `pytest grader`): the plugin starts a CheckRun for each check, and hands its
    outcome to `finish`, which makes the row (check_record, with the run's extras)
    and keeps it; `report` builds the JSON report from the rows. `listeners` see each
    row as it is made (the command's progress marks)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.causes: dict[str, dict[str, Any]] = {}  # per exercise: its file's import failure (import_failure)
        self.library_used: dict[str, dict[str, str]] = {}  # per by-hand exercise: each function that used a forbidden library
        self.written: dict[str, dict[str, Any]] = {}  # per exercise with written questions: its answers (written.py)
        self.dependencies: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {}  # per check that declares some: (their names, what it earns)
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def start(self, exercise: Exercise, name: str, dependencies: tuple[str, ...] = (), earns: str = "") -> CheckRun:
        """A check's run; `dependencies` and `earns`, its declaration (scoring.declared_names)."""
        return CheckRun(exercise, name, dependencies=dependencies, earns=earns)

    def finish(
        self, run: CheckRun, outcome: pytest.TestReport, excinfo, limits: list[str] = (), import_problem: CannotImport | None = None,
        library_used: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The check's row; `import_problem`, the exercise's file's failure to import
        (Student.import_problem), is said once, at the exercise, and the row points to it.
        `library_used` (Student.library_used, so far): a by-hand exercise's functions that
        used a forbidden library; `report` applies it to every row, earlier ones included."""
        row = check_record(run.exercise, run.name, outcome, excinfo)
        if import_problem is not None:
            row = point_to_cause(row, run.exercise, import_problem)
            if row.get("not_checked"):
                self.causes.setdefault(run.exercise.id, one_cause(run.exercise, import_problem))
        if library_used:
            self.library_used[run.exercise.id] = dict(library_used)
            row = point_to_library(row, run.exercise, library_used)
        if limits and (row["status"] == "error" or row.get("retry")):  # the submission's code hit its own limits
            row["limits"] = sorted(limits)
        row.update({key: value for key, value in run.extras.items() if value is not None})
        row = {"exercise": run.exercise.id, **row}
        self.rows[(run.exercise.id, run.name)] = row
        if run.dependencies:
            self.dependencies[(run.exercise.id, run.name)] = (run.dependencies, run.earns)
        for listener in self.listeners:
            listener(row)
        return row

    def report(self, course: Course, exercises: list[Exercise], **run: Any) -> dict[str, Any]:
        """The report of this run (build_report's keywords: half, target, data, started, seconds, interrupted)."""
        rows, causes = self.final_rows(exercises)
        return build_report(course, exercises, rows, causes=causes, written=self.written, **run)

    def final_rows(self, exercises: list[Exercise]) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, dict[str, Any]]]:
        """(every row, every exercise's one cause) once the run is over: a function found to use a
        forbidden library costs its checks that finished before, and the checks that count once
        one of those passes."""
        rows, causes = dict(self.rows), dict(self.causes)
        for exercise in exercises:
            used = self.library_used.get(exercise.id, {})
            if used:
                for key in [key for key in rows if key[0] == exercise.id]:
                    rows[key] = point_to_library(rows[key], exercise, used)
            zeroed = []
            for name in exercise.checks:  # in course.toml's order, which is the checks' own: a chain settles in one pass
                key = (exercise.id, name)
                if key in self.dependencies and key in rows:
                    before, rows[key] = rows[key], point_to_dependency(rows[key], exercise, rows, *self.dependencies[key], used)
                    zeroed += [name] if rows[key] is not before else []
            if used:
                causes.setdefault(exercise.id, one_cause(exercise, LibraryUsed(exercise, used, tuple(zeroed))))
        return rows, causes


NOT_RUN = {
    "crashed": "This check did not run (its grader file failed to load). "
    "This is not a mistake in your code; please report it.",
    "interrupted": "This check did not run: grading was interrupted.",
}


def exercise_report(
    exercise: Exercise, rows: dict[tuple[str, str], dict[str, Any]], not_run: str = "crashed", cause: dict[str, Any] | None = None,
    variant: Variant | None = None,
) -> dict[str, Any]:
    checks = []
    for name, points in exercise.checks.items():
        row = rows.get((exercise.id, name))
        if row is None:
            row = {
                "name": name,
                "function": exercise.function_of_check(name).name,
                "status": "error",
                "score": 0,
                "max_score": points,
                "message": NOT_RUN[not_run],
                "seconds": 0.0,
                "retry": True,
            }
        checks.append({k: v for k, v in row.items() if k != "exercise"})
    status = scoring.exercise_status(c["status"] for c in checks)
    return {
        "id": exercise.id,
        "title": exercise.title,
        "lesson": exercise.lesson_number,
        **({"variant": variant_record(variant)} if variant is not None else {}),
        "status": status,
        "score": total(c["score"] for c in checks),
        "max_score": sum(c["max_score"] for c in checks),
        **({cause["kind"]: {k: v for k, v in cause.items() if k != "kind"}} if cause else {}),  # said once here; each pointer row points to it
        "checks": checks,
    }


total = scoring.total


def build_report(
    course: Course,
    exercises: list[Exercise],
    rows: dict[tuple[str, str], dict[str, Any]],
    *,
    half: str,
    target: Path,
    data: dict[str, Any] | None,
    started: datetime,
    seconds: float,
    interrupted: bool = False,
    causes: dict[str, dict[str, Any]] | None = None,
    variants: dict[str, Variant | None] | None = None,
    draws: str | None = None,
    written: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The report of a run. `variants`: the variant each exercise was graded on (grader/variants.py);
    `draws`: which key drew what a submission must not know in advance (grader/draws.py `named`);
    `written`: each exercise's written answers (written.py), never part of the score."""
    not_run = "interrupted" if interrupted else "crashed"
    per_exercise = [exercise_report(ex, rows, not_run, (causes or {}).get(ex.id), (variants or {}).get(ex.id)) for ex in exercises]
    for ex, entry in zip(exercises, per_exercise):
        if ex.questions:  # what a person grades: the answers handed in, or the questions unanswered
            entry["written"] = (written or {}).get(ex.id) or section(ex, {}, "not collected: grading stopped before the answers were read")
    retry = any(c.get("retry") for e in per_exercise for c in e["checks"])
    return {
        "schema_version": SCHEMA_VERSION,
        "grader_version": GRADER_VERSION,
        "course": course.title,
        "target": str(target),
        "data": data,
        "test_half": half,
        **({"draws": draws} if draws else {}),
        "started_at": started.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 2),
        "python": provenance.libraries()["python"],
        "environment": environment(),
        "score": total(e["score"] for e in per_exercise),
        "max_score": sum(e["max_score"] for e in per_exercise),
        **({"written_points": sum(ex.written_points for ex in exercises)} if any(ex.questions for ex in exercises) else {}),
        **({"retry": True} if retry else {}),
        "exercises": per_exercise,
    }


def environment() -> dict[str, Any]:
    """Where a report was graded: what can move an accuracy in its last digits
    (library versions, the CPU), and how student code was isolated."""
    from ..training._trainer import THREADS
    from ..isolation.sandbox import isolation

    return {
        **provenance.libraries(),  # provenance.py: the one list of what can change a verdict
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu_count": os.cpu_count(),
        "trainer_threads": THREADS,
        "isolation": isolation(),
        "safety_flops_per_s": SAFETY_FLOPS_PER_S,
    }


DRIFT_KEYS = ("python", *LIBRARIES)
EARLIER_REPORT = "report.json"  # a student's own `grader --json report.json`, handed in with the files
MAX_EARLIER_REPORT = 4 << 20


def earlier_report(folder: Path) -> Any:
    """The report a student's own grader wrote into the graded folder, if any:
    read only to compare versions, never for a score (it is the student's file)."""
    path = Path(folder) / EARLIER_REPORT
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_EARLIER_REPORT:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def version_drift(mine: dict[str, Any], theirs: Any) -> str | None:
    """One line saying how another report's library versions differ from this
    run's, or None when they agree (or the other report says nothing usable)."""
    other = theirs.get("environment") if isinstance(theirs, dict) else None
    if not isinstance(other, dict):
        return None
    differ = [
        f"{key} {str(other[key])[:20]} there, {mine[key]} here"
        for key in DRIFT_KEYS
        if isinstance(other.get(key), str) and other[key] != mine.get(key)
    ]
    if not differ:
        return None
    return "Versions differ from the earlier report's (" + "; ".join(differ) + "): accuracies may move in their last digits."


def data_summary(mnist) -> dict[str, Any]:
    """The provenance of the data a run used, as the reports state it."""
    return {**mnist.provenance.to_dict(), "description": mnist.provenance.describe()}


def for_students(report: dict[str, Any], submission: tuple[str | Path, ...] = ()) -> dict[str, Any]:
    """The report as a student receives it from a grading machine (report.json, feedback.md and
    .html, Gradescope's results.json): the one place a student's text is made safe. No folder of
    the grading machine is left in any text: the graded folder and the student's own `submission`
    folders become "your submission", the data file is named by its name (its sha256 says which
    data it was), the grader's checkout becomes "the grader", the home and temporary folders go;
    `target` (the instructor's path to the graded folder) is left out."""
    data = report.get("data") or {}
    named: dict[str, str] = {}
    if isinstance(data.get("path"), str) and data["path"]:
        named[data["path"]] = Path(data["path"]).name
        named[str(Path(data["path"]).parent) + os.sep] = ""
    for folder in (report.get("target"), *submission):
        if folder:
            named[str(folder)] = "your submission"
    named[str(Path(__file__).resolve().parents[2])] = "the grader"  # the checkout (or site-packages) the grader runs from
    for folder, shown in ((Path.home(), "~"), (Path(tempfile.gettempdir()), "")):
        if str(folder) not in ("/", ""):
            named.setdefault(str(folder) + os.sep, shown)
    order = sorted(named, key=len, reverse=True)  # the longest first: a folder inside another is cut whole

    def safe(value: Any) -> Any:
        if isinstance(value, str):
            for folder in order:
                value = value.replace(folder, named[folder])
            return value
        if isinstance(value, dict):
            return {key: safe(item) for key, item in value.items()}
        if isinstance(value, list):
            return [safe(item) for item in value]
        return value

    return safe({key: value for key, value in report.items() if key != "target"})


def write_text(path: Path, text: str) -> None:
    """Write a file atomically: a reader never sees half of it, two writers never clash."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _marks() -> dict[str, str]:
    fancy = {"passed": "✓", "failed": "✗", "not started": "·", "error": "!"}
    try:
        "".join(fancy.values()).encode(sys.stdout.encoding or "ascii")
        return fancy
    except (UnicodeEncodeError, LookupError):
        return {"passed": "+", "failed": "x", "not started": ".", "error": "!"}


def _half(measured: dict[str, Any]) -> str:
    half = measured.get("half")
    return f", {half} half of the test set" if half else ""


def measured_line(measured: dict[str, Any]) -> str:
    """What the grader's training of a model reached, in one line, with its margin
    to the bar (so a borderline result shows as borderline) and its work."""
    accuracy = measured.get("test_accuracy")
    reached = f"{accuracy:.2%}" if accuracy is not None else "no accuracy"
    margin = f", {(accuracy - measured['threshold']) * 100:+.2f} percentage points from the bar" if accuracy is not None else ""
    work = measured.get("work") or {}
    used = f"; work {flops(work['declared_flops'])} of a {flops(work['cap_flops'])} cap" if work else ""
    kept = f" (early stopping kept epoch {measured['kept_epoch']}'s weights)" if measured.get("kept_epoch") else ""
    return (
        f"test accuracy {reached} (bar {measured['threshold']:.2%} on {measured['dataset']}{_half(measured)}{margin}), "
        f"{measured.get('epochs_run')} epochs{kept} in {measured.get('training_seconds') or 0:.0f} s, seed {measured.get('seed')}{used}"
    )


def _body(message: str) -> str:
    """A message without its last line's pointer into the lessons, which differs between functions."""
    lines = message.rstrip().splitlines()
    if lines and lines[-1].startswith("See lesson "):
        lines = lines[:-1]
    return "\n".join(lines).strip()


def shown_messages(exercise: dict[str, Any]) -> dict[str, str]:
    """Each check's message as a page shows it: a message that repeats an earlier
    check's of the same exercise (one syntax error fails every check that calls
    the file) is said once, in full, at the first check; each later one points
    to it. The JSON report keeps every message whole."""
    first: dict[str, str] = {}
    shown: dict[str, str] = {}
    for check in exercise["checks"]:
        message = check.get("message") or ""
        body = _body(message)
        if check["status"] in ("passed", "not started") or not body or check.get("not_checked"):  # a stub's one line, a pointer: short already
            shown[check["name"]] = message
            continue
        if body in first:
            shown[check["name"]] = f"The same problem as `{first[body]}` above: its message says what went wrong and how to fix it."
        else:
            first[body] = check["name"]
            shown[check["name"]] = message
    return shown


def cause_heading(ex: dict[str, Any]) -> str:
    """The line that opens an exercise's one cause on every page."""
    kind, cause = exercise_cause(ex)
    if kind == LibraryUsed.kind:
        functions = ", ".join(f"{name}()" for name in cause["functions"])
        return f"{cause['file']} uses a library for the work {ex['id']} asks you to do by hand, so every check of {functions} earns nothing:"
    return f"{cause['file']} could not be imported, so no check of {ex['id']} could run:"


def cause_lines(ex: dict[str, Any], indent: str = "") -> list[str]:
    """An exercise's one cause as the terminal shows it, at the exercise's top (none: [])."""
    kind, cause = exercise_cause(ex)
    if kind is None:
        return []
    return [indent + cause_heading(ex), *(indent + "  " + line for line in cause["message"].splitlines())]


def render_table(report: dict[str, Any]) -> str:
    """The score table a person reads: one line per check, messages under failures."""
    marks = _marks()
    width = max((len(c["name"]) for e in report["exercises"] for c in e["checks"]), default=20)
    lines = [f"Results for {report['target']}"]
    for ex in report["exercises"]:
        lines.append("")
        lines.append(f"{ex['id']} · {ex['title']} (lesson {ex['lesson']})  {ex['score']}/{ex['max_score']}  {ex['status']}")
        if isinstance(ex.get("variant"), dict):
            lines.append(f"    your variant {ex['variant']['key']}: {ex['variant']['says']}")
        lines.extend(cause_lines(ex, "    "))
        if ex.get("written"):
            lines.append(f"    {written_summary(ex['written'])}")
        said = shown_messages(ex)
        for check in ex["checks"]:
            points = f"{check['score']}/{check['max_score']}"
            lines.append(f"  {marks[check['status']]} {check['name']:<{width}}  {points:>5}  {check['status']}")
            message = said[check["name"]].splitlines()
            if check["status"] == "not started":
                message = message[:1]  # the rest repeats for every check of the function
            if check.get("measured") and check["status"] == "passed":
                message = [measured_line(check["measured"])]
            elif check.get("measured", {}).get("test_accuracy") is not None:
                message = [*message, measured_line(check["measured"])]
            if check.get("note"):  # e.g. the student's own experiment and decision: shown, never scored
                message = [*message, f"Note (not graded): {check['note']}"]
            lines.extend("      " + line for line in message)
    lines.append("")
    lines.append(f"Total: {report['score']}/{report['max_score']} points")
    if report.get("retry"):
        lines.append("Not fully graded: the grading machine was too slow, overloaded or short of memory for some check (its message says which); grade again.")
    data = report.get("data")
    lines.append(f"Data: {data['description'] if data else 'not loaded'}")
    if report.get("version_drift"):
        lines.append(report["version_drift"])
    return "\n".join(lines)
