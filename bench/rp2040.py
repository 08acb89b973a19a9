"""Benchmark of net() on an emulated RP2040: float vs int8 (rendered and hand-written).

    python bench/rp2040.py                 # default: 2 float vectors, 20 rendered-int8, 200 fast-int8
    python bench/rp2040.py --float-vectors 1 --int8-vectors 5 --fast-vectors 20   # quicker

Builds one bare-metal image per model (bench/rp2040/: own boot2, start-up code and linker
script; no Pico SDK) with arm-none-eabi-gcc -mcpu=cortex-m0plus -mthumb -O2, runs it in
the rp2040py emulator, and reads per-inference cycle counts (SysTick on the emulated core)
and outputs back from SRAM. Outputs must equal the host (gcc) build's on every vector.
Accuracy figures are over the 10,000 MNIST test images on the host build of the same C.
Prints its figures and ends with one JSON line of them.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from pico4ml.common import manifest
from pico4ml.common.paths import MODEL_C_DIR

HERE = Path(__file__).resolve().parent


def _harness():
    from pico4ml.common.paths import load_rp2040_harness
    return load_rp2040_harness()


h = _harness()


def stats(cycles: np.ndarray) -> dict:
    return {"mean": float(cycles.mean()), "min": int(cycles.min()), "max": int(cycles.max()), "n": int(len(cycles))}


def ms(cycles: float, mhz: int) -> float:
    return cycles / (mhz * 1e3)


def run_model(name: str, sources: list[Path], header: str, run_macro: str, prelude: str, x: np.ndarray,
              expected: np.ndarray, cycles_per_vector: int, prepare_macro: str = "") -> dict:
    cfg = h.config_header(header, run_macro, x, expected, prelude=prelude, prepare_macro=prepare_macro)
    image = h.build_image(name, sources, cfg, [MODEL_C_DIR])
    run = h.run_image(image, len(x), expected.dtype, max_cycles=cycles_per_vector * len(x) + 5_000_000)
    match = (run.n_run == len(x) and run.n_mismatch == 0 and bool(np.array_equal(run.outputs, expected)))
    return {"name": name, "image": image, "run": run, "match": match, "cycles": stats(run.cycles.astype(np.float64)),
            "model_sizes": h.section_sizes(_model_object(name, sources, image))}


def _model_object(name: str, sources: list[Path], image) -> Path:
    """The model's own C compiled alone, for its text/data/bss (weights are .rodata -> text)."""
    obj = image.elf.with_name(f"{name}_model.o")
    if not obj.exists():
        objs = []
        for i, s in enumerate(sources):
            o = image.elf.with_name(f"{name}_src{i}.o")
            subprocess.run([h.CROSS_CC, *h.CROSS_FLAGS, f"-I{MODEL_C_DIR}", "-c", str(s), "-o", str(o)], check=True)
            objs.append(str(o))
        subprocess.run([h.CROSS_CC.replace("gcc", "ld"), "-r", *objs, "-o", str(obj)], check=True)
    return obj


def emulate(x_flat: np.ndarray, host_float: np.ndarray, host_int8: np.ndarray, host_fast: np.ndarray,
            nf: int, ni: int, nk: int) -> tuple[dict, dict, dict]:
    """Run the three images: float, TinyGrad-rendered int8, hand-written int8."""
    float_c = manifest.get("mlp_float").sources[0]
    # float: the u8 -> float conversion (as classifier.c does it) runs before the timed net() call
    fl = run_model("float", [float_c], "model_float.h", "net(bench_xf, out);", "static float bench_xf[784];",
                   x_flat[:nf], host_float[:nf], 60_000_000,
                   prepare_macro="for (int i = 0; i < 784; i++) bench_xf[i] = (in)[i] * MODEL_FLOAT_INPUT_SCALE;")
    rd = run_model("int8", list(manifest.get("mlp_int8").sources), "model_int8.h", "net_int8(in, out);", "", x_flat[:ni], host_int8[:ni],
                   6_000_000)
    fa = run_model("int8_fast", list(manifest.get("mlp_int8_fast").sources), "model_int8.h", "net_int8_fast(in, out);",
                   '#include "net_int8_fast.h"', x_flat[:nk], host_fast[:nk], 3_000_000)
    return fl, rd, fa


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--float-vectors", type=int, default=2,
                   help="MNIST test images for the float model (~57 M cycles, ~6 s of emulation each)")
    p.add_argument("--int8-vectors", type=int, default=20, help="images for the TinyGrad-rendered int8 net")
    p.add_argument("--fast-vectors", type=int, default=200, help="images for the hand-written int8 net")
    p.add_argument("--data-dir", help="MNIST directory (default: $PICO4ML_MNIST_DIR, then ../shared/data/mnist)")
    args = p.parse_args(argv)
    if min(args.float_vectors, args.int8_vectors, args.fast_vectors) < 1:
        p.error("every vector count must be at least 1")
    if not h.have_cross_compiler():
        print(f"error: {h.CROSS_CC} not found (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)",
              file=sys.stderr)
        return 2
    if not h.have_emulator():
        print("error: rp2040py not installed (pip install -e '.[dev]')", file=sys.stderr)
        return 2

    from pico4ml.export.int8_host import HostInt8Net
    from pico4ml.export.parity import HostModel
    from pico4ml.train.data import load_mnist
    from pico4ml.common.paths import DEFAULT_CHECKPOINT
    from pico4ml.train.quantize import int8_forward, int8_path, load_quantized

    from pico4ml.train.data import MnistError
    from pico4ml.train.quantize import QuantizeError
    try:
        _, _, x_test, y_test = load_mnist(args.data_dir)
        q = load_quantized(int8_path(DEFAULT_CHECKPOINT))
    except (MnistError, QuantizeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    x_flat = x_test.reshape(len(x_test), -1)
    float_c = manifest.get("mlp_float").sources[0]

    # host builds of the very C that runs on the emulated core: accuracy on all 10,000
    host_float = HostModel(float_c).logits(x_test)
    host_int8 = HostInt8Net("mlp_int8")(x_test)
    host_fast = HostInt8Net("mlp_int8_fast")(x_test)
    ref_int8 = int8_forward(q, x_test)
    float_accuracy = float((host_float.argmax(1) == y_test).mean())
    int8_accuracy = float((host_int8.argmax(1) == y_test).mean())
    host_exact = bool(np.array_equal(host_int8, ref_int8) and np.array_equal(host_fast, ref_int8))

    nf, ni, nk = args.float_vectors, args.int8_vectors, args.fast_vectors
    print(f"emulating: float on {nf}, rendered int8 on {ni}, hand-written int8 on {nk} MNIST test images ...",
          flush=True)
    try:
        fl, rd, fa = emulate(x_flat, host_float, host_int8, host_fast, nf, ni, nk)
    except h.HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    outputs_match = fl["match"] and rd["match"] and fa["match"]
    nz = (x_flat[:nk] > 0).sum(1)

    fc, rc, kc = fl["cycles"]["mean"], rd["cycles"]["mean"], fa["cycles"]["mean"]
    print("\nRP2040 (emulated Cortex-M0+, rp2040py 0.3.6), cycles per inference of net() "
          "(SysTick on the emulated core); the firmware's int8 build runs net_int8_fast:")
    print(f"{'model':<34}{'mean':>12}{'min':>12}{'max':>12}{'ms@125MHz':>11}{'ms@133MHz':>11}")
    for label, r in [("float (libgcc soft-float)", fl), ("int8, TinyGrad-rendered net_int8", rd),
                     ("int8, hand-written net_int8_fast", fa)]:
        c = r["cycles"]
        print(f"{label:<34}{c['mean']:>12,.0f}{c['min']:>12,}{c['max']:>12,}{ms(c['mean'], 125):>11.2f}"
              f"{ms(c['mean'], 133):>11.2f}")
    print(f"ratio float / int8 rendered: {fc / rc:.1f}x; float / int8 hand-written: {fc / kc:.1f}x; "
          f"rendered / hand-written: {rc / kc:.1f}x")
    print(f"hand-written int8 cost vs non-zero input pixels ({nz.min()}..{nz.max()}, mean {nz.mean():.0f}): "
          f"{np.polyfit(nz, fa['run'].cycles, 1)[0]:,.0f} cycles per non-zero pixel")
    print("\nsizes (bytes):")
    for label, r in [("float", fl), ("int8", rd), ("int8_fast", fa)]:
        m, s = r["model_sizes"], r["image"].sizes
        print(f"  {label:<10} model object: text {m['text']:>8} data {m['data']:>5} bss {m['bss']:>5} | "
              f"bench image (with its {r['cycles']['n']} vectors + report): flash {s['flash']:>8} "
              f"SRAM {s['sram']:>6} (+ stack)")
    print(f"  int8 constants (weights, biases, requantisation): {q.weight_bytes} bytes of flash "
          f"(limit 330 KB = {330 * 1024})")
    print("\naccuracy on the 10,000 MNIST test images (host build of the same C):")
    print(f"  float {float_accuracy * 100:.2f} %, int8 {int8_accuracy * 100:.2f} % "
          f"({(int8_accuracy - float_accuracy) * 100:+.2f} pp); int8 C == numpy reference on all 10,000: {host_exact}")
    print(f"emulated outputs equal the host build's on every vector: float {fl['match']}, int8 {rd['match']}, "
          f"int8_fast {fa['match']}")
    print("\nnotes: the emulator charges flash like SRAM (it does not model XIP flash-cache misses, so a real "
          "board streaming 313 KB of weights from flash will be slower, especially for the rendered int8's "
          "strided reads); the float figure uses libgcc's soft-float, while the Pico SDK uses the RP2040's ROM "
          "float routines, which are several times faster; this image's boot2 uses slow 03h flash reads; "
          f"emulation took {fl['run'].wall_seconds + rd['run'].wall_seconds + fa['run'].wall_seconds:.0f} s.")
    result = {
        "float_cycles": round(fc), "int8_cycles": round(kc), "int8_rendered_cycles": round(rc),
        "int8_fast_cycles_max": fa["cycles"]["max"], "int8_fast_cycles_min": fa["cycles"]["min"],
        "float_over_int8": round(fc / kc, 1), "int8_rendered_ms_125mhz": round(ms(rc, 125), 2),
        "rendered_over_fast": round(rc / kc, 2),
        "int8_ms_125mhz": round(ms(kc, 125), 3), "int8_ms_133mhz": round(ms(kc, 133), 3),
        "float_ms_125mhz": round(ms(fc, 125), 1),
        "float_accuracy": float_accuracy, "int8_accuracy": int8_accuracy,
        "int8_weight_bytes": q.weight_bytes, "outputs_match": outputs_match, "host_int8_bit_exact": host_exact,
        "float_vectors": nf, "int8_vectors": ni, "fast_vectors": nk,
        "int8_fast_model_text": fa["model_sizes"]["text"], "int8_fast_model_bss": fa["model_sizes"]["bss"],
        "int8_model_text": rd["model_sizes"]["text"], "int8_model_bss": rd["model_sizes"]["bss"],
        "float_model_text": fl["model_sizes"]["text"], "float_model_bss": fl["model_sizes"]["bss"],
    }
    print(json.dumps(result))
    return 0 if outputs_match and host_exact else 1


if __name__ == "__main__":
    sys.exit(main())
