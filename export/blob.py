"""pico4ml-export-blob: write an int8 checkpoint as a model blob (docs/model-format.md).

A blob is one self-describing file (header, layer table, int8 or packed 4-/2-bit tensors,
SHA-256, CRC-32) that
core/blob.c validates and runs from memory, so a model can change without rebuilding the
firmware. This module also holds the blob's numpy integer reference runner
(`reference_forward`), written from the format document alone: it is the ground truth the C
runtime must equal bit for bit.

Checkpoints:
  - the int8 MLP of pico4ml-quantize (models/<name>_int8.safetensors + .json), converted to
    flatten + dense (RELU_U8) ... + dense (LOGITS_I32);
  - the int8 CNN of pico4ml-quantize (train/quantize_cnn.py), converted to conv2d + maxpool
    per convolution, flatten, dense ... dense;
  - any int8 model described layer by layer: a JSON list (`--layers FILE`, or the
    checkpoint's .json key "blob_layers") of {"type": "conv2d"|"maxpool"|"flatten"|"dense",
    "tensors": "<prefix>", "mode": "relu"|"logits", "shift": S, "pad": 0|1}, with the tensors
    <prefix>.weight (dense int8 [in][out], conv2d int8 [3][3][in][out]), <prefix>.bias,
    <prefix>.mult and, for "relu", <prefix>.cap in the safetensors file; the .json's
    "output_scale" (logit = output * output_scale, default 1) and "input_shape" ([28, 28, 1]).

A checkpoint of pico4ml-qat (train/qat.py) names its layers' "weight_bits" in its .json: the
4- or 2-bit layers are packed (format version 2, docs/model-format.md "Low-bit weights").

`--c-source DIR/NAME` writes the blob as a built-in model's C instead (export/blob_c.py).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"P4MB"
FORMAT_VERSION = 2          # written when a layer has low-bit weights; all-int8 blobs stay version 1
VERSIONS = (1, 2)
WEIGHT_BITS = (8, 4, 2)     # dense weights: int8, or packed signed 4- or 2-bit (format version 2)
HEADER_BYTES = 96
LAYER_BYTES = 32
NAME_BYTES = 20
MAX_BYTES = 1 << 20
MAX_LAYERS = 32
MAX_DIM = 4096
MAX_ACT = 65536
ABSENT = 0xFFFFFFFF
INT32_MAX = 2**31 - 1

DENSE, CONV2D, MAXPOOL, FLATTEN = 1, 2, 3, 4
RELU_U8, LOGITS_I32 = 1, 2
TYPE_NAMES = {"dense": DENSE, "conv2d": CONV2D, "maxpool": MAXPOOL, "flatten": FLATTEN}
MODE_NAMES = {"relu": RELU_U8, "logits": LOGITS_I32}

_HEADER = struct.Struct("<4sHHIHH3H3HIII20sf32s")
_LAYER = struct.Struct("<BBBB3H3HIIII")
assert _HEADER.size == HEADER_BYTES and _LAYER.size == LAYER_BYTES


class BlobError(ValueError):
    """A blob (or a checkpoint to make one from) that breaks the format's rules."""


@dataclass
class Layer:
    type: int
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    mode: int = 0
    shift: int = 0
    pad: int = 0
    weight: np.ndarray | None = None   # int8: dense [in][out], conv2d [3][3][in][out]
    bias: np.ndarray | None = None     # int32 [out_c]
    mult: np.ndarray | None = None
    cap: np.ndarray | None = None
    weight_bits: int = 8               # 4 or 2: stored packed (pack_weights), dense only


@dataclass
class Blob:
    name: str
    input_shape: tuple[int, int, int]
    layers: list[Layer]
    output_scale: float = 1.0          # logit = output * output_scale
    sha256: bytes = b""
    scratch_bytes: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return self.layers[-1].out_shape


# ---------------------------------------------------------------- shapes and rules

def _align4(n: int) -> int:
    return (n + 3) & ~3


def out_shape(type_: int, in_shape: tuple[int, int, int], pad: int = 0, out_c: int = 0) -> tuple[int, int, int]:
    h, w, c = in_shape
    if type_ == DENSE:
        return (1, 1, out_c)
    if type_ == CONV2D:
        return (h + 2 * pad - 2, w + 2 * pad - 2, out_c)
    if type_ == MAXPOOL:
        return (h // 2, w // 2, c)
    if type_ == FLATTEN:
        return (1, 1, h * w * c)
    raise BlobError(f"unknown layer type {type_}")


def weight_range(bits: int) -> tuple[int, int]:
    """Two's complement range of a bits-wide weight: -128..127, -8..7, -2..1."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def weight_bytes(n: int, bits: int) -> int:
    """Bytes of n packed weights (the tensor's size; the exporter pads it to 4)."""
    return (n * bits + 7) // 8


def pack_weights(w: np.ndarray, bits: int) -> bytes:
    """Weights in storage order (dense [in][out], row-major), element e in bits [e*bits, (e+1)*bits)
    of the stream, little-endian within each byte (so for 4 bits: even e in the low nibble),
    two's complement. bits 8: the int8 bytes themselves."""
    flat = np.ascontiguousarray(w).astype(np.int8).reshape(-1)
    if bits == 8:
        return flat.tobytes()
    per = 8 // bits
    u = (flat.astype(np.int16) & ((1 << bits) - 1)).astype(np.uint8)
    u = np.concatenate([u, np.zeros((-len(u)) % per, np.uint8)])
    out = np.zeros(len(u) // per, np.uint8)
    for k in range(per):
        out |= (u[k::per] << (k * bits)).astype(np.uint8)
    return out.tobytes()


def unpack_weights(data: bytes, n: int, bits: int) -> np.ndarray:
    """n int8 weights from their packed bytes (pack_weights' inverse), sign-extended."""
    b = np.frombuffer(data, np.uint8, weight_bytes(n, bits))
    if bits == 8:
        return b.view(np.int8).copy()
    per, mask, half = 8 // bits, (1 << bits) - 1, 1 << (bits - 1)
    u = np.stack([(b >> (k * bits)) & mask for k in range(per)], axis=1).reshape(-1)[:n].astype(np.int16)
    return ((u ^ half) - half).astype(np.int8)


def fan_in(layer: Layer) -> int:
    c = layer.in_shape[2]
    return c if layer.type == DENSE else 9 * c


def fused(layers: list[Layer], i: int) -> bool:
    """A conv2d followed by a max pool: the runtime pools each 2x2 block as it computes it,
    so the conv's own output is never stored (docs/model-format.md, Scratch)."""
    return layers[i].type == CONV2D and i + 1 < len(layers) and layers[i + 1].type == MAXPOOL


def scratch_need(layers: list[Layer]) -> int:
    act = [int(np.prod(l.out_shape)) for i, l in enumerate(layers)
           if l.type != FLATTEN and l.mode != LOGITS_I32 and not fused(layers, i)]
    acc = [l.out_shape[2] for l in layers if l.type in (DENSE, CONV2D)]
    return 2 * _align4(max(act, default=0)) + 4 * max(acc, default=0)


def check_layers(input_shape: tuple[int, int, int], layers: list[Layer]) -> None:
    """The format's rules on a layer list (the C runtime checks the same on the bytes)."""
    if not 1 <= len(layers) <= MAX_LAYERS:
        raise BlobError(f"{len(layers)} layers: a blob has 1..{MAX_LAYERS}")
    shape = tuple(input_shape)
    for i, l in enumerate(layers):
        where = f"layer {i}"
        if tuple(l.in_shape) != shape:
            raise BlobError(f"{where}: input shape {l.in_shape} does not chain from {shape}")
        if any(not 1 <= d <= MAX_DIM for d in (*l.in_shape, *l.out_shape)):
            raise BlobError(f"{where}: a dimension outside 1..{MAX_DIM} ({l.in_shape} -> {l.out_shape})")
        if l.type in (DENSE, CONV2D):
            if l.mode not in (RELU_U8, LOGITS_I32):
                raise BlobError(f"{where}: mode {l.mode}")
            if (l.mode == LOGITS_I32) != (i == len(layers) - 1):
                raise BlobError(f"{where}: the last layer, and only it, is LOGITS_I32")
            k = l.out_shape[2]
            if l.type == DENSE and l.in_shape[:2] != (1, 1):
                raise BlobError(f"{where}: dense needs a flat (1, 1, N) input, got {l.in_shape}: flatten first")
            if l.type == CONV2D and l.pad not in (0, 1):
                raise BlobError(f"{where}: conv2d pad {l.pad} (0 or 1)")
            if l.weight_bits not in WEIGHT_BITS or (l.weight_bits != 8 and l.type != DENSE):
                raise BlobError(f"{where}: {l.weight_bits}-bit weights (dense: 8, 4 or 2; conv2d: 8)")
            want_w = (l.in_shape[2], k) if l.type == DENSE else (3, 3, l.in_shape[2], k)
            if l.weight is None or l.weight.shape != want_w or l.weight.dtype != np.int8:
                raise BlobError(f"{where}: weights must be int8{want_w}")
            lo, hi = weight_range(l.weight_bits)
            if l.weight_bits != 8 and l.weight.size and (l.weight.min() < lo or l.weight.max() > hi):
                raise BlobError(f"{where}: a weight outside {lo}..{hi} cannot be stored in {l.weight_bits} bits")
            for name in ("bias", "mult") + (("cap",) if l.mode == RELU_U8 else ()):
                a = getattr(l, name)
                if a is None or a.shape != (k,):
                    raise BlobError(f"{where}: {name} must have {k} entries")
            if l.mode == RELU_U8 and not 1 <= l.shift <= 30:
                raise BlobError(f"{where}: shift {l.shift} outside 1..30")
            _check_bounds(l, where)
        elif l.type in (MAXPOOL, FLATTEN):
            if i == len(layers) - 1:
                raise BlobError(f"{where}: the last layer must be dense or conv2d (int32 logits)")
        else:
            raise BlobError(f"{where}: unknown type {l.type}")
        expect = out_shape(l.type, l.in_shape, l.pad, l.out_shape[2])
        if tuple(l.out_shape) != expect:
            raise BlobError(f"{where}: output shape {l.out_shape}, the layer gives {expect}")
        if l.mode != LOGITS_I32 and np.prod(l.out_shape) > MAX_ACT:
            raise BlobError(f"{where}: activation of {np.prod(l.out_shape)} bytes (max {MAX_ACT})")
        shape = tuple(l.out_shape)


def _check_bounds(l: Layer, where: str) -> None:
    """No input can make an int32 sum wrap (docs/model-format.md, 'What the runtime proves')."""
    f = fan_in(l) * 255 * (1 << (l.weight_bits - 1))  # |x * w| for uint8 x, w of its bits (-128 included)
    bias, mult = l.bias.astype(np.int64), l.mult.astype(np.int64)
    if l.mode == RELU_U8:
        cap = l.cap.astype(np.int64)
        ok = (mult >= 0) & (cap >= 0) & (cap * mult + (1 << (l.shift - 1)) <= INT32_MAX) & \
             (f + np.abs(bias) <= INT32_MAX)
    else:
        ok = f * np.abs(mult) + np.abs(bias) <= INT32_MAX
    if not ok.all():
        raise BlobError(f"{where}: constants of channel {int(np.argmin(ok))} could overflow int32")


# ---------------------------------------------------------------- bytes

def _tensors(l: Layer) -> list[tuple[str, np.ndarray | None]]:
    return [("weight", l.weight), ("bias", l.bias), ("mult", l.mult), ("cap", l.cap)]


def to_bytes(blob: Blob) -> bytes:
    check_layers(blob.input_shape, blob.layers)
    name = blob.name.encode()
    if not (np.isfinite(np.float32(blob.output_scale)) and np.float32(blob.output_scale) > 0):
        raise BlobError(f"output scale {blob.output_scale} must be finite and > 0")
    if len(name) >= NAME_BYTES:
        raise BlobError(f"name {blob.name!r} longer than {NAME_BYTES - 1} bytes")
    payload = bytearray()
    records = []
    for l in blob.layers:
        offs = []
        for tname, a in _tensors(l):
            if a is None or l.type in (MAXPOOL, FLATTEN) or (tname == "cap" and l.mode != RELU_U8):
                offs.append(ABSENT)
                continue
            offs.append(len(payload))
            if tname == "weight":
                payload += pack_weights(a, l.weight_bits)
            else:
                payload += np.ascontiguousarray(a).astype("<i4").tobytes()
            payload += bytes(_align4(len(payload)) - len(payload))
        code = 0 if l.weight_bits == 8 else l.weight_bits  # byte 3: pad | weight-bits code << 4
        records.append(_LAYER.pack(l.type, l.mode, l.shift, l.pad | code << 4, *l.in_shape, *l.out_shape, *offs))
    payload_offset = HEADER_BYTES + LAYER_BYTES * len(blob.layers)
    total = payload_offset + len(payload) + 4
    if total > MAX_BYTES:
        raise BlobError(f"blob of {total} bytes exceeds the format's {MAX_BYTES}")
    sha = hashlib.sha256(payload).digest()
    version = 1 if all(l.weight_bits == 8 for l in blob.layers) else 2  # what a v1 runtime can read stays v1
    header = _HEADER.pack(MAGIC, version, HEADER_BYTES, total, len(blob.layers), 0, *blob.input_shape,
                          *blob.output_shape, scratch_need(blob.layers), payload_offset, len(payload), name,
                          blob.output_scale, sha)
    body = header + b"".join(records) + bytes(payload)
    return body + struct.pack("<I", zlib.crc32(body))


def from_bytes(data: bytes) -> Blob:
    """Parse and check a blob (the same rules as core/blob.c, by the document)."""
    data = bytes(data)
    if len(data) < HEADER_BYTES + 4:
        raise BlobError(f"truncated: {len(data)} bytes, a header needs {HEADER_BYTES}")
    (magic, version, hbytes, total, n, flags, ih, iw, ic, oh, ow, oc, scratch, poff, pbytes, name, scale,
     sha) = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise BlobError(f"bad magic {magic!r}")
    if version not in VERSIONS or hbytes != HEADER_BYTES:
        raise BlobError(f"format version {version} (header {hbytes} bytes); this reader knows {VERSIONS}")
    if total > len(data):
        raise BlobError(f"truncated: header says {total} bytes, have {len(data)}")
    if (flags or total % 4 or poff != HEADER_BYTES + LAYER_BYTES * n or poff + pbytes + 4 != total
            or b"\0" not in name or not (np.isfinite(scale) and scale > 0)):
        raise BlobError("inconsistent header")
    (crc,) = struct.unpack_from("<I", data, total - 4)
    if zlib.crc32(data[:total - 4]) != crc:
        raise BlobError("CRC-32 mismatch")
    payload = data[poff:poff + pbytes]
    if hashlib.sha256(payload).digest() != sha:
        raise BlobError("SHA-256 of the weights mismatch")
    layers = []
    for i in range(n):
        t, mode, shift, pad, *rest = _LAYER.unpack_from(data, HEADER_BYTES + LAYER_BYTES * i)
        ins, outs, offs = tuple(rest[0:3]), tuple(rest[3:6]), rest[6:10]
        pad, code = pad & 15, pad >> 4
        if code not in (0, 4, 2) or (code and (version < 2 or t != DENSE)):
            raise BlobError(f"layer {i}: weight-bits code {code} (0, 4 or 2 for a dense layer of a version 2 blob)")
        l = Layer(t, ins, outs, mode, shift, pad, weight_bits=code or 8)
        if t not in (DENSE, CONV2D) and (mode or shift or pad or any(o != ABSENT for o in offs)):
            raise BlobError(f"layer {i}: pool/flatten with non-zero fields or tensors")
        if t in (DENSE, CONV2D) and ((mode == LOGITS_I32 and (offs[3] != ABSENT or shift)) or (t == DENSE and pad)):
            raise BlobError(f"layer {i}: unused fields must be zero (absent cap for LOGITS_I32)")
        if t in (DENSE, CONV2D):
            k = outs[2]
            wshape = (ins[2], k) if t == DENSE else (3, 3, ins[2], k)
            for (tname, _), off, (dtype, shape) in zip(_tensors(l), offs,
                                                       [("i1", wshape), ("<i4", (k,)), ("<i4", (k,)), ("<i4", (k,))]):
                if tname == "cap" and mode != RELU_U8:
                    continue
                count = int(np.prod(shape))
                nbytes = weight_bytes(count, l.weight_bits) if tname == "weight" else count * 4
                if off == ABSENT or off % 4 or off + nbytes > pbytes:
                    raise BlobError(f"layer {i}: {tname} tensor outside the payload")
                if tname == "weight":
                    l.weight = unpack_weights(payload[off:off + nbytes], count, l.weight_bits).reshape(shape)
                else:
                    setattr(l, tname, np.frombuffer(payload, dtype, count, off).reshape(shape))
        layers.append(l)
    check_layers((ih, iw, ic), layers)
    if (oh, ow, oc) != layers[-1].out_shape:
        raise BlobError("header output shape does not match the last layer")
    if scratch != scratch_need(layers):
        raise BlobError(f"scratch_bytes {scratch}, the layers need {scratch_need(layers)}")
    return Blob(name.split(b"\0")[0].decode(errors="replace"), (ih, iw, ic), layers, scale, sha, scratch)


# ---------------------------------------------------------------- the integer reference

def _requant(acc: np.ndarray, l: Layer) -> np.ndarray:
    """acc int64 [..., k] (bias not yet added) -> uint8 or int32, by the layer's mode."""
    if l.mode == RELU_U8:
        a = np.minimum(np.maximum(acc + l.bias.astype(np.int64), 0), l.cap.astype(np.int64))
        return ((a * l.mult.astype(np.int64) + (1 << (l.shift - 1))) >> l.shift).astype(np.uint8)
    return (acc * l.mult.astype(np.int64) + l.bias.astype(np.int64)).astype(np.int32)


def _conv3x3(x: np.ndarray, w: np.ndarray, pad: int) -> np.ndarray:
    """x [N, H, W, C] int64, w [3, 3, C, K] -> [N, H', W', K], exact (int64 einsum)."""
    if pad:
        x = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    n, h, wd, c = x.shape
    oh, ow = h - 2, wd - 2
    acc = np.zeros((n, oh, ow, w.shape[3]), np.int64)
    for ky in range(3):
        for kx in range(3):
            acc += np.einsum("nhwc,ck->nhwk", x[:, ky:ky + oh, kx:kx + ow, :], w[ky, kx].astype(np.int64))
    return acc


def reference_forward(blob: Blob, x_u8: np.ndarray) -> np.ndarray:
    """int32 outputs [N, out_c] for uint8 inputs [N, H, W, C] (or [N, H*W*C]): the ground truth."""
    h, w, c = blob.input_shape
    x = np.asarray(x_u8, np.uint8).reshape(len(x_u8), h, w, c).astype(np.int64)
    for l in blob.layers:
        if l.type == DENSE:
            flat = x.reshape(len(x), -1)
            # float64 BLAS is exact here: every partial sum is an integer below 2^53
            acc = (flat.astype(np.float64) @ l.weight.astype(np.float64)).astype(np.int64)
            x = _requant(acc, l).reshape(len(x), 1, 1, -1)
        elif l.type == CONV2D:
            x = _requant(_conv3x3(x, l.weight, l.pad), l)
        elif l.type == MAXPOOL:
            n, hh, ww, cc = x.shape
            x = x[:, :hh // 2 * 2, :ww // 2 * 2].reshape(n, hh // 2, 2, ww // 2, 2, cc).max(axis=(2, 4))
        elif l.type == FLATTEN:
            x = x.reshape(len(x), 1, 1, -1)
        x = x.astype(np.int64)
    return x.reshape(len(x), -1).astype(np.int32)


# ---------------------------------------------------------------- from checkpoints

def from_mlp(q, name: str) -> Blob:
    """A QuantizedMLP (pico4ml.train.quantize) as flatten + dense ... dense."""
    shape = (28, 28, 1) if q.widths[0] == 784 else (1, 1, q.widths[0])
    layers = [Layer(FLATTEN, shape, (1, 1, q.widths[0]))]
    bits = list(q.metadata.get("weight_bits") or [8] * (len(q.hidden) + 1))  # pico4ml-qat's low-bit layers
    for hl, b in zip(q.hidden, bits):
        n, m = hl.weight.shape
        layers.append(Layer(DENSE, (1, 1, n), (1, 1, m), RELU_U8, q.shift, 0, hl.weight, hl.bias, hl.mult, hl.cap,
                            int(b)))
    n, m = q.output.weight.shape
    layers.append(Layer(DENSE, (1, 1, n), (1, 1, m), LOGITS_I32, 0, 0, q.output.weight, q.output.bias,
                        q.output.mult, None, int(bits[-1])))
    return Blob(name, shape, layers, q.output.out_scale)


def from_cnn(q, name: str) -> Blob:
    """A QuantizedCNN (pico4ml.train.quantize_cnn: 3x3 valid conv + requantise + 2x2 max pool
    per conv, then the MLP's dense layers on the (C, H, W) features) in the blob's layers:
    conv weights [out][in][ky][kx] -> [ky][kx][in][out], and the first dense layer's rows from
    (c, y, x) to the blob's channels-last (y, x, c) order."""
    shape = (28, 28, 1)
    layers = []
    for c in q.convs:
        w = np.ascontiguousarray(np.asarray(c.weight, np.int8).transpose(2, 3, 1, 0))
        conv_out = out_shape(CONV2D, shape, 0, w.shape[3])
        layers.append(Layer(CONV2D, shape, conv_out, RELU_U8, q.shift, 0, w, c.bias, c.mult, c.cap))
        layers.append(Layer(MAXPOOL, conv_out, out_shape(MAXPOOL, conv_out)))
        shape = layers[-1].out_shape
    h, w_, ch = shape
    layers.append(Layer(FLATTEN, shape, (1, 1, h * w_ * ch)))
    dense = [(l.weight, l.bias, l.mult, l.cap, RELU_U8) for l in q.hidden] + \
            [(q.output.weight, q.output.bias, q.output.mult, None, LOGITS_I32)]
    for i, (w, b, m, cap, mode) in enumerate(dense):
        w = np.asarray(w, np.int8)
        if i == 0:  # (c, y, x) rows -> (y, x, c)
            w = np.ascontiguousarray(w.reshape(ch, h, w_, -1).transpose(1, 2, 0, 3).reshape(h * w_ * ch, -1))
        n, k = w.shape
        layers.append(Layer(DENSE, (1, 1, n), (1, 1, k), mode, q.shift if mode == RELU_U8 else 0, 0, w, b, m, cap))
    return Blob(name, (28, 28, 1), layers, q.output.out_scale)


def from_description(desc: list[dict], tensors: dict[str, np.ndarray], name: str,
                     input_shape: tuple[int, int, int] = (28, 28, 1), output_scale: float = 1.0) -> Blob:
    """A layer list (module docstring) with its tensors, shapes inferred from the input on."""
    shape, layers = tuple(input_shape), []
    for i, d in enumerate(desc):
        try:
            t = TYPE_NAMES[d["type"]]
        except KeyError:
            raise BlobError(f"layer {i}: type {d.get('type')!r}, expected one of {sorted(TYPE_NAMES)}") from None
        if t in (MAXPOOL, FLATTEN):
            layers.append(Layer(t, shape, out_shape(t, shape)))
        else:
            prefix = d.get("tensors", f"layers.{i}")
            mode = MODE_NAMES.get(d.get("mode", "relu"))
            if mode is None:
                raise BlobError(f"layer {i}: mode {d.get('mode')!r}, expected relu or logits")
            try:
                wt = np.asarray(tensors[f"{prefix}.weight"])
                get = lambda k: np.asarray(tensors[f"{prefix}.{k}"])  # noqa: E731
                bias, mult = get("bias"), get("mult")
                cap = get("cap") if mode == RELU_U8 else None
            except KeyError as e:
                raise BlobError(f"layer {i}: tensor {e} missing from the checkpoint") from None
            pad = int(d.get("pad", 0)) if t == CONV2D else 0
            layers.append(Layer(t, shape, out_shape(t, shape, pad, wt.shape[-1]), mode,
                                int(d.get("shift", 0)) if mode == RELU_U8 else 0, pad, wt, bias, mult, cap))
        shape = layers[-1].out_shape
    return Blob(name, tuple(input_shape), layers, output_scale)


def load_checkpoint(path: Path, layers_json: Path | None = None, name: str | None = None) -> Blob:
    """An int8 checkpoint (safetensors + .json sidecar) as a Blob."""
    from safetensors.numpy import load_file
    from pico4ml.train.quantize import QuantizeError, load_quantized

    path = Path(path)
    meta_path = path.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    except json.JSONDecodeError as e:
        raise BlobError(f"{meta_path}: not JSON ({e})") from e
    default_name = (meta.get("architecture") or path.stem)[:NAME_BYTES - 1]
    if layers_json is not None or "blob_layers" in meta:
        try:
            desc = json.loads(Path(layers_json).read_text()) if layers_json else meta["blob_layers"]
            tensors = load_file(str(path))
        except (OSError, json.JSONDecodeError) as e:
            raise BlobError(f"cannot read the layer description or tensors: {e}") from e
        except Exception as e:  # safetensors raises its own types for a damaged file
            raise BlobError(f"{path}: not a readable safetensors file ({e})") from e
        if not isinstance(desc, list):
            raise BlobError("the layer description must be a JSON list of layers")
        return from_description(desc, tensors, name or default_name,
                                tuple(meta.get("input_shape", (28, 28, 1))), float(meta.get("output_scale", 1.0)))
    try:
        from pico4ml.train import quantize_cnn  # the int8 CNN (issue 12 part 1), where it is there
    except ImportError:
        quantize_cnn = None
    try:
        if quantize_cnn is not None and quantize_cnn.is_cnn_file(path):
            return from_cnn(quantize_cnn.load_quantized(path), name or f"{default_name}-int8"[:NAME_BYTES - 1])
        q = load_quantized(path)
    except QuantizeError as e:
        raise BlobError(str(e)) from e
    bits = min(q.metadata.get("weight_bits") or [8])  # a pico4ml-qat model says so: mlp784_400_10-q4
    return from_mlp(q, name or f"{default_name}-{'int8' if bits == 8 else f'q{bits}'}"[:NAME_BYTES - 1])


def write_blob(blob: Blob, out: Path, force: bool = False) -> bytes:
    from pico4ml.export.files import refuse_existing
    out = Path(out)
    refuse_existing([out], force)
    data = to_bytes(blob)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(out)
    return data


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pico4ml-export-blob", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", type=Path, help="int8 checkpoint (.safetensors with its .json)")
    dest = p.add_mutually_exclusive_group(required=True)
    dest.add_argument("-o", "--out", type=Path, help="blob file to write")
    dest.add_argument("--c-source", type=Path, metavar="DIR/NAME",
                      help="instead, write DIR/NAME.c, NAME.h and NAME_test_vectors.h: the blob built into the "
                           "firmware as const data, run by net_<NAME without model_>() (export/blob_c.py)")
    p.add_argument("--layers", type=Path, help="JSON layer description (default: the .json's blob_layers, "
                                               "else the int8 MLP)")
    p.add_argument("--name", help=f"model name stored in the blob (at most {NAME_BYTES - 1} bytes)")
    p.add_argument("--data-dir", help="MNIST directory, for --c-source's test vectors")
    p.add_argument("--force", action="store_true", help="overwrite an existing blob (or C files)")
    args = p.parse_args(argv)
    if args.c_source is not None:
        from pico4ml.export.blob_c import export_blob_c
        from pico4ml.export.files import run_cli
        from pico4ml.train.data import MnistError
        return run_cli(lambda: export_blob_c(args.checkpoint, args.c_source, args.name, data_dir=args.data_dir,
                                             force=args.force), args.c_source.parent, (BlobError, MnistError))
    try:
        blob = load_checkpoint(args.checkpoint, args.layers, args.name)
        data = write_blob(blob, args.out, args.force)
    except (BlobError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the output folder is not writable
        print(f"error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    check = from_bytes(data)
    print(f"wrote {args.out}: {len(data)} bytes, {len(check.layers)} layers, input {check.input_shape} -> "
          f"output {check.output_shape}, scratch {check.scratch_bytes} bytes, sha256 {check.sha256.hex()[:16]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
