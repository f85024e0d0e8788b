"""`grader import-canvas ZIP DIR`: Canvas's "Download submissions" zip becomes the
folder per student that `grader --batch DIR` reads.

What Canvas's zip holds (checked in Canvas's own source, instructure/canvas-lms
`lib/content_zipper.rb`, `get_filename` and `add_upload_submission`, and in
instructure/canvas-lms issue #2406, whose download held
`studenttest_3143_207797_zipsubmission.zip`): one flat zip, one entry per
uploaded file, named

    <name>[_late]_<user id>_<file id>_<display name>

where <name> is the student's sortable name ("Doe, Jane") with every non-word
character removed and lower-cased (`doejane`; digits between underscores are
taken out of it so the ids stay findable), `late` is there when Canvas counted
the submission late, <user id> is the Canvas user id, the second number is the
id of the uploaded file (Canvas's attachment id; often called the submission
id), and <display name> the file's name as Canvas shows it. Canvas renames a
re-uploaded file whose name is already in the student's files by appending
`-1`, `-2`, ... before the extension (`ex01_preprocessing-1.py`; seen in
nus-cs2103-AY2324S1/forum issue #459), so the highest suffix is the latest
upload. A text entry or a URL is a page, `<name>[_late]_<user id>_text.html` or
`_link.html` (`add_text_or_url`): no file to grade, listed as `not_files`.
Under anonymous grading the name is left out (`[late_]<id>_<file
id>_<display name>`); this importer accepts that too.

Folders are named by a stable id, never by the display name: the Canvas user
id, or, with `--roster CSV` (Canvas's gradebook export, Grades > Export, whose
columns `ID`, `SIS User ID` and `SIS Login ID` are the user id, the SIS id and
the login), the SIS login id (else the SIS user id) of that user id. Each
file gets its original name back (the `-N` suffix removed, the latest upload
of each name kept) and the resubmission count is recorded.

The submission's time. The zip's names carry none, and the zip entries' own
timestamps are NOT the upload time: Canvas's zipper writes each entry with
rubyzip's `get_output_stream(filename)`, whose default time is the moment the
zip is made, so every entry of a download says when the instructor downloaded
it (the same source). So, in order:

1. `--times CSV`: a CSV with a student column (`ID`/`user_id`, the Canvas user
   id, or `SIS Login ID`/`login_id`) and a `submitted_at` column (ISO 8601),
   which is what Canvas's Submissions API returns per submission
   (`GET /api/v1/courses/:course/assignments/:assignment/submissions`,
   field `submitted_at`); Canvas's gradebook CSV has no submission time, so
   this CSV comes from the API (or an LMS report that carries the field).
   Source `canvas-csv`.
2. Else the zip entry's timestamp, source `zip-entry-time`, said loudly: it is
   the download's time (above), good only to order a student's own files;
   Canvas's `late` flag in the name is the one trustworthy lateness without
   a times CSV, and it is kept in canvas_import.json.

Written: DIR/<student>/<files>, DIR/submission_times.csv (`student,
submitted_at,source`; the batch's `--submission-times` reads it, default
SUBMISSIONS/submission_times.csv) and DIR/canvas_import.json (per student: the
Canvas user id, the file ids, the name, the files, the late flag, the
resubmission count). Everything is built in a temporary folder beside DIR and
renamed into place at the end. One odd entry costs only itself: a path in a
name, a folder, a name Canvas does not write, an entry over the size limit, or
two uploads of one file with the same version are not imported, each said on
the terminal and in canvas_import.json's `refused`, and every other upload is
(a student left with no file gets a folder, which the batch says has no
exercise file). Bad input as a whole (not a zip, no upload of Canvas's at all,
a roster that misses a student or gives two one login, an existing non-empty
DIR) is a clear error and leaves nothing.

Moodle's "Download all submissions" (folders
`<Full Name>_<participant id>_assignsubmission_file_/<file>`) is not imported
here: Moodle's mod/assign/locallib.php (`download_submissions`) builds the
prefix from `fullname($student)` and `get_uniqueid_for_user($userid)`, the
assignment's own participant id (its `assign_user_mapping` row, the
blind-marking id), not the user's id or login, so a stable folder name needs Moodle's grading worksheet beside it,
and the zip carries no time either; see docs/INSTRUCTORS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from ..isolation.safe_files import plain_name, shown_name
from .canvas_export import CanvasExportError, read_rows

TIMES = "submission_times.csv"
RECORD = "canvas_import.json"
MAX_ENTRY_BYTES = 20 * 1024 * 1024  # a zip bomb's entry stops here, with its name
# <name>[_late]_<user id>_<file id>_<display name>; the name may be absent (anonymous grading)
CANVAS_NAME = re.compile(r"^(?:(?P<name>\w*?)_)??(?P<late>late_)?(?P<user>\d+)_(?P<file>\d+)_(?P<original>.+)$")
# a text entry or a URL, which Canvas writes as a page: no file to grade
CANVAS_PAGE = re.compile(r"^(?:\w*?_)??(?:late_)?(?P<user>\d+)_(?P<kind>text|link)\.html$")
RESUBMISSION = re.compile(r"^(?P<stem>.+?)-(?P<n>\d+)(?P<ext>\.[^.]*)?$")


class LmsImportError(ValueError):
    """Bad input: the message says what and where; nothing was written."""


@dataclass
class Upload:
    entry: str
    user: str
    file_id: str
    name: str
    late: bool
    original: str  # the name with Canvas's -N removed
    version: int  # 0 for the first upload of that name, N for -N
    time: datetime


@dataclass
class Student:
    user: str
    name: str = ""
    late: bool = False
    uploads: list[Upload] = field(default_factory=list)


def parse_entry(entry: str, time: datetime) -> Upload:
    """One zip entry's name, read as Canvas writes it; a clear error otherwise."""
    path = PurePosixPath(entry)
    if entry.startswith("/") or "\\" in entry or ".." in path.parts or len(path.parts) != 1:
        raise LmsImportError(f"{entry!r}: a path inside Canvas's zip; Canvas's download is one flat folder of files, so this is not it (or it was altered)")
    m = CANVAS_NAME.match(entry)
    if not m:
        raise LmsImportError(
            f"{entry!r} is not named as Canvas names a submission (<name>[_late]_<user id>_<file id>_<file name>); "
            "is this the zip from the assignment's \"Download submissions\"?"
        )
    original = m["original"]
    version = 0
    r = RESUBMISSION.match(original)
    if r:
        original, version = r["stem"] + (r["ext"] or ""), int(r["n"])
    if not plain_name(original) or original.startswith("."):
        raise LmsImportError(f"{entry!r}: the file's name {original!r} is not a plain file name")
    return Upload(entry, m["user"], m["file"], m["name"] or "", bool(m["late"]), original, version, time)


def _entry_time(info: zipfile.ZipInfo) -> datetime:
    # A zip stores local time with no zone; Canvas's servers write UTC.
    return datetime(*info.date_time, tzinfo=timezone.utc)


def read_canvas_zip(path: Path, skipped: list[str] | None = None, refused: list[dict] | None = None) -> dict[str, Student]:
    """The zip's uploads grouped by Canvas user id; Canvas's pages for a text entry
    or a URL (no file to grade) go to `skipped`. An entry that is not one of Canvas's
    uploads (a path, a folder, a name Canvas does not write, an entry over the size
    limit) goes to `refused` with why, and costs nobody else's upload; only a zip with
    no upload at all is refused as a whole."""
    refused = [] if refused is None else refused
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise LmsImportError(f"{path}: not a zip file ({exc})") from None
    students: dict[str, Student] = {}
    with archive:
        for info in archive.infolist():
            if CANVAS_PAGE.match(info.filename):
                if skipped is not None:
                    skipped.append(info.filename)
                continue
            try:
                if info.is_dir():
                    raise LmsImportError(f"{info.filename!r}: a folder inside the zip; Canvas's download is one flat folder of files")
                upload = parse_entry(info.filename, _entry_time(info))
                if info.file_size > MAX_ENTRY_BYTES:
                    raise LmsImportError(f"{info.filename!r}: {info.file_size:,} bytes, over the {MAX_ENTRY_BYTES:,} an upload may have")
            except LmsImportError as why:
                refused.append({"entry": shown_name(info.filename), "why": str(why)})
                continue
            s = students.setdefault(upload.user, Student(upload.user))
            s.name = s.name or upload.name
            s.late = s.late or upload.late
            s.uploads.append(upload)
    if not students:
        if refused:
            raise LmsImportError(f"{path}: no entry is one of Canvas's uploads; the first: {refused[0]['why']}")
        raise LmsImportError(f"{path}: an empty zip, no submission in it")
    return students


def _read_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    """Each student row with its line (canvas_export.py), or LmsImportError naming the line that does not fit."""
    try:
        return read_rows(path)[1]
    except CanvasExportError as exc:
        raise LmsImportError(str(exc)) from None


def roster_ids(path: Path) -> dict[str, str]:
    """Canvas user id -> SIS login id (else SIS user id), from Canvas's gradebook export."""
    ids = {}
    for _, row in _read_csv(path):
        user = row.get("ID", "")
        stable = row.get("SIS Login ID") or row.get("SIS User ID")
        if user.isdigit() and stable:
            if not plain_name(stable) or "/" in stable or stable.startswith("."):
                raise LmsImportError(f"{path}: the login {stable!r} of user {user} cannot be a folder's name")
            ids[user] = stable
    if not ids:
        raise LmsImportError(f"{path}: no row with an `ID` and a `SIS Login ID` or `SIS User ID`; is it Canvas's gradebook export?")
    return ids


def csv_times(path: Path) -> dict[str, datetime]:
    """Student key (user id or login) -> submitted_at, from a times CSV."""
    times = {}
    for n, row in _read_csv(path):
        key = row.get("ID") or row.get("user_id") or row.get("SIS Login ID") or row.get("login_id")
        when = row.get("submitted_at") or row.get("Submitted At")
        if not key or not when:
            continue  # not submitted
        try:
            stamp = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise LmsImportError(f"{path}, line {n}: submitted_at {when!r} is not an ISO 8601 time") from None
        if stamp.tzinfo is None:
            raise LmsImportError(f"{path}, line {n}: submitted_at {when!r} has no time zone; Canvas's API writes UTC with a Z")
        times[key] = stamp
    return times


def plan(students: dict[str, Student], roster: dict[str, str] | None, refused: list[dict] | None = None) -> dict[str, tuple[Student, dict[str, Upload]]]:
    """Folder name -> (student, original file name -> the latest upload of it). Two
    uploads of one file with the same version: which is the latest cannot be told, so
    neither is imported (said in `refused`); the student's other files still are."""
    refused = [] if refused is None else refused
    folders: dict[str, tuple[Student, dict[str, Upload]]] = {}
    for user, s in sorted(students.items()):
        folder = roster.get(user) if roster else user
        if folder is None:
            raise LmsImportError(f"Canvas user {user} ({s.name or 'no name'}) is in the zip but not in the roster CSV; export the gradebook again")
        if folder in folders:
            raise LmsImportError(f"two Canvas users resolve to the folder {folder!r}; the roster CSV gives them one login")
        latest: dict[str, Upload] = {}
        ambiguous: set[str] = set()
        for u in s.uploads:
            seen = latest.get(u.original)
            if seen is not None and seen.version == u.version:
                ambiguous.add(u.original)
                refused.append({"entry": shown_name(u.entry), "why": f"{seen.entry!r} and {u.entry!r}: two uploads of {u.original!r} "
                                "with the same version; which is the latest cannot be told, so neither is imported"})
            if seen is None or u.version > seen.version:
                latest[u.original] = u
        for original in ambiguous:
            del latest[original]
        folders[folder] = (s, latest)
    return folders


def import_canvas(zip_path: Path, out: Path, roster_csv: Path | None = None, times_csv: Path | None = None) -> dict:
    """Do the import; return the record written to canvas_import.json."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LmsImportError(f"{out} exists and is not empty; import into a new folder (nothing was written)")
    skipped: list[str] = []
    refused: list[dict] = []
    students = read_canvas_zip(zip_path, skipped, refused)
    roster = roster_ids(roster_csv) if roster_csv else None
    given = csv_times(times_csv) if times_csv else {}
    folders = plan(students, roster, refused)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    record: dict = {"source": str(zip_path), "folder_named_by": "SIS login id (roster CSV)" if roster else "Canvas user id",
                    "not_files": skipped, "refused": refused, "students": {}}
    rows = []
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for folder, (s, latest) in sorted(folders.items()):
                (staging / folder).mkdir()
                for original, u in sorted(latest.items()):
                    with archive.open(u.entry) as src, open(staging / folder / original, "xb") as dst:
                        shutil.copyfileobj(src, dst)
                when = given.get(s.user) or given.get(folder)
                source = "canvas-csv" if when else "zip-entry-time"
                when = when or max((u.time for u in latest.values()), default=max(u.time for u in s.uploads))
                rows.append((folder, when.isoformat(), source))
                record["students"][folder] = {
                    "canvas_user_id": s.user,
                    "canvas_file_ids": {o: u.file_id for o, u in sorted(latest.items())},
                    "name": s.name,
                    "files": sorted(latest),
                    "late": s.late,
                    "resubmissions": sum(1 for u in s.uploads if u.version > 0),
                    "submitted_at": when.isoformat(),
                    "time_source": source,
                }
        with open(staging / TIMES, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["student", "submitted_at", "source"])
            w.writerows(rows)
        (staging / RECORD).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty, checked above
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return record


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="grader import-canvas",
        description="Turn Canvas's \"Download submissions\" zip into one folder per student for `grader --batch DIR`.",
    )
    parser.add_argument("zip", type=Path, help="the zip Canvas's \"Download submissions\" gave")
    parser.add_argument("dir", type=Path, help="a new (or empty) folder: one folder per student goes there")
    parser.add_argument("--roster", type=Path, help="Canvas's gradebook CSV (Grades > Export): folders named by SIS login id instead of Canvas user id")
    parser.add_argument("--times", type=Path, help="a CSV with the Canvas user id (ID) or login and submitted_at per student (Canvas's Submissions API)")
    args = parser.parse_args(argv)
    try:
        record = import_canvas(args.zip, args.dir, args.roster, args.times)
    except (LmsImportError, OSError) as exc:
        print(f"grader import-canvas: {exc}", file=sys.stderr)
        return 2
    people = record["students"]
    late = sorted(k for k, v in people.items() if v["late"])
    resub = sorted(k for k, v in people.items() if v["resubmissions"])
    print(f"{len(people)} students imported into {args.dir} (folders named by {record['folder_named_by']})")
    if late:
        print(f"  late by Canvas's flag: {', '.join(late)}")
    if resub:
        print(f"  resubmitted (latest upload of each file kept): {', '.join(resub)}")
    if record["not_files"]:
        print(f"  not a file upload (a text entry or a URL), not imported: {', '.join(record['not_files'])}")
    for entry in record["refused"]:  # one odd entry costs only itself: said, never silently dropped
        print(f"grader import-canvas: WARNING: not imported: {entry['why']}", file=sys.stderr)
    from_zip = sorted(k for k, v in people.items() if v["time_source"] == "zip-entry-time")
    if from_zip:
        print(
            f"grader import-canvas: WARNING: no --times CSV for {len(from_zip)} students: their submitted_at is the zip entry's time, "
            "which Canvas sets when the zip is made, not when the student uploaded; do not apply a late policy to it "
            "(Canvas's late flag is in canvas_import.json)",
            file=sys.stderr,
        )
    print(f"  {args.dir / TIMES}, {args.dir / RECORD}; next: grader EXERCISES --batch {args.dir} --out RESULTS")
    return 0
