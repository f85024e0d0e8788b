"""What one student's model exercise declares, read by the grader.

`Declaration` asks the student's worker for `build_model()` and
`training_settings()` and reads what came back through the grader's own eyes,
each step memoised: the model's configuration from its `.keras` file, vetted
(grader/training/vetting.py); what the grader's trainer found when it built
that configuration under the exercise's seed (`inspected`, grader/training/trainer.py);
the settings, validated (grader/training/declared_settings.py); the declared
training's work against the exercise's cap (mnist_course/budget.py). A step
that cannot read its part raises the Feedback that says why. Judging what was
read is the checks' work (grader/training/model_checks.py: `ModelSubmission`).
"""

from __future__ import annotations

from typing import Any

from mnist_course.course import Exercise

from mnist_course.budget import Cost, cap, flops, reference_cost, training_cost
from mnist_course.constraints import constrained_data, constrained_training
from ..isolation import capacity
from ..feedback import Feedback, NotGraded, NotGradedMachine, describe
from ..isolation.reply import Opaque, SavedModel
from ..isolation.safe_files import clean_text
from ..settings import RunSettings
from ..isolation.student import Call, Student
from .declared_settings import Settings, validate_settings
from .trainer import trainer_for
from .vetting import ModelRefused, model_config


def shape_text(shape) -> str:
    """A shape as Keras prints it: (None, 28, 28, 1), (10,)."""
    return "(" + ", ".join("None" if n is None else str(n) for n in shape) + (",)" if len(shape) == 1 else ")")


def declared_input(config: Any) -> list | None:
    """The batch shape of the model's first InputLayer, as its .keras
    configuration declares it (None when there is none to read)."""
    if isinstance(config, dict):
        if config.get("class_name") == "InputLayer" and isinstance(config.get("config"), dict):
            inner = config["config"]
            shape = inner.get("batch_shape") or inner.get("batch_input_shape")
            return list(shape) if isinstance(shape, (list, tuple)) else None
        values = config.values()
    elif isinstance(config, list):
        values = config
    else:
        return None
    for value in values:
        found = declared_input(value)
        if found is not None:
            return found
    return None


class NoChannelAxis(Feedback):
    """build_model() failed because its input lacks the channel axis: the short
    pointer every check shows, except build_model_accepts_images, which explains."""


class Declaration:
    """One student's model and training settings, as the grader reads them (each step memoised)."""

    def __init__(self, student: Student, mnist, settings: RunSettings, build_kwargs: dict[str, Any] | None = None):
        self.student, self.run_settings = student, settings
        self.exercise: Exercise = student.exercise
        # A variant may constrain the training (mnist_course/constraints.py): its budget, and the
        # images the grader trains and tests on; everything below reads these two.
        self.variant = settings.variant_of(self.exercise)
        self.training = constrained_training(self.exercise.training, self.variant)
        self.mnist = constrained_data(mnist, self.variant.params if self.variant else None)
        self.build_kwargs = build_kwargs or {}
        self._memo: dict[str, Any] = {}

    def build_call(self, **kwargs) -> Call:
        kwargs = kwargs or self.build_kwargs
        return self.student.call("build_model", expect="a compiled keras.Model", **kwargs)

    def model(self, **kwargs) -> tuple[Call, dict]:
        """The model build_model() returned: its configuration, read once from the
        .keras file and checked (vetting.model_config)."""
        call = self.build_call(**kwargs)
        o = call.outcome
        if (
            o.status == "raised" and o.stage == "call" and self.training.input_shape[-1] == 1
            and "found ndim=" in str(o.exc_message) and "(None, 28, 28)" in str(o.exc_message)
        ):
            raise NoChannelAxis(
                "the grader could not build the model: its input has no channel axis",
                f"a model that takes images of shape {shape_text(self.training.input_shape)}",
                called=call.called,
                cause="the missing channel axis that build_model_accepts_images explains; this check depends on it",
                hint="fix build_model_accepts_images first: its message says what to change",
            )
        value = call.value
        if isinstance(value, Opaque) and "Keras model" in value.description:
            raise call.fail(
                f"got {describe(value)}",
                cause=f"far more parameters than the budget of {self.training.max_params:,}",
                hint="model.summary() shows where the parameters are; a Dense layer has inputs × units + units",
            )
        if not isinstance(value, SavedModel):
            raise call.fail(
                f"got {describe(value)}",
                cause="a missing `return model`" if value is None else "returning something other than the Keras model itself",
                hint="build the model with keras.Sequential([...]) or the Functional API, compile it, and return it",
            )
        key = ("config", str(value.path))
        if key not in self._memo:
            try:
                self._memo[key] = model_config(value.path)
            except ModelRefused as refused:
                self._memo[key] = call.fail(refused.got, cause=refused.cause, hint=refused.hint)
        if isinstance(self._memo[key], Feedback):
            raise self._memo[key]
        return call, self._memo[key]

    def inspected(self, **kwargs) -> tuple[Call, dict]:
        """What the grader's trainer found when it loaded the model (safe_mode=True)."""
        call, config = self.model(**kwargs)
        # training_settings() is called first (kept like every call), so the checks that read it after the
        # trainer ran need no second worker (a fresh TensorFlow import, about 5 CPU seconds of each grading
        # that builds a model). Called here, not in before_run, which runs under the cache entry's lock:
        # a classmate inspecting the same model would wait on this student's code.
        if any(f.name == "training_settings" for f in self.exercise.functions):
            self.settings_call()
        # No student process runs while the grader's trainer does.
        info = trainer_for(self.mnist, self.run_settings.training_cache).inspect(config, self.training, before_run=self.student.stop_worker)
        if info.get("status") == "timeout":
            raise NotGraded(f"building the model took longer than the grader's safety limit of {info.get('timeout', 0):.0f} s")
        if info.get("status") == "killed" and info.get("returncode") == -9:
            raise NotGraded("the process building the model was killed by the system (out of memory on the grading machine, or stopped)")
        if info.get("status") == "machine":
            raise self._machine("the grader's process building the model failed", info)
        if info.get("status") == "refused":
            shown = clean_text(str(info.get("class")), 60)
            raise call.fail(
                f"the model uses {shown}, a layer or operation whose work the grader's budget does not count",
                cause=f"{shown} (attention, recurrent layers, EinsumDense, matrix products between layers), "
                "whatever module or alias its configuration names it by; this course's models need none of them",
                hint="build the model from Dense and Conv2D layers with pooling, normalisation, dropout, reshaping, "
                "activations, augmentation and Rescaling: the grader counts their work exactly",
            )
        if info.get("status") == "ok" and info.get("probe_skipped"):
            per_image = self.cap_per_image()
            raise call.fail(
                f"the model does {flops(info['forward_flops'])} of work per image, more than the whole training budget "
                f"allows per image ({flops(per_image)}: the cap spread over one pass of the training images), "
                "so the grader did not run it",
                cause="far too many filters or units, very large kernels, or images upsampled before the convolutions",
                hint="the lesson's model does well under a megaFLOP per image; model.summary() shows which layer is large",
            )
        if info.get("status") != "ok":
            if self._missing_channel_axis(config):
                # Said in full once, by build_model_accepts_images; the checks that need the model point there.
                raise call.fail(
                    "the grader could not build the model on its images: the model's input has no channel axis",
                    f"a model that takes images of shape {shape_text(self.training.input_shape)}",
                    cause="the missing channel axis that build_model_accepts_images explains; this check depends on it",
                    hint="fix build_model_accepts_images first: its message says what to change",
                )
            detail = clean_text(str(info.get("message") or info.get("status")), 500)
            if info.get("status") == "killed":
                raise call.fail(
                    f"the process building the model ended abruptly (exit {info.get('returncode')}), before it could describe it",
                    cause="a model far too large for the grader's memory (billions of parameters), or one Keras cannot build",
                    hint="model.summary() in the notebook shows the parameters; this exercise allows "
                    f"{self.training.max_params:,}",
                )
            raise call.fail(
                f"the grader could not build or run the model: {info.get('type', '')} {detail}".strip(),
                cause="a model without keras.Input(shape=...) first, or a layer or setting that does not survive model.save() and loading",
                hint="start with keras.Input(shape=...); save and load your model in the notebook to see the error",
            )
        return call, info

    def cap_per_image(self) -> float:
        """The work budget spread over one pass of the training images (Trainer.inspect's bound)."""
        n_train = len(self.mnist.x_train)
        return cap(self.training, n_train) / n_train

    def _missing_channel_axis(self, config: dict) -> bool:
        """The model declares (28, 28) where this exercise feeds (28, 28, 1)."""
        declared, expected = declared_input(config), list(self.training.input_shape)
        return declared is not None and expected[-1] == 1 and list(declared[1:]) == expected[:-1]

    def compiled(self, **kwargs) -> tuple[Call, dict]:
        call, info = self.inspected(**kwargs)
        if not info["compiled"]:
            raise call.fail(
                "got a model that was never compiled",
                "a model compiled with an optimizer, a loss and metrics=['accuracy']",
                cause="model.compile(...) is missing before `return model`",
                hint="compile the model before returning it, with an optimizer, a cross-entropy loss and the accuracy metric, as lesson 2's 'Building the model' does",
            )
        return call, info

    def settings_call(self) -> Call:
        return self.student.call("training_settings", expect="a dict of training settings")

    def settings(self) -> Settings:
        call = self.settings_call()
        return validate_settings(call.value, self.training, call)

    def cost(self) -> tuple[Cost, float, Cost]:
        """The declared training's work, the cap, and the reference's work, on this data."""
        _, info = self.inspected()
        settings = self.settings()
        n_train = len(self.mnist.x_train)
        declared = training_cost(info["forward_flops"], settings.epochs, settings.batch_size, settings.validation_split, n_train)
        return declared, cap(self.training, n_train), reference_cost(self.training, n_train)

    def _machine(self, what: str, info: dict) -> NotGradedMachine:
        """The grader's trainer failed for memory the machine did not give it."""
        return NotGradedMachine(
            f"{what} ({info.get('failed', '')})",
            info.get("why", "the grading machine gives it too little memory"),
            capacity.memory_setting(self.student.needed_memory(), self.exercise.container_mb, self.exercise.id),
        )
