"""Tests for RFC 7983 payload classification (sipscope.core.media.classify)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from sipscope.core.media.classify import classify

from .pcap_udp import udp_payloads

STUN_BINDING = bytes.fromhex("0001 0000 2112a442 b7e7a701bc34d686fa87dfae".replace(" ", ""))
DTLS_HELLO = bytes.fromhex("16feff0000000000000000003b010000") + bytes(40)
RTP_PCMA = bytes.fromhex("8008dc2fe1b8f8f0d2bd4e3e") + bytes(160)
RTCP_SR = bytes.fromhex("80c80006d2bd4e3e") + bytes(20)
ZRTP_HELLO = bytes.fromhex("10000001") + b"ZRTP" + bytes(8)


def test_known_payloads():
    assert classify(STUN_BINDING) == "stun"
    assert classify(DTLS_HELLO) == "dtls"
    assert classify(RTP_PCMA) == "rtp"
    assert classify(RTCP_SR) == "rtcp"
    assert classify(bytes([0x81, 0xC9]) + bytes(30)) == "rtcp"        # RR
    assert classify(bytes([0x80, 0xE0]) + bytes(30)) == "rtp"         # M bit + PT 96: 0xE0 = 224
    assert classify(bytes([0x80, 0xDF]) + bytes(30)) == "rtcp"        # 223: top of RFC 5761 range
    assert classify(ZRTP_HELLO) == "zrtp"


def test_near_misses():
    assert classify(STUN_BINDING[:4] + b"\x00\x00\x00\x00" + STUN_BINDING[8:]) is None  # no cookie
    assert classify(bytes([0x40]) + RTP_PCMA[1:]) is None               # RTP version 1
    assert classify(bytes([0xC0]) + RTP_PCMA[1:]) is None               # version 3
    assert classify(RTP_PCMA[:11]) is None                              # shorter than a header
    assert classify(b"\x00") is None and classify(b"") is None
    assert classify(bytes.fromhex("1f3c0100000100000000000003777777")) is None   # DNS query id 0x1f3c
    assert classify(b"REGISTER sip:x SIP/2.0\r\n") is None


def test_classes_in_zfone_trace(shared_traces):
    """X-Lite/Zfone call: 997 RTP (MANIFEST), 10 ZRTP (tshark -Y zrtp), 7 RTCP/SRTCP."""
    counts = Counter(classify(p) for _, _, _, p in
                     udp_payloads(shared_traces / "udp-asterisk-zfone-register-subscribe-404-call.pcap"))
    assert counts["rtp"] == 997 and counts["zrtp"] == 10 and counts["rtcp"] == 7
    assert counts["stun"] == 0 and counts["dtls"] == 0


@given(st.binary(max_size=64))
def test_any_bytes(payload):
    assert classify(payload) in (None, "stun", "zrtp", "dtls", "rtp", "rtcp")


# -- T.38 UDPTL (ITU-T T.38 Annex A), recognised by its whole structure ---------------------------

UDPTL_PRIMARY = bytes([0x00, 0x05, 0x03, 0x06, 0x40, 0x00, 0x00, 0x00])   # seq 5, 3-byte IFP, no
UDPTL_REDUNDANT = bytes([0x01, 0x00, 0x02, 0xC0, 0x01, 0x00, 0x01, 0x02, 0xC0, 0x00])  # secondary


def test_udptl_is_recognised_by_its_structure():
    assert classify(UDPTL_PRIMARY) == "udptl"
    assert classify(UDPTL_REDUNDANT) == "udptl"          # one secondary IFP packet


def test_udptl_lookalikes_are_not():
    assert classify(UDPTL_PRIMARY + b"\x00") is None      # a byte left over
    assert classify(UDPTL_PRIMARY[:-1]) is None           # cut short
    assert classify(b"\r\n\r\n") is None                  # a SIP keepalive
    assert classify(b"hello") is None                     # a vendor keepalive (REVIEWED.md §9)
    assert classify(bytes([0x00, 0x05, 0x03, 0x06, 0x40, 0x00, 0x7F, 0x00])) is None  # bad choice
