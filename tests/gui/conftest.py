"""Fixtures for the GUI tests (pytest-qt, offscreen): the demo session, a main window, and a
cheap synthetic session of many calls."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .window_support import shown_window

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "demo" / "forked-call-demo.txt"


@pytest.fixture(autouse=True, scope="session")
def _qt_guard(tmp_path_factory):
    """PySide6 6.12 on Python 3.11 leaks None references from void calls (see render/png.py);
    settings go to a throw-away directory."""
    from sipscope.render.png import protect_none_refcount
    protect_none_refcount()
    os.environ["SIPSCOPE_CONFIG_DIR"] = str(tmp_path_factory.mktemp("config"))


@pytest.fixture(scope="session")
def demo_session():
    from sipscope.core.model.loader import load_files
    return load_files([str(DEMO)])


@pytest.fixture
def window(qtbot, demo_session):
    with shown_window(qtbot, demo_session, "demo") as win:
        yield win


def synthetic_session(calls: int):
    """`calls` calls of one INVITE and one final response each, built without any parsing:
    enough for the call list (first request, final status, addresses, duration)."""
    from sipscope.core.model.call import Call
    from sipscope.core.model.message import Message
    from sipscope.core.model.session import Session
    from sipscope.core.model.transaction import Transaction
    session = Session()
    statuses = (200, 486, 404, 503, 200, 487)
    methods = ("INVITE", "INVITE", "INVITE", "OPTIONS", "REGISTER", "INVITE")
    t0 = 1_700_000_000.0
    index = 0
    for number in range(calls):
        call_id = f"c{number:06d}@synthetic"
        method = methods[number % len(methods)]
        status = statuses[(number * 7) % len(statuses)]
        src, dst = f"10.{number % 250}.{number % 7}.1:5060", f"192.0.2.{number % 200}:5060"
        raw = (f"{method} sip:{2000 + number}@example.com SIP/2.0\r\n"
               f"From: <sip:{1000 + number % 9000}@example.com>;tag=f{number}\r\n"
               f"To: <sip:{2000 + number}@example.com>\r\n\r\n").encode()
        ts = t0 + number * 0.01
        request = Message(index, ts, src, dst, "UDP", raw, 0, 0, 0, method, "sip:x", 0, "",
                          call_id, 1, method, "z9hG4bK1", src, f"f{number}", "", 0)
        response = Message(index + 1, ts + (number % 90), dst, src, "UDP", b"SIP/2.0 x\r\n\r\n",
                           0, 0, 0, None, None, status, "Reason", call_id, 1, method, "z9hG4bK1",
                           src, f"f{number}", "t", 0)
        index += 2
        transaction = Transaction(number, method, call_id, "z9hG4bK1", 1,
                                  [request, response], request)
        request.transaction = response.transaction = transaction
        call = Call(number, call_id, [request, response], [transaction])
        session.messages += (request, response)
        session.calls.append(call)
        session._calls_by_id[call_id] = call
    return session


@pytest.fixture
def fresh_demo():
    """A demo session of its own (tests may add findings to it)."""
    from sipscope.core.model.loader import load_files
    return load_files([str(DEMO)])


def add_finding(session, messages, *, title="A test finding", explanation="Plain words.",
                severity="error", role="headline", call=None, key="F90", inconclusive=False,
                rule_id="fork-response-wrong-endpoint"):
    """Put a known finding into a session (the rules are tested elsewhere)."""
    from sipscope.core.analysis.finding import Finding
    call = call or session.call_of(session.messages[messages[0]])
    finding = Finding(id=rule_id, severity=severity, title=title, explanation=explanation,
                      messages=list(messages), call_id=call.call_id, rfc="RFC 3261 §16.7",
                      key=key, time=session.messages[messages[0]].ts, role=role,
                      inconclusive=inconclusive)
    session.findings.append(finding)
    return finding
