"""The Pico4ML's memory budgets: one place, read by the exporters, the firmware
measurement (common.fwbuild) and the tests.

RP2040: 264 KB SRAM, 2 MB QSPI flash on the Pico4ML.
"""
from __future__ import annotations

FLASH_BYTES = 2 * 1024 * 1024
SRAM_BYTES = 264 * 1024

# What the firmware may use in all: static SRAM counted from the ELF (.data, .bss, heap
# reservation, both stacks) leaves room for the SDK's run-time needs; flash is the chip.
SRAM_BUDGET_BYTES = 200 * 1024
FLASH_BUDGET_BYTES = FLASH_BYTES

# What a model may take: the flash less ~128 KB for the firmware itself (measured: ~68 KB
# of code and tables), and a small slice of the SRAM that frame buffers mostly fill.
FLASH_FOR_WEIGHTS = FLASH_BYTES - 128 * 1024
RAM_FOR_SCRATCH = 8 * 1024
