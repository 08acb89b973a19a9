"""pico4ml-train: train an MLP for the Pico4ML with TinyGrad.

The training set mixes plain MNIST, MNIST augmented in the 28x28 domain, and (by
default) MNIST and printed digits rendered as camera frames and run through the
firmware's own preprocessing (its numpy twin), because what the camera sees is
what the model must get right. `--camera-mix` picks the camera frames: `clean` (the
clean-sheet simulator, the committed model's recipe) or `conditions` (every condition
of issue 8, MNIST training digits plus training-only fonts and pen-stroke writers;
train/camera_data.py).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import tinygrad
from tinygrad import Context, Tensor, TinyJit, nn
from tinygrad.helpers import tqdm
from tinygrad.nn.state import get_parameters, get_state_dict

from pico4ml.train.augment import AugmentConfig, augment_batch
from pico4ml.train.data import MnistError, load_mnist
from pico4ml.train.models import (ARCHITECTURES, DEFAULT_ARCH, INPUT_SCALE, CheckpointError, build_model,
                                  metadata_path, numpy_forward, save_checkpoint)
from pico4ml.common.paths import DEFAULT_CHECKPOINT

DEFAULT_EPOCHS = 25  # the recipe of the committed model: 99.0 % MNIST, 98.6 % simulated camera
CAMERA_MIXES = ("clean", "conditions")
DEFAULT_CAMERA_MIX = "clean"  # the committed model's recipe; the issue-8 retrain uses "conditions"


def accuracy(state: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    return float((numpy_forward(state, x).argmax(1) == y).mean())


def model_state(model) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in get_state_dict(model).items()}


def epoch_data(x: np.ndarray, y: np.ndarray, pool: tuple[np.ndarray, np.ndarray] | None, augment: str,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One epoch: every MNIST digit once (half of them augmented) plus the camera pool."""
    xs, ys = [x], [y]
    if augment in ("mnist", "camera"):
        pick = rng.random(len(x)) < 0.5
        xs[0] = x.copy()
        xs[0][pick] = augment_batch(x[pick], rng, AugmentConfig())
    if pool is not None:
        xs.append(pool[0])
        ys.append(pool[1])
    xe, ye = np.concatenate(xs), np.concatenate(ys)
    order = rng.permutation(len(xe))
    return xe[order], ye[order]


def train(arch: str = DEFAULT_ARCH, epochs: int = DEFAULT_EPOCHS, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
          augment: str = "camera", data_dir: str | None = None, download: bool = False, limit: int | None = None,
          camera_samples: int = 40000, max_steps: int | None = None, progress: bool = True,
          camera_mix: str = DEFAULT_CAMERA_MIX):
    """Train and return (model, metadata). Deterministic for a given seed."""
    t0 = time.perf_counter()
    x_train, y_train, x_test, y_test = load_mnist(data_dir, download=download)
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    rng = np.random.default_rng(seed)
    Tensor.manual_seed(seed)
    if camera_mix not in CAMERA_MIXES:
        raise ValueError(f"camera_mix must be one of {CAMERA_MIXES}, got {camera_mix!r}")
    pool = None
    if augment == "camera":
        from pico4ml.train import camera_data  # needs OpenCV + the preprocessing twin
        n = camera_samples if not limit else min(camera_samples, limit)
        make_pool = camera_data.conditions_pool if camera_mix == "conditions" else camera_data.camera_pool
        pool = make_pool(x_train, y_train, n, seed=seed)
    model = build_model(arch)
    opt = nn.optim.Adam(get_parameters(model), lr=lr)

    @TinyJit
    def step(xb: Tensor, yb: Tensor) -> Tensor:
        with Context(TRAINING=1):
            opt.zero_grad()
            loss = model(xb).sparse_categorical_crossentropy(yb).backward()
            opt.step()
            return loss

    steps_per_epoch = (len(x_train) + (len(pool[0]) if pool else 0)) // batch_size
    total_steps = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    history, done = [], 0
    for epoch in range(epochs):
        xe, ye = epoch_data(x_train, y_train, pool, augment, rng)
        xe = xe.reshape(len(xe), -1).astype(np.float32) * np.float32(INPUT_SCALE)
        ye = ye.astype(np.int32)
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{epochs}", disable=not progress)
        loss_sum, n_steps = 0.0, 0
        for i in bar:
            if done >= total_steps:
                break
            # cosine decay to 2% of the start rate: a steady finish without tuning
            frac = done / max(1, total_steps)
            opt.lr.assign(Tensor([lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * frac)))], dtype=opt.lr.dtype)).realize()
            sl = slice(i * batch_size, (i + 1) * batch_size)
            loss = step(Tensor(xe[sl]), Tensor(ye[sl])).item()
            loss_sum += loss
            n_steps += 1
            done += 1
            if i % 50 == 0:
                bar.set_description(f"epoch {epoch + 1}/{epochs} loss {loss:.3f}")
        acc = accuracy(model_state(model), x_test, y_test)
        history.append({"epoch": epoch + 1, "loss": loss_sum / max(1, n_steps), "test_accuracy": acc})
        print(f"epoch {epoch + 1}/{epochs}: mean loss {history[-1]['loss']:.4f}, MNIST test accuracy {acc:.4f}",
              flush=True)
        if done >= total_steps:
            break
    metadata = {
        "architecture": arch, "accuracy": history[-1]["test_accuracy"], "seed": seed, "epochs": len(history),
        "batch_size": batch_size, "lr": lr, "augment": augment, "camera_samples": len(pool[0]) if pool else 0,
        "camera_mix": camera_mix if pool else None,
        "train_samples": len(x_train), "tinygrad_version": tinygrad.__version__ if hasattr(tinygrad, "__version__")
        else _tinygrad_version(), "train_seconds": round(time.perf_counter() - t0, 1), "history": history,
        "input": "28x28 uint8 from preprocessing, white ink on black, row-major; x = u8 / 255",
    }
    return model, metadata


def _tinygrad_version() -> str:
    from importlib.metadata import version
    return version("tinygrad")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="pico4ml-train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default=DEFAULT_ARCH, choices=sorted(ARCHITECTURES),
                   help="layer widths (default %(default)s)")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="(default %(default)s)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate at the start of the cosine schedule")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--augment", default="camera", choices=["none", "mnist", "camera"],
                   help="none: plain MNIST; mnist: + 28x28 augmentation; camera: + simulated camera frames "
                        "through the firmware preprocessing (default)")
    p.add_argument("--camera-samples", type=int, default=40000, help="simulated camera frames mixed into each epoch")
    p.add_argument("--camera-mix", choices=CAMERA_MIXES, default=DEFAULT_CAMERA_MIX,
                   help="clean: the clean-sheet simulator (the committed model's recipe); conditions: every camera "
                        "condition of issue 8 with training-only digit sources (default %(default)s)")
    p.add_argument("--data-dir", help="directory with the MNIST IDX files (default: $PICO4ML_MNIST_DIR, "
                                      "../shared/data/mnist, ~/.cache/pico4ml/mnist)")
    p.add_argument("--download", action="store_true", help="download MNIST to ~/.cache/pico4ml/mnist if not found")
    p.add_argument("--limit", type=int, help="train on the first N images only (smoke tests)")
    p.add_argument("--max-steps", type=int, help="stop after this many optimiser steps (smoke tests)")
    p.add_argument("--out", type=Path, default=DEFAULT_CHECKPOINT, help="checkpoint path (.safetensors; "
                                                                        "metadata goes next to it as .json)")
    p.add_argument("--force", action="store_true", help="overwrite an existing checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if not args.force:
        for path in (args.out, metadata_path(args.out)):
            if path.exists():  # refuse before hours of training, not after
                print(f"error: {path} exists; pass --force to overwrite it", file=sys.stderr)
                return 2
    try:
        model, metadata = train(args.arch, args.epochs, args.batch_size, args.lr, args.seed, args.augment,
                                args.data_dir, args.download, args.limit, args.camera_samples, args.max_steps,
                                progress=not args.no_progress, camera_mix=args.camera_mix)
        save_checkpoint(model, args.out, metadata, force=args.force)
    except (MnistError, CheckpointError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"saved {args.out} (MNIST test accuracy {metadata['accuracy']:.4f}, {metadata['train_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
