"""Grade one folder with the course's grader in a process of its own, and the one rule for what its exit means.

Every route that grades a submission through a child grader goes through
`grade_folder`: a batch on this machine and a cluster's workers (through
`grade_submission`), and the test cells of the nbgrader course (notebook.py).
Gradescope's `platforms/gradescope/autograde.py` keeps its own copy of
`verdict`, because it runs from the unpacked autograder zip before the
course can be imported; tests/test_reports.py holds the two to the same rule.

The rule, from grader/cli.py's exit statuses:
- 0 or 1 with a report: graded (1: not every point).
- 2 with a report that says `retry`: a safety clock fired. The checks it
  stopped are "not graded" (each marked `retry`, worth nothing yet, graded
  again later); the checks that passed keep their points.
- anything else (another status, a signal, no usable report): the grader
  could not grade the folder, which is never the student's 0.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mnist_course.course import ROOT, Exercise

from ..isolation.safe_files import read_regular
from ..settings import RunSettings

EXIT_GRADED = (0, 1)
EXIT_NOT_GRADED = 2  # with a report that says retry: a safety clock fired
MAX_REPORT_BYTES = 64 << 20  # a report.json, as the child grader wrote it
STOP_GRACE_S = 30  # after SIGTERM, the grader's own clean-up (its workers, its trainer) gets this long


def verdict(code: int, report: Any) -> str:
    """What a child grader's exit status and report mean: "graded", "not graded"
    (some checks stopped by a safety clock: grade again; the others stand), or "error"."""
    if not isinstance(report, dict):
        return "error"
    if code in EXIT_GRADED:
        return "graded"
    if code == EXIT_NOT_GRADED and report.get("retry"):
        return "not graded"
    return "error"


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the grading process, before it runs: SIGKILL it if the process that
    started it dies (a cluster worker killed mid-task leaves no grading behind;
    the sandbox's own processes already die with the grader)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM (the grader stops its workers and trainer), then SIGKILL."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def grade_folder(
    folder: Path,
    exercise_ids: list[str],
    *,
    env: Mapping[str, str],
    data_arg: str | None = None,
    timeout: float | None = None,
    on_line: Callable[[str], None] | None = None,
    die_with_parent: bool = False,
) -> dict[str, Any]:
    """Grade `folder` with `python -m grader` in a child process with environment `env`.

    Returns the child's report when it graded ("retry" in it when a safety clock
    stopped some checks), {"retry": why} when the whole grading passed `timeout`
    seconds (stopped: graded again later), or {"error": why, "log": its last lines}
    when it could not grade. `on_line` sees each line the grader writes to stderr
    (its training progress) as it comes."""
    with tempfile.TemporaryDirectory(prefix="mnist-grading-") as tmp:
        report_file = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "grader", *exercise_ids, "--target", str(folder), "--json", str(report_file)]
        if data_arg:
            command += ["--data", data_arg]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
        last: deque[str] = deque(maxlen=5)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            timed_out = not _read_lines(process, deadline, last, on_line)
            if not timed_out:
                try:
                    code = process.wait(timeout=None if deadline is None else max(deadline - time.monotonic(), 0.01))
                except subprocess.TimeoutExpired:
                    timed_out = True
        finally:  # timed out, or interrupted (a notebook cell, a cluster task cancelled): the grader stops too
            _stop(process)
        if timed_out:
            return {"retry": f"grading passed the safety limit of {timeout:g} s (the machine was too slow or overloaded)"}
        try:  # written by the child grader (whose workers run student code): a regular file, size-bounded
            report = json.loads(read_regular(report_file, MAX_REPORT_BYTES).decode("utf-8"))
        except (OSError, ValueError):
            report = None
    if verdict(code, report) == "error":
        log = "\n".join(last) or "no message"
        how = f"was stopped by signal {-code}" if code < 0 else f"exited with status {code}"
        return {"error": f"the grader could not grade this folder (it {how}): {last[-1] if last else 'no message'}", "log": log}
    return report


# A safety net, not a limit that decides points: a submission's trainings are
# capped in work (mnist_course/budget.py) and each has its own safety clock. When
# this one fires, the student is marked `retry` and graded on the next run.
SUBMISSION_TIMEOUT = 3 * 60 * 60


def grade_submission(
    folder: Path, exercises: list[Exercise], settings: RunSettings, on_line: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """One student's folder graded as a class grades it, on this machine (batch.py) or on a
    cluster's worker (cluster.py), so a student is graded the same way wherever the task
    runs: `grade_folder` with the run's `settings` written into the child's environment
    by the settings themselves (the test half, the data, the training cache where
    identical declarations share one training), a child that dies with whoever started
    it, and the safety limit above. The report (with "retry" when a safety clock fired),
    {"retry": why} when the whole grading passed its safety limit, or {"error": why} when
    the grader could not grade the folder. `on_line` sees each line the child writes to
    stderr (its training progress)."""
    result = grade_folder(
        folder,
        [ex.id for ex in exercises],
        env=settings.child_environment(os.environ),
        data_arg=settings.data,
        timeout=SUBMISSION_TIMEOUT,
        on_line=on_line,
        die_with_parent=True,
    )
    result.pop("log", None)  # the batch shows the one line of an error
    return result


def _read_lines(process: subprocess.Popen, deadline: float | None, last: deque[str], on_line) -> bool:
    """Read the child's stderr to its end, line by line; False when `deadline` came first."""
    fd = process.stderr.fileno()
    pending = b""
    try:
        while True:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return False
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            pending = pending[-(1 << 16) :]  # a line without end is kept to its last 64 KiB
            for raw in lines:
                _line(raw.decode("utf-8", "replace").rstrip(), last, on_line)
        if pending:
            _line(pending.decode("utf-8", "replace").rstrip(), last, on_line)
        return True
    finally:
        process.stderr.close()


def _line(line: str, last: deque[str], on_line) -> None:
    if line.strip():
        last.append(line)
    if on_line is not None:
        on_line(line)
