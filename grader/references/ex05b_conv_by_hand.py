"""Exercise 05b's references, apart from its checks (grader/checks/ex05b_conv_by_hand.py): the seeded
cases the checks call conv2d and max_pool2d with, and what keras.layers.Conv2D and MaxPooling2D compute
on them, with SciPy's n-dimensional correlation and maximum filter in float64 (`Case.expected`,
`max_pooled`; tests/test_references.py holds them equal to Keras's layers on every case), with the
classic mistakes' variants (`Case.convolved` with other kernels, pads or stride) that name a likely
cause. SciPy, so that pasted into the by-hand file they earn nothing: its worker refuses SciPy; and
scipy.ndimage, whose import costs a grading about 0.15 s where TensorFlow's cost 4 s.

Every case and answer is for one variant (course.toml's ex05b variants): `dilation`, the step between
two of a kernel's taps, and `pool`, the side of max_pool2d's blocks. A dilated kernel is computed as
the kernel with dilation - 1 zeros between its taps (`spread`): what Conv2D(dilation_rate=d) computes,
and what it cannot, a stride above 1 with it (tests/test_references.py holds both). Every variant's
cases are the same inputs, grown for the largest dilation (GROWTH), so that a file cannot tell its
variant from what it is called with; only the expected answers differ."""

from __future__ import annotations

import numpy as np


SEED = 55
# The largest dilation a variant of ex05b asks (course.toml; tests/test_references.py holds them equal):
# every case's image and every "valid" size grows by (kernel - 1) * (GROWTH - 1), for every variant alike.
GROWTH = 2


def span(kernel: int, dilation: int) -> int:
    """The positions a kernel of `kernel` taps covers along one axis, its taps `dilation` apart."""
    return (kernel - 1) * dilation + 1


def spread(kernels: np.ndarray, dilation: int) -> np.ndarray:
    """Conv2D's kernels with their taps `dilation` apart: dilation - 1 zeros between two taps."""
    if dilation == 1:
        return kernels
    kh, kw = kernels.shape[:2]
    out = np.zeros((span(kh, dilation), span(kw, dilation), *kernels.shape[2:]), kernels.dtype)
    out[::dilation, ::dilation] = kernels
    return out


def output_size(size: int, kernel: int, stride: int, padding: str, dilation: int) -> int | None:
    """The number of positions conv2d's output has along one axis, counted as SciPy's correlation
    places the kernel: "valid", the window's places where it lies whole inside the input; "same",
    one place per input pixel; every stride-th of them. None where a "valid" kernel does not fit."""
    from scipy import ndimage

    reach = span(kernel, dilation)
    if padding == "valid" and reach > size:
        return None
    places = np.ones(size, dtype=bool)
    if padding == "valid":  # where a window of ones over ones adds up to its whole length
        places = ndimage.correlate1d(np.ones(size), np.ones(reach), mode="constant") == reach
    return int(np.flatnonzero(places)[::stride].size)


class Case:
    """One conv2d call: seeded inputs and the settings it is called with, and the variant's dilation
    it is graded on (the image grown by (k - 1) * (GROWTH - 1) along each axis, whatever the dilation)."""

    def __init__(self, h, w, kh, kw, c_in, c_out, stride, padding, n=2, dilation=1):
        h, w = h + (kh - 1) * (GROWTH - 1), w + (kw - 1) * (GROWTH - 1)
        self.dilation = dilation
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

    def out_size(self, size, k, stride=None, padding=None, dilation=None):
        """The output's size along one axis, as TensorFlow's convolution gives it (None: no fit)."""
        return output_size(size, k, stride or self.stride, padding or self.padding, dilation or self.dilation)

    @property
    def expected_shape(self):
        n, h, w, _, kh, kw, c_out = self.dims
        return (n, self.out_size(h, kh), self.out_size(w, kw), c_out)

    def expected(self) -> np.ndarray:
        """What keras.layers.Conv2D computes with these kernels and this bias
        (in float64; tests/test_references.py compares it with Keras's own)."""
        return self.convolved()

    def same_pads(self, size, k, stride=None, extra_first=False, dilation=None):
        """The zeros "same" padding adds before and after one axis: TensorFlow's split
        (the odd one after), or, `extra_first`, the other one (a classic mistake)."""
        stride, dilation = stride or self.stride, dilation or self.dilation
        total = max((self.out_size(size, k, stride, "same") - 1) * stride + span(k, dilation) - size, 0)
        small, large = total // 2, total - total // 2
        return (large, small) if extra_first else (small, large)

    def convolved(self, kernels=None, bias=None, pads=None, stride=None, dilation=None) -> np.ndarray | None:
        """SciPy's cross-correlation in float64, with explicit pads, stride or dilation (for the
        mistakes, and for another variant's answer); None where the kernel does not fit the input."""
        from scipy import ndimage

        kernels = self.kernels if kernels is None else kernels
        bias = self.bias if bias is None else bias
        stride, dilation = stride or self.stride, dilation or self.dilation
        if pads is None:
            pads = [(0, 0), (0, 0)]
            if self.padding == "same":
                pads = [self.same_pads(self.x.shape[1], kernels.shape[0], stride, dilation=dilation),
                        self.same_pads(self.x.shape[2], kernels.shape[1], stride, dilation=dilation)]
        kernels = spread(np.asarray(kernels, np.float64), dilation)
        x = np.pad(self.x.astype(np.float64), [(0, 0), tuple(pads[0]), tuple(pads[1]), (0, 0)])
        (_, h, w, c_in), (kh, kw) = x.shape, kernels.shape[:2]
        if h < kh or w < kw:
            return None
        # ndimage centres the kernel on each pixel (at index k // 2 of each axis): the window whose
        # top-left corner is (i, j) is the one centred on (i + kh // 2, j + kw // 2), across every channel
        rows, cols = slice(kh // 2, kh // 2 + h - kh + 1), slice(kw // 2, kw // 2 + w - kw + 1)
        out = np.stack([np.stack([ndimage.correlate(image, kernels[..., o], mode="constant")[rows, cols, c_in // 2]
                                  for o in range(kernels.shape[3])], axis=-1) for image in x])
        return out[:, ::stride, ::stride] + np.asarray(bias, np.float64)


def cases(specs, dilation: int = 1) -> list[Case]:
    """The cases of `specs` (one of the tuples below), graded on a variant's dilation."""
    return [Case(*spec, dilation=dilation) for spec in specs]


# (h, w, kh, kw, C_in, C_out, stride, padding): the sizes before `Case` grows the image by GROWTH
ONE_CHANNEL = ((7, 9, 3, 3, 1, 1, 1, "valid"), (8, 6, 2, 2, 1, 1, 1, "valid"), (6, 7, 4, 3, 1, 1, 1, "valid"),
               (9, 8, 2, 5, 1, 1, 1, "valid"))


CHANNELS = ((7, 9, 3, 3, 3, 4, 1, "valid"), (8, 6, 2, 2, 3, 1, 1, "valid"), (6, 7, 2, 3, 1, 4, 1, "valid"),
            (9, 8, 1, 1, 3, 4, 1, "valid"))


STRIDE = ((7, 9, 3, 3, 1, 1, 2, "valid"), (8, 6, 2, 2, 3, 4, 2, "valid"), (9, 8, 3, 2, 3, 4, 2, "valid"),
          (9, 8, 2, 3, 1, 4, 3, "valid"))


SAME = ((7, 9, 3, 3, 1, 1, 1, "same"), (8, 6, 2, 2, 3, 4, 1, "same"), (6, 7, 4, 3, 1, 4, 1, "same"),
        (7, 9, 5, 5, 3, 1, 1, "same"), (8, 6, 3, 3, 3, 4, 2, "same"), (7, 9, 2, 2, 1, 1, 2, "same"),
        (9, 8, 4, 4, 3, 4, 2, "same"))


SHAPES = ((7, 9, 3, 3, 1, 1, 1, "valid"), (8, 6, 2, 2, 3, 4, 2, "valid"), (6, 7, 4, 3, 3, 4, 1, "same"),
          (9, 8, 3, 3, 1, 4, 2, "same"))


# (size, kernel, stride, padding): `size_cases` grows a "valid" size by GROWTH
SIZE_CASES = [
    (28, 3, 1, "valid"), (28, 5, 1, "valid"), (28, 3, 2, "valid"), (27, 3, 2, "valid"), (8, 2, 2, "valid"),
    (7, 3, 3, "valid"), (5, 5, 1, "valid"), (9, 4, 3, "valid"), (6, 1, 1, "valid"), (10, 4, 2, "valid"),
    (28, 3, 1, "same"), (28, 4, 1, "same"), (7, 3, 2, "same"), (27, 5, 2, "same"), (8, 2, 2, "same"),
    (9, 3, 3, "same"), (10, 3, 3, "same"), (5, 5, 1, "same"), (1, 3, 2, "same"), (6, 2, 4, "same"), (7, 2, 1, "same"),
]


def size_cases() -> list[tuple[int, int, int, str]]:
    """SIZE_CASES as every variant is called with them: a "valid" size grown by (kernel - 1) * (GROWTH - 1)."""
    return [(size + (kernel - 1) * (GROWTH - 1) if padding == "valid" else size, kernel, stride, padding)
            for size, kernel, stride, padding in SIZE_CASES]


def max_pooled(x: np.ndarray, pool: int = 2) -> np.ndarray | None:
    """What keras.layers.MaxPooling2D(pool) computes: the largest of each pool x pool block, the
    rows and columns that leave a block short left out (tests/test_references.py compares it with
    Keras's), from SciPy's maximum filter read at each block's centre; None where the image is
    smaller than one block."""
    from scipy import ndimage

    if min(x.shape[1:3]) < pool:
        return None
    h, w = x.shape[1] // pool * pool, x.shape[2] // pool * pool
    return ndimage.maximum_filter(x[:, :h, :w], size=(1, pool, pool, 1))[:, pool // 2::pool, pool // 2::pool]


def pool_inputs():
    """The inputs max_pool2d is called with, the same for every variant's pool (2 or 3)."""
    rng = np.random.default_rng(SEED)
    return [
        (rng.standard_normal((2, 7, 9, 3)).astype(np.float32), "a height and width that leave rows and columns out, 3 channels"),
        (rng.standard_normal((1, 8, 6, 1)).astype(np.float32), "one channel"),
        (rng.standard_normal((3, 6, 6, 4)).astype(np.float32), "6 x 6 images, every pixel in a block"),
        (rng.standard_normal((1, 4, 5, 2)).astype(np.float32) - 10, "every value negative (no ReLU before the pool)"),
    ]
