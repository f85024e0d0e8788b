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
    ### BEGIN SOLUTION
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"prepare_image() expects a uint8 image (pixels 0..255), got dtype {image.dtype}")
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        pixels = image.astype(np.float32)
        gray = pixels[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        if image.shape[-1] == 4:
            alpha = pixels[..., 3] / 255
            gray = alpha * gray + (1 - alpha) * 255
    elif image.ndim == 2:
        gray = image.astype(np.float32)
    else:
        raise ValueError(
            f"prepare_image() expects shape (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}"
        )
    if gray.size == 0:
        raise ValueError(f"prepare_image() got an empty image of shape {image.shape}")

    ink = 255 - gray
    ink = np.clip(ink - np.median(ink), 0, None)
    if ink.max() < 32:
        raise ValueError("no digit found: the image is blank (no pixel is clearly darker than the paper)")
    ink[ink < ink.max() / 5] = 0

    # Specks are not the digit: each piece of touching ink (its 8 neighbours) is found by a walk from one of
    # its pixels, and a piece holding under a tenth of the largest piece's ink is left out.
    piece = np.zeros(ink.shape, dtype=np.int32)
    masses = [0.0]
    for start in zip(*np.nonzero(ink)):
        if piece[start]:
            continue
        piece[start] = len(masses)
        stack, mass = [start], 0.0
        while stack:
            r, c = stack.pop()
            mass += float(ink[r, c])
            for rr in range(max(r - 1, 0), min(r + 2, ink.shape[0])):
                for cc in range(max(c - 1, 0), min(c + 2, ink.shape[1])):
                    if ink[rr, cc] > 0 and not piece[rr, cc]:
                        piece[rr, cc] = len(masses)
                        stack.append((rr, cc))
        masses.append(mass)
    masses = np.array(masses)
    ink[masses[piece] < masses.max() / 10] = 0

    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = digit.shape
    scale = 20 / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # Pillow wants (width, height)
    digit = np.asarray(Image.fromarray(digit).resize(size, Image.BILINEAR), dtype=np.float32)

    total = digit.sum()
    com_row = (digit.sum(axis=1) @ np.arange(digit.shape[0])) / total
    com_col = (digit.sum(axis=0) @ np.arange(digit.shape[1])) / total
    top, left = round(14 - com_row), round(14 - com_col)
    field = np.zeros((28, 28), dtype=np.float32)
    # The part of the digit that lands inside the field.
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + digit.shape[0], 28), min(left + digit.shape[1], 28)
    field[r0:r1, c0:c1] = digit[r0 - top : r1 - top, c0 - left : c1 - left]
    return field / field.max()
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    batch = (np.asarray(image, dtype=np.float32) * 255).reshape((1, *model.input_shape[1:]))
    probabilities = np.asarray(model.predict(batch, verbose=0))[0]
    order = np.argsort(probabilities)[::-1][:3]
    top3 = [(int(k), float(probabilities[k])) for k in order]
    digit, confidence = top3[0]
    return digit, confidence, top3
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    confidences, correct = np.asarray(confidences), np.asarray(correct)
    if confidences.ndim != 1 or correct.ndim != 1 or len(confidences) != len(correct) or len(confidences) == 0:
        raise ValueError(f"expected two 1-D arrays of the same length N >= 1, got shapes {confidences.shape} and {correct.shape}")
    if correct.dtype != bool:
        raise ValueError(f"correct must be a bool array, got dtype {correct.dtype}")
    if not np.issubdtype(confidences.dtype, np.floating) or not np.all((confidences >= 0) & (confidences <= 1)):
        raise ValueError("every confidence must be a float in [0, 1] (no nan)")
    if not 0 <= max_error < 1:
        raise ValueError(f"max_error must be in [0, 1), got {max_error}")
    # Equal confidences are answered together: count the answers from the top, one distinct value at a time.
    values, first = np.unique(-confidences, return_inverse=True)
    answered = np.cumsum(np.bincount(first, minlength=len(values)))
    wrong = np.cumsum(np.bincount(first, weights=~correct, minlength=len(values)))
    keeps = wrong <= max_error * answered
    if not keeps.any():
        return math.inf
    return float(-values[np.flatnonzero(keeps)[-1]])
    ### END SOLUTION
