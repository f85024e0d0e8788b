"""Grade a whole class: one folder per student, one report per student, one gradebook.

    grader --batch SUBMISSIONS --out RESULTS [--jobs N] [--force] [EXERCISE ...]

Each student's folder is graded by its own `grader` process (with its own
worker processes), so one broken or hostile submission can only fail itself.
Per student it writes RESULTS/<student>/report.json (the course's JSON report
plus "student" and "submission_sha256") and feedback.md; then
RESULTS/gradebook.csv for every student. A report is written as soon as its
student is graded, so a crash or Ctrl-C loses nothing already graded, and a
re-run skips every student whose submission has not changed (unless --force).
Identical submissions (same content hash) are graded once.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mnist_course.course import ROOT, Exercise

from .formats import markdown_feedback
from .report import GRADER_VERSION, write_text

SUBMISSION_TIMEOUT = 30 * 60  # seconds for one student's whole submission


def submission_hash(folder: Path) -> str:
    """sha256 over every file's relative path and bytes (caches and hidden files aside)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
            continue
        digest.update(str(relative).encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def _grade_one(folder: Path, exercises: list[Exercise], data_arg: str | None) -> dict[str, Any]:
    """Grade one folder in a separate grader process; the report, or {"error": why}."""
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
            return {"error": f"grading took longer than {SUBMISSION_TIMEOUT} s"}
        if done.returncode not in (0, 1) or not report_file.is_file():
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            return {"error": f"the grader could not grade this folder (exit {done.returncode}): {last}"}
        return json.loads(report_file.read_text(encoding="utf-8"))


def _load_report(path: Path) -> dict[str, Any] | None:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        return report if isinstance(report, dict) and "score" in report else None
    except (OSError, ValueError):
        return None


def _cell(text: str) -> str:
    # A student id like "=HYPERLINK(...)" must not become a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def write_gradebook(out: Path, students: list[str], exercises: list[Exercise], errors: dict[str, str]) -> Path:
    path = out / "gradebook.csv"
    with tempfile.NamedTemporaryFile("w", newline="", encoding="utf-8", dir=out, delete=False, suffix=".part") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", *(ex.id for ex in exercises), "total", "max", "status", "data_sha256", "grader_version", "submission_sha256"])
        for student in students:
            report = _load_report(out / student / "report.json")
            if report is None:
                status = errors.get(student, "not graded")
                writer.writerow([_cell(student), *([""] * len(exercises)), "", "", status, "", GRADER_VERSION, ""])
                continue
            scores = {ex["id"]: ex["score"] for ex in report["exercises"]}
            writer.writerow(
                [
                    _cell(student),
                    *(scores.get(ex.id, "") for ex in exercises),
                    report["score"],
                    report["max_score"],
                    "graded",
                    (report.get("data") or {}).get("sha256", ""),
                    report.get("grader_version", ""),
                    report.get("submission_sha256", ""),
                ]
            )
    Path(fh.name).replace(path)
    return path


def run_batch(
    submissions: Path,
    out: Path,
    exercises: list[Exercise],
    data_arg: str | None,
    jobs: int = 1,
    force: bool = False,
) -> int:
    """Grade every student folder in `submissions`; 0 if all were graded, 1 if some could not be."""
    # Each student is graded from the course root, so every path must be absolute.
    submissions, out = submissions.resolve(), out.resolve()
    if data_arg:
        data_arg = str(Path(data_arg).expanduser().resolve())
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    out.mkdir(parents=True, exist_ok=True)
    hashes = {s: submission_hash(submissions / s) for s in students}
    todo = []
    for student in students:
        previous = _load_report(out / student / "report.json")
        if force or previous is None or previous.get("submission_sha256") != hashes[student]:
            todo.append(student)
    print(f"{len(students)} submissions in {submissions}: {len(students) - len(todo)} already graded, {len(todo)} to grade")

    errors: dict[str, str] = {}
    progress = tqdm(total=len(todo), unit="submission", desc="Grading", file=sys.stderr, disable=not todo)
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
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
                progress.set_postfix_str(student)
                if "error" in result:
                    errors[student] = f"error: {result['error']}"
                else:
                    report = {**result, "student": student, "submission_sha256": hashes[student]}
                    write_text(out / student / "feedback.md", markdown_feedback(report, title=f"Feedback for {student}"))
                    write_text(out / student / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
                progress.update()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C: no new submission starts
        progress.close()
        gradebook = write_gradebook(out, students, exercises, errors)
    print(f"Gradebook: {gradebook}")
    for student, error in errors.items():
        print(f"  {student}: {error}", file=sys.stderr)
    return 1 if errors else 0
