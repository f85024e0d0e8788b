"""`mnist-course starter DIR`: the repository an instructor hands to a class.

What a student receives (a GitHub template, an LMS download): the lessons, the
exercise stubs, the grader and the course package, the students' page, pyproject,
LICENSE and the Classroom workflow. Never solutions/, tests/, the benchmarks'
scripts, platforms/ or the instructors' pages. Every top-level path of the
course is decided in STARTER, one row each with why (mnist_course/README.md
shows the table); a tracked path no row decides stops the build, so a new folder
is never shipped, or left out, by accident (tests/test_no_answer_ships.py).

Self-learners keep the whole repository, whose solutions/ they read after solving.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .course import ROOT, Course, CourseError, load_course


@dataclass(frozen=True)
class Entry:
    """One top-level path of the course and what of it a student receives."""

    path: str
    ships: tuple[str, ...]  # patterns (fnmatch, relative to `path`) of what ships; () ships nothing; ("*",) all of it
    why: str

    def shipped(self, relative: str) -> bool:
        """Whether a file at `relative` (below this entry, or the entry itself) ships."""
        inner = relative[len(self.path) + 1:] if relative != self.path else Path(relative).name
        return any(fnmatch.fnmatchcase(inner, pattern) for pattern in self.ships)


ALL = ("*",)
NOTHING = ()

STARTER = (
    Entry("README.md", NOTHING, "written anew for the starter (`starter_readme`): the course's intro, lesson table, start, students' and data sections; the course's own README is also the maintainers' and links what the starter leaves out"),
    Entry("LICENSE", ALL, "the course's licence goes with every copy"),
    Entry("pyproject.toml", ALL, "`pip install -e .` installs the grader and the course package from it"),
    Entry("course.toml", ALL, "the grader reads every exercise, check, point, hint and bar from it (hints are held above the answer by tests/test_course.py); the copy students receive is `students_course_toml`'s: without the maintainers' comments (how each bar was measured, the references' settings) and the written questions' rubrics"),
    Entry(".gitignore", ALL, "keeps a student's virtualenv, grader state, data and models out of their commits"),
    Entry("exercises", ALL, "the stubs the students complete (generated from solutions/ without the marked blocks)"),
    Entry("lessons", ("*.ipynb", "photos/*"), "the notebooks and lesson 7's photos; the jupytext sources and figures.toml are the maintainers' (`mnist-course build` needs solutions/)"),
    Entry("grader", ALL, "the grader students run (`grader`, `--watch`, `--hint`); it is the package `pip install` installs, so it ships either way"),
    Entry("mnist_course", ALL, "the course package the lessons and the grader import (data, predict, serve, site)"),
    Entry("docs", ("STUDENTS.md", "draw-a-digit.png", "site-lesson.png"), "the students' page and the pictures it shows; INSTRUCTORS.md and the docs index are the instructors'"),
    Entry("models", ("README.md",), "where `mnist-course train` saves a model; trained models are never committed"),
    Entry("benchmarks", ("ablation.json", "validation.json", "SERVE.md"), "the records lesson 6 reads and the drawing page's figures the students' page links; the scripts, and the measurements of the references (MODELS.md: their sizes, epochs and accuracies), are the maintainers'"),
    Entry(".github", ("workflows/classroom.yml",), "GitHub Classroom's autograding of each student's pushes; pages.yml publishes the course's site from its source repository"),
    Entry("solutions", NOTHING, "the reference solutions: with the instructor, or the course's source repository for self-learners"),
    Entry("tests", NOTHING, "the course's own test suite, which needs solutions/"),
    Entry("platforms", NOTHING, "instructors' material: the Gradescope zip builder and the nbgrader course, whose source/ holds the solutions"),
    Entry(".ci", NOTHING, "the course's CI script and its oldest-versions pins"),
)

README_SECTIONS = ("## For students", "## Data")  # from the course's README, after its intro
NO_SOLUTIONS = (
    "The reference solutions are not in this repository: your instructor has them (self-learners "
    "find them in the course's source repository, {repository}, under `solutions/`)."
)


class StarterError(CourseError):
    """The starter cannot be written as asked (a folder that is not empty, an undecided path)."""


def decision(relative: str) -> Entry | None:
    """The row of STARTER that decides a tracked file, or None."""
    top = relative.split("/", 1)[0]
    return next((entry for entry in STARTER if entry.path == top), None)


def tracked_files(root: Path = ROOT) -> list[str]:
    """The course's files as git sees them: tracked, and new ones it does not ignore
    (what a clone holds once they are committed)."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True, timeout=60,
    ).stdout
    return sorted(name for name in listed.decode("utf-8").split("\0") if name and (root / name).is_file())


CACHES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


def walked_files(root: Path = ROOT) -> list[str]:
    """The files below each path STARTER decides, found without git (Python's caches
    aside): for a copy that is not a git checkout, and for tests that start no process."""
    found = []
    for entry in STARTER:
        path = root / entry.path
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        found += [
            p.relative_to(root).as_posix()
            for p in candidates
            if not CACHES & set(p.relative_to(root).parts) and p.suffix != ".pyc"
        ]
    return sorted(found)


def undecided(files: list[str]) -> list[str]:
    """Tracked top-level paths no row of STARTER decides."""
    return sorted({name.split("/", 1)[0] for name in files if decision(name) is None})


def shipped_files(files: list[str]) -> list[str]:
    return [name for name in files if (entry := decision(name)) is not None and entry.shipped(name)]


def _section(text: str, heading: str) -> str:
    """One `## ` section of a Markdown page, its heading included."""
    start = text.index(f"\n{heading}\n") + 1
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start:end + 1]


def starter_readme(course: Course, readme: str, repository: str | None = None) -> str:
    """The starter's README: the course's intro and lesson table, how to start, and its
    sections for students and on the data, with where the reference solutions are.
    `repository`: the class's, which the Colab links then open."""
    if repository:
        readme = _with_repository(readme, course.repository, repository)
    intro = readme[: readme.index("\n## ") + 1]
    start = (
        "## Start in two commands\n\n"
        "Python 3.10 or newer. From a clone of this repository:\n\n"
        "```bash\n"
        'python3 -m venv .venv && . .venv/bin/activate && pip install -e . && grader\n'
        "```\n\n"
        "This installs the course and grades the exercises in `exercises/`. Untouched, every check says it is "
        "not started yet and the total is 0 points. Your page is [`docs/STUDENTS.md`](docs/STUDENTS.md).\n\n"
        + NO_SOLUTIONS.format(repository=course.repository)
        + "\n\n"
    )
    sections = "".join(_section(readme, heading) for heading in README_SECTIONS)
    layout = "\n".join(
        f"| `{entry.path}` | {', '.join(f'`{p}`' for p in entry.ships) if entry.ships != ALL else 'all of it'} | {entry.why} |"
        for entry in STARTER
        if entry.ships
    )
    return (
        intro
        + start
        + sections.rstrip("\n")
        + "\n\n## What this repository holds\n\n"
        "It is the course's starter, written by `mnist-course starter` from the course's source repository.\n\n"
        "| path | what of it | why |\n|---|---|---|\n"
        + layout
        + "\n"
    )


def _with_repository(text: str, old: str, new: str) -> str:
    """`text` with the course's repository (its URL and its owner/name, as Colab links
    and the Classroom workflow name it) replaced by the class's."""
    owner_repo = lambda url: url.removeprefix("https://github.com/").removesuffix(".git").strip("/")  # noqa: E731
    return text.replace(old, new).replace(f"/{owner_repo(old)}/", f"/{owner_repo(new)}/").replace(f"'{owner_repo(old)}'", f"'{owner_repo(new)}'")


def students_course_toml(text: str) -> str:
    """course.toml as a class receives it: the same tables and values, without its comment lines (which say how
    each bar was measured and what the references declare) and without the written questions' rubrics (the
    instructor's, docs/RUBRICS.md). Each rubric is one line, `rubric = "..."` (tests/test_starter.py holds it)."""
    kept = [line for line in text.splitlines(keepends=True)
            if not line.lstrip().startswith("#") and not line.startswith("rubric = ")]
    return re.sub(r"\n{3,}", "\n\n", "".join(kept))


TEXT_SUFFIXES = (".md", ".ipynb", ".toml", ".yml")  # where the repository is named (never in code: tests/test_course.py)


def write_starter(
    out: Path, repository: str | None = None, root: Path = ROOT, course: Course | None = None, files: list[str] | None = None
) -> list[Path]:
    """Write the starter into `out` (created; it must be empty if it exists) and return
    the files written. `repository`: the class's own repository, which the lessons'
    Colab badge and set-up cell, course.toml and the Classroom workflow then name
    instead of the course's source repository (whose clone holds solutions/). `files`:
    the course's files (default: git's list, else `walked_files`)."""
    course = course or load_course()
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StarterError(f"{out} exists and is not an empty folder: the starter is written into a new one")
    if repository is not None and not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repository.removesuffix(".git")):
        raise StarterError(f"--repository should be https://github.com/OWNER/REPO, got {repository!r}")
    if files is None:
        try:
            files = tracked_files(root)
        except (OSError, subprocess.SubprocessError):  # not a git checkout, or no git
            files = walked_files(root)
    missing = undecided(files)
    if missing:
        raise StarterError(
            f"no decision for {', '.join(missing)}: add a row to STARTER in mnist_course/starter.py "
            "(what of it a student receives, and why)"
        )
    written = []
    for name in shipped_files(files):
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name == "course.toml" or (repository and name.endswith(TEXT_SUFFIXES)):
            text = (root / name).read_text(encoding="utf-8")
            if name == "course.toml":
                text = students_course_toml(text)
            if repository:
                text = _with_repository(text, course.repository, repository)
            target.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(root / name, target)
        written.append(target)
    readme = starter_readme(course, (root / "README.md").read_text(encoding="utf-8"), repository)
    (out / "README.md").write_text(readme, encoding="utf-8")
    written.append(out / "README.md")
    return sorted(written)
