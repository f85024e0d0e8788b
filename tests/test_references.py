"""The grader's own references agree with the Keras they stand for.

ex05b's checks compare a student's conv2d and max_pool2d with what
keras.layers.Conv2D and MaxPooling2D compute, but grade against a float64 NumPy
computation (grader/references/ex05b_conv_by_hand.py), so a grading needs no Keras
import. These tests hold that reference to real Keras layers on every case the
checks use, far inside the checks' tolerance, and show that the comparison
tells a classic variant (the odd padding row on top, a flipped kernel, padding
'same' on the pool) from Keras's answer, so it cannot pass by being loose.
"""

import numpy as np
import pytest

from grader.checks import ex05b_conv_by_hand as ex05b_checks
from grader.references import ex05b_conv_by_hand as ex05b
from mnist_course.data import quiet_keras

CASES = [*ex05b.ONE_CHANNEL, *ex05b.CHANNELS, *ex05b.STRIDE, *ex05b.SAME, *ex05b.SHAPES]
# float32 Keras against float64 NumPy: 100 times tighter than the checks' own tolerance
TOLERANCE = ex05b_checks._ATOL / 100


@pytest.fixture(scope="module")
def keras():
    return quiet_keras()


def _keras_conv(keras, case, kernels=None):
    _, _, _, _, kh, kw, c_out = case.dims
    layer = keras.layers.Conv2D(c_out, (kh, kw), strides=case.stride, padding=case.padding)
    layer.build(case.x.shape)
    layer.set_weights([case.kernels if kernels is None else kernels, case.bias])
    return keras.ops.convert_to_numpy(layer(case.x)).astype(np.float64)


def _gap(a, b) -> float:
    """The largest difference, relative to the values' scale as the checks take it."""
    if a.shape != b.shape:
        return np.inf
    return float(np.abs(a - b).max() / max(1.0, float(np.abs(b).max())))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.x.shape}-{c.kernels.shape}-s{c.stride}-{c.padding}")
def test_the_conv2d_reference_is_what_keras_computes(keras, case):
    assert _gap(case.expected(), _keras_conv(keras, case)) < TOLERANCE


def test_the_pool_reference_is_what_keras_computes(keras):
    for x, situation in ex05b.pool_inputs():
        expected = keras.ops.convert_to_numpy(keras.layers.MaxPooling2D()(x))
        assert _gap(ex05b.max_pooled(x), expected) == 0, situation


def test_the_comparison_tells_a_mistake_from_keras(keras):
    # The padding's odd row on top instead of at the bottom: "same" cases with odd total padding differ.
    odd = [c for c in ex05b.SAME if sum(c.same_pads(c.x.shape[1], c.kernels.shape[0])) % 2]
    assert odd
    for case in odd:
        top_first = [case.same_pads(case.x.shape[1], case.kernels.shape[0], extra_first=True),
                     case.same_pads(case.x.shape[2], case.kernels.shape[1], extra_first=True)]
        assert _gap(case.convolved(pads=top_first), _keras_conv(keras, case)) > ex05b_checks._ATOL
    # A flipped kernel (a true convolution) on every case with a kernel larger than 1 x 1.
    for case in CASES:
        if case.kernels.shape[:2] != (1, 1):
            assert _gap(case.convolved(kernels=case.kernels[::-1, ::-1]), _keras_conv(keras, case)) > ex05b_checks._ATOL
    # A pool that keeps the odd last row or column (padding "same") is not MaxPooling2D().
    x = ex05b.pool_inputs()[0][0]
    assert _gap(ex05b.max_pooled(x), keras.ops.convert_to_numpy(keras.layers.MaxPooling2D(padding="same")(x))) == np.inf
