"""Due dates, late work and extensions (grader/classroom/deadlines.py): the policy's arithmetic
and every bad input without grading; then ONE class of four graded on ex01 (no model trained),
reused by every assertion: the gradebook, Canvas's CSV (`grader release`), the feedback pages
and class.html show raw score, penalty and final score; the submission-times file is used over
the files' time and said; a re-run with another due date updates the penalty without grading.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from calendar import timegm
from datetime import datetime, timezone
from pathlib import Path

import pytest

from corpus import edited
from grader.classroom import deadlines
from grader.classroom.deadlines import DeadlineError, late_section, make_policy
from mnist_course.course import ROOT, load_course

EX01 = load_course().exercise("ex01")
UNSCALED = {"return images.astype(np.float32) / np.float32(255)": "return images.astype(np.float32)"}
DUE = "2026-11-20T10:00:00Z"
POLICY = ["--due", DUE, "--late-penalty", "10%/day", "--late-cap", "25", "--late-days", "1", "--cutoff", "2026-11-30T10:00Z"]


# ------------------------------------------------------------------ the arithmetic, no grading


def _late(submitted: str, student: str = "s", **options):
    return late_section(make_policy(**{"due": DUE, **options}), student, 20, submitted, "test")


def test_lateness_is_counted_in_started_days_and_late_days_absorb_them_first():
    assert _late("2026-11-20T10:00:00Z", late_penalty="10%/day")["penalty_points"] == 0  # at the due date: on time
    one_minute = _late("2026-11-20T10:01:00Z", late_penalty="10%/day")
    assert (one_minute["penalty_percent"], one_minute["penalty_points"], one_minute["final_score"]) == (10, 2, 18)  # a started day
    assert _late("2026-11-22T10:01:00Z", late_penalty="10%/day")["penalty_percent"] == 30  # 2 days 1 minute: 3 started days
    absorbed = _late("2026-11-21T09:00:00Z", late_penalty="10%/day", late_days=1)
    assert (absorbed["late_days_used"], absorbed["penalty_points"], absorbed["final_score"]) == (1, 0, 20)
    past = _late("2026-11-21T11:00:00Z", late_penalty="10%/day", late_days=1)  # 25 h: one late day, then one started day
    assert (past["late_days_used"], past["penalty_percent"]) == (1, 10) and "1 late day used" in past["why"]
    hourly = _late("2026-11-20T12:30:00+00:00", late_penalty="2%/hour")
    assert hourly["penalty_percent"] == 6  # 2 h 30 min: 3 started hours


def test_the_cap_and_the_cutoff():
    capped = _late("2026-11-27T10:00:00Z", late_penalty="10%/day", late_cap=25)
    assert capped["penalty_percent"] == 25 and "capped at 25%" in capped["why"]
    uncapped = _late("2026-11-27T10:00:00Z", late_penalty="10%/day")
    assert uncapped["penalty_percent"] == 70  # the cap above is what held it to 25
    after = _late("2026-11-22T10:00:01Z", late_penalty="0%/day", cutoff="2026-11-22T10:00Z")
    assert (after["final_score"], after["penalty_points"]) == (0, 20) and "cut-off" in after["why"]
    assert _late("2026-11-22T10:00:00Z", late_penalty="0%/day", cutoff="2026-11-22T10:00Z")["final_score"] == 20  # at the cut-off: accepted


def test_an_extension_moves_the_due_date_and_the_cutoff(tmp_path):
    extensions = tmp_path / "extensions.csv"
    extensions.write_text("student,extension\ndan,48h\neve,2026-11-25T10:00+01:00\n")
    policy = make_policy(due=DUE, late_penalty="10%/day", cutoff="2026-11-21T10:00Z", extensions=str(extensions))
    inside = late_section(policy, "dan", 20, "2026-11-22T09:00:00Z", "test")
    assert inside["final_score"] == 20 and "inside the extension" in inside["why"] and inside["extension"]["said"] == "48h"
    assert late_section(policy, "zoe", 20, "2026-11-22T09:00:00Z", "test")["final_score"] == 0  # without it: past the cut-off
    eve = late_section(policy, "eve", 20, "2026-11-25T09:30:00Z", "test")  # her due date, 10:00+01:00, is 09:00Z
    assert (eve["late_seconds"], eve["final_score"]) == (1800, 18)  # half an hour late: one started day, not past her moved cut-off


# ------------------------------------------------------------------ bad input, said with file and line


def _error(**options) -> str:
    with pytest.raises(DeadlineError) as caught:
        make_policy(**options)
    return str(caught.value)


def test_bad_input_is_refused_with_the_file_and_the_line(tmp_path):
    assert "no time zone" in _error(due="2026-11-20T10:00")
    assert "not a date and time" in _error(due="next friday")
    assert "between 0% and 100%" in _error(due=DUE, late_penalty="-5%/day")
    assert "is not a penalty" in _error(due=DUE, late_penalty="10 points")
    assert "give the due date with --due" in _error(late_penalty="10%/day")
    assert "before the due date" in _error(due=DUE, cutoff="2026-11-19T10:00Z")
    before = tmp_path / "before.csv"
    before.write_text("student,extension\nada,2d\ndan,2026-11-19T10:00Z\n")
    message = _error(due=DUE, extensions=str(before))
    assert f"{before} line 3" in message and "not after the due date" in message
    naive = tmp_path / "naive.csv"
    naive.write_text("student,extension\ndan,2026-11-22T10:00\n")
    assert f"{naive} line 2" in _error(due=DUE, extensions=str(naive)) and "no time zone" in _error(due=DUE, extensions=str(naive))
    short = tmp_path / "submission_times.csv"
    short.write_text("student,submitted_at,source\nada,2026-11-20T09:00Z,canvas\nbob\n")
    assert f"{short} line 3" in _error(submission_times=str(short))
    zoneless = tmp_path / "zoneless.csv"
    zoneless.write_text("student,submitted_at\nada,2026-11-20T09:00\n")
    assert f"{zoneless} line 2" in _error(submission_times=str(zoneless))
    header = tmp_path / "header.csv"
    header.write_text("name,when\nada,2026-11-20T09:00Z\n")
    assert f"{header} line 1" in _error(submission_times=str(header))
    # Proven the other way: the same files, corrected, are accepted.
    before.write_text("student,extension\nada,2d\ndan,2026-11-21T10:00Z\n")
    assert set(make_policy(due=DUE, extensions=str(before)).extensions) == {"ada", "dan"}
    short.write_text("student,submitted_at,source\nada,2026-11-20T09:00Z,canvas\nbob,2026-11-20T09:00+01:00,\n")
    assert make_policy(submission_times=str(short)).times["bob"] == ("2026-11-20T09:00:00+01:00", "submission_times.csv")


def test_an_unknown_student_in_the_extensions_file_is_an_error(tmp_path):
    extensions = tmp_path / "extensions.csv"
    extensions.write_text("student,extension\ndna,48h\n")  # a typo of dan
    policy = make_policy(due=DUE, extensions=str(extensions))
    with pytest.raises(DeadlineError, match="names dna, who is not a student folder"):
        deadlines.check_students(policy, ["ada", "dan"], tmp_path)
    deadlines.check_students(make_policy(due=DUE), ["ada", "dan"], tmp_path)  # the other way: nobody unknown, no error
    extensions.write_text("student,extension\ndan,48h\n")
    deadlines.check_students(make_policy(due=DUE, extensions=str(extensions)), ["ada", "dan"], tmp_path)


def test_the_times_file_named_wins_over_the_one_in_submissions_and_a_refused_policy_is_not_kept(tmp_path):
    subs, out = tmp_path / "submissions", tmp_path / "results"
    subs.mkdir()
    (subs / deadlines.TIMES_FILE).write_text("student,submitted_at,source\nada,2026-11-20T09:00Z,lms\n")
    named = tmp_path / "classroom.csv"
    named.write_text("student,submitted_at,source\nada,2026-11-21T09:00Z,github commit\n")
    assert deadlines.resolve({"due": DUE}, subs, out, ["ada"]).times["ada"][1] == "lms"  # found in SUBMISSIONS
    assert deadlines.resolve({"due": DUE, "submission_times": str(named)}, subs, out, ["ada"]).times["ada"][1] == "github commit"
    assert deadlines.resolve({}, subs, out, ["ada"]).options["submission_times"] == str(named.resolve())  # kept for the next run
    with pytest.raises(DeadlineError, match="names ada"):
        deadlines.resolve({"due": "2026-11-25T10:00Z", "submission_times": str(named)}, subs, out, ["bob"])
    assert deadlines.saved(out)["due"] == DUE  # the refused policy did not replace the kept one


# ------------------------------------------------------------------ one class, graded once


def _grade(subs: Path, out: Path, mnist_path, *extra):
    return subprocess.run([sys.executable, "-m", "grader", "ex01", "--batch", str(subs), "--out", str(out), "--data", mnist_path, *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)


def _hand_in(subs: Path, student: str, source: str, when: str) -> None:
    (subs / student).mkdir(parents=True, exist_ok=True)
    path = subs / student / EX01.filename
    path.write_text(source)
    stamp = timegm(datetime.fromisoformat(when).astimezone(timezone.utc).timetuple())
    os.utime(path, (stamp, stamp))


def _gradebook(out: Path) -> dict[str, dict[str, str]]:
    with (out / "gradebook.csv").open(newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def _report(out: Path, student: str) -> dict:
    return json.loads((out / "students" / student / "report.json").read_text())


@pytest.fixture(scope="module")
def late_class(tmp_path_factory, mnist_path):
    """Due 2026-11-20 10:00 UTC, 10%/day capped at 25%, 1 late day, cut-off 30 Nov. ada: on time;
    carol (pixels not scaled): 25 h late, one late day then 10%; dan: 23 h late inside a 48 h
    extension; bob: files on time, but the submission-times file says 3 days 30 min late (one late
    day absorbs a day, 2 d 30 min left: 3 started days, 30%, capped at 25%)."""
    folder = tmp_path_factory.mktemp("deadlines")
    subs, out = folder / "submissions", folder / "results"
    solution = EX01.solution_path.read_text()
    _hand_in(subs, "ada", solution, "2026-11-20T09:30:00+00:00")
    _hand_in(subs, "carol", edited("ex01", UNSCALED), "2026-11-21T11:00:00+00:00")
    _hand_in(subs, "dan", solution, "2026-11-21T09:00:00+00:00")
    _hand_in(subs, "bob", solution, "2026-11-20T09:30:00+00:00")
    (subs / deadlines.TIMES_FILE).write_text("student,submitted_at,source\nbob,2026-11-23T10:30:00Z,canvas\n")
    extensions = folder / "extensions.csv"
    extensions.write_text("student,extension\ndan,48h\n")
    done = _grade(subs, out, mnist_path, *POLICY, "--extensions", str(extensions))
    assert done.returncode == 0, done.stderr
    assert "Late policy (on top of the raw scores): due 2026-11-20T10:00:00+00:00; 10%/day per started day; capped at 25%" in done.stdout
    # each student's line in the terminal gives the final score too (an instructor's walk saw only the raw one)
    said = done.stdout + done.stderr
    assert f"bob: {EX01.max_score}/{EX01.max_score} points, {EX01.max_score * 0.75:g} after the late penalty (25%)" in said, said[-3000:]
    assert "ada: " in said and "after the late penalty" not in next(line for line in said.splitlines() if "ada: " in line)
    return subs, out, folder


def test_the_gradebook_has_raw_score_penalty_and_final_score(late_class):
    _, out, _ = late_class
    book = _gradebook(out)
    raw = {s: float(book[s]["total"]) for s in book}
    assert raw["ada"] == raw["bob"] == raw["dan"] == EX01.max_score and 0 < raw["carol"] < EX01.max_score
    expected = {"ada": 0, "dan": 0, "carol": round(raw["carol"] * 0.10, 2), "bob": round(raw["bob"] * 0.25, 2)}
    for student, penalty in expected.items():
        assert float(book[student]["late_penalty"]) == pytest.approx(penalty), student
        assert float(book[student]["final_score"]) == pytest.approx(raw[student] - penalty), student
    assert book["bob"]["submitted_at_source"] == "canvas" and book["ada"]["submitted_at_source"] == deadlines.FILE_TIME


def test_the_report_keeps_the_raw_score_and_says_where_the_time_came_from(late_class):
    _, out, _ = late_class
    bob, dan = _report(out, "bob"), _report(out, "dan")
    assert bob["score"] == EX01.max_score  # the raw score: the penalty is on top, never inside the checks
    assert bob["submitted_at"] == "2026-11-23T10:30:00+00:00" and bob["submitted_at_source"] == "canvas"  # over the file time
    assert bob["file_submitted_at"] == "2026-11-20T09:30:00Z"
    assert (bob["late"]["late_days_used"], bob["late"]["penalty_percent"]) == (1, 25) and "capped at 25%" in bob["late"]["why"]
    assert dan["late"]["extension"]["said"] == "48h" and dan["late"]["penalty_points"] == 0 and "inside the extension" in dan["late"]["why"]
    schema = json.loads((ROOT / "grader" / "reports" / "report.schema.json").read_text())
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(bob, schema)


def test_pages_and_canvas_show_the_penalty(late_class, tmp_path):
    _, out, _ = late_class
    carol = _report(out, "carol")
    page = (out / "students" / "carol" / "feedback.md").read_text()
    assert f"Late penalty: {carol['late']['penalty_points']} points (10%)" in page and "1 late day used" in page
    assert f"final score {carol['late']['final_score']}/{EX01.max_score}" in page
    # the top of the page gives the final score beside the raw one (an instructor's walk read only the raw one there)
    top = f"**Score: {carol['score']}/{EX01.max_score} points** · **final score after the late penalty: {carol['late']['final_score']}/{EX01.max_score}**"
    assert page.splitlines()[2] == top, page.splitlines()[:3]
    assert "after the late penalty" not in (out / "students" / "ada" / "feedback.md").read_text()
    assert "No late penalty: submitted on time" in (out / "students" / "ada" / "feedback.md").read_text()
    # the submission time in the due date's zone, its source in words
    assert "; submitted 2026-11-21T11:00:00+00:00 (your files' modification time)." in page
    assert "Late penalty" in (out / "students" / "carol" / "feedback.html").read_text()
    overview = (out / "class.html").read_text()
    assert "Late work and extensions" in overview and "48h" in overview and "canvas" in overview
    done = subprocess.run([sys.executable, "-m", "grader", "release", str(out), "--to", str(tmp_path / "release"), "--no-zip"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {row[3]: row for row in csv.reader(io.StringIO((tmp_path / "release" / "canvas.csv").read_text()))}
    book = _gradebook(out)
    for student in ("ada", "bob", "carol", "dan"):
        assert float(rows[student][5]) == pytest.approx(float(book[student]["final_score"])), student
    assert float(rows["bob"][5]) < EX01.max_score  # the final score, not the raw one
    assert "Late penalty" in (tmp_path / "release" / "bob" / "feedback.md").read_text()


def test_bad_input_to_the_batch_stops_it_before_grading(late_class, mnist_path, tmp_path):
    subs, _, folder = late_class
    unknown = folder / "unknown.csv"
    unknown.write_text("student,extension\ndna,48h\n")
    out = tmp_path / "results"
    done = _grade(subs, out, mnist_path, *POLICY, "--extensions", str(unknown))
    assert done.returncode == 2 and f"{unknown}: the extensions file names dna" in done.stderr
    assert not (out / "students").exists() and not (out / deadlines.POLICY_FILE).exists()  # nothing graded, the refused policy not kept
    naive = _grade(subs, out, mnist_path, "--due", "2026-11-20T10:00")
    assert naive.returncode == 2 and "no time zone" in naive.stderr and not (out / "students").exists()


def test_a_new_due_date_updates_the_penalty_without_grading_again(late_class, mnist_path):
    subs, out, _ = late_class
    graded_at = _report(out, "carol")["started_at"]
    done = _grade(subs, out, mnist_path, "--due", "2026-11-22T10:00:00Z", "--late-penalty", "10%/day", "--late-days", "1")
    assert done.returncode == 0, done.stderr
    assert "4 already graded, 0 to grade" in done.stdout
    carol, bob = _report(out, "carol"), _report(out, "bob")
    assert carol["started_at"] == graded_at and carol["late"]["penalty_points"] == 0  # on time now: the same grading
    assert bob["late"]["penalty_percent"] == 10  # 1 day 30 min late: a late day absorbs 1 day, 30 min left: 1 x 10%
    book = _gradebook(out)
    assert float(book["bob"]["final_score"]) == pytest.approx(EX01.max_score * 0.9) and float(book["carol"]["late_penalty"]) == 0
    assert "No late penalty" in (out / "students" / "carol" / "feedback.md").read_text()
    assert json.loads((out / deadlines.POLICY_FILE).read_text())["due"] == "2026-11-22T10:00:00Z"
    again = _grade(subs, out, mnist_path)  # no option: the kept policy, still applied
    assert again.returncode == 0 and _report(out, "bob")["late"]["penalty_percent"] == 10
    dropped = _grade(subs, out, mnist_path, "--due", "none")
    assert dropped.returncode == 0 and "late" not in _report(out, "bob") and _gradebook(out)["bob"]["final_score"] == _gradebook(out)["bob"]["total"]


# ------------------------------------------------------------------ nbgrader's own late mechanism (docs/INSTRUCTORS.md)


def test_the_nbgrader_config_takes_the_late_submission_penalty_the_docs_name(tmp_path):
    """The course's nbgrader_config.py with the documented line added loads, and nbgrader's own
    LateSubmissionPlugin applies it; a setting nbgrader does not know is refused (the other way)."""
    pytest.importorskip("nbgrader")
    from nbgrader.plugins import LateSubmissionPlugin
    from nbgrader.preprocessors import AssignLatePenalties
    from traitlets import TraitError
    from traitlets.config.loader import PyFileConfigLoader

    config = (ROOT / "platforms" / "nbgrader" / "nbgrader_config.py").read_text() + '\nc.LateSubmissionPlugin.penalty_method = "zero"\n'
    (tmp_path / "nbgrader_config.py").write_text(config)
    loaded = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    assert LateSubmissionPlugin(config=loaded).late_submission_penalty("ada", 7.0, 3600) == 7.0  # late: the whole score is the penalty
    assert LateSubmissionPlugin().late_submission_penalty("ada", 7.0, 3600) is None  # nbgrader's default: no penalty
    assert "plugin_class" in AssignLatePenalties.class_traits()  # where a custom plugin (per day, extensions) goes
    with pytest.raises(TraitError):
        LateSubmissionPlugin(penalty_method="10%/day")


def test_times_of_the_zips_making_never_judge_lateness(tmp_path):
    """import-canvas without Canvas's own times writes when the zip was made (zip-entry-time): with a due
    date every student would be late, so the policy refuses them; without a due date they are only recorded."""
    subs = tmp_path / "subs"
    for student in ("ada", "bob"):
        (subs / student).mkdir(parents=True)
    (subs / "submission_times.csv").write_text("student,submitted_at,source\nada,2026-11-24T21:00:00+00:00,zip-entry-time\n"
                                               "bob,2026-11-24T21:00:00+00:00,zip-entry-time\n")
    with pytest.raises(deadlines.DeadlineError, match="when the zip was made"):
        deadlines.resolve({"due": "2026-11-20T10:00Z", "late_penalty": "10%/day"}, subs, tmp_path / "out", ["ada", "bob"])
    assert not (tmp_path / "out" / deadlines.POLICY_FILE).exists()
    assert not deadlines.resolve({}, subs, tmp_path / "out2", ["ada", "bob"]).active  # no due date: nothing judged


def test_a_refused_folder_is_still_a_student_of_the_times_file(tmp_path, mnist_path):
    """An adversarial review stopped a whole batch with one student's refused upload: the times file
    named them, and they were no graded folder. A refused folder is a student all the same: the
    others are graded, the refused one is said, and a name that is no folder at all still stops the run."""
    from grader import cli

    subs = tmp_path / "subs"
    (subs / "ada").mkdir(parents=True)
    (subs / "ada" / "ex01_preprocessing.py").write_text((ROOT / "solutions" / "ex01_preprocessing.py").read_text())
    (subs / "mallory").symlink_to(subs / "ada")  # refused: a link is never followed
    times = "student,submitted_at\nada,2026-11-20T09:00Z\nmallory,2026-11-20T09:00Z\n"
    (subs / "submission_times.csv").write_text(times)
    run = ["ex01", "--batch", str(subs), "--data", mnist_path, "--due", "2026-11-20T10:00Z"]
    assert cli.main([*run, "--out", str(tmp_path / "out")]) == 1  # graded, one folder refused
    assert json.loads((tmp_path / "out" / "students" / "ada" / "report.json").read_text())["late"]["lateness"] == "on time"
    (subs / "submission_times.csv").write_text(times + "nobody,2026-11-20T09:00Z\n")
    assert cli.main([*run, "--out", str(tmp_path / "out2")]) == 2  # a typo in the file still stops the run
    assert not (tmp_path / "out2" / "students").exists()
