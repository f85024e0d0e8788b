"""The student's loop: hints one level at a time, progress, watch mode."""

import shutil
import subprocess
import sys
import time

import pytest

from grader.cli import main as grader_main
from mnist_course.course import ROOT, load_course

EX01 = load_course().exercise("ex01")


def hint(capsys, *args):
    assert grader_main(["--hint", *args]) == 0
    return capsys.readouterr().out


def test_hints_come_one_level_at_a_time_and_end_politely(capsys):
    hints = EX01.function("one_hot").hints
    first = hint(capsys, "ex01", "one_hot")
    assert hints[0] in first and hints[1] not in first
    second = hint(capsys, "ex01", "one_hot_values")  # a check name finds its function
    assert hints[0] in second and hints[1] in second
    for _ in hints:
        last = hint(capsys, "ex01", "one_hot")
    assert hints[-1] in last and "That was the last hint" in last
    assert hints[0] in hint(capsys, "ex01", "one_hot", "--level", "1")


def test_a_hint_without_a_function_is_for_the_first_unfinished_one(capsys):
    assert "normalize()" in hint(capsys, "ex01")


def test_an_unknown_function_is_a_clear_error(capsys):
    assert grader_main(["--hint", "ex01", "nope"]) == 2
    assert "has no function or check 'nope'" in capsys.readouterr().err


def test_progress_follows_the_last_grading(run_grader, mnist_path, tmp_path):
    before = run_grader("--progress").stdout
    assert f"0/{EX01.max_score}" in before and "not started" in before
    run_grader("ex01")
    assert "not started" in run_grader("--progress").stdout


def test_passing_points_at_the_reference(run_grader, mnist_path, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(EX01.solution_path, folder)
    out = run_grader("--target", folder).stdout
    assert "ex01 passes. Compare your solution with the reference: solutions/ex01_preprocessing.py" in out


def test_watch_regrades_on_save_and_moves_on(mnist_path, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(EX01.stub_path, folder)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "grader", "--watch", "--target", str(folder)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines, saved = [], False
        for line in watcher.stdout:  # wait until it watches, save a finished file, wait until it moves on
            lines.append(line)
            if line.startswith("Watching") and not saved:
                time.sleep(1.1)  # a new mtime even on coarse file systems
                shutil.copy(EX01.solution_path, folder)
                saved = True
            if line.startswith("On to "):
                break
    finally:
        watcher.kill()
        watcher.communicate(timeout=30)
    out = "".join(lines)
    assert f"0/{EX01.max_score} points" in out and f"{EX01.max_score}/{EX01.max_score} points" in out
    assert "now passing: normalize_values" in out
    assert "On to ex02 · A first dense network (lesson 2)." in out


@pytest.mark.parametrize(
    "state",
    ['{"progress": null}', '{"progress": {"ex01": 5}}', '{"hints": {"ex01": {"normalize": "abc"}}}', '{"hints": {"ex01": []}}', "[1, 2]", "not json"],
)
def test_a_damaged_state_file_is_ignored(run_grader, mnist_path, tmp_path, monkeypatch, state):
    path = tmp_path / "state.json"
    path.write_text(state)
    monkeypatch.setenv("MNIST_COURSE_STATE", str(path))
    for args in (["--progress"], ["--hint", "ex01"], ["ex01"]):
        result = run_grader(*args)
        assert result.returncode in (0, 1) and "Traceback" not in result.stderr, (args, result.stderr)


def test_progress_columns_stay_aligned_with_long_titles_and_partial_scores(capsys, tmp_path):
    import dataclasses

    from grader.loop import State, show_progress

    course = load_course()
    long = dataclasses.replace(course.exercises[1], title="A title far longer than any column width chosen in advance")
    course = dataclasses.replace(course, exercises=(course.exercises[0], long, *course.exercises[2:]))
    state = State({"progress": {course.exercises[0].id: {"score": 12.75, "status": "failed"}}}, tmp_path / "state.json")
    show_progress(course, state)
    rows = [line for line in capsys.readouterr().out.splitlines() if " · " in line]
    assert len(rows) == len(course.exercises)
    assert len({row.index(" · ", 4) for row in rows}) == 1, rows  # past the mark, which may be a dot too
    assert len({row.index("/") for row in rows}) == 1, rows
    assert "12.75/" in rows[0] and long.title in rows[1]
