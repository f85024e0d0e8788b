"""Failure messages that teach (exercism's form).

A check fails by raising `Feedback`: what was called, what came back, what
was expected, the docstring's sentence it breaks where the contract forbids
something, the likely cause and a hint. The pytest plugin adds the lesson
section to reread and shows only this text, never a traceback into the grader.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataclasses import dataclass


@dataclass
class Opaque:
    """A value a worker returned that is not plain data; only its description crosses
    (isolation/reply.py makes it; `describe` below says it)."""

    description: str  # "an object of type builtins.dict", say
    length: int | None = None


class Feedback(AssertionError):
    """A failed check, explained to the student."""

    status = "failed"

    def __init__(
        self,
        got: str,
        expected: str = "",
        *,
        called: str = "",
        cause: str = "",
        hint: str = "",
        output: str = "",
        contract: str = "",
    ):
        self.called, self.got, self.expected = called, got, expected
        self.cause, self.hint, self.output, self.contract = cause, hint, output, contract
        super().__init__(self.render())

    def render(self) -> str:
        lines = []
        if self.called:
            lines.append(f"Called {self.called}.")
        got = self.got.rstrip(".")
        if got.split(" ", 1)[0].isalpha():  # a sentence, not a code name like normalize()
            got = got[0].upper() + got[1:]
        lines.append(f"{got}; expected {self.expected.rstrip('.')}." if self.expected else f"{got}.")
        if self.contract:  # the docstring's own words, quoted verbatim (tests/test_mutations.py holds them to it)
            lines.append(f'The docstring says: "{self.contract.rstrip(".")}."')
        if self.cause:
            lines.append(f"Likely cause: {self.cause.rstrip('.')}.")
        if self.hint:
            lines.append(f"Hint: {self.hint.rstrip('.')}.")
        if self.output:  # marked line by line, so printed text never passes for the grader's
            lines.append("Your code printed (last lines):")
            lines.extend(f"    | {line}" for line in self.output.splitlines())
        return "\n".join(lines)


class NotStarted(Feedback):
    """The function still raises the stub's NotImplementedError."""

    status = "not started"

    def __init__(self, function: str, filename: str):
        super().__init__(
            f"{function}() is not started yet",
            hint=f"replace the TODO in {function}() in {filename}, keeping its docstring's contract",
        )


class CannotImport(Feedback):
    """The exercise's file could not be imported (a syntax error, an exit or a
    time-out at import, a missing package, its own limits hit while importing,
    no such file): the one cause of every check of the exercise that fails.
    `Student` keeps it, and the report says it once, at the exercise, while each
    failed check points to it (reports/report.py, `import_failure`)."""

    kind = "import_failure"


def by_hand_reason(exercise: Any) -> str:
    """Why a by-hand exercise (course.toml's `by_hand`) forbids the libraries that would do its work."""
    libraries = ", ".join(exercise.forbidden_libraries[:6])
    return (
        f"{exercise.id} is NumPy by hand: {exercise.by_hand.rstrip('.')}. When it is graded, {libraries} and the other "
        "libraries that would do the work for you cannot be used: importing one succeeds but gives a stand-in that fails "
        "when used, so a `try: import ... except ImportError` fallback does not run"
    )


class LibraryUsed(Feedback):
    """A by-hand exercise's functions that used a forbidden library (`Student.library_used`):
    said once, at the exercise (the report's `by_hand`), while every check of those
    functions earns nothing and points to it; the other functions keep their points."""

    kind = "by_hand"

    def __init__(self, exercise: Any, used: dict[str, str], dependents: tuple[str, ...] = ()):
        """`dependents`: the other functions' checks that earn nothing with them, because each
        counts once a check of theirs passes (scoring.depends_on)."""
        self.used = dict(used)
        uses = "; ".join(f"{function}() used {name}" for function, name in self.used.items())
        sections = {f.section for f in exercise.functions if f.name in self.used}
        where = " and ".join(f'"{section}"' for section in sorted(sections))
        super().__init__(
            f"{uses}, which this exercise does not allow, so {'its checks earn' if len(self.used) == 1 else 'their checks earn'} nothing",
            "each step written with NumPy alone (np.einsum and sliding_window_view are allowed)",
            cause=by_hand_reason(exercise),
            hint=f"lesson {exercise.lesson_number}, {where}, works the method through by hand; the functions "
            "that do not use a library keep their points" + (
                f", but for {' and '.join(dependents)}, which {'counts' if len(dependents) == 1 else 'count'} once a check of theirs passes"
                if dependents else ""),
        )


def short(values: Any, limit: int = 10) -> str:
    """A compact, numpy-free rendering of a few values."""
    array = np.asarray(values)
    flat = array.ravel()
    body = ", ".join(f"{v:g}" if isinstance(v, (float, np.floating)) else str(v) for v in flat[:limit].tolist())
    more = ", …" if flat.size > limit else ""
    return f"[{body}{more}]"


def describe(value: Any) -> str:
    """What a returned value is, in words a student recognises."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return f"a numpy {value.dtype} scalar {value.item()!r}"
        article = "an" if str(value.dtype)[0] in "aeio" else "a"  # an int64, an object, a float32, a uint8 ("you-int")
        return f"{article} {value.dtype} array of shape {value.shape}"
    if isinstance(value, np.generic):
        return f"a numpy {value.dtype} scalar {value.item()!r}"
    if value is None:
        return "None (did the function forget to `return` its result?)"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} item{'s' * (len(value) != 1)}"
    if isinstance(value, dict):
        return f"a dict with {len(value)} key{'s' * (len(value) != 1)}"
    if isinstance(value, Opaque):
        size = f" of length {value.length}" if value.length is not None else ""
        return f"{value.description}{size}"
    return f"{type(value).__name__} {value!r}"


class PartialCredit(Feedback):
    """A failed check that still earns a fraction of its points: an accuracy a
    little below its bar earns points in proportion (course.toml's accuracy_band)."""

    def __init__(self, fraction: float, got: str, expected: str = "", **parts: str):
        self.fraction = min(max(fraction, 0.0), 1.0)
        super().__init__(got, expected, **parts)


class NotGraded(Feedback):
    """The grader could not judge this check for a reason that is not the
    submission's (its safety clock fired on a stuck or overloaded machine).
    No point is taken: the check is an "error", the run exits 2 and a batch
    marks the student to be graded again."""

    status = "error"
    retry = True

    def __init__(self, what: str):
        super().__init__(
            f"Not graded: {what}, so the grading machine was too slow or overloaded",
            cause="the grading machine, not your code",
            hint="grade again (an instructor's --batch re-grades this submission on its next run)",
        )


class NotGradedMachine(NotGraded):
    """Not graded because the grading machine gives less memory than the grader
    promises the code it runs (`ulimit -v`, a container's limit, the machine
    itself): never the student's fault, whatever their code would have done.
    The message names the setting to raise; no output of the code is shown (at
    that point it is the libraries' own start-up log, not the student's)."""

    def __init__(self, what: str, why: str, setting: str, cause: str = "the grading machine's memory setting, not your code"):
        Feedback.__init__(
            self,
            f"Not graded: {what}, because {why}",
            cause=cause,
            hint=f"{setting}; then grade again (an instructor's --batch re-grades this submission on its next run)",
        )
