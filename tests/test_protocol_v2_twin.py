"""Protocol v2 end to end: the host twin behind a real pseudo-terminal, fed camera frames of MNIST
test digits and a blank page, answers with what docs/protocol.md version 2 promises: HELLO's
camera mode and parameters version, RESULT's status / polarity / min_score_pct by the documented
rule, CANDIDATES before the STAGE images of the same frame, STATS' camera counters, SET_CAMERA's
mode refused by a camera with one readout."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import read_until

from pico4ml.common import protocol as P
from pico4ml.common.pp_params import PreprocessParams


serial = pytest.importorskip("serial")
pytestmark = pytest.mark.hostc

N_DIGITS = 6




@pytest.fixture(scope="module")
def frames(mnist):
    from pico4ml.train import camera_sim
    _, _, x_test, y_test = mnist
    rng = np.random.default_rng(11)
    digits = [camera_sim.render_handwritten(x_test[i], rng, size=162) for i in range(N_DIGITS)]
    blank = np.full((162, 162), 190, np.uint8)  # an empty sheet: nothing to read
    return digits + [blank], list(y_test[:N_DIGITS]) + [None]


@pytest.fixture(scope="module")
def twin(frames):
    from pico4ml.host_twin.twin import start_twin
    handle = start_twin(frames=frames[0], port="pty", fps=20, hello_ms=300)
    yield handle
    assert handle.alive, f"twin died: {list(handle.stderr_lines)}"
    assert handle.stop() == 0


def test_v2_messages_from_the_twin(twin, frames):
    _, labels = frames
    default_min = PreprocessParams().min_score_pct
    with serial.Serial(twin.path, timeout=0.05) as port:
        dec, enc = P.Decoder(), P.Encoder()
        port.write(enc.encode(P.SetStream(P.STREAM_STAGE | P.STREAM_RESULT | P.STREAM_STATS, stats_every=1))
                   + enc.encode(P.Ping(P.PING_WANT_HELLO, 5)))
        msgs = read_until(port, dec, lambda ms: sum(isinstance(m, P.Result) for m in ms) >= 3 * len(labels))
    hello = next(m for m in msgs if isinstance(m, P.Hello))
    assert (hello.protocol_version, hello.params_size, hello.params_version) == (2, 36, 3)
    assert hello.camera_mode == P.CAM_MODE_NONE and hello.model_name  # the twin's camera has no readout modes

    results = [m for m in msgs if isinstance(m, P.Result)]
    cands = {m.frame_id: m for m in msgs if isinstance(m, P.Candidates)}
    order = [(type(m), getattr(m, "frame_id", None)) for m in msgs]
    seen_blank = seen_digit = 0
    for r in results:
        c = cands.get(r.frame_id)
        if c is None:  # the stream started after this frame's CANDIDATES
            continue
        # CANDIDATES precedes the frame's STAGE images
        first_stage = next((i for i, (t, f) in enumerate(order) if t is P.Stage and f == r.frame_id), None)
        assert first_stage is None or order.index((P.Candidates, r.frame_id)) < first_stage
        assert r.min_score_pct == default_min
        # the status rule of docs/protocol.md (classifier_set_status)
        if c.no_digit != P.ND_NONE:
            assert r.status == P.STATUS_NO_DIGIT and c.chosen == -1
        else:
            assert r.status == (P.STATUS_UNSURE if r.score * 100 < r.min_score_pct else P.STATUS_DIGIT)
            assert 0 <= c.chosen < len(c.candidates) and c.candidates[c.chosen].reason == P.CAND_CHOSEN
            assert all(cd.reason != P.CAND_CHOSEN for i, cd in enumerate(c.candidates) if i != c.chosen)
            assert r.polarity == P.POLARITY_DARK_ON_LIGHT  # ink on paper
            for cd in c.candidates:
                assert cd.x + cd.w <= c.work_w and cd.y + cd.h <= c.work_h
        label = labels[(r.frame_id - 1) % len(labels)]  # the twin loops over its frames, ids from 1
        if label is None:
            seen_blank += 1
            assert r.status == P.STATUS_NO_DIGIT  # an empty sheet is "no digit", never a confident digit
        elif r.status == P.STATUS_DIGIT:
            seen_digit += 1
    assert seen_blank >= 1 and seen_digit >= 1

    stats = [m for m in msgs if isinstance(m, P.Stats)]
    assert len(stats) >= 2 and stats[-1].cam_frames > stats[0].cam_frames >= 1
    assert stats[-1].cam_mode == P.CAM_MODE_NONE and stats[-1].cam_timeouts == 0


def test_twin_refuses_a_readout_mode_and_keeps_its_options(twin):
    with serial.Serial(twin.path, timeout=0.05) as port:
        dec, enc = P.Decoder(), P.Encoder()
        full = P.SetCamera(P.CAM_AUTO_EXPOSURE | P.CAM_MIRROR, mode=P.CAM_MODE_FULL)
        keep = P.SetCamera(P.CAM_AUTO_EXPOSURE | P.CAM_FLIP)
        port.write(enc.encode(full) + enc.encode(keep) + enc.encode(P.Ping(0, 77)))
        msgs = read_until(port, dec, lambda ms: any(isinstance(m, P.Pong) and m.nonce == 77 for m in ms))
    err = next(m for m in msgs if isinstance(m, P.Error) and m.cmd_seq == full.seq)
    assert err.code == P.ERR_CAMERA and err.cmd_type == P.SetCamera.TYPE
    ack = next(m for m in msgs if isinstance(m, P.Ack) and m.cmd_seq == keep.seq)
    assert ack.cmd_type == P.SetCamera.TYPE
    cam = next(m for m in msgs if isinstance(m, P.Camera))
    assert cam.flags == P.CAM_AUTO_EXPOSURE | P.CAM_FLIP and cam.mode == P.CAM_MODE_NONE


def test_monitor_prints_the_status(twin, frames):
    """pico4ml-monitor --json carries RESULT v2's status: the blank page is 'no digit'."""
    import io
    import json

    from pico4ml.host_gui import monitor
    _, labels = frames
    out = io.StringIO()
    assert monitor.main(["--port", twin.path, "--json", "--count", str(2 * len(labels))], out=out) == 0
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(answers) == 2 * len(labels)
    assert {a["status"] for a in answers} <= {"digit", "no digit", "unsure"}
    blank = [a for a in answers if labels[(a["frame_id"] - 1) % len(labels)] is None]
    assert blank and all(a["status"] == "no digit" for a in blank)
    assert all(a["polarity"] == "dark on light" for a in answers if a["status"] != "no digit")
