"""pico4ml-quantize: int8 post-training quantisation of a float MLP checkpoint
(a CNN checkpoint goes through the same scheme extended to convolutions: train/quantize_cnn.py).

The integer model, layer by layer (all arithmetic int32, no float anywhere):

  input     x = the 28x28 uint8 pixels themselves (scale 1/255, so exact)
  hidden    acc[j] = bias[j] + sum_i x[i] * w[i][j]            int8 w, per-output-channel scale
            h[j]   = (min(max(acc[j], 0), cap[j]) * mult[j] + 2^(SHIFT-1)) >> SHIFT   -> 0..255
            (ReLU, requantisation to the next layer's uint8 scale, and saturation in one step:
            cap[j] is the smallest acc that gives 255, so the product never exceeds 2^31)
  output    out[k] = acc[k] * mult[k] + bias[k]                 int32 logits on one common scale
            (per-channel weight scales are mult[k] * base scale with mult[k] <= 127, so the
            scaling is exact and the product fits 32 bits for any input)

Weights are stored input-major ([in][out]) so a kernel can skip zero inputs (most of an
MNIST image) by walking whole rows. Activation scales are calibrated on training images
(a percentile of each hidden layer's activations, chosen on held-out training data).
`int8_forward` is the ground truth the exported C must equal bit for bit.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pico4ml.common.argtypes import ranged

SHIFT = 22                 # requantisation shift: 255.5 * 2^22 < 2^31 with room to spare
INT32_MAX = 2**31 - 1
INPUT_SCALE = 1.0 / 255.0
PERCENTILES = (99.9, 99.95, 99.99, 99.995, 99.999, 100.0)


class QuantizeError(RuntimeError):
    """The model cannot be quantised under the integer scheme (or a file is not an int8 model)."""


@dataclass
class HiddenLayer:
    weight: np.ndarray      # int8 [in, out]
    bias: np.ndarray        # int32 [out], in units of in_scale * weight_scale[j]
    cap: np.ndarray         # int32 [out]
    mult: np.ndarray        # int32 [out]
    weight_scale: np.ndarray  # float64 [out] (documentation / dequantisation only)
    out_scale: float        # the uint8 activation's scale


@dataclass
class OutputLayer:
    weight: np.ndarray      # int8 [in, out]
    bias: np.ndarray        # int32 [out], in units of out_scale
    mult: np.ndarray        # int32 [out], 1..127
    out_scale: float        # logit = out * out_scale


@dataclass
class QuantizedMLP:
    widths: tuple[int, ...]
    hidden: list[HiddenLayer]
    output: OutputLayer
    shift: int = SHIFT
    metadata: dict = field(default_factory=dict)

    @property
    def weight_bytes(self) -> int:
        """Every constant the C needs (weights, biases, caps, multipliers)."""
        return sum(a.nbytes for a in self.tensors().values())

    def tensors(self) -> dict[str, np.ndarray]:
        return dense_tensors(self.hidden, self.output)

    def sha256(self) -> str:
        return tensors_sha256(self.tensors())


# ---------------------------------------------------------------- tensor names and hash (the CNN's too)

def dense_tensors(hidden: list[HiddenLayer], output: OutputLayer) -> dict[str, np.ndarray]:
    """The dense layers' constants under their file names: layers.<i>.weight/bias/cap/mult."""
    out = {}
    for i, l in enumerate(hidden):
        out |= {f"layers.{i}.weight": l.weight, f"layers.{i}.bias": l.bias, f"layers.{i}.cap": l.cap,
                f"layers.{i}.mult": l.mult}
    n = len(hidden)
    return out | {f"layers.{n}.weight": output.weight, f"layers.{n}.bias": output.bias,
                  f"layers.{n}.mult": output.mult}


def tensors_sha256(tensors: dict[str, np.ndarray]) -> str:
    """The int8_sha256 of a model file: names and little-endian bytes, in name order."""
    h = hashlib.sha256()
    for name, a in sorted(tensors.items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------- the integer reference

def _check_int32(a: np.ndarray, what: str) -> np.ndarray:
    if a.size and (a.max() > INT32_MAX or a.min() < -INT32_MAX - 1):
        raise QuantizeError(f"{what} overflows int32 (the C would wrap)")
    return a


def _int_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact integer x @ w through float64 BLAS: every partial sum is an integer below 2^53."""
    if x.shape[1] * 255 * 128 >= 2**53:
        raise QuantizeError("layer too wide for an exact float64 matmul")
    return (x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)


def hidden_forward(layer: HiddenLayer, x: np.ndarray, shift: int = SHIFT) -> np.ndarray:
    """uint8 [N, in] -> uint8 [N, out], exactly as the C computes it."""
    acc = _check_int32(_int_matmul(x, layer.weight) + layer.bias, "hidden accumulator")
    clamped = np.minimum(np.maximum(acc, 0), layer.cap.astype(np.int64))
    q = _check_int32(clamped * layer.mult + (1 << (shift - 1)), "requantisation product") >> shift
    return q.astype(np.uint8)


def output_forward(layer: OutputLayer, x: np.ndarray) -> np.ndarray:
    acc = _check_int32(_int_matmul(x, layer.weight), "output accumulator")
    return _check_int32(acc * layer.mult + layer.bias, "output logits").astype(np.int32)


def int8_forward(q: QuantizedMLP, x_u8: np.ndarray) -> np.ndarray:
    """int32 logits [N, 10] for uint8 images [N, 28, 28] (or [N, 784]): the ground truth."""
    x = np.asarray(x_u8, dtype=np.uint8).reshape(len(x_u8), -1)
    for layer in q.hidden:
        x = hidden_forward(layer, x, q.shift)
    return output_forward(q.output, x)


def float_logits(q, out: np.ndarray) -> np.ndarray:
    """Dequantised logits of either integer model (a QuantizedMLP or quantize_cnn.QuantizedCNN)."""
    return out.astype(np.float64) * q.output.out_scale


# ---------------------------------------------------------------- quantisation

def _weight_int8(w_out_in: np.ndarray, scale: np.ndarray, qmax: int = 127) -> np.ndarray:
    """float [out, in] with per-output scales -> int8 [in, out] in -qmax..qmax (7 for 4-bit weights)."""
    return np.clip(np.round(w_out_in / scale[:, None]), -qmax, qmax).astype(np.int8).T.copy()


def quantize_hidden(w: np.ndarray, b: np.ndarray, in_scale: float, out_scale: float,
                    shift: int = SHIFT, qmax: int = 127) -> HiddenLayer:
    maxabs = np.abs(w).max(axis=1).astype(np.float64)
    wscale = np.where(maxabs > 0, maxabs / qmax, 1.0)
    real_mult = in_scale * wscale / out_scale
    if np.any(real_mult >= 1.0):
        raise QuantizeError("activation scale finer than the accumulator's: requantisation needs a multiplier >= 1")
    mult = np.round(real_mult * 2.0**shift).astype(np.int64)
    if np.any(mult < 1):
        raise QuantizeError("requantisation multiplier underflows; lower SHIFT's headroom or check the scales")
    # smallest acc whose rounded result is 255: beyond it the output saturates
    cap = -(-(255 * 2**shift - 2 ** (shift - 1)) // mult)
    if np.any(cap * mult + 2 ** (shift - 1) > INT32_MAX):
        raise QuantizeError("requantisation product could overflow int32")
    bias = np.round(b.astype(np.float64) / (in_scale * wscale)).astype(np.int64)
    bound = w.shape[1] * 255 * 127 + np.abs(bias).max()
    if bound > INT32_MAX:
        raise QuantizeError(f"hidden accumulator bound {bound} exceeds int32")
    return HiddenLayer(_weight_int8(w, wscale, qmax), bias.astype(np.int32), cap.astype(np.int32),
                       mult.astype(np.int32), wscale, out_scale)


def quantize_output(w: np.ndarray, b: np.ndarray, in_scale: float) -> OutputLayer:
    maxabs = np.abs(w).max(axis=1).astype(np.float64)
    maxabs = np.where(maxabs > 0, maxabs, maxabs.max() or 1.0)
    acc_bound = w.shape[1] * 255 * 127
    for mult_max in (127, 63, 31, 15):
        base = maxabs.max() / 127.0 / mult_max           # weight scale of the widest channel at mult_max
        mult = np.ceil(maxabs / 127.0 / base - 1e-9).clip(1, mult_max).astype(np.int64)
        out_scale = in_scale * base
        bias = np.round(b.astype(np.float64) / out_scale).astype(np.int64)
        if acc_bound * mult_max + np.abs(bias).max() <= INT32_MAX:
            break
    else:
        raise QuantizeError("output layer cannot be scaled into int32")
    return OutputLayer(_weight_int8(w, mult * base), bias.astype(np.int32), mult.astype(np.int32), out_scale)


def _layers(state: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    n = len(state) // 2
    try:
        return [(np.asarray(state[f"layers.{i}.weight"], np.float32), np.asarray(state[f"layers.{i}.bias"], np.float32))
                for i in range(n)]
    except KeyError as e:
        raise QuantizeError(f"not an MLP state dict: missing {e}") from e


def quantize_dense(layers: list[tuple[np.ndarray, np.ndarray]], x_q: np.ndarray, in_scale: float,
                   percentile: float, hidden_qmax: int = 127) -> tuple[list[HiddenLayer], OutputLayer]:
    """Dense layers (float [out, in] weights, biases) on uint8 features x_q of scale in_scale: each
    hidden activation scale is the percentile of its float activations on the quantised prefix."""
    hidden = []
    for w, b in layers[:-1]:
        act = np.maximum(x_q.astype(np.float32) * np.float32(in_scale) @ w.T + b, 0)
        layer = quantize_hidden(w, b, in_scale, top_activation(act, percentile) / 255.0, qmax=hidden_qmax)
        hidden.append(layer)
        x_q = hidden_forward(layer, x_q)
        in_scale = layer.out_scale
    return hidden, quantize_output(*layers[-1], in_scale)


def top_activation(act: np.ndarray, percentile: float) -> float:
    top = float(np.percentile(act, percentile))
    if top <= 0:
        raise QuantizeError("a layer is dead on the calibration data (all activations <= 0)")
    return top


def choose_percentile(state: dict[str, np.ndarray], x_train: np.ndarray, y_train: np.ndarray, n_calib: int,
                      n_holdout: int, seed: int, quantize_at, forward) -> tuple[object, dict[float, tuple[float, float]]]:
    """The model quantize_at(percentile, calibration images) whose integer logits (forward) best
    match the float model's on held-out training images (mean squared logit error; the model is
    near 100 % on its own training images, so accuracy alone cannot tell the candidates apart)."""
    from pico4ml.train.models import numpy_forward
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x_train))
    calib, hold = order[:n_calib], order[n_calib:n_calib + n_holdout]
    ref = numpy_forward(state, x_train[hold]).astype(np.float64)
    scores: dict[float, tuple[float, float]] = {}
    best = None
    for p in PERCENTILES:
        q = quantize_at(p, x_train[calib])
        out = forward(q, x_train[hold])
        mse = float(np.mean((float_logits(q, out) - ref) ** 2))
        scores[p] = (mse, float((out.argmax(1) == y_train[hold]).mean()))
        if best is None or mse < scores[best[0]][0]:
            best = (p, q)
    best[1].metadata |= {"calibration_images": n_calib, "holdout_images": n_holdout, "seed": seed,
                         "holdout_logit_mse_by_percentile": {str(k): v[0] for k, v in scores.items()}}
    return best[1], scores


def quantize(state: dict[str, np.ndarray], x_calib: np.ndarray, percentile: float = 99.99,
             hidden_qmax: int = 127) -> QuantizedMLP:
    """Quantise layer by layer; each activation scale is calibrated on the already-quantised prefix.
    hidden_qmax: the hidden layers' largest weight (7: 4-bit weights, train/qat.py); the output
    layer stays int8."""
    layers = _layers(state)
    widths = tuple([layers[0][0].shape[1]] + [w.shape[0] for w, _ in layers])
    x_q = np.asarray(x_calib, np.uint8).reshape(len(x_calib), -1)
    hidden, output = quantize_dense(layers, x_q, INPUT_SCALE, percentile, hidden_qmax)
    return QuantizedMLP(widths, hidden, output, SHIFT, {"percentile": percentile})


def calibrate(state: dict[str, np.ndarray], x_train: np.ndarray, y_train: np.ndarray, n_calib: int = 5000,
              n_holdout: int = 10000, seed: int = 0, hidden_qmax: int = 127) -> tuple[QuantizedMLP, dict[float, tuple[float, float]]]:
    """Pick the activation percentile whose int8 logits best match the float model's on
    held-out training images (choose_percentile)."""
    return choose_percentile(state, x_train, y_train, n_calib, n_holdout, seed,
                             lambda p, x: quantize(state, x, p, hidden_qmax), int8_forward)


# ---------------------------------------------------------------- files

def int8_path(float_checkpoint: Path) -> Path:
    p = Path(float_checkpoint)
    return p.with_name(p.stem + "_int8.safetensors")


def dense_layers(t: dict[str, np.ndarray], meta: dict) -> tuple[list[HiddenLayer], OutputLayer]:
    """The dense layers of a loaded model file (tensors t, its JSON metadata); KeyError if incomplete."""
    n = len(meta["widths"]) - 1
    hidden = [HiddenLayer(t[f"layers.{i}.weight"], t[f"layers.{i}.bias"], t[f"layers.{i}.cap"],
                          t[f"layers.{i}.mult"], np.zeros(0), float(meta["activation_scales"][i]))
              for i in range(n - 1)]
    output = OutputLayer(t[f"layers.{n - 1}.weight"], t[f"layers.{n - 1}.bias"], t[f"layers.{n - 1}.mult"],
                         float(meta["output_scale"]))
    return hidden, output


def check_dense_shapes(path: Path, widths, hidden: list[HiddenLayer], output: OutputLayer) -> None:
    layers = [*hidden, output]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        w = layers[i].weight
        if w.shape != (a, b) or w.dtype != np.int8:
            raise QuantizeError(f"{path}: layer {i} weight is {w.dtype}{w.shape}, expected int8({a}, {b})")


def write_model_file(tensors: dict[str, np.ndarray], meta: dict, path: Path, force: bool = False) -> None:
    """tensors as safetensors at path (atomically) and meta as the JSON next to it."""
    from safetensors.numpy import save_file
    path = Path(path)
    meta_path = path.with_suffix(".json")
    for p in (path, meta_path):
        if p.exists() and not force:
            raise FileExistsError(f"{p} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    save_file(tensors, str(tmp))
    tmp.chmod(0o644)
    tmp.replace(path)
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def save_quantized(q: QuantizedMLP, path: Path, force: bool = False) -> None:
    meta = {**q.metadata, "widths": list(q.widths), "shift": q.shift, "input_scale": INPUT_SCALE,
            "activation_scales": [l.out_scale for l in q.hidden], "output_scale": q.output.out_scale,
            "weight_bytes": q.weight_bytes, "int8_sha256": q.sha256()}
    write_model_file(q.tensors(), meta, path, force)


def load_quantized(path: Path) -> QuantizedMLP:
    from safetensors.numpy import load_file
    path = Path(path)
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise QuantizeError(f"int8 model {path} (and {meta_path.name}) not found: run pico4ml-quantize")
    try:
        t = load_file(str(path))
        meta = json.loads(meta_path.read_text())
        widths = tuple(meta["widths"])
        hidden, output = dense_layers(t, meta)
    except Exception as e:  # safetensors and json raise many types for a damaged file
        raise QuantizeError(f"{path}: not a readable int8 model ({e})") from e
    q = QuantizedMLP(widths, hidden, output, int(meta["shift"]), meta)
    check_dense_shapes(path, widths, hidden, output)
    if q.sha256() != meta.get("int8_sha256"):
        raise QuantizeError(f"{path}: tensors do not match the hash in {meta_path.name} (corrupt or edited)")
    return q


def main(argv: list[str] | None = None) -> int:
    from pico4ml.train.data import MnistError, load_mnist
    from pico4ml.train.models import CheckpointError, load_state, numpy_forward
    from pico4ml.common.paths import DEFAULT_CHECKPOINT

    p = argparse.ArgumentParser(prog="pico4ml-quantize", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="float model (default %(default)s)")
    p.add_argument("--out", type=Path, help="int8 model file (default: <checkpoint>_int8.safetensors)")
    p.add_argument("--calib-images", type=ranged(int, 1, 60000), default=5000,
                   help="training images for calibration (1..60000)")
    p.add_argument("--data-dir", help="MNIST directory (default: $PICO4ML_MNIST_DIR, then ../shared/data/mnist)")
    p.add_argument("--force", action="store_true", help="overwrite an existing int8 model")
    args = p.parse_args(argv)
    out = args.out or int8_path(args.checkpoint)
    if (out.exists() or out.with_suffix(".json").exists()) and not args.force:
        print(f"error: {out} exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    try:
        state, float_meta = load_state(args.checkpoint)
        x_train, y_train, x_test, y_test = load_mnist(args.data_dir)
        if float_meta.get("kind") == "cnn":  # the same scheme extended to convolutions
            from pico4ml.train import quantize_cnn as scheme
        else:
            scheme = sys.modules[__name__]
        q, scores = scheme.calibrate(state, x_train, y_train, args.calib_images)
    except (CheckpointError, MnistError, QuantizeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    forward = getattr(scheme, "cnn_int8_forward", int8_forward)
    float_acc = float((numpy_forward(state, x_test).argmax(1) == y_test).mean())
    int8_acc = float((forward(q, x_test).argmax(1) == y_test).mean())
    q.metadata |= {"float_checkpoint": args.checkpoint.name, "float_weights_sha256": float_meta.get("weights_sha256"),
                   "architecture": float_meta.get("architecture"), "float_accuracy": float_acc,
                   "int8_accuracy": int8_acc}
    for pct, (mse, acc) in scores.items():
        print(f"activation percentile {pct:>7}: held-out logit MSE vs float {mse:.4f}, accuracy {acc * 100:.2f} %")
    print(f"chosen percentile {q.metadata['percentile']}")
    print(f"MNIST test accuracy: float {float_acc * 100:.2f} %, int8 {int8_acc * 100:.2f} % "
          f"({(int8_acc - float_acc) * 100:+.2f} pp); int8 constants {q.weight_bytes} bytes")
    scheme.save_quantized(q, out, force=args.force)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
