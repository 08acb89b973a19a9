"""The Pico4ML's ST7735S LCD: rp2040py's controller model on spi1 (CS GP13, DC GP9, RST GP7;
board/pico4ml.h), with the glass the Pico4ML has: 80x160 portrait, at column 24 of the
132x162 controller RAM (ST7735S datasheet 9.1: 132x162 GRAM; MADCTL MX/MY/MV mirror and
exchange the address counters; bit 3 tells the controller the panel's filters are in BGR
order, which the Pico4ML's are: with it set, RGB565 words show as sent, without it red and
blue swap).

Two additions to the package model: the firmware streams pixels as 16-bit SPI frames
(spi_set_format(16 bits) + DMA), which the package's byte decoder does not take, and the
picture is kept as the portrait glass shows it.
"""
from __future__ import annotations

import numpy as np
from rp2040py.external.st7735s import St7735s
from rp2040py.gpio_pin import GPIOPinState

WIDTH, HEIGHT = 80, 160
COL_OFFSET, ROW_OFFSET = 24, 0
MADCTL_MY, MADCTL_MX, MADCTL_MV, MADCTL_BGR = 0x80, 0x40, 0x20, 0x08


class Pico4MLLcd(St7735s):
    def __init__(self, on_frame=None):
        super().__init__(spi_index=1, cs_pin=13, dc_pin=9, rst_pin=7, width=HEIGHT, height=WIDTH,
                         col_offset=0, row_offset=COL_OFFSET, on_frame=on_frame)
        self.frame_buffer = bytearray(WIDTH * HEIGHT * 2)
        self.words16 = 0
        self.pixels_written = 0

    def _on_transmit(self, value):
        if self._spi.data_bits <= 8:
            super()._on_transmit(value)
            return
        self.words16 += 1               # one 16-bit frame: its two bytes, MSB first
        if self._cs.value == GPIOPinState.LOW and self._dc.value != GPIOPinState.LOW:
            self._on_data((value >> 8) & 0xFF)
            self._on_data(value & 0xFF)
        frequency = self._spi.clock_frequency
        self._tx_alarm.schedule(int(16 / frequency * 1e9) if frequency else 1000)

    def _panel_position(self):
        width = self._col_end - self._col_start + 1
        if width <= 0:
            return None
        col = self._col_start + self._pixel_index % width
        row = self._row_start + self._pixel_index // width
        if self.madctl & MADCTL_MV:
            col, row = row, col
        x, y = col - COL_OFFSET, row - ROW_OFFSET
        if not (0 <= x < WIDTH and 0 <= y < HEIGHT):
            return None                 # in controller RAM, not on the glass
        if self.madctl & MADCTL_MX:
            x = WIDTH - 1 - x
        if self.madctl & MADCTL_MY:
            y = HEIGHT - 1 - y
        return x, y

    def _store_pixel(self, high, low):
        pos = self._panel_position()
        if pos is None:
            return
        off = (pos[1] * WIDTH + pos[0]) * 2
        self.frame_buffer[off] = high
        self.frame_buffer[off + 1] = low
        self.pixels_written += 1
        self._dirty = True

    def rgb(self) -> np.ndarray:
        """The glass as uint8 RGB, shape (160, 80, 3) (5/6-bit channels widened by bit
        replication); black while the display is off."""
        words = np.frombuffer(bytes(self.frame_buffer), dtype=">u2").reshape(HEIGHT, WIDTH).astype(np.uint16)
        first = (words >> 11) & 0x1F
        green = (words >> 5) & 0x3F
        last = words & 0x1F
        red, blue = (first, last) if self.madctl & MADCTL_BGR else (last, first)
        out = np.stack([(red << 3) | (red >> 2), (green << 2) | (green >> 4), (blue << 3) | (blue >> 2)], axis=-1)
        if not self.display_on:
            out[:] = 0
        return out.astype(np.uint8)
