"""Low-bit weights in model blobs (docs/model-format.md, format version 2): packed 4- and 2-bit
dense weights, the numpy reference and core/blob.c bit-exact on them, the validator refusing bad
bit widths, a fuzz run under ASan + UBSan from a 4-bit seed, and pico4ml-qat's straight-through
fake quantiser."""
from __future__ import annotations

import re
import struct
import subprocess

import numpy as np
import pytest

from conftest import host_build
from pico4ml.common.cbuild import SANITIZE_FLAGS
from pico4ml.common.paths import DEFAULT_CHECKPOINT, REPO_ROOT
from pico4ml.export import blob as B
from pico4ml.export.blob_host import BLOB_SOURCES, BlobRefused, HostBlob, library
from test_blob import ENV, _edit, _layer_field, relu_consts, reseal


@pytest.fixture(scope="module")
def lib():
    from pico4ml.common.cbuild import CompilerMissing
    try:
        return library()
    except CompilerMissing as e:
        pytest.skip(str(e))


def lowbit_mlp(rng, widths=(784, 24, 10), bits=(4, 4)) -> B.Blob:
    """flatten + dense RELU_U8 ... + dense LOGITS_I32 with random weights of the given bits."""
    layers = [B.Layer(B.FLATTEN, (28, 28, 1), (1, 1, 784))]
    for i, (n, m) in enumerate(zip(widths[:-1], widths[1:])):
        lo, hi = B.weight_range(bits[i])
        w = rng.integers(-hi, hi + 1, (n, m)).astype(np.int8)  # symmetric, so ReLUs are not all dead ...
        w[rng.random((n, m)) < 0.02] = lo                        # ... and some at the range's low end
        if i < len(widths) - 2:
            b, mult, cap = relu_consts(rng, m, int(2 * np.sqrt(n) * 128 * max(1, hi)))
            layers.append(B.Layer(B.DENSE, (1, 1, n), (1, 1, m), B.RELU_U8, 22, 0, w, b, mult, cap, bits[i]))
        else:
            layers.append(B.Layer(B.DENSE, (1, 1, n), (1, 1, m), B.LOGITS_I32, 0, 0, w,
                                  rng.integers(-10**4, 10**4, m).astype(np.int32),
                                  rng.integers(-127, 128, m).astype(np.int32), None, bits[i]))
    return B.Blob("lowbit-test", (28, 28, 1), layers)


# ---------------------------------------------------------------- packing, by the document

def test_packing_follows_the_document():
    # 4 bits: element e in bits 4e.., even e in the low nibble, two's complement
    assert B.pack_weights(np.array([1, -1, -8, 7, 3], np.int8), 4) == bytes([0xF1, 0x78, 0x03])
    # 2 bits: element e in bits 2e.. of its byte: 1 -> 01, -1 -> 11, -2 -> 10, 0 -> 00
    assert B.pack_weights(np.array([1, -1, -2, 0, -1], np.int8), 2) == bytes([0b00101101, 0b11])
    rng = np.random.default_rng(3)
    for bits in (4, 2):
        lo, hi = B.weight_range(bits)
        for n in (1, 3, 8, 10, 401):
            w = rng.integers(lo, hi + 1, n).astype(np.int8)
            assert np.array_equal(B.unpack_weights(B.pack_weights(w, bits), n, bits), w)


def test_a_4bit_mlp_blob_has_version_2_packed_weights_and_equals_the_integer_mlp(mnist):
    """The committed float MLP, quantised to 4-bit hidden weights (no QAT: the format's test,
    not an accuracy claim), exported: header version 2, layer byte 3 = 0x40, a weight tensor of
    784 * 400 / 2 bytes; its reference equals the integer MLP (quantize.int8_forward)."""
    from pico4ml.train.models import load_state
    from pico4ml.train.quantize import int8_forward, quantize
    state, _ = load_state(DEFAULT_CHECKPOINT)
    q = quantize(state, mnist[0][:2000], 99.99, hidden_qmax=7)
    q.metadata["weight_bits"] = [4, 8]
    assert np.abs(q.hidden[0].weight).max() == 7
    data = B.to_bytes(B.from_mlp(q, "mlp400-4bit"))
    assert struct.unpack_from("<4sH", data) == (b"P4MB", 2)
    rec = data[96 + 32:96 + 64]
    assert rec[3] == 0x40
    w_off, b_off = struct.unpack_from("<II", rec, 16)
    assert b_off - w_off == 784 * 400 // 2
    poff = struct.unpack_from("<I", data, 32)[0]
    first = np.frombuffer(data, np.uint8, 1, poff + w_off)[0]  # w[0][0] low nibble, w[0][1] high
    w = q.hidden[0].weight
    assert first == ((int(w[0, 0]) & 15) | (int(w[0, 1]) & 15) << 4)
    assert len(data) == 96 + 3 * 32 + 784 * 400 // 2 + 3 * 400 * 4 + 400 * 10 + 2 * 10 * 4 + 4
    x = mnist[2]
    ref = B.reference_forward(B.from_bytes(data), x)
    assert np.array_equal(ref, int8_forward(q, x))
    assert (ref.argmax(1) == mnist[3]).mean() > 0.9
    # an all-int8 model still writes version 1, byte for byte what a v1 runtime reads
    q.metadata["weight_bits"] = [8, 8]
    q8 = quantize(state, mnist[0][:2000], 99.99)
    assert struct.unpack_from("<H", B.to_bytes(B.from_mlp(q8, "mlp400")), 4)[0] == 1


# ---------------------------------------------------------------- C == reference

@pytest.mark.hostc
def test_c_runtime_equals_reference_on_the_4bit_mlp(lib, mnist):
    from pico4ml.train.models import load_state
    from pico4ml.train.quantize import quantize
    state, _ = load_state(DEFAULT_CHECKPOINT)
    q = quantize(state, mnist[0][:2000], 99.99, hidden_qmax=7)
    q.metadata["weight_bits"] = [4, 8]
    data = B.to_bytes(B.from_mlp(q, "mlp400-4bit"))
    x = mnist[2]
    assert np.array_equal(HostBlob(data, lib=lib)(x), B.reference_forward(B.from_bytes(data), x))


@pytest.mark.hostc
@pytest.mark.parametrize("widths,bits", [((784, 24, 10), (4, 4)),      # 8-aligned rows: word path; 10: nibbles
                                         ((784, 12, 10), (4, 8)),      # 12 % 8: the generic path
                                         ((784, 32, 16, 10), (2, 4, 2)),  # 2-bit word path, three layers
                                         ((784, 5, 10), (2, 2))])
def test_c_runtime_equals_reference_on_random_lowbit_blobs(widths, bits, lib, rng):
    blob = lowbit_mlp(rng, widths, bits)
    x = np.concatenate([rng.integers(0, 256, (30, 784), dtype=np.uint8), np.full((1, 784), 255, np.uint8),
                        np.zeros((1, 784), np.uint8), (rng.random((8, 784)) < 0.2) * rng.integers(1, 256, (8, 784))
                        ]).astype(np.uint8)
    data = B.to_bytes(blob)
    ref = B.reference_forward(blob, x)
    assert np.array_equal(B.reference_forward(B.from_bytes(data), x), ref)
    assert len({tuple(r) for r in ref}) > len(ref) // 2  # not degenerate: most inputs give their own logits
    assert np.array_equal(HostBlob(data, lib=lib)(x), ref)


# ---------------------------------------------------------------- refusals

def lowbit_cases(data: bytes) -> dict[str, tuple[bytes, str]]:
    """A version 2 blob (flatten, dense 4-bit 784->24, dense 4-bit 24->10) edited."""
    pbytes = struct.unpack_from("<I", data, 36)[0]
    return {
        "bits code 3": (reseal(_edit(data, _layer_field(1, 3), "<B", 0x30)), "LAYER"),
        "bits code 8": (reseal(_edit(data, _layer_field(1, 3), "<B", 0x80)), "LAYER"),
        "bits code 1": (reseal(_edit(data, _layer_field(2, 3), "<B", 0x10)), "LAYER"),
        "bits on a flatten": (reseal(_edit(data, _layer_field(0, 3), "<B", 0x40)), "LAYER"),
        "4-bit with pad": (reseal(_edit(data, _layer_field(1, 3), "<B", 0x41)), "LAYER"),
        "version 1 with 4-bit layers": (reseal(_edit(data, 4, "<H", 1)), "LAYER"),
        "version 3": (_edit(data, 4, "<H", 3), "VERSION"),
        # 784 * 24 / 2 bytes fit from here, the 784 * 24 an int8 reading would need do not
        "4-bit tensor read as 2x wider": (reseal(_edit(data, _layer_field(1, 3), "<B", 0x00)), "TENSOR"),
        "packed weights past the payload": (reseal(_edit(data, _layer_field(1, 16), "<I",
                                                         (pbytes - 784 * 24 // 2 + 4) & ~3)), "TENSOR"),
    }


@pytest.fixture(scope="module")
def lowbit_bytes():
    blob = lowbit_mlp(np.random.default_rng(11), (784, 24, 10), (4, 4))
    blob.layers[1].bias = np.zeros(24, np.int32)
    return B.to_bytes(blob)


def test_python_reader_refuses_bad_bit_widths(lowbit_bytes):
    B.from_bytes(lowbit_bytes)
    for name, (data, _) in lowbit_cases(lowbit_bytes).items():
        with pytest.raises(B.BlobError):
            B.from_bytes(data)
            pytest.fail(name)
    blob = lowbit_mlp(np.random.default_rng(1), (784, 8, 10), (4, 8))
    blob.layers[1].weight[0, 0] = 8  # not a 4-bit value
    with pytest.raises(B.BlobError, match="outside -8..7"):
        B.to_bytes(blob)
    blob.layers[1].weight[0, 0], blob.layers[1].weight_bits = 0, 3
    with pytest.raises(B.BlobError, match="3-bit"):
        B.to_bytes(blob)


@pytest.mark.hostc
@pytest.mark.parametrize("case", list(lowbit_cases(B.to_bytes(lowbit_mlp(np.random.default_rng(11))))))
def test_c_runtime_refuses_bad_bit_widths_with_their_reason(case, lowbit_bytes, lib):
    HostBlob(lowbit_bytes, lib=lib)
    data, status = lowbit_cases(lowbit_bytes)[case]
    with pytest.raises(BlobRefused) as e:
        HostBlob(data, lib=lib)
    assert e.value.name == status, str(e.value)


@pytest.mark.hostc
def test_overflow_bound_uses_the_weights_bits(lib, rng):
    """A bias the int8 bound refuses but the 4-bit bound (F * 255 * 8) allows: accepted, and
    the all-255 input does not overflow (the run is checked against the reference)."""
    blob = lowbit_mlp(rng, (784, 16, 10), (4, 8))
    blob.layers[1].bias[:] = 2**31 - 1 - 784 * 255 * 8
    data = B.to_bytes(blob)
    x = np.full((1, 784), 255, np.uint8)
    assert np.array_equal(HostBlob(data, lib=lib)(x), B.reference_forward(blob, x))
    blob.layers[1].bias[0] += 1
    with pytest.raises(B.BlobError, match="overflow"):
        B.to_bytes(blob)


@pytest.mark.hostc
def test_fuzzed_lowbit_blobs_never_crash_under_sanitizers(lowbit_bytes, tmp_path):
    exe = host_build("fuzz_blob", [REPO_ROOT / "tests" / "c" / "fuzz_blob.c", *BLOB_SOURCES], flags=SANITIZE_FLAGS)
    generic = lowbit_mlp(np.random.default_rng(5), (784, 12, 10), (2, 4))  # the per-weight path
    words2 = lowbit_mlp(np.random.default_rng(6), (784, 32, 10), (2, 2))   # 2-bit, 16 weights a word
    for data, iterations in ((lowbit_bytes, 6000), (B.to_bytes(generic), 3000), (B.to_bytes(words2), 3000)):
        path = tmp_path / "seed.blob"
        path.write_bytes(data)
        proc = subprocess.run([str(exe), str(path), str(iterations), "0xB17"], capture_output=True, text=True,
                              timeout=600, env=ENV)
        assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
        f = dict(re.findall(r"(\w+)=(\w+)", proc.stdout))
        assert f["invariants"] == "ok" and int(f["iterations"]) == iterations
        assert int(f["runs"]) > iterations // 20
        assert sum(int(f[f"s{s}"]) for s in (9, 10, 11, 12, 13)) > iterations // 20, proc.stdout


# ---------------------------------------------------------------- the fake quantiser

def test_fake_quant_is_on_the_grid_forward_and_straight_through_backward():
    from tinygrad import Tensor
    from pico4ml.train.qat import fake_quant, fake_quant_np
    w0 = np.array([[0.7, -0.33, 0.1, 0.0], [-2.0, 1.1, 0.26, -0.9]], np.float32)
    w = Tensor(w0)
    w.requires_grad = True
    out = fake_quant(w, 7)
    v = out.numpy()
    # per row: scale = max|w| / 7; row 0: 0.1 -> 7, -3, 1, 0; row 1: 2/7 -> -7, 3.85 -> 4, 0.91 -> 1, -3.15 -> -3
    assert np.allclose(v[0], [0.7, -0.3, 0.1, 0.0], atol=1e-6)
    assert np.allclose(v[1], np.array([-7, 4, 1, -3]) * 2.0 / 7, atol=1e-6)
    assert np.allclose(v, fake_quant_np(w0, 7), atol=1e-6)
    g = np.arange(8, dtype=np.float32).reshape(2, 4)
    (out * Tensor(g)).sum().backward()
    assert np.allclose(w.grad.numpy(), g)  # straight through: the identity's gradient


def test_qat_cli_writes_a_4bit_checkpoint_that_exports_as_a_version_2_blob(tmp_path, mnist, capsys):
    """pico4ml-qat end to end on a short run: every hidden weight on the 4-bit grid, the .json
    names the bits, pico4ml-export-blob packs it, and the blob computes the integer MLP."""
    from pico4ml.train import qat
    from pico4ml.train.quantize import int8_forward, load_quantized
    out = tmp_path / "q4_int8.safetensors"
    assert qat.main(["--arch", "mlp784_32_10", "--bits", "4", "--float-epochs", "1", "--epochs", "1", "--lr", "3e-3",
                     "--limit", "6000", "--no-augment",
                     "--out", str(out)]) == 0
    assert qat.main(["--arch", "mlp784_32_10", "--epochs", "1", "--out", str(out)]) == 2  # refuses to overwrite
    assert "exists" in capsys.readouterr().err
    q = load_quantized(out)
    assert q.metadata["weight_bits"] == [4, 8] and np.abs(q.hidden[0].weight).max() <= 7
    assert len(np.unique(q.hidden[0].weight)) > 8  # the grid is used, not collapsed
    blob_path = tmp_path / "q4.blob"
    assert B.main([str(out), "-o", str(blob_path)]) == 0
    data = blob_path.read_bytes()
    assert struct.unpack_from("<H", data, 4)[0] == 2 and data[96 + 32 + 3] == 0x40
    x = mnist[2][:500]
    out_ref = B.reference_forward(B.from_bytes(data), x)
    assert np.array_equal(out_ref, int8_forward(q, x))
    assert (out_ref.argmax(1) == mnist[3][:500]).mean() > 0.75  # learned something in two short epochs


@pytest.mark.cross
@pytest.mark.parametrize("widths,bits", [((784, 24, 10), (4, 4)), ((784, 12, 10), (2, 4)), ((784, 32, 10), (2, 2))])
def test_lowbit_blobs_run_bit_exact_on_the_emulated_rp2040(widths, bits, rng):
    """The word-at-a-time 4- and 2-bit paths and the generic one, in flash of a bare-metal Cortex-M0+ image (bench/blob.py's), in rp2040py."""
    import importlib.util
    from conftest import require_tool
    require_tool("arm-none-eabi-gcc")
    pytest.importorskip("rp2040py", reason="rp2040py not installed (pip install -e '.[dev]')")
    spec = importlib.util.spec_from_file_location("bench_blob", REPO_ROOT / "bench" / "blob.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    blob = lowbit_mlp(rng, widths, bits)
    data = B.to_bytes(blob)
    x = np.concatenate([rng.integers(0, 256, (2, 784)), np.full((1, 784), 255)]).astype(np.uint8)
    expected = B.reference_forward(blob, x)
    r = bench.run(f"blob_lowbit_{bits[0]}_{widths[1]}", bench.BLOB_C, "blob.h", bench.blob_prelude(data),
                  "blob_run(&bench_model, in, 784, out, 10, bench_scratch, sizeof bench_scratch);", x, expected,
                  3_000_000, "if (!bench_opened) { bench_opened = blob_open(&bench_model, bench_blob, "
                             "sizeof bench_blob, sizeof bench_scratch, 0, 0) == BLOB_OK; }")
    assert r["match"]
