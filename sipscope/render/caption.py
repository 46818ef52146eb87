"""Draw the export caption (core/export/caption.py) above a picture: as a band on an image, or
as a wrapper of a draw function for the striped ladder export."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter

PADDING = 8
TEXT = QColor("#1f2328")
RULE = QColor("#d0d7de")


def _font() -> QFont:
    from sipscope.render.png import ensure_gui_app
    ensure_gui_app()                # font metrics need a QGuiApplication (headless CLI too)
    font = QFont()
    font.setPointSizeF(8.5)
    return font


def caption_height(lines: list[str]) -> float:
    return 2 * PADDING + len(lines) * QFontMetricsF(_font()).lineSpacing()


def caption_width(lines: list[str]) -> float:
    metrics = QFontMetricsF(_font())
    return 2 * PADDING + max((metrics.horizontalAdvance(line) for line in lines), default=0)


def paint_caption(painter: QPainter, lines: list[str], width: float) -> None:
    height = caption_height(lines)
    painter.save()
    painter.fillRect(QRectF(0, 0, width, height), Qt.white)
    painter.setFont(_font())
    painter.setPen(TEXT)
    spacing = QFontMetricsF(_font()).lineSpacing()
    for number, line in enumerate(lines):
        painter.drawText(QRectF(PADDING, PADDING + number * spacing, width - 2 * PADDING,
                                spacing), Qt.AlignLeft | Qt.AlignVCenter | Qt.TextSingleLine,
                         line)
    painter.setPen(RULE)
    painter.drawLine(0, int(height) - 1, int(width), int(height) - 1)
    painter.restore()


def with_caption(draw_fn, width: float, height: float, lines: list[str]):
    """(draw_fn, width, height) of the same drawing under the caption; draw_fn takes
    (painter, clip) as render/png.py's functions do."""
    top = caption_height(lines)
    total_width = max(width, caption_width(lines))

    def draw(painter: QPainter, clip: QRectF) -> None:
        painter.save()
        painter.translate(0, top)
        draw_fn(painter, clip.translated(0, -top))
        painter.restore()
        if clip.top() < top:            # last: the drawing may fill its whole clip first
            paint_caption(painter, lines, total_width)
    return draw, total_width, height + top


def image_with_caption(image: QImage, lines: list[str]) -> QImage:
    """A copy of `image` with the caption band above it (same device pixel ratio)."""
    ratio = image.devicePixelRatio() or 1.0
    width = image.width() / ratio
    top = caption_height(lines)
    total_width = max(width, caption_width(lines))
    result = QImage(round(total_width * ratio), round((image.height() / ratio + top) * ratio),
                    QImage.Format_ARGB32_Premultiplied)
    result.setDevicePixelRatio(ratio)
    result.fill(Qt.white)
    painter = QPainter(result)
    try:
        paint_caption(painter, lines, total_width)
        painter.drawImage(QRectF(0, top, width, image.height() / ratio), image)
    finally:
        painter.end()
    return result
