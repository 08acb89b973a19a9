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
from .recording import Recorder, Replay, load_replay
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
        return n

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

    def start_recording(self, path: str | Path) -> Recorder:
        self.stop_recording()
        self.recorder = Recorder(path, {"port": self.link.status.port or self.link.target,
                                        "protocol_version": P.PROTOCOL_VERSION})
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


class ReplaySource:
    """A decoded recording with a play head. Scrubbing rebuilds the state from the recording,
    so every view (histories included) shows exactly what it showed live at that moment."""

    live = False

    def __init__(self, path: str | Path, speed: float = 1.0) -> None:
        self.replay: Replay = load_replay(path)
        self.path = Path(path)
        self.speed = speed
        self.playing = True
        self.position = 0.0  # seconds since the recording's first message
        self._next = 0  # index of the next event to apply while playing
        self._wall = time.monotonic()
        self._hellos = [i for i, (_, m) in enumerate(self.replay.events) if isinstance(m, P.Hello)]

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
