"""Shared by the emulated-board tests and bench/board.py: the firmware build, the board, and
digit scenes whose expected camera output is known without the code under test."""
from __future__ import annotations

import numpy as np
import pytest

from pico4ml.common import fwbuild

FULL_SIDE = 324


def require_firmware() -> fwbuild.FirmwareBuild:
    """The default firmware, built with the Pico SDK: skipped (with what is missing) when the
    SDK or the toolchain is absent; a build error fails."""
    if fwbuild.find_pico_sdk() is None:
        pytest.skip("Pico SDK not found (looked in: " + ", ".join(map(str, fwbuild.sdk_candidates())) + ")")
    missing = fwbuild.missing_tools()
    if missing:
        pytest.skip(f"missing {', '.join(missing)} (apt-get install cmake gcc-arm-none-eabi)")
    return fwbuild.build_firmware()


def new_board(elf, scene, **kw):
    from pico4ml.emulator.board import Board
    from pico4ml.emulator.native import EmulatorUnavailable
    try:
        return Board.from_elf(elf, scene, **kw)
    except EmulatorUnavailable as e:
        pytest.skip(str(e))


def digit_scene(digit28: np.ndarray, paper: int = 208, ink: int = 24) -> np.ndarray:
    """A 28x28 MNIST digit (white on black) as dark ink on paper filling the middle of the
    full 324x324 sensor window, in 8x8 blocks: every 2x2 and 4x4 area mean of it is exact,
    so the 81x81 FRAME must be scene[::4, ::4] whatever rounding the firmware uses."""
    d = np.asarray(digit28, dtype=np.float64) / 255.0
    levels = np.rint(paper + (ink - paper) * d).astype(np.uint8)
    scene = np.full((FULL_SIDE, FULL_SIDE), paper, np.uint8)
    big = np.kron(levels, np.ones((8, 8), np.uint8))          # 224x224
    scene[48:48 + 224, 48:48 + 224] = big
    return scene


# ---- the golden LCD picture (tests/test_emulated_lcd_golden.py, tools/lcd_golden.py) ----
GOLDEN_DIR = __import__("pathlib").Path(__file__).resolve().parent / "golden"
GOLDEN_LCD = GOLDEN_DIR / "lcd_mnist_test0.png"
GOLDEN_LCD_AT_US = 3_200_000  # board time: after the boot screen (to ~2.7 s), two RESULTs drawn
# the LCD's regions (firmware/pico4ml/app/display.h): rows 0..79 camera view, 82..137 the
# 28x28 input, the digit, its score and the polarity swatch, 142..159 the status lines
LCD_REGIONS = {"camera view": (0, 80), "input28 / digit / score": (80, 140), "status lines": (140, 160)}


def golden_scene(mnist) -> np.ndarray:
    """The golden picture's scene: MNIST test digit 0 (a 7) in front of the camera."""
    _, _, x_test, _ = mnist
    return digit_scene(np.asarray(x_test[0]))


def lcd_at(elf, scene, at_us: int = GOLDEN_LCD_AT_US) -> np.ndarray:
    """The LCD (160x80 RGB) at a fixed board time, the board shown only `scene` and sent no
    host message: the same picture every run (tests/test_emulated_determinism.py)."""
    board = new_board(elf, scene)
    while board.now_us < at_us:
        board.run_until(lambda b: False, emulated_s=(at_us - board.now_us) / 1e6, wall_s=1e9)
    # the last instruction may end a fraction of a microsecond past at_us (the same every run)
    assert at_us <= board.now_us < at_us + 1, f"the board stopped at {board.now_us} us, not {at_us}: {board.state()}"
    return board.lcd.rgb()


def lcd_diff_report(actual: np.ndarray, golden: np.ndarray) -> str:
    """Where two LCD pictures differ, in words (empty when they are equal)."""
    if actual.shape != golden.shape:
        return f"LCD picture is {actual.shape}, the golden one {golden.shape}"
    differ = np.any(actual != golden, axis=-1)
    n = int(differ.sum())
    if n == 0:
        return ""
    ys, xs = np.nonzero(differ)
    lines = [f"{n} of {differ.size} LCD pixels differ from the golden picture, in rows {ys.min()}..{ys.max()}, "
             f"columns {xs.min()}..{xs.max()}; largest channel difference "
             f"{int(np.abs(actual.astype(int) - golden.astype(int)).max())}"]
    for name, (r0, r1) in LCD_REGIONS.items():
        k = int(differ[r0:r1].sum())
        if k:
            lines.append(f"  {name} (rows {r0}..{r1 - 1}): {k} pixels")
    for y, x in list(zip(ys, xs))[:5]:
        lines.append(f"  (row {y}, column {x}): got RGB {tuple(int(v) for v in actual[y, x])}, "
                     f"golden {tuple(int(v) for v in golden[y, x])}")
    return "\n".join(lines)
