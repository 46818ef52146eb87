"""Audio output for call playback, through miniaudio (one small wheel that carries its own
native library on Windows, macOS and Linux, and has a "null" backend that plays into nothing, so
the tests need no sound card).  Qt-free; the playback bar (views/playback.py) drives it.

Why miniaudio: PySide6-Addons' QtMultimedia would add the whole Addons wheel (well over 100 MB)
and FFmpeg to the frozen app; sounddevice's Linux wheels rely on a system PortAudio.  miniaudio is
about 2 MB, self-contained, and reaches WASAPI, Core Audio, PulseAudio/ALSA at run time.
"""

from __future__ import annotations

import os
import threading

import numpy as np

RATE = 8000


class PlaybackUnavailable(Exception):
    """Playback cannot start; the text says why in plain words."""


def _backends():
    """The backends to use: SIPSCOPE_AUDIO_BACKEND=null (tests, headless) or the platform's."""
    import miniaudio
    if os.environ.get("SIPSCOPE_AUDIO_BACKEND", "").lower() == "null":
        return [miniaudio.Backend.NULL]
    return None


class Player:
    """Plays a stereo int16 buffer (two equal-length channels) from a given frame."""

    def __init__(self) -> None:
        self._device = None
        self._frames: np.ndarray | None = None
        self._pos = 0
        self._lock = threading.Lock()

    @property
    def playing(self) -> bool:
        return self._device is not None and self._frames is not None \
            and self._pos < len(self._frames)

    @property
    def position(self) -> float:
        """Seconds from the start of the buffer that have been handed to the device."""
        return self._pos / RATE

    @property
    def length(self) -> float:
        return len(self._frames) / RATE if self._frames is not None else 0.0

    def play(self, left: np.ndarray, right: np.ndarray, start: float = 0.0) -> None:
        try:
            import miniaudio
        except ImportError:
            raise PlaybackUnavailable("Playback needs the 'miniaudio' package, which is not "
                                      "installed with this copy of sipscope.") from None
        self.stop()
        frames = np.empty((len(left), 2), dtype=np.int16)
        frames[:, 0], frames[:, 1] = left, right
        self._frames = frames
        self._pos = max(0, min(len(frames), int(start * RATE)))
        try:
            device = miniaudio.PlaybackDevice(output_format=miniaudio.SampleFormat.SIGNED16,
                                              nchannels=2, sample_rate=RATE,
                                              backends=_backends(), app_name="sipscope")
        except Exception as exc:  # noqa: BLE001 - no device, no backend: a sentence
            self._frames = None
            raise PlaybackUnavailable(f"No audio output could be opened ({exc}).") from None
        generator = self._feed()
        next(generator)
        device.start(generator)
        self._device = device

    def _feed(self):
        required = yield b""
        while True:
            with self._lock:
                frames = self._frames
                if frames is None:
                    return
                chunk = frames[self._pos:self._pos + required]
                self._pos += len(chunk)
            if len(chunk) < required:                       # the end: silence until stopped
                chunk = np.concatenate([chunk, np.zeros((required - len(chunk), 2), np.int16)])
            required = yield chunk

    def stop(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            device.stop()
            device.close()
