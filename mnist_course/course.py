"""The course's metadata: course.toml, read into small typed objects.

Everything that lists, builds or grades the exercises walks them from here, in
the order course.toml gives, so the file stays the one place to change.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
COURSE_FILE = ROOT / "course.toml"


def import_file(path: Path) -> ModuleType:
    """Import a Python file by its path, afresh each time (an edited exercise is re-read)."""
    spec = importlib.util.spec_from_file_location(f"_mnist_course_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def not_started_message(function: str) -> str:
    # A stub raises NotImplementedError with exactly this wording: the grader
    # recognises an untouched stub by it, and it is what the student reads.
    return f"{function}() is not started yet"


def lesson_source(lesson: str) -> Path:
    """A lesson's jupytext source, by its name ("01_first_look")."""
    return ROOT / "lessons" / f"{lesson}.py"


def lesson_notebook(lesson: str) -> Path:
    """The notebook `mnist-course build` makes from it."""
    return ROOT / "lessons" / f"{lesson}.ipynb"


class CourseError(Exception):
    """course.toml is malformed or names something that does not exist."""


@dataclass(frozen=True)
class Function:
    name: str
    section: str
    todo: str
    hints: tuple[str, ...]
    checks: dict[str, int]  # check name -> points
    hidden: tuple[str, ...] = ()  # checks an nbgrader release hides
    # What each check rewards (see `PointShares`): the subject itself, or a
    # programming convention; a check in neither is "other".
    learning: tuple[str, ...] = ()
    conventions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Training:
    """How the grader trains a model exercise's model (course.toml's [exercise.training])."""

    input_shape: tuple[int, ...]  # one image, as the model receives it
    max_params: int  # the parameter budget
    max_epochs: int  # the most epochs the settings may ask for
    seed: int  # weights are re-initialised and data shuffled from this seed
    cost_cap: float  # the most training work allowed, as a multiple of the reference's on the same data
    reference: "Reference"  # what the reference solution declares, for the cap
    min_batch_size: int = 1  # the smallest batch the settings may ask for (a variant's constraint)


@dataclass(frozen=True)
class Reference:
    """The reference solution's declaration, as course.toml records it: what
    its training costs on any data set follows from it (mnist_course/budget.py), and
    tests/test_course.py keeps it equal to the solution's own."""

    forward_flops: int  # one image through the model, forward
    epochs: int
    batch_size: int
    validation_split: float


@dataclass(frozen=True)
class Variant:
    """One of an exercise's variants (course.toml's [[exercise.variant]]): each student is
    drawn one from their identity (grader/variants.py), and the checks grade that one.
    Variants are parameters of one reference, never copies of the exercise."""

    key: str  # short and stable ("tanh"): reports, the gradebook and `--use-variant` name it
    says: str  # the one line a student reads: exactly what their variant asks
    params: dict  # what the checks and the grader's references read (numbers, strings, booleans)
    # accuracy bars where this variant's differ from the exercise's (same form as `thresholds`)
    thresholds: dict | None = None
    # a model exercise's training for this variant, where its budget differs (course.toml: the entries of
    # the exercise's `training` it replaces, its `reference` entry by entry; mnist_course/constraints.py)
    training: Training | None = None


@dataclass(frozen=True)
class Question:
    """A written question about the student's own results (course.toml's [[exercise.question]]),
    CS231n's inline questions: answered in the exercise file's answers(), graded by a person with
    `rubric`; its points are never part of the autograded total."""

    id: str  # the answer's key in answers(); stable
    ask: str  # the question, as the student reads it
    points: int
    rubric: str  # what earns the points: for the instructor (docs/RUBRICS.md), never in what students receive


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    lesson: str
    lesson_number: int
    module: str
    call_timeout_s: float
    memory_mb: int
    # The accuracy bar per data set and per half of its test set ("public":
    # a student's own grading, "private": an instructor's; mnist_course/data.py).
    thresholds: dict[str, dict[str, float]]
    # Below a threshold, an accuracy check's points fall linearly to none at
    # threshold - band (per data set, from [course] accuracy_band).
    accuracy_bands: dict[str, float]
    functions: tuple[Function, ...]
    training: Training | None = None  # model exercises only
    # The memory, in MB, of the smallest of Gradescope's containers in which
    # grading the reference gets every point (benchmarks/memory.py): what the
    # Gradescope zip's advice and the grader's "not graded" messages name.
    container_mb: int | None = None
    # NumPy by hand: why this exercise's computation is the student's own (course.toml's
    # `by_hand`; "" for the others), and the packages its worker cannot import
    # ([course] by_hand_forbids), hidden by the grader's sandbox.
    by_hand: str = ""
    forbidden_libraries: tuple[str, ...] = ()
    # The variants students are drawn from (the first is the default: no identity, and the
    # one solutions/ implements); empty where every student does the same exercise.
    variants: tuple[Variant, ...] = ()
    # Written questions about the student's own results, graded by a person (never autograded).
    questions: tuple[Question, ...] = ()

    @property
    def written_points(self) -> int:
        """The points a person grades (the written questions'): never in max_score."""
        return sum(q.points for q in self.questions)

    @property
    def filename(self) -> str:
        return f"{self.module}.py"

    @property
    def solution_path(self) -> Path:
        return ROOT / "solutions" / self.filename

    @property
    def stub_path(self) -> Path:
        return ROOT / "exercises" / self.filename

    @property
    def grader_path(self) -> Path:
        """The module pytest collects the exercise's checks from."""
        return ROOT / "grader" / "checks" / f"{self.module}.py"

    @property
    def check_sources(self) -> list[Path]:
        """Every file the exercise's checks are written in: grader_path, and where the checks run past
        a few hundred lines, grader/checks/<id>/ (one module per graded function, which grader_path imports)."""
        parts = ROOT / "grader" / "checks" / self.id
        return [self.grader_path, *sorted(p for p in parts.glob("*.py") if p.name != "__init__.py")]

    def import_module(self, own: bool = True) -> ModuleType:
        """The student's exercises/ file (own=True) or the reference solution, imported
        afresh, so a lesson can use the student's functions from any folder."""
        return import_file(self.stub_path if own else self.solution_path)

    @property
    def lesson_source(self) -> Path:
        return lesson_source(self.lesson)

    @property
    def lesson_notebook(self) -> Path:
        return lesson_notebook(self.lesson)

    @property
    def checks(self) -> dict[str, int]:
        """Every check of the exercise, in order, with its points."""
        return {name: pts for f in self.functions for name, pts in f.checks.items()}

    @property
    def max_score(self) -> int:
        return sum(self.checks.values())

    def variant(self, key: str) -> Variant:
        """The variant named `key`; CourseError naming the others when there is none."""
        for variant in self.variants:
            if variant.key == key:
                return variant
        known = ", ".join(v.key for v in self.variants) or "none: every student does the same exercise"
        raise CourseError(f"{self.id} has no variant {key!r}; its variants: {known}")

    def function(self, name: str) -> Function:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)

    def function_of_check(self, check: str) -> Function:
        for f in self.functions:
            if check in f.checks:
                return f
        raise KeyError(check)


@dataclass(frozen=True)
class PointShares:
    """How the course's points divide between what it teaches and the habits
    around it. `learning`: model accuracy, gradients, the training step, the
    convolution, the experiment; `conventions`: validation, dtype/shape/types
    and "leaves its input alone"; the rest is other work (bookkeeping such as a
    confusion matrix's values). [course] in course.toml sets the bounds, and
    `mnist-course check` enforces them."""

    learning: int
    conventions: int
    total: int
    min_learning: float  # the smallest share learning may have
    max_conventions: float  # the largest share conventions may have

    def problems(self) -> list[str]:
        found = []
        if self.learning < self.min_learning * self.total:
            found.append(
                f"learning checks earn {self.learning} of {self.total} points ({self.learning / self.total:.0%}); "
                f"course.toml asks for at least {self.min_learning:.0%}"
            )
        if self.conventions > self.max_conventions * self.total:
            found.append(
                f"convention checks earn {self.conventions} of {self.total} points ({self.conventions / self.total:.0%}); "
                f"course.toml allows at most {self.max_conventions:.0%}"
            )
        return found

    def line(self) -> str:
        other = self.total - self.learning - self.conventions
        return (
            f"{self.total} points: learning {self.learning} ({self.learning / self.total:.0%}, at least {self.min_learning:.0%}), "
            f"conventions {self.conventions} ({self.conventions / self.total:.0%}, at most {self.max_conventions:.0%}), other {other}"
        )


@dataclass(frozen=True)
class Course:
    title: str
    exercises: tuple[Exercise, ...]
    # Mixed into every variant draw (grader/variants.py): a course given again changes it, so
    # that last year's files answer other variants this year.
    variant_round: str = "1"
    repository: str = ""  # the published repository (Colab links, platform packages)
    # Every lesson in reading order ([course] lessons); an exercise belongs to one,
    # and a lesson may have none (lesson 6, training recipes, is read and run).
    lessons: tuple[str, ...] = ()
    min_learning_share: float = 0.5
    max_convention_share: float = 0.25

    def point_shares(self) -> PointShares:
        learning = conventions = total = 0
        for ex in self.exercises:
            for f in ex.functions:
                total += sum(f.checks.values())
                learning += sum(f.checks[name] for name in f.learning)
                conventions += sum(f.checks[name] for name in f.conventions)
        return PointShares(learning, conventions, total, self.min_learning_share, self.max_convention_share)

    def lesson_source(self, lesson: str) -> Path:
        return lesson_source(lesson)

    def lesson_notebook(self, lesson: str) -> Path:
        return lesson_notebook(lesson)

    def exercises_of(self, lesson: str) -> tuple[Exercise, ...]:
        return tuple(ex for ex in self.exercises if ex.lesson == lesson)

    def exercise(self, key: str) -> Exercise:
        """Find an exercise by id ("ex01"), number ("1", "01") or module name."""
        wanted = key.strip().lower()
        if wanted.isdigit():
            wanted = f"ex{int(wanted):02d}"
        for ex in self.exercises:
            if wanted in (ex.id, ex.module):
                return ex
        known = ", ".join(ex.id for ex in self.exercises)
        raise CourseError(f"unknown exercise {key!r}; the course has: {known}")

    def exercise_of_module(self, module: str) -> Exercise:
        for ex in self.exercises:
            if ex.module == module:
                return ex
        raise CourseError(f"no exercise in course.toml has module {module!r}")


def _require(table: dict, key: str, kind: type, where: str):
    if key not in table:
        raise CourseError(f"course.toml: {where} has no {key!r}")
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__
        raise CourseError(f"course.toml: {where}.{key} should be {names}, got {value!r}")
    return value


def _training(table: dict, where: str) -> Training:
    shape = _require(table, "input_shape", list, where)
    if not shape or not all(isinstance(n, int) and n > 0 for n in shape):
        raise CourseError(f"course.toml: {where}.input_shape should list positive integers, got {shape!r}")
    reference = _require(table, "reference", dict, where)
    return Training(
        input_shape=tuple(shape),
        max_params=_require(table, "max_params", int, where),
        max_epochs=_require(table, "max_epochs", int, where),
        seed=int(table.get("seed", 0)),
        cost_cap=float(_require(table, "cost_cap", (int, float), where)),
        min_batch_size=int(table.get("min_batch_size", 1)),
        reference=Reference(
            forward_flops=_require(reference, "forward_flops", int, f"{where}.reference"),
            epochs=_require(reference, "epochs", int, f"{where}.reference"),
            batch_size=_require(reference, "batch_size", int, f"{where}.reference"),
            validation_split=float(_require(reference, "validation_split", (int, float), f"{where}.reference")),
        ),
    )


def _container_mb(value: object, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise CourseError(f"course.toml: {where}.container_mb should be a positive number of MB, got {value!r}")
    return value


def parse_course(text: str) -> Course:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"course.toml is not valid TOML: {exc}") from None
    head = raw.get("course", {})
    default_timeout = float(head.get("call_timeout_s", 30))
    default_memory = int(head.get("memory_mb", 4096))
    forbids = head.get("by_hand_forbids", [])
    if not isinstance(forbids, list) or not all(isinstance(n, str) and n.isidentifier() for n in forbids):
        raise CourseError(f"course.toml: [course] by_hand_forbids should list top-level package names, got {forbids!r}")
    bands = head.get("accuracy_band", {})
    if not isinstance(bands, dict) or not all(isinstance(v, (int, float)) and 0 < v < 0.1 for v in bands.values()):
        raise CourseError(f"course.toml: [course] accuracy_band should map data sets to fractions below 0.1, got {bands!r}")
    exercises = []
    for i, ex in enumerate(raw.get("exercise", [])):
        where = f"exercise #{i + 1}"
        ex_id = _require(ex, "id", str, where)
        where = f"exercise {ex_id}"
        functions = []
        for fn in _require(ex, "function", list, where):
            fwhere = f"{where} function {fn.get('name', '?')}"
            checks = _require(fn, "checks", dict, fwhere)
            for check, points in checks.items():
                if not isinstance(points, int) or points <= 0:
                    raise CourseError(f"course.toml: {fwhere} check {check} needs positive integer points")
            hidden = fn.get("hidden", [])
            unknown = [name for name in hidden if name not in checks] if isinstance(hidden, list) else [hidden]
            if unknown:
                raise CourseError(f"course.toml: {fwhere}.hidden names {unknown[0]!r}, which is not one of its checks")
            kinds = {key: _check_names(fn, key, checks, fwhere) for key in ("learning", "conventions")}
            both = set(kinds["learning"]) & set(kinds["conventions"])
            if both:
                raise CourseError(f"course.toml: {fwhere} lists {sorted(both)[0]!r} as both learning and conventions")
            functions.append(
                Function(
                    name=_require(fn, "name", str, fwhere),
                    section=_require(fn, "section", str, fwhere),
                    todo=_require(fn, "todo", str, fwhere),
                    hints=tuple(_require(fn, "hints", list, fwhere)),
                    checks=dict(checks),
                    hidden=tuple(hidden),
                    **kinds,
                )
            )
        exercises.append(
            Exercise(
                id=ex_id,
                title=_require(ex, "title", str, where),
                lesson=_require(ex, "lesson", str, where),
                lesson_number=_require(ex, "lesson_number", int, where),
                module=_require(ex, "module", str, where),
                call_timeout_s=float(ex.get("call_timeout_s", default_timeout)),
                memory_mb=int(ex.get("memory_mb", default_memory)),
                thresholds=_thresholds(ex.get("thresholds", {}), where),
                accuracy_bands={k: float(v) for k, v in bands.items()},
                functions=tuple(functions),
                training=_training(ex["training"], f"{where}.training") if "training" in ex else None,
                container_mb=_container_mb(ex.get("container_mb"), where),
                by_hand=_by_hand(ex.get("by_hand", ""), forbids, where),
                forbidden_libraries=tuple(forbids) if ex.get("by_hand") else (),
                variants=_variants(ex.get("variant", []), where, ex.get("training")),
                questions=_questions(ex.get("question", []), where),
            )
        )
    if not exercises:
        raise CourseError("course.toml lists no [[exercise]]")
    lessons = _lessons(head, exercises)
    shares = {key: head.get(key, default) for key, default in (("min_learning_share", 0.5), ("max_convention_share", 0.25))}
    for key, value in shares.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise CourseError(f"course.toml: [course] {key} should be a fraction between 0 and 1, got {value!r}")
    variant_round = head.get("variant_round", "1")
    if not isinstance(variant_round, str) or not variant_round.strip():
        raise CourseError(f"course.toml: [course] variant_round should be a non-empty string, got {variant_round!r}")
    return Course(
        title=head.get("title", "MNIST course"),
        exercises=tuple(exercises),
        variant_round=variant_round.strip(),
        repository=str(head.get("repository", "")).rstrip("/"),
        lessons=lessons,
        **{key: float(value) for key, value in shares.items()},
    )


def _by_hand(why, forbids: list, where: str) -> str:
    """An exercise's `by_hand`: the one sentence that says why its computation is the student's own."""
    if not isinstance(why, str):
        raise CourseError(f"course.toml: {where}.by_hand should be a sentence saying why the work is by hand, got {why!r}")
    if why and not forbids:
        raise CourseError(f"course.toml: {where} is by hand, but [course] by_hand_forbids lists no package")
    return why.strip()


def _tables(raw, where: str, kind: str) -> None:
    """CourseError unless `raw` is a list of [[exercise.<kind>]] tables."""
    if not isinstance(raw, list) or not all(isinstance(table, dict) for table in raw):
        raise CourseError(f"course.toml: {where}.{kind} should be a list of [[exercise.{kind}]] tables")


def _named_once(names: list[str], where: str, what: str) -> None:
    """CourseError if `names` (of `what`: "a variant") holds one twice."""
    if len(set(names)) != len(names):
        raise CourseError(f"course.toml: {where} names {what} twice: {names}")


_VARIANT_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")


def _variant_training(table: dict, training: dict | None, where: str) -> Training | None:
    """A variant's `training` (the entries of the exercise's it replaces) merged into the exercise's."""
    if "training" not in table:
        return None
    changes = table["training"]
    if training is None or not isinstance(changes, dict):
        raise CourseError(f"course.toml: {where}.training replaces entries of the exercise's training table, which it needs")
    unknown = set(changes) - {"max_params", "max_epochs", "min_batch_size", "cost_cap", "reference"}
    if unknown or not set(changes.get("reference", {})) <= {"forward_flops", "epochs", "batch_size", "validation_split"}:
        raise CourseError(f"course.toml: {where}.training may replace max_params, max_epochs, min_batch_size, cost_cap and the reference's entries, got {changes!r}")
    merged = {**training, **changes, "reference": {**training["reference"], **changes.get("reference", {})}}
    return _training(merged, f"{where}.training")


def _variants(raw, where: str, training: dict | None = None) -> tuple[Variant, ...]:
    """An exercise's [[exercise.variant]] tables: none, or at least two with distinct keys."""
    _tables(raw, where, "variant")
    if len(raw) == 1:
        raise CourseError(f"course.toml: {where} has one variant: give it at least two, or none")
    variants = []
    for table in raw:
        vwhere = f"{where} variant {table.get('key', '?')}"
        key = _require(table, "key", str, vwhere)
        if not _VARIANT_KEY.fullmatch(key):
            raise CourseError(f"course.toml: {vwhere}: a key is 1-32 lower-case letters, digits, '.', '_' or '-', got {key!r}")
        params = _require(table, "params", dict, vwhere)
        if not all(isinstance(value, (str, int, float, bool)) for value in params.values()):
            raise CourseError(f"course.toml: {vwhere}.params holds numbers, strings or booleans only, got {params!r}")
        variants.append(
            Variant(
                key=key,
                says=_require(table, "says", str, vwhere).strip(),
                params=dict(params),
                thresholds=_thresholds(table["thresholds"], vwhere) if "thresholds" in table else None,
                training=_variant_training(table, training, vwhere),
            )
        )
    _named_once([v.key for v in variants], where, "a variant")
    return tuple(variants)


_QUESTION_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _questions(raw, where: str) -> tuple[Question, ...]:
    """An exercise's [[exercise.question]] tables: at most three, distinct ids, positive points."""
    _tables(raw, where, "question")
    if len(raw) > 3:
        raise CourseError(f"course.toml: {where} asks {len(raw)} written questions; at most three")
    questions = []
    for table in raw:
        qwhere = f"{where} question {table.get('id', '?')}"
        qid = _require(table, "id", str, qwhere)
        if not _QUESTION_ID.fullmatch(qid):
            raise CourseError(f"course.toml: {qwhere}: an id is a lower-case Python name of at most 40 characters, got {qid!r}")
        points = _require(table, "points", int, qwhere)
        if points <= 0:
            raise CourseError(f"course.toml: {qwhere}.points should be positive, got {points}")
        # The rubric is the instructor's: the copy of course.toml a class receives has none (mnist_course/starter.py).
        rubric = table.get("rubric", "")
        if not isinstance(rubric, str):
            raise CourseError(f"course.toml: {qwhere}.rubric should be a string, got {rubric!r}")
        questions.append(Question(qid, _require(table, "ask", str, qwhere).strip(), points, rubric.strip()))
    _named_once([q.id for q in questions], where, "a written question")
    return tuple(questions)


def _lessons(head: dict, exercises: list[Exercise]) -> tuple[str, ...]:
    """[course] lessons in reading order, numbered 01_, 02_, ...; without the
    list, the exercises' lessons. Every exercise's lesson must be listed."""
    listed = head.get("lessons")
    if listed is None:
        return tuple(dict.fromkeys(ex.lesson for ex in exercises))
    if not isinstance(listed, list) or not listed or not all(isinstance(n, str) for n in listed):
        raise CourseError(f"course.toml: [course] lessons should list lesson names, got {listed!r}")
    for number, name in enumerate(listed, start=1):
        if not name.startswith(f"{number:02d}_"):
            raise CourseError(f"course.toml: [course] lessons: lesson {number} should be named {number:02d}_..., got {name!r}")
    for ex in exercises:
        if ex.lesson not in listed:
            raise CourseError(f"course.toml: exercise {ex.id}'s lesson {ex.lesson!r} is not in [course] lessons")
        if not ex.lesson.startswith(f"{ex.lesson_number:02d}_"):
            raise CourseError(f"course.toml: exercise {ex.id} has lesson_number {ex.lesson_number} but lesson {ex.lesson!r}")
    return tuple(listed)


def _check_names(fn: dict, key: str, checks: dict, where: str) -> tuple[str, ...]:
    """A function's list of check names under `key`, each one of its own checks."""
    names = fn.get(key, [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CourseError(f"course.toml: {where}.{key} should list check names, got {names!r}")
    unknown = [n for n in names if n not in checks]
    if unknown:
        raise CourseError(f"course.toml: {where}.{key} names {unknown[0]!r}, which is not one of its checks")
    return tuple(names)


def _thresholds(raw: dict, where: str) -> dict[str, dict[str, float]]:
    """{data set: a bar for both halves, or {public = .., private = ..}}, each in (0, 1)."""
    bars = {}
    for dataset, value in raw.items():
        per_half = value if isinstance(value, dict) else {"public": value, "private": value}
        if set(per_half) != {"public", "private"} or not all(isinstance(v, (int, float)) and 0 < v < 1 for v in per_half.values()):
            raise CourseError(f"course.toml: {where}.thresholds.{dataset} should be a fraction, or {{ public = .., private = .. }}; got {value!r}")
        bars[dataset] = {half: float(v) for half, v in per_half.items()}
    return bars


@lru_cache(maxsize=1)
def load_course() -> Course:
    return parse_course(COURSE_FILE.read_text(encoding="utf-8"))


def solutions_elsewhere(course: Course | None = None) -> str:
    """Where the reference solutions are, said by a copy of the course without solutions/
    (the starter a class receives: mnist_course/starter.py)."""
    course = course or load_course()
    return (
        "the reference solutions are not in this copy of the course: your instructor has them "
        f"(self-learners find them in the course's source repository, {course.repository}, under solutions/)"
    )
