"""Where the app's messages come from: a live link, or a recording played back and scrubbed.

Both give the GUI and the monitor the same three calls: poll(state) once per UI frame,
send(message) for commands, and counters for the link statistics.
"""
from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path

from pico4ml.common import protocol as P
from .link import Link, LinkStatus
from .recording import Recorder, RecordingError, Replay, load_replay, read_header
from .state import State


class LiveSource:
    """A Link plus the command encoder; optionally records the raw stream."""

    live = True

    def __init__(self, link: Link) -> None:
        self.link = link
        self.encoder = P.Encoder()
        self.recorder: Recorder | None = None

    def poll(self, state: State) -> int:
        n = state.drain(self.link.queue)
        if self.link.status.n > state.status.n:  # its queue item was dropped by a full queue
            state.apply(time.time(), self.link.status)
        state.update_rates(self.link.stats.bytes_rx)
        if self.recorder is not None and state.hello is not None and "hello" not in self.recorder.header:
            self.recorder.update_header(hello=hello_fields(state.hello))  # started before the board answered
        return n

    def describe(self, **fields: object) -> None:
        """Header fields of the running recording it does not have yet (the settings sent)."""
        if self.recorder is not None:
            missing = {k: v for k, v in fields.items() if k not in self.recorder.header}
            if missing:
                self.recorder.update_header(**missing)

    def retarget(self, port: str) -> None:
        """Follow the board (or a restarted twin) to another port: the link opens it on its next retry."""
        self.link.target = port
        self.link.serial_number = None

    def send(self, msg: P.Message) -> bool:
        try:
            data = self.encoder.encode(msg)
        except ValueError:
            return False  # too large for one packet: the caller reports it
        return self.link.send(data)

    @property
    def connected(self) -> bool:
        return self.link.connected

    @property
    def decoder_stats(self) -> P.DecoderStats | None:
        """Decoder counters summed over every connection of this session."""
        decoders = [*self.link.stats.past_decoders, self.link.stats.decoder]
        stats = [d.stats for d in decoders if d is not None]
        if not stats:
            return None
        total = P.DecoderStats()
        forgiven = self.link.stats.forgiven
        for f in fields(P.DecoderStats):
            setattr(total, f.name, sum(getattr(st, f.name) for st in stats) - forgiven.get(f.name, 0))
        return total

    @property
    def bytes_rx(self) -> int:
        return self.link.stats.bytes_rx

    def start_recording(self, path: str | Path, hello: P.Hello | None = None, **header: object) -> Recorder:
        """Record the raw stream to path; header fields (params, stream, camera) and the HELLO
        go into the recording's header."""
        self.stop_recording()
        meta = {"port": self.link.status.port or self.link.target, "protocol_version": P.PROTOCOL_VERSION,
                **header}
        if hello is not None:
            meta["hello"] = hello_fields(hello)
        self.recorder = Recorder(path, meta)
        self.link.recorder = self.recorder
        return self.recorder

    def stop_recording(self) -> Recorder | None:
        rec, self.recorder = self.recorder, None
        if rec is not None:
            self.link.recorder = None
            rec.close()
        return rec

    def close(self) -> None:
        self.stop_recording()
        self.link.stop()


def why_empty(replay: Replay) -> str:
    """Why a recording gave no message at all: nothing recorded, a damaged first record, or
    bytes that are not the protocol."""
    path = replay.path
    with open(path, "rb") as f:
        read_header(f, path)
        records_at = f.tell()
    size = path.stat().st_size
    if replay.bytes:
        dec = replay.decoder.stats if replay.decoder is not None else None
        errors = f" ({dec.errors} decode errors)" if dec is not None else ""
        return f"{path}: {replay.bytes} bytes recorded but not one protocol message in them{errors}"
    if size > records_at:
        return (f"{path}: its first record is damaged ({size - records_at} bytes after the header, none of them "
                f"readable): not a recording this tool wrote, or corrupted")
    return f"{path}: the recording is empty (nothing was received while it recorded)"


def hello_fields(h: P.Hello) -> dict:
    return {f.name: getattr(h, f.name) for f in fields(h) if f.name != "seq"}


class ReplaySource:
    """A decoded recording with a play head. Scrubbing rebuilds the state from the recording,
    so every view (histories included) shows exactly what it showed live at that moment."""

    live = False

    def __init__(self, path: str | Path, speed: float = 1.0) -> None:
        self.replay: Replay = load_replay(path)
        self.path = Path(path)
        if not self.replay.events:
            raise RecordingError(why_empty(self.replay))
        self.speed = speed
        self.playing = True
        self.position = 0.0  # seconds since the recording's first message
        self._next = 0  # index of the next event to apply while playing
        self._wall = time.monotonic()
        self._hellos = [i for i, (_, m) in enumerate(self.replay.events) if isinstance(m, P.Hello)]
        # the time of every camera frame's answer: what "one frame back / forward" steps over
        self.frame_times = [t - self.replay.start for t, m in self.replay.events
                            if isinstance(m, P.Result) and not m.injected]

    @property
    def header(self) -> dict:
        return self.replay.header

    def params_bytes(self) -> bytes | None:
        """The preprocessing parameters the recording began with: the board's own PARAMS answer
        if it sent one, else the header's (format 2)."""
        for _, m in self.replay.events:
            if isinstance(m, P.Params):
                return m.data
        params = self.header.get("params")
        if isinstance(params, dict):
            from pico4ml.common.pp_params import PreprocessParams

            try:
                return PreprocessParams(**params).to_bytes()
            except (TypeError, ValueError, Exception):  # noqa: BLE001 -- a header from another version
                return None
        return None

    def step(self, direction: int, state: State) -> State:
        """The state one camera frame later (direction > 0) or earlier (< 0); playback pauses."""
        import bisect

        self.playing = False
        times = self.frame_times
        if not times:
            return self.seek(self.position, state)
        current = bisect.bisect_right(times, self.position + 1e-5) - 1  # the frame at the play head
        i = min(max(current + (1 if direction > 0 else -1), 0), len(times) - 1)
        target = times[i]
        return self.seek(target + 1e-6, state)  # the answer at exactly `target` included

    @property
    def duration(self) -> float:
        return self.replay.duration

    @property
    def connected(self) -> bool:
        return False

    @property
    def decoder_stats(self) -> P.DecoderStats | None:
        return self.replay.decoder.stats if self.replay.decoder is not None else None

    @property
    def bytes_rx(self) -> int:
        return self.replay.bytes

    def send(self, msg: P.Message) -> bool:
        return False  # a recording cannot take commands

    def status(self) -> LinkStatus:
        return LinkStatus("replay", f"replay of {self.path.name}: {len(self.replay.events)} messages, "
                                    f"{self.duration:.1f} s", str(self.path))

    def seek(self, position: float, state: State) -> State:
        """A fresh State holding what the live app knew `position` seconds in."""
        position = min(max(position, 0.0), self.duration)
        fresh = State(history_window_s=state.history_window_s, tolerance=state.tolerance,
                      host_model=state.host_model)
        fresh.apply(0.0, self.status())
        events = self.replay.events
        end = self.replay.index_at(position) + 1 if events else 0
        t_from = self.replay.start + position - state.history_window_s
        start = end
        while start > 0 and events[start - 1][0] >= t_from:
            start -= 1
        before = [i for i in self._hellos if i < start]
        if before:
            fresh.apply(*events[before[-1]])
        for i in range(start, end):
            fresh.apply(*events[i])
        self.position = position
        self._next = end
        self._wall = time.monotonic()
        return fresh

    def poll(self, state: State) -> int:
        """While playing, apply the events the play head passed since the last call."""
        now = time.monotonic()
        if not self.playing:
            self._wall = now
            return 0
        self.position = min(self.position + (now - self._wall) * self.speed, self.duration)
        self._wall = now
        events = self.replay.events
        t_end = self.replay.start + self.position
        n = 0
        while self._next < len(events) and events[self._next][0] <= t_end:
            state.apply(*events[self._next])
            self._next += 1
            n += 1
        if self._next >= len(events):
            self.playing = False
        return n

    def close(self) -> None:
        pass
