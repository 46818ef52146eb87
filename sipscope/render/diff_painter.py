"""Draw a header diff or a branch diff with a QPainter: the one drawing of the PNG export and of
the diff view's File > Export PNG (QtGui only).

    Branch diff                                                     (branch diff, top to bottom)
    branch .2 -> 24.33.2xx.3xx:5060  vs  branch .5 -> 24.33.2xx.3xx:5064 · 8 rows, 2 differ
    +- Summary ----------------------------------------------------------------------------+
    | (!) The answer on branch .5 (200 OK, ...) came from 24.33.2xx.3xx:5060 ... (rows 6, 7) |
    |  *  Targets differ: branch .2 was sent to ..., branch .5 to ...             (rows 1)   |
    +--------------------------------------------------------------------------------------+
    [~] differs  [<] only left  [>] only right  [^] moved
     #  | Status      | branch .2 -> 24.33.2xx.3xx:5060 | branch .5 -> 24.33.2xx.3xx:5064
     1  | differs     | #0  INVITE                      | #1  INVITE
        |  start line | request-uri user: lisa; ...     | request-uri user: michele; ...
     2  | only left   | #2  100 Trying                  | //// no counterpart ////

A header diff has the same shape without the summary: Field | left | right, one row per header
(start line, headers, SDP by meaning), coloured by status, each changed part (`uri user`,
`branch`, `codecs`) on its own line under the row, left value in red and right value in green.

Layout and painting share one list of blocks (height + draw function), so the size functions
give exactly the height that the painter fills.  Capture text is drawn with drawText as plain
single lines (wrapped here, never rich text: a header holding `<b>` or `<img>` shows as typed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QImage, QPainter, QPen

from sipscope.core.export.report import format_time
from sipscope.core.model.branch_diff import AlignedRow, BranchDiff, row_label
from sipscope.core.model.diff import ADDED, CHANGED, MOVED, REMOVED, SAME, DiffRow, MessageDiff
from sipscope.core.analysis.text import plural

DEFAULT_WIDTH = 1200
MAX_CELL_LINES = 12          # a 3 kB header value is cut, with a note of how much is left out
MAX_SAME_LINES = 4           # ... and one equal on both sides sooner
LEFT, RIGHT = 0, 1

MARKS = {SAME: "", CHANGED: "~", ADDED: "+", REMOVED: "\u2212", MOVED: "\u2195"}
SECTION_TITLES = {"start": "Start line", "header": "Headers",
                  "sdp": "SDP, compared by meaning (codecs by name, not payload number)"}
VOLATILE_NOTE = ("branch, tags, Call-ID, CSeq number, Content-Length, Date, Max-Forwards")


def _font(pixels: float, bold: bool = False, mono: bool = False, italic: bool = False) -> QFont:
    font = QFont("DejaVu Sans Mono" if mono else "DejaVu Sans")
    font.setStyleHint(QFont.StyleHint.Monospace if mono else QFont.StyleHint.SansSerif)
    font.setPixelSize(round(pixels))
    font.setBold(bold)
    font.setItalic(italic)
    return font


def _base():
    try:
        from sipscope.render.style import default_style
        return default_style()
    except ImportError:     # pragma: no cover - the ladder style ships with the package
        return None


def _c(value: str) -> QColor:
    return QColor(value)


@dataclass(slots=True)
class DiffStyle:
    """Looks of the diff drawing; base colours follow the ladder style (render/style.py)."""

    title_font: QFont = field(default_factory=lambda: _font(16, bold=True))
    subtitle_font: QFont = field(default_factory=lambda: _font(12))
    heading_font: QFont = field(default_factory=lambda: _font(12, bold=True))
    section_font: QFont = field(default_factory=lambda: _font(10.5, bold=True))
    name_font: QFont = field(default_factory=lambda: _font(11.5))
    label_font: QFont = field(default_factory=lambda: _font(12.5, bold=True))
    small_font: QFont = field(default_factory=lambda: _font(10.5))
    placeholder_font: QFont = field(default_factory=lambda: _font(11.5, italic=True))
    value_font: QFont = field(default_factory=lambda: _font(11.5, mono=True))
    part_font: QFont = field(default_factory=lambda: _font(11, mono=True))
    summary_font: QFont = field(default_factory=lambda: _font(12.5))
    badge_font: QFont = field(default_factory=lambda: _font(10, bold=True))

    background: QColor = field(default_factory=lambda: _c("#FFFFFF"))
    text: QColor = field(default_factory=lambda: _c("#1F2328"))
    muted: QColor = field(default_factory=lambda: _c("#6E7781"))
    rule: QColor = field(default_factory=lambda: _c("#D0D7DE"))
    grid: QColor = field(default_factory=lambda: _c("#EAEEF2"))
    header_fill: QColor = field(default_factory=lambda: _c("#EEF2F6"))
    section_fill: QColor = field(default_factory=lambda: _c("#F6F8FA"))
    summary_fill: QColor = field(default_factory=lambda: _c("#F6F8FA"))
    important: QColor = field(default_factory=lambda: _c("#CF222E"))
    important_fill: QColor = field(default_factory=lambda: _c("#FFF0EE"))
    placeholder_fill: QColor = field(default_factory=lambda: _c("#F3F4F6"))
    placeholder_hatch: QColor = field(default_factory=lambda: _c("#DDE1E6"))
    part_left: QColor = field(default_factory=lambda: _c("#A40E26"))
    part_right: QColor = field(default_factory=lambda: _c("#116329"))
    # status -> (row fill, edge bar / swatch, text accent); SAME rows stay plain
    fills: dict[str, QColor] = field(default_factory=lambda: {
        CHANGED: _c("#FFF3D1"), ADDED: _c("#DDF7E3"), REMOVED: _c("#FFE6E3"),
        MOVED: _c("#DDF0FF")})
    edges: dict[str, QColor] = field(default_factory=lambda: {
        CHANGED: _c("#D4A72C"), ADDED: _c("#2DA44E"), REMOVED: _c("#CF222E"),
        MOVED: _c("#0969DA")})
    accents: dict[str, QColor] = field(default_factory=lambda: {
        CHANGED: _c("#7D4E00"), ADDED: _c("#116329"), REMOVED: _c("#A40E26"),
        MOVED: _c("#0550AE")})

    margin: float = 18.0
    pad: float = 7.0
    name_width: float = 190.0
    number_width: float = 44.0
    edge_width: float = 4.0

    def fill(self, status: str) -> QColor | None:
        return self.fills.get(status)

    def part_fill(self, status: str) -> QColor:
        """A paler tint of the row colour for the part lines under a row."""
        base = self.fills.get(status) or self.background
        return _mix(base, self.background, 0.45)


def default_diff_style() -> DiffStyle:
    """The light diff style, with background, text and rule colours taken from the ladder's."""
    style = DiffStyle()
    base = _base()
    if base is not None:
        style.background = QColor(base.background)
        style.text = QColor(base.text)
        style.muted = QColor(base.muted)
        style.header_fill = QColor(base.header_fill)
        style.rule = QColor(base.header_rule)
        style.section_fill = QColor(base.stripe)
        style.summary_fill = QColor(base.stripe)
    return style


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor(round(a.red() + (b.red() - a.red()) * t),
                  round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


_DEFAULT: DiffStyle | None = None


def _default() -> DiffStyle:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = default_diff_style()
    return _DEFAULT


# -- text helpers --------------------------------------------------------------------------
def printable(text: str | None) -> str:
    """One display line: tabs become spaces, other control characters U+FFFD (never markup)."""
    if not text:
        return ""
    return "".join(" " if ch == "\t" else (ch if ch.isprintable() or ch == " " else "\ufffd")
                   for ch in text)


_BREAKS = " ;,&>"


def wrap_chars(text: str | None, columns: int, max_lines: int = MAX_CELL_LINES) -> list[str]:
    """Wrap monospace text to `columns`, preferring breaks after ' ;,&>' (SIP values are long
    tokens: a URI with parameters has no spaces); the last line says how much was cut."""
    text = printable(text)
    columns = max(8, columns)
    lines: list[str] = []
    while text:
        if len(text) <= columns:
            lines.append(text)
            break
        cut = max(text.rfind(ch, 0, columns) for ch in _BREAKS)
        cut = cut + 1 if cut >= columns // 3 else columns
        lines.append(text[:cut].rstrip())
        text = text[cut:].lstrip(" ")
        if len(lines) == max_lines and text:
            last = lines[-1]
            keep = max(1, columns - len(f" \u2026 (+{len(text) + len(last)} chars)"))
            lines[-1] = f"{last[:keep]} \u2026 (+{len(text) + len(last) - keep} chars)"
            break
    return lines or [""]


def wrap_words(text: str, metrics: QFontMetricsF, width: float) -> list[str]:
    """Wrap proportional text to a pixel width at spaces (long words are split)."""
    lines: list[str] = []
    line = ""
    for word in printable(text).split(" "):
        candidate = f"{line} {word}" if line else word
        if metrics.horizontalAdvance(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while word and metrics.horizontalAdvance(word) > width:
            k = len(word) - 1
            while k > 1 and metrics.horizontalAdvance(word[:k]) > width:
                k -= 1
            lines.append(word[:k])
            word = word[k:]
        line = word
    lines.append(line)
    return lines


def _columns_for(font: QFont, width: float) -> int:
    return int(max(1.0, width) // max(1.0, QFontMetricsF(font).horizontalAdvance("M")))


def _line_height(font: QFont) -> float:
    return QFontMetricsF(font).height() + 1.0


def _text(painter: QPainter, x: float, y: float, width: float, text: str, font: QFont,
          colour: QColor, align=Qt.AlignmentFlag.AlignLeft) -> None:
    """One plain-text line whose top is y, elided to width."""
    metrics = QFontMetricsF(font)
    shown = metrics.elidedText(printable(text), Qt.TextElideMode.ElideRight, max(1.0, width))
    painter.setFont(font)
    painter.setPen(colour)
    painter.drawText(QRectF(x, y, max(1.0, width), metrics.height() + 1),
                     int(align | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextSingleLine),
                     shown)


def _lines(painter: QPainter, x: float, y: float, width: float, lines: list[str], font: QFont,
           colour: QColor) -> None:
    step = _line_height(font)
    for number, line in enumerate(lines):
        _text(painter, x, y + number * step, width, line, font, colour)


def _placeholder(painter: QPainter, rect: QRectF, style: DiffStyle, text: str,
                 font: QFont | None = None) -> None:
    painter.fillRect(rect, style.placeholder_fill)
    painter.fillRect(rect, QBrush(style.placeholder_hatch, Qt.BrushStyle.BDiagPattern))
    if text:
        font = font or style.placeholder_font
        metrics = QFontMetricsF(font)
        label = QRectF(rect.left() + style.pad, rect.top() + style.pad,
                       metrics.horizontalAdvance(text) + 10, metrics.height() + 2)
        painter.fillRect(label, style.placeholder_fill)
        _text(painter, label.left() + 5, label.top() + 1, label.width() - 6, text, font,
              style.muted)


def _badge(painter: QPainter, centre: QPointF, style: DiffStyle, text: str = "!") -> None:
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(style.important)
    painter.drawEllipse(centre, 8.0, 8.0)
    painter.setFont(style.badge_font)
    painter.setPen(QColor("#FFFFFF"))
    painter.drawText(QRectF(centre.x() - 8, centre.y() - 8, 16, 16),
                     int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextSingleLine), text)
    painter.restore()


def _hline(painter: QPainter, x0: float, x1: float, y: float, colour: QColor,
           width: float = 1.0) -> None:
    painter.setPen(QPen(colour, width))
    painter.drawLine(QPointF(x0, y), QPointF(x1, y))


# -- blocks --------------------------------------------------------------------------------
Draw = Callable[[QPainter, float, float], None]      # painter, left x, top y


@dataclass(slots=True)
class Block:
    height: float
    draw: Draw


@dataclass(slots=True)
class Grid:
    """x offsets (from the drawing's left) and widths of the columns; the last two are the
    left and right value columns."""

    width: float
    xs: list[float]
    widths: list[float]

    @property
    def left(self) -> int:
        return len(self.xs) - 2

    @property
    def right(self) -> int:
        return len(self.xs) - 1

    @property
    def inner(self) -> tuple[float, float]:
        return self.xs[0], self.xs[-1] + self.widths[-1]


def _grid(width: float, fixed: list[float], style: DiffStyle) -> Grid:
    x = style.margin
    xs, widths = [], []
    for w in fixed:
        xs.append(x)
        widths.append(w)
        x += w
    value = max(120.0, (width - style.margin - x) / 2)
    for _ in range(2):
        xs.append(x)
        widths.append(value)
        x += value
    return Grid(width, xs, widths)


def _paint_blocks(painter: QPainter, blocks: list[Block], rect: QRectF, style: DiffStyle) -> None:
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    painter.fillRect(rect, style.background)
    y = rect.top() + style.margin
    for block in blocks:
        block.draw(painter, rect.left(), y)
        y += block.height
    painter.restore()


def _total_height(blocks: list[Block], style: DiffStyle) -> int:
    return int(round(2 * style.margin + sum(b.height for b in blocks)))


def _title_block(title: str, subtitle: str, width: float, style: DiffStyle) -> Block:
    th, sh = _line_height(style.title_font), _line_height(style.subtitle_font)
    inner = width - 2 * style.margin

    def draw(painter: QPainter, x: float, y: float) -> None:
        _text(painter, x + style.margin, y, inner, title, style.title_font, style.text)
        _text(painter, x + style.margin, y + th + 2, inner, subtitle, style.subtitle_font,
              style.muted)

    return Block(th + sh + 12, draw)


def _legend_block(items: list[tuple[str, str]], width: float, style: DiffStyle) -> Block:
    height = _line_height(style.small_font) + 12

    def draw(painter: QPainter, x: float, y: float) -> None:
        metrics = QFontMetricsF(style.small_font)
        cx = x + style.margin
        for status, text in items:
            swatch = QRectF(cx, y + 3, 22, height - 12)
            painter.fillRect(swatch, style.fill(status) or style.background)
            painter.fillRect(QRectF(cx, y + 3, style.edge_width, height - 12), style.edges[status])
            _text(painter, cx + 9, y + 3, 13, MARKS[status], style.small_font,
                  style.accents[status])
            _text(painter, cx + 28, y + 3, metrics.horizontalAdvance(text) + 4, text,
                  style.small_font, style.text)
            cx += 28 + metrics.horizontalAdvance(text) + 22

    return Block(height, draw)


def _column_header_block(grid: Grid, labels: list[str], style: DiffStyle) -> Block:
    height = _line_height(style.heading_font) + 2 * style.pad

    def draw(painter: QPainter, x: float, y: float) -> None:
        x0, x1 = grid.inner
        painter.fillRect(QRectF(x + x0, y, x1 - x0, height), style.header_fill)
        for column, label in enumerate(labels):
            _text(painter, x + grid.xs[column] + style.pad, y + style.pad,
                  grid.widths[column] - 2 * style.pad, label, style.heading_font, style.text)
        for column in range(1, len(grid.xs)):
            painter.setPen(QPen(style.rule, 1))
            painter.drawLine(QPointF(x + grid.xs[column], y + 4),
                             QPointF(x + grid.xs[column], y + height - 4))
        _hline(painter, x + x0, x + x1, y + height - 0.5, style.rule, 1.2)

    return Block(height, draw)


def _section_block(grid: Grid, title: str, style: DiffStyle) -> Block:
    height = _line_height(style.section_font) + 8

    def draw(painter: QPainter, x: float, y: float) -> None:
        x0, x1 = grid.inner
        painter.fillRect(QRectF(x + x0, y, x1 - x0, height), style.section_fill)
        _text(painter, x + x0 + style.pad, y + 4, x1 - x0 - 2 * style.pad, title.upper(),
              style.section_font, style.muted)
        _hline(painter, x + x0, x + x1, y + height - 0.5, style.grid)

    return Block(height, draw)


def _note_block(text: str, width: float, style: DiffStyle) -> Block:
    metrics = QFontMetricsF(style.small_font)
    lines = wrap_words(text, metrics, width - 2 * style.margin)
    height = len(lines) * _line_height(style.small_font) + 12

    def draw(painter: QPainter, x: float, y: float) -> None:
        _lines(painter, x + style.margin, y + 8, width - 2 * style.margin, lines,
               style.small_font, style.muted)

    return Block(height, draw)


def _spacer(height: float) -> Block:
    return Block(height, lambda painter, x, y: None)


# -- message diff --------------------------------------------------------------------------
def _message_titles(diff: MessageDiff, titles) -> tuple[str, str]:
    if titles:
        return printable(titles[0]), printable(titles[1])
    return tuple(f"message {i}" if i is not None else side
                 for i, side in ((diff.left_index, "left"), (diff.right_index, "right")))


def _counts(rows: list[DiffRow]) -> str:
    words = {CHANGED: "changed", ADDED: "only on the right", REMOVED: "only on the left",
             MOVED: "moved"}
    counts = [(sum(1 for r in rows if r.status == s), w) for s, w in words.items()]
    shown = [f"{n} {w}" for n, w in counts if n]
    return " \u00b7 ".join(shown) if shown else "no differences"


def _diff_row_block(row: DiffRow, grid: Grid, style: DiffStyle, stripe: bool) -> Block:
    pad = style.pad
    value_cols = _columns_for(style.value_font, grid.widths[grid.left] - 2 * pad)
    most = MAX_CELL_LINES if row.status != SAME else MAX_SAME_LINES
    left = wrap_chars(row.left, value_cols, most) if row.left is not None else []
    right = wrap_chars(row.right, value_cols, most) if row.right is not None else []
    line = _line_height(style.value_font)
    height = max(1, len(left), len(right)) * line + 2 * pad
    fill = style.fill(row.status) or (style.section_fill if stripe else style.background)
    name_width = grid.widths[0] - 2 * pad - 14

    def draw(painter: QPainter, x: float, y: float) -> None:
        x0, x1 = grid.inner
        painter.fillRect(QRectF(x + x0, y, x1 - x0, height), fill)
        for side, lines in ((grid.left, left), (grid.right, right)):
            cell = QRectF(x + grid.xs[side], y, grid.widths[side], height)
            if (side == grid.left and row.left is None) or (side == grid.right
                                                            and row.right is None):
                _placeholder(painter, cell, style, "")
        if row.status != SAME:
            painter.fillRect(QRectF(x + x0, y, style.edge_width, height), style.edges[row.status])
            _text(painter, x + x0 + style.edge_width + 3, y + pad, 12, MARKS[row.status],
                  style.name_font, style.accents[row.status])
        name_colour = style.accents.get(row.status, style.text)
        _text(painter, x + x0 + pad + 14, y + pad, name_width, row.name, style.name_font,
              name_colour)
        for side, lines in ((grid.left, left), (grid.right, right)):
            _lines(painter, x + grid.xs[side] + pad, y + pad, grid.widths[side] - 2 * pad,
                   lines, style.value_font, style.text)
        _hline(painter, x + x0, x + x1, y + height - 0.5, style.grid)

    return Block(height, draw)


def _part_texts(part_left: str | None, part_right: str | None, columns: int):
    return (wrap_chars(part_left if part_left is not None else "(none)", columns, 4),
            wrap_chars(part_right if part_right is not None else "(none)", columns, 4))


def shown_parts(row: DiffRow, hide_volatile: bool = True) -> list:
    """The parts worth a line under the row: not volatile ones when hidden, and not a lone
    `value` part (it would repeat the whole row)."""
    parts = [p for p in row.parts if not (hide_volatile and p.volatile)]
    if len(parts) == 1 and parts[0].name == "value" and len(row.parts) == 1:
        return []
    return parts


def _part_block(row: DiffRow, part, grid: Grid, style: DiffStyle) -> Block:
    pad = style.pad
    columns = _columns_for(style.part_font, grid.widths[grid.left] - 2 * pad - 14)
    left, right = _part_texts(part.left, part.right, columns)
    line = _line_height(style.part_font)
    height = max(len(left), len(right)) * line + 6
    fill = style.part_fill(row.status)

    def draw(painter: QPainter, x: float, y: float) -> None:
        x0, x1 = grid.inner
        painter.fillRect(QRectF(x + x0, y, x1 - x0, height), fill)
        if row.status != SAME:
            painter.fillRect(QRectF(x + x0, y, style.edge_width, height), style.edges[row.status])
        _text(painter, x + x0 + pad + 22, y + 3, grid.widths[0] - 2 * pad - 22,
              f"\u21b3 {part.name}", style.small_font, style.muted)
        for side, lines, colour in ((grid.left, left, style.part_left),
                                    (grid.right, right, style.part_right)):
            _lines(painter, x + grid.xs[side] + pad + 14, y + 3,
                   grid.widths[side] - 2 * pad - 14, lines, style.part_font, colour)
        _hline(painter, x + x0, x + x1, y + height - 0.5, style.grid)

    return Block(height, draw)


def _message_blocks(diff: MessageDiff, width: float, titles, hide_volatile: bool,
                    style: DiffStyle) -> list[Block]:
    left_title, right_title = _message_titles(diff, titles)
    rows = diff.visible_rows(hide_volatile=hide_volatile)
    hidden = len(diff.rows) - len(rows)
    subtitle = _counts(rows)
    if hidden:
        verb = "differs" if hidden == 1 else "differ"
        subtitle += f" \u00b7 {plural(hidden, 'field')} that always {verb} hidden"
    blocks = [_title_block(f"Header diff: {left_title}  vs  {right_title}", subtitle, width,
                           style),
              _legend_block([(CHANGED, "changed"), (REMOVED, "only on the left"),
                             (ADDED, "only on the right"), (MOVED, "moved (header order)")],
                            width, style),
              _spacer(6)]
    grid = _grid(width, [style.name_width], style)
    blocks.append(_column_header_block(grid, ["Field", left_title, right_title], style))
    section = None
    for number, row in enumerate(rows):
        if row.section != section:
            section = row.section
            blocks.append(_section_block(grid, SECTION_TITLES.get(section, section), style))
        blocks.append(_diff_row_block(row, grid, style, stripe=number % 2 == 1))
        for part in shown_parts(row, hide_volatile):
            blocks.append(_part_block(row, part, grid, style))
    if not rows:
        blocks.append(_note_block("Nothing to compare.", width, style))
    if hidden:
        verb = "differs" if hidden == 1 else "differ"
        blocks.append(_note_block(f"{plural(hidden, 'field')} that always {verb} between two "
                                  f"messages hidden ({VOLATILE_NOTE}).", width, style))
    return blocks


def message_diff_size(diff: MessageDiff, *, width: float = DEFAULT_WIDTH, titles=None,
                      hide_volatile: bool = True, style: DiffStyle | None = None
                      ) -> tuple[int, int]:
    """(width, height) in pixels of paint_message_diff's drawing at this width."""
    _ensure_app()
    style = style or _default()
    blocks = _message_blocks(diff, width, titles, hide_volatile, style)
    return int(round(width)), _total_height(blocks, style)


def paint_message_diff(painter: QPainter, diff: MessageDiff, rect: QRectF, *, titles=None,
                       hide_volatile: bool = True, style: DiffStyle | None = None) -> None:
    """Draw a header diff into rect (its width sets the columns; see message_diff_size)."""
    style = style or _default()
    rect = QRectF(rect)
    _paint_blocks(painter, _message_blocks(diff, rect.width(), titles, hide_volatile, style),
                  rect, style)


# -- branch diff ---------------------------------------------------------------------------
def aligned_status(row: AlignedRow, hide_volatile: bool = True) -> str:
    """removed (left only), added (right only), changed (headers differ) or same."""
    if row.right is None:
        return REMOVED
    if row.left is None:
        return ADDED
    if row.diff is not None and row.diff.visible_rows(hide_volatile, hide_same=True):
        return CHANGED
    return SAME


STATUS_WORDS = {SAME: "same", CHANGED: "differs", REMOVED: "only left", ADDED: "only right",
                MOVED: "moved"}


def message_route(message) -> str:
    """`src -> dst  09:40:18.325` for the second line of a message cell."""
    clock = format_time(message).split(" ")[-1]
    if "." in clock:
        clock = clock[: clock.index(".") + 4]
    return f"{message.src} \u2192 {message.dst}   {clock}"


def header_change_texts(header: DiffRow, hide_volatile: bool) -> tuple[str, str]:
    """Compact left and right text of one changed header: its changed parts, or its values."""
    parts = [p for p in header.parts if not (hide_volatile and p.volatile)]
    if header.status == CHANGED and parts:
        if len(parts) == 1 and parts[0].name == "value":
            return header.left or "(none)", header.right or "(none)"
        return ("; ".join(f"{p.name}: {p.left if p.left is not None else '(none)'}"
                          for p in parts),
                "; ".join(f"{p.name}: {p.right if p.right is not None else '(none)'}"
                          for p in parts))
    return (header.left if header.left is not None else "",
            header.right if header.right is not None else "")


def _summary_block(diff: BranchDiff, width: float, style: DiffStyle) -> Block:
    metrics = QFontMetricsF(style.summary_font)
    inner = width - 2 * style.margin
    text_x = 40.0
    text_width = inner - text_x - 14
    items = []
    for item in diff.summary:
        refs = (f"  (row{'s' if len(item.rows) > 1 else ''} "
                f"{', '.join(str(r + 1) for r in item.rows)})") if item.rows else ""
        items.append((item, wrap_words(item.text + refs, metrics, text_width)))
    line = _line_height(style.summary_font)
    head = _line_height(style.heading_font) + 10
    body = sum(len(lines) * line + 8 for _, lines in items) if items else line + 8
    height = head + body + 10

    def draw(painter: QPainter, x: float, y: float) -> None:
        box = QRectF(x + style.margin, y, inner, height - 12)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(style.rule, 1))
        painter.setBrush(style.summary_fill)
        painter.drawRoundedRect(box.adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        painter.restore()
        _text(painter, box.left() + 14, y + 8, inner - 28, "Summary", style.heading_font,
              style.text)
        important = sum(1 for item, _ in items if item.important)
        if important:
            note = f"{important} important"
            nw = QFontMetricsF(style.small_font).horizontalAdvance(note) + 4
            _text(painter, box.right() - nw - 14, y + 9, nw, note, style.small_font,
                  style.important)
        cy = y + head
        if not items:
            _text(painter, box.left() + text_x, cy, text_width, "No differences.",
                  style.summary_font, style.muted)
        for item, lines in items:
            block = len(lines) * line + 8
            if item.important:
                painter.fillRect(QRectF(box.left() + 6, cy - 4, inner - 12, block),
                                 style.important_fill)
                painter.fillRect(QRectF(box.left() + 6, cy - 4, 3, block), style.important)
                _badge(painter, QPointF(box.left() + 24, cy + line / 2), style)
            else:
                painter.save()
                painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(style.muted)
                painter.drawEllipse(QPointF(box.left() + 24, cy + line / 2), 3.0, 3.0)
                painter.restore()
            _lines(painter, box.left() + text_x, cy, text_width, lines, style.summary_font,
                   style.text)
            cy += block

    return Block(height, draw)


def _message_cell(painter: QPainter, rect: QRectF, message, style: DiffStyle) -> None:
    pad = style.pad
    number = f"#{message.index}"
    label_metrics = QFontMetricsF(style.label_font)
    number_width = QFontMetricsF(style.small_font).horizontalAdvance(number) + 8
    _text(painter, rect.left() + pad, rect.top() + pad + 1, number_width, number,
          style.small_font, style.muted)
    label = row_label(message)
    _text(painter, rect.left() + pad + number_width, rect.top() + pad,
          rect.width() - 2 * pad - number_width, label, style.label_font, style.text)
    _text(painter, rect.left() + pad, rect.top() + pad + label_metrics.height() + 2,
          rect.width() - 2 * pad, message_route(message), style.small_font, style.muted)


def _aligned_block(number: int, row: AlignedRow, grid: Grid, style: DiffStyle,
                   hide_volatile: bool, marked: bool) -> Block:
    pad = style.pad
    status = aligned_status(row, hide_volatile)
    height = _line_height(style.label_font) + _line_height(style.small_font) + 2 * pad + 2
    fill = style.fill(status) or style.background

    def draw(painter: QPainter, x: float, y: float) -> None:
        x0, x1 = grid.inner
        _hline(painter, x + x0, x + x1, y + 0.5, style.rule)
        painter.fillRect(QRectF(x + x0, y + 1, x1 - x0, height - 1), fill)
        if status != SAME:
            painter.fillRect(QRectF(x + x0, y + 1, style.edge_width, height - 1),
                             style.edges[status])
        _text(painter, x + grid.xs[0] + pad + 2, y + pad, grid.widths[0] - 2 * pad,
              str(number), style.label_font, style.text)
        if marked:
            _badge(painter, QPointF(x + grid.xs[0] + grid.widths[0] - 12, y + height / 2), style)
        word = STATUS_WORDS[status]
        mark = MARKS[status]
        _text(painter, x + grid.xs[1] + pad, y + pad + 1, grid.widths[1] - 2 * pad,
              f"{mark} {word}" if mark else word, style.name_font,
              style.accents.get(status, style.muted))
        for side, message in ((grid.left, row.left), (grid.right, row.right)):
            cell = QRectF(x + grid.xs[side], y + 1, grid.widths[side], height - 1)
            if message is None:
                _placeholder(painter, cell, style, "no counterpart")
            else:
                _message_cell(painter, cell, message, style)

    return Block(height, draw)


def _header_change_block(header: DiffRow, grid: Grid, style: DiffStyle,
                         hide_volatile: bool) -> Block:
    pad = style.pad
    columns = _columns_for(style.part_font, grid.widths[grid.left] - 2 * pad)
    left_text, right_text = header_change_texts(header, hide_volatile)
    left = wrap_chars(left_text, columns, 6) if header.left is not None or header.parts else []
    right = wrap_chars(right_text, columns, 6) if header.right is not None or header.parts else []
    line = _line_height(style.part_font)
    height = max(1, len(left), len(right)) * line + 6
    fill = style.part_fill(header.status)

    def draw(painter: QPainter, x: float, y: float) -> None:
        x0, x1 = grid.inner
        painter.fillRect(QRectF(x + grid.xs[1], y, x1 - grid.xs[1], height), fill)
        painter.fillRect(QRectF(x + grid.xs[1], y, 3, height), style.edges[header.status])
        _text(painter, x + grid.xs[1] + pad + 4, y + 3, grid.widths[1] - 2 * pad - 4,
              f"{MARKS[header.status]} {header.name}", style.small_font,
              style.accents[header.status])
        for side, lines, colour in ((grid.left, left, style.part_left),
                                    (grid.right, right, style.part_right)):
            if not lines:
                _placeholder(painter, QRectF(x + grid.xs[side], y, grid.widths[side], height),
                             style, "")
                continue
            _lines(painter, x + grid.xs[side] + pad, y + 3, grid.widths[side] - 2 * pad,
                   lines, style.part_font, colour if header.status == CHANGED else style.text)
        _hline(painter, x + grid.xs[1], x + x1, y + height - 0.5, style.grid)

    return Block(height, draw)


def _branch_subtitle(diff: BranchDiff, hide_volatile: bool) -> str:
    statuses = [aligned_status(r, hide_volatile) for r in diff.rows]
    parts = [f"{len(diff.rows)} aligned row{'s' if len(diff.rows) != 1 else ''}"]
    for status, word in ((CHANGED, "differ in their headers"), (REMOVED, "only left"),
                         (ADDED, "only right")):
        count = statuses.count(status)
        if count:
            parts.append(f"{count} {word}")
    if hide_volatile:
        parts.append("fields that always differ hidden")
    return " \u00b7 ".join(parts)


def branch_diff_kind(diff: BranchDiff) -> str:
    """`Branch diff` for two branches of a fork set, else `Side-by-side diff` (dialogs, calls)."""
    both = diff.left_title.startswith("branch ") and diff.right_title.startswith("branch ")
    return "Branch diff" if both else "Side-by-side diff"


def _branch_blocks(diff: BranchDiff, width: float, hide_volatile: bool,
                   style: DiffStyle, title: str | None = None) -> list[Block]:
    blocks = [_title_block(f"{title or branch_diff_kind(diff)}: {printable(diff.left_title)}  vs  "
                           f"{printable(diff.right_title)}",
                           _branch_subtitle(diff, hide_volatile), width, style),
              _summary_block(diff, width, style),
              _legend_block([(CHANGED, "headers differ"), (REMOVED, "only left"),
                             (ADDED, "only right")], width, style),
              _spacer(6)]
    grid = _grid(width, [style.number_width, style.name_width - 20], style)
    blocks.append(_column_header_block(grid, ["#", "Status / header", diff.left_title,
                                              diff.right_title], style))
    marked = {r for item in diff.summary if item.important for r in item.rows}
    for number, row in enumerate(diff.rows):
        blocks.append(_aligned_block(number + 1, row, grid, style, hide_volatile,
                                     number in marked))
        if row.diff is not None:
            for header in row.diff.visible_rows(hide_volatile=hide_volatile, hide_same=True):
                blocks.append(_header_change_block(header, grid, style, hide_volatile))
    end = Block(1.0, lambda painter, x, y: _hline(painter, x + grid.inner[0], x + grid.inner[1],
                                                   y + 0.5, style.rule))
    blocks.append(end)
    if not diff.rows:
        blocks.append(_note_block("Neither side has messages.", width, style))
    return blocks


def branch_diff_size(diff: BranchDiff, *, width: float = DEFAULT_WIDTH,
                     hide_volatile: bool = True, style: DiffStyle | None = None,
                     title: str | None = None) -> tuple[int, int]:
    """(width, height) in pixels of paint_branch_diff's drawing at this width."""
    _ensure_app()
    style = style or _default()
    blocks = _branch_blocks(diff, width, hide_volatile, style, title)
    return int(round(width)), _total_height(blocks, style)


def paint_branch_diff(painter: QPainter, diff: BranchDiff, rect: QRectF, *,
                      hide_volatile: bool = True, style: DiffStyle | None = None,
                      title: str | None = None) -> None:
    """Draw a branch (or dialog, or call) diff into rect: summary box, then aligned rows;
    `title` replaces the heading's first words (default: branch_diff_kind)."""
    style = style or _default()
    rect = QRectF(rect)
    _paint_blocks(painter, _branch_blocks(diff, rect.width(), hide_volatile, style, title),
                  rect, style)


# -- image ---------------------------------------------------------------------------------
def _ensure_app():
    try:
        from sipscope.render.png import ensure_gui_app
    except ImportError:     # pragma: no cover - png.py ships with the package
        from PySide6.QtGui import QGuiApplication
        return QGuiApplication.instance() or QGuiApplication(["sipscope"])
    return ensure_gui_app()


def diff_image(diff: MessageDiff | BranchDiff, *, width: float = DEFAULT_WIDTH, titles=None,
               hide_volatile: bool = True, style: DiffStyle | None = None,
               scale: float = 1.0, title: str | None = None) -> QImage:
    """The whole diff as one image: a header diff for a MessageDiff (titles = the two column
    titles), else a branch diff (title = heading words); scale > 1 for a sharper picture."""
    _ensure_app()
    style = style or _default()
    if isinstance(diff, MessageDiff):
        size = message_diff_size(diff, width=width, titles=titles, hide_volatile=hide_volatile,
                                 style=style)

        def draw(painter, rect):
            paint_message_diff(painter, diff, rect, titles=titles, hide_volatile=hide_volatile,
                               style=style)
    else:
        size = branch_diff_size(diff, width=width, hide_volatile=hide_volatile, style=style,
                                title=title)

        def draw(painter, rect):
            paint_branch_diff(painter, diff, rect, hide_volatile=hide_volatile, style=style,
                              title=title)
    image = QImage(max(1, round(size[0] * scale)), max(1, round(size[1] * scale)),
                   QImage.Format.Format_RGB32)
    image.setDevicePixelRatio(scale)
    image.fill(style.background)
    painter = QPainter(image)
    try:
        draw(painter, QRectF(0, 0, size[0], size[1]))
    finally:
        painter.end()
    return image
