"""Export a recording: its camera frames as PNG files, or as a video (OpenCV), with answers.

Frames are rebuilt from the raw stream exactly as the live app saw them (FRAME bands
joined; each frame paired with the 28x28 and RESULT of the same frame id). No Dear PyGui.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pico4ml.common import protocol as P

from . import images
from .recording import Replay

VIDEO_SIDE = 324  # camera part of a video frame (the HM01B0's full resolution)


@dataclass
class ExportedFrame:
    t: float  # seconds since the recording's first message
    frame_id: int
    image: np.ndarray
    scale: int
    in28: np.ndarray | None
    answer: int | None
    score: float | None


def frames_of(replay: Replay) -> list[ExportedFrame]:
    """Every whole camera frame of a recording with its own 28x28 and answer (when they came)."""
    assembler = P.FrameAssembler()
    frames: list[ExportedFrame] = []
    by_id: dict[int, ExportedFrame] = {}
    inputs: dict[int, np.ndarray] = {}
    for t, m in replay.events:
        if isinstance(m, P.Frame):
            whole = assembler.add(m)
            if whole is None or not whole.width or not whole.height or whole.flags & P.FLAG_INJECTED:
                continue
            img = np.frombuffer(whole.pixels, np.uint8).reshape(whole.height, whole.width)
            f = ExportedFrame(t - replay.start, whole.frame_id, img, max(1, whole.scale), inputs.get(whole.frame_id),
                              None, None)
            frames.append(f)
            by_id[whole.frame_id] = f
        elif isinstance(m, P.Input28) and not m.injected:
            inputs[m.frame_id] = m.to_array()
            if m.frame_id in by_id:
                by_id[m.frame_id].in28 = inputs[m.frame_id]
        elif isinstance(m, P.Result) and not m.injected and m.frame_id in by_id:
            f = by_id[m.frame_id]
            f.answer, f.score = m.argmax, float(m.score)
            if f.in28 is None:
                f.in28 = inputs.get(m.frame_id)
        if len(inputs) > 64:
            inputs.pop(next(iter(inputs)))
    return frames


def export_pngs(replay: Replay, folder: str | Path) -> int:
    """<folder>/frame-<id>.png (as received) and frame-<id>-in28.png, plus index.csv; returns the count."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = frames_of(replay)
    with open(folder / "index.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "frame_id", "file", "in28_file", "scale", "answer", "score"])
        for fr in frames:
            name = f"frame-{fr.frame_id:08d}.png"
            images.save_png(folder / name, fr.image)
            in28_name = ""
            if fr.in28 is not None:
                in28_name = f"frame-{fr.frame_id:08d}-in28.png"
                images.save_png(folder / in28_name, fr.in28)
            w.writerow([f"{fr.t:.4f}", fr.frame_id, name, in28_name, fr.scale,
                        "" if fr.answer is None else fr.answer, "" if fr.score is None else f"{fr.score:.4f}"])
    return len(frames)


def video_frame(fr: ExportedFrame) -> np.ndarray:
    """One BGR video frame: the camera enlarged to VIDEO_SIDE (integer factor, square pixels),
    the 28x28 and the answer beside it."""
    import cv2

    img = fr.image
    k = max(1, VIDEO_SIDE // max(img.shape))
    cam = images.enlarge(img, k) if k > 1 else img
    if max(cam.shape) > VIDEO_SIDE:
        cam = cv2.resize(cam, (VIDEO_SIDE, VIDEO_SIDE), interpolation=cv2.INTER_AREA)
    out = np.full((VIDEO_SIDE, VIDEO_SIDE + 180), 32, np.uint8)
    out[:cam.shape[0], :cam.shape[1]] = cam
    if fr.in28 is not None:
        out[10:10 + 168, VIDEO_SIDE + 6:VIDEO_SIDE + 174] = images.enlarge(fr.in28, 6)
    text = "-" if fr.answer is None else str(fr.answer)
    cv2.putText(out, text, (VIDEO_SIDE + 55, 280), cv2.FONT_HERSHEY_DUPLEX, 3.0, 255, 5, cv2.LINE_AA)
    if fr.score is not None:
        cv2.putText(out, f"{fr.score * 100:.0f}%", (VIDEO_SIDE + 55, 312), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 200, 2,
                    cv2.LINE_AA)
    cv2.putText(out, f"frame {fr.frame_id}", (VIDEO_SIDE + 8, 200), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 200, 1,
                cv2.LINE_AA)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)


def export_video(replay: Replay, path: str | Path, fps: float | None = None) -> int:
    """The recording's camera frames as a video (.avi: MJPG, .mp4: mp4v) at the recorded
    frame rate; returns the number of frames written."""
    import cv2

    path = Path(path)
    frames = frames_of(replay)
    if not frames:
        raise ValueError(f"{replay.path.name}: no camera frames to export (was 'send frame' off?)")
    if fps is None:
        span = frames[-1].t - frames[0].t
        fps = (len(frames) - 1) / span if span > 0 and len(frames) > 1 else 10.0
    fourcc = "mp4v" if path.suffix.lower() == ".mp4" else "MJPG"
    first = video_frame(frames[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(max(1.0, min(fps, 120.0))),
                             (first.shape[1], first.shape[0]))
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot write {fourcc} video here (try .avi)")
    try:
        for fr in frames:
            writer.write(video_frame(fr))
    finally:
        writer.release()
    return len(frames)
