"""Are an exercise's variants of equal difficulty? A benchmark, not a test: it prints a table.

    python benchmarks/variants.py [--data PATH] [--exercise ex05b] [--markdown benchmarks/VARIANTS.md]

For each variant of each exercise that has them (course.toml's [[exercise.variant]]): its
reference's points (tests/variant_references.py), the seconds one grading of it takes (a fresh
`grader` process, start-up included), and the share of the exercise's mutation corpus
(tests/test_mutations.py: one plausible mistake each) that the checks catch when the mistake is
made in that variant's reference and graded on that variant, and the points of the exercise's
correct alternatives (tests/test_alternatives.py) written for that variant, in one `--batch` run
per variant. A variant whose checks catch fewer mistakes, or whose reference or an alternative
misses a point, is not the same exercise as the others.
"""

from __future__ import annotations

import argparse
import csv
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

from mnist_course.course import load_course  # noqa: E402
from corpus import filled  # noqa: E402
from test_alternatives import BACKPROP_ALTERNATIVES, FUNCTION_ALTERNATIVES  # noqa: E402  (name -> (exercise, {function: body}))
from test_mutations import BACKPROP_MUTATIONS, MUTATIONS, VARIANT_MUTATIONS  # noqa: E402  (the corpus: name -> (exercise, {old: new}, checks it must fail))
from variant_references import for_variant, reference_source  # noqa: E402


def _env() -> dict[str, str]:
    # no pinned variant or remembered student: --use-variant decides
    return {k: v for k, v in os.environ.items() if k not in ("MNIST_COURSE_VARIANTS", "MNIST_COURSE_STUDENT", "MNIST_COURSE_TRAINING_CACHE")}


def _mutated(source: str, edits: dict[str, str]) -> str | None:
    """The mistake made in this source, or None where one of its lines is not there exactly once."""
    for old, new in edits.items():
        if source.count(old) != 1:
            return None
        source = source.replace(old, new)
    return source


def measure(exercise, variant, data: str, work: Path) -> dict:
    choice = f"{exercise.id}={variant.key}"
    reference = work / variant.key / "reference"
    reference.mkdir(parents=True)
    source = reference_source(exercise, variant.key)
    (reference / exercise.filename).write_text(source, encoding="utf-8")
    started = time.perf_counter()
    report = work / variant.key / "reference.json"
    subprocess.run([sys.executable, "-m", "grader", exercise.id, "--target", str(reference), "--use-variant", choice,
                    "--data", data, "--json", str(report)], cwd=ROOT, env=_env(), capture_output=True, check=False)
    seconds = time.perf_counter() - started
    graded = json.loads(report.read_text())["exercises"][0]
    mutants, skipped = work / variant.key / "mutants", []
    # a variant's own mistakes too, made wherever a variant's reference holds their lines (skipped elsewhere)
    made_in_variants = {name: (owner, edits, failing) for name, (owner, _, edits, failing) in VARIANT_MUTATIONS.items()}
    for name, (owner, edits, _) in {**MUTATIONS, **BACKPROP_MUTATIONS, **made_in_variants}.items():
        if owner != exercise.id:
            continue
        mutated = _mutated(source, edits)
        if mutated is None:
            skipped.append(name)
            continue
        (mutants / name).mkdir(parents=True)
        (mutants / name / exercise.filename).write_text(mutated, encoding="utf-8")
    corpus = {**FUNCTION_ALTERNATIVES, **BACKPROP_ALTERNATIVES}
    alternatives = [name for name, (owner, _) in corpus.items() if owner == exercise.id]
    for name in alternatives:  # written apart from the reference: only the variant's settings at the top change
        (mutants / name).mkdir(parents=True)
        (mutants / name / exercise.filename).write_text(for_variant(exercise, variant.key, filled(exercise.id, **corpus[name][1]), settings_only=True),
                                                        encoding="utf-8")
    out = work / variant.key / "out"
    subprocess.run([sys.executable, "-m", "grader", exercise.id, "--batch", str(mutants), "--out", str(out), "--use-variant", choice,
                    "--data", data, "--jobs", "2"], cwd=ROOT, env=_env(), capture_output=True, check=False)
    with (out / "gradebook.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    # a grading the machine could not finish (a safety clock on a loaded machine) has no total: named, not counted
    totals = {row["student"]: float(row["total"]) for row in rows if row["total"].strip()}
    not_graded = sorted(row["student"] for row in rows if not row["total"].strip())
    mutant_totals = [total for name, total in totals.items() if name not in alternatives]
    full = sum(totals.get(name) == exercise.max_score for name in alternatives)
    return {"exercise": exercise.id, "variant": variant.key, "says": variant.says, "points": f"{graded['score']:g} / {graded['max_score']:g}",
            "seconds": seconds, "caught": sum(total < exercise.max_score for total in mutant_totals), "mutants": len(mutant_totals),
            "alternatives": f"{full} of {len(alternatives) - len(set(alternatives) & set(not_graded))}", "skipped": skipped, "not_graded": not_graded,
            "escaped": sorted(name for name, total in totals.items() if name not in alternatives and total == exercise.max_score)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("MNIST_COURSE_DATA", str(ROOT.parent / "shared" / "data" / "mnist-22k.npz")))
    parser.add_argument("--exercise", action="append", help="only this exercise (default: every one with variants)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args()
    course = load_course()
    exercises = [ex for ex in course.exercises if ex.variants and (not args.exercise or ex.id in args.exercise)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for exercise in exercises:
            for variant in exercise.variants:
                rows.append(measure(exercise, variant, args.data, Path(tmp) / exercise.id))
                r = rows[-1]
                print(f"{r['exercise']} {r['variant']}: reference {r['points']}, {r['seconds']:.1f} s, mistakes caught {r['caught']} of {r['mutants']}, "
                      f"alternatives with full points {r['alternatives']}", flush=True)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        " (`python benchmarks/variants.py`).",
        "",
        "| exercise | variant | asks | reference's points | one grading (s) | mistakes caught | alternatives with full points |",
        "|---|---|---|---|---|---|---|",
        *(f"| {r['exercise']} | `{r['variant']}` | {r['says']} | {r['points']} | {r['seconds']:.1f} | {r['caught']} of {r['mutants']} | {r['alternatives']} |"
          for r in rows),
    ]
    escaped = [f"`{r['variant']}`: " + ", ".join(f"`{n}`" for n in r["escaped"]) for r in rows if r["escaped"]]
    if escaped:
        lines += ["", "Mistakes with full points on a variant (benchmarks/README.md says why each is not a mistake there): " + "; ".join(escaped) + "."]
    unfinished = [f"`{r['exercise']}` `{r['variant']}`: " + ", ".join(f"`{n}`" for n in r["not_graded"]) for r in rows if r["not_graded"]]
    if unfinished:
        lines += ["", "Gradings the machine did not finish (not counted; run again on a quieter machine): " + "; ".join(unfinished) + "."]
    skipped = sorted({name for r in rows for name in r["skipped"]})
    if skipped:
        lines += ["", "Mistakes whose lines a variant's reference does not hold (not counted): " + ", ".join(f"`{n}`" for n in skipped) + "."]
    print("\n".join(lines))
    if args.markdown:
        args.markdown.write_text("# Variants: equal difficulty, measured\n\n"
                                 "Each variant's reference graded on its own variant, and the exercise's mutation corpus\n"
                                 "(tests/test_mutations.py) made in that variant's reference and graded on it.\n\n" + "\n".join(lines) + "\n",
                                 encoding="utf-8")


if __name__ == "__main__":
    main()
