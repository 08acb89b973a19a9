"""Run model blobs through the portable C runtime (core/blob.c) on the host, from numpy.

gcc through pico4ml.common.cbuild, called with ctypes: the blob tests compare it with
pico4ml.export.blob.reference_forward and with the built-in nets, and the fuzz and bench
harnesses build the same sources.
"""
from __future__ import annotations

import ctypes

import numpy as np

from pico4ml.common.cbuild import build
from pico4ml.common.paths import CORE_DIR

BLOB_SOURCES = [CORE_DIR / "blob.c", CORE_DIR / "sha256.c", CORE_DIR / "protocol.c"]
STATUS = ["ok", "ARG", "TRUNCATED", "MAGIC", "VERSION", "TOO_BIG", "HEADER", "CRC", "SHA", "LAYER", "SHAPE",
          "TENSOR", "OVERFLOW", "SCRATCH"]


class _Error(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("layer", ctypes.c_int), ("message", ctypes.c_char * 96)]


class _Model(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("total_bytes", ctypes.c_uint32), ("n_layers", ctypes.c_uint16),
                ("input_shape", ctypes.c_uint16 * 3), ("output_shape", ctypes.c_uint16 * 3),
                ("input_bytes", ctypes.c_uint32), ("output_count", ctypes.c_uint32),
                ("scratch_bytes", ctypes.c_uint32), ("act_slot", ctypes.c_uint32),
                ("output_scale", ctypes.c_float), ("name", ctypes.c_char * 20), ("sha256", ctypes.c_uint8 * 32)]


class BlobRefused(ValueError):
    def __init__(self, status: int, layer: int, message: str):
        self.status, self.layer, self.reason = status, layer, message
        name = STATUS[status] if 0 <= status < len(STATUS) else str(status)
        super().__init__(f"blob refused: BLOB_E_{name} (layer {layer}): {message}")

    @property
    def name(self) -> str:
        return STATUS[self.status] if 0 <= self.status < len(STATUS) else str(self.status)


def library(flags: list[str] | None = None) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(build("blob", BLOB_SOURCES, shared=True, flags=flags or ["-O2"])))
    lib.blob_open.restype = ctypes.c_int
    lib.blob_open.argtypes = [ctypes.POINTER(_Model), ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                              ctypes.c_int, ctypes.POINTER(_Error)]
    lib.blob_run.restype = ctypes.c_int
    lib.blob_run.argtypes = [ctypes.POINTER(_Model), ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                             ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
    return lib


class HostBlob:
    """A blob opened by the C runtime (BlobRefused if it is not accepted)."""

    def __init__(self, data: bytes, scratch_budget: int = 1 << 20, check_sha: bool = True,
                 lib: ctypes.CDLL | None = None):
        self._lib = lib or library()
        # a 4-aligned copy of exactly len(data) bytes (numpy allocations are 16-aligned)
        self._data = np.frombuffer(bytes(data), np.uint8).copy()
        self.model, err = _Model(), _Error()
        s = self._lib.blob_open(ctypes.byref(self.model), self._data.ctypes.data, len(self._data), scratch_budget,
                                int(check_sha), ctypes.byref(err))
        if s != 0:
            raise BlobRefused(s, err.layer, err.message.decode(errors="replace"))
        self._scratch = np.zeros((self.model.scratch_bytes + 3) // 4, np.uint32)

    @property
    def name(self) -> str:
        return self.model.name.decode()

    def __call__(self, x_u8: np.ndarray) -> np.ndarray:
        n_in, n_out = self.model.input_bytes, self.model.output_count
        x = np.ascontiguousarray(np.asarray(x_u8, np.uint8).reshape(len(x_u8), n_in))
        out = np.zeros((len(x), n_out), np.int32)
        for i in range(len(x)):
            s = self._lib.blob_run(ctypes.byref(self.model), x[i].ctypes.data, n_in, out[i].ctypes.data, n_out,
                                   self._scratch.ctypes.data, self._scratch.nbytes)
            if s != 0:
                raise BlobRefused(s, -1, "blob_run refused its arguments")
        return out
