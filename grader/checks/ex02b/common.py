"""What several of ex02b's check modules share: the variant's hidden activation, the tolerance, course.toml's `sgd` table."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from grader import variants
from mnist_course.course import COURSE_FILE


REL_TOLERANCE = 1e-6


# The first variant's activation: what an exercise without a variant table would ask.
_DEFAULT_HIDDEN = "relu"
_MISMATCH_CAUSE = ("HIDDEN at the top of your file, or the activation your code computes, is not your variant's (the file "
                   "starts with the first variant's), or the file was written for another variant: a classmate's, or your own "
                   "under another student id")


def _hidden(variant) -> str:
    """The hidden activation the variant asks for (course.toml's params `hidden`)."""
    return (variant.params if variant else {}).get("hidden", _DEFAULT_HIDDEN)


def _other_variant(student, answers):
    """What to raise where what came back is exactly another variant's answer (`answers(hidden)` says
    whether it is): grader/variants.py `told_apart`, else None."""
    return variants.told_apart(student.exercise, student.variant, lambda v: answers(_hidden(v)), cause=_MISMATCH_CAUSE)


def _table(exercise, name: str) -> dict:
    raw = tomllib.loads(COURSE_FILE.read_text(encoding="utf-8"))
    return next(e for e in raw["exercise"] if e["id"] == exercise.id)[name]


def _sgd(exercise) -> dict:
    """course.toml's `sgd` table of this exercise: seed, work cap, reference settings."""
    return _table(exercise, "sgd")
