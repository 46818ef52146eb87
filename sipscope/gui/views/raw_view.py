"""Raw view: the selected message exactly as captured, as plain monospace text.

    +------------------------------------------------------------------+
    | #9  09:40:27.712967  203.0.113.45:5060 -> 198.51.100.10:5060 UDP |
    |------------------------------------------------------------------|
    | SIP/2.0 200 OK                                  <- start line    |
    | Via: SIP/2.0/UDP 198.51.100.10;branch=...       <- header names  |
    | ...                                                              |
    | v=0                                             <- SDP lines     |
    | m=audio 5056 RTP/AVP 0 101                                       |
    |------------------------------------------------------------------|
    | ! parse warnings, one per line                                   |
    +------------------------------------------------------------------+

Everything is QPlainTextEdit / Qt.PlainText: capture bytes are never interpreted as markup.  A
QSyntaxHighlighter colours the start line, header names, tag/branch parameters and SDP lines.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtGui import (QColor, QFont, QFontDatabase, QSyntaxHighlighter, QTextCharFormat,
                           QTextOption)
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QSizePolicy, QVBoxLayout, QWidget

from sipscope.gui.models.call_rows import format_clock

START, HEADERS, BODY = 0, 1, 2
_HEADER = re.compile(r"^([!-9;-~]+)[ \t]*:")
_PARAM = re.compile(r";[ \t]*(tag|branch|received|rport|maddr|lr)\b(=[^;,>\s]*)?", re.I)
_SDP = re.compile(r"^([a-z])=")
MAX_SHOWN = 512 * 1024           # characters of one message shown (a 64k INVITE fits easily)
MAX_LINE_SHOWN = 8 * 1024        # characters of one line shown (real header lines are < 4k)


def _format(color: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(color))
    if bold:
        fmt.setFontWeight(QFont.Bold)
    fmt.setFontItalic(italic)
    return fmt


class SipHighlighter(QSyntaxHighlighter):
    """Block states: 0 start line, 1 headers, 2 body (after the empty line)."""

    def __init__(self, document) -> None:
        super().__init__(document)
        self.start_format = _format("#0b3d91", bold=True)
        self.name_format = _format("#7a1f5c", bold=True)
        self.param_format = _format("#00695c")
        self.sdp_key_format = _format("#5b3a9e", bold=True)
        self.sdp_media_format = _format("#5b3a9e", bold=True)
        self.body_format = _format("#333333")

    def highlightBlock(self, text: str) -> None:   # noqa: N802 - Qt override
        previous = self.previousBlockState()
        if previous == -1:
            self.setCurrentBlockState(HEADERS)
            self.setFormat(0, len(text), self.start_format)
            return
        if previous == HEADERS:
            if not text.strip():
                self.setCurrentBlockState(BODY)
                return
            self.setCurrentBlockState(HEADERS)
            match = _HEADER.match(text)
            if match:
                self.setFormat(0, match.end(1), self.name_format)
            for param in _PARAM.finditer(text):
                self.setFormat(param.start(1), param.end() - param.start(1), self.param_format)
            return
        self.setCurrentBlockState(BODY)
        match = _SDP.match(text)
        if match:
            if match.group(1) in "mc":
                self.setFormat(0, len(text), self.sdp_media_format)
            else:
                self.setFormat(0, 2, self.sdp_key_format)


def display_text(raw: bytes) -> str:
    """The message as text: UTF-8 with replacement, CRLF as line ends, controls made visible."""
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > MAX_SHOWN:
        text = text[:MAX_SHOWN] + f"\n[... {len(text) - MAX_SHOWN:,} more characters not shown]"
    if len(text) > MAX_LINE_SHOWN and any(len(line) > MAX_LINE_SHOWN for line in text.split("\n")):
        # Qt lays a wrapped paragraph out whole: one 512k-character line took 25 s
        text = "\n".join(line if len(line) <= MAX_LINE_SHOWN else line[:MAX_LINE_SHOWN]
                         + f" [... {len(line) - MAX_LINE_SHOWN:,} more characters on this line]"
                         for line in text.split("\n"))
    if not all(c.isprintable() or c in "\n\t" for c in text):
        text = "".join(c if c.isprintable() or c in "\n\t" else "\u00b7" for c in text)
    return text


class RawView(QWidget):
    def __init__(self, controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.shown_index: int | None = None
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.PlainText)
        self.title.setObjectName("rawTitle")
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.title.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)   # no min width
        self.title.setWordWrap(True)
        self.edit = QPlainTextEdit(self)
        self.edit.setReadOnly(True)
        self.edit.setLineWrapMode(QPlainTextEdit.WidgetWidth)   # long Via/Route lines wrap
        self.edit.setWordWrapMode(QTextOption.WrapAtWordBoundaryOrAnywhere)
        self.edit.setUndoRedoEnabled(False)
        font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
        self.edit.setFont(font)
        self.edit.setPlaceholderText("Select a message to see it as captured.")
        self.highlighter = SipHighlighter(self.edit.document())
        self.warnings = QLabel(self)
        self.warnings.setTextFormat(Qt.PlainText)
        self.warnings.setWordWrap(True)
        self.warnings.setObjectName("rawWarnings")
        self.warnings.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.warnings)
        controller.sig_selection_changed.connect(self.on_selection)
        controller.sig_session_changed.connect(lambda _: self.show_message(None))

    def on_selection(self, selection) -> None:
        self.show_message(selection.current)

    def show_message(self, index: int | None) -> None:
        session = self.controller.session
        if index is None or session is None or not 0 <= index < len(session.messages):
            self.shown_index = None
            self.title.setText("")
            self.edit.setPlainText("")
            self.warnings.setVisible(False)
            return
        if index == self.shown_index:
            return
        self.shown_index = index
        message = session.messages[index]
        self.title.setText(self.describe(message))
        self.edit.setPlainText(display_text(message.raw))
        problems = list(message.sip.warnings)
        if message.note:
            problems.append("note in the trace: " + " ".join(message.note.split())[:300])
        self.warnings.setText("\n".join(problems))
        self.warnings.setVisible(bool(problems))

    def describe(self, message) -> str:
        parts = [f"#{message.index}", format_clock(message.ts, message.flags, 6),
                 f"{message.src} → {message.dst}", message.transport]
        if message.frame:
            parts.append(f"frame {message.frame}")
        if len(self.controller.session.inputs) > 1:
            parts.append(str(self.controller.session.inputs[message.input_index].path)
                         .rsplit("/", 1)[-1])
        branch = self.controller.lookup.branch_of(message)
        if branch is not None:
            parts.append(branch.label)
        if message.retransmission:
            parts.append("retransmission")
        elif message.duplicate:
            parts.append("capture duplicate")
        parts.append(f"{len(message.raw):,} bytes")
        return "   ".join(parts)

    def text(self) -> str:
        return self.edit.toPlainText()
