"""Where students put their files: one upload turned into a folder the grader reads.

Shared by every route that grades an upload: `grader --batch` (and so the
nbgrader route, whose `nbgrader-export` writes a folder per student that the
batch grades) and Gradescope's `platforms/gradescope/autograde.py`. It lives
in isolation/ because everything in an upload is student-made: it is read here
without following a symbolic link, without writing outside the folder it is
given, and within limits of size and count, before any grading starts.

`prepare(submission, names, destination)` looks for each exercise file
(`names`, e.g. "ex01_preprocessing.py"):

- in the submission's top folder, or in folders below it (the shallowest wins);
- inside a `.zip` in the submission (members read in memory, up to the limits
  below; a member named outside the zip, a link, or a zip inside the zip is
  never opened, and is listed);
- as a notebook `<name>.ipynb` (its code cells, each magic or shell line
  commented out, become the `.py` file);
- with the case of its name corrected (`EX01_Preprocessing.py`).

It writes each file found into `destination` under its course name, with the
helper `.py` files that sat beside it (keeping their folders), and returns an
`Upload` that says every correction ("Found ex01_preprocessing.py inside
submission.zip") and the status:

- "" (`GRADED`): something to grade. An exercise file missing beside others
  found keeps the grader's own result (its checks say there is no file);
- `NO_FILE` ("no exercise file"): none of the exercise files is there; the
  message lists what the upload held;
- `OVER_SIZE` ("over the size limit"): an exercise file is larger than
  MAX_FILE_BYTES (named with its size); the other exercises are graded.

The size limit is per file: a large helper is left out and named, never at
the cost of an exercise file.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from .safe_files import MAX_FILE_BYTES, MAX_SUBMISSION_DEPTH, MAX_SUBMISSION_ENTRIES, clean_text, plain_name, read_regular, shown_name

GRADED, NO_FILE, OVER_SIZE = "", "no exercise file", "over the size limit"
MAX_NOTEBOOK_BYTES = 32 << 20  # a notebook with its outputs, read to take its code cells
MAX_ZIP_BYTES = 64 << 20  # a zip as uploaded
MAX_ZIP_MEMBERS = 2_000  # entries in one zip
MAX_UNZIPPED_BYTES = 64 << 20  # what is read out of one zip, in all: a zip bomb stops here
IGNORED = {"__MACOSX", "__pycache__", ".ipynb_checkpoints"}
SHOWN_HELD = 30  # names listed in a message


@dataclass
class _Item:
    """A file of the upload: `path` inside its `container` (a zip's path in the upload, or "")."""

    path: PurePosixPath
    size: int
    read: Callable[[int], bytes]
    container: str = ""
    mtime: float = 0.0

    def where(self) -> str:
        return f"{self.path} inside {self.container}" if self.container else str(self.path)


@dataclass
class Upload:
    """What `prepare` found: the status, each correction said to the student, and what the upload held."""

    status: str = GRADED
    notes: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    found: dict[str, str] = field(default_factory=dict)  # course name -> where it was found
    newest: float | None = None  # the newest modification time of what is graded
    names: list[str] = field(default_factory=list)  # the exercise files looked for
    corrected: bool = False  # an exercise file was found elsewhere than flat under its name
    refused: list[str] = field(default_factory=list)  # what the grader will not open: said even when the rest is graded

    def message(self) -> str:
        """What the student reads first: why nothing, or not everything, could be graded, or what was corrected."""
        names = self.names
        if self.status == NO_FILE:
            return (
                f"No exercise file was found in your submission: the grader looks for {', '.join(names)} (flat, in a folder, "
                f"inside a .zip, or as a notebook .ipynb of that name). Your submission holds: {self.holds()}. "
                "Upload the file(s) from the course's exercises/ folder under their names, then submit again."
            ) + "".join(f" {note}" for note in self.notes)
        return " ".join(self.notes)

    def holds(self) -> str:
        if not self.held:
            return "nothing (an empty folder)"
        more = len(self.held) - SHOWN_HELD
        return ", ".join(self.held[:SHOWN_HELD]) + (f" and {more} more" if more > 0 else "")

    def record(self) -> dict:
        """The report's "upload" entry (JSON)."""
        label = self.status or ("corrected" if self.corrected else "as handed in")
        return {"status": label, "message": self.message(), "notes": list(self.notes), "held": self.held[: SHOWN_HELD * 4]}


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MB" if n >= 1 << 20 else f"{n / 1024:.1f} KB" if n >= 1024 else f"{n} bytes"


def _kind(path: Path) -> tuple[str, os.stat_result]:
    """"link", "dir", "file" or "other", from the entry itself: a symbolic link is never followed
    (it could make another student's file, or the course's, this student's)."""
    info = os.lstat(path)
    mode = info.st_mode
    return ("link" if stat.S_ISLNK(mode) else "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"), info


def _member_path(name: str) -> PurePosixPath | None:
    """A zip member's path inside the zip, or None when it names a place outside it
    (absolute, `..`, a drive): such a member is never read nor written."""
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    if not name or not path.parts or path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        return None
    return path


def _walk(submission: Path, upload: Upload) -> list[_Item]:
    """The upload's regular files (and each zip's members), never through a link; the rest listed in `upload.held`."""
    items: list[_Item] = []
    pending, entries = [(submission, 0)], 0
    while pending:
        folder, depth = pending.pop()
        try:
            listing = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in listing:
            entries += 1
            relative = PurePosixPath(Path(entry.path).relative_to(submission).as_posix())
            shown = shown_name(str(relative))
            if entries > MAX_SUBMISSION_ENTRIES:
                upload.held.append(f"(more than {MAX_SUBMISSION_ENTRIES:,} files and folders: the rest not read)")
                return items
            if entry.name.startswith(".") or entry.name in IGNORED:
                continue
            if not plain_name(entry.name):
                upload.held.append(f"{shown} (a name that is not plain text: not read)")
                continue
            try:
                kind, info = _kind(Path(entry.path))
            except OSError:
                continue
            path = Path(entry.path)
            if kind == "link":
                upload.held.append(f"{shown} (a symbolic link: not followed)")
            elif kind == "dir":
                if depth + 1 <= MAX_SUBMISSION_DEPTH:
                    pending.append((path, depth + 1))
            elif kind != "file":
                upload.held.append(f"{shown} (not a regular file)")
            elif entry.name.lower().endswith(".zip"):
                items += _zip_items(path, str(relative), info, upload)
            else:
                upload.held.append(shown)
                items.append(_Item(relative, info.st_size, lambda limit, p=path: read_regular(p, limit), mtime=info.st_mtime))
    return items


def _zip_items(path: Path, shown: str, info: os.stat_result, upload: Upload) -> list[_Item]:
    """A zip's members as items, read lazily from memory; never written where the zip says."""
    if info.st_size > MAX_ZIP_BYTES:
        upload.held.append(f"{shown} ({_size(info.st_size)}: over the {_size(MAX_ZIP_BYTES)} limit for a zip, not opened)")
        return []
    try:
        data = read_regular(path, MAX_ZIP_BYTES)
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        upload.held.append(f"{shown} (not a zip that can be opened: {clean_text(exc, 120)})")
        return []
    if len(members) > MAX_ZIP_MEMBERS:
        upload.held.append(f"{shown} (more than {MAX_ZIP_MEMBERS:,} entries: not opened)")
        return []
    upload.held.append(shown)
    budget = [MAX_UNZIPPED_BYTES]

    def reader(member: zipfile.ZipInfo) -> Callable[[int], bytes]:
        def read(limit: int) -> bytes:
            limit = min(limit, budget[0])
            try:
                with archive.open(member) as fh:  # a declared size can lie: never more than `limit` is read
                    data = fh.read(limit + 1)
            except Exception as exc:  # noqa: BLE001 - encrypted, a bad CRC, an unknown compression: this member alone is not read
                raise ValueError(f"{member.filename}: {type(exc).__name__}") from None
            if len(data) > limit:
                raise ValueError(f"{member.filename} holds more than {_size(limit)} once unzipped")
            budget[0] -= len(data)
            return data

        return read

    items = []
    for member in members:
        inner = _member_path(member.filename)
        name = shown_name(member.filename)
        if inner is None:
            upload.held.append(f"{shown}: {name} (a path outside the zip: not read)")
            upload.refused.append(upload.held[-1])
        elif member.is_dir() or inner.name.startswith(".") or any(part in IGNORED for part in inner.parts):
            continue
        elif stat.S_ISLNK(member.external_attr >> 16):
            upload.held.append(f"{shown}: {name} (a symbolic link: not followed)")
            upload.refused.append(upload.held[-1])
        elif inner.name.lower().endswith(".zip"):
            upload.held.append(f"{shown}: {name} (a zip inside a zip: not opened; put its files in one zip)")
            upload.refused.append(upload.held[-1])
        else:
            upload.held.append(f"{shown}: {name}")
            items.append(_Item(inner, member.file_size, reader(member), container=shown, mtime=info.st_mtime))
    return items


def notebook_code(data: bytes) -> str:
    """A notebook's code cells as one Python file: each IPython magic (`%`, `%%`) or shell (`!`) line commented out."""
    import nbformat  # installed with nbgrader (a dependency of the course); imported only for a notebook

    notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        if lines and lines[0].lstrip().startswith("%%"):  # a cell magic: the whole cell is not Python
            cells.append("\n".join(f"# {line}" for line in lines))
            continue
        cells.append("\n".join(f"# {line}" if line.lstrip().startswith(("%", "!")) else line for line in lines))
    return "\n\n\n".join(cells) + "\n"


def _rank(item: _Item, name: str) -> tuple | None:
    """How well `item` stands for the exercise file `name` (lower is better), or None."""
    kind = 0 if item.path.name == name else 1 if item.path.name.lower() == name.lower() else None
    if kind is None and item.path.name.lower() == name[: -len(".py")].lower() + ".ipynb":
        kind = 2
    if kind is None:
        return None
    return (kind, bool(item.container), len(item.path.parts), item.container, str(item.path))


def prepare(submission: Path, names: list[str], destination: Path) -> Upload:
    """Find the exercise files `names` in `submission` and write them, with their helpers, into
    `destination` (created; it must not exist or be empty). See the module's docstring."""
    upload = Upload(names=list(names))
    destination.mkdir(parents=True, exist_ok=True)
    if any(destination.iterdir()):  # another upload's files must never be graded as this one's
        raise ValueError(f"{destination} is not empty")
    items = _walk(Path(submission), upload) if Path(submission).is_dir() else []
    chosen: dict[str, _Item] = {}
    over: dict[str, str] = {}
    times: list[float] = []
    for name in names:
        ranked = sorted((r, i) for i, item in enumerate(items) if (r := _rank(item, name)) is not None)
        if not ranked:
            continue
        item = items[ranked[0][1]]
        notebook = item.path.suffix.lower() == ".ipynb"
        limit = MAX_NOTEBOOK_BYTES if notebook else MAX_FILE_BYTES
        if item.size > limit:
            over[name] = (f"{item.where()} is {_size(item.size)}, over the limit of {_size(limit)} for one file")
            continue
        try:
            data = item.read(limit)
            if notebook:
                try:
                    data = notebook_code(data).encode("utf-8")
                except Exception as exc:  # noqa: BLE001 - not JSON, not a notebook, nbformat missing: said, never a crash
                    raise ValueError(f"not a notebook that can be read: {type(exc).__name__}") from None
                if len(data) > MAX_FILE_BYTES:
                    over[name] = (f"the code of {item.where()} is {_size(len(data))}, over the limit of {_size(MAX_FILE_BYTES)} for one file")
                    continue
        except ValueError as exc:  # read beyond its declared size, or a notebook that is not one
            upload.notes.append(f"{item.where()} could not be read ({clean_text(exc, 200)}): not graded.")
            continue
        except (OSError, UnicodeDecodeError) as exc:
            upload.notes.append(f"{item.where()} could not be read ({clean_text(exc, 200)}): not graded.")
            continue
        (destination / name).write_bytes(data)
        chosen[name] = item
        times.append(item.mtime)
        upload.found[name] = item.where()
        said = _correction(item, name)
        if said:
            upload.notes.append(f"Found {item.where()}: {said}.")
            upload.corrected = True
        others = [items[i].where() for _, i in ranked[1:]]
        if others:
            upload.notes.append(f"Graded {item.where()} (also uploaded, not graded: {', '.join(others[:5])}{' and more' if len(others) > 5 else ''})")
    times += _helpers(items, chosen, names, destination, upload)
    upload.newest = max(times, default=None)
    if over:
        upload.status = OVER_SIZE
        upload.notes[:0] = [f"Not graded: {line}." for line in over.values()]
    elif not chosen:
        upload.status = NO_FILE
    missing = [name for name in names if name not in chosen and name not in over]
    if chosen and upload.refused:
        upload.notes.append(f"Not read from your upload: {'; '.join(upload.refused[:10])}.")
    if chosen and missing:
        upload.notes.append(f"Not in your submission: {', '.join(missing)} (its checks say so and score 0).")
    return upload


def _correction(item: _Item, name: str) -> str:
    """What was done to grade `item` as `name`, or "" (found where the grader looks, under its name)."""
    if item.path.suffix.lower() == ".ipynb":
        return f"its code cells graded as {name} (magic and shell lines commented out)"
    if item.path.name != name:
        return f"graded as {name} (the case of its name corrected)"
    return f"graded as {name}" if item.container or len(item.path.parts) > 1 else ""


def _helpers(items: list[_Item], chosen: dict[str, _Item], names: list[str], destination: Path, upload: Upload) -> list[float]:
    """The other `.py` files beside the first exercise file found (its folder and below, in the same
    place), written with their relative paths: the modules an exercise file may import."""
    if not chosen:
        return []
    first = chosen[min(chosen, key=names.index)]
    base, container = first.path.parent, first.container
    lowered = {n.lower() for n in names} | {n[:-3].lower() + ".ipynb" for n in names}
    times = []
    for item in items:
        if item.container != container or item.path.suffix != ".py" or item.path.name.lower() in lowered:
            continue
        try:
            relative = item.path.relative_to(base)
        except ValueError:
            continue
        if item.size > MAX_FILE_BYTES:
            upload.notes.append(f"Left out {item.where()}: it is {_size(item.size)}, over the limit of {_size(MAX_FILE_BYTES)} for one file (an exercise that imports it fails).")
            continue
        try:
            data = item.read(MAX_FILE_BYTES)
        except (OSError, ValueError) as exc:
            upload.notes.append(f"Left out {item.where()}: it could not be read ({clean_text(exc, 200)}).")
            continue
        target = destination.joinpath(*relative.parts)
        try:  # a helper whose path collides with another's (util.py and util.py/inner.py), or too long a name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:
            upload.notes.append(f"Left out {item.where()}: it could not be written ({type(exc).__name__}).")
            continue
        times.append(item.mtime)
    return times


def summary(uploads: dict[str, Upload]) -> list[str]:
    """The lines a batch prints at its end: each upload with a status, then those corrected."""
    named = {student: u for student, u in sorted(uploads.items()) if u.status}
    corrected = sorted(student for student, u in uploads.items() if u.corrected and not u.status)
    lines = [f"Uploads that could not be graded in full ({len(named)}; each student's feedback says why):"] if named else []
    lines += [f"  {student}: {u.status}: {clean_text(u.message(), 400)}" for student, u in named.items()]
    if corrected:
        lines.append(f"Uploads graded after a correction ({len(corrected)}; said in each feedback): {', '.join(corrected)}")
    return lines
