"""`mnist-course`: the maintainers' command.

  mnist-course build   regenerate exercises/ and lessons/*.ipynb from their sources
  mnist-course check   exit 1 if any generated file is missing or out of date
  mnist-course list    the exercises in course order, with points
"""

from __future__ import annotations

import argparse
import sys

from .build import relative, stale_files, write_all
from .course import CourseError, load_course


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mnist-course", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "check", "list"])
    args = parser.parse_args(argv)
    try:
        course = load_course()
        if args.command == "list":
            for ex in course.exercises:
                functions = ", ".join(f.name for f in ex.functions)
                print(f"{ex.id}  {ex.title:<28} lesson {ex.lesson_number}  {ex.max_score:>3} pts  {functions}")
            return 0
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
        return 1 if stale else 0
    except CourseError as exc:
        print(f"mnist-course: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
