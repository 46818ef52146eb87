"""Double-clicking a capture while sipscope runs: the second start hands the file to the running
instance (QLocalServer), and macOS Finder's QFileOpenEvent opens the file too."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QFileOpenEvent

from tests.gui.conftest import DEMO, REPO

CAPTURE = REPO / "tests" / "data" / "udp-two-calls-rtp-g711-pcma-pcmu.pcap"


def _launcher(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SIPSCOPE_CONFIG_DIR", str(tmp_path))
    from sipscope.gui.launcher import Launcher
    launcher = Launcher()
    window = launcher.start([])          # the demo trace
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.controller.session is not None, timeout=30_000)
    return launcher, window


def _second_start(name: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, SIPSCOPE_INSTANCE_NAME=name, QT_QPA_PLATFORM="offscreen")
    return subprocess.Popen([sys.executable, "-m", "sipscope", *args], env=env, cwd=str(REPO),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_second_start_hands_its_file_to_the_running_instance(qtbot, tmp_path, monkeypatch):
    launcher, window = _launcher(qtbot, tmp_path, monkeypatch)
    from sipscope.gui.single_instance import InstanceServer
    name = f"sipscope-test-{uuid.uuid4().hex[:12]}"
    server = InstanceServer(launcher.open_paths, name=name)
    assert server.listen()
    relative = os.path.relpath(CAPTURE, REPO)           # made absolute by the second start
    process = _second_start(name, relative)
    qtbot.waitUntil(lambda: process.poll() is not None, timeout=60_000)
    out, err = process.communicate()
    assert process.returncode == 0, err.decode()
    # The demo window was replaceable, so it took the capture; no second window opened.
    qtbot.waitUntil(lambda: window.controller.session is not None
                    and window.controller.source_label == CAPTURE.name, timeout=30_000)
    assert launcher.windows == [window]
    assert len(window.controller.session.calls) == 2
    # A capture of the user's own is never replaced: the next file opens a new window.
    process = _second_start(name, str(DEMO))
    qtbot.waitUntil(lambda: process.poll() is not None, timeout=60_000)
    assert process.returncode == 0
    qtbot.waitUntil(lambda: len(launcher.windows) == 2, timeout=10_000)
    second = launcher.windows[1]
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: second.controller.source_label == DEMO.name, timeout=30_000)
    assert window.controller.source_label == CAPTURE.name
    server.close()
    for win in launcher.windows:
        win.controller.wait_for_load()


def test_nothing_listening_means_no_hand_over(qtbot):
    from sipscope.gui.single_instance import hand_over
    assert hand_over([str(CAPTURE)], name=f"sipscope-test-{uuid.uuid4().hex[:12]}") is False


def test_a_malformed_request_is_refused_and_opens_nothing(qtbot):
    from sipscope.gui.single_instance import _paths_of
    assert _paths_of(b'{"open": ["/a.pcap"]}') == ["/a.pcap"]
    assert _paths_of(b"\xff\xfe") is None
    assert _paths_of(b'{"open": "/a.pcap"}') is None
    assert _paths_of(b'[1, 2]') is None


def test_finder_file_open_event_opens_the_capture(qtbot, tmp_path, monkeypatch):
    launcher, window = _launcher(qtbot, tmp_path, monkeypatch)
    from sipscope.gui.app import make_application
    from sipscope.gui.launcher import FileOpenFilter
    app = make_application()
    event_filter = FileOpenFilter(launcher, app)
    app.installEventFilter(event_filter)
    try:
        QCoreApplication.sendEvent(app, QFileOpenEvent(str(CAPTURE)))
        qtbot.waitUntil(lambda: window.controller.source_label == CAPTURE.name
                        and window.controller.session is not None
                        and len(window.controller.session.calls) == 2, timeout=30_000)
    finally:
        app.removeEventFilter(event_filter)
    window.controller.wait_for_load()
    assert Path(window.controller.loading_paths[0]) == CAPTURE
