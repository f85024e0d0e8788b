# Exercise 03 · Deeper dense networks and overfitting: your work goes in this file.
# Grade it with `grader ex03`; ask for a hint with `grader --hint ex03`.
# (Generated from solutions/ex03_deeper.py by `mnist-course build`: course maintainers
# edit the solution and regenerate, never this file.)

"""Exercise 03 · Deeper dense networks and overfitting (lesson 3).

As in exercise 2, you declare and the grader trains: it re-initialises your
model's weights from a fixed seed, trains it with your settings and measures
test accuracy. New here: at least two hidden layers, Dropout at a rate the
caller chooses, and early stopping that restores the best weights.

Your variant: CONSTRAINT below is your parameter budget, and no model of
lesson 3 fits it as it stands (lesson 3's network has 235,146 parameters).
Within it you decide, with the tools lesson 3 teaches and measured on your
own validation images, where the parameters go (how wide, how deep) and how
much to regularise the model (Dropout, early stopping):

"budget": at most 50,000 parameters.
"tight_budget": at most 20,000 parameters.
"""

import keras
from keras import layers

# Your variant: `grader --variant ex03` prints the one your student id draws
# (give the id once with `grader --student YOUR-ID`; in the course's notebook,
# the cell at the top prints it). Set CONSTRAINT to it: the file starts with
# the first variant's, which the grader uses when it has no student id.
CONSTRAINT = "budget"  # your parameter budget: "budget" (50,000) or "tight_budget" (20,000)


def build_model(dropout_rate=None):
    """A deeper dense network with Dropout, compiled and ready to train.

    Input: raw MNIST images, shape (None, 28, 28), float32 pixels 0..255; the
    model scales them itself (layers.Rescaling(1 / 255)).
    Body: a dense network: Flatten, then at least two hidden Dense layers
    on the flat vector (no convolution or pooling layers, and no Dense layer
    on each row or patch of the image: the accuracy counts only for the
    network this exercise asks for); a Dropout layer with rate
    `dropout_rate` after each hidden layer (every Dropout layer of the model
    uses exactly this rate); with dropout_rate=None (the default, what the
    grader trains) the rate you chose for your CONSTRAINT, from 0 (Dropout
    then passes everything through) to below 1. Keras's own
    layers only, at most 50,000 parameters for CONSTRAINT "budget" and
    20,000 for "tight_budget".
    Output: shape (None, 10), softmax probabilities.
    Compiled with an optimizer, a cross-entropy loss matching the labels of
    training_settings(), and metrics=['accuracy'].
    The model must reach the bar of your CONSTRAINT (the module docstring
    says what each asks; `grader ex03` says the bar).
    """
    # TODO: two or more hidden Dense layers, each followed by Dropout(dropout_rate), within your CONSTRAINT's parameter budget; compile and return
    #       (lesson 3, "A deeper network with Dropout")
    raise NotImplementedError("build_model() is not started yet")


def training_settings():
    """How the grader should train build_model()'s model: a dict with

    epochs: a whole number from 1 to 50 (the most; early stopping ends sooner);
    batch_size: a whole number from 1 to 4096;
    validation_split: a fraction from 0.0 to below 0.5 of the training
        images kept aside for validation;
    callbacks: a list that includes keras.callbacks.EarlyStopping with
        restore_best_weights=True, watching 'val_loss' or 'val_accuracy'
        (ReduceLROnPlateau may be added);
    labels: optional, 'integer' (default) or 'one-hot'.
    The EarlyStopping's patience must be below `epochs`, so that it can
    stop the grader's training before the epoch limit does.
    The training's work (declared epochs x images x the model's operations
    per image, plus a fixed cost per batch) may be at most 8 times the
    reference's for your CONSTRAINT (on the course's 22,699 images: "budget"
    at most 15.4 TFLOP, 8 x 1.92; "tight_budget" 13.8 TFLOP, 8 x 1.73):
    enough for 50 epochs at any batch size from 16 within your budget. The
    grader counts it before training.
    """
    # TODO: return epochs, batch_size, validation_split and an EarlyStopping callback that restores the best weights
    #       (lesson 3, "Early stopping")
    raise NotImplementedError("training_settings() is not started yet")


def answers():
    """Your answers to this exercise's written questions: about YOUR results, in your own words.

    The grader does not score them. It hands them to your instructor, who grades them by hand
    (4 points in all), and shows them on your feedback page. Write between
    the triple quotes: a few sentences each, with the numbers from your own runs that you rely on.
    """
    return {
        # 1. Where did early stopping end the grader's training of your model, which epoch's weights did
        # it measure, and by how much (validation accuracy) did restoring them beat the last epoch's? What
        # would have been measured without restore_best_weights? (2 points)
        "stopping": """
        """,
        # 2. Your CONSTRAINT is a parameter budget: where did you spend it, and what measured it? Give at
        # least two configurations within your budget that you compared on your own validation images (two
        # layouts of the hidden layers, or two Dropout rates), with their parameter counts and validation
        # accuracies, and the grader's test accuracy of the one you handed in. Was the model you handed in
        # underfitting or overfitting, and which of its curves says so? (2 points)
        "your_decision": """
        """,
    }
