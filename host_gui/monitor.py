"""pico4ml-monitor: the GUI's stream in a terminal, for hosts without Dear PyGui (a Raspberry Pi).

Prints one line per prediction with the device's timings and the device-vs-host check,
connection changes and device log lines; records and replays like the GUI. Never imports
Dear PyGui.

examples:
  pico4ml-monitor --sim --count 20          20 predictions from the host twin, then exit
  pico4ml-monitor --port /dev/ttyACM0 --record s.p4rec
  pico4ml-monitor --replay s.p4rec --csv predictions.csv
  pico4ml-monitor --port socket://127.0.0.1:5555 --inject digits/   answers for each image
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

from pico4ml.common import protocol as P
from .cli import add_common, check_args, make_state, open_source, sigterm_as_interrupt
from .link import LinkStatus
from .state import Prediction, State


def format_prediction(p: Prediction, as_json: bool = False) -> str:
    r = p.result
    if as_json:
        d = {"t": round(p.t, 6), "frame_id": r.frame_id, "digit": r.argmax,
             "score": round(float(p.scores[r.argmax]), 6),
             "scores": [round(float(s), 6) for s in p.scores], "capture_us": r.t_capture_us,
             "preprocess_us": r.t_preprocess_us, "net_us": r.t_net_us, "send_us": r.t_send_us,
             "device_fps": r.fps, "injected": r.injected,
             "model": P.MODEL_KIND_NAMES.get(r.model_kind, str(r.model_kind))}
        if r.injected:
            d["name"] = p.name
        if p.check is not None:
            d.update(host_digit=p.check.host_digit, host_max_diff=round(p.check.max_diff, 6), host_ok=p.check.ok)
        return json.dumps(d)
    check = "" if p.check is None else (f"  host {p.check.host_digit} "
                                        f"{'ok' if p.check.ok else 'MISMATCH'} (diff {p.check.max_diff:.4f})")
    when = time.strftime("%H:%M:%S", time.localtime(p.t)) + f".{int(p.t * 1000) % 1000:03d}"
    inj = f"  ({p.name or 'injected'})" if r.injected else ""
    return (f"{when} frame {r.frame_id:6d}  digit {r.argmax}  "
            f"{p.scores[r.argmax] * 100:5.1f}%  capture {r.t_capture_us / 1e3:6.2f} ms  "
            f"preprocess {r.t_preprocess_us / 1e3:6.2f} ms  net {r.t_net_us / 1e3:6.2f} ms  "
            f"{r.fps:5.1f} fps{check}{inj}")


class Printer:
    """Applies queue items to the State and prints what a user wants to see of each."""

    def __init__(self, state: State, out: TextIO, as_json: bool = False, every: int = 1,
                 stats_every_s: float = 10.0) -> None:
        self.state, self.out, self.as_json, self.every = state, out, as_json, max(1, every)
        self.stats_every_s = stats_every_s
        self.printed = 0
        self._stats_t = 0.0

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def apply(self, t: float, item: Any) -> None:
        logged = self.state.log.added
        self.state.apply(t, item)
        if isinstance(item, P.Result):
            if self.state.results_rx % self.every == 0 or item.injected:
                self.say(format_prediction(self.state.predictions[-1], self.as_json))  # not the held one
                self.printed += 1
            return
        if self.as_json:
            return
        if isinstance(item, LinkStatus):
            self.say(f"-- {item.state}: {item.text}")
        elif isinstance(item, (P.Hello, P.Log, P.Error)):
            new = min(self.state.log.added - logged, len(self.state.log))  # a repeated HELLO logs nothing
            for line in list(self.state.log)[len(self.state.log) - new:]:
                self.say("-- " + line)
        elif isinstance(item, P.Stats) and self.stats_every_s and t - self._stats_t >= self.stats_every_s:
            self._stats_t = t
            self.say(f"-- device: up {item.uptime_ms / 1000:.0f} s, {item.frames} frames, "
                     f"{item.msgs_dropped} messages dropped (host too slow), {item.frames_skipped} frames skipped, "
                     f"{item.camera_errors} camera errors, {item.rx_errors} bad commands received")


def parser() -> argparse.ArgumentParser:
    doc = __doc__.split("\n")
    ap = argparse.ArgumentParser(prog="pico4ml-monitor", description=doc[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(doc[6:]))
    add_common(ap)
    ap.add_argument("--count", type=int, default=0, help="exit after this many predictions (0: run until Ctrl-C)")
    ap.add_argument("--duration", type=float, default=0.0, help="exit after this many seconds (0: no limit)")
    ap.add_argument("--every", type=int, default=1, help="print every Nth prediction (injected ones always)")
    ap.add_argument("--json", action="store_true", help="one JSON object per prediction instead of text")
    ap.add_argument("--stats-every", type=float, default=10.0, metavar="S",
                    help="print the device's counters every S seconds (0: never)")
    ap.add_argument("--csv", metavar="FILE", help="write all predictions as CSV at exit")
    ap.add_argument("--inject", metavar="PATH", help="send an image file or every image of a folder through the "
                                                      "device's preprocessing and net(), print the answers, exit")
    ap.add_argument("--realtime", action="store_true", help="with --replay: play at recorded speed")
    return ap


def _replay(args: argparse.Namespace, source: Any, printer: Printer) -> None:
    events = source.replay.events
    t0, w0 = (events[0][0] if events else 0.0), time.monotonic()
    printer.apply(0.0, source.status())
    for t, msg in events:
        if args.realtime:
            time.sleep(max(0.0, (t - t0) - (time.monotonic() - w0)))
        printer.apply(t, msg)
        if args.count and printer.printed >= args.count:
            break


def _live(args: argparse.Namespace, source: Any, printer: Printer, out: TextIO) -> int:
    from .images import image_files, load_grey
    from .presets import Settings

    settings = Settings.load(args.preset) if args.preset else None
    pending = image_files(args.inject) if args.inject else []
    if args.inject and not pending:
        print(f"pico4ml-monitor: no image files at {args.inject}", file=sys.stderr)
        return 2
    n_inject = len(pending)
    was_connected = False
    t_end = time.monotonic() + args.duration if args.duration else None
    while True:
        try:
            t, item = source.link.queue.get(timeout=0.1)
            printer.apply(t, item)
        except Exception:  # queue.Empty
            pass
        connected = source.connected
        if connected and not was_connected:
            source.send(P.Ping(P.PING_WANT_HELLO, 1))
            for m in settings.messages() if settings else []:
                source.send(m)
        was_connected = connected
        if pending and connected:
            path = pending.pop(0)
            try:
                msg = P.Inject.from_array(load_grey(path))
                if source.send(msg):
                    printer.state.inject_names[msg.seq] = path.name
                    print(f"-- injected {path}", file=out, flush=True)
                else:
                    print(f"-- could not send {path}: {source.link.last_send_error}", file=out, flush=True)
                    n_inject -= 1
            except ValueError as e:
                print(f"-- skipped {e}", file=out, flush=True)
                n_inject -= 1
        if args.inject and not pending and sum(p.result.injected for p in printer.state.predictions) >= n_inject:
            return 0
        if args.count and printer.printed >= args.count:
            return 0
        if t_end is not None and time.monotonic() >= t_end:
            return 1 if args.inject else 0  # injected images left unanswered


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    with sigterm_as_interrupt():
        return _main(argv, out or sys.stdout)


def _main(argv: list[str] | None, out: TextIO) -> int:
    args = parser().parse_args(argv)
    problem = check_args(args)
    if problem:
        print(f"pico4ml-monitor: {problem}", file=sys.stderr)
        return 2
    try:
        source, twin = open_source(args)
    except Exception as e:  # noqa: BLE001 -- unreadable recording, twin that will not build
        print(f"pico4ml-monitor: {e}", file=sys.stderr)
        return 2
    state = make_state(args)
    printer = Printer(state, out, args.json, args.every, args.stats_every)
    if not args.json:
        print("-- " + state.log[-1], file=out, flush=True)
    code = 0
    try:
        if source.live:
            code = _live(args, source, printer, out)
        else:
            _replay(args, source, printer)
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
        if twin is not None:
            twin.stop()
    if args.csv:
        n = state.export_csv(args.csv)
        print(f"-- {n} predictions written to {args.csv}", file=sys.stderr)
    if not args.json:
        dec = source.decoder_stats
        print(f"-- {state.results_rx} predictions, {state.frames_rx} frames, "
              f"{0 if dec is None else dec.errors} decode errors, {state.check_failures} host mismatches",
              file=out, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
