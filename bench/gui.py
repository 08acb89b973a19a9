"""Benchmark of the desktop side: stream decoding, state updates, and the GUI's frame rate.

    python bench/gui.py                 # decoder + state + GUI under Xvfb with the host twin
    python bench/gui.py --seconds 20    # longer GUI run

1. Decoder throughput: a large synthetic recorded stream (camera frames, stages, 28x28,
   results, stats: what a board sends) decoded in 64 KiB chunks, as the reader thread does.
2. State throughput: every decoded message applied to the GUI's State, including the
   device-vs-host check (a numpy forward of the committed model per result).
3. GUI frame rate: the real app in a child process under Xvfb (software OpenGL) connected
   to the host twin streaming at --twin-fps over a pty; GUI frames/s and what it received.

Prints its figures and ends with one JSON line of them.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from pico4ml.common import protocol as P
from pico4ml.host_gui import synthetic as S
from pico4ml.host_gui.headless import run_python, why_no_display
from pico4ml.host_gui.hostcheck import try_load
from pico4ml.host_gui.state import State

GUI_RUN = r"""
import json, sys, time
import dearpygui.dearpygui as dpg
from pico4ml.host_gui import view
from pico4ml.host_gui.hostcheck import try_load
from pico4ml.host_gui.link import Link
from pico4ml.host_gui.source import LiveSource
from pico4ml.host_gui.state import State
from pico4ml.host_twin.twin import start_twin

seconds, twin_fps, out = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
twin = start_twin(fps=twin_fps)
source = LiveSource(Link(twin.port).start())
model, _ = try_load()
dpg.create_context()
app = view.App(source, State(host_model=model))
view.create(app, width=1500, height=940)
t_conn = time.monotonic()
while not source.connected and time.monotonic() - t_conn < 10:
    app.update(); dpg.render_dearpygui_frame()
while app.state.results_rx == 0 and time.monotonic() - t_conn < 10:
    app.update(); dpg.render_dearpygui_frame()
r0, b0, f0 = app.state.results_rx, source.bytes_rx, app.state.frames_rx
frames, worst, t_update, t0 = 0, 0.0, 0.0, time.monotonic()
while time.monotonic() - t0 < seconds:
    t = time.monotonic()
    app.update()
    t_update += time.monotonic() - t
    dpg.render_dearpygui_frame()
    worst = max(worst, time.monotonic() - t)
    frames += 1
dt = time.monotonic() - t0
p = app.state.prediction
json.dump({"gui_fps": frames / dt, "worst_frame_ms": worst * 1e3, "update_ms": t_update / frames * 1e3,
           "render_ms": (dt - t_update) / frames * 1e3,
           "results_per_s": (app.state.results_rx - r0) / dt, "camera_frames_per_s": (app.state.frames_rx - f0) / dt,
           "stream_kb_s": (source.bytes_rx - b0) / dt / 1024, "device_fps": p.result.fps if p else None,
           "host_checks": app.state.checks, "host_mismatches": app.state.check_failures,
           "queue_drops": source.link.stats.queue_drops, "decode_errors": source.decoder_stats.errors},
          open(out, "w"))
source.close(); twin.stop(); dpg.destroy_context()
"""


def bench_decoder(n_frames: int, repeat: int) -> dict:
    msgs = list(S.stream(n_frames))
    data = S.encoded(msgs) * repeat
    chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)]
    best = float("inf")
    count = 0
    for _ in range(3):
        dec = P.Decoder()
        t = time.perf_counter()
        count = sum(len(dec.feed(c)) for c in chunks)
        best = min(best, time.perf_counter() - t)
        assert dec.stats.errors == 0
    return {"decoder_mb_s": len(data) / best / 1e6, "decoder_msgs_s": count / best, "stream_mb": len(data) / 1e6,
            "messages": count}


def bench_state(n_frames: int) -> dict:
    model, note = try_load()
    msgs = list(S.stream(n_frames, model))
    timed = S.timed(msgs)
    st = State(host_model=model)
    t = time.perf_counter()
    for tm, m in timed:
        st.apply(tm, m)
    dt = time.perf_counter() - t
    return {"state_msgs_s": len(timed) / dt, "state_frames_s": n_frames / dt, "host_check": model is not None}


def bench_gui(seconds: float, twin_fps: float) -> dict:
    reason = why_no_display()
    if reason:
        print(f"GUI frame rate: skipped ({reason})")
        return {"gui_fps": None}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "gui.json"
        proc = run_python(GUI_RUN, str(seconds), str(twin_fps), str(out), timeout=seconds + 120)
        if proc.returncode != 0 or not out.exists():
            print("GUI run failed:\n" + proc.stderr[-2000:], file=sys.stderr)
            return {"gui_fps": None}
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=200, help="synthetic frames in the decoder stream")
    ap.add_argument("--repeat", type=int, default=12, help="times the stream is repeated (size of the test)")
    ap.add_argument("--seconds", type=float, default=8.0, help="length of the GUI run")
    ap.add_argument("--twin-fps", type=float, default=30.0, help="frame rate the host twin streams at")
    args = ap.parse_args(argv)

    dec = bench_decoder(args.frames, args.repeat)
    print(f"decoder: {dec['decoder_mb_s']:.1f} MB/s, {dec['decoder_msgs_s']:.0f} messages/s "
          f"over {dec['stream_mb']:.1f} MB ({dec['messages']} messages)")
    st = bench_state(args.frames)
    print(f"state (apply + host check): {st['state_msgs_s']:.0f} messages/s = "
          f"{st['state_frames_s']:.0f} device frames/s")
    gui = bench_gui(args.seconds, args.twin_fps)
    if gui.get("gui_fps") is not None:
        print(f"GUI under Xvfb: {gui['gui_fps']:.1f} frames/s (worst frame {gui['worst_frame_ms']:.0f} ms; per frame "
              f"{gui['update_ms']:.1f} ms state->widgets, {gui['render_ms']:.1f} ms Dear PyGui render) with the "
              f"twin at {args.twin_fps:g} fps: {gui['results_per_s']:.1f} results/s, "
              f"{gui['camera_frames_per_s']:.1f} camera frames/s, {gui['stream_kb_s']:.0f} KB/s, "
              f"{gui['host_mismatches']} host mismatches, {gui['queue_drops']} queue drops")
    print(json.dumps({**dec, **st, **gui, "twin_fps": args.twin_fps}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
