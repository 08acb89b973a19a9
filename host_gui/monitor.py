"""pico4ml-monitor: the GUI's stream in a terminal, for hosts without Dear PyGui (a Raspberry Pi).

Prints one line per prediction with the device's timings and the device-vs-host check,
connection changes and device log lines; records and replays like the GUI. Never imports
Dear PyGui.

examples:
  pico4ml-monitor --sim --count 20          20 predictions from the host twin, then exit
  pico4ml-monitor --port /dev/ttyACM0 --record s.p4rec
  pico4ml-monitor --replay s.p4rec --csv predictions.csv
  pico4ml-monitor --port socket://127.0.0.1:5555 --inject digits/   answers for each image

exit status: 0 done; 1 no board answered in time (--count, --inject, --timeout, --duration),
or an injected image was refused or unanswered; 2 bad arguments, a port that is not a serial
port, an unreadable recording or image.
"""
from __future__ import annotations

import argparse
import json
import queue
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from pico4ml.common import protocol as P
from pico4ml.common.argtypes import existing_path, non_negative_float, non_negative_int, positive_int
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
             "model": P.MODEL_KIND_NAMES.get(r.model_kind, str(r.model_kind)),
             "status": r.status_name, "polarity": {P.POLARITY_DARK_ON_LIGHT: "dark on light",
                                                    P.POLARITY_LIGHT_ON_DARK: "light on dark"}.get(r.polarity),
             "min_score_pct": r.min_score_pct, "second_reading": r.second_reading}
        if r.injected:
            d["name"] = p.name
        if p.check is not None:
            d.update(host_digit=p.check.host_digit, host_max_diff=round(p.check.max_diff, 6), host_ok=p.check.ok)
        return json.dumps(d)
    check = "" if p.check is None else (f"  host {p.check.host_digit} "
                                        f"{'ok' if p.check.ok else 'MISMATCH'} (diff {p.check.max_diff:.4f})")
    when = time.strftime("%H:%M:%S", time.localtime(p.t)) + f".{int(p.t * 1000) % 1000:03d}"
    inj = f"  ({p.name or 'injected'})" if r.injected else ""
    status = "" if r.status == P.STATUS_DIGIT else f"  [{r.status_name}]"  # protocol v2: '-' / '?' on the LCD
    status += "  (second reading)" if r.second_reading else ""
    return (f"{when} frame {r.frame_id:6d}  digit {r.argmax}  "
            f"{p.scores[r.argmax] * 100:5.1f}%  capture {r.t_capture_us / 1e3:6.2f} ms  "
            f"preprocess {r.t_preprocess_us / 1e3:6.2f} ms  net {r.t_net_us / 1e3:6.2f} ms  "
            f"{r.fps:5.1f} fps{status}{check}{inj}")


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
    ap.add_argument("--count", type=non_negative_int, default=0,
                    help="exit after this many predictions (0: run until Ctrl-C)")
    ap.add_argument("--duration", type=non_negative_float, default=0.0,
                    help="exit after this many seconds (0: no limit)")
    ap.add_argument("--timeout", type=non_negative_float, default=None, metavar="S",
                    help="give up (exit 1) when no prediction arrives for S seconds (default: 10 with --count or "
                         "--inject, 300 with --emulate, else wait for the board forever; 0: forever)")
    ap.add_argument("--every", type=positive_int, default=1, help="print every Nth prediction (injected ones always)")
    ap.add_argument("--json", action="store_true", help="one JSON object per prediction instead of text")
    ap.add_argument("--stats-every", type=non_negative_float, default=10.0, metavar="S",
                    help="print the device's counters every S seconds (0: never)")
    ap.add_argument("--csv", metavar="FILE", help="write all predictions as CSV at exit")
    ap.add_argument("--inject", metavar="PATH", type=existing_path,
                    help="send an image file or every image of a folder through the device's preprocessing and "
                         "net(), print the answers, exit")
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


DEFAULT_TIMEOUT_S = 10.0  # with --count or --inject: how long to wait for a board that does not answer
EMULATED_TIMEOUT_S = 300.0
HELLO_WAIT_S = 2.0  # before injecting, wait this long for HELLO (it says how large a command may be)


def inject_messages(path: Path) -> tuple[list[tuple[Path, P.Inject]], list[str]]:
    """(file, INJECT message) for every image at path, and the reasons for those that cannot be
    sent at all (unreadable, or larger than any packet)."""
    from .images import image_files, load_grey

    files = image_files(path)
    if path.is_dir() and not files:
        return [], [f"{path}: no image files in this folder"]
    good, bad = [], []
    for f in files:
        try:
            msg = P.Inject.from_array(load_grey(f))
        except ValueError as e:
            bad.append(str(e))
            continue
        size = P.OVERHEAD + len(msg.payload())
        if size > P.MAX_PACKET:
            bad.append(f"{f}: {msg.width}x{msg.height} is too big to send ({size} bytes; a packet holds at most "
                       f"{P.MAX_PACKET}): scale it down, the camera's frames are 324x324")
            continue
        good.append((f, msg))
    return good, bad


def _no_answer(source: Any, why: str) -> str:
    st = source.link.status
    if st.state == "connected":
        return f"{why}: connected to {st.port}, but no prediction came (is it the Pico4ML firmware, and streaming?)"
    return f"{why}: {st.text.removesuffix(' Retrying...')}"


def _live(args: argparse.Namespace, source: Any, printer: Printer, out: TextIO, settings: Any = None) -> int:
    def say(text: str) -> None:
        print(f"-- {text}", file=out, flush=True)

    def fail(text: str) -> None:
        print(f"pico4ml-monitor: {text}", file=sys.stderr, flush=True)

    pending, refused = inject_messages(args.inject) if args.inject else ([], [])
    for reason in refused:
        fail(reason)
    if args.inject and not pending:
        return 2
    n_inject, answered = len(pending), 0
    sent: dict[int, Path] = {}  # INJECT seq -> file, to match ERROR replies
    default = EMULATED_TIMEOUT_S if getattr(args, "emulate", False) else DEFAULT_TIMEOUT_S  # ~1/50 real time
    timeout = args.timeout if args.timeout is not None else (default if args.count or args.inject else 0)
    was_connected, heard = False, False
    t_start = time.monotonic()
    t_progress, t_connected = t_start, 0.0
    t_end = t_start + args.duration if args.duration else None
    while True:
        try:
            t, item = source.link.queue.get(timeout=0.1)
        except queue.Empty:
            item = None
        if item is not None:
            printer.apply(t, item)
            if isinstance(item, P.Result):
                heard, t_progress = True, time.monotonic()
                answered += item.injected
            elif isinstance(item, P.Error) and item.cmd_type == P.Inject.TYPE and item.cmd_seq in sent:
                fail(f"{sent.pop(item.cmd_seq)}: refused by the device: {item.text or item.code_name}")
                refused.append(item.text)
                n_inject -= 1
            elif isinstance(item, P.Message):
                heard = True
        status = source.link.status
        if status.fatal:
            fail(status.text)
            return 2
        connected = source.connected
        if connected and not was_connected:
            t_connected = time.monotonic()
            source.send(P.Ping(P.PING_WANT_HELLO, 1))
            for m in settings.messages() if settings else []:
                source.send(m)
        was_connected = connected
        hello = printer.state.hello
        if pending and connected and (hello is not None or time.monotonic() - t_connected > HELLO_WAIT_S):
            path, msg = pending.pop(0)
            limit = hello.max_command_bytes if hello is not None and hello.max_command_bytes else P.MAX_PACKET
            size = P.OVERHEAD + len(msg.payload())
            if size > limit:
                fail(f"{path}: {msg.width}x{msg.height} is too big for this device ({size} bytes; it takes "
                     f"commands up to {limit}): scale it down")
                refused.append(str(path))
                n_inject -= 1
            elif source.send(msg):
                printer.state.inject_names[msg.seq] = path.name
                sent[msg.seq] = path
                say(f"injected {path}")
            else:
                fail(f"could not send {path}: {source.link.last_send_error}")
                refused.append(str(path))
                n_inject -= 1
        if args.inject and not pending and answered >= n_inject:
            return 1 if refused else 0
        if args.count and printer.printed >= args.count:
            return 0
        now = time.monotonic()
        if timeout and now - t_progress >= timeout:
            what = (f"{answered} of {n_inject} injected images answered" if args.inject
                    else f"{printer.printed} of {args.count} predictions" if args.count else "no prediction")
            fail(_no_answer(source, f"{what}, nothing more for {timeout:g} s"))
            return 1
        if t_end is not None and now >= t_end:
            if args.inject:
                fail(f"{answered} of {n_inject} injected images answered in {args.duration:g} s")
                return 1
            if not heard:
                fail(_no_answer(source, f"no board answered in {args.duration:g} s"))
                return 1
            return 0


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    with sigterm_as_interrupt():
        return _main(argv, out or sys.stdout)


def _main(argv: list[str] | None, out: TextIO) -> int:
    args = parser().parse_args(argv)
    problem = check_args(args)
    if problem:
        print(f"pico4ml-monitor: {problem}", file=sys.stderr)
        return 2
    if args.csv and not Path(args.csv).resolve().parent.is_dir():
        print(f"pico4ml-monitor: --csv {args.csv}: its folder does not exist", file=sys.stderr)
        return 2
    from .presets import PresetError, Settings
    try:
        settings = Settings.load(args.preset) if args.preset else None
    except PresetError as e:
        print(f"pico4ml-monitor: {e}", file=sys.stderr)
        return 2
    state = make_state(args)  # first: loading the host model takes a while, and the link must not wait on it
    try:
        source, twin = open_source(args)
    except Exception as e:  # noqa: BLE001 -- unreadable recording, twin that will not build, no camera
        print(f"pico4ml-monitor: {e}", file=sys.stderr)
        return 2
    printer = Printer(state, out, args.json, args.every, args.stats_every)
    if not args.json:
        print("-- " + state.log[-1], file=out, flush=True)
    code = 0
    try:
        if source.live:
            code = _live(args, source, printer, out, settings)
        else:
            _replay(args, source, printer)
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
        if twin is not None:
            twin.stop()
    if args.csv:
        try:
            n = state.export_csv(args.csv)
            print(f"-- {n} predictions written to {args.csv}", file=sys.stderr)
        except OSError as e:
            print(f"pico4ml-monitor: could not write {args.csv}: {e.strerror or e}", file=sys.stderr)
            code = code or 2
    if not args.json:
        dec = source.decoder_stats
        print(f"-- {state.results_rx} predictions, {state.frames_rx} frames, "
              f"{0 if dec is None else dec.errors} decode errors, {state.check_failures} host mismatches",
              file=out, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
