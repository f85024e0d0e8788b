"""The graders' pytest plugin: options, fixtures and scoring hooks.

grader/pytest.ini loads it with `-p grader.plugin` (and `--noconftest`, so no
conftest.py anywhere, a student's included, is ever loaded). `pytest grader`
grades exercises/ with it; `--target solutions` (or any folder,
or $MNIST_COURSE_TARGET) grades another folder; `--data PATH` (or
$MNIST_COURSE_DATA) picks the MNIST file. A failed check shows only its
teaching message, never a traceback into the grader.

The run's settings (settings.py) are resolved once, in `pytest_configure`:
the `RunSettings` the `grader` command registered with the run, or else
from these options and the environment. Checks read them from the
`settings` fixture, never from the environment.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import sys
import time
from datetime import datetime

import pytest

from grader.feedback import Feedback
from grader.training.model_checks import ModelSubmission
from grader.reports import written
from grader.reports.report import Reporter, data_summary, render_table
from grader import draws, scoring
from grader.scoring import CheckRun
from grader.session import GRADER_DIR, is_stub_folder, load_data, resolve_target
from grader.settings import RunSettings, SettingsError
from grader.isolation.student import Student
from mnist_course.course import Exercise, load_course


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mnist-course grader")
    group.addoption("--target", default=None, help="folder to grade: exercises (default), solutions, or a path")
    group.addoption("--data", default=None, help="MNIST .npz file or IDX folder (default: $MNIST_COURSE_DATA, then Keras)")


STARTED = pytest.StashKey[tuple]()
SETTINGS = pytest.StashKey[RunSettings]()
REPORTER = pytest.StashKey[Reporter]()
CHECK_RUN = pytest.StashKey[CheckRun]()
OUTCOMES = pytest.StashKey[dict]()  # (exercise id, check) -> None (passed) or what it raised, for declared dependencies


def pytest_configure(config: pytest.Config) -> None:
    config.stash[STARTED] = (datetime.now(), time.perf_counter())
    given = [p for p in config.pluginmanager.get_plugins() if isinstance(p, RunSettings)]
    if given:  # `grader` resolved them from its command line
        config.stash[SETTINGS] = given[0]
    else:  # `pytest grader`
        try:
            config.stash[SETTINGS] = RunSettings.resolve(target=config.getoption("--target"), data=config.getoption("--data"))
        except SettingsError as exc:
            raise pytest.UsageError(str(exc)) from None
    reporters = [p for p in config.pluginmanager.get_plugins() if isinstance(p, Reporter)]
    config.stash[REPORTER] = reporters[0] if reporters else Reporter()  # `grader` made it; else this run's own
    config.stash[OUTCOMES] = {}
    # A failed check is told by its teaching message (report.py), never by pytest's traceback; pytest's
    # default (long) style reads and parses the source of every frame of every failure, which was two
    # thirds of the CPU of grading an exercise not yet started. The plain Python style costs almost
    # nothing; an explicit --tb on the command line of `pytest grader` still wins.
    if config.getoption("tbstyle", "auto") == "auto":
        config.option.tbstyle = "native"


def _exercise_of(test_module) -> Exercise:
    """grader/checks/<module>.py grades the exercise whose module is <module>."""
    return load_course().exercise_of_module(test_module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))


def run_settings(config: pytest.Config) -> RunSettings:
    return config.stash[SETTINGS]


@pytest.fixture(scope="session")
def settings(pytestconfig) -> RunSettings:
    """The run's settings (the half of the test set, the data, the training cache...)."""
    return run_settings(pytestconfig)


@pytest.fixture(scope="session")
def target_dir(settings):
    return resolve_target(settings.target)


@pytest.fixture(scope="session")
def mnist(settings):
    return load_data(settings.data, settings.full_data)


@pytest.fixture(scope="module")
def student(request, target_dir):
    student = Student(_exercise_of(request.module), target_dir, is_stub=is_stub_folder(target_dir))
    yield student
    student.close()


@pytest.fixture(scope="module", autouse=True)
def _written_answers(request):
    """A check module's exercise's written answers (answers() in the file, never scored), read before
    its checks (the worker is started for them anyway: a model exercise's is stopped to train later)
    and handed to the run's Reporter (reports/written.py). Nothing for the course's own tests."""
    if request.path.parent == GRADER_DIR / "checks" and _exercise_of(request.module).questions:
        student = request.getfixturevalue("student")
        request.config.stash[REPORTER].written[student.exercise.id] = written.collect(student)
    yield


@pytest.fixture(scope="module")
def variant(request, settings):
    """The variant this run grades the module's exercise on (grader/variants.py): its `params`
    are what the checks and references compute; None where the exercise has no variants."""
    return settings.variant_of(_exercise_of(request.module))


@pytest.fixture(scope="module")
def submission(student, mnist, settings, training_progress):
    """A model exercise's submission, checked step by step (grader/training/model_checks.py)."""
    return ModelSubmission(student, mnist, settings, progress=training_progress)


@pytest.fixture(scope="session")
def training_progress(pytestconfig):
    """Show the grader's training of a model, a line per epoch, past pytest's capture."""
    capman = pytestconfig.pluginmanager.getplugin("capturemanager")

    def show(exercise_id: str, line: dict) -> None:
        metrics = " · ".join(f"{k} {line[k]:.4f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in line)
        text = f"  {exercise_id} training: epoch {line.get('epoch')}/{line.get('epochs')} · {metrics} · {line.get('seconds', 0):.0f} s"
        start = "\n" if line.get("epoch") == 1 else ""  # off the line of progress dots
        with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
            sys.stderr.write(start + text + "\n")
            sys.stderr.flush()

    return show


def _check_run(item: pytest.Item) -> CheckRun:
    """The CheckRun of a check: made once, when the check (or its row) first needs it."""
    if CHECK_RUN not in item.stash:
        exercise, name = _exercise_of(item.module), item.originalname.removeprefix("test_")
        item.stash[CHECK_RUN] = item.config.stash[REPORTER].start(exercise, name, *scoring.declared_names(item.obj))
    return item.stash[CHECK_RUN]


@pytest.fixture
def check(request) -> CheckRun:
    """This check's run: its points, and where it records what it measured (scoring.CheckRun)."""
    return _check_run(request.node)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """A check of a file that could not be imported fails with that one cause, before its body
    computes any reference (an exercise a student left out costs a class's grading nothing). A check
    with a declared dependency (scoring.depends_on) first hears what its dependency's outcome in
    this run says; an unselected dependency runs here (`-k`)."""
    if pyfuncitem.path.parent != GRADER_DIR / "checks":
        return None
    student = pyfuncitem.funcargs.get("student")
    if isinstance(student, Student) and (problem := student.import_problem or student.file_problem()) is not None:
        raise problem  # what every call of the file would raise: the report points each check to it
    exercise = _exercise_of(pyfuncitem.module)
    outcomes = pyfuncitem.config.stash[OUTCOMES]

    def run_it(dependency) -> None:
        request = pyfuncitem._request
        dependency(**{name: pyfuncitem.funcargs[name] if name in pyfuncitem.funcargs else request.getfixturevalue(name) for name in inspect.signature(dependency).parameters})

    scoring.dependency_verdict(pyfuncitem.obj, lambda name: outcomes.get((exercise.id, name), scoring.NOT_RUN), run_it)
    return None  # pytest calls the check itself


@pytest.hookimpl(tryfirst=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_of_a_taught_failure(item: pytest.Item, call: pytest.CallInfo):
    """A check that failed with a teaching message (a Feedback) is reported without pytest's
    traceback of it, which nobody reads (the wrapper below puts the message in its place).
    Formatting one filters and parses every frame of the failure: in a class's folder that holds
    one exercise of eleven, a third of the grading's CPU went to the absent ones' tracebacks.
    The grader's own errors keep their traceback, for a maintainer running `pytest grader`. (pytest
    registers only functions named pytest_*, hence this one's name and its specname.)"""
    if item.path.parent != GRADER_DIR / "checks" or call.excinfo is None or not isinstance(call.excinfo.value, Feedback):
        return None
    untold = copy.copy(call)
    untold.excinfo = None  # pytest's report of the call, all but the failure's traceback
    report = pytest.TestReport.from_item_and_call(item, untold)
    report.outcome, report.longrepr = "failed", str(call.excinfo.value)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if item.path.parent != GRADER_DIR / "checks":  # the course's own tests/, not a check
        return report
    # One row per check: from the call phase, or from setup when a fixture failed.
    if report.when == "call" or (report.when == "setup" and not report.passed):
        # Did the submission's code hit its own worker's limits? (said on a row the grader could not finish)
        student = getattr(item, "funcargs", {}).get("student")
        limits = getattr(getattr(student, "worker", None), "limits_seen", ()) or ()
        item.config.stash[OUTCOMES][(_exercise_of(item.module).id, item.originalname.removeprefix("test_"))] = (
            None if report.passed else call.excinfo.value if call.excinfo else RuntimeError(str(report.longrepr)[-300:])
        )
        row = item.config.stash[REPORTER].finish(
            _check_run(item), report, call.excinfo, list(limits), getattr(student, "import_problem", None),
            getattr(student, "library_used", None),
        )
        if isinstance(call.excinfo and call.excinfo.value, Feedback):
            report.longrepr = row["message"]  # the lesson, not the grader's traceback
    return report


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    reporter = config.stash[REPORTER]
    if not reporter.rows:
        return
    course = load_course()
    ids = {exercise_id for exercise_id, _ in reporter.rows}
    started, t0 = config.stash[STARTED]
    settings = run_settings(config)
    try:
        data = data_summary(load_data(settings.data, settings.full_data))
    except Exception:  # noqa: BLE001 - the table still shows the scores
        data = None
    report = reporter.report(
        course,
        [ex for ex in course.exercises if ex.id in ids],
        half=settings.half,
        target=resolve_target(settings.target),
        data=data,
        started=started,
        seconds=time.perf_counter() - t0,
        variants={ex.id: settings.variant_of(ex) for ex in course.exercises if ex.id in ids},
        draws=draws.named(settings.draw_key),
    )
    terminalreporter.write_sep("=", "score")
    terminalreporter.write_line(render_table(report))
