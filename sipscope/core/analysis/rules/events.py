"""Event-package rules beyond the catalog (docs/fault-reference.md): presence and other event
packages (RFC 6665 SUBSCRIBE, RFC 3903 PUBLISH) that the server does not support."""

from __future__ import annotations

from collections.abc import Iterable

from sipscope.core.analysis.context import Context
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.rules.transaction import clock, device
from sipscope.core.analysis.text import plural
from sipscope.core.model.message import Message, host_of

PRESENCE_TEXT = (
    "{source} asked {server} {n} times for the '{event}' event package ({methods}); every answer "
    "was {codes}: {server} does not support it. {consequence}")
# RFC 6665 §8.2.2 / §7.2.2: 489 Bad Event; RFC 3261 §21.5.2: 501 Not Implemented; §21.4.6: 405
UNSUPPORTED = (489, 501, 405)
_METHODS = ("SUBSCRIBE", "PUBLISH")
# what the user misses, per event package (RFC 3856 presence, RFC 4235 dialog (busy lamps),
# RFC 3842 message-summary, RFC 3857 presence.winfo)
_MISSED = {
    "presence": ("others' presence status will not show on this phone",
                 "this device's own presence is not published: others will not see it"),
    "dialog": ("busy-lamp (BLF) keys will not light for the watched lines", ""),
    "message-summary": ("the message-waiting (voicemail) light will not work", ""),
    "presence.winfo": ("the device cannot see who watches its presence", ""),
}


@rule("evt-presence-unsupported", text=PRESENCE_TEXT)
def evt_presence_unsupported(ctx: Context) -> Iterable[Finding]:
    """One finding per source and event package: every SUBSCRIBE/PUBLISH of that package answered
    489/501/405 (none accepted), or relayed back to the very element that sent it."""
    by_key: dict[tuple[str, str], list[tuple[Message, Message | None]]] = {}
    accepted: set[tuple[str, str]] = set()
    sent_by: dict[tuple, Message] = {}
    origin: dict[int, Message] = {}
    for transaction in ctx.session.transactions:
        request = transaction.request
        if transaction.method not in _METHODS or request is None:
            continue
        key = (host_of(request.src), _event(request))
        final = transaction.final
        first = sent_by.setdefault((request.call_id, request.from_tag, request.cseq_num,
                                    request.method), request)
        if first is not request:     # the same request again: relayed by a proxy
            if host_of(request.dst) == host_of(first.src):     # ... back to its own sender
                by_key.setdefault((host_of(first.src), _event(first)), []).append((first, request))
            elif final is not None and final.status in UNSUPPORTED:
                origin[id(first)] = final    # the element that refused it, not the relay
            continue                 # a relayed copy is no request of the relay's own
        if final is None:
            continue
        if final.status in UNSUPPORTED:
            by_key.setdefault(key, []).append((request, final))
        elif 200 <= final.status < 300:
            accepted.add(key)
    for key, refusals in by_key.items():
        if key not in accepted:
            refusals = [(request, origin.get(id(request), answer)) for request, answer in refusals]
            yield _presence_finding(ctx, key, refusals)


def _event(request: Message) -> str:
    """The event package (RFC 6665 §8.2.1 Event header, without parameters); PUBLISH and SUBSCRIBE
    without one mean 'presence' only by convention, so name it as missing."""
    values = request.sip.header_values("Event")     # compact form o is folded in (names.py)
    return values[0].split(";")[0].strip().lower() if values else "(no Event header)"


def _presence_finding(ctx: Context, key: tuple[str, str],
                      refusals: list[tuple[Message, Message | None]]) -> Finding:
    source_host, event = key
    first_request = refusals[0][0]
    source = first_request.src
    answers = [answer for _, answer in refusals]
    back = [answer for answer in answers if answer is not None and answer.is_request]
    finals = [answer for answer in answers if answer is not None and not answer.is_request]
    server = (finals[0].src if finals else back[0].src)
    _, ua = device(ctx, server, finals[:1] or back[:1])
    methods = sorted({request.method for request, _ in refusals})
    codes = sorted({f"{m.status} {m.reason}".strip() for m in finals})
    seen, own = _MISSED.get(event, (f"notifications of the '{event}' package will not arrive", ""))
    consequence = seen if "SUBSCRIBE" in methods else (own or seen)
    said = []
    if finals:
        said.append(f"every answer was {' / '.join(codes)}")
    if back:
        said.append(f"{plural(len(back), 'request')} came back to {source_host} itself "
                    f"({back[0].src} relayed it there at {clock(back[0])})")
    allow = [v for m in finals for v in m.sip.header_values("Allow-Events")]
    allowed = f" It lists the packages it does support: {', '.join(dict.fromkeys(allow))}." \
        if allow else ""
    server_text = server + (f" ({ua})" if ua else "")
    text = (f"{source} asked {server_text} {plural(len(refusals), 'time')} for the '{event}' event "
            f"package ({', '.join(methods)}, first at {clock(first_request)}); "
            f"{' and '.join(said)}: presence/events of this kind are not supported there.{allowed} "
            f"So {consequence}. Turn the feature off on {source_host} for this server, or enable "
            "the event package on the server; this is no message syntax problem.")
    severity = "warning" if "SUBSCRIBE" in methods else "info"
    highlight = [m for pair in refusals[:6] for m in pair if m is not None]
    finding = ctx.finding("evt-presence-unsupported",
                          f"'{event}' not supported by {server} ({plural(len(refusals), 'request')} "
                          f"from {source_host})", text, highlight, severity=severity,
                          scope="source",
                          rfc="RFC 6665 §7.2.2, §8.2.2; RFC 3903 §6; RFC 3261 §21.5.2",
                          source=source_host,
                          evidence={"source": source, "event": event, "server": server,
                                    "user_agent": ua, "methods": methods, "codes": codes,
                                    "requests": len(refusals), "routed_back": len(back),
                                    "allow_events": allow})
    finding.time = first_request.ts
    return finding
