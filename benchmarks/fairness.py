"""Is a verdict the same on any machine? A benchmark, not a test: it prints a table.

    python benchmarks/fairness.py --data ../shared/data/mnist-22k.npz [--markdown benchmarks/FAIRNESS.md]

The references of the model exercises (ex02, ex03, ex05) are graded, each
time by a fresh `grader` process with no training cache, in the conditions
that used to cost them points when the budget was counted in seconds:

- alone on the machine;
- pinned to one core that a busy process shares (`taskset`);
- two at once in a batch with `--jobs 2` (two copies of the reference,
  different by a comment so that neither is deduplicated);
- with TensorFlow's oneDNN kernels switched off: other code for the same
  operations, as on another CPU or library build, to see how far accuracies
  move in their last digits;
- on a 60,000-image training set (the training images repeated to the size
  of full MNIST: the cost of full MNIST, not its accuracy);
- in Gradescope's default container (half a CPU, 768 MB) and in the one the
  course recommends, emulated with Linux cgroups (needs root and cgroup v1 or
  v2 controllers it may write; the row says so when it cannot be emulated).

Each row gives the points, each model's test accuracy, the wall time, and
the training work each declaration uses against its cap (counted before
training, so the same on every row of the same data). The work is also
timed once to show what the budget's units cost on this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_course.budget import flops  # noqa: E402
from mnist_course.course import load_course  # noqa: E402

MODELS = [ex for ex in load_course().exercises if ex.training]
FULL_SIZE = 60_000
LIMIT_S = 40 * 60  # one row's grading, at most (Gradescope's longest timeout)
# Gradescope's container sizes (Autograder settings > runtime resources): the default, and ours.
GRADESCOPE_DEFAULT = (0.5, 768)
GRADESCOPE_RECOMMENDED = (2.0, 3072)


def grade(command: list[str], prefix: list[str] | None = None, cgroup: Path | None = None, env_extra: dict | None = None) -> tuple[float, int]:
    """(wall seconds, exit code) of one grading command, with no training cache."""
    env = {k: v for k, v in os.environ.items() if k != "MNIST_COURSE_TRAINING_CACHE"} | (env_extra or {})
    join = None
    if cgroup is not None:
        def join():  # the child enters the cgroups before it starts Python
            for folder in cgroup.iterdir() if cgroup.is_dir() else ():
                (folder / "cgroup.procs").write_text(str(os.getpid()))
    started = time.perf_counter()
    try:
        code = subprocess.run([*(prefix or []), sys.executable, "-m", "grader", *command], cwd=ROOT, env=env, timeout=LIMIT_S,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=join).returncode
    except subprocess.TimeoutExpired:
        code = -1  # the row says "stopped"
    return time.perf_counter() - started, code


def read(report_file: Path) -> dict:
    report = json.loads(report_file.read_text())
    models = {}
    for ex in report["exercises"]:
        for check in ex["checks"]:
            if check.get("measured"):
                measured = check["measured"]
                models[ex["id"]] = (measured.get("test_accuracy"), (measured.get("work") or {}), check["score"], check["max_score"])
    return {"score": report["score"], "max": report["max_score"], "models": models}


@contextlib.contextmanager
def cpu_hog(core: str):
    hog = subprocess.Popen(["taskset", "-c", core, sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.send_signal(signal.SIGKILL)
        hog.wait()


@contextlib.contextmanager
def container(cpus: float, memory_mb: int):
    """cgroup v1 folders limiting CPU share and memory, as Gradescope's container does; None if not possible."""
    name = f"mnist-fairness-{os.getpid()}"
    made = []
    try:
        cpu, mem = Path("/sys/fs/cgroup/cpu") / name, Path("/sys/fs/cgroup/memory") / name
        cpu.mkdir()
        made.append(cpu)
        (cpu / "cpu.cfs_period_us").write_text("100000")
        (cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * 100000)))
        mem.mkdir()
        made.append(mem)
        (mem / "memory.limit_in_bytes").write_text(str(memory_mb << 20))
        holder = Path(tempfile.mkdtemp(prefix="cgroups-"))
        for folder in made:
            (holder / folder.parent.name).symlink_to(folder)
        yield holder
    except OSError as exc:
        print(f"  (cannot emulate a container here: {exc})", flush=True)
        yield None
    finally:
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()


def full_size_copy(data: Path, folder: Path) -> Path:
    with np.load(data) as source:
        arrays = {k: source[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    repeats = -(-FULL_SIZE // len(arrays["x_train"]))
    for key in ("x_train", "y_train"):
        arrays[key] = np.concatenate([arrays[key]] * repeats)[:FULL_SIZE]
    path = folder / "mnist-22k-repeated-60k.npz"
    np.savez(path, **arrays)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--exercises", nargs="+", default=[ex.id for ex in MODELS], help="model exercises to grade (default: all)")
    parser.add_argument("--rows", default="alone,busy,jobs2,onednn-off,full,gradescope-default,gradescope-recommended")
    args = parser.parse_args()
    ids = args.exercises
    wanted = args.rows.split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mnist-fairness-") as tmp:
        tmp = Path(tmp)

        def solutions_run(name, data, **kw):
            out = tmp / f"{name}.json"
            print(f"{name} ...", flush=True)
            seconds, code = grade([*ids, "--target", "solutions", "--data", str(data), "--json", str(out)], **kw)
            result = read(out) if out.exists() else None
            rows.append((name, seconds, code, [result] if result else []))
            save(rows, ids, args)

        if "alone" in wanted:
            solutions_run("alone, 2 cores", args.data)
        if "busy" in wanted:
            core = str(min(os.sched_getaffinity(0)))
            with cpu_hog(core):
                solutions_run("one core shared with a CPU hog", args.data, prefix=["taskset", "-c", core])
        if "jobs2" in wanted:
            subs, out = tmp / "subs", tmp / "batch"
            for student in ("a", "b"):
                (subs / student).mkdir(parents=True)
                for ex in [ex for ex in MODELS if ex.id in ids]:
                    (subs / student / ex.filename).write_text(f"# copy {student}\n" + ex.solution_path.read_text())
            print("two references in a batch with --jobs 2 ...", flush=True)
            seconds, code = grade([*ids, "--batch", str(subs), "--out", str(out), "--jobs", "2", "--data", str(args.data)])
            reports = [read(out / "students" / s / "report.json") for s in ("a", "b") if (out / "students" / s / "report.json").exists()]
            rows.append(("two at once, batch --jobs 2", seconds, code, reports))
            save(rows, ids, args)
        if "onednn-off" in wanted:
            # TensorFlow without its oneDNN kernels: other code for the same operations, as
            # another build or CPU would run; how far accuracies move in their last digits.
            solutions_run("another kernel library (TF_ENABLE_ONEDNN_OPTS=0), 2 cores", args.data, env_extra={"TF_ENABLE_ONEDNN_OPTS": "0"})
        if "full" in wanted:
            # The full set is one explicit switch away (the course's own data is the first 22,699 images).
            solutions_run("60,000 training images (22k repeated), 2 cores", full_size_copy(args.data, tmp), env_extra={"MNIST_COURSE_FULL": "1"})
        for key, (cpus, memory) in (("gradescope-default", GRADESCOPE_DEFAULT), ("gradescope-recommended", GRADESCOPE_RECOMMENDED)):
            if key in wanted:
                with container(cpus, memory) as cgroup:
                    if cgroup is None:
                        rows.append((f"{cpus:g} CPU, {memory} MB container: not emulated here", 0.0, -1, []))
                        continue
                    solutions_run(f"container of {cpus:g} CPU and {memory} MB (Gradescope {key.split('-')[1]})", args.data, cgroup=cgroup)

    save(rows, ids, args)


def table(rows: list, ids: list[str]) -> str:
    header = ["conditions", "points", *(f"{i} accuracy" for i in ids), *(f"{i} work / cap" for i in ids), "wall s", "exit"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, seconds, code, results in rows:
        if not results:
            lines.append("| " + " | ".join([name, "–", *["–"] * (2 * len(ids)), f"{seconds:.0f}", str(code)]) + " |")
        for result in results:
            accuracies = [f"{result['models'][i][0]:.2%}" if result["models"].get(i) and result["models"][i][0] is not None else "–" for i in ids]
            work = [
                f"{flops(result['models'][i][1]['declared_flops'])} / {flops(result['models'][i][1]['cap_flops'])}"
                if result["models"].get(i) and result["models"][i][1] else "–"
                for i in ids
            ]
            lines.append("| " + " | ".join([name, f"{result['score']}/{result['max']}", *accuracies, *work, f"{seconds:.0f}", str(code)]) + " |")
    return "\n".join(lines)


def save(rows: list, ids: list[str], args) -> None:
    """The table so far, printed and (with --markdown) written: a long run loses no row."""
    cpu = platform.processor() or platform.machine()
    heading = (
        f"Data: `{args.data.name}`; {os.cpu_count()} CPU cores ({cpu}); Python {platform.python_version()}; "
        "each row a fresh `grader` process with no training cache; exit 0 = every check passed."
    )
    print()
    print(heading)
    print()
    print(table(rows, ids), flush=True)
    if args.markdown:
        args.markdown.write_text(f"# Fairness: the same verdict in any conditions\n\nOutput of `python benchmarks/fairness.py`.\n\n{heading}\n\n{table(rows, ids)}\n")


if __name__ == "__main__":
    main()
