"""Every hold holds, and no grade is lost (issue 40, items 3 and 4).

A hold (`--private-release DATE` on the batch, `--private-visibility` on
Gradescope) covers every check measured on the private half, whichever exercise
measured it: ex02b's training by hand as much as ex02's Keras training. Per
route and per kind, no file a student receives carries the private half's
accuracy before the date, and after it they do; the old rule (a check is held
when it recorded a public-half figure), monkeypatched back, leaks ex02b's
private accuracy. `grader release` writes canvas.csv with the held checks'
points left out.

The gradebook is the union of everything graded into --out: `--only STUDENT
--reason TEXT` regrades one student and leaves the others' reports, rows and
pages byte for byte; a run on a folder holding one student keeps the others'
rows and says so; a grade withdrawn is said in the terminal.

The holds train (ex02b by hand, 4 epochs: about 10 s; ex02 the same two-epoch
file as test_reports.py's class, which trains it in a cache of its own); the grade
loss tests grade ex01 only.
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
from pathlib import Path

import pytest

from grader.settings import DRAW_KEY_ENV
from mnist_course.course import ROOT, load_course

COURSE = load_course()
EX01 = COURSE.exercise("ex01")
HOLD, PASSED = "2099-01-01", "2000-01-01"
# The file each kind hands in: a reference trained for fewer epochs, so that the accuracy
# check earns part of its points and the two halves' figures differ.
KINDS = {"ex02b": ('"epochs": 20', '"epochs": 4'), "ex02": ('"epochs": 10', '"epochs": 2')}


def _cli(*args, timeout=900, env=None):
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


# The held class's draw key (grader/draws.py): ex02b's 4-epoch training must land inside the band (part of
# its points), and where it lands depends on the MNIST pixel rotation the key draws; a batch would make a new
# key for each run.
HELD_CLASS_KEY = {DRAW_KEY_ENV: "the held class"}


def _gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open(newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def _received(folder: Path) -> dict[str, str]:
    """Every file under `folder` a student may be handed, as text; a zip's members each on their own."""
    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                texts.update({f"{path.name}:{name}": archive.read(name).decode("utf-8", "replace") for name in archive.namelist()})
        else:
            texts[str(path.relative_to(folder))] = path.read_bytes().decode("utf-8", "replace")
    return texts


def _held_check(report: dict) -> dict:
    from grader.classroom.release import on_private_half

    held = [c for ex in report["exercises"] for c in ex["checks"] if on_private_half(c)]
    assert len(held) == 1, [c["name"] for ex in report["exercises"] for c in ex["checks"]]
    return held[0]


def _figures(accuracy: float) -> list[str]:
    """How an accuracy is written in the files: the pages' percentage, the JSON's number."""
    return [f"{accuracy:.2%}", json.dumps(accuracy)]


def _leaks(texts: dict[str, str], private: list[str]) -> list[str]:
    return [f"{name}: {figure}" for name, text in texts.items() for figure in private if figure in text]


@pytest.fixture(scope="module", params=sorted(KINDS))
def held_class(request, tmp_path_factory, mnist_path):
    """One student, alice, graded on `kind` (ex02b: by hand; ex02: Keras) by the batch with the private
    half held until 2099. Returns (kind, submissions, out, alice's report, the held check)."""
    from grader.classroom.release import public_points

    kind = request.param
    exercise = COURSE.exercise(kind)
    folder = tmp_path_factory.mktemp(f"held-{kind}")
    subs, out = folder / "submissions", folder / "results"
    (subs / "alice").mkdir(parents=True)
    source = exercise.solution_path.read_text()
    old, new = KINDS[kind]
    assert old in source
    (subs / "alice" / exercise.filename).write_text(source.replace(old, new))
    done = _cli(kind, "--batch", subs, "--out", out, "--data", mnist_path, "--private-release", HOLD, env=HELD_CLASS_KEY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Held until {HOLD}" in done.stdout and "1 students' feedback shows the public half" in done.stdout, done.stdout
    report = json.loads((out / "students" / "alice" / "report.json").read_text())
    check = _held_check(report)
    measured = check["measured"]
    public = measured["public_half"]  # ex02b records it as the Keras checks do
    assert measured["half"] == "private" and 0.5 < public["test_accuracy"] < 1
    assert set(_figures(measured["test_accuracy"])).isdisjoint(_figures(public["test_accuracy"]))  # the test can tell them apart
    if kind == "ex02b":  # part of the points: the private grade is a number of its own (ex02's file is test_reports.py's, a hit in the cache)
        assert 0 < check["score"] < check["max_score"] and public_points(check) != check["score"], check
    return kind, subs, out, report, check


@pytest.mark.trains
def test_a_hold_holds_on_the_batch_route_and_in_the_release(held_class, tmp_path, mnist_path):
    """Before the date: alice's pages show the public half, `grader release` hands her nothing with
    the private accuracy and writes canvas.csv without the held check's points. After it: all of it."""
    from grader.classroom.release import HELD_MARK

    kind, subs, out, report, check = held_class
    private = _figures(check["measured"]["test_accuracy"])
    public = check["measured"]["public_half"]
    assert _gradebook(out)["alice"]["total"] == f"{report['score']:g}"  # the instructor's gradebook: the private grade
    pages = {name: (out / "students" / "alice" / name).read_text() for name in ("feedback.md", "feedback.html")}
    assert not _leaks(pages, private)
    assert all(HELD_MARK in page and f"{public['test_accuracy']:.2%} on the public half" in page for page in pages.values())

    released = tmp_path / "release"
    done = _cli("release", out, "--to", released, "--per-check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{kind} {check['name']} ({check['max_score']:g} points)" in done.stdout and "left out" in done.stdout, done.stdout
    texts = _received(released)  # alice's folder, her zip's members, and canvas.csv
    assert texts and not _leaks(texts, private), _leaks(texts, private)
    assert not (released / "alice" / "report.json").exists()
    rows = list(csv.reader(io.StringIO((released / "canvas.csv").read_text())))
    header, possible, alice = rows[0], rows[1], rows[2]
    assert f"{kind} {check['name']}" not in header and len(header) == 6 + sum(len(ex["checks"]) for ex in report["exercises"]) - 1
    others = round(report["score"] - check["score"], 2)
    assert float(alice[5]) == pytest.approx(others) and float(possible[5]) == report["max_score"] - check["max_score"]

    # The date passes: the next run grades nothing and rewrites the page; the release carries everything.
    again = _cli(kind, "--batch", subs, "--out", out, "--data", mnist_path, "--private-release", PASSED, env=HELD_CLASS_KEY)
    assert again.returncode == 0 and "1 already graded, 0 to grade" in again.stdout, again.stdout + again.stderr
    page = (out / "students" / "alice" / "feedback.md").read_text()
    assert HELD_MARK not in page and private[0] in page
    after = _cli("release", out, "--to", released, "--per-check")
    assert after.returncode == 0 and "left out" not in after.stdout, after.stdout + after.stderr
    assert private[1] in (released / "alice" / "report.json").read_text()
    rows = list(csv.reader(io.StringIO((released / "canvas.csv").read_text())))
    assert f"{kind} {check['name']}" in rows[0] and float(rows[2][5]) == pytest.approx(report["score"])


@pytest.mark.trains
def test_a_hold_holds_on_the_gradescope_route(held_class, tmp_path, mnist_path):
    """Gradescope's results.json from the route's own command (autograde.py runs it so): every test a
    student sees meanwhile is free of the private accuracy; the held test, which Gradescope shows once
    the instructor publishes, carries it, as does every test without the hold."""
    from grader.reports.formats import gradescope_results

    kind, subs, _, _, batch_check = held_class
    results, report_path = tmp_path / "results.json", tmp_path / "report.json"
    done = _cli(kind, "--target", subs / "alice", "--half", "private", "--data", mnist_path,
                "--gradescope", results, "--json", report_path, "--private-visibility", "after_published", env=HELD_CLASS_KEY)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    report = json.loads(report_path.read_text())
    check = _held_check(report)
    assert check["measured"]["test_accuracy"] == batch_check["measured"]["test_accuracy"]  # the same training, graded the same
    private = _figures(check["measured"]["test_accuracy"])
    data = json.loads(results.read_text())
    visible = {t["name"]: json.dumps(t) for t in data["tests"] if t["visibility"] == "visible"} | {"output": data["output"]}
    assert not _leaks(visible, private), _leaks(visible, private)
    held = [t for t in data["tests"] if t["visibility"] == "after_published"]
    assert [t["name"] for t in held] == [f"{kind} · {check['name']} (private half: your grade)"]
    assert held[0]["score"] == check["score"] and private[0] in held[0]["output"]
    shown = gradescope_results(report)  # no hold: everything visible, the private accuracy with it
    assert all(t["visibility"] == "visible" for t in shown["tests"]) and _leaks({"t": json.dumps(shown["tests"])}, private)


@pytest.mark.trains
@pytest.mark.parametrize("held_class", ["ex02b"], indirect=True)
def test_the_old_rule_leaks_ex02bs_private_accuracy(held_class, monkeypatch):
    """Proven the other way: the rule the routes asked before (a check is held when it recorded a
    public-half figure), monkeypatched back, on ex02b's report as ex02b recorded it then (no public
    half), shows the private accuracy on the page and on Gradescope. The one rule holds it."""
    from grader.classroom import release
    from grader.reports import formats, holds
    from grader.reports.formats import gradescope_results, markdown_feedback

    _, _, _, report, check = held_class
    private = _figures(check["measured"]["test_accuracy"])
    as_then = json.loads(json.dumps(report))
    for c in (c for ex in as_then["exercises"] for c in ex["checks"]):
        (c.get("measured") or {}).pop("public_half", None)
    until = release.parse_release(HOLD)

    def shown(r):
        return {"page": markdown_feedback(release.public_view(r, until)),
                "gradescope": json.dumps([t for t in gradescope_results(r, "after_published")["tests"] if t["visibility"] == "visible"])}

    assert not _leaks(shown(as_then), private) and not _leaks(shown(report), private)
    old_rule = lambda c: isinstance((c.get("measured") or {}).get("public_half"), dict)  # noqa: E731
    monkeypatch.setattr(holds, "on_private_half", old_rule)
    monkeypatch.setattr(formats, "on_private_half", old_rule)
    assert set(_leaks(shown(as_then), private)) >= {f"page: {private[0]}", f"gradescope: {private[0]}"}


def _check(**measured) -> dict:
    """An accuracy check as ex02b's train_test_accuracy records it on the private half (built by hand: no training)."""
    return {"name": "train_test_accuracy", "function": "train", "status": "failed", "score": 3.8, "max_score": 5, "seconds": 1.0,
            "message": "Test accuracy 95.88% on the private half: 0.12 percentage points below the bar", "cause": "too little training",
            "measured": {"half": "private", "dataset": "mnist-22k", "test_images": 5000, "threshold": 0.96, "band": 0.005,
                         "test_accuracy": 0.9588, "margin": -0.0012, **measured}}


def _report(check: dict) -> dict:
    return {"score": 23.8, "max_score": 25, "test_half": "private", "started_at": "2026-11-20T09:30:00Z", "grader_version": "test", "exercises": [
        {"id": "ex02b", "title": "Backprop", "lesson": 2, "status": "incomplete", "score": 23.8, "max_score": 25, "checks": [
            {"name": "loss_value", "function": "loss", "status": "passed", "score": 20, "max_score": 20, "message": "", "seconds": 0.1}, check]}]}


@pytest.mark.parametrize("public, shown, points", [
    ({"test_accuracy": 0.9572, "threshold": 0.962, "band": 0.005, "fraction": 0.04}, "95.72% on the public half", 0.2),
    ({"test_accuracy": 0.97, "threshold": 0.962, "band": 0.005, "fraction": 0.0, "not_credited": "train_learns_unseen_task"},
     "counts only for a train() that learned the task drawn for this submission", 0),
    (None, "measured on the private half of the test set only, so nothing of its result is shown", 0),
])
def test_what_a_held_check_shows(public, shown, points):
    """The public half's measure, with why it earns nothing when train() did not learn its unseen task; a check
    that recorded no public-half figure shows nothing of its result (never the private one)."""
    from grader.classroom.release import parse_release, public_view
    from grader.reports.formats import markdown_feedback

    check = _check(**({"public_half": public} if public else {}))
    view = public_view(_report(check), parse_release(HOLD))
    held = view["exercises"][0]["checks"][1]
    page = markdown_feedback(view)
    assert shown in held["message"] and held["score"] == points and view["score"] == 20 + points
    assert "95.88%" not in page and "3.8" not in page and not {"too little training", "0.9588"} & {t for t in ("too little training", "0.9588") if t in json.dumps(view)}


# ------------------------------------------------------------------ no grade is lost (ex01 only)


def _hand_in(subs: Path, student: str, source: str) -> None:
    (subs / student).mkdir(parents=True, exist_ok=True)
    (subs / student / EX01.filename).write_text(source)


def _snapshot(out: Path, students) -> dict[str, bytes]:
    return {f"{s}/{name}": (out / "students" / s / name).read_bytes() for s in students for name in ("report.json", "feedback.md", "feedback.html")}


@pytest.fixture(scope="module")
def class_of_three(tmp_path_factory, mnist_path):
    """ada: the reference; bob: the stub; carol: the reference without its pixel scaling. Graded on ex01."""
    folder = tmp_path_factory.mktemp("class-of-three")
    subs, out = folder / "submissions", folder / "results"
    source = EX01.solution_path.read_text()
    unscaled = "return images.astype(np.float32) / np.float32(255)"
    assert unscaled in source
    _hand_in(subs, "ada", source)
    _hand_in(subs, "bob", EX01.stub_path.read_text())
    _hand_in(subs, "carol", source.replace(unscaled, "return images.astype(np.float32)"))
    done = _cli("ex01", "--batch", subs, "--out", out, "--data", mnist_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return subs, out


def test_only_regrades_the_students_named_and_records_why(class_of_three, tmp_path, mnist_path):
    from grader.classroom.gradebook import STALE

    class_subs, graded = class_of_three
    subs, out = tmp_path / "submissions", tmp_path / "results"
    shutil.copytree(class_subs, subs)
    shutil.copytree(graded, out)
    before, book = _snapshot(out, ("ada", "carol")), _gradebook(out)
    reason = "re-marked after office hours: the TA checked the one-hot by hand"
    done = _cli("ex01", "--batch", subs, "--out", out, "--data", mnist_path, "--only", "bob", "--reason", reason)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"regrading 1 (--only: bob; why: {reason})" in done.stdout, done.stdout
    assert _snapshot(out, ("ada", "carol")) == before  # byte for byte
    after = _gradebook(out)
    assert {s: after[s] for s in ("ada", "carol")} == {s: book[s] for s in ("ada", "carol")} and after["bob"]["status"] == "graded"
    change = json.loads((out / "history" / "bob" / "changes.jsonl").read_text().splitlines()[-1])
    assert change["why"] == f"regraded: {reason}" and change["old_score"] == change["new_score"] == 0
    report = json.loads((out / "students" / "bob" / "report.json").read_text())
    assert report["earlier_grades"][-1]["why"] == f"regraded: {reason}" and reason in (out / "students" / "bob" / "feedback.md").read_text()
    assert f"bob: 0 -> 0 of {EX01.max_score} (regraded: {reason})" in done.stdout

    # carol hands in again: an --only run that does not regrade her shows her grade as an earlier run's, never drops it.
    (subs / "carol" / EX01.filename).write_text(EX01.solution_path.read_text())
    stale = _cli("ex01", "--batch", subs, "--out", out, "--data", mnist_path, "--only", "bob", "--reason", reason)
    assert stale.returncode == 0, stale.stdout + stale.stderr
    assert _gradebook(out)["carol"]["status"] == STALE and _gradebook(out)["carol"]["total"] == book["carol"]["total"]
    assert STALE in (out / "class.html").read_text().replace("&#x27;", "'")

    # The other way: --force regrades everyone, and the comparison above sees ada's files change.
    forced = _cli("ex01", "--batch", subs, "--out", out, "--data", mnist_path, "--force", "--reason", "a grader fix")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert _snapshot(out, ("ada", "carol")) != before

    for args, said in [
        (["--only", "bob"], "say why with --reason TEXT"),
        (["--only", "zed", "--reason", "x"], "zed: no such folder"),
        (["--reason", "x"], "goes with --only STUDENT... or --force"),
    ]:
        bad = _cli("ex01", "--batch", subs, "--out", out, "--data", mnist_path, *args)
        assert bad.returncode == 2 and said in bad.stderr, bad.stdout + bad.stderr


def test_a_run_on_a_folder_of_one_student_keeps_the_others_rows(class_of_three, tmp_path, mnist_path):
    """Grading one student's folder into the class's --out (to regrade them, say) keeps the two others
    in gradebook.csv and class.html, marked and said; `grader release` still hands their grades back."""
    from grader.classroom.gradebook import ABSENT

    subs, graded = class_of_three
    out, alone = tmp_path / "results", tmp_path / "alone"
    shutil.copytree(graded, out)
    book = _gradebook(out)
    shutil.copytree(subs / "carol", alone / "carol")
    (alone / "carol" / EX01.filename).write_text(EX01.solution_path.read_text())  # carol's fixed file
    done = _cli("ex01", "--batch", alone, "--out", out, "--data", mnist_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"2 students graded earlier are not in {alone}: their grades stay in the gradebook" in done.stdout, done.stdout
    after = _gradebook(out)
    assert sorted(after) == ["ada", "bob", "carol"]
    for student in ("ada", "bob"):
        assert after[student]["status"] == ABSENT and after[student]["total"] == book[student]["total"]
        assert {k: v for k, v in after[student].items() if k != "status"} == {k: v for k, v in book[student].items() if k != "status"}
    assert after["carol"]["status"] == "graded" and after["carol"]["total"] == str(EX01.max_score) != book["carol"]["total"]
    assert "2 graded by an earlier run and not in this run's submissions" in (out / "class.html").read_text()
    released = _cli("release", out, "--to", tmp_path / "release")
    assert released.returncode == 0, released.stdout + released.stderr
    rows = list(csv.reader(io.StringIO((tmp_path / "release" / "canvas.csv").read_text())))
    assert [row[0] for row in rows[2:]] == ["ada", "bob", "carol"]


def test_a_withdrawn_grade_is_said_in_the_terminal(class_of_three, tmp_path, mnist_path, monkeypatch, capsys):
    """A grade that goes (the submission could not be read on a regrade) is kept in history and said."""
    from grader.classroom import batch
    from grader.settings import RunSettings

    subs, graded = class_of_three
    out = tmp_path / "results"
    shutil.copytree(graded, out)
    ada = json.loads((out / "students" / "ada" / "report.json").read_text())

    def unreadable(self, folder, *args, **kwargs):
        raise OSError(f"{folder.name}: the disk holding it went away")

    monkeypatch.setattr(batch.LocalPool, "grade", unreadable)
    request = batch.BatchRequest(subs, out, [EX01], RunSettings(half="private", data=mnist_path), ada["data"]["sha256"],
                                 only=("ada",), reason="checking a complaint")
    assert batch.run_batch(request) == 1
    said = capsys.readouterr().out
    assert f"ada: {ada['score']}/{ada['max_score']} withdrawn (error: the submission could not be read" in said, said
    assert "kept in history/ada/" in said and not (out / "students" / "ada" / "report.json").exists()
    assert json.loads((out / "history" / "ada" / "changes.jsonl").read_text().splitlines()[-1])["why"].endswith("regraded because: checking a complaint")
    assert _gradebook(out)["ada"]["status"].startswith("error")


def test_a_refused_folders_earlier_grade_is_named(class_of_three, tmp_path, mnist_path):
    """bob's folder turns into a symbolic link (refused): his row says why, and the terminal names the
    earlier grade the row no longer shows and where it is kept."""
    class_subs, graded = class_of_three
    subs, out = tmp_path / "submissions", tmp_path / "results"
    shutil.copytree(class_subs, subs)
    shutil.copytree(graded, out)
    shutil.rmtree(subs / "bob")
    (subs / "bob").symlink_to(subs / "ada")
    done = _cli("ex01", "--batch", subs, "--out", out, "--data", mnist_path)
    assert done.returncode == 1 and _gradebook(out)["bob"]["status"].startswith("error"), done.stdout + done.stderr
    assert f"bob: the earlier grade 0/{EX01.max_score} is not in the gradebook while the folder is refused" in done.stderr, done.stderr
    assert (out / "students" / "bob" / "report.json").is_file()


def test_a_late_penalty_on_a_held_page_tells_nothing_of_the_private_score(monkeypatch):
    """An adversarial review found the late text quoting the private raw score and its penalty (23.8 - 2.38)
    beside the public score: the penalty is said on the view's own score, with the same percentage."""
    from grader.classroom.release import parse_release
    from grader.reports import holds
    from grader.reports.holds import public_view
    from grader.reports.formats import markdown_feedback

    late = {"due": "2026-11-20T10:00:00+00:00", "extension": None, "submitted_at": "2026-11-20T20:00:00+00:00",
            "submitted_at_source": "canvas", "raw_score": 23.8, "late_seconds": 36000, "lateness": "10 h",
            "late_days_used": 0, "penalty_percent": 10, "penalty_points": 2.38, "final_score": 21.42, "why": "1 started day x 10% = 10%"}
    report = {**_report(_check(public_half={"test_accuracy": 0.9572, "threshold": 0.962, "band": 0.005, "fraction": 0.04})), "late": late}
    view = public_view(report, parse_release(HOLD))
    page = markdown_feedback(view)
    assert view["late"]["raw_score"] == view["score"] == 20.2 and view["late"]["penalty_points"] == 2.02 and view["late"]["final_score"] == 18.18
    assert "23.8" not in page and "2.38" not in page and "21.42" not in page
    monkeypatch.setattr(holds, "on_score", lambda late, raw: late)  # switched off: the private figures are on the page
    assert "23.8" in markdown_feedback(public_view(report, parse_release(HOLD)))
