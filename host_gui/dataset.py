"""Saved frames as data: a labelled capture folder and paired snapshots (no Dear PyGui here).

A labelled capture (a key 0-9 in the GUI) writes three files into DIR/<label>/:

    <YYYYmmdd-HHMMSS>-<frame_id>-<n>.pgm       the capture as received, 8-bit binary PGM (P5)
    <YYYYmmdd-HHMMSS>-<frame_id>-<n>-in28.png  the 28x28 the network saw
    <YYYYmmdd-HHMMSS>-<frame_id>-<n>.json      {"label", "frame_id", "params", "answer", "score",
                                                "status", "source", "capture_width", "capture_height"}
                                                and "scale" when the capture is a downscaled FRAME

n is the smallest number that makes the name new, so captures in the same second of the
same frame never overwrite each other. `pico4ml-eval --frames DIR` and
`pico4ml-train --extra-frames DIR` read this layout.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from . import images

STATUS_NAMES = {0: "digit", 1: "no_digit", 2: "unsure"}  # RESULT status (protocol v2); v1 answers are "digit"


def write_pgm(path: Path, img: np.ndarray) -> None:
    a = np.ascontiguousarray(img, dtype=np.uint8)
    with open(path, "xb") as f:  # exclusive: never overwrite a capture
        f.write(f"P5\n{a.shape[1]} {a.shape[0]}\n255\n".encode() + a.tobytes())


def read_pgm(path: str | Path) -> np.ndarray:
    """An 8-bit binary PGM as written by write_pgm (for tests and tools)."""
    data = Path(path).read_bytes()
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P5" or int(fields[3]) != 255:
        raise ValueError(f"{path}: not an 8-bit binary PGM")
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data[pos + 1:pos + 1 + w * h], np.uint8).reshape(h, w)


def unique_stem(folder: Path, stamp: str, frame_id: int, suffixes: tuple[str, ...]) -> str:
    n = 0
    while any((folder / f"{stamp}-{frame_id}-{n}{s}").exists() for s in suffixes):
        n += 1
    return f"{stamp}-{frame_id}-{n}"


def save_labelled(root: str | Path, label: int, capture: np.ndarray, in28: np.ndarray | None, *, frame_id: int,
                  params: Any, answer: int | None, score: float | None, status: int | None, source: str,
                  scale: int = 1, capture_size: tuple[int, int] | None = None, now: float | None = None) -> Path:
    """Write one labelled capture; returns the JSON's path. `capture` is the image as received;
    scale > 1 says it is a FRAME downscaled from a capture_size capture."""
    if not 0 <= int(label) <= 9:
        raise ValueError(f"label must be a digit 0-9, not {label!r}")
    if source not in ("live", "replay", "inject"):
        raise ValueError(f"source must be live, replay or inject, not {source!r}")
    folder = Path(root) / str(int(label))
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    suffixes = (".pgm", "-in28.png", ".json")
    for _ in range(100):
        stem = unique_stem(folder, stamp, frame_id, suffixes)
        try:
            write_pgm(folder / f"{stem}.pgm", capture)
            break
        except FileExistsError:  # another writer took the name between the check and the write
            continue
    else:
        raise OSError(f"{folder}: no free name for frame {frame_id}")
    if in28 is not None:
        images.save_png(folder / f"{stem}-in28.png", in28)
    h, w = capture.shape[:2]
    cw, ch = capture_size if capture_size else (w * scale, h * scale)
    meta = {"label": int(label), "frame_id": int(frame_id),
            "params": asdict(params) if params is not None else None,
            "answer": None if answer is None else int(answer), "score": None if score is None else float(score),
            "status": STATUS_NAMES.get(0 if status is None else int(status), str(status)), "source": source,
            "capture_width": int(cw), "capture_height": int(ch)}
    if scale > 1:
        meta["scale"] = int(scale)  # a downscaled FRAME: each pixel averages scale x scale capture pixels
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(meta, indent=1) + "\n")
    return path


def save_snapshot(folder: str | Path, frame_id: int, capture: np.ndarray | None, in28: np.ndarray | None,
                  tag: str = "", now: float | None = None) -> list[Path]:
    """'save PNGs': the capture and its own 28x28, one pair per click, never overwritten:
    snapshot-<YYYYmmdd-HHMMSS-mmm>-<frame_id>-<n>[-tag]-capture.png and ...-in28.png."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    t = time.time() if now is None else now
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(t)) + f"-{int(t * 1000) % 1000:03d}"
    extra = f"-{tag}" if tag else ""
    suffixes = (f"{extra}-capture.png", f"{extra}-in28.png")
    stem = unique_stem(folder, "snapshot-" + stamp, frame_id, suffixes)
    saved = []
    if capture is not None:
        saved.append(images.save_png(folder / f"{stem}{suffixes[0]}", capture))
    if in28 is not None:
        saved.append(images.save_png(folder / f"{stem}{suffixes[1]}", in28))
    return saved
