"""The small CNN: its float numpy twin against TinyGrad, the int8 scheme for convolutions
against a direct loop implementation, and its checkpoints and int8 files."""
import numpy as np
import pytest
from tinygrad import Tensor
from tinygrad.nn.state import get_state_dict

from pico4ml.train import quantize, quantize_cnn
from pico4ml.train.models import (CNN_ARCHITECTURES, CheckpointError, build_model, cnn_feature_shape, load_state,
                                  numpy_forward, save_checkpoint)
from pico4ml.train.quantize import QuantizeError
from pico4ml.train.quantize_cnn import ConvLayer, cnn_int8_forward, conv_forward


def _random_state(arch: str, seed: int = 0) -> dict[str, np.ndarray]:
    Tensor.manual_seed(seed)
    return {k: v.numpy() for k, v in get_state_dict(build_model(arch)).items()}


def _digits(rng, n: int) -> np.ndarray:
    """Sparse bright strokes on black, like preprocessed digits (not uniform noise)."""
    x = np.zeros((n, 28, 28), np.uint8)
    for img in x:
        for _ in range(6):
            r, c = rng.integers(4, 24, 2)
            img[r - 2:r + 2, c - 3:c + 3] = rng.integers(128, 256)
    return x


@pytest.mark.parametrize("arch", sorted(CNN_ARCHITECTURES))
def test_numpy_forward_equals_tinygrad(arch, rng):
    model = build_model(arch)
    Tensor.manual_seed(1)
    state = {k: v.numpy() for k, v in get_state_dict(model).items()}
    x = _digits(rng, 16)
    want = model(Tensor(x.reshape(16, 784).astype(np.float32) / 255.0)).numpy()
    got = numpy_forward(state, x)
    assert got.shape == (16, 10)
    assert np.allclose(got, want, rtol=1e-4, atol=1e-4)


def test_feature_shapes_follow_valid_convs_and_floor_pools():
    assert cnn_feature_shape((8, 16)) == (16, 5, 5)       # 28 -> 26 -> 13 -> 11 -> 5
    assert build_model("cnn8_16_10").widths == (400, 10)
    with pytest.raises(CheckpointError, match="shrink"):
        cnn_feature_shape((4, 4, 4, 4))


def test_checkpoint_round_trip_and_shape_check(tmp_path):
    model = build_model("cnn8_16_10")
    path = tmp_path / "c.safetensors"
    save_checkpoint(model, path, {"architecture": "cnn8_16_10"})
    state, meta = load_state(path)
    assert meta["kind"] == "cnn" and meta["convs"] == [8, 16] and state["convs.1.weight"].shape == (16, 8, 3, 3)
    meta["convs"] = [8, 24]
    path.with_suffix(".json").write_text(__import__("json").dumps(meta))
    with pytest.raises(CheckpointError, match="do not match"):
        load_state(path)


def _direct_conv_layer(layer: ConvLayer, x: np.ndarray, shift: int) -> np.ndarray:
    """The scheme of docs/int8.md written out with loops, pooling the accumulators first
    (requantisation never decreases, so pool-then-requantise must give the same bytes)."""
    co, ci = layer.weight.shape[:2]
    side = x.shape[-1] - 2
    o = side // 2
    out = np.zeros((co, o, o), np.uint8)
    w = layer.weight.astype(np.int64)
    for c in range(co):
        for py in range(o):
            for px in range(o):
                best = None
                for dy in range(2):
                    for dx in range(2):
                        y, xx = 2 * py + dy, 2 * px + dx
                        acc = int(layer.bias[c]) + int((x[:, y:y + 3, xx:xx + 3].astype(np.int64) * w[c]).sum())
                        best = acc if best is None else max(best, acc)
                v = (min(max(best, 0), int(layer.cap[c])) * int(layer.mult[c]) + (1 << (shift - 1))) >> shift
                out[c, py, px] = v
    return out


def test_int8_conv_equals_direct_loops(rng):
    state = _random_state("cnn8_16_10")
    x = _digits(rng, 40)
    q = quantize_cnn.quantize(state, x[:30], 99.9)
    img = x[30:32].reshape(2, 1, 28, 28)
    h = conv_forward(q.convs[0], img, q.shift)
    for n in range(2):
        assert np.array_equal(h[n], _direct_conv_layer(q.convs[0], img[n], q.shift))
    h2 = conv_forward(q.convs[1], h, q.shift)
    for n in range(2):
        assert np.array_equal(h2[n], _direct_conv_layer(q.convs[1], h[n], q.shift))
    assert h2.max() > 0  # the probe is not all zeros


def test_int8_cnn_tracks_float(rng):
    """int8 logits (dequantised) stay close to the float model on digit-like images."""
    for arch in ("cnn8_16_10", "cnn8_16_32_10"):
        state = _random_state(arch)
        x = _digits(rng, 300)
        q = quantize_cnn.quantize(state, x[:200], 100.0)
        out = quantize.float_logits(q, cnn_int8_forward(q, x[200:]))  # one dequantisation for both models
        ref = numpy_forward(state, x[200:])
        assert np.abs(out - ref).max() <= 0.05 * np.abs(ref).max(), arch


def test_per_channel_weights_use_the_int8_range(rng):
    q = quantize_cnn.quantize(_random_state("cnn8_16_10"), _digits(rng, 50), 99.99)
    for c in q.convs:
        assert c.weight.dtype == np.int8
        assert np.all(np.abs(c.weight.reshape(len(c.weight), -1)).max(1) == 127)  # each channel's own scale
        assert np.all((c.mult >= 1) & (c.cap * c.mult.astype(np.int64) + 2**(q.shift - 1) < 2**31))


def test_conv_accumulator_overflow_is_refused():
    w = np.full((1, 1, 3, 3), 127, np.int8)
    layer = ConvLayer(w, np.array([2**31 - 100], np.int32), np.array([1000], np.int32), np.array([1], np.int32), 1.0)
    with pytest.raises(QuantizeError, match="overflows int32"):
        conv_forward(layer, np.full((1, 1, 4, 4), 255, np.uint8))


def test_int8_file_round_trip_and_corruption(tmp_path, rng):
    q = quantize_cnn.quantize(_random_state("cnn8_16_32_10"), _digits(rng, 50), 99.99)
    path = tmp_path / "cnn_int8.safetensors"
    quantize_cnn.save_quantized(q, path)
    back = quantize_cnn.load_quantized(path)
    assert back.sha256() == q.sha256() and back.conv_channels == (8, 16) and back.widths == (400, 32, 10)
    x = _digits(rng, 5)
    assert np.array_equal(cnn_int8_forward(back, x), cnn_int8_forward(q, x))
    assert quantize_cnn.is_cnn_file(path)
    with pytest.raises(FileExistsError):
        quantize_cnn.save_quantized(q, path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(QuantizeError, match="not a readable int8 CNN"):
        quantize_cnn.load_quantized(path)


def test_quantize_cli_takes_a_cnn_checkpoint(tmp_path, mnist, capsys):
    ckpt = tmp_path / "cnn8_16_10.safetensors"
    save_checkpoint(build_model("cnn8_16_10"), ckpt, {"architecture": "cnn8_16_10"})
    out = tmp_path / "cnn8_16_10_int8.safetensors"
    assert quantize.main(["--checkpoint", str(ckpt), "--out", str(out), "--calib-images", "200"]) == 0
    assert "int8 constants" in capsys.readouterr().out
    q = quantize_cnn.load_quantized(out)
    assert q.metadata["architecture"] == "cnn8_16_10" and q.conv_channels == (8, 16)
