"""Exercise 05b · A convolution by hand (lesson 5: Convolutional networks).

What a Conv2D and a MaxPooling2D layer compute, written in NumPy alone: the
size of a convolution's output, the forward pass of a convolution (strides,
dilation, "valid" and "same" padding, several input and output channels) and
a max-pool, then the backward pass of each: the gradients that training sends
back through them. The grader builds real Keras layers, gives them your
kernels and bias, and compares their output, and the gradients TensorFlow
takes through them, with yours. Loops or vectorised NumPy: each docstring is
the contract the grader checks, and any implementation that keeps it gets
full points.

NumPy by hand: when this file is graded, TensorFlow, Keras, PyTorch, JAX,
SciPy, scikit-learn and the other libraries that would do this work for
you cannot be used, and a function that uses one earns none of its points.
Importing one still succeeds (so your other functions keep theirs), but what
it gives fails when used: a `try: import ... except ImportError` fallback
does not run.
"""

import numpy as np

# Your variant: `grader --variant ex05b` prints the one your student id draws
# (give the id once with `grader --student YOUR-ID`; in the course's notebook,
# the cell at the top prints it). Set these two numbers to it: the file starts
# with the first variant's, which the grader uses when it has no student id.
DILATION = 1  # the step between two of a kernel's taps: 1 puts them side by side
POOL = 2  # max_pool2d's blocks are POOL x POOL pixels, one every POOL pixels


def conv_output_size(size, kernel, stride=1, padding="valid"):
    """How many positions a convolution's output has along one axis.

    size: the input's length along that axis (its height or its width);
    kernel: the kernel's number of taps along it, DILATION positions apart,
    so that it spans (kernel - 1) * DILATION + 1 positions; stride: the step
    between two positions; all three positive ints.
    padding: "valid" (the kernel only where its span fits inside the input)
    or "same" (Keras's convention: zeros around the input so that the output
    has ceil(size / stride) positions).
    Returns a Python int: for "valid", the number of positions a window of
    the kernel's span can take, one every `stride`, inside the input; for
    "same", ceil(size / stride), whatever the kernel.
    Raises ValueError if size, kernel or stride is below 1, if padding is
    neither "valid" nor "same", or if a "valid" kernel's span is longer than
    the input.
    """
    ### BEGIN SOLUTION
    if min(size, kernel, stride) < 1:
        raise ValueError(f"size, kernel and stride must be at least 1, got {size}, {kernel} and {stride}")
    kernel = (kernel - 1) * DILATION + 1  # the positions the kernel's taps span
    if padding == "same":
        return -(-size // stride)  # ceil(size / stride) in integers
    if padding != "valid":
        raise ValueError(f'padding must be "valid" or "same", got {padding!r}')
    if kernel > size:
        raise ValueError(f'a kernel spanning {kernel} positions does not fit in {size} with padding "valid"')
    return (size - kernel) // stride + 1
    ### END SOLUTION


def conv2d(x, kernels, bias, stride=1, padding="valid"):
    """The forward pass of keras.layers.Conv2D(dilation_rate=DILATION) (no activation), in NumPy.

    x: a float array of shape (N, H, W, C_in): N images, channels last.
    kernels: a float array of shape (kh, kw, C_in, C_out), Conv2D's kernel:
    kernels[:, :, c, o] are the weights filter o applies to input channel c.
    bias: a float array of shape (C_out,), one number per filter.
    stride: a positive int, the step between two positions, the same along
    the height and the width.
    padding: "valid" or "same", as in Keras.
    Returns a float32 array of shape (N, out_h, out_w, C_out), where out_h
    and out_w are conv_output_size's answers for H and W. out[n, i, j, o] is
    bias[o] plus the sum, over the kernel's taps (a, b) and over every input
    channel c, of kernels[a, b, c, o] times the pixel of x[n] (padded) at
    row i * stride + a * DILATION, column j * stride + b * DILATION, in
    channel c. The kernel is not flipped: like Keras (and every
    deep-learning library), this "convolution" is a cross-correlation.
    With "same", the input is first surrounded by zeros, as TensorFlow
    does: along each axis, max((out - 1) * stride + span - size, 0) rows
    (or columns) in all, where span = (k - 1) * DILATION + 1, half of them
    before the input and the rest after it, so an odd one goes at the
    bottom (or right). (Keras's own Conv2D refuses a stride above 1 with a
    dilation above 1; this contract defines it all the same.)
    Raises ValueError if x or kernels is not 4-D, if kernels.shape[2] is
    not x's channel count, if bias is not of shape (C_out,), if stride is
    below 1, if padding is neither "valid" nor "same", or if a "valid"
    kernel's span is larger than the image.
    """
    ### BEGIN SOLUTION
    x, kernels, bias = np.asarray(x), np.asarray(kernels), np.asarray(bias)
    if x.ndim != 4 or kernels.ndim != 4:
        raise ValueError(f"x and kernels must be 4-D, got shapes {x.shape} and {kernels.shape}")
    kh, kw, c_in, c_out = kernels.shape
    if x.shape[3] != c_in:
        raise ValueError(f"the kernels expect {c_in} input channels, but x has {x.shape[3]}")
    if bias.shape != (c_out,):
        raise ValueError(f"bias must have shape ({c_out},), got {bias.shape}")
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if padding not in ("valid", "same"):
        raise ValueError(f'padding must be "valid" or "same", got {padding!r}')
    if DILATION > 1:  # the taps DILATION apart: the kernel with DILATION - 1 zeros between two of them
        spread = np.zeros(((kh - 1) * DILATION + 1, (kw - 1) * DILATION + 1, c_in, c_out), kernels.dtype)
        spread[::DILATION, ::DILATION] = kernels
        kernels, (kh, kw) = spread, spread.shape[:2]
    if padding == "valid" and (kh > x.shape[1] or kw > x.shape[2]):
        raise ValueError(f"a {kh} x {kw} kernel does not fit in a {x.shape[1]} x {x.shape[2]} image")
    pads = [(0, 0), (0, 0), (0, 0), (0, 0)]
    if padding == "same":
        for axis, k in ((1, kh), (2, kw)):
            size = x.shape[axis]
            total = max((-(-size // stride) - 1) * stride + k - size, 0)
            pads[axis] = (total // 2, total - total // 2)  # an odd one after the input
    x = np.pad(x.astype(np.float64), pads)
    # every kh x kw window, strided: shape (N, out_h, out_w, C_in, kh, kw)
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    out = np.einsum("nhwcij,ijco->nhwo", windows, kernels.astype(np.float64)) + bias
    return out.astype(np.float32)
    ### END SOLUTION


def max_pool2d(x):
    """The forward pass of keras.layers.MaxPooling2D(POOL) (POOL x POOL blocks, stride POOL, "valid").

    x: a float array of shape (N, H, W, C), H and W at least POOL.
    Returns a float32 array of shape (N, H // POOL, W // POOL, C):
    out[n, i, j, c] is the largest of the POOL * POOL values
    x[n, i*POOL:(i+1)*POOL, j*POOL:(j+1)*POOL, c]. Each channel is pooled on
    its own; the last rows or columns that leave a block short are left out,
    as Keras does. Values may be negative.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x)
    n, h, w, c = x.shape
    blocks = x[:, : h // POOL * POOL, : w // POOL * POOL].reshape(n, h // POOL, POOL, w // POOL, POOL, c)
    return blocks.max(axis=(2, 4)).astype(np.float32)
    ### END SOLUTION


def conv2d_backward(x, kernels, dout, stride=1, padding="valid"):
    """The backward pass of conv2d: the gradients of a loss with respect to its inputs.

    x, kernels, stride and padding: as conv2d takes them (the same shapes,
    the same DILATION). dout: a float array of the shape of conv2d's output,
    (N, out_h, out_w, C_out): the gradient dL/dout of some loss L with
    respect to out = conv2d(x, kernels, bias, stride, padding), for any bias.
    Returns (dx, dkernels, dbias), three float32 arrays of the shapes of x,
    kernels and (C_out,): the gradients dL/dx, dL/dkernels and dL/dbias.
    By the chain rule, dx[n, r, s, c] is the sum, over every output value
    out[n, i, j, o], of dout[n, i, j, o] times the derivative of that value
    with respect to x[n, r, s, c]; dkernels and dbias likewise. The zeros
    that "same" padding adds are not part of x and have no gradient.
    They cost about what the forward pass costs: the grader also calls it
    on an image of 162 x 162 x 4 pixels and on 295,000 weights, and stops
    a call after 10 s of its own time (loops over every output value and
    tap take under a second there; finite differences take minutes).
    Raises ValueError where conv2d would for x, kernels, stride and padding,
    and if dout's shape is not the shape of conv2d's output for them.
    """
    ### BEGIN SOLUTION
    x, kernels, dout = np.asarray(x), np.asarray(kernels), np.asarray(dout)
    if x.ndim != 4 or kernels.ndim != 4:
        raise ValueError(f"x and kernels must be 4-D, got shapes {x.shape} and {kernels.shape}")
    n, h, w, c_in = x.shape
    kh, kw, _, c_out = kernels.shape
    if kernels.shape[2] != c_in:
        raise ValueError(f"the kernels expect {kernels.shape[2]} input channels, but x has {c_in}")
    if stride < 1 or padding not in ("valid", "same"):
        raise ValueError(f'stride must be at least 1 and padding "valid" or "same", got {stride} and {padding!r}')
    shape, pads = [n], [(0, 0)]
    for size, k in ((h, kh), (w, kw)):  # the output's size along each axis, and the zeros "same" adds
        span = (k - 1) * DILATION + 1
        if padding == "valid" and span > size:
            raise ValueError(f'a kernel spanning {span} positions does not fit in {size} with padding "valid"')
        out = -(-size // stride) if padding == "same" else (size - span) // stride + 1
        total = max((out - 1) * stride + span - size, 0) if padding == "same" else 0
        shape.append(out)
        pads.append((total // 2, total - total // 2))
    shape, pads = (*shape, c_out), pads + [(0, 0)]
    if dout.shape != shape:
        raise ValueError(f"dout must have the shape of conv2d's output, {shape}, got {dout.shape}")
    _, out_h, out_w, _ = shape
    padded = np.pad(x.astype(np.float64), pads)
    dpadded = np.zeros_like(padded)
    dkernels = np.zeros(kernels.shape, np.float64)
    g, k = dout.astype(np.float64), kernels.astype(np.float64)
    for a in range(kh):  # tap (a, b) met the pixels a * DILATION, b * DILATION from each window's corner
        for b in range(kw):
            rows = slice(a * DILATION, a * DILATION + (out_h - 1) * stride + 1, stride)
            cols = slice(b * DILATION, b * DILATION + (out_w - 1) * stride + 1, stride)
            dkernels[a, b] = np.einsum("nhwc,nhwo->co", padded[:, rows, cols], g)
            dpadded[:, rows, cols] += np.einsum("nhwo,co->nhwc", g, k[a, b])
    dx = dpadded[:, pads[1][0]:pads[1][0] + h, pads[2][0]:pads[2][0] + w]  # the padding's gradient dropped
    return dx.astype(np.float32), dkernels.astype(np.float32), g.sum(axis=(0, 1, 2)).astype(np.float32)
    ### END SOLUTION


def max_pool2d_backward(x, dout):
    """The backward pass of max_pool2d: the gradient of a loss with respect to its input.

    x: max_pool2d's input, a float array of shape (N, H, W, C), H and W at
    least POOL. dout: a float array of the shape of max_pool2d's output,
    (N, H // POOL, W // POOL, C): the gradient dL/dout of some loss L with
    respect to out = max_pool2d(x).
    Returns a float32 array dx of x's shape, the gradient dL/dx. Where a
    block's largest value is there more than once, the whole of that
    block's gradient goes to the first of them in row-major order (row by
    row, each from left to right), as TensorFlow's MaxPooling2D does.
    """
    ### BEGIN SOLUTION
    x, dout = np.asarray(x), np.asarray(dout)
    if x.ndim != 4:
        raise ValueError(f"x must be 4-D, got shape {x.shape}")
    n, h, w, c = x.shape
    bh, bw = h // POOL, w // POOL
    if dout.shape != (n, bh, bw, c):
        raise ValueError(f"dout must have the shape of max_pool2d's output, {(n, bh, bw, c)}, got {dout.shape}")
    # each block's POOL * POOL values in row-major order on the last axis: (N, bh, bw, C, POOL * POOL)
    blocks = x[:, :bh * POOL, :bw * POOL].reshape(n, bh, POOL, bw, POOL, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, bh, bw, c, -1)
    first = blocks.argmax(axis=-1)  # argmax returns the first largest value
    routed = (np.arange(POOL * POOL) == first[..., None]) * dout[..., None].astype(np.float64)
    dx = np.zeros(x.shape)
    dx[:, :bh * POOL, :bw * POOL] = routed.reshape(n, bh, bw, c, POOL, POOL).transpose(0, 1, 4, 2, 5, 3).reshape(n, bh * POOL, bw * POOL, c)
    return dx.astype(np.float32)
    ### END SOLUTION
