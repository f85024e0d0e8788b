"""Shared setup for the course's own test suite.

The tests read real MNIST from ../shared/data/mnist-22k.npz (beside the
repository, never committed) unless MNIST_COURSE_DATA points elsewhere.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
SHARED_NPZ = SHARED_DATA / "mnist-22k.npz"

if not os.environ.get("MNIST_COURSE_DATA") and SHARED_NPZ.is_file():
    os.environ["MNIST_COURSE_DATA"] = str(SHARED_NPZ)


@pytest.fixture(autouse=True)
def _private_state(tmp_path, monkeypatch):
    """The grader's hint and progress state goes to a temporary file, never the developer's."""
    monkeypatch.setenv("MNIST_COURSE_STATE", str(tmp_path / "state.json"))


def _run_grader(*args, cwd=ROOT, timeout=300):
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
def mnist_path():
    path = os.environ.get("MNIST_COURSE_DATA")
    if not path:
        pytest.skip("no MNIST data: set MNIST_COURSE_DATA or put the shared data beside the repository")
    return path
