"""Run student code in a worker process and bring back plain data.

The trusted side of the boundary. A `Worker` starts `_child.py` in its own
session and process group, with a scrubbed environment, and talks to it over
two private pipes: one JSON line per call each way, arrays as `.npy` files
(never pickle), with size limits. Every call has a wall-clock limit; a worker
that times out or dies is killed and replaced for the next call. When a worker
closes, its whole process group is killed and, on Linux, so is every process
it left behind that escaped the group (the grader is their subreaper), so
nothing a submission starts outlives its grading. Every score is computed by
the grader from this data, in this process.
"""

from __future__ import annotations

import json
import os
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

CHILD = Path(__file__).with_name("_child.py")
IMPORT_TIMEOUT = 60.0  # seconds to import the student's module (TensorFlow alone takes a few)
MAX_RESULT_LINE = 1 << 20  # bytes of JSON per result
MAX_ARRAY_FILE = 256 << 20  # bytes per returned array
MAX_FILE_WRITE = 512 << 20  # RLIMIT_FSIZE for the worker, where the platform has it
OUTPUT_TAIL = 600  # characters of the student's output shown in messages


@dataclass
class Opaque:
    """A returned value that is not plain data; only its description crosses."""

    type: str
    length: int | None = None


@dataclass
class CallOutcome:
    """What came back from one call: exactly one of the statuses below."""

    status: str  # returned | raised | missing_function | crashed | timeout
    value: Any = None
    args_after: list = field(default_factory=list)
    exc_type: str = ""
    exc_message: str = ""
    stage: str = "call"  # import | call: where it raised, crashed or timed out
    where: str | None = None  # the student's own frame, for raised
    exit_code: int | None = None
    output: str = ""  # tail of what the student's code printed
    seconds: float = 0.0


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
    me, found = os.getpid(), set()
    for entry in Path("/proc").glob("[0-9]*/stat") if sys.platform.startswith("linux") else ():
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == me:
            found.add(int(entry.parent.name))
    return found


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


def _limit_resources() -> None:  # runs in the worker between fork and exec
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_WRITE, MAX_FILE_WRITE))
    except (ImportError, ValueError, OSError):
        pass


def _child_env(work: Path) -> dict[str, str]:
    """A small, scrubbed environment: nothing of the grader's leaks through."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "KERAS_HOME": str(work / ".keras"),
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(work / ".matplotlib"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
    }


def _tail(path: Path) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - OUTPUT_TAIL))
        return fh.read().decode("utf-8", "replace").strip()


def _decode(node: Any, folder: Path) -> Any:
    if not isinstance(node, dict):
        raise ValueError("malformed result")
    kind = node.get("kind")
    if kind == "ndarray":
        path = Path(str(node.get("file", "")))
        if path.parent != folder or path.suffix != ".npy" or not path.is_file():
            raise ValueError("malformed result")
        if path.stat().st_size > MAX_ARRAY_FILE:
            return Opaque(f"array larger than {MAX_ARRAY_FILE >> 20} MiB")
        array = np.load(path, allow_pickle=False)
        return array[()] if node.get("scalar") else array
    if kind == "none":
        return None
    if kind == "scalar":
        return node.get("value")
    if kind in ("list", "tuple"):
        items = [_decode(item, folder) for item in node.get("items", [])]
        return tuple(items) if kind == "tuple" else items
    return Opaque(str(node.get("type", "unknown"))[:200], node.get("length"))


class Worker:
    """One student module, imported once in a child process, answering calls."""

    def __init__(self, module_file: Path, import_timeout: float = IMPORT_TIMEOUT):
        self.module_file = Path(module_file).resolve()
        self.import_timeout = import_timeout
        self.proc: subprocess.Popen | None = None
        self.import_failure: CallOutcome | None = None
        self.work: Path | None = None
        self.calls = 0
        _become_subreaper()

    # -- lifecycle

    def _start(self) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="mnist-grader-"))
        (self.work / "worker.json").write_text(
            json.dumps(
                {"module": self.module_file.stem, "module_file": str(self.module_file), "target_dir": str(self.module_file.parent)}
            ),
            encoding="utf-8",
        )
        request_r, self.request_w = os.pipe()
        self.result_r, result_w = os.pipe()
        self.children_before = _children()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(CHILD), str(self.work), str(request_r), str(result_w)],
            cwd=self.work,
            env=_child_env(self.work),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(request_r, result_w),
            start_new_session=True,  # its own process group, killed as a whole
            preexec_fn=_limit_resources if os.name == "posix" else None,
        )
        os.close(request_r)
        os.close(result_w)
        self.buffer = b""
        started = time.perf_counter()
        message = self._receive(self.import_timeout)
        if not (isinstance(message, dict) and message.get("status") == "ready"):
            self.import_failure = self._failure(message, "import", time.perf_counter() - started)
            self.close()

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
        self.proc.wait()
        _kill_leftovers(self.children_before)
        self.proc = None
        shutil.rmtree(self.work, ignore_errors=True)

    # -- protocol

    def _receive(self, timeout: float) -> dict | None | str:
        """The next JSON line from the worker; None if it ended, "timeout" if it took too long."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            ready, _, _ = select.select([self.result_r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.result_r, 65536)
            if not chunk:
                return None
            self.buffer += chunk
            if len(self.buffer) > MAX_RESULT_LINE:
                return None
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    def _output(self) -> str:
        if self.work is None:
            return ""
        return "\n".join(t for t in (_tail(self.work / "stdout.txt"), _tail(self.work / "stderr.txt")) if t)

    def _failure(self, message, stage: str, seconds: float) -> CallOutcome:
        """The outcome for anything but a clean result; kills a worker that is past saving."""
        output = self._output()
        if isinstance(message, dict) and message.get("status") == "raised":
            return CallOutcome(
                "raised",
                exc_type=str(message.get("type", ""))[:100],
                exc_message=str(message.get("message", ""))[:2000],
                stage=stage,
                where=message.get("where") and str(message["where"])[:500],
                output=output,
                seconds=seconds,
            )
        if isinstance(message, dict) and message.get("status") == "missing_function":
            return CallOutcome("missing_function", output=output, seconds=seconds)
        if message == "timeout":
            self.close()
            return CallOutcome("timeout", stage=stage, output=output, seconds=seconds)
        # The worker ended, or sent something its runner never writes.
        exit_code = self.proc.poll() if self.proc else None
        if exit_code is None and self.proc is not None:
            try:
                exit_code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        self.close()
        return CallOutcome("crashed", stage=stage, exit_code=exit_code, output=output, seconds=seconds)

    def call(self, function: str, args=(), kwargs: dict | None = None, timeout: float = 30.0) -> CallOutcome:
        """`function(*args, **kwargs)` in the worker; `args` are arrays, `kwargs` JSON values."""
        if self.import_failure is not None:
            return self.import_failure
        if self.proc is None:
            self._start()
            if self.import_failure is not None:
                return self.import_failure
        self.calls += 1
        folder = self.work / f"call{self.calls}"
        folder.mkdir()
        paths = []
        for i, arg in enumerate(args):
            paths.append(str(folder / f"arg{i}.npy"))
            np.save(paths[-1], np.asarray(arg), allow_pickle=False)
        request = {"function": function, "args": paths, "kwargs": kwargs or {}, "folder": str(folder)}
        started = time.perf_counter()
        try:
            os.write(self.request_w, (json.dumps(request) + "\n").encode("utf-8"))
        except OSError:
            return self._failure(None, "call", 0.0)
        message = self._receive(timeout)
        seconds = time.perf_counter() - started
        if isinstance(message, dict) and message.get("status") == "returned":
            try:
                outcome = CallOutcome(
                    "returned",
                    value=_decode(message["value"], folder),
                    args_after=[_decode(a, folder) for a in message.get("args_after", [])],
                    output=self._output(),
                    seconds=seconds,
                )
            except (ValueError, KeyError, TypeError, OSError):
                return self._failure(None, "call", seconds)
            shutil.rmtree(folder, ignore_errors=True)
            return outcome
        return self._failure(message, "call", seconds)
