"""The resource limits a process running student-declared code starts under.

`limiter()` gives what runs between fork and exec, in the worker
(`sandbox.Worker`) and in the grader's trainer (`training.trainer`): no core
files, a cap on file size and address space, death with the grader, a
network namespace of its own where no sandbox gives one, and where it helps
tell the machine's failures from the code's, an out-of-memory score that
makes the kernel take it before any grader. `in_leaf()` puts the worker in
its control group first. `machine_failure()` says when a process that failed
did so for the machine's lack of memory, not its code's: then it is "not
graded", never failed.
"""

from __future__ import annotations

import signal
import sys

from . import capacity

MAX_FILE_WRITE = 512 << 20  # RLIMIT_FSIZE for the worker, where the platform has it
MEMORY_LIMIT = 4 << 30  # default RLIMIT_AS for the worker, bytes (course.toml's memory_mb sets it per exercise)
TRAINER_MEMORY = 8 << 30  # address-space cap of the grader's trainer process (training/trainer.py)


def promised_memory(exercise) -> int:
    """The address space one process of an exercise's grading is promised: its worker's
    (course.toml's memory_mb), or the trainer's where the exercise trains a model."""
    return max(exercise.memory_mb << 20, TRAINER_MEMORY if exercise.training else 0)


def limiter(memory: int, own_network: bool = True, oom_score: int = 1000):
    """What the worker runs between fork and exec: its resource limits, and a
    network namespace where no sandbox gives it one. `oom_score`: its
    oom_score_adj (the worker 1000; the grader's trainer, whose model the
    student declared, 500: after student code, before any grader), set only
    where a memory cgroup tells a worker the machine ran short for (not
    graded) from one past its own limit (failed), or where the machine gives
    less than `memory` (capacity.short_of: a kill there is the machine's, see
    machine_failure); elsewhere a worker taken first would be a crash, its
    failure, for memory it did not use."""
    told = capacity.places().gives("memory") or capacity.short_of(memory) is not None
    score = oom_score if sys.platform.startswith("linux") and not capacity.switched_off() and told else None
    return lambda: _limit_resources(memory, own_network, score)


def in_leaf(leaf: "capacity.Leaf | None", then):
    """Between fork and exec: enter the worker's control group, then `then` (its limits)."""

    def start() -> None:
        if leaf is not None:
            leaf.enter()
        then()

    return start


def _limit_resources(memory: int, own_network: bool = True, oom_score: int | None = None) -> None:
    if oom_score is not None:
        # When memory runs out above the worker's own cgroup (a machine or a cluster worker
        # with less memory than its gradings' limits together), the out-of-memory killer
        # takes the worker's processes first, never a grader; a worker killed so within its
        # own limit is "not graded" (machine_failure), never failed.
        # Raising it needs no privilege; every process the worker starts inherits it.
        try:
            with open("/proc/self/oom_score_adj", "w", encoding="ascii") as fh:
                fh.write(str(oom_score))
        except OSError:
            pass
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_WRITE, MAX_FILE_WRITE))
        # Never above the machine's own hard limit (`ulimit -v`), which cannot be
        # raised: there the process gets that, and a failure for memory is the
        # machine's (machine_failure).
        memory = capacity.address_space(memory)
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError):
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None)
            PR_SET_PDEATHSIG, CLONE_NEWNET = 1, 0x40000000
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the grader, even if it is killed outright
            # Without the sandbox, a network namespace of its own: no interface but a loopback
            # that is down. This needs CAP_SYS_ADMIN (root, as in a grading container);
            # elsewhere the call fails and the network stays reachable, as the report says.
            if own_network:
                libc.unshare(CLONE_NEWNET)
        except (OSError, AttributeError):
            pass


CRASH_SIGNALS = (signal.SIGKILL, signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS)  # how a process dies when memory runs out


def machine_failure(
    promised: int, exc_text: str = "", exit_code: int | None = None, oom_killed: bool = False, own_limit: bool = False, own_processes: bool = False
) -> str:
    """Why a process the grader promised `promised` bytes failed for the machine's
    lack of memory, not its code's; "" where that cannot be said.

    The machine's when the kernel's out-of-memory killer killed it while its own
    limit was not reached (the container or machine ran out), or when the
    machine gives less than the promise (capacity.short_of) and the failure is
    one that running out of memory causes: an exception that says so (a
    MemoryError, a shared library that cannot be mapped, a thread that cannot
    start) or death by SIGKILL, SIGABRT, SIGSEGV or SIGBUS. A syntax error or
    any other exception stays the code's own, however short the machine.

    Likewise for processes: the machine's when a process or thread could not start
    (said so, or death by SIGABRT, SIGSEGV or SIGBUS, how a library ends when its
    thread cannot start) while a control group the grader shares with other work (a
    Dask worker's, a container's) is full, and the code's own worker never reached its
    own limit (`own_processes`). A student who raises "Resource temporarily
    unavailable" without such a group full stays graded as their own."""
    crashed = exit_code is not None and -exit_code in (int(signal.SIGABRT), int(signal.SIGSEGV), int(signal.SIGBUS))
    if not own_processes and (crashed or (exc_text and capacity.looks_like_no_process(exc_text))):
        ran_out = capacity.processes_ran_out()
        if ran_out:
            return ran_out
    if own_limit:
        return ""
    short = capacity.short_of(promised)
    if oom_killed:
        return "the kernel killed it for lack of memory while your code was within its own limit" + (
            f": {short.describe()}" if short else " (the grading machine or its container ran out of memory)"
        )
    if short is None:
        return ""
    crashed = exit_code is not None and exit_code < 0 and -exit_code in [int(s) for s in CRASH_SIGNALS]
    if crashed or (exc_text and capacity.looks_like_memory(exc_text)):
        return f"{short.describe()}, less than the {promised >> 20:,} MiB the grader promises your code"
    return ""
