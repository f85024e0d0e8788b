"""Capacity per submission on a real Dask cluster (issue 25), proven both ways.

A scheduler and workers started as the `dask` command line starts them (one
scheduler for this module; a worker per case). The worker grades two students
at once (`--nthreads 2`), so an attacker shares its machine with an honest
classmate, and a second classmate starts once the first is done, the attack
in full swing. The attacks: a disk filler, a fork bomb, and many processes
that together pass the memory the worker's machine has (less than its
gradings' own limits together). With the protection on, the classmates keep
exactly the score they get alone (the reference's full points), the attacker
fails its own checks with a message that says why, and no worker folder or
cgroup is left behind; switched off (MNIST_COURSE_CAPACITY=off, on the
workers and on the instructor's side alike, with --allow-unsandboxed, since a
worker whose isolation is REDUCED is refused otherwise: tested here too), the
same attack costs a classmate their grade, which is then not final.

Every attack runs inside outer bounds the test puts the Dask worker in before
it starts: its TMPDIR a 64 MiB tmpfs (the attacker stops after 256 MiB), a
pids cgroup of 160 (the attacker stops after 400 forks), a memory cgroup of
700 MiB, and cgroups of the test's own in every hierarchy, where the
workers' leaves are made and checked for leftovers.

Last, the cluster route settles reports as the local batch does: a submission
not graded three runs in a row after hitting its own limits ends as a failure.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.isolation import bubblewrap, capacity
from mnist_course.course import ROOT, load_course

distributed = pytest.importorskip("distributed", reason="the cluster extra is not installed: pip install -e '.[cluster]'")

from corpus import told  # noqa: E402
from test_capacity import _remove_cgroup  # noqa: E402
from test_cluster import Cluster  # noqa: E402 - after the skip: it needs distributed

EX01 = load_course().exercise("ex01")

pytestmark = [
    pytest.mark.skipif(not bubblewrap.find().active, reason=f"no sandbox on this machine: {bubblewrap.find().reason}"),
    pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="the outer bounds (a tmpfs, cgroups) need root"),
]

WORKER_PIDS = "48"  # each worker's own process limit here (MNIST_COURSE_WORKER_PIDS)
AREA_MB = "16"  # each worker's own writable area here (MNIST_COURSE_WORKER_AREA_MB)

# Appended to the reference: at import, fill the current folder (the worker's
# own) until the disk says no (at most 256 MiB), hold it 40 s while classmates
# are graded, then fail with the disk's own error, so every check of the
# attacker fails for it.
DISK_FILLER = '''

import os as _os, time as _time
_error, _n = None, 0
try:
    while _n < 256:
        with open(f"fill{_n}.bin", "wb") as _fh:
            _fh.write(b"\\0" * (1 << 20))
        _n += 1
except OSError as _exc:
    _error = _exc
_time.sleep(40)
if _error is not None:
    raise _error
'''

# Appended to the reference: at import, fork children that sleep until fork
# fails (at most 400), keep every slot that frees up for 40 s, then fail with
# fork's own error.
FORK_BOMB = '''

import os as _os, time as _time
_error, _n, _end = None, 0, _time.monotonic() + 40
while _time.monotonic() < _end:
    try:
        if _n < 400 and _os.fork() == 0:
            _time.sleep(90)
            _os._exit(0)
        _n += 1
    except OSError as _exc:
        _error = _exc
    _time.sleep(0.05 if _error is not None or _n >= 400 else 0)
if _error is not None:
    raise _error
'''


class Bounds:
    """Cgroups of the test's own, one per hierarchy (pids, memory, cgroup v2),
    that a Dask worker enters before it starts: the outer bound, and the place
    where its graders make their workers' leaves."""

    def __init__(self, name: str, pids: int | None = None, memory_mb: int | None = None):
        mounts, own = capacity._mounts(), capacity._own_paths()
        self.folders: list[Path] = []
        for kind in ("pids", "memory", "cpuacct", "v2"):
            if kind in mounts and kind in own and (kind != "cpuacct" or "v2" not in mounts):
                folder = mounts[kind] / own[kind].lstrip("/") / f"mnist-test-{os.getpid()}-{name}"
                folder.mkdir()
                self.folders.append(folder)
                if kind == "pids" and pids is not None:
                    (folder / "pids.max").write_text(str(pids))
                if kind == "memory" and memory_mb is not None:
                    (folder / "memory.limit_in_bytes").write_text(str(memory_mb << 20))

    def enter(self) -> None:
        """In the Dask worker, between fork and exec."""
        for folder in self.folders:
            with open(folder / "cgroup.procs", "w") as fh:
                fh.write(str(os.getpid()))

    def leaves(self) -> list[str]:
        """Every cgroup made below the bounds (the workers' leaves), left now."""
        return sorted(f"{p.parent.name}/{p.name}" for folder in self.folders if folder.is_dir() for p in folder.iterdir() if p.is_dir())

    def remove(self) -> None:
        for folder in self.folders:
            _remove_cgroup(folder, attempts=300, must_go=False)


def _tmpfs(folder: Path, mib: int) -> None:
    folder.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m,mode=1777", "tmpfs", str(folder)], check=True)


def _env(protected: bool, **extra: str) -> dict[str, str]:
    env = {**os.environ, capacity.PIDS_ENV: WORKER_PIDS, bubblewrap.AREA_ENV: AREA_MB, **extra}
    env.pop(capacity.ROOT_ENV, None)  # each process finds its own cgroup: the test's bounds
    if protected:
        env.pop(capacity.SWITCH, None)
    else:
        env[capacity.SWITCH] = "off"
    return env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    assert cluster.stop() == []


def _stop_worker(cluster: Cluster, worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    with distributed.Client(cluster.address, timeout="20s") as client:  # gone from the scheduler before the next case
        deadline = time.monotonic() + 30
        while client.scheduler_info()["workers"] and time.monotonic() < deadline:
            time.sleep(0.2)


# Appended to an honest classmate in the disk test: at import, wait (at most 10 s,
# sleeping) until the folder it runs in is nearly full. Alone in its own area it
# never is, and it is graded as usual; sharing the attacker's disk, it is graded
# only once the attacker has filled it, whatever the order the worker ran them in
# (without the wait, on a quiet worker an honest grading could finish first).
HONEST_AFTER_THE_FILLER = '''

import shutil as _shutil, time as _time
_end = _time.monotonic() + 10
while _shutil.disk_usage(".").free > (2 << 20) and _time.monotonic() < _end:
    _time.sleep(0.2)
'''


def _class(folder: Path, attack: str, honest: str = "") -> Path:
    """The attacker (the reference with the attack appended) and two honest classmates
    (the reference, with `honest` appended)."""
    for student, text in (("attacker", EX01.solution_path.read_text() + attack), ("honest", None), ("honest2", None)):
        (folder / student).mkdir(parents=True)
        (folder / student / EX01.filename).write_text(text or EX01.solution_path.read_text() + honest + f"\n# {student}\n")
    return folder


def _on_cluster(cluster, tmp_path, name, attack, mnist_path, protected, tmpdir, bounds, honest=""):
    """Grade the class on one worker that runs in `bounds` with TMPDIR `tmpdir`:
    (gradebook rows, the attacker's report, (worker folders left, how many were seen), (cgroups left, how many were seen), output)."""
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("dask")), "worker", cluster.address, "--name", name, "--nthreads", "2",
         "--no-nanny", "--no-dashboard", "--memory-limit", "0", "--host", "127.0.0.1"],
        cwd=ROOT, env=_env(protected, TMPDIR=str(tmpdir)), stdout=cluster.log, stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=bounds.enter,
    )
    try:
        cluster.wait_for_workers(1)
        subs, out = _class(tmp_path / f"subs-{name}", attack, honest), tmp_path / f"out-{name}"
        batch = subprocess.Popen(
            [sys.executable, "-m", "grader", "ex01", "--batch", str(subs), "--out", str(out), "--data", mnist_path, "--scheduler", cluster.address,
             *([] if protected else ["--allow-unsandboxed"])],  # a worker without the protection is refused otherwise
            cwd=ROOT, env=_env(protected, MNIST_COURSE_STATE=str(tmp_path / f"{name}-state.json")), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        made, folders = set(), set()  # seen while it grades: the checks for leftovers below look where they are made
        while batch.poll() is None:
            if worker.poll() is not None:  # the Dask worker itself was killed (unprotected, out of memory)
                batch.terminate()
                break
            made.update(bounds.leaves())
            folders.update(p.name for p in tmpdir.iterdir() if p.name.startswith("mnist-grader-"))
            time.sleep(0.5)
        stdout, stderr = batch.communicate(timeout=900)
        if worker.poll() is not None:
            stderr += f"\nthe Dask worker died ({worker.returncode})"
        # Each grading is over: what it made must be gone, while the worker still runs.
        left = sorted(p.name for p in tmpdir.iterdir() if p.name.startswith("mnist-"))
        leaves = bounds.leaves()
    finally:
        _stop_worker(cluster, worker)
    rows = {}
    if (out / "gradebook.csv").exists():
        with (out / "gradebook.csv").open(newline="") as book:
            rows = {row["student"]: row for row in csv.DictReader(book)}
    report_file = out / "students" / "attacker" / "report.json"
    attacker = json.loads(report_file.read_text()) if report_file.exists() else None
    return rows, attacker, (left, len(folders)), (leaves, len(made)), stdout[-1000:] + stderr[-2000:] + _classmates_told(out)


def _classmates_told(out) -> str:
    """What each classmate's report says of a check that did not pass: a failure's form, in
    the log an assertion shows (a harm said as the code's own is one to attribute)."""
    said = []
    for student in ("honest", "honest2"):
        path = out / "students" / student / "report.json"
        report = json.loads(path.read_text()) if path.exists() else {}
        for ex in report.get("exercises", []):
            shown = [f"{c['name']} {c['status']}: {told(ex, c)[:400]}" for c in ex["checks"] if c["status"] != "passed"][:2]
            said += [f"\n{student}: {line}" for line in shown]
    return "".join(said)


def _intact(rows, name) -> bool:
    """The classmate keeps the score they get alone: the reference's full points, graded."""
    row = rows.get(name) or {}
    return row.get("status") == "graded" and row.get("ex01") not in (None, "") and float(row["ex01"]) == EX01.max_score


def _harmed_and_not_final(rows, attacker, left, leaves, log) -> bool:
    """Some classmate lost the score they get alone, and was not given a final grade for it."""
    harmed = [s for s in ("honest", "honest2") if not _intact(rows, s)]
    assert harmed, log
    assert all(rows.get(s, {}).get("status") != "graded" for s in harmed), (rows, log)
    return True


def _attacker_not_graded_for_the_machine(attacker) -> bool:
    """The attacker earned nothing and its report is a retry, its first message naming the machine's lack of memory."""
    if attacker is None or not attacker.get("retry"):
        return False
    checks = [c for ex in attacker["exercises"] for c in ex["checks"]]
    return all(c["score"] == 0 for c in checks) and any("killed it for lack of memory while your code was within its own limit" in c["message"] for c in checks)


def _attacker_told(attacker, says: str) -> bool:
    """Every check of the attacker failed, graded; each that called its code names its own
    limit, or points to the exercise's one cause that names it (an attack at import: its
    file could not be imported); the others count only once those pass, and say so."""
    if attacker is None or attacker.get("retry"):
        return False
    checks = [c for ex in attacker["exercises"] for c in ex["checks"]]
    said = [told(ex, c) for ex in attacker["exercises"] for c in ex["checks"]]
    called = [message for message in said if "counts once" not in message]
    return bool(called) and all(c["status"] == "failed" and c["score"] == 0 for c in checks) and all(says in message for message in called)


def _run_both_ways(cluster, tmp_path, kind, attack, mnist_path, pids_bound=None, disk_bound=False, memory_bound=None, honest=""):
    results = {}
    for protected in (False, True):
        name = f"{kind}-{'on' if protected else 'off'}"
        tmpdir = tmp_path / f"tmp-{name}"
        if disk_bound:
            _tmpfs(tmpdir, 64)  # the worker's TMPDIR: the graders' files and (unprotected) the workers' folders
        else:
            tmpdir.mkdir()
        bounds = Bounds(name, pids=pids_bound, memory_mb=memory_bound)
        try:
            results[protected] = _on_cluster(cluster, tmp_path, name, attack, mnist_path, protected, tmpdir, bounds, honest)
        finally:
            bounds.remove()
            if disk_bound:
                subprocess.run(["umount", "-l", str(tmpdir)], check=False)
    for protected, (rows, attacker, left, leaves, _) in results.items():  # the table of the closing note (pytest -s)
        print(f"\n{kind} attack, protection {'on' if protected else 'off'}: "
              + "; ".join(f"{s} {rows.get(s, {}).get('ex01')!r} {rows.get(s, {}).get('status')!r}" for s in ("attacker", "honest", "honest2"))
              + f"; left {left}; leaves {leaves}")
    return results


def test_a_disk_filler_on_the_cluster_harms_only_itself(cluster, tmp_path, mnist_path):
    results = _run_both_ways(cluster, tmp_path, "disk", DISK_FILLER, mnist_path, pids_bound=4000, disk_bound=True, honest=HONEST_AFTER_THE_FILLER)
    # Unprotected, the filler fills the worker machine's TMPDIR for everyone: a classmate's grader
    # meets a full disk, and what it sends back (checks in `error`) is never kept as a final grade.
    assert _harmed_and_not_final(*results[False])
    rows, attacker, left, leaves, log = results[True]
    assert _intact(rows, "honest") and _intact(rows, "honest2"), log
    assert _attacker_told(attacker, "the size of its own writable folder"), attacker
    assert left[0] == [] and left[1] > 0 and leaves[0] == [] and leaves[1] > 0, (left, leaves)  # no worker folder, no cgroup left behind


def test_a_fork_bomb_on_the_cluster_harms_only_itself(cluster, tmp_path, mnist_path):
    results = _run_both_ways(cluster, tmp_path, "fork", FORK_BOMB, mnist_path, pids_bound=160)
    assert _harmed_and_not_final(*results[False])
    rows, attacker, left, leaves, log = results[True]
    assert _intact(rows, "honest") and _intact(rows, "honest2"), log
    assert _attacker_told(attacker, f"its own limit of {WORKER_PIDS} processes"), attacker
    assert left[0] == [] and left[1] > 0 and leaves[0] == [] and leaves[1] > 0, (left, leaves)


# Appended to the reference: at import, 20 processes of 24 MiB each (touched), each
# small beside a grader (a grader holds the data, about 100 MiB), together past
# the memory the Dask worker's machine has here (a memory cgroup of 700 MiB
# around the worker: less than its two gradings' limits of 4 GiB each). Held
# 40 s; then, if the system killed any of them, fail with that.
MEMORY_HOG = '''

import os as _os, time as _time
_kids = []
for _ in range(20):
    _pid = _os.fork()
    if _pid == 0:
        _block = b"\\1" * (24 << 20)
        _time.sleep(90)
        _os._exit(0)
    _kids.append(_pid)
_killed, _end = 0, _time.monotonic() + 40
while _time.monotonic() < _end and _kids:
    for _pid in list(_kids):
        if _os.waitpid(_pid, _os.WNOHANG)[0]:
            _kids.remove(_pid)
            _killed += 1
    _time.sleep(0.1)
if _killed:
    raise MemoryError(f"{_killed} of my 20 processes were killed")
'''


def test_processes_that_exhaust_a_cluster_workers_memory_cost_only_their_author(cluster, tmp_path, mnist_path):
    """Where the machine runs out of memory before a worker's own limit, the out-of-memory
    killer takes the attacker's processes (the largest of the workers' processes), never a
    grader or the Dask worker: the classmates keep their points and the attacker, whose
    code raises when it sees its processes killed, fails at once (an `error` regraded
    forever was what a killed grader gave). Unprotected, a grader or the Dask worker is
    killed: whoever it graded is not graded."""
    results = _run_both_ways(cluster, tmp_path, "memory", MEMORY_HOG, mnist_path, memory_bound=700)
    rows, _, _, _, log = results[False]
    assert [s for s in ("attacker", "honest", "honest2") if (rows.get(s) or {}).get("status") != "graded"], log  # a grader was killed
    rows, attacker, left, leaves, log = results[True]
    assert _intact(rows, "honest") and _intact(rows, "honest2"), log
    # Its processes were killed within its own limit, for memory the worker's machine lacks (less than the
    # grader promises): that is the machine's failure (issue 26.2's rule), "not graded", never a point.
    assert _attacker_not_graded_for_the_machine(attacker), attacker
    assert left[0] == [] and leaves[0] == [] and leaves[1] > 0, (left, leaves)


def test_a_worker_without_capacity_limits_is_refused_before_any_task(cluster, tmp_path, mnist_path):
    """Switched off on one worker only: that worker is named and refused, no student is graded."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    bounds = Bounds("refused")
    workers = []
    try:
        for name, protected in (("limited", True), ("unlimited", False)):
            workers.append(subprocess.Popen(
                [str(Path(sys.executable).with_name("dask")), "worker", cluster.address, "--name", name, "--nthreads", "1",
                 "--no-nanny", "--no-dashboard", "--memory-limit", "0", "--host", "127.0.0.1"],
                cwd=ROOT, env=_env(protected, TMPDIR=str(tmpdir)), stdout=cluster.log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=bounds.enter,
            ))
        cluster.wait_for_workers(2)
        subs, out = _class(tmp_path / "subs", ""), tmp_path / "out"
        done = subprocess.run(
            [sys.executable, "-m", "grader", "ex01", "--batch", str(subs), "--out", str(out), "--data", mnist_path, "--scheduler", cluster.address],
            cwd=ROOT, env=_env(True), capture_output=True, text=True, timeout=300,
        )
    finally:
        for worker in workers:
            _stop_worker(cluster, worker)
        bounds.remove()
    assert done.returncode == 2, done.stderr
    assert "would not grade as this machine does, so no task was sent" in done.stderr
    assert "worker unlimited" in done.stderr and 'capacity: "REDUCED isolation: switched off' in done.stderr, done.stderr
    assert "worker limited" not in done.stderr
    assert not (out / "students").exists()


# Appended to the reference: normalize() forks until its own process limit and
# then ends its process (its checks fail, naming the limit); add_channel_axis()
# takes 1 GiB in one process, within its own limit (4 GiB) but past the memory
# the Dask worker's machine has here (700 MiB): the machine's out-of-memory
# killer takes it, which alone is "not graded", grade again.
GREEDY = '''

import os as _os, time as _time
import numpy as _np


def normalize(images):
    for _ in range(200):
        try:
            if _os.fork() == 0:
                _time.sleep(30)
                _os._exit(0)
        except OSError:
            break
    _os._exit(3)


def add_channel_axis(images):
    _block = _np.ones(1 << 30, _np.uint8)
    return images[..., None]
'''


def test_a_submission_not_graded_three_runs_in_a_row_after_hitting_its_own_limits_ends_as_a_failure_on_the_cluster(cluster, tmp_path, mnist_path):
    """The cluster route settles reports as the local batch does (batch.settle): a report with
    checks not graded is never final, and the third run in a row that ends so while the
    submission had hit its own limits (here: its processes) grades those checks as failed."""
    from grader.classroom.batch import ATTEMPTS_FILE, ATTRIBUTED_RUNS

    subs, out = tmp_path / "subs", tmp_path / "out"
    (subs / "greedy").mkdir(parents=True)
    (subs / "greedy" / EX01.filename).write_text(EX01.solution_path.read_text() + GREEDY)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    bounds = Bounds("greedy", memory_mb=700)
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("dask")), "worker", cluster.address, "--name", "greedy", "--nthreads", "1",
         "--no-nanny", "--no-dashboard", "--memory-limit", "0", "--host", "127.0.0.1"],
        cwd=ROOT, env=_env(True, TMPDIR=str(tmpdir)), stdout=cluster.log, stderr=subprocess.STDOUT,
        start_new_session=True, preexec_fn=bounds.enter,
    )
    runs = []
    try:
        cluster.wait_for_workers(1)
        for _ in range(ATTRIBUTED_RUNS):
            done = subprocess.run(
                [sys.executable, "-m", "grader", "ex01", "--batch", str(subs), "--out", str(out), "--data", mnist_path, "--scheduler", cluster.address],
                cwd=ROOT, env=_env(True), capture_output=True, text=True, timeout=600,
            )
            with (out / "gradebook.csv").open(newline="") as book:
                row = next(csv.DictReader(book))
            report = json.loads((out / "students" / "greedy" / "report.json").read_text())
            checks = {c["name"]: c for ex in report["exercises"] for c in ex["checks"]}
            attempts = out / "students" / "greedy" / ATTEMPTS_FILE
            runs.append((done.returncode, row["status"], checks, json.loads(attempts.read_text())["runs"] if attempts.exists() else None))
        assert worker.poll() is None  # the Dask worker was never the victim
    finally:
        _stop_worker(cluster, worker)
        bounds.remove()
    for n, (code, status, checks, counted) in enumerate(runs[:-1], start=1):
        assert (code, status, counted) == (1, "retry", n), (n, code, status, counted)
        assert checks["add_channel_axis_shape_values"]["retry"] and checks["add_channel_axis_shape_values"]["limits"] == ["processes"]
        assert "killed it for lack of memory" in checks["add_channel_axis_shape_values"]["message"]
    code, status, checks, counted = runs[-1]
    assert (status, counted) == ("graded", None), (code, status, counted)
    final = checks["add_channel_axis_shape_values"]
    assert final["status"] == "failed" and "retry" not in final, final
    assert f"Not graded on {ATTRIBUTED_RUNS} runs in a row" in final["message"] and "its limit of processes" in final["message"], final
    assert "its own limit of 48 processes" in checks["normalize_values"]["message"]  # failed at once, every run
    assert checks["one_hot_values"]["status"] == "passed"  # the rest of its work keeps its points
