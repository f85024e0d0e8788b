"""The time a submission caused: what every limit on student code counts.

A call's or an import's limit (course.toml's `call_timeout_s`, the module's
time budget) counts wall time less the time the thread running the call spent
runnable but waiting for a CPU that other work held: the kernel's run-queue
delay, from /proc/<pid>/task/<tid>/schedstat (OwnClock says the rest).
Computing, sleeping and waiting for input count; a busy machine does not, so
the same code gets the same verdict alone or beside a CPU hog. The wall clock
stays only as a safety net (`safety_wall_s`): past it the grader gives up and
says the machine was too slow, never that the code was. Where the kernel does
not report run-queue delays (not Linux), the wall clock is the limit.
"""

from __future__ import annotations

import os
import time

from ..settings import switches


def safety_wall_s(limit: float) -> float:
    """Wall-clock seconds after which a call or import that has not used up its
    own time counts as starved by the machine: the grader's failure, not a verdict."""
    return (4 * limit + 120) * switches().safety_factor


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat from the third (the state) on, or None.
    The second, the command name, may hold spaces and parentheses: it is cut
    off after its last ')'."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
        return data[data.rindex(b")") + 2 :].split()
    except (OSError, ValueError):
        return None


def process_parents() -> dict[int, int]:
    """Every process's parent, from /proc (Linux)."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and len(fields) > 1 and fields[1].isdigit():
                parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(root: int) -> list[int]:
    """`root` and every process below it, `root` first (Linux)."""
    children: dict[int, list[int]] = {}
    for pid, parent in process_parents().items():
        children.setdefault(parent, []).append(pid)
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
        fields = _stat_fields(pid)
        try:
            cpu[pid] = sum(int(f) for f in fields[11:15]) / ticks  # utime, stime, cutime, cstime
        except (TypeError, ValueError):
            continue
    return cpu


def serving_process(tree: list[int], sandboxed: bool) -> int | None:
    """The worker's interpreter, whose main thread runs every call: among the
    worker's processes (`tree`, from `descendants`, the worker itself first),
    the worker itself, or in bwrap's PID namespace its process 2 (bwrap's own
    init is 1)."""
    if not sandboxed:
        return tree[0]
    for pid in tree:
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


def _main_thread_sched(pid: int) -> tuple[int, int] | None:
    """Nanoseconds the process's main thread has run on a CPU, and waited, runnable, for one."""
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat", "rb") as fh:
            fields = fh.read().split()
        return int(fields[0]), int(fields[1])
    except (OSError, ValueError, IndexError):
        return None


def _main_thread_wait(pid: int) -> int | None:
    """Nanoseconds the process's main thread has waited, runnable, for a CPU."""
    sched = _main_thread_sched(pid)
    return sched[1] if sched else None


def _priority(pid: int) -> tuple[int, int, str] | None:
    """The nice value, scheduling policy and autogroup nice of a process's main thread."""
    fields = _stat_fields(pid)
    try:
        nice, policy = int(fields[16]), int(fields[38])  # fields 19 and 41 of stat
    except (TypeError, ValueError, IndexError):
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

    The CPU time is read from the worker's control group where it has one
    (`cpu_source`, capacity.Leaf.cpu_seconds: every process it ever ran,
    children the kernel reaped itself included); elsewhere from /proc, where
    a child that was never waited for leaves no trace. A wait caused by the
    submission's own processes is its own time: the main thread's wait is
    deducted only beyond the CPU time its other processes and threads used
    meanwhile, so a call that keeps itself waiting behind busy children of
    its own is charged the wall clock.

    Starting reads only the processes the worker had when last looked at
    (`known`: a call's start costs a few file reads); counting walks /proc
    for all of them, processes the code started since included."""

    def __init__(self, root: int, known: list[int], serving: int | None, sandboxed: bool, cpu_source=None):
        self.root, self.serving, self.sandboxed = root, serving, sandboxed
        self.started = time.monotonic()
        self.active = os.path.exists("/proc/self/schedstat")
        self.cpu_source = cpu_source
        self.group_base = cpu_source() if cpu_source is not None else None
        sched = (_main_thread_sched(serving) if self.active and serving else None) or (0, 0)
        self.run_base, self.wait_base = sched
        self.cpu_base = _cpu_seconds(known or [root]) if self.active else {}
        self.known = known

    def cpu(self) -> float:
        """CPU seconds all the worker's processes used since the clock started."""
        if self.group_base is not None:
            now = self.cpu_source()
            if now is not None:
                return max(now - self.group_base, 0.0)
        if not self.active:
            return 0.0
        self.known = descendants(self.root)
        return sum(seconds - self.cpu_base.get(pid, 0.0) for pid, seconds in _cpu_seconds(self.known).items())

    def own(self) -> float:
        wall = time.monotonic() - self.started
        if not self.active:
            return wall
        self.known = descendants(self.root)
        cpu = self.cpu()
        if self.serving is None:  # still importing: its interpreter started during this clock
            self.serving = serving_process(self.known, self.sandboxed)
            self.run_base = self.wait_base = 0
        waited = 0.0
        if self.serving is not None and _priority(self.serving) == _expected_priority():
            run, wait = _main_thread_sched(self.serving) or (self.run_base, self.wait_base)
            others = max(cpu - max(run - self.run_base, 0) / 1e9, 0.0)  # its other processes' and threads' CPU
            waited = max(max(wait - self.wait_base, 0) / 1e9 - others, 0.0)
        return max(wall - waited, cpu, 0.0)
