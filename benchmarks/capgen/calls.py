"""Call flows: answered, cancelled, busy, 404, 503+Reason, 408 with retransmissions, forked (RFC 3261)."""

from __future__ import annotations

from collections.abc import Iterator
from random import Random

from . import ids
from .hosts import PBX_IP, RECORD_ROUTE, Hosts
from .legs import HANDSHAKE_US, Leg, Stats
from .rtp import rtp_stream
from .sip import DOMAIN, Party, Txn, request, response, sdp

# share of calls per outcome (tuned so a 100k-call capture has ~1.1 M packets, ~1 M SIP messages)
OUTCOMES = (("answered", 0.72), ("cancelled", 0.07), ("busy", 0.05), ("not_found", 0.025),
            ("unavailable", 0.025), ("timeout", 0.02), ("forked", 0.09))
MEAN_TALK_S = 90.0
MEAN_RING_S = 6.0
INVITE_RETRANSMIT_S = (0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5)   # Timer A doubling from T1 (§17.1.1.2)
TIMER_B_US = 32_000_000                                       # 64*T1
Q850_503 = 'Q.850;cause=34;text="No circuit/channel available"'
Q850_404 = 'Q.850;cause=1;text="Unallocated (unassigned) number"'
Frames = Iterator[tuple[int, bytes]]


def _pick(rng: Random) -> str:
    x = rng.random()
    for name, share in OUTCOMES:
        x -= share
        if x < 0:
            return name
    return OUTCOMES[0][0]


def _media_port(rng: Random) -> int:
    return rng.randrange(10000, 40000, 2)


class CallFactory:
    """Builds every frame of one call when the call starts; RTP stays lazy."""

    def __init__(self, hosts: Hosts, stats: Stats, rtp_seconds: float, tcp_share: float) -> None:
        self.hosts, self.stats = hosts, stats
        self.rtp_packets = int(round(rtp_seconds * 50))
        self.rtp_seconds = rtp_seconds
        self.tcp_share = tcp_share

    # -- entry point -------------------------------------------------------------------------
    def build(self, index: int, t0: int, seed: int) -> list[Frames]:
        rng = Random(seed)
        outcome = _pick(rng)
        tcp = rng.random() < self.tcp_share
        c = _Call(self, rng, index, t0, tcp)
        getattr(c, outcome)()
        st = self.stats
        st.calls += 1
        st.call_ids += 1
        st.calls_tcp += tcp
        st.outcomes[outcome] += 1
        frames: list[tuple[int, bytes]] = []
        for leg in c.legs:
            frames.extend(leg.frames(rng))
        frames.sort(key=lambda f: f[0])
        return [iter(frames), *c.media]


class _Call:
    """One call being written: its parties, legs and timeline."""

    def __init__(self, f: CallFactory, rng: Random, index: int, t0: int, tcp: bool) -> None:
        self.f, self.rng, self.tcp = f, rng, tcp
        self.t = t0 + (HANDSHAKE_US if tcp else 0)
        self.legs: list[Leg] = []
        self.media: list[Frames] = []
        self.transport = "TCP" if tcp else "UDP"
        self.index = index

    # -- helpers ------------------------------------------------------------------------------
    def gap(self, lo_ms: float, hi_ms: float) -> int:
        self.t += self.rng.randint(int(lo_ms * 1000), int(hi_ms * 1000))
        return self.t

    def leg(self, a: Party, b: Party, tcp: bool) -> Leg:
        a_port = self.rng.randint(32768, 60999) if tcp else a.port
        leg = Leg(a.ip, a_port, b.ip, b.port, tcp, self.f.stats)
        self.legs.append(leg)
        return leg

    def call_id(self, host: Party) -> str:
        return ids.call_id(self.rng, ids.KIND_CALL, self.index,
                           None if host.ip == PBX_IP else host.ip)

    def endpoints(self) -> tuple[Party, Party, str]:
        """(uac, uas, request-uri) for a single-hop call seen at the PBX."""
        h, rng, tp = self.f.hosts, self.rng, self.transport
        phone = h.phone(rng.randrange(h.phones), tp)
        number = h.random_number(rng)
        kind = rng.random()
        if kind < 0.35:      # a phone dials out (or an extension) through the PBX
            dialed = number if rng.random() < 0.6 else str(2000 + rng.randrange(h.phones))
            return phone, h.pbx(dialed, tp), f"sip:{dialed}@{DOMAIN}"
        if kind < 0.60:      # the PBX rings a phone
            return h.pbx(number, tp), phone, phone.uri()
        trunk = h.trunk(rng.randrange(3), number, tp)
        if kind < 0.80:      # a carrier delivers a call to a DID
            did = h.pbx(f"+3319{rng.randint(1000000, 9999999)}", tp)
            return trunk, did, f"sip:{did.user}@{PBX_IP}"
        return h.pbx(str(2000 + rng.randrange(h.phones)), tp), trunk, f"sip:{number}@{trunk.ip}"

    def offer(self, p: Party) -> tuple[bytes, int]:
        port = _media_port(self.rng)
        return sdp(p.ip, port, self.rng.getrandbits(31), 1, (0, 8, 101), p.user), port

    def answer(self, p: Party, pt: int) -> tuple[bytes, int]:
        port = _media_port(self.rng)
        return sdp(p.ip, port, self.rng.getrandbits(31), 1, (pt, 101), p.user), port

    def talk_us(self) -> int:
        if self.f.rtp_packets:
            return int(self.f.rtp_seconds * 1_000_000) + self.rng.randint(60_000, 400_000)
        s = min(max(self.rng.expovariate(1.0 / MEAN_TALK_S), 3.0), 1800.0)
        return int(s * 1_000_000)

    def add_rtp(self, a: Party, a_port: int, b: Party, b_port: int, t_b: int, t_a: int,
                pt: int) -> None:
        """Both directions for the talk time (RFC 3550); b answered, so it starts first."""
        n = self.f.rtp_packets
        if not n:
            return
        self.media.append(rtp_stream(b.ip, b_port, a.ip, a_port, t_b, n, pt, self.rng))
        self.media.append(rtp_stream(a.ip, a_port, b.ip, b_port, t_a, n, pt, self.rng))
        st = self.f.stats
        st.rtp_packets += 2 * n
        st.rtp_streams += 2
        st.packets += 2 * n

    # -- single-hop outcomes -------------------------------------------------------------------
    def _invite(self) -> tuple[Party, Party, Leg, Txn, str, int]:
        uac, uas, ruri = self.endpoints()
        rng = self.rng
        leg = self.leg(uac, uas, self.tcp)
        to = f"<sip:{uas.user}@{DOMAIN}>"
        inv = Txn([uac.via(ids.branch(rng))], uac.name_addr(ids.tag(rng)), to,
                  self.call_id(uac), rng.randint(1, 30), "INVITE")
        body, a_port = self.offer(uac)
        extra = (("Supported", "replaces, timer"), ("Session-Expires", "1800"))
        leg.send(self.t, 0, request(inv, ruri, uac, extra=extra, body=body), "INVITE")
        leg.send(self.gap(0.3, 20), 1, response(inv, 100, "Trying", uas), 100)
        return uac, uas, leg, inv, ruri, a_port

    def _ack_failure(self, uac: Party, leg: Leg, inv: Txn, ruri: str, to_tag: str) -> None:
        """ACK for a non-2xx final response: same branch as the INVITE (RFC 3261 §17.1.1.3)."""
        ack = Txn(inv.vias, inv.from_, f"{inv.to};tag={to_tag}", inv.call_id, inv.cseq, "ACK")
        leg.send(self.gap(1, 40), 0, request(ack, ruri, uac, contact=False), "ACK")

    def _ringing(self, uas: Party, leg: Leg, inv: Txn, to_tag: str, immediate: bool) -> None:
        if immediate:
            self.gap(0.5, 3)
        else:
            self.gap(50, 1500)
        leg.send(self.t, 1, response(inv, 180, "Ringing", uas, to_tag=to_tag, contact=True), 180)

    def _ring_time(self) -> None:
        s = min(max(self.rng.expovariate(1.0 / MEAN_RING_S), 0.3), 30.0)
        self.t += int(s * 1_000_000)

    def answered(self) -> None:
        uac, uas, leg, inv, ruri, a_port = self._invite()
        rng = self.rng
        to_tag = ids.tag(rng)
        early = rng.random()
        if early < 0.2:      # early media announcement (RFC 3261 §13.3.1.1 + RFC 3960)
            body, _ = self.answer(uas, 0)
            leg.send(self.gap(20, 800), 1, response(inv, 183, "Session Progress", uas,
                                                     to_tag=to_tag, contact=True, body=body), 183)
        elif early < 0.9:
            self._ringing(uas, leg, inv, to_tag, immediate=rng.random() < 0.4)
        self._ring_time()
        pt = 0 if rng.random() < 0.7 else 8
        body, b_port = self.answer(uas, pt)
        t_ok = self.t
        leg.send(t_ok, 1, response(inv, 200, "OK", uas, to_tag=to_tag, contact=True, body=body), 200)
        to = f"{inv.to};tag={to_tag}"
        ack = Txn([uac.via(ids.branch(rng))], inv.from_, to, inv.call_id, inv.cseq, "ACK")
        t_ack = self.gap(2, 60)
        leg.send(t_ack, 0, request(ack, uas.uri(), uac, contact=False), "ACK")
        self.add_rtp(uac, a_port, uas, b_port, t_ok + 2000, t_ack + 3000, pt)
        self.t += self.talk_us()
        if rng.random() < 0.55:     # caller hangs up
            bye = Txn([uac.via(ids.branch(rng))], inv.from_, to, inv.call_id, inv.cseq + 1, "BYE")
            leg.send(self.t, 0, request(bye, uas.uri(), uac, contact=False), "BYE")
            leg.send(self.gap(1, 40), 1, response(bye, 200, "OK", uas), 200)
        else:                       # callee hangs up: its own CSeq space (§12.2.1.1)
            bye = Txn([uas.via(ids.branch(rng))], to, inv.from_, inv.call_id,
                      rng.randint(100, 30000), "BYE")
            leg.send(self.t, 1, request(bye, uac.uri(), uas, contact=False), "BYE")
            leg.send(self.gap(1, 40), 0, response(bye, 200, "OK", uac), 200)

    def cancelled(self) -> None:
        """Caller gives up while ringing: CANCEL/200, 487, ACK (RFC 3261 §9)."""
        uac, uas, leg, inv, ruri, _ = self._invite()
        to_tag = ids.tag(self.rng)
        self._ringing(uas, leg, inv, to_tag, immediate=self.rng.random() < 0.4)
        self._ring_time()
        cancel = Txn(inv.vias, inv.from_, inv.to, inv.call_id, inv.cseq, "CANCEL")
        leg.send(self.t, 0, request(cancel, ruri, uac, contact=False), "CANCEL")
        leg.send(self.gap(0.3, 20), 1, response(cancel, 200, "OK", uas, to_tag=to_tag), 200)
        leg.send(self.gap(0.2, 3), 1, response(inv, 487, "Request Terminated", uas,
                                               to_tag=to_tag), 487)
        self._ack_failure(uac, leg, inv, ruri, to_tag)

    def _fail(self, code: int, reason: str, reason_header: str | None, ring: bool) -> None:
        uac, uas, leg, inv, ruri, _ = self._invite()
        to_tag = ids.tag(self.rng)
        if ring:
            self._ringing(uas, leg, inv, to_tag, immediate=False)
            self.gap(1000, 6000)
        else:
            self.gap(5, 300)
        extra = (("Reason", reason_header),) if reason_header else ()
        leg.send(self.t, 1, response(inv, code, reason, uas, to_tag=to_tag, extra=extra), code)
        self._ack_failure(uac, leg, inv, ruri, to_tag)

    def busy(self) -> None:
        self._fail(486, "Busy Here", None, ring=self.rng.random() < 0.4)

    def not_found(self) -> None:
        self._fail(404, "Not Found", Q850_404 if self.rng.random() < 0.5 else None, ring=False)

    def unavailable(self) -> None:
        self._fail(503, "Service Unavailable", Q850_503, ring=False)

    # -- two-hop outcomes through the proxy -----------------------------------------------------
    def _proxied_invite(self) -> tuple[Party, Leg, Txn, Party]:
        """Caller -> proxy INVITE and 100 Trying; returns (caller, its leg, txn, proxy-as-UDP)."""
        h, rng, tp = self.f.hosts, self.rng, self.transport
        if rng.random() < 0.7:
            a = h.phone(rng.randrange(h.phones), tp)
        else:
            a = h.trunk(rng.randrange(3), h.random_number(rng), tp)
        self.target = str(2000 + rng.randrange(h.phones))
        leg = self.leg(a, h.pbx(self.target, tp), self.tcp)
        inv = Txn([a.via(ids.branch(rng))], a.name_addr(ids.tag(rng)),
                  f"<sip:{self.target}@{DOMAIN}>", self.call_id(a), rng.randint(1, 30), "INVITE")
        self.offer_body, self.a_port = self.offer(a)
        leg.send(self.t, 0, request(inv, f"sip:{self.target}@{DOMAIN}", a, body=self.offer_body,
                                    extra=(("Supported", "replaces, timer"),)), "INVITE")
        leg.send(self.gap(0.3, 3), 1, response(inv, 100, "Trying", h.pbx(self.target, tp)), 100)
        return a, leg, inv, h.pbx(self.target, "UDP")

    def _branch_invite(self, a: Party, inv: Txn, p: Party, b: Party) -> tuple[Leg, Txn, bytes]:
        """Proxy forwards the INVITE: its own Via on top, Max-Forwards - 1, Record-Route
        (RFC 3261 §16.6); Contact, User-Agent and body stay the caller's."""
        leg = self.leg(p, b, False)
        txn = Txn([p.via(ids.branch(self.rng)), *inv.vias], inv.from_, inv.to, inv.call_id,
                  inv.cseq, "INVITE")
        msg = request(txn, b.uri(), a, max_forwards=69, body=self.offer_body,
                      extra=(("Record-Route", RECORD_ROUTE), ("Supported", "replaces, timer")))
        return leg, txn, msg

    def timeout(self) -> None:
        """The callee never answers: 7 INVITE transmissions, then Timer B -> 408 (§17.1.1.2)."""
        h, rng = self.f.hosts, self.rng
        a, a_leg, inv, p = self._proxied_invite()
        b = h.phone(rng.randrange(h.phones))
        b_leg, txn, msg = self._branch_invite(a, inv, p, b)
        start = self.gap(0.2, 2)
        for s in INVITE_RETRANSMIT_S:
            b_leg.send(start + int(s * 1_000_000), 0, msg, "INVITE")
        self.t = start + TIMER_B_US
        to_tag = ids.tag(rng)
        a_leg.send(self.t, 1, response(inv, 408, "Request Timeout", p, to_tag=to_tag), 408)
        self._ack_failure(a, a_leg, inv, f"sip:{self.target}@{DOMAIN}", to_tag)

    def forked(self) -> None:
        """Proxy forks to two devices of one user; the first to answer wins, the other gets
        CANCEL (Reason: SIP;cause=200) and answers 487 (RFC 3261 §16.7 point 10, RFC 3326)."""
        h, rng = self.f.hosts, self.rng
        a, a_leg, inv, p = self._proxied_invite()
        b1 = h.phone(rng.randrange(h.phones))
        b2 = h.phone(rng.randrange(h.phones))
        b1.user = b2.user = self.target
        legs, txns = [], []
        for b in (b1, b2):
            leg, txn, msg = self._branch_invite(a, inv, p, b)
            leg.send(self.gap(0.2, 2), 0, msg, "INVITE")
            legs.append(leg)
            txns.append(txn)
        t_fork = self.t
        tags = [ids.tag(rng), ids.tag(rng)]
        rr = (("Record-Route", RECORD_ROUTE),)
        ring = []
        for k, b in enumerate((b1, b2)):
            self.t = t_fork
            legs[k].send(self.gap(2, 30), 1, response(txns[k], 100, "Trying", b), 100)
            t_ring = self.gap(50, 800)
            legs[k].send(t_ring, 1, response(txns[k], 180, "Ringing", b, to_tag=tags[k],
                                             contact=True, extra=rr), 180)
            a_leg.send(t_ring + rng.randint(100, 600), 1,
                       response(inv, 180, "Ringing", b, to_tag=tags[k], contact=True, extra=rr), 180)
            ring.append(t_ring)
        self.t = max(ring) + 1000
        self._ring_time()
        pt = 0 if rng.random() < 0.7 else 8
        ans, b_port = self.answer(b1, pt)
        t_ok = self.t
        legs[0].send(t_ok, 1, response(txns[0], 200, "OK", b1, to_tag=tags[0], contact=True,
                                       extra=rr, body=ans), 200)
        a_leg.send(self.gap(0.1, 0.6), 1, response(inv, 200, "OK", b1, to_tag=tags[0],
                                                   contact=True, extra=rr, body=ans), 200)
        # the losing branch: CANCEL, 200 (CANCEL), 487, ACK — hop by hop, same branch (§9.1)
        cancel = Txn(txns[1].vias[:1], inv.from_, inv.to, inv.call_id, inv.cseq, "CANCEL")
        t_c = self.gap(0.1, 0.6)
        legs[1].send(t_c, 0, request(cancel, b2.uri(), p, contact=False, max_forwards=70,
                                     extra=(("Reason", 'SIP;cause=200;text="Call completed elsewhere"'),)),
                     "CANCEL")
        legs[1].send(self.gap(2, 30), 1, response(cancel, 200, "OK", b2, to_tag=tags[1]), 200)
        legs[1].send(self.gap(0.2, 3), 1, response(txns[1], 487, "Request Terminated", b2,
                                                   to_tag=tags[1]), 487)
        ack2 = Txn(txns[1].vias[:1], inv.from_, f"{inv.to};tag={tags[1]}", inv.call_id, inv.cseq,
                   "ACK")
        legs[1].send(self.gap(0.1, 0.5), 0, request(ack2, b2.uri(), p, contact=False), "ACK")
        # the caller ACKs the 2xx end to end through the proxy (Route from Record-Route, §12.1.2)
        self.t = t_c
        to = f"{inv.to};tag={tags[0]}"
        route = (("Route", RECORD_ROUTE),)
        ack = Txn([a.via(ids.branch(rng))], inv.from_, to, inv.call_id, inv.cseq, "ACK")
        t_ack = self.gap(2, 60)
        a_leg.send(t_ack, 0, request(ack, b1.uri(), a, contact=False, extra=route), "ACK")
        ack_b = Txn([p.via(ids.branch(rng)), *ack.vias], ack.from_, to, inv.call_id, inv.cseq, "ACK")
        legs[0].send(self.gap(0.1, 0.5), 0, request(ack_b, b1.uri(), a, contact=False,
                                                    max_forwards=69), "ACK")
        self.add_rtp(a, self.a_port, b1, b_port, t_ok + 2000, t_ack + 3000, pt)
        self.t = max(self.t, t_ok + 5000) + self.talk_us()
        bye = Txn([a.via(ids.branch(rng))], inv.from_, to, inv.call_id, inv.cseq + 1, "BYE")
        a_leg.send(self.t, 0, request(bye, b1.uri(), a, contact=False, extra=route), "BYE")
        bye_b = Txn([p.via(ids.branch(rng)), *bye.vias], bye.from_, to, inv.call_id, bye.cseq,
                    "BYE")
        legs[0].send(self.gap(0.1, 0.5), 0, request(bye_b, b1.uri(), a, contact=False,
                                                    max_forwards=69), "BYE")
        legs[0].send(self.gap(2, 30), 1, response(bye_b, 200, "OK", b1), 200)
        a_leg.send(self.gap(0.1, 0.5), 1, response(bye, 200, "OK", b1), 200)
