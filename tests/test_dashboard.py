"""OUT/class.html, the class at a glance, loaded in a real headless Chromium."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from browser import broken_images, console_errors, links, start_browser
from mnist_course.course import ROOT, load_course

COURSE = load_course()
EX01, EX04 = COURSE.exercise("ex01"), COURSE.exercise("ex04")


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, mnist_path):
    """A small class graded on ex01 and ex04: two complete, a stub, a classic mistake,
    a broken file, and a student whose name needs escaping."""
    folder = tmp_path_factory.mktemp("dashboard")
    subs, out = folder / "submissions", folder / "results"
    solution01, solution04 = EX01.solution_path.read_text(), EX04.solution_path.read_text()
    unscaled = solution01.replace("return images.astype(np.float32) / np.float32(255)", "return images.astype(np.float32)")
    students = {
        "ada": (solution01, solution04),
        "grace": (solution01, solution04.replace("mistakes = cm.copy()", "mistakes = cm")),
        "linus": (EX01.stub_path.read_text(), EX04.stub_path.read_text()),
        "ken": (unscaled, solution04),
        "<i>bold & co": (unscaled, "def confusion_matrix(:\n"),  # markup in a name, and a syntax error
    }
    for student, (ex01, ex04) in students.items():
        (subs / student).mkdir(parents=True)
        (subs / student / EX01.filename).write_text(ex01)
        (subs / student / EX04.filename).write_text(ex04)
    done = subprocess.run(
        [sys.executable, "-m", "grader", "ex01", "ex04", "--batch", str(subs), "--out", str(out), "--jobs", "2", "--data", mnist_path],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert "class.html" in done.stdout, done.stderr
    return out


def test_the_class_page_shows_the_class_and_every_image_and_link_resolves(graded_class):
    page = graded_class / "class.html"
    driver = start_browser()
    try:
        driver.get(page.as_uri())
        text = driver.find_element("tag name", "body").text
        assert broken_images(driver) == []
        assert len(driver.find_elements("tag name", "img")) >= 2  # the score distribution and the pass rates
        targets = links(driver)
        assert len(targets) == 5  # a feedback page for every student: each has a report
        for target in targets:
            url = urlparse(target)
            assert url.scheme == "file" and Path(unquote(url.path)).is_file(), target
        assert console_errors(driver) == []
        driver.save_screenshot(str(graded_class / "class.png"))
    finally:
        driver.quit()
    assert "5 students" in text
    assert "<i>bold & co" in text  # shown as text, never as markup
    # The classic mistake two students share heads the diagnoses, with how many made it.
    diagnoses = text.split("Most common diagnoses", 1)[1].splitlines()
    assert diagnoses[2] == "the pixels were not divided by 255 2 ex01 normalize_values", diagnoses[:4]
