"""What decides a grade (grader/provenance.py) and the run's settings (grader/settings.py).

One definition of what can change a verdict, used by the report, the batch's
resume key, the cluster's worker check and the training cache; one settings
object, resolved where a run starts and written into a child's environment in
one place; the course's checks never read the environment.
"""

import ast
import json
import os
import re
import signal

import pytest

from grader.classroom import cluster
from grader import provenance, shared_cache
from grader.reports import report
from grader.isolation import bubblewrap
from grader.settings import (
    CACHE_ENV,
    CAPACITY_ENV,
    FULL_ENV,
    HALF_ENV,
    REUSE_ENV,
    SAFETY_FACTOR_ENV,
    SANDBOX_ENV,
    BY_HAND_ENV,
    TARGET_ENV,
    VARIABLES,
    WORK_GUARD_ENV,
    WORKER_AREA_ENV,
    WORKER_PIDS_ENV,
    RunSettings,
    SettingsError,
    Switches,
)
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
    shared_before = shared_cache.key_of({"what": "ex06's probe models"})
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
    # What gradings share through the cache folder (ex06's probe models) is made again too.
    assert shared_cache.key_of({"what": "ex06's probe models"}) != shared_before


def test_shared_files_are_made_once_per_identity_and_a_failed_making_leaves_nothing(tmp_path):
    cache, made = tmp_path / "cache", []

    def make(folder, text="probe"):
        made.append(folder)
        (folder / "model.keras").write_text(text)

    first = shared_cache.shared_files(cache, {"what": "probes"}, make, scratch=tmp_path / "a")
    again = shared_cache.shared_files(cache, {"what": "probes"}, make, scratch=tmp_path / "b")
    assert first == again and len(made) == 1 and (first / "model.keras").read_text() == "probe"
    other = shared_cache.shared_files(cache, {"what": "other probes"}, make, scratch=tmp_path / "c")
    assert other != first and len(made) == 2

    def broken(folder):
        (folder / "half.keras").write_text("half")
        raise RuntimeError("Keras failed")

    with pytest.raises(RuntimeError):
        shared_cache.shared_files(cache, {"what": "broken"}, broken, scratch=tmp_path / "d")
    assert sorted(p.suffix for p in cache.iterdir() if p.is_dir()) == [".files", ".files"]  # no half-made entry
    # No cache folder, or one that fails (here a file stands where it should be): made in scratch, every time.
    (tmp_path / "e").mkdir()
    assert shared_cache.shared_files(None, {"what": "probes"}, make, scratch=tmp_path / "e") == tmp_path / "e"
    (tmp_path / "not-a-folder").write_text("")
    (tmp_path / "f").mkdir()
    assert shared_cache.shared_files(tmp_path / "not-a-folder", {"what": "probes"}, make, scratch=tmp_path / "f") == tmp_path / "f"
    assert len(made) == 4


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



# ------------------------------------------------------------------ the environment's variables

# Reads of the environment at import time in grader/ (outside settings.py), each with its reason.
IMPORT_TIME_READS = {
    # Not a read: the package sets OpenBLAS's thread count before NumPy loads (one thread for the
    # grader's own numerical work, whatever the machine's cores).
    "grader/__init__.py": 1,
    # The notebook's environment when its locked cell imported the module, kept so that
    # what an answer cell later sets in os.environ never reaches the grader.
    "grader/notebook.py": 1,
}
VARIABLE = re.compile(r"MNIST_COURSE_[A-Z0-9_]+")


def import_time_environment_reads(path) -> list[str]:
    """Reads of the process environment that run when the module is imported: outside
    any function body (module and class level, default values and decorators included)."""
    found = []

    def visit(node, in_function: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for evaluated_now in (*node.args.defaults, *[d for d in node.args.kw_defaults if d], *getattr(node, "decorator_list", [])):
                visit(evaluated_now, in_function)
            for statement in node.body if isinstance(node.body, list) else [node.body]:
                visit(statement, True)
            return
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
        if not in_function and name in ENVIRONMENT_READERS - {"graded_half"}:
            found.append(f"{path.name}:{node.lineno} {name}")
        for child in ast.iter_child_nodes(node):
            visit(child, in_function)

    visit(ast.parse(path.read_text(), str(path)), False)
    return found


def test_the_grader_reads_no_switch_from_the_environment_at_import():
    """A switch read into a module constant would be fixed for the process before a
    run's settings exist; in grader/ only settings.py resolves the environment."""
    reads = {
        str(path.relative_to(ROOT)): len(found)
        for path in sorted(ROOT.glob("grader/**/*.py"))
        if path.name != "settings.py" and (found := import_time_environment_reads(path))
    }
    assert reads == IMPORT_TIME_READS


def test_the_import_time_check_finds_planted_reads(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import os\nfrom os import environ\nA = os.environ.get('MNIST_COURSE_A')\n"
        "def f(b=os.getenv('MNIST_COURSE_B')):\n    return os.environ['MNIST_COURSE_C']\n"
        "class K:\n    d = environ.get('MNIST_COURSE_D')\n    g = lambda: os.environ\n"
    )
    assert [w.split(":")[1] for w in import_time_environment_reads(planted)] == ["3 environ", "4 getenv", "7 environ"]


def test_every_mnist_course_variable_is_named_in_settings_and_in_one_table():
    """grader/settings.py names each MNIST_COURSE_* variable the course reads (grader/,
    mnist_course/, the lessons, the platforms' files); grader/README.md's table lists
    exactly those, in that order; in grader/ no module spells one out but settings.py."""
    used = {
        name
        for folder in ("grader", "mnist_course", "lessons", "platforms")
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and path.suffix in (".py", ".sh", "") and "__pycache__" not in path.parts
        for name in VARIABLE.findall(path.read_text(encoding="utf-8", errors="replace"))
    }
    assert used - set(VARIABLES) == set(), "name it in grader/settings.py and in grader/README.md's table"
    readme = (ROOT / "grader" / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    assert [row.split("`")[1] for row in table.splitlines() if row.startswith("| `MNIST_COURSE_")] == list(VARIABLES)
    spelled = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted(ROOT.glob("grader/**/*.py"))
        if path.name != "settings.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and VARIABLE.fullmatch(node.value)
    ]
    assert spelled == []


@pytest.mark.parametrize("switch, variable", [("sandbox", SANDBOX_ENV), ("by_hand", BY_HAND_ENV), ("capacity", CAPACITY_ENV), ("work_guard", WORK_GUARD_ENV),
                                             ("reuse_trainings", REUSE_ENV)])
def test_a_protection_is_off_only_when_its_switch_says_so(switch, variable):
    assert getattr(Switches.resolve(environ={}), switch) is True
    for off in ("off", "OFF", "0", "no", "false", "none", " off "):
        assert getattr(Switches.resolve(environ={variable: off}), switch) is False, off
    for kept in ("on", "1", "", "of", "disabled"):  # a typo never loses a protection
        assert getattr(Switches.resolve(environ={variable: kept}), switch) is True, kept
    others = {name for name in ("sandbox", "by_hand", "capacity", "work_guard") if name != switch}
    assert all(getattr(Switches.resolve(environ={variable: "off"}), name) for name in others)


def test_the_limits_and_the_safety_factor_resolve_and_reach_their_readers(monkeypatch):
    from grader.isolation import capacity
    from grader.isolation.own_time import safety_wall_s

    assert Switches.resolve(environ={}) == Switches(sandbox=True, capacity=True, work_guard=True, reuse_trainings=True,
                                                    worker_pids=None, worker_area_mb=None, safety_factor=1.0)
    assert Switches.resolve(environ={WORKER_PIDS_ENV: "48", WORKER_AREA_ENV: "16", SAFETY_FACTOR_ENV: "2.5"}) == Switches(worker_pids=48, worker_area_mb=16, safety_factor=2.5)
    for bad in ("x", "0", "-1", "nan", "inf"):
        assert Switches.resolve(environ={SAFETY_FACTOR_ENV: bad}).safety_factor == 1.0, bad
    assert Switches.resolve(environ={WORKER_PIDS_ENV: "many"}).worker_pids is None
    for value, limit in (("48", 48), ("8", 16), ("many", capacity.PIDS_MAX)):
        monkeypatch.setenv(WORKER_PIDS_ENV, value)
        assert capacity.pids_max() == limit, value
    monkeypatch.delenv(WORKER_PIDS_ENV, raising=False)
    assert capacity.pids_max() == capacity.PIDS_MAX
    monkeypatch.delenv(SAFETY_FACTOR_ENV, raising=False)
    plain = safety_wall_s(10)
    monkeypatch.setenv(SAFETY_FACTOR_ENV, "2")
    assert safety_wall_s(10) == 2 * plain
    monkeypatch.setenv(CAPACITY_ENV, "off")
    assert capacity.switched_off() and bubblewrap.area_bytes() is None


def test_the_trainer_takes_the_guard_and_its_clocks_from_the_switches(monkeypatch):
    """The throughput guard's switch and the safety factor reach the trainer's
    request and clocks (a training itself: tests/test_training.py, tests/test_fairness.py)."""
    from types import SimpleNamespace

    import numpy as np

    from grader.training.trainer import Settings
    from mnist_course import budget

    data = SimpleNamespace(x_train=np.zeros((200, 28, 28), np.uint8), y_train=np.zeros(200, np.uint8), x_test=None, y_test=None, provenance=SimpleNamespace(sha256="0" * 64))
    training = load_course().exercise("ex02").training

    def asked(**env):
        for name in (WORK_GUARD_ENV, SAFETY_FACTOR_ENV):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        calls = []
        trainer = Trainer(data)
        monkeypatch.setattr(trainer, "_run", lambda request, timeout, arrays, progress=None: calls.append((request, timeout)) or {"status": "ok"})
        trainer.inspect({"class_name": "Sequential", "config": {}}, training)
        trainer.train({"class_name": "Sequential", "config": {}}, Settings(1, 64, 0.1, (), "integer"), training)
        (_, inspected), (request, trained) = calls
        return inspected, trained, request["guard"]

    inspected, trained, guard = asked()
    assert inspected == budget.start_up_timeout_s() and trained == budget.safety_timeout_s(training, 200) and guard["allowance_s"] == budget.GUARD_ALLOWANCE_S
    assert asked(**{SAFETY_FACTOR_ENV: "3"})[:2] == (3 * inspected, 3 * trained)
    assert asked(**{WORK_GUARD_ENV: "off"})[2] is None


def test_the_safety_factor_changes_no_generated_file_and_scales_nbgrader_s_net(monkeypatch):
    """The build is the same whatever the maintainer's environment says; nbgrader's
    cell timeout stays above the grader's own clock at any factor, where it runs."""
    from mnist_course import nbgrader_course
    from mnist_course.build import stale_files

    course = load_course()
    monkeypatch.setenv(SAFETY_FACTOR_ENV, "3")
    assert [str(p.relative_to(ROOT)) for p in stale_files(course)] == []
    net = nbgrader_course.cell_timeout(course)
    longest = max(budget_timeout(ex.training) for ex in course.exercises if ex.training)
    config = (ROOT / "platforms" / "nbgrader" / "nbgrader_config.py").read_text(encoding="utf-8")
    for factor, expected in (("3", int(net * 3)), ("0.001", net), ("", net), ("x", net)):
        monkeypatch.setenv(SAFETY_FACTOR_ENV, factor)
        c = type("Config", (), {})()
        for part in ("CourseDirectory", "ExecutePreprocessor", "ClearSolutions"):
            setattr(c, part, type(part, (), {})())
        exec(compile(config, "nbgrader_config.py", "exec"), {"get_config": lambda: c, "__file__": str(ROOT / "platforms" / "nbgrader" / "nbgrader_config.py")})
        assert c.ExecutePreprocessor.timeout == expected, factor
        assert c.ExecutePreprocessor.timeout > longest * Switches.resolve().safety_factor, factor


def budget_timeout(training) -> float:
    from mnist_course.budget import safety_timeout_s
    from mnist_course.nbgrader_course import FULL_MNIST_TRAIN

    return safety_timeout_s(training, FULL_MNIST_TRAIN)


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
