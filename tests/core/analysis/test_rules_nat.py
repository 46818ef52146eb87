"""NAT and addressing rules (catalog §7) on synthetic flows, and the blog trace (§14.1)."""

from __future__ import annotations

from core.analysis.test_rules_rtp import rtp_flow
from factory import Flow, request, response, sdp

from sipscope.core.analysis.rules.nat import address_class, private_range
from sipscope.core.media.calls import media_index
from sipscope.core.media.streams import MediaCollector
from sipscope.core.model.loader import load_files
from sipscope.core.sources.datagram import REASSEMBLED

PHONE_PUBLIC, PHONE_PRIVATE = "203.0.113.7:40211", "192.168.1.20:5060"
SERVER = "198.51.100.1:5060"
TIMER_A = (0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5)


def found(session, rule_id):
    return [f for f in session.findings if f.id == rule_id]


def test_address_classes_follow_d8_and_masked_hosts():
    assert address_class("192.168.1.107") == "private" and address_class("100.64.0.1") == "private"
    assert address_class("203.0.113.7") == "public" and address_class("fe80::1") == "private"
    assert address_class("24.33.2xx.3xx") == "public"            # hand-masked, leading octets known
    assert address_class("192.1xx.1.1") == "unknown" and address_class("pbx.example.com") == "unknown"
    assert private_range("10.1.2.3") == "10/8" and private_range("172.20.0.1") == "172.16/12"


# -- 7.1 nat-private-contact --------------------------------------------------------------------

def natted_registration(later_to: str, phone_source: str = PHONE_PUBLIC, server=SERVER):
    f = Flow()
    reg = f.add(0, phone_source, server, request(
        "REGISTER", "sip:example.com", via=PHONE_PRIVATE, contact="sip:101@192.168.1.20:5060",
        from_uri="sip:101@example.com", to_uri="sip:101@example.com", call_id="reg@x"))
    f.add(0.05, server, phone_source, response(reg, 200, "OK", to_tag="r",
                                               contact="sip:101@192.168.1.20:5060"))
    inv = f.add(60, server, later_to, request(
        "INVITE", "sip:101@192.168.1.20:5060", via=server, call_id="in@x", body=sdp("198.51.100.1"),
        contact="sip:pbx@198.51.100.1"))
    if later_to == phone_source:
        f.add(60.1, later_to, server, response(inv, 180, "Ringing", to_tag="p"))
    return f.session()


def contact_used():
    return natted_registration(PHONE_PRIVATE)


def same_lan():
    return natted_registration(PHONE_PRIVATE, phone_source=PHONE_PRIVATE, server="192.168.1.1:5060")


def test_private_contact_used_later_is_an_error():
    [finding] = found(contact_used(), "nat-private-contact")
    assert finding.severity == "error" and finding.evidence["private"] == "192.168.1.20:5060"
    assert "The device at 203.0.113.7:40211 sends from that public address but gives the " \
        "private address 192.168.1.20:5060 in its Contact" in finding.explanation
    assert "32 s" not in finding.explanation and "ALG" not in finding.explanation
    assert finding.messages == [0, 2]


def test_compensated_private_contact_is_info():
    [finding] = found(natted_registration(PHONE_PUBLIC), "nat-private-contact")
    assert finding.severity == "info" and finding.evidence["handled"]
    assert "NAT handled" in finding.explanation


# -- 7.2 nat-private-sdp ------------------------------------------------------------------------

def private_answer(rtp_to: str | None = "10.0.0.5:6000", peer="203.0.113.9",
                   answerer="198.51.100.4"):
    f = Flow()
    inv = f.add(0, f"{peer}:5060", f"{answerer}:5060", request(
        "INVITE", f"sip:bob@{answerer}", via=f"{peer}:5060", body=sdp(peer, 4000)))
    f.add(0.3, f"{answerer}:5060", f"{peer}:5060", response(
        inv, 200, "OK", to_tag="X", contact=f"sip:bob@{answerer}", body=sdp("10.0.0.5", 6000)))
    f.add(0.31, f"{peer}:5060", f"{answerer}:5060", request(
        "ACK", f"sip:bob@{answerer}", to_tag="X", via=f"{peer}:5060", branch="z9hG4bK-ack"))
    if rtp_to:
        rtp_flow(f, f"{peer}:4000", rtp_to, 0.4, 5.0, ssrc=9)
    return f.session(media=MediaCollector())


def rtp_to_private():
    return private_answer()


def same_network():
    return private_answer(rtp_to="10.0.0.5:6000", peer="10.0.0.9", answerer="10.0.0.4")


def test_rtp_sent_to_the_private_address_is_an_error():
    [finding] = found(rtp_to_private(), "nat-private-sdp")
    assert finding.severity == "error"
    assert finding.evidence["rtp_to_private"] == ["203.0.113.9:4000 -> 10.0.0.5:6000"]
    assert "asked to receive audio at 10.0.0.5:6000" in finding.explanation


def test_latching_peer_makes_it_info():
    [finding] = found(private_answer(rtp_to="198.51.100.4:31000"), "nat-private-sdp")
    assert finding.severity == "info" and "latches" in finding.explanation


def test_latched_stream_is_tied_to_the_call():
    """D10 NAT case: media sent to the answerer's public (latched) address, not its private c=."""
    session = private_answer(rtp_to="198.51.100.4:31000")
    [call] = session.calls
    [stream] = session.media.streams_for_call(session, call)
    assert (stream.src, stream.dst) == ("203.0.113.9:4000", "198.51.100.4:31000")
    assert media_index(session).toward(stream) == "callee"


def test_without_rtp_it_is_a_warning():
    [finding] = found(private_answer(rtp_to=None), "nat-private-sdp")
    assert finding.severity == "warning"


# -- 7.3 nat-response-misrouted -----------------------------------------------------------------

def challenge(to_port: int, received: bool, retransmit: bool = True):
    f = Flow()
    source = "198.51.100.9:40123"
    reg = request("REGISTER", "sip:example.com", via="192.168.0.10:5060", call_id="m@x",
                  from_uri="sip:101@example.com", to_uri="sip:101@example.com",
                  contact="sip:101@192.168.0.10:5060").replace(
        b"branch=z9hG4bK-1", b"branch=z9hG4bK-1;rport")
    f.add(0, source, SERVER, reg)
    answer = response(reg, 401, "Unauthorized", to_tag="s")
    if received:
        answer = answer.replace(b";rport", b";received=198.51.100.9;rport=40123")
    f.add(0.01, SERVER, f"198.51.100.9:{to_port}", answer)
    if retransmit:
        for t in (0.5, 1.5, 3.5):
            f.add(t, source, SERVER, reg)
    return f.session()


def sent_to_via_port():
    return challenge(5060, received=False)


def sent_to_source_port():
    return challenge(40123, received=True, retransmit=False)


def test_misrouted_response_explains_rport():
    [finding] = found(sent_to_via_port(), "nat-response-misrouted")
    assert finding.severity == "error"
    assert set(finding.evidence["cases"]) == {"a", "b", "c"}
    assert "reached the server from 198.51.100.9:40123" in finding.explanation
    assert "replied to 198.51.100.9:5060" in finding.explanation


# -- 7.4 nat-binding-expired --------------------------------------------------------------------

def idle_binding(keepalive_every: float | None = None):
    f = Flow()
    reg = f.add(0, PHONE_PUBLIC, SERVER, request(
        "REGISTER", "sip:example.com", via=PHONE_PRIVATE, contact="sip:101@192.168.1.20:5060",
        from_uri="sip:101@example.com", to_uri="sip:101@example.com", call_id="reg@x",
        extra=(("Expires", "3600"),)))
    f.add(0.05, SERVER, PHONE_PUBLIC, response(reg, 200, "OK", to_tag="r", extra=(
        ("Contact", "<sip:101@192.168.1.20:5060>;expires=3600"),)))
    if keepalive_every:
        t, n = keepalive_every, 0
        while t < 300:
            ping = f.add(t, PHONE_PUBLIC, SERVER, request(
                "OPTIONS", "sip:example.com", via=PHONE_PRIVATE, call_id=f"ka{n}@x",
                branch=f"z9hG4bK-ka{n}"))
            f.add(t + 0.02, SERVER, PHONE_PUBLIC, response(ping, 200, "OK", to_tag="k"))
            t, n = t + keepalive_every, n + 1
    invite = request("INVITE", "sip:101@192.168.1.20:5060", via=SERVER, call_id="in@x",
                     body=sdp("198.51.100.1"))
    for t in TIMER_A:
        f.add(300 + t, SERVER, PHONE_PUBLIC, invite)
    f.add(333, SERVER, "198.51.100.20:5060", request("OPTIONS", "sip:x@198.51.100.20",
                                                     via=SERVER, call_id="end@x"))
    return f.session()


def kept_alive():
    return idle_binding(keepalive_every=25.0)


def test_expired_binding_names_the_idle_gap():
    [finding] = found(idle_binding(), "nat-binding-expired")
    assert finding.severity == "warning" and finding.evidence["expires"] == 3600
    assert round(finding.evidence["idle_s"]) == 300
    assert "registered for 3600 seconds" in finding.explanation


# -- 7.5 net-udp-oversize -----------------------------------------------------------------------

def big_invite(size: int = 1620, fragmented: bool = True, answered: bool = False):
    f = Flow()
    body = sdp() + "a=x-padding:" + "x" * 2000 + "\r\n"
    msg = request("INVITE", "sip:bob@10.0.0.2", body=body)
    msg = msg[:size] if len(msg) > size else msg
    msg = request("INVITE", "sip:bob@10.0.0.2", body=body[: max(0, len(body) - (len(msg) - size))]) \
        if len(msg) != size else msg
    for t in TIMER_A if not answered else (0,):
        f.add(t, "10.0.0.1:5060", "10.0.0.2:5060", msg, flags=REASSEMBLED if fragmented else 0)
    if answered:
        f.add(0.1, "10.0.0.2:5060", "10.0.0.1:5060", response(msg, 180, "Ringing", to_tag="X"))
    f.add(40, "10.0.0.1:5060", "10.0.0.3:5060", request("OPTIONS", "sip:x@10.0.0.3",
                                                        call_id="later@x"))
    return f.session()


def small_invite():
    return big_invite(1100, fragmented=False)


def test_oversize_request_that_timed_out_is_a_warning():
    [finding] = found(big_invite(), "net-udp-oversize")
    assert finding.severity == "warning" and finding.evidence["largest"] == 1620
    assert "This INVITE was 1,620 bytes over UDP, split into IP fragments, and nothing " \
        "answered it within 32 s." in finding.explanation
    # advice from what the message holds: 3 codecs and one Via are no reason to trim them
    assert "offering 3 payload formats" in finding.explanation
    assert finding.explanation.endswith("Fix: switch SIP to TCP.")
    assert "codec" not in finding.explanation and "compact" not in finding.explanation


def test_delivered_oversize_request_is_info():
    [finding] = found(big_invite(answered=True), "net-udp-oversize")
    assert finding.severity == "info"
    assert "crossed this capture point and the largest was answered" in finding.explanation


def test_oversize_advice_names_the_codec_list_only_when_it_is_long():
    f = Flow()
    body = sdp(codecs="0 8 9 18 96 97 98 99 100 101") + "a=x-padding:" + "x" * 1200 + "\r\n"
    inv = f.add(0, "10.0.0.1:5060", "10.0.0.2:5060", request("INVITE", "sip:bob@10.0.0.2",
                                                            body=body))
    f.add(0.1, "10.0.0.2:5060", "10.0.0.1:5060", response(inv, 180, "Ringing", to_tag="X"))
    [finding] = found(f.session(), "net-udp-oversize")
    assert finding.evidence["sdp_formats"] == 10
    assert "Fix: switch SIP to TCP; trim the codec list." in finding.explanation


CASES = [
    ("nat-private-contact", contact_used, True),
    ("nat-private-contact", same_lan, False),
    ("nat-private-sdp", rtp_to_private, True),
    ("nat-private-sdp", same_network, False),
    ("nat-response-misrouted", sent_to_via_port, True),
    ("nat-response-misrouted", sent_to_source_port, False),
    ("nat-binding-expired", idle_binding, True),
    ("nat-binding-expired", kept_alive, False),
    ("net-udp-oversize", big_invite, True),
    ("net-udp-oversize", small_invite, False),
]


# -- the blog trace (catalog §14.1) ---------------------------------------------------------

def test_blog_trace_private_sdp_and_contact(shared_traces):
    session = load_files([str(shared_traces / "blog-grandstream-forked-call.txt")])
    [sdp_finding] = found(session, "nat-private-sdp")
    assert sdp_finding.severity == "warning"
    message = session.messages[sdp_finding.messages[0]]
    assert message.label == "200 OK" and message.src == "24.33.2xx.3xx:5060"
    assert "192.168.1.107" in sdp_finding.explanation
    assert "holds no RTP" in sdp_finding.explanation
    assert all(f.severity == "info" for f in found(session, "nat-private-contact"))
    assert not found(session, "nat-response-misrouted")        # masked hosts cannot be compared


def test_no_nat_findings_on_a_loopback_load_test(shared_traces):
    session = load_files([str(shared_traces / "load-sipp-1334-calls-register-403.pcapng")])
    assert not [f for f in session.findings if f.id.startswith(("nat-", "net-"))]


# -- issue 14 pattern 1: NAT only where the capture shows it --------------------------------------

def test_private_sdp_between_two_private_networks_is_no_nat():
    """Reviewed file 1: a carrier's 10.x caller and its 172.22.x SBC, no public address in the
    SIP path: no NAT, no one-way-audio prediction (even when the far SDP names a public host)."""
    f = Flow()
    caller, sbc = "10.252.47.107:5060", "172.22.204.85:5060"
    inv = f.add(0, caller, sbc, request("INVITE", "sip:b@172.22.204.85", via=caller,
                                        body=sdp("10.252.47.107", 10804)))
    f.add(0.5, sbc, caller, response(inv, 200, "OK", to_tag="X", contact="sip:b@172.22.204.85",
                                     body=sdp("30.255.104.172", 18000)))
    assert not found(f.session(), "nat-private-sdp")


def test_loopback_via_and_contact_of_a_scanner_are_no_nat():
    """Reviewed file 6: friendly-scanner's Via/Contact 127.0.1.1 from a public address (and the
    server's received=) is not a phone behind a NAT."""
    f = Flow()
    scanner = "147.32.77.113:5060"
    inv = f.add(0, scanner, "195.113.172.39:5060", request(
        "INVITE", "sip:100@195.113.172.39", via="127.0.1.1:5060", contact="sip:100@127.0.1.1:5060",
        body=sdp("127.0.1.1")).replace(b"branch=z9hG4bK-1", b"branch=z9hG4bK-1;rport"))
    f.add(0.01, "195.113.172.39:5060", scanner, response(inv, 401, "Unauthorized", to_tag="a")
          .replace(b";rport", b";received=147.32.77.113;rport=5060"))
    session = f.session()
    assert not [x for x in session.findings if x.id.startswith("nat-")]


def behind_nat_seen_inside(answered: bool = True):
    """Reviewed file 4: a gateway on a public-range LAN address (192.10.1.65) behind a NAT; the
    server's received= shows the public address it saw."""
    f = Flow()
    gw, itsp = "192.10.1.65:5065", "208.93.9.155:5065"
    reg = f.add(0, gw, itsp, request(
        "REGISTER", "sip:itsp.example", via=gw, contact="sip:1@192.10.1.65:5065",
        call_id="reg@gw").replace(b"branch=z9hG4bK-1", b"branch=z9hG4bK-1;rport"))
    if answered:
        f.add(0.05, itsp, gw, response(reg, 200, "OK", to_tag="r").replace(
            b";rport", b";received=128.254.249.186;rport=33912"))
    return f.session()


def test_nat_shown_by_received_is_info_and_names_the_public_address():
    [finding] = found(behind_nat_seen_inside(), "nat-private-contact")
    assert finding.severity == "info" and finding.evidence["evidence"] == "Via received"
    assert finding.evidence["public"] == "128.254.249.186:33912"
    assert "208.93.9.155:5065 saw the request come from 128.254.249.186:33912" \
        in finding.explanation
    assert "NAT handled here: the server answers to the public port (rport=33912)" \
        in finding.explanation


def vpn_register(answered: bool):
    """Reviewed file 5: Via/Contact 10.133.206.47, packets from the tunnel address 10.8.0.1."""
    f = Flow()
    reg = request("REGISTER", "sip:172.16.1.75", via="10.133.206.47:64538",
                  contact="sip:45191@10.133.206.47:64538")
    for t in (TIMER_A if not answered else (0,)):
        f.add(t, "10.8.0.1:64538", "172.16.1.75:5060", reg)
    if answered:
        f.add(0.05, "172.16.1.75:5060", "10.8.0.1:64538", response(reg, 200, "OK", to_tag="r"))
    return f.session()


def test_header_address_not_the_source_with_no_answer_is_a_warning_not_nat():
    [finding] = found(vpn_register(False), "nat-private-contact")
    assert finding.severity == "warning"
    assert finding.title == ("Packet source 10.8.0.1:64538 is not the Via and Contact address "
                             "10.133.206.47:64538")
    assert "NAT" not in finding.explanation and "tunnel" in finding.explanation
    # answered (reviewed file 9: an anonymised capture): the mismatch had no effect, no finding
    assert not found(vpn_register(True), "nat-private-contact")


def inside_answer(media_to_port: int | None, received: bool = True):
    """The capture inside the NAT (reviewed file 3): a private gateway, whose registrar saw its
    REGISTER come from 204.80.194.3 (Via received=), answers with private SDP to a public peer."""
    f = Flow()
    gw, peer = "192.168.3.15:5060", "162.244.97.41:5060"
    reg = f.add(-5, gw, peer, request(
        "REGISTER", "sip:mymtm.us", via=gw, call_id="reg@gw", contact="sip:gw@192.168.3.15"
    ).replace(b"branch=z9hG4bK-1", b"branch=z9hG4bK-1;rport"))
    answer = response(reg, 200, "OK", to_tag="r")
    if received:
        answer = answer.replace(b";rport", b";received=204.80.194.3;rport=44137")
    f.add(-4.9, peer, gw, answer)
    inv = f.add(0, peer, gw, request("INVITE", "sip:gw@192.168.3.15", via=peer,
                                     body=sdp("162.244.97.41", 16834)))
    f.add(0.1, gw, peer, response(inv, 200, "OK", to_tag="X", contact="sip:gw@192.168.3.15",
                                  body=sdp("192.168.3.15", 10340)))
    if media_to_port:
        rtp_flow(f, "162.244.97.41:16834", f"192.168.3.15:{media_to_port}", 0.3, 4.0, ssrc=7)
    return f.session(media=MediaCollector())


def test_inside_the_nat_media_at_the_advertised_port_is_info():
    [finding] = found(inside_answer(10340), "nat-private-sdp")
    assert finding.severity == "info" and "Media reached it here through the NAT" \
        in finding.explanation
    assert "162.244.97.41:5060 saw its requests come from 204.80.194.3:44137" \
        in finding.explanation


def test_inside_without_a_servers_word_a_private_to_public_sdp_is_not_reported():
    """Address classes alone prove no NAT (the SIP-heavy benchmark's PBX talks to public
    trunks from 10.0.0.10 with no received=): no finding."""
    assert not found(inside_answer(None, received=False), "nat-private-sdp")


def test_inside_the_nat_media_at_another_port_is_a_warning():
    [finding] = found(inside_answer(10338), "nat-private-sdp")
    assert finding.severity == "warning"
    assert "arrived at 192.168.3.15:10338 instead" in finding.explanation
    assert finding.evidence["elsewhere"] == ["162.244.97.41:16834 -> 192.168.3.15:10338"]


def test_via_port_without_rport_is_a_warning_without_any_nat():
    """Reviewed file 12: loopback, sent from an ephemeral port, Via says 5061, no rport: the
    answers go to 5061 (RFC 3261 §18.2.2)."""
    f = Flow()
    reg = f.add(0, "127.0.0.1:60713", "127.0.0.1:5060", request(
        "REGISTER", "sip:127.0.0.1", via="127.0.0.1:5061", contact="sip:1@127.0.0.1:5061"))
    f.add(0.01, "127.0.0.1:5060", "127.0.0.1:5061", response(reg, 200, "OK", to_tag="r"))
    [short] = found(f.session(), "nat-response-misrouted")
    assert "Whether the client got them cannot be seen here." in short.explanation
    f.add(5.0, "127.0.0.1:5068", "127.0.0.1:5060", request(
        "OPTIONS", "sip:127.0.0.1", call_id="later@x", via="127.0.0.1:5068", contact=None))
    [finding] = found(f.session(), "nat-response-misrouted")
    assert finding.severity == "warning" and finding.evidence["cases"] == ["a'"]
    assert not finding.evidence["nat"] and "NAT" not in finding.explanation
    assert "Here the client went on as if it got them" in finding.explanation


def test_a_client_that_sent_the_request_again_from_another_port_is_not_said_to_go_on(
        shared_traces):
    """Tier-2 review (reviewed file 12): f15 sends the REGISTER again (same branch and CSeq)
    from a new port; the text said the client 'went on as if it got them (it did not resend)'."""
    from sipscope.core.model.loader import load_files
    session = load_files([str(shared_traces / "real" /
                              "udp-loopback-kamailio-400-content-length-lf-prefixed-ack.pcap")])
    texts = [f.explanation for f in session.findings if f.id == "nat-response-misrouted"]
    assert texts and not any("did not resend" in t for t in texts)
