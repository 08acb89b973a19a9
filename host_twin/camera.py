"""A real camera for the host twin: a webcam or a video file read with OpenCV.

Each frame is made what the HM01B0 gives the firmware: 8-bit gray, the centre square of
the picture, resized to 324x324 (the sensor's full window). A thread writes the frames as
binary PGM images into a pipe the twin reads (firmware/pico4ml/host/feed.c); the twin takes
the newest whole one at its own frame rate, as the board takes the sensor's. A video file
plays at its own frame rate and loops.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

FRAME_SIDE = 324  # HM01B0 full window
DEFAULT_VIDEO_FPS = 30.0


class CameraError(ValueError):
    """The camera or video cannot be opened or read: the message says what to do."""


def parse_camera(spec: int | str | os.PathLike) -> int | Path:
    """A webcam index (an int or a string of digits) or a video file path."""
    if isinstance(spec, int):
        return spec
    text = os.fspath(spec)
    return int(text) if text.isdigit() else Path(text)


def to_sensor_frame(image: np.ndarray, side: int = FRAME_SIDE) -> np.ndarray:
    """Gray, centre-cropped to a square, resized to side x side (uint8)."""
    import cv2

    img = np.asarray(image)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    if img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    h, w = img.shape
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    img = img[y0:y0 + s, x0:x0 + s]
    interp = cv2.INTER_AREA if s > side else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(img, (side, side), interpolation=interp))


def pgm_bytes(frame: np.ndarray) -> bytes:
    return f"P5\n{frame.shape[1]} {frame.shape[0]}\n255\n".encode() + frame.tobytes()


class Camera:
    """An opened webcam or video file; read() gives sensor frames (video files loop)."""

    def __init__(self, spec: int | str | os.PathLike, side: int = FRAME_SIDE) -> None:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # our message says it better
        self.source = parse_camera(spec)
        self.side = side
        self.is_file = isinstance(self.source, Path)
        if self.is_file:
            if not self.source.is_file():
                raise CameraError(f"{self.source}: no such video file")
            self.cap = cv2.VideoCapture(str(self.source))
            if not self.cap.isOpened():
                raise CameraError(f"{self.source}: not a video OpenCV can read")
            fps = self.cap.get(cv2.CAP_PROP_FPS)
            self.fps = float(fps) if fps and 1 <= fps <= 240 else DEFAULT_VIDEO_FPS
        else:
            self.cap = cv2.VideoCapture(self.source)
            if not self.cap.isOpened():
                raise CameraError(self._no_webcam())
            self.fps = 0.0  # a webcam paces itself
        first = self._grab()
        if first is None:
            self.cap.release()
            raise CameraError(f"{self.source}: the video holds no frame" if self.is_file
                              else f"camera {self.source} opened but gives no picture (in use by another program?)")
        self.first = first

    def _no_webcam(self) -> str:
        dev = f"/dev/video{self.source}"
        if sys.platform.startswith("linux") and not os.path.exists(dev):
            return (f"camera {self.source}: no webcam ({dev} does not exist). Plug one in (`ls /dev/video*` lists "
                    f"them), or give a video file: --camera clip.mp4")
        return (f"camera {self.source}: cannot open it (in use by another program, or no permission: "
                f"'sudo usermod -aG video $USER'). Or give a video file: --camera clip.mp4")

    def _grab(self) -> np.ndarray | None:
        ok, img = self.cap.read()
        if not ok or img is None or img.size == 0:
            return None
        return to_sensor_frame(img, self.side)

    def read(self) -> np.ndarray | None:
        """The next frame; a video file starts again at its end. None: the camera stopped."""
        frame = self._grab()
        if frame is None and self.is_file:
            import cv2
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            frame = self._grab()
        return frame

    def close(self) -> None:
        self.cap.release()


class CameraFeeder:
    """Writes a Camera's frames into a pipe (file descriptor) until stopped or the reader goes."""

    def __init__(self, camera: Camera, fd: int) -> None:
        self.camera = camera
        self.fd = fd
        self.frames = 0
        self.error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pico4ml-twin-camera", daemon=True)

    def start(self) -> "CameraFeeder":
        try:  # Linux: room for a few whole frames in the pipe, so each is handed over in one go
            import fcntl
            fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        except (ImportError, AttributeError, OSError):
            pass  # elsewhere the twin just reads a frame in more pieces
        self._thread.start()
        return self

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def _run(self) -> None:
        frame: Any = self.camera.first
        period = 1.0 / self.camera.fps if self.camera.fps else 0.0
        next_at = time.monotonic()
        try:
            while not self._stop.is_set() and frame is not None:
                self._write(pgm_bytes(frame))
                self.frames += 1
                if period:  # a file: at its own pace; a webcam's read() waits for the next picture
                    next_at += period
                    self._stop.wait(max(0.0, next_at - time.monotonic()))
                frame = self.camera.read()
            if frame is None:
                self.error = f"camera {self.camera.source} stopped giving pictures"
        except OSError:  # the twin went away (broken pipe) or we are stopping
            pass
        finally:
            try:
                os.close(self.fd)
            except OSError:
                pass

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self.camera.close()
