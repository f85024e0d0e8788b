"""Every route grades the variant of the student it is given (issue 34 item 2), end to end on the
cheapest exercise with variants (no training): a student's own `grader --student` (remembered) and
`--use-variant`, `--batch` (a folder's name), Gradescope's `run_autograder` (the submitter's email),
and the GitHub Classroom workflow's step (the repository's owner). nbgrader's route (its student id)
is proven in tests/test_nbgrader.py's round trip. On each, a classmate's file for another variant
fails its learning checks with the message that names both variants, never "your code is wrong".
On every exercise with variants graded without the grader's Keras training (ex02b, ex03b, ex04, ex05b, ex05c),
a class of every variant's reference (full points), the untouched stub under every variant (each check
"not started") and a classmate's file for another variant (its failed learning checks told apart as that
variant's); ex02b's runs its by-hand trainings and ex03b's its sweeps in the worker, so their cases carry
the `trains` mark. ex03 and ex05, whose variants constrain the grader's own training (a parameter budget each for ex03;
mnist_course/constraints.py), are graded as a class too: each constraint's reference, and classmates'
models told why they fall short.

The test run pins every exercise's default variant (tests/conftest.py); these tests take the pin off."""

from __future__ import annotations

import base64
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader import variants
from corpus import TRAINS_IN_WORKER
from mnist_course.course import load_course
from variant_references import mistaken_reference, write_reference

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course()
# The routes are proven on ex05b: nothing trained, so each grading takes seconds, and its variants
# change every learning check (the dilation conv_output_size's and conv2d's, the pool max_pool2d's),
# so a classmate's file fails each of them.
EXERCISE = COURSE.exercise("ex05b")
# Every exercise with variants and no Keras training: each variant's reference and the stub under each.
# One whose student writes train() (ex02b) runs that training for every variant's reference.
VARIED = [pytest.param(ex, id=ex.id, marks=[pytest.mark.trains] if ex.id in TRAINS_IN_WORKER else [])
          for ex in COURSE.exercises if ex.variants and ex.training is None]
# Mistakes only a variant other than the default can make, each with the check it fails and the words of
# its diagnosis: exercise -> [(variant, {reference text: mistaken text}, check, words)].
VARIANT_MISTAKES = {
    # the tanh's slope taken at the sum z1 rather than at tanh(z1): dW2 and db2 right, dW1 and db1 not
    "ex02b": [("tanh", {"slope = 1.0 - np.tanh(z1) ** 2": "slope = 1.0 - z1 ** 2"},
               "gradients_finite_differences", "the step back through W2 and the hidden activation")],
    # the standard error taken as the standard deviation over k, not over the square root of k: a floor too low
    "ex03b": [("one_se", {"spread / np.sqrt(len(runs))": "spread / len(runs)"},
               "choose_width_follows_rule", "the standard deviation divided by k instead of by the square root of k")],
    "ex05b": [("d2p2", {"    if DILATION > 1:  # the taps": "    taps = kh, kw\n    if DILATION > 1:  # the taps",
                        "        for axis, k in ((1, kh), (2, kw)):": "        for axis, k in zip((1, 2), taps):"},
               "conv2d_same_padding", '"same" padding worked out from the kernel\'s taps, not from its span')],
    # AMSGrad's maximum taken over the bias-corrected second moments (Keras and PyTorch take it before the correction)
    "ex05c": [("nesterov_amsgrad", {"        v_max = np.maximum(v_max, v)\n": "        v_max = np.maximum(v_max, v / (1 - beta_2**step))\n",
                                    'v_hat = (v_max if ADAPTIVE == "amsgrad" else v) / (1 - beta_2**step)':
                                    'v_hat = v_max if ADAPTIVE == "amsgrad" else v / (1 - beta_2**step)'},
               "adaptive_step_matches_keras", "AMSGrad's maximum is over the second moments before their bias correction")],
}
LEARNING = [name for f in EXERCISE.functions for name in f.learning] if EXERCISE else []
MISMATCH = "exactly what variant"


def _ids_drawing(prefix: str, exercise=EXERCISE) -> dict[str, str]:
    """An id drawing each variant: variant key -> the first of f"{prefix}00000", ... that draws it."""
    found: dict[str, str] = {}
    for number in range(5000):
        found.setdefault(variants.drawn(COURSE, exercise, f"{prefix}{number:05d}").key, f"{prefix}{number:05d}")
        if len(found) == len(exercise.variants):
            return found
    raise AssertionError(f"no id {prefix}NNNNN draws some variant of {exercise.id}")


def _students() -> dict[str, str]:
    """Two ids that draw two variants, neither the default, whose parameters all differ (so that each
    learning check tells one from the other): variant key -> id."""
    ids = _ids_drawing("s")
    keys = [v.key for v in EXERCISE.variants[1:]]
    for n, first in enumerate(keys):
        for second in keys[n + 1:]:
            one, other = EXERCISE.variant(first).params, EXERCISE.variant(second).params
            if all(one[name] != other.get(name) for name in one):
                return {first: ids[first], second: ids[second]}
    raise AssertionError(f"{EXERCISE.id} has no two variants other than the default that differ in every parameter")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MNIST_COURSE_VARIANTS", "MNIST_COURSE_STUDENT")}  # the run's pin off
    return {**env, **extra}


def _learning_rows(report: dict) -> list[dict]:
    ex = next(e for e in report["exercises"] if e["id"] == EXERCISE.id)
    return [c for c in ex["checks"] if c["name"] in LEARNING]


def _grade(folder: Path, *options: str, env: dict[str, str], out: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "grader", EXERCISE.id, "--target", str(folder), "--json", str(out), *options],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return json.loads(out.read_text()) | {"_stdout": proc.stdout}


def test_a_students_own_grading_draws_from_the_remembered_id_and_a_choice_wins(tmp_path):
    (key_a, a), (key_b, b) = _students().items()
    state = tmp_path / "state.json"
    env = _env(MNIST_COURSE_STATE=str(state))
    mine = write_reference(EXERCISE, key_a, tmp_path / "a")
    first = _grade(mine, "--student", a.upper(), env=env, out=tmp_path / "1.json")  # any case: the id is normalised
    assert first["score"] == first["max_score"] and first["exercises"][0]["variant"]["key"] == key_a
    assert f"your variant {key_a!r} (drawn from your student id {a!r})" in first["_stdout"]
    assert json.loads(state.read_text())["student"] == a
    again = _grade(mine, env=env, out=tmp_path / "2.json")  # remembered
    assert again["exercises"][0]["variant"]["key"] == key_a and again["score"] == again["max_score"]
    chosen = _grade(mine, "--use-variant", f"{EXERCISE.id}={key_b}", env=env, out=tmp_path / "3.json")
    assert chosen["exercises"][0]["variant"]["key"] == key_b
    assert all(row["status"] == "failed" and MISMATCH in row["message"] and key_a in row["message"] for row in _learning_rows(chosen))
    shown = subprocess.run([sys.executable, "-m", "grader", "--variant", EXERCISE.id], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and f"your variant is {key_a!r}" in shown.stdout, shown.stdout + shown.stderr
    nobody = _grade(mine, env=_env(MNIST_COURSE_STATE=str(tmp_path / "fresh.json")), out=tmp_path / "4.json")
    assert nobody["exercises"][0]["variant"]["key"] == EXERCISE.variants[0].key  # no id: the default, said so
    assert "no student id given" in nobody["_stdout"]


def test_a_batch_grades_each_folder_on_its_names_variant(tmp_path, mnist_path):
    (key_a, a), (key_b, b) = _students().items()
    subs = tmp_path / "subs"
    write_reference(EXERCISE, key_a, subs / a)
    write_reference(EXERCISE, key_b, subs / b)
    copier = next(f"c{n:04d}" for n in range(5000) if variants.drawn(COURSE, EXERCISE, f"c{n:04d}").key == key_a)
    write_reference(EXERCISE, key_b, subs / copier)  # a classmate's file, for another variant than the copier's own
    proc = subprocess.run([sys.executable, "-m", "grader", EXERCISE.id, "--batch", str(subs), "--out", str(tmp_path / "out"), "--data", mnist_path],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (tmp_path / "out" / "gradebook.csv").open(newline="") as fh:
        book = {row["student"]: row for row in csv.DictReader(fh)}
    assert book[a][f"{EXERCISE.id} variant"] == key_a and float(book[a]["total"]) == EXERCISE.max_score
    assert book[b][f"{EXERCISE.id} variant"] == key_b and float(book[b]["total"]) == EXERCISE.max_score
    assert book[copier][f"{EXERCISE.id} variant"] == key_a and float(book[copier]["total"]) < EXERCISE.max_score
    report = json.loads((tmp_path / "out" / "students" / copier / "report.json").read_text())
    assert all(row["status"] == "failed" and MISMATCH in row["message"] and f"{key_b!r}" in row["message"] for row in _learning_rows(report))
    assert copier not in json.dumps({k: v for k, v in report.items() if k not in ("student", "target")})  # a shared report never names one
    listed = subprocess.run([sys.executable, "-m", "grader", "variants", "--class", str(subs)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    header, *lines = [line.split() for line in listed.stdout.splitlines()]
    column = header.index(EXERCISE.id)
    rows = [[line[0], line[column]] for line in lines]
    assert listed.returncode == 0 and [a, key_a] in rows and [b, key_b] in rows and [copier, key_a] in rows, listed.stdout


def _graded_class(exercise, subs: Path, out: Path, mnist_path: str):
    """Grade the folders of `subs` as a class, each on its name's variant: (the gradebook by student,
    a student's report rows of `exercise`)."""
    proc = subprocess.run([sys.executable, "-m", "grader", exercise.id, "--batch", str(subs), "--out", str(out), "--data", mnist_path],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (out / "gradebook.csv").open(newline="") as fh:
        book = {row["student"]: row for row in csv.DictReader(fh)}

    def rows(name: str) -> list[dict]:
        report = json.loads((out / "students" / name / "report.json").read_text())
        return next(e for e in report["exercises"] if e["id"] == exercise.id)["checks"]

    return book, rows


@pytest.mark.parametrize("exercise", VARIED)
def test_every_variants_reference_earns_every_point_and_the_stub_none(exercise, tmp_path, mnist_path):
    """Graded as a class: each variant's reference (full points), the untouched stub under each variant
    ("not started"), and the last variant's reference handed in by a student of the first, whose
    failed checks are each told apart as another variant's answer."""
    subs = tmp_path / "subs"
    references, stubs = _ids_drawing("r", exercise), _ids_drawing("u", exercise)
    for key, name in references.items():
        write_reference(exercise, key, subs / name)
    for name in stubs.values():
        (subs / name).mkdir(parents=True)
        (subs / name / exercise.filename).write_text(exercise.stub_path.read_text(encoding="utf-8"), encoding="utf-8")
    first, last = exercise.variants[0].key, exercise.variants[-1].key
    copier = _ids_drawing("c", exercise)[first]
    write_reference(exercise, last, subs / copier)
    mistakes = {}  # a student of the variant, with that variant's mistake
    for n, (key, edits, check, words) in enumerate(VARIANT_MISTAKES.get(exercise.id, [])):
        name, source = _ids_drawing(f"m{n}x", exercise)[key], mistaken_reference(exercise, key, edits)
        (subs / name).mkdir(parents=True)
        (subs / name / exercise.filename).write_text(source, encoding="utf-8")
        mistakes[name] = (check, words)
    book, rows = _graded_class(exercise, subs, tmp_path / "out", mnist_path)
    for key, name in references.items():
        assert book[name][f"{exercise.id} variant"] == key and float(book[name]["total"]) == exercise.max_score, (key, book[name])
    for key, name in stubs.items():
        assert book[name][f"{exercise.id} variant"] == key and float(book[name]["total"]) == 0, (key, book[name])
        assert rows(name) and all(row["status"] == "not started" and "is not started yet" in row["message"] for row in rows(name)), key
    failed = [row for row in rows(copier) if row["status"] == "failed"]
    assert failed and float(book[copier]["total"]) < exercise.max_score
    # each failed check is told apart as the other variant's answer (a training's accuracy: as another
    # variant's network), or waits on one that is
    told = [row for row in failed if MISMATCH in row["message"] or "trained another variant's network" in row["message"]]
    assert told and all(f"{last!r}" in row["message"] for row in told), told
    assert all(row in told or row["message"].startswith("This check counts once") for row in failed), failed
    for name, (check, words) in mistakes.items():  # a variant's own mistake is diagnosed, never taken for a classmate's file
        row = next(row for row in rows(name) if row["name"] == check)
        assert row["status"] == "failed" and words in row["message"] and MISMATCH not in row["message"], row


def test_gradescope_grades_the_submitters_variant(tmp_path, mnist_path):
    from test_platforms import _autograder, _build

    key_a, key_b = _students()
    email = next(f"s{n}@uni.example" for n in range(5000) if variants.drawn(COURSE, EXERCISE, f"s{n}@uni.example").key == key_a)
    archive = tmp_path / "zip" / "autograder.zip"
    archive.parent.mkdir()
    _build(archive, "--exercises", EXERCISE.id)
    results = {}
    for case, key in (("own", key_a), ("classmate", key_b)):
        source = write_reference(EXERCISE, key, tmp_path / f"{case}-ref") / EXERCISE.filename
        root = _autograder(tmp_path / case, archive, {EXERCISE.filename: source.read_text()})
        (root / "submission_metadata.json").write_text(json.dumps({"users": [{"email": email.upper(), "name": "A", "sid": "1"}]}))
        env = _env(AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable, AUTOGRADER_USER="", MNIST_COURSE_DATA=mnist_path)
        proc = subprocess.run(["bash", str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=900, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        results[case] = json.loads((root / "results" / "results.json").read_text())
    assert f"Graded on your variant {key_a}" in results["own"]["output"] and results["own"]["score"] == EXERCISE.max_score
    learning = [t for t in results["classmate"]["tests"] if t["name"].split(" · ")[-1] in LEARNING]
    # a check whose message is another's word for word points to it (grader/reports/report.py): told apart there
    told = {t["name"].split(" · ")[-1] for t in learning if MISMATCH in t["output"]}
    same = lambda t: any(f"The same problem as `{name}` above" in t["output"] for name in told)
    assert learning and all(t["score"] == 0 and (MISMATCH in t["output"] or same(t)) for t in learning), learning


def test_the_classroom_step_grades_the_repository_owners_variant(tmp_path, mnist_path):
    import yaml

    (key_a, a), (key_b, _) = _students().items()
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "classroom.yml").read_text())
    step = next(s for s in workflow["jobs"]["run-autograding-tests"]["steps"] if s.get("id") == EXERCISE.id)
    assert step["env"]["MNIST_COURSE_STUDENT"] == "${{ vars.MNIST_COURSE_STUDENT || github.repository_owner }}"
    scores = {}
    for case, key in (("own", key_a), ("classmate", key_b)):
        output = tmp_path / f"{case}_output"
        env = _env(**{**{k: str(v) for k, v in step["env"].items()}, "MNIST_COURSE_STUDENT": a},  # what GitHub puts for the owner
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", RUNNER_TEMP=str(tmp_path),
                   GITHUB_OUTPUT=str(output), MNIST_COURSE_DATA=mnist_path,
                   MNIST_COURSE_TARGET=str(write_reference(EXERCISE, key, tmp_path / case)))
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=900, check=False)
        result = json.loads(base64.b64decode(output.read_text().strip().removeprefix("result=")))
        scores[case] = (proc.returncode, sum(t["score"] for t in result["tests"]), result)
    assert scores["own"][:2] == (0, EXERCISE.max_score)
    assert scores["classmate"][0] == 1 and scores["classmate"][1] < EXERCISE.max_score
    assert any(MISMATCH in t.get("message", "") for t in scores["classmate"][2]["tests"])


# ex02, ex03 and ex05: each variant a constraint on the grader's own training (mnist_course/constraints.py)
EX02, EX03, EX05 = COURSE.exercise("ex02"), COURSE.exercise("ex03"), COURSE.exercise("ex05")


def _constraint_class(exercise, stub: str, over_budget: tuple[str, str], short: tuple[str, str], tmp_path, mnist_path,
                      refused: tuple[str, str] | None = None):
    """A class graded on its variants: every variant's reference (each must earn every point), the stub
    handed in by a student of `stub` (every check "not started"), and two classmates' references, each
    (the student's variant, the reference's variant): `over_budget`'s must fail the budget check, naming
    the student's variant (or `refused`: (the check it fails, a phrase of its message)), and never train.
    Returns the report rows (by check name) of `over_budget`'s and `short`'s students."""
    subs = tmp_path / "subs"
    references = _ids_drawing("r", exercise)
    for key, name in references.items():
        write_reference(exercise, key, subs / name)
    unstarted = _ids_drawing("u", exercise)[stub]
    (subs / unstarted).mkdir(parents=True)
    (subs / unstarted / exercise.filename).write_text(exercise.stub_path.read_text(encoding="utf-8"), encoding="utf-8")
    over, under = _ids_drawing("c", exercise)[over_budget[0]], _ids_drawing("d", exercise)[short[0]]
    write_reference(exercise, over_budget[1], subs / over)
    write_reference(exercise, short[1], subs / under)
    book, report_rows = _graded_class(exercise, subs, tmp_path / "out", mnist_path)
    rows = lambda name: {row["name"]: row for row in report_rows(name)}  # noqa: E731 - by check name
    for key, name in references.items():
        assert book[name][f"{exercise.id} variant"] == key and float(book[name]["total"]) == exercise.max_score, (key, book[name])
    assert all(row["status"] == "not started" for row in rows(unstarted).values())
    limit = exercise.variant(over_budget[0]).training or exercise.training
    check, phrase = refused or ("build_model_within_parameter_budget", f"at most {limit.max_params:,} (your variant, {over_budget[0]}")
    refusal = rows(over)[check]
    assert refusal["status"] == "failed" and phrase in refusal["message"], refusal
    untrained = rows(over)["build_model_test_accuracy"]
    assert untrained["status"] != "passed" and "did not train the model" in untrained["message"], untrained
    return rows(over), rows(under)


@pytest.mark.trains
def test_each_constraint_of_ex05_grades_its_own_reference_in_full_and_tells_a_classmates_model_why_it_falls_short(tmp_path, mnist_path):
    """Graded as a class, each folder on its name's variant: every constraint's reference earns every
    point (its training on the variant's data: 2,000 images, or test digits shifted by up to 4
    pixels); the stub under one is "not started"; a classmate's model for another constraint, handed
    in by a student of `budget`, is over that budget, said with the variant, and never trained; and
    the `budget` reference handed in by a student of `shifted` (augmented by only 2 pixels) falls
    below the bar with the cause the shift explains: centred validation digits read well, shifted test
    digits badly."""
    _, unshifted = _constraint_class(EX05, "small_data", ("budget", "shifted"), ("shifted", "budget"), tmp_path, mnist_path)
    accuracy = unshifted["build_model_test_accuracy"]
    assert accuracy["status"] != "passed" and "the shifted test digits of your variant" in accuracy["message"], accuracy
    assert "each moved by up to 4 pixels), as your variant asks (shifted)" in accuracy["message"]


@pytest.mark.trains
def test_each_variant_of_ex02_grades_its_own_reference_in_full_and_tells_a_classmates_model_why_it_falls_short(tmp_path, mnist_path):
    """Graded as a class, each folder on its name's variant: both references earn every point (plain SGD,
    batches of 32 at rate 0.3, or of 1,024 at rate 1.0); the stub under one is "not started"; the `sgd`
    reference handed in by a student of `big_batch` asks for batches smaller than that variant allows, is
    told so, and is never trained; and the `big_batch` reference handed in by a student of `sgd` trains
    and falls below that variant's bar."""
    _, short = _constraint_class(EX02, "big_batch", ("big_batch", "sgd"), ("sgd", "big_batch"), tmp_path, mnist_path,
                                 refused=("training_settings_valid", "a batch size of at least 1,024 (your variant's constraint)"))
    accuracy = short["build_model_test_accuracy"]
    assert accuracy["status"] != "passed" and "percentage points below the bar" in accuracy["message"], accuracy


@pytest.mark.trains
def test_each_budget_of_ex03_grades_its_own_reference_in_full_and_tells_a_classmates_model_why_it_falls_short(tmp_path, mnist_path):
    """Graded as a class, each folder on its name's variant: both budgets' references earn every point;
    the stub under one is "not started"; the `budget` reference (49,382 parameters) handed in by a student
    of `tight_budget` is over that budget, said with the variant, in a dense network's words, and never
    trained; and the `tight_budget` reference handed in by a student of `budget` trains, falls below that
    variant's bar, and is told which of lesson 3's tools to weigh."""
    over_budget, too_small = _constraint_class(EX03, "tight_budget", ("tight_budget", "budget"), ("budget", "tight_budget"), tmp_path, mnist_path)
    budget = over_budget["build_model_within_parameter_budget"]
    assert "49,382 parameters" in budget["message"] and "Conv2D" not in budget["message"], budget
    accuracy = too_small["build_model_test_accuracy"]
    assert accuracy["status"] != "passed" and "where the parameter budget's units go" in accuracy["message"], accuracy
    assert "percentage points below the bar" in accuracy["message"], accuracy
