"""Run one call into student code in a child process and bring back plain data.

The trusted side of the boundary: it writes the request, starts
`_child.py` in its own process group with a wall-clock limit, kills the whole
group afterwards (so nothing the submission started lives on), and reads back
only JSON and `.npy` files (never pickle), with size limits. Every score is
computed from this data by the grader, in this process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CHILD = Path(__file__).with_name("_child.py")
MAX_RESULT_JSON = 1 << 20  # bytes
MAX_ARRAY_FILE = 256 << 20  # bytes
MAX_FILE_WRITE = 512 << 20  # RLIMIT_FSIZE for the child, where the platform has it
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
    stage: str = ""  # import | call (for raised)
    where: str | None = None  # the student's own frame, for raised
    exit_code: int | None = None
    output: str = ""  # tail of what the student's code printed
    seconds: float = 0.0


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


def _limit_resources() -> None:  # runs in the child between fork and exec
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_WRITE, MAX_FILE_WRITE))
    except (ImportError, ValueError, OSError):
        pass


def _kill_group(proc: subprocess.Popen) -> None:
    if os.name == "posix":
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    elif proc.poll() is None:
        proc.kill()


def _tail(path: Path) -> str:
    if not path.exists():
        return ""
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - OUTPUT_TAIL))
        return fh.read().decode("utf-8", "replace").strip()


def _decode(node: Any, work: Path) -> Any:
    if not isinstance(node, dict):
        raise ValueError("malformed result")
    kind = node.get("kind")
    if kind == "ndarray":
        name = str(node.get("file", ""))
        path = work / name
        if path.parent != work or not name.endswith(".npy") or not path.is_file():
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
        items = [_decode(item, work) for item in node.get("items", [])]
        return tuple(items) if kind == "tuple" else items
    return Opaque(str(node.get("type", "unknown"))[:200], node.get("length"))


def call(
    module_file: Path,
    function: str,
    args: tuple[np.ndarray, ...] = (),
    kwargs: dict[str, Any] | None = None,
    timeout: float = 30.0,
) -> CallOutcome:
    """Call `function(*args, **kwargs)` from `module_file` in a child process.

    `args` are numpy arrays (sent as .npy); `kwargs` must be JSON values.
    """
    module_file = Path(module_file).resolve()
    with tempfile.TemporaryDirectory(prefix="mnist-grader-") as tmp:
        work = Path(tmp)
        names = []
        for i, arg in enumerate(args):
            names.append(f"arg{i}.npy")
            np.save(work / names[-1], np.asarray(arg), allow_pickle=False)
        request = {
            "module": module_file.stem,
            "module_file": str(module_file),
            "target_dir": str(module_file.parent),
            "function": function,
            "args": names,
            "kwargs": kwargs or {},
        }
        (work / "request.json").write_text(json.dumps(request), encoding="utf-8")

        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-I", str(CHILD), str(work)],
            cwd=work,
            env=_child_env(work),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, killed as a whole below
            preexec_fn=_limit_resources if os.name == "posix" else None,
        )
        try:
            exit_code = proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            exit_code = None
        finally:
            _kill_group(proc)
            proc.wait()
        elapsed = time.perf_counter() - started
        output = "\n".join(t for t in (_tail(work / "stdout.txt"), _tail(work / "stderr.txt")) if t)

        if timed_out:
            return CallOutcome("timeout", output=output, seconds=elapsed)
        result_file = work / "result.json"
        if not result_file.is_file() or result_file.stat().st_size > MAX_RESULT_JSON:
            return CallOutcome("crashed", exit_code=exit_code, output=output, seconds=elapsed)
        try:
            result = json.loads(result_file.read_text(encoding="utf-8"))
            status = result["status"]
            if status == "returned":
                return CallOutcome(
                    "returned",
                    value=_decode(result["value"], work),
                    args_after=[_decode(a, work) for a in result["args_after"]],
                    output=output,
                    seconds=float(result.get("seconds", elapsed)),
                )
            if status == "raised":
                return CallOutcome(
                    "raised",
                    exc_type=str(result["type"])[:100],
                    exc_message=str(result["message"])[:2000],
                    stage=str(result["stage"]),
                    where=result.get("where") and str(result["where"])[:500],
                    output=output,
                    seconds=elapsed,
                )
            if status == "missing_function":
                return CallOutcome("missing_function", output=output, seconds=elapsed)
        except (ValueError, KeyError, TypeError, OSError):
            pass
        # Anything else means the child's report was not written by the child runner.
        return CallOutcome("crashed", exit_code=exit_code, output=output, seconds=elapsed)
