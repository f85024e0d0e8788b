"""`mnist-course site OUT`: the course as a static site, every lesson with its outputs and figures.

Each lesson notebook is executed top to bottom with nbclient and rendered to
HTML with nbconvert's own HTML exporter (the JupyterLab look, images embedded
in the page), plus an index page built the same way from a notebook of
Markdown cells: the lessons, the exercises with their points, and what the
models reach (benchmarks/MODELS.md). nbconvert is already here through
nbgrader and renders a notebook exactly as Jupyter shows it, so the site needs
no other tool and no build configuration of its own.

What the pages are made of:
- Executed notebooks are cached in CACHE (default OUT/../.site-cache) under a
  key made of the notebook's bytes, the data's sha256, the quick flag, the
  versions of Python, Keras, TensorFlow and NumPy, and SHARED_INPUTS (the code
  and records every lesson reads): a rebuild after a one-line change to a
  lesson re-runs that lesson only.
- Every page opens with what it was built with (data set, images, sha256,
  library versions, date) and, in quick mode (MNIST_COURSE_QUICK=1, as CI
  builds it), a banner saying that its numbers are lower than the text's.
  The data is named by one checksum (`data_checksum`), and no path of the
  builder's machine is published (`public_text`, over every output).
- Each lesson page links the previous lesson, the index and the next one, at
  its top and its foot.
- Nothing is fetched from elsewhere when a page is opened: the template turns
  off nbconvert's CDN scripts (RequireJS, MathJax, Mermaid; the lessons use
  none of them), and the Colab badge is served from the site. Exercise stubs
  are copied beside the pages, so their links resolve.
- The reference solutions are left out unless asked for (`--with-solutions`,
  for a self-learner's own copy): the Pages workflow publishes the default
  build, and a class's site must not hand out the answers. Without them the
  index says where the references are.
- Every figure's alt text is the `# Alt text:` line its lesson's cell gives
  (`describe_figures`; lessons/README.md), and the template darkens the
  JupyterLab theme's colours that fall under WCAG's 4.5:1: every page passes
  axe-core (tests/test_site.py).
- Every page is written whole or not at all (`write_whole`): Ctrl-C ends a
  build with one line and exit status 130 (`Interrupted`), the lessons that
  finished running cached. Each lesson kernel's own log goes to
  CACHE/<lesson>.kernel.log, not the terminal.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from .course import ROOT, Course, load_course

TEMPLATES = Path(__file__).with_name("site_template")
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
QUICK_BANNER = "Built in quick mode: fewer epochs and images; the numbers are lower than in the text."


def lessons(course: Course) -> list[Path]:
    """The lesson notebooks in course order."""
    return [course.lesson_notebook(lesson) for lesson in course.lessons]


def versions() -> dict[str, str]:
    """The libraries a lesson's numbers depend on, for the cache key and each page."""
    import keras
    import numpy
    import tensorflow

    return {"Python": platform.python_version(), "Keras": keras.__version__, "TensorFlow": tensorflow.__version__, "NumPy": numpy.__version__}


# What else a lesson's outputs depend on: the course's code, the solutions it imports,
# the benchmark records it reads and lesson 7's photos. A change there re-runs every lesson.
SHARED_INPUTS = ("mnist_course/*.py", "solutions/*.py", "benchmarks/*.json", "lessons/photos/*")


def cache_key(notebook: Path, data_sha256: str, quick: bool, versions: dict[str, str]) -> str:
    shared = hashlib.sha256()
    for pattern in SHARED_INPUTS:
        for path in sorted(ROOT.glob(pattern)):
            shared.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    parts = [notebook.read_bytes(), shared.digest(), data_sha256.encode(), b"quick" if quick else b"full", json.dumps(versions, sort_keys=True).encode()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:20]


@contextmanager
def _lesson_environment(data_path: str | None, quick: bool):
    """The variables the lessons read, for the kernels started inside."""
    saved = {name: os.environ.get(name) for name in ("MNIST_COURSE_QUICK", "MNIST_COURSE_DATA")}
    if quick:
        os.environ["MNIST_COURSE_QUICK"] = "1"
    else:
        os.environ.pop("MNIST_COURSE_QUICK", None)
    if data_path:
        os.environ["MNIST_COURSE_DATA"] = str(data_path)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) while the site was built. Every page and cache entry already
    written is whole; the lessons that finished running are cached for the next build."""


def _run(nb, notebook: Path, log_path: Path) -> None:
    """Execute `nb` in a fresh kernel. The kernel's own log (its start-up warnings, and
    its complaints when it is stopped mid-cell) goes to `log_path`, not the terminal; a
    cell's output stays in the notebook. On Ctrl-C nbclient shuts the kernel down itself
    and then raises whatever its unwinding meets (a dead kernel, an assertion in its
    clean-up): all of it is one Interrupted."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(notebook.parent)}})
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as kernel_log:
        try:
            client.execute(stderr=kernel_log)
        except BaseException as exc:
            # nbclient's SIGINT/SIGTERM handler leaves this behind (nbclient 0.10-0.11, pinned in pyproject.toml)
            if isinstance(exc, KeyboardInterrupt) or getattr(client, "_async_cleanup_kernel_future", None) is not None:
                raise Interrupted from None
            raise


def write_whole(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a Ctrl-C mid-write leaves the earlier file (or none), never half a page."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def executed(notebook: Path, cache: Path, data_path: str | None, data_sha256: str, quick: bool, versions: dict[str, str]):
    """(the notebook with its outputs, seconds spent running it: 0.0 when it came from the cache)."""
    import nbformat

    cached = cache / f"{notebook.stem}-{cache_key(notebook, data_sha256, quick, versions)}.ipynb"
    if cached.is_file():
        return nbformat.read(cached, as_version=4), 0.0
    nb = nbformat.read(notebook, as_version=4)
    started = time.perf_counter()
    with _lesson_environment(data_path, quick):
        _run(nb, notebook, cache / f"{notebook.stem}.kernel.log")
    seconds = time.perf_counter() - started
    cache.mkdir(parents=True, exist_ok=True)
    write_whole(cached, nbformat.writes(nb))  # whole or absent, even if two builds share the cache
    return nb, seconds


def data_checksum(provenance) -> str:
    """The one sha256 a page names for its data: for the course's images, the checksum of the
    arrays (COURSE_DATA_SHA256), the same whether they came from mnist-22k.npz, Keras's download or
    the IDX files; for other data, its file's."""
    from .data import COURSE_DATA_SHA256, COURSE_TRAIN_IMAGES

    if provenance.dataset == "mnist-22k" and provenance.n_train == COURSE_TRAIN_IMAGES:
        return COURSE_DATA_SHA256
    return provenance.sha256


def public_text(text: str, provenance) -> str:
    """Text a page publishes, without the builder's machine in it: the data file's folder, the
    course's folder and the home folder are left out of paths (the file keeps its name), and a
    checksum of the course's images taken another way (mnist-22k.npz's file checksum, which
    benchmarks/MODELS.md and older outputs print) is given as the page's one checksum."""
    from .data import COURSE_DATA_SHA256, MNIST_22K_SHA256

    places = []
    if provenance.path:
        places.append(str(Path(provenance.path).resolve().parent) + os.sep)
        places.append(str(Path(provenance.path).parent) + os.sep)
    places += [str(ROOT) + os.sep, str(Path.home()) + os.sep]
    for place in sorted(set(places), key=len, reverse=True):
        if len(place) > 1:
            text = text.replace(place, "~/" if place == str(Path.home()) + os.sep else "")
    same = data_checksum(provenance)
    # Only the course's images have checksums that name the same images another way.
    others = {MNIST_22K_SHA256, provenance.sha256} - {same} if same == COURSE_DATA_SHA256 else set()

    def one_checksum(found: re.Match) -> str:
        hexes = found.group(0)
        return same[: len(hexes)] if any(other.startswith(hexes) for other in others) else hexes

    return re.sub(r"(?<![0-9a-f])[0-9a-f]{8,64}(?![0-9a-f])", one_checksum, text) if others else text


def _public_outputs(nb, provenance) -> None:
    """Every output of a notebook through public_text (streams, text and HTML)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = public_text("".join(output["text"]), provenance)
            for kind in ("text/plain", "text/html", "text/markdown"):
                if kind in output.get("data", {}):
                    output["data"][kind] = public_text("".join(output["data"][kind]), provenance)


def provenance_cell(provenance, versions: dict[str, str], quick: bool):
    """The Markdown cell each page opens with."""
    import nbformat

    libraries = ", ".join(f"{name} {version}" for name, version in versions.items())
    lines = []
    if quick:
        lines.append(f'<div class="site-quick-banner"><strong>{QUICK_BANNER}</strong></div>\n')
    lines.append(
        f'<p class="site-provenance">Built on {date.today().isoformat()} with {provenance.dataset} '
        f"({provenance.n_train:,} training / {provenance.n_test:,} test images, sha256 <code>{data_checksum(provenance)[:16]}…</code>); "
        f"{libraries}.</p>"
    )
    return nbformat.v4.new_markdown_cell("\n".join(lines))


def navigation_cell(stems: list[str], titles: dict[str, str], stem: str, where: str):
    """Links to the previous lesson, the index and the next lesson, for the top and foot of a page
    (`where`: the two are told apart by name, as a screen reader lists them)."""
    import html

    import nbformat

    at = stems.index(stem)
    parts = []
    if at > 0:
        parts.append(f'<a class="site-prev" href="{stems[at - 1]}.html">← {at}. {html.escape(titles[stems[at - 1]])}</a>')
    parts.append('<a class="site-index" href="index.html">All lessons</a>')
    if at + 1 < len(stems):
        parts.append(f'<a class="site-next" href="{stems[at + 1]}.html">{at + 2}. {html.escape(titles[stems[at + 1]])} →</a>')
    return nbformat.v4.new_markdown_cell(f'<nav class="site-nav" aria-label="Lessons, {where} of the page">{" · ".join(parts)}</nav>')


def figures_made(nb) -> int:
    """How many images a notebook's outputs hold."""
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if any(kind.startswith("image/") for kind in output.get("data", {}))
    )


ALT_TEXT = re.compile(r"^[ \t]*# Alt text: (.+?)\s*$", re.M)


def describe_figures(nb) -> list[str]:
    """Give every image a cell draws the text alternative its source writes beside it: the cell's
    `# Alt text: ...` comment lines, in order, one per image (lessons/README.md). The page's <img alt>
    comes from there (the template's data_png); returns a line for each cell whose images and
    descriptions do not pair up, which would otherwise show nbconvert's "No description" placeholder."""
    unpaired = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        said = ALT_TEXT.findall(cell.source)
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        for output, alt in zip(images, said):
            output.setdefault("metadata", {}).setdefault("image/png", {})["alt"] = alt
        if len(images) > len(said):
            unpaired.append(f"cell {number} draws {len(images)} images and describes {len(said)} (a '# Alt text: ...' line per image)")
    return unpaired


def _page(nb, title: str) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="mnist-site", embed_images=True)
    nb.metadata["title"] = title
    html, _ = exporter.from_notebook_node(nb)
    return _keyboard_scrollable(html)


def _keyboard_scrollable(html: str) -> str:
    """What scrolls sideways on a narrow screen, a keyboard can reach and scroll (WCAG 2.1.1; axe's
    scrollable-region-focusable): a Markdown cell's table (the index's) and an output's own <pre>
    (Keras's model.summary()). nbconvert already makes each input and output area focusable, but not these."""
    from bs4 import BeautifulSoup  # nbconvert's own dependency

    soup = BeautifulSoup(html, features="html.parser")
    for element in [*soup.select(".jp-RenderedMarkdown:has(table)"), *soup.select(".jp-RenderedHTML > pre")]:
        element["tabindex"] = "0"
    return str(soup)


def _local_badges(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and COLAB_BADGE in cell.source:
            cell.source = cell.source.replace(COLAB_BADGE, "colab-badge.svg")


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            found = re.search(r"^# (.+)$", cell.source, flags=re.MULTILINE)
            if found:
                return found.group(1).strip()
    return fallback


NO_SOLUTIONS_NOTE = (
    "The reference solutions are not on this site. They are in the course repository's `solutions/` folder "
    "(instructors keep that folder out of the students' copy: platforms/README.md); a self-learner can build "
    "this site with them: `mnist-course site OUT --with-solutions`."
)


def index_notebook(course: Course, titles: dict[str, str], figures: dict[str, int], with_solutions: bool = False):
    """The front page, as Markdown cells: lessons, exercises (with links to the references when
    they are published), what the models reach."""
    import nbformat

    lesson_rows = "\n".join(
        f"| {number} | [{titles[stem]}]({stem}.html) | {figures[stem]} |" for number, stem in enumerate(titles, start=1)
    )
    exercise_rows = "\n".join(
        f"| {ex.id} | {ex.title} | lesson {ex.lesson_number} | {ex.max_score} | [`exercises/{ex.filename}`](exercises/{ex.filename}) |"
        + (f" [`solutions/{ex.filename}`](solutions/{ex.filename}) |" if with_solutions else "")
        for ex in course.exercises
    )
    exercise_head = "| exercise | what you write | lesson | points | your file |" + (" reference |" if with_solutions else "")
    exercises = f"## Exercises\n\n{exercise_head}\n|{'---|' * exercise_head.count(' |')}\n{exercise_rows}"
    if not with_solutions:
        exercises += f"\n\n{NO_SOLUTIONS_NOTE}"
    measured = ROOT / "benchmarks" / "MODELS.md"
    if measured.is_file():
        models = measured.read_text(encoding="utf-8").replace("# What the models reach", "## What the models reach", 1)
    else:  # a class's starter leaves the measurements of the references out
        models = f"## What the models reach\n\nMeasured in the course's source repository, {course.repository}: `benchmarks/MODELS.md`."
    cells = [
        f"# {course.title}\n\nRead the lessons here with every output and figure, then open them in Jupyter or "
        "Colab to run them yourself. Each exercise is a Python file you complete and grade with `grader exNN`; "
        "compare with the reference solution only after solving it.",
        f"## Lessons\n\n| # | lesson | figures |\n|---|---|---|\n{lesson_rows}",
        exercises,
        models,
    ]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text) for text in cells])


def build_site(
    out: Path,
    data_path: str | None = None,
    quick: bool = False,
    cache: Path | None = None,
    course: Course | None = None,
    log=print,
    notebooks: list[Path] | None = None,
    with_solutions: bool = False,
) -> dict:
    """Write the site into OUT; returns, per lesson, the seconds it ran (0 when cached) and the figures
    it made. `notebooks` replaces the course's lesson notebooks (the tests build from edited copies);
    `with_solutions` copies the reference solutions beside the pages and links them (a self-learner's site)."""
    from .data import load_mnist

    course = course or load_course()
    out = Path(out)
    cache = Path(cache) if cache else out.parent / ".site-cache"
    provenance = load_mnist(data_path).provenance
    library_versions = versions()
    out.mkdir(parents=True, exist_ok=True)
    report, titles, figures, done = {}, {}, {}, {}
    for notebook in notebooks or lessons(course):
        nb, seconds = executed(notebook, cache, data_path, provenance.sha256, quick, library_versions)
        figures[notebook.stem] = figures_made(nb)
        titles[notebook.stem] = _title(nb, notebook.stem)
        done[notebook.stem] = nb
        report[notebook.stem] = {"seconds": round(seconds, 1), "figures": figures[notebook.stem]}
        log(f"{notebook.stem}: {'ran in %.0f s' % seconds if seconds else 'from the cache'}, {figures[notebook.stem]} figures")
    stems = list(done)
    for stem, nb in done.items():  # written once every title is known: each page links its neighbours
        _local_badges(nb)
        _public_outputs(nb, provenance)
        for line in describe_figures(nb):
            log(f"{stem}: {line}")
        nb.cells.insert(0, provenance_cell(provenance, library_versions, quick))
        nb.cells.insert(1, navigation_cell(stems, titles, stem, "top"))
        nb.cells.append(navigation_cell(stems, titles, stem, "foot"))
        write_whole(out / f"{stem}.html", _page(nb, titles[stem]))
    index = index_notebook(course, titles, figures, with_solutions)
    for cell in index.cells:
        cell.source = public_text(cell.source, provenance)  # benchmarks/MODELS.md names its data as its author's machine had it
    index.cells.insert(0, provenance_cell(provenance, library_versions, quick))
    write_whole(out / "index.html", _page(index, course.title))
    shutil.copy(TEMPLATES / "colab-badge.svg", out / "colab-badge.svg")
    if not with_solutions and (out / "solutions").resolve() != (ROOT / "solutions").resolve():
        shutil.rmtree(out / "solutions", ignore_errors=True)  # an earlier build's, never published by this one
    for folder in ("exercises", "solutions") if with_solutions else ("exercises",):
        (out / folder).mkdir(exist_ok=True)
        for ex in course.exercises:
            shutil.copy(ROOT / folder / ex.filename, out / folder / ex.filename)
    (out / ".nojekyll").write_text("")  # GitHub Pages serves the files as they are
    build = {"quick": quick, "data": provenance.dataset, "solutions": with_solutions, "lessons": report}
    write_whole(out / "build.json", json.dumps(build, indent=1) + "\n")
    return report


PAGES_WORKFLOW = """\
# Generated by `mnist-course build` from mnist_course/site.py: do not edit by hand.
# Builds the course site (`mnist-course site`) at full settings and publishes it
# with GitHub Pages. Executed lessons are cached by their source and the data, so a
# push that changes one lesson re-runs that lesson only.
name: site
on:
  push:
    branches: [main]
  workflow_dispatch:
permissions:
  contents: read
  pages: write
  id-token: write
concurrency:
  group: pages
  cancel-in-progress: false
jobs:
  build:
    runs-on: ubuntu-latest
    timeout-minutes: 120
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install -e ".[dev]"
      - uses: actions/cache@v4
        with:
          path: .site-cache
          key: site-${{ hashFiles(CACHE_INPUTS) }}
          restore-keys: site-
      # No --data: the loader downloads MNIST with Keras, verifies its checksum and
      # cuts the course's 22,699 training images, as a student's first run does.
      # No --with-solutions: the published site leaves the reference solutions out.
      - run: mnist-course site _site --cache .site-cache
      - uses: actions/upload-pages-artifact@v3
        with:
          path: _site
  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: github-pages
      url: ${{ steps.deployment.outputs.page_url }}
    steps:
      - id: deployment
        uses: actions/deploy-pages@v4
""".replace("CACHE_INPUTS", ", ".join(f"'{pattern}'" for pattern in ("lessons/*.ipynb", *SHARED_INPUTS)))  # the inputs cache_key() reads
