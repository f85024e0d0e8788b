"""Exercise 05c · Optimizers by hand (lesson 6: Training recipes and ablations).

What Keras's optimizers do with a gradient, written in NumPy alone: one step
of SGD with momentum and the largest learning rate at which it converges,
derived; one step of an adaptive optimizer with its bias correction; and a
training loop that carries each optimizer's state from step to step. The grader gives Keras's own optimizers (keras.optimizers.SGD,
Adam, Adamax) the same weights and the same gradients, step after step, and
compares their weights with yours after every step; then it trains softmax
regression with your fit() and with Keras, on a small task drawn for your
file, and compares the trained weights.

Each step function takes what the optimizer keeps between steps (zeros
before the first step; after it, what the previous step returned) and
returns the new weights with what it keeps now. The grader only hands those
arrays back to you at the next step, so keep in them whatever it needs.

NumPy by hand: when this file is graded, TensorFlow, Keras, PyTorch, JAX,
SciPy, scikit-learn and the other libraries that would do this work for
you cannot be used, and a function that uses one earns none of its points.
Importing one still succeeds (so your other functions keep theirs), but what
it gives fails when used: a `try: import ... except ImportError` fallback
does not run.
"""

import numpy as np

# Your variant: `grader --variant ex05c` prints the one your student id draws
# (give the id once with `grader --student YOUR-ID`; in the course's notebook,
# the cell at the top prints it). Set these two names to it: the file starts
# with the first variant's, which the grader uses when it has no student id.
MOMENTUM = "classic"  # momentum_step's kind: "classic" or "nesterov"
ADAPTIVE = "adam"  # adaptive_step's optimizer: "adam", "amsgrad" or "adamax"


def momentum_step(weights, gradient, velocity, learning_rate=0.01, momentum=0.9):
    """One step of keras.optimizers.SGD(learning_rate, momentum, nesterov=(MOMENTUM == "nesterov")).

    weights, gradient: float64 arrays of the same shape, the weights before
    this step and the gradient of the loss at them.
    velocity: a float64 array of the weights' shape: zeros before the first
    step; after it, the velocity the previous step returned.
    learning_rate, momentum: positive floats, the same at every step.
    The optimizer keeps one velocity for every weight and hands it from
    step to step. "classic" is heavy-ball momentum, lesson 6's running sum
    of past steps; "nesterov" is Nesterov's accelerated gradient in the form
    Keras's nesterov=True takes (Bengio et al.'s 2013 rewriting of Sutskever
    et al.'s look-ahead, which needs no gradient at a second point). Start
    from lesson 6, 'Optimizers by hand', and Keras's SGD documentation.
    Returns (new_weights, new_velocity), new float64 arrays of the weights'
    shape; weights and gradient are left unchanged.
    """
    ### BEGIN SOLUTION
    weights, gradient = np.asarray(weights, np.float64), np.asarray(gradient, np.float64)
    velocity = momentum * np.asarray(velocity, np.float64) - learning_rate * gradient
    if MOMENTUM == "nesterov":
        return weights + momentum * velocity - learning_rate * gradient, velocity
    return weights + velocity, velocity
    ### END SOLUTION


def largest_stable_rate(curvature, momentum=0.9):
    """The learning rate at which your momentum (MOMENTUM) stops converging along one direction.

    curvature: a positive float h. Along this direction the loss is
    f(w) = h * w**2 / 2, so the gradient at w is h * w.
    momentum: a float, 0 <= momentum < 1.
    Returns a Python float: the learning rate that separates the rates at
    which momentum_step, started anywhere and given f's gradient at every
    step, brings the weight to 0 (every rate below it) from those at which
    it does not (this rate and every rate above). Lesson 6, 'Optimizers by
    hand', finds it for plain SGD: 2 / h. With momentum, a step carries two
    numbers along each direction, the weight and its velocity, from one
    step to the next.
    """
    ### BEGIN SOLUTION
    if MOMENTUM == "nesterov":
        return 2 * (1 + momentum) / ((1 + 2 * momentum) * curvature)
    return 2 * (1 + momentum) / curvature
    ### END SOLUTION


def adaptive_step(weights, gradient, moments, step, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """One step of your variant's adaptive optimizer, ADAPTIVE, as Keras takes it.

    ADAPTIVE names the optimizer, whose step you find in its paper (lesson 6,
    'Optimizers by hand', names them) and in Keras's documentation:
    - "adam": keras.optimizers.Adam, with the bias correction of both moments;
    - "amsgrad": keras.optimizers.Adam(amsgrad=True): Adam that divides by the
      largest second moment so far, the maximum taken over the moments before
      their bias correction (as Keras and PyTorch do), then corrected as Adam's;
    - "adamax": keras.optimizers.Adamax, the infinity-norm form of Adam.
    weights, gradient: float64 arrays of the same shape.
    moments: a float64 array of shape (3,) + weights.shape: zeros before the
    first step; after it, what the previous step returned. It holds up to
    three running numbers for each weight (Adam and Adamax keep two, AMSGrad
    three); leave what yours does not need at zero.
    step: an int, this step's number: 1 for the first step.
    learning_rate, beta_1, beta_2, epsilon: floats, the same at every step.
    epsilon only keeps a division finite: the grader's gradients are never so
    small that where you add it makes a difference.
    Returns (new_weights, new_moments), new float64 arrays of the shapes of
    weights and moments; weights, gradient and moments are left unchanged.
    """
    ### BEGIN SOLUTION
    weights, gradient = np.asarray(weights, np.float64), np.asarray(gradient, np.float64)
    m, v, v_max = np.asarray(moments, np.float64)  # the first moment, the second, and AMSGrad's largest second
    m = beta_1 * m + (1 - beta_1) * gradient
    if ADAPTIVE == "adamax":
        v = np.maximum(beta_2 * v, np.abs(gradient))  # the infinity norm's running maximum: no correction needed
        return weights - learning_rate / (1 - beta_1**step) * m / (v + epsilon), np.stack([m, v, v_max])
    v = beta_2 * v + (1 - beta_2) * gradient**2
    if ADAPTIVE == "amsgrad":
        v_max = np.maximum(v_max, v)
    m_hat = m / (1 - beta_1**step)
    v_hat = (v_max if ADAPTIVE == "amsgrad" else v) / (1 - beta_2**step)
    return weights - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), np.stack([m, v, v_max])
    ### END SOLUTION


def fit(images, labels, optimizer="adaptive", learning_rate=0.001, epochs=1, batch_size=32, seed=0):
    """Train softmax regression (lesson 2's first model) with one of your steps.

    images: a float64 array (N, D), one image (or feature vector) per row.
    labels: an int array (N,) of digits 0..9.
    The model is lesson 2's: logits = images @ W + b, a softmax, and the
    mean cross-entropy of a batch as its loss. W (D, 10) and b (10,) are
    float64 and start at zero.
    optimizer: "sgd" (a plain step: minus learning_rate times the gradient),
    "momentum" (your momentum_step with momentum 0.9) or "adaptive" (your
    adaptive_step with its default betas and epsilon=1e-10, so small that
    where it is added cannot matter), each at learning_rate.
    Each epoch visits every image once, in the order that
    np.random.default_rng(seed).permutation(N) gives, from one generator made
    once for the whole training (so a new order every epoch), in batches of
    batch_size images taken in that order (the last one smaller where N is
    not a multiple of batch_size). For each batch: the gradient of its mean
    loss with respect to W and b, then one step of W and one step of b.
    Returns (W, b), float64 arrays.
    """
    ### BEGIN SOLUTION
    images, labels = np.asarray(images, np.float64), np.asarray(labels)
    params = [np.zeros((images.shape[1], 10)), np.zeros(10)]  # W and b
    kept = [np.zeros((3, *p.shape)) for p in params]  # what the optimizer keeps: each parameter its own
    rng = np.random.default_rng(seed)
    steps = 0  # counted over the whole training: batches, not epochs
    for _ in range(epochs):
        order = rng.permutation(len(images))
        for start in range(0, len(images), batch_size):
            batch = order[start:start + batch_size]
            x, y = images[batch], labels[batch]
            logits = x @ params[0] + params[1]
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(batch)), y] -= 1  # p - onehot(y): the gradient of the loss with respect to the logits
            p /= len(batch)  # of the batch's mean loss
            steps += 1
            for i, gradient in enumerate((x.T @ p, p.sum(axis=0))):
                if optimizer == "sgd":
                    params[i] = params[i] - learning_rate * gradient
                elif optimizer == "momentum":
                    params[i], kept[i][0] = momentum_step(params[i], gradient, kept[i][0], learning_rate, 0.9)
                else:
                    params[i], kept[i] = adaptive_step(params[i], gradient, kept[i], steps, learning_rate, epsilon=1e-10)
    return params[0], params[1]
    ### END SOLUTION
