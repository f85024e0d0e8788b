# Exercise 02b · Backpropagation by hand: your work goes in this file.
# Grade it with `grader ex02b`; ask for a hint with `grader --hint ex02b`.
# (Generated from solutions/ex02b_backprop.py by `mnist-course build`: course maintainers
# edit the solution and regenerate, never this file.)

"""Exercise 02b · Backpropagation by hand (lesson 2: A first dense network).

A network with one hidden layer and a softmax output, in NumPy alone:
its initialisation, its loss, the gradients of that loss (derived by you with
the chain rule) and the mini-batch gradient descent that trains it. The
grader checks your gradients against its own finite differences and against
tf.GradientTape, then trains the network with your own loop twice: on a small
task drawn for your file alone, which it must learn, and on MNIST, where it
measures the parameters your loop returns on the test set (that accuracy counts
only for a loop that learned the first task). MNIST reaches your train() with
each image's 784 pixels mixed by a rotation drawn for each grading (an
orthogonal matrix, so the values are no longer in [0, 1]), the test images mixed
alike: a dense network's first layer takes any rotation of its input in, so it
learns the mixed images as well as the pixels themselves, while weights trained
beforehand read them as noise. Each docstring is the contract the grader checks: any implementation that
keeps it gets full points.

The network, for a batch `x` of N flattened images, shape (N, n_in):

    z1 = x @ W1 + b1       (N, n_hidden)   the hidden layer's weighted sums
    h  = f(z1)             (N, n_hidden)   your variant's hidden activation, HIDDEN
    z2 = h @ W2 + b2       (N, n_out)      the logits
    p  = softmax(z2)       (N, n_out)      one row of probabilities per image
    loss = the mean over the N images of -ln p[i, y[i]]

f is applied to each number of z1 on its own; HIDDEN, below, names it:

    "relu"         f(z) = max(z, 0)
    "leaky_relu"   f(z) = z where z > 0, and 0.1 * z elsewhere
    "tanh"         f(z) = tanh(z)
    "elu"          f(z) = z where z > 0, and exp(z) - 1 elsewhere

Every array is float64.

NumPy by hand: when this file is graded, TensorFlow, Keras, PyTorch, JAX,
SciPy, scikit-learn and the other libraries that would do this work for
you cannot be used, and a function that uses one earns none of its points.
Importing one still succeeds (so your other functions keep theirs), but what
it gives fails when used: a `try: import ... except ImportError` fallback
does not run.
"""

import numpy as np

# Your variant: `grader --variant ex02b` prints the one your student id draws
# (give the id once with `grader --student YOUR-ID`; in the course's notebook,
# the cell at the top prints it). Set HIDDEN to it: the file starts with the
# first variant's, which the grader uses when it has no student id.
HIDDEN = "relu"  # the hidden layer's activation f: "relu", "leaky_relu", "tanh" or "elu"


def init_params(seed, n_in, n_hidden, n_out):
    """Fresh parameters for the network, drawn from np.random.default_rng(seed).

    seed: an int; the same seed gives the same parameters.
    Returns (W1, b1, W2, b2): float64 arrays of shapes (n_in, n_hidden),
    (n_hidden,), (n_hidden, n_out) and (n_out,). The weights are random, so
    that no two hidden units start alike, at He scale (standard deviation
    sqrt(2 / fan_in)) or Glorot scale (sqrt(2 / (fan_in + fan_out))), drawn
    from a normal or a uniform distribution; the biases are zeros.
    """
    # TODO: draw W1 and W2 at He or Glorot scale from np.random.default_rng(seed), biases zero; return (W1, b1, W2, b2) as float64
    #       (lesson 2, "Initialising the weights")
    raise NotImplementedError("init_params() is not started yet")


def loss(x, y, W1, b1, W2, b2):
    """The network's mean cross-entropy on a batch.

    x: float64 array (N, n_in), N >= 1; y: integer labels (N,) in 0..n_out-1;
    W1, b1, W2, b2 as init_params returns them.
    Returns the mean over the N images of -ln p[i, y[i]], as a float.
    The result is finite for any finite input, however large the logits:
    compute the log of the softmax stably, subtracting each row's largest
    logit before exp.
    """
    # TODO: the forward pass (your variant's hidden activation HIDDEN, softmax output) and the mean cross-entropy, computed stably
    #       (lesson 2, "Backpropagation through a hidden layer")
    raise NotImplementedError("loss() is not started yet")


def gradients(x, y, W1, b1, W2, b2):
    """The loss and its gradient with respect to every parameter (backpropagation).

    Arguments as for loss().
    Returns (loss, dW1, db1, dW2, db2): the loss as loss() computes it, then
    float64 arrays of the shapes of W1, b1, W2 and b2, where dW1[i, j] is the
    derivative of the mean loss with respect to W1[i, j], and so on. Work
    them out with the chain rule, layer by layer from the loss back to W1;
    where f has a kink (a hidden sum of exactly 0), take the slope f has
    just below 0. The work is about that of three
    forward passes: on 512 images and 256 hidden units the grader allows
    10 s of the call's own time, which finite differences of the loss (two
    forward passes per parameter) are far from. The grader also compares
    them with TensorFlow's to a relative 1e-13, on hidden sums from 0 to
    about 1 in size: a slope derived and coded as a formula agrees to
    rounding; one taken by finite differences of f at a fixed step does not.
    """
    # TODO: backpropagate: the loss and dW1, db1, dW2, db2 of the mean loss, by the chain rule
    #       (lesson 2, "Backpropagation through a hidden layer")
    raise NotImplementedError("gradients() is not started yet")


def sgd_settings():
    """The settings the grader trains your network with, as a dict.

    Returns {"n_hidden": int, "epochs": int, "batch_size": int,
    "learning_rate": float}: n_hidden from 1 to 1024, epochs from 1 to 50,
    batch_size from 1 to the number of training images, learning_rate above 0.
    Before training, the grader counts the work they ask for:
        epochs x (N x 3 x forward + ceil(N / batch_size) x 1 MFLOP),
    with N the training images and forward = 2 x (784 x n_hidden + n_hidden x 10)
    FLOPs, one image through the network. It may be at most 3 times the
    reference's work on the same data (on the course's 22,699 images: at most
    873 GFLOP, 3 x the reference's 291 GFLOP).
    """
    # TODO: return the dict of n_hidden, epochs, batch_size and learning_rate your train() is graded with
    #       (lesson 2, "A training loop of your own")
    raise NotImplementedError("sgd_settings() is not started yet")


def train(x, y, n_hidden, epochs, batch_size, learning_rate, seed):
    """Train the network by mini-batch stochastic gradient descent.

    x: float64 array (N, 784), one flattened image a row; y: int64 labels (N,)
    in 0..9. Start from init_params(seed, 784, n_hidden, 10). In every epoch,
    visit the N images in the order rng.permutation(N) gives (rng =
    np.random.default_rng(seed), one for the whole run) in batches of
    batch_size, and after each batch move every parameter against its
    gradient: W <- W - learning_rate * dW.
    Returns (W1, b1, W2, b2) after the last epoch, float64 arrays shaped as
    init_params's: compute in float64 throughout, as the grader, which takes
    the same steps itself and compares, does.
    The same arguments give the same parameters. Use nothing but the arguments:
    the grader calls train() on MNIST with your sgd_settings() (each image's
    pixels mixed by a rotation drawn for each grading), and also on a small task
    of its own (other images, other settings) that it must learn.
    """
    # TODO: mini-batch SGD: start from init_params(seed, ...), shuffle every epoch, step every parameter against its gradient; return the parameters
    #       (lesson 2, "A training loop of your own")
    raise NotImplementedError("train() is not started yet")


def answers():
    """Your answers to this exercise's written questions: about YOUR results, in your own words.

    The grader does not score them. It hands them to your instructor, who grades them by hand
    (2 points in all), and shows them on your feedback page. Write between
    the triple quotes: a few sentences each, with the numbers from your own runs that you rely on.
    """
    return {
        # 1. Derive the slope f'(z) of your variant's hidden activation (HIDDEN) step by step, for z below
        # 0 and above 0, and say what you take at z = 0 (where your f has a kink, if it has one) and why
        # the contract's choice there does not change your gradients in practice. Then explain why, in
        # your gradients(), the gradient at h is multiplied by f'(z1) number by number rather than by a
        # matrix. (2 points)
        "slope": """
        """,
    }
