"""Device-vs-host check: run the committed checkpoint on the host on each 28x28 the device saw.

The device's scores come from the exported C `net()`; the host's from the checkpoint the
export started from, with a plain numpy forward (fast: one 784x400 matmul per frame). Any
difference beyond the tolerance points at an export or quantisation bug at once.
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


class HostModel:
    """The exported model's checkpoint, evaluated with numpy."""

    def __init__(self, checkpoint: str | Path | None = None) -> None:
        from pico4ml.train import models
        from pico4ml.train.paths import DEFAULT_CHECKPOINT

        self.path = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINT
        self.state, self.metadata = models.load_state(self.path)
        self._forward = models.numpy_forward
        self.sha256 = self.metadata.get("weights_sha256", "")

    @property
    def name(self) -> str:
        return self.path.stem

    def logits(self, img28: np.ndarray) -> np.ndarray:
        return self._forward(self.state, np.asarray(img28, np.uint8).reshape(1, 28, 28))[0]

    def scores(self, img28: np.ndarray) -> np.ndarray:
        return softmax(self.logits(img28))

    def check(self, img28: np.ndarray, device_scores: np.ndarray, device_digit: int,
              tolerance: float) -> CheckResult:
        host = self.scores(img28)
        diff = float(np.max(np.abs(host - np.asarray(device_scores, np.float32))))
        digit = int(np.argmax(host))
        return CheckResult(digit, host, diff, digit == int(device_digit) and diff <= tolerance)


def try_load(checkpoint: str | Path | None = None) -> tuple[HostModel | None, str]:
    """The host model, or None and the reason (the GUI shows it instead of failing)."""
    try:
        m = HostModel(checkpoint)
        return m, f"host check: {m.name}"
    except Exception as e:  # noqa: BLE001: a missing checkpoint disables the check, nothing else
        return None, f"host check off: {e}"
