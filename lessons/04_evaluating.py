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
# # Evaluating a classifier
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/mnist-course/mnist-course/blob/main/lessons/04_evaluating.ipynb)
#
# **What you will do:** train a small dense network, then look past its single accuracy
# number: which digits it mixes up, how trustworthy each of its answers is, what its
# mistakes look like, and when it should not answer at all (chosen on validation images,
# then read once on the test set).
#
# Accuracy tells you *how often* a model is wrong. To improve a model you need to know
# *where* and *how* it is wrong. Everything in this lesson is plain NumPy on two arrays,
# the true labels and the predicted ones, so it works for any classifier.

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
# NumPy, Matplotlib and Keras, plus the course's data loader. As in lessons 2 and 3,
# `quiet_keras()` imports Keras without the start-up notes TensorFlow prints, which say
# nothing about your work.
#
# Training takes 10 to 20 seconds on a laptop CPU. When the course's test suite runs this
# notebook it sets `MNIST_COURSE_QUICK=1` and trains on less data for one epoch, so its
# numbers come out lower than the ones quoted below.

# %%
import os

import numpy as np
import matplotlib.pyplot as plt

from mnist_course.data import load_mnist, quiet_keras

keras = quiet_keras()  # `import keras`, without TensorFlow's start-up notes
from keras import layers

QUICK = os.environ.get("MNIST_COURSE_QUICK") == "1"

data = load_mnist()
print(data.provenance.describe())
x_train, y_train, x_test, y_test = data.x_train, data.y_train, data.x_test, data.y_test
print(f"{len(x_train):,} training images, {len(x_test):,} test images")

# %% [markdown]
# ## A model to evaluate
#
# The dense network of lesson 2: it takes the raw 0–255 pixels, scales them itself,
# flattens each image into 784 numbers, and ends in 10 softmax outputs, one probability
# per digit. A fixed seed makes the run repeatable.
#
# It trains on lesson 1's training part only (the same seeded shuffle, 90% of the
# training images). Lesson 1's validation part, 2,270 images the model never sees, is
# kept for the one decision this lesson makes about how to *use* the model, in *How far
# to trust the confidence*.

# %%
shuffled = np.random.default_rng(seed=0).permutation(len(x_train))  # lesson 1's split
n_val = int(round(len(shuffled) * 0.1))
x_val, y_val = x_train[shuffled[:n_val]], y_train[shuffled[:n_val]]
x_fit, y_fit = x_train[shuffled[n_val:]], y_train[shuffled[n_val:]]
print(f"training part: {len(x_fit):,} images, validation part: {len(x_val):,} images")

keras.utils.set_random_seed(0)

model = keras.Sequential([
    keras.Input((28, 28)),
    layers.Rescaling(1 / 255),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

epochs, n_train = (1, 5000) if QUICK else (10, len(x_fit))
model.fit(x_fit[:n_train], y_fit[:n_train], epochs=epochs, batch_size=128, verbose=2)

test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy: {test_accuracy:.2%}")

# %% [markdown]
# One line per epoch: the training loss falls from about 0.55 to 0.06 and the training
# accuracy climbs from about 86% to 98.7%. The test accuracy ends at about 96.2%. That
# sounds almost perfect, yet it means about 380 of the 10,000 test digits are wrong. Which ones?

# %% [markdown]
# ## Looking at the test set without choosing by it
#
# Lesson 1's rule is to touch the test set once, at the end. The next sections read it
# many times over: the confusion matrix, the scores per digit, the confused pairs, the
# surest mistakes. That is allowed, and here is exactly why. The rule exists because a
# test set that helps *choose* (a setting, an epoch, a threshold, which model to keep)
# is tuned to, and its accuracy stops measuring a model it did not help to make. A
# description chooses nothing: the model above is fixed, and however often we count its
# test mistakes, nothing about it changes. So these sections only describe the finished
# model. The one choice of the lesson, when the model should answer and when it should
# hand a digit to a person, is made on the validation images, and its result on the test
# set is read once.
#
# The line is crossed the moment what you see feeds back: if the test mistakes make you
# change the model and you keep the version with fewer of them, the test set has chosen,
# and its accuracy is from then on a little optimistic. That loop belongs on validation
# mistakes (every tool below works on any images and labels).

# %% [markdown]
# ## Predictions
#
# `model.predict` returns, for every image, the 10 probabilities of the softmax layer.
# The prediction is the digit with the highest probability (`argmax`), and that highest
# probability is the model's **confidence** in its answer.

# %%
probs = model.predict(x_test, verbose=0)
y_pred = probs.argmax(axis=1)
confidence = probs.max(axis=1)

print("probs:", probs.shape, probs.dtype)
print("image 0:", np.round(probs[0], 3), "sums to", round(float(probs[0].sum()), 3))
print("true:     ", y_test[:12])
print("predicted:", y_pred[:12])

wrong = y_pred != y_test
print(f"accuracy: {1 - wrong.mean():.2%} ({wrong.sum()} mistakes in {len(y_test):,} images)")

# %% [markdown]
# `probs` has shape `(10000, 10)`: one row per test image, and each row sums to 1. Image 0
# is a 7, and nearly all of its probability (0.998) sits at index 7. Among the first 12
# images you will likely spot a mistake already: image 8, a 5, is read as 6. The accuracy
# is the same number `model.evaluate` reported (96.22% here, 378 mistakes): the share of
# images where prediction and label agree.

# %% [markdown]
# ## The confusion matrix
#
# A **confusion matrix** counts every (true, predicted) pair: row `i` holds the images
# whose true label is `i`, column `j` those the model called `j`. Correct answers land on
# the diagonal; every cell off the diagonal is a particular kind of mistake. The matrix
# always has one row and one column per class, even for a digit that never shows up.
#
# Building it is one pass over the pairs, adding 1 to one cell each time.

# %%
num_classes = 10
cm = np.zeros((num_classes, num_classes), dtype=np.int64)
for t, p in zip(y_test, y_pred):
    cm[t, p] += 1

print(cm)
print("total:", cm.sum(), " correct (the diagonal):", np.trace(cm))

# %% [markdown]
# The total is 10,000 (every image counted once) and the diagonal holds the correct
# answers: from about 850 for 5, the rarest digit, to about 1,110 for 1, the most common.
# Off the diagonal the cells are small, 0 to about 20.
#
# A tempting shortcut, `cm[y_test, y_pred] += 1`, is wrong: NumPy's fancy indexing
# writes each cell once, so a pair that occurs 500 times is counted once.
# `np.add.at` adds once per pair, and `np.bincount` can count the pairs as
# `true * 10 + predicted`, a number from 0 to 99.

# %%
shortcut = np.zeros((num_classes, num_classes), dtype=np.int64)
shortcut[y_test, y_pred] += 1
print("fancy-index shortcut, total:", shortcut.sum())

added = np.zeros((num_classes, num_classes), dtype=np.int64)
np.add.at(added, (y_test, y_pred), 1)
counted = np.bincount(y_test * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)
print("np.add.at and np.bincount agree with the loop:",
      np.array_equal(added, cm), np.array_equal(counted, cm))

# %% [markdown]
# The shortcut counts each non-zero cell once (83 here, at most 100), far from 10,000,
# while the other two agree with the loop. Numbers in a 10 × 10 grid are hard to scan, so we plot the matrix:
# once as it is, and once with the diagonal blanked out so the mistakes get the whole
# colour scale.

# %%
mistakes = cm.copy()
np.fill_diagonal(mistakes, 0)

fig, axes = plt.subplots(1, 2, figsize=(12, 5))
for ax, matrix, title in [(axes[0], cm, "Confusion matrix"),
                          (axes[1], mistakes, "Mistakes only (diagonal set to 0)")]:
    ax.imshow(matrix, cmap="Blues")
    for i in range(num_classes):
        for j in range(num_classes):
            if matrix[i, j]:
                dark = matrix[i, j] > matrix.max() / 2
                ax.text(j, i, matrix[i, j], ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    ax.set_xticks(range(num_classes))
    ax.set_yticks(range(num_classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
plt.tight_layout()
# Alt text: Two 10 by 10 confusion matrices of the test set, true digit by row and predicted by column, all counts, where the dark diagonal is the right answers, and the mistakes only (the diagonal set to 0), whose darkest cells are the digits most often confused.
plt.show()

# %% [markdown]
# On the left, a dark diagonal and a pale rest: most answers are right. On the right the
# mistakes stand out. They are not spread evenly: a few cells are dark, such as 9 read
# as 4, 5 read as 3 and 7 read as 9, while other pairs of digits are almost never
# confused. The matrix is not symmetric either: 5 is read as 3 about 18 times, 3 as 5
# only about twice. "True 5, predicted 3" and "true 3, predicted 5" are different mistakes.

# %% [markdown]
# ## Precision, recall and F1
#
# Two questions per digit `k`, answered from one row and one column of the matrix:
#
# - **Precision**: when the model says `k`, how often is it right? The diagonal cell
#   divided by the sum of **column** `k` (everything predicted as `k`).
# - **Recall**: of all the real `k`s, how many did the model find? The diagonal cell
#   divided by the sum of **row** `k` (everything that truly is `k`; this row sum is
#   called the **support**).
# - **F1** combines the two into one score, their harmonic mean `2pr / (p + r)`. It is
#   high only when both are high.
#
# A model that answered "1" for every image would have a perfect recall for 1 and a
# terrible precision; one that said "1" only for its very clearest 1s the opposite. Both
# numbers matter.

# %%
correct = np.diag(cm)
predicted_as = cm.sum(axis=0)  # column sums
support = cm.sum(axis=1)       # row sums

precision = correct / predicted_as
recall = correct / support
f1 = 2 * precision * recall / (precision + recall)

print("precision:", np.round(precision, 3))
print("recall:   ", np.round(recall, 3))
print("f1:       ", np.round(f1, 3))

# %% [markdown]
# All three stay between about 0.93 and 0.99 for every digit. Digit 1 has the best F1
# (0.983); the lowest numbers belong to the digits of the dark cells: 3 has the lowest
# precision (about 0.93, since 5s, 2s, 7s and 9s get read as 3) and 8 the lowest recall
# (about 0.94, since 8s get read as 5, 3, 7 or 6).
#
# The plain division has a trap: a digit the model **never predicts** has a column sum
# of 0, and 0 / 0 is `nan`, with a `RuntimeWarning`. That happens with small test sets,
# a badly trained model, or a class missing from the data. Here is a tiny confusion
# matrix where class 2 never occurs and is never predicted:

# %%
tiny = np.array([[3, 1, 0],
                 [0, 2, 0],
                 [0, 0, 0]])
with np.errstate(invalid="ignore"):  # hide the warning 0 / 0 gives, to see the value
    print("plain division:", np.diag(tiny) / tiny.sum(axis=0))

col = tiny.sum(axis=0)
safe = np.divide(np.diag(tiny), col, out=np.zeros(len(col)), where=col > 0)
print("guarded:       ", safe)

# %% [markdown]
# The plain division gives `[1. 0.667 nan]`; one `nan` turns every average you compute
# afterwards into `nan` too. `np.divide(..., out=np.zeros(...), where=col > 0)` divides
# only where the denominator is positive and leaves 0.0 elsewhere, with no warning. This
# is the convention of the exercise (and of scikit-learn's `zero_division=0`): no
# predictions means a precision of 0.0, no samples a recall of 0.0.
#
# **F-beta.** F1 weighs precision and recall alike. When missing a real `k` costs more
# than a false alarm (a screening test, a fraud filter), the F-beta score counts recall
# β times as much as precision:
#
# $$F_\beta = \frac{(1 + \beta^2)\, p\, r}{\beta^2 p + r}$$
#
# β = 1 gives F1 back; β above 1 leans towards recall, below 1 towards precision. It
# needs the same guard where its denominator is 0. Worked here with β = 3:

# %%
beta = 3
f_beta = (1 + beta**2) * precision * recall / (beta**2 * precision + recall)
print("F3:", np.round(f_beta, 3))
print("F3 below F1 exactly where recall is below precision:", bool(np.all((f_beta < f1) == (recall < precision))))

# %% [markdown]
# A weighted harmonic mean sits nearer the value it weighs more: with recall weighed 9
# times (β²) as much, a digit whose recall is below its precision gets an F3 below its
# F1, and one whose recall is above gets an F3 above it. (scikit-learn's
# `fbeta_score` computes the same.)

# %% [markdown]
# ## A classification report
#
# The usual way to show all of this is one table, a **classification report**: a row per
# class, then the accuracy and two averages. The **macro** average treats every class
# alike; the **weighted** average weights each class by its support, so frequent digits
# count more. (scikit-learn's `classification_report` prints the same table.)

# %%
print(f"{'digit':>12}  {'precision':>9}  {'recall':>6}  {'f1':>6}  {'support':>7}")
for k in range(num_classes):
    print(f"{k:>12}  {precision[k]:9.3f}  {recall[k]:6.3f}  {f1[k]:6.3f}  {support[k]:7d}")
print()
total = support.sum()
print(f"{'accuracy':>12}  {'':>9}  {'':>6}  {np.trace(cm) / total:6.3f}  {total:7d}")
for name, weights in [("macro avg", np.ones(num_classes)), ("weighted avg", support)]:
    avg = [np.average(m, weights=weights) for m in (precision, recall, f1)]
    print(f"{name:>12}  {avg[0]:9.3f}  {avg[1]:6.3f}  {avg[2]:6.3f}  {total:7d}")

# %% [markdown]
# The weighted average of the recalls *is* the accuracy, on any data: each class's
# recall is its correct answers over its support, so weighting by the support adds up
# all correct answers over all images. (Weighted precision and F1 have no such identity.)
# On balanced data like MNIST the macro averages come out nearly equal too: all read
# 0.962 here. The per-class rows are the
# informative part. The lowest F1 (about 0.95) belongs to 8, 7, 9 and 3, and for two of
# them precision and recall differ: 8 has a low recall (it is missed, read as something
# else), 3 a low precision (it is a catch-all that other digits get read as).

# %% [markdown]
# ## The most confused pairs
#
# The mistakes plot already shows the worst cells; a short ranked list is easier to act
# on. We collect every off-diagonal cell with a count above 0 and sort by count, largest
# first, breaking ties by (true, predicted) so the order is always the same.

# %%
pairs = [(t, p, int(mistakes[t, p]))
         for t in range(num_classes) for p in range(num_classes) if mistakes[t, p] > 0]
pairs.sort(key=lambda pair: (-pair[2], pair[0], pair[1]))

for t, p, count in pairs[:5]:
    print(f"true {t}, predicted {p}: {count:3d} times")
print(f"{len(pairs)} of the 90 possible confusions happen at least once")

# %% [markdown]
# Expect the usual MNIST suspects at the top: 9 read as 4 (20 times here), 5 read as 3
# (18), 7 read as 9 (16), then 2 read as 3 and 8 read as 5 (14 each). The worst pair is
# only about 2% of its digit, but 73 of the 90 possible confusions happen at least once.
# A list like this tells you which digits to look at, and which mistakes a better model
# (lesson 5's convolutional networks) should fix.
#
# A count is one way to say how large a confusion is, and it favours the common digits:
# 20 mistakes out of 1,000 images of a digit weigh as much as 20 out of 500. The question
# you ask decides the ranking. "How often is a true 9 taken for a 4?" is a share of one
# digit's images; "when the model answers 4, how often was it a 9?" is a share of one
# answer's; "how often are 4 and 9 mixed up, either way?" adds two cells into one pair,
# a share of the images of both digits.
# The three can order the same matrix differently. Exercise 4 asks your variant's
# question: work out on paper which total each share takes, and why two shares such as
# 2/10 and 1/5 must tie.

# %% [markdown]
# ## Misclassified digits
#
# Finally, look at the mistakes themselves. We show the 24 the model was **most
# confident** about: those are the most instructive, because the model was sure and
# wrong. Each title gives the true label, the prediction and the confidence.
#
# The sort asks for `kind="stable"`: a stable sort keeps equal confidences in index
# order, so the same predictions always give the same list. NumPy's default sort
# (quicksort) promises no order among ties, and on more than 16 values it usually mixes them.

# %%
wrong_idx = np.flatnonzero(wrong)
wrong_idx = wrong_idx[np.argsort(-confidence[wrong_idx], kind="stable")]

fig, axes = plt.subplots(3, 8, figsize=(12, 5.4))
for ax, i in zip(axes.flat, wrong_idx):
    ax.imshow(x_test[i], cmap="gray_r")
    ax.set_title(f"true {y_test[i]} → {y_pred[i]}\n{confidence[i]:.0%}", fontsize=9)
    ax.axis("off")
for ax in axes.flat[len(wrong_idx):]:
    ax.axis("off")
fig.suptitle("The most confident mistakes on the test set")
plt.tight_layout()
# Alt text: The test digits the model got wrong with the highest confidence, in a 3 by 8 grid, each titled with the true digit, the answer and the confidence.
plt.show()

print(f"median confidence when right: {np.median(confidence[~wrong]):.1%}, "
      f"when wrong: {np.median(confidence[wrong]):.1%}")

# %% [markdown]
# Expect confidences of 98% to 100% in every title. Many of these digits are hard even
# for a person: 7s with a crossbar that the model takes for a 2, a 3 with a closed loop
# read as 8, digits written so carelessly they could be anything, and a few whose label
# itself looks wrong. Others are plain misses a better model would get right.
#
# Confidence is informative but not a guarantee. The median confidence is 99.8% on the
# right answers and about 71% on the wrong ones, so low confidence is a useful warning
# sign; yet, as the gallery shows, the model can be 99% sure and wrong.

# %% [markdown]
# ## How far to trust the confidence
#
# "Low confidence is a warning sign" can be made exact, and turned into a decision: the
# model answers only when it is sure enough, and hands the other digits to a person.
# Choosing "sure enough" is a choice, so it is made on the **validation** images, which
# neither trained the model nor were looked at above.
#
# A model is **calibrated** when, among all the answers it gives with about 80%
# confidence, about 80% are right. A **reliability diagram** checks that: sort the
# answers into bins by confidence, and plot each bin's accuracy against its mean
# confidence. A calibrated model lies on the diagonal; below it, the model is
# overconfident.

# %%
val_probs = model.predict(x_val, verbose=0)
val_confidence = val_probs.max(axis=1)
val_right = val_probs.argmax(axis=1) == y_val
print(f"validation accuracy: {val_right.mean():.2%} ({(~val_right).sum()} mistakes in {len(y_val):,} images)")

bins = np.linspace(0.1, 1.0, 10)  # a softmax over 10 classes is never below 0.1 sure
which = np.clip(np.digitize(val_confidence, bins) - 1, 0, len(bins) - 2)
mean_conf, bin_acc, counts = [], [], []
for k in range(len(bins) - 1):
    members = which == k
    if members.any():
        mean_conf.append(val_confidence[members].mean())
        bin_acc.append(val_right[members].mean())
        counts.append(int(members.sum()))
        print(f"confidence {bins[k]:.1f}-{bins[k + 1]:.1f}: {counts[-1]:5d} answers, "
              f"mean confidence {mean_conf[-1]:.1%}, right {bin_acc[-1]:.1%}")

# Accuracy against coverage: answer only when at least this sure, hand the rest to a person.
order = np.argsort(-val_confidence, kind="stable")
coverage = np.arange(1, len(order) + 1) / len(order)
accuracy_kept = np.cumsum(val_right[order]) / np.arange(1, len(order) + 1)

fig, (ax_rel, ax_cov) = plt.subplots(1, 2, figsize=(11, 4))
ax_rel.plot([0, 1], [0, 1], ":", color="gray", label="calibrated")
ax_rel.plot(mean_conf, bin_acc, "o-", color="tab:blue", label="this model")
ax_rel.set_xlabel("mean confidence in the bin")
ax_rel.set_ylabel("accuracy in the bin")
ax_rel.set_title("Reliability diagram (validation images)")
ax_rel.legend()
ax_cov.plot(coverage * 100, accuracy_kept * 100, color="tab:blue")
ax_cov.set_xlabel("% of validation digits answered (the most confident first)")
ax_cov.set_ylabel("accuracy on those, %")
ax_cov.set_title("Accuracy against coverage (validation images)")
plt.tight_layout()
# Alt text: Two panels on validation images: a reliability diagram, accuracy against mean confidence per bin beside the diagonal of perfect calibration; and accuracy against the share of digits answered, most confident first, rising as fewer are answered.
plt.show()

# %% [markdown]
# Nine answers in ten sit in the top bin, where the model is about 99.0% sure and right
# 98.9% of the time. With 2,270 validation images the other bins hold only 1 to 92
# answers each, so their points wobble (a bin of 6 answers can only be right 0%, 17%,
# 33%, ... of the time): read them for the trend, not bin by bin. The trend is that the
# points lie close to the diagonal and mostly a little below it: this small network,
# trained for ten epochs, is close to calibrated, a shade overconfident. (That is not a
# law: networks trained longer, or much larger ones, are often clearly overconfident,
# and then the points fall well below the diagonal. Always check.)
#
# "Close to calibrated" is a reading of a picture. To compare two models, or one model
# before and after a fix, you want one number: how far, all told, the points lie from the
# diagonal. That number is the **expected calibration error**; exercise 4 gives you three
# properties it must have and asks you to work out from them how it combines bins that
# hold 9 answers in 10 with bins that hold a handful, or none at all. Its
# bins are your variant's: either of equal width, closed at the top, (0.1, 0.2], ..., and
# starting at 0, not the ones above; or of equal numbers of answers, so that the bins sit
# where the answers are, and no bin is nearly empty.

# %% [markdown]
# ## Choosing the operating point, and reading it once on the test set
#
# The coverage curve turns calibration into a decision: answer only the most confident
# digits and send the rest to a person. Where to cut is an **operating point**, and it
# needs a rule fixed before looking. Ours: the people who check can take one digit in
# ten, so the model answers the 90% of digits it is surest about. On the validation
# images that fixes a confidence threshold, the confidence of the digit at 90% coverage.
# The threshold, not the 90%, is what a deployed model uses: it cannot see the other
# digits of the day when it decides about one.

# %%
n_kept = int(0.9 * len(order))
threshold = val_confidence[order[n_kept - 1]]
print(f"validation: answering the 90% most confident ({n_kept:,} digits): {accuracy_kept[n_kept - 1]:.2%} right, "
      f"threshold {threshold:.1%}")

# The test set, read once with the threshold chosen above.
answered = confidence >= threshold
print(f"test, threshold {threshold:.1%}: answers {answered.mean():.1%} of the digits, "
      f"{(~wrong[answered]).mean():.2%} of those right; hands {(~answered).sum()} to a person, "
      f"{wrong[~answered].mean():.0%} of which it would have got wrong")

# %% [markdown]
# On the validation images the 90% most confident (2,043 digits) are 98.78% right, and
# the confidence of the last of them, 88.0%, becomes the threshold. Read once on the
# test set, that threshold answers 90.5% of the test digits, and 98.95% of those answers
# are right, against 96.22% for all of them; it hands 949 digits to a person, of which
# the model would have got 30% wrong. Both came out close to what validation promised
# (90% answered, 98.8% right), as a choice made on data like the test data should. The
# threshold's 88% is not a promise that an answer at 88% is right 88% of the time; it is
# only the line that 90% of the validation digits cleared.
#
# That is how a real system uses a model: let it read the clear cases, and send the
# doubtful ones to someone who can look. The test set was read once for it, after the
# choice; had we tried several thresholds on the test set and kept the best-looking one,
# its 98.95% would be the figure of a choice tuned to these very digits.

# %% [markdown]
# ## How exact is "96.2%"?
#
# The test set is a sample of all the digits people write. Another 10,000 digits would
# give a slightly different accuracy. For an accuracy `a` measured on `n` independent
# images, the standard error is `√(a (1 − a) / n)`, and about 95% of such samples land
# within two standard errors:

# %%
n = len(y_test)
accuracy = 1 - wrong.mean()
standard_error = np.sqrt(accuracy * (1 - accuracy) / n)
print(f"test accuracy {accuracy:.2%} ± {2 * standard_error:.2%} (95% interval: "
      f"{accuracy - 2 * standard_error:.2%} to {accuracy + 2 * standard_error:.2%})")
half = n // 2
print(f"on 5,000 images (half the test set) the interval is ±{2 * np.sqrt(accuracy * (1 - accuracy) / half):.2%}")

# %% [markdown]
# About ±0.4 points on 10,000 images, and ±0.5 on a half (the grader measures your model
# on one half of the test set). That is why the grader's points fall over a band below
# each bar rather than at a cliff, and why its bars sit a margin below what the
# *reference solutions* reach in their worst seed (the lessons' own models, trained
# briefly, sit below the bars on purpose: the exercises ask for more).

# %% [markdown]
# ## Comparing two models on the same test set
#
# That interval describes one model. To compare two, do not check whether their
# intervals overlap: both models are tested on the *same* images, and they get most of
# them right (or wrong) together. Only the images on which they disagree say anything
# about which is better. This is a **paired** comparison. Count the images model A gets
# right and B wrong (`b`), and those B gets right and A wrong (`c`). If the two were
# equally good, each disagreement would be a coin toss, so `b` would be like the number
# of heads in `b + c` fair tosses. **McNemar's test** asks how surprising the split is:
# the p-value is the chance of a split at least as uneven as the one seen, between two
# equally good models. Here model B is the same network trained from another seed:

# %%
keras.utils.set_random_seed(1)
model_b = keras.models.clone_model(model)  # the same network, fresh weights from seed 1
model_b.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model_b.fit(x_fit[:n_train], y_fit[:n_train], epochs=epochs, batch_size=128, verbose=0)
right_a = y_pred == y_test
right_b = model_b.predict(x_test, verbose=0).argmax(axis=1) == y_test
b, c = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
# Two equally good models: each of the b + c disagreements a fair coin toss. Toss them 100,000 times
# over, and count how often the split is at least as uneven as ours, either way round.
heads = np.random.default_rng(0).binomial(b + c, 0.5, size=100_000)
p_value = np.mean(np.abs(heads - (b + c - heads)) >= abs(b - c))
print(f"model A: {right_a.mean():.2%}   model B: {right_b.mean():.2%}   "
      f"both right: {np.sum(right_a & right_b):,}   both wrong: {np.sum(~right_a & ~right_b)}")
print(f"A right, B wrong: {b}   B right, A wrong: {c}   McNemar p-value, by simulation: {p_value:.2f}")

# %% [markdown]
# In our run, seed 1 reaches 96.05% against seed 0's 96.22%: the same network, 17 images
# apart. They disagree on 215 images, 116 to 99, and McNemar's p-value is about 0.27: a
# split that uneven happens often between two equally good models, so the 0.17 points
# are not evidence that either network is better. (0.05 is the usual line below which a
# difference is called real.) A difference of a few images, or a tenth of a point,
# between two models on one test set is noise until a paired test says otherwise.
#
# The simulation's p-value is an estimate: 100,000 sets of tosses pin it down to about
# ±0.003, enough to read it, not to report it. The exact p-value adds up the probability of
# every split at least as uneven, from the binomial distribution; exercise 4 asks you to
# work that sum out, and to make it exact even when two models disagree on thousands of
# images.

# %% [markdown]
# ### Two questions, two tools: McNemar's test and the seeds' spread
#
# McNemar's test and lesson 3's seeds both ask "is the difference real?", but about
# different things, and with different randomness.
#
# - **McNemar's test compares two trained models**: these weights against those. What
#   it allows for is which digits happened to land in the test set; the two models are
#   held fixed. It answers: would *these two networks* differ on more digits like these?
#   It is the tool for "is the model I would ship better than the one in use?".
# - **The seeds' spread compares two recipes**: a setting, an architecture, a way of
#   training. What it allows for is the training itself (initial weights, batch order,
#   dropout masks). It answers: would *training again* keep the order? It is the tool
#   for "which setting should I train with?", and lesson 3 and lesson 6 use it, on
#   validation images.
#
# Neither replaces the other. Above, McNemar's test compares two runs of *one* recipe:
# whatever it says, it says nothing about recipes, because there is only one. Had one
# run of recipe A and one run of recipe B differed with p below 0.05, that would show
# that these two networks differ, not that A trains better networks: the next seed of
# either recipe moves the accuracy by about as much as the seeds here do. And a recipe
# that wins over many seeds may still leave its one trained model indistinguishable, by
# McNemar's test, from another model on a single test set. To choose a recipe, train
# each from several seeds and compare on validation; to report whether one finished
# model beats another, use a paired test on the same images. (The comparison above reads
# the test set, but chooses nothing: neither seed is kept because of it. If it decided
# which model to keep, it would belong on validation images too.)
#
# The later lessons hold themselves to both rules.

# %% [markdown]
# ## Your turn: exercise 4
#
# Open `exercises/ex04_evaluation.py` and write the evaluation tools of this lesson as
# functions, in NumPy only (no scikit-learn):
#
# - `confusion_matrix(y_true, y_pred, num_classes=10)`: see *The confusion matrix*
# - `precision_recall_f1(cm)`: see *Precision, recall and F1*
# - `most_confused_pairs(cm, k=3)`: see *The most confused pairs*; a confusion is measured
#   your variant's way (`grader --variant ex04` prints it; `PAIRS` at the top of the file)
# - `most_confident_mistakes(probs, y_true, k=24)`: see *Misclassified digits*
# - `reliability_table(probs, y_true, n_bins=10)`, whose bins are your variant's (`BINS`),
#   and `expected_calibration_error(counts, confidence, accuracy)`: see *How far to trust
#   the confidence*
# - `mcnemar(y_true, pred_a, pred_b)`, exact where this lesson simulates, and
#   `compare_models(y_true, pred_a, pred_b, alpha=0.05)`, the conclusion it supports: see
#   *Comparing two models on the same test set*
#
# Their docstrings are the contract: read them first. They must also behave on awkward
# input: a class that never occurs or is never predicted gets 0.0 with no `nan` and no
# warning, equal confidences keep a fixed order, and invalid input (different lengths,
# labels outside 0–9, float labels, a confusion matrix that is not square or holds a
# negative count, probabilities that are not a 2-D float array) raises `ValueError`.
#
# Grade your work with `grader ex04` in a terminal (or `!grader ex04` in a notebook
# cell). Stuck? `grader --hint ex04` gives a hint.

# %% [markdown]
# ## Your own mistakes
#
# The gallery above showed the mistakes of the model this notebook trained with our
# code. Once your `most_confident_mistakes` passes its checks, the cell below asks *your*
# function for the twelve mistakes *your* run of the model was surest about. It imports
# your `exercises/ex04_evaluation.py` afresh each time it runs; until the function is
# written it says so and shows the lesson's ranking instead.

# %%
from mnist_course.course import load_course

yours = load_course().exercise("ex04").import_module(own=True)
try:
    own = np.asarray(yours.most_confident_mistakes(probs, y_test, k=12))
    source = "your most_confident_mistakes()"
    print("the same twelve as the lesson's gallery, in the same order:", np.array_equal(own, wrong_idx[:12]))
except NotImplementedError:
    own = wrong_idx[:12]
    source = "the lesson's ranking (write most_confident_mistakes() to see yours)"
    print("most_confident_mistakes() is not written yet:", source)

fig, axes = plt.subplots(2, 6, figsize=(10, 4))
for ax, i in zip(axes.flat, own):
    ax.imshow(x_test[i], cmap="gray_r")
    ax.set_title(f"#{i}: true {y_test[i]} → {y_pred[i]}\n{confidence[i]:.0%}", fontsize=9)
    ax.axis("off")
for ax in axes.flat[len(own):]:
    ax.axis("off")
fig.suptitle(f"Twelve confident mistakes, found by {source}")
plt.tight_layout()
# Alt text: Twelve confident mistakes in a 2 by 6 grid, each titled with its index in the test set, the true digit, the answer and the confidence.
plt.show()

# %% [markdown]
# Now make them your own mistakes in a second sense: change the model in *A model to
# evaluate* (more epochs, a wider layer, or the network you declared in exercise 3),
# run the notebook again, and look at the twelve it is surest about. Sort each into one
# of three piles, and write down how many land in each:
#
# 1. **The label looks wrong** (or the digit is unreadable to you too): no model should
#    be blamed, and no accuracy reaches 100% on this test set.
# 2. **Hard, but you can read it**: an unusual style, a stroke missing, a slant. More
#    training data, or augmentation (lesson 5), is what helps here.
# 3. **Plain to you, missed by the model**: the mistakes a better architecture fixes.
#    Keep their numbers (`#i` in each title): lesson 5's section *Lesson 4's mistakes,
#    read again* takes them and shows how many a convolutional network gets right.
#
# A better model moves digits out of piles 3 and 2; pile 1 is what stays. That is the
# honest way to read an accuracy: not how close to 100%, but how many of the remaining
# mistakes a person would have made too.
#
# Sorting into piles describes a model, so it may be done on the test set, as in
# *Looking at the test set without choosing by it*. Keep it a description: the piles
# tell you what kind of model to try next (pile 3 asks for a better architecture,
# lesson 5), not which of your variants to keep. Pick between variants by their
# validation accuracy (`most_confident_mistakes(val_probs, y_val)` sorts the validation
# mistakes the same way), and read the test set for the one you keep.
#
# **Next lesson:** convolutional networks, which make far fewer of these mistakes.
