"""Diff view: two messages header by header, or two branches of a fork set message by message.

    +--------------------------------------------------------------------------------------+
    | Branch diff: branch .2 -> 24.33.2xx.3xx:5060  vs  branch .5 -> 24.33.2xx.3xx:5064     |
    | 8 aligned rows . 1 differ in their headers . 3 only left . 3 only right               |
    | [ ] ignore header order   [ ] show fields that always differ                           |
    |+------------------------------------------------------------------------------------+|
    || ! The answer on branch .5 (200 OK, 487 ...) came from 24.33.2xx.3xx:5060, which is   ||
    ||   branch .2's target ...                                          <- summary, click ||
    ||   Targets differ: branch .2 was sent to ..., branch .5 to ...        selects rows    ||
    |+------------------------------------------------------------------------------------+|
    | Row / field        | branch .2 -> ...:5060         || branch .5 -> ...:5064           |
    | 1  ~ differs       | #0  INVITE  66.227... -> ...   || #1  INVITE  66.227... -> ...  |
    |      ~ start line  | request-uri user: lisa; ...    || request-uri user: michele; ...|
    | 2  - only left     | #2  100 Trying ...             || (no counterpart)              |
    |                 left pane (field + left)        <splitter>      right pane (right)   |
    +--------------------------------------------------------------------------------------+

The two panes are two QTableViews over one DiffModel; they share the selection and the vertical
scroll bar (the left one's is hidden), and a horizontal scroll bar each for long values.  Rows are
coloured by status (changed amber, only left red, only right green, moved blue) through
BackgroundRole/ForegroundRole, with the same colours as the PNG (render/diff_painter.py draws
`image()`).  Capture text is shown as plain text only: item text, Qt.PlainText labels, and no
tooltips (QToolTip would guess rich text).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QRect, Qt, Signal
from PySide6.QtGui import QBrush, QFont, QFontDatabase, QFontMetrics, QImage
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QHBoxLayout, QHeaderView, QLabel,
                               QListWidget, QListWidgetItem, QSplitter, QTableView, QVBoxLayout,
                               QWidget)

from sipscope.core.analysis.text import plural
from sipscope.core.model.branch_diff import BranchDiff, diff_branches, diff_sequences, row_label
from sipscope.core.model.diff import (ADDED, CHANGED, MOVED, REMOVED, SAME, MessageDiff,
                                      diff_messages)
from sipscope.render.diff_painter import (MARKS, STATUS_WORDS, aligned_status, default_diff_style,
                                          diff_image, header_change_texts, message_route,
                                          printable, shown_parts)

NAME, LEFT, RIGHT = 0, 1, 2
SIDE_ROLE = Qt.ItemDataRole.UserRole + 1       # message index of that side's cell (or None)
KIND_ROLE = Qt.ItemDataRole.UserRole + 2
PLACEHOLDER = "(no counterpart)"
EMPTY_HINT = ("Ctrl-click two messages, or pick two branches in the ladder or message list, "
              "to compare them here.")
BULLET = "\u2022"
SECTION_NAMES = {"start": "Start line", "header": "Headers", "sdp": "SDP (by meaning)"}


@dataclass(slots=True)
class DiffItem:
    """One line of the panes: a section band, a header row, a changed part under it, an
    aligned message row, or a changed header under an aligned row."""

    kind: str                   # section | field | part | message | header
    name: str
    left: str | None
    right: str | None
    status: str = SAME
    left_index: int | None = None
    right_index: int | None = None
    marked: bool = False        # an important summary line points at this row
    row: int | None = None      # position in BranchDiff.rows (message and header items)


class DiffModel(QAbstractTableModel):
    """Columns: field/row, left, right.  Plain strings only; colours by role."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.items: list[DiffItem] = []
        self.titles = ("left", "right")
        self.style = default_diff_style()
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.mono = QFont(fixed)
        self.bold = QFont()
        self.bold.setBold(True)
        self.section_font = QFont()
        self.section_font.setBold(True)
        self.section_font.setPointSizeF(max(6.0, self.section_font.pointSizeF() * 0.9))
        self.italic = QFont()
        self.italic.setItalic(True)

    def set_items(self, items: list[DiffItem], titles: tuple[str, str]) -> None:
        self.beginResetModel()
        self.items = items
        self.titles = titles
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:             # noqa: N802 - Qt override
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent=QModelIndex()) -> int:          # noqa: N802 - Qt override
        return 0 if parent.isValid() else 3

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return ("Row / field", self.titles[0], self.titles[1])[section]
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.items):
            return None
        item, column = self.items[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(item, column)
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._background(item, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(item, column)
        if role == Qt.ItemDataRole.FontRole:
            return self._font(item, column)
        if role == SIDE_ROLE:
            return (item.left_index if column == LEFT else item.right_index if column == RIGHT
                    else item.left_index if item.left_index is not None else item.right_index)
        if role == KIND_ROLE:
            return item.kind
        return None

    # -- roles ----------------------------------------------------------------------------
    def _text(self, item: DiffItem, column: int) -> str:
        if column == NAME:
            return printable(item.name)
        value = item.left if column == LEFT else item.right
        if value is None:
            return PLACEHOLDER if item.kind == "message" else ""
        return printable(value)

    def _missing(self, item: DiffItem, column: int) -> bool:
        return item.kind != "section" and column != NAME and (
            item.left is None if column == LEFT else item.right is None)

    def _background(self, item: DiffItem, column: int):
        style = self.style
        if item.kind == "section":
            return QBrush(style.header_fill)
        if self._missing(item, column):
            return QBrush(style.placeholder_hatch, Qt.BrushStyle.BDiagPattern)
        if item.status == SAME:
            return None
        if item.kind in ("part", "header"):
            return QBrush(style.part_fill(item.status))
        return QBrush(style.fill(item.status))

    def _foreground(self, item: DiffItem, column: int):
        style = self.style
        if item.kind == "section" or self._missing(item, column):
            return QBrush(style.muted)
        if column == NAME:
            if item.kind == "part":
                return QBrush(style.muted)
            return QBrush(style.accents.get(item.status, style.text)) if item.status != SAME \
                else None
        if item.kind in ("part", "header") and item.status == CHANGED:
            return QBrush(style.part_left if column == LEFT else style.part_right)
        return QBrush(style.text) if item.status != SAME else None

    def _font(self, item: DiffItem, column: int):
        if item.kind == "section":
            return self.section_font
        if self._missing(item, column) and item.kind == "message":
            return self.italic
        if item.kind == "message" and column == NAME:
            return self.bold
        if column != NAME and item.kind in ("field", "part", "header"):
            return self.mono
        return None


class _Pane(QTableView):
    """One side: fixed one-line rows, no grid; the value column grows for horizontal scroll."""

    def __init__(self, model: DiffModel, parent=None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.value_column = LEFT
        self.content_width = 0
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        vertical = self.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

    def refit(self) -> None:
        """Measure the value column once per reload, then fit it to the viewport."""
        self.content_width = self.sizeHintForColumn(self.value_column) + 24 \
            if self.model().rowCount() else 0
        self.fit()

    def fit(self) -> None:
        used = sum(self.columnWidth(c) for c in range(self.model().columnCount())
                   if c != self.value_column and not self.isColumnHidden(c))
        self.setColumnWidth(self.value_column,
                            max(self.content_width, self.viewport().width() - used, 80))

    def resizeEvent(self, event) -> None:                       # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.fit()


class DiffView(QWidget):
    """The header diff / branch diff of the desktop app (see the module docstring)."""

    sig_message_clicked = Signal(int)       # index of the message of the clicked row and side

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.session = None
        self._kind: str | None = None       # "messages" | "branches"
        self._pair: tuple = ()
        self._titles = ("left", "right")
        self._diff: MessageDiff | BranchDiff | None = None
        self.model = DiffModel(self)
        self._split_done = False

        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.subtitle = QLabel(self)
        self.subtitle.setTextFormat(Qt.TextFormat.PlainText)
        self.subtitle.setWordWrap(True)
        self.ignore_order = QCheckBox("ignore header order", self)
        self.ignore_order.setToolTip("Headers that only changed place count as equal")
        self.show_volatile = QCheckBox("show fields that always differ", self)
        self.show_volatile.setToolTip("Via branch, tags, Call-ID, CSeq number, Content-Length, "
                                      "Date, Max-Forwards")
        options = QHBoxLayout()
        options.setContentsMargins(0, 0, 0, 0)
        options.addWidget(self.ignore_order)
        options.addWidget(self.show_volatile)
        options.addStretch(1)

        self.summary = QListWidget(self)
        self.summary.setWordWrap(True)
        self.summary.setUniformItemSizes(False)
        self.summary.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.summary.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.summary.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.left = _Pane(self.model, self)
        self.right = _Pane(self.model, self)
        self.right.setSelectionModel(self.left.selectionModel())
        self.left.setColumnHidden(RIGHT, True)
        self.left.setColumnWidth(NAME, 190)
        self.left.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.right.setColumnHidden(NAME, True)
        self.right.setColumnHidden(LEFT, True)
        self.right.value_column = RIGHT
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(self.right)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addLayout(options)
        layout.addWidget(self.summary)
        layout.addWidget(self.splitter, 1)

        self.left.verticalScrollBar().valueChanged.connect(self.right.verticalScrollBar().setValue)
        self.right.verticalScrollBar().valueChanged.connect(self.left.verticalScrollBar().setValue)
        self.left.clicked.connect(lambda index: self._clicked(index, LEFT))
        self.right.clicked.connect(lambda index: self._clicked(index, RIGHT))
        self.summary.itemClicked.connect(self._summary_clicked)
        self.ignore_order.toggled.connect(lambda _: self._recompute())
        self.show_volatile.toggled.connect(lambda _: self._reload())
        self.clear()

    # -- public -----------------------------------------------------------------------------
    @property
    def diff(self) -> MessageDiff | BranchDiff | None:
        """The diff shown (with the current 'ignore header order' option applied)."""
        return self._diff

    @property
    def hide_volatile(self) -> bool:
        return not self.show_volatile.isChecked()

    def clear(self) -> None:
        self.session, self._kind, self._pair, self._diff = None, None, (), None
        self.title.setText("Diff")
        self.subtitle.setText(EMPTY_HINT)
        self.summary.clear()
        self.summary.hide()
        self.model.set_items([], ("left", "right"))
        self._refit()

    def show_messages(self, session, left, right) -> None:
        """Compare two messages header by header (left and right are model Messages)."""
        self.session, self._kind, self._pair = session, "messages", (left, right)
        self._titles = (self._message_title(left), self._message_title(right))
        self._recompute()

    def show_branches(self, session, a, b) -> None:
        """Compare two branches of one fork set message by message, with the summary."""
        self.session, self._kind, self._pair = session, "branches", (a, b)
        self._recompute()

    def show_sequences(self, session, left: list, right: list, left_title: str,
                       right_title: str) -> None:
        """Compare two dialogs or two calls (e.g. both legs through a B2BUA)."""
        self.session, self._kind = session, "sequences"
        self._pair = (list(left), list(right), left_title, right_title)
        self._recompute()

    def image(self) -> QImage:
        """The diff shown, drawn by render/diff_painter.py (File > Export PNG)."""
        if self._diff is None:
            return QImage()
        if isinstance(self._diff, MessageDiff):
            return diff_image(self._diff, titles=self._titles, hide_volatile=self.hide_volatile)
        return diff_image(self._diff, hide_volatile=self.hide_volatile, title=self._heading())

    def _heading(self) -> str:
        return "Branch diff" if self._kind == "branches" else "Side-by-side diff"

    def summary_text(self) -> str:
        return "\n".join(self.summary.item(i).text() for i in range(self.summary.count()))

    def select_rows(self, rows: list[int]) -> None:
        """Select (and scroll to) the first pane line showing BranchDiff row `rows[0]`."""
        for position, item in enumerate(self.model.items):
            if item.kind == "message" and item.row in rows:
                index = self.model.index(position, NAME)
                self.left.setCurrentIndex(index)
                self.left.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
                return

    # -- computing --------------------------------------------------------------------------
    @staticmethod
    def _message_title(message) -> str:
        return f"#{message.index} {message.label}  {message.src} \u2192 {message.dst}"

    def _recompute(self) -> None:
        ignore = self.ignore_order.isChecked()
        if self._kind == "messages":
            left, right = self._pair
            self._diff = diff_messages(left.sip, right.sip, ignore_order=ignore,
                                       left_index=left.index, right_index=right.index)
        elif self._kind in ("branches", "sequences"):
            if self._kind == "branches":
                self._diff = diff_branches(*self._pair)
            else:
                self._diff = diff_sequences(*self._pair)
            if ignore:
                for row in self._diff.rows:
                    if row.diff is not None:
                        row.diff = diff_messages(row.left.sip, row.right.sip, ignore_order=True,
                                                 left_index=row.left.index,
                                                 right_index=row.right.index)
        else:
            return
        self._reload()

    def _reload(self) -> None:
        if isinstance(self._diff, MessageDiff):
            self._show_message_diff(self._diff)
        elif isinstance(self._diff, BranchDiff):
            self._show_branch_diff(self._diff)
        self._refit()

    def _refit(self) -> None:
        self.left.refit()
        self.right.refit()

    def _show_message_diff(self, diff: MessageDiff) -> None:
        hide = self.hide_volatile
        rows = diff.visible_rows(hide_volatile=hide)
        items: list[DiffItem] = []
        section = None
        for row in rows:
            if row.section != section:
                section = row.section
                items.append(DiffItem("section", SECTION_NAMES.get(section, section), "", ""))
            mark = MARKS[row.status]
            items.append(DiffItem("field", f"{mark} {row.name}" if mark else f"   {row.name}",
                                  row.left, row.right, row.status, diff.left_index,
                                  diff.right_index))
            for part in shown_parts(row, hide):
                items.append(DiffItem("part", f"      \u21b3 {part.name}",
                                      part.left if part.left is not None else "(none)",
                                      part.right if part.right is not None else "(none)",
                                      row.status, diff.left_index, diff.right_index))
        self.model.set_items(items, self._titles)
        hidden = len(diff.rows) - len(rows)
        changed = [r for r in rows if r.status != SAME]
        self.title.setText(f"Header diff: {self._titles[0]}  vs  {self._titles[1]}")
        counts = {s: sum(1 for r in changed if r.status == s) for s in (CHANGED, REMOVED, ADDED,
                                                                       MOVED)}
        words = {CHANGED: "changed", REMOVED: "only left", ADDED: "only right", MOVED: "moved"}
        text = " \u00b7 ".join(f"{n} {words[s]}" for s, n in counts.items() if n) \
            or "no differences"
        if hidden:
            verb = "differs" if hidden == 1 else "differ"
            text += f" \u00b7 {plural(hidden, 'field')} that always {verb} hidden"
        self.subtitle.setText(text)
        self.summary.clear()
        self.summary.hide()

    def _show_branch_diff(self, diff: BranchDiff) -> None:
        hide = self.hide_volatile
        marked = {r for line in diff.summary if line.important for r in line.rows}
        items: list[DiffItem] = []
        for number, row in enumerate(diff.rows):
            status = aligned_status(row, hide)
            mark = MARKS[status]
            word = f"{mark} {STATUS_WORDS[status]}" if mark else STATUS_WORDS[status]
            flag = "!" if number in marked else " "
            items.append(DiffItem(
                "message", f"{number + 1:>2} {flag} {word}",
                self._cell(row.left), self._cell(row.right), status,
                row.left.index if row.left else None, row.right.index if row.right else None,
                number in marked, number))
            if row.diff is None:
                continue
            for header in row.diff.visible_rows(hide_volatile=hide, hide_same=True):
                left, right = header_change_texts(header, hide)
                items.append(DiffItem(
                    "header", f"        {MARKS[header.status]} {header.name}",
                    left if header.left is not None or header.parts else None,
                    right if header.right is not None or header.parts else None,
                    header.status, row.left.index, row.right.index, row=number))
        self.model.set_items(items, (diff.left_title, diff.right_title))
        self._titles = (diff.left_title, diff.right_title)
        self.title.setText(f"{self._heading()}: {diff.left_title}  vs  {diff.right_title}")
        statuses = [aligned_status(r, hide) for r in diff.rows]
        text = [f"{len(diff.rows)} aligned rows"]
        for status, word in ((CHANGED, "differ in their headers"), (REMOVED, "only left"),
                             (ADDED, "only right")):
            if statuses.count(status):
                text.append(f"{statuses.count(status)} {word}")
        self.subtitle.setText(" \u00b7 ".join(text))
        self._fill_summary(diff)

    def _cell(self, message) -> str | None:
        if message is None:
            return None
        return f"#{message.index}  {row_label(message)}    {message_route(message)}"

    def _fill_summary(self, diff: BranchDiff) -> None:
        self.summary.clear()
        style = self.model.style
        for line in diff.summary:
            refs = (f"  (row{'s' if len(line.rows) > 1 else ''} "
                    f"{', '.join(str(r + 1) for r in line.rows)})") if line.rows else ""
            mark = "!" if line.important else BULLET
            item = QListWidgetItem(f"{mark}  {line.text}{refs}")
            item.setData(Qt.ItemDataRole.UserRole, list(line.rows))
            if line.important:
                item.setForeground(QBrush(style.important))
                item.setBackground(QBrush(style.important_fill))
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.summary.addItem(item)
        self.summary.setVisible(bool(diff.summary))
        self._fit_summary()

    def _fit_summary(self) -> None:
        """As tall as its wrapped lines, up to a third of the view (then it scrolls)."""
        if not self.summary.count():
            return
        width = max(100, self.summary.viewport().width() - 10)
        rows = 0
        for i in range(self.summary.count()):
            item = self.summary.item(i)
            box = QFontMetrics(item.font()).boundingRect(
                QRect(0, 0, width, 100000), int(Qt.TextFlag.TextWordWrap), item.text())
            rows += box.height() + 2
        frame = 2 * self.summary.frameWidth() + 4
        limit = max(60, self.height() // 3)
        self.summary.setFixedHeight(min(limit, rows + frame))

    def resizeEvent(self, event) -> None:                       # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_summary()
        if not self._split_done and self.splitter.width() > 300:
            self._split_done = True
            name = self.left.columnWidth(NAME)
            half = (self.splitter.width() - name) // 2
            self.splitter.setSizes([name + half, self.splitter.width() - name - half])

    # -- clicks -----------------------------------------------------------------------------
    def _clicked(self, index, column: int) -> None:
        if not index.isValid():
            return
        item = self.model.items[index.row()]
        first, second = ((item.left_index, item.right_index) if column == LEFT
                         else (item.right_index, item.left_index))
        chosen = first if first is not None else second
        if chosen is not None:
            self.sig_message_clicked.emit(chosen)

    def _summary_clicked(self, item: QListWidgetItem) -> None:
        rows = item.data(Qt.ItemDataRole.UserRole) or []
        if rows:
            self.select_rows(rows)
