"""MNIST from IDX files: find them, verify them, download them when allowed.

Looks in, in order: the directory given, $PICO4ML_MNIST_DIR, ../shared/data/mnist next
to the repository, and a per-user cache (downloaded there on request). Files may be
gzipped or not. Hashes are checked on the decompressed bytes, so a recompressed .gz
is still accepted.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
from pathlib import Path

import numpy as np

from pico4ml.common.paths import REPO_ROOT

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# sha256 of the decompressed IDX files
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
SHARED_DIR = REPO_ROOT.parent / "shared" / "data" / "mnist"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pico4ml" / "mnist"


class MnistError(RuntimeError):
    """MNIST files are missing, truncated or not what they claim to be."""


def _candidates(data_dir: str | Path | None) -> list[Path]:
    if data_dir is not None:
        return [Path(data_dir)]  # an explicit choice is never second-guessed
    dirs = []
    if os.environ.get("PICO4ML_MNIST_DIR"):
        dirs.append(Path(os.environ["PICO4ML_MNIST_DIR"]))
    return dirs + [SHARED_DIR, CACHE_DIR]


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def find_mnist_dir(data_dir: str | Path | None = None) -> Path:
    """The first candidate directory that holds all four files."""
    tried = _candidates(data_dir)
    for d in tried:
        if all(_find(d, stem) for stem in FILES.values()):
            return d
    raise MnistError("MNIST not found in " + ", ".join(str(d) for d in tried)
                     + ". Pass --data-dir, set PICO4ML_MNIST_DIR, or run `pico4ml-train --download`.")


def _read_verified(path: Path, stem: str, verify: bool) -> bytes:
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise MnistError(f"{path}: cannot read ({e}); delete it and download again") from e
    if verify and hashlib.sha256(data).hexdigest() != SHA256[stem]:
        raise MnistError(f"{path}: checksum mismatch (corrupt or not MNIST); delete it and download again")
    return data


def parse_idx(data: bytes, name: str = "IDX") -> np.ndarray:
    """Parse an IDX buffer of unsigned bytes (MNIST's type 0x08)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise MnistError(f"{name}: not an IDX file of unsigned bytes")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise MnistError(f"{name}: truncated header")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape))
    if len(data) - header != count:
        raise MnistError(f"{name}: expected {count} bytes of data for shape {shape}, found {len(data) - header}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def download_mnist(dest: Path = CACHE_DIR) -> Path:
    """Download the four files into dest, verifying each before it is kept."""
    dest.mkdir(parents=True, exist_ok=True)
    for stem in FILES.values():
        target = dest / (stem + ".gz")
        if target.exists():
            continue
        url = MIRROR + stem + ".gz"
        print(f"downloading {url}")
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                raw = r.read()
        except OSError as e:
            raise MnistError(f"download of {url} failed: {e}") from e
        data = gzip.decompress(raw)
        if hashlib.sha256(data).hexdigest() != SHA256[stem]:
            raise MnistError(f"{url}: checksum mismatch, not saved")
        tmp = target.with_suffix(".part")
        tmp.write_bytes(raw)
        tmp.replace(target)
    return dest


def load_mnist(data_dir: str | Path | None = None, verify: bool = True, download: bool = False
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train [60000,28,28] u8, y_train, x_test [10000,28,28] u8, y_test), white ink on black."""
    try:
        directory = find_mnist_dir(data_dir)
    except MnistError:
        if not download:
            raise
        directory = download_mnist()
    arrays = {}
    for key, stem in FILES.items():
        path = _find(directory, stem)
        arrays[key] = parse_idx(_read_verified(path, stem, verify), str(path))
    for split in ("train", "test"):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y):
            raise MnistError(f"{directory}: {split} images {x.shape} and labels {y.shape} do not match MNIST")
    return arrays["train_images"], arrays["train_labels"], arrays["test_images"], arrays["test_labels"]
