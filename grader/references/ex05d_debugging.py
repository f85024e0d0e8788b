"""ex05d's runs: the runs the checks hand a student's diagnose() and repair(), and what their repairs are held to.

No reference diagnose() or repair() lives here: the grader knows which mistake a run holds because it
planted it (mnist_course.debugging.plant), and it judges a repair by training the repaired run
(mnist_course.debugging.train, the run's own trainer) and measuring it on MNIST test digits, beside the
same run trained before its mistake was planted (its twin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_course.debugging import BUGS, CONVENTIONS, accuracy, mean_loss, plant, raw_run, scaled, train

# The held-out digits a trained run is measured on: drawn from the test set for each file, scaled as the variant's runs are.
TEST_IMAGES = 2000
# How near its twin a repaired run must come on those digits, calibrated with the reference over 100 draws of
# each kind and variant (benchmarks/DEBUGGING.md): a repaired run comes well within both (a shuffled repair of a
# sorted run, which batches the digits otherwise than its twin, falls furthest), and a run whose learning rate or
# order was left as it was exceeds its twin's loss by more than LOSS_MARGIN (its accuracy alone would not do: a
# rate far too high reads digits nearly as well as the twin while sure of every wrong answer). The margins decide
# those repairs only: pixels and labels have one right repair each, which the checks compare exactly (a signed
# run left unscaled falls only 0.28 of loss short of its twin).
ACCURACY_MARGIN = 0.06
LOSS_MARGIN = 0.4


@dataclass(eq=False)  # compared by identity: a run is the one drawn
class Run:
    """One run handed to the student: its mistake, the run itself, its raw pixels (0..255) and labels before the
    mistake (in the order drawn), and its twin's figures."""

    bug: str
    images: np.ndarray
    labels: np.ndarray
    settings: dict
    raw: np.ndarray
    own_labels: np.ndarray
    twin_accuracy: float
    twin_loss: float
    shown: str


def draw_runs(mnist, seed: int, kinds: tuple[str, ...], convention: str, held_out) -> list[Run]:
    """One run of each kind in `kinds`, its pixels scaled by `convention` (the variant's), drawn from MNIST's
    training digits with `seed` (each file's own), its twin measured on `held_out` (`held_out_digits`)."""
    runs = []
    for i, bug in enumerate(kinds):
        rng = np.random.default_rng([seed, 11, i])
        raw, labels, settings = raw_run(mnist.x_train, mnist.y_train, rng, convention)
        twin_accuracy, twin_loss = measured(scaled(raw, convention), labels, settings, held_out)
        images, labels_, settings_ = plant(bug, raw, labels, settings, rng, convention)
        runs.append(Run(bug, images, labels_, settings_, raw, labels, twin_accuracy, twin_loss, f"a run of {len(images):,} digits drawn for your file"))
    return runs


def held_out_digits(mnist, seed: int, convention: str) -> tuple[np.ndarray, np.ndarray]:
    """TEST_IMAGES of MNIST's test digits drawn with `seed`, scaled by `convention`: what every trained run of a
    file is measured on, its twins and its repairs alike."""
    pick = np.random.default_rng([seed, 12]).choice(len(mnist.x_test), min(TEST_IMAGES, len(mnist.x_test)), replace=False)
    return scaled(mnist.x_test[pick].reshape(len(pick), -1), convention), mnist.y_test[pick].astype(np.int64)


def measured(images, labels, settings, held_out) -> tuple[float, float]:
    """(accuracy, mean loss) on the `held_out` digits of the run trained by its own trainer."""
    weights, bias, _ = train(images, labels, settings)
    return accuracy(weights, bias, *held_out), mean_loss(weights, bias, *held_out)


# What each mistake changed, which its repair may change back (the rest of the run must come back as it was):
# the images (all of them, or their order), the labels, and the settings' keys.
TOUCHES = {
    "none": (False, False, ()),
    "unscaled_inputs": (True, False, ()),
    "shifted_labels": (False, True, ()),
    "learning_rate_too_high": (False, False, ("learning_rate",)),
    "learning_rate_too_low": (False, False, ("learning_rate",)),
    "sorted_without_shuffle": ("order", "order", ("shuffle",)),
}


def changed_beyond(run: Run, images, labels, settings) -> str | None:
    """What the repair changed that the run's mistake did not touch, said for a message (None where nothing)."""
    images_touched, labels_touched, keys = TOUCHES[run.bug]
    for key, value in run.settings.items():
        if key not in keys and not _same_setting(settings.get(key), value):
            return f"settings[{key!r}] became {settings.get(key)!r} (it was {value!r})"
    if images_touched == "order":  # the digits may be put in another order, each with its own label
        return None if _pairs(images, labels) == _pairs(run.images, run.labels) else "digits or labels changed, not only their order"
    if not images_touched and not np.allclose(images, run.images, rtol=1e-6, atol=1e-6):
        return "the images changed"
    if not labels_touched and not np.array_equal(labels, run.labels):
        return f"{int(np.sum(labels != run.labels)):,} labels changed"
    return None


def _same_setting(got, expected) -> bool:
    if isinstance(expected, bool):
        return isinstance(got, (bool, np.bool_)) and bool(got) == expected
    try:
        return float(got) == float(expected)
    except (TypeError, ValueError):
        return False


def _pairs(images, labels) -> list[bytes]:
    """Each digit with its label, as comparable bytes, in sorted order: the run as a set of pairs."""
    rows = np.round(np.asarray(images, np.float64), 5)
    return sorted(bytes([int(label)]) + row.tobytes() for row, label in zip(rows, np.asarray(labels)))


def rescaled_as(images, raw, convention: str) -> bool:
    """Whether `images` are the raw pixels `raw` scaled as `convention` scales them."""
    return images.shape == raw.shape and np.allclose(images, scaled(raw, convention), atol=1e-6)


def good_rates(convention: str) -> tuple[float, ...]:
    """The learning rates a healthy run of `convention` is drawn with."""
    return CONVENTIONS[convention][1]


__all__ = ["BUGS", "Run", "draw_runs", "held_out_digits", "measured", "changed_beyond", "rescaled_as", "good_rates", "ACCURACY_MARGIN", "LOSS_MARGIN"]
