"""`grader` (or `python -m grader`): grade exercises and print the score table.

    grader                          grade every exercise in exercises/
    grader ex01                     grade one exercise (ex01, 01 or 1)
    grader --target solutions       grade the reference solutions
    grader --target DIR             grade a student's folder of exercise files
    grader --data PATH              MNIST .npz or IDX folder (else $MNIST_COURSE_DATA, else Keras)
    grader --json report.json       also write the machine-readable report
    grader --batch SUBS --out RES   grade a class: one folder per student, reports and gradebook.csv
    grader release RES              hand the graded class back: feedback per student, Canvas's CSV (handback.py)
    grader import-canvas ZIP DIR    Canvas's "Download submissions" zip -> one folder per student (lms_import.py)
    ... --scheduler tcp://HOST:PORT  the same class on a Dask cluster, one task per student
    grader --student ID             grade as student ID: your variant of each exercise that has them (remembered)
    grader --variant [ex05b]        show your variants, what each asks
    grader --use-variant ex05b=d2p3 work on another variant (practice; with --batch: the whole class)
    grader variants --class SUBS    which variant each student of a class has (variants also takes ids)
    grader --hint ex01 [FUNCTION]   the next hint for an exercise (a nudge first, then more)
    grader --progress               your progress through the course
    grader --watch [ex01]           re-grade on every save; move on when an exercise passes

Exit status: 0 every check passed, 1 some check did not pass, 2 the grader
could not run (bad arguments, no data, a broken grader).
With --batch, the class's: 0 every submission was graded, whatever it scored;
1 the run finished but some submission could not be graded (refused, an error,
or `retry`: gradebook.csv's status says which; run again); 2 the run could not
run or did not finish (bad arguments, no data, no sandbox, RESULTS not
writable, Ctrl-C), every report written so far kept.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

import pytest

from mnist_course.course import CourseError, Exercise, load_course
from mnist_course.data import TEST_HALVES, DataError

from .isolation import bubblewrap, capacity
from .isolation.limits import promised_memory
from .classroom.batch import BatchRequest, run_batch
from .reports.figures import feedback_page
from .reports.formats import classroom_results, gradescope_results, junit_xml
from .classroom.release import parse_release
from .loop import variant_lines
from .loop import State, exercise_status, print_passed, show_hint, show_progress, show_variants, watch
from . import draws
from .provenance import GRADER_VERSION
from .reports.report import Reporter, data_summary, earlier_report, environment, render_table, version_drift, write_text
from .session import GRADER_DIR, TargetError, is_stub_folder, load_data, resolve_target
from .settings import STUDENT_ENV, RunSettings

EXIT_PASSED, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2
MARKS = {"passed": ".", "failed": "F", "not started": "-", "error": "E"}


class Progress:
    """Shows which exercise is being graded, one mark per finished check."""

    def __init__(self, exercises: list[Exercise]):
        self.titles = {ex.module: f"{ex.id} · {ex.title}" for ex in exercises}
        self.current: str | None = None
        self.collect_errors: list[str] = []
        self.marked: dict[tuple[str, str], str] = {}  # (exercise id, check): its status as it ended

    def pytest_runtest_logstart(self, nodeid: str, location) -> None:
        module = Path(nodeid.split("::")[0]).stem.removeprefix("test_")
        if module != self.current:
            if self.current is not None:
                print(flush=True)
            self.current = module
            print(f"Grading {self.titles.get(module, module)} ", end="", flush=True)

    def mark(self, row: dict) -> None:
        """A listener of the run's Reporter: one mark per finished check."""
        self.marked[(row["exercise"], row["name"])] = row["status"]
        print(MARKS[row["status"]], end="", flush=True)

    def settle(self, report: dict) -> None:
        """Name the checks marked as passing whose final row earns nothing: the final rules (Reporter.final_rows)
        act once the run is over, when a by-hand function is found to use a forbidden library after its
        checks ended, or a check's declared dependency then earns nothing."""
        changed = [f"{ex['id']} {check['name']}" for ex in report["exercises"] for check in ex["checks"]
                   if self.marked.get((ex["id"], check["name"])) == "passed" and check["status"] != "passed"]
        if changed:
            print(f"Marked {MARKS['passed']} above, but earning nothing in the end (the table below says why): {', '.join(changed)}",
                  flush=True)

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.collect_errors.append(f"{report.nodeid}: {str(report.longrepr).strip().splitlines()[-1]}")

    def pytest_sessionfinish(self) -> None:
        if self.current is not None:
            print(flush=True)


def grade(course, exercises: list[Exercise], target: Path, settings: RunSettings, mnist):
    """Run the pytest graders once with the run's `settings`; return (report, pytest
    exit code, collection errors)."""
    started, t0 = datetime.now(), time.perf_counter()
    reporter, progress = Reporter(), Progress(exercises)  # the one path of every score (report.Reporter)
    reporter.listeners.append(progress.mark)
    # The graders' own config (-c) makes grader/ the rootdir: no configuration
    # or conftest.py from the student's folder or the environment is read.
    for variable in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        os.environ.pop(variable, None)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    pytest_args = [
        *(str(ex.grader_path) for ex in exercises),
        "-c", str(GRADER_DIR / "pytest.ini"),
        "-p", "no:terminal",
    ]
    # The settings go in as one object (plugin.py's `settings` fixture), never through the environment.
    code = pytest.main(pytest_args, plugins=[reporter, progress, settings.but(target=str(target))])
    report = reporter.report(
        course,
        exercises,
        half=settings.half,
        target=target,
        data=data_summary(mnist),
        started=started,
        seconds=time.perf_counter() - t0,
        interrupted=code == pytest.ExitCode.INTERRUPTED,
        variants={ex.id: settings.variant_of(ex) for ex in exercises},
        draws=draws.named(settings.draw_key),
    )
    progress.settle(report)
    if is_stub_folder(target) and code != pytest.ExitCode.INTERRUPTED:
        State.load().record(report)
    return report, code, progress.collect_errors


def report_files(args: argparse.Namespace, mnist=None) -> dict[Path, Callable[[dict], str]]:
    """The report files asked for, each with how to render it (the feedback page
    also draws its figures beside itself, reading test images from `mnist`)."""
    renderers = {
        "json": lambda r: json.dumps(r, indent=2, ensure_ascii=False) + "\n",
        "gradescope": lambda r: json.dumps(gradescope_results(r, getattr(args, "private_visibility", None)), indent=2, ensure_ascii=False) + "\n",
        "junit": junit_xml,
        "classroom": lambda r: json.dumps(classroom_results(r), ensure_ascii=False) + "\n",
        "feedback": lambda r: feedback_page(r, args.feedback, mnist=mnist),
    }
    return {getattr(args, name): render for name, render in renderers.items() if getattr(args, name, None)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="grader",
        description="Grade the MNIST course's exercises.",
        epilog="Exit status: 0 all checks passed, 1 some did not, 2 the grader could not run. "
        "With --batch: 0 every submission was graded (whatever it scored), 1 some could not be (refused, an error or "
        "retry: gradebook.csv's status says which; run again), 2 the run could not run or did not finish. "
        "After --batch, `grader release RESULTS` hands the class back (grader release --help).",
    )
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE", help="ids to grade (default: all), e.g. ex01")
    parser.add_argument("--target", help="folder to grade: exercises (default), solutions, or a path")
    parser.add_argument("--data", help="MNIST .npz file or IDX folder (default: $MNIST_COURSE_DATA, then Keras)")
    parser.add_argument(
        "--full-mnist",
        action="store_true",
        help="train on all 60,000 training images rather than the course's 22,699 (or set MNIST_COURSE_FULL=1); the bars are estimates",
    )
    parser.add_argument(
        "--half",
        choices=TEST_HALVES,
        help="the half of the test set that measures accuracy: public (default: a student's own grading) or private (the default with --batch)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report to FILE")
    parser.add_argument("--gradescope", type=Path, metavar="FILE", help="write Gradescope's results.json to FILE")
    parser.add_argument(
        "--private-visibility",
        choices=("after_published", "after_due_date"),
        help="with --gradescope and --half private: hold the private half's accuracy checks back until then (Gradescope's "
        "test visibility) and show students the public half's score meanwhile",
    )
    parser.add_argument(
        "--private-release",
        metavar="DATE",
        help="with --batch: until DATE (2026-12-15, or 2026-12-15T09:00+01:00; UTC unless it says), students' feedback pages "
        "show model accuracy on the public half only; the gradebook always holds the private grade. Kept in RESULTS for the "
        "next runs; `none` releases at once",
    )
    late = parser.add_argument_group(
        "due dates, late work and extensions (with --batch; grader/classroom/deadlines.py)",
        "The penalty is applied on top of the graded report, which keeps its raw score; the gradebook has raw score, penalty and final "
        "score, `grader release` uploads the final one. Lateness is counted in STARTED days or hours, rounded up (1 minute late is "
        "1 day late); late days absorb started days before any penalty. The policy is kept in RESULTS for the next runs "
        "(--due none drops it); changing it rewrites the late sections and pages without grading again.",
    )
    late.add_argument("--due", metavar="DATETIME", help="the due date with its time zone: 2026-12-15T23:59+01:00 (or ...Z for UTC)")
    late.add_argument("--late-penalty", metavar="RATE", help="late submission penalty, a percentage of the raw score per started day or hour: 10%%/day, 2%%/hour")
    late.add_argument("--late-cap", type=float, metavar="PERCENT", help="the late penalty never exceeds PERCENT of the raw score (default 100)")
    late.add_argument("--cutoff", metavar="DATETIME", help="Gradescope's late due date: a submission after it scores 0 (moved by an extension as the due date is)")
    late.add_argument("--late-days", type=int, metavar="N", help="each student's late days for this assignment, used up (started days) before any penalty")
    late.add_argument("--extensions", metavar="FILE", help="CSV `student,extension`: a new due date with its zone, or extra time (48h, 2d)")
    late.add_argument("--submission-times", metavar="FILE", help="CSV `student,submitted_at,source` (ISO 8601 with zone): the times to judge by (default: "
                      "SUBMISSIONS/submission_times.csv if it exists, else the files' modification time)")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML to FILE")
    parser.add_argument("--classroom", type=Path, metavar="FILE", help="write GitHub Classroom's runner result (JSON) to FILE")
    parser.add_argument("--feedback", type=Path, metavar="FILE", help="write a feedback page to FILE: Markdown, or standalone HTML when FILE ends in .html")
    parser.add_argument("--batch", type=Path, metavar="SUBMISSIONS", help="grade every student folder in SUBMISSIONS (needs --out)")
    parser.add_argument("--out", type=Path, metavar="RESULTS", help="with --batch: where reports and gradebook.csv go")
    parser.add_argument("--jobs", type=int, help="with --batch: submissions graded at once on this machine (default 1)")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --batch: grade on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786), one task per student; needs .[cluster]",
    )
    parser.add_argument("--force", action="store_true", help="with --batch: regrade submissions already graded")
    parser.add_argument(
        "--only", nargs="+", metavar="STUDENT",
        help="with --batch: regrade these students' folders only (forced), leaving every other student's report, row and page as they are; needs --reason (name any EXERCISE before --only)",
    )
    parser.add_argument("--reason", metavar="TEXT", help="with --batch: why students are regraded (--only or --force), kept in RESULTS/history and on their pages")
    parser.add_argument(
        "--similarity-threshold", type=float, metavar="SHARE",
        help="with --batch: list pairs sharing at least this share of an exercise's code (default 0.7; needs .[similarity])",
    )
    parser.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help="with --batch: grade the class even where no sandbox can start, or on cluster workers whose isolation is REDUCED (every report says so)",
    )
    parser.add_argument(
        "--student", metavar="ID",
        help="your student id, as your instructor names you (your login or email): the exercises with variants grade the variant "
        "drawn from it, as your instructor's grading does. Remembered for the next runs; without one, every exercise's default variant",
    )
    parser.add_argument(
        "--use-variant", action="append", metavar="EXERCISE=VARIANT",
        help="grade this variant of an exercise instead of the one drawn (practice: grader --variant lists them); with --batch, "
        "every student of the class gets it",
    )
    parser.add_argument("--variant", action="store_true", help="show your variant of each exercise that has variants (or of the EXERCISEs named), and what it asks")
    parser.add_argument("--hint", metavar="EXERCISE", help="show the next hint for an exercise (name a function or check after it)")
    parser.add_argument("--level", type=int, help="with --hint: show this many hint levels, without remembering")
    parser.add_argument("--progress", action="store_true", help="show your progress through the course")
    parser.add_argument("--watch", action="store_true", help="re-grade whenever the exercise file is saved")
    args = parser.parse_args(argv)
    _check_combinations(parser, args)
    return args


LATE_OPTIONS = ("due", "late_penalty", "late_cap", "cutoff", "late_days", "extensions", "submission_times")


def _check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Options that do nothing together are an error (exit 2), never silently ignored."""
    modes = [f"--{m}" for m in ("hint", "progress", "watch", "batch", "variant") if getattr(args, m) not in (None, False)]
    if len(modes) > 1:
        parser.error(f"{modes[0]} and {modes[1]} do not go together")
    if args.hint is not None and (not args.hint.strip() or len(args.exercises) > 1):
        parser.error("--hint takes an exercise, then at most one function or check: grader --hint ex01 one_hot")
    if args.level is not None and args.hint is None:
        parser.error("--level only goes with --hint")
    batch_only = [f"--{o.replace('_', '-')}" for o in ("out", "jobs", "scheduler", "force", "only", "reason", "similarity_threshold", "private_release", *LATE_OPTIONS) if getattr(args, o) not in (None, False)]
    if batch_only and not args.batch:
        parser.error(f"{batch_only[0]} only goes with --batch")
    if args.batch:
        single = [f"--{o}" for o in ("target", "json", "gradescope", "junit", "classroom", "feedback") if getattr(args, o)]
        if single:
            parser.error(f"{single[0]} is for one submission; --batch writes every student's reports under --out")
        if args.out is None:
            parser.error("--batch needs --out RESULTS")
    if args.batch and args.student:
        parser.error("--student is one student's; --batch draws each student's variants from their folder's name")
    if args.only and not (args.reason or "").strip():
        parser.error("--only regrades some students: say why with --reason TEXT (kept in RESULTS/history, shown on their pages)")
    if args.reason is not None and not (args.only or args.force):
        parser.error("--reason says why students are regraded: it goes with --only STUDENT... or --force")
    if args.similarity_threshold is not None and not 0 < args.similarity_threshold <= 1:
        parser.error("--similarity-threshold is a share of the code, above 0 and at most 1 (e.g. 0.5)")
    if args.private_visibility and not args.gradescope:
        parser.error("--private-visibility only goes with --gradescope (the batch's own setting is --private-release DATE)")
    if args.private_release is not None:
        try:
            parse_release(args.private_release)
        except ValueError as exc:
            parser.error(str(exc))
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.jobs is not None and args.scheduler:
        parser.error("--jobs is for this machine; with --scheduler the cluster's workers decide how many run at once")


def _warn_short_machine(exercises: list[Exercise]) -> None:
    """Say once, before grading, when the machine gives less memory than grading
    needs: a process less address space than the grader promises it (`ulimit
    -v`), or a container or machine less than an exercise's grading was
    measured to need (course.toml's container_mb). There, a check that fails
    for memory is "not graded" (retry), never failed (issue 26)."""

    if not exercises:
        return
    limits = capacity.machine_limits()
    needs = {ex.id: promised_memory(ex) for ex in exercises}
    worst = max(exercises, key=lambda ex: needs[ex.id])
    per_process = next((limit for limit in limits if limit.kind == "address space"), None)
    if per_process is not None and per_process.bytes < needs[worst.id]:
        setting = capacity.memory_setting(needs[worst.id], worst.container_mb, worst.id)
        print(
            f"grader: WARNING: {per_process.describe()}, less than the {needs[worst.id] >> 20:,} MiB a process grading {worst.id} is "
            f"promised: a check that fails for memory will be \"not graded\" (grade again), never failed; {setting}",
            file=sys.stderr,
        )
    measured = [ex for ex in exercises if ex.container_mb]
    whole = [limit for limit in limits if limit.kind != "address space"]
    if measured and whole:
        hungriest = max(measured, key=lambda ex: ex.container_mb)
        if whole[0].bytes < hungriest.container_mb * 10**6:
            print(
                f"grader: WARNING: {whole[0].describe()}, less than the {hungriest.container_mb:,} MB grading {hungriest.id} was measured "
                "to need (platforms/README.md, \"Memory\"): a check that runs out of memory will be \"not graded\" (grade again), never failed",
                file=sys.stderr,
            )


def _stop(signum, frame):
    # SIGTERM and SIGHUP end grading like Ctrl-C does, so every worker is cleaned up.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """The command's one entry: `grader release` is a step of its own; else the options pick
    one mode: --hint, --progress, --batch, --watch, or grading once."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["release"]:  # a step of its own, with its own options (handback.py)
        from .classroom.handback import main as release_main

        return release_main(argv[1:])
    if argv[:1] == ["import-canvas"]:  # Canvas's download -> the folders --batch reads (lms_import.py)
        from .classroom.lms_import import main as import_main

        return import_main(argv[1:])
    if argv[:1] == ["variants"]:  # who has which variant (classroom/roster.py)
        from .classroom.roster import main as variants_main

        return variants_main(argv[1:])
    args = parse_args(argv)
    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None:
            signal.signal(signum, _stop)
    try:
        # Resolved once (a bad $MNIST_COURSE_TEST_HALF stops here, exit 2), then passed
        # explicitly: to this process's checks, to a batch's grader processes.
        settings = RunSettings.resolve(
            half=args.half, full_data=args.full_mnist, data=args.data, target=args.target, jobs=args.jobs, batch=bool(args.batch),
            student=args.student, variant_choices=",".join(args.use_variant) if args.use_variant else None,
        )
        settings = _whose_variants(args, settings)
        course = load_course()
        if args.hint:
            return _hint_mode(args, course)
        if args.progress:
            show_progress(course, State.load())
            return EXIT_PASSED
        if args.variant:
            show_variants(course, [course.exercise(key) for key in args.exercises] or list(course.exercises), settings)
            return EXIT_PASSED
        exercises = [course.exercise(key) for key in args.exercises] or list(course.exercises)
        sandboxed = _say_how_isolated(exercises)
        if args.batch:
            return _batch_mode(args, exercises, settings, sandboxed)
        target = resolve_target(settings.target)
        for path in report_files(args):
            if not os.access(path.resolve().parent, os.W_OK):
                raise TargetError(f"cannot write the report to {path}: its folder is missing or read-only")
        mnist = load_data(settings.data, settings.full_data)
    except (CourseError, TargetError, DataError) as exc:
        print(f"grader: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:  # during --batch: every finished report is already on disk
        print("\ngrader: interrupted; reports written so far are kept, run again to resume", file=sys.stderr)
        return EXIT_UNUSABLE

    _say_what_grades(exercises, settings, mnist)
    if args.watch:
        return _watch_mode(args, course, exercises, target, settings, mnist)
    return _grade_once(args, course, exercises, target, settings, mnist)


def _whose_variants(args: argparse.Namespace, settings: RunSettings) -> RunSettings:
    """A student's own run: `--student` is remembered (loop.State) for the next runs, and a run
    given no identity (neither `--student` nor $MNIST_COURSE_STUDENT, which a child grader always
    gets, empty or not) takes the remembered one. A batch never does: each folder is a student."""
    if args.batch:
        return settings
    state = State.load()
    if args.student:
        if state.student and state.student != settings.student:  # the variants of the next runs change with it
            print(f"grader: the student id remembered for your next runs is now {settings.student!r} (it was {state.student!r})")
        state.remember_student(settings.student)
        return settings
    if settings.student is None and STUDENT_ENV not in os.environ and state.student:
        return settings.but(student=state.student)
    return settings


def _hint_mode(args: argparse.Namespace, course) -> int:
    """`grader --hint EXERCISE [FUNCTION]`: the next hint (loop.show_hint)."""
    name = args.exercises[0] if args.exercises else None
    show_hint(course.exercise(args.hint), name, args.level, State.load())
    return EXIT_PASSED


def _say_how_isolated(exercises: list[Exercise]) -> bool:
    """Warn, before grading, where student code runs with less isolation or memory than
    promised; return whether the sandbox is active."""
    sandbox = bubblewrap.find()
    if not sandbox.active:
        print(f"grader: WARNING: isolation is REDUCED: {sandbox.reason}; student code runs without the sandbox", file=sys.stderr)
    limits = capacity.describe()  # decided once here, before any grader process it starts (capacity.py)
    if limits.startswith("REDUCED"):
        print(f"grader: WARNING: {limits}", file=sys.stderr)
    _warn_short_machine(exercises)
    if sandbox.active and bubblewrap.area_bytes() is None:
        print("grader: WARNING: REDUCED isolation: a worker's writable folder is the grader's own, with no size cap "
              "(switched off, or this grader cannot read a sandbox's tmpfs through /proc)", file=sys.stderr)
    return sandbox.active


def _batch_mode(args: argparse.Namespace, exercises: list[Exercise], settings: RunSettings, sandboxed: bool) -> int:
    """`grader --batch SUBMISSIONS --out RESULTS`: a class (classroom/batch.py). Its exit status is
    the class's, not a score's: 0 every submission graded (whatever it scored), 1 some could not be
    (refused, an error, `retry`: gradebook.csv's status says which), 2 the run could not run or finish."""
    if not sandboxed and not args.allow_unsandboxed:
        raise TargetError(
            "a class is graded only inside the sandbox, where no submission can reach another's files or the "
            "gradebook; pass --allow-unsandboxed to grade it anyway (every report will say so)"
        )
    mnist = load_data(settings.data, settings.full_data)  # fail early (exit 2) when there is no data
    request = BatchRequest(
        args.batch,
        args.out,
        exercises,
        settings,
        mnist.provenance.sha256,
        args.force,
        mnist=mnist,
        scheduler=args.scheduler,
        allow_unsandboxed=args.allow_unsandboxed,
        **({"similarity_threshold": args.similarity_threshold} if args.similarity_threshold else {}),
        private_release=args.private_release,
        only=tuple(args.only or ()),
        reason=(args.reason or "").strip() or None,
        late=tuple((o, getattr(args, o)) for o in LATE_OPTIONS if getattr(args, o) is not None),
    )
    try:
        return run_batch(request)
    except OSError as exc:  # RESULTS could not be written: the run failed, which is no student's "not graded"
        print(f"grader: the batch could not go on: {exc}; reports written so far are kept, run again to resume", file=sys.stderr)
        return EXIT_UNUSABLE


def _say_what_grades(exercises: list[Exercise], settings: RunSettings, mnist) -> None:
    """The lines above a grading: the data, the test half, the grader and its libraries."""
    print(f"Data: {mnist.provenance.describe()}")
    if any(ex.thresholds for ex in exercises):
        half = settings.half
        other = "your instructor grades on the other half, so tune by validation, not by this number" if half == "public" else "students' own grading uses the other half"
        print(f"Model accuracies are measured on the {half} half of the test set ({len(mnist.y_test) // 2:,} images); {other}")
    for line in variant_lines(exercises, settings):
        print(line)
    env = environment()
    print(
        f"Grader {GRADER_VERSION}: Python {env['python']}, TensorFlow {env['tensorflow']}, Keras {env['keras']}, "
        f"NumPy {env['numpy']}; {env['cpu_count']} CPUs, the trainer uses {env['trainer_threads']} threads"
    )


def _watch_mode(args: argparse.Namespace, course, exercises: list[Exercise], target: Path, settings: RunSettings, mnist) -> int:
    """`grader --watch [EXERCISE]`: grade again on every save, from where the student left off (loop.watch)."""
    if not args.exercises and is_stub_folder(target):  # start where the student left off
        state = State.load()
        exercises = [ex for ex in exercises if exercise_status(state.progress(ex)) != "passed"] or exercises

    def grade_one(exercise: Exercise) -> dict:
        report, code, _ = grade(course, [exercise], target, settings, mnist)
        if code == pytest.ExitCode.INTERRUPTED:
            raise KeyboardInterrupt
        return report

    try:
        return watch(exercises, target, grade_one)
    except KeyboardInterrupt:
        print("\nStopped watching.")
        return EXIT_FAILED


def _grade_once(args: argparse.Namespace, course, exercises: list[Exercise], target: Path, settings: RunSettings, mnist) -> int:
    """`grader [EXERCISE ...]`: grade once, print the table, write the reports asked for, and
    say in the exit status whether every check passed."""
    report, code, collect_errors = grade(course, exercises, target, settings, mnist)
    drift = version_drift(report["environment"], earlier_report(target))
    if drift:
        report["version_drift"] = drift
    print()
    print(render_table(report))
    print_passed(report, target)
    for error in collect_errors:
        print(f"grader: could not load {error}", file=sys.stderr)
    for path, render in report_files(args, mnist).items():
        try:
            write_text(path, render(report))
        except OSError as exc:
            print(f"grader: could not write {path}: {exc}", file=sys.stderr)
            return EXIT_UNUSABLE
        print(f"Report written to {path}")
    if code == pytest.ExitCode.INTERRUPTED:
        print("grader: interrupted; the scores above are incomplete", file=sys.stderr)
        return EXIT_UNUSABLE
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or collect_errors:
        print(f"grader: pytest could not run the graders (exit {int(code)})", file=sys.stderr)
        return EXIT_UNUSABLE
    if report.get("retry"):  # a safety clock fired: the grader's failure, never a verdict
        print("grader: some checks were not graded (the grader failed, or the machine was too slow, overloaded or short of memory: each such check says which); grade again", file=sys.stderr)
        return EXIT_UNUSABLE
    return EXIT_PASSED if report["score"] == report["max_score"] else EXIT_FAILED
