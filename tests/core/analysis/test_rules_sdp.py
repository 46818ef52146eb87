"""SDP rules (catalog §8) on synthetic offer/answer flows, and the SIPp fixture of §14.2."""

from __future__ import annotations

from core.analysis.test_rules_rtp import rtp_flow
from factory import Flow, request, response, sdp

from sipscope.core.media.calls import media_index
from sipscope.core.media.streams import MediaCollector
from sipscope.core.model.loader import load_files

A, B = "10.0.0.1:5060", "10.0.0.2:5060"
CALLEE = "sip:bob@10.0.0.2"


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


def call(offer: str, answer: str, flow: Flow | None = None, t: float = 0.0, bye_at=None,
         media: bool = False):
    """INVITE (offer) -> 200 (answer) -> ACK, optionally BYE; returns the flow."""
    f = flow or Flow()
    inv = f.add(t, A, B, request("INVITE", CALLEE, body=offer))
    f.add(t + 0.5, B, A, response(inv, 200, "OK", to_tag="X", contact=CALLEE, body=answer))
    f.add(t + 0.51, A, B, request("ACK", CALLEE, to_tag="X", branch="z9hG4bK-ack"))
    if bye_at is not None:
        f.add(bye_at, A, B, request("BYE", CALLEE, to_tag="X", cseq=9, branch="z9hG4bK-bye"))
    return f


def reinvite(f: Flow, t: float, offer: str, answer: str, cseq: int) -> None:
    re = f.add(t, A, B, request("INVITE", CALLEE, to_tag="X", cseq=cseq, body=offer,
                                branch=f"z9hG4bK-re{cseq}"))
    f.add(t + 0.1, B, A, response(re, 200, "OK", to_tag="X", contact=CALLEE, body=answer))
    f.add(t + 0.11, A, B, request("ACK", CALLEE, to_tag="X", cseq=cseq,
                                  branch=f"z9hG4bK-reack{cseq}"))


# -- 8.1 sdp-no-common-codec ---------------------------------------------------------------------

def pcma_answered_pcmu():
    return call(sdp("10.0.0.1", 6100, "8 101"), sdp("10.0.0.2", 6000, "0")).session()


def pcma_answered_pcma():
    return call(sdp("10.0.0.1", 6100, "8 101"), sdp("10.0.0.2", 6000, "8 101")).session()


def test_no_common_codec_lists_both_sides():
    [finding] = found(pcma_answered_pcmu(), "sdp-no-common-codec")
    assert finding.severity == "error" and finding.messages == [0, 1]
    assert "offered G.711 A-law (PCMA), telephone-event (DTMF)" in finding.explanation
    assert "answered G.711 u-law (PCMU)" in finding.explanation
    assert finding.evidence["offered"] == ["PCMA/8000", "telephone-event/8000"]
    # answered, but this capture holds no RTP: nothing is claimed about the audio
    assert "Yet this call was answered (200 OK); this capture holds no RTP" in finding.explanation
    assert "fast busy" not in finding.explanation and "refused" not in finding.explanation


def broken_answer_but_audio_flowed():
    """PCMA offered, PCMU answered, yet PCMA flows both ways (the SIPp loopback pattern)."""
    f = call(sdp("10.0.0.1", 6100, "8 101"), sdp("10.0.0.2", 6000, "0"), bye_at=8.0)
    rtp_flow(f, "10.0.0.1:6100", "10.0.0.2:6000", 1.0, 5.0, ssrc=1)
    rtp_flow(f, "10.0.0.2:6000", "10.0.0.1:6100", 1.0, 5.0, ssrc=2)
    return f.session(media=MediaCollector())


def test_no_common_codec_consequence_comes_from_the_capture():
    """Issue 14 pattern 1: an answered call whose audio flowed is not 'refused ... fast busy';
    the codec named is the one in the RTP (PT 8 = PCMA), not one from the answer."""
    [finding] = found(broken_answer_but_audio_flowed(), "sdp-no-common-codec")
    assert finding.severity == "error"
    assert ("Yet this call was answered (200 OK) and audio flowed both ways as PCMA/8000 "
            "(250 packets to the callee, 250 to the caller): the far end tolerated the broken "
            "answer") in finding.explanation
    assert "fast busy" not in finding.explanation and "refused" not in finding.explanation
    assert finding.evidence["codecs_flowing"] == ["PCMA/8000"]
    assert (finding.evidence["packets_to_callee"], finding.evidence["packets_to_caller"]) == \
        (250, 250)


def test_codec_less_answer_then_failure_says_so():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp("10.0.0.1", 6100, "8")))
    f.add(0.2, B, A, response(inv, 183, "Session Progress", to_tag="X", contact=CALLEE,
                              extra=(("Require", "100rel"), ("RSeq", "1")),
                              body=sdp("10.0.0.2", 6000, "0")))
    f.add(1.0, B, A, response(inv, 503, "Service Unavailable", to_tag="X"))
    [finding] = found(f.session(), "sdp-no-common-codec")
    assert "The call then ended with 503 Service Unavailable" in finding.explanation


def test_488_to_initial_invite_is_error_and_to_reinvite_a_warning():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp(codecs="18")))
    f.add(0.1, B, A, response(inv, 488, "Not Acceptable Here", to_tag="X",
                              extra=(("Warning", '305 pbx "Incompatible media format"'),)))
    [finding] = found(f.session(), "sdp-no-common-codec")
    assert finding.severity == "error" and "305 pbx" in finding.explanation
    f = call(sdp(), sdp("10.0.0.2"))
    re = f.add(5, A, B, request("INVITE", CALLEE, to_tag="X", cseq=2, branch="z9hG4bK-t38",
                                body="v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"
                                     "t=0 0\r\nm=image 4002 udptl t38\r\n"))
    f.add(5.1, B, A, response(re, 488, "Not Acceptable Here", to_tag="X"))
    [finding] = found(f.session(), "sdp-no-common-codec")
    assert finding.severity == "warning" and "T.38" in finding.explanation
    # a refused mid-call offer leaves the call up: no "call refused", no "fast busy"
    assert "so the change was refused (488 Not Acceptable Here)" in finding.explanation
    assert "fast busy" not in finding.explanation and "accepts only none" not in \
        finding.explanation


def test_488_then_retry_answered_is_no_fast_busy():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp(codecs="18")))
    f.add(0.1, B, A, response(inv, 488, "Not Acceptable Here", to_tag="X"))
    f.add(0.11, A, B, request("ACK", CALLEE, to_tag="X"))
    retry = f.add(1.0, A, B, request("INVITE", CALLEE, cseq=2, branch="z9hG4bK-2",
                                     body=sdp(codecs="0")))
    f.add(1.5, B, A, response(retry, 200, "OK", to_tag="Y", contact=CALLEE,
                              body=sdp("10.0.0.2", codecs="0")))
    [finding] = found(f.session(), "sdp-no-common-codec")
    assert finding.severity == "error" and "fast busy" not in finding.explanation
    assert finding.explanation.startswith("The two ends could not agree on a voice format "
                                          "(codec). The device at 10.0.0.1:5060 offered G.729")
    assert "The caller then tried again and the call was answered (200 OK" in finding.explanation


# -- 8.2 sdp-answer-invalid ----------------------------------------------------------------------

def sendonly_answered_sendrecv():
    return call(sdp(direction="sendonly"), sdp("10.0.0.2", direction="sendrecv")).session()


def sendonly_answered_recvonly():
    return call(sdp(direction="sendonly"), sdp("10.0.0.2", direction="recvonly")).session()


def test_answer_direction_and_media_count():
    [finding] = found(sendonly_answered_sendrecv(), "sdp-answer-invalid")
    assert finding.severity == "error" and finding.evidence["cases"] == ["c"]
    assert "'sendrecv' in answer to a 'sendonly' offer" in finding.explanation
    two = sdp() + "m=video 4002 RTP/AVP 34\r\n"
    [finding] = found(call(two, sdp("10.0.0.2")).session(), "sdp-answer-invalid")
    assert finding.evidence["cases"] == ["a"] and "1 media line in answer to 2" in finding.title
    # answered, no RTP in this capture: the text says what it can and cannot show
    assert ("Here the call was answered (200 OK); this capture holds no RTP, so it cannot show "
            "which codec was used or whether audio flowed.") in finding.explanation


def test_invalid_answer_that_the_call_survived_says_so():
    """Issue 14 pattern 1: the consequence is chosen from the capture (audio flowed both ways)."""
    f = call(sdp(direction="sendonly"), sdp("10.0.0.2", direction="sendrecv"), bye_at=8.0)
    rtp_flow(f, "10.0.0.1:4000", "10.0.0.2:4000", 1.0, 5.0, ssrc=1, pt=0)
    rtp_flow(f, "10.0.0.2:4000", "10.0.0.1:4000", 1.0, 5.0, ssrc=2, pt=0)
    [finding] = found(f.session(media=MediaCollector()), "sdp-answer-invalid")
    assert ("Here the call was answered (200 OK) and audio flowed both ways as PCMU/8000 (250 "
            "packets to the callee, 250 to the caller): the offerer coped with it")  \
        in finding.explanation


# -- 8.3 sdp-dtmf-not-negotiated -----------------------------------------------------------------

def dtmf_dropped():
    return pcma_answered_pcmu()


def dtmf_agreed():
    return pcma_answered_pcma()


def test_dtmf_dropped_and_event_packets_on_unagreed_payload_type():
    f = call(sdp("10.0.0.1", 6100, "8 101"), sdp("10.0.0.2", 6000, "8"))
    rtp_flow(f, "10.0.0.1:6100", "10.0.0.2:6000", 1.0, 2.0, ssrc=1)
    rtp_flow(f, "10.0.0.1:6100", "10.0.0.2:6000", 3.0, 0.2, ssrc=2, pt=101, event=True)
    [finding] = found(f.session(media=MediaCollector()), "sdp-dtmf-not-negotiated")
    assert finding.severity == "warning" and finding.evidence["cases"] == ["a", "d"]
    assert "dropped 'telephone-event'" in finding.explanation
    assert "payload type 101, which was never agreed" in finding.explanation


def test_no_dtmf_with_g729_is_a_warning_but_info_with_g711():
    [g729] = found(call(sdp(codecs="18"), sdp("10.0.0.2", codecs="18")).session(),
                   "sdp-dtmf-not-negotiated")
    assert g729.severity == "warning" and "G729/8000" in g729.explanation
    [g711] = found(call(sdp(codecs="0"), sdp("10.0.0.2", codecs="0")).session(),
                   "sdp-dtmf-not-negotiated")
    assert g711.severity == "info"
    # catalog 8.3 (b) at info: nobody offered or needed DTMF, so no failure is claimed
    assert g711.title == ("DTMF: neither side offered telephone-event (no DTMF need in this "
                          "capture)")
    assert "cannot be sent" not in g711.explanation and "Customers report" not in \
        g711.explanation
    assert "nothing here failed" in g711.explanation and "PCMU/8000" in g711.explanation


def test_event_rate_judged_against_the_codec_that_flows():
    """Opus listed first, PCMU flowing: telephone-event/8000 suits the codec in use (issue 14
    pattern 4: name the codec that flows, not another one from the SDP)."""
    offer, answer = sdp(codecs="96 0 101"), sdp("10.0.0.2", codecs="96 0 101")
    [opus] = found(call(offer, answer).session(), "sdp-dtmf-not-negotiated")
    assert opus.evidence["cases"] == ["c"] and "opus/48000 runs at 48000 Hz" in opus.explanation
    f = call(offer, answer, bye_at=8.0)
    rtp_flow(f, "10.0.0.1:4000", "10.0.0.2:4000", 1.0, 5.0, ssrc=1, pt=0)
    rtp_flow(f, "10.0.0.2:4000", "10.0.0.1:4000", 1.0, 5.0, ssrc=2, pt=0)
    assert not found(f.session(media=MediaCollector()), "sdp-dtmf-not-negotiated")


def test_no_dtmf_names_the_codec_that_flows():
    """PCMU agreed first, then Opus after a re-INVITE: the text names both codecs that flow."""
    f = call(sdp(codecs="0"), sdp("10.0.0.2", codecs="0"), bye_at=9.0)
    rtp_flow(f, "10.0.0.1:4000", "10.0.0.2:4000", 1.0, 2.0, ssrc=1, pt=0)
    reinvite(f, 4.0, sdp(codecs="96", version=2), sdp("10.0.0.2", codecs="96", version=2), 2)
    rtp_flow(f, "10.0.0.1:4000", "10.0.0.2:4000", 4.5, 4.0, ssrc=3, pt=96)
    [finding] = found(f.session(media=MediaCollector()), "sdp-dtmf-not-negotiated")
    assert "in-band tones are unreliable with opus/48000" in finding.explanation


# -- 8.4 sdp-hold --------------------------------------------------------------------------------

def hold_and_resume():
    f = call(sdp(), sdp("10.0.0.2"))
    reinvite(f, 10, sdp(direction="sendonly", version=2), sdp("10.0.0.2", direction="recvonly",
                                                                version=2), 2)
    reinvite(f, 20, sdp(version=3), sdp("10.0.0.2", version=3), 3)
    return f.session()


def initial_zero_address():
    return call(sdp("0.0.0.0"), sdp("10.0.0.2")).session()


def test_hold_and_resume_is_one_info_finding():
    [finding] = found(hold_and_resume(), "sdp-hold")
    assert finding.severity == "info" and finding.evidence["resumed"]
    assert "put the call on hold" in finding.explanation and "resumed at" in finding.explanation
    assert len(finding.messages) == 4


def test_legacy_hold_address():
    f = call(sdp(), sdp("10.0.0.2"))
    reinvite(f, 10, sdp("0.0.0.0", version=2), sdp("10.0.0.2", version=2), 2)
    [finding] = found(f.session(), "sdp-hold")
    assert finding.evidence["legacy"] and "0.0.0.0" in finding.explanation


# -- 8.5 sdp-183-without-sdp ---------------------------------------------------------------------

def progress_without_sdp():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp()))
    f.add(0.05, B, A, response(inv, 100, "Trying"))
    f.add(0.2, B, A, response(inv, 183, "Session Progress", to_tag="X"))
    f.add(12.2, B, A, response(inv, 200, "OK", to_tag="X", contact=CALLEE, body=sdp("10.0.0.2")))
    f.add(12.21, A, B, request("ACK", CALLEE, to_tag="X", branch="z9hG4bK-ack"))
    return f.session()


def early_media():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp("10.0.0.1", 4000)))
    f.add(0.2, B, A, response(inv, 183, "Session Progress", to_tag="X",
                              body=sdp("10.0.0.2", 5000)))
    rtp_flow(f, "10.0.0.2:5000", "10.0.0.1:4000", 0.4, 8.0, ssrc=7)
    f.add(8.0, B, A, response(inv, 200, "OK", to_tag="X", contact=CALLEE,
                              body=sdp("10.0.0.2", 5000)))
    f.add(8.01, A, B, request("ACK", CALLEE, to_tag="X", branch="z9hG4bK-ack"))
    return f.session(media=MediaCollector())


def test_bare_183_names_the_wait():
    [finding] = found(progress_without_sdp(), "sdp-183-without-sdp")
    assert finding.severity == "warning" and "came 12.0 s later" in finding.explanation


def early_media_announced_but_not_sent():
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp("10.0.0.1", 4000)))
    f.add(0.2, B, A, response(inv, 183, "Session Progress", to_tag="X",
                              body=sdp("10.0.0.2", 5000)))
    f.add(8.0, B, A, response(inv, 200, "OK", to_tag="X", contact=CALLEE,
                              body=sdp("10.0.0.2", 5000)))
    f.add(8.01, A, B, request("ACK", CALLEE, to_tag="X", branch="z9hG4bK-ack"))
    rtp_flow(f, "10.0.0.2:5000", "10.0.0.1:4000", 8.1, 4.0, ssrc=7)
    rtp_flow(f, "10.0.0.1:4000", "10.0.0.2:5000", 8.1, 4.0, ssrc=8)
    return f.session(media=MediaCollector())


def test_early_media_announced_but_not_sent():
    session = early_media_announced_but_not_sent()
    [finding] = found(session, "sdp-183-no-early-media")
    assert finding.evidence == {"case": "c"} and finding.severity == "warning"
    assert found(session, "sdp-183-without-sdp") == []          # it had SDP


# -- 8.6 sdp-version-stale -----------------------------------------------------------------------

def with_connection(body: str, address: str) -> str:
    """The same SDP (same o= line) with another c= address."""
    lines = [f"c=IN IP4 {address}" if line.startswith("c=") else line
             for line in body.split("\r\n")]
    return "\r\n".join(lines)


def stale_version():
    first = sdp("10.0.0.1", user="alice", version=8000)
    f = call(first, sdp("10.0.0.2"))
    reinvite(f, 10, with_connection(first, "10.0.0.9"), sdp("10.0.0.2", version=2), 2)
    return f.session()


def incremented_version():
    first = sdp("10.0.0.1", user="alice", version=8000)
    f = call(first, sdp("10.0.0.2"))
    second = with_connection(sdp("10.0.0.1", user="alice", version=8001), "10.0.0.9")
    reinvite(f, 10, second, sdp("10.0.0.2", version=2), 2)
    return f.session()


def test_stale_version_shows_both_bodies():
    [finding] = found(stale_version(), "sdp-version-stale")
    assert finding.severity == "warning" and finding.evidence["case"] == "a"
    assert finding.messages == [0, 3] and "kept o= version 8000" in finding.explanation
    assert "This capture holds no RTP, so it cannot show whether the other side followed" \
        in finding.explanation


def stale_version_with_media(followed: bool):
    """The stale re-INVITE moves the caller's audio to 10.0.0.9:4000; the callee's RTP either
    follows it or keeps going to the old 10.0.0.1:4000."""
    first = sdp("10.0.0.1", user="alice", version=8000)
    f = call(first, sdp("10.0.0.2"), bye_at=20.0)
    reinvite(f, 10, with_connection(first, "10.0.0.9"), sdp("10.0.0.2", version=2), 2)
    rtp_flow(f, "10.0.0.2:4000", "10.0.0.1:4000", 1.0, 9.0 if followed else 18.0, ssrc=1)
    if followed:
        rtp_flow(f, "10.0.0.2:4000", "10.0.0.9:4000", 10.2, 8.0, ssrc=2, seq0=450)
    return f.session(media=MediaCollector())


def test_oddities_name_only_their_own_clauses():
    """Issue 14 pattern 1: an answer that only adds a format says nothing about renumbering;
    a version jump is not called 'allowed' (RFC 3264 §8 asks for +1)."""
    [extra] = found(call(sdp(codecs="0"), sdp("10.0.0.2", codecs="0 8")).session(),
                    "sdp-answer-invalid")
    assert extra.evidence["cases"] == ["f"] and "renumbered" not in extra.explanation
    first = sdp("10.0.0.1", user="alice", version=1)
    f = call(first, sdp("10.0.0.2"))
    reinvite(f, 10, sdp("10.0.0.1", user="alice", version=5, direction="sendrecv"),
             sdp("10.0.0.2", version=2), 2)
    [jump] = found(f.session(), "sdp-version-stale")
    assert jump.evidence["case"] == "c" and "allowed" not in jump.explanation
    assert "RFC 3264 §8 asks for an increase of exactly one" in jump.explanation


def test_stale_version_consequence_comes_from_the_capture():
    """Issue 14 pattern 1: what the capture shows after the stale SDP, not the template."""
    [kept] = found(stale_version_with_media(followed=False), "sdp-version-stale")
    assert ("Here audio kept going to the old address after the change (10.0.0.2:4000 -> "
            "10.0.0.1:4000, 900 packets in that stream)") in kept.explanation
    [followed] = found(stale_version_with_media(followed=True), "sdp-version-stale")
    assert ("Here the other side did follow: 10.0.0.2:4000 -> 10.0.0.9:4000 carried 400 "
            "packets to the new address.") in followed.explanation


CASES = [
    ("sdp-no-common-codec", pcma_answered_pcmu, True),
    ("sdp-no-common-codec", pcma_answered_pcma, False),
    ("sdp-answer-invalid", sendonly_answered_sendrecv, True),
    ("sdp-answer-invalid", sendonly_answered_recvonly, False),
    ("sdp-dtmf-not-negotiated", dtmf_dropped, True),
    ("sdp-dtmf-not-negotiated", dtmf_agreed, False),
    ("sdp-hold", hold_and_resume, True),
    ("sdp-hold", initial_zero_address, False),
    ("sdp-183-without-sdp", progress_without_sdp, True),
    ("sdp-183-without-sdp", early_media, False),
    ("sdp-183-no-early-media", early_media_announced_but_not_sent, True),
    ("sdp-183-no-early-media", early_media, False),
    ("sdp-version-stale", stale_version, True),
    ("sdp-version-stale", incremented_version, False),
    ("sdp-no-common-codec", broken_answer_but_audio_flowed, True),
    ("sdp-t38-media-to-wrong-port", lambda: t38_to_old_audio_port(), True),
    ("sdp-t38-media-to-wrong-port", lambda: t38_to_answered_port(), False),
    ("sdp-t38-mismatch", lambda: t38_rate_changed(), True),
    ("sdp-t38-mismatch", lambda: t38_to_answered_port(), False),
]


# -- sdp-t38-media-to-wrong-port (docs/fault-reference.md) ---------------------------------------

def udptl(seq: int) -> bytes:
    """A UDPTL packet (ITU-T T.38 Annex A): sequence number, a 3-byte primary IFP packet,
    no secondary packets."""
    return bytes([seq >> 8, seq & 0xFF, 3, 0x06, 0x40, 0x00, 0x00, 0x00])


def t38_switch(fax_port: int, answer_rate: str = "transferredTCF"):
    """Audio call, then B re-INVITEs to T.38 (m=image 6002), A answers m=image 4002; B then
    sends 40 UDPTL packets to A:`fax_port`."""
    f = call(sdp("10.0.0.1", 4000, "0"), sdp("10.0.0.2", 6000, "0"))
    image = ("v=0\r\no=- 1 {v} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
             "m=image {port} udptl t38\r\na=T38FaxRateManagement:{rate}\r\n")
    re = f.add(3.0, B, A, request("INVITE", "sip:alice@10.0.0.1", from_tag="X", to_tag="ftag",
                                  cseq=7, branch="z9hG4bK-t38", via=B,
                                  body=image.format(v=2, ip="10.0.0.2", port=6002,
                                                    rate="transferredTCF")))
    f.add(3.1, A, B, response(re, 200, "OK", contact="sip:alice@10.0.0.1",
                              body=image.format(v=2, ip="10.0.0.1", port=4002,
                                                rate=answer_rate)))
    f.add(3.11, B, A, request("ACK", "sip:alice@10.0.0.1", from_tag="X", to_tag="ftag", cseq=7,
                              branch="z9hG4bK-t38ack", via=B))
    for i in range(40):
        f.add(3.5 + i * 0.2, "10.0.0.2:6002", f"10.0.0.1:{fax_port}", udptl(i))
    f.add(15.0, A, B, request("BYE", CALLEE, to_tag="X", cseq=9, branch="z9hG4bK-bye"))
    return f.session(media=MediaCollector())


def t38_to_old_audio_port():
    return t38_switch(4000)


def t38_to_answered_port():
    return t38_switch(4002)


def t38_rate_changed():
    return t38_switch(4002, answer_rate="localTCF")


def test_t38_answer_changing_rate_management():
    [finding] = found(t38_rate_changed(), "sdp-t38-mismatch")
    assert finding.severity == "warning"
    assert finding.title == ("T.38 answer changes T38FaxRateManagement: transferredTCF offered, "
                             "localTCF answered")
    assert finding.evidence["offered"] == "transferredTCF"


def test_t38_sent_to_the_old_audio_port():
    [finding] = found(t38_to_old_audio_port(), "sdp-t38-media-to-wrong-port")
    assert finding.severity == "error"
    assert finding.title == "T.38 fax sent to 10.0.0.1:4000 instead of the answered 10.0.0.1:4002"
    assert "10.0.0.1:4000 (its audio port before the switch)" in finding.explanation
    assert finding.evidence["packets"] == 40 and finding.evidence["answerer_packets"] == 0
    assert "sent no fax packet at all" in finding.explanation


def test_vega_t38_failure(shared_traces):
    """REVIEWED.md file 3: UDPTL to the old audio port 10338, not to the answer's 10340."""
    name = "real/udp-vega-gateway-t38-reinvite-register-options.pcap"
    session = load_files([str(shared_traces / name)])
    [finding] = found(session, "sdp-t38-media-to-wrong-port")
    assert finding.severity == "error" and finding.role == "headline"
    assert {k: finding.evidence[k] for k in ("answer_address", "sent_to", "packets",
                                             "answerer_packets", "cleared_after_s")} == {
        "answer_address": "192.168.3.15:10340", "sent_to": ["192.168.3.15:10338"],
        "packets": 292, "answerer_packets": 0, "cleared_after_s": 27.635}
    assert "cleared 27.6 s after the switch" in finding.explanation


# -- the SIPp loopback fixture (catalog §14.2) -------------------------------------------------

def test_sipp_loopback_expected_findings(shared_traces):
    session = load_files([str(shared_traces / "sipp-loopback-200calls.pcap")])
    codec = found(session, "sdp-no-common-codec")
    assert len(codec) == 200 and {f.severity for f in codec} == {"error"}
    assert len({f.call_id for f in codec}) == 200
    assert codec[0].evidence["offered"] == ["PCMA/8000", "telephone-event/8000"]
    assert codec[0].evidence["answered"] == ["PCMU/8000"]
    # issue 14 pattern 1: the calls connected and PCMA flowed both ways (25 packets each way in
    # the stream table below), so no "refused ... fast busy"
    assert {f.evidence["codecs_flowing"][0] for f in codec} == {"PCMA/8000"}
    assert "audio flowed both ways as PCMA/8000 (25 packets to the callee, 25 to the caller)" \
        in codec[0].explanation and "fast busy" not in codec[0].explanation
    dtmf = found(session, "sdp-dtmf-not-negotiated")
    assert len(dtmf) == 200 and {f.severity for f in dtmf} == {"warning"}
    assert {tuple(f.evidence["cases"]) for f in dtmf} == {("a", "d")}
    assert "10 key-press (RFC 4733 event) packets" in dtmf[0].explanation
    for rule_id in ("rtp-one-way", "rtp-no-media", "rtp-stopped", "sdp-answer-invalid",
                    "syn-content-length-mismatch", "tmr-2xx-no-ack"):
        assert not found(session, rule_id), rule_id
    index = media_index(session)
    assert all(len(session.media.streams_for_call(session, c)) == 4 for c in session.calls)
    first = session.calls[0]
    streams = index.streams_for_call(first)
    assert [(s.src, s.dst, s.packets) for s in streams] == [
        ("127.0.0.1:6100", "127.0.0.1:6000", 25), ("127.0.0.1:6000", "127.0.0.1:6100", 25),
        ("127.0.0.1:6100", "127.0.0.1:6000", 10), ("127.0.0.1:6000", "127.0.0.1:6100", 10)]
    assert [index.toward(s) for s in streams] == ["callee", "caller", "callee", "caller"]


def test_a_bare_offered_payload_type_in_the_answer_is_named_not_an_addition():
    """Tier-2 review (null-loopback H.263 capture): the answer lists 101 without a=rtpmap, the
    offer's 101 is telephone-event. Not 'adds formats the offer did not list', and DTMF was not
    dropped."""
    f = Flow()
    inv = f.add(0, A, B, request("INVITE", CALLEE, body=sdp("10.0.0.1", 4000, codecs="8 101")))
    bare = sdp("10.0.0.2", 5000, codecs="8 101").replace("a=rtpmap:101 telephone-event/8000\r\n",
                                                          "")
    f.add(0.5, B, A, response(inv, 200, "OK", to_tag="X", contact=CALLEE, body=bare))
    f.add(0.51, A, B, request("ACK", CALLEE, to_tag="X", branch="z9hG4bK-ack"))
    session = f.session()
    [finding] = found(session, "sdp-answer-invalid")
    assert finding.evidence["cases"] == ["g"] and finding.severity == "info"
    assert "did not list" not in finding.explanation
    assert "the offer's 101 is telephone-event/8000" in finding.explanation
    assert found(session, "sdp-dtmf-not-negotiated") == []
