"""`mnist-course starter DIR`: what a class receives (mnist_course/starter.py).

Every top-level path of the course is decided (git's list: a new folder stops the
build until a row of STARTER says what of it ships); the starter holds the lessons,
the stubs, the grader and the course package, the students' page, pyproject, LICENSE
and the Classroom workflow, and never solutions/, tests/, platforms/, the benchmarks'
scripts or the instructors' page; every link of its pages resolves inside it; a class's
repository replaces the course's in the lessons' Colab cells; and what read solutions/
says where the references are instead. Its own grader grades its stubs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader import loop, session
from mnist_course import predict
from mnist_course.__main__ import main as course_main
from mnist_course.course import ROOT, load_course, tomllib
from mnist_course.starter import ALL, STARTER, StarterError, tracked_files, undecided, walked_files, write_starter

COURSE = load_course()
NEVER = ("solutions", "tests", "platforms", ".ci", "docs/INSTRUCTORS.md", "benchmarks/models.py", ".github/workflows/pages.yml")


@pytest.fixture(scope="module")
def starter(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("starter") / "class"
    write_starter(out, course=COURSE, files=walked_files())
    return out


def test_the_starter_holds_what_a_student_needs_and_nothing_else(starter):
    files = {p.relative_to(starter).as_posix() for p in starter.rglob("*") if p.is_file()}
    assert not [f for f in files for never in NEVER if f == never or f.startswith(never + "/")]
    assert {f.split("/", 1)[0] for f in files} == {e.path for e in STARTER if e.ships} | {"README.md"}
    for ex in COURSE.exercises:
        assert (starter / "exercises" / ex.filename).read_text() == ex.stub_path.read_text()
    for lesson in COURSE.lessons:
        assert (starter / "lessons" / f"{lesson}.ipynb").read_bytes() == COURSE.lesson_notebook(lesson).read_bytes()
    assert len(list((starter / "lessons" / "photos").iterdir())) == len(list((ROOT / "lessons" / "photos").iterdir()))
    packages = tomllib.loads((starter / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert all((starter / p.replace(".", "/") / "__init__.py").is_file() for p in packages)  # what `pip install` installs
    assert (starter / ".github" / "workflows" / "classroom.yml").is_file() and (starter / "course.toml").is_file()
    readme = (starter / "README.md").read_text()
    assert "your instructor has them" in readme and "## For students" in readme and "01_first_look.ipynb" in readme
    assert "## For maintainers" not in readme and "](solutions" not in readme


def test_the_starters_course_toml_has_no_maintainers_comments_and_no_rubrics(starter):
    """The class's course.toml is the course's (every exercise, check, point, hint, bar and question) without
    the comments that say how the bars were measured and what the references declare (ex02's learning rates
    were there), and without the rubrics of the written questions, which are the instructor's."""
    from mnist_course.course import parse_course

    source, shipped = (ROOT / "course.toml").read_text(), (starter / "course.toml").read_text()
    assert "rubric" in source and "\n#" in source  # the source has both, so the test proves something
    assert not [line for line in shipped.splitlines() if line.lstrip().startswith("#") or line.startswith("rubric")]
    received = parse_course(shipped)
    strip = lambda course: [dataclasses.replace(ex, questions=tuple(dataclasses.replace(q, rubric="") for q in ex.questions))  # noqa: E731
                            for ex in course.exercises]
    assert strip(received) == strip(COURSE) and all(not q.rubric for ex in received.exercises for q in ex.questions)
    for ex in COURSE.exercises:  # the rubrics the instructor grades with are all in the source
        assert all(q.rubric for q in ex.questions), ex.id
    solution = COURSE.exercise("ex02").solution_path.read_text()
    rates = re.search(r"learning_rate = ([\d.]+) if CONSTRAINT == \"sgd\" else ([\d.]+)", solution).groups()
    assert not [rate for rate in rates if re.search(rf"rate {re.escape(rate)}\b", shipped)], rates


def test_every_link_of_the_starters_pages_resolves_inside_it(starter):
    """A page never links what the starter leaves out (solutions/, INSTRUCTORS.md, the benchmarks)."""
    broken = []
    for page in starter.rglob("*.md"):
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            if not (page.parent / target.split("#", 1)[0]).resolve().exists():
                broken.append(f"{page.relative_to(starter)}: {target}")
    assert broken == []


def test_the_table_in_mnist_course_readme_is_starters():
    """mnist_course/README.md lists each row of STARTER: its path and what of it ships."""
    readme = (ROOT / "mnist_course" / "README.md").read_text()
    for entry in STARTER:
        shipped = "all of it" if entry.ships == ALL else ", ".join(f"`{p}`" for p in entry.ships) or "nothing"
        assert f"| `{entry.path}` | {shipped} |" in readme, entry.path


def test_an_undecided_path_stops_the_starter(tmp_path):
    with pytest.raises(StarterError, match="no decision for notes: add a row to STARTER"):
        write_starter(tmp_path / "class", course=COURSE, files=walked_files() + ["notes/todo.md"])
    with pytest.raises(StarterError, match="not an empty folder"):
        (tmp_path / "full").mkdir()
        (tmp_path / "full" / "x").write_text("")
        write_starter(tmp_path / "full", course=COURSE, files=walked_files())


def test_every_path_git_holds_is_decided():
    """Run with git: every tracked (or new, not ignored) top-level path has its row."""
    assert undecided(tracked_files()) == []


def test_a_class_repository_replaces_the_course_one(tmp_path):
    """With --repository, the lessons' Colab badge and set-up cell, course.toml and the Classroom
    workflow name the class's repository (whose clone has no solutions/); the README still says
    where the course's source repository is."""
    mine = "https://github.com/my-school/mnist-2027"
    out = tmp_path / "class"
    write_starter(out, repository=mine, course=COURSE, files=walked_files())
    cells = json.loads((out / "lessons" / "01_first_look.ipynb").read_text())["cells"]
    text = "".join("".join(c["source"]) for c in cells)
    assert f'"git", "clone", "--depth", "1", "{mine}"' in text
    assert "colab.research.google.com/github/my-school/mnist-2027/blob/main/lessons/01_first_look.ipynb" in text
    assert COURSE.repository not in text
    assert f'repository = "{mine}"' in (out / "course.toml").read_text()
    assert "github.repository != 'my-school/mnist-2027'" in (out / ".github" / "workflows" / "classroom.yml").read_text()
    readme = (out / "README.md").read_text()
    assert f"source repository, {COURSE.repository}" in readme and "colab.research.google.com/github/my-school/mnist-2027/" in readme
    with pytest.raises(StarterError, match="OWNER/REPO"):
        write_starter(tmp_path / "other", repository="my-school/mnist", course=COURSE, files=walked_files())


def test_without_solutions_each_reader_says_where_they_are(tmp_path, monkeypatch, capsys):
    """`grader --target solutions`, the pointer after a passed exercise, `mnist-course predict`
    and `serve`, and `mnist-course site --with-solutions`, in a copy without solutions/."""
    monkeypatch.setitem(session.NAMED_TARGETS, "solutions", tmp_path / "solutions")
    with pytest.raises(session.TargetError, match="your instructor has them"):
        session.resolve_target("solutions")
    loop.print_passed({"exercises": [{"id": "ex01", "status": "passed"}, {"id": "ex04", "status": "failed"}]}, ROOT / "exercises")
    said = capsys.readouterr().out
    assert said.startswith("ex01 passes. To compare with the reference: the reference solutions are not in this copy") and "ex04" not in said
    monkeypatch.setattr(predict, "ROOT", tmp_path)
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "ex06_real_use.py").write_text((ROOT / "exercises" / "ex06_real_use.py").read_text())
    told = []
    module = predict.load_functions(say=told.append)
    assert Path(module.__file__).parent == tmp_path / "exercises" and "using your own exercises/ex06_real_use.py" in told[0]
    monkeypatch.setattr("mnist_course.course.ROOT", tmp_path)
    assert course_main(["site", str(tmp_path / "site"), "--with-solutions"]) == 2
    assert "your instructor has them" in capsys.readouterr().err


def test_the_starter_command_and_its_grader_without_solutions(tmp_path):
    """`mnist-course starter DIR` (git's list), then the starter's own grader, imported from the
    starter: its untouched ex01 is "not started" (0 points), and `--target solutions` says where
    the references are."""
    out = tmp_path / "class"
    assert course_main(["starter", str(out)]) == 0
    assert not (out / "solutions").exists() and (out / "grader" / "cli.py").is_file()
    env = {**os.environ, "PYTHONPATH": str(out)}
    graded = subprocess.run([sys.executable, "-m", "grader", "ex01", "--json", str(tmp_path / "r.json")],
                            cwd=out, env=env, capture_output=True, text=True, timeout=600)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["target"].startswith(str(out)) and report["score"] == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
    assert {c["status"] for ex in report["exercises"] for c in ex["checks"]} == {"not started"}
    refused = subprocess.run([sys.executable, "-m", "grader", "--target", "solutions"], cwd=out, env=env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "your instructor has them" in refused.stdout + refused.stderr
