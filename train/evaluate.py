"""pico4ml-eval: accuracy and confusion matrix of a checkpoint.

On the MNIST test set, and with --camera N also on N simulated camera frames (MNIST
test digits and printed digits) run through the firmware preprocessing (numpy twin).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from pico4ml.common.argtypes import non_negative_int
from pico4ml.train.data import MnistError, load_mnist
from pico4ml.train.models import CheckpointError, load_state, numpy_forward
from pico4ml.common.paths import DEFAULT_CHECKPOINT


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int = 10) -> np.ndarray:
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y_true.astype(np.int64), y_pred.astype(np.int64)), 1)
    return cm


def format_confusion(cm: np.ndarray) -> str:
    lines = ["true\\pred " + " ".join(f"{j:>5d}" for j in range(cm.shape[1]))]
    for i, row in enumerate(cm):
        lines.append(f"{i:>9d} " + " ".join(f"{v:>5d}" for v in row))
    return "\n".join(lines)


def camera_inputs(n: int, data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(28x28 inputs after the preprocessing twin, labels) of the first n frames of the camera test set."""
    from pico4ml.train import preprocess
    from pico4ml.train.camera_set import camera_test_set
    frames, labels, _ = camera_test_set(n, data_dir=data_dir)
    return preprocess.preprocess_many(frames), labels


def report(name: str, state, x: np.ndarray, y: np.ndarray) -> float:
    pred = numpy_forward(state, x).argmax(1)
    acc = float((pred == y).mean())
    print(f"{name}: accuracy {acc:.4f} ({int((pred == y).sum())}/{len(y)})")
    print(format_confusion(confusion_matrix(y, pred)))
    return acc


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--checkpoint", type=Path, default=None,
                   help=f"trained model (default {DEFAULT_CHECKPOINT.relative_to(DEFAULT_CHECKPOINT.parents[1])})")
    p.add_argument("--data-dir", help="MNIST directory")
    p.add_argument("--camera", type=non_negative_int, default=0, metavar="N",
                   help="also evaluate on N simulated camera frames")
    return p


def run(args: argparse.Namespace) -> int:
    """MNIST test set (and --camera N simulated frames) with args.checkpoint; 0 or 2 with a message."""
    checkpoint = args.checkpoint or DEFAULT_CHECKPOINT
    try:
        state, meta = load_state(checkpoint)
        _, _, x_test, y_test = load_mnist(args.data_dir)
    except (CheckpointError, MnistError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{checkpoint} ({meta.get('architecture')}, weights {meta.get('weights_sha256', '')[:12]})")
    report("MNIST test", state, x_test, y_test)
    if args.camera > 0:
        x_cam, y_cam = camera_inputs(args.camera, args.data_dir)
        report("camera (simulated)", state, x_cam, y_cam)
    return 0


def main(argv: list[str] | None = None) -> int:
    """MNIST and simulated camera only; the pico4ml-eval command (host_twin/evaluate.py) adds
    --frames, which needs the firmware's C built for the host."""
    p = add_arguments(argparse.ArgumentParser(prog="pico4ml-eval", description=__doc__))
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
