"""ex05c's references: what Keras's own optimizers do with the gradients the checks hand a student,
and softmax regression trained by Keras on the small task drawn for each file.

Keras is the answer here, and the by-hand worker refuses it (course.toml `by_hand_forbids`), so
nothing below can be pasted into a submission. Everything runs in float64 (Keras casts the
learning rate and the betas to the variable's dtype), so a step that follows the contract agrees
with these to about 1e-15. The gradient sequences and the task are plain NumPy: they answer
nothing.
"""

from __future__ import annotations

import functools

import numpy as np

MOMENTUM_KINDS = ("classic", "nesterov")
ADAPTIVE_KINDS = ("adam", "amsgrad", "adamax")
FIT_MOMENTUM, FIT_EPSILON = 0.9, 1e-10  # fit()'s momentum and adaptive epsilon, as its contract says


@functools.cache
def _keras():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    return keras


def optimizer(kind: str, learning_rate: float, *, momentum: float = 0.9, beta_1: float = 0.9, beta_2: float = 0.999,
              epsilon: float = 1e-7):
    """A fresh Keras optimizer: "sgd", a momentum kind or an adaptive kind, its learning rate a float64 (Keras
    keeps it in floatx, float32 by default, which would round 0.01 at the eighth digit)."""
    keras = _keras()
    floatx = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        return _made(keras.optimizers, kind, learning_rate, momentum, beta_1, beta_2, epsilon)
    finally:
        keras.config.set_floatx(floatx)


def _made(opt, kind, learning_rate, momentum, beta_1, beta_2, epsilon):
    if kind == "sgd":
        return opt.SGD(learning_rate)
    if kind in MOMENTUM_KINDS:
        return opt.SGD(learning_rate, momentum=momentum, nesterov=kind == "nesterov")
    if kind == "adamax":
        return opt.Adamax(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
    if kind in ("adam", "amsgrad"):
        return opt.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=kind == "amsgrad")
    raise ValueError(f"no optimizer {kind!r}")


def keras_steps(kind: str, weights: np.ndarray, gradients: list[np.ndarray], learning_rate: float, **hyper) -> list[np.ndarray]:
    """The weights after each of Keras's steps, one per gradient, from `weights`."""
    keras = _keras()
    variable = keras.Variable(np.array(weights, np.float64), dtype="float64")
    opt = optimizer(kind, learning_rate, **hyper)
    after = []
    for gradient in gradients:
        opt.apply([keras.ops.convert_to_tensor(np.asarray(gradient, np.float64))], [variable])
        after.append(np.array(variable.numpy(), np.float64))
    return after


def step_map(kind: str, curvature: float, momentum: float, learning_rate: float) -> np.ndarray:
    """The linear map one step of Keras's SGD (`kind`: a momentum kind, or plain SGD where momentum is 0) makes of
    (weight, velocity) along a direction of curvature h (just the weight without momentum), read off by applying
    Keras's step to each unit state."""
    keras = _keras()
    states = ((1.0, 0.0),) if momentum == 0 else ((1.0, 0.0), (0.0, 1.0))
    columns = []
    for w0, v0 in states:
        opt = optimizer("sgd" if momentum == 0 else kind, learning_rate, momentum=momentum)
        var = keras.Variable(np.array([w0]), dtype="float64")
        opt.build([var])
        if momentum:
            opt.momentums[0].assign(np.array([v0]))
        opt.apply([keras.ops.convert_to_tensor(np.array([curvature * w0]))], [var])
        columns.append([var.numpy()[0], opt.momentums[0].numpy()[0]] if momentum else [var.numpy()[0]])
    return np.array(columns).T


def largest_stable_rate(kind: str, curvature: float, momentum: float) -> float:
    """Where Keras's step map along a direction of curvature h reaches an eigenvalue of size 1: SciPy's root finder
    on the map's spectral radius. The map is read from Keras's optimizer itself, never written here: an SGD step is
    linear in the learning rate, so two readings (rates 0 and 1) give it at every rate, and the search itself needs
    no more Keras calls (hundreds of eager optimizers per grading were slow on a loaded machine)."""
    from scipy.linalg import eigvals
    from scipy.optimize import brentq

    at_zero = step_map(kind, curvature, momentum, 0.0)
    per_rate = step_map(kind, curvature, momentum, 1.0) - at_zero
    excess = lambda rate: float(np.abs(eigvals(at_zero + rate * per_rate)).max()) - 1.0
    high = 1.0
    while excess(high) < 0:
        high *= 2
    low = high / 2
    while excess(low) >= 0:
        low /= 2
    return float(brentq(excess, low, high, xtol=1e-15, rtol=1e-14))


def batches(n: int, epochs: int, batch_size: int, seed: int, *, order: str = "contract") -> list[np.ndarray]:
    """fit()'s batches, as its contract orders them ("contract": one generator, a new permutation every
    epoch), or as two look-alikes do: "same every epoch" (a new generator each epoch) and "unshuffled"."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        if order == "same every epoch":
            rng = np.random.default_rng(seed)
        permutation = np.arange(n) if order == "unshuffled" else rng.permutation(n)
        out += [permutation[start:start + batch_size] for start in range(0, n, batch_size)]
    return out


def keras_fit(images: np.ndarray, labels: np.ndarray, kind: str, learning_rate: float, batch_order) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression from zeros, trained with Keras's optimizer `kind` on `batch_order` (fit()'s
    `batches`, or a look-alike's); the gradient of each batch's mean cross-entropy by TensorFlow's tape.
    Returns (W, b)."""
    keras = _keras()
    import tensorflow as tf

    W = keras.Variable(np.zeros((images.shape[1], 10)), dtype="float64")
    b = keras.Variable(np.zeros(10), dtype="float64")
    opt = optimizer(kind, learning_rate, momentum=FIT_MOMENTUM, epsilon=FIT_EPSILON)
    x_all, y_all = tf.constant(np.asarray(images, np.float64)), tf.constant(np.asarray(labels, np.int64))
    for batch in batch_order:
        x, y = tf.gather(x_all, batch), tf.gather(y_all, batch)
        with tf.GradientTape() as tape:
            logits = tf.matmul(x, W.value) + b.value
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        opt.apply(tape.gradient(loss, [W.value, b.value]), [W, b])
    return np.array(W.numpy()), np.array(b.numpy())


def batch_gradients(x: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gradients of the batch's mean cross-entropy with respect to W and b, by TensorFlow's tape (float64)."""
    _keras()
    import tensorflow as tf

    W, b = tf.Variable(np.asarray(W, np.float64)), tf.Variable(np.asarray(b, np.float64))
    with tf.GradientTape() as tape:
        logits = tf.matmul(tf.constant(np.asarray(x, np.float64)), W) + b
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(np.asarray(y, np.int64)), logits=logits))
    dW, db = tape.gradient(loss, [W, b])
    return dW.numpy(), db.numpy()


# ---------------------------------------------------------------- the inputs (NumPy: they answer nothing)


def gradient_sequence(seed, shape: tuple[int, ...], steps: int, *, fall_at: int | None = None, rise_at: int | None = None
                      ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Starting weights and `steps` gradients: each number's size between 0.05 and 2 times a scale of its own
    (from 0.01 to 10, so that an adaptive step's size shows it ignores the scale), either sign; after step
    `fall_at` every gradient is a hundred times smaller, so that AMSGrad's largest second moment, Adamax's
    running maximum and Adam's falling one part ways; from step `rise_at` every gradient is three times its first
    size, above anything the largest second moment has held, so that a maximum fed back into the running average
    (a classic AMSGrad mistake) parts from the real one too. No number is near 0: where epsilon is added cannot matter."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=shape)
    scale = 10.0 ** rng.uniform(-2, 1, size=shape)
    gradients = []
    for step in range(steps):
        factor = 3.0 if rise_at is not None and step >= rise_at else 0.01 if fall_at is not None and step >= fall_at else 1.0
        size = rng.uniform(0.05, 2.0, size=shape) * scale * factor
        gradients.append(np.where(rng.random(shape) < 0.5, -size, size))
    return weights, gradients


def task(seed, n: int = 250, features: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A small ten-class task for fit(): Gaussian clusters that overlap, so the gradients stay large after
    several epochs (no feature is ever near 0 for a whole batch). 250 points: no batch size the checks
    use divides it, so every epoch ends with a smaller batch."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.5, size=(10, features))
    labels = rng.integers(0, 10, size=n)
    images = centres[labels] + rng.normal(size=(n, features))
    return images, labels
