"""pico4ml-emulate: boot the firmware image on the emulated Pico4ML and print what it sends.

    pico4ml-emulate [--elf build/firmware/pico4ml_mnist.elf] [--scene PICTURE|FOLDER]
                    [--seconds 5] [--wall 300] [--lcd out.png]
    pico4ml-emulate --serve tcp:5555|pty [--lcd-png live.png]   the USB byte stream on a port
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pico4ml.common import protocol
from pico4ml.common.paths import BUILD_DIR

DEFAULT_ELF = BUILD_DIR / "firmware" / "pico4ml_mnist.elf"


def describe(t_us: float, msg: protocol.Message) -> str:
    """One line per message: board time, type and the fields a person reads."""
    name = type(msg).__name__.upper()
    if isinstance(msg, protocol.Hello):
        text = f"protocol v{msg.protocol_version} model {msg.model_kind_name} capture {msg.capture_width}x{msg.capture_height}"
    elif isinstance(msg, protocol.Frame):
        text = f"frame {msg.frame_id} {msg.width}x{msg.height} rows {msg.y0}..{msg.y0 + msg.rows - 1}"
    elif isinstance(msg, protocol.Input28):
        text = f"frame {msg.frame_id}"
    elif isinstance(msg, protocol.Result):
        text = f"frame {msg.frame_id} digit {msg.argmax} score {msg.score:.2f}"
    elif isinstance(msg, protocol.Log):
        text = msg.text
    elif isinstance(msg, protocol.Stats):
        text = f"frames {msg.frames} sent {msg.msgs_sent} dropped {msg.msgs_dropped} camera errors {msg.camera_errors}"
    elif isinstance(msg, protocol.Error):
        text = f"{msg.code_name}"
    else:
        text = repr(msg)[:100]
    return f"{t_us / 1000:10.1f} ms  {name:8s} {text}"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="pico4ml-emulate", description=__doc__.split("\n")[0])
    ap.add_argument("--elf", type=Path, default=DEFAULT_ELF, help="firmware ELF (default: %(default)s)")
    ap.add_argument("--build", action="store_true", help="build the firmware first (Pico SDK)")
    ap.add_argument("--scene", help="picture file or folder the camera looks at (default: a grey card)")
    ap.add_argument("--seconds", type=float, default=None, help="board time to run (default: 4, or forever with --serve)")
    ap.add_argument("--wall", type=float, default=600.0, help="stop after this many real seconds")
    ap.add_argument("--lcd", type=Path, help="write the LCD picture at the end to this PNG")
    ap.add_argument("--serve", metavar="tcp:PORT|pty",
                    help="serve the USB CDC stream (tcp:0 = any free port) instead of printing messages; "
                         "runs until stopped (or --seconds if given)")
    ap.add_argument("--lcd-png", type=Path, help="with --serve: keep writing the LCD picture to this PNG")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from pico4ml.emulator.board import Board, ImageError
    from pico4ml.emulator.native import EmulatorBuildError, EmulatorUnavailable
    from pico4ml.emulator.scene import SceneError, scene_from
    if args.serve and not (args.serve == "pty" or args.serve.startswith("tcp:") and args.serve[4:].isdigit()):
        print(f"pico4ml-emulate: --serve takes tcp:PORT or pty, not {args.serve!r}", file=sys.stderr)
        return 2
    if args.seconds is None:
        args.seconds = float("inf") if args.serve else 4.0
    if args.seconds <= 0 or args.wall <= 0:
        print("pico4ml-emulate: --seconds and --wall must be > 0", file=sys.stderr)
        return 2
    try:
        if args.build:
            from pico4ml.common.fwbuild import FirmwareBuildError, build_firmware
            try:
                args.elf = build_firmware().elf
            except FirmwareBuildError as e:
                print(f"pico4ml-emulate: {e}", file=sys.stderr)
                return 1
        board = Board.from_elf(args.elf, scene_from(args.scene))
    except (ImageError, SceneError, EmulatorUnavailable, EmulatorBuildError) as e:
        print(f"pico4ml-emulate: {e}", file=sys.stderr)
        return 1
    if args.serve:
        return serve(board, args)
    printed = 0
    t0 = time.monotonic()
    end = args.seconds * 1e6
    try:
        while board.now_us < end and time.monotonic() - t0 < args.wall:
            board.run(min(0.05, (end - board.now_us) / 1e6), wall_s=args.wall - (time.monotonic() - t0))
            for t, m in board.messages[printed:]:
                print(describe(t, m), flush=True)
            printed = len(board.messages)
            if board.breaks:
                print(f"pico4ml-emulate: the firmware stopped at a breakpoint: {board.breaks}", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    s = board.state()
    print(f"board time {s['emulated_ms']:.0f} ms in {time.monotonic() - t0:.1f} s wall; camera frames {s['camera_frames']}",
          file=sys.stderr)
    if args.lcd:
        import cv2
        cv2.imwrite(str(args.lcd), board.lcd.rgb()[:, :, ::-1])
    return 0


def serve(board, args) -> int:
    from pico4ml.emulator.serve import Server
    server = Server(board, args.serve)
    print(f"pico4ml-emulate: serving on {server.url}", flush=True)
    try:
        server.serve(args.seconds, lcd_png=args.lcd_png)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
