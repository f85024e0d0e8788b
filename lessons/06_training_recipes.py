# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Training recipes and ablations
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/mnist-course/mnist-course/blob/main/lessons/06_training_recipes.ipynb)
#
# **What you will do:** check a training set-up in seconds by overfitting one batch;
# compare SGD, momentum and Adam on one network and find a learning rate with a range
# test; turn a CNN into a stronger one by changing how it is trained (a
# learning-rate schedule, every training image, varied augmentation); see what batch
# normalisation does in training and at prediction time; run a small ablation yourself
# to find out what each addition buys; and measure what more data would buy. The model
# this lesson trains is the one lesson 7 puts to real use.

# %%
# In Colab, fetch and install the course first; anywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import os
    import subprocess

    home = "/content/mnist-course"
    if not os.path.isdir(home):
        subprocess.run(["git", "clone", "--depth", "1", "https://github.com/mnist-course/mnist-course", home], check=True)
    # Colab has TensorFlow, NumPy, Matplotlib, Pillow and pytest: install the course and a
    # recent Keras alone (the course's Jupyter tools would replace the IPython Colab runs on).
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    subprocess.run([*pip, "--editable", home, "keras>=3.11,<4"], check=True)
    sys.path.insert(0, home)  # importable now, without restarting the runtime
    os.chdir(home)  # where exercises/ are, and `!grader` grades them

# %% [markdown]
# ## Setup
#
# The course's `quiet_keras()` imports Keras without TensorFlow's start-up notes (see
# lesson 2).
#
# The whole lesson takes 5 to 10 minutes on 2 CPU cores, most of it the stronger CNN
# (10 epochs on the course's 22,699 training images, 12 to 20 seconds each) and the small
# ablation. When the course's test suite runs this
# notebook it sets `MNIST_COURSE_QUICK=1` and trains on a few thousand images for one
# epoch instead: those models are barely trained, so their numbers come out far lower
# than the ones quoted below.

# %%
import json
import os
from pathlib import Path

import numpy as np
import matplotlib.pyplot as plt

from mnist_course.data import load_mnist, quiet_keras
import mnist_course
from mnist_course.models import STRONGER_CNN_SETTINGS, stronger_cnn

keras = quiet_keras()

QUICK = os.environ.get("MNIST_COURSE_QUICK") == "1"

data = load_mnist()
print(data.provenance.describe())

# Raw pixels 0..255 with a channel axis, as every CNN of the course takes them.
x_train = data.x_train[..., np.newaxis].astype("float32")
x_test = data.x_test[..., np.newaxis].astype("float32")
y_train, y_test = data.y_train, data.y_test
print(f"{len(x_train):,} training images, {len(x_test):,} test images, shape {x_train.shape[1:]}")

# %% [markdown]
# ## A sanity check first: overfit one small batch
#
# Before spending minutes on a training recipe, spend seconds on a check that catches
# the bugs that stop a network from learning at all: train on a single small batch until
# it is learned by heart. Any network with enough parameters can memorise 64 images; if
# the training loss does not fall to almost zero, something in the plumbing is broken
# (gradients that never reach the weights, a loss wired to the wrong output, a learning
# rate wildly off) and no recipe will fix it. It does *not* catch bad data: a network
# this size memorises 64 images even with their labels shuffled or their pixels
# unscaled. Those show up elsewhere: in lesson 1's look at the images and labels, and in
# a validation accuracy near chance. Here, lesson 2's dense network on the first 64
# training images:

# %%
def dense_net():
    """Lesson 2's dense network, on images with a channel axis as this lesson keeps them."""
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                             keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")])

keras.utils.set_random_seed(0)
net = dense_net()
net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
one_batch = net.fit(x_train[:64], y_train[:64], epochs=60 if QUICK else 100, batch_size=64, verbose=0).history
print(f"64 images, {len(one_batch['loss'])} steps: training loss {one_batch['loss'][0]:.2f} -> "
      f"{one_batch['loss'][-1]:.4f}, accuracy {one_batch['accuracy'][-1]:.0%}")

# %% [markdown]
# The loss starts at 2.30, which is ln 10: ten equally likely digits, as lesson 2's check
# at initialisation expects. After 100 steps it is below 0.01 and every one of the 64
# images is right. That proves nothing about generalisation (the network has memorised
# them), which is the point: it proves the plumbing works, so a later failure is about
# the recipe, not a bug.

# %% [markdown]
# ## Optimizers and the learning rate
#
# Lesson 2 trained by plain gradient descent: step against the gradient, times the
# learning rate. Keras's optimizers all start there and differ in how they take a step:
#
# - **SGD** (stochastic gradient descent) on mini-batches: exactly lesson 2's step, with
#   the gradient of one batch instead of the whole data set.
# - **SGD with momentum** keeps a running sum of past steps (here 0.9 of the previous
#   step plus the new gradient), so it gathers speed along directions where the gradients
#   agree and cancels the zigzag where they do not.
# - **Adam** also keeps a momentum, and divides each weight's step by the square root of
#   a running average of that weight's squared gradients, so weights with small, rare gradients still move.
#   It is the default of this course because it works well with its default learning
#   rate on most problems.
#
# The same network, the same seed, three epochs with each:

# The plot shows each batch's own training loss. Keras does not log that: after each
# batch it logs the mean loss of the epoch so far, weighted by the batch sizes (the last
# batch of an epoch is smaller), and starts that mean afresh every epoch. A running mean
# hides how noisy single steps are and lags behind the model, so the callback below
# recovers each batch's loss from two consecutive means: the loss summed over the epoch
# so far, minus the same sum one batch earlier, divided by the batch's size.

# %%
class BatchLosses(keras.callbacks.Callback):
    """Each training batch's own loss, recovered from the epoch's running mean that Keras logs."""

    def __init__(self, n_samples, batch_size):
        super().__init__()
        self.n_samples, self.batch_size = n_samples, batch_size
        self.losses = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen, self.summed = 0, 0.0  # images so far this epoch, and their summed loss

    def on_train_batch_end(self, batch, logs=None):
        size = min(self.batch_size, self.n_samples - self.seen)
        self.seen += size
        summed = logs["loss"] * self.seen
        self.losses.append((summed - self.summed) / size)
        self.summed = summed


opt_epochs, n_opt = (1, 3000) if QUICK else (3, len(x_train))
n_fit = n_opt - n_opt // 10  # the first 90% train, the last 10% validate
optimizers = {
    "SGD, 0.01": lambda: keras.optimizers.SGD(0.01),
    "SGD, 0.1": lambda: keras.optimizers.SGD(0.1),
    "SGD + momentum 0.9, 0.01": lambda: keras.optimizers.SGD(0.01, momentum=0.9),
    "Adam, 0.001": lambda: keras.optimizers.Adam(0.001),
}
fig, ax = plt.subplots(figsize=(6, 3.2))
for name, make in optimizers.items():
    keras.utils.set_random_seed(0)
    net = dense_net()
    net.compile(optimizer=make(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    losses = BatchLosses(n_fit, batch_size=128)
    history = net.fit(x_train[:n_fit], y_train[:n_fit], epochs=opt_epochs, batch_size=128,
                      validation_data=(x_train[n_fit:n_opt], y_train[n_fit:n_opt]), callbacks=[losses], verbose=0).history
    line, = ax.plot(losses.losses, alpha=0.25, linewidth=0.8)
    smooth = np.convolve(losses.losses, np.ones(20) / 20, mode="valid")  # the mean of 20 batches
    ax.plot(np.arange(19, len(losses.losses)), smooth, color=line.get_color(), label=name)
    print(f"{name:26s} after {opt_epochs} epochs: training loss {history['loss'][-1]:.3f}, "
          f"validation accuracy {history['val_accuracy'][-1]:.2%}")
ax.set(xlabel="training step (one batch of 128)", ylabel="training loss of each batch",
       title="Three optimizers, one network", ylim=(0, 2.5))
ax.legend()
plt.tight_layout()
# Alt text: Training loss of each batch of 128 against the training step for four optimizers (SGD at 0.01 and 0.1, SGD with momentum 0.9, Adam at 0.001), faint per batch and smoothed in a solid line.
plt.show()

# %% [markdown]
# Each faint line is the loss of every single batch, the solid line the mean of the last
# 20 batches. The batches scatter widely around that mean (some batches are simply
# harder than others), which is why a single step's loss says little. It is also why
# the loss Keras prints while training, the running mean of the epoch so far, sits
# above the current loss while the loss is falling: it still remembers the epoch's
# first, worse steps.
#
# After three epochs plain SGD at 0.01 is still far behind (validation accuracy about
# 85%), momentum has closed most of the gap (about 91.5%), and Adam leads (about 94.1%).
# But look at the second row: plain SGD at 0.1 does as well as momentum at 0.01 (about
# 91.9% against 91.5%). With a momentum of 0.9, a step keeps adding nine tenths of the one before, so
# along a steady slope it grows to about ten times the gradient step: most of what
# momentum bought here is a larger effective learning rate. What it adds beyond that is
# smoother steps where the gradients zigzag, and less sensitivity to the exact rate.
# This is not a ranking for all time: plain SGD with a larger learning rate, or with a
# schedule and many more epochs, is still what trains many of the best image models.
# What it shows is that **the optimizer and its learning rate go together**: an
# optimizer is only as good as the learning rate you give it.
#
# So how do you find a learning rate for a new network without a long grid search? The
# **learning-rate range test** (fast.ai's `lr_find`) takes one short training run: start
# with a tiny learning rate and multiply it by a constant factor after every batch, up to
# a huge one, recording the loss of each batch. While the rate is too small the loss
# barely moves; in the useful range it falls fast; past it, the steps overshoot and the
# loss blows up. A good learning rate sits well inside the falling part, about a tenth of
# the rate where the loss is lowest.

# %%
class LearningRateRange(keras.callbacks.Callback):
    """Raise the learning rate by a constant factor at every batch, from `low` to `high`."""

    def __init__(self, low, high, steps):
        super().__init__()
        self.rates = low * (high / low) ** (np.arange(steps) / (steps - 1))

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rates[min(batch, len(self.rates) - 1)])


n_range = 3000 if QUICK else 12_800
keras.utils.set_random_seed(0)
net = dense_net()
net.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy")
finder = LearningRateRange(1e-5, 1.0, steps=n_range // 64)
per_batch = BatchLosses(n_range, batch_size=64)  # each batch's own loss, as for the optimizers
net.fit(x_train[:n_range], y_train[:n_range], epochs=1, batch_size=64, callbacks=[finder, per_batch], verbose=0)
batch_loss = np.array(per_batch.losses)
smooth = np.convolve(batch_loss, np.ones(5) / 5, mode="valid")  # the mean of 5 batches
rates = finder.rates[2:len(batch_loss) - 2]  # the rate at the middle batch of each mean
lowest = rates[np.argmin(smooth)]
print(f"lowest loss at learning rate {lowest:.3g}; a tenth of that: {lowest / 10:.2g}")

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.semilogx(rates, smooth)
ax.axvline(lowest, color="gray", linestyle=":", label=f"lowest loss ({lowest:.2g})")
ax.axvline(lowest / 10, color="tab:green", linestyle="--", label=f"a tenth of it ({lowest / 10:.2g})")
ax.set(xlabel="learning rate (log scale)", ylabel="training loss (5 batches)", title="Learning-rate range test, Adam",
       ylim=(0, 3 * smooth[0]))
ax.legend()
plt.tight_layout()
# Alt text: Training loss against the learning rate on a log scale in a range test for Adam: flat at small rates, falling to a lowest point, then rising steeply; the lowest point and a tenth of it are marked.
plt.show()

# %% [markdown]
# The curve is flat up to about 0.0001, falls steeply to its lowest near 0.014, and
# climbs sharply beyond about 0.1: steps that large jump across the valley instead of
# down it. A tenth of the lowest point is 0.0014, close to Adam's default of 0.001: that
# fits the default working well for this network, though it is one range test of one
# network from one seed. For a network of your own, run
# the test once before you tune anything else; it costs one short epoch.
#
# Two cautions. The test measures the loss of a network in its first steps, not after
# training, so it suggests a starting rate, not a schedule. And it is noisy: read the
# shape of the curve, not its third decimal.

# %% [markdown]
# ## Optimizers by hand
#
# Every optimizer above takes three things in, the weights, the gradient of the loss at
# those weights and a **state** (whatever it remembers from earlier steps), and gives
# two back: the new weights and the new state. Plain SGD remembers nothing, so its state
# stays `None`; momentum remembers a velocity, Adam two running averages and how many
# steps it has taken. The training loop hands the state each call returns to the next.
#
# A problem small enough to watch shows what the other optimizers are for: the quadratic
# f(w) = ½ (w₀² + 20 w₁²), whose gradient is (w₀, 20 w₁). Its contour lines are a long,
# narrow valley, shallow along w₀ and twenty times steeper along w₁. Plain SGD from one
# start, 30 steps at three learning rates:

# %%
curvature = np.array([1.0, 20.0])  # f(w) = 0.5 * (1 * w0**2 + 20 * w1**2): shallow along w0, steep along w1


def sgd_step(w, grad, state, learning_rate):
    """Plain SGD as an optimizer: (weights, gradient, state) in, (new weights, new state) out."""
    return w - learning_rate * grad, state  # it remembers nothing: its state stays None


def descend(step, w, n_steps, **settings):
    """n_steps of `step` on the quadratic, each call handed the state the one before returned."""
    state, path = None, [w]
    for _ in range(n_steps):
        w, state = step(w, curvature * w, state, **settings)  # curvature * w is f's gradient at w
        path.append(w)
    return np.array(path)


paths = {rate: descend(sgd_step, np.array([-5.0, 1.5]), 30, learning_rate=rate) for rate in (0.02, 0.09, 0.105)}
for rate, path in paths.items():
    w = path[-1]
    print(f"learning rate {rate:<5}  after 30 steps: w0 = {w[0]:.4f}, w1 = {w[1]:.4f}, f = {0.5 * curvature @ w**2:.4g}")

grid0, grid1 = np.meshgrid(np.linspace(-5.5, 1, 200), np.linspace(-2, 2, 200))
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.contour(grid0, grid1, 0.5 * (curvature[0] * grid0**2 + curvature[1] * grid1**2), levels=12, colors="lightgray")
for rate in (0.02, 0.09):
    ax.plot(*paths[rate].T, ".-", linewidth=0.8, label=f"learning rate {rate}")
ax.plot(0, 0, "k*", label="the minimum")
ax.set(xlabel="w0 (shallow)", ylabel="w1 (steep)", title="Plain SGD in a long, narrow valley")
ax.legend(fontsize=8)
plt.tight_layout()
# Alt text: Contour lines of a long, narrow valley and two paths of 30 plain SGD steps from the same start: at learning rate 0.02 the path drops straight down the steep side, then crawls along the floor, far from the minimum; at 0.09 it zigzags across the valley and ends much closer.
plt.show()

# %% [markdown]
# At 0.02 the steep direction is done in a few steps, but the shallow one crawls: each
# step removes 2% of w₀, which is still at -2.7274 after 30 steps, from -5. At 0.09 w₀
# reaches -0.2953, but every step across the valley overshoots: w₁ changes sign at each
# step, the zigzag in the plot. At 0.105 the zigzag grows, and f has climbed to 6851. A
# step multiplies the distance along a direction of curvature h by 1 − lr · h, so the
# steep direction caps the learning rate at 2 / 20 = 0.1, where the shallow one still
# keeps nine tenths of its distance per step. One learning rate for every direction is
# the trouble; momentum and Adam each answer a part of it, in ways of their own (exercise
# 5c's written question measures how, on this very valley).
#
# Softmax regression has two parameter arrays, the weights W (784 × 10) and the biases
# b (10), and an optimizer remembers something for every weight: a running average of
# W's gradients has W's shape, b's has b's. So each array keeps a state of its own,
# zeros of its shape before the first step; one shared state would mix b's gradients
# into W's memory, perhaps silently (broadcasting).
#
# Adam and its relatives remember through **exponential moving averages** (EMA). From
# $m_0 = 0$, each step keeps a fraction β of the average and takes 1 − β of the new value:
#
# $$m_t = \beta\, m_{t-1} + (1 - \beta)\, x_t = (1 - \beta)\left(x_t + \beta\, x_{t-1} + \beta^2 x_{t-2} + \dots + \beta^{t-1} x_1\right).$$
#
# Its weights are a geometric series: multiply 1 + β + … + β^(t−1) by 1 − β and every
# term cancels but the first and the last. So they sum to 1 − β^t, not to 1; the missing
# β^t is the weight of the start, 0. If every value were the same x, the average would
# be (1 − β^t) x, short of x towards zero, and dividing it by 1 − β^t would give x back
# exactly. Here is a value of 2 measured 5,000 times, with noise of spread 1:

# %%
rng = np.random.default_rng(0)
measured = 2.0 + rng.normal(0, 1, size=5000)
steps = np.arange(1, len(measured) + 1)


def ema(values, beta):
    """The exponential moving average of `values`, started at 0, after every step."""
    average, out = 0.0, []
    for x in values:
        average = beta * average + (1 - beta) * x
        out.append(average)
    return np.array(out)


averages = {beta: ema(measured, beta) for beta in (0.9, 0.999)}
for beta, average in averages.items():
    corrected = average / (1 - beta**steps)
    for t in (1, 10, 100, 1000, 5000):
        print(f"beta {beta:<5} step {t:5,d}: weights sum to {1 - beta**t:.3f}, "
              f"average {average[t - 1]:.3f}, corrected {corrected[t - 1]:.3f}")
print(f"beta 0.999 at step 1,000, corrected as if t counted epochs of 100 steps (t = 10): "
      f"{averages[0.999][999] / (1 - 0.999**10):.1f}")

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.semilogx(steps, measured, ".", color="lightgray", markersize=2, label="each measurement")
ax.semilogx(steps, averages[0.999], label="average, beta 0.999")
ax.semilogx(steps, averages[0.999] / (1 - 0.999**steps), label="divided by 1 - beta^t")
ax.axhline(2.0, color="black", linestyle=":", label="the true value")
ax.set(xlabel="step (log scale)", ylabel="value", title="A moving average started at zero", ylim=(-1, 5))
ax.legend(fontsize=8)
plt.tight_layout()
# Alt text: Noisy measurements around 2 over 5,000 steps on a log scale; a moving average with beta 0.999 starts near 0 and climbs slowly towards 2 over thousands of steps, while the same average divided by 1 minus beta to the t sits near 2 from the first step.
plt.show()

# %% [markdown]
# After one step the average is a tenth (β = 0.9) or a thousandth (β = 0.999) of the
# first measurement, and the corrected one is that measurement, 2.126, whatever β. With
# β = 0.9 the weights sum to 1.000 by step 100 and the bias is gone. With β = 0.999 the
# uncorrected average is 0.198 after 100 steps and 1.225 after 1,000, still well short
# of 2, while the corrected one is near 2 throughout. What the long memory buys is
# smoothness: β = 0.999 averages over about 1 / (1 − β) = 1,000 values, β = 0.9 over
# about ten, and wanders with the noise (1.864, 1.837, 1.705 at steps 100, 1,000, 5,000).
#
# That division by 1 − β^t is the **bias correction** exercise 5c's adaptive optimizers
# need. Its t is the number of values the average has taken in, one per step, that is
# one per batch: the step counter counts batches, not epochs. Counted in epochs of 100
# batches, t would read 10 at step 1,000, and 1.225 would become 123.1.
#
# Adam's second average is of each weight's squared gradients; its square root is a
# running size of that weight's gradients. A gradient divided by it is a number of
# order 1, whatever the gradient's scale, so each weight's step is about the learning
# rate in size, whether its gradients are around 30 or around 0.01, as long as they are steady
# in size (noisy gradients give smaller steps, and a rare large gradient after quiet steps a
# step several times the learning rate). On the quadratic,
# the gradient across the valley is twenty times the one along it at the same distance,
# and that is what held plain SGD's learning rate down; divided each by its own running
# size, both directions step about the learning rate, and the steep one no longer holds
# the shallow one back.
#
# **In exercise 5c** (`exercises/ex05c_optimizers.py`) you write, in NumPy alone,
# `momentum_step` (Keras's SGD with momentum: classic, or Nesterov's, which looks one
# step ahead), `largest_stable_rate` (this section's bound of 2 / h, worked out again for
# your momentum, whose step carries a velocity as well as the weight), `adaptive_step`
# (Keras's Adam, AMSGrad or Adamax, bias correction
# included, its state handed back for the next call) and `fit` (softmax regression
# trained with plain SGD or either step, one state per parameter array, the step counter
# counting batches). The update rules are in the sources: Kingma & Ba (2015), "Adam: a
# method for stochastic optimization", Algorithm 1, and its section 7.1 for AdaMax;
# Reddi, Kale & Kumar (2018), "On the convergence of Adam and beyond", for AMSGrad;
# Sutskever et al. (2013), "On the importance of initialization and momentum in deep
# learning", for Nesterov's look-ahead, in the form Keras takes from Bengio, Boulanger-Lewandowski
# and Pascanu (2013), "Advances in optimizing recurrent networks", which needs no gradient at a
# second point. Keras does not always follow the papers to the
# letter (its AMSGrad keeps Adam's bias correction, which Reddi et al.'s does not have),
# and the grader compares each of your steps with Keras's own optimizers on the same
# gradients, so Keras's optimizer documentation has the last word. `grader --variant
# ex05c` tells you which momentum and which adaptive optimizer your variant asks for;
# stuck? `grader --hint ex05c`.

# %% [markdown]
# ## Debugging a training run
#
# A run with a mistake in it rarely fails with an error. It trains, its loss moves, and
# it ends up reading digits worse than it should, or not at all. The overfitting check
# at the top of this lesson proves the plumbing works; the mistakes that remain live in
# the run itself: what its images hold, whether its labels go with them, the order its
# batches come in, the size of its steps. Each can be measured in seconds, before any
# recipe, and the cheapest checks come first:
#
# 1. **The pixels.** Their smallest and largest value, whether any is not a number, and
#    how many are ink at all: a run's pixels must be scaled as its model expects.
# 2. **The order of the labels.** How often two neighbours share a label: about one time
#    in ten in digits stored at random; nearly always in digits stored class by class.
# 3. **Whether the labels go with the images.** Lesson 2's mean digits need no training:
#    take each class's mean image from every other digit of the run and read the rest
#    with them. Labels that belong to their images read far above chance (one in ten).
#    (Every other digit, not the first half: in a run stored class by class, the first
#    half would hold only the first classes.)
# 4. **The losses, trained as the settings say.** Every run starts at ln 10 = 2.30, ten
#    equally likely digits; how the batch losses leave it says whether the steps learn.
#
# `mnist_course.debugging` holds runs to practise on: images (one row of 784 pixels each),
# labels and a settings dict, and `train`, lesson 2's softmax regression trained by
# mini-batch SGD exactly as the settings say. Here are the four checks as one function,
# first on a healthy run:

# %%
from mnist_course import debugging


def four_checks(images, labels, settings):
    """The four measurements above, for one run."""
    images, labels = np.asarray(images, np.float64), np.asarray(labels)
    taught, read = slice(0, None, 2), slice(1, None, 2)  # every other digit, so that each class is in both parts
    class_means = [images[taught][labels[taught] == digit].mean(axis=0) for digit in range(10)]
    distances = np.stack([((images[read] - mean) ** 2).sum(axis=1) for mean in class_means], axis=1)
    _, _, batch_losses = debugging.train(images, labels, settings)
    return {
        "pixels (min, max, share that is ink, all numbers)": (images.min(), images.max(), np.mean(images != images.min()), bool(np.isfinite(images).all())),
        "neighbours sharing a label": np.mean(labels[1:] == labels[:-1]),
        "class means read the other digits": np.mean(distances.argmin(axis=1) == labels[read]),
        "batch loss, first and last ten": (batch_losses[0], np.mean(batch_losses[-10:])),
    }


def show(name, checks):
    print(name)
    for what, value in checks.items():
        parts = value if isinstance(value, tuple) else (value,)
        print(f"  {what}: " + ", ".join(str(v) if isinstance(v, bool) else f"{float(v):.3g}" for v in parts))


healthy = debugging.broken_run("none", data.x_train, data.y_train, np.random.default_rng(6), "unit")
print("settings:", healthy[2])
show("a healthy run", four_checks(*healthy))

# %% [markdown]
# These are the numbers a run should show: pixels from 0 to 1, about one in five of them
# ink; neighbours sharing a label about one time in ten; the class means reading most of
# the other digits right, with no training at all; and batch losses that start at ln 10
# and fall well below it. Now a run that went wrong on its way in: its images were
# scaled to [0, 1] and then stored as `uint8`, the type of the raw pixels, which keeps
# only the whole part of each number:

# %%
images, labels, settings = healthy
stored = images.astype(np.uint8).astype(np.float64)  # the mistake: 0.7 becomes 0, only a pixel of exactly 1 survives
show("the run stored as uint8", four_checks(stored, labels, settings))

# %% [markdown]
# The first check finds it before any training: the pixels still run from 0 to 1, but
# almost none of them is ink any more, a small fraction of the healthy run's share. The
# later checks only say that something is off (the class means read fewer digits, the
# losses fall less far); the pixels say what. The repair undoes exactly that step, and
# nothing else: keep the scaled images as floats. Measure the repaired run with the
# same checks, and compare the two trained on held-out digits:

# %%
test_images = debugging.scaled(data.x_test.reshape(len(data.x_test), -1), "unit")
for name, run_images in (("healthy", images), ("stored as uint8", stored)):
    weights, bias, _ = debugging.train(run_images, labels, settings)
    print(f"{name:16s}: {debugging.accuracy(weights, bias, test_images, data.y_test):.1%} of the test digits")

# %% [markdown]
# Two habits make these checks work. Measure before you decide: a guess at the mistake
# fixes the wrong thing as often as the right one. And know what a healthy run shows,
# because a number means little alone: "the class means read 80%" is fine; "20%" says
# that the labels have come loose from their images, or that the images no longer hold
# their digits, as in the run above, and the pixels tell which.
#
# **In exercise 5d** (`exercises/ex05d_debugging.py`) you write `diagnose`, which measures
# a run and names the one mistake it holds (pixels left unscaled, labels moved along the
# run, a learning rate far too high or too low, digits stored class by class and not
# shuffled) or none, and `repair`, which undoes it. The grader draws fresh runs of every
# kind for your file and trains your repaired runs itself. Your variant (`grader --variant
# ex05d`) says how your runs scale their pixels, and with it which learning rates train
# well on them; `debugging.your_run(PIXELS)` gives you a run of your variant's with a
# mistake in it to debug by hand first. Stuck? `grader --hint ex05d`.

# %% [markdown]
# ## A stronger CNN
#
# The CNN of lesson 5 reads about 98.4% of the test digits. Give it a third
# convolution, `padding="same"` and light shifts of its training images, train it for 20
# epochs, and it reads about 99.2%: call that the **base network**. The model
# `mnist-course train` saves for real use keeps the base network and changes two things:
# how its images vary, and how it is trained.
#
# - **Varied augmentation**: each training image is rotated by up to about 11°, zoomed in
#   or out by up to 10% and shifted by up to 10% of its size, differently in every
#   epoch, where the base network only shifts it by up to 2 pixels. The model never
#   sees exactly the same image twice; the hope is that it learns the digit rather than
#   its pose, which photos would need (they are never perfectly upright, sized and
#   centred). This lesson does not test that hope: the ablation below finds the varied
#   augmentation level with shifts alone on MNIST's test set.
#   Augmentation layers only act while training; at prediction time they pass images
#   through unchanged.
#
# - **A recipe**. The learning rate starts at 0.002 and falls along a cosine to 0 at the
#   last epoch: big steps while the weights are far from good, ever smaller ones as they
#   settle, with no callback deciding when. And it learns from all 22,699 training
#   images, with no validation split. Lesson 3 held images back to *choose* (the epochs,
#   the dropout, when to stop); here nothing is chosen while training (a fixed number of
#   epochs, a fixed schedule, no callback), so a validation set would have no decision
#   left to make there. How the recipe itself was chosen is another matter, and *What
#   each addition buys* tells it plainly: partly on the test set, the part not to copy.
#
# (Why not also **batch normalisation**, which you will meet in most modern networks? It
# rescales each layer's outputs to a steady mean and spread while training, so the next
# layer sees inputs on the same scale from batch to batch. The next section shows
# what it does; whether it earns its place here is a measurement, the ablation after it.)
#
# The model lives in the course package, `mnist_course.models.stronger_cnn()`, because
# `mnist-course train` builds the very same one. It needs to know how long training
# will be, to place the end of its cosine.

# %%
if QUICK:
    epochs, n_train = 1, 3000
else:
    epochs, n_train = 10, len(x_train)

keras.utils.set_random_seed(0)
model = stronger_cnn(n_train, epochs)
print(f"{model.name}: {model.count_params():,} parameters")
print([layer.__class__.__name__ for layer in model.layers])

# %% [markdown]
# About 262,000 parameters: the base network's three 3 × 3 convolutions (32, 64 and 64
# filters) and two max-poolings, then dropout, a dense layer of 128 and the 10-way
# softmax. The layer list starts with
# `Rescaling` (the model takes raw pixels) and the three augmentation layers.
#
# To keep this lesson quick we train for ten epochs, a third of the 30 that
# `mnist-course train` uses; the cosine is squeezed into those ten.

# %%
history = model.fit(x_train[:n_train], y_train[:n_train], epochs=epochs,
                    batch_size=STRONGER_CNN_SETTINGS["batch_size"], verbose=2)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy: {test_accuracy:.2%}")

# The optimizer keeps its schedule in its configuration: rebuild it to plot it.
schedule = keras.optimizers.schedules.deserialize(model.optimizer.get_config()["learning_rate"])
steps = np.arange(int(model.optimizer.iterations.numpy()) + 1)
fig, (ax_lr, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.2))
ax_lr.plot(steps, [float(schedule(step)) for step in steps])
ax_lr.set(xlabel="training step (one batch)", ylabel="learning rate", title="The cosine schedule")
ax_loss.plot(np.arange(1, len(history.history["loss"]) + 1), history.history["loss"], "o-")
ax_loss.set(xlabel="epoch", ylabel="training loss", title="Training loss")
plt.tight_layout()
# Alt text: Two panels: the cosine schedule's learning rate falling smoothly over the training steps, and the training loss falling epoch by epoch.
plt.show()

# %% [markdown]
# Expect a test accuracy of about 99.3% after these ten epochs, level with the base
# network after 20 (99.22%): the difference is about 8 test images, between two
# recipes run once each, with different training sets (this one holds no images out).
# That is not a difference we can claim: comparing recipes needs several seeds of each
# (lesson 4, *Two questions, two tools*), and even McNemar's test on these two trained
# models could speak only for these two. Each epoch takes 10 to 20 seconds on 2 CPU cores. The
# left plot is the schedule: 0.002 at the first step, half of that half way, 0 at the
# last. The training loss keeps falling to the end, even in the last epochs where the
# steps are tiny. Whether the schedule is what makes it so would need a run at a
# constant rate beside it, which this lesson does not make. `mnist-course train` runs the same recipe for 30 epochs.

# %% [markdown]
# ## Batch normalisation, in training and at prediction time
#
# A `BatchNormalization` layer behaves differently in training and in use, and that
# difference is the source of most of its surprises. While training, it standardises
# each feature with the mean and standard deviation of the *current batch*, then applies
# a scale and a shift it learns. It also keeps running averages of those batch
# statistics. At prediction time it uses the running averages instead, so a digit's
# answer does not depend on which other digits share its batch. Here is one layer fed a
# batch whose feature has mean 50 and spread 10:

# %%
bn = keras.layers.BatchNormalization(momentum=0.9)
rng = np.random.default_rng(0)
features = rng.normal(50, 10, size=(256, 1)).astype("float32")
print(f"input:                         mean {features.mean():6.2f}, std {features.std():5.2f}")
out = bn(features, training=True).numpy()
print(f"training=True (batch stats):   mean {out.mean():6.2f}, std {out.std():5.2f}")
out = bn(features, training=False).numpy()
print(f"training=False, after 1 batch: mean {out.mean():6.2f}, std {out.std():5.2f}"
      f"   (running mean {float(bn.moving_mean[0]):.1f})")
for _ in range(50):
    bn(rng.normal(50, 10, size=(256, 1)).astype("float32"), training=True)
out = bn(features, training=False).numpy()
print(f"training=False, after 51:      mean {out.mean():6.2f}, std {out.std():5.2f}"
      f"   (running mean {float(bn.moving_mean[0]):.1f})")

# %% [markdown]
# In training mode the batch comes out standardised at once (mean 0, spread 1), whatever
# its scale. At prediction time, after a single batch, the running averages have moved
# only a tenth of the way from their start (mean 0, variance 1) towards the data's, so
# the output is still far from standardised; after fifty batches they have caught up and
# the two modes agree. `fit` calls the layer with `training=True` and `predict` with
# `training=False`, so you rarely choose, but it explains two classic puzzles: a model
# with batch normalisation that predicts badly after very few training steps (the running
# averages have not caught up), and training accuracy measured in training mode that
# differs from the same images predicted afterwards (batch statistics against running
# ones, and dropout switched off).

# %% [markdown]
# ## What each addition buys
#
# Why this network, and not one with batch normalisation too, or without the varied
# augmentation? The honest way to tell is an **ablation**: train every combination with
# the same recipe, from several seeds, and compare the spread with the differences. Run
# a small one yourself first, the right way round: score each variant on **validation**
# images (the last 2,699 training images, which no variant trains on), never on the test
# set, with a rule fixed before looking. Ours: the highest mean validation accuracy wins,
# unless its lead over another variant is smaller than the spread between seeds, in
# which case we call them tied and keep the simpler one.
#
# To fit in a lesson this ablation is short: each variant trains for 3 epochs on 6,000
# images from 2 seeds (one epoch on 1,000 images from one seed in quick mode), about 2
# to 3 minutes in all on 2 CPU cores.

# %%
VARIANTS = [  # (name, batch normalisation, augmentation), as benchmarks/ablation.py names them
    ("the base network", False, "shifts"),
    ("+ batch normalisation", True, "shifts"),
    ("+ varied augmentation", False, "varied"),
    ("+ both", True, "varied"),
]
small, small_epochs, seeds = (1000, 1, [0]) if QUICK else (6000, 3, [0, 1])
x_val, y_val = x_train[-2699:], y_train[-2699:]  # held out: the variants train on the first images only
small_results = {}
for name, batch_norm, augmentation in VARIANTS:
    scores = []
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        variant = stronger_cnn(small, small_epochs, batch_norm=batch_norm, augmentation=augmentation)
        variant.fit(x_train[:small], y_train[:small], epochs=small_epochs, batch_size=128, verbose=0)
        scores.append(variant.evaluate(x_val, y_val, verbose=0)[1])
    small_results[name] = scores
    print(f"{name:24s} validation " + " / ".join(f"{a:.2%}" for a in scores) + f"   mean {np.mean(scores):.2%}"
          + (f"   seeds {abs(scores[0] - scores[1]):.2%} apart" if len(scores) == 2 else ""))

# %% [markdown]
# Two rows are broken: with batch normalisation, the network reads about 11% of the
# validation digits right, no better than answering the same digit every time. That is
# the puzzle of the previous section, caught in the act. These variants took only 141
# training steps, and with Keras's default momentum of 0.99 each step moves the running
# averages 1% of the way towards the batch's statistics: after 141 steps about a quarter
# of their starting values (mean 0, variance 1) is still in them (0.99 to the power 141
# is 0.24), and the early batches they averaged were computed with weights that have
# changed since. At prediction time the network uses them, and the errors compound over
# four batch-normalisation layers. The weights are not at fault. Pass
# training images through the last network (`+ both`, seed 1) in training mode, which
# updates the running averages and takes no gradient step, and the very same weights
# read the validation digits well:

# %%
for i in range(50 if QUICK else 500):  # forward passes only: the weights do not change
    start = (i * 128) % (small - 128)
    variant(x_train[start:start + 128], training=True)
print(f"{VARIANTS[-1][0]}, seed {seeds[-1]}: validation {variant.evaluate(x_val, y_val, verbose=0)[1]:.2%} "
      "once its running averages have caught up")

# %% [markdown]
# About 97% after 500 extra forward passes, ahead of "+ varied augmentation", the row that
# differs from "+ both" by batch normalisation alone, in this one seed: a hint that it
# speeds up early training, as it promises, once its statistics are right; several seeds
# would be needed to claim it. (The base network differs from "+ both" in its
# augmentation too, so being ahead of that row says nothing about batch normalisation.) (The fix for a real short
# training is a lower momentum, `BatchNormalization(momentum=0.9)`, or simply more steps.)
#
# Without batch normalisation, the base network and the varied augmentation reach
# 95.83% and 95.79% on average: 0.04 points apart, while the two seeds of each differ by
# 0.25 to 0.5 points. By our rule they are tied, and the simpler network would be kept.
#
# So what did the short ablation teach? Not which variant is best: it answered "what
# helps a training of 141 steps?", which is not the question we had, and it broke on a
# detail (the running averages) that does not matter at full length. That is the trap of
# cheap ablations: check that each row failed or won for the reason you are testing,
# and run the real thing before you decide.
#
# `benchmarks/ablation.py` trains the four combinations with the full recipe (30
# epochs, every training image, three seeds; about 25 minutes per seed on 2 CPU cores)
# and scores them on the test set. Here are its recorded results:

# %%
ablation = json.loads((Path(mnist_course.__file__).parents[1] / "benchmarks" / "ablation.json").read_text())
rows = ablation["summary"]
print(f"{ablation['data']}, {ablation['recipe']['epochs']} epochs each, seeds {rows[0]['seeds']}")
for row in rows:
    seeds = " / ".join(f"{a:.2%}" for a in row["accuracies"])
    print(f"{row['variant']:26s} {seeds}   mean {row['mean']:.2%} ± {row['sd']:.2%}")

fig, ax = plt.subplots(figsize=(8, 3))
for y, row in enumerate(rows):
    ax.errorbar(100 * row["mean"], y, xerr=100 * row["sd"], fmt="o", color="black", capsize=4)
    ax.plot([100 * a for a in row["accuracies"]], [y] * len(row["accuracies"]), "x", color="tab:blue")
# For comparison: the base network trained the usual way, 20 epochs at a constant learning rate (benchmarks/MODELS.md).
ax.axvline(99.22, linestyle="--", color="gray", label="the base network, 20 epochs the usual way: 99.22% (median)")
ax.set_yticks(range(len(rows)), [row["variant"] for row in rows])
ax.invert_yaxis()
ax.legend(loc="lower left", fontsize=8)
ax.set(xlabel="test accuracy (%): mean ± standard deviation over seeds (×: each seed)", title="Ablation: the base network and two additions")
plt.tight_layout()
# Alt text: Test accuracy of each ablation variant as its mean and standard deviation over seeds, with each seed as a cross, one row per variant.
plt.show()

# %% [markdown]
# Three things stand out. The base network, trained with this recipe, already
# reaches about 99.41% on average, against 99.22% (the median of three seeds) when it is
# trained the usual way: 20 epochs at a constant learning rate, with 10% of
# the images held out. So the recipe as a whole, not the additions, buys most of the
# gain. Which of its three changes (every training image, a schedule that ends with
# small steps, 30 epochs instead of 20) buys how much was not measured: each would need
# its own row in an ablation. And the two figures are not the same statistic: 99.41% is
# a mean over this ablation's seeds, 99.22% the median of three seeds of the usual
# training, so read the gap as roughly 0.2 points, not exactly.
#
# Each addition alone is level with that, or a shade above: 99.44% with batch
# normalisation, 99.46% with varied augmentation. Those differences are 3 to 5 test
# images in 10,000, no more than the seeds move each row. On this data, neither earns a
# clear place by itself.
#
# Together, they do worse: 99.31%, below every other row in every seed. Two changes that
# are harmless apart can hurt together. Why is a question for another experiment (one
# guess to test: augmentation and dropout already regularise strongly, and batch
# normalisation adds noise of its own from batch to batch). What matters here is the
# habit: change one thing at a time, over several seeds, and keep only what earns its
# place.
#
# Which row should `mnist-course train` use, then? Picking the best of the four by its
# test accuracy would be tuning on the test set, the mistake lesson 3 warns against: the
# test set would no longer measure a model it had not helped to choose.
#
# We have to be plain about how this course made the choice, because it did not follow
# that rule. The recipe itself (30 epochs, the learning rate of 0.002, the cosine
# schedule, the augmentation's ranges) was developed while watching test accuracy against
# a target of 99.3%. The test-set rows above were run first, and they showed the model
# then served ("both") below that target. Only afterwards was the choice re-run on
# validation images (`python benchmarks/ablation.py --validation`): each variant trained on the first
# 20,000 training images and scored on the last 2,699, which it never saw, with a rule
# fixed before that run: the best validation accuracy wins, and variants within 2
# validation images of it count as tied, the fastest to train among them chosen.
#
# That run has the right shape: a rule fixed first, images no variant trained on, the
# test set left alone. But it trained each variant from **one seed**, and lesson 3's
# rule is that a difference counts only if it is larger than the seeds' spread. Here it
# is, with the count of validation digits each variant read right:

# %%
validation = json.loads((Path(mnist_course.__file__).parents[1] / "benchmarks" / "validation.json").read_text())
print(f"{validation['scored_on']}; seeds: {sorted({run['seed'] for run in validation['runs']})}")
n_validation = 2699
for row in validation["summary"]:
    print(f"{row['variant']:26s} validation {row['mean']:.2%} ({round(row['mean'] * n_validation):,} of {n_validation:,})"
          f"   trained in {row['train_seconds_median']:.0f} s")
print(f"chosen by its rule: {validation['chosen']}")
test_spans = [round((max(row["accuracies"]) - min(row["accuracies"])) * len(y_test)) for row in rows]
print(f"in the test-set ablation, the 3 seeds of one variant span {min(test_spans)} to {max(test_spans)} "
      f"of {len(y_test):,} test images, {min(test_spans) / len(y_test):.2%} to {max(test_spans) / len(y_test):.2%}")

# %% [markdown]
# The four variants read 2,683 to 2,686 of the 2,699 validation digits: the whole table
# spans 3 images, 0.11 points. How far do the seeds of one variant move it? This run
# cannot say, with one seed each; the test-set ablation above can: its three seeds of
# one variant span 2 to 11 of 10,000 test images, 0.02 to 0.11 points, which is up to 3
# of these 2,699. So every gap in the table is inside the noise of a single training.
# By lesson 3's rule, **the run is a four-way tie**: it does not show that any variant
# is better than another, and its margin of 2 images, which put the base network
# (3 behind) out of the tie, was a line drawn inside that noise.
#
# A tie is not a decision, so something else decided, and it should be said what. By
# the tie-break of the run's own rule (the fastest to train), a four-way tie would have
# served the base network, which trains fastest (329 s against 372 s). The course
# still serves the varied augmentation, and the honest reason is not this run: the
# served model reads photos, rotated, resized and off-centre as MNIST's digits are not,
# and rotating, zooming and shifting the training digits is aimed at exactly that. It is
# a judgement made from what the model is for, which these validation digits cannot
# test, not a measured result. Lesson 7's
# sixty synthetic photos are where it could be checked (train both, compare them on the
# sixty), and sixty pictures will only separate them if the gap is large.
#
# **The procedure to copy**, then:
#
# 1. Before any run, write down the candidates, the validation images, the number of
#    seeds (three at least, so that their spread can be seen at all) and the rule: a
#    variant beats another only if its mean leads by more than the seeds' spread; among
#    the variants that nothing beats, keep the simplest or the cheapest, and say that
#    this is what decided.
# 2. Train every variant from every seed, and score it on validation only.
# 3. Apply the rule as written, even when you dislike its answer.
# 4. Train the chosen variant and read the test set once.
#
# For these four variants at the full recipe that is 12 trainings, about two hours on 2
# CPU cores (`python benchmarks/ablation.py --validation --seeds 0 1 2`, whose own rule
# would still need its fixed 2-image margin replaced by the seeds' spread). The run
# recorded here used one seed, short of step 1, so the served model's test accuracy,
# about 99.46% over the ablation's three seeds, describes it fairly, but is not proof
# that it was the best of the four, nor that the test set played no part in choosing it.

# %% [markdown]
# ## What more data buys
#
# The course trains on 22,699 images, a third of MNIST's 60,000, so that every number in
# it is the same for every student (lesson 1). What would the other two thirds buy? The
# cell below measures the trend on the data we have: lesson 2's small dense network,
# trained on an eighth, a quarter, a half and all of the course's training images. Each
# run takes the same number of training steps (80 epochs of the eighth, 10 of the
# whole), so the comparison is about the data, not about how long each network trained.

# %%
sizes = [n_train // 8, n_train // 4, n_train // 2, n_train]
errors = []
for size in sizes:
    keras.utils.set_random_seed(0)
    dense = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    dense.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    dense.fit(x_train[:size], y_train[:size], epochs=1 if QUICK else 10 * n_train // size, batch_size=128, verbose=0)
    errors.append(1 - dense.evaluate(x_test, y_test, verbose=0)[1])
    print(f"{size:6,d} training images: test error {errors[-1]:.2%}")

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.loglog(sizes, [100 * e for e in errors], "o-")
ax.set(xlabel="training images", ylabel="test error (%)", title="More data, fewer mistakes")
plt.tight_layout()
# Alt text: Test error against the number of training images, both on log scales: the error falls steadily as the data grows.
plt.show()
print(f"each doubling of the data divides the error by {np.exp(-np.polyfit(np.log2(sizes), np.log(errors), 1)[0]):.2f}")

# %% [markdown]
# Expect the test error to fall from about 7.7% with 2,837 images to 6.3%, 5.5% and 3.6%
# with all 22,699: each doubling of the data divides the error by about 1.3 on average,
# (one seed each, so how much the single steps or the fitted factor would move with
# another seed was not measured). The full set's 60,000 images
# are 1.4 doublings more than the course's, so the same trend would bring this small
# network's error from 3.6% to roughly 2.5%. That is an extrapolation, not a
# measurement: the course is built without the full set (lesson 1 says why). Where you
# have it, measure instead: `mnist-course train --full-mnist` trains the stronger CNN on
# all 60,000 images, and `grader --full-mnist` grades on them, with bars marked as
# estimates.
#
# More data kept helping here. The single steps varied (1.4, 0.8 and 1.9 points, one
# seed each); if the average factor of about 1.3 holds, each doubling saves fewer points
# than the one before, and in a training of so many epochs it doubles the time (these
# runs held the number of steps fixed instead). A better architecture, a better recipe and augmentation (which
# makes more data out of the data you have) are usually the cheaper gains.

# %% [markdown]
# ## Reproducible results
#
# Every training in these lessons starts with `keras.utils.set_random_seed(seed)`, which
# seeds Python, NumPy and TensorFlow at once, so a rerun draws the same initial weights,
# the same shuffles and the same dropout masks. On a CPU that is usually enough to
# repeat a result to the last digit. It is not a guarantee: some operations add numbers
# in an order that depends on how threads are scheduled, and floating-point addition
# gives slightly different results in different orders. On a GPU this is common (many
# kernels sum with atomic operations), so two runs with the same seed can drift apart
# by a few test images. `tf.config.experimental.enable_op_determinism()` makes
# TensorFlow choose deterministic kernels, at some cost in speed, and fails loudly on an
# operation that has none. The course's grader turns it on and fixes its thread counts,
# which is why it gives the same submission the same accuracy, bit for bit, on the same
# machine. Between different machines or library versions, expect differences of a few
# hundredths of a point, and judge results by their spread over seeds, as this lesson
# did.
#
# **Next lesson:** the model of this lesson in real use: saved to a file, loaded back,
# and reading photos of digits that MNIST never saw.
