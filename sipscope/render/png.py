"""Render drawings to QImage / PNG without a window (works headless with the offscreen platform).

A whole ladder of a long call is taller than a QImage should be (5,000 rows x 28 px = 140,000
px), so render_to_png paints very large drawings in horizontal stripes and streams them into the
PNG file (PNG rows are independent: RFC 2083 §2.3), keeping memory to one stripe.
"""

from __future__ import annotations

import inspect
import os
import struct
import sys
import zlib
from collections.abc import Callable

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter

from sipscope.core.export.output import written_atomically
from sipscope.core.ladder.layout import LadderLayout
from sipscope.render.painter import paint_ladder
from sipscope.render.style import Style

MAX_IMAGE_PIXELS = 48_000_000     # above this, render_to_png paints in stripes
STRIPE_HEIGHT = 2048
DrawFn = Callable[[QPainter, QRectF], None]

_APP = None
_NONE_PROTECTED = False


def protect_none_refcount() -> None:
    """Work around a binding bug that kills long drawings on Python < 3.12.

    PySide6 6.12 returns None from void methods (QPainter.drawLine, setPen, fillRect, ...)
    without taking a reference.  From Python 3.12 None is immortal (PEP 683) and nothing
    happens; on 3.11 every call lowers None's reference count by one and after a few thousand
    painter calls the interpreter aborts with "none_dealloc: deallocating None".  Giving None
    a huge reference count once makes it immortal in practice (about 10^12 calls to go)."""
    global _NONE_PROTECTED
    if _NONE_PROTECTED or sys.version_info >= (3, 12):
        return
    _NONE_PROTECTED = True
    if sys.implementation.name != "cpython" or hasattr(sys, "gettotalrefcount"):
        return                  # ob_refcnt is the first field only in release CPython builds
    import ctypes
    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40


def headless() -> bool:
    """No display to talk to (Linux/BSD without X11 or Wayland)."""
    if sys.platform in ("win32", "darwin"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def ensure_gui_app():
    """The running Qt application, or a new QGuiApplication (offscreen when there is no display).
    Text cannot be drawn into a QImage before an application exists."""
    global _APP
    protect_none_refcount()
    app = QGuiApplication.instance()
    if app is not None:
        return app
    if headless() and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    _APP = QGuiApplication([sys.argv[0] if sys.argv and sys.argv[0] else "sipscope"])
    return _APP


def new_image(width: float, height: float, scale: float = 1.0,
              background: QColor | None = None) -> QImage:
    """An opaque image of width x height logical pixels (scale > 1 for a sharper picture)."""
    image = QImage(max(1, round(width * scale)), max(1, round(height * scale)),
                   QImage.Format.Format_RGB32)
    image.setDevicePixelRatio(scale)
    image.fill(background or QColor("#FFFFFF"))
    return image


def _draw(draw_fn: DrawFn, painter: QPainter, clip: QRectF) -> None:
    """draw_fn(painter, clip), or draw_fn(painter) for a function that takes no clip."""
    try:
        positional = [p for p in inspect.signature(draw_fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        positional = [None, None]
    if len(positional) >= 2:
        draw_fn(painter, clip)
    else:
        draw_fn(painter)


def draw_image(draw_fn: DrawFn, width: float, height: float, scale: float = 1.0) -> QImage:
    """Run draw_fn(painter, clip) (or draw_fn(painter)) on a new image of that logical size."""
    ensure_gui_app()
    image = new_image(width, height, scale)
    painter = QPainter(image)
    try:
        _draw(draw_fn, painter, QRectF(0, 0, width, height))
    finally:
        painter.end()
    return image


def ladder_image(layout: LadderLayout, selected=frozenset(), style: Style | None = None,
                 scale: float = 1.0) -> QImage:
    """The whole ladder as one image (use render_to_png for very long calls)."""
    return draw_image(lambda p, clip: paint_ladder(p, layout, selected=selected, style=style,
                                                   clip=clip),
                      layout.width, layout.height, scale)


def save_png(image: QImage, path: str) -> None:
    """Write an image as PNG; OSError when it cannot be written."""
    try:
        with written_atomically(str(path), ".png") as temporary:
            if not image.save(temporary, "PNG"):
                raise OSError(f"cannot write the PNG file {path}")
    except OSError as exc:
        raise OSError(f"cannot write the PNG file {path}: {exc.strerror or exc}") from exc


def render_to_png(draw_fn: DrawFn, width: float, height: float, path: str,
                  scale: float = 1.0) -> tuple[int, int]:
    """Draw into a PNG file of width x height logical px; returns the pixel size written.
    draw_fn(painter, clip) or draw_fn(painter).  Drawings too large for one image are painted
    stripe by stripe (a draw_fn taking `clip` gets each stripe's rectangle and can skip what lies
    outside, as paint_ladder does)."""
    ensure_gui_app()
    pixel_width, pixel_height = max(1, round(width * scale)), max(1, round(height * scale))
    if pixel_width * pixel_height <= MAX_IMAGE_PIXELS:
        save_png(draw_image(draw_fn, width, height, scale), path)
        return pixel_width, pixel_height
    _striped_png(draw_fn, width, pixel_width, pixel_height, path, scale)
    return pixel_width, pixel_height


def _chunk(kind: bytes, data: bytes) -> bytes:
    # PNG chunk: length, type, data, CRC-32 over type and data (PNG spec §5.3)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _striped_png(draw_fn: DrawFn, width: float, pixel_width: int, pixel_height: int,
                 path: str, scale: float) -> None:
    try:
        with written_atomically(str(path), ".png") as temporary, open(temporary, "wb") as out:
            _write_stripes(out, draw_fn, width, pixel_width, pixel_height, scale)
    except OSError as exc:
        raise OSError(f"cannot write the PNG file {path}: {exc.strerror or exc}") from exc


def _write_stripes(out, draw_fn: DrawFn, width: float, pixel_width: int, pixel_height: int,
                   scale: float) -> None:
    compressor = zlib.compressobj(6)
    out.write(b"\x89PNG\r\n\x1a\n")
    # IHDR: width, height, bit depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
    out.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", pixel_width, pixel_height,
                                          8, 2, 0, 0, 0)))
    top = 0
    while top < pixel_height:
        rows = min(STRIPE_HEIGHT, pixel_height - top)
        image = new_image(pixel_width / scale, rows / scale, scale)
        painter = QPainter(image)
        try:
            painter.translate(0, -top / scale)
            _draw(draw_fn, painter, QRectF(0, top / scale, width, rows / scale))
        finally:
            painter.end()
        rgb = image.convertToFormat(QImage.Format.Format_RGB888)
        data = bytes(rgb.constBits())
        stride = rgb.bytesPerLine()
        raw = b"".join(b"\x00" + data[y * stride: y * stride + pixel_width * 3]
                       for y in range(rows))
        packed = compressor.compress(raw)
        if packed:
            out.write(_chunk(b"IDAT", packed))
        top += rows
    out.write(_chunk(b"IDAT", compressor.flush()))
    out.write(_chunk(b"IEND", b""))
