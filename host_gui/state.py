"""What the app knows, fed by draining the link queue once per UI frame.

A plain object with no Dear PyGui in it: the GUI and the headless monitor both use it, and
tests drive it with messages directly. Histories are fixed-size numpy ring buffers so a
long session costs constant memory and each plot update is one slice.
"""
from __future__ import annotations

import collections
import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from pico4ml.common import protocol as P
from .hostcheck import CheckResult, HostModel
from .link import LinkStatus

HISTORY = 4096  # samples kept per series (a few minutes at device frame rates)
MAX_PREDICTIONS = 200_000  # rows kept for CSV export
CSV_HEADER = (["host_time", "frame_id", "injected", "digit", "score"] + [f"score_{i}" for i in range(10)]
              + ["capture_us", "preprocess_us", "net_us", "send_us", "device_fps", "host_digit", "host_max_diff",
                 "file"])
RECORDS = 32  # frames kept whole (image, stages, 28x28, answer) for display, freeze and capture
FRAME_WAIT_S = 1.0  # how long an answer waits for its own camera frame still arriving in bands


class LogLines(collections.deque):
    """The last log lines, plus how many were ever added (so printers can tell what is new)."""

    def __init__(self, maxlen: int) -> None:
        super().__init__(maxlen=maxlen)
        self.added = 0

    def append(self, line: str) -> None:
        super().append(line)
        self.added += 1


class Ring:
    """Fixed-capacity ring buffer of rows of `width` float64 values."""

    def __init__(self, capacity: int, width: int) -> None:
        self.data = np.zeros((capacity, width), np.float64)
        self.capacity = capacity
        self.n = 0  # total rows ever pushed

    def push(self, row: Iterable[float]) -> None:
        self.data[self.n % self.capacity] = row
        self.n += 1

    def __len__(self) -> int:
        return min(self.n, self.capacity)

    def view(self) -> np.ndarray:
        """Rows oldest-first (a copy when wrapped)."""
        if self.n <= self.capacity:
            return self.data[:self.n]
        i = self.n % self.capacity
        return np.concatenate([self.data[i:], self.data[:i]])

    def clear(self) -> None:
        self.n = 0


@dataclass
class Prediction:
    """A device RESULT joined with its 28x28 and the host check, when they are known."""
    t: float
    result: P.Result
    scores: np.ndarray
    check: CheckResult | None = None
    name: str = ""  # for an injected image: its file name (or "drawing")


@dataclass
class FrameRecord:
    """Everything the device sent about one processed frame, joined by frame id.

    The views show one record at a time, so the camera image, the stages, the 28x28 and the
    answer on screen always belong together. `image` is what was injected (the device does
    not send it back), `frame` the camera FRAME when one came for this frame id."""
    frame_id: int
    injected: bool = False
    t: float = 0.0
    frame: np.ndarray | None = None
    frame_msg: P.Frame | None = None
    stages: dict[str, np.ndarray] = field(default_factory=dict)
    stage_msgs: dict[str, P.Stage] = field(default_factory=dict)
    input28: np.ndarray | None = None
    prediction: Prediction | None = None
    image: np.ndarray | None = None
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # messages of newer protocol versions (candidates)

    @property
    def key(self) -> tuple[int, bool]:
        return self.frame_id, self.injected

    @property
    def scale(self) -> int:
        """Capture pixels per frame pixel (1: the frame is the full-resolution capture)."""
        return int(self.frame_msg.scale) if self.frame_msg is not None and self.frame_msg.scale else 1


@dataclass
class State:
    """Everything the views show. apply() one (time, item) at a time, or drain() a queue."""
    history_window_s: float = 30.0
    tolerance: float = 0.02
    host_model: HostModel | None = None
    status: LinkStatus = field(default_factory=lambda: LinkStatus("connecting", "starting"))
    hello: P.Hello | None = None
    frame: np.ndarray | None = None  # latest complete camera frame, uint8 HxW
    frame_msg: P.Frame | None = None
    input28: np.ndarray | None = None
    input28_id: int = -1
    stages: dict[str, np.ndarray] = field(default_factory=dict)
    stage_msgs: dict[str, P.Stage] = field(default_factory=dict)
    prediction: Prediction | None = None
    stats: P.Stats | None = None
    device_params: bytes | None = None
    device_stream: P.SetStream | None = None
    device_camera: P.SetCamera | None = None
    last_error: str = ""
    check_failures: int = 0
    checks: int = 0
    frames_rx: int = 0
    results_rx: int = 0
    gui_fps: float = 0.0
    bytes_per_s: float = 0.0
    now: float = 0.0  # time of the newest item applied (host clock, or the recording's)
    hold_injected_s: float = 3.0  # an injected image's answer stays on screen this long
    last_injected: Prediction | None = None
    camera_stage: P.Stage | None = None
    status_since: float = 0.0  # host time of the last connection state change
    shown: FrameRecord | None = None  # the newest whole frame: what the views show
    blob_status: P.BlobStatus | None = None  # the device's model store, after its last BLOB_* command
    blob_statuses: int = 0  # BLOB_STATUS messages received (an upload step waits for the next one)

    def __post_init__(self) -> None:
        # columns: t, device fps, gui fps, capture ms, preprocess ms, net ms, send ms
        self.timing = Ring(HISTORY, 7)
        self.scores_hist = Ring(HISTORY, 11)  # t, 10 scores
        self.log = LogLines(maxlen=300)
        self.predictions: collections.deque[Prediction] = collections.deque(maxlen=MAX_PREDICTIONS)
        self._assembler = P.FrameAssembler()
        self._inputs: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()
        self.inject_names: dict[int, str] = {}  # INJECT seq -> what was sent, to name the answer
        self.inject_images: dict[int, np.ndarray] = {}  # INJECT seq -> the image sent, shown with its answer
        self.records: collections.OrderedDict[tuple[int, bool], FrameRecord] = collections.OrderedDict()
        self._pending_frame: tuple[int, float] | None = None  # (frame id, t) of a FRAME still in bands
        self._hold_until = 0.0
        self._rate_t0 = 0.0
        self._rate_bytes0 = 0
        self.version = 0  # bumped on every applied item: views skip work when unchanged

    # -- feeding -----------------------------------------------------------
    def drain(self, q: Any, limit: int = 10_000) -> int:
        """Apply everything waiting in a queue.Queue (non-blocking). Returns how many."""
        n = 0
        while n < limit:
            try:
                t, item = q.get_nowait()
            except Exception:  # queue.Empty
                break
            self.apply(t, item)
            n += 1
        return n

    def apply(self, t: float, item: Any) -> None:
        self.now = max(self.now, t)
        self.version += 1
        handler = getattr(self, "_on_" + type(item).__name__, None)
        if handler is not None:
            handler(t, item)

    def _on_LinkStatus(self, t: float, s: LinkStatus) -> None:
        if s.n and s.n <= self.status.n:
            return  # already shown (taken straight from the link when the queue dropped it)
        if s.state != self.status.state or not self.status_since:
            self.status_since = t
        self.status = s
        self.log.append(f"[link] {s.text}")
        if s.state == "connected":
            self._assembler = P.FrameAssembler()

    def _on_BlobStatus(self, t: float, m: P.BlobStatus) -> None:
        self.blob_status = m
        self.blob_statuses += 1
        if m.result not in (P.BLOB_UP_OK, P.BLOB_UP_OFFSET):
            self.log.append(f"[model] upload step refused: {m.result_name}")

    def _on_Hello(self, t: float, m: P.Hello) -> None:
        same = self.hello is not None and (self.hello.firmware_version, self.hello.weights_hash) == \
            (m.firmware_version, m.weights_hash)
        self.hello = m
        if same:
            return  # the device repeats HELLO every few seconds: log changes only
        self.log.append(f"[hello] firmware {m.firmware_version}, model {m.model_name} "
                        f"({m.model_kind_name}, {m.weights_hash}), capture {m.capture_width}x{m.capture_height}")
        if m.params_version != P.PARAMS_VERSION:
            self.log.append(f"[check] the device speaks preprocessing parameters version {m.params_version}, this "
                            f"host {P.PARAMS_VERSION}: parameters cannot be set; flash the firmware of this version")
        host_hash = self.host_model.hash_for(m.model_kind) if self.host_model is not None else ""
        if host_hash and m.weights_hash and not host_hash.startswith(m.weights_hash):
            self.log.append(f"[check] device model {m.weights_hash} differs from host checkpoint "
                            f"{host_hash[:16]}: expect mismatches")

    def _on_Frame(self, t: float, m: P.Frame) -> None:
        whole = self._assembler.add(m)
        if whole is None:
            if m.y0 == 0:
                self._pending_frame = (m.frame_id, t)
            return
        self._pending_frame = None
        self.frames_rx += 1
        if whole.width == 0 or whole.height == 0:
            return
        img = np.frombuffer(whole.pixels, np.uint8).reshape(whole.height, whole.width)
        rec = self._record(whole.frame_id, bool(whole.flags & P.FLAG_INJECTED), t)
        rec.frame, rec.frame_msg = img, whole
        self._choose_shown(t)
        if self._held(t, whole.flags):
            return
        self.frame = img
        self.frame_msg = whole

    def _on_Input28(self, t: float, m: P.Input28) -> None:
        img = m.to_array()
        self._inputs[(m.frame_id, m.injected)] = img
        while len(self._inputs) > 16:  # results arrive right after their input; keep a few
            self._inputs.popitem(last=False)
        self._record(m.frame_id, m.injected, t).input28 = img
        if not self._held(t, m.flags):
            self.input28, self.input28_id = img, m.frame_id

    def _on_Stage(self, t: float, m: P.Stage) -> None:
        if m.width == 0 or m.height == 0:
            return
        name = P.STAGE_NAMES.get(m.stage_id, f"stage{m.stage_id}")
        img = np.frombuffer(m.pixels, np.uint8).reshape(m.height, m.width)
        rec = self._record(m.frame_id, bool(m.flags & P.FLAG_INJECTED), t)
        rec.stages[name], rec.stage_msgs[name] = img, m
        if self._held(t, m.flags):
            return
        self.stages[name] = img
        self.stage_msgs[name] = m
        if m.stage_id == P.STAGE_WORK and not m.flags & P.FLAG_INJECTED:
            self.camera_stage = m  # its ROI is where the device looked in the camera frame

    def _on_Result(self, t: float, m: P.Result) -> None:
        scores = np.nan_to_num(np.asarray(m.scores(), np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        check = None
        img = self._inputs.get((m.frame_id, m.injected))
        if self.host_model is not None and img is not None:
            check = self.host_model.check(img, scores, m.argmax, self.tolerance, m.model_kind)
            self.checks += 1
            if not check.ok:
                self.check_failures += 1
                self.log.append(f"[check] frame {m.frame_id}: device {m.argmax} vs host {check.host_digit}, "
                                f"max score diff {check.max_diff:.4f} > {self.tolerance}")
        pred = Prediction(t, m, scores, check)
        self.predictions.append(pred)
        rec = self._record(m.frame_id, m.injected, t)
        rec.prediction = pred
        if rec.input28 is None and img is not None:
            rec.input28 = img
        if m.injected:
            self.last_injected = pred
            pred.name = self.inject_names.pop(m.frame_id, "")  # the device answers with the INJECT's seq
            rec.name, rec.image = pred.name, self.inject_images.pop(m.frame_id, None)
            self.log.append(f"[inject] {pred.name + ': ' if pred.name else ''}device says {m.argmax} "
                            f"({scores[m.argmax] * 100:.1f} %)"
                            + ("" if check is None else f", host {check.host_digit}"))
        if not self._held(t, m.flags):
            self.prediction = pred
        self._choose_shown(t)
        self.results_rx += 1
        self.timing.push([t, m.fps, self.gui_fps, m.t_capture_us / 1e3, m.t_preprocess_us / 1e3,
                          m.t_net_us / 1e3, m.t_send_us / 1e3])
        self.scores_hist.push([t, *scores])

    def _on_Candidates(self, t: float, m: Any) -> None:
        """Protocol v2: the digit candidates the preprocessing weighed, each with why it was
        kept or dropped, as (x, y, w, h, reason, chosen) on the work grid."""
        rec = self._record(m.frame_id, bool(m.flags & P.FLAG_INJECTED), t)
        rec.extra["candidates"] = [(c.x, c.y, c.w, c.h, c.reason, i == m.chosen) for i, c in enumerate(m.candidates)]

    def _on_Stats(self, t: float, m: P.Stats) -> None:
        self.stats = m

    def _on_Log(self, t: float, m: P.Log) -> None:
        self.log.append(f"[{P.LOG_LEVEL_NAMES.get(m.level, m.level)}] {m.text}")

    def _on_Error(self, t: float, m: P.Error) -> None:
        self.last_error = f"device error ({m.code_name}) on command 0x{m.cmd_type:02x}: {m.text}"
        self.log.append("[error] " + self.last_error)

    def _on_Pong(self, t: float, m: P.Pong) -> None:
        self.log.append(f"[pong] device up {m.uptime_ms / 1000:.1f} s")

    def _on_Params(self, t: float, m: P.Params) -> None:
        self.device_params = m.data

    def _on_Stream(self, t: float, m: P.Stream) -> None:
        self.device_stream = m

    def _on_Camera(self, t: float, m: P.Camera) -> None:
        self.device_camera = m

    def _record(self, frame_id: int, injected: bool, t: float) -> FrameRecord:
        key = (frame_id, injected)
        rec = self.records.get(key)
        if rec is None:
            rec = self.records[key] = FrameRecord(frame_id, injected, t)
            while len(self.records) > RECORDS:
                self.records.popitem(last=False)
        return rec

    def _choose_shown(self, t: float) -> None:
        """The views show the newest frame whose answer has arrived, once its own camera frame
        (still coming in bands) is there too; an injected answer stays for hold_injected_s."""
        if self.shown is not None and self.shown.injected and t < self._hold_until:
            return
        for rec in reversed(self.records.values()):
            if rec.prediction is None:
                continue
            pending = self._pending_frame
            if (pending is not None and pending[0] == rec.frame_id and not rec.injected and rec.frame is None
                    and t - pending[1] < FRAME_WAIT_S):
                continue  # its FRAME is on its way: show the one before until it is whole
            self.shown = rec
            return

    def latest_before(self, rec: FrameRecord, what: str) -> FrameRecord | None:
        """The newest live record up to rec that has `what` ("frame", "input28" or a stage
        name): what a panel shows, marked stale, when rec itself has none."""
        found = False
        for other in reversed(self.records.values()):
            if other is rec:
                found = True
            if not found or other.injected:
                continue
            if (what == "frame" and other.frame is not None) or (what == "input28" and other.input28 is not None) \
                    or what in other.stages:
                return other
        return None

    def record_at(self, frame_id: int, injected: bool = False) -> FrameRecord | None:
        return self.records.get((frame_id, injected))

    def _held(self, t: float, flags: int) -> bool:
        """True while the views keep showing an injected image's answer instead of the live stream."""
        if flags & P.FLAG_INJECTED:
            self._hold_until = t + self.hold_injected_s
            return False
        return t < self._hold_until

    # -- derived values ------------------------------------------------------
    def update_rates(self, bytes_rx: int, now: float | None = None) -> None:
        """bytes/s from the link's byte counter, averaged over ~1 s."""
        now = time.time() if now is None else now
        if self._rate_t0 == 0.0 or bytes_rx < self._rate_bytes0:
            self._rate_t0, self._rate_bytes0 = now, bytes_rx
            return
        dt = now - self._rate_t0
        if dt >= 1.0:
            self.bytes_per_s = (bytes_rx - self._rate_bytes0) / dt
            self._rate_t0, self._rate_bytes0 = now, bytes_rx

    def recent(self, ring: Ring) -> np.ndarray:
        """Rows of a history ring within the configured window, time relative to now."""
        rows = ring.view()
        if len(rows) == 0:
            return rows
        rows = rows[rows[:, 0] >= self.now - self.history_window_s].copy()
        rows[:, 0] -= self.now
        return rows

    def scores_heatmap(self, bins: int) -> np.ndarray:
        """(10, bins) mean score of each class in equal time bins over the history window."""
        rows = self.recent(self.scores_hist)
        heat = np.zeros((10, bins))
        if len(rows):
            w = self.history_window_s
            idx = np.clip(((rows[:, 0] + w) / w * bins).astype(int), 0, bins - 1)
            count = np.bincount(idx, minlength=bins)
            for d in range(10):
                heat[d] = np.bincount(idx, rows[:, 1 + d], minlength=bins)
            heat /= np.maximum(count, 1)
        return heat

    @property
    def digit(self) -> int | None:
        return None if self.prediction is None else self.prediction.result.argmax

    def export_csv(self, path: str | Path) -> int:
        """Write every kept prediction as CSV; returns the row count."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = list(self.predictions)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(CSV_HEADER)
            for p in rows:
                r = p.result
                w.writerow([f"{p.t:.6f}", r.frame_id, int(r.injected), r.argmax, f"{p.scores[r.argmax]:.6f}",
                            *(f"{s:.6f}" for s in p.scores), r.t_capture_us, r.t_preprocess_us, r.t_net_us,
                            r.t_send_us, f"{r.fps:.2f}", "" if p.check is None else p.check.host_digit,
                            "" if p.check is None else f"{p.check.max_diff:.6f}", p.name if r.injected else ""])
        return len(rows)


