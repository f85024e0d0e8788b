"""The time a submission caused: what every limit on student code counts.

A call's or an import's limit (course.toml's `call_timeout_s`, the module's
time budget) counts wall time less the time the worker's threads spent
runnable but waiting for a CPU that other work held: the kernel's run-queue
delay, from /proc/<pid>/task/<tid>/schedstat. Computing, sleeping and waiting
for input count; a busy machine does not, so the same code gets the same
verdict alone or beside a CPU hog. The wall clock stays only as a safety net
(`safety_wall_s`): past it the grader gives up and says the machine was too
slow, never that the code was. Where the kernel does not report run-queue
delays (not Linux), the wall clock is the limit.
"""

from __future__ import annotations

import os
import time

from mnist_course.budget import safety_factor


def safety_wall_s(limit: float) -> float:
    """Wall-clock seconds after which a call or import that has not used up its
    own time counts as starved by the machine: the grader's failure, not a verdict."""
    return (4 * limit + 120) * safety_factor()


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                data = fh.read()
            parent = int(data[data.rindex(b")") + 2 :].split()[1])  # after "pid (comm) state"
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _run_queue_waits(pids: list[int]) -> dict[int, int] | None:
    """Nanoseconds each thread of these processes has spent runnable but waiting
    for a CPU (the kernel's schedstat), or None where the kernel does not say."""
    if not os.path.exists("/proc/self/schedstat"):
        return None
    waits = {}
    for pid in pids:
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in threads:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as fh:
                    waits[int(tid)] = int(fh.read().split()[1])
            except (OSError, ValueError, IndexError):
                continue
    return waits


def _cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU seconds each of these processes has used, its threads and the children it reaped included."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                data = fh.read()
            fields = data[data.rindex(b")") + 2 :].split()  # from field 3, the state
            cpu[pid] = sum(int(f) for f in fields[11:15]) / ticks  # utime, stime, cutime, cstime
        except (OSError, ValueError, IndexError):
            continue
    return cpu


class OwnClock:
    """The time a worker's code caused since the clock started: wall time less
    the longest time any of its threads waited for a CPU that other work held,
    or the CPU time all its processes used if that is more (code that starves
    itself with busy threads or processes is charged for every one of them).
    Computing, sleeping and waiting for input count; a busy machine does not,
    so a limit in these seconds gives the same verdict alone or under load.
    Where the kernel does not report run-queue waits, it is the wall clock.

    Starting reads only the processes the worker had when last looked at
    (`known`: a call's start costs a few file reads); counting walks /proc
    for all of them, processes the code started since included."""

    def __init__(self, root: int, known: list[int]):
        self.root = root
        self.started = time.monotonic()
        self.base = _run_queue_waits(known or [root])
        self.cpu_base = _cpu_seconds(known or [root]) if self.base is not None else {}
        self.known = known

    def own(self) -> float:
        wall = time.monotonic() - self.started
        if self.base is None:
            return wall
        self.known = descendants(self.root)
        waits = _run_queue_waits(self.known) or {}
        starved = max((ns - self.base.get(tid, 0) for tid, ns in waits.items()), default=0) / 1e9
        cpu = sum(seconds - self.cpu_base.get(pid, 0.0) for pid, seconds in _cpu_seconds(self.known).items())
        return max(wall - starved, cpu, 0.0)
