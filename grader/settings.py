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
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from mnist_course.data import FULL_ENV_VAR, TEST_HALVES, DataError

TARGET_ENV = "MNIST_COURSE_TARGET"
# Which half of the test set measures accuracy: "public" for a student's own
# grading, "private" for an instructor's (`--batch`, Gradescope, Classroom).
HALF_ENV = "MNIST_COURSE_TEST_HALF"
CACHE_ENV = "MNIST_COURSE_TRAINING_CACHE"
FULL_ENV = FULL_ENV_VAR
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
    """

    half: str = "public"
    full_data: bool = False
    data: str | None = None
    target: str | None = None
    training_cache: str | None = None
    jobs: int = 1

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
        environ: Mapping[str, str] | None = None,
    ) -> RunSettings:
        """The settings from explicit values (a command line's), each falling back
        to its environment variable, then to its default. A batch grades on the
        private half unless told otherwise. Raises SettingsError for a value that
        means nothing."""
        environ = os.environ if environ is None else environ
        half = half or ("private" if batch else None) or environ.get(HALF_ENV, "").strip() or "public"
        if half not in TEST_HALVES:
            raise SettingsError(f"${HALF_ENV} is {half!r}; it names the half of the test set to grade on: public or private")
        switch = environ.get(FULL_ENV, "").strip().lower()
        if switch not in _NO + _YES:
            raise SettingsError(f"${FULL_ENV} is {switch!r}; set it to 1 for all 60,000 training images, or unset it.")
        return cls(
            half=half,
            full_data=bool(full_data) or switch in _YES,
            data=data,
            target=target or environ.get(TARGET_ENV) or None,
            training_cache=environ.get(CACHE_ENV) or None,
            jobs=jobs or 1,
        )

    def but(self, **changes) -> RunSettings:
        """A copy with some settings changed (a cluster worker's own data file, say)."""
        return replace(self, **changes)

    def child_environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with this run's settings written in, for a child grader: the one
        place they enter a process's environment. The data path and the target
        travel on the child's command line."""
        env = {k: v for k, v in base.items() if k not in (HALF_ENV, FULL_ENV, CACHE_ENV, TARGET_ENV)}
        env[HALF_ENV] = self.half
        if self.full_data:
            env[FULL_ENV] = "1"
        if self.training_cache:
            env[CACHE_ENV] = str(self.training_cache)
        return env
