"""`grader variants`: which variant of each exercise every student of a class has.

    grader variants --class SUBMISSIONS [--csv FILE]   every student folder, as --batch names them
    grader variants alice bob                          these student ids
    grader variants --class SUBMISSIONS --use-variant ex02b=relu   the same choice --batch would get

A student's identity is the one `--batch` draws from (their folder's name) and the one
the student gives `grader --student`, so the list is what both gradings use
(grader/variants.py). It reads no submission: an instructor can print it before
anything is handed in, to answer "which variant is mine?".
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from mnist_course.course import CourseError, load_course

from .. import variants
from ..reports.report import write_text
from .batch import student_folders


def table(students: list[str], choices: tuple[tuple[str, str], ...] = ()) -> tuple[list[str], list[list[str]]]:
    """(header, one row per student: the id, then the key of each exercise's variant, or why none)."""
    course = load_course()
    varied = [ex for ex in course.exercises if ex.variants]
    rows = []
    for student in students:
        try:
            identity = variants.normalized(student)
        except variants.IdentityError as exc:
            rows.append([student, *([f"({exc})"] * len(varied))])
            continue
        rows.append([student, *(variants.of(course, ex, identity, choices).key for ex in varied)])
    return ["student", *(ex.id for ex in varied)], rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="grader variants",
        description="Which variant of each exercise every student has: the one `grader --batch` grades them on, and the one "
        "`grader --student ID` shows them.",
    )
    parser.add_argument("students", nargs="*", metavar="STUDENT", help="student ids (as their folders are named for --batch)")
    parser.add_argument("--class", dest="submissions", type=Path, metavar="SUBMISSIONS", help="every student folder of SUBMISSIONS")
    parser.add_argument("--use-variant", action="append", metavar="EXERCISE=VARIANT", help="as --batch --use-variant: every student gets it")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="also write the table as CSV")
    args = parser.parse_args(argv)
    students = list(args.students)
    try:
        if args.submissions is not None:
            if not args.submissions.is_dir():
                raise CourseError(f"no such folder of submissions: {args.submissions}")
            names, refused = student_folders(args.submissions)
            students += names
            for name, why in refused.items():
                print(f"grader variants: {name}: {why}", file=sys.stderr)
        if not students:
            parser.error("name student ids, or a class with --class SUBMISSIONS")
        choices = variants.parse_choices(load_course(), ",".join(args.use_variant)) if args.use_variant else ()
        header, rows = table(students, choices)
    except CourseError as exc:
        print(f"grader variants: {exc}", file=sys.stderr)
        return 2
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    if args.csv is not None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
        write_text(args.csv, buffer.getvalue())
        print(f"Written to {args.csv}")
    return 0
