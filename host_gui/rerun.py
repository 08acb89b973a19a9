"""Debug a wrong answer on the host: re-run a frame through the firmware's own pipeline.

The frame goes through the C preprocessing (core/preprocess.c, with the parameters being
tried) and the firmware's default model (host_twin.classify.FramePipeline: the C net()),
both compiled for this machine, so the answer is the board's answer for those parameters.
Next to it: which pixels of the 28x28 pushed the answer (gradient x input of the float
model, numpy) and how close the 28x28 is to the training set (class means and nearest
examples of MNIST). No Dear PyGui here: the debug controller shows what this computes.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pico4ml.train.preprocess import NO_DIGIT, OK, WORK, PreprocessParams, c_preprocess

STATUS_TEXT = {OK: "digit found", NO_DIGIT: "no digit (blank 28x28)", -1: "bad frame", -2: "parameters refused",
               -3: "ROI outside the frame"}


@dataclass
class Rerun:
    """One frame through the host build of the firmware pipeline."""
    params: PreprocessParams  # as given (capture pixels)
    status: int  # pp_run's status
    in28: np.ndarray
    stages: dict[str, np.ndarray]  # "work", "ink", "norm", "box": the STAGE images the device would send
    bbox: tuple[int, int, int, int]  # digit box on the work grid: x0, y0, x1, y1 (exclusive); 0s if none
    roi: tuple[int, int, int, int]  # ROI used, capture pixels
    dark_on_light: bool
    digit: int
    scores: np.ndarray  # softmax of the C net()'s logits
    scale: int  # capture pixels per frame pixel: > 1 when re-run on a downscaled preview
    second_reading: bool = False  # what is shown is the second reading (core/reader.h), as the board would answer

    @property
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.status, f"status {self.status}")


def scaled_params(p: PreprocessParams, scale: int) -> PreprocessParams:
    """Parameters for a frame downscaled `scale` times: the ROI in its pixels (rounded)."""
    if scale <= 1 or p.roi_w == 0 or p.roi_h == 0:
        return p
    return replace(p, roi_x=int(round(p.roi_x / scale)), roi_y=int(round(p.roi_y / scale)),
                   roi_w=max(1, int(round(p.roi_w / scale))), roi_h=max(1, int(round(p.roi_h / scale))))


class HostPipeline:
    """The C preprocessing + the firmware's default net() (built once, on first use)."""

    def __init__(self) -> None:
        self._pipeline: Any = None
        self._lock = threading.Lock()

    @property
    def pipeline(self) -> Any:
        with self._lock:
            if self._pipeline is None:
                from pico4ml.host_twin.classify import FramePipeline

                self._pipeline = FramePipeline()
            return self._pipeline

    @property
    def model_name(self) -> str:
        return self.pipeline.model_name

    def run(self, frame: np.ndarray, params: PreprocessParams, scale: int = 1) -> Rerun:
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        p = scaled_params(params, scale)
        in28, status, st = c_preprocess(frame, p, return_stages=True)
        second = False
        if status >= 0 and (answer := self.pipeline.classify(frame, p)).second_reading:
            # the board answers such a frame with a second reading: show that one
            second = True
            in28, status, st = c_preprocess(frame, replace(p, bg_radius=answer.radius), return_stages=True)
        ww, wh = int(st.work_w), int(st.work_h)
        stages: dict[str, np.ndarray] = {}
        if ww and wh:
            for name in ("work", "ink", "norm"):
                stages[name] = np.frombuffer(bytes(getattr(st, name)), np.uint8).reshape(WORK, WORK)[:wh, :ww].copy()
        if st.box_w and st.box_h:
            stages["box"] = np.frombuffer(bytes(st.box), np.uint8).reshape(28, 28)[:st.box_h, :st.box_w].copy()
        bbox = (0, 0, 0, 0)
        if st.bbox_w > 0 and st.bbox_h > 0:
            bbox = (int(st.bbox_x), int(st.bbox_y), int(st.bbox_x + st.bbox_w), int(st.bbox_y + st.bbox_h))
        res = self.pipeline.classify28(in28)
        logits = np.array(res.logits[:], np.float64)
        e = np.exp(logits - logits.max())
        k = max(1, int(scale))
        roi = (int(st.roi_x) * k, int(st.roi_y) * k, int(st.roi_w) * k, int(st.roi_h) * k)
        return Rerun(params, int(status), in28, stages, bbox, roi, bool(st.dark_on_light), int(res.argmax),
                     (e / e.sum()).astype(np.float32), k, second)


def gradient_x_input(state: dict[str, np.ndarray], in28: np.ndarray, digit: int) -> np.ndarray:
    """(28, 28) share of each input pixel in the float model's logit for `digit`: the input
    times the gradient of that logit with respect to it (positive: pushed towards the answer)."""
    from pico4ml.train.models import INPUT_SCALE

    x = np.asarray(in28, np.float32).reshape(-1) * np.float32(INPUT_SCALE)
    n = len(state) // 2
    masks = []
    h = x
    for i in range(n):
        h = state[f"layers.{i}.weight"] @ h + state[f"layers.{i}.bias"]
        if i < n - 1:
            masks.append(h > 0)
            h = np.maximum(h, 0)
    g = np.zeros(state[f"layers.{n - 1}.weight"].shape[0], np.float32)
    g[int(digit)] = 1.0
    for i in range(n - 1, -1, -1):
        g = state[f"layers.{i}.weight"].T @ g
        if i > 0:
            g = g * masks[i - 1]
    return (g * x).reshape(28, 28)


def saliency_rgb(contrib: np.ndarray, in28: np.ndarray) -> np.ndarray:
    """(28, 28, 3) uint8: the 28x28 in grey, pixels that pushed the answer in red, against it in blue."""
    grey = np.asarray(in28, np.float32) * 0.35
    m = float(np.abs(contrib).max()) or 1.0
    pos = np.clip(contrib / m, 0, 1) * 255
    neg = np.clip(-contrib / m, 0, 1) * 255
    rgb = np.stack([grey + pos, grey + 0.25 * (pos + neg), grey + neg], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


@dataclass
class Neighbours:
    class_dist: np.ndarray  # (10,) distance of the 28x28 to each class mean
    nearest: list[tuple[int, int, float]]  # (training index, label, distance), closest first
    images: list[np.ndarray] = field(default_factory=list)  # the nearest examples' 28x28s


class TrainingSet:
    """MNIST's training images, loaded once in the background: class means and nearest examples."""

    def __init__(self) -> None:
        self.error = ""
        self._x: np.ndarray | None = None
        self._y: np.ndarray | None = None
        self.means: np.ndarray | None = None  # (10, 28, 28) float32
        self._norms: np.ndarray | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._load, name="pico4ml-mnist", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        self.start()
        assert self._thread is not None
        self._thread.join(timeout)
        return self.ready

    @property
    def ready(self) -> bool:
        return self.means is not None

    def _load(self) -> None:
        try:
            from pico4ml.train.data import load_mnist

            x, y, _, _ = load_mnist(verify=False)
            flat = x.reshape(len(x), -1)
            self._x, self._y = flat, y.astype(np.int64)
            self._norms = np.einsum("ij,ij->i", flat, flat, dtype=np.float32)
            self.means = np.stack([flat[y == d].mean(axis=0, dtype=np.float32) for d in range(10)]).reshape(10, 28, 28)
        except Exception as e:  # noqa: BLE001 -- no MNIST here: the debug panel says so
            self.error = f"training set not available: {e}"

    def neighbours(self, in28: np.ndarray, k: int = 3) -> Neighbours | None:
        if not self.ready:
            return None
        assert self._x is not None and self._y is not None and self._norms is not None and self.means is not None
        q = np.asarray(in28, np.float32).reshape(-1)
        class_dist = np.sqrt(((self.means.reshape(10, -1) - q) ** 2).sum(axis=1)) / 255.0
        d2 = np.empty(len(self._x), np.float32)
        for i in range(0, len(self._x), 8192):  # float32 chunks: a few MB at a time
            chunk = self._x[i:i + 8192].astype(np.float32)
            d2[i:i + 8192] = self._norms[i:i + 8192] - 2 * (chunk @ q)
        d2 += float(q @ q)
        idx = np.argsort(d2)[:k]
        nearest = [(int(i), int(self._y[i]), float(np.sqrt(max(d2[i], 0.0))) / 255.0) for i in idx]
        return Neighbours(class_dist, nearest, [self._x[i].reshape(28, 28).copy() for i in idx])
