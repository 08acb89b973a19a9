"""A synthetic device stream: the messages a board sends, made in Python.

For tests of the link, state and views that must not depend on the C host twin, for the
decoder benchmark (a large recorded stream) and for quick demos. Digits are drawn with
OpenCV's font on "paper"; the 28x28 comes from the Python twin of the firmware
preprocessing, and the scores from a host model when one is given, so a stream made here
passes the device-vs-host check exactly as a correct board would.
"""
from __future__ import annotations

import time
from typing import Iterator

import numpy as np

from pico4ml.common import protocol as P


def camera_frame(digit: int, size: int = 324, seed: int = 0) -> np.ndarray:
    """A grey camera-like frame: dark digit on light, slightly uneven paper, some noise."""
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    paper = 200 - 40 * (((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / (size * size / 2))
    img = np.clip(paper + rng.normal(0, 4, paper.shape), 0, 255).astype(np.uint8)
    scale = size / 60
    (w, h), _ = cv2.getTextSize(str(digit), cv2.FONT_HERSHEY_SIMPLEX, scale, int(scale * 2.2))
    org = (int((size - w) / 2 + rng.integers(-size // 20, size // 20 + 1)), int((size + h) / 2))
    cv2.putText(img, str(digit), org, cv2.FONT_HERSHEY_SIMPLEX, scale, 30, int(scale * 2.2), cv2.LINE_AA)
    return img


def downscale(img: np.ndarray, factor: int) -> np.ndarray:
    h, w = img.shape[0] // factor * factor, img.shape[1] // factor * factor
    return img[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3)).round().astype(np.uint8)


def frame_messages(frame_id: int, digit: int, host_model=None, size: int = 324, factor: int = 4,
                   model_kind: int = P.MODEL_FLOAT, stages: bool = True) -> list[P.Message]:
    """One processed frame as the device sends it: FRAME, STAGEs, INPUT28, RESULT."""
    from pico4ml.train.preprocess import preprocess

    cam = camera_frame(digit, size, seed=frame_id)
    in28, st = preprocess(cam, return_stages=True)
    small = downscale(cam, factor)
    msgs: list[P.Message] = [P.Frame(frame_id, small.shape[1], small.shape[0], 0, small.shape[0], size, size,
                                     P.FRAME_FMT_GRAY8, 0, factor, small.tobytes())]
    if stages:
        roi = tuple(int(v) for v in st["roi"])
        for sid, key in ((P.STAGE_WORK, "work"), (P.STAGE_INK, "ink"), (P.STAGE_NORM, "norm")):
            img = np.ascontiguousarray(st[key][:st["work_h"], :st["work_w"]], np.uint8)
            x, y, w, h = (int(v) for v in st["bbox"])
            msgs.append(P.Stage(frame_id, sid, 0, img.shape[1], img.shape[0], (x, y, x + w, y + h), 0, 0, roi,
                                img.tobytes()))
    msgs.append(P.Input28(frame_id, 0, in28.tobytes()))
    if host_model is not None:
        logits = host_model.logits(in28, model_kind)
    else:
        logits = np.full(10, -2.0)
        logits[digit] = 6.0
    argmax = int(np.argmax(logits))
    e = np.exp(logits - logits.max())
    msgs.append(P.Result(frame_id, argmax, model_kind, 0, 0, float(e[argmax] / e.sum()),
                         tuple(float(v) for v in logits), 9000, 2500, 4200, 800, 1500))
    return msgs


def hello() -> P.Hello:
    return P.Hello(capture_width=324, capture_height=324, params_size=P.PARAMS_SIZE, max_command_bytes=P.MAX_PACKET,
                   weights_hash="", firmware_version="synthetic", model_name="synthetic",
                   build_info="host_gui.synthetic")


def stream(n_frames: int, host_model=None, **kw) -> Iterator[P.Message]:
    """HELLO then n_frames processed frames with digits 0..9 in turn, and STATS every 10."""
    yield hello()
    for i in range(n_frames):
        yield from frame_messages(i + 1, i % 10, host_model, **kw)
        if i % 10 == 9:
            yield P.Stats(uptime_ms=i * 66, frames=i + 1, msgs_sent=5 * (i + 1))


def encoded(messages: list[P.Message]) -> bytes:
    enc = P.Encoder()
    return b"".join(enc.encode(m) for m in messages)


def timed(messages: list[P.Message], fps: float = 15.0, t0: float | None = None) -> list[tuple[float, P.Message]]:
    """(time, message) pairs as a live link would deliver them at `fps` frames per second."""
    t = time.time() if t0 is None else t0
    out = []
    for m in messages:
        if isinstance(m, P.Frame):
            t += 1.0 / fps
        out.append((t, m))
    return out
