"""Each variant's reference solution, for the tests: solutions/ answer an exercise's default
variant (its first in course.toml); another variant's reference is the same file with the few
lines that variant changes replaced, listed per exercise in tests/variant_edits/<exercise id>.py
as `EDITS = {variant key: [(old text, new text), ...]}`. Each old text must occur exactly once
in the solution, so an edit that no longer applies fails here rather than grading the default."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mnist_course.course import Exercise

EDITS_DIR = Path(__file__).with_name("variant_edits")


def edits(exercise: Exercise) -> dict[str, list[tuple[str, str]]]:
    path = EDITS_DIR / f"{exercise.id}.py"
    if not path.is_file():
        return {}
    spec = importlib.util.spec_from_file_location(f"variant_edits_{exercise.id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EDITS


def reference_source(exercise: Exercise, key: str) -> str:
    """The reference solution of `exercise` for its variant `key`."""
    return for_variant(exercise, key, exercise.solution_path.read_text(encoding="utf-8"))


def for_variant(exercise: Exercise, key: str, source: str, *, settings_only: bool = False) -> str:
    """`source`, a file of `exercise` written for its default variant (the reference, or one of
    tests/test_alternatives.py's), with the lines variant `key` changes replaced. `settings_only`:
    only the lines the stub holds too (the variant's settings at the top of the file, HIDDEN or
    DILATION), for a file whose functions were written apart from the reference and read them."""
    if key == exercise.variants[0].key:
        return source
    changes = edits(exercise).get(key)
    if changes is None:
        raise AssertionError(f"tests/variant_edits/{exercise.id}.py has no edits for variant {key!r}")
    if settings_only:
        stub = exercise.stub_path.read_text(encoding="utf-8")
        changes = [(old, new) for old, new in changes if old in stub]
    return _replaced_once(source, changes, f"{exercise.id} variant {key}")


def _replaced_once(source: str, changes, where: str) -> str:
    """`source` with each (old, new) change made, each old text there exactly once (else an AssertionError naming `where`)."""
    for old, new in changes:
        count = source.count(old)
        if count != 1:
            raise AssertionError(f"{where}: {old!r} occurs {count} times, not once")
        source = source.replace(old, new)
    return source


def mistaken_reference(exercise: Exercise, key: str, mistake: dict[str, str]) -> str:
    """The reference of variant `key` with a mistake made in it: each `old: new` edit, each old text there exactly once."""
    return _replaced_once(reference_source(exercise, key), mistake.items(), f"{exercise.id} variant {key}'s reference")


def write_reference(exercise: Exercise, key: str, folder: Path) -> Path:
    """A folder holding `exercise`'s reference for variant `key` (as exercises/ would)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / exercise.filename).write_text(reference_source(exercise, key), encoding="utf-8")
    return folder
