"""The streams table, the timeline's media lanes, the call list and the ladder share one selection:
choosing a stream anywhere selects its call and the stream everywhere; a direction the SDP
negotiated that never arrived shows as such (error colour, an empty "no packets" lane)."""

from __future__ import annotations

import struct

import pytest
from factory import Flow, request, response, sdp
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from sipscope.core.media.streams import MediaCollector
from sipscope.gui.models.streams import ERROR_COLOUR, MOS, PACKETS
from tests.gui.window_support import shown_window

B_SIP = "10.0.0.2:5060"


def _rtp(seq: int, ssrc: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, ssrc) + b"\xff" * 160


def _call(f: Flow, t: float, n: int, two_way: bool) -> None:
    a_sip, a_rtp, b_rtp = f"10.0.0.{n}:5060", f"10.0.0.{n}:4000", f"10.0.0.2:{5000 + n}"
    call_id = f"call-{n}@test"
    inv = f.add(t, a_sip, B_SIP, request("INVITE", "sip:bob@10.0.0.2", call_id=call_id, via=a_sip,
                                         branch=f"z9hG4bK-{n}", body=sdp(f"10.0.0.{n}", 4000)))
    f.add(t + 0.3, B_SIP, a_sip, response(inv, 200, "OK", to_tag=f"X{n}",
                                          contact="sip:bob@10.0.0.2", body=sdp("10.0.0.2", 5000 + n)))
    f.add(t + 0.31, a_sip, B_SIP, request("ACK", "sip:bob@10.0.0.2", call_id=call_id,
                                          to_tag=f"X{n}", via=a_sip, branch=f"z9hG4bK-a{n}"))
    for i in range(300):
        f.add(t + 0.4 + i * 0.02, a_rtp, b_rtp, _rtp(i, 10 + n))
        if two_way:
            f.add(t + 0.41 + i * 0.02, b_rtp, a_rtp, _rtp(i, 20 + n))
    bye = f.add(t + 7.0, a_sip, B_SIP, request("BYE", "sip:bob@10.0.0.2", call_id=call_id,
                                               to_tag=f"X{n}", cseq=9, via=a_sip,
                                               branch=f"z9hG4bK-b{n}"))
    f.add(t + 7.05, B_SIP, a_sip, response(bye, 200, "OK", to_tag=f"X{n}"))


@pytest.fixture
def media_session():
    f = Flow()
    _call(f, 0.0, 1, two_way=False)          # one-way audio: nothing comes back
    _call(f, 10.0, 3, two_way=True)
    return f.session(media=MediaCollector())


@pytest.fixture
def win(qtbot, media_session):
    with shown_window(qtbot, media_session, "media") as window:
        yield window


def _call_list_selection(window):
    view = window.calls_view
    return [view.proxy.call_at(i.row()) for i in view.table.selectionModel().selectedRows()]


def test_one_way_call_shows_its_missing_direction(win):
    session = win.controller.session
    win.controller.select_call(session.calls[0])
    model = win.streams_view.model
    assert [(r.direction, r.packets, r.expected_only) for r in model.rows] == [
        ("caller_to_callee", 300, False), ("callee_to_caller", 0, True)]
    missing = model.index(1, PACKETS)
    assert model.data(missing) == "0"
    assert model.data(model.index(1, MOS)) == "no packets"
    assert QColor(model.data(missing, Qt.ForegroundRole)) == ERROR_COLOUR
    assert model.data(model.index(0, PACKETS), Qt.ForegroundRole) is None
    assert "1 direction negotiated but never seen" in win.streams_view.count_label.text()
    lanes = [(lane.label, lane.kind) for lane in win.timeline_view.data.lanes if lane.row]
    assert lanes == [("caller → callee PCMU ×300", "rtp"),
                     ("callee → caller PCMU: no packets", "rtp-missing")]
    tip = win.timeline_view.lane_areas[1].toolTip()
    assert "no packet of it is in the capture" in tip


def test_streams_row_selects_call_ladder_and_timeline_lane(win):
    session = win.controller.session
    view = win.streams_view
    view.set_scope("all")
    assert len(view.model.rows) == 4
    target = next(r for r in view.model.rows if r.call is session.calls[1]
                  and r.direction == "callee_to_caller")
    view.table.selectRow(view.model.row_of(target))
    selection = win.controller.selection
    assert selection.stream is target and selection.call is session.calls[1]
    assert _call_list_selection(win) == [session.calls[1]]
    offer_answer = {m.index for m in session.calls[1].messages if m.body_length}
    assert set(selection.messages) == offer_answer
    assert win.ladder_view.canvas.selected == frozenset(offer_answer)
    assert win.timeline_view.marked_stream is target
    assert win.ladder_view.canvas.selected_stream is target          # its band is outlined


def test_timeline_lane_click_selects_the_row_everywhere(win):
    session = win.controller.session
    win.controller.select_call(session.calls[0])
    area = win.timeline_view.lane_areas[1]            # the missing direction

    class Click:
        accepted = False

        def button(self):
            return Qt.LeftButton

        def accept(self):
            self.accepted = True

    click = Click()
    area.mouseClickEvent(click)
    assert click.accepted
    assert win.controller.selection.stream is area.row
    assert win.streams_view.selected_row() is area.row and area.row.expected_only
    assert _call_list_selection(win) == [session.calls[0]]
    assert win.timeline_view.marked_stream is area.row


def test_call_list_choice_refills_streams_and_clears_stream(win):
    session = win.controller.session
    win.streams_view.table.selectRow(0)
    assert win.controller.selection.stream is not None
    view = win.calls_view
    view.table.selectRow(view.proxy.row_of(session.calls[1]))
    assert win.controller.selection.stream is None
    assert [r.call for r in win.streams_view.model.rows] == [session.calls[1]] * 2
    assert win.streams_view.selected_row() is None
    assert win.timeline_view.marked_stream is None


def test_timeline_png_shows_the_missing_lane(media_session, tmp_path):
    from sipscope.gui.export import timeline_image
    image = timeline_image(media_session, media_session.calls[0])
    path = tmp_path / "timeline.png"
    assert image.save(str(path))
    red = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            c = image.pixelColor(x, y)
            if c.red() > 150 and c.green() < 90 and c.blue() < 90:
                red += 1
    assert red > 50              # the dashed outline and the "no packets" text


def test_ladder_bands_follow_the_toggle_and_select_the_stream(win):
    session = win.controller.session
    win.controller.select_call(session.calls[0])
    ladder = win.ladder_view
    assert [(b.missing, b.row.direction) for b in ladder.layout_data.media] == [
        (False, "caller_to_callee"), (True, "callee_to_caller")]
    band = ladder.layout_data.media[1]
    ladder.canvas.band_clicked.emit(band.row)
    assert win.controller.selection.stream is band.row
    assert win.streams_view.selected_row() is band.row
    assert ladder.canvas.selected_stream is band.row
    ladder.media_box.setChecked(False)
    assert ladder.layout_data.media == []
    ladder.media_box.setChecked(True)
    assert len(ladder.layout_data.media) == 2


def test_ladder_click_on_a_band_label_selects_its_stream(win, qtbot):
    from PySide6.QtCore import QPoint
    session = win.controller.session
    win.controller.select_call(session.calls[0])
    win.tabs.setCurrentWidget(win.ladder_view)
    canvas = win.ladder_view.canvas
    layout = canvas.layout_data
    band = layout.media[1]
    x = layout.media_label_x + 20 - canvas.horizontalScrollBar().value()
    y = band.top + 5 + band.slot * 14 - canvas.verticalScrollBar().value()
    canvas.horizontalScrollBar().setValue(int(layout.width))     # the label margin in view
    x = layout.media_label_x + 20 - canvas.horizontalScrollBar().value()
    qtbot.mouseClick(canvas.viewport(), Qt.LeftButton, pos=QPoint(int(x), int(y)))
    assert win.controller.selection.stream is band.row


def test_stream_analysis_reads_the_chosen_stream_back(qtbot):
    from pathlib import Path

    from sipscope.core.model.loader import load_files
    data = Path(__file__).parents[1] / "data" / "udp-two-calls-rtp-g711-pcma-pcmu.pcap"
    session = load_files([str(data)])
    with shown_window(qtbot, session, "rtp") as window:
        window.tabs.setCurrentWidget(window.stream_analysis_view)
        window.controller.select_call(session.calls[1])
        window.streams_view.table.selectRow(0)
        row = window.controller.selection.stream
        view = window.stream_analysis_view
        assert view.row is row and "PCMA/8000" in view.title.text()
        qtbot.waitUntil(lambda: view.analysis is not None, timeout=10000)
        assert len(view.analysis.times) == row.packets == 414
        assert view.analysis.max_jitter_ms == pytest.approx(row.max_jitter_ms, abs=1e-6)
        [curve] = view.delta_plot.listDataItems()
        assert len(curve.getData()[0]) == 414
        window.controller.select_call(session.calls[0])         # another call: no stream chosen
        assert view.row is None and not view.delta_plot.listDataItems()


def test_playback_moves_a_cursor_on_the_timeline(qtbot, tmp_path, monkeypatch):
    """Played through miniaudio's null backend (no sound card): the cursor follows the audio."""
    pytest.importorskip("miniaudio")
    monkeypatch.setenv("SIPSCOPE_AUDIO_BACKEND", "null")
    from core.media.test_audio import build

    from sipscope.core.model.loader import load_files
    session = load_files([str(build(tmp_path))])
    with shown_window(qtbot, session, "tone") as window:
        window.tabs.setCurrentWidget(window.timeline_view)
        timeline = window.timeline_view
        bar = timeline.playback
        bar.play_button.click()
        qtbot.waitUntil(lambda: bar.player.playing, timeout=10000)
        assert bar.audio.notes == [] and bar.audio.seconds == pytest.approx(5.0)
        qtbot.wait(300)
        first = timeline.play_cursor.value()
        qtbot.waitUntil(lambda: timeline.play_cursor.value() > first, timeout=5000)
        assert timeline.play_cursor.isVisible()
        # the cursor sits at the audio's position: the caller's first packet came 1 s in
        position = bar.audio.start + bar.player.position - timeline.data.t0
        assert abs(timeline.play_cursor.value() - position) < 0.5
        assert timeline.play_cursor.value() >= 1.0
        bar.play_button.click()                                   # stop
        assert not bar.player.playing and not timeline.play_cursor.isVisible()


def test_playback_says_why_it_cannot_play(win):
    """No file behind a synthetic session: the bar says so instead of failing."""
    win.controller.select_call(win.controller.session.calls[0])
    bar = win.timeline_view.playback
    bar.play_button.click()
    assert bar.status.text() == "The audio cannot be read again: this input was not a file."
    assert not bar.player.playing


def test_codec_text_from_the_sdp_is_shown_as_plain_text(qtbot):
    """An rtpmap name with markup and a bidi override: shown as typed, the override as U+FFFD."""
    from PySide6.QtGui import Qt as QtGuiNamespace

    from sipscope.gui.models.streams import CODEC, StreamsModel
    from sipscope.core.media.table import stream_rows
    evil = "<b>X\u202eY</b>"
    f = Flow()
    body = sdp("10.0.0.1", 4000, codecs="96") + f"a=rtpmap:96 {evil}/8000\r\n"
    answer = sdp("10.0.0.2", 5001, codecs="96") + f"a=rtpmap:96 {evil}/8000\r\n"
    inv = f.add(0.0, "10.0.0.1:5060", B_SIP, request("INVITE", "sip:bob@10.0.0.2",
                                                      via="10.0.0.1:5060", body=body))
    f.add(0.3, B_SIP, "10.0.0.1:5060", response(inv, 200, "OK", to_tag="X", body=answer))
    for i in range(50):
        f.add(0.5 + i * 0.02, "10.0.0.1:4000", "10.0.0.2:5001",
              struct.pack("!BBHII", 0x80, 96, i, i * 160, 7) + b"\x00" * 160)
    session = f.session(media=MediaCollector())
    model = StreamsModel()
    model.set_rows(stream_rows(session, session.calls[0]))
    shown = model.data(model.index(0, CODEC))
    assert "\u202e" not in shown and "\ufffd" in shown and shown.startswith("<B>X")  # as typed
    tip = model.data(model.index(0, CODEC), Qt.ToolTipRole)
    assert "&lt;B&gt;X" in tip and "<B>X" not in tip and "\u202e" not in tip
    assert QtGuiNamespace.mightBeRichText(tip)           # escaped markup, shown as typed


def test_export_current_view_writes_the_streams_table(win, qtbot, tmp_path):
    from PySide6.QtGui import QImage
    win.controller.select_call(win.controller.session.calls[0])
    win.tabs.setCurrentWidget(win.streams_view)
    qtbot.wait(20)
    path = tmp_path / "streams.png"
    kinds = []
    original = win.export_png

    def export_without_dialog(kind, _path=None):
        kinds.append(kind)
        original(kind, str(path))

    win.export_png = export_without_dialog
    with qtbot.waitSignal(win.export_finished, timeout=30_000) as blocker:
        win.export_current()
    assert kinds == ["streams"] and blocker.args == [str(path), ""]
    image = QImage(str(path))
    assert image.width() >= win.streams_view.width()
    red = sum(1 for y in range(0, image.height(), 2) for x in range(0, image.width(), 2)
              if (c := image.pixelColor(x, y)).red() > 150 and c.green() < 90 and c.blue() < 90)
    assert red > 20                               # the missing direction's row in the error colour


def test_timeline_marks_lost_packets_read_back_from_the_capture(qtbot, tmp_path):
    """The tone capture drops packets 100-102 of the caller's stream: one red mark, 2.0 s after
    the stream's first packet (1.0 s into the call), on the caller -> callee lane."""
    from core.media.test_audio import build

    from sipscope.core.model.loader import load_files
    session = load_files([str(build(tmp_path))])
    with shown_window(qtbot, session, "tone") as window:
        window.tabs.setCurrentWidget(window.timeline_view)
        window.controller.select_call(session.calls[0])
        timeline = window.timeline_view
        qtbot.waitUntil(lambda: bool(timeline.loss_marks), timeout=10000)
        [lane] = [n for n, lane in enumerate(timeline.data.lanes)
                  if lane.row is not None and lane.row.direction == "caller_to_callee"]
        [(number, x)] = timeline.loss_marks
        first = timeline.data.lanes[lane].row.first_ts - timeline.data.t0
        assert number == lane and x - first == pytest.approx(2.06, abs=0.001)   # packet 103
        # the stream analysis reuses that reading
        window.controller.select_stream(timeline.data.lanes[lane].row)
        view = window.stream_analysis_view
        assert view.analysis is not None and view.analysis.lost == [(pytest.approx(2.06), 3)]


def test_timeline_png_export_has_the_lost_marks(tmp_path):
    from core.media.test_audio import build

    from sipscope.core.model.loader import load_files
    from sipscope.gui.export import timeline_image
    session = load_files([str(build(tmp_path))])
    image = timeline_image(session, session.calls[0])
    red = sum(1 for y in range(0, image.height()) for x in range(0, image.width(), 2)
              if (c := image.pixelColor(x, y)).red() > 150 and c.green() < 90 and c.blue() < 90)
    assert red > 5                                  # the lost-packet mark of packets 100-102
