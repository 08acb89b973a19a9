"""Camera frames a user captured and labelled: a folder of `<label>/` subfolders.

This is what the GUI's data-set capture writes (host_gui/README.md, "From a wrong answer to
a better model"):

    DIR/7/20250101-120000-1234-0.pgm        the full-resolution capture (8-bit PGM)
    DIR/7/20250101-120000-1234-0-in28.png   the 28x28 the device fed its network
    DIR/7/20250101-120000-1234-0.json       label, frame_id, parameters, answer, ...

The folder name is the label (move a file to relabel it). Frames are the `*.pgm` and
`*.png` files of the label folders; the `-in28` files are the device's own 28x28s and are
not frames. pico4ml-eval --frames scores the firmware pipeline on such a folder and
pico4ml-train --extra-frames mixes them into training.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FRAME_SUFFIXES = (".pgm", ".png")
IN28_SUFFIX = "-in28"


class FrameSetError(ValueError):
    """The folder is missing, or holds no usable labelled frame."""


@dataclass
class FrameSet:
    frames: list[np.ndarray] = field(default_factory=list)  # 2-D uint8, any size
    labels: list[int] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a file or folder was not used
    previews: int = 0  # frames whose .json says "scale" > 1: a downscaled FRAME, not the full capture

    def __len__(self) -> int:
        return len(self.frames)

    def counts(self) -> dict[int, int]:
        return {d: self.labels.count(d) for d in range(10) if d in self.labels}

    def notes(self) -> list[str]:
        """What a user should know about the set beyond the skipped files."""
        if not self.previews:
            return []
        return [f"{self.previews} of {len(self)} frames are downscaled previews (\"scale\" > 1 in their .json): "
                f"the board preprocessed the full capture, so answers on them can differ; capture with "
                f"full-resolution frames on for exact ones"]


def _scale(frame_path: Path) -> int:
    """The "scale" its capture's .json records (1 when there is none or it is unreadable)."""
    import json
    try:
        return int(json.loads(frame_path.with_suffix(".json").read_text()).get("scale", 1))
    except (OSError, ValueError, TypeError, AttributeError):
        return 1


def read_grey(path: Path) -> np.ndarray:
    """An image file as 8-bit grey (colour converted, 16-bit scaled); ValueError if unreadable."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None or img.size == 0:
        raise ValueError(f"{path}: cannot decode it as an image")
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.dtype != np.uint8 or img.ndim != 2:
        raise ValueError(f"{path}: unsupported image ({img.dtype}, shape {img.shape})")
    return img


def is_frame_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in FRAME_SUFFIXES and not path.stem.endswith(IN28_SUFFIX)


def load_frame_set(root: str | Path) -> FrameSet:
    """Every frame under root/<digit>/, in name order; unreadable files and folders that are not
    a digit are listed in `skipped`. FrameSetError when nothing usable is there."""
    root = Path(root)
    if not root.is_dir():
        raise FrameSetError(f"{root}: no such folder")
    out = FrameSet()
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if not (len(sub.name) == 1 and sub.name.isdigit()):
            out.skipped.append(f"{sub}: not a label folder (0..9)")
            continue
        for path in sorted(p for p in sub.iterdir() if is_frame_file(p)):
            try:
                out.frames.append(read_grey(path))
            except ValueError as e:
                out.skipped.append(str(e))
                continue
            out.labels.append(int(sub.name))
            out.paths.append(path)
            out.previews += _scale(path) > 1
    if not out.frames:
        loose = [p.name for p in root.iterdir() if is_frame_file(p)]
        hint = (f" ({len(loose)} frame files lie directly in it: put each in the folder of its label, e.g. "
                f"{root}/7/)" if loose else "")
        raise FrameSetError(f"{root}: no labelled frames (*.pgm or *.png in 0/ .. 9/ subfolders){hint}")
    return out
