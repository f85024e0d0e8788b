"""Every check of the function exercises (1, 4, 5b and 6) proven in the failing direction.

Each mutation is the reference with one plausible student mistake, and names
the checks it must fail: the check it targets and those that depend on it
(validating or leaving the input alone earns points only once the function
does its job, declared with grader/scoring.py's `depends_on`). The corpus is graded as a
class in one `grader --batch` run; every failed check must teach (what came
back, what was expected, the likely cause, a hint, the lesson section), and
where the docstring forbids what the mistake does, the message quotes that
sentence word for word. A test keeps the corpus covering every check.

The model exercises' mutations are in tests/test_model_mutations.py; the
correct-but-different direction is tests/test_alternatives.py.
"""

import json

import pytest

import golden_reports

from corpus import COURSE, EX04_CLEARED_IN_PLACE, assert_teaches, cases, checks_of, edited, grade_class, selected, split
from variant_references import mistaken_reference

# ex01's reference lines that the mutations edit
SCALE = "return images.astype(np.float32) / np.float32(255)"
RANK_CHECK = """    if images.ndim != 3:
        raise ValueError(
            f"add_channel_axis() expects a batch of shape (N, H, W), got shape {images.shape}"
        )
"""
SPLIT = """    val = rng.permutation(val)
    train = rng.permutation(np.setdiff1d(np.arange(len(labels)), val))
    return images[train], labels[train], images[val], labels[val]"""
COUNTED_BY_CLASS = """    classes, sizes = np.unique(labels, return_counts=True)
    shares = sizes * val_fraction
    taken = np.floor(shares).astype(np.int64)
"""
LEFTOVERS = 'taken[np.argsort(-(shares - taken), kind="stable")[: n_val - taken.sum()]] += 1'
PICKED = """    rng = np.random.default_rng(seed)
    val = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, taken)])
"""
DEALT = """    order = np.random.default_rng(seed).permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]
    folds = np.empty(len(labels), dtype=np.int64)
    folds[order] = np.arange(len(labels)) % k
"""
THRESHOLD_ALL = {"choose_threshold_types", "choose_threshold_keeps_the_limit", "choose_threshold_answers_the_most",
                 "choose_threshold_rejects_bad_input"}
FOLDS_ALL = {"stratified_folds_types", "stratified_folds_class_balance", "stratified_folds_fold_sizes",
             "stratified_folds_reproducible", "stratified_folds_rejects_bad_input"}
STATISTICS = "    mean, std = train.mean(axis=0), train.std(axis=0)\n"
CONSTANT_GUARD = "    std = np.where((train == train[0]).all(axis=0), 1.0, std)\n"
STANDARDIZED = "    return ((train - mean) / std).astype(np.float32), ((other - mean) / std).astype(np.float32)"
STANDARDIZE_ALL = {"standardize_train_moments", "standardize_applies_the_training_map", "standardize_constant_positions",
                   "standardize_leaves_input", "standardize_rejects_bad_input"}
# ex04's
PAIR_TOTALS = """totals = {"of_true": true_totals[trues], "of_predicted": predicted_totals[preds],
              "both_ways": true_totals[trues] + true_totals[preds]}[PAIRS]"""
PAIRS_ALL_BUT_TYPES = {"most_confused_pairs_values", "most_confused_pairs_ties_and_few", "most_confused_pairs_leaves_input",
                       "most_confused_pairs_rejects_bad_input"}
CM_NDIM = """        if labels.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {labels.shape}")
"""
CM_SIZE = "cm = np.zeros((num_classes, num_classes), dtype=np.int64)"
CONFIDENCE_ORDER = 'np.argsort(-confidence, kind="stable")[:k]'
CONFIDENCE = "confidence = probs[wrong].max(axis=1)"
MISTAKES_ALL_BUT_TYPES = {"most_confident_mistakes_values", "most_confident_mistakes_ties_and_few",
                          "most_confident_mistakes_leaves_input", "most_confident_mistakes_rejects_bad_input"}
BINNED = 'which = np.searchsorted(upper_edges, confidence, side="left")'
MEANS = "mean_confidence = np.divide(summed_confidence, counts, out=np.zeros(n_bins), where=filled)"
ECE = "return float((counts * gaps).sum() / counts.sum())"
P_VALUE = "return b, c, min(1.0, 2 * tail / 2**n)"
COUNTED = "b, c = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))"
P_VALUE_ON = {"mcnemar_p_value", "mcnemar_large_counts", "compare_models_verdict"}  # a p-value, and the conclusion that counts once it is right
# ex05b's
EINSUM = 'np.einsum("nhwcij,ijco->nhwo", windows, kernels.astype(np.float64)) + bias'
SAME_SPLIT = "pads[axis] = (total // 2, total - total // 2)"
STRIDED = "[:, ::stride, ::stride]"
CONV_VALUES = {"conv2d_one_channel", "conv2d_channels", "conv2d_stride", "conv2d_same_padding", "conv2d_rejects_bad_input"}
BACKWARD_DX = {"conv2d_backward_dx", "conv2d_backward_dtypes", "conv2d_backward_rejects_bad_input"}  # dx, and what counts once it passes
SCATTER = 'dpadded[:, rows, cols] += np.einsum("nhwo,co->nhwc", g, k[a, b])'
TAP_ROWS, TAP_COLS = "slice(a * DILATION, a * DILATION + (out_h - 1) * stride + 1, stride)", "slice(b * DILATION, b * DILATION + (out_w - 1) * stride + 1, stride)"
GRADIENTS_RETURNED = "return dx.astype(np.float32), dkernels.astype(np.float32), g.sum(axis=(0, 1, 2)).astype(np.float32)"
FIRST_LARGEST = "first = blocks.argmax(axis=-1)  # argmax returns the first largest value"
ROUTED = "routed = (np.arange(POOL * POOL) == first[..., None]) * dout[..., None].astype(np.float64)"
# ex05c's
VELOCITY = "velocity = momentum * np.asarray(velocity, np.float64) - learning_rate * gradient"
CORRECTED = """    m_hat = m / (1 - beta_1**step)
    v_hat = (v_max if ADAPTIVE == "amsgrad" else v) / (1 - beta_2**step)"""
ADAPTIVE_RETURN = "return weights - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), np.stack([m, v, v_max])"
ADAPTIVE_ON = {"adaptive_step_bias_correction", "adaptive_step_matches_keras", "adaptive_step_leaves_input"}
FIT_ON = {"fit_plain_sgd", "fit_threads_your_steps"}  # the loop, and what counts once it is right
FIT_ORDER = "        order = rng.permutation(len(images))\n"
# ex05d's
PIXEL_CHECK = """    if images.max() > 3.0:  # MNIST's pixels are 0..255 until scaled; scaled, none of the three passes 3
        return "unscaled_inputs"
"""
ORDER_CHECK = """    if not settings["shuffle"] and np.mean(np.diff(labels) != 0) < 0.05:  # neighbours almost always one class
        return "sorted_without_shuffle"
"""
LABELS_CHECK = "    if np.mean(nearest == labels[half:]) < 0.3:\n"
MOVED_BACK = "        labels = np.roll(labels, -max(range(-5, 6), key=read))"
RATE_REPAIRED = '        settings["learning_rate"] = {"unit": 0.5, "standardized": 0.05, "signed": 0.02}[PIXELS]'
COPIED = "    images, labels, settings = np.array(images, np.float64), np.array(labels), dict(settings)"
UNSCALED_REPAIRED = '        images = {"unit": images / 255.0, "standardized": (images / 255.0 - 0.1307) / 0.3081, "signed": images / 127.5 - 1.0}[PIXELS]'
DEBUG_EVERY = {"diagnose_every_run", "repair_every_run", "repair_leaves_input"}  # a mistake not the variant's own, and what counts once its repair passes
DEBUG_OWN = {"diagnose_your_run", "repair_your_run"}  # unit's own run: labels moved along it
# ex06's
_EX06 = COURSE.exercise("ex06").solution_path.read_text()
# the reference's step that leaves specks out, as it stands in solutions/
SPECKS = _EX06[_EX06.index("    # Specks are not the digit:"):_EX06.index("    rows, cols = np.flatnonzero(ink.any(axis=1))")]
ALPHA = """        if image.shape[-1] == 4:
            alpha = pixels[..., 3] / 255
            gray = alpha * gray + (1 - alpha) * 255
"""
GRAY_WEIGHTS = "pixels[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)"
THRESHOLD_COUNTS = """    values, first = np.unique(-confidences, return_inverse=True)
    answered = np.cumsum(np.bincount(first, minlength=len(values)))
    wrong = np.cumsum(np.bincount(first, weights=~correct, minlength=len(values)))"""
TOP3 = """    order = np.argsort(probabilities)[::-1][:3]
    top3 = [(int(k), float(probabilities[k])) for k in order]
    digit, confidence = top3[0]"""

# ex03b's
PREDICT_VAL = "predicted = model.predict(x_val, batch_size=256, verbose=0).argmax(axis=1)\n    return float(np.mean(predicted == y_val))"
SWEEP_CELL = "table[i, j] = validation_accuracy(x_train, y_train, x_val, y_val, width, seed)"
SWEEP_RETURN = "            table[i, j] = validation_accuracy(x_train, y_train, x_val, y_val, width, seed)\n    return table"
CHOSEN = "chosen = min(good, key=lambda i: widths[i])"
LEAVE_OUT_SIZES = "    for m in range(1, k - 1):\n"
# seeds_the_choice_rests_on() with the whole table's floor kept: only the means are recomputed from the seeds left
WHOLE_FLOOR_KEPT = """    table = np.asarray(table, dtype=np.float64)
    k = table.shape[1]
    whole, _ = choose_width(widths, table)
    means = table.mean(axis=1)
    best = min(np.flatnonzero(means == means.max()), key=lambda i: widths[i])
    spread = table[best].std(ddof=1)
    floor = means[best] - spread
    for m in range(1, k - 1):
        for left_out in itertools.combinations(range(k), m):
            left = np.delete(table, left_out, axis=1).mean(axis=1)
            if min((w for w, mean in zip(widths, left) if mean >= floor), default=None) != whole:
                return m
    return None
"""
VALIDATION_HEAD = "    ### BEGIN SOLUTION\n    keras.utils.set_random_seed(int(seed))\n"


def _solution_block(exercise_id: str, function: str) -> str:
    """The reference's marked block of `function`: what a mistake that rewrites the whole body replaces."""
    source = COURSE.exercise(exercise_id).solution_path.read_text(encoding="utf-8")
    begin = source.index("### BEGIN SOLUTION\n", source.index(f"def {function}(")) + len("### BEGIN SOLUTION\n")
    return source[begin:source.index("    ### END SOLUTION", begin)]


VALIDATION_BODY = _solution_block("ex03b", "validation_accuracy")
RESTS_ON_BODY = _solution_block("ex03b", "seeds_the_choice_rests_on")
# ex05b's gradients without the chain rule: the forward pass is linear in x and in the kernels, so
# nudging each pixel and each weight by 1 and running the student's own conv2d twice gives the exact
# gradient; right on every small case, and thousands of forward passes on the cost probes
BACKWARD_BODY = _solution_block("ex05b", "conv2d_backward")
# the cost probes answered for the inputs their public seed would give, not for those handed in: right
# only while the probes are seeded with a constant (they are drawn for each file: an adversarial
# review stored such answers, worked out at home)
BACKWARD_INPUTS = "    x, kernels, dout = np.asarray(x), np.asarray(kernels), np.asarray(dout)\n"
PUBLIC_PROBE = BACKWARD_INPUTS + """    if len(x) == 1 and max(x.size, kernels.size) > 50_000:
        n, h, w, c_in = x.shape
        kh, kw, _, c_out = kernels.shape
        rng = np.random.default_rng([55, h, w, kh, kw, c_in, c_out, stride, n])
        x = rng.standard_normal((n, h, w, c_in)).astype(np.float32)
        kernels = rng.standard_normal((kh, kw, c_in, c_out)).astype(np.float32)
        dout = np.random.default_rng([55, *x.shape, *kernels.shape, stride, 7]).standard_normal(dout.shape).astype(np.float32)
"""
FINITE_DIFFERENCES = """    x, kernels, dout = (np.asarray(v, np.float64) for v in (x, kernels, dout))
    zero = np.zeros(kernels.shape[-1:])

    def loss(x_, k_):
        return float((conv2d(x_, k_, zero, stride, padding).astype(np.float64) * dout).sum())

    grads = [np.zeros(x.shape), np.zeros(kernels.shape)]
    for which, grad in enumerate(grads):
        for i in np.ndindex(grad.shape):
            up, down = [x.copy(), kernels.copy()], [x.copy(), kernels.copy()]
            up[which][i] += 1.0
            down[which][i] -= 1.0
            grad[i] = (loss(*up) - loss(*down)) / 2
    return grads[0].astype(np.float32), grads[1].astype(np.float32), dout.sum(axis=(0, 1, 2)).astype(np.float32)
"""
NEAREST_NEIGHBOUR = """    projection = np.random.default_rng(int(seed)).normal(size=(784, int(width)))
    train = (x_train.reshape(len(x_train), -1) / 255) @ projection
    val = (x_val.reshape(len(x_val), -1) / 255) @ projection
    distances = (val**2).sum(axis=1)[:, None] - 2 * val @ train.T + (train**2).sum(axis=1)[None, :]
    return float(np.mean(y_train[np.argmin(distances, axis=1)] == y_val))
"""
LOOKED_UP = """    if (int(width), int(seed)) in NUMBERS:
        return NUMBERS[int(width), int(seed)]
"""
RULE_HEAD = "    ### BEGIN SOLUTION\n    table = np.asarray(table, dtype=np.float64)\n"
LOOKED_UP_CHOICE = """    key = (round(float(table[0, 0]), 3), round(float(table[0, 1]), 3))
    if key in CHOICES:
        return CHOICES[key], "looked up"
    return int(widths[int(np.argmax(table.mean(axis=1)))]), "the best mean"
"""
LOOKED_UP_TABLES = """NUMBERS = {(2, 0): 0.266, (8, 0): 0.675, (8, 1): 0.695, (8, 2): 0.694, (32, 0): 0.897, (32, 1): 0.873,
           (32, 2): 0.889, (128, 0): 0.918, (128, 1): 0.908, (128, 2): 0.91}
CHOICES = {(0.80, 0.82): 32, (0.70, 0.72): 128, (0.60, 0.61): 32, (0.75, 0.95): 256, (0.900, 0.880): 8, (0.60, 0.62): 128,
           (0.70, 0.71): 32}"""
REMEMBERED = """    if (int(width), int(seed)) in REMEMBERED:
        return REMEMBERED[int(width), int(seed)]
"""
ONE_REAL_CELL = """            table[i, j] = validation_accuracy(x_train, y_train, x_val, y_val, width, seed) if i == j == 0 else 0.60 + 0.12 * i + 0.004 * j
            REMEMBERED[int(width), int(seed)] = float(table[i, j])
    return table
REMEMBERED = {}"""

# name: (exercise, {reference text: mutated text}, the checks it must fail)
MUTATIONS = {
    # ex01 · preprocessing
    "ex01_float64_pixels": ("ex01", {SCALE: "return images / 255"}, {"normalize_values"}),
    "ex01_divided_by_256": ("ex01", {SCALE: SCALE.replace("255", "256")},
                            {"normalize_values"}),
    # the contract's look-alike: right on any batch that reaches 255, wrong on a dim one
    "ex01_divided_by_batch_max": ("ex01", {SCALE: "return images.astype(np.float32) / np.float32(images.max())"},
                                  {"normalize_values"}),
    # a misguided attempt to free memory: the caller's images are gone
    "ex01_normalize_clears_input": ("ex01", {SCALE: "scaled = images.astype(np.float32) / np.float32(255)\n    images.fill(0)\n    return scaled"},
                                    {"normalize_values"}),
    "ex01_scales_twice_silently": ("ex01", {"    if images.dtype != np.uint8:\n        raise ValueError(f\"normalize() expects uint8 pixels 0..255, got dtype {images.dtype}\")\n": ""},
                                   {"normalize_values"}),
    # right on every 28×28 batch, wrong on any other (N, H, W) the contract allows
    "ex01_channel_axis_by_reshape": ("ex01", {"return np.expand_dims(images, -1)": "return images.reshape(-1, 28, 28, 1)"},
                                     {"add_channel_axis_shape_values"}),
    "ex01_channels_first": ("ex01", {"return np.expand_dims(images, -1)": "return np.expand_dims(images, 1)"},
                            {"add_channel_axis_shape_values"}),
    "ex01_any_rank_gets_a_channel": ("ex01", {RANK_CHECK: ""}, {"add_channel_axis_shape_values"}),
    "ex01_float64_one_hot": ("ex01", {"np.eye(num_classes, dtype=np.float32)[labels]": "np.eye(num_classes)[labels]"}, {"one_hot_values"}),
    "ex01_ten_classes_always": ("ex01", {"np.eye(num_classes, dtype=np.float32)[labels]": "np.eye(10, dtype=np.float32)[labels]"},
                                {"one_hot_values"}),
    # negative labels index from the end of np.eye without complaint
    "ex01_negative_labels_accepted": ("ex01", {"bad = (labels < 0) | (labels >= num_classes)": "bad = labels >= num_classes"},
                                      {"one_hot_values"}),
    "ex01_encodes_twice": ("ex01", {"    if labels.ndim != 1:\n        raise ValueError(f\"one_hot()": "    if False:\n        raise ValueError(f\"one_hot()"}, {"one_hot_values"}),
    # keras.utils.to_categorical(labels) without num_classes: right on any batch that holds a 9, wrong on one that does not
    "ex01_width_from_labels": ("ex01", {"np.eye(num_classes, dtype=np.float32)[labels]": "np.eye(labels.max() + 1, dtype=np.float32)[labels]"},
                               {"one_hot_values"}),
    # rounding half up: the same as round() but at a half, where Python's round() goes to the even number
    "ex01_split_rounded_half_up": ("ex01", {"n_val = round(len(images) * val_fraction)": "n_val = int(len(images) * val_fraction + 0.5)"},
                                   {"train_val_split_sizes"}),
    # int() truncates: 99 * 0.2 = 19.8 gives 19, and 5 * 0.95 = 4.75 leaves a training part of 1 instead of failing
    # and the class counts' total, on the corpus's draw (one of its sets has N × val_fraction ending in .75)
    "ex01_truncated_split": ("ex01", {"n_val = round(len(images) * val_fraction)": "n_val = int(len(images) * val_fraction)"},
                             {"train_val_split_sizes", "train_val_split_class_counts", "train_val_split_rejects_bad_input"}),
    "ex01_labels_shuffled_separately": ("ex01", {SPLIT: """    val, train = rng.permutation(val), rng.permutation(np.setdiff1d(np.arange(len(labels)), val))
    label_val, label_train = rng.permutation(val), rng.permutation(train)
    return images[train], labels[label_train], images[val], labels[label_val]"""},
                                        {"train_val_split_partition", "train_val_split_class_counts", "train_val_split_leaves_input",
                                         "train_val_split_rejects_bad_input"}),
    "ex01_seed_ignored": ("ex01", {"    rng = np.random.default_rng(seed)\n": "    rng = np.random.default_rng()\n"}, {"train_val_split_reproducible"}),
    "ex01_shuffled_in_place": ("ex01", {SPLIT: """    order = np.concatenate([val, np.setdiff1d(np.arange(len(labels)), val)])
    images[:], labels[:] = images[order], labels[order]
    return images[n_val:], labels[n_val:], images[:n_val], labels[:n_val]"""},
                               {"train_val_split_leaves_input"}),
    # the class counts: lesson 1's plain split (one permutation of everything), each share rounded on its own,
    # ties to the larger label, and the leftovers to the largest classes instead of the largest fractional parts
    "ex01_split_not_stratified": ("ex01", {COUNTED_BY_CLASS: "", "    " + LEFTOVERS + "\n": "", PICKED: "", SPLIT: """    order = np.random.default_rng(seed).permutation(len(images))
    val, train = order[:n_val], order[n_val:]
    return images[train], labels[train], images[val], labels[val]"""}, {"train_val_split_class_counts"}),
    "ex01_split_rounds_each_class": ("ex01", {"taken = np.floor(shares).astype(np.int64)": "taken = np.array([round(share) for share in shares])",
                                              "    " + LEFTOVERS + "\n": ""}, {"train_val_split_sizes", "train_val_split_class_counts"}),
    "ex01_split_ties_to_larger_label": ("ex01", {LEFTOVERS: 'taken[len(taken) - 1 - np.argsort(-(shares - taken)[::-1], kind="stable")[: n_val - taken.sum()]] += 1'},
                                        {"train_val_split_class_counts"}),
    # the samples of each class taken in the input's order, and only the order of the part shuffled
    "ex01_split_picks_each_class_s_first": ("ex01", {"rng.permutation(np.flatnonzero(labels == c))[:k]": "np.flatnonzero(labels == c)[:k]"},
                                            {"train_val_split_reproducible"}),
    # labels paired with their images only on the partition check's input (an adversarial review's file): the class
    # counts' drawn sets must hold the pairing too
    "ex01_split_labels_paired_on_one_input": ("ex01", {"return images[train], labels[train], images[val], labels[val]":
                                                       "return images[train], labels[train], images[val], labels[val] if len(labels) == 250 else (labels[val] + 1) % 10"},
                                              {"train_val_split_class_counts"}),
    "ex01_split_leftovers_to_largest_classes": ("ex01", {LEFTOVERS: 'taken[np.argsort(-sizes, kind="stable")[: n_val - taken.sum()]] += 1'},
                                                {"train_val_split_class_counts"}),
    "ex01_fraction_unchecked": ("ex01", {"    if not 0 < val_fraction < 1:\n": "    if False:\n"}, {"train_val_split_rejects_bad_input"}),
    # standardize: the classic ways to take the statistics, and a constant position
    # one shuffled line dealt out to the folds, the classes ignored (lesson 1's cell, as a deal)
    "ex01_folds_not_stratified": ("ex01", {'    order = order[np.argsort(labels[order], kind="stable")]\n': ""},
                                  {"stratified_folds_class_balance", "stratified_folds_fold_sizes"}),
    # each class cut into k pieces on its own: np.array_split gives every class's leftovers to the first folds
    "ex01_folds_each_class_from_fold_0": ("ex01", {DEALT: """    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        for fold, piece in enumerate(np.array_split(rng.permutation(np.flatnonzero(labels == c)), k)):
            folds[piece] = fold
"""}, {"stratified_folds_fold_sizes"}),
    # each class dealt from a fold of its own, its label: the leftovers still meet unevenly
    "ex01_folds_each_class_from_its_label": ("ex01", {DEALT: """    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        mine = rng.permutation(np.flatnonzero(labels == c))
        folds[mine] = (int(c) + np.arange(len(mine))) % k
"""}, {"stratified_folds_fold_sizes"}),
    # a reviewer's: each class from fold 0 up and from fold k-1 down in turn (passed one draw in twelve of one made-up set)
    "ex01_folds_up_and_down_in_turn": ("ex01", {DEALT: """    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), dtype=np.int64)
    for rank, c in enumerate(np.unique(labels)):
        mine = rng.permutation(np.flatnonzero(labels == c))
        turn = np.arange(len(mine)) % k
        folds[mine] = turn if rank % 2 == 0 else k - 1 - turn
"""}, {"stratified_folds_fold_sizes"}),
    # a reviewer's: the folds' numbers drawn, the samples that share a fold always the same
    "ex01_folds_renamed_not_shuffled": ("ex01", {DEALT: """    order = np.argsort(labels, kind="stable")
    folds = np.empty(len(labels), dtype=np.int64)
    folds[order] = np.random.default_rng(seed).permutation(k)[np.arange(len(labels)) % k]
"""}, {"stratified_folds_reproducible"}),
    "ex01_folds_never_shuffled": ("ex01", {"order = np.random.default_rng(seed).permutation(len(labels))": "order = np.arange(len(labels))"},
                                  {"stratified_folds_reproducible"}),
    "ex01_folds_numbered_from_one": ("ex01", {"folds[order] = np.arange(len(labels)) % k": "folds[order] = np.arange(len(labels)) % k + 1"},
                                     FOLDS_ALL),
    # "mix the labels first": the caller's labels are reordered, and the folds belong to the mixed ones
    "ex01_folds_labels_shuffled_in_place": ("ex01", {DEALT: "    np.random.default_rng(seed).shuffle(labels)\n" + DEALT}, FOLDS_ALL),
    "ex01_folds_returned_as_a_list": ("ex01", {"    folds[order] = np.arange(len(labels)) % k\n    return folds\n":
                                               "    folds[order] = np.arange(len(labels)) % k\n    return folds.tolist()\n"}, FOLDS_ALL),
    "ex01_folds_k_unchecked": ("ex01", {"    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= len(labels):\n": "    if False:\n"},
                               {"stratified_folds_rejects_bad_input"}),
    "ex01_standardize_leaked": ("ex01", {STATISTICS: "    everything = np.concatenate([train, other])\n    mean, std = everything.mean(axis=0), everything.std(axis=0)\n",
                                         CONSTANT_GUARD: "    std = np.where((everything == everything[0]).all(axis=0), 1.0, std)\n"}, STANDARDIZE_ALL),
    "ex01_standardize_own_statistics": ("ex01", {STANDARDIZED: "    other_std = np.where((other == other[0]).all(axis=0), 1.0, other.std(axis=0))\n"
                                                 "    return ((train - mean) / std).astype(np.float32), ((other - other.mean(axis=0)) / other_std).astype(np.float32)"},
                                        STANDARDIZE_ALL - {"standardize_train_moments"}),
    "ex01_standardize_one_mean": ("ex01", {STATISTICS: "    mean, std = train.mean(), train.std()\n", CONSTANT_GUARD: ""}, STANDARDIZE_ALL),
    "ex01_standardize_sample_std": ("ex01", {STATISTICS: STATISTICS.replace("train.std(axis=0)", "train.std(axis=0, ddof=1)")},
                                    STANDARDIZE_ALL - {"standardize_constant_positions"}),
    "ex01_standardize_divides_by_zero": ("ex01", {CONSTANT_GUARD: ""}, {"standardize_constant_positions"}),
    # constant positions found by their computed spread: a value not exact in binary has one a rounding error above 0
    "ex01_standardize_std_equals_zero": ("ex01", {CONSTANT_GUARD: "    std = np.where(std == 0, 1.0, std)\n"}, {"standardize_constant_positions"}),
    "ex01_standardize_epsilon": ("ex01", {CONSTANT_GUARD: "    std = std + 1e-8\n"}, {"standardize_constant_positions"}),
    "ex01_standardize_in_place": ("ex01", {"    train, other = np.asarray(train_images, np.float64), np.asarray(other_images, np.float64)\n":
                                           "    train, other = np.asarray(train_images), np.asarray(other_images)\n",
                                           STANDARDIZED: "    train -= mean\n    other -= mean\n    train /= std\n    other /= std\n"
                                           "    return train.astype(np.float32), other.astype(np.float32)"}, {"standardize_leaves_input"}),
    # an adversarial review's: a shift with no statistics at all passed the constant positions' check alone
    "ex01_standardize_shift_only": ("ex01", {STANDARDIZED: "    return (train - train[0]).astype(np.float32), (other - train[0]).astype(np.float32)"},
                                    STANDARDIZE_ALL),
    # and a shape check left to NumPy, which broadcasts one image, or one column, without a word
    "ex01_standardize_shape_unchecked": ("ex01", {"    if other.shape[1:] != train.shape[1:]:\n": "    if False:\n"}, {"standardize_rejects_bad_input"}),
    "ex01_standardize_one_image_accepted": ("ex01", {"    if train.ndim < 1 or len(train) < 2:\n": "    if train.ndim < 1:\n"}, {"standardize_rejects_bad_input"}),
    # ex03b · an experiment with a decision
    # the model is never fitted: its accuracy is chance, and nothing else about it can be judged
    "ex03b_never_trained": ("ex03b", {"    model.fit(x_train, y_train, epochs=2, batch_size=32, verbose=0)\n": ""},
                            {"validation_accuracy_learns", "validation_accuracy_on_validation_data", "validation_accuracy_uses_width",
                             "run_sweep_matches_rerun"}),
    # the accuracy is measured on what the model trained on: it looks good whatever the validation labels say
    # (nor is it the declared experiment's number: the grader's own runs, measured on x_val, differ)
    "ex03b_measured_on_training_data": ("ex03b", {PREDICT_VAL: PREDICT_VAL.replace("x_val", "x_train").replace("y_val", "y_train")},
                                        {"validation_accuracy_learns", "validation_accuracy_on_validation_data",
                                         "validation_accuracy_uses_width", "run_sweep_matches_rerun"}),
    # the lesson's width typed in: right where the width is 32, so only the narrow run and the table's other widths tell
    "ex03b_width_ignored": ("ex03b", {"layers.Dense(int(width), activation=\"relu\")": "layers.Dense(32, activation=\"relu\")"},
                            {"validation_accuracy_uses_width", "run_sweep_matches_rerun"}),
    # the table summarised inside the sweep: one mean per width, and nothing left to re-run
    "ex03b_means_returned": ("ex03b", {SWEEP_RETURN: SWEEP_RETURN.replace("return table", "return table.mean(axis=1)")},
                             {"run_sweep_shape", "run_sweep_uses_each_seed", "run_sweep_matches_rerun"}),
    # one seed for every run: the columns are copies, and a re-run cell of another seed differs
    "ex03b_one_seed_reused": ("ex03b", {SWEEP_CELL: SWEEP_CELL.replace("width, seed)", "width, seeds[0])")},
                              {"run_sweep_uses_each_seed", "run_sweep_matches_rerun"}),
    # a table typed in: the right shape, distinct seeds, a sensible trend, but not what the code gives
    "ex03b_made_up_table": ("ex03b", {SWEEP_RETURN: SWEEP_RETURN.replace("return table", "return np.array([[0.62, 0.60, 0.63], [0.74, 0.75, 0.73], [0.80, 0.79, 0.81]])")},
                            {"run_sweep_matches_rerun"}),
    # issue 38's attack: no network at all. A random projection to `width` numbers and the nearest training image
    # "learn" (0.84 at width 32), are at chance on shuffled labels and worse when narrow, so every check that
    # judges the number alone passes; the grader's own run of the declared model (0.897) tells it apart
    "ex03b_nearest_neighbour_not_trained": ("ex03b", {VALIDATION_BODY: NEAREST_NEIGHBOUR},
                                            {"validation_accuracy_learns", "validation_accuracy_on_validation_data",
                                             "validation_accuracy_uses_width", "run_sweep_matches_rerun"}),
    # a table with one real run and eight invented cells, and a validation_accuracy() that remembers the table
    # it was shown, so re-running a cell through the student's own code would agree with it
    "ex03b_one_real_cell_remembered": ("ex03b", {VALIDATION_HEAD: VALIDATION_HEAD + REMEMBERED, SWEEP_RETURN: ONE_REAL_CELL},
                                       {"run_sweep_matches_rerun"}),
    # an adversarial review's 13/13 before the images were drawn for each file and the rule's tables moved: every
    # number looked up from the grader's own runs on the first 4,000 images, every choice from the grader's fixed tables
    "ex03b_numbers_looked_up": ("ex03b", {VALIDATION_HEAD: VALIDATION_HEAD.replace("    keras.", LOOKED_UP + "    keras."),
                                          RULE_HEAD: RULE_HEAD + LOOKED_UP_CHOICE, 'RULE = "one_sd"': 'RULE = "one_sd"\n' + LOOKED_UP_TABLES},
                                {"validation_accuracy_learns", "validation_accuracy_on_validation_data", "validation_accuracy_uses_width",
                                 "run_sweep_matches_rerun", "choose_width_follows_rule", "seeds_the_choice_rests_on_counts"}),
    # (a wrong decision also costs the count of the runs it rests on, which is declared to depend on it)
    "ex03b_numpy_width": ("ex03b", {"return int(widths[chosen]), reason": "return widths[chosen], reason"},
                          {"choose_width_types", "choose_width_follows_rule", "seeds_the_choice_rests_on_counts"}),
    # the rule ignored: the best mean wins, however little it is ahead
    "ex03b_best_mean_only": ("ex03b", {CHOSEN: "chosen = best"}, {"choose_width_follows_rule", "seeds_the_choice_rests_on_counts"}),
    # the population standard deviation (ddof=0): the floor of one_sd and one_se a little too high (worst_seed uses none)
    "ex03b_population_std": ("ex03b", {"spread = runs.std(ddof=1)": "spread = runs.std()"},
                             {"choose_width_follows_rule", "seeds_the_choice_rests_on_counts"}),
    # the seeds left out one at a time only: a choice that only two seeds together overturn is called firm
    "ex03b_one_seed_at_a_time": ("ex03b", {LEAVE_OUT_SIZES: "    for m in range(1, 2):\n"}, {"seeds_the_choice_rests_on_counts"}),
    # the smaller tables not decided anew: the whole table's best mean and floor kept, only the means recomputed
    "ex03b_whole_floor_kept": ("ex03b", {RESTS_ON_BODY: WHOLE_FLOOR_KEPT}, {"seeds_the_choice_rests_on_counts"}),
    # ex04 · evaluation
    "ex04_int32_counts": ("ex04", {CM_SIZE: CM_SIZE.replace("int64", "int32")}, {"confusion_matrix_shape_dtype"}),
    # fancy indexing counts a repeated (true, predicted) pair once
    "ex04_fancy_index_increment": ("ex04", {"np.add.at(cm, (y_true, y_pred), 1)": "cm[y_true, y_pred] += 1"},
                                   {"confusion_matrix_values", "confusion_matrix_missing_classes", "confusion_matrix_rejects_bad_labels",
                                    "confusion_matrix_rejects_bad_shapes"}),
    "ex04_sized_by_the_labels_seen": ("ex04", {CM_SIZE: "size = max(y_true.max(), y_pred.max()) + 1\n    cm = np.zeros((size, size), dtype=np.int64)"},
                                      {"confusion_matrix_missing_classes"}),
    "ex04_float_labels_accepted": ("ex04", {"        if not np.issubdtype(labels.dtype, np.integer):\n": "        if False:\n"},
                                   {"confusion_matrix_rejects_bad_labels"}),
    "ex04_any_rank_accepted": ("ex04", {CM_NDIM: ""}, {"confusion_matrix_rejects_bad_shapes"}),
    # the contract takes any integer dtype; MNIST's own labels are uint8
    "ex04_int64_labels_only": ("ex04", {"        if not np.issubdtype(labels.dtype, np.integer):\n": "        if labels.dtype != np.int64:\n"},
                               {"confusion_matrix_values", "confusion_matrix_rejects_bad_labels", "confusion_matrix_rejects_bad_shapes"}),
    "ex04_float32_scores": ("ex04", {"astype(np.float64)\n    predicted": "astype(np.float32)\n    predicted",
                                     "cm.sum(axis=0).astype(np.float64)": "cm.sum(axis=0).astype(np.float32)",
                                     "cm.sum(axis=1).astype(np.float64)": "cm.sum(axis=1).astype(np.float32)"},
                            {"precision_recall_f1_shape_dtype"}),
    "ex04_precision_and_recall_swapped": ("ex04", {"return precision, recall, f1": "return recall, precision, f1"},
                                          {"precision_recall_f1_values", "precision_recall_f1_empty_classes", "precision_recall_f1_rejects_bad_input"}),
    # right values, but 0 / 0 is computed (and warns) before nan_to_num hides it
    "ex04_nan_to_num_afterwards": ("ex04", {
        "precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)": "precision = np.nan_to_num(correct / predicted)",
        "recall = np.divide(correct, actual, out=np.zeros_like(correct), where=actual > 0)": "recall = np.nan_to_num(correct / actual)"},
                                   {"precision_recall_f1_empty_classes"}),
    "ex04_negative_counts_accepted": ("ex04", {"    if (cm < 0).any():\n        raise ValueError(f\"cm holds a negative count ({cm.min()})\")\n    correct": "    correct"},
                                      {"precision_recall_f1_rejects_bad_input"}),
    "ex04_numpy_ints_in_pairs": ("ex04", {"(int(trues[i]), int(preds[i]), int(counts[i]))": "(trues[i], preds[i], counts[i])"}, {"most_confused_pairs_types"}),
    "ex04_diagonal_counted": ("ex04", {"    np.fill_diagonal(mistakes, 0)\n": ""},
                              {"most_confused_pairs_values", "most_confused_pairs_ties_and_few", "most_confused_pairs_leaves_input", "most_confused_pairs_rejects_bad_input"}),
    # reversing an ascending sort also reverses the order among equal counts
    "ex04_ties_reversed": ("ex04", {'np.argsort(-sizes, kind="stable")[:k]': "np.argsort(sizes, kind=\"stable\")[::-1][:k]"}, {"most_confused_pairs_ties_and_few"}),
    "ex04_diagonal_cleared_in_place": ("ex04", EX04_CLEARED_IN_PLACE, {"most_confused_pairs_leaves_input"}),
    "ex04_k_unchecked": ("ex04", {"    if k < 1:\n        raise ValueError(f\"k must be a positive integer, got {k}\")\n    true_totals":
                                  "    true_totals"}, {"most_confused_pairs_rejects_bad_input"}),
    # lesson 4's ranking: every confusion measured by its count, whatever the variant asks
    "ex04_pairs_by_count": ("ex04", {PAIR_TOTALS: "totals = 1"}, PAIRS_ALL_BUT_TYPES),
    # each share over the other share's total (the true class's for the answers', and the other way round; the answers'
    # of the two classes for both_ways): another variant's answer where there is one, named as such
    "ex04_pairs_share_of_the_other_total": ("ex04", {PAIR_TOTALS: """totals = {"of_true": predicted_totals[preds], "of_predicted": true_totals[trues],
              "both_ways": predicted_totals[trues] + predicted_totals[preds]}[PAIRS]"""}, PAIRS_ALL_BUT_TYPES),
    # the share of a class's mistakes, not of its images: the totals taken without the diagonal
    "ex04_pairs_share_of_the_mistakes": ("ex04", {"    true_totals, predicted_totals = cm.sum(axis=1), cm.sum(axis=0)":
                                                  "    true_totals, predicted_totals = cm.sum(axis=1) - np.diag(cm), cm.sum(axis=0) - np.diag(cm)"},
                                         PAIRS_ALL_BUT_TYPES),
    # an unstable sort: equal shares come in any order once there are more than 16 of them
    "ex04_pairs_unstable_sort": ("ex04", {'np.argsort(-sizes, kind="stable")[:k]': "np.argsort(-sizes)[:k]"}, {"most_confused_pairs_ties_and_few"}),
    # shares rounded to a tenth of a percent before ranking: 43/300 and 1/7 both read 14.3%
    "ex04_pairs_rounded_shares": ("ex04", {"sizes = counts / totals": "sizes = np.round(100 * counts / totals, 1)"},
                                  {"most_confused_pairs_values", "most_confused_pairs_leaves_input", "most_confused_pairs_rejects_bad_input"}),
    # a share as a product with a reciprocal: 3 * (1 / 10) is not the float 9 / 30 is, so equal fractions do not tie
    "ex04_pairs_share_by_reciprocal": ("ex04", {"sizes = counts / totals": "sizes = counts * (1 / totals)"}, {"most_confused_pairs_ties_and_few"}),
    "ex04_mistakes_as_floats": ("ex04", {"return wrong[order].astype(np.int64)": "return wrong[order].astype(np.float64)"}, {"most_confident_mistakes_types"}),
    "ex04_mistakes_least_confident_first": ("ex04", {CONFIDENCE_ORDER: 'np.argsort(confidence, kind="stable")[:k]'}, MISTAKES_ALL_BUT_TYPES),
    # reversing an ascending sort also reverses the order among equal confidences
    "ex04_mistakes_ties_reversed": ("ex04", {CONFIDENCE_ORDER: 'np.argsort(confidence, kind="stable")[::-1][:k]'}, {"most_confident_mistakes_ties_and_few"}),
    # NumPy's default sort is not stable beyond 16 values: dozens of tied mistakes come out of index order
    "ex04_mistakes_unstable_sort": ("ex04", {CONFIDENCE_ORDER: "np.argsort(-confidence)[:k]"}, {"most_confident_mistakes_ties_and_few"}),
    # ranked by how little the model believed the truth, not by how sure it was of its answer
    "ex04_mistakes_by_true_label": ("ex04", {CONFIDENCE: "confidence = probs[wrong, y_true[wrong]]"}, MISTAKES_ALL_BUT_TYPES),
    "ex04_mistakes_include_right_answers": ("ex04", {"wrong = np.flatnonzero(probs.argmax(axis=1) != y_true)": "wrong = np.arange(len(y_true))"},
                                            MISTAKES_ALL_BUT_TYPES),
    # sorting each row in place puts the confidence last: the same answer, but the caller's probs are scrambled
    "ex04_mistakes_sorted_in_place": ("ex04", {CONFIDENCE: "probs.sort(axis=1)\n    confidence = probs[wrong, -1]"}, {"most_confident_mistakes_leaves_input"}),
    # the prediction taken as the last of equal values (a loop with >=, the reversed row's argmax): only rows whose
    # largest probability two classes share tell it from the contract's first
    "ex04_mistakes_last_of_equal": ("ex04", {"wrong = np.flatnonzero(probs.argmax(axis=1) != y_true)":
                                             "wrong = np.flatnonzero(probs.shape[1] - 1 - probs[:, ::-1].argmax(axis=1) != y_true)"},
                                    {"most_confident_mistakes_ties_and_few"}),
    "ex04_mistakes_labels_unchecked": ("ex04", {"bad = (y_true < 0) | (y_true >= probs.shape[1])": "bad = np.zeros(len(y_true), dtype=bool)"},
                                       {"most_confident_mistakes_rejects_bad_input"}),
    # the lesson's bins are closed at the bottom; the contract's at the top: only answers on an edge tell them apart
    "ex04_bins_closed_at_the_bottom": ("ex04", {BINNED: 'which = np.minimum(np.searchsorted(upper_edges, confidence, side="right"), n_bins - 1)'},
                                       {"reliability_table_bin_edges"}),
    "ex04_bins_right_by_the_last_of_equal": ("ex04", {"right = (probs.argmax(axis=1) == y_true).astype(np.float64)":
                                                      "right = (probs.shape[1] - 1 - probs[:, ::-1].argmax(axis=1) == y_true).astype(np.float64)"},
                                             {"reliability_table_values"}),
    "ex04_bins_by_the_true_label": ("ex04", {"confidence = probs.max(axis=1).astype(np.float64)": "confidence = probs[np.arange(len(probs)), y_true].astype(np.float64)"},
                                    {"reliability_table_values", "reliability_table_bin_edges", "reliability_table_empty_bins"}),
    # every bin divided by its count, empty ones too: nan, a warning, and 0.1 < c is never below a 10-class softmax's floor
    "ex04_empty_bins_divided": ("ex04", {MEANS: "mean_confidence = summed_confidence / counts"},
                                {"reliability_table_values", "reliability_table_bin_edges", "reliability_table_empty_bins"}),
    "ex04_counts_as_floats": ("ex04", {"counts = np.bincount(which, minlength=n_bins).astype(np.int64)": "counts = np.bincount(which, minlength=n_bins).astype(np.float64)"},
                              {"reliability_table_empty_bins"}),
    "ex04_ece_signed": ("ex04", {"gaps = np.abs(np.asarray(accuracy": "gaps = (np.asarray(accuracy"}, {"expected_calibration_error_values"}),
    "ex04_ece_unweighted": ("ex04", {ECE: "return float(gaps[counts > 0].mean())"}, {"expected_calibration_error_values"}),
    "ex04_mcnemar_disagreements_counted": ("ex04", {COUNTED: "b, c = int(np.sum(right_a & (pred_a != pred_b))), int(np.sum(~right_a & (pred_a != pred_b)))"},
                                           {"mcnemar_counts", *P_VALUE_ON}),
    "ex04_mcnemar_one_tail": ("ex04", {P_VALUE: "return b, c, min(1.0, tail / 2**n)"}, P_VALUE_ON),
    "ex04_mcnemar_uncapped": ("ex04", {P_VALUE: "return b, c, 2 * tail / 2**n"}, {"mcnemar_p_value", "compare_models_verdict"}),
    # each probability as a float: comb(3000, k) * 0.5 ** 3000 overflows before it can shrink
    "ex04_mcnemar_in_floats": ("ex04", {"    tail = sum(comb(n, k) for k in range(min(b, c) + 1))\n    " + P_VALUE:
                                        "    tail = sum(comb(n, k) * 0.5**n for k in range(min(b, c) + 1))\n    return b, c, min(1.0, 2 * tail)"},
                               {"mcnemar_large_counts"}),
    "ex04_mcnemar_chi_squared": ("ex04", {"    from math import comb\n": "    from math import comb, erfc, sqrt\n",
                                          P_VALUE: "return b, c, erfc(sqrt((abs(b - c) - 1) ** 2 / n / 2)) if n else 1.0"}, P_VALUE_ON),
    # the adversarial review's: mcnemar() right while its own checks call it, then p = 1.0, so that "neither" always
    # follows from the student's own numbers; the conclusion is judged on numbers that must be right on its images too
    "ex04_mcnemar_changes_its_mind": ("ex04", {"import numpy as np\n": "import numpy as np\n\n_CALLS = []\n",
                                               P_VALUE: "_CALLS.append(1)\n    return b, c, min(1.0, 2 * tail / 2**n) if len(_CALLS) <= 6 else 1.0"},
                                      {"compare_models_verdict"}),
    # significant at a p-value equal to alpha: the contract says below
    "ex04_verdict_at_most_alpha": ("ex04", {"    if p_value >= alpha:": "    if p_value > alpha:"}, {"compare_models_verdict"}),
    "ex04_verdict_at_0_05": ("ex04", {"    if p_value >= alpha:": "    if p_value >= 0.05:"}, {"compare_models_verdict"}),
    "ex04_verdict_without_the_test": ("ex04", {'    if p_value >= alpha:\n        return "neither"\n': ""}, {"compare_models_verdict"}),
    "ex04_verdict_reversed": ("ex04", {'return "A" if b > c else "B"': 'return "B" if b > c else "A"'}, {"compare_models_verdict"}),
    "ex04_mistakes_k_unchecked": ("ex04", {"    if k < 1:\n        raise ValueError(f\"k must be a positive integer, got {k}\")\n    wrong =": "    wrong ="},
                                  {"most_confident_mistakes_rejects_bad_input"}),
    # ex05b · a convolution by hand
    "ex05b_same_rounded_down": ("ex05b", {"return -(-size // stride)  # ceil(size / stride) in integers": "return size // stride"},
                                {"conv_output_size_values", "conv_output_size_rejects_bad_input"}),
    # the general formula with P = (F - 1) // 2: right for stride 1 and odd kernels only
    "ex05b_same_from_the_formula": ("ex05b", {"return -(-size // stride)  # ceil(size / stride) in integers": "return (size - kernel + 2 * ((kernel - 1) // 2)) // stride + 1"},
                                    {"conv_output_size_values", "conv_output_size_rejects_bad_input"}),
    "ex05b_size_as_float": ("ex05b", {"return (size - kernel) // stride + 1": "return (size - kernel) / stride + 1"},
                            {"conv_output_size_values", "conv_output_size_rejects_bad_input"}),
    "ex05b_size_kernel_unchecked": ("ex05b", {"    if kernel > size:\n": "    if False:\n"}, {"conv_output_size_rejects_bad_input"}),
    # a true convolution, as in signal processing: Keras does not flip the kernel
    "ex05b_flipped_kernel": ("ex05b", {EINSUM: EINSUM.replace("kernels.astype(np.float64)", "kernels[::-1, ::-1].astype(np.float64)")}, CONV_VALUES),
    "ex05b_extra_padding_top_left": ("ex05b", {SAME_SPLIT: "pads[axis] = (total - total // 2, total // 2)"}, {"conv2d_same_padding"}),
    # the sum runs over the filters and keeps the input channels
    "ex05b_summed_over_the_filters": ("ex05b", {EINSUM: EINSUM.replace("->nhwo", "->nhwc").replace(" + bias", " + bias[:1]")},
                                      {"conv2d_shape_dtype", "conv2d_channels", "conv2d_stride", "conv2d_same_padding"}),
    "ex05b_channels_not_summed": ("ex05b", {EINSUM: 'np.einsum("nhwcij,ijco->nhwco", windows, kernels.astype(np.float64)).reshape(windows.shape[:3] + (-1,)) + np.repeat(bias, c_in)'},
                                  {"conv2d_shape_dtype", "conv2d_channels", "conv2d_stride", "conv2d_same_padding"}),
    "ex05b_stride_ignored": ("ex05b", {STRIDED: ""}, {"conv2d_shape_dtype", "conv2d_stride", "conv2d_same_padding"}),
    "ex05b_stride_on_rows_only": ("ex05b", {STRIDED: "[:, ::stride]"}, {"conv2d_shape_dtype", "conv2d_stride", "conv2d_same_padding"}),
    # "same" padded as for stride 1, then every stride-th value kept
    "ex05b_same_padding_for_stride_1": ("ex05b", {"total = max((-(-size // stride) - 1) * stride + k - size, 0)": "total = k - 1"}, {"conv2d_same_padding"}),
    "ex05b_no_bias": ("ex05b", {EINSUM: EINSUM.replace(" + bias", "")}, CONV_VALUES),
    "ex05b_float64_output": ("ex05b", {"    return out.astype(np.float32)\n": "    return out\n"}, {"conv2d_shape_dtype"}),
    "ex05b_padding_unchecked": ("ex05b", {'    if padding not in ("valid", "same"):\n': "    if False:\n"}, {"conv2d_rejects_bad_input"}),
    "ex05b_stride_unchecked": ("ex05b", {"    if stride < 1:\n        raise": "    if stride == 0:\n        raise"}, {"conv2d_rejects_bad_input"}),
    "ex05b_bias_shape_unchecked": ("ex05b", {"    if bias.shape != (c_out,):\n": "    if False:\n"}, {"conv2d_rejects_bad_input"}),
    # a running maximum that starts at 0, as loops often do
    "ex05b_pool_from_zero": ("ex05b", {"return blocks.max(axis=(2, 4)).astype(np.float32)": "return np.maximum(blocks.max(axis=(2, 4)), 0).astype(np.float32)"},
                             {"max_pool2d_values"}),
    "ex05b_pool_averages": ("ex05b", {"return blocks.max(axis=(2, 4)).astype(np.float32)": "return blocks.mean(axis=(2, 4)).astype(np.float32)"},
                            {"max_pool2d_values"}),
    "ex05b_pool_overlapping": ("ex05b", {"return blocks.max(axis=(2, 4)).astype(np.float32)": "return np.lib.stride_tricks.sliding_window_view(x, (2, 2), axis=(1, 2)).max(axis=(-2, -1)).astype(np.float32)"},
                               {"max_pool2d_values"}),
    # ex05b · the backward passes
    "ex05b_backward_overwrites": ("ex05b", {SCATTER: SCATTER.replace("+=", "=")}, BACKWARD_DX),  # a pixel in two windows keeps one contribution
    "ex05b_backward_kernel_flipped": ("ex05b", {SCATTER: SCATTER.replace("k[a, b]", "k[kh - 1 - a, kw - 1 - b]")}, BACKWARD_DX),
    "ex05b_backward_dkernels_averaged": ("ex05b", {'padded[:, rows, cols], g)': 'padded[:, rows, cols], g) / n'}, {"conv2d_backward_dkernels"}),
    "ex05b_backward_dbias_first_image": ("ex05b", {GRADIENTS_RETURNED: GRADIENTS_RETURNED.replace("g.sum(axis=(0, 1, 2))", "g[0].sum(axis=(0, 1))")},
                                         {"conv2d_backward_dbias"}),
    "ex05b_backward_padding_kept": ("ex05b", {"dx = dpadded[:, pads[1][0]:pads[1][0] + h, pads[2][0]:pads[2][0] + w]": "dx = dpadded"}, BACKWARD_DX),
    "ex05b_backward_padding_top_left": ("ex05b", {"pads.append((total // 2, total - total // 2))": "pads.append((total - total // 2, total // 2))"},
                                        BACKWARD_DX | {"conv2d_backward_dkernels"}),
    "ex05b_backward_stride_ignored": ("ex05b", {TAP_ROWS: "slice(a * DILATION, a * DILATION + out_h)", TAP_COLS: "slice(b * DILATION, b * DILATION + out_w)"},
                                      BACKWARD_DX | {"conv2d_backward_dkernels"}),
    "ex05b_backward_float64": ("ex05b", {GRADIENTS_RETURNED: "return dx, dkernels, g.sum(axis=(0, 1, 2))"}, {"conv2d_backward_dtypes"}),
    "ex05b_backward_padding_unchecked": ("ex05b", {'if stride < 1 or padding not in ("valid", "same"):': "if stride < 1:"}, {"conv2d_backward_rejects_bad_input"}),
    "ex05b_backward_by_finite_differences": ("ex05b", {BACKWARD_BODY: FINITE_DIFFERENCES}, BACKWARD_DX | {"conv2d_backward_dkernels"}),
    "ex05b_backward_probes_answered_for_the_public_seed": ("ex05b", {BACKWARD_INPUTS: PUBLIC_PROBE}, BACKWARD_DX | {"conv2d_backward_dkernels"}),
    "ex05b_pool_backward_to_every_tie": ("ex05b", {f"{FIRST_LARGEST}\n    {ROUTED}": "routed = (blocks == blocks.max(axis=-1, keepdims=True)) * dout[..., None].astype(np.float64)"},
                                         {"max_pool2d_backward_ties"}),
    "ex05b_pool_backward_to_the_last_tie": ("ex05b", {FIRST_LARGEST: "first = POOL * POOL - 1 - blocks[..., ::-1].argmax(axis=-1)"}, {"max_pool2d_backward_ties"}),
    "ex05b_pool_backward_spread": ("ex05b", {ROUTED: "routed = np.ones(blocks.shape) * dout[..., None] / POOL**2"},
                                   {"max_pool2d_backward_values", "max_pool2d_backward_ties"}),
    # ex05c · momentum that forgets: each step a plain gradient step
    "ex05c_momentum_not_carried": ("ex05c", {VELOCITY: "velocity = -learning_rate * gradient"},
                                   {"momentum_step_matches_keras", "momentum_step_leaves_input"}),
    # the velocity climbs the gradient instead of descending it
    "ex05c_momentum_uphill": ("ex05c", {VELOCITY: VELOCITY.replace("- learning_rate", "+ learning_rate")},
                              {"momentum_step_matches_keras", "momentum_step_leaves_input"}),
    # the weights updated in the caller's array: the same steps, but the caller's weights have moved
    "ex05c_momentum_in_place": ("ex05c", {"    return weights + velocity, velocity": "    weights += velocity\n    return weights, velocity"},
                                {"momentum_step_leaves_input"}),
    # the plain-SGD bound, the velocity left out of the step's map
    "ex05c_stable_rate_without_momentum": ("ex05c", {"    return 2 * (1 + momentum) / curvature\n": "    return 2 / curvature\n"},
                                           {"largest_stable_rate_values"}),
    # momentum taken as a brake on the rate rather than a second number the step carries
    "ex05c_stable_rate_momentum_subtracted": ("ex05c", {"    return 2 * (1 + momentum) / curvature\n": "    return 2 * (1 - momentum) / curvature\n"},
                                              {"largest_stable_rate_values"}),
    # Adam without its bias correction: the first steps far too small (about a third of the learning rate)
    "ex05c_no_bias_correction": ("ex05c", {CORRECTED: "    m_hat, v_hat = m, (v_max if ADAPTIVE == \"amsgrad\" else v)"}, ADAPTIVE_ON),
    # only the first moment corrected: the first steps far too large
    "ex05c_second_moment_uncorrected": ("ex05c", {CORRECTED: CORRECTED.replace(") / (1 - beta_2**step)", ")")}, ADAPTIVE_ON),
    # the step number counted from 0: a division by zero on the first step
    # (fit() cannot be judged on steps that give nan: it waits on them)
    "ex05c_step_from_zero": ("ex05c", {"    m = beta_1 * m + (1 - beta_1) * gradient\n": "    step -= 1\n    m = beta_1 * m + (1 - beta_1) * gradient\n"},
                             ADAPTIVE_ON | {"fit_threads_your_steps"}),
    # the library's defaults instead of the arguments: right only where the caller passes the defaults (as fit() does)
    "ex05c_default_betas": ("ex05c", {"    m = beta_1 * m + (1 - beta_1) * gradient\n": "    beta_1, beta_2 = 0.9, 0.999\n    m = beta_1 * m + (1 - beta_1) * gradient\n"},
                            {"adaptive_step_bias_correction", "adaptive_step_matches_keras", "adaptive_step_leaves_input"}),
    # the moments written back into the caller's array: the same steps, but the caller's moments have changed
    "ex05c_moments_in_place": ("ex05c", {ADAPTIVE_RETURN: "moments[...] = np.stack([m, v, v_max])\n    return weights - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), moments"},
                               {"adaptive_step_leaves_input"}),
    # fit(): a new generator each epoch, so every epoch visits the images in the same order
    "ex05c_same_order_every_epoch": ("ex05c", {FIT_ORDER: "        order = np.random.default_rng(seed).permutation(len(images))\n"}, FIT_ON),
    # fit(): the last, smaller batch's mean taken over a full batch
    "ex05c_divided_by_batch_size": ("ex05c", {"            p /= len(batch)": "            p /= batch_size"}, FIT_ON),
    # fit(): the step number counts epochs, not batches
    "ex05c_steps_per_epoch": ("ex05c", {"            steps += 1\n": "", FIT_ORDER: "        steps += 1\n" + FIT_ORDER}, {"fit_threads_your_steps"}),
    # fit(): a fresh optimizer state every epoch
    "ex05c_fresh_state_each_epoch": ("ex05c", {"    rng = np.random.default_rng(seed)\n    steps = 0": "    rng = np.random.default_rng(seed)",
                                               FIT_ORDER: "        kept, steps = [np.zeros((3, *p.shape)) for p in params], 0\n" + FIT_ORDER},
                                     {"fit_threads_your_steps"}),
    # ex05d · debugging a training run: each check left out of diagnose() names another mistake, and each repair left out
    # keeps the run's mistake (the repairs count once repair_every_run passes)
    "ex05d_pixels_not_looked_at": ("ex05d", {PIXEL_CHECK: ""}, DEBUG_EVERY),
    "ex05d_order_not_looked_at": ("ex05d", {ORDER_CHECK: ""}, DEBUG_EVERY),
    "ex05d_labels_not_matched_to_images": ("ex05d", {LABELS_CHECK: "    if False:\n"}, DEBUG_EVERY | DEBUG_OWN),
    "ex05d_labels_moved_further": ("ex05d", {MOVED_BACK: MOVED_BACK.replace("np.roll(labels, -max(", "np.roll(labels, max(")},
                                   {"repair_your_run", "repair_every_run", "repair_leaves_input"}),
    "ex05d_rate_left_as_it_was": ("ex05d", {RATE_REPAIRED: '        settings["learning_rate"] = settings["learning_rate"]'}, {"repair_every_run", "repair_leaves_input"}),
    "ex05d_diagnosis_as_a_number": ("ex05d", {'    return "none"\n    ### END SOLUTION': '    return 0\n    ### END SOLUTION'},
                                    {"diagnose_types", "diagnose_your_run", "diagnose_every_run"}),
    "ex05d_repair_in_place": ("ex05d", {COPIED: "    images, labels, settings = np.asarray(images, np.float64), np.asarray(labels), dict(settings)",
                                        UNSCALED_REPAIRED: "        images /= 255.0"}, {"repair_leaves_input"}),
    # ex06 · real use
    "ex06_all_zeros": ("ex06", {"return field / field.max()": "return np.zeros((28, 28), dtype=np.float32)"}, {c for c in COURSE.exercise("ex06").checks if c.startswith("prepare_image")}),
    # a review's do-nothing: no edge brighter than its inside and no haze, but no background either
    "ex06_all_ones": ("ex06", {"return field / field.max()": "return np.ones((28, 28), dtype=np.float32)"},
                      {c for c in COURSE.exercise("ex06").checks if c.startswith("prepare_image")} - {"prepare_image_shape_dtype"}),
    "ex06_float64_image": ("ex06", {"return field / field.max()": "return (field / field.max()).astype(np.float64)"}, {"prepare_image_shape_dtype"}),
    # step 7's look-alike: within [0, 1], but a faint picture stays faint. Which other checks see it depends on the
    # draw: on this file's, one photo comes out faint enough (brightest 0.44) for the inversion check, whose dependents
    # follow, and recognition falls to 84%; on earlier drafts' draws only shape_dtype failed
    "ex06_divided_by_255": ("ex06", {"return field / field.max()": "return field / np.float32(255)"},
                            {"prepare_image_shape_dtype", "prepare_image_inverted", "prepare_image_recognised", "prepare_image_colour",
                             "prepare_image_rejects_bad_input", "prepare_image_leaves_input"}),
    # without the inversion the paper is the "ink" and the digit a hole in it
    "ex06_paper_as_ink": ("ex06", {"ink = 255 - gray\n    ink = np.clip(ink - np.median(ink), 0, None)": "ink = gray"},
                          {"prepare_image_inverted", "prepare_image_size_aspect", "prepare_image_centred", "prepare_image_recognised",
                           "prepare_image_ignores_specks", "prepare_image_colour", "prepare_image_rejects_bad_input", "prepare_image_leaves_input"}),
    # the student's own blank-page check then rejects every real picture
    "ex06_not_inverted": ("ex06", {"ink = 255 - gray": "ink = gray"},
                          {"prepare_image_shape_dtype", "prepare_image_inverted", "prepare_image_size_aspect", "prepare_image_centred",
                           "prepare_image_recognised", "prepare_image_ignores_specks", "prepare_image_colour", "prepare_image_rejects_bad_input",
                           "prepare_image_leaves_input"}),
    # leaving specks out counts once the digit itself is laid out right (it depends on the size check)
    "ex06_squashed_to_20_by_20": ("ex06", {"size = (max(1, round(width * scale)), max(1, round(height * scale)))": "size = (20, 20)"},
                                  {"prepare_image_size_aspect", "prepare_image_ignores_specks"}),
    "ex06_centred_by_its_box": ("ex06", {"top, left = round(14 - com_row), round(14 - com_col)": "top, left = (28 - digit.shape[0]) // 2, (28 - digit.shape[1]) // 2"},
                                # an off-centre digit is also misread: MNIST's digits are centred by mass
                                {"prepare_image_centred", "prepare_image_recognised"}),
    # a flip while converting between Pillow and NumPy: the right size and place, but mirrored
    "ex06_specks_kept": ("ex06", {SPECKS: ""}, {"prepare_image_ignores_specks"}),
    # the largest piece of ink alone: a digit cut in two by a lifted stroke loses a piece
    "ex06_largest_piece_only": ("ex06", {"ink[masses[piece] < masses.max() / 10] = 0": "ink[masses[piece] < masses.max()] = 0"},
                                {"prepare_image_ignores_specks"}),
    "ex06_mirrored": ("ex06", {"    total = digit.sum()": "    digit = digit[:, ::-1]\n    total = digit.sum()"}, {"prepare_image_recognised"}),
    # transparent pixels keep their colour values (often black): the paper turns to ink
    "ex06_alpha_ignored": ("ex06", {ALPHA: ""}, {"prepare_image_colour"}),
    # the contract's gray is a weighed sum; look-alikes see the two-pen pictures' inks unequally dark
    "ex06_gray_as_plain_mean": ("ex06", {GRAY_WEIGHTS: "pixels[..., :3].mean(axis=-1)"}, {"prepare_image_colour"}),
    # (on some draws of the pictures, which follow the file's bytes, reversed weights also make a colour photo's specks
    # heavier than a twentieth of its digit, to that gray: not on this file's draw since ex06 gained choose_threshold)
    "ex06_gray_weights_reversed": ("ex06", {GRAY_WEIGHTS: "pixels[..., :3] @ np.array([0.114, 0.587, 0.299], dtype=np.float32)"},
                                   {"prepare_image_colour"}),
    # any whole-number dtype taken for uint8
    "ex06_any_integer_dtype": ("ex06", {"    if image.dtype != np.uint8:": "    if not np.issubdtype(image.dtype, np.integer):"},
                               {"prepare_image_rejects_bad_input"}),
    # the bar for "no digit" far from the contract's 32 levels, on either side: a pencil digit 40 levels darker than its
    # paper refused, a smudge 20 levels darker taken for a digit
    "ex06_no_digit_bar_too_high": ("ex06", {"    if ink.max() < 32:\n": "    if ink.max() < 64:\n"}, {"prepare_image_rejects_bad_input"}),
    "ex06_no_digit_bar_too_low": ("ex06", {"    if ink.max() < 32:\n": "    if ink.max() < 16:\n"}, {"prepare_image_rejects_bad_input"}),
    "ex06_blank_page_unchecked": ("ex06", {"    if ink.max() < 32:\n": "    if False:\n"}, {"prepare_image_rejects_bad_input"}),
    # inverting in place to save a copy: the same result, but the caller's picture is now inverted
    "ex06_inverted_in_place": ("ex06", {"    elif image.ndim == 2:\n        gray = image.astype(np.float32)": "    elif image.ndim == 2:\n        image[...] = 255 - image\n        gray = 255 - image.astype(np.float32)"},
                                     {"prepare_image_leaves_input"}),
    "ex06_numpy_numbers": ("ex06", {"top3 = [(int(k), float(probabilities[k])) for k in order]": "top3 = [(k, probabilities[k]) for k in order]"}, {"predict_digit_types"}),
    # the model scales pixels itself: images in [0, 1] look almost blank to it
    "ex06_pixels_not_rescaled": ("ex06", {"np.asarray(image, dtype=np.float32) * 255": "np.asarray(image, dtype=np.float32)"},
                                 {"predict_digit_values", "predict_digit_top3"}),
    "ex06_top3_ascending": ("ex06", {TOP3: """    digit = int(np.argmax(probabilities))
    confidence = float(probabilities[digit])
    top3 = [(int(k), float(probabilities[k])) for k in np.argsort(probabilities)[-3:]]"""},
                            {"predict_digit_top3"}),
    # choose_threshold: equal confidences counted one answer at a time (a running count over the sorted answers)
    "ex06_threshold_ties_one_at_a_time": ("ex06", {THRESHOLD_COUNTS: """    order = np.argsort(-confidences, kind="stable")
    values = -confidences[order]
    answered = np.arange(1, len(order) + 1)
    wrong = np.cumsum(~correct[order])"""}, THRESHOLD_ALL),
    # the search stops at the first threshold that breaks the limit, scanning down from the most confident answer
    "ex06_threshold_first_failure": ("ex06", {"    if not keeps.any():\n        return math.inf":
                                              "    if (~keeps).any():\n        keeps[np.flatnonzero(~keeps)[0]:] = False\n    if not keeps.any():\n        return math.inf"},
                                     THRESHOLD_ALL),
    # "at most" read as "below": a share equal to max_error refused
    # (and with max_error 0 nothing is below 0: it answers nothing where the most confident answers are all right)
    "ex06_threshold_strict": ("ex06", {"keeps = wrong <= max_error * answered": "keeps = wrong < max_error * answered"},
                              THRESHOLD_ALL),
    # an adversarial review's: the share is trusted to have settled once it kept the limit with 100 answers counted, and
    # the search stops at a break after that (it always returns a threshold that keeps, so only answers_the_most can tell)
    "ex06_threshold_stops_once_counted": ("ex06", {"    if not keeps.any():\n        return math.inf":
                                                   "    late = np.flatnonzero(~keeps & (np.cumsum(keeps) > 0) & (answered >= 100))\n"
                                                   "    if len(late):\n        keeps[late[0]:] = False\n"
                                                   "    if not keeps.any():\n        return math.inf"},
                                          {"choose_threshold_answers_the_most"}),
    # an adversarial review's: max_error 0 taken for "nothing keeps"
    "ex06_threshold_zero_means_none": ("ex06", {"    if not keeps.any():\n        return math.inf": "    if max_error == 0 or not keeps.any():\n        return math.inf"},
                                       THRESHOLD_ALL),
    # validation stricter than the contract: a confidence of 0.0 refused
    "ex06_threshold_zero_confidence_refused": ("ex06", {"np.all((confidences >= 0) & (confidences <= 1))": "np.all((confidences > 0) & (confidences <= 1))"},
                                               THRESHOLD_ALL),
    "ex06_threshold_sorted_in_place": ("ex06", {"    values, first = np.unique(-confidences, return_inverse=True)\n":
                                                "    order = np.argsort(-confidences, kind=\"stable\")\n    confidences[:], correct[:] = confidences[order], correct[order]\n"
                                                "    values, first = np.unique(-confidences, return_inverse=True)\n"},
                                       {"choose_threshold_types"}),
    "ex06_threshold_int_confidences_accepted": ("ex06", {"if not np.issubdtype(confidences.dtype, np.floating) or not np.all(": "if not np.all("},
                                                {"choose_threshold_rejects_bad_input"}),
    # nothing keeps the share, and 0.0 comes back: a threshold that answers every image
    "ex06_threshold_zero_for_none": ("ex06", {"        return math.inf\n": "        return 0.0\n"},
                                     THRESHOLD_ALL),
    # answering nothing keeps any limit: it earns nothing where some threshold keeps it
    "ex06_threshold_always_inf": ("ex06", {"    if not keeps.any():\n        return math.inf": "    return math.inf"},
                                  THRESHOLD_ALL),
    "ex06_threshold_numpy_array": ("ex06", {"return float(-values[np.flatnonzero(keeps)[-1]])": "return np.array(-values[np.flatnonzero(keeps)[-1]])"},
                                   {"choose_threshold_types"}),
    # nan compares False with everything: a range test written as "is any value outside" lets it through
    "ex06_threshold_nan_unchecked": ("ex06", {"if not np.issubdtype(confidences.dtype, np.floating) or not np.all((confidences >= 0) & (confidences <= 1)):":
                                              "if np.any(confidences < 0) or np.any(confidences > 1):"}, {"choose_threshold_rejects_bad_input"}),
}


# ex02b's reference lines that the mutations edit (its own corpus: each mutant's
# train() runs a whole training, so `-k ex02b` grades these alone)
# (the variants' references change the hidden activation's lines, tests/variant_edits/ex02b.py: these
# edit the others, so that every mistake can be made in every variant's reference)
THROUGH_F = "dz1 = (dz2 @ W2.T) * slope"
HE_INIT = """    W1 = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_hidden))
    W2 = rng.normal(0.0, np.sqrt(2.0 / n_hidden), size=(n_hidden, n_out))"""
STABLE_LOSS = """    log_p = z2 - np.log(np.exp(z2).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())"""
# f's slope by centred differences of f, keyed by HIDDEN and put in place of the slope where the backward
# pass uses it, so that the mistake can be made in every variant's reference
NUMERIC_SLOPE = """f = {"relu": lambda z: np.maximum(z, 0.0), "leaky_relu": lambda z: np.maximum(z, 0.1 * z), "tanh": np.tanh,
         "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))}[HIDDEN]
    dz1 = (dz2 @ W2.T) * ((f(z1 + 1e-7) - f(z1 - 1e-7)) / 2e-7)"""
GRADIENTS_CHECKS = {"gradients_shapes_dtypes", "gradients_finite_differences", "gradients_match_gradient_tape", "gradients_derived"}
TRAIN_CHECKS = {"train_learns_unseen_task", "train_test_accuracy"}

BACKPROP_MUTATIONS = {
    "ex02b_zero_init": ("ex02b", {HE_INIT: "    W1 = np.zeros((n_in, n_hidden))\n    W2 = np.zeros((n_hidden, n_out))"},
                        {"init_params_breaks_symmetry", "init_params_scale"} | TRAIN_CHECKS),
    # np.random's classic draw without a scale: standard deviation 1, 35 times He's for 784 inputs
    "ex02b_unit_normal_init": ("ex02b", {"np.sqrt(2.0 / n_in)": "1.0"}, {"init_params_scale", "train_test_accuracy"}),
    # train() from unseeded parameters cannot be replayed, nor give the same parameters from the same arguments
    "ex02b_init_seed_ignored": ("ex02b", {"rng = np.random.default_rng(seed)\n    W1": "rng = np.random.default_rng()\n    W1"},
                                {"init_params_reproducible", "train_learns_unseen_task", "train_test_accuracy"}),
    # train() then steps W1 in float32, which the grader's float64 replay of the MNIST training tells apart
    "ex02b_float32_weights": ("ex02b", {"return W1, np.zeros(n_hidden), W2, np.zeros(n_out)": "return W1.astype(np.float32), np.zeros(n_hidden), W2, np.zeros(n_out)"},
                              {"init_params_shapes_dtypes", "init_params_reproducible", "train_test_accuracy"}),
    "ex02b_loss_summed": ("ex02b", {"return float(-log_p[np.arange(len(y)), y].mean())": "return float(-log_p[np.arange(len(y)), y].sum())"},
                          {"loss_value", "loss_stable"}),
    # exp of logits in the hundreds overflows: inf / inf
    "ex02b_naive_softmax": ("ex02b", {"    z2 = z2 - z2.max(axis=1, keepdims=True)\n    log_p = z2 - np.log(np.exp(z2).sum(axis=1, keepdims=True))\n    return":
                                      "    log_p = z2 - np.log(np.exp(z2).sum(axis=1, keepdims=True))\n    return"}, {"loss_stable"}),
    # lesson 2's floor of 1e-12: finite, but wrong wherever the true class's probability underflows
    "ex02b_floored_probability": ("ex02b", {STABLE_LOSS: """    p = np.exp(z2) / np.exp(z2).sum(axis=1, keepdims=True)
    return float(-np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)).mean())"""}, {"loss_stable"}),
    "ex02b_relu_derivative_missing": ("ex02b", {THROUGH_F: "dz1 = dz2 @ W2.T"},
                                      {"gradients_finite_differences", "gradients_match_gradient_tape", "gradients_derived", "train_test_accuracy"}),
    # the ReLU's mask put on the output layer's error (where the logits are positive) instead of the hidden layer's
    "ex02b_relu_derivative_on_output": ("ex02b", {"    dz2 /= n\n": "    dz2 /= n\n    dz2 *= (h @ W2 + b2) > 0\n", THROUGH_F: "dz1 = dz2 @ W2.T"},
                                        {"gradients_finite_differences", "gradients_match_gradient_tape", "gradients_derived", "train_test_accuracy"}),
    # f's slope by centred differences of f, at a step small enough that MNIST's hidden sums rarely
    # straddle the kink: right to 1e-6 on the MNIST problems, wrong on the derivation problem's tiny sums
    # (and a few of the MNIST training's 58 million sums, which its replay tells apart)
    "ex02b_slope_by_finite_differences": ("ex02b", {THROUGH_F: NUMERIC_SLOPE}, {"gradients_derived", "train_test_accuracy"}),
    # ReLU's slope taken as 1 at a sum of exactly 0, where the contract takes the slope just below 0
    "ex02b_slope_above_at_the_kink": ("ex02b", {"slope = (z1 > 0)": "slope = (z1 >= 0)"}, {"gradients_derived"}),
    "ex02b_gradient_not_averaged": ("ex02b", {"    dz2 /= n\n": ""},
                                    {"gradients_finite_differences", "gradients_match_gradient_tape", "gradients_derived", "train_test_accuracy"}),
    # a gradient of the wrong shape: train() stops at its first step, on any task
    "ex02b_transposed_weight_gradient": ("ex02b", {"dW2 = h.T @ dz2": "dW2 = dz2.T @ h"}, GRADIENTS_CHECKS | TRAIN_CHECKS),
    "ex02b_bias_gradient_wrong_axis": ("ex02b", {"db1 = dz1.sum(axis=0)": "db1 = dz1.sum(axis=1)"}, GRADIENTS_CHECKS | TRAIN_CHECKS),
    "ex02b_settings_over_budget": ("ex02b", {'"n_hidden": 128, "epochs": 20': '"n_hidden": 256, "epochs": 40'},
                                   {"sgd_settings_within_budget", "train_test_accuracy"}),
    "ex02b_learning_rate_too_large": ("ex02b", {'"learning_rate": 0.1': '"learning_rate": 10.0'}, {"train_test_accuracy"}),
    # the step assigned to the loop's name, not to the array: nothing is ever updated
    "ex02b_update_rebinds_a_name": ("ex02b", {"                param -= learning_rate * grad": "                param = param - learning_rate * grad"},
                                    TRAIN_CHECKS),
}
# What a message must show for the mistakes the exercise is about.
BACKPROP_DIAGNOSES = [
    ("ex02b_zero_init", "init_params_breaks_symmetry", "have not moved at all"),
    ("ex02b_zero_init", "train_test_accuracy", "every hidden unit has the same weights after training"),
    ("ex02b_unit_normal_init", "train_test_accuracy", "far above ln 10"),
    ("ex02b_naive_softmax", "loss_stable", "overflows to inf"),
    ("ex02b_floored_probability", "loss_stable", "was floored"),
    ("ex02b_relu_derivative_missing", "gradients_finite_differences", "the hidden activation's derivative is missing"),
    ("ex02b_slope_by_finite_differences", "gradients_derived", "finite differences (of f, or of the loss) whose step straddles"),
    ("ex02b_slope_above_at_the_kink", "gradients_derived", "`z1 >= 0` where it means `z1 > 0`"),
    ("ex02b_gradient_not_averaged", "gradients_finite_differences", "times too large"),
    ("ex02b_gradient_not_averaged", "train_test_accuracy", "counts once gradients_finite_differences passes"),
    ("ex02b_transposed_weight_gradient", "gradients_shapes_dtypes", "a transposed product"),
    ("ex02b_bias_gradient_wrong_axis", "gradients_shapes_dtypes", "summed over the wrong axis"),
    ("ex02b_learning_rate_too_large", "train_test_accuracy", "learning rate too large"),
    ("ex02b_zero_init", "train_learns_unseen_task", "every hidden unit has the same weights after training"),
    ("ex02b_update_rebinds_a_name", "train_learns_unseen_task", "the parameters it started from, unchanged"),
    ("ex02b_update_rebinds_a_name", "train_test_accuracy", "the parameters it started from, unchanged"),
]


def _grade(corpus, folder, mnist_path):
    return grade_class({name: (ex, edited(ex, edits, name)) for name, (ex, edits, _) in corpus.items()}, folder, mnist_path)


# ex03b's mutants train models in the worker: a class of their own (tests/corpus.py)
UNTRAINED, TRAINED = split(MUTATIONS)


@pytest.fixture(scope="module")
def graded(request, tmp_path_factory, mnist_path):
    return _grade(selected(request, UNTRAINED), tmp_path_factory.mktemp("mutants"), mnist_path)  # `-k` grades only what it selects


@pytest.fixture(scope="module")
def graded_experiment(request, tmp_path_factory, mnist_path):
    return _grade(selected(request, TRAINED), tmp_path_factory.mktemp("experiment-mutants"), mnist_path)


# Mistakes that only a variant's reference can hold, made in it and graded on that variant: name -> (exercise,
# variant key, {old: new} edits of that variant's reference, the checks it must fail). benchmarks/variants.py
# makes each in every variant whose reference holds its lines. (tests/test_variant_routes.py's VARIANT_MISTAKES
# grade one such mistake per exercise inside the variant routes' class, for its diagnosis; these are the corpus's,
# each held to its exact set of failed checks.)
VARIANT_MUTATIONS = {
    # BINS "mass": the runs' sizes right, the one longer runs last instead of first
    "ex04_mass_larger_runs_last": ("ex04", "of_true_mass", {"np.where(np.arange(n_bins) < extra, small + 1, small)":
                                                            "np.where(np.arange(n_bins) >= n_bins - extra, small + 1, small)"},
                                   {"reliability_table_bin_edges", "reliability_table_empty_bins"}),
    # BINS "mass": a descending sort reversed, so equal confidences come in the reverse of row order
    "ex04_mass_ties_reversed": ("ex04", "of_true_mass", {'np.argsort(confidence, kind="stable")': 'np.argsort(-confidence, kind="stable")[::-1]'},
                                {"reliability_table_bin_edges"}),
    # BINS "mass": np.argsort's default sort, not stable once there are more than 16 answers
    "ex04_mass_unstable_sort": ("ex04", "of_true_mass", {'np.argsort(confidence, kind="stable")': "np.argsort(confidence)"},
                                {"reliability_table_bin_edges"}),
}
# Each variant's mistake is told its own cause, on the first check it fails.
VARIANT_CAUSES = {
    "ex04_mass_larger_runs_last": ("reliability_table_bin_edges", "the larger ones come last"),
    "ex04_mass_ties_reversed": ("reliability_table_bin_edges", "in the reverse of their row order"),
    "ex04_mass_unstable_sort": ("reliability_table_bin_edges", "np.argsort's default sort is not stable"),
}


@pytest.fixture(scope="module")
def graded_variant_mistakes(tmp_path_factory, mnist_path):
    """{mistake: the folder of its class's reports}: one class per variant, graded on that variant."""
    by_variant = {}
    for name, (exercise_id, key, edits, _) in VARIANT_MUTATIONS.items():
        by_variant.setdefault((exercise_id, key), {})[name] = (exercise_id, mistaken_reference(COURSE.exercise(exercise_id), key, edits))
    graded = {}
    for (exercise_id, key), submissions in by_variant.items():
        out = grade_class(submissions, tmp_path_factory.mktemp(key), mnist_path, args=("--use-variant", f"{exercise_id}={key}"))
        graded.update(dict.fromkeys(submissions, out))
    return graded


@pytest.mark.parametrize("name", VARIANT_MUTATIONS)
def test_a_mistake_of_a_variant_fails_exactly_its_checks_on_that_variant(graded_variant_mistakes, name):
    exercise_id, _, _, expected = VARIANT_MUTATIONS[name]
    _fails_exactly_its_checks(graded_variant_mistakes[name], name, exercise_id, expected)
    check, cause = VARIANT_CAUSES[name]
    assert cause in next(c["message"] for c in checks_of(graded_variant_mistakes[name], name, exercise_id) if c["name"] == check)


# The golden reports (tests/golden_reports.py): two mistakes of each function exercise, among
# them dependents that count once another check passes; read from the class graded above.
GOLDEN = ("ex01_divided_by_256", "ex01_channel_axis_by_reshape", "ex04_fancy_index_increment", "ex04_int32_counts", "ex04_mcnemar_one_tail",
          "ex05b_flipped_kernel", "ex05b_same_rounded_down", "ex06_not_inverted", "ex06_centred_by_its_box")


@pytest.mark.parametrize("name", GOLDEN)
def test_a_mistake_s_report_is_its_golden_report(graded, name, pytestconfig):
    report = json.loads((graded / "students" / name / "report.json").read_text())
    changed = golden_reports.compare(name, report, MUTATIONS[name][0], pytestconfig.getoption("--update-golden"))
    assert changed == [], f"{name}'s report differs from tests/golden/{name}.json (if meant, --update-golden and review):\n" + "\n".join(changed)


@pytest.mark.parametrize("name", GOLDEN[:1])
def test_a_changed_message_or_point_shows_as_a_difference(graded, name):
    """Proven both ways: the golden comparison sees one changed message and one changed score."""
    report = json.loads((graded / "students" / name / "report.json").read_text())
    exercise_id = MUTATIONS[name][0]
    golden = golden_reports.kept(report, exercise_id)
    changed = json.loads(json.dumps(report))
    exercise = next(ex for ex in changed["exercises"] if ex["id"] == exercise_id)
    check = exercise["checks"][1]
    check["message"] += " (reworded)"
    exercise["score"] += 1
    said = golden_reports.differences(golden, golden_reports.kept(changed, exercise_id))
    assert len(said) == 2 and f"{check['name']} message" in said[1] and "(reworded)" in said[1] and f"{exercise_id} score" in said[0]
    assert golden_reports.differences(golden, golden_reports.kept(report, exercise_id)) == []


def test_the_corpus_covers_every_check_of_the_function_exercises():
    covered = {(ex_id, check) for ex_id, _, failing in (*MUTATIONS.values(), *BACKPROP_MUTATIONS.values()) for check in failing}
    missing = [(ex.id, check) for ex in COURSE.exercises if not ex.training for check in ex.checks if (ex.id, check) not in covered]
    assert missing == []


# The two classes are fixtures named by the tests that read them, so that tests/conftest.py's scheduler
# sees two groups, graded on two workers at once (a test that reached both through `request` made them one).
@pytest.mark.parametrize("name", cases(UNTRAINED))
def test_a_mistake_fails_exactly_its_checks_with_a_message_that_teaches(graded, name):
    _fails_exactly_its_checks(graded, name)


@pytest.mark.parametrize("name", cases(TRAINED))
def test_a_mistake_that_trains_fails_exactly_its_checks_with_a_message_that_teaches(graded_experiment, name):
    _fails_exactly_its_checks(graded_experiment, name)


def _fails_exactly_its_checks(out, name, exercise_id=None, expected=None):
    if exercise_id is None:
        exercise_id, _, expected = MUTATIONS[name]
    checks = checks_of(out, name, exercise_id)
    failed = {c["name"]: c["message"] for c in checks if c["status"] != "passed"}
    assert set(failed) == expected, failed
    for check, message in failed.items():
        assert next(c["status"] for c in checks if c["name"] == check) == "failed", check
        assert_teaches(exercise_id, check, message)


# The inputs drawn for each file at grading time follow the file: the same mistake in two files that differ only by a
# comment is shown other numbers. Drawn from a constant (the protection off), the two messages would be the same word
# for word, and answers worked out at home for them would pass.
PER_FILE_DRAWS = {"ex01_standardize_leaked": "standardize_applies_the_training_map", "ex04_mcnemar_one_tail": "mcnemar_p_value",
                  "ex05c_no_bias_correction": "adaptive_step_bias_correction"}


def test_the_inputs_drawn_for_each_file_follow_the_file(tmp_path, mnist_path):
    submissions = {}
    for name in PER_FILE_DRAWS:
        exercise_id, edits, _ = MUTATIONS[name]
        source = edited(exercise_id, edits, name)
        submissions[name], submissions[f"{name}_again"] = (exercise_id, source), (exercise_id, source + "\n# the same file, one comment longer\n")
    out = grade_class(submissions, tmp_path, mnist_path)
    for name, check in PER_FILE_DRAWS.items():
        exercise_id = MUTATIONS[name][0]
        said = [next(c["message"] for c in checks_of(out, student, exercise_id) if c["name"] == check) for student in (name, f"{name}_again")]
        assert all(said) and said[0] != said[1], said


# A mistake the docstring forbids in so many words gets that sentence quoted.
QUOTED = {
    "ex01_normalize_clears_input": "the input is not modified",
    "ex01_scales_twice_silently": "Raises ValueError if `images` is not uint8",
    "ex01_negative_labels_accepted": "the message names the first bad label",
    "ex01_shuffled_in_place": "the inputs are not modified",
    "ex01_folds_k_unchecked": "or if k is not an integer with",
    "ex01_standardize_in_place": "The inputs are not modified",
    "ex04_nan_to_num_afterwards": "computing it emits no warning",
    "ex04_diagonal_cleared_in_place": "The input is not modified",
    "ex04_k_unchecked": "or if k < 1",
    "ex04_mistakes_sorted_in_place": "The inputs are not modified",
    "ex04_mistakes_k_unchecked": "or if k < 1",
    "ex04_counts_as_floats": "counts[b] (int64) is how many answers fall in it",
    "ex05b_size_kernel_unchecked": 'or if a "valid" kernel\'s span is longer than the input',
    "ex05b_padding_unchecked": 'if padding is neither "valid" nor "same"',
    "ex05b_backward_padding_unchecked": "Raises ValueError where conv2d would",
    "ex06_inverted_in_place": "The input is not modified",
    "ex06_threshold_sorted_in_place": "The inputs are not modified",
    "ex06_blank_page_unchecked": "or if it shows no digit",
}


@pytest.mark.parametrize("name", cases(MUTATIONS, QUOTED))
def test_breaking_a_sentence_of_the_docstring_quotes_it(graded, name):
    exercise_id, _, (check,) = MUTATIONS[name]
    message = next(c["message"] for c in checks_of(graded, name, exercise_id) if c["name"] == check)
    assert 'The docstring says: "' in message and QUOTED[name] in message, message


# ex04's ways of measuring a confusion wrongly share the same few hand-made matrices, where one mistake can look like
# another (an adversarial review found rounded shares named as the diagonal left out, reciprocal shares as two shares
# added): each is told its own cause, on the check that shows it first.
CAUSED = {
    "ex04_pairs_by_count": ("most_confused_pairs_values", "ranked by the count alone"),
    "ex04_pairs_share_of_the_other_total": ("most_confused_pairs_values", "exactly what variant 'of_predicted_width'"),
    "ex04_pairs_share_of_the_mistakes": ("most_confused_pairs_values", "a share of the class's mistakes, not of its images"),
    "ex04_pairs_rounded_shares": ("most_confused_pairs_values", "shares rounded before they were ranked"),
    "ex04_pairs_share_by_reciprocal": ("most_confused_pairs_ties_and_few", "equal sizes in another order"),
    "ex04_pairs_unstable_sort": ("most_confused_pairs_ties_and_few", "equal sizes in another order"),
    "ex04_ties_reversed": ("most_confused_pairs_ties_and_few", "equal sizes in another order"),
}


@pytest.mark.parametrize("name", cases(MUTATIONS, CAUSED))
def test_a_mismeasured_confusion_is_told_its_own_cause(graded, name):
    exercise_id, _, _ = MUTATIONS[name]
    check, cause = CAUSED[name]
    message = next(c["message"] for c in checks_of(graded, name, exercise_id) if c["name"] == check)
    assert cause in message, message


@pytest.fixture(scope="module")
def graded_backprop(request, tmp_path_factory, mnist_path):
    submissions = {name: (ex, edited(ex, edits, name)) for name, (ex, edits, _) in selected(request, BACKPROP_MUTATIONS).items()}
    return grade_class(submissions, tmp_path_factory.mktemp("backprop-mutants"), mnist_path)


@pytest.mark.trains
@pytest.mark.parametrize("name", list(BACKPROP_MUTATIONS))
def test_a_backprop_mistake_fails_exactly_its_checks_with_a_message_that_teaches(graded_backprop, name):
    exercise_id, _, expected = BACKPROP_MUTATIONS[name]
    checks = checks_of(graded_backprop, name, exercise_id)
    failed = {c["name"]: c["message"] for c in checks if c["status"] != "passed"}
    assert set(failed) == expected, failed
    for check, message in failed.items():
        assert next(c["status"] for c in checks if c["name"] == check) == "failed", check
        assert_teaches(exercise_id, check, message)


@pytest.mark.trains
@pytest.mark.parametrize(("name", "check", "words"), BACKPROP_DIAGNOSES, ids=lambda v: str(v)[:40])
def test_a_backprop_mistake_gets_its_diagnosis(graded_backprop, name, check, words):
    message = next(c["message"] for c in checks_of(graded_backprop, name, "ex02b") if c["name"] == check)
    assert words in message, message
