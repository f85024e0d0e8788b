"""Exercise 03 · Deeper dense networks and overfitting (lesson 3).

As in exercise 2, you declare and the grader trains: it re-initialises your
model's weights from a fixed seed, trains it with your settings and measures
test accuracy. New here: at least two hidden layers, Dropout at a rate the
caller chooses, and early stopping that restores the best weights.
"""

import keras
from keras import layers


def build_model(dropout_rate=0.3):
    """A deeper dense network with Dropout, compiled and ready to train.

    Input: raw MNIST images, shape (None, 28, 28), float32 pixels 0..255; the
    model scales them itself (layers.Rescaling(1 / 255)).
    Body: at least two hidden Dense layers; a Dropout layer with rate
    `dropout_rate` after each hidden layer (every Dropout layer of the model
    uses exactly this rate). Keras's own layers only, at most 1,000,000
    parameters.
    Output: shape (None, 10), softmax probabilities.
    Compiled with an optimizer, a cross-entropy loss matching the labels of
    training_settings(), and metrics=['accuracy'].
    """
    ### BEGIN SOLUTION
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            layers.Rescaling(1 / 255),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dropout(dropout_rate),
            layers.Dense(256, activation="relu"),
            layers.Dropout(dropout_rate),
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
    per image, plus a fixed cost per batch) may be at most 3 times the
    reference's (on the course's 22,699 images: at most 15 TFLOP, 3 x 5.01);
    the grader counts it before training.
    """
    ### BEGIN SOLUTION
    # Halve the learning rate when validation loss stalls; stop once validation
    # accuracy has not improved for 8 epochs, and keep the best epoch's weights.
    slower = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)
    stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=8, restore_best_weights=True)
    return {"epochs": 50, "batch_size": 128, "validation_split": 0.1, "callbacks": [slower, stop]}
    ### END SOLUTION
