"""Benchmark of the USB link protocol: bytes on the wire, bandwidth per stream option,
decoder throughput, and what the host twin really sends.

    python bench/protocol.py              # everything (about 15 s)
    python bench/protocol.py --twin-seconds 0   # without the twin run

1. Wire size of each message type, encoded by common/protocol.py on random pixels (the
   worst case for COBS), and the bandwidth each stream option needs at 10/15/30 fps
   against the ~500 KB/s that USB full-speed CDC carries in practice (docs/protocol.md).
2. Python decoder throughput (MB/s) on a stream of default-option messages.
3. The host twin (the firmware's C on a pty) for a few seconds at 30 fps, default stream:
   bytes/s received, messages/s, lost messages, and its preprocess / net() times (host CPU).
4. The twin with FULLRES 324x324 frames (105 KB each, more than its 64 KiB queue), read as
   fast as possible and read at ~500 KB/s like USB full speed: whole frames/s (FRAME bands
   that do not fit wait for the queue to drain), results/s and bytes/s.

Prints its figures and ends with one JSON line of them.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from pico4ml.common import protocol as P

USB_FS_PRACTICAL = 500_000  # bytes/s, docs/protocol.md


def frame_bytes(w: int, h: int, full: bool, band_bytes: int = 8192) -> int:
    """A w x h FRAME as the device sends it: in row bands of at most band_bytes pixels."""
    rows_per = max(1, band_bytes // w)
    total = 0
    for y0 in range(0, h, rows_per):
        rows = min(rows_per, h - y0)
        total += len(P.encode(P.Frame(1, w, h, y0, rows, w, h, 0, int(full), 1, os.urandom(w * rows))))
    return total


def wire_sizes() -> dict[str, int]:
    r = os.urandom
    stage = 3 * len(P.encode(P.Stage(1, 1, 0, 64, 64, (0, 0, 0, 0), 0, 0, (0, 0, 324, 324), r(4096))))
    stage += len(P.encode(P.Stage(1, 4, 0, 20, 20, (0, 0, 0, 0), 0, 0, (0, 0, 0, 0), r(400))))
    return {
        "frame_81": frame_bytes(81, 81, False),
        "frame_162_full": frame_bytes(162, 162, True),
        "frame_324_full": frame_bytes(324, 324, True),
        "input28": len(P.encode(P.Input28(1, 0, r(784)))),
        "result": len(P.encode(P.Result(1, 3, 0, 0, 0, 0.5, tuple(r(1)[0] / 7 for _ in range(10)), 1, 2, 3, 4, 5))),
        "stats": len(P.encode(P.Stats(*range(10)))),
        "stage_all": stage,
        "candidates_max": len(P.encode(P.Candidates(1, 0, chosen=0, candidates=[(9, 9, 20, 30, 0, 255, 999)] * 16))),
        "candidates_none": len(P.encode(P.Candidates(1, 0, no_digit=P.ND_LOW_CONTRAST))),
        "hello": len(P.encode(P.Hello(capture_width=324, capture_height=324, max_command_bytes=P.MAX_PACKET,
                                      weights_hash="0123456789abcdef", firmware_version="0.1.0",
                                      model_name="mlp_int8_fast", build_info="host twin, gcc 12.2.0"))),
    }


def stream_options(s: dict[str, int]) -> dict[str, float]:
    base = s["input28"] + s["result"] + s["stats"] / 10
    return {
        "results_only": base,
        "default": base + s["frame_81"],
        "default_stage": base + s["frame_81"] + s["stage_all"],
        "fullres_162": base + s["frame_162_full"],
        "fullres_324": base + s["frame_324_full"],
        "fullres_324_decim4": base + s["frame_324_full"] / 4,
    }


def decoder_mb_s(seconds: float = 2.0, zeros: bool = False) -> float:
    """Random pixels, or all-zero pixels (COBS worst case for the decoder: one block per byte)."""
    pix = (lambda n: bytes(n)) if zeros else os.urandom
    enc = P.Encoder()
    chunk = b"".join(enc.encode(m) for _ in range(50) for m in (
        P.Frame(1, 81, 81, 0, 81, 324, 324, 0, 0, 4, pix(6561)), P.Input28(1, 0, pix(784)), P.Result(1, 2)))
    dec = P.Decoder()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for i in range(0, len(chunk), 4096):  # reads of 4 KiB, as a serial port delivers them
            dec.feed(chunk[i:i + 4096])
        n += len(chunk)
    assert dec.stats.errors == 0
    return n / (time.perf_counter() - t0) / 1e6


def twin_run(seconds: float) -> dict[str, float]:
    import serial

    from pico4ml.host_twin.twin import start_twin
    with start_twin(port="pty", fps=30, size=(324, 324)) as tw, serial.Serial(tw.path, timeout=0.05) as port:
        dec = P.Decoder()
        port.reset_input_buffer()
        dec.feed(port.read(1 << 20))  # drop what queued up before we opened
        dec = P.Decoder()
        msgs: list[P.Message] = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            msgs += dec.feed(port.read(65536))
        dt = time.monotonic() - t0
    results = [m for m in msgs if isinstance(m, P.Result)]
    return {
        "twin_bytes_s": dec.stats.bytes_in / dt,
        "twin_msgs_s": dec.stats.packets / dt,
        "twin_results_s": len(results) / dt,
        "twin_lost": dec.stats.lost,
        "twin_decode_errors": dec.stats.errors,
        "twin_preprocess_us_median": statistics.median(r.t_preprocess_us for r in results) if results else None,
        "twin_net_us_median": statistics.median(r.t_net_us for r in results) if results else None,
        "twin_device_fps": results[-1].fps if results else None,
    }


def twin_fullres_run(seconds: float, rate: float | None = None) -> dict[str, float]:
    """FULLRES 324x324 from the twin at 30 fps; rate: host read speed in bytes/s (None: all it can)."""
    import serial

    from pico4ml.host_twin.twin import start_twin
    with start_twin(port="pty", fps=30, size=(324, 324), hello_ms=0) as tw, \
            serial.Serial(tw.path, timeout=0.01) as port:
        port.write(P.encode(P.SetStream(flags=P.STREAM_FLAG_FULLRES)))
        dec, asm = P.Decoder(), P.FrameAssembler()
        while not any(isinstance(m, P.Stream) and m.full_res for m in dec.feed(port.read(65536))):
            pass  # FULLRES is in force from here on
        dec = P.Decoder()
        whole = results = 0
        t0 = time.monotonic()
        while (now := time.monotonic()) - t0 < seconds:
            n = 65536 if rate is None else min(65536, int(rate * (now - t0)) - dec.stats.bytes_in)
            if n < 512:
                time.sleep(0.002)
                continue
            for m in dec.feed(port.read(n)):
                if isinstance(m, P.Frame):
                    f = asm.add(m)
                    whole += f is not None and f.width == 324
                results += isinstance(m, P.Result)
        dt = time.monotonic() - t0
    return {"frames_s": whole / dt, "results_s": results / dt, "bytes_s": dec.stats.bytes_in / dt,
            "lost": dec.stats.lost, "decode_errors": dec.stats.errors}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--twin-seconds", type=float, default=5.0, help="how long to record the host twin (0: skip)")
    args = ap.parse_args(argv)

    sizes = wire_sizes()
    print("bytes on the wire per message:")
    for k, v in sizes.items():
        print(f"  {k:16s} {v:8d}")
    per_frame = stream_options(sizes)
    print(f"bandwidth per stream option (USB FS CDC ~{USB_FS_PRACTICAL // 1000} KB/s in practice):")
    for k, v in per_frame.items():
        rates = "  ".join(f"{fps:2d} fps {v * fps / 1000:7.1f} KB/s ({100 * v * fps / USB_FS_PRACTICAL:4.0f}%)"
                          for fps in (10, 15, 30))
        print(f"  {k:20s} {v / 1000:7.2f} KB/frame  {rates}")
    mbs, mbs_zeros = decoder_mb_s(), decoder_mb_s(zeros=True)
    print(f"Python decoder: {mbs:.1f} MB/s (random pixels), {mbs_zeros:.1f} MB/s (all-black pixels, worst case)")
    figures: dict[str, object] = {f"wire_{k}": v for k, v in sizes.items()}
    figures.update({f"kb_per_frame_{k}": round(v / 1000, 3) for k, v in per_frame.items()})
    figures["decoder_mb_s"] = round(mbs, 2)
    figures["decoder_mb_s_black"] = round(mbs_zeros, 2)
    if args.twin_seconds > 0:
        tw = twin_run(args.twin_seconds)
        print("host twin, 30 fps, 324x324 synthetic digits, default stream: "
              f"{tw['twin_bytes_s'] / 1000:.1f} KB/s, {tw['twin_results_s']:.1f} results/s, lost {tw['twin_lost']}, "
              f"preprocess {tw['twin_preprocess_us_median']} us, net() {tw['twin_net_us_median']} us (host CPU)")
        figures.update({k: (round(v, 2) if isinstance(v, float) else v) for k, v in tw.items()})
        for label, rate in (("fast", None), ("500k", USB_FS_PRACTICAL)):
            fr = twin_fullres_run(args.twin_seconds, rate)
            print(f"host twin, 30 fps, FULLRES 324x324, host reading {'all it can' if rate is None else '500 KB/s'}: "
                  f"{fr['frames_s']:.1f} whole frames/s, {fr['results_s']:.1f} results/s, "
                  f"{fr['bytes_s'] / 1000:.1f} KB/s, lost {fr['lost']}, decode errors {fr['decode_errors']}")
            figures.update({f"twin_fullres_{label}_{k}": (round(v, 2) if isinstance(v, float) else v)
                            for k, v in fr.items()})
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
