"""An nbgrader course directory, generated from the same sources as the stubs.

    platforms/nbgrader/nbgrader_config.py
    platforms/nbgrader/source/<module>/<module>.ipynb     one assignment per exercise

Each notebook splits solutions/<module>.py at its top-level functions: the
imports become a locked cell, every function an answer cell (nbgrader keeps
the signature and docstring and replaces what lies between `### BEGIN
SOLUTION` and `### END SOLUTION`), and every check of course.toml a locked
test cell with its points. A test cell calls `grader.notebook.check`, which
grades the answer cells with the course's own grader, in a separate process.
Checks that course.toml lists under `hidden` sit between nbgrader's
`### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS`, so the release omits them.

`mnist-course build` keeps the committed copy in platforms/nbgrader/ up to
date (tests/test_course.py fails on drift); `mnist-course nbgrader DIR`
writes a fresh course directory anywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .budget import safety_timeout_s
from .course import ROOT, Course, CourseError, Exercise, not_started_message

COURSE_DIR = ROOT / "platforms" / "nbgrader"
COURSE_ID = "mnist-course"
# nbgrader's stub for a cleared solution (its default, set explicitly in the
# config): grader/notebook.py recognises it as "not started yet".
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
SCHEMA_VERSION = 3
FULL_MNIST_TRAIN = 60_000  # the largest training set the course grades on


def cell_timeout(course: Course) -> int:
    """Seconds nbgrader lets one cell run: the first test cell of a model
    exercise grades the whole exercise, training included, so a safety net
    above the grader's own for the largest training on full MNIST (before the
    safety factor, which the generated config applies where it runs)."""
    nets = [safety_timeout_s(ex.training, FULL_MNIST_TRAIN) for ex in course.exercises if ex.training]
    return int(max(nets, default=0)) + 600


# Where an exercise with variants sets its variant's numbers (solutions/ex05b_conv_by_hand.py): from this
# line to the first function, the block belongs to the first function's answer cell, which a student
# edits, rather than to the locked imports cell.
VARIANT_BLOCK = "# Your variant"


def split_module(source: str, filename: str) -> tuple[str, dict[str, str]]:
    """The text before the first top-level function (up to a VARIANT_BLOCK), and each top-level
    function's text (with the comments just above it, the first one with the VARIANT_BLOCK), by name."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise CourseError(f"{filename}: does not parse: {exc}") from None
    lines = source.splitlines()
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    if not functions:
        raise CourseError(f"{filename}: no top-level function")
    others = [node for node in tree.body if not isinstance(node, ast.FunctionDef) and node.lineno > functions[0].lineno]
    if others:
        raise CourseError(f"{filename}:{others[0].lineno}: only functions may follow the first function (the notebook has one cell each)")
    first = min([functions[0].lineno, *(d.lineno for d in functions[0].decorator_list)])
    start = next((n for n, line in enumerate(lines[: first - 1]) if line.startswith(VARIANT_BLOCK)), first - 1)
    header = "\n".join(lines[:start]).strip() + "\n"
    parts = {}
    for node, following in zip(functions, [*functions[1:], None]):
        # The last function runs to the end of the file: its closing marker is a
        # comment, past the last line ast counts.
        end = len(lines) if following is None else min([following.lineno, *(d.lineno for d in following.decorator_list)]) - 1
        parts[node.name] = "\n".join(lines[start:end]).strip() + "\n"
        start = end
    return header, parts


def _metadata(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def test_cell_source(exercise: Exercise, check: str, points: int, hidden: bool) -> str:
    call = f'from grader.notebook import check\ncheck("{exercise.id}", "{check}", globals())'
    plural = "s" if points != 1 else ""
    if hidden:
        return (
            f"# Hidden check `{check}` ({points} point{plural}): it runs when your notebook is graded.\n"
            f"### BEGIN HIDDEN TESTS\n{call}\n### END HIDDEN TESTS"
        )
    return f"# Check `{check}` ({points} point{plural})\n{call}"


def assignment_notebook(course: Course, exercise: Exercise) -> str:
    import nbformat  # the maintainers' build and instructors' command need it, grading does not

    filename = f"solutions/{exercise.filename}"
    header, functions = split_module(exercise.solution_path.read_text(encoding="utf-8"), filename)
    extra = [name for name in functions if name not in {f.name for f in exercise.functions}]
    if extra:
        raise CourseError(f"{filename}: {extra[0]}() is not in course.toml; the notebook has a cell only for graded functions")
    # A link that works wherever the notebook is copied: the published lesson.
    lesson = f"{course.repository}/blob/main/lessons/{exercise.lesson}.ipynb"
    # A model exercise's checks need both of its functions (the accuracy check
    # trains build_model() with training_settings()): its tests follow all
    # its answer cells. Elsewhere each function's tests follow its cell.
    tests_after_all = exercise.training is not None
    cells = [
        nbformat.v4.new_markdown_cell(
            f"# Exercise {exercise.id[2:]} · {exercise.title}\n\n"
            f"Lesson {exercise.lesson_number} ([`lessons/{exercise.lesson}.ipynb`]({lesson})) teaches what you need. "
            f"Fill in every cell that says `# YOUR CODE HERE`, keeping the function names and "
            f"signatures; each docstring is the contract the grader checks.\n\n"
            f"Run a test cell to grade your work: it hands your answers (with the imports cell below) "
            f"to the course's grader, which runs them in a separate process, exactly as "
            f"`grader {exercise.id}` grades `exercises/{exercise.filename}`. From the cell that defines each "
            f"function the grader takes that function, with the cell's imports, helper functions and "
            f"constants; calls and prints at the top level of a cell are not graded."
            + ("\n\nThe grader trains your model itself, with your settings: the first test cell takes a while." if tests_after_all else "")
        ),
        nbformat.v4.new_code_cell(imports_mark(exercise) + "\n" + header, metadata=_metadata(f"{exercise.id}-imports", locked=True)),
        # Loaded before any answer runs: what the test cells call, with the
        # environment as it was then (grader/notebook.py).
        nbformat.v4.new_code_cell(
            "from grader.notebook import check" + (f", show_variant\nshow_variant({exercise.id!r})" if exercise.variants else ""),
            metadata=_metadata(f"{exercise.id}-grader", locked=True),
        ),
    ]
    pending = []
    for function in exercise.functions:
        if function.name not in functions:
            raise CourseError(f"{filename}: no top-level function {function.name}() for course.toml's entry")
        cells.append(
            nbformat.v4.new_markdown_cell(
                f"## `{function.name}`\n\nYour task: {function.todo} (lesson {exercise.lesson_number}, \"{function.section}\")."
            )
        )
        cells.append(nbformat.v4.new_code_cell(functions[function.name], metadata=_metadata(f"{exercise.id}-{function.name}", solution=True)))
        for check, points in function.checks.items():
            source = test_cell_source(exercise, check, points, check in function.hidden)
            pending.append(nbformat.v4.new_code_cell(source, metadata=_metadata(f"{exercise.id}-{check}", grade=True, locked=True, points=points)))
        if not tests_after_all:
            cells += pending
            pending = []
    if pending:
        cells.append(nbformat.v4.new_markdown_cell("## Checks\n\nThe first check grades the whole exercise: the grader builds and trains your model here."))
        cells += pending
    if exercise.questions:  # manually graded answer cells: nbgrader's formgrader scores them, never the grader
        cells.append(nbformat.v4.new_markdown_cell(
            f"## Written questions\n\nAbout your own results, in your own words: your instructor grades these by hand "
            f"({exercise.written_points} points); the checks above do not include them."
        ))
        for question in exercise.questions:
            cells.append(nbformat.v4.new_markdown_cell(
                f"**{question.ask}** ({question.points} point{'s' * (question.points > 1)})",
                metadata=_metadata(f"{exercise.id}-{question.id}-question", locked=True),
            ))
            # The source notebook's answer cell holds the rubric; nbgrader's release replaces it with "YOUR ANSWER HERE".
            cells.append(nbformat.v4.new_markdown_cell(
                f"Rubric (instructors only): {question.rubric}",
                metadata=_metadata(f"{exercise.id}-{question.id}", solution=True, grade=True, points=question.points),
            ))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    # nbformat draws random cell ids; numbered ids keep the build reproducible.
    for number, cell in enumerate(notebook.cells, start=1):
        cell.id = f"cell-{number:02d}"
    return nbformat.writes(notebook) + "\n"


def config_file(course: Course) -> str:
    return f'''# nbgrader configuration for the MNIST course. Generated by `mnist-course build`
# (or `mnist-course nbgrader DIR`) from course.toml: change that and regenerate.
import os

c = get_config()  # noqa: F821 - nbgrader provides it

c.CourseDirectory.course_id = "{COURSE_ID}"
# The gradebook: an SQLite file beside this config.
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(os.path.dirname(os.path.abspath(__file__)), "gradebook.db")

# Autograding runs every notebook in a plain Python 3 kernel. A model
# exercise's first test cell trains the student's model: the timeout is the
# grader's safety limit for the largest training on full MNIST plus ten minutes,
# times MNIST_COURSE_SAFETY_FACTOR where a slower machine sets it (the grader
# scales its own clocks by it), so the grader's clock always fires first.
try:
    _factor = float(os.environ.get("MNIST_COURSE_SAFETY_FACTOR") or 1)
except ValueError:
    _factor = 1.0
c.ExecutePreprocessor.kernel_name = "python3"
c.ExecutePreprocessor.timeout = int({cell_timeout(course)} * max(1.0, _factor))

# The instructor's grade measures model accuracy on the private half of the
# test set; students' own checks (validate, the notebook's test cells) use the
# public half. This file is read by the instructor's nbgrader commands only,
# and the kernels they start inherit the setting.
os.environ.setdefault("MNIST_COURSE_TEST_HALF", "private")

# nbgrader's default stub, stated because grader/notebook.py recognises it
# as "not started yet".
c.ClearSolutions.code_stub = {{"python": {CODE_STUB!r}}}
'''


def course_files(course: Course) -> dict[Path, str]:
    """Every file of the nbgrader course directory, relative to it."""
    files = {Path("nbgrader_config.py"): config_file(course)}
    for exercise in course.exercises:
        files[Path("source") / exercise.module / f"{exercise.module}.ipynb"] = assignment_notebook(course, exercise)
    return files


def imports_mark(exercise: Exercise) -> str:
    """The first line of an assignment's locked imports cell, by which the
    grader finds that cell among the ones the kernel ran."""
    return f"# {exercise.id} · the imports your answers use (a locked cell: the grader puts it above them)"


def _not_started(function: ast.FunctionDef, lines: list[str], first: int) -> str | None:
    """nbgrader's untouched stub as the course's own "not started" (which the
    grader recognises), when the body is only the docstring and the stub."""
    body = function.body[1:] if function.body and isinstance(function.body[0], ast.Expr) and isinstance(getattr(function.body[0], "value", None), ast.Constant) else function.body
    if len(body) != 1 or not isinstance(body[0], ast.Raise):
        return None
    raised = body[0].exc
    if isinstance(raised, ast.Call) and not raised.args and not raised.keywords:
        raised = raised.func
    if not (isinstance(raised, ast.Name) and raised.id == "NotImplementedError"):
        return None
    kept = lines[first - 1 : body[0].lineno - 1]
    while kept and kept[-1].strip() in ("", CODE_STUB.splitlines()[0]):
        kept.pop()
    indent = lines[body[0].lineno - 1][: body[0].col_offset]
    return "\n".join([*kept, f'{indent}raise NotImplementedError("{not_started_message(function.name)}")'])


def _kept(node: ast.stmt) -> bool:
    """What the grader takes from an answer cell besides the exercise's
    functions: imports, helper functions and classes, constants."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        try:
            ast.literal_eval(node.value)
        except ValueError:
            return False
        return True
    return False


def exercise_module(exercise: Exercise, header: str, answers: dict[str, tuple[str, int | None]]) -> tuple[str, list[str]]:
    """The exercise's module from a notebook: its imports cell (`header`), then
    for each function the cell that defines it, as (cell source, line of the
    `def` to take, or None for the cell's last one). From each cell the grader
    takes imports, helpers and constants, and only the definition of an
    exercise function that `answers` names, so a cell run twice or a later
    redefinition never mixes versions. Top-level statements (calls, prints,
    training) are left out and listed in the second value. A function with no
    answer is "not started", so a check judges only the functions it calls."""
    names = {f.name for f in exercise.functions}
    parts, dropped = [header.strip() + "\n"], []
    cells: dict[str, dict[str, int | None]] = {}
    for name, (cell, line) in answers.items():
        cells.setdefault(cell, {})[name] = line
    for cell, wanted in cells.items():
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            parts.append(cell)  # the grader's import reports the syntax error
            continue
        lines = cell.splitlines()
        last = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in wanted}
        kept = []
        for node in tree.body:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            text = "\n".join(lines[first - 1 : node.end_lineno])
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
                line = wanted.get(node.name, 0)  # 0: the graded version is in another cell
                if not (last.get(node.name) is node if line is None else line in (first, node.lineno)):
                    continue  # another cell's, or an older, version of this function
                if isinstance(node, ast.FunctionDef):
                    text = _not_started(node, lines, first) or text
            elif not _kept(node):
                if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):  # a bare string is a comment
                    dropped.append(f"line {node.lineno}: {lines[node.lineno - 1].strip()}")
                continue
            kept.append(text)
        parts.append("\n\n".join(kept))
    for function in exercise.functions:
        if function.name not in answers:
            parts.append(f'def {function.name}(*args, **kwargs):\n    raise NotImplementedError("{not_started_message(function.name)}")')
    return "\n\n".join(part.strip() + "\n" for part in parts if part.strip()), dropped


def notebook_module(exercise: Exercise, notebook_file: Path) -> str:
    """The exercise's module from a submitted notebook: its imports cell and
    answer cells, found by their nbgrader ids (nbgrader restores the locked
    imports cell; a notebook without one falls back to the generated one)."""
    import nbformat

    notebook = nbformat.read(notebook_file, as_version=4)
    by_id = {cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"): cell.source for cell in notebook.cells if cell.cell_type == "code"}
    header = by_id.get(f"{exercise.id}-imports", imports_mark(exercise))  # without it, the grader names what is missing
    answers = {f.name: (by_id[f"{exercise.id}-{f.name}"], None) for f in exercise.functions if f"{exercise.id}-{f.name}" in by_id}
    return exercise_module(exercise, header, answers)[0]


def export_submissions(course: Course, submitted: Path, out: Path) -> list[Path]:
    """nbgrader's submitted/<student>/<assignment>/<assignment>.ipynb as
    OUT/<student>/<module>.py, the layout `grader --batch OUT` grades."""
    written = []
    for student in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for exercise in course.exercises:
            notebook_file = student / exercise.module / f"{exercise.module}.ipynb"
            if notebook_file.is_file():
                path = out / student.name / exercise.filename
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(notebook_module(exercise, notebook_file), encoding="utf-8")
                written.append(path)
    return written


def write_course(course: Course, directory: Path) -> list[Path]:
    """Write the course directory (only its generated files) into `directory`."""
    written = []
    for relative, text in course_files(course).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
