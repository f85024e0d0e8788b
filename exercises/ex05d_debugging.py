# Exercise 05d · Debugging a training run: your work goes in this file.
# Grade it with `grader ex05d`; ask for a hint with `grader --hint ex05d`.
# (Generated from solutions/ex05d_debugging.py by `mnist-course build`: course maintainers
# edit the solution and regenerate, never this file.)

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
    # TODO: measure the run (its pixels, the order and meaning of its labels, its batch losses when trained) and name the one mistake of MISTAKES it holds, or none
    #       (lesson 6, "Debugging a training run")
    raise NotImplementedError("diagnose() is not started yet")


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
    # TODO: hand the run back with the mistake diagnose() finds undone, and nothing else changed
    #       (lesson 6, "Debugging a training run")
    raise NotImplementedError("repair() is not started yet")


def answers():
    """Your answers to this exercise's written questions: about YOUR results, in your own words.

    The grader does not score them. It hands them to your instructor, who grades them by hand
    (2 points in all), and shows them on your feedback page. Write between
    the triple quotes: a few sentences each, with the numbers from your own runs that you rely on.
    """
    return {
        # 1. Debug your own run (mnist_course.debugging.your_run(PIXELS)) as lesson 6 does: give the
        # numbers your checks measured on it (its largest pixel, whether its labels come in order, how
        # well the class means of one half read the other half, its first and last batch losses when
        # trained as its settings say), which of them shows its mistake and why, and what the repaired run
        # reads on held-out digits beside the broken one. (2 points)
        "your_run": """
        """,
    }
