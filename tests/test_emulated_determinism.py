"""The emulated board is deterministic: the same image and inputs for the same board time
end in the same state (both cores' cycles and PCs, SRAM, every byte sent over USB), however
the wall-clock budget cut the batches."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from emulated import new_board, require_firmware

pytestmark = [pytest.mark.slow, pytest.mark.sdk]


def snapshot(elf, wall_s):
    board = new_board(elf, np.full((324, 324), 77, np.uint8))
    while board.now_us < 300_000:
        board.run_until(lambda b: False, emulated_s=(300_000 - board.now_us) / 1e6, wall_s=wall_s)
    m = board.mcu
    return (m.core0.cycles, m.core1.cycles, m.core0.pc, m.core1.pc, m.clock.nanos,
            hashlib.sha256(bytes(m.sram)).hexdigest(), hashlib.sha256(bytes(board.raw_rx)).hexdigest())


def test_same_inputs_same_state():
    elf = require_firmware().elf
    a = snapshot(elf, wall_s=1e9)
    b = snapshot(elf, wall_s=0.05)      # many short batches instead of a few long ones
    assert a[0] > 0 and a[1] > 0, "a core never ran"
    assert a == b
