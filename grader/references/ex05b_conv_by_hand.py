"""Exercise 05b's references, apart from its checks (grader/checks/ex05b/, collected by grader/checks/ex05b_conv_by_hand.py): the seeded
cases the checks call conv2d, max_pool2d and their backward passes with, and what keras.layers.Conv2D and MaxPooling2D compute
on them, with SciPy's n-dimensional correlation and maximum filter in float64 (`Case.expected`,
`max_pooled`; tests/test_references.py holds them equal to Keras's layers on every case), the
gradients TensorFlow takes back through them (`Case.gradients`, `pool_gradient`, from the same correlation
and maximum filter; tests/test_references.py holds them equal to tf.GradientTape's and to finite
differences), with the classic mistakes' variants (`Case.convolved` and `Case.gradients` with other
kernels, pads or stride) that name a likely cause. SciPy, so that pasted into the by-hand file they
earn nothing: its worker refuses SciPy; and scipy.ndimage alone, whose import costs a grading about
0.15 s where TensorFlow's cost 4 s (scipy.signal's would add 0.9 s).

Every case and answer is for one variant (course.toml's ex05b variants): `dilation`, the step between
two of a kernel's taps, and `pool`, the side of max_pool2d's blocks. A dilated kernel is computed as
the kernel with dilation - 1 zeros between its taps (`spread`): what Conv2D(dilation_rate=d) computes,
and what it cannot, a stride above 1 with it (tests/test_references.py holds both). Every variant's
cases are the same inputs, grown for the largest dilation (GROWTH), so that a file cannot tell its
variant from what it is called with; only the expected answers differ."""

from __future__ import annotations

import copy

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

    def __init__(self, h, w, kh, kw, c_in, c_out, stride, padding, n=2, dilation=1, seed=SEED):
        h, w = h + (kh - 1) * (GROWTH - 1), w + (kw - 1) * (GROWTH - 1)
        self.dilation, self.seed = dilation, seed
        rng = np.random.default_rng([seed, h, w, kh, kw, c_in, c_out, stride, n])
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
        (_, h, w, _), (kh, kw) = x.shape, kernels.shape[:2]
        if h < kh or w < kw:
            return None
        # each filter's kernel as deep as the image: the window's sum over every channel
        out = np.stack([np.stack([_valid_correlation(image, kernels[..., o])[:, :, 0]
                                  for o in range(kernels.shape[3])], axis=-1) for image in x])
        return out[:, ::stride, ::stride] + np.asarray(bias, np.float64)

    def on_dilation(self, dilation: int) -> Case:
        """The same call, graded on another variant's dilation."""
        other = copy.copy(self)
        other.dilation = dilation
        return other

    def dout(self) -> np.ndarray:
        """The seeded gradient dL/dout that conv2d_backward is called with on this case."""
        rng = np.random.default_rng([self.seed, *self.x.shape, *self.kernels.shape, self.stride, 7])
        return rng.standard_normal(self.expected_shape).astype(np.float32)

    def pads(self, extra_first=False, dilation=None) -> list[tuple[int, int]]:
        """The zeros conv2d adds before and after the height and the width."""
        if self.padding == "valid":
            return [(0, 0), (0, 0)]
        (_, h, w, _), (kh, kw) = self.x.shape, self.kernels.shape[:2]
        return [self.same_pads(h, kh, extra_first=extra_first, dilation=dilation),
                self.same_pads(w, kw, extra_first=extra_first, dilation=dilation)]

    def gradients(self, dout=None, pads=None, stride=None, dilation=None, kernels=None, flipped=False, parts=("dx", "dkernels")):
        """(dx, dkernels, dbias) in float64: the gradients of sum(conv2d(x, kernels, bias) * dout), as
        TensorFlow takes them. dout placed every stride-th pixel (the rest zeros) is correlated with
        the padded image for the kernels' gradient, and convolved with each kernel (a true, flipped
        convolution: `flipped` makes it a correlation, a classic mistake) for the image's, whose
        padding is then cut off. `pads`, `stride`, `dilation` and `kernels`: for the mistakes;
        `parts`: the gradients worked out (None for the other, on the cost probes' large inputs)."""
        dout = self.dout() if dout is None else np.asarray(dout, np.float64)
        stride, dilation = stride or self.stride, dilation or self.dilation
        pads = self.pads(dilation=dilation) if pads is None else pads
        spread_k = spread(np.asarray(self.kernels if kernels is None else kernels, np.float64), dilation)
        x = np.pad(self.x.astype(np.float64), [(0, 0), tuple(pads[0]), tuple(pads[1]), (0, 0)])
        (n, _, _, c_in), (kh, kw, _, c_out) = x.shape, spread_k.shape
        placed = np.zeros((n, (dout.shape[1] - 1) * stride + 1, (dout.shape[2] - 1) * stride + 1, c_out))
        placed[:, ::stride, ::stride] = dout
        dx = dk = None
        if "dkernels" in parts:  # each filter's dout against every channel of the image at once
            spread_dk = np.zeros(spread_k.shape)
            for i in range(n):
                for o in range(c_out):
                    spread_dk[:, :, :, o] += _valid_correlation(x[i], placed[i, :, :, o, None])[:kh, :kw]
            dk = spread_dk[::dilation, ::dilation]
        if "dx" in parts:
            # a full convolution with a kernel is a valid correlation, with the kernel turned around, of
            # the input surrounded by kernel - 1 zeros; each channel of x gets every filter's at once
            around = np.pad(placed, [(0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)])
            back_k = spread_k if flipped else spread_k[::-1, ::-1]
            dxp = np.zeros(x.shape)
            for i in range(n):
                for c in range(c_in):
                    back = _valid_correlation(around[i], back_k[:, :, c, :])[:x.shape[1], :x.shape[2], 0]
                    dxp[i, :back.shape[0], :back.shape[1], c] = back
            h, w = self.x.shape[1:3]
            dx = dxp[:, pads[0][0]:pads[0][0] + h, pads[1][0]:pads[1][0] + w]
        return dx, dk, dout.sum(axis=(0, 1, 2))


def _valid_correlation(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """out[i, j, k] = the sum of kernel[a, b, c] * image[i + a, j + b, k + c], wherever the kernel lies
    whole inside the (h, w, depth) image: SciPy's correlation, which centres the kernel on each pixel
    (at size // 2 along each axis), read where the window whose corner is (i, j, k) is centred, as
    `Case.convolved` reads it. A kernel as deep as the image adds up every channel (k = 0 only)."""
    from scipy import ndimage

    full = ndimage.correlate(image, kernel, mode="constant")
    return full[tuple(slice(k // 2, k // 2 + size - k + 1) for size, k in zip(image.shape, kernel.shape))]


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


# conv2d_backward's cases: every kind of the forward's, each padding at stride 1 and above, one input
# channel and three, one filter and four
BACKWARD = ((7, 9, 3, 3, 1, 1, 1, "valid"), (7, 9, 3, 3, 3, 4, 1, "valid"), (6, 7, 4, 3, 1, 4, 1, "valid"),
            (9, 8, 3, 2, 3, 4, 2, "valid"), (9, 8, 2, 3, 1, 4, 3, "valid"), (8, 6, 2, 2, 3, 4, 1, "same"),
            (7, 9, 5, 5, 3, 1, 1, "same"), (8, 6, 3, 3, 3, 4, 2, "same"), (9, 8, 4, 4, 3, 4, 2, "same"))


# conv2d_backward's cost probes (grader/checks/ex05b/conv2d_backward.py, `_costs_what_backprop_costs`):
# one image each, one with many pixels (105,000) and one with many weights (295,000; 3 x 3 pixels,
# stride 3 and "same", so that every variant's output is one position). Backpropagation costs about
# one forward pass on each; finite differences cost two forward passes per pixel or per weight.
COST_PROBES = {"dx": (160, 160, 3, 3, 4, 1, 1, "valid"), "dkernels": (1, 1, 3, 3, 128, 256, 3, "same")}


def cost_probe(gradient: str, dilation: int, seed: int) -> Case:
    """The probe of `gradient` ("dx" or "dkernels"), graded on a variant's dilation, its numbers drawn
    from `seed`: a seed drawn for each file at grading time (the checks' `_probe_seed`), so that no
    answer to a probe can be worked out at home and stored in the file."""
    return Case(*COST_PROBES[gradient], n=1, dilation=dilation, seed=seed)


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


def pool_gradient(x: np.ndarray, dout: np.ndarray, pool: int = 2, ties: str = "first") -> np.ndarray:
    """What TensorFlow's gradient of MaxPooling2D(pool) gives (tests/test_references.py holds them
    equal): each block's dout on the block's largest value, found with SciPy's maximum filter (`max_pooled`), the
    first of them in row-major order where it is there more than once; nothing for the rows and
    columns left out. `ties`: "first", or a classic mistake's "every" (each of them gets all of it)
    or "last"; "spread" gives every value of the block dout / pool**2 (an average pool's gradient)."""
    n, h, w, c = x.shape
    bh, bw = h // pool, w // pool
    cut = x[:, :bh * pool, :bw * pool].astype(np.float64)
    largest = max_pooled(cut, pool)
    spread_back = np.repeat(np.repeat(np.asarray(dout, np.float64), pool, axis=1), pool, axis=2)
    if ties == "spread":
        routed = spread_back / pool**2
    else:
        top = cut == np.repeat(np.repeat(largest, pool, axis=1), pool, axis=2)
        if ties != "every":  # keep one of each block's largest: its first in row-major order, or its last
            # each block's values in row-major order on the last axis, for the one chosen in each block
            order = top.reshape(n, bh, pool, bw, pool, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, bh, bw, c, -1)
            seen = np.cumsum(order, axis=-1) if ties == "first" else np.cumsum(order[..., ::-1], axis=-1)[..., ::-1]
            chosen = order & (seen == 1)
            top = chosen.reshape(n, bh, bw, c, pool, pool).transpose(0, 1, 4, 2, 5, 3).reshape(top.shape)
        routed = top * spread_back
    dx = np.zeros(x.shape)
    dx[:, :bh * pool, :bw * pool] = routed
    return dx


def pool_gradient_inputs():
    """(x, situation) pairs max_pool2d_backward is called with, the same for every variant's pool, by
    check: "values", without a tie in any block, and "ties", with many."""
    rng = np.random.default_rng([SEED, 2])
    return {
        "values": [
            (rng.standard_normal((2, 7, 9, 3)).astype(np.float32), "a height and width that leave rows and columns out, 3 channels"),
            (rng.standard_normal((3, 6, 6, 4)).astype(np.float32), "6 x 6 images, every pixel in a block"),
            (rng.standard_normal((1, 8, 7, 2)).astype(np.float32) - 10, "every value negative (no ReLU before the pool)"),
        ],
        "ties": [
            (np.round(rng.standard_normal((2, 6, 7, 2))).astype(np.float32), "whole numbers, so that a block's largest value is often there twice"),
            (np.maximum(rng.standard_normal((1, 9, 6, 3)) - 1, 0).astype(np.float32), "after a ReLU: blocks of zeros, where every value is the largest"),
        ],
    }


def pool_dout(x: np.ndarray, pool: int) -> np.ndarray:
    """The seeded gradient dL/dout that max_pool2d_backward is called with on x, for a pool."""
    n, h, w, c = x.shape
    return np.random.default_rng([SEED, *x.shape, pool, 9]).standard_normal((n, h // pool, w // pool, c)).astype(np.float32)
