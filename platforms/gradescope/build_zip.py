"""Build the autograder zip to upload to Gradescope.

    python platforms/gradescope/build_zip.py                      # all exercises -> gradescope-autograder.zip
    python platforms/gradescope/build_zip.py ex01.zip --exercises ex01
    python platforms/gradescope/build_zip.py --timeout-min 20     # the script's own limit on one grading

The zip holds, at its root, Gradescope's `setup.sh` and `run_autograder`,
`autograde.py` (what run_autograder runs), `autograder.json` (the exercises
to grade, with their points) and `requirements.txt` (pyproject.toml's
dependencies); beside them the course as a student's clone has it, minus
everything a grader does not need: grader/, mnist_course/, exercises/ (the
stubs), course.toml, pyproject.toml, README.md, LICENSE. Never solutions/,
lessons/ or tests/. The same sources always give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))  # this clone's course, not whatever else is installed

from mnist_course.course import CourseError, parse_course

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

COURSE_FOLDERS = ("grader", "mnist_course", "exercises")
COURSE_FILES = ("course.toml", "pyproject.toml", "README.md", "LICENSE")
PLATFORM_FILES = {"setup.sh": 0o755, "run_autograder": 0o755, "autograde.py": 0o644}
NEVER = ("solutions", "lessons", "tests", "benchmarks", "models", "platforms", ".git")
SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints", ".grader"}
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # zip entries' dates: the same sources give the same zip


def course_entries() -> list[tuple[str, Path]]:
    entries = [(name, REPO / name) for name in COURSE_FILES]
    for folder in COURSE_FOLDERS:
        for path in sorted((REPO / folder).rglob("*")):
            relative = path.relative_to(REPO)
            if path.is_file() and not path.is_symlink() and not SKIPPED_PARTS & set(relative.parts) and path.suffix != ".pyc":
                entries.append((relative.as_posix(), path))
    return entries


def requirements() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = ["# pyproject.toml's dependencies, which setup.sh installs; pin versions here to fix them."]
    return "\n".join([*lines, *project["dependencies"]]) + "\n"


# Gradescope's runtime settings, smallest first: (memory in MB, how its settings page names it).
SETTINGS = ((768, "0.5 CPU and 768 MB (Gradescope's default)"), (1500, "1.0 CPU and 1.5 GB"), (3000, "2.0 CPU and 3.0 GB"), (6000, "4.0 CPU and 6.0 GB"))
# A model exercise's submission may train at its work cap (3 times the
# reference's work): on 2 CPUs a whole submission takes about 12 minutes, on
# half a CPU four times as long, past Gradescope's 40; 2.0 CPU and 3.0 GB
# stays the advice for models, as before. Verdicts never depend on the CPU
# share; the timeout does.
MODEL_FLOOR_MB = 3000


def resources(exercises: list) -> tuple[str, str]:
    """The Gradescope setting these exercises need, and why: the memory each needs
    (course.toml's container_mb, measured by benchmarks/memory.py), and 2 CPUs
    for model exercises, so that a submission at its work cap ends within the timeout."""
    unmeasured = [ex.id for ex in exercises if ex.container_mb is None]
    memory = max((ex.container_mb or SETTINGS[-1][0]) for ex in exercises)
    models = [ex.id for ex in exercises if ex.training]
    needed = max(memory, MODEL_FLOOR_MB if models else 0)
    name = next((label for mb, label in SETTINGS if mb >= needed), SETTINGS[-1][1])
    worst = max(exercises, key=lambda ex: ex.container_mb or SETTINGS[-1][0])
    why = [f"memory: the most any of these exercises needs is {worst.container_mb} MB, for {worst.id} (benchmarks/MEMORY.md)"]
    if unmeasured:
        why = [f"memory: {', '.join(unmeasured)} not measured (benchmarks/memory.py), so the largest setting"]
    if models and needed == MODEL_FLOOR_MB and memory < MODEL_FLOOR_MB:
        why.append(
            f"2 CPUs for {', '.join(models)}, so that a submission whose models train at their work cap (about 12 minutes "
            "on 2 CPUs, four times that on the default half CPU) ends well inside the timeout"
        )
    return name, "; ".join(why)


def config(exercise_keys: list[str], timeout_min: float, private_visibility: str = "visible", use_variant: list[str] | None = None,
           draw_key: str | None = None) -> dict:
    course = parse_course((REPO / "course.toml").read_text(encoding="utf-8"))
    for choice in use_variant or []:  # EXERCISE=VARIANT, checked here so a typo never reaches Gradescope
        exercise, _, key = choice.partition("=")
        course.exercise(exercise).variant(key.strip())
    chosen = [course.exercise(key) for key in exercise_keys] if exercise_keys else list(course.exercises)
    ordered = [ex for ex in course.exercises if ex in chosen]  # course order, each once
    setting, why = resources(ordered)
    return {
        "course": course.title,
        "exercises": [{"id": ex.id, "file": ex.filename, "title": ex.title, "max_score": ex.max_score} for ex in ordered],
        "timeout_s": round(timeout_min * 60),
        # What results.json names when the container was too small (autograde.py).
        "resources": setting,
        "resources_why": why,
        # Gradescope's visibility for the accuracy checks graded on the private half: "visible" at once,
        # or held back until "after_published" / "after_due_date", the public half's score shown meanwhile.
        "private_visibility": private_visibility,
        # Each submitter's variants are drawn from their Gradescope email (autograde.py); these, chosen
        # for everyone (--use-variant EXERCISE=VARIANT), win over the draw.
        "use_variant": list(use_variant or []),
        # The key of the grader's unpredictable draws (grader/draws.py): this zip's own secret, which only the
        # instructor's upload carries; a new zip draws anew unless it is given the same key (--draw-key-file).
        "draw_key": draw_key or secrets.token_hex(16),
    }


def build(out: Path, exercise_keys: list[str], timeout_min: float, private_visibility: str = "visible", use_variant: list[str] | None = None,
          draw_key: str | None = None) -> dict:
    settings = config(exercise_keys, timeout_min, private_visibility, use_variant, draw_key)
    files: list[tuple[str, bytes, int]] = []
    for name, mode in PLATFORM_FILES.items():
        files.append((name, (HERE / name).read_bytes(), mode))
    files.append(("autograder.json", (json.dumps(settings, indent=2, ensure_ascii=False) + "\n").encode(), 0o644))
    files.append(("requirements.txt", requirements().encode(), 0o644))
    for name, path in course_entries():
        files.append((name, path.read_bytes(), 0o644))
    names = [name for name, _, _ in files]
    leaked = [name for name in names if name.split("/")[0] in NEVER]
    if leaked or len(set(names)) != len(names):
        raise SystemExit(f"build_zip: refusing to write {leaked or 'duplicate entries'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in files:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build_zip.py", description="Build the Gradescope autograder zip.")
    parser.add_argument("out", nargs="?", type=Path, default=Path("gradescope-autograder.zip"), help="the zip to write (default: gradescope-autograder.zip)")
    parser.add_argument("--exercises", nargs="+", default=[], metavar="EXERCISE", help="the exercises to grade, e.g. ex01 ex04 (default: all)")
    parser.add_argument("--timeout-min", type=float, default=35, help="stop one grading after this many minutes and say so (default 35; Gradescope's own limit must be higher)")
    parser.add_argument(
        "--private-visibility",
        choices=("visible", "after_published", "after_due_date"),
        default="visible",
        help="when students see the accuracy checks graded on the private half (Gradescope's test visibility): visible (default), "
        "after_published (when you publish the grades) or after_due_date; until then they see the public half's score",
    )
    parser.add_argument(
        "--use-variant", action="append", metavar="EXERCISE=VARIANT",
        help="grade every submission on this variant of an exercise; by default each student's variants are drawn from their "
        "Gradescope email, as `grader --student EMAIL` draws them",
    )
    parser.add_argument(
        "--draw-key-file", type=Path, metavar="FILE",
        help="take the key of the grader's draws from FILE (a batch's RESULTS/draw_key, say: the same draws on both routes, and the "
        "same zip from the same sources); by default each zip gets a new secret one",
    )
    args = parser.parse_args(argv)
    try:
        draw_key = args.draw_key_file.read_text(encoding="ascii").strip() if args.draw_key_file else None
        settings = build(args.out, args.exercises, args.timeout_min, args.private_visibility, args.use_variant, draw_key)
    except (CourseError, OSError, UnicodeDecodeError) as exc:
        print(f"build_zip: {exc}", file=sys.stderr)
        return 2
    total = sum(ex["max_score"] for ex in settings["exercises"])
    print(f"Wrote {args.out}: {', '.join(ex['id'] for ex in settings['exercises'])} for {total} points.")
    print(f"On Gradescope: upload it as the assignment's autograder, set its points to {total}, its timeout above "
          f"{args.timeout_min:g} minutes (40 is Gradescope's most), and its runtime resources to {settings['resources']} "
          f"({settings['resources_why']}; platforms/README.md, \"Memory\"). In a smaller container a check may be "
          "\"not graded\" (never failed) until you regrade with more.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
