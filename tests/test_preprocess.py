"""Preprocessing: the C (core/preprocess.c) and its numpy twin agree bit for bit.

Hundreds of random and simulated camera frames (every condition of issue 8) of assorted
sizes, random parameters and the edge cases: output, status, every stage, every
candidate. Plus the C unit tests under ASan/UBSan, synthetic frames whose components
are known (which is chosen, and why each other one is dropped), the polarity on
shadowed and light-on-dark frames, and a check that the output looks like the digit
that was photographed.
"""
from __future__ import annotations

import dataclasses
import subprocess

import numpy as np
import pytest
from conftest import host_build

from pico4ml.common.paths import CORE_DIR, REPO_ROOT
from pico4ml.train import camera_sim
from pico4ml.train import preprocess as pp
from pico4ml.train.camera_conditions import CONDITIONS

hostc = pytest.mark.hostc


@pytest.fixture(scope="module")
def clib():
    from pico4ml.common.cbuild import CompilerMissing
    try:
        return pp.c_library()           # a compile error fails here; only a missing compiler skips
    except CompilerMissing as e:
        pytest.skip(str(e))


def random_params(rng: np.random.Generator) -> pp.PreprocessParams:
    p = pp.PreprocessParams(
        polarity=int(rng.integers(3)), bg_remove=int(rng.integers(2)), bg_radius=int(rng.integers(1, 16)),
        threshold_pct=int(rng.choice([0, int(rng.integers(1, 100))])), saturate_pct=int(rng.integers(1, 101)),
        min_contrast=int(rng.choice([0, 24, int(rng.integers(256))])), speck_min=int(rng.integers(10)),
        border=int(rng.integers(0, 17)), box_size=int(rng.integers(4, 29)), center_mass=int(rng.integers(2)),
        min_size_pct=int(rng.integers(0, 101)), max_size_pct=int(rng.integers(1, 101)),
        thin_pct=int(rng.integers(1, 101)), offcentre_pct=int(rng.integers(1, 101)),
        merge_pct=int(rng.integers(0, 101)), grow_pct=int(rng.integers(100, 256)),
        cand_contrast=int(rng.choice([0, 32, int(rng.integers(256))])), full_res=int(rng.integers(2)),
        min_score_pct=int(rng.integers(0, 101)))
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


STAGE_NUMBERS = ("dark_on_light", "lo", "hi", "threshold", "saturate", "no_digit", "n_cand", "chosen",
                 "n_components")


def assert_same(frame: np.ndarray, p: pp.PreprocessParams, stride: int | None = None) -> int:
    """C and numpy agree on output, status and every stage; returns the status."""
    c_out, c_status, st = pp.c_preprocess(frame, p, stride=stride, return_stages=True)
    out, status, stages = pp.preprocess_batch(frame, p, return_status=True, return_stages=True)
    where = f"{frame.shape} {p}"
    assert c_status == status[0], where
    np.testing.assert_array_equal(c_out, out[0], err_msg=where)
    if c_status >= 0:
        gw, gh = stages["work_w"], stages["work_h"]
        for name in ("work", "ink", "norm"):
            c_img = np.frombuffer(getattr(st, name), np.uint8).reshape(pp.WORK, pp.WORK)[:gh, :gw]
            np.testing.assert_array_equal(c_img, stages[name][0], err_msg=f"{name}: {where}")
        assert tuple(getattr(st, k) for k in STAGE_NUMBERS) == tuple(stages[k][0] for k in STAGE_NUMBERS), where
        assert (st.roi_x, st.roi_y, st.roi_w, st.roi_h) == stages["roi"]
        rows = [(c.x, c.y, c.w, c.h, c.reason, c.score, c.mass) for c in st.cand[:st.n_cand]]
        assert rows == [tuple(r) for r in stages["cand"][0][:stages["n_cand"][0]]], where
        assert (st.bbox_x, st.bbox_y, st.bbox_w, st.bbox_h) == tuple(stages["bbox"][0]), where
        assert (st.digit_hi, st.digit_threshold, st.digit_saturate) == (
            stages["digit_hi"][0], stages["digit_threshold"][0], stages["digit_saturate"][0]), where
        check_candidates(st)
    if c_status == pp.OK:
        assert st.no_digit == pp.ND_NONE
        assert (st.box_w, st.box_h) == (stages["box_w"][0], stages["box_h"][0])
        assert (st.shift_x, st.shift_y) == tuple(stages["shift"][0])
        assert (st.com_x16, st.com_y16) == tuple(stages["com16"][0])
        if p.center_mass and max(st.box_w, st.box_h) <= 20:     # nothing clipped off
            assert abs(st.com_x16 - 16 * pp.COM_TARGET) <= 8 and abs(st.com_y16 - 16 * pp.COM_TARGET) <= 8
        box = np.frombuffer(st.box, np.uint8).reshape(pp.OUT, pp.OUT)
        np.testing.assert_array_equal(box, stages["box"][0])
    else:
        assert not out.any()
        if c_status == pp.NO_DIGIT:
            assert st.no_digit != pp.ND_NONE
    return c_status


def check_candidates(st) -> None:
    """What the pp_candidate interface promises, whatever the frame."""
    assert st.n_cand == min(st.n_components, pp.MAX_CANDIDATES)
    reasons = [c.reason for c in st.cand[:st.n_cand]]
    assert all(0 <= r < len(pp.CANDIDATE_REASONS) for r in reasons)
    assert reasons.count(pp.CAND_CHOSEN) <= 1
    if st.chosen >= 0:
        assert st.chosen == 0 and reasons[0] == pp.CAND_CHOSEN      # the chosen first, then its parts
        merged = [i for i, r in enumerate(reasons) if r == pp.CAND_MERGED]
        assert merged == list(range(1, 1 + len(merged)))
        c = st.cand[0]
        assert st.bbox_x <= c.x and st.bbox_y <= c.y and c.x + c.w <= st.bbox_x + st.bbox_w
    else:
        assert pp.CAND_CHOSEN not in reasons and pp.CAND_MERGED not in reasons
    rest = [c.mass for c in st.cand[:st.n_cand] if c.reason not in (pp.CAND_CHOSEN, pp.CAND_MERGED)]
    assert rest == sorted(rest, reverse=True)
    for c in st.cand[:st.n_cand]:
        assert c.w >= 1 and c.h >= 1 and c.x + c.w <= st.work_w and c.y + c.h <= st.work_h


@hostc
def test_defaults_and_wire_format_match_c(clib):
    assert pp.c_default_params() == pp.PreprocessParams()
    assert pp.PreprocessParams().polarity == pp.POLARITY_AUTO
    p = pp.PreprocessParams(roi_x=-7, roi_y=3, roi_w=200, roi_h=100, polarity=2, threshold_pct=0, min_score_pct=42)
    assert pp.PreprocessParams.from_bytes(p.to_bytes()) == p
    assert len(p.to_bytes()) == pp.PARAMS_SIZE == 36 and pp.PARAMS_VERSION == 3
    # little-endian, fields in order: the header, then one byte per u8 field
    raw = p.to_bytes()
    assert raw[:4] == bytes([3, 0, 36, 0]) and raw[4:6] == (-7).to_bytes(2, "little", signed=True)
    names = [f.name for f in dataclasses.fields(pp.PreprocessParams)][6:]
    assert len(names) == 23 and raw[12 + names.index("min_score_pct")] == 42 and raw[34:] == bytes(2)  # u16 reserved
    import ctypes
    out = ctypes.create_string_buffer(pp.PARAMS_SIZE)
    assert clib.pp_params_unpack(p.to_bytes(), pp.PARAMS_SIZE, out) == 0
    assert out.raw == p.to_bytes()
    assert clib.pp_params_unpack(p.to_bytes()[:24], 24, out) == pp.ERR_PARAMS   # a version-1 payload
    v2 = bytes([2, 0, 32, 0]) + p.to_bytes()[4:32]                                 # a version-2 payload
    assert clib.pp_params_unpack(v2, 32, out) == pp.ERR_PARAMS


@hostc
def test_validation_agrees_with_c(clib, rng):
    names = [f.name for f in dataclasses.fields(pp.PreprocessParams)]
    for _ in range(600):
        p = pp.PreprocessParams()
        name = names[int(rng.integers(len(names)))]
        lo, hi = (-32768, 32767) if name in ("roi_x", "roi_y") else (0, 255 if names.index(name) >= 6 else 65535)
        setattr(p, name, int(rng.integers(lo, hi + 1)))
        assert clib.pp_validate_params(p.to_bytes()) == pp.validate_params(p), p
        expect_lo, expect_hi = pp.PARAM_RANGES[name]
        assert (pp.validate_params(p) == pp.OK) == (expect_lo <= getattr(p, name) <= expect_hi)
        if pp.validate_params(p) != pp.OK:
            with pytest.raises(ValueError):
                pp.preprocess(np.zeros((10, 10), np.uint8), p)
            out, status = pp.c_preprocess(np.zeros((10, 10), np.uint8), p)
            assert status == pp.ERR_PARAMS and not out.any()


@hostc
def test_bit_exact_random_frames(clib):
    rng = np.random.default_rng(2026)
    statuses, with_components = [], 0
    for i in range(240):
        frame = random_frame(rng, i % 4)
        p = random_params(rng) if i % 3 else pp.PreprocessParams()
        statuses.append(assert_same(frame, p))
        if statuses[-1] >= 0:
            with_components += pp.c_preprocess(frame, p, return_stages=True)[2].n_components > 0
    # the comparison covered whole pipelines and candidate lists, not just refusals
    assert statuses.count(pp.OK) > 15 and with_components > 80


@pytest.fixture(scope="module")
def condition_frames(mnist):
    """Six frames of every camera condition (training side: never the bench's frames), binned to
    162x162, and two at 324x324."""
    from pico4ml.train.digit_sources import DigitSource
    source = DigitSource("train", mnist=(mnist[0], mnist[1]))
    frames = []
    for c in CONDITIONS:
        for i in range(8):
            f = camera_sim.render_frame(c, np.random.default_rng([7, i, len(c)]), source)
            frames.append((c, f.image if i >= 6 else camera_sim.bin2x2(f.image), f.label))
    return frames


@hostc
def test_bit_exact_on_every_camera_condition(clib, condition_frames):
    rng = np.random.default_rng(11)
    found = {c: 0 for c in CONDITIONS}
    polarity = {c: [] for c in CONDITIONS}
    for k, (c, frame, _) in enumerate(condition_frames):
        p = pp.PreprocessParams() if k % 4 else random_params(rng)
        status = assert_same(frame, p)
        if p == pp.PreprocessParams():
            found[c] += status == pp.OK
            polarity[c].append(pp.preprocess(frame, return_stages=True)[1]["dark_on_light"])
    # a digit is found in (almost) every digit condition's frame, with the polarity it has
    assert sum(v for c, v in found.items() if c != "empty") >= 0.85 * 6 * (len(CONDITIONS) - 1), found
    assert all(d == 0 for d in polarity["dark_ground"]) and sum(polarity["clean"]) == len(polarity["clean"])


@hostc
def test_bit_exact_camera_frames(clib, mnist):
    rng = np.random.default_rng(7)
    _, _, x_test, _ = mnist
    ok = 0
    for i in range(90):
        size = int(rng.choice([64, 100, 162, 200, 324]))
        if i % 3 == 0:
            frame = camera_sim.render_printed(i % 10, rng, size)
        else:
            frame = camera_sim.render_handwritten(x_test[i], rng, size)
        if i % 5 == 0:
            frame = 255 - frame
        p = pp.PreprocessParams() if i % 2 else random_params(rng)
        ok += assert_same(frame, p) == pp.OK
    assert ok > 40


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
    # salt and pepper everywhere: too many separate specks to be a digit
    rng = np.random.default_rng(4)
    speckled = np.where(rng.random((128, 128)) < 0.5, 200, 40).astype(np.uint8)
    speckled[::2, ::2] = 200
    status = assert_same(speckled, pp.PreprocessParams(speck_min=0, min_contrast=0, polarity=0))
    _, st = pp.preprocess(speckled, pp.PreprocessParams(speck_min=0, min_contrast=0, polarity=0), return_stages=True)
    assert status == pp.NO_DIGIT and st["no_digit"] in (pp.ND_CLUTTERED, pp.ND_NO_CANDIDATE)


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
def test_wide_frames_downscaled_in_strips(clib):
    """Frames wider than the C downscale's column scratch (1024 source columns) are summed
    in strips of work columns; the twin has no strips, so any seam would show."""
    rng = np.random.default_rng(11)
    cov = np.zeros((28, 28), np.uint8)
    cov[4:24, 10:18] = 255
    digit = camera_sim.camera_frame(camera_sim.mnist_coverage(cov), rng, 300)
    for w, h in ((1025, 300), (1500, 300), (pp.MAX_DIM, 70)):
        frame = rng.integers(150, 220, (h, w), dtype=np.uint8)
        x0 = (w - 300) // 2
        frame[:, x0:x0 + 300] = digit[:h]
        for p in (pp.PreprocessParams(), pp.PreprocessParams(roi_x=0, roi_y=0, roi_w=w, roi_h=h)):
            assert_same(frame, p)
    for _ in range(4):
        w, h = int(rng.integers(1025, pp.MAX_DIM + 1)), int(rng.integers(1, 80))
        p = random_params(rng)
        p.roi_x, p.roi_y, p.roi_w, p.roi_h = 0, 0, w, h
        assert_same(rng.integers(0, 256, (h, w), dtype=np.uint8), p)


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
    from pico4ml.common.cbuild import SANITIZE_FLAGS
    exe = host_build("test_preprocess_asan", [REPO_ROOT / "tests" / "c" / "test_preprocess.c",
                                              CORE_DIR / "preprocess.c"], flags=SANITIZE_FLAGS)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "all passed" in proc.stdout


# ---------------------------------------------------------------------------
# a frame whose components are known: drawn on the work grid (128x128 frame: 2x2 bins)

PAPER, INK = 200, 40
# name: (x0, y0, x1, y1) on the work grid, inclusive, and the reason expected
SHAPES = {
    "ring": ((26, 22, 37, 41), pp.CAND_CHOSEN),        # a "0", 3 px strokes, in the middle
    "cap": ((28, 17, 35, 19), pp.CAND_MERGED),         # 2 rows above it: a part of the digit
    "edge": ((1, 30, 6, 36), pp.CAND_BORDER),          # touches the frame's edge (x = 1 is the border band's)
    "speck": ((48, 10, 50, 12), pp.CAND_SMALL),        # 3 high: under 8 % of 64
    "line": ((55, 14, 55, 48), pp.CAND_THIN),          # 35 long (>= 40 %), 1 across
    "corner": ((4, 44, 12, 58), pp.CAND_OFF_CENTRE),   # centre 37 px from the middle: over 40 % of 64
    "bar": ((44, 24, 47, 36), pp.CAND_WEAKER),         # digit-like, central, but less ink than the ring
}


def known_frame(polarity: str = "dark", shadow: bool = False) -> np.ndarray:
    work = np.full((64, 64), PAPER, np.uint8)
    for name, ((x0, y0, x1, y1), _) in SHAPES.items():
        if name == "ring":
            work[y0:y1 + 1, x0:x1 + 1] = INK
            work[y0 + 3:y1 - 2, x0 + 3:x1 - 2] = PAPER
        else:
            work[y0:y1 + 1, x0:x1 + 1] = INK
    frame = np.repeat(np.repeat(work, 2, axis=0), 2, axis=1)
    if shadow:      # the left half (through the middle of the ring) in a shadow keeping half the light
        frame[:, :64] //= 2
    return 255 - frame if polarity == "light" else frame


@pytest.mark.parametrize("polarity, shadow", [("dark", False), ("light", False), ("dark", True)])
def test_known_components(polarity, shadow):
    """Each shape is reported with the reason its geometry gives it; the ring and its cap are
    the digit; the polarity is found by itself (auto); a shadow's edge through the digit
    changes nothing."""
    frame = known_frame(polarity, shadow)
    out, st = pp.preprocess(frame, return_stages=True)
    assert st["status"] == pp.OK and st["dark_on_light"] == (polarity == "dark")
    got = {(c["x"], c["y"], c["x"] + c["w"] - 1, c["y"] + c["h"] - 1): c["reason"] for c in st["candidates"]}
    assert got == {box: reason for box, reason in SHAPES.values()}
    assert st["chosen"] == 0 and st["candidates"][0]["reason_name"] == "chosen"
    assert st["candidates"][1]["reason_name"] == "merged"
    assert tuple(st["bbox"]) == (26, 17, 12, 25)          # the ring and its cap
    # the box is 2x the work box in frame pixels (24 x 50): 20 high, 10 wide (aspect kept)
    assert (st["box_h"], st["box_w"]) == (20, round(24 * 20 / 50))
    assert out.any() and st["candidates"][0]["score"] == 255
    # masses: the normalised ink is 255 on every ink pixel (paper 200, ink 40, nothing between;
    # next to the shadow's edge a stroke is measured against the darker side's paper)
    ring_pixels = 12 * 20 - 6 * 14
    if not shadow:
        assert st["candidates"][0]["mass"] == (ring_pixels * 255 + 8) // 16
    if clib_available():
        assert_same(frame, pp.PreprocessParams())


def clib_available() -> bool:
    from pico4ml.common.cbuild import CompilerMissing
    try:
        pp.c_library()
    except CompilerMissing:              # the hostc tests report it; a compile error still fails
        return False
    return True


def test_every_candidate_filter_can_be_turned_off():
    """min_size 0, max_size and thin 100 %, offcentre 100 %: then only the border drops a shape,
    and with merge 0 the cap stays apart (it is 2 rows away)."""
    p = pp.PreprocessParams(min_size_pct=0, max_size_pct=100, thin_pct=100, offcentre_pct=100, merge_pct=0)
    _, st = pp.preprocess(known_frame(), p, return_stages=True)
    reasons = {c["reason_name"] for c in st["candidates"]}
    assert reasons == {"chosen", "border", "weaker"}


def test_no_digit_reasons():
    _, st = pp.preprocess(np.full((100, 100), 170, np.uint8), return_stages=True)
    assert st["status"] == pp.NO_DIGIT and st["no_digit"] == pp.ND_LOW_CONTRAST
    only_edge = known_frame()
    only_edge[:, 20:] = PAPER                          # only the border shape is left
    _, st = pp.preprocess(only_edge, return_stages=True)
    assert st["status"] == pp.NO_DIGIT and st["no_digit"] == pp.ND_NO_CANDIDATE
    faint = np.full((128, 128), PAPER, np.uint8)
    faint[50:80, 60:66] = PAPER - 12                   # a stroke of 6 % contrast
    faint[20, 20] = 0                                  # and a hot pixel that sets the range
    _, st = pp.preprocess(faint, pp.PreprocessParams(min_contrast=0, speck_min=0), return_stages=True)
    assert st["status"] == pp.NO_DIGIT and st["no_digit"] in (pp.ND_FAINT, pp.ND_NO_CANDIDATE)


def test_batch_equals_single(mnist):
    rng = np.random.default_rng(11)
    _, _, x_test, _ = mnist
    frames = np.stack([camera_sim.render_handwritten(x_test[i], rng, 120) for i in range(12)])
    frames[3] = 200                                       # a blank one among them
    frames[5] = 255 - frames[5]                           # and a light-on-dark one
    batch, status, stages = pp.preprocess_batch(frames, return_status=True, return_stages=True)
    assert status[3] == pp.NO_DIGIT and not batch[3].any() and stages["dark_on_light"][5] == 0
    for i in range(len(frames)):
        one, st = pp.preprocess(frames[i], return_stages=True)
        np.testing.assert_array_equal(batch[i], one)
        assert st["dark_on_light"] == stages["dark_on_light"][i]
        np.testing.assert_array_equal(st["cand"], stages["cand"][i])
    np.testing.assert_array_equal(pp.preprocess_many(frames, chunk=5), batch)


def corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    a -= a.mean(1, keepdims=True)
    b -= b.mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1) + 1e-12)


def test_output_looks_like_the_mnist_digit(mnist):
    """Photographed MNIST digits come back close to the original 28x28."""
    rng = np.random.default_rng(5)
    _, _, x_test, _ = mnist
    n = 150
    frames = np.stack([camera_sim.render_handwritten(x_test[i], rng, 162) for i in range(n)])
    out = pp.preprocess_batch(frames)
    assert np.median(corr(out, x_test[:n])) > 0.75
    # centre of mass where MNIST has it
    o = out.astype(np.float64)
    m = o.sum((1, 2))
    cy = (o.sum(2) * np.arange(28)).sum(1) / m
    cx = (o.sum(1) * np.arange(28)).sum(1) / m
    assert abs(cx.mean() - 14.0) < 0.3 and abs(cy.mean() - 14.0) < 0.3


def test_far_digit_keeps_its_detail_at_full_resolution(mnist):
    """A digit 12-22 % of the frame high is 8-14 work pixels: resampled from the frame itself it
    is closer to the MNIST digit than resampled from the work grid."""
    rng = np.random.default_rng(8)
    _, _, x_test, _ = mnist
    far = camera_sim.SimRanges(height=(0.12, 0.22), offset=0.15, rotation_deg=0.0, thickness=(0, 0))
    frames = np.stack([camera_sim.render_handwritten(x_test[i], rng, 324, far) for i in range(80)])
    full = corr(pp.preprocess_batch(frames), x_test[:80])
    grid = corr(pp.preprocess_batch(frames, pp.PreprocessParams(full_res=0)), x_test[:80])
    assert full.mean() > grid.mean() + 0.02, (full.mean(), grid.mean())


def test_polarity_light_on_dark(mnist):
    rng = np.random.default_rng(9)
    _, _, x_test, _ = mnist
    frame = camera_sim.render_handwritten(x_test[0], rng, 162)
    dark = pp.preprocess(frame)
    light = pp.preprocess(255 - frame, pp.PreprocessParams(polarity=pp.POLARITY_LIGHT_ON_DARK))
    auto = pp.preprocess(255 - frame)                                      # auto is the default
    wrong = pp.preprocess(255 - frame, pp.PreprocessParams(polarity=pp.POLARITY_DARK_ON_LIGHT))
    right_corr = shifted_corr(dark, light)        # rounding may move the centre of mass by 1 px
    assert right_corr > 0.9
    np.testing.assert_array_equal(light, auto)
    assert shifted_corr(dark, wrong) < right_corr - 0.2


def test_polarity_against_a_majority_of_shadow(mnist):
    """Most of the frame, the digit with it, in a deep shadow: the majority of the pixels is dark,
    the digit's ground is still paper. The old majority rule read light on dark; the vote does not."""
    rng = np.random.default_rng(12)
    _, _, x_test, _ = mnist
    for i in range(10):
        frame = camera_sim.render_handwritten(x_test[i], rng, 162).astype(np.int64)
        frame[:, :140] = frame[:, :140] * 35 // 100                         # the digit sits in it
        frame = frame.astype(np.uint8)
        _, st = pp.preprocess(frame, return_stages=True)
        assert st["status"] == pp.OK and st["dark_on_light"] == 1
        v = np.sort(frame.ravel())
        assert 2 * np.median(v) < int(v[len(v) // 64]) + int(v[-1 - len(v) // 64])   # the majority is dark


def shifted_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Best pixel correlation of a and b shifted by up to one pixel each way."""
    return max(np.corrcoef(a.ravel(), np.roll(b, (dy, dx), axis=(0, 1)).ravel())[0, 1]
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_params_from_bytes_rejects_wrong_length():
    with pytest.raises(ValueError):
        pp.PreprocessParams.from_bytes(b"\x01\x00")
