"""A variant for each student: which of an exercise's variants an identity draws.

An exercise may list variants in course.toml ([[exercise.variant]]: a key, the line a
student reads, the parameters the checks and references read). Each student does the
variant drawn from their identity, and the checks grade that one, as PrairieLearn
grades a question's instance drawn from a seed: a classmate's file answers another
variant and fails, saying so.

The draw is a function of the identity, the exercise and the course's round
([course] variant_round) alone: the same on every machine and every route, so a
student's own grading and the instructor's agree. The identity is what each route
knows a student by (grader/settings.py `RunSettings.student`): `--student` or
$MNIST_COURSE_STUDENT (remembered by the student's loop), the batch's folder name,
Gradescope's submitter, nbgrader's student id, the owner of a Classroom repository.
Without one, every exercise's first variant (the default, which solutions/
implements). An explicit choice (`--use-variant ex02b=tanh`) wins: practice for a
self-learner, one variant for a whole class when its instructor wants that.

Nothing here reads the environment or the clock; a variant never names the student.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable

from mnist_course.course import Course, CourseError, Exercise, Variant

# What a variant is drawn from besides the identity: another salt would draw every student anew.
SALT = b"mnist-course variant\0"
MAX_IDENTITY = 200


class IdentityError(ValueError):
    """An identity no route could have meant (empty, too long, control characters)."""


def normalized(identity: str) -> str:
    """The identity as the draw reads it: Unicode NFC, trimmed, case folded, so that
    "Alice@Uni.edu " and "alice@uni.edu" draw alike on every route."""
    text = unicodedata.normalize("NFC", str(identity)).strip().casefold()
    if not text:
        raise IdentityError("a student identity is empty")
    if len(text) > MAX_IDENTITY or any(unicodedata.category(ch).startswith("C") for ch in text):
        raise IdentityError(f"a student identity is at most {MAX_IDENTITY} printable characters; got {identity[:40]!r}")
    return text


def drawn(course: Course, exercise: Exercise, identity: str | None) -> Variant | None:
    """The variant of `exercise` that `identity` draws; the default (first) without an
    identity; None where the exercise has no variants."""
    if not exercise.variants:
        return None
    if identity is None:
        return exercise.variants[0]
    digest = hashlib.sha256(SALT + b"\0".join(part.encode() for part in (course.variant_round, exercise.id, normalized(identity)))).digest()
    return exercise.variants[int.from_bytes(digest[:8], "big") % len(exercise.variants)]


def parse_choices(course: Course, text: str) -> tuple[tuple[str, str], ...]:
    """`ex02b=tanh,ex05b=avg` (or several such strings joined by commas) as ((exercise id, key), ...),
    each checked against course.toml; CourseError saying what is wrong."""
    choices: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        exercise_key, sep, key = item.partition("=")
        if not sep or not key.strip():
            raise CourseError(f"a variant choice reads EXERCISE=VARIANT (ex02b=tanh), got {item!r}")
        exercise = course.exercise(exercise_key)
        choices[exercise.id] = exercise.variant(key.strip()).key
    return tuple(sorted(choices.items()))


def of(course: Course, exercise: Exercise, identity: str | None, choices: tuple[tuple[str, str], ...] = ()) -> Variant | None:
    """The variant a run grades `exercise` on: an explicit choice, else the identity's draw."""
    chosen = dict(choices).get(exercise.id)
    return exercise.variant(chosen) if chosen and exercise.variants else drawn(course, exercise, identity)


def others(exercise: Exercise, variant: Variant | None) -> tuple[Variant, ...]:
    """The exercise's variants other than `variant`: what a classmate's file may answer."""
    return tuple(v for v in exercise.variants if variant is None or v.key != variant.key)


def record(variant: Variant) -> dict:
    """What a report says of a variant (never the identity: a report may be shared by identical submissions)."""
    return {"key": variant.key, "says": variant.says}


def answered(exercise: Exercise, mine: Variant | None, answers: Callable[[Variant], bool]) -> tuple[Variant, ...]:
    """The other variants whose answer a failed call gave (`answers(variant)`: does what came back
    match that variant's reference?), none or several: how a check tells a classmate's file from a
    mistake. Several where the call's answer does not depend on what tells them apart (ex05b's
    convolution is the same for two pools)."""
    return tuple(v for v in others(exercise, mine) if answers(v))


OTHER_VARIANTS_FILE = "a file written for another variant than yours: a classmate's, or your own graded under another student id"


def mismatch(call, mine: Variant, theirs: tuple[Variant, ...], got: str, cause: str = OTHER_VARIANTS_FILE):
    """The Feedback (raise it) for a call that computed another variant's answer (`theirs`: the variants
    that answer so): never "your code is wrong", but which variant it answers, which is the student's,
    and how to see it. `cause`: where an exercise knows more (its file's own variant settings), it says so."""
    asked = " or ".join(f"{v.key!r} ({v.says})" for v in theirs)
    return call.fail(
        f"{got}: exactly what variant {asked} asks",
        f"your variant {mine.key!r}: {mine.says}",
        cause=cause,
        hint="`grader --variant` shows the variant your student id draws (give it with `grader --student YOUR-ID`); "
        "each variant asks its own rule of the same function: write your variant's, as the docstring gives it",
    )


def told_apart(exercise: Exercise, mine: Variant | None, answers: Callable[[Variant], bool], cause: str = OTHER_VARIANTS_FILE):
    """What a check raises where a failed call's answer is exactly another variant's: a function
    (call, what came back) -> the `mismatch` Feedback, or None where no other variant answers so."""
    theirs = answered(exercise, mine, answers) if mine is not None else ()
    return (lambda call, got: mismatch(call, mine, theirs, got, cause=cause)) if theirs else None
