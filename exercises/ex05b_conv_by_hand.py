# Exercise 05b · A convolution by hand: your work goes in this file.
# Grade it with `grader ex05b`; ask for a hint with `grader --hint ex05b`.
# (Generated from solutions/ex05b_conv_by_hand.py by `mnist-course build`: course maintainers
# edit the solution and regenerate, never this file.)

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
    # TODO: the number of output positions along one axis for 'valid' or 'same' padding, with your variant's DILATION; raise ValueError for bad input
    #       (lesson 5, "Stride, padding and the output size")
    raise NotImplementedError("conv_output_size() is not started yet")


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
    # TODO: the forward pass of Conv2D with your variant's DILATION: pad for 'same', slide each kernel with the stride, sum over the window's taps and the input channels, add the bias; raise ValueError for bad input
    #       (lesson 5, "A convolution by hand")
    raise NotImplementedError("conv2d() is not started yet")


def max_pool2d(x):
    """The forward pass of keras.layers.MaxPooling2D(POOL) (POOL x POOL blocks, stride POOL, "valid").

    x: a float array of shape (N, H, W, C), H and W at least POOL.
    Returns a float32 array of shape (N, H // POOL, W // POOL, C):
    out[n, i, j, c] is the largest of the POOL * POOL values
    x[n, i*POOL:(i+1)*POOL, j*POOL:(j+1)*POOL, c]. Each channel is pooled on
    its own; the last rows or columns that leave a block short are left out,
    as Keras does. Values may be negative.
    """
    # TODO: the largest value of every POOL x POOL block of each channel (POOL: your variant's), the rows and columns that leave a block short left out
    #       (lesson 5, "A convolution by hand")
    raise NotImplementedError("max_pool2d() is not started yet")


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
    # TODO: the gradients dx, dkernels and dbias of conv2d (your variant's DILATION) for a given dout: each output value's gradient goes back to the pixels and the weights it was computed from; raise ValueError for bad input
    #       (lesson 5, "The backward pass, by hand")
    raise NotImplementedError("conv2d_backward() is not started yet")


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
    # TODO: the gradient dx of max_pool2d (your variant's POOL) for a given dout: each block's gradient to the value that won it, the first of equal ones, and 0 everywhere else
    #       (lesson 5, "The backward pass, by hand")
    raise NotImplementedError("max_pool2d_backward() is not started yet")


def answers():
    """Your answers to this exercise's written questions: about YOUR results, in your own words.

    The grader does not score them. It hands them to your instructor, who grades them by hand
    (2 points in all), and shows them on your feedback page. Write between
    the triple quotes: a few sentences each, with the numbers from your own runs that you rely on.
    """
    return {
        # 1. In your conv2d_backward, a pixel's gradient adds up one contribution for each window that
        # read it. With your variant's DILATION, a 3 x 3 kernel, stride 1 and padding 'valid' on a 9 x 9
        # image: how many windows read pixel (1, 1), and how many read the centre pixel (4, 4)? Say how
        # you counted, and what the difference means for how much the pixels near the border can move the
        # loss, and teach the filters, compared with those in the middle. (2 points)
        "reads": """
        """,
    }
