"""Benchmark of the preprocessing and the camera simulation.

    python bench/preprocess.py              # everything (about a minute)
    python bench/preprocess.py --quick      # smaller samples, no emulator

Measures: camera_sim rendering and numpy preprocess_batch speed (frames/s) at 162x162
and 324x324; the C pp_run built for the host (frames/s); pp_run's cycles on an emulated
RP2040 (Cortex-M0+, rp2040py, bare-metal image from bench/rp2040/, output checked
against the numpy twin; the 162x162 frames also inverted, light on dark); how close preprocess(camera frame of an MNIST digit) is to
the digit itself (pixel correlation); and the full firmware pipeline's accuracy (C
preprocessing + the built-in net()) on the simulated camera test set.
Prints its figures and ends with one JSON line of them.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1)


def render_speed(images: np.ndarray, labels: np.ndarray, size: int, n: int) -> tuple[float, np.ndarray]:
    from pico4ml.train.camera_sim import make_camera_set
    t = time.perf_counter()
    frames, _ = make_camera_set(n, 1, size, images=images, labels=labels, printed_fraction=0.3)
    return rate(n, time.perf_counter() - t), frames


def numpy_speed(frames: np.ndarray) -> float:
    from pico4ml.train.preprocess import preprocess_many
    preprocess_many(frames[:64])                                   # warm up
    t = time.perf_counter()
    preprocess_many(frames)
    return rate(len(frames), time.perf_counter() - t)


def c_host_speed(frames: np.ndarray) -> float:
    from pico4ml.train.preprocess import c_preprocess
    c_preprocess(frames[0])
    t = time.perf_counter()
    for f in frames:
        c_preprocess(f)
    return rate(len(frames), time.perf_counter() - t)


def mnist_likeness(x_test: np.ndarray, n: int) -> float:
    from pico4ml.train.camera_sim import render_handwritten
    from pico4ml.train.preprocess import preprocess_many
    rng = np.random.default_rng(5)
    frames = np.stack([render_handwritten(x_test[i], rng, 162) for i in range(n)])
    a = preprocess_many(frames).reshape(n, -1).astype(np.float64)
    b = x_test[:n].reshape(n, -1).astype(np.float64)
    a -= a.mean(1, keepdims=True)
    b -= b.mean(1, keepdims=True)
    corr = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1) + 1e-12)
    return round(float(corr.mean()), 4)


def c_bytes(rows: np.ndarray) -> str:
    """A C initialiser for a 2-D uint8 array."""
    def one(r: np.ndarray) -> str:
        return "{" + ",".join(map(str, r.astype(np.uint8).tolist())) + "}"
    return "{\n" + ",\n".join(one(r) for r in rows) + "\n}"


# -nostdlib: the two libc routines preprocess.c uses, word at a time like the Pico SDK's
# (a byte loop would charge preprocessing ~8 cycles per byte cleared)
LIBC_WORDWISE = "\n".join([
    "#include <stdint.h>",
    "void *memset(void *d, int c, size_t n) { unsigned char *p = d; uint32_t w = (uint8_t)c * 0x01010101u;",
    "  while (n && ((uintptr_t)p & 3)) { *p++ = (unsigned char)c; n--; }",
    "  uint32_t *q = (uint32_t *)(void *)p; for (; n >= 16; n -= 16, q += 4) { q[0] = w; q[1] = w; q[2] = w; q[3] = w; }",
    "  for (; n >= 4; n -= 4) *q++ = w;",
    "  p = (unsigned char *)q; while (n--) *p++ = (unsigned char)c; return d; }",
    "void *memcpy(void *d, const void *s, size_t n) { unsigned char *p = d; const unsigned char *q = s;",
    "  if ((((uintptr_t)p | (uintptr_t)q) & 3) == 0) { uint32_t *a = (uint32_t *)(void *)p;",
    "    const uint32_t *b = (const uint32_t *)(const void *)q; for (; n >= 4; n -= 4) *a++ = *b++;",
    "    p = (unsigned char *)a; q = (const unsigned char *)b; }",
    "  while (n--) *p++ = *q++; return d; }",
])


def rp2040_cycles(frames: np.ndarray) -> dict | None:
    """pp_run on the emulated RP2040: cycles per frame; None when the tools are missing."""
    from pico4ml.common.paths import load_rp2040_harness
    h = load_rp2040_harness()
    if not (h.have_cross_compiler() and h.have_emulator()):
        print("  (skipped: needs arm-none-eabi-gcc and rp2040py)")
        return None
    from pico4ml.common.paths import CORE_DIR
    from pico4ml.train.preprocess import preprocess_batch
    n, height, width = frames.shape
    out = preprocess_batch(frames)
    # each vector's "output": the 28x28 summed over 10 bands of rows, enough to prove equality
    bands = np.array_split(np.arange(28), 10)
    expected = np.stack([[int(o[b].astype(np.int64).sum()) for b in bands] for o in out]).astype(np.int32)
    frame_array = c_bytes(frames.reshape(n, -1))
    prelude = "\n".join([
        '#include "preprocess.h"',
        "#include <stddef.h>",
        LIBC_WORDWISE,
        f"static const uint8_t pp_frames[{n}][{height * width}] = {frame_array};",
        "static uint8_t pp_out[784];",
        "static unsigned pp_v;",
        "static void pp_bench(int32_t *o) {",
        f"    pp_run(pp_frames[pp_v++ % {n}], {width}, {height}, {width}, NULL, pp_out, NULL);",
        "    static const uint8_t band_end[10] = {" + ", ".join(str(b[-1] + 1) for b in bands) + "};",
        "    int r = 0;",
        "    for (int k = 0; k < 10; k++) { int32_t s = 0; for (; r < band_end[k]; r++)"
        " for (int c = 0; c < 28; c++) s += pp_out[r * 28 + c]; o[k] = s; }",
        "}",
    ])
    inputs = np.zeros((n, 784), np.uint8)
    cfg = h.config_header("preprocess.h", "(void)(in); pp_bench(out);", inputs, expected, prelude=prelude)
    image = h.build_image(f"pp_run_{width}", [CORE_DIR / "preprocess.c"], cfg, [CORE_DIR])
    run = h.run_image(image, n, np.int32, max_cycles=60_000_000 * n)
    match = run.n_run == n and run.n_mismatch == 0 and bool(np.array_equal(run.outputs, expected))
    cyc = run.cycles.astype(np.float64)
    return {"frame": f"{width}x{height}", "cycles_mean": float(cyc.mean()), "cycles_max": int(cyc.max()),
            "ms_at_125mhz": round(cyc.mean() / 125e3, 2), "matches_numpy": match, "n": n,
            "emulator_seconds": round(run.wall_seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller samples and no emulator run")
    args = ap.parse_args(argv)
    from pico4ml.train.data import load_mnist
    x_train, y_train, x_test, _ = load_mnist()
    fig: dict = {}

    for size, n in ((162, 600 if args.quick else 3000), (324, 200 if args.quick else 1000)):
        fps, frames = render_speed(x_train, y_train, size, n)
        fig[f"render_fps_{size}"] = fps
        fig[f"numpy_preprocess_fps_{size}"] = numpy_speed(frames)
        fig[f"c_host_preprocess_fps_{size}"] = c_host_speed(frames[:500])
        print(f"{size}x{size}: camera_sim {fps} frames/s, numpy preprocess_batch "
              f"{fig[f'numpy_preprocess_fps_{size}']} frames/s, C on the host "
              f"{fig[f'c_host_preprocess_fps_{size}']} frames/s")
        if size == 162:
            fig["train_60k_preprocess_seconds"] = round(60000 / fig["numpy_preprocess_fps_162"], 1)
        if not args.quick:
            print(f"pp_run on an emulated RP2040 at {size}x{size}:")
            r = rp2040_cycles(frames[:3])
            fig[f"rp2040_pp_run_{size}"] = r
            if r:
                print(f"  {r['cycles_mean']:.0f} cycles = {r['ms_at_125mhz']} ms at 125 MHz, "
                      f"output equals numpy: {r['matches_numpy']}")
            if size == 162:
                # the same frames as light on dark: auto polarity reads them twice (both polarities)
                r = rp2040_cycles(255 - frames[:3])
                fig["rp2040_pp_run_162_light_on_dark"] = r
                if r:
                    print(f"  light on dark: {r['cycles_mean']:.0f} cycles = {r['ms_at_125mhz']} ms, "
                          f"output equals numpy: {r['matches_numpy']}")

    fig["mnist_correlation"] = mnist_likeness(x_test, 200 if args.quick else 1000)
    print(f"pixel correlation of preprocess(camera frame of an MNIST digit) with the digit: "
          f"{fig['mnist_correlation']}")

    from pico4ml.host_twin.classify import FramePipeline, camera_set_accuracy
    pipe = FramePipeline()
    acc = camera_set_accuracy(pipe, n=500 if args.quick else 2000)
    fig["camera_set"] = acc
    fig["model"] = pipe.model_name
    from pico4ml.train.camera_sim import ttf_fonts_available
    fig["ttf_fonts"] = ttf_fonts_available()
    print(f"firmware pipeline ({pipe.model_name}) on the camera test set, n={acc['n']}: "
          f"{100 * acc['accuracy']:.2f} % (handwritten {100 * acc['handwritten']:.2f} %, "
          f"printed {100 * acc['printed']:.2f} %; {fig['ttf_fonts']} TrueType fonts installed)")
    print(json.dumps(fig))
    return 0


if __name__ == "__main__":
    sys.exit(main())
