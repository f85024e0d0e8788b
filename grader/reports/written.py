"""Written answers: the questions about a student's own results that a person grades (issue 39 item 5).

An exercise with `[[exercise.question]]` tables in course.toml ends its stub with `answers()`
(mnist_course/build.py writes it): one string per question. The grader never scores them. After an
exercise's checks it calls `answers()` in the student's worker (plugin.py), keeps what came back as
plain text, bounded, and the report carries it as the exercise's `written` section:

    "written": {"points": 4, "questions": [{"id": "why_width", "ask": "...", "points": 2,
                "answer": "...", "status": "answered" | "not answered"}], "note": "..."}

with the report's `written_points`, the points that wait for a person. The autograded total
(`score`, `max_score`) never includes them. The feedback pages show the answers under "Your written
answers"; a batch writes them to RESULTS/answers.csv for the instructor, beside gradebook.csv's
`written_points`; nbgrader's notebooks have manually graded answer cells instead (its formgrader
grades them), and Gradescope's results.json shows them in its output. The rubric is the
instructor's (docs/RUBRICS.md, from course.toml), never in what a student receives.
"""

from __future__ import annotations

import textwrap
from typing import Any

from mnist_course.course import Exercise

from ..feedback import CannotImport, Feedback, NotGraded
from ..isolation.safe_files import clean_text

ANSWERS = "answers"  # mnist_course/build.py's name for the stub's function
MAX_ANSWER_CHARS = 4000  # per answer: a few sentences; a longer one is cut, and the page says so


def collect(student) -> dict[str, Any]:
    """The exercise's written answers, from its file's answers() (a call in the student's worker), as
    the report's `written` section. A file that cannot give them (no answers(), an exception, not a
    dict of strings) hands in none, said in `note`; never a failure of a check."""
    exercise: Exercise = student.exercise
    got: dict[str, str] = {}
    note = ""
    try:
        value = student.call(ANSWERS, expect="a dict of one string per question").value
    except CannotImport:  # said once, at the exercise: never again here
        note = "not read: the file could not be imported (the cause is at the top of the exercise)"
    except NotGraded:
        note = "not read: the grader could not run the file this time; grade again"
    except Feedback as problem:
        first = str(problem).splitlines()[0]
        note = ("no answers() in the file graded (in a notebook, your answer cells are graded there)"
                if "has no function" in str(problem) else f"answers() could not be read: {first[:200]}")
    else:
        if isinstance(value, dict):
            got = {str(k): v for k, v in value.items() if isinstance(v, str)}
        else:
            note = f"answers() returned {type(value).__name__}, not a dict of one string per question"
    return section(exercise, got, note)


def section(exercise: Exercise, got: dict[str, str], note: str = "") -> dict[str, Any]:
    """The report's `written` section of `exercise` from the answers `got` (question id -> text)."""
    questions = []
    for question in exercise.questions:
        text = textwrap.dedent(clean_text(got.get(question.id, ""), MAX_ANSWER_CHARS * 2)).strip()
        cut = len(text) > MAX_ANSWER_CHARS
        questions.append({
            "id": question.id,
            "ask": question.ask,
            "points": question.points,
            "answer": text[:MAX_ANSWER_CHARS] + (f" […cut at {MAX_ANSWER_CHARS:,} characters]" if cut else ""),
            "status": "answered" if text else "not answered",
        })
    return {"points": exercise.written_points, "questions": questions, **({"note": note} if note else {})}


def summary(written: dict[str, Any]) -> str:
    """One line: how many questions are answered and the points a person grades."""
    answered = sum(q["status"] == "answered" for q in written["questions"])
    return (f"Written questions: {answered} of {len(written['questions'])} answered; your instructor grades them "
            f"({written['points']} points, not in the score above)" + (f". {written['note']}" if written.get("note") else ""))
