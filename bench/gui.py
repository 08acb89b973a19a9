"""Benchmark of the desktop side: stream decoding, state updates, and the GUI's frame rate.

    python bench/gui.py                 # decoder + state + GUI under Xvfb with the host twin
    python bench/gui.py --seconds 20    # longer GUI run

1. Decoder throughput: a large synthetic recorded stream (camera frames, stages, 28x28,
   results, stats: what a board sends) decoded in 64 KiB chunks, as the reader thread does.
2. State throughput: every decoded message applied to the GUI's State, including the
   device-vs-host check (a numpy forward of the committed model per result).
3. GUI frame rate: the real app in a child process under Xvfb (software OpenGL) connected
   to the host twin streaming at --twin-fps over a pty; GUI frames/s and what it received.
4. Link: the GUI's reader (host_gui/link.py) on the host twin over socket:// and a pty at
   --twin-fps (30, the HM01B0's full rate): the share of the twin's frames whose RESULT
   arrives, and the lag, i.e. arrival time minus the device's uptime in its per-frame STATS,
   above the run's smallest such difference (95th percentile). Also with full-resolution
   324x324 FRAMEs (3.2 MB/s), and with the twin as fast as it can go (--fps 0).

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


def measure_link(kind: str, seconds: float, fps: float, fullres: bool = False) -> dict:
    """Frame share and lag of the Link reading the twin over socket:// or a pty (see the docstring)."""
    import numpy as np

    from pico4ml.host_gui.link import Link
    from pico4ml.host_twin.twin import start_twin

    tw = start_twin(port=0 if kind == "socket" else "pty", fps=fps, hello_ms=0)
    link = Link(tw.url).start()
    try:
        t_wait = time.monotonic() + 10
        while not link.connected and time.monotonic() < t_wait:
            time.sleep(0.01)
        link.send(P.encode(P.SetStream(mask=P.STREAM_ALL & ~P.STREAM_STAGE, stats_every=1,
                                       flags=P.STREAM_FLAG_FULLRES if fullres else 0)))
        ids, offsets, frames = [], [], 0
        b0, t0 = link.stats.bytes_rx, time.monotonic()
        while time.monotonic() - t0 < seconds:
            try:
                t, m = link.queue.get(timeout=0.1)
            except Exception:  # queue.Empty
                continue
            if isinstance(m, P.Result):
                ids.append(m.frame_id)
            elif isinstance(m, P.Stats):
                offsets.append(t - m.uptime_ms / 1000.0)
            elif isinstance(m, P.Frame) and m.y0 + m.rows == m.height:
                frames += 1
        dt = time.monotonic() - t0
        ids, offsets = sorted(set(ids[10:])), offsets[10:]  # once the stream options are in force
        lag = np.array(offsets) - min(offsets) if offsets else np.zeros(1)
        t_down = time.monotonic()
        tw.stop()
        while link.connected and time.monotonic() - t_down < 5:
            time.sleep(0.005)
        return {"frame_share": len(ids) / (ids[-1] - ids[0] + 1) if ids else 0.0,
                "twin_fps": (ids[-1] - ids[0] + 1) / dt if ids else 0.0,
                "lag_ms": float(np.percentile(lag, 95) * 1e3), "lag_max_ms": float(lag.max() * 1e3),
                "mb_s": (link.stats.bytes_rx - b0) / dt / 1e6, "frames_whole": frames,
                "disconnect_s": time.monotonic() - t_down, "queue_drops": link.stats.queue_drops}
    finally:
        link.stop()
        tw.stop()


def bench_link(seconds: float, twin_fps: float) -> dict:
    out: dict = {}
    for kind in ("socket", "pty"):
        for label, fps, fullres in (("", twin_fps, False), ("_fullres", twin_fps, True), ("_max", 0.0, False)):
            r = measure_link(kind, seconds, fps, fullres)
            print(f"link {kind:6s} twin at {'max' if fps == 0 else f'{fps:g}'} fps{' FULLRES' if fullres else ''}: "
                  f"{r['frame_share'] * 100:.1f} % of {r['twin_fps']:.0f} frames/s received, lag p95 "
                  f"{r['lag_ms']:.0f} ms (max {r['lag_max_ms']:.0f}), {r['mb_s']:.2f} MB/s, disconnect seen "
                  f"{r['disconnect_s'] * 1e3:.0f} ms after the twin stopped")
            out[f"{kind}_frame_share{label}"] = round(r["frame_share"], 4)
            out[f"{kind}_lag_ms{label}"] = round(r["lag_ms"], 1)
            out[f"{kind}_disconnect_ms{label}"] = round(r["disconnect_s"] * 1e3, 1)
            if fps == 0:
                out[f"{kind}_twin_max_fps"] = round(r["twin_fps"], 1)
            if fullres:
                out[f"{kind}_mb_s{label}"] = round(r["mb_s"], 2)
    out["lag_ms"] = max(out["socket_lag_ms"], out["pty_lag_ms"])  # the worse of the two at --twin-fps
    return out


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
    ap.add_argument("--link-seconds", type=float, default=5.0, help="length of each link measurement")
    args = ap.parse_args(argv)

    dec = bench_decoder(args.frames, args.repeat)
    print(f"decoder: {dec['decoder_mb_s']:.1f} MB/s, {dec['decoder_msgs_s']:.0f} messages/s "
          f"over {dec['stream_mb']:.1f} MB ({dec['messages']} messages)")
    st = bench_state(args.frames)
    print(f"state (apply + host check): {st['state_msgs_s']:.0f} messages/s = "
          f"{st['state_frames_s']:.0f} device frames/s")
    link = bench_link(args.link_seconds, args.twin_fps)
    gui = bench_gui(args.seconds, args.twin_fps)
    if gui.get("gui_fps") is not None:
        print(f"GUI under Xvfb: {gui['gui_fps']:.1f} frames/s (worst frame {gui['worst_frame_ms']:.0f} ms; per frame "
              f"{gui['update_ms']:.1f} ms state->widgets, {gui['render_ms']:.1f} ms Dear PyGui render) with the "
              f"twin at {args.twin_fps:g} fps: {gui['results_per_s']:.1f} results/s, "
              f"{gui['camera_frames_per_s']:.1f} camera frames/s, {gui['stream_kb_s']:.0f} KB/s, "
              f"{gui['host_mismatches']} host mismatches, {gui['queue_drops']} queue drops")
    print(json.dumps({**dec, **st, **link, **gui, "twin_fps": args.twin_fps}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
