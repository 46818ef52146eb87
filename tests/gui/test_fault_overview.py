"""The fault panel's "By fault" overview and the call list's `fault:` filter, on the SIPVicious
sweep of tests/data (26 OPTIONS from 11 addresses, each its own call)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .window_support import shown_window

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def sweep():
    from sipscope.core.model.loader import load_files
    return load_files([str(DATA / "scanner-friendly-scanner-options-sweep.pcap")])


@pytest.fixture
def sweep_window(qtbot, sweep):
    with shown_window(qtbot, sweep, "sweep") as win:
        yield win


def _cells(table) -> list[list[str]]:
    return [[table.item(row, column).text() for column in range(table.columnCount())]
            for row in range(table.rowCount())]


def test_by_fault_lists_each_fault_once_with_its_share(qtbot, sweep_window, sweep):
    panel = sweep_window.fault_panel
    panel.overview_button.setChecked(True)
    assert panel.overview.isVisible() and not panel.list.isVisible()
    rows = _cells(panel.overview)
    assert [row[:3] for row in rows] == [["sec-scanner-user-agent", "11", "11 sources"],
                                         ["tmr-non-invite-timeout", "1", "1 of 26 calls (3.8 %)"]]
    assert rows[0][3] == "Requests carry a known scanner User-Agent"
    assert panel.count_label.text() == "12 in capture"
    panel.call_button.setChecked(True)                     # back to the cards
    assert panel.list.isVisible() and not panel.overview.isVisible()


def test_a_click_on_a_fault_lists_its_calls_and_opens_the_first(qtbot, sweep_window, sweep):
    panel, calls = sweep_window.fault_panel, sweep_window.calls_view
    panel.overview_button.setChecked(True)
    timeout = next(f for f in sweep.findings if f.id == "tmr-non-invite-timeout")
    panel.overview.cellClicked.emit(1, 0)
    assert calls.filter_edit.text() == "fault:tmr-non-invite-timeout"
    assert calls.proxy.rowCount() == 1
    assert calls.proxy.call_at(0).call_id == timeout.call_id
    assert [c.call_id for c in sweep_window.controller.selection.calls] == [timeout.call_id]
    assert calls.count_label.text() == "1 of 26 calls"
    # a capture-scope finding counts on the calls its messages belong to
    panel.overview.cellClicked.emit(0, 0)
    scanned = {sweep.messages[i].call_id for f in sweep.findings
               if f.id == "sec-scanner-user-agent" for i in f.messages}
    assert calls.proxy.rowCount() == len(scanned) > 1
    assert {calls.proxy.call_at(r).call_id for r in range(calls.proxy.rowCount())} == scanned


def test_fault_filter_words_combine_and_match_id_prefixes(qtbot, sweep_window, sweep):
    calls = sweep_window.calls_view
    calls.filter_edit.setText("fault:tmr")
    calls.apply_filter()
    assert calls.proxy.rowCount() == 1
    calls.filter_edit.setText("fault: options")            # any finding, and an OPTIONS
    calls.apply_filter()
    with_findings = {f.call_id for f in sweep.findings if f.call_id} | {
        sweep.messages[i].call_id for f in sweep.findings if not f.call_id for i in f.messages}
    assert calls.proxy.rowCount() == len(with_findings)
    calls.filter_edit.setText("fault:reg-")                 # a fault this capture does not have
    calls.apply_filter()
    assert calls.proxy.rowCount() == 0 and calls.count_label.text() == "0 of 26 calls"


def test_enter_on_a_fault_row_lists_its_calls_too(qtbot, sweep_window):
    from PySide6.QtCore import Qt
    panel, calls = sweep_window.fault_panel, sweep_window.calls_view
    panel.overview_button.setChecked(True)
    panel.overview.setFocus()
    panel.overview.setCurrentCell(1, 0)
    qtbot.keyClick(panel.overview, Qt.Key_Return)
    assert calls.filter_edit.text() == "fault:tmr-non-invite-timeout"


def test_what_the_findings_mean_for_the_calls_is_prepared_off_the_gui_thread(sweep):
    """The load worker works out the per-call severities and the fault index after the rules;
    set_findings() takes them only for exactly those findings (the same list), else computes
    its own."""
    from sipscope.core.model.session import Session
    from sipscope.gui.models.call_rows import CallRows
    session = Session(messages=sweep.messages, calls=sweep.calls, inputs=sweep.inputs)
    session._calls_by_id = sweep._calls_by_id
    findings = list(sweep.findings)
    rows = CallRows(session)
    rows.prepare_findings(findings)
    session.findings = findings
    rows.set_findings()
    assert rows._faults is not None                       # taken, not rebuilt on first use
    assert sum(rows.matching("fault:tmr", False)) == 1
    timeout_call = next(f.call_id for f in findings if f.id == "tmr-non-invite-timeout")
    index = next(c.index for c in sweep.calls if c.call_id == timeout_call)
    assert rows.row(index).findings == 1 and rows.row(index).severity >= 1
    rows.prepare_findings(findings)
    session.findings = list(findings)                     # other findings: not taken
    rows.set_findings()
    assert rows._faults is None
    assert sum(rows.matching("fault:tmr", False)) == 1    # built when asked
