"""The sandbox's promises, each proven both ways: the attack succeeds with the
sandbox switched off (MNIST_COURSE_SANDBOX=off) and fails with it on.

The attacks are the ones a determined student found: find the course through
the editable install's finder or /proc and run the reference; read or
overwrite a classmate's work and the gradebook in a batch; look for the
grader's processes; plant a file the grader would run later.
"""

import contextlib
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from grader.isolation import bubblewrap
from grader.isolation.sandbox import Worker
from grader.settings import CACHE_ENV
from mnist_course.course import ROOT, load_course

COURSE = load_course()
EX01, EX04 = COURSE.exercise("ex01"), COURSE.exercise("ex04")

pytestmark = pytest.mark.skipif(not bubblewrap.find().active, reason=f"no sandbox on this machine: {bubblewrap.find().reason}")

# Appended to an untouched stub: find the course checkout and run its reference
# solution in the stub's place (it scored 37/37 for ex01 + ex04 and 89/89 for
# all six before the sandbox).
DELEGATION = '''

# --- appended by a determined student
def _delegate():
    import glob, os, re, sys
    places = set()
    for folder in sys.path:  # the editable install's finder names the checkout
        for finder in glob.glob(os.path.join(folder, "__editable__*finder.py")):
            places.update(os.path.dirname(p) for p in re.findall(r"'(/[^']+)'", open(finder).read()))
    for pid in os.listdir("/proc"):  # the grader's working folder and command line
        try:
            places.add(os.readlink(f"/proc/{pid}/cwd"))
            places.update(a for a in open(f"/proc/{pid}/cmdline").read().split("\\0") if a.startswith("/"))
        except OSError:
            pass
    for place in places:
        for up in (place, os.path.dirname(place), os.path.dirname(os.path.dirname(place))):
            reference = os.path.join(up, "solutions", os.path.basename(__file__))
            if os.path.isfile(reference):
                exec(compile(open(reference).read(), reference, "exec"), globals())
                return


_delegate()
'''


def grade(args, tmp_path, name, sandbox=True):
    env = {**os.environ, "MNIST_COURSE_STATE": str(tmp_path / f"{name}-state.json")}
    if not sandbox:
        env["MNIST_COURSE_SANDBOX"] = "off"
    done = subprocess.run([sys.executable, "-m", "grader", *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    return done


@contextlib.contextmanager
def sandbox_switched_off(monkeypatch):
    """Workers started inside the block run without bwrap (MNIST_COURSE_SANDBOX=off)."""
    monkeypatch.setenv("MNIST_COURSE_SANDBOX", "off")
    bubblewrap.find.cache_clear()
    try:
        yield
    finally:
        monkeypatch.delenv("MNIST_COURSE_SANDBOX")
        bubblewrap.find.cache_clear()


def stubs_with(attack, tmp_path, *exercises):
    folder = tmp_path / "student"
    folder.mkdir(exist_ok=True)
    for exercise in exercises:
        (folder / exercise.filename).write_text(exercise.stub_path.read_text() + attack)
    return folder


def test_stubs_that_run_the_reference_score_nothing(tmp_path, mnist_path):
    folder = stubs_with(DELEGATION, tmp_path, EX01, EX04)
    scores = {}
    for sandbox in (False, True):
        report = tmp_path / f"report-{sandbox}.json"
        grade(["ex01", "ex04", "--target", folder, "--json", report, "--data", mnist_path], tmp_path, str(sandbox), sandbox)
        scores[sandbox] = json.loads(report.read_text())["score"]
    assert scores == {False: EX01.max_score + EX04.max_score, True: 0}


# A student graded first in the batch who finds the batch's folders in the
# grader's command line, copies a classmate's work and spoils it.
CLASSMATE = '''

# --- appended by a determined student
def _raid():
    import os, shutil
    for pid in os.listdir("/proc"):
        try:
            args = open(f"/proc/{pid}/cmdline").read().split("\\0")
        except OSError:
            continue
        if "--batch" not in args:
            continue
        subs = args[args.index("--batch") + 1]
        if "classmates-raided-" not in subs:  # this test's class only, not one another test grades beside it
            continue
        mine = open(__file__).read()
        for name in os.listdir(subs):
            theirs = os.path.join(subs, name, os.path.basename(__file__))
            if os.path.isfile(theirs) and open(theirs).read() != mine:
                kept = os.path.join("/tmp", "stolen" + subs.replace("/", "-") + "-" + name + ".py")  # the worker restarts: keep the loot
                try:
                    if not os.path.exists(kept):
                        shutil.copyfile(theirs, kept)
                        with open(theirs, "w") as spoiled:
                            spoiled.write("raise SystemExit(1)\\n")
                    exec(compile(open(kept).read(), kept, "exec"), globals())
                except BaseException:  # another class graded on this machine: on to the next
                    pass
        out = args[args.index("--out") + 1]
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "gradebook.csv"), "w") as book:
            book.write("student,ex01\\n")


_raid()
'''


def test_a_student_in_a_batch_cannot_reach_a_classmate_or_the_gradebook(tmp_path, mnist_path):
    results = {}
    for sandbox in (False, True):
        subs, out = tmp_path / f"classmates-raided-{sandbox}", tmp_path / f"out-{sandbox}"
        (subs / "aaron").mkdir(parents=True)
        (subs / "aaron" / EX01.filename).write_text(EX01.stub_path.read_text() + CLASSMATE)
        (subs / "beth").mkdir()
        (subs / "beth" / EX01.filename).write_text(EX01.solution_path.read_text())
        args = ["ex01", "--batch", subs, "--out", out, "--jobs", "1", "--data", mnist_path]
        done = grade(args + ([] if sandbox else ["--allow-unsandboxed"]), tmp_path, f"batch-{sandbox}", sandbox)
        assert done.returncode == 0, done.stderr[-2000:]
        with (out / "gradebook.csv").open() as book:
            rows = {row["student"]: row for row in csv.DictReader(book)}
        results[sandbox] = (
            (subs / "beth" / EX01.filename).read_text() == EX01.solution_path.read_text(),
            {name: float(row["ex01"]) for name, row in rows.items()},
        )
    # Without the sandbox the raid works: beth's file is spoiled and aaron has her points.
    assert results[False][0] is False and results[False][1]["aaron"] == EX01.max_score
    assert results[True] == (True, {"aaron": 0, "beth": EX01.max_score})


# What a worker can see and do, asked from inside; the writes are judged from
# outside (inside, the sandbox's own empty root may take a file that goes nowhere).
PROBE = """
import os
import numpy as np

def normalize(images):
    seen = []
    for pid in os.listdir("/proc"):
        try:
            seen.append(open(f"/proc/{pid}/cmdline").read())
        except OSError:
            pass
    for path in PLANT:
        try:
            with open(path, "a") as planted:
                planted.write("# a student's line; an import line here would run in every later Python\\n")
        except OSError:
            pass
    return np.array([
        int(any("\\0-m\\0grader" in args or "pytest" in args for args in seen)),
        int(os.path.exists(os.path.join(ROOT, "solutions"))),
        int(os.path.exists(DATA)),
        int(os.path.exists(SECRET)),
        int(os.path.exists(CACHE)),
    ], dtype=np.int64)
"""
SEEN = ("a grader process", "the course checkout", "the MNIST data", "a file in the home folder", "the training cache")
PLANTED = ("a file in the course", "a .pth file in the virtualenv (it would run in every later Python)", "an entry in the training cache")


def probe(tmp_path, mnist_path):
    import sysconfig

    folder = tmp_path / "probe"
    folder.mkdir(exist_ok=True)
    secret = Path.home() / ".mnist-course-probe-secret"
    cache = Path(os.environ[CACHE_ENV])  # the test suite's, where the grader keeps trainings (tests/conftest.py)
    cache.mkdir(parents=True, exist_ok=True)
    plant = [ROOT / "planted-by-a-student.txt", Path(sysconfig.get_paths()["purelib"]) / "planted-by-a-student.pth", cache / ("0" * 64 + ".json")]
    preamble = (
        f"ROOT = {str(ROOT)!r}\nDATA = {str(mnist_path)!r}\nSECRET = {str(secret)!r}\nCACHE = {str(cache)!r}\n"
        f"PLANT = {[str(p) for p in plant]!r}\n"
    )
    (folder / EX01.filename).write_text(preamble + PROBE)
    secret.write_text("a grader's token")
    worker = Worker(folder / EX01.filename)
    try:
        outcome = worker.call("normalize", (np.zeros((1, 28, 28), np.uint8),))
        planted = [path.exists() for path in plant]
    finally:
        worker.dispose()
        for path in (secret, *plant):
            path.unlink(missing_ok=True)
    assert outcome.status == "returned", outcome
    return {**dict(zip(SEEN, map(bool, outcome.value.tolist()))), **dict(zip(PLANTED, planted))}


def test_student_code_sees_nothing_of_the_grader_the_course_or_the_machine(tmp_path, mnist_path, monkeypatch):
    inside = probe(tmp_path, mnist_path)
    with sandbox_switched_off(monkeypatch):
        outside = probe(tmp_path, mnist_path)
    assert inside == dict.fromkeys(SEEN + PLANTED, False)
    # Switched off, every one of them leaks (for the grader's own user, as here and in CI).
    assert outside == dict.fromkeys(SEEN + PLANTED, True)


def test_the_report_says_which_isolation_graded_it(tmp_path, mnist_path):
    for sandbox in (True, False):
        report = tmp_path / f"report-{sandbox}.json"
        done = grade(["ex01", "--target", "solutions", "--json", report, "--data", mnist_path], tmp_path, str(sandbox), sandbox)
        isolation = json.loads(report.read_text())["environment"]["isolation"]
        if sandbox:
            assert isolation.startswith("bubblewrap sandbox"), isolation
            assert "REDUCED" not in done.stdout
        else:
            assert isolation.startswith("REDUCED: no sandbox (switched off with MNIST_COURSE_SANDBOX=off)"), isolation
            assert "isolation is REDUCED" in done.stderr


def test_a_batch_without_the_sandbox_needs_the_instructors_say_so(tmp_path, mnist_path):
    subs = tmp_path / "subs"
    (subs / "beth").mkdir(parents=True)
    (subs / "beth" / EX01.filename).write_text(EX01.solution_path.read_text())
    done = grade(["ex01", "--batch", subs, "--out", tmp_path / "out", "--data", mnist_path], tmp_path, "refused", sandbox=False)
    assert done.returncode == 2 and "--allow-unsandboxed" in done.stderr
    assert not (tmp_path / "out" / "gradebook.csv").exists()
    done = grade(["ex01", "--batch", subs, "--out", tmp_path / "out", "--data", mnist_path, "--allow-unsandboxed"], tmp_path, "allowed", sandbox=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "students" / "beth" / "report.json").read_text())
    assert report["environment"]["isolation"].startswith("REDUCED")


def test_nothing_in_a_class_folder_stops_or_skews_anyone_elses_grade(tmp_path, mnist_path):
    """Symlinks are never followed (nor deduplicated onto a classmate); a deep
    tree, a FIFO and a name that is not UTF-8 are that student's error alone."""
    subs = tmp_path / "subs"
    (subs / "beth").mkdir(parents=True)
    (subs / "beth" / EX01.filename).write_text(EX01.solution_path.read_text())
    (subs / "copycat").symlink_to(subs / "beth")  # a folder that is a link to a classmate's
    (subs / "linker").mkdir()
    (subs / "linker" / EX01.filename).symlink_to(ROOT / "solutions" / EX01.filename)  # a file that is a link to the reference
    deep = subs / "deep"
    deep.mkdir()
    (deep / EX01.filename).write_text(EX01.solution_path.read_text())
    nested = deep
    for _ in range(40):
        nested = nested / "d"
    nested.mkdir(parents=True)
    (subs / "fifo").mkdir()
    (subs / "fifo" / EX01.filename).write_text(EX01.solution_path.read_text())
    os.mkfifo(subs / "fifo" / "helper.py")
    odd = os.path.join(os.fsencode(subs), b"caf\xe9")  # Latin-1 bytes: not a UTF-8 name
    os.mkdir(odd)
    with open(os.path.join(odd, os.fsencode(EX01.filename)), "w") as fh:
        fh.write(EX01.solution_path.read_text())
    out = tmp_path / "out"
    done = grade(["ex01", "--batch", subs, "--out", out, "--data", mnist_path], tmp_path, "odd-class")
    assert done.returncode == 1, done.stderr[-2000:]  # some students could not be graded
    with (out / "gradebook.csv").open() as book:
        rows = {row["student"]: row for row in csv.DictReader(book)}
    assert rows["beth"]["ex01"] == str(EX01.max_score) and rows["beth"]["status"] == "graded"
    assert rows["linker"]["ex01"] == "0"  # its only exercise file is a link: treated as absent
    assert "symbolic link" in rows["copycat"]["status"] and rows["copycat"]["ex01"] == ""
    assert "nested deeper than" in rows["deep"]["status"]
    assert "not a regular file" in rows["fifo"]["status"]
    assert "not plain text" in rows["caf\\xe9"]["status"]


def test_an_exercise_is_graded_from_its_own_file_and_its_helpers_never_another_exercise_s(tmp_path):
    """A worker receives its exercise's file and the submission's other sources, never the course's other
    exercise files: code that imports one fails at import with a cause that says so, a helper module beside
    it imports; so an exercise's grade (and ex02b's training reused across a class, training/by_hand.py)
    depends on its own file and helpers alone. Proven both ways: with nothing left out, the import works."""
    from grader.isolation.student import Student

    ex04 = COURSE.exercise("ex04")
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / EX01.filename).write_text(EX01.solution_path.read_text())
    (folder / "my_helpers.py").write_text("PAIRS = 3\n")
    (folder / ex04.filename).write_text("from my_helpers import PAIRS\nfrom ex01_preprocessing import one_hot\n" + ex04.solution_path.read_text())
    labels = np.array([0, 1, 1], dtype=np.int64)

    student = Student(ex04, folder)
    try:
        assert [str(p) for p in student.worker.received()] == [ex04.filename, "my_helpers.py"]
        with pytest.raises(Exception) as failed:
            student.call("confusion_matrix", labels, labels, num_classes=2).value
        said = failed.value.render()
        assert f"No module named '{EX01.module}'" in said and f"an import of {EX01.filename}, another exercise's file" in said, said
    finally:
        student.close()

    student = Student(ex04, folder)
    student.worker.leave_out = frozenset()  # the protection off: the worker receives every source
    try:
        assert student.call("confusion_matrix", labels, labels, num_classes=2).value.tolist() == [[1, 0], [0, 2]]
    finally:
        student.close()


def test_a_module_has_one_time_budget_across_calls_and_restarts(tmp_path, monkeypatch):
    from grader.isolation import sandbox

    monkeypatch.setattr(sandbox, "TIME_BUDGET", 4.0)
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / EX01.filename).write_text("import time\ndef normalize(images):\n    time.sleep(60)\n")
    worker = Worker(folder / EX01.filename)
    try:
        statuses = [worker.call("normalize", (np.zeros((1, 28, 28), np.uint8),), timeout=1.5).status for _ in range(5)]
    finally:
        worker.dispose()
    # each timeout replaces the worker (a fresh import each time); then the budget is spent
    assert statuses[:2] == ["timeout", "timeout"] and statuses[-1] == "exhausted", statuses
    assert worker.spent < 4.0 + 2.0


def test_a_module_that_fails_at_once_still_has_its_output_read_however_slow_the_grader(tmp_path, monkeypatch):
    """The worker's folder lives only in its sandbox: the grader opens it once the runner says it
    started. A grader slowed there (a busy machine) must still find the worker, and what its
    module printed before failing; the runner waits for the grader's word before importing it."""
    from grader.isolation import sandbox

    opened = sandbox.WorkerProcess.open_area

    def slow_open_area(process):
        time.sleep(1.0)  # far longer than the module takes to fail
        opened(process)

    monkeypatch.setattr(sandbox.WorkerProcess, "open_area", slow_open_area)
    folder = tmp_path / "fails"
    folder.mkdir()
    (folder / EX01.filename).write_text('print("loading the weights")\nimport not_a_real_package\n')
    worker = Worker(folder / EX01.filename)
    try:
        outcome = worker.call("normalize", (np.zeros((1, 28, 28), np.uint8),))
    finally:
        worker.dispose()
    assert outcome.status == "raised" and outcome.stage == "import" and "not_a_real_package" in outcome.exc_message, outcome
    assert "loading the weights" in outcome.output, outcome


def test_a_course_installed_inside_the_runtime_is_hidden_there(tmp_path, monkeypatch):
    """A regular install puts grader/ and mnist_course/ in site-packages, which
    the sandbox shows read-only: there they are empty folders."""
    site = tmp_path / "site-packages"
    for package in ("grader", "mnist_course"):
        (site / package).mkdir(parents=True)
        (site / package / "__init__.py").write_text("SECRET = 1\n")
    (site / "numpy_like").mkdir()
    (site / "numpy_like" / "__init__.py").write_text("")
    runtime = bubblewrap._runtime_dirs()
    monkeypatch.setattr(bubblewrap, "_runtime_dirs", lambda: [*runtime, site])
    monkeypatch.setattr(bubblewrap, "_course_packages", lambda: [site / "grader", site / "mnist_course"])
    work = tmp_path / "work"
    work.mkdir()
    listing = "import os, sys; print(sorted(os.listdir(sys.argv[1])), os.listdir(sys.argv[1] + '/grader'), os.listdir(sys.argv[1] + '/numpy_like'))"
    command = bubblewrap.command(bubblewrap.find(), work, ROOT / "grader" / "isolation" / "_child.py", [sys.executable, "-I", "-c", listing, str(site)])
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.stdout.split("] ", 1)[0] + "]" == "['grader', 'mnist_course', 'numpy_like']", done.stderr
    assert done.stdout.strip().endswith("[] ['__init__.py']"), done.stdout


def test_a_package_folder_outside_the_worker_s_own_environment_is_empty_there(tmp_path, monkeypatch):
    """A virtualenv's base interpreter keeps packages of its own (mpmath, say) in a
    site-packages the sandbox mounts with the runtime. Appended to sys.path, it gave
    a by-hand exercise mpmath's binomial tails (an adversarial review): inside, any
    folder of packages the worker's interpreter does not import from is empty."""
    base = tmp_path / "base"
    site = base / "lib" / "python3.11" / "site-packages"
    (site / "tails").mkdir(parents=True)
    (site / "tails" / "__init__.py").write_text("def binomial_tail(k, n): return 0.5\n")
    runtime = bubblewrap._runtime_dirs()
    monkeypatch.setattr(bubblewrap, "_runtime_dirs", lambda: [*runtime, base])
    assert site in bubblewrap.foreign_package_folders()  # not on the worker's import path
    work = tmp_path / "work"
    work.mkdir()
    reach = "import sys; sys.path.append(sys.argv[1]); import os; print(sorted(os.listdir(sys.argv[1])))"

    def listed() -> str:
        command = bubblewrap.command(bubblewrap.find(), work, ROOT / "grader" / "isolation" / "_child.py", [sys.executable, "-I", "-c", reach, str(site)])
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert listed() == "[]"
    monkeypatch.setattr(bubblewrap, "foreign_package_folders", lambda: ())  # switched off: the folder is the host's
    assert listed() == "['tails']"


# -- what an adversarial review found, each proven both ways


def _outcome(tmp_path, source):
    folder = tmp_path / "student"
    folder.mkdir(exist_ok=True)
    (folder / EX01.filename).write_text(source)
    worker = Worker(folder / EX01.filename)
    try:
        return worker.call("normalize", (np.zeros((1, 28, 28), np.uint8),))
    finally:
        worker.dispose()


KERNEL_SETTING = '''import numpy as np
def normalize(images):
    try:
        open("/proc/sys/kernel/core_pattern", "a").close()  # opened for writing, nothing written
        return np.array(1)
    except OSError:
        return np.array(0)
'''


def test_kernel_settings_are_read_only_even_when_the_grader_is_root(tmp_path, monkeypatch):
    """As root, the sandbox's user is root (without capabilities) outside, and
    the kernel lets that user write /proc/sys: core_pattern leads to the host."""
    assert _outcome(tmp_path, KERNEL_SETTING).value == 0
    if os.geteuid() == 0:  # switched off, the cover is what stood in the way
        monkeypatch.setattr(bubblewrap, "PROC_COVERS", ())
        assert _outcome(tmp_path, KERNEL_SETTING).value == 1


PLANT_IN_INBOX = '''import glob, os, numpy as np
def normalize(images):
    planted = 0
    for inbox in glob.glob("/tmp/mnist-grader-in-*"):  # where the grader writes each call's arguments
        try:
            os.symlink("/etc/passwd", os.path.join(inbox, "planted"))
            planted = 1
        except OSError:
            pass
    return np.array(planted)
'''


def test_the_folder_the_grader_writes_arguments_into_is_read_only_for_student_code(tmp_path, monkeypatch):
    """A link planted where the grader writes next would turn its write into one anywhere on the machine."""
    assert _outcome(tmp_path, PLANT_IN_INBOX).value == 0
    with sandbox_switched_off(monkeypatch):
        assert _outcome(tmp_path, PLANT_IN_INBOX).value == 1


def test_a_result_folder_replaced_by_a_link_is_never_read_through(tmp_path):
    from grader.isolation.reply import Budget, decode

    outside = tmp_path / "outside"
    outside.mkdir()
    np.save(outside / "value0.npy", np.arange(3))
    folder = tmp_path / "work" / "call-x"
    folder.parent.mkdir()
    folder.symlink_to(outside)
    with pytest.raises(OSError):
        Budget(folder, tmp_path)
    folder.unlink()
    folder.mkdir()
    budget = Budget(folder, tmp_path)
    try:  # a name that is not a plain name in the call's folder is refused too
        with pytest.raises(ValueError):
            decode({"kind": "ndarray", "file": str(folder / ".." / "outside" / "value0.npy")}, budget)
        length = decode({"kind": "other", "type": "x", "length": "\x1b[2K forged"}, budget)
        assert length.length is None  # printed in messages: only a number gets through
    finally:
        budget.close()


def test_cleaning_up_never_follows_a_link_and_copes_with_any_depth(tmp_path):
    from grader.isolation.safe_files import remove_tree

    outside = tmp_path / "outside"
    (outside / "inner").mkdir(parents=True)
    os.chmod(outside, 0o755)
    os.chmod(outside / "inner", 0o755)
    work = tmp_path / "work"
    work.mkdir()
    (work / "link").symlink_to(outside)
    (work / "locked").mkdir()
    fd = os.open(work, os.O_RDONLY)
    for _ in range(2000):  # deeper than Python's recursion limit
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    os.chmod(work / "locked", 0)
    remove_tree(work)
    assert not work.exists()
    assert (outside / "inner").is_dir()
    assert (os.stat(outside).st_mode & 0o777, os.stat(outside / "inner").st_mode & 0o777) == (0o755, 0o755)
    link = tmp_path / "a-link"
    link.symlink_to(outside)
    remove_tree(link)  # the link goes, never what it points to
    assert not link.is_symlink() and outside.is_dir()


LOOPBACK = '''import socket, numpy as np
def normalize(images):
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
        return np.array(1)
    except OSError:
        return np.array(0)
'''


def test_student_code_cannot_reach_a_server_on_the_graders_loopback(tmp_path, monkeypatch):
    import socket

    from grader.isolation import sandbox

    server = socket.create_server(("127.0.0.1", 0))  # what a grader or a notebook server might listen on
    source = LOOPBACK.format(port=server.getsockname()[1])
    try:
        assert _outcome(tmp_path, source).value == 0
        # Switched off (the sandbox, and the network namespace a root grader gives a bare worker), it connects.
        limiter = sandbox.limiter
        monkeypatch.setattr(sandbox, "limiter", lambda memory, own_network=True: limiter(memory, own_network=False))
        with sandbox_switched_off(monkeypatch):
            assert _outcome(tmp_path, source).value == 1
    finally:
        server.close()


# Exercise 3b's code trains models in the worker on data the grader hands in:
# a training subset and a validation split, never the test set. A student who
# wants the test set anyway tries Keras's download and the course's data file
# (its path as the grader's command line names it).
TEST_SET_RAID = '''
def validation_accuracy(x_train, y_train, x_val, y_val, width, seed):
    import socket
    import numpy as np
    found = {}
    try:
        with np.load(DATA_FILE) as data:
            found["file"] = int(len(data["x_test"]))
    except Exception as exc:  # noqa: BLE001
        found["file_error"] = type(exc).__name__
    socket.setdefaulttimeout(5)
    try:
        import keras
        found["download"] = int(len(keras.datasets.mnist.load_data()[1][0]))
    except Exception as exc:  # noqa: BLE001
        found["download_error"] = type(exc).__name__
    return found
'''


def test_experiment_code_cannot_reach_the_test_set(tmp_path, mnist_path, monkeypatch):
    ex03b = COURSE.exercise("ex03b")
    folder = tmp_path / "raid"
    folder.mkdir()
    (folder / ex03b.filename).write_text(f"DATA_FILE = {str(Path(mnist_path).resolve())!r}\n" + TEST_SET_RAID)
    args = (np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.int64), np.zeros((2, 28, 28), np.uint8), np.zeros(2, np.int64))

    def raid():
        worker = Worker(folder / ex03b.filename, memory=ex03b.memory_mb << 20)
        try:
            outcome = worker.call("validation_accuracy", args, {"width": 8, "seed": 0}, timeout=120)
        finally:
            worker.dispose()
        assert outcome.status == "returned", (outcome.status, outcome.exc_message, outcome.output)
        return outcome.value

    with sandbox_switched_off(monkeypatch):
        assert raid().get("file", 0) > 0  # the attack is real: without the sandbox the file is there to read
    found = raid()
    assert "file" not in found and "download" not in found, found
