"""What decides a grade: the one definition, used wherever a grade's origin is named or compared.

A verdict depends on the submission and on exactly what this module names:

- the grader: its version, and its checks (course.toml, pytest.ini, the
  grader's and the course package's sources: `checks_digest`);
- the libraries that train and evaluate a model: Python, TensorFlow, Keras,
  NumPy, and Keras's backend;
- the CPU family, which moves accuracies in their last digits;
- the run: the data's sha256, the half of the test set, the exercises graded.

Four places use it, so they cannot disagree:

| where | what it takes |
|---|---|
| `report.environment()` | `libraries()` and the machine, stated in every report |
| `grading_key()` | everything: `--batch` keeps a report only while its key holds |
| `cluster.worker_identity()` | `grading_machine()`, compared between the instructor's machine and each worker |
| the training cache key (`training.Trainer`) | `grading_machine()`, with the declaration, settings and data |

A new thing that can change a verdict is added here, once, and every one of
them sees it (tests/test_reports.py: a changed library version regrades a batch).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Iterable

from mnist_course.course import COURSE_FILE, ROOT

GRADER_DIR = Path(__file__).resolve().parent
try:
    GRADER_VERSION = version("mnist-course")
except PackageNotFoundError:  # run from a checkout that was never installed
    GRADER_VERSION = "unknown"

# The libraries whose version can move a trained model's accuracy.
LIBRARIES = ("tensorflow", "keras", "numpy")

# How each entry of `grading_machine()` is named to a person (the cluster's refusals).
LABELS = {
    "grader_version": "grader version",
    "checks": "checks (course.toml and the grader's sources)",
    "python": "Python",
    "tensorflow": "TensorFlow",
    "keras": "Keras",
    "numpy": "NumPy",
    "keras_backend": "Keras backend",
    "machine": "machine",
}


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


@lru_cache(maxsize=1)
def libraries() -> dict[str, str]:
    """Python's version and each of LIBRARIES' installed versions ("not installed" when absent)."""
    return {"python": platform.python_version(), **{package: _version(package) for package in LIBRARIES}}


def _check_sources() -> list[Path]:
    """The files a check's verdict comes from, in a fixed order: course.toml, the
    grader's configuration and every Python source under grader/ and mnist_course/
    (in subfolders too, whatever the layout)."""
    sources = [COURSE_FILE, *sorted(GRADER_DIR.rglob("pytest.ini"))]
    for folder in (GRADER_DIR, ROOT / "mnist_course"):
        sources += sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    return sources


@lru_cache(maxsize=1)
def checks_digest() -> str:
    """sha256 of the checks a grade comes from (`_check_sources`), each file's path
    relative to the course and its bytes."""
    digest = hashlib.sha256()
    for path in _check_sources():
        name, data = str(path.relative_to(ROOT)).encode(), path.read_bytes()
        digest.update(b"%d:%s%d:%s" % (len(name), name, len(data), data))
    return digest.hexdigest()


def grading_machine() -> dict[str, str]:
    """What this machine brings to every verdict it gives: the grader and its checks,
    the libraries, Keras's backend and the CPU family."""
    return {
        "grader_version": GRADER_VERSION,
        "checks": checks_digest(),
        **libraries(),
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "machine": platform.machine(),
    }


def decides_grade(exercise_ids: Iterable[str], data_sha256: str, half: str, draw_key: str = "public") -> dict[str, Any]:
    """Everything besides the submission and its variants that decides its grade in a run on this
    machine: the grading machine, the data, the half, the exercises and the key of the grader's
    draws (by its digest: grader/draws.py)."""
    return {
        **grading_machine(), "data_sha256": data_sha256, "half": half, "exercises": list(exercise_ids),
        "draw_key_sha256": hashlib.sha256(draw_key.encode()).hexdigest(),
    }


def grading_key(exercise_ids: Iterable[str], data_sha256: str, half: str, draw_key: str = "public") -> str:
    """sha256 of `decides_grade`: a batch report is current only while this is unchanged."""
    return hashlib.sha256(json.dumps(decides_grade(exercise_ids, data_sha256, half, draw_key), sort_keys=True).encode()).hexdigest()
