"""A class's grading time for ex01, ex02b, ex04 and ex05b, with the trainings'
reuse off (every ex02b train() runs) and on (an identical file trains once per
class: grader/training/by_hand.py). A benchmark, not a test: it prints a table.

    python benchmarks/class_time.py --data PATH [--students 150] [--jobs 2]
        [--share 0.33] [--resubmit 0.5] [--markdown benchmarks/CLASS_TIME.md]

The class, as files repeat in a real one (the assumption, stated in the table):
- every student's ex01, ex04, ex05b and ex02b are the reference of the variant
  drawn from their name, with a comment of their own (so no two whole
  submissions are identical, and each distinct ex02b file trains on a task of
  its own, as a class's would);
- a `--share` fraction of the students hand in a classmate's ex02b file byte
  for byte, one for their own variant (a group's file, or the same public
  solution);
- then a `--resubmit` fraction resubmit with only ex01 changed, and the batch
  runs again on the same --out (it regrades exactly the changed submissions).

Each mode grades the class into a fresh --out (its training cache inside, the
batch's default), pass 1 then pass 2, each as one `grader --batch` process
measured from a fresh measuring process: wall seconds and the CPU seconds of
every process of the batch (a cgroup v1 cpuacct group of its own, where the
machine gives one; else the processes it waited for, which misses workers).
The per-student figures divide a mode's total by the class size; the figures
for another class size are that, multiplied: an extrapolation, said as such.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_course.course import load_course  # noqa: E402
from grader import variants  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from variant_references import reference_source  # noqa: E402  (each variant's reference: the solution with its edits)

EXERCISES = ("ex01", "ex02b", "ex04", "ex05b")
# Runs the batch inside a cgroup of its own where the machine gives one (argv[1], or "-"):
# its cpuacct.usage counts every process of the batch, the sandboxed workers whose
# reaping escapes RUSAGE_CHILDREN included; elsewhere the waited-for processes only.
PROBE = (
    "import os, resource, subprocess, sys, time\n"
    "group = sys.argv[1]\n"
    "if group != '-':\n"
    "    open(os.path.join(group, 'cgroup.procs'), 'w').write(str(os.getpid()))\n"
    "t = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)\n"
    "code = done.returncode\n"
    "sys.stderr.write(done.stdout)\n"
    "wall = time.perf_counter() - t\n"
    "if group != '-':\n"
    "    cpu = int(open(os.path.join(group, 'cpuacct.usage')).read()) / 1e9\n"
    "else:\n"
    "    u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "    cpu = u.ru_utime + u.ru_stime\n"
    "print(wall, cpu, code)\n"
)
CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def cpu_group() -> Path | None:
    """A fresh cgroup v1 cpuacct group below this process's own, or None."""
    try:
        own = next(line.split(":", 2)[2].strip() for line in Path("/proc/self/cgroup").read_text().splitlines()
                   if "cpuacct" in line.split(":", 2)[1].split(","))
        group = CPUACCT / own.lstrip("/") / f"class-time-{os.getpid()}-{time.monotonic_ns()}"
        group.mkdir()
        return group
    except (OSError, StopIteration, IndexError):
        return None


def make_class(folder: Path, students: int, share: float) -> list[str]:
    """The class's folders; returns the students, in order. Each hands in the reference of the variant
    drawn from their folder's name, as the batch grades them; a copier hands in, byte for byte, the ex02b
    file of the nearest classmate before them who has the same ex02b variant (a shared file that
    answers their variant: a group's, or a public solution's)."""
    course = load_course()
    names = [f"s{i:03d}" for i in range(students)]
    ex02b = course.exercise("ex02b")
    hidden = {name: variants.drawn(course, ex02b, name).key for name in names}
    copies = round(share * students)
    copiers = set([i for i in range(1, students, 2)][:copies])  # s001, s003, ...: each copies a classmate's ex02b
    for i, name in enumerate(names):
        (folder / name).mkdir(parents=True)
        source_of = next((names[j] for j in range(i - 1, -1, -1) if hidden[names[j]] == hidden[name]), name) if i in copiers else name
        for exercise_id in EXERCISES:
            exercise = course.exercise(exercise_id)
            if exercise_id == "ex02b" and source_of != name:  # the classmate's file as they handed it in
                (folder / name / exercise.filename).write_bytes((folder / source_of / exercise.filename).read_bytes())
                continue
            variant = variants.drawn(course, exercise, name)
            source = reference_source(exercise, variant.key) if variant else exercise.solution_path.read_text()
            (folder / name / exercise.filename).write_text(source + f"\n# {name}'s {exercise_id}\n")
    return names


def resubmit(folder: Path, names: list[str], fraction: float) -> list[str]:
    """Change only ex01 of the first `fraction` of the students; returns them."""
    ex01 = load_course().exercise("ex01").filename
    changed = names[: round(fraction * len(names))]
    for name in changed:
        with (folder / name / ex01).open("a") as handle:
            handle.write("# resubmitted: ex01 only\n")
    return changed


def cpu_group_works() -> bool:
    group = cpu_group()
    if group is None:
        return False
    group.rmdir()
    return True


def batch(subs: Path, out: Path, data: str, jobs: int, reuse: bool) -> tuple[float, float, int]:
    """(wall s, CPU s, submissions it graded) of one `grader --batch` over the class."""
    env = {k: v for k, v in os.environ.items() if k != "MNIST_COURSE_TRAINING_CACHE"}  # the batch's own cache, in --out
    env["MNIST_COURSE_TRAINING_REUSE"] = "on" if reuse else "off"
    args = [sys.executable, "-m", "grader", *EXERCISES, "--batch", str(subs), "--out", str(out), "--jobs", str(jobs), "--data", data]
    group = cpu_group()
    try:
        done = subprocess.run([sys.executable, "-c", PROBE, str(group or "-"), *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    finally:
        if group is not None:
            for _ in range(50):  # the graders remove their workers' leaves as they close
                try:
                    group.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
    wall, cpu, code = done.stdout.split()
    if int(code) not in (0, 1):
        raise SystemExit(f"grader --batch exited {code}; nothing to report")
    graded = re.search(r"(\d+) to grade", done.stderr)
    return float(wall), float(cpu), int(graded.group(1)) if graded else -1


def statuses(out: Path) -> str:
    """The gradebook's statuses and total points, counted ("6 graded, 139/139 x 6")."""
    with (out / "gradebook.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    counted = collections.Counter(f"{r['status']} {r['total']}/{r['max']}" for r in rows)
    return ", ".join(f"{n} × {what}" for what, n in sorted(counted.items()))


def trainings(out: Path, names: list[str]) -> tuple[int, int]:
    """(ex02b trainings run, reused) among these students' reports."""
    run = reused = 0
    for name in names:
        report = json.loads((out / "students" / name / "report.json").read_text())
        ex02b = next(ex for ex in report["exercises"] if ex["id"] == "ex02b")
        measured = next(c.get("measured") or {} for c in ex02b["checks"] if c["name"] == "train_test_accuracy")
        reused += bool(measured.get("training_reused"))
        run += not measured.get("training_reused")
    return run, reused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("MNIST_COURSE_DATA"))
    parser.add_argument("--students", type=int, default=150)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--share", type=float, default=0.33, help="fraction of students handing in a classmate's ex02b file")
    parser.add_argument("--resubmit", type=float, default=0.5, help="fraction resubmitting with only ex01 changed")
    parser.add_argument("--extrapolate", type=int, default=150, help="class size the per-student figures are multiplied to")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    if not args.data:
        raise SystemExit("--data PATH (or $MNIST_COURSE_DATA) names the MNIST file")

    rows, totals = [], {}
    with tempfile.TemporaryDirectory(prefix="class-time-") as tmp:
        for mode, reuse in (("before (reuse off)", False), ("after (reuse on)", True)):
            subs, out = Path(tmp) / "class", Path(tmp) / f"out-{reuse}"
            shutil.rmtree(subs, ignore_errors=True)
            names = make_class(subs, args.students, args.share)
            wall1, cpu1, graded1 = batch(subs, out, args.data, args.jobs, reuse)
            run1, reused1 = trainings(out, names)
            status1 = statuses(out)
            changed = resubmit(subs, names, args.resubmit)
            wall2, cpu2, graded2 = batch(subs, out, args.data, args.jobs, reuse)
            run2, reused2 = trainings(out, changed)
            rows.append((mode, "1: the class", graded1, wall1, cpu1, run1, reused1, status1))
            rows.append((mode, "2: ex01 resubmitted", graded2, wall2, cpu2, run2, reused2, statuses(out)))
            totals[mode] = (wall1 + wall2, cpu1 + cpu2)
            print(rows[-2], rows[-1], flush=True)

    n, scale = args.students, args.extrapolate
    copies = round(args.share * n)
    lines = [
        f"Class of {n} students graded on {', '.join(EXERCISES)} with `--jobs {args.jobs}`, {os.cpu_count()} CPUs "
        f"({platform.machine()}, Python {platform.python_version()}); {copies} of them hand in a classmate's ex02b file "
        f"byte for byte, then {round(args.resubmit * n)} resubmit with only ex01 changed (a second batch on the same --out). "
        f"CPU s: {'every process of the batch (a cpuacct cgroup of its own)' if cpu_group_works() else 'the processes the batch waited for (no cgroup here: the workers are undercounted)'}.",
        "",
        "| mode | pass | submissions graded | wall s | CPU s | ex02b trainings run | reused | the gradebook after it |",
        "|---|---|---:|---:|---:|---:|---:|---|",
        *(f"| {m} | {p} | {k} | {w:.0f} | {c:.0f} | {r} | {u} | {g} |" for m, p, k, w, c, r, u, g in rows),
        "",
        f"| mode | per student: wall s | per student: CPU s | {'measured' if scale == n else '**extrapolated** to'} {scale} students: wall min | CPU min |",
        "|---|---:|---:|---:|---:|",
        *(f"| {m} | {w / n:.1f} | {c / n:.1f} | {w / n * scale / 60:.0f} | {c / n * scale / 60:.0f} |" for m, (w, c) in totals.items()),
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        command = " ".join(["python benchmarks/class_time.py", *sys.argv[1:]])
        args.markdown.write_text(f"# A class's grading time, trainings reused or not\n\nMade by `{command}`.\n\n{text}\n")


if __name__ == "__main__":
    main()
