"""The class's gradebook: `gradebook.csv` (one line per student: per exercise, the totals,
what graded it, when it was submitted, and one column per check), and reading a
student's report back from the results folder. Written by the batch (batch.py) after
every run; read by the hand-back (handback.py)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from mnist_course.course import Exercise

from ..provenance import GRADER_VERSION
from .deadlines import final_score

# gradebook.csv's status of a grade kept from an earlier run into the same RESULTS (issue 40 item 4): the
# gradebook is the union of everything graded there. `grader release` hands back the first, not the second.
ABSENT = "graded earlier: not in this run's submissions"
STALE = "not regraded yet: the grade shown is an earlier run's (its submission or the grading changed since)"


def load_report(path: Path) -> dict[str, Any] | None:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        return report if isinstance(report, dict) and isinstance(report.get("exercises"), list) else None
    except (OSError, ValueError):
        return None


def spreadsheet_cell(text: str) -> str:
    # A student id like "=HYPERLINK(...)" must not become a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def check_columns(exercises: list[Exercise]) -> list[tuple[str, str]]:
    """(exercise id, check name) of every check, in course order: the per-check columns."""
    return [(ex.id, name) for ex in exercises for name in ex.checks]


def gradebook_csv(rows: list[tuple[str, dict[str, Any] | None, str]], exercises: list[Exercise]) -> str:
    """One line per student: (student, current report or None, status). "total" is the raw score,
    "late_penalty" the points a late policy took (deadlines.py), "final_score" what is handed back. After the
    status, what the upload step found (`upload`: as handed in, corrected, no exercise file, over the size
    limit; isolation/uploads.py), then provenance, when the submission was last changed, the points of
    the written questions that wait for a person (`written_points`: answers.csv holds them), the variant of
    each exercise that has variants ("ex02b variant": its key, grader/variants.py) and one column per
    check ("ex01 one_hot_values"), each the points that check earned."""
    out = io.StringIO()
    writer = csv.writer(out)
    checks = check_columns(exercises)
    varied = [ex.id for ex in exercises if ex.variants]
    written = sum(ex.written_points for ex in exercises)
    writer.writerow(
        ["student", *(ex.id for ex in exercises), "total", "max", "late_penalty", "final_score", "status", "upload", "data_sha256", "grader_version",
         "submission_sha256", "submitted_at", "submitted_at_source", *(["written_points"] if written else []), *(f"{ex_id} variant" for ex_id in varied),
         *(f"{ex_id} {name}" for ex_id, name in checks)]
    )
    for student, report, status in rows:
        if report is None:
            writer.writerow([spreadsheet_cell(student), *([""] * len(exercises)), "", "", "", "", status, "", "", GRADER_VERSION, "", "", "",
                             *([""] if written else []), *([""] * len(varied)), *([""] * len(checks))])
            continue
        scores = {ex["id"]: ex["score"] for ex in report["exercises"]}
        graded_on = {ex["id"]: ex["variant"]["key"] for ex in report["exercises"] if isinstance(ex.get("variant"), dict)}
        points = {(ex["id"], c["name"]): c["score"] for ex in report["exercises"] for c in ex.get("checks", [])}
        writer.writerow(
            [
                spreadsheet_cell(student),
                *(scores.get(ex.id, "") for ex in exercises),
                report["score"],
                report["max_score"],
                (report.get("late") or {}).get("penalty_points", 0),
                final_score(report),
                status,
                (report.get("upload") or {}).get("status", ""),
                (report.get("data") or {}).get("sha256", ""),
                report.get("grader_version", ""),
                report.get("submission_sha256", ""),
                report.get("submitted_at", ""),
                report.get("submitted_at_source", ""),
                *([written] if written else []),
                *(graded_on.get(ex_id, "") for ex_id in varied),
                *(points.get(key, "") for key in checks),
            ]
        )
    return out.getvalue()


def answers_csv(rows: list[tuple[str, dict[str, Any] | None, str]], exercises: list[Exercise]) -> str:
    """RESULTS/answers.csv: one line per student and written question (reports/written.py), for the
    instructor to grade by hand with docs/RUBRICS.md: the answer as handed in, its points, and an
    empty `grade` column to fill."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", "exercise", "question", "points", "status", "answer", "grade"])
    asked = {ex.id for ex in exercises if ex.questions}
    for student, report, _ in rows:
        for ex in (report or {}).get("exercises", []):
            if ex["id"] in asked and ex.get("written"):
                for question in ex["written"]["questions"]:
                    writer.writerow([spreadsheet_cell(student), ex["id"], question["id"], question["points"], question["status"],
                                     spreadsheet_cell(question["answer"]), ""])
    return out.getvalue()
