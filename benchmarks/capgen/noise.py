"""Background signalling: REGISTER with a 401 digest challenge, OPTIONS keepalives (RFC 3261 §10,
§11, §22; RFC 2617), including peers that never answer (Timer E/F retransmissions, §17.1.2.2)."""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterator
from random import Random

from . import ids
from .hosts import PBX_AGENT, PBX_IP, Hosts
from .legs import Leg, Stats
from .sip import DOMAIN, Party, Txn, request, response

REGISTER_EXPIRES_S = 3600
QUALIFY_EVERY_S = 30
OPTIONS_RETRANSMIT_S = (0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5)  # T2 = 4 s
UNREACHABLE_EVERY = 20       # one qualified peer in 20 never answers
Spawn = Callable[[], list[Iterator[tuple[int, bytes]]]]


def _periodic(rng: Random, n: int, start: int, window_us: int, period_us: int, end: int
              ) -> Iterator[tuple[int, int, int]]:
    """(time, member, round) for n members with random phase, each every period_us, in time order."""
    heap = [(start + rng.randrange(max(1, min(window_us, period_us))), i, 0) for i in range(n)]
    heapq.heapify(heap)
    while heap:
        t, i, k = heap[0]
        if t > end:
            return
        yield t, i, k
        heapq.heapreplace(heap, (t + period_us + rng.randint(-500_000, 500_000), i, k + 1))


class Noise:
    """Spawn sources (time-ordered iterators of (t, spawn)) for registrations and keepalives."""

    def __init__(self, hosts: Hosts, stats: Stats, seed: int, start: int, end: int) -> None:
        self.hosts, self.stats, self.seed, self.start, self.end = hosts, stats, seed, start, end
        self.registered: set[int] = set()

    def registrations(self) -> Iterator[tuple[int, Spawn]]:
        rng = Random(self.seed * 7 + 1)
        window = self.end - self.start
        for t, i, k in _periodic(rng, self.hosts.phones, self.start, window,
                                 REGISTER_EXPIRES_S * 1_000_000, self.end):
            yield t, (lambda t=t, i=i, k=k, s=rng.getrandbits(64): self._register(t, i, k, s))

    def keepalives(self) -> Iterator[tuple[int, Spawn]]:
        rng = Random(self.seed * 7 + 2)
        peers = 3 + max(2, self.hosts.phones // 40)
        period = QUALIFY_EVERY_S * 1_000_000
        for n, (t, i, k) in enumerate(_periodic(rng, peers, self.start, period, period, self.end)):
            yield t, (lambda t=t, i=i, n=n, s=rng.getrandbits(64): self._options(t, i, n, s))

    def _register(self, t: int, i: int, k: int, seed: int) -> list[Iterator[tuple[int, bytes]]]:
        """REGISTER, 401 with a nonce, REGISTER with Authorization, 200 with the binding.
        A phone keeps one Call-ID for all its refreshes and increments CSeq (§10.2.4)."""
        rng = Random(seed)
        st = self.stats
        phone = self.hosts.phone(i)
        pbx = Party(PBX_IP, 5060, phone.user, "", PBX_AGENT)
        cid = ids.call_id(Random(self.seed * 1_000_003 + i), ids.KIND_REGISTER, i, phone.ip)
        if i not in self.registered:
            self.registered.add(i)
            st.call_ids += 1
        leg = Leg(phone.ip, 5060, PBX_IP, 5060, False, st)
        ruri = f"sip:{DOMAIN}"
        aor = f"<sip:{phone.user}@{DOMAIN}>"
        from_ = f"{aor};tag={ids.tag(rng)}"
        cseq = 2 * k + 1
        expires = (("Expires", str(REGISTER_EXPIRES_S)),)
        r1 = Txn([phone.via(ids.branch(rng))], from_, aor, cid, cseq, "REGISTER")
        leg.send(t, 0, request(r1, ruri, phone, extra=expires), "REGISTER")
        nonce = f"{rng.getrandbits(128):032x}"
        challenge = (("WWW-Authenticate", f'Digest realm="{DOMAIN}", nonce="{nonce}", '
                      f'opaque="{rng.getrandbits(32):08x}", algorithm=MD5, qop="auth"'),)
        t += rng.randint(300, 3000)
        leg.send(t, 1, response(r1, 401, "Unauthorized", pbx, to_tag=ids.tag(rng),
                                extra=challenge), 401)
        cnonce = f"{rng.getrandbits(64):016x}"
        digest = hashlib.md5(f"{nonce}:{cnonce}:{i}".encode()).hexdigest()
        auth = (("Authorization", f'Digest username="{phone.user}", realm="{DOMAIN}", '
                 f'nonce="{nonce}", uri="{ruri}", response="{digest}", algorithm=MD5, '
                 f'cnonce="{cnonce}", qop=auth, nc=00000001'),) + expires
        r2 = Txn([phone.via(ids.branch(rng))], from_, aor, cid, cseq + 1, "REGISTER")
        t += rng.randint(5_000, 60_000)
        leg.send(t, 0, request(r2, ruri, phone, extra=auth), "REGISTER")
        t += rng.randint(500, 8000)
        binding = (("Contact", f"{phone.contact()};expires={REGISTER_EXPIRES_S}"),
                   ("Date", "Tue, 12 Mar 2024 14:00:00 GMT"))
        leg.send(t, 1, response(r2, 200, "OK", pbx, to_tag=ids.tag(rng), extra=binding), 200)
        st.registrations += 1
        return [iter(leg.frames(rng))]

    def _options(self, t: int, i: int, n: int, seed: int) -> list[Iterator[tuple[int, bytes]]]:
        """PBX qualifies a peer with OPTIONS; a fresh Call-ID each time (as Asterisk does)."""
        rng = Random(seed)
        st = self.stats
        h = self.hosts
        peer = h.trunk(i, "ping") if i < 3 else h.phone((i - 3) * 40 % h.phones)
        pbx = Party(PBX_IP, 5060, "asterisk", "", PBX_AGENT)
        leg = Leg(PBX_IP, 5060, peer.ip, peer.port, False, st)
        txn = Txn([pbx.via(ids.branch(rng))], f"<sip:asterisk@{PBX_IP}>;tag={ids.tag(rng)}",
                  f"<{peer.uri()}>", ids.call_id(rng, ids.KIND_OPTIONS, n, None), 102, "OPTIONS")
        msg = request(txn, peer.uri(), pbx, extra=(("Accept", "application/sdp"),))
        if i % UNREACHABLE_EVERY == 7:
            for s in OPTIONS_RETRANSMIT_S:
                leg.send(t + int(s * 1_000_000), 0, msg, "OPTIONS")
        else:
            leg.send(t, 0, msg, "OPTIONS")
            leg.send(t + rng.randint(800, 40_000), 1,
                     response(txn, 200, "OK", peer, to_tag=ids.tag(rng), contact=True,
                              extra=(("Accept", "application/sdp"),)), 200)
        st.call_ids += 1
        st.options += 1
        return [iter(leg.frames(rng))]
