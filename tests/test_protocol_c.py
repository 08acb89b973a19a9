"""core/protocol.c + core/device.c under AddressSanitizer and UBSan: unit tests and a fuzz run."""
from __future__ import annotations

import re
import subprocess

import pytest

from conftest import host_build
from pico4ml.common import manifest
from pico4ml.common.cbuild import SANITIZE_FLAGS
from pico4ml.common.paths import REPO_ROOT

pytestmark = pytest.mark.hostc

C_TESTS = REPO_ROOT / "tests" / "c"
MODEL = manifest.get("mlp_float")  # any model will do: the float one builds fastest under ASan
CORE_SOURCES = MODEL.portable_sources()
ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"}


def sanitized(name: str):
    """Built with ASan + UBSan; skipped only without a host compiler (a compile error fails)."""
    return host_build(name, [C_TESTS / f"{name}.c", *CORE_SOURCES], flags=SANITIZE_FLAGS + MODEL.defines())


def test_c_unit_tests_pass_under_sanitizers():
    proc = subprocess.run([str(sanitized("test_protocol"))], capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "all checks passed" in proc.stdout


def test_large_frames_go_out_in_bands_across_polls():
    """A FRAME larger than the sink arrives whole across device_poll() calls; later frames'
    small messages are not starved; a newer frame supersedes; a stalled host gets it abandoned."""
    proc = subprocess.run([str(sanitized("test_frame_bands"))], capture_output=True, text=True, timeout=300, env=ENV)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "test_frame_bands: all checks passed" in proc.stdout


def test_fuzz_command_parser_and_decoder_100k_inputs():
    """>= 100k inputs into the stream decoder and the device's command handling: no crash, hang or leak."""
    proc = subprocess.run([str(sanitized("fuzz_protocol")), "100000", "0xC0FFEE"], capture_output=True, text=True,
                          timeout=600, env=ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    fields = dict(re.findall(r"(\w+)=(\w+)", proc.stdout))
    assert int(fields["iterations"]) >= 100_000
    assert fields["invariants"] == "ok"
    # the fuzzer reached the parsers with both accepted and rejected commands, and ran injects
    assert int(fields["cmds_ok"]) > 1000 and int(fields["cmds_rejected"]) > 1000
    assert int(fields["frames"]) > 100 and int(fields["msgs_dropped"]) > 0
