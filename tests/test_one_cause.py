"""One cause, said once (issue 36): when an exercise's file cannot be imported, every
check of the exercise fails, and each route says why once, at the exercise's top,
with a one-line pointer on each check: the terminal, report.json, feedback.md and
feedback.html, Gradescope's results.json, GitHub Classroom's runner result and
nbgrader's test cells. Statuses and points stay a failure's (0), and an untouched
stub stays "not started", never an import failure.

Each case comes from test_hostile.py's corpus (a syntax error, an exit at import, a
missing package), plus an import that runs past its time limit (cut to 2 s for the
test through a `sitecustomize.py` in the grader's process; the worker runs `python -I`,
which never reads it). Each is graded once, on ex01 (ex04 beside it where two
exercises matter): no model is trained.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader.classroom.dashboard import _diagnoses
from grader.reports.formats import html_feedback, junit_xml
from mnist_course.course import ROOT, load_course
from test_hostile import CORPUS, SOLUTION

COURSE = load_course()
EX01, EX04 = COURSE.exercise("ex01"), COURSE.exercise("ex04")
IMPORT_LIMIT_S = 2.0
SHORT_IMPORT = f"""\
from grader.isolation import sandbox
sandbox.Worker.__init__.__defaults__ = ({IMPORT_LIMIT_S}, *sandbox.Worker.__init__.__defaults__[1:])
"""

# case: (the module's source, a phrase only its cause says)
CASES = {
    "syntax_error": (CORPUS["syntax_error"][0], "failed with SyntaxError"),
    "exit_at_import": (CORPUS["sys_exit_at_import"][0], "failed with SystemExit"),
    "missing_package": (CORPUS["imports_a_missing_package"][0], "No module named 'tensorflow_deluxe'"),
    "import_past_its_time_limit": ("while True:\n    pass\n" + SOLUTION, f"took longer than {IMPORT_LIMIT_S:g} s"),
}


def pointer(exercise, where: str = "") -> str:
    return f"Not checked: {exercise.filename} could not be imported; see the cause {where or f'at the top of {exercise.id}'}."


def _grade(folder: Path, out: Path, *exercises: str, short_import: bool = False) -> tuple[subprocess.CompletedProcess, dict[str, Path]]:
    """`grader` on `folder`, as a student runs it, writing every format; (its run, the files)."""
    files = {kind: out / name for kind, name in (("json", "report.json"), ("feedback", "feedback.md"), ("gradescope", "results.json"), ("classroom", "classroom.json"))}
    env = {**os.environ, "MNIST_COURSE_DATA": os.environ.get("MNIST_COURSE_DATA", "")}
    if short_import:
        hook = out / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(SHORT_IMPORT)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))
    args = [arg for kind, path in files.items() for arg in (f"--{kind}", str(path))]
    done = subprocess.run(
        [sys.executable, "-m", "grader", *exercises, "--target", str(folder), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    return done, files


@pytest.fixture(scope="module")
def graded(tmp_path_factory, mnist_path):
    """Every case graded once on ex01: {case: (stdout, report, feedback.md, results.json, classroom.json)}."""
    os.environ.setdefault("MNIST_COURSE_DATA", mnist_path)
    seen = {}
    for case, (source, _) in CASES.items():
        root = tmp_path_factory.mktemp(case)
        (root / "student").mkdir()
        (root / "student" / EX01.filename).write_text(source)
        done, files = _grade(root / "student", root, "ex01", short_import=case == "import_past_its_time_limit")
        assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
        seen[case] = (
            done.stdout,
            json.loads(files["json"].read_text()),
            files["feedback"].read_text(),
            json.loads(files["gradescope"].read_text()),
            json.loads(files["classroom"].read_text()),
        )
    return seen


@pytest.mark.parametrize("case", CASES)
def test_the_report_keeps_every_check_failed_at_0_and_the_cause_once_at_the_exercise(graded, case):
    """report.json: the exercise's `import_failure` holds the cause; each check keeps its
    row, status "failed" and 0 points (gradebooks read them), its message one line."""
    _, report, _, _, _ = graded[case]
    phrase = CASES[case][1]
    ex = report["exercises"][0]
    assert phrase in ex["import_failure"]["message"] and ex["import_failure"]["file"] == EX01.filename
    assert [c["name"] for c in ex["checks"]] == list(EX01.checks)
    assert {(c["status"], c["score"]) for c in ex["checks"]} == {("failed", 0)} and report["score"] == 0 and ex["status"] == "incomplete"
    assert all(c["message"] == pointer(EX01) and c["not_checked"] == "import_failure" for c in ex["checks"]), ex["checks"]
    assert json.dumps(report).count(phrase) == 1


@pytest.mark.parametrize("case", CASES)
def test_the_terminal_says_the_cause_once_above_the_checks(graded, case):
    stdout, _, _, _, _ = graded[case]
    phrase = CASES[case][1]
    assert stdout.count(phrase) == 1, stdout
    assert stdout.count("Likely cause: ") == 1 and stdout.count("Hint: ") == 1, stdout  # no dependent adds its own
    assert stdout.count(pointer(EX01)) == len(EX01.checks), stdout
    assert stdout.index(phrase) < stdout.index(f" {next(iter(EX01.checks))} ") < stdout.index(pointer(EX01))


@pytest.mark.parametrize("case", CASES)
def test_the_feedback_pages_say_the_cause_once_above_the_checks(graded, case):
    _, report, page, _, _ = graded[case]
    phrase = CASES[case][1]
    assert page.count(phrase) == 1 and page.count("Likely cause: ") == 1, page
    assert page.count(pointer(EX01)) == len(EX01.checks)
    assert page.index(phrase) < page.index("| | check | points |") < page.index(pointer(EX01))
    web = html_feedback(report)  # the page a batch writes beside feedback.md (figures.feedback_pages)
    assert web.count(html.escape(phrase)) == 1 and web.count("Likely cause: ") == 1, web
    assert web.count(html.escape(pointer(EX01))) == len(EX01.checks)
    assert web.index(html.escape(phrase)) < web.index("<table>") < web.index(html.escape(pointer(EX01)))


@pytest.mark.parametrize("case", CASES)
def test_gradescope_and_classroom_say_the_cause_in_the_first_test_and_point_to_it_from_the_others(graded, case):
    _, _, _, gradescope, classroom = graded[case]
    phrase = CASES[case][1]
    for outputs in ([t["output"] for t in gradescope["tests"]], [t["message"] for t in classroom["tests"]]):
        assert len(outputs) == len(EX01.checks)
        assert phrase in outputs[0] and "Likely cause: " in outputs[0]
        assert outputs[1:] == [pointer(EX01)] * (len(EX01.checks) - 1)
    assert gradescope["score"] == 0 and {t["score"] for t in gradescope["tests"]} == {0} and {t["status"] for t in gradescope["tests"]} == {"failed"}
    assert {t["score"] for t in classroom["tests"]} == {0} and classroom["status"] == "fail"


@pytest.mark.parametrize("case", CASES)
def test_junit_says_the_cause_in_the_first_case_and_points_to_it_from_the_others(graded, case):
    _, report, _, _, _ = graded[case]
    phrase = CASES[case][1]
    failures = [case.find("failure") for case in ET.fromstring(junit_xml(report).split("\n", 1)[1]).iter("testcase")]
    assert len(failures) == len(EX01.checks) and all(f is not None for f in failures)
    assert phrase in failures[0].text and failures[0].get("message") == f"{EX01.filename} could not be imported, so no check of ex01 could run:"
    assert [(f.get("message"), f.text) for f in failures[1:]] == [(pointer(EX01), f"0/{EX01.checks[c]} points\n{pointer(EX01)}") for c in list(EX01.checks)[1:]]


def test_the_class_page_counts_one_diagnosis_per_student_for_a_file_that_did_not_import(graded):
    """class.html's diagnoses: the import failure's likely cause once per student and
    exercise, never a dependent's "counts once" cause."""
    rows = [(case, graded[case][1], "graded") for case in CASES]
    found = {cause: (n, checks) for cause, n, checks in _diagnoses(rows)}
    import_cause = graded["syntax_error"][1]["exercises"][0]["import_failure"]["cause"]
    assert import_cause.startswith("a syntax error, a missing import")
    assert found[import_cause] == (3, ["ex01 (not imported: every check)"])  # the syntax error, the exit, the missing package
    assert not any("does not do its job yet" in cause for cause in found), found


def test_each_exercise_says_its_own_cause_and_a_sound_one_says_none(tmp_path, mnist_path):
    """ex01 sound beside an ex04 that does not import: ex01 keeps its points and no
    pointer; ex04's cause is said once, at ex04, and its checks point there."""
    os.environ.setdefault("MNIST_COURSE_DATA", mnist_path)
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / EX01.filename).write_text(SOLUTION)
    (tmp_path / "student" / EX04.filename).write_text("import nosuchpackage\n" + EX04.solution_path.read_text())
    done, files = _grade(tmp_path / "student", tmp_path, "ex01", "ex04")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(files["json"].read_text())
    ex01, ex04 = report["exercises"]
    assert ex01["score"] == EX01.max_score and "import_failure" not in ex01
    assert "No module named 'nosuchpackage'" in ex04["import_failure"]["message"]
    assert {(c["status"], c["score"], c["message"]) for c in ex04["checks"]} == {("failed", 0, pointer(EX04))}
    for shown in (done.stdout, files["feedback"].read_text()):
        assert shown.count("No module named 'nosuchpackage'") == 1 and shown.count(pointer(EX04)) == len(EX04.checks)
        assert pointer(EX01) not in shown and shown.index(pointer(EX04)) > shown.index("No module named 'nosuchpackage'") > shown.index(f"ex04 · {EX04.title}")


def test_an_exercise_left_out_or_not_importing_computes_no_reference(tmp_path, mnist_path):
    """Every check of a file that is not there, or did not import, fails with that one cause before
    its body runs: no reference is computed, so an exercise a student left out costs a class's
    grading nothing (ex05c's references import Keras, ex04's scikit-learn and pandas; a class
    graded on five exercises paid them for every student). ex04 does not import, ex05c is not there. What the grader's process imported is
    read at its exit (a `sitecustomize.py` in its process; the worker runs `python -I`, which never
    reads it); without the rule in plugin.pytest_pyfunc_call both are imported."""
    os.environ.setdefault("MNIST_COURSE_DATA", mnist_path)
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / EX04.filename).write_text("import nosuchpackage\n" + EX04.solution_path.read_text())
    (tmp_path / "hook").mkdir()
    seen = tmp_path / "imported.txt"
    (tmp_path / "hook" / "sitecustomize.py").write_text(
        f"import atexit, sys\natexit.register(lambda: open({str(seen)!r}, 'w').write('\\n'.join(sys.modules)))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path / "hook"), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "grader", "ex04", "ex05c", "--target", str(tmp_path / "student")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    imported = set(seen.read_text().splitlines())
    assert {"numpy", "grader.references.ex05c_optimizers"} <= imported  # the reading works: the checks were collected
    heavy = {name.split(".")[0] for name in imported} & {"keras", "tensorflow", "sklearn", "pandas"}
    assert not heavy, sorted(heavy)
    ex05c = COURSE.exercise("ex05c")
    assert done.stdout.count(pointer(EX04)) == len(EX04.checks) and done.stdout.count(pointer(ex05c)) == len(ex05c.checks)


def test_an_untouched_stub_is_not_started_not_an_import_failure(tmp_path, mnist_path):
    os.environ.setdefault("MNIST_COURSE_DATA", mnist_path)
    done, files = _grade(ROOT / "exercises", tmp_path, "ex01", "ex04")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(files["json"].read_text())
    for ex in report["exercises"]:
        assert ex["status"] == "not started" and "import_failure" not in ex
        assert {(c["status"], c["score"]) for c in ex["checks"]} == {("not started", 0)} and not any("not_checked" in c for c in ex["checks"])
    assert "could not be imported" not in done.stdout + files["feedback"].read_text()


# A notebook's answer cell imports a module that sits beside the notebook: the kernel
# finds it, the grader's worker (its own process, `python -I`, its own folder) does not.
# Each template's kernel runs the answer cells and, after each, test cells (`test_cell`).
KERNEL = '''
import json, linecache, sys
sys.path.insert(0, {helpers!r})
from grader import notebook
from mnist_course.course import load_course
from mnist_course.nbgrader_course import imports_mark

exercise = load_course().exercise("ex01")
imports = imports_mark(exercise) + "\\nimport numpy as np\\n"
text = open({solution!r}).read()
namespace = {{"__name__": "__main__", "In": ["", imports]}}
shown = {{}}


def answer_cell(number, answer):
    name = f"<ipython-input-{{number}}-answer>"
    linecache.cache[name] = (len(answer), None, answer.splitlines(True), name)
    namespace["In"].append(answer)
    exec(compile(answer, name, "exec"), namespace)


def test_cell(check):
    try:
        notebook.check("ex01", check, namespace)
        shown[check] = None
    except notebook.CheckFailed as exc:
        shown[check] = str(exc)
'''
# Every answer in one cell, then every test cell.
NOTEBOOK = KERNEL + '''
answer_cell(2, "import helper_beside_the_notebook\\n" + text[text.index("\\ndef ") + 1:])
for check in exercise.checks:  # each test cell, in the notebook's order
    test_cell(check)
print(json.dumps(shown))
'''
# As its student fills it: one answer cell per function, each followed by that function's test
# cells. The second answer cell imports the module beside the notebook.
NOTEBOOK_CELL_BY_CELL = KERNEL + '''
body = text[text.index("\\ndef ") + 1:]
starts = [0] + [i + 1 for i in range(len(body)) if body.startswith("\\ndef ", i)]
answers = [body[a:b] for a, b in zip(starts, starts[1:] + [len(body)])]
answers[1] = "import helper_beside_the_notebook\\n" + answers[1]
for number, answer in enumerate(answers, 2):
    answer_cell(number, answer)
    function = answer[answer.index("def ") + 4:answer.index("(")]
    for check in [c for c in exercise.checks if exercise.function_of_check(c).name == function]:
        test_cell(check)
print(json.dumps(shown))
'''


def _run_notebook(template: str, tmp_path, mnist_path) -> dict:
    """The notebook's test cells run in a kernel of their own (a fresh process): what each showed, None for a pass."""
    helpers = tmp_path / "beside-the-notebook"
    helpers.mkdir()
    (helpers / "helper_beside_the_notebook.py").write_text("SCALE = 255\n")
    script = template.format(helpers=str(helpers), solution=str(EX01.solution_path))
    env = {**os.environ, "MNIST_COURSE_DATA": mnist_path}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_a_later_answer_cell_that_breaks_the_import_says_the_cause_below_it(tmp_path, mnist_path):
    """The cells above the answer that broke the import ran before it and passed: the cause is
    said in the first test cell below that answer, and the cells after point there, never up."""
    shown = _run_notebook(NOTEBOOK_CELL_BY_CELL, tmp_path, mnist_path)
    first_function = EX01.functions[0].name
    above = [check for check in EX01.checks if EX01.function_of_check(check).name == first_function]
    below = [check for check in EX01.checks if check not in above]
    assert all(shown[check] is None for check in above), {check: shown[check] for check in above}
    phrase = "No module named 'helper_beside_the_notebook'"
    assert phrase in shown[below[0]] and shown[below[0]].startswith(f"{below[0]}: failed\n"), shown[below[0]]
    assert sum(phrase in (message or "") for message in shown.values()) == 1
    for check in below[1:]:
        assert shown[check] == f"{check}: failed\n{pointer(EX01, f'in the test cell of {below[0]}')}", shown[check]


def test_nbgrader_cells_say_the_cause_once_and_point_to_that_cell(tmp_path, mnist_path):
    """The first test cell of the exercise says the cause (a package the kernel has and
    the grader's worker does not); every other cell fails with one line naming that cell."""
    shown = _run_notebook(NOTEBOOK, tmp_path, mnist_path)
    hidden = {name for function in EX01.functions for name in function.hidden}  # in the graded copy only
    first = next(check for check in EX01.checks if check not in hidden)
    others = [check for check in EX01.checks if check != first]
    phrase = "No module named 'helper_beside_the_notebook'"
    assert all(message is not None for message in shown.values()), shown  # every cell fails: 0 points
    assert phrase in shown[first] and shown[first].startswith(f"{first}: failed\n"), shown[first]
    assert sum(phrase in message for message in shown.values()) == 1
    for check in others:
        assert shown[check] == f"{check}: failed\n{pointer(EX01, f'in the test cell of {first}')}", shown[check]
