"""`grader import-canvas`: Canvas's "Download submissions" zip (built here, tiny and
anonymised, named as Canvas's content_zipper.rb names its entries) becomes one
folder per student, with the original file names, the latest upload of each,
the late flags, the resubmissions and each submission's time and its source;
one odd entry is left out and said, costing no one else; a zip with no upload of
Canvas's is refused with nothing written; the result grades with --batch (ex01).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.classroom.lms_import import main
from mnist_course.course import ROOT, load_course

EX01 = load_course().exercise("ex01")
STUB = EX01.stub_path.read_text()
SOLUTION = EX01.solution_path.read_text()

# (entry name, zip entry time, text): two students, one late and resubmitting
CANVAS = [
    ("doejane_10001_90001_ex01_preprocessing.py", (2026, 11, 20, 9, 30, 0), SOLUTION),
    ("roefred_late_10002_90002_ex01_preprocessing.py", (2026, 11, 21, 8, 0, 0), STUB),
    ("roefred_late_10002_90003_ex01_preprocessing-1.py", (2026, 11, 21, 9, 0, 0), SOLUTION + "\n# second try\n"),
    ("roefred_late_10002_90004_notes.txt", (2026, 11, 21, 9, 0, 0), "my notes\n"),
    ("poekim_10003_text.html", (2026, 11, 21, 9, 0, 0), "<p>my answer</p>"),  # a text entry: no file to grade
]


def _zip(path: Path, entries) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, when, text in entries:
            z.writestr(zipfile.ZipInfo(name, date_time=when), text)
    return path


def _times(path: Path) -> list[list[str]]:
    return list(csv.reader(path.read_text().splitlines()))


def test_a_canvas_zip_becomes_one_folder_per_student_named_by_user_id(tmp_path, capsys):
    out = tmp_path / "subs"
    assert main([str(_zip(tmp_path / "submissions.zip", CANVAS)), str(out)]) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["10001", "10002"]  # the Canvas user id, never the name
    assert sorted(p.name for p in (out / "10002").iterdir()) == ["ex01_preprocessing.py", "notes.txt"]  # names restored
    assert (out / "10002" / "ex01_preprocessing.py").read_text().endswith("# second try\n")  # the latest upload, not the first
    assert (out / "10001" / "ex01_preprocessing.py").read_text() == SOLUTION
    record = json.loads((out / "canvas_import.json").read_text())["students"]
    assert record["10002"]["late"] is True and record["10002"]["resubmissions"] == 1
    assert record["10001"]["late"] is False and record["10001"]["resubmissions"] == 0
    assert record["10002"]["name"] == "roefred" and record["10002"]["canvas_file_ids"]["ex01_preprocessing.py"] == "90003"
    assert _times(out / "submission_times.csv") == [
        ["student", "submitted_at", "source"],
        ["10001", "2026-11-20T09:30:00+00:00", "zip-entry-time"],
        ["10002", "2026-11-21T09:00:00+00:00", "zip-entry-time"],
    ]
    assert json.loads((out / "canvas_import.json").read_text())["not_files"] == ["poekim_10003_text.html"]  # said, not lost
    said = capsys.readouterr()
    assert "late by Canvas's flag: 10002" in said.out and "resubmitted" in said.out and "poekim_10003_text.html" in said.out
    assert "not when the student uploaded" in said.err  # the weak time is said, not silently used


def test_a_roster_names_folders_by_login_and_a_times_csv_gives_canvas_own_time(tmp_path):
    roster = tmp_path / "grades.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\n    Points Possible,,,,\n"
                      "\"Doe, Jane\",10001,S1,jdoe,A\n\"Roe, Fred\",10002,S2,froe,A\n")
    times = tmp_path / "times.csv"
    times.write_text("ID,submitted_at\n10001,2026-11-19T23:59:00Z\n")  # Fred's time is not in it
    out = tmp_path / "subs"
    assert main([str(_zip(tmp_path / "s.zip", CANVAS)), str(out), "--roster", str(roster), "--times", str(times)]) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["froe", "jdoe"]
    assert _times(out / "submission_times.csv")[1:] == [
        ["froe", "2026-11-21T09:00:00+00:00", "zip-entry-time"],
        ["jdoe", "2026-11-19T23:59:00+00:00", "canvas-csv"],
    ]
    assert json.loads((out / "canvas_import.json").read_text())["students"]["jdoe"]["canvas_user_id"] == "10001"


@pytest.mark.parametrize("entries, said", [
    ([("ex01_preprocessing.py", (2026, 1, 1, 0, 0, 0), "x")], "is not named as Canvas names a submission"),
    ([("doejane_1_2_../../evil.py", (2026, 1, 1, 0, 0, 0), "x")], "a path inside Canvas's zip"),
    ([("folder/doejane_1_2_a.py", (2026, 1, 1, 0, 0, 0), "x")], "a path inside Canvas's zip"),
    ([("intruder.txt", (2026, 1, 1, 0, 0, 0), "x"), ("folder/", (2026, 1, 1, 0, 0, 0), "")], "intruder.txt"),
])
def test_a_zip_that_is_not_canvas_layout_is_refused_and_nothing_is_written(tmp_path, capsys, entries, said):
    out = tmp_path / "subs"
    assert main([str(_zip(tmp_path / "bad.zip", entries)), str(out)]) == 2
    assert said in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip"]  # no DIR, no half-written staging folder


@pytest.mark.parametrize("option, text, said", [
    ("--roster", "Student,ID,SIS User ID,SIS Login ID,Section\nDoe, Jane,10001,S1,jdoe,A\n", "line 2: 6 fields where the header has 5"),
    ("--times", "ID,submitted_at\n10001,2026-11-19T23:59:00Z,extra\n", "line 2: 3 fields where the header has 2"),
    ("--roster", None, "is not a CSV file in UTF-8"),
])
def test_a_csv_saved_by_hand_that_does_not_fit_its_header_is_named_by_line(tmp_path, capsys, option, text, said):
    """A roster or times CSV edited by hand ("Doe, Jane" unquoted, a stray field, not UTF-8):
    one line naming the file and the line, exit 2, nothing written (it was a traceback)."""
    bad = tmp_path / "by-hand.csv"
    bad.write_bytes(text.encode() if text is not None else b"Student,ID\n\xff\xfe\x00,1\n")
    assert main([str(_zip(tmp_path / "s.zip", CANVAS)), str(tmp_path / "subs"), option, str(bad)]) == 2
    assert said in capsys.readouterr().err
    assert not (tmp_path / "subs").exists()


ODD = [
    ("intruder.txt", (2026, 1, 1, 0, 0, 0), "x"),  # not a name Canvas writes
    ("doejane_10001_90010_..hidden.py", (2026, 11, 20, 9, 0, 0), "x"),  # not a plain file name
    ("nested/doejane_10001_90011_a.py", (2026, 11, 20, 9, 0, 0), "x"),  # a path
    ("moekay_10004_90020_ex01_preprocessing.py", (2026, 11, 20, 9, 0, 0), SOLUTION),  # two uploads, one version
    ("moekay_10004_90021_ex01_preprocessing.py", (2026, 11, 20, 9, 5, 0), STUB),
]


def test_one_odd_entry_costs_only_itself(tmp_path, capsys):
    """An entry Canvas does not write, or two uploads whose order cannot be told, is not
    imported, said on the terminal and recorded; every other upload is imported as without it."""
    out = tmp_path / "subs"
    assert main([str(_zip(tmp_path / "s.zip", CANVAS + ODD)), str(out)]) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["10001", "10002", "10004"]
    assert (out / "10001" / "ex01_preprocessing.py").read_text() == SOLUTION and [p.name for p in (out / "10001").iterdir()] == ["ex01_preprocessing.py"]
    assert list((out / "10004").iterdir()) == []  # neither upload: the batch says "no exercise file" for this student
    refused = json.loads((out / "canvas_import.json").read_text())["refused"]
    assert [r["entry"] for r in refused] == [e for e, _, _ in ODD[:3]] + [ODD[4][0]] and ODD[3][0] in refused[3]["why"]
    err = capsys.readouterr().err
    assert all(f"not imported: {r['why']}" in err for r in refused) and "which is the latest cannot be told" in err


def test_an_existing_non_empty_folder_is_never_written_into(tmp_path, capsys):
    out = tmp_path / "subs"
    (out / "someone").mkdir(parents=True)
    assert main([str(_zip(tmp_path / "s.zip", CANVAS)), str(out)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["someone"]
    assert main([str(_zip(tmp_path / "s.zip", CANVAS)), str(tmp_path / "empty")]) == 0  # a new folder is fine


def test_the_imported_class_grades_with_batch(tmp_path, mnist_path):
    subs, graded = tmp_path / "subs", tmp_path / "graded"
    done = subprocess.run([sys.executable, "-m", "grader", "import-canvas", str(_zip(tmp_path / "s.zip", CANVAS)), str(subs)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "grader", "ex01", "--batch", str(subs), "--out", str(graded), "--data", mnist_path],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = {r["student"]: r for r in csv.DictReader((graded / "gradebook.csv").read_text().splitlines())}
    assert sorted(rows) == ["10001", "10002"]
    assert all(float(r["total"]) == float(r["max"]) > 0 for r in rows.values())  # both hand in the solution (Fred's second try)
