# Exercise 02 · A first dense network: your work goes in this file.
# Grade it with `grader ex02`; ask for a hint with `grader --hint ex02`.
# (Generated from solutions/ex02_dense.py by `mnist-course build`: course maintainers
# edit the solution and regenerate, never this file.)

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
    # TODO: build a dense network (raw 28x28 pixels in, 10 softmax probabilities out), compile it with plain SGD at the learning rate you chose, and return it
    #       (lesson 2, "Building the model")
    raise NotImplementedError("build_model() is not started yet")


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
    # TODO: return a dict with epochs, batch_size and validation_split for the grader's training
    #       (lesson 2, "Training")
    raise NotImplementedError("training_settings() is not started yet")


def answers():
    """Your answers to this exercise's written questions: about YOUR results, in your own words.

    The grader does not score them. It hands them to your instructor, who grades them by hand
    (5 points in all), and shows them on your feedback page. Write between
    the triple quotes: a few sentences each, with the numbers from your own runs that you rely on.
    """
    return {
        # 1. Read the learning curves of the grader's training of your model (your feedback page, or
        # `grader ex02 --feedback f.md`): at which epoch was the validation loss lowest, and what do the
        # training and validation accuracies at the last epoch say: does your model overfit, underfit, or
        # neither? Quote the numbers. (2 points)
        "curves": """
        """,
        # 2. Your CONSTRAINT left you the step size of plain SGD: which learning rates did you compare, at
        # which batch size, and what measured them? Give at least two rates you trained on your own
        # validation images, each with its validation accuracy and what its epoch log showed (a loss that
        # crawls, settles, or jumps about), and the grader's test accuracy of the one you handed in. (2
        # points)
        "your_decision": """
        """,
        # 3. Among the most confident mistakes of your model on the feedback page, pick two: would a
        # person read each differently from the model, and what in the image could have made the model so
        # sure? (1 point)
        "mistakes": """
        """,
    }
