"""pico4ml-qat: quantisation-aware training of the MLP to low-bit (4-bit) hidden weights.

The hidden layers' weights are trained through a fake quantiser: in the forward pass each
output channel's weights are rounded to `-qmax..qmax` times the channel's scale
(`scale = max|w| / qmax`, qmax = 2^(bits-1) - 1: 7 for 4 bits), exactly the grid
`pico4ml.train.quantize.quantize_hidden(..., qmax)` puts them on afterwards; the backward
pass treats the rounding as the identity (straight-through estimator), so the float
weights keep learning while the loss sees the quantised net. The output layer (N x 10, a
few KB at most) stays int8: fewer bits pay where the bytes are, in the 784 x N layer.

Start from a float checkpoint (`--init`, a few epochs) or from scratch (`--arch`). The result
is written as an int8-scheme checkpoint (`*_int8.safetensors` + `.json`, weights stored one
per int8 but all in -qmax..qmax, `"weight_bits"` in the .json) that `pico4ml-export-blob`
packs two weights per byte (docs/model-format.md, format version 2).

  pico4ml-qat --init models/mlp784_400_10.safetensors --bits 4 --epochs 2 --out build/lowbit/w400_b4_int8.safetensors
  pico4ml-qat --arch mlp784_64_10 --bits 4 --epochs 6 --out build/lowbit/w64_b4_int8.safetensors
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from tinygrad import Context, Tensor, TinyJit, nn
from tinygrad.nn.state import get_parameters

from pico4ml.common.argtypes import positive_float, positive_int
from pico4ml.train.models import ARCHITECTURES, INPUT_SCALE, CheckpointError, build_model, load_model

BITS = (2, 4, 8)


def qmax_of(bits: int) -> int:
    """Largest weight magnitude of a symmetric signed grid: 7 for 4 bits, 1 (ternary) for 2."""
    return (1 << (bits - 1)) - 1


def fake_quant(w: Tensor, qmax: int) -> Tensor:
    """w [out, in] on the per-output-channel grid scale * (-qmax..qmax), gradient passed straight through."""
    scale = (w.abs().max(axis=1, keepdim=True) / qmax).maximum(1e-12).detach()
    wq = (w / scale).round().clip(-qmax, qmax) * scale
    return w + (wq - w).detach()


def fake_quant_np(w: np.ndarray, qmax: int) -> np.ndarray:
    """The same grid in numpy (float64): the weights the integer model is made of."""
    w = w.astype(np.float64)
    scale = np.maximum(np.abs(w).max(axis=1, keepdims=True) / qmax, 1e-12)
    return (np.clip(np.round(w / scale), -qmax, qmax) * scale).astype(np.float32)


class QATMLP:
    """The MLP with its hidden layers' weights seen through fake_quant."""

    def __init__(self, model, qmax: int):
        self.model, self.qmax = model, qmax

    def __call__(self, x: Tensor) -> Tensor:
        layers = self.model.layers
        for i, layer in enumerate(layers):
            hidden = i < len(layers) - 1
            w = fake_quant(layer.weight, self.qmax) if hidden else layer.weight
            x = x.linear(w.transpose(), layer.bias)
            if hidden:
                x = x.relu()
        return x


def quantised_state(model, qmax: int) -> dict[str, np.ndarray]:
    """The float state with the hidden weights on their grid (what quantize() then maps to integers)."""
    n = len(model.layers)
    state = {}
    for i, layer in enumerate(model.layers):
        w = layer.weight.numpy()
        state[f"layers.{i}.weight"] = fake_quant_np(w, qmax) if i < n - 1 else w
        state[f"layers.{i}.bias"] = layer.bias.numpy()
    return state


def qat(model, bits: int, epochs: int, x_train: np.ndarray, y_train: np.ndarray, lr: float = 3e-4,
        batch_size: int = 128, seed: int = 0, augment: bool = True, float_epochs: int = 0, log=print):
    """Fine-tune model in place with fake-quantised hidden weights; returns per-epoch losses.
    float_epochs: first train that many epochs in float (from scratch, the net finds its
    features before the grid constrains them), then `epochs` with the fake quantiser."""
    from pico4ml.train.augment import AugmentConfig, augment_batch
    rng = np.random.default_rng(seed)
    Tensor.manual_seed(seed)
    net = QATMLP(model, qmax_of(bits))
    opt = nn.optim.Adam(get_parameters(model), lr=lr)

    def make_step(f):
        @TinyJit
        def step(xb: Tensor, yb: Tensor) -> Tensor:
            with Context(TRAINING=1):
                opt.zero_grad()
                loss = f(xb).sparse_categorical_crossentropy(yb).backward()
                opt.step()
                return loss
        return step

    steps_q, steps_f = make_step(net), make_step(model)
    steps = len(x_train) // batch_size
    epochs += float_epochs
    total, done, losses = epochs * steps, 0, []
    for epoch in range(epochs):
        step = steps_f if epoch < float_epochs else steps_q
        x = x_train.copy()
        if augment:  # half of the digits shifted/rotated/thickened, as pico4ml-train's "mnist" mix
            pick = rng.random(len(x)) < 0.5
            x[pick] = augment_batch(x[pick], rng, AugmentConfig())
        order = rng.permutation(len(x))
        xe = x[order].reshape(len(x), -1).astype(np.float32) * np.float32(INPUT_SCALE)
        ye = y_train[order].astype(np.int32)
        s = 0.0
        for i in range(steps):
            frac = done / max(1, total)
            opt.lr.assign(Tensor([lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * frac)))], dtype=opt.lr.dtype)).realize()
            sl = slice(i * batch_size, (i + 1) * batch_size)
            s += step(Tensor(xe[sl]), Tensor(ye[sl])).item()
            done += 1
        losses.append(s / steps)
        log(f"epoch {epoch + 1}/{epochs} ({'float' if epoch < float_epochs else f'{bits}-bit'}): "
            f"mean loss {losses[-1]:.4f}")
    return losses


def main(argv: list[str] | None = None) -> int:
    from pico4ml.train.data import MnistError, load_mnist
    from pico4ml.train.quantize import QuantizeError, calibrate, int8_forward, save_quantized

    p = argparse.ArgumentParser(prog="pico4ml-qat", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--init", type=Path, help="float checkpoint to fine-tune")
    src.add_argument("--arch", choices=sorted(ARCHITECTURES), help="train this architecture from scratch")
    p.add_argument("--bits", type=int, choices=[b for b in BITS if b < 8], default=4,
                   help="hidden-layer weight bits (default %(default)s; 2 = ternary -1, 0, 1)")
    p.add_argument("--epochs", type=positive_int, default=2, help="epochs with the fake quantiser (default 2)")
    p.add_argument("--float-epochs", type=int, default=0, help="float epochs before them (from scratch)")
    p.add_argument("--lr", type=positive_float, default=3e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-augment", action="store_true", help="plain MNIST only")
    p.add_argument("--limit", type=positive_int, help="train on the first N images only (smoke tests)")
    p.add_argument("--data-dir", help="MNIST directory (default: $PICO4ML_MNIST_DIR, then ../shared/data/mnist)")
    p.add_argument("--out", type=Path, required=True, help="int8-scheme checkpoint to write (.safetensors + .json)")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    args = p.parse_args(argv)
    for path in (args.out, args.out.with_suffix(".json")):
        if path.exists() and not args.force:
            print(f"error: {path} exists; pass --force to overwrite it", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    try:
        x_train, y_train, x_test, y_test = load_mnist(args.data_dir)
        if args.limit:
            x_train, y_train = x_train[:args.limit], y_train[:args.limit]
        if args.init is not None:
            model, meta = load_model(args.init)
            arch = meta.get("architecture")
        else:
            model, arch, meta = build_model(args.arch), args.arch, {}
        losses = qat(model, args.bits, args.epochs, x_train, y_train, args.lr, seed=args.seed,
                     augment=not args.no_augment, float_epochs=max(0, args.float_epochs))
        qmax = qmax_of(args.bits)
        n_calib = min(5000, len(x_train) // 2)
        q, _ = calibrate(quantised_state(model, qmax), x_train, y_train, n_calib, len(x_train) - n_calib,
                         hidden_qmax=qmax)
    except (MnistError, CheckpointError, QuantizeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if any(int(np.abs(l.weight.astype(np.int32)).max()) > qmax for l in q.hidden):
        print("error: a hidden weight left the grid (bug)", file=sys.stderr)
        return 1
    acc = float((int8_forward(q, x_test).argmax(1) == y_test).mean())
    n_hidden = len(q.hidden)
    q.metadata |= {"architecture": arch, "weight_bits": [args.bits] * n_hidden + [8], "qat_epochs": args.epochs,
                   "float_epochs": args.float_epochs,
                   "qat_lr": args.lr, "qat_losses": losses, "init": str(args.init) if args.init else None,
                   "init_weights_sha256": meta.get("weights_sha256") if args.init else None,
                   "int8_accuracy": acc, "qat_seconds": round(time.perf_counter() - t0, 1),
                   # how to make it again (the checkpoint may be retrained from a newer --init)
                   "command": "pico4ml-qat " + " ".join(sys.argv[1:] if argv is None else argv)}
    try:
        save_quantized(q, args.out, force=args.force)
    except OSError as e:
        print(f"error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"MNIST test accuracy (integer model, {args.bits}-bit hidden weights): {acc * 100:.2f} %; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
