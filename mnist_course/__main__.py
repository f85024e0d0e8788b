"""`mnist-course`: the course's own command, for maintainers and students.

  mnist-course build   regenerate every generated file (exercises/, lessons/*.ipynb,
                       platforms/nbgrader/, .github/workflows/) from its sources
  mnist-course check   exit 1 if any generated file is missing or out of date, or the
                       points reward conventions over learning (course.toml's shares)
  mnist-course list    the exercises in course order, with points and their shares
  mnist-course starter DIR [--repository URL]
                       write the starter repository a class receives: lessons, stubs, grader,
                       the students' page; never solutions/, tests/ or the instructors' material
  mnist-course nbgrader DIR
                       write an nbgrader course directory (config and one assignment per exercise)
  mnist-course nbgrader-export SUBMITTED OUT
                       nbgrader's submitted notebooks as exercise files, for `grader --batch OUT`
  mnist-course predict IMAGE... [--model PATH]
                       read digits from photos or scans with a trained model
  mnist-course train [--out PATH] [--epochs N]
                       train and save the stronger CNN of lesson 6 (for predict)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .build import relative, stale_files, write_all
from .course import CourseError, load_course
from .data import DataError


MODEL_HELP = "a saved .keras model (default: models/mnist-cnn.keras, made by `mnist-course train`)"
DATA_HELP = "MNIST .npz file or IDX folder (default: $MNIST_COURSE_DATA, then the Keras download)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnist-course",
        description="The course's own command: build and check the course, list its exercises, "
        "and use a trained model on real digit images.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("build", help="regenerate every generated file (exercises/, lessons/*.ipynb, platforms/nbgrader/, .github/workflows/) from its sources")
    commands.add_parser("check", help="exit 1 if any generated file is missing or out of date, or the point shares are off")
    commands.add_parser("list", help="the exercises in course order, with points")
    starter = commands.add_parser(
        "starter",
        help="write the starter repository a class receives (no solutions, tests or instructors' material)",
        description="Write into DIR (new, or empty) what a student receives: the lessons, the exercise stubs, the grader "
        "and the course package, the students' page, pyproject.toml, LICENSE and the Classroom workflow; never solutions/, "
        "tests/, platforms/, the benchmarks' scripts or docs/INSTRUCTORS.md. mnist_course/README.md lists what of each "
        "top-level path ships, and why. Push DIR as your class's template repository, or hand it out as a zip.",
    )
    starter.add_argument("directory", metavar="DIR", help="the folder to write (created; must be empty if it exists)")
    starter.add_argument(
        "--repository",
        default=None,
        metavar="URL",
        help="your class's repository (https://github.com/OWNER/REPO): the lessons' Colab badge and set-up cell, course.toml "
        "and the Classroom workflow name it instead of the course's source repository, whose clone holds the solutions",
    )
    nbgrader = commands.add_parser(
        "nbgrader",
        help="write an nbgrader course directory (config and one assignment per exercise)",
        description="Write nbgrader_config.py and source/<assignment>/<assignment>.ipynb for every exercise "
        "into DIR (created if missing; other files there are left alone). platforms/nbgrader/ holds the same, "
        "kept up to date by `mnist-course build`.",
    )
    nbgrader.add_argument("directory", metavar="DIR", help="the course directory to write")
    export = commands.add_parser(
        "nbgrader-export",
        help="nbgrader's submitted notebooks as exercise files, for `grader --batch OUT`",
        description="Read SUBMITTED/<student>/<assignment>/<assignment>.ipynb (nbgrader's submitted/ folder) and "
        "write each notebook's answer cells, below the exercise's imports, as OUT/<student>/<module>.py. "
        "`grader --batch OUT --out RESULTS` then grades them with student code in the grader's sandbox, "
        "never in the grading process.",
    )
    export.add_argument("submitted", metavar="SUBMITTED", help="nbgrader's submitted/ folder")
    export.add_argument("out", metavar="OUT", help="where the students' exercise folders go")
    predict = commands.add_parser(
        "predict",
        help="read digits from photos or scans with a trained model",
        description="Prepare each image MNIST-style (exercise 6's prepare_image) and print the model's "
        "digit, confidence and top 3. Exit status 1 if some file could not be read (the others are "
        "still predicted), 2 if nothing could be (no model, say).",
    )
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="photo or scan of one dark digit on light paper (PNG, JPEG, ...)")
    predict.add_argument("--model", default=None, metavar="PATH", help=MODEL_HELP)
    predict.add_argument(
        "--use-exercises",
        action="store_true",
        help="use your own prepare_image() and predict_digit() from exercises/ex06_real_use.py instead of the reference solution",
    )
    train = commands.add_parser(
        "train",
        help="train and save the stronger CNN of lesson 6 (for predict)",
        description="Train mnist_course.models.stronger_cnn() with a progress bar, "
        "print its test accuracy and save it with a training record beside it.",
    )
    train.add_argument("--out", default=None, metavar="PATH", help="where to save the .keras model (default: models/mnist-cnn.keras)")
    train.add_argument("--epochs", type=_positive, default=None, metavar="N", help="train for N epochs (default: the model's settings, 30)")
    train.add_argument("--data", default=None, metavar="PATH", help=DATA_HELP)
    train.add_argument("--full-mnist", action="store_true", help="train on all 60,000 training images, not the course's 22,699 (or set MNIST_COURSE_FULL=1)")
    train.add_argument("--limit", type=_positive, default=None, metavar="N", help="a quick trial: only the first N training and test images")
    train.add_argument("--seed", type=int, default=0, help="random seed for the weights, the augmentation and the shuffling (default 0)")
    serve = commands.add_parser(
        "serve",
        help="a local web page: draw a digit and watch a trained model read it",
        description="Serve the drawing page on http://127.0.0.1:PORT/ (needs the app extra: pip install -e '.[app]'). "
        "POST /predict also answers scripts: curl -F file=@digit.png http://127.0.0.1:PORT/predict. "
        "Each drawing or upload is prepared with exercise 6's prepare_image and read by the model.",
    )
    serve.add_argument("--model", default=None, metavar="PATH", help=MODEL_HELP)
    serve.add_argument("--port", type=_port, default=8000, metavar="N", help="the port to listen on (default 8000; a busy one is said, with another to try)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="the address to listen on (default 127.0.0.1: this machine only). 0.0.0.0 opens the page to other machines, "
        "as a JupyterHub's proxy or a remote machine needs; it prints a warning",
    )
    serve.add_argument(
        "--use-exercises",
        action="store_true",
        help="prepare pictures with your own prepare_image() from exercises/ex06_real_use.py instead of the reference solution",
    )
    site = commands.add_parser(
        "site",
        help="build the course site: every lesson executed and rendered with its outputs and figures",
        description="Execute every lesson (cached by its source and the data) and render it to HTML with nbconvert, "
        "with an index page, into OUT. MNIST_COURSE_QUICK=1 or --quick builds quickly, and every page says so.",
    )
    site.add_argument("out", metavar="OUT", help="the folder to write the site into")
    site.add_argument("--data", default=None, metavar="PATH", help=DATA_HELP)
    site.add_argument("--quick", action="store_true", help="fewer epochs and images, as CI builds it (or set MNIST_COURSE_QUICK=1)")
    site.add_argument("--cache", default=None, metavar="DIR", help="where executed lessons are kept between builds (default: .site-cache beside OUT)")
    site.add_argument(
        "--with-solutions",
        action="store_true",
        help="copy the reference solutions beside the pages and link them from the index (a self-learner's own site; "
        "left out by default, so a published site does not hand out the answers)",
    )
    return parser


def _port(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535, got {text!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "site":
        from .course import ROOT, solutions_elsewhere
        from .site import build_site

        if args.with_solutions and not (ROOT / "solutions").is_dir():
            print(f"mnist-course site: --with-solutions, but {solutions_elsewhere()}", file=sys.stderr)
            return 2
        quick = args.quick or os.environ.get("MNIST_COURSE_QUICK") == "1"
        started = time.perf_counter()
        try:
            build_site(Path(args.out), data_path=args.data, quick=quick, cache=args.cache, with_solutions=args.with_solutions)
        except DataError as exc:
            print(f"mnist-course site: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # site.Interrupted too: nbclient's unwinding, said in one line
            print("\nmnist-course site: interrupted; no page is half-written, and the lessons that finished running are cached: "
                  "run it again to go on", file=sys.stderr)
            return 130
        print(f"wrote {args.out}/index.html and the lessons in {time.perf_counter() - started:.0f} s{' (quick mode)' if quick else ''}")
        return 0
    if args.command == "serve":
        from .predict import DEFAULT_MODEL
        from .serve import serve  # imports Keras and Starlette only when it runs

        return serve(args.model or DEFAULT_MODEL, port=args.port, host=args.host, use_exercises=args.use_exercises)
    if args.command in ("predict", "train"):
        from . import predict  # imports Keras only when it runs

        if args.command == "predict":
            return predict.predict_files(args.images, args.model or predict.DEFAULT_MODEL, use_exercises=args.use_exercises)
        try:
            full = True if args.full_mnist else None  # None: $MNIST_COURSE_FULL decides, as load_mnist reads it
            return predict.train(args.out or predict.DEFAULT_MODEL, epochs=args.epochs, data=args.data, limit=args.limit, seed=args.seed, full=full)
        except DataError as exc:
            print(f"mnist-course train: {exc}", file=sys.stderr)
            return 2
    try:
        course = load_course()
        if args.command == "list":
            id_width = max(len(ex.id) for ex in course.exercises)
            title_width = max(len(ex.title) for ex in course.exercises)
            for ex in course.exercises:
                functions = ", ".join(f.name for f in ex.functions)
                print(f"{ex.id:<{id_width}}  {ex.title:<{title_width}}  lesson {ex.lesson_number}  {ex.max_score:>3} pts  {functions}")
            print(course.point_shares().line())
            return 0
        if args.command == "starter":
            from .starter import write_starter

            written = write_starter(Path(args.directory), repository=args.repository, course=course)
            print(f"wrote {len(written)} files into {args.directory}: the starter a class receives (no solutions/, tests/ or instructors' material)")
            if not args.repository:
                print(f"its lessons open in Colab from {course.repository}, whose clone holds solutions/: "
                      "pass --repository with your class's repository to point them there")
            return 0
        if args.command == "nbgrader":
            from .nbgrader_course import write_course

            for path in write_course(course, Path(args.directory)):
                print(f"wrote {path}")
            print(f"next: cd {args.directory} && nbgrader generate_assignment '*'")
            return 0
        if args.command == "nbgrader-export":
            from .nbgrader_course import export_submissions

            submitted = Path(args.submitted)
            if not submitted.is_dir():
                raise CourseError(f"{submitted} is not a folder (expected nbgrader's submitted/)")
            written = export_submissions(course, submitted, Path(args.out))
            print(f"wrote {len(written)} exercise file(s) for {len({p.parent for p in written})} student(s) into {args.out}")
            print(f"next: grader --batch {args.out} --out RESULTS")
            return 0 if written else 1
        if args.command == "build":
            written = write_all(course)
            for path in written:
                print(f"wrote {relative(path)}")
            print(f"{len(written)} file(s) regenerated" if written else "everything is up to date")
            return 0
        stale = stale_files(course)
        for path in stale:
            print(f"out of date: {relative(path)}", file=sys.stderr)
        if stale:
            print("run `mnist-course build` and commit the result", file=sys.stderr)
        shares = course.point_shares()
        unbalanced = shares.problems()
        for problem in unbalanced:
            print(f"points: {problem} (tag checks with `learning`/`conventions` in course.toml, or re-weight them)", file=sys.stderr)
        return 1 if stale or unbalanced else 0
    except CourseError as exc:
        print(f"mnist-course: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
