"""The standard report formats (Gradescope, JUnit XML, Markdown) and batch grading."""

import copy
import csv
import importlib.util
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from grader.classroom import child_grader
from grader.reports.formats import gradescope_results
from mnist_course.course import ROOT, load_course

EX01 = load_course().exercise("ex01")
GRADESCOPE_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "gradescope-results.schema.json").read_text())


@pytest.fixture(scope="module")
def mixed_run(run_grader, mnist_path, tmp_path_factory):
    """One submission with passes and failures, graded into every format."""
    tmp = tmp_path_factory.mktemp("formats")
    folder = tmp / "student"
    folder.mkdir()
    source = EX01.solution_path.read_text().replace("return np.eye(num_classes, dtype=np.float32)[labels]", "return np.eye(num_classes)[labels]")
    (folder / EX01.filename).write_text(source)
    files = {kind: tmp / name for kind, name in (("json", "r.json"), ("gradescope", "results.json"), ("junit", "junit.xml"), ("feedback", "feedback.md"))}
    result = run_grader("ex01", "--target", folder, *(arg for kind, path in files.items() for arg in (f"--{kind}", path)))
    assert result.returncode == 1, result.stderr
    return json.loads(files["json"].read_text()), files


def test_gradescope_results_follow_the_published_spec(mixed_run):
    report, files = mixed_run
    results = json.loads(files["gradescope"].read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    assert results["score"] == report["score"] == sum(t["score"] for t in results["tests"])
    assert sum(t["max_score"] for t in results["tests"]) == EX01.max_score
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert failed and all("dtype float64" in t["output"] or "counts once" in t["output"] for t in failed)


def _retry(report):
    """The report as the grader writes it when a safety clock stopped its first check."""
    stopped = copy.deepcopy(report)
    check = stopped["exercises"][0]["checks"][0]
    check.update(status="error", score=0, retry=True, message="Not graded: …, so the grading machine was too slow or overloaded")
    stopped["retry"] = True
    return stopped


@pytest.mark.parametrize(
    "code, kind, expected",
    [
        (0, "report", "graded"),
        (1, "report", "graded"),
        (2, "retry", "not graded"),  # a safety clock fired: the stopped checks wait, the others stand
        (2, "report", "error"),  # exit 2 for another reason (pytest could not run the graders)
        (3, "report", "error"),
        (-9, "retry", "error"),  # killed by a signal
        (0, None, "error"),  # no usable report
        (2, None, "error"),
    ],
)
def test_gradescope_reads_the_grader_s_exit_by_the_same_rule_as_every_other_route(mixed_run, code, kind, expected):
    """autograde.py runs from the unpacked zip without the course, so it keeps a copy of
    child_grader.verdict (the batch's, the cluster's and nbgrader's rule): the two agree."""
    spec = importlib.util.spec_from_file_location("autograde", ROOT / "platforms" / "gradescope" / "autograde.py")
    autograde = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(autograde)
    report = {"report": mixed_run[0], "retry": _retry(mixed_run[0]), None: None}[kind]
    results = gradescope_results(report) if report is not None else None
    if report is not None:
        jsonschema.validate(results, GRADESCOPE_SCHEMA)
        assert ("extra_data" in results) == (kind == "retry")
    assert child_grader.verdict(code, report) == autograde.verdict(code, results) == expected


def test_junit_xml_has_the_structure_ci_systems_read(mixed_run):
    report, files = mixed_run
    root = ET.parse(files["junit"]).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [f"{ex['id']} · {ex['title']}" for ex in report["exercises"]]
    for suite, ex in zip(suites, report["exercises"]):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases) == len(ex["checks"])
        failures = [c for c in cases if c.find("failure") is not None]
        errors = [c for c in cases if c.find("error") is not None]
        assert int(suite.get("failures")) == len(failures) and int(suite.get("errors")) == len(errors)
        assert {c.get("name") for c in failures} == {c["name"] for c in ex["checks"] if c["status"] in ("failed", "not started")}
        for case in cases:
            assert case.get("classname") == ex["id"] and float(case.get("time")) >= 0
            for child in case:
                assert child.tag in ("failure", "error") and child.get("message") and child.get("type")
        properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
        assert int(properties["score"]) == ex["score"] and int(properties["max_score"]) == ex["max_score"]
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in suites)


def test_markdown_feedback_shows_every_check_and_each_message(mixed_run):
    report, files = mixed_run
    text = files["feedback"].read_text()
    assert f"**Score: {report['score']}/{report['max_score']} points**" in text
    for check in report["exercises"][0]["checks"]:
        assert f"`{check['name']}`" in text
    assert "Likely cause: np.eye() and np.zeros() make float64" in text
    assert "![" not in text and not (files["feedback"].parent / "feedback_files").exists()  # ex01 trains no model


def test_a_message_cannot_break_out_of_its_code_block():
    from grader.reports.formats import markdown_feedback

    report = {
        "score": 0, "max_score": 1, "started_at": "now", "grader_version": "x", "data": None,
        "exercises": [{"id": "ex01", "title": "T", "lesson": 1, "score": 0, "max_score": 1,
                       "checks": [{"name": "c", "status": "failed", "score": 0, "max_score": 1, "message": "```\n# Score: 100/100", "seconds": 0}]}],
    }
    text = markdown_feedback(report)
    assert "````text\n```\n# Score: 100/100\n````" in text


def test_the_measured_line_names_the_epoch_whose_weights_early_stopping_kept():
    """A student asked which epoch's weights were measured (ex03's written question) reads it in the
    line, where early stopping restored them; a training that ran to its end names none."""
    from grader.reports.report import measured_line
    from grader.training.accuracy import kept_epoch

    restored = {"early_stopping": {"stopped_early": True, "restore_best_weights": True, "best_epoch": 21}}
    assert kept_epoch(restored) == 21
    assert kept_epoch({"early_stopping": {**restored["early_stopping"], "stopped_early": False}}) is None
    assert kept_epoch({"early_stopping": {**restored["early_stopping"], "restore_best_weights": False}}) is None
    measured = {"test_accuracy": 0.9462, "threshold": 0.936, "dataset": "mnist-22k", "half": "public", "epochs_run": 31,
                "training_seconds": 48, "seed": 0}
    assert "31 epochs (early stopping kept epoch 21's weights) in 48 s" in measured_line({**measured, "kept_epoch": 21})
    assert "31 epochs in 48 s" in measured_line({**measured, "kept_epoch": None})


def test_one_syntax_error_is_said_once_and_the_other_checks_point_to_it(run_grader, mnist_path, tmp_path):
    """A file that does not import fails every check that calls it: the report keeps the
    error whole once, at the exercise; the feedback page, the terminal and Gradescope's and
    Classroom's results say it in full once and each check points to it
    (tests/test_one_cause.py holds every kind of import failure to it)."""
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / EX01.filename).write_text("import numpy as np\n\ndef normalize(images:\n    return images\n")
    files = {kind: tmp_path / name for kind, name in (("json", "r.json"), ("gradescope", "results.json"), ("feedback", "feedback.md"), ("classroom", "c.json"))}
    result = run_grader("ex01", "--target", folder, "--data", mnist_path, *(arg for kind, path in files.items() for arg in (f"--{kind}", path)))
    assert result.returncode == 1, result.stderr
    report = json.loads(files["json"].read_text())
    exercise = report["exercises"][0]
    checks = exercise["checks"]
    assert "SyntaxError" in exercise["import_failure"]["message"]  # the JSON report keeps the message whole, once
    pointer = f"Not checked: {EX01.filename} could not be imported; see the cause at the top of ex01."
    assert [c["message"] for c in checks] == [pointer] * len(checks)
    first, later = checks[0]["name"], [c["name"] for c in checks[1:]]
    page = files["feedback"].read_text()
    gradescope = {t["name"].split(" · ", 1)[1]: t["output"] for t in json.loads(files["gradescope"].read_text())["tests"]}
    classroom = {t["name"].split(" · ", 1)[1].rsplit(" (", 1)[0]: t["message"] for t in json.loads(files["classroom"].read_text())["tests"]}
    for shown in ("\n".join(gradescope.values()), "\n".join(classroom.values())):
        assert shown.count("was never closed") == 1 and shown.count("Likely cause: a syntax error") == 1
        assert shown.count(pointer) == len(later)  # the first test holds the cause in the pointer's place
    for shown in (page, result.stdout):
        assert shown.count("was never closed") == 1 and shown.count("Likely cause: a syntax error") == 1
        assert shown.count(pointer) == len(checks)
    assert "was never closed" in gradescope[first] and all(gradescope[name] == pointer for name in later)
    assert page.index("was never closed") < page.index(pointer)  # the full message comes first


def test_the_progress_line_names_a_mark_the_final_rules_took_back(capsys):
    """A check marked "." as it ended, which the final rules zero (a by-hand function found later to
    use a library, a dependency that then earns nothing), is named under the marks; one that kept
    its points, or was marked failed, is not."""
    from grader.cli import Progress

    course = load_course()
    progress = Progress([course.exercise("ex04")])
    for name, status in (("mcnemar_p_value", "passed"), ("compare_models_verdict", "passed"), ("confusion_matrix_values", "failed")):
        progress.mark({"exercise": "ex04", "name": name, "status": status})
    final = {"exercises": [{"id": "ex04", "checks": [{"name": "mcnemar_p_value", "status": "passed"},
                                                     {"name": "compare_models_verdict", "status": "failed"},
                                                     {"name": "confusion_matrix_values", "status": "failed"}]}]}
    progress.settle(final)
    out = capsys.readouterr().out
    assert out.startswith("..F")
    assert out.endswith("Marked . above, but earning nothing in the end (the table below says why): ex04 compare_models_verdict\n")
    final["exercises"][0]["checks"][1]["status"] = "passed"
    progress.settle(final)
    assert capsys.readouterr().out == ""


def test_a_note_for_the_instructor_is_shown_fenced_and_marked_as_ungraded():
    """A check's `note` (ex03b: the student's reason for a choice) is student text: the
    page shows it for a person, marked, inside a fence it cannot close."""
    from grader.reports.formats import markdown_feedback

    note = "choose_width() chose 32; its reason, not graded: ```\n# Score: 100/100"
    report = {
        "score": 1, "max_score": 1, "started_at": "now", "grader_version": "x", "data": None,
        "exercises": [{"id": "ex03b", "title": "T", "lesson": 3, "score": 1, "max_score": 1,
                       "checks": [{"name": "c", "status": "passed", "score": 1, "max_score": 1, "message": "", "seconds": 0, "note": note}]}],
    }
    text = markdown_feedback(report)
    assert "**For the instructor** (`c`, not graded):" in text
    assert f"````text\n{note}\n````" in text
    del report["exercises"][0]["checks"][0]["note"]
    assert "For the instructor" not in markdown_feedback(report)


def test_the_terminal_table_shows_a_note_to_the_student_who_ran_the_grader():
    """ex03b's decision and its own sweep are for the student to read too, not only
    in --json or the feedback page; the table says the note earns nothing."""
    from grader.reports.report import render_table

    note = "choose_width() chose 32 from the student's own sweep (mean validation accuracy per width [0.9, 0.95, 0.95])"
    report = {
        "target": "sub", "score": 1, "max_score": 1, "data": None,
        "exercises": [{"id": "ex03b", "title": "T", "lesson": 3, "score": 1, "max_score": 1, "status": "graded",
                       "checks": [{"name": "c", "status": "passed", "score": 1, "max_score": 1, "message": "", "seconds": 0, "note": note}]}],
    }
    assert f"Note (not graded): {note}" in render_table(report)
    del report["exercises"][0]["checks"][0]["note"]
    assert "Note (not graded)" not in render_table(report)


# ------------------------------------------------------------------ batch grading


@pytest.fixture
def classroom(tmp_path):
    subs = tmp_path / "submissions"
    for student, source in {
        "alice": EX01.solution_path.read_text(),
        "bob": EX01.solution_path.read_text(),  # identical to alice: graded once
        "carol": EX01.stub_path.read_text(),
        "=mallory": "import os\nos._exit(0)\n",
        "trent": None,  # an empty folder
    }.items():
        (subs / student).mkdir(parents=True)
        if source is not None:
            (subs / student / EX01.filename).write_text(source)
    return subs, tmp_path / "results"


def gradebook(path):
    with (path / "gradebook.csv").open(newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def test_batch_grades_a_class_and_one_bad_submission_stops_nothing(run_grader, mnist_path, classroom):
    subs, out = classroom
    result = run_grader("--batch", subs, "--out", out, "--jobs", "2")
    assert result.returncode == 0, result.stderr
    book = gradebook(out)
    assert set(book) == {"alice", "bob", "carol", "'=mallory", "trent"}  # no spreadsheet formula
    assert (book["alice"]["total"], book["bob"]["total"], book["carol"]["total"], book["'=mallory"]["total"]) == (str(EX01.max_score), str(EX01.max_score), "0", "0")
    assert book["trent"]["total"] == "0" and "no file ex01_preprocessing.py" in (out / "students" / "trent" / "feedback.md").read_text()
    assert book["alice"]["submission_sha256"] == book["bob"]["submission_sha256"]
    assert book["alice"]["data_sha256"] and book["alice"]["grader_version"]
    for student in ("alice", "carol"):
        report = json.loads((out / "students" / student / "report.json").read_text())
        assert report["student"] == student and report["submission_sha256"]
        assert report["test_half"] == "private"  # an instructor's grade: never the half students tune against
        assert report["target"] == str(subs / student)  # its own folder, also when deduplicated
        assert (out / "students" / student / "feedback.md").read_text().startswith(f"# Feedback for {student}")


@pytest.fixture(scope="module")
def trained_class(run_grader, mnist_path, tmp_path_factory):
    """A class of two graded on ex02 with the private half held back until 2099: alice's reference
    trains for two epochs (cheap), carol's is the stub. Returns (subs, out, ex02, the run)."""
    ex02 = load_course().exercise("ex02")
    tmp = tmp_path_factory.mktemp("trained-class")
    subs, out = tmp / "submissions", tmp / "out"
    (subs / "alice").mkdir(parents=True)
    source = ex02.solution_path.read_text()
    assert '"epochs": 10' in source
    (subs / "alice" / ex02.filename).write_text(source.replace('"epochs": 10', '"epochs": 2'))
    (subs / "carol").mkdir()
    (subs / "carol" / ex02.filename).write_text(ex02.stub_path.read_text())
    # A training of its own: the epochs are shown only while a model trains, and the run's shared
    # cache may already hold this one (test_holds.py grades the same two-epoch file).
    fresh = {"MNIST_COURSE_TRAINING_CACHE": str(tmp / "training-cache")}
    result = run_grader("ex02", "--batch", subs, "--out", out, "--data", mnist_path, "--private-release", "2099-01-01", env=fresh)
    assert result.returncode == 0, result.stderr
    return subs, out, ex02, result


@pytest.mark.trains
def test_batch_shows_each_student_and_each_training_epoch_while_it_runs(trained_class):
    """The instructor's terminal while models train: who is graded, each epoch as it ends, the points."""
    _, out, ex02, result = trained_class
    lines = [line.strip() for line in result.stderr.replace("\r", "\n").splitlines()]
    assert "alice: grading" in lines and "carol: grading" in lines
    epochs = [line for line in lines if line.startswith("alice: ex02 training epoch ")]
    assert [line.split(" · ")[0] for line in epochs] == ["alice: ex02 training epoch 1/2", "alice: ex02 training epoch 2/2"], lines
    assert all("accuracy" in line for line in epochs)
    score = gradebook(out)["alice"]["total"]
    assert any(line.startswith(f"alice: {score}/{ex02.max_score} points in ") for line in lines), lines
    assert any(line.startswith(f"carol: 0/{ex02.max_score} points") for line in lines)
    assert lines.index("alice: grading") < lines.index(epochs[0])


@pytest.mark.trains
def test_a_release_date_holds_the_private_grade_from_students_until_it_passes(run_grader, mnist_path, trained_class):
    """Until the date, alice's feedback page shows the public half's accuracy and score (the same
    training); the gradebook has the private grade all along; once the date has passed, the next
    run (which grades nothing again) rewrites the page with the private grade."""
    from grader.classroom.release import HELD_MARK, public_score

    subs, out, ex02, _ = trained_class
    report = json.loads((out / "students" / "alice" / "report.json").read_text())
    accuracy = next(c for c in report["exercises"][0]["checks"] if c["name"] == "build_model_test_accuracy")
    measured, public = accuracy["measured"], accuracy["measured"]["public_half"]
    assert measured["half"] == "private" and 0.5 < public["test_accuracy"] < 1 and public["test_accuracy"] != measured["test_accuracy"]
    assert gradebook(out)["alice"]["total"] == f"{report['score']:g}"  # the private grade
    page = (out / "students" / "alice" / "feedback.md").read_text()
    assert HELD_MARK in page and f"{public['test_accuracy']:.2%} on the public half" in page
    assert f"**Score: {public_score(report):g}/{report['max_score']} points**" in page
    assert f"{measured['test_accuracy']:.2%}" not in page  # nothing of the private half's accuracy
    assert json.loads((out / "private-release.json").read_text())["private_release"].startswith("2099-01-01")
    assert HELD_MARK not in (out / "students" / "carol" / "feedback.md").read_text()  # nothing trained: nothing held

    again = run_grader("ex02", "--batch", subs, "--out", out, "--data", mnist_path)  # no option: the kept date holds
    assert again.returncode == 0 and "2 already graded, 0 to grade" in again.stdout, again.stderr
    assert HELD_MARK in (out / "students" / "alice" / "feedback.md").read_text()

    released = run_grader("ex02", "--batch", subs, "--out", out, "--data", mnist_path, "--private-release", "2000-01-01")
    assert released.returncode == 0 and "2 already graded, 0 to grade" in released.stdout, released.stderr
    page = (out / "students" / "alice" / "feedback.md").read_text()
    assert HELD_MARK not in page and f"**Score: {report['score']:g}/{report['max_score']} points**" in page
    assert f"{measured['test_accuracy']:.2%}" in page
    bad = run_grader("ex02", "--batch", subs, "--out", out, "--private-release", "next friday")
    assert bad.returncode == 2 and "--private-release takes a date like 2026-12-15" in bad.stderr


def test_batch_resumes_and_regrades_only_what_changed(run_grader, mnist_path, classroom):
    subs, out = classroom
    # ex01 alone, the one exercise the class handed in: the resume is the same for
    # every exercise, and each student graded on all nine costs 3 times the CPU
    run_grader("ex01", "--batch", subs, "--out", out)
    (out / "students" / "carol" / "report.json").unlink()  # as if grading stopped before carol
    shutil.copy(EX01.solution_path, subs / "alice" / EX01.filename.replace(".py", "_notes.py"))  # alice changed
    again = run_grader("ex01", "--batch", subs, "--out", out)
    assert "3 already graded, 2 to grade" in again.stdout
    assert gradebook(out)["carol"]["status"] == "graded"
    assert "0 to grade" in run_grader("ex01", "--batch", subs, "--out", out).stdout
    assert "5 to grade" in run_grader("ex01", "--batch", subs, "--out", out, "--force").stdout
    # Graded on the other half, nothing graded on the private half stands.
    assert "0 already graded, 5 to grade" in run_grader("ex01", "--batch", subs, "--out", out, "--half", "public").stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch", "{subs}"], "--batch needs --out"),
        (["--batch", "{subs}", "--out", "{subs}/results"], "outside the submissions folder"),
        (["--batch", "{subs}", "--out", "{out}", "--jobs", "0"], "--jobs must be at least 1"),
        (["--batch", "{subs}", "--out", "{out}", "--json", "r.json"], "--json is for one submission"),
        (["--out", "{out}"], "--out only goes with --batch"),
        (["--level", "2"], "--level only goes with --hint"),
        (["--hint", "ex01", "--progress"], "do not go together"),
        (["--hint", "ex01", "one_hot", "extra"], "at most one function or check"),
        (["--batch", "{out}/empty", "--out", "{out}/r"], "no student folders"),
    ],
)
def test_batch_and_option_mistakes_are_explained(run_grader, mnist_path, classroom, args, message):
    subs, out = classroom
    (out / "empty").mkdir(parents=True)
    result = run_grader(*(a.format(subs=subs, out=out) for a in args))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_grade_is_kept_only_for_the_submission_and_grading_it_belongs_to(run_grader, mnist_path, classroom, tmp_path):
    subs, out = classroom
    run_grader("ex01", "--batch", subs, "--out", out)
    report = out / "students" / "alice" / "report.json"
    forged = json.loads(report.read_text())
    forged["grading_key"] = "graded by an older grader"
    report.write_text(json.dumps(forged))
    assert "4 already graded, 1 to grade" in run_grader("ex01", "--batch", subs, "--out", out).stdout


def test_junit_and_json_survive_any_character_a_student_can_raise(run_grader, mnist_path, tmp_path):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / EX01.filename).write_text("def normalize(images):\n    raise ValueError('\\ud800 \\uffff \\x00 \\x1b[2J')\n")
    result = run_grader("ex01", "--target", folder, "--junit", tmp_path / "j.xml", "--json", tmp_path / "r.json")
    assert result.returncode == 1, result.stderr
    ET.parse(tmp_path / "j.xml")
    assert "\\ud800" in json.loads((tmp_path / "r.json").read_text())["exercises"][0]["checks"][0]["message"]


def test_batch_accepts_relative_paths(run_grader, mnist_path, classroom):
    subs, out = classroom
    result = run_grader("ex01", "--batch", subs.name, "--out", out.name, cwd=subs.parent)
    assert result.returncode == 0, result.stderr
    assert gradebook(out)["alice"]["total"] == str(EX01.max_score)


def test_the_misclassified_digits_are_shown_as_the_variant_had_them_graded():
    """ex05's `shifted` variant tests on moved digits (mnist_course/constraints.py): the feedback page's
    most confident mistakes are those digits, moved, never the centred ones the model did not read."""
    import numpy as np

    from grader.reports.figures import _as_graded
    from mnist_course.constraints import digit_shifts, shifted

    images = np.zeros((6, 28, 28), dtype=np.uint8)
    images[:, 12:16, 12:16] = 255  # a square in the middle of each
    moved = _as_graded({"id": "ex05", "variant": {"key": "shifted"}}, images)
    rows, columns = digit_shifts(6, 4)
    assert np.array_equal(moved, shifted(images, rows, columns)) and not np.array_equal(moved, images)
    for image, dy, dx in zip(moved, rows, columns):
        assert image[12 + dy, 12 + dx] == 255 and image.sum() == images[0].sum()  # moved, not cut: 4 pixels fit
    assert _as_graded({"id": "ex05", "variant": {"key": "budget"}}, images) is images
    assert _as_graded({"id": "ex04"}, images) is images
