"""The diff view: branch diff of the blog fork, header diff options, plain text, click-to-link."""

from pathlib import Path

import pytest
from factory import Flow, request, sip

from sipscope.core.model.loader import load_files

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from sipscope.gui.views.diff_view import LEFT, NAME, PLACEHOLDER, RIGHT, DiffView  # noqa: E402
from sipscope.render.diff_painter import diff_image  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def blog():
    return load_files([str(DATA / "blog-grandstream-forked-call.txt")], with_rules=False)


@pytest.fixture
def view(qtbot):
    widget = DiffView()
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def column(view, col, kind=None) -> list[str]:
    model = view.model
    return [model.data(model.index(r, col)) for r in range(model.rowCount())
            if kind is None or model.items[r].kind == kind]


def show_blog_branches(view, blog):
    fork = blog.calls[0].largest_fork
    view.show_branches(blog, fork.branches[0], fork.branches[1])


def test_branch_diff_fills_both_panes_and_summary(view, blog):
    show_blog_branches(view, blog)
    left, right = column(view, LEFT, "message"), column(view, RIGHT, "message")
    assert len(left) == len(right) == 8
    assert [t.split()[1] if t != PLACEHOLDER else None for t in left] == [
        "INVITE", "100", "180", "CANCEL", "200", None, None, None]
    assert [t.split()[1] if t != PLACEHOLDER else None for t in right] == [
        "INVITE", None, "180", None, None, "200", "487", "ACK"]
    assert left[0].startswith("#0  INVITE") and right[0].startswith("#1  INVITE")
    # both panes show their own column of the one model, and scroll as one
    assert view.left.isColumnHidden(RIGHT) and not view.left.isColumnHidden(LEFT)
    assert view.right.isColumnHidden(LEFT) and not view.right.isColumnHidden(RIGHT)
    assert view.right.selectionModel() is view.left.selectionModel()
    summary = view.summary_text()
    assert "The answer on branch .5 (200 OK, 487 Request Cancelled) came from" in summary
    assert "which is branch .2's target" in summary
    assert view.summary.isVisible()
    headers = column(view, NAME, "header")
    assert [h.strip() for h in headers] == ["~ start line"]
    assert "request-uri user: lisa" in column(view, LEFT, "header")[0]
    assert "request-uri user: michele" in column(view, RIGHT, "header")[0]


def test_rows_are_coloured_by_status(view, blog):
    show_blog_branches(view, blog)
    model, style = view.model, view.model.style
    fills = {}
    for row, item in enumerate(model.items):
        brush = model.data(model.index(row, NAME), Qt.ItemDataRole.BackgroundRole)
        fills[item.name.split()[0] if item.kind == "message" else item.name.strip()] = \
            brush.color().name() if brush is not None else None
    assert fills["1"] == style.fills["changed"].name()          # INVITEs differ
    assert fills["2"] == style.fills["removed"].name()          # 100 Trying only on .2
    assert fills["6"] == style.fills["added"].name()            # 200 OK only on .5
    assert fills["3"] is None                                   # 180 Ringing: same headers


def test_show_fields_that_always_differ_adds_rows(view, blog):
    show_blog_branches(view, blog)
    assert len(column(view, NAME, "header")) == 1
    view.show_volatile.setChecked(True)
    headers = [h.strip() for h in column(view, NAME, "header")]
    assert headers == ["~ start line", "~ Via #1", "~ Via #1"]      # INVITE and 180 branches
    assert "branch: z9hG4bKd146.d2c78147.5" in column(view, RIGHT, "header")
    view.show_volatile.setChecked(False)
    assert len(column(view, NAME, "header")) == 1


def reordered_pair():
    """Two OPTIONS whose last two headers swap places."""
    headers = [("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1"),
               ("From", "<sip:a@example.com>;tag=1"), ("To", "<sip:b@example.com>"),
               ("Call-ID", "order@test"), ("CSeq", "1 OPTIONS"), ("User-Agent", "phone"),
               ("Accept", "application/sdp")]
    flow = Flow()
    flow.add(0, "10.0.0.1:5060", "10.0.0.2:5060", sip("OPTIONS sip:b@example.com SIP/2.0",
                                                      headers))
    swapped = headers[:5] + [headers[6], headers[5]]
    flow.add(1, "10.0.0.1:5060", "10.0.0.2:5060", sip("OPTIONS sip:b@example.com SIP/2.0",
                                                      swapped))
    return flow.session(rules=False)


def test_ignore_header_order_changes_rows(view):
    session = reordered_pair()
    view.show_messages(session, session.messages[0], session.messages[1])
    moved = [i.name.strip() for i in view.model.items if i.status == "moved"]
    assert moved and set(moved) <= {"\u2195 User-Agent", "\u2195 Accept"}
    view.ignore_order.setChecked(True)
    assert [i for i in view.model.items if i.status != "same"] == []
    assert view.subtitle.text() == "no differences"


def test_markup_in_a_header_is_shown_literally(view):
    flow = Flow()
    flow.add(0, "10.0.0.1:5060", "10.0.0.2:5060",
             request("OPTIONS", "sip:b@example.com", extra=(("X-Note", "<b>x</b>"),)))
    flow.add(1, "10.0.0.1:5060", "10.0.0.2:5060",
             request("OPTIONS", "sip:b@example.com", call_id="call-2@test",
                     extra=(("X-Note", "<img src=x>"),)))
    session = flow.session(rules=False)
    view.show_messages(session, session.messages[0], session.messages[1])
    model = view.model
    row = next(r for r, item in enumerate(model.items) if item.name.strip() == "~ X-Note")
    assert model.data(model.index(row, LEFT)) == "<b>x</b>"
    assert model.data(model.index(row, RIGHT)) == "<img src=x>"
    assert model.data(model.index(row, LEFT), Qt.ItemDataRole.ToolTipRole) is None
    for label in view.findChildren(QLabel):
        assert label.textFormat() == Qt.TextFormat.PlainText
    # the cell is as wide as its eleven characters, not one image
    assert view.right.sizeHintForColumn(RIGHT) > view.right.fontMetrics().horizontalAdvance(
        "<img src=x>") * 0.8


def click_row(qtbot, pane, row):
    rect = pane.visualRect(pane.model().index(row, pane.value_column))
    qtbot.mouseClick(pane.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_clicking_a_row_emits_the_message_of_that_side(view, qtbot, blog):
    show_blog_branches(view, blog)
    items = view.model.items
    ringing = next(r for r, i in enumerate(items) if i.kind == "message" and i.left_index == 3)
    with qtbot.waitSignal(view.sig_message_clicked, timeout=2000) as blocker:
        click_row(qtbot, view.left, ringing)
    assert blocker.args == [3]
    with qtbot.waitSignal(view.sig_message_clicked, timeout=2000) as blocker:
        click_row(qtbot, view.right, ringing)
    assert blocker.args == [4]
    ok = next(r for r, i in enumerate(items) if i.kind == "message" and i.right_index == 5)
    with qtbot.waitSignal(view.sig_message_clicked, timeout=2000) as blocker:
        click_row(qtbot, view.left, ok)          # no counterpart on the left: the right message
    assert blocker.args == [5]


def test_summary_click_selects_the_rows(view, qtbot, blog):
    show_blog_branches(view, blog)
    answer = next(i for i in range(view.summary.count())
                  if "came from" in view.summary.item(i).text())
    view._summary_clicked(view.summary.item(answer))
    current = view.model.items[view.left.currentIndex().row()]
    assert current.kind == "message" and current.right_index == 5


def test_image_is_the_painter_drawing(view, blog):
    show_blog_branches(view, blog)
    image = view.image()
    reference = diff_image(view.diff)
    assert not image.isNull() and image.size() == reference.size()
    assert image == reference
    view.clear()
    assert view.image().isNull() and view.model.rowCount() == 0
