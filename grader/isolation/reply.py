"""What comes back from a worker: only plain data crosses.

A worker answers a call with one JSON line that describes its result, and
writes each array (`.npy`, never pickle) or Keras model (`.keras`) it names
into the call's own folder. `decode` turns that description into values the
grader can use: arrays, scalars, strings, lists, tuples and dicts of those,
an `Opaque` description of anything else, a `SavedModel` copied out of the
worker's reach, a `CallbackSpec`. The description is the worker's, so it is
not believed: a `Budget` bounds what one result may claim (items, nesting,
bytes, each file once, only plain names inside the call's folder, opened
without following a link), and every string is cleaned for printing.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .safe_files import clean_text, plain_name, read_regular
from ..feedback import Opaque  # a value that is not plain data: described on the ground floor, where messages use it

MAX_ARRAY_FILE = 256 << 20  # bytes per returned array
MAX_RESULT_BYTES = 512 << 20  # bytes of arrays per result
MAX_ITEMS, MAX_DEPTH = 512, 4  # values per result, nesting (the worker sends at most 16 per list, 3 deep)
MAX_MODEL_FILE = 64 << 20  # bytes of a returned .keras file (16 million float32 weights)


@dataclass
class SavedModel:
    """A returned Keras model: the .keras file Keras wrote, copied where the
    student's code cannot reach it. Load it only with safe_mode=True."""

    path: Path
    size: int


@dataclass
class CallbackSpec:
    """A returned Keras callback: its class and the constructor arguments it kept."""

    class_name: str
    module: str
    config: dict


class Budget:
    """What one result may claim: each file once, bounded items, depth and bytes.

    The call's folder is opened once, without following a link (the worker
    could have put one in its place, to the course or /etc), and every file a
    result names is opened relative to it, by a plain name."""

    def __init__(self, folder: Path, keep: Path, dir_fd: int | None = None):
        self.folder, self.files, self.items, self.bytes = folder, set(), 0, 0
        self.keep = keep  # where returned model files are copied, out of the worker's reach
        self.dir_fd = dir_fd  # the worker's writable area, opened once (its folder, or its tmpfs inside the sandbox)
        where = folder.name if dir_fd is not None else folder
        self.fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0), dir_fd=dir_fd)

    def close(self) -> None:
        """Remove the files claimed (by name, in the folder opened) and the folder if it is empty."""
        for name in self.files:
            try:
                os.unlink(name, dir_fd=self.fd)
            except OSError:
                pass
        os.close(self.fd)
        try:  # never follows a link; what else the worker left goes with its folder
            if self.dir_fd is not None:
                os.rmdir(self.folder.name, dir_fd=self.dir_fd)
            else:
                os.rmdir(self.folder)
        except OSError:
            pass


def _claim(node: dict, budget: Budget, suffix: str, limit: int) -> bytes | None:
    """The bytes of the file a result names: inside this call's folder, of the
    right kind, claimed once; None if it is larger than `limit`."""
    path = Path(str(node.get("file", "")))
    if path.parent != budget.folder or path.suffix != suffix or path.name in budget.files or not plain_name(path.name):
        raise ValueError("malformed result")
    budget.files.add(path.name)
    try:
        data = read_regular(Path(path.name), limit, dir_fd=budget.fd)
    except ValueError:
        return None
    except OSError:
        raise ValueError("malformed result") from None
    budget.bytes += len(data)
    return data


def decode(node: Any, budget: Budget, depth: int = 0) -> Any:
    """The value a result's description `node` stands for, its files claimed
    from `budget`; ValueError for anything the worker's runner never writes."""
    budget.items += 1
    if not isinstance(node, dict) or depth > MAX_DEPTH or budget.items > MAX_ITEMS:
        raise ValueError("malformed result")
    kind = node.get("kind")
    if kind == "ndarray":
        data = _claim(node, budget, ".npy", MAX_ARRAY_FILE)
        if data is None or budget.bytes > MAX_RESULT_BYTES:
            return Opaque(f"an array larger than the grader accepts ({MAX_ARRAY_FILE >> 20} MiB, {MAX_RESULT_BYTES >> 20} MiB per result)")
        array = np.load(io.BytesIO(data), allow_pickle=False)
        return array[()] if node.get("scalar") else array
    if kind == "none":
        return None
    if kind == "scalar":
        value = node.get("value")
        if isinstance(value, str):
            return clean_text(value, 2000)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        raise ValueError("malformed result")
    if kind in ("list", "tuple"):
        items = [decode(item, budget, depth + 1) for item in node.get("items", [])]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict" and isinstance(node.get("items"), dict):
        return {clean_text(k, 100): decode(v, budget, depth + 1) for k, v in node["items"].items()}
    if kind == "keras_model":
        data = _claim(node, budget, ".keras", MAX_MODEL_FILE)
        if data is None:
            return Opaque(f"a Keras model whose file is larger than the grader accepts ({MAX_MODEL_FILE >> 20} MiB)")
        kept = Path(tempfile.mkdtemp(prefix="model-", dir=budget.keep)) / "model.keras"
        kept.write_bytes(data)
        return SavedModel(kept, len(data))
    if kind == "callback":
        config = node.get("config")
        if not isinstance(config, dict):
            raise ValueError("malformed result")
        plain = {
            clean_text(k, 100): clean_text(v, 100) if isinstance(v, str) else v
            for k, v in config.items()
            if isinstance(v, (bool, int, float, str)) or v is None
        }
        return CallbackSpec(clean_text(node.get("class", ""), 100), clean_text(node.get("module", ""), 200), plain)
    length = node.get("length")
    length = length if type(length) is int and 0 <= length < 1 << 62 else None  # printed in messages: a number or nothing
    return Opaque(f"an object of type {clean_text(str(node.get('type', 'unknown')), 200)}", length)
