"""common/protocol.py: round trips, golden bytes, and fuzzing (the decoder never raises)."""
from __future__ import annotations

import os
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pico4ml.common import protocol as P


def sample_messages() -> list[P.Message]:
    """One message of every type, with non-trivial field values."""
    r = bytes(range(256)) * 4
    return [
        P.Ping(P.PING_WANT_HELLO, 0x12345678),
        P.SetParams(bytes(range(1, 33))),
        P.GetParams(),
        P.SetStream(0x2B, 3, 1, 64, 20),
        P.SetCamera(P.CAM_MIRROR, 2, 300, 512, P.CAM_MODE_BINNED),
        P.Inject(30, 20, r[:600]),
        P.Hello(2, P.MODEL_INT8, 324, 244, 32, 112640, 123456, "0123456789abcdef", P.CAM_MODE_FULL, 2, 0,
                "fw-1.2.3", "mlp784", "gcc 12 / unit"),
        P.Frame(77, 4, 6, 2, 3, 324, 324, 0, P.FLAG_FULLRES, 1, bytes(range(0, 240, 20))),
        P.Input28(0xDEADBEEF, P.FLAG_INJECTED, r[:784]),
        P.Stage(78, P.STAGE_NORM, 0, 3, 2, (1, 0, 3, 2), 99, 0, (10, 20, 300, 280), bytes(6)),
        P.Result(79, 7, P.MODEL_FLOAT, 0, P.STATUS_UNSURE, 0.875, tuple(i * 0.5 - 2.0 for i in range(10)), 1000,
                 2000, 3000, 4000, 1525, P.POLARITY_LIGHT_ON_DARK, 62),
        P.Stats(*range(1, 16), P.CAM_MODE_BINNED),
        P.Log(P.LOG_WARN, "camera: VSYNC timeout, retrying ü"),
        P.Error(P.ERR_LENGTH, P.Ping.TYPE, 513, "PING payload"),
        P.Pong(0x12345678, 42),
        P.Ack(P.SetStream.TYPE, 65535),
        P.Params(bytes(range(1, 33))),
        P.Stream(0x2B, 3, 1, 64, 20),
        P.Camera(P.CAM_MIRROR | P.CAM_AUTO_EXPOSURE, 2, 300, 512, P.CAM_MODE_FULL),
        P.Candidates(80, 0, chosen=1, no_digit=P.ND_NONE, n_components=5, work_w=64, work_h=48,
                     candidates=[(2, 3, 6, 6, P.CAND_SMALL, 10, 30), (20, 10, 20, 30, P.CAND_CHOSEN, 255, 900)]),
        P.BlobBegin(322676, bytes(range(32))),
        P.BlobChunk(4096, r[:1000]),
        P.BlobCommit(0xCBF43926),
        P.BlobQuery(),
        P.BlobStatus(1, P.BLOB_UP_OFFSET, 7, 1, 4096, 322676, 7, 520192, b"mlp".ljust(24, b"\0"), bytes(range(32))),
    ]


def test_every_type_round_trips():
    msgs = sample_messages()
    assert {type(m) for m in msgs} == set(P.MESSAGE_TYPES.values())
    enc = P.Encoder()
    wire = b"".join(enc.encode(m) for m in msgs)
    dec = P.Decoder()
    out = dec.feed(wire)
    assert out == msgs
    assert [m.seq for m in out] == list(range(len(msgs)))
    assert dec.stats.errors == 0 and dec.stats.lost == 0 and dec.stats.packets == len(msgs)


def test_golden_ping_bytes():
    """The example of docs/protocol.md section 5, byte for byte, written out literally."""
    wire = bytes.fromhex("03 02 01 01 0a 01 78 56 34 12 c8 4d 1c b7 00")
    assert P.encode(P.Ping(1, 0x12345678), seq=0) == wire
    assert P.decode_all(wire) == [P.Ping(1, 0x12345678)]
    # the packet under the COBS: version 2, PING, seq 0, flags 1, nonce LE, then zlib's CRC-32 of it
    packet = bytes.fromhex("02 01 00 00 01 78 56 34 12")
    assert wire[-5:-1] == struct.pack("<I", zlib.crc32(packet))
    assert wire.count(0) == 1 and wire[-1] == 0  # seq 0's zeros were stuffed away


# Known answers from the COBS examples of Wikipedia's "Consistent Overhead Byte Stuffing"
# article (which follow Cheshire & Baker 1999): (data, encoding without the 0x00 delimiter).
_RUN_1_FE = bytes(range(1, 0xFF))  # 01 02 .. FE: 254 non-zero bytes
COBS_EXAMPLES = [
    (bytes.fromhex("00"), bytes.fromhex("01 01")),
    (bytes.fromhex("00 00"), bytes.fromhex("01 01 01")),
    (bytes.fromhex("00 11 00"), bytes.fromhex("01 02 11 01")),
    (bytes.fromhex("11 22 00 33"), bytes.fromhex("03 11 22 02 33")),
    (bytes.fromhex("11 22 33 44"), bytes.fromhex("05 11 22 33 44")),
    (bytes.fromhex("11 00 00 00"), bytes.fromhex("02 11 01 01 01")),
    (_RUN_1_FE, b"\xff" + _RUN_1_FE),
    (b"\x00" + _RUN_1_FE, b"\x01\xff" + _RUN_1_FE),
    (bytes(range(1, 0x100)), b"\xff" + _RUN_1_FE + b"\x02\xff"),
    (bytes(range(2, 0x100)) + b"\x00", b"\xff" + bytes(range(2, 0x100)) + b"\x01\x01"),
    (bytes(range(3, 0x100)) + b"\x00\x01", b"\xfe" + bytes(range(3, 0x100)) + b"\x02\x01"),
]


@pytest.mark.parametrize("data,encoded", COBS_EXAMPLES, ids=[f"example{i + 1}" for i in range(len(COBS_EXAMPLES))])
def test_cobs_known_answers(data, encoded):
    assert P.cobs_encode(data) == encoded
    assert P.cobs_decode(encoded) == data


def test_crc32_check_value():
    """The CRC-32/ISO-HDLC check value (the CRC catalogue): CRC of ASCII "123456789"."""
    assert P.crc32(b"123456789") == 0xCBF43926


@pytest.mark.parametrize("n", [0, 1, 253, 254, 255, 508, 1000])
def test_cobs_edges(n):
    for data in (bytes(n), b"\xab" * n, os.urandom(n)):
        enc = P.cobs_encode(data)
        assert 0 not in enc and len(enc) <= P.cobs_max(n) - 1
        assert P.cobs_decode(enc) == data


def test_cobs_decode_rejects_malformed():
    assert P.cobs_decode(b"\x03\x01") is None
    assert P.cobs_decode(b"\x02\x00") is None
    assert P.cobs_decode(b"\x00") is None


def test_resync_after_garbage_within_one_packet():
    msgs = sample_messages()
    good = b"".join(P.encode(m, i) for i, m in enumerate(msgs))
    dec = P.Decoder()
    # garbage with no terminator swallows at most the first packet after it
    out = dec.feed(b"\x17\x99garbage" + good)
    assert out == msgs[1:] or out == msgs
    assert dec.stats.errors >= 1
    # garbage that ends with 0x00 costs nothing
    dec = P.Decoder()
    assert dec.feed(os.urandom(500).replace(b"\0", b"\1") + b"\0" + good) == msgs


def test_seq_gaps_count_lost_messages():
    enc = [P.encode(P.Pong(i, 0), seq=s) for i, s in enumerate([10, 11, 15, 16, 65535, 0, 1])]
    dec = P.Decoder()
    dec.feed(b"".join(enc))
    assert dec.stats.lost == 3  # 12, 13, 14
    # a HELLO with seq 0 is a device restart, not 65000 lost messages
    dec.feed(P.encode(P.Hello(), seq=0))
    dec.feed(P.encode(P.Pong(), seq=1))
    assert dec.stats.lost == 3


def test_errors_are_counted_by_kind():
    dec = P.Decoder()
    good = P.encode(P.Pong(1, 2), seq=0)
    flipped = bytearray(good)
    flipped[3] ^= 0x04
    packet = bytes([1, P.Pong.TYPE, 0, 0]) + bytes(8)  # a version 1 firmware
    wrong_version = P.cobs_encode(packet + struct.pack("<I", zlib.crc32(packet))) + b"\0"
    packet = bytes([P.PROTOCOL_VERSION, 0x55, 0, 0])
    unknown = P.cobs_encode(packet + struct.pack("<I", zlib.crc32(packet))) + b"\0"
    packet = bytes([P.PROTOCOL_VERSION, P.Pong.TYPE, 0, 0, 1])
    short = P.cobs_encode(packet + struct.pack("<I", zlib.crc32(packet))) + b"\0"
    out = dec.feed(bytes(flipped) + wrong_version + unknown + short + b"\x05\x01\0" + good)
    assert out == [P.Pong(1, 2)]
    s = dec.stats
    assert (s.crc_errors, s.version_errors, s.unknown_types, s.length_errors, s.framing_errors) == (1, 1, 1, 1, 1)


def test_overlong_packet_is_skipped():
    dec = P.Decoder(max_encoded=1000)
    good = P.encode(P.Pong(7, 8), seq=3)
    out = dec.feed(b"\x01" * 5000 + b"\0" + good)
    assert out == [P.Pong(7, 8)] and dec.stats.overflows == 1


def test_full_frame_fits_and_too_big_raises_on_encode():
    frame = P.Frame(1, 324, 324, 0, 324, 324, 324, 0, P.FLAG_FULLRES, 1, os.urandom(324 * 324))
    assert P.decode_all(P.encode(frame)) == [frame]
    with pytest.raises(ValueError):
        P.encode(P.Inject(400, 400, bytes(160000)))


def test_frame_assembler_joins_bands_and_drops_incomplete():
    img = os.urandom(10 * 7)
    bands = [P.Frame(5, 10, 7, y, min(3, 7 - y), 40, 28, 0, 0, 4, img[y * 10:(y + min(3, 7 - y)) * 10])
             for y in range(0, 7, 3)]
    asm = P.FrameAssembler()
    assert asm.add(bands[0]) is None and asm.add(bands[1]) is None
    whole = asm.add(bands[2])
    assert whole is not None and whole.complete and whole.pixels == img
    assert asm.add(bands[0]) is None and asm.add(bands[2]) is None  # band 1 lost: no frame
    single = P.Frame(6, 2, 2, 0, 2, 2, 2, 0, 0, 1, b"abcd")
    assert asm.add(single) is single


def test_result_scores_are_softmax():
    r = P.Result(logits=(0.0,) * 9 + (3.0,), argmax=9)
    s = r.scores()
    assert abs(sum(s) - 1) < 1e-9 and s[9] == max(s)


def test_decoder_accepts_any_bytes_like_and_nonsense():
    dec = P.Decoder()
    assert dec.feed(memoryview(P.encode(P.Ack(1, 2)))) == [P.Ack(1, 2)]
    assert dec.feed(bytearray(b"\0\0\0")) == []
    assert dec.feed(None) == []  # type: ignore[arg-type]


# --------------------------------------------------------------------- fuzzing

GOOD = b"".join(P.encode(m, i) for i, m in enumerate(sample_messages()))
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=4096), st.lists(st.integers(1, 700), max_size=20))
def test_random_bytes_never_raise(data, cuts):
    dec = P.Decoder()
    pos = 0
    for c in cuts:  # arbitrary chunking
        dec.feed(data[pos:pos + c])
        pos += c
    dec.feed(data[pos:])
    assert dec.stats.bytes_in == len(data)


@FUZZ
@given(st.integers(0, len(GOOD)), st.binary(max_size=64))
def test_truncation_then_resync(cut, junk):
    """A truncated stream followed by junk and a 0x00 loses nothing after the 0x00."""
    dec = P.Decoder()
    dec.feed(GOOD[:cut] + junk)
    out = dec.feed(b"\0" + GOOD)
    msgs = sample_messages()
    assert out[-len(msgs):] == msgs
    assert len(out) <= len(msgs) + 1  # + the cut packet itself if the cut fell just before its 0x00


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 7)), min_size=1, max_size=8))
def test_bit_flips_lose_only_the_packets_they_hit(flips):
    data = bytearray(GOOD)
    for pos, bit in flips:
        data[pos] ^= 1 << bit
    dec = P.Decoder()
    out = dec.feed(bytes(data) + b"\0" + GOOD)
    msgs = sample_messages()
    assert out[-len(msgs):] == msgs  # the clean copy after the damage always decodes
    damaged = out[:-len(msgs)]
    assert len(damaged) <= len(msgs)
    assert all(m in msgs for m in damaged)  # CRC-32: no corrupted message slips through
    assert dec.stats.errors >= 1 or len(damaged) < len(msgs) or bytes(data) == GOOD


@FUZZ
@given(st.sampled_from(sorted(P.MESSAGE_TYPES)), st.binary(max_size=900), st.integers(0, 65535))
def test_valid_crc_random_payload_never_raises(mtype, payload, seq):
    """Packets that pass framing and CRC but carry nonsense reach every parse() method."""
    packet = struct.pack("<BBH", P.PROTOCOL_VERSION, mtype, seq) + payload
    wire = P.cobs_encode(packet + struct.pack("<I", zlib.crc32(packet))) + b"\0"
    dec = P.Decoder()
    out = dec.feed(wire)
    assert len(out) + dec.stats.length_errors == 1
    if out:  # whatever parsed re-encodes to the same bytes (text: to the same message, invalid UTF-8 replaced)
        again = P.encode(out[0])
        assert again == wire or (isinstance(out[0], (P.Log, P.Error, P.Hello)) and P.decode_all(again) == out)


def test_a_recording_of_another_protocol_version_is_refused_clearly(tmp_path):
    from pico4ml.host_gui.recording import Recorder, RecordingError, load_replay
    old = tmp_path / "v1.p4rec"
    rec = Recorder(old, {"port": "x", "protocol_version": 1})
    rec.write(1.0, P.encode(P.Pong(1, 2)))
    rec.close()
    with pytest.raises(RecordingError, match="protocol version 1; this build reads version 2"):
        load_replay(old)
    new = tmp_path / "v2.p4rec"
    rec = Recorder(new, {"port": "x", "protocol_version": P.PROTOCOL_VERSION})
    rec.write(1.0, P.encode(P.Pong(1, 2)))
    rec.close()
    assert [m for _, m in load_replay(new).events] == [P.Pong(1, 2)]
