"""core/blob_store.c (model upload into a two-slot flash region) over the host twin's
file-backed region, under ASan + UBSan: uploads, reboots, uploads cut at every stage, bad
commands, failing flash and damaged slots (tests/c/test_blob_store.c)."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from conftest import host_build
from pico4ml.common.cbuild import SANITIZE_FLAGS
from pico4ml.common.paths import CORE_DIR, FIRMWARE_DIR, REPO_ROOT
from pico4ml.export import blob as B

pytestmark = pytest.mark.hostc
SOURCES = [CORE_DIR / "blob_store.c", CORE_DIR / "blob.c", CORE_DIR / "sha256.c", CORE_DIR / "protocol.c",
           FIRMWARE_DIR / "host" / "blob_region_file.c"]
ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"}


def test_uploads_commits_reboots_and_cut_uploads_under_sanitizers(tmp_path):
    import sys
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from test_blob import small_cnn
    from pico4ml.common.paths import DEFAULT_CHECKPOINT
    from pico4ml.train.quantize import int8_path, load_quantized

    a = tmp_path / "a.blob"
    a.write_bytes(B.to_bytes(B.from_mlp(load_quantized(int8_path(DEFAULT_CHECKPOINT)), "mlp-a")))
    b = tmp_path / "b.blob"
    b.write_bytes(B.to_bytes(small_cnn(np.random.default_rng(3))))
    exe = host_build("test_blob_store", [REPO_ROOT / "tests" / "c" / "test_blob_store.c", *SOURCES],
                     flags=SANITIZE_FLAGS, include_dirs=[FIRMWARE_DIR / "host", REPO_ROOT / "tests" / "c"])
    proc = subprocess.run([str(exe), str(tmp_path / "region.bin"), str(a), str(b)], capture_output=True, text=True,
                          timeout=600, env=ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert "test_blob_store: all checks passed" in proc.stdout
    assert (tmp_path / "region.bin").stat().st_size == 2 * 1024 * 1024


def test_fuzzed_command_sequences_power_cuts_and_flash_failures_under_sanitizers(tmp_path):
    """tests/c/fuzz_blob_store.c: the model that runs is always one committed whole and still
    valid, changes only on an OK COMMIT, and survives power cuts."""
    import sys
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from test_blob import small_cnn
    a, b = tmp_path / "a.blob", tmp_path / "b.blob"
    a.write_bytes(B.to_bytes(small_cnn(np.random.default_rng(5))))
    b.write_bytes(B.to_bytes(small_cnn(np.random.default_rng(6), 8, 16, 32)))
    exe = host_build("fuzz_blob_store", [REPO_ROOT / "tests" / "c" / "fuzz_blob_store.c", *SOURCES[:4]],
                     flags=SANITIZE_FLAGS)
    proc = subprocess.run([str(exe), str(a), str(b), "20000", "0xC0FFEE"], capture_output=True, text=True,
                          timeout=600, env=ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    import re
    f = {k: int(v) if v.isdigit() else v for k, v in re.findall(r"(\w+)=(\w+)", proc.stdout)}
    assert f["invariants"] == "ok" and f["iterations"] == 20000
    # the run reached what it is meant to: commits, refusals, power cuts and flash failures
    assert f["commits"] > 100 and f["refused"] > 100 and f["cuts"] > 100 and f["flash_failures"] > 20
