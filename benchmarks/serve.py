"""How fast does `mnist-course serve` read a drawing, and how much memory does it hold?

    python benchmarks/serve.py [--model models/mnist-cnn.keras] [--requests 300] [--data PATH]

Starts the server for real (`python -m mnist_course serve`), then sends it
canvas-like pictures (official test digits drawn dark on white in a 280 x 280
PNG, as the page sends them): one at a time, then from 8 clients at once, then
a few 12-megapixel phone-photo JPEGs. Prints a Markdown table of latency
(median and 95th percentile, as the client waits for it and as the server
spends it) and the server's resident memory (idle after loading, and its peak),
which benchmarks/SERVE.md records. A benchmark, not a test: timings on a shared
machine are noisy, so run it on a quiet one.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from mnist_course.data import load_mnist  # noqa: E402
from mnist_course.predict import DEFAULT_MODEL  # noqa: E402
from test_serve import on_paper, post, running_server  # noqa: E402  the tests' way of starting and asking the server


def canvas_png(digit: np.ndarray) -> bytes:
    """A test digit as the page's canvas sends it: 280 x 280 RGBA PNG, dark on white."""
    gray = on_paper(digit, 280)
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([gray, gray, gray, np.full_like(gray, 255)])).save(buffer, format="PNG")
    return buffer.getvalue()


def photo_jpeg(digit: np.ndarray) -> bytes:
    """A 12-megapixel phone photo of a digit on grey paper (4,000 x 3,000 JPEG)."""
    page = np.full((3000, 4000), 200, np.uint8)
    page[900:2100, 1400:2600] = (on_paper(digit, 1200).astype(np.float32) * 200 / 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(page).convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def server_pid(port: str) -> int:
    """The process of `mnist-course serve --port PORT`, found by its command line."""
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and port.encode() in argv:
            return int(entry.name)
    raise SystemExit(f"no server process on port {port}")


def memory_mib(pid: int) -> dict[str, float]:
    """The server's resident memory now (VmRSS) and at its peak (VmHWM), from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def timed(base: str, body: bytes) -> tuple[float, float]:
    """(client milliseconds, server milliseconds) for one picture."""
    started = time.perf_counter()
    status, answer = post(base, body)
    client = (time.perf_counter() - started) * 1000
    if status != 200:
        raise SystemExit(f"the server answered {status}: {answer}")
    return client, answer["milliseconds"]


def row(name: str, times: list[tuple[float, float]], wall: float | None = None) -> str:
    client, server = zip(*times)
    p95 = lambda values: float(np.percentile(values, 95))  # noqa: E731
    rate = f"{len(times) / wall:.0f}" if wall else ""
    return (
        f"| {name} | {len(times)} | {statistics.median(client):.1f} | {p95(client):.1f} | "
        f"{statistics.median(server):.1f} | {p95(server):.1f} | {rate} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--data", default=None)
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"no model at {args.model}: train one with `mnist-course train`", file=sys.stderr)
        return 2
    mnist = load_mnist(args.data)
    canvases = [canvas_png(digit) for digit in mnist.x_test[: args.requests]]
    photos = [photo_jpeg(digit) for digit in mnist.x_test[:10]]

    with running_server(args.model) as base:
        pid = server_pid(base.rsplit(":", 1)[1])
        for body in canvases[:20]:  # warm up: the first calls build Keras's graph
            timed(base, body)
        idle = memory_mib(pid)
        one_at_a_time = [timed(base, body) for body in canvases]
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            eight_at_once = list(pool.map(lambda body: timed(base, body), canvases))
        wall = time.perf_counter() - started
        phone = [timed(base, body) for body in photos]
        after = memory_mib(pid)

    cores = len(os.sched_getaffinity(0))
    print(f"`{args.model.name}` on {platform.machine()}, {cores} CPU cores, Python {platform.python_version()}\n")
    print("| pictures | requests | client median ms | client p95 ms | server median ms | server p95 ms | per second |")
    print("|---|---|---|---|---|---|---|")
    print(row("280 x 280 canvas PNG, one at a time", one_at_a_time))
    print(row("280 x 280 canvas PNG, 8 clients at once", eight_at_once, wall))
    print(row("4,000 x 3,000 phone JPEG, one at a time", phone))
    print(f"\nServer memory (resident): {idle['VmRSS']:.0f} MiB loaded and warm, {after['VmRSS']:.0f} MiB after the runs, peak {after['VmHWM']:.0f} MiB.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
