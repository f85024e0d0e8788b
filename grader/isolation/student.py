"""The graders' handle on a submission: call a student's function, safely.

    r = student.call("normalize", x, shown="x_train[:5]",
                     expect="a float32 array of shape (5, 28, 28)")
    images = r.value           # or a Feedback / NotStarted explaining what went wrong
    r.expect_raises("ValueError", mentions="10")

Calls run in the module's worker process (see sandbox.py); results are cached
per exact call so several checks can look at one result without re-running it.
"""

from __future__ import annotations

import copy
import inspect
import signal
from pathlib import Path
from typing import Any

import numpy as np

from mnist_course.build import make_stub
from mnist_course.course import Exercise, load_course, not_started_message

from . import bubblewrap, capacity, limits, safe_files, sandbox
from .untouched_stub import stub_outcomes
from ..settings import switches
from ..feedback import CannotImport, Feedback, by_hand_reason, NotGraded, NotGradedMachine, NotStarted, describe


def _exit_status(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _show(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"<{value.dtype} array {value.shape}>"
    return repr(value)


class Call:
    """One finished call into student code and what it gave."""

    def __init__(self, student: "Student", function: str, called: str, expect: str, outcome: sandbox.CallOutcome):
        self.student, self.function, self.called, self.expect = student, function, called, expect
        self.outcome = outcome

    @property
    def not_started(self) -> bool:
        """The stub's own NotImplementedError, untouched (any other one is a real error)."""
        o = self.outcome
        return (
            o.status == "raised"
            and o.stage == "call"
            and o.exc_type == "NotImplementedError"
            and o.exc_message == not_started_message(self.function)
        )

    def fail(self, got: str, expected: str = "", cause: str = "", hint: str = "", contract: str = "") -> Feedback:
        """A Feedback for this call (raise it); `contract` quotes the docstring sentence it breaks."""
        return Feedback(got, expected or self.expect, called=self.called, cause=cause, hint=hint, contract=contract)

    def _problem(self) -> Feedback:
        """Why this call gave no value; a file that could not be imported is kept
        on the Student as the one cause of its exercise's failed checks."""
        problem = self._why_no_value()
        if isinstance(problem, CannotImport):
            self.student.import_problem = problem
        return problem

    def _why_no_value(self) -> Feedback:
        """Why this call gave no value: every way student code can fail to return."""
        o, filename = self.outcome, self.student.filename
        if self.not_started:
            return NotStarted(self.function, f"exercises/{filename}" if self.student.is_stub else filename)
        if o.limits and o.status in ("raised", "crashed", "timeout", "starved"):
            return self._limits_problem()  # starved by its own processes: its own doing
        if o.status == "starved":  # before the machine's other failures: a worker starved before its runner started is marked as one too
            doing = f"importing {filename}" if o.stage == "import" else f"the call {self.called}"
            return NotGraded(f"{doing} had not finished after {o.seconds:.0f} s on the wall clock, most of it spent waiting for a CPU that other work held")
        if o.machine:
            return self._machine_problem()
        if o.stage == "import":
            return self._import_problem()
        if o.status == "exhausted":
            return self.fail(
                f"Not run: the code of {filename} has had its whole time budget ({sandbox.TIME_BUDGET:g} s across imports and calls)",
                cause="earlier calls that ran until their time limit, or crashed again and again",
                hint="fix the checks whose calls time out or crash first; honest code needs a few seconds in all",
            )
        if o.status == "timeout":
            return self.fail(
                f"It did not return within {self.student.timeout:g} s of its own time (the process was stopped; "
                "time spent waiting for a busy machine's CPU is not counted)",
                cause="an endless loop, or far more work than the task needs",
                hint="try the call yourself on a small input and time it",
            )
        if o.status == "crashed":
            return Feedback(
                f"The process running your code ended ({_exit_status(o.exit_code)}) before {self.function}() returned",
                self.expect,
                called=self.called,
                cause="a call to os._exit(), or a crash of the interpreter",
                hint="a function hands back its result with `return`; never end the program",
                output=o.output,
            )
        if o.status == "unsendable":
            return self.fail(
                f"It returned a value the grader cannot receive: {o.exc_message}",
                hint="return a numpy array of the documented shape and dtype",
            )
        if o.status == "missing_function":
            return Feedback(
                f"{filename} has no function {self.function}()",
                f"def {self.function}(...) as in the exercise file",
                hint="keep the function names and signatures of the stub",
            )
        if o.exc_type == "SystemExit":
            return self.fail(
                "It called sys.exit() / exit() instead of returning",
                hint="hand the result back with `return`",
            )
        where = f" at {o.where}" if o.where else ""
        if (other := self._other_exercise()) is not None:
            return Feedback(f"It raised {o.exc_type}: {o.exc_message}{where}", self.expect, called=self.called, **other, output=o.output)
        memory = o.exc_type == "MemoryError"
        return Feedback(
            f"It raised {o.exc_type}: {o.exc_message}{where}",
            self.expect,
            called=self.called,
            cause=f"more memory than the grader allows ({self.student.worker.memory >> 20} MiB)"
            if memory
            else f"a step of {self.function}() that fails on an input its docstring allows",
            hint="work on the arrays you are given; nothing here needs large temporary copies"
            if memory
            else "make the same call yourself and read the traceback: the line above is where it stopped",
            output=o.output,
        )

    def _machine_problem(self) -> NotGraded:
        """The code failed for memory the machine did not give: not graded, and the
        setting to raise named (its output is not shown: the libraries' start-up log)."""
        o, exercise = self.outcome, self.student.exercise
        failed = f"{o.exc_type}: {o.exc_message}" if o.status == "raised" else _exit_status(o.exit_code)
        doing = f"importing {self.student.filename}" if o.stage == "import" else f"the call {self.called}"
        if o.machine.startswith((capacity.OUT_OF_PROCESSES, capacity.NO_WORKER)):
            return NotGradedMachine(
                f"{doing} failed ({failed})", o.machine, "nothing to change in your code",
                cause="the grading machine's processes, not your code",
            )
        return NotGradedMachine(
            f"{doing} failed ({failed})",
            o.machine,
            capacity.memory_setting(self.student.needed_memory(), exercise.container_mb, exercise.id),
        )

    def _limits_problem(self) -> Feedback:
        """The code ran into a limit of its own worker: its processes, its memory,
        its writable folder's size. Its checks fail; nobody else's are touched."""
        o = self.outcome
        doing = f"importing {self.student.filename}" if o.stage == "import" else f"{self.function}()"
        what = {
            "processes": f"its own limit of {capacity.pids_max()} processes and threads (fork failed: "
            "\"Resource temporarily unavailable\")",
            "memory": f"its own memory limit ({self.student.worker.memory >> 20} MiB for all its processes and files in memory)",
            "disk": f"the size of its own writable folder ({(bubblewrap.area_bytes() or limits.MAX_FILE_WRITE) >> 20} MiB: "
            "\"No space left on device\")",
        }
        reached = "; and ".join(what[limit] for limit in o.limits if limit in what)
        return (CannotImport if o.stage == "import" else Feedback)(
            f"While {doing} ran, your code reached {reached}, so it was stopped",
            self.expect,
            called=self.called,
            cause="code that starts processes in a loop, keeps allocating, or writes files without end",
            hint="the exercise needs one process, a few arrays and no files: remove the loop that forks, allocates or writes",
            output=o.output,
        )

    def _import_problem(self) -> CannotImport:
        """The module could not even be imported: one cause for every check of the exercise."""
        o, filename = self.outcome, self.student.filename
        common = {"output": o.output}
        if o.status == "timeout":
            return CannotImport(
                f"Importing {filename} took longer than {self.student.worker.import_timeout:g} s (the process was stopped)",
                "the file to import in a few seconds",
                cause="code at the top level of the file that runs long (a loop, training, loading data)",
                hint="keep work inside the functions; the top level should only define them",
                **common,
            )
        if o.status == "crashed":
            return CannotImport(
                f"The process running your code ended ({_exit_status(o.exit_code)}) while importing {filename}",
                "the file to import cleanly",
                cause="a call to os._exit() or exit() at the top level of the file",
                hint=f"run `python {filename}` to see what happens",
                **common,
            )
        where = f" ({o.where})" if o.where else ""
        if o.reached:  # its top level used a package this by-hand exercise forbids
            return CannotImport(
                f"Importing {filename} failed: its top level used {o.reached[0]}{where}",
                "a file whose functions compute with NumPy alone",
                cause=by_hand_reason(self.student.exercise),
                hint="remove that line; write the computation yourself inside the function, as the lesson does",
            )
        if (other := self._other_exercise()) is not None:
            return CannotImport(f"Importing {filename} failed with {o.exc_type}: {o.exc_message}{where}", "the file to import cleanly", **other)
        if "belongs to the course's grader" in o.exc_message:
            return CannotImport(
                f"Importing {filename} failed: {o.exc_message}{where}",
                "code that only uses numpy (and, in later exercises, keras)",
                cause="an import of the course's grader, helper package or solutions",
                hint="the exercise gives you everything you need as arguments",
            )
        return CannotImport(
            f"Importing {filename} failed with {o.exc_type}: {o.exc_message}{where}",
            "the file to import cleanly",
            cause="a syntax error, a missing import, or code at the top level that fails or exits",
            hint=f"run `python {filename}` to see the error",
            **common,
        )

    def _other_exercise(self) -> dict[str, str] | None:
        """The cause and hint of code that imported another exercise's file, which is never in
        its worker (sandbox.Worker's leave_out); None for any other failure."""
        o = self.outcome
        if o.exc_type != "ModuleNotFoundError":
            return None
        named = next((ex for ex in load_course().exercises if f"'{ex.module}'" in o.exc_message or f"'{ex.module}." in o.exc_message), None)
        if named is None or named.module == self.student.exercise.module:
            return None
        return {"cause": f"an import of {named.filename}, another exercise's file: each exercise is graded from its own file and "
                         f"the helper modules beside it, so {named.filename} is not there while {self.student.filename} runs",
                "hint": "copy the function you need into this file, or into a helper module of your own that both files import"}

    @property
    def value(self) -> Any:
        """The returned value, or raise the Feedback that explains why there is none."""
        if self.outcome.status != "returned":
            raise self._problem()
        return self.outcome.value

    @property
    def warnings(self) -> list[str]:
        """Warnings the call emitted, as "RuntimeWarning: invalid value encountered in divide"."""
        return self.outcome.warnings

    @property
    def args_after(self) -> list:
        self.value  # noqa: B018 - raises if the call did not return
        return self.outcome.args_after

    def array(self, expected: str = "") -> np.ndarray:
        """The returned value, which must be a numpy array."""
        value = self.value
        if not isinstance(value, np.ndarray) or value.ndim == 0:
            raise self.fail(
                f"Got {describe(value)}",
                expected,
                hint="return a numpy array (np.asarray(...) converts lists)",
            )
        if value.dtype.kind not in "biuf":
            raise self.fail(f"Got {describe(value)}, which does not hold plain numbers", expected)
        return value

    def expect_raises(self, exc_type: str, mentions: str = "", hint: str = "", contract: str = "",
                      cause: str = "the input is used without being checked first") -> None:
        """The call must have raised `exc_type` with a message that names `mentions`,
        as the docstring sentence `contract` promises; `cause`, the likely one where it returned."""
        o = self.outcome
        if o.status == "raised" and o.stage == "call" and o.exc_type == exc_type:
            if not o.exc_message.strip():
                raise self.fail(
                    f"it raised {exc_type} with an empty message",
                    cause="a bare `raise " + exc_type + "` or `raise " + exc_type + "()`",
                    hint=f"say what is wrong and with which value: raise {exc_type}(f\"...\")",
                    contract=contract,
                )
            if mentions and mentions not in o.exc_message:
                raise self.fail(
                    f"it raised {exc_type}({o.exc_message!r}), which does not mention {mentions}",
                    cause="a message that says what is wrong but not with which value",
                    hint=hint or f"put {mentions} in the message so the caller can fix their input",
                    contract=contract,
                )
            return
        if o.status == "returned":
            raise self.fail(
                f"it returned {describe(o.value)} without complaint",
                cause=cause,
                hint=hint,
                contract=contract,
            )
        if self.not_started or o.status != "raised" or o.stage != "call":
            raise self._problem()
        where = f" at {o.where}" if o.where else ""
        if _raised_on_purpose(o.where):
            cause = (f"the input was checked, but the check raises {o.exc_type} where the docstring promises {exc_type}"
                     + (" (Python often raises TypeError for a value of the wrong type; this contract names one exception, "
                        "so that a caller catches every bad input with one except clause)" if o.exc_type == "TypeError" else ""))
            hint = f"raise {exc_type}(...) for this input too, as the docstring says"
        else:
            cause = "the input reached code that fails by accident before it was checked"
            hint = hint or f"check the input first and `raise {exc_type}(...)` with a clear message"
        raise self.fail(f"it raised {o.exc_type}: {o.exc_message}{where}", cause=cause, hint=hint, contract=contract)


def _raised_on_purpose(where: str | None) -> bool:
    """Whether the student's last line before the exception is a raise statement of their own (the worker's
    `where` ends with that line's source), rather than code that failed on the input."""
    return bool(where) and where.partition(": ")[2].lstrip().startswith("raise ")


class Student:
    """A submission's module for one exercise."""

    def __init__(self, exercise: Exercise, target_dir: Path, is_stub: bool = False):
        self.exercise = exercise
        self.filename = exercise.filename
        self.module_file = Path(target_dir) / self.filename
        self.timeout = exercise.call_timeout_s
        self.is_stub = is_stub
        # A by-hand exercise's worker runs without the packages that would do its work (course.toml).
        forbidden = exercise.forbidden_libraries if switches().by_hand else ()
        # Graded from its own file and the helpers beside it: the course's other exercise files are not in its worker.
        others = frozenset(ex.filename for ex in load_course().exercises) - {self.filename}
        self.worker = sandbox.Worker(self.module_file, memory=exercise.memory_mb << 20, forbidden=forbidden, leave_out=others)
        self._outcomes: dict[tuple, sandbox.CallOutcome] = {}
        # Set once the file could not be imported (or is not there): the one cause of every
        # check of the exercise that fails, said once by the report (plugin.py hands it on).
        self.import_problem: CannotImport | None = None
        # In a by-hand exercise, each function that used a forbidden package, with the first
        # name it used: every check of such a function earns nothing (reports/report.py).
        self.library_used: dict[str, str] = {}
        self._stub_outcomes: dict[str, tuple[inspect.Signature, Any]] | None = None  # stub_outcomes(), once decided

    def source_bytes(self) -> bytes:
        """The graded file as it was handed in, read by the grader before any of its code runs
        (what a check draws from, so that nothing the code does while graded changes a draw):
        a regular file only, never through a link; b"" where there is none."""
        try:
            return safe_files.read_regular(self.module_file, safe_files.MAX_FILE_BYTES)
        except (OSError, ValueError):
            return b""

    def file_problem(self) -> CannotImport | None:
        """Why the file cannot be imported, where the grader can tell without running any of it: it
        is not there, or it is a symbolic link (never followed: it could lead to the reference).
        Kept as the exercise's one cause (`import_problem`); None where the file is there to import."""
        if self.module_file.is_symlink():
            self.import_problem = CannotImport(
                f"{self.filename} in the folder graded is a symbolic link, which the grader does not follow",
                f"your solution in {self.filename} itself",
                cause="a link to a file elsewhere instead of the file",
                hint="copy your file into the folder instead of linking to it",
            )
        elif not self.module_file.is_file():
            self.import_problem = CannotImport(
                f"there is no file {self.filename} in the folder graded",
                f"your solution in {self.filename}",
                hint="grade the folder that holds your exercise files (--target DIR)",
            )
        else:
            return None
        return self.import_problem

    def stub_outcomes(self) -> dict[str, tuple[inspect.Signature, Any]]:
        """What the file's untouched stub functions give (stub_outcomes), where nothing else of
        the submission's can run beside it; decided once, from the bytes read before any of its
        code runs. The stub is made afresh from the reference solution, never read from exercises/,
        which is where a student edits and grades their own file: where there is no solution (a
        student's copy of the course), every call goes to the worker."""
        if self._stub_outcomes is None:
            self._stub_outcomes = {}
            try:
                if self.worker.received() == [Path(self.filename)] and self.exercise.solution_path.is_file():
                    stub = make_stub(self.exercise, self.exercise.solution_path.read_text(encoding="utf-8"))
                    self._stub_outcomes = stub_outcomes(self.source_bytes(), stub.encode("utf-8"))
            except (OSError, ValueError):
                pass  # the worker says what is wrong with the folder (safe_files.SubmissionError is a ValueError)
        return self._stub_outcomes

    def _known_outcome(self, function: str, args: tuple, kwargs: dict) -> sandbox.CallOutcome | None:
        """The outcome of a call to an untouched stub function, without a worker: a stub's checks say
        "not started" (and its answers() hands in its blanks) without one, which would spend seconds
        importing what the file imports (Keras, for a model exercise) only to raise. None where the
        worker must run it, a call whose arguments do not bind included (it raises TypeError there)."""
        known = self.stub_outcomes().get(function)
        if known is None:
            return None
        signature, gives = known
        try:
            signature.bind(*args, **kwargs)
        except TypeError:
            return None
        if isinstance(gives, NotImplementedError):
            return sandbox.CallOutcome("raised", exc_type="NotImplementedError", exc_message=str(gives))
        return sandbox.CallOutcome("returned", value=copy.deepcopy(gives))  # a fresh value per call, as a worker's

    def needed_memory(self) -> int:
        """The address space one process of this exercise's grading is promised:
        the worker's, or the trainer's where the exercise trains a model."""
        return limits.promised_memory(self.exercise)

    def close(self) -> None:
        """Stop the worker and everything it started, and remove what it returned."""
        self.worker.dispose()

    def stop_worker(self) -> None:
        """Stop the worker and everything it started; the next call starts a fresh one.
        The grader does this before it trains, so no student process runs meanwhile."""
        self.worker.close()

    def call_key(self, function: str, args: tuple, shown: str, kwargs: dict) -> tuple[str, tuple]:
        """How a call reads in messages, and the key its outcome is kept under in this grading."""
        shown_args = shown or ", ".join(_show(a) for a in args)
        shown_kwargs = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        called = f"{function}({', '.join(part for part in (shown_args, shown_kwargs) if part)})"  # no leading comma without arrays
        return called, (called, tuple(str(a.path) if isinstance(a, sandbox.ModelArg) else (a.shape, a.dtype.str, a.tobytes()) for a in args))

    def call(
        self, function: str, *args: np.ndarray | sandbox.ModelArg, shown: str = "", expect: str = "", cached: bool = True,
        own_time_limit: float | None = None, **kwargs: Any
    ) -> Call:
        """Call `function(*args, **kwargs)` in a child process.

        Arguments are arrays, or a `sandbox.ModelArg` that arrives as a Keras model.
        `shown` is how the call reads in messages; `expect` what the contract
        promises. Results are cached per exact call; `cached=False` asks again (does
        the function give the same answer twice?) and leaves the kept answer as it was,
        so a later call still gets the first one (the replays of ex02b's train() start
        from what init_params gave before train() ran).
        `own_time_limit`: this call's limit in seconds of its own time, where a
        check bounds the work a contract allows (else course.toml's call_timeout_s);
        a check that sets one explains its own time-out.
        """
        called, key = self.call_key(function, args, shown, kwargs)
        outcome = self._outcomes.get(key) if cached else None
        if outcome is None:
            if self.file_problem() is not None:
                raise self.import_problem
            outcome = self._known_outcome(function, args, kwargs) or self.worker.call(
                function, args, kwargs, timeout=min(own_time_limit or self.timeout, self.timeout))
            self._outcomes.setdefault(key, outcome)
        if outcome.reached and outcome.stage == "call":  # at import: the file's one cause instead
            self.library_used.setdefault(function, outcome.reached[0])
        return Call(self, function, called, expect, outcome)
