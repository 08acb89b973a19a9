"""The second reading (core/reader.c): a frame that is no confident digit is read again
with bg_radius = retry_radius, and that answer is taken only when it is a digit scored at
retry_score_pct or more (docs/preprocessing.md, "Second reading").

The expected answers come from the numpy twin of the preprocessing at both radii and the
rule as the docs state it, not from the C under test."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pico4ml.train import camera_sim as cs
from pico4ml.train import preprocess as pp
from pico4ml.train.camera_set import condition_stream
from pico4ml.train.digit_sources import DigitSource

pytestmark = pytest.mark.hostc

DIGIT = 0


@pytest.fixture(scope="module")
def shadowed(mnist):
    """Training-side frames (neither bench split) with a hand's or a straight shadow, binned
    to 162x162 as the firmware captures them."""
    source = DigitSource("train", mnist=(mnist[0][:5000], mnist[1][:5000]))
    out = [cs.render_frame("shadow", condition_stream(29, "shadow", i), source) for i in range(80)]
    return [cs.bin2x2(f.image) for f in out], np.array([f.label for f in out])


@pytest.fixture(scope="module")
def pipe():
    from pico4ml.host_twin.classify import FramePipeline
    return FramePipeline()


def expected(pipe, frame, params):
    """(digit, status, second reading taken, radius of the answer) by the documented rule,
    on the numpy twin."""
    def read(p):
        in28, stages = pp.preprocess(frame, p, return_stages=True)
        res = pipe.classify28(in28, int(stages["status"]), p.min_score_pct)
        return res.argmax, res.status, res.score
    first = read(params)
    if first[1] != DIGIT:
        for radius in dict.fromkeys((params.retry_radius, params.retry_radius2)):   # in order, once each
            if radius in (0, params.bg_radius):
                continue
            second = read(replace(params, bg_radius=radius))
            if second[1] == DIGIT and second[2] * 100 >= params.retry_score_pct:
                return second[0], second[1], True, radius
    return first[0], first[1], False, params.bg_radius


def test_the_c_follows_the_rule_and_takes_the_second_reading_where_it_should(pipe, shadowed):
    frames, labels = shadowed
    params = pp.PreprocessParams()
    assert params.retry_radius and params.retry_radius != params.bg_radius   # on by default
    assert params.retry_radius2 and params.retry_radius2 != params.bg_radius
    taken = 0
    for frame in frames:
        a = pipe.classify(frame, params)
        want = expected(pipe, frame, params)
        assert (a.digit, a.status, a.second_reading, a.radius) == want
        taken += a.second_reading
    assert taken >= 2, "no shadowed frame was read a second time"


def test_the_second_reading_reads_more_shadowed_frames_and_never_fewer(pipe, shadowed):
    frames, labels = shadowed
    on, off = pp.PreprocessParams(), pp.PreprocessParams(retry_radius=0, retry_radius2=0)
    right_on = right_off = 0
    for frame, label in zip(frames, labels):
        a, b = pipe.classify(frame, on), pipe.classify(frame, off)
        right_on += a.status == DIGIT and a.digit == label
        right_off += b.status == DIGIT and b.digit == label
        if not a.second_reading:
            assert (a.digit, a.status, a.score) == (b.digit, b.status, b.score)   # the first reading stands
    assert right_on > right_off


def test_a_confident_first_reading_is_never_read_again(pipe, mnist):
    """A frame whose first reading alone is a confident digit: the same answer and no further
    reading, however eager those would be (a retry_score_pct of 0 would take any digit)."""
    source = DigitSource("train", mnist=(mnist[0][:2000], mnist[1][:2000]))
    confident = 0
    for i in range(6):
        frame = cs.bin2x2(cs.render_frame("clean", condition_stream(31, "clean", i), source).image)
        alone = pipe.classify(frame, pp.PreprocessParams(retry_radius=0, retry_radius2=0))
        if alone.status != DIGIT:
            continue
        confident += 1
        a = pipe.classify(frame, pp.PreprocessParams(retry_score_pct=0))
        assert not a.second_reading and not a.second_tried
        assert (a.digit, a.status, a.score) == (alone.digit, alone.status, alone.score)
    assert confident >= 3


def test_retry_parameters_are_validated_alike_in_c_and_python(pipe):
    for name, bad in (("retry_radius", 16), ("retry_score_pct", 101), ("retry_radius2", 16)):
        p = replace(pp.PreprocessParams(), **{name: bad})
        assert p.validate() == pp.ERR_PARAMS
        with pytest.raises(ValueError, match="refused"):
            pipe.classify(np.full((162, 162), 200, np.uint8), p)


def test_the_twin_reads_an_injected_frame_a_second_time_and_says_so(pipe, shadowed):
    """Over a real pseudo-terminal: the twin (core/device.c, as the firmware's INJECT path)
    answers with the second reading's digit, its 28x28 and FLAG_SECOND_READING."""
    serial = pytest.importorskip("serial")
    from conftest import read_until

    from pico4ml.common import protocol as P
    from pico4ml.host_twin.twin import start_twin
    frames, _ = shadowed
    params = pp.PreprocessParams()
    cases = [f for f in frames if pipe.classify(f, params).second_reading][:2]
    plain = next(f for f in frames if not pipe.classify(f, params).second_reading)
    handle = start_twin(frames=[np.full((162, 162), 200, np.uint8)], port="pty", fps=10, hello_ms=500)
    try:
        enc = P.Encoder()
        with serial.Serial(handle.path, timeout=0.05) as port:
            for k, frame in enumerate([*cases, plain]):
                enc.seq = 900 + k
                port.write(enc.encode(P.Inject.from_array(frame)))
                msgs = read_until(port, P.Decoder(), lambda ms: any(
                    isinstance(m, P.Result) and m.injected and m.frame_id == 900 + k for m in ms))
                res = next(m for m in msgs if isinstance(m, P.Result) and m.frame_id == 900 + k)
                inp = next(m for m in msgs if isinstance(m, P.Input28) and m.frame_id == 900 + k)
                want = pipe.classify(frame, params)
                assert (res.argmax, res.status) == (want.digit, want.status)
                assert bool(res.flags & P.FLAG_SECOND_READING) == want.second_reading == (k < len(cases))
                assert np.array_equal(inp.to_array(), pp.preprocess(frame, replace(params, bg_radius=want.radius)))
    finally:
        assert handle.alive, f"twin died: {list(handle.stderr_lines)}"
        assert handle.stop() == 0


def test_the_threshold_calibration_replays_the_pipeline_with_its_second_reading(pipe):
    """tools/calibrate_min_score.py replays, for every threshold, what the pipeline answers:
    its curve at a threshold equals the pipeline run at that threshold."""
    import importlib.util

    from pico4ml.common.paths import REPO_ROOT
    from pico4ml.train.camera_set import condition_set
    spec = importlib.util.spec_from_file_location("calibrate", REPO_ROOT / "tools" / "calibrate_min_score.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cs = condition_set("tune", 12, 162, conditions=("shadow", "close", "empty"))
    params = pp.PreprocessParams()
    rows = tool.curve(cs, tool.answers(pipe, cs, params),
                      [tool.answers(pipe, cs, replace(params, bg_radius=r)) for r in (params.retry_radius,
                                                                                   params.retry_radius2)],
                      params.retry_score_pct)
    is_digit = cs.labels >= 0
    for t in (30, params.min_score_pct, 80):
        got = [pipe.classify(f, replace(params, min_score_pct=t)) for f in cs.frames]
        sure = np.array([a.status == DIGIT for a in got])
        right = np.where(is_digit, sure & (np.array([a.digit for a in got]) == cs.labels), ~sure)
        assert rows[t]["all"] == pytest.approx(right[is_digit].mean())
        assert rows[t]["no_digit"] == pytest.approx(right[~is_digit].mean())


def test_further_radii_are_the_radii_the_c_tries_in_its_order(pipe):
    """common.pp_params.further_radii (used by the host pipeline, pico4ml-eval --checkpoint and the
    calibration replay) lists the radii core/reader.c really tries, recorded from inside the C
    through its preprocessing hook, for every mix of bg_radius and the two retry radii."""
    import ctypes
    import itertools

    from pico4ml.common.pp_params import further_radii
    from pico4ml.host_twin.classify import ClassifierResult

    hook_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
    seen: list[int] = []

    def hook(ctx, frame, width, height, stride, params, out28, stages):
        seen.append(pp.PreprocessParams.from_bytes(ctypes.string_at(params, pp.PARAMS_SIZE)).bg_radius)
        return pp.NO_DIGIT                      # never taken, so every radius on the list is tried
    c_hook = hook_type(hook)
    frame = np.full((32, 32), 200, np.uint8)
    in28 = np.zeros((28, 28), np.uint8)
    checked = 0
    for bg, r1, r2 in itertools.product((4, 6), (0, 4, 6, 8), (0, 4, 6, 8)):
        params = pp.PreprocessParams(bg_radius=bg, retry_radius=r1, retry_radius2=r2)
        seen.clear()
        res = ClassifierResult(status=2)       # an UNSURE first reading
        status = ctypes.c_int(pp.OK)
        taken = pipe.lib.reader_second_reading(ctypes.cast(c_hook, ctypes.c_void_p), None, frame.ctypes.data, 32, 32,
                                               32, params.to_bytes(), in28.ctypes.data, None, ctypes.byref(res),
                                               ctypes.byref(status))
        assert taken == 0
        assert seen == further_radii(params), (bg, r1, r2)
        checked += bool(seen)
    assert checked >= 10
