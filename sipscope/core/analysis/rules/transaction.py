"""Transaction-layer fault rules (catalog §3): final after 2xx, CANCEL faults, missing ACK, PRACK.

Also holds the small helpers the other families share (clock, short branch, element T1, the
User-Agent of a nearby message, horizon with the D6 tolerance).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sipscope.core.analysis.context import T1, T2, Context
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.text import clock
from sipscope.core.model.message import Message, host_of
from sipscope.core.model.transaction import Transaction
from sipscope.core.sources.datagram import TIME_UNKNOWN
from sipscope.core.sip.numbers import header_int
from sipscope.core.words import plural

# -- shared helpers ------------------------------------------------------------------------------




def a_an(word: str) -> str:
    """`an INVITE`, `a BYE`: the article for a method name spelled out in capitals."""
    return f"an {word}" if word[:1].upper() in "AEIOU" else f"a {word}"


def short_branch(branch: str) -> str:
    return branch if len(branch) <= 14 else "…" + branch[-12:]


def seconds(value: float) -> str:
    return f"{value:.1f}" if value >= 1 else f"{value:.3f}"


def t1_of(copies: list[Message]) -> float:
    """D6: an element's T1 is its first retransmission gap when that is 0.1-3 s."""
    if len(copies) >= 2:
        gap = copies[1].ts - copies[0].ts
        if 0.1 <= gap <= 3.0:
            return gap
    return T1


def settle_time(copies: list[Message], t1: float = T1, cap: float = T2) -> float:
    """Seconds after the last copy by which the sender's next retransmission is overdue: RFC 3261
    retransmission intervals start at T1 and double (§17.1.1.2 Timer A uncapped, §17.1.2.2
    Timer E and §13.3.1.4 2xx capped at T2); twice the next interval plus 0.5 s of tolerance."""
    if len(copies) < 2:
        following = t1
    else:
        following = min(2 * (copies[-1].ts - copies[-2].ts), cap)
    return 2 * max(following, t1) + 0.5


def stopped(ctx: Context, copies: list[Message], t1: float = T1, cap: float = T2) -> bool:
    """The sender stopped retransmitting while the capture kept looking (D7 settling evidence):
    it got its answer, gave up, or never retransmits.  Never true for a curated excerpt."""
    return bool(copies) and ctx.horizon_ok(copies[-1].ts, settle_time(copies, t1, cap))


def path_seen(ctx: Context, src: str, dst: str) -> bool:
    """D7 vantage: the capture holds a message sent from the address `src` to `dst` (a host, or
    an exact host:port address), so a message on that path would have been captured too."""
    pairs = getattr(ctx, "_paths", None)
    if pairs is None:
        pairs = set()
        for message in ctx.session.messages:
            pairs.add((message.src, message.dst))
            pairs.add((message.src, message.dst_host))
        ctx._paths = pairs           # type: ignore[attr-defined]
    return (src, dst) in pairs


def covered(ctx: Context, trigger: float, window: float) -> bool:
    """D7 horizon with the D6 tolerance (-20 % - 100 ms): the capture reaches trigger + window."""
    return ctx.horizon_ok(trigger, max(window * 0.8 - 0.1, 0.0))


def ua_near(ctx: Context, address: str, messages: Iterable[Message] = ()) -> str:
    """The User-Agent/Server of the element at `address`: from the given messages it sent first
    (cheap), then from the whole capture (Context caches that per address)."""
    for message in messages:
        if message.src == address:
            found = message.sip.user_agent
            if found:
                return found
    if len(ctx.session.messages) <= 200_000:
        return ctx.user_agent(address)
    return ""


def device(ctx: Context, address: str, messages: Iterable[Message] = ()) -> tuple[str, str]:
    """('the device at 1.2.3.4:5060 (Acme 1.0)', 'Acme 1.0') for the tech text."""
    ua = ua_near(ctx, address, messages)
    return (f"the device at {address} ({ua})" if ua else f"the device at {address}"), ua


IMPLAUSIBLE_SPAN = 86_400.0   # no transaction lasts a day: the capture's clock is fabricated


def timeline_ok(ctx: Context) -> bool:
    """False when the input gives no times (its reader already says so), or its timestamps
    cannot be real (a transaction spanning more than a day, as in crafted sample files): timer
    and delay rules then say nothing.  The second case is noted once on the input's report
    (session.analysis_warnings is kept for rules that failed)."""
    cached = getattr(ctx, "_timeline_ok", None)
    if cached is not None:
        return cached
    ok = not any(m.flags & TIME_UNKNOWN for m in ctx.session.messages)
    if ok:
        worst = max(ctx.session.transactions, default=None,
                    key=lambda t: t.end - t.start if t.messages else 0.0)
        span = worst.end - worst.start if worst is not None and worst.messages else 0.0
        ok = span <= IMPLAUSIBLE_SPAN
        inputs = ctx.session.inputs
        if not ok and inputs:
            report = inputs[min(max(worst.messages[0].input_index, 0), len(inputs) - 1)]
            report.warn(f"timestamps are implausible (one transaction spans {span / 86_400:,.0f} "
                        "days): timer and delay rules were not run")
    ctx._timeline_ok = ok            # type: ignore[attr-defined]
    return ok


def answered_elsewhere(ctx: Context, request: Message) -> bool:
    """Responses with the request's branch and CSeq exist in another transaction: their Via
    sent-by was rewritten on the way (RFC 3261 §17.1.3 matches a response by branch and CSeq
    method only), so the request was not left unanswered."""
    call = ctx.session.call(request.call_id)
    return call is not None and any(
        m.is_response and m.branch == request.branch and m.cseq_num == request.cseq_num
        and m.cseq_method == request.method for m in call.messages)


def is_udp(message: Message) -> bool:
    return (message.transport or "UDP").upper() == "UDP"


def copies_of(transaction: Transaction, first: Message) -> list[Message]:
    """`first` and its retransmissions (D2) within the transaction, in time order."""
    out = [first]
    for message in transaction.messages:
        if message is first or not message.copy or message.index < first.index:
            continue
        if message.src == first.src and message.dst == first.dst and message.status == first.status \
                and message.method == first.method and message.to_tag == first.to_tag:
            out.append(message)
    return out


def invites(ctx: Context) -> Iterable[Transaction]:
    for transaction in ctx.session.transactions:
        if transaction.method == "INVITE":
            yield transaction


def rtt_of(transaction: Transaction) -> float:
    """Round trip estimated from the INVITE to its first response (0 when unknown)."""
    request = transaction.request
    if request is None:
        return 0.0
    for message in transaction.messages:
        if message.is_response:
            return max(message.ts - request.ts, 0.0)
    return 0.0


def final_after_2xx(transaction: Transaction) -> tuple[Message, Message] | None:
    """§3.1 (2): (R1, R2) when a sender gave a 300-699 after its 2xx on this INVITE transaction."""
    first_2xx: dict[str, Message] = {}
    for message in transaction.messages:
        status = message.status
        if status < 200 or message.copy:
            continue
        r1 = first_2xx.get(message.src)
        if status < 300:
            if r1 is None:
                first_2xx[message.src] = message
            continue
        if r1 is not None and _later(r1, message):
            return r1, message
    return None


def _later(r1: Message, r2: Message) -> bool:
    """R2 is after R1: more than 1 ms later, or later in the same interface's packet order."""
    if r2.ts - r1.ts > 0.001:
        return True
    return r2.input_index == r1.input_index and r2.frame > r1.frame


# -- 3.1 txn-final-after-2xx ---------------------------------------------------------------------

FINAL_AFTER_2XX_TEXT = (
    "{device} answered this call ({R1.code} at {R1.time}), then refused the same call attempt "
    "({R2.code} at {R2.time}). A device may give only one final answer to a call attempt. The "
    "caller's side now thinks the call is connected while {device} has dropped it, so the customer "
    "hears the call connect and then go dead. This is a bug in {device} ({ua}), often triggered "
    "when it receives two copies of one call: check its firmware, and whether it is registered "
    "twice in the same ring group.")


@rule("txn-final-after-2xx", text=FINAL_AFTER_2XX_TEXT)
def txn_final_after_2xx(ctx: Context) -> Iterable[Finding]:
    for transaction in invites(ctx):
        pair = final_after_2xx(transaction)
        if pair is not None:
            yield _final_after_2xx_finding(ctx, transaction, *pair)
            continue
        second = _second_2xx_from_ua(ctx, transaction)
        if second is not None:
            yield _second_2xx_finding(ctx, transaction, *second)


def _between(ctx: Context, r1: Message, r2: Message, methods: tuple[str, ...]) -> list[Message]:
    call = ctx.session.call(r1.call_id)
    if call is None:
        return []
    return [m for m in call.messages if r1.index < m.index < r2.index and m.method in methods
            and not m.copy]


def _final_after_2xx_finding(ctx: Context, transaction: Transaction, r1: Message,
                             r2: Message) -> Finding:
    sender = r1.src
    who, ua = device(ctx, sender, (r1, r2))
    between = _between(ctx, r1, r2, ("CANCEL", "BYE"))
    text = (f"{who[0].upper()}{who[1:]} answered this call ({r1.status} at {clock(r1)}), then refused "
            f"the same call attempt ({r2.status} at {clock(r2)}, branch {short_branch(r1.branch)}, "
            f"CSeq {r1.cseq_num} INVITE). A device may give only one final answer to a call attempt. "
            f"The caller's side now thinks the call is connected while the device at {sender} has "
            "dropped it, so the customer hears the call connect and then go dead. This is a bug in "
            f"the device at {sender} ({ua or 'User-Agent not shown'}), often triggered when it "
            "receives two copies of one call: check its firmware, and whether it is registered twice "
            "in the same ring group.")
    finding = ctx.finding(
        "txn-final-after-2xx", f"{r2.status} after {r1.status} on the same INVITE transaction",
        text, [r1, r2, *between], scope="transaction",
        rfc="RFC 3261 §17.2.1; RFC 6026 §7.1; RFC 3261 §16.7 step 5",
        evidence={"sender": sender, "first": r1.status, "first_time": clock(r1),
                  "second": r2.status, "second_time": clock(r2), "branch": r1.branch,
                  "cseq": r1.cseq_num, "user_agent": ua, "to_tag": r1.to_tag,
                  "between": [m.label for m in between]})
    finding.time = r2.ts
    return finding


def _second_2xx_from_ua(ctx: Context, transaction: Transaction) -> tuple[Message, Message] | None:
    """§3.1 (3): a second 2xx with another To tag from the same user agent (not a proxy)."""
    first: dict[str, Message] = {}
    for message in transaction.messages:
        if not 200 <= message.status < 300 or message.copy:
            continue
        r1 = first.setdefault(message.src, message)
        if r1 is message or message.to_tag == r1.to_tag:
            continue
        if _forwards(ctx, r1) or not _same_contact(r1, message):
            return None
        return r1, message
    return None


def _forwards(ctx: Context, response: Message) -> bool:
    """The sender of `response` forwarded the request onward: it is a proxy, not a UA."""
    call = ctx.session.call(response.call_id)
    return call is not None and any(
        m.method == "INVITE" and m.src == response.src and m.cseq_num == response.cseq_num
        for m in call.messages)


def _same_contact(a: Message, b: Message) -> bool:
    ca, cb = a.sip.contacts, b.sip.contacts
    if not ca or not cb or ca[0].uri is None or cb[0].uri is None:
        return False
    ua, ub = ca[0].uri, cb[0].uri
    return (ua.host, ua.port) == (ub.host, ub.port) or ua.host == host_of(a.src)


def _second_2xx_finding(ctx: Context, transaction: Transaction, r1: Message,
                        r2: Message) -> Finding:
    who, ua = device(ctx, r1.src, (r1, r2))
    text = (f"{who[0].upper()}{who[1:]} answered this call twice with different dialog labels "
            f"({r1.status} with To tag {r1.to_tag} at {clock(r1)}, {r2.status} with To tag "
            f"{r2.to_tag} at {clock(r2)}). A single device may give only one answer to a call "
            "attempt; the caller now holds two calls, one of which nobody is on. This is a bug in "
            f"the device at {r1.src} ({ua or 'User-Agent not shown'}): check its firmware.")
    finding = ctx.finding(
        "txn-final-after-2xx", "Second 2xx with another To tag from the same user agent", text,
        [r1, r2], severity="warning", scope="transaction", rfc="RFC 3261 §17.2.1; §8.2.6.2",
        evidence={"sender": r1.src, "to_tags": [r1.to_tag, r2.to_tag], "user_agent": ua})
    finding.time = r2.ts
    return finding


# -- 3.2 txn-cancel-misplaced --------------------------------------------------------------------

CANCEL_EARLY_TEXT = (
    "The caller's side cancelled this call {dt} ms after sending it, before the far end had "
    "confirmed receiving it. SIP forbids this because the cancel can overtake the call request. "
    "The far end then rejects the cancel and keeps ringing, so the customer sees a phone that rings "
    "after the caller hung up. Check the calling device or proxy for a very short no-answer timer or "
    "a bug in its cancel handling.")
CANCEL_LATE_TEXT = (
    "The caller's side sent a cancel {dt} s after the far end had already given its final answer "
    "({code}), so the cancel changed nothing. This is usually a harmless race. If it repeats, the "
    "caller's device is receiving answers late: check the reply path (see the NAT findings).")


def cancels(ctx: Context) -> Iterable[tuple[Transaction, Message]]:
    for transaction in ctx.session.transactions:
        if transaction.method == "CANCEL" and transaction.request is not None:
            yield transaction, transaction.request


def _to_sender(message: Message, sender: str) -> bool:
    return message.dst == sender or message.dst_host == host_of(sender)


@rule("txn-cancel-misplaced", text=CANCEL_EARLY_TEXT + " / (b) " + CANCEL_LATE_TEXT)
def txn_cancel_misplaced(ctx: Context) -> Iterable[Finding]:
    for cancel_txn, cancel in cancels(ctx):
        invite = cancel_txn.cancelled_invite
        if invite is None or invite.request is None:
            continue
        responses = [m for m in invite.messages if m.is_response and not m.copy
                     and _to_sender(m, cancel.src)]
        before = [m for m in responses if m.ts < cancel.ts]
        after = [m for m in responses if m.ts >= cancel.ts]
        if not before and after:
            yield _cancel_early(ctx, invite, cancel, after[0])
            continue
        finals = [m for m in before if m.status >= 200]
        if finals:
            window = max(0.5, 2 * rtt_of(invite))
            final = finals[0]
            if cancel.ts - final.ts > window:
                yield _cancel_late(ctx, invite, cancel, final, window)


def _cancel_early(ctx: Context, invite: Transaction, cancel: Message, first: Message) -> Finding:
    # (a) rests on a 1xx being absent: a curated excerpt may have left it out (D7)
    dt = (cancel.ts - invite.request.ts) * 1000
    answer = next((m for m in cancel.transaction.messages if m.status >= 200), None) \
        if cancel.transaction is not None else None
    closed = next((m for m in invite.final_responses if m.status == 487), None)
    # what the far end did with the early cancel, as the capture shows it (issue 14, pattern 1)
    if answer is not None and answer.status == 481:
        outcome = (f" Here the far end rejected the cancel ({answer.label} at {clock(answer)}), so "
                   "the called phone may keep ringing after the caller hung up.")
    elif answer is not None and 200 <= answer.status < 300:
        outcome = (f" Here the far end accepted it anyway ({answer.label}"
                   + (f", and closed the call with {closed.label}" if closed is not None else "")
                   + "); a stricter one rejects it ('481 Call/Transaction Does Not Exist') and "
                   "keeps ringing after the caller hung up.")
    else:
        outcome = (" A far end that gets the cancel first rejects it ('481 Call/Transaction Does "
                   "Not Exist') and keeps ringing after the caller hung up; no answer to this "
                   "cancel appears in the capture.")
    text = (f"The caller's side ({cancel.src}) cancelled this call {dt:.0f} ms after sending it, "
            f"before the far end had confirmed receiving it (its first answer, {first.label}, came "
            f"at {clock(first)}). SIP forbids this because the cancel can overtake the call request."
            + outcome + " Check the calling device or proxy for a very short no-answer timer or a "
            "bug in its cancel handling.")
    shown = [invite.request, cancel, first] + [m for m in (answer, closed) if m is not None]
    return ctx.finding("txn-cancel-misplaced", f"CANCEL sent {dt:.0f} ms after the INVITE, before "
                       "any provisional response", text, shown,
                       scope="transaction", rfc="RFC 3261 §9.1", inconclusive=ctx.excerpt,
                       evidence={"ms_after_invite": round(dt, 1), "first_response": first.label,
                                 "canceller": cancel.src,
                                 "cancel_answer": answer.label if answer is not None else None,
                                 "closed_with": closed.label if closed is not None else None})


def _cancel_late(ctx: Context, invite: Transaction, cancel: Message, final: Message,
                 window: float) -> Finding:
    dt = cancel.ts - final.ts
    extra = (" The final answer was a 2xx: the caller must still acknowledge it and hang it up "
             "(see fork-unwanted-2xx-not-released)." if final.status < 300 else "")
    text = (f"The caller's side ({cancel.src}) sent a cancel {dt:.1f} s after the far end had "
            f"already given its final answer ({final.status} at {clock(final)}), so the cancel "
            "changed nothing. This is usually a harmless race. If it repeats, the caller's device is "
            f"receiving answers late: check the reply path from {final.src} to it.{extra}")
    return ctx.finding("txn-cancel-misplaced", f"CANCEL sent {dt:.1f} s after the final "
                       f"{final.status}", text, [invite.request, cancel, final], severity="info",
                       scope="transaction", rfc="RFC 3261 §9.1",
                       evidence={"seconds_after_final": round(dt, 3), "final": final.status,
                                 "race_window": round(window, 3)})


# -- 3.3 txn-cancel-ineffective ------------------------------------------------------------------

CANCEL_MISMATCH_TEXT = (
    "The caller hung up while the phone was ringing, but the cancel did not match the ringing call "
    "({diff}), so the far end answered 'no such call' (481). The called phone may keep ringing until "
    "its own timer runs out, and someone may even answer into a dead call. Usually a proxy or "
    "session border controller (SBC) rebuilt the cancel with a different Via branch, Request-URI or "
    "destination (the fields that tie a cancel to its call) than the original call request: compare "
    "the two highlighted messages.")
CANCEL_NO_487_TEXT = (
    "The cancel was accepted, but the call request was never closed with 'Request Terminated' (487) "
    "within 32 seconds. The called side may think the call is still alive, and the caller's side may "
    "hang on 'cancelling'. Check the called device's firmware, or whether its 487 went to an address "
    "that does not reach the caller (see the NAT findings).")


@rule("txn-cancel-ineffective", text=CANCEL_MISMATCH_TEXT + " / (c) " + CANCEL_NO_487_TEXT)
def txn_cancel_ineffective(ctx: Context) -> Iterable[Finding]:
    cancelled: set[int] = set()
    for cancel_txn, cancel in cancels(ctx):
        invite = cancel_txn.cancelled_invite or _candidate_invite(ctx, cancel)
        if invite is None or invite.request is None:
            continue
        cancelled.add(invite.id)
        finding = _cancel_check(ctx, cancel_txn, cancel, invite)
        if finding is not None:
            yield finding
    for invite in invites(ctx):
        if invite.id in cancelled or invite.cancel is not None or invite.request is None:
            continue
        terminated = next((m for m in invite.final_responses if m.status == 487), None)
        if terminated is None or final_after_2xx(invite) is not None:
            continue
        yield ctx.finding(
            "txn-cancel-ineffective", "487 without a CANCEL on this leg",
            f"The call request to {invite.request.dst} was closed with 487 (Request Terminated) at "
            f"{clock(terminated)}, but no cancel for it appears on this leg of the capture. Something "
            "upstream cancelled it, or the cancel took a path that is not in the capture.",
            [invite.request, terminated], severity="info", scope="transaction",
            rfc="RFC 3261 §9.2; §21.4.25", evidence={"subcase": "d",
                                                     "destination": invite.request.dst})


def _candidate_invite(ctx: Context, cancel: Message) -> Transaction | None:
    """§3.3 (a): an INVITE with the CANCEL's Call-ID, From tag and CSeq number but another branch
    (the same sender, still without a final response), the same destination preferred."""
    call = ctx.session.call(cancel.call_id)
    if call is None:
        return None
    found = []
    for transaction in call.transactions:
        request = transaction.request
        if transaction.method != "INVITE" or request is None or request.src != cancel.src:
            continue
        if request.from_tag != cancel.from_tag or request.cseq_num != cancel.cseq_num \
                or request.ts > cancel.ts:
            continue
        final = transaction.final
        if final is not None and final.ts < cancel.ts:
            continue
        found.append(transaction)
    found.sort(key=lambda t: t.request.dst != cancel.dst)
    return found[0] if found else None


def _cancel_diff(invite: Message, cancel: Message) -> list[str]:
    """RFC 3261 §9.1: fields of the CANCEL that must equal the INVITE's but do not."""
    diff = []
    if cancel.branch != invite.branch:
        diff.append(f"Via branch {cancel.branch} instead of {invite.branch}")
    if (cancel.request_uri or "") != (invite.request_uri or ""):
        diff.append(f"Request-URI {cancel.request_uri} instead of {invite.request_uri}")
    if cancel.dst != invite.dst:
        diff.append(f"sent to {cancel.dst} instead of {invite.dst}")
    to_c, to_i = cancel.sip.to, invite.sip.to
    uri_c = to_c.uri.text if to_c.uri else to_c.text
    uri_i = to_i.uri.text if to_i.uri else to_i.text
    if uri_c != uri_i or (to_c.tag or "") != (to_i.tag or ""):
        diff.append(f"To {cancel.sip.get('To')!r} instead of {invite.sip.get('To')!r}")
    return diff


def _cancel_check(ctx: Context, cancel_txn: Transaction, cancel: Message,
                  invite: Transaction) -> Finding | None:
    request = invite.request
    final = invite.final
    pending = final is None or final.ts >= cancel.ts
    answer = next((m for m in cancel_txn.final_responses), None)
    diff = _cancel_diff(request, cancel) if pending else []
    window = max(0.5, 2 * rtt_of(invite))
    refused = answer is not None and answer.status == 481
    if refused and (final is None or final.ts > cancel.ts + window) or (diff and pending):
        shown = "; ".join(diff) if diff else "its fields match, yet the far end did not know the call"
        text = (f"The caller hung up while the phone was ringing, but the cancel did not match the "
                f"ringing call ({shown})"
                + (", so the far end answered 'no such call' (481)." if refused else ".")
                + " The called phone may keep ringing until its own timer runs out, and someone may "
                "even answer into a dead call. Usually a proxy or session border controller (SBC) "
                "rebuilt the cancel with a different Via branch, Request-URI or destination (the "
                "fields that tie a cancel to its call) than the original call request: compare the "
                "two highlighted messages.")
        highlight = [request, cancel] + ([answer] if answer else [])
        return ctx.finding("txn-cancel-ineffective", "CANCEL does not match its INVITE"
                           + (" (481)" if refused else ""), text, highlight, scope="transaction",
                           rfc="RFC 3261 §9.1; §9.2; §16.10",
                           evidence={"subcase": "a" if diff else "b", "diff": diff,
                                     "cancel_answer": answer.status if answer else None})
    if answer is None or not 200 <= answer.status < 300:
        return None
    return _cancel_no_487(ctx, cancel, answer, invite)


def _cancel_no_487(ctx: Context, cancel: Message, answer: Message,
                   invite: Transaction) -> Finding | None:
    request = invite.request
    finals = invite.final_responses
    late_2xx = next((m for m in finals if 200 <= m.status < 300 and m.ts > answer.ts), None)
    if late_2xx is not None:
        text = (f"The cancel was accepted ({answer.status} at {clock(answer)}), but the call was "
                f"answered anyway ({late_2xx.status} at {clock(late_2xx)}). The caller's side must "
                "acknowledge that answer and hang it up at once, or the called party picks up into a "
                "dead call (see fork-unwanted-2xx-not-released).")
        return ctx.finding("txn-cancel-ineffective", "2xx after the 200 to the CANCEL", text,
                           [request, cancel, answer, late_2xx], severity="warning",
                           scope="transaction", rfc="RFC 3261 §9.2; §13.2.2.4",
                           evidence={"subcase": "c", "late_2xx": late_2xx.status})
    window = 64 * t1_of([m for m in invite.messages if m.method == "INVITE"])
    closing = next((m for m in finals if m.ts >= request.ts), None)
    if closing is not None and closing.ts <= cancel.ts + window * 1.2 + 0.1:
        return None
    late = f" It only came at {clock(closing)}." if closing is not None else ""
    text = ("The cancel was accepted, but the call request was never closed with 'Request "
            f"Terminated' (487) within 32 seconds.{late} The called side may think the call is "
            "still alive, and the caller's side may hang on 'cancelling'. Check the called device's "
            "firmware, or whether its 487 went to an address that does not reach the caller.")
    highlight = [request, cancel, answer] + ([closing] if closing else [])
    evidence = {"subcase": "c", "cancel_time": clock(cancel), "window": round(window, 1)}
    undecided = None
    if closing is None and (ctx.excerpt or not covered(ctx, cancel.ts, window)):
        undecided = ctx.undecided(cancel.ts, window, what="the CANCEL")
    elif closing is None and not ctx.seen_sending(request.dst):
        undecided = ctx.undecided(cancel.ts, window, path=(
            f"this capture holds no packet at all from {request.dst}, the called side, so a 487 "
            "from it would not be seen here"))
    if undecided is not None:
        text = ("The cancel was accepted, but no 'Request Terminated' (487) closing the call "
                "request appears in the capture. If none was sent, the called side may think the "
                "call is still alive.")
        return ctx.finding("txn-cancel-ineffective", "No 487 seen after the accepted CANCEL "
                           "(undecided)", text, highlight, scope="transaction",
                           rfc="RFC 3261 §9.2", inconclusive=True, evidence=evidence,
                           undecided=undecided)
    # RFC 3261 §9.1: RFC 2543 user agents never send 487; only info for them
    severity = "info" if invite.rfc2543 else "warning"
    return ctx.finding("txn-cancel-ineffective", "No 487 after the accepted CANCEL", text,
                       highlight, severity=severity, scope="transaction", rfc="RFC 3261 §9.2",
                       evidence=evidence)


# -- 3.4 txn-non2xx-not-acked --------------------------------------------------------------------

NON2XX_TEXT = (
    "After refusing the call with {code} {reason}, {sender} never got the caller's confirmation, so "
    "it repeated the refusal {n} times over about 32 seconds. The user rarely notices, but it shows "
    "that replies from this side are not getting back to the caller, or that the caller's "
    "confirmation goes somewhere else. The same fault can break answered calls, so check the "
    "Via/rport handling (how replies find their way back) and the firewall between the two.")


@rule("txn-non2xx-not-acked", text=NON2XX_TEXT)
def txn_non2xx_not_acked(ctx: Context) -> Iterable[Finding]:
    if not timeline_ok(ctx):
        return
    for invite in invites(ctx):
        final = next((m for m in invite.messages if m.status >= 300 and not m.copy), None)
        if final is None or not is_udp(final):
            continue
        finding = _non2xx_check(ctx, invite, final)
        if finding is not None:
            yield finding


def _non2xx_check(ctx: Context, invite: Transaction, final: Message) -> Finding | None:
    copies = copies_of(invite, final)
    window = 64 * t1_of(copies)
    deadline = final.ts + window * 1.2 + 0.1
    acks = _acks_after(ctx, invite, final, deadline)
    # §17.1.1.3: the ACK carries the INVITE's branch, its CSeq number and the response's To tag.
    # (It goes to the INVITE's destination, §17.1.1.2, even when the response came from elsewhere.)
    if any(a.branch == final.branch and a.cseq_num == final.cseq_num and a.to_tag == final.to_tag
           for a in acks):
        return None
    mismatched = acks
    code = f"{final.status} {final.reason}".strip()
    n = len(copies)
    if mismatched:
        ack = mismatched[0]
        text = (f"After refusing the call with {code}, {final.src} got an acknowledgement that does "
                f"not match its refusal (ACK at {clock(ack)}: branch {short_branch(ack.branch)}, "
                f"CSeq {ack.cseq_num}, To tag {ack.to_tag or 'none'}; expected branch "
                f"{short_branch(final.branch)}, CSeq {final.cseq_num}, To tag {final.to_tag or 'none'}),"
                f" so it repeated the refusal {n} times. The caller's confirmation goes somewhere "
                "else or is built wrongly: check the Via/rport handling and whatever rewrites the ACK.")
        return ctx.finding("txn-non2xx-not-acked", f"ACK does not match the {final.status}", text,
                           [*copies, ack], scope="transaction", rfc="RFC 3261 §17.1.1.3; §17.2.1",
                           evidence={"subcase": "b", "copies": n, "ack": ack.index})
    text = (f"After refusing the call with {code}, {final.src} never got the caller's confirmation, "
            f"so it repeated the refusal {n} times over {copies[-1].ts - final.ts:.1f} seconds. The "
            "user rarely notices, but it shows that replies from this side are not getting back to "
            "the caller, or that the caller's confirmation goes somewhere else. The same fault can "
            "break answered calls, so check the Via/rport handling (how replies find their way back) "
            "and the firewall between the two.")
    evidence = {"subcase": "a", "copies": n, "code": final.status, "sender": final.src}
    # Retransmissions (Timer G, RFC 3261 §17.2.1) prove the ACK was missing for the time they span,
    # so three copies decide it even in a capture shorter than 64*T1; an excerpt may omit the ACK.
    if n >= 3 and not ctx.excerpt:
        return ctx.finding("txn-non2xx-not-acked", f"{final.status} retransmitted without ACK",
                           text, copies, scope="transaction", rfc="RFC 3261 §17.1.1.2; §17.2.1",
                           evidence=evidence)
    # D7 vantage: the ACK is sent at once (§17.1.1.2) on the INVITE's path; when the caller is seen
    # sending a later request there (a BYE, a new INVITE) and no ACK, the ACK was never sent.
    later = _later_request(ctx, invite, final) if not ctx.excerpt else None
    if later is not None:
        text = (f"After the call was refused with {code} by {final.src}, the caller's side never "
                f"acknowledged the refusal (no ACK), although it sent {a_an(later.method)} on the same "
                f"path at {clock(later)}."
                + (f" {final.src} repeated its refusal {n} times waiting for it." if n > 1 else
                   f" {final.src} sent its refusal once and did not repeat it, as an RFC 3261 "
                   "server does until the ACK comes (§17.2.1 Timer G).")
                + " The same fault can break answered calls. "
                "Check the caller's SIP stack (or the test scenario that drives it) and anything "
                "that rewrites or drops ACKs on the way.")
        evidence["later_request"] = later.index
        return ctx.finding("txn-non2xx-not-acked", f"{final.status} never acknowledged", text,
                           [*copies, later], scope="transaction", rfc="RFC 3261 §17.1.1.2",
                           evidence=evidence)
    if final.status in (401, 407) and not ctx.excerpt and stopped(ctx, copies, t1_of(copies), T2):
        # §17.2.1 Timer G: it stopped repeating the challenge, so its ACK arrived (a UAC that
        # answers a challenge ACKs it first, §8.1.3.5, §17.1.1.3)
        return None
    if ctx.excerpt or not covered(ctx, final.ts, window):
        text = (f"After refusing the call with {code}, {final.src} sent its refusal {plural(n, 'time')} and "
                "no acknowledgement (ACK) of it appears in the capture. If the ACK never arrived, "
                "the refusing side repeats its refusal for about 32 seconds.")
        return ctx.finding("txn-non2xx-not-acked", f"No ACK seen for the {final.status} (undecided)",
                           text, copies, scope="transaction", rfc="RFC 3261 §17.1.1.2",
                           inconclusive=True, evidence=evidence, undecided=ctx.undecided(
                               final.ts, window, what=f"the {final.status}")
                           if ctx.excerpt or final.status not in (401, 407) else ctx.undecided(
                               copies[-1].ts, settle_time(copies, t1_of(copies), T2),
                               what=f"the {final.status}"))
    return None


def _later_request(ctx: Context, invite: Transaction, final: Message) -> Message | None:
    """A request the INVITE's sender sent after the final to the INVITE's destination."""
    request = invite.request
    call = ctx.session.call(final.call_id)
    if request is None or call is None:
        return None
    for message in call.messages:
        if message.index > final.index and message.is_request and message.method != "ACK" \
                and message.src == request.src and message.dst == request.dst:
            return message
    return None


def _acks_after(ctx: Context, invite: Transaction, final: Message, deadline: float) -> list[Message]:
    """ACKs the INVITE's sender sent after the final: inside the transaction, or filed elsewhere
    (another branch or CSeq number, or filed as a 2xx ACK after an earlier 2xx)."""
    inside = [m for m in invite.acks if m.transaction is invite and final.ts <= m.ts <= deadline]
    call = ctx.session.call(final.call_id)
    request = invite.request
    if call is None:
        return inside
    sender = request.src if request is not None else final.dst
    found = list(inside)
    for message in call.messages:
        if message.method != "ACK" or message.transaction is invite or message.copy:
            continue
        if not final.ts <= message.ts <= deadline or message.src != sender:
            continue
        acked = message.transaction.acked_invite if message.transaction else None
        if acked is not None and acked is not invite:
            continue                     # the ACK of another (answered) INVITE
        if message.branch == final.branch or message.cseq_num == final.cseq_num:
            found.append(message)
    return found


# -- 3.5 txn-prack-failure -----------------------------------------------------------------------

PRACK_MISSING_TEXT = (
    "The called side asked the caller to confirm its '{code} {reason}' message (a PRACK), but no "
    "confirmation arrived. After about 32 seconds it gave up and failed the call with {final}. The "
    "customer hears ringing or progress tones, then the call fails. Check whether the caller, and "
    "any proxy or SBC in between, supports '100rel'/PRACK and passes the PRACK through; turning "
    "100rel off on one side is a common workaround.")
PRACK_MISMATCH_TEXT = (
    "The two sides disagree about 'reliable provisional responses' (100rel/PRACK): {detail}. A "
    "strict device then fails the call before it is answered. Align the 100rel setting on both "
    "sides, or disable it on the side that does not support it.")
_RACK = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\S+)")


def _option_tags(message: Message, name: str) -> set[str]:
    return {v.strip().lower() for v in message.sip.header_values(name)}


def _reliable(message: Message) -> bool:
    """RFC 3262 §3: a 101-199 with `Require: 100rel` (cheap byte test first)."""
    return (100 < message.status < 200 and b"100rel" in message.raw
            and "100rel" in _option_tags(message, "Require"))


def _rseq(message: Message) -> int | None:
    text = (message.sip.get("RSeq") or "").strip()
    return header_int(text)


@rule("txn-prack-failure", text=PRACK_MISSING_TEXT + " / (b/c/f) " + PRACK_MISMATCH_TEXT)
def txn_prack_failure(ctx: Context) -> Iterable[Finding]:
    pracks_by_call: dict[str, list[Transaction]] = {}
    for transaction in ctx.session.transactions:
        if transaction.method == "PRACK":
            pracks_by_call.setdefault(transaction.call_id, []).append(transaction)
            answer = next((m for m in transaction.final_responses), None)
            if answer is not None and answer.status == 481 and transaction.request is not None:
                yield ctx.finding(
                    "txn-prack-failure", "PRACK answered 481",
                    "The caller confirmed a reliable provisional response (PRACK), but the called "
                    f"side answered 'no such transaction' (481 at {clock(answer)}): its RAck or dialog "
                    "tags match no reliable response it sent. The call may still go on, but early "
                    "media or the ringing state can be lost. Check whatever rewrites the PRACK (an SBC "
                    "or proxy) and the RSeq numbering of the called side.",
                    [transaction.request, answer], severity="warning", scope="transaction",
                    rfc="RFC 3262 §3; §7.2", evidence={"subcase": "d"})
    for invite in invites(ctx):
        yield from _prack_invite(ctx, invite, pracks_by_call.get(invite.call_id, []))


def _prack_invite(ctx: Context, invite: Transaction, pracks: list[Transaction]) -> Iterable[Finding]:
    request = invite.request
    reliable = [m for m in invite.messages if not m.copy and _reliable(m)]
    if request is not None and not reliable:
        refused = next((m for m in invite.final_responses if m.status == 420), None)
        if refused is not None and "100rel" in _option_tags(refused, "Unsupported") \
                and "100rel" in _option_tags(request, "Require"):
            yield _prack_mismatch(ctx, invite, [request, refused], "f",
                                  f"the caller required 100rel and {refused.src} refused it with "
                                  f"420 Bad Extension (Unsupported: 100rel) at {clock(refused)}")
        return
    if not reliable:
        return
    if request is not None and "100rel" not in _option_tags(request, "Supported") \
            and "100rel" not in _option_tags(request, "Require"):
        yield _prack_mismatch(ctx, invite, [request, reliable[0]], "b",
                              f"{reliable[0].src} sent a reliable {reliable[0].label} although the "
                              "call request listed 100rel in neither Supported nor Require")
    without = [m for m in reliable if _rseq(m) is None]
    if without:
        yield _prack_mismatch(ctx, invite, [without[0]], "c",
                              f"the reliable {without[0].label} from {without[0].src} has no RSeq "
                              "header, so it cannot be acknowledged")
    acked = _prack_acks(pracks, invite)
    yield from _prack_sequence(ctx, invite, reliable, acked)
    for response in reliable:
        rseq = _rseq(response)
        if rseq is None or (response.to_tag, rseq) in acked:
            continue
        finding = _prack_missing(ctx, invite, response)
        if finding is not None:
            yield finding


def _prack_acks(pracks: list[Transaction], invite: Transaction) -> dict[tuple[str, int], float]:
    """(To tag, RSeq) -> time of the PRACK whose RAck names it (RFC 3262 §7.2)."""
    found: dict[tuple[str, int], float] = {}
    for prack in pracks:
        request = prack.request
        if request is None:
            continue
        match = _RACK.match(request.sip.get("RAck") or "")
        if not match or header_int(match.group(2)) != invite.cseq_num \
                or match.group(3).upper() != "INVITE":
            continue
        found.setdefault((request.to_tag, header_int(match.group(1))), request.ts)
    return found


def _prack_sequence(ctx: Context, invite: Transaction, reliable: list[Message],
                    acked: dict[tuple[str, int], float]) -> Iterable[Finding]:
    """§3.5 (e): a new reliable 1xx before the previous one was PRACKed, or RSeq not +1."""
    last: dict[str, Message] = {}
    for response in reliable:
        rseq = _rseq(response)
        previous = last.get(response.to_tag)
        last[response.to_tag] = response
        if rseq is None or previous is None or _rseq(previous) is None:
            continue
        prev_rseq = _rseq(previous)
        if rseq == prev_rseq:
            continue
        pracked_at = acked.get((previous.to_tag, prev_rseq))
        detail = None
        if rseq != prev_rseq + 1:
            detail = f"RSeq went from {prev_rseq} to {rseq} instead of {prev_rseq + 1}"
        elif pracked_at is None or pracked_at > response.ts:
            detail = (f"a second reliable {response.label} (RSeq {rseq}) was sent before the first "
                      f"(RSeq {prev_rseq}) was confirmed")
        if detail:
            yield ctx.finding("txn-prack-failure", "Reliable provisional responses out of order",
                              f"The called side ({response.src}) broke the reliable provisional "
                              f"response rules: {detail}. The caller may drop the out-of-order "
                              "response, losing early media or ringing. Check the called side's "
                              "100rel implementation.", [previous, response], severity="warning",
                              scope="transaction", rfc="RFC 3262 §3",
                              evidence={"subcase": "e", "rseq": [prev_rseq, rseq]})


def _prack_missing(ctx: Context, invite: Transaction, response: Message) -> Finding | None:
    copies = copies_of(invite, response)
    window = 64 * t1_of(copies)
    server_error = next((m for m in invite.final_responses if m.status >= 500), None)
    final_text = f"{server_error.status} {server_error.reason}".strip() if server_error else \
        "an error"
    code = f"{response.status} {response.reason}".strip()
    text = (f"The called side ({response.src}) asked the caller to confirm its '{code}' message (a "
            f"PRACK, RSeq {_rseq(response)}), but no confirmation arrived; it sent it {len(copies)} "
            "times. "
            + (f"After about {server_error.ts - response.ts:.0f} seconds it gave up and failed the "
               f"call with {final_text}. " if server_error else "")
            + ("The customer hears ringing or progress tones, then the call fails. " if server_error
               else "If no PRACK arrives, the called side fails the call about 32 seconds after "
               "its first copy. ")
            + "Check whether the "
            "caller, and any proxy or SBC in between, supports '100rel'/PRACK and passes the PRACK "
            "through; turning 100rel off on one side is a common workaround.")
    highlight = copies + ([server_error] if server_error else [])
    evidence = {"subcase": "a", "copies": len(copies), "rseq": _rseq(response),
                "final": server_error.status if server_error else None}
    proven = len(copies) >= 3 or server_error is not None
    undecided = None
    if ctx.excerpt or not (proven or covered(ctx, response.ts, window)):
        undecided = ctx.undecided(response.ts, window, what=f"the {response.status}")
    elif not proven:
        return None    # not retransmitted and not failed: the PRACK took a path not captured (D7)
    elif not ctx.seen_sending(response.dst):
        undecided = ctx.undecided(response.ts, window, path=(
            f"this capture holds no packet at all from {response.dst}, the caller's side, so a "
            "PRACK from it would not be seen here"))
    if undecided is not None:
        text = (f"The called side ({response.src}) asked the caller to confirm its '{code}' message "
                f"(a PRACK, RSeq {_rseq(response)}; sent {plural(len(copies), 'time')}), and no PRACK "
                "appears in the capture.")
        return ctx.finding("txn-prack-failure", "No PRACK seen for a reliable provisional "
                           "response (undecided)", text, highlight, scope="transaction",
                           rfc="RFC 3262 §3; §4", inconclusive=True, evidence=evidence,
                           undecided=undecided)
    return ctx.finding("txn-prack-failure", "No PRACK for a reliable provisional response", text,
                       highlight, scope="transaction", rfc="RFC 3262 §3; §4", evidence=evidence)


def _prack_mismatch(ctx: Context, invite: Transaction, highlight: list[Message], subcase: str,
                    detail: str) -> Finding:
    text = (f"The two sides disagree about 'reliable provisional responses' (100rel/PRACK): {detail}."
            " A strict device then fails the call before it is answered. Align the 100rel setting on "
            "both sides, or disable it on the side that does not support it.")
    return ctx.finding("txn-prack-failure", "100rel/PRACK mismatch", text, highlight,
                       scope="transaction", rfc="RFC 3262 §3; §4; RFC 3261 §8.2.4",
                       evidence={"subcase": subcase})


# -- 3.6 txn-started-before-capture (docs/fault-reference.md) -------------------------------------

STARTED_BEFORE_TEXT = (
    "The capture starts in the middle of this call: its first captured message is {the response} "
    "to an INVITE the capture does not hold{, and its media already flows from the first packet}. "
    "Rules that need the call's setup (offer/answer, post-dial delay, the INVITE's headers) "
    "cannot judge it; its later messages are not 'without INVITE' faults.")
RING_LIMIT = 180.0      # an INVITE may ring for minutes (catalog §6.2 (c)) before its answer


@rule("txn-started-before-capture", text=STARTED_BEFORE_TEXT)
def txn_started_before_capture(ctx: Context) -> Iterable[Finding]:
    streams = getattr(ctx.session.media, "streams", None) or []
    start = min([ctx.session.start] + [s.first_ts for s in streams])   # the first packet of any kind
    for transaction in invites(ctx):
        if transaction.request is not None or not transaction.messages:
            continue
        first = transaction.messages[0]
        if not 200 <= first.status < 300 or first.ts - start > RING_LIMIT:
            continue                     # a call under way is an answered one; later: lost
        call = ctx.session.call(first.call_id)
        if call is None or call.messages[0] is not first:
            continue                     # something of this call came before: not its start
        yield _started_before(ctx, call, transaction, first, start)


def _started_before(ctx: Context, call, transaction: Transaction, first: Message,
                    start: float) -> Finding:
    media_from = None
    media = getattr(ctx.session.media, "streams", None)
    if media:
        from sipscope.core.media.calls import streams_for_call
        early = [s.first_ts for s in streams_for_call(ctx.session, call) if s.first_ts < first.ts]
        media_from = min(early) if early else None
    where = ("this excerpt" if ctx.excerpt else "the capture")
    text = (f"The call is already under way when {where} starts: its first captured message is "
            f"the {first.label} at {clock(first)} ({first.ts - start:.1f} s after the capture "
            f"begins), answering INVITE CSeq {first.cseq_num}, which is not in the capture.")
    if media_from is not None:
        text += (f" Its media already flows {first.ts - media_from:.1f} s before its first "
                 "captured signalling message.")
    text += (" Rules that need the call's setup (offer/answer, post-dial delay, the INVITE's "
             "headers) cannot judge it, and its later messages are no 'without INVITE' faults.")
    acks = [m for m in transaction.acks][:1]
    finding = ctx.finding("txn-started-before-capture", "Call already under way when the capture "
                          "starts (its INVITE is not in it)", text, [first, *acks], call=call,
                          severity="info", scope="call", rfc="RFC 3261 §17.2.1; §13.2.2.4",
                          evidence={"first": first.label, "cseq": first.cseq_num,
                                    "after_start_s": round(first.ts - start, 3),
                                    "media_before_s": None if media_from is None
                                    else round(first.ts - media_from, 3)})
    finding.time = first.ts
    return finding
