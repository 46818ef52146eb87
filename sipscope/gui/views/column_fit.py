"""Column widths that keep the columns a tech reads first in view on a narrow pane.

`ColumnFitter` watches a table's viewport: the leading columns keep their widths, the
flexible ones share what is left between a minimum and an ideal width (their text is elided
in the middle and has a tooltip), and the trailing columns follow and may scroll.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QStyledItemDelegate


class ElideRightDelegate(QStyledItemDelegate):
    """For a column of words (a reason phrase) in a table that elides in the middle."""

    def initStyleOption(self, option, index) -> None:   # noqa: N802 - Qt override
        super().initStyleOption(option, index)
        option.textElideMode = Qt.ElideRight


class ColumnFitter(QObject):
    def __init__(self, table, flexible: dict[int, tuple[int, int]], parent=None) -> None:
        """flexible: column -> (minimum, ideal) width.  The columns shown before the first
        flexible one (visual order) are the leading ones."""
        super().__init__(parent or table)
        self.table = table
        self.flexible = flexible
        table.viewport().installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:   # noqa: N802 - Qt override
        if event.type() == QEvent.Resize:
            self.fit()
        return False

    def fit(self) -> None:
        header = self.table.horizontalHeader()
        first_flexible = min(header.visualIndex(c) for c in self.flexible)
        leading = sum(header.sectionSize(header.logicalIndex(v)) for v in range(first_flexible)
                      if not header.isSectionHidden(header.logicalIndex(v)))
        free = self.table.viewport().width() - leading
        ideal = sum(i for _, i in self.flexible.values())
        for column, (minimum, best) in self.flexible.items():
            share = free * best // ideal if ideal else minimum
            header.resizeSection(column, max(minimum, min(best, share)))
