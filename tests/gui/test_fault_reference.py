"""The fault reference inside the app: an entry for every fault id, RFC sections as links,
and a click on a finding's RFC line opens it at that fault."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

REPO = Path(__file__).resolve().parents[2]


def test_every_fault_id_has_an_entry():
    from sipscope.core.analysis.catalog import CATALOG
    from sipscope.gui.views.fault_reference import reference
    entries = reference()
    missing = sorted(set(CATALOG) - set(entries))
    assert missing == [], "document these in docs/fault-reference.md, then run " \
                          "tools/build_fault_reference.py"
    for fault_id in CATALOG:
        fields = entries[fault_id]["fields"]
        assert fields.get("What the tech reads") or fields.get("What it means"), fault_id


def test_the_resource_is_built_from_the_current_documents():
    import importlib.util
    spec = importlib.util.spec_from_file_location("builder", REPO / "tools" /
                                                  "build_fault_reference.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    if not builder.CATALOG.exists():
        pytest.skip("../shared/docs/fault-catalog.md is absent: cannot rebuild the reference")
    on_disk = json.loads((REPO / "resources" / "fault-reference.json").read_text("utf-8"))
    assert on_disk == builder.build(), "run tools/build_fault_reference.py"


def test_rfc_sections_become_links():
    from sipscope.gui.views.fault_reference import rfc_links
    text = rfc_links("RFC 3261 §17.1.3; §8.2.6.2; RFC 3581 §4 <b>")
    assert 'href="https://www.rfc-editor.org/rfc/rfc3261#section-17.1.3"' in text
    assert 'href="https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2"' in text
    assert 'href="https://www.rfc-editor.org/rfc/rfc3581#section-4"' in text
    assert "&lt;b&gt;" in text


def test_a_click_on_a_findings_rfc_line_opens_the_reference(qtbot, window, demo_session):
    headline = next(f for f in demo_session.findings if f.role == "headline")
    window.controller.select_finding(headline, origin="test")
    panel = window.fault_panel
    from sipscope.gui.models.findings import FINDING_ROLE
    row = next(r for r in range(panel.model.rowCount())
               if panel.model.index(r, 0).data(FINDING_ROLE) is headline)
    index = panel.model.index(row, 0)
    from PySide6.QtWidgets import QStyleOptionViewItem
    option = QStyleOptionViewItem()
    option.initFrom(panel.list)
    option.rect = panel.list.visualRect(index)
    rect = panel.delegate.reference_rect(option, index)
    assert rect is not None and option.rect.contains(rect.center())
    QTest.mouseClick(panel.list.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center())
    dialog = window.reference_dialog
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.ids.currentItem().text() == headline.id
    assert headline.id in dialog.browser.toPlainText()
    assert "RFC 3261" in dialog.browser.toPlainText()
    dialog.close()


def test_security_findings_have_their_own_section_in_the_panel(qtbot, data_dir):
    """Catalog §11 / issue 14 pattern 6: in the GUI too, security findings are grouped apart
    (after the call's story), never under Headline."""
    from sipscope.core.analysis.runner import is_security
    from sipscope.core.model.loader import load_files
    from sipscope.gui.main_window import MainWindow
    from sipscope.gui.models.findings import FINDING_ROLE, HEADER_ROLE
    session = load_files([str(data_dir / "scanner-friendly-scanner-invite-sweep-register-crack.pcap")])
    assert any(is_security(f) for f in session.findings)
    window = MainWindow(settings=None)
    qtbot.addWidget(window)
    window.controller.set_session(session, "scanner")
    window.fault_panel.set_capture_scope(True)
    model = window.fault_panel.model
    group = None
    seen_security = False
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        if index.data(HEADER_ROLE):
            group = index.data()
            continue
        finding = index.data(FINDING_ROLE)
        if finding is None:
            continue
        assert is_security(finding) == group.startswith("Security"), (finding.id, group)
        seen_security = seen_security or is_security(finding)
        if not is_security(finding):
            assert not seen_security, "the security section comes after the call's story"
    assert seen_security
