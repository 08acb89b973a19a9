"""Training smoke test, checkpoints, and the committed default model."""
import json

import numpy as np
import pytest
from tinygrad.nn.state import safe_save
from tinygrad import Tensor

from pico4ml.train import train as train_mod
from pico4ml.train.augment import augment_batch
from pico4ml.train.models import CheckpointError, load_state, numpy_forward
from pico4ml.common.paths import DEFAULT_CHECKPOINT


def test_smoke_training_learns_and_saves(tmp_path, mnist):
    out = tmp_path / "m.safetensors"
    rc = train_mod.main(["--arch", "mlp784_64_10", "--augment", "mnist", "--limit", "2000", "--epochs", "2",
                         "--out", str(out), "--no-progress", "--seed", "3"])
    assert rc == 0
    state, meta = load_state(out)
    assert meta["widths"] == [784, 64, 10] and meta["seed"] == 3 and meta["tinygrad_version"] == "0.14.0"
    # 30 steps on 2000 digits is far from converged but far above chance
    assert meta["accuracy"] > 0.6
    x_test, y_test = mnist[2], mnist[3]
    assert abs((numpy_forward(state, x_test).argmax(1) == y_test).mean() - meta["accuracy"]) < 1e-9


def test_training_is_deterministic(mnist):
    a, _ = train_mod.train("mlp784_64_10", epochs=1, augment="mnist", limit=512, max_steps=3, seed=7, progress=False)
    b, _ = train_mod.train("mlp784_64_10", epochs=1, augment="mnist", limit=512, max_steps=3, seed=7, progress=False)
    sa, sb = train_mod.model_state(a), train_mod.model_state(b)
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)


def test_existing_checkpoint_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    out.write_bytes(b"precious")
    assert train_mod.main(["--out", str(out), "--max-steps", "1", "--no-progress"]) == 2
    assert "--force" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"


def test_wrong_shape_checkpoint_is_rejected(tmp_path):
    bad = tmp_path / "bad.safetensors"
    safe_save({"layers.0.weight": Tensor.zeros(400, 700).contiguous(), "layers.0.bias": Tensor.zeros(400).contiguous(),
               "layers.1.weight": Tensor.zeros(10, 400).contiguous(), "layers.1.bias": Tensor.zeros(10).contiguous()},
              str(bad))
    bad.with_suffix(".json").write_text(json.dumps({"architecture": "mlp784_400_10", "widths": [784, 400, 10]}))
    with pytest.raises(CheckpointError, match="do not match architecture"):
        load_state(bad)


def test_garbage_checkpoint_is_rejected(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 100)
    bad.with_suffix(".json").write_text(json.dumps({"widths": [784, 400, 10]}))
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_state(bad)


def test_augmentation_keeps_digits_recognisable(mnist, rng):
    state, _ = load_state(DEFAULT_CHECKPOINT)
    x, y = mnist[2][:1000], mnist[3][:1000]
    aug = augment_batch(x, rng)
    assert aug.shape == x.shape and aug.dtype == np.uint8
    assert not np.array_equal(aug, x)
    assert (numpy_forward(state, aug).argmax(1) == y).mean() > 0.9


def test_elastic_distortion_changes_the_strokes_and_keeps_the_digit(mnist):
    from pico4ml.train.augment import AugmentConfig
    state, _ = load_state(DEFAULT_CHECKPOINT)
    x, y = mnist[2][:1000], mnist[3][:1000]
    plain = augment_batch(x, np.random.default_rng(5), AugmentConfig())
    bent = augment_batch(x, np.random.default_rng(5), AugmentConfig(elastic_prob=1.0))
    changed = (np.abs(plain.astype(int) - bent.astype(int)).reshape(len(x), -1).max(1) > 64).mean()
    assert changed > 0.9                                   # every digit distorted
    assert (numpy_forward(state, bent).argmax(1) == y).mean() > 0.8    # and mostly still the same digit


def test_dropout_acts_while_training_only():
    from tinygrad import Context
    from tinygrad.nn.state import get_state_dict
    from pico4ml.train.models import MLP
    Tensor.manual_seed(0)
    with_dropout, plain = MLP((784, 64, 10), dropout=0.5), MLP((784, 64, 10))
    for (_, a), (_, b) in zip(get_state_dict(with_dropout).items(), get_state_dict(plain).items()):
        b.assign(a).realize()
    x = Tensor(np.random.default_rng(0).random((8, 784), dtype=np.float32))
    assert np.allclose(with_dropout(x).numpy(), plain(x).numpy(), atol=1e-6)   # inference, export: as if absent
    with Context(TRAINING=1):
        assert np.abs(with_dropout(x).numpy() - plain(x).numpy()).max() > 1e-2


def test_training_with_dropout_and_elastic_is_deterministic(mnist):
    kw = dict(epochs=1, augment="mnist", limit=512, max_steps=3, seed=7, progress=False, dropout=0.2, elastic=0.5)
    a, meta = train_mod.train("mlp784_64_10", **kw)
    b, _ = train_mod.train("mlp784_64_10", **kw)
    sa, sb = train_mod.model_state(a), train_mod.model_state(b)
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert meta["dropout"] == 0.2 and meta["elastic"] == 0.5   # the recipe is recorded


def test_pool_augment_refreshes_that_share_of_the_camera_frames(mnist):
    x, y = mnist[0][:200], mnist[1][:200]
    pool = (mnist[0][1000:3000], mnist[1][1000:3000])
    def changed_share(share):
        xe, ye = train_mod.epoch_data(x, y, pool, "camera", np.random.default_rng(1), pool_augment=share)
        flat = {row.tobytes() for row in pool[0]}
        assert len(xe) == len(x) + len(pool[0])
        kept = sum(row.tobytes() in flat for row in xe)
        return 1 - kept / len(pool[0])
    assert changed_share(0.0) <= 0.0 + 1e-9
    assert 0.4 < changed_share(0.5) < 0.6


def test_default_model_meets_the_mnist_bar(mnist):
    state, meta = load_state(DEFAULT_CHECKPOINT)
    acc = (numpy_forward(state, mnist[2]).argmax(1) == mnist[3]).mean()
    assert acc >= 0.983
    assert abs(acc - meta["accuracy"]) < 1e-3  # the metadata tells the truth about the weights


def write_capture(root, label: int, frame: np.ndarray, i: int, in28: bool = True) -> None:
    """One capture as the GUI writes it: <label>/<stamp>-<frame_id>-<n>.pgm, -in28.png and .json."""
    import cv2
    sub = root / str(label)
    sub.mkdir(parents=True, exist_ok=True)
    stem = f"20250101-120000-{1000 + i}-0"
    (sub / f"{stem}.pgm").write_bytes(f"P5\n{frame.shape[1]} {frame.shape[0]}\n255\n".encode() + frame.tobytes())
    if in28:  # the device's own 28x28: not a frame, must be ignored
        cv2.imwrite(str(sub / f"{stem}-in28.png"), np.full((28, 28), 255, np.uint8))
    (sub / f"{stem}.json").write_text(json.dumps({"label": label, "frame_id": 1000 + i}))


def crossed_circle(rng: np.random.Generator, side: int = 324) -> np.ndarray:
    """A shape no MNIST digit looks like (an X through a ring), dark on light paper, placed at random."""
    import cv2
    img = np.full((side, side), int(rng.integers(170, 220)), np.uint8)
    cx, cy = (side // 2 + rng.integers(-25, 25, 2)).tolist()
    r, t = int(rng.integers(50, 80)), int(rng.integers(12, 20))
    cv2.line(img, (cx - r, cy - r), (cx + r, cy + r), 40, t)
    cv2.line(img, (cx - r, cy + r), (cx + r, cy - r), 40, t)
    cv2.circle(img, (cx, cy), r // 2, 40, t)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def test_load_frame_set_reads_label_folders_and_skips_the_rest(tmp_path, rng):
    from pico4ml.train.frame_set import FrameSetError, load_frame_set
    for i in range(3):
        write_capture(tmp_path, 4, crossed_circle(rng), i)
    write_capture(tmp_path, 9, crossed_circle(rng)[:200], 9, in28=False)
    (tmp_path / "9" / "20250101-120000-1009-0.json").write_text(json.dumps({"label": 9, "scale": 4}))
    (tmp_path / "9" / "broken.png").write_bytes(b"no")
    (tmp_path / "misc").mkdir()
    fs = load_frame_set(tmp_path)
    assert fs.labels == [4, 4, 4, 9] and fs.counts() == {4: 3, 9: 1}
    assert all(not p.stem.endswith("-in28") for p in fs.paths)
    assert fs.frames[-1].shape == (200, 324)
    assert fs.previews == 1 and "1 of 4 frames are downscaled previews" in fs.notes()[0]
    assert any("broken.png" in s for s in fs.skipped) and any("misc: not a label folder" in s for s in fs.skipped)
    with pytest.raises(FrameSetError, match="no such folder"):
        load_frame_set(tmp_path / "nope")


def test_extra_frames_fine_tune_a_checkpoint_to_read_a_new_shape(tmp_path, mnist):
    """The "it reads my X as a 4" loop: frames of a shape the committed model reads as something
    else, captured into 2/, fine-tune the committed checkpoint (--init) with --extra-frames; new
    frames of that shape (not trained on) are then read as 2, and MNIST stays good."""
    from pico4ml.train import preprocess
    rng = np.random.default_rng(11)
    captures = tmp_path / "captures"
    for i in range(12):
        write_capture(captures, 2, crossed_circle(rng), i)
    held_out = np.stack([preprocess.preprocess(crossed_circle(rng)) for _ in range(8)])
    base, base_meta = load_state(DEFAULT_CHECKPOINT)
    assert (numpy_forward(base, held_out).argmax(1) == 2).mean() < 0.3  # the committed model does not say 2
    out = tmp_path / "mine.safetensors"
    rc = train_mod.main(["--init", str(DEFAULT_CHECKPOINT), "--extra-frames", str(captures), "--augment", "mnist",
                         "--limit", "1000", "--epochs", "3", "--out", str(out), "--no-progress", "--seed", "2"])
    assert rc == 0
    state, meta = load_state(out)
    assert meta["extra_frames"]["n"] == 12 and meta["extra_frames"]["repeat"] == train_mod.DEFAULT_EXTRA_REPEAT
    assert meta["extra_frames"]["dir"] == str(captures)
    assert meta["init"]["weights_sha256"] == base_meta["weights_sha256"]
    assert meta["architecture"] == base_meta["architecture"]
    assert (numpy_forward(state, held_out).argmax(1) == 2).mean() >= 0.75
    x_test, y_test = mnist[2], mnist[3]
    assert (numpy_forward(state, x_test).argmax(1) == y_test).mean() > 0.95


@pytest.mark.parametrize("argv, samples", [
    ([], "DEFAULT_CAMERA_SAMPLES"),
    (["--init", str(DEFAULT_CHECKPOINT)], "FINE_TUNE_CAMERA_SAMPLES"),
    (["--init", str(DEFAULT_CHECKPOINT), "--camera-samples", "500"], 500),
])
def test_a_fine_tune_renders_fewer_camera_frames_unless_told(tmp_path, monkeypatch, capsys, argv, samples):
    """The recipe's pool for a new model; with --init a smaller one (a few epochs, rendered
    faster); an explicit --camera-samples wins either way."""
    import inspect
    seen, signature = {}, inspect.signature(train_mod.train)

    def stop(*args, **kwargs):
        seen["camera_samples"] = signature.bind(*args, **kwargs).arguments["camera_samples"]
        raise train_mod.MnistError("stopped before training")
    monkeypatch.setattr(train_mod, "train", stop)
    assert train_mod.main([*argv, "--out", str(tmp_path / "m.safetensors")]) == 2
    assert "stopped before training" in capsys.readouterr().err
    assert seen["camera_samples"] == (getattr(train_mod, samples) if isinstance(samples, str) else samples)
    assert train_mod.FINE_TUNE_CAMERA_SAMPLES < train_mod.DEFAULT_CAMERA_SAMPLES


def test_init_must_match_the_architecture_and_not_be_overwritten(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert train_mod.main(["--init", str(DEFAULT_CHECKPOINT), "--arch", "mlp784_64_10", "--out", str(out)]) == 2
    assert "--arch mlp784_64_10 but --init" in capsys.readouterr().err
    assert train_mod.main(["--init", str(DEFAULT_CHECKPOINT), "--out", str(DEFAULT_CHECKPOINT), "--force"]) == 2
    assert "is the --init checkpoint" in capsys.readouterr().err


def test_the_guis_captures_are_what_extra_frames_and_eval_read(tmp_path, rng):
    """The GUI's labelled capture (host_gui/dataset.py) and load_frame_set agree on the layout."""
    from pico4ml.host_gui.dataset import save_labelled
    from pico4ml.train.frame_set import load_frame_set
    full, small = crossed_circle(rng), crossed_circle(rng)[::4, ::4].copy()
    now = 1_700_000_000.0  # one fixed second: real time can tick between two saves and give both the -0
    for i, (img, scale) in enumerate([(full, 1), (full, 1), (small, 4)]):  # the same frame id twice: -0, -1
        save_labelled(tmp_path, 7, img, np.zeros((28, 28), np.uint8), frame_id=42 if i < 2 else 43, params=None,
                      answer=1, score=0.9, status=0, source="live", scale=scale, now=now)
    fs = load_frame_set(tmp_path)
    assert fs.labels == [7, 7, 7] and fs.previews == 1 and not fs.skipped
    assert sorted(p.name.split("-", 2)[2] for p in fs.paths) == ["42-0.pgm", "42-1.pgm", "43-0.pgm"]
    assert np.array_equal(fs.frames[0], full) and fs.frames[-1].shape == small.shape
