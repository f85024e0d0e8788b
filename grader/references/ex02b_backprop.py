"""Exercise 02b's references, apart from its checks (grader/checks/ex02b/, collected by grader/checks/ex02b_backprop.py): the grader's own
loss and gradients of the two-layer network (TensorFlow's, in float64: unpasteable, as its worker refuses
TensorFlow), centred finite differences of that loss, the inputs the checks call with, the work a training costs, and the
small task drawn for each submission (`unseen_task`). Never imported from solutions/."""

from __future__ import annotations

import math

import numpy as np

from mnist_course.data import quiet_tensorflow


NAMES = ("W1", "b1", "W2", "b2")


GRAD_NAMES = ("dW1", "db1", "dW2", "db2")


FD_STEP = 1e-5  # centred differences in float64: truncation and rounding both near 1e-10


# The network's loss and gradients are TensorFlow's, in float64: a student could read them,
# but pasted into ex02b's file they earn nothing, since its worker refuses TensorFlow
# (course.toml's by_hand_forbids; grader/README.md, "Where the references live").


# The hidden activations a variant asks for (course.toml's [[exercise.variant]] params `hidden`),
# TensorFlow's like everything here: the grader's forward pass measures trained parameters too.
LEAKY_SLOPE = 0.1


def _tf_activation(tf, hidden):
    return {
        "relu": tf.nn.relu,
        # tf.nn.leaky_relu keeps its slope in float32, and tf.maximum's gradient at z = 0 is 1 where the
        # contract takes the slope just below 0: tf.where's is the branch it picks, LEAKY_SLOPE there
        "leaky_relu": lambda z: tf.where(z > 0, z, LEAKY_SLOPE * z),
        "tanh": tf.tanh,
        "elu": tf.nn.elu,
    }[hidden]


def hidden_output(x, params, hidden: str) -> np.ndarray:
    """The hidden layer's output h on x, as an array."""
    tf = quiet_tensorflow()
    W1, b1 = _constants(tf, params[:2])
    return _tf_activation(tf, hidden)(tf.constant(x, tf.float64) @ W1 + b1).numpy()


def logits(x, params, hidden: str) -> np.ndarray:
    """The network's logits on x, as an array: what trained parameters are measured with."""
    return hidden_output(x, params, hidden) @ params[2] + params[3]


def _logits(tf, x, params, hidden="relu", *, linear=False, passed=False):
    """The network's logits on x, as TensorFlow tensors, with the hidden activation `hidden`.
    Two classic mistakes: `linear`, the activation left out; `passed`, the activation forward but
    its gradient passed back as if it were the identity (its derivative forgotten in the backward pass)."""
    W1, b1, W2, b2 = params
    z1 = tf.convert_to_tensor(x, tf.float64) @ W1 + b1  # an array, or a batch gathered inside sgd_replay's graph
    if linear:
        h = z1
    elif passed:
        h = z1 + tf.stop_gradient(_tf_activation(tf, hidden)(z1) - z1)
    else:
        h = _tf_activation(tf, hidden)(z1)
    return h @ W2 + b2


def _cross_entropy(tf, x, y, params, hidden="relu", **mistake):
    """The per-image cross-entropy of the network on (x, y) (`hidden`, `mistake`: as for _logits)."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.convert_to_tensor(y, tf.int64), logits=_logits(tf, x, params, hidden, **mistake))


def _constants(tf, params):
    return [tf.constant(p, tf.float64) for p in params]


def loss(x, y, *params, hidden="relu") -> float:
    tf = quiet_tensorflow()
    return float(tf.reduce_mean(_cross_entropy(tf, x, y, _constants(tf, params), hidden)).numpy())


def _taped(x, y, params, hidden="relu", *, mask=True, mean=True):
    tf = quiet_tensorflow()
    variables = [tf.Variable(p, dtype=tf.float64) for p in params]
    with tf.GradientTape() as tape:
        per_image = _cross_entropy(tf, x, y, variables, hidden, passed=not mask)
        value = tf.reduce_mean(per_image) if mean else tf.reduce_sum(per_image)
    return float(value.numpy()), [g.numpy() for g in tape.gradient(value, variables)]


def grads(x, y, W1, b1, W2, b2, *, hidden="relu", mask=True, mean=True):
    """The reference gradients (dW1, db1, dW2, db2) of the network with the hidden activation
    `hidden`; `mask=False` and `mean=False` give two classic mistakes (the activation's derivative
    left out of the backward pass; the gradient of the summed loss), so a message can name the one
    a submission made."""
    return tuple(_taped(x, y, (W1, b1, W2, b2), hidden, mask=mask, mean=mean)[1])


def finite_differences(x, y, params, hidden="relu"):
    """d loss / d theta for every entry of every parameter, by centred differences
    of the grader's own loss: (L(theta + eps) - L(theta - eps)) / (2 eps)."""
    params = [p.copy() for p in params]
    result = []
    for p in params:
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            keep = p[i]
            p[i] = keep + FD_STEP
            up = loss(x, y, *params, hidden=hidden)
            p[i] = keep - FD_STEP
            down = loss(x, y, *params, hidden=hidden)
            p[i] = keep
            g[i] = (up - down) / (2 * FD_STEP)
        result.append(g)
    return result


def gradient_tape(x, y, params, hidden="relu"):
    """The loss and its gradients from TensorFlow's automatic differentiation, in float64."""
    return _taped(x, y, params, hidden)


def first_layer_sizes(x, y, params, hidden="relu") -> tuple[float, float]:
    """The sizes against which dW1's and db1's errors are measured where f's slope is at stake: the
    largest entry of |x|.T @ |dz1| and of |dz1| summed over the images, dz1 the gradient at the hidden
    sums (TensorFlow's tape). dW1 = x.T @ dz1 and db1 (dz1 summed) can cancel to almost nothing,
    leaving rounding alone to compare; against these sizes, which cannot cancel, rounding stays small."""
    tf = quiet_tensorflow()
    W1, b1, W2, b2 = _constants(tf, params)
    z1 = tf.constant(x, tf.float64) @ W1 + b1
    with tf.GradientTape() as tape:
        tape.watch(z1)
        value = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.constant(y, tf.int64), logits=_tf_activation(tf, hidden)(z1) @ W2 + b2))
    dz1 = np.abs(tape.gradient(value, z1).numpy())
    return float((np.abs(x).T @ dz1).max()), float(dz1.sum(axis=0).max())


def rel_error(got, want) -> float:
    """The largest difference, relative to the largest entry of either array."""
    scale = max(float(np.abs(got).max(initial=0)), float(np.abs(want).max(initial=0)), 1e-12)
    return float(np.abs(got - want).max(initial=0)) / scale


def small_problem(seed: int = 0):
    """5 images of 6 inputs, 4 hidden units, 3 classes, drawn from `seed` (each file's own, drawn when it is
    graded, so that no table worked out at home holds the answers); no hidden sum within 0.05 of 0, where a
    ReLU's (or a leaky ReLU's) kink would have finite differences straddle it."""
    for attempt in range(100):
        rng = np.random.default_rng([seed, attempt])
        x = rng.normal(size=(5, 6))
        params = (rng.normal(0, 0.6, (6, 4)), rng.normal(0, 0.3, 4), rng.normal(0, 0.6, (4, 3)), rng.normal(0, 0.3, 3))
        z1 = x @ params[0] + params[1]
        if np.abs(z1).min() > 0.05 and (z1 > 0).any(axis=0).all() and (z1 < 0).any():
            return x, np.array([2, 0, 1, 1, 0]), params
    raise AssertionError("no small problem without a kink")  # pragma: no cover


SMALL_SHOWN = "x, y, W1, b1, W2, b2 (5 random images of 6 inputs drawn for your file, labels [2, 0, 1, 1, 0], 4 hidden units, 3 classes)"


# The sizes of derivation_problem's images: with b1 = 0 each image's hidden sums are about its size,
# so a slope taken by finite differences of f at a fixed step h, f'(z) ~ (f(z + h) - f(z - h)) / 2h, is
# wrong on one of them whatever h: a step larger than a sum straddles the kink (relu, leaky_relu) or
# the bend (elu) at 0, and a smaller one loses digits to rounding on the sums near 1. tanh has neither;
# there even the best step leaves an error of about 2e-12 (measured: tests/test_references.py). The
# image of zeros puts every hidden sum at exactly 0, where the contract takes the slope just below 0.
# What no input can tell (grader/checks/ex02b_backprop.py): on relu's and leaky_relu's straight pieces
# a difference whose step scales with |z| never leaves its piece, and is the slope itself.
DERIVATION_SIZES = (0.0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 0.2, 0.5, 1.0)


def derivation_problem(seed: int):
    """9 images of 8 inputs, one of each size in DERIVATION_SIZES (in an order drawn from `seed`, as all
    of it is), 5 hidden units with zero biases, 3 classes, labels drawn."""
    rng = np.random.default_rng([seed, 2])
    sizes = rng.permutation(np.array(DERIVATION_SIZES))
    x = rng.normal(size=(len(sizes), 8)) * sizes[:, None]
    params = (rng.normal(0, 0.6, (8, 5)), np.zeros(5), rng.normal(0, 0.6, (5, 3)), rng.normal(0, 0.3, 3))
    return x, rng.integers(0, 3, len(sizes)), params


# The gradients with f's slope taken just above 0 where a hidden sum is exactly 0 (the contract takes it
# just below): the same problem with the biases raised by 1e-300, which moves derivation_problem's sums
# of exactly 0 above it and no other sum (the smallest is about 1e-10); a normal float, as TensorFlow
# flushes subnormal ones to 0.
ABOVE_ZERO = 1e-300


DERIVATION_SHOWN = ("x, y, W1, b1, W2, b2 (9 random images of 8 inputs drawn for your file, each of another size, from 1e-10 "
                    "to 1, and one of zeros, so that the hidden sums range from about 1e-10 to 1 and some are exactly 0; "
                    "5 hidden units with zero biases, 3 classes)")


def mnist_problem(mnist, n=40, hidden=16, seed: int = 11):
    """n real training images (float64, [0, 1]) and He-scaled weights, biases non-zero, all drawn from `seed`."""
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(mnist.x_train), n, replace=False))
    x = mnist.x_train[chosen].reshape(n, -1).astype(np.float64) / 255
    params = (
        rng.normal(0, math.sqrt(2 / x.shape[1]), (x.shape[1], hidden)),
        rng.normal(0, 0.1, hidden),
        rng.normal(0, math.sqrt(2 / hidden), (hidden, 10)),
        rng.normal(0, 0.1, 10),
    )
    return x, mnist.y_train[chosen].astype(np.int64), params


def linear_loss(x, y, params) -> float:
    """The loss of the network with its activation left out (the hidden layer linear): a classic mistake."""
    tf = quiet_tensorflow()
    return float(tf.reduce_mean(_cross_entropy(tf, x, y, _constants(tf, params), linear=True)).numpy())


def floored_loss(x, y, params, hidden="relu") -> float:
    """The loss computed as -ln(max(p, 1e-12)) of softmax's probabilities: what an unstable
    loss floored against log(0) gives."""
    tf = quiet_tensorflow()
    p = tf.nn.softmax(_logits(tf, x, _constants(tf, params), hidden))
    right = tf.gather(p, tf.constant(y, tf.int64), axis=1, batch_dims=1)
    return float(tf.reduce_mean(-tf.math.log(tf.maximum(right, 1e-12))).numpy())


def forward_flops(n_hidden: int) -> int:
    return 2 * (784 * n_hidden + n_hidden * 10)


def work(sgd: dict, n_train: int, n_hidden: int, epochs: int, batch_size: int) -> float:
    return epochs * (n_train * 3 * forward_flops(n_hidden) + math.ceil(n_train / batch_size) * sgd["step_flops"])


def sgd_replay(x, y, start, seed: int, epochs: int, batch_size: int, learning_rate: float, hidden: str = "relu") -> list[np.ndarray]:
    """The contract's training taken on the grader's side, by TensorFlow: from `start` (the student's own
    init_params(seed)), in every epoch the images in the order rng.permutation(N) gives (rng =
    np.random.default_rng(seed)), and after each batch every parameter moved against tf.GradientTape's
    gradient of the batch's mean cross-entropy. What a correct train() returns, to float rounding: 1e-14
    of the largest weight in float64 on mnist-22k over 20 epochs (a loop in float32 drifts 4% to 28%)."""
    tf = quiet_tensorflow()
    variables = [tf.Variable(p, dtype=tf.float64) for p in start]
    images, labels = tf.constant(x, tf.float64), tf.constant(y, tf.int64)

    # One call into TensorFlow per epoch, its batches a loop inside the graph: a call per batch cost
    # more than the arithmetic at batches of 32. The same operations in the same order (bit for bit).
    # Its threads stay TensorFlow's default: ex03b's checks compare the grader's Keras runs with the
    # student's worker's, bit for bit where both have the same threads (benchmarks/REPLAY.md).
    @tf.function
    def epoch(order):
        for first in tf.range(0, tf.shape(order, out_type=tf.int64)[0], batch_size):
            batch = order[first : first + batch_size]
            with tf.GradientTape() as tape:  # the loss every other reference here computes, on one batch
                value = tf.reduce_mean(_cross_entropy(tf, tf.gather(images, batch), tf.gather(labels, batch), variables, hidden))
            for variable, gradient in zip(variables, tape.gradient(value, variables)):
                variable.assign_sub(learning_rate * gradient)

    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        epoch(tf.constant(rng.permutation(len(x))))
    return [v.numpy() for v in variables]


def rotation(seed: int, n: int = 784) -> np.ndarray:
    """An n x n orthogonal matrix drawn from `seed` (uniformly, by the QR decomposition of a Gaussian
    matrix with its signs fixed): MNIST's pixels mixed by it, x @ rotation, keep every distance and
    angle between images, so a dense network learns them as well as the pixels themselves."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def unseen_task(seed: int, spec: dict):
    """A small task no submission can know in advance: 10 classes of images of 784
    pixels in [0, 1], each a noisy copy (70% of its pixels kept, 5% specks) of one
    of three random patterns of its class. Returns (x, y) to train on and (x, y)
    held out."""
    rng = np.random.default_rng(seed)
    n_train = spec["train_images"]
    n = n_train + spec["held_out_images"]
    patterns = (rng.random((10, 3, 784)) < 0.12) * rng.uniform(0.5, 1.0, (10, 3, 784))
    labels = rng.permutation(np.arange(n) % 10).astype(np.int64)
    styles = rng.integers(0, 3, n)
    kept = rng.random((n, 784)) < 0.7
    specks = (rng.random((n, 784)) < 0.05) * rng.uniform(0.0, 1.0, (n, 784))
    x = np.clip(patterns[labels, styles] * kept + specks, 0.0, 1.0)
    return x[:n_train], labels[:n_train], x[n_train:], labels[n_train:]
