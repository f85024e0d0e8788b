"""`mnist-course site`: the course as rendered pages, built in quick mode and loaded in a real headless Chromium.

The lessons come from the run tests/test_lessons.py already made (the shared
`lesson_cache`), so the site costs its rendering, not a second run of every lesson.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

from browser import axe_violations, broken_images, console_errors, links, poor_alt_texts, start_browser
from mnist_course.course import ROOT, load_course
from mnist_course.site import NO_SOLUTIONS_NOTE, QUICK_BANNER, _page, build_site, describe_figures, lessons

COURSE = load_course()
LESSONS = lessons(COURSE)


@pytest.fixture(scope="module")
def site(tmp_path_factory, mnist_path, lesson_cache):
    out = tmp_path_factory.mktemp("site") / "out"
    report = build_site(out, data_path=mnist_path, quick=True, cache=lesson_cache, log=lambda line: None)
    return out, report


@pytest.mark.trains
def test_every_lesson_and_the_index_is_written_with_what_it_was_built_with(site, mnist_path):
    from mnist_course.data import load_mnist

    out, report = site
    provenance = load_mnist(mnist_path).provenance
    assert sorted(report) == [notebook.stem for notebook in LESSONS]
    for page in [out / "index.html", *(out / f"{notebook.stem}.html" for notebook in LESSONS)]:
        html = page.read_text()
        assert QUICK_BANNER in html, page.name
        assert provenance.dataset in html and provenance.sha256[:16] in html and "Keras " in html, page.name
        assert "cdnjs" not in html and "https://colab.research.google.com/assets" not in html  # nothing fetched from elsewhere
    index = (out / "index.html").read_text()
    for ex in COURSE.exercises:
        assert f"exercises/{ex.filename}" in index
    assert "What the models reach" in index


# -- The reference solutions stay off the site unless asked for


def _normalised(text: str) -> str:
    """Text as lines stripped of indentation, blank lines dropped: code compares the same in a .py file and a page."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _solution_regions() -> dict[str, list[str]]:
    """Per solution file, the code of each region between its markers, normalised."""
    regions = {}
    for ex in COURSE.exercises:
        text = ex.solution_path.read_text(encoding="utf-8")
        regions[ex.filename] = [_normalised(part.split("### END SOLUTION")[0].split("\n", 1)[1]) for part in text.split("### BEGIN SOLUTION")[1:]]
        assert regions[ex.filename] and all(regions[ex.filename]), ex.filename
    return regions


def leaked_solutions(out: Path) -> set[tuple[str, str]]:
    """(solution file, built file) for every solution region whose code appears in a file of the build:
    pages are read as the text they show (tags removed, entities decoded), other files as they are."""
    regions = _solution_regions()
    found = set()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".html":
            text = html.unescape(re.sub(r"<[^>]*>", "", text))
        text = _normalised(text)
        found |= {(name, str(path.relative_to(out))) for name, codes in regions.items() if any(code in text for code in codes)}
    return found


@pytest.mark.trains
def test_a_default_build_publishes_no_solution(site):
    out, _ = site
    assert leaked_solutions(out) == set()
    assert not (out / "solutions").exists()
    index = html.unescape(re.sub(r"<[^>]*>", "", (out / "index.html").read_text()))
    assert "solutions/" not in index.replace(NO_SOLUTIONS_NOTE.replace("`", ""), "")  # no link, only the note
    assert " ".join(NO_SOLUTIONS_NOTE.replace("`", "").split()) in " ".join(index.split())
    assert json.loads((out / "build.json").read_text())["solutions"] is False


def test_with_solutions_the_references_are_published_and_the_check_sees_them(tmp_path, mnist_path):
    """The other way: --with-solutions copies and links every reference, and the check
    finds a solution's code in a .py file and on a page (a notebook that shows ex01's code)."""
    ex01 = COURSE.exercises[0]
    shown = tmp_path / "shows_a_solution.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(ex01.solution_path.read_text(encoding="utf-8"))]), shown)
    out = tmp_path / "out"
    build_site(out, data_path=mnist_path, quick=True, cache=tmp_path / "cache", log=lambda line: None, notebooks=[shown], with_solutions=True)
    leaks = leaked_solutions(out)
    assert {(ex.filename, f"solutions/{ex.filename}") for ex in COURSE.exercises} <= leaks
    assert (ex01.filename, "shows_a_solution.html") in leaks
    index = (out / "index.html").read_text()
    assert all(f'href="solutions/{ex.filename}"' in index for ex in COURSE.exercises) and NO_SOLUTIONS_NOTE[:40] not in index
    # Built again without the flag into the same folder: the references are gone again.
    build_site(out, data_path=mnist_path, quick=True, cache=tmp_path / "cache", log=lambda line: None, notebooks=[shown])
    assert not (out / "solutions").exists()
    assert {page for _, page in leaked_solutions(out)} == {"shows_a_solution.html"}


@pytest.mark.trains
def test_every_page_loads_in_chromium_with_its_figures_and_links(site):
    out, report = site
    driver = start_browser(1200, 900)
    try:
        for page in ["index", *report]:
            driver.get((out / f"{page}.html").as_uri())
            assert broken_images(driver) == [], page
            assert console_errors(driver) == [], page
            # WCAG 2.0/2.1 A and AA and best practice, and every figure described by its lesson's "# Alt text:" line.
            assert axe_violations(driver) == [] and poor_alt_texts(driver) == [], page
            for target in links(driver):
                url = urlparse(target)
                if url.scheme == "file":
                    assert Path(unquote(url.path)).exists(), f"{page}: {target}"
                elif url.netloc == "colab.research.google.com":
                    # Colab opens the lesson from the published repository: that notebook must exist here.
                    lesson = url.path.rsplit("/blob/main/", 1)[1]
                    assert (ROOT / lesson).is_file() and lesson == f"lessons/{page}.ipynb", target
                else:
                    assert url.scheme == "https", f"{page}: {target}"  # an outside reference, named in the text
            if page != "index":
                # The figures the notebook made, all on the page (each as an embedded image).
                shown = driver.execute_script("return document.querySelectorAll('.jp-OutputArea-output img').length")
                assert shown >= report[page]["figures"] > 0, page
                assert QUICK_BANNER in driver.find_element("css selector", ".site-quick-banner").text
        driver.set_window_size(600, 900)  # a narrow screen: what no longer fits scrolls, and a keyboard reaches it
        for page in ["index", *report]:
            driver.get((out / f"{page}.html").as_uri())
            assert axe_violations(driver) == [], page
        driver.set_window_size(1200, 900)
        driver.get((out / f"{LESSONS[4].stem}.html").as_uri())
        driver.execute_script("document.querySelectorAll('.jp-OutputArea-output img')[1].scrollIntoView({block: 'center'})")
        driver.save_screenshot(str(out / "lesson.png"))
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def small_site(tmp_path_factory, mnist_path):
    """Three one-cell lessons, built as the course's are: each prints what a lesson prints about
    its data (the loader's description, with the file's path and checksum)."""
    tmp = tmp_path_factory.mktemp("small-site")
    made = []
    for number, name in enumerate(("first", "second", "third"), start=1):
        notebook = tmp / f"0{number}_{name}.ipynb"
        code = (
            "from mnist_course.data import load_mnist\n"
            "data = load_mnist()\n"
            "print(data.provenance.describe())\n"
            "print('read from', data.provenance.path)"
        )
        cells = [nbformat.v4.new_markdown_cell(f"# Lesson {number}: the {name}\n\nAs [lesson 1](https://example.org/) said."), nbformat.v4.new_code_cell(code)]
        if number == 1:  # a figure, described as the lessons describe theirs
            cells.append(nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\n# Alt text: A line falling from 1 to 0.\nplt.show()"))
        nbformat.write(nbformat.v4.new_notebook(cells=cells), notebook)
        made.append(notebook)
    out = tmp / "out"
    build_site(out, data_path=mnist_path, quick=True, cache=tmp / "cache", log=lambda line: None, notebooks=made)
    return out, [notebook.stem for notebook in made]


def test_no_page_names_the_builder_s_folders_or_a_second_checksum_for_the_data(small_site, mnist_path):
    from mnist_course.data import COURSE_DATA_SHA256, MNIST_22K_SHA256, load_mnist

    out, stems = small_site
    provenance = load_mnist(mnist_path).provenance
    assert provenance.path and provenance.dataset == "mnist-22k"
    folders = {str(Path(mnist_path).resolve().parent), str(ROOT), str(Path.home())}
    pages = {page: (out / f"{page}.html").read_text() for page in ["index", *stems]}
    for page, text in pages.items():
        assert [folder for folder in folders if folder in text] == [], page
        # every checksum a page names for the data is the same one
        named = set(re.findall(r"sha256\W+(?:<code>)?([0-9a-f]{8,64})", html.unescape(text)))
        assert named and all(COURSE_DATA_SHA256.startswith(h) for h in named), (page, named)
        assert MNIST_22K_SHA256[:8] not in text
    lesson = html.unescape(re.sub(r"<[^>]*>", "", pages[stems[0]]))
    assert "read from mnist-22k.npz" in lesson and f"(sha256 {COURSE_DATA_SHA256[:8]}" in lesson  # the print itself survives
    assert "What the models reach" in pages["index"] and "from npz mnist-22k.npz" in html.unescape(pages["index"])


def test_each_lesson_page_links_the_previous_the_next_and_the_index_in_chromium(small_site):
    out, stems = small_site
    driver = start_browser(1200, 900)
    try:
        for page in ["index", *stems]:
            driver.get((out / f"{page}.html").as_uri())
            assert axe_violations(driver) == [] and poor_alt_texts(driver) == [], page
        driver.get((out / f"{stems[0]}.html").as_uri())
        assert driver.find_element("css selector", ".jp-OutputArea-output img").get_attribute("alt") == "A line falling from 1 to 0."
        assert driver.find_elements("css selector", ".site-prev") == []  # the first lesson has none before it
        visited = [stems[0]]
        for _ in stems[1:]:
            nav = driver.find_elements("css selector", ".site-nav")
            assert len(nav) == 2  # at the top and at the foot
            nav[-1].find_element("css selector", ".site-next").click()
            visited.append(Path(urlparse(driver.current_url).path).stem)
        assert visited == stems and driver.find_elements("css selector", ".site-next") == []
        assert "3. Lesson 3: the third" not in driver.page_source  # a page does not link itself
        driver.find_element("css selector", ".site-prev").click()
        assert Path(urlparse(driver.current_url).path).stem == stems[1]
        assert driver.find_element("css selector", ".site-prev").text == "← 1. Lesson 1: the first"
        driver.find_element("css selector", ".site-index").click()
        assert Path(urlparse(driver.current_url).path).name == "index.html"
        assert console_errors(driver) == []
    finally:
        driver.quit()


PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def test_a_figure_without_its_alt_text_line_is_said_by_the_build_and_caught_in_chromium(tmp_path):
    """The other way, without running a kernel: a cell's images take its "# Alt text:" lines in order; an image
    left without one is named by describe_figures and shows nbconvert's placeholder, which poor_alt_texts reports.
    And what scrolls sideways on a narrow screen (a wide table, Keras's summary as rich writes it) is reached
    with the keyboard; without the page's tabindex, axe says so."""
    image = {"output_type": "display_data", "metadata": {}, "data": {"image/png": PIXEL, "text/plain": "<Figure>"}}
    summary = nbformat.v4.new_code_cell("model.summary()")
    summary.outputs = [nbformat.from_dict({"output_type": "display_data", "metadata": {}, "data": {
        "text/html": '<pre style="white-space:pre;overflow-x:auto;line-height:normal">' + "Dense (None, 128) " * 12 + "</pre>", "text/plain": ""}})]
    table = nbformat.v4.new_markdown_cell("| " + " | ".join(f"column_{i}_with_a_long_name" for i in range(8)) + " |\n|" + "---|" * 8 + "\n|" + " 1 |" * 8)
    described = nbformat.v4.new_code_cell("# Alt text: The first: a grey dot.\nplt.show()\n# Alt text: The second: a grey dot again.\nplt.show()")
    described.outputs = [nbformat.from_dict(image), nbformat.from_dict(image)]
    bare = nbformat.v4.new_code_cell("plt.imshow(digit)\nplt.show()")
    bare.outputs = [nbformat.from_dict(image)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Two figures"), described, bare, summary, table])
    assert describe_figures(nb) == ["cell 3 draws 1 images and describes 0 (a '# Alt text: ...' line per image)"]
    page, unreachable = tmp_path / "page.html", tmp_path / "unreachable.html"
    page.write_text(_page(nb, "Two figures"))
    unreachable.write_text(page.read_text().replace(' tabindex="0"', ""))
    driver = start_browser(600, 900)
    try:
        driver.get(page.as_uri())
        alts = [i.get_attribute("alt") for i in driver.find_elements("tag name", "img")]
        poor = poor_alt_texts(driver)
        assert axe_violations(driver) == []  # nbconvert's placeholder is an alt to axe: poor_alt_texts is the check
        driver.get(unreachable.as_uri())
        found = [line.split(" ", 1)[0] + " " + line.split(" elements: ", 1)[0].rsplit(", ", 1)[1] for line in axe_violations(driver)]
    finally:
        driver.quit()
    assert found == ["scrollable-region-focusable 2"], found
    assert alts == ["The first: a grey dot.", "The second: a grey dot again.", "No description has been provided for this image"]
    assert [line.split(": ", 1)[1] for line in poor] == ["No description has been provided for this image"]


@pytest.mark.trains
def test_a_rebuild_after_a_one_line_change_runs_that_lesson_only(tmp_path, mnist_path, lesson_cache, site):
    """A copy of the course whose lesson 1 gained one line: only lesson 1 runs again."""
    copy = tmp_path / "course"
    shutil.copytree(ROOT / "lessons", copy / "lessons", ignore=shutil.ignore_patterns("*.py", "*.toml"))
    nb = nbformat.read(copy / "lessons" / LESSONS[0].name, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("One more line."))
    nbformat.write(nb, copy / "lessons" / LESSONS[0].name)
    cache = tmp_path / "cache"
    shutil.copytree(lesson_cache, cache)
    edited = [copy / "lessons" / notebook.name for notebook in LESSONS]
    report = build_site(tmp_path / "out", data_path=mnist_path, quick=True, cache=cache, log=lambda line: None, notebooks=edited)
    ran = [stem for stem, entry in report.items() if entry["seconds"] > 0]
    assert ran == [LESSONS[0].stem]
    assert "One more line." in (tmp_path / "out" / f"{LESSONS[0].stem}.html").read_text()


def test_the_pages_workflow_is_generated_and_builds_the_site():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
    steps = workflow["jobs"]["build"]["steps"]
    runs = [step.get("run", "") for step in steps]
    assert any(re.match(r"mnist-course site _site\b", run) for run in runs)
    assert any(step.get("uses", "").startswith("actions/upload-pages-artifact") for step in steps)
    assert workflow["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/deploy-pages")
    assert "MNIST_COURSE_QUICK" not in json.dumps(workflow)  # the published site is built at full settings
    assert "--with-solutions" not in " ".join(runs)  # ... and without the reference solutions


# -- Ctrl-C during a build

SLOW_BUILD = """
import sys
from pathlib import Path
import nbformat
from mnist_course import __main__ as command, site
tmp = Path(sys.argv[1])
notebook = tmp / "01_slow.ipynb"
code = f"from pathlib import Path\\nPath({str(tmp / 'running')!r}).touch()\\nimport time\\ntime.sleep(300)"
nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Slow"), nbformat.v4.new_code_cell(code)]), notebook)
site.lessons = lambda course: [notebook]
sys.exit(command.main(["site", str(tmp / "out"), "--cache", str(tmp / "cache"), "--data", sys.argv[2], "--quick"]))
"""


def test_ctrl_c_during_a_build_ends_in_one_line_with_status_130_and_no_half_page(tmp_path, mnist_path):
    """Ctrl-C reaches the build (not the kernel, which jupyter_client starts in a session of its
    own) while a lesson runs: one line, exit 130, the earlier page untouched, no partial file."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("the last build's page")
    build = subprocess.Popen([sys.executable, "-c", SLOW_BUILD, str(tmp_path), mnist_path], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not (tmp_path / "running").exists() and build.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (tmp_path / "running").exists(), build.communicate(timeout=60)
        os.killpg(build.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends to the foreground group
        stdout, stderr = build.communicate(timeout=120)
    finally:
        if build.poll() is None:
            os.killpg(build.pid, signal.SIGKILL)
    assert build.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("mnist-course site: interrupted;"), stderr
    assert (out / "index.html").read_text() == "the last build's page"
    assert sorted(p.name for p in out.iterdir()) == ["index.html"] and not list(tmp_path.rglob("*.partial"))


def test_a_page_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from mnist_course.site import write_whole

    page = tmp_path / "index.html"
    page.write_text("the last build's page")
    real = Path.write_text

    def cut_short(self, text, *args, **kwargs):
        real(self, text[: len(text) // 2], *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", cut_short)
    with pytest.raises(KeyboardInterrupt):
        write_whole(page, "<html>" + "x" * 1000 + "</html>")
    monkeypatch.undo()
    assert page.read_text() == "the last build's page" and sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]
    write_whole(page, "new")
    assert page.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]
