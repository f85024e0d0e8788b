"""Grade a whole class: one folder per student, one report per student, one gradebook.

    grader --batch SUBMISSIONS --out RESULTS [--jobs N] [--force] [EXERCISE ...]

Each student's folder is graded by its own `grader` process (with its own
worker processes). Per student it writes RESULTS/students/<student>/report.json
(the course's JSON report plus "student", "submission_sha256" and
"grading_key") and feedback.md, with its figures in feedback_files/; then
RESULTS/gradebook.csv for every student.
A report is written as soon as its student is graded, so a crash or Ctrl-C
loses nothing already graded. A re-run skips a student only when neither the
submission nor the grading (grader version, checks, data, exercises) changed,
unless --force. Identical submissions are graded once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mnist_course.course import COURSE_FILE, ROOT, Exercise

from .figures import feedback_page, figures_folder
from .report import GRADER_VERSION, write_text
from .sandbox import SubmissionError, graded_files, plain_name, read_regular, shown_name
from .session import GRADER_DIR, TargetError, graded_half

# A safety net, not a limit that decides points: a submission's trainings are
# capped in work (mnist_course/budget.py) and each has its own safety clock. When
# this one fires, the student is marked `retry` and graded on the next run.
SUBMISSION_TIMEOUT = 3 * 60 * 60
MAX_REPORT_BYTES = 64 << 20  # a student's report.json, as its grader process wrote it


def submission_hash(folder: Path) -> str:
    """sha256 over exactly what is graded: each Python source's relative path and
    bytes, each preceded by its length, so no file's bytes can pass for two files."""
    digest = hashlib.sha256()
    for relative in graded_files(folder):
        name, data = str(relative).encode("utf-8", "surrogateescape"), (folder / relative).read_bytes()
        digest.update(b"%d:%s%d:%s" % (len(name), name, len(data), data))
    return digest.hexdigest()


def grading_key(exercises: list[Exercise], data_sha256: str) -> str:
    """What else decides a grade: grader version, course.toml, the checks, the data, the test half, the exercises."""
    digest = hashlib.sha256(f"{GRADER_VERSION}\0{data_sha256}\0{graded_half()}\0{','.join(ex.id for ex in exercises)}\0".encode())
    for path in (COURSE_FILE, *sorted(GRADER_DIR.glob("*.py"))):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _grade_one(folder: Path, exercises: list[Exercise], data_arg: str | None) -> dict[str, Any]:
    """Grade one folder in a separate grader process: the report (with "retry"
    when a safety clock fired), {"retry": why} when the whole grading passed its
    safety limit, or {"error": why} when the grader could not grade the folder."""
    with tempfile.TemporaryDirectory(prefix="mnist-batch-") as tmp:
        report_file = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "grader", *(ex.id for ex in exercises), "--target", str(folder), "--json", str(report_file)]
        if data_arg:
            command += ["--data", data_arg]
        try:
            done = subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, timeout=SUBMISSION_TIMEOUT, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            return {"retry": f"grading passed the safety limit of {SUBMISSION_TIMEOUT} s (the machine was too slow or overloaded)"}
        try:  # written by the student's grader process; opened as a regular file, size-bounded
            report = json.loads(read_regular(report_file, MAX_REPORT_BYTES).decode("utf-8"))
        except (OSError, ValueError):
            report = None
        if done.returncode == 2 and isinstance(report, dict) and report.get("retry"):
            return report
        if done.returncode not in (0, 1) or not isinstance(report, dict):
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            return {"error": f"the grader could not grade this folder (exit {done.returncode}): {last}"}
        return report


def _load_report(path: Path) -> dict[str, Any] | None:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        return report if isinstance(report, dict) and isinstance(report.get("exercises"), list) else None
    except (OSError, ValueError):
        return None


def _cell(text: str) -> str:
    # A student id like "=HYPERLINK(...)" must not become a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def gradebook_csv(rows: list[tuple[str, dict[str, Any] | None, str]], exercises: list[Exercise]) -> str:
    """One line per student: (student, current report or None, status)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", *(ex.id for ex in exercises), "total", "max", "status", "data_sha256", "grader_version", "submission_sha256"])
    for student, report, status in rows:
        if report is None:
            writer.writerow([_cell(student), *([""] * len(exercises)), "", "", status, "", GRADER_VERSION, ""])
            continue
        scores = {ex["id"]: ex["score"] for ex in report["exercises"]}
        writer.writerow(
            [
                _cell(student),
                *(scores.get(ex.id, "") for ex in exercises),
                report["score"],
                report["max_score"],
                status,
                (report.get("data") or {}).get("sha256", ""),
                report.get("grader_version", ""),
                report.get("submission_sha256", ""),
            ]
        )
    return out.getvalue()


def check_folders(submissions: Path, out: Path) -> None:
    if not submissions.is_dir():
        raise TargetError(f"no such folder of submissions: {submissions}")
    if out.exists() and not out.is_dir():
        raise TargetError(f"--out {out} is a file, not a folder")
    if out == submissions or submissions in out.parents or out in submissions.parents:
        raise TargetError("--out must lie outside the submissions folder, and the other way round")


def run_batch(
    submissions: Path,
    out: Path,
    exercises: list[Exercise],
    data_arg: str | None,
    data_sha256: str,
    jobs: int = 1,
    force: bool = False,
    mnist=None,
) -> int:
    """Grade every student folder; 0 if all were graded, 1 if some could not be.
    `mnist`, the data being graded on, gives the feedback pages their test images."""
    # Each student is graded from the course root, so every path must be absolute.
    submissions, out = submissions.resolve(), out.resolve()
    if data_arg:
        data_arg = str(Path(data_arg).expanduser().resolve())
    check_folders(submissions, out)
    students, refused = student_folders(submissions)
    if not students and not refused:
        raise TargetError(f"{submissions} holds no student folders")
    key = grading_key(exercises, data_sha256)
    hashes = {}
    for student in students:
        try:
            hashes[student] = submission_hash(submissions / student)
        except SubmissionError as exc:
            refused[student] = f"not graded: {exc}"
    students = [s for s in students if s in hashes]
    reports_dir = out / "students"

    def current(student: str) -> dict[str, Any] | None:
        report = _load_report(reports_dir / student / "report.json")
        if report and report.get("submission_sha256") == hashes[student] and report.get("grading_key") == key and not report.get("retry"):
            return report
        return None

    todo = [s for s in students if force or current(s) is None]
    print(f"{len(students)} submissions in {submissions}: {len(students) - len(todo)} already graded, {len(todo)} to grade")

    errors: dict[str, str] = {}
    progress = tqdm(total=len(todo), unit="submission", desc="Grading", file=sys.stderr, disable=not todo)
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        by_hash: dict[str, Future] = {}
        waiting: dict[Future, list[str]] = {}
        for student in todo:
            digest = hashes[student]
            if digest not in by_hash:  # identical submissions are graded once
                by_hash[digest] = pool.submit(_grade_one, submissions / student, exercises, data_arg)
            waiting.setdefault(by_hash[digest], []).append(student)
        for future in as_completed(waiting):
            result = future.result()
            for student in waiting[future]:
                progress.set_postfix_str(student[:30])
                folder = reports_dir / student
                if "error" in result or "exercises" not in result:
                    errors[student] = f"error: {result['error']}" if "error" in result else f"retry: {result['retry']}"
                    for stale in ("report.json", "feedback.md"):  # an old grade must not stand for a new submission
                        (folder / stale).unlink(missing_ok=True)
                    shutil.rmtree(figures_folder(folder / "feedback.md"), ignore_errors=True)
                else:
                    if result.get("retry"):  # kept for the student to read, graded again next run
                        errors[student] = "retry: some checks were not graded (the machine was too slow or overloaded)"
                    report = {
                        **result,
                        "target": str(submissions / student),
                        "student": student,
                        "submission_sha256": hashes[student],
                        "grading_key": key,
                    }
                    page = feedback_page(report, folder / "feedback.md", title=f"Feedback for {student}", mnist=mnist)
                    write_text(folder / "feedback.md", page)
                    write_text(folder / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
                progress.update()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C: no new submission starts
        progress.close()
        rows = [(name, None, f"error: {why}") for name, why in refused.items()]
        for student in students:
            report = current(student)
            if report:
                rows.append((student, report, "graded"))
            elif errors.get(student, "").startswith("retry") or (_load_report(reports_dir / student / "report.json") or {}).get("retry"):
                rows.append((student, None, "retry"))  # no verdict yet: the next run grades them again
            else:
                rows.append((student, None, errors.get(student, "not graded")))
        rows.sort(key=lambda row: row[0])
        write_text(out / "gradebook.csv", gradebook_csv(rows, exercises))
    print(f"Gradebook: {out / 'gradebook.csv'}")
    for student, error in {**{name: f"error: {why}" for name, why in refused.items()}, **errors}.items():
        print(f"  {student}: {error}", file=sys.stderr)
    return 1 if errors or refused else 0


def student_folders(submissions: Path) -> tuple[list[str], dict[str, str]]:
    """The student folders to grade, and those refused with why (keyed by a
    printable form of their name). A symlink is never followed: it could make
    a student's "submission" a classmate's folder."""
    students, refused = [], {}
    for entry in sorted(os.scandir(submissions), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            refused[entry.name if plain_name(entry.name) else shown_name(entry.name)] = "not graded: a symbolic link, not a folder"
        elif not entry.is_dir(follow_symlinks=False):
            continue
        elif not plain_name(entry.name):
            refused[shown_name(entry.name)] = "not graded: the folder's name is not plain text; rename it"
        else:
            students.append(entry.name)
    return students, refused

