"""The bundled demo trace recreates the forked Grandstream call with documentation addresses."""

from __future__ import annotations

from tests.gui.conftest import DEMO


def test_demo_trace_reads_as_the_forked_call(demo_session):
    session = demo_session
    assert session.inputs[0].format == "ngrep"
    assert not session.excerpt                      # no prose: absence rules can decide
    assert len(session.messages) == 16 and len(session.calls) == 3
    call = session.calls[2]
    assert call.first_method == "INVITE" and len(call.messages) == 12
    fork = call.largest_fork
    assert [b.label for b in fork.branches] == ["branch .2", "branch .5"]
    assert [b.target for b in fork.branches] == ["203.0.113.45:5060", "203.0.113.45:5064"]
    labels = [(m.label, m.branch[-2:], m.src) for m in call.messages]
    # the 200 OK for branch .5 comes from branch .2's socket, then a 487 on the same branch
    assert ("200 OK", ".5", "203.0.113.45:5060") in labels
    assert labels.index(("200 OK", ".5", "203.0.113.45:5060")) < labels.index(
        ("487 Request Cancelled", ".5", "203.0.113.45:5060"))
    assert labels[-1] == ("481 No Such Call", ".0", "203.0.113.45:5060")
    # the two 180s carry the same To tag
    ringing = [m for m in call.messages if m.status == 180]
    assert len(ringing) == 2 and ringing[0].to_tag == ringing[1].to_tag
    assert all(not m.sip.warnings for m in session.messages)


def test_demo_trace_uses_documentation_addresses_only():
    import re
    text = DEMO.read_text()
    ip = r"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})"
    addresses = set(re.findall(rf"(?:^U \S+ \S+ |-> |@|IN IP4 |UDP |received=){ip}", text, re.M))
    documentation = ("192.0.2.", "198.51.100.", "203.0.113.")
    assert addresses and all(a.startswith(documentation) for a in addresses), addresses
    assert "<" in text and "To: <sip:sales@example.com>" in text     # full To/From/Contact
