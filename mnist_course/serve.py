"""`mnist-course serve`: draw a digit in the browser and watch a trained model read it.

A Starlette application served by uvicorn on 127.0.0.1 (the `.[app]` extra).
The page and its script and style live in mnist_course/static/ and are served
from here, so it works offline. One JSON endpoint does the work:

    POST /predict   body: the picture's bytes (PNG, JPEG, ...: the canvas, or an upload)
    -> 200 {"digit", "confidence", "probabilities": [10], "prepared": 28 rows of 28 values in 0..1}
    -> 4xx/5xx {"error": a sentence for the student}

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
from another site (Origin and Sec-Fetch-Site), and must carry an image type,
which a page elsewhere cannot send without the browser asking first.
"""

from __future__ import annotations

import asyncio
import json
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
        self.use_exercises = use_exercises
        self.functions = predict.load_functions(use_exercises)  # PredictError: the server cannot start
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
        except OSError as exc:
            raise Answer(415, f"{exc}.") from None
        where = "your prepare_image() in exercises/ex06_real_use.py" if self.use_exercises else "prepare_image()"
        try:
            prepared = self.functions.prepare_image(image)
        except NotImplementedError:
            raise Answer(501, f"{where} is not written yet: finish it and grade it with `grader ex06`, or serve without --use-exercises.") from None
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


def _numeric(value) -> bool:
    try:
        return np.asarray(value).dtype.kind in "biuf"
    except Exception:  # noqa: BLE001 - whatever prepare_image returned, it is not an array of numbers
        return False


def create_app(model_path: Path = predict.DEFAULT_MODEL, use_exercises: bool = False):
    """The Starlette application: the page, its assets, /model and /predict."""
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
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not (kind.startswith("image/") or kind == "application/octet-stream"):
            return error(415, f"Send the picture's own bytes with an image Content-Type (image/png, image/jpeg, ...), not {kind or 'none'}.")
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
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "[::1]"])],
        routes=[
            Route("/", page),
            Route("/model", model),
            Route("/predict", predict_picture, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
    app.state.reader = reader
    return app


def serve(model_path: Path = predict.DEFAULT_MODEL, port: int = 8000, host: str = "127.0.0.1", use_exercises: bool = False) -> int:
    """Run the page until Ctrl-C. Returns the exit status."""
    try:
        import uvicorn
    except ImportError:
        print("mnist-course serve needs the app extra: pip install -e '.[app]' (Starlette and uvicorn)")
        return 2
    try:
        app = create_app(Path(model_path), use_exercises)
    except predict.PredictError as exc:
        print(f"mnist-course serve: {exc}")
        return 2
    info = app.state.reader.info()
    shown = f"{info['path']} ({info['params']:,} parameters)" if info["loaded"] else f"no model yet: {info['problem']}"
    print(f"Model: {shown}\nOpen http://{host}:{port}/ in your browser (Ctrl-C stops the server).", flush=True)
    # limit_concurrency: past 64 open connections uvicorn answers 503 at once instead of holding them all.
    uvicorn.run(app, host=host, port=port, log_level="warning", limit_concurrency=64)
    return 0

