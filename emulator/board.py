"""The emulated Pico4ML: the firmware image on the two-core RP2040 (chip.py, loop.pyx) with
the parts the board wires to it: the HM01B0 (hm01b0.py, on i2c0 and on GP6/14/15/16), the
ST7735S (st7735.py, on spi1) and a USB host (rp2040py's CDC host side) that speaks the
project's protocol with pico4ml.common.protocol.

    board = Board.from_elf(elf, scene=picture)    # picture: uint8 2-D, as seen by the camera
    board.run_until(lambda b: b.first(protocol.Result), emulated_s=5)
    board.messages, board.lcd.rgb(), board.send(protocol.Ping())
"""
from __future__ import annotations

import collections
import struct
import time
from pathlib import Path
from typing import Callable

import numpy as np

from pico4ml.common import protocol
from pico4ml.emulator.chip import DualRP2040
from pico4ml.emulator.hm01b0 import HM01B0
from pico4ml.emulator.native import load_loop
from pico4ml.emulator.st7735 import Pico4MLLcd

FLASH_BASE, FLASH_SIZE = 0x10000000, 2 * 1024 * 1024
CAM_D0, CAM_PCLK, CAM_HSYNC, CAM_VSYNC = 6, 14, 15, 16   # board/pico4ml.h
MCLK_PWM_SLICE = 1                                          # GP3 = PWM 1B
BATCH_STEPS = 400_000
SLICE_NS = 500_000.0                                        # host I/O grid, board time
EP0_IN_BUFFER_CONTROL = 0x80                                # USB DPRAM (RP2040 datasheet 4.1.2.5)
BUF_CTRL_AVAILABLE = 0x400


class ImageError(ValueError):
    """The firmware file is missing or not an RP2040 flash image."""


def flash_image(elf: Path) -> bytes:
    """The bytes an ELF puts into XIP flash (its PT_LOAD segments' load addresses)."""
    elf = Path(elf)
    if not elf.is_file():
        raise ImageError(f"{elf}: no such file (build it: pico4ml-emulate --build)")
    data = elf.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1 or struct.unpack_from("<H", data, 18)[0] != 40:
        raise ImageError(f"{elf}: not a 32-bit little-endian ARM ELF")
    e_phoff, = struct.unpack_from("<I", data, 28)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 42)
    image = bytearray()
    for i in range(e_phnum):
        p_type, off, _vaddr, paddr, filesz, _memsz, _fl, _al = struct.unpack_from("<8I", data, e_phoff + i * e_phentsize)
        if p_type != 1 or not filesz or not FLASH_BASE <= paddr < FLASH_BASE + FLASH_SIZE:
            continue
        start = paddr - FLASH_BASE
        if start + filesz > FLASH_SIZE:
            raise ImageError(f"{elf}: segment at {paddr:#x} runs past the 2 MB flash")
        if len(image) < start + filesz:
            image.extend(b"\xff" * (start + filesz - len(image)))
        image[start:start + filesz] = data[off:off + filesz]
    if len(image) < 256:
        raise ImageError(f"{elf}: nothing placed in flash (no boot2 at {FLASH_BASE:#x})")
    return bytes(image)


class _QuietLogger:
    """rp2040py's log sink: counts warnings (unimplemented registers etc.) instead of printing."""

    def __init__(self):
        self.counts = collections.Counter()

    def debug(self, component, message):
        pass

    info = debug

    def warning(self, component, message):
        self.counts[(component, message[:120])] += 1

    def error(self, component, message):
        self.counts[("error " + component, message[:120])] += 1


Scene = Callable[[int], np.ndarray]


class Board:
    """One emulated Pico4ML. `scene(frame_index) -> uint8 image` is what the camera looks at
    (a fixed array is shown in every frame). Everything the firmware sends over USB is decoded
    into `messages` as (emulated µs, message); `raw_rx` keeps the bytes."""

    def __init__(self, image: bytes, scene: Scene | np.ndarray | None = None, *, model_id: int | None = None):
        from rp2040py import Simulator, USBCDC
        from rp2040py.device.bootrom import BOOTROM_B1

        self.loop = load_loop()
        mcu = DualRP2040()
        mcu.load_bootrom(BOOTROM_B1)
        self.log = _QuietLogger()
        mcu.logger = self.log
        mcu.flash[:len(image)] = image
        self.mcu = mcu
        self.sim = Simulator(rp2040=mcu)
        self.cdc = USBCDC(mcu.usb_ctrl)
        self.decoder = protocol.Decoder()
        self.encoder = protocol.Encoder()
        self.messages: list[tuple[float, protocol.Message]] = []
        self.raw_rx = bytearray()
        self.on_rx: Callable[[bytes], None] | None = None
        self.connected_us: float | None = None
        self.dtr_wanted = True
        self.cdc.on_serial_data = self._rx
        self.cdc.on_device_connected = self._connected
        self._tx = bytearray()
        self._out_pending: int | None = None      # OUT transfer armed while the host had nothing
        self._cdc_read = mcu.usb_ctrl.on_endpoint_read
        mcu.usb_ctrl.on_endpoint_read = self._endpoint_read
        self.host_reading = True                  # fault False: IN transfers are not taken (NAK)
        self._held_in: dict[int, int] = {}
        self._dpram_updated = mcu.usb_ctrl.dpram_updated
        mcu.usb_ctrl.dpram_updated = self._dpram_write
        self.lcd_flushes = 0
        self.lcd = Pico4MLLcd(on_frame=self._lcd_flush)
        self.lcd.attach(mcu)
        self.sensor = HM01B0() if model_id is None else HM01B0(model_id=model_id)
        self.sensor.attach(mcu.i2c[0])
        self.sensor.on_mode = self._sensor_mode
        self.cam = self.loop.VCam(mcu, CAM_D0, CAM_PCLK, CAM_HSYNC, CAM_VSYNC)
        self.cam.on_frame_start = self._frame_start
        self.scene: Scene = self._as_scene(scene)
        self.frames_sent: list[bytes] = []      # what the sensor sent, per frame
        self.short_frame_lines: int | None = None   # fault: frames end after this many lines
        self.vsync_enabled = True                   # fault False: the sensor never starts its bus
        self._stub_mclk()
        mcu.on_break = self._break
        self.breaks: list[tuple[int, int, int]] = []
        mcu.core0.pc = FLASH_BASE                   # boot2 first, as after the boot ROM's flash probe
        mcu.reset_core1()
        self.loop.install(mcu.core0, mcu.core1)
        self.sim.stopped = False
        self.wall_s = 0.0
        self.steps = 0
        self._next_slice = 0.0

    @classmethod
    def from_elf(cls, elf: Path | str, scene=None, **kw) -> "Board":
        return cls(flash_image(Path(elf)), scene, **kw)

    # ---- time ----
    @property
    def now_us(self) -> float:
        return self.mcu.clock.nanos / 1000.0

    def run(self, emulated_s: float, wall_s: float = 1e9) -> None:
        """Advance by `emulated_s` of board time (or until `wall_s` have passed)."""
        self.run_until(lambda b: False, emulated_s, wall_s)

    def run_until(self, done: Callable[["Board"], object], emulated_s: float = 10.0,
                  wall_s: float = 1e9) -> object:
        """Run until done(board) is true (checked between batches, every ~0.5 ms of board
        time), `emulated_s` of board time or `wall_s` of real time; returns done's last value."""
        until = self.mcu.clock.nanos + emulated_s * 1e9
        t0 = time.monotonic()
        result = done(self)
        while not result and self.mcu.clock.nanos < until and not self.sim.stopped:
            left = wall_s - (time.monotonic() - t0)
            if left <= 0:
                break
            # host bytes enter at fixed points of board time (every SLICE_NS), so a run is the
            # same however the wall-clock budget cut it
            now = self.mcu.clock.nanos
            if now >= self._next_slice:
                self._feed_host()
                self._next_slice = (now // SLICE_NS + 1) * SLICE_NS
            steps, _jumps, _w = self.loop.run(self.sim, BATCH_STEPS, min(left, 2.0), min(until, self._next_slice),
                                              True, self.cam)
            self.steps += steps
            if steps == 0 and self.mcu.clock.nanos < min(until, self._next_slice):
                break                               # both cores asleep with nothing scheduled
            result = done(self)
        self.wall_s += time.monotonic() - t0
        return result

    # ---- USB host ----
    def send(self, msg: protocol.Message) -> None:
        """Queue a host->device message (sent as the device reads its OUT endpoint)."""
        self.send_bytes(self.encoder.encode(msg))

    def send_bytes(self, data: bytes) -> None:
        self._tx += data

    def _feed_host(self) -> None:
        fifo = self.cdc.tx_fifo
        n = min(len(self._tx), fifo.size - fifo.item_count)
        for b in self._tx[:n]:
            fifo.push(b)
        del self._tx[:n]
        if self._out_pending is not None and fifo.item_count:
            size, self._out_pending = self._out_pending, None
            self._cdc_read(self.cdc._out_endpoint, size)

    def _endpoint_read(self, endpoint: int, size: int) -> None:
        # A real host NAKs an OUT transfer until it has data; the package's host answers at once
        # with a zero-length packet, which keeps TinyUSB re-arming in a busy loop on core 0.
        if endpoint == self.cdc._out_endpoint and endpoint > 0 and not self.cdc.tx_fifo.item_count:
            self._out_pending = size
            return
        self._cdc_read(endpoint, size)

    def _dpram_write(self, offset: int, value: int) -> None:
        # A buffer handed to the controller for the CDC IN endpoint while the host is not reading
        # stays armed (AVAILABLE), as the real host's NAKs leave it; it goes out on resume.
        if not self.host_reading and EP0_IN_BUFFER_CONTROL <= offset < EP0_IN_BUFFER_CONTROL + 0x80 \
                and not offset & 4 and value & BUF_CTRL_AVAILABLE \
                and (offset - EP0_IN_BUFFER_CONTROL) >> 3 == self.cdc._in_endpoint:
            self._held_in[offset] = value
            return
        self._dpram_updated(offset, value)

    def set_host_reading(self, on: bool) -> None:
        """Fault: the host application stops reading (its buffers full); True resumes."""
        self.host_reading = on
        if on:
            held, self._held_in = self._held_in, {}
            for offset, value in held.items():
                self._dpram_updated(offset, value)

    def set_dtr(self, on: bool) -> None:
        """Open/close the port as a terminal would (DTR/RTS); TinyUSB's connected() is DTR.
        Opening starts a fresh decoder, as a program opening the port does: a packet the
        device was cut off in when the port closed is not glued to the next one."""
        self.dtr_wanted = on
        if self.connected_us is None:
            return                  # applied once enumerated (a class request before that breaks it)
        if on and not self.cdc.dtr:
            self.decoder.reset()
        self.cdc.set_control_lines(dtr=on, rts=on)

    def _connected(self):
        # the package's host raises DTR/RTS as it finishes enumerating: a closed port drops them
        self.connected_us = self.now_us
        if not self.dtr_wanted:
            self.cdc.set_control_lines(dtr=False, rts=False)

    def _rx(self, data) -> None:
        data = bytes(data)
        self.raw_rx += data
        t = self.now_us
        for m in self.decoder.feed(data):
            self.messages.append((t, m))
        if self.on_rx is not None:
            self.on_rx(data)

    def of(self, kind: type) -> list:
        return [m for _, m in self.messages if isinstance(m, kind)]

    def first(self, kind: type):
        for _, m in self.messages:
            if isinstance(m, kind):
                return m
        return None

    # ---- camera ----
    @staticmethod
    def _as_scene(scene) -> Scene:
        if scene is None:
            blank = np.full((162, 162), 16, np.uint8)
            return lambda i: blank
        if callable(scene):
            return scene
        fixed = np.asarray(scene, dtype=np.uint8)
        return lambda i: fixed

    def _stub_mclk(self) -> None:
        # MCLK (GP3, PWM slice 1 at clk_sys/10) is not toggled edge by edge: rp2040py would run
        # two Python alarms per 80 ns. The slice's registers are kept; the sensor timing reads them.
        ch = self.mcu.pwm.channels[MCLK_PWM_SLICE]

        def update_enable(ch=ch):
            ch.timer.enable = False
        ch.update_enable = update_enable

    def mclk_period_cycles(self) -> int:
        """MCLK period in clk_sys cycles, from the PWM slice the firmware set up."""
        ch = self.mcu.pwm.channels[MCLK_PWM_SLICE]
        top = ch.top
        div = max(1, (ch.div >> 4) & 0xFF)
        return (top + 1) * div

    def _sensor_mode(self, streaming: bool) -> None:
        if streaming and not self.cam.active and self.vsync_enabled:
            period = self.mclk_period_cycles()
            self.cam.bit_ns = period * 8.0          # 1-bit output: one bit per MCLK (pixel clock)
            self.cam.frame_lines = self.sensor.frame_lines or 242
            self.cam.line_pck = self.sensor.line_pck or 215
            self.cam.start(self.mcu.clock.nanos)
        elif not streaming and self.cam.active:
            self.cam.stop()

    def _frame_start(self, cam) -> None:
        side = self.sensor.side
        cam.width = cam.height = side
        picture = self.sensor.render(self.scene(len(self.frames_sent)))
        self.frames_sent.append(picture)
        cam.frame = picture
        if self.short_frame_lines is not None:
            cam.lines = max(1, min(side, self.short_frame_lines))

    def stop_camera_bus(self) -> None:
        """Fault: the sensor stops sending (no more VSYNC) until resume_camera_bus()."""
        self.vsync_enabled = False
        self.cam.stop()

    def resume_camera_bus(self) -> None:
        self.vsync_enabled = True
        if self.sensor.streaming:
            self._sensor_mode(True)

    # ---- LCD ----
    def _lcd_flush(self, _fb) -> None:
        self.lcd_flushes += 1

    # ---- debugging ----
    def _break(self, code) -> None:
        core = 1 if self.mcu.core is self.mcu.core1 else 0
        self.breaks.append((code, core, self.mcu.core.pc))
        self.sim.stop()

    def state(self) -> dict:
        return {"emulated_ms": round(self.now_us / 1000, 3), "wall_s": round(self.wall_s, 2),
                "cycles": [self.mcu.core0.cycles, self.mcu.core1.cycles], "pc": [hex(self.mcu.core0.pc), hex(self.mcu.core1.pc)],
                "camera_frames": self.cam.frames, "lcd_flushes": self.lcd_flushes, "rx_bytes": len(self.raw_rx),
                "messages": dict(collections.Counter(type(m).__name__ for _, m in self.messages)),
                "breaks": self.breaks}
