"""Grade a whole class: one folder per student, one report per student, one gradebook.

    grader --batch SUBMISSIONS --out RESULTS [--jobs N | --scheduler ADDRESS] [--force] [EXERCISE ...]

Each student's folder is graded by its own `grader` process (with its own
worker processes): on this machine, --jobs at once, or as one task per student
on a Dask cluster (cluster.py). Either way only this process writes RESULTS.
Per student it writes RESULTS/students/<student>/report.json
(the course's JSON report plus "student", "submission_sha256" and
"grading_key", "submitted_at"), feedback.md with its figures in feedback_files/,
and feedback.html, the same page standing alone with its figures embedded;
then RESULTS/gradebook.csv for every student (per exercise and per check),
RESULTS/similarity.json (similarity.py) and RESULTS/class.html, the class at
a glance (dashboard.py). A report replaced by one with another score, or
removed, is first kept in RESULTS/history/ (history.py).
A report is written as soon as its student is graded, so a crash or Ctrl-C
loses nothing already graded. A re-run skips a student only when neither the
submission nor the grading changed (provenance.grading_key: grader version,
checks, library versions, data, test half, exercises), unless --force.
Identical submissions are graded once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mnist_course.course import Exercise

from . import child_grader, deadlines, history
from .. import draws, scoring, variants
from .cluster import ClusterPool
from .dashboard import write_class_page
from ..reports.figures import feedback_pages, figures_folder
from .progress import ClassProgress, outcome
from ..provenance import grading_key
from .release import HELD_MARK, held, holds_private, public_view, release_setting
from ..reports.report import for_students, write_text
from .gradebook import ABSENT, STALE, answers_csv, gradebook_csv, load_report
from .similarity import DEFAULT_THRESHOLD, class_similarity
from ..isolation import uploads as upload_step
from ..isolation.safe_files import SubmissionError, graded_files, plain_name, remove_tree, shown_name
from ..session import TargetError
from ..settings import RunSettings


def submission_hash(folder: Path) -> str:
    """sha256 over exactly what is graded: each Python source's relative path and
    bytes, each preceded by its length, so no file's bytes can pass for two files."""
    digest = hashlib.sha256()
    for relative in graded_files(folder):
        name, data = str(relative).encode("utf-8", "surrogateescape"), (folder / relative).read_bytes()
        digest.update(b"%d:%s%d:%s" % (len(name), name, len(data), data))
    return digest.hexdigest()


def submission_time(folder: Path) -> str:
    """When the submission was last changed: the newest modification time of the
    files that are graded, in UTC (ISO 8601). Copy submissions with their times
    kept (cp -p, rsync -t, unzip) for this to be the students' own."""
    try:
        newest = max(((folder / relative).lstat().st_mtime for relative in graded_files(folder)), default=None)
    except OSError:
        newest = None
    if newest is None:
        return ""
    return datetime.fromtimestamp(newest, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Runs in a row that end "not graded" while the submission's code had hit its
# own worker's limits (processes, memory, disk), after which the batch grades
# those checks as failed instead of regrading the submission forever.
ATTRIBUTED_RUNS = 3
ATTEMPTS_FILE = "attempts.json"


def settle(result: dict[str, Any], folder: Path, digest: str, key: str) -> dict[str, Any]:
    """A student's report as the batch may keep it. A check with status
    `error` (the grader failed) is never final: the report is marked `retry`.
    A report whose not-graded checks name limits of the submission's own
    worker (`limits`) is counted in `folder`/attempts.json; the
    ATTRIBUTED_RUNS-th run in a row that ends so, for the same submission and
    grading, turns those checks into failures with a message that says why."""
    result = json.loads(json.dumps(result))  # identical submissions share one result; each student settles their own
    checks = [c for e in result["exercises"] for c in e.get("checks", [])]
    if any(c.get("status") == "error" for c in checks):
        result["retry"] = True
        for check in checks:
            if check.get("status") == "error":
                check["retry"] = True
    attempts_path = folder / ATTEMPTS_FILE
    if not result.get("retry"):
        attempts_path.unlink(missing_ok=True)
        return result
    cause = sorted({limit for c in checks if c.get("retry") for limit in c.get("limits", ())})
    if not cause:
        attempts_path.unlink(missing_ok=True)
        return result
    try:
        earlier = json.loads(attempts_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        earlier = {}
    same = isinstance(earlier, dict) and earlier.get("submission_sha256") == digest and earlier.get("grading_key") == key and earlier.get("cause") == cause
    runs = (earlier.get("runs", 0) if same and isinstance(earlier.get("runs"), int) else 0) + 1
    if runs < ATTRIBUTED_RUNS:
        write_text(attempts_path, json.dumps({"submission_sha256": digest, "grading_key": key, "cause": cause, "runs": runs}) + "\n")
        return result
    attempts_path.unlink(missing_ok=True)
    for check in checks:
        if check.get("retry"):
            scoring.exhausted_own_limits(check, runs, cause)
    result.pop("retry", None)
    for exercise in result["exercises"]:
        exercise["status"] = scoring.exercise_status(c["status"] for c in exercise["checks"])
    return result


def check_folders(submissions: Path, out: Path) -> None:
    if not submissions.is_dir():
        raise TargetError(f"no such folder of submissions: {submissions}")
    if out.exists() and not out.is_dir():
        raise TargetError(f"--out {out} is a file, not a folder")
    if out == submissions or submissions in out.parents or out in submissions.parents:
        raise TargetError("--out must lie outside the submissions folder, and the other way round")


class LocalPool:
    """Submissions graded on this machine, `settings.jobs` at once, each in its own grader
    process; identical declarations share one training through the settings' training
    cache, else `training_cache`."""

    def __init__(self, exercises: list[Exercise], settings: RunSettings, training_cache: Path):
        self.exercises = exercises
        self.settings = settings.but(training_cache=settings.training_cache or str(training_cache))
        self.executor = ThreadPoolExecutor(max_workers=settings.jobs)
        self.progress: ClassProgress | None = None

    def watch(self, progress: ClassProgress) -> None:
        """Report each grading's start and training epochs to `progress`."""
        self.progress = progress

    def _grade(self, folder: Path, label: str, student: str | None) -> dict[str, Any]:
        progress = self.progress
        if progress is not None:
            progress.started(label)
        on_line = (lambda line: progress.line(label, line)) if progress is not None else None
        return child_grader.grade_submission(folder, self.exercises, self.settings.but(student=student), on_line=on_line)

    def grade(self, folder: Path, label: str | None = None, student: str | None = None) -> Future:
        """Grade `folder` as `student` (the identity their variants are drawn from)."""
        return self.executor.submit(self._grade, folder, label or folder.name, student)

    def stop(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)  # on Ctrl-C: no new submission starts


@dataclass(frozen=True)
class BatchRequest:
    """What a batch run is asked to do: `grader --batch SUBMISSIONS --out RESULTS` and its options.
    `settings` are the run's (half, data, jobs...); `data_sha256` names the data graded on;
    `mnist`, that data, gives the feedback pages their test images; `scheduler`, a Dask
    scheduler's address, grades on that cluster instead of here; `similarity_threshold`, the
    share of shared code from which a pair is listed; `private_release`, a date, holds the
    private half's accuracy back from the feedback pages until then (grader/classroom/release.py;
    kept in `out` for later runs); `only`, student folders to regrade (forced), every other
    student's report, row and page left as they are; `reason`, why (kept in history/)."""

    submissions: Path
    out: Path
    exercises: list[Exercise]
    settings: RunSettings
    data_sha256: str
    force: bool = False
    mnist: Any = None
    scheduler: str | None = None
    allow_unsandboxed: bool = False
    similarity_threshold: float = DEFAULT_THRESHOLD
    private_release: str | None = None
    only: tuple[str, ...] = ()
    reason: str | None = None
    late: tuple[tuple[str, Any], ...] = ()  # the late policy's options (deadlines.py), applied on top of the grades

    def resolved(self) -> "BatchRequest":
        """The request with every path absolute (each student is graded from the course root),
        its folders checked (TargetError)."""
        submissions, out = self.submissions.resolve(), self.out.resolve()
        settings = self.settings.but(data=str(Path(self.settings.data).expanduser().resolve())) if self.settings.data else self.settings
        check_folders(submissions, out)
        return replace(self, submissions=submissions, out=out, settings=settings)


@dataclass
class Students:
    """The student folders of SUBMISSIONS: those to grade, each with the hash and the time of
    what is graded, and those refused with why (printable names)."""

    names: list[str]
    refused: dict[str, str]
    hashes: dict[str, str]
    submitted: dict[str, str]
    folders: dict[str, Path] = field(default_factory=dict)  # what is graded: each upload as uploads.prepare wrote it
    uploads: dict[str, upload_step.Upload] = field(default_factory=dict)


def find_students(submissions: Path, prepared: Path | None = None, files: list[str] | None = None) -> Students:
    """Step 1: who is in the class. A folder whose files cannot be hashed is refused, not graded.
    With `prepared` (RESULTS/uploads), each upload's exercise `files` are first found where the
    student put them (isolation/uploads.py) and written to RESULTS/uploads/<sha256>, the folder graded."""
    names, refused = student_folders(submissions)
    if not names and not refused:
        raise TargetError(f"{submissions} holds no student folders")
    for student in [s for s in names if not _identity(s)]:  # the folder's name is the student id their variants are drawn from
        names.remove(student)
        refused[student] = f"not graded: the folder's name cannot be a student id (at most {variants.MAX_IDENTITY} characters); rename it"
    hashes, submitted, folders, uploads = {}, {}, {}, {}
    if prepared is not None:
        remove_tree(prepared)  # written afresh on every run, from the submissions
    for student in names:
        incoming = None if prepared is None else prepared / "incoming"
        try:
            folder = submissions / student
            if incoming is not None:
                graded_files(folder)  # a tree the grader will not read (too deep, a FIFO...) is refused, as before
                remove_tree(incoming)  # never on top of what an earlier, refused upload left
                uploads[student] = upload_step.prepare(folder, files or [], incoming)
                folder = prepared / submission_hash(incoming)  # named by its hash, never by a student: identical
                if folder.exists():  # uploads share one folder, and a shared report names no classmate
                    remove_tree(incoming)
                else:
                    os.replace(incoming, folder)
            hashes[student] = submission_hash(folder)
            folders[student] = folder
            submitted[student] = submission_time(submissions / student) if prepared is None else _stamp(uploads[student].newest)
        except SubmissionError as exc:
            refused[student] = f"not graded: {exc}"
        except Exception as exc:  # noqa: BLE001 - one upload the step cannot handle costs only that student
            refused[student] = f"not graded: the upload could not be read ({type(exc).__name__}: {shown_name(str(exc))[:200]})"
        finally:
            if incoming is not None:
                remove_tree(incoming)
    return Students([s for s in names if s in hashes], refused, hashes, submitted, folders, uploads)


def _identity(student: str) -> str | None:
    """The identity a student's variants are drawn from: their folder's name (grader/variants.py), or None."""
    try:
        return variants.normalized(student)
    except variants.IdentityError:
        return None


def _stamp(when: float | None) -> str:
    return "" if when is None else datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_batch(request: BatchRequest) -> int:
    """Grade every student folder of `request`: 0 if all were graded (whatever their
    scores), 1 if some could not be (refused, an error, or `retry`). The steps: find the
    students, skip those already graded (the resume), grade the rest with identical
    submissions graded once, write each report and feedback page as it comes, then the
    gradebook, the similarity report and the class page, and say what happened."""
    request = request.resolved()
    release = release_setting(request.out, request.private_release)
    students = find_students(request.submissions, request.out / "uploads", [ex.filename for ex in request.exercises])
    try:  # bad late-policy input stops the run before anything is graded (exit 2)
        policy = deadlines.resolve(dict(request.late), request.submissions, request.out, [*students.names, *students.refused])  # a refused folder is still a student
    except deadlines.DeadlineError as exc:
        raise TargetError(str(exc)) from None
    if request.settings.draw_key == draws.PUBLIC_KEY:  # a class's draws are its own secret, kept for its regrades
        request = replace(request, settings=request.settings.but(draw_key=draws.class_key(request.out)))
    if deadlines.summary(policy):
        print(deadlines.summary(policy))
    run = _ClassRun(request, students, release, policy)
    unknown = [s for s in request.only if s not in run.students.names]
    if unknown:
        why = "; ".join(f"{s}: {run.students.refused[s]}" if s in run.students.refused else f"{s}: no such folder" for s in unknown)
        raise TargetError(f"--only names students to regrade among the folders of {request.submissions} ({why})")
    todo = run.to_grade()
    if request.only:
        print(f"{len(run.students.names)} submissions in {request.submissions}: regrading {len(todo)} (--only: {', '.join(todo)}; "
              f"why: {request.reason}); every other student's grade stays as it is")
    else:
        print(f"{len(run.students.names)} submissions in {request.submissions}: {len(run.students.names) - len(todo)} already graded, {len(todo)} to grade")
    pool = _pool(request) if todo else None  # a cluster is reached (and its workers checked) only when there is something to grade
    progress = ClassProgress(len(todo))  # per student: start, training epochs, outcome; on a cluster, lost workers and retries
    if pool is not None:
        pool.watch(progress)
    similar = None
    finished = False  # an interrupted run writes the gradebook and the class page, not the similarity report
    try:
        run.grade(todo, pool, progress)
        finished = True
    finally:
        if pool is not None:
            pool.stop()
        progress.close()
        similar = run.write_class(finished)
    run.say_how_it_went(similar, progress)
    return 1 if run.errors or run.students.refused else 0


def _pool(request: BatchRequest):
    """Where the submissions are graded: the cluster at `request.scheduler`, else this machine."""
    if request.scheduler:
        return ClusterPool(request.scheduler, request.exercises, request.settings, request.data_sha256, request.allow_unsandboxed)
    return LocalPool(request.exercises, request.settings, request.out / "training-cache")


class _ClassRun:
    """One batch run's steps over its students, and what they found: `errors` (student ->
    why they are not graded on this run) and `regraded` (what history.keep recorded, to print)."""

    def __init__(self, request: BatchRequest, students: Students, release, policy: deadlines.LatePolicy | None = None):
        self.request, self.students, self.release = request, students, release
        self.policy = policy or deadlines.LatePolicy()
        self.key = grading_key([ex.id for ex in request.exercises], request.data_sha256, request.settings.half, request.settings.draw_key)
        self.reports_dir = request.out / "students"
        self.errors: dict[str, str] = {}
        self.late: dict[str, dict[str, Any]] = {}  # a student graded on this run: their report's late section (the terminal says it)
        self.regraded: list[str] = []

    # ---------------------------------------------------------------- step 2: the resume

    def variants(self, student: str) -> tuple[tuple[str, str], ...]:
        """((exercise id, variant key), ...) the student is graded on: drawn from their folder's name,
        unless the run chose one for the whole class (`--use-variant`)."""
        settings = self.request.settings.but(student=_identity(student))
        return tuple((ex.id, v.key) for ex in self.request.exercises if (v := settings.variant_of(ex)) is not None)

    def current(self, student: str) -> dict[str, Any] | None:
        """The student's report when it stands: the same submission, the same grading, the same
        variants, no `retry`."""
        report = load_report(self.reports_dir / student / "report.json")
        if (
            report and report.get("submission_sha256") == self.students.hashes[student] and report.get("grading_key") == self.key
            and not report.get("retry") and graded_variants(report) == self.variants(student)
        ):
            if student not in self.students.uploads or report.get("upload") == self.students.uploads[student].record():
                return report
        return None

    def to_grade(self) -> list[str]:
        if self.request.only:  # a regrade of some students, forced; nobody else is touched
            return [s for s in self.students.names if s in self.request.only]
        return [s for s in self.students.names if self.request.force or self.current(s) is None]

    # ---------------------------------------------------------------- step 3: grading

    def grade(self, todo: list[str], pool, progress: ClassProgress) -> None:
        """Grade `todo` on `pool`, identical submissions on the same variants once; each report is
        written as soon as it comes. A shared report names no student: only its variants' keys."""
        submissions = self.request.submissions
        by_hash: dict[tuple, Future] = {}
        waiting: dict[Future, list[str]] = {}
        for student in todo:
            digest = (self.students.hashes[student], self.variants(student))
            if digest not in by_hash:  # identical submissions, on the same variants, are graded once
                try:
                    by_hash[digest] = pool.grade(self.students.folders.get(student, submissions / student), student, _identity(student))
                except (OSError, ValueError, SubmissionError) as exc:  # changed or unreadable since it was hashed
                    by_hash[digest] = Future()
                    by_hash[digest].set_result({"error": f"the submission could not be read: {exc}"})
            waiting.setdefault(by_hash[digest], []).append(student)
        for future in as_completed(waiting):
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - the cluster lost the task (a lost scheduler, say): graded next run
                result = {"retry": f"the cluster did not finish this task ({type(exc).__name__}: {exc})"}
            for student in waiting[future]:
                if "error" in result or "exercises" not in result:
                    self.withdraw(student, result)
                else:
                    result = self.keep(student, result)
                progress.finished(student, outcome(result, self.late.get(student))
                                  + (f" (the same files as {waiting[future][0]}, graded once)" if student != waiting[future][0] else ""))

    def withdraw(self, student: str, result: dict[str, Any]) -> None:
        """No grade on this run: any earlier one goes (kept in history/ first), and the reason is said."""
        folder = self.reports_dir / student
        old = load_report(folder / "report.json")
        self.errors[student] = f"error: {result['error']}" if "error" in result else f"retry: {result['retry']}"
        if history.changed(old, None):  # a grade that goes is kept first
            why = self.errors[student] + (f"; regraded because: {self.request.reason}" if self.request.reason else "")
            entry = history.keep(self.request.out, student, folder, old, None, why)
            self.regraded.append(f"{student}: {old.get('score')}/{old.get('max_score')} withdrawn ({self.errors[student]}); kept in {entry.relative_to(self.request.out)}")
        for stale in ("report.json", "feedback.md", "feedback.html"):  # an old grade must not stand for a new submission
            (folder / stale).unlink(missing_ok=True)
        shutil.rmtree(figures_folder(folder / "feedback.md"), ignore_errors=True)

    def keep(self, student: str, result: dict[str, Any]) -> dict[str, Any]:
        """Write the student's report and feedback pages (the earlier report kept in history/ when
        the score changes); returns the result as settled (batch.settle)."""
        folder, out, digest = self.reports_dir / student, self.request.out, self.students.hashes[student]
        old = load_report(folder / "report.json")
        result = settle(result, folder, digest, self.key)
        if result.get("retry"):  # kept for the student to read, graded again next run
            self.errors[student] = "retry: some checks were not graded (the machine was too slow, overloaded or short of memory)"
        # What the student receives names no folder of this machine (report.for_students); identical
        # submissions share one result, whose graded folder is the upload step's copy, never a classmate's.
        own = (self.request.submissions / student, self.students.folders.get(student) or "")
        report = {
            **for_students(result, submission=own),
            "target": str(self.request.submissions / student),  # the instructor's; `grader release` leaves it out
            "student": student,
            "submission_sha256": digest,
            "grading_key": self.key,
            "submitted_at": self.students.submitted[student],
        }
        if student in self.students.uploads:  # where the files were found, said at the top of the feedback
            report["upload"] = self.students.uploads[student].record()
        reason = self.request.reason  # a regrade with a reason is recorded even when the score stays
        if history.changed(old, report) or (reason and old and not old.get("retry")):  # the earlier grade is kept before it is replaced
            why = ("a new submission" if old.get("submission_sha256") != digest else "regraded") + (f": {reason}" if reason else "")
            entry = history.keep(out, student, folder, old, report, why)
            self.regraded.append(f"{student}: {old.get('score')} -> {report['score']} of {report['max_score']} ({why}); the earlier report is kept in {entry.relative_to(out)}")
        earlier = history.earlier_grades(out, student)
        if earlier:  # the student's page says which grades this one replaced
            report["earlier_grades"] = earlier
        report = deadlines.stamp(report, student, self.policy)  # on top of the raw score, never inside it
        if report.get("late"):
            self.late[student] = report["late"]
        markdown, page = feedback_pages(students_see(report, self.release), folder / "feedback.md", title=f"Feedback for {student}", mnist=self.request.mnist)
        write_text(folder / "feedback.md", markdown)
        write_text(folder / "feedback.html", page)
        write_text(folder / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        return result

    # ---------------------------------------------------------------- step 4: the class's files

    def rows(self) -> list[tuple[str, dict[str, Any] | None, str]]:
        """The gradebook's rows, by student: refused, graded, retry, or why not graded; and every
        student graded into `out` before (the gradebook is the union: no grade leaves it unsaid)."""
        rows = [(name, None, f"error: {why}") for name, why in self.students.refused.items()]
        for student in self.students.names:
            report = self.current(student)
            earlier = load_report(self.reports_dir / student / "report.json")
            if report:
                rows.append((student, report, "graded"))
            elif self.errors.get(student, "").startswith("retry") or (earlier or {}).get("retry"):
                rows.append((student, None, "retry"))  # no verdict yet: the next run grades them again
            elif student not in self.errors and earlier:  # not regraded on this run (--only, Ctrl-C): the grade stands until it is
                rows.append((student, earlier, STALE))
            else:
                rows.append((student, None, self.errors.get(student, "not graded")))
        for student in self.absent():
            rows.append((student, load_report(self.reports_dir / student / "report.json"), ABSENT))
        rows.sort(key=lambda row: row[0])
        return rows

    def restamp(self, rows: list) -> list:
        """Each standing report with its submission time and `late` section as this run's policy has
        them; a report (and its feedback pages) whose late section changed is rewritten, not regraded."""
        fresh = []
        for student, report, status in rows:
            if report is not None and plain_name(student):
                stamped = deadlines.stamp(report, student, self.policy)
                if stamped != report:
                    folder = self.reports_dir / student
                    markdown, page = feedback_pages(students_see(stamped, self.release), folder / "feedback.md", title=f"Feedback for {student}", mnist=self.request.mnist)
                    write_text(folder / "feedback.md", markdown)
                    write_text(folder / "feedback.html", page)
                    write_text(folder / "report.json", json.dumps(stamped, indent=2, ensure_ascii=False) + "\n")
                    report = stamped
            fresh.append((student, report, status))
        return fresh

    def absent(self) -> list[str]:
        """Students graded into `out` earlier whose folder is not in this run's SUBMISSIONS."""
        if not self.reports_dir.is_dir():
            return []
        here = set(self.students.names) | set(self.students.refused)
        return sorted(p.name for p in self.reports_dir.iterdir() if p.name not in here and p.is_dir() and not p.is_symlink() and _standing(p / "report.json"))

    def write_class(self, finished: bool) -> dict[str, Any] | None:
        """The gradebook, the held pages brought up to date, and the class page; the similarity
        report (returned) only after a run that `finished`. Also after a Ctrl-C."""
        request, out = self.request, self.request.out
        rows = self.restamp(self.rows())  # a new due date or extension: late sections and pages, no regrading
        rewrite_held_pages(self.reports_dir, rows, self.release, request.mnist)  # a release date passed, or set, since a page was written
        write_text(out / "gradebook.csv", gradebook_csv(rows, request.exercises))
        if any(ex.questions for ex in request.exercises):  # the written answers, for a person to grade
            write_text(out / "answers.csv", answers_csv(rows, request.exercises))
        similar = None
        try:
            if finished:
                similar = class_similarity(request.submissions, self.students.hashes, request.exercises, out, request.similarity_threshold, self.students.folders)
        except Exception as exc:  # noqa: BLE001 - the similarity report is extra; the gradebook and reports stand
            print(f"grader: the similarity report could not be made ({type(exc).__name__}: {exc})", file=sys.stderr)
        try:
            write_class_page(out, rows, request.exercises, similar)
        except Exception as exc:  # noqa: BLE001 - the overview is extra; the gradebook and reports stand
            print(f"grader: the class page could not be written ({type(exc).__name__}: {exc})", file=sys.stderr)
        return similar

    # ---------------------------------------------------------------- step 5: what the instructor reads

    def say_how_it_went(self, similar: dict[str, Any] | None, progress: ClassProgress) -> None:
        out = self.request.out
        print(f"Gradebook: {out / 'gradebook.csv'}; the class at a glance: {out / 'class.html'}")
        absent = self.absent()
        if absent:  # their rows stay in the gradebook: said, never silently dropped or kept
            print(f"{len(absent)} students graded earlier are not in {self.request.submissions}: their grades stay in the gradebook, "
                  f"marked \"{ABSENT}\": {', '.join(absent[:10])}{' …' if len(absent) > 10 else ''}")
        if held(self.release):
            shown = [s for s in self.students.names if holds_private(self.current(s) or {"exercises": []})]
            print(f"Held until {self.release.isoformat()} (--private-release): {len(shown)} students' feedback shows the public half's "
                  "measure of their checks graded on the private half; the gradebook holds the private grade.")
        for line in upload_step.summary(self.students.uploads):
            print(line)
        if self.regraded:
            print(f"Grades changed on this run ({len(self.regraded)}; every earlier report is kept in {out / history.HISTORY}):")
            for line in self.regraded:
                print(f"  {line}")
        if similar is not None:
            _print_similarity(similar)
        if progress.lost:  # said as it happened, and again here where the run's end is read
            print("The cluster lost workers during this run (every task they held was given to another worker):", file=sys.stderr)
            for note in progress.lost:
                print(f"  {note}", file=sys.stderr)
        for student, error in {**{name: f"error: {why}" for name, why in self.students.refused.items()}, **self.errors}.items():
            print(f"  {student}: {error}", file=sys.stderr)
        for student in self.students.refused:  # the grade stays on disk but leaves the gradebook's row: said
            earlier = load_report(self.reports_dir / student / "report.json") if plain_name(student) else None
            if earlier and not earlier.get("retry"):
                print(f"  {student}: the earlier grade {earlier.get('score')}/{earlier.get('max_score')} is not in the gradebook while the folder "
                      f"is refused; it is kept in {self.reports_dir / student / 'report.json'}", file=sys.stderr)


def _print_similarity(similar: dict[str, Any]) -> None:
    for group in similar["identical"]:
        print(f"Identical submissions, graded once: {', '.join(group)}")
    if not similar["available"]:
        print(f"grader: {similar['note']} (byte-identical submissions are listed without it)", file=sys.stderr)
    elif similar.get("clusters"):
        print(f"Similar code: {len(similar['clusters'])} groups of students linked at or above {similar['threshold']:.0%} of shared code, listed in class.html")
        for cluster in similar["clusters"]:
            if cluster["matches"]:
                print(f"  {cluster['exercise']} ({', '.join(cluster['students'])}): matches {'; '.join(cluster['matches'])}")
        for exercise, more in sorted((similar.get("not_compared") or {}).items()):
            print(f"  {exercise}: {more} more pairs were not compared in full; a higher --similarity-threshold lists fewer, closer pairs")
    else:
        print(f"Similar code: no pair at or above {similar['threshold']:.0%} of shared code (the stubs' own code set aside)")


def _standing(path: Path) -> bool:
    report = load_report(path)
    return bool(report) and not report.get("retry")


def students_see(report: dict[str, Any], release) -> dict[str, Any]:
    """The report a student's feedback page is written from: the public half's view until `release`."""
    return public_view(report, release) if held(release) else report


def rewrite_held_pages(reports_dir: Path, rows: list, release, mnist) -> None:
    """Rewrite each graded student's feedback page that holds back the private grade when it should
    not any more (the release date passed), or shows it when it should not yet (a date set later)."""
    for student, report, status in rows:
        if report is None:
            continue
        page_path = reports_dir / student / "feedback.md"
        try:
            shown_held = HELD_MARK in page_path.read_text(encoding="utf-8")
        except OSError:
            continue
        if shown_held != held(release) and holds_private(report):
            markdown, page = feedback_pages(students_see(report, release), page_path, title=f"Feedback for {student}", mnist=mnist)
            write_text(page_path, markdown)
            write_text(page_path.with_suffix(".html"), page)


def graded_variants(report: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """((exercise id, variant key), ...) a report was graded on, in its exercises' order."""
    return tuple((ex["id"], ex["variant"]["key"]) for ex in report.get("exercises", []) if isinstance(ex.get("variant"), dict))


def student_folders(submissions: Path) -> tuple[list[str], dict[str, str]]:
    """The student folders to grade, and those refused with why (keyed by a
    printable form of their name). A symlink is never followed: it could make
    a student's "submission" a classmate's folder."""
    students, refused = [], {}
    for entry in sorted(os.scandir(submissions), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            refused[entry.name if plain_name(entry.name) else shown_name(entry.name)] = "not graded: a symbolic link, not a folder"
        elif not entry.is_dir(follow_symlinks=False):
            continue
        elif not plain_name(entry.name):
            refused[shown_name(entry.name)] = "not graded: the folder's name is not plain text; rename it"
        else:
            students.append(entry.name)
    return students, refused

