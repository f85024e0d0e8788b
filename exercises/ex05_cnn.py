# Exercise 05 · Convolutional networks: your work goes in this file.
# Grade it with `grader ex05`; ask for a hint with `grader --hint ex05`.
# (Generated from solutions/ex05_cnn.py by `mnist-course build`: course maintainers
# edit the solution and regenerate, never this file.)

"""Exercise 05 · Convolutional networks (lesson 5).

As before, you declare and the grader trains. The model now sees each image
as a 28 x 28 grid with one channel, and learns small filters that slide over
it: far fewer parameters than a dense network, and better accuracy.

Your variant: CONSTRAINT below says what your model must cope with, and no
model of lesson 5 copes with it as it stands. Each is a decision about the
tools lesson 5 teaches (weight sharing, pooling, padding, data augmentation,
global average pooling, epochs), measured on your own validation images:

"shifted": the grader trains your model on MNIST's training digits as they
    are, centred, but tests it on digits each moved by up to 4 pixels up or
    down and up to 4 left or right (a whole number of pixels each, drawn once
    for the course; zeros come in at the edge). It must read a digit
    wherever it sits.
"small_data": the grader trains your model on the first 2,000 training
    images only, and tests it on the whole test set as usual.
"budget": at most 10,000 parameters, and training work at most 3 times
    that of a model of that size (training_settings() says the figures).
"""

import keras
from keras import layers

# Your variant: `grader --variant ex05` prints the one your student id draws
# (give the id once with `grader --student YOUR-ID`; in the course's notebook,
# the cell at the top prints it). Set CONSTRAINT to it: the file starts with
# the first variant's, which the grader uses when it has no student id.
CONSTRAINT = "shifted"  # what your model must cope with: "shifted", "small_data" or "budget"


def build_model():
    """A convolutional network for MNIST, compiled and ready to train.

    Input: raw MNIST images with a channel axis, shape (None, 28, 28, 1),
    float32 pixels 0..255; the model scales them itself
    (layers.Rescaling(1 / 255)).
    Body: convolution layers (Conv2D) and pooling layers (MaxPooling2D or
    AveragePooling2D); Dropout, Dense, BatchNormalization,
    GlobalAveragePooling2D and Keras's augmentation layers
    (RandomTranslation, RandomRotation, ...) are welcome. Keras's own layers
    only, at most 500,000 parameters (10,000 for CONSTRAINT "budget").
    Output: shape (None, 10), softmax probabilities.
    Compiled with an optimizer, a cross-entropy loss matching the labels of
    training_settings(), and metrics=['accuracy'].
    The model must reach the bar of your CONSTRAINT (the module docstring
    says what each asks; `grader ex05` says the bar).
    """
    # TODO: convolution and pooling layers on (28, 28, 1) raw pixels, 10 softmax outputs; compile and return
    #       (lesson 5, "A convolutional network")
    raise NotImplementedError("build_model() is not started yet")


def training_settings():
    """How the grader should train build_model()'s model: a dict with

    epochs: a whole number from 1 to 30 (to 60 for CONSTRAINT "small_data");
    batch_size: a whole number from 1 to 4096;
    validation_split: optional, a fraction from 0.0 to below 0.5;
    callbacks: optional, a list of keras.callbacks.EarlyStopping or
        keras.callbacks.ReduceLROnPlateau objects, each watching 'loss',
        'accuracy', 'val_loss' or 'val_accuracy' (val_ ones need a
        validation_split);
    labels: optional, 'integer' (default) or 'one-hot'.
    The training's work (epochs x images x the model's operations per image,
    plus a fixed cost per batch) may be at most 3 times the reference's for
    your CONSTRAINT, on the images it trains on: "shifted", 20 epochs of
    about 10 MFLOP per image at batch size 128; "small_data", 30 epochs of
    about 10 MFLOP per image at batch size 64 (on 2,000 images); "budget",
    20 epochs of about 2.1 MFLOP per image at batch size 128. The grader
    counts it before training and says the figures if it is more.
    """
    # TODO: return epochs, batch_size and validation_split that fit the grader's budget
    #       (lesson 5, "Training the network")
    raise NotImplementedError("training_settings() is not started yet")


def answers():
    """Your answers to this exercise's written questions: about YOUR results, in your own words.

    The grader does not score them. It hands them to your instructor, who grades them by hand
    (2 points in all), and shows them on your feedback page. Write between
    the triple quotes: a few sentences each, with the numbers from your own runs that you rely on.
    """
    return {
        # 1. Your CONSTRAINT asked for a decision: which did you make, and what measured it? Give at least
        # two configurations you compared on your own validation images (for 'shifted', shifted as the
        # test digits are), with their validation accuracies, and the grader's test accuracy of the one
        # you handed in. Which property of convolutions, or which tool of lesson 5, does your result
        # credit? (2 points)
        "your_decision": """
        """,
    }
