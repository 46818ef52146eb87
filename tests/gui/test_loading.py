"""Loading runs in a worker thread, reports progress, can be cancelled, and reports problems in
the window as sentences (a damaged file still shows what was read)."""

from __future__ import annotations

import struct
import threading
import time

import pytest

from sipscope.gui.load_worker import LoadWorker


def write_pcap(path, calls: int) -> int:
    """A classic pcap (Ethernet/IPv4/UDP) of `calls` INVITE + 200 OK exchanges."""
    packets = 0
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for number in range(calls):
            call_id = f"{number}-load@example.com"
            invite = (f"INVITE sip:{2000 + number}@192.0.2.2 SIP/2.0\r\n"
                      f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{number}\r\n"
                      f"From: <sip:1000@192.0.2.1>;tag=a{number}\r\n"
                      f"To: <sip:{2000 + number}@192.0.2.2>\r\nCall-ID: {call_id}\r\n"
                      f"CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
                      f"Contact: <sip:1000@192.0.2.1:5060>\r\nContent-Length: 0\r\n\r\n").encode()
            ok = (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{number}\r\n"
                  f"From: <sip:1000@192.0.2.1>;tag=a{number}\r\n"
                  f"To: <sip:{2000 + number}@192.0.2.2>;tag=b{number}\r\nCall-ID: {call_id}\r\n"
                  f"CSeq: 1 INVITE\r\nContact: <sip:{2000 + number}@192.0.2.2:5060>\r\n"
                  f"Content-Length: 0\r\n\r\n").encode()
            for offset, (src, dst, payload) in enumerate(((1, 2, invite), (2, 1, ok))):
                udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
                ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                                 bytes([192, 0, 2, src]), bytes([192, 0, 2, dst])) + udp
                frame = b"\x00" * 12 + b"\x08\x00" + ip
                ts = 1_700_000_000 + number * 0.01 + offset * 0.005
                out.write(struct.pack("<IIII", int(ts), int(ts % 1 * 1e6), len(frame),
                                      len(frame)) + frame)
                packets += 1
    return packets


@pytest.fixture(scope="module")
def big_capture(tmp_path_factory):
    path = tmp_path_factory.mktemp("load") / "big.pcap"
    write_pcap(path, 6_000)       # 12,000 packets: several progress reports
    return path


def test_loading_runs_off_the_gui_thread_and_reports_progress(qtbot, big_capture):
    from sipscope.gui.controller import Controller
    controller = Controller()
    progress: list[float] = []
    controller.sig_load_progress.connect(lambda fraction, _text: progress.append(fraction))
    shown_on: list[int] = []       # the session reaches the views on the GUI thread
    controller.sig_session_changed.connect(lambda _s: shown_on.append(threading.get_ident()))
    with qtbot.waitSignal(controller.sig_load_finished, timeout=120_000):
        controller.open_files([str(big_capture)])
        assert controller.loading                 # returned at once: the GUI thread is free
    assert controller.last_worker_thread is not None
    assert controller.last_worker_thread != threading.main_thread().ident
    assert len(controller.session.calls) == 6_000 and len(controller.session.messages) == 12_000
    assert progress and progress[-1] == 1.0
    assert shown_on == [threading.main_thread().ident]
    assert controller.selection.call is controller.session.calls[0]
    controller.wait_for_load()


def test_cancel_stops_the_worker(qtbot, big_capture):
    """A slowed progress callback keeps the load busy; Cancel ends it without a session."""
    from sipscope.core.model.loader import load_files
    from sipscope.gui.controller import Controller

    def slow_load(progress, cancelled):
        def slowed(fraction, text):
            time.sleep(0.2)
            progress(fraction, text)
        return load_files([str(big_capture)], progress=slowed, cancelled=cancelled)

    controller = Controller()
    worker = LoadWorker(load=slow_load)
    outcome: list[str] = []
    worker.cancelled.connect(lambda: outcome.append("cancelled"))
    worker.finished.connect(lambda *_: outcome.append("finished"))
    with qtbot.waitSignal(controller.sig_load_progress, timeout=60_000):
        controller.start_worker(worker, "big.pcap")
    started = time.monotonic()
    with qtbot.waitSignal(controller.sig_load_cancelled, timeout=5_000):
        controller.cancel_load()
    controller.wait_for_load(30_000)
    qtbot.waitUntil(lambda: bool(outcome), timeout=30_000)
    assert outcome == ["cancelled"]
    assert worker.thread_id != threading.main_thread().ident
    assert controller.session is None and not controller.loading
    assert time.monotonic() - started < 20


def test_window_progress_bar_and_cancel_button(qtbot, big_capture):
    from sipscope.gui.main_window import MainWindow
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.controller.sig_load_started):
        window.open_files([str(big_capture)])
    assert window.progress.isVisible() and window.cancel_button.isVisible()
    window.cancel_button.click()
    assert not window.progress.isVisible()
    assert "cancelled" in window.banner.plain_text().lower()
    window.controller.wait_for_load(30_000)


def test_not_a_capture_is_a_sentence_in_the_banner(qtbot, tmp_path):
    from sipscope.gui.main_window import MainWindow
    picture = tmp_path / "photo.pcap"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.controller.sig_load_failed, timeout=30_000) as blocker:
        window.open_files([str(picture)])
    text = window.banner.plain_text()
    assert "PNG image" in text and "Traceback" not in text
    assert blocker.args[0] in text
    assert window.controller.session is None and not window.progress.isVisible()
    window.controller.wait_for_load()


def test_missing_file_is_reported(qtbot, tmp_path):
    from sipscope.gui.main_window import MainWindow
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.open_files([str(tmp_path / "nowhere.pcap")])
    assert "File not found" in window.banner.plain_text() and not window.controller.loading


def test_truncated_capture_shows_what_was_read_and_warns(qtbot, tmp_path):
    from sipscope.gui.main_window import MainWindow
    whole = tmp_path / "whole.pcap"
    write_pcap(whole, 20)
    data = whole.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 200])          # the last packet is cut short
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.controller.sig_load_finished, timeout=30_000):
        window.open_files([str(cut)])
    session = window.controller.session
    assert 0 < len(session.messages) < 40 and session.inputs[0].warnings
    text = window.banner.plain_text()
    assert "cut.pcap" in text and "showing what could be read" in text
    assert window.calls_view.proxy.rowCount() == len(session.calls)
    window.controller.wait_for_load()


def test_paste_trace_loads_from_the_clipboard(qtbot, demo_session):
    from PySide6.QtGui import QGuiApplication

    from sipscope.gui.main_window import MainWindow
    from tests.gui.conftest import DEMO
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    QGuiApplication.clipboard().setText(DEMO.read_text())
    with qtbot.waitSignal(window.controller.sig_load_finished, timeout=30_000):
        window.paste_action.trigger()
    assert len(window.controller.session.messages) == len(demo_session.messages)
    assert window.controller.source_label == "pasted text"
    window.controller.wait_for_load()


@pytest.fixture
def slowed_rules(monkeypatch):
    """The first fault rule waits for `release` (at most 20 s): the analysis phase stays busy."""
    from sipscope.core.analysis.registry import load_rules
    rules = load_rules()
    first = next(iter(rules.values()))
    original = first.func
    release = threading.Event()
    entered = threading.Event()

    def slow(context):
        entered.set()
        release.wait(20)
        return original(context)

    monkeypatch.setattr(first, "func", slow)
    yield entered, release
    release.set()


def test_calls_show_before_the_findings_arrive(qtbot, slowed_rules):
    """Files load model-first: the call list is filled while the rules still run, the findings
    (fault panel, Faults column, summary) follow when the worker is done."""
    from sipscope.gui.main_window import MainWindow
    from sipscope.gui.models.call_list import FAULTS
    from tests.gui.conftest import DEMO
    entered, release = slowed_rules
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.show()
    events: list[tuple] = []
    controller = window.controller
    controller.sig_session_changed.connect(
        lambda s: events.append(("model", window.calls_view.proxy.rowCount(), len(s.findings))))
    controller.sig_findings_changed.connect(
        lambda s: events.append(("findings", window.calls_view.proxy.rowCount(), len(s.findings))))
    with qtbot.waitSignal(controller.sig_session_changed, timeout=30_000):
        window.open_files([str(DEMO)])
    session = controller.session
    assert entered.wait(10)
    assert controller.call_rows.complete          # rows filled (rows_ready) before the rules
    assert controller.loading and controller.analysing
    assert window.calls_view.proxy.rowCount() == len(session.calls) == 3
    assert session.findings == [] and window.fault_panel.model.findings() == []
    assert "analysing" in window.summary_label.text()
    assert "Looking for faults" in window.fault_panel.empty_label.text()   # not "no faults"
    assert window.progress.isVisible()
    qtbot.waitUntil(lambda: "analysing" in window.progress_text.text(), timeout=10_000)
    with qtbot.waitSignal(controller.sig_load_finished, timeout=30_000):
        release.set()
    assert [e[0] for e in events] == ["model", "findings"]
    assert events[0][1] == 3 and events[0][2] == 0
    assert events[1][2] == len(session.findings) > 0
    assert not controller.analysing and not window.progress.isVisible()
    assert window.fault_panel.model.findings()
    counts = [window.calls_view.proxy.index(row, FAULTS).data() for row in range(3)]
    assert any(counts)
    assert "findings" in window.summary_label.text()
    controller.wait_for_load()


def test_cancel_during_analysis_keeps_the_calls(qtbot, slowed_rules):
    from sipscope.gui.main_window import MainWindow
    from tests.gui.conftest import DEMO
    entered, release = slowed_rules
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.controller.sig_session_changed, timeout=30_000):
        window.open_files([str(DEMO)])
    assert entered.wait(10)
    finished: list = []
    window.controller.sig_load_finished.connect(finished.append)
    window.cancel_button.click()
    release.set()
    window.controller.wait_for_load(30_000)
    qtbot.wait(50)
    session = window.controller.session
    assert session is not None and len(session.calls) == 3 and session.findings == []
    assert not finished and not window.controller.loading
    assert window.controller.analysis_cancelled and not window.progress.isVisible()
    assert "analysis cancelled" in window.banner.plain_text().lower()
    assert "cancelled" in window.fault_panel.empty_label.text()
    assert window.calls_view.proxy.rowCount() == 3


def test_the_streams_table_is_built_by_the_load_worker(qtbot):
    """Off the GUI thread: the controller takes the table the worker built (~0.3 s on 1,300
    calls with RTP), it does not build another one."""
    from pathlib import Path
    from sipscope.gui.controller import Controller
    capture = Path(__file__).resolve().parents[1] / "data" / "udp-two-calls-rtp-g711-pcma-pcmu.pcap"
    controller = Controller()
    with qtbot.waitSignal(controller.sig_findings_changed, timeout=30_000):
        controller.open_files([str(capture)])
    built = controller.call_rows.stream_table
    assert built is not None and built.session is controller.session and built.rows
    assert controller.stream_table() is built
    controller.wait_for_load()
