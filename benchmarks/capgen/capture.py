"""Merges every call, registration, keepalive and RTP stream into one time-ordered frame stream."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from random import Random

from .calls import CallFactory
from .hosts import Hosts
from .legs import Stats
from .noise import Noise

START_US = 1_710_252_000 * 1_000_000     # Tue 12 Mar 2024 14:00:00 UTC: a busy afternoon


@dataclass(slots=True)
class Config:
    calls: int
    rtp_seconds: float = 0.0
    seed: int = 1
    cps: float = 7.0          # call attempts per second (Poisson arrivals)
    tcp_share: float = 0.10   # share of calls whose caller leg runs over TCP

    @property
    def duration_us(self) -> int:
        return int(self.calls / self.cps * 1_000_000)

    @property
    def phones(self) -> int:
        return max(8, self.calls // 25)


class CaptureGenerator:
    """Lazily yields (timestamp_us, frame) in time order; memory grows with concurrent calls only."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.stats = Stats()
        self.hosts = Hosts(cfg.phones)
        self.factory = CallFactory(self.hosts, self.stats, cfg.rtp_seconds, cfg.tcp_share)
        self.noise = Noise(self.hosts, self.stats, cfg.seed, START_US, START_US + cfg.duration_us)

    def _call_starts(self) -> Iterator[tuple[int, object]]:
        rng = Random(self.cfg.seed)
        t = float(START_US)
        rate = self.cfg.cps / 1_000_000
        build = self.factory.build
        for i in range(self.cfg.calls):
            t += rng.expovariate(rate)
            seed = rng.getrandbits(64)
            ts = int(t)
            yield ts, (lambda i=i, ts=ts, seed=seed: build(i, ts, seed))

    def frames(self) -> Iterator[tuple[int, bytes]]:
        heap: list = []
        order = itertools.count()
        push, pop = heapq.heappush, heapq.heappop

        def add(it: Iterator) -> None:
            item = next(it, None)
            if item is not None:
                push(heap, (item[0], next(order), item[1], it))

        for source in (self._call_starts(), self.noise.registrations(), self.noise.keepalives()):
            add(source)
        last = 0
        while heap:
            t, _, obj, it = pop(heap)
            if obj.__class__ is bytes:
                if t < last:
                    raise AssertionError(f"frame at {t} after {last}: generator bug")
                last = t
                yield t, obj
            else:
                for sub in obj():
                    add(sub)
            add(it)

    def manifest(self) -> dict:
        st = self.stats
        out = asdict(st)
        out["sip_requests"] = dict(sorted(st.sip_requests.items()))
        out["sip_responses"] = {str(k): v for k, v in sorted(st.sip_responses.items())}
        out["outcomes"] = dict(sorted(st.outcomes.items()))
        out["registered_phones"] = len(self.noise.registered)
        out["config"] = asdict(self.cfg)
        out["phones"] = self.cfg.phones
        return out
