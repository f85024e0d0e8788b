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
    ### BEGIN SOLUTION
    # Few parameters underfit before they overfit: most of them go to the first layer (784 weights per
    # unit), and Dropout, which holds a model back, is off unless the caller asks for it.
    widths = (60, 32) if CONSTRAINT == "budget" else (24, 16)
    rate = 0.0 if dropout_rate is None else dropout_rate
    hidden = []
    for width in widths:
        hidden += [layers.Dense(width, activation="relu"), layers.Dropout(rate)]
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            layers.Rescaling(1 / 255),
            layers.Flatten(),
            *hidden,
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    # Halve the learning rate when validation loss stalls; stop once validation
    # accuracy has not improved for 8 epochs, and keep the best epoch's weights.
    slower = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=8, restore_best_weights=True)
    return {"epochs": 50, "batch_size": 128, "validation_split": 0.1, "callbacks": [slower, stop]}
    ### END SOLUTION
