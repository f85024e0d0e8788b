"""`grader release RESULTS`: hand a graded class its feedback, and the LMS its grades.

    grader release RESULTS [--to FOLDER] [--roster CANVAS_EXPORT.csv] [--assignment NAME] [--per-check] [--no-zip]

Reads what `grader --batch SUBMISSIONS --out RESULTS` left there and writes,
in RESULTS/release/ (or --to FOLDER):

- one folder per graded student, <student>/, holding feedback.html (the page,
  its figures embedded: it opens anywhere, alone), feedback.md with its
  figures in feedback_files/, and report.json (less the instructor's paths),
  and the same folder zipped, <student>.zip, for an LMS's or a mail's upload;
- canvas.csv, in the layout of Canvas's gradebook import: Student, ID, SIS User
  ID, SIS Login ID and Section, then one column for the assignment (the total
  score; `--assignment "Homework 3 (1234)"` names an existing assignment, the
  number being Canvas's assignment id as its own export writes it), and with
  --per-check one column per check, each of which Canvas imports as an
  assignment of its own; the second row is Canvas's "Points Possible" row.

Only students graded (gradebook.csv says `graded`, or `graded earlier: not
in this run's submissions` for a student an earlier run into RESULTS graded) are
released: a student still `retry` or `error` is listed and left out, so no
half-graded page reaches a student and no empty cell reaches the LMS.

A release date set on the batch (`--private-release DATE`, kept in
RESULTS/private-release.json, issue 26 item 1) is honoured: before it, each
folder holds the feedback pages as the batch wrote them (the public half's
view), and a student's report.json is not written when some check of theirs
was graded on the private half (release.py's `on_private_half`, the one rule).
canvas.csv is written all the same, with the held checks' points left out:
its assignment column holds the sum of every other check, and its Points
Possible row what those checks are worth; the held checks' own --per-check
columns are left out. Left out rather than a column marked "held": the
LMS gets every grade that is not held (an empty column would give it none),
and no cell holds a figure the private grade could be worked out from. The
terminal names the checks held and their points; the release after the date
writes the same column with the full grade, which Canvas's import replaces.
A held student whose page shows the private grade (written before the hold,
by an older grader) gets pages written afresh from the public half's view.
When no check was graded on the private half (an assignment with no model,
say), the date holds nothing back and everything is written.

Students are matched to Canvas by their folder name: with --roster (the CSV
that Canvas's Gradebook "Export" gives) a folder named after a student's SIS
Login ID, SIS User ID, Canvas ID or the name part of a login e-mail takes
that row's five identity columns; without it, the folder name goes in Student
and SIS Login ID, which Canvas matches against its logins.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .canvas_export import CanvasExportError, read_rows
from .deadlines import final_score
from .gradebook import ABSENT, load_report, spreadsheet_cell
from .release import HELD_MARK, held_checks, holds_private, public_view
from ..reports.figures import feedback_pages, figures_folder
from ..reports.report import write_text

MARKER = ".grader-release"
CANVAS = "canvas.csv"
IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
# Canvas's own export puts these four spaces before "Points Possible"; its importer looks for the words.
POINTS_POSSIBLE = "    Points Possible"
PRIVATE_KEYS = ("target",)  # the instructor's path to the submission: not the student's business
HOLD_FILE = "private-release.json"  # {"private_release": ISO date or null}, written by the batch's --private-release


def held_until(results: Path, now: datetime | None = None) -> datetime | None:
    """The release date the batch was given, while it is still ahead; else None."""
    try:
        kept = json.loads((results / HOLD_FILE).read_text(encoding="utf-8")).get("private_release")
        moment = datetime.fromisoformat(kept) if isinstance(kept, str) else None
    except (OSError, ValueError, AttributeError):
        return None
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment if moment > (now or datetime.now(timezone.utc)) else None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="grader release",
        description="Hand back a graded class: a folder and a zip of feedback per student, and Canvas's gradebook CSV.",
    )
    parser.add_argument("results", type=Path, metavar="RESULTS", help="the --out folder of a `grader --batch` run")
    parser.add_argument("--to", type=Path, metavar="FOLDER", help="where to write the release (default: RESULTS/release)")
    parser.add_argument("--roster", type=Path, metavar="CSV", help="Canvas's gradebook export, to take each student's Canvas identity from")
    parser.add_argument("--assignment", metavar="NAME", help='the Canvas column for the total, e.g. "Homework 3 (1234)" (default: MNIST and the exercises)')
    parser.add_argument("--per-check", action="store_true", help="also one Canvas column per check (Canvas imports each as its own assignment)")
    parser.add_argument("--no-zip", action="store_true", help="write the folders only, no <student>.zip")
    return parser.parse_args(argv)


class ReleaseError(Exception):
    pass


# ------------------------------------------------------------------ who is released


def graded_students(results: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(student -> report) for every student the last run graded, and (student ->
    status) for the rest, from RESULTS/gradebook.csv and RESULTS/students/."""
    try:
        with (results / "gradebook.csv").open(newline="", encoding="utf-8") as fh:
            statuses = {row["student"]: row["status"] for row in csv.DictReader(fh)}
    except (OSError, KeyError, csv.Error) as exc:
        raise ReleaseError(f"{results} holds no readable gradebook.csv: run `grader --batch SUBMISSIONS --out {results}` first ({exc})") from None
    reports, held = {}, {}
    folders = {p.name: p for p in (results / "students").iterdir() if p.is_dir() and not p.is_symlink()} if (results / "students").is_dir() else {}
    for shown, status in statuses.items():
        name = shown[1:] if shown.startswith("'") and shown[1:] in folders else shown  # gradebook.csv's guard against formulas
        report = load_report(folders[name] / "report.json") if name in folders else None
        if status in ("graded", ABSENT) and report and not report.get("retry"):  # a grade kept from an earlier run is the student's too
            reports[name] = report
        else:
            held[name] = status if status != "graded" else "no readable report"
    return reports, held


# ------------------------------------------------------------------ Canvas


def read_roster(path: Path) -> list[dict[str, str]]:
    """The students of a Canvas gradebook export: its identity columns per student row (canvas_export.py)."""
    try:
        header, rows = read_rows(path)
    except CanvasExportError as exc:
        raise ReleaseError(str(exc)) from None
    if len(header) < 3 or "Student" not in header[0] or "ID" not in header[1]:
        raise ReleaseError(f"{path} is not a Canvas gradebook export: its first row must start Student,ID,… (Grades > Export in Canvas)")
    return [{key: row.get(key, "") for key in IDENTITY} for _, row in rows]


def match_roster(students: list[str], roster: list[dict[str, str]]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Each folder name's roster row (by SIS Login ID, SIS User ID, Canvas ID, or a
    login e-mail's name part; case ignored), and the folder names found in none."""
    index: dict[str, dict[str, str]] = {}
    for row in roster:
        login = row["SIS Login ID"].strip()
        for key in (login, row["SIS User ID"].strip(), row["ID"].strip(), login.split("@", 1)[0] if "@" in login else ""):
            if key:
                index.setdefault(key.casefold(), row)
    matched, missing = {}, []
    for student in students:
        row = index.get(student.casefold())
        if row:
            matched[student] = row
        else:
            missing.append(student)
    return matched, missing


def default_assignment(reports: dict[str, dict[str, Any]]) -> str:
    from mnist_course.course import load_course

    ids = next((tuple(ex["id"] for ex in r["exercises"]) for r in reports.values()), ())
    every = tuple(ex.id for ex in load_course().exercises)
    return "MNIST course" if ids == every else "MNIST " + " ".join(ids)


def canvas_csv(reports: dict[str, dict[str, Any]], identities: dict[str, dict[str, str]], assignment: str, per_check: bool,
               left_out: set[tuple[str, str]] = frozenset()) -> str:
    """Canvas's gradebook import: the identity columns, the assignment's total (after any late
    penalty: deadlines.final_score), and
    with `per_check` one column per check; the "Points Possible" row second. The checks
    `left_out` (ex id, check name: those a release date holds) count in neither."""
    first = next(iter(reports.values()), None)
    every = [(ex["id"], c["name"], c["max_score"]) for ex in first["exercises"] for c in ex["checks"]] if first else []
    checks = [c for c in every if c[:2] not in left_out] if per_check else []
    possible = (round(first["max_score"] - sum(p for ex_id, name, p in every if (ex_id, name) in left_out), 2)) if first else ""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*IDENTITY, assignment, *(f"{ex_id} {name}" for ex_id, name, _ in checks)])
    writer.writerow([POINTS_POSSIBLE, "", "", "", "", _number(possible) if first else "", *(points for _, _, points in checks)])
    for student in sorted(reports):
        report = reports[student]
        who = identities.get(student) or {"Student": student, "ID": "", "SIS User ID": "", "SIS Login ID": student, "Section": ""}
        points = {(ex["id"], c["name"]): c["score"] for ex in report["exercises"] for c in ex["checks"]}
        total = final_score(report) if not left_out else _number(round(sum(v for k, v in points.items() if k not in left_out) * (1 - (report.get("late") or {}).get("penalty_percent", 0) / 100), 2))
        writer.writerow([*(spreadsheet_cell(who[key]) for key in IDENTITY), total, *(points.get((ex_id, name), "") for ex_id, name, _ in checks)])
    return out.getvalue()


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


# ------------------------------------------------------------------ the folders


def _prepare(folder: Path) -> None:
    """An empty release folder: a new one, or one an earlier release wrote (never anything else)."""
    if folder.exists():
        if not folder.is_dir() or folder.is_symlink():
            raise ReleaseError(f"{folder} is not a folder")
        if not (folder / MARKER).is_file() and any(folder.iterdir()):
            raise ReleaseError(f"{folder} already holds files that no release wrote; name an empty or new folder with --to")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("written by `grader release`; the next release replaces this folder\n", encoding="utf-8")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def release_student(results: Path, folder: Path, student: str, report: dict[str, Any], zip_it: bool, held: bool = False,
                    rewrite: datetime | None = None) -> Path:
    """The student's folder (and zip). `rewrite`, a release date: the pages are written from the
    public half's view until then instead of copied (the batch's pages showed the private grade)."""
    source, target = results / "students" / student, folder / student
    target.mkdir()
    if rewrite is not None:
        markdown, page = feedback_pages(public_view(report, rewrite), target / "feedback.md", title=f"Feedback for {student}")
        write_text(target / "feedback.md", markdown)
        write_text(target / "feedback.html", page)
    else:
        for name in ("feedback.html", "feedback.md"):
            if (source / name).is_file():
                shutil.copyfile(source / name, target / name)
        figures = figures_folder(source / "feedback.md")
        if figures.is_dir() and not figures.is_symlink():
            shutil.copytree(figures, target / figures.name, symlinks=False)
    if not held:  # the report holds the private grade: never before the release date
        public = {key: value for key, value in report.items() if key not in PRIVATE_KEYS}
        write_text(target / "report.json", json.dumps(public, indent=2, ensure_ascii=False) + "\n")
    if zip_it:
        with zipfile.ZipFile(folder / f"{student}.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(target.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())
    return target


def release(results: Path, to: Path | None = None, roster: Path | None = None, assignment: str | None = None,
            per_check: bool = False, zip_it: bool = True) -> dict[str, Any]:
    results = results.resolve()
    if not results.is_dir():
        raise ReleaseError(f"no such results folder: {results}")
    folder = (to or results / "release").resolve()
    kept = [results / "students", results / "history", results / "similarity"]
    if folder == results or folder in results.parents or any(folder == k or k in folder.parents for k in kept):
        raise ReleaseError(f"write the release into a folder of its own, not over {results} or what it holds")
    reports, held = graded_students(results)
    identities, missing = match_roster(sorted(reports), read_roster(roster)) if roster else ({}, [])
    until = held_until(results)
    private = {student for student, report in reports.items() if holds_private(report)} if until is not None else set()
    # A page written before the hold (by an older grader, say) shows the private grade: written afresh here instead.
    stale = {s for s in private if HELD_MARK not in _read(results / "students" / s / "feedback.md")}
    _prepare(folder)
    for student, report in sorted(reports.items()):
        if student not in stale:
            release_student(results, folder, student, report, zip_it, held=student in private)
            continue
        try:
            release_student(results, folder, student, report, zip_it, held=True, rewrite=until)
        except Exception as exc:  # noqa: BLE001 - a page that cannot be written afresh is not handed back; the others are
            shutil.rmtree(folder / student, ignore_errors=True)
            held[student] = f"its held page could not be written afresh ({type(exc).__name__}: {exc}); run grader --batch again"
    reports = {s: r for s, r in reports.items() if s not in held}
    private &= set(reports)
    # What the hold covers, the same checks for every student: Canvas's column keeps one meaning.
    left_out = {(ex_id, name) for student in private for ex_id, name, _ in held_checks(reports[student])}
    write_text(folder / CANVAS, canvas_csv(reports, identities, assignment or default_assignment(reports), per_check, left_out))
    points = {(ex_id, name): p for report in reports.values() for ex_id, name, p in held_checks(report)}
    return {"folder": folder, "released": sorted(reports), "held": held, "not_in_roster": missing,
            "held_until": until if private else None, "date_holds_nothing": until if until is not None and not private else None,
            "held_checks": sorted((ex_id, name, points[ex_id, name]) for ex_id, name in left_out)}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        done = release(args.results, args.to, args.roster, args.assignment, args.per_check, not args.no_zip)
    except (ReleaseError, OSError) as exc:
        print(f"grader release: {exc}", file=sys.stderr)
        return 2
    folder = done["folder"]
    print(f"Released {len(done['released'])} students' feedback to {folder}: a folder{'' if args.no_zip else ' and a zip'} each (feedback.html opens alone).")
    if done["held_until"] is not None:
        checks = done["held_checks"]
        print(f"The private grade is held until {done['held_until'].isoformat()} (--private-release): the feedback pages show the public "
              "half's measure, and the report.json of a student graded on the private half is not written. Held, for every student: "
              + ", ".join(f"{ex_id} {name} ({points:g} points)" for ex_id, name, points in checks) + ".")
        print(f"Canvas gradebook: {folder / CANVAS}, with the held checks' points left out: its column is the other checks' "
              f"sum, out of the Points Possible it gives. Release again after {done['held_until'].date()}: the full grade replaces it.")
    else:
        if done["date_holds_nothing"] is not None:
            print(f"The release date {done['date_holds_nothing'].isoformat()} (--private-release) holds nothing back: no check "
                  "was graded on the private half, so report.json and canvas.csv are written now.")
        print(f"Canvas gradebook: {folder / CANVAS} (Grades > Import in Canvas; check the preview before you apply it).")
    for student, status in sorted(done["held"].items()):
        print(f"  not released: {student} ({status}); grade again with grader --batch, then release again", file=sys.stderr)
    for student in done["not_in_roster"]:
        print(f"  not in the roster: {student}; written with SIS Login ID {student}, which Canvas may not find", file=sys.stderr)
    return 1 if done["held"] or done["not_in_roster"] else 0
