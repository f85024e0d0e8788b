"""Exercise 03b's reference, apart from its checks (grader/checks/ex03b_experiment.py): the
experiment's declared protocol, run by the grader itself, so that a table is compared with
what the docstring's model really gives for a cell's width and seed, never with what the
submission's own code says it gave (which could remember what it returned, or train
something else).

`declared_accuracies` trains the cells it is asked for in a process of its own
(`python -m grader.references.ex03b_experiment FOLDER`), started while no student process
runs, in the worker's environment (its one-thread settings); an identical request (the same data and cells,
the same grader and machine) is answered from the run's cache folder (grader/shared_cache.py),
so a class trains each set of cells once.

Below them, choose_width()'s rule for each variant (`rule`, `FLOORS`), the usual wrong rules
(`near_misses`) and the tables the checks ask about (`RULE_CASES`, moved for each submission by
`drawn_cases`, so that no answer can be looked up); then seeds_the_choice_rests_on()'s tables
(`FRAGILITY_CASES`), each with its answer per variant written down as data: no code here computes it.

Why these answers ship: validation_accuracy()'s docstring is the protocol itself, every layer
and setting named, because an experiment's runs must be repeatable by anyone who reads its
plan; choose_width()'s docstring states each variant's rule in words, as a rule fixed before
the results must be. Pasted, either gives what the stub's own docstring says. What exercise 3b
grades beyond them is the experiment run (a table of real runs on images drawn for the file)
and the decision on it; tests/test_no_answer_ships.py names both as the answers it allows, and
why (mnist_course.answers.ANSWERED_BY_ITS_CONTRACT).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from grader.isolation.sandbox import worker_environment
from grader.shared_cache import shared_files

EPOCHS, BATCH_SIZE = 2, 32  # the docstring's
# A safety net for the grader's own run, never a verdict: 3 cells take about 5 s, and 15 s on a busy machine.
TIMEOUT_S = 600


def declared_run(x_train, y_train, x_val, y_val, width: int, seed: int) -> float:
    """One run of the docstring's protocol: the validation accuracy of its model, trained with `seed`."""
    from mnist_course.data import quiet_keras

    keras = quiet_keras()
    keras.utils.set_random_seed(int(seed))
    model = keras.Sequential([
        keras.Input(shape=(28, 28)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Flatten(),
        keras.layers.Dense(int(width), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    predicted = np.argmax(model.predict(x_val, batch_size=256, verbose=0), axis=1)
    return float(np.mean(predicted == y_val))


class ProtocolFailed(RuntimeError):
    """The grader's own run did not finish: the machine's failure, never the submission's."""


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def declared_accuracies(data, cells, *, cache=None) -> dict[tuple[int, int], float]:
    """The docstring's model's validation accuracy for each (width, seed) of `cells`, on
    `data` = (x_train, y_train, x_val, y_val); ProtocolFailed where the run did not finish."""
    cells = sorted({(int(w), int(s)) for w, s in cells})
    identity = {"ex03b declared protocol": _digest(data), "cells": cells, "epochs": EPOCHS, "batch_size": BATCH_SIZE}

    def make(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(json.dumps(train_cells(data, cells)))

    with tempfile.TemporaryDirectory(prefix="ex03b-protocol-out-") as scratch:
        folder = shared_files(cache, identity, make, Path(scratch) / "made", valid=lambda f: (f / "results.json").is_file())
        results = json.loads((folder / "results.json").read_text())
    return {(w, s): float(results[str(w)][str(s)]) for w, s in cells}


def train_cells(data, cells) -> dict[str, dict[str, float]]:
    """Train `cells` in a process of its own: {str(width): {str(seed): accuracy}}."""
    with tempfile.TemporaryDirectory(prefix="ex03b-protocol-") as work:
        work = Path(work)
        np.savez(work / "data.npz", *data)
        (work / "cells.json").write_text(json.dumps(cells))
        root = Path(__file__).resolve().parents[2]
        try:
            # the worker's environment, so the run computes as the worker does; PYTHONPATH where the
            # grader is found through it (Gradescope's zip)
            env = worker_environment(work)
            if "PYTHONPATH" in os.environ:
                env["PYTHONPATH"] = os.environ["PYTHONPATH"]
            proc = subprocess.run([sys.executable, "-m", "grader.references.ex03b_experiment", str(work)], cwd=root,
                                  env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ProtocolFailed(f"the grader's own run of the protocol took over {TIMEOUT_S} s") from None
        if proc.returncode != 0 or not (work / "results.json").is_file():
            raise ProtocolFailed(f"the grader's own run of the protocol ended with exit status {proc.returncode}: "
                                 f"{(proc.stderr or '').strip()[-300:]}")
        return json.loads((work / "results.json").read_text())


# ---------------------------------------------------------------- choose_width's rule

# Each variant's floor below the best mean (course.toml: RULE at the top of the file), from the
# best mean and the best width's own runs.
FLOORS = {
    "one_sd": lambda mean, runs: mean - runs.std(ddof=1),
    "one_se": lambda mean, runs: mean - runs.std(ddof=1) / np.sqrt(len(runs)),
    "worst_seed": lambda mean, runs: runs.min(),
}


def best_row(widths, means) -> int:
    """The best mean's row: the narrowest width among equal best means."""
    return min((i for i in range(len(widths)) if means[i] == means.max()), key=lambda i: widths[i])


def rule(widths, table, key: str = "one_sd") -> int:
    """The docstring's rule for variant `key`, written out: the narrowest width whose mean
    reaches the floor that the variant sets below the best mean."""
    table = np.asarray(table, dtype=np.float64)
    means = table.mean(axis=1)
    best = best_row(widths, means)
    floor = FLOORS[key](means[best], table[best])
    return min(widths[i] for i in range(len(widths)) if means[i] >= floor)


def narrowest(widths, keep) -> int:
    return min((w for i, w in enumerate(widths) if keep(i)), default=None)


def near_misses(widths, table, key: str) -> dict[str, int]:
    """What the usual wrong rules give for variant `key`, to name the likely cause."""
    table = np.asarray(table, dtype=np.float64)
    means = table.mean(axis=1)
    best = int(np.argmax(means))
    runs, k = table[best], table.shape[1]
    misses = {"the best mean alone": widths[best]}
    floor = FLOORS[key](means[best], runs)
    misses["the first width in the list instead of the narrowest"] = next(w for w, m in zip(widths, means) if m >= floor)
    if key in ("one_sd", "one_se"):
        per = np.sqrt(k) if key == "one_se" else 1.0
        misses["np.std's default ddof=0 (a sample standard deviation divides by k - 1: ddof=1)"] = narrowest(
            widths, lambda i: means[i] >= means[best] - runs.std() / per)
        misses["each width's own spread instead of the best width's"] = narrowest(
            widths, lambda i: means[i] + table[i].std(ddof=1) / per >= means[best])
    if key == "one_se":
        misses["the standard deviation divided by k instead of by the square root of k"] = narrowest(
            widths, lambda i: means[i] >= means[best] - runs.std(ddof=1) / k)
    if key == "worst_seed":
        misses["each width's worst seed compared with the best width's, instead of its mean"] = narrowest(
            widths, lambda i: table[i].min() >= runs.min())
        misses["the worst seed of the whole table instead of the best width's"] = narrowest(
            widths, lambda i: means[i] >= table.min())
    return misses


# Tables where the variants' rules, and each rule and its near-misses, disagree (means and
# floors far from any boundary): (widths, table). tests/test_references.py proves it, for these
# and for what `drawn_cases` makes of them for each submission.
RULE_CASES = [
    # the widest is best, but 32 is within its spread: the rule picks 32, the best mean 128
    ([8, 32, 128], [[0.80, 0.82, 0.81, 0.79], [0.880, 0.900, 0.870, 0.890], [0.905, 0.875, 0.895, 0.885]]),
    # the best width's spread is small: only the best itself qualifies
    ([8, 32, 128], [[0.70, 0.72, 0.69, 0.71], [0.860, 0.870, 0.865, 0.855], [0.900, 0.902, 0.898, 0.900]]),
    # ddof matters: with ddof=1 (0.0122) width 32 qualifies (0.889 >= 0.8878), with ddof=0 (0.0106) it does not
    ([8, 32, 128], [[0.60, 0.61, 0.62, 0.60], [0.889, 0.889, 0.889, 0.889], [0.885, 0.915, 0.900, 0.900]]),
    # a noisy narrow width whose own spread would reach the best mean, but not the best width's spread
    ([16, 64, 256], [[0.75, 0.95, 0.70, 0.88], [0.90, 0.91, 0.90, 0.91], [0.930, 0.925, 0.935, 0.930]]),
    # widths not in order: the narrowest is 8, wherever it stands
    ([128, 8, 32], [[0.900, 0.880, 0.910, 0.890], [0.890, 0.895, 0.885, 0.890], [0.895, 0.890, 0.900, 0.885]]),
    # one low seed in the best row: its worst seed (0.86) lets 32 in, one sample standard deviation (0.87) does not
    ([8, 32, 128], [[0.60, 0.62, 0.61, 0.61], [0.865, 0.860, 0.870, 0.865], [0.90, 0.90, 0.90, 0.86]]),
    # ddof matters for the standard error: 32 (0.8848) is above 0.9 - 0.0163 (ddof=1), below 0.9 - 0.0141 (ddof=0)
    ([8, 32, 128], [[0.70, 0.71, 0.72, 0.70], [0.8850, 0.8846, 0.8850, 0.8846], [0.94, 0.90, 0.86, 0.90]]),
]


def drawn_cases(seed: int, cases=RULE_CASES) -> list[tuple[list[int], np.ndarray]]:
    """RULE_CASES (or `cases`, whose first two items are widths and a table) as one submission
    sees them: each table mapped by v -> a * v + c (a in [0.8, 1],
    c keeping it in [0, 1]), its seed columns shuffled, and its widths renamed by an increasing
    map. None of these changes any rule's answer or near-miss (means, spreads and worst seeds move
    with the map; the order of the widths and their place in the list stay), so every table keeps
    telling the variants and the near-misses apart; but no answer can be looked up."""
    rng = np.random.default_rng(seed)
    moved = []
    for widths, table, *_ in cases:
        table = np.asarray(table, dtype=np.float64)
        a = rng.uniform(0.8, 1.0)
        low, high = -a * table.min(), 1.0 - a * table.max()
        c = rng.uniform(max(low, -0.05), min(high, 0.05))
        moved_table = (a * table + c)[:, rng.permutation(table.shape[1])]
        renamed = dict(zip(sorted(widths), sorted(int(w) for w in rng.choice(np.arange(2, 1025), size=len(widths), replace=False))))
        moved.append(([renamed[w] for w in widths], moved_table))
    return moved


# ---------------------------------------------------------------- seeds_the_choice_rests_on

# The usual mistakes, named in a message when one gives the student's answer on every table.
WHOLE_FLOOR = "the whole table's best mean and floor kept, with only the means recomputed from the seeds left"
ONE_AT_A_TIME = "only one seed left out at a time, never two or more together"
SE_DDOF0 = "the standard error of the seeds left taken from np.std's default ddof=0 (a sample standard deviation divides by k - 1)"
SE_WHOLE_K = "the standard error of the seeds left divided by the square root of the whole table's number of seeds, not of those left"
DOWN_TO_ONE = "seeds left out until only one is left (the contract stops at k - 2: a spread needs two runs)"

# Tables with their answer for each variant, and what each usual mistake returns for each variant it
# applies to: (widths, table, {variant: answer}, {mistake: {variant: what it returns}}). No function here
# computes an answer (tests/test_no_answer_ships.py): these numbers were written down from the
# reference solution, and tests/test_references.py recomputes every one of them, for these tables
# and for what `drawn_cases` makes of them for each submission (a move changes no answer: means,
# spreads and worst seeds move with v -> a * v + c, the widths keep their order, and which columns
# are left out does not matter to a count), and `drawn_fragility_cases` adds clearly worse widths and
# shuffles the rows first (a width far below every floor is never chosen, nor best). In every table
# and every table with columns left out, no two means and no mean and floor lie within 4e-4 of each
# other, so margins decide, never rounding. Between them, every variant meets 1, 2 or 3 seeds and None; every pair of variants
# disagrees on the first; every mistake misses on some table for every variant it applies to (the
# last two tables were added after an adversarial review, for the standard error's two mistakes
# and for leaving seeds out down to one).
FRAGILITY_CASES = [
    ([8, 32, 128], [[0.794, 0.791, 0.788, 0.793], [0.894, 0.878, 0.874, 0.891], [0.909, 0.887, 0.892, 0.918]],
     {"one_sd": 2, "one_se": None, "worst_seed": 1},
     {WHOLE_FLOOR: {"one_sd": 1, "one_se": 2, "worst_seed": 1}, ONE_AT_A_TIME: {"one_sd": None, "one_se": None, "worst_seed": 1},
      SE_DDOF0: {"one_se": None}, SE_WHOLE_K: {"one_se": None}, DOWN_TO_ONE: {"worst_seed": 1}}),
    ([8, 32, 128], [[0.800, 0.805, 0.802, 0.813], [0.857, 0.844, 0.859, 0.859], [0.856, 0.850, 0.884, 0.862]],
     {"one_sd": None, "one_se": 1, "worst_seed": 2},
     {WHOLE_FLOOR: {"one_sd": None, "one_se": 1, "worst_seed": None}, ONE_AT_A_TIME: {"one_sd": None, "one_se": 1, "worst_seed": None},
      SE_DDOF0: {"one_se": 1}, SE_WHOLE_K: {"one_se": 1}, DOWN_TO_ONE: {"worst_seed": 2}}),
    ([8, 32, 128], [[0.775, 0.776, 0.752, 0.816, 0.795], [0.880, 0.869, 0.864, 0.879, 0.869], [0.864, 0.887, 0.866, 0.870, 0.886]],
     {"one_sd": 2, "one_se": 1, "worst_seed": 3},
     {WHOLE_FLOOR: {"one_sd": None, "one_se": 2, "worst_seed": None}, ONE_AT_A_TIME: {"one_sd": None, "one_se": 1, "worst_seed": None},
      SE_DDOF0: {"one_se": 1}, SE_WHOLE_K: {"one_se": 1}, DOWN_TO_ONE: {"worst_seed": 3}}),
    ([8, 32, 128], [[0.819, 0.831, 0.811, 0.812], [0.874, 0.865, 0.862, 0.866], [0.894, 0.912, 0.904, 0.863]],
     {"one_sd": 1, "one_se": 2, "worst_seed": 1},
     {WHOLE_FLOOR: {"one_sd": None, "one_se": 2, "worst_seed": None}, ONE_AT_A_TIME: {"one_sd": 1, "one_se": None, "worst_seed": 1},
      SE_DDOF0: {"one_se": 2}, SE_WHOLE_K: {"one_se": 2}, DOWN_TO_ONE: {"worst_seed": 1}}),
    ([8, 32, 128], [[0.808, 0.804, 0.813, 0.806, 0.796], [0.890, 0.888, 0.887, 0.880, 0.886], [0.859, 0.895, 0.888, 0.836, 0.860]],
     {"one_sd": None, "one_se": 3, "worst_seed": 3},
     {WHOLE_FLOOR: {"one_sd": None, "one_se": 2, "worst_seed": None}, ONE_AT_A_TIME: {"one_sd": None, "one_se": None, "worst_seed": None},
      SE_DDOF0: {"one_se": 3}, SE_WHOLE_K: {"one_se": 3}, DOWN_TO_ONE: {"worst_seed": 3}}),
    ([8, 32, 128], [[0.779, 0.801, 0.782, 0.796, 0.785], [0.880, 0.889, 0.880, 0.884, 0.859], [0.893, 0.942, 0.898, 0.909, 0.899]],
     {"one_sd": 3, "one_se": None, "worst_seed": None},
     {WHOLE_FLOOR: {"one_sd": None, "one_se": 2, "worst_seed": None}, ONE_AT_A_TIME: {"one_sd": None, "one_se": None, "worst_seed": None},
      SE_DDOF0: {"one_se": None}, SE_WHOLE_K: {"one_se": None}, DOWN_TO_ONE: {"worst_seed": None}}),
    ([8, 32, 128], [[0.800, 0.797, 0.778, 0.797], [0.885, 0.874, 0.888, 0.902], [0.882, 0.873, 0.916, 0.873]],
     {"one_sd": None, "one_se": None, "worst_seed": None},
     {WHOLE_FLOOR: {"one_sd": None, "one_se": 2, "worst_seed": None}, ONE_AT_A_TIME: {"one_sd": None, "one_se": None, "worst_seed": None},
      SE_DDOF0: {"one_se": 2}, SE_WHOLE_K: {"one_se": 2}, DOWN_TO_ONE: {"worst_seed": 3}}),
    ([8, 32, 128], [[0.811, 0.819, 0.821, 0.810, 0.805], [0.837, 0.853, 0.864, 0.854, 0.853], [0.873, 0.881, 0.858, 0.879, 0.877]],
     {"one_sd": 3, "one_se": 3, "worst_seed": 3},
     {WHOLE_FLOOR: {"one_sd": None, "one_se": 2, "worst_seed": 3}, ONE_AT_A_TIME: {"one_sd": None, "one_se": None, "worst_seed": None},
      SE_DDOF0: {"one_se": None}, SE_WHOLE_K: {"one_se": None}, DOWN_TO_ONE: {"worst_seed": 3}}),
]


def drawn_fragility_cases(seed: int) -> list[tuple[int, list[int], np.ndarray]]:
    """FRAGILITY_CASES as one submission sees them: (which case, widths, table), each case twice
    under two moves of its own, in an order drawn for the file, so that neither the order of the
    calls nor one table's answer tells another's. To each table up to two widths are added whose
    every run lies far below every run of the table (0.05 to 0.3 lower, apart from each other by
    at least 0.02: never best and never chosen, so no answer changes), the rows are shuffled with
    their widths, and then the table is moved as `drawn_cases` moves it. A file that recognised
    the tables to look their answers up would first have to undo all of that."""
    rng = np.random.default_rng([seed, 1])
    grown = []
    for widths, table, *_ in FRAGILITY_CASES * 2:
        table = np.asarray(table, dtype=np.float64)
        free = [w for w in (2, 4, 16, 64, 256, 512) if w not in widths]
        extra = int(rng.integers(0, 3))
        drops = 0.05 + 0.02 * np.sort(rng.choice(np.arange(13), size=extra, replace=False))  # 0.05 to 0.29, 0.02 apart
        rows = [table.min() - drop - rng.uniform(0, 0.004, table.shape[1]) for drop in drops]
        all_widths = list(widths) + [int(w) for w in rng.choice(free, size=extra, replace=False)]
        all_rows = np.vstack([table, *rows]) if rows else table
        order = rng.permutation(len(all_widths))
        grown.append(([all_widths[i] for i in order], all_rows[order]))
    moved = drawn_cases(seed, grown)
    which = [n % len(FRAGILITY_CASES) for n in range(len(moved))]
    return [(which[n], *moved[n]) for n in rng.permutation(len(moved))]


def _main(work: Path) -> None:
    with np.load(work / "data.npz") as arrays:
        data = [arrays[f"arr_{k}"] for k in range(4)]
    results: dict[str, dict[str, float]] = {}
    for width, seed in json.loads((work / "cells.json").read_text()):
        results.setdefault(str(width), {})[str(seed)] = declared_run(*data, width, seed)
    (work / "results.json").write_text(json.dumps(results))


if __name__ == "__main__":
    _main(Path(sys.argv[1]))
