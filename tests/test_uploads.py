"""Every upload is graded or named (grader/isolation/uploads.py): a class of honest and bad
uploads graded by `grader --batch` and, one upload at a time, by Gradescope's autograder; each protection
of the upload step (a zip member named outside the zip, the size limit per file, a symbolic
link) proven both ways on `prepare` itself.

Only ex01 is graded (no training): the class's distinct gradings take seconds.
"""

from __future__ import annotations

import csv
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import nbformat
import pytest

from grader.isolation import safe_files, uploads
from mnist_course.course import ROOT, load_course
from test_platforms import _autograder, _run, ex01_zip  # noqa: F401 - Gradescope's zip, built once per module

EX01 = load_course().exercise("ex01")
NAME = EX01.filename
SOLUTION = EX01.solution_path.read_text()
BIG = 600 << 10  # over the 256 KB limit for one file, under the 1 MB for all
CROWDING = safe_files.MAX_SUBMISSION_BYTES - 1024  # a helper that alone took the whole budget of 1 MB: once, the exercise was then skipped


def _zip(path: Path, members: dict[str, str | bytes], links: dict[str, str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)  # a ZipInfo keeps the name as given ("../x" too)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)


def _notebook(path: Path, code: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Exercise 1"),
        nbformat.v4.new_code_cell("%matplotlib inline\n!pip install numpy"),
        nbformat.v4.new_code_cell(code),
        nbformat.v4.new_code_cell("%%time\nnormalize(None)"),
    ]
    nbformat.write(notebook, str(path))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _make_class(subs: Path, elsewhere: Path) -> dict[str, tuple[str, str]]:
    """The class: student -> (expected upload status, a phrase their feedback must hold)."""
    _write(subs / "flat" / NAME, SOLUTION)
    _write(subs / "folder" / "homework1" / NAME, SOLUTION)
    _zip(subs / "zipped" / "submission.zip", {f"homework1/{NAME}": SOLUTION})
    _notebook(subs / "notebook" / NAME.replace(".py", ".ipynb"), SOLUTION)
    _write(subs / "wrongcase" / "EX01_Preprocessing.py", SOLUTION)
    (subs / "empty").mkdir(parents=True)
    _write(subs / "unrelated" / "my_homework.txt", "I did it all in my head\n")
    _write(subs / "oversize" / NAME, SOLUTION + "#" * BIG + "\n")
    _write(subs / "bighelper" / NAME, SOLUTION)
    _write(subs / "bighelper" / "aaa_weights.py", "#" * CROWDING + "\n")
    _zip(subs / "traversal" / "work.zip", {NAME: SOLUTION, "../../escaped.py": "print('out')\n"})
    inner = elsewhere / "inner.zip"
    _zip(inner, {NAME: SOLUTION})
    _zip(subs / "nestedzip" / "outer.zip", {"inner.zip": inner.read_bytes()})
    _write(elsewhere / "classmate" / NAME, SOLUTION)
    (subs / "symlink").mkdir()
    (subs / "symlink" / NAME).symlink_to(elsewhere / "classmate" / NAME)
    _write(subs / "stub" / NAME, EX01.stub_path.read_text())
    return {
        "flat": ("as handed in", ""),
        "folder": ("corrected", f"Found homework1/{NAME}: graded as {NAME}."),
        "zipped": ("corrected", f"Found homework1/{NAME} inside submission.zip: graded as {NAME}."),
        "notebook": ("corrected", "its code cells graded as ex01_preprocessing.py (magic and shell lines commented out)"),
        "wrongcase": ("corrected", f"Found EX01_Preprocessing.py: graded as {NAME} (the case of its name corrected)."),
        "empty": ("no exercise file", "Your submission holds: nothing (an empty folder)."),
        "unrelated": ("no exercise file", "Your submission holds: my_homework.txt."),
        "oversize": ("over the size limit", f"Not graded: {NAME} is {(len(SOLUTION) + BIG + 1) / 1024:.1f} KB, over the limit of 256.0 KB for one file."),
        "bighelper": ("as handed in", "Left out aaa_weights.py: it is 1023.0 KB, over the limit of 256.0 KB for one file"),
        "traversal": ("corrected", "Not read from your upload: work.zip: ../../escaped.py (a path outside the zip: not read)."),
        "nestedzip": ("no exercise file", "outer.zip: inner.zip (a zip inside a zip: not opened"),
        "symlink": ("no exercise file", f"{NAME} (a symbolic link: not followed)"),
        "stub": ("as handed in", ""),
    }


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, mnist_path):
    base = tmp_path_factory.mktemp("uploads")
    subs, out = base / "submissions", base / "results"
    expected = _make_class(subs, base / "elsewhere")
    done = subprocess.run(
        [sys.executable, "-m", "grader", "ex01", "--batch", str(subs), "--out", str(out), "--data", mnist_path],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    with (out / "gradebook.csv").open(newline="") as fh:
        book = {row["student"]: row for row in csv.DictReader(fh)}
    return base, out, expected, done, book


def test_every_upload_is_graded_or_named_and_the_batch_never_stops(graded_class):
    base, out, expected, done, book = graded_class
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(expected) >= 12 and set(book) == set(expected)
    full = str(EX01.max_score)
    for student, (status, said) in expected.items():
        row = book[student]
        assert (row["status"], row["upload"]) == ("graded", status), (student, row)
        feedback = (out / "students" / student / "feedback.md").read_text()
        assert said in feedback, (student, feedback[:1500])
        if status in ("as handed in", "corrected") and student != "stub":
            assert row["total"] == full, (student, row["total"])  # found where it was put: every point
        else:
            assert row["total"] == "0", (student, row["total"])
    for student in expected:  # identical uploads share one grading folder, named by its hash: no classmate named
        feedback = (out / "students" / student / "feedback.md").read_text()
        assert not [other for other in expected if other != student and f"/{other}" in feedback], student
    # the untouched stub stays "not started"
    report = (out / "students" / "stub" / "report.json").read_text()
    assert '"status": "not started"' in report
    # nothing a zip named outside itself was written anywhere
    assert not list(base.rglob("escaped.py"))


def test_the_named_uploads_are_counted_in_the_terminal_and_on_the_class_page(graded_class):
    _, out, expected, done, _ = graded_class
    named = sorted(s for s, (status, _) in expected.items() if status not in ("as handed in", "corrected"))
    assert f"Uploads that could not be graded in full ({len(named)};" in done.stdout
    for student in named:
        assert f"  {student}: {expected[student][0]}: " in done.stdout
    corrected = sorted(s for s, (status, _) in expected.items() if status == "corrected")
    assert f"Uploads graded after a correction ({len(corrected)}; said in each feedback): {', '.join(corrected)}" in done.stdout
    page = (out / "class.html").read_text()
    top = page[: page.index("<h2>")]  # above the first section
    assert f"<strong>{len(named)} uploads could not be graded in full</strong>: 4 no exercise file, 1 over the size limit" in top
    assert all(f"<td>{student}</td>" in top for student in named)


def test_a_rerun_keeps_every_grade_and_regrades_nobody(graded_class, mnist_path):
    base, out, _, _, book = graded_class
    again = subprocess.run(
        [sys.executable, "-m", "grader", "ex01", "--batch", str(base / "submissions"), "--out", str(out), "--data", mnist_path],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert again.returncode == 0 and f"{len(book)} already graded, 0 to grade" in again.stdout, again.stdout + again.stderr


# ------------------------------------------------------------------ Gradescope: the same upload step


# The whole class of bad uploads above, one upload at a time as Gradescope hands them in
CLASS = ("flat", "folder", "zipped", "notebook", "wrongcase", "empty", "unrelated", "oversize", "bighelper", "traversal", "nestedzip",
         "symlink", "stub")


@pytest.mark.parametrize("student", CLASS)
def test_gradescope_grades_or_names_every_upload_of_the_class(student, ex01_zip, tmp_path, mnist_path):  # noqa: F811
    """Each upload of the batch's class through Gradescope's run_autograder: the same grade or named status,
    said with the same words as in the batch's feedback."""
    root = _autograder(tmp_path, ex01_zip, {})
    expected = _make_class(tmp_path / "class", tmp_path / "elsewhere")
    assert set(CLASS) == set(expected) and len(CLASS) >= 12
    status, said = expected[student]
    shutil.rmtree(root / "submission")
    shutil.copytree(tmp_path / "class" / student, root / "submission", symlinks=True)
    results = _run(root, mnist_path)
    points = status in ("as handed in", "corrected") and student != "stub"
    assert (results["score"] == EX01.max_score) is points and said in results["output"], results["output"]
    assert results.get("extra_data", {}).get("upload", {}).get("status", "as handed in") == status
    if status in (uploads.NO_FILE, uploads.OVER_SIZE):
        assert all(t["output"] == results["output"].split("\n")[0] for t in results["tests"])  # each test says why: a visible 0


# ------------------------------------------------------------------ each protection, both ways


def test_a_zip_member_named_outside_the_zip_is_never_written_there(tmp_path, monkeypatch):
    _zip(tmp_path / "up" / "work.zip", {NAME: SOLUTION, "../../escaped.py": "x = 1\n"})
    upload = uploads.prepare(tmp_path / "up", [NAME], tmp_path / "graded" / "alice")
    assert (tmp_path / "graded" / "alice" / NAME).is_file() and not list(tmp_path.rglob("escaped.py"))
    assert "work.zip: ../../escaped.py (a path outside the zip: not read)" in upload.held
    # switched off: the member's own name taken as it stands lands it outside the student's folder
    monkeypatch.setattr(uploads, "_member_path", lambda name: PurePosixPath(name))
    uploads.prepare(tmp_path / "up", [NAME], tmp_path / "graded-off" / "alice")
    assert (tmp_path / "escaped.py").is_file()


def test_the_size_limit_is_per_file_said_and_never_crowds_an_exercise_out(tmp_path, monkeypatch):
    _write(tmp_path / "big" / NAME, SOLUTION + "#" * BIG)
    _write(tmp_path / "helper" / NAME, SOLUTION)
    _write(tmp_path / "helper" / "aaa_weights.py", "#" * CROWDING)
    big = uploads.prepare(tmp_path / "big", [NAME], tmp_path / "out" / "big")
    assert big.status == uploads.OVER_SIZE and not (tmp_path / "out" / "big" / NAME).exists()
    helper = uploads.prepare(tmp_path / "helper", [NAME], tmp_path / "out" / "helper")
    assert helper.status == uploads.GRADED and sorted(p.name for p in (tmp_path / "out" / "helper").iterdir()) == [NAME]
    assert safe_files.graded_files(tmp_path / "helper") == [Path(NAME)]  # the grader's own walk: the exercise kept
    # switched off (no limit per file): the over-size file is graded, and the helper takes the old budget
    monkeypatch.setattr(uploads, "MAX_FILE_BYTES", safe_files.MAX_SUBMISSION_BYTES)
    monkeypatch.setattr(safe_files, "MAX_FILE_BYTES", safe_files.MAX_SUBMISSION_BYTES)
    assert uploads.prepare(tmp_path / "big", [NAME], tmp_path / "off" / "big").status == uploads.GRADED
    with pytest.raises(safe_files.SubmissionError):
        safe_files.graded_files(tmp_path / "helper")


def test_a_symbolic_link_is_never_followed(tmp_path, monkeypatch):
    _write(tmp_path / "classmate" / NAME, SOLUTION)
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / NAME).symlink_to(tmp_path / "classmate" / NAME)
    upload = uploads.prepare(tmp_path / "up", [NAME], tmp_path / "out" / "on")
    assert upload.status == uploads.NO_FILE and not (tmp_path / "out" / "on" / NAME).exists()
    # switched off (the entry's target stat'ed and read): the classmate's file would be graded as this student's
    monkeypatch.setattr(uploads, "_kind", lambda path: ("file", os.stat(path)))
    monkeypatch.setattr(uploads, "read_regular", lambda path, limit: Path(path).read_bytes())
    off = uploads.prepare(tmp_path / "up", [NAME], tmp_path / "out" / "off")
    assert off.status == uploads.GRADED and (tmp_path / "out" / "off" / NAME).read_text() == SOLUTION


def test_a_zip_bomb_is_left_out_unread_by_its_declared_size(tmp_path):
    _zip(tmp_path / "up" / "bomb.zip", {NAME: SOLUTION, "aaa_bomb.py": b"#" * (64 << 20)})  # 64 MB of '#' deflate to ~64 KB
    assert (tmp_path / "up" / "bomb.zip").stat().st_size < 1 << 20
    upload = uploads.prepare(tmp_path / "up", [NAME], tmp_path / "out")
    assert upload.status == uploads.GRADED and any(note.startswith("Left out aaa_bomb.py inside bomb.zip: it is 64.0 MB") for note in upload.notes)


def test_a_notebook_becomes_its_code_cells_with_magics_commented_out(tmp_path):
    _notebook(tmp_path / "up" / "ex01_preprocessing.ipynb", "x = 1")
    uploads.prepare(tmp_path / "up", [NAME], tmp_path / "out")
    code = (tmp_path / "out" / NAME).read_text()
    assert "# %matplotlib inline\n# !pip install numpy" in code and "\nx = 1\n" in code and "# %%time\n# normalize(None)" in code
    compile(code, NAME, "exec")


def test_a_refused_upload_leaves_nothing_for_the_next_student(tmp_path, monkeypatch):
    """An adversarial review: an upload refused once prepared (here a member named with a control
    character) left its files in the step's working folder, and every later student was graded on top
    of them (or refused for a file they never uploaded). Each upload starts from an empty folder."""
    from grader.classroom import batch

    subs = tmp_path / "subs"
    _zip(subs / "mmm" / "hw.zip", {EX01.filename: "x = 1\n", "notes\x01.py": "y = 2\n"})
    _write(subs / "nnn" / EX01.filename, (ROOT / "solutions" / EX01.filename).read_text())
    found = batch.find_students(subs, tmp_path / "out" / "uploads", [EX01.filename])
    assert list(found.refused) == ["mmm"] and found.names == ["nnn"]
    graded = found.folders["nnn"]
    assert sorted(p.name for p in graded.iterdir()) == [EX01.filename]
    assert (graded / EX01.filename).read_text() == (ROOT / "solutions" / EX01.filename).read_text()
    monkeypatch.setattr(batch, "remove_tree", lambda path: None)  # switched off: the next upload lands on the leftovers
    harmed = batch.find_students(subs, tmp_path / "out2" / "uploads", [EX01.filename])
    assert "nnn" in harmed.refused


def test_a_zip_the_step_cannot_read_costs_only_its_student(tmp_path):
    """A zip whose member fails its CRC (or is encrypted, or uses an unknown compression) crashed the
    whole batch: that member is now "could not be read", and the classmates are graded."""
    from grader.classroom import batch

    subs = tmp_path / "subs"
    _zip(subs / "mmm" / "hw.zip", {EX01.filename: "x = 1\n" * 50})
    data = bytearray((subs / "mmm" / "hw.zip").read_bytes())
    start = 30 + len(EX01.filename)  # the member's data, after its local header
    data[start + 4] ^= 0xFF  # one byte of the compressed file changed: it no longer inflates to what its CRC says
    (subs / "mmm" / "hw.zip").write_bytes(bytes(data))
    _zip(subs / "ooo" / "odd.zip", {".": "", "./": "", EX01.filename: "z = 3\n"})
    _write(subs / "nnn" / EX01.filename, (ROOT / "solutions" / EX01.filename).read_text())
    found = batch.find_students(subs, tmp_path / "out" / "uploads", [EX01.filename])
    assert found.names == ["mmm", "nnn", "ooo"] and not found.refused
    assert any("could not be read" in note for note in found.uploads["mmm"].notes), found.uploads["mmm"].notes
    assert sorted(p.name for p in found.folders["ooo"].iterdir()) == [EX01.filename]  # "." and "./" are no place in the zip


def test_no_released_file_names_a_classmate_or_a_folder_and_similarity_sees_what_was_graded(graded_class):
    """Issue 40's class of bad uploads, released: no student's file names another student or a folder of
    the grading machine (test_privacy.py's search); and a copy handed in zipped, one folder down or under
    another case is compared as graded (an instructor's walk found them missing from the similarity report)."""
    import json

    from test_privacy import leaks, machine_folders, received

    base, out, expected, _, book = graded_class
    done = subprocess.run([sys.executable, "-m", "grader", "release", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    folders = machine_folders(base, base / "submissions", out)
    distinctive = {"wrongcase", "bighelper", "nestedzip"}  # the others are words a message may use ("empty", "folder")
    for student in expected:
        assert leaks(received(out, student), folders, sorted(distinctive - {student})) == [], student
    identical = json.loads((out / "similarity.json").read_text())["identical"]
    groups = [set(group["students"] if isinstance(group, dict) else group) for group in (identical.get("ex01", identical) if isinstance(identical, dict) else identical)]
    assert any({"flat", "folder", "zipped", "wrongcase"} <= group for group in groups), identical
