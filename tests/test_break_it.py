"""A compile error in the portable C must make tests fail, never skip.

Each case copies firmware/pico4ml, removes one semicolon from one core/*.c file, and runs
the tests that build that file against the copy (common.paths honours
PICO4ML_FIRMWARE_DIR). They must report failures or errors, not a clean or skipped run.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pico4ml.common.paths import CORE_DIR, FIRMWARE_DIR, REPO_ROOT

pytestmark = [pytest.mark.hostc, pytest.mark.slow]

# core file -> test modules that build it (a new core file must be added here)
AFFECTED = {
    "preprocess.c": ["tests/test_preprocess.py", "tests/test_classify.py"],
    "protocol.c": ["tests/test_protocol_c_python.py", "tests/test_protocol_c.py"],
    "device.c": ["tests/test_protocol_c.py", "tests/test_usb_link.py"],
    "device_frame.c": ["tests/test_protocol_c.py", "tests/test_usb_link.py"],
    "device_publish.c": ["tests/test_protocol_c.py", "tests/test_usb_link.py"],
    "classifier.c": ["tests/test_classify.py"],
    "blob.c": ["tests/test_blob.py"],
    "sha256.c": ["tests/test_blob.py"],
    "blob_store.c": ["tests/test_blob_store.py"],
    "blob_classifier.c": ["tests/test_blob_upload.py"],
    "reader.c": ["tests/test_second_reading.py"],
}


def test_every_core_file_has_its_break_it_case():
    assert {p.name for p in CORE_DIR.glob("*.c")} <= set(AFFECTED), \
        "add the new core/*.c file and the tests that build it to AFFECTED"


def break_one_semicolon(path: Path) -> None:
    text = path.read_text()
    m = re.search(r";(\s*\n\s*\})", text)  # the end of a statement that closes a block
    assert m, f"no statement to break in {path}"
    path.write_text(text[:m.start()] + m.group(1) + text[m.end():])


@pytest.mark.parametrize("core_file", sorted(AFFECTED))
def test_a_syntax_error_fails_the_tests_that_build_it(core_file: str, tmp_path: Path):
    shutil.which("gcc") or pytest.skip("gcc not installed (apt-get install gcc)")
    copy = tmp_path / "pico4ml"
    shutil.copytree(FIRMWARE_DIR, copy)
    break_one_semicolon(copy / "core" / core_file)
    for module in AFFECTED[core_file]:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", module],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                              env={**os.environ, "PICO4ML_FIRMWARE_DIR": str(copy)})
        summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
        assert proc.returncode == 1 and re.search(r"\d+ (failed|error)", summary), \
            f"{module} with a broken core/{core_file}: {summary}"
