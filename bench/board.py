"""Board figures from the firmware image on the emulated Pico4ML (pico4ml.emulator).

Boots the default firmware, shows the camera a sequence of MNIST test digits (dark ink on
paper, each held for --hold sensor frames) and runs until --frames sensor frames have been
sent. From what the firmware reports over USB:
- frames captured/classified/streamed per emulated second, capture-to-RESULT latency (the
  end of the sensor frame the firmware captured -> RESULT at the host; the captured frame is
  the last one to end before RESULT time - t_preprocess - t_net),
- net() and preprocessing time as the firmware measures them (and in clk_sys cycles),
- both cores' stack headroom (the firmware's own LOG),
- results_match_twin: every RESULT equals the host twin's (core/*.c built for the host) on
  the same sensor picture; accuracy against the MNIST labels,
- the emulator's cost: wall seconds per emulated second and per sensor frame,
- XIP flash line fills per inference, estimated for each model kind (--xip-models): rp2040py
  has no flash cache, so every flash read of both cores is traced into a model of the
  RP2040's 16 kB cache (pico4ml.emulator.xip, assumptions in its docstring and in the JSON)
  for --xip-inferences calls of net() after one that warms the model up; the default model's
  on the board above, after its frames, each other model's on a board of its own firmware
  build. `xip_fills_per_inference` is the default model's median.
Last line: one JSON object.

    python bench/board.py [--frames 30] [--hold 3] [--xip-models mlp_int8_fast,cnn_int8]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pico4ml.common import fwbuild, protocol as P  # noqa: E402
from pico4ml.emulator import xip  # noqa: E402
from pico4ml.emulator.board import Board  # noqa: E402
from pico4ml.host_twin.classify import FramePipeline  # noqa: E402
from pico4ml.train.data import load_mnist  # noqa: E402

from emulated import digit_scene  # noqa: E402

CLK_MHZ = 125


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=30, help="sensor frames to feed (default 30)")
    ap.add_argument("--hold", type=int, default=3, help="sensor frames each digit stays in view")
    ap.add_argument("--wall", type=float, default=1800, help="give up after this many real seconds")
    ap.add_argument("--xip-models", default="mlp_int8_fast,cnn_int8",
                    help="models whose XIP line fills per inference are estimated (comma-separated manifest "
                         "names; '' for none; each other than the default builds its firmware)")
    ap.add_argument("--xip-inferences", type=int, default=2, help="traced net() calls counted per model")
    args = ap.parse_args(argv)
    if args.frames < 2 or args.hold < 1 or args.xip_inferences < 1:
        ap.error("--frames >= 2, --hold >= 1, --xip-inferences >= 1")
    from pico4ml.common import manifest
    try:
        xip_models = [manifest.get(m).name for m in args.xip_models.split(",") if m.strip()]
    except manifest.ManifestError as e:
        ap.error(str(e))

    fw = fwbuild.build_firmware()
    _, _, x_test, y_test = load_mnist()
    n_digits = args.frames // args.hold + 1
    scenes = [digit_scene(x_test[i]) for i in range(n_digits)]
    labels = [int(y_test[i]) for i in range(n_digits)]
    board = Board.from_elf(fw.elf, lambda i: scenes[(i // args.hold) % n_digits])

    t0 = time.monotonic()
    board.run_until(lambda b: b.first(P.Hello), emulated_s=1.0, wall_s=args.wall)
    board.send(P.SetStream(stats_every=1))
    t_boot = time.monotonic()
    board.run_until(lambda b: b.cam.frames >= 1, emulated_s=10, wall_s=args.wall)
    t_first = time.monotonic()
    emu_first = board.now_us
    board.run_until(lambda b: b.cam.frames >= args.frames, emulated_s=60, wall_s=args.wall)
    t_end = time.monotonic()
    ends = [t / 1000 for t in board.cam.frame_end_ns]   # µs at which sensor frame k ended
    emu_s = (board.now_us - emu_first) / 1e6

    pipe = FramePipeline()
    results = [(t, m) for t, m in board.messages if isinstance(m, P.Result) and t > emu_first]
    latencies, match, correct, captured = [], [], [], []
    for t, r in results:
        done_capture = t - r.t_preprocess_us - r.t_net_us
        k = max((i for i, e in enumerate(ends) if e <= done_capture), default=None)
        if k is None:
            continue
        latencies.append((t - ends[k]) / 1000)
        captured.append(k)
        scene = scenes[(k // args.hold) % n_digits]
        twin = pipe.classify(scene[::2, ::2])      # the 162x162 the firmware bins (exact: 8x8 blocks)
        match.append(twin.digit == r.argmax and abs(twin.score - r.score) < 1e-4)
        correct.append(r.argmax == labels[(k // args.hold) % n_digits])
    frames = [m for t, m in board.messages if isinstance(m, P.Frame) and t > emu_first and m.y0 == 0]
    logs = " ".join(m.text for m in board.of(P.Log))
    heads = re.search(r"stack headroom: core0 (\d+) of \d+ B, core1 (\d+) of", logs)
    pp_us = [r.t_preprocess_us for _, r in results]
    net_us = [r.t_net_us for _, r in results]
    # the LCD's camera view (rows 0..79) shows the last processed frame
    lcd = board.lcd.rgb().astype(np.int32)[0:80, :, 1]
    import cv2
    lcd_ok = False
    if captured:
        exp = cv2.resize(scenes[(captured[-1] // args.hold) % n_digits], (80, 80), interpolation=cv2.INTER_AREA)
        lcd_ok = bool(np.abs(lcd - exp).mean() < 6)
    out = {
        "cores": 2,
        "frames_fed": board.cam.frames,
        "frames_classified": len(results),
        "frames_streamed": len(frames),
        "emulated_s": round(emu_s, 3),
        "captured_fps": round((board.cam.frames - 1) / emu_s, 2) if emu_s else None,
        "classified_fps": round(len(results) / emu_s, 2) if emu_s else None,
        "streamed_fps": round(len(frames) / emu_s, 2) if emu_s else None,
        "latency_ms": round(float(np.median(latencies)), 2) if latencies else None,
        "latency_ms_max": round(float(np.max(latencies)), 2) if latencies else None,
        "preprocess_us": int(np.median(pp_us)) if pp_us else None,
        "preprocess_cycles": int(np.median(pp_us)) * CLK_MHZ if pp_us else None,
        "net_us": int(np.median(net_us)) if net_us else None,
        "net_cycles": int(np.median(net_us)) * CLK_MHZ if net_us else None,
        "stack_headroom_bytes": [int(heads.group(1)), int(heads.group(2))] if heads else None,
        "results_match_twin": bool(match) and all(match),
        "results_compared": len(match),
        "accuracy": round(sum(correct) / len(correct), 3) if correct else None,
        "lcd_matches_golden": lcd_ok,
        "xip_fills_per_inference": None,
        "xip_fill_cycles_per_inference": None,
        "xip": {},
        "xip_assumptions": xip.ASSUMPTIONS,
        "wall_boot_to_hello_s": round(t_boot - t0, 1),
        "wall_to_first_frame_s": round(t_first - t0, 1),
        "wall_per_sensor_frame_s": round((t_end - t_first) / max(1, board.cam.frames - 1), 2),
        "wall_per_emulated_s": round((t_end - t_first) / emu_s, 1) if emu_s else None,
        "rp2040py_native": sorted(p.name.split(".", 1)[1] for p in
                                  (Path(__import__("rp2040py").__file__).parent / "native").glob("_rp2040*.so")),
        "machine_cpus": os.cpu_count(),
    }
    for name in xip_models:
        t_xip = time.monotonic()
        if name == fw.model:
            on, elf = board, fw.elf
        else:
            elf = fwbuild.build_firmware(model=name).elf
            on = Board.from_elf(elf, scenes[0])
            on.run_until(lambda b: b.first(P.Result), emulated_s=10, wall_s=args.wall)
        entry = xip.symbol_address(elf, manifest.get(name).function)
        est = xip.trace_inferences(on, entry, count=args.xip_inferences, wall_s=args.wall)
        est["kind"] = manifest.get(name).kind
        est["wall_s"] = round(time.monotonic() - t_xip, 1)
        out["xip"][name] = est
        print(f"xip {name}: {est}", flush=True)
        if name == fw.model and est.get("inferences"):
            out["xip_fills_per_inference"] = est["fills_median"]
            out["xip_fill_cycles_per_inference"] = est["fill_cycles"]
    print(f"board bench: {out['frames_fed']} sensor frames, {out['frames_classified']} classified "
          f"({out['classified_fps']} /s emulated), latency {out['latency_ms']} ms, net() {out['net_us']} us, "
          f"twin match {out['results_match_twin']} ({len(match)}), accuracy {out['accuracy']}; "
          f"wall {out['wall_per_sensor_frame_s']} s per sensor frame")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
