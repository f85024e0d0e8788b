"""The checks every model exercise shares (lessons 2, 3 and 5), and the path from a student's model to points.

A check module gets one `ModelSubmission` per module (the `submission`
fixture, grader/plugin.py) and asks it for what it needs. A model's way to a
score, each step memoised and each a method named for it:

1. `model()`: what `build_model()` returned, as the `.keras` file's
   configuration, vetted (grader/training/vetting.py); `settings()`: what
   `training_settings()` returned, validated (grader/training/declared_settings.py).
2. `inspected()`: what the grader's trainer found when it built that model
   under the exercise's seed (grader/training/trainer.py); the shared checks
   (`check_input`, `check_output`, `check_loss`, ...) judge it.
3. `cost()` and `check_within_budget()`: the declared training's work against
   the exercise's cap, counted before anything trains (mnist_course/budget.py).
4. `trained()`: the grader's training, once every check before it passed.
5. `check_accuracy()`: the accuracy on this run's half of the test set, and the
   points it earns, with the messages and the diagnosis of
   grader/training/accuracy.py.

Each step raises the Feedback that explains why it cannot go on, so a check
whose prerequisite fails says which one and why, and an untouched stub reads
"not started".
"""

from __future__ import annotations

from typing import Any

from mnist_course.data import test_half

from mnist_course.budget import BACKWARD_FACTOR, flops
from mnist_course.constraints import constrains
from ..feedback import Feedback, NotGraded, NotStarted
from ..isolation.safe_files import clean_text
from .. import scoring
from ..scoring import CheckRun
from ..settings import RunSettings
from ..isolation.student import Student
from .accuracy import below_the_bar, diagnosis, half_accuracy, kept_epoch, public_half, threshold_for, training_failure, training_summary
from .declaration import Declaration, NoChannelAxis, declared_input, shape_text
from .declared_settings import Settings
from .trainer import PROBE_IMAGES, trainer_for


class _ChannelAxisExplained(Feedback):
    """build_model_accepts_images's full explanation of the missing channel axis."""


# What a dense network has none of (check_hidden_dense), as a part of a layer's class name: convolution and
# pooling are the only layers sharing weights across the image that the trainer admits (vetting.MODELLED_LAYERS).
NOT_DENSE = ("Conv", "Pooling")

# Plain SGD (check_plain_sgd): keras.optimizers.SGD's settings that change its steps, at the values that do not.
# A setting the trainer could not read as a plain value (_trainer.NOT_PLAIN) equals none of them.
PLAIN_SGD = {"momentum": 0.0, "nesterov": False, "use_ema": False, "clipnorm": None, "clipvalue": None,
             "global_clipnorm": None, "gradient_accumulation_steps": None, "loss_scale_factor": None}
REQUIRED_SGD_SETTINGS = ("momentum", "nesterov", "use_ema", "learning_rate")  # every Keras 3 SGD has these


def _same_setting(value, plain) -> bool:
    """Whether an optimizer's setting is exactly the plain value: a number equal to it (never a flag for a
    number), False itself for a flag, None for an option left out."""
    if plain is None or isinstance(plain, bool):
        return value is plain
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == plain


class ModelSubmission(Declaration):
    """One student's model exercise, checked step by step: the shared checks,
    the grader's training once they pass, and the accuracy check. Reading the
    declaration is `Declaration`'s (grader/training/declaration.py)."""

    def __init__(self, student: Student, mnist, settings: RunSettings, build_kwargs: dict[str, Any] | None = None, progress=None):
        super().__init__(student, mnist, settings, build_kwargs)
        self.progress = progress

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
        except NoChannelAxis as missing:
            raise _ChannelAxisExplained(
                "It raised ValueError: Keras could not build the Conv2D layers on inputs of shape (None, 28, 28), "
                "which have no channel axis (its words: 'expected min_ndim=4, found ndim=3')",
                f"a model whose input shape is {shape_text(expected)}: a batch of raw MNIST images with their one channel",
                called=missing.called,
                **explain,
            ) from None
        if self._missing_channel_axis(config):
            raise call.fail(
                f"got a model whose input shape is {shape_text(declared_input(config))}: no channel axis",
                f"input shape {shape_text(expected)}: a batch of raw MNIST images with their one channel",
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
                f"got a model whose input shape is {shape_text(got) if got else 'not a single input'}",
                f"input shape {shape_text(expected)}: a batch of raw MNIST images",
                cause=cause,
                hint=f"start the model with keras.Input(shape={tuple(self.training.input_shape)})",
            )

    def check_output(self) -> None:
        call, info = self.inspected()
        got = info["output_shape"]
        if got != [None, 10]:
            units = f" (an output layer with {got[-1]} unit{'s' * (got[-1] != 1)})" if got and got[-1] != 10 else ""
            raise call.fail(
                f"got a model whose output shape is {shape_text(got) if got else 'not a single output'}{units}",
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
            # Where variants have budgets of their own (ex03, ex05's `budget`), the student's is named.
            varies = any(v.training is not None and v.training.max_params != self.exercise.training.max_params
                         for v in self.exercise.variants)
            named = varies and self.variant is not None
            convolutional = len(self.training.input_shape) == 3
            raise call.fail(
                f"got a model with {info['params']:,} parameters",
                f"at most {self.training.max_params:,}" + (f" (your variant, {self.variant.key}: {self.variant.says})" if named else ""),
                cause="layers wider than this exercise needs" if not named else
                "layers wider than your variant's budget allows: a lesson's model as it stands, or a model made for another "
                "budget; within yours, where each layer's parameters go decides",
                hint="model.summary() shows where the parameters are; a Dense layer has inputs × units + units"
                + (", a Conv2D layer kernel height × width × input channels × filters + filters" if convolutional else
                   ", so the first hidden layer holds 784 weights per unit"),
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
        """A dense network, with at least `minimum` hidden Dense layers: no convolution or pooling layer, and every
        Dense layer on the flattened image (a Dense layer on each row or patch shares its weights across positions,
        which is a convolution under another name)."""
        call, info = self.inspected()
        classes = [layer["class"] for layer in info["layers"]]
        not_dense = sorted({c for c in classes if any(kind in c for kind in NOT_DENSE)})
        if not_dense:
            raise call.fail(
                f"got a model with {', '.join(not_dense)} (its layers: {', '.join(classes)})",
                "a dense network: Flatten, then Dense layers (with Dropout, activations and normalisation between them)",
                cause="a convolutional model where this exercise asks for a dense network: its bar and its "
                "budget are set for the decisions a dense network leaves you",
                hint=f"build on lesson {self.exercise.lesson_number}'s dense network (Rescaling, Flatten, then Dense layers); "
                "convolutions are lesson 5's, and exercise 5 asks for them",
            )
        dense = [layer for layer in info["layers"] if layer["class"] == "Dense"]
        per_position = [layer for layer in dense if layer.get("input_rank") != 2]  # unread: refused, never assumed flat
        if per_position:
            raise call.fail(
                f"got {len(per_position)} Dense layer(s) applied to each row or patch of the image rather than to the flattened "
                f"image (their input has {per_position[0].get('input_rank', 'an unreadable number of')} axes, batch included)",
                "every Dense layer on a flat vector of features: input shape (None, features)",
                cause="a Dense layer before Flatten, or after a Reshape or Permute: the same weights then slide over the image's "
                "positions, as a convolution's do, and this exercise asks for a dense network",
                hint="put Flatten before the first Dense layer and keep the features flat after it (no Reshape or Permute)",
            )
        hidden = len(dense) - 1  # the last Dense layer is the output
        if hidden < minimum:
            widths = " and ".join(str(layer.get("units")) for layer in dense[:-1]) or "none"
            raise call.fail(
                f"got {max(hidden, 0)} hidden Dense layer(s) (widths: {widths})",
                f"at least {minimum} hidden Dense layer{'s' * (minimum > 1)} before the output layer",
                cause="the model of lesson 2, with one hidden layer, where this exercise asks for a deeper one" if minimum > 1 else
                "lesson 2's softmax regression by hand, with no hidden layer: one weighted sum per digit, which draws only "
                "straight boundaries between them",
                hint="stack a second hidden Dense layer, with activation='relu', before the output layer, as lesson 3's deeper network does"
                if minimum > 1 else "put a hidden Dense layer with activation='relu' before the output layer, as lesson 2's 'Building the model' does",
            )

    def check_plain_sgd(self) -> None:
        """Compiled with plain stochastic gradient descent: keras.optimizers.SGD at one constant learning rate, with
        no momentum, no Nesterov step, no clipping or accumulation of gradients and no averaging of the weights.
        Adam and its kin choose each weight's step size themselves, and the others reshape SGD's steps; plain SGD
        leaves the learning rate, and the batch size that goes with it, to the student."""
        call, info = self.compiled()
        settings, name = info.get("optimizer_settings") or {}, info.get("optimizer")  # none read: each setting missing
        if name == "SGD":
            changed = [f"{key}={settings[key]}" for key, plain in PLAIN_SGD.items()
                       if key in settings and not _same_setting(settings[key], plain)]
            changed += [f"no {key}" for key in REQUIRED_SGD_SETTINGS if key not in settings]
            rate = settings.get("learning_rate")
            if not isinstance(rate, (int, float)) or isinstance(rate, bool):
                changed.append("a learning-rate schedule")
            if not changed:
                return
            cause = ("SGD with " + " and ".join(changed) + ", which changes the steps plain SGD takes (momentum carries each step "
                     "into the next, clipping or accumulating gradients reshapes them, averaging replaces the weights, a schedule "
                     "chooses the step size over time)")
        else:
            changed = []
            cause = f"{name}, which chooses each weight's step size itself (lesson 2's model compiles with Adam)"
        raise call.fail(
            f"got a model compiled with {name}" + (f" ({', '.join(changed)})" if changed else ""),
            "plain SGD: keras.optimizers.SGD(learning_rate=...) at one constant rate, with momentum 0 and no other option "
            "(no Nesterov step, clipping, gradient accumulation or weight averaging)",
            cause=cause + ", where this exercise asks you to choose the one step size plain SGD takes",
            hint="compile with optimizer=keras.optimizers.SGD(learning_rate=...): lesson 2's 'How a network learns' shows what "
            "the learning rate does to a training; compare a few rates, and the batch sizes that go with them, on your own "
            "validation split before the grader sees them (ReduceLROnPlateau in training_settings() may still lower the rate)",
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
        # Each hidden Dense layer reaches a Dropout before the next Dense layer (layers in the model's order): a
        # count alone would take two Dropout layers on the input pixels for one after each hidden layer.
        layers = info["layers"]
        dense_at = [i for i, layer in enumerate(layers) if layer["class"] == "Dense"]
        bare = [layers[i].get("units") for i, following in zip(dense_at, dense_at[1:])
                if not any(layer["class"] == "Dropout" for layer in layers[i + 1:following])]
        if bare:
            raise call.fail(
                f"got hidden Dense layer(s) of {' and '.join(str(units) for units in bare)} units with no Dropout between them "
                f"and the next Dense layer (the model's layers: {', '.join(layer['class'] for layer in layers)})",
                "a Dropout layer after each hidden Dense layer",
                cause="Dropout after some hidden layers only, or on the input pixels: those hidden layers are never regularised",
                hint="follow every hidden Dense layer with its own layers.Dropout(dropout_rate), as lesson 3's dense_net does in its loop",
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
            reason = scoring.what_it_said(result)
            if isinstance(result, _ChannelAxisExplained):  # said in full once, by the input check
                reason = "the model's input has no channel axis, as build_model_accepts_images explains"
            raise scoring.earlier_check_failed(
                "The grader did not train the model, because of an earlier check", "a model that passes the checks before training", reason
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

    def check_accuracy(self, check: CheckRun) -> dict:
        """Train, evaluate on this run's half of the test set, compare with the
        threshold for this data set and half: full points at the threshold, none
        at threshold - band, linear between (scoring.earned_fraction, with the
        bar and band of training/accuracy.threshold_for). What
        was measured goes to `check` (the `check` fixture's), which also knows
        the check's points."""
        half = self.run_settings.half
        threshold, band, dataset = threshold_for(self.exercise, self.mnist, half, self.variant)
        graded = test_half(len(self.mnist.y_test), half)
        measured = {"threshold": threshold, "band": band, "dataset": dataset, "half": half, "test_images": len(graded), "seed": self.training.seed}
        check.record("measured", measured)
        try:
            declared, limit, reference = self.cost()
            measured["work"] = {"declared_flops": declared.total, "cap_flops": limit, "reference_flops": reference.total}
        except Feedback:
            pass  # an earlier check explains why there is nothing to count
        result = self.trained()
        accuracy = half_accuracy(result, self.mnist.y_test, graded)
        if half == "private" and accuracy is not None:
            measured["public_half"] = public_half(self.exercise, self.mnist, result, self.variant)
        measured.update(
            {
                "test_accuracy": accuracy,
                "margin": round(accuracy - threshold, 6) if accuracy is not None else None,
                "epochs_run": result.get("epochs_run"),
                "kept_epoch": kept_epoch(result),
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
        train_images, shift = (self.variant.params.get(k) if self.variant else None for k in ("train_images", "test_shift"))
        shown = (
            f"the grader's training ({settings.epochs} epochs at batch size {settings.batch_size}, seed {self.training.seed}) on {dataset}"
            + (f"'s first {train_images:,} training images" if train_images else "")
            + f", measured on the {half} half of its test set ({len(graded):,} images"
            + (f", each moved by up to {shift} pixels)" if shift else ")")
            + (f", as your variant asks ({self.variant.key})" if constrains(self.variant) else "")
        )
        failure = training_failure(result, shown)
        if failure is not None:
            raise failure
        if accuracy is None:  # a finished training always predicts every test image
            raise NotGraded("the trainer returned no prediction for the test images")
        if accuracy < threshold:
            _, info = self.inspected()
            raise below_the_bar(
                accuracy, measured, result, check.points,
                called=shown, cause=diagnosis(self.exercise, info, result, threshold, self.variant, accuracy),
                lesson=self.exercise.lesson_number,
            )
        return result
