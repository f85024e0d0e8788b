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
# cache is keyed on everything that decides the result (grader/training/trainer.py);
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


# ---------------------------------------------------------------- the `trains` marker
# `python -m pytest -m "not trains"` is the development loop: everything that
# trains no model and executes no lesson. A test that trains (its own process or
# any Python process it starts: graders, nbgrader's kernels, a cluster's
# workers; what counts is in trains_guard/trainings.py) is marked
# @pytest.mark.trains, and one that is not marked fails when it starts a training.

GUARD = Path(__file__).resolve().parent / "trains_guard"
sys.path.insert(0, str(GUARD))
import trainings  # noqa: E402  (this folder's, not the grader's)

sys.path.remove(str(GUARD))
trainings.install()  # in this process; each wrapper logs only while a test not marked `trains` runs
_GUARD_LOGS = Path(tempfile.mkdtemp(prefix="mnist-course-trains-guard-"))
atexit.register(shutil.rmtree, _GUARD_LOGS, ignore_errors=True)


def _guarded(item, phase):
    """Run one phase of `item`; if it is not marked `trains`, fail it when it started a training."""
    if item.get_closest_marker("trains") is not None:
        return (yield)
    log = _GUARD_LOGS / f"{abs(hash(item.nodeid))}-{phase}.log"
    saved = {name: os.environ.get(name) for name in (trainings.LOG, "PYTHONPATH")}
    os.environ[trainings.LOG] = str(log)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUARD), saved["PYTHONPATH"]]))
    try:
        return (yield)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        started = log.read_text(encoding="utf-8").splitlines() if log.is_file() else []
        if started:
            pytest.fail(
                f"{item.nodeid} is not marked `trains` but its {phase} trained: {started[0]}"
                f"{f' (and {len(started) - 1} more)' if len(started) > 1 else ''}. "
                "Mark it @pytest.mark.trains (tests/conftest.py), or keep it from training.",
                pytrace=False,
            )


# ---------------------------------------------------------------- where the time goes
# CPU seconds, not only wall: on a shared machine the wall clock measures the
# neighbours, CPU seconds measure the suite. By default they are this process's
# and every child's it waited for, which misses a sandboxed worker that ends
# with its PID namespace (ex03b's sweep: 1 CPU s counted of 32). Exact: run the
# suite alone in a cgroup and name it in $MNIST_COURSE_CPU_CGROUP (a v1
# cpuacct folder or a v2 one), whose counter takes every process in it. A
# session-scoped fixture is counted in the setup of its first test. The slowest
# parts are listed at the end of every run; with $MNIST_COURSE_TIMINGS naming a
# file, every phase of every test is appended to it as a JSON line.

_TIMINGS: list[tuple[float, float, str]] = []


def _cpu_seconds() -> float:
    import resource

    cgroup = os.environ.get("MNIST_COURSE_CPU_CGROUP")
    if cgroup:
        v1, v2 = Path(cgroup) / "cpuacct.usage", Path(cgroup) / "cpu.stat"
        if v1.is_file():
            return int(v1.read_text()) / 1e9
        return int(next(line.split()[1] for line in v2.read_text().splitlines() if line.startswith("usage_usec "))) / 1e6
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(item, phase):
    import time

    wall, cpu = time.perf_counter(), _cpu_seconds()
    try:
        return (yield from _guarded(item, phase))
    finally:
        _record(item, phase, time.perf_counter() - wall, _cpu_seconds() - cpu)


def _record(item, phase, wall, cpu):
    import json

    _TIMINGS.append((cpu, wall, f"{phase} {item.nodeid}"))
    log = os.environ.get("MNIST_COURSE_TIMINGS")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"test": item.nodeid, "phase": phase, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2), "load": round(os.getloadavg()[0], 1)}) + "\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _timed(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _timed(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    return (yield from _timed(item, "teardown"))


def pytest_terminal_summary(terminalreporter):
    if not _TIMINGS:
        return
    total = sum(cpu for cpu, _, _ in _TIMINGS)
    counted = "the cgroup's" if os.environ.get("MNIST_COURSE_CPU_CGROUP") else "waited-for processes only"
    terminalreporter.write_sep("=", f"slowest parts by CPU seconds (whole run: {total:.0f} CPU s; {counted})")
    for cpu, wall, name in sorted(_TIMINGS, reverse=True)[:25]:
        if cpu < 1:
            break
        terminalreporter.write_line(f"{cpu:8.1f} CPU s {wall:8.1f} s wall  {name}")
