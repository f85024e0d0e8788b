"""Grade one submission folder in its own grader process.

Shared by a batch on this machine (batch.py) and by a cluster's workers
(cluster.py), so a student is graded the same way wherever the task runs.
What decides the grade besides the submission is provenance.py's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from mnist_course.course import Exercise

from . import child_grader
from ..settings import RunSettings

# A safety net, not a limit that decides points: a submission's trainings are
# capped in work (mnist_course/budget.py) and each has its own safety clock. When
# this one fires, the student is marked `retry` and graded on the next run.
SUBMISSION_TIMEOUT = 3 * 60 * 60


def grade_folder(
    folder: Path, exercises: list[Exercise], settings: RunSettings, on_line: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Grade one folder in a separate grader process (child_grader.grade_folder, its one
    rule for exit statuses): the report (with "retry" when a safety clock fired),
    {"retry": why} when the whole grading passed its safety limit, or {"error": why}
    when the grader could not grade the folder. The child grades with `settings`
    (the test half, the data, the training cache where identical declarations
    share one training), written into its environment by the settings themselves.
    `on_line` sees each line the child writes to stderr (its training progress)."""
    result = child_grader.grade_folder(
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
