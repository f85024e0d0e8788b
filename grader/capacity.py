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

SWITCH = "MNIST_COURSE_CAPACITY"
ROOT_ENV = "MNIST_COURSE_CGROUP_ROOT"  # the v2 cgroup whose children are the workers' leaves
PIDS_ENV = "MNIST_COURSE_WORKER_PIDS"  # tests lower the process limit with it
# Processes and threads per worker: TensorFlow starts about two threads per
# core for its pools, so a machine with 64 cores needs about 150; a fork bomb
# stops here.
PIDS_MAX = 512


def switched_off() -> bool:
    return os.environ.get(SWITCH, "").lower() in ("off", "0", "no", "none")


def pids_max() -> int:
    try:
        return max(int(os.environ.get(PIDS_ENV, PIDS_MAX)), 16)
    except ValueError:
        return PIDS_MAX


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
        inherited = os.environ.get(ROOT_ENV)
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
        A process of the leaf killed by an out-of-memory killer above it (the
        machine's, a parent cgroup's) is not one: see oom_killed_from_outside()."""
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

    def oom_killed_from_outside(self) -> bool:
        """Whether an out-of-memory killer took a process of the leaf while the
        leaf was within its own memory limit: the machine (or a cgroup above the
        grader) ran out, which is not the submission's doing."""
        if "memory" in self.limits_hit():
            return False
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
