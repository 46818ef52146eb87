"""Fault reference: every fault id sipscope reports, what it means, why it matters, what to do,
and the RFC sections (links to the RFC Editor), inside the app (Help > Fault reference, or a
click on a finding's RFC line).

    +-------------------------------------------------------------------------------+
    | [ Filter: id or words ]  | fork-response-wrong-endpoint  — error  (catalog 5.1) |
    | call-failed              | What it means ...                                    |
    | fork-response-wrong-...  | What the tech reads ...                              |
    | ...                      | Standard: RFC 3261 §17.1.3 (link) ...                |
    +-------------------------------------------------------------------------------+

The entries come from resources/fault-reference.json (tools/build_fault_reference.py builds it
from the fault catalog and docs/fault-reference.md).  They are sipscope's own words; they are
escaped all the same, and nothing from a capture is shown here.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QHBoxLayout, QLineEdit, QListWidget, QListWidgetItem,
                               QTextBrowser, QVBoxLayout)

from sipscope.core.analysis.catalog import CATALOG
from sipscope.gui.resources import resource_path

RFC_EDITOR = "https://www.rfc-editor.org/rfc/rfc{number}"
_RFC = re.compile(r"RFC (\d{3,5})((?:[ ,;]*§ ?[\d.]+(?:[-–][\d.]+)?(?: step \d+(?:-\d+)?)?)*)")
_SECTION = re.compile(r"§ ?([\d.]*\d)")
ORDER = ("What it means", "What the tech reads", "Standard", "What is not this fault",
         "How it is detected", "Scope")


@lru_cache(maxsize=1)
def reference() -> dict[str, dict]:
    path = resource_path("fault-reference.json")
    if path is None:
        return {}
    return json.loads(path.read_text("utf-8"))


def rfc_links(text: str) -> str:
    """Escaped text with every `RFC n §x.y` turned into links to that section."""
    out, last = [], 0
    for match in _RFC.finditer(text):
        out.append(html.escape(text[last:match.start()]))
        number = match.group(1)
        base = RFC_EDITOR.format(number=number)
        out.append(f'<a href="{base}">RFC {number}</a>')
        tail = match.group(2)
        position = 0
        for section in _SECTION.finditer(tail):
            out.append(html.escape(tail[position:section.start()]))
            out.append(f'<a href="{base}#section-{section.group(1).rstrip(".")}">'
                       f"{html.escape(section.group(0))}</a>")
            position = section.end()
        out.append(html.escape(tail[position:]))
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def entry_html(fault_id: str) -> str:
    entry = reference().get(fault_id)
    summary = CATALOG.get(fault_id, ("", "", ""))
    if entry is None:
        return (f"<h3>{html.escape(fault_id)}</h3><p>{html.escape(summary[2])}</p>"
                "<p><i>No reference entry for this fault.</i></p>")
    where = (f"fault catalog §{entry['section']}" if entry["section"]
             else html.escape(entry["source"]))
    parts = [f"<h3>{html.escape(fault_id)} — {html.escape(entry['severity'])}</h3>",
             f"<p>{html.escape(summary[2])} <span style='color:#5f6368'>({where})</span></p>"]
    fields = entry["fields"]
    for name in ORDER:
        lines = fields.get(name)
        if not lines:
            continue
        parts.append(f"<h4>{html.escape(name)}</h4>")
        if len(lines) == 1:
            parts.append(f"<p>{rfc_links(lines[0])}</p>")
        else:
            parts.append("<ul>" + "".join(f"<li>{rfc_links(line)}</li>" for line in lines)
                         + "</ul>")
    return "".join(parts)


class FaultReferenceDialog(QDialog):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fault reference — sipscope")
        self.resize(980, 640)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter: id or words")
        self.filter_edit.setClearButtonEnabled(True)
        self.ids = QListWidget(self)
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(True)
        for fault_id in sorted(set(CATALOG) | set(reference())):
            item = QListWidgetItem(fault_id)
            item.setToolTip(CATALOG.get(fault_id, ("", "", ""))[2])
            self.ids.addItem(item)
        left = QVBoxLayout()
        left.addWidget(self.filter_edit)
        left.addWidget(self.ids, 1)
        row = QHBoxLayout(self)
        row.addLayout(left, 1)
        row.addWidget(self.browser, 3)
        self.ids.currentTextChanged.connect(self.show_fault)
        self.filter_edit.textChanged.connect(self._filter)

    def show_fault(self, fault_id: str) -> None:
        if not fault_id:
            return
        matches = self.ids.findItems(fault_id, Qt.MatchExactly)
        if matches and self.ids.currentItem() is not matches[0]:
            self.ids.setCurrentItem(matches[0])         # re-enters with the same id
            return
        self.browser.setHtml(entry_html(fault_id))

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for row in range(self.ids.count()):
            item = self.ids.item(row)
            haystack = (item.text() + " " + item.toolTip() + " "
                        + json.dumps(reference().get(item.text(), {}))).lower()
            item.setHidden(not all(word in haystack for word in words))
