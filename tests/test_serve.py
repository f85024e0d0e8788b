"""`mnist-course serve`: the drawing page, started for real, over HTTP and in a real headless Chromium.

The server runs as a student starts it (`python -m mnist_course serve`), in its
own process, on a model `mnist-course train` trained here for a few epochs (the
full recipe trains for 30), with the training record beside it.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_course import predict
from mnist_course.course import ROOT
from mnist_course.data import load_mnist
from mnist_course.serve import QUEUE

pytest.importorskip("starlette", reason="the app extra is not installed: pip install -e '.[app]'")
pytest.importorskip("uvicorn", reason="the app extra is not installed: pip install -e '.[app]'")

TRAIN_EPOCHS = 3  # enough to read drawn digits; the served model of the course trains for 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(model: Path, *options: str):
    """`mnist-course serve` in its own process; yields its base URL; stops it after."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_course", "serve", "--model", str(model), "--port", str(port), *options],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(base + "/model", timeout=5).read()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):  # listening, still loading the model
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not start:\n{process.stdout.read()}") from None
                time.sleep(0.3)
        yield base
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C, as a student stops it
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        running_server.output = process.stdout.read()  # what the student saw in the terminal


def post(base: str, body: bytes, content_type: str = "image/png") -> tuple[int, dict]:
    request = urllib.request.Request(base + "/predict", data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def tiff() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((50, 50), 255, np.uint8)).save(buffer, format="TIFF")
    return buffer.getvalue()


def on_paper(digit: np.ndarray, size: int = 200) -> np.ndarray:
    """An MNIST digit re-saved as a scan would be: dark ink on white, size x size."""
    return 255 - np.asarray(Image.fromarray(digit).resize((size, size), Image.BILINEAR))


@pytest.fixture(scope="module")
def mnist(mnist_path):
    return load_mnist(mnist_path)


@pytest.fixture(scope="module")
def trained_model(mnist_path, tmp_path_factory):
    """The stronger CNN as `mnist-course train` makes it, for TRAIN_EPOCHS epochs; or, with
    MNIST_COURSE_SERVE_MODEL, a model already trained (the README's screenshot shows the served one)."""
    given = os.environ.get("MNIST_COURSE_SERVE_MODEL")
    if given:
        return Path(given).resolve()
    model = tmp_path_factory.mktemp("served") / "mnist-cnn.keras"
    done = subprocess.run(
        [sys.executable, "-m", "mnist_course", "train", "--epochs", str(TRAIN_EPOCHS), "--out", str(model), "--data", mnist_path],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return model


@pytest.fixture(scope="module")
def server(trained_model):
    with running_server(trained_model) as base:
        yield base


# --- over HTTP -------------------------------------------------------------


@pytest.mark.trains
def test_the_model_is_described_with_its_training_record(server, trained_model):
    info = json.loads(urllib.request.urlopen(server + "/model").read())
    record = json.loads(predict.training_record_path(trained_model).read_text())
    assert info["loaded"] is True and info["path"] == predict._shown(trained_model)
    assert info["params"] == record["params"] and info["record"]["test_accuracy"] == record["test_accuracy"]
    assert info["record"]["epochs"] == record["epochs"] and info["prepare_image"] == "the reference solution"


@pytest.mark.trains
def test_a_picture_gets_the_digit_the_ten_probabilities_and_the_image_the_model_saw(server, mnist):
    functions = predict.load_functions()
    right = 0
    for digit, label in zip(mnist.x_test[:10], mnist.y_test[:10]):
        picture = on_paper(digit)
        status, answer = post(server, png(picture))
        assert status == 200, answer
        probabilities = np.array(answer["probabilities"])
        assert probabilities.shape == (10,) and abs(probabilities.sum() - 1) < 1e-4
        assert answer["digit"] == probabilities.argmax() and answer["confidence"] == pytest.approx(probabilities.max(), abs=1e-6)
        # The prepared image is exactly the reference prepare_image's, to the 3 decimals sent.
        np.testing.assert_allclose(answer["prepared"], functions.prepare_image(picture), atol=5e-4)
        right += answer["digit"] == label
    assert right >= 9


@pytest.mark.trains
def test_the_page_and_its_assets_are_served_locally(server):
    html = urllib.request.urlopen(server + "/").read().decode()
    assert "/static/draw.js" in html and "/static/draw.css" in html
    assert "http://" not in html and "https://" not in html  # no CDN: works offline
    for asset in ("draw.js", "draw.css"):
        text = urllib.request.urlopen(f"{server}/static/{asset}").read().decode()
        assert "http://" not in text and "https://" not in text


@pytest.mark.trains
@pytest.mark.parametrize(
    "body, status, words",
    [
        (lambda: b"", 400, "Draw a digit first"),
        (lambda: png(np.full((280, 280), 255, np.uint8)), 422, "Draw a digit first"),  # an empty canvas
        (lambda: b"%PDF-1.4 not a picture at all", 415, "That file is not a picture"),
        (lambda: tiff(), 415, "not a picture this page reads: send a photo or scan of one digit as PNG, JPEG"),  # TIFF: its tiles can hide a picture's size
        (lambda: png(np.full((50, 50), 255, np.uint8))[:60], 415, "could not be read"),  # a truncated file
        (lambda: png(np.zeros((1, 1), np.uint8)), 422, "Draw a digit first"),  # 1 x 1: nothing to tell from paper
        (lambda: png(np.full((8_000, 8_000), 255, np.uint8)), 413, "is 8,000 x 8,000 pixels, more than the 50 million"),
        (lambda: png(np.full((20_000, 20_000), 255, np.uint8)), 413, "is 400 million pixels, more than the 50 million"),  # small file
    ],
    ids=["no-body", "blank-canvas", "not-an-image", "tiff", "truncated", "one-pixel", "eight-thousand-square", "twenty-thousand-square"],
)
def test_bad_pictures_get_a_clear_answer_and_the_server_stays_up(server, mnist, body, status, words):
    got, answer = post(server, body())  # made here, not at collection: the huge one takes 400 MB while it is encoded
    assert (got, words in answer.get("error", "")) == (status, True), answer
    good, _ = post(server, png(on_paper(mnist.x_test[0])))
    assert good == 200


@pytest.mark.trains
def test_a_50_mb_upload_is_refused_from_its_headers_before_it_is_read(server, mnist):
    """The body is announced as 50 MB but only 1 MB is sent: the 413 comes anyway, so the
    server did not wait for (or read) the rest."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\nContent-Length: {50 * 2**20}\r\n\r\n".encode()
        )
        connection.sendall(b"\0" * 2**20)
        reply = b""
        while b"larger than" not in reply and (chunk := connection.recv(65536)):
            reply += chunk
        reply = reply.decode(errors="replace")
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    assert "larger than 10 MB" in reply
    good, _ = post(server, png(on_paper(mnist.x_test[0])))
    assert good == 200


@pytest.mark.trains
def test_many_requests_at_once_each_get_their_own_answer_or_a_clear_busy(server, mnist):
    """48 clients at once: each answer is the one the picture gets alone, or, past the queue,
    a 503 that says to try again; none is mixed up with another's, and the server stays up."""
    pictures = [png(on_paper(digit)) for digit in mnist.x_test[:12]]
    alone = [post(server, picture)[1]["probabilities"] for picture in pictures]
    with concurrent.futures.ThreadPoolExecutor(48) as pool:
        together = list(pool.map(lambda i: post(server, pictures[i % 12]), range(96)))
    answered = 0
    for i, (status, answer) in enumerate(together):
        if status == 503:
            assert "try again" in answer["error"]
            continue
        assert status == 200, answer
        np.testing.assert_allclose(answer["probabilities"], alone[i % 12], atol=1e-5)
        answered += 1
    assert answered >= QUEUE  # the queue was used, not refused wholesale
    assert post(server, pictures[0])[0] == 200


@pytest.mark.trains
def test_no_model_yet_says_how_to_train_one_and_loads_it_once_trained(trained_model, tmp_path, mnist):
    missing = tmp_path / "models" / "mine.keras"
    with running_server(missing) as base:
        info = json.loads(urllib.request.urlopen(base + "/model").read())
        assert info["loaded"] is False and f"mnist-course train --out {missing}" in info["problem"]
        status, answer = post(base, png(on_paper(mnist.x_test[0])))
        assert status == 503 and "mnist-course train" in answer["error"]
        missing.parent.mkdir()
        missing.write_bytes(trained_model.read_bytes())  # as if `mnist-course train` had just finished
        status, answer = post(base, png(on_paper(mnist.x_test[0])))
        assert status == 200 and json.loads(urllib.request.urlopen(base + "/model").read())["loaded"] is True


def test_a_model_of_another_shape_is_refused_with_what_it_takes(tmp_path, mnist):
    from mnist_course.data import quiet_keras

    keras = quiet_keras()
    other = tmp_path / "cifar.keras"
    keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]).save(other)
    with running_server(other) as base:
        info = json.loads(urllib.request.urlopen(base + "/model").read())
        assert info["loaded"] is False and "(32, 32, 3) per image" in info["problem"]
        status, answer = post(base, png(on_paper(mnist.x_test[0])))
        assert status == 503 and "not a digit model of this course" in answer["error"]


@pytest.mark.trains
def test_use_exercises_with_an_untouched_stub_says_it_is_not_written(trained_model, mnist):
    with running_server(trained_model, "--use-exercises") as base:
        info = json.loads(urllib.request.urlopen(base + "/model").read())
        assert info["prepare_image"] == "your exercises/ex06_real_use.py"
        status, answer = post(base, png(on_paper(mnist.x_test[0])))
        assert status == 501 and "not written yet" in answer["error"] and "grader ex06" in answer["error"]


@pytest.mark.trains
def test_a_request_for_another_host_name_is_refused(server):
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 sends Host: evil.example."""
    request = urllib.request.Request(server + "/model", headers={"Host": "evil.example"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 400


@pytest.mark.trains
@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Origin": "http://evil.example"}, 403),  # a page elsewhere, in the student's browser
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Content-Type": "text/plain"}, 415),  # a type another site may send without asking first
        # a form another site's page may post without asking: refused by its Origin, as every current browser sends it
        ({"Origin": "http://evil.example", "Content-Type": "multipart/form-data; boundary=x"}, 403),
    ],
    ids=["foreign-origin", "cross-site", "text-plain", "foreign-form"],
)
def test_requests_another_web_site_could_send_are_refused(server, mnist, headers, status):
    request = urllib.request.Request(
        server + "/predict", data=png(on_paper(mnist.x_test[0])), method="POST", headers={"Content-Type": "image/png", **headers}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == status


def multipart(fields: list[tuple[str, str | None, bytes]], boundary: str = "----course-test-7MA4YWxkTrZu0gW") -> tuple[bytes, str]:
    """A multipart/form-data body as browsers and curl write it: (name, filename or None, bytes) per field."""
    body = b""
    for name, filename, content in fields:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        body += (b"Content-Type: application/octet-stream\r\n" if filename else b"") + b"\r\n" + content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.trains
def test_a_plain_curl_multipart_upload_is_read_as_the_raw_picture_is(server, mnist, tmp_path):
    """The README's `curl -F file=@digit.png URL/predict` (curl itself where installed), and forms
    with another field first: the same answer as the picture's own bytes."""
    picture = png(on_paper(mnist.x_test[0]))
    status, alone = post(server, picture)
    assert status == 200
    bodies = [
        multipart([("file", "digit.png", picture)]),
        multipart([("note", None, b"my seven"), ("image", "photo.png", picture + b"\r\n--not-the-boundary\r\n")]),
    ]
    if shutil.which("curl"):
        path = tmp_path / "digit.png"
        path.write_bytes(picture)
        done = subprocess.run(["curl", "-sS", "-F", f"file=@{path}", server + "/predict"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["probabilities"] == alone["probabilities"]
    for body, content_type in bodies:
        status, answer = post(server, body, content_type)
        assert status == 200, answer
        if b"not-the-boundary" not in body:
            assert answer["probabilities"] == alone["probabilities"]
    for body, content_type, words in [
        (*multipart([("file", "notes.txt", b"my shopping list\n")]), "That file is not a picture"),
        (*multipart([]), "carried no picture"),
        (b"--x\r\n", "multipart/form-data", "without its boundary"),
    ]:
        status, answer = post(server, body, content_type)
        assert status in (400, 415) and words in answer["error"], answer
    status, answer = post(server, b"my shopping list\n", "text/plain")
    assert status == 415 and "sent as text/plain, which is not a picture" in answer["error"] and "curl -F file=@digit.png" in answer["error"]


def test_a_busy_port_is_said_with_another_to_try_and_nothing_claims_to_be_open():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "mnist_course", "serve", "--model", "missing.keras", "--port", str(port)],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"port {port} on 127.0.0.1 is busy" in done.stdout and f"--port {port + 1}" in done.stdout
    assert "Open http" not in done.stdout + done.stderr and "Traceback" not in done.stderr


@pytest.mark.trains
def test_host_opens_the_page_to_other_names_with_a_warning(trained_model, mnist):
    """--host 0.0.0.0, as a JupyterHub's proxy needs: the warning is printed, and a request that
    names this machine some other way (a proxy's Host) is answered."""
    with running_server(trained_model, "--host", "0.0.0.0") as base:
        request = urllib.request.Request(base + "/model", headers={"Host": "hub.example.org"})
        assert json.loads(urllib.request.urlopen(request, timeout=30).read())["loaded"] is True
        status, _ = post(base, png(on_paper(mnist.x_test[0])))
        assert status == 200
    output = running_server.output  # the terminal's text, once the server stopped
    assert "WARNING: listening on 0.0.0.0, not only this machine" in output and "Open http://127.0.0.1:" in output


def test_bad_arguments_exit_2():
    done = subprocess.run([sys.executable, "-m", "mnist_course", "serve", "--port", "99999"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "port" in done.stderr


# --- in a real headless Chromium ---------------------------------------------


@pytest.fixture(scope="module")
def page(server):
    from browser import start_browser

    driver = start_browser(1200, 800)
    driver.get(server + "/")
    try:
        yield driver
    finally:
        driver.quit()


def answers(driver) -> int:
    return int(driver.execute_script("return Number(document.body.dataset.answers)"))


def settled(driver, after: int, timeout: float = 30) -> None:
    """Wait until the page has answered past `after` and nothing is in flight."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(driver) > after and not driver.execute_script("return document.body.dataset.busy"):
            time.sleep(0.2)  # a last read queued by the final pointerup
            if not driver.execute_script("return document.body.dataset.busy"):
                return
        time.sleep(0.05)
    raise AssertionError("the page never answered")


def quiet(driver, still: float = 1.0, timeout: float = 30) -> int:
    """Wait until nothing is in flight and no answer has come for `still` seconds (a read queued by an
    earlier test's last stroke may still arrive); the page's answer count then."""
    deadline = time.monotonic() + timeout
    count, since = answers(driver), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = answers(driver)
        if now != count or driver.execute_script("return document.body.dataset.busy"):
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= still:
            return count
    raise AssertionError("the page never went quiet")


def shown(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def stroke(driver, kind: str, points: list[tuple[int, int]]) -> None:
    """One stroke through `points` (canvas pixels from its top-left) with a mouse, finger or pen,
    as W3C WebDriver pointer actions: the page sees real pointerdown/move/up events."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.interaction import POINTER_MOUSE, POINTER_PEN, POINTER_TOUCH
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    pad = driver.find_element("id", "pad")
    kinds = {"mouse": POINTER_MOUSE, "touch": POINTER_TOUCH, "pen": POINTER_PEN}
    actions = ActionBuilder(driver, mouse=PointerInput(kinds[kind], kind))
    pointer = actions.pointer_action
    # Offsets are from the element's centre in WebDriver; the canvas is 280 x 280 CSS pixels.
    x0, y0 = points[0]
    pointer.move_to(pad, x0 - 140, y0 - 140).pointer_down()
    for x, y in points[1:]:
        pointer.move_to(pad, x - 140, y - 140)
    pointer.pointer_up()
    actions.perform()


def clear(driver) -> None:
    driver.find_element("id", "clear").click()
    time.sleep(0.3)  # an answer still in flight for the old drawing must not be shown
    assert (shown(driver, "message"), shown(driver, "digit")) == ("Draw a digit first.", "?")


def one(x: int = 140) -> list[tuple[int, int]]:
    return [(x + 6, 45), *[(x - round(6 * t / 10), 45 + 19 * t) for t in range(1, 11)]]


def zero() -> list[tuple[int, int]]:
    angles = np.linspace(0, 2 * np.pi, 40)
    return [(round(140 + 62 * np.sin(a)), round(140 - 92 * np.cos(a))) for a in angles]


@pytest.mark.trains
@pytest.mark.parametrize("kind", ["mouse", "touch", "pen"])
def test_drawing_a_one_and_a_zero_is_read_live(page, kind):
    clear(page)
    before = answers(page)
    stroke(page, kind, one())
    settled(page, before)
    assert shown(page, "digit") == "1", shown(page, "message")
    assert "% sure" in shown(page, "confidence")
    clear(page)
    before = answers(page)
    stroke(page, kind, zero())
    settled(page, before)
    assert shown(page, "digit") == "0", shown(page, "message")
    # The image the model saw is drawn: its canvas holds ink (not the black of "nothing yet").
    ink = page.execute_script(
        "const d = document.getElementById('prepared').getContext('2d').getImageData(0, 0, 28, 28).data;"
        "let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s;"
    )
    assert ink > 0
    # The bars as drawn: each one's rendered length over its track's is its probability.
    bars = page.execute_script(
        "return Array.from(document.querySelectorAll('#bars .fill'))"
        ".map(f => f.getBoundingClientRect().width / f.parentElement.getBoundingClientRect().width)"
    )
    assert len(bars) == 10 and bars.index(max(bars)) == 0 and max(bars) > 0.5 and sum(bars) == pytest.approx(1, abs=0.02)
    from browser import console_errors

    assert console_errors(page) == []


@pytest.mark.trains
def test_the_page_says_which_model_it_serves(page, trained_model):
    record = json.loads(predict.training_record_path(trained_model).read_text())
    text = shown(page, "model")
    assert predict._shown(trained_model) in text and f"{record['params']:,}" in text
    assert f"{record['test_accuracy']:.2%}" in text and f"{record['epochs']} epochs" in text


@pytest.mark.trains
def test_twenty_official_test_digits_uploaded_as_scans_are_read(page, mnist, tmp_path):
    """Test digits 0-19, re-saved dark on white at 200 x 200 pixels, uploaded one by one."""
    right = []
    for i, (digit, label) in enumerate(zip(mnist.x_test[:20], mnist.y_test[:20])):
        path = tmp_path / f"test-digit-{i:02d}.png"
        Image.fromarray(on_paper(digit)).save(path)
        before = answers(page)
        page.find_element("id", "upload").send_keys(str(path))
        settled(page, before)
        right.append(shown(page, "digit") == str(label))
    assert sum(right) >= 18, right


@pytest.mark.trains
def test_an_empty_canvas_and_a_corrupt_upload_show_their_messages(page, tmp_path):
    clear(page)
    assert shown(page, "digit") == "?"
    corrupt = tmp_path / "photo.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG" * 10)
    before = answers(page)
    page.find_element("id", "upload").send_keys(str(corrupt))
    settled(page, before)
    assert "not an image" in shown(page, "message") or "could not be read" in shown(page, "message")
    assert shown(page, "digit") == "?"
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200), 250, np.uint8)).save(blank)
    before = answers(page)
    page.find_element("id", "upload").send_keys(str(blank))
    settled(page, before)
    assert shown(page, "message").startswith("Draw a digit first")


@pytest.mark.trains
def test_an_uploaded_text_file_is_said_not_to_be_a_picture(page, tmp_path):
    clear(page)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a digit at all\n")
    before = answers(page)
    page.find_element("id", "upload").send_keys(str(notes))
    settled(page, before)
    assert shown(page, "message").startswith("That file is not a picture") and shown(page, "digit") == "?"
    assert "Content-Type" not in shown(page, "message")


@pytest.mark.trains
def test_the_pen_width_can_be_changed_for_the_next_strokes(page):
    """The slider sets the pen: the same stroke leaves about twice the ink at 40 as at 20, and is still read."""

    def ink_after_a_one(width: int) -> int:
        clear(page)
        slider = page.find_element("id", "pen")
        page.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'))", slider, width)
        assert shown(page, "pen-width") == str(width)
        before = answers(page)
        stroke(page, "mouse", one())
        settled(page, before)
        assert shown(page, "digit") == "1", shown(page, "message")
        return page.execute_script(
            "const d = document.getElementById('pad').getContext('2d').getImageData(0, 0, 280, 280).data;"
            "let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] < 128; return n;"
        )

    thin, usual, thick = ink_after_a_one(10), ink_after_a_one(20), ink_after_a_one(40)
    assert thin < usual < thick and 1.5 < thick / usual < 2.5, (thin, usual, thick)
    ink_after_a_one(20)  # as it was, for the tests that follow


@pytest.mark.trains
def test_an_upload_too_large_is_refused_in_the_page_before_it_is_sent(page, tmp_path):
    huge = tmp_path / "huge.png"
    with huge.open("wb") as file:
        file.truncate(50 * 2**20)
    before = quiet(page)
    page.find_element("id", "upload").send_keys(str(huge))
    deadline = time.monotonic() + 30  # handing a 50 MB file to the browser takes a while on a busy machine
    while "50.0 MB" not in shown(page, "message") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "50.0 MB" in shown(page, "message") and answers(page) == before


@pytest.mark.trains
def test_a_screenshot_of_a_drawn_digit(page, tmp_path):
    """Written for the README (docs/draw-a-digit.png is a copy of it, looked at)."""
    clear(page)
    before = answers(page)
    stroke(page, "pen", [(95, 80), (120, 58), (160, 55), (185, 80), (180, 115), (150, 150), (110, 195), (90, 225), (150, 222), (200, 220)])
    settled(page, before)
    assert shown(page, "digit") == "2"
    target = Path(os.environ.get("MNIST_COURSE_SCREENSHOT_DIR", tmp_path)) / "draw-a-digit.png"
    assert page.save_screenshot(str(target))
    with Image.open(target) as shot:
        assert shot.size[0] >= 1000


@pytest.mark.trains
def test_the_page_passes_axe_and_its_keyboard_alternative_is_reached_with_tab(page, server):
    """axe-core finds nothing (WCAG 2.0/2.1 A and AA, best practice) with a digit read and its bars drawn,
    and on a fresh page; the page says that uploading is the keyboard's way, and Tab reaches it."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    from browser import axe_violations

    clear(page)
    before = answers(page)
    stroke(page, "mouse", one())
    settled(page, before)
    assert shown(page, "digit") != "?" and len(page.find_elements("css selector", "#bars li")) == 10
    assert axe_violations(page) == []
    page.get(server + "/")
    assert axe_violations(page) == []
    assert "Uploading a picture is the keyboard alternative to drawing" in shown(page, "keyboard")
    reached = []
    for _ in range(6):
        ActionChains(page).send_keys(Keys.TAB).perform()  # as a keyboard does (send_keys to a file input types a path)
        reached.append(page.switch_to.active_element.get_attribute("id"))
    assert "upload" in reached, reached  # a few Tabs from the top, before any drawing
