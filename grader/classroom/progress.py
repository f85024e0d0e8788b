"""What a long batch is doing, in the instructor's terminal.

A batch's progress bar counts finished submissions; while models train it
would sit still for minutes. `ClassProgress` adds, above the bar, a line when a
student's grading starts (on a cluster: on which worker), each epoch of the
grader's trainings as the child grader reports it, a line when the student is
graded (points, or why not), and on a cluster each worker lost mid-task and
each task Dask starts again elsewhere. The bar's own line names what runs now
("alice: ex02 epoch 3/10"). Lines come from the pool's threads (a local batch)
or Dask's event loop (a cluster): one lock keeps them whole.
"""

from __future__ import annotations

import re
import sys
import threading
from typing import Any

from tqdm import tqdm

# What the child grader writes on stderr for each epoch (grader/plugin.py, training_progress).
EPOCH = re.compile(r"^\s*(?P<exercise>\S+) training: epoch (?P<epoch>\d+)/(?P<epochs>\d+)(?P<rest>.*)$")


def epoch_line(line: str) -> re.Match | None:
    """The parts of a training-progress line, or None for any other line."""
    return EPOCH.match(line)


class ClassProgress:
    """The bar over a batch's submissions, with what each student's grading is doing above it."""

    def __init__(self, total: int, file=None):
        self.file = file or sys.stderr
        self.bar = tqdm(total=total, unit="submission", desc="Grading", file=self.file, disable=not total)
        self.lock = threading.Lock()
        self.active: dict[str, str] = {}  # student -> what their grading does now
        self.attempts: dict[str, int] = {}
        self.lost: list[str] = []  # what the run's end repeats: the workers lost and the tasks started again

    def say(self, text: str) -> None:
        """One line above the bar (or alone, when the bar is off)."""
        with self.lock:
            tqdm.write(text, file=self.file)
            self._postfix()

    def _postfix(self) -> None:
        shown = ", ".join(f"{who}: {what}" for who, what in list(self.active.items())[:3])
        more = f" +{len(self.active) - 3}" if len(self.active) > 3 else ""
        self.bar.set_postfix_str(shown[:70] + more, refresh=True)

    def started(self, student: str, worker: str | None = None) -> None:
        """A student's grading began (on `worker`, on a cluster); a second start is a retry."""
        attempt = self.attempts[student] = self.attempts.get(student, 0) + 1
        where = f" on worker {worker}" if worker else ""
        self.active[student] = "started"
        if attempt == 1:
            self.say(f"{student}: grading{where}")
        else:
            note = f"{student}: grading again{where} (attempt {attempt}: the worker that had it was lost)"
            self.lost.append(note)
            self.say(note)

    def line(self, student: str, line: str) -> None:
        """A line the student's grader wrote: training epochs are shown, anything else is not."""
        found = epoch_line(line)
        if not found:
            return
        self.active[student] = f"{found['exercise']} epoch {found['epoch']}/{found['epochs']}"
        self.say(f"{student}: {found['exercise']} training epoch {found['epoch']}/{found['epochs']}{found['rest']}")

    def finished(self, student: str, outcome: str) -> None:
        """A student is graded (or not, and why): one line, and the bar moves."""
        self.active.pop(student, None)
        self.say(f"{student}: {outcome}")
        with self.lock:
            self.bar.update()

    def worker_lost(self, worker: str, students: list[str], expected: bool = False) -> None:
        """A Dask worker left the cluster; `students` are those whose tasks it held."""
        why = "closed" if expected else "was lost (killed, crashed or cut off)"
        holding = f" while grading {', '.join(students)}: Dask gives {'that task' if len(students) == 1 else 'those tasks'} to another worker" if students else ""
        note = f"worker {worker} {why}{holding}"
        self.lost.append(note)
        self.say(note)

    def close(self) -> None:
        with self.lock:
            self.bar.close()


def outcome(result: dict[str, Any], late: dict[str, Any] | None = None) -> str:
    """What one student's grading came to, in a few words; `late`, their report's late section, adds the final score."""
    if "error" in result:
        return f"not graded: {result['error']}"
    if "exercises" not in result:
        return f"retry: {result.get('retry')}"
    text = f"{result['score']:g}/{result['max_score']:g} points"
    if late and late.get("penalty_points"):
        text += f", {late['final_score']:g} after the late penalty ({late['penalty_percent']:g}%)"
    if result.get("retry"):
        text += " so far (some checks were not graded: graded again next run)"
    return text + (f" in {result['seconds']:.0f} s" if isinstance(result.get("seconds"), (int, float)) else "")
