"""Run an int8 net (the rendered model_int8.c or the hand-written net_int8_fast.c) on the host.

gcc -O2 through pico4ml.host_twin.cbuild, called from numpy with ctypes. Used by the
int8 parity tests and by bench/rp2040.py for the host side of its comparisons.
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from pico4ml.host_twin.cbuild import build
from pico4ml.train.paths import MODEL_C_DIR

MODEL_C = MODEL_C_DIR / "model_int8.c"
FAST_C = MODEL_C_DIR / "net_int8_fast.c"


class HostInt8Net:
    """`void <func>(const uint8_t *input, int32_t *output)` from `sources`, callable on image batches."""

    def __init__(self, func: str = "net_int8", sources: list[Path] | None = None, flags: list[str] | None = None):
        sources = sources or ([MODEL_C] if func == "net_int8" else [MODEL_C, FAST_C])
        lib = build(f"int8_{func}", [Path(s) for s in sources], shared=True, flags=flags or ["-O2"],
                    include_dirs=[MODEL_C_DIR])
        self._lib = ctypes.CDLL(str(lib))
        self._fn = getattr(self._lib, func)
        self._fn.restype = None
        self._fn.argtypes = [ctypes.POINTER(ctypes.c_uint8), ctypes.POINTER(ctypes.c_int32)]

    def __call__(self, x_u8: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(np.asarray(x_u8, dtype=np.uint8).reshape(len(x_u8), -1))
        out = np.zeros((len(x), 10), dtype=np.int32)
        u8p, i32p = ctypes.POINTER(ctypes.c_uint8), ctypes.POINTER(ctypes.c_int32)
        for i in range(len(x)):
            self._fn(x[i].ctypes.data_as(u8p), out[i].ctypes.data_as(i32p))
        return out
