"""Fake ``hobot_vio_rdkx5.libsrcampy``: a MIPI camera behind the X5 scaler, in NumPy (tests only).

``Camera.open_cam(pipe_id, video_index, fps=30, width=..., height=..., raw_height=-1, raw_width=-1)``
(the keyword list read from the wheel's ``libsrcampy.so``) takes a size or lists of sizes, gives each an
output channel of the scaler by the vendor's rule (``SelectVseChn``: ch 0 down to <= 4096x3076 with both
sides not larger than the sensor's; ch 1, 2 down to <= 1920x1080 and ch 3, 4 to <= 1280x720 with one side
not larger; ch 5 up, both sides not smaller, <= 4096x3076) and returns 0, or -1 when a size has no
channel, the video_index is not one the X5 knows or no sensor is "connected" (env ``FAKE_NO_CAMERA=1``).
``get_img(module=2, width=0, height=0)`` returns NV12 bytes (Y plane then interleaved UV) of a configured
size, a moving gradient, or None (also when no frame is ready: env ``FAKE_NO_FRAME=1``); ``close_cam()`` stops. Its names are checked against the wheel's strings
(``tests/board/test_fake_surface.py``).
"""
import os

import numpy as np

SENSOR = (1920, 1080)  # the X5 kit's IMX219 default output
_LIMITS = ((0, "down", 4096, 3076), (1, "down", 1920, 1080), (2, "down", 1920, 1080),
           (3, "down", 1280, 720), (4, "down", 1280, 720), (5, "up", 4096, 3076))


def _channel(w, h, used):
    sw, sh = SENSOR
    for ch, way, mw, mh in _LIMITS:
        if ch in used or w > mw or h > mh:
            continue
        if ch == 0 and w <= sw and h <= sh:
            return ch
        if way == "down" and ch > 0 and (w <= sw or h <= sh):
            return ch
        if way == "up" and w >= sw and h >= sh:
            return ch
    return -1


class Camera:
    def __init__(self):
        self._sizes = {}
        self._count = 0

    def open_cam(self, pipe_id, video_index, fps=30, width=1920, height=1080, raw_height=-1, raw_width=-1):
        if os.environ.get("FAKE_NO_CAMERA") == "1" or video_index not in (-1, 0, 1):
            return -1
        ws = list(width) if isinstance(width, (list, tuple)) else [width]
        hs = list(height) if isinstance(height, (list, tuple)) else [height]
        if len(ws) != len(hs):
            return -1
        used = []
        for w, h in zip(ws, hs):
            w, h = (SENSOR if (w, h) == (0, 0) else (int(w), int(h)))
            ch = _channel(w, h, used)
            if ch < 0:
                print(f"Invalid size:{w}x{h}")
                return -1
            used.append(ch)
            self._sizes[(w, h)] = ch
        return 0

    def get_img(self, module=2, width=0, height=0):
        key = (int(width), int(height))
        if module != 2 or key not in self._sizes or os.environ.get("FAKE_NO_FRAME") == "1":
            return None
        w, h = key
        self._count += 1
        y = ((np.arange(w)[None, :] + 4 * self._count + np.arange(h)[:, None] // 2) % 220 + 16).astype(np.uint8)
        uv = np.empty((h // 2, w // 2, 2), np.uint8)
        uv[..., 0] = 128 + (np.arange(w // 2)[None, :] * 60 // max(1, w // 2)).astype(np.uint8)
        uv[..., 1] = 100
        return np.concatenate([y.reshape(-1), uv.reshape(-1)]).tobytes()

    def close_cam(self):
        self._sizes = {}
