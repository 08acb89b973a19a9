"""pico4ml-train: train an MLP for the Pico4ML with TinyGrad.

The training set mixes plain MNIST, MNIST augmented in the 28x28 domain, and (by
default) MNIST and printed digits rendered as camera frames and run through the
firmware's own preprocessing (its numpy twin), because what the camera sees is
what the model must get right. `--camera-mix` picks the camera frames: `conditions` (the
committed model's recipe: every condition of issue 8, MNIST training digits plus
training-only fonts and pen-stroke writers; train/camera_data.py) or `clean` (the
clean-sheet simulator of the model before issue 8).

Frames a user captured and labelled (--extra-frames DIR: <label>/ folders as the GUI's
capture writes them) go through the same preprocessing and join every epoch
--extra-repeat times; with --init CKPT training starts from an existing model (and the epoch
holds FINE_TUNE_CAMERA_SAMPLES camera frames), so a few epochs fine-tune it on them:

  pico4ml-train --init models/mlp784_400_10.safetensors --extra-frames captures/ \
                --epochs 3 --out models/mine.safetensors
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np
import tinygrad
from tinygrad import Context, Tensor, TinyJit, nn
from tinygrad.helpers import tqdm
from tinygrad.nn.state import get_parameters, get_state_dict

from pico4ml.common.argtypes import existing_dir, existing_file, non_negative_int, positive_float, positive_int
from pico4ml.train.augment import AugmentConfig, augment_batch
from pico4ml.train.data import MnistError, load_mnist
from pico4ml.train.frame_set import FrameSetError, load_frame_set
from pico4ml.train.models import (ARCHITECTURES, CNN_ARCHITECTURES, DEFAULT_ARCH, INPUT_SCALE, CheckpointError, build_model,
                                  load_model, load_state, metadata_path, numpy_forward,
                                  save_checkpoint)
from pico4ml.common.paths import DEFAULT_CHECKPOINT

DEFAULT_EPOCHS = 30  # the recipe of the committed model (issue 8: conditions mix, 120k camera frames, regularised)
DEFAULT_EXTRA_REPEAT = 30  # each captured frame this many times per epoch (10 at lr 2e-4 taught the committed model nothing)
CAMERA_MIXES = ("clean", "conditions")
DEFAULT_CAMERA_MIX = "conditions"  # the committed model's recipe; "clean" is the model before issue 8
DEFAULT_CAMERA_SAMPLES = 120000  # camera frames per epoch: 12 conditions + clean sheets; 120k read more than 60k on TUNE
FINE_TUNE_CAMERA_SAMPLES = 30000  # ... with --init: a few epochs keep the conditions in view, rendered 4x faster
DEFAULT_JUNK_FRAMES = 12000  # empty frames rendered for outlier exposure (about 30 % come out framed as a digit)
DEFAULT_JUNK_WEIGHT = 0.25   # weight of the junk loss (cross-entropy to uniform scores) against the digits'
JUNK_BATCH = 32              # junk inputs per optimiser step, beside batch_size digits
DEFAULT_DROPOUT = 0.1        # on the hidden activations while training (chosen on TUNE: 0.1 over 0.2)
DEFAULT_POOL_AUGMENT = 0.5   # share of the camera pool given a fresh 28x28 augmentation each epoch
DEFAULT_ELASTIC = 0.5        # chance of an elastic distortion in that 28x28 augmentation


def accuracy(state: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    return float((numpy_forward(state, x).argmax(1) == y).mean())


def model_state(model) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in get_state_dict(model).items()}


def extra_frames(path: Path, log=print) -> tuple[np.ndarray, np.ndarray]:
    """(28x28 inputs, labels) of the labelled frames under path/<label>/, through the numpy twin
    of the firmware preprocessing with its default parameters. Frames in which it finds no
    digit are left out (their 28x28 is blank: nothing to learn)."""
    from pico4ml.train import preprocess

    fs = load_frame_set(path)
    for why in fs.skipped:
        log(f"extra frames: skipped {why}")
    for note in fs.notes():
        log(f"extra frames: note: {note}")
    xs, ys, blank = [], [], 0
    for frame, label in zip(fs.frames, fs.labels):
        out, stages = preprocess.preprocess(frame, return_stages=True)
        if stages["status"] != preprocess.OK:
            blank += 1
            continue
        xs.append(out)
        ys.append(label)
    if not xs:
        raise FrameSetError(f"{path}: preprocessing found no digit in any of its {len(fs)} frames")
    counts = ", ".join(f"{d}: {n}" for d, n in sorted(collections.Counter(ys).items()))
    log(f"extra frames: {len(xs)} from {path} ({counts})" + (f"; {blank} without a digit left out" if blank else ""))
    return np.stack(xs), np.asarray(ys, np.int64)


def epoch_data(x: np.ndarray, y: np.ndarray, pool: tuple[np.ndarray, np.ndarray] | None, augment: str,
               rng: np.random.Generator, extra: tuple[np.ndarray, np.ndarray] | None = None,
               extra_repeat: int = DEFAULT_EXTRA_REPEAT,
               pool_augment: float = DEFAULT_POOL_AUGMENT,
               elastic: float = DEFAULT_ELASTIC) -> tuple[np.ndarray, np.ndarray]:
    """One epoch: every MNIST digit once (half of them augmented), the camera pool (the share
    pool_augment of it augmented afresh, so its fixed frames are not learnt by heart), and each
    extra frame extra_repeat times (all copies but the first augmented, unless augment is none)."""
    xs, ys = [x], [y]
    cfg = AugmentConfig(elastic_prob=elastic)
    if augment in ("mnist", "camera"):
        pick = rng.random(len(x)) < 0.5
        xs[0] = x.copy()
        xs[0][pick] = augment_batch(x[pick], rng, cfg)
    if pool is not None:
        px = pool[0]
        if pool_augment > 0:
            pick = rng.random(len(px)) < pool_augment
            px = px.copy()
            px[pick] = augment_batch(px[pick], rng, cfg)
        xs.append(px)
        ys.append(pool[1])
    if extra is not None:
        xs.append(extra[0])
        ys.append(extra[1])
        for _ in range(extra_repeat - 1):
            xs.append(extra[0] if augment == "none" else augment_batch(extra[0], rng, AugmentConfig()))
            ys.append(extra[1])
    xe, ye = np.concatenate(xs), np.concatenate(ys)
    order = rng.permutation(len(xe))
    return xe[order], ye[order]


def train(arch: str = DEFAULT_ARCH, epochs: int = DEFAULT_EPOCHS, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
          augment: str = "camera", data_dir: str | None = None, download: bool = False, limit: int | None = None,
          camera_samples: int = DEFAULT_CAMERA_SAMPLES, max_steps: int | None = None, progress: bool = True,
          camera_mix: str = DEFAULT_CAMERA_MIX, *, extra: tuple[np.ndarray, np.ndarray] | None = None,
          extra_repeat: int = DEFAULT_EXTRA_REPEAT, init: Path | None = None,
          junk_frames: int = DEFAULT_JUNK_FRAMES, junk_weight: float = DEFAULT_JUNK_WEIGHT,
          dropout: float = DEFAULT_DROPOUT, pool_augment: float = DEFAULT_POOL_AUGMENT,
          elastic: float = DEFAULT_ELASTIC):
    """Train and return (model, metadata). Deterministic for a given seed.

    extra: (28x28 inputs, labels) mixed into every epoch extra_repeat times (extra_frames());
    init: a checkpoint to start from (its architecture wins over arch);
    junk_frames: empty camera frames rendered (camera_data.junk_pool; 0: none, and only with
    augment "camera") whose inputs are trained towards even scores with weight junk_weight;
    dropout: on the hidden activations while training; pool_augment, elastic: see epoch_data()."""
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
    junk = None
    if augment == "camera" and junk_frames > 0 and junk_weight > 0:
        junk = camera_data.junk_pool(x_train, y_train, junk_frames if not limit else min(junk_frames, limit),
                                     seed=seed)
        junk = junk.reshape(len(junk), -1).astype(np.float32) * np.float32(INPUT_SCALE) if len(junk) else None
    init_meta: dict = {}
    if init is not None:
        model, init_meta = load_model(init)
        arch = init_meta.get("architecture") or arch
    else:
        model = build_model(arch)
    model.dropout = dropout
    opt = nn.optim.Adam(get_parameters(model), lr=lr)

    @TinyJit
    def step(xb: Tensor, yb: Tensor) -> Tensor:
        with Context(TRAINING=1):
            opt.zero_grad()
            loss = model(xb).sparse_categorical_crossentropy(yb).backward()
            opt.step()
            return loss

    @TinyJit
    def step_junk(xb: Tensor, yb: Tensor, jb: Tensor) -> Tensor:
        # outlier exposure: cross-entropy of the junk inputs' scores to the uniform distribution
        with Context(TRAINING=1):
            opt.zero_grad()
            loss = model(xb).sparse_categorical_crossentropy(yb)
            (loss - junk_weight * model(jb).log_softmax(-1).mean()).backward()
            opt.step()
            return loss

    n_extra = len(extra[0]) * extra_repeat if extra is not None else 0
    steps_per_epoch = max(1, (len(x_train) + (len(pool[0]) if pool else 0) + n_extra) // batch_size)
    total_steps = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    history, done = [], 0
    for epoch in range(epochs):
        xe, ye = epoch_data(x_train, y_train, pool, augment, rng, extra, extra_repeat, pool_augment,
                            elastic)
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
            if junk is not None and sl.stop <= len(xe):
                jb = junk[rng.integers(0, len(junk), JUNK_BATCH)]
                loss = step_junk(Tensor(xe[sl]), Tensor(ye[sl]), Tensor(jb)).item()
            else:
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
        "junk_samples": int(len(junk)) if junk is not None else 0,
        "junk_weight": junk_weight if junk is not None else 0.0,
        "dropout": dropout, "pool_augment": pool_augment if pool else 0.0, "elastic": elastic,
        "train_samples": len(x_train), "tinygrad_version": tinygrad.__version__ if hasattr(tinygrad, "__version__")
        else _tinygrad_version(), "train_seconds": round(time.perf_counter() - t0, 1), "history": history,
        "input": "28x28 uint8 from preprocessing, white ink on black, row-major; x = u8 / 255",
    }
    if extra is not None:
        metadata["extra_frames"] = {"n": int(len(extra[0])), "repeat": extra_repeat,
                                    "accuracy": accuracy(model_state(model), extra[0], extra[1])}
    if init is not None:
        metadata["init"] = {"checkpoint": str(init), "weights_sha256": init_meta.get("weights_sha256", "")}
    return model, metadata


def _tinygrad_version() -> str:
    from importlib.metadata import version
    return version("tinygrad")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pico4ml-train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default=None, choices=sorted(ARCHITECTURES) + sorted(CNN_ARCHITECTURES),
                   help=f"layer widths, or cnn<conv channels>_<dense widths> for a small CNN "
                        f"(default {DEFAULT_ARCH}; with --init: the checkpoint's)")
    p.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS, help="(default %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--lr", type=positive_float, default=1e-3,
                   help="Adam learning rate at the start of the cosine schedule")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--augment", default="camera", choices=["none", "mnist", "camera"],
                   help="none: plain MNIST; mnist: + 28x28 augmentation; camera: + simulated camera frames "
                        "through the firmware preprocessing (default)")
    p.add_argument("--camera-samples", type=positive_int, default=None,
                   help=f"simulated camera frames mixed into each epoch (default {DEFAULT_CAMERA_SAMPLES}, with --init "
                        f"{FINE_TUNE_CAMERA_SAMPLES}; the model before "
                        "issue 8: --camera-mix clean --camera-samples 40000 --junk-frames 0 --epochs 25 --dropout 0 "
                        "--pool-augment 0 --elastic 0)")
    p.add_argument("--extra-frames", type=existing_dir, metavar="DIR",
                   help="also train on the captured frames in DIR/<label>/ (*.pgm, *.png; -in28 files ignored), "
                        "preprocessed like the firmware does")
    p.add_argument("--extra-repeat", type=positive_int, default=DEFAULT_EXTRA_REPEAT, metavar="N",
                   help="each extra frame appears N times per epoch, the copies augmented (default %(default)s): "
                        "the weight of your frames against ~90k others")
    p.add_argument("--init", type=existing_file, metavar="CKPT",
                   help="start from this checkpoint instead of random weights (fine-tuning: few --epochs, e.g. 3 "
                        "at the default --lr)")
    p.add_argument("--camera-mix", choices=CAMERA_MIXES, default=DEFAULT_CAMERA_MIX,
                   help="conditions: every camera condition of issue 8 with training-only digit sources (the committed "
                        "model's recipe); clean: the clean-sheet simulator (the model before) (default %(default)s)")
    p.add_argument("--junk-frames", type=non_negative_int, default=DEFAULT_JUNK_FRAMES, metavar="N",
                   help="render N empty camera frames; those preprocessing still frames as a digit are trained "
                        "towards even scores, so the board says '?' for them (default %(default)s; 0: off)")
    p.add_argument("--junk-weight", type=positive_float, default=DEFAULT_JUNK_WEIGHT,
                   help="weight of that junk loss against the digits' (default %(default)s)")
    p.add_argument("--dropout", type=float, default=DEFAULT_DROPOUT, metavar="P",
                   help="dropout on the hidden activations while training (default %(default)s)")
    p.add_argument("--pool-augment", type=float, default=DEFAULT_POOL_AUGMENT, metavar="SHARE",
                   help="share of the camera frames given a fresh 28x28 augmentation every epoch "
                        "(default %(default)s)")
    p.add_argument("--elastic", type=float, default=DEFAULT_ELASTIC, metavar="P",
                   help="chance of an elastic distortion (another writer's hand) in the 28x28 augmentation "
                        "(default %(default)s)")
    p.add_argument("--data-dir", help="directory with the MNIST IDX files (default: $PICO4ML_MNIST_DIR, "
                                      "../shared/data/mnist, ~/.cache/pico4ml/mnist)")
    p.add_argument("--download", action="store_true", help="download MNIST to ~/.cache/pico4ml/mnist if not found")
    p.add_argument("--limit", type=positive_int, help="train on the first N images only (smoke tests)")
    p.add_argument("--max-steps", type=positive_int, help="stop after this many optimiser steps (smoke tests)")
    p.add_argument("--out", type=Path, default=DEFAULT_CHECKPOINT, help="checkpoint path (.safetensors; "
                                                                        "metadata goes next to it as .json)")
    p.add_argument("--force", action="store_true", help="overwrite an existing checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    for name in ("dropout", "pool_augment", "elastic"):
        if not 0.0 <= getattr(args, name) < 1.0:
            p.error(f"--{name.replace('_', '-')} must be in [0, 1), got {getattr(args, name)}")
    if args.extra_repeat != DEFAULT_EXTRA_REPEAT and not args.extra_frames:
        p.error("--extra-repeat weighs --extra-frames: give the frames too")
    if not args.force:
        for path in (args.out, metadata_path(args.out)):
            if path.exists():  # refuse before hours of training, not after
                print(f"error: {path} exists; pass --force to overwrite it", file=sys.stderr)
                return 2
    if args.init is not None and args.out.resolve() == args.init.resolve():
        print(f"error: --out {args.out} is the --init checkpoint: write the fine-tuned model elsewhere",
              file=sys.stderr)
        return 2
    try:
        if args.init is not None:
            _, init_meta = load_state(args.init)  # a bad checkpoint is refused before MNIST loads
            if args.arch and init_meta.get("architecture") not in (None, args.arch):
                print(f"error: --arch {args.arch} but --init {args.init} is {init_meta.get('architecture')}",
                      file=sys.stderr)
                return 2
        extra = extra_frames(args.extra_frames) if args.extra_frames else None
        camera_samples = args.camera_samples or (FINE_TUNE_CAMERA_SAMPLES if args.init else DEFAULT_CAMERA_SAMPLES)
        model, metadata = train(args.arch or DEFAULT_ARCH, args.epochs, args.batch_size, args.lr, args.seed,
                                args.augment, args.data_dir, args.download, args.limit, camera_samples,
                                args.max_steps, progress=not args.no_progress, camera_mix=args.camera_mix, extra=extra,
                                extra_repeat=args.extra_repeat, init=args.init, junk_frames=args.junk_frames,
                                junk_weight=args.junk_weight, dropout=args.dropout,
                                pool_augment=args.pool_augment, elastic=args.elastic)
        if args.extra_frames:
            metadata["extra_frames"]["dir"] = str(args.extra_frames)
        save_checkpoint(model, args.out, metadata, force=args.force)
    except (MnistError, CheckpointError, FileExistsError, FrameSetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    extra_note = ""
    if "extra_frames" in metadata:
        extra_note = f", extra frames {metadata['extra_frames']['accuracy']:.4f}"
    print(f"saved {args.out} (MNIST test accuracy {metadata['accuracy']:.4f}{extra_note}, "
          f"{metadata['train_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
