"""Exercise 02 · A first dense network (lesson 2).

You declare, the grader trains: `build_model()` returns a compiled Keras
model and `training_settings()` says how to train it. The grader saves your
model, loads it back with `safe_mode=True`, re-initialises its weights from a
fixed seed, trains it on the training set with your settings, and measures
its accuracy on the test set, which your code never sees. Any model that
keeps the contracts below gets full points: Sequential or Functional, other
widths, other learning rates, epochs and batch sizes within the budget.

Your variant: CONSTRAINT below. Both variants train with plain SGD (no
momentum) for at most 10 epochs, where lesson 2's model trains with Adam:
plain SGD takes the one step size you give it, and choosing it (with the
batch size that goes with it) is this exercise's decision, measured on your
own validation images:

"sgd": any batch size.
"big_batch": batches of at least 1,024 images, so few, large steps.
"""

import keras
from keras import layers

# Your variant: `grader --variant ex02` prints the one your student id draws
# (give the id once with `grader --student YOUR-ID`; in the course's notebook,
# the cell at the top prints it). Set CONSTRAINT to it: the file starts with
# the first variant's, which the grader uses when it has no student id.
CONSTRAINT = "sgd"  # "sgd" (any batch size) or "big_batch" (batches of at least 1,024)


def build_model():
    """A dense network that classifies MNIST digits, compiled and ready to train.

    Input: a batch of raw MNIST images, shape (None, 28, 28), float32 pixel
    values 0..255. The model scales them itself: start with
    keras.Input(shape=(28, 28)) and layers.Rescaling(1 / 255).
    Body: a dense network: Flatten, then one or more hidden Dense layers on
    the flat vector (no convolution or pooling layers, and no Dense layer on
    each row or patch of the image: the accuracy counts only for the network
    this exercise asks for). Keras's own layers only (no Lambda or custom
    layers), at most 500,000 parameters in all.
    Output: shape (None, 10), softmax probabilities (each row sums to 1).
    Compiled with plain SGD, keras.optimizers.SGD(learning_rate=...) with
    momentum 0 (no Nesterov step, no weight averaging) and the learning rate
    you chose for your CONSTRAINT; a cross-entropy loss that matches the
    labels declared in training_settings() ('sparse_categorical_crossentropy'
    for integer labels, 'categorical_crossentropy' for one-hot); and
    metrics=['accuracy'].
    The model must reach the bar of your CONSTRAINT (`grader ex02` says it).
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
    # Plain SGD moves every weight by the learning rate times its gradient. Fewer, larger batches give fewer
    # steps, so each can be longer, up to the rate where the loss jumps out of its valley (2.0 here).
    learning_rate = 0.3 if CONSTRAINT == "sgd" else 1.0
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
    ### END SOLUTION


def training_settings():
    """How the grader should train build_model()'s model: a dict with

    epochs: a whole number from 1 to 10;
    batch_size: a whole number from 1 to 4096 for CONSTRAINT "sgd", from
        1024 to 4096 for "big_batch";
    validation_split: optional, a fraction from 0.0 to below 0.5 of the
        training images kept aside for validation (default 0.0);
    callbacks: optional, a list of keras.callbacks.EarlyStopping or
        keras.callbacks.ReduceLROnPlateau objects, each watching 'loss',
        'accuracy', 'val_loss' or 'val_accuracy' (val_ ones need a
        validation_split);
    labels: optional, 'integer' (default: the digits 0-9) or 'one-hot'.
    The training's work (epochs x images x the model's operations per image,
    plus a fixed cost per batch) may be at most 3 times the reference's for
    your CONSTRAINT (on the course's 22,699 images: "sgd" at most 5.39 TFLOP,
    3 x 1.80; "big_batch" 1.68 TFLOP, 3 x 0.56); the grader
    counts it before training and says the figures if it is more.
    """
    ### BEGIN SOLUTION
    return {"epochs": 10, "batch_size": 32 if CONSTRAINT == "sgd" else 1024, "validation_split": 0.1}
    ### END SOLUTION
