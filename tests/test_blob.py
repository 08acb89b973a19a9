"""Model blobs (docs/model-format.md): pico4ml-export-blob, the numpy reference runner and the
C runtime core/blob.c. Round trip export -> C == numpy reference == built-in net_int8_fast()
on all MNIST test images; a CNN-shaped blob C == reference (the reference's convolution checked
against TinyGrad's); every corrupt-blob rule refused with its reason code; a fuzz run under
ASan + UBSan."""
from __future__ import annotations

import ctypes
import hashlib
import json
import re
import struct
import subprocess
import zlib

import numpy as np
import pytest

from conftest import host_build
from pico4ml.common.cbuild import SANITIZE_FLAGS
from pico4ml.common.paths import DEFAULT_CHECKPOINT, REPO_ROOT
from pico4ml.export import blob as B
from pico4ml.export.blob_host import BLOB_SOURCES, BlobRefused, HostBlob, library
from pico4ml.train.quantize import int8_forward, int8_path, load_quantized

INT8_MODEL = int8_path(DEFAULT_CHECKPOINT)
ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"}


@pytest.fixture(scope="module")
def q():
    return load_quantized(INT8_MODEL)


@pytest.fixture(scope="module")
def mlp_bytes(q, tmp_path_factory):
    out = tmp_path_factory.mktemp("blob") / "mlp.blob"
    assert B.main([str(INT8_MODEL), "-o", str(out)]) == 0
    return out.read_bytes()


@pytest.fixture(scope="module")
def lib():
    from pico4ml.common.cbuild import CompilerMissing
    try:
        return library()
    except CompilerMissing as e:
        pytest.skip(str(e))


def relu_consts(rng, k: int, acc_scale: float, shift: int = 22):
    """bias, mult, cap for a RELU_U8 layer whose typical accumulator is acc_scale (cap as in quantize.py)."""
    mult = np.maximum(1, np.round(255.0 / acc_scale * 2**shift * rng.uniform(0.5, 2.0, k))).astype(np.int64)
    cap = -(-(255 * 2**shift - 2 ** (shift - 1)) // mult)
    bias = rng.integers(-acc_scale // 4, acc_scale // 4, k)
    return bias.astype(np.int32), mult.astype(np.int32), cap.astype(np.int32)


def small_cnn(rng, c1: int = 4, c2: int = 8, hidden: int = 12) -> B.Blob:
    """28x28x1 -> conv3x3 pad 1 (c1) -> pool -> conv3x3 pad 0 (c2) -> pool -> flatten -> dense -> dense 10."""
    def w(*shape):
        return rng.integers(-127, 128, shape).astype(np.int8)
    layers = []
    shape = (28, 28, 1)

    def add(t, pad=0, k=0, mode=0, acc=0.0):
        nonlocal shape
        out = B.out_shape(t, shape, pad, k)
        l = B.Layer(t, shape, out, mode, 22 if mode == B.RELU_U8 else 0, pad)
        if t in (B.DENSE, B.CONV2D):
            l.weight = w(*((shape[2], k) if t == B.DENSE else (3, 3, shape[2], k)))
            if mode == B.RELU_U8:
                l.bias, l.mult, l.cap = relu_consts(rng, k, acc)
            else:
                l.bias = rng.integers(-10**5, 10**5, k).astype(np.int32)
                l.mult = rng.integers(-127, 128, k).astype(np.int32)
        layers.append(l)
        shape = out
    add(B.CONV2D, 1, c1, B.RELU_U8, 9 * 255 * 40)
    add(B.MAXPOOL)
    add(B.CONV2D, 0, c2, B.RELU_U8, 9 * c1 * 128 * 40)
    add(B.MAXPOOL)
    add(B.FLATTEN)
    add(B.DENSE, 0, hidden, B.RELU_U8, shape[2] * 128 * 40)
    add(B.DENSE, 0, 10, B.LOGITS_I32)
    return B.Blob("test-cnn", (28, 28, 1), layers)


def reseal(data: bytes) -> bytes:
    """Recompute the payload's SHA-256 and the CRC-32 after an edit (as a careless exporter would)."""
    b = bytearray(data)
    off, n = struct.unpack_from("<II", b, 32)
    b[64:96] = hashlib.sha256(bytes(b[off:off + n])).digest()
    total = struct.unpack_from("<I", b, 8)[0]
    struct.pack_into("<I", b, total - 4, zlib.crc32(bytes(b[:total - 4])))
    return bytes(b)


# ---------------------------------------------------------------- format and reference

def test_mlp_blob_layout_follows_the_document(mlp_bytes, q):
    magic, version, hbytes, total, n = struct.unpack_from("<4sHHIH", mlp_bytes)
    assert (magic, version, hbytes, total, n) == (b"P4MB", 1, 96, len(mlp_bytes), 3)
    assert struct.unpack_from("<3H3H", mlp_bytes, 16) == (28, 28, 1, 1, 1, 10)
    scratch, poff, pbytes = struct.unpack_from("<III", mlp_bytes, 28)
    assert scratch == 2 * 400 + 4 * 400 and poff == 96 + 3 * 32 and poff + pbytes + 4 == total
    assert struct.unpack_from("<f", mlp_bytes, 60)[0] == np.float32(q.output.out_scale)  # logit scale
    assert mlp_bytes[64:96] == hashlib.sha256(mlp_bytes[poff:poff + pbytes]).digest()
    assert struct.unpack_from("<I", mlp_bytes, total - 4)[0] == zlib.crc32(mlp_bytes[:total - 4])
    # layer 1: dense 784 -> 400, RELU_U8, shift 22; its weights are the int8 model's, input-major
    t, mode, shift, pad, *shapes_offs = struct.unpack_from("<BBBB3H3HIIII", mlp_bytes, 96 + 32)
    assert (t, mode, shift, pad) == (B.DENSE, B.RELU_U8, 22, 0) and shapes_offs[:6] == [1, 1, 784, 1, 1, 400]
    w_off = shapes_offs[6]
    w = np.frombuffer(mlp_bytes, np.int8, 784 * 400, poff + w_off).reshape(784, 400)
    assert np.array_equal(w, q.hidden[0].weight)
    assert all(o % 4 == 0 for o in shapes_offs[6:])
    # total = header + table + tensors (padded to 4) + CRC, nothing else
    assert total == 96 + 3 * 32 + q.weight_bytes + 4


def test_reference_runner_equals_the_int8_mlp_on_all_mnist_test_images(mlp_bytes, q, mnist):
    x = mnist[2]
    out = B.reference_forward(B.from_bytes(mlp_bytes), x)
    assert np.array_equal(out, int8_forward(q, x))
    assert (out.argmax(1) == mnist[3]).mean() >= 0.98


def test_reference_convolution_equals_tinygrads(rng):
    from tinygrad import Tensor
    x = rng.integers(0, 256, (2, 9, 7, 3)).astype(np.int64)
    w = rng.integers(-127, 128, (3, 3, 3, 5)).astype(np.int8)
    for pad in (0, 1):
        ref = B._conv3x3(x, w, pad)
        tg = Tensor(x.transpose(0, 3, 1, 2).astype(np.float32)).conv2d(
            Tensor(w.transpose(3, 2, 0, 1).astype(np.float32)), padding=pad).numpy()
        assert np.array_equal(ref, tg.transpose(0, 2, 3, 1).astype(np.int64))


def test_cnn_blob_round_trips_through_bytes(rng):
    blob = small_cnn(rng)
    data = B.to_bytes(blob)
    back = B.from_bytes(data)
    assert [l.out_shape for l in back.layers] == [(28, 28, 4), (14, 14, 4), (12, 12, 8), (6, 6, 8), (1, 1, 288),
                                                 (1, 1, 12), (1, 1, 10)]
    x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    assert np.array_equal(B.reference_forward(back, x), B.reference_forward(blob, x))


def test_maxpool_takes_the_max_of_each_2x2_and_drops_an_odd_edge():
    layers = [B.Layer(B.MAXPOOL, (3, 5, 1), (1, 2, 1)), B.Layer(B.FLATTEN, (1, 2, 1), (1, 1, 2)),
              B.Layer(B.DENSE, (1, 1, 2), (1, 1, 2), B.LOGITS_I32, 0, 0, np.eye(2, dtype=np.int8),
                      np.zeros(2, np.int32), np.ones(2, np.int32))]
    x = np.array([[[1, 9, 3, 4, 200], [5, 2, 8, 7, 201], [250, 250, 250, 250, 250]]], np.uint8)
    assert B.reference_forward(B.Blob("pool", (3, 5, 1), layers), x).tolist() == [[9, 8]]


# ---------------------------------------------------------------- C runtime == reference == built-in

@pytest.mark.hostc
def test_c_sha256_equals_hashlib(lib, rng):
    for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 4099):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        digest = ctypes.create_string_buffer(32)
        lib.sha256(data, ctypes.c_size_t(n), digest)
        assert digest.raw == hashlib.sha256(data).digest(), n


@pytest.mark.hostc
def test_c_runtime_equals_reference_and_net_int8_fast_on_all_mnist_test_images(mlp_bytes, lib, mnist):
    from pico4ml.export.int8_host import HostInt8Net
    x = mnist[2]
    hb = HostBlob(mlp_bytes, lib=lib)
    assert hb.name == "mlp784_400_10-int8" and hb.model.scratch_bytes == 2400
    assert hb.model.output_scale == np.float32(B.from_bytes(mlp_bytes).output_scale)
    out = hb(x)
    assert out.shape == (10000, 10)
    assert np.array_equal(out, B.reference_forward(B.from_bytes(mlp_bytes), x))
    assert np.array_equal(out, HostInt8Net("net_int8_fast")(x))


@pytest.mark.hostc
def test_c_runtime_equals_reference_on_extreme_inputs(mlp_bytes, lib, rng):
    x = np.concatenate([np.full((1, 784), 255, np.uint8), np.zeros((1, 784), np.uint8),
                        np.eye(1, 784, 783, dtype=np.uint8) * 7, rng.integers(0, 256, (20, 784), dtype=np.uint8)])
    assert np.array_equal(HostBlob(mlp_bytes, lib=lib)(x), B.reference_forward(B.from_bytes(mlp_bytes), x))


@pytest.mark.hostc
@pytest.mark.parametrize("widths", [(4, 8, 12), (3, 5, 10), (1, 2, 7)])  # word loads and byte loads
def test_c_runtime_equals_reference_on_cnn_blobs(widths, lib, rng):
    blob = small_cnn(rng, *widths)
    x = np.concatenate([rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), np.full((1, 28, 28), 255, np.uint8),
                        np.zeros((1, 28, 28), np.uint8)])
    ref = B.reference_forward(blob, x)
    assert len({tuple(r) for r in ref}) == len(ref)  # not a degenerate net: every input gives its own logits
    assert np.array_equal(HostBlob(B.to_bytes(blob), lib=lib)(x), ref)


# ---------------------------------------------------------------- refusals

def _edit(data: bytes, at: int, fmt: str, value) -> bytes:
    b = bytearray(data)
    struct.pack_into(fmt, b, at, value)
    return bytes(b)


def _layer_field(i: int, field: int) -> int:
    return 96 + 32 * i + field


def corrupt_cases(data: bytes) -> dict[str, tuple[bytes, str]]:
    """name -> (blob, expected status) for a CNN blob: layers flatten=4, dense=5, logits=6."""
    total = len(data)
    poff, pbytes = struct.unpack_from("<II", data, 32)
    bias_off = struct.unpack_from("<I", data, _layer_field(5, 20))[0]
    mult_off = struct.unpack_from("<I", data, _layer_field(5, 24))[0]
    flipped = bytearray(data)
    flipped[poff + 10] ^= 0x40
    return {
        "empty": (b"", "TRUNCATED"),
        "header only": (data[:96], "TRUNCATED"),
        "cut in the payload": (data[:total // 2], "TRUNCATED"),
        "last byte missing": (data[:-1], "TRUNCATED"),
        "bad magic": (b"P4MX" + data[4:], "MAGIC"),
        "version 3": (_edit(data, 4, "<H", 3), "VERSION"),
        "version 0": (_edit(data, 4, "<H", 0), "VERSION"),
        "oversized total": (_edit(data, 8, "<I", (1 << 20) + 4), "TOO_BIG"),
        "too many layers": (_edit(data, 12, "<H", 33), "TOO_BIG"),
        "flags set": (reseal(_edit(data, 14, "<H", 1)), "HEADER"),
        "payload offset off": (reseal(_edit(data, 32, "<I", poff + 4)), "HEADER"),
        "name without NUL": (reseal(data[:40] + b"x" * 20 + data[60:]), "HEADER"),
        "output scale 0": (reseal(_edit(data, 60, "<f", 0.0)), "HEADER"),
        "output scale NaN": (reseal(_edit(data, 60, "<f", float("nan"))), "HEADER"),
        "output scale negative": (reseal(_edit(data, 60, "<f", -1.0)), "HEADER"),
        "crc wrong": (data[:-4] + bytes(4), "CRC"),
        "weight bit flipped": (bytes(flipped), "CRC"),
        "sha wrong": (reseal(bytes(flipped))[:64] + bytes(32) + reseal(bytes(flipped))[96:], "CRC"),
        "sha of other weights": (_crc_only(bytes(flipped)), "SHA"),
        "unknown layer type": (reseal(_edit(data, _layer_field(2, 0), "<B", 9)), "LAYER"),
        "unknown mode": (reseal(_edit(data, _layer_field(5, 1), "<B", 3)), "LAYER"),
        "shift 31": (reseal(_edit(data, _layer_field(5, 2), "<B", 31)), "LAYER"),
        "conv pad 2": (reseal(_edit(data, _layer_field(0, 3), "<B", 2)), "LAYER"),
        "4-bit weights in a version 1 blob": (reseal(_edit(data, _layer_field(5, 3), "<B", 0x40)), "LAYER"),
        "logits not last": (reseal(_edit(data, _layer_field(5, 1), "<B", B.LOGITS_I32)), "LAYER"),
        "pool with a tensor": (reseal(_edit(data, _layer_field(1, 16), "<I", 0)), "LAYER"),
        "shapes do not chain": (reseal(_edit(data, _layer_field(3, 4), "<H", 7)), "SHAPE"),
        "conv output wrong": (reseal(_edit(data, _layer_field(0, 10), "<H", 27)), "SHAPE"),
        "dense input not flat": (reseal(_edit(_edit(data, _layer_field(4, 10), "<H", 288),
                                              _layer_field(4, 14), "<H", 1)), "SHAPE"),
        "zero width": (reseal(_edit(data, 16, "<H", 0)), "SHAPE"),
        "header output shape": (reseal(_edit(data, 26, "<H", 11)), "SHAPE"),
        "tensor past the payload": (reseal(_edit(data, _layer_field(5, 20), "<I", pbytes - 4)), "TENSOR"),
        "tensor misaligned": (reseal(_edit(data, _layer_field(5, 20), "<I", bias_off + 1)), "TENSOR"),
        "tensor missing": (reseal(_edit(data, _layer_field(6, 16), "<I", 0xFFFFFFFF)), "TENSOR"),
        "bias could overflow": (reseal(_edit(data, poff + bias_off, "<i", 2**31 - 1000)), "OVERFLOW"),
        "negative mult": (reseal(_edit(data, poff + mult_off, "<i", -1)), "OVERFLOW"),
        "scratch_bytes wrong": (reseal(_edit(data, 28, "<I", 100)), "SCRATCH"),
    }


def _crc_only(data: bytes) -> bytes:
    total = len(data)
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:total - 4]))


@pytest.fixture(scope="module")
def cnn_bytes():
    return B.to_bytes(small_cnn(np.random.default_rng(7)))


def test_every_corrupt_case_is_refused_by_the_python_reader(cnn_bytes):
    for name, (data, _) in corrupt_cases(cnn_bytes).items():
        with pytest.raises(B.BlobError):
            B.from_bytes(data)
            pytest.fail(name)


@pytest.mark.hostc
@pytest.mark.parametrize("case", list(corrupt_cases(B.to_bytes(small_cnn(np.random.default_rng(7))))))
def test_c_runtime_refuses_each_corrupt_case_with_its_reason(case, cnn_bytes, lib):
    HostBlob(cnn_bytes, lib=lib)  # the unedited blob is accepted
    data, status = corrupt_cases(cnn_bytes)[case]
    with pytest.raises(BlobRefused) as e:
        HostBlob(data, lib=lib)
    assert e.value.name == status, str(e.value)
    assert e.value.reason and len(e.value.reason) < 96


@pytest.mark.hostc
def test_scratch_beyond_the_budget_and_misaligned_data_are_refused(mlp_bytes, lib):
    HostBlob(mlp_bytes, scratch_budget=2400, lib=lib)
    with pytest.raises(BlobRefused, match="SCRATCH.*2400 bytes of scratch, the budget is 2399"):
        HostBlob(mlp_bytes, scratch_budget=2399, lib=lib)
    from pico4ml.export.blob_host import _Error, _Model
    buf = np.zeros(len(mlp_bytes) + 8, np.uint8)
    buf[1:1 + len(mlp_bytes)] = np.frombuffer(mlp_bytes, np.uint8)
    err = _Error()
    assert lib.blob_open(ctypes.byref(_Model()), buf.ctypes.data + 1, len(mlp_bytes), 1 << 20, 1,
                         ctypes.byref(err)) == 1
    assert b"aligned" in err.message


@pytest.mark.hostc
def test_blob_run_refuses_wrong_buffer_sizes(cnn_bytes, lib):
    hb = HostBlob(cnn_bytes, lib=lib)
    m, x = hb.model, np.zeros(784, np.uint8)
    out, scratch = np.zeros(10, np.int32), np.zeros(m.scratch_bytes // 4, np.uint32)
    run = lambda n_in, n_out, n_scratch: lib.blob_run(ctypes.byref(m), x.ctypes.data, n_in, out.ctypes.data, n_out,  # noqa: E731
                                                      scratch.ctypes.data, n_scratch)
    assert run(784, 10, m.scratch_bytes) == 0
    assert run(783, 10, m.scratch_bytes) == 1 and run(784, 9, m.scratch_bytes) == 1
    assert run(784, 10, m.scratch_bytes - 1) == 1


@pytest.mark.hostc
def test_fuzzed_blobs_never_crash_under_sanitizers(cnn_bytes, mlp_bytes, tmp_path):
    exe = host_build("fuzz_blob", [REPO_ROOT / "tests" / "c" / "fuzz_blob.c", *BLOB_SOURCES], flags=SANITIZE_FLAGS)
    for data, iterations in ((cnn_bytes, 30000), (mlp_bytes, 300)):
        path = tmp_path / "seed.blob"
        path.write_bytes(data)
        proc = subprocess.run([str(exe), str(path), str(iterations), "0xC0FFEE"], capture_output=True, text=True,
                              timeout=600, env=ENV)
        assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
        f = dict(re.findall(r"(\w+)=(\w+)", proc.stdout))
        assert f["invariants"] == "ok" and int(f["iterations"]) == iterations
        assert int(f["runs"]) > iterations // 20  # accepted mutants did run
        # the resealed mutants reached the deep checks, not just the CRC
        deep = sum(int(f[f"s{s}"]) for s in (9, 10, 11, 12, 13))
        assert int(f["s7"]) > 0 and int(f["s8"]) > 0 and int(f["s2"]) > 0 and deep > iterations // 20, proc.stdout


# ---------------------------------------------------------------- the command line

def test_cli_exports_a_layer_description_checkpoint(tmp_path, rng):
    from safetensors.numpy import save_file
    blob = small_cnn(rng)
    tensors, desc = {}, []
    names = {B.DENSE: "dense", B.CONV2D: "conv2d", B.MAXPOOL: "maxpool", B.FLATTEN: "flatten"}
    for i, l in enumerate(blob.layers):
        d = {"type": names[l.type]}
        if l.type in (B.DENSE, B.CONV2D):
            d |= {"tensors": f"l{i}", "mode": "relu" if l.mode == B.RELU_U8 else "logits", "shift": l.shift,
                  "pad": l.pad}
            for t in ("weight", "bias", "mult") + (("cap",) if l.mode == B.RELU_U8 else ()):
                tensors[f"l{i}.{t}"] = np.ascontiguousarray(getattr(l, t))
        desc.append(d)
    save_file(tensors, str(tmp_path / "cnn.safetensors"))
    (tmp_path / "cnn.json").write_text(json.dumps({"architecture": "test-cnn", "blob_layers": desc}))
    out = tmp_path / "cnn.blob"
    assert B.main([str(tmp_path / "cnn.safetensors"), "-o", str(out)]) == 0
    assert out.read_bytes() == B.to_bytes(blob)


def test_cli_refuses_bad_input_with_a_message(tmp_path, capsys, mlp_bytes):
    out = tmp_path / "m.blob"
    assert B.main([str(tmp_path / "missing.safetensors"), "-o", str(out)]) == 2
    assert "not found" in capsys.readouterr().err
    out.write_bytes(b"old")
    assert B.main([str(INT8_MODEL), "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == b"old"
    (tmp_path / "bad.json").write_text(json.dumps([{"type": "conv5x5"}]))
    assert B.main([str(INT8_MODEL), "-o", str(tmp_path / "x.blob"), "--layers", str(tmp_path / "bad.json")]) == 2
    assert "conv5x5" in capsys.readouterr().err


def test_console_script_is_installed():
    proc = subprocess.run(["pico4ml-export-blob", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "docs/model-format.md" in proc.stdout


@pytest.mark.cross
def test_blob_runs_bit_exact_on_the_emulated_rp2040(mlp_bytes, mnist):
    """The blob in flash of a bare-metal Cortex-M0+ image (bench/blob.py's), run in rp2040py."""
    import importlib.util
    from conftest import require_tool
    require_tool("arm-none-eabi-gcc")
    pytest.importorskip("rp2040py", reason="rp2040py not installed (pip install -e '.[dev]')")
    spec = importlib.util.spec_from_file_location("bench_blob", REPO_ROOT / "bench" / "blob.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    x = mnist[2][:2].reshape(2, -1)
    expected = B.reference_forward(B.from_bytes(mlp_bytes), x)
    r = bench.run("blob_mlp_test", bench.BLOB_C, "blob.h", bench.blob_prelude(mlp_bytes),
                  "blob_run(&bench_model, in, 784, out, 10, bench_scratch, sizeof bench_scratch);", x, expected,
                  3_000_000, "if (!bench_opened) { bench_opened = blob_open(&bench_model, bench_blob, "
                             "sizeof bench_blob, sizeof bench_scratch, 0, 0) == BLOB_OK; }")
    assert r["match"] and 50_000 < r["mean"] < 3_000_000


def test_int8_cnn_checkpoint_as_a_blob_equals_its_reference(rng, tmp_path):
    """The int8 CNN of train/quantize_cnn.py (issue 12 part 1) -> blob: the blob's reference and
    the C runtime equal cnn_int8_forward, the CNN's own ground truth (written independently, in
    (C, H, W) order with Conv2d weights)."""
    qc = pytest.importorskip("pico4ml.train.quantize_cnn", reason="the int8 CNN (train/quantize_cnn.py) not merged")
    from pico4ml.train.quantize import HiddenLayer, OutputLayer

    def relu(k, acc):
        b, m, c = relu_consts(rng, k, acc)
        return b, c, m
    convs, c_in, side = [], 1, 28
    for c_out in (6, 12):
        w = rng.integers(-127, 128, (c_out, c_in, 3, 3)).astype(np.int8)
        b, cap, m = relu(c_out, 9 * c_in * 128 * 60)
        convs.append(qc.ConvLayer(w, b, cap, m, 1.0))
        c_in, side = c_out, (side - 2) // 2
    n = c_in * side * side
    b, cap, m = relu(20, n * 128 * 30)
    hidden = [HiddenLayer(rng.integers(-127, 128, (n, 20)).astype(np.int8), b, cap, m, np.ones(20), 1.0)]
    out = OutputLayer(rng.integers(-127, 128, (20, 10)).astype(np.int8), rng.integers(-9999, 9999, 10).astype(np.int32),
                      rng.integers(1, 128, 10).astype(np.int32), 1e-4)
    q = qc.QuantizedCNN(convs, hidden, out)
    x = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    want = qc.cnn_int8_forward(q, x)
    blob = B.from_cnn(q, "cnn-test")
    assert [l.out_shape for l in blob.layers][:4] == [(26, 26, 6), (13, 13, 6), (11, 11, 12), (5, 5, 12)]
    assert np.array_equal(B.reference_forward(blob, x), want)
    data = B.to_bytes(blob)
    assert B.from_bytes(data).output_scale == np.float32(1e-4)
    try:
        assert np.array_equal(HostBlob(data)(x), want)
    except Exception as e:  # noqa: BLE001 -- only a missing compiler may skip
        from pico4ml.common.cbuild import CompilerMissing
        if isinstance(e, CompilerMissing):
            pytest.skip(str(e))
        raise
