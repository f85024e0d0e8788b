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
    ### BEGIN SOLUTION
    keras.utils.set_random_seed(int(seed))
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            layers.Rescaling(1 / 255),
            layers.Flatten(),
            layers.Dense(int(width), activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=2, batch_size=32, verbose=0)
    predicted = model.predict(x_val, batch_size=256, verbose=0).argmax(axis=1)
    return float(np.mean(predicted == y_val))
    ### END SOLUTION


def run_sweep(x_train, y_train, x_val, y_val, widths, seeds):
    """The experiment's table: every width trained with every seed.

    x_train, y_train, x_val, y_val: as for validation_accuracy().
    widths: a list of ints; seeds: a list of ints (3 or more).
    Returns a float64 array `table` of shape (len(widths), len(seeds)):
    table[i, j] is exactly what validation_accuracy(x_train, y_train, x_val,
    y_val, widths[i], seeds[j]) returns.
    """
    ### BEGIN SOLUTION
    table = np.zeros((len(widths), len(seeds)), dtype=np.float64)
    for i, width in enumerate(widths):
        for j, seed in enumerate(seeds):
            table[i, j] = validation_accuracy(x_train, y_train, x_val, y_val, width, seed)
    return table
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    table = np.asarray(table, dtype=np.float64)
    means = table.mean(axis=1)
    best = min(np.flatnonzero(means == means.max()), key=lambda i: widths[i])
    runs = table[best]
    spread = runs.std(ddof=1)
    floor = {"one_sd": means[best] - spread, "one_se": means[best] - spread / np.sqrt(len(runs)), "worst_seed": runs.min()}[RULE]
    good = [i for i in range(len(widths)) if means[i] >= floor]
    chosen = min(good, key=lambda i: widths[i])
    reason = (
        f"width {widths[chosen]} averages {means[chosen]:.2%} on validation, at or above the floor of {floor:.2%} "
        f"that rule {RULE} sets below the best mean ({means[best]:.2%} at width {widths[best]}), and it is the cheapest such width"
    )
    return int(widths[chosen]), reason
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    table = np.asarray(table, dtype=np.float64)
    k = table.shape[1]
    whole, _ = choose_width(widths, table)
    for m in range(1, k - 1):
        for left_out in itertools.combinations(range(k), m):
            if choose_width(widths, np.delete(table, left_out, axis=1))[0] != whole:
                return m
    return None
    ### END SOLUTION
