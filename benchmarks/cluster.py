"""What does a Dask cluster and the training cache buy when grading a class?

    python benchmarks/cluster.py [--data PATH] [--students 30] [--markdown FILE]

Makes a synthetic class with a realistic mix (the reference solution; many
students who submit the lesson's own model in files of their own; variations
of the model; untouched stubs; broken files), graded on ex01, ex02 and ex04,
and grades it three times with `grader --batch --scheduler`, on a Dask
LocalCluster of real worker processes (one thread each):

1. one worker, a cold training cache;
2. two workers, a cold cache;
3. two workers, the cache warm from run 2 (a re-run after, say, a regrade).

Prints wall time, trainings run and reused (from the reports), the cost per
student, and the arithmetic for 600 students on 50 workers. A benchmark, not a
test: the seconds depend on the machine and on what else runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.settings import CACHE_ENV  # noqa: E402
from mnist_course.course import load_course  # noqa: E402

COURSE = load_course()
EXERCISES = ("ex01", "ex02", "ex04")
WIDTH = 'layers.Dense(512, activation="relu")'


def make_class(folder: Path, students: int) -> dict[str, str]:
    """`students` folders: what kind each student is, by name."""
    ex01, ex02, ex04 = (COURSE.exercise(e) for e in EXERCISES)
    solutions = {ex.filename: ex.solution_path.read_text() for ex in (ex01, ex02, ex04)}
    stubs = {ex.filename: ex.stub_path.read_text() for ex in (ex01, ex02, ex04)}
    assert WIDTH in solutions[ex02.filename], "the ex02 reference changed: update WIDTH"
    kinds = {}
    # Of every 10 students: 4 submit the lesson's model in their own words, 2 vary it,
    # 2 submit the reference unchanged, 1 an untouched stub, 1 a broken file.
    pattern = ["lesson model", "lesson model", "variation", "reference", "lesson model", "stub", "variation", "lesson model", "reference", "broken"]
    for i in range(students):
        kind, files = pattern[i % len(pattern)], dict(solutions)
        if kind == "lesson model":  # the same declaration, in a file of the student's own
            files[ex02.filename] = f"# student {i}: the model of lesson 2\n" + files[ex02.filename]
        elif kind == "variation":
            width = (128, 256, 384)[(i // 10) % 3]
            files[ex02.filename] = files[ex02.filename].replace(WIDTH, f'layers.Dense({width}, activation="relu")')
        elif kind == "stub":
            files = dict(stubs)
        elif kind == "broken":
            files[ex02.filename] = "import keras\n\ndef build_model(:\n"
        name = f"student{i:03d}"
        (folder / name).mkdir(parents=True)
        for filename, text in files.items():
            (folder / name / filename).write_text(text)
        kinds[name] = kind
    return kinds


def trainings(out: Path) -> tuple[int, int]:
    """(trained, reused) over every model the reports say the grader trained; a
    submission graded once for several identical students counts once."""
    trained = reused = 0
    seen = set()
    for report_file in sorted((out / "students").glob("*/report.json")):
        report = json.loads(report_file.read_text())
        if report["submission_sha256"] in seen:
            continue
        seen.add(report["submission_sha256"])
        for ex in report["exercises"]:
            for check in ex["checks"]:
                measured = check.get("measured") or {}
                if measured.get("test_accuracy") is not None:
                    reused += bool(measured.get("training_reused"))
                    trained += not measured.get("training_reused")
    return trained, reused


def grade(subs: Path, out: Path, workers: int, cache: Path, data: str) -> dict:
    from distributed import LocalCluster

    os.environ[CACHE_ENV] = str(cache)  # the workers inherit it: one cache they all share
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "grader", *EXERCISES, "--batch", str(subs), "--out", str(out), "--data", data, "--scheduler", cluster.scheduler_address],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )
        seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"the batch failed (exit {done.returncode}): {done.stderr[-2000:]}")
    trained, reused = trainings(out)
    with (out / "gradebook.csv").open(newline="") as fh:
        statuses = Counter(row["status"].split(":")[0] for row in csv.DictReader(fh))
    return {"workers": workers, "seconds": seconds, "trained": trained, "reused": reused, "statuses": dict(statuses)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the MNIST file the workers read (a path they share)")
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    data = str(Path(args.data).resolve())

    work = Path(tempfile.mkdtemp(prefix="mnist-cluster-bench-"))
    try:
        kinds = make_class(work / "submissions", args.students)
        runs = [
            ("1 worker, cold cache", grade(work / "submissions", work / "out1", 1, work / "cache1", data)),
            ("2 workers, cold cache", grade(work / "submissions", work / "out2", 2, work / "cache2", data)),
            ("2 workers, warm cache", grade(work / "submissions", work / "out3", 2, work / "cache2", data)),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    mix = {kind: list(kinds.values()).count(kind) for kind in dict.fromkeys(kinds.values())}
    lines = [
        "# Grading a class on a Dask cluster",
        "",
        "Written by `python benchmarks/cluster.py`.",
        "",
        f"Class: {args.students} synthetic submissions graded on {', '.join(EXERCISES)} "
        f"({', '.join(f'{n} {kind}' for kind, n in mix.items())}). Machine: {platform.machine()}, "
        f"{os.cpu_count()} CPU cores; workers are Dask LocalCluster processes with one thread each, each grading "
        "in its own grader process and sandbox, sharing one training cache.",
        "",
        "| run | wall s | students graded / retry / error | trainings run | trainings reused | s per student | speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    base = runs[0][1]["seconds"]
    for name, run in runs:
        lines.append(
            f"| {name} | {run['seconds']:.0f} | {run['statuses'].get('graded', 0)} / {run['statuses'].get('retry', 0)} / {run['statuses'].get('error', 0)} | {run['trained']} | {run['reused']} | {run['seconds'] / args.students:.1f} | {base / run['seconds']:.2f}× |"
        )
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
