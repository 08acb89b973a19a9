"""Model upload end to end: pico4ml-upload sends a blob to the host twin over a real pty; the
twin's RESULTs switch to the new model's answers (checked against the numpy blob reference on
the INPUT28 the twin reports), HELLO names it, it survives a twin restart (the region file),
and an upload cut in the middle leaves the model that ran."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from conftest import read_until

from pico4ml.common import protocol as P
from pico4ml.export import blob as B

serial = pytest.importorskip("serial")
pytestmark = pytest.mark.hostc




def hello(port) -> P.Hello:
    dec, enc = P.Decoder(), P.Encoder()
    port.write(enc.encode(P.Ping(P.PING_WANT_HELLO, 1)))
    msgs = read_until(port, dec, lambda ms: any(isinstance(m, P.Hello) for m in ms))
    return next(m for m in msgs if isinstance(m, P.Hello))


def inject(port, image: np.ndarray) -> tuple[P.Input28, P.Result]:
    """The twin's answer to one INJECT: the 28x28 its net saw and the RESULT."""
    dec, enc = P.Decoder(), P.Encoder()
    enc.seq = 1000
    cmd = P.Inject(image.shape[1], image.shape[0], image.tobytes())
    port.write(enc.encode(cmd))

    def done(ms):
        return any(isinstance(m, P.Result) and m.flags & P.FLAG_INJECTED and m.frame_id == cmd.seq for m in ms)
    msgs = read_until(port, dec, done)
    inp = next(m for m in msgs if isinstance(m, P.Input28) and m.frame_id == cmd.seq)
    res = next(m for m in msgs if isinstance(m, P.Result) and m.frame_id == cmd.seq)
    return inp, res


@pytest.fixture(scope="module")
def blobs():
    import sys
    from pico4ml.common.paths import DEFAULT_CHECKPOINT, REPO_ROOT
    from pico4ml.train.quantize import int8_path, load_quantized
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from test_blob import small_cnn
    cnn = small_cnn(np.random.default_rng(11))
    cnn.output_scale = 1e-5
    mlp = B.from_mlp(load_quantized(int8_path(DEFAULT_CHECKPOINT)), "mlp-upload")
    return cnn, mlp


@pytest.fixture(scope="module")
def digit(mnist):
    from pico4ml.train import camera_sim
    return camera_sim.render_handwritten(mnist[2][0], np.random.default_rng(3), size=162)


def expected_logits(blob: B.Blob, inp: P.Input28) -> np.ndarray:
    x = np.frombuffer(inp.pixels, np.uint8).reshape(1, 28, 28)
    return B.reference_forward(blob, x)[0].astype(np.float32) * np.float32(blob.output_scale)


def test_upload_switches_the_model_survives_a_restart_and_a_cut_upload_keeps_it(tmp_path, blobs, digit):
    from pico4ml.host_gui import upload
    from pico4ml.host_twin.twin import start_twin
    cnn, mlp = blobs
    cnn_path = tmp_path / "cnn.blob"
    cnn_path.write_bytes(B.to_bytes(cnn))
    region = tmp_path / "region.bin"
    kw = dict(port="pty", fps=5, hello_ms=0, model_region=region)

    with start_twin(**kw) as twin:
        with serial.Serial(twin.path, timeout=0.05) as port:
            h = hello(port)
            builtin_name = h.model_name
            assert builtin_name.startswith("mlp784_400_10")
            _, before = inject(port, digit)
        # the real command line, over the pty
        assert upload.main([str(cnn_path), "--port", twin.url, "--chunk", "1000", "--quiet"]) == 0
        with serial.Serial(twin.path, timeout=0.05) as port:
            h = hello(port)
            assert h.model_name == "test-cnn" and h.model_kind == P.MODEL_INT8
            sha = B.from_bytes(cnn_path.read_bytes()).sha256.hex()
            assert h.weights_hash == sha[:16]
            inp, after = inject(port, digit)
        assert np.allclose(after.logits, expected_logits(cnn, inp), rtol=1e-6, atol=0)
        assert not np.allclose(after.logits, before.logits)
        assert twin.alive

    with start_twin(**kw) as twin:  # a restart: the committed blob runs from start-up on
        with serial.Serial(twin.path, timeout=0.05) as port:
            assert hello(port).model_name == "test-cnn"
            inp, res = inject(port, digit)
            assert np.allclose(res.logits, expected_logits(cnn, inp), rtol=1e-6, atol=0)
            # now an upload of the MLP blob, cut after half of it
            data = B.to_bytes(mlp)
            s = upload._Session(port, 5.0)
            st = s.ask(P.BlobBegin(len(data), data[64:96]))
            assert st.result == P.BLOB_UP_OK and st.receiving == 1 and st.active == 1
            for off in range(0, len(data) // 2, 8192):
                st = s.ask(P.BlobChunk(off, data[off:off + 8192]))
                assert st.result == P.BLOB_UP_OK
            assert st.received == len(data) // 2 // 8192 * 8192 + 8192
            inp, res = inject(port, digit)  # still the CNN while the upload is under way
            assert np.allclose(res.logits, expected_logits(cnn, inp), rtol=1e-6, atol=0)
        # the twin is stopped mid-upload (as a board losing power or the host going away)

    with start_twin(**kw) as twin:
        with serial.Serial(twin.path, timeout=0.05) as port:
            assert hello(port).model_name == "test-cnn"
            s = upload._Session(port, 5.0)
            st = s.ask(P.BlobQuery())
            assert st.active == 1 and st.receiving == 0 and st.model_name == "test-cnn"
            # a whole upload with a wrong CRC at COMMIT is refused: the CNN still runs
            data = B.to_bytes(mlp)
            assert s.ask(P.BlobBegin(len(data), data[64:96])).result == P.BLOB_UP_OK
            for off in range(0, len(data), 16384):
                s.ask(P.BlobChunk(off, data[off:off + 16384]))
            st = s.ask(P.BlobCommit(zlib.crc32(data) ^ 1))
            assert st.result == P.BLOB_UP_CRC and st.model_name == "test-cnn"
            # and through upload(): the MLP blob now runs and answers as the built-in net
            r = upload.upload(port, data, chunk=30000)
            assert r.status.model_name == "mlp-upload" and r.hello is not None and r.hello.model_name == "mlp-upload"
            _, res = inject(port, digit)
            assert np.allclose(res.logits, before.logits, rtol=1e-6, atol=0)  # the same int8 MLP as built in


def test_upload_refuses_bad_models_and_a_twin_without_a_store(tmp_path, capsys):
    from pico4ml.host_gui import upload
    from pico4ml.host_twin.twin import start_twin
    bad = tmp_path / "bad.blob"
    bad.write_bytes(b"P4MB" + bytes(200))
    assert upload.main([str(bad), "--port", "/dev/null"]) == 2
    assert "version" in capsys.readouterr().err
    assert upload.main([str(tmp_path / "none.blob"), "--port", "/dev/null"]) == 2
    good = tmp_path / "good.blob"
    import sys
    from pico4ml.common.paths import REPO_ROOT
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from test_blob import small_cnn
    good.write_bytes(B.to_bytes(small_cnn(np.random.default_rng(1))))
    with start_twin(port="pty", fps=5, hello_ms=0) as twin:  # no --model-region
        assert upload.main([str(good), "--port", twin.url, "--timeout", "3"]) == 1
        assert "UNSUPPORTED" in capsys.readouterr().err.upper()


def test_the_guis_sim_twin_has_a_model_store_that_a_restart_keeps():
    """pico4ml-gui --sim: the 'model' panel's uploads need the twin's region; a restart of the
    twin within the session (the same args) keeps the same region file."""
    import argparse

    from pico4ml.host_gui import cli, upload
    args = cli.add_common(argparse.ArgumentParser()).parse_args(["--sim", "--sim-fps", "5"])
    with cli.start_sim(args) as twin:
        with serial.Serial(twin.path, timeout=0.05) as port:
            st = upload._Session(port, 5.0).ask(P.BlobQuery())
            assert st.result == P.BLOB_UP_OK and st.active == 0 and st.capacity > 300_000
    first = args.sim_model_region
    assert first.is_file()
    with cli.start_sim(args):
        assert args.sim_model_region == first
