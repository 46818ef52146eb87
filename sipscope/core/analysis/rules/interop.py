"""Interoperability faults beyond the catalog (docs/fault-reference.md), seen in reviewed captures.

Responses that change the From/To URI of their request, unescaped characters in a URI user part,
a REGISTER Call-ID reused for a call, rport filled in without received, a Via without transport
or sent-by, CR/LF before the start line of a UDP datagram, and an account left without a binding.

Every rule starts from what the model already holds (transactions, the top Via sent-by, reader
notes) or from a byte search of one message, and parses a message fully only when that cheap test
finds something; so the rules stay linear and cheap on captures of a million messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

from sipscope.core.analysis.context import Context
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.rules.syntax import TEXT_FORMATS
from sipscope.core.analysis.rules.transaction import a_an, ua_near
from sipscope.core.analysis.text import clock, plural
from sipscope.core.model.message import DUPLICATE, RETRANSMISSION, Message
from sipscope.core.model.transaction import Transaction
from sipscope.core.sip.message import split_head
from sipscope.core.sip.params import Uri, param, parse_name_addr, parse_uri, parse_via

_FROM = re.compile(rb"^(?:from|f)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
_TO = re.compile(rb"^(?:to|t)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
_VIA = re.compile(rb"^(?:via|v)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
_TAG = re.compile(rb";[ \t]*tag[ \t]*=[^;>\s]*", re.I)
SHOWN = 20                 # highlighted messages per finding (the count is in the evidence)
COPY = RETRANSMISSION | DUPLICATE   # Message.copy as a bit test: these loops run per transaction


def _head(message: Message) -> bytes:
    raw = message.raw
    _, body_offset = split_head(raw)
    return raw[:body_offset] if body_offset > 0 else raw


def _value(regex: re.Pattern, head: bytes) -> bytes:
    found = regex.search(head)
    return found.group(1).strip() if found else b""


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def _who(ctx: Context, address: str, messages: list[Message], agents: dict[str, str]) -> str:
    """`address (User-Agent)`; the User-Agent goes into `agents` (the finding's evidence)."""
    ua = ua_near(ctx, address, messages[:5])
    if ua:
        agents[address] = ua
    return f"{address} ({ua})" if ua else address


def _listing(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# -- txn-from-to-not-copied ----------------------------------------------------------------------

FROM_TO_TEXT = (
    "{responses} from {responder} change the {field} URI of the request they answer ({changes}). "
    "RFC 3261 §8.2.6.2 requires a response to copy From and To, the To adding only its tag. "
    "{consequence}")


def _uri_key(uri: Uri | None) -> tuple:
    if uri is None:
        return ("", "", "", None)
    # RFC 3261 §19.1.4: escaped and unescaped user characters are equal, the host is case-blind
    return (uri.scheme.lower(), unquote(uri.user), uri.host.lower(), uri.port)


def _uri_of(value: bytes) -> tuple[Uri | None, str | None, str]:
    addr = parse_name_addr(_text(value))
    return addr.uri, addr.tag, (addr.uri.text if addr.uri is not None else addr.text)


def _changes(request_value: bytes, response_value: bytes, name: str) -> list[dict]:
    """What differs between the URIs (and tags) of one header in a request and its response."""
    old_uri, old_tag, old_text = _uri_of(request_value)
    new_uri, new_tag, new_text = _uri_of(response_value)
    out = []
    old_key, new_key = _uri_key(old_uri), _uri_key(new_uri)
    if old_key != new_key:
        port_only = old_key[:3] == new_key[:3]
        out.append({"field": name, "request": old_text, "response": new_text,
                    "port_only": port_only})
    # the To tag of a request outside a dialog is added by the response: only a changed one counts
    if old_tag is not None and new_tag != old_tag:
        out.append({"field": f"{name} tag", "request": old_tag, "response": new_tag or "",
                    "port_only": False})
    return out


class ReadBudget:
    """Which answers are still worth reading, for rules that judge an element's configuration
    (header manipulation, Via handling) rather than a per-call event.

    An element with PER_ELEMENT correct answers is not read again; once ALL_ELEMENTS correct
    answers were read in the capture, only every SAMPLE-th answer of an element not yet at fault
    is read; an element at fault is read to the end.  So a million-message capture costs about
    what 25,000 messages do."""

    PER_ELEMENT = 500
    ALL_ELEMENTS = 5_000
    SAMPLE = 50

    def __init__(self) -> None:
        self.clean: dict[str, int] = {}
        self.total = 0
        self.skipped = 0

    def wanted(self, element: str) -> bool:
        count = self.clean.get(element, 0)
        if count < 0:
            return True
        if count >= self.PER_ELEMENT:
            return False
        if self.total >= self.ALL_ELEMENTS:
            self.skipped += 1
            return self.skipped % self.SAMPLE == 0
        return True

    def fine(self, element: str) -> None:
        count = self.clean.get(element, 0)
        if count >= 0:
            self.clean[element] = count + 1
            self.total += 1

    def at_fault(self, element: str) -> None:
        self.clean[element] = -1

    @property
    def sampled(self) -> bool:
        return self.total >= self.ALL_ELEMENTS


def _transaction_changes(transaction: Transaction, budget: ReadBudget
                         ) -> list[tuple[Message, list[dict]]]:
    """The responses of one transaction that change From/To (the budget decides which are
    read: header manipulation is an element's configuration, not a per-call whim)."""
    messages = transaction.messages
    request = transaction.request
    if request is None or len(messages) < 2:
        return []
    found = []
    req_from = req_to = to_probe = None
    for message in messages:
        # 100 Trying is hop-by-hop (RFC 3261 §16.7): the responses that reach the caller judge
        if message.status <= 100 or message.flags & COPY or not budget.wanted(message.src):
            continue
        if req_from is None:
            raw = request.raw
            req_from, req_to = _value(_FROM, raw), _value(_TO, raw)
            if not req_from or not req_to:
                return []
            # outside a dialog the response adds a To tag: look for the To without it
            to_probe = req_to if request.to_tag else _TAG.sub(b"", req_to)
        raw = message.raw
        if req_from in raw and to_probe in raw:
            budget.fine(message.src)
            continue                          # both copied byte for byte: the common case
        head = _head(message)
        resp_from, resp_to = _value(_FROM, head), _value(_TO, head)
        if not resp_from or not resp_to:
            continue                          # a missing header is syn-header-invalid's
        changes = _changes(req_from, resp_from, "From") + _changes(req_to, resp_to, "To")
        if changes:
            budget.at_fault(message.src)
            found.append((message, changes))
        else:
            budget.fine(message.src)
    return found


DIALOG_METHODS = ("INVITE", "SUBSCRIBE", "REFER", "NOTIFY")


def _sampling(sampled: bool) -> dict:
    """The numbers SAMPLED_NOTE names, for the evidence of a finding of a sampled capture."""
    return {"sampled_after": ReadBudget.ALL_ELEMENTS, "sampled_every": ReadBudget.SAMPLE} \
        if sampled else {}
SAMPLED_NOTE = (" The capture is large: after 5,000 correct answers only every 50th answer of an "
                "element was read until it showed the fault, so the count is a lower bound.")


@rule("txn-from-to-not-copied", text=FROM_TO_TEXT)
def txn_from_to_not_copied(ctx: Context) -> Iterable[Finding]:
    """One finding per call for dialog traffic; out-of-dialog requests (OPTIONS pings, REGISTER)
    carry a new Call-ID each time, so theirs are gathered per answering element and method."""
    groups: dict[tuple, list[tuple[Message, list[dict]]]] = {}
    budget = ReadBudget()
    for transaction in ctx.session.transactions:
        for message, changes in _transaction_changes(transaction, budget):
            in_dialog = transaction.method in DIALOG_METHODS or bool(transaction.request.to_tag)
            key = ("call", message.call_id) if in_dialog else \
                ("source", message.src, transaction.method)
            groups.setdefault(key, []).append((message, changes))
    for key, items in groups.items():
        yield _from_to_finding(ctx, key, items, budget.sampled)


def _makers(items: list[tuple[Message, list[dict]]]) -> tuple[dict[str, list[str]], list[str]]:
    """Who made the changed responses, and who only relayed them: a response with the status,
    CSeq and To tag of an earlier one from another element is a relayed copy (a 100 Trying is
    never relayed, RFC 3261 §16.7 step 5)."""
    makers: dict[str, list[str]] = {}
    relays: list[str] = []
    seen: dict[tuple, str] = {}
    for message, _ in sorted(items, key=lambda item: item[0].ts):
        key = (message.status, message.cseq_num, message.cseq_method, message.to_tag)
        origin = seen.get(key)
        if message.status != 100 and origin is not None and origin != message.src:
            if message.src not in relays:
                relays.append(message.src)
            continue
        seen.setdefault(key, message.src)
        labels = makers.setdefault(message.src, [])
        label = f"{message.status} to {message.cseq_method}"
        if label not in labels:
            labels.append(label)
    return makers, relays


def _from_to_finding(ctx: Context, key: tuple, items: list[tuple[Message, list[dict]]],
                     sampled: bool = False) -> Finding:
    messages = [m for m, _ in items]
    distinct: list[dict] = []
    for _, changes in items:
        for change in changes:
            if change not in distinct:
                distinct.append(change)
    makers, relays = _makers(items)
    tags_changed = any(c["field"].endswith("tag") for c in distinct)
    port_only = all(c["port_only"] for c in distinct)
    fields = sorted({c["field"].split()[0] for c in distinct}, key=("From", "To").index)
    shown = "; ".join(f"{c['field']} {c['request']} became {c['response']}" for c in distinct[:4])
    agents: dict[str, str] = {}
    made = [f"{_who(ctx, src, messages, agents)} ({_listing(labels)})"
            for src, labels in makers.items()]
    dialog = key[0] == "call"
    call = ctx.session.call(key[1]) if dialog else None
    answered = call is not None and 200 <= call.final_status < 300
    if tags_changed:
        consequence = "The tag changed too, so the response cannot be matched to its dialog."
    elif port_only:
        consequence = ("Only the port differs; RFC 3261 §19.1.4 does not count such URIs as equal, "
                       "but the tags match, so nothing here depends on it.")
    else:
        matched = ("the dialog still matched" + (" and the call was answered" if answered else "")
                   if dialog else "each answer still matched its request")
        consequence = (f"The tags are unchanged, so {matched}; a device that compares the URIs, "
                       "or shows the parties from the response, sees other parties than the "
                       "request named.")
    verb = "changes" if len(messages) == 1 else "change"
    text = (f"{plural(len(messages), 'response')} {verb} the {_listing(fields)} URI of the request "
            f"{'it answers' if len(messages) == 1 else 'they answer'} ({shown}); made by "
            f"{_listing(made)}" + (f", passed on unaltered by {_listing(relays)}" if relays else "")
            + ". RFC 3261 §8.2.6.2 requires a response to copy From and To, the To adding only its "
            f"tag. {consequence}" + (SAMPLED_NOTE if sampled else ""))
    severity = "info" if port_only and not tags_changed else "warning"
    title = f"Response changes the {'/'.join(fields)} URI of the request ({shown})"
    source = None if dialog else key[1]
    return ctx.finding("txn-from-to-not-copied", title, text, messages[:SHOWN], call=call,
                       severity=severity, scope="call" if dialog else "source", source=source,
                       rfc="RFC 3261 §8.2.6.2; §19.1.4",
                       evidence={"makers": makers, "relays": relays, "responses": len(messages),
                                 "changes": distinct, "tags_changed": tags_changed,
                                 "port_only": port_only, "answered": bool(answered),
                                 "sampled": sampled, "user_agents": agents, **_sampling(sampled)})


# -- syn-uri-unescaped ---------------------------------------------------------------------------

URI_ESCAPE_TEXT = (
    "{request} from {sender} has '{chars}' unescaped in the user part '{user}' of its {fields}. "
    "RFC 3261 §25.1 allows only letters, digits and -_.!~*'()&=+$,;?/ there; anything else must "
    "be written %XX ('#' is %23). {consequence}")

# RFC 3261 §25.1: user = 1*( unreserved / escaped / user-unreserved ); a % must start %HH
_USER_BAD = re.compile(r"[^A-Za-z0-9\-_.!~*'()&=+$,;?/%]|%(?![0-9A-Fa-f]{2})")
REJECTED = (400, 404, 416, 484)
# cheap first test of a whole URI: a character no sip: URI part allows unescaped, or a % escape
_SUSPECT = re.compile(r"[^A-Za-z0-9\-_.!~*'()&=+$,;?/:@\[\]]")


def _bad_user(uri_text: str) -> tuple[str, str] | None:
    """(user, offending characters) of a sip:/sips: URI whose user part breaks §25.1."""
    scheme, colon, rest = uri_text.strip().partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        return None                          # tel: and others have their own grammar
    at = rest.find("@")
    if at <= 0:
        return None
    user = rest[:at].partition(":")[0]       # userinfo = user [":" password]
    bad = _USER_BAD.findall(user)
    if not bad:
        return None
    return user, "".join(dict.fromkeys(bad))


@rule("syn-uri-unescaped", text=URI_ESCAPE_TEXT)
def syn_uri_unescaped(ctx: Context) -> Iterable[Finding]:
    """The Request-URI (held by the model) of every request outside a dialog; the To and From
    of a request whose Request-URI is wrong, to name every field that carries the user part.
    A wrong From or To under a correct Request-URI is not examined (it would cost a read of
    every request)."""
    groups: dict[tuple[str, str], list] = {}
    for transaction in ctx.session.transactions:
        message = transaction.request
        if message is None or message.to_tag or message.method in ("ACK", "CANCEL"):
            continue                         # requests outside a dialog create the URIs
        uri = message.request_uri or ""
        found = _bad_user(uri) if _SUSPECT.search(uri) else None
        if found is None:
            continue
        fields = ["Request-URI"]
        head = _head(message)
        for name, regex in (("To", _TO), ("From", _FROM)):
            value = _value(regex, head)
            addr = parse_name_addr(_text(value)) if b"@" in value else None
            if addr is not None and addr.uri is not None:
                other = _bad_user(addr.uri.text)
                if other and other[0] == found[0]:
                    fields.append(name)
        group = groups.setdefault((message.call_id, found[0]), [found[1], [], []])
        group[1].append(message)
        group[2].extend(f for f in fields if f not in group[2])
    for (call_id, user), (chars, messages, fields) in groups.items():
        yield _unescaped_finding(ctx, call_id, user, chars, messages, fields)


def _unescaped_finding(ctx: Context, call_id: str, user: str, chars: str,
                       messages: list[Message], fields: list[str]) -> Finding:
    first = messages[0]
    final = first.transaction.final if first.transaction is not None else None
    if final is None:
        consequence = "No final answer to it is in this capture."
    elif 200 <= final.status < 300:
        consequence = (f"It was answered {final.label}: the peers accepted it, but a strict "
                       "parser may reject such a URI with '400 Bad Request'.")
    elif final.status in REJECTED:
        consequence = f"It was refused with {final.label}; the unescaped character may be why."
    else:
        consequence = (f"It was answered {final.label}; nothing here shows the character was "
                       "the reason.")
    senders = list(dict.fromkeys(m.src for m in messages))
    article = a_an(first.method)
    agents: dict[str, str] = {}
    text = (f"{article[0].upper()}{article[1:]} from {_who(ctx, first.src, messages, agents)} has "
            f"'{chars}' unescaped in the user part '{user}' of its {_listing(fields)}. RFC 3261 "
            "§25.1 allows only letters, digits and -_.!~*'()&=+$,;?/ there; anything else must be "
            f"written %XX ('#' is %23). {consequence}")
    if len(senders) > 1:
        text += f" {_listing(senders[1:])} passed it on unchanged."
    title = f"Unescaped '{chars}' in URI user part '{user}'"
    return ctx.finding("syn-uri-unescaped", title, text, messages[:SHOWN],
                       call=ctx.session.call(call_id), rfc="RFC 3261 §25.1; §19.1.2",
                       evidence={"user": user, "characters": chars, "fields": fields,
                                 "sender": first.src, "senders": senders,
                                 "requests": len(messages), "user_agents": agents,
                                 "final": final.label if final is not None else None})


# -- dlg-call-id-reused ---------------------------------------------------------------------------

CALL_ID_REUSE_TEXT = (
    "{sender} used Call-ID {call_id} for a REGISTER (CSeq {reg_cseq}) and then for an {method} "
    "(CSeq {cseq}). RFC 3261 §8.1.1.4 wants a new, globally unique Call-ID for every new dialog; "
    "{consequence}")
DIALOG_CREATING = ("INVITE", "SUBSCRIBE")


@rule("dlg-call-id-reused", text=CALL_ID_REUSE_TEXT)
def dlg_call_id_reused(ctx: Context) -> Iterable[Finding]:
    registers: dict[str, Transaction] = {}
    dialogs: dict[str, Transaction] = {}
    for transaction in ctx.session.transactions:
        method = transaction.method
        if method != "REGISTER" and method not in DIALOG_CREATING:
            continue
        request = transaction.request
        if request is None or request.to_tag:
            continue
        if method == "REGISTER":
            registers.setdefault(transaction.call_id, transaction)
        elif transaction.method in DIALOG_CREATING:
            dialogs.setdefault(transaction.call_id, transaction)
    per_sender: dict[str, list[tuple[str, Transaction, Transaction]]] = {}
    for call_id, dialog in dialogs.items():
        register = registers.get(call_id)
        if register is None or register.request.src_host != dialog.request.src_host:
            continue                  # another host's Call-ID is a collision, not a reuse
        per_sender.setdefault(dialog.request.src, []).append((call_id, register, dialog))
    for sender, pairs in per_sender.items():
        yield _reuse_finding(ctx, sender, pairs)     # one habit of one UA: one finding


def _reuse_finding(ctx: Context, sender: str,
                   pairs: list[tuple[str, Transaction, Transaction]]) -> Finding:
    call_id, register, dialog = pairs[0]
    reg, req = register.request, dialog.request
    agents: dict[str, str] = {}
    who = _who(ctx, sender, [req, reg], agents)
    finals = [d.final for _, _, d in pairs]
    answered = sum(1 for f in finals if f is not None and 200 <= f.status < 300)
    final = finals[0]
    if len(pairs) == 1:
        outcome = (f"the {req.method} itself was answered {final.label}" if final is not None
                   else f"no final answer to the {req.method} is in this capture")
        opening = (f"{who} used Call-ID {call_id} for a REGISTER (CSeq {reg.cseq_num}) and then "
                   f"for {a_an(req.method)} (CSeq {req.cseq_num})")
        title = f"REGISTER Call-ID reused for {a_an(req.method)}"
    else:
        outcome = f"{answered} of these {plural(len(pairs), req.method)} were answered with a 2xx"
        opening = (f"{who} used the Call-ID of a REGISTER again for a new {req.method} on "
                   f"{plural(len(pairs), 'Call-ID')}, the first {call_id} (REGISTER CSeq "
                   f"{reg.cseq_num}, {req.method} CSeq {req.cseq_num})")
        title = f"REGISTER Call-ID reused for {req.method}s ({plural(len(pairs), 'Call-ID')})"
    consequence = (f"the registration and the {req.method} then share one Call-ID and one CSeq "
                   "space, so tools and servers that key calls by Call-ID alone (sipscope's call "
                   f"list too) merge the registration into the call; {outcome}.")
    text = (f"{opening}. RFC 3261 §8.1.1.4 wants a new, globally unique Call-ID for every new "
            f"dialog (only REGISTER refreshes keep theirs, §10.2); {consequence}")
    messages = [m for _, r, d in pairs[:SHOWN // 2] for m in (r.request, d.request)]
    single = len(pairs) == 1
    return ctx.finding("dlg-call-id-reused", title, text, messages,
                       call=ctx.session.call(call_id) if single else None,
                       scope="call" if single else "source", source=None if single else sender,
                       rfc="RFC 3261 §8.1.1.4; §10.2",
                       evidence={"call_id": call_id, "sender": sender, "call_ids": len(pairs),
                                 "register_cseq": reg.cseq_num, "method": req.method,
                                 "cseq": req.cseq_num, "answered": answered,
                                 "final": final.label if final is not None else None,
                                 "user_agents": agents})


# -- nat-rport-without-received -------------------------------------------------------------------

RPORT_TEXT = (
    "{server} filled in rport={port} in the top Via of {n} responses but added no received "
    "parameter, although the requests asked for rport. RFC 3581 §4 requires received whenever "
    "rport is filled in, even when it equals the sent-by host. {consequence}")


def _top_via(message: Message):
    value = _value(_VIA, _head(message))
    return parse_via(_text(value.split(b",", 1)[0])) if value else None


@rule("nat-rport-without-received", text=RPORT_TEXT)
def nat_rport_without_received(ctx: Context) -> Iterable[Finding]:
    per_server: dict[str, list[tuple[Message, str]]] = {}
    budget = ReadBudget()             # a server's Via handling is its configuration
    for transaction in ctx.session.transactions:
        request = transaction.request
        if request is None or len(transaction.messages) < 2 or request.src == request.dst:
            continue                  # an element asking itself (a self-check) is no client
        for response in transaction.messages:
            if response.status and not response.flags & COPY:
                break
        else:
            continue
        if not budget.wanted(response.src):
            continue
        raw = response.raw
        if b"rport=" not in raw or b"received" in raw:
            budget.fine(response.src)
            continue                  # cheap: nothing filled in, or received present somewhere
        via = _top_via(response)
        if via is None or not via.rport or via.received is not None:
            continue
        asked = _top_via(request)
        if asked is None or asked.rport != "" or asked.branch != via.branch:
            continue                  # the request did not ask (RFC 3581 §3), or another Via
        budget.at_fault(response.src)
        per_server.setdefault(response.src, []).append((response, via.rport))
    for server, items in per_server.items():
        yield _rport_finding(ctx, server, items, budget.sampled)


def _rport_finding(ctx: Context, server: str, items: list[tuple[Message, str]],
                   sampled: bool = False) -> Finding:
    messages = [m for m, _ in items]
    ports = list(dict.fromkeys(port for _, port in items))
    finals = [m for m in messages if m.status >= 200]
    ok = [m for m in finals if 200 <= m.status < 300]
    if ok:
        consequence = (f"The requests still succeeded ({ok[0].label}): a client that learns its "
                       "public address from received (for its Contact) learns nothing here.")
    else:
        consequence = ("A client that learns its public address from received (for its Contact) "
                       "learns nothing here.")
    agents: dict[str, str] = {}
    named = _listing(ports) if len(ports) <= 3 else \
        f"{', '.join(ports[:3])}, ... ({len(ports)} different ports in all)"
    text = (f"{_who(ctx, server, messages, agents)} filled in rport={named} in the top Via of "
            f"{plural(len(messages), 'response')} but added no received parameter, although the "
            "requests asked for rport. RFC 3581 §4 requires received whenever rport is filled in, "
            f"even when it equals the sent-by host. {consequence}" +
            (SAMPLED_NOTE if sampled else ""))
    title = f"rport={ports[0]} without received in {plural(len(messages), 'response')}"
    return ctx.finding("nat-rport-without-received", title, text, messages[:SHOWN],
                       scope="source", source=server, rfc="RFC 3581 §4",
                       evidence={"server": server, "rport": ports[:3], "ports": len(ports),
                                 "responses": len(messages), "succeeded": len(ok),
                                 "succeeded_with": ok[0].label if ok else None,
                                 "sampled": sampled, "user_agents": agents,
                                 **_sampling(sampled)})


# -- syn-via-incomplete ---------------------------------------------------------------------------

VIA_TEXT = (
    "The top Via of this {message} from {sender} reads '{via}': it has no {missing}. RFC 3261 "
    "§20.42 makes protocol, transport and sent-by mandatory, and responses are sent to the sent-by "
    "(§18.2.2), so nobody can answer it. {consequence}")


@rule("syn-via-incomplete", text=VIA_TEXT)
def syn_via_incomplete(ctx: Context) -> Iterable[Finding]:
    groups: dict[tuple[str, str, str], list] = {}
    for message in ctx.session.messages:
        if message.sent_by or message.copy:
            continue                  # cheap: the model read a sent-by from the top Via
        via = message.sip.top_via
        if via is None:
            continue                  # no Via at all is syn-header-invalid's
        missing = [part for part, value in (("transport", via.transport), ("sent-by", via.host))
                   if not value]
        if missing:
            key = (message.call_id, message.src, " and no ".join(missing))
            groups.setdefault(key, [via.text, []])[1].append(message)
    for (call_id, src, missing), (via_text, messages) in groups.items():
        yield _via_finding(ctx, call_id, src, missing, via_text, messages)


def _via_finding(ctx: Context, call_id: str, src: str, missing: str, via_text: str,
                 messages: list[Message]) -> Finding:
    first = messages[0]
    answered = next((m for m in (first.transaction.messages if first.transaction else ())
                     if m.is_response), None) if first.is_request else None
    inputs = ctx.session.inputs
    text_input = 0 <= first.input_index < len(inputs) and inputs[first.input_index].format in \
        TEXT_FORMATS
    if answered is not None:
        consequence = (f"Yet it was answered ({answered.label}), so the element in between did "
                       "not rely on this Via.")
    elif text_input:
        consequence = ("This comes from a text log: a stack may print a message this way before "
                       "it has chosen a transport, so the wire copy may differ. No answer to it is "
                       "in this excerpt.")
    elif first.is_request:
        consequence = "No answer to it is in this capture."
    else:
        consequence = "A response with such a Via cannot be routed back."
    agents: dict[str, str] = {}
    text = (f"The top Via of this {first.label} from {_who(ctx, src, messages, agents)} reads "
            f"'{via_text}': it has no {missing}. RFC 3261 §20.42 makes protocol, transport and "
            "sent-by mandatory, and responses are sent to the sent-by (§18.2.2), so nobody can "
            f"answer it. {consequence}")
    if len(messages) > 1:
        text += f" The same holds for {plural(len(messages) - 1, 'more message')} from this sender."
    return ctx.finding("syn-via-incomplete", f"Via without {missing}", text, messages[:SHOWN],
                       call=ctx.session.call(call_id), rfc="RFC 3261 §20.42; §18.2.2; §25.1",
                       evidence={"via": via_text, "missing": missing, "sender": src,
                                 "messages": len(messages), "text_input": text_input,
                                 "user_agents": agents,
                                 "answered": answered.label if answered is not None else None})


# -- syn-leading-crlf -----------------------------------------------------------------------------

LEADING_CRLF_TEXT = (
    "{n} UDP datagrams from {sender} start with a line break before the start line of the "
    "{method}. RFC 3261 §7.5 tells receivers to skip CRLF before a start line only on stream "
    "transports (TCP, TLS); on UDP a strict parser rejects or drops such a datagram. "
    "{consequence}")
# the note core/sources/decoder.py leaves on a UDP message whose datagram began with CR/LF
LEADING_NOTE = "CR/LF before the start line"


@rule("syn-leading-crlf", text=LEADING_CRLF_TEXT)
def syn_leading_crlf(ctx: Context) -> Iterable[Finding]:
    groups: dict[tuple, list[Message]] = {}
    for message in ctx.session.messages:
        note = message.note
        if note is None or LEADING_NOTE not in note or message.copy:
            continue
        key = (message.call_id, message.cseq_num, message.method or message.cseq_method)
        groups.setdefault(key, []).append(message)
    for messages in groups.values():
        yield _leading_finding(ctx, messages)


def _leading_finding(ctx: Context, messages: list[Message]) -> Finding:
    first = messages[0]
    relays = [m for m in messages[1:] if m.src == first.dst or m.src_host == first.dst_host
              and m.src != first.src]
    answered = None
    if first.is_request and first.method != "ACK" and first.transaction is not None:
        answered = next((m for m in first.transaction.messages if m.is_response), None)
    if relays:
        consequence = (f"{relays[0].src} accepted it and relayed it, still prefixed, to "
                       f"{relays[0].dst}; sipscope reads it too (tshark does not dissect it as "
                       "SIP).")
    elif answered is not None:
        consequence = f"{first.dst} accepted it: it answered {answered.label}."
    else:
        consequence = (f"Whether {first.dst} accepted it cannot be seen from this capture; "
                       "sipscope reads it (tshark does not dissect it as SIP).")
    label = first.method or first.label
    agents: dict[str, str] = {}
    text = (f"{plural(len(messages), 'UDP datagram')} carrying the {label} (CSeq "
            f"{first.cseq_num}) start with a line break before the start line, first from "
            f"{_who(ctx, first.src, messages, agents)}. RFC 3261 §7.5 tells receivers to skip CRLF before "
            "a start line only on stream transports (TCP, TLS); on UDP a strict parser rejects "
            f"or drops such a datagram. {consequence}")
    return ctx.finding("syn-leading-crlf", f"{label} datagram starts with a line break", text,
                       messages[:SHOWN], call=ctx.session.call(first.call_id),
                       rfc="RFC 3261 §7.5; §18.3",
                       evidence={"sender": first.src, "datagrams": len(messages),
                                 "method": label, "cseq": first.cseq_num,
                                 "receiver": first.dst, "relayed_by": [m.src for m in relays],
                                 "relayed_to": [m.dst for m in relays], "user_agents": agents,
                                 "answered": answered.label if answered is not None else None})


# -- reg-no-binding-left --------------------------------------------------------------------------

NO_BINDING_TEXT = (
    "At the end of the capture {aor} has no registered contact: after {n_reg} registrations and "
    "{n_remove} removals, the REGISTER at {time} from {device} removed {contact}, and the "
    "registrar's {status} lists no binding. Until it registers again, calls to {aor} cannot reach "
    "it. {churn}")
_ZERO = re.compile(r"^0+$")


def _removes(request: Message) -> bool:
    """RFC 3261 §10.2.2: Expires 0 (header or Contact parameter) or Contact '*' removes."""
    sip = request.sip
    contacts = sip.contacts
    if any(c.text.strip() == "*" for c in contacts):
        return True
    header = (sip.get("Expires") or "").strip()
    return bool(contacts) and all(
        _ZERO.match((param(c.params, "expires") or header or "x").strip()) for c in contacts)


def _bindings(response: Message) -> list[str]:
    """Contacts a REGISTER's 2xx lists as current bindings (RFC 3261 §10.3 step 8)."""
    out = []
    for contact in response.sip.contacts:
        expires = param(contact.params, "expires")
        if contact.uri is not None and not (expires is not None and _ZERO.match(expires.strip())):
            out.append(contact.uri.text)
    return out


_REMOVAL = re.compile(rb"^(?:expires[ \t]*:[ \t]*0+[ \t]*\r?$|(?:contact|m)[ \t]*:[ \t]*\*)|"
                      rb"expires[ \t]*=[ \t]*0+(?![0-9])", re.I | re.M)


@rule("reg-no-binding-left", text=NO_BINDING_TEXT)
def reg_no_binding_left(ctx: Context) -> Iterable[Finding]:
    """Successful REGISTERs per device (source address) and registrar (Request-URI), in time
    order, from what the model holds; only the last one of each is read, and only a device whose
    last one removes bindings is parsed in full, per AOR.  So a capture with 100,000
    registrations costs one read per device.  A multi-line device whose last REGISTER belongs to
    another line is not judged."""
    per_device: dict[tuple[str, str], list[tuple[Message, Message]]] = {}
    for transaction in ctx.session.transactions:
        request = transaction.request
        if transaction.method != "REGISTER" or request is None or request.method != "REGISTER":
            continue
        ok = next((m for m in transaction.messages
                   if 200 <= m.status < 300 and not m.copy), None)
        if ok is not None:            # refused or unanswered ones change nothing
            per_device.setdefault((request.src, request.request_uri or ""), []).append(
                (request, ok))
    for steps in per_device.values():
        steps.sort(key=lambda step: step[1].ts)
        if not _REMOVAL.search(_head(steps[-1][0])):
            continue                  # cheap: the device's last REGISTER removes nothing
        per_aor: dict[str, list[tuple[Message, Message]]] = {}
        for request, ok in steps:
            if request.sip.contacts:  # a query (no Contact, §10.2.3) changes nothing
                to = request.sip.to.uri
                aor = f"{to.user}@{to.host}" if to is not None and to.user else \
                    (to.text if to else "")
                per_aor.setdefault(aor, []).append((request, ok))
        for aor, history in per_aor.items():
            request, ok = history[-1]
            if not _removes(request) or _bindings(ok):
                continue
            if not any(not _removes(req) and _bindings(resp) for req, resp in history[:-1]):
                continue              # never bound in this capture: a plain sign-off
            yield _no_binding_finding(ctx, aor, history)


def _no_binding_finding(ctx: Context, aor: str, steps: list[tuple[Message, Message]]) -> Finding:
    request, ok = steps[-1]
    added = [req for req, _ in steps if not _removes(req)]
    removals = len(steps) - len(added)
    removed = [c.uri.text if c.uri is not None else c.text for c in request.sip.contacts]
    contacts = list(dict.fromkeys(c.uri.text for req in added for c in req.sip.contacts
                                  if c.uri is not None))
    after = ctx.session.end - ok.ts
    span = ok.ts - steps[0][0].ts
    agents: dict[str, str] = {}
    ending = ("the capture ends right after the last removal" if after < 0.5 else
              f"the capture ends {after:.1f} s after the last removal")
    churn = (f"The device registered {plural(len(contacts), 'different contact')} "
             f"({_listing(contacts[:4])}) within {span:.1f} s; {ending}."
             if len(contacts) > 1 else f"{ending[0].upper()}{ending[1:]}.")
    text = (f"At the end of the capture {aor} has no registered contact: after "
            f"{plural(len(added), 'registration')} and {plural(removals, 'removal')}, the REGISTER "
            f"at {clock(request)} from {_who(ctx, request.src, [request], agents)} removed "
            f"{_listing(removed)}, and the registrar's {ok.label} lists no binding. Until it "
            f"registers again, calls to {aor} cannot reach it. {churn}")
    messages = [m for step in steps for m in step]
    return ctx.finding("reg-no-binding-left", f"{aor} left without a registered contact", text,
                       messages[-SHOWN:], call=ctx.session.call(request.call_id),
                       rfc="RFC 3261 §10.2.2; §10.3",
                       evidence={"aor": aor, "registrations": len(added), "removals": removals,
                                 "contacts": contacts, "removed": removed,
                                 "device": request.src, "seconds_after": round(after, 3),
                                 "seconds": round(span, 3), "user_agents": agents})
