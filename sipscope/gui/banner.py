"""A one-line message strip under the toolbar: load errors, damaged files, excerpts (plain text)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

from sipscope.core.untrusted import visible_lines
from sipscope.gui.icons import severity_icon

_STYLES = {       # background, border, text
    "error": ("#fdecea", "#f3b7b2", "#5f1410"),
    "warning": ("#fff4e0", "#f5cf8e", "#4d3000"),
    "info": ("#e8f1fc", "#b6d0f2", "#0d2f57"),
}


class Banner(QFrame):
    """Shows the most important notice; several notices stack as lines; closable."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.icon = QLabel(self)          # shows a pixmap only
        self.icon.setTextFormat(Qt.PlainText)
        self.text = QLabel(self)
        self.text.setTextFormat(Qt.PlainText)     # file names and reader messages stay literal
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 5, 6, 5)
        layout.addWidget(self.icon, 0, Qt.AlignTop)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.close_button, 0, Qt.AlignTop)
        self.notices: list[tuple[str, str]] = []
        self.setVisible(False)

    def add(self, level: str, text: str) -> None:
        if (level, text) in self.notices:
            return
        self.notices.append((level, text))
        self._render()

    def set_only(self, level: str, text: str) -> None:
        self.notices = [(level, text)]
        self._render()

    def clear(self) -> None:
        self.notices = []
        self._render()

    def _render(self) -> None:
        if not self.notices:
            self.setVisible(False)
            return
        order = {"error": 0, "warning": 1, "info": 2}
        worst = min(self.notices, key=lambda n: order.get(n[0], 3))[0]
        background, border, text = _STYLES.get(worst, _STYLES["info"])
        self.setStyleSheet(f"QFrame#banner {{ background: {background};"
                           f" border-bottom: 1px solid {border}; }}"
                           f"QFrame#banner QLabel {{ color: {text}; background: transparent; }}")
        self.icon.setPixmap(severity_icon(worst).pixmap(16, 16))
        self.text.setText("\n".join(visible_lines(text) for _, text in self.notices))
        self.setVisible(True)

    def plain_text(self) -> str:
        return self.text.text() if not self.isHidden() else ""
