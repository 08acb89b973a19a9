"""Benchmark: fewer weight bits (issue 12 part 4), the accuracy/size curve (bits x width) and
the cost of unpacking on the RP2040.

    python bench/lowbit.py                     # every model below, 20 emulated inferences each
    python bench/lowbit.py --vectors 5 --frames 10   # quicker

Models (MLP 784-N-10, blobs of docs/model-format.md; "bits" are the hidden layer's weights,
the N x 10 output layer stays int8):
  * int8 N=400: the committed int8 MLP (pico4ml-quantize), the reference point;
  * 4-bit N=400, post-training (no QAT): the committed float MLP rounded to 4 bits, to show
    what quantisation-aware training buys;
  * QAT (pico4ml-qat, train/qat.py): 4-bit N=400 (fine-tuned from the committed float
    checkpoint), 4-bit N=64 and N=32 (from scratch), 2-bit (ternary) N=400 and N=64.
    Their checkpoints go to build/lowbit/ (--qat-dir); a missing one is trained here by the
    recipe in RECIPES (a few minutes each on two cores). qat4_w400 is the committed built-in
    model instead (BUILTIN_CHECKPOINT, manifest mlp_q4).

For each: MNIST test accuracy (all 10,000, the blob's numpy reference runner), the camera
benchmark's TUNE split (bench/camera.py's frames, --frames per condition, through the
firmware's C preprocessing; a frame is right when the net's top class is its digit, so a
frame preprocessing finds no digit in counts as wrong), the blob's bytes and its payload
(weights + constants), and blob_run() cycles on the emulated Cortex-M0+ (bench/blob.py's
bare-metal image, -O2), whose outputs must equal the host build's and the reference's.

Ends with one JSON line: `models` (one entry per model) and the chosen low-bit point
(`lowbit_*`: the smallest QAT model within 0.5 pp of the int8 model's MNIST accuracy).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
QAT_DIR = REPO / "build" / "lowbit"
# name -> (hidden width, bits, pico4ml-qat arguments)
RECIPES = {
    "qat4_w400": (400, 4, ["--init", "models/mlp784_400_10.safetensors", "--bits", "4", "--epochs", "2"]),
    "qat4_w64": (64, 4, ["--arch", "mlp784_64_10", "--bits", "4", "--float-epochs", "8", "--epochs", "6",
                         "--lr", "2e-3"]),
    "qat4_w32": (32, 4, ["--arch", "mlp784_32_10", "--bits", "4", "--float-epochs", "8", "--epochs", "6",
                         "--lr", "2e-3"]),
    "qat2_w400": (400, 2, ["--init", "models/mlp784_400_10.safetensors", "--bits", "2", "--epochs", "3"]),
    "qat2_w64": (64, 2, ["--arch", "mlp784_64_10", "--bits", "2", "--float-epochs", "8", "--epochs", "6",
                         "--lr", "2e-3"]),
}
# The built-in low-bit model (manifest mlp_q4) is this recipe's checkpoint, committed: the bench
# measures it rather than a copy in --qat-dir. Remake it, after the float checkpoint changes, by
# BUILTIN_COMMANDS (docs/model-format.md, "Built-in low-bit model").
BUILTIN_RECIPE = "qat4_w400"
BUILTIN_CHECKPOINT = "models/mlp784_400_10_q4.safetensors"
BUILTIN_C = "firmware/pico4ml/core/model/model_q4"
BUILTIN_COMMANDS = (
    f"pico4ml-qat {' '.join(RECIPES[BUILTIN_RECIPE][2])} --out {BUILTIN_CHECKPOINT} --force",
    f"pico4ml-export-blob {BUILTIN_CHECKPOINT} --c-source {BUILTIN_C} --force",
)


def _blob_bench():
    spec = importlib.util.spec_from_file_location("bench_blob", HERE / "blob.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def qat_checkpoint(name: str, qat_dir: Path, log=print) -> Path:
    path = REPO / BUILTIN_CHECKPOINT if name == BUILTIN_RECIPE else qat_dir / f"{name}_int8.safetensors"
    if not path.is_file():
        log(f"{path} missing: training it (pico4ml-qat {' '.join(RECIPES[name][2])}) ...")
        subprocess.run([sys.executable, "-m", "pico4ml.train.qat", *RECIPES[name][2], "--out", str(path), "--force"],
                       cwd=REPO, check=True)
    return path


def camera_inputs(frames_per_condition: int, data_dir: str | None):
    """(28x28 inputs, labels, preprocessing found a digit) of the TUNE split's digit frames."""
    from pico4ml.host_twin.classify import FramePipeline
    from pico4ml.train.camera_set import condition_set
    from pico4ml.train.preprocess import NO_DIGIT
    cs = condition_set("tune", frames_per_condition, 162, data_dir=data_dir)
    pipe = FramePipeline()
    keep = cs.labels >= 0
    xs, ok = [], []
    for f in cs.frames[keep]:
        x, status = pipe.preprocess(f)
        xs.append(x)
        ok.append(status != NO_DIGIT)
    return np.stack(xs).reshape(len(xs), -1), cs.labels[keep], np.array(ok)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vectors", type=int, default=20, help="emulated inferences per model (1..1000; 0: no emulation)")
    p.add_argument("--frames", type=int, default=100, help="camera TUNE frames per condition (1..300)")
    p.add_argument("--qat-dir", type=Path, default=QAT_DIR, help="where the QAT checkpoints are (default %(default)s)")
    p.add_argument("--data-dir", help="MNIST directory (default: $PICO4ML_MNIST_DIR, then ../shared/data/mnist)")
    args = p.parse_args(argv)
    if not 0 <= args.vectors <= 1000 or not 1 <= args.frames <= 300:
        p.error("--vectors 0..1000, --frames 1..300")
    from pico4ml.common.paths import DEFAULT_CHECKPOINT
    from pico4ml.export import blob as B
    from pico4ml.export.blob_host import HostBlob
    from pico4ml.train.data import MnistError, load_mnist
    from pico4ml.train.models import load_state
    from pico4ml.train.quantize import QuantizeError, int8_path, load_quantized, quantize

    bb = _blob_bench()
    emulate = args.vectors > 0
    if emulate and not (bb.h.have_cross_compiler() and bb.h.have_emulator()):
        print("error: arm-none-eabi-gcc or rp2040py missing (or pass --vectors 0)", file=sys.stderr)
        return 2
    try:
        x_train, _, x_test, y_test = load_mnist(args.data_dir)
        models = [("int8_w400", 400, 8, load_quantized(int8_path(DEFAULT_CHECKPOINT)))]
        state, _ = load_state(DEFAULT_CHECKPOINT)
        ptq = quantize(state, x_train[:5000], 99.99, hidden_qmax=7)
        ptq.metadata["weight_bits"] = [4, 8]
        models.append(("ptq4_w400", 400, 4, ptq))
        for name, (width, bits, _) in RECIPES.items():
            models.append((name, width, bits, load_quantized(qat_checkpoint(name, args.qat_dir))))
    except (MnistError, QuantizeError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"camera TUNE split, {args.frames} frames per condition: preprocessing ...", flush=True)
    cam_x, cam_y, cam_found = camera_inputs(args.frames, args.data_dir)
    xv = x_test[:args.vectors].reshape(args.vectors, -1) if emulate else None
    rows, all_match = [], True
    for name, width, bits, q in models:
        blob = B.from_mlp(q, name)
        data = B.to_bytes(blob)
        back = B.from_bytes(data)
        out = B.reference_forward(back, x_test)
        acc = float((out.argmax(1) == y_test).mean())
        cam = float(((B.reference_forward(back, cam_x).argmax(1) == cam_y) & cam_found).mean())
        payload = int(np.frombuffer(data, "<u4", 1, 36)[0])
        wbytes = B.weight_bytes(784 * width, bits) + width * 10
        row = {"name": name, "bits": bits, "width": width, "qat": name.startswith("qat"), "mnist_accuracy": acc,
               "camera_tune_accuracy": round(cam, 4), "weight_bytes": wbytes, "payload_bytes": payload,
               "blob_bytes": len(data)}
        if emulate:
            host = HostBlob(data)(xv)
            r = bb.run(f"lowbit_{name}", bb.BLOB_C, "blob.h", bb.blob_prelude(data),
                       "blob_run(&bench_model, in, 784, out, 10, bench_scratch, sizeof bench_scratch);",
                       xv, host, 3_000_000,
                       "if (!bench_opened) { bench_opened = blob_open(&bench_model, bench_blob, sizeof bench_blob, "
                       "sizeof bench_scratch, 0, 0) == BLOB_OK; }")
            match = r["match"] and bool(np.array_equal(host, out[:args.vectors]))
            all_match &= match
            row |= {"cycles": round(r["mean"]), "matches": match}
        rows.append(row)
        print(f"{name:<10} {bits}-bit N={width:<4} MNIST {100 * acc:6.2f} %  camera(tune) {100 * cam:6.2f} %  "
              f"weights {wbytes:>8,} B  blob {len(data):>8,} B" +
              (f"  {row['cycles']:>10,} cycles" if emulate else ""), flush=True)
    base = rows[0]
    good = [r for r in rows if r["qat"] and r["mnist_accuracy"] >= base["mnist_accuracy"] - 0.005]
    pick = min(good, key=lambda r: r["blob_bytes"]) if good else max((r for r in rows if r["qat"]),
                                                                      key=lambda r: r["mnist_accuracy"])
    q400 = next(r for r in rows if r["name"] == "qat4_w400")
    print(f"\nchosen low-bit point: {pick['name']} ({pick['bits']}-bit, N={pick['width']}): MNIST "
          f"{100 * pick['mnist_accuracy']:.2f} % in {pick['weight_bytes']:,} weight bytes vs int8 "
          f"{100 * base['mnist_accuracy']:.2f} % in {base['weight_bytes']:,}; BitNetMCU: 99.02 % in about 12 KB")
    if emulate:
        print(f"blob_run 4-bit / int8 (N=400): {q400['cycles'] / base['cycles']:.2f}x cycles; "
              f"outputs equal host and reference: {all_match}")
    result = {"lowbit_bits": pick["bits"], "lowbit_width": pick["width"], "lowbit_accuracy": pick["mnist_accuracy"],
              "lowbit_camera_tune_accuracy": pick["camera_tune_accuracy"], "lowbit_weight_bytes": pick["weight_bytes"],
              "lowbit_blob_bytes": pick["blob_bytes"], "int8_accuracy": base["mnist_accuracy"],
              "int8_weight_bytes": base["weight_bytes"], "camera_frames_per_condition": args.frames,
              "camera_frames": int(len(cam_y)), "vectors": args.vectors,
              "models": {r["name"]: r for r in rows}}
    if emulate:
        result |= {"lowbit_cycles": pick["cycles"], "int8_cycles": base["cycles"], "qat4_w400_cycles": q400["cycles"],
                   "unpack_over_int8": round(q400["cycles"] / base["cycles"], 3), "lowbit_matches": all_match}
    print(json.dumps(result))
    return 0 if all_match else 1


if __name__ == "__main__":
    sys.exit(main())
