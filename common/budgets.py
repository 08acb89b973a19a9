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
# The top of the flash holds uploaded models (two slots, docs/model-format.md): 1 MiB in an
# int8 build, 512 KiB when the float model is built in (firmware/pico4ml/CMakeLists.txt;
# app/model_region.ld fails the link of an image that reaches the region).
MODEL_REGION_MIN_BYTES = 512 * 1024
FLASH_BUDGET_BYTES = FLASH_BYTES - MODEL_REGION_MIN_BYTES

# What a built-in model may take: the image's flash less ~128 KB for the firmware itself
# (measured: ~80 KB of code and tables), and a small slice of the SRAM that frame buffers
# mostly fill.
FLASH_FOR_WEIGHTS = FLASH_BUDGET_BYTES - 128 * 1024
RAM_FOR_SCRATCH = 8 * 1024
