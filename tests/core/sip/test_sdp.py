"""Tests for the lenient SDP model (sipscope.core.sip.sdp) on SDP taken from real traces."""

from __future__ import annotations

from pathlib import Path

import dpkt
from hypothesis import given, settings
from hypothesis import strategies as st

from sipscope.core.sip.sdp import Codec, parse_sdp

# SIPp 3.6.1 built-in uac_pcap offer and uas answer, frames 1 and 3 of
# ../shared/traces/sipp-loopback-200calls.pcap (recorded for this project, §14.2 of the catalog).
SIPP_OFFER = (b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
              b"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6100 RTP/AVP 8 101\r\n"
              b"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
              b"a=fmtp:101 0-11,16\r\n")
SIPP_ANSWER = (b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
               b"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
               b"a=rtpmap:0 PCMU/8000\r\n")


def blog_sdp(data_dir: Path) -> bytes:
    """The first SDP of the blog trace (ngrep byline: a '.' stands where each CR was)."""
    lines = (data_dir / "blog-grandstream-forked-call.txt").read_bytes().split(b"\n")
    start = lines.index(b"v=0.")
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line[:-1] + b"\r")
    return b"\n".join(out) + b"\n"


def frame_sdp(path: Path, frame: int) -> bytes:
    """The SDP at the end of one frame of a pcap/pcapng (the body is the end of the payload)."""
    with path.open("rb") as handle:
        reader = dpkt.pcapng.Reader(handle) if path.suffix == ".pcapng" else dpkt.pcap.Reader(handle)
        for number, (_, buf) in enumerate(reader, 1):
            if number == frame:
                return buf[buf.index(b"\r\n\r\nv=0") + 4:]
    raise AssertionError(f"frame {frame} not in {path}")


def test_sipp_offer_and_answer():
    offer = parse_sdp(SIPP_OFFER)
    assert offer.warnings == []
    assert offer.origin.username == "user1" and offer.origin.sess_version == 2353687637
    audio = offer.media[0]
    assert (audio.kind, audio.port, audio.proto, audio.formats) == ("audio", 6100, "RTP/AVP", ["8", "101"])
    assert audio.address == "127.0.0.1" and audio.connection is None
    assert audio.codecs() == [(8, "PCMA/8000"), (101, "telephone-event/8000")]
    assert audio.fmtp == {101: "0-11,16"}
    assert audio.direction == "sendrecv" and not offer.is_hold()
    assert offer.summary() == "audio 6100 PCMA,telephone-event sendrecv"
    answer = parse_sdp(SIPP_ANSWER)
    assert answer.media[0].codecs() == [(0, "PCMU/8000")]
    assert answer.media[0].pt_for("telephone-event") == []
    assert offer.media[0].pt_for("TELEPHONE-EVENT") == [101]


def test_blog_sdp(data_dir):
    sdp = parse_sdp(blog_sdp(data_dir))
    assert sdp.warnings == []
    assert sdp.connection == "66.227.100.215" and sdp.session_name == "session"
    audio = sdp.media[0]
    assert audio.port == 19870 and audio.ptime == 20
    assert [name for _, name in audio.codecs()] == [
        "PCMU/8000", "PCMA/8000", "GSM/8000", "G726-32/8000", "G729/8000", "G723/8000",
        "telephone-event/8000"]
    assert audio.fmtp[18] == "annexb=no"
    assert ("silenceSupp", "off - - - -") in audio.attributes
    assert sdp.summary() == "audio 19870 PCMU,PCMA,GSM,G726-32,G729,G723,telephone-event sendrecv"
    assert audio.summary(max_codecs=3) == "audio 19870 PCMU,PCMA,GSM,+4 sendrecv"


def test_blog_sdp_with_bare_lf(data_dir):
    """The same SDP with LF only and trailing spaces parses the same way."""
    text = blog_sdp(data_dir).replace(b"\r\n", b"  \n")
    sdp = parse_sdp(text)
    assert sdp.warnings == []
    assert len(sdp.media[0].codecs()) == 7 and sdp.media[0].ptime == 20


def test_static_payload_types_without_rtpmap():
    sdp = parse_sdp(b"v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n"
                    b"m=audio 4000 RTP/AVP 0 3 4 8 9 18 13 34\n")
    assert sdp.media[0].codecs() == [(0, "PCMU/8000"), (3, "GSM/8000"), (4, "G723/8000"),
                                     (8, "PCMA/8000"), (9, "G722/8000"), (18, "G729/8000"),
                                     (13, "CN/8000"), (34, "H263/90000")]
    assert sdp.warnings == []


def test_rtpmap_channels_rtcp_mux_and_rtcp_port():
    sdp = parse_sdp(b"v=0\r\no=- 5 7 IN IP6 ::1\r\ns=-\r\nc=IN IP6 2001:db8::5\r\nt=0 0\r\n"
                    b"m=audio 50000 UDP/TLS/RTP/SAVPF 111 96\r\na=rtpmap:111 opus/48000/2\r\n"
                    b"a=rtcp:50001 IN IP6 2001:db8::6\r\na=rtcp-mux\r\na=recvonly\r\n"
                    b"m=video 0 RTP/AVP 96\r\n")
    audio, video = sdp.media
    assert audio.rtpmap[111] == Codec("opus", 48000, 2)
    assert audio.rtcp == 50001 and audio.rtcp_address == "2001:db8::6" and audio.rtcp_mux
    assert audio.direction == "recvonly" and audio.address == "2001:db8::5"
    assert audio.codecs() == [(111, "opus/48000"), (96, "?")]
    assert "m=audio: dynamic payload type 96 has no rtpmap" in sdp.warnings
    assert video.port == 0 and video.summary().endswith("(rejected)")
    assert not sdp.is_hold()


def test_session_level_direction_and_media_connection_override():
    sdp = parse_sdp(b"v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
                    b"a=inactive\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 224.2.1.1/127\r\n"
                    b"m=audio 4002 RTP/AVP 8\r\na=sendrecv\r\n")
    first, second = sdp.media
    assert first.direction == "inactive" and first.address == "224.2.1.1"
    assert second.direction == "sendrecv" and second.address == "10.0.0.1"
    assert sdp.direction == "inactive" and sdp.is_hold()


def test_t38_reinvite(shared_traces):
    # Frame 1394: the T.38 re-INVITE of udp-t38-fax-reinvite-488-options-keepalive.pcap.
    sdp = parse_sdp(frame_sdp(shared_traces / "udp-t38-fax-reinvite-488-options-keepalive.pcap", 1394))
    assert sdp.warnings == []
    image = sdp.media[0]
    assert (image.kind, image.port, image.proto, image.formats) == ("image", 16756, "udptl", ["t38"])
    assert image.codecs() == [] and not image.is_rtp
    assert image.address == "10.23.1.52"
    assert sdp.summary() == "image 16756 t38 sendrecv"


def test_hold_offers(shared_traces):
    # Frames 45 and 47 of erspan-gre-refer-subscribe-notify-hold.pcapng: c=0.0.0.0 + a=sendonly;
    # frame 49 is the recvonly answer (not a hold on its own).
    trace = shared_traces / "erspan-gre-refer-subscribe-notify-hold.pcapng"
    hold = parse_sdp(frame_sdp(trace, 45))
    assert hold.warnings == []
    assert hold.connection == "0.0.0.0" and hold.media[0].direction == "sendonly"
    assert hold.is_hold() and hold.origin.sess_version == 8001
    assert hold.summary() == "audio 10012 PCMA,PCMU,G729,G723,telephone-event sendonly (c=0.0.0.0)"
    other = parse_sdp(frame_sdp(trace, 47))
    assert other.is_hold() and other.media[0].attribute("direction") == "both"
    answer = parse_sdp(frame_sdp(trace, 49))
    assert answer.media[0].direction == "recvonly" and not answer.is_hold()
    assert answer.media[0].ptime == 20


def test_c_zero_alone_is_hold():
    sdp = parse_sdp(SIPP_OFFER.replace(b"c=IN IP4 127.0.0.1", b"c=IN IP4 0.0.0.0"))
    assert sdp.is_hold() and sdp.media[0].direction == "sendrecv"
    v6 = parse_sdp(SIPP_OFFER.replace(b"c=IN IP4 127.0.0.1", b"c=IN IP6 ::"))
    assert v6.is_hold()


def test_bad_lines_become_warnings():
    sdp = parse_sdp(b"v=0\r\no=- x 1 IN\r\ns=-\r\nthis is not sdp\r\nc=IN IP4\r\nt=0 0\r\n"
                    b"m=audio seven RTP/AVP 0\r\na=rtpmap:abc PCMU\r\na=ptime:fast\r\nb=AS\r\n"
                    b"Q=1\r\n")
    text = "\n".join(sdp.warnings)
    for expected in ("o= line has 4 fields", "not a <type>=<value> line", "bad c= line",
                     "bad port in m= line", "bad rtpmap", "bad ptime", "bad b= line",
                     "upper-case line type Q="):
        assert expected in text
    assert sdp.media[0].port == 0 and sdp.media[0].codecs() == [(0, "PCMU/8000")]


def test_empty_and_non_sdp_bodies():
    assert parse_sdp(b"").warnings == ["no v= line"]
    sdp = parse_sdp(b"<xml>not sdp</xml>")
    assert sdp.media == [] and len(sdp.warnings) == 2
    assert parse_sdp("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=x\nt=0 0\n").warnings == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_bytes_never_raise(body):
    sdp = parse_sdp(body)
    first = next((ln.strip() for ln in body.split(b"\n") if ln.strip(b"\r\n \t\x00")), b"")
    if not first.startswith(b"v="):
        assert sdp.warnings, body


_LINE = st.one_of(
    st.sampled_from(["v=0", "o=- 1 1 IN IP4 1.2.3.4", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
                     "m=audio 4000 RTP/AVP 0 8 101", "m=image 0 udptl t38", "a=sendonly",
                     "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=rtcp-mux",
                     "a=ptime:20", "b=AS:64", "m=", "a=", "c=", "a=rtpmap:", "a=rtcp:"]),
    st.text(max_size=40))


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=20), st.sampled_from(["\r\n", "\n"]))
def test_shuffled_sdp_lines_never_raise(lines, eol):
    sdp = parse_sdp(eol.join(lines).encode("utf-8", errors="surrogatepass"))
    sdp.summary()
    sdp.is_hold()
    for media in sdp.media:
        media.codecs()
        assert 0 <= media.port <= 65535


def test_unicode_digits_and_infinite_ptime():
    """"²".isdigit() is true but int("²") raises; "inf" is a float that round() cannot take."""
    sdp = parse_sdp("v=0\nm=audio ² RTP/AVP ² 8\na=ptime:inf\na=rtpmap:² x/²\nc=IN IP4 1.2.3.4\n")
    assert sdp.media[0].codecs() == [(8, "PCMA/8000")] and sdp.media[0].ptime is None
    assert any("bad ptime" in w for w in sdp.warnings) and any("bad rtpmap" in w for w in sdp.warnings)
