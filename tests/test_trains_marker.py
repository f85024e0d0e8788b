"""The `trains` marker is honest: a test that trains a model or executes a lesson
without the mark fails (tests/conftest.py, tests/trains_guard/), so
`python -m pytest -m "not trains"` really trains nothing. Proven both ways,
without training: the probe below only enters the grader's trainer, in a child
process, with a request that cannot run."""

import os
import subprocess
import sys
import types

import pytest

from mnist_course.course import ROOT

# A child Python enters the grader's trainer in "train" mode; the call itself fails at once (no Trainer).
ENTER_TRAINER = "from grader.training.trainer import Trainer\ntry:\n    Trainer._run(None, {'mode': MODE}, 0, {})\nexcept Exception:\n    pass\n"


def _child(mode: str) -> None:
    subprocess.run([sys.executable, "-c", f"MODE = {mode!r}\n{ENTER_TRAINER}"], cwd=ROOT, check=True, timeout=120)


def test_probe_unmarked():
    if not os.environ.get("MNIST_COURSE_GUARD_PROBE"):
        pytest.skip("run by test_a_test_that_trains_without_the_mark_fails")
    _child(os.environ["MNIST_COURSE_GUARD_PROBE"])


@pytest.mark.trains
def test_probe_marked():
    if not os.environ.get("MNIST_COURSE_GUARD_PROBE"):
        pytest.skip("run by test_a_test_that_trains_without_the_mark_fails")
    _child(os.environ["MNIST_COURSE_GUARD_PROBE"])


def _probe(test: str, mode: str) -> subprocess.CompletedProcess:
    """A pytest of its own runs one probe (its guard's log, not this test's)."""
    import trainings

    env = {name: value for name, value in os.environ.items() if name != trainings.LOG}
    return subprocess.run(
        [sys.executable, "-m", "pytest", f"{__file__}::{test}", "-q", "-p", "no:randomly"],
        cwd=ROOT, env={**env, "MNIST_COURSE_GUARD_PROBE": mode}, capture_output=True, text=True, timeout=300,
    )


def test_a_test_that_trains_without_the_mark_fails():
    unmarked = _probe("test_probe_unmarked", "train")
    assert unmarked.returncode == 1, unmarked.stdout[-3000:]
    assert "is not marked `trains` but its call trained: the grader's trainer trained a declaration" in unmarked.stdout
    marked = _probe("test_probe_marked", "train")
    assert marked.returncode == 0, marked.stdout[-3000:]
    inspected = _probe("test_probe_unmarked", "inspect")  # building and inspecting a model is not training
    assert inspected.returncode == 0, inspected.stdout[-3000:]


def test_a_student_function_that_trains_counts_only_when_it_returned(tmp_path, monkeypatch):
    import trainings

    log = tmp_path / "log"
    monkeypatch.setenv(trainings.LOG, str(log))
    statuses = iter(["raised", "returned", "returned"])

    class Student:
        filename = "ex03b_experiment.py"

        def call(self, function, *args, **kwargs):
            return types.SimpleNamespace(outcome=types.SimpleNamespace(status=next(statuses)))

    module = types.SimpleNamespace(Student=Student)
    trainings._patch_student(module)
    module.Student().call("run_sweep")  # a stub or a crash: no training came back
    assert not log.exists()
    module.Student().call("choose_width")  # returned, but trains nothing
    assert not log.exists()
    module.Student().call("validation_accuracy")
    assert "ex03b validation_accuracy() trained and returned" in log.read_text()


class _Item:
    nodeid = "tests/test_example.py::test_example"

    def __init__(self, unit: bool):
        self.unit = unit

    def get_closest_marker(self, name):
        return object() if name == "unit" and self.unit else None


def test_a_unit_test_that_starts_a_process_fails_and_another_may():
    """The `unit` mark is honest (conftest.py's guard), proven both ways: under the mark a process
    fails the test, naming it; without the mark the same process runs."""
    import conftest

    with pytest.raises(RuntimeError, match="is marked `unit` but its call started a process"):
        with conftest._no_process(_Item(unit=True), "call"):
            subprocess.run(["true"], check=True)
    with conftest._no_process(_Item(unit=False), "call"):
        assert subprocess.run(["true"], check=True).returncode == 0
