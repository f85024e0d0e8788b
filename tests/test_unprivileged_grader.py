"""What isolation a grader keeps when it runs as a user other than root (issue 25).

Run as `nobody` (setpriv, as Gradescope's route does), on a machine whose
cgroup hierarchies only root may write and whose cgroup v2 tree delegates
nothing: the bubblewrap sandbox and its size-capped, nosuid writable area are
kept (they need only unprivileged user namespaces); the cgroup limits are not,
and the report and stderr say so with a "REDUCED isolation" line.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from grader.isolation import bubblewrap, capacity
from mnist_course.course import ROOT, load_course
from corpus import told
from test_platforms import unprivileged  # noqa: F401 - the fixture: (base folder, an interpreter `nobody` can run)

EX01 = load_course().exercise("ex01")

pytestmark = pytest.mark.skipif(not bubblewrap.find().active, reason=f"no sandbox on this machine: {bubblewrap.find().reason}")

# Appended to the reference: fill the worker's own folder at import until the disk says no.
FILLER = '''

_n = 0
while _n < 64:
    with open(f"fill{_n}.bin", "wb") as _fh:
        _fh.write(b"\\0" * (1 << 20))
    _n += 1
'''


def _grade_as_nobody(base: Path, python: str, name: str, source: str, mnist_path: str) -> tuple[dict, str]:
    folder = base / name
    folder.mkdir()
    (folder / EX01.filename).write_text(source)
    out = base / f"{name}-out"
    out.mkdir()
    subprocess.run(["chmod", "-R", "a+rX", str(base)], check=True)
    os.chmod(out, 0o777)
    env = {k: v for k, v in os.environ.items() if k not in (capacity.ROOT_ENV, capacity.SWITCH, "MNIST_COURSE_TRAINING_CACHE")}
    env.update(HOME=str(out), MNIST_COURSE_STATE=str(out / "state.json"), TMPDIR=str(out), **{bubblewrap.AREA_ENV: "16"})
    done = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", python, "-m", "grader", "ex01",
         "--target", str(folder), "--data", mnist_path, "--json", str(out / "report.json")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert (out / "report.json").is_file(), done.stderr[-2000:]
    assert not [p for p in out.iterdir() if p.name.startswith("mnist-grader")], "a worker folder was left behind"
    return json.loads((out / "report.json").read_text()), done.stderr


def test_an_unprivileged_grader_keeps_the_sandbox_and_its_capped_area_but_says_it_has_no_cgroups(unprivileged, mnist_path):  # noqa: F811
    base, python = unprivileged
    if not os.access(mnist_path, os.R_OK) or subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", "test", "-r", mnist_path], check=False
    ).returncode:
        pytest.skip("the unprivileged user cannot read the MNIST file")
    report, stderr = _grade_as_nobody(base, python, "honest", EX01.solution_path.read_text(), mnist_path)
    assert report["score"] == EX01.max_score
    isolation = report["environment"]["isolation"]
    assert isolation.startswith("bubblewrap sandbox") and "a writable tmpfs of 16 MiB (nosuid)" in isolation, isolation
    if "REDUCED isolation: no cgroup controller" not in isolation:
        pytest.skip(f"this machine gives an unprivileged user cgroups (delegated): {isolation}")
    assert "for memory, pids, cpu" in isolation and "WARNING: REDUCED isolation: no cgroup controller" in stderr

    report, _ = _grade_as_nobody(base, python, "filler", EX01.solution_path.read_text() + FILLER, mnist_path)
    said = [told(ex, c) for ex in report["exercises"] for c in ex["checks"]]  # filled at import: said once, at the exercise
    assert report["score"] == 0 and not report.get("retry")
    assert any("the size of its own writable folder (16 MiB" in message for message in said), said[0]
