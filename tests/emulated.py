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
