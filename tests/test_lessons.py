"""Every lesson notebook runs top to bottom in a plain Jupyter kernel.

The built .ipynb (what students open) is executed with nbclient, reading MNIST
from MNIST_COURSE_DATA. MNIST_COURSE_QUICK=1 is set so later, slower lessons
may shrink epochs or data; they never skip their checks.
"""


import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from mnist_course.course import ROOT, load_course

LESSONS = sorted({ex.lesson_notebook for ex in load_course().exercises})


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_lesson_executes(notebook, mnist_path, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_COURSE_QUICK", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend, as students see it
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path))
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "lessons")}})
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{notebook.name} failed:\n{str(exc)[-3000:]}")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "a lesson shows its figures"
