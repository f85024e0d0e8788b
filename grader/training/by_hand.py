"""A class's by-hand trainings once: a student function that trains (ex02b's
train()), called through `shared_call`, runs once per identical call and its
result is reused by every later grading, like the Keras trainings
(training/trainer.py), through the same mechanism (grader/shared_cache.py: the
run's cache folder, one entry per key, made under a lock, renamed into place).

The key (`identity`, which shared_cache.key_of joins with
provenance.grading_machine(): the grader's version, its checks' sources, the
libraries, the CPU family) holds everything that decides what the call returns:

- the code that runs: `training_sources`, the sha256 of the exercise's file and
  of every file of the submission its code could reach (below);
- what the grader hands in: the function's name, every argument array's shape,
  dtype and sha256 (the training data itself, so another data file, or a
  permutation of the pixels drawn at grading time, is another key), every
  keyword argument (seeds and settings), the call's time limit and memory;
- how the worker runs it: the packages it refuses (course.toml's `by_hand`, none
  with MNIST_COURSE_BY_HAND=off) and whether it is sandboxed.

The half of the test set is not in it: it is no input of train(); the grader
measures the weights on its half afterwards, live, from the entry.

Which files count as the code: the worker imports a copy of every `.py` of the
submission but the course's other exercise files (sandbox.Worker.received: an
exercise is graded from its own file and the helpers beside it), and code can
reach any of those without naming it in a way a reading of the source could see
(an adversarial review imported one through a string that typing.get_type_hints
evaluated). So the key holds every file the worker receives: two students who
hand in the same ex02b file and no helper share one training whatever their
other exercises hold, a resubmission with only ex01 changed trains nothing
again, and nothing served is ever decided by a file the key does not hold.

Why an entry cannot be poisoned by a student:
- it holds only plain data that the grader's process decoded from the worker's
  reply and checked here (a returned value made of numeric NumPy arrays, saved
  with allow_pickle=False, and the seconds the call took), never the student's
  output, never a failure (a crash, a timeout or a busy machine is not kept: the
  next grading runs the call again), and never a call that reached a forbidden
  package (its penalty is a fact of that run, so every such grading runs it);
- it is written only by the grader's process, into the run's cache folder (the
  grading account's, mode 0700; a student's worker runs in its sandbox on a copy
  of the submission's sources and never sees it);
- it is served only to a call whose key is the same: byte-identical code given
  byte-identical inputs by the same grader, so what it holds is what that same
  code returned for them, and every check then runs on it exactly as on a live
  result (the verdict is bit-for-bit the one without the cache);
- an entry that is not what the grader wrote (another key's, truncated, a
  changed byte: `meta.json` holds the key and the sha256 of every array) is
  not trusted: it is removed and the call runs again. (`meta.json` also keeps
  what the key was made of, which no grading reads: to explain a miss.)

What reuse cannot make equal, and why that gives nobody anything: code whose
answer is not a function of its code and its inputs (it reads the clock, or an
unseeded generator) gets an answer of an earlier run of the same code, one it
could have given live; and a module that keeps state between calls sees its
train() not run in this worker, so a later call that reads that state (the
checks call only init_params() after train(), for the loss it started from)
answers as if train() had not run. Either is the submission's own behaviour;
neither lets one file reach another's key.

`MNIST_COURSE_TRAINING_REUSE=off` (settings.Switches) switches reuse off: every
call runs, as without a cache folder.

The grader's own replay of such a training (grader/checks/ex02b/replay.py) is
kept the same way (`shared_arrays`): its arrays and their digests, keyed by
everything it is computed from, so an identical file replays once per class.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np


from ..isolation import sandbox
from ..isolation.safe_files import SubmissionError, open_regular, read_regular
from ..isolation.student import Call, Student
from ..settings import switches
from ..shared_cache import full_identity, key_of, shared_files

CACHE_VERSION = 1  # bump when what an entry holds, or how it is read, changes
MAX_ARRAYS = 8  # a returned tuple, list or dict of more arrays is not kept
MAX_ENTRY = 256 << 20  # bytes of arrays in one entry

@dataclass
class Shared:
    """How a shared call was answered: `reused` when from an entry another grading
    made, with the `seconds` that call took when it ran."""

    reused: bool
    seconds: float


class _NotKept(Exception):
    """A call's outcome that is not kept (not a plain returned value): handed back, not cached."""

    def __init__(self, call: Call):
        super().__init__("not kept")
        self.call = call


def training_sources(student: Student) -> dict[str, str]:
    """{path in the submission: sha256} of every file the student's worker receives
    (sandbox.Worker.received): all of them can run (see the module docstring)."""
    folder = student.module_file.parent
    return {str(p): hashlib.sha256(read_regular(folder / p, 64 << 20)).hexdigest() for p in student.worker.received()}


def _argument(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"shape": list(value.shape), "dtype": value.dtype.str, "sha256": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()}
    if isinstance(value, sandbox.ModelArg):
        return {"model": hashlib.sha256(Path(value.path).read_bytes()).hexdigest()}
    return repr(value)


def _plain(value: Any) -> tuple[str, list[str], list[np.ndarray]] | None:
    """(container, names, arrays) of a value made of numeric arrays, or None."""
    def numeric(a):
        return isinstance(a, np.ndarray) and type(a) is np.ndarray and a.dtype.kind in "biuf" and not a.dtype.hasobject
    if numeric(value):
        return "array", [], [value]
    if isinstance(value, (tuple, list)) and type(value) in (tuple, list) and len(value) <= MAX_ARRAYS and all(map(numeric, value)):
        return type(value).__name__, [], list(value)
    if type(value) is dict and len(value) <= MAX_ARRAYS and all(type(k) is str for k in value) and all(map(numeric, value.values())):
        return "dict", list(value), list(value.values())
    return None


def _rebuilt(container: str, names: list[str], arrays: list[np.ndarray]) -> Any:
    if container == "array":
        return arrays[0]
    if container == "dict":
        return dict(zip(names, arrays))
    return tuple(arrays) if container == "tuple" else list(arrays)


def digests(arrays: list[np.ndarray]) -> list[str]:
    """The sha256 of each array's dtype, shape and bytes: what an entry of arrays is checked against when read."""
    return [hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + np.ascontiguousarray(a).tobytes()).hexdigest() for a in arrays]


def _write_arrays(folder: Path, key: str, identity: dict[str, Any], arrays: list[np.ndarray], **meta: Any) -> None:
    """An entry of arrays: each as `i.npy` (no pickles), and a meta.json with `key`, each array's digest and
    `meta`. It keeps what the key was made of too (shared_cache.full_identity of `identity`), read by no grading:
    where an entry was expected and missed, comparing two entries' identities names the input that differed."""
    for i, array in enumerate(arrays):
        np.save(folder / f"{i}.npy", array, allow_pickle=False)
    entry = {**meta, "key": key, "arrays": digests(arrays), "identity": full_identity(identity)}
    (folder / "meta.json").write_text(json.dumps(entry, default=str), encoding="utf-8")


def _read_arrays(folder: Path, key: str, most: int) -> tuple[list[np.ndarray], dict[str, Any]] | None:
    """(the arrays and the meta.json of an entry _write_arrays made), or None where it is not exactly that entry
    for `key`: another key's, more than `most` arrays or none, a file missing, a link, a changed byte."""
    try:
        meta = json.loads(read_regular(folder / "meta.json", 1 << 20).decode("utf-8"))
        wanted = meta.get("arrays") if isinstance(meta, dict) and meta.get("key") == key else None
        if not isinstance(wanted, list) or not 1 <= len(wanted) <= most:
            return None
        arrays = []
        for i in range(len(wanted)):
            with os.fdopen(open_regular(folder / f"{i}.npy"), "rb") as handle:
                arrays.append(np.load(handle, allow_pickle=False))
    except (OSError, ValueError, TypeError):
        return None
    return (arrays, meta) if digests(arrays) == wanted else None


def _write(folder: Path, key: str, identity: dict[str, Any], call: Call) -> None:
    """The call's returned value and seconds into `folder`, or _NotKept. A call that reached a package
    its by-hand exercise forbids is never kept: what it used costs its function every point, and an
    entry holds no record of it, so every student whose file does so is graded on a run of their own
    (an adversarial review found a classmate, and a regrade, served the value without the penalty)."""
    outcome = call.outcome
    plain = _plain(outcome.value) if outcome.status == "returned" and not outcome.machine and not outcome.reached else None
    if plain is None or sum(a.nbytes for a in plain[2]) > MAX_ENTRY:
        raise _NotKept(call)
    container, names, arrays = plain
    _write_arrays(folder, key, identity, arrays, container=container, names=names, seconds=outcome.seconds)


def _read(folder: Path, key: str) -> tuple[Any, float] | None:
    """(value, seconds) an entry holds, or None when it is not exactly what the grader wrote for `key`."""
    entry = _read_arrays(folder, key, MAX_ARRAYS)
    if entry is None:
        return None
    arrays, meta = entry
    container, names = meta.get("container"), meta.get("names")
    if container not in ("array", "tuple", "list", "dict") or not isinstance(names, list) or (container == "dict" and len(names) != len(arrays)):
        return None
    try:
        return _rebuilt(container, [str(n) for n in names], arrays), float(meta["seconds"])
    except (KeyError, TypeError, ValueError):
        return None


def shared_call(student: Student, cache: str | Path | None, function: str, *args: Any, shown: str = "", expect: str = "",
                **kwargs: Any) -> tuple[Call, Shared]:
    """student.call(function, *args, ...), run once per key across the gradings
    that share the cache folder `cache`; what a returned call gave is kept there
    and every later identical call reads it instead of running (module docstring)."""
    called, memo = student.call_key(function, args, shown, kwargs)
    if memo in student._outcomes:  # this grading's own earlier call: no worker call at all
        return Call(student, function, called, expect, student._outcomes[memo]), Shared(False, student._outcomes[memo].seconds)
    module = student.module_file
    if not cache or not switches().reuse_trainings or module.is_symlink() or not module.is_file():
        call = student.call(function, *args, shown=shown, expect=expect, **kwargs)
        return call, Shared(False, call.outcome.seconds)
    try:
        sources = training_sources(student)
    except (SubmissionError, OSError, ValueError):
        call = student.call(function, *args, shown=shown, expect=expect, **kwargs)
        return call, Shared(False, call.outcome.seconds)
    identity = {
        "by-hand call": CACHE_VERSION, "exercise": student.exercise.id, "function": function, "sources": sources,
        "args": [_argument(a) for a in args], "kwargs": {k: _argument(v) for k, v in sorted(kwargs.items())},
        "timeout": student.timeout, "memory": student.worker.memory,
        # what the worker refuses and whether it is sandboxed: a run with either switched off is another run
        "forbidden": list(student.worker.forbidden), "sandbox": switches().sandbox,
    }
    key = key_of(identity)
    ran: list[Call] = []  # a call runs once, even where shared_files falls back to making it again without the cache
    found: list[tuple[Any, float]] = []

    def make(folder: Path) -> None:
        if not ran:
            ran.append(student.call(function, *args, shown=shown, expect=expect, **kwargs))
        _write(folder, key, identity, ran[0])

    def valid(folder: Path) -> bool:
        found[:] = [entry] if (entry := _read(folder, key)) is not None else []
        return bool(found)

    scratch = Path(tempfile.mkdtemp(prefix="by-hand-"))
    try:
        shared_files(cache, identity, make, scratch, valid=valid)
    except _NotKept as not_kept:
        return not_kept.call, Shared(False, not_kept.call.outcome.seconds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if ran:
        return ran[0], Shared(False, ran[0].outcome.seconds)
    value, seconds = found[0]
    student._outcomes[memo] = outcome = sandbox.CallOutcome(status="returned", value=value, seconds=seconds)
    return Call(student, function, called, expect, outcome), Shared(True, seconds)


MAX_SHARED_ARRAYS = 16


def shared_arrays(cache: str | Path | None, identity: dict[str, Any], compute: Callable[[], list[np.ndarray]]) -> tuple[list[np.ndarray], bool]:
    """(the arrays the grader's own `compute()` gives for `identity`, whether they were read from an earlier
    grading's entry): ex02b's replay of a training, once per class like the training itself. Only the grader's
    computations are kept this way (a value a student's code returned is shared_call's, with its checks), and
    `identity` must hold every input that decides them. An entry that _read_arrays refuses is removed and
    computed again. Without a cache folder, computed."""
    key, made, found = key_of(identity), [], []

    def make(folder: Path) -> None:
        if not made:
            made.append([np.asarray(a) for a in compute()])
        _write_arrays(folder, key, identity, made[0])

    def valid(folder: Path) -> bool:
        entry = _read_arrays(folder, key, MAX_SHARED_ARRAYS)
        found[:] = [entry[0]] if entry else []
        return bool(found)

    scratch = Path(tempfile.mkdtemp(prefix="shared-arrays-"))
    try:
        shared_files(cache, identity, make, scratch, valid=valid)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return (made[0], False) if made else (found[0], True)
