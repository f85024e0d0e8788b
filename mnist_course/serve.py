"""`mnist-course serve`: draw a digit in the browser and watch a trained model read it.

A Starlette application served by uvicorn on 127.0.0.1 (the `.[app]` extra;
`--host` opens it to other machines, with a warning). The page and its script
and style live in mnist_course/static/ and are served from here, so it works
offline. One JSON endpoint does the work (docs/STUDENTS.md shows it with curl):

    POST /predict   the picture, either as the request's body with an image Content-Type
                    (image/png, image/jpeg, ... or application/octet-stream: what the page sends,
                    and `curl --data-binary @digit.png -H 'Content-Type: image/png'`), or as a
                    multipart form whose first file field is the picture (`curl -F file=@digit.png`).
                    PNG, JPEG, GIF, BMP or WebP, at most MAX_UPLOAD_BYTES.
    -> 200 {"digit": 0..9, "confidence": the digit's probability, "probabilities": [10 floats],
            "prepared": 28 rows of 28 values in 0..1 (what the model saw), "milliseconds"}
    -> 4xx/5xx {"error": a sentence for the student}: 400 no picture, 403 sent by another web
            site, 408 too slow, 413 too large, 415 not a picture, 422 blank or refused by
            prepare_image, 500/501 prepare_image failed or is not written, 503 busy or no model

    GET /model      what is loaded: path, parameters, the training record's test accuracy,
                    which prepare_image; or, with no model yet, how to train one.

The picture is prepared exactly as `mnist-course predict` prepares it, with
exercise 6's prepare_image (the reference solution, or the student's own with
--use-exercises), and the model (loaded once, safe_mode=True) gives the ten
probabilities. What keeps the server up: uploads over MAX_UPLOAD_BYTES are
refused from their headers (413) before they are read; only FORMATS are
decoded, and pictures over MAX_PIXELS are refused from their headers before
they are; larger pictures are shrunk to MAX_SIDE first; at most WORKERS
pictures are decoded and predicted at once, QUEUE wait their turn and more are
told to try again; and any error in one request, a student's prepare_image
included, is that request's answer only. What keeps other web pages out:
requests must name this machine as their host (no DNS rebinding), must not come
from another site (Origin and Sec-Fetch-Site, which every current browser
sends with a POST from another page), and must carry an image type or be a
multipart form; text and URL-encoded forms are refused.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import re
import socket
import threading
import time
from pathlib import Path

import numpy as np

from . import predict

STATIC = Path(__file__).with_name("static")
MAX_UPLOAD_BYTES = 10 * 2**20
MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo still reads; 20,000 x 20,000 does not
MAX_SIDE = 1_600  # the model sees 28 x 28: a larger picture is shrunk before prepare_image
WORKERS = 2  # pictures decoded and predicted at once (the course's 2 cores); the rest queue
QUEUE = 32  # pictures waiting for a turn; one more is told to try again (503) rather than wait
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # what a canvas, a phone or a scanner sends; no TIFF or ICO, whose headers can hide the size
BODY_SECONDS = 30  # an upload that trickles in slower than this is dropped
LOOPBACK = ("127.0.0.1", "localhost", "::1")
NOT_A_PICTURE = "That file is not a picture this page reads: send a photo or scan of one digit as PNG, JPEG, GIF, BMP or WebP."


class Answer(Exception):
    """A request's failure, as the status and sentence the page shows."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Reader:
    """The loaded model and exercise 6's prepare_image: everything a prediction needs.

    With no model file yet, the reader stays up and says how to train one; it
    loads the model as soon as the file appears (after `mnist-course train`)."""

    def __init__(self, model_path: Path = predict.DEFAULT_MODEL, use_exercises: bool = False):
        self.model_path = Path(model_path)
        self.functions = predict.load_functions(use_exercises)  # PredictError: the server cannot start
        # The student's own file when asked, or when there is no reference (a class's starter).
        self.use_exercises = Path(self.functions.__file__).parent.name == "exercises"
        self.reference_elsewhere = self.use_exercises and not use_exercises
        self.model = None
        self.problem = ""
        self._refused = None  # the modification time of a model file that could not be served
        self._loading = threading.Lock()
        self._predicting = threading.Lock()  # one model call at a time: Keras models are not promised thread-safe
        self._try_load()

    def _try_load(self) -> None:
        with self._loading:
            try:
                version = self.model_path.stat().st_mtime_ns
            except OSError:
                version = None
            if self.model is not None or (version is not None and version == self._refused):
                return  # loaded, or this very file was refused already: not loaded again on every request
            self._refused = version
            try:
                model = predict.load_model(self.model_path)
            except predict.PredictError as exc:
                self.problem = str(exc)
                return
            shown = predict._shown(self.model_path)
            try:
                # One 28 x 28 image through it: proves the shapes fit, and builds the compiled
                # predict step now rather than on a student's first stroke.
                output = np.asarray(model.predict_on_batch(np.zeros((1, *model.input_shape[1:]), np.float32)))
                fits = int(np.prod(model.input_shape[1:])) == 28 * 28 and output.shape == (1, 10)
            except Exception:  # noqa: BLE001 - a model of some other shape or kind
                fits = False
            if not fits:
                self.problem = (
                    f"{shown} is not a digit model of this course: it takes {tuple(model.input_shape[1:])} per image, "
                    "where the course's models take 28 x 28 pixels and give 10 probabilities. Pass --model PATH of one."
                )
                return
            self.model, self.problem, self._refused = model, "", None

    def info(self) -> dict:
        """What the page says about the model: JSON-ready."""
        if self.model is None:
            self._try_load()
        module = "your exercises/ex06_real_use.py" if self.use_exercises else "the reference solution"
        info = {
            "path": predict._shown(self.model_path),
            "prepare_image": module,
            "loaded": self.model is not None,
            "max_upload_bytes": MAX_UPLOAD_BYTES,
        }
        if self.model is None:
            info["problem"] = self.problem  # says how to train one, or why this file cannot be served
            return info
        info.update(name=self.model.name, params=int(self.model.count_params()), input_shape=list(self.model.input_shape[1:]))
        record_path = predict.training_record_path(self.model_path)
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            info["record"] = {key: record[key] for key in ("test_accuracy", "test_images", "data", "epochs", "seed", "train_seconds") if key in record}
        except (OSError, ValueError, TypeError):
            info["record"] = None  # a model saved some other way: no figures to show, and the page says so
        return info

    def read(self, data: bytes) -> dict:
        """The answer to one picture. Raises Answer for anything the student should be told."""
        if self.model is None:
            self._try_load()
            if self.model is None:
                raise Answer(503, self.problem)
        try:
            image = predict.decode_image(data, "the picture", max_side=MAX_SIDE, max_pixels=MAX_PIXELS, formats=FORMATS)
        except predict.ImageTooLarge as exc:
            raise Answer(413, f"{exc}.") from None
        except predict.NotAnImage:
            raise Answer(415, NOT_A_PICTURE) from None
        except OSError as exc:
            raise Answer(415, f"{exc}.") from None
        where = "your prepare_image() in exercises/ex06_real_use.py" if self.use_exercises else "prepare_image()"
        try:
            prepared = self.functions.prepare_image(image)
        except NotImplementedError:
            other = "" if self.reference_elsewhere else ", or serve without --use-exercises"
            raise Answer(501, f"{where} is not written yet: finish it and grade it with `grader ex06`{other}.") from None
        except ValueError as exc:
            if "no digit" in str(exc):
                raise Answer(422, "Draw a digit first: the picture is blank (no stroke is clearly darker than the paper).") from None
            raise Answer(422, f"{where} refused the picture: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a student's bug is this request's answer, not the server's end
            raise Answer(500, f"{where} raised {type(exc).__name__}: {exc}") from None
        prepared = np.asarray(prepared, dtype=np.float32) if _numeric(prepared) else None
        if prepared is None or prepared.shape != (28, 28) or not np.isfinite(prepared).all():
            raise Answer(500, f"{where} must return a 28 x 28 array of numbers in 0..1 (see exercise 6); it returned something else.")
        batch = (prepared * 255).reshape((1, *self.model.input_shape[1:]))  # the course's models take raw pixels 0..255
        with self._predicting:
            # predict_on_batch runs Keras's compiled predict step: about 3 times faster here than calling the model eagerly.
            probabilities = np.asarray(self.model.predict_on_batch(batch), dtype=np.float64)[0]
        digit = int(probabilities.argmax())
        return {
            "digit": digit,
            "confidence": float(probabilities[digit]),
            "probabilities": [round(float(p), 6) for p in probabilities],
            "prepared": np.round(prepared, 3).tolist(),
        }


def form_picture(body: bytes, content_type: str) -> bytes:
    """The first file of a multipart/form-data body (what `curl -F file=@digit.png` and an
    HTML form send), else its first field. Raises Answer when there is none."""
    found = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', content_type, flags=re.IGNORECASE)
    if not found:
        raise Answer(400, "A multipart upload without its boundary: send it as curl -F file=@digit.png does.")
    delimiter = b"--" + (found.group(1) or found.group(2)).encode("latin-1")
    fields = []
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        head, separator, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            continue
        disposition = next((line for line in head.decode("latin-1").split("\r\n") if line.lower().startswith("content-disposition:")), "")
        fields.append(("filename=" in disposition.lower(), content.removesuffix(b"\r\n")))
    files = [content for is_file, content in fields if is_file] or [content for _, content in fields]
    if not files or not files[0]:
        raise Answer(400, "The form carried no picture: send it as a file field, as curl -F file=@digit.png does.")
    return files[0]


def _numeric(value) -> bool:
    try:
        return np.asarray(value).dtype.kind in "biuf"
    except Exception:  # noqa: BLE001 - whatever prepare_image returned, it is not an array of numbers
        return False


def create_app(model_path: Path = predict.DEFAULT_MODEL, use_exercises: bool = False, open_to_network: bool = False):
    """The Starlette application: the page, its assets, /model and /predict. `open_to_network`
    (serve --host with an address other than this machine's loopback) accepts any Host name,
    as a JupyterHub's proxy or another machine sends; otherwise only this machine's own."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import ClientDisconnect
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    reader = Reader(model_path, use_exercises)
    turns = asyncio.Semaphore(WORKERS)
    waiting = 0

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def page(request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def model(request):
        return JSONResponse(await run_in_threadpool(reader.info))

    def from_elsewhere(request) -> bool:
        """A request another web site's page made in the student's browser."""
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return True
        origin = request.headers.get("origin")
        return origin is not None and origin.split("://", 1)[-1] != request.headers.get("host")

    async def read_body(request) -> bytes | None:
        """The upload, or None once it passes MAX_UPLOAD_BYTES."""
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPLOAD_BYTES:  # a body sent without a length, or longer than it said
                return None
        return bytes(body)

    async def predict_picture(request):
        nonlocal waiting
        if from_elsewhere(request):
            return error(403, "This page only answers itself: open http://127.0.0.1 in your own browser tab.")
        content_type = request.headers.get("content-type", "")
        kind = content_type.split(";")[0].strip().lower()
        form = kind == "multipart/form-data"
        if not (kind.startswith("image/") or kind == "application/octet-stream" or form):
            return error(
                415,
                f"This request was sent as {kind or 'no Content-Type'}, which is not a picture: send the picture as a file "
                "in a multipart form (curl -F file=@digit.png .../predict) or as its bytes with an image Content-Type "
                "(image/png, image/jpeg, ...).",
            )
        too_large = f"The upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB: a photo of one digit needs far less (crop it, or save it as JPEG)."
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            return error(413, too_large)  # refused from the headers, before a byte of the body is read
        try:
            body = await asyncio.wait_for(read_body(request), BODY_SECONDS)
        except asyncio.TimeoutError:
            return error(408, f"The upload took over {BODY_SECONDS} s to arrive: try again, or a smaller picture.")
        except ClientDisconnect:
            return error(400, "The upload was cut off.")  # nobody is left to read it; nothing to log
        if body is None:
            return error(413, too_large)
        if form:
            try:
                body = form_picture(body, content_type)
            except Answer as exc:
                return error(exc.status, exc.message)
        if not body:
            return error(400, "Draw a digit first, or choose a picture to upload: the request carried no picture.")
        if waiting >= QUEUE:
            return error(503, "The server is busy with other pictures: try again in a moment.")
        started = time.perf_counter()  # the wait for a turn counts: it is what the student waits
        waiting += 1
        try:
            await turns.acquire()
        finally:
            waiting -= 1
        try:
            if await request.is_disconnected():  # the page went away while this waited
                return error(400, "The page went away before its turn.")
            answer = await run_in_threadpool(reader.read, body)
        except Answer as exc:
            return error(exc.status, exc.message)
        finally:
            turns.release()
        answer["milliseconds"] = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(answer)

    app = Starlette(
        # Only requests addressed to this machine by name: a web page elsewhere that rebinds its
        # own domain name to 127.0.0.1 (DNS rebinding) is refused, since its Host is its domain.
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["*"] if open_to_network else ["127.0.0.1", "localhost", "[::1]"])],
        routes=[
            Route("/", page),
            Route("/model", model),
            Route("/predict", predict_picture, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
    app.state.reader = reader
    return app


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (127.0.0.1, ::1, localhost)."""
    if host.strip("[]") in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, made here so that a busy port is said before anything else."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(model_path: Path = predict.DEFAULT_MODEL, port: int = 8000, host: str = "127.0.0.1", use_exercises: bool = False) -> int:
    """Run the page until Ctrl-C. Returns the exit status."""
    try:
        import uvicorn
    except ImportError:
        print("mnist-course serve needs the app extra: pip install -e '.[app]' (Starlette and uvicorn)")
        return 2
    try:
        sock = bind(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"mnist-course serve: port {port} on {host} is busy: another program (an earlier `mnist-course serve`, "
                f"a notebook server) is using it. Stop that one, or choose another port: mnist-course serve --port {port + 1 if port < 65535 else 8001}"
            )
        else:
            print(f"mnist-course serve: cannot listen on {host} port {port}: {exc.strerror or exc}")
        return 2
    with sock:
        open_to_network = not is_loopback(host)
        try:
            app = create_app(Path(model_path), use_exercises, open_to_network=open_to_network)
        except predict.PredictError as exc:
            print(f"mnist-course serve: {exc}")
            return 2
        info = app.state.reader.info()
        shown = f"{info['path']} ({info['params']:,} parameters)" if info["loaded"] else f"no model yet: {info['problem']}"
        actual = sock.getsockname()[1]
        if open_to_network:
            print(
                f"WARNING: listening on {host}, not only this machine: anyone who can reach port {actual} here can open the page "
                "and send it pictures, and the protection against other web sites' pages is weaker. Use it on a JupyterHub, "
                "Colab or a machine of your own, and stop it (Ctrl-C) when you are done.",
                flush=True,
            )
        where = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host
        print(f"Model: {shown}\nOpen http://{where}:{actual}/ in your browser (Ctrl-C stops the server).", flush=True)
        # limit_concurrency: past 64 open connections uvicorn answers 503 at once instead of holding them all.
        config = uvicorn.Config(app, log_level="warning", limit_concurrency=64)
        uvicorn.Server(config).run(sockets=[sock])
    return 0
