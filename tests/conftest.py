"""Shared setup for the course's own test suite.

The tests read real MNIST from ../shared/data/mnist-22k.npz (beside the
repository, never committed) unless MNIST_COURSE_DATA points elsewhere.
"""

import atexit
import contextlib
import os
import platform
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

# Every grading of this run is on each exercise's default variant (the one solutions/ answers and the
# corpora were written for), whatever a class folder is named, unless a test chooses otherwise: the tests
# of variants and of the routes that carry a student's identity (tests/test_variants*.py) unset or change it.
from mnist_course.course import load_course as _load_course  # noqa: E402

os.environ["MNIST_COURSE_VARIANTS"] = ",".join(f"{ex.id}={ex.variants[0].key}" for ex in _load_course().exercises if ex.variants)


@pytest.fixture(autouse=True)
def _private_state(tmp_path, monkeypatch):
    """The grader's hint and progress state goes to a temporary file, never the developer's."""
    monkeypatch.setenv("MNIST_COURSE_STATE", str(tmp_path / "state.json"))


def _run_grader(*args, cwd=ROOT, timeout=2400, env=None):
    """`env`: variables to set for this run on top of the test run's own. `timeout`: the test's own
    safety clock, generous (every solution graded takes about 12 minutes on CI's two busy cores)."""
    return subprocess.run(
        [sys.executable, "-m", "grader", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
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


# ---------------------------------------------------------------- three workers (pytest-xdist)
# pyproject.toml's addopts run the suite on three pytest-xdist workers (`-n 3
# --dist loadscope`, scheduled by the groups below): most of the work is one process at a time
# and many tests wait on a limit or a clock, so one pytest leaves the second core of a 2-core
# machine mostly idle, and a third worker runs while another waits. `-n 0` runs it in one
# process, as before. A fixture wider than a test is computed once per worker
# that uses it, so tests that share one go to the same worker as one group:
# those of a file that share a module-scoped fixture (a corpus graded as a
# class, the nbgrader course, a site), joined through any test that uses two;
# and, across files, those that share a session-scoped fixture that makes a
# folder (the lesson cache of test_lessons.py and test_site.py). The other
# tests go one by one to whichever worker is free. Groups start heaviest first
# (WEIGHTS, then size) so that no long group is left to start at the end: only
# the order depends on the weights, never a verdict. Trainings are shared across
# the workers by the run's on-disk training cache: a worker that needs a
# model another is training waits on the key's lock and reads its result
# (grader/training/trainer.py).

# Wall seconds of the slowest fixtures and tests in a fresh-clone run on three
# workers (2 quiet cores, 2026-11-27), by "file::fixture or test function"; a
# parametrized test's weight is its slowest case's. Every unit not named here
# weighs 0 and keeps collection order, so a slow test missing from this table
# starts late and the run ends waiting for it (in that run, the ex05 constraint
# test, last in collection order among the slow ones, still ran in its last five minutes).
WEIGHTS = {
    "test_nbgrader.py::grades": 1439,
    "test_mutations.py::graded": 1265,
    "test_model_mutations.py::graded": 916,
    "test_grading.py::solutions_run": 734,
    "test_mutations.py::graded_experiment": 525,
    "test_mutations.py::graded_backprop": 523,
    "test_variant_routes.py::test_every_variants_reference_earns_every_point_and_the_stub_none": 439,
    "test_alternatives.py::model_alternatives": 432,
    "test_by_hand_cache.py::test_a_class_shares_an_identical_ex02b_file_s_training_and_a_regrade_reads_it": 346,
    "test_variant_routes.py::test_each_constraint_of_ex05_grades_its_own_reference_in_full_and_tells_a_classmates_model_why_it_falls_short": 283,
    "test_by_hand.py::graded": 222,
    "test_hostile.py::graded_corpus": 155,
    "test_fairness.py::test_the_heaviest_reference_keeps_full_points_and_the_same_accuracy_on_one_busy_core": 153,
    "test_variant_routes.py::test_each_budget_of_ex03_grades_its_own_reference_in_full_and_tells_a_classmates_model_why_it_falls_short": 146,
    "test_alternatives.py::backprop_alternatives": 142,
    "test_alternatives.py::test_correct_code_written_differently_keeps_full_points": 132,
    "test_integrity.py::test_mnist_weights_that_train_s_own_steps_do_not_reach_earn_nothing": 131,
    "test_cluster.py::test_a_class_on_a_dask_cluster_survives_a_killed_worker": 120,
    "test_serve.py::trained_model": 120,
    "test_capacity.py::test_a_fork_bomb_beside_a_classmate_harms_only_itself": 118,
    "test_variant_routes.py::test_each_variant_of_ex02_grades_its_own_reference_in_full_and_tells_a_classmates_model_why_it_falls_short": 117,
    "test_capacity.py::test_a_disk_filler_beside_a_classmate_harms_only_itself": 116,
    "test_cluster_capacity.py::test_a_disk_filler_on_the_cluster_harms_only_itself": 102,
    "test_cluster_capacity.py::test_a_fork_bomb_on_the_cluster_harms_only_itself": 100,
    "test_integrity.py::test_a_replay_starts_where_init_params_started_before_train_ran": 90,
    "test_integrity.py::test_an_inert_unit_of_enormous_weights_widens_no_tolerance": 85,
    "test_nbgrader.py::test_a_safety_clock_in_a_test_cell_is_not_graded_and_keeps_the_checks_that_passed": 82,
}


def _module_fixtures(item) -> list[str]:
    """The module-scoped fixtures defined in `item`'s file."""
    found = []
    for name in vars(getattr(item, "module", None) or object()):
        definitions = item.session._fixturemanager.getfixturedefs(name, item) or ()
        if any(d.scope == "module" and d.baseid == item.nodeid.split("::", 1)[0] for d in definitions):
            found.append(f"{item.path.name}::{name}")
    return found


def _shared_fixtures(item) -> list[str]:
    """The fixtures wider than a test that `item` asks for by name: "file::name", "session::name"."""
    shared = []
    for name in item.fixturenames:
        definitions = item._fixtureinfo.name2fixturedefs.get(name)
        if not definitions:
            continue
        definition = definitions[-1]
        if not definition.baseid:  # the grader plugin's own (its autouse _written_answers): nothing a test shares
            continue
        if definition.scope in ("module", "package", "class"):
            shared.append(f"{item.path.name}::{name}")
        elif definition.scope == "session" and "tmp_path_factory" in definition.argnames:
            shared.append(f"session::{name}")
    return shared


def _groups(items) -> dict[int, str]:
    """{index of an item: its group's name} for the items that share a fixture (union-find).
    A test that asks for `request` may call request.getfixturevalue(): it shares every
    module-scoped fixture of its file that no test asks for by name."""
    parent: dict[str, str] = {}

    def root(name):
        while parent.setdefault(name, name) != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    shared = [_shared_fixtures(item) for item in items]
    by_name = {name for names in shared for name in names}
    for item, names in zip(items, shared):
        if "request" in item._fixtureinfo.argnames:
            names += [name for name in _module_fixtures(item) if name not in by_name]
    for names in shared:
        for name in names:
            parent[root(name)] = root(names[0])
    members: dict[str, list[str]] = {}
    for name in list(parent):
        members.setdefault(root(name), []).append(name)
    # a group is named for its fixtures: "test_mutations.py::graded", "session::lesson_cache+test_site.py::site"
    title = {top: "+".join(sorted(names)) for top, names in members.items()}
    return {index: title[root(names[0])] for index, names in enumerate(shared) if names}


def _weight(items, group) -> float:
    names = {f"{item.path.name}::{item.originalname}" for item in items} | set(group.split("+"))
    return sum(WEIGHTS.get(name, 0) for name in names)


GROUPS_ENV = "MNIST_COURSE_XDIST_GROUPS"  # the file where the workers write {test: group} for the controller's scheduler


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """In a pytest-xdist worker: the groups, written for the controller, and the order, heaviest first."""
    import json

    path = os.environ.get(GROUPS_ENV)
    if not hasattr(config, "workerinput") or not path:
        return
    groups = _groups(items)
    units: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        units.setdefault(groups.get(index, item.nodeid), []).append(index)
    # both workers collect the same tests and write the same file
    temp = Path(f"{path}.{os.getpid()}")
    temp.write_text(json.dumps({items[index].nodeid: group for index, group in groups.items()}), encoding="utf-8")
    os.replace(temp, path)
    # heaviest first, then the biggest (with --no-loadscope-reorder xdist keeps this order); stable otherwise
    order = sorted(units, key=lambda unit: (-_weight([items[i] for i in units[unit]], unit), -len(units[unit])))
    items[:] = [items[index] for unit in order for index in units[unit]]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """In the controller: `--dist loadscope`, by the groups above instead of by file. (xdist's own
    `--dist loadgroup` marks a group in the test's id, which pytest 9.2's ids no longer take.)"""
    import json

    if config.getvalue("dist") != "loadscope" or not os.environ.get(GROUPS_ENV):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                try:
                    self.groups = json.loads(Path(os.environ[GROUPS_ENV]).read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    self.groups = {}
            if not self.groups:  # no worker wrote them: by file, as loadscope does
                return super()._split_scope(nodeid)
            return self.groups.get(nodeid, nodeid)

    return SharedFixtureScheduling(config, log)


# ---------------------------------------------------------------- where the time goes
# CPU seconds, not only wall: on a shared machine the wall clock measures the
# neighbours, CPU seconds measure the suite. By default they are this process's
# and every child's it waited for, which misses a sandboxed worker that ends
# with its PID namespace (ex03b's sweep: 1 CPU s counted of 32). Exact: run the
# suite alone in a cgroup and name it in $MNIST_COURSE_CPU_CGROUP (a v1
# cpuacct folder or a v2 one), whose counter takes every process in it; each
# pytest-xdist worker moves itself into a cgroup of its own inside it
# (`gw0`, `gw1`), so that a test is charged its own worker's CPU only. A
# session-scoped fixture is counted in the setup of its first test. The slowest
# parts are listed at the end of every run (the workers send theirs to the
# controller); with $MNIST_COURSE_TIMINGS naming a file, every phase of every
# test is appended to it as a JSON line (by every worker: one file is fine).

_TIMINGS: list[tuple[float, float, str]] = []
_COUNTED: list[str] = ["waited-for processes only"]


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="write tests/golden/ again from this run's reports (review the diff)")


def pytest_configure(config):
    worker = getattr(config, "workerinput", {}).get("workerid")
    if not worker and config.getoption("numprocesses", None):  # the controller of a pytest-xdist run
        folder = tempfile.mkdtemp(prefix="mnist-course-xdist-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ[GROUPS_ENV] = str(Path(folder) / "groups.json")
    else:  # a process that runs tests: matplotlib's font cache is built before any of them (on a fresh
        # machine its first load runs `fc-list`, a process a `unit` test would be failed for starting)
        import matplotlib.font_manager  # noqa: F401
    cgroup = os.environ.get("MNIST_COURSE_CPU_CGROUP")
    if cgroup:
        _COUNTED[0] = "the cgroup's"
    if worker and cgroup:
        own = Path(cgroup) / worker
        try:
            own.mkdir(exist_ok=True)
            (own / "cgroup.procs").write_text(str(os.getpid()))
        except OSError as exc:  # a v2 folder with controllers enabled below it takes no process: count as without
            os.environ.pop("MNIST_COURSE_CPU_CGROUP")
            _COUNTED[0] = f"waited-for processes only: no cgroup of its own for worker {worker} ({exc.strerror})"
        else:
            os.environ["MNIST_COURSE_CPU_CGROUP"] = str(own)
            _COUNTED[0] = "each worker's own cgroup"


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


# ---------------------------------------------------------------- the `unit` marker
# `python -m pytest -m unit` is the sub-minute loop: tests that start no process at all (no
# worker, no child grader, no training, no browser, no cluster). A test marked `unit` that
# starts one fails, naming what it ran, so the mark stays honest. The mark comes from the list
# tests/unit_tests.txt; MNIST_COURSE_UNIT_PROBE=1 applies the guard to every test, and those that
# pass under it (pytest -rA) are the ones the list may name.


UNIT_TESTS = Path(__file__).with_name("unit_tests.txt")


_LISTED = {line.strip() for line in UNIT_TESTS.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")}


def pytest_itemcollected(item):
    """Mark `unit` the tests unit_tests.txt names (a test function: all its parameters), before `-m` selects."""
    if item.nodeid.split("[", 1)[0] in _LISTED:
        item.add_marker(pytest.mark.unit)


# Asked once here, before any test: TensorFlow's import asks for the processor's name, which
# Python finds by starting `uname -p` and then caches. Asked first inside a `unit` test (one
# process, -n 0), that start would fail it.
platform.processor()


@contextlib.contextmanager
def _no_process(item, phase):
    """Around one phase of `item`: if it is marked `unit` (or under the probe), any process it starts fails it."""
    if item.get_closest_marker("unit") is None and not os.environ.get("MNIST_COURSE_UNIT_PROBE"):
        yield
        return
    import _posixsubprocess

    def refuse(*args, **kwargs):
        raise RuntimeError(f"{item.nodeid} is marked `unit` but its {phase} started a process ({str(args)[:200]}). "
                           "Take the mark off (tests/conftest.py), or keep the test from starting processes.")

    # every way Python starts one: subprocess, multiprocessing (fork_exec), os.fork, os.posix_spawn
    places = [(subprocess.Popen, "_execute_child"), (_posixsubprocess, "fork_exec"), (os, "fork"), (os, "posix_spawn")]
    saved = [(owner, name, getattr(owner, name)) for owner, name in places if hasattr(owner, name)]
    for owner, name, _ in saved:
        setattr(owner, name, refuse)
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def _timed(item, phase):
    import time

    wall, cpu = time.perf_counter(), _cpu_seconds()
    try:
        with _no_process(item, phase):
            return (yield from _guarded(item, phase))
    finally:
        _record(item, phase, time.perf_counter() - wall, _cpu_seconds() - cpu)


def _record(item, phase, wall, cpu):
    import json

    _TIMINGS.append((cpu, wall, f"{phase} {item.nodeid}"))
    log = os.environ.get("MNIST_COURSE_TIMINGS")
    if log:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"test": item.nodeid, "phase": phase, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
                                     "load": round(os.getloadavg()[0], 1), "worker": worker}) + "\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _timed(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _timed(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    return (yield from _timed(item, "teardown"))


def pytest_sessionfinish(session):
    """In a pytest-xdist worker: its timings go to the controller, which prints them."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["mnist_course_timings"] = _TIMINGS
        session.config.workeroutput["mnist_course_counted"] = _COUNTED[0]
        session.config.workeroutput["mnist_course_worker"] = session.config.workerinput["workerid"]


_FROM_WORKERS: set[str] = set()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """In the controller of a pytest-xdist run: a worker's timings join the run's."""
    output = getattr(node, "workeroutput", None) or {}
    _TIMINGS.extend(tuple(entry) for entry in output.get("mnist_course_timings", ()))
    if "mnist_course_counted" in output:
        _FROM_WORKERS.add(output["mnist_course_counted"])
    if os.environ.get("MNIST_COURSE_CPU_CGROUP") and output.get("mnist_course_worker"):
        _WORKER_CGROUPS.append(Path(os.environ["MNIST_COURSE_CPU_CGROUP"]) / output["mnist_course_worker"])


_WORKER_CGROUPS: list[Path] = []


def pytest_unconfigure(config):
    """The controller removes the workers' own cgroups once their processes are gone (their CPU stays counted in the parent)."""
    import time

    for folder in _WORKER_CGROUPS:
        for _ in range(50):
            try:
                folder.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


def pytest_terminal_summary(terminalreporter):
    if not _TIMINGS:
        return
    total = sum(cpu for cpu, _, _ in _TIMINGS)
    counted = "; ".join(sorted(_FROM_WORKERS)) if _FROM_WORKERS else _COUNTED[0]
    if _FROM_WORKERS:
        counted = f"summed over the xdist workers, {counted}"
    terminalreporter.write_sep("=", f"slowest parts by CPU seconds (whole run: {total:.0f} CPU s; {counted})")
    for cpu, wall, name in sorted(_TIMINGS, reverse=True)[:25]:
        if cpu < 1:
            break
        terminalreporter.write_line(f"{cpu:8.1f} CPU s {wall:8.1f} s wall  {name}")
