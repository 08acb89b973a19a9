"""Benchmark of the model-blob runtime (core/blob.c) against the built-in int8 net on an
emulated RP2040.

    python bench/blob.py                    # 100 MNIST test images through each
    python bench/blob.py --vectors 20       # quicker
    python bench/blob.py --cnn models/cnn8_24_10_int8.safetensors   # also a CNN blob (or a .blob file)

Exports the committed int8 MLP as a blob (pico4ml.export.blob), builds two bare-metal images
with bench/rp2040/harness.py (arm-none-eabi-gcc -mcpu=cortex-m0plus -mthumb -O2, no SDK): one
runs blob_run() on the blob, placed in flash as a const array (as a blob in a flash region
is read through XIP), the other the firmware's built-in net_int8_fast(). Both are timed per
inference with SysTick in rp2040py and their outputs must equal the host build's. A third
image times blob_open() itself (the validation: CRC-32 only, and CRC-32 + SHA-256).
Prints its figures and ends with one JSON line of them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from pico4ml.common import manifest
from pico4ml.common.paths import CORE_DIR, MODEL_C_DIR

HERE = Path(__file__).resolve().parent


def _harness():
    from pico4ml.common.paths import load_rp2040_harness
    return load_rp2040_harness()


h = _harness()
BLOB_C = [CORE_DIR / "blob.c", CORE_DIR / "sha256.c", CORE_DIR / "protocol.c", HERE / "rp2040" / "libc_min.c"]


def blob_prelude(data: bytes) -> str:
    """The blob as a 4-aligned const array (flash) and the runtime's state, opened on first use."""
    body = ",".join(str(b) for b in data)
    return "\n".join([
        '#include "blob.h"',
        f"_Alignas(4) static const uint8_t bench_blob[{len(data)}] = {{{body}}};",
        "static blob_model bench_model;",
        "static uint32_t bench_scratch[4096];",
        "static int bench_opened;",
    ])


def run(name: str, sources: list[Path], header: str, prelude: str, run_macro: str, x: np.ndarray,
        expected: np.ndarray, per_vector: int, prepare: str = "") -> dict:
    cfg = h.config_header(header, run_macro, x, expected, prelude=prelude, prepare_macro=prepare)
    image = h.build_image(name, sources, cfg, [MODEL_C_DIR, CORE_DIR], extra_flags=["-DBLOB_NO_MESSAGES"])
    r = h.run_image(image, len(x), expected.dtype, max_cycles=per_vector * len(x) + 5_000_000)
    match = r.n_run == len(x) and r.n_mismatch == 0 and bool(np.array_equal(r.outputs, expected))
    c = r.cycles.astype(np.float64)
    return {"match": match, "mean": float(c.mean()), "min": int(c.min()), "max": int(c.max()), "cycles": r.cycles,
            "wall": r.wall_seconds, "sizes": image.sizes}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vectors", type=int, default=100, help="MNIST test images through each net (1..10000)")
    p.add_argument("--cnn", type=Path, help="also time this model as a blob (an int8 checkpoint or a .blob): "
                                           "cnn_blob_cycles")
    p.add_argument("--data-dir", help="MNIST directory (default: $PICO4ML_MNIST_DIR, then ../shared/data/mnist)")
    args = p.parse_args(argv)
    if not 1 <= args.vectors <= 10000:
        p.error("--vectors must be 1..10000")
    if not h.have_cross_compiler():
        print(f"error: {h.CROSS_CC} not found (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)",
              file=sys.stderr)
        return 2
    if not h.have_emulator():
        print("error: rp2040py not installed (pip install -e '.[dev]')", file=sys.stderr)
        return 2
    from pico4ml.common.paths import DEFAULT_CHECKPOINT
    from pico4ml.export import blob as B
    from pico4ml.export.blob_host import HostBlob
    from pico4ml.export.int8_host import HostInt8Net
    from pico4ml.train.data import MnistError, load_mnist
    from pico4ml.train.quantize import QuantizeError, int8_path, load_quantized

    try:
        _, _, x_test, _ = load_mnist(args.data_dir)
        q = load_quantized(int8_path(DEFAULT_CHECKPOINT))
    except (MnistError, QuantizeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    data = B.to_bytes(B.from_mlp(q, "mlp784_400_10-int8"))
    x = x_test[:args.vectors].reshape(args.vectors, -1)
    host_blob = HostBlob(data)(x)
    host_fast = HostInt8Net("mlp_int8_fast")(x)
    host_ref = B.reference_forward(B.from_bytes(data), x)
    host_exact = bool(np.array_equal(host_blob, host_fast) and np.array_equal(host_blob, host_ref))
    scratch = B.from_bytes(data).scratch_bytes

    print(f"emulating blob_run and net_int8_fast on {args.vectors} MNIST test images ...", flush=True)
    prelude = blob_prelude(data)
    open_once = ("if (!bench_opened) { bench_opened = blob_open(&bench_model, bench_blob, sizeof bench_blob, "
                 "sizeof bench_scratch, 0, 0) == BLOB_OK; }")
    try:
        bl = run("blob_mlp", BLOB_C, "blob.h", prelude,
                 "blob_run(&bench_model, in, 784, out, 10, bench_scratch, sizeof bench_scratch);",
                 x, host_blob, 3_000_000, open_once)
        fa = run("blob_vs_fast", list(manifest.get("mlp_int8_fast").sources), "model_int8.h",
                 '#include "net_int8_fast.h"', "net_int8_fast(in, out);", x, host_fast, 3_000_000)
        # blob_open itself: out[0] = its status (0 expected), the rest 0; vector 0 CRC only, 1 with SHA-256
        zeros = np.zeros((2, 10), np.int32)
        op = run("blob_open", BLOB_C, "blob.h", prelude,
                 "static int v; out[0] = (int32_t)blob_open(&bench_model, bench_blob, sizeof bench_blob, "
                 "sizeof bench_scratch, v++, 0); for (int k = 1; k < 10; k++) out[k] = 0;",
                 x[:2], zeros, 40_000_000)
        cnn = None
        if args.cnn is not None:
            try:
                cnn_data = (args.cnn.read_bytes() if args.cnn.suffix == ".blob"
                            else B.to_bytes(B.load_checkpoint(args.cnn)))
                B.from_bytes(cnn_data)
            except (B.BlobError, OSError) as e:
                print(f"error: --cnn {args.cnn}: {e}", file=sys.stderr)
                return 2
            host_cnn = HostBlob(cnn_data)(x)
            cnn = run("blob_cnn", BLOB_C, "blob.h", blob_prelude(cnn_data),
                      "blob_run(&bench_model, in, 784, out, 10, bench_scratch, sizeof bench_scratch);",
                      x, host_cnn, 20_000_000, open_once)
            cnn["bytes"], cnn["scratch"] = len(cnn_data), B.from_bytes(cnn_data).scratch_bytes
    except h.HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    open_crc, open_sha = (int(c) for c in op["cycles"])
    match = bl["match"] and fa["match"] and op["match"] and (cnn is None or cnn["match"])
    print(f"\nRP2040 (emulated Cortex-M0+, rp2040py), cycles per inference over {args.vectors} images:")
    print(f"{'':<28}{'mean':>12}{'min':>12}{'max':>12}")
    for label, r in (("blob_run (MLP blob)", bl), ("net_int8_fast (built-in)", fa)):
        print(f"{label:<28}{r['mean']:>12,.0f}{r['min']:>12,}{r['max']:>12,}")
    if cnn is not None:
        print(f"{'blob_run (' + args.cnn.name[:14] + ')':<28}{cnn['mean']:>12,.0f}{cnn['min']:>12,}{cnn['max']:>12,}"
              f"   ({cnn['bytes']:,} bytes, scratch {cnn['scratch']:,})")
    print(f"blob / built-in: {bl['mean'] / fa['mean']:.3f}x; blob_open: {open_crc:,} cycles (CRC-32), "
          f"{open_sha:,} cycles (CRC-32 + SHA-256) for {len(data):,} bytes")
    print(f"blob scratch {scratch} bytes (caller's buffer); outputs equal the host build's: {match}; "
          f"host blob == net_int8_fast == numpy reference: {host_exact}")
    result = {"blob_cycles": round(bl["mean"]), "blob_cycles_max": bl["max"], "builtin_cycles": round(fa["mean"]),
              "blob_over_builtin": round(bl["mean"] / fa["mean"], 3), "blob_open_crc_cycles": open_crc,
              "blob_open_sha_cycles": open_sha, "blob_bytes": len(data), "blob_scratch_bytes": scratch,
              "blob_matches_builtin": bool(match and host_exact), "vectors": args.vectors}
    if cnn is not None:
        result |= {"cnn_blob_cycles": round(cnn["mean"]), "cnn_blob_cycles_max": cnn["max"],
                   "cnn_blob_bytes": cnn["bytes"], "cnn_blob_scratch_bytes": cnn["scratch"]}
    print(json.dumps(result))
    return 0 if match and host_exact else 1


if __name__ == "__main__":
    sys.exit(main())
