"""G.711 RTP streams (RFC 3550 §5.1, RFC 3551 §4.5.14): 20 ms, 160-byte payload, lazy generators."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from random import Random

from .frames import TOS_RTP, ip_bytes, udp_frame

PTIME_US = 20_000
SAMPLES_PER_PACKET = 160
_RTP = struct.Struct("!BBHII")
# a small fixed pool of "voice" payloads (deterministic, not silence so compressors don't cheat)
_rng = Random(20240312)
_PAYLOADS = [bytes(_rng.getrandbits(8) for _ in range(SAMPLES_PER_PACKET)) for _ in range(16)]


def rtp_stream(src: str, sport: int, dst: str, dport: int, start_us: int, count: int, pt: int,
               rng: Random) -> Iterator[tuple[int, bytes]]:
    """count packets from start_us every 20 ms, with sub-millisecond jitter that keeps order."""
    src_b, dst_b = ip_bytes(src), ip_bytes(dst)
    ssrc, seq0, ts0 = rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(32)
    ip_id, salt = rng.getrandbits(16), rng.getrandbits(10)
    payloads, pack, frame = _PAYLOADS, _RTP.pack, udp_frame
    for i in range(count):
        marker = 0x80 if i == 0 else 0   # RFC 3551 §4.1: marker on the first packet of a talkspurt
        head = pack(0x80, marker | pt, (seq0 + i) & 0xFFFF, (ts0 + SAMPLES_PER_PACKET * i) & 0xFFFFFFFF,
                    ssrc)
        jitter = (i * 7919 + salt) % 700
        yield (start_us + i * PTIME_US + jitter,
               frame(src_b, dst_b, sport, dport, head + payloads[(i + salt) & 15], ip_id + i, TOS_RTP))
