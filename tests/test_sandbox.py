"""The sandbox's promises, each proven both ways: the attack succeeds with the
sandbox switched off (MNIST_COURSE_SANDBOX=off) and fails with it on.

The attacks are the ones a determined student found: find the course through
the editable install's finder or /proc and run the reference; read or
overwrite a classmate's work and the gradebook in a batch; look for the
grader's processes; plant a file the grader would run later.
"""

import csv
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from grader import bubblewrap
from grader.sandbox import Worker
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
        mine = os.path.dirname(os.path.abspath(__file__))
        for name in os.listdir(subs):
            theirs = os.path.join(subs, name, os.path.basename(__file__))
            if os.path.isfile(theirs) and not os.path.samefile(os.path.join(subs, name), mine):
                exec(compile(open(theirs).read(), theirs, "exec"), globals())
                with open(theirs, "w") as spoiled:
                    spoiled.write("raise SystemExit(1)\\n")
        out = args[args.index("--out") + 1]
        with open(os.path.join(out, "gradebook.csv"), "w") as book:
            book.write("student,ex01\\n")


_raid()
'''


def test_a_student_in_a_batch_cannot_reach_a_classmate_or_the_gradebook(tmp_path, mnist_path):
    results = {}
    for sandbox in (False, True):
        subs, out = tmp_path / f"subs-{sandbox}", tmp_path / f"out-{sandbox}"
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


# What a worker can see and do, asked from inside: each flag 1 is a leak.
PROBE = '''
import os, socket
import numpy as np

def normalize(images):
    seen = []
    for pid in os.listdir("/proc"):
        try:
            seen.append(open(f"/proc/{pid}/cmdline").read())
        except OSError:
            pass
    def can_write(path):
        try:
            with open(path, "a"):
                pass
            return 1
        except OSError:
            return 0
    flags = [
        int(any("grader" in args or "pytest" in args for args in seen)),  # a grader process in view
        int(os.path.exists(os.path.join(ROOT, "solutions"))),  # the course checkout
        int(os.path.exists(DATA)),  # the MNIST data
        can_write(os.path.join(ROOT, "planted.txt")),  # the grader's own files
        can_write(os.path.join(SITE, "planted.pth")),  # the virtualenv: a .pth file runs in every later Python
        int(os.path.exists(os.path.expanduser("~root"))) and int(os.access("/root", os.R_OK) and bool(os.listdir("/root"))),
    ]
    return np.array(flags, dtype=np.int64)
'''
LEAKS = ("grader process visible", "course checkout", "data file", "write to the course", "write to the virtualenv", "home folder")


def probe(tmp_path, mnist_path):
    import sysconfig

    folder = tmp_path / "probe"
    folder.mkdir(exist_ok=True)
    site = sysconfig.get_paths()["purelib"]
    source = f"ROOT = {str(ROOT)!r}\nDATA = {str(mnist_path)!r}\nSITE = {site!r}\n" + PROBE
    (folder / EX01.filename).write_text(source)
    worker = Worker(folder / EX01.filename)
    try:
        outcome = worker.call("normalize", (np.zeros((1, 28, 28), np.uint8),))
    finally:
        worker.dispose()
        for planted in (ROOT / "planted.txt", os.path.join(site, "planted.pth")):
            if os.path.exists(planted):
                os.remove(planted)
    assert outcome.status == "returned", outcome
    return {leak: bool(flag) for leak, flag in zip(LEAKS, outcome.value.tolist())}


def test_student_code_sees_nothing_of_the_grader_the_course_or_the_machine(tmp_path, mnist_path, monkeypatch):
    inside = probe(tmp_path, mnist_path)
    monkeypatch.setenv("MNIST_COURSE_SANDBOX", "off")
    bubblewrap.find.cache_clear()
    try:
        outside = probe(tmp_path, mnist_path)
    finally:
        monkeypatch.delenv("MNIST_COURSE_SANDBOX")
        bubblewrap.find.cache_clear()
    assert inside == dict.fromkeys(LEAKS, False)
    # Switched off, every one of them leaks (the grader runs as root here, as CI does).
    expected = dict.fromkeys(LEAKS, True) if os.geteuid() == 0 else {**inside, "grader process visible": True, "course checkout": True}
    assert {k: v for k, v in outside.items() if k in expected} == expected


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
