"""The simulated camera sets the benchmarks score the firmware pipeline on.

1. The CONDITION SETS of issue 8 (`condition_set`, bench/camera.py): every condition
   of camera_conditions.CONDITIONS (clean, far, close, tilted, ruled, squared, shadow,
   dim, blur, pencil, neighbours, paper_edge, dark_ground, and empty frames), rendered
   at the sensor's 324x324 and, by default, 2x2-binned to the 162x162 the firmware
   captures. Two of them, from sources training never sees (digit_sources: MNIST test
   digits, held-out fonts and pen-stroke writers):
     - split "tune", seed TUNE_SEED: the set preprocessing and thresholds may be tuned
       against (MNIST test images 0-4999, tune writers);
     - split "test", seed TEST_SEED: the held-out set the figures are reported on;
       nobody tunes against it (MNIST test images 5000-9999, test writers).
   Frame i of condition c is drawn from numpy Generator([seed, crc32(c), i]) alone, so
   a frame never depends on the others, on the set's size or on the worker that drew it.
2. The clean-sheet CAMERA TEST SET (`camera_test_set`): 2000 frames of the clean
   simulator (camera_clean.py), 324x324, MNIST test digits + 30 % printed, fixed seed
   (bench/firmware.py, bench/preprocess.py, pico4ml-eval --camera).

Rendered sets are cached under build/camera_set/, keyed by the simulator's source,
the parameters, the OpenCV version and which fonts are installed.

    python -m pico4ml.train.camera_set --split tune --out frames/   # a condition set as PGM files
    python -m pico4ml.train.camera_set --out frames/                 # the clean-sheet test set
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pico4ml.train import camera_clean
from pico4ml.common.paths import BUILD_DIR

CAMERA_TEST_SEED = 20261122
CAMERA_TEST_SIZE = 2000
CAMERA_TEST_FRAME = 324
PRINTED_FRACTION = 0.3


def _cache_path(n: int, seed: int, size: int, printed_fraction: float) -> Path:
    h = hashlib.sha256(Path(camera_clean.__file__).read_bytes())
    h.update(f"{n} {seed} {size} {printed_fraction} ttf={camera_clean.ttf_fonts_available()}".encode())
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
    frames, labels, printed = camera_clean.make_camera_set(
        n, seed, size, images=x_test, labels=y_test, printed_fraction=printed_fraction, return_printed=True)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez_compressed(tmp, frames=frames, labels=labels, printed=printed)
        tmp.replace(path)
    return frames, labels, printed


# ---------------------------------------------------------------------------
# the condition sets (issue 8)

TUNE_SEED = 80_2611        # the set others may tune against
TEST_SEED = 80_2677        # held out: report on it, never tune against it
SPLIT_SEEDS = {"tune": TUNE_SEED, "test": TEST_SEED}
BENCH_PER_CONDITION = 300
SIM_MODULES = ("camera_sim", "camera_scene", "camera_optics", "camera_conditions", "digit_sources",
               "digit_fonts", "pen_strokes")


@dataclass
class ConditionSet:
    frames: np.ndarray          # (n, size, size) uint8
    labels: np.ndarray          # (n,) int64, -1 = nothing to read
    conditions: np.ndarray      # (n,) str
    kinds: np.ndarray           # (n,) str: the condition's variant ("chalk", "speck", ...)
    sources: np.ndarray         # (n,) str: where the target digit came from ("" for none)
    boxes: np.ndarray           # (n, 4) int: the target digit's ink box x0, y0, x1, y1 (exclusive)
                                # in frame pixels, before blur; -1s for none

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, mask: np.ndarray) -> "ConditionSet":
        return ConditionSet(self.frames[mask], self.labels[mask], self.conditions[mask], self.kinds[mask],
                            self.sources[mask], self.boxes[mask])


def condition_stream(key: int | tuple[int, ...], condition: str, index: int) -> np.random.Generator:
    """The Generator frame `index` of `condition` is drawn from (key: the split's seed,
    or a longer tuple for training frames); nothing else draws from it."""
    key = (key,) if isinstance(key, int) else tuple(key)
    return np.random.default_rng([*key, zlib.crc32(condition.encode()), index])


def sim_code_key() -> str:
    """Hash of the simulator's source, the OpenCV version and the fonts found."""
    import importlib

    import cv2

    from pico4ml.train import digit_fonts
    h = hashlib.sha256()
    for name in SIM_MODULES:
        h.update(Path(importlib.import_module(f"pico4ml.train.{name}").__file__).read_bytes())
    h.update(f"cv2={cv2.__version__} fonts={[digit_fonts.available(f) for f in digit_fonts.TTF_FONTS]}".encode())
    return h.hexdigest()[:12]


_worker: dict = {}


def _init_worker(split: str, mnist, data_dir: str | None) -> None:
    from pico4ml.train.digit_sources import DigitSource
    _worker["source"] = DigitSource(split, mnist=mnist, data_dir=data_dir)


def target_box(mask: np.ndarray | None, scale: int = 1) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 (exclusive) of a coverage mask's ink (> 0.5), divided by scale; -1s if none."""
    if mask is None:
        return -1, -1, -1, -1
    ys, xs = np.nonzero(mask > 0.5)
    if len(ys) == 0:
        return -1, -1, -1, -1
    return (int(xs.min()) // scale, int(ys.min()) // scale, -(-(int(xs.max()) + 1) // scale),
            -(-(int(ys.max()) + 1) // scale))


def _render_chunk(args: tuple) -> tuple[np.ndarray, list, list, list, list]:
    """Render frames [(condition, index), ...] (in a worker process, after _init_worker)."""
    from pico4ml.train import camera_sim
    stream_key, size, jobs = args
    source = _worker["source"]
    out = np.empty((len(jobs), size, size), np.uint8)
    labels, kinds, names, boxes = [], [], [], []
    for j, (condition, index) in enumerate(jobs):
        f = camera_sim.render_frame(condition, condition_stream(stream_key, condition, index), source)
        out[j] = f.image if size == camera_sim.SENSOR_SIZE else camera_sim.bin2x2(f.image)
        labels.append(f.label)
        kinds.append(f.kind)
        names.append(f.source)
        boxes.append(target_box(f.target_mask, camera_sim.SENSOR_SIZE // size))
    return out, labels, kinds, names, boxes


def render_jobs(split: str, stream_key: tuple[int, ...], size: int, jobs: list[tuple[str, int]],
                workers: int | None = None, data_dir: str | None = None,
                mnist: tuple[np.ndarray, np.ndarray] | None = None) -> ConditionSet:
    """Render (condition, index) frames of one side (digit_sources.SPLITS), frame i of
    condition c from Generator([*stream_key, crc32(c), i]): deterministic whatever the
    number of workers. size 324 (the sensor) or 162 (binned)."""
    workers = workers or min(2, os.cpu_count() or 1)
    chunks = [jobs[i:i + 50] for i in range(0, len(jobs), 50)]
    args = [(tuple(stream_key), size, c) for c in chunks]
    if workers > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(split, mnist, data_dir)) as ex:
            parts = list(ex.map(_render_chunk, args))
    else:
        _init_worker(split, mnist, data_dir)
        parts = [_render_chunk(a) for a in args]
    frames = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, size, size), np.uint8)
    return ConditionSet(frames, np.array([v for p in parts for v in p[1]], np.int64),
                        np.array([c for c, _ in jobs], dtype=str), np.array([v for p in parts for v in p[2]], dtype=str),
                        np.array([v for p in parts for v in p[3]], dtype=str),
                        np.array([v for p in parts for v in p[4]], np.int64).reshape(-1, 4))


def condition_set(split: str = "test", per_condition: int = BENCH_PER_CONDITION, size: int = 162,
                  conditions: tuple[str, ...] | None = None, cache: bool = True, workers: int | None = None,
                  data_dir: str | None = None) -> ConditionSet:
    """The bench's frames: `per_condition` frames of each condition, 324x324 or binned 162x162."""
    from pico4ml.train.camera_conditions import CONDITIONS
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split must be 'tune' or 'test' (training frames come from camera_data), got {split!r}")
    if size not in (162, 324):
        raise ValueError(f"size must be 162 (binned, as the firmware captures) or 324, got {size}")
    conditions = tuple(conditions or CONDITIONS)
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown or per_condition < 1:
        raise ValueError(f"unknown conditions {unknown}" if unknown else "per_condition must be >= 1")
    seed = SPLIT_SEEDS[split]
    key = hashlib.sha256(f"{split} {seed} {per_condition} {size} {conditions}".encode()).hexdigest()[:10]
    path = BUILD_DIR / "camera_set" / f"conditions_{split}_{size}_{per_condition}_{sim_code_key()}_{key}.npz"
    if cache and path.is_file():
        try:
            with np.load(path) as z:
                return ConditionSet(z["frames"], z["labels"], z["conditions"], z["kinds"], z["sources"], z["boxes"])
        except (OSError, ValueError, KeyError):
            pass   # a damaged cache is rebuilt below
    jobs = [(c, i) for c in conditions for i in range(per_condition)]
    cs = render_jobs(split, (seed,), size, jobs, workers, data_dir)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, frames=cs.frames, labels=cs.labels, conditions=cs.conditions, kinds=cs.kinds,
                 sources=cs.sources, boxes=cs.boxes)
        tmp.replace(path)
    return cs



def write_pgm(path: Path, frame: np.ndarray) -> None:
    """Binary 8-bit PGM (P5), the format pico4ml-classify and the host twin read."""
    h, w = frame.shape
    path.write_bytes(f"P5\n{w} {h}\n255\n".encode() + np.ascontiguousarray(frame, np.uint8).tobytes())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write a simulated camera set as PGM files: a condition set of "
                                             "issue 8 (--split tune|test), or the clean-sheet camera test set.")
    ap.add_argument("--out", type=Path, required=True, help="directory for <index>_<label>.pgm files")
    ap.add_argument("--split", choices=sorted(SPLIT_SEEDS), help="a condition set: tune (may be tuned "
                                                                 "against) or test (held out)")
    ap.add_argument("--per-condition", type=int, default=BENCH_PER_CONDITION,
                    help="condition sets: frames per condition (default %(default)s)")
    ap.add_argument("-n", type=int, default=CAMERA_TEST_SIZE, help="clean set: number of frames (default %(default)s)")
    ap.add_argument("--size", type=int, help="frame side: 162 (binned) or 324 for condition sets "
                                             "(default 162), any for the clean set (default 324)")
    ap.add_argument("--seed", type=int, default=CAMERA_TEST_SEED, help="clean set: random seed (default %(default)s)")
    ap.add_argument("--data-dir", help="MNIST directory (default: $PICO4ML_MNIST_DIR, ../shared/data/mnist)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.split:
        size = args.size or 162
        if size not in (162, 324) or args.per_condition < 1:
            ap.error("--size must be 162 or 324 and --per-condition >= 1 for a condition set")
        cs = condition_set(args.split, args.per_condition, size, data_dir=args.data_dir)
        with open(args.out / "labels.csv", "w") as f:
            f.write("file,label,condition,kind,source\n")
            for i in range(len(cs)):
                label = int(cs.labels[i])
                name = f"{i:05d}_{cs.conditions[i]}_{label if label >= 0 else 'none'}.pgm"
                write_pgm(args.out / name, cs.frames[i])
                f.write(f"{name},{label},{cs.conditions[i]},{cs.kinds[i]},{cs.sources[i]}\n")
        print(f"wrote {len(cs)} frames ({args.split} split, {size}x{size}) to {args.out}")
        return 0
    size = args.size or CAMERA_TEST_FRAME
    if args.n < 1 or size < 8:
        ap.error("-n must be >= 1 and --size >= 8")
    frames, labels, printed = camera_test_set(args.n, args.seed, size, data_dir=args.data_dir)
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
