"""Each camera condition of issue 8 produces what it claims, checked on the rendered pixels."""
from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest

from pico4ml.train import camera_sim as cs
from pico4ml.train.camera_conditions import CONDITIONS, DIGIT_CONDITIONS, sample_scene
from pico4ml.train.camera_set import condition_stream
from pico4ml.train.digit_sources import DigitSource

N = 24          # frames per condition and test
SIZE = cs.SENSOR_SIZE


@pytest.fixture(scope="module")
def source(mnist):
    return DigitSource("tune", mnist=(mnist[2][:5000], mnist[3][:5000]))


def frames(condition: str, source, n: int = N, seed: int = 11):
    return [cs.render_frame(condition, condition_stream(seed, condition, i), source) for i in range(n)]


def scenes(condition: str, source, n: int = N, seed: int = 11):
    """(scene, the Generator positioned after sampling it) pairs, to render variants of one scene."""
    out = []
    for i in range(n):
        rng = condition_stream(seed, condition, i)
        out.append((sample_scene(condition, rng, source), rng))
    return out


def box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask > 0.5)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def paper_level(f: cs.SimFrame) -> float:
    return float(np.median(f.image[f.target_mask < 0.01])) if f.target_mask is not None else float(np.median(f.image))


def test_same_seed_same_frames_other_index_other_frames(source):
    for c in CONDITIONS:
        a = cs.render_frame(c, condition_stream(5, c, 3), source)
        b = cs.render_frame(c, condition_stream(5, c, 3), source)
        d = cs.render_frame(c, condition_stream(5, c, 4), source)
        np.testing.assert_array_equal(a.image, b.image)
        assert (a.label, a.kind, a.source) == (b.label, b.kind, b.source)
        assert not np.array_equal(a.image, d.image)
        assert a.image.shape == (SIZE, SIZE) and a.image.dtype == np.uint8


def test_bin2x2_is_the_mean_of_each_block_rounded():
    rng = np.random.default_rng(0)
    f = rng.integers(0, 256, (3, 8, 6), dtype=np.uint8)
    expect = np.floor(f.reshape(3, 4, 2, 3, 2).astype(np.float64).mean(axis=(2, 4)) + 0.5)
    np.testing.assert_array_equal(cs.bin2x2(f), expect.astype(np.uint8))
    assert cs.bin2x2(np.full((324, 324), 255, np.uint8)).shape == (162, 162)
    with pytest.raises(ValueError):
        cs.bin2x2(np.zeros((5, 6), np.uint8))


@pytest.mark.parametrize("condition, lo, hi", [("clean", 0.25, 0.60), ("far", 0.12, 0.22), ("close", 0.62, 0.85)])
def test_digit_height_in_the_stated_range(source, condition, lo, hi):
    """Height of the rendered digit mask / frame, with slack for rotation and perspective."""
    heights, offsets = [], []
    for f in frames(condition, source):
        x0, y0, x1, y1 = box(f.target_mask)
        heights.append((y1 - y0) / SIZE)
        offsets.append(max(abs((x0 + x1) / 2 / SIZE - 0.5), abs((y0 + y1) / 2 / SIZE - 0.5)))
        assert f.inside[f.targets.index(True)] > 0.99        # the digit itself is whole in view
    heights = np.array(heights)
    assert heights.min() > 0.8 * lo and heights.max() < 1.15 * hi, heights
    assert heights.max() - heights.min() > 0.3 * (hi - lo)   # the range is used
    if condition == "far":
        assert 0.1 < max(offsets) < 0.23                      # up to 20 % off centre


def test_tilted_paper_rotates_and_distorts(source):
    angles, changed = [], 0
    for sc, rng in scenes("tilted", source):
        assert 20 <= sc.tilt <= 40 and abs(sc.paper_angle) <= 30
        angles.append(sc.paper_angle)
        f = cs.render_scene(copy.deepcopy(sc), copy.deepcopy(rng))
        flat = copy.deepcopy(sc)
        flat.tilt = 0.0
        g = cs.render_scene(flat, copy.deepcopy(rng))
        a, b = f.target_mask > 0.5, g.target_mask > 0.5
        changed += (a & b).sum() / (a | b).sum() < 0.85       # perspective moved the strokes
    assert max(angles) > 20 and min(angles) < -20
    assert changed > 0.7 * N


def _lines(img: np.ndarray) -> np.ndarray | None:
    """Hough lines of the pixels darker than the paper around them."""
    paper = cv2.dilate(img, np.ones((9, 9), np.uint8)).astype(np.float32)
    dark = ((img.astype(np.float32) < 0.95 * paper) * 255).astype(np.uint8)
    return cv2.HoughLines(dark, 1, np.pi / 180, int(0.5 * img.shape[0]))


@pytest.mark.parametrize("condition", ["ruled", "squared"])
def test_ruled_and_squared_paper_has_lines(source, condition):
    margins, two_ways, found = 0, 0, 0
    for sc, rng in scenes(condition, source, 12):
        sc.glyphs, sc.read_noise, sc.shot_gain, sc.salt_pepper = [], 0.0, 0.0, 0.0
        img = cs.render_scene(sc, rng).image
        lines = _lines(img)
        if lines is None or len(lines) < 2:
            continue               # faint lines under a strong blur: allowed now and then
        found += 1
        theta = np.degrees(lines[:, 0, 1])
        vertical = (theta < 30) | (theta > 150)
        two_ways += vertical.any() and (~vertical).any()
        margins += sc.margin is not None
    assert found >= 10
    if condition == "squared":
        assert two_ways >= 8
    else:
        assert margins >= 6        # most ruled frames show a margin line too


def test_shadow_darkens_a_part_of_the_frame(source):
    for sc, rng in scenes("shadow", source, 12):
        lit = copy.deepcopy(sc)
        lit.shadow = []
        a = cs.render_scene(sc, copy.deepcopy(rng)).image.astype(np.float32)
        b = cs.render_scene(lit, copy.deepcopy(rng)).image.astype(np.float32)
        dark = cv2.GaussianBlur(a, (0, 0), 3) < 0.8 * cv2.GaussianBlur(b, (0, 0), 3)
        assert 0.03 < dark.mean() < 0.9


def test_dim_light_is_dim_and_noisy(source):
    levels, noise = [], []
    for f in frames("dim", source):
        levels.append(paper_level(f))
        binned = cs.bin2x2(f.image).astype(np.float32)
        flat = binned - cv2.GaussianBlur(binned, (0, 0), 4)
        noise.append(np.std(flat[cs.bin2x2((f.target_mask < 0.01).astype(np.uint8) * 255) == 255]))
    assert 15 < min(levels) and max(levels) < 80
    assert np.median(noise) > 2.0


def _sharpness(f: cs.SimFrame) -> float:
    """Strongest gradient / ink depth: 1 / the width of the digit's edges in pixels."""
    img = f.image.astype(np.float32)
    depth = paper_level(f) - np.percentile(img[f.target_mask > 0.9], 20)
    g = np.hypot(cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)) / 8
    return float(np.percentile(g[f.target_mask > 0.1], 95) / max(depth, 1.0))


def test_blur_is_heavier_than_on_the_clean_sheet(source):
    clean = np.median([_sharpness(f) for f in frames("clean", source)])
    blurred = np.median([_sharpness(f) for f in frames("blur", source)])
    assert blurred < 0.7 * clean


def test_pencil_is_faint_and_grainy(source):
    contrasts, grain = [], []
    for f in frames("pencil", source):
        core = f.target_mask > 0.95
        paper = paper_level(f)
        contrasts.append(1 - np.median(f.image[core]) / paper)
        grain.append(np.std(f.image[core].astype(np.float32)) / paper)
    assert 0.1 < np.median(contrasts) < 0.36 and max(contrasts) < 0.45
    assert np.median(grain) > 0.03


def test_neighbours_are_cut_by_the_frame_edge(source):
    for f in frames("neighbours", source):
        others = [ins for ins, t in zip(f.inside, f.targets) if not t]
        assert len(others) >= 2 and all(0.02 < ins < 0.97 for ins in others), others
        assert f.inside[f.targets.index(True)] > 0.99


def test_paper_edge_shows_a_dark_region_at_the_border(source):
    for f in frames("paper_edge", source):
        dark = (f.image < 0.6 * paper_level(f)).astype(np.uint8)
        n, lab, stats, _ = cv2.connectedComponentsWithStats(dark)
        border = set(lab[0]) | set(lab[-1]) | set(lab[:, 0]) | set(lab[:, -1])
        big = [i for i in border - {0} if stats[i, cv2.CC_STAT_AREA] > 0.03 * SIZE * SIZE]
        assert big, f.kind
        desk = np.isin(lab, big)
        assert (desk & (f.target_mask > 0.5)).sum() == 0        # the edge keeps clear of the digit


def test_dark_ground_has_light_strokes(source):
    kinds = set()
    for f in frames("dark_ground", source):
        kinds.add(f.kind)
        ground = np.median(f.image)
        assert ground < 100
        assert np.percentile(f.image[f.target_mask > 0.9], 75) > ground + 30     # chalk is broken: not the median
    assert kinds == {"screen", "chalk", "marker"}


def test_empty_frames_hold_no_complete_digit(source):
    kinds = set()
    for f in frames("empty", source, 60):
        kinds.add(f.kind)
        assert f.label == -1 and f.target_mask is None and not any(f.targets)
        assert all(ins < 0.9 for ins in f.inside)
        if f.kind == "fragments":
            assert f.inside and max(f.inside) > 0.05
    assert kinds == {"blank", "lined", "paper_edge", "speck", "fragments"}


def test_every_digit_condition_has_a_label_and_a_whole_target(source):
    for c in DIGIT_CONDITIONS:
        for f in frames(c, source, 6):
            assert 0 <= f.label <= 9 and f.source
            assert f.target_mask is not None and f.target_mask.max() > 0.5


def test_unknown_condition_is_refused(source):
    with pytest.raises(ValueError, match="unknown condition"):
        cs.render_frame("underwater", np.random.default_rng(0), source)
