"""Due dates, late work and extensions for `grader --batch` (one place for the idea).

The late policy is applied ON TOP of a graded report, never inside the checks: the report
keeps its raw `score`, and gets a `late` section (due, extension, submitted_at and its source,
lateness, late days used, penalty points and why, final score). It is not part of the grading
key: a re-run with another due date rewrites the late sections, the gradebook and the pages
without grading again (batch.py's `_ClassRun.write_class` calls `restamp`).

Vocabulary (nbgrader's and Gradescope's where it fits):
- due date (`--due`): with a time zone (`2026-12-15T23:59+01:00`, or `Z` for UTC);
- late submission penalty (`--late-penalty 10%/day` or `2%/hour`): a percentage of the raw
  score per started day (or hour) late, i.e. lateness rounded UP: 1 minute late is 1 day late;
- cap (`--late-cap 50`): the penalty never exceeds this percentage;
- cut-off, Gradescope's "late due date" (`--cutoff`): a submission after it scores 0;
- late days (`--late-days N`): each student's allowance of started days late, used before any
  penalty (for this assignment: a course-wide bank is the instructor's to keep);
- extension (`--extensions FILE`): per student, a new due date (with a zone) or extra time
  (`48h`, `2d`); the cut-off moves by the same amount.
The time judged: a per-student submission-times file (`--submission-times FILE`, or
SUBMISSIONS/submission_times.csv), else the files' modification time (`submitted_at`).
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..reports.late import feedback_lines, feedback_text, final_score, on_score  # noqa: F401 - the views, one floor down
from ..scoring import as_points as _number

TIMES_FILE = "submission_times.csv"  # SUBMISSIONS/submission_times.csv, used when --submission-times is not given
POLICY_FILE = "late_policy.json"  # RESULTS/late_policy.json: the policy of the last run that set one, for the next runs
FILE_TIME = "file modification time"
UNITS = {"day": 86400, "hour": 3600}


class DeadlineError(ValueError):
    """Bad late-policy input: said with the file and line, before anything is graded (exit 2)."""


def parse_time(text: str, where: str) -> datetime:
    """An ISO 8601 date and time WITH a time zone (`Z` or `+hh:mm`); a date alone or a time without
    a zone is refused: "23:59" means another moment in every time zone."""
    text = (text or "").strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DeadlineError(f"{where}: {text!r} is not a date and time; write it as ISO 8601 with its time zone, e.g. 2026-12-15T23:59+01:00 or 2026-12-15T22:59Z") from None
    if moment.tzinfo is None:
        full = text if "T" in text or " " in text else f"{text}T23:59"  # a date alone needs its time too
        raise DeadlineError(f"{where}: {text!r} has no time zone, so it names a different moment in every zone; add one, e.g. {full}+01:00 or {full}Z")
    return moment


def parse_penalty(text: str) -> tuple[float, str]:
    """`10%/day` or `2%/hour` -> (10.0, "day")."""
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*%\s*/\s*(day|hour)\s*", text or "")
    if not match:
        raise DeadlineError(f"--late-penalty: {text!r} is not a penalty; write a percentage of the raw score per started day or hour, e.g. 10%/day or 2%/hour")
    rate = float(match.group(1))
    if rate < 0 or rate > 100:
        raise DeadlineError(f"--late-penalty: {text!r}: a penalty is between 0% and 100% of the raw score per {match.group(2)}")
    return rate, match.group(2)


def parse_extra(text: str) -> timedelta | None:
    """`48h`, `2d`, `90m` -> the extra time; None when the text is not a duration."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhm])\s*", text or "")
    if not match:
        return None
    return timedelta(seconds=float(match.group(1)) * {"d": 86400, "h": 3600, "m": 60}[match.group(2)])


def _rows(path: Path, needed: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """A small CSV's rows with their line numbers; a missing column or a short line is an error."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DeadlineError(f"{path}: cannot be read ({exc})") from None
    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader, [])]
    missing = [n for n in needed if n not in header]
    if missing:
        raise DeadlineError(f"{path} line 1: the header must name the columns {', '.join(needed)} (it has: {', '.join(header) or 'nothing'})")
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise DeadlineError(f"{path} line {number}: {len(cells)} values for the header's {len(header)} columns ({','.join(cells)!r})")
        rows.append((number, {h: c.strip() for h, c in zip(header, cells)}))
    return rows


@dataclass(frozen=True)
class Extension:
    due: datetime
    said: str  # as the file wrote it: "48h", or a date


@dataclass
class LatePolicy:
    """What `grader --batch` was told about due dates; `options` are the words it was given (kept in
    RESULTS/late_policy.json for the next runs)."""

    due: datetime | None = None
    rate: float = 0.0
    unit: str = "day"
    cap: float = 100.0
    cutoff: datetime | None = None
    late_days: int = 0
    extensions: dict[str, Extension] = field(default_factory=dict)
    times: dict[str, tuple[str, str]] = field(default_factory=dict)  # student -> (ISO time, its source)
    times_file: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.due is not None


def read_extensions(path: Path, due: datetime | None) -> dict[str, Extension]:
    """`student,extension`: per student a new due date with its zone, or extra time (48h, 2d)."""
    if due is None:
        raise DeadlineError(f"--extensions {path}: an extension moves a due date; give the due date with --due")
    found: dict[str, Extension] = {}
    for number, row in _rows(path, ("student", "extension")):
        where = f"{path} line {number}"
        student, said = row["student"], row["extension"]
        if not student:
            raise DeadlineError(f"{where}: no student named")
        if student in found:
            raise DeadlineError(f"{where}: {student} has a second extension; keep one line per student")
        extra = parse_extra(said)
        new_due = due + extra if extra is not None else parse_time(said, f"{where} (extension of {student}; or extra time like 48h or 2d)")
        if new_due <= due:
            raise DeadlineError(f"{where}: {student}'s extension {said!r} is not after the due date {due.isoformat()}; an extension gives more time")
        found[student] = Extension(new_due, said)
    return found


def read_times(path: Path) -> dict[str, tuple[str, str]]:
    """The submission-times file (the Canvas importer's format): `student,submitted_at,source`,
    source optional, submitted_at ISO 8601 with a zone."""
    found: dict[str, tuple[str, str]] = {}
    for number, row in _rows(path, ("student", "submitted_at")):
        where = f"{path} line {number}"
        student = row["student"]
        if not student:
            raise DeadlineError(f"{where}: no student named")
        if student in found:
            raise DeadlineError(f"{where}: {student} has a second submission time; keep one line per student (the one to judge by)")
        moment = parse_time(row["submitted_at"], f"{where} (submitted_at of {student})")
        found[student] = (moment.isoformat(), row.get("source") or f"{path.name}")
    return found


def make_policy(due: str | None = None, late_penalty: str | None = None, late_cap: float | None = None, cutoff: str | None = None,
                late_days: int | None = None, extensions: str | None = None, submission_times: str | None = None) -> LatePolicy:
    """The policy from `grader --batch`'s options (DeadlineError on bad input). Files are read here."""
    options = {k: v for k, v in dict(due=due, late_penalty=late_penalty, late_cap=late_cap, cutoff=cutoff, late_days=late_days,
                                     extensions=extensions, submission_times=submission_times).items() if v is not None}
    policy = LatePolicy(options=options)
    if due is not None:
        policy.due = parse_time(due, "--due")
    if due is None and any(o in options for o in ("late_penalty", "late_cap", "cutoff", "late_days", "extensions")):
        raise DeadlineError(f"--{next(o for o in options if o != 'submission_times').replace('_', '-')} is part of a late policy: give the due date with --due")
    if late_penalty is not None:
        policy.rate, policy.unit = parse_penalty(late_penalty)
    if late_cap is not None:
        if not 0 <= late_cap <= 100:
            raise DeadlineError(f"--late-cap: {late_cap} is not a percentage between 0 and 100")
        policy.cap = float(late_cap)
    if cutoff is not None:
        policy.cutoff = parse_time(cutoff, "--cutoff")
        if policy.cutoff < policy.due:
            raise DeadlineError(f"--cutoff {cutoff} is before the due date {due}; the cut-off is the last moment a late submission is accepted")
    if late_days is not None:
        if late_days < 0:
            raise DeadlineError(f"--late-days: {late_days} is not a number of days (0 or more)")
        policy.late_days = int(late_days)
    if extensions is not None:
        policy.extensions = read_extensions(Path(extensions), policy.due)
    if submission_times is not None:
        policy.times = read_times(Path(submission_times))
        policy.times_file = str(submission_times)
    return policy


def check_students(policy: LatePolicy, students: list[str], submissions: Path) -> None:
    """Every student the extensions or times file names must be a student folder: a typo would
    otherwise leave someone without their extension, or judged by the wrong time."""
    for what, names, source in (("extensions", policy.extensions, policy.options.get("extensions")),
                                ("submission times", policy.times, policy.times_file)):
        unknown = sorted(set(names) - set(students))
        if unknown:
            raise DeadlineError(f"{source}: the {what} file names {', '.join(unknown)}, who {'is' if len(unknown) == 1 else 'are'} not a student "
                                f"folder of {submissions}; correct the name (folders: {', '.join(students[:8])}{' …' if len(students) > 8 else ''})")


# Times that say when a file was packed or copied, not when the student handed it in (the Canvas
# importer writes them when Canvas's own times were not given): no late policy judges by them.
NOT_SUBMISSION_TIMES = ("zip-entry-time",)


def check_times(policy: LatePolicy) -> None:
    """A due date is never applied to times that say when the zip was made: every student would be late."""
    packed = sorted(s for s, (_, source) in policy.times.items() if source in NOT_SUBMISSION_TIMES)
    if policy.active and packed:
        raise DeadlineError(
            f"{policy.times_file}: the times of {', '.join(packed[:5])}{' …' if len(packed) > 5 else ''} are when the zip was made "
            "(source zip-entry-time), not when they submitted, so a due date would make everyone late; import again with "
            "`grader import-canvas ZIP DIR --times FILE` (Canvas's submitted_at for each student), or give --submission-times FILE")


def save(out: Path, policy: LatePolicy) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / POLICY_FILE).write_text(json.dumps(policy.options, indent=2) + "\n", encoding="utf-8")


def saved(out: Path) -> dict[str, Any]:
    try:
        options = json.loads((out / POLICY_FILE).read_text(encoding="utf-8"))
        return options if isinstance(options, dict) else {}
    except (OSError, ValueError):
        return {}


def _said(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes or not (days or hours) else ""]
    return " ".join(p for p in parts if p)


def late_section(policy: LatePolicy, student: str, raw: float, submitted_at: str, source: str) -> dict[str, Any] | None:
    """The `late` section of a student's report: what the policy does to the raw score."""
    if not policy.active:
        return None
    extension = policy.extensions.get(student)
    due = extension.due if extension else policy.due
    section: dict[str, Any] = {
        "due": policy.due.isoformat(),
        "extension": {"due": extension.due.isoformat(), "said": extension.said} if extension else None,
        "submitted_at": submitted_at,
        "submitted_at_source": source,
        "raw_score": raw,
    }
    if not submitted_at:
        section.update(late_seconds=None, lateness="unknown", late_days_used=0, penalty_percent=0, penalty_points=0, final_score=raw,
                       why="no submission time is known (no graded file, no line in the submission-times file): no penalty applied")
        return section
    late = (parse_time(submitted_at, "submitted_at") - due).total_seconds()
    cutoff = policy.cutoff + (due - policy.due) if policy.cutoff else None  # an extension moves the cut-off with the due date
    if late <= 0:
        section.update(late_seconds=0, lateness="on time", late_days_used=0, penalty_percent=0, penalty_points=0, final_score=raw,
                       why="submitted on time" + (" (inside the extension)" if extension and parse_time(submitted_at, "") > policy.due else ""))
        return section
    started_days = math.ceil(late / 86400)
    used = min(policy.late_days, started_days)
    left = max(0.0, late - used * 86400)
    units = math.ceil(left / UNITS[policy.unit]) if left > 0 else 0
    percent = min(policy.cap, units * policy.rate)
    said = f"{_said(late)} late" + (" after the extension" if extension else "")
    if cutoff is not None and parse_time(submitted_at, "") > cutoff:
        percent, why = 100.0, f"{said}, after the cut-off {cutoff.isoformat()}: a submission after the cut-off scores 0"
    elif units == 0:
        why = f"{said}: {used} late day{'s' if used != 1 else ''} used, no penalty"
    else:
        why = (f"{said}" + (f"; {used} late day{'s' if used != 1 else ''} used, {units} started {policy.unit}{'s' if units != 1 else ''} left" if used else
                            f", {units} started {policy.unit}{'s' if units != 1 else ''}")
               + f" x {_number(policy.rate)}% = {_number(units * policy.rate)}%" + (f", capped at {_number(policy.cap)}%" if units * policy.rate > policy.cap else "")
               + " of the raw score")
    points = _number(raw * percent / 100)
    section.update(late_seconds=int(late), lateness=_said(late), late_days_used=used, penalty_percent=_number(percent),
                   penalty_points=points, final_score=_number(raw - points), why=why)
    return section


def stamp(report: dict[str, Any], student: str, policy: LatePolicy) -> dict[str, Any]:
    """The report with its submission time (the times file's when it names the student, else the
    file time) and its `late` section as the policy has it now; the raw score is never touched."""
    report = dict(report)
    file_time = report.get("file_submitted_at", report.get("submitted_at", ""))
    if student in policy.times:
        report["submitted_at"], report["submitted_at_source"] = policy.times[student]
        report["file_submitted_at"] = file_time  # kept so a later run without the times file goes back to it
    else:
        report["submitted_at"], report["submitted_at_source"] = file_time, FILE_TIME
        report.pop("file_submitted_at", None)
    late = late_section(policy, student, report["score"], report["submitted_at"], report["submitted_at_source"])
    if late is None:
        report.pop("late", None)
    else:
        report["late"] = late
    return report


def resolve(options: dict[str, Any], submissions: Path, out: Path, students: list[str]) -> LatePolicy:
    """This run's policy: the options given (`--due none` drops the policy), else the last run's
    (RESULTS/late_policy.json); the times file given, else SUBMISSIONS/submission_times.csv when
    it exists. File paths are kept absolute, so a later run from elsewhere reads the same files.
    Checked against the `students` before it is kept: a refused policy is never the next run's."""
    options = {k: (str(Path(v).expanduser().resolve()) if k in ("extensions", "submission_times") else v) for k, v in options.items() if v is not None}
    if str(options.get("due", "")).lower() == "none":
        given = {}
        remember = True
    elif options:
        given, remember = options, True
    else:
        given, remember = saved(out), False
    kept = dict(given)
    if "submission_times" not in given and (submissions / TIMES_FILE).is_file():
        given = {**given, "submission_times": str(submissions / TIMES_FILE)}
    policy = make_policy(**given)
    policy.options = kept
    check_students(policy, students, submissions)
    check_times(policy)
    if remember:
        save(out, policy)
    return policy


def late_section_html(rows, escape) -> list[str]:
    """class.html's "Late work and extensions": every student submitted late or given an extension."""
    listed = [(student, report["late"]) for student, report, _ in rows if report and report.get("late")]
    if not listed:
        return []
    due = listed[0][1]["due"]
    shown = [(s, late) for s, late in listed if late.get("extension") or late.get("late_seconds")]
    parts = [f"<h2>Late work and extensions</h2><p>Due {escape(due)}. Raw score, late penalty and final score; lateness counted in started "
             "days or hours (rounded up), late days used first.</p>"]
    if not shown:
        return parts + ["<p>Nobody submitted late or has an extension.</p>"]
    parts.append("<table><tr><th>student</th><th>extension</th><th>submitted</th><th>source</th><th>late by</th><th>late days used</th>"
                 "<th>raw score</th><th>penalty</th><th>final score</th><th>why</th></tr>")
    for student, late in shown:
        extension = f"{late['extension']['said']} (due {late['extension']['due']})" if late.get("extension") else "none"
        parts.append("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in (
            student, extension, late["submitted_at"], late["submitted_at_source"], late["lateness"], late["late_days_used"],
            late["raw_score"], late["penalty_points"], late["final_score"], late["why"])) + "</tr>")
    parts.append("</table>")
    return parts


def summary(policy: LatePolicy) -> str:
    """One line for the terminal before grading: the policy the run applies (empty without one)."""
    times = f"submission times from {policy.times_file} for {len(policy.times)} student{'s' if len(policy.times) != 1 else ''}" if policy.times else ""
    if not policy.active:
        return f"Late policy: none (no --due); {times}" if times else ""
    parts = [f"due {policy.due.isoformat()}", f"{_number(policy.rate)}%/{policy.unit} per started {policy.unit}" if policy.rate else "no penalty rate",
             f"capped at {_number(policy.cap)}%" if policy.cap < 100 else "", f"{policy.late_days} late day{'s' if policy.late_days != 1 else ''}" if policy.late_days else "",
             f"cut-off {policy.cutoff.isoformat()}" if policy.cutoff else "", f"{len(policy.extensions)} extension{'s' if len(policy.extensions) != 1 else ''}" if policy.extensions else "", times]
    return "Late policy (on top of the raw scores): " + "; ".join(p for p in parts if p)
