"""Exercise 05d · Debugging a training run (lesson 6: Training recipes and ablations).

A run is what a training needs: images (float64, one row of 784 pixels per
digit), their labels (int64, 0..9) and a settings dict (learning_rate,
epochs, batch_size, shuffle). Its training is lesson 2's softmax regression
(logits = images @ W + b, the mean cross-entropy of each batch) trained by
mini-batch SGD exactly as the settings say: settings["epochs"] passes over
the images in batches of settings["batch_size"], in a new random order each
epoch when settings["shuffle"] is True and in the order given when it is
False, each batch moving W and b by settings["learning_rate"] times the
gradient. mnist_course.debugging.train is that training, for your notebook.
Some runs hold one mistake, and a run with a mistake trains without any
error: it only learns badly, or not at all.

You write two functions: diagnose(), which finds out by measuring which
mistake a run holds (lesson 6's 'Debugging a training run' shows the
checks), and repair(), which hands the run back with that mistake undone.
The grader draws fresh runs of every kind for your file, each from 4,000
MNIST digits with settings drawn among those that train well, plants one
mistake (or none), and calls your functions: a diagnosis must name the
mistake it planted, and a repaired run, trained by
mnist_course.debugging.train, must learn about as well as the run did before
its mistake was planted.

This file imports NumPy only: the grader runs it where the course's package
(mnist_course) cannot be imported, so where diagnose() trains part of a run,
it does so with a loop of its own (lesson 2's train_by_hand, in epochs).

Your variant: PIXELS below says how your runs scale their pixels. A
healthy run of yours holds its pixels so scaled, and a learning rate that
trains well on pixels of that spread (the wider the spread, the smaller a
good step). mnist_course.debugging.your_run(PIXELS), in the course's
notebook, gives you a run of your variant's with one mistake in it to
debug by hand first; the grader checks your functions on runs like it as
well as on every other kind.
"""

import numpy as np

# Your variant: `grader --variant ex05d` prints the one your student id draws
# (give the id once with `grader --student YOUR-ID`; in the course's notebook,
# the cell at the top prints it). Set PIXELS to it: the file starts with the
# first variant's, which the grader uses when it has no student id.
PIXELS = "unit"  # how your runs scale their pixels: "unit", "standardized" or "signed"

# The names diagnose() returns: "none" for a run without a mistake.
MISTAKES = ("none", "unscaled_inputs", "shifted_labels", "learning_rate_too_high", "learning_rate_too_low", "sorted_without_shuffle")


def diagnose(images, labels, settings):
    """Which of MISTAKES the run (images, labels, settings) holds, found by measuring it.

    A healthy run has its pixels scaled as PIXELS says ("unit": pixels /
    255, in [0, 1]; "standardized": (pixels / 255 - 0.1307) / 0.3081,
    MNIST's mean and standard deviation, as torchvision normalises them;
    "signed": pixels / 127.5 - 1, in [-1, 1]), each label with its own
    image, a learning rate at which softmax regression trains well on such
    pixels, and digits either stored in a random order or shuffled every
    epoch. At most one of these is broken:
    "unscaled_inputs": the pixels are as they were read, 0 to 255.
    "shifted_labels": every label has moved a few places (at most 5, the
    same number for every label, either way) along the run, so that it
    stands beside another digit's image.
    "learning_rate_too_high" / "learning_rate_too_low": the learning rate
    is far too large for this model, or far too small to learn anything in
    the run's epochs.
    "sorted_without_shuffle": the digits are stored class by class (all
    the 0s, then all the 1s...) and settings["shuffle"] is False.
    Return "none" when nothing is broken. Decide from measurements of the
    run itself (what its pixels hold, the order of its labels, whether its
    labels go with its images, how its batch losses move when you train
    it), never from which mistake you expect: the grader draws every kind,
    and healthy runs too.
    The inputs are not modified.
    """
    ### BEGIN SOLUTION
    images, labels = np.asarray(images, np.float64), np.asarray(labels)
    if images.max() > 3.0:  # MNIST's pixels are 0..255 until scaled; scaled, none of the three passes 3
        return "unscaled_inputs"
    if not settings["shuffle"] and np.mean(np.diff(labels) != 0) < 0.05:  # neighbours almost always one class
        return "sorted_without_shuffle"
    # Do the labels go with the images? Each class's mean image from one half reads the other half's
    # digits far above chance (lesson 2's mean digits read about 60%) only where they do.
    half = len(images) // 2
    means = np.stack([images[:half][labels[:half] == k].mean(axis=0) if np.any(labels[:half] == k) else np.zeros(images.shape[1])
                      for k in range(10)])
    nearest = ((means**2).sum(axis=1) - 2 * images[half:] @ means.T).argmin(axis=1)  # the squared distance, but for |x|^2
    if np.mean(nearest == labels[half:]) < 0.3:
        return "shifted_labels"
    # Train the run as its settings say and watch the batch losses leave ln 10, where every run starts
    weights, bias, losses = np.zeros((images.shape[1], 10)), np.zeros(10), []
    order_rng = np.random.default_rng(0)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(settings["epochs"])):
            order = order_rng.permutation(len(images)) if settings["shuffle"] else np.arange(len(images))
            for start in range(0, len(images), int(settings["batch_size"])):
                batch = order[start:start + int(settings["batch_size"])]
                logits = images[batch] @ weights + bias
                p = np.exp(logits - logits.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
                losses.append(-np.log(np.maximum(p[np.arange(len(batch)), labels[batch]], 1e-300)).mean())
                p[np.arange(len(batch)), labels[batch]] -= 1
                weights = weights - settings["learning_rate"] * images[batch].T @ p / len(batch)
                bias = bias - settings["learning_rate"] * p.mean(axis=0)
    if not np.all(np.isfinite(losses)) or max(losses) > 10 * np.log(10):  # steps that overshoot
        return "learning_rate_too_high"
    if np.mean(losses[-10:]) > 0.9 * np.log(10):  # steps too small to move it
        return "learning_rate_too_low"
    return "none"
    ### END SOLUTION


def repair(images, labels, settings):
    """The run with its mistake undone: (images, labels, settings), new arrays and a new dict.

    Undo only the mistake the run holds (a healthy run comes back as it
    was), so that the run's training learns from the repaired run about as
    well as from the run before its mistake: pixels scaled as PIXELS says
    (the digits it will be measured on are scaled that way), each label
    beside its own image, a learning rate at which the model trains well on
    such pixels (measure a few on digits the training did not see), and
    batches that mix the classes.
    The inputs are not modified.
    """
    ### BEGIN SOLUTION
    mistake = diagnose(images, labels, settings)
    images, labels, settings = np.array(images, np.float64), np.array(labels), dict(settings)
    if mistake == "unscaled_inputs":
        images = {"unit": images / 255.0, "standardized": (images / 255.0 - 0.1307) / 0.3081, "signed": images / 127.5 - 1.0}[PIXELS]
    elif mistake == "sorted_without_shuffle":
        settings["shuffle"] = True
    elif mistake in ("learning_rate_too_high", "learning_rate_too_low"):
        # a rate that trains well on pixels of this spread (measured on held-out digits: lesson 6's range test)
        settings["learning_rate"] = {"unit": 0.5, "standardized": 0.05, "signed": 0.02}[PIXELS]
    elif mistake == "shifted_labels":
        # By how much? Move the labels back by each distance: at the right one, each class's mean image
        # from one half reads the other half best.
        half = len(images) // 2

        def read(distance):
            moved = np.roll(labels, -distance)
            means = np.stack([images[:half][moved[:half] == k].mean(axis=0) for k in range(10)])
            return np.mean(((means**2).sum(axis=1) - 2 * images[half:] @ means.T).argmin(axis=1) == moved[half:])

        labels = np.roll(labels, -max(range(-5, 6), key=read))
    return images, labels, settings
    ### END SOLUTION
