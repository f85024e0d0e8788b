"""Grade one submission folder in its own grader process, and the key of what decides its grade.

Shared by a batch on this machine (batch.py) and by a cluster's workers
(cluster.py), so a student is graded the same way wherever the task runs.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mnist_course.course import COURSE_FILE, ROOT, Exercise

from .report import GRADER_VERSION
from .sandbox import read_regular
from .session import GRADER_DIR, HALF_ENV, graded_half
from .training import CACHE_ENV

# A safety net, not a limit that decides points: a submission's trainings are
# capped in work (mnist_course/budget.py) and each has its own safety clock. When
# this one fires, the student is marked `retry` and graded on the next run.
SUBMISSION_TIMEOUT = 3 * 60 * 60
MAX_REPORT_BYTES = 64 << 20  # a student's report.json, as its grader process wrote it


def checks_digest() -> str:
    """sha256 of course.toml, the grader's sources and pytest.ini, and the course package's
    sources (the budget, the data loader): the checks a grade comes from."""
    digest = hashlib.sha256()
    for path in (COURSE_FILE, GRADER_DIR / "pytest.ini", *sorted(GRADER_DIR.glob("*.py")), *sorted((ROOT / "mnist_course").glob("*.py"))):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def grading_key(exercises: list[Exercise], data_sha256: str, half: str | None = None) -> str:
    """What else decides a grade: grader version, course.toml, the checks, the data, the test half, the exercises."""
    half = half or graded_half()
    return hashlib.sha256(f"{GRADER_VERSION}\0{data_sha256}\0{half}\0{','.join(ex.id for ex in exercises)}\0{checks_digest()}".encode()).hexdigest()


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the grading process, before it runs: SIGKILL it if the process that
    started it dies (a cluster worker killed mid-task leaves no grading behind;
    the sandbox's own processes already die with the grader)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def grade_folder(
    folder: Path, exercises: list[Exercise], data_arg: str | None, half: str | None = None, training_cache: str | None = None
) -> dict[str, Any]:
    """Grade one folder in a separate grader process: the report (with "retry"
    when a safety clock fired), {"retry": why} when the whole grading passed its
    safety limit, or {"error": why} when the grader could not grade the folder.
    `half` is the test half to measure on (default: this process's);
    `training_cache` the folder where identical declarations share one training
    (default: $MNIST_COURSE_TRAINING_CACHE, if set)."""
    with tempfile.TemporaryDirectory(prefix="mnist-batch-") as tmp:
        report_file = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "grader", *(ex.id for ex in exercises), "--target", str(folder), "--json", str(report_file)]
        if data_arg:
            command += ["--data", data_arg]
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                env={**os.environ, HALF_ENV: half or graded_half(), **({CACHE_ENV: training_cache} if training_cache else {})},
                capture_output=True,
                text=True,
                timeout=SUBMISSION_TIMEOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        except subprocess.TimeoutExpired:
            return {"retry": f"grading passed the safety limit of {SUBMISSION_TIMEOUT} s (the machine was too slow or overloaded)"}
        try:  # written by the student's grader process; opened as a regular file, size-bounded
            report = json.loads(read_regular(report_file, MAX_REPORT_BYTES).decode("utf-8"))
        except (OSError, ValueError):
            report = None
        if done.returncode == 2 and isinstance(report, dict) and report.get("retry"):
            return report
        if done.returncode not in (0, 1) or not isinstance(report, dict):
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            return {"error": f"the grader could not grade this folder (exit {done.returncode}): {last}"}
        return report
