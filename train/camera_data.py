"""Training samples that went through the camera: simulated frames -> firmware preprocessing.

Two pools, chosen by `pico4ml-train --camera-mix`:

* `conditions` (`conditions_pool`, the default): the training frames of issue 8. MNIST *training*
  digits plus the training side's fonts and pen-stroke writers (digit_sources, never
  the bench's), rendered at 324x324 under every digit condition of
  camera_conditions.CONDITIONS (far, close, tilted, ruled, squared, shadow, dim, blur,
  pencil, neighbours, paper_edge, dark_ground) with a larger share of clean frames so
  MNIST-like inputs stay covered, 2x2-binned to the 162x162 the firmware captures, then
  preprocessed by the numpy twin with default parameters. Frames the preprocessing
  rejects (no digit found) or frames on something that is not the digit (its box
  overlaps the simulator's true digit box by IoU < 0.3: a desk corner, a shadow) are
  left out: a crop of a desk corner labelled "7" would only teach the network to guess.
  Their random streams (TRAIN_KEY, seed, condition, index) never meet the bench's
  (TUNE_SEED / TEST_SEED, condition, index).
* junk (`junk_pool`, with `pico4ml-train --junk-frames`): training-side frames of the
  "empty" condition (blank or lined paper, the paper's edge, a speck, fragments of digits)
  that the preprocessing still frames as a digit. The network learns to spread its scores
  evenly over such inputs (outlier exposure), so that their top score falls below
  `min_score_pct` and the board answers "?" instead of a confident digit.
* `clean` (`camera_pool`): the clean-sheet simulator (camera_clean.py) the model before
  issue 8 was trained with, unchanged so that recipe still reproduces.

Rendering and preprocessing tens of thousands of frames takes minutes, so pools are
cached under build/cache/, keyed by the simulator's and the preprocessing's source:
a change to either makes a fresh pool.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from pico4ml.train import camera_clean, preprocess
from pico4ml.common.paths import BUILD_DIR

CACHE_DIR = BUILD_DIR / "cache"
TRAIN_KEY = 0x7EA1_2026          # first word of every training frame's random stream
CLEAN_SHARE = 0.25               # share of the conditions pool that is plain clean sheets


def _code_key() -> str:
    h = hashlib.sha256()
    for module in (camera_clean, preprocess):
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()[:12]


def _save(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".part.npz")
    np.savez(tmp, x=x, y=y)
    tmp.replace(path)


def _load(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        with np.load(path) as z:
            return z["x"], z["y"].astype(np.int64)
    except (OSError, ValueError, KeyError):
        return None      # missing or damaged: rebuilt


def camera_pool(images: np.ndarray, labels: np.ndarray, n: int, seed: int, size: int = 162,
                printed_fraction: float = 0.25, cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The clean pool: n (28x28 uint8, label) pairs from `images` (MNIST train digits) and printed digits."""
    data_key = hashlib.sha256(images[: min(len(images), 512)].tobytes()).hexdigest()[:8]
    path = CACHE_DIR / f"camera_pool-{_code_key()}-{data_key}-{len(images)}-{n}-{seed}-{size}-{printed_fraction}.npz"
    if cache and (hit := _load(path)) is not None:
        return hit
    t0 = time.perf_counter()
    # seed offset: the pool never reuses the random stream of the benchmark's camera test set
    frames, y = camera_clean.make_camera_set(n, seed + 7919, size, images=images, labels=labels,
                                             printed_fraction=printed_fraction)
    x = preprocess.preprocess_many(frames)
    print(f"camera pool: {n} frames rendered and preprocessed in {time.perf_counter() - t0:.0f} s", flush=True)
    if cache:
        _save(path, x, y)
    return x, y.astype(np.int64)


def condition_counts(n: int, clean_share: float = CLEAN_SHARE) -> dict[str, int]:
    """How many of n training frames each digit condition gets."""
    from pico4ml.train.camera_conditions import DIGIT_CONDITIONS
    others = [c for c in DIGIT_CONDITIONS if c != "clean"]
    n_clean = int(round(n * clean_share))
    per, extra = divmod(n - n_clean, len(others))
    counts = {"clean": n_clean}
    counts.update({c: per + (i < extra) for i, c in enumerate(others)})
    return counts


MIN_IOU = 0.3     # a 28x28 whose box overlaps the true digit less than this was framed on something else


def found_the_digit(stages: dict, boxes: np.ndarray) -> np.ndarray:
    """(n,) bool: the box preprocessing framed (its "bbox" on the work grid) overlaps the
    true digit's box by IoU >= MIN_IOU. All True when the stages carry no box."""
    if "bbox" not in stages or "roi" not in stages:
        return np.ones(len(boxes), bool)
    rx, ry, rw, rh = (np.asarray(v, np.float64) for v in stages["roi"])
    sx, sy = rw / np.asarray(stages["work_w"], np.float64), rh / np.asarray(stages["work_h"], np.float64)
    b = np.asarray(stages["bbox"], np.float64).reshape(-1, 4)
    x0, y0 = rx + b[:, 0] * sx, ry + b[:, 1] * sy
    x1, y1 = x0 + b[:, 2] * sx, y0 + b[:, 3] * sy
    t = boxes.astype(np.float64)
    iw = np.clip(np.minimum(x1, t[:, 2]) - np.maximum(x0, t[:, 0]), 0, None)
    ih = np.clip(np.minimum(y1, t[:, 3]) - np.maximum(y0, t[:, 1]), 0, None)
    inter = iw * ih
    union = (x1 - x0) * (y1 - y0) + (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1]) - inter
    return inter >= MIN_IOU * np.maximum(union, 1e-9)


def conditions_frames(images: np.ndarray, labels: np.ndarray, n: int, seed: int, size: int = 162,
                      clean_share: float = CLEAN_SHARE, workers: int | None = None):
    """The pool's frames before preprocessing (camera_set.ConditionSet), e.g. to look at."""
    from pico4ml.train.camera_set import render_jobs
    if size not in (162, 324):
        raise ValueError(f"size must be 162 (binned, as the firmware captures) or 324, got {size}")
    jobs = [(c, i) for c, k in condition_counts(n, clean_share).items() for i in range(k)]
    return render_jobs("train", (TRAIN_KEY, int(seed)), size, jobs, workers, mnist=(images, labels))


def conditions_pool(images: np.ndarray, labels: np.ndarray, n: int, seed: int, size: int = 162,
                    clean_share: float = CLEAN_SHARE, cache: bool = True,
                    workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The conditions pool: up to n (28x28 uint8, label) pairs, preprocessed like the firmware."""
    from pico4ml.train.camera_set import sim_code_key
    if n < 1 or not 0.0 <= clean_share <= 1.0:
        raise ValueError("n must be >= 1 and clean_share within 0..1")
    data_key = hashlib.sha256(images[: min(len(images), 512)].tobytes()).hexdigest()[:8]
    path = CACHE_DIR / (f"conditions_pool-{sim_code_key()}-{_code_key()}-{data_key}-{len(images)}-{n}-{seed}-"
                        f"{size}-{clean_share}.npz")
    if cache and (hit := _load(path)) is not None:
        return hit
    t0 = time.perf_counter()
    cs = conditions_frames(images, labels, n, seed, size, clean_share, workers)
    t1 = time.perf_counter()
    xs, found, on_digit = [], [], []
    for i in range(0, len(cs), 1024):
        x, status, stages = preprocess.preprocess_batch(cs.frames[i:i + 1024], return_status=True,
                                                        return_stages=True)
        xs.append(x)
        found.append(np.asarray(status) == preprocess.OK)
        on_digit.append(found_the_digit(stages, cs.boxes[i:i + 1024]))
    x, found, on_digit = np.concatenate(xs), np.concatenate(found), np.concatenate(on_digit)
    keep = found & on_digit
    x, y = x[keep], cs.labels[keep]
    print(f"conditions pool: {len(cs)} frames rendered in {t1 - t0:.0f} s, preprocessed in "
          f"{time.perf_counter() - t1:.0f} s; left out: {int((~found).sum())} without a digit, "
          f"{int((found & ~on_digit).sum())} where preprocessing framed something else", flush=True)
    if cache:
        _save(path, x, y)
    return x, y.astype(np.int64)


def junk_pool(images: np.ndarray, labels: np.ndarray, n: int, seed: int, size: int = 162, cache: bool = True,
              workers: int | None = None) -> np.ndarray:
    """28x28 inputs that are not digits: of n rendered training-side "empty" frames, those the
    preprocessing (default parameters) still frames as a digit. Same random streams as the
    conditions pool (TRAIN_KEY, seed), condition "empty", so never the bench's."""
    from pico4ml.train.camera_set import render_jobs, sim_code_key
    if n < 1:
        raise ValueError("n must be >= 1")
    data_key = hashlib.sha256(images[: min(len(images), 512)].tobytes()).hexdigest()[:8]
    path = CACHE_DIR / f"junk_pool-{sim_code_key()}-{_code_key()}-{data_key}-{n}-{seed}-{size}.npz"
    if cache and (hit := _load(path)) is not None:
        return hit[0]
    t0 = time.perf_counter()
    cs = render_jobs("train", (TRAIN_KEY, int(seed)), size, [("empty", i) for i in range(n)], workers,
                     mnist=(images, labels))
    xs = []
    for i in range(0, len(cs), 1024):
        x, status = preprocess.preprocess_batch(cs.frames[i:i + 1024], return_status=True)
        xs.append(x[np.asarray(status) == preprocess.OK])
    x = np.concatenate(xs) if xs else np.zeros((0, 28, 28), np.uint8)
    print(f"junk pool: {n} empty frames rendered and preprocessed in {time.perf_counter() - t0:.0f} s; "
          f"{len(x)} framed as a digit", flush=True)
    if cache:
        _save(path, x, np.full(len(x), -1, np.int64))
    return x
