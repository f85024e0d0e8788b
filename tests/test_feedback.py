"""The feedback page's figures: learning curves, confusion matrix and misclassified
digits of the grader's training, drawn beside the Markdown from a report's
plain data (no training here: the reports are built by hand and checked
against the schema)."""

import copy
import json
import subprocess
import sys

import jsonschema
import numpy as np
import pytest
from PIL import Image

from grader.classroom import batch, child_grader
from grader.reports import figures
from grader.reports.figures import KINDS, feedback_page
from grader.reports.formats import markdown_feedback
from grader.settings import RunSettings
from grader.training.accuracy import training_summary
from mnist_course.course import ROOT, load_course
from mnist_course.data import MNIST, Provenance

SCHEMA = json.loads((ROOT / "grader" / "reports" / "report.schema.json").read_text())
SHA = "ab" * 32
N_TEST = 300


@pytest.fixture(scope="module")
def fake_mnist():
    """Random 'digits' standing in for a test set; only the indices matter."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, N_TEST).astype(np.uint8)
    return MNIST(x, y, x, y, Provenance("npz", None, SHA, "custom", N_TEST, N_TEST))


def trainer_result(y_test):
    """What the grader's trainer returns for a model that overfits after epoch 3."""
    predicted = np.array(y_test, dtype=np.int64)
    predicted[:20] = (predicted[:20] + 5) % 10  # 20 mistakes
    return {
        "status": "ok",
        "epochs_run": 6,
        "history": {
            "loss": [0.5, 0.3, 0.2, 0.15, 0.12, 0.1],
            "accuracy": [0.85, 0.91, 0.94, 0.96, 0.97, 0.98],
            "val_loss": [0.3, 0.2, 0.18, 0.19, 0.22, 0.25],
            "val_accuracy": [0.9, 0.93, 0.95, 0.95, 0.94, 0.94],
        },
        "test_accuracy": float((predicted == y_test).mean()),
        "predictions": predicted.tolist(),
        "mistakes": [[i, int(y_test[i]), int(predicted[i]), round(0.99 - i / 100, 4)] for i in range(16)],
    }


def make_report(fake_mnist, tmp_path, training=True):
    """ex01 without a model, ex02 with the grader's training (or none, as for a stub)."""
    course = load_course()
    result = trainer_result(fake_mnist.y_test)
    accuracy = {
        "name": "build_model_test_accuracy", "function": "build_model", "status": "passed", "score": 4, "max_score": 4,
        "message": "", "seconds": 21.0,
        "measured": {"test_accuracy": result["test_accuracy"], "threshold": 0.9, "band": 0.01, "dataset": "custom", "epochs_run": 6, "training_seconds": 20.0, "seed": 0},
    }
    if training:
        accuracy["training"] = training_summary(result, fake_mnist.y_test)
    else:
        accuracy.update(status="not started", score=0, message="build_model() is not started yet")
        del accuracy["measured"]
    ex01 = course.exercise("ex01")
    exercises = [
        {"id": "ex01", "title": ex01.title, "lesson": 1, "status": "passed", "score": 1, "max_score": 1,
         "checks": [{"name": "one_hot_values", "function": "one_hot", "status": "passed", "score": 1, "max_score": 1, "message": "", "seconds": 0.1}]},
        {"id": "ex02", "title": course.exercise("ex02").title, "lesson": 2, "status": "passed" if training else "not started",
         "score": accuracy["score"], "max_score": 4, "checks": [accuracy]},
    ]
    report = {
        "schema_version": 1, "grader_version": "test", "course": course.title, "target": str(tmp_path),
        "data": {"source": "npz", "path": str(tmp_path / "gone.npz"), "sha256": SHA, "dataset": "custom",
                 "n_train": N_TEST, "n_test": N_TEST, "description": "synthetic test data"},
        "started_at": "2025-01-01T00:00:00+00:00", "seconds": 22.0, "python": "3.11",
        "score": 1 + accuracy["score"], "max_score": 5, "exercises": exercises,
    }
    jsonschema.validate(report, SCHEMA)
    return report


def test_training_summary_is_small_plain_data(fake_mnist):
    y = fake_mnist.y_test
    result = trainer_result(y)
    result["history"]["val_loss"][0] = float("nan")
    summary = training_summary(result, y)
    cm = np.array(summary["confusion"])
    assert cm.shape == (10, 10) and cm.sum() == N_TEST and np.trace(cm) == N_TEST - 20
    assert summary["history"]["val_loss"][0] is None and summary["history"]["loss"] == result["history"]["loss"]
    assert [m["index"] for m in summary["misclassified"]] == list(range(16))
    assert all(m["label"] == y[m["index"]] != m["predicted"] for m in summary["misclassified"])
    assert len(json.dumps(summary)) < 3000  # never one entry per test image
    stopped = {"status": "timeout", "history": result["history"], "epochs_run": 6}  # stopped before the test set
    assert set(training_summary(stopped, y)) == {"history"}
    assert training_summary({"status": "error", "message": "boom"}, y) is None


def test_feedback_page_draws_links_and_explains_each_figure(fake_mnist, tmp_path):
    report = make_report(fake_mnist, tmp_path)
    page = feedback_page(report, tmp_path / "feedback.md", mnist=fake_mnist)
    for kind in KINDS:
        png = tmp_path / "feedback_files" / f"ex02_{kind}.png"
        with Image.open(png) as image:
            assert image.format == "PNG"
            assert 300 <= image.width <= 2000 and 200 <= image.height <= 2000, (kind, image.size)
        assert f"](feedback_files/ex02_{kind}.png)" in page
    assert sorted(p.name for p in (tmp_path / "feedback_files").iterdir()) == sorted(f"ex02_{k}.png" for k in KINDS)
    assert page.count("### What the grader's training shows") == 1  # ex01 trains nothing
    assert "Validation loss rising while training loss falls: overfitting, see lesson 3" in page
    assert "validation loss was lowest at epoch 3" in page
    assert "**Confusion matrix**" in page and "**Misclassified digits**: the 16 test images" in page
    assert "could not be drawn" not in page


def test_no_training_means_no_figures_and_old_ones_go(fake_mnist, tmp_path):
    feedback_page(make_report(fake_mnist, tmp_path), tmp_path / "feedback.md", mnist=fake_mnist)
    assert (tmp_path / "feedback_files").is_dir()
    stub = make_report(fake_mnist, tmp_path, training=False)
    page = feedback_page(stub, tmp_path / "feedback.md", mnist=fake_mnist)
    assert page == markdown_feedback(stub)
    assert "![" not in page and not (tmp_path / "feedback_files").exists()


def test_test_images_that_cannot_be_loaded_cost_only_their_figure(fake_mnist, tmp_path):
    page = feedback_page(make_report(fake_mnist, tmp_path), tmp_path / "feedback.md")  # no data at hand, gone.npz missing
    assert "*The misclassified digits could not be drawn (LookupError: the test images could not be loaded" in page
    assert "ex02_misclassified.png" not in page
    assert all((tmp_path / "feedback_files" / f"ex02_{k}.png").is_file() for k in ("learning_curves", "confusion"))


def test_a_training_that_diverged_or_was_stopped_still_gets_its_curves(fake_mnist, tmp_path):
    report = make_report(fake_mnist, tmp_path)
    check = report["exercises"][1]["checks"][0]
    nan = float("nan")
    diverged = {"status": "not_finite", "history": {"loss": [2.3, nan, nan], "accuracy": [0.1, nan, nan], "val_loss": [nan] * 3, "val_accuracy": [0.1] * 3}}
    check["training"] = training_summary(diverged, fake_mnist.y_test)
    check["measured"]["test_accuracy"] = None
    jsonschema.validate(report, SCHEMA)
    page = feedback_page(report, tmp_path / "feedback.md", mnist=fake_mnist)
    assert "](feedback_files/ex02_learning_curves.png)" in page and "could not be drawn" not in page
    assert "stopped being a number at epoch 2: training diverged" in page
    assert sorted(p.name for p in (tmp_path / "feedback_files").iterdir()) == ["ex02_learning_curves.png"]


def test_a_figure_that_fails_is_left_out_with_one_line(fake_mnist, tmp_path, monkeypatch):
    def broken(*args):
        raise RuntimeError("no ink\nleft")

    monkeypatch.setattr(figures, "_confusion", broken)
    page = feedback_page(make_report(fake_mnist, tmp_path), tmp_path / "fb.md", mnist=fake_mnist)
    assert "\n*The confusion matrix could not be drawn (RuntimeError: no ink left).*\n" in page
    assert "](fb_files/ex02_learning_curves.png)" in page and "](fb_files/ex02_misclassified.png)" in page
    assert not (tmp_path / "fb_files" / "ex02_confusion.png").exists()


def test_batch_feedback_pages_get_their_figures(fake_mnist, tmp_path, monkeypatch):
    report = make_report(fake_mnist, tmp_path)
    monkeypatch.setattr(child_grader, "grade_submission", lambda folder, exercises, settings, *rest, **options: copy.deepcopy(report))
    subs, out = tmp_path / "subs", tmp_path / "out"
    (subs / "alice").mkdir(parents=True)
    course = load_course()
    assert batch.run_batch(batch.BatchRequest(subs, out, [course.exercise("ex01"), course.exercise("ex02")], RunSettings(), SHA, mnist=fake_mnist)) == 0
    student = out / "students" / "alice"
    page = (student / "feedback.md").read_text()
    for kind in KINDS:
        assert (student / "feedback_files" / f"ex02_{kind}.png").is_file() and f"](feedback_files/ex02_{kind}.png)" in page
    jsonschema.validate(json.loads((student / "report.json").read_text()), SCHEMA)


def test_matplotlib_is_imported_only_to_draw(fake_mnist, tmp_path):
    stub = json.dumps(make_report(fake_mnist, tmp_path, training=False))
    code = (
        "import json, sys; from pathlib import Path; import grader.cli; from grader.reports.figures import feedback_page; "
        f"feedback_page(json.loads({stub!r}), Path({str(tmp_path / 'f.md')!r})); "
        "assert 'matplotlib' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("dtype, words", [("uint8", "a uint8"), ("int64", "an int64"), ("float32", "a float32"), ("object", "an object"), ("bool", "a bool")])
def test_an_array_is_described_with_the_right_article(dtype, words):
    from grader.feedback import describe

    assert describe(np.zeros((2, 3), dtype=dtype)) == f"{words} array of shape (2, 3)"
