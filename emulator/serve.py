"""Serve the emulated board's USB CDC byte stream on a TCP socket or a pty, so any serial
client (pico4ml-gui / pico4ml-monitor --port, pyserial's socket:// URL, a terminal) talks to
the firmware as it would to /dev/ttyACM0.

TCP: a client connecting raises DTR (the port is opened), disconnecting drops it, as a
terminal opening and closing the real port does. pty: DTR stays up (a pty has no DTR).
The board runs in this thread; bytes are exchanged between batches (every <= 0.5 ms of
board time).
"""
from __future__ import annotations

import errno
import os
import selectors
import signal
import socket
import time
from pathlib import Path

from pico4ml.common.child_process import ChildHandle
from pico4ml.emulator.board import Board

CHUNK = 4096


class Server:
    def __init__(self, board: Board, where: str = "tcp:0"):
        """where: "tcp:PORT" (0: any free port, on 127.0.0.1) or "pty"."""
        self.board = board
        self.sel = selectors.DefaultSelector()
        self._out = bytearray()
        self.client: socket.socket | None = None
        self.listener: socket.socket | None = None
        self.master: int | None = None
        self.pty_path: str | None = None
        if where == "pty":
            self.master, slave = os.openpty()
            self.pty_path = os.ttyname(slave)
            import tty
            tty.setraw(slave)
            os.set_blocking(self.master, False)
            self._slave = slave         # kept open so the pty survives clients coming and going
            self.url = self.pty_path
        elif where.startswith("tcp:"):
            port = int(where[4:] or 0)
            self.listener = socket.create_server(("127.0.0.1", port))
            self.listener.setblocking(False)
            self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
            board.set_dtr(False)        # no client yet: the port is closed
        else:
            raise ValueError(f"serve where? 'tcp:PORT' or 'pty', not {where!r}")
        board.on_rx = self._out.extend

    def _accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        if self.client is not None:
            conn.close()                # one host at a time, as a USB port
            return
        conn.setblocking(False)
        self.client = conn
        self._out.clear()
        self.board.set_dtr(True)

    def _drop_client(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
            self.board.set_dtr(False)

    def pump(self) -> None:
        """Exchange bytes with the client (non-blocking)."""
        if self.listener is not None:
            self._accept()
            if self.client is None:
                self._out.clear()       # nobody reading: the bytes are gone, as on a closed port
                return
            try:
                data = self.client.recv(CHUNK)
                if data == b"":
                    self._drop_client()
                    return
                self.board.send_bytes(data)
            except BlockingIOError:
                pass
            except OSError:
                self._drop_client()
                return
            if self._out:
                try:
                    n = self.client.send(self._out)
                    del self._out[:n]
                except BlockingIOError:
                    pass
                except OSError:
                    self._drop_client()
        else:
            try:
                data = os.read(self.master, CHUNK)
                if data:
                    self.board.send_bytes(data)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EIO):
                    raise
            if self._out:
                try:
                    n = os.write(self.master, self._out)
                    del self._out[:n]
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EIO):
                        raise

    def serve(self, seconds: float = float("inf"), lcd_png: Path | None = None, lcd_every_s: float = 0.5) -> None:
        """Run the board for `seconds` of board time (forever by default), serving the port;
        with lcd_png, the LCD picture is written there (atomically) every lcd_every_s wall seconds."""
        end = self.board.now_us + seconds * 1e6
        last_png = 0.0
        while self.board.now_us < end and not self.board.breaks:
            self.pump()
            self.board.run(0.002)
            if lcd_png is not None and time.monotonic() - last_png > lcd_every_s:
                last_png = time.monotonic()
                write_png(self.board, lcd_png)

    def close(self) -> None:
        self._drop_client()
        if self.listener is not None:
            self.listener.close()
        if self.master is not None:
            os.close(self.master)
            os.close(self._slave)


def write_png(board: Board, path: Path) -> None:
    import cv2
    tmp = Path(str(path) + ".tmp.png")
    cv2.imwrite(str(tmp), board.lcd.rgb()[:, :, ::-1])
    os.replace(tmp, path)


class EmulatorHandle(ChildHandle):
    """A `pico4ml-emulate --serve` process, as pico4ml-gui/-monitor --emulate start it: the
    same face as the host twin's handle (url/port, alive, stop(), stderr_lines, proc), and
    `what` it is, for the GUI's messages when it ends."""

    what = "the emulator (pico4ml-emulate)"
    stop_signal = signal.SIGINT  # the server closes its socket on Ctrl+C

    def __init__(self, proc, url: str, lcd_png: Path | None, workdir: Path | None):
        super().__init__(proc, url, workdir)
        self.lcd_png = lcd_png
        self.drain_stderr(proc.stderr)

    def __repr__(self) -> str:
        return f"EmulatorHandle({self.url}, pid {self.proc.pid})"


class EmulatorStartError(RuntimeError):
    """The emulator process did not come up (its message says why)."""


def start_emulator(elf: Path | None = None, scene: str | Path | None = None, *, lcd: bool = True,
                   timeout: float = 180.0) -> EmulatorHandle:
    """Start `python -m pico4ml.emulator --serve tcp:0` and wait for its port. lcd: keep the
    LCD picture in a PNG (handle.lcd_png) for a viewer."""
    import subprocess
    import sys
    import tempfile
    workdir = Path(tempfile.mkdtemp(prefix="pico4ml-emu-"))
    lcd_png = workdir / "lcd.png" if lcd else None
    cmd = [sys.executable, "-m", "pico4ml.emulator", "--serve", "tcp:0"]
    if elf is not None:
        cmd += ["--elf", str(elf)]
    if scene is not None:
        cmd += ["--scene", str(scene)]
    if lcd_png is not None:
        cmd += ["--lcd-png", str(lcd_png)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sel.select(timeout=0.5):
            if proc.poll() is not None:
                break
            continue
        line = proc.stdout.readline()
        if not line:
            break
        if "serving on " in line:
            return EmulatorHandle(proc, line.split("serving on ", 1)[1].strip(), lcd_png, workdir)
    proc.kill()
    err = proc.stderr.read() if proc.poll() is not None else ""
    proc.wait()
    import shutil
    shutil.rmtree(workdir, ignore_errors=True)
    raise EmulatorStartError(f"the emulator did not start: {err.strip()[-500:] or 'no port within %.0f s' % timeout}")
