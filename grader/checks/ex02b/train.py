"""ex02b's checks of train(), and their messages: a task drawn for this submission alone, then MNIST's
accuracy on this run's half of the test set, with the pixels mixed by a rotation drawn for the grading
(`student.unseen_seed` and `student.pixel_mix`, set by grader/checks/ex02b_backprop.py).
"""

from __future__ import annotations

import math
import time

import numpy as np

from grader import variants
from grader.feedback import Feedback, NotGraded, NotStarted
from grader.scoring import below_the_bar, depends_on, earlier_check_failed, earned_fraction, what_it_said
from grader.training.accuracy import public_half_record, threshold_for
from grader.references import ex02b_backprop as ref  # the grader's forward pass, gradients, inputs and unseen task
from grader.training.by_hand import shared_call
from mnist_course.data import test_half as _half_indices  # not `test_half`: pytest would collect it
from grader.checks.ex02b.common import _MISMATCH_CAUSE, _hidden, _sgd, _table
from grader.checks.ex02b.gradients import test_gradients_finite_differences
from grader.checks.ex02b.init_params import _params
from grader.checks.ex02b.sgd_settings import _settings
from grader.checks.ex02b.replay import _gradients_agree, _reached_by_its_own_steps, _replays_the_steps


UNSEEN_SETTINGS = ("n_hidden", "epochs", "batch_size", "learning_rate")
UNCHANGED = ("it returned the parameters it started from, unchanged: no step reached them (in `for W, dW in zip(params, grads): "
             "W = W - learning_rate * dW` the assignment rebinds the loop's name only; update in place with -=, or build a new list)")


def starts_before_training(student, seed: int, n_hidden: int) -> None:
    """Ask init_params(seed, 784, n_hidden, 10) before train() runs: the answer is kept for the grading (Student.call),
    so the replays of train() start from what init_params gave before any training, never from what a module that
    keeps state hands back after it (an adversarial review, 25/25: train() trained 20 epochs at 0.1 while declaring
    one at 1e-9, and init_params then returned the trained weights, so the replay started where train() ended).
    Whether the answer is usable is said where it is used."""
    student.call("init_params", seed=seed, n_in=784, n_hidden=n_hidden, n_out=10)


def _learns_unseen_task(student, cache) -> dict:
    """train() on the submission's unseen task, with the grader's settings; what it
    learned, or a Feedback saying why it learned too little. `cache`: the run's
    cache folder, where an identical file's training is kept (training/by_hand.py)."""
    spec = _table(student.exercise, "unseen_task")
    seed = student.train_seed  # not the task's: the task cannot be rebuilt from what train() is handed
    settings = {k: spec[k] for k in UNSEEN_SETTINGS}
    x, y, x_held, y_held = ref.unseen_task(student.unseen_seed, spec)
    h = settings["n_hidden"]
    shapes = ((784, h), (h,), (h, 10), (10,))
    starts_before_training(student, seed, h)
    r, _ = shared_call(
        student, cache, "train", x, y,
        shown=f"x, y ({len(x):,} images of a task drawn for this submission from its file's hash: 784 pixels in [0, 1], "
        "10 classes, each image a noisy copy of one of three random patterns of its class)",
        expect=f"(W1, b1, W2, b2) of shapes (784, {h}), ({h},), ({h}, 10), (10,), trained on x and y",
        seed=seed, **settings,
    )
    params = [p.astype(np.float64) for p in _params(r, shapes, what="trained parameters")]
    with np.errstate(all="ignore"):
        finite = all(bool(np.isfinite(p).all()) for p in params)
        end = ref.loss(x, y, *params, hidden=student.hidden) if finite else math.nan
        logits = ref.logits(x_held, params, student.hidden)
        accuracy = _right_share(logits, y_held) if finite else 0.0
    first, no_start = None, None
    start = math.log(10)
    try:
        first = [p.astype(np.float64) for p in _params(student.call("init_params", seed=seed, n_in=784, n_hidden=h, n_out=10), shapes)]
        with np.errstate(all="ignore"):
            start = ref.loss(x, y, *first, hidden=student.hidden)
    except NotGraded:
        raise
    except Feedback as why:
        no_start = why
    measured = {"seed": seed, "held_out_accuracy": accuracy, "loss_before": start, "loss_after": end}
    bar = spec["bar"]
    if accuracy >= bar and end < start:
        _replays_the_steps(student, r, params, x, y, settings, seed, first, no_start)
        return measured
    fell = f"the training loss on x went from {start:.3f} (init_params(seed={seed}, 784, {h}, 10)) to {end:.4g}"
    if first is not None and all(np.array_equal(p, q) for p, q in zip(params, first)):
        cause = UNCHANGED
    elif not finite or not math.isfinite(end):
        cause = (f"the training diverged ({fell}) at a learning rate of {settings['learning_rate']:g}, which a correct loop takes "
                 "in its stride here: steps far too long, as gradients N times too large make them")
    elif h > 1 and np.allclose(params[0], params[0][:, :1]):
        cause = "every hidden unit has the same weights after training: they started alike (a zero or constant initialisation)"
    elif end >= start:
        cause = (f"the parameters it returned were not learned from this x and y: {fell}. Weights prepared in advance, "
                 "loaded from a file or trained on other data know nothing of a task drawn afresh for each submission")
    elif not _gradients_agree(student):
        cause = f"{fell}, but your gradients() disagrees with the grader's finite differences (gradients_finite_differences says where)"
    else:
        cause = f"{fell}, too little: check that every parameter is updated after every batch, against its gradient"
    raise r.fail(
        f"the parameters it returned classify {accuracy:.1%} of the task's {len(y_held):,} held-out images right (chance is 10%)",
        f"at least {bar:.0%} of them right, and a training loss that falls: a loop that steps against the gradient on the "
        "batches of the x and y it is given gets nearly all of them right here",
        cause=cause,
        hint="train() is graded on what it learns from its arguments: use x, y, n_hidden, epochs, batch_size, learning_rate "
        "and seed, and nothing else. Try it on a small task of your own, printing the loss every epoch (lesson 2, "
        "'A training loop of your own')",
    )


def test_train_learns_unseen_task(student, settings):
    _learns_unseen_task(student, settings.training_cache)


def _credited_only_if_trained(student, cache, called: str, accuracy: float, half: str) -> None:
    """The MNIST accuracy counts only for a train() that learned its unseen task:
    weights prepared elsewhere would score on MNIST without any training of its own."""
    try:
        _learns_unseen_task(student, cache)
    except (NotStarted, NotGraded):
        raise
    except Feedback:
        raise Feedback(
            f"Test accuracy {accuracy:.2%} on the {half} half, which counts only for a train() that learned the task the grader "
            "drew for this submission, and yours did not (train_learns_unseen_task)",
            "parameters that train() learned from the data it was given: on MNIST, and on a task it could not know in advance",
            called=called,
            cause="train() returns parameters that do not come from its own training on its arguments: weights trained "
            "elsewhere (with Keras, or another program) score on MNIST but learn nothing of a task drawn afresh for each submission",
            hint="make train() train: start from init_params(seed, ...) and step every parameter against gradients() on batches "
            "of the x and y it is given; train_learns_unseen_task's message says what came back",
        ) from None


# A loop can reach the bar on gradients that are not the loss's (an ELU's slope taken as ReLU's trains
# nearly as well), so the same mistake would cost one variant these points and not another: they are
# for a training with the student's own, correct backpropagation (an adversarial review, variant elu).
@depends_on(test_gradients_finite_differences, earns="the accuracy its training reaches (the points are for a training with your own, correct gradients)")
def test_train_test_accuracy(student, mnist, settings, check):
    exercise = student.exercise
    sgd = _sgd(exercise)
    half, cache = settings.half, settings.training_cache
    threshold, band, dataset = threshold_for(exercise, mnist, half, student.variant)
    graded = _half_indices(len(mnist.y_test), half)
    measured = {"threshold": threshold, "band": band, "dataset": dataset, "half": half, "test_images": len(graded), "seed": sgd["seed"]}
    check.record("measured", measured)
    try:
        settings, (declared, cap, ref_work) = _settings(student, mnist)
    except Feedback as problem:
        if problem.status == "not started":
            raise
        raise earlier_check_failed(
            "The grader did not train the network, because sgd_settings() is not accepted",
            "settings that pass sgd_settings_within_budget",
            what_it_said(problem),
        ) from None
    measured["work"] = {"declared_flops": declared, "cap_flops": cap, "reference_flops": ref_work}
    n = len(mnist.x_train)
    mix = student.pixel_mix  # the same for the training and the test images: a dense network learns them as the pixels
    x = (mnist.x_train.reshape(n, -1).astype(np.float64) / 255) @ mix
    y = mnist.y_train.astype(np.int64)
    shown_settings = ", ".join(f"{k}={v!r}" for k, v in settings.items())
    starts_before_training(student, sgd["seed"], settings["n_hidden"])
    started = time.perf_counter()
    r, shared = shared_call(  # an identical file's training, kept by an earlier grading, is read, not run again
        student, cache, "train", x, y,
        shown=f"x_train ({n:,} training images, float64, shape ({n}, 784), each image's pixels in [0, 1] mixed by a rotation drawn "
        f"for this grading), y_train, {shown_settings}, seed={sgd['seed']}",
        expect=f"(W1, b1, W2, b2) of shapes (784, {settings['n_hidden']}), ({settings['n_hidden']},), ({settings['n_hidden']}, 10), (10,)",
        seed=sgd["seed"], **settings,
    )
    h = settings["n_hidden"]
    W1, b1, W2, b2 = params = _params(r, ((784, h), (h,), (h, 10), (10,)), what="trained parameters")
    seconds = shared.seconds if shared.reused else time.perf_counter() - started  # a reused training: the seconds it took
    measured.update({"epochs_run": settings["epochs"], "training_seconds": round(seconds, 1), "training_reused": shared.reused})
    pixels = mnist.x_test.reshape(len(mnist.x_test), -1).astype(np.float64) / 255
    x_test = pixels @ mix
    params = [p.astype(np.float64) for p in params]
    with np.errstate(all="ignore"):
        logits = ref.logits(x_test, params, student.hidden)
        finite = bool(np.isfinite(logits[graded]).all())
        accuracy = _right_share(logits[graded], mnist.y_test[graded])
    measured.update({"test_accuracy": accuracy, "margin": round(accuracy - threshold, 6)})
    called = (f"train(...) with your settings ({shown_settings}, seed={sgd['seed']}) on {dataset}'s {n:,} training images, "
              f"their pixels mixed by a rotation drawn for this grading; the grader measured the parameters it returned on the {half} "
              f"half of the test set ({len(graded):,} images, their pixels mixed alike)")
    points = exercise.checks["train_test_accuracy"]
    fraction = earned_fraction(accuracy, threshold, band)
    if half == "private":  # what a release date shows until then (grader/classroom/release.py), as the Keras checks record it
        measured["public_half"] = _public_half(exercise, student.variant, mnist, logits)
    if fraction > 0 or measured.get("public_half", {}).get("fraction", 0) > 0:
        try:
            _credited_only_if_trained(student, cache, called, accuracy, half)
            _reached_by_its_own_steps(student, cache, x, y, (W1, b1, W2, b2), settings, sgd["seed"], called, accuracy, half, measured,
                                      x_test[graded])
        except (NotStarted, NotGraded):
            raise  # never a verdict of this check's: said as such, whichever half
        except Feedback as why:
            if "public_half" in measured:  # the public half's view earns nothing either, and says why
                measured["public_half"].update(fraction=0.0, not_credited=getattr(why, "not_credited", "train_learns_unseen_task"))
            if fraction > 0:
                raise
    if accuracy >= threshold:
        return
    with np.errstate(all="ignore"):  # what the drawn rotation took away, in the report
        usual = measured["test_accuracy_on_plain_pixels"] = _right_share(ref.logits(pixels[graded], params, student.hidden), mnist.y_test[graded])
    raise below_the_bar(
        accuracy, threshold, band, dataset=dataset, half=half, test_images=len(graded), points=points,
        called=called,
        cause=_prepared_in_advance(usual, accuracy, threshold)
        or _another_variants_network(student, x_test[graded], mnist.y_test[graded], params, accuracy, threshold)
        or _train_diagnosis(student, x, y, params, settings, sgd["seed"], finite),
        hint="print the training loss after every epoch in your notebook: it should fall steadily from about 2.3 (lesson 2, 'A training loop of your own')",
    )


def _right_share(logits, y) -> float:
    """The share of rows whose largest logit is the label's; 0 where any logit is not finite."""
    return float((logits.argmax(axis=1) == y).mean()) if np.isfinite(logits).all() else 0.0


def _prepared_in_advance(usual: float, accuracy: float, threshold: float) -> str | None:
    """Why parameters that score `accuracy` on this grading's rotation of the pixels and `usual` on
    the same test images' plain pixels were not trained on what train() was given (None when that
    is not so)."""
    if usual < threshold or usual - accuracy < 0.25:
        return None
    return (f"the parameters train() returned classify {usual:.1%} of these test images right as plain pixels, and "
            f"{accuracy:.1%} mixed by the rotation this grading drew, which is how its training images were given: they were not "
            "learned from the x train() was given, but prepared beforehand on MNIST's plain pixels (trained elsewhere, "
            "or loaded from a file). A dense network's first layer takes any rotation of its input in, so your own loop learns "
            "the rotated images as well as the plain ones")


def _another_variants_network(student, x, y, params, accuracy: float, threshold: float) -> str | None:
    """Why parameters that score `accuracy` through this variant's activation were trained for another
    variant's (None when no other activation reads them above the bar): a classmate's file, whose loop
    trained its own network."""
    if student.variant is None:
        return None
    with np.errstate(all="ignore"):
        scores = [(v, _right_share(ref.logits(x, params, _hidden(v)), y)) for v in variants.others(student.exercise, student.variant)]
    theirs = [(v, score) for v, score in scores if score >= threshold and score - accuracy >= 0.02]
    if not theirs:
        return None
    named = " or ".join(f"{score:.1%} through variant {v.key!r}'s ({v.says})" for v, score in theirs)
    return (f"the parameters train() returned score {accuracy:.1%} through your variant's hidden activation and {named}: your loop "
            f"trained another variant's network, not yours ({student.variant.says}); the cause: {_MISMATCH_CAUSE}")


def _public_half(exercise, variant, mnist, logits) -> dict:
    """The same parameters measured on the public half of the test set (the images students tune
    against), as accuracy.public_half_record keeps it for every exercise."""
    public = _half_indices(len(mnist.y_test), "public")
    accuracy = _right_share(logits[public], mnist.y_test[public])
    return public_half_record(exercise, mnist, accuracy, variant)


def _train_diagnosis(student, x, y, params, settings, seed, finite) -> str:
    """Why a trained network scores low: divergence, symmetry, or too little training."""
    h = settings["n_hidden"]
    sample = slice(0, 4096)  # the training loss, measured by the grader on the first 4,096 training images
    with np.errstate(all="ignore"):
        end = ref.loss(x[sample], y[sample], *params, hidden=student.hidden) if finite and all(np.isfinite(p).all() for p in params) else math.nan
    start = math.log(10)
    first = None
    try:
        first = [p.astype(np.float64) for p in _params(student.call("init_params", seed=seed, n_in=784, n_hidden=h, n_out=10), ((784, h), (h,), (h, 10), (10,)))]
        with np.errstate(all="ignore"):
            start = ref.loss(x[sample], y[sample], *first, hidden=student.hidden)
    except NotGraded:
        raise
    except Feedback:
        pass
    lr = settings["learning_rate"]
    if first is not None and all(np.array_equal(p, q) for p, q in zip(params, first)):
        return UNCHANGED
    if not math.isfinite(end) or end >= start:
        return (
            f"the training diverged: the training loss went from {start:.3f} before training to {end:.4g} after it. "
            f"A learning rate too large ({lr:g} here) makes every step overshoot the valley it aims at, and the loss climbs or overflows "
            "to nan (lesson 2's learning-rate runs: with 100 the loss jumped above where it started); "
            "a smaller learning rate, or gradients that are not N times too large, fix it"
        )
    W1 = params[0]
    if W1.shape[1] > 1 and np.allclose(W1, W1[:, :1]):
        return "every hidden unit has the same weights after training: they started alike (a zero or constant initialisation) and got identical gradients ever since"
    fell = f"the training loss fell from {start:.3f} to {end:.3f}"  # its gradients agree: the check depends on gradients_finite_differences
    h = ref.hidden_output(x[sample], params, student.hidden)
    train_accuracy = float(((h @ params[2] + params[3]).argmax(axis=1) == y[sample]).mean())
    fell += f" ({train_accuracy:.1%} of the training images right)"
    if start > 2 * math.log(10):
        return (f"{fell}; a start far above ln 10 = 2.30 means the initial weights were far too large (init_params_scale says more): "
                "the network learns its training images but generalises worse")
    dead = float((h.max(axis=0) == 0).mean()) if student.hidden == "relu" else 0.0  # only a ReLU's units can die: its slope is 0 below 0
    if dead > 0.5:
        return (f"{fell}, but {dead:.0%} of the hidden units are dead (inactive on every training image): steps too large knocked "
                "their sums below 0 for good, a learning rate too large (lesson 2's learning-rate runs)")
    if train_accuracy < 0.5:
        return f"{fell}: the network barely learned; check the update's sign, that every parameter is updated, and the learning rate"
    return f"{fell}: it learned, but not enough: more epochs, a better learning rate or a wider hidden layer, within the work cap"
