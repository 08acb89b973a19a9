"""C (core/protocol.c) and Python (common/protocol.py) speak the same protocol, byte for byte.

The expected bytes are literal golden vectors (one message of every type of docs/protocol.md),
not computed by either implementation: a change to a layout must change them here, by hand.
"""
from __future__ import annotations

import os
import re
import struct
import subprocess
import zlib

import pytest

from conftest import host_build
from pico4ml.common import protocol as P
from pico4ml.common.paths import CORE_DIR, REPO_ROOT
from test_protocol import COBS_EXAMPLES

pytestmark = pytest.mark.hostc


@pytest.fixture(scope="module")
def vectors():
    return host_build("proto_vectors", [REPO_ROOT / "tests" / "c" / "proto_vectors.c", CORE_DIR / "protocol.c",
                                        CORE_DIR / "blob_store.c", CORE_DIR / "blob.c", CORE_DIR / "sha256.c"])


def test_protocol_version_constants_agree(vectors):
    header = (CORE_DIR / "protocol.h").read_text()
    c_version = int(re.search(r"#define PROTOCOL_VERSION (\d+)", header).group(1))
    assert c_version == P.PROTOCOL_VERSION == 2
    out = subprocess.run([str(vectors), "version"], capture_output=True, text=True, check=True).stdout.split()
    assert [int(v) for v in out] == [P.PROTOCOL_VERSION, P.MAX_PACKET, P.Hello._layout().size]
    # each side names the other
    assert "common/protocol.py" in header
    assert "firmware/pico4ml/core/protocol.h" in (REPO_ROOT / "common" / "protocol.py").read_text()


def test_c_cobs_and_crc_known_answers(vectors):
    """The published COBS examples and the CRC-32 check value, through the C."""
    lines = "".join(data.hex() + "\n" for data, _ in COBS_EXAMPLES)
    out = subprocess.run([str(vectors), "cobs"], input=lines, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [f"{enc.hex()} ok" for _, enc in COBS_EXAMPLES]
    crc = subprocess.run([str(vectors), "crc", "123456789"], capture_output=True, text=True, check=True)
    assert crc.stdout.strip() == "cbf43926"


# Device -> host: the field values of emit_all() in tests/c/proto_vectors.c, and their bytes on the
# wire (COBS of [version 2][type][seq LE][payload][CRC-32 LE], then 0x00).
DEVICE_GOLDEN: dict[str, tuple[P.Message, str]] = {
    "HELLO": (P.Hello(2, P.MODEL_INT8, 324, 244, 32, 112640, 123456, "0123456789abcdef", P.CAM_MODE_FULL, 2, 0,
                      "fw-1.2.3", "mlp784", "gcc 12 / unit", seq=0),
              "030281010602014401f402200103b8010440e2011330313233343536373839616263646566020201230866772d312e322e"
              "33066d6c703738340d676363203132202f20756e6974a1f61a7800"),
    "FRAME": (P.Frame(77, 4, 6, 2, 3, 324, 324, 0, P.FLAG_FULLRES, 1, bytes(i * 20 for i in range(12)), seq=1),
              "04028201024d010102040206020202030544014401030101011014283c5064788ca0b4c8dc400a21a800"),
    "INPUT28": (P.Input28(0xDEADBEEF, P.FLAG_INJECTED, bytes(i * 7 & 0xFF for i in range(784)), seq=2),
                ("0402830206efbeadde02ff070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a11181f"
               "262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff060d141b222930373e454c535a61686f767d848b"
               "9299a0a7aeb5bcc3cad1d8dfe6edf4fb020910171e252c333a41484f565d646b727980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7"
               "fe050c131a21282f363d444b525960676e757c838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01080f161d242b323940474e555c63"
               "6a71787f868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b121920272e353c434a51585f666d747b828990979ea5acb3bac1c8cf"
               "d6dde4ebf202f9ff070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a11181f262d34"
               "3b424950575e656c737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff060d141b222930373e454c535a61686f767d848b9299a0"
               "a7aeb5bcc3cad1d8dfe6edf4fb020910171e252c333a41484f565d646b727980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe050c"
               "131a21282f363d444b525960676e757c838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01080f161d242b323940474e555c636a7178"
               "7f868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b121920272e353c434a51585f666d747b828990979ea5acb3bac1c8cfd6dde4"
               "ebf202f9ff070e151c232a31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a11181f262d343b4249"
               "50575e656c737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff060d141b222930373e454c535a61686f767d848b9299a0a7aeb5"
               "bcc3cad1d8dfe6edf4fb020910171e252c333a41484f565d646b727980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe050c131a21"
               "282f363d444b525960676e757c838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01080f161d242b323940474e555c636a71787f868d"
               "949ba2a9b0b7bec5ccd3dae1e8eff6fd040b121920272e353c434a51585f666d747b828990979ea5acb3bac1c8cfd6dde4ebf202"
               "f914070e151c232a31383f464d545b6269e347bdb500")),
    "STAGE": (P.Stage(78, P.STAGE_NORM, 0, 3, 2, (1, 0, 3, 2), 99, 0, (10, 20, 300, 280),
                      bytes(i * 20 for i in range(6)), seq=3),
              "04028403024e010102030203020202010101020302020263020a0214052c0118010a14283c5064c236919400"),
    "RESULT": (P.Result(79, 7, P.MODEL_FLOAT, 0, P.STATUS_UNSURE, 0.875, tuple(i * 0.5 - 2.0 for i in range(10)),
                        1000, 2000, 3000, 4000, 1525, P.POLARITY_LIGHT_ON_DARK, 62, seq=4),
               "04028504024f010102070102020103603f010102c00103c0bf010380bf010102bf010101010101023f0103803f0103c03f"
               "0101024001052040e8030103d0070103b80b0103a00f0103f5050103013e01052fa5458600"),
    "STATS": (P.Stats(*range(1, 16), P.CAM_MODE_BINNED, seq=5),
              "04028605020101010202010102030101020401010205010102060101020701010208010102090101020a0101020b010102"
              "0c0101020d0101020e0101020f01010201010105b65675dd00"),
    "LOG": (P.Log(P.LOG_WARN, "camera: VSYNC timeout, retrying", seq=6),
            "04028706250263616d6572613a205653594e432074696d656f75742c207265747279696e67a3255f7700"),
    "ERROR": (P.Error(P.ERR_LENGTH, P.Ping.TYPE, 513, "PING payload", seq=7),
              "0402880702051401010250494e47207061796c6f6164fc491a2400"),
    "PONG": (P.Pong(0x12345678, 42, seq=8), "0402890806785634122a010105b58b61fd00"),
    "ACK": (P.Ack(P.SetStream.TYPE, 65535, seq=9), "04028a090804ffffbb21e70100"),
    "PARAMS": (P.Params(bytes(range(1, 37)), seq=10),
               "04028b0a290102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232461bd623100"),
    "STREAM": (P.Stream(0x2B, 3, 1, 64, 20, seq=11), "04028c0b022b0403014002140529aea7b800"),
    "CAMERA": (P.Camera(P.CAM_MIRROR | P.CAM_AUTO_EXPOSURE, 2, 300, 512, P.CAM_MODE_FULL, seq=65535),
               "09028dffff05022c01030202056bbe502000"),
    "CANDIDATES": (P.Candidates(80, P.FLAG_INJECTED, chosen=1, no_digit=P.ND_NONE, n_components=5, work_w=64,
                                work_h=48, candidates=[(2, 3, 6, 6, P.CAND_SMALL, 10, 30),
                                                       (20, 10, 20, 30, P.CAND_CHOSEN, 255, 900)], seq=12),
                   "04028e0c0250010104020201040540300802030606030a1e05140a141e08ff84036d6b63e600"),
    "BLOB_STATUS": (P.BlobStatus(1, P.BLOB_UP_OFFSET, 7, 1, 4096, 322676, 7, 520192, b"mlp-test".ljust(24, b"\0"),
                                 bytes(range(32)), seq=13),
                    "0402900d05010407010210010474ec04020701010103f007096d6c702d7465737401010101010101010101010101"
                    "010101240102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f5978eba500"),
}
def test_golden_vectors_follow_the_documented_layouts():
    """Spot checks of the golden bytes against docs/protocol.md's offsets, read straight from the
    un-stuffed packet (COBS undone by the known-answer-tested decoder, CRC by zlib)."""
    def payload(name: str) -> bytes:
        pkt = P.cobs_decode(bytes.fromhex(DEVICE_GOLDEN[name][1])[:-1])
        assert pkt[0] == 2 and struct.unpack_from("<I", pkt, len(pkt) - 4)[0] == zlib.crc32(pkt[:-4])
        return pkt[4:-4]
    r = payload("RESULT")
    assert len(r) == 76 and r[4] == 7 and r[7] == 2 and r[72] == 1 and r[73] == 62 and r[74:76] == b"\0\0"
    h = payload("HELLO")
    assert h[0] == 2 and h[16:32] == b"0123456789abcdef" and h[32] == 2 and h[33] == 2 and h[36] == 8
    s = payload("STATS")
    assert len(s) == 64 and struct.unpack("<16I", s) == tuple(range(1, 16)) + (1,)
    c = payload("CANDIDATES")
    assert c[5] == 2 and c[6] == 1 and c[8] == 5 and (c[9], c[10]) == (64, 48) and len(c) == 12 + 2 * 8
    assert c[12:20] == bytes([2, 3, 6, 6, 3, 10, 30, 0]) and struct.unpack_from("<H", c, 26)[0] == 900
    b = payload("BLOB_STATUS")  # docs/protocol.md, BLOB_STATUS
    assert len(b) == 76 and b[:4] == bytes([1, 4, 7, 1]) and struct.unpack_from("<4I", b, 4) == (4096, 322676, 7, 520192)
    assert b[20:29] == b"mlp-test\0" and b[44:76] == bytes(range(32))
    cam = payload("CAMERA")
    assert cam[6] == P.CAM_MODE_FULL and cam[7] == 0


def test_c_encodes_the_golden_bytes_and_python_too(vectors):
    out = subprocess.run([str(vectors), "emit"], capture_output=True, text=True, check=True).stdout
    c_wire = dict(line.split() for line in out.splitlines())
    assert set(c_wire) == set(DEVICE_GOLDEN)
    for name, (msg, golden) in DEVICE_GOLDEN.items():
        assert c_wire[name] == golden, f"{name}: C bytes differ from the golden vector"
        assert P.encode(msg).hex() == golden, f"{name}: Python bytes differ from the golden vector"
        got = P.Decoder().feed(bytes.fromhex(golden))
        assert got == [msg] and got[0].seq == msg.seq, name
    # device->host types cover every device->host code in the Python table
    assert {m.TYPE for m, _ in DEVICE_GOLDEN.values()} == {t for t in P.MESSAGE_TYPES if t >= 0x80}


# Host -> device: literal golden commands, parsed by the C.
COMMAND_GOLDEN: list[tuple[P.Message, str, str]] = [
    (P.Ping(P.PING_WANT_HELLO, 0x12345678, seq=0), "030201010a0178563412c84d1cb700",
     "type=1 seq=0 len=5 flags=1 nonce=305419896 rc=0"),
    (P.SetParams(bytes(range(1, 33)), seq=1),
     "04020201250102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20d1dc056500",
     f"type=2 seq=1 len=32 crc={zlib.crc32(bytes(range(1, 33)))} rc=0"),
    (P.GetParams(seq=2), "04020302054ccb3dbb00", "type=3 seq=2 len=0 crc=0 rc=0"),
    (P.SetStream(0x3F, 2, 1, 128, 5, seq=3), "04020403023f04020180020505651b6b7000",
     "type=4 seq=3 len=8 mask=63 decimation=2 flags=1 max_side=128 stats_every=5 rc=0"),
    (P.SetCamera(P.CAM_FLIP, 3, 1000, 1023, P.CAM_MODE_BINNED, seq=4), "04020504080203e803ff030105fe2370e400",
     "type=5 seq=4 len=8 flags=2 analog_gain=3 exposure=1000 digital_gain_q8=1023 mode=1 rc=0"),
    (P.Inject(3, 2, bytes([0, 1, 2, 253, 254, 255]), seq=5), "0402060502030202010a0102fdfeffdf8bc92c00",
     "type=6 seq=5 len=10 width=3 height=2 sum=765 rc=0"),
]


def test_python_encodes_the_golden_commands_and_c_parses_them(vectors):
    for msg, golden, _ in COMMAND_GOLDEN:
        assert P.encode(msg).hex() == golden, msg
        assert P.decode_all(bytes.fromhex(golden)) == [msg]
    hex_lines = "".join(golden + "\n" for _, golden, _ in COMMAND_GOLDEN)
    out = subprocess.run([str(vectors), "parse"], input=hex_lines, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [line for _, _, line in COMMAND_GOLDEN]


def test_python_commands_parse_in_c(vectors):
    pix = os.urandom(35 * 21)
    cmds = [
        P.Inject(35, 21, pix, seq=4),
        P.SetStream(0x3F, 0, 0, 81, 10, seq=6),          # decimation 0: C rejects (rc=-6)
        P.SetCamera(P.CAM_FLIP, 0, 100, 256, 3, seq=8),  # mode 3 does not exist (rc=-6)
        P.SetCamera(P.CAM_FLIP, 0, 100, 256, 0, 1, seq=9),  # reserved byte not 0 (rc=-6)
    ]
    hex_lines = "\n".join(P.encode(c).hex() for c in cmds) + "\n"
    # plus one corrupted copy: C must report a CRC error, not parse it
    packet = bytearray(P.cobs_decode(P.encode(P.Ping(0, 1, seq=7))[:-1]))
    packet[5] ^= 0x10  # a payload bit; the CRC stays the old one
    hex_lines += (P.cobs_encode(bytes(packet)) + b"\0").hex() + "\n"
    out = subprocess.run([str(vectors), "parse"], input=hex_lines, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        f"type=6 seq=4 len={4 + len(pix)} width=35 height=21 sum={sum(pix)} rc=0",
        "type=4 seq=6 len=8 rc=-6",
        "type=5 seq=8 len=8 rc=-6",
        "type=5 seq=9 len=8 rc=-6",
        f"error={P.ERR_CRC} type=1 seq=7",
    ]
