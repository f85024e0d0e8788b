"""What the mutation and alternative corpora share: a submission is the
reference with a few edits, and a corpus is graded as a class in one
`grader --batch` run, as an instructor would grade it."""

import json
import os
import re
import subprocess
import sys

import pytest

from mnist_course.course import ROOT, load_course
from grader.settings import DRAW_KEY_ENV

COURSE = load_course()
# Every part a failure message must have, in the order Feedback renders them.
TEACHING_PARTS = ("; expected ", "Likely cause: ", "Hint: ", "See lesson ")
QUOTE = re.compile(r'The docstring says: "(.+?)\."$', re.MULTILINE)


# Exercises whose student code trains models in the grader's worker (ex02b's
# train(), ex03b's experiment): their cases carry the `trains` mark and are
# graded in a class of their own, so `-m "not trains"` grades the rest.
TRAINS_IN_WORKER = {"ex02b", "ex03b"}


def split(corpus: dict) -> tuple[dict, dict]:
    """(the cases that train nothing, those of TRAINS_IN_WORKER's exercises)."""
    trains = {name: case for name, case in corpus.items() if case[0] in TRAINS_IN_WORKER}
    return {name: case for name, case in corpus.items() if name not in trains}, trains


def cases(corpus: dict, names=None) -> list:
    """The corpus's names (or `names`) as pytest parameters, marked `trains` where they train."""
    return [pytest.param(name, marks=pytest.mark.trains) if corpus[name][0] in TRAINS_IN_WORKER else name for name in (names or corpus)]


# ex04's classic mistake of clearing the caller's matrix in place (most_confused_pairs_leaves_input fails): the
# mutation corpus's, and a class's in the class tests, through edited(), which refuses an edit the reference no
# longer holds, so the mistake cannot silently vanish.
EX04_CLEARED_IN_PLACE = {"mistakes = cm.astype(np.int64)": "mistakes = cm.astype(np.int64, copy=False)"}


def edited(exercise_id: str, edits: dict[str, str], name: str = "") -> str:
    """The reference solution of `exercise_id` with each `old: new` edit applied."""
    source = COURSE.exercise(exercise_id).solution_path.read_text()
    for old, new in edits.items():
        assert old in source, f"{name}: the reference no longer holds {old!r}"
        source = source.replace(old, new)
    return source


# The corpora's class key (grader/draws.py): a batch would otherwise make a new secret one for each
# run, and what it draws (ex02b's MNIST pixel rotation) would change a borderline mutant's diagnosis
# from run to run. A fixed key keeps every corpus verdict and message reproducible.
CORPUS_DRAW_KEY = "the course's own test corpora"


def grade_class(submissions: dict[str, tuple[str, str]], folder, mnist_path, jobs: int = 2, env: dict[str, str] | None = None,
                extra: dict[str, dict[str, str]] | None = None, args: tuple[str, ...] = ()):
    """Grade {student: (exercise id, module source)} as a class, with CORPUS_DRAW_KEY; return the
    folder of reports (out/students/<student>/report.json). `env`: variables
    set for the whole run; `extra`: {student: {path: text}}, more files of theirs; `args`: more
    of the grader's options (`--use-variant ex04=of_true_mass`)."""
    subs, out = folder / "submissions", folder / "graded"
    subs.mkdir()
    for student, (exercise_id, source) in submissions.items():
        (subs / student).mkdir()
        (subs / student / COURSE.exercise(exercise_id).filename).write_text(source)
        for path, text in (extra or {}).get(student, {}).items():
            (subs / student / path).parent.mkdir(parents=True, exist_ok=True)
            (subs / student / path).write_text(text)
    ids = sorted({exercise_id for exercise_id, _ in submissions.values()})
    done = subprocess.run(
        [sys.executable, "-m", "grader", *ids, "--batch", str(subs), "--out", str(out), "--jobs", str(jobs), "--data", mnist_path, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=3600, env={**os.environ, DRAW_KEY_ENV: CORPUS_DRAW_KEY, **(env or {})},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return out


def checks_of(out, student: str, exercise_id: str) -> list[dict]:
    report = json.loads((out / "students" / student / "report.json").read_text())
    return next(ex for ex in report["exercises"] if ex["id"] == exercise_id)["checks"]


def assert_teaches(exercise_id: str, check: str, message: str) -> None:
    """A failure message says what came back and what was expected, the likely
    cause, a hint and the lesson section, never a traceback; a sentence it
    quotes from the docstring is really there, word for word."""
    assert "Traceback" not in message, (check, message)
    for part in TEACHING_PARTS:
        assert part in message, (check, part, message)
    docstrings = " ".join(COURSE.exercise(exercise_id).solution_path.read_text().split())
    for quoted in QUOTE.findall(message):
        assert " ".join(quoted.split()) in docstrings, (check, quoted)


def reference_body(exercise_id: str, function: str) -> str:
    """The reference's code of `function` (between its solution markers), dedented: to run it in a
    submission beside code of a test's own (filled() puts it back as a body)."""
    import textwrap

    source = COURSE.exercise(exercise_id).solution_path.read_text()
    begin = source.index("    ### BEGIN SOLUTION\n", source.index(f"\ndef {function}(")) + len("    ### BEGIN SOLUTION\n")
    return textwrap.dedent(source[begin:source.index("    ### END SOLUTION\n", begin)])


def filled(exercise_id: str, **bodies: str) -> str:
    """The exercise as a student fills it: each named function's body (between
    the reference's solution markers) replaced by the given code; imports the
    body needs go in a `_imports` body, added after the module's own."""
    import textwrap

    source = COURSE.exercise(exercise_id).solution_path.read_text()
    imports = bodies.pop("_imports", "")
    for function, body in bodies.items():
        start = source.index(f"\ndef {function}(")
        begin = source.index("    ### BEGIN SOLUTION\n", start)
        end = source.index("    ### END SOLUTION\n", begin)
        code = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
        source = source[:begin] + code + source[end + len("    ### END SOLUTION\n"):]
    if imports:
        last = max(source.rfind("\nimport "), source.rfind("\nfrom "))
        cut = source.index("\n", last + 1) + 1
        source = source[:cut] + textwrap.dedent(imports).strip("\n") + "\n" + source[cut:]
    return source


def told(exercise: dict, check: dict) -> str:
    """What a check of a report's exercise tells the student: its own message, or, for a
    check not checked because of the exercise's one cause (`not_checked`: its file could not
    be imported, or a by-hand function used a library), that cause, said at the exercise."""
    return exercise[check["not_checked"]]["message"] if check.get("not_checked") else check["message"]



def selected(request, corpus: dict) -> dict:
    """The part of `corpus` this run's tests ask for: with `-k` choosing a few cases, only those
    are graded. Read from the collected tests that use the asking fixture: the corpus names among
    their parameters. A test that names the fixture and no case (it reads the whole class) asks for
    all of it; one that takes `request` asks for the fixture only through a case of this corpus."""
    fixture, names = request.fixturename, set()
    for item in request.session.items:
        uses = getattr(item, "fixturenames", ())
        params = getattr(getattr(item, "callspec", None), "params", {})
        found = {value for value in params.values() if isinstance(value, str) and value in corpus}
        if fixture in uses:
            if not found:
                return corpus
            names |= found
        elif "request" in uses and getattr(item, "module", None) is request.module:
            names |= found
    return {name: case for name, case in corpus.items() if name in names} or corpus
