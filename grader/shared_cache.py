"""What grading processes share through the run's cache folder (`RunSettings.training_cache`).

An entry is keyed by everything that decides it: `provenance.grading_machine()`
(the grader, its checks' sources, the libraries, the CPU family) and what the
caller names. It is made once, under a lock, and read by every later grader of
the run (a batch's, a cluster worker's, another test's). The trainer keeps its
trainings here (training/trainer.py); ex06's checks keep their probe models
(`shared_files`), so a class's gradings import Keras on the grader's side once,
not once per student; ex02b's by-hand trainings keep what the student's train()
returned (`shared_files`, through training/by_hand.py), so an identical file
trains once per class, and so do the grader's replays of them (`shared_arrays`
there).

The folder is the grading account's (mode 0700) and never reaches a student's
sandbox.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock; an entry may then be made twice at once, never wrongly
    fcntl = None

from .provenance import grading_machine


@contextmanager
def locked(path: Path):
    """An exclusive lock on `path` across processes (and, on a shared folder, machines)."""
    with open(path, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def full_identity(identity: dict[str, Any]) -> dict[str, Any]:
    """`identity` with this machine's grading identity: everything an entry's key is made of."""
    return {"machine": grading_machine(), **identity}


def key_of(identity: dict[str, Any]) -> str:
    """The entry's name: a hash of full_identity(identity)."""
    return hashlib.sha256(json.dumps(full_identity(identity), sort_keys=True, default=str).encode()).hexdigest()


def shared_files(cache: str | Path | None, identity: dict[str, Any], make: Callable[[Path], None], scratch: Path,
                 valid: Callable[[Path], bool] = lambda folder: True) -> Path:
    """The folder holding the files `make(folder)` writes for `identity`.

    With a cache folder, the first grader makes them into a folder of its own and
    renames it into place (a folder that exists is complete); the others wait on
    the lock and read it. One that `valid(folder)` refuses (not what the grader
    wrote: training/by_hand.py checks its digests) is removed and made again.
    Without a cache folder, or when the cache fails (a full disk, a lock
    refused: only the sharing is lost), they are made in `scratch`."""
    if cache:
        try:
            return _through_cache(Path(cache), key_of(identity), make, valid)
        except OSError:
            pass
    make(scratch)
    return scratch


def _through_cache(cache: Path, key: str, make: Callable[[Path], None], valid: Callable[[Path], bool]) -> Path:
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    done = cache / f"{key}.files"
    with locked(cache / f"{key}.lock"):
        if done.is_dir() and not done.is_symlink():
            if valid(done):
                return done
            shutil.rmtree(done)
        elif done.is_symlink() or done.exists():
            done.unlink()
        making = Path(tempfile.mkdtemp(prefix=f"{key}.", suffix=".tmp", dir=cache))
        try:
            make(making)
            os.replace(making, done)
        except BaseException:
            shutil.rmtree(making, ignore_errors=True)
            raise
        return done
