"""Offscreen rendering of ladders to images and PNG files (no window, no widgets)."""

from pathlib import Path

import pytest
from factory import Flow, request, response, sdp

from sipscope.core.ladder.layout import build_layout
from sipscope.core.model.loader import load_files
from sipscope.render import png
from sipscope.render.painter import paint_ladder
from sipscope.render.style import BRANCH_PALETTE, default_style

pytest.importorskip("PySide6.QtGui")
from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QPainter  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def blog_layout():
    session = load_files([str(DATA / "blog-grandstream-forked-call.txt")])
    return build_layout(session, session.calls[0].messages)


def grid_stats(image: QImage, step: int = 3) -> tuple[int, float]:
    """(distinct colours, share of non-white pixels) over a grid of sample points."""
    colours, inked, total = set(), 0, 0
    for y in range(0, image.height(), step):
        for x in range(0, image.width(), step):
            rgb = image.pixel(x, y) & 0xFFFFFF
            colours.add(rgb)
            inked += rgb != 0xFFFFFF
            total += 1
    return len(colours), inked / total


def colour_at(image: QImage, x: float, y: float) -> str:
    return QColor(image.pixel(int(x), int(y))).name().upper()


def test_blog_ladder_image_has_the_layout_size_and_real_content(blog_layout):
    image = png.ladder_image(blog_layout)
    assert (image.width(), image.height()) == (round(blog_layout.width), round(blog_layout.height))
    assert 600 <= image.width() <= 900 and 400 <= image.height() <= 600
    distinct, inked = grid_stats(image)
    assert distinct > 40 and 0.08 < inked < 0.6


def test_branch_colours_are_drawn_on_their_arrows(blog_layout):
    image = png.ladder_image(blog_layout)
    for row, palette_index in ((0, 0), (1, 1), (5, 1), (6, 0)):
        arrow = blog_layout.arrows[row]
        assert colour_at(image, (arrow.x1 + arrow.x2) / 2, arrow.y) == BRANCH_PALETTE[palette_index]
    bye = blog_layout.arrows[10]                         # no branch: the request colour
    assert colour_at(image, (bye.x1 + bye.x2) / 2, bye.y) == "#1F3B5C"


def test_selection_band_and_clip(blog_layout):
    arrow = blog_layout.arrows[3]
    image = png.ladder_image(blog_layout, selected={arrow.message_index})
    assert colour_at(image, blog_layout.width - 4, arrow.y - 8) == "#D7E8FF"
    # painting with a clip touches only the rows inside it
    partial = png.new_image(blog_layout.width, blog_layout.height, background=QColor("#FF00FF"))
    painter = QPainter(partial)
    top, bottom = blog_layout.arrows[4].y - 14, blog_layout.arrows[6].y + 14
    paint_ladder(painter, blog_layout, clip=QRectF(0, top, blog_layout.width, bottom - top))
    painter.end()
    assert colour_at(partial, 300, 20) == "#FF00FF"                          # header untouched
    assert colour_at(partial, 300, blog_layout.arrows[9].y) == "#FF00FF"    # later rows too
    middle = blog_layout.arrows[5]
    assert colour_at(partial, (middle.x1 + middle.x2) / 2, middle.y) == BRANCH_PALETTE[1]


def test_retransmission_is_dashed_and_lighter():
    flow = Flow()
    invite = request("INVITE", "sip:bob@x", body=sdp())
    flow.add(0, "10.0.0.1:5060", "10.0.0.2:5060", invite)
    flow.add(0.5, "10.0.0.1:5060", "10.0.0.2:5060", invite)
    flow.add(0.6, "10.0.0.2:5060", "10.0.0.1:5060", response(invite, 100, "Trying"))
    session = flow.session(rules=False)
    layout = build_layout(session, session.messages)
    image = png.ladder_image(layout)
    first, copy = layout.arrows[0], layout.arrows[1]
    assert not first.dimmed and copy.dimmed

    def along(arrow):
        return [QColor(image.pixel(x, int(arrow.y))) for x in range(int(arrow.x1) + 4,
                                                                     int(arrow.x2) - 14)]
    solid, dashed = along(first), along(copy)
    assert all(c.name() == "#1f3b5c" for c in solid)
    gaps = [c for c in dashed if c.lightness() > 235]
    strokes = [c for c in dashed if c.lightness() <= 235]
    assert gaps and strokes                                  # dashes with gaps between
    assert min(c.lightness() for c in strokes) > QColor("#1f3b5c").lightness() + 40


def test_markup_in_a_label_is_drawn_as_typed():
    """A reason phrase `<b>bold</b>` must show its angle brackets: the ink is as wide as the
    literal text, not as the word "bold" that rich text would make of it."""
    flow = Flow()
    invite = flow.add(0, "10.0.0.1:5060", "10.0.0.2:5060", request("INVITE", "sip:bob@x"))
    flow.add(0.1, "10.0.0.2:5060", "10.0.0.1:5060", response(invite, 486, "<b>bold</b>"))
    session = flow.session(rules=False)
    layout = build_layout(session, session.messages, lane_width=400)
    arrow = layout.arrows[1]
    assert arrow.label == "486 <b>bold</b>"
    image = png.ladder_image(layout)
    xs = [x for y in range(int(arrow.y - 15), int(arrow.y - 2))
          for x in range(int(arrow.x2) + 12, int(arrow.x1) - 12)
          if QColor(image.pixel(x, y)).lightness() < 200]
    ink = max(xs) - min(xs)
    metrics = QFontMetricsF(default_style().label_font)
    assert abs(ink - metrics.horizontalAdvance("486 <b>bold</b>")) < 6
    assert ink > metrics.horizontalAdvance("486 bold") + 20
    source = (Path(png.__file__).parent / "painter.py").read_text()
    assert "RichText" not in source and "QTextDocument" not in source and "setHtml" not in source


def test_pcap_ladder_png_file(tmp_path):
    session = load_files([str(DATA / "udp-two-calls-rtp-g711-pcma-pcmu.pcap")])
    call = session.calls[1]
    layout = build_layout(session, call.messages)
    out = tmp_path / "call2.png"
    size = png.render_to_png(lambda p, clip: paint_ladder(p, layout, clip=clip),
                             layout.width, layout.height, str(out))
    image = QImage(str(out))
    assert not image.isNull() and (image.width(), image.height()) == size
    assert len(layout.arrows) == 4 and len(layout.lanes) == 2
    distinct, inked = grid_stats(image)
    assert distinct > 30 and 0.05 < inked < 0.6
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_striped_png_matches_the_single_image(tmp_path, monkeypatch, blog_layout):
    draw = lambda p, clip: paint_ladder(p, blog_layout, clip=clip)  # noqa: E731
    whole = tmp_path / "whole.png"
    png.render_to_png(draw, blog_layout.width, blog_layout.height, str(whole))
    monkeypatch.setattr(png, "MAX_IMAGE_PIXELS", 1000)
    monkeypatch.setattr(png, "STRIPE_HEIGHT", 100)
    striped = tmp_path / "striped.png"
    png.render_to_png(draw, blog_layout.width, blog_layout.height, str(striped))
    a, b = QImage(str(whole)), QImage(str(striped))
    assert (a.width(), a.height()) == (b.width(), b.height())
    different = sum(1 for y in range(0, a.height(), 2) for x in range(0, a.width(), 2)
                    if a.pixel(x, y) != b.pixel(x, y))
    assert different < a.width() * a.height() / 4 * 0.01


def test_scale_two_doubles_the_pixels(blog_layout):
    image = png.ladder_image(blog_layout, scale=2.0)
    assert (image.width(), image.height()) == (round(blog_layout.width * 2),
                                               round(blog_layout.height * 2))


def test_render_package_has_no_widgets():
    for path in Path(png.__file__).parent.glob("*.py"):
        assert "QtWidgets" not in path.read_text(), path.name


def test_render_to_png_accepts_a_draw_function_without_clip(tmp_path):
    out = tmp_path / "box.png"
    size = png.render_to_png(lambda painter: painter.fillRect(10, 10, 30, 20, QColor("#0072B2")),
                             64, 48, str(out))
    image = QImage(str(out))
    assert size == (64, 48) and colour_at(image, 20, 20) == "#0072B2"
    assert colour_at(image, 50, 40) == "#FFFFFF"
