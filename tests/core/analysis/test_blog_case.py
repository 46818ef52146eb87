"""The worked examples of catalog §14 on real traces: the Grandstream blog trace (§14.1) must give
exactly the expected findings of the transaction, dialog, forking, timer and syntax families, and
the SIPp loopback capture (§14.2) must not trip them."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipscope.core.analysis.registry import RULES, load_rules
from sipscope.core.model.loader import load_files

DATA = Path(__file__).resolve().parents[2] / "data"
BLOG = DATA / "blog-grandstream-forked-call.txt"
PART_ONE = {"transaction", "dialog", "forking", "timers", "syntax"}


def part_one(session):
    load_rules()
    return [f for f in session.findings if RULES[f.id].family in PART_ONE]


@pytest.fixture(scope="module")
def blog():
    return load_files([str(BLOG)])


def test_blog_trace_is_read_as_one_forked_call(blog):
    assert len(blog.messages) == 12 and len(blog.calls) == 1
    assert blog.excerpt
    [fork] = blog.calls[0].forks
    assert [b.label for b in fork.branches] == ["branch .2", "branch .5"]


def test_blog_trace_gives_the_expected_findings_and_roles(blog):
    conclusive = [(f.id, f.severity, f.role) for f in part_one(blog) if not f.inconclusive]
    assert conclusive == [
        ("fork-same-device", "warning", "contributing"),
        ("fork-identical-to-tag", "error", "contributing"),
        ("fork-response-wrong-endpoint", "error", "headline"),
        ("txn-final-after-2xx", "error", "consequence"),
        ("dlg-481-in-dialog", "error", "consequence"),
    ]
    headlines = [f.id for f in blog.findings if f.role == "headline"]
    assert headlines == ["fork-response-wrong-endpoint"]


def test_blog_headline_points_at_the_200_from_lisas_socket(blog):
    [headline] = [f for f in blog.findings if f.id == "fork-response-wrong-endpoint"]
    ok = blog.messages[headline.evidence["response"]]
    assert ok.label == "200 OK" and ok.src == "24.33.2xx.3xx:5060"
    assert ok.branch == "z9hG4bKd146.d2c78147.5"
    assert headline.time == ok.ts
    assert headline.evidence["actual_source"] == "24.33.2xx.3xx:5060"
    assert headline.evidence["labelled_target"] == "24.33.2xx.3xx:5064"
    text = headline.explanation
    assert "Grandstream GXP2000 1.1.6.46" in text
    assert "its SDP says o=lisa" in text
    assert "its To tag b71cb81c3beef471 was already used" in text
    assert "later also got 487 after its 200" in text
    # every INVITE of the fork set, the 1xx of both branches, the 200 and 487, the CANCEL
    labels = [blog.messages[i].label for i in headline.messages]
    assert labels == ["INVITE", "INVITE", "180 Ringing", "180 Ringing", "200 OK", "CANCEL",
                      "487 Request Cancelled"]


def test_blog_consequences_link_back_to_the_headline(blog):
    by_id = {f.id: f for f in part_one(blog) if not f.inconclusive}
    headline = by_id["fork-response-wrong-endpoint"]
    assert headline.key in by_id["txn-final-after-2xx"].consequence_of
    assert headline.key in by_id["dlg-481-in-dialog"].consequence_of
    assert by_id["dlg-481-in-dialog"].evidence["cause"] == "c1 already-ended"
    assert "had already ended the call at 09:40:27.793" in by_id["dlg-481-in-dialog"].explanation
    assert by_id["fork-identical-to-tag"].evidence["tag"] == "b71cb81c3beef471"
    assert "192.168.1.107" in by_id["fork-same-device"].explanation


def test_blog_absence_rules_are_only_inconclusive(blog):
    undecided = sorted(f.id for f in part_one(blog) if f.inconclusive)
    assert undecided == ["tmr-2xx-no-ack", "txn-cancel-ineffective"]
    assert all(f.severity == "info" for f in part_one(blog) if f.inconclusive)
    ids = {f.id for f in blog.findings}
    assert "fork-pending-not-cancelled" not in ids       # the CANCEL came 0.4 ms after the 200
    assert not ids & {"syn-content-length-mismatch", "syn-header-invalid"}   # redacted text


def test_sipp_loopback_trips_none_of_the_syntax_timer_or_fork_rules(shared_traces):
    session = load_files([str(shared_traces / "sipp-loopback-200calls.pcap")])
    assert len(session.messages) == 1200 and len(session.calls) == 200
    ids = {f.id for f in session.findings}
    assert not ids & {"syn-content-length-mismatch", "tmr-2xx-no-ack", "txn-final-after-2xx",
                      "fork-response-wrong-endpoint"}
    assert not part_one(session)


def test_part_one_templates_quote_the_catalog_tech_texts():
    """Every `> "..."` tech text of a part-one catalog entry is in its rule's text template."""
    import re

    from sipscope.core.analysis.catalog import CATALOG
    catalog = Path(__file__).resolve().parents[3].parent / "shared" / "docs" / "fault-catalog.md"
    if not catalog.exists():
        pytest.skip(f"the fault catalog is not at {catalog}")
    text = catalog.read_text(encoding="utf-8")
    # rules added beyond the catalog (docs/fault-reference.md) have no catalog tech text
    rules = [r for r in load_rules().values() if r.family in PART_ONE and f"`{r.id}`" in text]
    assert len(rules) == 22
    for rule in rules:
        section = CATALOG[rule.id][0]
        entry = re.search(rf"^### {re.escape(section)} .*?(?=^##)", text, re.S | re.M).group(0)
        quotes = re.findall(r'^\s*> "(.*?)"\s*$', entry, re.M)
        assert quotes, rule.id
        for quote in quotes:
            assert quote in rule.text, f"{rule.id}: {quote[:60]}"
