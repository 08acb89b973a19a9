"""Device-vs-host check: run the committed model on the host on each 28x28 the device saw.

The device's scores come from the exported C `net()`; the host's from the checkpoint the
export started from, with a plain numpy forward (fast: one 784x400 matmul per frame): the
float checkpoint for a float build, its integer reference (pico4ml.train.quantize) for an
int8 build, chosen per RESULT by its model kind. Any difference beyond the tolerance points
at an export or quantisation bug at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max())
    return (z / z.sum()).astype(np.float32)


@dataclass
class CheckResult:
    host_digit: int
    host_scores: np.ndarray  # softmax, shape (10,)
    max_diff: float  # largest |device score - host score| over the 10 classes
    ok: bool  # same digit and within tolerance


MODEL_FLOAT, MODEL_INT8 = 0, 1  # protocol.MODEL_FLOAT / MODEL_INT8


class HostModel:
    """The exported model's checkpoint (and its int8 twin when present), evaluated with numpy."""

    def __init__(self, checkpoint: str | Path | None = None) -> None:
        from pico4ml.train import models
        from pico4ml.common.paths import DEFAULT_CHECKPOINT

        self.path = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
        self.state, self.metadata = models.load_state(self.path)
        self._forward = models.numpy_forward
        self.sha256 = self.metadata.get("weights_sha256", "")
        self.int8 = None
        self.int8_sha256 = ""
        try:
            from pico4ml.train import quantize

            if quantize.int8_path(self.path).is_file():
                self.int8 = quantize.load_quantized(quantize.int8_path(self.path))
                self.int8_sha256 = self.int8.metadata.get("int8_sha256", "")
        except Exception:  # noqa: BLE001 -- no int8 twin: int8 results are then checked against float
            self.int8 = None

    @property
    def name(self) -> str:
        return self.path.stem + (" (+int8)" if self.int8 is not None else "")

    def hash_for(self, kind: int) -> str:
        return self.int8_sha256 if kind == MODEL_INT8 and self.int8 is not None else self.sha256

    def logits(self, img28: np.ndarray, kind: int = MODEL_FLOAT) -> np.ndarray:
        x = np.asarray(img28, np.uint8).reshape(1, 28, 28)
        if kind == MODEL_INT8 and self.int8 is not None:
            from pico4ml.train import quantize

            return quantize.float_logits(self.int8, quantize.int8_forward(self.int8, x))[0]
        return self._forward(self.state, x)[0]

    def scores(self, img28: np.ndarray, kind: int = MODEL_FLOAT) -> np.ndarray:
        return softmax(self.logits(img28, kind))

    def check(self, img28: np.ndarray, device_scores: np.ndarray, device_digit: int,
              tolerance: float, kind: int = MODEL_FLOAT) -> CheckResult:
        host = self.scores(img28, kind)
        diff = float(np.max(np.abs(host - np.asarray(device_scores, np.float32))))
        digit = int(np.argmax(host))
        return CheckResult(digit, host, diff, digit == int(device_digit) and diff <= tolerance)


def try_load(checkpoint: str | Path | None = None) -> tuple[HostModel | None, str]:
    """The host model, or None and the reason (the GUI shows it instead of failing)."""
    try:
        m = HostModel(checkpoint)
        return m, f"host check: {m.name}"
    except Exception as e:  # noqa: BLE001 -- a missing checkpoint disables the check, nothing else
        return None, f"host check off: {e}"
