"""Grade one Gradescope submission with the course's grader; write results.json.

`run_autograder` runs this for every submission, with the Python that
`setup.sh` installed the course into. The folders, under $AUTOGRADER_ROOT
(Gradescope: /autograder):

    source/              the autograder zip: the course and autograder.json
    submission/          the student's upload, files flat or in folders
    results/results.json what Gradescope reads: written here, by this script only
    data/mnist.npz       MNIST, fetched by setup.sh (else $MNIST_COURSE_DATA, else Keras)

Steps: find each exercise file in the upload where the student put it, and
write it with its helpers into a fresh folder (grader/isolation/uploads.py,
the batch's own upload step: flat, in folders, in a zip, as a notebook, the
case of its name corrected, each said in the output; nothing found, or an
exercise file over the size limit, is said with 0 points, never a crash); grade that folder with
`python -m grader ... --gradescope FILE` in a process of its own; check the
report it wrote and copy it to results/. The student's code runs only inside
that grader process's workers. Run as root (as on Gradescope), the grader and
everything it starts run as an unprivileged user (`setup.sh` creates
`mnist-grading`) without network, where the container allows both, so
student code can write neither results/ nor the course's files, and cannot
stop this script from writing results.json last.

The grader grades on the private half of the test set (`--half private`,
as every instructor's route does), so students are never graded on the
images their own runs show them. With `private_visibility` in
autograder.json (build_zip.py --private-visibility after_published or
after_due_date), those accuracy checks are held back by Gradescope until
then, and a visible 0-point test beside each shows its public-half score
(grader/classroom/release.py).

This file never imports the course: when the grader cannot run at all, it
still writes a valid results.json that says so, worth 0 points. So it keeps
its own copy of the rule for what the grader's exit means (`verdict`, the
same as grader/classroom/child_grader.py's, which tests/test_reports.py holds it to).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_USER = "mnist-grading"
KILL_GRACE_S = 30  # after SIGTERM at the time limit, the grader's own clean-up gets this long
GRADED_HALF = "private"  # the instructor's half of the test set (README, "Data")
HOLDS = ("after_published", "after_due_date")  # Gradescope's visibilities that wait for a moment the instructor sets


def verdict(code: int, report) -> str:
    """What the grader's exit status and report mean (a copy of grader/child_grader.verdict):
    "graded" (0 or 1 with a report), "not graded" (2 with a report that says retry: a
    safety clock stopped some checks, the others stand), or "error" (anything else)."""
    if not isinstance(report, dict):
        return "error"
    if code in (0, 1):
        return "graded"
    if code == 2 and (report.get("extra_data") or {}).get("retry"):
        return "not graded"
    return "error"


def main() -> int:
    root = Path(os.environ.get("AUTOGRADER_ROOT") or "/autograder")
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        return run(root, results, started)
    except BaseException as exc:  # a valid results.json in every case; the traceback goes to the log
        message = f"The autograder failed ({type(exc).__name__}); your instructor can see the log of this run."
        write_results(results, {"score": 0, "output": message, "stdout_visibility": "hidden", "tests": []})
        raise


def run(root: Path, results: Path, started: float) -> int:
    source = root / "source"
    config = json.loads((source / "autograder.json").read_text(encoding="utf-8"))
    exercises = config["exercises"]

    work = Path(tempfile.mkdtemp(prefix="mnist-grading-"))
    try:
        # The one upload step of every route (grader/isolation/uploads.py, in this zip): the exercise
        # files found flat, in folders, in a zip, as notebooks or with their names' case corrected.
        upload = upload_step(source).prepare(root / "submission", [ex["file"] for ex in exercises], work / "submission")
        notes = list(upload.notes)
        if not upload.found:  # nothing to grade: 0 with the reason, visible, never a crash
            message = upload.message()
            result = unscored(exercises, message, [], started)
            result["extra_data"] = {"upload": upload.record()}
            write_results(results, result)
            print(message)
            return 0
        result = grade(root, source, work, exercises, config, notes, started)
        if upload.notes:  # where the files were found, or what was left out: kept for the instructor too
            result.setdefault("extra_data", {})["upload"] = upload.record()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_results(results, result)
    retry = bool((result.get("extra_data") or {}).get("retry"))
    print(f"results.json: {result['score']} points" + (" (some or all checks not graded: regrade this submission)" if retry else ""))
    # 2, as the grader's own exit, when something was not graded (results.json says so
    # and carries extra_data.retry); Gradescope reads results.json whatever the status.
    return 2 if retry else 0


def upload_step(source: Path):
    """grader/isolation/uploads.py from this autograder's own copy of the course (stdlib only, and
    nbformat for a notebook), loaded by its path: this script never imports the installed course."""
    import importlib

    sys.path.insert(0, str(source))
    try:
        return importlib.import_module("grader.isolation.uploads")
    finally:
        sys.path.remove(str(source))


def grade(root, source, work, exercises, config, notes, started) -> dict:
    folders = {name: work / name for name in ("submission", "out", "home", "tmp")}
    for name in ("out", "home", "tmp"):  # submission/: the upload step wrote the files found, contents only
        folders[name].mkdir()
    os.chmod(work, 0o755)  # the grading user must reach its folders inside
    for path in [folders["submission"], *folders["submission"].rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)  # ... and read them
    report_path = folders["out"] / "results.json"

    python = os.environ.get("AUTOGRADER_PYTHON") or sys.executable
    env = {
        "PATH": os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(folders["home"]),
        "TMPDIR": str(folders["tmp"]),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": str(source),  # the zip's grader and course.toml, whatever else is installed
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    data = os.environ.get("MNIST_COURSE_DATA") or (str(root / "data" / "mnist.npz") if (root / "data" / "mnist.npz").is_file() else "")
    data = os.path.abspath(data) if data else ""  # the grader runs in another folder
    if data:
        env["MNIST_COURSE_DATA"] = data
    if os.environ.get("MNIST_COURSE_SANDBOX"):  # `off` where bwrap misbehaves in the container; results.json then says REDUCED
        env["MNIST_COURSE_SANDBOX"] = os.environ["MNIST_COURSE_SANDBOX"]
    # Whose variants: the submitter's (grader/variants.py); set even when empty, so the grader never takes another.
    env["MNIST_COURSE_STUDENT"] = submitter(root)
    env["MNIST_COURSE_VARIANTS"] = ",".join(config.get("use_variant") or [])
    env["MNIST_COURSE_DRAW_KEY"] = str(config.get("draw_key") or "")  # the zip's secret; none: the public key
    if not env["MNIST_COURSE_STUDENT"]:
        notes.append("No submitter in submission_metadata.json: graded on every exercise's default variant.")
    prefix = unprivileged_prefix(folders, network=not data)
    command = [*prefix, python, "-m", "grader", *(ex["id"] for ex in exercises), "--target", str(folders["submission"]), "--half", GRADED_HALF, "--gradescope", str(report_path)]
    if config.get("private_visibility") in HOLDS:  # the private half's checks wait for the release; the public half's score shows meanwhile
        command += ["--private-visibility", config["private_visibility"]]
    limit = float(os.environ.get("AUTOGRADER_TIMEOUT_S") or config.get("timeout_s") or 0) or None
    print("Running:", " ".join(command), flush=True)

    process = subprocess.Popen(command, cwd=work, env=env, start_new_session=True)
    try:
        code = process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        stop(process)
        sweep(prefix)
        return unscored(
            exercises,
            f"Grading took longer than {limit / 60:g} minutes and was stopped. This is not a judgement of your work: "
            "every training's work is capped before it starts and each call of your code has its own time limit, so "
            "the grading container was too slow. Your instructor can regrade it with more CPU or time.",
            notes,
            started,
            retry=True,
        )
    sweep(prefix)  # nothing the submission started outlives grading
    report, problem = read_report(report_path, exercises)
    outcome = verdict(code, report)
    resources = config.get("resources") or "the runtime resources platforms/README.md gives for these exercises"
    if outcome == "not graded":  # a safety clock fired, or memory ran short: the checks it stopped are worth nothing yet, the others stand
        notes.append(
            "Some checks were not graded: the grading container was too slow, overloaded or short of memory (each such "
            "check says which). This is not a judgement of your work; your instructor can regrade this submission."
        )
        print(f"autograde: some checks were not graded; this assignment's autograder needs {resources}", flush=True)
    elif outcome == "error" and code not in (0, 1):
        why = f"was stopped by signal {-code}" if code < 0 else f"exited with status {code}"
        if code == -signal.SIGKILL:  # what the container's out-of-memory killer does (Gradescope's "Killed")
            why += (
                ", most likely because the grading container ran out of memory (this assignment's autograder needs "
                f"{resources})"
            )
        return unscored(
            exercises,
            f"Not graded: the grader could not finish: it {why}. This is not a judgement of your work; your instructor can "
            "see the log of this run and regrade it. Submit again, or ask your instructor.",
            notes,
            started,
            retry=True,
        )
    elif outcome == "error":
        return unscored(exercises, f"The grader's report could not be used ({problem}); your instructor can see the log of this run.", notes, started, retry=True)
    report["output"] = "\n".join([*notes, report.get("output", "")]).strip()
    return report


def submitter(root: Path) -> str:
    """The identity a Gradescope submission's variants are drawn from: its submitter's email as
    Gradescope's submission_metadata.json gives it (`users`; a group's first by email), the id a student
    gives `grader --student` at home; "" when there is none."""
    try:
        metadata = json.loads((root / "submission_metadata.json").read_text(encoding="utf-8"))
        emails = sorted(str(user["email"]).strip() for user in metadata.get("users") or [] if isinstance(user, dict) and user.get("email"))
    except (OSError, ValueError, AttributeError, TypeError):
        return ""
    return emails[0] if emails else ""


def unprivileged_prefix(folders: dict[str, Path], network: bool) -> list[str]:
    """As root: run the grader as the grading user, without network when the data is local."""
    if os.geteuid() != 0:
        return []
    name = os.environ.get("AUTOGRADER_USER", DEFAULT_USER)
    if not name:
        print("autograde: AUTOGRADER_USER is empty: grading runs as root", flush=True)
        return []
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        print(f"autograde: WARNING: no user {name!r} (setup.sh creates it): grading runs as root", flush=True)
        return []
    drop = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--no-new-privs", "--"]
    if not works(drop):
        print("autograde: WARNING: setpriv is missing or not permitted here: grading runs as root", flush=True)
        return []
    # The user must reach the course and its Python (setup.sh opens both to it).
    python = os.environ.get("AUTOGRADER_PYTHON") or sys.executable
    probe = [*drop, python, "-c", "import grader, numpy"]
    env = {"PATH": os.environ.get("PATH") or "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parent), "HOME": "/"}
    if subprocess.run(probe, env=env, cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode != 0:
        print(f"autograde: WARNING: user {name!r} cannot reach the course or its Python (permissions?): grading runs as root", flush=True)
        return []
    for key in ("out", "home", "tmp"):
        os.chown(folders[key], user.pw_uid, user.pw_gid)
    if network:
        print("autograde: no local MNIST file: the grader keeps the network to download it", flush=True)
        return drop
    isolate = ["unshare", "--net", "--"]
    if not works(isolate):  # a container without CAP_SYS_ADMIN
        print("autograde: WARNING: unshare --net is missing or not permitted here: the grading user keeps the network", flush=True)
        return drop
    return [*isolate, *drop]


def works(prefix: list[str]) -> bool:
    """Whether `prefix true` runs here."""
    if not shutil.which(prefix[0]):
        return False
    return subprocess.run([*prefix, "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode == 0


def sweep(prefix: list[str]) -> None:
    """Kill every process left to the grading user, when it is the user setup.sh made for grading alone."""
    if "setpriv" not in prefix or os.environ.get("AUTOGRADER_USER", DEFAULT_USER) != DEFAULT_USER:
        return
    drop = prefix[prefix.index("setpriv") :]
    # kill(-1) from that user signals all its processes but the caller itself (Linux).
    subprocess.run([*drop, sys.executable, "-I", "-c", "import os, signal\ntry: os.kill(-1, signal.SIGKILL)\nexcept ProcessLookupError: pass"], check=False)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the grader's session (it cleans up its workers), then SIGKILL."""
    for signum, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def read_report(path: Path, exercises: list[dict]) -> tuple[dict | None, str]:
    """The grader's results.json if it is whole and consistent with the exercises graded."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "the grader wrote none"
    except (OSError, ValueError) as exc:
        return None, f"unreadable: {exc}"
    if not isinstance(report, dict) or not isinstance(report.get("tests"), list):
        return None, "not a Gradescope results object"
    tests = report["tests"]
    number = (int, float)
    if not all(isinstance(t, dict) and type(t.get("score")) in number and type(t.get("max_score")) in number for t in tests):
        return None, "a test without numeric score and max_score"
    score, max_score = sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)
    expected_max = sum(ex["max_score"] for ex in exercises)
    if type(report.get("score")) not in number or abs(report["score"] - score) > 1e-9 or not 0 <= score <= max_score:
        return None, "its total does not match its tests"
    if abs(max_score - expected_max) > 1e-9:
        return None, f"its tests are worth {max_score} points, the exercises {expected_max}"
    return report, ""


def unscored(exercises: list[dict], message: str, notes: list[str], started: float, retry: bool = False) -> dict:
    """A valid results.json worth 0 points that says why; with `retry`, marked as
    not graded (extra_data.retry: regrade it), never a verdict on the work."""
    return {
        **({"extra_data": {"retry": True}} if retry else {}),
        "score": 0,
        "execution_time": round(time.perf_counter() - started, 2),
        "output": "\n".join([message, *notes]),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": f"{ex['id']} · {ex['title']}",
                "score": 0,
                "max_score": ex["max_score"],
                "status": "failed",
                "output": message,
                "visibility": "visible",
            }
            for ex in exercises
        ],
    }


def write_results(results: Path, result: dict) -> None:
    """Replace results/results.json atomically: whatever was there before is gone."""
    fd, partial = tempfile.mkstemp(prefix=".results.", suffix=".part", dir=results)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    os.chmod(partial, 0o644)
    os.replace(partial, results / "results.json")


if __name__ == "__main__":
    sys.exit(main())
