"""The runner keeps the two big shared indexes apart (issue: big captures): every reader of the
media index runs before the security index is built, the media index is built once, and is let
go when the capture has no RTP.  A rule that reads an index without declaring it would rebuild
it or overlap the two: this test catches both, on a real capture that fires rules of each kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipscope.core.analysis import runner
from sipscope.core.analysis.registry import load_rules
from sipscope.core.analysis.rules import security
from sipscope.core.media import calls
from sipscope.core.model.loader import load_files

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.mark.parametrize("name, has_rtp", [("udp-call-info-dtmf-cancel.pcap", False),
                                           ("udp-two-calls-rtp-g711-pcma-pcmu.pcap", True)])
def test_media_index_is_gone_before_the_security_index_is_built(monkeypatch, name, has_rtp):
    session = load_files([str(DATA / name)], with_rules=False)
    events: list[str] = []
    build_media, build_security = calls.MediaIndex.__init__, security.security_index

    def media_init(self, *args, **kwargs):
        overlap = any(e.startswith("security built") for e in events)
        events.append("media built" + (" while security alive" if overlap else ""))
        build_media(self, *args, **kwargs)

    def security_index(ctx):
        if "_security_cache" not in vars(ctx):
            events.append("security built" + (" while media alive" if calls._LAST[1] else ""))
        return build_security(ctx)

    monkeypatch.setattr(calls.MediaIndex, "__init__", media_init)
    monkeypatch.setattr(security, "security_index", security_index)
    for module in ("nat", "registration"):
        monkeypatch.setattr(f"sipscope.core.analysis.rules.{module}.security_index",
                            security_index, raising=False)
    findings = runner.run_rules(session)
    assert events.count("media built") == 1
    assert events.count("security built") == (0 if has_rtp else 1)
    assert events.count("security built while media alive") == (1 if has_rtp else 0)
    assert (calls._LAST[0] is session) == has_rtp
    assert {f.id for f in findings}                  # the capture gives findings at all


def test_every_rule_that_reads_an_index_says_so():
    rules = load_rules()
    assert {r.id for r in rules.values() if r.index == "security"} >= {
        "nat-binding-expired", "reg-failed", "auth-challenge-loop", "sec-weak-digest-password",
        "sec-password-bruteforce", "sec-extension-enumeration", "sec-toll-fraud-probe",
        "sec-scanner-user-agent"}
    assert {r.id for r in rules.values() if r.index == "media"} >= {
        "nat-private-sdp", "sdp-no-common-codec", "rtp-one-way", "rtp-no-media", "rtp-stopped"}
