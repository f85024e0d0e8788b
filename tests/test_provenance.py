"""What decides a grade (grader/provenance.py) and the run's settings (grader/settings.py).

One definition of what can change a verdict, used by the report, the batch's
resume key, the cluster's worker check and the training cache; one settings
object, resolved where a run starts and written into a child's environment in
one place; the course's checks never read the environment.
"""

import ast
import json
import os
import signal

import pytest

from grader.classroom import cluster
from grader import provenance
from grader.reports import report
from grader.settings import CACHE_ENV, FULL_ENV, HALF_ENV, TARGET_ENV, RunSettings, SettingsError
from grader.training.trainer import Trainer
from mnist_course.course import ROOT, load_course

EX01 = load_course().exercise("ex01")
# Everything in libraries() that one installed upgrade can change.
LIBRARY_KEYS = ("python", *provenance.LIBRARIES)


@pytest.fixture
def other_version(monkeypatch):
    """Pretend one entry of provenance.libraries() changed, as an upgrade would."""

    def change(key: str) -> None:
        changed = {**provenance.libraries(), key: "0.0.1-upgraded"}
        monkeypatch.setattr(provenance, "libraries", lambda: changed)

    return change


# ------------------------------------------------------------------ what decides a grade


@pytest.mark.parametrize("key", LIBRARY_KEYS)
def test_every_use_sees_a_changed_library_version(key, other_version):
    """The batch key, the report's environment, the cluster's worker identity and
    the training cache key all move with any library version, because they all read
    provenance.py."""
    args = (["ex01"], "data-sha", "private")
    before = (provenance.grading_key(*args), report.environment(), cluster.worker_identity())
    runs = []
    trainer, declaration = Trainer(None), {"config": "same declaration"}
    for _ in range(2):  # memoised by its key: trained once
        trainer._cached(declaration, lambda: runs.append(1) or {"status": "ok"})
    assert len(runs) == 1
    other_version(key)
    assert provenance.grading_key(*args) != before[0]
    assert report.environment()[key] == "0.0.1-upgraded" != before[1][key]
    assert cluster.differences(before[2], cluster.worker_identity()) == [
        f"{provenance.LABELS[key]}: '0.0.1-upgraded' here, {before[2][provenance.LABELS[key]]!r} on the instructor's machine"
    ]
    # The same trainer, the same declaration: trained again, not served the old libraries' result.
    trainer._cached(declaration, lambda: runs.append(1) or {"status": "ok"})
    assert len(runs) == 2


def test_the_grading_key_holds_for_the_same_grading_and_names_each_part():
    key = provenance.grading_key(["ex01"], "data-sha", "private")
    assert key == provenance.grading_key(["ex01"], "data-sha", "private")
    for other in ((["ex01", "ex02"], "data-sha", "private"), (["ex01"], "other-data", "private"), (["ex01"], "data-sha", "public")):
        assert provenance.grading_key(*other) != key
    decides = provenance.decides_grade(["ex01"], "data-sha", "private")
    assert set(LIBRARY_KEYS) | {"grader_version", "checks", "machine", "keras_backend"} <= set(decides)
    assert set(provenance.grading_machine()) == set(provenance.LABELS)  # every part has a name for the cluster's refusals


def test_the_checks_digest_covers_grader_sources_in_subfolders_too():
    """A check moved into a folder of its own still counts as a check."""
    sources = {p.relative_to(ROOT).as_posix() for p in provenance._check_sources()}
    assert {"course.toml", "grader/pytest.ini", "grader/plugin.py", "grader/provenance.py", "mnist_course/budget.py"} <= sources
    assert EX01.grader_path.relative_to(ROOT).as_posix() in sources


def _fake_version(folder, package: str, version: str):
    """A folder that, first on PYTHONPATH, makes importlib.metadata report `version`
    for `package` (the package itself still imports from the real installation)."""
    info = folder / f"{package}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    return folder


def test_a_library_upgrade_regrades_the_batch_on_the_same_out(run_grader, mnist_path, tmp_path, monkeypatch):
    """Proven both ways: the same libraries keep every report; another NumPy
    version (as importlib.metadata reports it, which is what pip changes) regrades
    every student, and going back regrades again."""
    subs, out = tmp_path / "submissions", tmp_path / "results"
    (subs / "alice").mkdir(parents=True)
    (subs / "alice" / EX01.filename).write_text(EX01.solution_path.read_text())
    monkeypatch.delenv("PYTHONPATH", raising=False)
    first = run_grader("ex01", "--batch", subs, "--out", out)
    assert "0 already graded, 1 to grade" in first.stdout, first.stderr
    assert "1 already graded, 0 to grade" in run_grader("ex01", "--batch", subs, "--out", out).stdout

    monkeypatch.setenv("PYTHONPATH", str(_fake_version(tmp_path / "upgraded", "numpy", "0.0.1")))
    upgraded = run_grader("ex01", "--batch", subs, "--out", out)
    assert "0 already graded, 1 to grade" in upgraded.stdout, upgraded.stderr
    graded = json.loads((out / "students" / "alice" / "report.json").read_text())
    assert graded["environment"]["numpy"] == "0.0.1" and graded["score"] == EX01.max_score
    assert "1 already graded, 0 to grade" in run_grader("ex01", "--batch", subs, "--out", out).stdout

    monkeypatch.delenv("PYTHONPATH")
    assert "0 already graded, 1 to grade" in run_grader("ex01", "--batch", subs, "--out", out).stdout


# ------------------------------------------------------------------ the run's settings


def test_settings_resolve_once_from_arguments_then_the_environment():
    env = {HALF_ENV: "public", FULL_ENV: "1", CACHE_ENV: "/cache", TARGET_ENV: "solutions"}
    assert RunSettings.resolve(environ={}) == RunSettings()
    resolved = RunSettings.resolve(environ=env)
    assert (resolved.half, resolved.full_data, resolved.training_cache, resolved.target) == ("public", True, "/cache", "solutions")
    assert RunSettings.resolve(batch=True, environ=env).half == "private"  # an instructor's grade
    assert RunSettings.resolve(half="public", batch=True, environ={}).half == "public"
    assert RunSettings.resolve(target="elsewhere", jobs=3, environ=env).target == "elsewhere"
    for bad, named in (({HALF_ENV: "secret"}, "public or private"), ({FULL_ENV: "maybe"}, FULL_ENV)):
        with pytest.raises(SettingsError, match=named):
            RunSettings.resolve(environ=bad)


def test_a_child_grader_resolves_the_settings_its_parent_wrote():
    settings = RunSettings(half="private", full_data=True, data="/data.npz", target="/t", training_cache="/cache", jobs=4)
    base = {"PATH": "/usr/bin", HALF_ENV: "public", TARGET_ENV: "exercises"}
    env = settings.child_environment(base)
    assert env["PATH"] == "/usr/bin" and TARGET_ENV not in env  # the target and data go on the command line
    child = RunSettings.resolve(environ=env)
    assert (child.half, child.full_data, child.training_cache) == ("private", True, "/cache")
    assert FULL_ENV not in RunSettings().child_environment({FULL_ENV: "1"})  # a parent's switch never leaks past its settings


def test_the_grader_passes_its_settings_without_writing_the_environment(mnist_path, tmp_path, monkeypatch, capsys):
    """`grader --half private` grades on the private half while the environment
    still says public: the half reached the checks as an object."""
    from grader import cli

    monkeypatch.setenv(HALF_ENV, "public")
    for variable in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD"):  # cli.grade's own pytest hygiene
        monkeypatch.setenv(variable, os.environ.get(variable, ""))
    before = dict(os.environ)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        code = cli.main(["ex01", "--target", "solutions", "--half", "private", "--json", str(tmp_path / "r.json")])
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert code == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "r.json").read_text())["test_half"] == "private"
    settings_variables = (HALF_ENV, FULL_ENV, CACHE_ENV, TARGET_ENV, "MNIST_COURSE_DATA")
    assert {k: os.environ.get(k) for k in settings_variables} == {k: before.get(k) for k in settings_variables}


ENVIRONMENT_READERS = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv", "graded_half"}


def environment_reads(path) -> list[str]:
    """Where a source file reads or writes the process environment (or resolves settings from it)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
        if isinstance(node, ast.alias):
            name = node.name
        if name in ENVIRONMENT_READERS or (isinstance(node, ast.Attribute) and node.attr == "resolve" and getattr(node.value, "id", "") == "RunSettings"):
            found.append(f"{path.name}:{getattr(node, 'lineno', '?')} {name}")
    return found


# The library the model exercises' checks run (grader/training/), short of the trainer and its process.
CHECK_LIBRARY = ("model_checks.py", "declaration.py", "accuracy.py", "declared_settings.py", "vetting.py")


def check_sources():
    library = [ROOT / "grader" / "training" / name for name in CHECK_LIBRARY]
    assert all(path.is_file() for path in library), library
    return sorted({*library, *(ex.grader_path for ex in load_course().exercises)})


def test_the_course_s_checks_never_read_the_environment():
    """What a check needs of the run (the half, the data) comes from the `settings`
    and `mnist` fixtures; a check that read os.environ would grade differently in a
    child whose parent forgot to write a variable."""
    sources = check_sources()
    assert len(sources) >= len(load_course().exercises) + 1
    assert [where for path in sources for where in environment_reads(path)] == []


def test_the_environment_check_finds_a_planted_read(tmp_path):
    planted = tmp_path / "test_ex99_planted.py"
    planted.write_text("import os\nfrom os import getenv\n\ndef test_half():\n    return os.environ.get('MNIST_COURSE_TEST_HALF'), RunSettings.resolve()\n")
    assert sorted(w.split()[1] for w in environment_reads(planted)) == ["environ", "getenv", "resolve"]


# ------------------------------------------------------------------ a score's path


def test_a_score_s_path_is_one_reporter_and_the_check_library_needs_no_pytest_node():
    """check → CheckRun (its points, what it measured) → Reporter.finish (the row) →
    Reporter.report: no pytest node or user_properties between a check and its score."""
    from types import SimpleNamespace

    from grader.feedback import PartialCredit
    from grader.reports.report import Reporter

    sources = check_sources()
    for word in ("user_properties", "originalname", "request.node"):
        assert [p.name for p in sources if word in p.read_text()] == [], word
    ex02 = load_course().exercise("ex02")
    reporter, seen = Reporter(), []
    reporter.listeners.append(seen.append)
    run = reporter.start(ex02, "build_model_test_accuracy")
    assert run.points == ex02.checks["build_model_test_accuracy"] > 0
    run.record("measured", {"test_accuracy": 0.97})
    with pytest.raises(ValueError):
        run.record("score", 1)  # a check cannot write its own score
    below = PartialCredit(0.5, "a little below the bar", "the bar")
    row = reporter.finish(run, SimpleNamespace(passed=False, duration=1.0, longrepr=None), SimpleNamespace(value=below), ["memory"])
    assert row["score"] == round(run.points * 0.5, 2) and row["measured"] == {"test_accuracy": 0.97} and "limits" not in row
    assert seen == [row] and reporter.rows[("ex02", "build_model_test_accuracy")] is row
    built = reporter.report(load_course(), [ex02], half="private", target=ROOT, data=None, started=__import__("datetime").datetime.now(), seconds=1.0)
    (graded,) = [c for c in built["exercises"][0]["checks"] if c["name"] == "build_model_test_accuracy"]
    assert graded["score"] == row["score"] and built["test_half"] == "private"
