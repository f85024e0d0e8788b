"""OUT/history/: no grade is ever silently overwritten.

When a batch run replaces a student's report with one whose score differs (a
regrade after a fix to the grader, a new submission, `--force`), or removes
a report because the submission can no longer be graded, the earlier report
and its feedback pages are copied to OUT/history/<student>/<n>-<graded at>/ first,
with a line in OUT/history/<student>/changes.jsonl saying what changed and
when. The batch prints each change, and class.html lists them with links to
the earlier feedback (dashboard.py). Nothing here ever deletes a history entry.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HISTORY = "history"
CHANGES = "changes.jsonl"
KEPT = ("report.json", "feedback.md", "feedback.html")


def scores(report: dict[str, Any] | None) -> tuple:
    """What a grade is: the total and every check's points and status."""
    if not report:
        return ()
    return (
        report.get("score"),
        tuple((ex.get("id"), c.get("name"), c.get("score"), c.get("status")) for ex in report.get("exercises", []) for c in ex.get("checks", [])),
    )


def changed(old: dict[str, Any] | None, new: dict[str, Any] | None) -> bool:
    """True when replacing `old` by `new` changes a grade (`new` None: the grade goes)."""
    if not old or old.get("retry"):  # a report marked retry was never a grade
        return False
    return new is None or scores(old) != scores(new)


def keep(out: Path, student: str, folder: Path, old: dict[str, Any], new: dict[str, Any] | None, why: str) -> Path:
    """Copy the student's current pages (report.json, feedback.md, feedback.html)
    into a new history entry, and record the change. Returns the entry's folder."""
    base = out / HISTORY / student
    base.mkdir(parents=True, exist_ok=True)
    taken = [int(m.group(1)) for p in base.iterdir() if (m := re.match(r"(\d+)-", p.name))]
    stamp = re.sub(r"[^0-9A-Za-z]", "", str(old.get("started_at", "")))[:15] or "unknown"
    entry = base / f"{max(taken, default=0) + 1:03d}-{stamp}"
    entry.mkdir()
    for name in KEPT:
        if (folder / name).is_file():
            shutil.copy2(folder / name, entry / name)
    line = {
        "entry": entry.name,
        "recorded_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "old_score": old.get("score"),
        "new_score": None if new is None else new.get("score"),
        "max_score": old.get("max_score"),
        "old_graded_at": old.get("started_at"),
        "old_submission_sha256": old.get("submission_sha256"),
        "new_submission_sha256": None if new is None else new.get("submission_sha256"),
        "why": why,
    }
    with (base / CHANGES).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return entry


def earlier_grades(out: Path, student: str) -> list[dict[str, Any]]:
    """The student's replaced or withdrawn grades, oldest first, for their feedback page."""
    return [
        {"score": c.get("old_score"), "max_score": c.get("max_score"), "graded_at": c.get("old_graded_at"), "why": c.get("why")}
        for c in changes(out, student)
    ]


def changes(out: Path, student: str | None = None) -> list[dict[str, Any]]:
    """Every recorded change (or one student's), oldest first per student, students
    in name order; each with "student" and, when kept, "page": the earlier
    feedback page's path relative to OUT."""
    found = []
    root = out / HISTORY
    if not root.is_dir():
        return found
    for base in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and student in (None, p.name)):
        try:
            lines = (base / CHANGES).read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for text in lines:
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if not isinstance(line, dict):
                continue
            entry = base / str(line.get("entry", ""))
            page = next((entry / name for name in ("feedback.html", "feedback.md") if (entry / name).is_file()), None)
            found.append({**line, "student": base.name, "page": page.relative_to(out).as_posix() if page else None})
    return found

