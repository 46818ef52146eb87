"""Draw a LadderLayout with a QPainter: the one drawing used by the ladder view and the PNG export.

    Call 1 · INVITE · 1330…@jnctn.net · 12 messages    ── branch .2   ── branch .5   - - copy
    time (UTC)  ┌ 66.227.1xx.2xx:5060 ┐  ┌ 24.33.2xx.3xx:5060 ┐
                └ Asterisk PBX        ┘  └ Grandstream GXP2000 ┘
    09:40:18.325          │ ─────── INVITE ──────▶ │
    +0.000                ● SDP audio 1.2.3.4:…    │        (● worst finding on the message)

Only rows that intersect `clip` are drawn, so a view of a 5,000-message call repaints in
constant time.  All capture text goes through QPainter.drawText as plain text (never rich text:
a header holding `<b>` or `<img>` is shown as typed).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF

from sipscope.core.ladder.layout import Arrow, LadderLayout
from sipscope.render.style import Style, default_style

HEADER_TITLE_TOP = 8.0
LEGEND_TOP = 32.0
LANE_BOX_HEIGHT = 42.0
LANE_BOX_BOTTOM_GAP = 8.0
LOOP_WIDTH = 30.0
LOOP_HALF_HEIGHT = 5.0
TEXT_PAD = 3.0

_DEFAULT: Style | None = None


def _default() -> Style:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = default_style()
    return _DEFAULT


def paint_ladder(painter: QPainter, layout: LadderLayout, *, selected=frozenset(),
                 style: Style | None = None, clip: QRectF | None = None,
                 selected_stream=None) -> None:
    """Draw the ladder in layout coordinates (0,0 = top-left of the header); only the rows
    intersecting `clip` (default: everything) are drawn."""
    style = style or _default()
    clip = QRectF(clip) if clip is not None else QRectF(0, 0, layout.width, layout.height)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    painter.fillRect(clip, style.background)
    rows = layout.rows_between(clip.top(), clip.bottom())
    _row_backgrounds(painter, layout, rows, selected, style)
    if layout.media:
        _media_bands(painter, layout, clip, style, selected_stream)
    _lifelines(painter, layout, clip, style)
    for row in rows:
        arrow = layout.arrows[row]
        _time_cell(painter, layout, arrow, style)
        _arrow(painter, layout, arrow, _row_fill(layout, arrow, selected, style), style)
    if clip.top() < layout.header_height:
        _header(painter, layout, style)
    painter.restore()


def paint_header(painter: QPainter, layout: LadderLayout, *, style: Style | None = None) -> None:
    """Only the header (title, legend, lane boxes), for a view that keeps it on screen while
    the rows scroll: paint it last, with the painter translated to the viewport top."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    style = style or _default()
    painter.fillRect(QRectF(0, 0, layout.width, layout.header_height), style.background)
    _header(painter, layout, style)
    painter.restore()


# -- backgrounds -------------------------------------------------------------------------
def _row_fill(layout: LadderLayout, arrow: Arrow, selected, style: Style) -> QColor:
    if arrow.message_index in selected:
        return style.selection
    return style.stripe if arrow.row % 2 else style.background


def _row_backgrounds(painter: QPainter, layout: LadderLayout, rows: range, selected,
                     style: Style) -> None:
    if not rows:
        return
    top = layout.header_height + rows.start * layout.row_height
    bottom = layout.header_height + rows.stop * layout.row_height
    painter.fillRect(QRectF(0, top, layout.time_column_width, bottom - top), style.time_column)
    for row in rows:
        arrow = layout.arrows[row]
        y = layout.header_height + row * layout.row_height
        band = QRectF(0, y, layout.width, layout.row_height)
        if arrow.message_index in selected:
            painter.fillRect(band, style.selection)
            painter.fillRect(QRectF(0, y, 3, layout.row_height), style.selection_edge)
        elif row % 2:
            painter.fillRect(band, style.stripe)
    painter.setPen(QPen(style.header_rule, 1))
    x = layout.time_column_width - 0.5
    painter.drawLine(QPointF(x, top), QPointF(x, bottom))


# -- media bands (RTP, layout.add_media_bands) ----------------------------------------------
BAND_FILL = QColor(0, 158, 115, 26)
BAND_LINE = QColor("#00795a")
MISSING_FILL = QColor(179, 38, 30, 16)
BAND_LABEL_STEP = 14.0


def _media_bands(painter: QPainter, layout: LadderLayout, clip: QRectF, style: Style,
                 selected_stream=None) -> None:
    """Each RTP direction as a translucent band between its lanes over the rows it flowed, with
    an arrow and its numbers at the top; a direction never seen in the error colour, dashed; the
    selected stream's band outlined in the selection colour."""
    error = style.kind_colour("error")
    font = style.detail_font
    for band in layout.media:
        left, right = min(band.x1, band.x2), max(band.x1, band.x2)
        rect = QRectF(left, band.top, max(right - left, 2.0), band.bottom - band.top)
        if not rect.intersects(clip):
            continue
        colour = error if band.missing else BAND_LINE
        painter.fillRect(rect, MISSING_FILL if band.missing else BAND_FILL)
        pen = QPen(colour, 1.6)
        if band.missing:
            pen.setStyle(Qt.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.NoBrush)
            painter.drawRect(rect)
        if selected_stream is not None and band.row is selected_stream:
            painter.setPen(QPen(style.selection_edge, 2.5))
            painter.setBrush(Qt.NoBrush)
            painter.drawRect(rect)
        y = band.top + 5 + band.slot * BAND_LABEL_STEP
        painter.setPen(pen)
        painter.drawLine(QPointF(band.x1, y), QPointF(band.x2, y))
        _head(painter, QPointF(band.x2, y), 1.0 if band.x2 >= band.x1 else -1.0, colour, style)
        # the numbers in the margin right of the lanes, joined to the band by a dotted leader
        leader = QPen(colour, 1.0, Qt.DotLine)
        painter.setPen(leader)
        painter.drawLine(QPointF(right + 2, y), QPointF(layout.media_label_x, y))
        box = QRectF(layout.media_label_x + 4, y - BAND_LABEL_STEP / 2,
                     layout.width - layout.media_label_x - 8, BAND_LABEL_STEP)
        _text(painter, box, band.label, font, colour, int(Qt.AlignLeft | Qt.AlignVCenter),
              knockout=style.background)


def _lane_box_top(layout: LadderLayout) -> float:
    return layout.header_height - LANE_BOX_BOTTOM_GAP - LANE_BOX_HEIGHT


def _lifelines(painter: QPainter, layout: LadderLayout, clip: QRectF, style: Style) -> None:
    top = max(clip.top(), _lane_box_top(layout) + LANE_BOX_HEIGHT)
    bottom = min(clip.bottom(), layout.height - 6)
    if bottom <= top:
        return
    painter.setPen(QPen(style.lifeline, 1.2))
    for lane in layout.lanes:
        painter.drawLine(QPointF(lane.x, top), QPointF(lane.x, bottom))


# -- header ------------------------------------------------------------------------------
def _header(painter: QPainter, layout: LadderLayout, style: Style) -> None:
    box_top = _lane_box_top(layout)
    painter.fillRect(QRectF(0, 0, layout.width, box_top), style.background)
    _text(painter, QRectF(12, HEADER_TITLE_TOP, layout.width - 24, 22), layout.title,
          style.title_font, style.text,
          int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter))
    if box_top >= LEGEND_TOP + 18:
        _legend(painter, layout, style)
    first = layout.arrows[0].time_text if layout.arrows else ""
    painter.setFont(style.legend_font)
    painter.setPen(style.muted)
    painter.drawText(QRectF(10, box_top, layout.time_column_width - 14, LANE_BOX_HEIGHT),
                     int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                     "order" if first.startswith("#") else "time (UTC)\n+delta s")
    for lane in layout.lanes:
        _lane_box(painter, layout, lane, box_top, style)
    painter.setPen(QPen(style.header_rule, 1))
    y = layout.header_height - 0.5
    painter.drawLine(QPointF(0, y), QPointF(layout.width, y))


def _lane_box(painter: QPainter, layout: LadderLayout, lane, top: float, style: Style) -> None:
    width = layout.lane_width - 12
    box = QRectF(lane.x - width / 2, top, width, LANE_BOX_HEIGHT)
    painter.setPen(QPen(style.header_border, 1))
    painter.setBrush(QBrush(style.header_fill))
    painter.drawRoundedRect(box, 6, 6)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    inner = box.adjusted(6, 4, -6, -4)
    centre = int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter)
    has_sub = bool(lane.subtitle)
    title_box = QRectF(inner.left(), inner.top(), inner.width(),
                       inner.height() / 2 if has_sub else inner.height())
    _text(painter, title_box, lane.title, style.lane_font, style.text, centre)
    if has_sub:
        sub_box = QRectF(inner.left(), inner.center().y(), inner.width(), inner.height() / 2)
        _text(painter, sub_box, lane.subtitle, style.lane_subtitle_font, style.muted, centre)


def _legend(painter: QPainter, layout: LadderLayout, style: Style) -> None:
    """One line under the title: branch colours, the dashed copy line, the finding markers."""
    items: list[tuple[str, str, QColor]] = [("line", text, style.branch_colour(index))
                                            for index, text in layout.legend]
    if any(a.dimmed for a in layout.arrows):
        items.append(("dash", "retransmission / copy", style.muted))
    present = {a.severity for a in layout.arrows if a.severity}
    items += [("dot", name, style.severity_colour(name))
              for name in ("error", "warning", "info") if name in present]
    metrics = QFontMetricsF(style.legend_font)
    painter.setFont(style.legend_font)
    x, y = 14.0, LEGEND_TOP + 8
    for kind, text, colour in items:
        text_width = metrics.horizontalAdvance(text)
        if x + 26 + text_width > layout.width - 8:
            break
        _legend_symbol(painter, kind, QPointF(x + 9, y), colour, style)
        painter.setFont(style.legend_font)
        painter.setPen(style.muted)
        painter.drawText(QRectF(x + 24, y - 9, text_width + 2, 18),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        x += 24 + text_width + 18


def _legend_symbol(painter: QPainter, kind: str, at: QPointF, colour: QColor,
                   style: Style) -> None:
    if kind == "dot":
        _marker(painter, at, colour, style)
        return
    pen = QPen(colour, 2.4 if kind == "line" else style.line_width)
    if kind == "dash":
        pen.setStyle(Qt.PenStyle.DashLine)
    painter.setPen(pen)
    painter.drawLine(QPointF(at.x() - 9, at.y()), QPointF(at.x() + 9, at.y()))


# -- rows --------------------------------------------------------------------------------
def _time_cell(painter: QPainter, layout: LadderLayout, arrow: Arrow, style: Style) -> None:
    left, width = 10.0, layout.time_column_width - 14
    top = layout.header_height + arrow.row * layout.row_height
    above = QRectF(left, top, width, arrow.y - top)
    below = QRectF(left, arrow.y, width, top + layout.row_height - arrow.y)
    painter.setFont(style.time_font)
    painter.setPen(style.text)
    painter.drawText(above, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom),
                     arrow.time_text)
    if arrow.delta_text:
        painter.setFont(style.delta_font)
        painter.setPen(style.muted)
        painter.drawText(below, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
                         arrow.delta_text)


def _arrow(painter: QPainter, layout: LadderLayout, arrow: Arrow, fill: QColor,
           style: Style) -> None:
    line_colour = QColor(style.branch_colour(arrow.branch_color) if arrow.branch_color is not None
                         else style.kind_colour(arrow.kind))
    text_colour = QColor(style.kind_colour(arrow.kind))
    detail_colour = QColor(style.detail)
    if arrow.dimmed:
        for colour in (line_colour, text_colour, detail_colour):
            colour.setAlpha(style.dimmed_alpha)
    pen = QPen(line_colour, style.line_width)
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    if arrow.dimmed:
        pen.setStyle(Qt.PenStyle.DashLine)
    if arrow.self_loop:
        _self_loop(painter, layout, arrow, pen, line_colour, text_colour, detail_colour, fill,
                   style)
    else:
        _straight(painter, layout, arrow, pen, line_colour, text_colour, detail_colour, fill,
                  style)
    if arrow.severity:
        _marker(painter, QPointF(arrow.x1, arrow.y), style.severity_colour(arrow.severity), style)


def _straight(painter, layout, arrow, pen, line_colour, text_colour, detail_colour, fill, style):
    y = arrow.y
    direction = 1.0 if arrow.x2 >= arrow.x1 else -1.0
    tip = arrow.x2 - direction * 1.5
    painter.setPen(pen)
    painter.drawLine(QPointF(arrow.x1, y), QPointF(tip - direction * (style.head_length - 1), y))
    _head(painter, QPointF(tip, y), direction, line_colour, style)
    box, shown = label_rect(layout, arrow, style)
    _placed_text(painter, box, shown, style.label_font, text_colour, fill)
    placed = detail_rect(layout, arrow, style)
    if placed is not None:
        _placed_text(painter, placed[0], placed[1], style.detail_font, detail_colour, fill)


# -- where the words of an arrow go (tests check that no two of them overlap) -------------------
LABEL_GAP = 2.0          # px between the label's bottom and its arrow
DETAIL_GAP = 1.0         # px between the arrow and the SDP line under it


def _room(layout, arrow, style) -> float:
    """The width between the arrow's ends, less the head and the finding marker."""
    span = abs(arrow.x2 - arrow.x1)
    return max(span - 2 * style.head_length - 6, layout.lane_width * 0.6)


def label_rect(layout, arrow, style) -> tuple[QRectF, str]:
    """The label's rectangle (centred over the arrow, in its row above the line), elided text."""
    metrics = QFontMetricsF(style.label_font)
    shown = metrics.elidedText(arrow.label, Qt.TextElideMode.ElideRight, _room(layout, arrow, style))
    width, height = metrics.horizontalAdvance(shown), metrics.height()
    centre = (arrow.x1 + arrow.x2) / 2
    return QRectF(centre - width / 2, arrow.y - LABEL_GAP - height, width, height), shown


def detail_rect(layout, arrow, style) -> tuple[QRectF, str] | None:
    """The SDP summary under the arrow: centred, elided to the arrow's own span so that it never
    runs across another column's lifeline (the whole SDP is in the raw pane)."""
    if not arrow.detail:
        return None
    metrics = QFontMetricsF(style.detail_font)
    shown = metrics.elidedText(arrow.detail, Qt.TextElideMode.ElideRight,
                               _room(layout, arrow, style))
    width, height = metrics.horizontalAdvance(shown), metrics.height()
    centre = (arrow.x1 + arrow.x2) / 2
    return QRectF(centre - width / 2, arrow.y + DETAIL_GAP, width, height), shown


def _placed_text(painter, box: QRectF, text: str, font, colour: QColor,
                 knockout: QColor | None) -> None:
    """Text already laid out to fit `box` exactly; the knock-out hides lines behind it."""
    if not text:
        return
    if knockout is not None:
        painter.fillRect(box.adjusted(-TEXT_PAD, 0, TEXT_PAD, 0), knockout)
    painter.setFont(font)
    painter.setPen(colour)
    painter.drawText(box, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
                              | Qt.TextFlag.TextSingleLine | Qt.TextFlag.TextDontClip), text)


def _self_loop(painter, layout, arrow, pen, line_colour, text_colour, detail_colour, fill, style):
    x, y = arrow.x1, arrow.y
    top, bottom = y - LOOP_HALF_HEIGHT, y + LOOP_HALF_HEIGHT
    path = QPainterPath(QPointF(x, top))
    path.lineTo(x + LOOP_WIDTH, top)
    path.lineTo(x + LOOP_WIDTH, bottom)
    path.lineTo(x + style.head_length, bottom)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(path)
    _head(painter, QPointF(x + 1.5, bottom), -1.0, line_colour, style)
    left = x + LOOP_WIDTH + 6
    room = max(layout.lane_width - LOOP_WIDTH - 18,
               min(layout.width - 6 - left, layout.lane_width * 1.5))
    flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    _text(painter, QRectF(left, top - 8, room, 14), arrow.label, style.label_font, text_colour,
          flags, knockout=fill)
    if arrow.detail:
        _text(painter, QRectF(left, bottom - 4, room, 13), arrow.detail, style.detail_font,
              detail_colour, flags, knockout=fill)


def _head(painter: QPainter, tip: QPointF, direction: float, colour: QColor,
          style: Style) -> None:
    base = tip.x() - direction * style.head_length
    half = style.head_width / 2
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(colour))
    painter.drawPolygon(QPolygonF([tip, QPointF(base, tip.y() - half),
                                   QPointF(base + direction * 2, tip.y()),
                                   QPointF(base, tip.y() + half)]))
    painter.setBrush(Qt.BrushStyle.NoBrush)


def _marker(painter: QPainter, at: QPointF, colour: QColor, style: Style) -> None:
    """A small filled circle: the worst finding on the message (red/amber/blue)."""
    painter.setPen(QPen(QColor("#FFFFFF"), 1.5))
    painter.setBrush(QBrush(colour))
    painter.drawEllipse(at, style.marker_radius, style.marker_radius)
    painter.setBrush(Qt.BrushStyle.NoBrush)


def _text(painter: QPainter, box: QRectF, text: str, font, colour: QColor, flags: int,
          knockout: QColor | None = None) -> None:
    """Plain text, elided to the box; with `knockout`, a background patch hides lines behind it."""
    if not text:
        return
    metrics = QFontMetricsF(font)
    shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, box.width())
    if knockout is not None:
        width = metrics.horizontalAdvance(shown) + 2 * TEXT_PAD
        height = metrics.height()
        if flags & int(Qt.AlignmentFlag.AlignHCenter):
            left = box.center().x() - width / 2
        else:
            left = box.left() - TEXT_PAD
        if flags & int(Qt.AlignmentFlag.AlignBottom):
            top = box.bottom() - height
        elif flags & int(Qt.AlignmentFlag.AlignTop):
            top = box.top()
        else:
            top = box.center().y() - height / 2
        bottom = min(top + height, box.bottom())       # never paint over the next row's band
        top = max(top, box.top())
        painter.fillRect(QRectF(left, top, width, bottom - top), knockout)
    painter.setFont(font)
    painter.setPen(colour)
    painter.drawText(box, flags | int(Qt.TextFlag.TextSingleLine | Qt.TextFlag.TextDontClip),
                     shown)
