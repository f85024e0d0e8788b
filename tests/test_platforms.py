"""The instructors' platforms (platforms/README.md): Gradescope's autograder zip,
run as Gradescope runs it, and GitHub Classroom's workflow.

Only exercise 1 is graded here (about a second a run); a model exercise would
train for minutes.
"""

import base64
import importlib.util
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from grader.isolation import bubblewrap
from mnist_course.build import generated_files
from mnist_course.classroom_workflow import CLASSROOM_WORKFLOW_PATH
from mnist_course.classroom_workflow import render as render_classroom_workflow
from mnist_course.course import ROOT, load_course

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

GRADESCOPE = ROOT / "platforms" / "gradescope"
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "gradescope-results.schema.json").read_text())
EX01 = "ex01_preprocessing.py"
EX01_POINTS = load_course().exercise("ex01").max_score


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(out: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(GRADESCOPE / "build_zip.py"), str(out), *options], capture_output=True, text=True, timeout=120, check=True
    )


@pytest.fixture(scope="module")
def ex01_zip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gradescope")
    (folder / "draw_key").write_text("0123456789abcdef0123456789abcdef\n")  # as a batch's RESULTS/draw_key holds one
    _build(folder / "ex01.zip", "--exercises", "ex01", "--draw-key-file", str(folder / "draw_key"))
    return folder / "ex01.zip"


def _autograder(base: Path, archive: Path, files: dict[str, str]) -> Path:
    """A folder laid out like Gradescope's /autograder: the zip in source/, the upload in submission/."""
    root = base / "autograder"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text)
    return root


def _run(root: Path, mnist_path: str, code: int = 0, **env: str) -> dict:
    """Gradescope's call: run_autograder in /autograder; return the results.json it left
    (its exit status `code`: 0 graded, 2 not graded, as the grader's own)."""
    environment = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "AUTOGRADER_PYTHON": sys.executable,  # the course is installed here; setup.sh needs the network
        "AUTOGRADER_USER": "",  # as the user running the tests (see the unprivileged test below)
        "MNIST_COURSE_DATA": mnist_path,
        **env,
    }
    proc = subprocess.run(["bash", str(root / "run_autograder")], cwd=root, env=environment, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == code, proc.stdout + proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == sum(t["score"] for t in results["tests"])
    assert sum(t["max_score"] for t in results["tests"]) == EX01_POINTS
    return results


HOSTILE = """
import json, os, time
FORGED = {{"score": 100, "tests": [{{"name": "forged", "score": 100, "max_score": 100}}]}}
print(json.dumps(FORGED))  # Gradescope never reads stdout
for name in ("results.json", "forged.json"):
    try:
        with open({results!r} + "/" + name, "w") as fh:
            json.dump(FORGED, fh)
    except OSError:
        pass
if os.fork() == 0:  # a daemon that writes again once grading is over
    os.setsid()
    if os.fork() == 0:
        os.closerange(0, 4096)  # holds none of the worker's pipes: grading need not wait for it
        time.sleep(2)
        with open({results!r} + "/results.json", "w") as fh:
            json.dump(FORGED, fh)
    os._exit(0)
os._exit(0)
"""


# -- Gradescope: the zip


def test_zip_holds_the_grader_and_no_solution(ex01_zip, tmp_path):
    with zipfile.ZipFile(ex01_zip) as zf:
        names = zf.namelist()
        modes = {info.filename: info.external_attr >> 16 & 0o777 for info in zf.infolist()}
        texts = {name: zf.read(name).decode("utf-8", "replace") for name in names}
    for needed in ("setup.sh", "run_autograder", "autograde.py", "autograder.json", "requirements.txt", "course.toml",
                   "pyproject.toml", "README.md", "grader/cli.py", "grader/pytest.ini", "grader/checks/ex01_preprocessing.py",
                   "mnist_course/course.py", f"exercises/{EX01}"):
        assert needed in names
    assert modes["run_autograder"] == modes["setup.sh"] == 0o755
    assert not [n for n in names if n.split("/")[0] in ("solutions", "lessons", "tests", "platforms") or "__pycache__" in n]
    # No reference solution, whole or in part: no region between the solutions' markers appears in any file.
    for solution in sorted((ROOT / "solutions").glob("ex*.py")):
        for region in solution.read_text().split("### BEGIN SOLUTION")[1:]:
            code = "\n".join(line.strip() for line in region.split("### END SOLUTION")[0].splitlines()[1:] if line.strip())
            assert code and not [n for n, text in texts.items() if code in "\n".join(line.strip() for line in text.splitlines())], solution.name
    config = json.loads(texts["autograder.json"])
    assert config["exercises"] == [{"id": "ex01", "file": EX01, "title": "Preprocessing MNIST", "max_score": EX01_POINTS}]
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert [line for line in texts["requirements.txt"].splitlines() if not line.startswith("#")] == dependencies
    assert config["draw_key"] == "0123456789abcdef0123456789abcdef"  # the key it was given: the same draws as that batch
    _build(tmp_path / "again.zip", "--exercises", "ex01", "--draw-key-file", str(ex01_zip.parent / "draw_key"))
    assert (tmp_path / "again.zip").read_bytes() == ex01_zip.read_bytes(), "the same sources and key must give the same zip"


def test_zip_defaults_to_every_exercise(tmp_path):
    _build(tmp_path / "all.zip")
    with zipfile.ZipFile(tmp_path / "all.zip") as zf:
        config = json.loads(zf.read("autograder.json"))
    assert [(e["id"], e["max_score"]) for e in config["exercises"]] == [(ex.id, ex.max_score) for ex in load_course().exercises]


def test_gradescope_scripts_parse():
    for script in ("setup.sh", "run_autograder"):
        proc = subprocess.run(["bash", "-n", str(GRADESCOPE / script)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert os.access(GRADESCOPE / script, os.X_OK)


# -- Gradescope: run_autograder on submissions


def test_correct_submission_in_a_folder_gets_full_points(ex01_zip, tmp_path, mnist_path):
    root = _autograder(tmp_path, ex01_zip, {f"mnist-course/exercises/{EX01}": (ROOT / "solutions" / EX01).read_text(), "notes.txt": "hi"})
    results = _run(root, mnist_path)
    assert results["score"] == EX01_POINTS
    assert all(t["status"] == "passed" for t in results["tests"])
    assert f"Found mnist-course/exercises/{EX01}: graded as {EX01}." in results["output"]  # where it was found, said (isolation/uploads.py)


def test_gradescope_grades_on_the_private_half(ex01_zip, tmp_path, mnist_path):
    """The instructor's grade measures accuracy on the half students never see, whatever
    the container's environment says (the grader's own environment is built afresh)."""
    root = _autograder(tmp_path, ex01_zip, {EX01: (ROOT / "solutions" / EX01).read_text()})
    results = _run(root, mnist_path, MNIST_COURSE_TEST_HALF="public")
    assert "Test half: private" in results["output"], results["output"]
    assert "Test half: public" not in results["output"]


def held_report() -> dict:
    """A grader report graded on the private half: one plain check and one accuracy check that
    earns half its points on the private half and all of them on the public half."""
    accuracy = {"threshold": 0.975, "band": 0.01, "dataset": "mnist-22k", "seed": 0, "half": "private", "test_accuracy": 0.97,
                "margin": -0.005, "epochs_run": 2, "training_seconds": 9.0,
                "public_half": {"test_accuracy": 0.9812, "threshold": 0.975, "band": 0.01, "fraction": 1.0}}
    checks = [
        {"name": "build_model_compiled", "status": "passed", "score": 2, "max_score": 2, "message": "", "seconds": 0.1},
        {"name": "build_model_test_accuracy", "status": "failed", "score": 2.5, "max_score": 5, "seconds": 9.0,
         "message": "Test accuracy 97.00% on the private half ...", "measured": accuracy},
    ]
    return {"score": 4.5, "max_score": 7, "seconds": 12.0, "test_half": "private", "grader_version": "x", "started_at": "now",
            "data": {"description": "mnist-22k"}, "environment": {"isolation": "bubblewrap"},
            "exercises": [{"id": "ex02", "title": "A dense network", "lesson": 2, "score": 4.5, "max_score": 7, "status": "incomplete", "checks": checks}]}


@pytest.mark.parametrize("visibility", ["after_published", "after_due_date"])
def test_gradescope_holds_the_private_half_back_and_shows_the_public_half_meanwhile(visibility, tmp_path):
    from grader.reports.formats import gradescope_results

    results = gradescope_results(held_report(), visibility)
    jsonschema.validate(results, SCHEMA)
    tests = {t["name"]: t for t in results["tests"]}
    private = tests["ex02 · build_model_test_accuracy (private half: your grade)"]
    assert private["visibility"] == visibility and private["score"] == 2.5 and private["max_score"] == 5
    preview = next(t for name, t in tests.items() if name.startswith("ex02 · build_model_test_accuracy (public half"))
    assert preview["visibility"] == "visible" and (preview["score"], preview["max_score"]) == (0, 0)  # counts nothing
    assert "98.12% on the public half" in preview["output"] and "earns 5 of this check's 5 points" in preview["output"]
    assert tests["ex02 · build_model_compiled"]["visibility"] == "visible"
    assert results["visibility"] == "visible"  # students see the rest at once
    assert results["score"] == 4.5 and "your score there is 7/7" in results["output"]  # the grade stays the private one
    # autograde.py's own check of the grader's results accepts it: the totals still add up
    autograde = _load(GRADESCOPE / "autograde.py", "autograde_held")
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    report, problem = autograde.read_report(path, [{"max_score": 7}])
    assert report is not None, problem
    # without the setting, or for a report graded on the public half, nothing is held
    plain = gradescope_results(held_report())
    assert {t["visibility"] for t in plain["tests"]} == {"visible"} and len(plain["tests"]) == 2
    public = held_report() | {"test_half": "public"}
    assert len(gradescope_results(public, visibility)["tests"]) == 2


def test_the_zip_carries_the_private_visibility_to_the_grader(tmp_path, mnist_path):
    archive = tmp_path / "held.zip"
    _build(archive, "--exercises", "ex01", "--private-visibility", "after_published")
    root = _autograder(tmp_path, archive, {EX01: (ROOT / "solutions" / EX01).read_text()})
    assert json.loads((root / "source" / "autograder.json").read_text())["private_visibility"] == "after_published"
    environment = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable, "AUTOGRADER_USER": "", "MNIST_COURSE_DATA": mnist_path}
    proc = subprocess.run(["bash", str(root / "run_autograder")], cwd=root, env=environment, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and "--private-visibility after_published" in proc.stdout, proc.stdout + proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == EX01_POINTS  # ex01 trains no model: nothing to hold back
    assert {t["visibility"] for t in results["tests"]} == {"visible"}


def test_flat_upload_wins_over_a_copy_in_a_folder(ex01_zip, tmp_path, mnist_path):
    root = _autograder(tmp_path, ex01_zip, {EX01: (ROOT / "solutions" / EX01).read_text(), f"old/{EX01}": (ROOT / "exercises" / EX01).read_text()})
    results = _run(root, mnist_path)
    assert results["score"] == EX01_POINTS
    assert f"Graded {EX01} (also uploaded, not graded: old/{EX01})" in results["output"]


def test_stub_scores_zero_and_says_not_started(ex01_zip, tmp_path, mnist_path):
    root = _autograder(tmp_path, ex01_zip, {EX01: (ROOT / "exercises" / EX01).read_text()})
    results = _run(root, mnist_path)
    assert results["score"] == 0 and all("not started" in t["output"] for t in results["tests"])


def test_submission_without_exercise_files_scores_zero_with_a_message(ex01_zip, tmp_path, mnist_path):
    root = _autograder(tmp_path, ex01_zip, {"my_homework.py": "x = 1\n"})
    results = _run(root, mnist_path)
    assert results["score"] == 0
    assert results["output"].startswith("No exercise file was found in your submission") and EX01 in results["output"]
    assert "my_homework.py" in results["output"]
    empty = _autograder(tmp_path / "empty", ex01_zip, {})
    assert _run(empty, mnist_path)["output"].startswith("No exercise file was found")


@pytest.mark.parametrize("sandbox", ["on", "off"])
def test_hostile_submission_cannot_write_its_own_score(sandbox, ex01_zip, tmp_path, mnist_path):
    if sandbox == "on" and not bubblewrap.find().active:
        pytest.skip(f"no sandbox on this machine: {bubblewrap.find().reason}")
    root = tmp_path / "autograder"
    hostile = HOSTILE.format(results=str(root / "results"))
    _autograder(tmp_path, ex01_zip, {EX01: hostile})
    results = _run(root, mnist_path, MNIST_COURSE_SANDBOX=sandbox)
    assert results["score"] == 0
    if sandbox == "on":
        assert "Isolation: bubblewrap sandbox" in results["output"]
        assert not (root / "results" / "forged.json").exists(), "the sandbox let student code write to results/"
    else:
        # Running as this user without the sandbox, the code could write to results/ ...
        assert "Isolation: REDUCED" in results["output"]
        assert json.loads((root / "results" / "forged.json").read_text())["score"] == 100
    # ... but results.json is written after everything it started has stopped.
    time.sleep(2.5)  # the daemon would have written by now, had it outlived grading
    assert json.loads((root / "results" / "results.json").read_text()) == results


def test_grader_that_cannot_run_still_gives_valid_results(ex01_zip, tmp_path, mnist_path):
    root = _autograder(tmp_path, ex01_zip, {EX01: (ROOT / "solutions" / EX01).read_text()})
    results = _run(root, mnist_path, code=2, MNIST_COURSE_DATA=str(tmp_path / "missing.npz"))
    assert results["score"] == 0 and results["extra_data"] == {"retry": True}  # not graded: never a verdict
    assert "Not graded: the grader could not finish: it exited with status 2" in results["output"]


# -- Gradescope: as root, grading runs as an unprivileged user without network


@pytest.fixture
def unprivileged(tmp_path_factory):
    """(user, python) for grading as a user other than root, or skip where this machine cannot."""
    if os.geteuid() != 0 or not (shutil.which("setpriv") and shutil.which("unshare")):
        pytest.skip("needs root, setpriv and unshare (as in Gradescope's container)")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")
    base = Path(tempfile.mkdtemp(prefix="mnist-platforms-"))
    os.chmod(base, 0o755)
    drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
    # The grader starts its workers with its own interpreter: that must work too.
    probe = "import subprocess, sys; sys.exit(subprocess.run([sys.executable, '-I', '-c', 'import numpy, pytest']).returncode)"
    python = sys.executable
    if subprocess.run([*drop, python, "-I", "-c", probe], capture_output=True, check=False).returncode != 0:
        # This interpreter lives where 'nobody' cannot go: a venv of the system's
        # Python of the same version, reading this environment's packages.
        import sysconfig

        system = shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}", path="/usr/bin:/usr/local/bin")
        if not system:
            pytest.skip("no interpreter the unprivileged user can run")
        subprocess.run([system, "-m", "venv", "--without-pip", str(base / "venv")], check=True, capture_output=True)
        site = next((base / "venv" / "lib").glob("python3*/site-packages"))
        (site / "course-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        python = str(base / "venv" / "bin" / "python")
        subprocess.run(["chmod", "-R", "a+rX", str(base)], check=True)
        if subprocess.run([*drop, python, "-I", "-c", probe], capture_output=True, check=False).returncode != 0:
            shutil.rmtree(base, ignore_errors=True)
            pytest.skip("no interpreter the unprivileged user can run")
    yield base, python
    shutil.rmtree(base, ignore_errors=True)


def test_grading_as_root_drops_privileges(ex01_zip, unprivileged, mnist_path):
    base, python = unprivileged
    if not os.access(mnist_path, os.R_OK) or subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", "test", "-r", mnist_path], check=False
    ).returncode:
        pytest.skip("the unprivileged user cannot read the MNIST file")
    env = {"AUTOGRADER_USER": "nobody", "AUTOGRADER_PYTHON": python}
    good = _autograder(base / "good", ex01_zip, {EX01: (ROOT / "solutions" / EX01).read_text()})
    subprocess.run(["chmod", "-R", "a+rX", str(base)], check=True)
    assert _run(good, mnist_path, **env)["score"] == EX01_POINTS

    root = base / "hostile" / "autograder"
    _autograder(base / "hostile", ex01_zip, {EX01: HOSTILE.format(results=str(root / "results"))})
    subprocess.run(["chmod", "-R", "a+rX", str(base)], check=True)
    results = _run(root, mnist_path, **env)
    assert results["score"] == 0
    time.sleep(2.5)
    assert json.loads((root / "results" / "results.json").read_text()) == results
    assert not (root / "results" / "forged.json").exists(), "student code could write to results/"


# -- GitHub Classroom


WORKFLOW = CLASSROOM_WORKFLOW_PATH


def _steps() -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]["run-autograding-tests"]["steps"]


def test_classroom_workflow_is_generated_from_course_toml():
    """`mnist-course build` writes it with the course's other generated files
    (tests/test_course.py proves its drift check both ways)."""
    assert generated_files()[WORKFLOW] == render_classroom_workflow(load_course())
    assert WORKFLOW.read_text() == render_classroom_workflow(load_course()), "run `mnist-course build` and commit the result"


def test_classroom_workflow_gives_each_exercise_its_points():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["name"] == "Autograding Tests" and set(workflow["on"]) == {"push", "workflow_dispatch", "repository_dispatch"}
    assert workflow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    steps = _steps()
    graded = [s for s in steps if s.get("id", "").startswith("ex")]
    course = load_course()
    assert [s["id"] for s in graded] == [ex.id for ex in course.exercises]
    for step, ex in zip(graded, course.exercises):
        assert step["env"]["MAX_SCORE"] == str(ex.max_score)
        # The instructor's grade: model accuracy on the private half of the test set.
        assert f"grader {ex.id} --half private --classroom" in step["run"] and step["if"] == "${{ !cancelled() }}"
    reporter = steps[-1]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    assert reporter["with"]["runners"] == ",".join(ex.id for ex in course.exercises)
    assert reporter["env"] == {f"{ex.id.upper()}_RESULTS": f"${{{{ steps.{ex.id}.outputs.result }}}}" for ex in course.exercises}


@pytest.mark.parametrize(
    "case, status, score",
    [("solutions", 0, EX01_POINTS), ("stubs", 1, 0), ("no data", 2, 0)],
)
def test_classroom_step_reports_points(case, status, score, tmp_path, mnist_path):
    step = next(s for s in _steps() if s.get("id") == "ex01")
    output = tmp_path / "github_output"
    env = {
        **os.environ,
        **step["env"],
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # the installed `grader`
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(output),
        "MNIST_COURSE_DATA": str(tmp_path / "missing.npz") if case == "no data" else mnist_path,
    }
    env.pop("MNIST_COURSE_TARGET", None)
    if case == "solutions":
        env["MNIST_COURSE_TARGET"] = str(ROOT / "solutions")  # the step grades exercises/ unless told otherwise
    # As GitHub runs a `run:` step: bash --noprofile --norc -eo pipefail {0}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == status, proc.stdout + proc.stderr
    lines = output.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("result=")
    result = json.loads(base64.b64decode(lines[0].removeprefix("result=")))
    # What the grading reporter adds up: each runner's max_score, each test's score.
    assert result["max_score"] == EX01_POINTS and sum(t["score"] for t in result["tests"]) == score
    assert result["status"] == ("pass" if status == 0 else "fail")
    assert all(t["status"] in ("pass", "fail") and isinstance(t["name"], str) for t in result["tests"])
