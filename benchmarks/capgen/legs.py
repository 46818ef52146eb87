"""A leg is one hop of a call (two addresses, UDP or TCP); it turns timed SIP messages into frames."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from random import Random

from .frames import TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, ip_bytes, tcp_frame, udp_frame

# TCP realism knobs (per message / per eligible pair of a TCP leg)
P_SPLIT = 0.25          # a message over 300 bytes goes out in two segments
P_COALESCE = 0.7        # two same-direction messages <= 10 ms apart share one segment
COALESCE_GAP_US = 10_000
DELAYED_ACK_US = 40_000  # Linux-like delayed ACK
HANDSHAKE_US = 1_500     # time a TCP leg needs before its first message
_MSS_OPTION = b"\x02\x04\x05\xb4"   # MSS 1460 (RFC 793 §3.1, option kind 2)


@dataclass(slots=True)
class Stats:
    """Expected counts, accumulated while frames are built; written as the manifest."""

    packets: int = 0
    sip_messages: int = 0
    sip_requests: Counter = field(default_factory=Counter)
    sip_responses: Counter = field(default_factory=Counter)
    sip_udp_messages: int = 0
    sip_tcp_messages: int = 0
    tcp_connections: int = 0
    tcp_data_segments: int = 0
    tcp_control_packets: int = 0
    tcp_split_messages: int = 0
    tcp_coalesced_segments: int = 0
    rtp_packets: int = 0
    rtp_streams: int = 0
    outcomes: Counter = field(default_factory=Counter)
    call_ids: int = 0
    calls: int = 0
    calls_tcp: int = 0
    registrations: int = 0
    options: int = 0


class Leg:
    """Messages between endpoint a (dir 0 sends a->b) and endpoint b; a opens TCP connections."""

    __slots__ = ("a_ip", "a_port", "b_ip", "b_port", "tcp", "msgs", "stats")

    def __init__(self, a_ip: str, a_port: int, b_ip: str, b_port: int, tcp: bool, stats: Stats):
        self.a_ip, self.a_port = ip_bytes(a_ip), a_port
        self.b_ip, self.b_port = ip_bytes(b_ip), b_port
        self.tcp = tcp
        self.msgs: list[tuple[int, int, bytes]] = []
        self.stats = stats

    def send(self, t: int, direction: int, payload: bytes, label: str | int) -> None:
        """Queue one SIP message; label is the method or the status code, for the manifest."""
        self.msgs.append((t, direction, payload))
        st = self.stats
        st.sip_messages += 1
        if isinstance(label, int):
            st.sip_responses[label] += 1
        else:
            st.sip_requests[label] += 1
        if self.tcp:
            st.sip_tcp_messages += 1
        else:
            st.sip_udp_messages += 1

    def frames(self, rng: Random) -> list[tuple[int, bytes]]:
        if not self.msgs:
            return []
        self.msgs.sort(key=lambda m: m[0])
        return self._tcp_frames(rng) if self.tcp else self._udp_frames(rng)

    def _udp_frames(self, rng: Random) -> list[tuple[int, bytes]]:
        ends = ((self.a_ip, self.a_port), (self.b_ip, self.b_port))
        ip_id = [rng.getrandbits(16), rng.getrandbits(16)]
        out = []
        for t, d, payload in self.msgs:
            (src, sport), (dst, dport) = ends[d], ends[1 - d]
            out.append((t, udp_frame(src, dst, sport, dport, payload, ip_id[d])))
            ip_id[d] += 1
        self.stats.packets += len(out)
        return out

    def _segments(self, rng: Random) -> list[tuple[int, int, bytes]]:
        """Plan TCP segments: some messages split in two, some same-direction pairs coalesced."""
        msgs, st, plan = self.msgs, self.stats, []
        i, n = 0, len(self.msgs)
        while i < n:
            t, d, payload = msgs[i]
            nxt_t = msgs[i + 1][0] if i + 1 < n else t + 1_000_000
            if (i + 1 < n and msgs[i + 1][1] == d and nxt_t - t <= COALESCE_GAP_US
                    and rng.random() < P_COALESCE):
                plan.append((nxt_t, d, payload + msgs[i + 1][2]))
                st.tcp_coalesced_segments += 1
                i += 2
                continue
            if len(payload) > 300 and nxt_t - t > 200 and rng.random() < P_SPLIT:
                cut = rng.randint(40, len(payload) - 40)
                plan.append((t, d, payload[:cut]))
                plan.append((t + rng.randint(50, min(900, (nxt_t - t) // 2)), d, payload[cut:]))
                st.tcp_split_messages += 1
            else:
                plan.append((t, d, payload))
            i += 1
        return plan

    def _tcp_frames(self, rng: Random) -> list[tuple[int, bytes]]:
        """RFC 793: handshake, data with correct seq/ack, delayed pure ACKs, FIN exchange."""
        st = self.stats
        ends = ((self.a_ip, self.a_port), (self.b_ip, self.b_port))
        nxt = [rng.getrandbits(32), rng.getrandbits(32)]
        ip_id = [rng.getrandbits(16), rng.getrandbits(16)]
        out: list[tuple[int, bytes]] = []

        def emit(t: int, d: int, flags: int, payload: bytes = b"", opts: bytes = b"") -> None:
            (src, sport), (dst, dport) = ends[d], ends[1 - d]
            ack = nxt[1 - d] if flags & TCP_ACK else 0
            win = 64240 if flags & TCP_SYN else 502
            out.append((t, tcp_frame(src, dst, sport, dport, nxt[d], ack, flags, payload,
                                     ip_id[d], win, opts)))
            ip_id[d] += 1

        plan = self._segments(rng)
        t0 = plan[0][0]
        emit(t0 - 1200, 0, TCP_SYN, opts=_MSS_OPTION)
        nxt[0] += 1
        emit(t0 - 800, 1, TCP_SYN | TCP_ACK, opts=_MSS_OPTION)
        nxt[1] += 1
        emit(t0 - 400, 0, TCP_ACK)
        for k, (t, d, payload) in enumerate(plan):
            emit(t, d, TCP_PSH | TCP_ACK, payload)
            nxt[d] += len(payload)
            gap = plan[k + 1][0] - t if k + 1 < len(plan) else 10 * DELAYED_ACK_US
            if gap > DELAYED_ACK_US:
                emit(t + rng.randint(200, DELAYED_ACK_US), 1 - d, TCP_ACK)
        t_end = plan[-1][0] + DELAYED_ACK_US + rng.randint(200_000, 2_000_000)
        emit(t_end, 0, TCP_FIN | TCP_ACK)
        nxt[0] += 1
        emit(t_end + 700, 1, TCP_FIN | TCP_ACK)
        nxt[1] += 1
        emit(t_end + 1400, 0, TCP_ACK)
        st.tcp_connections += 1
        st.tcp_data_segments += len(plan)
        st.tcp_control_packets += len(out) - len(plan)
        st.packets += len(out)
        out.sort(key=lambda f: f[0])
        return out
