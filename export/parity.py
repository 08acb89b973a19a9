"""Run an exported model C file on the host (gcc + ctypes) and compare it with TinyGrad."""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pico4ml.common.cbuild import build
from pico4ml.train.models import INPUT_SCALE


@dataclass
class Parity:
    argmax_equal: int
    total: int
    max_abs: float

    def ok(self, tol: float = 1e-4) -> bool:
        return self.argmax_equal == self.total and self.max_abs <= tol


class HostModel:
    """The generated `void net(const float *, float *)` compiled with gcc -O2, callable from numpy."""

    def __init__(self, c_file: Path, func: str = "net", flags: list[str] | None = None):
        lib_path = build(Path(c_file).stem + "_" + func, [Path(c_file)], shared=True, flags=flags or ["-O2"],
                         include_dirs=[Path(c_file).parent])
        self._lib = ctypes.CDLL(str(lib_path))
        self._fn = getattr(self._lib, func)
        self._fn.restype = None
        self._fn.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float)]

    def logits(self, x_u8: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x_u8.reshape(len(x_u8), -1).astype(np.float32) * np.float32(INPUT_SCALE))
        out = np.zeros((len(x), 10), dtype=np.float32)
        fp = ctypes.POINTER(ctypes.c_float)
        for i in range(len(x)):
            self._fn(x[i].ctypes.data_as(fp), out[i].ctypes.data_as(fp))
        return out


def compare(c_logits: np.ndarray, ref_logits: np.ndarray) -> Parity:
    return Parity(int((c_logits.argmax(1) == ref_logits.argmax(1)).sum()), len(ref_logits),
                  float(np.abs(c_logits - ref_logits).max()))
