"""Training samples that went through the camera: simulated frames -> firmware preprocessing.

Rendering and preprocessing tens of thousands of frames takes a minute or two, so the
result is cached under build/cache/, keyed by the code of camera_sim.py and
preprocess.py: a change to either algorithm makes a fresh pool.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from pico4ml.train import camera_sim, preprocess
from pico4ml.common.paths import BUILD_DIR

CACHE_DIR = BUILD_DIR / "cache"


def _code_key() -> str:
    h = hashlib.sha256()
    for module in (camera_sim, preprocess):
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()[:12]


def camera_pool(images: np.ndarray, labels: np.ndarray, n: int, seed: int, size: int = 162,
                printed_fraction: float = 0.25, cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """n (28x28 uint8, label) pairs made from `images` (MNIST train digits) and printed digits."""
    data_key = hashlib.sha256(images[: min(len(images), 512)].tobytes()).hexdigest()[:8]
    path = CACHE_DIR / f"camera_pool-{_code_key()}-{data_key}-{len(images)}-{n}-{seed}-{size}-{printed_fraction}.npz"
    if cache and path.exists():
        with np.load(path) as z:
            return z["x"], z["y"]
    t0 = time.perf_counter()
    # seed offset: the pool never reuses the random stream of the benchmark's camera test set
    frames, y = camera_sim.make_camera_set(n, seed + 7919, size, images=images, labels=labels,
                                           printed_fraction=printed_fraction)
    x = preprocess.preprocess_many(frames)
    print(f"camera pool: {n} frames rendered and preprocessed in {time.perf_counter() - t0:.0f} s", flush=True)
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".part.npz")
        np.savez(tmp, x=x, y=y)
        tmp.replace(path)
    return x, y.astype(np.int64)
