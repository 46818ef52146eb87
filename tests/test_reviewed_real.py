"""Every expectation of ../shared/traces/real/REVIEWED.md as a test (issue 14, "a reviewed corpus").

An independent expert reviewed each of the 13 real captures from the packets alone: the message
and Call-ID counts (tshark's), the faults a tool should report (with severity) and what it must
NOT report.  Each expectation below quotes the review and checks it on sipscope's analysis of the
same file: fault id, severity and the frames (tshark's frame numbers, `Message.frame`) it is on.

- One test per expectation, so each flips on its own.  An expectation the code does not meet yet
  is `xfail(strict=True)` with "owner: <engineer> - <what is missing>"; the owner removes the
  marker with the fix (strict: a marker left on a fixed expectation fails the run).
- Ids are those of ../shared/docs/fault-catalog.md and of docs/fault-reference.md (rules added
  beyond the catalog).  Ids that an owner has not added yet are named in NEW_IDS below; if the
  owner picks another name, change it there.
- The MIT/BSD/Apache captures among them are copied into tests/data (see PROVENANCE.md), so their
  expectations run without ../shared; the others use the `shared_traces` fixture (skipped when
  the corpus is absent).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

from sipscope.core.model.loader import NoSipError, load_files

DATA = Path(__file__).parent / "data"

F1 = "udp-sbc-b2bua-100rel-prack-options-483-probe.pcap"
F2 = "rawip-class4-b2bua-183-prack-update-two-legs.pcapng"
F3 = "udp-vega-gateway-t38-reinvite-register-options.pcap"
F4 = "udp-vega-gateway-401-183-early-media-calls.pcap"
F5 = "udp-zoiper-register-no-response-over-vpn.pcap"
F6 = "scanner-friendly-scanner-invite-sweep-register-crack.pcap"
F7 = "udp-nat-linphone-trunk-503-then-183-early-media-call.pcap"
F8 = "tcp5060-http-hls-not-sip.pcapng"
F9 = "udp-huawei-softx-register-401-200-hello-keepalive.pcapng"
F10 = "tcp-zoiper-register-unregister-churn.pcap"
F11 = "udp-loopback-kamailio-proxied-call-two-legs.pcap"
F12 = "udp-loopback-kamailio-400-content-length-lf-prefixed-ack.pcap"
F13 = "asterisk-pjsip-rls-notify-11k-multipart-rlmi-pidf.txt"

# Rules the reviews demand beyond the catalog (docs/fault-reference.md), by owner.
NEW_IDS = {
    # reviewed-corpus (rules/interop.py)
    "from-to": "txn-from-to-not-copied",            # RFC 3261 §8.2.6.2
    "uri-escape": "syn-uri-unescaped",              # RFC 3261 §25.1 user grammar
    "callid-reuse": "dlg-call-id-reused",           # RFC 3261 §8.1.1.4, §12
    "rport": "nat-rport-without-received",          # RFC 3581 §4
    "leading-crlf": "syn-leading-crlf",             # RFC 3261 §7.5
    "via-incomplete": "syn-via-incomplete",         # RFC 3261 §20.42, §25.1 Via grammar
    "no-binding": "reg-no-binding-left",            # RFC 3261 §10.2.2, §10.3 step 8
    # media-truth
    "t38-failed": "sdp-t38-media-to-wrong-port",
    "t38-params": "sdp-t38-mismatch",
    "maxptime": "rtp-ptime-above-maxptime",
    "rtp-duplicated": "rtp-duplicate-packets",
}

SECURITY = "sec-"
MEDIA_ABSENCE = ("rtp-one-way", "rtp-no-media", "rtp-stopped")
MEDIA_ABSENCE_CLAIM = re.compile(r"one-way|no (rtp|audio|media)\b|without (rtp|audio|media)", re.I)

OPEN = {   # the MIT/BSD/Apache captures copied into tests/data
    F2, F3, F4, F6, F10, F11,
}

MID_CALL = re.compile(r"before the capture|capture (started|starts|begins)|mid-call|"
                      r"not in the capture", re.I)

# Review sentences not turned into a test, and why.
NOT_TESTED = {
    F1: "'it must be excluded from call counts/ASR': sipscope computes no ASR",
    F2: "'media bypass (the switch relays the far ends' media addresses unchanged)': no rule "
        "or table claims otherwise, nothing to check",
    F12: "'info - fuzzing replay: do not attribute the mutations to a production client': no "
         "text attributes them (the must-NOT checks cover the claims)",
    F13: "'info - the page text says 15 resources; the body lists 16': the page text is not in "
         "the capture",
}


# -- loading -------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _load(path: str):
    return load_files([path])


@pytest.fixture
def session_of(request):
    """session_of(name): the analysed capture, from tests/data when copied there, else from
    ../shared/traces/real (the test skips when the corpus is absent)."""
    def get(name: str):
        local = DATA / name
        if local.exists():
            return _load(str(local))
        shared = request.getfixturevalue("shared_traces")
        return _load(str(shared / "real" / name))
    return get


# -- what a finding is on ------------------------------------------------------------------------

def frames(session, finding) -> set[int]:
    return {session.messages[i].frame for i in finding.messages}


def text(finding) -> str:
    return f"{finding.title} {finding.explanation}"


def of(session, rule_id: str) -> list:
    return [f for f in session.findings if f.id == rule_id]


def show(session) -> str:
    return "\n".join(f"{f.id} {f.severity} {f.role} frames={sorted(frames(session, f))}: {f.title}"
                     for f in session.findings)


@dataclass(frozen=True)
class Case:
    file: str
    review: str                                   # the review's words this checks
    check: Callable                               # check(session) -> None, asserts
    owner: str | None = None                      # "engineer — what is missing": xfail(strict)


def expect(rule_id: str, severity: str, on: set[int] | None = None, where: str = "any",
           naming: str | None = None) -> Callable:
    """A finding `rule_id` of `severity` exists; when `on` is given its frames cover
    (where="all") or touch (where="any") those frames; `naming` must appear in its text."""
    def check(session):
        hits = [f for f in of(session, rule_id) if f.severity == severity]
        if on is not None:
            hits = [f for f in hits if (on <= frames(session, f) if where == "all"
                                        else on & frames(session, f))]
        if naming is not None:
            hits = [f for f in hits if naming in text(f)]
        assert hits, f"no {severity} {rule_id} on frames {sorted(on or ())}:\n{show(session)}"
    return check


def expect_any(prefix: str, severity: str, naming: str) -> Callable:
    """Some finding whose id starts with `prefix`, of `severity`, names `naming`."""
    def check(session):
        hits = [f for f in session.findings if f.id.startswith(prefix)
                and f.severity == severity and naming in text(f) + str(f.evidence)]
        assert hits, f"no {severity} {prefix}* naming {naming}:\n{show(session)}"
    return check


def forbid(rule_ids: tuple[str, ...] | str, on: set[int] | None = None,
           severities: tuple[str, ...] = ("error", "warning", "info"),
           claim: str | None = None) -> Callable:
    """No finding with an id starting with one of `rule_ids` ("" = any) at `severities`, on any of
    the frames `on` (all frames when None), whose text matches `claim` (any text when None)."""
    prefixes = (rule_ids,) if isinstance(rule_ids, str) else rule_ids
    pattern = re.compile(claim, re.I) if claim else None

    def check(session):
        bad = [f for f in session.findings
               if f.id.startswith(prefixes) and f.severity in severities
               and (on is None or on & frames(session, f))
               and (pattern is None or pattern.search(text(f)))]
        assert not bad, "\n".join(f"{f.id} {f.severity} {sorted(frames(session, f))}: {f.title}"
                                  for f in bad)
    return check


def no_media_claims(session):
    """Signalling-only capture: no rtp-* fault and no text claims missing or one-way audio."""
    forbid(MEDIA_ABSENCE)(session)
    forbid("", claim=MEDIA_ABSENCE_CLAIM.pattern, severities=("error", "warning"))(session)


def errors_only(*allowed: str) -> Callable:
    """The review's error list is complete: every error finding has one of these ids."""
    def check(session):
        bad = [f for f in session.findings if f.severity == "error" and f.id not in allowed]
        assert not bad, "\n".join(f"{f.id} {sorted(frames(session, f))}: {f.title}" for f in bad)
    return check


def no_security_headline(session):
    """Catalog §11 / issue 14 pattern 6: a security finding is never a headline."""
    bad = [f for f in session.findings if f.id.startswith(SECURITY) and f.role == "headline"]
    assert not bad, [f"{f.id}: {f.title}" for f in bad]


def not_retransmissions(*frame_numbers: int) -> Callable:
    def check(session):
        flagged = [m.frame for m in session.messages
                   if m.frame in frame_numbers and m.retransmission]
        assert not flagged, f"frames {flagged} marked as retransmissions"
    return check


def headline(rule_ids: tuple[str, ...], severity: str, on: set[int]) -> Callable:
    """The headline of the call holding frames `on` is one of rule_ids at `severity`."""
    def check(session):
        hits = [f for f in session.findings if f.role == "headline" and on & frames(session, f)]
        assert any(f.id in rule_ids and f.severity == severity for f in hits), show(session)
    return check


# -- counts --------------------------------------------------------------------------------------

# file -> (SIP messages, Call-IDs, why it differs from the review's tshark numbers, if it does)
COUNTS = {
    F1: (41, 10, ""), F2: (22, 2, ""), F3: (31, 7, ""), F4: (28, 8, ""), F5: (22, 1, ""),
    F6: (40, 15, "the 5 ICMP errors quoting INVITEs (f7, f10, f12, f14, f15) are not SIP messages "
                 "(tshark's sip,stat does not count them either)"),
    F7: (13, 2, ""),
    F8: (0, 0, "HTTP on TCP 5060: not SIP, although tshark's heuristic labels 2 frames"),
    F9: (8, 1, ""), F10: (8, 2, ""), F11: (16, 2, ""),
    F12: (15, 2, "tshark counts 13: the two LF-prefixed ACK datagrams f11 and f12 are SIP that "
                 "tshark cannot dissect; RFC 3261 §7.5 says to ignore leading CRLF, so we read them"),
    F13: (1, 1, ""),
}

ICMP_FRAMES_F6 = {7, 10, 12, 14, 15}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_counts(name, session_of):
    messages, call_ids, _why = COUNTS[name]
    if messages == 0:
        with pytest.raises(NoSipError):
            session_of(name)
        return
    session = session_of(name)
    assert len(session.messages) == messages
    assert len({m.call_id for m in session.messages if m.call_id}) == call_ids
    assert not session.analysis_warnings, session.analysis_warnings


def test_icmp_errors_are_not_sip_messages(session_of):
    """File 6, must NOT: the 5 ICMP frames as 5 more INVITEs or as responses."""
    session = session_of(F6)
    assert not {m.frame for m in session.messages} & ICMP_FRAMES_F6


def test_lf_prefixed_acks_are_read(session_of):
    """File 12: the LF-prefixed ACK datagrams f11 and f12 are parsed (RFC 3261 §7.5 spirit)."""
    session = session_of(F12)
    acks = {m.frame: m for m in session.messages if m.method == "ACK"}
    assert set(acks) == {11, 12}
    assert all(m.call_id == "1-670@127.0.0.1" and m.cseq_num == 2 for m in acks.values())


# -- the expectations, file by file --------------------------------------------------------------

SIG, MED, ROLES, SEC, ME = ("signalling-truth", "media-truth", "roles-and-new-rules",
                            "security-and-claims", "reviewed-corpus")

# f16, the second reliable 180 (new RSeq), is a response of its own (RFC 3262 §3)
LEG_A_RESPONSES_F1 = {10, 16, 24}
OPTIONS_F1 = {1, 2, 3, 4, 21, 22, 27, 28, 29, 30, 31, 32, 40, 41}
PROBE_F1 = {37, 38, 39}

CASES: list[tuple[str, Case]] = [
    # 1. SBC/B2BUA, 100rel + PRACK, OPTIONS and 483 probe
    ("f1-from-to-rewritten", Case(
        F1, "warning - From/To URIs in the B2BUA's leg-A responses (f10, f16, f24) differ from "
            "the request (RFC 3261 §8.2.6.2); tags unchanged",
        expect(NEW_IDS["from-to"], "warning", LEG_A_RESPONSES_F1, where="all"))),
    ("f1-warning-empty-agent", Case(
        F1, "info - f38 Warning: 399 with an empty warn-agent, not RFC 3261 grammar",
        expect("syn-header-invalid", "info", {38}, naming="Warning"))),
    ("f1-max-forwards-in-responses", Case(
        F1, "info - responses from 10.252.41.104 carry a Max-Forwards header (f8, f9, f23, f35)",
        expect("syn-header-invalid", "info", {8, 9, 23, 35}, naming="Max-Forwards"))),
    ("f1-signalling-only", Case(
        F1, "info - signalling-only capture: media cannot be assessed", no_media_claims)),
    ("f1-options-mf0-not-loop", Case(
        F1, "must NOT: OPTIONS with Max-Forwards 0 answered 200 as a loop or error (§16.3)",
        lambda s: (forbid("", OPTIONS_F1, severities=("error",))(s),
                   forbid(("route-loop", "syn-", "call-"), OPTIONS_F1)(s),
                   forbid("", OPTIONS_F1, claim=r"Max-Forwards|loop|hops")(s)))),
    ("f1-probe-not-loop", Case(
        F1, "must NOT: the Sip-Probe INVITE/483/ACK as a routing loop",
        forbid("route-loop", PROBE_F1))),
    ("f1-probe-not-failed-call", Case(
        F1, "must NOT: the Sip-Probe INVITE/483/ACK as a failed call",
        forbid("call-failed", PROBE_F1, severities=("error", "warning")))),
    ("f1-legs-not-forked", Case(
        F1, "must NOT: the two Call-IDs 105 ms apart as a duplicated or forked call",
        forbid(("fork-",)))),
    ("f1-second-180-not-retransmission", Case(
        F1, "must NOT: the second 180 (new RSeq) and second PRACK (new CSeq) as retransmissions",
        not_retransmissions(15, 16, 17, 18, 19, 20))),
    ("f1-prack-ok", Case(
        F1, "must NOT: PRACK faults on correct RFC 3262 behaviour (incl. double-space RAck)",
        forbid("txn-prack-failure"))),
    ("f1-lws-legal", Case(
        F1, "must NOT: `CSeq:  1 INVITE`, `RAck: 1354791950  1 INVITE` (legal LWS)",
        forbid("syn-", claim=r"CSeq|RAck"))),
    ("f1-no-unlisted-error", Case(
        F1, "the review lists no error for this capture (errors are exactly the review's)",
        errors_only())),

    # 2. class-4 B2BUA, 183 + PRACK, early UPDATE
    ("f2-unescaped-hash", Case(
        F2, "warning - unescaped `#` in the user part of the Request-URI and To (f1 and leg A)",
        expect(NEW_IDS["uri-escape"], "warning", {1}, naming="#"))),
    ("f2-post-dial-delay", Case(
        F2, "info - post-dial delay 2.05 s to the 183",
        expect("call-post-dial-delay", "info", {1, 7}, where="all", naming="2.0"))),
    ("f2-post-dial-delay-hops", Case(
        F2, "... the 183 came from the egress carrier (f5, 2.047 s) and the switch relayed it on "
            "leg A at once (f7): the wait is not the switch's",
        forbid("call-post-dial-delay", claim=r"waiting for 172\.241\.26\.21"))),
    ("f2-signalling-only", Case(
        F2, "info - RTP not captured: no missing or one-way audio claims", no_media_claims)),
    ("f2-legs-not-duplicates", Case(
        F2, "must NOT: the two Call-IDs as duplicate calls (the B2BUA's two legs)",
        forbid(("fork-",)))),
    ("f2-100-with-to-tag", Case(
        F2, "must NOT: 100 Trying with a To-tag (f4), allowed by §8.2.6.2",
        forbid("", {4}, severities=("error", "warning"), claim=r"\btag\b|100 Trying"))),
    ("f2-session-expires-ok", Case(
        F2, "must NOT: Session-Expires in a 2xx without Require: timer; no session-timer expiry",
        forbid("", claim=r"session.?timer|session-expires|require: ?timer",
               severities=("error", "warning")))),
    ("f2-unchanged-update-answer", Case(
        F2, "must NOT: 200 to UPDATE with the same SDP and o= version (f13)",
        forbid(("sdp-version-stale", "sdp-answer-invalid"), {11, 12, 13, 14}))),
    ("f2-contact-refresh", Case(
        F2, "must NOT: the Contact change on leg A and ACK/BYE to the new Contact",
        forbid("", {17, 18}, severities=("error", "warning")))),
    ("f2-odd-but-legal-headers", Case(
        F2, "must NOT: large CSeq, Via without port, ;cid= Via parameter",
        forbid(("syn-header-invalid", "dlg-cseq-out-of-order")))),
    ("f2-no-error", Case(F2, "the review lists no error", errors_only())),

    # 3. Vega gateway, T.38 re-INVITE that fails
    ("f3-t38-failure", Case(
        F3, "error - T.38 fax failure: the far end sends UDPTL to the old audio port 10338, the "
            "Vega never sends UDPTL, the call is cleared 27.6 s later (f2260)",
        expect(NEW_IDS["t38-failed"], "error", {1893, 1909}, naming="10338"))),
    ("f3-t38-headline", Case(
        F3, "the T.38 failure is what broke this call (its headline)",
        headline((NEW_IDS["t38-failed"],), "error", {1909}))),
    ("f3-t38-rate-management", Case(
        F3, "warning - the T.38 answer changes T38FaxRateManagement transferredTCF -> localTCF",
        expect(NEW_IDS["t38-params"], "warning", {1909}, naming="localTCF"))),
    ("f3-nat-private-sdp", Case(
        F3, "warning - NAT: private 192.168.3.15 in Contact and SDP while the far end sees "
            "204.80.194.3 (Via received/rport)",
        expect_any("nat-private-", "warning", "192.168.3.15"))),
    ("f3-fax-packets-counted", Case(
        F3, "after the switch the far end keeps sending to 10338: 6 more PCMU packets, then 292 "
            "UDPTL packets (a text that says what arrived there counts both)",
        forbid("nat-", {1909}, claim=r"10338\s+instead\s+\((?![^)]*\b292 fax)"))),
    ("f3-malformed-t38-is-rtp", Case(
        F3, "must NOT: tshark's `T.38 [Malformed]` f1895 / `Unknown RTP version 0` as broken RTP",
        forbid("rtp-", claim=r"malformed|version|invalid"))),
    ("f3-self-options", Case(
        F3, "must NOT: the self-addressed OPTIONS to searcher@127.0.0.1 as a scan or a loop",
        forbid(("route-loop", SECURITY), {2130, 2133}))),
    ("f3-short-expiry-ok", Case(
        F3, "must NOT: expires=60 for a requested 600, 200 without a challenge, several REGISTER "
            "Call-IDs from one IP",
        forbid(("reg-failed", "auth-", SECURITY)))),
    ("f3-ssrc-change", Case(
        F3, "must NOT: the far-end SSRC changes around the re-INVITEs as a fault",
        forbid("", claim=r"SSRC", severities=("error", "warning")))),
    ("f3-truncated-start", Case(
        F3, "must NOT: '200 OK without INVITE' as a protocol error (capture truncated at start)",
        forbid("", {845, 846}, severities=("error", "warning")))),
    ("f3-no-unlisted-error", Case(
        F3, "errors are exactly the review's (the T.38 failure)",
        errors_only(NEW_IDS["t38-failed"]))),
    ("f3-starts-mid-call", Case(
        F3, "info - capture starts mid-call (no INVITE for CSeq 19199134); RTP precedes the "
            "first SIP message",
        lambda s: _assert(any(f.severity == "info" and {845, 846} & frames(s, f)
                              and MID_CALL.search(text(f)) for f in s.findings), show(s)))),

    # 4. Vega gateway, 401 on INVITE, 180+SDP then 183, 30 ms packets
    ("f4-maxptime", Case(
        F4, "warning - the Vega sends 30 ms packets although the far end's SDP says a=maxptime:20",
        expect(NEW_IDS["maxptime"], "warning", naming="30"))),
    ("f4-nat-from-rport", Case(
        F4, "info - NAT detected from Via received/rport (128.254.249.186), not from the address "
            "class (192.10.1.65 is not RFC 1918)",
        expect_any("nat-", "info", "128.254.249.186"))),
    ("f4-401-not-failed", Case(
        F4, "must NOT: the INVITE 401 (f3109) as a failed call",
        forbid(("call-failed", "auth-challenge-loop"), {3107, 3109, 3110, 3111}))),
    ("f4-early-media-legal", Case(
        F4, "must NOT: 180 with SDP then 183 with identical SDP; RTP before the 200 OK",
        forbid(("sdp-version-stale", "sdp-answer-invalid", *MEDIA_ABSENCE),
               severities=("error", "warning")))),
    ("f4-session-expires-ok", Case(
        F4, "must NOT: Session-Expires with refresher=uas and no Require: timer",
        forbid("dlg-session-timer-expiry"))),
    ("f4-self-options", Case(
        F4, "must NOT: self-OPTIONS to searcher@127.0.0.1 as a scan or a loop",
        forbid(("route-loop", SECURITY)))),
    ("f4-no-error", Case(F4, "the review lists no error", errors_only())),
    ("f4-sequence-gaps", Case(
        F4, "info - three single-packet sequence gaps in the Vega's streams (stream table)",
        lambda s: _assert(sum(st.lost for st in s.media.streams
                              if st.src.startswith("192.10.1.65:")) == 3,
                          [(st.src, st.lost) for st in s.media.streams]))),
    ("f4-starts-mid-call", Case(
        F4, "info - capture truncated at the start (call 1: first SIP is its 200 OK f350)",
        lambda s: _assert(any(f.severity == "info" and {350, 354} & frames(s, f)
                              and MID_CALL.search(text(f)) for f in s.findings), show(s)))),

    # 5. Zoiper REGISTER never answered
    ("f5-registration-failure", Case(
        F5, "error - registration failure: 172.16.1.75 never answers (CSeq 4 times out)",
        headline(("tmr-non-invite-timeout", "reg-failed"), "error", {409}))),
    ("f5-failure-is-decided", Case(
        F5, "error - registration failure ... (≈32-s timeout on CSeq 4): decided, the capture runs "
            "73 s past it",
        forbid("", {409}, claim=r"[Uu]ndecided|cannot be decided|could not be decided"))),
    ("f5-via-address-mismatch", Case(
        F5, "warning - Via/Contact address 10.133.206.47 differs from the source 10.8.0.1",
        expect_any("nat-", "warning", "10.133.206.47"))),
    ("f5-retransmissions-not-attempts", Case(
        F5, "must NOT: the 20 retransmissions as 20 separate attempts or a REGISTER flood",
        lambda s: (forbid(SECURITY)(s),
                   _assert(sum(m.retransmission for m in s.messages) == 20,
                           "20 retransmissions expected")))),
    ("f5-irregular-retransmissions", Case(
        F5, "info - retransmission timing after 91.8 s is irregular (an 11.4-s gap); the capture "
            "cannot tell whether the host delayed them or they were lost before the capture point",
        expect("tmr-non-invite-timeout", "info", naming="11.4"))),
    ("f5-no-408", Case(
        F5, "must NOT: a 408 response (there is no response at all)",
        forbid("", claim=r"\b408\b"))),
    ("f5-webex-not-rtp", Case(
        F5, "must NOT: the Webex UDP 9000 flow as RTP of a SIP call",
        lambda s: (forbid("rtp-")(s),
                   _assert(not any(s.media.streams_for_call(s, c) for c in s.calls),
                           "a stream attached to the REGISTER")))),
    ("f5-no-other-error", Case(
        F5, "errors are exactly the review's (the registration failure)",
        errors_only("tmr-non-invite-timeout", "reg-failed"))),

    # 6. SIPVicious sweep, enumeration and a cracked password
    ("f6-bruteforce-success", Case(
        F6, "error (security) - successful credential brute force on 6001 (f45 -> f48)",
        expect("sec-password-bruteforce", "error", {45, 48}, where="all", naming="6001"))),
    ("f6-bruteforce-names-contact", Case(
        F6, "the attacker's bogus Contact sip:123@1.1.1.1 now holds 6001's registration",
        expect("sec-password-bruteforce", "error", naming="123@1.1.1.1"))),
    ("f6-scanning", Case(
        F6, "warning (security) - SIP scanning (friendly-scanner) from 147.32.77.113",
        lambda s: _assert(any(f.id in ("sec-scanner-user-agent", "sec-extension-enumeration")
                              and f.severity in ("warning", "error")
                              and "147.32.77.113" in text(f) for f in s.findings), show(s)))),
    ("f6-security-not-headline", Case(
        F6, "issue 14 pattern 6: security findings are never a headline", no_security_headline)),
    ("f6-cseq2-not-retransmissions", Case(
        F6, "must NOT: the CSeq-2 REGISTERs (new branch, new digest) as retransmissions",
        lambda s: _assert(not [m.frame for m in s.messages
                               if m.method == "REGISTER" and m.retransmission],
                          "REGISTER attempts marked as retransmissions"))),
    ("f6-no-packet-loss", Case(
        F6, "must NOT: CSeq reuse reported as packet loss",
        forbid("", claim=r"packet loss|packets? (were |was )?lost|(?<!not )\bretransmi"))),
    ("f6-scanner-not-nat", Case(
        F6, "must NOT: Via 127.0.1.1 / From host 1.1.1.1 as a NAT fault of a legitimate phone",
        forbid("nat-"))),
    ("f6-not-registration-problem", Case(
        F6, "must NOT: the 401 storm as a registration problem of a legitimate user",
        forbid(("reg-failed", "auth-challenge-loop")))),
    ("f6-invite-401-is-info", Case(
        F6, "info - the Asterisk host answers unauthenticated INVITEs with 401 (f6): a scanner's "
            "probe refused, not a failed call of a user",
        forbid(("call-failed", "txn-"), {5, 6}, severities=("error", "warning")))),

    # 7. Linphone behind NAT: 503, then a call with duplicated RTP
    ("f6-no-credentials-advice-to-scanner", Case(
        F6, "... the 401 to the scanner's INVITE (f6) is no user's login problem",
        forbid("call-failed", {6}, claim=r"[Cc]heck the caller's username and password"))),
    ("f7-503", Case(
        F7, "error - call 1 rejected with 503 after 10.5 s (only a 100 before it)",
        expect("call-failed", "error", {477, 662}, where="all", naming="503"))),
    ("f7-503-headline", Case(
        F7, "the 503 is call 1's headline",
        headline(("call-failed",), "error", {662}))),
    ("f7-duplicated-rtp", Case(
        F7, "warning - duplicated RTP from the client: 178 packets sent twice during early media",
        expect(NEW_IDS["rtp-duplicated"], "warning", naming="178"))),
    ("f7-from-to-rewritten", Case(
        F7, "warning - the trunk rewrites From/To in responses (f2232, f2456, f8629, f13229)",
        expect(NEW_IDS["from-to"], "warning", {2232, 2456, 8629, 13229}, where="all"))),
    ("f7-post-dial-delay", Case(
        F7, "info - post-dial delay 2.7 s to the first 183",
        expect("call-post-dial-delay", "info", {1986, 2232}, where="all", naming="2.7"))),
    ("f7-media-level-c", Case(
        F7, "must NOT: the private o=/session-level c= as the media address (media-level c= wins)",
        forbid("nat-private-sdp", claim=r"172\.16\.19\.217"))),
    ("f7-no-port-mismatch", Case(
        F7, "must NOT: RTP from 172.16.19.217:7078 vs SDP port 37734 as a port mismatch",
        forbid("", claim=r"37734|mismatch", severities=("error", "warning")))),
    ("f7-early-media-legal", Case(
        F7, "must NOT: the duplicates as packet loss; 180 after 183, repeated 183 as errors",
        forbid(("rtp-one-way", "rtp-no-media", "rtp-stopped", "sdp-"),
               severities=("error", "warning")))),
    ("f7-session-expires-ice", Case(
        F7, "must NOT: Session-Expires without Require: timer; ICE offered but not answered",
        forbid("", claim=r"session-expires|require: ?timer|\bICE\b",
               severities=("error", "warning")))),
    ("f7-keepalives-not-sip", Case(
        F7, "must NOT: the 4-byte CRLF CRLF keepalives as malformed SIP",
        forbid("syn-"))),
    ("f7-no-other-error", Case(
        F7, "errors are exactly the review's (the 503)", errors_only("call-failed"))),
    ("f7-duplicates-not-loss", Case(
        F7, "the 178 duplicates are counted as duplicates in the stream table, not as loss",
        lambda s: _assert([(st.duplicates, st.lost) for st in s.media.streams
                           if st.src == "172.16.19.217:7078"] == [(178, 0)],
                          [(st.src, st.duplicates, st.lost) for st in s.media.streams]))),

    # 9. Huawei SoftX registration, anonymised
    ("f9-rport-without-received", Case(
        F9, "warning (minor) - the registrar sets rport=5060 but adds no received although the "
            "request had rport (RFC 3581 §4)",
        expect(NEW_IDS["rport"], "warning", {10, 12}, where="all"))),
    ("f9-401-not-failure", Case(
        F9, "must NOT: the 401s as failures (each is followed by a 200)",
        forbid(("reg-failed", "auth-challenge-loop", "call-failed")))),
    ("f9-anonymised-not-nat", Case(
        F9, "must NOT: NAT from Via/Contact vs IP source, or R-URI host vs destination "
            "(TraceWrangler rewrote the IP layer)",
        forbid("", claim=r"\bNAT\b|10\.231\.142\.84|172\.29\.38\.91"))),
    ("f9-hello-not-sip", Case(
        F9, "must NOT: the `hello` keepalives as malformed SIP", forbid("syn-"))),
    ("f9-healthy", Case(F9, "otherwise healthy: no error", errors_only())),

    # 10. Zoiper over TCP: register / unregister churn
    ("f10-no-binding-left", Case(
        F10, "info - registration churn; at the end of the file AOR 987654 has no binding "
             "(an inbound call would fail)",
        expect(NEW_IDS["no-binding"], "info", {13, 14}, naming="987654"))),
    ("f10-tcp-port-not-nat", Case(
        F10, "must NOT: Via/Contact port 48376 vs TCP source port 43168 as NAT",
        forbid("nat-"))),
    ("f10-deregister-not-failure", Case(
        F10, "must NOT: the de-REGISTERs as failures; a 200 without Contact to expires=0",
        forbid(("reg-failed", "syn-")))),
    ("f10-no-error", Case(F10, "the review lists no error", errors_only())),

    # 11. Kamailio loopback lab: a proxied call
    ("f11-call-id-reused", Case(
        F11, "warning - the UAC reuses its REGISTER Call-ID for the INVITE dialog",
        expect(NEW_IDS["callid-reuse"], "warning", {3, 5}, where="all", naming="1-670@127.0.0.1"))),
    ("f11-to-port-dropped", Case(
        F11, "info - pjsua's 200 OK has To <sip:33@127.0.0.1> for <sip:33@127.0.0.1:5060> "
             "(§19.1.4: not equivalent); tags match",
        expect(NEW_IDS["from-to"], "info", {9}))),
    ("f11-max-forwards-100", Case(
        F11, "info - Max-Forwards: 100 from the UAC (70 recommended, RFC 3261 §8.1.1.6)",
        expect("syn-header-invalid", "info", {5}, naming="Max-Forwards"))),
    ("f11-hops-not-retransmissions", Case(
        F11, "must NOT: each request/response seen once per hop as retransmissions",
        lambda s: (not_retransmissions(*range(1, 17))(s),
                   forbid("", claim=r"retransmi", severities=("error", "warning"))(s)))),
    ("f11-legal-oddities", Case(
        F11, "must NOT: sipp vs \"sipp\" display-name quoting; lr=on vs lr",
        forbid(("syn-", "fork-", "dlg-"), severities=("error", "warning"),
               claim=r"display|quot|\blr\b|Record-Route|Route"))),
    ("f11-signalling-only", Case(F11, "must NOT: one-way or missing audio", no_media_claims)),
    ("f11-no-error", Case(F11, "the review lists no error", errors_only())),

    # 12. Kamailio loopback fuzzing replay: 400 Content-Length, LF-prefixed ACKs
    ("f12-400", Case(
        F12, "error - REGISTER rejected with 400 Content-Length mis-match (f3/f4)",
        expect("reg-failed", "error", {3, 4}, where="all", naming="400"))),
    ("f12-400-headline", Case(
        F12, "Summary, headline: REGISTER rejected 400 Content-Length mis-match (error)",
        headline(("reg-failed",), "error", {4}))),
    ("f12-400-cause", Case(
        F12, "... 2 body bytes after the header block while Content-Length: 0 (f3)",
        expect("syn-content-length-mismatch", "warning", {3}))),
    ("f12-via-port-no-rport", Case(
        F12, "warning - requests from ephemeral ports 60713/36699 advertise Via port 5061 without "
             "rport; responses go to 5061 (RFC 3261 §18.2.2)",
        expect("nat-response-misrouted", "warning", {3, 4}))),
    ("f12-lf-prefixed-ack", Case(
        F12, "warning - LF-prefixed ACK datagrams (f11, f12): tolerated and relayed by Kamailio; "
             "a robust tool should parse them and mention them",
        expect(NEW_IDS["leading-crlf"], "warning", {11, 12}, where="all"))),
    ("f12-2xx-acked", Case(
        F12, "must NOT: '200 OK never ACKed' (the ACK is in f11/f12)",
        lambda s: (forbid("tmr-2xx-no-ack")(s),
                   forbid("", {9, 10}, claim=r"\bACK")(s)))),
    ("f12-replay-not-retransmission", Case(
        F12, "must NOT: f15 as a network retransmission of f3 (different source port)",
        not_retransmissions(15))),
    ("f12-replay-not-relayed-copy", Case(
        F12, "must NOT: f15 as another copy of f3 (a replay of the same seed from a new source "
             "port, not a network copy and not a relay)",
        forbid("", {15}, claim=r"relayed[^.]*36699|36699[^.]*relay"))),
    ("f12-replay-not-answered", Case(
        F12, "f15 ... the capture ends before any answer (the 400 f4 answered f3)",
        forbid("", {15}, claim=r"rejected|answered|refused"))),
    ("f12-no-missing-bye", Case(
        F12, "must NOT: missing BYE (the capture ends); absence of RTP",
        lambda s: (forbid("", claim=r"\bBYE\b", severities=("error", "warning"))(s),
                   no_media_claims(s)))),
    ("f12-no-other-error", Case(
        F12, "errors are exactly the review's (the 400)", errors_only("reg-failed"))),

    # 13. Asterisk RLS NOTIFY, text trace
    ("f13-via-incomplete", Case(
        F13, "error (validator) - top Via `SIP/2.0/ ;rport;branch=...` has no transport and no "
             "sent-by",
        lambda s: _assert(any(f.id in (NEW_IDS["via-incomplete"], "syn-header-invalid")
                              and f.severity == "error" and "Via" in text(f)
                              for f in s.findings), show(s)))),
    ("f13-via-headline", Case(
        F13, "Summary, headline: Via with no transport/sent-by (error for a validator)",
        headline((NEW_IDS["via-incomplete"],), "error", {1}))),
    ("f13-oversize", Case(
        F13, "warning - ≈11.6 KB message: over UDP it would break RFC 3261 §18.1.1; the Contact "
             "advertises TCP",
        expect("net-udp-oversize", "warning"))),
    ("f13-no-content-length-claim", Case(
        F13, "must NOT: a Content-Length mismatch (the documentation copy lost its CRLFs)",
        forbid("syn-content-length-mismatch"))),
    ("f13-one-message-excerpt", Case(
        F13, "must NOT: 'NOTIFY without SUBSCRIBE' (a one-message excerpt)",
        forbid("", claim=r"SUBSCRIBE"))),
]


def _assert(condition: bool, message: str) -> None:
    assert condition, message


def _params():
    for case_id, case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=f"owner: {case.owner}")] if case.owner else []
        yield pytest.param(case, id=case_id, marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_review_expectation(case: Case, session_of):
    case.check(session_of(case.file))


def test_not_sip_file_is_silent(shared_traces):
    """File 8: HTTP on TCP 5060 is 'not SIP': no message, no call, no SIP fault."""
    with pytest.raises(NoSipError):
        load_files([str(shared_traces / "real" / F8)])


def test_every_capture_is_covered():
    """Each reviewed capture has its count row and at least one expectation."""
    assert set(COUNTS) == {F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12, F13}
    covered = {case.file for _, case in CASES} | {F8}
    assert covered == set(COUNTS)
    assert len({case_id for case_id, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("name", sorted(OPEN))
def test_open_captures_run_without_the_corpus(name):
    """The MIT/BSD/Apache captures are in tests/data (PROVENANCE.md), so their expectations run
    without ../shared."""
    assert (DATA / name).stat().st_size < 1_700_000
    assert name in (DATA / "PROVENANCE.md").read_text()
