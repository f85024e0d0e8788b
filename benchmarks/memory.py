"""How much memory does grading each exercise's reference take? A benchmark, not a test: it prints a table.

    python benchmarks/memory.py --data PATH [--exercises ex01 ex02] [--markdown benchmarks/MEMORY.md]

Each exercise's reference (solutions/) is graded alone, one at a time, as a
fresh `python -m grader EXERCISE --target solutions --half private` (what
Gradescope runs), with no training cache, inside a memory control group of
its own that holds the grader and everything it starts (its workers, its
trainer, their sandboxes):

1. without a limit, measuring
   - the peak the control group was charged (`memory.max_usage_in_bytes`:
     every process's memory, tmpfs and the page cache of the files read,
     TensorFlow's libraries included);
   - the peak of its unreclaimable part, sampled every 0.1 s (anonymous
     memory and tmpfs: `total_rss + total_shmem` of `memory.stat`): what
     no limit can squeeze out;
   - the largest single process (its `ru_maxrss`);
2. in containers the size of Gradescope's settings, from the smallest (its
   default of 768 MB, read as 768 × 10^6 bytes) up, until the reference
   gets full points there: the first that does is the setting the exercise
   needs.

Needs root (or a writable cgroup v1 memory hierarchy, or a delegated v2
subtree with the memory controller). Run it on an otherwise quiet machine,
with `nice`; the seconds are the grader's on that machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_course.course import load_course  # noqa: E402

# Gradescope's runtime settings (CPU, memory): its default first.
GRADESCOPE = [("0.5 CPU, 768 MB (default)", 768_000_000), ("1.0 CPU, 1.5 GB", 1_500_000_000), ("2.0 CPU, 3.0 GB", 3_000_000_000), ("4.0 CPU, 6.0 GB", 6_000_000_000)]
MiB = 1 << 20

PROBE = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
    "print(json.dumps({'seconds': time.perf_counter() - t, 'largest_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, 'code': code}))\n"
)


def _own_memory_cgroup() -> tuple[str, Path]:
    """("v1" or "v2", the folder under which this benchmark may make control groups)."""
    mounts = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        kind, options = right.split()[0], right.split()[-1]
        if kind == "cgroup" and "memory" in options.split(","):
            mounts["v1"] = Path(left.split()[4])
        elif kind == "cgroup2":
            mounts.setdefault("v2", Path(left.split()[4]))
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(",") and "v1" in mounts:
            return "v1", mounts["v1"] / path.lstrip("/")
        if number == "0" and "v2" in mounts and "memory" in (mounts["v2"] / path.lstrip("/") / "cgroup.subtree_control").read_text():
            return "v2", mounts["v2"] / path.lstrip("/")
    raise SystemExit("memory.py: no memory control group this benchmark may use (run it as root, or in a delegated cgroup v2 subtree)")


class Group:
    """A memory control group for one grading run, with an optional limit."""

    def __init__(self, limit: int | None):
        self.kind, parent = _own_memory_cgroup()
        self.folder = parent / f"mnist-memory-bench-{secrets.token_hex(4)}"
        self.folder.mkdir()
        if limit is not None:
            name = "memory.limit_in_bytes" if self.kind == "v1" else "memory.max"
            (self.folder / name).write_text(str(limit))
            if self.kind == "v2":
                (self.folder / "memory.swap.max").write_text("0")

    def enter(self) -> None:  # in the child, before exec
        (self.folder / "cgroup.procs").write_text(str(os.getpid()))

    def unreclaimable(self) -> int:
        """Anonymous memory and tmpfs of every process in the group, its children's groups included."""
        stat = dict(line.split() for line in (self.folder / "memory.stat").read_text().splitlines() if len(line.split()) == 2)
        if self.kind == "v1":
            return int(stat.get("total_rss", 0)) + int(stat.get("total_shmem", 0))
        return int(stat.get("anon", 0)) + int(stat.get("shmem", 0))

    def charged_peak(self) -> int | None:
        name = "memory.max_usage_in_bytes" if self.kind == "v1" else "memory.peak"
        try:
            return int((self.folder / name).read_text())
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        if self.kind == "v1":
            text = (self.folder / "memory.oom_control").read_text()
        else:
            text = (self.folder / "memory.events").read_text()
        return sum(int(line.split()[1]) for line in text.splitlines() if line.startswith("oom_kill "))

    def remove(self) -> None:
        for _ in range(100):
            try:
                self.folder.rmdir()
                return
            except OSError:
                time.sleep(0.1)


def grade(exercise: str, data: str | None, limit: int | None, report: Path) -> dict:
    """One grading of the reference in a control group of its own; its figures."""
    command = [sys.executable, "-m", "grader", exercise, "--target", "solutions", "--half", "private", "--json", str(report)]
    if data:
        command += ["--data", data]
    env = {k: v for k, v in os.environ.items() if k != "MNIST_COURSE_TRAINING_CACHE"}  # every model trains
    env.pop("MNIST_COURSE_CGROUP_ROOT", None)
    report.unlink(missing_ok=True)  # a grader killed outright writes none: never read an earlier run's
    group = Group(limit)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            with contextlib.suppress(OSError, ValueError):
                peak[0] = max(peak[0], group.unreclaimable())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out = subprocess.run(
            [sys.executable, "-c", PROBE, *command], cwd=ROOT, env=env, capture_output=True, text=True, check=True, preexec_fn=group.enter
        )
    finally:
        done.set()
        sampler.join()
    figures = json.loads(out.stdout.splitlines()[-1])
    figures.update({"charged": group.charged_peak(), "unreclaimable": peak[0], "oom_kills": group.oom_kills()})
    group.remove()
    try:
        graded = json.loads(report.read_text())
        figures.update({"score": graded["score"], "max_score": graded["max_score"], "retry": bool(graded.get("retry"))})
    except (OSError, ValueError, KeyError):
        figures.update({"score": None, "max_score": None, "retry": False})
    return figures


def points(figures: dict) -> str:
    if figures["score"] is None:
        return f"no report (exit {figures['code']})"
    text = f"{figures['score']:g}/{figures['max_score']:g}"
    if figures["retry"]:
        text += " not graded"
    return text if figures["code"] in (0, 1) else f"{text} (exit {figures['code']})"


def full(figures: dict) -> bool:
    return figures["code"] == 0 and figures["score"] == figures["max_score"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("MNIST_COURSE_DATA"))
    parser.add_argument("--exercises", nargs="*", help="the exercises to measure (default: all, in course order)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args()
    course = load_course()
    exercises = [course.exercise(key) for key in args.exercises] if args.exercises else list(course.exercises)

    rows, needs = [], {}
    with tempfile.TemporaryDirectory(prefix="mnist-memory-bench-") as tmp:
        for ex in exercises:
            report = Path(tmp) / f"{ex.id}.json"
            free = grade(ex.id, args.data, None, report)
            print(
                f"{ex.id}: {points(free)} in {free['seconds']:.0f} s; charged peak {(free['charged'] or 0) / MiB:.0f} MiB, "
                f"unreclaimable peak {free['unreclaimable'] / MiB:.0f} MiB, largest process {free['largest_kib'] / 1024:.0f} MiB",
                flush=True,
            )
            tried = []
            for name, limit in GRADESCOPE:
                limited = grade(ex.id, args.data, limit, report)
                tried.append(f"{name.split(' (')[0]}: {points(limited)}, {limited['seconds']:.0f} s" + (f", {limited['oom_kills']} OOM kill(s)" if limited["oom_kills"] else ""))
                print(f"  in a container of {name}: {points(limited)} in {limited['seconds']:.0f} s, {limited['oom_kills']} OOM kill(s)", flush=True)
                if full(limited):
                    needs[ex.id] = name
                    break
            else:
                needs[ex.id] = "more than any Gradescope setting measured"
            rows.append(
                (
                    ex.id,
                    points(free),
                    f"{free['seconds']:.0f}",
                    f"{(free['charged'] or 0) / MiB:.0f}",
                    f"{free['unreclaimable'] / MiB:.0f}",
                    f"{free['largest_kib'] / 1024:.0f}",
                    "; ".join(tried),
                    needs[ex.id],
                )
            )

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table = [
        "| exercise | points, no limit | s | charged peak MiB (page cache included) | unreclaimable peak MiB (anon + tmpfs) | largest process MiB | in Gradescope's containers, smallest first | needs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    table += ["| " + " | ".join(row) + " |" for row in rows]
    text = "\n".join([f"Memory of grading each reference on {machine}, data: {Path(args.data).name if args.data else 'the loader default'}", "", *table])
    print(text)
    if args.markdown:
        args.markdown.write_text(f"# Memory of grading\n\n`python benchmarks/memory.py` on {time.strftime('%Y-%m-%d')}.\n\n{text}\n")


if __name__ == "__main__":
    main()
