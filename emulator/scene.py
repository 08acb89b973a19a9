"""What the emulated camera looks at: pictures from files, a folder, or a fixed array."""
from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pgm", ".bmp")


class SceneError(ValueError):
    """A picture that cannot be read."""


def read_gray(path: Path) -> np.ndarray:
    import cv2
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise SceneError(f"{path}: not a readable image")
    return img


def scene_from(spec: str | Path | None):
    """None: a uniform grey card. A file: that picture in every frame. A folder: its
    pictures in name order, one per camera frame, round and round."""
    if spec is None:
        return None
    p = Path(spec)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SceneError(f"{p}: no {'/'.join(IMAGE_SUFFIXES)} files")
        pictures = [read_gray(f) for f in files]
        return lambda i: pictures[i % len(pictures)]
    if not p.is_file():
        raise SceneError(f"{p}: no such file or folder")
    return read_gray(p)
