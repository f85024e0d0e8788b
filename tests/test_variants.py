"""A variant for each student (grader/variants.py), without a worker: course.toml's
[[exercise.variant]] tables, the draw from an identity, explicit choices, the settings
that carry them to a child grader, and where each route finds the identity (the
nbgrader notebook's folder, Gradescope's submission metadata, a class's folders)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from grader import variants
from grader.notebook import identity as notebook_identity
from grader.settings import STUDENT_ENV, VARIANTS_ENV, RunSettings, SettingsError
from mnist_course.course import COURSE_FILE, CourseError, parse_course

ROOT = Path(__file__).resolve().parents[1]

FOUR = """
[[exercise.variant]]
key = "relu"
says = "hidden activation ReLU"
params = { activation = "relu" }

[[exercise.variant]]
key = "tanh"
says = "hidden activation tanh"
params = { activation = "tanh" }
thresholds = { mnist-22k = { public = 0.95, private = 0.94 } }

[[exercise.variant]]
key = "leaky"
says = "hidden activation leaky ReLU, slope 0.1"
params = { activation = "leaky_relu", slope = 0.1 }

[[exercise.variant]]
key = "elu"
says = "hidden activation ELU"
params = { activation = "elu", alpha = 1.0 }
"""


def course_with(tables: str, exercise: str = "ex06", head: str = ""):
    """The course, with `tables` added to `exercise` (its variants replaced) and `head` to [course]."""
    text = COURSE_FILE.read_text(encoding="utf-8")
    blocks = re.split(r"(?m)^(?=\[\[exercise\]\]\n)", text)
    for i, block in enumerate(blocks):
        if re.search(rf'(?m)^id = "{exercise}"$', block):
            kept = re.split(r"(?m)^\[\[exercise\.variant\]\]\n", block)[0]
            blocks[i] = kept.rstrip("\n") + "\n" + tables + "\n"
    text = "".join(blocks)
    if head:
        text = text.replace("[course]\n", f"[course]\n{head}\n", 1)
    return parse_course(text)


def test_variants_are_read_from_course_toml_and_checked():
    course = course_with(FOUR)
    ex = course.exercise("ex06")
    assert [v.key for v in ex.variants] == ["relu", "tanh", "leaky", "elu"]
    assert ex.variant("leaky").params == {"activation": "leaky_relu", "slope": 0.1}
    assert ex.variant("tanh").thresholds == {"mnist-22k": {"public": 0.95, "private": 0.94}}
    assert ex.variant("relu").thresholds is None
    with pytest.raises(CourseError, match="has no variant 'sigmoid'; its variants: relu, tanh, leaky, elu"):
        ex.variant("sigmoid")
    one = FOUR.split("\n\n[[exercise.variant]]")[0]
    for bad, says in (
        (one, "one variant: give it at least two"),
        (FOUR.replace('key = "elu"', 'key = "relu"'), "names a variant twice"),
        (FOUR.replace('key = "elu"', 'key = "E L U"'), "a key is 1-32 lower-case"),
        (FOUR.replace("slope = 0.1", "slope = [0.1]"), "holds numbers, strings or booleans only"),
        (FOUR.replace('says = "hidden activation ELU"\n', ""), "has no 'says'"),
    ):
        with pytest.raises(CourseError, match=says):
            course_with(bad)
    with pytest.raises(CourseError, match="variant_round should be a non-empty string"):
        course_with(FOUR, head="variant_round = 3")


def test_an_identity_draws_one_variant_the_same_everywhere_and_the_variants_evenly():
    course = course_with(FOUR)
    ex = course.exercise("ex06")
    assert variants.drawn(course, ex, None).key == "relu"  # no identity: the default, which solutions/ implements
    alice = variants.drawn(course, ex, variants.normalized("alice@uni.edu"))
    assert variants.drawn(course, ex, variants.normalized("  Alice@UNI.edu ")) == alice  # one identity, however typed
    assert variants.drawn(course_with(FOUR), ex, "alice@uni.edu") == alice  # a function of the identity alone: no state, no clock
    drawn = Counter(variants.drawn(course, ex, f"s{n:07d}").key for n in range(4000))
    assert set(drawn) == {"relu", "tanh", "leaky", "elu"} and all(900 <= n <= 1100 for n in drawn.values()), drawn
    # Another round (a course given again) draws the class anew; the same round, the same draw.
    again = course_with(FOUR, head='variant_round = "2027"')
    moved = sum(variants.drawn(course, ex, f"s{n}") != variants.drawn(again, again.exercise("ex06"), f"s{n}") for n in range(400))
    assert 200 <= moved <= 400
    assert variants.drawn(course, course.exercise("ex01"), "alice") is None  # an exercise without variants
    assert [v.key for v in variants.others(ex, alice)] == [v.key for v in ex.variants if v != alice]
    assert variants.record(alice) == {"key": alice.key, "says": alice.says}  # never the identity


@pytest.mark.parametrize("bad", ["", "   ", "x" * 201, "ali\nce", "bob\x00"])
def test_an_identity_no_route_could_mean_is_refused(bad):
    with pytest.raises(variants.IdentityError):
        variants.normalized(bad)


def test_explicit_choices_win_and_name_what_is_wrong():
    course = course_with(FOUR)
    ex = course.exercise("ex06")
    assert variants.parse_choices(course, "ex06=tanh, 6=elu") == (("ex06", "elu"),)  # the last choice of an exercise wins
    assert variants.of(course, ex, "anyone", (("ex06", "leaky"),)).key == "leaky"
    assert variants.of(course, ex, None, ()).key == "relu"
    for bad, says in (("ex06", "reads EXERCISE=VARIANT"), ("ex06=sigmoid", "has no variant 'sigmoid'"), ("ex99=tanh", "unknown exercise"),
                      ("ex01=tanh", "ex01 has no variant 'tanh'; its variants: none")):
        with pytest.raises(CourseError, match=says):
            variants.parse_choices(course, bad)


def test_the_settings_carry_the_identity_and_the_choices_to_a_child_grader(monkeypatch):
    course = course_with(FOUR)
    monkeypatch.setattr("grader.settings.load_course", lambda: course)
    ex = course.exercise("ex06")
    settings = RunSettings.resolve(student="  Bob ", variant_choices="", environ={})
    assert settings.student == "bob" and settings.variant_choices == ()
    assert settings.variant_of(ex) == variants.drawn(course, ex, "bob")
    child = settings.but(variant_choices=(("ex06", "elu"),)).child_environment({STUDENT_ENV: "mallory", "PATH": "/bin"})
    assert child[STUDENT_ENV] == "bob" and child[VARIANTS_ENV] == "ex06=elu" and child["PATH"] == "/bin"
    again = RunSettings.resolve(environ=child)
    assert again.student == "bob" and again.variant_of(ex).key == "elu"
    none = RunSettings.resolve(environ={}).child_environment({STUDENT_ENV: "mallory"})
    assert none[STUDENT_ENV] == "" and RunSettings.resolve(environ=none).student is None  # set even when empty: never another's
    assert RunSettings.resolve(batch=True, environ={STUDENT_ENV: "carol"}).student is None  # a batch: each folder is a student
    with pytest.raises(SettingsError, match="--use-variant or \\$MNIST_COURSE_VARIANTS"):
        RunSettings.resolve(variant_choices="ex06=sigmoid", environ={})
    with pytest.raises(SettingsError, match="student id"):
        RunSettings.resolve(student="a\tb", environ={})


def test_a_notebook_knows_its_student_from_nbgrader_the_hub_or_the_environment(tmp_path):
    autograded = tmp_path / "course" / "submitted" / "s1234567" / "ex06_real_use"
    assert notebook_identity({"NBGRADER_EXECUTION": "autograde"}, autograded) == "s1234567"
    assert notebook_identity({"NBGRADER_EXECUTION": "autograde", "JUPYTERHUB_USER": "hubname"}, autograded) == "s1234567"
    assert notebook_identity({"JUPYTERHUB_USER": "hubname"}, tmp_path) == "hubname"  # a student's own server on a hub
    assert notebook_identity({STUDENT_ENV: "set", "JUPYTERHUB_USER": "hubname"}, autograded) == "set"
    assert notebook_identity({STUDENT_ENV: "", "JUPYTERHUB_USER": "hubname"}, tmp_path) is None  # set empty: none
    assert notebook_identity({"NBGRADER_EXECUTION": "autograde"}, tmp_path / "elsewhere" / "x" / "y") is None  # not nbgrader's layout
    assert notebook_identity({}, autograded) is None  # a student's own notebook, off nbgrader's autograde


def test_gradescope_draws_from_the_submitters_email(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("autograde", ROOT / "platforms" / "gradescope" / "autograde.py")
    autograde = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(autograde)
    assert autograde.submitter(tmp_path) == ""  # no metadata: the default variants, said in the output
    metadata = tmp_path / "submission_metadata.json"
    metadata.write_text(json.dumps({"users": [{"email": "zoe@uni.edu", "name": "Zoe", "sid": "2"}, {"email": "amy@uni.edu", "sid": "1"}]}))
    assert autograde.submitter(tmp_path) == "amy@uni.edu"  # a group: its first member by email, on every run
    metadata.write_text("not json")
    assert autograde.submitter(tmp_path) == ""


def test_the_class_list_names_each_students_variant(tmp_path, monkeypatch, capsys):
    from grader.classroom import roster

    course = course_with(FOUR)
    monkeypatch.setattr(roster, "load_course", lambda: course)
    for name in ("amy", "bob", "x" * 250):
        (tmp_path / name).mkdir()
    header, rows = roster.table(["amy", "bob", "x" * 250])
    varied = [ex.id for ex in course.exercises if ex.variants]  # ex06's planted ones, and the course's own
    assert "ex06" in varied and header == ["student", *varied]
    column = header.index("ex06")
    assert rows[0][column] == variants.drawn(course, course.exercise("ex06"), "amy").key
    assert "at most 200" in rows[2][column]
    assert roster.main(["--class", str(tmp_path), "--csv", str(tmp_path / "v.csv"), "--use-variant", "ex06=elu"]) == 0
    listed = [line.split(",") for line in (tmp_path / "v.csv").read_text().splitlines()[1:3]]
    assert [(row[0], row[column]) for row in listed] == [("amy", "elu"), ("bob", "elu")]
    assert roster.main(["--class", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
