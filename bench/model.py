"""Benchmark of the model pipeline: train (timed), evaluate, export, check parity, size for the M0+.

    python bench/model.py               # full default recipe from scratch (minutes on 2 cores)
    python bench/model.py --committed   # measure the committed checkpoint instead of training

Prints its figures and ends with one JSON line of them.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


from pico4ml.export.export import export_model, tinygrad_logits
from pico4ml.export.parity import HostModel, compare
from pico4ml.train.data import load_mnist
from pico4ml.train.evaluate import camera_inputs
from pico4ml.train.models import load_model, numpy_forward, load_state, save_checkpoint
from pico4ml.common.paths import DEFAULT_CHECKPOINT
from pico4ml.train.train import DEFAULT_EPOCHS, train


def arm_sizes(c_file: Path, work: Path) -> dict[str, int] | None:
    """text/data/bss of the model object for Cortex-M0+ (None without the cross compiler)."""
    obj = work / "model_float.o"
    try:
        subprocess.run(["arm-none-eabi-gcc", "-std=c11", "-mcpu=cortex-m0plus", "-mthumb", "-O2", "-Wall", "-Wextra",
                        "-c", str(c_file), "-o", str(obj)], check=True, capture_output=True)
        out = subprocess.run(["arm-none-eabi-size", str(obj)], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    text, data, bss = (int(v) for v in re.findall(r"^\s*(\d+)\s+(\d+)\s+(\d+)", out, re.M)[0])
    return {"text": text, "data": data, "bss": bss}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--committed", action="store_true", help="measure the committed checkpoint, do not train")
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="epochs of the default recipe (default %(default)s)")
    p.add_argument("--camera", type=int, default=2000, help="simulated camera frames to evaluate on")
    p.add_argument("--data-dir")
    args = p.parse_args()
    x_train, y_train, x_test, y_test = load_mnist(args.data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.committed:
            checkpoint = DEFAULT_CHECKPOINT
            train_seconds = load_state(checkpoint)[1].get("train_seconds")
            print(f"committed checkpoint {checkpoint}; its recorded training time: {train_seconds} s")
        else:
            t0 = time.perf_counter()
            model, meta = train(epochs=args.epochs, data_dir=args.data_dir, progress=False)
            train_seconds = round(time.perf_counter() - t0, 1)
            checkpoint = work / "bench.safetensors"
            save_checkpoint(model, checkpoint, meta)
            print(f"trained the default recipe ({args.epochs} epochs, camera augmentation) in {train_seconds} s")
        model, meta = load_model(checkpoint)
        ref = tinygrad_logits(model, x_test)
        accuracy = float((ref.argmax(1) == y_test).mean())
        state, _ = load_state(checkpoint)
        x_cam, y_cam = camera_inputs(args.camera, args.data_dir)
        camera_accuracy = float((numpy_forward(state, x_cam).argmax(1) == y_cam).mean())
        c_file = export_model(checkpoint, work / "c", data_dir=args.data_dir)[0]
        parity = compare(HostModel(c_file).logits(x_test), ref)
        sizes = arm_sizes(c_file, work) or {"text": None, "data": None, "bss": None}
    print(f"MNIST test accuracy (TinyGrad):      {accuracy:.4f}")
    print(f"simulated camera accuracy (numpy twin preprocessing, {args.camera} frames): {camera_accuracy:.4f}")
    print(f"exported C vs TinyGrad on 10,000 images: argmax equal {parity.argmax_equal}/{parity.total}, "
          f"max |logit diff| {parity.max_abs:.3g}")
    print(f"Cortex-M0+ object (-O2): text {sizes['text']} (weights in .rodata, flash), data {sizes['data']}, "
          f"bss {sizes['bss']} bytes")
    print(json.dumps({"accuracy": accuracy, "camera_accuracy": camera_accuracy, "train_seconds": train_seconds,
                      "trained_here": not args.committed, "text": sizes["text"], "data": sizes["data"],
                      "bss": sizes["bss"], "parity_argmax": parity.argmax_equal, "parity_total": parity.total,
                      "parity_max_abs": parity.max_abs, "weights_sha256": meta["weights_sha256"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
