"""Exercise 02 · A first dense network (lesson 2).

You declare, the grader trains: `build_model()` returns a compiled Keras
model and `training_settings()` says how to train it. The grader saves your
model, loads it back with `safe_mode=True`, re-initialises its weights from a
fixed seed, trains it on the training set with your settings, and measures
its accuracy on the test set, which your code never sees. Any model that
keeps the contracts below gets full points: Sequential or Functional, other
widths, other optimizers, other epochs and batch sizes within the budget.
"""

import keras
from keras import layers


def build_model():
    """A dense network that classifies MNIST digits, compiled and ready to train.

    Input: a batch of raw MNIST images, shape (None, 28, 28), float32 pixel
    values 0..255. The model scales them itself: start with
    keras.Input(shape=(28, 28)) and layers.Rescaling(1 / 255).
    Body: Keras's own layers only (no Lambda or custom layers), at most
    500,000 parameters in all.
    Output: shape (None, 10), softmax probabilities (each row sums to 1).
    Compiled with an optimizer, a cross-entropy loss that matches the labels
    declared in training_settings() ('sparse_categorical_crossentropy' for
    integer labels, 'categorical_crossentropy' for one-hot) and
    metrics=['accuracy'].
    """
    ### BEGIN SOLUTION
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            layers.Rescaling(1 / 255),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
    ### END SOLUTION


def training_settings():
    """How the grader should train build_model()'s model: a dict with

    epochs: a whole number from 1 to 30;
    batch_size: a whole number from 1 to 4096;
    validation_split: optional, a fraction from 0.0 to below 0.5 of the
        training images kept aside for validation (default 0.0);
    callbacks: optional, a list of keras.callbacks.EarlyStopping or
        keras.callbacks.ReduceLROnPlateau objects, each watching 'loss',
        'accuracy', 'val_loss' or 'val_accuracy' (val_ ones need a
        validation_split);
    labels: optional, 'integer' (default: the digits 0-9) or 'one-hot'.
    The training's work (epochs x images x the model's operations per image,
    plus a fixed cost per batch) may be at most 3 times the reference's (on
    the course's 22,699 images: at most 5.03 TFLOP, 3 x 1.68); the grader
    counts it before training and says the figures if it is more.
    """
    ### BEGIN SOLUTION
    return {"epochs": 20, "batch_size": 128, "validation_split": 0.1}
    ### END SOLUTION
