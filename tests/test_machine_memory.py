"""A grading machine short of memory never costs a student points (issue 26).

The grader promises student code a memory limit (course.toml's memory_mb for
its worker, 8 GiB of address space for its trainer). Where the machine gives
less (`ulimit -v`, the memory limit of a container the grader runs in), code
that runs out of memory may be within what it was promised, so the check is
"not graded" (retry, exit 2), with a message that names the setting to
raise, on every route: the local `grader`, `grader --batch`, the Dask cluster,
nbgrader's test cells and Gradescope's `run_autograder`. The other way round,
the same failure against the submission's own limits (its address-space cap,
its worker's control group) fails its checks and says so, and a student's own
mistake (a syntax error) still fails under the machine's limit.

Each route is exercised cheaply: an address-space limit of 768 MiB (the
size Gradescope's default container was thought to be, and the first figure
in the issue) stops TensorFlow's import, so exercise 2's reference fails at
its first line, in a few seconds, without training anything.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from grader.isolation import bubblewrap, capacity
from grader.isolation.limits import machine_failure
from mnist_course.course import ROOT, load_course

COURSE = load_course()
EX01, EX02 = COURSE.exercise("ex01"), COURSE.exercise("ex02")
MACHINE_MIB = 768  # the machine's limit the tests impose: below what TensorFlow's import needs

_SANDBOX = pytest.mark.skipif(not bubblewrap.find().active, reason=f"no sandbox on this machine: {bubblewrap.find().reason}")


def _machine_limit(mib: int = MACHINE_MIB):
    """Between fork and exec: the grading machine's `ulimit -v`, for the grader and all it starts."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mib << 20, mib << 20))

    return apply


def _grade(folder: Path, mnist_path: str, *exercises: str, limited: bool = True, extra: tuple[str, ...] = ()) -> tuple[int, dict, str]:
    """`grader EXERCISES --target folder --json` on a machine with (or without) the limit."""
    report = folder.parent / f"report-{secrets.token_hex(4)}.json"
    done = subprocess.run(
        [sys.executable, "-m", "grader", *exercises, "--target", str(folder), "--data", mnist_path, "--json", str(report), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=_machine_limit() if limited else None,
    )
    return done.returncode, json.loads(report.read_text()), done.stdout + done.stderr


def _checks(report: dict) -> list[dict]:
    return [check for exercise in report["exercises"] for check in exercise["checks"]]


def _assert_not_graded_for_memory(message: str) -> None:
    assert message.startswith("Not graded: importing ex02_dense.py failed"), message
    assert f"limits every process to {MACHINE_MIB} MiB of address space (`ulimit -v`)" in message, message
    assert "ulimit -v` of at least 8,192 MiB for ex02" in message, message  # the setting to raise: the trainer's cap
    assert "not your code" in message, message
    assert "syntax error" not in message and "Your code printed" not in message, message  # no blame, no TensorFlow log


# ---------------------------------------------------------------- the rule


def test_a_failure_for_memory_is_the_machines_only_where_the_machine_gives_less(monkeypatch):
    promised = 4 << 30
    short = [capacity.MachineLimit(MACHINE_MIB << 20, "address space")]
    monkeypatch.setattr(capacity, "machine_limits", lambda: short)
    for text in ("MemoryError: ", "ImportError: libtensorflow_cc.so.2: failed to map segment from shared object", "RuntimeError: std::bad_alloc"):
        assert "768 MiB of address space" in machine_failure(promised, text), text
    assert machine_failure(promised, exit_code=-9) and machine_failure(promised, exit_code=-6)  # SIGKILL, SIGABRT
    # The code's own doing, however short the machine: a mistake, an exit, its own limit.
    assert machine_failure(promised, "SyntaxError: invalid syntax") == ""
    assert machine_failure(promised, "ValueError: labels must be integers") == ""
    assert machine_failure(promised, exit_code=3) == ""  # os._exit(3)
    assert machine_failure(promised, "MemoryError: ", own_limit=True) == ""
    # A machine that gives what was promised: a MemoryError is the code's.
    monkeypatch.setattr(capacity, "machine_limits", lambda: [capacity.MachineLimit(64 << 30, "machine")])
    assert machine_failure(promised, "MemoryError: ") == "" and machine_failure(promised, exit_code=-9) == ""
    # Killed by the kernel for memory while its own limit was not reached: the container's or machine's.
    assert "ran out" in machine_failure(promised, exit_code=-9, oom_killed=True)


def test_the_setting_named_is_the_one_that_is_short(monkeypatch):
    def machine(*limits):
        monkeypatch.setattr(capacity, "machine_limits", lambda: sorted(limits, key=lambda limit: limit.bytes))

    machine(capacity.MachineLimit(1536 << 20, "address space"))
    assert capacity.memory_setting(8 << 30, 1500, "ex02b") == "the grading machine needs `ulimit -v` of at least 8,192 MiB for ex02b, or `ulimit -v unlimited`"
    machine(capacity.MachineLimit(768_000_000, "container", "/sys/fs/cgroup/memory.max"))
    assert capacity.memory_setting(8 << 30, 1500, "ex02b").startswith("give the grader's container more memory: grading ex02b needs 1,500 MB")
    # The reference fits in the container: this submission needed more.
    assert "grading ex02's reference fits in 768 MB, this submission needed more" in capacity.memory_setting(8 << 30, 768, "ex02")
    machine(capacity.MachineLimit(2 << 30, "machine"))
    assert capacity.memory_setting(4 << 30, 1500, "ex02b").startswith("grade on a machine with more memory")


def test_the_machines_limits_are_read_as_the_grader_sees_them():
    probe = "from grader.isolation import capacity; print([(l.kind, l.bytes >> 20) for l in capacity.machine_limits()])"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, preexec_fn=_machine_limit())
    assert ("address space", MACHINE_MIB) in eval(out.stdout), out.stdout  # noqa: S307 - our own probe's repr


# ---------------------------------------------------------------- the local grader, both ways


def test_local_grader_on_a_short_machine_says_not_graded_names_the_setting_and_exits_2(tmp_path, mnist_path):
    folder = tmp_path / "alice"
    folder.mkdir()
    shutil.copy(EX02.solution_path, folder / EX02.filename)
    code, report, output = _grade(folder, mnist_path, "ex02")
    assert code == 2, output
    assert report["retry"] is True and report["score"] == 0
    for check in _checks(report):
        assert check["status"] == "error" and check["retry"] is True, check
        _assert_not_graded_for_memory(check["message"])
        assert "limits" not in check  # nothing of the submission's own: the batch never turns it into a failure
    assert "grader: WARNING: the grading machine limits every process to 768 MiB" in output


def test_on_the_same_short_machine_a_students_own_mistake_still_fails(tmp_path, mnist_path):
    folder = tmp_path / "bob"
    folder.mkdir()
    (folder / EX02.filename).write_text(EX02.solution_path.read_text().replace("def build_model(", "def build_model(:", 1))
    code, report, output = _grade(folder, mnist_path, "ex02")
    assert code == 1, output
    assert "retry" not in report
    cause = report["exercises"][0]["import_failure"]["message"]  # said once, at the exercise (tests/test_one_cause.py)
    assert "failed with SyntaxError" in cause and "Not graded" not in cause, cause
    for check in _checks(report):
        assert check["status"] == "failed" and check["not_checked"] == "import_failure" and "Not graded" not in check["message"], check


# ex01 whose normalize() asks for 8 GiB: past the worker's own 4 GiB cap, and past any short machine.
GREEDY = EX01.solution_path.read_text() + textwrap.dedent('''

    _normalize = normalize


    def normalize(images):
        np.ones(8 << 30, np.uint8)  # 8 GiB, more than the grader's promise
        return _normalize(images)
    ''')


def test_the_same_greedy_call_fails_against_its_own_cap_and_is_not_graded_on_a_short_machine(tmp_path, mnist_path):
    folder = tmp_path / "carol"
    folder.mkdir()
    (folder / EX01.filename).write_text(GREEDY)
    own = {}
    for limited in (False, True):
        code, report, output = _grade(folder, mnist_path, "ex01", limited=limited)
        own[limited] = (code, next(c for c in _checks(report) if c["name"] == "normalize_values"))
    code, check = own[False]  # the machine gives 4 GiB: the code broke its own limit
    assert code == 1 and check["status"] == "failed" and "more memory than the grader allows (4096 MiB)" in check["message"], check
    code, check = own[True]  # the machine gives 768 MiB: it might have fitted in what was promised
    assert code == 2 and check["status"] == "error" and check["retry"], check
    assert "Not graded: the call normalize(" in check["message"] and "MemoryError" in check["message"], check
    assert "ulimit -v` of at least 4,096 MiB for ex01" in check["message"], check


# ---------------------------------------------------------------- a container's memory, both ways


CONTAINER = '''
import json, os, sys, numpy as np
from pathlib import Path
sys.path.insert(0, {root!r})
folder = Path({cgroup!r})
folder.mkdir()
(folder / {limit_file!r}).write_text(str(400 << 20))
(folder / "cgroup.procs").write_text(str(os.getpid()))  # this process, the grader, is now in a 400 MiB container
from grader.isolation.sandbox import Worker
worker = Worker(Path({module!r}), memory=2 << 30)
try:
    outcome = worker.call("normalize", (np.zeros((1, 28, 28), np.uint8),), timeout=60)
finally:
    worker.dispose()
print(json.dumps({{"status": outcome.status, "limits": outcome.limits, "machine": outcome.machine}}))
'''

# Touches 600 MiB: past a 400 MiB container, within the worker's own 2 GiB.
TOUCHER = "import numpy as np\ndef normalize(images):\n    block = np.ones(600 << 20, np.uint8)\n    return images.astype(np.float32)\n"


@_SANDBOX
@pytest.mark.skipif(os.geteuid() != 0, reason="making a container's control group needs root")
def test_a_worker_killed_for_its_containers_memory_is_the_machines_not_the_students(tmp_path):
    """The other way (the worker's own control group limit, the student's) is
    tests/test_capacity.py's memory test: its checks fail with "its own memory limit"."""
    where = capacity.places()
    if "memory" in where.v1:
        parent, limit_file = where.v1["memory"], "memory.limit_in_bytes"
    elif "memory" in where.v2_controllers:
        parent, limit_file = where.v2, "memory.max"
    else:
        pytest.skip("no memory control group here")
    cgroup = parent / f"mnist-test-container-{secrets.token_hex(4)}"
    (tmp_path / EX01.filename).write_text(TOUCHER)
    script = CONTAINER.format(root=str(ROOT), cgroup=str(cgroup), limit_file=limit_file, module=str(tmp_path / EX01.filename))
    env = {k: v for k, v in os.environ.items() if k != capacity.ROOT_ENV}
    try:
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    finally:
        for _ in range(100):
            try:
                cgroup.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)
    assert out.returncode == 0, out.stdout + out.stderr
    seen = json.loads(out.stdout.splitlines()[-1])
    assert seen["status"] == "crashed" and seen["limits"] == [], seen  # not its own limit
    assert "killed it for lack of memory" in seen["machine"] and "400 MiB in all" in seen["machine"], seen


# ---------------------------------------------------------------- a class: --batch and the cluster


def _class(tmp_path: Path) -> Path:
    subs = tmp_path / "submissions"
    (subs / "alice").mkdir(parents=True)
    shutil.copy(EX02.solution_path, subs / "alice" / EX02.filename)
    return subs


def _assert_class_not_graded(out: Path) -> None:
    with (out / "gradebook.csv").open(newline="") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert rows["alice"]["status"] == "retry", rows  # no verdict yet; the next run grades alice again
    report = json.loads((out / "students" / "alice" / "report.json").read_text())
    assert report["retry"] is True and not (out / "students" / "alice" / "attempts.json").exists()
    for check in _checks(report):
        assert check["status"] == "error" and check["retry"], check
        _assert_not_graded_for_memory(check["message"])


@_SANDBOX
def test_batch_on_a_short_machine_marks_the_student_retry_with_the_setting(tmp_path, mnist_path):
    subs, out = _class(tmp_path), tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "grader", "ex02", "--batch", str(subs), "--out", str(out), "--data", mnist_path],
        cwd=ROOT, capture_output=True, text=True, timeout=600, preexec_fn=_machine_limit(),
    )
    assert done.returncode == 1, done.stdout + done.stderr  # not every student graded
    assert "alice: retry" in done.stderr
    _assert_class_not_graded(out)


@_SANDBOX
def test_a_cluster_worker_on_a_short_machine_marks_the_student_retry_with_the_setting(tmp_path, mnist_path):
    pytest.importorskip("distributed", reason="the cluster extra is not installed: pip install -e '.[cluster]'")
    from tests.test_cluster import Cluster

    cluster = Cluster(tmp_path / "cluster")
    try:
        # Only the worker's machine is short; the instructor's is not.
        worker = subprocess.Popen(
            [str(Path(sys.executable).with_name("dask")), "worker", cluster.address, "--name", "short", "--nthreads", "1",
             "--no-nanny", "--no-dashboard", "--memory-limit", "0", "--host", "127.0.0.1"],
            cwd=ROOT, stdout=cluster.log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_machine_limit(),
        )
        cluster.workers.append(worker)
        cluster.wait_for_workers(1)
        subs, out = _class(tmp_path), tmp_path / "results"
        done = subprocess.run(
            [sys.executable, "-m", "grader", "ex02", "--batch", str(subs), "--out", str(out), "--data", mnist_path, "--scheduler", cluster.address],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )
    finally:
        assert cluster.stop() == []
    assert done.returncode == 1, done.stdout + done.stderr
    _assert_class_not_graded(out)


# ---------------------------------------------------------------- nbgrader's test cells


NOTEBOOK_CELL = '''
import json, linecache, sys
sys.path.insert(0, {root!r})
from grader import notebook
from mnist_course.course import load_course
from mnist_course.nbgrader_course import imports_mark

exercise = load_course().exercise("ex02")
# The locked imports cell fails in the kernel too on this machine (it imports Keras);
# the answer cell defines the functions, which import nothing at the top level.
imports = imports_mark(exercise) + "\\nimport keras\\nfrom keras import layers\\n"
text = open({solution!r}).read()
answer = text[text.index("\\ndef ") + 1:]
name = "<ipython-input-2-answer>"
linecache.cache[name] = (len(answer), None, answer.splitlines(True), name)
namespace = {{"__name__": "__main__", "In": ["", imports, answer]}}
exec(compile(answer, name, "exec"), namespace)
try:
    notebook.check("ex02", "build_model_accepts_images", namespace)
    print(json.dumps({{"raised": None}}))
except notebook.CheckFailed as exc:
    print(json.dumps({{"raised": type(exc).__name__, "message": str(exc)}}))
'''


@_SANDBOX
def test_an_nbgrader_test_cell_on_a_short_machine_is_not_graded_with_the_setting(tmp_path, mnist_path):
    script = NOTEBOOK_CELL.format(root=str(ROOT), solution=str(EX02.solution_path))
    env = {**os.environ, "MNIST_COURSE_DATA": mnist_path}
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, preexec_fn=_machine_limit())
    assert out.returncode == 0, out.stdout + out.stderr
    seen = json.loads(out.stdout.splitlines()[-1])
    assert seen["raised"] == "CheckNotGraded", seen
    assert "build_model_accepts_images: not graded" in seen["message"], seen
    _assert_not_graded_for_memory("\n".join(seen["message"].split("\n")[1:]))


# ---------------------------------------------------------------- Gradescope


def _autograder_with_reference(tmp_path: Path, exercise):
    """Gradescope's layout, as its container has it: the zip built for `exercise` in
    source/, its run_autograder beside it, the reference uploaded in submission/.
    Returns (the root, the zip builder's finished process: its advice)."""
    archive = tmp_path / f"{exercise.id}.zip"
    built = subprocess.run([sys.executable, str(ROOT / "platforms" / "gradescope" / "build_zip.py"), str(archive), "--exercises", exercise.id],
                           capture_output=True, text=True, timeout=120, check=True)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    shutil.copy(exercise.solution_path, root / "submission" / exercise.filename)
    return root, built


def test_gradescope_on_a_short_machine_is_not_graded_exits_2_and_names_the_setting(tmp_path, mnist_path):
    root, built = _autograder_with_reference(tmp_path, EX02)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable, "AUTOGRADER_USER": "", "MNIST_COURSE_DATA": mnist_path}
    done = subprocess.run(["bash", str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=600, preexec_fn=_machine_limit())
    assert done.returncode == 2, done.stdout + done.stderr  # as the grader's own exit: not graded
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["extra_data"] == {"retry": True} and results["score"] == 0
    assert "Some checks were not graded: the grading container was too slow, overloaded or short of memory" in results["output"]
    assert {t["status"] for t in results["tests"]} == {"failed"} and len(results["tests"]) == len(EX02.checks)
    _assert_not_graded_for_memory(results["tests"][0]["output"])
    for test in results["tests"][1:]:  # the same message is said once, at the first check; the others point to it
        assert test["output"].startswith("Not graded: ") or test["output"].startswith("The same problem as `"), test["output"]
    assert json.loads((root / "source" / "autograder.json").read_text())["resources"] in built.stdout  # the advice it printed


# ---------------------------------------------------------------- the grader's trainer


def test_the_trainer_that_cannot_start_tensorflow_says_so_as_data():
    from grader.training.trainer import TRAINER

    done = subprocess.run([sys.executable, "-I", str(TRAINER)], input='{"mode": "inspect"}', capture_output=True, text=True,
                          timeout=120, preexec_fn=_machine_limit())
    result = json.loads(done.stdout.splitlines()[-1])["result"]
    assert result["status"] == "error" and result["stage"] == "start" and capacity.looks_like_memory(f"{result['type']}: {result['message']}"), result


@pytest.mark.parametrize("ending", ["memory_error", "abort"])
def test_a_trainer_failing_for_memory_is_not_graded_only_on_a_short_machine(ending, monkeypatch, tmp_path):
    from grader.training import trainer as training

    fake = tmp_path / "trainer.py"
    fake.write_text(
        "import json, os, signal, sys\njson.load(sys.stdin)\n"
        + ('print(json.dumps({"result": {"status": "error", "type": "MemoryError", "message": ""}}))\n' if ending == "memory_error"
           else "os.kill(os.getpid(), signal.SIGABRT)\n")
    )
    monkeypatch.setattr(training, "TRAINER", fake)
    trainer = training.Trainer(data=None)
    seen = {}
    for short in (False, True):
        limits = [capacity.MachineLimit((MACHINE_MIB if short else 64 << 10) << 20, "address space")]
        monkeypatch.setattr(capacity, "machine_limits", lambda limits=limits: limits)
        seen[short] = trainer._communicate({"mode": "train"}, tmp_path, 60, None)
    # Enough memory: a MemoryError under the trainer's own 8 GiB is the model's (a failing check), as a crash is.
    assert seen[False]["status"] == ("error" if ending == "memory_error" else "killed"), seen
    assert seen[True]["status"] == "machine" and "768 MiB of address space" in seen[True]["why"], seen


def test_gradescope_grader_killed_outright_is_not_graded_and_names_the_resources(tmp_path, mnist_path):
    """The container's out-of-memory killer took the grader itself (ex02b's grader,
    with TensorFlow for its gradient check, in 768 MB: benchmarks/MEMORY.md)."""
    root, _ = _autograder_with_reference(tmp_path, EX01)
    killed = tmp_path / "python-killed"  # a "Python" the kernel kills as it starts to grade
    killed.write_text("#!/bin/sh\nkill -9 $$\n")
    killed.chmod(0o755)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": str(killed), "AUTOGRADER_USER": "", "MNIST_COURSE_DATA": mnist_path}
    # run_autograder itself runs autograde.py with AUTOGRADER_PYTHON: run autograde.py directly with this Python instead.
    done = subprocess.run([sys.executable, "-I", str(root / "source" / "autograde.py")], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["extra_data"] == {"retry": True} and results["score"] == 0
    resources = json.loads((root / "source" / "autograder.json").read_text())["resources"]
    assert "Not graded: the grader could not finish: it was stopped by signal 9, most likely because the grading container ran out of memory" in results["output"]
    assert f"needs {resources}" in results["output"] and "not a judgement of your work" in results["output"]


# ---------------------------------------------------------------- the zip builder's advice


def test_every_exercise_says_what_memory_its_grading_needs():
    """Measured by benchmarks/memory.py: a new exercise is measured before it ships."""
    assert [ex.id for ex in COURSE.exercises if ex.container_mb is None] == []


def test_the_zip_builders_advice_matches_the_zips_exercises():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_zip", ROOT / "platforms" / "gradescope" / "build_zip.py")
    build_zip = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_zip)
    advice = {key: build_zip.config(list(key), 35)["resources"] for key in [("ex01",), ("ex01", "ex04"), ("ex02b",), ("ex02",), ()]}
    default = "0.5 CPU and 768 MB (Gradescope's default)"
    for key, setting in advice.items():
        chosen = [COURSE.exercise(k) for k in key] or list(COURSE.exercises)
        memory = max(ex.container_mb for ex in chosen)
        floor = build_zip.MODEL_FLOOR_MB if any(ex.training for ex in chosen) else 0
        expected = next(name for mb, name in build_zip.SETTINGS if mb >= max(memory, floor))
        assert setting == expected, (key, setting)
    assert advice[("ex01",)] == advice[("ex01", "ex04")] == default  # numpy only: Gradescope's default container is enough
    assert advice[("ex02b",)] == "1.0 CPU and 1.5 GB"  # its grader checks gradients with TensorFlow beside the worker
    assert advice[("ex02",)] == "2.0 CPU and 3.0 GB"  # memory fits 768 MB; the CPUs are for a model at its work cap
