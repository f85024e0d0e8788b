"""The time a submission caused: what every limit on student code counts.

A call's or an import's limit (course.toml's `call_timeout_s`, the module's
time budget) counts wall time less the time the thread running the call spent
runnable but waiting for a CPU that other work held: the kernel's run-queue
delay, from /proc/<pid>/task/<tid>/schedstat (OwnClock says the rest).
Computing, sleeping and waiting for input count; a busy machine does not, so
the same code gets the same verdict alone or beside a CPU hog. The wall clock
stays only as a safety net (`safety_wall_s`): past it the grader gives up and
says the machine was too slow, never that the code was. Where the kernel does not report run-queue
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


def serving_process(root: int, sandboxed: bool) -> int | None:
    """The worker's interpreter, whose main thread runs every call: `root`
    itself, or in bwrap's PID namespace its process 2 (bwrap's own init is 1)."""
    if not sandboxed:
        return root
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"NSpid:"):
                        ids = line.split()[1:]
                        if len(ids) > 1 and ids[-1] == b"2":
                            return pid
        except OSError:
            continue
    return None


def _main_thread_wait(pid: int) -> int | None:
    """Nanoseconds the process's main thread has waited, runnable, for a CPU."""
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat", "rb") as fh:
            return int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _priority(pid: int) -> tuple[int, int, str] | None:
    """The nice value, scheduling policy and autogroup nice of a process's main thread."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
        fields = data[data.rindex(b")") + 2 :].split()
        nice, policy = int(fields[16]), int(fields[38])  # fields 19 and 41 of stat
    except (OSError, ValueError, IndexError):
        return None
    try:
        with open(f"/proc/{pid}/autogroup", encoding="ascii") as fh:
            group = fh.read().split()[-1]
    except (OSError, IndexError, UnicodeDecodeError):
        group = "0"
    return nice, policy, group


def _expected_priority() -> tuple[int, int, str]:
    """What a worker starts with: the grader's nice and policy, a fresh autogroup (its own session)."""
    return os.nice(0), os.sched_getscheduler(0), "0"


class OwnClock:
    """The time a worker's code caused since the clock started: wall time less
    the time the main thread of its interpreter (the thread that runs the
    call) waited, runnable, for a CPU that other work held; or the CPU time
    all its processes used, if that is more (code that starves itself with
    busy processes is charged for every one of them). Computing, sleeping and
    waiting for input count; a busy machine does not, so a limit in these
    seconds gives the same verdict alone or under load.

    The wait is deducted only while that thread keeps the priority it started
    with: code that lowers its own (nice, SCHED_IDLE, its autogroup) to look
    starved is charged wall time. Where the kernel does not report run-queue
    waits, it is the wall clock.

    Starting reads only the processes the worker had when last looked at
    (`known`: a call's start costs a few file reads); counting walks /proc
    for all of them, processes the code started since included."""

    def __init__(self, root: int, known: list[int], serving: int | None, sandboxed: bool):
        self.root, self.serving, self.sandboxed = root, serving, sandboxed
        self.started = time.monotonic()
        self.active = os.path.exists("/proc/self/schedstat")
        self.wait_base = (_main_thread_wait(serving) or 0) if self.active and serving else 0
        self.cpu_base = _cpu_seconds(known or [root]) if self.active else {}
        self.known = known

    def own(self) -> float:
        wall = time.monotonic() - self.started
        if not self.active:
            return wall
        self.known = descendants(self.root)
        cpu = sum(seconds - self.cpu_base.get(pid, 0.0) for pid, seconds in _cpu_seconds(self.known).items())
        if self.serving is None:  # still importing: its interpreter started during this clock
            self.serving = serving_process(self.root, self.sandboxed)
        waited = 0.0
        if self.serving is not None and _priority(self.serving) == _expected_priority():
            waited = max((_main_thread_wait(self.serving) or 0) - self.wait_base, 0) / 1e9
        return max(wall - waited, cpu, 0.0)
