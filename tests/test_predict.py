"""`mnist-course predict` and `mnist-course train`: images in, digits out, errors explained.

The model here is tiny and built in the test (a softmax over class templates
with fixed weights), so nothing is trained for predict and the tests are fast.
"""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mnist_course import predict
from mnist_course.__main__ import main as course_main
from mnist_course.data import load_mnist, quiet_keras


@pytest.fixture(scope="module")
def mnist(mnist_path):
    return load_mnist(mnist_path)


@pytest.fixture(scope="module")
def tiny_model(mnist, tmp_path_factory):
    """Rescaling(1/255), Flatten, Dense softmax whose weights are the mean image of each
    digit: a course-shaped model (raw pixels in, CNN input shape) that reads digits."""
    keras = quiet_keras()
    from keras import layers

    x = mnist.x_train[:5000].reshape(-1, 784).astype(np.float32) / 255
    y = mnist.y_train[:5000]
    means = np.stack([x[y == k].mean(axis=0) for k in range(10)])
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Rescaling(1 / 255), layers.Flatten(), layers.Dense(10, activation="softmax")])
    model.layers[-1].set_weights([(0.3 * means.T).astype(np.float32), (-0.15 * (means**2).sum(axis=1)).astype(np.float32)])
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return path


def photo_of(digit: np.ndarray, scale: int = 4, paper: int = 230, pen: int = 30) -> np.ndarray:
    """An MNIST digit as dark ink on light paper, larger and off-centre."""
    size = 28 * scale
    ink = np.asarray(Image.fromarray(digit).resize((size, size), Image.BILINEAR), dtype=np.float32) / 255
    page = np.zeros((size + 40, size + 90), dtype=np.float32)
    page[10 : 10 + size, 70 : 70 + size] = ink
    return np.round(paper + (pen - paper) * page).astype(np.uint8)


@pytest.fixture(scope="module")
def images(mnist, tmp_path_factory):
    """Good pictures of test digits 0 (a 7) and 1 (a 2), and files that are not images."""
    folder = tmp_path_factory.mktemp("images")
    gray = photo_of(mnist.x_test[0])
    Image.fromarray(gray).save(folder / "seven.png")
    rgb = np.stack([photo_of(mnist.x_test[1], pen=20), photo_of(mnist.x_test[1], pen=40), photo_of(mnist.x_test[1], pen=120)], axis=-1)
    Image.fromarray(rgb).save(folder / "two.jpg", quality=95)
    (folder / "notes.txt").write_text("not a picture")
    (folder / "truncated.png").write_bytes((folder / "seven.png").read_bytes()[:200])
    Image.fromarray(np.full((60, 60), 240, np.uint8)).save(folder / "blank.png")
    return folder


def run_predict(paths, model, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    code = predict.predict_files([str(p) for p in paths], model, out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def test_predicts_digit_confidence_and_top3_for_each_image(images, tiny_model):
    code, out, err = run_predict([images / "seven.png", images / "two.jpg"], tiny_model)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{images / 'seven.png'}: 7 (")
    assert lines[1].startswith(f"{images / 'two.jpg'}: 2 (")
    for line in lines:
        ranked = line.split("top 3: ")[1].split(", ")
        assert len(ranked) == 3
        probabilities = [float(item.split()[1].rstrip("%")) for item in ranked]
        assert probabilities == sorted(probabilities, reverse=True)


def test_prediction_matches_the_reference_functions(images, tiny_model):
    """predict is prepare_image + predict_digit from solutions/, nothing else."""
    reference = predict.load_functions()
    model = predict.load_model(tiny_model)
    digit, confidence, top3 = reference.predict_digit(model, reference.prepare_image(predict.read_image(images / "seven.png")))
    _, out, _ = run_predict([images / "seven.png"], tiny_model)
    assert out.strip() == predict.format_prediction(str(images / "seven.png"), digit, confidence, top3)


def test_bad_files_get_a_clear_error_and_the_others_are_still_predicted(images, tiny_model):
    names = ["notes.txt", "seven.png", "missing.png", "truncated.png", "blank.png", "two.jpg"]
    code, out, err = run_predict([images / n for n in names] + [images], tiny_model)
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()] == [str(images / "seven.png"), str(images / "two.jpg")]
    errors = err.splitlines()
    assert len(errors) == 5, err
    assert "notes.txt is not an image" in errors[0]
    assert "missing.png: no such file" in errors[1]
    assert "truncated.png could not be read as an image" in errors[2]
    assert "blank.png" in errors[3] and "no digit" in errors[3]
    assert "is a folder, not an image" in errors[4]
    assert "Traceback" not in err


def test_a_missing_model_says_how_to_train_one(images, tmp_path):
    code, out, err = run_predict([images / "seven.png"], predict.DEFAULT_MODEL.parent / "no-such-model.keras")
    assert (code, out) == (2, "")
    assert "no trained model" in err and "mnist-course train --out" in err
    if not predict.DEFAULT_MODEL.exists():
        code, _, err = run_predict([images / "seven.png"], predict.DEFAULT_MODEL)
        assert code == 2
        assert "Train one with `mnist-course train` (it saves there)" in err


def test_a_file_that_is_not_a_model_is_refused(images, tmp_path):
    fake = tmp_path / "model.keras"
    fake.write_text("not a zip")
    for path, problem in ((images / "notes.txt", "is not a .keras file"), (fake, "could not be loaded as a Keras model")):
        code, out, err = run_predict([images / "seven.png"], path)
        assert (code, out) == (2, "")
        assert problem in err and "Traceback" not in err


def test_use_exercises_with_an_untouched_stub_says_it_is_not_started(images, tiny_model):
    code, out, err = run_predict([images / "seven.png"], tiny_model, use_exercises=True)
    assert (code, out) == (2, "")
    assert "prepare_image() is not started yet" in err and "grader ex06" in err


def test_a_bug_in_the_students_functions_fails_that_file_only(images, tiny_model, tmp_path, monkeypatch):
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "ex06_real_use.py").write_text(
        "def prepare_image(image):\n    return image[0, 0, 0]\n\ndef predict_digit(model, image):\n    return 1, 0.5, []\n"
    )
    monkeypatch.setattr(predict, "ROOT", tmp_path)
    code, out, err = run_predict([images / "two.jpg", images / "seven.png"], tiny_model, use_exercises=True)
    assert (code, out.count("\n")) == (1, 1)  # the RGB picture went through, the gray one broke prepare_image
    assert "seven.png: IndexError in exercise 6's functions" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "mode, shape",
    [("L", (30, 40)), ("RGB", (30, 40, 3)), ("RGBA", (30, 40, 4)), ("LA", (30, 40, 4)), ("P", (30, 40, 3)), ("1", (30, 40)), ("I;16", (30, 40))],
)
def test_read_image_gives_uint8_gray_rgb_or_rgba(tmp_path, mode, shape):
    image = Image.new("RGB", (40, 30), (250, 250, 250))
    image.paste((10, 10, 10), (5, 5, 15, 25))
    converted = image.convert(mode) if mode != "I;16" else Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 257)
    path = tmp_path / "picture.png"
    converted.save(path)
    array = predict.read_image(path)
    assert array.dtype == np.uint8 and array.shape == shape
    gray = array if array.ndim == 2 else array[..., 0]
    assert gray.max() >= 240 and gray.min() <= 20  # paper stays light, ink stays dark


def test_read_image_turns_phone_photos_upright(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.new("L", (40, 30), 200).save(tmp_path / "phone.jpg", exif=exif)
    assert predict.read_image(tmp_path / "phone.jpg").shape == (40, 30)


@pytest.mark.trains
def test_train_shows_progress_reports_accuracy_and_saves(mnist_path, tmp_path, capfd):
    out_path = tmp_path / "models" / "cnn.keras"
    assert course_main(["train", "--out", str(out_path), "--epochs", "2", "--limit", "300", "--data", mnist_path]) == 0
    printed = capfd.readouterr().out
    assert "Epoch 2/2" in printed and "3/3" in printed  # Keras's progress bar: 270 images in batches of 128
    assert "Test accuracy:" in printed and f"Saved to {out_path}" in printed
    model = predict.load_model(out_path)
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    record = json.loads(predict.training_record_path(out_path).read_text())
    assert record["epochs"] == 2 and record["train_images"] == 300 and record["params"] == model.count_params()
    assert f"Test accuracy: {record['test_accuracy']:.2%}" in printed and record["data_sha256"]


def test_the_command_line_runs_predict(images, tiny_model):
    result = subprocess.run(
        [sys.executable, "-m", "mnist_course", "predict", str(images / "seven.png"), str(images / "notes.txt"), "--model", str(tiny_model)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.startswith(f"{images / 'seven.png'}: 7 (")
    assert result.stderr.strip() == f"error: {images / 'notes.txt'} is not an image Pillow can read (PNG, JPEG, BMP, GIF, TIFF, WebP...)"


def test_a_file_whose_decoder_fails_oddly_is_that_files_error_only(images, tiny_model, tmp_path):
    """A DirectDraw Surface header with pixel-format flags Pillow does not know makes its decoder
    raise NotImplementedError: that is this file's error, not 'exercise 6 is not started'."""
    header = bytes.fromhex("444453207c0000000f10000030000000400000000001000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000200000000000000000000000200000000000ff0000ff0000ff000000000000ff0010000000000000000000000000000000000000")
    odd = tmp_path / "odd.dds"
    odd.write_bytes(header + b"\xff" * 12288)
    code, out, err = run_predict([odd, images / "seven.png"], tiny_model)
    assert code == 1 and "seven.png: 7" in out
    assert "odd.dds could not be read as an image" in err and "grader ex06" not in err


@pytest.mark.parametrize("argv", [["predict"], ["train", "--epochs", "0"], ["train", "--limit", "x"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        course_main(argv)
    assert exit_info.value.code == 2


def test_the_model_train_saves_is_the_variant_chosen_on_held_out_images():
    """stronger_cnn()'s defaults are the row benchmarks/validation.json chose by its own rule,
    so the served model was picked without the test set and cannot drift from that choice."""
    import inspect

    from mnist_course.course import ROOT, import_file
    from mnist_course.models import stronger_cnn

    ablation = import_file(ROOT / "benchmarks" / "ablation.py")
    record = json.loads((ROOT / "benchmarks" / "validation.json").read_text())
    assert record["scored_on"].startswith(f"the last {ablation.VALIDATION_IMAGES:,} training images")
    assert ablation.choose(record["summary"]) == record["chosen"]
    chosen = next(row for row in record["summary"] if row["variant"] == record["chosen"])
    defaults = inspect.signature(stronger_cnn).parameters
    assert (defaults["batch_norm"].default, defaults["augmentation"].default) == (chosen["batch_norm"], chosen["augmentation"])
