"""Correct code written differently keeps full points: the other direction of
tests/test_mutations.py and tests/test_model_mutations.py.

Each alternative fills the exercise the way students really do: loops instead
of vectorised NumPy, other NumPy and Pillow idioms, np.errstate instead of
np.divide(where=...), the Functional API, other widths, optimizers and batch
sizes, one-hot labels with a categorical loss, and configurations copied from
popular tutorials (Keras's own MNIST convnet). Each corpus is graded as a class
in one `grader --batch` run and every alternative must earn every point.
"""

import pytest

from corpus import COURSE, cases, checks_of, filled, grade_class, selected, split

FUNCTION_ALTERNATIVES = {
    # ex01 · plain loops and lists, as a first-week student writes them
    "ex01_loops": ("ex01", dict(
        normalize="""
            if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
                raise ValueError("normalize needs uint8 pixels")
            return np.array(images, dtype=np.float32) / 255.0
        """,
        add_channel_axis="""
            images = np.array(images)
            if len(images.shape) != 3:
                raise ValueError("expected (N, H, W), got " + str(images.shape))
            return images.reshape(images.shape + (1,))
        """,
        one_hot="""
            if np.ndim(labels) != 1:
                raise ValueError("labels must be 1-D")
            rows = np.zeros((len(labels), num_classes), dtype="float32")
            for i, label in enumerate(labels):
                if label < 0 or label >= num_classes:
                    raise ValueError(f"bad label {label}")
                rows[i][label] = 1.0
            return rows
        """,
        train_val_split="""
            import math
            n = len(images)
            if n != len(labels):
                raise ValueError("images and labels differ in length")
            if val_fraction <= 0 or val_fraction >= 1:
                raise ValueError("val_fraction must be in (0, 1)")
            n_val = int(np.round(n * val_fraction))
            if n_val < 1 or n_val > n - 1:
                raise ValueError("one part would be empty")
            by_class = {}
            for i, label in enumerate(labels):
                by_class.setdefault(int(label), []).append(i)
            counts = {label: math.floor(len(members) * val_fraction) for label, members in by_class.items()}
            rest = {label: len(members) * val_fraction - counts[label] for label, members in by_class.items()}
            for label in sorted(by_class, key=lambda label: (-rest[label], label))[:n_val - sum(counts.values())]:
                counts[label] += 1
            rng = np.random.default_rng(seed)
            val_idx = []
            for label in sorted(by_class):
                members = list(by_class[label])
                rng.shuffle(members)
                val_idx += members[:counts[label]]
            chosen = set(val_idx)
            train_idx = [i for i in range(n) if i not in chosen]
            rng.shuffle(train_idx)
            return images[train_idx], labels[train_idx], images[val_idx], labels[val_idx]
        """,
        # a greedy fill: each class gives every fold its whole share, then its leftovers go to the folds that are
        # the smallest so far (the lowest number first among equals)
        stratified_folds="""
            if np.ndim(labels) != 1:
                raise ValueError("labels must be 1-D")
            if type(k) is not int or k < 2 or k > len(labels):
                raise ValueError(f"bad k: {k}")
            rng = np.random.default_rng(seed)
            folds = [0] * len(labels)
            sizes = [0] * k
            for label in sorted(set(int(v) for v in labels)):
                members = [i for i in range(len(labels)) if labels[i] == label]
                rng.shuffle(members)
                whole, leftover = divmod(len(members), k)
                targets = []
                for fold in range(k):
                    targets += [fold] * whole
                smallest = sorted(range(k), key=lambda fold: (sizes[fold], fold))[:leftover]
                targets += smallest
                for i, fold in zip(members, targets):
                    folds[i] = fold
                    sizes[fold] += 1
            return np.array(folds, dtype=np.int64)
        """,
        standardize="""
            train, other = np.array(train_images, dtype=float), np.array(other_images, dtype=float)
            if len(train) < 2 or train.shape[1:] != other.shape[1:]:
                raise ValueError("need 2 training images or more, of the other images' shape")
            flat_train, flat_other = train.reshape(len(train), -1), other.reshape(len(other), -1)
            out_train, out_other = np.zeros(flat_train.shape), np.zeros(flat_other.shape)
            for k in range(flat_train.shape[1]):
                column = flat_train[:, k]
                mean = sum(column) / len(column)
                std = (sum((v - mean) ** 2 for v in column) / len(column)) ** 0.5
                if max(column) == min(column):  # constant: its std may be a rounding error above 0
                    std = 1.0
                out_train[:, k] = (column - mean) / std
                out_other[:, k] = (flat_other[:, k] - mean) / std
            return out_train.reshape(train.shape).astype("float32"), out_other.reshape(other.shape).astype("float32")
        """,
    )),
    # ex01 · other NumPy idioms: np.divide with a dtype, np.newaxis, a comparison
    # with arange, np.lexsort for the leftovers, rng.choice within each class and a mask (the training part keeps the
    # input's order)
    "ex01_numpy_idioms": ("ex01", dict(
        normalize="""
            images = np.asarray(images)
            if images.dtype != np.uint8:
                raise ValueError(f"expected uint8, got {images.dtype}")
            return np.divide(images, 255, dtype=np.float32)
        """,
        add_channel_axis="""
            images = np.asarray(images)
            if images.ndim != 3:
                raise ValueError(f"rank {images.ndim}, expected 3")
            return images[:, :, :, np.newaxis]
        """,
        one_hot="""
            labels = np.asarray(labels)
            if labels.ndim != 1:
                raise ValueError(f"shape {labels.shape} is not 1-D")
            outside = labels[(labels < 0) | (labels >= num_classes)]
            if outside.size:
                raise ValueError(f"{outside[0]} is not a label in 0..{num_classes - 1}")
            return (labels[:, None] == np.arange(num_classes)).astype(np.float32)
        """,
        train_val_split="""
            images, labels = np.asarray(images), np.asarray(labels)
            if images.shape[0] != labels.shape[0] or not (0.0 < val_fraction < 1.0):
                raise ValueError("lengths differ or val_fraction is outside (0, 1)")
            n_val = round(images.shape[0] * val_fraction)
            if not 0 < n_val < images.shape[0]:
                raise ValueError("a part would be empty")
            classes = np.unique(labels)
            share = (labels[:, None] == classes).sum(axis=0) * val_fraction
            whole = share.astype(int)
            whole[np.lexsort((classes, -(share % 1)))[:n_val - whole.sum()]] += 1
            rng = np.random.default_rng(seed)
            val = np.concatenate([rng.choice(np.nonzero(labels == c)[0], size=k, replace=False) for c, k in zip(classes, whole)])
            is_train = np.ones(images.shape[0], dtype=bool)
            is_train[val] = False
            return images[is_train], labels[is_train], images[val], labels[val]
        """,
        # np.lexsort on (a random key, the label), and the fold from each place's number in the whole line
        stratified_folds="""
            labels = np.asarray(labels)
            if labels.ndim != 1 or not isinstance(k, (int, np.integer)) or not 1 < k <= labels.size:
                raise ValueError(f"labels of shape {labels.shape} and k={k} cannot be dealt")
            line = np.lexsort((np.random.default_rng(seed).random(labels.size), labels))
            folds = np.zeros(labels.size, dtype=np.int64)
            folds[line] = np.arange(labels.size) % k
            return folds
        """,
        # keepdims and broadcasting, a small threshold on the spread
        standardize="""
            if np.ndim(train_images) == 0 or len(train_images) < 2:
                raise ValueError("at least two training images are needed")
            if np.shape(train_images)[1:] != np.shape(other_images)[1:]:
                raise ValueError("the images' shapes differ")
            mu = np.mean(train_images, axis=0, keepdims=True)
            sigma = np.std(train_images, axis=0, keepdims=True)
            sigma[sigma < 1e-12] = 1
            return (np.subtract(train_images, mu) / sigma).astype(np.float32), (np.subtract(other_images, mu) / sigma).astype(np.float32)
        """,
    )),
    # ex04 · a counting loop, np.errstate to silence 0 / 0, and the confusions sized as exact Fractions
    "ex04_loops": ("ex04", dict(
        confusion_matrix="""
            y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
            if y_true.ndim != 1 or y_pred.ndim != 1 or len(y_true) != len(y_pred):
                raise ValueError("y_true and y_pred must be 1-D and of the same length")
            if y_true.dtype.kind not in "iu" or y_pred.dtype.kind not in "iu":
                raise ValueError("labels must be integers")
            cm = np.zeros((num_classes, num_classes), dtype=np.int64)
            for t, p in zip(y_true, y_pred):
                for label in (t, p):
                    if not 0 <= label < num_classes:
                        raise ValueError(f"label {label} out of range")
                cm[t, p] += 1
            return cm
        """,
        precision_recall_f1="""
            cm = np.asarray(cm)
            if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.dtype.kind not in "iu" or (cm < 0).any():
                raise ValueError("cm must be a square matrix of non-negative integer counts")
            tp = np.diag(cm).astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                precision = np.where(cm.sum(axis=0) > 0, tp / cm.sum(axis=0), 0.0)
                recall = np.where(cm.sum(axis=1) > 0, tp / cm.sum(axis=1), 0.0)
                f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
            return precision, recall, f1
        """,
        most_confused_pairs="""
            cm = np.asarray(cm)
            if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.dtype.kind not in "iu" or (cm < 0).any() or k < 1:
                raise ValueError("bad confusion matrix or k")
            from fractions import Fraction
            n = cm.shape[0]
            ranked = []
            for i in range(n):
                for j in range(n):
                    if PAIRS == "both_ways":
                        count = int(cm[i, j]) + int(cm[j, i]) if i < j else 0
                        size = Fraction(count, sum(int(v) for v in cm[i, :]) + sum(int(v) for v in cm[j, :])) if count else 0
                    else:
                        count = int(cm[i, j]) if i != j else 0
                        total = sum(int(v) for v in (cm[i, :] if PAIRS == "of_true" else cm[:, j]))
                        size = Fraction(count, total) if count else 0
                    if count:
                        ranked.append((-size, i, j, count))
            ranked.sort()
            return [(i, j, count) for _, i, j, count in ranked[:k]]
        """,
        most_confident_mistakes="""
            probs, y_true = np.asarray(probs), np.asarray(y_true)
            if probs.ndim != 2 or probs.dtype.kind != "f" or y_true.ndim != 1 or len(y_true) != len(probs):
                raise ValueError("probs must be (N, K) floats and y_true N labels")
            if y_true.dtype.kind not in "iu" or k < 1:
                raise ValueError("labels must be integers and k positive")
            mistakes = []
            for i, (row, label) in enumerate(zip(probs, y_true)):
                if not 0 <= label < len(row):
                    raise ValueError(f"label {label} out of range")
                best = int(np.argmax(row))
                if best != label:
                    mistakes.append((-float(row[best]), i))
            return np.array([i for _, i in sorted(mistakes)[:k]], dtype=np.int64)
        """,
        reliability_table="""
            counts, conf_sums, right_sums = [0] * n_bins, [0.0] * n_bins, [0.0] * n_bins
            # BINS "mass": each row's place in order of confidence (equal ones in row order), dealt into runs
            ranked = sorted(range(len(probs)), key=lambda i: (float(max(probs[i])), i))
            place = {i: position for position, i in enumerate(ranked)}
            small, extra = divmod(len(probs), n_bins)
            run_starts = [b * small + min(b, extra) for b in range(n_bins)]
            for i, (row, label) in enumerate(zip(probs, y_true)):
                best = int(np.argmax(row))
                conf = row[best]  # float32, as model.predict gives it: the sums stay float32, as in the lesson's diagram
                b = 0
                if BINS == "mass":
                    while b < n_bins - 1 and place[i] >= run_starts[b + 1]:
                        b += 1
                while BINS == "width" and b < n_bins - 1 and conf > (b + 1) / n_bins:  # (b / n, (b + 1) / n]
                    b += 1
                counts[b] += 1
                conf_sums[b] += conf
                right_sums[b] += 1.0 if best == label else 0.0
            confidence = [conf_sums[b] / counts[b] if counts[b] else 0.0 for b in range(n_bins)]
            accuracy = [right_sums[b] / counts[b] if counts[b] else 0.0 for b in range(n_bins)]
            return np.array(counts, dtype=np.int64), np.array(confidence), np.array(accuracy)
        """,
        expected_calibration_error="""
            total, answers = 0.0, 0
            for n, conf, acc in zip(counts, confidence, accuracy):
                total += n * abs(acc - conf)
                answers += n
            return float(total / answers)
        """,
        _imports="import math",
        mcnemar="""
            b = c = 0
            for t, a, p in zip(y_true, pred_a, pred_b):
                if a == t and p != t:
                    b += 1
                elif p == t and a != t:
                    c += 1
            n = b + c
            # each binomial probability in logarithms, so that nothing overflows
            log_half = n * math.log(0.5)
            tail = sum(math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + log_half) for k in range(min(b, c) + 1))
            return b, c, min(1.0, 2 * tail)
        """,
        compare_models="""
            b, c, p = mcnemar(y_true, pred_a, pred_b)
            if p < alpha:
                return "A" if b > c else "B"
            return "neither"
        """,
    )),
    # ex04 · np.bincount on a combined index, and np.lexsort for the ranking
    "ex04_bincount": ("ex04", dict(
        confusion_matrix="""
            y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
            if y_true.ndim != 1 or y_pred.ndim != 1:
                raise ValueError("inputs must be 1-D")
            if y_true.shape != y_pred.shape:
                raise ValueError("inputs differ in length")
            if not (np.issubdtype(y_true.dtype, np.integer) and np.issubdtype(y_pred.dtype, np.integer)):
                raise ValueError("labels must be integers")
            for labels in (y_true, y_pred):
                if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
                    bad = labels[(labels < 0) | (labels >= num_classes)][0]
                    raise ValueError(f"label {bad} is outside 0..{num_classes - 1}")
            flat = y_true.astype(np.int64) * num_classes + y_pred
            return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes).astype(np.int64)
        """,
        precision_recall_f1="""
            cm = np.asarray(cm)
            if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
                raise ValueError("not square")
            if not np.issubdtype(cm.dtype, np.integer) or cm.min(initial=0) < 0:
                raise ValueError("counts must be non-negative integers")
            tp = np.diag(cm).astype(np.float64)
            col, row = cm.sum(axis=0), cm.sum(axis=1)
            precision, recall, f1 = np.zeros(len(cm)), np.zeros(len(cm)), np.zeros(len(cm))
            precision[col > 0] = tp[col > 0] / col[col > 0]
            recall[row > 0] = tp[row > 0] / row[row > 0]
            # F1 as the reciprocal of the mean of the reciprocals
            fine = (precision > 0) & (recall > 0)
            f1[fine] = 2 / (1 / recall[fine] + 1 / precision[fine])
            return precision, recall, f1
        """,
        most_confused_pairs="""
            cm = np.asarray(cm)
            if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or not np.issubdtype(cm.dtype, np.integer):
                raise ValueError("cm must be a square integer matrix")
            if (cm < 0).any() or k < 1:
                raise ValueError("negative count or k < 1")
            cells = np.where(np.eye(len(cm), dtype=bool), 0, cm.astype(np.int64))
            if PAIRS == "both_ways":
                cells = np.triu(cells + cells.T, k=1)
            trues, preds = np.nonzero(cells > 0)
            counts = cells[trues, preds]
            rows = cm.sum(axis=1)
            if PAIRS == "both_ways":
                sizes = np.true_divide(counts, rows[trues] + rows[preds])
            else:
                totals = rows if PAIRS == "of_true" else cm.sum(axis=0)
                sizes = np.true_divide(counts, totals[trues if PAIRS == "of_true" else preds])
            order = np.lexsort((preds, trues, -sizes))[:k]
            return [(int(trues[i]), int(preds[i]), int(counts[i])) for i in order]
        """,
        most_confident_mistakes="""
            probs, y_true = np.asarray(probs), np.asarray(y_true)
            if probs.ndim != 2 or not np.issubdtype(probs.dtype, np.floating):
                raise ValueError("probs must be a 2-D float array")
            if y_true.shape != (probs.shape[0],) or not np.issubdtype(y_true.dtype, np.integer):
                raise ValueError("y_true must be one integer label per row")
            if np.any((y_true < 0) | (y_true >= probs.shape[1])) or k < 1:
                raise ValueError("a label out of range, or k < 1")
            predicted = np.argmax(probs, axis=1)
            confidence = np.take_along_axis(probs, predicted[:, None], axis=1)[:, 0]
            wrong = predicted != y_true
            index = np.arange(len(probs))[wrong]
            return index[np.lexsort((index, -confidence[wrong]))][:k].astype(np.int64)
        """,
        reliability_table="""
            probs = np.asarray(probs)
            conf = probs.max(axis=1).astype(np.float64)
            right = probs.argmax(axis=1) == np.asarray(y_true)
            if BINS == "mass":  # by rank (equal confidences in row order): the first `extra` runs hold small + 1 answers
                rank = np.lexsort((np.arange(len(conf)), conf)).argsort()
                small, extra = divmod(len(conf), n_bins)
                which = np.where(rank < extra * (small + 1), rank // (small + 1), extra + (rank - extra * (small + 1)) // max(small, 1))
            else:
                which = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
            counts = np.zeros(n_bins, dtype=np.int64)
            sums = np.zeros((2, n_bins))
            np.add.at(counts, which, 1)
            np.add.at(sums[0], which, conf)
            np.add.at(sums[1], which, right)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
            return counts, means[0], means[1]
        """,
        expected_calibration_error="""
            counts = np.asarray(counts)
            return float(np.dot(counts / counts.sum(), np.abs(np.subtract(accuracy, confidence))))
        """,
        _imports="from fractions import Fraction\nfrom math import comb",
        mcnemar="""
            right_a = np.equal(pred_a, y_true)
            right_b = np.equal(pred_b, y_true)
            b, c = int(np.count_nonzero(right_a > right_b)), int(np.count_nonzero(right_b > right_a))
            n = b + c
            lo, hi = min(b, c), max(b, c)
            if lo == hi:
                return b, c, 1.0
            tails = sum(comb(n, k) for k in range(lo + 1)) + sum(comb(n, k) for k in range(hi, n + 1))
            return b, c, float(Fraction(tails, 2**n))
        """,
        compare_models="""
            b, c, p = mcnemar(y_true, pred_a, pred_b)
            return ("neither", "A", "B")[int(np.sign(b - c))] if p < alpha else "neither"
        """,
    )),
    # ex05d · diagnosed by training alone (no class means): raw pixels by their size, the order by the labels never
    # going down, the rates by the loss curve, the labels by held-out digits read at chance after a loss that moved;
    # the rate repaired by a search on held-out digits (whatever the variant), the shift by the spread within classes
    "ex05d_trained_and_searched": ("ex05d", dict(
        diagnose="""
            x, y = np.array(images, dtype=np.float64), np.array(labels)
            # 1. raw pixels are whole numbers up to 255
            if np.abs(x).max() > 10:
                return "unscaled_inputs"
            # 2. stored class by class and never shuffled: the labels never go down
            if not settings["shuffle"] and np.all(y[1:] >= y[:-1]):
                return "sorted_without_shuffle"

            def fit(xs, ys, rate, epochs, size):
                W, b, curve = np.zeros((xs.shape[1], 10)), np.zeros(10), []
                gen = np.random.default_rng(1)
                for _ in range(epochs):
                    idx = gen.permutation(len(xs))
                    for i in range(0, len(xs), size):
                        j = idx[i:i + size]
                        z = xs[j] @ W + b
                        z = z - z.max(axis=1, keepdims=True)
                        e = np.exp(z)
                        pr = e / e.sum(axis=1, keepdims=True)
                        curve.append(float(np.mean(np.log(e.sum(axis=1)) - z[np.arange(len(j)), ys[j]])))  # log-softmax, exact
                        pr[np.arange(len(j)), ys[j]] -= 1
                        W -= rate * xs[j].T @ pr / len(j)
                        b -= rate * pr.sum(axis=0) / len(j)
                return W, b, curve

            with np.errstate(all="ignore"):
                cut = int(0.8 * len(x))
                W, b, curve = fit(x[:cut], y[:cut], settings["learning_rate"], settings["epochs"], settings["batch_size"])
                if not np.isfinite(curve).all() or np.max(curve) > 10 * np.log(10):
                    return "learning_rate_too_high"
                if np.mean(curve[-5:]) > np.log(10) - 0.1:
                    # the loss hardly moved: steps too small, or labels nothing can learn? 64 digits seen 200 times are
                    # learnt by heart by any step that works, whatever their labels
                    _, _, by_heart = fit(x[:64], y[:64], settings["learning_rate"], 200, 64)
                    return "learning_rate_too_low" if by_heart[-1] > np.log(10) / 2 else "shifted_labels"
                held = np.mean((x[cut:] @ W + b).argmax(axis=1) == y[cut:])
                return "none" if held > 0.5 else "shifted_labels"
        """,
        repair="""
            x, y, s = np.array(images, dtype=np.float64), np.array(labels), dict(settings)
            kind = diagnose(images, labels, settings)
            if kind == "unscaled_inputs":
                if PIXELS == "unit":
                    x = x / 255
                elif PIXELS == "signed":
                    x = 2 * (x / 255) - 1
                else:
                    x = (x / 255 - 0.1307) / 0.3081
            elif kind == "sorted_without_shuffle":
                s["shuffle"] = True
            elif kind.startswith("learning_rate"):
                # a rate measured on held-out digits: the best of a grid, whatever the pixels' spread
                cut = int(0.8 * len(x))

                def score(rate):  # the held-out loss of the run trained at `rate` as its settings say
                    W, b, size = np.zeros((x.shape[1], 10)), np.zeros(10), int(s["batch_size"])
                    with np.errstate(all="ignore"):
                        for epoch in range(int(s["epochs"])):
                            for i in range(0, cut, size):
                                z = x[i:i + size] @ W + b
                                e = np.exp(z - z.max(axis=1, keepdims=True))
                                pr = e / e.sum(axis=1, keepdims=True)
                                pr[np.arange(len(pr)), y[i:i + size]] -= 1
                                W -= rate * x[i:i + size].T @ pr / len(pr)
                                b -= rate * pr.mean(axis=0)
                        z = x[cut:] @ W + b
                        e = np.exp(z - z.max(axis=1, keepdims=True))
                        pr = e / e.sum(axis=1, keepdims=True)
                        loss = -np.mean(np.log(pr[np.arange(len(pr)), y[cut:]] + 1e-12))
                    return loss if np.isfinite(loss) else np.inf

                s["learning_rate"] = float(min((0.003, 0.01, 0.03, 0.1, 0.3, 1.0), key=score))
            elif kind == "shifted_labels":
                # the shift at which one class's pixels look most alike: the smallest spread within the classes
                def spread(k):
                    moved = np.roll(y, -k)
                    return sum(x[moved == c].var(axis=0).sum() * np.sum(moved == c) for c in range(10))

                y = np.roll(y, -min(range(-5, 6), key=spread))
            return x, y, s
        """,
    )),
    # ex05c · the other conventions: PyTorch's velocity (a running sum of gradients, the learning rate applied when
    # stepping: the same weights at a constant rate), the stable rate found numerically from the student's own step,
    # Keras's own form of Adam (epsilon added before the bias correction, the paper's section 2), the moments in
    # another order, and fit() by index arithmetic
    "ex05c_other_conventions": ("ex05c", dict(
        momentum_step="""
            g = np.array(gradient, dtype=np.float64)
            buf = momentum * np.array(velocity, dtype=np.float64) + g
            step = g + momentum * buf if MOMENTUM == "nesterov" else buf
            return np.array(weights, dtype=np.float64) - learning_rate * step, buf
        """,
        largest_stable_rate="""
            # numerically: the step's map of (weight, velocity), read from momentum_step itself, and a bisection on the
            # size of its largest eigenvalue
            def radius(rate):
                columns = []
                for w0, v0 in ((1.0, 0.0), (0.0, 1.0)):
                    w, v = momentum_step(np.array([w0]), np.array([curvature * w0]), np.array([v0]), rate, momentum)
                    columns.append([w[0], v[0]])
                return np.abs(np.linalg.eigvals(np.array(columns).T)).max()

            low, high = 0.0, 1.0
            while radius(high) < 1:
                high *= 2
            for _ in range(100):
                middle = (low + high) / 2
                low, high = (middle, high) if radius(middle) < 1 else (low, middle)
            return (low + high) / 2
        """,
        adaptive_step="""
            g = np.array(gradient, dtype=np.float64)
            largest, second, first = (np.array(a, dtype=np.float64) for a in moments)
            first = first + (g - first) * (1 - beta_1)
            if ADAPTIVE == "adamax":
                second = np.maximum(second * beta_2, np.abs(g))
                rate = learning_rate / (1 - beta_1 ** step)
                return np.array(weights, dtype=np.float64) - rate * first / (second + epsilon), np.array([largest, second, first])
            second = second + (g * g - second) * (1 - beta_2)
            largest = np.maximum(largest, second)
            rate = learning_rate * np.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
            divisor = np.sqrt(largest if ADAPTIVE == "amsgrad" else second) + epsilon
            return np.array(weights, dtype=np.float64) - rate * first / divisor, np.array([largest, second, first])
        """,
        fit="""
            x_all, y_all = np.array(images, dtype=np.float64), np.array(labels)
            n, d = x_all.shape
            W, b = np.zeros((d, 10)), np.zeros(10)
            vel = {"W": np.zeros((d, 10)), "b": np.zeros(10)}
            mom = {"W": np.zeros((3, d, 10)), "b": np.zeros((3, 10))}
            generator = np.random.default_rng(seed)
            t = 0
            for epoch in range(epochs):
                perm = generator.permutation(n)
                for i in range(-(-n // batch_size)):
                    idx = perm[i * batch_size:(i + 1) * batch_size]
                    z = x_all[idx] @ W + b
                    z = z - z.max(axis=1)[:, None]
                    probs = np.exp(z) / np.exp(z).sum(axis=1)[:, None]
                    target = np.eye(10)[y_all[idx]]
                    dz = (probs - target) / len(idx)
                    dW, db = x_all[idx].T @ dz, dz.sum(axis=0)
                    t += 1
                    if optimizer == "sgd":
                        W, b = W - learning_rate * dW, b - learning_rate * db
                    elif optimizer == "momentum":
                        W, vel["W"] = momentum_step(W, dW, vel["W"], learning_rate, 0.9)
                        b, vel["b"] = momentum_step(b, db, vel["b"], learning_rate, 0.9)
                    else:
                        W, mom["W"] = adaptive_step(W, dW, mom["W"], t, learning_rate)
                        b, mom["b"] = adaptive_step(b, db, mom["b"], t, learning_rate)
            return W, b
        """,
    )),
    # ex05b · plain loops over every output value, as the lesson's window sum
    # (also the cost proof: the slowest way to pass, within call_timeout_s); this and the next
    # answer every variant (DILATION and POOL: benchmarks/variants.py grades them on each)
    "ex05b_loops": ("ex05b", dict(
        _imports="import math",
        conv_output_size="""
            if size < 1 or kernel < 1 or stride < 1:
                raise ValueError("size, kernel and stride must be positive")
            if padding == "same":
                return math.ceil(size / stride)
            if padding == "valid":
                reach = DILATION * (kernel - 1) + 1
                if reach > size:
                    raise ValueError("the kernel does not fit")
                return int(math.floor((size - reach) / stride)) + 1
            raise ValueError("unknown padding " + str(padding))
        """,
        conv2d="""
            if len(np.shape(x)) != 4 or len(np.shape(kernels)) != 4:
                raise ValueError("x and kernels must be 4-D")
            n, h, w, c_in = x.shape
            kh, kw, k_in, c_out = kernels.shape
            if k_in != c_in or np.shape(bias) != (c_out,):
                raise ValueError("channel counts do not match")
            out_h = conv_output_size(h, kh, stride, padding)
            out_w = conv_output_size(w, kw, stride, padding)
            top = left = 0
            if padding == "same":
                top = max((out_h - 1) * stride + DILATION * (kh - 1) + 1 - h, 0) // 2
                left = max((out_w - 1) * stride + DILATION * (kw - 1) + 1 - w, 0) // 2
            out = np.zeros((n, out_h, out_w, c_out), dtype=np.float32)
            for b in range(n):
                for i in range(out_h):
                    for j in range(out_w):
                        for o in range(c_out):
                            total = float(bias[o])
                            for a in range(kh):
                                for d in range(kw):
                                    row, col = i * stride + a * DILATION - top, j * stride + d * DILATION - left
                                    if 0 <= row < h and 0 <= col < w:
                                        for c in range(c_in):
                                            total += float(x[b, row, col, c]) * float(kernels[a, d, c, o])
                            out[b, i, j, o] = total
            return out
        """,
        max_pool2d="""
            n, h, w, c = x.shape
            out = np.zeros((n, h // POOL, w // POOL, c), dtype=np.float32)
            for b in range(n):
                for i in range(h // POOL):
                    for j in range(w // POOL):
                        for k in range(c):
                            best = x[b, POOL * i, POOL * j, k]
                            for r in range(POOL):
                                for q in range(POOL):
                                    if x[b, POOL * i + r, POOL * j + q, k] > best:
                                        best = x[b, POOL * i + r, POOL * j + q, k]
                            out[b, i, j, k] = best
            return out
        """,
        # CS231n's naive backward pass: the forward loops again, each output's gradient added
        # to every pixel and weight that made it
        conv2d_backward="""
            if len(np.shape(x)) != 4 or len(np.shape(kernels)) != 4:
                raise ValueError("x and kernels must be 4-D")
            n, h, w, c_in = x.shape
            kh, kw, k_in, c_out = kernels.shape
            if k_in != c_in:
                raise ValueError("channel counts do not match")
            out_h = conv_output_size(h, kh, stride, padding)
            out_w = conv_output_size(w, kw, stride, padding)
            if np.shape(dout) != (n, out_h, out_w, c_out):
                raise ValueError("dout does not have the output's shape")
            top = left = 0
            if padding == "same":
                top = max((out_h - 1) * stride + DILATION * (kh - 1) + 1 - h, 0) // 2
                left = max((out_w - 1) * stride + DILATION * (kw - 1) + 1 - w, 0) // 2
            dx = np.zeros(x.shape, dtype=np.float32)
            dk = np.zeros(kernels.shape, dtype=np.float32)
            db = np.zeros(c_out, dtype=np.float32)
            for b in range(n):
                for i in range(out_h):
                    for j in range(out_w):
                        for o in range(c_out):
                            g = float(dout[b, i, j, o])
                            db[o] += g
                            for a in range(kh):
                                for d in range(kw):
                                    row, col = i * stride + a * DILATION - top, j * stride + d * DILATION - left
                                    if 0 <= row < h and 0 <= col < w:
                                        for c in range(c_in):
                                            dx[b, row, col, c] += g * float(kernels[a, d, c, o])
                                            dk[a, d, c, o] += g * float(x[b, row, col, c])
            return dx, dk, db
        """,
        max_pool2d_backward="""
            n, h, w, c = x.shape
            if np.shape(dout) != (n, h // POOL, w // POOL, c):
                raise ValueError("dout does not have the output's shape")
            dx = np.zeros(x.shape, dtype=np.float32)
            for b in range(n):
                for i in range(h // POOL):
                    for j in range(w // POOL):
                        for k in range(c):
                            best_r, best_q = 0, 0
                            for r in range(POOL):
                                for q in range(POOL):
                                    if x[b, POOL * i + r, POOL * j + q, k] > x[b, POOL * i + best_r, POOL * j + best_q, k]:
                                        best_r, best_q = r, q
                            dx[b, POOL * i + best_r, POOL * j + best_q, k] += dout[b, i, j, k]
            return dx
        """,
    )),
    # ex05b · vectorised another way: a loop over the kernel's positions with np.pad
    # and tensordot, and a max-pool from four strided slices
    "ex05b_kernel_positions": ("ex05b", dict(
        conv_output_size="""
            if padding not in ("valid", "same") or size <= 0 or kernel <= 0 or stride <= 0:
                raise ValueError(f"bad arguments: {size}, {kernel}, {stride}, {padding}")
            extent = (kernel - 1) * DILATION + 1
            if padding == "valid" and extent > size:
                raise ValueError("kernel longer than the input")
            return (size + stride - 1) // stride if padding == "same" else (size - extent + stride) // stride
        """,
        conv2d="""
            x, kernels, bias = np.asarray(x, np.float32), np.asarray(kernels, np.float32), np.asarray(bias, np.float32)
            if x.ndim != 4 or kernels.ndim != 4 or kernels.shape[2] != x.shape[-1] or bias.shape != kernels.shape[-1:]:
                raise ValueError(f"shapes do not fit: {x.shape}, {kernels.shape}, {bias.shape}")
            if stride < 1 or padding not in ("valid", "same"):
                raise ValueError(f"bad stride {stride} or padding {padding}")
            kh, kw = kernels.shape[:2]
            out_h, out_w = (conv_output_size(s, k, stride, padding) for s, k in ((x.shape[1], kh), (x.shape[2], kw)))
            if padding == "same":
                ph = max((out_h - 1) * stride + (kh - 1) * DILATION + 1 - x.shape[1], 0)
                pw = max((out_w - 1) * stride + (kw - 1) * DILATION + 1 - x.shape[2], 0)
                x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
            out = np.zeros((x.shape[0], out_h, out_w, kernels.shape[3]), np.float32)
            for a in range(kh):
                for d in range(kw):
                    top, left = a * DILATION, d * DILATION
                    patch = x[:, top:top + (out_h - 1) * stride + 1:stride, left:left + (out_w - 1) * stride + 1:stride, :]
                    out += np.tensordot(patch, kernels[a, d], axes=([3], [0]))
            return out + bias
        """,
        max_pool2d="""
            h, w = x.shape[1] // POOL * POOL, x.shape[2] // POOL * POOL
            corners = [x[:, r:h:POOL, c:w:POOL] for r in range(POOL) for c in range(POOL)]
            return np.maximum.reduce(corners).astype(np.float32)
        """,
        conv2d_backward="""
            x, kernels, dout = (np.asarray(v, np.float32) for v in (x, kernels, dout))
            if x.ndim != 4 or kernels.ndim != 4 or kernels.shape[2] != x.shape[-1]:
                raise ValueError(f"shapes do not fit: {x.shape}, {kernels.shape}")
            if stride < 1 or padding not in ("valid", "same"):
                raise ValueError(f"bad stride {stride} or padding {padding}")
            height, width = x.shape[1:3]
            kh, kw = kernels.shape[:2]
            out_h, out_w = (conv_output_size(s, k, stride, padding) for s, k in ((height, kh), (width, kw)))
            if dout.shape != (x.shape[0], out_h, out_w, kernels.shape[3]):
                raise ValueError(f"dout has shape {dout.shape}")
            ph = pw = 0
            if padding == "same":
                ph = max((out_h - 1) * stride + (kh - 1) * DILATION + 1 - height, 0)
                pw = max((out_w - 1) * stride + (kw - 1) * DILATION + 1 - width, 0)
                x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
            dxp, dk = np.zeros_like(x), np.zeros_like(kernels)
            for a in range(kh):
                for d in range(kw):
                    rows = slice(a * DILATION, a * DILATION + (out_h - 1) * stride + 1, stride)
                    cols = slice(d * DILATION, d * DILATION + (out_w - 1) * stride + 1, stride)
                    dk[a, d] = np.tensordot(x[:, rows, cols, :], dout, axes=([0, 1, 2], [0, 1, 2]))
                    dxp[:, rows, cols, :] += np.tensordot(dout, kernels[a, d], axes=([3], [1]))
            return dxp[:, ph // 2:ph // 2 + height, pw // 2:pw // 2 + width], dk, dout.sum(axis=(0, 1, 2))
        """,
        # the first of equal largest values, corner by corner in row-major order
        max_pool2d_backward="""
            h, w = x.shape[1] // POOL * POOL, x.shape[2] // POOL * POOL
            if np.shape(dout) != (x.shape[0], h // POOL, w // POOL, x.shape[3]):
                raise ValueError(f"dout has shape {np.shape(dout)}")
            best, dx = max_pool2d(x), np.zeros(x.shape, np.float32)
            taken = np.zeros(best.shape, bool)
            for r in range(POOL):
                for c in range(POOL):
                    hit = (x[:, r:h:POOL, c:w:POOL] == best) & ~taken
                    dx[:, r:h:POOL, c:w:POOL] = np.where(hit, dout, 0)
                    taken |= hit
            return dx
        """,
    )),
    # ex06 · Pillow does the colour work (convert("L") rounds to whole levels,
    # alpha_composite lays RGBA over white), loops find the centre of mass, and
    # ex03b · the Functional API and evaluate() for the accuracy, seeds in the outer
    # loop, rows gathered in lists, and the rule in plain Python (statistics.stdev is
    # the sample standard deviation), reading the variant's RULE
    "ex03b_functional_seeds_outer": ("ex03b", dict(
        _imports="import math\nimport statistics",
        validation_accuracy="""
            keras.utils.set_random_seed(seed)
            inputs = keras.Input(shape=(28, 28))
            x = layers.Rescaling(1.0 / 255)(inputs)
            x = layers.Flatten()(x)
            x = layers.Dense(width, activation="relu")(x)
            outputs = layers.Dense(10, activation="softmax")(x)
            model = keras.Model(inputs, outputs)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            model.fit(x_train, y_train, epochs=2, batch_size=32, verbose=0)
            loss, accuracy = model.evaluate(x_val, y_val, verbose=0)
            return float(accuracy)
        """,
        run_sweep="""
            columns = []
            for seed in seeds:
                columns.append([validation_accuracy(x_train, y_train, x_val, y_val, w, seed) for w in widths])
            return np.array(columns).T
        """,
        choose_width="""
            rows = [list(map(float, row)) for row in table]
            means = [sum(row) / len(row) for row in rows]
            best_mean = max(means)
            best = min(w for w, m in zip(widths, means) if m == best_mean)
            runs = rows[list(widths).index(best)]
            if RULE == "worst_seed":
                floor = min(runs)
            else:
                spread = statistics.stdev(runs)
                floor = best_mean - (spread / math.sqrt(len(runs)) if RULE == "one_se" else spread)
            candidates = [int(w) for w, m in zip(widths, means) if m >= floor]
            choice = min(candidates)
            return choice, f"{choice} units reach the floor {floor:.4f} below the best mean {best_mean:.4f}"
        """,
        seeds_the_choice_rests_on="""
            rows = [list(map(float, row)) for row in table]
            k = len(rows[0])
            whole = choose_width(widths, rows)[0]
            fewest = None
            for mask in range(1, 2 ** k):  # every set of seeds to leave out, as the bits of a number
                left_out = [j for j in range(k) if mask >> j & 1]
                if len(left_out) > k - 2:
                    continue
                kept = [[row[j] for j in range(k) if j not in left_out] for row in rows]
                if choose_width(widths, kept)[0] != whole and (fewest is None or len(left_out) < fewest):
                    fewest = len(left_out)
            return fewest
        """,
    )),
    # ex03b · Sequential built layer by layer, the accuracy by argmax, the table by a
    # nested comprehension, the rule with NumPy masks (its floor looked up by RULE)
    "ex03b_numpy_masks": ("ex03b", dict(
        validation_accuracy="""
            keras.utils.set_random_seed(int(seed))
            model = keras.Sequential()
            model.add(keras.Input(shape=(28, 28)))
            model.add(layers.Rescaling(1 / 255))
            model.add(layers.Flatten())
            model.add(layers.Dense(width, activation="relu"))
            model.add(layers.Dense(10, activation="softmax"))
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            model.fit(x_train, y_train, batch_size=32, epochs=2, verbose=0)
            probabilities = model.predict(x_val, verbose=0)
            return float((np.argmax(probabilities, axis=1) == np.asarray(y_val)).mean())
        """,
        run_sweep="""
            return np.array([[validation_accuracy(x_train, y_train, x_val, y_val, w, s) for s in seeds] for w in widths])
        """,
        choose_width="""
            widths, table = np.asarray(widths), np.asarray(table, dtype=float)
            means = table.mean(axis=1)
            top = np.flatnonzero(means == means.max())
            best = top[np.argmin(widths[top])]
            spread = np.std(table[best], ddof=1)
            floor = {"one_sd": means[best] - spread, "one_se": means[best] - spread / np.sqrt(table.shape[1]),
                     "worst_seed": table[best].min()}[RULE]
            width = int(widths[means >= floor].min())
            return width, f"the cheapest width whose mean reaches the {RULE} floor below the best"
        """,
        seeds_the_choice_rests_on="""
            table = np.asarray(table, dtype=float)
            k = table.shape[1]
            whole = choose_width(widths, table)[0]

            def changes(kept, start, to_drop):
                # leave out to_drop more columns, each after `start`, from the columns `kept`
                if to_drop == 0:
                    return choose_width(widths, table[:, kept])[0] != whole
                return any(changes([c for c in kept if c != j], j + 1, to_drop - 1) for j in kept if j >= start)

            return next((m for m in range(1, k - 1) if changes(list(range(k)), 0, m)), None)
        """,
    )),
    # predict_digit calls the model directly
    "ex06_pillow": ("ex06", dict(
        _imports="import collections",
        prepare_image="""
            if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
                raise ValueError("the image must be a uint8 array")
            if image.ndim == 2:
                picture = Image.fromarray(image, mode="L")
            elif image.ndim == 3 and image.shape[2] == 3:
                picture = Image.fromarray(image, mode="RGB").convert("L")
            elif image.ndim == 3 and image.shape[2] == 4:
                paper = Image.new("RGBA", (image.shape[1], image.shape[0]), (255, 255, 255, 255))
                picture = Image.alpha_composite(paper, Image.fromarray(image, mode="RGBA")).convert("L")
            else:
                raise ValueError(f"unsupported shape {image.shape}")
            ink = 255.0 - np.array(picture, dtype=np.float64)
            ink = np.maximum(ink - np.median(ink), 0)
            if ink.size == 0 or ink.max() < 32:
                raise ValueError("no digit in the image")
            ink[ink < 0.2 * ink.max()] = 0
            # pieces of touching ink, by a breadth-first walk over a set of pixels; keep those of at least
            # 5% of the largest piece's pixels
            left, pieces = set(zip(*np.nonzero(ink))), []
            while left:
                seed = left.pop()
                piece, frontier = [seed], collections.deque([seed])
                while frontier:
                    y, x = frontier.popleft()
                    for near in ((y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
                        if near in left:
                            left.remove(near)
                            piece.append(near)
                            frontier.append(near)
                pieces.append(piece)
            biggest = max(len(piece) for piece in pieces)
            for piece in pieces:
                if len(piece) < 0.05 * biggest:
                    ink[tuple(np.array(piece).T)] = 0
            ys, xs = np.nonzero(ink)
            crop = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
            h, w = crop.shape
            if h >= w:
                new_h, new_w = 20, max(1, int(round(w * 20 / h)))
            else:
                new_h, new_w = max(1, int(round(h * 20 / w))), 20
            small = np.array(Image.fromarray(crop.astype(np.float32), mode="F").resize((new_w, new_h), Image.BILINEAR))
            mass = small.sum()
            cy = sum(y * small[y, :].sum() for y in range(new_h)) / mass
            cx = sum(x * small[:, x].sum() for x in range(new_w)) / mass
            out = np.zeros((28, 28), dtype=np.float32)
            dy, dx = int(round(14 - cy)), int(round(14 - cx))
            for y in range(new_h):
                for x in range(new_w):
                    if 0 <= y + dy < 28 and 0 <= x + dx < 28:
                        out[y + dy, x + dx] = small[y, x]
            return (out / out.max()).astype(np.float32)
        """,
        predict_digit="""
            pixels = np.array(image, dtype="float32") * 255.0
            batch = np.expand_dims(pixels, 0)
            if len(model.input_shape) == 4:
                batch = batch[..., np.newaxis]
            p = np.array(model(batch, training=False))[0]
            best = sorted(range(10), key=lambda d: p[d], reverse=True)[:3]
            top3 = [(int(d), float(p[d])) for d in best]
            return top3[0][0], top3[0][1], top3
        """,
        # from the lowest distinct confidence up, the first whose answers keep the share, by division
        choose_threshold="""
            conf, ok = np.asarray(confidences), np.asarray(correct)
            if conf.ndim != 1 or ok.shape != conf.shape or conf.size == 0:
                raise ValueError("confidences and correct must be 1-D arrays of one length N >= 1")
            if ok.dtype != np.bool_:
                raise ValueError("correct must be a bool array")
            if conf.dtype.kind != "f" or np.isnan(conf).any() or conf.min() < 0 or conf.max() > 1:
                raise ValueError("confidences must be floats in [0, 1]")
            if not 0 <= max_error < 1:
                raise ValueError("max_error must be in [0, 1)")
            for t in sorted(set(conf.tolist())):
                answered = conf >= t
                if np.count_nonzero(answered & ~ok) / np.count_nonzero(answered) <= max_error:
                    return float(t)
            return math.inf
        """,
    )),
}


def _grade(corpus, folder, mnist_path):
    return grade_class({name: (ex, filled(ex, **bodies)) for name, (ex, bodies) in corpus.items()}, folder, mnist_path)


# ex03b's alternatives train models in the worker: a class of their own (tests/corpus.py)
UNTRAINED, TRAINED = split(FUNCTION_ALTERNATIVES)


@pytest.fixture(scope="module")
def function_alternatives(request, tmp_path_factory, mnist_path):
    return _grade(selected(request, UNTRAINED), tmp_path_factory.mktemp("alternatives"), mnist_path)


@pytest.fixture(scope="module")
def experiment_alternatives(request, tmp_path_factory, mnist_path):
    return _grade(selected(request, TRAINED), tmp_path_factory.mktemp("experiment-alternatives"), mnist_path)


def _assert_full_points(out, name, exercise_id):
    checks = checks_of(out, name, exercise_id)
    lost = {c["name"]: c["message"] for c in checks if c["status"] != "passed" or c["score"] != c["max_score"]}
    assert lost == {}, lost
    assert {c["name"] for c in checks} == set(COURSE.exercise(exercise_id).checks)


def test_every_function_exercise_has_alternatives():
    assert {ex.id for ex in COURSE.exercises if not ex.training} <= {ex for ex, _ in (*FUNCTION_ALTERNATIVES.values(), *BACKPROP_ALTERNATIVES.values())}


@pytest.mark.parametrize("name", cases(FUNCTION_ALTERNATIVES))
def test_correct_code_written_differently_keeps_full_points(request, name):
    out = request.getfixturevalue("experiment_alternatives" if name in TRAINED else "function_alternatives")
    _assert_full_points(out, name, FUNCTION_ALTERNATIVES[name][0])


# ex06's colour pictures: files (picture seeds) where a colour picture moves the reference's crop by a pixel from
# where the same picture in gray puts it (its gray in float32, unrounded), so that the prepared digit, shifted
# and rescaled a little, differs by over 0.05 per pixel on average: the bar a per-pixel comparison held it to
# (found among the first 100 seeds).
CROP_MOVED_BY_A_PIXEL = (6, 22, 94)


def test_a_colour_picture_that_moves_the_reference_s_crop_by_a_pixel_costs_it_nothing(mnist_path):
    import importlib.util
    import numpy as np
    from grader.checks.ex06.prepare_image_colour import APART, _ink_apart, _one_picture_in_colour
    from grader.references.ex06_real_use import in_gray
    from mnist_course.data import load_mnist

    spec = importlib.util.spec_from_file_location("ex06_reference", COURSE.exercise("ex06").solution_path)
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    mnist = load_mnist(mnist_path)
    for seed in CROP_MOVED_BY_A_PIXEL:
        per_pixel, apart = [], []
        for image, _ in _one_picture_in_colour(mnist, seed):
            plain, out = (reference.prepare_image(picture) for picture in (in_gray(image), image))
            plain, out = plain / plain.max(), out / out.max()
            per_pixel.append(float(np.abs(out - plain).mean()))
            apart.append(_ink_apart(out, plain))
        assert max(per_pixel) > 0.05, (seed, per_pixel)  # the case a per-pixel comparison failed
        assert max(apart) <= APART / 5, (seed, apart)


# ex02b · its own corpus (every alternative's train() runs a whole training, so
# `-k ex02b` grades these alone). Measured on mnist-22k with benchmarks/backprop.py's
# method, seed 0: ex02b_einsum_eye_glorot 97.24% public, 96.82% private (23 s of CPU:
# einsum is slower than @); ex02b_add_at_dict_while_loop 97.26% and 97.28% (6 s) as it was, in float32
# with a decayed learning rate and its own order, all of which the replays of the contract's steps now tell apart. Each
# reads HIDDEN, as a student's file may, so that it answers every variant
# (benchmarks/variants.py grades them on each).
BACKPROP_ALTERNATIVES = {
    # einsum for every product, one-hot rows from np.eye, Glorot-uniform weights, a wider layer,
    # the activation and its slope as a pair of functions picked by name
    "ex02b_einsum_eye_glorot": ("ex02b", dict(
        init_params="""
            rng = np.random.default_rng(seed)
            limit1 = np.sqrt(6 / (n_in + n_hidden))
            limit2 = np.sqrt(6 / (n_hidden + n_out))
            W1 = rng.uniform(-limit1, limit1, (n_in, n_hidden))
            W2 = rng.uniform(-limit2, limit2, (n_hidden, n_out))
            b1 = np.zeros(n_hidden)
            b2 = np.zeros(n_out)
            return W1, b1, W2, b2
        """,
        loss="""
            f = {"relu": lambda z: np.maximum(z, 0), "leaky_relu": lambda z: np.maximum(z, 0.1 * z), "tanh": np.tanh,
                 "elu": lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1)}[HIDDEN]
            hidden = f(np.einsum("ni,ij->nj", x, W1, optimize=True) + b1)
            logits = np.einsum("nj,jk->nk", hidden, W2, optimize=True) + b2
            m = logits.max(axis=1, keepdims=True)
            log_probs = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
            onehot = np.eye(W2.shape[1])[y]
            return float(-(onehot * log_probs).sum(axis=1).mean())
        """,
        gradients="""
            n = x.shape[0]
            f, slope = {
                "relu": (lambda z: np.maximum(z, 0), lambda z: np.where(z > 0, 1.0, 0.0)),
                "leaky_relu": (lambda z: np.maximum(z, 0.1 * z), lambda z: np.where(z > 0, 1.0, 0.1)),
                "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
                "elu": (lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1), lambda z: np.exp(np.minimum(z, 0))),
            }[HIDDEN]
            pre = np.einsum("ni,ij->nj", x, W1, optimize=True) + b1
            hidden = f(pre)
            logits = np.einsum("nj,jk->nk", hidden, W2, optimize=True) + b2
            m = logits.max(axis=1, keepdims=True)
            log_probs = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
            onehot = np.eye(W2.shape[1])[y]
            value = float(-(onehot * log_probs).sum(axis=1).mean())
            d_logits = (np.exp(log_probs) - onehot) / n
            dW2 = np.einsum("nj,nk->jk", hidden, d_logits, optimize=True)
            db2 = np.einsum("nk->k", d_logits, optimize=True)
            d_pre = np.einsum("nk,jk->nj", d_logits, W2, optimize=True) * slope(pre)
            dW1 = np.einsum("ni,nj->ij", x, d_pre, optimize=True)
            db1 = np.einsum("nj->j", d_pre, optimize=True)
            return value, dW1, db1, dW2, db2
        """,
        sgd_settings="""
            return dict(n_hidden=256, epochs=20, batch_size=64, learning_rate=0.1)
        """,
        train="""
            W1, b1, W2, b2 = init_params(seed, x.shape[1], n_hidden, 10)
            rng = np.random.default_rng(seed)
            n = len(x)
            for epoch in range(epochs):
                order = rng.permutation(n)
                for i in range(0, n, batch_size):
                    idx = order[i:i + batch_size]
                    _, dW1, db1, dW2, db2 = gradients(x[idx], y[idx], W1, b1, W2, b2)
                    W1 = W1 - learning_rate * dW1
                    b1 = b1 - learning_rate * db1
                    W2 = W2 - learning_rate * dW2
                    b2 = b2 - learning_rate * db2
            return W1, b1, W2, b2
        """,
    )),
    # a loss image by image (a numpy float comes back), np.add.at for the one-hot, He-uniform
    # weights, a dict of parameters, a fresh permutation of the indices each epoch, a
    # constant learning rate, a while loop over the batches, the activation's derivative
    # from its output where it can be (tanh's 1 - h², ELU's h + 1 below 0)
    "ex02b_add_at_dict_while_loop": ("ex02b", dict(
        init_params="""
            rng = np.random.default_rng(seed)
            params = {}
            for name, fan_in, fan_out in (("1", n_in, n_hidden), ("2", n_hidden, n_out)):
                bound = np.sqrt(6.0 / fan_in)
                params["W" + name] = rng.uniform(-bound, bound, size=(fan_in, fan_out))
                params["b" + name] = np.zeros(fan_out)
            return params["W1"], params["b1"], params["W2"], params["b2"]
        """,
        loss="""
            total = 0.0
            for image, label in zip(x, y):
                a = image @ W1 + b1
                if HIDDEN == "tanh":
                    r = np.tanh(a)
                elif HIDDEN == "elu":
                    r = np.where(a > 0, a, np.expm1(np.minimum(a, 0)))
                else:
                    r = np.where(a > 0, a, a * (0.1 if HIDDEN == "leaky_relu" else 0.0))
                z = r @ W2 + b2
                top = z.max()
                total += top + np.log(np.sum(np.exp(z - top))) - z[label]
            return total / len(x)
        """,
        gradients="""
            N = len(y)
            a = x @ W1 + b1
            if HIDDEN == "tanh":
                r = np.tanh(a)
            elif HIDDEN == "elu":
                r = np.where(a > 0, a, np.expm1(np.minimum(a, 0)))
            else:
                r = np.where(a > 0, a, a * (0.1 if HIDDEN == "leaky_relu" else 0.0))
            s = r @ W2 + b2
            s -= np.max(s, axis=1)[:, None]
            e = np.exp(s)
            lse = np.log(e.sum(axis=1))
            L = float(np.mean(lse - s[np.arange(N), y]))
            g = e / e.sum(axis=1)[:, None]
            np.add.at(g, (np.arange(N), y), -1.0)
            g /= N
            grads = {"W2": r.T @ g, "b2": g.sum(axis=0)}
            ga = (g @ W2.T)
            if HIDDEN == "tanh":
                ga *= 1 - r ** 2
            elif HIDDEN == "elu":
                ga[a <= 0] *= r[a <= 0] + 1
            else:
                ga[a <= 0] *= 0.1 if HIDDEN == "leaky_relu" else 0.0
            grads["W1"] = x.T @ ga
            grads["b1"] = ga.sum(axis=0)
            return L, grads["W1"], grads["b1"], grads["W2"], grads["b2"]
        """,
        sgd_settings="""
            return {"n_hidden": 160, "epochs": 18, "batch_size": 50, "learning_rate": 0.15}
        """,
        train="""
            params = list(init_params(seed, x.shape[1], n_hidden, 10))
            rng = np.random.default_rng(seed)
            for epoch in range(epochs):
                index = rng.permutation(len(x))  # the contract's order (rng.shuffle of a kept array is another)
                rate = learning_rate  # the contract's step; a decayed rate is another optimiser
                start = 0
                while start < len(index):
                    batch = index[start:start + batch_size]
                    start += batch_size
                    _, *grads = gradients(x[batch], y[batch], *params)
                    params = [p - rate * g for p, g in zip(params, grads)]
            return tuple(params)
        """,
    )),
}


@pytest.fixture(scope="module")
def backprop_alternatives(request, tmp_path_factory, mnist_path):
    submissions = {name: (ex, filled(ex, **bodies)) for name, (ex, bodies) in selected(request, BACKPROP_ALTERNATIVES).items()}
    return grade_class(submissions, tmp_path_factory.mktemp("backprop-alternatives"), mnist_path)


@pytest.mark.trains
@pytest.mark.parametrize("name", list(BACKPROP_ALTERNATIVES))
def test_backprop_written_differently_keeps_full_points(backprop_alternatives, name):
    _assert_full_points(backprop_alternatives, name, BACKPROP_ALTERNATIVES[name][0])


# The model exercises: the grader trains each declaration on the real data.
# Measured on mnist-22k (seed 0, 2 threads), public / private half: ex02_functional_one_hot 97.66 / 97.44%
# and ex02_two_layers_plateau 97.18 / 97.08% (bars 96.8 / 96.7%, the `sgd` variant's: plain SGD, at most 10
# epochs), ex03_functional_rmsprop 96.06% and
# ex03_patient_with_plateau 96.04% on the public half (bar 95.6%, the `budget` variant's),
# ex05_keras_example_convnet 98.89% (bar 98.7%, before ex05's constraints). A CNN with batch
# normalization and global pooling reached 98.74%, too close to the bar to
# prove anything, and trained slowest; it is not in the corpus.
MODEL_ALTERNATIVES = {
    # ex02 · the Functional API, a narrower layer at a smaller rate, a smaller validation split, one-hot labels
    # with a categorical loss
    "ex02_functional_one_hot": ("ex02", dict(
        build_model="""
            inputs = keras.Input(shape=(28, 28))
            x = layers.Rescaling(1.0 / 255)(inputs)
            x = layers.Flatten()(x)
            x = layers.Dense(384, activation="relu")(x)
            outputs = layers.Dense(10, activation="softmax")(x)
            model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_mlp")
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.25), loss="categorical_crossentropy", metrics=["accuracy"])
            return model
        """,
        training_settings="""
            return {"epochs": 10, "batch_size": 32, "validation_split": 0.05, "labels": "one-hot"}
        """,
    )),
    # ex02 · two hidden layers, plain SGD whose rate halves when the validation loss stalls, early stopping
    # on validation accuracy
    "ex02_two_layers_plateau": ("ex02", dict(
        build_model="""
            model = keras.Sequential()
            model.add(keras.Input(shape=(28, 28)))
            model.add(layers.Rescaling(scale=1 / 255.0))
            model.add(layers.Flatten())
            model.add(layers.Dense(300, activation="relu"))
            model.add(layers.Dense(100, activation="relu"))
            model.add(layers.Dense(10, activation="softmax"))
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.3, momentum=0.0),
                          loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
            return model
        """,
        training_settings="""
            slower = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)
            stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=3, restore_best_weights=True)
            return {"epochs": 10, "batch_size": 64, "validation_split": 0.1, "callbacks": [slower, stop]}
        """,
    )),
    # ex03 · the default variant's budget (50,000 parameters) spent another way: the Functional API, a
    # wider first layer and a narrower second (49,848 parameters), a little Dropout, RMSprop, early stopping
    # alone on the validation loss
    "ex03_functional_rmsprop": ("ex03", dict(
        build_model="""
            rate = 0.05 if dropout_rate is None else dropout_rate
            inputs = keras.Input(shape=(28, 28))
            x = layers.Flatten()(layers.Rescaling(1 / 255)(inputs))
            for width in (62, 16):
                x = layers.Dense(width, activation="relu")(x)
                x = layers.Dropout(rate)(x)
            outputs = layers.Dense(10, activation="softmax")(x)
            model = keras.Model(inputs, outputs)
            model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=5e-4), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
        """,
        training_settings="""
            return {
                "epochs": 40,
                "batch_size": 128,
                "validation_split": 0.15,
                "callbacks": [keras.callbacks.EarlyStopping(monitor="val_loss", patience=6, restore_best_weights=True)],
            }
        """,
    )),
    # ex03 · a sensible early stopping that trains to its declared end: patience 10 on
    # the validation accuracy for 20 epochs, with ReduceLROnPlateau keeping the curve
    # improving. Early stopping is graded on its configuration, never on whether a
    # training happened to stop before its last epoch (the test below checks that
    # this one did not).
    "ex03_patient_with_plateau": ("ex03", dict(
        training_settings="""
            slower = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3)
            stop = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=10, restore_best_weights=True)
            return {"epochs": 20, "batch_size": 128, "validation_split": 0.1, "callbacks": [slower, stop]}
        """,
    )),
    # ex05 · the default variant's (`shifted`) decision written another way: the Functional API, a loop
    # over the convolution blocks, the translation factors as ranges, Adam as an object, one-hot labels
    # with a categorical loss. (Keras's own "Simple MNIST convnet" example, adapted with the same
    # augmentation and 20 epochs, reads 97.14% of the private half's shifted digits: below the bar of
    # 98.1%, as its 34,826 parameters spent in two convolutions allow; not a correct answer, so not here.)
    "ex05_functional_one_hot": ("ex05", dict(
        build_model="""
            inputs = keras.Input(shape=(28, 28, 1))
            x = layers.Rescaling(1.0 / 255)(inputs)
            x = layers.RandomTranslation((-0.15, 0.15), (-0.15, 0.15), fill_mode="constant")(x)
            for filters in (32, 64):
                x = layers.Conv2D(filters, (3, 3), padding="same", activation="relu")(x)
                x = layers.MaxPooling2D(pool_size=(2, 2))(x)
            x = layers.Dropout(0.4)(layers.Flatten()(layers.Conv2D(64, (3, 3), activation="relu")(x)))
            x = layers.Dropout(0.4)(layers.Dense(128, activation="relu")(x))
            model = keras.Model(inputs, layers.Dense(10, activation="softmax")(x))
            model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=0.001), metrics=["accuracy"])
            return model
        """,
        training_settings="""
            return {"epochs": 20, "batch_size": 128, "validation_split": 0.1, "labels": "one-hot"}
        """,
    )),
}


@pytest.fixture(scope="module")
def model_alternatives(request, tmp_path_factory, mnist_path):
    submissions = {name: (ex, filled(ex, **bodies)) for name, (ex, bodies) in selected(request, MODEL_ALTERNATIVES).items()}
    return grade_class(submissions, tmp_path_factory.mktemp("model-alternatives"), mnist_path)


def test_every_model_exercise_has_alternatives():
    assert {ex.id for ex in COURSE.exercises if ex.training} <= {ex for ex, _ in MODEL_ALTERNATIVES.values()}


@pytest.mark.trains
@pytest.mark.parametrize("name", list(MODEL_ALTERNATIVES))
def test_a_model_declared_differently_keeps_full_points(model_alternatives, name):
    _assert_full_points(model_alternatives, name, MODEL_ALTERNATIVES[name][0])


@pytest.mark.trains
def test_ex03_early_stopping_that_trains_to_its_end_keeps_its_points(model_alternatives):
    """The patient configuration above ran all its declared epochs, and still
    earned every point: what is graded is the configuration, not the stop."""
    checks = checks_of(model_alternatives, "ex03_patient_with_plateau", "ex03")
    accuracy = next(c for c in checks if c["name"] == "build_model_test_accuracy")
    assert accuracy["measured"]["epochs_run"] == 20, accuracy["measured"]
    configured = next(c for c in checks if c["name"] == "training_settings_early_stopping_configured")
    assert configured["score"] == configured["max_score"]
