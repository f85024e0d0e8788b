"""A class graded on a real Dask cluster: a scheduler and workers started as the
`dask` command line starts them, on 127.0.0.1 with random ports.

One worker is killed with SIGKILL while it grades; every student must still be
graded exactly once, with the scores a local `--batch` gives the same class, and
nothing the dead worker started may be left running. A worker that would grade
differently (here: one without the sandbox) is refused before any task runs.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.isolation.own_time import descendants
from grader.settings import CACHE_ENV
from mnist_course.course import ROOT, load_course
from corpus import EX04_CLEARED_IN_PLACE, edited

distributed = pytest.importorskip("distributed", reason="the cluster extra is not installed: pip install -e '.[cluster]'")

COURSE = load_course()
EX01, EX02, EX04 = COURSE.exercise("ex01"), COURSE.exercise("ex02"), COURSE.exercise("ex04")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != b"Z"


def _is_grader(pid: int) -> bool:
    try:
        return b"grader" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _dask(*args, env=None, log=None):
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("dask")), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class Cluster:
    """A scheduler and its workers, each a real process, stopped at the end."""

    def __init__(self, folder: Path):
        self.folder, self.workers = folder, []
        folder.mkdir(parents=True, exist_ok=True)
        self.file = folder / "scheduler.json"
        self.log = (folder / "dask.log").open("wb")
        self.scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(self.file), log=self.log)
        deadline = time.monotonic() + 60
        while not self.file.is_file() or not self.file.read_text().strip():
            assert time.monotonic() < deadline and self.scheduler.poll() is None, "the Dask scheduler did not start"
            time.sleep(0.2)
        self.address = json.loads(self.file.read_text())["address"]

    def add_worker(self, name: str, env=None) -> subprocess.Popen:
        worker = _dask(
            "worker", self.address, "--name", name, "--nthreads", "1", "--no-nanny", "--no-dashboard",
            "--memory-limit", "0", "--host", "127.0.0.1", env=env, log=self.log,
        )
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, n: int) -> None:
        with distributed.Client(self.address, timeout="20s") as client:
            client.wait_for_workers(n, timeout=60)

    def stop(self) -> list[subprocess.Popen]:
        # The workers first, while their scheduler still answers: a worker told
        # to stop after its scheduler is gone waits out Dask's 30 s connect timeout.
        for group in (self.workers, [self.scheduler]):
            for process in group:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in group:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self.log.close()
        return [p for p in (*self.workers, self.scheduler) if p.poll() is None]


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(tmp_path)
    yield cluster
    assert cluster.stop() == []


@pytest.fixture
def class_folder(tmp_path):
    """Honest twins, a stub, a broken file and a hostile one, graded on ex01, ex02 and ex04;
    frank declares alice's ex02 model in a file of his own (a comment added)."""
    subs = tmp_path / "submissions"
    solution01, solution02, solution04 = (ex.solution_path.read_text() for ex in (EX01, EX02, EX04))
    students = {
        "alice": {EX01.filename: solution01, EX02.filename: solution02, EX04.filename: solution04},
        "bob": {EX01.filename: solution01, EX02.filename: solution02, EX04.filename: solution04},  # identical to alice
        "frank": {EX02.filename: "# my own copy of the lesson's model\n" + solution02},
        "carol": {EX01.filename: EX01.stub_path.read_text(), EX04.filename: EX04.stub_path.read_text()},
        "dave": {EX01.filename: "def normalize(images:\n", EX04.filename: solution04},  # a syntax error
        "mallory": {EX01.filename: "import os\nos.kill(os.getppid(), 9)\nos._exit(0)\n", EX04.filename: solution04},
        "erin": {EX01.filename: solution01, EX04.filename: edited("ex04", EX04_CLEARED_IN_PLACE)},
    }
    for student, files in students.items():
        (subs / student).mkdir(parents=True)
        for name, text in files.items():
            (subs / student / name).write_text(text)
    return subs


def _batch(subs, out, mnist_path, *extra, wait=True):
    command = [sys.executable, "-m", "grader", "ex01", "ex02", "ex04", "--batch", str(subs), "--out", str(out), "--data", mnist_path, *extra]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        stdout, stderr = process.communicate(timeout=900)
        return process.returncode, stdout, stderr
    return process


def _ex02_measured(out, student):
    report = json.loads((out / "students" / student / "report.json").read_text())
    ex02 = next(ex for ex in report["exercises"] if ex["id"] == "ex02")
    return next(c["measured"] for c in ex02["checks"] if c["name"] == "build_model_test_accuracy")


def _gradebook(out):
    with (out / "gradebook.csv").open(newline="") as fh:
        return {row["student"]: (row["ex01"], row["ex02"], row["ex04"], row["total"], row["status"]) for row in csv.DictReader(fh)}


@pytest.mark.trains
def test_a_class_on_a_dask_cluster_survives_a_killed_worker(cluster, class_folder, tmp_path, mnist_path):
    # The workers share one training cache, a fresh one (not the test suite's).
    shared_cache = {CACHE_ENV: str(tmp_path / "training-cache")}
    doomed = cluster.add_worker("doomed", env=shared_cache)
    cluster.add_worker("survivor", env=shared_cache)
    cluster.wait_for_workers(2)

    batch = _batch(class_folder, tmp_path / "on-cluster", mnist_path, "--scheduler", cluster.address, wait=False)
    # Kill the first worker once it is grading, with its grading process running.
    with distributed.Client(cluster.address, timeout="20s") as client:
        deadline = time.monotonic() + 300
        while True:
            assert time.monotonic() < deadline and batch.poll() is None, "no task reached the doomed worker"
            busy = {info["name"] for address, info in client.scheduler_info()["workers"].items() if client.processing().get(address)}
            started = [pid for pid in descendants(doomed.pid)[1:] if _is_grader(pid)]
            if "doomed" in busy and started:
                break
            time.sleep(0.2)
        its_processes = descendants(doomed.pid)[1:]  # its grading process and that one's sandbox
        os.kill(doomed.pid, signal.SIGKILL)
    stdout, stderr = batch.communicate(timeout=900)
    assert "Gradebook:" in stdout, stderr
    # The instructor's terminal said it: the trainings' epochs as they ended on the workers, and the lost worker.
    assert re.search(r"(alice|frank): ex02 training epoch 1/\d+ · ", stderr), stderr
    assert "worker doomed (tcp://127.0.0.1:" in stderr and "was lost (killed, crashed or cut off)" in stderr

    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in its_processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in its_processes if _alive(pid)] == []  # nothing the dead worker started runs on

    on_cluster = _gradebook(tmp_path / "on-cluster")
    assert sorted(on_cluster) == ["alice", "bob", "carol", "dave", "erin", "frank", "mallory"]  # each once
    # alice's and frank's declarations are the same model: one of them was trained, the other reused it
    reused = [_ex02_measured(tmp_path / "on-cluster", s)["training_reused"] for s in ("alice", "frank")]
    assert sorted(reused) == [False, True]
    assert _ex02_measured(tmp_path / "on-cluster", "alice")["test_accuracy"] == _ex02_measured(tmp_path / "on-cluster", "frank")["test_accuracy"]
    code, _, stderr = _batch(class_folder, tmp_path / "here", mnist_path, "--jobs", "2")
    assert code == batch.returncode, stderr
    assert on_cluster == _gradebook(tmp_path / "here")
    full = EX01.max_score + EX02.max_score + EX04.max_score
    assert on_cluster["alice"][3] == on_cluster["bob"][3] == str(full)
    assert on_cluster["frank"][1] == str(EX02.max_score)
    assert int(on_cluster["erin"][3]) == full - EX02.max_score - 1  # no ex02, and leaves_input fails
    assert on_cluster["carol"][3] == "0"


def test_the_terminal_says_where_each_student_is_graded_and_which_worker_was_lost(cluster, tmp_path, mnist_path):
    """Cheap (ex01 only, three students): the instructor's terminal names each student's worker,
    the worker killed mid-task with the student it held, the task started again elsewhere, and
    each student's points; the run's end says it all again."""
    subs = tmp_path / "submissions"
    solution = EX01.solution_path.read_text()
    for number, student in enumerate(("alice", "bob", "carol")):
        (subs / student).mkdir(parents=True)
        # distinct files (identical ones are graded once), each slow to import, so a kill finds one mid-task
        (subs / student / EX01.filename).write_text(f"import time\ntime.sleep(2)  # student {number}\n" + solution)
    doomed = cluster.add_worker("doomed")
    cluster.add_worker("survivor")
    cluster.wait_for_workers(2)
    command = [sys.executable, "-m", "grader", "ex01", "--batch", str(subs), "--out", str(tmp_path / "out"), "--data", mnist_path, "--scheduler", cluster.address]
    batch = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The terminal is read as it is written: the kill waits for the line that says the doomed
    # worker holds a student (on a loaded machine, that line can come after its grading process starts).
    lines: list[str] = []

    def read_terminal():
        for line in batch.stderr:
            lines.append(line)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while not (any(": grading on worker doomed" in line for line in list(lines)) and [pid for pid in descendants(doomed.pid)[1:] if _is_grader(pid)]):
        assert time.monotonic() < deadline and batch.poll() is None, "no task reached the doomed worker"
        time.sleep(0.1)
    os.kill(doomed.pid, signal.SIGKILL)
    stdout = batch.stdout.read()
    batch.wait(timeout=600)
    reader.join(timeout=60)
    stderr = "".join(lines)
    assert batch.returncode == 0 and "Gradebook:" in stdout, stderr
    victims = [s for s in ("alice", "bob", "carol") if f"{s}: grading on worker doomed" in stderr]
    assert len(victims) == 1, stderr
    victim = victims[0]
    assert f"worker doomed (tcp://127.0.0.1:" in stderr and f"was lost (killed, crashed or cut off) while grading {victim}" in stderr
    assert f"{victim}: grading again on worker survivor (attempt 2: the worker that had it was lost)" in stderr
    for student in ("alice", "bob", "carol"):
        assert f"{student}: {EX01.max_score}/{EX01.max_score} points" in stderr, stderr
    end = stderr[stderr.index("The cluster lost workers during this run"):]
    assert f"while grading {victim}" in end and f"{victim}: grading again" in end
    assert all(row[-1] == "graded" for row in _ex01_gradebook(tmp_path / "out").values())


def _ex01_gradebook(out):
    with (out / "gradebook.csv").open(newline="") as fh:
        return {row["student"]: (row["ex01"], row["status"]) for row in csv.DictReader(fh)}


def test_a_worker_that_would_grade_differently_is_refused_before_any_task(cluster, class_folder, tmp_path, mnist_path):
    cluster.add_worker("careful")
    cluster.add_worker("unsandboxed", env={"MNIST_COURSE_SANDBOX": "off"})
    cluster.wait_for_workers(2)
    code, _, stderr = _batch(class_folder, tmp_path / "out", mnist_path, "--scheduler", cluster.address)
    assert code == 2
    assert "would not grade as this machine does, so no task was sent" in stderr
    assert "sandbox: 'none' here, 'bubblewrap' on the instructor's machine" in stderr and "careful" not in stderr
    assert not (tmp_path / "out" / "students").exists()


def test_scheduler_mistakes_are_explained(tmp_path, class_folder, mnist_path):
    code, _, stderr = _batch(class_folder, tmp_path / "out", mnist_path, "--scheduler", "tcp://127.0.0.1:9", "--jobs", "2")
    assert code == 2 and "--jobs is for this machine" in stderr
    code, _, stderr = _batch(class_folder, tmp_path / "out", mnist_path, "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and "no Dask scheduler answers at tcp://127.0.0.1:9" in stderr


@pytest.mark.trains
def test_a_lost_scheduler_loses_no_grade_and_the_next_run_resumes(tmp_path, class_folder, mnist_path):
    first = Cluster(tmp_path / "first")
    try:
        first.add_worker("only")
        first.wait_for_workers(1)
        batch = _batch(class_folder, tmp_path / "out", mnist_path, "--scheduler", first.address, wait=False)
        deadline = time.monotonic() + 300
        while not list((tmp_path / "out" / "students").glob("*/report.json")):
            assert time.monotonic() < deadline and batch.poll() is None, "no student was graded"
            time.sleep(0.2)
        os.killpg(first.scheduler.pid, signal.SIGKILL)  # the scheduler is gone mid-run
        stdout, stderr = batch.communicate(timeout=300)
    finally:
        first.stop()
    assert batch.returncode == 1 and "Gradebook:" in stdout
    after_loss = _gradebook(tmp_path / "out")
    graded = {s for s, row in after_loss.items() if row[-1] == "graded"}
    assert graded and len(graded) < len(after_loss) and {row[-1] for s, row in after_loss.items() if s not in graded} == {"retry"}

    second = Cluster(tmp_path / "second")
    try:
        second.add_worker("fresh")
        second.wait_for_workers(1)
        code, stdout, stderr = _batch(class_folder, tmp_path / "out", mnist_path, "--scheduler", second.address)
    finally:
        assert second.stop() == []
    assert f"{len(graded)} already graded" in stdout  # what the lost run finished is kept, not graded again
    assert all(row[-1] == "graded" for row in _gradebook(tmp_path / "out").values())
