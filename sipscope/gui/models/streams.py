"""The RTP streams table as a Qt table model: rows are core media/table.py StreamRow objects
(read in place, nothing copied); a direction the SDP negotiated but that never arrived is a row
in the error colour."""

from __future__ import annotations


from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from sipscope.core.untrusted import visible_controls, visible_lines
from sipscope.render.style import KIND_COLOURS
from sipscope.gui.tooltips import safe_tooltip

COLUMNS = ("Call", "Direction", "Source → Destination", "SSRC", "Codec", "Packets", "Expected",
           "Lost", "Seq. errors", "Dup.", "Max Δ ms", "Jitter ms (mean / max)", "Secs", "DTMF",
           "MOS (est.)")
(CALL, DIRECTION, ROUTE, SSRC, CODEC, PACKETS, EXPECTED, LOST, SEQ_ERRORS, DUPLICATES, MAX_DELTA,
 JITTER, DURATION, DTMF, MOS) = range(len(COLUMNS))
ROW_ROLE = Qt.UserRole + 1                 # the StreamRow
ERROR_COLOUR = QColor(KIND_COLOURS["error"])
_RIGHT = int(Qt.AlignRight | Qt.AlignVCenter)
_NUMERIC = {PACKETS, EXPECTED, LOST, SEQ_ERRORS, DUPLICATES, MAX_DELTA, JITTER, DURATION, DTMF, MOS}
HEADER_TIPS = {MOS: "An estimate: ITU-T G.107 E-model from the codec's G.113 impairment, the loss "
                    "and a jitter buffer of twice the mean jitter; delay beyond the capture point "
                    "is not known.",
               SEQ_ERRORS: "Sequence numbers that jumped forward, came late, or fell outside the "
                           "sequence window (RFC 3550 A.1).",
               JITTER: "RFC 3550 interarrival jitter (A.8): the mean of the running estimate and "
                       "its maximum."}


def cell_text(row, column: int) -> str:
    """The text of one cell (plain text: addresses come from the capture)."""
    if column == CALL:
        return str(row.call.index + 1) if row.call is not None else "-"
    if column == DIRECTION:
        return row.direction_text
    if column == ROUTE:
        return f"{row.src} → {row.dst}"
    if column == CODEC:
        return row.codec or "?"
    if row.expected_only:
        return {SSRC: "-", PACKETS: "0", MOS: "no packets"}.get(column, "")
    if column == SSRC:
        return row.ssrc_text
    if column == PACKETS:
        return f"{row.packets:,}"
    if column == EXPECTED:
        return f"{row.expected:,}"
    if column == LOST:
        return f"{row.lost:,} ({row.lost_pct:.1f} %)"
    if column == SEQ_ERRORS:
        return f"{row.sequence_errors:,}"
    if column == DUPLICATES:
        return f"{row.duplicates:,}"
    if column == MAX_DELTA:
        return f"{row.max_delta_ms:.1f}"
    if column == JITTER:
        return f"{row.mean_jitter_ms:.2f} / {row.max_jitter_ms:.2f}"
    if column == DURATION:
        return f"{row.duration:.1f}"
    if column == DTMF:
        return str(row.dtmf_events)
    if column == MOS:
        return f"{row.mos:.2f} (R {row.r_factor:.0f})" if row.mos is not None else "n/a"
    return ""


class StreamsModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list = []
        self._row_of: dict[int, int] = {}

    def set_rows(self, rows: list) -> None:
        self.beginResetModel()
        self.rows = rows
        self._row_of = {id(row): number for number, row in enumerate(rows)}
        self.endResetModel()

    def row_of(self, row) -> int | None:
        return self._row_of.get(id(row)) if row is not None else None

    def rowCount(self, parent=QModelIndex()) -> int:   # noqa: N802 - Qt override
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:   # noqa: N802 - Qt override
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):   # noqa: N802
        if orientation != Qt.Horizontal:
            return None
        if role == Qt.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ToolTipRole:
            return HEADER_TIPS.get(section)
        return None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.DisplayRole:
            return visible_controls(cell_text(row, column))     # codec names come from the SDP
        if role == Qt.ForegroundRole and row.expected_only:
            return ERROR_COLOUR
        if role == Qt.ToolTipRole:
            return safe_tooltip(visible_lines(row.tooltip()))
        if role == Qt.TextAlignmentRole and column in _NUMERIC:
            return _RIGHT
        if role == ROW_ROLE:
            return row
        return None
