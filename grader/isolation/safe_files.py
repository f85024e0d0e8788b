"""Reading what a student or a worker left on disk without being led astray.

Every file the grader reads from a submission, or back from a worker's
folder, is student-made, so each helper here exists for one way such a file
could mislead the grader:

- `graded_files` / `copy_submission`: only a submission's regular `.py`
  files, never through a symlink (a link to another student's folder or to
  the course is treated as absent), nothing hidden, no `__pycache__` (a
  planted `.pyc` is never imported), with limits on size, depth and count; a
  tree the grader will not read raises `SubmissionError`, which costs that
  submission only.
- `open_regular` / `read_regular`: a file that must be a regular file itself,
  opened without following a symlink (to /dev/zero, or to the course) and
  without blocking on a FIFO, and read up to a size limit.
- `remove_tree`: a worker's folder removed however the student left it
  (read-only, thousands of levels deep), never following a link out of it.
- `shown_name` / `plain_name` / `clean_text`: names and text safe to print in
  a terminal and in every report format (no control characters, no lone
  surrogates, bounded length).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

# Python source is small: the longest reference solution is 14 KB. Bounds far above any honest
# file and below a table of answers (adversarial reviews filled 0.8 to 3 MB with the p-values
# or gradients a check asks for, worked out at home).
MAX_SUBMISSION_BYTES = 1 << 20  # Python source a worker gets to import, in all
MAX_FILE_BYTES = 256 << 10  # one Python file: a larger one is left out (uploads.py names it), never at another's cost
MAX_SUBMISSION_DEPTH = 16  # folders inside a submission
MAX_SUBMISSION_ENTRIES = 10_000  # files and folders in a submission


class SubmissionError(ValueError):
    """A submission the grader will not read: the student's alone, said plainly."""


def shown_name(name: str) -> str:
    """A file name as it can be printed: undecodable bytes and control characters escaped."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def plain_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 arrive as lone surrogates
        return False
    return name.isprintable()


def graded_files(folder: Path, leave_out: frozenset[str] = frozenset()) -> list[Path]:
    """The files of a submission that are graded: its Python sources (less the files at its
    top named in `leave_out`: a worker's view leaves the course's other exercise files out).

    Regular `.py` files only (never through a symlink, nothing hidden, no
    `__pycache__`, so a stale or planted `.pyc` is never imported),
    each at most MAX_FILE_BYTES (a larger one is left out, whatever its name
    sorts after, so a large helper never crowds an exercise file out; the
    upload step, uploads.py, names it to the student), MAX_SUBMISSION_BYTES in
    all, as paths relative to `folder`. Symlinks are treated as absent. A tree that is too deep or too large, or that holds a
    name that is not plain text or a FIFO, socket or device, raises
    SubmissionError: that submission is not graded, and nothing else stops.
    """
    found, budget, entries = [], MAX_SUBMISSION_BYTES, 0
    folder = Path(folder)
    pending = [(folder, 0)]
    while pending:
        current, depth = pending.pop()
        try:
            listing = sorted(os.scandir(current), key=lambda entry: entry.name)
        except OSError as exc:
            raise SubmissionError(f"cannot read the folder {current.relative_to(folder)}: {exc.strerror}") from None
        for entry in listing:
            entries += 1
            relative = Path(entry.path).relative_to(folder)
            if entries > MAX_SUBMISSION_ENTRIES:
                raise SubmissionError(f"more than {MAX_SUBMISSION_ENTRIES:,} files and folders")
            if not plain_name(entry.name):
                raise SubmissionError(f"a file name that is not plain text: {shown_name(entry.name)!r}; rename it")
            if entry.name.startswith(".") or entry.name == "__pycache__" or entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth + 1 > MAX_SUBMISSION_DEPTH:
                    raise SubmissionError(f"folders nested deeper than {MAX_SUBMISSION_DEPTH} levels ({relative.parent})")
                pending.append((Path(entry.path), depth + 1))
            elif not entry.is_file(follow_symlinks=False):
                raise SubmissionError(f"{relative} is not a regular file (a FIFO, socket or device); remove it")
            elif entry.name.endswith(".py") and not (depth == 0 and entry.name in leave_out):
                size = entry.stat(follow_symlinks=False).st_size
                if size > MAX_FILE_BYTES:
                    continue
                budget -= size
                if budget < 0:
                    raise SubmissionError(f"more than {MAX_SUBMISSION_BYTES >> 20} MB of Python files in all")
                found.append(relative)
    return sorted(found)


def copy_submission(source: Path, destination: Path, leave_out: frozenset[str] = frozenset()) -> None:
    """Copy the graded files of `source` (less `leave_out`, see graded_files) to `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    for relative in graded_files(source, leave_out):
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        (destination / relative).write_bytes(read_regular(source / relative, MAX_SUBMISSION_BYTES))


def remove_tree(path: Path) -> None:
    """Remove a worker's folder (once its code has stopped) even where the
    student made parts of it read-only or thousands of levels deep, never
    following a link out of it. coreutils' chmod -R and rm -rf walk without
    recursion limits and leave links' targets alone; Python's walk does neither."""
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return
    except OSError:
        return
    if shutil.which("chmod") and shutil.which("rm"):
        for command in (["chmod", "-R", "-P", "u+rwx", "--", str(path)], ["rm", "-rf", "--", str(path)]):
            subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    else:  # not POSIX: no sandbox there either
        shutil.rmtree(path, ignore_errors=True)


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(c) not in "\n\t"}
_CONTROL.update({0xFFFE: "\\ufffe", 0xFFFF: "\\uffff"})


def clean_text(text: str, limit: int) -> str:
    """Student-made text, safe to print and to put in any report format: no terminal
    control characters, no lone surrogates or non-characters, bounded length."""
    text = str(text)[:limit].encode("utf-8", "backslashreplace").decode("utf-8")
    return text.translate(_CONTROL)


def open_regular(path: Path, dir_fd: int | None = None) -> int:
    """A file descriptor for `path` (a plain name inside `dir_fd` when given),
    which must be a regular file itself: never through a symlink (to /dev/zero,
    or to the course), never a FIFO that would block the grader. The worker
    writes in its folder, so whatever the grader reads back from there is
    opened this way."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0), dir_fd=dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{Path(path).name} is not a regular file")
    return fd


def read_regular(path: Path, limit: int, dir_fd: int | None = None) -> bytes:
    """At most `limit` bytes of the regular file `path` (ValueError if it holds more)."""
    with os.fdopen(open_regular(path, dir_fd), "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path.name} is larger than {limit} bytes")
    return data
