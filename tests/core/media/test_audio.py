"""Audio of a call (media/audio.py, `sipscope audio`): RTP with known content -- a 1 kHz tone in
G.711, packets dropped and delayed on purpose -- written to a pcap, read back, decoded to a WAV,
and checked: the tone's frequency and level, silence exactly where packets were dropped, delayed
packets in their place, and the loss/jitter figures against hand computation."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from core.media.pcap_write import write_pcap
from factory import Flow, request, response, sdp

from sipscope.core.media.audio import ALAW, ULAW, call_audio, decoded_names, place_packets
from sipscope.core.media.packets import Packet, session_paths
from sipscope.core.media.table import stream_rows
from sipscope.core.model.loader import load_files

A, B = "10.0.0.1:5060", "10.0.0.2:5060"
A_RTP, B_RTP = "10.0.0.1:4000", "10.0.0.2:5000"
REPO = Path(__file__).resolve().parents[3]
PEAK = 8000.0                          # tone amplitude (-12 dBFS)


# -- G.711 encoders (ITU-T G.711 as in the Sun reference g711.c), for building the test RTP ----
_SEG_U = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_SEG_A = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _seg(value: int, table) -> int:
    return next((i for i, end in enumerate(table) if value <= end), 8)


def ulaw(sample: int) -> int:
    value = sample >> 2
    mask = 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, 8159) + 0x21
    seg = _seg(value, _SEG_U)
    code = 0x7F if seg >= 8 else (seg << 4) | ((value >> (seg + 1)) & 0x0F)
    return code ^ mask


def alaw(sample: int) -> int:
    value = sample >> 3
    mask = 0xD5
    if value < 0:
        value, mask = -value - 1, 0x55
    seg = _seg(value, _SEG_A)
    if seg >= 8:
        return 0x7F ^ mask
    code = (seg << 4) | ((value >> 1 if seg < 2 else value >> seg) & 0x0F)
    return code ^ mask


def tone(n: int, start: int, hz: float = 1000.0) -> list[int]:
    return [int(round(PEAK * math.sin(2 * math.pi * hz * (start + i) / 8000))) for i in range(n)]


def rtp(seq: int, pt: int, ssrc: int, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, 1000 + seq * 160, ssrc) + payload


# -- the call ------------------------------------------------------------------------------
DROPPED = {100, 101, 102}              # 60 ms of the caller's tone never arrive
DELAYED = {200: 0.030}                 # arrives 30 ms late (after the next packet)


def build(tmp_path: Path, pt: int = 0, encode=ulaw, callee_codec: str = "0 101") -> Path:
    f = Flow()
    codecs = "0 101" if pt == 0 else "8 101"
    inv = f.add(0.0, A, B, request("INVITE", "sip:bob@10.0.0.2", via=A,
                                   body=sdp("10.0.0.1", 4000, codecs=codecs)))
    f.add(0.3, B, A, response(inv, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2",
                              body=sdp("10.0.0.2", 5000, codecs=codecs)))
    f.add(0.31, A, B, request("ACK", "sip:bob@10.0.0.2", to_tag="X", via=A, branch="z9hG4bK-a"))
    packets = []
    for i in range(250):                                   # 5 s of tone, caller -> callee
        if i in DROPPED:
            continue
        payload = bytes(encode(s) for s in tone(160, i * 160))
        packets.append((1.0 + i * 0.02 + DELAYED.get(i, 0.0), A_RTP, B_RTP, rtp(i, pt, 1, payload)))
    for i in range(200):                                   # callee: 500 Hz from 1.5 s
        payload = bytes(encode(s) for s in tone(160, i * 160, 500.0))
        packets.append((1.5 + i * 0.02, B_RTP, A_RTP, rtp(i, pt, 2, payload)))
    for t, src, dst, data in sorted(packets):
        f.add(t, src, dst, data)
    bye = f.add(7.0, A, B, request("BYE", "sip:bob@10.0.0.2", to_tag="X", cseq=9, via=A,
                                   branch="z9hG4bK-b"))
    f.add(7.05, B, A, response(bye, 200, "OK", to_tag="X"))
    return write_pcap(tmp_path / "tone.pcap", f.datagrams)


def peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum)) * 8000 / len(samples)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(float) ** 2)))


def test_g711_tables_match_the_reference_values():
    assert (ULAW[0x00], ULAW[0x80], ULAW[0xFF], ULAW[0x7F]) == (-32124, 32124, 0, 0)
    assert (ALAW[0xD5], ALAW[0x55], ALAW[0xAA], ALAW[0x2A]) == (8, -8, 32256, -32256)
    for value in (-30000, -1234, -40, 0, 40, 1234, 30000):     # within the G.711 step size
        assert abs(ULAW[ulaw(value)] - value) <= max(8, abs(value) / 16)
        assert abs(ALAW[alaw(value)] - value) <= max(16, abs(value) / 16)


@pytest.mark.parametrize("pt, encode", [(0, ulaw), (8, alaw)])
def test_tone_frequency_level_silence_and_delayed_packet(tmp_path, pt, encode):
    session = load_files([str(build(tmp_path, pt, encode))])
    rows = stream_rows(session, session.calls[0])
    audio = call_audio(rows, session_paths(session))
    assert audio.notes == []
    left, right = audio.left, audio.right
    # the caller's tone starts at 1.0 s (time 0 of the file), the callee's 0.5 s later
    assert len(left) == len(right) == 250 * 160                # the caller's 5 s are the longest
    caller = left[:250 * 160]
    whole = np.concatenate([caller[:100 * 160], caller[103 * 160:]])
    assert peak_hz(whole) == pytest.approx(1000.0, abs=2.0)
    assert rms(whole) == pytest.approx(PEAK / math.sqrt(2), rel=0.03)      # -15 dBFS RMS
    assert not caller[100 * 160:103 * 160].any()                           # 60 ms dropped: silence
    assert rms(caller[200 * 160:201 * 160]) == pytest.approx(PEAK / math.sqrt(2), rel=0.05)
    expected = np.array(tone(160, 200 * 160), dtype=float)                  # the late packet
    assert np.corrcoef(caller[200 * 160:201 * 160].astype(float), expected)[0, 1] > 0.99
    assert not right[:4000].any()                                           # callee starts at +0.5 s
    assert peak_hz(right[4000:]) == pytest.approx(500.0, abs=2.0)


def test_loss_and_jitter_of_the_tone_stream_by_hand(tmp_path):
    session = load_files([str(build(tmp_path))])
    row = next(r for r in stream_rows(session, session.calls[0])
               if r.direction == "caller_to_callee")
    assert (row.packets, row.expected, row.lost) == (247, 250, 3)
    assert row.lost_pct == pytest.approx(1.2)
    # RFC 3550 A.1: the jump over 100-102, 201 arriving before 200 (a jump of two), 200 late
    assert row.sequence_errors == 3
    # RFC 3550 A.8 in arrival order: 199 (t), 201 (t+40 ms, ts +320: D = 0), 200 (t+50 ms,
    # ts -160: |D| = 30 ms), 202 (t+60 ms, ts +320: |D| = 30 ms): J = 30/16, then
    # J = 30/16 + (30 - 30/16)/16 = 3.633 ms, the maximum; every other |D| is 0
    j1 = 30 / 16
    assert row.max_jitter_ms == pytest.approx(j1 + (30 - j1) / 16, abs=0.01)
    assert row.mos > 4.0


def test_sipscope_audio_writes_the_stereo_wav(tmp_path):
    capture = build(tmp_path)
    out = tmp_path / "call.wav"
    result = subprocess.run([sys.executable, "-m", "sipscope", "audio", str(capture), "--call",
                             "1", "-o", str(out)], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "call 1, 5.0 s, stereo 8 kHz (left: caller, right: callee)" in result.stdout
    with wave.open(str(out)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 8000)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert peak_hz(frames[:16000, 0]) == pytest.approx(1000.0, abs=2.0)
    assert peak_hz(frames[8000:, 1]) == pytest.approx(500.0, abs=2.0)


def test_sipscope_audio_never_writes_over_its_input(tmp_path):
    """Issue 17 class 9: the output is refused when it is the capture itself."""
    capture = build(tmp_path)
    before = capture.read_bytes()
    result = subprocess.run([sys.executable, "-m", "sipscope", "audio", str(capture), "-o",
                             str(capture)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "sipscope audio:" in result.stderr
    assert capture.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".sipscope-")] == []


def test_undecodable_codec_is_said_in_words(tmp_path):
    f = Flow()
    inv = f.add(0.0, A, B, request("INVITE", "sip:bob@10.0.0.2", via=A,
                                   body=sdp("10.0.0.1", 4000, codecs="18")))
    f.add(0.3, B, A, response(inv, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2",
                              body=sdp("10.0.0.2", 5000, codecs="18")))
    for i in range(100):
        f.add(1.0 + i * 0.02, A_RTP, B_RTP, rtp(i, 18, 1, b"\x00" * 20))
    session = load_files([str(write_pcap(tmp_path / "g729.pcap", f.datagrams))])
    audio = call_audio(stream_rows(session, session.calls[0]), session_paths(session))
    assert audio.notes == [
        "caller → callee 10.0.0.1:4000 -> 10.0.0.2:5000: G729/8000 cannot be decoded (only "
        f"{decoded_names()} can); silent.",
        "callee → caller: no packet in the capture; that channel is silent."]
    assert len(audio.left) == 0


def test_rtp_timestamp_jump_is_placed_by_arrival():
    packets = [Packet(10.0 + i * 0.02, i, (i * 160 if i < 50 else 9_000_000 + i * 160) & 0xFFFFFFFF,
                      0, False, 172, bytes([0x80]) * 160) for i in range(100)]
    channel = place_packets(packets, ULAW, 0)
    assert len(channel.samples) == 100 * 160             # not 9 million samples


def test_jitter_buffer_drops_the_late_packet(tmp_path):
    """Packet 200 arrives 30 ms late: with a 60 ms buffer it still plays, with 20 ms it is silence."""
    session = load_files([str(build(tmp_path))])
    rows = stream_rows(session, session.calls[0])
    roomy = call_audio(rows, session_paths(session), jitter_buffer_ms=60)
    assert roomy.notes == [] and rms(roomy.left[200 * 160:201 * 160]) > 5000
    tight = call_audio(rows, session_paths(session), jitter_buffer_ms=20)
    assert tight.notes == ["caller → callee 10.0.0.1:4000 -> 10.0.0.2:5000: 1 packet arrived too "
                           "late for a 20 ms jitter buffer; silent there."]
    assert not tight.left[200 * 160:201 * 160].any()
    assert rms(tight.left[199 * 160:200 * 160]) > 5000


def test_g722_tone_is_decoded(tmp_path):
    """G.722 (RTP clock 8000, RFC 3551 §4.5.2) through the G722 package: 1 kHz at its level."""
    g722 = pytest.importorskip("G722")
    import array
    encoder = g722.G722(8000, 64000)
    f = Flow()
    inv = f.add(0.0, A, B, request("INVITE", "sip:bob@10.0.0.2", via=A,
                                   body=sdp("10.0.0.1", 4000, codecs="9")))
    f.add(0.3, B, A, response(inv, 200, "OK", to_tag="X", contact="sip:bob@10.0.0.2",
                              body=sdp("10.0.0.2", 5000, codecs="9")))
    for i in range(150):
        payload = encoder.encode(array.array("h", tone(160, i * 160)))
        f.add(1.0 + i * 0.02, A_RTP, B_RTP, rtp(i, 9, 1, payload))
    session = load_files([str(write_pcap(tmp_path / "g722.pcap", f.datagrams))])
    audio = call_audio(stream_rows(session, session.calls[0]), session_paths(session))
    assert audio.notes == ["callee → caller: no packet in the capture; that channel is silent."]
    assert decoded_names() == "G.711 µ-law and A-law, and G.722"
    steady = audio.left[800:150 * 160]
    assert peak_hz(steady) == pytest.approx(1000.0, abs=2.0)
    assert rms(steady) == pytest.approx(PEAK / math.sqrt(2), rel=0.05)
