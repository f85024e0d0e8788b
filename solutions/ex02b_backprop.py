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
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    W1 = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_hidden))
    W2 = rng.normal(0.0, np.sqrt(2.0 / n_hidden), size=(n_hidden, n_out))
    return W1, np.zeros(n_hidden), W2, np.zeros(n_out)
    ### END SOLUTION


def loss(x, y, W1, b1, W2, b2):
    """The network's mean cross-entropy on a batch.

    x: float64 array (N, n_in), N >= 1; y: integer labels (N,) in 0..n_out-1;
    W1, b1, W2, b2 as init_params returns them.
    Returns the mean over the N images of -ln p[i, y[i]], as a float.
    The result is finite for any finite input, however large the logits:
    compute the log of the softmax stably, subtracting each row's largest
    logit before exp.
    """
    ### BEGIN SOLUTION
    z1 = x @ W1 + b1
    z2 = np.maximum(z1, 0.0) @ W2 + b2  # f(z1), the hidden activation, then the logits
    z2 = z2 - z2.max(axis=1, keepdims=True)
    log_p = z2 - np.log(np.exp(z2).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    n = len(x)
    z1 = x @ W1 + b1
    h = np.maximum(z1, 0.0)  # f(z1), the hidden activation
    z2 = h @ W2 + b2
    z2 = z2 - z2.max(axis=1, keepdims=True)
    log_p = z2 - np.log(np.exp(z2).sum(axis=1, keepdims=True))
    value = float(-log_p[np.arange(n), y].mean())
    dz2 = np.exp(log_p)  # dloss/dz2 = (p - onehot(y)) / N
    dz2[np.arange(n), y] -= 1.0
    dz2 /= n
    dW2 = h.T @ dz2
    db2 = dz2.sum(axis=0)
    slope = (z1 > 0).astype(np.float64)  # f'(z1): ReLU's slope is 1 where z1 > 0 and 0 elsewhere
    dz1 = (dz2 @ W2.T) * slope  # back through f: the gradient at h times f's slope
    dW1 = x.T @ dz1
    db1 = dz1.sum(axis=0)
    return value, dW1, db1, dW2, db2
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    return {"n_hidden": 128, "epochs": 20, "batch_size": 32, "learning_rate": 0.1}
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    params = list(init_params(seed, x.shape[1], n_hidden, 10))
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            _, *grads = gradients(x[batch], y[batch], *params)
            for param, grad in zip(params, grads):
                param -= learning_rate * grad
    return tuple(params)
    ### END SOLUTION
