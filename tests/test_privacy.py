"""Nothing of the grading machine and nothing of one student reaches another (issues 36 item 2,
40 item 1): every file a student receives from a batch and its release (report.json,
feedback.md and .html, the released folder and zip) and Gradescope's results.json names no
folder of the grading machine and no classmate. `grader.reports.report.for_students` is the one
place a student's text is made safe; switched off, the same class leaks (proven both ways).

Cheap: ex01 and ex04, four students, no training.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from grader import cli
from grader.classroom import batch
from grader.reports import formats
from grader.reports.report import for_students

ROOT = Path(__file__).resolve().parents[1]
EX01, EX04 = "ex01_preprocessing.py", "ex04_evaluation.py"
# Distinctive names, so that finding one in a classmate's file is never a coincidence of English.
STUDENTS = ("annabelle", "bartholomew", "cassiopeia", "dorotheus")


def _class(base: Path) -> Path:
    """annabelle: the reference ex01 and the stub ex04; bartholomew and cassiopeia: identical uploads
    with no exercise file (graded once, one shared result); dorotheus: an ex01 that cannot be imported."""
    subs = base / "submissions"
    for student in STUDENTS:
        (subs / student).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / EX01, subs / "annabelle" / EX01)
    shutil.copy(ROOT / "exercises" / EX04, subs / "annabelle" / EX04)
    for twin in ("bartholomew", "cassiopeia"):
        (subs / twin / "notes.txt").write_text("my homework is late\n")
    (subs / "dorotheus" / EX01).write_text("def normalize(images:\n")
    return subs


def _grade(base: Path, mnist_path: str) -> Path:
    subs, out = _class(base), base / "out"
    assert cli.main(["ex01", "ex04", "--batch", str(subs), "--out", str(out), "--data", mnist_path]) == 0
    assert cli.main(["release", str(out)]) == 0
    return out


def received(out: Path, student: str) -> dict[str, str]:
    """Every file `student` receives, by name: the released folder, each member of the zip, and the
    feedback pages of students/<student>/ that class.html links for the instructor to forward (its
    report.json is the instructor's: the release hands out a copy without `target`)."""
    files = {}
    shown = [*(out / "release" / student).rglob("*"), *(out / "students" / student).glob("feedback*")]
    for path in sorted(shown):
        for one in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if one.is_file():
                files[str(one.relative_to(out))] = one.read_text(encoding="utf-8", errors="replace")
    with zipfile.ZipFile(out / "release" / f"{student}.zip") as archive:
        for member in archive.namelist():
            files[f"{student}.zip:{member}"] = archive.read(member).decode("utf-8", errors="replace")
    return files


def machine_folders(*extra: Path) -> list[str]:
    """The grading machine's folders a student's text must never name."""
    data = os.environ.get("MNIST_COURSE_DATA") or str(ROOT.parent / "shared" / "data" / "mnist-22k.npz")
    found = {str(ROOT), str(Path(data).resolve().parent), str(Path(data).parent), str(Path.home()), *map(str, extra)}
    return sorted(f for f in found if f not in ("/", ""))


def leaks(files: dict[str, str], folders: list[str], classmates: list[str]) -> list[str]:
    """Each (file, what it names) that a student must not see."""
    found = []
    for name, text in files.items():
        found += [f"{name}: {folder}" for folder in folders if folder in text]
        found += [f"{name}: {mate}" for mate in classmates if re.search(rf"\b{re.escape(mate)}\b", text)]
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mnist_path):
    base = tmp_path_factory.mktemp("privacy")
    return base, _grade(base, mnist_path)


def test_no_file_a_student_receives_names_a_classmate_or_a_folder_of_the_grading_machine(graded):
    base, out = graded
    folders = machine_folders(base, base / "submissions", out)
    for student in STUDENTS:
        files = received(out, student)
        assert any(name.endswith("report.json") for name in files) and any(name.endswith("feedback.html") for name in files), files
        assert leaks(files, folders, [s for s in STUDENTS if s != student]) == [], student
    # The identical empty uploads were graded once, and each still reads their own page.
    twin = json.loads((out / "students" / "cassiopeia" / "report.json").read_text())
    assert twin["student"] == "cassiopeia" and "There is no file ex01_preprocessing.py in the folder graded" in json.dumps(twin)
    # The instructor's own report keeps where the submission is; the release leaves it out.
    assert twin["target"] == str(base / "submissions" / "cassiopeia")
    assert "target" not in json.loads((out / "release" / "cassiopeia" / "report.json").read_text())


def test_the_search_finds_a_planted_folder_and_name(graded):
    """The other way for the search itself: a file holding a folder of the machine, or a classmate's name, is caught."""
    base, out = graded
    files = received(out, "bartholomew")
    planted = {**files, "planted.md": f"There is no file {EX01} in {base / 'submissions' / 'cassiopeia'}."}
    assert leaks(planted, machine_folders(base), ["cassiopeia"]) == [f"planted.md: {base}", "planted.md: cassiopeia"]


def test_without_the_safe_text_the_same_class_leaks(tmp_path, mnist_path, monkeypatch):
    """The other way for the protection: with for_students switched off (the identity, the instructor's
    `target` kept), the students' files name the grading machine's folders."""
    monkeypatch.setattr(batch, "for_students", lambda report, submission=(): report)
    out = _grade(tmp_path, mnist_path)
    found = leaks(received(out, "bartholomew"), machine_folders(tmp_path, tmp_path / "submissions", out), [])
    assert found, "switched off, the data file's folder and the graded folder reach the student"


def test_for_students_cuts_every_folder_of_the_machine_and_gradescope_uses_it(monkeypatch, tmp_path):
    data = tmp_path / "instructor" / "data" / "mnist-22k.npz"
    graded = tmp_path / "class" / "uploads" / "0123abcd"
    report = {
        "target": str(graded),
        "data": {"path": str(data), "sha256": "a5f8", "description": f"mnist-22k from npz {data} (sha256 a5f8…)"},
        "score": 0, "max_score": 1, "test_half": "private", "seconds": 1.0, "grader_version": "0.1.0",
        "exercises": [{"id": "ex01", "title": "t", "lesson": 1, "score": 0, "max_score": 1, "status": "incomplete", "checks": [
            {"name": "normalize_values", "function": "normalize", "status": "failed", "score": 0, "max_score": 1, "seconds": 0.1,
             "message": f"Called normalize() from {graded / EX01}; the data is {data}; see {ROOT / 'lessons'}."}]}],
    }
    safe = for_students(report, submission=(tmp_path / "submissions" / "ann",))
    text = json.dumps(safe)
    assert "target" not in safe and str(tmp_path) not in text and str(ROOT) not in text
    assert safe["data"]["path"] == "mnist-22k.npz" and "from npz mnist-22k.npz" in safe["data"]["description"]
    assert f"from your submission/{EX01}" in text and "see the grader/lessons" in text
    assert str(tmp_path) not in json.dumps(formats.gradescope_results(report))
    monkeypatch.setattr(formats, "for_students", lambda report: report)  # switched off: Gradescope's results leak
    assert str(graded) in json.dumps(formats.gradescope_results(report))
