"""Tests for fastnn.datasets: real MNIST, synthetic IDX files, and downloads from a loopback server."""

import gzip
import hashlib
import http.server
import os
import pathlib
import struct
import threading

import numpy as np
import pytest

from fastnn.datasets import _download, _idx, fashion_mnist, mnist

FILES = mnist.FILES
TRAIN_IMAGES, TRAIN_LABELS = FILES["x_train"], FILES["y_train"]
DEFAULT_DATA_DIR = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


# ---------------------------------------------------------------- helpers


def idx_bytes(array, magic=None):
    """Encode a uint8 array as IDX bytes (magic 2051 for images, 2049 for labels unless given)."""
    magic = magic if magic is not None else (2051 if array.ndim == 3 else 2049)
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


def gz(raw):
    """Compress deterministically, so a digest of the .gz is stable."""
    return gzip.compress(raw, mtime=0)


def write(folder, raws):
    """Write {filename: raw IDX bytes} into `folder` as .gz files; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in raws.items():
        (folder / name).write_bytes(gz(raw))
    return folder


def digests(raws, covers="raw"):
    """Return a HASHES table for these raw files, over raw or gz bytes."""
    data = {name: raw if covers == "raw" else gz(raw) for name, raw in raws.items()}
    return {name: _idx.Digest("sha256", covers, hashlib.sha256(b).hexdigest()) for name, b in data.items()}


def make_set(seed, n_train=6, n_test=4):
    """Return (arrays by role, raw IDX bytes by filename) of a small random dataset."""
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    return arrays, {FILES[role]: idx_bytes(a) for role, a in arrays.items()}


def assert_loaded(result, arrays):
    """Check a load_data result against the arrays the files were made from."""
    (x_train, y_train), (x_test, y_test) = result
    for got, role in ((x_train, "x_train"), (y_train, "y_train"), (x_test, "x_test"), (y_test, "y_test")):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[role])


# ---------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def no_real_mirrors(monkeypatch):
    """Never reach the internet from tests: any unexpected download fails at once."""
    monkeypatch.setattr(mnist, "MIRRORS", [])
    monkeypatch.setattr(fashion_mnist, "MIRRORS", [])
    monkeypatch.setattr(_download, "TIMEOUT_S", 5.0)


@pytest.fixture(scope="module")
def synth():
    """A small synthetic dataset: (arrays by role, raw IDX bytes by filename)."""
    return make_set(seed=0)


@pytest.fixture
def isolated(tmp_path, monkeypatch, synth):
    """Empty user cache under tmp_path, no $FASTNN_DATA_DIR, hashes of the synthetic set."""
    monkeypatch.delenv("FASTNN_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(mnist, "HASHES", digests(synth[1]))
    return tmp_path


@pytest.fixture(scope="module")
def server(tmp_path_factory, synth):
    """Loopback HTTP mirrors: good/, bad/ (other bytes), trunc/ (cut gzip), short/ (cut transfer)."""
    root = tmp_path_factory.mktemp("www")
    raws = synth[1]
    write(root / "good", raws)
    write(root / "bad", make_set(seed=1)[1])
    (root / "trunc").mkdir()
    for name, raw in raws.items():
        (root / "trunc" / name).write_bytes(gz(raw)[: len(gz(raw)) // 2])
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            hits.append(self.path)
            if not self.path.startswith("/short/"):
                return super().do_GET()
            body = (root / "good" / self.path.split("/")[-1]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])  # then the connection closes early

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def mirrors(server, isolated, monkeypatch):
    """Return a function that points mnist's mirror list at named folders of the loopback server."""
    url, hits = server
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    hits.clear()

    def point(*names):
        monkeypatch.setattr(mnist, "MIRRORS", [f"{url}/{n}/" for n in names])
        return hits

    return point


@pytest.fixture(scope="module")
def real_mnist():
    """Real MNIST from $FASTNN_DATA_DIR (default ../shared/datasets), loaded once for the module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FASTNN_DATA_DIR", os.environ.get("FASTNN_DATA_DIR") or str(DEFAULT_DATA_DIR))
        return mnist.load_data()


# ---------------------------------------------------------------- real MNIST


def test_real_mnist_shapes_and_dtypes(real_mnist):
    (x_train, y_train), (x_test, y_test) = real_mnist
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert x_train.max() == 255 and x_train.min() == 0


def test_real_mnist_label_counts(real_mnist):
    (_, y_train), (_, y_test) = real_mnist
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_mnist_arrays_are_writable(real_mnist):
    assert all(a.flags.writeable for pair in real_mnist for a in pair)


# ---------------------------------------------------------------- synthetic files, lookup order


def test_explicit_path_loads_good_files(isolated, synth):
    folder = write(isolated / "data", synth[1])
    assert_loaded(mnist.load_data(folder), synth[0])  # a pathlib.Path
    assert_loaded(mnist.load_data(str(folder)), synth[0])


def test_env_dir_then_cache(isolated, synth, monkeypatch):
    write(isolated / "cache" / "fastnn" / "mnist", synth[1])
    assert_loaded(mnist.load_data(), synth[0])  # only the cache holds the files
    other_arrays, other_raws = make_set(seed=2)
    write(isolated / "env" / "mnist", other_raws)
    monkeypatch.setenv("FASTNN_DATA_DIR", str(isolated / "env"))
    monkeypatch.setattr(mnist, "HASHES", {**digests(synth[1]), **digests(other_raws)})
    assert_loaded(mnist.load_data(), other_arrays)  # $FASTNN_DATA_DIR wins over the cache


def test_home_cache_used_without_xdg(isolated, synth, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    write(isolated / "home" / ".cache" / "fastnn" / "mnist", synth[1])
    assert_loaded(mnist.load_data(), synth[0])


def test_incomplete_env_dir_is_not_found(isolated, synth, monkeypatch):
    write(isolated / "env" / "mnist", {TRAIN_IMAGES: synth[1][TRAIN_IMAGES]})
    write(isolated / "cache" / "fastnn" / "mnist", synth[1])
    monkeypatch.setenv("FASTNN_DATA_DIR", str(isolated / "env"))
    assert_loaded(mnist.load_data(), synth[0])


def test_wrong_file_in_env_dir_is_an_error_not_skipped(isolated, synth, monkeypatch):
    wrong = make_set(seed=3)[1][TRAIN_LABELS]
    env_folder = write(isolated / "env" / "mnist", {**synth[1], TRAIN_LABELS: wrong})
    write(isolated / "cache" / "fastnn" / "mnist", synth[1])  # a good copy that must not be used
    monkeypatch.setenv("FASTNN_DATA_DIR", str(isolated / "env"))
    with pytest.raises(ValueError, match="sha256") as info:
        mnist.load_data()
    assert str(env_folder / TRAIN_LABELS) in str(info.value)


def test_wrong_hash_names_file_expected_and_received(isolated, synth):
    raws = {**synth[1], TRAIN_IMAGES: idx_bytes(np.zeros((6, 28, 28), np.uint8))}
    folder = write(isolated / "data", raws)
    with pytest.raises(ValueError) as info:
        mnist.load_data(folder)
    message = str(info.value)
    assert str(folder / TRAIN_IMAGES) in message
    assert mnist.HASHES[TRAIN_IMAGES].hexdigest in message
    assert hashlib.sha256(raws[TRAIN_IMAGES]).hexdigest() in message


def test_wrong_magic(isolated, synth, monkeypatch):
    raws = {**synth[1], TRAIN_LABELS: idx_bytes(synth[0]["y_train"], magic=2051)}
    monkeypatch.setattr(mnist, "HASHES", digests(raws))
    folder = write(isolated / "data", raws)
    with pytest.raises(ValueError, match=r"magic number for labels: expected 2049, received 2051") as info:
        mnist.load_data(folder)
    assert str(folder / TRAIN_LABELS) in str(info.value)


def test_truncated_gzip(isolated, synth):
    folder = write(isolated / "data", synth[1])
    path = folder / TRAIN_IMAGES
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="not a complete gzip stream") as info:
        mnist.load_data(folder)
    assert str(path) in str(info.value)


def test_header_count_disagrees_with_data(isolated, synth, monkeypatch):
    raw = bytearray(synth[1][TRAIN_IMAGES])
    raw[4:8] = struct.pack(">I", 7)  # header claims 7 images, data holds 6
    raws = {**synth[1], TRAIN_IMAGES: bytes(raw)}
    monkeypatch.setattr(mnist, "HASHES", digests(raws))
    with pytest.raises(ValueError, match=r"expected 5488 bytes .* received 4704") as info:
        mnist.load_data(write(isolated / "data", raws))
    assert TRAIN_IMAGES in str(info.value)


def test_image_and_label_counts_disagree(isolated, synth, monkeypatch):
    raws = {**synth[1], TRAIN_LABELS: idx_bytes(synth[0]["y_train"][:5])}
    monkeypatch.setattr(mnist, "HASHES", digests(raws))
    with pytest.raises(ValueError, match="6 images .* 5 labels") as info:
        mnist.load_data(write(isolated / "data", raws))
    assert TRAIN_IMAGES in str(info.value) and TRAIN_LABELS in str(info.value)


@pytest.mark.parametrize(
    "raw", [b"\x00\x00\x08\x03\x00", idx_bytes(np.zeros((2, 27, 28), np.uint8))], ids=["short", "27x28"]
)
def test_bad_image_header(isolated, synth, monkeypatch, raw):
    raws = {**synth[1], TRAIN_IMAGES: raw}
    monkeypatch.setattr(mnist, "HASHES", digests(raws))
    with pytest.raises(ValueError, match=TRAIN_IMAGES):
        mnist.load_data(write(isolated / "data", raws))


def test_explicit_path_with_missing_files(isolated, synth, mirrors):
    hits = mirrors("good")
    folder = write(isolated / "data", {TRAIN_IMAGES: synth[1][TRAIN_IMAGES]})
    with pytest.raises(FileNotFoundError) as info:
        mnist.load_data(folder)
    message = str(info.value)
    assert str(folder) in message and TRAIN_LABELS in message and FILES["y_test"] in message
    assert hits == []  # an explicit path never downloads


def test_explicit_path_not_a_folder(isolated):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        mnist.load_data(isolated / "nowhere")


@pytest.mark.parametrize("path", [123, b"/tmp", ["/tmp"]])
def test_path_of_wrong_type(path):
    with pytest.raises(TypeError, match="path="):
        mnist.load_data(path)


def test_bad_verbose(isolated):
    with pytest.raises(ValueError, match="verbose="):
        mnist.load_data(verbose="loud")


def test_digest_rejects_unknown_coverage():
    with pytest.raises(ValueError, match="covers"):
        _idx.Digest("sha256", "zip", "00")


# ---------------------------------------------------------------- downloads


def cache_files(isolated):
    """Return the names in the mnist cache folder (hidden partial files included)."""
    folder = isolated / "cache" / "fastnn" / "mnist"
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def test_download_lands_verified_in_cache(isolated, synth, mirrors):
    hits = mirrors("good")
    assert_loaded(mnist.load_data(), synth[0])
    assert cache_files(isolated) == sorted(FILES.values())
    assert len(hits) == 4
    assert_loaded(mnist.load_data(), synth[0])  # second call: from the cache
    assert len(hits) == 4


@pytest.mark.parametrize("first", ["trunc", "bad", "short", "missing"])
def test_bad_first_mirror_falls_through(isolated, synth, mirrors, first):
    hits = mirrors(first, "good")
    assert_loaded(mnist.load_data(), synth[0])
    assert cache_files(isolated) == sorted(FILES.values())
    assert [h.split("/")[1] for h in hits] == [first, "good"] * 4


def test_all_mirrors_bad_raises_and_leaves_nothing(isolated, mirrors):
    mirrors("bad", "trunc", "short", "missing")
    with pytest.raises(_download.DownloadError) as info:
        mnist.load_data()
    message = str(info.value)
    for name in ("bad", "trunc", "short", "missing"):
        assert f"/{name}/{TRAIN_IMAGES}" in message
    assert "sha256" in message and "gzip" in message and "404" in message
    assert "expected" in message and "received" in message
    assert isinstance(info.value, OSError)
    assert cache_files(isolated) == []


def test_no_files_and_no_mirror_names_the_places_searched(isolated, monkeypatch):
    monkeypatch.setenv("FASTNN_DATA_DIR", str(isolated / "env"))
    with pytest.raises(_download.DownloadError) as info:
        mnist.load_data()
    message = str(info.value)
    assert str(isolated / "env" / "mnist") in message and "mirror list is empty" in message
    assert str(isolated / "cache" / "fastnn" / "mnist") in message


def test_only_missing_files_are_downloaded(isolated, synth, mirrors):
    hits = mirrors("good")
    write(isolated / "cache" / "fastnn" / "mnist", {k: v for k, v in synth[1].items() if k != TRAIN_LABELS})
    assert_loaded(mnist.load_data(), synth[0])
    assert hits == [f"/good/{TRAIN_LABELS}"]


def test_wrong_file_in_cache_is_an_error_not_redownloaded(isolated, synth, mirrors):
    hits = mirrors("good")
    wrong = make_set(seed=4)[1][TRAIN_IMAGES]
    write(isolated / "cache" / "fastnn" / "mnist", {**synth[1], TRAIN_IMAGES: wrong})
    with pytest.raises(ValueError, match=TRAIN_IMAGES):
        mnist.load_data()
    assert hits == []


def test_verbose_download_shows_progress(isolated, mirrors, capsys):
    mirrors("good")
    mnist.load_data(verbose=True)
    err = capsys.readouterr().err
    assert "Downloading http://127.0.0.1" in err and "(100%)" in err


def test_quiet_download_prints_nothing(isolated, mirrors, capsys):
    mirrors("good")
    mnist.load_data(verbose=False)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------- Fashion-MNIST


def test_fashion_mnist_hash_table_is_published_gz_sha256():
    assert set(fashion_mnist.HASHES) == set(fashion_mnist.FILES.values())
    for digest in fashion_mnist.HASHES.values():
        assert (digest.algorithm, digest.covers, len(digest.hexdigest)) == ("sha256", "gz", 64)


def test_fashion_mnist_loads_from_env_dir(isolated, monkeypatch):
    arrays, raws = make_set(seed=5, n_train=3, n_test=2)
    write(isolated / "env" / "fashion_mnist", raws)
    monkeypatch.setenv("FASTNN_DATA_DIR", str(isolated / "env"))
    monkeypatch.setattr(fashion_mnist, "HASHES", digests(raws, covers="gz"))
    assert_loaded(fashion_mnist.load_data(), arrays)


def test_fashion_mnist_wrong_gz_hash(isolated, monkeypatch):
    _, raws = make_set(seed=5, n_train=3, n_test=2)
    folder = write(isolated / "data", raws)
    zero = _idx.Digest("sha256", "gz", "0" * 64)
    monkeypatch.setattr(fashion_mnist, "HASHES", {**digests(raws, covers="gz"), TRAIN_LABELS: zero})
    with pytest.raises(ValueError, match="sha256 check of the gzip file: expected 0{64}") as info:
        fashion_mnist.load_data(folder)
    assert str(folder / TRAIN_LABELS) in str(info.value)
