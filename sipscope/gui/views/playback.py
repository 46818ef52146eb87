"""Playback bar of the timeline: play a call's audio, one or both directions in step, with a
moving cursor on the timeline; jitter buffer off (packets where their RTP timestamps put them)
or on (60 ms: packets later than that are silence).

    [> Play] [Both directions v] [ ] Jitter buffer 60 ms   G729/8000 cannot be decoded ...

The audio is decoded from the capture in a worker (core/media/audio.py); the player
(gui/player.py) feeds the sound device from its own thread.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from sipscope.core.media.audio import call_audio
from sipscope.core.media.packets import session_paths
from sipscope.core.untrusted import visible_controls
from sipscope.gui.player import Player, PlaybackUnavailable

CHANNELS = (("both", "Both directions"), ("caller", "Caller only (left)"),
            ("callee", "Callee only (right)"))
JITTER_BUFFER_MS = 60.0
TICK_MS = 50


class _Signals(QObject):
    done = Signal(object, object, str)          # call, CallAudio | None, error


class _DecodeTask(QRunnable):
    def __init__(self, call, rows, paths, jitter_buffer_ms) -> None:
        super().__init__()
        self.call, self.rows, self.paths, self.jb = call, rows, paths, jitter_buffer_ms
        self.signals = _Signals()

    def run(self) -> None:
        try:
            audio = call_audio(self.rows, self.paths, jitter_buffer_ms=self.jb)
            self.signals.done.emit(self.call, audio, "")
        except Exception as exc:  # noqa: BLE001 - a sentence, never a traceback
            self.signals.done.emit(self.call, None, f"{type(exc).__name__}: {exc}")


class PlaybackBar(QWidget):
    def __init__(self, controller, timeline, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.timeline = timeline
        self.player = Player()
        self.audio = None
        self._call = None
        self._tasks: set = set()
        self.play_button = QPushButton("▶ Play", self)
        self.play_button.setToolTip("Play the call's audio (G.711), following it on the timeline")
        self.channel_box = QComboBox(self)
        for key, title in CHANNELS:
            self.channel_box.addItem(title, key)
        self.jitter_box = QCheckBox(f"Jitter buffer {JITTER_BUFFER_MS:.0f} ms", self)
        self.jitter_box.setToolTip("Off: every packet plays where its RTP timestamp puts it. "
                                   "On: packets later than the buffer are silence, as a phone "
                                   "with that buffer would play them.")
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.PlainText)
        self.status.setObjectName("countLabel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.play_button, self.channel_box, self.jitter_box, self.status):
            layout.addWidget(widget)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.play_button.clicked.connect(self.toggle)
        self.channel_box.currentIndexChanged.connect(lambda *_: self._restart())
        self.jitter_box.toggled.connect(lambda *_: self._restart(decode=True))
        controller.sig_calls_changed.connect(lambda _: self.stop(forget=True))
        controller.sig_session_changed.connect(lambda _: self.stop(forget=True))

    # -- actions ---------------------------------------------------------------------------
    def toggle(self) -> None:
        if self.player.playing:
            self.stop()
        else:
            self.play()

    def play(self) -> None:
        call = self.controller.selection.call
        if call is None or self.controller.session is None:
            return
        if self.audio is not None and self._call is call:
            self._start_player(0.0)
            return
        rows = [r for r in self.controller.stream_table().rows_for(call) if r.direction]
        if not rows:
            self.status.setText("This call has no RTP stream in the capture.")
            return
        paths = session_paths(self.controller.session)
        if not paths:
            self.status.setText("The audio cannot be read again: this input was not a file.")
            return
        self.status.setText("Decoding the call's audio…")
        self.play_button.setEnabled(False)
        task = _DecodeTask(call, rows, paths,
                           JITTER_BUFFER_MS if self.jitter_box.isChecked() else None)
        task.signals.done.connect(self._decoded)
        self._tasks.add(task.signals)
        QThreadPool.globalInstance().start(task)

    def _decoded(self, call, audio, error: str) -> None:
        self._tasks.discard(self.sender())
        self.play_button.setEnabled(True)
        if call is not self.controller.selection.call:
            return
        if audio is None:
            self.status.setText(f"The audio could not be decoded: {error}")
            return
        self.audio, self._call = audio, call
        notes = visible_controls(" ".join(audio.notes))
        if not len(audio.left):
            self.status.setText(notes or "Nothing of this call could be decoded.")
            return
        self.status.setText(notes)
        self._start_player(0.0)

    def _start_player(self, start: float) -> None:
        audio = self.audio
        left, right = audio.left, audio.right
        mode = self.channel_box.currentData()
        silent = np.zeros_like(left)
        try:
            self.player.play(left if mode != "callee" else silent,
                             right if mode != "caller" else silent, start)
        except PlaybackUnavailable as exc:
            self.status.setText(str(exc))
            return
        self.play_button.setText("■ Stop")
        self.timer.start()
        self._tick()

    def _restart(self, decode: bool = False) -> None:
        if not self.player.playing:
            if decode:
                self.audio = None
            return
        position = self.player.position
        if decode:
            self.stop(forget=True)
            self.play()
        else:
            self._start_player(position)

    def stop(self, forget: bool = False) -> None:
        self.player.stop()
        self.timer.stop()
        self.play_button.setText("▶ Play")
        self.timeline.show_play_cursor(None)
        if forget:
            self.audio, self._call = None, None

    def _tick(self) -> None:
        if self.audio is None:
            return
        if not self.player.playing:
            self.stop()
            return
        self.timeline.show_play_cursor(self.audio.start + self.player.position)
