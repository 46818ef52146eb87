"""Dialog-layer fault rules (catalog §4): 481 in dialog, CSeq order, glare, session timers, and
the call outcome rules (why a call failed, post-dial delay)."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable

from sipscope.core.analysis.attackers import attack_flags
from sipscope.core.analysis.context import TIMER_B, Context, is_ip, is_private
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.rules.forking import sent_with_zero_budget
from sipscope.core.analysis.rules.transaction import (clock, covered, device, final_after_2xx,
                                                      timeline_ok)
from sipscope.core.analysis.text import plural
from sipscope.core.model.call import Call
from sipscope.core.model.dialog import Dialog
from sipscope.core.model.message import HAS_SESSION_TIMER, Message, host_of
from sipscope.core.model.transaction import Transaction
from sipscope.core.sip.params import parse_params, param, split_unquoted
from sipscope.core.sip.numbers import header_int

DIALOG_CREATING = ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY")


def dialog_requests(dialog: Dialog) -> list[Message]:
    return [m for m in dialog.messages if m.is_request and not m.copy]


# -- 4.1 dlg-481-in-dialog -----------------------------------------------------------------------

DLG_481_TEXT = (
    "When {side} tried to {action}, the other side replied that it has no such call (481). The two "
    "ends disagree about whether this call exists: {cause}. For a hang-up, this means the far end had "
    "already gone; the earlier findings show why the call really ended. For a hold, transfer or "
    "refresh, it means the call is now dropped.")
_481_ERROR_METHODS = ("BYE", "INVITE", "UPDATE", "PRACK", "REFER")
_ALWAYS_IN_DIALOG = ("BYE", "UPDATE", "PRACK", "INFO")


@rule("dlg-481-in-dialog", text=DLG_481_TEXT)
def dlg_481_in_dialog(ctx: Context) -> Iterable[Finding]:
    for transaction in ctx.session.transactions:
        method = transaction.method
        if method in ("CANCEL", "ACK"):
            continue
        answer = next((m for m in transaction.messages if m.status == 481 and not m.copy), None)
        if answer is None:
            continue
        request = transaction.request
        if request is not None and not request.to_tag:
            continue                 # not an in-dialog request (§12.2.2 needs a To tag)
        if request is None and method not in _ALWAYS_IN_DIALOG:
            continue
        finding = _finding_481(ctx, transaction, request, answer)
        if finding is not None:
            yield finding


def _finding_481(ctx: Context, transaction: Transaction, request: Message | None,
                 answer: Message) -> Finding | None:
    method = transaction.method
    asker = request or answer
    dialog = (request.dialog if request is not None else None) or answer.dialog
    call = ctx.session.call(answer.call_id)
    caller_tag = dialog.caller_tag if dialog is not None and dialog.created_by is not None \
        else _caller_tag(call)
    side = ("the caller's side" if asker.from_tag == caller_tag else "the called side") \
        if caller_tag else "one side"
    sender = request.src if request is not None else answer.dst
    side = f"{side} ({sender})"
    action = {"BYE": "hang up", "INVITE": "change the call (hold/transfer/refresh)",
              "UPDATE": "change the call (hold/transfer/refresh)"}.get(method, f"send {method}")
    severity = "error" if method in _481_ERROR_METHODS else "warning"
    glare = _bye_glare(call, request, answer) if method == "BYE" else None
    already = method == "BYE" and any(200 <= m.status < 300 and not m.copy and m.ts < answer.ts
                                      for m in transaction.messages)
    if glare is not None or already:
        # §4.1 downgrades these to info; both are harmless races, not faults, so they are not
        # reported at all (BYE glare: both hung up at once; a late retransmission of a BYE that
        # was already confirmed)
        return None
    code, cause, cause_messages = _cause_481(ctx, dialog, call, asker, answer)
    subscription = method in ("SUBSCRIBE", "NOTIFY")
    what = "call or subscription" if subscription else "call"
    text = (f"When {side} tried to {action}, the other side ({answer.src}) replied that it has no "
            f"such {what} (481 at {clock(answer)}). The two ends disagree about whether this {what} "
            f"exists: {cause}. {_meaning_481(method, asker)}")
    created = _creating_message(dialog)
    highlight = [m for m in (request, answer, created, *cause_messages) if m is not None]
    finding = ctx.finding("dlg-481-in-dialog", f"481 to an in-dialog {method}", text, highlight,
                          severity=severity, scope="dialog",
                          rfc="RFC 3261 §12.2.2; §12.2.1.2; §21.4.19",
                          evidence={"method": method, "cause": code, "side": side,
                                    "responder": answer.src})
    finding.time = answer.ts
    return finding


def _meaning_481(method: str, request: Message) -> str:
    """What the 481 means for the customer, by the method it answered (§4.1 tech text)."""
    if method == "BYE":
        return ("For a hang-up, this means the far end had already gone; the earlier findings show "
                "why the call really ended.")
    if method in ("INVITE", "UPDATE", "REFER", "PRACK"):
        return "For a hold, transfer or refresh, it means the call is now dropped."
    if method in ("SUBSCRIBE", "NOTIFY"):
        event = request.sip.get("Event") if request.is_request else None
        about = f" (Event: {event.split(';')[0].strip()})" if event else ""
        return (f"For a subscription{about}, it means the subscriber stops getting updates "
                "(voicemail, busy lamps, presence, transfer progress) until it subscribes again "
                "from scratch.")
    return f"The {method} was lost (for INFO, key presses sent this way; for MESSAGE, the text)."


def _caller_tag(call: Call | None) -> str:
    """D5: the caller side owns the From tag of the initial INVITE (or first request)."""
    if call is None:
        return ""
    for message in call.messages:
        if message.is_request and not message.to_tag:
            return message.from_tag
    first = call.first_request
    return first.from_tag if first else ""


def _bye_glare(call: Call | None, request: Message | None, answer: Message) -> Message | None:
    """Both sides sent a BYE within 2 s of each other (RFC 3261 §15: a harmless race)."""
    if call is None or request is None:
        return None
    for message in call.messages:
        if message.method == "BYE" and message.from_tag == request.to_tag \
                and message.to_tag == request.from_tag and abs(message.ts - request.ts) <= 2.0:
            return message
    return None


def _creating_message(dialog: Dialog | None) -> Message | None:
    if dialog is None:
        return None
    for message in dialog.messages:
        if 100 < message.status < 300 and message.cseq_method in DIALOG_CREATING:
            return message
    return None


def _cause_481(ctx: Context, dialog: Dialog | None, call: Call | None, request: Message,
               answer: Message) -> tuple[str, str, list[Message]]:
    """§4.1 causes c1-c4 from the capture's own state: (code, text, messages behind it)."""
    before = [m for m in (dialog.messages if dialog else []) if m.ts < request.ts and not m.copy]
    # c1 already-ended: a BYE confirmed earlier, or a non-2xx final after this dialog's 2xx
    for message in before:
        if message.is_response and message.cseq_method == "BYE" and 200 <= message.status < 300:
            return ("c1 already-ended",
                    f"{message.src} had already ended the call at {clock(message)} (the earlier "
                    "hang-up was confirmed)", [message])
    for transaction in {id(m.transaction): m.transaction for m in before
                        if m.transaction is not None and m.transaction.method == "INVITE"}.values():
        pair = final_after_2xx(transaction)
        if pair is not None and pair[1].ts < request.ts:
            r1, r2 = pair
            return ("c1 already-ended",
                    f"the device at {r2.src} had already ended the call at {clock(r2)} (it sent "
                    f"{r2.status} after its own {r1.status} on the call request)", [r2])
    answered = [m for m in before if m.is_response and 200 <= m.status < 300
                and m.cseq_method in DIALOG_CREATING]
    early = [m for m in before if m.is_response and 100 < m.status < 200
             and m.cseq_method in DIALOG_CREATING]
    if not answered and not early and (dialog is None or dialog.created_by is None):
        return ("c2 never-existed", "the request used call identifiers the other side never issued "
                f"(no answer with the tags {request.from_tag} / {request.to_tag} was captured)", [])
    if not answered and early and call is not None and any(
            d is not dialog and any(200 <= m.status < 300 and m.cseq_method == "INVITE"
                                    for m in d.messages) for d in call.dialogs):
        return ("c3 wrong-fork", "the request went to the phone that did not answer "
                f"(To tag {request.to_tag} only ever rang)", early[:1])
    if answered and request.is_request:
        wrong = _wrong_destination(answered[-1], request)
        if wrong:
            return ("c4 wrong-destination", wrong, answered[-1:])
    return ("unknown", "the capture does not show why the other side forgot the call (it may have "
            "restarted, failed over, or ended the call on a path that is not in the capture)", [])


def _wrong_destination(answer: Message, request: Message) -> str:
    """c4: the request went neither to the 2xx's Contact nor along its Record-Route."""
    if request.from_tag != answer.from_tag or answer.sip.count("Record-Route"):
        return ""
    contacts = answer.sip.contacts
    if not contacts or contacts[0].uri is None or not is_ip(contacts[0].uri.host):
        return ""
    host = contacts[0].uri.host.strip("[]")
    if host == request.dst_host or is_private(host) != is_private(request.dst_host):
        return ""
    return (f"the request was sent to {request.dst}, not to the address the answering phone gave "
            f"({contacts[0].uri.hostport})")


# -- 4.2 dlg-cseq-out-of-order -------------------------------------------------------------------

CSEQ_TEXT = (
    "{side} numbered this {method} #{n}, after it had already sent #{prev} in the same call. The other "
    "side has to reject requests that arrive out of order (usually with '500'), so the {action} it "
    "carried failed. This usually comes from a PBX or border controller in the middle of the call (a "
    "B2BUA or SBC) that rewrites sequence numbers, or from a device that restarted or failed over "
    "during the call.")
REORDER_GUARD = 0.050      # §4.2 trap: the lower number must be captured more than 50 ms later


@rule("dlg-cseq-out-of-order", text=CSEQ_TEXT)
def dlg_cseq_out_of_order(ctx: Context) -> Iterable[Finding]:
    """RFC 3261 §12.2.1.1 / §12.2.2 (in dialog) and §10.2 (REGISTER per Call-ID), per side and per
    sending address (so a proxy relaying the same request is a separate sequence).  A jump of more
    than one is allowed by §12.2.2 and is not reported."""
    last: dict[tuple, Message] = {}
    highest: dict[tuple, Message] = {}
    for message in ctx.session.messages:
        method = message.method
        if method is None or method in ("ACK", "CANCEL") or message.copy \
                or message.cseq_num is None:
            continue
        if message.to_tag:
            key = (message.call_id, message.from_tag, message.to_tag, message.src)
            seed = (message.call_id, message.from_tag, "", message.src)
        elif method == "REGISTER":
            key = seed = (message.call_id, "REGISTER", "", message.src)
        else:
            key = (message.call_id, message.from_tag, "", message.src)
            if method == "INVITE":
                highest[key] = max(highest.get(key, message), message, key=lambda m: m.cseq_num)
            continue
        top = highest.get(key) or highest.get(seed)
        previous = last.get(key)
        finding = _cseq_check(ctx, message, top, previous)
        if finding is not None:
            yield finding
        last[key] = message
        if top is None or message.cseq_num > top.cseq_num:
            highest[key] = message


def _cseq_check(ctx: Context, message: Message, top: Message | None,
                previous: Message | None) -> Finding | None:
    if top is not None and message.cseq_num < top.cseq_num \
            and message.ts - top.ts > REORDER_GUARD:
        return _cseq_finding(ctx, message, top, "a")
    if previous is not None and message.cseq_num == previous.cseq_num \
            and message.ts - previous.ts > REORDER_GUARD:
        if message.method != previous.method:
            return _cseq_finding(ctx, message, previous, "a'")
        # same method, new branch: a reuse unless it is an RFC 3263 §4.3 failover to another
        # destination of a request that got no final response
        done = previous.transaction is not None and previous.transaction.final is not None
        if message.branch != previous.branch and message.dst == previous.dst and done:
            return _cseq_finding(ctx, message, previous, "a'")
    return None


def _cseq_finding(ctx: Context, message: Message, previous: Message, subcase: str) -> Finding:
    call = ctx.session.call(message.call_id)
    caller_tag = _caller_tag(call)
    side = "The caller's side" if message.from_tag == caller_tag else "The called side"
    if message.method == "REGISTER":
        side = "The registering device"
    side = f"{side} ({message.src})"
    answer = None
    if message.transaction is not None:
        answer = next((m for m in message.transaction.final_responses), None)
    action = {"BYE": "hang-up", "INVITE": "call change (hold, transfer or refresh)",
              "REGISTER": "registration"}.get(message.method, message.method)
    reused = " (the same number, reused)" if subcase == "a'" else ""
    rejected = (f" It was answered {answer.status} at {clock(answer)}." if answer is not None else "")
    text = (f"{side} numbered this {message.method} #{message.cseq_num}{reused}, after it had already "
            f"sent #{previous.cseq_num} ({previous.method} at {clock(previous)}) in the same call. "
            "The other side has to reject requests that arrive out of order (usually with '500'), so "
            f"the {action} it carried failed.{rejected} This usually comes from a PBX or border "
            "controller in the middle of the call (a B2BUA or SBC) that rewrites sequence numbers, or "
            "from a device that restarted or failed over during the call.")
    highlight = [previous, message] + ([answer] if answer is not None else [])
    finding = ctx.finding("dlg-cseq-out-of-order", f"CSeq {message.cseq_num} {message.method} after "
                          f"CSeq {previous.cseq_num}", text, highlight, scope="dialog",
                          rfc="RFC 3261 §12.2.1.1; §12.2.2; §10.2",
                          evidence={"subcase": subcase, "cseq": message.cseq_num,
                                    "previous": previous.cseq_num, "method": message.method,
                                    "answer": answer.status if answer else None})
    finding.time = message.ts
    return finding


# -- 4.3 dlg-reinvite-glare ----------------------------------------------------------------------

GLARE_TEXT = (
    "Both ends tried to change the call at the same moment (for example, both put it on hold, or a "
    "PBX refreshed the call while the phone was holding it). SIP refuses both changes ('491 Request "
    "Pending') and each side should retry after a short random wait. Here {retry}, so the {action} "
    "the user asked for did not take effect. Check how {device} retries after a 491; some softphones "
    "and stacks never retry.")
GLARE_EPISODE = 30.0       # §4.3 (b): two 491s in a row within 30 s
RETRY_WAIT = 5.0           # §4.3 (b): a retry is expected within 5 s of a 491


@rule("dlg-reinvite-glare", text=GLARE_TEXT)
def dlg_reinvite_glare(ctx: Context) -> Iterable[Finding]:
    by_dialog: dict[tuple, list[Message]] = {}
    for transaction in ctx.session.transactions:
        if transaction.method not in ("INVITE", "UPDATE"):
            continue
        request = transaction.request
        if transaction.method == "INVITE" and (request is None or not request.to_tag):
            continue                     # glare concerns re-INVITEs (RFC 3261 §14)
        pending = next((m for m in transaction.messages if m.status == 491 and not m.copy), None)
        if pending is not None:
            by_dialog.setdefault((pending.call_id, *sorted((pending.from_tag, pending.to_tag))),
                                 []).append(pending)
    for answers in by_dialog.values():
        answers.sort(key=lambda m: m.ts)
        episode = [answers[0]]
        for answer in answers[1:]:
            if answer.ts - episode[-1].ts <= GLARE_EPISODE:
                episode.append(answer)
            else:
                yield from _glare_finding(ctx, episode)
                episode = [answer]
        yield from _glare_finding(ctx, episode)


def _changes_from(call: Call, side_tag: str, peer_tag: str) -> list[Transaction]:
    return [t for t in call.transactions if t.method in ("INVITE", "UPDATE") and t.request
            and t.request.from_tag == side_tag and t.request.to_tag == peer_tag]


def _glare_finding(ctx: Context, episode: list[Message]) -> Iterable[Finding]:
    call = ctx.session.call(episode[0].call_id)
    caller_tag = _caller_tag(call)
    sides: dict[str, list[Message]] = {}
    for answer in episode:
        sides.setdefault(answer.from_tag, []).append(answer)
    problems: list[tuple[str, str]] = []      # (kind, text): kind "repeat", "never" or "late"
    highlight, horizon_short = list(episode), False
    for tag, answers in sides.items():
        last = answers[-1]
        request = last.transaction.request if last.transaction else None
        if request is not None:
            highlight.append(request)
        later = [t for t in _changes_from(call, tag, last.to_tag) if t.request.ts > last.ts] \
            if call else []
        success = next((t for t in later if t.final is not None
                        and 200 <= t.final.status < 300), None)
        who = "the caller's side" if tag == caller_tag else "the called side"
        if len(answers) >= 2:
            problems.append(("repeat", f"{who} got {len(answers)} '491' answers in a row"))
        if success is None:
            if not later and not covered(ctx, last.ts, RETRY_WAIT):
                horizon_short = True
            else:
                problems.append(("never", f"{who} ({last.dst}) never retried successfully"))
            continue
        highlight.append(success.request)
        wait = success.request.ts - last.ts
        # RFC 3261 §14.1: the Call-ID owner waits 2.1-4 s, the other side 0-2 s (§4.3 (c): info)
        low, high = (2.1, 4.0) if tag == caller_tag else (0.0, 2.0)
        if not low - 0.1 <= wait <= high + 0.1:
            problems.append(("late", f"{who} retried after {wait:.1f} s, outside the "
                             f"{low:g}-{high:g} s window of RFC 3261 §14.1"))
    target = episode[0].dst
    who, _ = device(ctx, target, ())
    action = "hold, resume or media change"
    severity, inconclusive = "info", False
    if any(kind != "late" for kind, _ in problems):
        severity = "warning"
    retry = "; ".join(text for _, text in problems)
    if not problems and horizon_short:
        retry, inconclusive = "the capture ends before any retry could be seen", True
    elif not problems:
        return               # §4.3: a 491 resolved by a retry in the §14.1 window is normal
    if severity == "info" and not inconclusive:
        text = ("Both ends tried to change the call at the same moment, so SIP refused one change "
                f"('491 Request Pending' at {clock(episode[0])}) and the side retried after a short "
                f"random wait. Here {retry}. This is normal; it only matters if it repeats.")
    else:
        text = ("Both ends tried to change the call at the same moment (for example, both put it on "
                "hold, or a PBX refreshed the call while the phone was holding it). SIP refuses both "
                "changes ('491 Request Pending') and each side should retry after a short random "
                f"wait. Here {retry}, so the {action} the user asked for did not take effect. Check "
                f"how {who} retries after a 491; some softphones and stacks never retry.")
    finding = ctx.finding("dlg-reinvite-glare", f"491 Request Pending ({len(episode)}x)", text,
                          highlight, severity=severity, scope="dialog", rfc="RFC 3261 §14.1; §14.2;"
                          " RFC 3311 §5.2", inconclusive=inconclusive,
                          evidence={"491s": len(episode), "problems": [t for _, t in problems]})
    finding.time = episode[0].ts
    yield finding


# -- 4.4 dlg-session-timer-expiry ----------------------------------------------------------------

SESSION_TIMER_TEXT = (
    "This call was ended by a 'session timer', a periodic check that both ends are still present. The "
    "call was due to be refreshed every {S} seconds by {refresher}, but {no refresh was sent | the "
    "refresh was refused with {code}}. About {S − margin} seconds in, the other side assumed the call "
    "was dead and hung up, which customers see as calls that always drop after the same length (for "
    "example 15 or 30 minutes). Check the session-timer settings on both ends (who refreshes, whether "
    "UPDATE is allowed), or disable session timers on the device that does not refresh.")
_SE = re.compile(rb"(?im)^(?:session-expires|x)[ \t]*:[ \t]*([^\r\n]*)")
_MIN_SE = re.compile(rb"(?im)^min-se[ \t]*:[ \t]*([^\r\n]*)")
COMMON_INTERVALS = (90, 120, 180, 300, 600, 900, 1800, 3600)


def _interval(message: Message, pattern: re.Pattern) -> tuple[int | None, str | None]:
    """(seconds, refresher) of a Session-Expires or Min-SE header (RFC 4028 §4, §5).  Only
    messages whose summary saw such a header are read back (HAS_SESSION_TIMER)."""
    if not message.flags & HAS_SESSION_TIMER:
        return None, None
    match = pattern.search(message.raw)
    if not match:
        return None, None
    value = match.group(1).decode("ascii", "replace")
    number, _, params = value.partition(";")
    number = number.strip()
    seconds_value = header_int(number)
    return seconds_value, param(parse_params(params), "refresher")


def _margin(interval: int) -> float:
    return min(32.0, interval / 3)       # RFC 4028 §10: the BYE goes this much before expiry


@rule("dlg-session-timer-expiry", text=SESSION_TIMER_TEXT)
def dlg_session_timer_expiry(ctx: Context) -> Iterable[Finding]:
    yield from _session_timer_headers(ctx)
    if not timeline_ok(ctx):
        return
    unexplained: dict[int, list[tuple[Dialog, Message, Message]]] = {}
    for dialog in ctx.session.dialogs:
        refreshes = [m for m in dialog.messages if 200 <= m.status < 300 and not m.copy
                     and m.cseq_method in ("INVITE", "UPDATE")]
        if not refreshes:
            continue
        bye = next((m for m in dialog.messages if m.method == "BYE" and not m.copy), None)
        finding = _session_timer_dialog(ctx, dialog, refreshes, bye)
        if finding is not None:
            yield finding
        elif bye is not None and len(refreshes) == 1 and not ctx.excerpt \
                and _interval(refreshes[0], _SE)[0] is None:
            length = bye.ts - refreshes[0].ts
            if length < 55 or length > 3605:
                continue             # outside every S' - min(32, S'/3) +- 5 s of §4.4 (e)
            for interval in COMMON_INTERVALS:
                if abs(length - (interval - _margin(interval))) <= 5.0:
                    unexplained.setdefault(interval, []).append((dialog, refreshes[0], bye))
    yield from _session_timer_heuristic(ctx, unexplained)


def _session_timer_dialog(ctx: Context, dialog: Dialog, refreshes: list[Message],
                          bye: Message | None) -> Finding | None:
    timed = [(m, *_interval(m, _SE)) for m in refreshes]
    timed = [(m, s, r) for m, s, r in timed if s]
    if not timed:
        return None
    first_timer = timed[0][0]
    failed = _failed_refresh(ctx, dialog, first_timer, bye)
    if failed is not None:
        return failed
    if bye is not None:
        before = [m for m in refreshes if m.ts < bye.ts]
        if before:
            last = before[-1]
            interval, refresher = _interval(last, _SE)
            if interval and last.ts + interval - _margin(interval) - 5 <= bye.ts \
                    <= last.ts + interval + 5:
                return _timer_finding(ctx, dialog, last, interval, refresher, bye, None)
    last, interval, refresher = timed[-1]
    due = last.ts + interval / 2 + 10
    later = [m for m in refreshes if m.ts > last.ts]
    if later or (bye is not None and bye.ts <= due) or not covered(ctx, last.ts, interval / 2 + 10):
        return None
    text = (f"The call was due to be refreshed every {interval} seconds by {_who(refresher, last)}, but "
            f"no refresh was sent by {interval / 2 + 10:.0f} s after the answer at {clock(last)} while "
            "the call was still up. Unless the refresh comes soon, the other side will assume the "
            "call is dead and hang up. Check the session-timer settings on both ends (who refreshes, "
            "whether UPDATE is allowed), or disable session timers on the device that does not "
            "refresh.")
    return ctx.finding("dlg-session-timer-expiry", "Session-timer refresh is late", text, [last],
                       severity="warning", scope="dialog", rfc="RFC 4028 §10",
                       evidence={"subcase": "c", "interval": interval, "refresher": refresher})


def _who(refresher: str | None, answer: Message) -> str:
    if refresher == "uac":
        return f"the side that sent the request ({answer.dst})"
    if refresher == "uas":
        return f"the answering side ({answer.src})"
    return "an unnamed refresher"


def _failed_refresh(ctx: Context, dialog: Dialog, first_timer: Message,
                    bye: Message | None) -> Finding | None:
    """§4.4 (b): a refresh fails (408, 481, 5xx, 405/501 to UPDATE, or no answer) and a BYE follows
    within 64*T1 + 10 s."""
    if bye is None:
        return None
    for transaction in dialog.transactions:
        request = transaction.request
        if transaction.method not in ("INVITE", "UPDATE") or request is None \
                or not request.to_tag or request.ts <= first_timer.ts or request.ts >= bye.ts:
            continue
        final = transaction.final
        failed_at = None
        if final is None:
            failed_at = request.ts + TIMER_B
        elif final.status in (408, 481) or final.status >= 500 or (
                transaction.method == "UPDATE" and final.status in (405, 501)):
            failed_at = final.ts
        if failed_at is None or not failed_at - 1 <= bye.ts <= failed_at + TIMER_B + 10:
            continue
        interval, refresher = _interval(first_timer, _SE)
        return _timer_finding(ctx, dialog, first_timer, interval or 0, refresher, bye,
                              final or request)
    return None


def _timer_finding(ctx: Context, dialog: Dialog, answer: Message, interval: int,
                   refresher: str | None, bye: Message, failure: Message | None) -> Finding:
    if failure is not None and failure.is_response:
        what = f"the refresh was refused with {failure.status} at {clock(failure)}"
    elif failure is not None:
        what = f"the refresh sent at {clock(failure)} was never answered"
    else:
        what = "no refresh was sent"
    after = bye.ts - answer.ts
    caller_tag = _caller_tag(ctx.session.call(bye.call_id))
    hung_up = "the caller's side" if bye.from_tag == caller_tag else "the called side"
    text = (f"This call was ended by a 'session timer', a periodic check that both ends are still "
            f"present. The call was due to be refreshed every {interval} seconds by "
            f"{_who(refresher, answer)}, but {what}. About {after:.0f} seconds in, {hung_up} "
            f"({bye.src}) assumed the call was dead and hung up, which customers see as calls that "
            "always drop after the same length (for example 15 or 30 minutes). Check the "
            "session-timer settings on both ends (who refreshes, whether UPDATE is allowed), or "
            "disable session timers on the device that does not refresh.")
    highlight = [answer, bye] + ([failure] if failure is not None else [])
    # (a) rests on a refresh being absent: a curated excerpt may have left it out (D7)
    finding = ctx.finding("dlg-session-timer-expiry", f"Call torn down by the session timer "
                          f"({interval} s)", text, highlight, scope="dialog", rfc="RFC 4028 §10",
                          inconclusive=ctx.excerpt and failure is None,
                          evidence={"subcase": "b" if failure is not None else "a",
                                    "interval": interval, "refresher": refresher,
                                    "bye_after": round(after, 1), "bye_from": bye.src})
    finding.time = bye.ts
    return finding


def _session_timer_headers(ctx: Context) -> Iterable[Finding]:
    """§4.4 (d): Session-Expires/Min-SE values and 422 answers, one finding per call and kind."""
    seen: set[tuple[str, str]] = set()
    count_422: dict[str, list[Message]] = {}
    for message in ctx.session.messages:
        if message.copy:
            continue
        if message.status == 422:
            count_422.setdefault(message.call_id, []).append(message)
            continue
        if message.method not in ("INVITE", "UPDATE") and not (
                200 <= message.status < 300 and message.cseq_method in ("INVITE", "UPDATE")):
            continue
        if not message.flags & HAS_SESSION_TIMER:
            continue
        expires, refresher = _interval(message, _SE)
        minimum, _ = _interval(message, _MIN_SE)
        if expires is None and minimum is None:
            continue
        problems = []
        if expires is not None and minimum is not None and expires < minimum:
            problems.append(("error", f"Session-Expires {expires} is below its own Min-SE {minimum}"))
        elif expires is not None and expires < 90 or minimum is not None and minimum < 90:
            value = expires if expires is not None and expires < 90 else minimum
            problems.append(("warning", f"a session interval of {value} s is below the 90 s minimum"))
        if expires is not None and message.is_response and not refresher:
            problems.append(("warning", "the answer's Session-Expires names no refresher"))
        for severity, detail in problems:
            key = (message.call_id, detail.split(" ")[0] + severity)
            if key in seen:
                continue
            seen.add(key)
            yield ctx.finding(
                "dlg-session-timer-expiry", "Session-timer header problem",
                f"The {message.label} from {message.src} sets up a session timer wrongly: {detail} "
                "(RFC 4028). Depending on the far end this gets the call refused ('422 Session "
                "Interval Too Small') or torn down after a short time. Check the session-timer "
                "settings on that device.", [message], severity=severity, scope="dialog",
                rfc="RFC 4028 §4; §5; §7.1; §9",
                evidence={"subcase": "d", "detail": detail, "from": message.src,
                          "session_expires": expires, "min_se": minimum, "floor": 90})
    for answers in count_422.values():
        many = len(answers) >= 2
        text = (f"The call set-up was refused {plural(len(answers), 'time')} with '422 Session Interval Too "
                f"Small' (first at {clock(answers[0])}): the caller's session-timer interval was below "
                "what the far end accepts (its Min-SE). "
                + ("Repeated 422s mean the two sides cannot agree: align the session-timer settings."
                   if many else "The caller normally retries with a longer interval."))
        yield ctx.finding("dlg-session-timer-expiry", f"422 Session Interval Too Small "
                          f"({len(answers)}x)", text, answers,
                          severity="warning" if many else "info", scope="call",
                          rfc="RFC 4028 §6", evidence={"subcase": "d", "422s": len(answers)})


def _session_timer_heuristic(ctx: Context, unexplained: dict) -> Iterable[Finding]:
    """§4.4 (e): calls without a captured timer that end right where a common timer would end
    them; only reported when at least two calls of the capture end that way (confidence)."""
    for interval, items in unexplained.items():
        # independent calls only: B2BUA legs of one call end within a moment of each other
        ends = sorted(bye.ts for _, _, bye in items)
        if len(items) < 2 or ends[-1] - ends[0] <= 10.0:
            continue
        for dialog, answer, bye in items:
            length = bye.ts - answer.ts
            finding = ctx.finding(
                "dlg-session-timer-expiry", f"Calls end after ~{interval - _margin(interval):.0f} s",
                f"This call was hung up {length:.0f} s after it was answered, and "
                f"{plural(len(items) - 1, 'other call')} in this capture ended after the same "
                f"time. That is exactly when a "
                f"session timer of {interval} s ends a call that was never refreshed (RFC 4028 §10), "
                "probably negotiated on another leg of the call. Check the session-timer settings "
                "of the devices and of any PBX or SBC in the path.", [answer, bye],
                severity="warning", scope="dialog", rfc="RFC 4028 §10",
                evidence={"subcase": "e", "interval": interval, "calls": len(items)})
            finding.time = bye.ts
            yield finding


# -- 4.5 call-failed -----------------------------------------------------------------------------

CALL_FAILED_TEXT = (
    "The call to {to} failed with {code} {phrase}: {meaning}. {cause: The far end gave the reason "
    "'{reason_text}' (Q.850 cause {n}: {q850_meaning}).} The answer came from {element}{ua}. {advice}")

# ITU-T Q.850 Table 1: cause values in words
Q850 = {
    1: "unallocated (unassigned) number: the number does not exist",
    2: "no route to the specified transit network",
    3: "no route to destination",
    6: "channel unacceptable",
    16: "normal call clearing",
    17: "user busy",
    18: "no user responding (the phone did not react)",
    19: "no answer from user (it rang, nobody picked up)",
    20: "subscriber absent (e.g. a mobile switched off)",
    21: "call rejected",
    22: "number changed",
    26: "non-selected user clearing",
    27: "destination out of order",
    28: "invalid number format (address incomplete)",
    29: "facility rejected",
    31: "normal, unspecified",
    34: "no circuit/channel available",
    38: "network out of order",
    41: "temporary failure",
    42: "switching equipment congestion",
    43: "access information discarded",
    44: "requested circuit/channel not available",
    47: "resource unavailable, unspecified",
    49: "quality of service not available",
    50: "requested facility not subscribed",
    55: "incoming calls barred within the closed user group",
    57: "bearer capability not authorized",
    58: "bearer capability not presently available",
    63: "service or option not available",
    65: "bearer capability not implemented (e.g. codec or data call not supported)",
    66: "channel type not implemented",
    69: "requested facility not implemented",
    79: "service or option not implemented",
    81: "invalid call reference value",
    87: "user not member of the closed user group",
    88: "incompatible destination",
    91: "invalid transit network selection",
    95: "invalid message",
    96: "mandatory information element is missing",
    97: "message type non-existent or not implemented",
    99: "information element non-existent or not implemented",
    100: "invalid information element contents",
    102: "recovery on timer expiry (a network timer ran out)",
    111: "protocol error",
    127: "interworking, unspecified",
}

# RFC 3261 §21: (meaning, advice) per status code; the class gives the fallback
STATUS_WORDS = {
    300: ("the number has several possible destinations", "The caller's device should pick one."),
    301: ("the number has moved permanently", "Update the dialled address or the routing."),
    302: ("the call was redirected to another destination (call forwarding)",
          "The caller's device or proxy should follow the redirect; check it does."),
    305: ("the call must go through a given proxy", "Check the outbound proxy setting."),
    380: ("the call is answered by an alternative service", "Usually nothing to fix."),
    400: ("the far end could not read the call request", "Look at the syntax findings of the request."),
    401: ("the far end wants the caller to log in (authentication) and no retry with credentials "
          "followed", "Check the caller's username and password for this service."),
    402: ("payment required", "Check the account's credit."),
    403: ("the call is not allowed: an account, IP access list or dial-plan restriction",
          "Check the account's permissions, the allowed source addresses and the dial plan."),
    404: ("the number is unknown to the far end", "Check the dial plan and routing for this number."),
    405: ("the far end does not allow this kind of request", "Check the device's supported methods."),
    407: ("the proxy wants the caller to log in (authentication) and no retry with credentials "
          "followed", "Check the caller's username and password for the proxy."),
    408: ("no answer came from the next hop in time", "Check that the next hop is reachable "
          "(see the timeout findings)."),
    410: ("the number is gone for good", "Update the dialled number."),
    413: ("the request was too large", "Reduce the SDP or headers, or use TCP."),
    414: ("the Request-URI was too long", "Check the dialled address."),
    415: ("the far end cannot handle the message body type", "Check the Content-Type the caller sends."),
    416: ("the address scheme is not supported", "Dial a sip: address or check the number format."),
    420: ("the far end does not support an extension the caller required",
          "Turn off the required extension on the caller (see the Unsupported header)."),
    421: ("the far end requires an extension the caller did not offer",
          "Enable the extension named in the Require header."),
    422: ("the session-timer interval was too small", "Raise Session-Expires on the caller."),
    423: ("the interval was too brief", "Raise the expiry on the caller."),
    480: ("the called party is not registered or currently unavailable",
          "Check that the called phone is online and registered."),
    481: ("the far end knows no such call", "See the dialog findings."),
    482: ("the server believes it has seen this request before (a routing loop, or a request "
          "that reached it twice)", "The route-loop finding says which."),
    483: ("the call passed too many servers (hops)", "See the route-loop finding."),
    484: ("the dialled number is incomplete", "Dial the full number, or check the dial plan."),
    485: ("the address is ambiguous", "Dial a more precise address."),
    486: ("the called party is busy", "Nothing is broken; the callee is on another call or busy."),
    487: ("the call attempt was cancelled", "Nothing to fix if the caller hung up."),
    488: ("the two sides have no common media or codec", "See the SDP findings and align the codecs."),
    491: ("another request was pending", "The caller should retry."),
    493: ("the far end could not decrypt the request", "Check the S/MIME or security settings."),
    500: ("the far end had an internal error", "Check the far end's logs."),
    501: ("the far end does not implement this request", "Check the device's capabilities."),
    502: ("a gateway received a bad answer from the next network", "Check the next network/trunk."),
    503: ("the server is overloaded, or a trunk or route behind it is down",
          "Check the far end and its trunks; honour any Retry-After."),
    504: ("a gateway got no answer from the next server in time", "Check the next server."),
    505: ("the SIP version is not supported", "Check the caller's SIP stack."),
    513: ("the message was too large", "Use TCP or reduce the message size."),
    580: ("the preconditions for the call could not be met", "Check QoS/precondition settings."),
    600: ("the called party is busy everywhere", "Nothing is broken; the callee is busy."),
    603: ("the called party declined the call", "Nothing is broken; the callee rejected it."),
    604: ("the number does not exist anywhere", "Check the dialled number."),
    606: ("the called party cannot accept this kind of call (media)", "See the SDP findings and align "
          "the codecs."),
    607: ("the called party marked the call as unwanted", "Check the caller identity."),
    608: ("an intermediary rejected the call", "Check the Call-Info/analytics of the network."),
}
CLASS_WORDS = {3: ("the call was redirected", "The caller may follow the redirect."),
               4: ("the request was refused (client error)", "Check the caller's request."),
               5: ("a server in the path failed", "Check the server that sent it."),
               6: ("the call was refused everywhere", "Nothing to fix unless the refusal is wrong.")}


# §4.5 (issue 14, pattern 8): the callee's own answer is an outcome, not a fault: busy (486, 600,
# RFC 3261 §21.4.24, §21.6.1) and declined (603, §21.6.2) are info, like a caller's own CANCEL
CALLEE_OUTCOMES = (486, 600, 603)
NO_ANSWER = (408, 480)       # after ringing: the ring timeout (RFC 3261 §21.4.9, §21.4.18)


def service_failure(status: int) -> bool:
    """A server in the path failed to deliver the call (RFC 3261 §21.5: 5xx; §21.4.9: 408, the
    next hop never answered in time), rather than refusing it by policy (403, 404 ... stay
    warnings): the service failed, an error (catalog §0)."""
    return status == 408 or 500 <= status < 600


def status_words(status: int) -> tuple[str, str]:
    return STATUS_WORDS.get(status) or CLASS_WORDS.get(status // 100, ("failure", ""))


def parse_reasons(message: Message) -> list[dict]:
    """RFC 3326 Reason values: protocol, cause, text (and the Q.850 cause in words)."""
    out = []
    for value in message.sip.header_values("Reason"):
        protocol, _, rest = value.partition(";")
        params = parse_params(rest)
        cause = param(params, "cause")
        text = (param(params, "text") or "").strip('"')
        item = {"protocol": protocol.strip(), "cause": cause, "text": text, "from": message.label}
        if protocol.strip().upper() == "Q.850" and header_int(cause) is not None:
            item["q850"] = Q850.get(header_int(cause), "unknown cause value")
        out.append(item)
    return out


def parse_warnings(message: Message) -> list[str]:
    """RFC 3261 §20.43 Warning values: `code agent "text"`."""
    out = []
    for header in message.sip.headers:
        if header.key != "warning":
            continue
        for value in split_unquoted(header.value, ","):
            if value.strip():
                out.append(value.strip())
    return out


def initial_invites(call: Call) -> list[Transaction]:
    """INVITE transactions that start the call (no To tag), in time order."""
    found = [t for t in call.transactions if t.method == "INVITE" and t.request is not None
             and not t.request.to_tag]
    if not found:
        found = [t for t in call.transactions if t.method == "INVITE" and t.request is None
                 and not any(m.dialog and m.dialog.created_by not in (None, t)
                             for m in t.messages[:1])]
    return sorted(found, key=lambda t: t.start)


def caller_attempts(call: Call) -> tuple[str, list[Transaction], list[Transaction]]:
    """(caller address, the caller's INVITE attempts, every initial INVITE transaction)."""
    initial = initial_invites(call)
    if not initial:
        return "", [], []
    first = initial[0]
    caller = first.request.src if first.request is not None else (
        first.messages[0].dst if first.messages else "")
    mine = [t for t in initial if t.request is not None and t.request.src == caller] or initial
    return caller, mine, initial


@rule("call-failed", text=CALL_FAILED_TEXT, index="security")
def call_failed(ctx: Context) -> Iterable[Finding]:
    for call in ctx.session.calls:
        caller, mine, initial = caller_attempts(call)
        if not mine:
            continue
        if any(200 <= m.status < 300 for t in initial for m in t.final_responses):
            continue                 # answered somewhere: a failed branch is not the outcome
        last = max(mine, key=lambda t: t.start)
        final = next((m for m in last.messages if m.status >= 200 and not m.copy), None)
        if final is None:
            continue                 # no final yet (timeout rules or the capture's end)
        if _health_probe(last, final):
            continue
        attacker = attack_flags(ctx, caller)
        yield _failed_finding(ctx, call, caller, last, final, initial, attacker)


def _health_probe(attempt: Transaction, final: Message) -> bool:
    """An INVITE that offers no session and that its sender gave Max-Forwards 0 can only test the
    first hop, which must answer 483 (RFC 3261 §16.3 step 3): a health check, not a call."""
    request = attempt.request
    return (final.status == 483 and request is not None and not request.body_length
            and sent_with_zero_budget(request))


def _failed_finding(ctx: Context, call: Call, caller: str, attempt: Transaction, final: Message,
                    initial: list[Transaction], attacker: list[str] = ()) -> Finding:
    status = final.status
    request = attempt.request
    own_cancel = _caller_cancel(call, caller, attempt)
    ringing = [m for m in call.messages if 180 <= m.status < 190 and not m.copy
               and m.ts <= final.ts]
    # 408/480 after the caller heard it ring: the callee did not pick up (a ring timeout), an
    # outcome like busy, not a server that failed to deliver the call
    rang_out = status in NO_ANSWER and any(m.dst == caller for m in ringing)
    outcome = status < 400 or status in CALLEE_OUTCOMES or rang_out \
        or (status == 487 and own_cancel is not None)
    severity = "info" if outcome else "error" if service_failure(status) else "warning"
    if attacker:
        severity = "info"    # §10.1 traps: a refused call from a flagged source is no broken service
    origin = _origin_of(initial, final)
    quoted = [final] + ([origin] if origin is not final else [])
    around = [m for m in call.messages if m.method in ("BYE", "CANCEL") and not m.copy
              and abs(m.ts - final.ts) <= 5.0]
    sources = quoted + around + ringing[-1:]
    reasons, warnings, cited = [], [], []
    for message in sources:
        found_reasons, found_warnings = parse_reasons(message), parse_warnings(message)
        if found_reasons or found_warnings:
            cited.append(message)
        reasons += found_reasons
        warnings += [f"{w} (in {message.label})" for w in found_warnings]
    meaning, advice = status_words(status)
    challenged = [t for t in call.transactions if t.method == "INVITE" and t.request is not None
                  and t.request.src == caller and t.final is not None
                  and t.final.status in (401, 407)]
    if status in (401, 407) and len(challenged) >= 2:
        # RFC 3261 §22.2: the retry carried credentials and was challenged again
        meaning = (f"the far end rejected the caller's credentials (it challenged all "
                   f"{len(challenged)} attempts, including the retry with credentials)")
        advice = "Check the username, password and realm configured on the caller's device."
    target = _target(request or final)
    phrase = final.reason or ""
    cause = _cause_text(reasons, warnings)
    who, ua = device(ctx, final.src, (final,))
    element = f"{final.src}" + (f" ({ua})" if ua else "")
    if origin is not final:
        _, origin_ua = device(ctx, origin.src, (origin,))
        element += (f", which relayed it from {origin.src}"
                    + (f" ({origin_ua})" if origin_ua else "") + ", the element closest to the callee")
    if status == 487 and own_cancel is not None:
        text = (f"The caller hung up before the call to {target} was answered: it cancelled at "
                f"{clock(own_cancel)} and the call request was closed with {status} {phrase}.{cause} "
                f"The answer came from {element}. Nothing is broken unless the caller did not mean to "
                "hang up.")
    else:
        # an outcome is no failure (issue 14 pattern 8): the words say what happened
        happened = (f"got {status} {phrase}" if status < 400 else
                    f"was not answered: {status} {phrase}" if status in CALLEE_OUTCOMES else
                    f"rang ({ringing[-1].label} at {clock(ringing[-1])}) but was not answered: "
                    f"{status} {phrase}" if rang_out else
                    f"was refused with {status} {phrase}" if attacker else
                    f"failed with {status} {phrase}")
        q850 = [header_int(r["cause"]) for r in reasons if "q850" in r]
        if rang_out and any(c not in (None, 16, 18, 19) for c in q850):
            # the Q.850 cause says why (RFC 3326): not a ring timeout (tier-2 review: 480 with
            # cause 21 'call rejected')
            meaning, advice = ("the far end's reason says why, not a ring timeout",
                               "")
        elif rang_out:
            meaning, advice = ("nobody picked up before the ring timeout",
                               "Nothing is broken unless the ring time is too short.")
        if attacker:
            advice = ""              # no advice to an attacker: the clause below says what it was
        text = (f"The call to {target} {happened}: {meaning}.{cause} The answer came from "
                f"{element}." + (f" {advice}" if advice else ""))
    if attacker:
        text += (f" The call came from {host_of(caller)}, which the security findings report "
                 f"({', '.join(attacker)}): this refusal kept that traffic out and is no fault "
                 "of the service.")
    highlight = [m for m in [request, final, origin, *cited, own_cancel,
                             ringing[-1] if rang_out else None] if m is not None]
    title = (f"Call {'not answered' if outcome else 'refused' if attacker else 'failed'}: "
             f"{status} {phrase}").strip()
    finding = ctx.finding("call-failed", title, text, highlight,
                          call=call, severity=severity, scope="call",
                          rfc="RFC 3261 §21; RFC 3326; RFC 3261 §20.43",
                          evidence={"status": status, "reason_phrase": phrase, "meaning": meaning,
                                    "reasons": reasons, "warnings": warnings, "from": final.src,
                                    "origin": origin.src, "user_agent": ua, "to": target,
                                    "cancelled_by_caller": own_cancel is not None,
                                    "outcome_not_fault": outcome,
                                    "caller_flagged_by": list(attacker),
                                    "caller": host_of(caller) if caller else ""})
    finding.time = final.ts
    return finding


def _caller_cancel(call: Call, caller: str, attempt: Transaction) -> Message | None:
    if attempt.cancel is not None and attempt.cancel.request is not None:
        return attempt.cancel.request
    for message in call.messages:
        if message.method == "CANCEL" and message.src == caller \
                and message.cseq_num == attempt.cseq_num:
            return message
    return None


def _origin_of(initial: list[Transaction], final: Message) -> Message:
    """The first captured copy of this final status for the same attempt (CSeq) on another hop:
    the element closest to the callee that produced it (a proxy only relays it)."""
    best = final
    for transaction in initial:
        if transaction.cseq_num != final.cseq_num:
            continue
        for message in transaction.messages:
            if message.status == final.status and not message.copy and message.ts < best.ts \
                    and message.src != final.src:
                best = message
    return best


def _target(message: Message) -> str:
    uri = message.request_uri
    if uri:
        return uri
    to = message.sip.to
    return to.uri.text if to.uri else to.text


def _cause_text(reasons: list[dict], warnings: list[str]) -> str:
    parts = []
    for reason in reasons:
        if reason.get("q850"):
            said = f"'{reason['text']}' " if reason["text"] else ""
            parts.append(f" The far end gave the reason {said}(Q.850 cause {reason['cause']}: "
                         f"{reason['q850']}, in {reason['from']}).")
        elif reason["cause"] or reason["text"]:
            parts.append(f" The far end gave the reason {reason['protocol']} cause "
                         f"{reason['cause'] or '?'}" + (f" '{reason['text']}'" if reason["text"] else "")
                         + f" (in {reason['from']}).")
    if warnings:
        parts.append(" Warning: " + "; ".join(warnings) + ".")
    return "".join(dict.fromkeys(parts))


# -- 4.6 call-post-dial-delay --------------------------------------------------------------------

PDD_TEXT = (
    "The caller heard nothing for {pdd} s after dialling before {it rang | the call was answered}. "
    "Most of the wait was {where}. Callers often hang up after a few seconds of silence. Check the "
    "routing step that took the time: slow DNS or ENUM look-ups, a trunk that is retried after a "
    "timeout, or retransmitted INVITEs (packet loss).")
PDD_INFO = 2.0             # §4.6: info from 2 s


@rule("call-post-dial-delay", text=PDD_TEXT)
def call_post_dial_delay(ctx: Context) -> Iterable[Finding]:
    if not timeline_ok(ctx):
        return
    threshold = ctx.options.post_dial_delay
    for call in ctx.session.calls:
        caller, mine, initial = caller_attempts(call)
        if not mine or mine[0].request is None:
            continue                 # the capture starts after the INVITE: no PDD
        start = mine[0].request
        first = _first_alerting(mine, caller)
        if first is None:
            continue
        pdd = first.ts - start.ts
        if pdd <= PDD_INFO:
            continue
        yield _pdd_finding(ctx, call, start, first, pdd, mine, initial,
                           "warning" if pdd > threshold else "info")


def _first_alerting(mine: list[Transaction], caller: str) -> Message | None:
    """First 18x (or 2xx when no 18x came first) the caller side received (a 100 is no ringing)."""
    best = None
    for transaction in mine:
        for message in transaction.messages:
            if (180 <= message.status < 190 or 200 <= message.status < 300) \
                    and (message.dst == caller or message.dst_host == host_of(caller)):
                if best is None or message.ts < best.ts:
                    best = message
                break
    return best


def _alerting(transaction: Transaction) -> Message | None:
    """The first 18x or 2xx of a transaction (no copy): the moment ringing reached its sender."""
    return next((m for m in transaction.messages if not m.copy
                 and (180 <= m.status < 190 or 200 <= m.status < 300)), None)


def _outcome(tried: Transaction, moved_on: float) -> str:
    """`10.0.0.5:5060 (480 after 3.0 s)`: how an earlier target's attempt ended, as captured."""
    final = tried.final
    if final is not None and final.ts <= moved_on:
        return f"{tried.request.dst} ({final.status} after {final.ts - tried.request.ts:.1f} s)"
    return (f"{tried.request.dst} (no final answer in the {moved_on - tried.request.ts:.1f} s "
            "before the next try)")


def _beyond(ctx: Context, request: Message, ringing: Message) -> tuple[str, dict]:
    """What the capture shows of the element a request went to while the caller waited: this
    call's messages show no further hop; other INVITEs it sent then (another Call-ID: the
    outgoing leg if it is a B2BUA, or other calls) are counted, or their absence is said."""
    by_host = getattr(ctx, "_invites_by_host", None)
    if by_host is None:          # one pass, once per run: initial INVITEs per sending host
        by_host = {}
        for transaction in ctx.session.transactions:
            sent = transaction.request
            if transaction.method == "INVITE" and sent is not None and not sent.to_tag:
                by_host.setdefault(host_of(sent.src), []).append(sent.ts)
        for times in by_host.values():
            times.sort()
        ctx._invites_by_host = by_host
    times = by_host.get(host_of(request.dst), [])
    others = bisect_right(times, ringing.ts) - bisect_left(times, request.ts)
    facts = {"next_hop": request.dst, "next_hop_other_invites": others}
    if others:
        return (f"This call's messages show no hop beyond {request.dst}, but it sent "
                f"{plural(others, 'INVITE')} with another Call-ID meanwhile (its outgoing leg, if "
                "it is a B2BUA, or other calls): look at those for what took the time."), facts
    return (f"The time passed at {request.dst} or beyond it: this capture shows no INVITE from "
            f"{request.dst} in that time, so its logs or a capture on its far side show why."), \
        facts


def hop_times(ctx: Context, sent: Transaction, ringing: Message, downstream: list[Transaction],
              depth: int = 0) -> list[tuple[float, str, str, dict]]:
    """Where the wait between `sent` (an INVITE to element E) and `ringing` (its first 18x/2xx)
    went, from the captured messages only, as (seconds, where, what to check): E's own time before
    it relayed the INVITE (its first downstream INVITE minus the arrival), targets E tried one
    after another before one rang (each ended before the next began: serial hunting), the next
    hop's wait for ringing, and E's time to relay the ringing back.  Without a captured downstream
    INVITE from E, the whole wait is at E or beyond it (the messages show nothing further)."""
    request = sent.request
    element = host_of(request.dst)
    sends = sorted((t for t in downstream if host_of(t.request.src) == element
                    and request.ts <= t.request.ts <= ringing.ts),
                   key=lambda t: t.request.ts)
    if not sends or depth > 8:
        return [(ringing.ts - request.ts, f"waiting for ringing from {request.dst}",
                 *_beyond(ctx, request, ringing))]
    parts = [(sends[0].request.ts - request.ts,
              f"inside {request.dst} before it passed the call on to {sends[0].request.dst}",
              f"Check what {request.dst} does before it routes a call (DNS or ENUM look-ups, "
              "database queries, routing scripts): the messages show it held the call that long.",
              {})]
    rang = [(t, ring) for t in sends if (ring := _alerting(t)) is not None and ring.ts <= ringing.ts]
    if not rang:
        parts.append((ringing.ts - sends[0].request.ts,
                      f"waiting for ringing from {sends[0].request.dst}",
                      *_beyond(ctx, sends[0].request, ringing)))
        return parts
    chosen, ring = min(rang, key=lambda pair: pair[1].ts)
    tried = [t for t in sends if t.request.ts < chosen.request.ts and t is not chosen]
    if tried:
        outcomes = ", ".join(_outcome(t, chosen.request.ts) for t in tried)
        parts.append((chosen.request.ts - tried[0].request.ts,
                      f"{request.dst} trying {plural(len(tried), 'other target')} one after "
                      f"another before {chosen.request.dst} rang: {outcomes}",
                      f"Check the hunt order on {request.dst}: the targets it tried first did not "
                      "take the call; shorten their ring time, reorder them or take them out.",
                      {"hunted": [t.request.dst for t in tried]}))
    parts += hop_times(ctx, chosen, ring, [t for t in downstream if t not in sends], depth + 1)
    parts.append((ringing.ts - ring.ts, f"inside {request.dst} relaying the ringing back"
                  if depth else "relaying the ringing back to the caller",
                  f"Check why {request.dst} held the ringing before passing it on.", {}))
    return parts


def _pdd_finding(ctx: Context, call: Call, start: Message, first: Message, pdd: float,
                 mine: list[Transaction], initial: list[Transaction], severity: str) -> Finding:
    parts: list[tuple[float, str, str, dict]] = []
    challenged = [t for t in mine if t.final is not None and t.final.status in (401, 407)
                  and t.final.ts < first.ts]
    retry = next((t.request for t in mine if t.request is not None and t.request.ts > start.ts
                  and challenged), None)
    begin = start.ts
    if challenged and retry is not None:
        challenge = challenged[0].final
        parts.append((challenge.ts - start.ts, f"the round trip to the authentication challenge "
                      f"({challenge.status} from {challenge.src})",
                      f"Check the path to {challenge.src}: its challenge took that long to come.",
                      {}))
        parts.append((retry.ts - challenge.ts, f"the caller's device ({start.src}) taking its time "
                      f"to retry with credentials after the {challenge.status}",
                      f"Check why the caller's device ({start.src}) waited before it retried "
                      "with credentials.", {}))
        begin = retry.ts
    copies = sum(1 for t in mine for m in t.messages if m.method == "INVITE" and m.copy
                 and m.ts < first.ts)
    attempt = next((t for t in mine if t.request is not None and t.request is (retry or start)),
                   mine[0])
    downstream = [t for t in initial if t.request is not None and t not in mine
                  and begin <= t.request.ts <= first.ts]
    parts += hop_times(ctx, attempt, first, downstream)
    spent, where, advice, facts = max(parts, key=lambda p: p[0])
    where = f"{where} ({spent:.1f} s)"
    if copies:
        where += (f"; the caller sent the INVITE {plural(copies, 'more time')} because no answer "
                  "came within its retransmission timer (a lost packet or a slow next hop)")
    event = "it rang" if first.status < 200 else "the call was answered"
    text = (f"The caller heard nothing for {pdd:.1f} s after dialling before {event} "
            f"({first.label} at {clock(first)}). Most of the wait was {where}. Callers often hang up "
            f"after a few seconds of silence. {advice}")
    # an excerpt may have left out an earlier ringing (D7)
    finding = ctx.finding("call-post-dial-delay", f"Post-dial delay {pdd:.1f} s", text,
                          [start, first], call=call, severity=severity, scope="call",
                          inconclusive=ctx.excerpt,
                          rfc="ITU-T E.721 (operational)",
                          evidence={"pdd": round(pdd, 3), "until": first.label,
                                    "breakdown": {w: round(s, 3) for s, w, _, _ in parts},
                                    **facts,
                                    "invite_retransmissions": copies})
    finding.time = first.ts
    return finding



# -- dlg-request-rejected (beyond the catalog: docs/fault-reference.md) ---------------------------

REJECTED_TEXT = (
    "{sender} sent {method} inside the established call at {time}; {responder} refused it with "
    "{code} {phrase}. {consequence}")
# Rejections other rules already explain: 481 (dlg-481-in-dialog), glare 491 (dlg-reinvite-glare),
# media refusals of an offer (sdp-no-common-codec), PRACK (txn-prack-failure)
_EXPLAINED_ELSEWHERE = {"INVITE": (481, 491, 488, 606, 415), "UPDATE": (481, 491, 488, 606, 415)}
_CHALLENGES = (401, 407)
RETRY_WINDOW = 10.0          # a challenged request retried with credentials within 10 s is fine
RELAY_WINDOW = 2.0           # the same refusal relayed hop by hop within 2 s is one finding
_CONSEQUENCE = {
    "INVITE": "The change it asked for (hold, resume, a new codec or address) did not happen: the "
              "call goes on with the session it had before.",
    "UPDATE": "The change it asked for did not happen: the call goes on with the session it had "
              "before.",
    "REFER": "The transfer was refused: the call stays between the parties it had.",
    "INFO": "What it carried (for example a key press sent as INFO) did not reach {responder}.",
    "MESSAGE": "The message was not delivered.",
    "NOTIFY": "The state it reported was not accepted: the subscriber's view of it stays stale.",
    "SUBSCRIBE": "The subscription was not refreshed: it ends when its current expiry runs out.",
    "OPTIONS": "The call itself is still known to {responder} (only a 481 would say it is gone).",
}


@rule("dlg-request-rejected", text=REJECTED_TEXT)
def dlg_request_rejected(ctx: Context) -> Iterable[Finding]:
    """A request inside a dialog (To tag, RFC 3261 §12.2.1.1) answered with a final 3xx-6xx other
    than 481: one finding per refusal, however many hops relayed it."""
    groups: dict[tuple, list[tuple[Transaction, Message]]] = {}
    for transaction in ctx.session.transactions:
        method = transaction.method
        # REGISTER and PUBLISH never belong to a dialog (RFC 3261 §10.2, RFC 3903 §4), whatever
        # tags a device copies into them
        if method in ("ACK", "CANCEL", "PRACK", "REGISTER", "PUBLISH") \
                or transaction.request is None:
            continue
        request = transaction.request
        if not request.to_tag:
            continue
        final = transaction.final
        if final is None or final.status < 300 or final.status == 481 \
                or final.status in _EXPLAINED_ELSEWHERE.get(method, ()):
            continue
        if method == "NOTIFY" and _refer_event(request):
            continue                 # a transfer's progress report: xfer-notify-failed
        if final.status in _CHALLENGES and _retried(ctx, transaction):
            continue
        groups.setdefault((request.call_id, method, final.status), []).append((transaction, final))
    for (call_id, method, status), members in groups.items():
        members.sort(key=lambda pair: pair[1].ts)
        cluster: list[tuple[Transaction, Message]] = []
        for pair in members:
            if cluster and pair[1].ts - cluster[-1][1].ts > RELAY_WINDOW:
                yield _rejected_finding(ctx, cluster)
                cluster = []
            cluster.append(pair)
        if cluster:
            yield _rejected_finding(ctx, cluster)


def _refer_event(request: Message) -> bool:
    """RFC 3515 §2.4.4: a transfer's NOTIFY carries `Event: refer` (with an id parameter)."""
    return any(value.split(";")[0].strip().lower() == "refer"
               for value in request.sip.header_values("Event"))


def _retried(ctx: Context, transaction: Transaction) -> bool:
    """RFC 3261 §22.2: a challenged request is sent again with credentials and a higher CSeq."""
    request = transaction.request
    call = ctx.session.call(request.call_id)
    for other in call.transactions if call is not None else ():
        retry = other.request
        if retry is not None and retry.method == request.method and retry.src == request.src \
                and retry.from_tag == request.from_tag and (retry.cseq_num or 0) > (request.cseq_num or 0) \
                and 0 <= retry.ts - request.ts <= RETRY_WINDOW:
            return True
    return False


def _rejected_finding(ctx: Context, cluster: list[tuple[Transaction, Message]]) -> Finding:
    """The refusal as the element that made it (the earliest final: the others relayed it)."""
    transaction, final = cluster[0]
    # the request as its originator sent it: the earliest copy on any hop (the others relayed it)
    request = min((t.request for t, _ in cluster), key=lambda m: m.ts)
    method, status, phrase = request.method, final.status, final.reason or ""
    call = ctx.session.call(request.call_id)
    _, ua = device(ctx, final.src, (final,))
    responder = final.src + (f" ({ua})" if ua else "")
    reasons = parse_reasons(final)
    cause = _cause_text(reasons, [])
    relays = [f.src for _, f in cluster[1:]]
    severity, consequence, ended = _rejected_consequence(ctx, call, request, final)
    consequence = consequence.format(responder=final.src)
    if method in ("NOTIFY", "SUBSCRIBE"):
        inside = "inside its subscription"
    elif call is not None and any(t.method == "INVITE" for t in call.transactions):
        inside = "inside the established call"
    else:
        inside = "inside its dialog"
    if status in _CHALLENGES and method != "BYE":
        consequence = f"{request.src} did not retry with credentials. {consequence}"
    text = (f"{request.src} sent {method} {inside} at {clock(request)}; "
            f"{responder} refused it with {status} {phrase}.{cause} "
            + (f"The refusal was relayed by {', '.join(dict.fromkeys(relays))}. " if relays else "")
            + consequence)
    # D7: in a curated excerpt a later BYE that ended the call may simply have been left out
    undecided = ctx.undecided(final.ts, TIMER_B, what="the refusal") \
        if ctx.excerpt and method == "BYE" and ended is None else None
    highlight = [m for t, f in cluster for m in (t.request, f) if m is not None]
    if ended is not None:
        highlight.append(ended)
    finding = ctx.finding(
        "dlg-request-rejected", f"In-dialog {method} refused: {status} {phrase}".strip(),
        text, highlight, call=call, severity=severity, scope="dialog",
        inconclusive=undecided is not None, undecided=undecided,
        rfc="RFC 3261 §12.2, §15.1.2, §21",
        evidence={"method": method, "status": status, "reason_phrase": phrase, "from": final.src,
                  "user_agent": ua, "sender": request.src, "relayed_by": relays,
                  "reasons": reasons, "ended_later_by": ended.index if ended is not None else None})
    finding.time = final.ts
    return finding


def _rejected_consequence(ctx: Context, call: Call | None, request: Message,
                          final: Message) -> tuple[str, str, Message | None]:
    """(severity, the consequence clause, the message that ended the call later) by method."""
    method = request.method
    if method != "BYE":
        severity = "info" if method == "OPTIONS" else "warning"
        return severity, _CONSEQUENCE.get(method, "What it asked for did not happen."), None
    # RFC 3261 §15.1.2: a BYE answered with a non-2xx leaves the callee's session in place
    later = None
    for message in call.messages if call is not None else ():
        if message.status >= 200 and message.status < 300 and message.cseq_method == "BYE" \
                and message.ts > final.ts and not message.copy:
            later = message
            break
    if later is not None:
        return "warning", (f"The call was still ended afterwards: a BYE was answered "
                           f"{later.status} {later.reason} at {clock(later)}."), later
    if final.status in _CHALLENGES:
        clause = f"{request.src} did not retry with credentials, and no "
    else:
        clause = "No "
    after = ctx.session.end - final.ts
    return "error", (f"{clause}BYE succeeded in the {after:.1f} s the capture runs after it: one "
                     f"side has hung up while {final.src} may still hold the call up, keep the "
                     "line busy and keep billing it until a timer or an operator clears it."), None
