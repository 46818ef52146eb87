"""Classify a UDP payload as STUN, DTLS, RTP or RTCP by its first byte (RFC 7983 §7, D10)."""

from __future__ import annotations

STUN_MAGIC_COOKIE = b"\x21\x12\xa4\x42"     # RFC 5389 §6
ZRTP_MAGIC_COOKIE = b"ZRTP"                 # RFC 6189 §5 (0x5a525450)

STUN, ZRTP, DTLS, RTP, RTCP = "stun", "zrtp", "dtls", "rtp", "rtcp"


def classify(payload: bytes) -> str | None:
    """'stun', 'zrtp', 'dtls', 'rtp', 'rtcp' or None for a UDP payload (RFC 7983 §7).

    First byte 0-3: STUN, confirmed by the magic cookie at offset 4 (RFC 5389 §6);
    16-19: ZRTP, confirmed by its cookie at offset 4 (RFC 6189 §5);
    20-63: DTLS, confirmed by a DTLS record header (so DTLS 1.3 encrypted records with the
    unified header, 32-63, are not recognised);
    128-191: RTP/RTCP version 2, RTCP when the second byte (M bit + payload type) is 192-223
    (RFC 5761 §4: SR/RR/SDES/BYE/APP 200-204, RTPFB/PSFB 205-206, XR 207, older 192-195).
    Anything else (including a first byte 64-79, a TURN channel) gives None.
    """
    if len(payload) < 2:
        return None
    first = payload[0]
    if 128 <= first <= 191:
        if 192 <= payload[1] <= 223:
            return RTCP if len(payload) >= 8 else None        # RFC 3550 §6.4: 8-byte header
        return RTP if len(payload) >= 12 else None            # RFC 3550 §5.1: 12-byte header
    if first <= 3:
        return STUN if len(payload) >= 20 and payload[4:8] == STUN_MAGIC_COOKIE else None
    if 20 <= first <= 63:
        # RFC 6347 §4.1 / RFC 9147 §4: content type 20-25, then version 0xFEFF or 0xFEFD.
        # The version check keeps DNS, SNMP, MGCP ... (same first-byte range) out: unlike a
        # demultiplexer on a negotiated media port, we classify every UDP payload of a capture.
        if first <= 25 and len(payload) >= 13 and payload[1] == 0xFE and payload[2] in (0xFF, 0xFD):
            return DTLS
        return None
    if 16 <= first <= 19:
        return ZRTP if len(payload) >= 12 and payload[4:8] == ZRTP_MAGIC_COOKIE else None
    return None
