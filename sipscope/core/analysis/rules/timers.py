"""Timer and retransmission fault rules (catalog §6): the 2xx nobody ACKs, and INVITE / non-INVITE
requests that time out (RFC 3261 §17 Timers A/B, E/F, §13.3.1.4)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sipscope.core.analysis.context import T2, TIMER_B, Context, is_ip, is_private
from sipscope.core.analysis.finding import UNDECIDED_CONFLICT, Finding, Undecided
from sipscope.core.analysis.attackers import attack_flags
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.rules.transaction import (a_an, answered_elsewhere, clock, copies_of,
                                                      covered, device, is_udp, path_seen,
                                                      settle_time, stopped, t1_of, timeline_ok,
                                                      ua_near)
from sipscope.core.model.call import Call
from sipscope.core.model.message import Message, host_of
from sipscope.core.model.transaction import Transaction
from sipscope.core.sources.datagram import REASSEMBLED, REDACTED
from sipscope.core.words import plural

# -- 6.1 tmr-2xx-no-ack --------------------------------------------------------------------------

NO_ACK_TEXT = (
    "The call was answered, but the caller's confirmation of the answer (the ACK) never reached "
    "{callee}. {callee} repeated its 'OK' {n} times and then, after about {t} seconds, gave up and hung "
    "up, so customers see calls that connect and then drop after about half a minute. The usual "
    "causes are a private, unreachable address in the answering side's Contact (NAT), a firewall or a "
    "router's 'SIP ALG' feature (which rewrites SIP messages) blocking the ACK, or a proxy not staying "
    "in the signalling path. {hint}")


class _Acks:
    """ACK requests per Call-ID, built on first use (only calls with a 2xx ask)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.by_call: dict[str, list[Message]] = {}

    def of(self, call: Call) -> list[Message]:
        found = self.by_call.get(call.call_id)
        if found is None:
            found = [m for m in call.messages if m.method == "ACK" and not m.copy]
            self.by_call[call.call_id] = found
        return found


@rule("tmr-2xx-no-ack", text=NO_ACK_TEXT)
def tmr_2xx_no_ack(ctx: Context) -> Iterable[Finding]:
    if not timeline_ok(ctx):
        return
    acks = _Acks(ctx)
    for transaction in ctx.session.transactions:
        if transaction.method != "INVITE":
            continue
        seen: set[tuple[str, str]] = set()
        for answer in transaction.messages:
            if not 200 <= answer.status < 300 or answer.copy or (answer.src, answer.to_tag) in seen:
                continue
            seen.add((answer.src, answer.to_tag))
            call = ctx.session.call(answer.call_id)
            if call is None:
                continue
            finding = _no_ack(ctx, call, transaction, answer, acks.of(call))
            if finding is not None:
                yield finding


def _no_ack(ctx: Context, call: Call, transaction: Transaction, answer: Message,
            acks: list[Message]) -> Finding | None:
    copies = copies_of(transaction, answer)
    window = 64 * t1_of(copies)
    deadline = answer.ts + window * 1.2 + 0.1
    # RFC 3261 §13.2.2.4 / D3: the ACK of a 2xx is matched by Call-ID, tags and CSeq number
    # An ACK with the INVITE's own branch after a 3xx-6xx of that transaction acknowledges the
    # non-2xx (§17.1.1.3), not the 2xx: the blog trace's ACK for the 487 after the 200.
    refused = [m.ts for m in transaction.messages if m.status >= 300 and m.src == answer.src]
    acks = [a for a in acks if not (a.branch == answer.branch and not transaction.rfc2543
                                    and any(t <= a.ts for t in refused))]
    matching = [a for a in acks if a.cseq_num == answer.cseq_num and a.to_tag == answer.to_tag
                and a.from_tag == answer.from_tag and a.ts >= answer.ts - 0.001]
    on_leg = [a for a in matching if a.dst_host == answer.src_host or a.src_host == answer.dst_host]
    if any(a.ts <= deadline for a in on_leg):
        return None
    late = on_leg[0] if on_leg else None
    hints = _hints(ctx, answer, acks, matching, on_leg, deadline)
    bye = next((m for m in call.messages if m.method == "BYE" and not m.copy
                and m.ts >= copies[-1].ts - 0.001 and m.from_tag == answer.to_tag), None)
    callee, _ = device(ctx, answer.src, (answer,))
    reinvite = transaction.request is not None and bool(transaction.request.to_tag)
    n = len(copies)
    target = _ack_target(answer)
    ack_path_seen = bool(target) and path_seen(ctx, answer.dst, target)
    conflict = None
    if late is None and bye is None and n < 3 and not ctx.excerpt \
            and stopped(ctx, copies, t1_of(copies), T2):
        # RFC 3261 §13.3.1.4: a UAS repeats its 2xx until the ACK arrives (on any transport);
        # one that stopped while the capture kept looking got its ACK, by a path not captured
        if not ack_path_seen:
            return None
        # ... but the capture sees the caller send to the ACK's target: the evidence conflicts
        conflict = Undecided(
            f"Undecided: this capture sees {answer.dst} send to {target}, where the ACK goes, "
            f"yet no ACK; and {answer.src} never repeated its {answer.status}, as an RFC 3261 "
            "UAS does until the ACK arrives: either the ACK was lost before the capture point "
            "or that UAS does not retransmit.",
            {"undecided": UNDECIDED_CONFLICT, "ack_target": target})
    span = (bye.ts if bye is not None else copies[-1].ts) - answer.ts
    if bye is not None:
        gave_up = f" and then, after about {span:.0f} seconds, gave up and hung up ({clock(bye)})"
    elif n > 1:
        gave_up = f" over {span:.1f} seconds"
    else:
        gave_up = ""
    if bye is not None:
        symptom = (", so the call dropped in mid-conversation" if reinvite else
                   ", so the call connected and then dropped")
    else:
        symptom = ("; a UAS that never gets the ACK hangs up about 32 s after its answer"
                   if n > 1 else "")
    late_text = f" An ACK only came at {clock(late)}, too late." if late is not None else ""
    causes = " " + " ".join(hints) if hints else _ack_path(answer)
    if n > 1 or late is not None:
        text = (f"The call was answered, but the caller's confirmation of the answer (the ACK) never "
                f"reached {callee}. It repeated its '{answer.status} {answer.reason}' {n} times"
                f"{gave_up}{symptom}.{late_text}{causes}")
    else:
        text = (f"The call was answered ({answer.status} {answer.reason} at {clock(answer)} from "
                f"{callee}), but no confirmation of the answer (the ACK) appears in the capture. If "
                "the ACK really never arrived, the answering side repeats its answer and hangs up "
                "after about half a minute, so the customer hears the call "
                + ("drop in mid-conversation" if reinvite else "connect and then drop")
                + f".{causes}")
    highlight = copies + [m for m in (late, bye) if m is not None]
    evidence = {"copies": n, "to_tag": answer.to_tag, "cseq": answer.cseq_num,
                "bye": bye.index if bye is not None else None, "late_ack": late is not None,
                "hints": hints, "reinvite": reinvite, "ack_target": target,
                "late_ack_time": late.ts if late is not None else None,
                "bye_after_s": round(bye.ts - answer.ts, 3) if bye is not None else None}
    if conflict is not None:
        return _finding(ctx, f"No ACK seen for the {answer.status} (undecided)", text, highlight,
                        evidence, inconclusive=True, undecided=conflict)
    if ctx.excerpt or (late is None and not covered(ctx, answer.ts, window)):
        needed = window if n >= 3 or ack_path_seen else \
            copies[-1].ts - answer.ts + settle_time(copies, t1_of(copies), T2)
        return _finding(ctx, f"No ACK seen for the {answer.status} (undecided)", text, highlight,
                        evidence, inconclusive=True,
                        undecided=ctx.undecided(answer.ts, needed, what=f"the {answer.status}"))
    title = f"No ACK for the {answer.status}" + (f" ({n} copies)" if n > 1 else "")
    return _finding(ctx, title, text, highlight, evidence)


def _ack_target(answer: Message) -> str:
    """The host the caller sends the ACK of this 2xx to: the last Record-Route entry, else the
    Contact (RFC 3261 §12.1.2 route set, §13.2.2.4)."""
    if answer.flags & REDACTED:
        return ""
    sip = answer.sip
    routes = sip.header_values("Record-Route")
    if routes:
        match = _ROUTE_HOST.search(routes[-1].split(",")[-1])
        return match.group(1).strip("[]") if match else ""
    uri = sip.contacts[0].uri if sip.contacts else None
    return uri.host.strip("[]") if uri is not None else ""


_ROUTE_HOST = re.compile(r"sips?:(?:[^@;>]*@)?(\[[^\]]+\]|[^:;>]+)")


def _ack_path(answer: Message) -> str:
    """Where the ACK of this 2xx goes (RFC 3261 §12.1.2, §13.2.2.4): named when the capture
    gives no cause, as the place to look; never a cause stated without evidence."""
    if answer.flags & REDACTED:
        return ""
    sip = answer.sip
    routes = sip.header_values("Record-Route")
    target = ""
    if routes:
        target = f"the last Record-Route entry ({routes[-1].strip()})"
    elif sip.contacts and sip.contacts[0].uri is not None:
        target = f"the answer's Contact ({sip.contacts[0].uri.hostport})"
    if not target:
        return ""
    return (f" The capture does not show why. The ACK goes to {target}: check that path (a "
            "firewall, a router's SIP ALG, or a proxy that did not stay in the path can lose it).")


def _request_facts(ctx: Context, highlight: list[Message]) -> dict:
    """The facts every timer text names about its first message and its copies (claims test:
    each address, count, span and User-Agent in the words is in the evidence)."""
    first = highlight[0]
    copies = [m for m in highlight if m.method == first.method and m.status == first.status
              and m.src == first.src]
    gaps = [b.ts - a.ts for a, b in zip(copies, copies[1:])]
    return {"source": first.src, "destination": first.dst, "cseq": first.cseq_num,
            "span_s": round(copies[-1].ts - first.ts, 3), "user_agent": ua_near(ctx, first.src,
                                                                                (first,)),
            "longest_gap_s": round(max(gaps), 3) if gaps else None, "timer_b_s": TIMER_B}


def _finding(ctx: Context, title: str, text: str, highlight: list[Message], evidence: dict,
             inconclusive: bool = False, undecided=None) -> Finding:
    evidence = {**_request_facts(ctx, highlight), **evidence}
    finding = ctx.finding("tmr-2xx-no-ack", title, text, highlight, scope="dialog",
                          rfc="RFC 3261 §13.2.2.4; §13.3.1.4; RFC 6026 §7.1",
                          inconclusive=inconclusive, evidence=evidence, undecided=undecided)
    finding.time = highlight[0].ts
    return finding


def _hints(ctx: Context, answer: Message, acks: list[Message], matching: list[Message],
           on_leg: list[Message], deadline: float) -> list[str]:
    """§6.1 cause hints (each may also fire its own rule)."""
    hints = []
    contacts = answer.sip.contacts
    if answer.flags & REDACTED:
        pass                         # Contact/Record-Route values were stripped from the text
    elif not contacts:
        hints.append("The answer carries no Contact, so the caller has nowhere to send the ACK.")
    elif contacts[0].uri is not None:
        host = contacts[0].uri.host.strip("[]")
        if is_ip(host) and is_private(host) and not is_private(answer.src_host):
            hints.append(f"The answer's Contact is the private address {contacts[0].uri.hostport} "
                         f"while it came from {answer.src}: the ACK goes to an unreachable address.")
    if matching and not on_leg:
        where = ", ".join(sorted({a.dst for a in matching}))
        hints.append(f"An ACK was captured, but it went to {where}, not back towards {answer.src} "
                     "(ACK misrouted, or a proxy lost it).")
    wrong = [a for a in acks if a.src_host == answer.dst_host and answer.ts <= a.ts <= deadline
             and a not in matching and (a.cseq_num == answer.cseq_num or a.to_tag == answer.to_tag)]
    if wrong:
        a = wrong[0]
        hints.append(f"An ACK was sent at {clock(a)} but does not match the answer (CSeq {a.cseq_num}, "
                     f"To tag {a.to_tag or 'none'}).")
    return hints


# -- 6.2 tmr-invite-timeout ----------------------------------------------------------------------

CATALOG_INVITE_TIMEOUT_TEXT = (  # catalog §6.2, as the catalog words it
    "The call request to {dest} was sent {n} times over {t} seconds and nothing ever answered, not "
    "even an automatic 'trying'. The destination cannot be reached from here: a wrong address or "
    "port, a firewall dropping SIP, a router mapping that expired so the phone can no longer be "
    "reached, or a message too large for one packet being dropped. The caller hears ringing or "
    "silence for about 30 seconds and then a failure ('Request Timeout').")
# what the texts say now: every cause and consequence a clause chosen by the capture
INVITE_TIMEOUT_TEXT = (
    "The call request to {dest} was sent {n} times over {t} seconds and no answer at all "
    "appears, not even an automatic 'trying'. {cause, only where the capture shows one: it is "
    "{L} bytes over UDP (over 1300 bytes, or IP-fragmented) | {dest} answers the sender's other "
    "requests, so it ignored or lost this one | the capture does not show why}. {The caller's "
    "side was told 408 | a caller waiting on it hears ringing or silence until its timer gives up "
    "(about 32 s)}. Undecided when the capture ends before 32 s, or a request sent once to a "
    "host never seen answering is no timeout.")
RING_NO_ANSWER = 180.0     # §6.2 (c)


@rule("tmr-invite-timeout", text=f"{CATALOG_INVITE_TIMEOUT_TEXT} / as written: {INVITE_TIMEOUT_TEXT}",
      index="security")
def tmr_invite_timeout(ctx: Context) -> Iterable[Finding]:
    if not timeline_ok(ctx):
        return
    for transaction in ctx.session.transactions:
        request = transaction.request
        if transaction.method != "INVITE" or request is None:
            continue
        responses = [m for m in transaction.messages if m.is_response]
        if not responses:
            if is_udp(request) and not answered_elsewhere(ctx, request):
                finding = _invite_silent(ctx, transaction, request)
                if finding is not None:
                    yield finding
        elif all(m.status < 200 for m in responses) and covered(ctx, request.ts, RING_NO_ANSWER):
            yield _ring_no_answer(ctx, transaction, request, responses)


def _invite_silent(ctx: Context, transaction: Transaction, request: Message) -> Finding | None:
    copies = [m for m in transaction.messages if m.method == "INVITE"]
    window = 64 * t1_of(copies)
    n = len(copies)
    call = ctx.session.call(request.call_id)
    upstream = _upstream_timeout(call, request) if call is not None else None
    answered = call is not None and any(
        200 <= m.status < 300 and m.cseq_method == "INVITE" and m.cseq_num == request.cseq_num
        for m in call.messages)
    span = copies[-1].ts - request.ts
    dest = request.dst
    size = len(request.raw)
    answer_path = path_seen(ctx, request.dst, request.src)
    seen = f"was sent {plural(n, 'time')} over {span:.1f} seconds" if n > 1 else "was sent once"
    text = (f"The call request to {dest} {seen} and no answer at all appears, not even an "
            "automatic 'trying'.")
    if size > 1300 or request.flags & REASSEMBLED:
        # RFC 3261 §18.1.1: the one cause this capture can show
        text += (f" It is {size:,} bytes over UDP" + (", IP-fragmented" if request.flags
                                                      & REASSEMBLED else "")
                 + ": many firewalls and routers drop fragmented UDP, a likely cause.")
    elif answer_path:
        text += _seen_path_note(request, n)
    else:
        text += (" The capture does not show why: a wrong address or port, a firewall dropping "
                 "SIP, or a host that is down are the usual reasons.")
    ended = _caller_ended(call, request) if call is not None else None
    if upstream is not None:
        text += f" The caller's side was told {upstream.status} {upstream.reason} at {clock(upstream)}."
    elif ended is not None:
        text += (f" The caller ended the attempt itself ({ended.method} at {clock(ended)}, "
                 f"{ended.ts - request.ts:.3f} s after the INVITE), so nobody waited for it.")
    else:
        text += (" A caller waiting on it hears ringing or silence until its timer gives up "
                 "(about 32 s) and then a failure.")
    text += _one_sided(ctx, request)
    highlight = copies + ([upstream] if upstream is not None else []) + \
        ([ended] if ended is not None and upstream is None else [])
    evidence = {"copies": n, "destination": dest, "bytes": len(request.raw),
                "upstream": upstream.status if upstream is not None else None}
    if ended is not None and upstream is None:
        evidence["ended_by"] = ended.method
        evidence["ended_after_s"] = round(ended.ts - request.ts, 3)
    if n < 3 and not answer_path and stopped(ctx, copies, t1_of(copies), float("inf")):
        # D7 settling evidence: an RFC 3261 client repeats an unanswered INVITE (Timer A); this
        # one stopped while the capture kept looking: it got an answer by a path not captured, or
        # it never retransmits (a scanner, a probe).  No timeout is shown either way.
        return None
    gave_up = n >= 3 and (stopped(ctx, copies, t1_of(copies), float("inf"))
                          or _repeated_for_timer_b(copies))
    if not gave_up and not covered(ctx, request.ts, window):
        return _timeout(ctx, "tmr-invite-timeout", "No response seen to the INVITE (undecided)",
                        text, highlight, evidence, inconclusive=True,
                        undecided=ctx.undecided(request.ts, window, what="the INVITE"))
    if n < 3 and not answer_path:
        return None                  # not retransmitted: the sender got an answer elsewhere (D7)
    if answered:
        text = (f"The call request to {dest} got no answer at all ({n} copies), but the call was "
                "answered elsewhere (a sibling branch or the next destination of a failover list), "
                "so only this destination is unreachable.")
        return _timeout(ctx, "tmr-invite-timeout", "INVITE timed out on one destination", text,
                        highlight, evidence, severity="info")
    if ended is not None and upstream is None and ended.ts - request.ts < window:
        # the caller gave up before any timer ran out: no timeout is shown, only no answer
        return _timeout(ctx, "tmr-invite-timeout", f"No answer to the INVITE before the caller's "
                        f"{ended.method}", text, highlight, evidence, severity="info")
    return _timeout(ctx, "tmr-invite-timeout", f"INVITE to {dest} timed out", text, highlight,
                    evidence)


def _caller_ended(call, request: Message) -> Message | None:
    """A BYE or CANCEL the INVITE's sender sent for this call after it (it gave up itself)."""
    return next((m for m in call.messages if m.index > request.index and m.is_request
                 and m.method in ("BYE", "CANCEL") and m.src == request.src
                 and m.call_id == request.call_id), None)


def _one_sided(ctx: Context, request: Message) -> str:
    """D7 vantage note: nothing from the destination is in the capture at all."""
    if ctx.seen_sending(request.dst):
        return ""
    repeats = request.transaction is not None and sum(
        1 for m in request.transaction.messages if m.method == request.method) >= 3
    return (f" The capture holds no packet at all from {request.dst}, so it may show one direction "
            "only" + ("; the repeats still show that the sender got no answer." if repeats else "."))


def _repeated_for_timer_b(copies: list[Message]) -> bool:
    """The sender itself kept repeating, unanswered, for the whole default 64*T1 = 32 s window
    (with the D6 tolerance): the timeout is shown whatever its own T1 seems to be."""
    return copies[-1].ts - copies[0].ts >= TIMER_B * 0.8 - 0.1


def _irregular(copies: list[Message]) -> str:
    """RFC 3261 §17.1.2.2: Timer E never waits more than T2 (4 s) between copies of a non-INVITE
    request; a longer pause means the sender delayed them or copies were lost before the
    capture point (the capture cannot tell which)."""
    gaps = [(b.ts - a.ts, a) for a, b in zip(copies, copies[1:])]
    if not gaps:
        return ""
    gap, before = max(gaps, key=lambda item: item[0])
    if gap <= 2 * T2 + 0.5:
        return ""
    return (f" The repeats pause for {gap:.1f} s after the copy at {clock(before)}, longer than "
            f"the {T2:.0f} s RFC 3261 allows between them (Timer E, §17.1.2.2): the sender delayed "
            "them, or copies were lost before the capture point; this capture cannot tell which.")


def _why_unreachable(request: Message) -> str:
    """A cause for an unconfirmed BYE, stated only where the addresses show it (catalog §6.3)."""
    src, dst = request.src_host, request.dst_host
    if is_ip(src) and is_ip(dst) and is_private(dst) and not is_private(src):
        return (f" It was sent from a public address to the private address {dst}, which is not "
                "reachable across the internet (a private Contact given at call setup).")
    if is_ip(src) and is_ip(dst) and is_private(src) != is_private(dst):
        return (" It crosses between a private and a public network: a router mapping (NAT) that "
                "expired during the call is a common reason.")
    return f" The capture does not show why; check that {request.dst} is still there and listening."


def _upstream_timeout(call: Call, request: Message) -> Message | None:
    """§6.2 (b): a 408 (or 480/503 naming a timeout) to the same call attempt on another hop."""
    for message in call.messages:
        if message.cseq_method != "INVITE" or message.cseq_num != request.cseq_num \
                or message.ts < request.ts or message.transaction is request.transaction:
            continue
        if message.status == 408:
            return message
        if message.status in (480, 503) and b"imeout" in message.raw:
            return message
    return None


def _ring_no_answer(ctx: Context, transaction: Transaction, request: Message,
                    responses: list[Message]) -> Finding:
    last = responses[-1]
    text = (f"The call to {request.dst} was ringing or in progress ({last.label} at {clock(last)}) "
            f"but got no final answer within {RING_NO_ANSWER:.0f} seconds. This is normally a "
            "ring-no-answer timeout, not a fault.")
    return _timeout(ctx, "tmr-invite-timeout", "No final answer within 180 s", text,
                    [request, last], {"subcase": "c", "limit_s": RING_NO_ANSWER},
                    severity="info")


def _timeout(ctx: Context, rule_id: str, title: str, text: str, highlight: list[Message],
             evidence: dict, severity: str | None = None, inconclusive: bool = False,
             undecided=None) -> Finding:
    evidence = {**_request_facts(ctx, highlight), **evidence}
    sender = highlight[0].src if highlight and highlight[0].is_request else ""
    flags = attack_flags(ctx, sender) if sender else []
    if flags:
        # requests of a source the security rules report (a scanner, a password guesser) that
        # go unanswered are part of the attack, not a fault of the service (issue 14 pattern 6)
        text = (text.replace("The phone at ", "The source at ", 1)
                + f" {host_of(sender)} is reported by the security findings ({', '.join(flags)}): "
                "this is part of that traffic, not a fault of the service.")
        severity = "info"
        evidence["sender_flagged_by"] = flags
    finding = ctx.finding(rule_id, title, text, highlight, severity=severity, scope="transaction",
                          rfc="RFC 3261 §17.1.1.2; §17.1.2.2; §21.4.9", inconclusive=inconclusive,
                          evidence=evidence, undecided=undecided)
    finding.time = highlight[0].ts
    return finding


# -- 6.3 tmr-non-invite-timeout ------------------------------------------------------------------

CATALOG_BYE_TIMEOUT_TEXT = (
    "The hang-up was sent {n} times over {t} seconds and the other side never confirmed it. The other "
    "side probably never learned that the call ended: the phone may stay 'in call', and the call may "
    "keep being billed until a timer clears it. Usually the hang-up was sent to an address that is no "
    "longer reachable: a router mapping that expired during a long call, or a private Contact address "
    "given at call setup.")
CATALOG_REGISTER_TIMEOUT_TEXT = (
    "The phone tried to register {n} times and got no reply, so it is offline for incoming calls. "
    "Check that it can reach {registrar} (firewall, DNS, the right port and transport) and that "
    "replies can come back (see the NAT findings).")
CATALOG_OTHER_TIMEOUT_TEXT = (
    "{device} sent a {method} that was never answered. For OPTIONS this usually means the target is "
    "down or unreachable (monitoring pings); for INFO, key presses sent this way were lost; for "
    "NOTIFY, voicemail or busy-lamp indications were not delivered.")
BYE_TIMEOUT_TEXT = (
    "The hang-up to {dest} was sent {n} times over {t} seconds and the other side never "
    "confirmed it. The other side probably never learned that the call ended. {cause only where "
    "the capture shows one}.")
REGISTER_TIMEOUT_TEXT = (
    "The phone at {src} tried to register {n} times and got no reply, so it is not registered "
    "there. Check that it can reach {registrar} (firewall, DNS, the right port and transport).")
OTHER_TIMEOUT_TEXT = (
    "{device} sent a {method} to {dest} ({n} times over {t} s) that was never answered; what "
    "that method was meant to do did not happen. The same request failing again in a new "
    "transaction is info; a pause between copies longer than the 4 s of Timer E is named; the "
    "default window is about 32 s.")
NON_INVITE_ERROR = ("BYE", "REGISTER", "UPDATE", "PRACK", "REFER")
METHOD_MEANING = {
    "OPTIONS": "For OPTIONS this usually means the target is down or unreachable (monitoring pings).",
    "INFO": "Key presses (or other mid-call information) sent this way were lost.",
    "NOTIFY": "Voicemail, busy-lamp or transfer-progress indications were not delivered.",
    "SUBSCRIBE": "The subscription (voicemail, presence or busy lamps) was not set up.",
    "MESSAGE": "The text message was not delivered.",
    "PUBLISH": "The published state (for example presence) was not stored.",
    "CANCEL": "The far end never confirmed the cancel, so the called phone may have kept ringing.",
    "UPDATE": "The change to the call (media or session refresh) did not take effect.",
    "PRACK": "The reliable provisional response was not confirmed, so the call may fail.",
    "REFER": "The transfer did not happen.",
}


@rule("tmr-non-invite-timeout",
      text=f"(BYE) {CATALOG_BYE_TIMEOUT_TEXT} / (REGISTER) {CATALOG_REGISTER_TIMEOUT_TEXT} / "
           f"{CATALOG_OTHER_TIMEOUT_TEXT} / as written: (BYE) {BYE_TIMEOUT_TEXT} / (REGISTER) "
           f"{REGISTER_TIMEOUT_TEXT} / {OTHER_TIMEOUT_TEXT}", index="security")
def tmr_non_invite_timeout(ctx: Context) -> Iterable[Finding]:
    if not timeline_ok(ctx):
        return
    failed: dict[tuple, Finding] = {}
    for transaction in ctx.session.transactions:
        request = transaction.request
        if transaction.method in ("INVITE", "ACK") or request is None:
            continue
        final = None
        for message in transaction.messages:
            if message.status >= 200:
                final = message
                break
        if final is not None:
            if final.status == 408:
                yield _non_invite_finding(ctx, transaction, request, final)
            continue
        if not is_udp(request) or answered_elsewhere(ctx, request):
            continue
        finding = _non_invite_silent(ctx, transaction, request)
        if finding is None:
            continue
        # one failure, one severity (issue 14, pattern 5): the same request to the same place
        # failing again (a new transaction, e.g. the next CSeq) is the first failure's evidence
        key = (request.call_id, request.src, request.dst, request.method)
        first = failed.get(key)
        if first is None:
            if not finding.inconclusive:
                failed[key] = finding
        elif finding.severity != "info":
            finding.severity = "info"
            finding.title = f"{request.method} not answered again (a new transaction, CSeq " \
                            f"{request.cseq_num})"
            finding.explanation = ("The same failure again, in a new transaction: "
                                   + finding.explanation[0].lower() + finding.explanation[1:])
        yield finding


def _non_invite_silent(ctx: Context, transaction: Transaction, request: Message) -> Finding | None:
    copies = [m for m in transaction.messages if m.method == request.method]
    window = 64 * t1_of(copies)
    answer_path = path_seen(ctx, request.dst, request.src)
    if len(copies) < 3 and not answer_path and stopped(ctx, copies, t1_of(copies), T2):
        return None      # D7: it stopped repeating (Timer E): answered on a path not captured
    gave_up = len(copies) >= 3 and (stopped(ctx, copies, t1_of(copies), T2)
                                    or _repeated_for_timer_b(copies))
    if not gave_up and not covered(ctx, request.ts, window):
        return _non_invite_finding(ctx, transaction, request, None, undecided=ctx.undecided(
            request.ts, window, what=f"the {request.method}"))
    if len(copies) < 3 and not answer_path:
        return None                  # not retransmitted: answered on a path not in the capture
    return _non_invite_finding(ctx, transaction, request, None)


def _seen_path_note(request: Message, copies: int) -> str:
    """D7 vantage: the destination answers this sender's other requests in the capture, so the
    path works and an answer to this one would have been captured (a cause the capture shows)."""
    return (f" {request.dst} answers {request.src}'s other requests in this capture, so the "
            "address and the path work and an answer would have been captured: it ignored or "
            "lost this one (overload is a common reason)"
            + ("; the sender does not repeat unanswered requests." if copies < 3 else "."))


def _non_invite_finding(ctx: Context, transaction: Transaction, request: Message,
                        timeout: Message | None, undecided=None) -> Finding:
    method = request.method
    copies = [m for m in transaction.messages if m.method == method]
    n, span = len(copies), copies[-1].ts - request.ts
    told = f" It was finally refused with 408 Request Timeout at {clock(timeout)}." if timeout else ""
    provisional = [m for m in transaction.messages if 100 <= m.status < 200]
    if provisional and timeout is None:
        told += f" Only a provisional {provisional[0].label} came back."
    decided = undecided is None
    seen = (f"was sent {plural(n, 'time')} over {span:.1f} seconds and " if n > 1
            else "was sent once and ")
    if method == "BYE":
        if decided:
            text = (f"The hang-up to {request.dst} {seen}the other side never confirmed it.{told} "
                    "The other side probably never learned that the call ended: the phone may stay "
                    "'in call', and the call may keep being billed until a timer clears it.")
        else:
            text = (f"The hang-up to {request.dst} {seen}no answer to it appears in the capture."
                    f"{told} If it was never confirmed, the other side may not know that the call "
                    "ended.")
        text += (_seen_path_note(request, n) if path_seen(ctx, request.dst, request.src)
                 else _why_unreachable(request))
    elif method == "REGISTER":
        if decided:
            text = (f"The phone at {request.src} tried to register {plural(n, 'time')} and got no reply, so "
                    f"it is not registered there (incoming calls cannot reach it through "
                    f"{request.dst}).{told} Check that it can reach {request.dst} (firewall, DNS, "
                    "the right port and transport) and that replies can come back.")
        else:
            text = (f"The phone at {request.src} sent a REGISTER to {request.dst} ({plural(n, 'time')}) and "
                    f"no reply appears in the capture.{told}")
    else:
        who, _ = device(ctx, request.src, (request,))
        if decided:
            text = (f"{who[0].upper()}{who[1:]} sent {a_an(method)} to {request.dst} ({plural(n, 'time')} "
                    f"over {span:.1f} s) that was never answered.{told} "
                    + METHOD_MEANING.get(method, "Whatever it was meant to do did not happen."))
        else:
            text = (f"{who[0].upper()}{who[1:]} sent {a_an(method)} to {request.dst} ({plural(n, 'time')}) "
                    f"and no answer appears in the capture.{told}")
    severity = "error" if method in NON_INVITE_ERROR else "warning"
    if decided and n < 3 and method != "BYE" and timeout is None:
        text += _seen_path_note(request, n)      # why a request sent once counts (D7 vantage)
    text += _one_sided(ctx, request) + _irregular(copies)
    highlight = copies + ([timeout] if timeout is not None else [])
    if undecided is not None:
        title = f"No answer seen to the {method} (undecided)"
    else:
        title = f"{method} not answered" + (" (408)" if timeout else "")
    return _timeout(ctx, "tmr-non-invite-timeout", title, text, highlight,
                    {"method": method, "copies": n, "destination": request.dst,
                     "408": timeout is not None}, severity=severity,
                    inconclusive=undecided is not None, undecided=undecided)
