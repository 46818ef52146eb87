"""Registration and authentication fault rules (catalog §10): challenge loops, failed bindings.

Sources that the security rules flag (scanners, enumeration, password guessing) are left to them:
their refused credentials are attacks, not misconfigured phones (§10.1 traps).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sipscope.core.analysis.context import TIMER_B, Context
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.text import clock, fill, plural
from sipscope.core.analysis.digest import parse_digest
from sipscope.core.analysis.rules.security import Req, flagged_sources, security_index
from sipscope.core.model.message import Message, host_of
from sipscope.core.sip.params import param, parse_name_addr
from sipscope.core.sip.numbers import header_int

CHALLENGES = (401, 407)
LOOP_WINDOW = 60.0              # §10.1 (a)
NO_CREDENTIALS_WAIT = 5.0       # §10.1 (e)
SHORT_EXPIRY = 60               # §10.2 (b)
LAPSE_MARGIN = 5.0              # §10.2 (c): seconds of tolerance before a binding has lapsed
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
_FROM = re.compile(rb"^(?:from|f)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
_TO_HOST = re.compile(rb"^(?:to|t)[ \t]*:[^\r\n]*?(?:sips?|tel):(?:[^@;>\s]*@)?([^;>:\s]+)",
                      re.I | re.M)
_ZERO_EXPIRY = re.compile(rb"^(?:expires[ \t]*:[ \t]*0+[ \t]*\r?$|(?:contact|m)[ \t]*:[ \t]*\*)|"
                          rb"expires[ \t]*=[ \t]*0+(?![0-9])", re.I | re.M)
_CHALLENGE = re.compile(rb"^(?:www|proxy)-authenticate[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)




def from_uri(message: Message) -> str:
    """The From URI without parameters (cheap: one regex over the raw header block)."""
    found = _FROM.search(message.raw)
    if not found:
        return ""
    value = parse_name_addr(found.group(1).decode("utf-8", "replace"))
    uri = value.uri
    return f"{uri.user}@{uri.host}" if uri is not None else value.text


def challenges_of(message: Message) -> list[dict]:
    """The WWW-/Proxy-Authenticate Digest parameters of a 401/407."""
    out = []
    for match in _CHALLENGE.finditer(message.raw):
        params = parse_digest(match.group(1).decode("utf-8", "replace"))
        if params is not None:
            out.append(params)
    return out


def device(message: Message) -> str:
    ua = message.sip.user_agent
    return f"the device at {message.src} ({ua})" if ua else f"the device at {message.src}"


# -- 10.1 auth-challenge-loop -------------------------------------------------------------------

LOOP_TEXT = (
    "{device} keeps answering the server's password check and keeps being refused ({n} times in "
    "{t} s{code_403}). The username, password or realm configured on the device does not match "
    "the server, so it cannot register (no incoming calls) or place calls, and the server's "
    "anti-hacking rules may block it. Re-enter the SIP credentials, and note that the "
    "'authentication user' can differ from the extension number.")


@dataclass(slots=True, eq=False)
class _Attempt:
    req: Req
    challenge: Message | None = None           # the 401/407 that answered it
    realms: set[str] = field(default_factory=set)    # realms challenged in that answer
    stale: bool = False


@rule("auth-challenge-loop", text=LOOP_TEXT, index="security")
def challenge_loop(ctx: Context) -> list[Finding]:
    skip = flagged_sources(ctx)
    identities: dict[tuple, list[Req]] = {}
    interesting: set[tuple] = set()
    for host, source in security_index(ctx).items():
        if host in skip:
            continue
        for req in source.requests:
            if not (req.creds or req.final in CHALLENGES or req.final in (403, 404)):
                continue
            key = (req.message.src, req.message.method, from_uri(req.message))
            identities.setdefault(key, []).append(req)
            if req.final in CHALLENGES + (403,) or (req.final == 404 and req.creds):
                interesting.add(key)
    out = []
    for key in interesting:
        reqs = sorted(identities[key], key=lambda r: r.ts)
        finding = _loop_finding(ctx, key, [_attempt(r) for r in reqs])
        if finding is not None:
            out.append(finding)
    return out


def _attempt(req: Req) -> _Attempt:
    attempt = _Attempt(req)
    if req.final in CHALLENGES:
        attempt.challenge = next((m for m in req.transaction.messages
                                  if m.status == req.final and not m.copy), None)
        if attempt.challenge is not None:
            for params in challenges_of(attempt.challenge):
                attempt.realms.add(params.get("realm", ""))
                attempt.stale |= params.get("stale", "").lower() == "true"
    return attempt


def _loop_finding(ctx: Context, key: tuple, attempts: list[_Attempt]) -> Finding | None:
    cases: list[tuple[str, str, str, list[Message]]] = []
    # (a) credentials refused again and again: a run of credentialed requests challenged anew
    run: list[_Attempt] = []
    best_run: list[_Attempt] = []
    for attempt in attempts:
        sent_realms = {c.get("realm", "") for c in attempt.req.creds}
        rejected = attempt.req.creds and attempt.req.final in CHALLENGES and not attempt.stale \
            and (not attempt.realms or attempt.realms & sent_realms)
        if rejected and (not run or attempt.req.ts - run[-1].req.ts <= LOOP_WINDOW):
            run.append(attempt)
        elif rejected:
            run = [attempt]
        else:
            run = []
        if len(run) > len(best_run):
            best_run = list(run)
    if len(best_run) >= 2:
        start = attempts.index(best_run[0])
        opening = [attempts[start - 1]] if start and attempts[start - 1].req.final in \
            CHALLENGES else []
        cases.append(("error", "a", f"{len(best_run)} credentialed attempts were challenged again",
                      _pair(opening + best_run)))
    # (b) credentials answered 403 (or 404 to an authenticated REGISTER)
    refused = [a for a in attempts if a.req.creds and (a.req.final == 403 or (
        a.req.final == 404 and a.req.message.method == "REGISTER"))]
    if refused:
        code = refused[0].req.final
        cases.append(("error", "b", f"the credentials were answered {code}",
                      [refused[0].req.message] + _final(refused[0])))
    # (c) the retry reuses the challenged request's CSeq; (d) stale twice, realm not offered
    for previous, attempt in zip(attempts, attempts[1:]):
        if previous.req.final not in CHALLENGES or not attempt.req.creds:
            continue
        if attempt.req.message.call_id == previous.req.message.call_id and \
                attempt.req.message.cseq_num == previous.req.message.cseq_num:
            cases.append(("warning", "c", f"the retry reuses CSeq {attempt.req.message.cseq_num}, "
                                          "so the server may take it for a retransmission",
                          [previous.req.message, attempt.req.message]))
            break
    for previous, attempt in zip(attempts, attempts[1:]):
        if previous.stale and attempt.stale:
            cases.append(("warning", "d", "two stale-nonce challenges in a row",
                          _final(previous) + _final(attempt)))
            break
    for previous, attempt in zip(attempts, attempts[1:]):
        if previous.req.final not in CHALLENGES or not attempt.req.creds or not previous.realms:
            continue
        sent = {c.get("realm", "") for c in attempt.req.creds}
        if not sent & previous.realms:
            cases.append(("warning", "d", f"the credentials are for realm "
                                          f"'{sorted(sent)[0]}' but the server asked for "
                                          f"'{sorted(previous.realms)[0]}'",
                          _final(previous) + [attempt.req.message]))
            break
    # (e) a challenge never answered with credentials (the client has none configured)
    last = attempts[-1]
    if not cases and last.req.final in CHALLENGES and not last.req.creds and not any(
            a.req.creds and a.req.ts > last.req.ts for a in attempts):
        if ctx.horizon_ok(last.req.ts, NO_CREDENTIALS_WAIT):
            cases.append(("info", "e", "the challenge was never answered with credentials",
                          [last.req.message] + _final(last)))
    if not cases:
        return None
    severity = min((c[0] for c in cases), key=lambda s: SEVERITY_RANK[s])
    first = attempts[0].req.message
    messages = [m for case in cases for m in case[3]]
    n = len(best_run) if len(best_run) >= 2 else sum(1 for a in attempts if a.req.final in
                                                      CHALLENGES + (403,))
    t = attempts[-1].req.ts - attempts[0].req.ts
    explanation = fill(LOOP_TEXT, device=device(first), n=n, t=f"{t:.0f}",
                       code_403=", then 'Forbidden'" if refused else "")
    if severity == "info":
        explanation = fill("{device} was asked for a password ({code}) and never sent one: it "
                           "probably has no credentials configured for this server.",
                           device=device(first), code=cases[0][3][-1].label)
    explanation += " Details: " + "; ".join(c[2] for c in cases) + "."
    users = sorted({c.get("username", "") for a in attempts for c in a.req.creds} - {""})
    realms = sorted({c.get("realm", "") for a in attempts for c in a.req.creds} - {""})
    asked = sorted({r for a in attempts for r in a.realms} - {""})
    return ctx.finding(
        "auth-challenge-loop", f"{first.method} credentials of {key[2] or first.src} "
        f"{'refused' if severity != 'info' else 'never sent'}: " + cases[0][2],
        explanation, messages, call=ctx.session.call_of(messages[0]), severity=severity,
        rfc="RFC 3261 §22.2, §22.3, §8.1.3.5; RFC 2617 §3.2.1",
        evidence={"cases": [c[1] for c in cases], "username": users, "realm_sent": realms,
                  "realm_asked": asked, "source": first.src, "method": first.method,
                  "account": key[2] or first.src, "attempts": n, "span_s": round(t, 3),
                  "user_agent": first.sip.user_agent,
                  "status": code_of(cases), "cseq": [m.cseq_num for c in cases for m in c[3]
                                                     if m.is_request][:1]})


def code_of(cases: list[tuple]) -> list[int]:
    """The status codes a case's messages carry (the texts quote them)."""
    return sorted({m.status for case in cases for m in case[3] if m.status})


def _final(attempt: _Attempt) -> list[Message]:
    final = attempt.req.transaction.final
    return [final] if final is not None else []


def _pair(run: list[_Attempt]) -> list[Message]:
    out = []
    for attempt in run[:4]:
        out.append(attempt.req.message)
        out += _final(attempt)
    return out


# -- 10.2 reg-failed ----------------------------------------------------------------------------

REG_FAILED_TEXT = (
    "{aor} at {source} is not registered: its registration ended with {code}{phrase}{detail}. "
    "Until it registers, calls to this number cannot reach this phone. {advice}")
# what the text says instead when the capture does not settle the outcome (catalog §0, D7)
REG_UNDECIDED_TEXT = (
    "{aor} at {source} sent a REGISTER that got {code}{phrase}{detail} in this capture; whether "
    "it ended unregistered is not decided here. {advice}")
ADVICE = {
    401: "The device did not answer the password challenge: configure its SIP credentials.",
    407: "The device did not answer the password challenge: configure its SIP credentials.",
    403: "The server refuses this account: check the username, password and that the account "
         "is enabled (and not blocked by an ACL or fail2ban).",
    404: "The server does not know this account: check the user name and the domain.",
    423: "The requested registration interval is too short: raise it to the server's "
         "Min-Expires.",
    0: "The server never answered: check the network path, the server address and port.",
}


@rule("reg-failed", text=REG_FAILED_TEXT, index="security")
def registration_failed(ctx: Context) -> list[Finding]:
    skip = flagged_sources(ctx)
    bindings: dict[tuple, list[Req]] = {}
    for host, source in security_index(ctx).items():
        if host in skip:
            continue
        for req in source.requests:
            if req.message.method == "REGISTER":
                bindings.setdefault((req.message.src, req.target, _to_host(req)), []).append(req)
    out = []
    for key, reqs in bindings.items():
        reqs.sort(key=lambda r: r.ts)
        finding = _failed(ctx, key, reqs) or _short_or_lapsed(ctx, key, reqs)
        if finding is not None:
            out.append(finding)
    return out


def _to_host(req: Req) -> str:
    found = _TO_HOST.search(req.message.raw)
    return found.group(1).decode("utf-8", "replace").lower() if found else ""


def _aor(key: tuple) -> str:
    return f"{key[1]}@{key[2]}" if key[1] else key[2] or "the account"


def _failed(ctx: Context, key: tuple, reqs: list[Req]) -> Finding | None:
    last = reqs[-1]
    if last.ok:
        return None
    final = last.transaction.final
    status = last.final
    if status in CHALLENGES:
        inconclusive = not ctx.horizon_ok(last.ts, NO_CREDENTIALS_WAIT)
    elif status == 0:
        # decided once any unanswered attempt since the last success ran its whole Timer F
        # window inside the capture (RFC 3261 §17.1.2.2): a later retry cut off by the capture's
        # end does not make the failure undecided
        since = [r for r in reqs if r.ts > max((o.ts for o in reqs if o.ok), default=-1.0)]
        inconclusive = not any(r.final == 0 and ctx.horizon_ok(r.ts, TIMER_B) for r in since)
    elif status >= 300:
        inconclusive = False
    else:
        return None
    if _unregistering(last):
        return None
    phrase = final.reason if final is not None else ""
    code = str(status) if status else "no answer"
    detail = ""
    if final is not None:
        warning = final.sip.get("Warning") or final.sip.get("Reason")
        if warning:
            detail = f" ({warning})"
        if status == 423:
            min_expires = final.sip.get("Min-Expires")
            if min_expires:
                detail += f"; the server wants at least {min_expires.strip()} s"
    advice = ADVICE.get(status) or _refusal_advice(status, phrase, detail)
    if status in CHALLENGES and last.creds:
        # it did answer the challenge: the advice says what the capture shows instead
        users = sorted({c.get("username", "") for c in last.creds} - {""})
        who_sent = f" (user '{users[0]}')" if users else ""
        advice = (f"The device did answer the challenge with credentials{who_sent}, and the "
                  f"server challenged it again{' (' + phrase + ')' if phrase else ''}: the "
                  "password is wrong, or the nonce went stale and the device did not retry with "
                  "the new one.")
    explanation = fill(REG_UNDECIDED_TEXT if inconclusive else REG_FAILED_TEXT, aor=_aor(key),
                       source=key[0], code=code, phrase=f" {phrase}" if phrase else "",
                       detail=detail, advice=advice)
    messages = [r.message for r in reqs[-4:]] + ([final] if final is not None else [])
    answer = f"{code} {phrase}" if phrase else code
    title = (f"Registration of {_aor(key)} from {key[0]}: {answer} (undecided)" if inconclusive
             else f"Registration of {_aor(key)} from {key[0]} failed ({answer})")
    window = NO_CREDENTIALS_WAIT if status in CHALLENGES else TIMER_B
    return ctx.finding(
        "reg-failed", title, explanation, messages, call=ctx.session.call_of(last.message),
        severity="error", inconclusive=inconclusive, rfc="RFC 3261 §10.2, §10.3",
        undecided=ctx.undecided(last.ts, window, what="the last REGISTER") if inconclusive
        else None,
        evidence={"case": "a", "aor": _aor(key), "source": key[0], "status": status,
                  "contact": _contact_text(last.message)})


def _refusal_advice(status: int, phrase: str, detail: str) -> str:
    """Advice for a refusal the table above has no words for, from what the answer says."""
    if 400 <= status < 500 and status not in (401, 403, 404, 407, 423):
        return (f"The server found this REGISTER itself at fault (it answered {status}"
                f"{' ' + phrase if phrase else ''}): see the findings on that message for what "
                "is wrong with it, and fix the sender.")
    if status >= 500:
        return (f"The server could not serve the registration ({status}): check the registrar "
                "and what it depends on, then let the phone retry.")
    return f"The server's answer ({status}) says why; its logs give the detail."


def _short_or_lapsed(ctx: Context, key: tuple, reqs: list[Req]) -> Finding | None:
    """(b) a short granted expiry, (c) a refresh that came too late or never.  The granted
    expiry is read from the first and last accepted REGISTER, and from any refresh interval
    that looks too long (a few parses per binding, not one per refresh)."""
    oks = [r for r in reqs if r.ok and not _unregistering(r)]
    if not oks:
        return None
    first = oks[0]
    granted = granted_expiry(first)
    if granted is None or granted <= 0:
        return None
    requested = requested_expiry(first.message)
    if granted < SHORT_EXPIRY and (requested is None or granted < requested):
        return _expiry_finding(ctx, key, first, granted, "b", f"the server granted only "
                               f"{granted} s (asked for {requested or 'its default'}), "
                               f"shorter than {SHORT_EXPIRY} s")
    for req, following in zip(oks, oks[1:]):
        gap = following.ts - req.ts
        if gap > granted + LAPSE_MARGIN:
            own = granted_expiry(req) if req is not first else granted
            if own is not None and own > 0 and gap > own + LAPSE_MARGIN:
                return _expiry_finding(ctx, key, req, own, "c", f"the next registration came "
                                       f"{gap:.0f} s later, after the granted {own} s had run "
                                       "out", following)
    last = oks[-1]
    if any(r.ts > last.ts for r in reqs):
        return None
    own = granted_expiry(last) if last is not first else granted
    if own is not None and own > 0 and ctx.horizon_ok(last.ts, own + LAPSE_MARGIN):
        return _expiry_finding(ctx, key, last, own, "c", f"it was not renewed within the granted "
                               f"{own} s although the capture goes on for "
                               f"{ctx.session.end - last.ts:.0f} s: the phone went offline")
    return None


def _expiry_finding(ctx, key, req: Req, granted: int, case: str, detail: str,
                    following: Req | None = None) -> Finding:
    final = req.transaction.final
    text = (f"{_aor(key)} at {key[0]} registered, but {detail}. Between refreshes the binding "
            "lapses and calls to this number cannot reach the phone. Make the device refresh before the granted expiry (it should use the "
            "value in the 200 OK), or raise the registrar's minimum.")
    messages = [req.message] + ([final] if final else []) + ([following.message] if following
                                                            else [])
    return ctx.finding(
        "reg-failed", f"Registration of {_aor(key)} lapses: {detail}", text, messages,
        call=ctx.session.call_of(req.message), severity="warning", rfc="RFC 3261 §10.2.1, §10.3",
        evidence={"case": case, "aor": _aor(key), "source": key[0], "granted": granted,
                  "requested": requested_expiry(req.message), "minimum": SHORT_EXPIRY,
                  "gap_s": round(following.ts - req.ts, 3) if following is not None else None,
                  "capture_after_s": round(ctx.session.end - req.ts, 3)})


def _unregistering(req: Req) -> bool:
    """Expires: 0 or Contact: * (RFC 3261 §10.2.2): a deliberate un-registration (a cheap regex
    first; the full parse only when it matches)."""
    if not _ZERO_EXPIRY.search(req.message.raw):
        return False
    return requested_expiry(req.message) == 0 or (req.message.sip.get("Contact") or "").strip() \
        == "*"


def requested_expiry(message: Message) -> int | None:
    sip = message.sip
    for contact in sip.contacts:
        value = param(contact.params, "expires")
        if header_int(value) is not None:
            return header_int(value)
    return header_int(sip.get("Expires"))


def granted_expiry(req: Req) -> int | None:
    """The expiry the 2xx granted this device's Contact (its expires parameter, else Expires)."""
    final = req.transaction.final
    if final is None:
        return None
    mine = {(c.uri.user, c.uri.host, c.uri.port) for c in req.message.sip.contacts if c.uri}
    contacts = final.sip.contacts
    for contact in contacts:
        if contact.uri is not None and (contact.uri.user, contact.uri.host,
                                        contact.uri.port) in mine:
            value = param(contact.params, "expires")
            if header_int(value) is not None:
                return header_int(value)
    value = (final.sip.get("Expires") or "").strip()
    if header_int(value) is not None:
        return header_int(value)
    if len(contacts) == 1:
        value = param(contacts[0].params, "expires")
        if header_int(value) is not None:
            return header_int(value)
    return None


def _contact_text(message: Message) -> str:
    return (message.sip.get("Contact") or "").strip()


# -- reg-stale-binding (beyond the catalog: docs/fault-reference.md) ------------------------------

STALE_TEXT = (
    "The registrar's {code} to {device}'s REGISTER for {aor} lists, besides the Contact it "
    "registered, {n} older bindings of the same device that are still valid: {stale}. {consequence}")
_CONTACT_LINE = re.compile(rb"^(?:contact|m)[ \t]*:", re.I | re.M)


@rule("reg-stale-binding", text=STALE_TEXT)
def reg_stale_binding(ctx: Context) -> list[Finding]:
    """RFC 3261 §10.3 step 8: the 2xx to a REGISTER lists every current binding of the AOR.  A
    binding of the same device (same +sip.instance and reg-id, RFC 5626 §4.2; or the same user and
    host from an earlier port or transport; or a Contact this device registered earlier in the
    capture) next to the one just registered is left over: one finding per device and account.
    Cheap: only a 2xx whose bytes hold two or more Contacts is parsed (with its REGISTER, and the
    earlier REGISTERs of that one source host)."""
    registers = [t for t in ctx.session.transactions
                 if t.method == "REGISTER" and t.request is not None]
    found: dict[tuple, tuple] = {}
    earlier_of: dict[str, list] = {}
    for transaction in registers:
        final = transaction.final
        if final is None or not 200 <= final.status < 300 \
                or len(_CONTACT_LINE.findall(final.raw)) + final.raw.count(b">,") < 2:
            continue
        request = transaction.request
        mine = _contact_keys(request)
        if not mine or _unregistering_message(request):
            continue
        host = host_of(request.src)
        if host not in earlier_of:
            earlier_of[host] = sorted(((t.request.ts, key) for t in registers
                                       if host_of(t.request.src) == host
                                       for key in _contact_keys(t.request)),
                                      key=lambda pair: pair[0])
        earlier = {key for ts, key in earlier_of[host] if ts < request.ts}
        stale = _stale_bindings(request, final, mine, earlier)
        if stale:
            key = (request.src, _account(request), tuple(sorted(s[0] for s in stale)))
            first = found.get(key)
            found[key] = (first[0], first[1], first[2] + 1) if first else (transaction, stale, 1)
    return [_stale_finding(ctx, transaction, stale, times)
            for transaction, stale, times in found.values()]


def _account(message: Message) -> str:
    to = message.sip.to
    return f"{to.uri.user}@{to.uri.host}" if to.uri is not None and to.uri.user else \
        (to.uri.host if to.uri is not None else to.text)


def _unregistering_message(message: Message) -> bool:
    return bool(_ZERO_EXPIRY.search(message.raw)) and (
        requested_expiry(message) == 0 or (message.sip.get("Contact") or "").strip() == "*")


def _contact_keys(message: Message) -> dict[tuple, object]:
    """Contact URI (user, host, port, transport) -> the contact, for every Contact of a message."""
    out = {}
    for contact in message.sip.contacts:
        uri = contact.uri
        if uri is not None:
            out[(uri.user or "", uri.host.lower(), uri.port, (param(uri.params, "transport") or
                                                              "").lower())] = contact
    return out


def _stale_bindings(request: Message, final: Message, mine: dict, earlier: set) -> list[tuple]:
    """[(contact text, remaining expiry, why it is the same device)] listed in the 2xx."""
    default = header_int((final.sip.get("Expires") or "").strip())
    out = []
    for key, contact in _contact_keys(final).items():
        if key in mine:
            continue
        expires = header_int(param(contact.params, "expires"))
        expires = default if expires is None else expires
        if not expires:
            continue                 # expired or being removed: not a live binding
        why = _same_device(key, contact, mine, earlier)
        if why:
            out.append((contact.uri.text if contact.uri is not None else str(key), expires, why))
    return out


def _same_device(key: tuple, contact, mine: dict, earlier: set) -> str:
    instance = (param(contact.params, "+sip.instance") or "").strip('"<> ')
    reg_id = param(contact.params, "reg-id")
    for own_key, own in mine.items():
        own_instance = (param(own.params, "+sip.instance") or "").strip('"<> ')
        if instance and instance == own_instance and reg_id == param(own.params, "reg-id"):
            return f"the same +sip.instance {instance}"
        if key[0] == own_key[0] and key[1] == own_key[1] and key[2:] != own_key[2:]:
            return (f"the same user and host as the new Contact, from an earlier port or "
                    f"transport ({key[2] or 'default'} instead of {own_key[2] or 'default'})")
    if key in earlier:
        return "a Contact this device registered earlier in this capture"
    return ""


def _stale_finding(ctx: Context, transaction, stale: list[tuple], times: int) -> Finding:
    request, final = transaction.request, transaction.final
    aor = _account(request)
    listed = "; ".join(f"{text} (still valid for {expires} s: {why})" for text, expires, why in stale)
    consequence = (f"A proxy that rings every binding of {aor} (RFC 3261 §16.6) also sends calls "
                   f"to {'that address' if len(stale) == 1 else 'those addresses'}, where this "
                   "device no longer listens: expect delayed ringing, timed-out branches or calls "
                   "that never reach the phone. The device should remove its old binding "
                   "(Expires: 0) when its address changes, or the registrar should replace "
                   "bindings by +sip.instance (RFC 5626).")
    seen = f" The same old binding is listed in {times} answers to this device." if times > 1 else ""
    text = (f"The registrar's {final.status} {final.reason} to {device(request)}'s REGISTER for "
            f"{aor} at {clock(request)} lists, besides the Contact it registered, "
            f"{plural(len(stale), 'older binding')} of the same device that "
            f"{'is' if len(stale) == 1 else 'are'} still valid: {listed}. "
            f"{consequence}{seen}")
    finding = ctx.finding("reg-stale-binding", f"Stale registration of {aor}: "
                          f"{plural(len(stale), 'old binding')} still valid", text,
                          [request, final],
                          scope="call", rfc="RFC 3261 §10.2, §10.3 step 8; RFC 5626 §4.2",
                          evidence={"aor": aor, "device": request.src,
                                    "stale": [{"contact": t, "expires": e, "why": w}
                                              for t, e, w in stale],
                                    "answers": times})
    finding.time = final.ts
    return finding
