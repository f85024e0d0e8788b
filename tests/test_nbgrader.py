"""The nbgrader course, through a real round trip with nbgrader itself.

A fresh course directory from `mnist-course nbgrader`, then nbgrader's own
commands: `generate_assignment` for every assignment, `autograde` for two
students, `export` to CSV. alice submits the reference (full points), bob the
release with its answers untouched and every test cell replaced by `assert
True`: nbgrader restores the test cells, which then find every answer not
started (0). One student proves what two did (the untouched release, and
edited test cells), as the restored notebook is the release. The model
exercises' trainings are the references' and come from the test run's
training cache.
"""

from __future__ import annotations

import copy
import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.notebook import CheckFailed, _answer
from mnist_course.build import BEGIN, END
from mnist_course.course import load_course
from mnist_course.nbgrader_course import exercise_module, imports_mark

COURSE = load_course()
ASSIGNMENTS = {ex.module: ex for ex in COURSE.exercises}
STUDENTS = ("alice", "bob")


# ----------------------------------------------- the module a notebook grades as

EX01 = COURSE.exercise("ex01")
HEADER = imports_mark(EX01) + "\nimport numpy as np\n"
FIRST_CELL = '''import math

def normalize(images):
    """Scale."""
    # YOUR CODE HERE
    raise NotImplementedError()

SCALE = 255.0

def one_hot(labels, num_classes=10):
    return np.eye(num_classes, dtype=np.float32)[labels]

print(one_hot(np.array([3])))
'''


def test_a_cell_with_two_functions_keeps_each_one_its_own_stub():
    module, dropped = exercise_module(EX01, HEADER, {"normalize": (FIRST_CELL, 3), "one_hot": (FIRST_CELL, 10)})
    assert 'raise NotImplementedError("normalize() is not started yet")' in module
    assert "one_hot() is not started yet" not in module and "np.eye(num_classes" in module
    assert "import math" in module and "SCALE = 255.0" in module  # the cell's imports and constants
    assert dropped == ["line 13: print(one_hot(np.array([3])))"] and "print(" not in module
    # Functions no cell defines yet are "not started", never code from elsewhere.
    assert 'def train_val_split(*args, **kwargs):\n    raise NotImplementedError("train_val_split() is not started yet")' in module
    compile(module, "ex01_preprocessing.py", "exec")


def test_a_later_redefinition_wins_without_mixing_versions():
    later = "def normalize(images):\n    return images / SCALE\n"
    module, _ = exercise_module(EX01, HEADER, {"normalize": (later, 1), "one_hot": (FIRST_CELL, 10)})
    assert module.count("def normalize") == 1 and "return images / SCALE" in module


def test_code_above_the_template_line_is_not_called_not_started():
    cell = "def normalize(images):\n    images = images / 255\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    module, _ = exercise_module(EX01, HEADER, {"normalize": (cell, 1)})
    assert "normalize() is not started yet" not in module


def test_a_function_that_is_not_the_students_is_refused():
    with pytest.raises(CheckFailed, match="numpy"):
        _answer(EX01, "normalize", np.linalg.norm)


# ------------------------------------------------------ nbgrader's round trip


def nbgrader(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # nbgrader runs `alembic` when it creates the gradebook: the virtualenv's
    # bin/ goes first on PATH, whether or not it is activated.
    env = {**os.environ, **(env or {}), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    # A safety clock only: autograding the class (then 33 notebooks) took 24 minutes on a quiet 2-core machine,
    # and ran past a clock of 30 minutes on CI's, which cost the run 15 errors.
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=root, env=env, capture_output=True, text=True, timeout=3600
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _notebook(root: Path, folder: str, assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(root / folder / assignment / f"{assignment}.ipynb", as_version=4)


def _nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _test_cell(cell) -> bool:
    """An autograded test cell: graded, code. A written question's answer cell is graded too,
    by a person in the formgrader, and is markdown."""
    return bool(_nbgrader_meta(cell).get("grade")) and cell.cell_type == "code"


def _submit(root: Path, student: str, assignment: str, notebook: nbformat.NotebookNode) -> None:
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{assignment}.ipynb")


def _new_course(root: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mnist_course", "nbgrader", str(root)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def _reference(root: Path, assignment: str) -> nbformat.NotebookNode:
    """The released notebook with every answer cell holding the source notebook's solution."""
    source, release = _notebook(root, "source", assignment), _notebook(root, "release", assignment)
    solutions = {_nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if _nbgrader_meta(c).get("solution")}
    reference = copy.deepcopy(release)
    for cell in reference.cells:
        if _nbgrader_meta(cell).get("solution"):
            cell.source = solutions[_nbgrader_meta(cell)["grade_id"]]
    return reference


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """The course as `mnist-course nbgrader` writes it, every assignment released: nothing graded yet."""
    root = tmp_path_factory.mktemp("nbgrader-course")
    _new_course(root)
    nbgrader(root, "generate_assignment", "*")
    return root


@pytest.fixture(scope="module")
def course_dir(released) -> Path:
    """The released course with two students' submissions, autograded (the references train)."""
    root = released
    for assignment in ASSIGNMENTS:
        release = _notebook(root, "release", assignment)
        reference = _reference(root, assignment)
        cheat = copy.deepcopy(release)
        for cell in cheat.cells:
            if _test_cell(cell):
                cell.source = "assert True"
        _submit(root, "alice", assignment, reference)
        _submit(root, "bob", assignment, cheat)
    nbgrader(root, "autograde", "*", "--create")
    nbgrader(root, "export", "--to", "grades.csv")
    return root


@pytest.fixture(scope="module")
def grades(course_dir) -> dict[tuple[str, str], tuple[float, float]]:
    with open(course_dir / "grades.csv", newline="", encoding="utf-8") as fh:
        return {(r["student_id"], r["assignment"]): (float(r["score"]), float(r["max_score"])) for r in csv.DictReader(fh)}


def test_the_command_writes_what_is_committed(released):
    committed = Path(__file__).resolve().parents[1] / "platforms" / "nbgrader"
    for path in [committed / "nbgrader_config.py", *committed.glob("source/*/*.ipynb")]:
        fresh = released / path.relative_to(committed)
        assert fresh.read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_and_no_hidden_test(released, assignment):
    source, release = _notebook(released, "source", assignment), _notebook(released, "release", assignment)
    released = "\n".join(cell.source for cell in release.cells)
    assert "BEGIN SOLUTION" not in released and "HIDDEN TESTS" not in released
    # Every line of a solution that appears nowhere else in the source notebook.
    inside, outside = set(), set()
    for cell in source.cells:
        marked = False
        for line in cell.source.splitlines():
            if line.strip() in (BEGIN, END):
                marked = line.strip() == BEGIN
            elif len(line.strip()) > 12:
                (inside if marked else outside).add(line.strip())
    leaked = [line for line in inside - outside if line in {x.strip() for x in released.splitlines()}]
    assert not leaked, f"{assignment}: solution lines in the release: {leaked[:3]}"
    exercise = ASSIGNMENTS[assignment]
    hidden = {check for f in exercise.functions for check in f.hidden}
    for check in exercise.checks:
        assert (f'check("{exercise.id}", "{check}", globals())' in released) == (check not in hidden), check
    # Points reach nbgrader: the test cells carry every check's points, the written questions' answer
    # cells theirs (graded by hand in the formgrader).
    points = {_nbgrader_meta(c)["grade_id"]: _nbgrader_meta(c).get("points") for c in release.cells if _nbgrader_meta(c).get("grade")}
    assert points == {f"{exercise.id}-{check}": pts for check, pts in exercise.checks.items()} | {
        f"{exercise.id}-{question.id}": question.points for question in exercise.questions}
    # A question's rubric stays in the source: the release's answer cell is nbgrader's blank.
    assert not any(question.rubric[:60] in released for question in exercise.questions)


@pytest.mark.trains
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_gets_full_points(grades, assignment):
    # every autograded point; the written questions' wait for a person (nbgrader counts them in the maximum)
    exercise = ASSIGNMENTS[assignment]
    assert grades["alice", assignment] == (exercise.max_score, exercise.max_score + exercise.written_points)


@pytest.mark.trains
def test_untouched_answers_under_edited_tests_get_nothing(grades):
    for assignment, exercise in ASSIGNMENTS.items():
        assert grades["bob", assignment] == (0, exercise.max_score + exercise.written_points), assignment


@pytest.mark.trains
def test_test_cells_teach_and_keep_stderr_clean(course_dir):
    """An untouched answer reads "not started"; no passing test cell writes to
    stderr, which nbgrader would score 0 (TensorFlow's logs included)."""
    bob = _notebook(course_dir, "autograded/bob", "ex01_preprocessing")
    errors = [o for c in bob.cells if _test_cell(c) for o in c.outputs if o.output_type == "error"]
    assert errors and all("not started yet" in "\n".join(o.traceback) for o in errors)
    assert all("Traceback" not in "\n".join(o.traceback) for o in errors)
    for assignment in ASSIGNMENTS:
        alice = _notebook(course_dir, "autograded/alice", assignment)
        for cell in alice.cells:
            if _test_cell(cell):
                assert [o.get("name") for o in cell.outputs if o.output_type == "stream"] == ["stdout"] * len(cell.outputs)


@pytest.mark.trains
def test_submissions_export_to_the_batch_grader(course_dir, tmp_path):
    """The stronger path: answer cells as exercise files, graded by `grader --batch`
    (ex01 and ex04 here, which need no training)."""
    out = tmp_path / "students"
    done = subprocess.run(
        [sys.executable, "-m", "mnist_course", "nbgrader-export", str(course_dir / "submitted"), str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == list(STUDENTS)
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "grader", "ex01", "ex04", "--batch", str(out), "--out", str(results)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr
    with open(results / "gradebook.csv", newline="", encoding="utf-8") as fh:
        totals = {row["student"]: row["total"] for row in csv.DictReader(fh)}
    full = sum(COURSE.exercise(e).max_score for e in ("ex01", "ex04"))
    assert totals == {"alice": str(full), "bob": "0"}


# ------------------------------------------- a safety clock that fires in a test cell

# A trainer far too slow for any training: the grader's safety clock on a training
# gives 1 s (in the grader process, through Python's startup hook). Building and
# inspecting the model, and every call of the student's code, keep their own clocks.
SLOW_TRAINER = """\
import mnist_course.budget as budget
budget.safety_timeout_s = lambda training, n_train: 1.0
"""


def _test_cells(root: Path, student: str, assignment: str) -> dict[str, tuple[str, str]]:
    """Per check, what its test cell showed: ("passed", its line), ("not graded", the message) or ("failed", the error)."""
    shown = {}
    exercise = ASSIGNMENTS[assignment]
    for cell in _notebook(root, f"autograded/{student}", assignment).cells:
        if not _test_cell(cell):
            continue
        check = _nbgrader_meta(cell)["grade_id"].removeprefix(f"{exercise.id}-")
        errors = [o for o in cell.outputs if o.output_type == "error"]
        text = "\n".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        if errors:
            message = "\n".join(errors[0].traceback)
            shown[check] = ("not graded" if errors[0].ename == "CheckNotGraded" else "failed", message)
        else:
            shown[check] = ("passed" if f"✓ {check}:" in text else "failed", text)
    return shown


def _cell_scores(root: Path, student: str, assignment: str) -> dict[str, float]:
    """nbgrader's own score of every test cell, from its gradebook."""
    from nbgrader.api import Gradebook

    exercise = ASSIGNMENTS[assignment]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return {check: gradebook.find_grade(f"{exercise.id}-{check}", assignment, assignment, student).score for check in exercise.checks}


@pytest.mark.trains
def test_a_safety_clock_in_a_test_cell_is_not_graded_and_keeps_the_checks_that_passed(tmp_path, mnist_path):
    """When a safety clock fires (the grader exits 2 with a report that says retry), the
    check it stopped reads "not graded" (never a verdict on the code), the checks that
    passed keep their points in nbgrader's gradebook, and grading again on a machine that
    keeps up, as the message says, gives every point."""
    assignment = "ex02_dense"
    exercise = ASSIGNMENTS[assignment]
    root = tmp_path / "course"
    _new_course(root)
    nbgrader(root, "generate_assignment", assignment)
    _submit(root, "dana", assignment, _reference(root, assignment))
    hook = tmp_path / "slow-trainer"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_TRAINER)
    slow = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])),
        "MNIST_COURSE_TRAINING_CACHE": str(tmp_path / "empty-cache"),  # a training shared from elsewhere would not run
        "MNIST_COURSE_DATA": mnist_path,
    }

    nbgrader(root, "autograde", assignment, "--create", env=slow)
    shown = _test_cells(root, "dana", assignment)
    assert set(shown) == set(exercise.checks)
    passed = {check for check, (status, _) in shown.items() if status == "passed"}
    stopped = {check for check, (status, _) in shown.items() if status == "not graded"}
    assert stopped == {"build_model_test_accuracy"}, {c: s for c, (s, _) in shown.items()}
    assert passed == set(exercise.checks) - stopped, {c: s for c, (s, _) in shown.items()}
    for check in stopped:
        message = shown[check][1]
        assert f"{check}: not graded" in message and "too slow or overloaded" in message, message
        assert "not your code" in message and "nbgrader autograde ASSIGNMENT --force" in message, message
        assert "could not run" not in message and "Traceback" not in message, message
    scores = _cell_scores(root, "dana", assignment)
    assert {check: scores[check] for check in passed} == {check: exercise.checks[check] for check in passed}
    assert {scores[check] for check in stopped} == {0}

    # Graded again, as the message says, on a machine that keeps up: every point.
    nbgrader(root, "autograde", assignment, "--force", env={"MNIST_COURSE_DATA": mnist_path})  # the test run's training cache
    assert {status for status, _ in _test_cells(root, "dana", assignment).values()} == {"passed"}
    scores = _cell_scores(root, "dana", assignment)
    assert scores == {check: exercise.checks[check] for check in scores}
