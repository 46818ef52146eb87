"""File > Anonymize capture for a ticket: the copy is written by a worker, not the GUI thread."""

from __future__ import annotations

import threading
from pathlib import Path

from .window_support import shown_window

DATA = Path(__file__).resolve().parents[1] / "data"


def test_file_menu_anonymizes_the_loaded_capture_in_a_worker(qtbot, tmp_path, monkeypatch):
    from sipscope.core.export import anonymize
    from sipscope.core.model.loader import load_files
    source = DATA / "udp-two-calls-rtp-g711-pcma-pcmu.pcap"
    threads = []
    real = anonymize.anonymize_files

    def spy(pairs, *args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(pairs, *args, **kwargs)

    monkeypatch.setattr(anonymize, "anonymize_files", spy)
    with shown_window(qtbot, load_files([str(source)]), "two calls") as window:
        titles = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
        assert "&Anonymize capture for a ticket…" in titles
        target = tmp_path / "copy.pcap"
        with qtbot.waitSignal(window.anonymize.finished, timeout=30_000) as blocker:
            window.anonymize.run(str(target))
        message, error = blocker.args
        assert error == "" and str(target) in message
        assert threads == [False]
        data = target.read_bytes()
        assert len(data) == source.stat().st_size and b"10.0.2.20" not in data
        assert str(target) in window.banner.plain_text()
        # an output that is the input is refused, in the banner, and the capture is intact
        before = source.read_bytes()
        with qtbot.waitSignal(window.anonymize.finished, timeout=30_000) as blocker:
            window.anonymize.run(str(source))
        assert "is the input file" in blocker.args[1]
        assert source.read_bytes() == before


def test_the_menu_action_proposes_name_anon_ext_and_writes_what_is_chosen(qtbot, tmp_path,
                                                                         monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from sipscope.core.model.loader import load_files
    source = DATA / "blog-grandstream-forked-call.txt"
    chosen = tmp_path / "for-ticket.txt"
    proposed = []

    def accept(dialog):
        proposed.append(Path(dialog.selectedFiles()[0]).name)
        dialog.selectFile(str(chosen))
        return 1

    monkeypatch.setattr(QFileDialog, "exec", accept)
    with shown_window(qtbot, load_files([str(source)]), "blog") as window:
        with qtbot.waitSignal(window.anonymize.finished, timeout=30_000) as blocker:
            window.anonymize.action.trigger()
        assert blocker.args[1] == ""
    assert proposed == ["blog-grandstream-forked-call.anon.txt"]
    assert b"jnctn.net" not in chosen.read_bytes()
