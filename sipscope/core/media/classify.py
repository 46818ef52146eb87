"""Classify a UDP payload as STUN, DTLS, RTP or RTCP by its first byte (RFC 7983 §7, D10),
or as T.38 UDPTL by its structure (ITU-T T.38 Annex A)."""

from __future__ import annotations

STUN_MAGIC_COOKIE = b"\x21\x12\xa4\x42"     # RFC 5389 §6
ZRTP_MAGIC_COOKIE = b"ZRTP"                 # RFC 6189 §5 (0x5a525450)

STUN, ZRTP, DTLS, RTP, RTCP, UDPTL = "stun", "zrtp", "dtls", "rtp", "rtcp", "udptl"


def classify(payload: bytes) -> str | None:
    """'stun', 'zrtp', 'dtls', 'rtp', 'rtcp' or None for a UDP payload (RFC 7983 §7).

    First byte 0-3: STUN, confirmed by the magic cookie at offset 4 (RFC 5389 §6);
    16-19: ZRTP, confirmed by its cookie at offset 4 (RFC 6189 §5);
    20-63: DTLS, confirmed by a DTLS record header (so DTLS 1.3 encrypted records with the
    unified header, 32-63, are not recognised);
    128-191: RTP/RTCP version 2, RTCP when the second byte (M bit + payload type) is 192-223
    (RFC 5761 §4: SR/RR/SDES/BYE/APP 200-204, RTPFB/PSFB 205-206, XR 207, older 192-195).
    Anything else (including a first byte 64-79, a TURN channel) gives None, unless the whole
    payload parses as a UDPTL packet (fax, `is_udptl`).
    """
    if len(payload) < 2:
        return None
    first = payload[0]
    if 128 <= first <= 191:
        if 192 <= payload[1] <= 223:
            return RTCP if len(payload) >= 8 else None        # RFC 3550 §6.4: 8-byte header
        return RTP if len(payload) >= 12 else None            # RFC 3550 §5.1: 12-byte header
    if first <= 3 and len(payload) >= 20 and payload[4:8] == STUN_MAGIC_COOKIE:
        return STUN
    if 20 <= first <= 63:
        # RFC 6347 §4.1 / RFC 9147 §4: content type 20-25, then version 0xFEFF or 0xFEFD.
        # The version check keeps DNS, SNMP, MGCP ... (same first-byte range) out: unlike a
        # demultiplexer on a negotiated media port, we classify every UDP payload of a capture.
        if first <= 25 and len(payload) >= 13 and payload[1] == 0xFE and payload[2] in (0xFF, 0xFD):
            return DTLS
    if 16 <= first <= 19 and len(payload) >= 12 and payload[4:8] == ZRTP_MAGIC_COOKIE:
        return ZRTP
    return UDPTL if is_udptl(payload) else None


def _length(payload: bytes, i: int) -> tuple[int, int] | None:
    """X.691 aligned-PER length determinant at i: (length, offset after it), None if unusable."""
    if i >= len(payload):
        return None
    b = payload[i]
    if b < 0x80:
        return b, i + 1
    if b < 0xC0 and i + 1 < len(payload):
        return (b & 0x3F) << 8 | payload[i + 1], i + 2
    return None                      # fragmented lengths: not in UDPTL packets of sane size


def _open_types(payload: bytes, i: int, count: int) -> int | None:
    """Skip `count` length-prefixed fields from i; the offset after them, None if cut short."""
    for _ in range(count):
        found = _length(payload, i)
        if found is None or found[0] == 0:
            return None
        i = found[1] + found[0]
        if i > len(payload):
            return None
    return i


def is_udptl(payload: bytes) -> bool:
    """The payload is exactly one UDPTL packet (ITU-T T.38 Annex A, aligned PER): a 16-bit
    sequence number, the primary IFP packet as an open type, then the error-recovery choice:
    0x00 + a count of secondary IFP packets, or 0x80 + fec-npackets + a count of FEC blocks.
    Every length must end exactly at the end of the payload, which random data rarely does."""
    if len(payload) < 6:
        return False
    i = _open_types(payload, 2, 1)
    if i is None or i >= len(payload):
        return False
    choice = payload[i]
    if choice == 0x00:
        found = _length(payload, i + 1)
        end = _open_types(payload, found[1], found[0]) if found else None
    elif choice == 0x80:
        npackets = _open_types(payload, i + 1, 1)
        found = _length(payload, npackets) if npackets is not None else None
        end = _open_types(payload, found[1], found[0]) if found else None
    else:
        return False
    return end == len(payload)
