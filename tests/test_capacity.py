"""Capacity per submission (issue 25), each protection proven both ways: the
attack harms an honest classmate (or goes unbounded) with the protection
switched off (MNIST_COURSE_CAPACITY=off) and only its author with it on.

Every attack here runs inside an outer bound that is in force before it
starts, so that even with the protection off it cannot touch the machine: the
disk filler writes into a 64 MiB tmpfs (the batch's TMPDIR) and stops after
256 MiB, the fork bomb runs in a pids cgroup of 160 and stops after 400 forks.
"""

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from grader.isolation import bubblewrap, capacity
from grader.isolation.sandbox import Worker
from mnist_course.course import ROOT, load_course

COURSE = load_course()
EX01 = COURSE.exercise("ex01")

_SANDBOX = pytest.mark.skipif(not bubblewrap.find().active, reason=f"no sandbox on this machine: {bubblewrap.find().reason}")
_ROOT = pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="the outer bounds (a tmpfs, a pids cgroup) need root")


def attack(test):
    """A test that runs student code that attacks capacity: inside the sandbox, inside outer bounds."""
    return _SANDBOX(_ROOT(test))

# Appended to a stub: at import, fill the worker's folder (its current
# directory) until the disk says no, keep the files, and stay a while, so the
# classmate graded beside it meets a full disk if it shares one.
DISK_FILLER = '''

import os as _os, time as _time
_n = 0
try:
    while _n < 256:
        with open(f"fill{_n}.bin", "wb") as _fh:
            _fh.write(b"\\0" * (1 << 20))
        _n += 1
except OSError:
    pass
_time.sleep(50)
'''

# Appended to a stub: at import, fork sleeping children for 50 s, taking
# every slot of the process table that frees up (at most 400 children; a
# failed fork waits 50 ms).
FORK_BOMB = '''

import os as _os, time as _time
_end, _n = _time.monotonic() + 50, 0
while _time.monotonic() < _end and _n < 400:
    try:
        if _os.fork() == 0:
            _time.sleep(90)
            _os._exit(0)
        _n += 1
    except OSError:
        _time.sleep(0.05)
'''


def _tmpfs(folder: Path, mib: int) -> None:
    folder.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m,mode=1777", "tmpfs", str(folder)], check=True)


def _pids_cgroup(limit: int) -> Path | None:
    where = capacity.places().v1.get("pids") or (capacity.places().v2 if "pids" in capacity.places().v2_controllers else None)
    if where is None:
        return None
    folder = where / f"mnist-test-{os.getpid()}-{limit}"
    folder.mkdir()
    (folder / "pids.max").write_text(str(limit))
    return folder


def _remove_cgroup(folder: Path, attempts: int = 100, must_go: bool = True) -> None:
    """Kill what is left in the test's cgroup `folder`, then remove it and its leaves;
    after `attempts` tries a folder still busy raises (`must_go`) or is left."""
    for _ in range(attempts):
        for pid in (folder / "cgroup.procs").read_text().split():
            try:
                os.kill(int(pid), 9)
            except ProcessLookupError:
                pass
        try:
            for leaf in sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True):
                leaf.rmdir()
            folder.rmdir()
            return
        except OSError:
            time.sleep(0.1)  # its last processes are still exiting
    if must_go:
        folder.rmdir()


def _batch(tmp_path, name, attack, mnist_path, protected, tmpdir=None, cgroup=None, env_extra=None):
    subs, out = tmp_path / f"subs-{name}", tmp_path / f"out-{name}"
    (subs / "attacker").mkdir(parents=True)
    (subs / "attacker" / EX01.filename).write_text(EX01.stub_path.read_text() + attack)
    for honest in ("honest", "honest2"):  # the second starts once the first is done, the attack in full swing
        (subs / honest).mkdir()
        (subs / honest / EX01.filename).write_text(EX01.solution_path.read_text() + f"\n# {honest}\n")
    env = {**os.environ, "MNIST_COURSE_STATE": str(tmp_path / f"{name}-state.json"), **(env_extra or {})}
    env.pop(capacity.ROOT_ENV, None)
    if not protected:
        env[capacity.SWITCH] = "off"
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)

    def enter():
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    done = subprocess.run(
        [sys.executable, "-m", "grader", "ex01", "--batch", str(subs), "--out", str(out), "--jobs", "2", "--data", mnist_path],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, preexec_fn=enter,
    )
    rows = {}
    if (out / "gradebook.csv").exists():
        with (out / "gradebook.csv").open() as book:
            rows = {row["student"]: row for row in csv.DictReader(book)}
    return done, rows, out


def _honest_intact(rows) -> bool:
    """Both honest classmates keep the score they get alone (the reference's: full points)."""
    for name in ("honest", "honest2"):
        row = rows.get(name) or {}
        if not (row.get("status") == "graded" and row.get("ex01") not in (None, "") and float(row["ex01"]) == EX01.max_score):
            return False
    return True


@attack
def test_the_bound_of_these_tests_holds_on_a_harmless_case(tmp_path):
    """The outer bounds are in force before any attack runs: a 1 MiB tmpfs takes no 2 MiB, a pids cgroup of 16 no 40 forks."""
    _tmpfs(tmp_path / "small", 1)
    try:
        with pytest.raises(OSError):
            (tmp_path / "small" / "f").write_bytes(b"\0" * (2 << 20))
    finally:
        subprocess.run(["umount", "-l", str(tmp_path / "small")], check=False)
    cgroup = _pids_cgroup(16)
    if cgroup is None:
        pytest.skip("no pids cgroup here")
    try:
        script = "import os, time\nn = 0\nfor _ in range(40):\n    try:\n        if os.fork() == 0:\n            time.sleep(5); os._exit(0)\n        n += 1\n    except OSError:\n        break\nprint(n)\n"
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                              preexec_fn=lambda: (cgroup / "cgroup.procs").write_text(str(os.getpid())))
        assert int(done.stdout) < 16
    finally:
        _remove_cgroup(cgroup)


@attack
def test_a_disk_filler_beside_a_classmate_harms_only_itself(tmp_path, mnist_path):
    results = {}
    for protected in (False, True):
        tmpdir = tmp_path / f"tmp-{protected}"
        _tmpfs(tmpdir, 64)  # the batch's TMPDIR: what the grader and (unprotected) the workers write into
        try:
            done, rows, _ = _batch(tmp_path, f"disk-{protected}", DISK_FILLER, mnist_path, protected, tmpdir=tmpdir,
                                   env_extra={bubblewrap.AREA_ENV: "16"})
            left = sorted(p.name for p in tmpdir.iterdir() if p.name.startswith("mnist-grader-"))
        finally:
            subprocess.run(["umount", "-l", str(tmpdir)], check=False)
        results[protected] = (_honest_intact(rows), rows.get("attacker", {}).get("ex01"), left, done.stderr[-1500:])
    assert results[False][0] is False, results[False]  # unprotected, the classmate loses their grade
    intact, attacker, left, stderr = results[True]
    assert intact, stderr
    assert attacker is not None and float(attacker) == 0.0
    assert left == []  # no worker folder left behind


@attack
def test_a_fork_bomb_beside_a_classmate_harms_only_itself(tmp_path, mnist_path):
    results = {}
    for protected in (False, True):
        cgroup = _pids_cgroup(160)
        if cgroup is None:
            pytest.skip("no pids cgroup here for the outer bound")
        try:
            done, rows, _ = _batch(tmp_path, f"fork-{protected}", FORK_BOMB, mnist_path, protected, cgroup=cgroup,
                                   env_extra={capacity.PIDS_ENV: "48"})
            leaves = [p.name for p in cgroup.iterdir() if p.is_dir()]
        finally:
            _remove_cgroup(cgroup)
        results[protected] = (_honest_intact(rows), rows.get("attacker", {}).get("ex01"), leaves, done.stderr[-1500:])
    assert results[False][0] is False, results[False]
    intact, attacker, leaves, stderr = results[True]
    assert intact, stderr
    assert attacker is not None and float(attacker) == 0.0
    assert leaves == []  # every worker's cgroup removed


FILL_OWN = '''import numpy as np
def normalize(images):
    n = 0
    while n < 64:
        with open(f"fill{n}.bin", "wb") as fh:
            fh.write(b"\\0" * (1 << 20))
        n += 1
    return np.array(n)
'''

FORK_OWN = '''import os, time, numpy as np
def normalize(images):
    for _ in range(400):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
    return np.array(1)
'''


def _own_outcome(tmp_path, source, monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    capacity.places.cache_clear()
    folder = tmp_path / "student"
    folder.mkdir(exist_ok=True)
    (folder / EX01.filename).write_text(source)
    worker = Worker(folder / EX01.filename)
    try:
        return worker.call("normalize", (np.zeros((1, 28, 28), np.uint8),), timeout=30)
    finally:
        worker.dispose()
        capacity.places.cache_clear()


@attack
def test_a_student_who_fills_their_own_area_is_told_so(tmp_path, monkeypatch):
    outcome = _own_outcome(tmp_path, FILL_OWN, monkeypatch, **{bubblewrap.AREA_ENV: "16"})
    assert outcome.status == "raised" and "disk" in outcome.limits


@attack
def test_a_student_who_exhausts_their_processes_is_told_so(tmp_path, monkeypatch):
    cgroup = _pids_cgroup(160)  # the outer bound, in force before the bomb runs
    if cgroup is None:
        pytest.skip("no pids cgroup here")
    try:
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))
        outcome = _own_outcome(tmp_path, FORK_OWN, monkeypatch, **{capacity.PIDS_ENV: "32"})
    finally:
        root = capacity._mounts()["pids"]
        (root / "cgroup.procs").write_text(str(os.getpid()))
        _remove_cgroup(cgroup)
    assert outcome.status in ("raised", "crashed") and "processes" in outcome.limits, outcome


def test_a_worker_that_ends_before_any_student_code_ran_is_the_machines_failure(tmp_path, monkeypatch):
    """A worker that ends before its runner starts (its sandbox could not be made: a machine out of
    processes makes bwrap exit 1) has run none of the student's code: not graded, the machine's.
    The same exit status from the student's own top level stays theirs."""
    from grader.isolation import sandbox
    from grader.settings import SANDBOX_ENV

    dead = tmp_path / "runner_that_cannot_start.py"
    dead.write_text("import sys\nsys.exit(1)\n")
    monkeypatch.setenv(SANDBOX_ENV, "off")  # the stand-in runner lies outside what a sandbox would show
    honest = "import numpy as np\n\ndef normalize(images):\n    return images / 255\n"
    with monkeypatch.context() as patched:
        patched.setattr(sandbox, "CHILD", dead)
        outcome = _own_outcome(tmp_path, honest, monkeypatch)
    assert outcome.status == "crashed" and outcome.stage == "import" and outcome.machine.startswith(
        (capacity.NO_WORKER, capacity.OUT_OF_PROCESSES)), outcome
    # the other way: the student's own file exits at import, after the runner started
    outcome = _own_outcome(tmp_path, "import os\nos._exit(1)\n" + honest, monkeypatch)
    assert outcome.status == "crashed" and outcome.stage == "import" and outcome.machine == "", outcome


# -- a grader-side error is never a final grade


def _report(status="error", limits=None):
    check = {"name": "normalize_range", "function": "normalize", "status": status, "score": 0, "max_score": 2, "message": "x", "seconds": 0.1}
    if limits:
        check["limits"] = limits
    if status == "error":
        check["retry"] = True
    return {"score": 0, "max_score": 2, "retry": status == "error" or None, "exercises": [{"id": "ex01", "status": "incomplete", "score": 0, "max_score": 2, "checks": [check]}]}


def test_a_report_holding_an_error_is_never_final(tmp_path):
    from grader.classroom.batch import settle

    report = _report()
    del report["exercises"][0]["checks"][0]["retry"]
    report.pop("retry")  # even a report that forgot to say so
    for _ in range(5):
        settled = settle(report, tmp_path, "sha", "key")
        assert settled["retry"] and settled["exercises"][0]["checks"][0]["status"] == "error"


def test_a_submission_that_exhausts_its_own_limits_run_after_run_ends_as_a_failure(tmp_path):
    from grader.classroom.batch import ATTRIBUTED_RUNS, settle

    for _ in range(ATTRIBUTED_RUNS - 1):
        assert settle(_report(limits=["memory"]), tmp_path, "sha", "key").get("retry")
    final = settle(_report(limits=["memory"]), tmp_path, "sha", "key")
    check = final["exercises"][0]["checks"][0]
    assert "retry" not in final and check["status"] == "failed" and "memory limit" in check["message"]
    assert not (tmp_path / "attempts.json").exists()
    # A new submission, or runs that were not the same, start the count again.
    for digest in ("a", "b", "c"):
        assert settle(_report(limits=["memory"]), tmp_path, digest, "key").get("retry")
    # Switched off (no limits attributed: the grader's own failure), it is regraded forever.
    for _ in range(ATTRIBUTED_RUNS + 2):
        assert settle(_report(), tmp_path, "sha", "key").get("retry")


# -- own time counts all of the submission's CPU

# A hung call that looks starved: it loops forever while short-lived busy
# children, reaped by the kernel itself (SIGCHLD ignored), keep its thread
# waiting for a CPU. Bounded: at most one new child every 50 ms, each busy
# for 0.3 s, inside the worker's process limit.
HUNG = '''import os, signal, time, numpy as np
def normalize(images):
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        try:
            if os.fork() == 0:
                end = time.monotonic() + 0.3
                while time.monotonic() < end:
                    pass
                os._exit(0)
        except OSError:
            pass
        time.sleep(0.05)
'''


@attack
def test_a_hung_call_behind_its_own_busy_children_fails_within_its_limit(tmp_path, monkeypatch):
    from grader.isolation.own_time import safety_wall_s

    monkeypatch.setenv(capacity.PIDS_ENV, "48")
    capacity.places.cache_clear()
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / EX01.filename).write_text(HUNG)
    worker = Worker(folder / EX01.filename)
    try:
        outcome = worker.call("normalize", (np.zeros((1, 28, 28), np.uint8),), timeout=4)
    finally:
        worker.dispose()
    assert outcome.status == "timeout", outcome
    assert outcome.seconds < safety_wall_s(4)


SELF_REAPED = '''import os, signal, time
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
for _ in range(2):
    if os.fork() == 0:
        end = time.process_time() + 0.4
        while time.process_time() < end:
            pass
        os._exit(0)
time.sleep(120)
'''


@attack
def test_the_clock_counts_children_the_kernel_reaped_only_from_the_cgroup(tmp_path):
    """Switched off (no cgroup: the CPU time from /proc), 1.6 s of children's CPU leave no trace."""
    from grader.isolation.own_time import OwnClock

    if not capacity.places().gives("cpu"):
        pytest.skip("no cgroup CPU accounting here")
    seen = {}
    for protected in (False, True):
        leaf = capacity.Leaf(1 << 30)
        try:
            proc = subprocess.Popen([sys.executable, "-c", SELF_REAPED], preexec_fn=leaf.enter)
            clock = OwnClock(proc.pid, [proc.pid], proc.pid, False, leaf.cpu_seconds if protected else None)
            deadline, forked = time.monotonic() + 100, False
            while time.monotonic() < deadline and (len(leaf.members()) > 1 or not forked):
                forked = forked or len(leaf.members()) > 1
                time.sleep(0.05)  # until the children have run and are gone; the parent still sleeps
            time.sleep(0.5)
            seen[protected] = clock.cpu()
        finally:
            leaf.remove()
            proc.wait()
    assert seen[False] < 0.3 and seen[True] > 0.7, seen


# Many processes, each within the per-process address-space cap, together past
# the worker's memory (10 x 80 MiB against 600 MiB): the attack that got a
# student's own grader killed by the machine's out-of-memory killer.
MEMORY_HOG = '''import os, time, numpy as np
def normalize(images):
    kids, ready = [], os.pipe()
    for _ in range(10):
        pid = os.fork()
        if pid == 0:
            block = np.ones(80 << 20, np.uint8)  # touched: resident
            os.write(ready[1], b"x")
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
    os.close(ready[1])
    os.set_blocking(ready[0], False)
    done, dead, end = 0, set(), time.monotonic() + 40
    while done + len(dead) < 10 and time.monotonic() < end:  # each child has its memory, or is gone
        try:
            done += len(os.read(ready[0], 16))
        except BlockingIOError:
            pass
        dead |= {pid for pid in kids if pid not in dead and os.waitpid(pid, os.WNOHANG) != (0, 0)}
        time.sleep(0.1)
    return np.array(10 - len(dead))
'''


@attack
def test_processes_that_together_pass_the_memory_limit_are_stopped_inside_the_workers_group(tmp_path, monkeypatch):
    seen = {}
    for protected in (False, True):
        if not protected:
            monkeypatch.setenv(capacity.SWITCH, "off")
        else:
            monkeypatch.delenv(capacity.SWITCH, raising=False)
        capacity.places.cache_clear()
        if protected and not capacity.places().gives("memory"):
            pytest.skip("no memory cgroup here")
        folder = tmp_path / f"student-{protected}"
        folder.mkdir()
        (folder / EX01.filename).write_text(MEMORY_HOG)
        worker = Worker(folder / EX01.filename, memory=600 << 20)
        try:
            outcome = worker.call("normalize", (np.zeros((1, 28, 28), np.uint8),), timeout=60)
        finally:
            worker.dispose()  # reads the limits its group hit, then removes the group
        seen[protected] = (outcome.status, outcome.value if outcome.status == "returned" else None, sorted(worker.limits_seen | set(outcome.limits)))
    capacity.places.cache_clear()
    assert seen[False] == ("returned", 10, []), seen  # unprotected, all ten live: 800 MiB past a 600 MiB limit
    status, alive, limits = seen[True]
    assert "memory" in limits and (status != "returned" or alive < 10), seen


# One process past the memory its machine has (here: a memory cgroup of 400 MiB
# around the grader), far within the worker's own limit (2 GiB).
ONE_BIG_ARRAY = '''import numpy as np
def normalize(images):
    return np.ones(1 << 30, np.uint8)[:1]
'''

def _memory_cgroup(limit_mb: int) -> Path | None:
    mounts, own = capacity._mounts(), capacity._own_paths()
    if "memory" not in mounts or "memory" not in own:
        return None
    folder = mounts["memory"] / own["memory"].lstrip("/") / f"mnist-test-{os.getpid()}-memory"
    folder.mkdir()
    (folder / "memory.limit_in_bytes").write_text(str(limit_mb << 20))
    return folder


@attack
def test_a_worker_the_machine_runs_out_of_memory_for_is_not_graded(tmp_path):
    """The out-of-memory killer takes the worker, never its grader (oom_score_adj), and the
    grader tells the machine's shortage (not graded: grade again, exit 2) from the worker's
    own limit (its failure: the test above)."""
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / EX01.filename).write_text(ONE_BIG_ARRAY)
    outer = _memory_cgroup(400)
    if outer is None or not capacity.places().gives("memory"):
        pytest.skip("no memory cgroup (v1) for the outer bound here")
    env = {**os.environ}
    env.pop(capacity.ROOT_ENV, None)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "grader", "ex01", "--target", str(folder), "--json", str(tmp_path / "report.json")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
            preexec_fn=lambda: (outer / "cgroup.procs").write_text(str(os.getpid())),
        )
    finally:
        _remove_cgroup(outer)
    assert done.returncode == 2, done.stderr[-2000:]  # the grader survived, and says: grade again
    report = json.loads((tmp_path / "report.json").read_text())
    checks = {c["name"]: c for ex in report["exercises"] for c in ex["checks"]}
    assert report["retry"] and checks["normalize_values"]["retry"] and "limits" not in checks["normalize_values"], checks["normalize_values"]
    assert "killed it for lack of memory while your code was within its own limit" in checks["normalize_values"]["message"]


def _fake_pids_group(tmp_path, monkeypatch, limit: int, current: int):
    """A control group above the grader, as files: its limit and its count."""
    group = tmp_path / "shared-group"
    group.mkdir(exist_ok=True)
    (group / "pids.max").write_text(f"{limit}\n")
    (group / "pids.current").write_text(f"{current}\n")
    monkeypatch.setattr(capacity, "_pids_groups", lambda: [(tmp_path, group)])


def test_a_thread_that_cannot_start_is_the_machine_s_only_where_a_shared_group_ran_out(tmp_path, monkeypatch):
    """An honest worker whose import cannot start a thread, because a classmate's processes fill a
    group they share (a Dask worker's), is not graded (the machine's), never failed; a student who
    raises "Resource temporarily unavailable" with no such group full stays graded as their own,
    and so does one that reached its own worker's limit of processes."""
    from grader.isolation.limits import machine_failure

    said = "BlockingIOError: [Errno 11] Resource temporarily unavailable"
    _fake_pids_group(tmp_path, monkeypatch, limit=160, current=40)
    assert machine_failure(1 << 30, said) == ""  # nothing full: the code's own (a student cannot fake the evidence)
    assert machine_failure(1 << 30, exit_code=-6) == ""
    _fake_pids_group(tmp_path, monkeypatch, limit=160, current=152)
    why = machine_failure(1 << 30, said)
    assert why.startswith(capacity.OUT_OF_PROCESSES) and "152 of its 160" in why
    assert machine_failure(1 << 30, exit_code=-6).startswith(capacity.OUT_OF_PROCESSES)  # a library's abort when its thread cannot start
    assert machine_failure(1 << 30, said, own_processes=True) == ""  # its own limit: its own doing, said apart
    assert machine_failure(1 << 30, "ValueError: bad input") == ""  # another failure stays the code's
