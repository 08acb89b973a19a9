"""The unmodified firmware image on the emulated Pico4ML (pico4ml.emulator): boot, camera
frames through PIO + DMA, preprocessing and net() on the board, the LCD and USB.

Slow (the board runs ~10x slower than real time): one board boots once for the module and
the tests read what it did. Needs the Pico SDK + arm toolchain (skipped with the name of what
is missing) and Cython + gcc for the emulator's inner loop.
"""
from __future__ import annotations

import numpy as np
import pytest

from pico4ml.common import protocol as P

from emulated import digit_scene, new_board, require_firmware

pytestmark = [pytest.mark.slow, pytest.mark.sdk]

WALL_BUDGET_S = 240


@pytest.fixture(scope="module")
def digit(mnist):
    """An MNIST test digit and its label (the truth the board's answer is held to)."""
    _, _, x_test, y_test = mnist
    return np.asarray(x_test[0]), int(y_test[0])


@pytest.fixture(scope="module")
def run(digit):
    """Boot with the digit in front of the camera, ask for STATS after every frame (SET_STREAM,
    answered while the camera starts), run until a whole FRAME, its RESULT and a STATS are in."""
    fw = require_firmware()
    scene = digit_scene(digit[0])
    board = new_board(fw.elf, scene)
    frames = P.FrameAssembler()
    whole: list[P.Frame] = []
    seen = [0]

    def done(b):
        for _, m in b.messages[seen[0]:]:
            if isinstance(m, P.Frame):
                f = frames.add(m)
                if f is not None:
                    whole.append(f)
        seen[0] = len(b.messages)
        results = {r.frame_id for r in b.of(P.Result)}
        return any(f.frame_id in results for f in whole) and b.of(P.Stats)

    assert board.run_until(lambda b: b.first(P.Hello), emulated_s=1.0, wall_s=WALL_BUDGET_S), board.state()
    board.send(P.SetStream(stats_every=1))
    board.run_until(done, emulated_s=6.0, wall_s=WALL_BUDGET_S)
    return board, scene, whole


def test_boots_to_hello_with_the_model_it_was_built_with(run, host_model):
    board, _, _ = run
    if host_model is None:
        pytest.skip("no committed model to compare the weights hash with")
    sha = host_model.int8_sha256
    hello = board.first(P.Hello)
    assert hello is not None, f"no HELLO: {board.state()}"
    assert hello.protocol_version == P.PROTOCOL_VERSION
    assert (hello.capture_width, hello.capture_height) == (162, 162)
    assert hello.weights_hash and sha.startswith(hello.weights_hash), "HELLO names other weights than the committed model's"


def test_set_stream_is_answered(run):
    board, _, _ = run
    answers = board.of(P.Stream)
    assert answers and answers[0].stats_every == 1, f"no STREAM answer to SET_STREAM: {board.state()}"


def test_camera_frame_arrives_pixel_exact(run):
    board, scene, whole = run
    assert whole, f"no complete FRAME: {board.state()}"
    f = whole[-1]
    assert (f.width, f.height) == (81, 81)
    got = np.frombuffer(f.pixels, np.uint8).reshape(81, 81)
    expected = scene[::4, ::4]        # 4x4 means of an 8x8-block picture (see digit_scene)
    assert np.array_equal(got, expected), f"{int((got != expected).sum())} pixels differ"


def test_result_is_the_digit_shown(run, digit):
    board, _, whole = run
    ids = {f.frame_id for f in whole}
    results = [r for r in board.of(P.Result) if r.frame_id in ids]
    assert results, f"no RESULT for a whole frame: {board.state()}"
    assert results[-1].argmax == digit[1], f"board says {results[-1].argmax}, the digit is {digit[1]}"
    in28 = [m for m in board.of(P.Input28) if m.frame_id == results[-1].frame_id]
    assert in28 and np.asarray(in28[-1].to_array()).max() > 128, "INPUT28 missing or empty"


def test_stats_count_the_frames(run):
    board, _, _ = run
    stats = board.of(P.Stats)
    assert stats, f"no STATS: {board.state()}"
    assert stats[-1].frames >= 1 and stats[-1].camera_errors == 0


def test_lcd_shows_the_camera_view(run):
    board, scene, _ = run
    import cv2
    lcd = board.lcd.rgb().astype(np.int32)
    assert board.lcd.display_on
    view = lcd[0:80, :, 1]                       # green: 6 bits of the grey level
    expected = cv2.resize(scene, (80, 80), interpolation=cv2.INTER_AREA).astype(np.int32)
    err = np.abs(view - expected)
    assert err.mean() < 6 and np.percentile(err, 95) < 40, f"mean error {err.mean():.1f}"
    # grey is drawn as grey: red, green and blue agree (within RGB565's 5/6 bits)
    assert np.abs(lcd[0:80, :, 0] - lcd[0:80, :, 1]).max() <= 8


def test_result_equals_the_host_twins_for_the_same_frame(run):
    """The board's INPUT28 and RESULT for a camera frame are what the same portable C (core/*.c
    built for the host) computes from the 162x162 the sensor sent: the same 28x28, the same
    logits and argmax."""
    from pico4ml.host_twin.classify import FramePipeline
    board, scene, whole = run
    ids = {f.frame_id for f in whole}
    results = [r for r in board.of(P.Result) if r.frame_id in ids and not r.injected]
    assert results, f"no RESULT for a whole frame: {board.state()}"
    r = results[-1]
    in28 = [m for m in board.of(P.Input28) if m.frame_id == r.frame_id]
    assert in28, f"no INPUT28 for frame {r.frame_id}"
    board_in28 = np.frombuffer(in28[-1].pixels, np.uint8).reshape(28, 28)
    pipe = FramePipeline()
    frame = scene[::2, ::2]      # the binned 162x162 (exact: the scene is drawn in 8x8 blocks)
    twin_in28, pp_status = pipe.preprocess(frame)
    assert np.array_equal(board_in28, twin_in28), f"{int((board_in28 != twin_in28).sum())} INPUT28 pixels differ"
    twin = pipe.classify28(twin_in28, pp_status)
    assert r.argmax == twin.argmax
    assert np.allclose(np.asarray(r.logits), np.asarray(twin.logits[:]), rtol=1e-5, atol=1e-5), \
        (r.logits, list(twin.logits))
    assert abs(r.score - twin.score) < 1e-5


@pytest.fixture(scope="module")
def commands(run, mnist):
    """With the camera running, send PING, SET_PARAMS and INJECT (an MNIST digit on paper) and
    run until each is answered and the camera has sent another frame; the same board as `run`
    (one boot per module)."""
    from pico4ml.common.pp_params import PreprocessParams
    board, _, _ = run
    _, _, x_test, y_test = mnist
    digit = np.asarray(x_test[1])
    image = np.ascontiguousarray(digit_scene(digit)[::3, ::3])     # dark ink on paper, 108x108
    params = PreprocessParams(min_score_pct=PreprocessParams().min_score_pct + 1)
    frames_before, n_before = board.cam.frames, len(board.messages)
    ping, setp, inject = P.Ping(nonce=0xC0FFEE), P.SetParams.of(params), P.Inject(108, 108, image.tobytes())
    for m in (ping, setp, inject):
        board.send(m)
    seqs = (ping.seq, setp.seq, inject.seq)

    def answered(b):
        new = [m for _, m in b.messages[n_before:]]
        return (any(isinstance(m, P.Pong) and m.nonce == 0xC0FFEE for m in new)
                and any(type(m) is P.Params for m in new)
                and any(isinstance(m, P.Result) and m.injected for m in new)
                and b.cam.frames > frames_before and any(isinstance(m, P.Frame) for m in new))
    board.run_until(answered, emulated_s=3.0, wall_s=WALL_BUDGET_S)
    new = [m for _, m in board.messages[n_before:]]
    return board, new, frames_before, params, image, int(y_test[1]), seqs


def test_ping_is_answered_while_the_camera_runs(commands):
    board, new, frames_before, *_ = commands
    pongs = [m for m in new if isinstance(m, P.Pong) and m.nonce == 0xC0FFEE]
    assert pongs, f"no PONG: {board.state()}"
    assert board.cam.frames > frames_before, "the camera stopped while the commands were answered"
    assert any(isinstance(m, P.Frame) for m in new), "no camera FRAME streamed while the commands were answered"


def test_set_params_is_answered_with_the_new_parameters(commands):
    board, new, _, params, *_ = commands
    answers = [m for m in new if type(m) is P.Params]
    assert answers, f"no PARAMS answer to SET_PARAMS: {board.state()}"
    assert answers[-1].data == params.to_bytes(), "the board reports other parameters than were set"
    errors = [m for m in new if isinstance(m, P.Error)]
    assert not errors, errors


def test_inject_is_answered_with_the_host_twins_result(commands):
    from pico4ml.host_twin.classify import FramePipeline
    board, new, _, params, image, label, seqs = commands
    injected = [m for m in new if isinstance(m, P.Result) and m.injected]
    assert injected, f"no RESULT for INJECT: {board.state()}"
    r = injected[-1]
    assert r.frame_id == seqs[2], "an injected RESULT carries the INJECT's sequence number"
    twin = FramePipeline().classify(image, params)
    assert (r.argmax, r.status) == (twin.digit, twin.status)
    assert abs(r.score - twin.score) < 1e-5
    assert r.argmax == label, f"board says {r.argmax} for an injected {label}"
