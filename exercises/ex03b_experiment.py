# Exercise 03b · An experiment with a decision: your work goes in this file.
# Grade it with `grader ex03b`; ask for a hint with `grader --hint ex03b`.
# (Generated from solutions/ex03b_experiment.py by `mnist-course build`: course maintainers
# edit the solution and regenerate, never this file.)

"""Exercise 03b · An experiment with a decision (lesson 3: "Underfitting and capacity").

How wide should the hidden layer be? You answer it the way lesson 3 does: a
small sweep of widths, each trained with several seeds, judged on a
validation split only, and a rule for the decision fixed before looking at
the results. The grader hands in a training subset and a validation split
(never the test set), both drawn for your file. It trains the model that
validation_accuracy()'s docstring declares itself, for your width-32 run and
for a cell of each width of your table, and expects your numbers; it checks
that your choice follows from your own table by your variant's rule (RULE,
below). Your one-line reason is not graded: it is shown to your instructor. Last,
you measure how much your decision rests on single runs, on the grader's
tables.
"""

import itertools

import keras
import numpy as np
from keras import layers

# Your variant: `grader --variant ex03b` prints the one your student id draws
# (give the id once with `grader --student YOUR-ID`; in the course's notebook,
# the cell at the top prints it). Set RULE to it: the file starts with the
# first variant's, which the grader uses when it has no student id.
RULE = "one_sd"  # choose_width's floor below the best mean: "one_sd", "one_se" or "worst_seed"


def validation_accuracy(x_train, y_train, x_val, y_val, width, seed):
    """Train one small dense network and return its accuracy on the validation split.

    x_train, x_val: uint8 arrays of raw MNIST images, shape (N, 28, 28),
    pixel values 0..255; y_train, y_val: their integer labels 0..9.
    width: the number of units of the one hidden layer; seed: an int.
    First call keras.utils.set_random_seed(seed), so the same call gives the
    same number again. Then build this model and nothing else:
    keras.Input(shape=(28, 28)), layers.Rescaling(1 / 255), layers.Flatten(),
    layers.Dense(width, activation="relu"), layers.Dense(10,
    activation="softmax"); compile it with optimizer="adam",
    loss="sparse_categorical_crossentropy" and metrics=["accuracy"]; train it
    on (x_train, y_train) alone with epochs=2 and batch_size=32.
    Returns the fraction of the validation images (x_val, never the training
    images) whose most probable class equals y_val, as a Python float in
    [0, 1].
    """
    # TODO: seed, build, train and measure the docstring's model; return its accuracy on the validation split
    #       (lesson 3, "Underfitting and capacity")
    raise NotImplementedError("validation_accuracy() is not started yet")


def run_sweep(x_train, y_train, x_val, y_val, widths, seeds):
    """The experiment's table: every width trained with every seed.

    x_train, y_train, x_val, y_val: as for validation_accuracy().
    widths: a list of ints; seeds: a list of ints (3 or more).
    Returns a float64 array `table` of shape (len(widths), len(seeds)):
    table[i, j] is exactly what validation_accuracy(x_train, y_train, x_val,
    y_val, widths[i], seeds[j]) returns.
    """
    # TODO: fill the (widths x seeds) table of validation accuracies, one run of validation_accuracy() per cell
    #       (lesson 3, "The width sweep")
    raise NotImplementedError("run_sweep() is not started yet")


def choose_width(widths, table):
    """Decide the width from the table, by a rule fixed before the sweep ran.

    widths: a list or 1-D array of ints; table: a float array of shape (len(widths),
    number of seeds k, at least 2), as run_sweep() returns.
    The rule: take each width's mean over its seeds and find the best mean
    (the narrowest width among equal best means). Below it lies a floor, set
    by your variant's RULE from the best width's own k results:

        "one_sd"      the best mean minus their sample standard deviation
                      (the one that divides by k - 1)
        "one_se"      the best mean minus the standard error of the best
                      mean: that sample standard deviation divided by sqrt(k)
        "worst_seed"  the lowest of them

    Choose the narrowest width (the smallest number of units, wherever it
    stands in the list) whose mean is at least the floor: the cheapest model
    that is not clearly worse than the best.
    Returns (width, reason): the chosen width as a Python int, and a
    one-line string (no line break) that says why, in your own words, for
    your instructor to read.
    """
    # TODO: apply your variant's rule (RULE) to the table: the narrowest width whose mean reaches the floor below the best mean
    #       (lesson 3, "Planning the experiment")
    raise NotImplementedError("choose_width() is not started yet")


def seeds_the_choice_rests_on(widths, table):
    """How many runs decide the choice: the fewest seeds whose runs, left out, change it.

    widths, table: as for choose_width(), with k >= 3 seeds (columns).
    Leave out m of the k seed columns (every row loses the same columns), as
    if those runs had never been made, and decide again by your variant's RULE
    from the table of the k - m seeds left. Returns the smallest m, from 1 up
    to k - 2 (so that at least 2 seeds are left to decide from), for which
    some choice of m columns to leave out gives another width than the whole
    table gives, as a Python int; None if no such m exists: then no handful
    of runs decided the choice.
    """
    # TODO: find the fewest seed columns whose leaving out changes the width your rule chooses; None if no m up to k - 2 does
    #       (lesson 3, "How much rests on one run")
    raise NotImplementedError("seeds_the_choice_rests_on() is not started yet")


def answers():
    """Your answers to this exercise's written questions: about YOUR results, in your own words.

    The grader does not score them. It hands them to your instructor, who grades them by hand
    (4 points in all), and shows them on your feedback page. Write between
    the triple quotes: a few sentences each, with the numbers from your own runs that you rely on.
    """
    return {
        # 1. Quote your own table's mean per width, your variant's floor (RULE) and the width choose_width
        # chose from it. Then suppose you ran twice as many seeds: would your floor move up, down, or stay
        # about where it is, and why? Could that change the width chosen, and towards narrower or wider?
        # (2 points)
        "floor": """
        """,
        # 2. What does seeds_the_choice_rests_on() return for your own run_sweep table, and what does that
        # say about the width you chose? Then, whatever it returned: name one doubt about that width that
        # no number of extra seeds could remove, and say why more seeds cannot. (2 points)
        "rests_on": """
        """,
    }
