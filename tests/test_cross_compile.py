"""The portable C (firmware/pico4ml/core, core/model) builds for the Cortex-M0+ with no SDK,
warning-free, and never reaches for board headers."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pico4ml.common import manifest
from pico4ml.common.paths import CORE_DIR, FIRMWARE_DIR

pytestmark = pytest.mark.cross

CROSS_FLAGS = ["-mcpu=cortex-m0plus", "-mthumb", "-Os", "-std=c11", "-Wall", "-Wextra", "-Werror"]
BOARD_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]\s*(pico/|hardware/|pico\.h|tusb|boards/|RP2040\.h|cmsis|'
                           r'hm01b0|st7735|pico4ml\.h|usb_link|camera_task|display\.h)', re.M)

PORTABLE_C = sorted(CORE_DIR.glob("*.c")) + sorted((CORE_DIR / "model").glob("*.c"))
PORTABLE_ALL = PORTABLE_C + sorted(CORE_DIR.rglob("*.h"))


def _cc() -> str:
    import shutil
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc not installed (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)")
    return cc


def test_portable_sources_exist():
    names = {p.name for p in PORTABLE_C}
    for needed in ("preprocess.c", "protocol.c", "device.c", "classifier.c", "model_float.c"):
        assert needed in names, f"core/{needed} missing"


# Every file as the firmware's default build compiles it; classifier.c (the one file that
# depends on the model choice) also with every other model of the manifest.
_DEFAULT = manifest.get()
CASES = [(src, _DEFAULT.defines()) for src in PORTABLE_C] + [
    (CORE_DIR / "classifier.c", manifest.get(n).defines()) for n in manifest.names() if n != _DEFAULT.name]


def _case_id(v) -> str:
    return str(v.relative_to(CORE_DIR)) if isinstance(v, Path) else (v[0][2:].split("=")[0] if v else "")


@pytest.mark.parametrize("src,defines", CASES, ids=_case_id)
def test_cross_compiles_warning_free(src: Path, defines: list[str], tmp_path: Path):
    cmd = [_cc(), *CROSS_FLAGS, *defines, f"-I{CORE_DIR}", f"-I{CORE_DIR / 'model'}", "-c", str(src),
           "-o", str(tmp_path / "out.o")]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, f"{' '.join(cmd)}\n{p.stderr}"
    assert (tmp_path / "out.o").stat().st_size > 0


@pytest.mark.parametrize("path", PORTABLE_ALL, ids=lambda p: str(p.relative_to(CORE_DIR)))
def test_no_board_headers_in_core(path: Path):
    text = path.read_text(errors="replace")
    m = BOARD_INCLUDE.search(text)
    assert m is None, f"{path.relative_to(FIRMWARE_DIR)} includes board-specific {m.group(0).strip()!r}"


def test_board_code_stays_out_of_core():
    """The reverse: board sources live in drivers/, app/, board/ only, and no core/ file is duplicated there."""
    core_names = {p.name for p in CORE_DIR.rglob("*.[ch]")}
    for d in ("drivers", "app", "board"):
        for p in (FIRMWARE_DIR / d).rglob("*.[ch]"):
            assert p.name not in core_names, f"{p.relative_to(FIRMWARE_DIR)} duplicates core/{p.name}"
