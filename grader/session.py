"""What a grading run works on: the target folder and the MNIST data.

Shared by the pytest plugin (conftest.py) and the CLI, so both resolve the
same way and the data is read once per process.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from mnist_course.course import ROOT
from mnist_course.data import MNIST, TEST_HALVES, load_mnist

from .sandbox import SubmissionError, graded_files

GRADER_DIR = Path(__file__).resolve().parent
TARGET_ENV = "MNIST_COURSE_TARGET"
# Which half of the test set measures accuracy: "public" for a student's own
# grading, "private" for an instructor's (`--batch`, Gradescope, Classroom).
HALF_ENV = "MNIST_COURSE_TEST_HALF"
NAMED_TARGETS = {"exercises": ROOT / "exercises", "solutions": ROOT / "solutions"}


class TargetError(Exception):
    """The folder to grade does not exist, or cannot be graded."""


def resolve_target(value: str | None) -> Path:
    """`exercises` (the default), `solutions`, a folder of exercise files, or one such file."""
    value = value or os.environ.get(TARGET_ENV) or "exercises"
    path = NAMED_TARGETS.get(value, Path(value).expanduser()).resolve()
    if path.is_file() and path.suffix == ".py":  # an exercise file: grade its folder
        path = path.parent
    if not path.is_dir():
        raise TargetError(f"the folder to grade does not exist: {value}")
    try:
        graded_files(path)
    except SubmissionError as exc:
        raise TargetError(f"the folder to grade cannot be graded: {exc}") from None
    return path


def is_stub_folder(path: Path) -> bool:
    return path == NAMED_TARGETS["exercises"].resolve()


@lru_cache(maxsize=4)
def load_data(path: str | None) -> MNIST:
    """MNIST from `path`, else $MNIST_COURSE_DATA, else the Keras download, else the fallback."""
    return load_mnist(path)


def graded_half() -> str:
    """The half of the test set this run measures accuracy on ($MNIST_COURSE_TEST_HALF, default public)."""
    half = os.environ.get(HALF_ENV, "").strip() or "public"
    if half not in TEST_HALVES:
        raise TargetError(f"${HALF_ENV} is {half!r}; it names the half of the test set to grade on: public or private")
    return half
