# Exercise 06 · From notebook to real use: your work goes in this file.
# Grade it with `grader ex06`; ask for a hint with `grader --hint ex06`.
# (Generated from solutions/ex06_real_use.py by `mnist-course build`: course maintainers
# edit the solution and regenerate, never this file.)

"""Exercise 06 · From notebook to real use (lesson 7: From notebook to real use).

Three functions that take a trained model out of the notebook: one turns a photo
or scan of a handwritten digit into an image like MNIST's, one asks a model
what digit it is, and one decides, from validation results, how sure the
model must be before its answer is given. Each docstring is the contract the grader checks: any
implementation that keeps it gets full points.
"""

import math

import numpy as np
from PIL import Image


def prepare_image(image):
    """Turn a photo or scan of one handwritten digit into an image laid out like MNIST's.

    image: a uint8 array showing one dark digit on a light background (ink on
    paper), at any size and anywhere in the picture: grayscale of shape
    (H, W), RGB of shape (H, W, 3) or RGBA of shape (H, W, 4). A colour pixel
    counts as the gray 0.299 R + 0.587 G + 0.114 B; a transparent one (alpha
    0) counts as white paper, whatever its colour values say.

    Returns a new float32 array of shape (28, 28) with values in [0, 1], laid
    out the way MNIST's own digits are (lesson 7, "What MNIST's digits look
    like"), so that a model trained on MNIST reads it as it reads them:
    - the ink is light on a background of 0: the paper becomes 0 whatever its
      own shade and grain, and the strongest ink is 1.0;
    - the digit fits a 20 x 20 box: its longer side is 20 pixels and its
      aspect ratio is kept (a "1" stays thin);
    - its centre of mass lies at row 14, column 14, within a pixel; ink
      that would land outside the 28 x 28 field is dropped;
    - a speck apart from the digit (dust, a touch of the pen: a piece of ink
      that touches none of the digit's strokes and holds at most a twentieth
      of the digit's ink) is not the digit: the result is the same with or
      without it.

    The input is not modified.
    Raises ValueError if `image` is not uint8, if its shape is none of the
    three above, or if it shows no digit: no pixel is darker than the paper by
    32 or more (on the 0..255 scale), as on a blank or uniformly gray page.
    """
    # TODO: turn a uint8 photo of a dark digit on light paper into a float32 (28, 28) MNIST-style image in [0, 1]; raise ValueError for bad input
    #       (lesson 7, "Preparing a digit image")
    raise NotImplementedError("prepare_image() is not started yet")


def predict_digit(model, image):
    """Ask a trained course model which digit an image shows.

    model: a Keras model of this course: it takes RAW pixel values 0..255
    (it scales them itself with a Rescaling(1/255) layer), a batch at a time,
    in the shape of model.input_shape: (None, 28, 28) for a dense network,
    (None, 28, 28, 1) for a CNN; it outputs 10 probabilities per image.
    image: a float32 array of shape (28, 28) with values in [0, 1], as
    prepare_image() returns it.

    Returns (digit, confidence, top3):
    - digit: the most probable digit, a Python int;
    - confidence: its probability, a Python float;
    - top3: a list of the three most probable digits as (digit, probability)
      tuples of a Python int and a Python float, most probable first, so
      top3[0] == (digit, confidence).
    """
    # TODO: predict with the model on a batch of one raw-pixel image; return (digit, confidence, top3) as Python int, float and list of (int, float)
    #       (lesson 7, "Top-3 predictions")
    raise NotImplementedError("predict_digit() is not started yet")


def choose_threshold(confidences, correct, max_error):
    """Choose the confidence below which a digit reader says "not sure", from validation results.

    confidences: a float array of N >= 1 values in [0, 1], the probability the
    model gave its answer for each of N validation images (predict_digit's
    confidence); correct: a bool array of N, whether each answer was right.
    max_error: the largest share of wrong answers allowed among the answers
    given, 0 <= max_error < 1.

    A threshold t answers the images whose confidence is t or more, and says
    "not sure" for the others. Returns the threshold, as a Python float, that
    answers as many of the N images as possible while at most a share
    max_error of the answers it gives are wrong (wrong / answered <=
    max_error); of the thresholds that answer those same images, the
    largest. If no threshold that answers something keeps it (the most
    confident answers are already wrong too often), returns math.inf, which
    answers nothing. The inputs are not modified.
    Raises ValueError if the two arrays are not 1-D of the same length N >= 1,
    if correct is not a bool array or confidences not a float one, if a
    confidence is nan or outside [0, 1], or if max_error is not in [0, 1).
    """
    # TODO: return the threshold that answers the most images while at most a share max_error of its answers are wrong (math.inf if none does); raise ValueError for bad input
    #       (lesson 7, "Not sure, or not a digit")
    raise NotImplementedError("choose_threshold() is not started yet")


def answers():
    """Your answers to this exercise's written questions: about YOUR results, in your own words.

    The grader does not score them. It hands them to your instructor, who grades them by hand
    (4 points in all), and shows them on your feedback page. Write between
    the triple quotes: a few sentences each, with the numbers from your own runs that you rely on.
    """
    return {
        # 1. Draw or photograph one digit of your own and read it with your prepare_image and a course
        # model (lesson 7's last cells): what did it read, how sure was it, and which step of the
        # preparation mattered most for your picture? Say what you saw after that step. (2 points)
        "own_digit": """
        """,
        # 2. Does your threshold hold on images it was not chosen on? Train lesson 7's model on all but
        # the last 5,000 training images (n_train in its training cell), and use those 5,000 as validation
        # (each answer's confidence is its largest probability from model.predict on the raw pixels, as
        # the model was trained; predict_digit's prepare_image step is for photos, not for MNIST's own
        # digits): choose a threshold on them with your choose_threshold and max_error 0.002 (1 wrong
        # answer in 500), then apply it to the test set. Give, for each of the two, how many images it
        # answered and its share of wrong answers. Whichever way it came out, say why a threshold chosen
        # this way can break the limit on new images, and one thing you would do before relying on it. (2
        # points)
        "holds_up": """
        """,
    }
