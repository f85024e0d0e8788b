"""What "trains" means for the test suite's `trains` marker, and how a test that
is not marked is caught starting one.

A test trains when, in its own process or any Python process it starts (a
grader, a batch's graders, nbgrader's kernels, a cluster's workers), one of
these runs:
- the grader's trainer on a declaration (grader/training/trainer.py, mode "train");
- a student function that trains, returning a result: ex02b's train(),
  ex03b's validation_accuracy() and run_sweep() (the worker trains them);
- the grader's own runs of ex03b's declared protocol, where the run's cache
  does not hold them (grader/references/ex03b_experiment.py `train_cells`);
- a lesson notebook (a notebook in a `lessons` folder) executed, not read
  from the lesson cache (mnist_course/site.py's `executed`);
- `mnist-course train` (mnist_course/predict.py).

With $MNIST_COURSE_TRAINING_LOG naming a file, `install()` wraps each of
those to append one line to it and, except for the student's call (known only
once it returned), to raise instead of training, so that the mistake costs
seconds; tests/conftest.py sets the variable for every test not marked
`trains` and fails the test when the file is not empty.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import sys

LOG = "MNIST_COURSE_TRAINING_LOG"
# (exercise, function) of the student functions whose call trains a model
STUDENT_TRAININGS = {("ex02b", "train"), ("ex03b", "validation_accuracy"), ("ex03b", "run_sweep")}


class TrainingInUnmarkedTest(RuntimeError):
    """Raised instead of starting a training, so that the test fails fast."""


def _started(what: str, stop: bool = True) -> None:
    """Log a training while a test not marked `trains` runs, and stop it before it costs anything."""
    path = os.environ.get(LOG)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"{what} (process {os.getpid()})\n")
        if stop:
            raise TrainingInUnmarkedTest(f"{what}, in a test not marked `trains`")


def _patch_training(module) -> None:
    run = module.Trainer._run

    @functools.wraps(run)
    def _run(self, request, *args, **kwargs):
        if request.get("mode") == "train":
            _started("the grader's trainer trained a declaration")
        return run(self, request, *args, **kwargs)

    module.Trainer._run = _run


def _patch_student(module) -> None:
    call = module.Student.call

    @functools.wraps(call)
    def _call(self, function, *args, **kwargs):
        outcome = call(self, function, *args, **kwargs)
        exercise = self.filename.split("_", 1)[0]
        returned = getattr(getattr(outcome, "outcome", None), "status", None) == "returned"
        if (exercise, function) in STUDENT_TRAININGS and returned:
            _started(f"the student's {exercise} {function}() trained and returned", stop=False)
        return outcome

    module.Student.call = _call


def _patch_site(module) -> None:
    executed = module.executed

    @functools.wraps(executed)
    def _executed(notebook, cache, data_path, data_sha256, quick, versions):
        lesson = notebook.parent.name == "lessons"  # another notebook (a page of one cell, say) trains nothing
        if lesson and not (cache / f"{notebook.stem}-{module.cache_key(notebook, data_sha256, quick, versions)}.ipynb").is_file():
            _started(f"lesson {notebook.name} executed")
        return executed(notebook, cache, data_path, data_sha256, quick, versions)

    module.executed = _executed


def _stopping(name: str, what: str):
    """A patch that logs (and stops) every call of the module's function `name` as `what`."""

    def patch(module) -> None:
        train = getattr(module, name)

        @functools.wraps(train)
        def _train(*args, **kwargs):
            _started(what)
            return train(*args, **kwargs)

        setattr(module, name, _train)

    return patch


PATCHES = {
    "grader.training.trainer": _patch_training,
    "grader.isolation.student": _patch_student,
    "mnist_course.site": _patch_site,
    "mnist_course.predict": _stopping("train", "mnist-course train"),
    "grader.references.ex03b_experiment": _stopping("train_cells", "the grader's own runs of ex03b's protocol"),
}


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, patch):
        self.loader, self.patch = loader, patch

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in PATCHES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, PATCHES[name])
        return spec


def install() -> None:
    """Wrap each way of training, now for modules already imported and at import for the rest."""
    if any(isinstance(finder, _Finder) for finder in sys.meta_path):
        return
    for name, patch in PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    sys.meta_path.insert(0, _Finder())
