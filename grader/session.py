"""What a grading run works on: the target folder and the MNIST data.

Shared by the pytest plugin and the CLI, so both resolve the same way and the
data is read once per process. Both take their values from the run's
settings (settings.py), never from the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from mnist_course.course import ROOT, solutions_elsewhere
from mnist_course.data import MNIST, load_mnist

from .isolation.safe_files import SubmissionError, graded_files

GRADER_DIR = Path(__file__).resolve().parent
NAMED_TARGETS = {"exercises": ROOT / "exercises", "solutions": ROOT / "solutions"}


class TargetError(Exception):
    """The folder to grade does not exist, or cannot be graded."""


def resolve_target(value: str | None) -> Path:
    """`exercises` (the default), `solutions`, a folder of exercise files, or one such file."""
    value = value or "exercises"
    path = NAMED_TARGETS.get(value, Path(value).expanduser()).resolve()
    if path.is_file() and path.suffix == ".py":  # an exercise file: grade its folder
        path = path.parent
    if not path.is_dir():
        if value == "solutions":  # a class's starter leaves them out
            raise TargetError(f"there is no solutions/ to grade: {solutions_elsewhere()}")
        raise TargetError(f"the folder to grade does not exist: {value}")
    try:
        graded_files(path)
    except SubmissionError as exc:
        raise TargetError(f"the folder to grade cannot be graded: {exc}") from None
    return path


def is_stub_folder(path: Path) -> bool:
    return path == NAMED_TARGETS["exercises"].resolve()


@lru_cache(maxsize=4)
def load_data(path: str | None, full: bool = False) -> MNIST:
    """MNIST from `path`, else $MNIST_COURSE_DATA, else the Keras download, else the
    fallback; all 60,000 training images when `full` (the run's settings say which)."""
    return load_mnist(path, full=full)

