"""Shared setup for the course's own test suite.

The tests read real MNIST from ../shared/data/mnist-22k.npz (beside the
repository, never committed) unless MNIST_COURSE_DATA points elsewhere.
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SHARED_NPZ = SHARED_DATA / "mnist-22k.npz"

if not os.environ.get("MNIST_COURSE_DATA") and SHARED_NPZ.is_file():
    os.environ["MNIST_COURSE_DATA"] = str(SHARED_NPZ)

# Every grader process of this run shares one training cache, so each
# reference model is trained once per run however many tests grade it. The
# cache is keyed on everything that decides the result (grader/training.py);
# it starts empty, so every run trains afresh.
if not os.environ.get("MNIST_COURSE_TRAINING_CACHE"):
    _cache = tempfile.mkdtemp(prefix="mnist-course-training-cache-")
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
    os.environ["MNIST_COURSE_TRAINING_CACHE"] = _cache


@pytest.fixture(autouse=True)
def _private_state(tmp_path, monkeypatch):
    """The grader's hint and progress state goes to a temporary file, never the developer's."""
    monkeypatch.setenv("MNIST_COURSE_STATE", str(tmp_path / "state.json"))


def _run_grader(*args, cwd=ROOT, timeout=1200):
    return subprocess.run(
        [sys.executable, "-m", "grader", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def run_grader():
    """Run the grader CLI as a student or instructor would, in its own process."""
    return _run_grader


@pytest.fixture(scope="session")
def lesson_cache(tmp_path_factory):
    """Executed lessons, shared by test_lessons.py and test_site.py: each lesson runs once per test run."""
    return tmp_path_factory.mktemp("lesson-cache")


@pytest.fixture(scope="session")
def mnist_path():
    path = os.environ.get("MNIST_COURSE_DATA")
    if not path:
        pytest.skip("no MNIST data: set MNIST_COURSE_DATA or put the shared data beside the repository")
    return path
