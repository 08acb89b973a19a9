"""Small image helpers shared by the GUI and the monitor (numpy + OpenCV, no Dear PyGui).

Kept apart from view.py so they are testable without a display: integer nearest-neighbour
enlargement (crisp pixels), histogram statistics, PNG save/load for snapshots and inject.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".pgm", ".pnm", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def enlarge(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscale by an integer factor with numpy repeat (no smoothing)."""
    factor = max(1, int(factor))
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def reduce(img: np.ndarray, step: int) -> np.ndarray:
    """Area-average downscale by an integer step (edges that do not fill a block are dropped)."""
    step = max(1, int(step))
    if step == 1:
        return img
    h, w = img.shape[0] // step * step, img.shape[1] // step * step
    if h == 0 or w == 0:
        return img[::step, ::step]
    blocks = img[:h, :w].reshape(h // step, step, w // step, step, *img.shape[2:])
    return blocks.mean(axis=(1, 3)).round().astype(np.uint8)


def grey_stats(img: np.ndarray, bins: int = 64) -> tuple[np.ndarray, dict[str, float]]:
    """Histogram (counts per equal bin of 0..255) and the numbers one tunes exposure by."""
    flat = np.asarray(img, np.uint8).ravel()
    hist = np.bincount(flat.astype(np.int64) * bins // 256, minlength=bins)
    n = max(flat.size, 1)
    stats = {"mean": float(flat.mean()) if flat.size else 0.0, "median": float(np.median(flat)) if flat.size else 0.0,
             "std": float(flat.std()) if flat.size else 0.0, "min": int(flat.min()) if flat.size else 0,
             "max": int(flat.max()) if flat.size else 0,
             "clip_dark_pct": 100.0 * np.count_nonzero(flat == 0) / n,
             "clip_bright_pct": 100.0 * np.count_nonzero(flat == 255) / n}
    return hist, stats


def save_png(path: str | Path, img: np.ndarray) -> Path:
    """Write a uint8 grey image as PNG, creating the folder; raises OSError on failure."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(img, dtype=np.uint8)):
        raise OSError(f"could not write {path}")
    return path


def load_grey(path: str | Path) -> np.ndarray:
    """Read any image OpenCV understands as 8-bit grey; ValueError with the path if unreadable."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError(f"{path}: not an image OpenCV can read")
    return img


def image_files(path: str | Path) -> list[Path]:
    """One image file, or the image files of a folder in name order."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return [path]
