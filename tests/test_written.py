"""Written questions about the student's own results (issue 39 item 5; grader/reports/written.py):
course.toml's [[exercise.question]] checked; the build ends a stub with answers(); the grader hands
the answers in and never scores them (the autograded total stays the autograded total, the report says
which points wait for a person); the feedback pages, results.json, gradebook.csv and answers.csv carry
them; a batch of ex01 students whose answers() works, raises, returns no dict, or is missing."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest

from grader.classroom.gradebook import answers_csv, gradebook_csv
from grader.reports import written
from grader.reports.formats import gradescope_results, html_feedback, markdown_feedback
from grader.reports.report import build_report, render_table
from mnist_course.build import answers_template, make_stub
from mnist_course.course import COURSE_FILE, CourseError, load_course, parse_course

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course()
EX01 = COURSE.exercise("ex01")
SCHEMA = json.loads((ROOT / "grader" / "reports" / "report.schema.json").read_text())


def _with_questions(tables: str):
    text = COURSE_FILE.read_text(encoding="utf-8")
    head, sep, rest = text.partition('[[exercise]]\nid = "ex02"')
    head = re.sub(r"(?ms)^\[\[exercise\.question\]\].*?(?=^\[\[|\Z)", "", head)
    return parse_course(head.rstrip("\n") + "\n" + tables + "\n" + sep + rest)


QUESTION = '[[exercise.question]]\nid = "{id}"\nask = "Why?"\npoints = {points}\nrubric = "Because."\n'


def test_questions_are_read_from_course_toml_and_checked():
    course = _with_questions(QUESTION.format(id="why", points=2) + QUESTION.format(id="how", points=1))
    ex = course.exercise("ex01")
    assert [q.id for q in ex.questions] == ["why", "how"] and ex.written_points == 3
    assert ex.max_score == EX01.max_score  # never part of the autograded total
    for tables, says in (
        (QUESTION.format(id="why", points=1) * 2, "names a written question twice"),
        ("".join(QUESTION.format(id=f"q{n}", points=1) for n in range(4)), "at most three"),
        (QUESTION.format(id="Why Not", points=1), "a lower-case Python name"),
        (QUESTION.format(id="why", points=0), "should be positive"),
        (QUESTION.format(id="why", points=1).replace('rubric = "Because."', "rubric = 3"), "rubric should be a string"),
    ):
        with pytest.raises(CourseError, match=says):
            _with_questions(tables)
    # the class's copy of course.toml has no rubrics (mnist_course/starter.py; tests/test_starter.py holds that
    # every question of the course's own has one)
    unmarked = _with_questions(QUESTION.format(id="why", points=1).replace('rubric = "Because."\n', ""))
    assert unmarked.exercise("ex01").questions[0].rubric == ""


def test_the_stub_ends_with_answers_and_the_solution_never_writes_them():
    stub = EX01.stub_path.read_text()
    assert stub.endswith(answers_template(EX01)) and stub.count("def answers():") == 1
    for question in EX01.questions:
        assert f'"{question.id}": """' in stub and question.rubric not in stub  # the rubric is the instructor's
    solution = EX01.solution_path.read_text()
    with pytest.raises(CourseError, match="written by the build"):
        make_stub(EX01, solution + "\n\ndef answers():\n    return {}\n")
    namespace: dict = {}
    exec(compile(answers_template(EX01), "stub", "exec"), namespace)  # the template runs as it stands
    assert written.section(EX01, namespace["answers"]())["questions"][0]["status"] == "not answered"


def test_an_answer_is_kept_as_handed_in_bounded_and_never_scored():
    got = {EX01.questions[0].id: "\n        Only on the training part:\n        the rest leaks.\n        ", "stray": "ignored"}
    section = written.section(EX01, got)
    assert section["points"] == EX01.written_points and "note" not in section
    assert section["questions"][0] == {"id": EX01.questions[0].id, "ask": EX01.questions[0].ask, "points": EX01.questions[0].points,
                                       "answer": "Only on the training part:\nthe rest leaks.", "status": "answered"}
    long = written.section(EX01, {EX01.questions[0].id: "x" * 9000})["questions"][0]["answer"]
    assert long.startswith("x" * written.MAX_ANSWER_CHARS) and long.endswith("cut at 4,000 characters]")
    controls = written.section(EX01, {EX01.questions[0].id: "a\x1b[2Jb"})["questions"][0]["answer"]
    assert "\x1b" not in controls
    report = build_report(COURSE, [EX01], {}, half="public", target=ROOT, data=None, started=datetime.now(), seconds=1.0,
                          written={"ex01": section})
    jsonschema.validate(report, SCHEMA)
    assert report["written_points"] == EX01.written_points and report["max_score"] == EX01.max_score
    assert report["exercises"][0]["written"] == section
    unread = build_report(COURSE, [EX01], {}, half="public", target=ROOT, data=None, started=datetime.now(), seconds=1.0)
    assert unread["exercises"][0]["written"]["note"].startswith("not collected")
    assert "Written questions: 1 of 1 answered; your instructor grades them (2 points" in render_table(report)
    for page in (markdown_feedback(report), html_feedback(report)):
        assert "Your written answers (2 points, graded by your instructor)" in page and "the rest leaks." in page
    assert "ex01: Written questions: 1 of 1 answered" in gradescope_results(report)["output"]
    rows = [("ada", report, "graded"), ("=cmd", {**report, "exercises": [{**report["exercises"][0], "written": {
        **section, "questions": [{**section["questions"][0], "answer": "=HYPERLINK(1)"}]}}]}, "graded"), ("bob", None, "error: x")]
    book = list(csv.DictReader(io.StringIO(gradebook_csv(rows, [EX01]))))
    assert [r["written_points"] for r in book] == ["2", "2", ""]
    lines = list(csv.reader(io.StringIO(answers_csv(rows, [EX01]))))
    assert lines[0] == ["student", "exercise", "question", "points", "status", "answer", "grade"]
    assert lines[1] == ["ada", "ex01", EX01.questions[0].id, "2", "answered", "Only on the training part:\nthe rest leaks.", ""]
    assert lines[2][0] == "'=cmd" and lines[2][5] == "'=HYPERLINK(1)" and len(lines) == 3  # no formula reaches a spreadsheet


def test_the_nbgrader_notebook_asks_in_manually_graded_cells():
    import nbformat

    notebook = nbformat.reads((ROOT / "platforms" / "nbgrader" / "source" / EX01.module / f"{EX01.module}.ipynb").read_text(), as_version=4)
    answers = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"ex01-{EX01.questions[0].id}"]
    assert len(answers) == 1 and answers[0].cell_type == "markdown"
    meta = answers[0].metadata["nbgrader"]
    assert meta["solution"] and meta["grade"] and meta["points"] == EX01.questions[0].points
    assert EX01.questions[0].rubric in answers[0].source  # in the instructor's source; nbgrader's release replaces it


@pytest.fixture(scope="module")
def written_class(tmp_path_factory, mnist_path):
    """ex01's reference in four folders whose answers() answers, raises, returns a list, or is gone."""
    root = tmp_path_factory.mktemp("written")
    solution = EX01.solution_path.read_text()
    answer = '\n\ndef answers():\n    return {"%s": """\n    Only the training part: the rest leaks into the model.\n    """}\n' % EX01.questions[0].id
    for name, tail in (("answered", answer), ("raises", "\n\ndef answers():\n    raise ValueError('oops')\n"),
                       ("list", "\n\ndef answers():\n    return ['x']\n"), ("none", "")):
        (root / "subs" / name).mkdir(parents=True)
        (root / "subs" / name / EX01.filename).write_text(solution + tail)
    proc = subprocess.run([sys.executable, "-m", "grader", "ex01", "--batch", str(root / "subs"), "--out", str(root / "out"), "--data", mnist_path],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root / "out"


def test_a_class_hands_its_answers_in_and_keeps_its_points(written_class):
    reports = {name: json.loads((written_class / "students" / name / "report.json").read_text()) for name in ("answered", "raises", "list", "none")}
    for report in reports.values():
        assert report["score"] == EX01.max_score and report["written_points"] == EX01.written_points  # never scored
    assert reports["answered"]["exercises"][0]["written"]["questions"][0]["answer"] == "Only the training part: the rest leaks into the model."
    assert "could not be read" in reports["raises"]["exercises"][0]["written"]["note"]
    assert "not a dict" in reports["list"]["exercises"][0]["written"]["note"]
    assert "no answers() in the file graded" in reports["none"]["exercises"][0]["written"]["note"]
    lines = list(csv.DictReader((written_class / "answers.csv").open(newline="")))
    assert {(r["student"], r["status"]) for r in lines} == {("answered", "answered"), ("raises", "not answered"), ("list", "not answered"), ("none", "not answered")}
    assert "Only the training part" in (written_class / "students" / "answered" / "feedback.html").read_text()
