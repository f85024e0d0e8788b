"""Capacity per submission: a control group of its own for every worker.

The sandbox (bubblewrap.py) isolates files; this isolates capacity. Each
worker process and everything it starts lives in a cgroup leaf made for it:

- `pids.max` (PIDS_MAX): a fork bomb exhausts its own table, never the machine's;
- `memory.max` (the worker's memory limit): all its processes and its tmpfs
  areas together, so 400 processes of 24 MiB are killed inside the leaf, not
  the grader;
- CPU accounting (`cpu.stat usage_usec`, or cgroup v1 `cpuacct.usage`): every
  CPU second its processes used, children the kernel reaped itself included
  (own_time.OwnClock reads it).

The leaf is killed as a whole (`cgroup.kill`, or every process it holds) and
removed when the worker closes; whether a limit was hit (`limits_hit`) tells
a student's exhaustion apart from the grader's own trouble.

Where the leaf is made, in order:
- cgroup v2 (the unified tree): a delegated subtree (systemd's `Delegate=yes`,
  a container's own cgroup). Controllers can only be handed to children of a
  cgroup that holds no process, so the first grader process moves itself into
  a leaf `grader-<pid>` of its cgroup, enables `memory pids cpu` there, and
  names that cgroup in MNIST_COURSE_CGROUP_ROOT for the grader processes it
  starts (a batch's students), whose workers' leaves are made beside it;
- cgroup v1 hierarchies (`pids`, `memory`, `cpuacct`), below this process's
  own cgroup in each;
- a v2 tree with no controllers still gives CPU accounting and `cgroup.kill`.

What cannot be had is said loudly: `describe()` goes into the report's
`environment.isolation` and on stderr as a "REDUCED isolation" line.
`MNIST_COURSE_CAPACITY=off` switches all of this off (and the worker's
size-capped writable area, bubblewrap.py), for the tests that prove each
protection is its doing.
"""

from __future__ import annotations

import errno
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..settings import CAPACITY_ENV as SWITCH
from ..settings import CGROUP_ROOT_ENV as ROOT_ENV  # the v2 cgroup whose children are the workers' leaves
from ..settings import WORKER_PIDS_ENV as PIDS_ENV  # tests lower the process limit with it
from ..settings import switches

# Processes and threads per worker: TensorFlow starts about two threads per
# core for its pools, so a machine with 64 cores needs about 150; a fork bomb
# stops here.
PIDS_MAX = 512


def switched_off() -> bool:
    return not switches().capacity


def pids_max() -> int:
    asked = switches().worker_pids
    return PIDS_MAX if asked is None else max(asked, 16)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return ""


def _write(path: Path, text: str) -> bool:
    try:
        with open(path, "w", encoding="ascii") as fh:
            fh.write(text)
        return True
    except OSError:
        return False


def _mounts() -> dict[str, Path]:
    """Mounted cgroup hierarchies: "v2", and each v1 controller by name."""
    found: dict[str, Path] = {}
    for line in _read(Path("/proc/self/mountinfo")).splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        point = Path(fields[4].replace("\\040", " "))
        if tail[0] == "cgroup2":
            found.setdefault("v2", point)
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                if option in ("pids", "memory", "cpuacct"):
                    found.setdefault(option, point)
    return found


def _own_paths() -> dict[str, str]:
    """This process's cgroup in each hierarchy: "v2" and the v1 controllers."""
    own: dict[str, str] = {}
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        number, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if number == "0" and controllers == "":
            own["v2"] = path
        for name in controllers.split(","):
            if name in ("pids", "memory", "cpuacct"):
                own[name] = path
    return own


@dataclass(frozen=True)
class Places:
    """Where leaves are made: a parent folder per hierarchy, and what each gives."""

    v2: Path | None  # a cgroup2 folder whose children become leaves
    v2_controllers: frozenset  # of memory, pids, cpu: enabled for those children
    v1: dict  # controller -> parent folder (pids, memory, cpuacct)
    reason: str  # why something is missing, for describe()

    def gives(self, what: str) -> bool:
        if what == "cpu":
            return self.v2 is not None or "cpuacct" in self.v1
        return what in self.v2_controllers or what in self.v1


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


def _enable_v2(root: Path) -> frozenset:
    """Hand memory, pids and cpu to root's children (moving this process out of
    root into a leaf of its own first, where root holds processes)."""
    wanted = [c for c in ("memory", "pids", "cpu") if c in _read(root / "cgroup.controllers").split()]
    if not wanted:
        return frozenset()
    if not _write(root / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted)):
        procs = _read(root / "cgroup.procs").split()
        if procs != [str(os.getpid())] or root == Path(_mounts().get("v2", "/nonexistent")):
            return frozenset(c for c in _read(root / "cgroup.subtree_control").split() if c in wanted)
        own = root / f"grader-{os.getpid()}"
        try:
            own.mkdir(exist_ok=True)
        except OSError:
            return frozenset()
        if not _write(own / "cgroup.procs", str(os.getpid())):
            return frozenset()
        _write(root / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))
    return frozenset(c for c in _read(root / "cgroup.subtree_control").split() if c in wanted)


@lru_cache(maxsize=1)
def places() -> Places:
    """Decided once per process (and handed to the grader processes it starts)."""
    if switched_off():
        return Places(None, frozenset(), {}, f"switched off with {SWITCH}=off")
    if not sys.platform.startswith("linux"):
        return Places(None, frozenset(), {}, f"control groups need Linux (this is {sys.platform})")
    mounts, own = _mounts(), _own_paths()
    v2, controllers = None, frozenset()
    if "v2" in mounts and "v2" in own:
        inherited = os.environ.get(ROOT_ENV)  # the hand-off below, from the grader that started this one
        root = Path(inherited) if inherited else mounts["v2"] / own["v2"].lstrip("/")
        if _writable_dir(root) and root.is_relative_to(mounts["v2"]):
            v2 = root
            controllers = frozenset(c for c in _read(root / "cgroup.subtree_control").split() if c in ("memory", "pids", "cpu"))
            if not inherited and controllers != {"memory", "pids", "cpu"}:
                controllers = _enable_v2(root)
            os.environ[ROOT_ENV] = str(root)  # the batch's grader processes make their leaves here too
    v1 = {}
    for name in ("pids", "memory", "cpuacct"):
        if name in mounts and name in own and name not in controllers and not (name == "cpuacct" and v2 is not None):
            parent = mounts[name] / own[name].lstrip("/")
            if _writable_dir(parent):
                v1[name] = parent
    missing = [what for what in ("memory", "pids", "cpu") if not (what in controllers or what in v1 or (what == "cpu" and v2 is not None))]
    reason = ""
    if missing:
        reason = (
            f"no cgroup controller for {', '.join(missing)} that this grader may use "
            "(give it a delegated cgroup v2 subtree: systemd-run --scope -p Delegate=yes, or run it as root)"
        )
    return Places(v2, controllers, v1, reason)


def describe() -> str:
    """The capacity limits a report states; starts with REDUCED where some are missing."""
    where = places()
    have = [what for what in ("memory", "pids", "cpu") if where.gives(what)]
    names = {"memory": "memory", "pids": f"processes ({pids_max()})", "cpu": "CPU time counted"}
    if not where.reason:
        return "a control group per worker: " + ", ".join(names[w] for w in have)
    kept = f"; kept: {', '.join(names[w] for w in have)}" if have else ""
    return f"REDUCED isolation: {where.reason}{kept}"


class Leaf:
    """One worker's control group(s): made before it starts, removed when it closes."""

    def __init__(self, memory: int):
        where = places()
        self.folders: list[Path] = []
        self.v2: Path | None = None
        self.v1: dict[str, Path] = {}
        name = f"mnist-worker-{os.getpid()}-{secrets.token_hex(4)}"
        if where.v2 is not None:
            folder = where.v2 / name
            try:
                folder.mkdir()
                self.v2 = folder
                self.folders.append(folder)
            except OSError:
                pass
            if self.v2 is not None:
                if "pids" in where.v2_controllers:
                    _write(folder / "pids.max", str(pids_max()))
                if "memory" in where.v2_controllers:
                    _write(folder / "memory.max", str(memory))
                    _write(folder / "memory.swap.max", "0")
        for controller, parent in where.v1.items():
            folder = parent / name
            try:
                folder.mkdir()
            except OSError:
                continue
            self.v1[controller] = folder
            self.folders.append(folder)
            if controller == "pids":
                _write(folder / "pids.max", str(pids_max()))
            elif controller == "memory":
                _write(folder / "memory.limit_in_bytes", str(memory))
        # The files the worker's first process writes its pid into, between fork and exec.
        self.procs = [str(folder / "cgroup.procs") for folder in self.folders]

    def enter(self) -> None:
        """Run in the worker between fork and exec: it and all it starts belong here."""
        pid = str(os.getpid()).encode()
        for path in self.procs:
            try:
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.write(fd, pid)
                finally:
                    os.close(fd)
            except OSError:
                pass

    def cpu_seconds(self) -> float | None:
        """CPU seconds every process of the leaf has used, the exited and self-reaped included."""
        if self.v2 is not None:
            for line in _read(self.v2 / "cpu.stat").splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
        if "cpuacct" in self.v1:
            text = _read(self.v1["cpuacct"] / "cpuacct.usage").strip()
            if text.isdigit():
                return int(text) / 1e9
        return None

    def _events(self, folder: Path, name: str) -> dict[str, int]:
        counts = {}
        for line in _read(folder / name).splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                counts[key] = int(value)
        return counts

    def limits_hit(self) -> list[str]:
        """Which of the leaf's own limits its code ran into: "memory", "processes".

        Only the leaf's own limit counts for memory (`max`/`oom` events, v1's
        `failcnt`), never `oom_kill` alone: that also counts a process the
        kernel killed because the machine or the container the grader runs in
        ran out of memory (`machine_oom_killed`), which is not the student's doing."""
        hit = []
        if self.v2 is not None:
            events = self._events(self.v2, "memory.events")
            if "memory" in places().v2_controllers and (events.get("max", 0) or events.get("oom", 0)):
                hit.append("memory")
            if self._events(self.v2, "pids.events").get("max", 0):
                hit.append("processes")
        if "memory" in self.v1 and "memory" not in hit:
            if _read(self.v1["memory"] / "memory.failcnt").strip() not in ("", "0"):
                hit.append("memory")
        if "pids" in self.v1 and "processes" not in hit:
            if self._events(self.v1["pids"], "pids.events").get("max", 0):
                hit.append("processes")
        return hit

    def oom_killed(self) -> bool:
        """Whether the kernel's out-of-memory killer killed one of the leaf's
        processes (for its own limit, the container's or the machine's)."""
        if self.v2 is not None and self._events(self.v2, "memory.events").get("oom_kill", 0):
            return True
        return "memory" in self.v1 and self._events(self.v1["memory"], "memory.oom_control").get("oom_kill", 0) > 0

    def members(self) -> set[int]:
        pids = set()
        for folder in self.folders:
            pids.update(int(p) for p in _read(folder / "cgroup.procs").split() if p.isdigit())
        return pids

    def kill(self) -> None:
        """Kill every process of the leaf (a fork bomb's new ones too)."""
        if self.v2 is not None and _write(self.v2 / "cgroup.kill", "1"):
            pass
        for _ in range(200):
            pids = self.members()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        """Kill what is left and remove the leaf (waiting up to 10 s for its last processes to exit)."""
        self.kill()
        for folder in self.folders:
            for _ in range(500):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        break
                    self.kill()  # a process that was forking while it was killed
                    time.sleep(0.02)  # its last processes are still exiting
            else:
                print(f"grader: a worker's cgroup {folder} could not be removed (processes still in it)", file=sys.stderr)
        self.folders, self.procs = [], []


# ---------------------------------------------------------------- the machine's own limits
#
# The grader promises student code a memory limit (course.toml's memory_mb for
# a worker, limits.TRAINER_MEMORY for the grader's trainer). A machine can give less:
# an address-space limit on every process (`ulimit -v`), a container or
# control group the grader runs in with less memory than that, a machine with
# less. There, code that runs out of memory may be within what it was
# promised, so the failure is the machine's: the check is "not graded"
# (retry), never failed, and the message names the setting to raise
# (issue 26). A limit of the worker's own leaf is the student's (limits_hit).

UNLIMITED = 1 << 60  # a cgroup or rlimit value at or past this means no limit


@dataclass(frozen=True)
class MachineLimit:
    """One limit of the machine on the memory of the processes the grader starts."""

    bytes: int
    kind: str  # "address space" (RLIMIT_AS, per process), "container" (a control group the grader is in), "machine" (RAM + swap)
    where: str = ""  # the control group's file, for "container"

    def describe(self) -> str:
        mib = self.bytes >> 20
        if self.kind == "address space":
            return f"the grading machine limits every process to {mib:,} MiB of address space (`ulimit -v`)"
        if self.kind == "container":
            return f"the container (control group) the grader runs in may use {mib:,} MiB in all ({self.where})"
        return f"the grading machine has {mib:,} MiB of memory (RAM and swap)"


def _rlimit_as() -> int | None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, ValueError, OSError):
        return None
    return None if hard == resource.RLIM_INFINITY or hard >= UNLIMITED else hard


def _container_limit() -> tuple[int, str] | None:
    """The tightest memory limit of the control groups this process is in (v2: it and
    every ancestor; v1: the memory hierarchy's own hierarchical limit)."""
    if not sys.platform.startswith("linux"):
        return None
    mounts, own = _mounts(), _own_paths()
    best: tuple[int, str] | None = None
    if "v2" in mounts and "v2" in own:
        folder = mounts["v2"] / own["v2"].lstrip("/")
        while folder.is_relative_to(mounts["v2"]):
            text = _read(folder / "memory.max").strip()
            if text.isdigit() and int(text) < UNLIMITED and (best is None or int(text) < best[0]):
                best = (int(text), str(folder / "memory.max"))
            if folder == mounts["v2"]:
                break
            folder = folder.parent
    if "memory" in mounts and "memory" in own:
        folder = mounts["memory"] / own["memory"].lstrip("/")
        for line in _read(folder / "memory.stat").splitlines():
            key, _, value = line.partition(" ")
            if key == "hierarchical_memory_limit" and value.strip().isdigit():
                limit = int(value)
                if limit < UNLIMITED and (best is None or limit < best[0]):
                    best = (limit, str(folder / "memory.limit_in_bytes"))
    return best


def _physical() -> int | None:
    total = 0
    for line in _read(Path("/proc/meminfo")).splitlines():
        key, _, value = line.partition(":")
        if key in ("MemTotal", "SwapTotal") and value.split() and value.split()[0].isdigit():
            total += int(value.split()[0]) << 10
    return total or None


def machine_limits() -> list[MachineLimit]:
    """The machine's limits on the memory of the processes this grader starts, tightest first."""
    found = []
    if (limit := _rlimit_as()) is not None:
        found.append(MachineLimit(limit, "address space"))
    if (container := _container_limit()) is not None:
        found.append(MachineLimit(container[0], "container", container[1]))
    if (physical := _physical()) is not None:
        found.append(MachineLimit(physical, "machine"))
    return sorted(found, key=lambda limit: limit.bytes)


def short_of(needed: int) -> MachineLimit | None:
    """The tightest limit of the machine below `needed` bytes (what the grader
    promises a process), or None where the machine gives at least that."""
    limits = [limit for limit in machine_limits() if limit.bytes < needed]
    return limits[0] if limits else None


def address_space(requested: int) -> int:
    """The address-space limit a process the grader starts gets for `requested`:
    the request, or the machine's own hard limit where that is lower."""
    hard = _rlimit_as()
    return requested if hard is None else min(requested, hard)


# What an exception or a crash says when memory ran out (Python, the dynamic
# loader, C++, thread creation).
MEMORY_WORDS = (
    "memoryerror",
    "cannot allocate memory",
    "failed to map segment",
    "out of memory",
    "bad_alloc",
    "resource temporarily unavailable",
    "resource exhausted",
)


# What a process says when it cannot start a process or a thread (fork's and
# pthread_create's EAGAIN, as Python, OpenBLAS and TensorFlow word it).
PROCESS_WORDS = ("resource temporarily unavailable", "can't start new thread", "cannot start new thread", "blockingioerror", "pthread_create", "errno 11")
OUT_OF_PROCESSES = "the grading machine ran out of processes"
# A worker that ended before its runner started (its sandbox could not be made, Python could not
# start): none of the student's code had run.
NO_WORKER = "the grading machine could not start the process that runs your code, before any of your code ran"


def looks_like_no_process(text: str) -> bool:
    """Whether an exception's type and message say that a process or thread could not start."""
    text = text.lower()
    return any(word in text for word in PROCESS_WORDS)


def _pids_groups() -> list[tuple[Path, Path]]:
    """The grader's own cgroup and each one above it that has a process limit
    (pids.max), in each hierarchy that counts processes."""
    mounts, own = _mounts(), _own_paths()
    groups = []
    for hierarchy in ("v2", "pids"):
        if hierarchy not in mounts or hierarchy not in own:
            continue
        top, folder = mounts[hierarchy], mounts[hierarchy] / own[hierarchy].lstrip("/")
        while True:
            if (folder / "pids.max").exists():
                groups.append((top, folder))
            if folder == top or top not in folder.parents:
                break
            folder = folder.parent
    return groups


# How full a shared group must be for a process that could not start to be the machine's:
# the failed worker's own processes have just ended when the grader looks, so not quite full.
FULL_SHARE = 0.9


def processes_ran_out() -> str:
    """Why the machine (not a student's own worker) had no process to give: a cgroup of
    the grader's or above it (a Dask worker's, a container's), shared with other work,
    is full or nearly (FULL_SHARE of its pids.max) now; "" where none is, or none can be
    seen. A worker's own leaf holds far fewer processes than such a group (its own limit,
    said apart by `limits_hit`), so no student fills one alone where capacity is on; the
    group's count of refused forks is not used, as recent kernels count a leaf's own
    refusals in every group above it too."""
    for top, folder in _pids_groups():
        limit, current = _read(folder / "pids.max").strip(), _read(folder / "pids.current").strip()
        if limit.isdigit() and current.isdigit() and int(current) >= FULL_SHARE * int(limit):
            where = "/" + folder.relative_to(top).as_posix() if folder != top else "its root"
            return f"{OUT_OF_PROCESSES} (the control group {where}, shared with other work, holds {current} of its {limit} processes)"
    return ""


def looks_like_memory(text: str) -> bool:
    """Whether an exception's type and message say that memory ran out."""
    text = text.lower()
    return any(word in text for word in MEMORY_WORDS)


def memory_setting(needed: int, container_mb: int | None = None, exercise: str = "") -> str:
    """What to raise so that grading gets what it needs: `needed` bytes for
    one process (the address space the grader promises), `container_mb` MB for
    all of an exercise's grading together (its reference's, measured:
    benchmarks/MEMORY.md)."""
    short = short_of(needed)
    if short is not None and short.kind == "address space":
        return f"the grading machine needs `ulimit -v` of at least {needed >> 20:,} MiB for {exercise or 'this exercise'}, or `ulimit -v unlimited`"
    where = "machine" if short is not None and short.kind == "machine" else "container"
    raise_it = "grade on a machine with more memory" if where == "machine" else "give the grader's container more memory"
    table = 'platforms/README.md, "Memory"' + ("" if where == "machine" else "; on Gradescope, the autograder's runtime resources")
    if container_mb and short is not None and short.bytes < container_mb * 10**6:
        return f"{raise_it}: grading {exercise} needs {container_mb:,} MB ({table})"
    if container_mb:
        return f"{raise_it}: grading {exercise}'s reference fits in {container_mb:,} MB, this submission needed more ({table})"
    return f"{raise_it} ({table})"
