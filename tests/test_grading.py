"""The grader end to end: solutions pass, stubs are "not started", hostile and
broken submissions get exactly what they deserve, and the CLI keeps its promises
(exit codes, JSON schema, data provenance)."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jsonschema
import numpy as np
import pytest

import golden_reports

from grader.feedback import Feedback, NotStarted
from grader.isolation.student import Student
from grader.isolation.untouched_stub import stub_outcomes
from grader.reports.written import ANSWERS
from mnist_course.course import ROOT, load_course, not_started_message

SCHEMA = json.loads((ROOT / "grader" / "reports" / "report.schema.json").read_text())
EX01 = load_course().exercise("ex01")
COURSE = load_course()
SOLUTION = EX01.solution_path.read_text()


def graded(run_grader, tmp_path, *args):
    """Run the grader with a JSON report; return (exit code, report, stdout)."""
    out = tmp_path / "report.json"
    result = run_grader(*args, "--json", out)
    report = json.loads(out.read_text()) if out.exists() else None
    return result.returncode, report, result.stdout + result.stderr


def checks(report):
    return {c["name"]: c for ex in report["exercises"] for c in ex["checks"]}


@pytest.fixture(scope="module")
def solutions_run(run_grader, mnist_path, tmp_path_factory):
    return graded(run_grader, tmp_path_factory.mktemp("solutions"), "--target", "solutions")


@pytest.fixture(scope="module")
def stubs_run(run_grader, mnist_path, tmp_path_factory):
    return graded(run_grader, tmp_path_factory.mktemp("stubs"))


@pytest.mark.trains
def test_every_solution_passes_every_check(solutions_run):
    code, report, output = solutions_run
    failed = {n: c["message"] for n, c in checks(report).items() if c["status"] != "passed"}
    assert failed == {}, output
    assert code == 0
    assert report["score"] == report["max_score"] == sum(ex.max_score for ex in load_course().exercises)


def test_every_untouched_stub_fails_every_check_as_not_started(stubs_run):
    code, report, output = stubs_run
    assert code == 1
    assert report["score"] == 0
    for name, check in checks(report).items():
        assert check["status"] == "not started", (name, check["message"])
        assert "is not started yet" in check["message"]
        assert "Traceback" not in check["message"]
    assert f"Total: 0/{report['max_score']} points" in output


def _golden(name: str, report: dict, update: bool) -> list[str]:
    """Each exercise of `report` against tests/golden/<name>-<exercise>.json (tests/golden_reports.py)."""
    return [f"{ex['id']}: {said}" for ex in report["exercises"] for said in golden_reports.compare(f"{name}-{ex['id']}", report, ex["id"], update)]


@pytest.mark.trains
def test_the_references_reports_are_their_golden_reports(solutions_run, pytestconfig):
    changed = _golden("reference", solutions_run[1], pytestconfig.getoption("--update-golden"))
    assert changed == [], "the references' reports differ from tests/golden/ (if meant, --update-golden and review):\n" + "\n".join(changed)


def test_the_stubs_reports_are_their_golden_reports(stubs_run, pytestconfig):
    changed = _golden("stub", stubs_run[1], pytestconfig.getoption("--update-golden"))
    assert changed == [], "the stubs' reports differ from tests/golden/ (if meant, --update-golden and review):\n" + "\n".join(changed)


@pytest.mark.trains
def test_reports_follow_the_documented_schema(solutions_run, stubs_run):
    for _, report, _ in (solutions_run, stubs_run):
        jsonschema.validate(report, SCHEMA)


@pytest.mark.trains
def test_reports_state_the_data_they_used(solutions_run, mnist_path):
    _, report, output = solutions_run
    assert report["data"]["path"] == str(Path(mnist_path).resolve())
    assert len(report["data"]["sha256"]) == 64
    assert report["data"]["n_test"] > 0
    assert "Data: " in output and report["data"]["dataset"] in output


@pytest.mark.trains
def test_reports_carry_what_the_feedback_page_plots(solutions_run, stubs_run, mnist_path):
    """Each model's accuracy check keeps its training (history, confusion matrix,
    most confident mistakes) as small plain data; a stub has none."""
    from mnist_course.data import load_mnist

    y_test = load_mnist(mnist_path).y_test
    _, report, _ = solutions_run
    trained = {ex["id"]: [c for c in ex["checks"] if "training" in c] for ex in report["exercises"]}
    assert {k for k, rows in trained.items() if rows} == {ex.id for ex in load_course().exercises if ex.training}
    for (check,) in filter(None, trained.values()):
        training, measured = check["training"], check["measured"]
        assert check["name"] == "build_model_test_accuracy"
        assert set(training["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert all(len(values) == measured["epochs_run"] for values in training["history"].values())
        confusion = np.array(training["confusion"])
        assert (measured["half"], measured["test_images"]) == ("public", len(y_test) // 2)  # a student's own run
        assert confusion.sum() == measured["test_images"] and np.trace(confusion) == round(measured["test_accuracy"] * measured["test_images"])
        mistakes = training["misclassified"]
        assert 0 < len(mistakes) <= 16
        assert all(m["index"] % 2 == 0 for m in mistakes)  # from the public half only
        assert [m["confidence"] for m in mistakes] == sorted((m["confidence"] for m in mistakes), reverse=True)
        assert all(y_test[m["index"]] == m["label"] != m["predicted"] for m in mistakes)
    assert len(json.dumps(report)) < 50_000  # no per-image data
    assert not any("training" in c for ex in stubs_run[1]["exercises"] for c in ex["checks"])


@pytest.mark.trains
def test_an_instructors_grade_measures_the_other_half_of_the_test_set(solutions_run, run_grader, tmp_path, mnist_path):
    """A student tunes against the public half; `--half private` (what --batch,
    Gradescope and Classroom use) measures the same training on the other half,
    against that half's own bar. Together the halves are the whole test set."""
    from mnist_course.data import load_mnist

    y_test = load_mnist(mnist_path).y_test
    _, public_report, output = solutions_run
    assert "measured on the public half of the test set (5,000 images); your instructor grades on the other half" in output
    code, private_report, output = graded(run_grader, tmp_path, "ex02", "--target", "solutions", "--half", "private")
    assert code == 0, output
    assert "private half" in output
    public, private = (checks(r)["build_model_test_accuracy"] for r in (public_report, private_report))
    assert (private["measured"]["half"], public["measured"]["half"]) == ("private", "public")
    assert private["measured"]["threshold"] == load_course().exercise("ex02").thresholds["mnist-22k"]["private"]
    both = np.array(public["training"]["confusion"]) + np.array(private["training"]["confusion"])
    assert both.sum() == len(y_test) and both.sum(axis=1).tolist() == np.bincount(y_test, minlength=10).tolist()
    assert all(m["index"] % 2 == 1 for m in private["training"]["misclassified"])
    whole = (public["measured"]["test_accuracy"] + private["measured"]["test_accuracy"]) / 2
    assert np.trace(both) == round(whole * len(y_test))


def test_a_bad_test_half_is_refused_before_grading(run_grader, monkeypatch):
    monkeypatch.setenv("MNIST_COURSE_TEST_HALF", "secret")
    result = run_grader("ex01", "--target", "solutions")
    assert result.returncode == 2 and "public or private" in result.stderr


def test_pytest_alone_grades_with_teaching_messages(mnist_path):
    """`pytest grader` is the same grader; failures show the lesson, not a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "grader", "-q", "-k", "normalize_values"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1, result.stdout
    assert "normalize() is not started yet" in result.stdout
    assert "grader/isolation/student.py" not in result.stdout  # no traceback into the grader


# Runs the grader's checks of ex01 on the stubs as the `grader` command does (pytest without its
# terminal), and prints what each failed check's report holds, as pytest made it, before the plugin's
# wrapper puts the row's message in its place.
TAUGHT_FAILURES = """
import sys, pytest
seen = []
class Seen:
    @pytest.hookimpl(wrapper=True, trylast=True)  # the innermost wrapper: the report as made, before the plugin's wrapper
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if report.failed:
            seen.append(type(report.longrepr).__name__ + ': ' + str(report.longrepr).splitlines()[0])
        return report
pytest.main([sys.argv[1], "-c", sys.argv[2], "-p", "no:terminal"], plugins=[Seen()])
print("\\n".join(seen))
"""


def test_a_failure_that_teaches_is_reported_without_a_formatted_traceback(mnist_path):
    """A check that fails with its teaching message gets a pytest report holding that message, with
    no traceback formatted: nobody reads one, and formatting them was a third of the CPU of grading
    a class folder that holds one exercise of eleven (plugin.py). Switched off, the reports hold
    pytest's formatted traceback (ReprExceptionInfo) and this fails."""
    result = subprocess.run(
        [sys.executable, "-c", TAUGHT_FAILURES, str(EX01.grader_path), str(ROOT / "grader" / "pytest.ini")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "MNIST_COURSE_TARGET": str(ROOT / "exercises"), "MNIST_COURSE_DATA": mnist_path},
    )
    seen = result.stdout.splitlines()
    assert len(seen) == len(EX01.checks), result.stdout + result.stderr[-2000:]
    assert all(line.startswith("str: ") and "is not started yet" in line for line in seen), seen


@pytest.mark.parametrize(
    "args, message",
    [
        (["ex99"], "unknown exercise"),
        (["--target", "/no/such/folder"], "does not exist"),
        (["--data", "/no/such/file.npz"], "no such file"),
        (["--hint", "ex99"], "unknown exercise"),
        (["--json", "/no/such/folder/report.json"], "cannot write the report"),
    ],
)
def test_cli_exits_2_when_it_cannot_grade(run_grader, args, message):
    result = run_grader(*args)
    assert result.returncode == 2
    assert message in result.stderr.lower()
    assert "Traceback" not in result.stderr


def test_cli_exits_2_on_corrupt_data(run_grader, tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not an npz file")
    result = run_grader("--data", bad)
    assert result.returncode == 2
    assert str(bad) in result.stderr



# ------------------------------------------------------------------ hostile and broken submissions


def submission(tmp_path, source, **extra_files):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / EX01.filename).write_text(source)
    for name, text in extra_files.items():
        (folder / name.replace("__dot__", ".")).write_text(textwrap.dedent(text))
    return folder


MALICIOUS_CONFTEST = """
    import pathlib, pytest
    pathlib.Path(__file__).with_name("CONFTEST_RAN").write_text("yes")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(item, call):
        report = yield
        report.outcome = "passed"
        return report
"""


def test_hostile_folder_gets_points_only_for_honest_work(run_grader, tmp_path, mnist_path):
    # one_hot ends the process; its output claims success; the rest is correct.
    source = SOLUTION.replace(
        "    labels = np.asarray(labels)\n",
        "    print('PASSED 19/19 points'); import os; os._exit(0)\n",
        1,
    )
    folder = submission(
        tmp_path,
        source,
        **{
            "conftest.py": MALICIOUS_CONFTEST,
            "pytest__dot__ini": "[pytest]\naddopts = --this-option-breaks-pytest\n",
            "sitecustomize.py": "import os; os._exit(0)\n",
        },
    )
    code, report, output = graded(run_grader, tmp_path, "ex01", "--target", folder)
    assert code == 1
    one_hot_points = sum(EX01.function("one_hot").checks.values())
    assert report["score"] == EX01.max_score - one_hot_points
    assert "ended (exit status 0) before one_hot() returned" in checks(report)["one_hot_values"]["message"]
    for name, check in checks(report).items():
        if name.startswith("one_hot"):
            assert check["status"] == "failed"
            assert (
                "ended (exit status 0) before one_hot() returned" in check["message"]
                or "counts once one_hot_values passes" in check["message"]
            )
        else:
            assert check["status"] == "passed", (name, check["message"])
    assert not (folder / "CONFTEST_RAN").exists()


def test_module_that_exits_on_import_scores_zero_without_crashing(run_grader, tmp_path, mnist_path):
    folder = submission(tmp_path, "import os\nos._exit(0)\n" + SOLUTION, **{"conftest.py": MALICIOUS_CONFTEST})
    code, report, output = graded(run_grader, tmp_path, "--target", folder)
    assert code == 1
    assert report["score"] == 0
    assert {c["status"] for c in checks(report).values()} == {"failed"}
    # Said once, at the exercise; normalize_values, like every check, points there (tests/test_one_cause.py).
    assert "process running your code ended" in report["exercises"][0]["import_failure"]["message"]
    assert checks(report)["normalize_values"]["not_checked"] == "import_failure"
    assert not (folder / "CONFTEST_RAN").exists()


def test_classic_mistakes_get_a_diagnosis(run_grader, tmp_path, mnist_path):
    source = (
        SOLUTION.replace("return images.astype(np.float32) / np.float32(255)", "return images / 255")
        .replace("return np.eye(num_classes, dtype=np.float32)[labels]", "return np.eye(num_classes, dtype=np.float32)[labels.astype(int) - 1]")
        .replace("    rng = np.random.default_rng(seed)\n",
                 "    rng = np.random.default_rng(seed)\n"
                 "    order = rng.permutation(len(images))\n"
                 "    images[:], labels[:] = images[order], labels[order]  # shuffles the caller's arrays\n")
    )
    assert "# shuffles the caller's arrays" in source  # the reference still holds the line each mistake is planted at
    folder = submission(tmp_path, source)
    _, report, _ = graded(run_grader, tmp_path, "--target", folder)
    c = checks(report)
    assert "Got dtype float64" in c["normalize_values"]["message"]
    assert "Likely cause: numpy turns uint8 / 255 into float64" in c["normalize_values"]["message"]
    assert "off-by-one" in c["one_hot_values"]["message"]
    assert "shuffling in place" in c["train_val_split_leaves_input"]["message"]
    for message in (c[n]["message"] for n in ("one_hot_values", "normalize_values")):
        assert message.startswith("Called ")
        assert 'See lesson 1, "' in message


# ------------------------------------------------------------------ the call boundary, one case at a time


@pytest.fixture
def student_in(tmp_path):
    made = []

    def make(source, timeout=10):
        folder = tmp_path / "sub"
        folder.mkdir(exist_ok=True)
        (folder / EX01.filename).write_text(textwrap.dedent(source))
        made.append(Student(EX01, folder))
        made[-1].timeout = timeout
        return made[-1]

    yield make
    for student in made:
        student.close()


ONE = np.arange(3, dtype=np.uint8)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("def normalize(images):\n    return (\n", "Importing ex01_preprocessing.py failed with SyntaxError: '(' was never closed (ex01_preprocessing.py, line 2"),
        ("import not_a_real_package\n", "ModuleNotFoundError: No module named 'not_a_real_package'"),
        ("def something_else():\n    pass\n", "has no function normalize()"),
        ("def normalize(images):\n    pass\n", "Got None (did the function forget to `return`"),
        ("def normalize(images):\n    return [0.1, 0.2]\n", "Got a list of 2 items"),
        ("import sys\ndef normalize(images):\n    sys.exit(0)\n", "called sys.exit()"),
        ("import os\ndef normalize(images):\n    os._exit(3)\n", "ended (exit status 3) before normalize() returned"),
        ("def normalize(images):\n    return images[5]\n", "It raised IndexError"),
        ("def normalize(images):\n    return {'a': 1}\n", "Got a dict with 1 key"),
        ("def normalize(images):\n    return 10 ** 5000\n", "It returned a value the grader cannot receive: not expressible in JSON"),
        ("def normalize(images):\n    return images.astype(str)\n", "which does not hold plain numbers"),
        ("import os, signal\ndef normalize(images):\n    os.kill(os.getpid(), signal.SIGSEGV)\n", "killed by signal SIGSEGV"),
        ("def normalize(images):\n    raise NotImplementedError('float16 is not supported')\n", "It raised NotImplementedError: float16"),
        ("import os\nos._exit(0)\n", "ended (exit status 0) while importing ex01_preprocessing.py"),
    ],
)
def test_broken_code_fails_its_check_with_a_clear_message(student_in, source, expected):
    student = student_in(source)
    with pytest.raises(Feedback) as caught:
        student.call("normalize", ONE, expect="a float32 array").array()
    assert expected in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_raised_errors_point_at_the_students_line(student_in):
    student = student_in("def normalize(images):\n    x = 1\n    return images[5]\n")
    with pytest.raises(Feedback) as caught:
        student.call("normalize", ONE).value
    assert "ex01_preprocessing.py, line 3, in normalize: return images[5]" in str(caught.value)


def test_endless_loop_times_out_and_leaves_no_process(student_in, tmp_path):
    marker = tmp_path / "sleeper-was-here"
    student = student_in(
        f"""
        import os, signal, subprocess, sys, time
        def normalize(images):
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3); open({str(marker)!r}, 'w').write('x')"])
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:
                pass
        """,
        timeout=1.5,
    )
    with pytest.raises(Feedback) as caught:
        student.call("normalize", ONE).value
    assert "did not return within 1.5 s" in str(caught.value)
    time.sleep(4)
    assert not marker.exists(), "a process the submission started outlived its grading"


def test_a_daemon_that_leaves_the_process_group_is_killed_too(student_in, tmp_path):
    marker = tmp_path / "daemon-was-here"
    student = student_in(
        f"""
        import subprocess, sys
        def normalize(images):
            subprocess.Popen([sys.executable, "-c", "import os, time; os.setsid(); time.sleep(2); open({str(marker)!r}, 'w').write('x')"])
            return images / 255
        """
    )
    student.call("normalize", ONE).value
    student.close()
    time.sleep(3)
    assert not marker.exists(), "a daemon the submission started outlived its grading"


def test_an_import_that_never_ends_is_stopped_once(student_in):
    student = student_in("while True:\n    pass\n")
    student.worker.import_timeout = 1.0
    started = time.perf_counter()
    for function in ("normalize", "one_hot", "add_channel_axis"):
        with pytest.raises(Feedback, match="Importing ex01_preprocessing.py took longer than 1 s"):
            student.call(function, ONE).value
    assert time.perf_counter() - started < 5


def test_module_state_is_kept_between_calls_so_hidden_randomness_shows(student_in):
    student = student_in("import numpy as np\nrng = np.random.default_rng(0)\ndef normalize(images):\n    return rng.random(3)\n")
    first = student.call("normalize", ONE).value
    again = student.call("normalize", ONE, cached=False).value
    assert not np.array_equal(first, again)
    # asked again, the answer kept for the grading is still the first (ex02b's replays start from it)
    assert np.array_equal(student.call("normalize", ONE).value, first)


def test_not_started_is_recognised_only_from_the_call(student_in):
    student = student_in("def normalize(images):\n    raise NotImplementedError('normalize() is not started yet')\n")
    with pytest.raises(NotStarted):
        student.call("normalize", ONE).value


def test_graded_folder_is_left_clean(run_grader, tmp_path, mnist_path):
    folder = submission(tmp_path, SOLUTION)
    run_grader("--target", folder)
    assert sorted(p.name for p in folder.iterdir()) == [EX01.filename]


def test_a_copy_of_the_solutions_folder_passes(run_grader, tmp_path, mnist_path):
    folder = tmp_path / "copy"
    shutil.copytree(ROOT / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
    assert run_grader("--target", folder, "ex01").returncode == 0


def test_errors_must_say_what_is_wrong(student_in):
    student = student_in("def normalize(images):\n    raise ValueError()\n")
    with pytest.raises(Feedback, match="empty message"):
        student.call("normalize", ONE).expect_raises("ValueError")


def test_a_deliberate_raise_of_another_exception_is_told_from_an_accident(student_in):
    """Proven both ways: a check of the input that raises TypeError is told so; code that fails on the input is not."""
    on_purpose = student_in("def normalize(images):\n    if images.dtype != 'uint8':\n        raise TypeError(f'got {images.dtype}')\n    return images / 255\n")
    with pytest.raises(Feedback, match="the check raises TypeError where the docstring promises ValueError") as told:
        on_purpose.call("normalize", ONE.astype("float32")).expect_raises("ValueError")
    assert "by accident" not in str(told.value)
    by_accident = student_in("def normalize(images):\n    return images / 255 + images.max(axis=5)\n")
    with pytest.raises(Feedback, match="by accident") as told:
        by_accident.call("normalize", ONE.astype("float32")).expect_raises("ValueError")
    assert "the check raises" not in str(told.value)


def test_a_worker_that_dies_after_returning_costs_no_other_call(student_in):
    student = student_in(
        """
        import os, threading
        import numpy as np
        def normalize(images):
            threading.Timer(0.05, os._exit, (0,)).start()  # dies just after returning
            return images / 255
        def one_hot(labels, num_classes=10):
            import time; time.sleep(0.2)
            return np.eye(num_classes, dtype=np.float32)[labels]
        """
    )
    student.call("normalize", ONE).value
    assert student.call("one_hot", ONE).array().shape == (3, 10)


def test_stray_lines_on_the_result_pipe_are_never_taken_for_a_result(student_in):
    student = student_in(
        """
        import os, sys, threading, time
        import numpy as np
        FORGED = b'{"status": "raised", "stage": "call", "type": "ValueError", "message": "forged"}\\n'
        def normalize(images):
            threading.Timer(0.05, os.write, (int(sys.argv[3]), FORGED)).start()
            return images / 255
        def one_hot(labels, num_classes=10):
            time.sleep(0.2)
            return np.eye(num_classes, dtype=np.float32)[labels]
        """
    )
    student.call("normalize", ONE).value
    assert student.call("one_hot", ONE).array().shape == (3, 10)
    with pytest.raises(Feedback, match="It raised IndexError") as caught:  # the real answer
        student.call("one_hot", np.array([5, 11])).expect_raises("ValueError")
    assert "forged" not in str(caught.value)


def test_student_text_cannot_drive_the_terminal(student_in):
    student = student_in("def normalize(images):\n    print('\\x1b[2J fake')\n    raise RuntimeError('boom \\x1b[31m')\n")
    with pytest.raises(Feedback) as caught:
        student.call("normalize", ONE).value
    message = str(caught.value)
    assert "\x1b" not in message and "\\x1b[31m" in message
    assert "    | \\x1b[2J fake" in message


def test_a_result_may_not_claim_one_file_twice(tmp_path):
    from grader.isolation.reply import Budget, decode

    np.save(tmp_path / "value0.npy", np.zeros(3))
    node = {"kind": "ndarray", "file": str(tmp_path / "value0.npy")}
    with pytest.raises(ValueError):
        decode({"kind": "list", "items": [node, node]}, Budget(tmp_path, tmp_path))


def test_sigterm_stops_grading_and_leaves_nothing_behind(mnist_path, tmp_path):
    folder = submission(tmp_path, SOLUTION.replace('    images = np.asarray(images)\n    if images.ndim != 3:', '    while True:\n        pass\n    if images.ndim != 3:'))
    grading = subprocess.Popen([sys.executable, "-m", "grader", "--target", str(folder)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(4)  # into the endless add_channel_axis
    grading.terminate()
    out = grading.communicate(timeout=60)[0]
    assert grading.returncode == 2 and "interrupted" in out
    time.sleep(0.5)
    leftovers = subprocess.run(["pgrep", "-f", str(folder)], capture_output=True, text=True).stdout.split()
    assert leftovers == []


def test_the_course_cannot_be_imported_from_student_code(student_in):
    student = student_in("from mnist_course.course import ROOT\nexec((ROOT / 'solutions/ex01_preprocessing.py').read_text())\n")
    with pytest.raises(Feedback, match="belongs to the course's grader; student code cannot import it"):
        student.call("normalize", ONE).value


def test_memory_is_capped(student_in):
    student = student_in("import numpy as np\ndef normalize(images):\n    return np.ones((50_000, 50_000))\n")
    with pytest.raises(Feedback, match=r"MemoryError.*\n.*Likely cause: more memory than the grader allows \(4096 MiB\)"):
        student.call("normalize", ONE).value


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0, reason="network isolation needs Linux and root")
def test_student_code_has_no_network(student_in):
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    student = student_in(
        f"import socket\ndef normalize(images):\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    return images\n"
    )
    try:
        with pytest.raises(Feedback, match="It raised OSError|It raised ConnectionRefusedError|Network is unreachable"):
            student.call("normalize", ONE).value
    finally:
        server.close()


def test_validating_input_earns_nothing_for_a_function_that_does_not_do_its_job(run_grader, tmp_path, mnist_path):
    """prepare_image validates its input, then returns a blank image: it must not
    collect the points for rejecting bad input, leaving input untouched or
    treating colour like gray (it used to score 4 of 12), nor for its shape and
    dtype (issue 25: an all-zeros image earns 0)."""
    ex06 = load_course().exercise("ex06")
    source = ex06.solution_path.read_text()
    cut = "    ink = 255 - gray\n"
    assert cut in source
    source = source.replace(cut, "    if gray.max() - gray.min() < 32:\n        raise ValueError('no digit found')\n    return np.zeros((28, 28), np.float32)\n" + cut, 1)
    folder = tmp_path / "zeros"
    folder.mkdir()
    (folder / ex06.filename).write_text(source)
    _, report, output = graded(run_grader, tmp_path, "ex06", "--target", folder)
    prepare = {c["name"]: c for c in report["exercises"][0]["checks"] if c["function"] == "prepare_image"}
    earned = {name: c["score"] for name, c in prepare.items() if c["score"]}
    assert earned == {}, output  # the right shape and type of a blank image earn nothing either
    for name in ("prepare_image_colour", "prepare_image_rejects_bad_input", "prepare_image_leaves_input"):
        assert "counts once prepare_image_inverted passes" in prepare[name]["message"]


# ---------------------------------------------------------------- an untouched stub, read without a worker

def _read(exercise_id: str, edits: dict[str, str]) -> dict:
    """stub_outcomes of the exercise's stub with each `old: new` edit applied, against the stub."""
    stub = COURSE.exercise(exercise_id).stub_path.read_text(encoding="utf-8")
    source = stub
    for old, new in edits.items():
        assert old in source, old
        source = source.replace(old, new)
    return stub_outcomes(source.encode(), stub.encode())


def test_every_untouched_stub_is_read_without_running_it():
    """Each stub function gives the stub's own "not started" error, and answers() its blanks."""
    for exercise in COURSE.exercises:
        stub = exercise.stub_path.read_bytes()
        known = stub_outcomes(stub, stub)
        assert set(known) == {f.name for f in exercise.functions} | {ANSWERS}, exercise.id
        for function in exercise.functions:
            gives = known[function.name][1]
            assert isinstance(gives, NotImplementedError) and str(gives) == not_started_message(function.name)
        blanks = known[ANSWERS][1]
        assert isinstance(blanks, dict) and set(blanks) == {q.id for q in exercise.questions} and not any(a.strip() for a in blanks.values())


def test_only_what_cannot_change_a_stub_s_outcome_keeps_it_read_without_a_worker():
    """Comments, a setting's value and answers written as plain text keep the file read; anything
    else that could run, or change what a stub function does, leaves the file to its worker.
    Proven both ways: each edit below, one at a time."""
    kept = _read("ex02", {'CONSTRAINT = "sgd"  #': 'CONSTRAINT = "big_batch"  #', "# TODO: build": "# my notes\n    # TODO: build",
                          '"curves": """\n        """': '"curves": """At epoch 4 the validation loss was lowest."""'})
    assert isinstance(kept["build_model"][1], NotImplementedError)
    assert kept[ANSWERS][1]["curves"] == "At epoch 4 the validation loss was lowest."
    for edit in (
        {'    raise NotImplementedError("build_model() is not started yet")': "    return keras.Sequential()"},  # started
        {"def build_model():": "@staticmethod\ndef build_model():"},  # a decorator
        {"def training_settings():": "build_model = print\n\n\ndef training_settings():"},  # the name bound again
        {"import keras\n": "import keras\nNotImplementedError = ValueError\n"},  # the error itself bound
        {"import keras\n": "import keras\nprint('hello')\n"},  # a statement that runs
        {'CONSTRAINT = "sgd"  #': 'CONSTRAINT = str("sgd")  #'},  # a setting that is not a plain value
        {'"curves": """\n        """': '"curves": f"""{CONSTRAINT}"""'},  # an answer that computes
    ):
        assert _read("ex02", edit) == {}, edit


def test_an_untouched_stub_starts_no_worker_unless_something_can_run_beside_it(tmp_path, monkeypatch):
    """Alone in its folder, the stub's calls are answered without a worker, as a worker answers
    them; a call whose arguments do not bind, or a helper file beside it, goes to the worker."""
    from grader.isolation import sandbox

    ex02 = COURSE.exercise("ex02")
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / ex02.filename).write_bytes(ex02.stub_path.read_bytes())
    calls = []
    monkeypatch.setattr(sandbox.Worker, "call", lambda self, function, *a, **k: calls.append(function) or sandbox.CallOutcome("returned", value=0))
    student = Student(ex02, folder)
    with pytest.raises(NotStarted):
        student.call("build_model").value
    assert set(student.call(ANSWERS).value) == {q.id for q in ex02.questions} and calls == []
    assert student.call("build_model", np.zeros(3)).value == 0 and calls == ["build_model"]  # TypeError there: the worker says so
    (folder / "helpers.py").write_text("X = 1\n")
    beside = Student(ex02, folder)
    assert beside.call("build_model").value == 0 and calls == ["build_model"] * 2
    student.close()
    beside.close()


def test_a_stub_s_own_guards_leave_what_could_change_a_function_to_the_worker():
    """The guards below the shape's comparison, on a stub that would itself hold what they look
    for: a decorator, the function's name bound again, NotImplementedError bound."""
    base = 'def f():\n    raise NotImplementedError("f() is not started yet")\n'
    assert set(stub_outcomes(base.encode(), base.encode())) == {"f"}
    for source in ("@staticmethod\n" + base, base + "f = print\n", "NotImplementedError = ValueError\n" + base):
        assert "f" not in stub_outcomes(source.encode(), source.encode()), source


def test_a_file_edited_in_the_course_s_exercises_folder_is_never_its_own_stub(tmp_path, monkeypatch):
    """A student edits and grades exercises/<file> itself: the stub it is compared with is made
    from the reference solution, so an edit that fails the import goes to the worker (the review's
    finding: read from exercises/, the file was compared with itself and said "not started").
    Where there is no solution (a student's copy of the course), every call goes to the worker."""
    from mnist_course.course import Exercise

    ex01 = COURSE.exercise("ex01")
    folder = tmp_path / "exercises"
    folder.mkdir()
    edited = ex01.stub_path.read_text().replace("import numpy as np\n", "import numpy as np\nRNG = np.random.defualt_rng(0)\n", 1)
    (folder / ex01.filename).write_text(edited)
    monkeypatch.setattr(Exercise, "stub_path", property(lambda self: folder / self.filename))
    student = Student(ex01, folder)
    assert student.stub_outcomes() == {}
    (folder / ex01.filename).write_bytes((ROOT / "exercises" / ex01.filename).read_bytes())
    assert set(Student(ex01, folder).stub_outcomes()) == {f.name for f in ex01.functions} | {ANSWERS}
    monkeypatch.setattr(Exercise, "solution_path", property(lambda self: tmp_path / "no-solutions" / self.filename))
    assert Student(ex01, folder).stub_outcomes() == {}


def test_a_stub_s_answers_read_without_a_worker_are_what_a_worker_replies(tmp_path):
    """Texts a reply cuts and cleans (over 2,000 characters, control characters, a surrogate pair
    that JSON joins into one character, a key over 100 characters), read both ways."""
    ex01 = COURSE.exercise("ex01")
    folder = tmp_path / "student"
    folder.mkdir()
    texts = {"leakage": '"""\\x1b[31m red \\ud83d\\ude00 pair ' + "x" * 2100 + '"""', "k" * 120: '"a long key"'}
    answers = "".join(f'        "{key}": {text},\n' for key, text in texts.items())
    stub = ex01.stub_path.read_text()
    start = stub.index("    return {", stub.index("def answers("))
    (folder / ex01.filename).write_text(stub[:start] + "    return {\n" + answers + "    }\n")
    student = Student(ex01, folder)
    try:
        read = student.call(ANSWERS).value
        assert ANSWERS in student.stub_outcomes()
        student._stub_outcomes = {}  # the worker's own reply
        replied = student.call(ANSWERS, cached=False).value
        assert read == replied and "😀" in read["leakage"] and len(read["leakage"]) < 2100 and "k" * 100 in read, (read, replied)
    finally:
        student.close()
