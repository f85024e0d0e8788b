"""Does the grader's own run of ex03b's protocol ever flag an honest table? A benchmark, not a test.

    python benchmarks/replay.py [--data PATH] [--runs 21] [--markdown benchmarks/REPLAY.md]

ex03b's checks compare validation_accuracy()'s width-32, seed-0 run, and a cell of each width of
run_sweep()'s table (images and seeds drawn for each submission), with what the grader's own run of
the declared protocol gives (grader/references/ex03b_experiment.py), within RERUN_TOLERANCE. An
honest submission must never fail that comparison: this grades RUNS honest submissions in classes
(`--batch`, two at a time, so each grading shares the machine with another; one class per variant),
cycling through every variant and every correct way of writing the exercise the project keeps (the
reference and tests/test_alternatives.py's ex03b alternatives), each file made distinct by a
comment so that each draws its own images and cells. It
prints every comparison's largest gap, and how many honest submissions lost a point of the two
checks (the false alarms).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from corpus import filled  # noqa: E402
from mnist_course.course import load_course  # noqa: E402
from test_alternatives import FUNCTION_ALTERNATIVES  # noqa: E402
from variant_references import for_variant, reference_source  # noqa: E402

COMPARED = ("validation_accuracy_learns", "run_sweep_matches_rerun")


def _honest(exercise, runs: int) -> dict[str, str]:
    """RUNS honest files, name -> source: every variant's reference and alternatives, in turn."""
    ways = {"reference": lambda key: reference_source(exercise, key)}
    for name, (owner, bodies) in FUNCTION_ALTERNATIVES.items():
        if owner == exercise.id:
            ways[name.removeprefix(f"{exercise.id}_")] = (
                lambda key, bodies=bodies: for_variant(exercise, key, filled(exercise.id, **bodies), settings_only=True))
    combos = [(way, variant.key) for variant in exercise.variants for way in ways]
    files = {}
    for n in range(runs):
        way, key = combos[n % len(combos)]
        files[f"honest{n:02d}-{way}-{key}"] = f"# honest run {n}: a comment makes each file draw its own cells\n" + ways[way](key)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("MNIST_COURSE_DATA", str(ROOT.parent / "shared" / "data" / "mnist-22k.npz")))
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--markdown", type=Path, help="also write the result to this Markdown file")
    args = parser.parse_args()
    exercise = load_course().exercise("ex03b")
    env = {k: v for k, v in os.environ.items() if k not in ("MNIST_COURSE_VARIANTS", "MNIST_COURSE_STUDENT", "MNIST_COURSE_DRAW_KEY")}
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "subs"
        files = _honest(exercise, args.runs)
        for name, source in files.items():
            (subs / name).mkdir(parents=True)
            (subs / name / exercise.filename).write_text(source, encoding="utf-8")
        started = time.perf_counter()
        # Each folder is graded on the variant its file was written for: a --use-variant per run would grade
        # every folder on one; the variant's words in the folder's name are only for the reader.
        out = Path(tmp) / "out"
        results = []
        for key in [v.key for v in exercise.variants]:
            group = Path(tmp) / f"subs-{key}"
            group.mkdir()
            for name in files:
                if name.endswith(f"-{key}"):
                    (subs / name).rename(group / name)
            proc = subprocess.run([sys.executable, "-m", "grader", exercise.id, "--batch", str(group), "--out", str(out / key),
                                   "--use-variant", f"{exercise.id}={key}", "--data", args.data, "--jobs", "2"],
                                  cwd=ROOT, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-2000:])
            for name in sorted(p.name for p in group.iterdir()):
                report = json.loads((out / key / "students" / name / "report.json").read_text())
                checks = {c["name"]: c for c in report["exercises"][0]["checks"]}
                results.append((name, report["exercises"][0]["score"], report["exercises"][0]["max_score"], checks))
        seconds = time.perf_counter() - started
    gaps, flagged, unfinished = [], [], []
    for name, score, max_score, checks in results:
        for check in COMPARED:
            row = checks.get(check, {})
            if row.get("status") == "error":
                unfinished.append(f"{name} {check}")
            elif row.get("status") != "passed":
                flagged.append(f"{name} {check}: {row.get('message', '')[:200]}")
            gaps += [abs(run["student"] - run["grader"]) for run in (row.get("replayed") or {}).get("runs", [])]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f" (`python benchmarks/replay.py --runs {args.runs}`), in {seconds / 60:.1f} min.",
        "",
        "| honest submissions | variants | ways of writing it | comparisons | largest gap (validation images) | tolerance | flagged (false alarms) | not graded |",
        "|---|---|---|---|---|---|---|---|",
        f"| {len(results)} | {len(exercise.variants)} | {len({n.split('-')[1] for n, *_ in results})} | {len(gaps)} | "
        f"{max(gaps, default=float('nan')):.4f} ({max(gaps, default=0) * 1000:.0f}) | 0.005 (5) | {len(flagged)} | {len(unfinished)} |",
    ]
    if flagged:
        lines += ["", "Flagged:", *(f"- {f}" for f in flagged)]
    if unfinished:
        lines += ["", "Not graded (the machine's failure, graded again on a later run):", *(f"- {u}" for u in unfinished)]
    full = sum(score == max_score for _, score, max_score, _ in results)
    lines += ["", f"Full points: {full} of {len(results)} honest submissions."]
    print("\n".join(lines))
    if args.markdown:
        args.markdown.write_text("# ex03b: the grader's own runs against honest tables\n\n"
                                 "Every honest submission's width-32, seed-0 run and a drawn cell of each width of its table, against the\n"
                                 "grader's own run of the declared protocol (grader/references/ex03b_experiment.py).\n\n"
                                 + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
