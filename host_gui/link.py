"""Serial link to the board (or its host twin): find, open, read, reconnect.

One reader thread owns the port. It waits (at most READ_WAIT_S) until bytes are there,
reads all that are there in one block (up to READ_CHUNK), decodes them with the protocol
decoder and puts (timestamp, message) pairs into a bounded queue the UI drains once per
frame; when the UI falls behind, the oldest items are dropped so the newest frames win.
Every failure becomes a LinkStatus item in the same queue with a message a user can act on,
and the thread keeps retrying with backoff: unplugging or resetting the board never kills
the app. Only what retrying cannot fix (a plain file or /dev/null given as the port) ends
the retries, with a status marked `fatal`.

A lost connection is seen within about a second on every kind of link: a closed socket or
pty reads as end of file at once, and a device path that goes quiet is checked every
VANISH_CHECK_S: if its node is gone or now names another device (a board unplugged, or
reset and enumerated anew), the link is lost even when the driver reports no error.

The target is either None (auto: the first USB device with Raspberry Pi's vendor id 0x2E8A,
followed by its serial number when a reset renames the port), a device path (/dev/ttyACM0,
COM5, a pty) or any pyserial URL (socket://127.0.0.1:5555).
"""
from __future__ import annotations

import errno
import os
import queue
import select
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import serial
import serial.tools.list_ports

PICO_VID = 0x2E8A
BOOTLOADER_BAUD = 1200  # opening a Pico's CDC port at 1200 baud reboots it into BOOTSEL
DEFAULT_BAUD = 115200  # USB CDC ignores it, but the value must never be 1200
UDEV_RULE = Path(__file__).with_name("99-pico4ml.rules")
UDEV_INSTALL = (f"sudo cp {UDEV_RULE} /etc/udev/rules.d/ && sudo udevadm control --reload-rules "
                "&& sudo udevadm trigger, then unplug and replug the board")
READ_CHUNK = 65536  # bytes per read: ~20 ms of a full-resolution 30 fps stream
READ_WAIT_S = 0.05  # longest wait for bytes before the thread checks stop and the port again
VANISH_CHECK_S = 0.25  # a quiet device path is checked this often for having gone away


@dataclass
class LinkStatus:
    """A change of connection state, delivered through the queue like a message."""
    state: str  # "connecting" | "connected" | "disconnected"
    text: str
    port: str | None = None
    n: int = 0  # increases with every change, so a late or repeated copy is recognised
    fatal: bool = False  # retrying cannot help (not a serial port): the link has stopped trying


@dataclass
class LinkStats:
    """Counters written by the reader thread, read by the UI (plain ints: GIL-atomic)."""
    bytes_rx: int = 0
    bytes_tx: int = 0
    messages: int = 0
    queue_drops: int = 0
    last_rx: float = 0.0  # time.monotonic() of the last bytes received (0: none yet)
    connects: int = 0
    decoder: Any = None  # the current decoder, for its own error counters
    past_decoders: list = field(default_factory=list)  # those of earlier connections
    forgiven: dict = field(default_factory=dict)  # decoder counts of cut packets at connection starts


@dataclass
class PortInfo:
    device: str
    serial_number: str | None = None
    description: str = ""


def find_boards(serial_number: str | None = None) -> list[PortInfo]:
    """USB serial ports with the Raspberry Pi vendor id, optionally one serial number only."""
    found = []
    for p in serial.tools.list_ports.comports():
        if p.vid != PICO_VID:
            continue
        if serial_number and p.serial_number != serial_number:
            continue
        found.append(PortInfo(p.device, p.serial_number, p.description or ""))
    # macOS lists every CDC device twice; cu.* is the one to open (tty.* waits for carrier).
    found.sort(key=lambda p: (_mac_rank(p.device), p.device))
    return found


def _mac_rank(device: str) -> int:
    name = os.path.basename(device)
    return 0 if name.startswith("cu.") else 2 if name.startswith("tty.") else 1


def serial_number_of(device: str) -> str | None:
    """The USB serial number behind a device path, to follow it when a reset renames it."""
    try:
        real = os.path.realpath(device)
    except (OSError, ValueError):
        return None
    for p in serial.tools.list_ports.comports():
        if p.vid == PICO_VID and os.path.realpath(p.device) == real:
            return p.serial_number
    return None


def modem_manager_running() -> bool:
    """True when Linux ModemManager is running (it probes new CDC ports and holds them busy)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if Path("/proc", pid, "comm").read_text().strip() == "ModemManager":
                        return True
                except OSError:
                    continue
    except OSError:
        pass
    return False


class PortVanished(serial.SerialException):
    """The device node went away (or now names another device) while the port was open."""


def is_fatal(exc: BaseException) -> bool:
    """True for failures that retrying cannot fix: the path is not a serial port at all."""
    low = str(exc).lower()
    return (getattr(exc, "errno", None) in (errno.ENOTTY, errno.EISDIR) or "inappropriate ioctl" in low
            or "is a directory" in low)


def explain(exc: BaseException, port: str) -> str:
    """Turn an exception from opening or reading a port into advice a user can follow."""
    text = str(exc)
    err = getattr(exc, "errno", None)
    low = text.lower()
    if sys.platform == "win32" and ("access is denied" in low or isinstance(exc, PermissionError)):
        # Windows reports a port that another program holds as "access denied".
        return f"{port} is in use by another program (a serial monitor, an IDE, another pico4ml-gui): close it."
    if isinstance(exc, PermissionError) or err == errno.EACCES or "permission denied" in low:
        return (f"Permission denied on {port}. Add yourself to the serial group: "
                f"'sudo usermod -aG dialout $USER' (uucp on Arch), then log out and in; "
                f"or install the udev rule: {UDEV_INSTALL}.")
    if err == errno.EBUSY or "busy" in low or "exclusively lock" in low:
        msg = (f"Port {port} is busy: another program has it open (a serial monitor, another "
               f"pico4ml-gui or pico4ml-monitor, an IDE).")
        if sys.platform.startswith("linux"):
            state = "is running" if modem_manager_running() else "may grab it for a few seconds after plug-in"
            msg += f" Linux ModemManager {state}: stop it from probing the board with {UDEV_INSTALL}."
        return msg
    if err == errno.ENOENT or "no such file" in low or ("could not open port" in low and "not found" in low):
        msg = f"Port {port} does not exist (unplugged, or the board reset and came back under another name)."
        if os.path.basename(port).startswith("tty.") or sys.platform == "darwin":
            msg += " On macOS open /dev/cu.usbmodem*, not /dev/tty.usbmodem*."
        return msg
    if err == errno.EISDIR or "is a directory" in low:
        return f"{port} is a folder, not a serial port: give the board's port (e.g. /dev/ttyACM0) or --sim."
    if err == errno.ENOTTY or "inappropriate ioctl" in low:
        return (f"{port} is not a serial port (a plain file or /dev/null?): give the board's port "
                f"(e.g. /dev/ttyACM0, COM5), a pty or socket://host:port, or --sim.")
    if "socket disconnected" in low:
        return f"{port}: the other end closed the connection (the server stopped: with --emulate, the emulator)."
    if err == errno.EIO or "input/output error" in low or "returned no data" in low:
        return f"{port}: the device went away (unplugged, reset, or the host twin stopped)."
    if "connection refused" in low or err == errno.ECONNREFUSED:
        where = "is the emulator (pico4ml-emulate --serve), or the host twin, running?" \
            if port.startswith("socket://") else "is the host twin running?"
        return f"Nothing is listening at {port} ({where})."
    if os.path.basename(port).startswith("tty.usbmodem"):
        return f"{port}: {text}. On macOS open /dev/cu.usbmodem*, not /dev/tty.* (which waits for carrier)."
    return f"{port}: {text}"


def open_port(port: str, baudrate: int = DEFAULT_BAUD, timeout: float = 0.05) -> serial.SerialBase:
    """Open a device path or pyserial URL with DTR asserted. Refuses 1200 baud outright."""
    if int(baudrate) == BOOTLOADER_BAUD:
        raise ValueError("refusing to open at 1200 baud: that reboots a Pico into its USB bootloader")
    ser = serial.serial_for_url(port, do_not_open=True, baudrate=baudrate, timeout=timeout,
                                write_timeout=0.5)
    if isinstance(ser, serial.Serial) and os.name == "posix" and "://" not in port:
        ser.exclusive = True  # a second reader would steal bytes: fail with "busy" instead
    ser.dtr = True  # the firmware streams only while the host asserts DTR
    ser.open()
    return ser


def _default_decoder() -> Any:
    from pico4ml.common.protocol import Decoder

    return Decoder()


class Link:
    """A self-healing connection: start(), then drain `queue`; send() writes commands.

    Queue items are (host_time, item) where item is a protocol message or a LinkStatus.
    `recorder(t, data)` (optional) sees every raw chunk, in the reader thread, before decoding.
    """

    def __init__(self, target: str | None = None, *, baudrate: int = DEFAULT_BAUD, queue_size: int = 512,
                 decoder_factory: Callable[[], Any] = _default_decoder,
                 recorder: Callable[[float, bytes], None] | None = None,
                 backoff: tuple[float, float] = (0.1, 2.0)) -> None:
        if int(baudrate) == BOOTLOADER_BAUD:
            raise ValueError("refusing 1200 baud: that reboots a Pico into its USB bootloader")
        self.target = target
        self.baudrate = baudrate
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.decoder_factory = decoder_factory
        self.recorder = recorder
        self.backoff = backoff
        self.stats = LinkStats()
        self.status = LinkStatus("connecting", "starting", target)
        self.serial_number: str | None = None
        self.last_send_error = ""
        self._ser: serial.SerialBase | None = None
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------
    def start(self) -> "Link":
        self._thread = threading.Thread(target=self._run, name="pico4ml-link", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        ser = self._ser
        if ser is not None:
            try:
                ser.cancel_read()
            except Exception:
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> "Link":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self.status.state == "connected"

    # -- writing ----------------------------------------------------------
    def send(self, data: bytes) -> bool:
        """Write one encoded command; False (and a status) when the port is not open."""
        ser = self._ser
        if ser is None:
            self.last_send_error = "board not connected"
            return False
        try:
            with self._write_lock:
                ser.write(data)
            self.stats.bytes_tx += len(data)
            self.last_send_error = ""
            return True
        except serial.SerialTimeoutException:
            # The port is open but nobody drains it (a board stuck in a long operation): say
            # so, and leave the connection state to the reader thread, which sees real loss.
            self.last_send_error = "write timed out: the device is not reading commands"
            return False
        except Exception as exc:  # noqa: BLE001 -- a write error must not reach the UI thread
            self.last_send_error = "write failed: " + explain(exc, self._port_name())
            return False

    # -- reader thread ----------------------------------------------------
    def _port_name(self) -> str:
        return self.status.port or self.target or "(auto)"

    def _put(self, item: Any) -> None:
        t = time.time()
        while True:
            try:
                self.queue.put_nowait((t, item))
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()  # newest wins: drop the oldest
                    self.stats.queue_drops += 1
                except queue.Empty:
                    pass

    def _set_status(self, state: str, text: str, port: str | None = None, fatal: bool = False) -> None:
        self.status = LinkStatus(state, text, port if port is not None else self.status.port, self.status.n + 1,
                                 fatal)
        self._put(self.status)

    @property
    def idle_s(self) -> float | None:
        """Seconds since bytes last arrived on the current connection (None: not connected)."""
        if not self.connected:
            return None
        return time.monotonic() - self.stats.last_rx

    def _resolve(self) -> str | None:
        """Which port to open now: the given one, or the board found by vid/serial number."""
        if self.target is not None:
            if ("://" not in self.target and self.serial_number and not os.path.exists(self.target)):
                again = find_boards(self.serial_number)  # renamed by a reset: follow the board
                if again:
                    return again[0].device
            return self.target
        boards = find_boards(self.serial_number)
        if not boards and self.serial_number:
            boards = find_boards()  # a different board plugged in instead: take it
        return boards[0].device if boards else None

    def _run(self) -> None:
        delay = self.backoff[0]
        last_text = None
        while not self._stop.is_set():
            port = self._resolve()
            if port is None:
                text = "No Pico4ML found (USB vendor id 0x2E8A). Plug it in, or give --port or --sim."
            else:
                try:
                    ser = open_port(port, self.baudrate)
                except Exception as exc:  # noqa: BLE001 -- any failure becomes a status line
                    text = explain(exc, port)
                    if is_fatal(exc):
                        self._set_status("disconnected", text, port, fatal=True)
                        return
                else:
                    delay = self.backoff[0]
                    last_text = None
                    self._serve(ser, port)
                    continue
            if text != last_text:  # do not flood the queue while retrying
                self._set_status("disconnected", text + " Retrying...", port)
                last_text = text
            self._stop.wait(delay)
            delay = min(delay * 2, self.backoff[1])

    def _decode(self, decoder: Any, data: bytes, fresh: bool) -> tuple[list, bool]:
        """Decode a chunk. The bytes before the first 0x00 of a connection are usually the tail
        of a packet sent before the port was opened: if they do not decode, that is not a link
        error, so their counts are set aside in stats.forgiven instead of alarming the user."""
        if not fresh:
            return decoder.feed(data), False
        end = data.find(b"\0")
        if end < 0:
            return decoder.feed(data), True
        before = dict(vars(decoder.stats))
        head = decoder.feed(data[:end + 1])
        if not head:
            for name, value in vars(decoder.stats).items():
                if name not in ("bytes_in", "packets", "lost") and value != before.get(name):
                    self.stats.forgiven[name] = self.stats.forgiven.get(name, 0) + value - before.get(name, 0)
        return head + decoder.feed(data[end + 1:]), False

    def _serve(self, ser: serial.SerialBase, port: str) -> None:
        if self.target is None or "://" not in (self.target or ""):
            self.serial_number = self.serial_number or serial_number_of(port)
        decoder = self.decoder_factory()
        if self.stats.decoder is not None:
            self.stats.past_decoders.append(self.stats.decoder)  # keep counting across reconnects
        self.stats.decoder = decoder
        self.stats.connects += 1
        self.stats.last_rx = time.monotonic()
        self._ser = ser
        self._set_status("connected", f"connected to {port}", port)
        fresh = True  # nothing up to the first 0x00 decoded yet on this connection
        try:
            read = _block_reader(ser, port)
            while not self._stop.is_set():
                data = read()
                if not data:
                    continue
                t = time.time()
                self.stats.last_rx = time.monotonic()
                self.stats.bytes_rx += len(data)
                if self.recorder is not None:
                    self.recorder(t, data)
                msgs, fresh = self._decode(decoder, data, fresh)
                for msg in msgs:
                    self.stats.messages += 1
                    self._put(msg)
        except Exception as exc:  # noqa: BLE001 -- unplug, reset, twin killed: all end here
            if not self._stop.is_set():
                self._set_status("disconnected", "link lost: " + explain(exc, port) + " Reconnecting...", port)
        finally:
            self._ser = None
            try:
                ser.close()
            except Exception:
                pass


def _device_id(path: str, fd: int | None) -> tuple[int, int] | None:
    """(st_dev, st_rdev) of an open device node, to notice when its path names another one."""
    if fd is None or os.name != "posix" or not path.startswith("/"):
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_rdev) if st.st_rdev else None


def _block_reader(ser: serial.SerialBase, port: str) -> Callable[[], bytes]:
    """A function returning the bytes that arrived (b"" after READ_WAIT_S of silence), read
    in blocks, that raises when the connection is gone.

    Ports with a file descriptor (POSIX serial ports and ptys, socket://) are waited on with
    select() and then read without blocking, all that is there up to READ_CHUNK: pyserial's
    socket handler reports in_waiting as 0 or 1, so sizing reads by it would read a socket
    one byte at a time. Other handlers (Windows COM ports, rfc2217://) report in_waiting
    truly and are read by it, with a short timeout."""
    try:
        fd = ser.fileno()
    except Exception:  # noqa: BLE001 -- not every handler has one
        fd = None
    if fd is None or not isinstance(fd, int):
        ser.timeout = READ_WAIT_S

        def read_waiting() -> bytes:
            return ser.read(min(max(ser.in_waiting, 1), READ_CHUNK))  # at least 1: waits up to the timeout

        return read_waiting

    ser.timeout = 0  # read() now returns at once with what is there
    device = _device_id(port, fd)
    quiet_since = time.monotonic()

    def read_block() -> bytes:
        nonlocal quiet_since
        ready, _, _ = select.select([fd], [], [], READ_WAIT_S)
        if ready:
            data = ser.read(READ_CHUNK)  # readable and empty means closed: pyserial raises
            if data:
                quiet_since = time.monotonic()
                return data
        if device is not None and time.monotonic() - quiet_since >= VANISH_CHECK_S:
            quiet_since = time.monotonic()
            try:
                st = os.stat(port)
            except FileNotFoundError:
                raise PortVanished(errno.ENOENT, f"{port}: no such file or directory") from None
            except OSError:
                return b""
            if (st.st_dev, st.st_rdev) != device:
                raise PortVanished(errno.ENOENT, f"{port} now names another device: no such file (reset?)")
        return b""

    return read_block
