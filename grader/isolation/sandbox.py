"""Run student code in a worker process and bring back plain data.

The trusted side of the boundary. A `Worker` starts `_child.py` in its own
session and process group, with a scrubbed environment, and talks to it over
two private pipes: one JSON line per call each way, arrays as `.npy` files
(never pickle), with size limits. Every call has a time limit counted in the
time the submission caused (a busy machine does not count, see `OwnClock`),
with a wall clock behind it only as a safety net; a worker that times out or
dies is killed and replaced for the next call. When a worker
closes, its whole process group is killed and, on Linux, so is every process
it left behind that escaped the group (the grader is their subreaper), so
nothing a submission starts outlives its grading. Every score is computed by
the grader from this data, in this process.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import bubblewrap, capacity
from .own_time import OwnClock, descendants, process_parents, safety_wall_s, serving_process

CHILD = Path(__file__).with_name("_child.py")
IMPORT_TIMEOUT = 60.0  # seconds to import the student's module (TensorFlow alone takes a few)
MAX_RESULT_LINE = 1 << 20  # bytes of JSON per result
MAX_ARRAY_FILE = 256 << 20  # bytes per returned array
MAX_RESULT_BYTES = 512 << 20  # bytes of arrays per result
MAX_ITEMS, MAX_DEPTH = 512, 4  # values per result, nesting (the worker sends at most 16 per list, 3 deep)
MAX_FILE_WRITE = 512 << 20  # RLIMIT_FSIZE for the worker, where the platform has it
MEMORY_LIMIT = 4 << 30  # default RLIMIT_AS for the worker, bytes (course.toml's memory_mb sets it per exercise)
MAX_MODEL_FILE = 64 << 20  # bytes of a returned .keras file (16 million float32 weights)
# Seconds a module's code may run in all, imports and restarts included, so that
# code that times out or crashes call after call cannot hold the grader for each
# check in turn. Honest code needs a few seconds (training is the trainer's).
# Counted like every limit here: the time the submission caused (OwnClock).
TIME_BUDGET = 600.0
POLL_S = 0.5  # once a call has run past its limit on the wall clock, how often its own time is counted
OUTPUT_TAIL = 600  # characters of the student's output shown in messages


@dataclass
class Opaque:
    """A returned value that is not plain data; only its description crosses."""

    description: str  # "an object of type builtins.dict", say
    length: int | None = None


@dataclass
class SavedModel:
    """A returned Keras model: the .keras file Keras wrote, copied where the
    student's code cannot reach it. Load it only with safe_mode=True."""

    path: Path
    size: int


@dataclass
class CallbackSpec:
    """A returned Keras callback: its class and the constructor arguments it kept."""

    class_name: str
    module: str
    config: dict


@dataclass
class ModelArg:
    """An argument that reaches the student's function as a Keras model: the
    worker loads this .keras file with safe_mode=True."""

    path: Path


@dataclass
class CallOutcome:
    """What came back from one call: exactly one of the statuses below."""

    status: str  # returned | raised | missing_function | unsendable | crashed | timeout | starved | exhausted
    value: Any = None
    args_after: list = field(default_factory=list)
    exc_type: str = ""
    exc_message: str = ""
    stage: str = "call"  # import | call: where it raised, crashed or timed out
    where: str | None = None  # the student's own frame, for raised
    exit_code: int | None = None
    limits: list[str] = field(default_factory=list)  # the worker's own limits its code ran into: "memory", "processes", "disk"
    output: str = ""  # tail of what the student's code printed
    seconds: float = 0.0
    # Set when the failure is the machine's, not the code's: memory ran out
    # below what the worker was promised (capacity.MachineLimit), or the
    # kernel killed it for memory outside its own limit. Says why.
    machine: str = ""
    warnings: list[str] = field(default_factory=list)  # warnings the call emitted, as "Category: message"


@lru_cache(maxsize=1)
def _become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux), so double-forked daemons can be found and killed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        PR_SET_CHILD_SUBREAPER = 36
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children() -> set[int]:
    """Process ids whose parent is this process (Linux /proc; empty elsewhere)."""
    if not sys.platform.startswith("linux"):
        return set()
    me = os.getpid()
    return {pid for pid, parent in process_parents().items() if parent == me}


def _kill_leftovers(before: set[int]) -> None:
    """Kill every adopted descendant that was not our child before the worker started."""
    for _ in range(100):  # each round may free grandchildren, which we adopt in turn
        strays = _children() - before
        if not strays:
            return
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError, PermissionError):
                pass
        time.sleep(0.02)


def _limiter(memory: int, own_network: bool = True, oom_score: int = 1000):
    """What the worker runs between fork and exec: its resource limits, and a
    network namespace where no sandbox gives it one. `oom_score`: its
    oom_score_adj (the worker 1000; the grader's trainer, whose model the
    student declared, 500: after student code, before any grader), set only
    where a memory cgroup tells a worker the machine ran short for (not
    graded) from one past its own limit (failed), or where the machine gives
    less than `memory` (capacity.short_of: a kill there is the machine's, see
    machine_failure); elsewhere a worker taken first would be a crash, its
    failure, for memory it did not use."""
    told = capacity.places().gives("memory") or capacity.short_of(memory) is not None
    score = oom_score if sys.platform.startswith("linux") and not capacity.switched_off() and told else None
    return lambda: _limit_resources(memory, own_network, score)


def _in_leaf(leaf: "capacity.Leaf | None", then):
    """Between fork and exec: enter the worker's control group, then `then` (its limits)."""

    def start() -> None:
        if leaf is not None:
            leaf.enter()
        then()

    return start


def _limit_resources(memory: int, own_network: bool = True, oom_score: int | None = None) -> None:
    if oom_score is not None:
        # When memory runs out above the worker's own cgroup (a machine or a cluster worker
        # with less memory than its gradings' limits together), the out-of-memory killer
        # takes the worker's processes first, never a grader; a worker killed so within its
        # own limit is "not graded" (sandbox.machine_failure), never failed.
        # Raising it needs no privilege; every process the worker starts inherits it.
        try:
            with open("/proc/self/oom_score_adj", "w", encoding="ascii") as fh:
                fh.write(str(oom_score))
        except OSError:
            pass
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_WRITE, MAX_FILE_WRITE))
        # Never above the machine's own hard limit (`ulimit -v`), which cannot be
        # raised: there the process gets that, and a failure for memory is the
        # machine's (machine_failure).
        memory = capacity.address_space(memory)
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError):
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None)
            PR_SET_PDEATHSIG, CLONE_NEWNET = 1, 0x40000000
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the grader, even if it is killed outright
            # Without the sandbox, a network namespace of its own: no interface but a loopback
            # that is down. This needs CAP_SYS_ADMIN (root, as in a grading container);
            # elsewhere the call fails and the network stays reachable, as the report says.
            if own_network:
                libc.unshare(CLONE_NEWNET)
        except (OSError, AttributeError):
            pass


CRASH_SIGNALS = (signal.SIGKILL, signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS)  # how a process dies when memory runs out


def machine_failure(promised: int, exc_text: str = "", exit_code: int | None = None, oom_killed: bool = False, own_limit: bool = False) -> str:
    """Why a process the grader promised `promised` bytes failed for the machine's
    lack of memory, not its code's; "" where that cannot be said.

    The machine's when the kernel's out-of-memory killer killed it while its own
    limit was not reached (the container or machine ran out), or when the
    machine gives less than the promise (capacity.short_of) and the failure is
    one that running out of memory causes: an exception that says so (a
    MemoryError, a shared library that cannot be mapped, a thread that cannot
    start) or death by SIGKILL, SIGABRT, SIGSEGV or SIGBUS. A syntax error or
    any other exception stays the code's own, however short the machine."""
    if own_limit:
        return ""
    short = capacity.short_of(promised)
    if oom_killed:
        return "the kernel killed it for lack of memory while your code was within its own limit" + (
            f": {short.describe()}" if short else " (the grading machine or its container ran out of memory)"
        )
    if short is None:
        return ""
    crashed = exit_code is not None and exit_code < 0 and -exit_code in [int(s) for s in CRASH_SIGNALS]
    if crashed or (exc_text and capacity.looks_like_memory(exc_text)):
        return f"{short.describe()}, less than the {promised >> 20:,} MiB the grader promises your code"
    return ""


def isolation() -> str:
    """How student code is isolated on this machine, as the reports state it."""
    sandbox = bubblewrap.find()
    if sandbox.active:
        return f"{bubblewrap.describe(sandbox)}; {capacity.describe()}"
    network = "no network" if sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0 else "network reachable"
    return f"{bubblewrap.describe(sandbox)}; {network}; {capacity.describe()}"


MAX_SUBMISSION_BYTES = 16 << 20  # Python source a worker gets to import, in all
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


def graded_files(folder: Path) -> list[Path]:
    """The files of a submission that are graded: its Python sources.

    Regular `.py` files only (never through a symlink, nothing hidden, no
    `__pycache__`, so a stale or planted `.pyc` is never imported),
    MAX_SUBMISSION_BYTES in all, as paths relative to `folder`. Symlinks are
    treated as absent. A tree that is too deep or too large, or that holds a
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
            elif entry.name.endswith(".py"):
                size = entry.stat(follow_symlinks=False).st_size
                if size <= budget:
                    budget -= size
                    found.append(relative)
    return sorted(found)


def copy_submission(source: Path, destination: Path) -> None:
    """Copy the graded files of `source` to `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    for relative in graded_files(source):
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        (destination / relative).write_bytes(read_regular(source / relative, MAX_SUBMISSION_BYTES))


def _remove_tree(path: Path) -> None:
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


def _child_env(work: Path) -> dict[str, str]:
    """A small, scrubbed environment: nothing of the grader's leaks through."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "KERAS_HOME": str(work / ".keras"),
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(work / ".matplotlib"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        # No GPU for student code (Colab's GPU runtime, say): CUDA's start-up
        # cannot run under the memory cap, and nothing here needs it.
        "CUDA_VISIBLE_DEVICES": "",
        # One thread per math library: a submission cannot take every core.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
    }


class _Budget:
    """What one result may claim: each file once, bounded items, depth and bytes.

    The call's folder is opened once, without following a link (the worker
    could have put one in its place, to the course or /etc), and every file a
    result names is opened relative to it, by a plain name."""

    def __init__(self, folder: Path, keep: Path, dir_fd: int | None = None):
        self.folder, self.files, self.items, self.bytes = folder, set(), 0, 0
        self.keep = keep  # where returned model files are copied, out of the worker's reach
        self.dir_fd = dir_fd  # the worker's writable area, opened once (its folder, or its tmpfs inside the sandbox)
        where = folder.name if dir_fd is not None else folder
        self.fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0), dir_fd=dir_fd)

    def close(self) -> None:
        """Remove the files claimed (by name, in the folder opened) and the folder if it is empty."""
        for name in self.files:
            try:
                os.unlink(name, dir_fd=self.fd)
            except OSError:
                pass
        os.close(self.fd)
        try:  # never follows a link; what else the worker left goes with its folder
            if self.dir_fd is not None:
                os.rmdir(self.folder.name, dir_fd=self.dir_fd)
            else:
                os.rmdir(self.folder)
        except OSError:
            pass


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


def _claim(node: dict, budget: _Budget, suffix: str, limit: int) -> bytes | None:
    """The bytes of the file a result names: inside this call's folder, of the
    right kind, claimed once; None if it is larger than `limit`."""
    path = Path(str(node.get("file", "")))
    if path.parent != budget.folder or path.suffix != suffix or path.name in budget.files or not plain_name(path.name):
        raise ValueError("malformed result")
    budget.files.add(path.name)
    try:
        data = read_regular(Path(path.name), limit, dir_fd=budget.fd)
    except ValueError:
        return None
    except OSError:
        raise ValueError("malformed result") from None
    budget.bytes += len(data)
    return data


def _decode(node: Any, budget: _Budget, depth: int = 0) -> Any:
    budget.items += 1
    if not isinstance(node, dict) or depth > MAX_DEPTH or budget.items > MAX_ITEMS:
        raise ValueError("malformed result")
    kind = node.get("kind")
    if kind == "ndarray":
        data = _claim(node, budget, ".npy", MAX_ARRAY_FILE)
        if data is None or budget.bytes > MAX_RESULT_BYTES:
            return Opaque(f"an array larger than the grader accepts ({MAX_ARRAY_FILE >> 20} MiB, {MAX_RESULT_BYTES >> 20} MiB per result)")
        array = np.load(io.BytesIO(data), allow_pickle=False)
        return array[()] if node.get("scalar") else array
    if kind == "none":
        return None
    if kind == "scalar":
        value = node.get("value")
        if isinstance(value, str):
            return clean_text(value, 2000)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        raise ValueError("malformed result")
    if kind in ("list", "tuple"):
        items = [_decode(item, budget, depth + 1) for item in node.get("items", [])]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict" and isinstance(node.get("items"), dict):
        return {clean_text(k, 100): _decode(v, budget, depth + 1) for k, v in node["items"].items()}
    if kind == "keras_model":
        data = _claim(node, budget, ".keras", MAX_MODEL_FILE)
        if data is None:
            return Opaque(f"a Keras model whose file is larger than the grader accepts ({MAX_MODEL_FILE >> 20} MiB)")
        kept = Path(tempfile.mkdtemp(prefix="model-", dir=budget.keep)) / "model.keras"
        kept.write_bytes(data)
        return SavedModel(kept, len(data))
    if kind == "callback":
        config = node.get("config")
        if not isinstance(config, dict):
            raise ValueError("malformed result")
        plain = {
            clean_text(k, 100): clean_text(v, 100) if isinstance(v, str) else v
            for k, v in config.items()
            if isinstance(v, (bool, int, float, str)) or v is None
        }
        return CallbackSpec(clean_text(node.get("class", ""), 100), clean_text(node.get("module", ""), 200), plain)
    length = node.get("length")
    length = length if type(length) is int and 0 <= length < 1 << 62 else None  # printed in messages: a number or nothing
    return Opaque(f"an object of type {clean_text(str(node.get('type', 'unknown')), 200)}", length)


class Worker:
    """One student module, imported once in a child process, answering calls."""

    def __init__(self, module_file: Path, import_timeout: float = IMPORT_TIMEOUT, memory: int = MEMORY_LIMIT):
        self.module_file = Path(os.path.abspath(module_file))  # not resolve(): a symlink is never followed
        self.import_timeout = import_timeout
        self.memory = memory
        self.proc: subprocess.Popen | None = None
        self.sandboxed = False  # set at each start: whether the worker runs under bwrap
        self.import_failure: CallOutcome | None = None
        self.spent = 0.0  # seconds the module's code has had, across imports, calls and restarts
        self.leaf: capacity.Leaf | None = None  # the running worker's control group
        self.area: int | None = None  # a descriptor of the running worker's writable folder, as it sees it
        self.first_started: float | None = None  # when the module's first worker started (monotonic)
        self.limits_seen: set[str] = set()  # every limit of its own the module's code ran into, across restarts
        self.oom_seen = False  # the kernel killed one of its processes for memory (its own limit, the container's or the machine's)
        # Returned model files outlive the worker process (results are cached
        # per call), and only the grader can write here.
        self._keep = tempfile.TemporaryDirectory(prefix="mnist-grader-models-")
        self.keep = Path(self._keep.name)
        # Each call's arguments are written here, a folder the worker sees
        # read-only: never into its own folder, where it could put a link in
        # the way of the grader's write.
        self._inbox = tempfile.TemporaryDirectory(prefix="mnist-grader-in-")
        self.inbox = Path(self._inbox.name)
        _become_subreaper()

    # -- lifecycle

    def _start(self) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="mnist-grader-"))
        # The worker imports a fresh copy of the submission's sources, never the folder itself.
        submission = self.work / "submission"
        copy_submission(self.module_file.parent, submission)
        ready_id = secrets.token_hex(8)
        info = {
            "module": self.module_file.stem,
            "module_file": str(submission / self.module_file.name),
            "target_dir": str(submission),
            "ready_id": ready_id,
        }
        (self.work / "worker.json").write_text(json.dumps(info), encoding="utf-8")
        self.leaf = capacity.Leaf(self.memory) if capacity.places().v2 or capacity.places().v1 else None
        request_r, self.request_w = os.pipe()
        self.result_r, result_w = os.pipe()
        self.children_before = _children()
        command = [sys.executable, "-I", str(CHILD), str(self.work), str(request_r), str(result_w)]
        sandbox = bubblewrap.find()
        self.sandboxed = sandbox.active
        own_area = sandbox.active and bubblewrap.area_bytes() is not None
        if sandbox.active:
            command = bubblewrap.command(sandbox, self.work, CHILD, command, inbox=self.inbox)
        if not own_area:  # the worker writes into the grader's folder itself
            self.area = os.open(self.work, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0))
        self.proc = subprocess.Popen(
            command,
            cwd=self.work,
            env=_child_env(self.work),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(request_r, result_w),
            start_new_session=True,  # its own process group, killed as a whole
            preexec_fn=_in_leaf(self.leaf, _limiter(self.memory, own_network=not sandbox.active)) if os.name == "posix" else None,
        )
        os.close(request_r)
        os.close(result_w)
        self.buffer, self.tainted = b"", False
        self.known: list[int] = [self.proc.pid]  # the worker's processes, as OwnClock last saw them
        self.serving: int | None = None  # the worker's interpreter, once it has imported the module
        started = time.perf_counter()
        spent = self.spent
        message = self._receive(ready_id, min(self.import_timeout, max(TIME_BUDGET - self.spent, 1.0)))
        if isinstance(message, dict) and message.get("status") == "started":
            if own_area:
                self._open_area()
            limit = min(self.import_timeout - (self.spent - spent), max(TIME_BUDGET - self.spent, 1.0))
            message = self._receive(ready_id, max(limit, 0.5))
        if not (isinstance(message, dict) and message.get("status") == "ready"):
            self.import_failure = self._failure(message, "import", time.perf_counter() - started, (0, 0))
        elif sys.platform.startswith("linux"):
            self.known = descendants(self.proc.pid)  # the interpreter and its threads, for the calls' clocks
            self.serving = serving_process(self.known, self.sandboxed)

    def _open_area(self) -> None:
        """Open the worker's writable tmpfs, which exists only in its sandbox's
        mount namespace, through its interpreter's root. The descriptor keeps it
        readable after the worker dies (its printed output explains a crash)."""
        pid = serving_process(descendants(self.proc.pid), True) if sys.platform.startswith("linux") else None
        if pid is None:
            raise RuntimeError("the worker's sandbox could not be found in /proc; its writable folder cannot be read")
        fd = os.open(f"/proc/{pid}/root{self.work}", os.O_RDONLY | os.O_DIRECTORY)
        if os.fstat(fd).st_dev == os.stat(self.work).st_dev:  # the host's folder: not the tmpfs the grader asked for
            os.close(fd)
            raise RuntimeError("the worker's writable folder is not its own tmpfs")
        self.area = fd

    def limits_hit(self) -> list[str]:
        """The worker's own limits its code has run into so far (and whether the
        kernel killed one of its processes for memory, in `oom_seen`)."""
        hit = self.leaf.limits_hit() if self.leaf is not None else []
        self.limits_seen.update(hit)
        if self.leaf is not None and self.leaf.oom_killed():
            self.oom_seen = True
        return hit

    def close(self) -> None:
        """Kill the worker, everything it started, and remove its files."""
        if self.proc is None:
            return
        for fd in (self.request_w, self.result_r):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            self.proc.kill()
        if self.leaf is not None:
            self.leaf.kill()  # every process of its cgroup, those that left its process group too
        self.proc.wait()
        _kill_leftovers(self.children_before)
        self.proc = None
        if self.leaf is not None:
            self.limits_hit()
            self.leaf.remove()
            self.leaf = None
        if self.area is not None:
            os.close(self.area)  # the last reference to its tmpfs, which goes with it
            self.area = None
        _remove_tree(self.work)

    def dispose(self) -> None:
        """close(), and remove the returned model files too (grading of the module is over)."""
        self.close()
        self._keep.cleanup()
        self._inbox.cleanup()

    # -- protocol

    def _receive(self, expected_id: str, limit: float) -> dict | None | str:
        """The worker's answer to request `expected_id`; the time its code took
        is added to `spent`.

        None if the worker ended or broke the protocol, "timeout" if its code
        took more than `limit` seconds of its own time (OwnClock), "starved" if
        the wall clock passed the safety net first (the machine's failure).
        Lines for other ids (written by the student's own threads, say) are
        skipped, and the worker is marked tainted so it is replaced.
        """
        cpu_source = self.leaf.cpu_seconds if self.leaf is not None and capacity.places().gives("cpu") else None
        clock = OwnClock(self.proc.pid, self.known, self.serving, self.sandboxed, cpu_source) if sys.platform.startswith("linux") else None
        started = time.monotonic()
        safety = safety_wall_s(limit)
        try:
            return self._read_answer(expected_id, limit, safety, started, clock)
        finally:
            wall = time.monotonic() - started
            self.spent += clock.own() if clock is not None and wall > POLL_S else wall
            if clock is not None:
                self.known = clock.known

    def _read_answer(self, expected_id: str, limit: float, safety: float, started: float, clock: "OwnClock | None") -> dict | None | str:
        while True:
            while b"\n" not in self.buffer:
                wall = time.monotonic() - started
                # Own time is counted only past the limit on the wall clock (a few file reads each POLL_S).
                if wall >= limit and (clock is None or clock.own() >= limit):
                    return "timeout"
                if wall >= safety:
                    return "starved"
                wait = limit - wall if wall < limit else POLL_S
                ready, _, _ = select.select([self.result_r], [], [], max(min(wait, safety - wall), 0.01))
                if not ready:
                    continue
                chunk = os.read(self.result_r, 65536)
                if not chunk or len(self.buffer) + len(chunk) > MAX_RESULT_LINE:
                    return None
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\n", 1)
            try:
                message = json.loads(line)
            except Exception:  # noqa: BLE001 - any undecodable line is a broken protocol
                return None
            if isinstance(message, dict) and message.get("id") == expected_id:
                if self.buffer:  # more than the answer: someone else writes to the pipe
                    self.tainted = True
                return message
            self.tainted = True

    def _output_offsets(self) -> tuple[int, int]:
        sizes = []
        for name in ("stdout.txt", "stderr.txt"):
            try:
                fd = open_regular(Path(name), dir_fd=self.area)
                sizes.append(os.fstat(fd).st_size)
                os.close(fd)
            except OSError:
                sizes.append(0)
        return sizes[0], sizes[1]

    def _output(self, since: tuple[int, int]) -> str:
        """The tail of what the student's code printed since `since` (this call only)."""
        parts = []
        for name, offset in zip(("stdout.txt", "stderr.txt"), since):
            if self.area is None:
                break
            try:
                with os.fdopen(open_regular(Path(name), dir_fd=self.area), "rb") as fh:
                    end = fh.seek(0, os.SEEK_END)
                    fh.seek(max(offset, end - OUTPUT_TAIL))
                    text = fh.read().decode("utf-8", "replace").strip()
            except OSError:
                text = ""
            if text:
                parts.append(text)
        return clean_text("\n".join(parts), 2 * OUTPUT_TAIL)

    def _failure(self, message, stage: str, seconds: float, since: tuple[int, int]) -> CallOutcome:
        """The outcome for anything but a clean result; replaces a worker that is past saving."""
        output = self._output(since)
        limits = self.limits_hit()
        if isinstance(message, dict) and message.get("status") == "raised":
            if "No space left on device" in str(message.get("message", "")) or "[Errno 28]" in str(message.get("message", "")):
                limits = [*limits, "disk"]
                self.limits_seen.add("disk")
            return CallOutcome(
                "raised",
                limits=limits,
                exc_type=clean_text(message.get("type", ""), 100),
                exc_message=clean_text(message.get("message", ""), 2000),
                stage=stage,
                where=message.get("where") and clean_text(message["where"], 500),
                output=output,
                seconds=seconds,
                machine=machine_failure(
                    self.memory, f"{message.get('type', '')}: {message.get('message', '')}", oom_killed=self.oom_seen, own_limit="memory" in limits
                ),
            )
        if isinstance(message, dict) and message.get("status") == "missing_function":
            return CallOutcome("missing_function", output=output, seconds=seconds)
        if isinstance(message, dict) and message.get("status") == "unsendable":
            return CallOutcome("unsendable", exc_message=clean_text(message.get("message", ""), 500), output=output, seconds=seconds)
        if message in ("timeout", "starved"):
            self.close()
            return CallOutcome(message, stage=stage, output=output, seconds=seconds, limits=limits)
        # The worker ended, or sent something its runner never writes.
        exit_code = self.proc.poll() if self.proc else None
        if exit_code is None and self.proc is not None:
            try:
                exit_code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if self.sandboxed and exit_code is not None and 128 < exit_code <= 128 + 64:
            exit_code = 128 - exit_code  # bwrap reports a child killed by signal N as 128 + N, as a shell does
        self.close()  # reads its group's events one last time (oom_seen)
        machine = machine_failure(self.memory, exit_code=exit_code, oom_killed=self.oom_seen, own_limit="memory" in limits or "memory" in self.limits_seen)
        return CallOutcome("crashed", stage=stage, exit_code=exit_code, output=output, seconds=seconds, limits=limits, machine=machine)

    def call(self, function: str, args=(), kwargs: dict | None = None, timeout: float = 30.0) -> CallOutcome:
        """`function(*args, **kwargs)` in the worker; `args` are arrays, `kwargs` JSON values.

        A worker that died or misbehaved since its last answer is replaced first,
        and a call whose worker dies is tried once more in a fresh one, so one
        call's crash (or a timer it left behind) never costs another call.
        """
        outcome = self._call_once(function, args, kwargs, timeout)
        if outcome.status == "crashed" and outcome.stage == "call":
            outcome = self._call_once(function, args, kwargs, timeout)
        return outcome

    def _call_once(self, function: str, args, kwargs: dict | None, timeout: float) -> CallOutcome:
        if self.import_failure is not None:
            return self.import_failure
        if self.spent >= TIME_BUDGET:
            return CallOutcome("exhausted", seconds=0.0)
        if self.first_started is None:
            self.first_started = time.monotonic()
        elif time.monotonic() - self.first_started >= safety_wall_s(TIME_BUDGET):  # the budget's wall-clock bound
            return CallOutcome("starved", seconds=0.0, limits=sorted(self.limits_seen))
        if self.proc is not None and (self.proc.poll() is not None or self.tainted):
            self.close()
        if self.proc is None:
            self._start()
            if self.import_failure is not None:
                self.close()
                return self.import_failure
        folder = self.work / f"call-{secrets.token_hex(8)}"  # where the worker writes its result (it makes the folder)
        given = Path(tempfile.mkdtemp(prefix="call-", dir=self.inbox))
        try:
            return self._exchange(function, args, kwargs, timeout, folder, given)
        finally:
            shutil.rmtree(given, ignore_errors=True)

    def _exchange(self, function: str, args, kwargs: dict | None, timeout: float, folder: Path, given: Path) -> CallOutcome:
        paths = []
        for i, arg in enumerate(args):
            if isinstance(arg, ModelArg):
                paths.append(str(given / f"arg{i}.keras"))
                shutil.copyfile(arg.path, paths[-1])
            else:
                paths.append(str(given / f"arg{i}.npy"))
                np.save(paths[-1], np.asarray(arg), allow_pickle=False)
        request_id = secrets.token_hex(8)
        request = {"id": request_id, "function": function, "args": paths, "kwargs": kwargs or {}, "folder": str(folder)}
        since = self._output_offsets()
        started = time.perf_counter()
        try:
            os.write(self.request_w, (json.dumps(request) + "\n").encode("utf-8"))
        except OSError:
            return self._failure(None, "call", 0.0, since)
        message = self._receive(request_id, min(timeout, max(TIME_BUDGET - self.spent, 1.0)))
        seconds = time.perf_counter() - started
        if isinstance(message, dict) and message.get("status") == "returned":
            budget = None
            try:
                budget = _Budget(folder, self.keep, dir_fd=self.area)
                outcome = CallOutcome(
                    "returned",
                    value=_decode(message["value"], budget),
                    args_after=[_decode(a, budget) for a in message.get("args_after", [])],
                    output=self._output(since),
                    seconds=seconds,
                    warnings=[clean_text(w, 300) for w in message.get("warnings", [])[:10] if isinstance(w, str)],
                )
            except Exception:  # noqa: BLE001 - whatever the result claims, it is not ours
                return self._failure(None, "call", seconds, since)
            finally:
                if budget is not None:
                    budget.close()
            return outcome
        return self._failure(message, "call", seconds, since)
