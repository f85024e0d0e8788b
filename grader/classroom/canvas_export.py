"""Reading the CSV files an instructor brings from Canvas: the gradebook export and a times file.

One reader serves `grader import-canvas --roster/--times` (lms_import.py) and
`grader release --roster` (handback.py), so a file one of them accepts is read
the same way by the other. Canvas's gradebook export has a "Points Possible"
row under its header, and "Muted"/"Manual Posting" rows on some courses: they
are no student's, and are skipped here once.

A CSV saved by hand (in a spreadsheet or an editor) can leave a comma
unquoted: "Doe, Jane" is then two fields, and every later column of that row
would give the student another column's value (Jane's ID " Jane", her login
as her SIS User ID). Such a row is refused, naming the file and its line,
before anything is imported or released.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path


class CanvasExportError(ValueError):
    """A CSV that cannot be read row by row under its header; the message names the file and line."""


def _annotation(row: list[str]) -> bool:
    """Canvas's own rows that are no student's: Points Possible, Muted, Manual Posting (or blank)."""
    if row and "Points Possible" in row[0]:
        return True
    return all(not c.strip() or c.strip().lower().startswith(("muted", "manual posting")) for c in row)


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(the header's names, one (line, {name: value}) per student row), names and values stripped;
    a row with fewer fields than the header gets "" for the rest. Raises CanvasExportError for a
    file that is not UTF-8 text or a row with more fields than its header names."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CanvasExportError(f"{path} is not a CSV file in UTF-8: {exc}") from None
    except OSError as exc:
        raise CanvasExportError(f"cannot read {path}: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip() for name in next(reader, [])]
        rows = []
        for row in reader:
            if _annotation(row):
                continue
            if len(row) > len(header):
                raise CanvasExportError(
                    f"{path}, line {reader.line_num}: {len(row)} fields where the header has {len(header)} "
                    f"(a field holding a comma must be in double quotes, as Canvas writes \"Doe, Jane\")"
                )
            rows.append((reader.line_num, {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}))
    except csv.Error as exc:
        raise CanvasExportError(f"{path}, line {reader.line_num}: not a CSV row: {exc}") from None
    return header, rows
