"""End to end: the host twin behind a real pseudo-terminal (and TCP, stdio), fed MNIST test
digits rendered as camera frames, streams what the exported model predicts on the 28x28s."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from pico4ml.common import protocol as P

serial = pytest.importorskip("serial")
pytestmark = pytest.mark.hostc

N_FRAMES = 16


def read_until(port, dec: P.Decoder, done, timeout: float = 20.0) -> list[P.Message]:
    """Messages read from `port` until done(messages) is true (or the timeout: then fail)."""
    msgs: list[P.Message] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        msgs += dec.feed(port.read(65536))
        if done(msgs):
            return msgs
    pytest.fail(f"timed out; got {len(msgs)} messages, decoder {dec.stats}")


@pytest.fixture(scope="module")
def camera_frames(mnist):
    from pico4ml.train import camera_sim
    _, _, x_test, y_test = mnist
    rng = np.random.default_rng(7)
    frames = np.stack([camera_sim.render_handwritten(x_test[i], rng, size=162) for i in range(N_FRAMES)])
    return frames, y_test[:N_FRAMES]


@pytest.fixture(scope="module")
def host_model():
    """The exported model: the checkpoint the C was exported from, run with numpy (no C involved)."""
    from pico4ml.train import models
    from pico4ml.common.paths import CORE_DIR, DEFAULT_CHECKPOINT
    state, meta = models.load_state(DEFAULT_CHECKPOINT)
    header = (CORE_DIR / "model" / "model_float.h").read_text()
    if meta.get("weights_sha256", "") not in header:
        pytest.skip("core/model/model_float.c was not exported from models/ default checkpoint (re-export)")
    return state, meta["weights_sha256"]


@pytest.fixture(scope="module")
def twin(camera_frames):
    from pico4ml.host_twin.twin import start_twin
    # the float net(), checked against the float checkpoint; the default int8 one has its own test below
    handle = start_twin(frames=list(camera_frames[0]), port="pty", fps=30, hello_ms=500, model="float")
    yield handle
    assert handle.alive, f"twin died: {list(handle.stderr_lines)}"
    assert handle.stop() == 0


def test_twin_streams_the_exported_models_predictions(twin, camera_frames, host_model):
    from pico4ml.train import models
    from pico4ml.train.preprocess import preprocess
    frames, labels = camera_frames
    state, sha = host_model
    with serial.Serial(twin.path, timeout=0.05) as port:
        dec = P.Decoder()

        def have_all(msgs):
            inputs = {m.frame_id for m in msgs if isinstance(m, P.Input28)}
            covered = {(m.frame_id - 1) % N_FRAMES for m in msgs if isinstance(m, P.Result) and m.frame_id in inputs}
            return len(covered) == N_FRAMES and any(isinstance(m, P.Hello) for m in msgs)
        msgs = read_until(port, dec, have_all, timeout=30)
    # opening the port mid-stream cuts at most the first packet
    assert dec.stats.crc_errors == 0 and dec.stats.framing_errors <= 1 and dec.stats.errors <= 1
    hello = next(m for m in msgs if isinstance(m, P.Hello))
    assert hello.protocol_version == P.PROTOCOL_VERSION and hello.capture_width == 162
    assert sha.startswith(hello.weights_hash) and hello.model_name
    inputs = {m.frame_id: m for m in msgs if isinstance(m, P.Input28)}
    results = [m for m in msgs if isinstance(m, P.Result) and m.frame_id in inputs]
    assert len({(r.frame_id - 1) % N_FRAMES for r in results}) == N_FRAMES
    correct = 0
    for r in results:
        idx = (r.frame_id - 1) % N_FRAMES
        in28 = inputs[r.frame_id].to_array()
        # the device's 28x28 is the numpy twin's on the same frame, bit for bit
        assert np.array_equal(in28, preprocess(frames[idx])), f"frame {r.frame_id}"
        host_logits = models.numpy_forward(state, in28[None])[0]
        assert r.argmax == int(np.argmax(host_logits))
        np.testing.assert_allclose(r.logits, host_logits, atol=1e-3)
        assert abs(r.score - r.scores()[r.argmax]) < 1e-5
        assert r.t_net_us > 0 and r.t_preprocess_us > 0
        correct += r.argmax == labels[idx]
    print(f"twin e2e: {len(results)} results, {correct}/{len(results)} match the MNIST labels")
    frames_msgs = [m for m in msgs if isinstance(m, P.Frame)]
    assert frames_msgs and all(f.width == 81 and f.scale == 2 for f in frames_msgs)  # default downscale
    assert max(r.fps for r in results) > 5


def test_inject_round_trip(twin, camera_frames, host_model):
    from pico4ml.train import models
    from pico4ml.train.preprocess import preprocess
    frame = camera_frames[0][3]
    enc = P.Encoder()
    enc.seq = 4242
    with serial.Serial(twin.path, timeout=0.05) as port:
        port.write(enc.encode(P.Inject.from_array(frame)))
        dec = P.Decoder()
        msgs = read_until(port, dec, lambda ms: any(isinstance(m, P.Result) and m.injected for m in ms))
    res = next(m for m in msgs if isinstance(m, P.Result) and m.injected)
    inp = next(m for m in msgs if isinstance(m, P.Input28) and m.injected)
    assert res.frame_id == inp.frame_id == 4242  # answers carry the INJECT's seq
    assert np.array_equal(inp.to_array(), preprocess(frame))
    assert res.argmax == int(np.argmax(models.numpy_forward(host_model[0], inp.to_array()[None])[0]))


def test_garbage_gets_errors_and_streaming_goes_on(twin):
    rng = np.random.default_rng(3)
    with serial.Serial(twin.path, timeout=0.05) as port:
        dec = P.Decoder()
        read_until(port, dec, lambda ms: any(isinstance(m, P.Result) for m in ms))
        junk = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes() + b"\0"
        port.write(junk)
        msgs = read_until(port, dec, lambda ms: any(isinstance(m, P.Error) for m in ms))
        last = max(m.frame_id for m in msgs if isinstance(m, P.Result))
        # a command the twin cannot do gets its own ERROR, then ping still works
        enc = P.Encoder()
        port.write(enc.encode(P.SetCamera()) + enc.encode(P.Ping(0, 99)))
        more = read_until(port, dec, lambda ms: any(isinstance(m, P.Pong) for m in ms)
                          and any(isinstance(m, P.Result) and m.frame_id > last + 2 for m in ms))
    errors = [m for m in msgs + more if isinstance(m, P.Error)]
    assert any(e.code in (P.ERR_FRAMING, P.ERR_CRC, P.ERR_VERSION) for e in errors)
    assert any(e.code == P.ERR_UNSUPPORTED and e.cmd_type == P.SetCamera.TYPE for e in errors)
    assert next(m for m in more if isinstance(m, P.Pong)).nonce == 99
    assert dec.stats.errors == 0  # the twin's own stream stayed clean


def test_host_that_stops_reading_causes_drops_not_a_stall(twin):
    with serial.Serial(twin.path, timeout=0.05) as port:
        enc = P.Encoder()
        port.write(enc.encode(P.SetStream(P.STREAM_ALL, 1, P.STREAM_FLAG_FULLRES, 81, 1)))
        time.sleep(3.0)  # not reading: full frames pile up against the twin's 64 KiB queue
        dec = P.Decoder()
        msgs: list[P.Message] = []
        end = time.monotonic() + 30
        pong_at = None
        while pong_at is None or sum(isinstance(m, P.Stats) for m in msgs[pong_at:]) < 2:
            assert time.monotonic() < end, f"no fresh STATS after PING; decoder {dec.stats}"
            if pong_at is None:  # a PONG can be dropped too when the queue is full: ask again
                port.write(enc.encode(P.Ping(0, 77)))
            t = time.monotonic()
            while time.monotonic() - t < 0.3:
                msgs += dec.feed(port.read(65536))
            if pong_at is None:
                # STATS after our PING was answered are fresh, not stale queue content
                pong_at = next((i for i, m in enumerate(msgs) if isinstance(m, P.Pong) and m.nonce == 77), None)
        # back to the default stream for the other tests (the answer may be dropped: ask until seen)
        default = P.SetStream()
        for _ in range(20):
            port.write(enc.encode(default))
            got: list[P.Message] = []
            t = time.monotonic()
            while time.monotonic() - t < 0.5 and not any(isinstance(m, P.Stream) for m in got):
                got += dec.feed(port.read(65536))
            if any(isinstance(m, P.Stream) and m.mask == default.mask and not m.full_res for m in got):
                break
        else:
            pytest.fail("the twin never confirmed the default stream")
    stats = [m for m in msgs if isinstance(m, P.Stats)]
    assert stats[-1].msgs_dropped > 0
    assert stats[-1].frames > stats[0].frames  # frames kept coming
    assert dec.stats.lost > 0  # the host sees the gap in sequence numbers too


def test_full_resolution_frames_arrive_whole():
    """FULLRES at 324x324 is 105 KB a frame, more than the twin's 64 KiB queue: the bands that do
    not fit wait for the queue to drain, so whole frames arrive, equal to the source frames."""
    from pico4ml.host_twin.twin import start_twin
    rng = np.random.default_rng(11)
    frames = [rng.integers(0, 256, (324, 324), dtype=np.uint8) for _ in range(4)]  # worst case for COBS
    with start_twin(frames=frames, port="pty", fps=10, hello_ms=0) as tw, \
            serial.Serial(tw.path, timeout=0.05) as port:
        port.write(P.encode(P.SetStream(flags=P.STREAM_FLAG_FULLRES)))
        dec, asm = P.Decoder(), P.FrameAssembler()
        whole: list[P.Frame] = []
        msgs: list[P.Message] = []
        end = time.monotonic() + 20
        while len(whole) < 8 and time.monotonic() < end:
            for m in dec.feed(port.read(65536)):
                msgs.append(m)
                f = asm.add(m) if isinstance(m, P.Frame) else None
                if f is not None and f.flags & P.FLAG_FULLRES:
                    whole.append(f)
    assert len(whole) >= 8, f"{len(whole)} whole 324x324 frames in 20 s; decoder {dec.stats}"
    for f in whole:
        assert (f.width, f.height, f.scale) == (324, 324, 1)
        assert np.array_equal(np.frombuffer(f.pixels, np.uint8).reshape(324, 324), frames[(f.frame_id - 1) % 4])
    assert {(f.frame_id - 1) % 4 for f in whole} == {0, 1, 2, 3}
    results = {m.frame_id for m in msgs if isinstance(m, P.Result)}
    assert {f.frame_id for f in whole} <= results  # each frame's RESULT came too
    assert dec.stats.crc_errors == 0 and dec.stats.errors <= 1 and dec.stats.lost == 0


def test_host_closes_and_reopens_the_port(twin):
    for _ in range(3):
        with serial.Serial(twin.path, timeout=0.05) as port:
            dec = P.Decoder()
            msgs = read_until(port, dec, lambda ms: any(isinstance(m, P.Hello) for m in ms)
                              and any(isinstance(m, P.Result) for m in ms), timeout=10)
            assert msgs
    assert twin.alive


def test_twin_over_tcp_and_stdio():
    from pico4ml.host_twin.twin import start_twin
    with start_twin(port=0, fps=20, size=(96, 96)) as tw:
        assert tw.url.startswith("socket://127.0.0.1:")
        for _ in range(2):  # a second client after the first one left
            port = serial.serial_for_url(tw.url, timeout=0.05)
            try:
                dec = P.Decoder()
                msgs = read_until(port, dec, lambda ms: any(isinstance(m, P.Hello) for m in ms)
                                  and any(isinstance(m, P.Result) for m in ms), timeout=10)
            finally:
                port.close()
            assert next(m for m in msgs if isinstance(m, P.Hello)).capture_width == 96
    with start_twin(port="stdio", fps=50, count=5) as tw:
        os.set_blocking(tw.proc.stdout.fileno(), False)
        tw.proc.stdin.write(P.encode(P.Ping(0, 5), seq=0))
        tw.proc.stdin.flush()
        dec = P.Decoder()
        msgs: list[P.Message] = []
        end = time.monotonic() + 10
        while time.monotonic() < end and not (any(isinstance(m, P.Pong) for m in msgs)
                                              and sum(isinstance(m, P.Result) for m in msgs) == 5):
            msgs += dec.feed(tw.proc.stdout.read() or b"")
            time.sleep(0.02)
        assert any(isinstance(m, P.Pong) and m.nonce == 5 for m in msgs)
        assert sum(isinstance(m, P.Result) for m in msgs) == 5  # --count 5


def test_twin_frame_sources_and_bad_files(tmp_path):
    """PNG frames are converted, a directory is looped, unreadable files are skipped with a reason."""
    import cv2

    from pico4ml.host_twin.twin import start_twin
    img = np.full((60, 80), 200, np.uint8)
    cv2.line(img, (40, 10), (40, 50), 30, 5)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    (tmp_path / "b.pgm").write_bytes(b"P5\n80 60\n255\n" + img.tobytes())
    (tmp_path / "broken.pgm").write_bytes(b"P5\n80 60\n255\n" + bytes(10))  # truncated
    with start_twin(frames=tmp_path, port=0, fps=40, hello_ms=0) as tw:
        port = serial.serial_for_url(tw.url, timeout=0.05)
        try:
            # pyserial's open() discards what already arrived (the HELLO sent on connect): ask for one
            port.write(P.encode(P.Ping(P.PING_WANT_HELLO, 1)))
            msgs = read_until(port, P.Decoder(), lambda ms: sum(isinstance(m, P.Result) for m in ms) >= 4
                              and any(isinstance(m, P.Hello) for m in ms))
        finally:
            port.close()
        assert next(m for m in msgs if isinstance(m, P.Hello)).capture_width == 80
        assert {m.argmax for m in msgs if isinstance(m, P.Result)} == {1}
        time.sleep(0.2)
        assert any("broken.pgm" in line and "truncated" in line for line in tw.stderr_lines)
    # nothing usable: a clear error, no twin
    (tmp_path / "a.png").unlink()
    (tmp_path / "b.pgm").unlink()
    with pytest.raises(RuntimeError, match="could be read"):
        start_twin(frames=[tmp_path / "broken.pgm"])
    with pytest.raises(FileNotFoundError):
        start_twin(frames=tmp_path / "missing.png")


def test_synthetic_digits_are_readable_by_the_firmware_pipeline():
    """The twin's built-in digits (host/synth.c) are real digits: the C pipeline reads them."""
    import ctypes

    from pico4ml.common.cbuild import build
    from pico4ml.host_twin.classify import FramePipeline
    from pico4ml.common.paths import FIRMWARE_DIR
    host = FIRMWARE_DIR / "host"
    lib = ctypes.CDLL(str(build("synth", [host / "synth.c"], shared=True, include_dirs=[host])))
    lib.synth_digit.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                ctypes.POINTER(ctypes.c_uint32)]
    pipe = FramePipeline()
    state = ctypes.c_uint32(12345)
    frames = []
    right = 0
    for i in range(100):
        frame = np.zeros((162, 162), np.uint8)
        lib.synth_digit(frame.ctypes.data, 162, 162, i % 10, ctypes.byref(state))
        frames.append(frame)
        right += pipe.classify(frame)[0] == i % 10
    assert right >= 90, f"{right}/100 synthetic digits read correctly"
    assert len({f.tobytes() for f in frames}) == 100 and 60 < np.mean(frames) < 230  # varied, paper-like


def test_twin_under_sanitizers(tmp_path, monkeypatch):
    """The twin's own C (pty/socket I/O, PGM reader, synthetic digits) under ASan + UBSan, with leak checks."""
    from pico4ml.host_twin.twin import start_twin
    (tmp_path / "f.pgm").write_bytes(b"P2\n# ascii\n4 3\n15\n" + b" ".join(b"%d" % (i % 16) for i in range(12)))
    monkeypatch.setenv("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1")
    monkeypatch.setenv("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    for frames in (None, tmp_path):
        tw = start_twin(frames=frames, port=0, fps=30, size=(120, 90), sanitize=True)
        port = serial.serial_for_url(tw.url, timeout=0.05)
        try:
            enc = P.Encoder()
            port.write(os.urandom(2000) + b"\0" + enc.encode(P.Inject(9, 7, bytes(63)))
                       + enc.encode(P.GetParams()) + enc.encode(P.SetStream(P.STREAM_ALL, 1, 1, 81, 1)))
            read_until(port, P.Decoder(), lambda ms: any(isinstance(m, P.Stage) for m in ms)
                       and any(isinstance(m, P.Result) and m.injected for m in ms), timeout=20)
        finally:
            port.close()
        code = tw.stop()
        time.sleep(0.1)
        report = "\n".join(tw.stderr_lines)
        assert code == 0 and "Sanitizer" not in report and "runtime error" not in report, report


def test_int8_twin_matches_the_int8_reference(camera_frames):
    """The default twin runs the int8 net(), like the firmware: RESULT says so, and its answers
    are the int8 reference's (pico4ml.train.quantize, bit-exact integer logits)."""
    from pico4ml.host_gui.hostcheck import HostModel
    from pico4ml.host_twin.twin import start_twin
    host = HostModel()
    if host.int8 is None:
        pytest.skip("no int8 checkpoint next to the default model (pico4ml-quantize)")
    with start_twin(frames=list(camera_frames[0][:6]), port="pty", fps=30) as tw, \
            serial.Serial(tw.path, timeout=0.05) as port:
        port.write(P.encode(P.Ping(P.PING_WANT_HELLO, 1)))
        msgs = read_until(port, P.Decoder(), lambda ms: any(isinstance(m, P.Hello) for m in ms)
                          and sum(isinstance(m, P.Result) for m in ms) >= 8)
    hello = next(m for m in msgs if isinstance(m, P.Hello))
    assert hello.model_kind == P.MODEL_INT8
    if not host.int8_sha256.startswith(hello.weights_hash):
        pytest.skip("model_int8.c was not exported from the committed int8 checkpoint")
    inputs = {m.frame_id: m.to_array() for m in msgs if isinstance(m, P.Input28)}
    results = [m for m in msgs if isinstance(m, P.Result) and m.frame_id in inputs]
    assert results and all(r.model_kind == P.MODEL_INT8 for r in results)
    for r in results:
        ref = host.logits(inputs[r.frame_id], P.MODEL_INT8)
        assert r.argmax == int(np.argmax(ref))
        np.testing.assert_allclose(r.logits, ref, atol=1e-3)
