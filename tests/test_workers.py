"""The suite's two pytest-xdist workers compute no shared fixture twice
(tests/conftest.py): tests that share a module-scoped fixture, or the lesson
cache across files, are one group, which runs on one worker; the rest go one
by one. Proven on the real collection, as a worker collects it: the groups
the conftest writes for the controller's scheduler, and the order it runs in."""

import json
import os
import subprocess
import sys

from mnist_course.course import ROOT

# Collects as a pytest-xdist worker does (config.workerinput set), without starting one.
AS_A_WORKER = """
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.workerinput = {"workerid": "gw9"}

def pytest_collection_finish(session):
    import json
    print("ORDER " + json.dumps([item.nodeid for item in session.items]))
"""


def _collected(tmp_path, *files):
    (tmp_path / "as_a_worker.py").write_text(AS_A_WORKER)
    groups = tmp_path / "groups.json"
    env = {**{k: v for k, v in os.environ.items() if k != "MNIST_COURSE_CPU_CGROUP"},  # no worker cgroup for a pretend worker
           "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
           "MNIST_COURSE_XDIST_GROUPS": str(groups)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *files, "--collect-only", "-q", "-n", "0", "-p", "as_a_worker"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    order = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("ORDER "))[len("ORDER "):])
    return json.loads(groups.read_text()), order


def test_tests_that_share_a_costly_fixture_are_one_group_and_the_heaviest_go_first(tmp_path):
    groups, order = _collected(tmp_path, "tests/test_mutations.py", "tests/test_alternatives.py", "tests/test_lessons.py", "tests/test_site.py")

    def group_of(prefix):
        return {groups.get(nodeid) for nodeid in order if nodeid.startswith(prefix)}

    # the function mistakes and the ones that train name their class: two groups, free to run on two workers
    mistakes = group_of("tests/test_mutations.py::test_a_mistake_fails_exactly")
    assert mistakes == {"test_mutations.py::graded"}
    assert group_of("tests/test_mutations.py::test_breaking_a_sentence") == mistakes
    assert group_of("tests/test_mutations.py::test_a_mistake_that_trains") == {"test_mutations.py::graded_experiment"}
    # a test that asks for `request` may reach, through request.getfixturevalue(), any module fixture no test
    # names: all of them are one group
    assert group_of("tests/test_alternatives.py::test_correct_code_written_differently") == {
        "test_alternatives.py::experiment_alternatives+test_alternatives.py::function_alternatives"}
    # the backprop corpus is another fixture: another group, free to run on another worker
    assert group_of("tests/test_mutations.py::test_a_backprop_mistake") == {"test_mutations.py::graded_backprop"}
    # the lessons and the site share the lesson cache across two files
    lessons = group_of("tests/test_lessons.py::test_lesson_executes")
    assert len(lessons) == 1 and "session::lesson_cache" in next(iter(lessons))
    assert group_of("tests/test_site.py::test_a_rebuild_after_a_one_line_change") == lessons
    # a test that shares nothing is in no group
    assert group_of("tests/test_mutations.py::test_the_corpus_covers_every_check") == {None}
    # the heaviest group (WEIGHTS) first, each group's tests together
    assert groups[order[0]] == "test_mutations.py::graded"
    units = [groups.get(nodeid, nodeid) for nodeid in order]
    for unit in set(units):
        where = [index for index, name in enumerate(units) if name == unit]
        assert where == list(range(where[0], where[-1] + 1)), unit
