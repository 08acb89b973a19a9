"""int8 post-training quantisation of a small CNN checkpoint (train/models.py CNN).

The MLP's integer scheme (train/quantize.py, docs/int8.md) extended to convolutions;
all arithmetic int32, no float anywhere:

  input     x = the 28x28 uint8 pixels themselves (scale 1/255, so exact), one channel
  conv i    acc[c][y][x] = bias[c] + sum_{ci,ky,kx} in[ci][y+ky][x+kx] * w[c][ci][ky][kx]
            (3x3, no padding; int8 w with one scale per output channel c)
            q = (min(max(acc, 0), cap[c]) * mult[c] + 2^(SHIFT-1)) >> SHIFT   -> 0..255
            out[c][y][x] = max of q over the 2x2 block (2y..2y+1, 2x..2x+1); an odd last
            row/column is dropped. ReLU, requantisation and saturation are the MLP hidden
            layer's, per output channel; since they never decrease with acc, pooling before
            or after them gives the same bytes.
  dense     the MLP's hidden layers on the flattened (C, H, W) uint8 features, then its
            output layer: int32 logits on one common scale (logit = out * out_scale).

Conv weights are stored as Conv2d's [out][in][3][3]; dense weights input-major [in][out]
as for the MLP. Activation scales are calibrated like the MLP's (a percentile of each
layer's pooled activations, chosen by held-out logit error). `cnn_int8_forward` is the
ground truth the exported C (export/cnn_int8.py) must equal bit for bit.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pico4ml.train.models import IMAGE_SIDE, conv3x3_valid, max_pool2, n_convs
from pico4ml.train.quantize import (INPUT_SCALE, SHIFT, HiddenLayer, OutputLayer, QuantizeError, _check_int32,
                                    check_dense_shapes, choose_percentile, dense_layers, dense_tensors,
                                    hidden_forward, output_forward, quantize_dense, quantize_hidden,
                                    tensors_sha256, top_activation, write_model_file)


@dataclass
class ConvLayer:
    weight: np.ndarray      # int8 [out, in, 3, 3]
    bias: np.ndarray        # int32 [out], in units of in_scale * weight_scale[c]
    cap: np.ndarray         # int32 [out]
    mult: np.ndarray        # int32 [out]
    out_scale: float        # the uint8 activation's scale


@dataclass
class QuantizedCNN:
    convs: list[ConvLayer]
    hidden: list[HiddenLayer]
    output: OutputLayer
    shift: int = SHIFT
    metadata: dict = field(default_factory=dict)

    @property
    def conv_channels(self) -> tuple[int, ...]:
        return tuple(len(c.weight) for c in self.convs)

    @property
    def widths(self) -> tuple[int, ...]:
        """Dense widths, from the flattened features to the logits."""
        return (self.output.weight.shape[0] if not self.hidden else self.hidden[0].weight.shape[0],
                *(l.weight.shape[1] for l in self.hidden), self.output.weight.shape[1])

    @property
    def weight_bytes(self) -> int:
        """Every constant the C needs (weights, biases, caps, multipliers)."""
        return sum(a.nbytes for a in self.tensors().values())

    def tensors(self) -> dict[str, np.ndarray]:
        out = {}
        for i, c in enumerate(self.convs):
            out |= {f"convs.{i}.weight": c.weight, f"convs.{i}.bias": c.bias, f"convs.{i}.cap": c.cap,
                    f"convs.{i}.mult": c.mult}
        return out | dense_tensors(self.hidden, self.output)

    def sha256(self) -> str:
        return tensors_sha256(self.tensors())


# ---------------------------------------------------------------- the integer reference

def _int_conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact integer 3x3 valid convolution through float64 BLAS (every sum < 2^53)."""
    if w.shape[1] * 9 * 255 * 128 >= 2**53:
        raise QuantizeError("convolution too wide for an exact float64 sum")
    return np.rint(conv3x3_valid(x.astype(np.float64), w.astype(np.float64))).astype(np.int64)


def conv_forward(layer: ConvLayer, x: np.ndarray, shift: int = SHIFT) -> np.ndarray:
    """uint8 [N, Ci, H, W] -> uint8 [N, Co, (H-2)//2, (W-2)//2], exactly as the C computes it."""
    acc = _check_int32(_int_conv(x, layer.weight) + layer.bias[None, :, None, None].astype(np.int64),
                       "conv accumulator")
    clamped = np.minimum(np.maximum(acc, 0), layer.cap[None, :, None, None].astype(np.int64))
    q = _check_int32(clamped * layer.mult[None, :, None, None] + (1 << (shift - 1)), "requantisation product")
    return max_pool2(q >> shift).astype(np.uint8)


def cnn_int8_forward(q: QuantizedCNN, x_u8: np.ndarray, batch: int = 2000) -> np.ndarray:
    """int32 logits [N, 10] for uint8 images [N, 28, 28] (or [N, 784]): the ground truth."""
    x_u8 = np.asarray(x_u8, dtype=np.uint8)
    if len(x_u8) > batch:
        return np.concatenate([cnn_int8_forward(q, x_u8[i:i + batch], batch) for i in range(0, len(x_u8), batch)])
    x = x_u8.reshape(len(x_u8), 1, IMAGE_SIDE, IMAGE_SIDE)
    for layer in q.convs:
        x = conv_forward(layer, x, q.shift)
    x = x.reshape(len(x), -1)
    for layer in q.hidden:
        x = hidden_forward(layer, x, q.shift)
    return output_forward(q.output, x)


# ---------------------------------------------------------------- quantisation

def quantize_conv(w: np.ndarray, b: np.ndarray, in_scale: float, out_scale: float, shift: int = SHIFT) -> ConvLayer:
    """A conv is a dense layer over its [in, 3, 3] window: the MLP's per-channel scheme applies as is."""
    flat = quantize_hidden(w.reshape(len(w), -1), b, in_scale, out_scale, shift)
    weight = flat.weight.T.reshape(w.shape).copy()   # [in*9, out] -> [out, in, 3, 3]
    return ConvLayer(weight, flat.bias, flat.cap, flat.mult, out_scale)


def quantize(state: dict[str, np.ndarray], x_calib: np.ndarray, percentile: float = 99.99) -> QuantizedCNN:
    """Quantise layer by layer; each activation scale is calibrated on the already-quantised prefix."""
    nc = n_convs(state)
    if nc == 0:
        raise QuantizeError("not a CNN state dict (no convs.*)")
    try:
        convs_f = [(state[f"convs.{i}.weight"].astype(np.float32), state[f"convs.{i}.bias"].astype(np.float32))
                   for i in range(nc)]
        nd = (len(state) - 2 * nc) // 2
        dense_f = [(state[f"layers.{i}.weight"].astype(np.float32), state[f"layers.{i}.bias"].astype(np.float32))
                   for i in range(nd)]
    except KeyError as e:
        raise QuantizeError(f"not a CNN state dict: missing {e}") from e
    x_q = np.asarray(x_calib, np.uint8).reshape(len(x_calib), 1, IMAGE_SIDE, IMAGE_SIDE)
    in_scale = INPUT_SCALE
    convs = []
    for w, b in convs_f:
        act = max_pool2(np.maximum(conv3x3_valid(x_q.astype(np.float32) * np.float32(in_scale), w, b), 0))
        layer = quantize_conv(w, b, in_scale, top_activation(act, percentile) / 255.0)
        convs.append(layer)
        x_q = conv_forward(layer, x_q)
        in_scale = layer.out_scale
    hidden, output = quantize_dense(dense_f, x_q.reshape(len(x_q), -1), in_scale, percentile)
    return QuantizedCNN(convs, hidden, output, SHIFT, {"percentile": percentile})


def calibrate(state: dict[str, np.ndarray], x_train: np.ndarray, y_train: np.ndarray, n_calib: int = 2000,
              n_holdout: int = 5000, seed: int = 0) -> tuple[QuantizedCNN, dict[float, tuple[float, float]]]:
    """The activation percentile whose int8 logits best match the float model's on held-out
    training images, as train/quantize.py calibrate does for the MLP (choose_percentile)."""
    return choose_percentile(state, x_train, y_train, n_calib, n_holdout, seed,
                             lambda p, x: quantize(state, x, p), cnn_int8_forward)


# ---------------------------------------------------------------- files

def save_quantized(q: QuantizedCNN, path: Path, force: bool = False) -> None:
    meta = {**q.metadata, "kind": "cnn", "convs": list(q.conv_channels), "widths": list(q.widths), "shift": q.shift,
            "input_scale": INPUT_SCALE, "conv_scales": [c.out_scale for c in q.convs],
            "activation_scales": [l.out_scale for l in q.hidden], "output_scale": q.output.out_scale,
            "weight_bytes": q.weight_bytes, "int8_sha256": q.sha256()}
    write_model_file(q.tensors(), meta, path, force)


def is_cnn_file(path: Path) -> bool:
    """Whether an int8 model file's metadata says it is a CNN (False when unreadable)."""
    try:
        return json.loads(Path(path).with_suffix(".json").read_text()).get("kind") == "cnn"
    except (OSError, ValueError, AttributeError):
        return False


def load_quantized(path: Path) -> QuantizedCNN:
    from safetensors.numpy import load_file
    path = Path(path)
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise QuantizeError(f"int8 CNN {path} (and {meta_path.name}) not found: run pico4ml-quantize on the CNN")
    try:
        t = load_file(str(path))
        meta = json.loads(meta_path.read_text())
        convs = [ConvLayer(t[f"convs.{i}.weight"], t[f"convs.{i}.bias"], t[f"convs.{i}.cap"], t[f"convs.{i}.mult"],
                           float(meta["conv_scales"][i])) for i in range(len(meta["convs"]))]
        hidden, output = dense_layers(t, meta)
    except Exception as e:  # safetensors and json raise many types for a damaged file
        raise QuantizeError(f"{path}: not a readable int8 CNN ({e})") from e
    q = QuantizedCNN(convs, hidden, output, int(meta["shift"]), meta)
    chans = (1, *meta["convs"])
    for i, c in enumerate(convs):
        if c.weight.shape != (chans[i + 1], chans[i], 3, 3) or c.weight.dtype != np.int8:
            raise QuantizeError(f"{path}: conv {i} weight is {c.weight.dtype}{c.weight.shape}, "
                                f"expected int8({chans[i + 1]}, {chans[i]}, 3, 3)")
    check_dense_shapes(path, meta["widths"], hidden, output)
    if q.sha256() != meta.get("int8_sha256"):
        raise QuantizeError(f"{path}: tensors do not match the hash in {meta_path.name} (corrupt or edited)")
    return q
