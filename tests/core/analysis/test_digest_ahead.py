"""Weak-password searches done ahead, while the loader waits for the reader process
(analysis/digest.py DigestPrecompute): exact results, resumed when unfinished, and the same
findings as without them."""

from __future__ import annotations

from core.analysis.test_rules_security import digest, register

from sipscope.core.analysis.digest import (DigestChallenge, DigestPrecompute, credentials_of,
                                          dictionary)
from sipscope.core.analysis.runner import run_rules
from tests.factory import Flow


def _weak_capture() -> Flow:
    flow = Flow()
    # two phones: one with a dictionary password (a 4-digit number), one with a strong one
    register(flow, 0.0, "192.0.2.10:5060", "201", status=401)
    register(flow, 0.1, "192.0.2.10:5060", "201", cseq=2,
             auth=digest("201", "4711", "n1201"))
    register(flow, 0.2, "192.0.2.11:5060", "202", status=401)
    register(flow, 0.3, "192.0.2.11:5060", "202", cseq=2,
             auth=digest("202", "k9#Lq!v7Zr", "n1202"))
    return flow


def _challenges(session) -> list[DigestChallenge]:
    return [DigestChallenge.from_params(params, m) for m in session.messages
            for params in credentials_of(m)]


def test_search_ahead_finds_what_the_full_search_finds_and_resumes():
    session = _weak_capture().session(rules=False)
    words = dictionary(None)
    ahead = DigestPrecompute(None, limit=100)
    ahead.SLICE = 3000                    # a few steps per account
    ahead.offer(session.messages)
    weak, strong = _challenges(session)
    assert ahead.step()                   # one slice of the first account only
    assert ahead.search(weak, words) == weak.search(words[0]) >= 0          # resumed, exact
    while ahead.step():
        pass
    assert ahead.search(weak, words) == weak.search(words[0])
    assert ahead.search(strong, words) == strong.search(words[0]) == -1
    assert words[0][ahead.search(weak, words)] == b"4711"
    other = DigestPrecompute("/nonexistent-wordlist.txt", limit=100)
    assert other.search(weak, words) == weak.search(words[0])   # another list: searched anew


def test_only_the_first_accounts_are_searched_ahead():
    session = _weak_capture().session(rules=False)
    ahead = DigestPrecompute(None, limit=1)
    ahead.offer(session.messages)
    steps = 0
    while ahead.step():
        steps += 1
    assert 0 < steps <= len(dictionary(None)[0]) // ahead.SLICE + 1     # one account's worth


def test_same_findings_with_the_searches_done_ahead():
    plain = _weak_capture().session(rules=False)
    expected = [(f.id, f.messages, f.evidence) for f in run_rules(plain)]
    session = _weak_capture().session(rules=False)
    session.digest_ahead = ahead = DigestPrecompute(None, limit=100)
    ahead.offer(session.messages)
    while ahead.step():
        pass
    got = [(f.id, f.messages, f.evidence) for f in run_rules(session)]
    assert got == expected
    assert any(f[0] == "sec-weak-digest-password" for f in got)
