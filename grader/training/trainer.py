"""The grader's trainer: runs grader/training/_trainer.py on a checked declaration, and caches what it returns.

A model exercise's declaration reaches this module already checked: the
model's configuration from its `.keras` file (grader/training/vetting.py) and
its `Settings` (grader/training/declared_settings.py). `Trainer` has the
caller stop the student's worker (`before_run`), then hands the configuration
to its trainer process, which builds the model with `safe_mode=True` under the
exercise's seed (so every weight is fresh), inspects it or trains it (the
declaration's work was capped beforehand, mnist_course/budget.py) and
evaluates on the test set. Results are memoised per process, and cached on
disk where the run's settings name a training cache folder (the course's own
test suite does, so each reference trains once per run; a batch does, so
identical declarations train once per class), keyed on everything that
decides the result (`_cached`, through grader/shared_cache.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mnist_course.course import Training
from mnist_course.data import MNIST

from mnist_course import budget
from mnist_course.budget import BACKWARD_FACTOR, STEP_FLOPS, epoch_cpu_allowance_s, safety_timeout_s, start_up_timeout_s
from ..shared_cache import key_of, locked
from ..settings import switches
from ..isolation.limits import TRAINER_MEMORY, limiter, machine_failure
from ..isolation.safe_files import clean_text, read_regular
from .declared_settings import Settings
from .vetting import allowed_at_build

TRAINER = Path(__file__).with_name("_trainer.py")
CACHE_VERSION = 4  # bump when training or evaluation changes meaning (3: fixed threads, work counted; 4: entries hold their key)
PROBE_IMAGES = 64
MAX_CACHE_ENTRY = 64 << 20  # bytes of one cached training result
# Batches the trainer runs per call into TensorFlow (Keras's steps_per_execution).
# Keras's call per step costs nearly as much as a small dense network's step
# (ex02 at batch 32: 25 s of training became 20 s); steps run in one compiled
# loop give the same weights bit for bit, since every step, shuffle and seed
# is unchanged (tests/test_training.py). Batch-level callbacks (the work guard,
# TerminateOnNaN) see every 32nd batch and each epoch's end: they decide as
# before, a few batches later.
STEPS_PER_EXECUTION = 32


def _canonical(config: Any, ids: dict | None = None) -> Any:
    """The config with Keras's per-process object ids renumbered in order of first appearance, for
    hashing: the same model hashes the same in any process, and a model that shares an object (one
    `shared_object_id` in two places, one set of weights) never hashes like one that does not."""
    ids = {} if ids is None else ids
    if isinstance(config, dict):
        return {k: ids.setdefault(v, len(ids)) if k == "shared_object_id" else _canonical(v, ids) for k, v in config.items()}
    if isinstance(config, list):
        return [_canonical(v, ids) for v in config]
    return config


def _read_entry(path: Path, key: str) -> dict | None:
    """The result a cache entry holds, or None if it is missing, unreadable or not this key's."""
    try:
        entry = json.loads(read_regular(path, MAX_CACHE_ENTRY).decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("result"), dict):
        return None
    return entry["result"]


class Trainer:
    """Runs grader/training/_trainer.py on one data set; one per grading process.

    The data reaches the trainer as .npy files written for each run into a
    folder of the grader's and removed right after, while no student process
    runs (the caller stops the worker first). `cache`: the folder where
    results are kept across processes (the run's settings), or None."""

    def __init__(self, data: MNIST, cache: str | Path | None = None):
        self.data = data
        self._dir = tempfile.TemporaryDirectory(prefix="mnist-grader-trainer-")
        self.dir = Path(self._dir.name)
        self._memo: dict[str, dict] = {}
        self.cache = Path(cache) if cache else None

    def _run(self, request: dict, timeout: float, arrays: dict[str, np.ndarray], progress: Callable[[dict], None] | None = None) -> dict:
        folder = Path(tempfile.mkdtemp(prefix="run-", dir=self.dir))
        try:
            for name, array in arrays.items():
                request[name] = str(folder / f"{name}.npy")
                np.save(request[name], array, allow_pickle=False)
            return self._communicate(request, folder, timeout, progress)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _communicate(self, request: dict, folder: Path, timeout: float, progress) -> dict:
        # On the CPU even where a GPU exists: the thresholds were measured there,
        # op determinism holds there, and CUDA cannot start under the memory cap.
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0", "KERAS_HOME": str(folder / ".keras"), "CUDA_VISIBLE_DEVICES": ""}
        proc = subprocess.Popen(
            [sys.executable, "-I", str(TRAINER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=folder,
            start_new_session=True,
            preexec_fn=limiter(TRAINER_MEMORY, oom_score=500) if os.name == "posix" else None,
            text=True,
        )
        fired = threading.Event()  # the safety clock's own flag: Timer.cancel() sets timer.finished too

        def expire() -> None:
            fired.set()
            proc.kill()

        timer = threading.Timer(timeout, expire)
        timer.start()
        result = None
        try:
            proc.stdin.write(json.dumps(request))
            proc.stdin.close()
            for line in proc.stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue  # a stray line from a library
                if isinstance(message, dict) and "result" in message:
                    result = message["result"]
                elif progress is not None and isinstance(message, dict):
                    progress(message)
            proc.wait()
        except BrokenPipeError:
            proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:  # interrupted while reading (Ctrl-C): leave nothing running
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if isinstance(result, dict):
            if result.get("status") == "error":  # a MemoryError where the machine gives less than TRAINER_MEMORY is the machine's
                why = machine_failure(TRAINER_MEMORY, f"{result.get('type', '')}: {result.get('message', '')}")
                if why:
                    return {"status": "machine", "why": why, "failed": f"{result.get('type', '')}: {clean_text(str(result.get('message', '')), 300)}"}
            return result
        if fired.is_set():
            return {"status": "timeout", "timeout": timeout}
        if proc.returncode != -9:  # SIGKILL is said as it always was ("killed by the system"); other deaths of a short machine are its own
            why = machine_failure(TRAINER_MEMORY, exit_code=proc.returncode)
            if why:
                return {"status": "machine", "why": why, "failed": f"it ended with {-proc.returncode if proc.returncode < 0 else proc.returncode}"}
        return {"status": "killed", "returncode": proc.returncode}

    def _probe(self, input_shape: tuple[int, ...]) -> np.ndarray:
        return self.data.x_train[:PROBE_IMAGES].astype(np.float32).reshape((-1, *input_shape))

    def _cached(self, identity: dict, run: Callable[[], dict]) -> dict:
        """`run()`'s result for this identity: memoised, and kept on disk when a
        cache folder is configured, so an identical declaration (another
        student's, another run's, another worker's sharing the folder) is
        trained once: a grader that finds the key locked waits for the one
        training it, then reads its entry. A result read from disk carries
        "reused": True. Only finished results are kept (never a run the safety
        timeout stopped); an entry that is unreadable or names another key is
        ignored and trained again."""
        # key_of adds the grader, its code (the trainer's included: a fixed trainer never serves
        # results of the old one), the libraries and the CPU family: provenance.py's one definition.
        key = key_of({"cache_version": CACHE_VERSION, **identity})
        if key in self._memo:
            return self._memo[key]
        result = None
        if self.cache is not None and switches().reuse_trainings:
            try:
                result = self._through_cache(key, run)
            except OSError:  # a cache that fails (a full disk, a lock refused) costs only the sharing: train without it
                result = None
        if result is None:
            result = run()
        self._memo[key] = result
        return result

    def _through_cache(self, key: str, run: Callable[[], dict]) -> dict:
        self.cache.mkdir(mode=0o700, parents=True, exist_ok=True)  # the grading account's alone
        entry = self.cache / f"{key}.json"
        with locked(self.cache / f"{key}.lock"):
            result = _read_entry(entry, key)
            if result is not None:
                result["reused"] = True
                return result
            result = run()
            if result.get("status") in ("ok", "not_finite"):
                try:
                    temp = entry.with_suffix(f".{os.getpid()}.tmp")
                    temp.write_text(json.dumps({"key": key, "result": result}), encoding="utf-8")
                    os.replace(temp, entry)
                except OSError:
                    pass  # not kept: the next grader trains it again
            return result

    def inspect(self, config: dict, training: Training, before_run: Callable[[], None] = lambda: None) -> dict:
        """Shapes, layers, loss, and the freshly built model run on a few training images.
        `before_run` is called only when the trainer actually runs (stop the student's worker)."""
        request = {
            "mode": "inspect",
            "config": config,
            "input_shape": list(training.input_shape),
            "seed": training.seed,
            "allowed": allowed_at_build(),
            # No training within the cap does more work per image than the cap spread over
            # one pass of the training images: past that, the probe is not run (max_forward_flops).
            "max_forward_flops": budget.cap(training, len(self.data.x_train)) / len(self.data.x_train),
        }
        identity = {**request, "config": _canonical(config), "training": training.__dict__, "data": self.data.provenance.sha256}
        probe = {"probe": self._probe(training.input_shape)}

        def run() -> dict:
            before_run()
            return self._run(dict(request), start_up_timeout_s() * switches().safety_factor, probe)

        return self._cached(identity, run)

    def train(
        self,
        config: dict,
        settings: Settings,
        training: Training,
        progress: Callable[[dict], None] | None = None,
        before_run: Callable[[], None] = lambda: None,
    ) -> dict:
        """Build from the seed, train, evaluate on the test set (see _trainer.py). The
        declaration's work was checked against the cap before (mnist_course/budget.py);
        the only clock is the safety timeout, whose firing is the grader's failure."""
        request = {
            "mode": "train",
            "config": config,
            "settings": settings.as_json(),
            "steps_per_execution": STEPS_PER_EXECUTION,
            "input_shape": list(training.input_shape),
            "seed": training.seed,
            "allowed": allowed_at_build(),
            # The throughput guard: the first epoch's CPU time against its declared work (mnist_course/budget.py).
            "guard": None if not switches().work_guard else {
                "allowance_s": epoch_cpu_allowance_s(0.0),
                "seconds_per_flop": (epoch_cpu_allowance_s(1e12) - epoch_cpu_allowance_s(0.0)) / 1e12,
                "step_flops": STEP_FLOPS,
                "backward_factor": BACKWARD_FACTOR,
            },
        }
        identity = {**request, "config": _canonical(config), "training": training.__dict__, "data": self.data.provenance.sha256}
        arrays = {"x_train": self.data.x_train, "y_train": self.data.y_train, "x_test": self.data.x_test, "y_test": self.data.y_test}

        def run() -> dict:
            before_run()
            started = time.perf_counter()
            result = self._run(dict(request), safety_timeout_s(training, len(self.data.x_train)) * switches().safety_factor, arrays, progress)
            result["wall_seconds"] = round(time.perf_counter() - started, 1)
            return result

        return self._cached(identity, run)


_TRAINERS: dict[tuple[int, str | None], Trainer] = {}


def trainer_for(data: MNIST, cache: str | None = None) -> Trainer:
    """One trainer per data set (and cache folder) per process."""
    key = (id(data), None if cache is None else str(cache))
    if key not in _TRAINERS:
        _TRAINERS[key] = Trainer(data, cache)
    return _TRAINERS[key]
