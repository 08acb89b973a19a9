"""The TinyGrad C export: parity with TinyGrad, portability, memory placement, regeneration."""
import re
import subprocess
from pathlib import Path

import pytest

from conftest import require_tool
from pico4ml.export import export as export_mod
from pico4ml.export.export import tinygrad_logits
from pico4ml.export.parity import HostModel, compare
from pico4ml.common.cbuild import SANITIZE_FLAGS, build
from pico4ml.train.models import load_model, load_state
from pico4ml.common.budgets import RAM_FOR_SCRATCH
from pico4ml.common.paths import DEFAULT_CHECKPOINT, MODEL_C_DIR, REPO_ROOT

MODEL_C = MODEL_C_DIR / "model_float.c"
MODEL_H = MODEL_C_DIR / "model_float.h"


@pytest.fixture(scope="module")
def reference():
    model, meta = load_model(DEFAULT_CHECKPOINT)
    return model, meta


@pytest.mark.hostc
def test_c_matches_tinygrad_on_all_mnist_test_images(mnist, reference):
    require_tool("gcc")
    model, _ = reference
    x_test = mnist[2]
    parity = compare(HostModel(MODEL_C).logits(x_test), tinygrad_logits(model, x_test))
    assert parity.total == 10000
    assert parity.argmax_equal == 10000
    assert parity.max_abs <= 1e-4


def test_committed_c_is_the_export_of_the_committed_checkpoint(tmp_path, mnist):
    paths = export_mod.export_model(DEFAULT_CHECKPOINT, tmp_path)
    for p in paths:
        assert p.read_text() == (MODEL_C_DIR / p.name).read_text(), f"{p.name} is stale: re-run pico4ml-export --force"
    _, meta = load_state(DEFAULT_CHECKPOINT)
    assert f'"{meta["weights_sha256"]}"' in MODEL_H.read_text()


def test_generated_c_is_plain_portable_c():
    src = MODEL_C.read_text()
    includes = set(re.findall(r'#include [<"]([^>"]+)[>"]', src))
    assert includes <= {"model_float.h", "stdint.h", "math.h"}
    for forbidden in ("ext_vector_type", "__attribute__", "malloc", "__builtin"):
        assert forbidden not in src
    assert re.search(r"^static const float layers_0_weight\[313600\]", src, re.M)
    assert "void net(const float *input, float *output)" in src


@pytest.mark.hostc
def test_gcc_compiles_without_warnings(tmp_path):
    gcc = require_tool("gcc")
    r = subprocess.run([gcc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-c", str(MODEL_C),
                        "-o", str(tmp_path / "m.o")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _arm_sections(obj: Path) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-size", "-A", str(obj)], capture_output=True, text=True, check=True).stdout
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)", out, re.M)}


@pytest.mark.cross
def test_cortex_m0plus_weights_in_flash_and_small_ram(tmp_path):
    gcc = require_tool("arm-none-eabi-gcc")
    obj = tmp_path / "m.o"
    r = subprocess.run([gcc, "-std=c11", "-mcpu=cortex-m0plus", "-mthumb", "-Os", "-Wall", "-Wextra", "-Werror",
                        "-ffunction-sections", "-fdata-sections", "-c", str(MODEL_C), "-o", str(obj)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sec = _arm_sections(obj)
    rodata = sum(v for k, v in sec.items() if k.startswith(".rodata"))
    ram = sum(v for k, v in sec.items() if k.startswith((".data", ".bss")))
    assert rodata >= 4 * (784 * 400 + 400 + 400 * 10 + 10)  # every weight is const, so in flash
    assert ram <= RAM_FOR_SCRATCH


@pytest.mark.hostc
def test_test_vectors_run_clean_under_sanitizers():
    require_tool("gcc")
    harness = REPO_ROOT / "tests" / "c" / "test_model_vectors.c"
    exe = build("test_model_vectors", [harness, MODEL_C], flags=SANITIZE_FLAGS)
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "8/8 vectors match" in r.stdout


def test_export_refuses_to_overwrite(tmp_path, capsys):
    existing = tmp_path / "model_float.h"
    existing.write_text("keep me")
    assert export_mod.main(["--out-dir", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert existing.read_text() == "keep me"
    assert not (tmp_path / "model_float.c").exists()


def test_export_of_a_missing_checkpoint_fails_clearly(tmp_path, capsys):
    assert export_mod.main(["--checkpoint", str(tmp_path / "none.safetensors"), "--out-dir", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.hostc
def test_small_architecture_exports_and_matches(tmp_path, mnist):
    """The exporter is not tied to 784-400-10: a fresh 2-hidden-layer net renders and agrees too."""
    from pico4ml.train.models import build_model, save_checkpoint
    model = build_model("mlp784_256_64_10")
    ckpt = tmp_path / "small.safetensors"
    save_checkpoint(model, ckpt, {"architecture": "mlp784_256_64_10", "accuracy": 0.0})
    paths = export_mod.export_model(ckpt, tmp_path / "c", name="model_small", func="net_small", vectors=2)
    x = mnist[2][:200]
    parity = compare(HostModel(paths[0], func="net_small").logits(x), tinygrad_logits(load_model(ckpt)[0], x))
    assert parity.ok()


def test_a_model_too_big_for_the_board_is_refused_before_writing(tmp_path, capsys):
    from pico4ml.train.models import MLP, save_checkpoint
    ckpt = tmp_path / "wide.safetensors"
    save_checkpoint(MLP((784, 700, 10)), ckpt, {"architecture": "mlp784_700_10"})  # 2.2 MB of float weights
    out = tmp_path / "c"
    assert export_mod.main(["--checkpoint", str(ckpt), "--out-dir", str(out)]) == 2
    assert "flash" in capsys.readouterr().err
    assert not out.exists()
