"""The E-model estimate (media/quality.py) against values computed by hand from ITU-T G.107."""

from __future__ import annotations

import pytest

from sipscope.core.media.quality import estimate, idd, ie_eff, mos_from_r


def test_clean_g711_is_above_4():
    q = estimate("PCMU/8000", 0.0, 0.0, 20.0)
    # Ta = 20 ms packet + 20 ms buffer (one packet) < 100 ms: Idd = 0, Ie,eff = 0, R = 93.2
    assert q.r_factor == pytest.approx(93.2)
    assert q.mos == pytest.approx(1 + 0.035 * 93.2 + 93.2 * 33.2 * 6.8 * 7e-6)
    assert q.mos > 4.0


def test_ten_percent_loss_is_clearly_lower():
    clean = estimate("PCMA", 0.0, 0.0, 20.0)
    lossy = estimate("PCMA", 10.0, 0.0, 20.0)
    # G.107 eq. 7-29 with G.113 Bpl 25.1: Ie,eff = 95 * 10 / (10 + 25.1) = 27.07
    assert lossy.r_factor == pytest.approx(93.2 - 950 / 35.1)
    assert lossy.mos < 3.6
    assert clean.mos - lossy.mos > 0.8


def test_delay_impairment_starts_at_100_ms():
    assert idd(100.0) == 0.0
    # X = log2(2) = 1: 25 * ((2)^(1/6) - 3 * (1 + 1/729)^(1/6) + 2)
    assert idd(200.0) == pytest.approx(25 * (2 ** (1 / 6) - 3 * (1 + 1 / 729) ** (1 / 6) + 2))
    assert estimate("PCMU", 0, 60.0, 20.0).r_factor < estimate("PCMU", 0, 1.0, 20.0).r_factor


def test_ie_eff_and_mos_bounds():
    assert ie_eff(11.0, 19.0, 0.0) == 11.0
    assert mos_from_r(-5) == 1.0 and mos_from_r(120) == 4.5


def test_codec_without_g113_values_has_no_estimate():
    q = estimate("opus/48000/2", 0.0, 0.0)
    assert q.mos is None and q.r_factor is None
    assert "opus/48000/2 has no ITU-T G.113 impairment value" in q.words()
