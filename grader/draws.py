"""What the grader draws so that a submission cannot know it in advance: which cells of an
experiment's table it trains again, the pixel permutation under which a by-hand training
is re-run, and whatever a check must ask that code prepared beforehand could not answer.

A draw is a function of a key and of what it is for (the submission's own bytes, say), never
of the clock: the same submission gets the same draws, and so the same verdict, on every
machine that grades it with the same key. The key is the class's:
- a student's own grading uses the course's public key, so their runs are reproducible (and
  predictable: they only grade themselves);
- a class's grading uses a secret of the instructor's: `--batch` makes one in RESULTS/draw_key
  the first time (kept there, so a regrade draws the same), Gradescope's zip carries one that
  build_zip.py made, and $MNIST_COURSE_DRAW_KEY sets it anywhere (nbgrader's autograde, a
  cluster, one key for several routes). Student code never sees it: draws are made in the
  grader's process, and only what they select crosses into the worker.
A report says which key drew (`draws`: "public", or the first characters of the key's sha256).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

PUBLIC_KEY = "public"  # a student's own grading: reproducible, and no secret
KEY_FILE = "draw_key"  # in a batch's RESULTS


def seed(key: str, purpose: str, *parts: bytes) -> int:
    """A 63-bit seed for `purpose` ("ex03b rerun cells", ...) from `key` and `parts`."""
    digest = hashlib.sha256(b"mnist-course draw\0" + key.encode() + b"\0" + purpose.encode() + b"".join(b"\0" + p for p in parts))
    return int.from_bytes(digest.digest()[:8], "little") >> 1


def named(key: str) -> str:
    """How a report names the key that drew: "public", or the start of its sha256 (never the key)."""
    return PUBLIC_KEY if key == PUBLIC_KEY else "class key " + hashlib.sha256(key.encode()).hexdigest()[:12]


def class_key(results: Path) -> str:
    """The class's key, kept in RESULTS/draw_key: made (random, readable by its owner only) on the first run."""
    path = Path(results) / KEY_FILE
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(16)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key
