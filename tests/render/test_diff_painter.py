"""Offscreen drawing of header diffs and branch diffs (the PNG of `export --view diff`)."""

from pathlib import Path

import pytest
from factory import request

from sipscope.core.model.branch_diff import diff_branches
from sipscope.core.model.diff import diff_messages
from sipscope.core.model.loader import load_files
from sipscope.core.sip.message import parse_message

pytest.importorskip("PySide6.QtGui")
from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QImage, QPainter  # noqa: E402

from sipscope.render import diff_painter  # noqa: E402
from sipscope.render.diff_painter import (branch_diff_size, default_diff_style,  # noqa: E402
                                          diff_image, message_diff_size, paint_branch_diff,
                                          wrap_chars)

DATA = Path(__file__).resolve().parents[1] / "data"
STYLE = default_diff_style()


@pytest.fixture(scope="module")
def blog(qapp):
    return load_files([str(DATA / "blog-grandstream-forked-call.txt")], with_rules=False)


@pytest.fixture(scope="module")
def blog_branch_diff(blog):
    fork = blog.calls[0].largest_fork
    return diff_branches(fork.branches[0], fork.branches[1])


@pytest.fixture(scope="module")
def pcap_invites(qapp):
    """The INVITEs of the two calls of the pcap (messages 0 and 6: PCMU offer, PCMA offer)."""
    session = load_files([str(DATA / "udp-two-calls-rtp-g711-pcma-pcmu.pcap")], with_rules=False)
    first, second = session.messages[0], session.messages[6]
    assert (first.method, second.method) == ("INVITE", "INVITE")
    assert first.call_id != second.call_id
    return first, second


def colour_counts(image: QImage) -> dict[int, int]:
    """Pixel count per RGB value over the whole image."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB32)
    counts: dict[int, int] = {}
    for value in memoryview(bytes(rgb.constBits())).cast("I"):
        value &= 0xFFFFFF
        counts[value] = counts.get(value, 0) + 1
    return counts


def tinted(counts: dict[int, int], channel: int, margin: int = 40) -> int:
    """Pixels whose channel (0 red, 1 green, 2 blue) beats the other two by `margin`: the
    antialiased red or green text of the part lines (grey text and pale fills do not count)."""
    total = 0
    for value, n in counts.items():
        rgb_ = ((value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF)
        others = [c for i, c in enumerate(rgb_) if i != channel]
        total += n if rgb_[channel] - max(others) >= margin else 0
    return total


def rgb(colour) -> int:
    return colour.rgb() & 0xFFFFFF


def test_blog_branch_diff_png(blog_branch_diff, tmp_path):
    image = diff_image(blog_branch_diff)
    assert (image.width(), image.height()) == branch_diff_size(blog_branch_diff)
    assert image.width() == 1200 and 550 <= image.height() <= 1000
    path = tmp_path / "branch.png"
    assert image.save(str(path), "PNG") and 10_000 < path.stat().st_size < 300_000
    counts = colour_counts(image)
    total = image.width() * image.height()
    inked = total - counts.get(rgb(STYLE.background), 0)
    assert 0.15 < inked / total < 0.8
    assert len(counts) > 100                     # antialiased text in several colours
    # every status of the blog fork is drawn: INVITEs differ, CANCEL only on .2, 200 OK on .5
    for status in ("changed", "removed", "added"):
        assert counts.get(rgb(STYLE.fills[status]), 0) > 5_000, status
    assert counts.get(rgb(STYLE.important_fill), 0) > 5_000       # important summary lines
    assert counts.get(rgb(STYLE.fills["moved"]), 0) == 0           # nothing moved (no legend)


def test_pcap_message_diff_png(pcap_invites):
    first, second = pcap_invites
    diff = diff_messages(first.sip, second.sip, left_index=first.index,
                         right_index=second.index)
    image = diff_image(diff)
    assert (image.width(), image.height()) == message_diff_size(diff)
    assert 400 <= image.height() <= 900
    counts = colour_counts(image)
    total = image.width() * image.height()
    assert 0.1 < (total - counts.get(rgb(STYLE.background), 0)) / total < 0.8
    assert len(counts) > 60
    # From display name and SDP codec changed; nothing added or removed
    assert counts.get(rgb(STYLE.fills["changed"]), 0) > 5_000
    assert counts.get(rgb(STYLE.fills["added"]), 0) < 1_000      # only the legend swatch
    assert counts.get(rgb(STYLE.fills["removed"]), 0) < 1_000
    # the part lines under changed rows write the left value in red, the right one in green
    assert tinted(counts, 0) > 400 and tinted(counts, 1) > 200    # same messages: 106, 60


def test_fields_that_always_differ_make_the_drawing_taller(pcap_invites):
    first, second = pcap_invites
    diff = diff_messages(first.sip, second.sip)
    hidden = message_diff_size(diff, hide_volatile=True)[1]
    shown = message_diff_size(diff, hide_volatile=False)[1]
    assert shown > hidden + 40                   # Via (branch) and Call-ID rows appear


def test_width_changes_wrapping_not_content(blog_branch_diff):
    narrow = branch_diff_size(blog_branch_diff, width=800)
    wide = branch_diff_size(blog_branch_diff, width=1600)
    assert narrow[0] == 800 and wide[0] == 1600 and narrow[1] > wide[1]


def test_painting_into_a_taller_rect_fills_the_background(blog_branch_diff):
    width, height = branch_diff_size(blog_branch_diff)
    image = QImage(width, height + 200, QImage.Format.Format_RGB32)
    image.fill(0x123456)
    painter = QPainter(image)
    paint_branch_diff(painter, blog_branch_diff, QRectF(0, 0, width, height + 200))
    painter.end()
    assert image.pixel(5, height + 150) & 0xFFFFFF == rgb(STYLE.background)


def test_markup_in_values_is_drawn_as_text():
    """`<b>x</b>` must take the width of its seven characters (rich text would draw one bold x)."""
    left = parse_message(request("OPTIONS", "sip:x@y", extra=(("X-Note", "<b>x</b>"),)))
    right = parse_message(request("OPTIONS", "sip:x@y", extra=(("X-Note", "<img src=x>"),)))
    diff = diff_messages(left, right)
    image = diff_image(diff, width=900)
    assert not image.isNull()
    note = next(r for r in diff.rows if r.name == "X-Note")
    assert note.left == "<b>x</b>" and note.right == "<img src=x>"
    assert wrap_chars(note.left, 40) == ["<b>x</b>"]


def test_wrap_prefers_parameter_breaks_and_cuts_huge_values():
    uri = "INVITE sip:lisa@192.168.1.107:5060;transport=udp;aor=lisa%40example.onsip.com SIP/2.0"
    lines = wrap_chars(uri, 40)
    assert lines == ["INVITE sip:lisa@192.168.1.107:5060;", "transport=udp;",
                     "aor=lisa%40example.onsip.com SIP/2.0"]
    assert all(len(line) <= 40 for line in wrap_chars("x" * 500, 40))
    cut = wrap_chars("a" * 5000, 50, max_lines=3)
    assert len(cut) == 3 and all(len(line) <= 50 for line in cut)
    shown, _, hidden = cut[-1].partition(" \u2026 (+")
    assert 100 + len(shown) + int(hidden.removesuffix(" chars)")) == 5000
    assert wrap_chars("a\tb\r\nc", 40) == ["a b\ufffd\ufffdc"]


def test_render_module_uses_no_widgets():
    source = Path(diff_painter.__file__).read_text()
    assert "QtWidgets" not in source and "pyqtgraph" not in source
