"""Nothing a student receives answers a graded function (issue 38, item 1), and no lesson
cell near-solves an exercise (issue 34, item 3).

What a student receives is built here, in this process: the starter repository
(`mnist-course starter`, mnist_course/starter.py), which holds the lessons, the stubs,
the grader and the course package `pip install` installs, and nbgrader's release of
every assignment (nbgrader's own preprocessors on platforms/nbgrader/source). Every
code unit of it is compared with every graded function's reference
(mnist_course/answers.py: copydetect's tokens, names, strings and numbers abstracted).
A unit holding THRESHOLD of a reference fails, naming the unit, the graded function and
the share; so does a grader's answer a student could paste. Proven both ways below: a
solution block planted, renamed, into a lesson cell and into a grader module is found;
the units as they are, and every correct alternative of tests/test_alternatives.py, are
not.
"""

from __future__ import annotations

import ast
import builtins
import copy
import json
import textwrap

import pytest

from mnist_course import answers
from mnist_course.answers import KERAS_THRESHOLD, THRESHOLD, Scan, Unit
from mnist_course.course import ROOT, load_course, tomllib
from mnist_course.starter import shipped_files, walked_files

COURSE = load_course()

# Graded functions whose reference is too short to search for by its tokens (fewer than
# answers.MIN_PRINTS fingerprints): a one-line dict of settings. Their numbers are the
# answer, and the docstrings state the reference's budget on purpose.
TOO_SHORT = {
    "ex01.normalize": "one line once its checks of the input are set aside: the pixels as float32, divided by 255",
    "ex01.add_channel_axis": "one call once its checks of the input are set aside: np.expand_dims",
    "ex02b.sgd_settings": "return {n_hidden, epochs, batch_size, learning_rate}: course.toml records n_hidden, epochs and batch size for the work cap",
}


def _code_files() -> list[str]:
    """Every file of what a student receives that holds code units, by its path there."""
    starter = [name for name in shipped_files(walked_files()) if name.endswith((".py", ".ipynb", ".md"))] + ["README.md"]
    release = [f"release/{p.relative_to(ROOT / 'platforms' / 'nbgrader' / 'source').as_posix()}"
               for p in sorted((ROOT / "platforms" / "nbgrader" / "source").glob("*/*.ipynb"))]
    return sorted(set(starter)) + release


CODE_FILES = _code_files()
LESSONS = [f"lessons/{lesson}.ipynb" for lesson in COURSE.lessons]


@pytest.fixture(scope="module")
def received(tmp_path_factory):
    """Every code unit of what a student receives, and where it was written."""
    out = tmp_path_factory.mktemp("received")
    return out, answers.what_a_student_receives(out, COURSE)


@pytest.fixture(scope="module")
def scan(received):
    return Scan(answers.references(COURSE), received[1])


@pytest.fixture(scope="module")
def answered(scan) -> dict[str, list[str]]:
    """What answers a graded function, by the file of what a student receives it is in."""
    found: dict[str, list[str]] = {}
    for finding in scan.findings():
        found.setdefault(finding.unit.path, []).append(str(finding))
    for a in answers.grader_answers(COURSE):
        if a.pasteable and f"{a.exercise}.{a.function}" not in answers.ANSWERED_BY_ITS_CONTRACT:
            found.setdefault(a.path, []).append(
                f"{a.where} computes {a.exercise}.{a.function}() and a student could paste it: it uses nothing the worker refuses")
    return found


# ---------------------------------------------------------------- the tests


def test_every_graded_function_has_a_reference_searched_for():
    """course.toml's every function has its solution's block as a reference; each is searched
    for, or named in TOO_SHORT with why."""
    references = {r.name: r for r in answers.solution_references(COURSE)}
    graded = [f"{ex.id}.{f.name}" for ex in COURSE.exercises for f in ex.functions]
    assert sorted(references) == sorted(graded)
    assert {name for name, r in references.items() if not r.searchable} == set(TOO_SHORT)


@pytest.mark.parametrize("path", [p for p in CODE_FILES if p not in LESSONS])
def test_nothing_a_student_receives_answers_a_graded_function(scan, answered, path):
    """Every file of the starter (stubs, grader, course package, docs) and of nbgrader's release."""
    assert path in {u.path for u in scan.units} or not path.endswith(".py"), f"{path} was not scanned"
    found = answered.get(path, [])
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("path", LESSONS)
def test_no_lesson_cell_near_solves_an_exercise(scan, answered, path):
    """Every lesson code cell against every graded function's references (issue 34, item 3)."""
    cells = [u for u in scan.units if u.path == path and u.kind == "lesson cells"]
    assert len(cells) > 5, f"{path}: its code cells were not read"
    found = answered.get(path, [])
    assert found == [], "\n".join(found)


def test_the_grader_answers_named_exist():
    """GRADER_ANSWERS names functions the grader's references define: renamed or moved, its row
    is updated, so that the grader's own answers are never silently out of sight."""
    missing = [f"{a.where}: {', '.join(a.missing)}" for a in answers.grader_answers(COURSE) if a.missing]
    assert missing == [], "update answers.GRADER_ANSWERS:\n" + "\n".join(missing)


def _named_by_the_docstring(name: str, code: str) -> set[str]:
    """What the grader's answer does, as words its function's docstring must hold."""
    import re

    from grader.references import ex03b_experiment as ref

    if name == "ex03b.validation_accuracy":
        calls = set(re.findall(r"\b(set_random_seed|Input|Rescaling|Flatten|Dense|compile|fit)\(", code))
        assert calls >= {"set_random_seed", "Input", "Rescaling", "Flatten", "Dense", "compile", "fit"}, calls
        words = set(re.findall(r'"(\w+)"', code)) - {"accuracy"}  # the activations, optimizer and loss it names
        return (calls - {"fit"}) | words | {f"epochs={ref.EPOCHS}", f"batch_size={ref.BATCH_SIZE}"}
    if name == "ex03b.choose_width":
        return set(ref.FLOORS) | {"sample standard deviation", "k - 1", "sqrt(k)", "lowest", "narrowest"}
    raise AssertionError(f"{name}: say here what its docstring must name")


def test_a_grader_answer_allowed_by_its_contract_is_what_the_docstring_already_says():
    """Each graded function ANSWERED_BY_ITS_CONTRACT names is one the grader answers, not by hand, and
    its docstring names all the grader's answer does: the answer tells a student nothing the exercise's
    stub does not."""
    found = {f"{a.exercise}.{a.function}": a for a in answers.grader_answers(COURSE)}
    for name, why in answers.ANSWERED_BY_ITS_CONTRACT.items():
        exercise_id, function = name.split(".")
        assert name in found and found[name].pasteable and not COURSE.exercise(exercise_id).by_hand and why, name
        stub = (ROOT / "exercises" / COURSE.exercise(exercise_id).filename).read_text(encoding="utf-8")
        docstring = ast.get_docstring(next(n for n in ast.parse(stub).body if isinstance(n, ast.FunctionDef) and n.name == function))
        missing = [w for w in sorted(_named_by_the_docstring(name, found[name].code)) if w not in docstring]
        assert missing == [], f"{name}: the grader's answer does {missing}, which its docstring does not name"


def test_a_grader_answer_computed_with_what_the_worker_refuses_cannot_be_pasted(tmp_path):
    """By hand, the grader's answer that uses TensorFlow or Keras (itself, through a helper of
    its module, or through the course's quiet_keras()) earns nothing pasted; its NumPy one
    does, and so does any answer of an exercise that is not by hand."""
    references = tmp_path / "grader" / "references"
    references.mkdir(parents=True)
    (references / "ex04_evaluation.py").write_text(textwrap.dedent("""
        import numpy as np
        import tensorflow as tf
        from mnist_course.data import quiet_keras

        def confusion_matrix(y_true, y_pred, num_classes):
            return tf.math.confusion_matrix(y_true, y_pred, num_classes).numpy()

        def _column_sums(cm):
            from keras import ops
            return ops.sum(cm, axis=0)

        def precision_recall_f1(cm):
            return np.diag(cm) / _column_sums(cm), None, None

        def most_confused_pairs(cm, k):
            cells = [(i, j, int(cm[i, j])) for i in range(len(cm)) for j in range(len(cm)) if i != j and cm[i, j]]
            return sorted(cells, key=lambda c: (-c[2], c[0], c[1]))[:k]

        def most_confident_mistakes(probs, y_true, k):
            keras = quiet_keras()
            return keras.ops.argsort(probs)[:k]
    """))
    (references / "ex06_real_use.py").write_text("import keras\n\ndef predict_digit(model, image):\n    return keras.ops.argmax(model(image))\n")
    found = {f"{a.exercise}.{a.function}": a for a in answers.grader_answers(COURSE, root=tmp_path)}
    assert {name for name, a in found.items() if a.pasteable} == {"ex04.most_confused_pairs", "ex06.predict_digit"}
    assert found["ex04.precision_recall_f1"].refused == ("precision_recall_f1",)


def test_what_is_scanned_covers_every_route(received, scan):
    """The starter's stubs, lessons, grader, course package and docs, and nbgrader's release;
    never the solutions, tests or instructors' material."""
    out, units = received
    kinds = {u.kind for u in units}
    assert kinds == set(answers.KINDS)
    paths = {u.path.split("/", 1)[0] for u in units}
    assert not paths & {"solutions", "tests", "platforms"} and "docs/INSTRUCTORS.md" not in {u.path for u in units}
    # nbgrader's release keeps the answer cells, cleared.
    release = [u for u in units if u.kind == "nbgrader release"]
    assert any("# YOUR CODE HERE" in u.code for u in release) and not any("### BEGIN SOLUTION" in u.code for u in release)
    # pyproject's packages: every package `pip install` installs is in the starter, so it was scanned.
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert all((out / "starter" / p.replace(".", "/") / "__init__.py").is_file() for p in packages)


# ---------------------------------------------------------------- proven both ways


def disguised(code: str, numbers: bool = True) -> str:
    """A reference as someone who copied it would hide it: every name it binds or uses renamed
    (builtins aside, which the code needs), every number changed unless `numbers` is False,
    and the layout rewritten by ast.unparse."""
    names: dict[str, str] = {}
    keep = set(dir(builtins)) | {"self"}

    def fresh(name):
        return name if name in keep else names.setdefault(name, f"q{len(names)}")

    class Disguise(ast.NodeTransformer):
        def visit_Name(self, node):
            node.id = fresh(node.id)
            return node

        def visit_arg(self, node):
            node.arg = fresh(node.arg)
            return node

        def visit_Constant(self, node):
            if numbers and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                node.value = node.value + 3
            return node

    return ast.unparse(Disguise().visit(ast.parse(textwrap.dedent(code))))


def _as_function(code: str, name: str = "helper") -> str:
    return f"def {name}(*args):\n" + textwrap.indent(code, "    ") + "\n"


PLANTED = ["ex04.confusion_matrix", "ex05b.conv2d", "ex06.prepare_image", "ex02b.gradients", "ex01.one_hot", "ex03b.run_sweep"]


@pytest.mark.parametrize("name", PLANTED)
def test_a_solution_planted_in_a_lesson_cell_and_a_grader_module_is_found(received, name):
    """Renamed, its numbers changed and its layout rewritten, a solution block is found in a
    lesson cell (in the notebook's JSON) and in a grader module, named with its unit and share;
    without the plant, the same cell and module hold nothing."""
    out, _ = received
    reference = next(r for r in answers.solution_references(COURSE) if r.name == name)
    planted = _as_function(disguised(reference.code))
    notebook = json.loads((out / "starter" / "lessons" / "06_training_recipes.ipynb").read_text())
    n, cell = next((n, c) for n, c in enumerate(notebook["cells"], start=1) if c["cell_type"] == "code" and n > 10)
    honest = answers.notebook_units("lessons/06_training_recipes.ipynb", notebook)
    planted_notebook = copy.deepcopy(notebook)
    planted_notebook["cells"][n - 1]["source"] = "".join(cell["source"]) + "\n\n" + planted
    notebook_units = answers.notebook_units("lessons/06_training_recipes.ipynb", planted_notebook)
    module = (out / "starter" / "grader" / "loop.py").read_text()
    module_units = answers.python_units("grader/loop.py", module + "\n\n" + planted.replace("def helper", "def _compare"))
    found = Scan([reference], notebook_units + module_units).findings()
    wheres = {f.unit.where: f for f in found}
    assert f"lessons/06_training_recipes.ipynb, cell {n}" in wheres and "grader/loop.py, _compare()" in wheres, [str(f) for f in found]
    assert all(f.share >= 0.9 for f in wheres.values()), [str(f) for f in found]
    assert name in str(wheres["grader/loop.py, _compare()"]) and "%" in str(wheres["grader/loop.py, _compare()"])
    assert Scan([reference], honest + answers.python_units("grader/loop.py", module)).findings() == []


def test_a_computation_planted_without_its_guards_is_found():
    """A lesson that keeps a solution's computation and drops its checks of the input."""
    reference = next(r for r in answers.solution_references(COURSE) if r.name == "ex05b.conv2d")
    computation = answers.canonical(reference.code)
    assert "raise" not in computation and "einsum" in computation
    unit = Unit("lesson cells", "lessons/x.ipynb", "lessons/x.ipynb, cell 3", _as_function(disguised(computation)))
    assert reference.share(unit) >= 0.9 > THRESHOLD


def test_a_keras_declaration_is_found_with_its_own_numbers_only():
    """A model exercise's reference planted, renamed, is found; the same network with other
    numbers (the idiom every lesson writes its networks in) is not."""
    reference = next(r for r in answers.solution_references(COURSE) if r.name == "ex02.build_model")
    assert reference.configuration and reference.threshold == KERAS_THRESHOLD
    own = Unit("lesson cells", "lessons/x.ipynb", "own", _as_function(disguised(reference.code, numbers=False)))
    other = Unit("lesson cells", "lessons/x.ipynb", "other", _as_function(disguised(reference.code)))
    assert reference.share(own) == 1.0
    assert reference.share(other) < KERAS_THRESHOLD


def test_correct_code_written_independently_is_not_found():
    """Every correct alternative of tests/test_alternatives.py (written apart from the solutions)
    holds less than the threshold of its function's reference: the search finds copies, and
    an independent implementation of the same method is not one (the limit of tokens)."""
    from test_alternatives import BACKPROP_ALTERNATIVES, FUNCTION_ALTERNATIVES, MODEL_ALTERNATIVES

    references = {r.name: r for r in answers.solution_references(COURSE)}
    shares = {}
    for corpus in (FUNCTION_ALTERNATIVES, BACKPROP_ALTERNATIVES, MODEL_ALTERNATIVES):
        for case, (exercise, functions) in corpus.items():
            for function, code in functions.items():
                reference = references.get(f"{exercise}.{function}")
                if isinstance(code, str) and reference is not None and reference.searchable:
                    unit = Unit("alternatives", "tests/test_alternatives.py", f"{case}.{function}", textwrap.dedent(code))
                    shares[unit.where] = (reference.share(unit), reference.threshold)
    assert len(shares) > 30
    over = {where: share for where, (share, threshold) in shares.items() if share >= threshold}
    assert over == {}
