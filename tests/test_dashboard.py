"""OUT/class.html, the class at a glance, each student's feedback.html it links
to, and the similarity report, loaded in a real headless Chromium, each checked
with axe-core (WCAG 2.0/2.1 A and AA, and best practice; tests/browser.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from browser import axe_violations, broken_images, console_errors, links, poor_alt_texts, start_browser
from grader.reports.figures import feedback_page
from mnist_course.course import ROOT, load_course
from test_feedback import fake_mnist, make_report  # noqa: F401 - a fixture, and a report whose model was trained
from corpus import EX04_CLEARED_IN_PLACE, edited

COURSE = load_course()
EX01, EX04 = COURSE.exercise("ex01"), COURSE.exercise("ex04")


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, mnist_path):
    """A small class graded on ex01 and ex04: two complete, a stub, a classic mistake,
    a broken file, a student whose name needs escaping, a byte-identical copy of
    ada's submission, and ada's ex01 with every name changed."""
    folder = tmp_path_factory.mktemp("dashboard")
    subs, out = folder / "submissions", folder / "results"
    solution01, solution04 = EX01.solution_path.read_text(), EX04.solution_path.read_text()
    unscaled = solution01.replace("return images.astype(np.float32) / np.float32(255)", "return images.astype(np.float32)")
    students = {
        "ada": (solution01, solution04),
        "grace": (solution01, edited("ex04", EX04_CLEARED_IN_PLACE)),
        "linus": (EX01.stub_path.read_text(), EX04.stub_path.read_text()),
        "ken": (unscaled, solution04),
        "<i>bold & co": (unscaled, "def confusion_matrix(:\n"),  # markup in a name, and a syntax error
        "hopper": (solution01, solution04),  # ada's submission, byte for byte
        "katherine": (solution01.replace("images", "pictures").replace("labels", "targets"), EX04.stub_path.read_text()),
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


def _file(target: str) -> Path:
    url = urlparse(target)
    assert url.scheme == "file", target
    return Path(unquote(url.path))


def test_the_class_page_shows_the_class_and_every_image_and_link_resolves(graded_class):
    page = graded_class / "class.html"
    driver = start_browser()
    try:
        driver.get(page.as_uri())
        text = driver.find_element("tag name", "body").text
        assert broken_images(driver) == []
        assert len(driver.find_elements("tag name", "img")) >= 2  # the score distribution and the pass rates
        for target in links(driver):
            assert _file(target).is_file(), target
        feedback = [a.get_attribute("href") for a in driver.find_elements("css selector", "table.students a")]
        assert len(feedback) == 7 and all(_file(t).name == "feedback.html" for t in feedback)  # a page for every student: each has a report
        assert console_errors(driver) == []
        assert axe_violations(driver) == [] and poor_alt_texts(driver) == []
        alts = [i.get_attribute("alt") for i in driver.find_elements("tag name", "img")]
        checks = [r.text.split() for r in driver.find_elements("xpath", "//h2[.='Checks']/following-sibling::table[1]//tr[td]")]
        driver.save_screenshot(str(graded_class / "class.png"))
        # The other way: the same page without its <main> landmark is what axe found on the first edition.
        bare = graded_class / "class-without-main.html"
        bare.write_text(page.read_text().replace("<main>", "").replace("</main>", ""))
        driver.get(bare.as_uri())
        found = {line.split(" ", 1)[0] for line in axe_violations(driver)}
    finally:
        driver.quit()
    assert found == {"landmark-one-main", "region"}, found
    # Each chart said in words, with its figures: the scores' spread, the checks' pass rates.
    most = EX01.max_score + EX04.max_score
    spread = re.search(rf"Total score: (median \S+, lowest \d+, highest \d+) of {most}\.", text).group(1)
    assert alts[0] == f"Histogram of the total scores of 7 graded students, of {most} points: {spread}.", alts
    rates = {" ".join(row[:2]): row[-1] for row in checks}
    said = re.fullmatch(r"Bar chart of the pass rate of each of (\d+) checks, from (\S+ \S+) at (\d+%) to (\S+ \S+) at (\d+%); "
                        r"the table Checks below lists every rate\.", alts[1])
    assert said, alts[1]
    count, low, low_rate, high, high_rate = said.groups()
    percent = [int(rate[:-1]) for rate in rates.values()]
    assert int(count) == len(rates) and rates[low] == low_rate == f"{min(percent)}%" and rates[high] == high_rate == f"{max(percent)}%", (alts[1], rates)
    assert "7 students" in text
    assert "<i>bold & co" in text  # shown as text, never as markup
    # The classic mistake two students share heads the diagnoses, with how many made it.
    diagnoses = text.split("Most common diagnoses", 1)[1].splitlines()
    assert diagnoses[2] == "the pixels were not divided by 255 2 ex01 normalize_values", diagnoses[:4]


def test_a_feedback_link_opens_the_students_page_as_a_page_not_raw_text(graded_class):
    driver = start_browser()
    try:
        driver.get((graded_class / "class.html").as_uri())
        row = next(r for r in driver.find_elements("css selector", "table.students tr") if r.text.startswith("ken "))
        row.find_element("tag name", "a").click()
        assert driver.current_url.endswith("/students/ken/feedback.html")
        assert driver.find_element("tag name", "h1").text == "Feedback for ken"
        text = driver.find_element("tag name", "body").text
        assert console_errors(driver) == [] and broken_images(driver) == []
        assert axe_violations(driver) == []
        headings = [h.text for h in driver.find_elements("tag name", "h2")]
        # The failure message, laid out: a heading per exercise, the message in a block of its own.
        blocks = [b.text for b in driver.find_elements("tag name", "pre")]
        driver.get((graded_class / "students" / "<i>bold & co" / "feedback.html").as_uri())
        name = driver.find_element("tag name", "h1").text
        bold = driver.find_elements("tag name", "i")
    finally:
        driver.quit()
    assert [h.split(" ·")[0] for h in headings] == ["ex01", "ex04"]
    assert any("Likely cause: " in b and "255" in b for b in blocks), blocks
    assert "**Score" not in text and "| check |" not in text and "Score: " in text  # rendered, not Markdown source
    assert name == "Feedback for <i>bold & co" and bold == []  # a name is text, never markup


def test_a_feedback_page_with_its_figures_stands_alone(fake_mnist, tmp_path):  # noqa: F811 - the fixture imported above
    """The figures are in the page itself: moved alone to another folder, it still shows them."""
    drawn = tmp_path / "graded" / "feedback.html"
    drawn.parent.mkdir()
    drawn.write_text(feedback_page(make_report(fake_mnist, tmp_path), drawn, title="Feedback for ada", mnist=fake_mnist))
    alone = tmp_path / "mailed" / "feedback.html"
    alone.parent.mkdir()
    shutil.copy(drawn, alone)
    driver = start_browser()
    try:
        driver.get(alone.as_uri())
        sources = driver.execute_script("return Array.from(document.images).map(i => i.getAttribute('src').slice(0, 22))")
        shown = driver.execute_script("return Array.from(document.images).map(i => [i.naturalWidth, i.getBoundingClientRect().width])")
        assert broken_images(driver) == [] and console_errors(driver) == []
        captions = [c.text for c in driver.find_elements("tag name", "figcaption")]
        strong = [s.text for s in driver.find_elements("css selector", "figcaption strong")]
        assert axe_violations(driver) == [] and poor_alt_texts(driver) == []
        alts = [i.get_attribute("alt") for i in driver.find_elements("tag name", "img")]
    finally:
        driver.quit()
    assert sources == ["data:image/png;base64,"] * 3  # learning curves, confusion matrix, misclassified digits
    assert all(natural > 100 and width > 100 for natural, width in shown), shown
    assert strong == ["Learning curves", "Confusion matrix", "Misclassified digits"] and "**" not in " ".join(captions)
    # Each figure's text alternative says what it shows, with the numbers of this training (tests/test_feedback.py's trainer_result).
    assert alts[0].startswith("ex02: learning curves of the grader's training over 6 epochs: training accuracy rose from 85.0% to 98.0%, "
                              "validation accuracy rose from 90.0% to 94.0%, training loss fell from 0.5 to 0.1"), alts[0]
    assert "Validation loss was lowest at epoch 3." in alts[0] and "against a pass mark of 90.0%" in alts[0], alts[0]
    assert alts[1].startswith("ex02: confusion matrix on 300 test images, true digit by row, predicted by column: "
                              "280 right (93.3%), 20 mistakes; most often "), alts[1]
    assert alts[2].startswith("ex02: the 16 test digits the model got wrong most confidently") and "(99% sure)" in alts[2], alts[2]
    # The other way: the Markdown page beside it links its figures, which a lone copy loses.
    assert "](feedback_files/" in feedback_page(make_report(fake_mnist, tmp_path), drawn.with_suffix(".md"), mnist=fake_mnist)


def test_the_similarity_report_lists_the_copies_and_shows_them_side_by_side(graded_class):
    driver = start_browser()
    try:
        driver.get((graded_class / "class.html").as_uri())
        driver.find_element("id", "similarity")  # the section is there
        text = driver.find_element("tag name", "body").text.split("Similar submissions", 1)[1].split("Students", 1)[0]
        rows = [r.text for r in driver.find_elements("css selector", "table.similarity tr")[1:]]
        group = next(r for r in driver.find_elements("css selector", "table.similarity tr") if r.text.startswith("ex01 "))
        group.find_element("link text", "compare").click()
        leak = driver.find_element("css selector", "p.leak").text
        marks = driver.find_elements("tag name", "mark")
        titles = [h.text for h in driver.find_elements("tag name", "h2")]
        assert console_errors(driver) == []
        # The code panes scroll sideways at this width: a keyboard reaches each (axe's scrollable-region-focusable).
        driver.set_window_size(500, 900)
        assert axe_violations(driver) == []
        unreachable = _file(driver.current_url).with_name("without-tabindex.html")  # the other way: panes no keyboard reaches
        unreachable.write_text(_file(driver.current_url).read_text().replace(' tabindex="0"', ""))
        driver.get(unreachable.as_uri())
        found = [line.split(" ", 2)[:2] for line in axe_violations(driver)]
        driver.get((graded_class / "class.html").as_uri())
        assert axe_violations(driver) == []
    finally:
        driver.quit()
    assert "Byte-identical submissions, graded once" in text and "ada, hopper" in text
    # ex01: ada, grace and hopper hand in the same file, katherine it renamed, ken and <i>bold & co it less one
    # line: one group of six on one page (three distinct files linked by two comparisons), not fifteen pairs
    assert any(r.startswith("ex01 <i>bold & co, ada, grace, hopper, katherine and ken 99% to 100% (2 pairs compared) the reference solution")
               for r in rows), rows
    assert not any("linus" in r for r in rows)  # the untouched stub shares nothing of its own
    assert marks and titles == ["ada, grace, hopper", "<i>bold & co, ken", "katherine"] and leak.startswith("Matches the reference solution")
    assert found == [["scrollable-region-focusable", "(serious,"]], found


def test_the_accessibility_check_reports_a_planted_violation(tmp_path):
    """axe_violations and poor_alt_texts can fail: an image without alt, grey on white, nbconvert's placeholder alt."""
    pixel = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    page = tmp_path / "planted.html"
    page.write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Planted</title></head><body><main><h1>Planted</h1>'
        f'<p style="color:#aaa">grey on white, 2.3:1</p><img src="{pixel}"><img src="{pixel}" alt="No description has been provided for this image">'
        f'<img src="{pixel}" alt="Figure 2"><img src="{pixel}" alt="A single white pixel"></main></body></html>'
    )
    driver = start_browser()
    try:
        driver.get(page.as_uri())
        found = axe_violations(driver)
        poor = poor_alt_texts(driver)
    finally:
        driver.quit()
    assert [line.split(" ", 1)[0] for line in found] == ["color-contrast", "image-alt"], found
    assert "Expected contrast ratio of 4.5:1" in found[0]
    assert [line.split(": ", 1)[1] for line in poor] == ["null", "No description has been provided for this image", "Figure 2"], poor
