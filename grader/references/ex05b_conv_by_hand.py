"""Exercise 05b's references, apart from its checks (grader/checks/ex05b_conv_by_hand.py): the seeded
cases the checks call conv2d and max_pool2d with, and what keras.layers.Conv2D and MaxPooling2D compute
on them, with TensorFlow's own convolution and pooling in float64 (`Case.expected`, `max_pooled`;
tests/test_references.py holds them equal to Keras's layers on every case), with the classic mistakes'
variants (`Case.convolved` with other kernels, pads or stride) that name a likely cause. TensorFlow, so
that pasted into the by-hand file they earn nothing: its worker refuses TensorFlow."""

from __future__ import annotations

import numpy as np

from mnist_course.data import quiet_tensorflow


SEED = 55


class Case:
    """One conv2d call: seeded inputs and the settings it is called with."""

    def __init__(self, h, w, kh, kw, c_in, c_out, stride, padding, n=2):
        rng = np.random.default_rng([SEED, h, w, kh, kw, c_in, c_out, stride, n])
        self.x = rng.standard_normal((n, h, w, c_in)).astype(np.float32)
        self.kernels = rng.standard_normal((kh, kw, c_in, c_out)).astype(np.float32)
        self.bias = rng.standard_normal(c_out).astype(np.float32)
        self.stride, self.padding = stride, padding
        self.shown = (
            f"x (seeded random, shape {self.x.shape}), kernels (shape {self.kernels.shape}), bias (shape {self.bias.shape})"
        )

    @property
    def dims(self):
        n, h, w, c_in = self.x.shape
        kh, kw, _, c_out = self.kernels.shape
        return n, h, w, c_in, kh, kw, c_out

    def out_size(self, size, k, stride=None, padding=None):
        """The output's size along one axis, as TensorFlow's convolution gives it."""
        stride, padding = stride or self.stride, padding or self.padding
        tf = quiet_tensorflow()
        out = tf.nn.conv2d(tf.zeros((1, size, 1, 1)), tf.zeros((k, 1, 1, 1)), strides=[1, stride, 1, 1], padding=padding.upper())
        return int(out.shape[1])

    @property
    def expected_shape(self):
        n, h, w, _, kh, kw, c_out = self.dims
        return (n, self.out_size(h, kh), self.out_size(w, kw), c_out)

    def expected(self) -> np.ndarray:
        """What keras.layers.Conv2D computes with these kernels and this bias
        (in float64; tests/test_references.py compares it with Keras's own)."""
        return self.convolved()

    def same_pads(self, size, k, stride=None, extra_first=False):
        """The zeros "same" padding adds before and after one axis: TensorFlow's split
        (the odd one after), or, `extra_first`, the other one (a classic mistake)."""
        stride = stride or self.stride
        total = max((self.out_size(size, k, stride, "same") - 1) * stride + k - size, 0)
        small, large = total // 2, total - total // 2
        return (large, small) if extra_first else (small, large)

    def convolved(self, kernels=None, bias=None, pads=None, stride=None) -> np.ndarray:
        """TensorFlow's cross-correlation in float64, with explicit pads (for the variants)."""
        tf = quiet_tensorflow()
        kernels = self.kernels if kernels is None else kernels
        bias = self.bias if bias is None else bias
        stride = stride or self.stride
        if pads is None:
            pads = [(0, 0), (0, 0)]
            if self.padding == "same":
                pads = [self.same_pads(self.x.shape[1], kernels.shape[0], stride), self.same_pads(self.x.shape[2], kernels.shape[1], stride)]
        out = tf.nn.conv2d(tf.constant(self.x, tf.float64), tf.constant(kernels, tf.float64), strides=[1, stride, stride, 1],
                           padding=[[0, 0], list(pads[0]), list(pads[1]), [0, 0]])
        return tf.nn.bias_add(out, tf.constant(bias, tf.float64)).numpy()


def cases(*specs) -> list[Case]:
    return [Case(*spec) for spec in specs]


# (h, w, kh, kw, C_in, C_out, stride, padding)
ONE_CHANNEL = cases((7, 9, 3, 3, 1, 1, 1, "valid"), (8, 6, 2, 2, 1, 1, 1, "valid"), (6, 7, 4, 3, 1, 1, 1, "valid"),
                     (9, 8, 2, 5, 1, 1, 1, "valid"))


CHANNELS = cases((7, 9, 3, 3, 3, 4, 1, "valid"), (8, 6, 2, 2, 3, 1, 1, "valid"), (6, 7, 2, 3, 1, 4, 1, "valid"),
                  (9, 8, 1, 1, 3, 4, 1, "valid"))


STRIDE = cases((7, 9, 3, 3, 1, 1, 2, "valid"), (8, 6, 2, 2, 3, 4, 2, "valid"), (9, 8, 3, 2, 3, 4, 2, "valid"),
                (9, 8, 2, 3, 1, 4, 3, "valid"))


SAME = cases((7, 9, 3, 3, 1, 1, 1, "same"), (8, 6, 2, 2, 3, 4, 1, "same"), (6, 7, 4, 3, 1, 4, 1, "same"),
              (7, 9, 5, 5, 3, 1, 1, "same"), (8, 6, 3, 3, 3, 4, 2, "same"), (7, 9, 2, 2, 1, 1, 2, "same"),
              (9, 8, 4, 4, 3, 4, 2, "same"))


SHAPES = cases((7, 9, 3, 3, 1, 1, 1, "valid"), (8, 6, 2, 2, 3, 4, 2, "valid"), (6, 7, 4, 3, 3, 4, 1, "same"),
                (9, 8, 3, 3, 1, 4, 2, "same"))


# (size, kernel, stride, padding)
SIZE_CASES = [
    (28, 3, 1, "valid"), (28, 5, 1, "valid"), (28, 3, 2, "valid"), (27, 3, 2, "valid"), (8, 2, 2, "valid"),
    (7, 3, 3, "valid"), (5, 5, 1, "valid"), (9, 4, 3, "valid"), (6, 1, 1, "valid"), (10, 4, 2, "valid"),
    (28, 3, 1, "same"), (28, 4, 1, "same"), (7, 3, 2, "same"), (27, 5, 2, "same"), (8, 2, 2, "same"),
    (9, 3, 3, "same"), (10, 3, 3, "same"), (5, 5, 1, "same"), (1, 3, 2, "same"), (6, 2, 4, "same"), (7, 2, 1, "same"),
]


def max_pooled(x: np.ndarray) -> np.ndarray:
    """What keras.layers.MaxPooling2D() computes: the largest of each 2 x 2 block,
    an odd last row or column left out (tests/test_references.py compares it with Keras's)."""
    tf = quiet_tensorflow()
    return tf.nn.max_pool2d(tf.constant(x), ksize=2, strides=2, padding="VALID").numpy()


def pool_inputs():
    rng = np.random.default_rng(SEED)
    return [
        (rng.standard_normal((2, 7, 9, 3)).astype(np.float32), "odd height and width, 3 channels"),
        (rng.standard_normal((1, 8, 6, 1)).astype(np.float32), "one channel"),
        (rng.standard_normal((3, 2, 2, 4)).astype(np.float32), "a single 2 x 2 block per channel"),
        (rng.standard_normal((1, 4, 5, 2)).astype(np.float32) - 10, "every value negative (no ReLU before the pool)"),
    ]
