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
from sipscope.core.analysis.rules.sdp import Collector, fill, who
from sipscope.core.media.attach import norm_ip
from sipscope.core.media.calls import CALLEE, CALLER, media_index
from sipscope.core.model.message import Message, host_of, port_of
from sipscope.core.sip.params import split_hostport
from sipscope.core.sources.datagram import MASKED_ADDR, REASSEMBLED

PUBLIC, PRIVATE, UNKNOWN = "public", "private", "unknown"
_RANGES_V4 = ((10, None, "10/8"), (127, None, "127/8"), (192, (168, 168), "192.168/16"),
              (172, (16, 31), "172.16/12"), (100, (64, 127), "100.64/10"),
              (169, (254, 254), "169.254/16"))
_PRIVATE_CONTACT = re.compile(
    rb"^(?:contact|m)[ \t]*:[^\r\n]*?[@:/<\s\[](?:10|127|172|192|100|169)\.\d|"
    rb"^(?:contact|m)[ \t]*:[^\r\n]*?\[f[cde]", re.I | re.M)
_CONTACT_HOST = re.compile(rb"^(?:contact|m)[ \t]*:[^\r\n]*?sips?:(?:[^@;>\s]*@)?([^;>:\s]+)",
                           re.I | re.M)
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

PRIVATE_CONTACT_TEXT = (
    "{device} is at {public_ip} on the internet but asks to be reached at {private_addr}, a "
    "private office address that cannot be reached from outside. Unless the server or a session "
    "border controller (SBC) corrects this, later messages (the confirmation after answer, the "
    "hang-up, incoming calls) go nowhere. Customers see calls dropping after about 32 s, phones "
    "that can call out but not receive, or calls that will not hang up. Check the phone's NAT "
    "settings (STUN, outbound proxy, rport), the PBX's NAT options (for example 'force rport' / "
    "'rewrite contact'), and whether the router's 'SIP ALG' feature is rewriting SIP headers.")


@rule("nat-private-contact", text=PRIVATE_CONTACT_TEXT)
def private_contact(ctx: Context) -> list[Finding]:
    out = Collector()
    requests_to: dict[str, list[Message]] | None = None
    for message in ctx.session.messages:
        if message.copy or not _contact_candidate(message):
            continue
        if not is_public(message.src_host):
            continue
        via_host = split_hostport(message.sent_by)[0] if message.is_request else ""
        if address_class(via_host) != PRIVATE and not _PRIVATE_CONTACT.search(message.raw):
            continue
        sip = message.sip
        contact = sip.contacts[0] if sip.contacts else None
        uri = contact.uri if contact is not None else None
        private = None
        if uri is not None and address_class(uri.host) == PRIVATE:
            private = (uri.host, uri.port or 5060, "Contact")
        elif message.is_request:
            host, port = split_hostport(message.sent_by)
            if address_class(host) == PRIVATE:
                private = (host, port or 5060, "Via")     # only responses use it (§18.2.2)
        if private is None:
            continue
        if requests_to is None:
            requests_to = _requests_by_destination(ctx)
        _contact_finding(ctx, out, message, private, requests_to)
    return out.result()


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


def _contact_finding(ctx, out: Collector, message: Message, private, requests_to) -> None:
    host, port, where = private
    private_addr = _addr(host, port)
    later_public = [m for m in requests_to.get(message.src, []) if m.ts > message.ts
                    and m.src != message.src][:1]
    later_private = [m for m in requests_to.get(host, []) if m.ts > message.ts
                     and is_public(m.src_host)][:1]
    severity, note = "warning", ""
    compensation = _compensated(message) if where == "Contact" else _via_compensated(message)
    evidence = {"public": message.src, "private": private_addr, "where": where}
    if later_private:
        severity = "error"
        note = (f" A later {later_private[0].method} was actually sent to the private address "
                f"({later_private[0].dst}).")
    elif compensation or later_public:
        severity = "info"
        note = " NAT handled: " + (compensation or f"later requests ({later_public[0].method}) "
                                   f"were sent to the public address {message.src}") + "."
    evidence["handled"] = severity == "info"
    explanation = fill(PRIVATE_CONTACT_TEXT, device=who(ctx, message), public_ip=message.src,
                       private_addr=f"{private_addr} (in its {where})") + note
    messages = [message] + later_private + later_public
    call = ctx.session.call_of(message)
    key = (message.call_id, message.src, private_addr)
    out.add(key, lambda: ctx.finding(
        "nat-private-contact", f"Private {where} {private_addr} from public {message.src}",
        explanation, messages, call=call, severity=severity,
        rfc="RFC 3261 §8.1.1.8, §12.1.1; RFC 3581; RFC 5626", evidence=evidence), messages)


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
    "{device} asked to receive audio at {private_addr}:{port}, a private address. The other end "
    "cannot send audio there across the internet, so {device}'s user will probably hear nothing "
    "(one-way audio), unless a server relays the media or the far end sends audio back to "
    "wherever audio comes from ('symmetric RTP'). Check the phone's NAT settings (STUN/ICE), "
    "media relay or NAT handling on the PBX, and any SIP ALG on the router.")


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
                        if line.rejected or not line.address or line.kind not in ("audio", "video"):
                            continue
                        if address_class(line.address) != PRIVATE:
                            continue
                        peer_hosts = [peer_msg.src_host] if peer_msg is not None \
                            else [message.dst_host]
                        if peer_desc is not None:
                            peer_hosts += [m.address for m in peer_desc.media if m.address]
                        if not _across(message.src_host, line.address, peer_hosts):
                            continue
                        _sdp_finding(ctx, out, call, ms, side, message, desc, line, peer_msg)
    return out.result()


def _across(carrier: str, address: str, peer_hosts: list[str]) -> bool:
    """§7.2 (1) the SDP came from a public IP or another private range than the peer's, and
    (2) the peer is on another network (public, or in another private range)."""
    mine = private_range(address)
    carrier_class = address_class(carrier)
    peer_ranges = {private_range(h) for h in peer_hosts if address_class(h) == PRIVATE}
    peer_public = any(address_class(h) == PUBLIC for h in peer_hosts)
    first = carrier_class == PUBLIC or (carrier_class == PRIVATE and peer_ranges
                                         and private_range(carrier) not in peer_ranges)
    second = peer_public or bool(peer_ranges - {mine})
    return bool(first and second)


def _sdp_finding(ctx, out: Collector, call, ms, side, message: Message, desc, line,
                 peer_msg) -> None:
    private_addr = line.address
    target = _addr(private_addr, line.port)
    toward = ms.streams(side)
    to_private = [s for s in getattr(ctx.session.media, "streams", [])
                  if s.dst == target and is_public(host_of(s.src))]
    latched = [s for s in toward if host_of(s.dst) == message.src_host]
    severity, note = "warning", ""
    evidence = {"address": target, "sdp_from": message.src, "ice": desc.ice}
    if to_private:
        severity = "error"
        note = (f" RTP from {to_private[0].src} was captured going to the private address "
                f"({to_private[0].packets} packets): that audio goes nowhere.")
        evidence["rtp_to_private"] = [f"{s.src} -> {s.dst}" for s in to_private[:5]]
    elif desc.ice:
        severity = "info"
        note = " The SDP carries ICE candidates (a=candidate), which normally take over."
    elif latched:
        severity = "info"
        note = (f" The far end latches: it sends audio to the NAT's public address "
                f"({latched[0].dst}) instead (symmetric RTP), so audio can still flow.")
        evidence["latched"] = [f"{s.src} -> {s.dst}" for s in latched[:5]]
    elif not getattr(ctx.session.media, "streams", None):
        note = " The capture holds no RTP, so whether audio broke cannot be seen here."
    device = who(ctx, message)
    explanation = fill(PRIVATE_SDP_TEXT, device=device, private_addr=private_addr,
                       port=line.port) + note
    messages = [message]          # the SDP that names the address (it decides the time, §13.1)
    key = (call.call_id, target)
    out.add(key, lambda: ctx.finding(
        "nat-private-sdp", f"SDP asks for media at private {target} (sent from {message.src})",
        explanation, messages, call=call, severity=severity,
        rfc="RFC 8866 §5.7; RFC 4961; RFC 8445", evidence=evidence), messages)


# -- 7.3 nat-response-misrouted -----------------------------------------------------------------

MISROUTED_TEXT = (
    "The phone's request reached the server from {ip_s}:{port_s} (its address after passing the "
    "router), but the server replied to {dest}, the address written inside the message, which "
    "the router does not forward. The phone never sees the reply and keeps resending, so "
    "registrations fail and calls time out. Turn on 'rport' (symmetric response routing) on the "
    "phone, or force it on the server (for example Asterisk's force_rport, or Kamailio's "
    "force_rport()), and check that the router keeps the source port.")


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
    elif not rport and nat and port_s != port_v and any(r.dst != request.src
                                                        for r in server_side):
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
    bad = next((p[3][0] for p in problems if p[1] == "a" and p[3]), None)
    dest = bad.dst if bad is not None else "the address in its Via"
    explanation = fill(MISROUTED_TEXT, ip_s=request.src_host, port_s=port_of(request.src),
                       dest=dest)
    explanation += " Details: " + "; ".join(p[2] for p in problems) + "."
    messages = [request] + [m for p in problems for m in p[3]]
    call = ctx.session.call_of(request)
    key = (request.call_id, request.src, tuple(p[1] for p in problems))
    out.add(key, lambda: ctx.finding(
        "nat-response-misrouted", f"Responses to {request.src} misrouted: {problems[0][2]}",
        explanation, messages, call=call, severity=severity,
        rfc="RFC 3261 §18.2.1, §18.2.2; RFC 3581 §4",
        evidence={"cases": [p[1] for p in problems], "source": request.src,
                  "via": request.sent_by}), messages)


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
    "This call request was {L} bytes, too large for one network packet, so it was split into "
    "fragments. Many firewalls, routers and providers drop fragmented UDP, so the request never "
    "arrived and the call timed out. Typical causes are long codec lists, video, encryption keys, "
    "or many Via/Record-Route headers. Trim the codecs, switch SIP to TCP, or enable compact "
    "headers.")


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
            if severity == "warning":
                explanation = fill(OVERSIZE_TEXT, L=f"{size:,}")
                title = f"{message.label} of {size:,} bytes over UDP went unanswered"
            else:
                kinds = "requests" if any(m.is_request for m, _ in items) else "responses"
                explanation = (f"{len(items)} SIP {kinds} in this call were larger than "
                               f"{UDP_LIMIT} bytes over UDP (largest: {message.label}, {size:,} "
                               "bytes" + (", IP-fragmented" if fragmented else "") + "). "
                               "They were delivered here, but RFC 3261 §18.1.1 asks for TCP "
                               "above 1300 bytes because fragmented UDP is often dropped. Trim "
                               "the codecs, switch SIP to TCP, or enable compact headers.")
                title = f"SIP over UDP larger than {UDP_LIMIT} bytes ({len(items)} messages, " \
                        f"up to {size:,} bytes)"
            out.append(ctx.finding(
                "net-udp-oversize", title, explanation, [m for m, _ in items][:20], call=call,
                severity=severity, rfc="RFC 3261 §18.1.1",
                evidence={"largest": size, "messages": len(items), "fragmented": fragmented}))
    return out
