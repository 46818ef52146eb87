"""NAT and addressing fault rules (catalog §7): private Contact / SDP addresses, misrouted
responses, expired NAT bindings, oversize UDP requests.

Addresses follow D8.  Hand-masked hosts of text traces (`24.33.2xx.3xx`) are judged by their
visible leading octets; host names are neither public nor private.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache

from sipscope.core.analysis.context import TIMER_B, Context, is_ip, is_private
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.text import plural
from sipscope.core.analysis.rules.sdp import Collector, fill, who
from sipscope.core.media.attach import norm_ip
from sipscope.core.media.calls import CALLEE, CALLER, media_index
from sipscope.core.model.message import Message, host_of, port_of
from sipscope.core.sip.message import split_head
from sipscope.core.sip.params import split_hostport
from sipscope.core.sources.datagram import ADDR_INFERRED, MASKED_ADDR, REASSEMBLED

PUBLIC, PRIVATE, UNKNOWN = "public", "private", "unknown"
_RANGES_V4 = ((10, None, "10/8"), (127, None, "127/8"), (192, (168, 168), "192.168/16"),
              (172, (16, 31), "172.16/12"), (100, (64, 127), "100.64/10"),
              (169, (254, 254), "169.254/16"))
_PRIVATE_CONTACT = re.compile(
    rb"^(?:contact|m)[ \t]*:[^\r\n]*?[@:/<\s\[](?:10|127|172|192|100|169)\.\d|"
    rb"^(?:contact|m)[ \t]*:[^\r\n]*?\[f[cde]", re.I | re.M)
_CONTACT_HOST = re.compile(rb"^(?:contact|m)[ \t]*:[^\r\n]*?sips?:(?:[^@;>\s]*@)?([^;>:\s]+)",
                           re.I | re.M)
_CONTENT_TYPE = re.compile(rb"(?im)^(?:content-type|c)[ \t]*:[ \t]*([^\r\n;]*)")
LOOK_PER_SOURCE = 3             # requests per source examined for received= / a Via mismatch
UDP_LIMIT = 1300                # RFC 3261 §18.1.1
MTU = 1500
IDLE_GAP = 30.0                 # §7.4 (3)
NATED_EXPIRY = 120              # §7.4 (1)


@lru_cache(maxsize=65536)
def address_class(host: str) -> str:
    """'public', 'private' (D8) or 'unknown' (host names, unspecified, half-masked text)."""
    host = host.strip().strip("[]")
    if not host or host in ("0.0.0.0", "::"):
        return UNKNOWN
    if is_ip(host):
        return PRIVATE if is_private(host) else PUBLIC
    parts = host.split(".")
    if len(host) > 15 or len(parts) != 4 or not parts[0].isdigit() or not all(
            p and all(ch.isdigit() or ch in "xX*#" for ch in p) for p in parts):
        return UNKNOWN
    first = int(parts[0])
    second = int(parts[1]) if parts[1].isdigit() else None
    for octet, seconds, _ in _RANGES_V4:
        if first != octet:
            continue
        if seconds is None:
            return PRIVATE
        if second is None:
            return UNKNOWN
        return PRIVATE if seconds[0] <= second <= seconds[1] else PUBLIC
    return PUBLIC if first < 224 else UNKNOWN


def private_range(host: str) -> str:
    """The D8 range a private address is in ('192.168/16', ...), '' when not private."""
    host = host.strip().strip("[]")
    if address_class(host) != PRIVATE:
        return ""
    parts = host.split(".")
    if len(parts) == 4 and parts[0].isdigit():
        first = int(parts[0])
        for octet, _, name in _RANGES_V4:
            if first == octet:
                return name
    return "ipv6-local"


def is_public(host: str) -> bool:
    return address_class(host) == PUBLIC


def _addr(host: str, port: int | None) -> str:
    text = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{text}:{port}" if port else text


# -- 7.1 nat-private-contact --------------------------------------------------------------------
#
# NAT is shown by evidence, never by an address class alone (issue 14, pattern 1):
#   (outside) a public packet source with a private address in its Contact or Via;
#   (received) the server's response marks the Via received=R, R not the Via host (RFC 3581 §4):
#              the server saw the request come from another address;
# and (mismatch) a Via host that is not the packet source, with no answer at all, is reported as
# an address mismatch (a tunnel or second interface), not as NAT.  Private-to-private traffic and
# loopback addresses (127/8, ::1: never behind a NAT, a stack bound to localhost or a forged
# header) are not NAT.

PRIVATE_CONTACT_TEXT = (
    "{device} sends from the public address {public_ip} but gives the private address "
    "{private_addr} in its {Contact|Via}: it is behind a NAT router that does not rewrite SIP. "
    "{what goes to that address: incoming calls / requests inside the call / responses}, unless "
    "the server or an SBC uses the packet source instead. {what the capture shows: a request "
    "sent to the private address (error) / NAT handled (info) / not shown}. {advice when not "
    "handled}")


@rule("nat-private-contact", text=PRIVATE_CONTACT_TEXT)
def private_contact(ctx: Context) -> list[Finding]:
    out = Collector()
    requests_to: dict[str, list[Message]] | None = None
    examined: dict[str, int] = {}
    for message in ctx.session.messages:
        if message.copy or not _contact_candidate(message):
            continue
        if is_public(message.src_host):
            private = _outside_private(message)
            if private is not None:
                if requests_to is None:
                    requests_to = _requests_by_destination(ctx)
                _contact_finding(ctx, out, message, private, requests_to)
                continue
        if not message.is_request or message.flags & MASKED_ADDR:
            continue
        # one finding per source: a few requests of each source are enough to look at
        looked = examined.get(message.src, 0)
        if looked >= LOOK_PER_SOURCE:
            continue
        examined[message.src] = looked + 1
        received = _received_elsewhere(message)
        if received is not None:
            if requests_to is None:
                requests_to = _requests_by_destination(ctx)
            _received_finding(ctx, out, message, received, requests_to)
        elif not is_public(message.src_host) and _mismatch_candidate(message):
            _mismatch_finding(ctx, out, message)
    return out.result()


def _is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    return host.startswith("127.") or host == "::1"


def _outside_private(message: Message):
    """(host, port, header) of a private, non-loopback Contact/Via address of a message that came
    from a public address; None when there is none."""
    via_host = split_hostport(message.sent_by)[0] if message.is_request else ""
    if address_class(via_host) != PRIVATE and not _PRIVATE_CONTACT.search(message.raw):
        return None
    sip = message.sip
    contact = sip.contacts[0] if sip.contacts else None
    uri = contact.uri if contact is not None else None
    if uri is not None and address_class(uri.host) == PRIVATE and not _is_loopback(uri.host):
        return (uri.host, uri.port or 5060, "Contact")
    if message.is_request:
        host, port = split_hostport(message.sent_by)
        if address_class(host) == PRIVATE and not _is_loopback(host):
            return (host, port or 5060, "Via")     # only responses use it (§18.2.2)
    return None


def _contact_candidate(message: Message) -> bool:
    """§7.1: a REGISTER, an INVITE, or a 1xx/2xx with a To tag answering an INVITE."""
    if message.is_request:
        return message.method in ("REGISTER", "INVITE") and not message.to_tag
    return message.cseq_method == "INVITE" and 100 < message.status < 300 and bool(message.to_tag)


def _requests_by_destination(ctx: Context) -> dict[str, list[Message]]:
    found: dict[str, list[Message]] = {}
    for message in ctx.session.messages:
        if message.is_request and not message.copy:
            found.setdefault(message.dst, []).append(message)
            found.setdefault(host_of(message.dst), []).append(message)
    return found


_REACHES = {
    ("Contact", "REGISTER"): "Incoming calls are sent to the registered Contact, which cannot be "
                             "reached from outside",
    ("Contact", ""): "Requests inside this call (the ACK, re-INVITEs, the hang-up) are sent to that "
                     "Contact, which cannot be reached from outside",
    ("Via", ""): "Responses are sent to the Via address (RFC 3261 §18.2.2), which cannot be "
                 "reached from outside",
}
NAT_ADVICE = (" Check the phone's NAT settings (STUN, outbound proxy, rport) and the server's NAT "
              "options (for example 'force rport' / 'rewrite contact').")


def _contact_finding(ctx, out: Collector, message: Message, private, requests_to) -> None:
    host, port, where = private
    private_addr = _addr(host, port)
    later_public = [m for m in requests_to.get(message.src, []) if m.ts > message.ts
                    and m.src != message.src][:1]
    later_private = [m for m in requests_to.get(host, []) if m.ts > message.ts
                     and is_public(m.src_host)][:1]
    severity = "warning"
    compensation = _compensated(message) if where == "Contact" else _via_compensated(message)
    evidence = {"public": message.src, "private": private_addr, "where": where,
                "evidence": "public source, private header",
                "user_agent": message.sip.user_agent,
                "later": [f"{m.method} {m.src} -> {m.dst}" for m in later_private + later_public]}
    if later_private:
        severity = "error"
        note = (f" A later {later_private[0].method} was actually sent to the private address "
                f"({later_private[0].dst}).")
    elif compensation or later_public:
        severity = "info"
        note = " NAT handled here: " + (compensation or f"later requests ({later_public[0].method}) "
                                        f"were sent to the public address {message.src}") + "."
    else:
        note = " The capture does not show whether anything is sent there." + NAT_ADVICE
    evidence["handled"] = severity == "info"
    reaches = _REACHES.get((where, message.method if where == "Contact" and
                            message.method == "REGISTER" else ""), _REACHES[(where, "")])
    explanation = (f"{who(ctx, message)[0].upper()}{who(ctx, message)[1:]} sends from that public "
                   f"address but gives the private address {private_addr} in its "
                   f"{where}: it is behind a NAT router that does not rewrite SIP. {reaches}, "
                   "unless the server or an SBC uses the packet source instead." + note)
    messages = [message] + later_private + later_public
    call = ctx.session.call_of(message)
    key = (message.call_id, message.src, private_addr)
    out.add(key, lambda: ctx.finding(
        "nat-private-contact", f"Private {where} {private_addr} from public {message.src}",
        explanation, messages, call=call, severity=severity,
        rfc="RFC 3261 §8.1.1.8, §12.1.1; RFC 3581; RFC 5626", evidence=evidence), messages)


def _received_elsewhere(request: Message):
    """(server's response, received host, rport) when the server marked this request's Via with
    a received= host that is not the Via host (RFC 3581 §4: the server saw another source)."""
    via_host = split_hostport(request.sent_by)[0]
    if not is_ip(via_host) or _is_loopback(via_host) or request.transaction is None:
        return None
    response = next((m for m in request.transaction.messages
                     if m.is_response and m.src == request.dst), None)
    if response is None or b"received=" not in response.raw:
        return None                           # the common case, decided without a parse
    via = response.sip.top_via
    if via is None or not via.received or norm_ip(via.received) in (
            norm_ip(via_host), norm_ip(request.src_host)):
        return None          # the server saw the source this capture sees: no address change
    if not is_ip(via.received) or _is_loopback(via.received):
        return None
    return response, via.received, via.rport if (via.rport or "").isdigit() else ""


def _received_finding(ctx, out: Collector, message: Message, received, requests_to) -> None:
    """NAT shown by the server's received= (capture inside the NAT, or a public-range LAN)."""
    response, public_host, rport = received
    public = f"{public_host}:{rport}" if rport else public_host
    via_addr = message.sent_by
    contact = message.sip.contacts[0].uri if message.sip.contacts else None
    contact_addr = contact.hostport if contact is not None else ""
    reached = [m for m in requests_to.get(message.src, []) if m.ts > message.ts
               and m.src_host != message.src_host][:1]
    compensation = _compensated(message)
    handled = []
    if rport:
        handled.append(f"the server answers to the public port (rport={rport}), and the answers "
                       "reached it")
    if compensation:
        handled.append(compensation)
    if reached:
        handled.append(f"a later {reached[0].method} from {reached[0].src} reached it through the "
                       "NAT")
    text = (f"{who(ctx, message)[0].upper()}{who(ctx, message)[1:]} is behind a NAT: its Via says "
            f"{via_addr}" + (f" and its Contact {contact_addr}" if contact_addr else "")
            + f", but {response.src} saw the request come from {public} (received= in its "
            f"{response.label}, RFC 3581 §4).")
    if handled:
        text += " NAT handled here: " + "; ".join(handled) + "."
    if not reached and message.method == "REGISTER" and not compensation:
        text += (f" Whether calls from outside reach its Contact {contact_addr or via_addr} cannot "
                 "be seen here: that needs the server to use the public address, or keep-alives "
                 "that hold the NAT mapping open.")
    messages = [message, response] + reached
    key = ("received", message.src, public_host)
    out.add(key, lambda: ctx.finding(
        "nat-private-contact", f"Behind NAT: {message.src} is seen as {public}", text, messages,
        call=ctx.session.call_of(message), severity="info",
        rfc="RFC 3581 §4; RFC 3261 §18.2.2; RFC 5626",
        evidence={"private": via_addr, "public": public, "contact": contact_addr,
                  "where": "Via", "evidence": "Via received", "handled": True,
                  "source": message.src, "server": response.src, "rport": rport,
                  "user_agent": message.sip.user_agent, "response": response.label,
                  "reached_by": [f"{m.method} {m.src}" for m in reached]}), messages)


def _mismatch_candidate(message: Message) -> bool:
    """A UDP REGISTER/INVITE whose Via host is an IP address other than its packet source, to
    which nothing at all answered (RFC 3261 §18.2.2 sends answers to the Via address)."""
    if (message.transport or "UDP").upper() != "UDP":
        return False
    via_host = split_hostport(message.sent_by)[0]
    if not is_ip(via_host) or _is_loopback(via_host) or norm_ip(via_host) == norm_ip(
            message.src_host):
        return False
    transaction = message.transaction
    return transaction is not None and not any(m.is_response for m in transaction.messages)


def _mismatch_finding(ctx, out: Collector, message: Message) -> None:
    copies = [m for m in message.transaction.messages if m.is_request]
    contact = message.sip.contacts[0].uri if message.sip.contacts else None
    contact_addr = contact.hostport if contact is not None else ""
    where = "Via and Contact" if contact is not None and norm_ip(contact.host) == norm_ip(
        split_hostport(message.sent_by)[0]) else "Via"
    via_rport = message.sip.top_via.rport is not None if message.sip.top_via else False
    text = (f"{who(ctx, message)[0].upper()}{who(ctx, message)[1:]} names {message.sent_by} in its "
            f"{where}, but its packets leave from {message.src}: it sends through another "
            "interface or a tunnel (a VPN, for example), or something on the way changes the "
            f"source address. Nothing answered this {message.method} "
            f"({plural(len(copies), 'transmission')}). A server answers to the Via address"
            + (f" (with rport, to the packet source {message.src})" if via_rport else "")
            + " (RFC 3261 §18.2.2; RFC 3581)"
            + (f", and sends incoming requests to the Contact {contact_addr}, which must be "
               "reachable from it" if contact_addr else "") + ".")
    key = ("mismatch", message.src, message.sent_by)
    out.add(key, lambda: ctx.finding(
        "nat-private-contact", f"Packet source {message.src} is not the {where} address "
        f"{message.sent_by}", text, copies, call=ctx.session.call_of(message), severity="warning",
        rfc="RFC 3261 §18.2.2; RFC 3581",
        evidence={"via": message.sent_by, "source": message.src, "contact": contact_addr,
                  "where": where, "evidence": "header address is not the packet source",
                  # nothing answered at all, so nothing shows this mismatch made the request
                  # go unanswered: the runner links no timeout to it (runner.can_explain)
                  "explains": False,
                  "answered": False, "transmissions": len(copies),
                  "user_agent": message.sip.user_agent}), copies)


def _via_compensated(message: Message) -> str:
    """A private Via only routes responses: rport, or a received= in the reply, handles it."""
    via = message.sip.top_via
    if via is not None and via.rport is not None:
        return "the request asks for rport (RFC 3581), so responses follow the packet source"
    for response in message.transaction.messages if message.transaction else ():
        if response.is_response:
            top = response.sip.top_via
            if top is not None and top.received:
                return f"the server marks its responses received={top.received}"
            break
    return ""


def _compensated(message: Message) -> str:
    """The registrar's 2xx marks the Contact with received/alias, or carries Path (RFC 3327)."""
    if message.method != "REGISTER" or message.transaction is None:
        return ""
    for response in message.transaction.messages:
        if 200 <= response.status < 300:
            sip = response.sip
            if sip.get("Path"):
                return "the registrar's 200 OK carries a Path header"
            for contact in sip.contacts:
                names = {name.lower() for name, _ in contact.params}
                if names & {"received", "alias"}:
                    return "the registrar's 200 OK records the public address (received/alias)"
    return ""


# -- 7.2 nat-private-sdp ------------------------------------------------------------------------

PRIVATE_SDP_TEXT = (
    "{device} asked to receive {media} at {private_addr}:{port}, a private address, and {NAT "
    "evidence: it sends from a public address / it talks to a public address}. Nothing on the "
    "internet can send to a private address, so media reaches it only through a media relay, "
    "symmetric RTP (the far end sends back to where the media comes from) or ICE. {what the "
    "capture shows: RTP sent to the private address (error) / media reached it (info) / media "
    "went to another port / no RTP captured}. {advice when not handled}")


@rule("nat-private-sdp", text=PRIVATE_SDP_TEXT, index="media")
def private_sdp(ctx: Context) -> list[Finding]:
    out = Collector()
    index = media_index(ctx.session)
    for call in ctx.session.calls:
        for ms in index.call_sessions(call):
            for exchange in ms.exchanges:
                for side in (CALLER, CALLEE):
                    message, desc = exchange.message_of(side), exchange.desc_of(side)
                    if message is None or desc is None:
                        continue
                    peer_side = CALLEE if side == CALLER else CALLER
                    peer_msg, peer_desc = exchange.message_of(peer_side), exchange.desc_of(peer_side)
                    for line in desc.media:
                        if line.rejected or not line.address or \
                                line.kind not in ("audio", "video", "image"):
                            continue
                        if address_class(line.address) != PRIVATE or _is_loopback(line.address):
                            continue
                        talks_to = [peer_msg.src_host] if peer_msg is not None \
                            else [message.dst_host]
                        peer_hosts = list(talks_to)
                        if peer_desc is not None:
                            peer_hosts += [m.address for m in peer_desc.media if m.address]
                        nat = _nat_evidence(ctx, message, talks_to)
                        if not nat:
                            continue
                        _sdp_finding(ctx, out, call, ms, side, message, desc, line, peer_hosts,
                                     nat)
    return out.result()


def _nat_evidence(ctx: Context, message: Message, talks_to: list[str]) -> str:
    """Why a private SDP address must cross a NAT, '' when nothing shows it (D8; issue 14):
    a public packet source (the capture sees the NAT's outside), or a private sender talking to
    a public address whose server saw it come from another address (Via received=, the
    capture sees the NAT's inside).  Address classes alone prove no NAT: private to private,
    or private to public without a server's word, is not reported."""
    carrier = message.src_host
    if address_class(carrier) == PUBLIC:
        return f"its SDP came from the public address {message.src}"
    public = [h for h in talks_to if address_class(h) == PUBLIC]
    if address_class(carrier) != PRIVATE or not public:
        return ""
    seen = _seen_as(ctx, carrier)
    if seen is None:
        return ""
    server, public_addr = seen
    return (f"it is behind a NAT: {server} saw its requests come from {public_addr} (Via "
            "received=)")


def _seen_as(ctx: Context, host: str) -> tuple[str, str] | None:
    """(server, public address) when a server's Via received= shows that requests from this
    host reached it from another address (RFC 3581 §4); a few requests per host are looked at,
    once per session."""
    cache = getattr(ctx, "_nat_seen_as", None)
    if cache is None:
        by_host: dict[str, list[Message]] = {}
        for message in ctx.session.messages:
            if message.is_request and not message.copy and message.method != "ACK":
                found = by_host.setdefault(message.src_host, [])
                if len(found) < 2 * LOOK_PER_SOURCE:
                    found.append(message)
        cache = ctx._nat_seen_as = {"": by_host}          # type: ignore[attr-defined]
    if host not in cache:
        result = None
        for request in cache[""].get(host, ()):
            received = _received_elsewhere(request)
            if received is not None:
                response, public_host, rport = received
                result = (response.src, f"{public_host}:{rport}" if rport else public_host)
                break
        cache[host] = result
    return cache[host]


_PACKET_WORDS = {"rtp": "RTP packet", "udptl": "fax (UDPTL) packet", "stun": "STUN packet",
                 "dtls": "DTLS packet", "zrtp": "ZRTP packet"}


def _sdp_finding(ctx, out: Collector, call, ms, side, message: Message, desc, line,
                 peer_hosts: list[str], nat: str) -> None:
    private_addr = line.address
    target = _addr(private_addr, line.port)
    media = getattr(ctx.session.media, "streams", None) or []
    flows = list(media) + list(getattr(ctx.session.media, "other", None) or [])
    peers = {norm_ip(h) for h in peer_hosts}
    inside = address_class(message.src_host) == PRIVATE
    evidence = {"address": target, "sdp_from": message.src, "ice": desc.ice, "nat": nat,
                "user_agent": message.sip.user_agent, "media": line.kind}
    severity, note = "warning", ""
    if not inside:
        to_private = [s for s in media if s.dst == target and is_public(host_of(s.src))]
        latched = [s for s in ms.streams(side) if host_of(s.dst) == message.src_host]
        if to_private:
            severity = "error"
            note = (f" RTP from {to_private[0].src} was captured going to the private address "
                    f"({to_private[0].packets} packets): that media goes nowhere.")
            evidence["rtp_to_private"] = [f"{s.src} -> {s.dst}" for s in to_private[:5]]
            evidence["packets"] = to_private[0].packets
        elif desc.ice:
            severity = "info"
            note = " The SDP carries ICE candidates (a=candidate), which normally take over."
        elif latched:
            severity = "info"
            note = (f" The far end latches: it sends media to the NAT's public address "
                    f"({latched[0].dst}) instead (symmetric RTP), so media can still flow.")
            evidence["latched"] = [f"{s.src} -> {s.dst}" for s in latched[:5]]
    else:
        toward = [s for s in flows if host_of(s.dst) == private_addr and s.last_ts >= message.ts]
        arrived = [s for s in toward if s.dst == target]
        elsewhere = [s for s in toward if s.dst != target and norm_ip(host_of(s.src)) in peers
                     and s.first_ts >= message.ts - 1.0]
        if arrived:
            severity = "info"
            note = (f" Media reached it here through the NAT ({arrived[0].src} -> {target}, "
                    f"{arrived[0].packets} packets): the far end sends to the NAT's public "
                    "mapping (symmetric RTP) and the router forwards it.")
            evidence["arrived"] = [f"{s.src} -> {s.dst}" for s in arrived[:5]]
            evidence["packets"] = arrived[0].packets
        elif elsewhere:
            there = elsewhere[0].dst
            same = [s for s in elsewhere if s.dst == there and s.src == elsewhere[0].src]
            # every packet that went there counts: the audio RTP and, after a T.38 switch, the
            # fax (UDPTL) packets the far end sent to the old port too (reviewed file 3)
            counts: dict[str, int] = {}
            for flow in same:
                kind = getattr(flow, "kind", "rtp")
                counts[kind] = counts.get(kind, 0) + flow.packets
            words = " and ".join(plural(n, _PACKET_WORDS.get(k, f"{k} packet"))
                                 for k, n in counts.items())
            note = (f" Media for it arrived at {there} instead ({elsewhere[0].src}, {words} "
                    f"after this SDP) and none at {target}: the far end keeps sending to an "
                    "older NAT mapping.")
            evidence["elsewhere"] = [f"{s.src} -> {s.dst}" for s in elsewhere[:5]]
            evidence["packets"] = sum(counts.values())
            evidence["packets_by_kind"] = counts
        elif desc.ice:
            severity = "info"
            note = " The SDP carries ICE candidates (a=candidate), which normally take over."
    if severity == "warning" and not note:
        note = (" The capture holds no RTP, so whether media reached it cannot be seen here."
                if not flows else f" No media toward {target} appears in the capture.")
    if severity != "info":
        note += (" Check the phone's NAT settings (STUN/ICE) and the media relay or NAT handling "
                 "of the server it talks to.")
    device = who(ctx, message)
    kind = {"image": "fax", "video": "video"}.get(line.kind, "audio")
    explanation = (f"{device[0].upper()}{device[1:]} asked to receive {kind} at {target}, a private "
                   f"address, and {nat}. Nothing on the internet can send to a private address, "
                   "so media reaches it only through a media relay, symmetric RTP (the far end "
                   "sends back to where the media comes from) or ICE." + note)
    messages = [message]          # the SDP that names the address (it decides the time, §13.1)
    key = (call.call_id, target)
    out.add(key, lambda: ctx.finding(
        "nat-private-sdp", f"SDP asks for media at private {target} (sent from {message.src})",
        explanation, messages, call=call, severity=severity,
        rfc="RFC 8866 §5.7; RFC 4961; RFC 8445", evidence=evidence), messages)


# -- 7.3 nat-response-misrouted -----------------------------------------------------------------

MISROUTED_TEXT = (
    "The request {reached the server from ip_s:port_s, its address after a NAT router, | was sent "
    "from ip_s:port_s} but {the server replied to dest | its Via names another port without "
    "rport, so the server answers there (RFC 3261 §18.2.2)}. {what the capture shows: the client "
    "kept resending (the replies did not reach it) / it went on as if it got them / not shown}. "
    "Turn on 'rport' (symmetric response routing, RFC 3581) on the client, or force it on the "
    "server (for example Asterisk's force_rport, or Kamailio's force_rport()){, and check that "
    "the router keeps the source port}.")


@rule("nat-response-misrouted", text=MISROUTED_TEXT)
def response_misrouted(ctx: Context) -> list[Finding]:
    out = Collector()
    for transaction in ctx.session.transactions:
        request = transaction.request
        if request is None or request.method == "ACK" or (request.transport or "UDP") != "UDP":
            continue
        responses = [m for m in transaction.messages if m.is_response]
        if not responses:
            continue
        problems = _misrouting(request, responses, transaction)
        if problems:
            _misrouted_finding(ctx, out, request, responses, problems)
    return out.result()


def _misrouting(request: Message, responses: list[Message], transaction) -> list[tuple]:
    """§7.3 sub-cases for one UDP request and the responses its server sent back."""
    host_s, port_s = norm_ip(request.src_host), port_of(request.src)
    host_v, port_v = split_hostport(request.sent_by)
    if not host_v or port_s is None or request.flags & MASKED_ADDR:
        return []
    host_v, port_v = norm_ip(host_v), port_v or 5060
    # D8 "crossed a NAT": a private sent-by seen from a public source (anonymised captures and
    # hosts with several addresses differ too, but then nothing is known about a NAT)
    nat = address_class(host_v) == PRIVATE and address_class(host_s) == PUBLIC
    server_side = [r for r in responses if r.src == request.dst]
    late = _late_retransmissions(request, responses, transaction)
    if not nat and not late and all(r.dst == request.src for r in server_side):
        return []                     # the common case, decided without parsing anything
    top = request.sip.top_via
    if top is None or top.transport not in ("UDP", ""):
        return []
    rport = top.rport is not None
    expected = _addr(host_s, port_s if rport else port_v)
    problems = []
    # (a) a response sent neither to the packet source nor to where RFC 3261/3581 say
    wrong = [r for r in server_side if r.dst != request.src and r.dst != expected]
    if wrong:
        problems.append(("error", "a", f"the response went to {wrong[0].dst} instead of "
                                       f"{expected}", wrong[:1]))
    elif not rport and port_s != port_v and any(r.dst != request.src for r in server_side):
        # with or without a NAT: a client sending from one port and naming another in its Via
        # without rport gets its answers on the Via port (RFC 3261 §18.2.2; reviewed file 12)
        problems.append(("warning", "a'", f"the request has no rport and arrived from port "
                                          f"{port_s} while its Via says {port_v}: the reply "
                                          f"goes to port {port_v}", server_side[:1]))
    first = server_side[0] if server_side else None
    via = first.sip.top_via if first is not None else None
    if via is not None and via.branch == top.branch and nat:
        if via.received is None:
            problems.append(("warning", "b", f"the response's Via lacks received={host_s}",
                             [first]))
        elif rport and not (via.rport or "").isdigit():
            problems.append(("warning", "b'", "the request asked for rport but the response's "
                                              "Via leaves it empty", [first]))
    if late and (problems or len(late) >= 2):
        problems.append(("error", "c", f"the client resent the request {len(late)} times after "
                                       f"the server had answered", late[:3]))
    if any(p[1] == "c" for p in problems):
        problems = [("error",) + p[1:] if p[1] == "a'" else p for p in problems]
    return problems


def _late_retransmissions(request: Message, responses: list[Message], transaction) -> list:
    """Request copies from the client sent after a response already left the server; for
    non-INVITE only after a final (1xx does not stop Timer E, RFC 3261 §17.1.2.2)."""
    invite = request.method == "INVITE"
    answered = [r for r in responses if r.src == request.dst and (invite or r.status >= 200)]
    if not answered:
        return []
    t = answered[0].ts
    rtt = max(answered[0].ts - request.ts, 0.0)
    return [m for m in transaction.messages if m.is_request and m.copy and m.src == request.src
            and m.method == request.method and m.ts > t + max(0.1, 2 * rtt)]


def _misrouted_finding(ctx, out: Collector, request: Message, responses, problems) -> None:
    severity = min((p[0] for p in problems), key=lambda s: {"error": 0, "warning": 1}.get(s, 2))
    codes = {p[1] for p in problems}
    bad = next((p[3][0] for p in problems if p[1] == "a" and p[3]), None)
    host_v = split_hostport(request.sent_by)[0]
    nat = address_class(host_v) == PRIVATE and address_class(request.src_host) == PUBLIC
    if nat:
        start = (f"The request reached the server from {request.src}, its address after a NAT "
                 f"router (its Via says {request.sent_by})")
    else:
        start = f"The request was sent from {request.src} (its Via says {request.sent_by})"
    if bad is not None:
        where = f", but the server replied to {bad.dst}."
    else:
        where = ("; without rport the server answers to the Via address (RFC 3261 §18.2.2), not "
                 "to the packet source.")
    if "c" in codes:
        shown = " The client kept resending after the answers left: they did not reach it."
    elif _client_went_on(ctx, request, responses):
        shown = (" Here the client went on as if it got them (it did not resend), so it also "
                 "listens there; a client listening only on its source port would never see them.")
    else:
        shown = " Whether the client got them cannot be seen here."
    advice = (" Turn on 'rport' (symmetric response routing, RFC 3581) on the client, or force it "
              "on the server (for example Asterisk's force_rport, or Kamailio's force_rport())"
              + (", and check that the router keeps the source port." if nat else "."))
    explanation = (start + where + shown + advice + " Details: "
                   + "; ".join(p[2] for p in problems) + ".")
    messages = [request] + [m for p in problems for m in p[3]]
    call = ctx.session.call_of(request)
    key = (request.call_id, request.src, tuple(p[1] for p in problems))
    out.add(key, lambda: ctx.finding(
        "nat-response-misrouted", f"Responses to {request.src} misrouted: {problems[0][2]}",
        explanation, messages, call=call, severity=severity,
        rfc="RFC 3261 §18.2.1, §18.2.2; RFC 3581 §4",
        evidence={"cases": [p[1] for p in problems], "source": request.src,
                  "via": request.sent_by, "nat": nat,
                  "via_port": split_hostport(request.sent_by)[1] or 5060,
                  "source_port": port_of(request.src),
                  "replied_to": bad.dst if bad is not None else None,
                  "resent": len(_late_retransmissions(request, responses,
                                                      request.transaction))}), messages)


def _client_went_on(ctx: Context, request: Message, responses: list[Message]) -> bool:
    """The client stopped resending once a final answer was out, while the capture looked on for
    two retransmission intervals (RFC 3261 §17.1.1.2, §17.1.2.2: a client that gets nothing
    keeps resending)."""
    final = next((r for r in responses if r.status >= 200), None)
    if final is None or request.transaction is None or not ctx.horizon_ok(final.ts, 1.5):
        return False
    # a copy from another port of the same host counts too (reviewed file 12: the REGISTER
    # sent again from a new ephemeral port, same branch and CSeq)
    return not any(m.is_request and m.method == request.method and m.ts > final.ts
                   and m is not request and m.src_host == request.src_host
                   for m in request.transaction.messages)


# -- 7.4 nat-binding-expired --------------------------------------------------------------------

BINDING_TEXT = (
    "Incoming calls to {user} timed out. The phone sits behind a router (NAT) and registered for "
    "{E} seconds, but nothing passed between the phone and the server for {gap} seconds before "
    "the call. Many routers forget idle mappings after 30-120 seconds, after which the server "
    "cannot reach the phone, while outgoing calls still work: that is the giveaway. Shorten "
    "re-registration (60-120 s), enable NAT keep-alives on the phone or 'qualify' pings on the "
    "server, or use TCP/TLS.")


@rule("nat-binding-expired", text=BINDING_TEXT, index="security")
def binding_expired(ctx: Context) -> list[Finding]:
    from sipscope.core.analysis.rules.registration import granted_expiry
    from sipscope.core.analysis.rules.security import security_index
    latest: dict[str, object] = {}
    for source in security_index(ctx).values():
        for req in source.requests:
            message = req.message
            if message.method != "REGISTER" or not req.ok or not is_public(message.src_host):
                continue
            found = _CONTACT_HOST.search(message.raw)
            if found and found.group(1).decode("ascii", "replace") != message.src_host:
                latest[message.src] = req            # NATed: Contact differs from the source
    bindings: dict[str, tuple] = {}
    for address, req in latest.items():
        granted = granted_expiry(req)
        if granted is not None and granted > NATED_EXPIRY:
            bindings[address] = (req, granted)
    if not bindings:
        return []
    sent_from: dict[str, list[float]] = {}
    for message in ctx.session.messages:
        if message.src in bindings:
            sent_from.setdefault(message.src, []).append(message.ts)
    out = []
    for transaction in ctx.session.transactions:
        request = transaction.request
        if request is None or request.dst not in bindings or request.method in ("ACK", "CANCEL"):
            continue
        if any(m.is_response for m in transaction.messages):
            continue
        req, granted = bindings[request.dst]
        if req.ts >= request.ts or not ctx.horizon_ok(request.ts, TIMER_B):
            continue
        sent = sent_from.get(request.dst, [])      # in time order: the last one before
        k = bisect_left(sent, request.ts)
        last = sent[k - 1] if k else req.ts
        gap = request.ts - last
        if gap <= IDLE_GAP or _keepalive(ctx, request.dst, last, request.ts):
            continue
        user = req.target or request.dst
        explanation = fill(BINDING_TEXT, user=user, E=granted, gap=f"{gap:.0f}")
        messages = [req.message] + ([req.transaction.final] if req.transaction.final else []) \
            + [request]
        out.append(ctx.finding(
            "nat-binding-expired", f"Request to NATed {user} at {request.dst} unanswered after "
            f"{gap:.0f} s idle", explanation, messages, call=ctx.session.call_of(request),
            rfc="RFC 5626 §4.4; RFC 5389", evidence={"binding": request.dst, "expires": granted,
                                                       "idle_s": round(gap, 3)}))
        del bindings[request.dst]
        if not bindings:
            break
    return out


def _keepalive(ctx: Context, addr: str, start: float, end: float) -> bool:
    """STUN (RFC 5389) or other media packets from the phone's address during the idle gap.
    (CRLF keep-alives are not kept by the model; SIP ones are counted by the caller.)"""
    for flow in getattr(ctx.session.media, "other", []):
        if flow.src == addr and flow.first_ts <= end and flow.last_ts >= start:
            return True
    return False


# -- 7.5 net-udp-oversize -----------------------------------------------------------------------

OVERSIZE_TEXT = (
    "This {request} was {L} bytes over UDP, above the 1300 bytes of RFC 3261 §18.1.1{, and was "
    "IP-fragmented}; {what the capture shows: nothing answered it within 32 s (dropped fragments "
    "are a common reason) / it crossed this capture point (and was answered) / the text does not "
    "show its transport}. {what makes it large: head, routing headers, body, codec list}. "
    "{advice from those parts: switch SIP to TCP; trim the codecs; ...}")
_ROUTING = re.compile(rb"(?im)^(?:via|v|record-route|route)[ \t]*:[^\r\n]*")
_SDP_FORMATS = re.compile(rb"(?m)^m=[^ \r\n]+ +\d+(?:/\d+)? +[^ \r\n]+ ([^\r\n]*)")
_HEAVY_SDP = re.compile(rb"(?m)^a=(candidate|crypto|fingerprint):")
_TCP_CONTACT = re.compile(rb"(?im)^(?:contact|m)[ \t]*:[^\r\n]*transport=tcp")


@rule("net-udp-oversize", text=OVERSIZE_TEXT)
def udp_oversize(ctx: Context) -> list[Finding]:
    per_call: dict[str, dict] = {}
    for message in ctx.session.messages:
        if message.copy or (message.transport or "UDP").upper() != "UDP":
            continue
        size = message.size
        if size <= UDP_LIMIT:
            continue
        entry = per_call.setdefault(message.call_id, {"info": [], "warning": []})
        severity = "info"
        if message.is_request and (message.flags & REASSEMBLED or size + 28 > MTU):
            transaction = message.transaction
            unanswered = transaction is not None and not any(
                m.is_response for m in transaction.messages)
            if unanswered and ctx.horizon_ok(message.ts, TIMER_B):
                severity = "warning"
        if message.flags & ADDR_INFERRED:
            severity = "warning"      # a text that does not show the transport: not delivered
        entry[severity].append((message, size))
    out = []
    for call_id, entry in per_call.items():
        call = ctx.session.call(call_id)
        for severity in ("warning", "info"):
            items = entry[severity]
            if not items:
                continue
            message, size = max(items, key=lambda item: item[1])
            fragmented = any(m.flags & REASSEMBLED for m, _ in items)
            parts, advice, facts = _size_parts(message)
            if message.flags & ADDR_INFERRED:
                tcp = bool(_TCP_CONTACT.search(split_head(message.raw)[0]))
                explanation = (f"This {message.label} is {size:,} bytes. The text does not show "
                               "how it was sent: over UDP it would be above the 1300 bytes of "
                               "RFC 3261 §18.1.1, which asks for TCP"
                               + ("; its Contact advertises TCP" if tcp else "") + ". ")
                title = f"{message.label} of {size:,} bytes (transport not shown)"
            elif severity == "warning":
                explanation = (f"This {message.label} was {size:,} bytes over UDP"
                               + (", split into IP fragments" if fragmented else "")
                               + ", and nothing answered it within 32 s. Many firewalls, routers "
                               "and providers drop fragmented UDP, a common reason for such a "
                               "silence. ")
                title = f"{message.label} of {size:,} bytes over UDP went unanswered"
            else:
                both = {m.is_request for m, _ in items}
                # name what they are: a request and its 200 are "SIP messages" (tier-2 review)
                kinds = "messages" if len(both) == 2 else "requests" if True in both \
                    else "responses"
                answered = message.is_request and message.transaction is not None and any(
                    m.is_response for m in message.transaction.messages)
                explanation = (f"{plural(len(items), 'SIP ' + kinds[:-1])} in this "
                               f"call {'was' if len(items) == 1 else 'were'} larger than "
                               f"{UDP_LIMIT} bytes over UDP (largest: {message.label}, {size:,} "
                               "bytes" + (", IP-fragmented" if fragmented else "") + "). "
                               + ("It" if len(items) == 1 else "They") + " crossed this capture "
                               "point"
                               + (" and the largest was answered" if answered else "")
                               + ", but RFC 3261 §18.1.1 asks for TCP above 1300 bytes because "
                               "fragmented UDP is often dropped. ")
                title = (f"SIP over UDP larger than {UDP_LIMIT} bytes "
                         f"({plural(len(items), 'message')}, up to {size:,} bytes)")
            explanation += parts + " " + advice
            out.append(ctx.finding(
                "net-udp-oversize", title, explanation, [m for m, _ in items][:20], call=call,
                severity=severity, rfc="RFC 3261 §18.1.1",
                evidence={"largest": size, "messages": len(items), "fragmented": fragmented,
                          **facts}))
    return out


def _size_parts(message: Message) -> tuple[str, str, dict]:
    """What makes a message large, and the advice that follows from it (issue 14, pattern 1):
    only the parts this message really has are named."""
    head, offset = split_head(message.raw)
    body = message.raw[offset:]
    routing = _ROUTING.findall(head)
    routing_bytes = sum(len(line) + 2 for line in routing)
    match = _CONTENT_TYPE.search(head)
    content_type = match.group(1).strip().decode("ascii", "replace").lower() if match else ""
    formats = sum(len(m.split()) for m in _SDP_FORMATS.findall(body)) \
        if content_type == "application/sdp" else 0
    heavy = len(_HEAVY_SDP.findall(body)) if content_type == "application/sdp" else 0
    facts = {"head_bytes": len(head), "body_bytes": len(body), "routing_headers": len(routing),
             "routing_bytes": routing_bytes, "content_type": content_type,
             "sdp_formats": formats, "sdp_candidate_key_lines": heavy}
    parts = f"Its head is {len(head):,} bytes"
    if len(routing) >= 4:
        parts += f" ({len(routing)} Via/Record-Route/Route lines take {routing_bytes:,})"
    parts += (f" and its {content_type} body {len(body):,} bytes" if body and content_type
              else f" and its body {len(body):,} bytes" if body else ", with no body")
    if formats:
        parts += f" offering {plural(formats, 'payload format')}"
    if heavy:
        parts += f", with {plural(heavy, 'ICE candidate or key line')}"
    parts += "."
    advice = ["switch SIP to TCP"]
    if formats > 6:
        advice.append("trim the codec list")
    if heavy >= 4:
        advice.append("offer fewer ICE candidates")
    if len(routing) >= 4 and routing_bytes > len(message.raw) // 3:
        advice.append("check why the request collects so many Via/Record-Route/Route entries")
    return parts, "Fix: " + "; ".join(advice) + ".", facts
