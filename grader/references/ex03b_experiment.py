"""Exercise 03b's reference, apart from its checks (grader/checks/ex03b_experiment.py): the
experiment's declared protocol, run by the grader itself, so that a table is compared with
what the docstring's model really gives for a cell's width and seed, never with what the
submission's own code says it gave (which could remember what it returned, or train
something else).

`declared_accuracies` trains the cells it is asked for in a process of its own
(`python -m grader.references.ex03b_experiment FOLDER`), started while no student process
runs, with the worker's one-thread settings; an identical request (the same data and cells,
the same grader and machine) is answered from the run's cache folder (grader/shared_cache.py),
so a class trains each set of cells once.

Why this answer ships: validation_accuracy()'s docstring is the protocol itself, every layer
and setting named, because an experiment's runs must be repeatable by anyone who reads its
plan. What is graded in exercise 3b is the experiment run with it (a table of real runs) and
the decision; tests/test_no_answer_ships.py names this module as the one answer it allows,
and why.
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


def _environment() -> dict[str, str]:
    """The worker's thread settings (isolation/sandbox.py), so the run computes as the worker does."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    return {**keep, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


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
            proc = subprocess.run([sys.executable, "-m", "grader.references.ex03b_experiment", str(work)], cwd=root,
                                  env=_environment(), capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ProtocolFailed(f"the grader's own run of the protocol took over {TIMEOUT_S} s") from None
        if proc.returncode != 0 or not (work / "results.json").is_file():
            raise ProtocolFailed(f"the grader's own run of the protocol ended with exit status {proc.returncode}: "
                                 f"{(proc.stderr or '').strip()[-300:]}")
        return json.loads((work / "results.json").read_text())


def _main(work: Path) -> None:
    with np.load(work / "data.npz") as arrays:
        data = [arrays[f"arr_{k}"] for k in range(4)]
    results: dict[str, dict[str, float]] = {}
    for width, seed in json.loads((work / "cells.json").read_text()):
        results.setdefault(str(width), {})[str(seed)] = declared_run(*data, width, seed)
    (work / "results.json").write_text(json.dumps(results))


if __name__ == "__main__":
    _main(Path(sys.argv[1]))
