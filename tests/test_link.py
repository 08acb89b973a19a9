"""Link layer over a real pseudo-terminal and a real TCP socket (socket://).

A small fake device (the protocol encoder writing to the pty master / socket) stands in for
the board, so these tests need neither the host twin nor a display.
"""
from __future__ import annotations

import os
import socket
import threading
import time
import tty

import numpy as np
import pytest

from pico4ml.host_gui import link as L
from pico4ml.common import protocol as P


def wait_for(pred, timeout=5.0, step=0.01):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return False


class Drain:
    """Collects everything a Link delivers."""

    def __init__(self, link: L.Link) -> None:
        self.link = link
        self.items: list = []

    def pump(self) -> list:
        while True:
            try:
                self.items.append(self.link.queue.get_nowait()[1])
            except Exception:
                return self.items

    def messages(self, cls=P.Message):
        return [m for m in self.pump() if isinstance(m, cls)]

    def statuses(self):
        return [m.state for m in self.pump() if isinstance(m, L.LinkStatus)]


class FakePty:
    """A pty whose master side plays the device; the slave is reachable through a stable symlink."""

    def __init__(self, link_path) -> None:
        self.link_path = link_path
        self.open()

    def open(self) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)  # no newline translation for binary data
        name = os.ttyname(slave)
        os.close(slave)
        tmp = str(self.link_path) + ".tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(name, tmp)
        os.replace(tmp, self.link_path)

    def send(self, *msgs: P.Message, garbage: bytes = b"") -> None:
        data = garbage + b"".join(P.encode(m, i) for i, m in enumerate(msgs))
        os.write(self.master, data)

    def read(self, timeout=2.0) -> bytes:
        import select
        out = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            r, _, _ = select.select([self.master], [], [], 0.05)
            if r:
                out += os.read(self.master, 65536)
            elif out:
                break
        return out

    def close(self) -> None:
        os.close(self.master)


@pytest.fixture
def fake_pty(tmp_path):
    dev = FakePty(tmp_path / "ttyPICO")
    yield dev
    try:
        dev.close()
    except OSError:
        pass


def result(frame_id: int, digit: int) -> P.Result:
    logits = [0.0] * 10
    logits[digit] = 8.0
    return P.Result(frame_id=frame_id, argmax=digit, score=0.99, logits=tuple(logits), fps_x100=1500)


def test_pty_messages_arrive_in_order_with_dtr(fake_pty):
    with L.Link(str(fake_pty.link_path)) as link:
        d = Drain(link)
        assert wait_for(lambda: "connected" in d.statuses())
        img = (np.arange(784) % 256).astype(np.uint8)
        fake_pty.send(P.Hello(firmware_version="fw-test", model_name="m"), P.Input28(7, 0, img.tobytes()),
                      result(7, 4))
        assert wait_for(lambda: len(d.messages(P.Result)) == 1)
        hello, inp, res = d.messages()
        assert hello.firmware_version == "fw-test"
        assert np.array_equal(inp.to_array().ravel(), img)
        assert res.argmax == 4 and res.frame_id == 7
        assert link.stats.bytes_rx > 784


def test_pty_resyncs_after_garbage_and_counts_errors(fake_pty):
    rng = np.random.default_rng(1)
    with L.Link(str(fake_pty.link_path)) as link:
        d = Drain(link)
        assert wait_for(lambda: link.connected)
        good = P.encode(result(1, 3))
        corrupt = bytearray(good)
        corrupt[5] ^= 0x40  # one bit flip: CRC error
        junk = rng.integers(1, 256, 300, dtype=np.uint8).tobytes()  # no 0x00: one long bad packet
        os.write(fake_pty.master, junk + b"\0" + bytes(corrupt) + good + good[:10])
        assert wait_for(lambda: len(d.messages(P.Result)) == 1)
        stats = link.stats.decoder.stats
        assert stats.crc_errors == 1 and stats.errors >= 2
        # the truncated tail must not swallow the next whole message
        os.write(fake_pty.master, b"\0" + P.encode(result(2, 8)))
        assert wait_for(lambda: len(d.messages(P.Result)) == 2)
        assert d.messages(P.Result)[-1].argmax == 8


def test_commands_reach_the_device(fake_pty):
    with L.Link(str(fake_pty.link_path)) as link:
        assert wait_for(lambda: link.connected)
        enc = P.Encoder()
        assert link.send(enc.encode(P.Ping(P.PING_WANT_HELLO, 1234)))
        assert link.send(enc.encode(P.SetStream(mask=P.STREAM_ALL, decimation=2)))
        msgs = P.Decoder().feed(fake_pty.read())
        assert [type(m) for m in msgs] == [P.Ping, P.SetStream]
        assert msgs[0].nonce == 1234 and msgs[1].decimation == 2 and msgs[1].seq == 1


def test_unplug_gives_disconnected_then_reconnects(fake_pty):
    with L.Link(str(fake_pty.link_path), backoff=(0.05, 0.2)) as link:
        d = Drain(link)
        assert wait_for(lambda: link.connected)
        fake_pty.send(result(1, 1))
        assert wait_for(lambda: len(d.messages(P.Result)) == 1)
        fake_pty.close()  # the board goes away
        assert wait_for(lambda: "disconnected" in d.statuses())
        assert not link.connected
        lost = [m for m in d.pump() if isinstance(m, L.LinkStatus) and m.state == "disconnected"][0]
        assert "link lost" in lost.text
        fake_pty.open()  # it comes back (the symlink now points at a new pty)
        assert wait_for(lambda: link.connected, timeout=5)
        fake_pty.send(result(2, 2))
        assert wait_for(lambda: len(d.messages(P.Result)) == 2)
        assert link.stats.connects == 2


def test_missing_port_retries_with_a_clear_message(tmp_path):
    path = tmp_path / "nothing-here"
    with L.Link(str(path), backoff=(0.05, 0.1)) as link:
        d = Drain(link)
        assert wait_for(lambda: "disconnected" in d.statuses())
        text = [m.text for m in d.pump() if isinstance(m, L.LinkStatus)][-1]
        assert "does not exist" in text and "Retrying" in text
        assert link.stats.connects == 0


def test_queue_is_bounded_and_newest_wins(fake_pty):
    with L.Link(str(fake_pty.link_path), queue_size=8) as link:
        assert wait_for(lambda: link.connected)
        link.queue.get()  # the "connected" status
        fake_pty.send(*[result(i, i % 10) for i in range(50)])
        assert wait_for(lambda: link.stats.messages == 50)
        got = [item for _, item in list(link.queue.queue)]
        assert len(got) == 8 and link.stats.queue_drops == 42
        assert [m.frame_id for m in got] == list(range(42, 50))


class FakeSocketDevice:
    """A TCP server that streams results to whoever connects (like the twin on socket://)."""

    def __init__(self) -> None:
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self) -> None:
        self.srv.close()
        for c in self.conns:
            c.close()


def test_socket_url_streams_and_reconnects():
    dev = FakeSocketDevice()
    try:
        with L.Link(f"socket://127.0.0.1:{dev.port}", backoff=(0.05, 0.2)) as link:
            d = Drain(link)
            assert wait_for(lambda: link.connected and len(dev.conns) == 1)
            pixels = (np.arange(324 * 324) % 251).astype(np.uint8).tobytes()
            big = P.Frame(1, 324, 324, 0, 324, 324, 324, 0, P.FLAG_FULLRES, 1, pixels)
            dev.conns[0].sendall(P.encode(big) + P.encode(result(1, 9)))
            assert wait_for(lambda: len(d.messages(P.Result)) == 1)
            frame = d.messages(P.Frame)[0]
            assert frame.width == 324 and frame.pixels == big.pixels
            dev.conns[0].close()  # twin killed
            assert wait_for(lambda: "disconnected" in d.statuses())
            assert wait_for(lambda: link.connected and len(dev.conns) == 2)
            dev.conns[1].sendall(P.encode(result(2, 5)))
            assert wait_for(lambda: len(d.messages(P.Result)) == 2)
    finally:
        dev.close()


def test_1200_baud_is_refused():
    with pytest.raises(ValueError, match="bootloader"):
        L.Link("/dev/ttyACM0", baudrate=1200)
    with pytest.raises(ValueError, match="bootloader"):
        L.open_port("/dev/ttyACM0", 1200)


def test_port_busy_is_reported(fake_pty):
    first = L.open_port(str(fake_pty.link_path))
    try:
        with L.Link(str(fake_pty.link_path), backoff=(0.05, 0.1)) as link:
            d = Drain(link)
            assert wait_for(lambda: "disconnected" in d.statuses())
            text = [m.text for m in d.pump() if isinstance(m, L.LinkStatus)][-1]
            assert "busy" in text and "99-pico4ml.rules" in text
    finally:
        first.close()


@pytest.mark.parametrize("exc,port,needle", [
    (PermissionError(13, "Permission denied"), "/dev/ttyACM0", "dialout"),
    (OSError(16, "Device or resource busy"), "/dev/ttyACM0", "busy"),
    (OSError(2, "No such file or directory"), "/dev/tty.usbmodem1101", "cu.usbmodem"),
    (ConnectionRefusedError(111, "Connection refused"), "socket://127.0.0.1:1", "host twin"),
    (ConnectionRefusedError(111, "Connection refused"), "socket://127.0.0.1:1", "pico4ml-emulate"),
])
def test_explain_gives_actionable_advice(exc, port, needle):
    assert needle in L.explain(exc, port)


def test_windows_access_denied_means_busy(monkeypatch):
    monkeypatch.setattr(L.sys, "platform", "win32")
    exc = L.serial.SerialException("could not open port 'COM5': PermissionError(13, 'Access is denied.')")
    assert "in use by another program" in L.explain(exc, "COM5")


def test_find_boards_filters_by_vendor_and_serial(monkeypatch):
    class Port:
        def __init__(self, device, vid, sn):
            self.device, self.vid, self.serial_number, self.description = device, vid, sn, "x"

    ports = [Port("/dev/ttyUSB0", 0x0403, "FT1"), Port("/dev/ttyACM1", 0x2E8A, "E66"),
             Port("/dev/tty.usbmodem1", 0x2E8A, "E77"), Port("/dev/cu.usbmodem1", 0x2E8A, "E77")]
    monkeypatch.setattr(L.serial.tools.list_ports, "comports", lambda: ports)
    # macOS: cu.* first, tty.* (which waits for carrier) last
    assert [p.device for p in L.find_boards()] == ["/dev/cu.usbmodem1", "/dev/ttyACM1", "/dev/tty.usbmodem1"]
    assert [p.device for p in L.find_boards("E66")] == ["/dev/ttyACM1"]


def test_auto_mode_follows_the_serial_number_across_a_rename(monkeypatch, fake_pty, tmp_path):
    class Port:
        def __init__(self, device, sn):
            self.device, self.vid, self.serial_number, self.description = device, 0x2E8A, sn, "Pico4ML"

    ports = [Port(str(fake_pty.link_path), "SN1")]
    monkeypatch.setattr(L.serial.tools.list_ports, "comports", lambda: list(ports))
    with L.Link(None, backoff=(0.05, 0.1)) as link:
        d = Drain(link)
        assert wait_for(lambda: link.connected)
        assert link.serial_number == "SN1"
        fake_pty.close()
        ports[:] = []  # unplugged: the OS stops listing it
        assert wait_for(lambda: "disconnected" in d.statuses())
        # the reset brings the board back under another name, and an unrelated board appears first
        renamed = tmp_path / "ttyACM7"
        other = FakePty(tmp_path / "ttyOTHER")
        fake_pty.link_path = renamed
        fake_pty.open()
        ports[:] = [Port(str(other.link_path), "SN2"), Port(str(renamed), "SN1")]
        assert wait_for(lambda: link.connected and link.status.port == str(renamed))
        other.close()


def test_a_device_that_stops_reading_gives_a_write_timeout_not_a_disconnect(fake_pty):
    with L.Link(str(fake_pty.link_path)) as link:
        assert wait_for(lambda: link.connected)
        enc = P.Encoder()
        t0 = time.monotonic()
        sent = 0
        while sent < 100_000 and link.send(enc.encode(P.Ping(0, sent))):  # nobody reads the pty master
            sent += 1
        assert sent > 10 and "not reading" in link.last_send_error
        assert time.monotonic() - t0 < 5  # the blocked write gave up after write_timeout
        assert link.connected


def test_error_counts_survive_a_reconnect(fake_pty):
    from pico4ml.host_gui.source import LiveSource

    with L.Link(str(fake_pty.link_path), backoff=(0.05, 0.2)) as link:
        src = LiveSource(link)
        assert wait_for(lambda: link.connected)
        bad = bytearray(P.encode(result(1, 1)))
        bad[3] ^= 0x10
        os.write(fake_pty.master, P.encode(result(0, 0)) + bytes(bad) + P.encode(result(2, 2)))
        assert wait_for(lambda: link.stats.messages == 2)
        fake_pty.close()
        assert wait_for(lambda: not link.connected)
        fake_pty.open()
        assert wait_for(lambda: link.connected)
        fake_pty.send(result(3, 3))
        assert wait_for(lambda: link.stats.messages == 3)
        assert src.decoder_stats.crc_errors == 1 and src.decoder_stats.packets == 3


def test_a_packet_cut_by_opening_the_port_is_not_an_error(fake_pty):
    from pico4ml.host_gui.source import LiveSource

    with L.Link(str(fake_pty.link_path)) as link:
        src = LiveSource(link)
        assert wait_for(lambda: link.connected)
        tail = P.encode(result(1, 1))[7:]  # what is left of a packet sent before the port was opened
        os.write(fake_pty.master, tail + P.encode(result(2, 2)))
        assert wait_for(lambda: link.stats.messages == 1)
        bad = bytearray(P.encode(result(3, 3)))
        bad[4] ^= 0x01  # a real error later on is counted
        os.write(fake_pty.master, bytes(bad) + P.encode(result(4, 4)))
        assert wait_for(lambda: link.stats.messages == 2)
        assert link.stats.decoder.stats.errors == 2 and src.decoder_stats.errors == 1
        assert src.decoder_stats.crc_errors == 1


def test_the_shown_status_is_current_even_when_the_queue_dropped_it(fake_pty):
    from pico4ml.host_gui.source import LiveSource
    from pico4ml.host_gui.state import State

    with L.Link(str(fake_pty.link_path), queue_size=4) as link:
        src = LiveSource(link)
        state = State()
        assert wait_for(lambda: link.connected)
        fake_pty.send(*[result(i, i % 10) for i in range(30)])  # floods the 4-slot queue
        assert wait_for(lambda: link.stats.messages == 30)
        src.poll(state)
        assert state.status.state == "connected" and state.results_rx == 4
        logged = sum("[link]" in line for line in state.log)
        src.poll(state)
        assert sum("[link]" in line for line in state.log) == logged  # not applied twice


def test_a_socket_is_read_in_blocks_not_bytes():
    """pyserial's socket handler says in_waiting 1 whatever is buffered: the link must still read
    what is there in large blocks (it read one byte per call before, ~26 KB/s)."""
    dev = FakeSocketDevice()
    chunks: list[int] = []
    try:
        with L.Link(f"socket://127.0.0.1:{dev.port}", recorder=lambda t, data: chunks.append(len(data))) as link:
            d = Drain(link)
            assert wait_for(lambda: link.connected and len(dev.conns) == 1)
            pixels = bytes(range(256)) * 400  # 100 KB of FRAME bands
            msgs = [P.Frame(1, 320, 320, 0, 320, 320, 320, 0, P.FLAG_FULLRES, 1, pixels), result(1, 3)]
            dev.conns[0].sendall(b"".join(P.encode(m, i) for i, m in enumerate(msgs)))
            assert wait_for(lambda: len(d.messages(P.Result)) == 1)
            assert sum(chunks) > 100_000 and len(chunks) <= 20, f"{len(chunks)} reads for {sum(chunks)} bytes"
    finally:
        dev.close()


def test_a_device_path_that_vanishes_quietly_is_seen_within_a_second(fake_pty):
    """A real port whose node disappears (unplugged) while the driver reports nothing: the link
    notices the missing path on its own. Here the symlink naming the pty goes; the pty stays
    open and silent, so only the path check can tell."""
    with L.Link(str(fake_pty.link_path), backoff=(0.05, 0.2)) as link:
        d = Drain(link)
        assert wait_for(lambda: link.connected)
        fake_pty.send(result(1, 1))
        assert wait_for(lambda: len(d.messages(P.Result)) == 1)
        os.unlink(fake_pty.link_path)
        t0 = time.monotonic()
        assert wait_for(lambda: not link.connected, timeout=3)
        assert time.monotonic() - t0 < 1.0
        lost = [m for m in d.pump() if isinstance(m, L.LinkStatus) and m.state == "disconnected"][0]
        assert "link lost" in lost.text and "does not exist" in lost.text


def test_a_plain_file_is_not_a_port_and_retrying_stops(tmp_path):
    plain = tmp_path / "notes.txt"
    plain.write_text("not a tty")
    for port in (str(plain), "/dev/null", str(tmp_path)):
        link = L.Link(port, backoff=(0.01, 0.02)).start()
        try:
            assert wait_for(lambda: link.status.fatal, timeout=3), link.status
            assert "not a serial port" in link.status.text or "folder" in link.status.text
            link._thread.join(1.0)
            assert not link._thread.is_alive()  # no endless retries
            assert not link.connected
        finally:
            link.stop()


@pytest.fixture(scope="module")
def twin_bin():
    from conftest import require_tool
    require_tool("gcc")
    from pico4ml.host_twin.twin import build_twin
    return build_twin()  # a compile error fails the tests that need it


TWIN_FPS = 30.0


@pytest.mark.hostc
@pytest.mark.parametrize("kind", ["socket", "pty"])
def test_the_link_keeps_up_with_the_twin_and_sees_it_go(twin_bin, kind):
    """The twin streams at 30 fps (81x81 FRAME, INPUT28, RESULT and a STATS per frame) over
    socket:// or a pty: the host must get >= 95 % of its frames, < 200 ms behind, and see the
    twin's end within a second. Lag: host arrival time minus the device's uptime in its STATS,
    above the smallest such difference of the run (the transport's floor)."""
    from pico4ml.host_twin.twin import start_twin
    tw = start_twin(port=0 if kind == "socket" else "pty", fps=TWIN_FPS, hello_ms=0)
    try:
        link = L.Link(tw.url).start()
        assert wait_for(lambda: link.connected)
        link.send(P.encode(P.SetStream(mask=P.STREAM_ALL & ~P.STREAM_STAGE, stats_every=1)))
        results, offsets = [], []
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            try:
                t, m = link.queue.get(timeout=0.1)
            except Exception:
                continue
            if isinstance(m, P.Result):
                results.append(m.frame_id)
            elif isinstance(m, P.Stats):
                offsets.append(t - m.uptime_ms / 1000.0)
        ids = sorted(set(results[5:]))  # after the stream options took effect
        produced = ids[-1] - ids[0] + 1
        share = len(ids) / produced
        lag = np.array(offsets[5:]) - min(offsets[5:])
        # what arrived in 4 s must span ~4 s of the twin's frames, else the host is behind
        assert produced >= 0.7 * TWIN_FPS * 3.0, f"4 s brought only frames {ids[0]}..{ids[-1]}"
        assert share >= 0.95, f"{len(ids)} of {produced} frames"
        assert np.percentile(lag, 95) < 0.2, f"lag p95 {np.percentile(lag, 95) * 1e3:.0f} ms"
        assert link.stats.queue_drops == 0 and link.stats.decoder.stats.crc_errors == 0
        t0 = time.monotonic()
        tw.stop()
        assert wait_for(lambda: not link.connected, timeout=3)
        assert time.monotonic() - t0 < 1.0, f"disconnect seen after {time.monotonic() - t0:.2f} s"
        link.stop()
    finally:
        tw.stop()


def test_a_handler_without_a_file_descriptor_is_read_too():
    """pyserial URL handlers without fileno() (loop:// here; Windows COM ports alike) are read by
    their in_waiting with a short timeout. loop:// echoes what is written: a tiny message only."""
    with L.Link("loop://") as link:
        d = Drain(link)
        assert wait_for(lambda: link.connected)
        assert link.send(P.encode(result(3, 2)))
        assert wait_for(lambda: len(d.messages(P.Result)) == 1)
        assert d.messages(P.Result)[0].frame_id == 3
        assert link.idle_s is not None and link.idle_s < 1.0
