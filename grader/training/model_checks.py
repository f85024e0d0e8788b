"""The checks every model exercise shares (lessons 2, 3 and 5).

A test module builds one `ModelSubmission` per module (a fixture) and asks it
for what it needs: the model the student built, what the grader's trainer
found in it, the validated settings, the training result. Each step raises the
Feedback that explains why it cannot go on, so a check whose prerequisite
fails says which one and why, and an untouched stub reads "not started".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnist_course.course import Exercise
from mnist_course.data import test_half

from mnist_course.budget import BACKWARD_FACTOR, Cost, cap, flops, reference_cost, training_cost
from ..isolation import capacity
from ..feedback import Feedback, NotGraded, NotGradedMachine, NotStarted, PartialCredit, describe
from ..isolation.reply import Opaque, SavedModel
from ..isolation.safe_files import clean_text
from ..reports.report import CheckRun
from ..settings import RunSettings
from ..isolation.student import Call, Student
from .trainer import PROBE_IMAGES, ModelRefused, Settings, model_config, threshold_for, trainer_for, training_summary, validate_settings

SCALED_INPUT_MAX = 10.0  # larger values reaching the first Dense/Conv layer mean unscaled pixels


def _shape(shape) -> str:
    return "(" + ", ".join("None" if n is None else str(n) for n in shape) + (",)" if len(shape) == 1 else ")")


def _declared_input(config: Any) -> list | None:
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
        found = _declared_input(value)
        if found is not None:
            return found
    return None


def _falling(values: list) -> bool:
    """Whether a curve is still going down at its end: its lowest value in the
    last two epochs, and the last below where it stood three epochs earlier."""
    return len(values) >= 2 and int(np.argmin(values)) >= len(values) - 2 and values[-1] < values[max(0, len(values) - 4)]


class _NoChannelAxis(Feedback):
    """build_model() failed because its input lacks the channel axis: the short
    pointer every check shows, except build_model_accepts_images, which explains."""


class _ChannelAxisExplained(Feedback):
    """build_model_accepts_images's full explanation of the missing channel axis."""


class ModelSubmission:
    """One student's model exercise, checked step by step (each step memoised)."""

    def __init__(self, student: Student, mnist, settings: RunSettings, build_kwargs: dict[str, Any] | None = None, progress=None):
        self.student, self.mnist, self.run_settings = student, mnist, settings
        self.exercise: Exercise = student.exercise
        self.training = self.exercise.training
        self.build_kwargs = build_kwargs or {}
        self.progress = progress
        self._memo: dict[str, Any] = {}

    # -- what the student's code gives

    def build_call(self, **kwargs) -> Call:
        kwargs = kwargs or self.build_kwargs
        return self.student.call("build_model", expect="a compiled keras.Model", **kwargs)

    def model(self, **kwargs) -> tuple[Call, dict]:
        """The model build_model() returned: its configuration, read once from the
        .keras file and checked (training.model_config)."""
        call = self.build_call(**kwargs)
        o = call.outcome
        if (
            o.status == "raised" and o.stage == "call" and self.training.input_shape[-1] == 1
            and "found ndim=" in str(o.exc_message) and "(None, 28, 28)" in str(o.exc_message)
        ):
            raise _NoChannelAxis(
                "the grader could not build the model: its input has no channel axis",
                f"a model that takes images of shape {_shape(self.training.input_shape)}",
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
                    f"a model that takes images of shape {_shape(self.training.input_shape)}",
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
        declared, expected = _declared_input(config), list(self.training.input_shape)
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

    # -- the shared checks

    def check_input(self) -> None:
        expected = [None, *self.training.input_shape]
        explain = dict(
            cause="an Input of shape (28, 28), as in the dense networks of lessons 2 and 3: the grader feeds images with "
            f"their channel axis, {tuple(self.training.input_shape)}, the shape Conv2D works on",
            hint=f"start the model with keras.Input(shape={tuple(self.training.input_shape)}), as lesson 5's network does; "
            "the other checks of build_model depend on this one",
        )
        try:
            call, config = self.model()
        except _NoChannelAxis as missing:
            raise _ChannelAxisExplained(
                "It raised ValueError: Keras could not build the Conv2D layers on inputs of shape (None, 28, 28), "
                "which have no channel axis (its words: 'expected min_ndim=4, found ndim=3')",
                f"a model whose input shape is {_shape(expected)}: a batch of raw MNIST images with their one channel",
                called=missing.called,
                **explain,
            ) from None
        if self._missing_channel_axis(config):
            raise call.fail(
                f"got a model whose input shape is {_shape(_declared_input(config))}: no channel axis",
                f"input shape {_shape(expected)}: a batch of raw MNIST images with their one channel",
                **explain,
            )
        call, info = self.inspected()
        if info["n_inputs"] != 1 or info["input_shape"] != expected:
            got = info["input_shape"]
            cause = "a keras.Input(shape=...) other than the images the grader feeds"
            if got and len(got) == 2 and got[1] == 784:
                cause = "the model expects flattened vectors; the grader feeds it images"
            elif got and len(got) == len(expected) + 1 and got[-1] == 1:
                cause = "a channel axis: only the convolutional models of lesson 5 take (28, 28, 1)"
            elif got and len(got) == len(expected) - 1:
                cause = "no channel axis: Conv2D needs images of shape (28, 28, 1)"
            raise call.fail(
                f"got a model whose input shape is {_shape(got) if got else 'not a single input'}",
                f"input shape {_shape(expected)}: a batch of raw MNIST images",
                cause=cause,
                hint=f"start the model with keras.Input(shape={tuple(self.training.input_shape)})",
            )

    def check_output(self) -> None:
        call, info = self.inspected()
        got = info["output_shape"]
        if got != [None, 10]:
            units = f" (an output layer with {got[-1]} unit{'s' * (got[-1] != 1)})" if got and got[-1] != 10 else ""
            raise call.fail(
                f"got a model whose output shape is {_shape(got) if got else 'not a single output'}{units}",
                "output shape (None, 10): one score per digit",
                cause="the last Dense layer needs 10 units, one per class" if units else "a model with more than one output, or an output that is not a batch of vectors",
                hint="end the model with a Dense layer of 10 units and activation='softmax'",
            )

    def check_probabilities(self) -> None:
        self.check_input()
        self.check_output()
        call, info = self.inspected()
        probe = info.get("probe") or {}
        if not probe.get("finite", False):
            raise call.fail(
                f"its outputs on {PROBE_IMAGES} training images contain NaN or infinity",
                "probabilities",
                cause="an initializer or layer setting that produces non-finite values",
                hint="build the model with Keras's default initializers and run model.predict on a few images in the notebook",
            )
        if probe["min"] < -1e-6 or probe["max_row_sum_error"] > 1e-3:
            raise call.fail(
                f"outputs from {probe['min']:.3g} to {probe['max']:.3g}, rows summing to 1 ± {probe['max_row_sum_error']:.3g}",
                "probabilities: every output ≥ 0 and each row summing to 1",
                cause=f"the output layer's activation is {info['output_activation']}, not softmax",
                hint="use activation='softmax' on the last Dense layer",
            )

    def check_loss(self) -> None:
        """The loss fits the output: softmax with a probability loss (from_logits=False)."""
        call, info = self.compiled()
        loss, activation = info["loss"], info["output_activation"]
        if loss is None or loss["kind"] == "other":
            raise call.fail(
                f"got the loss {loss['name'] if loss else None}",
                "a cross-entropy loss for 10 classes",
                cause="a loss for another kind of problem (regression or two classes), or none compiled",
                hint="loss='sparse_categorical_crossentropy' for integer labels (or 'categorical_crossentropy' for one-hot)",
            )
        if activation == "softmax" and loss["from_logits"]:
            raise call.fail(
                "got a softmax output with a loss built with from_logits=True",
                "from_logits=False (the default) for a softmax output",
                cause="softmax output with from_logits=True: the loss applies softmax a second time, so learning crawls",
                hint="drop from_logits=True: a softmax output already gives probabilities",
            )
        if activation != "softmax" and not loss["from_logits"]:
            raise call.fail(
                f"got a {activation} output (logits) with a loss that expects probabilities",
                "a softmax output for a loss with from_logits=False",
                cause="logits with a probability loss: the loss reads raw scores as probabilities",
                hint="use activation='softmax' on the last layer",
            )

    def check_parameters(self) -> None:
        call, info = self.inspected()
        if info["params"] > self.training.max_params:
            raise call.fail(
                f"got a model with {info['params']:,} parameters",
                f"at most {self.training.max_params:,}",
                cause="layers wider than this exercise needs",
                hint="model.summary() shows where the parameters are; a Dense layer has inputs × units + units",
            )

    def check_settings(self) -> Settings:
        return self.settings()

    def check_labels_match_loss(self) -> None:
        settings = self.settings()
        call, info = self.compiled()
        kind = (info["loss"] or {}).get("kind")
        if settings.labels == "one-hot" and kind == "sparse":
            raise self.settings_call().fail(
                "got labels='one-hot' with a sparse loss",
                "integer labels for sparse_categorical_crossentropy",
                cause="one-hot labels with a sparse loss: sparse losses take the digit itself (0-9)",
                hint="keep labels='integer', or compile with loss='categorical_crossentropy'",
            )
        if settings.labels == "integer" and kind == "categorical":
            raise self.settings_call().fail(
                "got integer labels (the default) with categorical_crossentropy",
                "one-hot labels for categorical_crossentropy",
                cause="categorical_crossentropy expects one row of 10 per label",
                hint="use loss='sparse_categorical_crossentropy', or set 'labels': 'one-hot'",
            )

    def check_hidden_dense(self, minimum: int) -> None:
        call, info = self.inspected()
        dense = [layer for layer in info["layers"] if layer["class"] == "Dense"]
        hidden = len(dense) - 1  # the last Dense layer is the output
        if hidden < minimum:
            widths = " and ".join(str(layer.get("units")) for layer in dense[:-1]) or "none"
            raise call.fail(
                f"got {max(hidden, 0)} hidden Dense layer(s) (widths: {widths})",
                f"at least {minimum} hidden Dense layers before the output layer",
                cause="the model of lesson 2, with one hidden layer, where this exercise asks for a deeper one",
                hint="stack a second hidden Dense layer, with activation='relu', before the output layer, as lesson 3's deeper network does",
            )

    def check_dropout_rate(self, rate: float) -> None:
        """build_model(dropout_rate=rate) puts that rate in every Dropout layer."""
        call, info = self.inspected(dropout_rate=rate)
        rates = [layer.get("rate") for layer in info["layers"] if layer["class"] == "Dropout"]
        if not rates:
            raise call.fail(
                "got a model without a Dropout layer",
                f"Dropout layers with rate {rate}",
                cause="no Dropout after the hidden layers",
                hint="follow each hidden Dense layer with a Dropout layer whose rate is the dropout_rate argument",
            )
        if any(abs(r - rate) > 1e-9 for r in rates):
            raise call.fail(
                f"got Dropout rates {', '.join(f'{r:g}' for r in rates)}",
                f"every Dropout layer with rate {rate} (the argument)",
                cause="a fixed number in layers.Dropout(...) instead of the dropout_rate argument",
                hint="pass the argument itself as each Dropout layer's rate, never a number of your own",
            )

    def check_conv_and_pooling(self) -> None:
        call, info = self.inspected()
        classes = [layer["class"] for layer in info["layers"]]
        convs = [c for c in classes if c in ("Conv2D", "SeparableConv2D", "DepthwiseConv2D")]
        pools = [c for c in classes if c in ("MaxPooling2D", "AveragePooling2D")]
        if not convs or not pools:
            missing = " and ".join(x for x, present in (("Conv2D", convs), ("MaxPooling2D", pools)) if not present)
            raise call.fail(
                f"got a model without {missing} (its layers: {', '.join(classes)})",
                "convolution layers (Conv2D) and pooling layers (MaxPooling2D)",
                cause="a dense network (lessons 2 and 3) where this exercise asks for a convolutional one",
                hint="alternate Conv2D layers (a number of filters, a small kernel, activation='relu') with MaxPooling2D before Flatten, as lesson 5's network does",
            )

    def early_stopping(self) -> dict:
        """The EarlyStopping callback the settings declare (validated)."""
        settings = self.settings()
        call = self.settings_call()
        found = [cb for cb in settings.callbacks if cb["class"] == "EarlyStopping"]
        if not found:
            raise call.fail(
                "got no EarlyStopping callback",
                "callbacks=[keras.callbacks.EarlyStopping(...)] in the settings",
                cause="no 'callbacks' entry, or only other callbacks in it",
                hint="put a keras.callbacks.EarlyStopping in 'callbacks': lesson 3's 'Early stopping' shows what to watch, how patient to be, and restore_best_weights",
            )
        config = found[0]["config"]
        if not config.get("restore_best_weights"):
            raise call.fail(
                "got EarlyStopping without restore_best_weights=True",
                "the best epoch's weights restored at the end",
                cause="without it the model keeps the last epoch's weights, which overfit more",
                hint="add restore_best_weights=True",
            )
        monitor = str(config.get("monitor", ""))
        if monitor.startswith("val_") and settings.validation_split <= 0:
            raise call.fail(
                f"got EarlyStopping on {monitor} but no validation_split",
                "a validation_split above 0, so there is a validation score to watch",
                cause="without validation data there is no val_ metric, so early stopping could never see one improve",
                hint="add a 'validation_split' above 0: a tenth or so of the training images, as in the lessons",
            )
        return config

    def check_early_stopping_configured(self) -> None:
        """The EarlyStopping declared can do its job: it watches a validation
        quantity, restores the best weights and has a patience below the
        declared epochs, so it can stop. Judged from the declaration alone;
        whether a given training happens to stop before its end is not graded
        (a sensible setting may train to the last epoch)."""
        config = self.early_stopping()
        settings = self.settings()
        call = self.settings_call()
        monitor = str(config.get("monitor", ""))
        if not monitor.startswith("val_"):
            raise call.fail(
                f"got EarlyStopping watching {clean_text(monitor, 40)!r}, a quantity of the training data",
                "a validation quantity: 'val_loss' or 'val_accuracy'",
                cause="the training loss and accuracy keep improving while the model overfits, so they never say when to stop",
                hint="watch how the model does on the validation images it does not train on (lesson 3, 'Early stopping')",
            )
        patience = config.get("patience", 0)
        if not isinstance(patience, (int, float)) or patience >= settings.epochs:
            raise call.fail(
                f"got EarlyStopping with patience={clean_text(str(patience), 20)} for {settings.epochs} epochs",
                f"a patience below the {settings.epochs} epochs declared, so that early stopping can end the training",
                cause="a patience as long as the training itself: the epoch limit always stops it first, so early stopping never can",
                hint=f"declare more epochs (up to {self.training.max_epochs}) or a smaller patience, and let EarlyStopping decide",
            )

    # -- training

    def cost(self) -> tuple[Cost, float, Cost]:
        """The declared training's work, the cap, and the reference's work, on this data."""
        _, info = self.inspected()
        settings = self.settings()
        n_train = len(self.mnist.x_train)
        declared = training_cost(info["forward_flops"], settings.epochs, settings.batch_size, settings.validation_split, n_train)
        return declared, cap(self.training, n_train), reference_cost(self.training, n_train)

    def check_within_budget(self) -> None:
        """The declaration's work is within the cap: decided before any training,
        from the declaration alone, so every machine gives the same verdict."""
        declared, limit, reference = self.cost()
        if declared.total <= limit:
            return
        _, info = self.inspected()
        settings = self.settings()
        costliest = info.get("costliest_layers") or []
        first = next((f"the {cls} layer {name!r} ({flops(work)} per image)" for name, cls, work in costliest), "the widest layers")
        raise Feedback(
            f"{settings.epochs} epochs × {declared.fit_images:,} images × {flops(declared.forward_flops)} forward "
            f"(×{BACKWARD_FACTOR} with the backward pass, plus validation and {declared.steps_per_epoch:,} steps of batch {settings.batch_size} per epoch) "
            f"= {flops(declared.total)} of training work",
            f"at most {flops(limit)} ({self.training.cost_cap:g}× the reference's {flops(reference.total)}: "
            f"{reference.epochs} epochs of {flops(reference.forward_flops)} per image at batch {self.training.reference.batch_size})",
            called="the grader's count of your training's work, before training it",
            cause="more epochs, a smaller batch or a heavier model than this exercise needs",
            hint=f"lower epochs (EarlyStopping stops for you), raise batch_size, or narrow {first}",
        )

    def trained(self) -> dict:
        """Train (once) and return the trainer's result; every prerequisite first."""
        if "trained" not in self._memo:
            for step in (self.check_input, self.check_output, self.check_loss, self.check_parameters, self.check_labels_match_loss):
                try:
                    step()
                except NotStarted:
                    raise
                except Feedback as feedback:
                    self._memo["trained"] = feedback
                    break
            else:
                try:
                    self.check_within_budget()
                except Feedback as over:  # said as it is: the work, the cap, what to change
                    self._memo["trained"] = self._memo["over_cap"] = over
                    raise
                _, config = self.model()
                settings = self.settings()
                progress = (lambda line: self.progress(self.exercise.id, line)) if self.progress else None
                self._memo["trained"] = trainer_for(self.mnist, self.run_settings.training_cache).train(
                    config, settings, self.training, progress, before_run=self.student.stop_worker
                )
        result = self._memo["trained"]
        if isinstance(result, Feedback):
            if result is self._memo.get("over_cap") or isinstance(result, NotGraded):
                raise result  # over the cap: said as it is; not graded before training: not graded either
            reason = result.render().splitlines()[1 if result.called else 0]
            if isinstance(result, _ChannelAxisExplained):  # said in full once, by the input check
                reason = "the model's input has no channel axis, as build_model_accepts_images explains"
            raise Feedback(
                "The grader did not train the model, because of an earlier check",
                "a model that passes the checks before training",
                cause=reason[0].lower() + reason[1:],
                hint="fix that check first; its own message says more",
            )
        if result.get("status") == "timeout":
            raise NotGraded(f"training passed the grader's safety limit of {result.get('timeout', 0):.0f} s")
        if result.get("status") == "killed" and result.get("returncode") == -9:
            # SIGKILL comes from outside (the machine's out-of-memory killer, an
            # operator): the trainer's own 8 GiB cap ends a run with MemoryError.
            raise NotGraded("the training process was killed by the system (out of memory on the grading machine, or stopped)")
        if result.get("status") == "machine":
            raise self._machine("the grader's training process failed", result)
        return result

    def _machine(self, what: str, info: dict) -> NotGradedMachine:
        """The grader's trainer failed for memory the machine did not give it."""
        return NotGradedMachine(
            f"{what} ({info.get('failed', '')})",
            info.get("why", "the grading machine gives it too little memory"),
            capacity.memory_setting(self.student.needed_memory(), self.exercise.container_mb, self.exercise.id),
        )

    def check_accuracy(self, check: CheckRun) -> dict:
        """Train, evaluate on this run's half of the test set, compare with the
        threshold for this data set and half: full points at the threshold, none
        at threshold - band, linear between. What was measured goes to `check`
        (the `check` fixture's), which also knows the check's points."""
        half = self.run_settings.half
        threshold, band, dataset = threshold_for(self.exercise, self.mnist, half)
        graded = test_half(len(self.mnist.y_test), half)
        measured = {"threshold": threshold, "band": band, "dataset": dataset, "half": half, "test_images": len(graded), "seed": self.training.seed}
        check.record("measured", measured)
        try:
            declared, limit, reference = self.cost()
            measured["work"] = {"declared_flops": declared.total, "cap_flops": limit, "reference_flops": reference.total}
        except Feedback:
            pass  # an earlier check explains why there is nothing to count
        result = self.trained()
        accuracy = self.half_accuracy(result, graded)
        if half == "private" and accuracy is not None:
            # The same training measured on the half students see: what an instructor's release
            # setting shows them until the private grade is released (grader/classroom/release.py).
            public_threshold, public_band, _ = threshold_for(self.exercise, self.mnist, "public")
            public = self.half_accuracy(result, test_half(len(self.mnist.y_test), "public"))
            measured["public_half"] = {
                "test_accuracy": public,
                "threshold": public_threshold,
                "band": public_band,
                "fraction": round(min(1.0, max(0.0, 1 - (public_threshold - public) / public_band)), 6),
            }
        measured.update(
            {
                "test_accuracy": accuracy,
                "margin": round(accuracy - threshold, 6) if accuracy is not None else None,
                "epochs_run": result.get("epochs_run"),
                "training_seconds": result.get("seconds"),
                "training_reused": bool(result.get("reused")),
                "threads": result.get("threads"),
            }
        )
        try:
            summary = training_summary(result, self.mnist.y_test, graded)
        except Exception:  # noqa: BLE001 - the plots are extra; they never cost a score
            summary = None
        if summary is not None:  # what the feedback page plots (grader/reports/figures.py)
            check.record("training", summary)
        settings = self.settings()
        shown = (
            f"the grader's training ({settings.epochs} epochs at batch size {settings.batch_size}, seed {self.training.seed}) on {dataset}, "
            f"measured on the {half} half of its test set ({len(graded):,} images)"
        )
        status = result.get("status")
        if status == "not_finite":
            raise Feedback(
                "After training, the model's outputs contained NaN or infinity",
                "finite probabilities",
                called=shown,
                cause="a learning rate far too high, or unscaled inputs that blow up the activations",
                hint="keep Adam's default learning rate, and scale the inputs with layers.Rescaling(1/255)",
            )
        if status == "overworked":  # the throughput guard (issue 25): a failing verdict, not a retry
            raise Feedback(
                f"The grader stopped the training in its first epoch: your model does more work than it declares "
                f"({result.get('cpu_seconds')} s of CPU time where its declared work allows {result.get('allowed_cpu_seconds')} s)",
                "a model whose work the grader's estimate counts (kernel weights × output positions)",
                called=shown,
                cause="a layer or operation whose real work is far beyond the grader's count of it",
                hint="build the model from Dense and Conv2D layers with pooling, normalisation, dropout and reshaping",
            )
        if status != "ok":
            detail = clean_text(str(result.get("message") or status), 500)
            if status == "killed":
                detail = f"the training process ended abruptly (exit {result.get('returncode')}): a model or batch too large for the grader's memory"
            raise Feedback(
                f"Training failed: {result.get('type', '')} {detail}".strip(),
                "a model the grader can train",
                called=shown,
                cause="a layer or setting that fails during training",
                hint="train your model in the notebook with the same settings to see the error",
            )
        if accuracy is None:  # a finished training always predicts every test image
            raise NotGraded("the trainer returned no prediction for the test images")
        if accuracy < threshold:
            _, info = self.inspected()
            fraction = max(0.0, 1 - (threshold - accuracy) / band)
            points = check.points
            raise PartialCredit(
                fraction,
                f"Test accuracy {accuracy:.2%} on the {half} half after {result['epochs_run']} epochs ({result['seconds']:.0f} s): "
                f"{(threshold - accuracy) * 100:.2f} percentage points below the bar ({round((threshold - accuracy) * len(graded))} test images), "
                f"which earns {fraction * points:.2f} of this check's {points} points",
                f"at least {threshold:.2%} on {dataset}'s {half} half for full points (none at {threshold - band:.2%} or below)"
                + ("; mnist-full's bars are estimates, measured on the course's 22,699 images" if dataset == "mnist-full" else ""),
                called=shown,
                cause=self.diagnosis(info, result, threshold),
                hint=f"the training log shows the curves (grader --feedback FILE plots them); lesson {self.exercise.lesson_number}'s "
                "'Your turn' says where its own model lands against this bar and what lifts it",
            )
        return result

    def half_accuracy(self, result: dict, graded: np.ndarray) -> float | None:
        """Accuracy over the graded half, from the trainer's prediction for every test image."""
        predictions = result.get("predictions")
        if result.get("status") != "ok" or not isinstance(predictions, list) or len(predictions) != len(self.mnist.y_test):
            return None
        return float((np.asarray(predictions)[graded] == self.mnist.y_test[graded]).mean())

    def diagnosis(self, info: dict, result: dict, threshold: float) -> str:
        """What the training log says about a low accuracy: a classic mistake if
        one shows, else over- or underfitting read from the validation curve
        (lesson 2, "Learning curves"), else what is true of the run."""
        scale = info.get("first_weighted_input_max")
        if scale is not None and scale > SCALED_INPUT_MAX:
            return (
                f"inputs not scaled to [0, 1]: values up to {scale:.0f} reach the first layer; "
                "add layers.Rescaling(1/255) right after the Input"
            )
        history = result.get("history", {})
        train = [v for v in history.get("accuracy", []) if v is not None and np.isfinite(v)]
        val_loss = [v for v in history.get("val_loss", []) if v is not None and np.isfinite(v)]
        val_acc = [v for v in history.get("val_accuracy", []) if v is not None and np.isfinite(v)]
        epochs = result["epochs_run"]
        if len(train) >= 2 and train[-1] < 0.5:
            return "the model barely learned (training accuracy below 50%): check the learning rate and the loss"
        classes = {layer["class"] for layer in info.get("layers", [])}
        if classes & {"Conv2D", "SeparableConv2D", "DepthwiseConv2D"}:
            grow = "more epochs, data augmentation, or more or wider convolution layers (lesson 5, 'Your turn')"
        elif "Dropout" in classes:
            grow = "wider hidden layers, or more epochs and patience so that Dropout's slower learning is not cut short (lesson 3, 'Your turn')"
        else:
            grow = "more epochs, or more units in the hidden layer (lesson 2, 'Your turn')"
        stopping = result.get("early_stopping") or {}
        restored = bool(stopping.get("stopped_early") and stopping.get("restore_best_weights"))
        if len(val_loss) >= 3 and not restored:
            best = int(np.argmin(val_loss))
            # Turned up: the lowest validation loss two or more epochs before the end, and the last a tenth above it.
            if best <= len(val_loss) - 3 and val_loss[-1] >= 1.1 * val_loss[best]:
                if "Dropout" in classes:
                    remedy = "more Dropout or data augmentation, or EarlyStopping with restore_best_weights=True to keep the best epoch"
                elif self.exercise.lesson_number >= 3:
                    remedy = "add Dropout, or EarlyStopping with restore_best_weights=True to keep the best epoch (lesson 3)"
                else:
                    remedy = "train fewer epochs, or keep the best epoch (lesson 3 adds Dropout and early stopping)"
                return (
                    f"overfitting: the validation loss was lowest at epoch {best + 1} ({val_loss[best]:.3f}) and rose to "
                    f"{val_loss[-1]:.3f} by epoch {len(val_loss)}, while training went on improving; {remedy}"
                )
        if epochs <= 3:
            return f"only {epochs} epochs: the model had little time to learn; {grow}"
        if val_loss and _falling(val_loss):
            gained = f", validation accuracy {val_acc[0]:.1%} to {val_acc[-1]:.1%}" if len(val_acc) == len(val_loss) else ""
            return (
                f"still learning, not overfitting: the validation loss was still falling at the last epoch "
                f"({val_loss[0]:.3f} at epoch 1, {val_loss[-1]:.3f} at epoch {len(val_loss)}{gained}); {grow}"
            )
        if train and train[-1] < threshold:
            return (
                f"underfitting: even on its own training images the model reached only {train[-1]:.1%}, below the bar; "
                f"it needs more capacity or more training: {grow}"
            )
        if restored and stopping.get("best_epoch"):
            return (
                f"no classic mistake shows: early stopping kept epoch {stopping['best_epoch']} of {epochs}, the best on "
                f"{stopping.get('monitor')}, so this is what this model learns with these settings; to do better: {grow}"
            )
        if val_loss:
            best = int(np.argmin(val_loss))
            return (
                f"no classic mistake shows: the validation loss levelled off (lowest at epoch {best + 1} of {len(val_loss)}), "
                f"so this is what this model learns with these settings; to do better: {grow}"
            )
        return (
            f"no classic mistake shows, and without a validation_split the log cannot tell over- from underfitting "
            f"(training accuracy {train[-1]:.1%} at the last epoch); a validation split shows it. To do better: {grow}"
            if train else f"no classic mistake shows; to do better: {grow}"
        )
