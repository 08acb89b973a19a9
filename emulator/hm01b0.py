"""The Himax HM01B0 as the firmware sees it: an I2C register file at 0x24 and the picture it
sends, derived from those registers (HM01B0 datasheet: 16-bit register addresses, big-endian
address bytes then data with auto-increment; model id 0x01B0 at 0x0000/0x0001).

What the registers change in the picture:
- MODE_SELECT (0x0100) bit 0: streaming / standby; SW_RESET (0x0103): registers back, standby.
- BINNING_MODE (0x0390) = 3: 162x162 (2x2 binned), else the full 324x324 window.
- FRAME_LEN_LINES / LINE_LEN_PCK (0x0340, 0x0342): frame and line period (vcam timing).
- IMAGE_ORIENTATION (0x0101): bit 0 mirror, bit 1 flip. The Pico4ML mounts the sensor
  upside down (board/pico4ml.h: orientation 3 corrects it), so the scene is turned by 180
  degrees before the bits apply: with both set the sensor sends the scene as seen.
- AE_CTRL (0x2100) bit 0: automatic exposure, modelled as converged: the scene's own levels.
  Off: level * (INTEGRATION / (FRAME_LEN_LINES - 2)) * 2^ANALOG_GAIN[6:4] * DIGITAL_GAIN/64,
  clipped to 0..255 (integration time and gains are linear in a CMOS sensor's response;
  frame length - 2 lines is the longest integration, which is where the scene's levels sit).
Not modelled: black level, noise, the AE's convergence over frames, motion detection.
"""
from __future__ import annotations

import numpy as np

ADDRESS = 0x24
MODEL_ID = 0x01B0
REG_MODEL_ID_H, REG_MODEL_ID_L = 0x0000, 0x0001
REG_FRAME_COUNT = 0x0005
REG_MODE_SELECT = 0x0100
REG_IMAGE_ORIENTATION = 0x0101
REG_SW_RESET = 0x0103
REG_INTEGRATION_H = 0x0202
REG_ANALOG_GAIN = 0x0205
REG_DIGITAL_GAIN_H = 0x020E
REG_FRAME_LEN_LINES_H = 0x0340
REG_LINE_LEN_PCK_H = 0x0342
REG_BINNING_MODE = 0x0390
REG_AE_CTRL = 0x2100
BINNED_SIDE, FULL_SIDE = 162, 324


def power_on_registers(model_id: int = MODEL_ID) -> dict[int, int]:
    """The registers whose power-on value matters here (datasheet defaults)."""
    return {REG_MODEL_ID_H: model_id >> 8, REG_MODEL_ID_L: model_id & 0xFF, REG_MODE_SELECT: 0x00,
            REG_IMAGE_ORIENTATION: 0x00, REG_INTEGRATION_H: 0x00, REG_INTEGRATION_H + 1: 0x08,
            REG_ANALOG_GAIN: 0x00, REG_DIGITAL_GAIN_H: 0x01, REG_DIGITAL_GAIN_H + 1: 0x00,
            REG_FRAME_LEN_LINES_H: 0x02, REG_FRAME_LEN_LINES_H + 1: 0x32,
            REG_LINE_LEN_PCK_H: 0x01, REG_LINE_LEN_PCK_H + 1: 0x72, REG_BINNING_MODE: 0x00,
            REG_AE_CTRL: 0x01}


class HM01B0:
    """Register file + picture. Faults: `nack` (the sensor does not answer its address),
    `model_id` (what it reports). `on_mode(streaming)` is called when MODE_SELECT changes."""

    def __init__(self, model_id: int = MODEL_ID, address: int = ADDRESS):
        self.address = address
        self.model_id = model_id
        self.nack = False
        self.regs = power_on_registers(model_id)
        self.writes: list[tuple[int, int]] = []
        self.on_mode = None
        self.i2c = None
        self._index = 0
        self._ptr = 0
        self._selected = False

    # ---- I2C slave (rp2040py's I2C controller hooks) ----
    def attach(self, i2c) -> None:
        self.i2c = i2c
        i2c.on_start = lambda repeated: i2c.complete_start()
        i2c.on_connect = self._connect
        i2c.on_write_byte = self._write
        i2c.on_read_byte = self._read
        i2c.on_stop = self._stop

    def _connect(self, address, mode):
        self._selected = address == self.address and not self.nack
        self._index = 0
        self.i2c.complete_connect(self._selected)

    def _write(self, value):
        if self._index == 0:
            self._ptr = value << 8
        elif self._index == 1:
            self._ptr |= value
        else:
            self.store(self._ptr, value)
            self._ptr = (self._ptr + 1) & 0xFFFF
        self._index += 1
        self.i2c.complete_write(True)

    def _read(self, ack):
        value = self.regs.get(self._ptr, 0)
        self._ptr = (self._ptr + 1) & 0xFFFF
        self.i2c.complete_read(value)

    def _stop(self):
        self._index = 0
        self.i2c.complete_stop()

    # ---- registers ----
    def store(self, reg: int, value: int) -> None:
        self.writes.append((reg, value))
        if reg in (REG_MODEL_ID_H, REG_MODEL_ID_L, REG_FRAME_COUNT):
            return                              # read-only
        if reg == REG_SW_RESET and value & 1:
            self.regs = power_on_registers(self.model_id)
            self._mode(0)
            return
        self.regs[reg] = value & 0xFF
        if reg == REG_MODE_SELECT:
            self._mode(value & 1)

    def _mode(self, streaming: int) -> None:
        if self.on_mode:
            self.on_mode(bool(streaming))

    def reg16(self, reg: int) -> int:
        return (self.regs.get(reg, 0) << 8) | self.regs.get(reg + 1, 0)

    @property
    def streaming(self) -> bool:
        return bool(self.regs.get(REG_MODE_SELECT, 0) & 1)

    @property
    def side(self) -> int:
        return BINNED_SIDE if self.regs.get(REG_BINNING_MODE, 0) == 3 else FULL_SIDE

    @property
    def frame_lines(self) -> int:
        return self.reg16(REG_FRAME_LEN_LINES_H)

    @property
    def line_pck(self) -> int:
        return self.reg16(REG_LINE_LEN_PCK_H)

    def exposure_gain(self) -> float:
        """Factor applied to the scene's levels (1.0 under automatic exposure)."""
        if self.regs.get(REG_AE_CTRL, 0) & 1:
            return 1.0
        lines = self.reg16(REG_INTEGRATION_H)
        again = 1 << ((self.regs.get(REG_ANALOG_GAIN, 0) >> 4) & 3)
        dgain = ((self.regs.get(REG_DIGITAL_GAIN_H, 0) & 3) << 6 | self.regs.get(REG_DIGITAL_GAIN_H + 1, 0) >> 2) / 64
        return lines / max(1, self.frame_lines - 2) * again * dgain

    def render(self, scene: np.ndarray) -> bytes:
        """What the sensor sends for `scene` (uint8 HxW, as seen from the front of the board;
        resized to the readout side if needed), row-major bytes."""
        img = np.asarray(scene, dtype=np.uint8)
        if img.ndim != 2:
            raise ValueError(f"scene must be a 2-D gray image, got shape {img.shape}")
        side = self.side
        if img.shape != (side, side):
            import cv2
            img = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
        img = img[::-1, ::-1]                   # mounted upside down
        orient = self.regs.get(REG_IMAGE_ORIENTATION, 0)
        if orient & 1:
            img = img[:, ::-1]
        if orient & 2:
            img = img[::-1, :]
        gain = self.exposure_gain()
        if gain != 1.0:
            img = np.clip(np.rint(img.astype(np.float64) * gain), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(img).tobytes()
