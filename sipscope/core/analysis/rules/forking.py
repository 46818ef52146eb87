"""Forking and proxy-routing fault rules (catalog §5): fork sets (D4) whose branches got mixed up,
extra answers that are not released, pending branches not cancelled, and routing loops."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sipscope.core.analysis.attackers import attack_flags
from sipscope.core.analysis.context import T1, Context, is_private
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.text import plural
from sipscope.core.analysis.rules.transaction import (clock, covered, device, final_after_2xx,
                                                      short_branch, ua_near)
from sipscope.core.model.call import Branch, Call, ForkSet
from sipscope.core.model.message import Message, host_of
from sipscope.core.model.transaction import Transaction
from sipscope.core.sip.multipart import find_sdp
from sipscope.core.sip.params import param, parse_uri
from sipscope.core.sip.sdp import parse_sdp


def fork_sets(ctx: Context) -> Iterable[tuple[Call, ForkSet]]:
    for call in ctx.session.calls:
        for fork in call.forks:
            yield call, fork


def _at(message: Message, address: str) -> bool:
    """The message is addressed to this element (same transport address, or same host)."""
    return message.dst == address or message.dst_host == host_of(address)


def _branch_responses(branch: Branch, sender: str) -> list[Message]:
    """Responses with this branch's top Via that arrive at the forking element (no copies)."""
    return [m for m in branch.messages if m.is_response and not m.copy
            and m.branch == branch.branch and _at(m, sender)]


def _line(branch: Branch) -> str:
    """`lisa (branch .2)`: the account the branch rings, from its Request-URI user part."""
    request = branch.transaction.request
    user = parse_uri(request.request_uri or "").user if request is not None else ""
    return f"{user} ({branch.label})" if user else branch.label


# -- 5.1 fork-response-wrong-endpoint ------------------------------------------------------------

WRONG_ENDPOINT_TEXT = (
    "The proxy rang this call on two lines: {line_j} at {Xj} and {line_k} at {Xk}. The answer "
    "({code}) came from {line_j}'s address but was labelled as the answer to {line_k}'s copy of the "
    "call. The proxy therefore believes {line_k} answered and cancels {line_j}, which is the line the "
    "person actually picked up, so the customer hears the call connect and then drop. This is a bug "
    "in the answering device ({ua}), which confuses the two incoming calls: update its firmware, or "
    "stop ringing two accounts that live on the same phone in one group.")


def wrong_endpoint(call: Call, fork: ForkSet) -> list[tuple[Message, Branch, Branch]]:
    """§5.1: (R, branch k it is labelled for, branch j whose target sent it)."""
    targets = {b.target for b in fork.branches}
    if len(targets) < 2:
        return []
    by_target: dict[str, list[Branch]] = {}
    for branch in fork.branches:
        by_target.setdefault(branch.target, []).append(branch)
    senders = {m.src for m in call.messages}
    found = []
    for k in fork.branches:
        for response in _branch_responses(k, fork.sender):
            if response.src == k.target or response.src not in by_target:
                continue             # a third address is an asymmetric path (nat-response-misrouted)
            if k.target not in senders:
                continue             # NAT rebinding trap: Xk must be seen sending during the fork
            for j in by_target[response.src]:
                if j is k:
                    continue
                final = j.transaction.final
                pending = final is None or final.ts >= response.ts
                if pending or host_of(j.target) == host_of(k.target):
                    found.append((response, k, j))
                    break
    return found


@rule("fork-response-wrong-endpoint", text=WRONG_ENDPOINT_TEXT)
def fork_response_wrong_endpoint(ctx: Context) -> Iterable[Finding]:
    for call, fork in fork_sets(ctx):
        found = wrong_endpoint(call, fork)
        if found:
            yield _wrong_endpoint_finding(ctx, call, fork, found)


def _sdp_user(message: Message) -> str:
    body = find_sdp(message.sip.content_type, message.sip.body) if message.body_length else None
    if not body:
        return ""
    origin = parse_sdp(body).origin
    return getattr(origin, "username", "") or ""


def _wrong_endpoint_finding(ctx: Context, call: Call, fork: ForkSet,
                            found: list[tuple[Message, Branch, Branch]]) -> Finding:
    answers = [f for f in found if 200 <= f[0].status < 300]
    response, k, j = (answers or found)[0]
    ua = ua_near(ctx, response.src, (response,))
    line_j, line_k = _line(j), _line(k)
    boosters = _boosters(response, k, j)
    code = f"{response.status} {response.reason}".strip()
    if 200 <= response.status < 300:
        story = (f"The proxy therefore believes {line_k} answered and cancels {line_j}, which is the "
                 "line the person actually picked up, so the customer hears the call connect and "
                 "then drop.")
    else:
        story = (f"The proxy therefore files it under {line_k}, while it really concerns {line_j}, "
                 "so the two lines' call states get mixed up.")
    text = (f"The proxy rang this call on two lines: {line_j} at {j.target} and {line_k} at "
            f"{k.target}. The answer ({code} at {clock(response)}) came from the address of {line_j} "
            f"but was labelled as the answer to {line_k}'s copy of the call (Via branch "
            f"{short_branch(k.branch)}). {story} This is a bug in the answering device "
            f"({ua or 'User-Agent not shown'}), which confuses the two incoming calls: update its "
            "firmware, or stop ringing two accounts that live on the same phone in one group.")
    if boosters:
        text += " Further evidence: " + "; ".join(boosters) + "."
    highlight = [b.transaction.request for b in fork.branches if b.transaction.request is not None]
    for branch in (j, k):
        highlight += [m for m in branch.messages if 100 < m.status < 200 and not m.copy]
    highlight += [f[0] for f in found]
    if j.transaction.cancel is not None and j.transaction.cancel.request is not None:
        highlight.append(j.transaction.cancel.request)
    finding = ctx.finding("fork-response-wrong-endpoint", f"{response.status} for {k.label} came "
                          f"from {j.label}'s target {j.target}", text, highlight, call=call,
                          scope="fork", rfc="RFC 3261 §17.1.3; §8.2.6.2; §18.2.2; RFC 3581 §4",
                          evidence={"fork": fork.id, "response": response.index,
                                    "labelled_branch": k.branch,
                                    "labelled_branch_shown": short_branch(k.branch),
                                    "labelled_target": k.target,
                                    "actual_source": response.src, "matching_branch": j.branch,
                                    "responses": [f[0].index for f in found], "user_agent": ua,
                                    "boosters": boosters})
    finding.time = response.ts
    return finding


def _boosters(response: Message, k: Branch, j: Branch) -> list[str]:
    """§5.1 confidence boosters, each one line of evidence."""
    lines = []
    j_request = j.transaction.request
    j_uri = parse_uri(j_request.request_uri or "") if j_request is not None else None
    contacts = response.sip.contacts
    if j_uri is not None and contacts and contacts[0].uri is not None:
        contact = contacts[0].uri
        if contact.host and (contact.host, contact.port) == (j_uri.host, j_uri.port):
            lines.append(f"its Contact {contact.hostport} is {_line(j)}'s registered address")
    user = _sdp_user(response)
    if j_uri is not None and user and user == j_uri.user:
        lines.append(f"its SDP says o={user}, the account of {_line(j)}")
    if response.to_tag and any(m.to_tag == response.to_tag and m.src == j.target
                               for m in j.messages if m.is_response and m is not response):
        lines.append(f"its To tag {response.to_tag} was already used on {_line(j)}")
    pair = final_after_2xx(k.transaction)
    if pair is not None:
        lines.append(f"{k.label} later also got {pair[1].status} after its {pair[0].status}")
    return lines


# -- 5.2 fork-identical-to-tag -------------------------------------------------------------------

IDENTICAL_TAG_TEXT = (
    "The two copies of this call that the proxy forked both got 'ringing' answers with the same dialog "
    "label (To tag {tag}). Every answering phone must pick its own unique label, so that the caller "
    "can tell the answers apart. With the labels identical, nobody can tell which line is ringing or "
    "which one answered, and later messages (cancel, hang-up) can reach the wrong line. Usually one "
    "phone received both copies (two accounts on one device) and reused its label: check its firmware "
    "and the ring-group membership.")


def identical_tags(fork: ForkSet) -> list[tuple[str, Message, Message]]:
    """§5.2 (a): (tag, response on one branch, response on another branch) with that To tag."""
    first: dict[str, tuple[Branch, Message]] = {}
    found, reported = [], set()
    for message in sorted((m for b in fork.branches for m in _branch_responses(b, fork.sender)),
                          key=lambda m: m.index):
        if message.status == 100 or not message.to_tag:
            continue                 # a 100 Trying with a tag is exempt
        branch = next(b for b in fork.branches if b.branch == message.branch)
        earlier = first.setdefault(message.to_tag, (branch, message))
        # branches rung one after the other (serial hunting) cannot be confused with each other
        if earlier[0] is not branch and message.to_tag not in reported \
                and len(overlapping([earlier[0], branch])) == 2:
            reported.add(message.to_tag)
            found.append((message.to_tag, earlier[1], message))
    return found


def changing_tags(ctx: Context, fork: ForkSet) -> list[tuple[Message, Message]]:
    """§5.2 (b): one source answers one branch with two different To tags (not a proxy)."""
    from sipscope.core.analysis.rules.transaction import _forwards
    found = []
    for branch in fork.branches:
        seen: dict[str, Message] = {}
        for message in _branch_responses(branch, fork.sender):
            if message.status == 100 or not message.to_tag:
                continue
            earlier = seen.setdefault(message.src, message)
            if earlier.to_tag != message.to_tag and not _forwards(ctx, message):
                found.append((earlier, message))
                break
    return found


@rule("fork-identical-to-tag", text=IDENTICAL_TAG_TEXT)
def fork_identical_to_tag(ctx: Context) -> Iterable[Finding]:
    for call, fork in fork_sets(ctx):
        for tag, first, second in identical_tags(fork):
            b1 = next(b for b in fork.branches if b.branch == first.branch)
            b2 = next(b for b in fork.branches if b.branch == second.branch)
            text = (f"The two copies of this call that the proxy forked ({_line(b1)} to {b1.target} "
                    f"and {_line(b2)} to {b2.target}) both got answers with the same dialog label "
                    f"(To tag {tag}: {first.label} at {clock(first)} and {second.label} at "
                    f"{clock(second)}). Every answering phone must pick its own unique label, so "
                    "that the caller can tell the answers apart. With the labels identical, nobody "
                    "can tell which line is ringing or which one answered, and later messages "
                    "(cancel, hang-up) can reach the wrong line. Usually one phone received both "
                    "copies (two accounts on one device) and reused its label: check its firmware "
                    "and the ring-group membership.")
            requests = [b.transaction.request for b in (b1, b2) if b.transaction.request]
            finding = ctx.finding("fork-identical-to-tag", f"Same To tag {tag} on {b1.label} and "
                                  f"{b2.label}", text, [first, second, *requests], call=call,
                                  scope="fork", rfc="RFC 3261 §19.3; §8.2.6.2; §12.1.2",
                                  evidence={"fork": fork.id, "tag": tag,
                                            "branches": [b1.branch, b2.branch]})
            finding.time = second.ts
            yield finding
        for first, second in changing_tags(ctx, fork):
            text = (f"{first.src} answered one copy of this call twice with different dialog labels "
                    f"(To tag {first.to_tag} in {first.label}, then {second.to_tag} in "
                    f"{second.label}). A phone must use one label for all its answers to a request, "
                    "or the caller sees two different calls. Check the device's firmware.")
            finding = ctx.finding("fork-identical-to-tag", "To tag changed within one branch", text,
                                  [first, second], call=call, scope="fork",
                                  rfc="RFC 3261 §8.2.6.2", evidence={"fork": fork.id, "subcase": "b"})
            finding.time = second.ts
            yield finding


# -- 5.3 fork-same-device ------------------------------------------------------------------------

SAME_DEVICE_TEXT = (
    "This call was sent to {n} accounts that live on the same device ({ip}, ports {ports}, {ua}). "
    "Many phones mishandle two copies of the same call arriving at once. If this call failed, this is "
    "the most likely trigger. Remove one of the accounts from the ring group, or check that the "
    "phone's firmware handles several lines ringing together.")
_MAC_USER = re.compile(r"^(?:[0-9a-f]{2}[-:]?){5}[0-9a-f]{2}$", re.I)


def same_device_groups(ctx: Context, fork: ForkSet) -> list[tuple[list[Branch], list[str], str]]:
    """§5.3: (branches on one device, the evidence lines, the shared User-Agent)."""
    by_ip: dict[str, list[Branch]] = {}
    for branch in fork.branches:
        by_ip.setdefault(host_of(branch.target), []).append(branch)
    groups = []
    for ip, branches in by_ip.items():
        branches = overlapping(branches)
        if len(branches) < 2:
            continue                 # one branch at a time: serial hunting, no copies at once
        evidence, ua = _device_evidence(ctx, ip, fork, branches)
        if evidence:
            groups.append((branches, evidence, ua))
    return groups


def _pending_span(branch: Branch) -> tuple[float, float]:
    """From the branch's first INVITE to its final response (still pending at the capture's end:
    open-ended)."""
    transaction = branch.transaction
    start = transaction.request.ts if transaction.request is not None else transaction.start
    end = branch.pending_until
    return start, end if end is not None else float("inf")


def overlapping(branches: list[Branch]) -> list[Branch]:
    """The branches whose INVITE was sent while another of them was still pending (no final
    response yet): copies that really ring together.  A hunt group that tries one line after the
    other (each branch ended before the next began) is serial forking (RFC 3261 §16.6/§16.7),
    where no device ever holds two copies of the call."""
    spans = [(b, *_pending_span(b)) for b in branches]
    return [b for b, start, end in spans
            if any(other is not b and start < o_end and o_start < end
                   for other, o_start, o_end in spans)]


def _device_evidence(ctx: Context, ip: str, fork: ForkSet,
                     branches: list[Branch]) -> tuple[list[str], str]:
    lines = []
    hosts = set()
    for branch in branches:
        request = branch.transaction.request
        hosts.add(parse_uri(request.request_uri or "").host if request is not None else "")
    if len(hosts) == 1 and (host := hosts.pop()) and is_private(host):
        lines.append(f"the Request-URIs (registered Contacts) all point at the private address {host}")
    agents, instances = {}, {}
    for branch in branches:
        for response in _branch_responses(branch, fork.sender):
            if host_of(response.src) != ip:
                continue
            ua = response.sip.user_agent
            if ua:
                agents.setdefault(ua, set()).add(branch.branch)
            for contact in response.sip.contacts:
                key = param(contact.params, "+sip.instance")
                user = contact.uri.user if contact.uri is not None else ""
                if key or _MAC_USER.match(user or ""):
                    instances.setdefault(key or user.lower().replace(":", "").replace("-", ""),
                                         set()).add(branch.branch)
    shared_ua = next((ua for ua, seen in agents.items() if len(seen) >= 2), "")
    if shared_ua:
        lines.append(f"the answers on these branches all come from {ip} with User-Agent {shared_ua}")
    if any(len(seen) >= 2 for seen in instances.values()):
        lines.append("their Contacts carry the same device instance (+sip.instance or MAC address)")
    return lines, shared_ua or next(iter(agents), "")


@rule("fork-same-device", text=SAME_DEVICE_TEXT)
def fork_same_device(ctx: Context) -> Iterable[Finding]:
    for call, fork in fork_sets(ctx):
        groups = same_device_groups(ctx, fork)
        if not groups:
            continue
        broken = bool(wrong_endpoint(call, fork) or identical_tags(fork)) or any(
            final_after_2xx(t) is not None for t in call.transactions if t.method == "INVITE")
        for branches, evidence, ua in groups:
            yield _same_device_finding(ctx, call, fork, branches, evidence, ua, broken)


def _same_device_finding(ctx: Context, call: Call, fork: ForkSet, branches: list[Branch],
                         evidence: list[str], ua: str, broken: bool) -> Finding:
    ip = host_of(branches[0].target)
    ports = ", ".join(str(b.target.rpartition(":")[2]) for b in branches)
    merged = [m for b in branches for m in b.transaction.final_responses if m.status == 482]
    text = (f"This call was sent to {len(branches)} accounts that live on the same device ({ip}, "
            f"ports {ports}, {ua or 'User-Agent not shown'}): "
            + ", ".join(_line(b) for b in branches) + ". Evidence: " + "; ".join(evidence) + ". ")
    if merged:
        text += ("The device answered the extra copy with '482' as RFC 3261 §8.2.2.2 asks, so this "
                 "was handled correctly.")
        severity = "info"
    else:
        text += ("Many phones mishandle two copies of the same call arriving at once. "
                 + ("This call failed, and this is the most likely trigger. " if broken else
                    "If this call failed, this is the most likely trigger. ")
                 + "Remove one of the accounts from the ring group, or check that the phone's "
                 "firmware handles several lines ringing together.")
        severity = "warning" if broken else "info"
    requests = [b.transaction.request for b in branches if b.transaction.request is not None]
    finding = ctx.finding("fork-same-device", f"{len(branches)} branches to one device at {ip}",
                          text, requests + merged, call=call, severity=severity, scope="fork",
                          rfc="RFC 3261 §8.2.2.2 (operational)",
                          evidence={"fork": fork.id, "ip": ip, "ports": ports, "user_agent": ua,
                                    "evidence": evidence, "handled_with_482": bool(merged),
                                    "pending": {b.label: [round(x, 6) if x != float("inf")
                                                          else None for x in _pending_span(b)]
                                                for b in branches}})
    if len(requests) >= 2:
        finding.time = sorted(requests, key=lambda m: m.ts)[1].ts
    return finding


# -- 5.4 fork-unwanted-2xx-not-released ----------------------------------------------------------

UNWANTED_TEXT = (
    "{reason: The caller hung up just as the other side answered | Two phones answered the same "
    "call}. The caller's side still has to acknowledge that extra answer and then hang it up; here it "
    "did not, so {device} believes it has a live call and its user hears dead air until a timer "
    "clears it (a 'ghost call'). Check the caller's device, or the PBX that forked the call.")


@rule("fork-unwanted-2xx-not-released", text=UNWANTED_TEXT)
def fork_unwanted_2xx_not_released(ctx: Context) -> Iterable[Finding]:
    for transaction in ctx.session.transactions:
        request = transaction.request
        if transaction.method != "INVITE" or request is None or request.to_tag:
            continue
        answers = [m for m in transaction.messages if 200 <= m.status < 300 and not m.copy
                   and _at(m, request.src)]
        if not answers:
            continue
        cancel = transaction.cancel.request if transaction.cancel is not None else None
        tags = list(dict.fromkeys(m.to_tag for m in answers))
        after_cancel = [m for m in answers if cancel is not None and m.ts > cancel.ts]
        if len(tags) < 2 and not after_cancel:
            continue
        call = ctx.session.call(transaction.call_id)
        if call is None:
            continue
        yield from _unwanted(ctx, call, transaction, answers, tags, cancel, after_cancel)


def _unwanted(ctx: Context, call: Call, transaction: Transaction, answers: list[Message],
              tags: list[str], cancel: Message | None,
              after_cancel: list[Message]) -> Iterable[Finding]:
    request = transaction.request
    acks = {m.to_tag: m for m in reversed(call.messages) if m.method == "ACK"
            and m.cseq_num == request.cseq_num and m.from_tag == request.from_tag}
    byes = {m.to_tag: m for m in reversed(call.messages) if m.method == "BYE"
            and m.from_tag == request.from_tag}
    if after_cancel:
        # a 2xx whose dialog the caller keeps through another (not cancelled) INVITE is no extra
        # dialog: hanging it up would end the real call (seen when a phone resends its INVITE
        # from a new port with a new CSeq and cancels the old copy)
        kept = {m.to_tag for t in call.transactions if t is not transaction and t.method == "INVITE"
                and t.cancel is None for m in t.messages
                if 200 <= m.status < 300 and m.from_tag == request.from_tag}
        unwanted = [tag for tag in dict.fromkeys(m.to_tag for m in after_cancel) if tag not in kept]
        reason = "The caller hung up just as the other side answered"
    else:
        kept = next((t for t in tags if t in acks), tags[0])
        unwanted = [t for t in tags if t != kept]
        reason = "Two phones answered the same call"
    for tag in unwanted:
        answer = next(m for m in answers if m.to_tag == tag)
        ack, bye = acks.get(tag), byes.get(tag)
        base = ack.ts if ack is not None else answer.ts
        window = 64 * T1 + 5
        if ack is not None and bye is not None and bye.ts <= base + window:
            continue
        missing = "acknowledge it" if ack is None else "hang it up"
        who, _ = device(ctx, answer.src, (answer,))
        text = (f"{reason} ({answer.status} with To tag {tag} at {clock(answer)}"
                + (f", after the cancel at {clock(cancel)}" if cancel is not None
                   and answer.ts > cancel.ts else "") + "). The caller's side still has to "
                "acknowledge that extra answer and then hang it up; here it did not "
                f"{missing} it, so {who} believes it has a live call and its user hears dead air "
                "until a timer clears it (a 'ghost call'). Check the caller's device, or the PBX "
                "that forked the call.")
        highlight = [m for m in (request, *answers, ack, bye) if m is not None]
        evidence = {"to_tag": tag, "acked": ack is not None, "bye": bye is not None,
                    "after_cancel": bool(after_cancel)}
        late = bye is not None and bye.ts > base + window
        inconclusive = ctx.excerpt or (bye is None and not covered(ctx, base, window))
        finding = ctx.finding("fork-unwanted-2xx-not-released", "Extra 2xx not released"
                              + (" (BYE late)" if late else ""), text, highlight, call=call,
                              scope="transaction", rfc="RFC 3261 §13.2.2.4; §15",
                              inconclusive=inconclusive, evidence=evidence)
        finding.time = answer.ts
        yield finding


# -- 5.5 fork-pending-not-cancelled --------------------------------------------------------------

PENDING_TEXT = (
    "Someone answered this call on {line_k}, but the system did not tell the other ringing phones "
    "({line_j}) to stop. They keep ringing, and someone may answer into a call that is already taken. "
    "Check the forking proxy or PBX (its ring-group or hunt-group handling).")
CANCEL_GRACE = 2.0         # §5.5: a CANCEL (or a B2BUA's BYE) within 2 s is in time


@rule("fork-pending-not-cancelled", text=PENDING_TEXT)
def fork_pending_not_cancelled(ctx: Context) -> Iterable[Finding]:
    for call, fork in fork_sets(ctx):
        answered = [(m, k) for k in fork.branches for m in _branch_responses(k, fork.sender)
                    if 200 <= m.status < 300]
        if not answered:
            continue
        answer, k = min(answered, key=lambda pair: pair[0].index)   # the first 2xx decides
        pending = [j for j in fork.branches if j is not k and _left_pending(j, answer)]
        if pending:
            yield _pending_finding(ctx, call, fork, k, answer, pending)


def _left_pending(j: Branch, answer: Message) -> bool:
    """Branch j was pending when the 2xx arrived and got no CANCEL, BYE or final within 2 s."""
    request = j.transaction.request
    if request is None or request.ts >= answer.ts:
        return False                 # serial forking: not started yet, so never pending
    final = j.transaction.final
    if final is not None and final.ts <= answer.ts + CANCEL_GRACE:
        return False
    cancel = j.transaction.cancel
    if cancel is not None and cancel.request is not None \
            and cancel.request.ts <= answer.ts + CANCEL_GRACE:
        return False
    return not any(m.method in ("BYE", "CANCEL") and m.dst == j.target
                   and answer.ts <= m.ts <= answer.ts + CANCEL_GRACE for m in j.messages)


def _pending_finding(ctx: Context, call: Call, fork: ForkSet, k: Branch, answer: Message,
                     pending: list[Branch]) -> Finding:
    # later traffic on the pending branches confirms they still ring (repeats count too)
    later = [m for j in pending for m in j.messages if m.is_response and m.ts > answer.ts]
    names = ", ".join(f"{_line(j)} at {j.target}" for j in pending)
    text = (f"Someone answered this call on {_line(k)} ({answer.status} at {clock(answer)}), but the "
            f"system did not tell the other ringing phones ({names}) to stop. They keep ringing, and "
            "someone may answer into a call that is already taken. Check the forking proxy or PBX "
            "(its ring-group or hunt-group handling).")
    if later:
        text += f" The capture shows {plural(len(later), 'later answer')} on those branches."
    requests = [j.transaction.request for j in pending if j.transaction.request is not None]
    # an excerpt may have left the CANCEL out (D7)
    inconclusive = ctx.excerpt or (not later and not covered(ctx, answer.ts, CANCEL_GRACE))
    finding = ctx.finding("fork-pending-not-cancelled", f"{len(pending)} branch(es) not cancelled "
                          f"after the 2xx on {k.label}", text, [answer, *requests, *later[:10]],
                          call=call, scope="fork", rfc="RFC 3261 §16.7 step 10; RFC 3326",
                          inconclusive=inconclusive,
                          evidence={"fork": fork.id, "answered": k.branch,
                                    "pending": [j.branch for j in pending],
                                    "later_responses": len(later)})
    finding.time = answer.ts
    return finding


# -- 5.6 route-loop ------------------------------------------------------------------------------

LOOP_TEXT = (
    "This call went round in a circle between servers (for example a PBX forwarding to a provider that "
    "sends it straight back). Each pass uses up one 'hop', and when they ran out the call was refused "
    "({code}), so the caller gets an immediate failure. Check the routing and forwarding rules: a "
    "forward-to number that points back to this PBX, a number routed in a circle, or two servers that "
    "each treat the other as the next hop.")
_MAX_FORWARDS = re.compile(rb"(?im)^max-forwards[ \t]*:[ \t]*(\d{1,20})(?!\d)")   # numbers.py: no more
NEAR_LOOP_HOPS = 3         # §5.6 (b): Max-Forwards <= 3 on an initial request


@rule("route-loop", text=LOOP_TEXT, index="security")
def route_loop(ctx: Context) -> Iterable[Finding]:
    merged = _merged_482s(ctx)
    refused: dict[str, list[Message]] = {}
    low: dict[str, Message] = {}
    passes: dict[tuple, list[Message]] = {}
    for message in ctx.session.messages:
        if message.copy:
            continue
        if message.status in (482, 483):
            if message.index not in merged:
                refused.setdefault(message.call_id, []).append(message)
            continue
        method = message.method
        if method is None or message.to_tag or method in ("ACK", "CANCEL"):
            continue
        passes.setdefault((message.call_id, message.from_tag, message.cseq_num, method),
                          []).append(message)
        if method != "OPTIONS" and message.call_id not in low:   # §11: OPTIONS traceroute probes
            match = _MAX_FORWARDS.search(message.raw)
            if match and int(match.group(1)) <= NEAR_LOOP_HOPS:
                low[message.call_id] = message
    loops = {}
    for key, requests in passes.items():
        if len(requests) >= 3:
            loop = _loop_in_progress(requests)
            if loop:
                loops[key[0]] = loop
    for call_id in dict.fromkeys([*refused, *loops, *low]):
        answers = refused.get(call_id, [])
        merged_here = [m for m in answers if _merged_not_looped(m)]
        # §16.3 step 3: a 483 to a request whose sender set Max-Forwards 0 is the first hop doing
        # its job (a health-check probe), no evidence of circling; only passes would be
        answers = [m for m in answers if m not in merged_here and not zero_budget_483(m)]
        if call_id in low and sent_with_zero_budget(low[call_id]):
            del low[call_id]
        finding = _loop_finding(ctx, call_id, answers, loops.get(call_id), low.get(call_id))
        if finding is not None:
            yield finding
        if merged_here and not answers and call_id not in loops:
            yield _merged_finding(ctx, call_id, merged_here)


def first_hop_max_forwards(request: Message) -> int | None:
    """Max-Forwards as the request's sender set it, when the capture shows the request before
    any proxy touched it: one Via (every proxy adds its own Via and decrements Max-Forwards, RFC
    3261 §16.6 steps 3 and 8; the sent-by may still differ from the packet source behind a NAT).
    None otherwise."""
    if len(request.sip.vias) != 1:
        return None
    match = _MAX_FORWARDS.search(request.raw)
    return int(match.group(1)) if match else None


def sent_with_zero_budget(request: Message) -> bool:
    """The sender itself set Max-Forwards 0: the request may reach the first hop and no further
    (RFC 3261 §16.3 step 3), the pattern of a deliberate health-check probe."""
    return first_hop_max_forwards(request) == 0


def zero_budget_483(answer: Message) -> bool:
    """A 483 to a request sent with Max-Forwards 0 proves no loop: the budget was zero at the start."""
    request = answer.transaction.request if answer.transaction is not None else None
    return answer.status == 483 and request is not None and sent_with_zero_budget(request)


def _merged_not_looped(answer: Message) -> bool:
    """A 482 to a request that came straight from its user agent (one Via, Max-Forwards near 70)
    cannot be a loop: the UAS took it for a merged request (RFC 3261 §8.2.2.2)."""
    request = answer.transaction.request if answer.transaction is not None else None
    if answer.status != 482 or request is None:
        return False
    match = _MAX_FORWARDS.search(request.raw)
    return len(request.sip.vias) == 1 and match is not None and int(match.group(1)) >= 60


def _earlier_copy(ctx: Context, request: Message) -> Message | None:
    """An earlier request with this one's Call-ID, From tag, CSeq and method but another
    transaction (branch), sent to the same receiver: what makes a 'merged request' (§8.2.2.2)."""
    call = ctx.session.call(request.call_id)
    for other in (call.messages if call is not None else ()):
        if other.index >= request.index:
            break
        if (other.is_request and other.method == request.method
                and other.from_tag == request.from_tag and other.cseq_num == request.cseq_num
                and other.dst == request.dst and other.transaction is not request.transaction):
            return other
    return None


def _merged_finding(ctx: Context, call_id: str, answers: list[Message]) -> Finding:
    answer = answers[0]
    request = answer.transaction.request
    budget = int(_MAX_FORWARDS.search(request.raw).group(1))
    attacker = attack_flags(ctx, request.src)
    text = (f"{answer.src} refused this {request.method} with '482 Loop Detected' at "
            f"{clock(answer)}, but the request came straight from {request.src} (one Via, "
            f"Max-Forwards {budget}), so it did not go round in a circle.")
    earlier = _earlier_copy(ctx, request)
    if earlier is not None:
        text += (f" The receiver had already seen this request: message {earlier.index} at "
                 f"{clock(earlier)} has the same Call-ID, From tag and CSeq with another branch, "
                 "so it took this one for a 'merged request' (RFC 3261 §8.2.2.2).")
    else:
        text += (" The capture holds no earlier request with the same Call-ID, From tag and "
                 "CSeq, so it does not show why the receiver answered 482: it may have seen a "
                 "copy this capture point does not, or its loop detection is wrong.")
    if attacker:
        # REVIEWED.md §6: the refused requests of a source the security rules report are scan
        # traffic, whatever the receiver's reason: no routing problem of the service
        text += (f" {host_of(request.src)} is reported by the security findings "
                 f"({', '.join(attacker)}): this is part of that traffic, not a routing problem.")
    elif earlier is not None:
        text += (" The sender resent the request with a new branch, or it reached the receiver "
                 "twice by different paths: check the sender's retransmission and failover "
                 "behaviour.")
    title = "482 to a merged request (no loop)" if earlier is not None else \
        "482 Loop Detected without a loop"
    finding = ctx.finding("route-loop", title, text,
                          [request, *answers] + ([earlier] if earlier is not None else []),
                          call=ctx.session.call(call_id),
                          severity="info" if attacker else "warning",
                          scope="call", rfc="RFC 3261 §8.2.2.2; §21.4.20",
                          evidence={"codes": [m.status for m in answers], "merged": True,
                                    "from": answer.src, "sender": request.src,
                                    "max_forwards": budget, "sender_flagged_by": attacker,
                                    "earlier_copy": earlier.index if earlier is not None
                                    else None,
                                    "sender_host": host_of(request.src)})
    finding.time = answer.ts
    return finding


def _merged_482s(ctx: Context) -> set[int]:
    """§5.6 (a) exception: a 482 to one branch of a fork set whose other branch reached the same
    device is a merged request (RFC 3261 §8.2.2.2), reported by fork-same-device."""
    found = set()
    for _, fork in fork_sets(ctx):
        for branch in fork.branches:
            for message in branch.transaction.final_responses:
                if message.status == 482 and any(
                        other is not branch and host_of(other.target) == host_of(branch.target)
                        for other in fork.branches):
                    found.add(message.index)
    return found


def _loop_in_progress(requests: list[Message]) -> list[Message]:
    """§5.6 (c): three or more passes, each with more Vias, one sent-by twice, same Request-URI."""
    requests = sorted(requests, key=lambda m: m.ts)
    if len({m.request_uri for m in requests}) != 1:
        return []                    # the Request-URI changed: a spiral (§16.3 step 4), no fault
    counts = [len(m.sip.vias) for m in requests]
    if any(b <= a for a, b in zip(counts, counts[1:])):
        return _budget_falling(requests)
    sent_by = [v.sent_by.lower() for v in requests[-1].sip.vias]
    return requests if len(sent_by) != len(set(sent_by)) else []


def _budget_falling(requests: list[Message]) -> list[Message]:
    """The same request passing the capture point again and again with a smaller Max-Forwards
    each time (hops that hide their Vias, such as B2BUAs that keep the Call-ID): also circling."""
    budgets = []
    for message in requests:
        match = _MAX_FORWARDS.search(message.raw)
        if match is None:
            return []
        budgets.append(int(match.group(1)))
    falling = all(b < a for a, b in zip(budgets, budgets[1:]))
    return requests if falling and len({m.dst for m in requests}) < len(requests) else []


def _loop_finding(ctx: Context, call_id: str, refused: list[Message], loop: list[Message] | None,
                  low: Message | None) -> Finding | None:
    call = ctx.session.call(call_id)
    if refused or loop:
        code = " / ".join(dict.fromkeys(f"{m.status} {m.reason}".strip() for m in refused)) \
            or "not yet"
        detail = ""
        if loop:
            counts = [len(m.sip.vias) for m in loop]
            if all(b > a for a, b in zip(counts, counts[1:])):
                detail = (f" The same request passed the capture point {len(loop)} times with "
                          f"{', '.join(map(str, counts))} Via headers, one server appearing more "
                          "than once.")
            else:
                budgets = ", ".join(_MAX_FORWARDS.search(m.raw).group(1).decode() for m in loop)
                detail = (f" The same request passed the capture point {len(loop)} times, "
                          f"reaching the same element again, with Max-Forwards {budgets}.")
        text = ("This call went round in a circle between servers (for example a PBX forwarding to a "
                "provider that sends it straight back). Each pass uses up one 'hop', and when they "
                f"ran out the call was refused ({code}), so the caller gets an immediate failure."
                f"{detail} Check the routing and forwarding rules: a forward-to number that points "
                "back to this PBX, a number routed in a circle, or two servers that each treat the "
                "other as the next hop.")
        requests = [m.transaction.request for m in refused
                    if m.transaction is not None and m.transaction.request is not None]
        highlight = (loop or []) + requests + refused
        finding = ctx.finding("route-loop", "Routing loop" + (f" ({code})" if refused else ""),
                              text, highlight, call=call, scope="call",
                              rfc="RFC 3261 §16.3 steps 3-4; §21.4.20; §21.4.21; RFC 5393",
                              evidence={"codes": [m.status for m in refused],
                                        "passes": len(loop or []),
                                        "via_counts": [len(m.sip.vias) for m in loop or []],
                                        "max_forwards": [
                                            int(found.group(1)) for m in loop or []
                                            if (found := _MAX_FORWARDS.search(m.raw))]})
        finding.time = (refused or loop)[0].ts
        return finding
    if low is None:
        return None
    hops = int(_MAX_FORWARDS.search(low.raw).group(1))
    text = (f"This {low.method} from {low.src} arrived with only {plural(hops, 'hop')} left (Max-Forwards "
            f"{hops}), where a new request normally starts with 70. It has probably been going round "
            "between servers, and it will be refused with '483 Too Many Hops' after a few more. "
            "Check the routing and forwarding rules for a circle.")
    return ctx.finding("route-loop", f"Max-Forwards {hops} on a new request", text, [low],
                       call=call, severity="warning", scope="call", rfc="RFC 3261 §8.1.1.6; §16.3",
                       evidence={"max_forwards": hops})
