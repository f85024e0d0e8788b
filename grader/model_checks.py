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
from .feedback import Feedback, NotGraded, NotStarted, PartialCredit, describe
from .sandbox import Opaque, SavedModel, clean_text
from .session import graded_half
from .student import Call, Student
from .training import ModelRefused, Settings, model_config, threshold_for, trainer_for, training_summary, validate_settings

SCALED_INPUT_MAX = 10.0  # larger values reaching the first Dense/Conv layer mean unscaled pixels


def _shape(shape) -> str:
    return "(" + ", ".join("None" if n is None else str(n) for n in shape) + (",)" if len(shape) == 1 else ")")


class ModelSubmission:
    """One student's model exercise, checked step by step (each step memoised)."""

    def __init__(self, student: Student, mnist, build_kwargs: dict[str, Any] | None = None, progress=None):
        self.student, self.mnist = student, mnist
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
        info = trainer_for(self.mnist).inspect(config, self.training, before_run=self.student.stop_worker)
        if info.get("status") == "timeout":
            raise NotGraded(f"building the model took longer than the grader's safety limit of {info.get('timeout', 0):.0f} s")
        if info.get("status") == "killed" and info.get("returncode") == -9:
            raise NotGraded("the process building the model was killed by the system (out of memory on the grading machine, or stopped)")
        if info.get("status") != "ok":
            detail = clean_text(str(info.get("message") or info.get("status")), 500)
            raise call.fail(
                f"the grader could not build or run the model: {info.get('type', '')} {detail}".strip(),
                cause="a model without keras.Input(shape=...) first, or a layer or setting that does not survive model.save() and loading",
                hint="start with keras.Input(shape=...); save and load your model in the notebook to see the error",
            )
        return call, info

    def compiled(self, **kwargs) -> tuple[Call, dict]:
        call, info = self.inspected(**kwargs)
        if not info["compiled"]:
            raise call.fail(
                "got a model that was never compiled",
                "a model compiled with an optimizer, a loss and metrics=['accuracy']",
                cause="model.compile(...) is missing before `return model`",
                hint="model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])",
            )
        return call, info

    def settings_call(self) -> Call:
        return self.student.call("training_settings", expect="a dict of training settings")

    def settings(self) -> Settings:
        call = self.settings_call()
        return validate_settings(call.value, self.training, call)

    # -- the shared checks

    def check_input(self) -> None:
        call, info = self.inspected()
        expected = [None, *self.training.input_shape]
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
                hint="end the model with layers.Dense(10, activation='softmax')",
            )

    def check_probabilities(self) -> None:
        self.check_input()
        self.check_output()
        call, info = self.inspected()
        probe = info.get("probe") or {}
        if not probe.get("finite", False):
            raise call.fail(
                "its outputs on 64 training images contain NaN or infinity",
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
                hint="stack Dense layers, e.g. 256 then 128 units, each with activation='relu'",
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
                hint="add layers.Dropout(dropout_rate) after each hidden Dense layer",
            )
        if any(abs(r - rate) > 1e-9 for r in rates):
            raise call.fail(
                f"got Dropout rates {', '.join(f'{r:g}' for r in rates)}",
                f"every Dropout layer with rate {rate} (the argument)",
                cause="a fixed number in layers.Dropout(...) instead of the dropout_rate argument",
                hint="write layers.Dropout(dropout_rate)",
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
                hint="e.g. Conv2D(32, 3, activation='relu'), MaxPooling2D(), Conv2D(64, 3, activation='relu'), MaxPooling2D()",
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
                # The reference's setting: a patience of 3 on val_loss stops on the first bump of a noisy curve (lesson 3).
                hint="keras.callbacks.EarlyStopping(monitor='val_accuracy', patience=8, restore_best_weights=True)",
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
                hint="add 'validation_split': 0.1",
            )
        return config

    def check_early_stopping_effective(self) -> None:
        """In the grader's training, early stopping watched a real metric and stopped."""
        self.early_stopping()
        result = self.trained()
        settings = self.settings()
        shown = f"the grader's training ({settings.epochs} epochs at most)"
        if result.get("status") != "ok":
            raise Feedback(
                "Training did not finish, so early stopping could not be judged",
                "a training that runs to its end",
                called=shown,
                cause="the accuracy check's reason: the grader did not train this model, or its training failed",
                hint="the accuracy check's message says why training did not finish",
            )
        info = result.get("early_stopping") or {}
        if not info.get("monitor_seen"):
            raise Feedback(
                f"EarlyStopping watched {info.get('monitor')!r}, which training never reported",
                "a metric that training logs: val_loss or val_accuracy",
                called=shown,
                cause="a typo in monitor=, or a metric the model does not compute",
                hint="monitor='val_loss' or 'val_accuracy' with a validation_split",
            )
        if not info.get("stopped_early"):
            raise Feedback(
                f"Training ran all {result.get('epochs_run')} epochs: early stopping never triggered",
                "training that stops on its own once validation stops improving",
                called=shown,
                cause="too few epochs for the patience, so the limit stopped training first",
                hint=f"declare more epochs (up to {self.training.max_epochs}) and let EarlyStopping decide",
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
                self._memo["trained"] = trainer_for(self.mnist).train(
                    config, settings, self.training, progress, before_run=self.student.stop_worker
                )
        result = self._memo["trained"]
        if isinstance(result, Feedback):
            if result is self._memo.get("over_cap") or isinstance(result, NotGraded):
                raise result  # over the cap: said as it is; not graded before training: not graded either
            reason = result.render().splitlines()[1 if result.called else 0]
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
        return result

    def check_accuracy(self, node) -> dict:
        """Train, evaluate on this run's half of the test set, compare with the
        threshold for this data set and half: full points at the threshold, none
        at threshold - band, linear between."""
        half = graded_half()
        threshold, band, dataset = threshold_for(self.exercise, self.mnist, half)
        graded = test_half(len(self.mnist.y_test), half)
        measured = {"threshold": threshold, "band": band, "dataset": dataset, "half": half, "test_images": len(graded), "seed": self.training.seed}
        node.user_properties.append(("measured", measured))
        try:
            declared, limit, reference = self.cost()
            measured["work"] = {"declared_flops": declared.total, "cap_flops": limit, "reference_flops": reference.total}
        except Feedback:
            pass  # an earlier check explains why there is nothing to count
        result = self.trained()
        accuracy = self.half_accuracy(result, graded)
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
        if summary is not None:  # what the feedback page plots (grader/figures.py)
            node.user_properties.append(("training", summary))
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
            points = self.exercise.checks[node.originalname.removeprefix("test_")]
            raise PartialCredit(
                fraction,
                f"Test accuracy {accuracy:.2%} on the {half} half after {result['epochs_run']} epochs ({result['seconds']:.0f} s): "
                f"{(threshold - accuracy) * 100:.2f} points below the bar ({round((threshold - accuracy) * len(graded))} test images), "
                f"which earns {fraction * points:.2f} of {points} points",
                f"at least {threshold:.2%} on {dataset}'s {half} half for full points (none at {threshold - band:.2%} or below)"
                + ("; mnist-full's bars are estimates, measured on the course's 22,699 images" if dataset == "mnist-full" else ""),
                called=shown,
                cause=self.diagnosis(info, result, settings) or "a model or settings a little weaker than the lesson's",
                hint="compare your layers and settings with the lesson's; the lesson states what its model reaches",
            )
        return result

    def half_accuracy(self, result: dict, graded: np.ndarray) -> float | None:
        """Accuracy over the graded half, from the trainer's prediction for every test image."""
        predictions = result.get("predictions")
        if result.get("status") != "ok" or not isinstance(predictions, list) or len(predictions) != len(self.mnist.y_test):
            return None
        return float((np.asarray(predictions)[graded] == self.mnist.y_test[graded]).mean())

    def diagnosis(self, info: dict, result: dict, settings: Settings) -> str:
        """The classic mistake that best explains a low accuracy, if one shows."""
        scale = info.get("first_weighted_input_max")
        if scale is not None and scale > SCALED_INPUT_MAX:
            return (
                f"inputs not scaled to [0, 1]: values up to {scale:.0f} reach the first layer; "
                "add layers.Rescaling(1/255) right after the Input"
            )
        history = result.get("history", {})
        if len(history.get("accuracy", [])) >= 2 and history["accuracy"][-1] < 0.5:
            return "the model barely learned (training accuracy below 50%): check the learning rate and the loss"
        train, val = history.get("accuracy", [None])[-1], history.get("val_accuracy", [None])[-1]
        if train is not None and val is not None and train - val > 0.02:
            remedy = "add Dropout or stop earlier" if self.exercise.lesson_number >= 3 else "train fewer epochs (lesson 3 adds Dropout and early stopping)"
            return f"overfitting: {train:.1%} on the training data but {val:.1%} on validation; {remedy}"
        if result["epochs_run"] <= 3:
            return f"only {result['epochs_run']} epochs: the model had little time to learn"
        return ""
