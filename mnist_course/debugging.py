"""Training runs to debug: exercise 05d and lesson 6's "Debugging a training run".

A run is what a training needs and nothing more: images (float64, one row of 784
pixels each), their labels (int64, 0..9) and a settings dict (`learning_rate`,
`epochs`, `batch_size`, `shuffle`). `train` trains lesson 2's softmax regression on
a run with mini-batch SGD, exactly as its settings say; `accuracy` and `mean_loss`
measure the weights it returns.

`broken_run` draws a run of MNIST digits, scales its pixels by one of CONVENTIONS and
plants one mistake of BUGS in it (or none): the runs exercise 05d diagnoses and repairs, and `your_run` is the one each
student is given to debug by hand. What each mistake is, is written in the
exercise's docstrings; which one a run holds is what the student finds out by
measuring, for the grader draws fresh runs of every kind for each file.

NumPy only: a run trains in a few hundredths of a second, so a diagnosis may train
several. The notebooks import this module; an exercise file cannot (the grader runs
it where the course's package is not there), so exercise 05d trains with a loop of
its own.
"""

from __future__ import annotations

import numpy as np

# The mistakes a run can hold, "none" for a healthy run.
BUGS = ("none", "unscaled_inputs", "shifted_labels", "learning_rate_too_high", "learning_rate_too_low", "sorted_without_shuffle")

# How big a run is: enough digits that a healthy run reads about 87% of held-out digits
# after its epochs, few enough that one trains in a few hundredths of a second.
RUN_IMAGES = 4000


def train(images, labels, settings, seed=0):
    """Softmax regression trained by mini-batch SGD on a run; returns (W, b, batch_losses).

    W (784, 10) starts at small random numbers drawn from `seed`, b at zero. Each epoch
    takes the images in batches of settings["batch_size"]: in a fresh random order when
    settings["shuffle"] is true, in the order given when it is false. After each batch,
    W and b move by settings["learning_rate"] times the gradient of the batch's mean
    cross-entropy. batch_losses holds that mean loss of every batch, before its step.
    """
    images, labels = np.asarray(images, np.float64), np.asarray(labels)
    weights = np.random.default_rng([seed, 1]).normal(0.0, 0.01, (images.shape[1], 10))
    bias = np.zeros(10)
    rate, size = float(settings["learning_rate"]), int(settings["batch_size"])
    batch_losses = []
    with np.errstate(over="ignore", invalid="ignore"):  # a run whose steps are far too big overflows; its losses say so
        for epoch in range(int(settings["epochs"])):
            visit = np.random.default_rng([seed, 2, epoch]).permutation(len(images)) if settings["shuffle"] else np.arange(len(images))
            for chunk in np.array_split(visit, max(1, -(-len(images) // size))):
                probs = _softmax(images[chunk] @ weights + bias)
                rows = np.arange(len(chunk))
                batch_losses.append(_cross_entropy(probs, labels[chunk]))
                probs[rows, labels[chunk]] -= 1.0  # softmax minus one-hot: the loss's gradient at the logits, per image
                weights = weights - rate * images[chunk].T @ probs / len(chunk)
                bias = bias - rate * probs.mean(axis=0)
    return weights, bias, batch_losses


def accuracy(weights, bias, images, labels) -> float:
    """The share of `images` whose largest logit is their label."""
    return float(np.mean((np.asarray(images, np.float64) @ weights + bias).argmax(axis=1) == np.asarray(labels)))


def mean_loss(weights, bias, images, labels) -> float:
    """The mean cross-entropy of the weights on `images`."""
    return _cross_entropy(_softmax(np.asarray(images, np.float64) @ weights + bias), np.asarray(labels))


def _cross_entropy(probs, labels) -> float:
    """The mean of -ln(probability of the label), floored so that a run sure of a wrong answer reads large, not infinite."""
    return float(-np.log(np.maximum(probs[np.arange(len(probs)), labels], 1e-300)).mean())


def _softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


# How a run's pixels are scaled (exercise 05d's variants: PIXELS at the top of its file), with the learning rates
# at which softmax regression trains well on them, and those far too high or far too low (measured with `train`:
# 4,000 digits, 2 epochs, batches of 64, rates from 0.001 to 30; benchmarks/DEBUGGING.md measures the runs drawn
# with them). The wider the pixels' spread, the smaller a good step.
CONVENTIONS = {
    "unit": ("pixels / 255, in [0, 1]", (0.1, 0.2, 0.3, 0.5, 0.8), (30.0, 50.0, 80.0, 120.0), (1e-5, 2e-5, 5e-5, 1e-4)),
    "standardized": ("(pixels / 255 - 0.1307) / 0.3081, MNIST's mean and standard deviation as torchvision normalises them",
                     (0.01, 0.02, 0.03, 0.05, 0.1), (3.0, 5.0, 10.0, 20.0), (1e-6, 2e-6, 5e-6, 1e-5)),
    "signed": ("pixels / 127.5 - 1, in [-1, 1]", (0.005, 0.01, 0.02, 0.03), (1.0, 2.0, 5.0, 10.0), (1e-6, 2e-6, 5e-6)),
}


def scaled(pixels, convention: str):
    """MNIST's raw pixels (0..255) as `convention` scales them, float64."""
    pixels = np.asarray(pixels, np.float64)
    if convention == "standardized":
        return (pixels / 255.0 - 0.1307) / 0.3081
    if convention == "signed":
        return pixels / 127.5 - 1.0
    return pixels / 255.0


def raw_run(images_uint8, labels, rng: np.random.Generator, convention: str = "unit"):
    """A healthy run before its pixels are scaled: RUN_IMAGES of the digits given, drawn by `rng`, as raw
    pixels (0..255, float64, one row each), their labels, and settings drawn among those that train well
    under `convention`; the digits stored in a random order, trained unshuffled half the time, as a run
    stored so may be."""
    pick = rng.choice(len(images_uint8), size=min(RUN_IMAGES, len(images_uint8)), replace=False)
    raw = np.asarray(images_uint8)[pick].reshape(len(pick), -1).astype(np.float64)
    settings = {
        "learning_rate": float(rng.choice(CONVENTIONS[convention][1])),
        "epochs": int(rng.integers(2, 4)),
        "batch_size": int(rng.choice([32, 50, 64, 100, 128])),
        "shuffle": bool(rng.random() < 0.5),
    }
    return raw, np.asarray(labels)[pick].astype(np.int64), settings


def plant(bug: str, raw_pixels, labels, settings, rng: np.random.Generator, convention: str = "unit"):
    """The healthy run (its raw pixels 0..255, labels, settings) with `bug` planted, its pixels scaled by
    `convention` unless the bug is that they are not: (images, labels, settings), new arrays and a new dict."""
    images, labels, settings = scaled(raw_pixels, convention), labels.copy(), dict(settings)
    if bug == "unscaled_inputs":  # the pixels as they were read, 0..255
        images = np.asarray(raw_pixels, np.float64).copy()
    elif bug == "shifted_labels":  # each label moved a few places along, against its image
        labels = np.roll(labels, int(rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5])))
    elif bug == "learning_rate_too_high":
        settings["learning_rate"] = float(rng.choice(CONVENTIONS[convention][2]))
    elif bug == "learning_rate_too_low":
        settings["learning_rate"] = float(rng.choice(CONVENTIONS[convention][3]))
    elif bug == "sorted_without_shuffle":  # the digits stored class by class, and trained in that order
        order = np.argsort(labels, kind="stable")
        images, labels, settings["shuffle"] = images[order], labels[order], False
    elif bug != "none":
        raise ValueError(f"no such mistake: {bug!r}; the mistakes are {', '.join(BUGS)}")
    return images, labels, settings


def broken_run(bug: str, images_uint8, labels, rng: np.random.Generator, convention: str = "unit"):
    """A run drawn from the digits given, pixels scaled by `convention`, with `bug` planted: (images, labels, settings)."""
    return plant(bug, *raw_run(images_uint8, labels, rng, convention), rng, convention)


# The run each variant of exercise 05d is given to debug by hand first (course.toml: PIXELS at the top of its file).
YOUR_RUNS = {"unit": "shifted_labels", "standardized": "learning_rate_too_high", "signed": "sorted_without_shuffle"}


def your_run(pixels: str, mnist=None):
    """Exercise 05d's own run of the variant `pixels` (PIXELS at the top of your file), drawn from MNIST's
    training digits: (images, labels, settings), with one mistake in it for you to find."""
    if pixels not in CONVENTIONS:
        raise ValueError(f"PIXELS must be one of {', '.join(CONVENTIONS)}, got {pixels!r}")
    if mnist is None:
        from mnist_course.data import load_mnist

        mnist = load_mnist()
    return broken_run(YOUR_RUNS[pixels], mnist.x_train, mnist.y_train, np.random.default_rng([5, len(pixels)]), pixels)
