"""Grade a class on a Dask cluster: `grader --batch SUBS --out OUT --scheduler ADDRESS`.

Dask does the scheduling, the moving and the retrying; this module only says
what one task is. A task carries one submission's files (workers need not see
the instructor's disk), grades them on the worker exactly as a local batch does
(child_grader.grade_submission: the same sandbox, the same limits) and returns
the report as plain data. Only the instructor's side writes OUT/.

Before any task runs, every worker is asked what decides a grade there
(provenance.grading_machine: grader version, the checks, library versions,
the CPU family; and the sandbox, and the data when --data names a path the
workers share); a worker that differs from the instructor's machine is
refused with the difference named, and so is one whose capacity isolation is
REDUCED (no cgroup limits, or no size-capped writable area: a student there
could take a classmate's grade), unless --allow-unsandboxed. The run's settings
travel with each task. The data itself
goes to the workers once (broadcast), unless --data names a shared path.
A worker that dies mid-task is Dask's business: the scheduler gives the task
to another worker (its allowed-failures), and the grading process the dead
worker started dies with it. What the instructor sees of it: each task tells
the instructor's side, through Dask's events (PROGRESS_TOPIC), when it starts on
a worker and each epoch its trainings finish; the scheduler's own
"remove-worker" events name the worker lost and the students whose tasks it
held (grader/classroom/progress.py prints both).
"""

from __future__ import annotations

import os
import platform
import tempfile
import uuid
from concurrent.futures import Future
from pathlib import Path, PurePosixPath
from typing import Any

from mnist_course.course import Exercise, load_course

from ..isolation import bubblewrap, capacity
from . import child_grader
from ..provenance import LABELS, grading_key, grading_machine
from .progress import epoch_line
from ..isolation.safe_files import MAX_SUBMISSION_BYTES, graded_files, read_regular
from ..session import TargetError, load_data
from ..settings import CACHE_ENV, RunSettings

# How long the instructor's side waits for a first worker to join.
WORKER_WAIT_S = 60
# The Dask event topic on which tasks report their progress to the instructor's side.
PROGRESS_TOPIC = "mnist-course-grading"


def worker_identity(data_path: str | None = None, full_data: bool = False) -> dict[str, Any]:
    """What decides a grade on this machine (run on each worker, and locally to compare):
    provenance.grading_machine(), named for a person, and the sandbox."""
    identity: dict[str, Any] = {LABELS[key]: value for key, value in grading_machine().items()}
    identity["sandbox"] = "bubblewrap" if bubblewrap.find().active else "none"
    # Not compared with the instructor's machine, where no student code runs: a worker
    # whose isolation is REDUCED is refused (ClusterPool._check_workers).
    identity["capacity"] = capacity_isolation()
    if data_path:
        try:
            identity["data sha256"] = load_data(data_path, full_data).provenance.sha256
        except Exception as exc:  # noqa: BLE001 - a worker without the data is refused, with why
            identity["data sha256"] = f"unreadable: {type(exc).__name__}: {exc}"
    return identity


def capacity_isolation() -> str:
    """What bounds one submission's disk, processes and memory on this machine, as its
    reports say it (a line starting "REDUCED" for each bound it lacks)."""
    said = [capacity.describe()]
    if bubblewrap.find().active and bubblewrap.area_bytes() is None:
        said.append("REDUCED isolation: a worker's writable folder is the grader's own, with no size cap")
    return "; ".join(said)


def differences(mine: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    return [f"{key}: {theirs.get(key)!r} here, {value!r} on the instructor's machine" for key, value in mine.items() if theirs.get(key) != value]


# ---------------------------------------------------------------- on a worker

_DATA_FILES: dict[str, str] = {}  # data sha256 -> this worker's copy, written once per worker process
_TRAINING_CACHE: list[str] = []  # this worker's private training cache, made at its first task


def _training_cache() -> str:
    """Where this worker's graders share trainings: $MNIST_COURSE_TRAINING_CACHE as the
    worker was started with (a folder all workers share trains each declaration
    once per cluster), else a private folder of this worker process's own."""
    if os.environ.get(CACHE_ENV):
        return os.environ[CACHE_ENV]
    if not _TRAINING_CACHE:
        _TRAINING_CACHE.append(tempfile.mkdtemp(prefix="mnist-course-training-cache-"))
    return _TRAINING_CACHE[0]


def _data_file(data: bytes | str | None, data_sha256: str, suffix: str) -> str | None:
    """A path to the data on this worker: the shared path as given, or the
    broadcast bytes written once to a private file."""
    if data is None or isinstance(data, str):
        return data
    if data_sha256 not in _DATA_FILES:
        folder = Path(tempfile.mkdtemp(prefix="mnist-course-data-"))
        path = folder / f"mnist{suffix}"
        path.write_bytes(data)
        _DATA_FILES[data_sha256] = str(path)
    return _DATA_FILES[data_sha256]


def _report(message: dict[str, Any]) -> None:
    """Tell the instructor's side what this task does (a Dask event); nothing outside a worker."""
    try:
        from distributed import get_worker

        worker = get_worker()
        worker.log_event(PROGRESS_TOPIC, {**message, "worker_name": str(worker.name)})  # "worker" the scheduler sets itself
    except Exception:  # noqa: BLE001 - progress is shown, never needed: grading goes on without it
        pass


def grade_files(
    files: dict[str, bytes],
    exercise_ids: list[str],
    data: bytes | str | None,
    data_suffix: str,
    data_sha256: str,
    settings: RunSettings,
    key: str,
    identity: dict[str, Any],
    student: str = "",
) -> dict[str, Any]:
    """The task: one submission's files graded on this worker with the instructor's
    `settings`. Returns the report, or {"retry": why} when this worker would not grade
    as the instructor's machine does (checked again here, whatever was checked when
    the run began). Its start and its trainings' epochs are reported as `student`'s
    (PROGRESS_TOPIC)."""
    _report({"student": student, "started": True})
    exercises = [load_course().exercise(i) for i in exercise_ids]
    wrong = differences(identity, worker_identity())
    if wrong or grading_key(exercise_ids, data_sha256, settings.half, settings.draw_key) != key:
        why = "; ".join(wrong) or "other checks or another grader version"
        return {"retry": f"worker {platform.node()} would not grade as the instructor's machine does ({why}); update it"}
    with tempfile.TemporaryDirectory(prefix="mnist-task-") as tmp:
        folder = Path(tmp) / "submission"
        for name, content in files.items():
            relative = PurePosixPath(name)
            if relative.is_absolute() or ".." in relative.parts:  # made by graded_files; checked all the same
                return {"error": f"a file name that leaves the submission: {name!r}"}
            path = folder.joinpath(*relative.parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        folder.mkdir(exist_ok=True)
        here = settings.but(data=_data_file(data, data_sha256, data_suffix), training_cache=_training_cache())
        report = child_grader.grade_submission(
            folder, exercises, here, on_line=lambda line: _report({"student": student, "line": line}) if epoch_line(line) else None
        )
    graded_on = (report.get("data") or {}).get("sha256")
    if "exercises" in report and graded_on != data_sha256:
        return {"error": f"worker {platform.node()} graded on other data (sha256 {str(graded_on)[:8]}…)"}
    return report


# ---------------------------------------------------------------- on the instructor's side


class ClusterPool:
    """Submissions graded as Dask tasks on the cluster whose scheduler is at `address`."""

    def __init__(self, address: str, exercises: list[Exercise], settings: RunSettings, data_sha256: str, allow_unsandboxed: bool):
        try:
            from distributed import Client
        except ImportError:
            raise TargetError("--scheduler needs Dask's distributed: pip install -e '.[cluster]'") from None
        try:
            self.client = Client(address, timeout="10s", set_as_default=False)
        except OSError as exc:
            raise TargetError(f"no Dask scheduler answers at {address}: {exc}") from None
        self.exercise_ids, self.settings = [ex.id for ex in exercises], settings
        self.students: dict[str, str] = {}  # a task's key -> the student it grades (for the scheduler's events)
        self.data_sha256, self.key = data_sha256, grading_key(self.exercise_ids, data_sha256, settings.half, settings.draw_key)
        try:
            self._check_workers(settings.data, allow_unsandboxed)
            self._place_data(settings.data)
        except BaseException:
            self.client.close()
            raise
        # Dask's own futures, seen through the concurrent.futures interface the local pool has too;
        # only on the workers checked above (one that joins later gets no task: it was never checked).
        self.executor = self.client.get_executor(pure=False, workers=self.vetted, allow_other_workers=False)

    def _check_workers(self, data_arg: str | None, allow_unsandboxed: bool) -> None:
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            raise TargetError(f"the Dask scheduler has no worker after {WORKER_WAIT_S} s: start some with `dask worker ADDRESS`") from None
        # The data is compared only when the workers read it from a path of their own.
        mine = {**worker_identity(None), **({"data sha256": self.data_sha256} if data_arg else {})}
        mine.pop("capacity")
        refused = []
        names = {address: info.get("name", address) for address, info in self.client.scheduler_info()["workers"].items()}
        identities = self.client.run(worker_identity, data_arg, self.settings.full_data)
        self.vetted = sorted(identities)
        self.identity = worker_identity(None)
        self.identity.pop("capacity")
        if allow_unsandboxed:
            self.identity.pop("sandbox")
        for worker, theirs in sorted(identities.items()):
            wrong = differences(mine, theirs)
            if allow_unsandboxed:
                wrong = [w for w in wrong if not w.startswith("sandbox:")]
            elif "REDUCED" in str(theirs.get("capacity", "REDUCED: not said")):
                # A student there could fill the disk, the process table or the memory its classmates need.
                wrong.append(
                    f"capacity: {theirs.get('capacity')!r} (give it a delegated cgroup v2 subtree or run it as root: "
                    "grader/README.md, \"What the grader requires of the machine\"; or pass --allow-unsandboxed)"
                )
            if wrong:
                refused.append(f"worker {names.get(worker, worker)} ({worker}): " + "; ".join(wrong))
        if refused:
            raise TargetError("these Dask workers would not grade as this machine does, so no task was sent:\n  " + "\n  ".join(refused))

    def _place_data(self, data_arg: str | None) -> None:
        """A path the workers share is passed as it is; otherwise the data file goes to every worker once."""
        if data_arg:
            self.data, self.data_suffix = data_arg, ""
            return
        path = load_data(None, self.settings.full_data).provenance.path
        if not path or not os.path.isfile(path):
            raise TargetError("with --scheduler, pass --data: an .npz file to send to the workers, or a path they all share")
        content = Path(path).read_bytes()
        self.data_suffix = "".join(Path(path).suffixes[-2:]) or ".npz"
        self.data = self.client.scatter(content, broadcast=True, hash=False)

    def grade(self, folder: Path, label: str | None = None, student: str | None = None) -> Future:
        """Grade `folder` as `student` (the identity their variants are drawn from), as a task."""
        files = {
            str(PurePosixPath(*relative.parts)): read_regular(folder / relative, MAX_SUBMISSION_BYTES) for relative in graded_files(folder)
        }
        label = label or folder.name
        key = f"grade-{uuid.uuid4().hex}"  # our own task key, so the scheduler's events name the student
        self.students[key] = label
        return self.executor.submit(
            grade_files, files, self.exercise_ids, self.data, self.data_suffix, self.data_sha256, self.settings.but(student=student), self.key,
            self.identity, label,
            key=key,  # the executor passes it on to Client.submit
        )

    def watch(self, progress) -> None:
        """Show in `progress` (grader/classroom/progress.py) each task's start and training epochs,
        each worker the scheduler removes, and the students whose tasks it held."""
        names = {address: str(info.get("name", address)) for address, info in self.client.scheduler_info()["workers"].items()}

        def on_task(event) -> None:
            _, message = event
            if not isinstance(message, dict) or not message.get("student"):
                return
            if message.get("started"):
                progress.started(message["student"], message.get("worker_name") or message.get("worker"))
            elif message.get("line"):
                progress.line(message["student"], message["line"])

        def on_scheduler(event) -> None:
            _, message = event
            if not isinstance(message, dict) or message.get("action") != "remove-worker":
                return
            address = message.get("worker", "?")
            held = sorted({self.students[str(k)] for k in message.get("processing-tasks") or () if str(k) in self.students})
            name = names.get(address, address)
            progress.worker_lost(f"{name} ({address})" if name != address else address, held, bool(message.get("expected")))

        self.client.subscribe_topic(PROGRESS_TOPIC, on_task)
        self.client.subscribe_topic("all", on_scheduler)  # the scheduler's own events: workers added and removed

    def stop(self) -> None:
        """Cancel what has not finished (after a complete run nothing has) and disconnect."""
        self.executor.shutdown(wait=False)
        self.client.close()
