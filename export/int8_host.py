"""Run an int8 model of the manifest (the rendered net_int8() or the hand-written
net_int8_fast()) on the host.

gcc -O2 through pico4ml.common.cbuild, called from numpy with ctypes. Used by the
int8 parity tests and by bench/rp2040.py for the host side of its comparisons.
"""
from __future__ import annotations

import ctypes
import numpy as np

from pico4ml.common import manifest
from pico4ml.common.cbuild import build
from pico4ml.common.paths import MODEL_C_DIR

MODEL_C = manifest.get("mlp_int8").sources[0]         # TinyGrad's rendering (+ the weights)
FAST_C = manifest.get("mlp_int8_fast").sources[-1]    # the hand-written kernel


def int8_model(name: str) -> manifest.Model:
    """An int8 entry of the manifest, by model name, alias or entry function."""
    by_function = {m.function: m for m in map(manifest.get, manifest.names()) if m.kind == "int8"}
    entry = by_function.get(name) or manifest.get(name)
    if entry.kind != "int8":
        raise manifest.ManifestError(f"{entry.name} is a {entry.kind} model, not int8")
    return entry


class HostInt8Net:
    """`void <function>(const uint8_t *input, int32_t *output)` of an int8 manifest model,
    callable on image batches."""

    def __init__(self, model: str = "mlp_int8", flags: list[str] | None = None):
        entry = int8_model(model)
        func = entry.function
        lib = build(f"int8_{entry.name}", list(entry.sources), shared=True, flags=flags or ["-O2"],
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
