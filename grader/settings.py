"""The run's settings: resolved once where a run starts, then passed as one object.

Where a run starts:
- `grader` (cli.main): from its arguments, falling back to the environment;
- `pytest grader` (plugin.py): from pytest's --target/--data and the environment;
- a child grader (a batch's, a cluster task's, nbgrader's cells): from the
  environment its parent wrote with `RunSettings.child_environment`, the one
  place a run's settings are written into a process's environment.

From there the object travels explicitly: into the pytest run (registered
as a plugin, read by plugin.py's `settings` fixture), into a batch's pools and
a cluster's tasks. Nothing below reads these variables again; the course's
checks (grader/checks/ex*.py, grader/training/model_checks.py) never read os.environ
(tests/test_provenance.py holds them to it).

The machine's switches (`Switches`, below) are not the run's: protections a
test turns off to prove them, limits a test lowers, the safety clocks' factor
for a slow grading machine. They govern a whole tree of processes (a batch's
graders, a cluster's workers, the sandboxed workers they start), so they are
taken from the environment each process was started with, by
`Switches.resolve` alone, when the machinery they govern starts. Every
`MNIST_COURSE_*` variable is named here and nowhere else in grader/, and
grader/README.md ("Environment variables") has the one table of them
(tests/test_provenance.py holds the three to agree).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from mnist_course.course import CourseError, Exercise, Variant, load_course
from mnist_course.data import ENV_VAR as DATA_ENV
from mnist_course.data import FULL_ENV_VAR, TEST_HALVES, DataError

from . import draws, variants

TARGET_ENV = "MNIST_COURSE_TARGET"
# Which half of the test set measures accuracy: "public" for a student's own
# grading, "private" for an instructor's (`--batch`, Gradescope, Classroom).
HALF_ENV = "MNIST_COURSE_TEST_HALF"
CACHE_ENV = "MNIST_COURSE_TRAINING_CACHE"
FULL_ENV = FULL_ENV_VAR
# Whose variants a run grades (grader/variants.py): the student's identity, and explicit choices.
STUDENT_ENV = "MNIST_COURSE_STUDENT"
VARIANTS_ENV = "MNIST_COURSE_VARIANTS"
# The key of the grader's unpredictable draws (grader/draws.py): a class's secret, or the public one.
DRAW_KEY_ENV = "MNIST_COURSE_DRAW_KEY"
# The machine's switches (Switches): "off" switches a protection off, for the
# tests that prove it is what stops an attack.
SANDBOX_ENV = "MNIST_COURSE_SANDBOX"  # bubblewrap (isolation/bubblewrap.py)
BY_HAND_ENV = "MNIST_COURSE_BY_HAND"  # a by-hand exercise's forbidden packages (isolation/_child.py, bubblewrap.py)
CAPACITY_ENV = "MNIST_COURSE_CAPACITY"  # cgroup leaves, the tmpfs area, the OOM score (isolation/capacity.py)
WORK_GUARD_ENV = "MNIST_COURSE_WORK_GUARD"  # the trainer's throughput guard (mnist_course/budget.py)
REUSE_ENV = "MNIST_COURSE_TRAINING_REUSE"  # trainings read from the cache folder (trainer.py, training/by_hand.py)
WORKER_PIDS_ENV = "MNIST_COURSE_WORKER_PIDS"  # a worker's process limit (tests lower it)
WORKER_AREA_ENV = "MNIST_COURSE_WORKER_AREA_MB"  # a worker's writable tmpfs, in MiB (tests make it small)
SAFETY_FACTOR_ENV = "MNIST_COURSE_SAFETY_FACTOR"  # scales every safety clock (2: a machine twice as slow)
# Not switches: the v2 cgroup a grader process hands to the graders it starts
# (isolation/capacity.py writes it), and where `grader`'s loop keeps its state.
CGROUP_ROOT_ENV = "MNIST_COURSE_CGROUP_ROOT"
STATE_ENV = "MNIST_COURSE_STATE"
# Read by the lessons and `mnist-course site`, never by the grader.
QUICK_ENV = "MNIST_COURSE_QUICK"
# Every MNIST_COURSE_* variable, in the order of grader/README.md's table.
VARIABLES = (
    TARGET_ENV, HALF_ENV, FULL_ENV, DATA_ENV, CACHE_ENV, STUDENT_ENV, VARIANTS_ENV, DRAW_KEY_ENV,
    SANDBOX_ENV, BY_HAND_ENV, CAPACITY_ENV, WORK_GUARD_ENV, REUSE_ENV, WORKER_PIDS_ENV, WORKER_AREA_ENV, SAFETY_FACTOR_ENV,
    CGROUP_ROOT_ENV, STATE_ENV, QUICK_ENV,
)
_NO = ("", "0", "no", "false", "off")
_YES = ("1", "yes", "true", "on")


class SettingsError(DataError):
    """A setting that names nothing the grader knows (a bad half, a bad switch)."""


@dataclass(frozen=True)
class RunSettings:
    """What a run was asked to do, besides which exercises.

    half: the half of the test set that measures accuracy ("public" or "private").
    full_data: train on all 60,000 training images rather than the course's subset.
    data: the --data path (None: $MNIST_COURSE_DATA, then the Keras download, as
      mnist_course.data resolves it).
    target: the folder to grade as given (None: exercises/).
    training_cache: a folder where identical declarations share one training, or None.
    jobs: submissions graded at once by a batch on this machine.
    student: the identity the student's variants are drawn from (grader/variants.py), or
      None: every exercise's default variant.
    variant_choices: ((exercise id, variant key), ...) chosen explicitly; they win over the draw.
    draw_key: the key of the grader's draws that a submission must not know in advance
      (grader/draws.py): the public one for a student's own grading, a class's secret otherwise.
    """

    half: str = "public"
    full_data: bool = False
    data: str | None = None
    target: str | None = None
    training_cache: str | None = None
    jobs: int = 1
    student: str | None = None
    variant_choices: tuple[tuple[str, str], ...] = ()
    draw_key: str = draws.PUBLIC_KEY

    @classmethod
    def resolve(
        cls,
        *,
        half: str | None = None,
        full_data: bool = False,
        data: str | None = None,
        target: str | None = None,
        jobs: int | None = None,
        batch: bool = False,
        student: str | None = None,
        variant_choices: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> RunSettings:
        """The settings from explicit values (a command line's), each falling back
        to its environment variable, then to its default. A batch grades on the
        private half unless told otherwise; a batch draws each student's variants from
        their folder's name, so the run's own identity is never used there. Raises
        SettingsError for a value that means nothing."""
        environ = os.environ if environ is None else environ
        half = half or ("private" if batch else None) or environ.get(HALF_ENV, "").strip() or "public"
        if half not in TEST_HALVES:
            raise SettingsError(f"${HALF_ENV} is {half!r}; it names the half of the test set to grade on: public or private")
        switch = environ.get(FULL_ENV, "").strip().lower()
        if switch not in _NO + _YES:
            raise SettingsError(f"${FULL_ENV} is {switch!r}; set it to 1 for all 60,000 training images, or unset it.")
        identity = None if batch else (student or environ.get(STUDENT_ENV, "")).strip() or None
        if identity is not None:
            try:
                identity = variants.normalized(identity)
            except variants.IdentityError as exc:
                raise SettingsError(f"{exc}: give your student id as your instructor names you (--student or ${STUDENT_ENV})") from None
        chosen = variant_choices if variant_choices is not None else environ.get(VARIANTS_ENV, "")
        try:
            choices = variants.parse_choices(load_course(), chosen) if chosen.strip() else ()
        except CourseError as exc:
            raise SettingsError(f"{exc} (--use-variant or ${VARIANTS_ENV})") from None
        return cls(
            half=half,
            full_data=bool(full_data) or switch in _YES,
            data=data,
            target=target or environ.get(TARGET_ENV) or None,
            training_cache=environ.get(CACHE_ENV) or None,
            jobs=jobs or 1,
            student=identity,
            variant_choices=choices,
            draw_key=environ.get(DRAW_KEY_ENV, "").strip() or draws.PUBLIC_KEY,
        )

    def but(self, **changes) -> RunSettings:
        """A copy with some settings changed (a cluster worker's own data file, say)."""
        return replace(self, **changes)

    def draw(self, purpose: str, *parts: bytes) -> int:
        """A seed the submission cannot know in advance (grader/draws.py), from this run's key."""
        return draws.seed(self.draw_key, purpose, *parts)

    def variant_of(self, exercise: Exercise) -> Variant | None:
        """The variant this run grades `exercise` on (grader/variants.py), None where it has none."""
        return variants.of(load_course(), exercise, self.student, self.variant_choices)

    def child_environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with this run's settings written in, for a child grader: the one
        place they enter a process's environment. The data path and the target
        travel on the child's command line."""
        env = {k: v for k, v in base.items() if k not in (HALF_ENV, FULL_ENV, CACHE_ENV, TARGET_ENV, STUDENT_ENV, VARIANTS_ENV, DRAW_KEY_ENV)}
        env[HALF_ENV] = self.half
        env[DRAW_KEY_ENV] = self.draw_key
        env[STUDENT_ENV] = self.student or ""  # set even when empty: a child never takes an identity of its own
        if self.variant_choices:
            env[VARIANTS_ENV] = ",".join(f"{exercise}={key}" for exercise, key in self.variant_choices)
        if self.full_data:
            env[FULL_ENV] = "1"
        if self.training_cache:
            env[CACHE_ENV] = str(self.training_cache)
        return env


_OFF = ("off", "0", "no", "false", "none")


def _whole(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Switches:
    """The machine's switches, as the environment sets them (see the module docstring).

    sandbox: run workers in bubblewrap (when the machine has it).
    by_hand: a by-hand exercise's worker cannot import course.toml's
      by_hand_forbids (its sandbox hides them; stand-ins that fail when used).
    capacity: a cgroup leaf per worker, its own tmpfs area, the OOM score.
    work_guard: stop a training whose first epoch uses far more CPU than its
      declared work allows. Each of these is on unless its variable says
      off (off, 0, no, false, none): a protection is never lost to a typo.
    reuse_trainings: read a training (Keras or by hand) that an identical call
      made earlier from the run's cache folder; off: every training runs (the
      tests and benchmarks/class_time.py compare the two).
    worker_pids, worker_area_mb: a worker's process limit and writable area,
      or None for the machinery's own defaults (a value that is not a whole
      number counts as unset).
    safety_factor: what every safety clock is multiplied by; a clock never
      decides a verdict, only when the grader gives up ("not graded").
    """

    sandbox: bool = True
    by_hand: bool = True
    capacity: bool = True
    work_guard: bool = True
    reuse_trainings: bool = True
    worker_pids: int | None = None
    worker_area_mb: int | None = None
    safety_factor: float = 1.0

    @classmethod
    def resolve(cls, environ: Mapping[str, str] | None = None) -> Switches:
        environ = os.environ if environ is None else environ

        def on(name: str) -> bool:
            return environ.get(name, "").strip().lower() not in _OFF

        try:
            factor = float(environ.get(SAFETY_FACTOR_ENV, "1"))
        except ValueError:
            factor = 1.0
        return cls(
            sandbox=on(SANDBOX_ENV),
            by_hand=on(BY_HAND_ENV),
            capacity=on(CAPACITY_ENV),
            work_guard=on(WORK_GUARD_ENV),
            reuse_trainings=on(REUSE_ENV),
            worker_pids=_whole(environ.get(WORKER_PIDS_ENV)),
            worker_area_mb=_whole(environ.get(WORKER_AREA_ENV)),
            safety_factor=factor if math.isfinite(factor) and factor > 0 else 1.0,
        )


def switches() -> Switches:
    """This process's switches, from its environment: the one place they are read."""
    return Switches.resolve()
