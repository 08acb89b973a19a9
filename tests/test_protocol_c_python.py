"""C (core/protocol.c) and Python (common/protocol.py) speak the same protocol, byte for byte."""
from __future__ import annotations

import os
import re
import subprocess
import zlib

import pytest

from pico4ml.common import protocol as P
from pico4ml.common.cbuild import CompilerMissing, build
from pico4ml.common.paths import CORE_DIR, REPO_ROOT

pytestmark = pytest.mark.hostc


@pytest.fixture(scope="module")
def vectors():
    try:
        return build("proto_vectors", [REPO_ROOT / "tests" / "c" / "proto_vectors.c", CORE_DIR / "protocol.c"])
    except CompilerMissing as e:  # a compile error is a failure, never a skip
        pytest.skip(str(e))


def test_protocol_version_constants_agree(vectors):
    header = (CORE_DIR / "protocol.h").read_text()
    c_version = int(re.search(r"#define PROTOCOL_VERSION (\d+)", header).group(1))
    assert c_version == P.PROTOCOL_VERSION
    out = subprocess.run([str(vectors), "version"], capture_output=True, text=True, check=True).stdout.split()
    assert [int(v) for v in out] == [P.PROTOCOL_VERSION, P.MAX_PACKET, 32]
    # each side names the other
    assert "common/protocol.py" in header
    assert "firmware/pico4ml/core/protocol.h" in (REPO_ROOT / "common" / "protocol.py").read_text()


def expected_device_messages() -> dict[str, P.Message]:
    """The same field values as emit_all() in tests/c/proto_vectors.c."""
    return {
        "HELLO": P.Hello(1, P.MODEL_INT8, 324, 244, 24, 112640, 123456, "0123456789abcdef", "fw-1.2.3", "mlp784",
                         "gcc 12 / unit", seq=0),
        "FRAME": P.Frame(77, 4, 6, 2, 3, 324, 324, 0, P.FLAG_FULLRES, 1, bytes(i * 20 for i in range(12)), seq=1),
        "INPUT28": P.Input28(0xDEADBEEF, P.FLAG_INJECTED, bytes(i * 7 & 0xFF for i in range(784)), seq=2),
        "STAGE": P.Stage(78, P.STAGE_NORM, 0, 3, 2, (1, 0, 3, 2), 99, 0, (10, 20, 300, 280),
                         bytes(i * 20 for i in range(6)), seq=3),
        "RESULT": P.Result(79, 7, P.MODEL_FLOAT, 0, 0, 0.875, tuple(i * 0.5 - 2.0 for i in range(10)), 1000, 2000,
                           3000, 4000, 1525, seq=4),
        "STATS": P.Stats(*range(1, 11), seq=5),
        "LOG": P.Log(P.LOG_WARN, "camera: VSYNC timeout, retrying", seq=6),
        "ERROR": P.Error(P.ERR_LENGTH, P.Ping.TYPE, 513, "PING payload", seq=7),
        "PONG": P.Pong(0x12345678, 42, seq=8),
        "ACK": P.Ack(P.SetStream.TYPE, 65535, seq=9),
        "PARAMS": P.Params(bytes(range(1, 25)), seq=10),
        "STREAM": P.Stream(0x2B, 3, 1, 64, 20, seq=11),
        "CAMERA": P.Camera(P.CAM_MIRROR | P.CAM_AUTO_EXPOSURE, 2, 300, 512, seq=65535),
    }


def test_c_encodes_what_python_encodes_and_decodes(vectors):
    out = subprocess.run([str(vectors), "emit"], capture_output=True, text=True, check=True).stdout
    c_wire = dict(line.split() for line in out.splitlines())
    expected = expected_device_messages()
    assert set(c_wire) == set(expected)
    for name, msg in expected.items():
        wire = bytes.fromhex(c_wire[name])
        assert wire == P.encode(msg), f"{name}: C and Python bytes differ"
        dec = P.Decoder()
        got = dec.feed(wire)
        assert got == [msg] and got[0].seq == msg.seq, name
    # device->host types cover every device->host code in the Python table
    assert {m.TYPE for m in expected.values()} == {t for t in P.MESSAGE_TYPES if t >= 0x80}


def test_python_commands_parse_in_c(vectors):
    pix = os.urandom(35 * 21)
    cmds = [
        P.Ping(P.PING_WANT_HELLO, 0xCAFEF00D, seq=1),
        P.SetStream(0x3F, 2, 1, 128, 5, seq=2),
        P.SetCamera(P.CAM_FLIP, 3, 1000, 1023, seq=3),
        P.Inject(35, 21, pix, seq=4),
        P.SetParams(bytes(range(24)), seq=5),
        P.GetParams(seq=65535),
        P.SetStream(0x3F, 0, 0, 81, 10, seq=6),  # decimation 0: C rejects (rc=-6)
    ]
    hex_lines = "\n".join(P.encode(c).hex() for c in cmds) + "\n"
    # plus one corrupted copy: C must report a CRC error, not parse it
    packet = bytearray(P.cobs_decode(P.encode(P.Ping(0, 1, seq=7))[:-1]))
    packet[5] ^= 0x10  # a payload bit; the CRC stays the old one
    hex_lines += (P.cobs_encode(bytes(packet)) + b"\0").hex() + "\n"
    out = subprocess.run([str(vectors), "parse"], input=hex_lines, capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines == [
        "type=1 seq=1 len=5 flags=1 nonce=3405705229 rc=0",
        "type=4 seq=2 len=8 mask=63 decimation=2 flags=1 max_side=128 stats_every=5 rc=0",
        "type=5 seq=3 len=8 flags=2 analog_gain=3 exposure=1000 digital_gain_q8=1023 rc=0",
        f"type=6 seq=4 len={4 + len(pix)} width=35 height=21 sum={sum(pix)} rc=0",
        f"type=2 seq=5 len=24 crc={zlib.crc32(bytes(range(24)))} rc=0",
        "type=3 seq=65535 len=0 crc=0 rc=0",
        "type=4 seq=6 len=8 rc=-6",
        f"error={P.ERR_CRC} type=1 seq=7",
    ]
