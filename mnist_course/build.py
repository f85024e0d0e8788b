"""Generate the course's derived files from their sources.

- exercises/<module>.py from solutions/<module>.py: every block between
  `### BEGIN SOLUTION` and `### END SOLUTION` (nbgrader's markers) becomes a
  TODO line taken from course.toml plus `raise NotImplementedError(...)`.
- lessons/<lesson>.ipynb from lessons/<lesson>.py (jupytext percent format),
  without outputs; in lessons/<lesson>.py itself, the Colab badge and set-up
  cell, from course.toml's repository.
- platforms/nbgrader/: the nbgrader course directory, one assignment per
  solution (see nbgrader_course.py).
- .github/workflows/pages.yml: the workflow that builds and publishes the
  course site (see site.py).
- .github/workflows/classroom.yml: GitHub Classroom's autograding, one step
  per exercise with its points (see classroom_workflow.py).

The generated files are committed so students need no build step;
tests/test_course.py regenerates them in memory and fails on any drift.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

from . import classroom_workflow
from .classroom_workflow import CLASSROOM_WORKFLOW_PATH
from .course import ROOT, Course, CourseError, Exercise, load_course, not_started_message
from .nbgrader_course import COURSE_DIR, course_files
from .site import PAGES_WORKFLOW

PAGES_WORKFLOW_PATH = ROOT / ".github" / "workflows" / "pages.yml"

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
    if exercise.questions and re.search(rf"(?m)^def {ANSWERS}\(", solution):
        raise CourseError(f"{filename}: {ANSWERS}() is written by the build from course.toml's questions, not by the solution")
    stub = "\n".join(out) + "\n"
    return stub.rstrip("\n") + "\n" + answers_template(exercise) if exercise.questions else stub


ANSWERS = "answers"  # the function of a stub that hands in its written answers (grader/plugin.py collects it)


def answers_template(exercise: Exercise) -> str:
    """The end of a stub with written questions: answers(), one empty answer per question, each
    question above its answer; "" for an exercise without questions."""
    if not exercise.questions:
        return ""
    lines = [
        "",
        "",
        f"def {ANSWERS}():",
        '    """Your answers to this exercise\'s written questions: about YOUR results, in your own words.',
        "",
        "    The grader does not score them. It hands them to your instructor, who grades them by hand",
        f"    ({exercise.written_points} points in all), and shows them on your feedback page. Write between",
        "    the triple quotes: a few sentences each, with the numbers from your own runs that you rely on.",
        '    """',
        "    return {",
    ]
    for number, question in enumerate(exercise.questions, start=1):
        wrapped = textwrap.wrap(f"{number}. {question.ask} ({question.points} point{'s' * (question.points > 1)})", width=96)
        lines += [f"        # {line}" for line in wrapped]
        lines += [f'        "{question.id}": """', '        """,']
    lines.append("    }")
    return "\n".join(lines) + "\n"


COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
# Every lesson's first code cell, written into lessons/*.py by the build so the
# repository URL lives only in course.toml. A notebook must stand alone in
# Colab, hence one copy per lesson.
COLAB_CELL = """# %%
# In Colab, fetch and install the course first; anywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    home = "/content/mnist-course"
    if not os.path.isdir(home):
        subprocess.run(["git", "clone", "--depth", "1", "{repository}", home], check=True)
    # Colab has TensorFlow, NumPy, Matplotlib, Pillow and pytest: install the course and a
    # recent Keras alone (the course's Jupyter tools would replace the IPython Colab runs on).
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    subprocess.run([*pip, "--editable", home, "keras>=3.11,<4"], check=True)
    sys.path.insert(0, home)  # importable now, without restarting the runtime
    os.chdir(home)  # where exercises/ are, and `!grader` grades them
"""
_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
_CELL = re.compile(r"^# %%\n# In Colab, fetch and install the course first;.*?(?=^# %%)", re.MULTILINE | re.DOTALL)


def colab_url(course: Course, lesson: str) -> str:
    """Where Colab opens a lesson of the published repository."""
    owner_repo = course.repository.removeprefix("https://github.com/").removesuffix(".git").strip("/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/main/lessons/{lesson}.ipynb"


def with_colab(text: str, course: Course, lesson: str) -> str:
    """A lesson source with its Colab badge and set-up cell as course.toml says."""
    where = f"lessons/{lesson}.py"
    if not course.repository.startswith("https://github.com/"):
        raise CourseError("course.toml: [course] repository should be https://github.com/OWNER/REPO (Colab opens lessons from it)")
    if len(_BADGE.findall(text)) != 1 or len(_CELL.findall(text)) != 1:
        raise CourseError(f"{where}: needs one Colab badge in its title cell and one Colab set-up cell (copy them from another lesson)")
    text = _BADGE.sub(lambda _: f"[![Open In Colab]({COLAB_BADGE})]({colab_url(course, lesson)})", text)
    return _CELL.sub(lambda _: COLAB_CELL.format(repository=course.repository) + "\n", text)


def build_notebook(source_text: str) -> str:
    """The .ipynb text for a jupytext percent-format lesson, with no outputs."""
    import jupytext  # only the maintainers' build needs it

    notebook = jupytext.reads(source_text, fmt="py:percent")
    # nbformat draws random cell ids; numbered ids keep the build reproducible.
    for number, cell in enumerate(notebook.cells, start=1):
        cell.id = f"cell-{number:02d}"
    return jupytext.writes(notebook, fmt="ipynb")


def generated_files(course: Course | None = None) -> dict[Path, str]:
    """Every derived file of the course and the content it must have."""
    course = course or load_course()
    files: dict[Path, str] = {}
    for ex in course.exercises:
        if not ex.solution_path.is_file():
            raise CourseError(f"{relative(ex.solution_path)} is missing (course.toml names it for {ex.id})")
        files[ex.stub_path] = make_stub(ex, ex.solution_path.read_text(encoding="utf-8"))
    for name in course.lessons:
        source = course.lesson_source(name)
        if not source.is_file():
            raise CourseError(f"{relative(source)} is missing (course.toml lists lesson {name})")
        lesson = with_colab(source.read_text(encoding="utf-8"), course, name)
        files[source] = lesson
        files[course.lesson_notebook(name)] = build_notebook(lesson)
    files.update({COURSE_DIR / path: text for path, text in course_files(course).items()})
    files[PAGES_WORKFLOW_PATH] = PAGES_WORKFLOW
    files[CLASSROOM_WORKFLOW_PATH] = classroom_workflow.render(course)
    files[RUBRICS_PATH] = rubrics(course)
    return files


RUBRICS_PATH = ROOT / "docs" / "RUBRICS.md"


def rubrics(course: Course) -> str:
    """docs/RUBRICS.md: every written question with its points and rubric, for the instructor who grades
    the answers (answers.csv, nbgrader's formgrader, Gradescope's manual grading); never for students."""
    lines = [
        "# Rubrics of the written questions",
        "",
        "Generated from course.toml's `[[exercise.question]]` by `mnist-course build`: edit course.toml, never this file.",
        "For instructors: what earns each question's points. The grader never scores these answers; it hands them",
        "in (a batch's `answers.csv`, each student's feedback page, Gradescope's output, nbgrader's answer cells).",
        "Students do not receive this page (`mnist-course starter` leaves it out).",
    ]
    for exercise in course.exercises:
        if not exercise.questions:
            continue
        lines += ["", f"## {exercise.id} · {exercise.title} ({exercise.written_points} points)"]
        for number, question in enumerate(exercise.questions, start=1):
            lines += ["", f"{number}. **{question.ask}** ({question.points} points, `{question.id}`)", "", f"   {question.rubric}"]
    return "\n".join(lines) + "\n"


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
