"""Handing a graded class back: the gradebook's per-check columns and submission
time, `grader release` (a folder and a zip per student, Canvas's gradebook CSV),
the history that keeps every replaced grade, and the similarity report's
library part (the pages themselves are opened in Chromium in test_dashboard.py).

Every class here is graded on ex01 alone, which trains no model: a few seconds.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from calendar import timegm
from pathlib import Path

import pytest

from corpus import edited, filled
from mnist_course.course import ROOT, load_course

COURSE = load_course()
EX01 = COURSE.exercise("ex01")
UNSCALED = {"return images.astype(np.float32) / np.float32(255)": "return images.astype(np.float32)"}
HANDED_IN = "2026-11-20T09:30:00Z"  # the time every submission's files are given


def _grade(subs: Path, out: Path, mnist_path, *extra, env=None):
    return subprocess.run(
        [sys.executable, "-m", "grader", "ex01", "--batch", str(subs), "--out", str(out), "--data", mnist_path, *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=900, env=env,
    )


def _release(*args):
    return subprocess.run([sys.executable, "-m", "grader", "release", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300)


def _hand_in(subs: Path, student: str, source: str) -> None:
    (subs / student).mkdir(parents=True, exist_ok=True)
    path = subs / student / EX01.filename
    path.write_text(source)
    stamp = timegm((2026, 11, 20, 9, 30, 0))
    os.utime(path, (stamp, stamp))


def _gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open(newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mnist_path):
    """ada: the reference; carol: pixels not scaled; bob: the untouched stub;
    eve: a symbolic link (refused, status error)."""
    folder = tmp_path_factory.mktemp("handback")
    subs, out = folder / "submissions", folder / "results"
    _hand_in(subs, "ada", EX01.solution_path.read_text())
    _hand_in(subs, "carol", edited("ex01", UNSCALED))
    _hand_in(subs, "bob", EX01.stub_path.read_text())
    (subs / "eve").symlink_to(subs / "ada")
    done = _grade(subs, out, mnist_path)
    assert "Gradebook:" in done.stdout, done.stderr
    return subs, out


# ------------------------------------------------------------------ gradebook.csv


def test_the_gradebook_has_a_column_per_check_and_the_submission_time(graded):
    _, out = graded
    book = _gradebook(out)
    header = next(csv.reader(io.StringIO((out / "gradebook.csv").read_text())))
    checks = [f"ex01 {name}" for name in EX01.checks]
    assert header[-len(checks):] == checks and "submitted_at" in header  # every check, in course order
    for student in ("ada", "carol", "bob"):
        report = json.loads((out / "students" / student / "report.json").read_text())
        by_check = {f"ex01 {c['name']}": str(c["score"]) for c in report["exercises"][0]["checks"]}
        assert {column: book[student][column] for column in checks} == by_check
        assert sum(int(book[student][column]) for column in checks) == int(book[student]["total"])
        # The files' own time, not the time of grading.
        assert book[student]["submitted_at"] == report["submitted_at"] == HANDED_IN
    assert book["carol"]["ex01 normalize_values"] == "0" and book["ada"]["ex01 normalize_values"] == "1"
    assert book["eve"]["status"].startswith("error") and book["eve"]["submitted_at"] == "" and book["eve"]["ex01 one_hot_values"] == ""


def test_the_batch_exit_status_says_whether_every_submission_was_graded(tmp_path, mnist_path):
    """0: every submission graded, whatever it scored (bob's stub earns 0); 1: some could not be
    (eve's folder is a symbolic link, refused), the gradebook written all the same; 2: the run
    itself failed (its gradebook cannot be written), said in one line. (`retry` is 1 too:
    test_fairness.py's safety clock.)"""
    subs, out = tmp_path / "submissions", tmp_path / "results"
    _hand_in(subs, "ada", EX01.solution_path.read_text())
    _hand_in(subs, "bob", EX01.stub_path.read_text())
    done = _grade(subs, out, mnist_path)
    assert done.returncode == 0, done.stderr
    assert (_gradebook(out)["bob"]["total"], _gradebook(out)["bob"]["status"]) == ("0", "graded")
    (subs / "eve").symlink_to(subs / "ada")
    refused = _grade(subs, out, mnist_path)
    assert refused.returncode == 1, refused.stderr
    assert "eve: error: not graded: a symbolic link" in refused.stderr and _gradebook(out)["eve"]["status"].startswith("error")
    (subs / "eve").unlink()
    (out / "gradebook.csv").unlink()
    (out / "gradebook.csv").mkdir()  # RESULTS cannot take its gradebook
    broken = _grade(subs, out, mnist_path)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr, broken.stderr
    assert broken.stderr.strip().splitlines()[-1].startswith("grader: the batch could not go on:"), broken.stderr


def test_the_batch_exit_status_is_in_the_help(run_grader):
    said = " ".join(run_grader("--help").stdout.split())
    assert "With --batch: 0 every submission was graded (whatever it scored), 1 some could not be" in said


# ------------------------------------------------------------------ grader release


def _canvas(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def test_release_hands_each_graded_student_a_folder_and_a_zip_and_canvas_a_gradebook(graded, tmp_path):
    _, out = graded
    roster = tmp_path / "canvas-export.csv"
    # Canvas's own export: its header, its "Points Possible" row, then one row per student.
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (11),Current Score\n"
        "    Points Possible,,,,,10,(read only)\n"
        '"Lovelace, Ada",101,S-1,ada@uni.example,CS 101-A,8,80\n'
        '"Stub, Bob",102,S-2,bob,CS 101-A,,\n'
        '"Nobody, Ned",103,S-3,ned,CS 101-B,,\n'
    )
    done = _release(out, "--roster", roster, "--per-check", "--assignment", "Homework 1 (555)")
    release = out / "release"
    assert done.returncode == 1, done.stderr  # carol is in no roster: said, and the exit status says so
    assert "not in the roster: carol" in done.stderr and "not released: eve" in done.stderr
    assert sorted(p.name for p in release.iterdir() if p.is_dir()) == ["ada", "bob", "carol"]  # eve was never graded
    for student in ("ada", "bob", "carol"):
        files = sorted(p.name for p in (release / student).iterdir())
        assert files == ["feedback.html", "feedback.md", "report.json"], files
        page = (release / student / "feedback.html").read_text()
        assert page.startswith("<!DOCTYPE html>") and f"Feedback for {student}" in page and "<script" not in page
        report = json.loads((release / student / "report.json").read_text())
        assert "target" not in report and report["student"] == student  # the instructor's paths stay home
        with zipfile.ZipFile(release / f"{student}.zip") as archive:
            assert sorted(archive.namelist()) == [f"{student}/{name}" for name in files]
            assert archive.read(f"{student}/feedback.html").decode() == page
    rows = _canvas(release / "canvas.csv")
    checks = [f"ex01 {name}" for name in EX01.checks]
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 1 (555)", *checks]
    assert rows[1] == ["    Points Possible", "", "", "", "", str(EX01.max_score), *(str(p) for p in EX01.checks.values())]
    book = _gradebook(out)
    by_login = {row[3]: row for row in rows[2:]}
    assert by_login["ada@uni.example"][:6] == ["Lovelace, Ada", "101", "S-1", "ada@uni.example", "CS 101-A", book["ada"]["total"]]
    assert by_login["bob"][:6] == ["Stub, Bob", "102", "S-2", "bob", "CS 101-A", "0"]
    assert by_login["carol"][:6] == ["carol", "", "", "carol", "", book["carol"]["total"]]
    assert by_login["carol"][6:] == [book["carol"][column] for column in checks]
    assert "ned" not in by_login and len(rows) == 5  # no grade for who handed nothing in: Canvas leaves them as they are


def test_a_roster_row_that_does_not_fit_its_header_is_refused_by_line(tmp_path):
    """A gradebook export saved by hand with "Doe, Jane" unquoted would give Jane the ID " Jane"
    and her login as her SIS User ID: refused, naming the row, before anything is released."""
    from grader.classroom.handback import ReleaseError, read_roster

    roster = tmp_path / "canvas-export.csv"
    roster.write_text('Student,ID,SIS User ID,SIS Login ID,Section\n    Points Possible,,,,\n"Roe, Fred",102,S-2,froe,A\nDoe, Jane,101,S-1,jdoe,A\n')
    with pytest.raises(ReleaseError, match="line 4: 6 fields where the header has 5"):
        read_roster(roster)
    roster.write_text(roster.read_text().replace("Doe, Jane", '"Doe, Jane"'))
    assert [row["SIS Login ID"] for row in read_roster(roster)] == ["froe", "jdoe"]


def test_release_without_a_roster_matches_by_login_and_replaces_only_its_own_folder(graded, tmp_path):
    _, out = graded
    target = tmp_path / "handback"
    first = _release(out, "--to", target, "--no-zip")
    assert first.returncode == 1 and "not released: eve" in first.stderr  # held back, never silently
    rows = _canvas(target / "canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "MNIST ex01"]
    assert [row[0] for row in rows[2:]] == ["ada", "bob", "carol"] and all(row[3] == row[0] for row in rows[2:])
    assert not list(target.glob("*.zip"))
    assert _release(out, "--to", target).returncode == 1 and (target / "ada.zip").is_file()  # a release replaces its own
    mine = tmp_path / "my-notes"
    mine.mkdir()
    (mine / "grades.xlsx").write_text("mine")
    refused = _release(out, "--to", mine)
    assert refused.returncode == 2 and "no release wrote" in refused.stderr
    assert [p.name for p in mine.iterdir()] == ["grades.xlsx"]  # never a folder of someone else's files
    assert _release(out, "--to", out / "students").returncode == 2
    nothing = _release(tmp_path / "my-notes")
    assert nothing.returncode == 2 and "run `grader --batch" in nothing.stderr  # not a batch's results: said how to get one


def _graded_on_the_private_half(results: Path, student: str) -> None:
    """Make `student`'s report one whose first check was measured on the private half, as a model
    exercise's accuracy check is (its public half's measure beside it): what a trained class holds,
    without training one here."""
    path = results / "students" / student / "report.json"
    report = json.loads(path.read_text())
    check = report["exercises"][0]["checks"][0]
    check["measured"] = {"half": "private", "test_accuracy": 0.97, "threshold": 0.95, "band": 0.02, "dataset": "mnist-22k", "test_images": 5000,
                         "margin": 0.02, "public_half": {"test_accuracy": 0.96, "threshold": 0.95, "band": 0.02, "fraction": 1}}
    path.write_text(json.dumps(report))


def test_release_keeps_the_private_grade_back_until_the_batchs_release_date(graded, tmp_path):
    _, out = graded
    results = tmp_path / "results"
    shutil.copytree(out, results, symlinks=True)
    (results / "private-release.json").write_text('{"private_release": "2999-01-01T00:00:00+00:00"}\n')  # as --private-release writes it
    _graded_on_the_private_half(results, "ada")
    before = _release(results)
    assert "held until 2999-01-01" in before.stdout
    release = results / "release"
    assert (release / "ada" / "feedback.html").is_file()
    assert not (release / "ada" / "report.json").exists()  # it holds the private grade
    # ada's page was written before the hold (as by an older grader): written afresh from the public half
    from grader.classroom.release import HELD_MARK

    assert all(HELD_MARK in (release / "ada" / n).read_text() and "97.00%" not in (release / "ada" / n).read_text() for n in ("feedback.md", "feedback.html"))
    # canvas.csv carries the grades that are not held: the held check's points left out, for every student
    held = json.loads((results / "students" / "ada" / "report.json").read_text())["exercises"][0]["checks"][0]
    rows = _canvas(release / "canvas.csv")
    assert float(rows[1][5]) == EX01.max_score - held["max_score"] and f"{held['name']} ({held['max_score']:g} points)" in before.stdout
    ada = json.loads((results / "students" / "ada" / "report.json").read_text())
    assert {row[0]: float(row[5]) for row in rows[2:]}["ada"] == ada["score"] - held["score"]
    assert (release / "bob" / "report.json").is_file()  # nothing of bob's was graded on the private half
    (results / "private-release.json").write_text('{"private_release": "2001-01-01"}\n')  # the date has passed
    after = _release(results)
    assert "held until" not in after.stdout and (release / "canvas.csv").is_file() and (release / "ada" / "report.json").is_file()


def test_a_release_date_holds_nothing_back_when_no_check_was_graded_on_the_private_half(graded, tmp_path):
    """ex01 trains no model: no check depends on the half, so the date has nothing to hold and
    Canvas gets its gradebook at once."""
    _, out = graded
    results = tmp_path / "results"
    shutil.copytree(out, results, symlinks=True)
    (results / "private-release.json").write_text('{"private_release": "2999-01-01T00:00:00+00:00"}\n')
    done = _release(results)
    release = results / "release"
    assert "held until" not in done.stdout and "holds nothing back" in done.stdout, done.stdout
    assert [row[0] for row in _canvas(release / "canvas.csv")[2:]] == ["ada", "bob", "carol"]
    assert all((release / student / "report.json").is_file() for student in ("ada", "bob", "carol"))


@pytest.mark.parametrize("args, said", [
    (["--batch", "subs", "--out", "out", "--similarity-threshold", "1.5"], "above 0 and at most 1"),
    (["--similarity-threshold", "0.5"], "only goes with --batch"),
])
def test_the_similarity_threshold_is_checked(run_grader, args, said):
    done = run_grader(*args)
    assert done.returncode == 2 and said in done.stderr


# ------------------------------------------------------------------ history


def test_a_regrade_that_changes_a_score_keeps_the_earlier_report_and_one_that_does_not_keeps_none(tmp_path, mnist_path):
    subs, out = tmp_path / "submissions", tmp_path / "results"
    _hand_in(subs, "ada", EX01.solution_path.read_text())
    _hand_in(subs, "carol", edited("ex01", UNSCALED))
    _grade(subs, out, mnist_path)
    before = json.loads((out / "students" / "carol" / "report.json").read_text())
    earlier_page = (out / "students" / "carol" / "feedback.html").read_text()
    assert not (out / "history").exists()

    _hand_in(subs, "carol", EX01.solution_path.read_text())  # carol fixes her code: a new score
    again = _grade(subs, out, mnist_path, "--force")  # ada is regraded too, to the same score
    assert again.returncode == 0, again.stderr
    entries = list((out / "history" / "carol").glob("0*"))
    assert len(entries) == 1 and entries[0].name.startswith("001-")
    kept = json.loads((entries[0] / "report.json").read_text())
    assert kept == before and (entries[0] / "feedback.html").read_text() == earlier_page
    change = json.loads((out / "history" / "carol" / "changes.jsonl").read_text())
    assert (change["old_score"], change["new_score"], change["why"]) == (before["score"], EX01.max_score, "a new submission")
    assert f"carol: {before['score']} -> {EX01.max_score} of {EX01.max_score} (a new submission)" in again.stdout
    assert not (out / "history" / "ada").exists()  # regraded to the same score: nothing to keep
    now = json.loads((out / "students" / "carol" / "report.json").read_text())
    assert now["earlier_grades"] == [{"score": before["score"], "max_score": EX01.max_score, "graded_at": before["started_at"], "why": "a new submission"}]
    assert f"This grade replaces {before['score']}/{EX01.max_score}" in (out / "students" / "carol" / "feedback.html").read_text()
    assert "earlier_grades" not in json.loads((out / "students" / "ada" / "report.json").read_text())
    assert "Changed grades" in (out / "class.html").read_text()

    (subs / "carol" / EX01.filename).unlink()
    (subs / "carol" / "notes.py").write_text("x = 1\n")  # graded: 0 points, "no file ex01_preprocessing.py"
    third = _grade(subs, out, mnist_path)
    assert len(list((out / "history" / "carol").glob("0*"))) == 2  # the full score is kept before the 0 replaces it
    assert f"carol: {EX01.max_score} -> 0 of {EX01.max_score}" in third.stdout


# ------------------------------------------------------------------ similarity


def test_without_copydetect_the_batch_says_how_to_get_the_report_and_carries_on(tmp_path, mnist_path):
    blocker = tmp_path / "no-copydetect"
    blocker.mkdir()
    (blocker / "copydetect.py").write_text("raise ImportError('No module named copydetect')\n")
    subs, out = tmp_path / "submissions", tmp_path / "results"
    _hand_in(subs, "ada", EX01.solution_path.read_text())
    _hand_in(subs, "hopper", EX01.solution_path.read_text())
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    done = _grade(subs, out, mnist_path, "--similarity-threshold", "0.9", env=env)
    assert done.returncode == 0, done.stderr
    assert 'pip install -e ".[similarity]"' in done.stderr
    assert "Identical submissions, graded once: ada, hopper" in done.stdout  # found without the extra
    found = json.loads((out / "similarity.json").read_text())
    assert found["available"] is False and found["identical"] == [["ada", "hopper"]] and found["pairs"] == []
    assert found["threshold"] == 0.9
    page = (out / "class.html").read_text()
    assert "Similar submissions" in page and "copydetect" in page and _gradebook(out)["hopper"]["total"] == str(EX01.max_score)


# Two students who each wrote one function of their own, differently, and left the rest as given.
OWN_NORMALIZE = filled("ex01", normalize="""
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise ValueError("need uint8 pixels")
    return np.divide(arr, 255.0, dtype=np.float32)
""")
OWN_ONE_HOT = filled("ex01", one_hot="""
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError("labels must be 1-D")
    for value in y:
        if not 0 <= value < num_classes:
            raise ValueError(f"label {value} is outside the classes")
    out = np.zeros((len(y), num_classes), np.float32)
    out[np.arange(len(y)), y] = 1
    return out
""")


def _only(source: str, function: str) -> str:
    """`source` with every function but `function` put back to the stub's body."""
    stub = EX01.stub_path.read_text()
    keep = source[source.index(f"\ndef {function}("):]
    keep = keep[: keep.find("\ndef ", 1)] if "\ndef " in keep[1:] else keep
    start = stub.index(f"\ndef {function}(")
    end = stub.find("\ndef ", start + 1)
    return stub[:start] + keep + (stub[end:] if end != -1 else "\n")


def test_the_similarity_report_sets_the_stubs_code_aside_and_finds_a_renamed_copy(tmp_path):
    pytest.importorskip("copydetect", reason='the similarity extra: pip install -e ".[similarity]"')
    from copydetect import CodeFingerprint, compare_files

    from grader.classroom.batch import submission_hash
    from grader.classroom.similarity import class_similarity

    subs = tmp_path / "submissions"
    solution = EX01.solution_path.read_text()
    renamed = solution.replace("images", "pictures").replace("labels", "targets").replace("order", "shuffled")
    sources = {
        "ada": solution,
        "katherine": renamed,  # ada's code with every name changed
        "mary": _only(OWN_NORMALIZE, "normalize"),
        "dorothy": _only(OWN_ONE_HOT, "one_hot"),
        "linus": EX01.stub_path.read_text(),
        "ken": EX01.stub_path.read_text(),  # two untouched stubs: byte-identical, and nothing of their own
    }
    for student, source in sources.items():
        _hand_in(subs, student, source)
    hashes = {s: submission_hash(subs / s) for s in sources}
    found = class_similarity(subs, hashes, [EX01], tmp_path / "out", threshold=0.5)
    pairs = {tuple(p["students"]): p for p in found["pairs"]}
    assert ("ada", "katherine") in pairs and min(pairs["ada", "katherine"]["shares"]) > 0.9
    assert not pairs["ada", "katherine"]["identical_file"] and (tmp_path / "out" / pairs["ada", "katherine"]["page"]).is_file()
    assert not any({"linus", "ken"} & set(pair) for pair in pairs)  # the stub's own code is no evidence
    assert ("dorothy", "mary") not in pairs
    assert found["identical"] == []  # the two stubs are identical, and left out
    # The other way: without the stub set aside, the two partial submissions look copied.
    plain = {s: CodeFingerprint(EX01.filename, 25, 1, fp=io.StringIO(sources[s])) for s in ("mary", "dorothy")}
    _, shares, _ = compare_files(plain["mary"], plain["dorothy"])
    assert max(shares) >= found["threshold"], shares


def test_the_similarity_report_is_bounded_for_a_large_class_and_says_what_it_left(tmp_path, monkeypatch):
    pytest.importorskip("copydetect", reason='the similarity extra: pip install -e ".[similarity]"')
    from grader.classroom import similarity
    from grader.classroom.batch import submission_hash

    subs, out = tmp_path / "submissions", tmp_path / "out"
    solution = EX01.solution_path.read_text()
    for n in range(4):  # four near-copies: six pairs alike at first sight
        _hand_in(subs, f"s{n}", solution + f"\nEXTRA = {n}\n")
    hashes = {p.name: submission_hash(p) for p in subs.iterdir()}
    monkeypatch.setattr(similarity, "MAX_COMPARED", 2)
    found = similarity.class_similarity(subs, hashes, [EX01], out)
    # s0-s1 and s0-s2 compared and linked, s1-s2 then already in one group; the three pairs with s3 are left, and said
    assert len(found["pairs"]) == 2 and found["not_compared"] == {"ex01": 3}  # said, never silently dropped
    assert similarity.class_similarity(subs, hashes, [EX01], out) == found  # nothing changed: the report stands
    _hand_in(subs, "s0", EX01.stub_path.read_text())  # a changed submission: compared afresh
    hashes["s0"] = submission_hash(subs / "s0")
    again = similarity.class_similarity(subs, hashes, [EX01], out)
    # three near-copies: two comparisons link them all, so nothing is left
    assert again["key"] != found["key"] and again["not_compared"] == {} and again["compared"] == {"ex01": 2}
    assert [c["students"] for c in again["clusters"]] == [["s1", "s2", "s3"]]
    assert not any("s0" in pair["students"] for pair in again["pairs"])


def _lesson_cell(lesson: str) -> str:
    """The longest code cell of a lesson (jupytext percent format)."""
    cells = (ROOT / "lessons" / lesson).read_text().split("\n# %%")[1:]
    return max((c.split("\n", 1)[1] for c in cells if not c.startswith(" [markdown]")), key=len)


def test_students_sharing_code_are_one_cluster_with_one_page_and_the_course_own_code_is_named(tmp_path):
    pytest.importorskip("copydetect", reason='the similarity extra: pip install -e ".[similarity]"')
    from grader.classroom.batch import submission_hash
    from grader.classroom.similarity import class_similarity

    subs, out = tmp_path / "submissions", tmp_path / "out"
    solution, stub = EX01.solution_path.read_text(), EX01.stub_path.read_text()
    shared = _only(OWN_ONE_HOT, "one_hot")
    for n in range(6):  # six students, one file: 15 pairs, one group
        _hand_in(subs, f"s{n}", shared)
    _hand_in(subs, "ada", solution)
    _hand_in(subs, "katherine", solution.replace("images", "pictures").replace("labels", "targets"))
    cell = _lesson_cell("01_first_look.py")
    _hand_in(subs, "mary", stub + "\n" + cell)
    _hand_in(subs, "dorothy", stub + "\n" + cell + "\n# mine\n")
    _hand_in(subs, "linus", stub)
    hashes = {p.name: submission_hash(p) for p in subs.iterdir()}
    found = class_similarity(subs, hashes, [EX01], out)
    clusters = {tuple(c["students"]): c for c in found["clusters"]}
    assert sorted(clusters) == [("ada", "katherine"), ("dorothy", "mary"), tuple(f"s{n}" for n in range(6))]
    six = clusters[tuple(f"s{n}" for n in range(6))]
    assert six["identical_file"] and six["files"] == 1 and six["matches"] == []  # their own code: nothing of the course's
    assert clusters["ada", "katherine"]["matches"] == ["the reference solution (solutions/ex01_preprocessing.py)"]
    assert any(m.startswith("a lesson cell (lessons/01_first_look.py, code cell") for m in clusters["dorothy", "mary"]["matches"])
    assert not any("reference" in m for m in clusters["dorothy", "mary"]["matches"])
    pages = sorted(p.name for p in (out / "similarity").iterdir())
    assert pages == sorted(Path(c["page"]).name for c in found["clusters"]) and len(pages) == 3  # one page per group, not per pair
    page = (out / six["page"]).read_text()
    assert "s0, s1, s2, s3, s4, s5" in page and "<mark>" in page  # the members and the shared code
    assert "Matches the reference solution" in (out / clusters["ada", "katherine"]["page"]).read_text()
