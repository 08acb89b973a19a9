"""Build the Pico4ML firmware with the Pico SDK, and measure its memory use from the ELF.

One place that knows where the SDK and picotool live and how the memory budget is
counted, shared by tests/test_firmware_build.py and bench/firmware.py.

Memory budget, as counted here (RP2040: 264 KB SRAM, 2 MB flash):
- static SRAM: every allocated ELF section placed in SRAM (0x20000000..0x20042000):
  the RAM vector table, .data, .bss, the .heap reservation (PICO_HEAP_SIZE; the
  firmware's only malloc is the SDK's queue_init at boot) and both 4 KB core stacks
  (.stack_dummy in scratch Y, .stack1_dummy in scratch X).
- flash: the bytes of every loadable segment stored in flash (boot2, code, constants
  and weights, and the initial image of .data): what the UF2 writes.
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pico4ml.common import manifest
from pico4ml.common.budgets import FLASH_BUDGET_BYTES, SRAM_BUDGET_BYTES
from pico4ml.common.paths import BUILD_DIR, FIRMWARE_DIR

SDK_VERSION = "2.2.0"
SRAM_RANGE = (0x20000000, 0x20042000)
FLASH_RANGE = (0x10000000, 0x11000000)
UF2_FAMILY_RP2040 = 0xE48BFF56
BUILD_TIMEOUT_S = 1800


class FirmwareBuildError(RuntimeError):
    """The firmware did not configure or build; the message has the tool's output."""


def sdk_candidates() -> list[Path]:
    """Where to look for the Pico SDK: $PICO_SDK_PATH, then ~/.pico-sdk/sdk/<version>."""
    found = []
    env = os.environ.get("PICO_SDK_PATH")
    if env:
        found.append(Path(env).expanduser())
    base = Path.home() / ".pico-sdk" / "sdk"
    found.append(base / SDK_VERSION)
    if base.is_dir():
        found += sorted((p for p in base.iterdir() if p.is_dir() and p.name != SDK_VERSION), reverse=True)
    return found


def find_pico_sdk() -> Path | None:
    for p in sdk_candidates():
        if (p / "external" / "pico_sdk_import.cmake").is_file() and (p / "lib" / "tinyusb" / "src").is_dir():
            return p
    return None


def find_picotool_dir() -> Path | None:
    """A picotool CMake package dir (picotoolConfig.cmake), as the SDK's picotool_DIR wants."""
    env = os.environ.get("picotool_DIR")
    cands = [Path(env)] if env else []
    cands.append(Path.home() / ".pico-sdk" / "picotool" / SDK_VERSION / "picotool")
    for c in cands:
        if (c / "picotoolConfig.cmake").is_file():
            return c
    return None


def missing_tools() -> list[str]:
    return [t for t in ("cmake", "arm-none-eabi-gcc", "arm-none-eabi-g++") if shutil.which(t) is None]


@dataclass
class FirmwareBuild:
    build_dir: Path
    elf: Path
    uf2: Path | None  # None when built without picotool
    model: str  # the manifest entry built in


def build_firmware(build_dir: Path | None = None, sdk: Path | None = None, *, model: str | None = None,
                   jobs: int = 2) -> FirmwareBuild:
    """Configure and build firmware/pico4ml with a model of the manifest (None: its default);
    incremental when build_dir already holds a build."""
    model = manifest.get(model).name
    sdk = sdk or find_pico_sdk()
    if sdk is None:
        raise FirmwareBuildError("Pico SDK not found: set PICO_SDK_PATH or install it in ~/.pico-sdk/sdk/"
                                 f"{SDK_VERSION} (see firmware/pico4ml/README.md)")
    if missing_tools():
        raise FirmwareBuildError(f"missing tools: {', '.join(missing_tools())}")
    default = model == manifest.default_name()
    build_dir = Path(build_dir or BUILD_DIR / ("firmware" if default else f"firmware-{model}"))
    if _stale_cache(build_dir, sdk):
        shutil.rmtree(build_dir)  # configured for another checkout or SDK: CMake would refuse it
    build_dir.mkdir(parents=True, exist_ok=True)
    picotool = find_picotool_dir()
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    cfg = ["cmake", *gen, "-S", str(FIRMWARE_DIR), "-B", str(build_dir), f"-DPICO_SDK_PATH={sdk}",
           f"-DPICO4ML_MODEL={model}"]
    cfg.append(f"-Dpicotool_DIR={picotool}" if picotool else "-DPICO_NO_PICOTOOL=1")
    env = dict(os.environ, PICO_SDK_PATH=str(sdk))
    for cmd in (cfg, ["cmake", "--build", str(build_dir), "--parallel", str(jobs)]):
        try:
            p = subprocess.run(["nice", "-n", "10", *cmd], capture_output=True, text=True, env=env,
                               timeout=BUILD_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            raise FirmwareBuildError(f"timed out after {BUILD_TIMEOUT_S} s: {' '.join(cmd)}") from e
        if p.returncode != 0:
            raise FirmwareBuildError(f"{' '.join(cmd)} failed:\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    elf = build_dir / "pico4ml_mnist.elf"
    if not elf.is_file():
        raise FirmwareBuildError(f"build finished but {elf} is missing")
    uf2 = build_dir / "pico4ml_mnist.uf2"
    return FirmwareBuild(build_dir, elf, uf2 if picotool and uf2.is_file() else None, model)


def _stale_cache(build_dir: Path, sdk: Path) -> bool:
    cache = build_dir / "CMakeCache.txt"
    if not cache.is_file():
        return False
    want = {"CMAKE_HOME_DIRECTORY": FIRMWARE_DIR.resolve(), "PICO_SDK_PATH": sdk.resolve()}
    for line in cache.read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        key = key.split(":")[0]
        if key in want and Path(value).resolve() != want[key]:
            return True
    return False


# ---- ELF32 (little-endian ARM) section and segment tables ----

SHF_ALLOC = 0x2
SHT_NOBITS = 8
PT_LOAD = 1


@dataclass
class Section:
    name: str
    addr: int
    size: int
    type: int
    flags: int


@dataclass
class Segment:
    type: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int


def read_elf(path: Path) -> tuple[list[Section], list[Segment]]:
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise ValueError(f"{path}: not a little-endian 32-bit ELF file")
    (e_phoff, e_shoff, _flags, _ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum,
     e_shstrndx) = struct.unpack_from("<IIIHHHHHH", data, 28)
    segs = []
    for i in range(e_phnum):
        p_type, _off, vaddr, paddr, filesz, memsz, _fl, _al = struct.unpack_from("<8I", data, e_phoff + i * e_phentsize)
        segs.append(Segment(p_type, vaddr, paddr, filesz, memsz))
    raw = [struct.unpack_from("<10I", data, e_shoff + i * e_shentsize) for i in range(e_shnum)]
    str_off = raw[e_shstrndx][4]

    def name(off: int) -> str:
        end = data.index(b"\0", str_off + off)
        return data[str_off + off:end].decode()

    secs = [Section(name(s[0]), s[3], s[5], s[1], s[2]) for s in raw]
    return secs, segs


def memory_use(elf: Path) -> dict:
    """Static SRAM and flash use of a firmware ELF (see the module docstring)."""
    secs, segs = read_elf(elf)
    sram = {s.name: s.size for s in secs
            if s.flags & SHF_ALLOC and s.size and SRAM_RANGE[0] <= s.addr < SRAM_RANGE[1]}
    flash = sum(g.filesz for g in segs if g.type == PT_LOAD and FLASH_RANGE[0] <= g.paddr < FLASH_RANGE[1])
    return {
        "sram_static_bytes": sum(sram.values()),
        "sram_sections": sram,
        "flash_bytes": flash,
        "sram_budget_bytes": SRAM_BUDGET_BYTES,
        "flash_budget_bytes": FLASH_BUDGET_BYTES,
    }


def uf2_blocks(path: Path) -> list[tuple[int, int, int]]:
    """(target address, payload size, family id) of every block; ValueError if malformed."""
    data = Path(path).read_bytes()
    if not data or len(data) % 512:
        raise ValueError(f"{path}: size {len(data)} is not a multiple of 512")
    blocks = []
    for off in range(0, len(data), 512):
        m0, m1, flags, addr, size, _no, _n, family = struct.unpack_from("<8I", data, off)
        (m_end,) = struct.unpack_from("<I", data, off + 508)
        if (m0, m1, m_end) != (0x0A324655, 0x9E5D5157, 0x0AB16F30):
            raise ValueError(f"{path}: bad UF2 magic in block {off // 512}")
        blocks.append((addr, size, family if flags & 0x2000 else 0))
    return blocks
