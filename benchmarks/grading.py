"""How fast and how big is grading? A benchmark, not a test: it prints a table.

    python benchmarks/grading.py [--data PATH] [--students 20] [--markdown benchmarks/RESULTS.md]

Measures, each as a fresh `grader` process the way a student or instructor
runs it: one exercise's checks (start-up included), a full submission, and a
batch of generated submissions with --jobs 1 and --jobs 2. Peak memory is the
largest resident set of any process involved (grader or worker).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_course.course import load_course  # noqa: E402


def measure(args: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak MiB, exit code) of one grader run, in a fresh measuring process."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MNIST_COURSE_TRAINING_CACHE"}  # every model trains
    out = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "grader", *args], cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    seconds, peak_kib, code = out.stdout.split()
    if int(code) not in (0, 1):  # 1 is a graded run with failed checks; anything else measured nothing
        raise SystemExit(f"grader {' '.join(args)} exited {code}; no timing to report")
    return float(seconds), int(peak_kib) / 1024, int(code)


WORKER_START = """
import statistics, sys, time
import numpy as np
from grader.isolation.sandbox import Worker
from mnist_course.course import load_course

ex01 = load_course().exercise("ex01")
times = []
for _ in range(int(sys.argv[1])):
    worker = Worker(ex01.solution_path)
    started = time.perf_counter()
    outcome = worker.call("normalize", (np.zeros((1, 28, 28), np.uint8),))
    times.append(time.perf_counter() - started)
    worker.dispose()
    assert outcome.status == "returned", outcome
print(statistics.median(times))
"""


def worker_start(sandbox: bool, repeats: int = 20) -> float:
    """Median seconds from a new worker to its first answer (start, import of ex01, one call)."""
    env = {**os.environ, "MNIST_COURSE_SANDBOX": "on" if sandbox else "off"}
    out = subprocess.run([sys.executable, "-c", WORKER_START, str(repeats)], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def make_class(folder: Path, students: int) -> None:
    """Generated submissions: references, untouched stubs and a classic mistake, in turn."""
    ex = load_course().exercise("ex01")
    solution = ex.solution_path.read_text()
    variants = [
        solution,
        ex.stub_path.read_text(),
        solution.replace("return images.astype(np.float32) / np.float32(255)", "return images / 255"),
    ]
    for i in range(students):
        student = folder / f"student{i:03d}"
        student.mkdir(parents=True)
        # A comment makes each file unique, so deduplication does not hide the work.
        (student / ex.filename).write_text(f"# student {i}\n" + variants[i % len(variants)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("MNIST_COURSE_DATA"))
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--markdown", type=Path, help="also write the table to this Markdown file")
    parser.add_argument("--skip-full", action="store_true", help="leave out the full submission (its models train for minutes)")
    args = parser.parse_args()
    data = ["--data", args.data] if args.data else []

    rows = []
    bare, boxed = worker_start(sandbox=False), worker_start(sandbox=True)
    rows.append(("a worker's start to its first answer (ex01), no sandbox, median of 20", f"{bare * 1000:.0f} ms", ""))
    rows.append(("the same in the bubblewrap sandbox", f"{boxed * 1000:.0f} ms (+{(boxed - bare) * 1000:.0f} ms)", ""))
    seconds, peak, _ = measure(["ex01", "--target", "solutions", *data])
    rows.append(("one exercise (ex01), start-up included", f"{seconds:.1f} s", f"{peak:.0f} MiB"))
    seconds, peak, _ = measure(["ex06", "--target", "solutions", *data])
    rows.append(("one exercise with TensorFlow (ex06: imported by worker and grader)", f"{seconds:.1f} s", f"{peak:.0f} MiB"))
    seconds, peak, _ = measure(["ex02", "--target", "exercises", *data])
    rows.append(("a model exercise's checks, untouched stub (ex02: TensorFlow import)", f"{seconds:.1f} s", f"{peak:.0f} MiB"))
    if not args.skip_full:
        seconds, peak, _ = measure(["--target", "solutions", *data])
        rows.append((f"a full submission ({len(load_course().exercises)} exercise(s))", f"{seconds:.1f} s", f"{peak:.0f} MiB"))
    with tempfile.TemporaryDirectory() as tmp:
        make_class(Path(tmp) / "class", args.students)
        throughput = {}
        for jobs in (1, 2):
            out = Path(tmp) / f"results{jobs}"
            seconds, peak, _ = measure(["ex01", "--batch", str(Path(tmp) / "class"), "--out", str(out), "--jobs", str(jobs), *data])
            throughput[jobs] = args.students / seconds
            rows.append((f"batch of {args.students} submissions, --jobs {jobs}", f"{seconds:.1f} s ({throughput[jobs] * 60:.0f}/min)", f"{peak:.0f} MiB"))
            shutil.rmtree(out)
    speedup = throughput[2] / throughput[1]

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table = ["| what | wall time | peak memory (largest process) |", "|---|---|---|"]
    table += [f"| {what} | {wall} | {peak} |" for what, wall, peak in rows]
    text = "\n".join(
        [
            f"Grading benchmark on {machine}, data: {Path(args.data).name if args.data else 'the loader default'}",
            "",
            *table,
            "",
            f"--jobs 2 gives {speedup:.2f}x the throughput of --jobs 1. The sandbox costs {(boxed - bare) * 1000:.0f} ms per worker start"
            f" (target: under 200 ms).",
        ]
    )
    print(text)
    if args.markdown:
        args.markdown.write_text(f"# Grading benchmark\n\n`python benchmarks/grading.py` on {time.strftime('%Y-%m-%d')}.\n\n{text}\n")


if __name__ == "__main__":
    main()
