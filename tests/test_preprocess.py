"""Preprocessing: the C (core/preprocess.c) and its numpy twin agree bit for bit.

Hundreds of random and simulated camera frames of assorted sizes, random parameters,
the edge cases; plus the C unit tests under ASan/UBSan and a check that the output
looks like the MNIST digit that was photographed.
"""
from __future__ import annotations

import dataclasses
import subprocess

import numpy as np
import pytest

from pico4ml.train import camera_sim
from pico4ml.train import preprocess as pp
from pico4ml.common.paths import CORE_DIR, REPO_ROOT

hostc = pytest.mark.hostc


@pytest.fixture(scope="module")
def clib():
    from pico4ml.common.cbuild import BuildError
    try:
        return pp.c_library()
    except BuildError as e:
        pytest.skip(f"no host C compiler: {e}")


def random_params(rng: np.random.Generator) -> pp.PreprocessParams:
    p = pp.PreprocessParams(
        polarity=int(rng.integers(3)), bg_remove=int(rng.integers(2)), bg_radius=int(rng.integers(1, 16)),
        threshold_pct=int(rng.choice([0, int(rng.integers(1, 100))])), saturate_pct=int(rng.integers(1, 101)),
        min_contrast=int(rng.choice([0, 24, int(rng.integers(256))])), speck_min=int(rng.integers(10)),
        max_gap=int(rng.integers(0, 65)), border=int(rng.integers(0, 17)), box_size=int(rng.integers(4, 29)),
        center_mass=int(rng.integers(2)))
    if rng.random() < 0.3:
        p.roi_x, p.roi_y = (int(v) for v in rng.integers(-50, 200, 2))
        p.roi_w, p.roi_h = (int(v) for v in rng.integers(1, 300, 2))
    return p


def random_frame(rng: np.random.Generator, kind: int) -> np.ndarray:
    h, w = (int(v) for v in rng.integers(1, 360, 2))
    if kind == 0:      # noise
        return rng.integers(0, 256, (h, w), dtype=np.uint8)
    if kind == 1:      # gradient + blobs
        yy, xx = np.mgrid[0:h, 0:w]
        f = 60 + 150 * xx / max(w, 1) + rng.normal(0, 5, (h, w))
        for _ in range(int(rng.integers(1, 6))):
            cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(1, 40)
            f[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] *= rng.uniform(0.2, 1.5)
        return np.clip(f, 0, 255).astype(np.uint8)
    if kind == 2:      # constant
        return np.full((h, w), int(rng.integers(256)), np.uint8)
    # a camera frame of a random blob "digit", square or cropped to a rectangle
    size = int(rng.integers(8, 330))
    cov = np.zeros((28, 28), np.uint8)
    cov[4:24, 8:20] = rng.integers(0, 256, (20, 12))
    f = camera_sim.camera_frame(camera_sim.mnist_coverage(cov), rng, size)
    return f[: int(rng.integers(1, size + 1)), :]


def assert_same(frame: np.ndarray, p: pp.PreprocessParams, stride: int | None = None) -> int:
    c_out, c_status, st = pp.c_preprocess(frame, p, stride=stride, return_stages=True)
    out, status, stages = pp.preprocess_batch(frame, p, return_status=True, return_stages=True)
    assert c_status == status[0], (frame.shape, p)
    np.testing.assert_array_equal(c_out, out[0], err_msg=f"{frame.shape} {p}")
    if c_status >= 0:
        gw, gh = stages["work_w"], stages["work_h"]
        for name in ("work", "ink", "norm"):
            c_img = np.frombuffer(getattr(st, name), np.uint8).reshape(pp.WORK, pp.WORK)[:gh, :gw]
            np.testing.assert_array_equal(c_img, stages[name][0], err_msg=name)
        assert (st.lo, st.hi, st.threshold, st.saturate, st.dark_on_light) == (
            stages["lo"][0], stages["hi"][0], stages["threshold"][0], stages["saturate"][0],
            stages["dark_on_light"][0])
        assert (st.roi_x, st.roi_y, st.roi_w, st.roi_h) == stages["roi"]
    if c_status == pp.OK:
        assert (st.bbox_x, st.bbox_y, st.bbox_w, st.bbox_h) == tuple(stages["bbox"][0])
        assert (st.box_w, st.box_h) == (stages["box_w"][0], stages["box_h"][0])
        assert (st.shift_x, st.shift_y) == tuple(stages["shift"][0])
        assert (st.com_x16, st.com_y16) == tuple(stages["com16"][0])
        if p.center_mass and max(st.box_w, st.box_h) <= 20:     # nothing clipped off
            assert abs(st.com_x16 - 16 * pp.COM_TARGET) <= 8 and abs(st.com_y16 - 16 * pp.COM_TARGET) <= 8
        box = np.frombuffer(st.box, np.uint8).reshape(pp.OUT, pp.OUT)
        np.testing.assert_array_equal(box[:st.box_h, :st.box_w], stages["box"][0][:st.box_h, :st.box_w])
    else:
        assert not out.any()
    return c_status


@hostc
def test_defaults_and_wire_format_match_c(clib):
    assert pp.c_default_params() == pp.PreprocessParams()
    p = pp.PreprocessParams(roi_x=-7, roi_y=3, roi_w=200, roi_h=100, polarity=2, threshold_pct=0)
    assert pp.PreprocessParams.from_bytes(p.to_bytes()) == p
    assert len(p.to_bytes()) == pp.PARAMS_SIZE == 24
    import ctypes
    out = ctypes.create_string_buffer(pp.PARAMS_SIZE)
    assert clib.pp_params_unpack(p.to_bytes(), pp.PARAMS_SIZE, out) == 0
    assert out.raw == p.to_bytes()


@hostc
def test_validation_agrees_with_c(clib, rng):
    names = [f.name for f in dataclasses.fields(pp.PreprocessParams)]
    for _ in range(400):
        p = pp.PreprocessParams()
        name = names[int(rng.integers(len(names)))]
        lo, hi = (-32768, 32767) if name in ("roi_x", "roi_y") else (0, 255 if names.index(name) >= 6 else 65535)
        setattr(p, name, int(rng.integers(lo, hi + 1)))
        assert clib.pp_validate_params(p.to_bytes()) == pp.validate_params(p), p
        if pp.validate_params(p) != pp.OK:
            with pytest.raises(ValueError):
                pp.preprocess(np.zeros((10, 10), np.uint8), p)
            out, status = pp.c_preprocess(np.zeros((10, 10), np.uint8), p)
            assert status == pp.ERR_PARAMS and not out.any()


@hostc
def test_bit_exact_random_frames(clib):
    rng = np.random.default_rng(2026)
    statuses = []
    for i in range(240):
        frame = random_frame(rng, i % 4)
        p = random_params(rng) if i % 3 else pp.PreprocessParams()
        statuses.append(assert_same(frame, p))
    assert statuses.count(pp.OK) > 60   # the comparison covered whole pipelines, not just refusals


@hostc
def test_bit_exact_camera_frames(clib, mnist):
    rng = np.random.default_rng(7)
    _, _, x_test, _ = mnist
    ok = 0
    for i in range(120):
        size = int(rng.choice([64, 100, 162, 200, 324]))
        if i % 3 == 0:
            frame = camera_sim.render_printed(i % 10, rng, size)
        else:
            frame = camera_sim.render_handwritten(x_test[i], rng, size)
        p = pp.PreprocessParams() if i % 2 else random_params(rng)
        ok += assert_same(frame, p) == pp.OK
    assert ok > 90


@hostc
def test_edge_cases(clib):
    p = pp.PreprocessParams()
    assert assert_same(np.full((1, 1), 100, np.uint8), p) == pp.NO_DIGIT
    assert assert_same(np.zeros((162, 162), np.uint8), p) == pp.NO_DIGIT
    assert assert_same(np.full((162, 162), 255, np.uint8), p) == pp.NO_DIGIT
    assert assert_same(np.full((3, 500), 9, np.uint8), pp.PreprocessParams(polarity=2)) == pp.NO_DIGIT
    outside = pp.PreprocessParams(roi_x=400, roi_y=0, roi_w=50, roi_h=50)
    assert assert_same(np.zeros((162, 162), np.uint8), outside) == pp.ERR_ROI
    negative = pp.PreprocessParams(roi_x=-32768, roi_y=-32768, roi_w=4096, roi_h=4096)
    assert assert_same(np.zeros((30, 30), np.uint8), negative) == pp.ERR_ROI


@hostc
def test_odd_strides(clib):
    rng = np.random.default_rng(3)
    cov = np.zeros((28, 28), np.uint8)
    cov[5:23, 12:16] = 255
    frame = camera_sim.camera_frame(camera_sim.mnist_coverage(cov), rng, 161)
    expect, status = pp.c_preprocess(frame, pp.PreprocessParams())
    assert status == pp.OK and expect.any()
    for pad in (1, 3, 7, 100):
        wide = np.full((161, 161 + pad), 255, np.uint8)   # the padding would look like paper
        wide[:, :161] = frame
        view = wide[:, :161]                               # rows 161 + pad bytes apart
        assert view.strides[0] == 161 + pad
        out, status = pp.c_preprocess(view, pp.PreprocessParams())
        np.testing.assert_array_equal(out, expect)
        np.testing.assert_array_equal(pp.preprocess(view), expect)


@hostc
def test_bad_arguments_c(clib):
    frame = np.zeros((10, 10), np.uint8)
    out, status = pp.c_preprocess(frame, stride=9)
    assert status == pp.ERR_ARG
    big = np.zeros((1, pp.MAX_DIM + 1), np.uint8)
    assert pp.c_preprocess(big)[1] == pp.ERR_ARG
    with pytest.raises(ValueError):
        pp.preprocess(big)
    with pytest.raises(ValueError):
        pp.preprocess(np.zeros((4, 4), np.float32))


@hostc
def test_c_unit_tests_under_sanitizers():
    from pico4ml.common.cbuild import SANITIZE_FLAGS, BuildError, build
    try:
        exe = build("test_preprocess_asan", [REPO_ROOT / "tests" / "c" / "test_preprocess.c",
                                             CORE_DIR / "preprocess.c"], flags=SANITIZE_FLAGS)
    except BuildError as e:
        pytest.skip(f"cannot build with sanitizers: {e}")
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "all passed" in proc.stdout


def test_batch_equals_single(mnist):
    rng = np.random.default_rng(11)
    _, _, x_test, _ = mnist
    frames = np.stack([camera_sim.render_handwritten(x_test[i], rng, 120) for i in range(12)])
    frames[3] = 200                                       # a blank one among them
    batch, status = pp.preprocess_batch(frames, return_status=True)
    assert status[3] == pp.NO_DIGIT and not batch[3].any()
    for i in range(len(frames)):
        np.testing.assert_array_equal(batch[i], pp.preprocess(frames[i]))
    np.testing.assert_array_equal(pp.preprocess_many(frames, chunk=5), batch)


def test_output_looks_like_the_mnist_digit(mnist):
    """Photographed MNIST digits come back close to the original 28x28."""
    rng = np.random.default_rng(5)
    _, _, x_test, _ = mnist
    n = 150
    frames = np.stack([camera_sim.render_handwritten(x_test[i], rng, 162) for i in range(n)])
    out = pp.preprocess_batch(frames).reshape(n, -1).astype(np.float64)
    ref = x_test[:n].reshape(n, -1).astype(np.float64)
    out -= out.mean(1, keepdims=True)
    ref -= ref.mean(1, keepdims=True)
    corr = (out * ref).sum(1) / np.sqrt((out ** 2).sum(1) * (ref ** 2).sum(1))
    assert np.median(corr) > 0.75, np.median(corr)
    # centre of mass where MNIST has it
    o = pp.preprocess_batch(frames).astype(np.float64)
    m = o.sum((1, 2))
    cy = (o.sum(2) * np.arange(28)).sum(1) / m
    cx = (o.sum(1) * np.arange(28)).sum(1) / m
    assert abs(cx.mean() - 14.0) < 0.3 and abs(cy.mean() - 14.0) < 0.3


def test_polarity_light_on_dark(mnist):
    rng = np.random.default_rng(9)
    _, _, x_test, _ = mnist
    frame = camera_sim.render_handwritten(x_test[0], rng, 162)
    dark = pp.preprocess(frame)
    light = pp.preprocess(255 - frame, pp.PreprocessParams(polarity=pp.POLARITY_LIGHT_ON_DARK))
    auto = pp.preprocess(255 - frame, pp.PreprocessParams(polarity=pp.POLARITY_AUTO))
    wrong = pp.preprocess(255 - frame)            # treating chalk as ink: only its outline
    right_corr = shifted_corr(dark, light)        # rounding may move the centre of mass by 1 px
    assert right_corr > 0.9
    np.testing.assert_array_equal(light, auto)
    assert shifted_corr(dark, wrong) < right_corr - 0.2


def shifted_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Best pixel correlation of a and b shifted by up to one pixel each way."""
    return max(np.corrcoef(a.ravel(), np.roll(b, (dy, dx), axis=(0, 1)).ravel())[0, 1]
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_params_from_bytes_rejects_wrong_length():
    with pytest.raises(ValueError):
        pp.PreprocessParams.from_bytes(b"\x01\x00")
