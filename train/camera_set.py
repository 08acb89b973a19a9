"""The simulated CAMERA TEST SET: what the benchmark's >= 95 % accuracy is measured on.

Handwritten digits from the MNIST *test* split (never seen in training) and printed
digits, rendered by camera_sim at the sensor's full 324x324 with a fixed seed, so every
run and every machine scores the same frames (printed digits use DejaVu TrueType fonts
when installed, Debian's fonts-dejavu-core, and Hershey stand-ins otherwise: the bench
reports which). Rendered sets are cached under
build/camera_set/ (keyed by the parameters and camera_sim's source).

    python -m pico4ml.train.camera_set --out frames/   # write them as PGM files too
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from pico4ml.train import camera_sim
from pico4ml.common.paths import BUILD_DIR

CAMERA_TEST_SEED = 20261122
CAMERA_TEST_SIZE = 2000
CAMERA_TEST_FRAME = 324
PRINTED_FRACTION = 0.3


def _cache_path(n: int, seed: int, size: int, printed_fraction: float) -> Path:
    h = hashlib.sha256(Path(camera_sim.__file__).read_bytes())
    h.update(f"{n} {seed} {size} {printed_fraction} ttf={camera_sim.ttf_fonts_available()}".encode())
    return BUILD_DIR / "camera_set" / f"camera_test_{n}_{size}_{h.hexdigest()[:12]}.npz"


def camera_test_set(n: int = CAMERA_TEST_SIZE, seed: int = CAMERA_TEST_SEED, size: int = CAMERA_TEST_FRAME,
                    printed_fraction: float = PRINTED_FRACTION, data_dir: str | Path | None = None,
                    cache: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames (n, size, size) uint8, labels (n,) int64, printed (n,) bool)."""
    path = _cache_path(n, seed, size, printed_fraction)
    if cache and path.is_file():
        try:
            with np.load(path) as z:
                return z["frames"], z["labels"], z["printed"]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt below
    from pico4ml.train.data import load_mnist
    _, _, x_test, y_test = load_mnist(data_dir)
    frames, labels, printed = camera_sim.make_camera_set(
        n, seed, size, images=x_test, labels=y_test, printed_fraction=printed_fraction, return_printed=True)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez_compressed(tmp, frames=frames, labels=labels, printed=printed)
        tmp.replace(path)
    return frames, labels, printed


def write_pgm(path: Path, frame: np.ndarray) -> None:
    """Binary 8-bit PGM (P5), the format pico4ml-classify and the host twin read."""
    h, w = frame.shape
    path.write_bytes(f"P5\n{w} {h}\n255\n".encode() + np.ascontiguousarray(frame, np.uint8).tobytes())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Render the simulated camera test set (MNIST test digits "
                                             "+ printed digits as the Pico4ML camera sees them).")
    ap.add_argument("--out", type=Path, required=True, help="directory for <index>_<label>.pgm files")
    ap.add_argument("-n", type=int, default=CAMERA_TEST_SIZE, help="number of frames (default %(default)s)")
    ap.add_argument("--size", type=int, default=CAMERA_TEST_FRAME, help="frame side (default %(default)s)")
    ap.add_argument("--seed", type=int, default=CAMERA_TEST_SEED, help="random seed (default %(default)s)")
    ap.add_argument("--data-dir", help="MNIST directory (default: $PICO4ML_MNIST_DIR, ../shared/data/mnist)")
    args = ap.parse_args(argv)
    if args.n < 1 or args.size < 8:
        ap.error("-n must be >= 1 and --size >= 8")
    frames, labels, printed = camera_test_set(args.n, args.seed, args.size, data_dir=args.data_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "labels.csv", "w") as f:
        f.write("file,label,printed\n")
        for i, (frame, label, pr) in enumerate(zip(frames, labels, printed)):
            name = f"{i:05d}_{label}.pgm"
            write_pgm(args.out / name, frame)
            f.write(f"{name},{label},{int(pr)}\n")
    print(f"wrote {len(frames)} frames to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
