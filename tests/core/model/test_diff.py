"""Header diff and branch diff on real messages (issue: header diff and side-by-side branch diff)."""

from pathlib import Path

from factory import request, response, sip

from sipscope.core.model.branch_diff import diff_branches, row_label
from sipscope.core.model.diff import ADDED, CHANGED, MOVED, SAME, diff_messages
from sipscope.core.model.loader import load_files
from sipscope.core.sip.message import parse_message

BLOG = Path(__file__).parents[2] / "data" / "blog-grandstream-forked-call.txt"


def blog_session():
    return load_files([str(BLOG)], with_rules=False)


def rows_by_name(diff):
    return {row.name: row for row in diff.rows}


def test_compact_and_long_forms_align():
    long_form = parse_message(request("OPTIONS", "sip:x@y", branch="z9hG4bKa"))
    compact = parse_message(long_form.raw.replace(b"Via:", b"v:").replace(b"From:", b"f:")
                            .replace(b"Call-ID:", b"i:"))
    diff = diff_messages(long_form, compact)
    rows = rows_by_name(diff)
    assert rows["Via"].status == SAME and rows["From"].status == SAME
    assert rows["Call-ID"].status == SAME
    assert not diff.changed


def test_changed_branch_and_tag_are_flagged_as_those_parameters():
    session = blog_session()
    invite_2, invite_5 = session.messages[0], session.messages[1]
    via = rows_by_name(diff_messages(invite_2.sip, invite_5.sip))["Via #1"]
    assert via.status == CHANGED
    assert [(p.name, p.left, p.right) for p in via.parts] == [
        ("branch", "z9hG4bKd146.d2c78147.2", "z9hG4bKd146.d2c78147.5")]
    assert via.volatile                         # hidden by default: branches always differ
    a = parse_message(response(request("INVITE", "sip:x@y"), 180, "Ringing", to_tag="one"))
    b = parse_message(response(request("INVITE", "sip:x@y"), 180, "Ringing", to_tag="two"))
    to = rows_by_name(diff_messages(a, b))["To"]
    assert [(p.name, p.left, p.right) for p in to.parts] == [("tag", "one", "two")]


def test_reordered_header_is_equal_with_the_order_option():
    headers = [("Via", "SIP/2.0/UDP h;branch=z9hG4bK1"), ("From", "<sip:a@b>;tag=1"),
               ("To", "<sip:c@d>"), ("Call-ID", "x"), ("CSeq", "1 OPTIONS"),
               ("User-Agent", "phone"), ("Accept", "application/sdp")]
    swapped = headers[:5] + [headers[6], headers[5]]
    left = parse_message(sip("OPTIONS sip:c@d SIP/2.0", headers))
    right = parse_message(sip("OPTIONS sip:c@d SIP/2.0", swapped))
    strict = diff_messages(left, right)
    assert {r.status for r in strict.rows if r.name in ("User-Agent", "Accept")} & {MOVED}
    relaxed = diff_messages(left, right, ignore_order=True)
    assert not relaxed.changed


def test_sdp_with_the_same_codec_under_another_payload_number_is_equal():
    body_a = ("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
              "m=audio 4000 RTP/AVP 96 0\r\na=rtpmap:96 opus/48000/2\r\na=sendrecv\r\n")
    body_b = body_a.replace("96", "111")
    a = parse_message(request("INVITE", "sip:x@y", body=body_a))
    b = parse_message(request("INVITE", "sip:x@y", body=body_b))
    sdp_rows = [r for r in diff_messages(a, b).rows if r.section == "sdp"]
    assert sdp_rows and all(r.status == SAME for r in sdp_rows)
    c = parse_message(request("INVITE", "sip:x@y", body=body_a.replace("96 0", "96 8")))
    media = [r for r in diff_messages(a, c).rows if r.name.startswith("SDP m=")][0]
    assert media.status == CHANGED and media.parts[0].name == "codecs"


def test_blog_branch_diff_aligns_roles_and_says_who_answered():
    session = blog_session()
    fork = session.calls[0].largest_fork
    diff = diff_branches(fork.branches[0], fork.branches[1])
    pairs = [(row_label(r.left), row_label(r.right)) for r in diff.rows]
    assert ("INVITE", "INVITE") in pairs
    assert ("180 Ringing", "180 Ringing") in pairs
    assert ("", "200 OK") in pairs                       # no counterpart on branch .2
    assert ("", "487 Request Cancelled") in pairs
    assert pairs.index(("INVITE", "INVITE")) < pairs.index(("180 Ringing", "180 Ringing"))
    wrong = [s for s in diff.summary if "came from" in s.text]
    assert len(wrong) == 1 and wrong[0].important
    assert "branch .5" in wrong[0].text and "branch .2's target" in wrong[0].text
    assert "24.33.2xx.3xx:5060" in wrong[0].text
    shown = {row_label(diff.rows[i].right) for i in wrong[0].rows}
    assert shown == {"200 OK", "487 Request Cancelled"}
    assert any("same To tag b71cb81c3beef471" in s.text for s in diff.summary)


def test_added_header_is_reported_on_its_side():
    left = parse_message(request("OPTIONS", "sip:x@y"))
    right = parse_message(request("OPTIONS", "sip:x@y", extra=(("X-Trace", "1"),)))
    rows = rows_by_name(diff_messages(left, right))
    assert rows["X-Trace"].status == ADDED and rows["X-Trace"].left is None
