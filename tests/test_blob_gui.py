"""The GUI's "upload model" action (host_gui/controls/model.py): what it sends, step by step,
as the board's BLOB_STATUS answers come in, its progress bar, and how it reports a refusal, a
lost board and a bad file. The board's answers are written here as docs/protocol.md (section 8)
says a device answers."""
from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import pytest

dpg = pytest.importorskip("dearpygui.dearpygui", reason="Dear PyGui not installed")

from gui_helpers import feed, fire, type_into  # noqa: E402
from pico4ml.common import protocol as P  # noqa: E402
from pico4ml.export import blob as B  # noqa: E402
from pico4ml.host_gui import synthetic as S  # noqa: E402
from pico4ml.host_gui.link import LinkStatus  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def blob_file(tmp_path):
    from test_blob import small_cnn
    path = tmp_path / "cnn.blob"
    path.write_bytes(B.to_bytes(small_cnn(np.random.default_rng(2), 8, 16, 32)))
    return path


def board(app, max_command_bytes: int) -> None:
    hello = dataclasses.replace(S.hello(), max_command_bytes=max_command_bytes)
    feed(app, [LinkStatus("connected", "connected to /dev/pts/7", "/dev/pts/7", n=1), hello])


def answer(app, **fields) -> None:
    """The board's BLOB_STATUS, then one render frame (the control sends its next step)."""
    app.source.pending.append((app.state.now + 0.01, P.BlobStatus(**fields)))
    app.update()


def test_upload_sends_begin_chunks_in_order_and_commit_with_progress(gui_app, blob_file):
    data = blob_file.read_bytes()
    board(gui_app, 4096)
    type_into("model_path", str(blob_file))
    fire("model_upload")
    begin = gui_app.source.sent_of(P.BlobBegin)
    assert len(begin) == 1 and begin[0].total_bytes == len(data) and begin[0].weights_sha256 == data[64:96]
    received = 0
    answer(gui_app, receiving=1, total=len(data), capacity=500_000)
    while True:
        chunks = gui_app.source.sent_of(P.BlobChunk)
        last = chunks[-1]
        assert last.offset == received and len(last.data) <= 4096 - P.OVERHEAD - 4
        assert last.data == data[received:received + len(last.data)]
        received += len(last.data)
        if received == len(data):
            break
        answer(gui_app, receiving=1, received=received, total=len(data))
        assert 0 < dpg.get_value("model_progress") < 1
    assert not gui_app.source.sent_of(P.BlobCommit)
    answer(gui_app, receiving=1, received=received, total=len(data))
    commit = gui_app.source.sent_of(P.BlobCommit)
    assert len(commit) == 1 and commit[0].crc32 == zlib.crc32(data)
    answer(gui_app, active=1, received=received, total=len(data), active_seq=3, name=b"test-cnn".ljust(24, b"\0"))
    assert dpg.get_value("model_progress") == 1.0
    assert "'test-cnn' runs on the board (commit #3)" in gui_app.message
    assert b"".join(c.data for c in gui_app.source.sent_of(P.BlobChunk)) == data  # each byte once, in order


def test_a_resend_after_a_lost_chunk_follows_the_boards_count(gui_app, blob_file):
    data = blob_file.read_bytes()
    board(gui_app, 10_000)
    type_into("model_path", str(blob_file))
    fire("model_upload")
    answer(gui_app, receiving=1, total=len(data))
    first = gui_app.source.sent_of(P.BlobChunk)[-1]
    # the board says it holds only 100 bytes (OFFSET): the next chunk starts there
    answer(gui_app, receiving=1, result=P.BLOB_UP_OFFSET, received=100, total=len(data))
    assert gui_app.source.sent_of(P.BlobChunk)[-1].offset == 100 and first.offset == 0


def test_refusal_lost_board_and_bad_files_are_reported(gui_app, blob_file, tmp_path, monkeypatch):
    data = blob_file.read_bytes()
    board(gui_app, P.MAX_PACKET)
    type_into("model_path", str(blob_file))
    fire("model_upload")
    answer(gui_app, receiving=1, total=len(data))  # one chunk holds it all
    answer(gui_app, receiving=1, received=len(data), total=len(data))
    answer(gui_app, result=P.BLOB_UP_INVALID, blob_status=10, received=len(data), total=len(data))
    assert "upload failed" in gui_app.message and "runtime refused" in gui_app.message
    assert "previous model still runs" in dpg.get_value("model_state")
    # a board that stops answering
    from pico4ml.host_gui.controls import model
    monkeypatch.setattr(model, "ANSWER_TIMEOUT_S", 0.0)
    fire("model_upload")
    gui_app.update()
    assert "no answer from the board" in gui_app.message
    # files that are not models
    bad = tmp_path / "bad.blob"
    bad.write_bytes(b"P4MB" + bytes(300))
    type_into("model_path", str(bad))
    n = len(gui_app.source.sent)
    fire("model_upload")
    assert "upload model" in gui_app.message and "version" in gui_app.message and len(gui_app.source.sent) == n
    type_into("model_path", str(tmp_path / "missing.blob"))
    fire("model_upload")
    assert "no such file" in gui_app.message
