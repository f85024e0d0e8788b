"""Write .github/workflows/classroom.yml, GitHub Classroom's autograding, from course.toml.

    python platforms/github-classroom/make_workflow.py           # (re)write the workflow
    python platforms/github-classroom/make_workflow.py --check   # exit 1 if it is out of date

One step per exercise runs `grader exNN --half private --classroom FILE`
(the instructor's half of the test set) and hands the
result, base64-encoded, to GitHub Classroom's grading reporter
(classroom-resources/autograding-grading-reporter), which adds up every
check's points: partial credit per check, out of the exercise's points in
course.toml. A step exits 0 only when every check of its exercise passes.
platforms/README.md explains the setup and what a student can change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # this clone's course, not whatever else is installed

from mnist_course.course import Course, parse_course

WORKFLOW = REPO / ".github" / "workflows" / "classroom.yml"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
GRADE_MINUTES, STEP_MINUTES = 20, 25  # the grader is stopped first, so its partial result is still reported

HEADER = """\
# GitHub Classroom autograding for a student's repository made from this one.
# GENERATED from course.toml by platforms/github-classroom/make_workflow.py:
# edit that script, not this file (the course's tests check they agree).
# Setup, what the points mean and what a student could change here:
# platforms/README.md.
name: Autograding Tests
"on":
  push:
  workflow_dispatch:
  repository_dispatch:
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:  # the reporter looks for the check run of this name
    runs-on: ubuntu-latest
    # Not in the course's own repository or a template made from it, nor on
    # the commit GitHub Classroom pushes when it creates a student's repository.
    if: ${{{{ github.repository != '{repository}' && !github.event.repository.is_template && github.actor != 'github-classroom[bot]' }}}}
    steps:
      - name: Check out the submission
        uses: actions/checkout@v4
      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "3.11"
          cache: pip
          cache-dependency-path: pyproject.toml
      - name: Install the course and its grader
        run: python -m pip install -e .
      - name: Cache MNIST (the grader downloads it through Keras, checksum verified)
        uses: actions/cache@v4
        with:
          path: ~/.keras/datasets
          key: mnist-keras-datasets-v1
"""

STEP = """\
      - name: {name}
        id: {id}
        if: ${{{{ !cancelled() }}}}
        timeout-minutes: {step_minutes}
        env:
          MAX_SCORE: "{points}"
        run: |
          status=0
          timeout -k 30s {grade_minutes}m grader {id} --half private --classroom "$RUNNER_TEMP/{id}.json" || status=$?
          if [ ! -s "$RUNNER_TEMP/{id}.json" ]; then
            printf '{{"version": 1, "status": "fail", "max_score": %s, "tests": [{{"name": "{id}", "status": "fail", "score": 0, "message": "The grader could not run (exit status %s): see the log of this step."}}]}}\\n' "$MAX_SCORE" "$status" >"$RUNNER_TEMP/{id}.json"
          fi
          echo "result=$(base64 -w 0 <"$RUNNER_TEMP/{id}.json")" >>"$GITHUB_OUTPUT"
          exit "$status"
"""

FOOTER = """\
      - name: Autograding Reporter
        if: ${{{{ !cancelled() }}}}
        uses: {reporter}
        env:
{env}
        with:
          runners: {runners}
"""


def render(course: Course) -> str:
    repository = course.repository.removeprefix("https://github.com/").strip("/")
    steps = [
        # json.dumps: a double-quoted YAML scalar, whatever the title holds.
        STEP.format(id=ex.id, name=json.dumps(f"{ex.id} · {ex.title} ({ex.max_score} points)", ensure_ascii=False), points=ex.max_score, grade_minutes=GRADE_MINUTES, step_minutes=STEP_MINUTES)
        for ex in course.exercises
    ]
    env = "\n".join(f"          {ex.id.upper()}_RESULTS: ${{{{ steps.{ex.id}.outputs.result }}}}" for ex in course.exercises)
    footer = FOOTER.format(reporter=REPORTER, env=env, runners=",".join(ex.id for ex in course.exercises))
    return HEADER.format(repository=repository) + "".join(steps) + footer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make_workflow.py", description="Write GitHub Classroom's workflow from course.toml.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the workflow is missing or out of date, write nothing")
    args = parser.parse_args(argv)
    text = render(parse_course((REPO / "course.toml").read_text(encoding="utf-8")))
    current = WORKFLOW.read_text(encoding="utf-8") if WORKFLOW.is_file() else None
    if args.check:
        if current != text:
            print(f"out of date: {WORKFLOW.relative_to(REPO)}; run python platforms/github-classroom/make_workflow.py", file=sys.stderr)
            return 1
        return 0
    if current == text:
        print(f"{WORKFLOW.relative_to(REPO)} is up to date")
        return 0
    WORKFLOW.parent.mkdir(parents=True, exist_ok=True)
    WORKFLOW.write_text(text, encoding="utf-8")
    print(f"wrote {WORKFLOW.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
