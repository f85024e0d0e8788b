"""ex03b's checks of validation_accuracy(), and their messages."""

import numpy as np

from grader.checks.ex03b.common import (
    CHANCE_BAR, CHECKED_RUN, LEARNS_BAR, NARROW, NARROW_GAP, RERUN_TOLERANCE, VALIDATION_IMAGES, _accuracy, _data, _declared,
    _record_runs,
)
from grader.scoring import depends_on


def test_validation_accuracy_learns(student, mnist, declared, check):
    r, accuracy = _accuracy(student, mnist, *CHECKED_RUN)
    if accuracy < LEARNS_BAR:
        raise r.fail(
            f"It returned {accuracy:.3f}",
            f"at least {LEARNS_BAR:.2f}: a width-32 network trained as the docstring says reaches about 0.88",
            cause="a model that was not trained (fit() not called, or on other data), or not the docstring's recipe",
            hint="build, compile and fit the model exactly as the docstring lists, then measure it on x_val",
        )
    want = _declared(declared, CHECKED_RUN)
    _record_runs(check, [(*CHECKED_RUN, accuracy, want)])
    if abs(accuracy - want) > RERUN_TOLERANCE:
        raise r.fail(
            f"It returned {accuracy:.4f}; the docstring's model, trained by the grader on the same images with the same width and seed, "
            f"reaches {want:.4f}",
            f"the same number within {RERUN_TOLERANCE} ({RERUN_TOLERANCE * VALIDATION_IMAGES:.0f} of the {VALIDATION_IMAGES:,} "
            "validation images): every run of the experiment is a run of the declared model",
            cause="a model other than the docstring's (another layer, activation, optimizer, number of epochs or batch size), the seed "
            "set after the model is built, or an accuracy that does not come from training that model",
            hint="follow the docstring's recipe in its order: keras.utils.set_random_seed(seed) first, then build, compile and fit "
            "exactly that model, and measure it on x_val",
        )


@depends_on(test_validation_accuracy_learns, earns="measuring on the right data")
def test_validation_accuracy_on_validation_data(student, mnist):
    _, _, _, y_val = _data(student, mnist)
    shuffled = np.random.default_rng(3).permutation(y_val)
    r, accuracy = _accuracy(student, mnist, 32, 0, y_val=shuffled, shown="x_train, y_train, x_val, shuffled_y_val")
    if accuracy > CHANCE_BAR:
        raise r.fail(
            f"With the validation labels shuffled it still returned {accuracy:.3f}",
            f"about 0.1 (chance, at most {CHANCE_BAR}): against shuffled labels no model can do better",
            cause="the accuracy is measured on the training images (or labels) instead of x_val and y_val",
            hint="predict on x_val and compare with y_val; the training data only goes into fit()",
        )


@depends_on(test_validation_accuracy_learns, earns="the width")
def test_validation_accuracy_uses_width(student, mnist):
    _, wide = _accuracy(student, mnist, 32, 0)
    r, narrow = _accuracy(student, mnist, NARROW, 0)
    if narrow > wide - NARROW_GAP:
        raise r.fail(
            f"With width={NARROW} it returned {narrow:.3f}, against {wide:.3f} with width=32",
            f"clearly less (at least {NARROW_GAP:.2f} below): {NARROW} hidden units are far too few for ten digits",
            cause="the hidden layer's size is fixed in the code instead of taken from `width`",
            hint="give the hidden Dense layer `width` units; the experiment varies nothing else",
        )
