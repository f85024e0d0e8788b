"""Exercise 06 · From notebook to real use: the graded checks.

Each test is one check; its points, function, hints and lesson section live in
course.toml under the same name (without "test_"). Every check calls the
student's code through `student.call` (a child process) and judges the plain
data that comes back against the contract in the exercise's docstrings.

The pictures prepare_image() gets are made by grader/references/ex06_real_use.py
(`ref`), from the grader's own MNIST data and Pillow's built-in font, so nothing
is downloaded, and drawn for each file (its hash and the run's draw key):

- "photos": MNIST test digits re-saved the way a phone or scanner sees a digit,
  dark ink on light paper, 0.8 to 5 times their size, off-centre on a larger
  sheet of paper of some gray level, with a little sensor noise; some in
  colour (tinted paper, blue-black ink); one also as an opaque RGBA, as
  black and blue ink on a transparent background, and twice written with two
  pens whose inks only the contract's gray sees as equally dark;
- "printed" digits, drawn with Pillow's built-in font at several sizes;
- photos with specks of ink apart from the digit, each beside the same photo
  without them (the same paper, pen and noise), which must prepare alike; two
  of those digits are cut in two by a lifted stroke, and both pieces must stay.

Size, centring and recognition count only where the results look like their
pictures' digits (`_shows_its_digits`): an adversarial review returned a real
MNIST digit in each picture's place, and another a filled rectangle.

Recognition is judged by a nearest-neighbour classifier on the grader's MNIST
training images, in NumPy; predict_digit() is judged with small Keras models
whose weights are class templates, each logit shifted by an amount drawn for the
file, so the expected probabilities are computed in NumPy, the check needs no
trained model, and only calling the model gives them.

choose_threshold() gets validation results drawn for each file too (`ref.threshold_cases`): one set like a
model's answers, and three built so that each classic mistake returns another threshold.

The checks live in grader/checks/ex06/, one module per graded function with its teaching
messages (`prepare_image`, its colour check in `prepare_image_colour`, `predict_digit`, `choose_threshold`, and `common`
for the pictures and their geometry, and the check that a number is Python's); this
module is what pytest collects: the checks, and predict_digit's probe models (a fixture), imported
in course.toml's order.
"""


import pytest

# The draws (grader/draws.py): another purpose would draw every submission new pictures or probes.
PICTURES_PURPOSE = "ex06 pictures"
PROBES_PURPOSE = "ex06 probe models"
THRESHOLDS_PURPOSE = "ex06 validation results"


@pytest.fixture(scope="module", autouse=True)
def _drawn(student, settings):
    """The pictures prepare_image() is called with and the probe models' shift, drawn from the run's draw
    key and the file's hash, read before any of its code runs: a function of the submission, the grader
    and the key alone, never of the clock, and never a fixed set a table made at home could answer."""
    content = student.source_bytes()
    student.picture_seed = settings.draw(PICTURES_PURPOSE, content)
    student.probe_seed = settings.draw(PROBES_PURPOSE, content)
    student.threshold_seed = settings.draw(THRESHOLDS_PURPOSE, content)
    yield


# The checks, in course.toml's order (pytest collects them here, so they share this module's worker and fixtures).
from grader.checks.ex06.prepare_image import (  # noqa: E402, F401
    test_prepare_image_shape_dtype,
    test_prepare_image_inverted,
    test_prepare_image_size_aspect,
    test_prepare_image_centred,
    test_prepare_image_recognised,
    test_prepare_image_ignores_specks,
)
from grader.checks.ex06.prepare_image_colour import test_prepare_image_colour  # noqa: E402, F401
from grader.checks.ex06.prepare_image import test_prepare_image_rejects_bad_input, test_prepare_image_leaves_input  # noqa: E402, F401
from grader.checks.ex06.predict_digit import (  # noqa: E402, F401
    probes,
    test_predict_digit_types,
    test_predict_digit_values,
    test_predict_digit_top3,
)
from grader.checks.ex06.choose_threshold import (  # noqa: E402, F401
    test_choose_threshold_keeps_the_limit,
    test_choose_threshold_types,
    test_choose_threshold_answers_the_most,
    test_choose_threshold_rejects_bad_input,
)
