"""Every lesson notebook runs top to bottom in a plain Jupyter kernel, and
every figure a lesson quotes is the one its own run prints.

The built .ipynb (what students open) is executed with nbclient, reading MNIST
from MNIST_COURSE_DATA. MNIST_COURSE_QUICK=1 is set so later, slower lessons
may shrink epochs or data; they never skip their checks. The quoted figures
(lessons/figures.toml) are compared with a full run, which takes 15 to 25
minutes on 2 cores: with MNIST_COURSE_LESSONS_FULL=1, once per release.
"""

import os
import re
import tomllib

import pytest
from nbclient.exceptions import CellExecutionError

from mnist_course.course import ROOT, load_course

LESSONS = [load_course().lesson_notebook(name) for name in load_course().lessons]
FIGURES = tomllib.loads((ROOT / "lessons" / "figures.toml").read_text(encoding="utf-8"))["figure"]
FULL_RUN = os.environ.get("MNIST_COURSE_LESSONS_FULL") == "1"


def _executed(notebook, cache, mnist_path, quick):
    """The notebook after a run top to bottom, through the course site's cache
    (mnist_course/site.py), so tests/test_site.py renders these very runs."""
    from mnist_course.data import load_mnist
    from mnist_course.site import executed, versions

    try:
        nb, _ = executed(notebook, cache, mnist_path, load_mnist(mnist_path).provenance.sha256, quick, versions())
    except CellExecutionError as exc:
        pytest.fail(f"{notebook.name} failed:\n{str(exc)[-3000:]}")
    return nb


def printed_text(nb) -> str:
    """Everything the lesson's cells printed, in order."""
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream")


def lesson_prose(lesson: str) -> str:
    """A lesson's source with jupytext's comment marks and line breaks folded away."""
    source = (ROOT / "lessons" / f"{lesson}.py").read_text(encoding="utf-8")
    return re.sub(r"\s+", " ", re.sub(r"^# ?", "", source, flags=re.MULTILINE))


def quoted_figure_mismatches(lesson: str, printed: str) -> list[str]:
    """For each figure of the lesson: what its run printed, where that is not what the text says."""
    wrong = []
    for figure in (f for f in FIGURES if f["lesson"] == lesson):
        found = re.search(figure["printed"], printed)
        if found is None:
            wrong.append(f"{figure['quote']!r}: the run printed nothing matching {figure['printed']!r}")
            continue
        value = float(found.group(1).replace(",", ""))
        if abs(value - figure["value"]) > figure["tolerance"]:
            wrong.append(f"{figure['quote']!r}: the run printed {value:g}, the text says {figure['value']:g} (± {figure['tolerance']:g})")
    return wrong


@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f"{f['lesson']}: {f['quote'][:40]}")
def test_every_registered_figure_stands_in_its_lesson(figure):
    assert figure["quote"] in lesson_prose(figure["lesson"]), f"lessons/{figure['lesson']}.py no longer says {figure['quote']!r}"
    assert re.compile(figure["printed"]).groups >= 1


@pytest.mark.trains
@pytest.mark.skipif(not FULL_RUN, reason="a full run of the lessons takes 15 to 25 minutes on 2 cores: MNIST_COURSE_LESSONS_FULL=1, once per release")
@pytest.mark.parametrize("notebook", [n for n in LESSONS if any(f["lesson"] == n.stem for f in FIGURES)], ids=lambda p: p.stem)
def test_every_quoted_figure_is_what_the_full_run_prints(notebook, mnist_path, monkeypatch, tmp_path):
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path))
    assert quoted_figure_mismatches(notebook.stem, printed_text(_executed(notebook, tmp_path, mnist_path, quick=False))) == []


@pytest.mark.trains
@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_lesson_executes(notebook, mnist_path, monkeypatch, tmp_path, lesson_cache):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend, as students see it
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path))
    nb = _executed(notebook, lesson_cache, mnist_path, quick=True)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "a lesson shows its figures"


def test_a_quoted_figure_the_run_contradicts_or_never_prints_is_reported():
    """The comparison itself, both ways, on lesson 1's figures and a made-up run."""
    honest = ("pixel mean: 33.6\npixel std:  78.9\nexactly 0:  80.8% of all pixels\ntraining part:   20,429 images\n"
              "images of it:         21   26   20\nmost held out:          4    6    4\n")
    assert quoted_figure_mismatches("01_first_look", honest) == []
    drifted = honest.replace("pixel mean: 33.6", "pixel mean: 40.2").replace("training part:   20,429 images\n", "")
    wrong = quoted_figure_mismatches("01_first_look", drifted)
    assert len(wrong) == 2
    assert "printed 40.2, the text says 33.5" in wrong[0] and "printed nothing matching" in wrong[1]
