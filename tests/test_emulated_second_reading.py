"""The second reading on the real firmware image (app/main.c's core 0 path, core/reader.c):
a shadowed digit that the first reading is not sure of is answered by the second one, with
the flag SECOND_READING, and its INPUT28 and RESULT are what the host pipeline computes.

Slow (one emulated boot); needs the Pico SDK + arm toolchain (skipped with what is missing)."""
from __future__ import annotations

import numpy as np
import pytest

from pico4ml.common import protocol as P

from emulated import new_board, require_firmware

pytestmark = [pytest.mark.slow, pytest.mark.sdk]

WALL_BUDGET_S = 240


@pytest.fixture(scope="module")
def shadowed_frame(mnist):
    """A training-side shadowed frame (neither bench split) whose second reading is the answer,
    right, on the host pipeline; as 162x162, the sensor's 2x2 binning of the scene."""
    from pico4ml.host_twin.classify import FramePipeline
    from pico4ml.train import camera_sim as cs
    from pico4ml.train.camera_set import condition_stream
    from pico4ml.train.digit_sources import DigitSource
    source = DigitSource("train", mnist=(mnist[0][:5000], mnist[1][:5000]))
    pipe = FramePipeline()
    for i in range(80):
        f = cs.render_frame("shadow", condition_stream(29, "shadow", i), source)
        frame = cs.bin2x2(f.image)
        a = pipe.classify(frame)
        if a.second_reading and a.digit == f.label:
            return frame, a
    pytest.fail("no shadowed frame in 80 is read right by its second reading")


def test_the_board_answers_a_shadowed_frame_with_its_second_reading(shadowed_frame):
    from pico4ml.train import preprocess as pp
    frame, want = shadowed_frame
    scene = np.kron(frame, np.ones((2, 2), np.uint8))    # binned 2x2 by the sensor: exactly `frame`
    board = new_board(require_firmware().elf, scene)

    def answered(b):
        return any(not r.injected for r in b.of(P.Result))
    assert board.run_until(lambda b: b.first(P.Hello), emulated_s=1.0, wall_s=WALL_BUDGET_S), board.state()
    board.run_until(answered, emulated_s=4.0, wall_s=WALL_BUDGET_S)
    results = [r for r in board.of(P.Result) if not r.injected]
    assert results, f"no RESULT for a camera frame: {board.state()}"
    r = results[0]
    assert r.second_reading, f"the board answered {r.argmax} ({r.status_name}) from its first reading"
    assert (r.argmax, r.status) == (want.digit, want.status) and abs(r.score - want.score) < 1e-5
    in28 = [m for m in board.of(P.Input28) if m.frame_id == r.frame_id]
    assert in28 and in28[-1].flags & P.FLAG_SECOND_READING
    second = pp.preprocess(frame, pp.PreprocessParams(bg_radius=want.radius))
    assert np.array_equal(in28[-1].to_array(), second), "INPUT28 is not the second reading's 28x28"
