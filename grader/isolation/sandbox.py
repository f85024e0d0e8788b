"""Run student code in a worker process and bring back plain data.

The trusted side of the boundary. A `Worker` starts `_child.py` in its own
session and process group, with a scrubbed environment, and talks to it over
two private pipes: one JSON line per call each way, arrays as `.npy` files
(never pickle), with size limits (what comes back is decoded by `reply.py`).
Every call has a time limit counted in the
time the submission caused (a busy machine does not count, see `OwnClock`),
with a wall clock behind it only as a safety net; a worker that times out or
dies is killed and replaced for the next call. When a worker
closes, its whole process group is killed and, on Linux, so is every process
it left behind that escaped the group (the grader is their subreaper), so
nothing a submission starts outlives its grading. Every score is computed by
the grader from this data, in this process.

Two classes share the work: a `WorkerProcess` is one start of the child (its
sandbox, control group, limits from `limits.py`, folder and pipes; reading
one answer, the output its code printed; killing it and everything it
started), and the `Worker` is the student's module across its restarts (one
time budget, the import, each call and its one retry, and what came back as
a `CallOutcome`, failures included).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import shutil
import signal
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
from .limits import MEMORY_LIMIT, in_leaf, limiter, machine_failure
from .own_time import OwnClock, descendants, process_parents, safety_wall_s, serving_process
from .reply import Budget, decode
from .safe_files import clean_text, copy_submission, graded_files, open_regular, remove_tree

CHILD = Path(__file__).with_name("_child.py")
IMPORT_TIMEOUT = 60.0  # seconds to import the student's module (TensorFlow alone takes a few)
MAX_RESULT_LINE = 1 << 20  # bytes of JSON per result
# Seconds a module's code may run in all, imports and restarts included, so that
# code that times out or crashes call after call cannot hold the grader for each
# check in turn. Honest code needs a few seconds (training is the trainer's).
# Counted like every limit here: the time the submission caused (OwnClock).
TIME_BUDGET = 600.0
POLL_S = 0.5  # once a call has run past its limit on the wall clock, how often its own time is counted
OUTPUT_TAIL = 600  # characters of the student's output shown in messages


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
    # In a by-hand exercise: the forbidden names the call used (said by the worker,
    # so only a message's material: the sandbox is what keeps the packages out).
    reached: tuple[str, ...] = ()


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


def isolation() -> str:
    """How student code is isolated on this machine, as the reports state it."""
    sandbox = bubblewrap.find()
    if sandbox.active:
        return f"{bubblewrap.describe(sandbox)}; {capacity.describe()}"
    network = "no network" if sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0 else "network reachable"
    return f"{bubblewrap.describe(sandbox)}; {network}; {capacity.describe()}"


def worker_environment(work: Path) -> dict[str, str]:
    """A small, scrubbed environment: nothing of the grader's leaks through. The grader's own
    run of ex03b's protocol computes under it too (references/ex03b_experiment.py), so that it
    computes exactly as a worker does."""
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



def _machines_before_code(before_code: bool) -> str:
    """Why a worker that failed before its runner started failed: the machine's, always (none of
    the student's code had run), a full process group named where one is; "" after that point."""
    return (capacity.processes_ran_out() or capacity.NO_WORKER) if before_code else ""


class WorkerProcess:
    """One start of a module's worker: `_child.py` in its own session and
    process group, under bwrap where it can start, in a control group of its
    own where the machine gives one, with its resource limits; its folder
    (the submission's sources copied in) and the two pipes. It reads one
    answer at a time and the output the code printed, and `close()` kills it
    with everything it started and removes its files."""

    def __init__(self, module_file: Path, memory: int, inbox: Path, forbidden: tuple[str, ...] = (), leave_out: frozenset[str] = frozenset()):
        self.work = Path(tempfile.mkdtemp(prefix="mnist-grader-"))
        # The worker imports a fresh copy of the submission's sources (less `leave_out`, Worker's), never the folder itself.
        submission = self.work / "submission"
        copy_submission(module_file.parent, submission, leave_out)
        self.ready_id = secrets.token_hex(8)
        info = {
            "module": module_file.stem,
            "module_file": str(submission / module_file.name),
            "target_dir": str(submission),
            "ready_id": self.ready_id,
            "forbidden": list(forbidden),  # a by-hand exercise's packages, stand-ins inside
        }
        (self.work / "worker.json").write_text(json.dumps(info), encoding="utf-8")
        self.leaf: capacity.Leaf | None = capacity.Leaf(memory) if capacity.places().v2 or capacity.places().v1 else None  # its control group
        self.area: int | None = None  # a descriptor of its writable folder, as it sees it
        request_r, self.request_w = os.pipe()
        self.result_r, result_w = os.pipe()
        self.children_before = _children()
        command = [sys.executable, "-I", str(CHILD), str(self.work), str(request_r), str(result_w)]
        sandbox = bubblewrap.find()
        self.sandboxed = sandbox.active  # whether it runs under bwrap
        self.own_area = sandbox.active and bubblewrap.area_bytes() is not None  # its writable folder is a tmpfs of its own
        if sandbox.active:
            command = bubblewrap.command(sandbox, self.work, CHILD, command, inbox=inbox, forbidden=forbidden)
        if not self.own_area:  # the worker writes into the grader's folder itself
            self.area = os.open(self.work, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0))
        self.proc = subprocess.Popen(
            command,
            cwd=self.work,
            env=worker_environment(self.work),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(request_r, result_w),
            start_new_session=True,  # its own process group, killed as a whole
            preexec_fn=in_leaf(self.leaf, limiter(memory, own_network=not sandbox.active)) if os.name == "posix" else None,
        )
        os.close(request_r)
        os.close(result_w)
        self.buffer, self.tainted = b"", False
        self.known: list[int] = [self.proc.pid]  # the worker's processes, as OwnClock last saw them
        self.serving: int | None = None  # the worker's interpreter, once it has imported the module

    def open_area(self) -> None:
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

    def let_run(self) -> None:
        """Tell a started runner that its folder is held (see `_child.py`): only now does it import the module."""
        try:
            os.write(self.request_w, b"\n")
        except OSError:
            pass  # it died already; the next read says how

    def imported(self) -> None:
        """The module is imported: note the interpreter and its threads, for the calls' clocks."""
        if sys.platform.startswith("linux"):
            self.known = descendants(self.proc.pid)
            self.serving = serving_process(self.known, self.sandboxed)

    def needs_replacing(self) -> bool:
        """Whether it died, or misbehaved, since its last answer."""
        return self.proc.poll() is not None or self.tainted

    def exit_code(self) -> int | None:
        """How it ended (killed by signal N: -N, under bwrap too); None if it still runs 2 s on."""
        exit_code = self.proc.poll()
        if exit_code is None:
            try:
                exit_code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if self.sandboxed and exit_code is not None and 128 < exit_code <= 128 + 64:
            exit_code = 128 - exit_code  # bwrap reports a child killed by signal N as 128 + N, as a shell does
        return exit_code

    def limits_hit(self) -> tuple[list[str], bool]:
        """Its own limits its code has run into so far, and whether the kernel
        killed one of its processes for memory."""
        if self.leaf is None:
            return [], False
        return self.leaf.limits_hit(), self.leaf.oom_killed()

    def close(self) -> tuple[list[str], bool]:
        """Kill it, everything it started, and remove its files; returns
        limits_hit() as its control group last saw them."""
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
        hit = self.limits_hit()
        if self.leaf is not None:
            self.leaf.remove()
            self.leaf = None
        if self.area is not None:
            os.close(self.area)  # the last reference to its tmpfs, which goes with it
            self.area = None
        remove_tree(self.work)
        return hit

    # -- protocol

    def clock(self) -> OwnClock | None:
        """A clock of the time its code takes from now on (Linux; None elsewhere)."""
        cpu_source = self.leaf.cpu_seconds if self.leaf is not None and capacity.places().gives("cpu") else None
        return OwnClock(self.proc.pid, self.known, self.serving, self.sandboxed, cpu_source) if sys.platform.startswith("linux") else None

    def send(self, request: dict) -> None:
        """Write one request line (OSError if the worker is gone)."""
        os.write(self.request_w, (json.dumps(request) + "\n").encode("utf-8"))

    def read_answer(self, expected_id: str, limit: float, safety: float, started: float, clock: OwnClock | None) -> dict | None | str:
        """The answer to request `expected_id` (see Worker._receive)."""
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

    def output_offsets(self) -> tuple[int, int]:
        """How much its code has printed so far, to stdout and to stderr."""
        sizes = []
        for name in ("stdout.txt", "stderr.txt"):
            try:
                fd = open_regular(Path(name), dir_fd=self.area)
                sizes.append(os.fstat(fd).st_size)
                os.close(fd)
            except OSError:
                sizes.append(0)
        return sizes[0], sizes[1]

    def output(self, since: tuple[int, int]) -> str:
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


class Worker:
    """One student module, imported once in a child process, answering calls."""

    def __init__(
        self, module_file: Path, import_timeout: float = IMPORT_TIMEOUT, memory: int = MEMORY_LIMIT, forbidden: tuple[str, ...] = (),
        leave_out: frozenset[str] = frozenset(),
    ):
        self.module_file = Path(os.path.abspath(module_file))  # not resolve(): a symlink is never followed
        self.forbidden = tuple(forbidden)  # a by-hand exercise's packages (course.toml)
        # Files at the top of the submission this worker never receives: the course's other exercise files
        # (Student's), so an exercise is graded from its own file and the helpers beside it, never from another's.
        self.leave_out = frozenset(leave_out) - {self.module_file.name}
        self.import_timeout = import_timeout
        self.memory = memory
        self.process: WorkerProcess | None = None  # the running worker, if any
        self.import_failure: CallOutcome | None = None
        self.spent = 0.0  # seconds the module's code has had, across imports, calls and restarts
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

    def received(self) -> list[Path]:
        """The files a worker of this module receives, relative to its folder: every graded source
        (safe_files.graded_files) but `leave_out`. Raises SubmissionError for a folder that is not graded."""
        return graded_files(self.module_file.parent, self.leave_out)

    # -- lifecycle

    def _start(self) -> None:
        """Start a worker and wait until it has imported the module (or say why not, in `import_failure`)."""
        process = self.process = WorkerProcess(self.module_file, self.memory, self.inbox, self.forbidden, self.leave_out)
        started = time.perf_counter()
        spent = self.spent
        message = self._receive(process.ready_id, min(self.import_timeout, max(TIME_BUDGET - self.spent, 1.0)))
        runner_started = isinstance(message, dict) and message.get("status") == "started"
        if runner_started:
            if process.own_area:
                process.open_area()
            process.let_run()
            limit = min(self.import_timeout - (self.spent - spent), max(TIME_BUDGET - self.spent, 1.0))
            message = self._receive(process.ready_id, max(limit, 0.5))
        if not (isinstance(message, dict) and message.get("status") == "ready"):
            # Ended (or silent) before its runner started: none of the student's code had run, so never theirs.
            self.import_failure = self._failure(message, "import", time.perf_counter() - started, (0, 0), before_code=not runner_started)
        else:
            process.imported()

    def _note(self, hit: list[str], oom_killed: bool) -> list[str]:
        """Remember the limits a worker ran into, across restarts; returns `hit`."""
        self.limits_seen.update(hit)
        if oom_killed:
            self.oom_seen = True
        return hit

    def limits_hit(self) -> list[str]:
        """The worker's own limits its code has run into so far (and whether the
        kernel killed one of its processes for memory, in `oom_seen`)."""
        return self._note(*self.process.limits_hit()) if self.process is not None else []

    def close(self) -> None:
        """Kill the worker, everything it started, and remove its files."""
        if self.process is None:
            return
        process, self.process = self.process, None
        self._note(*process.close())

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
        process = self.process
        clock = process.clock()
        started = time.monotonic()
        safety = safety_wall_s(limit)
        try:
            return process.read_answer(expected_id, limit, safety, started, clock)
        finally:
            wall = time.monotonic() - started
            self.spent += clock.own() if clock is not None and wall > POLL_S else wall
            if clock is not None:
                process.known = clock.known

    def _reached(self, message: dict) -> tuple[str, ...]:
        """The forbidden names an answer says its call used: dotted names under one of
        this exercise's forbidden packages, at most five; anything else is ignored."""
        said = message.get("reached")
        if not self.forbidden:
            return ()
        if not isinstance(said, list):
            said = []
        missing = re.fullmatch(r"No module named '([\w.]+)'", str(message.get("message", "")))
        if message.get("type") == "ModuleNotFoundError" and missing:  # past the stand-ins, into the sandbox's empty folder
            said = [*said, missing.group(1)]
        names = (n for n in said[:5] if isinstance(n, str) and len(n) <= 200)
        return tuple(n for n in names if all(p.isidentifier() for p in n.split(".")) and n.split(".")[0] in self.forbidden)

    def _failure(self, message, stage: str, seconds: float, since: tuple[int, int], before_code: bool = False) -> CallOutcome:
        """The outcome for anything but a clean result; replaces a worker that is past saving.
        `before_code`: the worker ended or fell silent before its runner started, so before any
        of the student's code ran: the machine's failure, whatever it was."""
        output = self.process.output(since)
        limits = self.limits_hit()
        if isinstance(message, dict) and message.get("status") == "raised":
            if "No space left on device" in str(message.get("message", "")) or "[Errno 28]" in str(message.get("message", "")):
                limits = [*limits, "disk"]
                self.limits_seen.add("disk")
            return CallOutcome(
                "raised",
                reached=self._reached(message),
                limits=limits,
                exc_type=clean_text(message.get("type", ""), 100),
                exc_message=clean_text(message.get("message", ""), 2000),
                stage=stage,
                where=message.get("where") and clean_text(message["where"], 500),
                output=output,
                seconds=seconds,
                machine=machine_failure(
                    self.memory, f"{message.get('type', '')}: {message.get('message', '')}", oom_killed=self.oom_seen, own_limit="memory" in limits,
                    own_processes="processes" in limits or "processes" in self.limits_seen,
                ),
            )
        if isinstance(message, dict) and message.get("status") == "missing_function":
            return CallOutcome("missing_function", output=output, seconds=seconds)
        if isinstance(message, dict) and message.get("status") == "unsendable":
            return CallOutcome("unsendable", exc_message=clean_text(message.get("message", ""), 500), output=output, seconds=seconds)
        if message in ("timeout", "starved"):
            self.close()
            return CallOutcome(message, stage=stage, output=output, seconds=seconds, limits=limits, machine=_machines_before_code(before_code))
        # The worker ended, or sent something its runner never writes.
        exit_code = self.process.exit_code()
        self.close()  # reads its group's events one last time (oom_seen)
        machine = machine_failure(
            self.memory, output, exit_code=exit_code, oom_killed=self.oom_seen, own_limit="memory" in limits or "memory" in self.limits_seen,
            own_processes="processes" in limits or "processes" in self.limits_seen,
        ) or _machines_before_code(before_code)  # what it printed, as an exception's text: "can't start new thread" where a library could not start one
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
        if self.process is not None and self.process.needs_replacing():
            self.close()
        if self.process is None:
            self._start()
            if self.import_failure is not None:
                self.close()
                return self.import_failure
        folder = self.process.work / f"call-{secrets.token_hex(8)}"  # where the worker writes its result (it makes the folder)
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
        since = self.process.output_offsets()
        started = time.perf_counter()
        try:
            self.process.send(request)
        except OSError:
            return self._failure(None, "call", 0.0, since)
        message = self._receive(request_id, min(timeout, max(TIME_BUDGET - self.spent, 1.0)))
        seconds = time.perf_counter() - started
        if isinstance(message, dict) and message.get("status") == "returned":
            budget = None
            try:
                budget = Budget(folder, self.keep, dir_fd=self.process.area)
                outcome = CallOutcome(
                    "returned",
                    value=decode(message["value"], budget),
                    args_after=[decode(a, budget) for a in message.get("args_after", [])],
                    output=self.process.output(since),
                    seconds=seconds,
                    warnings=[clean_text(w, 300) for w in message.get("warnings", [])[:10] if isinstance(w, str)],
                    reached=self._reached(message),
                )
            except Exception:  # noqa: BLE001 - whatever the result claims, it is not ours
                return self._failure(None, "call", seconds, since)
            finally:
                if budget is not None:
                    budget.close()
            return outcome
        return self._failure(message, "call", seconds, since)
