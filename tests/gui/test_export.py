"""Images of the views: the headless export functions and File > Export PNG."""

from __future__ import annotations

import subprocess
import sys

from PySide6.QtGui import QColor, QImage

from tests.gui.conftest import DEMO, REPO


def distinct_colours(image: QImage, step: int = 7) -> int:
    """How many different colours a sparse grid of pixels shows (a blank image shows 1-2)."""
    seen = set()
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            seen.add(image.pixel(x, y))
    return len(seen)


def dark_share(image: QImage, step: int = 5) -> float:
    """Share of sampled pixels darker than mid grey (text and lines)."""
    dark = total = 0
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            total += 1
            dark += QColor(image.pixel(x, y)).lightness() < 128
    return dark / max(total, 1)


def test_timeline_image_is_not_blank(qapp, demo_session):
    from sipscope.gui.export import timeline_image
    image = timeline_image(demo_session, demo_session.calls[2])
    assert image.width() >= 1000 and image.height() >= 300
    assert distinct_colours(image) > 20 and 0.005 < dark_share(image) < 0.5


def test_window_image_is_not_blank(qapp, demo_session):
    from sipscope.gui.export import window_image
    image = window_image(demo_session, demo_session.calls[2])
    assert (image.width(), image.height()) == (1480, 900)
    assert distinct_colours(image) > 40 and 0.01 < dark_share(image) < 0.5


def test_export_works_headless_from_a_fresh_process(tmp_path):
    """What `sipscope export --view window` does: no display, no running application."""
    script = (
        "import os, sys\n"
        "os.environ.pop('DISPLAY', None); os.environ.pop('WAYLAND_DISPLAY', None)\n"
        "os.environ.pop('QT_QPA_PLATFORM', None)\n"
        "from sipscope.core.model.loader import load_files\n"
        "from sipscope.gui.export import timeline_image, window_image\n"
        f"session = load_files([{str(DEMO)!r}])\n"
        "call = session.calls[2]\n"
        f"assert timeline_image(session, call).save({str(tmp_path / 't.png')!r})\n"
        f"assert window_image(session, call).save({str(tmp_path / 'w.png')!r})\n"
        "print(os.environ['QT_QPA_PLATFORM'])\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "offscreen"
    assert QImage(str(tmp_path / "w.png")).width() == 1480
    assert QImage(str(tmp_path / "t.png")).height() > 200


def test_file_export_png_writes_each_view(qtbot, window, tmp_path):
    window.controller.select_call(window.controller.session.calls[2])
    for kind in ("ladder", "timeline", "window"):
        path = tmp_path / f"{kind}.png"
        with qtbot.waitSignal(window.export_finished, timeout=30_000) as blocker:
            window.export_png(kind, str(path))
        assert blocker.args == [str(path), ""]
        image = QImage(str(path))
        assert not image.isNull() and distinct_colours(image) > 10, kind
    ladder = QImage(str(tmp_path / "ladder.png"))
    from sipscope.core.export.caption import caption_lines
    from sipscope.render.caption import caption_height
    lines = caption_lines(window.controller.session, window.controller.selection.call, "ladder")
    assert ladder.height() == round(window.ladder_view.layout_data.height
                                    + caption_height(lines))       # the drawing + its caption
