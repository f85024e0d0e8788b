"""A class's by-hand trainings once (grader/training/by_hand.py): an identical
ex02b file's train() runs once per class and every later grading reads what it
returned, with the same verdict; each key rule and the tamper check are proven
on a cheap function (ex01's normalize, no training), the class on ex02b itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader import provenance, shared_cache
from grader.isolation.student import Student
from grader.settings import CACHE_ENV, DRAW_KEY_ENV, REUSE_ENV
from grader.training import by_hand
from grader.training.by_hand import shared_call, training_sources
from mnist_course.course import load_course

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course()
EX01, EX02B = COURSE.exercise("ex01"), COURSE.exercise("ex02b")
GUARD = ROOT / "tests" / "trains_guard"


def _folder(path: Path, ex01_extra: str = "", ex02b_extra: str = "") -> Path:
    path.mkdir(parents=True)
    (path / EX01.filename).write_text(EX01.solution_path.read_text() + ex01_extra)
    (path / EX02B.filename).write_text(EX02B.solution_path.read_text() + ex02b_extra)
    return path


class Counted:
    """A real Student whose worker calls are counted (the worker's own `call`, wrapped)."""

    def __init__(self, folder: Path, exercise=EX01):
        self.student = Student(exercise, folder)
        self.calls = 0
        real = self.student.worker.call

        def call(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        self.student.worker.call = call

    def normalize(self, cache, images):
        try:
            call, shared = shared_call(self.student, cache, "normalize", images, shown="images")
            return call.value, shared.reused
        finally:
            self.student.close()


IMAGES = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)


def test_an_identical_call_runs_once_and_every_key_rule_runs_it_again(tmp_path, monkeypatch):
    monkeypatch.delenv(REUSE_ENV, raising=False)
    cache = tmp_path / "cache"
    alice = _folder(tmp_path / "alice")
    first = Counted(alice)
    value, reused = first.normalize(cache, IMAGES)
    assert first.calls == 1 and not reused

    # bob: the same files in a folder of his own: read, not run; the same value, bit for bit
    bob = Counted(_folder(tmp_path / "bob"))
    again, reused = bob.normalize(cache, IMAGES)
    assert bob.calls == 0 and reused
    assert again.dtype == value.dtype and again.shape == value.shape and again.tobytes() == value.tobytes()
    # another exercise's file is not in the worker (sandbox.Worker.received): not in the key, read
    other_exercise = Counted(_folder(tmp_path / "other-exercise", ex02b_extra="\n# carol\n"))
    assert other_exercise.normalize(cache, IMAGES)[1] is True and other_exercise.calls == 0
    # a helper file of the submission, even one the call never names, is in the worker and the key: run
    helper = _folder(tmp_path / "helper")
    (helper / "helpers.py").write_text("SCALE = 255\n")
    with_helper = Counted(helper)
    assert with_helper.normalize(cache, IMAGES)[1] is False and with_helper.calls == 1

    # each thing that decides the call is in the key: a changed source byte, other data, another grader version
    changed = Counted(_folder(tmp_path / "changed", ex01_extra=" "))
    assert changed.normalize(cache, IMAGES)[1] is False and changed.calls == 1
    other_data = Counted(alice)
    assert other_data.normalize(cache, IMAGES[::-1].copy())[1] is False and other_data.calls == 1
    monkeypatch.setattr(provenance, "GRADER_VERSION", "0.0.1-other")
    other_grader = Counted(alice)
    assert other_grader.normalize(cache, IMAGES)[1] is False and other_grader.calls == 1
    monkeypatch.undo()
    # each entry keeps what its key was made of: two entries of one file name what differed
    assert {"machine.grader_version", "args"} <= set(_inputs_that_differ(cache))

    # proven both ways: with reuse switched off, the identical call runs
    monkeypatch.setenv(REUSE_ENV, "off")
    off = Counted(alice)
    assert off.normalize(cache, IMAGES)[1] is False and off.calls == 1


def test_a_tampered_entry_is_not_trusted(tmp_path, monkeypatch):
    """An entry whose bytes are not what the grader wrote is removed and the call runs
    again; the folder is the grading account's (0700), never in a worker's view."""
    monkeypatch.delenv(REUSE_ENV, raising=False)
    cache = tmp_path / "cache"
    alice = _folder(tmp_path / "alice")
    value, _ = Counted(alice).normalize(cache, IMAGES)
    assert cache.stat().st_mode & 0o077 == 0
    (entry,) = cache.glob("*.files")
    array = entry / "0.npy"
    forged = np.load(array) * 0 + 1  # a forged "result", saved in the proper format
    np.save(array, forged.astype(value.dtype), allow_pickle=False)
    tampered = Counted(alice)
    again, reused = tampered.normalize(cache, IMAGES)
    assert tampered.calls == 1 and not reused and again.tobytes() == value.tobytes()
    # the entry written again is trusted again
    trusted = Counted(alice)
    assert trusted.normalize(cache, IMAGES)[1] is True and trusted.calls == 0
    # the check that catches it, switched off: the forged bytes would be served
    meta = json.loads((entry / "meta.json").read_text())
    np.save(array, forged.astype(value.dtype), allow_pickle=False)
    monkeypatch.setattr("grader.training.by_hand.digests", lambda arrays: meta["arrays"])
    fooled = Counted(alice)
    served, reused = fooled.normalize(cache, IMAGES)
    assert reused and fooled.calls == 0 and served.tobytes() != value.tobytes()



def test_the_grader_s_own_arrays_are_computed_once_and_a_tampered_entry_is_computed_again(tmp_path, monkeypatch):
    """by_hand.shared_arrays (ex02b's replay of a training): computed once per identity, read after;
    another identity computes; forged bytes are not served (and would be, with the digest check off)."""
    cache, runs = tmp_path / "cache", []

    def compute():
        runs.append(1)
        return [np.arange(6.0).reshape(2, 3), np.ones(4)]

    first, reused = by_hand.shared_arrays(cache, {"replay": "alice"}, compute)
    again, reused_again = by_hand.shared_arrays(cache, {"replay": "alice"}, compute)
    assert (len(runs), reused, reused_again) == (1, False, True)
    assert all(a.tobytes() == b.tobytes() and a.dtype == b.dtype for a, b in zip(first, again))
    assert by_hand.shared_arrays(cache, {"replay": "bob"}, compute)[1] is False and len(runs) == 2
    assert by_hand.shared_arrays(None, {"replay": "alice"}, compute)[1] is False and len(runs) == 3
    (entry,) = [e for e in cache.glob("*.files") if json.loads((e / "meta.json").read_text())["key"] == shared_cache.key_of({"replay": "alice"})]
    forged = np.zeros((2, 3))
    np.save(entry / "0.npy", forged, allow_pickle=False)
    remade, reused = by_hand.shared_arrays(cache, {"replay": "alice"}, compute)
    assert not reused and len(runs) == 4 and remade[0].tobytes() == first[0].tobytes()
    # the check that catches it, switched off: the forged array would be served
    meta = json.loads((entry / "meta.json").read_text())
    np.save(entry / "0.npy", forged, allow_pickle=False)
    monkeypatch.setattr(by_hand, "digests", lambda arrays: meta["arrays"])
    served, reused = by_hand.shared_arrays(cache, {"replay": "alice"}, compute)
    assert reused and len(runs) == 4 and served[0].tobytes() == forged.tobytes()


def test_the_key_holds_every_file_the_worker_receives(tmp_path):
    """Every file the worker receives, the exercise's own and every helper beside it: code can reach
    one without naming it in a way a reading could see (an adversarial review imported a file through a
    string typing evaluated), so a training is never credited to code that did not run it. The
    course's other exercise files are not among them: the worker never receives them (test_sandbox.py)."""
    folder = _folder(tmp_path / "s")
    student = Student(EX02B, folder)
    try:
        assert set(training_sources(student)) == {EX02B.filename}
        (folder / "helper.py").write_text("SCALE = 1.0\n")
        before = training_sources(student)
        assert set(before) == {EX02B.filename, "helper.py"}
        (folder / EX01.filename).write_text("x = 1\n")  # another exercise's file: nothing changes
        assert training_sources(student) == before
        (folder / "helper.py").write_text("SCALE = 2.0\n")  # the classmate's helper: another key
        assert training_sources(student) != before
    finally:
        student.close()


def _grade(subs: Path, out: Path, cache: Path, mnist_path: str, reuse: bool) -> int:
    """Grade the class's ex01 and ex02b; the number of times a student's ex02b
    train() ran in a worker and returned (tests/trains_guard logs each)."""
    log = out.with_suffix(".log")
    log.write_text("")
    # One class key for every run (as $MNIST_COURSE_DRAW_KEY gives one): each new --out would otherwise draw ex02b's
    # MNIST pixel rotation afresh (grader/draws.py), and a training on other data is another training.
    env = {**os.environ, CACHE_ENV: str(cache), "MNIST_COURSE_TRAINING_LOG": str(log), DRAW_KEY_ENV: "one class, graded three times",
           "PYTHONPATH": os.pathsep.join([str(GUARD), os.environ.get("PYTHONPATH", "")]), REUSE_ENV: "on" if reuse else "off"}
    done = subprocess.run(
        [sys.executable, "-m", "grader", "ex01", "ex02b", "--batch", str(subs), "--out", str(out), "--jobs", "2", "--data", mnist_path],
        cwd=ROOT, capture_output=True, text=True, timeout=3600, env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return sum("ex02b train()" in line for line in log.read_text().splitlines())


def _rows(out: Path, student: str):
    report = json.loads((out / "students" / student / "report.json").read_text())
    ex02b = next(ex for ex in report["exercises"] if ex["id"] == "ex02b")
    rows = [(c["name"], c["status"], c["score"], c["message"]) for c in ex02b["checks"]]
    measured = next(c["measured"] for c in ex02b["checks"] if c["name"] == "train_test_accuracy")
    return rows, measured


def _flat(value, prefix=""):
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def _inputs_that_differ(cache: Path) -> dict[str, list]:
    """Where the cache holds two entries for one function that differ only in some inputs: those inputs
    and their values (each entry keeps what its key was made of), to say why an entry was missed."""
    entries = [json.loads((e / "meta.json").read_text())["identity"] for e in cache.glob("*.files")]
    differ = {}
    for i, one in enumerate(entries):
        for other in entries[i + 1 :]:
            if one.get("function") == other.get("function") and one.get("sources") == other.get("sources"):
                flat_one, flat_other = _flat(one), _flat(other)
                for name in sorted(set(flat_one) | set(flat_other)):
                    if flat_one.get(name) != flat_other.get(name):
                        differ.setdefault(name, []).append((flat_one.get(name), flat_other.get(name)))
    return differ


@pytest.mark.trains
def test_a_class_shares_an_identical_ex02b_file_s_training_and_a_regrade_reads_it(tmp_path, mnist_path):
    """alice and bob share an ex02b file, not their ex01: one trains, the other reads it (the key holds
    the files ex02b's worker receives, and another exercise's file is not one); carol's ex02b has a helper
    beside it that alice's has not: her own training. The class graded again into another --out reads every
    training; with reuse switched off, alice and bob each train theirs. The rows and the accuracy are the same bit for bit."""
    subs = tmp_path / "class"
    subs.mkdir()
    _folder(subs / "alice")
    _folder(subs / "bob", ex01_extra="\n# bob's own ex01\n")  # another whole submission, the same ex02b file
    _folder(subs / "carol")
    (subs / "carol" / "helpers.py").write_text("UNUSED = 1\n")  # a helper in her worker: another key
    first = _grade(subs, tmp_path / "on", tmp_path / "cache-on", mnist_path, reuse=True)
    again = _grade(subs, tmp_path / "again", tmp_path / "cache-on", mnist_path, reuse=True)
    # Switched off, the two who share a file each train; carol, who shares with no one, would train either way.
    sharing = tmp_path / "sharing"
    for name in ("alice", "bob"):
        shutil.copytree(subs / name, sharing / name)
    off = _grade(sharing, tmp_path / "off", tmp_path / "cache-off", mnist_path, reuse=False)
    # train() is called twice per grading (the unseen task, whose training the grader replays itself, then MNIST)
    assert (first, again, off) == (4, 0, 4), _inputs_that_differ(tmp_path / "cache-on")
    students = ("alice", "bob", "carol")
    graded = {(run, s): _rows(tmp_path / run, s) for run in ("on", "again", "off") for s in students if (run, s) != ("off", "carol")}
    assert sorted(graded["on", s][1]["training_reused"] for s in ("alice", "bob")) == [False, True]  # one trained, one read
    assert [graded["again", s][1]["training_reused"] for s in students] == [True, True, True]
    assert not graded["on", "carol"][1]["training_reused"] and not any(graded["off", s][1]["training_reused"] for s in ("alice", "bob"))
    # the grader's replay of the MNIST training is the same computation for all three (the same file draws the same
    # rotation, and init_params is the same code): replayed once, read by every later grading; off, replayed by each
    assert sorted(graded["on", s][1]["replay_reused"] for s in students) == [False, True, True]
    assert all(graded["again", s][1]["replay_reused"] for s in students)
    assert not any(graded["off", s][1]["replay_reused"] for s in ("alice", "bob"))
    rows = graded["on", "alice"][0]
    assert all(r[1] == "passed" for r in rows), rows
    assert all(graded[key][0] == rows for key in graded)
    accuracy = {key: m["test_accuracy"] for key, (_, m) in graded.items()}
    assert len(set(accuracy.values())) == 1, accuracy  # bit for bit, with and without the cache


def test_a_call_that_gave_no_plain_value_is_never_kept(tmp_path, monkeypatch):
    """A raise (or a crash, a timeout: the machine's or the code's) runs again next time."""
    monkeypatch.delenv(REUSE_ENV, raising=False)
    cache = tmp_path / "cache"
    folder = _folder(tmp_path / "raises", ex01_extra="\ndef normalize(images):\n    raise ValueError('no')\n")
    for _ in range(2):
        counted = Counted(folder)
        call, shared = shared_call(counted.student, cache, "normalize", IMAGES, shown="images")
        assert call.outcome.status == "raised" and not shared.reused and counted.calls == 1
        counted.student.close()
    assert list(cache.glob("*.files")) == []


def test_a_call_that_used_a_forbidden_package_is_never_kept(tmp_path, monkeypatch):
    """A by-hand function that reached a package its exercise forbids earns none of its points; that
    is a fact of its run, which an entry does not hold, so such a call is never kept: a classmate with
    the same file, or a regrade, runs it again and is told the same (an adversarial review found the
    second student, and a regrade, served the value without the penalty). Proven both ways: kept, the
    second call reads the entry and nothing records the package."""
    monkeypatch.delenv(REUSE_ENV, raising=False)
    uses_scipy = ("\ndef normalize(images):\n    try:\n        from scipy.special import expit\n        expit(0.0)\n"
                  "    except Exception:\n        pass\n    return images.astype(np.float32) / 255\n")
    folder = _folder(tmp_path / "scipy", ex01_extra=uses_scipy)

    def graded(cache):
        counted = Counted(folder)
        reused = counted.normalize(cache, IMAGES)[1]
        return counted.calls, reused, dict(counted.student.library_used)

    cache = tmp_path / "cache"
    first, second = graded(cache), graded(cache)
    assert first[:2] == second[:2] == (1, False) and first[2] == second[2] and "normalize" in first[2], (first, second)
    assert list(cache.glob("*.files")) == []

    from grader.training import by_hand

    original = by_hand._write

    def write_even_if_it_reached(folder, key, identity, call):  # the rule switched off: kept as if it had reached nothing
        call.outcome.reached = ()
        return original(folder, key, identity, call)

    monkeypatch.setattr(by_hand, "_write", write_even_if_it_reached)
    cache = tmp_path / "cache-kept"
    graded(cache)
    calls, reused, used = graded(cache)
    assert (calls, reused) == (0, True) and "normalize" not in used
