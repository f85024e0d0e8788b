"""Generate the course's derived files from their sources.

- exercises/<module>.py from solutions/<module>.py: every block between
  `### BEGIN SOLUTION` and `### END SOLUTION` (nbgrader's markers) becomes a
  TODO line taken from course.toml plus `raise NotImplementedError(...)`.
- lessons/<lesson>.ipynb from lessons/<lesson>.py (jupytext percent format),
  without outputs.
- platforms/nbgrader/: the nbgrader course directory, one assignment per
  solution (see nbgrader_course.py).

The generated files are committed so students need no build step;
tests/test_course.py regenerates them in memory and fails on any drift.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .course import ROOT, Course, CourseError, Exercise, load_course, not_started_message
from .nbgrader_course import COURSE_DIR, course_files

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"


def _enclosing_functions(source: str, filename: str) -> list[tuple[int, int, str]]:
    """(first line, last line, name) of every function definition."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise CourseError(f"{filename}: the solution does not parse: {exc}") from None
    return [
        (node.lineno, node.end_lineno or node.lineno, node.name)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def marked_blocks(source: str, filename: str) -> list[tuple[int, int, str]]:
    """(begin line index, end line index, function name) of each marked block."""
    functions = _enclosing_functions(source, filename)
    blocks, begin = [], None
    for i, line in enumerate(source.splitlines()):
        marker = line.strip()
        if marker == BEGIN:
            if begin is not None:
                raise CourseError(f"{filename}:{i + 1}: {BEGIN} inside another block")
            begin = i
        elif marker == END:
            if begin is None:
                raise CourseError(f"{filename}:{i + 1}: {END} without {BEGIN}")
            # Innermost function around the BEGIN line (ast lines are 1-based and
            # end at the last statement, so the END comment may lie past them).
            owners = [f for f in functions if f[0] < begin + 1 <= f[1]]
            if not owners:
                raise CourseError(f"{filename}:{begin + 1}: a marked block must sit inside a function")
            blocks.append((begin, i, max(owners, key=lambda f: f[0])[2]))
            begin = None
    if begin is not None:
        raise CourseError(f"{filename}:{begin + 1}: {BEGIN} is never closed")
    return blocks


def make_stub(exercise: Exercise, solution: str) -> str:
    """The student's version of a solution file."""
    filename = f"solutions/{exercise.filename}"
    lines = solution.splitlines()
    out = [
        f"# Exercise {exercise.id[2:]} · {exercise.title}: your work goes in this file.",
        f"# Grade it with `grader {exercise.id}`; ask for a hint with `grader --hint {exercise.id}`.",
        f"# (Generated from {filename} by `mnist-course build`: course maintainers",
        "# edit the solution and regenerate, never this file.)",
        "",
    ]
    cursor = 0
    seen = []
    for begin, end, function in marked_blocks(solution, filename):
        try:
            spec = exercise.function(function)
        except KeyError:
            raise CourseError(
                f"{filename}: marked block in {function}() but course.toml lists no such function"
            ) from None
        seen.append(function)
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        out.extend(lines[cursor:begin])
        out.append(f"{indent}# TODO: {spec.todo}")
        out.append(f'{indent}#       (lesson {exercise.lesson_number}, "{spec.section}")')
        out.append(f'{indent}raise NotImplementedError("{not_started_message(function)}")')
        cursor = end + 1
    out.extend(lines[cursor:])
    missing = [f.name for f in exercise.functions if f.name not in seen]
    if missing:
        raise CourseError(f"{filename}: no marked block for {', '.join(missing)}")
    if len(seen) != len(set(seen)):
        raise CourseError(f"{filename}: a function has more than one marked block")
    return "\n".join(out) + "\n"


def build_notebook(source: Path) -> str:
    """The .ipynb text for a jupytext percent-format lesson, with no outputs."""
    import jupytext  # only the maintainers' build needs it

    notebook = jupytext.read(source)
    # nbformat draws random cell ids; numbered ids keep the build reproducible.
    for number, cell in enumerate(notebook.cells, start=1):
        cell.id = f"cell-{number:02d}"
    return jupytext.writes(notebook, fmt="ipynb")


def generated_files(course: Course | None = None) -> dict[Path, str]:
    """Every derived file of the course and the content it must have."""
    course = course or load_course()
    files: dict[Path, str] = {}
    for ex in course.exercises:
        for source in (ex.solution_path, ex.lesson_source):
            if not source.is_file():
                raise CourseError(f"{relative(source)} is missing (course.toml names it for {ex.id})")
        files[ex.stub_path] = make_stub(ex, ex.solution_path.read_text(encoding="utf-8"))
        if ex.lesson_notebook not in files:
            files[ex.lesson_notebook] = build_notebook(ex.lesson_source)
    files.update({COURSE_DIR / path: text for path, text in course_files(course).items()})
    return files


def stale_files(course: Course | None = None) -> list[Path]:
    """Derived files that are missing or differ from what their sources give."""
    return [
        path
        for path, text in generated_files(course).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def write_all(course: Course | None = None) -> list[Path]:
    written = []
    for path, text in generated_files(course).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def relative(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
