"""Bounded fuzzing in the normal test run: every target of targets.py on seeded hostile
variants of the real captures and traces in tests/data (a few seconds in all).  The long run is
tests/fuzz/long_run.py; what it finds becomes a case in REGRESSIONS below."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .targets import TARGETS, corpus, mutate

FAST = settings(max_examples=40, deadline=5000, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(max_examples=20, deadline=20000, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("name", [n for n in TARGETS if not n.startswith("rules")])
def test_target_survives_mutated_real_inputs(name):
    target, kind = TARGETS[name]
    seeds = corpus(kind)

    @FAST
    @given(st.integers(0, len(seeds) - 1), st.integers(0, 2**32 - 1))
    def run(which, seed):
        rng = random.Random(seed)
        data = seeds[which]
        if len(data) > 200_000:                      # keep the normal run to seconds
            start = rng.randrange(len(data) - 100_000)
            data = data[:24] + data[start:start + 100_000]
        target(mutate(rng, data))

    run()


@SLOW
@given(st.integers(0, 2**32 - 1))
def test_rules_survive_mutated_real_traces(seed):
    rng = random.Random(seed)
    seeds = corpus("text")
    TARGETS["rules"][0](mutate(rng, rng.choice(seeds), rounds=3))


@SLOW
@given(st.integers(0, 2**32 - 1))
def test_rules_survive_mutated_real_captures(seed):
    rng = random.Random(seed)
    small = [data for data in corpus("pcap") if len(data) < 400_000]
    TARGETS["rules_pcap"][0](mutate(rng, rng.choice(small), rounds=3))


@settings(max_examples=40, deadline=5000, derandomize=True)
@given(st.binary(max_size=3000))
def test_sip_parser_and_sniffing_take_any_bytes(data):
    TARGETS["sip_sdp"][0](data)
    TARGETS["sniffing"][0](data)
    TARGETS["ip_fragments"][0](data)
    TARGETS["hep_websocket"][0](data)


# Inputs found by fuzzing that once crashed a target (issue 17): each must pass now.
REGRESSIONS = [
    ("sip_sdp", b"INVITE sip:a@b SIP/2.0\r\nCSeq: " + b"9" * 5000 + b" INVITE\r\n\r\n"),
    ("sip_sdp", b"v=0\r\nm=audio " + b"9" * 5000 + b" RTP/AVP 0\r\na=ptime:1e400\r\n"),
    # long run, seed 17: an SCTP DATA chunk whose header is cut by the end of the packet
    ("sctp", b"\x00" * 12 + b"\x00\x03\x00\x10" + b"\x00\x00\x00\x01"),
]


@pytest.mark.parametrize("name, data", REGRESSIONS)
def test_regressions(name, data):
    TARGETS[name][0](data)
