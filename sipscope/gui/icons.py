"""Icons drawn with QPainter (severity marks) and the application icon from resources/."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPainterPath, QPen, QPixmap

from sipscope.gui.resources import resource_path

SEVERITY_COLORS = {
    "error": QColor("#d32f2f"),
    "warning": QColor("#f29900"),
    "info": QColor("#1e88e5"),
    "inconclusive": QColor("#9e9e9e"),
}


def _draw_severity(painter: QPainter, severity: str, size: int) -> None:
    painter.setRenderHint(QPainter.Antialiasing)
    color = SEVERITY_COLORS.get(severity, SEVERITY_COLORS["info"])
    s = float(size)
    font = QFont("DejaVu Sans")
    font.setBold(True)
    font.setPixelSize(max(7, int(s * 0.68)))
    painter.setFont(font)
    if severity == "warning":
        path = QPainterPath()
        path.moveTo(s / 2, s * 0.06)
        path.lineTo(s * 0.97, s * 0.92)
        path.lineTo(s * 0.03, s * 0.92)
        path.closeSubpath()
        painter.setPen(QPen(color.darker(115), max(1.0, s / 16)))
        painter.setBrush(color)
        painter.drawPath(path)
        painter.setPen(QColor("#1f1f1f"))
        painter.drawText(QRectF(0, s * 0.22, s, s * 0.72), Qt.AlignCenter, "!")
        return
    rect = QRectF(s * 0.06, s * 0.06, s * 0.88, s * 0.88)
    if severity == "inconclusive":
        painter.setPen(QPen(color, max(1.2, s / 10)))
        painter.setBrush(Qt.NoBrush)
        painter.drawEllipse(rect)
        painter.setPen(color)
        painter.drawText(rect, Qt.AlignCenter, "?")
        return
    painter.setPen(Qt.NoPen)
    painter.setBrush(color)
    painter.drawEllipse(rect)
    if severity == "error":
        pen = QPen(QColor("white"), max(1.5, s / 8), Qt.SolidLine, Qt.RoundCap)
        painter.setPen(pen)
        a, b = s * 0.33, s * 0.67
        painter.drawLine(QPointF(a, a), QPointF(b, b))
        painter.drawLine(QPointF(a, b), QPointF(b, a))
    else:
        painter.setPen(QColor("white"))
        painter.drawText(rect, Qt.AlignCenter, "i")


@lru_cache(maxsize=32)
def severity_icon(severity: str, size: int = 16) -> QIcon:
    """A small round/triangular mark for error, warning, info or inconclusive."""
    icon = QIcon()
    for scale in (1, 2):
        pixmap = QPixmap(size * scale, size * scale)
        pixmap.fill(Qt.transparent)
        painter = QPainter(pixmap)
        _draw_severity(painter, severity, size * scale)
        painter.end()
        pixmap.setDevicePixelRatio(scale)
        icon.addPixmap(pixmap)
    return icon


def severity_image(severity: str, size: int = 16) -> QImage:
    image = QImage(size, size, QImage.Format_ARGB32_Premultiplied)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    _draw_severity(painter, severity, size)
    painter.end()
    return image


def paint_severity(painter: QPainter, rect: QRectF, severity: str) -> None:
    """Draw a severity mark into `rect` of any painter (the fault panel delegate)."""
    painter.save()
    painter.translate(rect.topLeft())
    _draw_severity(painter, severity, int(min(rect.width(), rect.height())))
    painter.restore()


@lru_cache(maxsize=1)
def app_icon() -> QIcon:
    path = resource_path("icons", "sipscope.svg")
    return QIcon(str(path)) if path is not None else QIcon()
