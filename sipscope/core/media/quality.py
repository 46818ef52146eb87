"""An estimate of call quality (R-factor, MOS) from a stream's loss and jitter: ITU-T G.107.

This is the E-model of ITU-T G.107 (06/2015) reduced to what one capture of RTP can feed it,
so the result is an *estimate* of listening-and-talking quality, not a measurement:

  R = Ro - Is - Id - Ie,eff + A                                              (G.107 §7.1, eq. 7-1)

* Ro - Is = 93.2: G.107 §7.2-§7.3 with every default value of Table 2 (the capture knows
  nothing of loudness ratings, room noise or sidetone).  A = 0 (a fixed-line user, §7.6).
* Id: only Idd, the impairment of pure one-way delay Ta (§7.4, eq. 7-27); talker and listener
  echo (Idte, Idle) are taken as perfectly cancelled (TELR at its default 65 dB, where they are
  negligible at these delays).  Ta = packetisation (the stream's packet interval) + the codec's
  look-ahead + a jitter buffer sized at twice the mean RFC 3550 jitter, at least one packet.
  Network delay beyond the capture point is not visible in one capture and counts as 0 ms.
* Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)                     (§7.5, eq. 7-29)
  with the codec's equipment impairment Ie and packet-loss robustness Bpl of ITU-T G.113
  Appendix I (Tables I.1, I.3), Ppl the stream's lost packets in percent, BurstR = 1 (random
  loss: the aggregates kept while loading do not describe burstiness).
* MOS (conversational quality, estimated) from R: G.107 Annex B, eq. B-4.

A codec without G.113 values (wideband and modern codecs such as G.722 and Opus are rated on the
wideband scale of G.107.1, not here) gets no estimate, and `Quality.reason` says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RO_MINUS_IS = 93.2            # G.107 §7.2-7.3 with the default values of Table 2
DEFAULT_PACKET_MS = 20.0      # RFC 3551 §4.5: 20 ms is the default packetisation of G.711


@dataclass(slots=True, frozen=True)
class CodecImpairment:
    """G.113 Appendix I values of one codec: Ie (Table I.1) and Bpl (Table I.3), look-ahead."""

    ie: float
    bpl: float
    lookahead_ms: float = 0.0


# Upper-case RTP encoding names (RFC 3551 §6, IANA registry) -> G.113 Appendix I values.
# G.711 with the packet-loss concealment of G.711 Appendix I (what phones use): Bpl 25.1.
# Only codecs whose Ie and Bpl G.113 Appendix I lists are here; others get no estimate.
G113: dict[str, CodecImpairment] = {
    "PCMU": CodecImpairment(0.0, 25.1),
    "PCMA": CodecImpairment(0.0, 25.1),
    "G729": CodecImpairment(11.0, 19.0, 5.0),          # G.729A + VAD (Table I.3)
    "G729A": CodecImpairment(11.0, 19.0, 5.0),
    "G723": CodecImpairment(15.0, 16.1, 7.5),          # G.723.1 6.3 kbit/s + VAD
}


@dataclass(slots=True, frozen=True)
class Quality:
    """R-factor and MOS estimate of one stream, with what went in; None values: no estimate."""

    r_factor: float | None
    mos: float | None
    codec: str
    loss_pct: float
    delay_ms: float | None            # the one-way delay Ta the estimate assumed
    reason: str = ""                  # why there is no estimate

    @property
    def estimated(self) -> bool:
        return self.r_factor is not None

    def words(self) -> str:
        """One sentence: the estimate and what it rests on, or why there is none."""
        if self.r_factor is None:
            return f"No MOS estimate: {self.reason}."
        return (f"Estimated MOS {self.mos:.2f} (R {self.r_factor:.0f}, ITU-T G.107 E-model) from "
                f"{self.codec}, {self.loss_pct:.1f} % loss and {self.delay_ms:.0f} ms of "
                f"packetisation and jitter-buffer delay; delay beyond the capture point is not "
                f"known and not counted.")


def idd(delay_ms: float) -> float:
    """G.107 §7.4 eq. 7-27/7-28: the impairment of pure one-way delay Ta (ms); 0 up to 100 ms."""
    if delay_ms <= 100.0:
        return 0.0
    x = math.log10(delay_ms / 100.0) / math.log10(2.0)
    return 25.0 * ((1 + x ** 6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2)


def ie_eff(ie: float, bpl: float, loss_pct: float, burst_r: float = 1.0) -> float:
    """G.107 §7.5 eq. 7-29: effective equipment impairment under packet loss Ppl (%)."""
    ppl = max(0.0, min(100.0, loss_pct))
    return ie + (95.0 - ie) * ppl / (ppl / burst_r + bpl)


def mos_from_r(r: float) -> float:
    """G.107 Annex B eq. B-4: the estimated mean opinion score (1 ... 4.5) of an R-factor."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def r_factor(codec: CodecImpairment, loss_pct: float, delay_ms: float) -> float:
    """G.107 eq. 7-1 with the reductions of the module docstring."""
    return RO_MINUS_IS - idd(delay_ms) - ie_eff(codec.ie, codec.bpl, loss_pct)


def jitter_buffer_ms(mean_jitter_ms: float, packet_ms: float) -> float:
    """The assumed jitter-buffer delay: twice the mean jitter, at least one packet."""
    return max(2.0 * mean_jitter_ms, packet_ms)


def estimate(codec_name: str, loss_pct: float, mean_jitter_ms: float,
             packet_ms: float | None = None) -> Quality:
    """The E-model estimate for a stream of `codec_name` ("PCMU", "PCMA/8000", ...)."""
    name = codec_name.split("/")[0].strip().upper()
    values = G113.get(name)
    if values is None:
        why = (f"codec {codec_name or 'unknown'} has no ITU-T G.113 impairment value"
               if codec_name else "the codec is not known")
        return Quality(None, None, codec_name, loss_pct, None, why)
    packet = packet_ms if packet_ms and packet_ms > 0 else DEFAULT_PACKET_MS
    delay = packet + values.lookahead_ms + jitter_buffer_ms(mean_jitter_ms, packet)
    r = r_factor(values, loss_pct, delay)
    return Quality(r, mos_from_r(r), name, loss_pct, delay)
