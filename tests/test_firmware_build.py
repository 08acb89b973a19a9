"""The full Pico4ML firmware builds with the Pico SDK and fits the board.

Needs the Pico SDK ($PICO_SDK_PATH or ~/.pico-sdk/sdk/<version>) and arm-none-eabi-gcc;
skipped with the reason otherwise. The build is incremental under build/firmware/.
Budget (how it is counted: pico4ml.common.fwbuild): static SRAM <= 200 KB, flash <= 2 MB.
"""
from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

from conftest import elf_symbols, require_sdk, sdk_model_build_symbols
from pico4ml.common import fwbuild

pytestmark = pytest.mark.sdk

FRAME_BYTES = 162 * 162


@pytest.fixture(scope="module")
def firmware() -> fwbuild.FirmwareBuild:
    return fwbuild.build_firmware(sdk=require_sdk())


def test_elf_is_an_rp2040_image(firmware):
    data = firmware.elf.read_bytes()
    assert data[:4] == b"\x7fELF"
    e_machine, = struct.unpack_from("<H", data, 18)
    entry, = struct.unpack_from("<I", data, 24)
    assert e_machine == 40, "not an ARM ELF"
    assert fwbuild.FLASH_RANGE[0] <= entry < fwbuild.FLASH_RANGE[1], "entry point not in XIP flash"
    secs, _ = fwbuild.read_elf(firmware.elf)
    boot2 = [s for s in secs if s.name == ".boot2"]
    assert boot2 and boot2[0].addr == 0x10000000 and boot2[0].size == 256


def test_uf2_covers_the_flash_image(firmware):
    if firmware.uf2 is None:
        pytest.skip("no picotool found (~/.pico-sdk/picotool/<version>/picotool or picotool_DIR): "
                    "built with PICO_NO_PICOTOOL, which makes no UF2")
    blocks = fwbuild.uf2_blocks(firmware.uf2)
    assert {fam for _, _, fam in blocks} == {fwbuild.UF2_FAMILY_RP2040}
    addrs = [a for a, _, _ in blocks]
    assert addrs == sorted(addrs) and addrs[0] == 0x10000000
    payload = sum(size for _, size, _ in blocks)
    flash = fwbuild.memory_use(firmware.elf)["flash_bytes"]
    assert flash <= payload < flash + 4096


def test_memory_budget(firmware):
    m = fwbuild.memory_use(firmware.elf)
    print(f"\nstatic SRAM {m['sram_static_bytes']} B {m['sram_sections']}, flash {m['flash_bytes']} B")
    assert m["sram_static_bytes"] <= fwbuild.SRAM_BUDGET_BYTES, m["sram_sections"]
    assert m["flash_bytes"] <= fwbuild.FLASH_BUDGET_BYTES
    # The parser agrees with binutils on the big sections.
    if shutil.which("arm-none-eabi-size"):
        out = subprocess.run(["arm-none-eabi-size", "-A", str(firmware.elf)], capture_output=True, text=True,
                             check=True).stdout
        sizes = {p[0]: int(p[1]) for p in (line.split() for line in out.splitlines()) if len(p) == 3 and p[1].isdigit()}
        for name in (".data", ".bss", ".heap"):
            assert m["sram_sections"].get(name, 0) == sizes.get(name, 0), name


def test_frame_buffers_are_static_aligned_and_double(firmware):
    syms = elf_symbols(firmware.elf)
    addr, size, kind = syms["frames"]
    assert kind in "bB", "frame buffers must be zero-initialised statics (.bss), not on a stack"
    assert size == 2 * FRAME_BYTES
    assert addr % 4 == 0, "DMA writes 32-bit words: buffers must be word aligned"
    assert fwbuild.SRAM_RANGE[0] <= addr < fwbuild.SRAM_RANGE[1]


def test_board_code_is_in_the_image(firmware):
    syms = elf_symbols(firmware.elf)
    for name in ("hm01b0_init", "hm01b0_capture_start", "st7735_init", "tud_descriptor_device_cb",
                 "pp_run", "classifier_run", "device_publish", "net_int8_fast"):
        assert name in syms, f"{name} missing from the firmware"
    # TinyUSB driven directly: the SDK's stdio over USB must not be linked in.
    assert "stdio_usb_init" not in syms


def test_the_model_region_is_clear_of_the_image_and_uploads_are_linked(firmware):
    """docs/model-format.md: uploaded blobs live in the top 1 MiB of the 2 MB flash; the link
    fails if the image reaches it (app/model_region.ld), and the flash writes go through the
    SDK's flash_safe_execute with core 1 registered as a lockout victim."""
    out = subprocess.run(["arm-none-eabi-nm", str(firmware.elf)], capture_output=True, text=True, check=True).stdout
    addr = {p[2]: int(p[0], 16) for p in (line.split() for line in out.splitlines()) if len(p) == 3}
    assert addr["__pico4ml_model_region"] == 0x10000000 + 2 * 1024 * 1024 - 1024 * 1024
    assert addr["__flash_binary_end"] <= addr["__pico4ml_model_region"]
    for name in ("model_store_command", "model_store_init", "blob_open", "blob_run", "blob_store_command",
                 "flash_safe_execute", "flash_safe_execute_core_init", "flash_range_erase", "flash_range_program"):
        assert name in addr, f"{name} missing from the firmware"


@pytest.mark.slow
def test_float_variant_builds_and_fits():
    syms, fw = sdk_model_build_symbols("mlp_float")
    assert "net" in syms and not any(name.startswith("net_int8") for name in syms), "float build must link net()"
    # its 1.3 MB image leaves a 512 KiB model region (app/model_region.ld would fail the link otherwise)
    out = subprocess.run(["arm-none-eabi-nm", str(fw.elf)], capture_output=True, text=True, check=True).stdout
    addr = {p[2]: int(p[0], 16) for p in (line.split() for line in out.splitlines()) if len(p) == 3}
    assert addr["__pico4ml_model_region"] == 0x10000000 + 2 * 1024 * 1024 - 512 * 1024


def test_recorded_memory_figures_are_this_build(firmware):
    """README's and firmware/README's memory figures come from bench/results/firmware.json:
    a firmware change that moves them needs `python tools/figures.py run bench/firmware.py`.
    Static SRAM is the toolchain's layout of our own buffers (exact); flash also holds
    compiled code, which another compiler release may size slightly differently."""
    import json

    from pico4ml.common.paths import REPO_ROOT
    recorded = json.loads((REPO_ROOT / "bench" / "results" / "firmware.json").read_text())["figures"]
    m = fwbuild.memory_use(firmware.elf)
    rerun = "stale: run `python tools/figures.py run bench/firmware.py` and `python tools/figures.py render`"
    assert m["sram_static_bytes"] == recorded["sram_static_bytes"], rerun
    assert abs(m["flash_bytes"] - recorded["flash_bytes"]) <= 0.02 * recorded["flash_bytes"], rerun
