"""Grade one submission folder in its own grader process, and the key of what decides its grade.

Shared by a batch on this machine (batch.py) and by a cluster's workers
(cluster.py), so a student is graded the same way wherever the task runs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

from mnist_course.course import COURSE_FILE, ROOT, Exercise

from . import child_grader
from .report import GRADER_VERSION
from .session import GRADER_DIR, HALF_ENV, graded_half
from .training import CACHE_ENV

# A safety net, not a limit that decides points: a submission's trainings are
# capped in work (mnist_course/budget.py) and each has its own safety clock. When
# this one fires, the student is marked `retry` and graded on the next run.
SUBMISSION_TIMEOUT = 3 * 60 * 60


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


def grade_folder(
    folder: Path,
    exercises: list[Exercise],
    data_arg: str | None,
    half: str | None = None,
    training_cache: str | None = None,
    on_line: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Grade one folder in a separate grader process (child_grader.grade_folder, its one
    rule for exit statuses): the report (with "retry" when a safety clock fired),
    {"retry": why} when the whole grading passed its safety limit, or {"error": why}
    when the grader could not grade the folder. `half` is the test half to measure on
    (default: this process's); `training_cache` the folder where identical declarations
    share one training (default: $MNIST_COURSE_TRAINING_CACHE, if set); `on_line` sees each
    line the grader writes on stderr (its training epochs), as it comes."""
    env = {**os.environ, HALF_ENV: half or graded_half(), **({CACHE_ENV: training_cache} if training_cache else {})}
    result = child_grader.grade_folder(
        folder, [ex.id for ex in exercises], env=env, data_arg=data_arg, timeout=SUBMISSION_TIMEOUT, die_with_parent=True, on_line=on_line
    )
    result.pop("log", None)  # the batch shows the one line of an error
    return result
