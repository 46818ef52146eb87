"""Call-transfer rules beyond the catalog (docs/fault-reference.md): a transfer (REFER, RFC 3515)
whose progress reports (NOTIFY with a message/sipfrag body) are refused or never sent, so the
transferor never learns how the transfer ended."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sipscope.core.analysis.context import TIMER_B, Context
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.rules.transaction import clock, covered, device
from sipscope.core.analysis.text import plural
from sipscope.core.model.message import Message
from sipscope.core.model.transaction import Transaction

XFER_TEXT = (
    "{transferor} asked {transferee} to transfer the call (REFER at {time}, accepted {code}). "
    "{what}: the transferor never learns whether the transfer worked, so it may keep its leg up, "
    "drop it too early, or show the wrong state to its user.")
# RFC 3515 §2.4.5: the NOTIFY body is a sipfrag status line, "SIP/2.0 200 OK"
_SIPFRAG_STATUS = re.compile(rb"\r?\n\r?\n\s*SIP/2\.0[ \t]+(\d{3})[ \t]*([^\r\n]*)")
_REFER_SUB_FALSE = re.compile(rb"(?im)^refer-sub[ \t]*:[ \t]*false\b")


@rule("xfer-notify-failed", text=XFER_TEXT)
def xfer_notify_failed(ctx: Context) -> Iterable[Finding]:
    refers: list[Transaction] = []
    notifies: dict[str, list[Transaction]] = {}
    for transaction in ctx.session.transactions:       # cheap: the method is already parsed
        if transaction.method == "REFER" and transaction.request is not None:
            refers.append(transaction)
        elif transaction.method == "NOTIFY" and transaction.request is not None \
                and b"refer" in transaction.request.raw.lower():
            notifies.setdefault(transaction.request.call_id, []).append(transaction)
    seen: set[tuple] = set()
    for refer in sorted(refers, key=lambda t: t.request.ts):
        request = refer.request
        key = (request.call_id, request.from_tag, request.cseq_num)
        if key in seen:
            continue                 # the same REFER relayed by a proxy: judged once, at its sender
        seen.add(key)
        accepted = next((m for m in refer.messages if 200 <= m.status < 300 and not m.copy), None)
        if accepted is None or _no_subscription(refer.request, accepted):
            continue
        reports = _reports_for(refer, accepted, notifies.get(refer.request.call_id, []))
        finding = _xfer_finding(ctx, refer, accepted, reports)
        if finding is not None:
            yield finding


def _no_subscription(request: Message, accepted: Message) -> bool:
    """RFC 4488 §4: `Refer-Sub: false` in the REFER and in its 2xx: no NOTIFY is due at all."""
    return bool(_REFER_SUB_FALSE.search(request.raw) and _REFER_SUB_FALSE.search(accepted.raw))


def _reports_for(refer: Transaction, accepted: Message,
                 candidates: list[Transaction]) -> list[Transaction]:
    """The NOTIFYs of this REFER's implicit subscription (RFC 3515 §2.4.4, RFC 6665 §4.1.2):
    sent by the REFER's recipient (its To tag is the NOTIFY's From tag), `Event: refer` with the
    REFER's CSeq number as id when given, after the REFER."""
    request = refer.request
    recipient_tag = accepted.to_tag or request.to_tag
    found = []
    for notify in candidates:
        message = notify.request
        if message.ts < request.ts or message.from_tag != recipient_tag \
                or message.to_tag != request.from_tag:
            continue
        event_ids = [v for v in message.sip.header_values("Event")
                     if v.split(";")[0].strip().lower() == "refer"]
        if not event_ids:
            continue
        ids = [part.split("=", 1)[1].strip() for v in event_ids for part in v.split(";")[1:]
               if part.strip().lower().startswith("id=")]
        if ids and str(request.cseq_num) not in ids:
            continue
        found.append(notify)
    return sorted(found, key=lambda t: t.request.ts)


def _sipfrag(message: Message) -> str:
    match = _SIPFRAG_STATUS.search(message.raw)
    if match is None:
        return ""
    return f"{match.group(1).decode()} {match.group(2).decode('utf-8', 'replace').strip()}".strip()


def _xfer_finding(ctx: Context, refer: Transaction, accepted: Message,
                  reports: list[Transaction]) -> Finding | None:
    request = refer.request
    transferee = accepted.src
    _, ua = device(ctx, transferee, (accepted,))
    refused = [(t, t.final) for t in reports if t.final is not None and t.final.status >= 400]
    delivered = [t for t in reports if t.final is not None and 200 <= t.final.status < 300]
    undecided = None
    if reports:
        if not refused or (delivered and delivered[-1].request.ts > refused[-1][0].request.ts):
            return None              # the last word reached the transferor
        parts = []
        for notify, final in refused:
            said = _sipfrag(notify.request)
            parts.append((f"the NOTIFY at {clock(notify.request)}" + (f" reporting '{said}'" if said
                          else "") + f" was refused by {final.src} with {final.status} "
                          f"{final.reason}").strip())
        what = (f"Its progress reports were refused: {'; '.join(parts)}, and no later report got "
                "through")
        title = f"Transfer outcome never reached the transferor ({plural(len(refused), 'NOTIFY')} refused)"
        highlight = [request, accepted] + [m for t, f in refused for m in (t.request, f)]
        case = "refused"
    else:
        what = (f"{transferee} sent no NOTIFY about it in the {ctx.session.end - accepted.ts:.1f} s "
                "the capture runs after (RFC 3515 §2.4.4 reports a transfer's progress by NOTIFY; "
                "RFC 6665 §4.2.2 sends the first one right after accepting)")
        if ctx.excerpt or not covered(ctx, accepted.ts, TIMER_B):
            undecided = ctx.undecided(accepted.ts, TIMER_B, what=f"the {accepted.status}")
            what = f"{transferee} sent no NOTIFY about it in this capture"
        title = "Transfer accepted, but no NOTIFY reported its outcome" + (
            " (undecided)" if undecided is not None else "")
        highlight = [request, accepted]
        case = "never sent"
    responder = transferee + (f" ({ua})" if ua else "")
    text = (f"{request.src} asked {responder} to transfer the call (REFER at {clock(request)}, "
            f"accepted {accepted.status} {accepted.reason}). {what}: ")
    text += ("so the transferor may not learn whether the transfer worked." if undecided is not None
             else "the transferor never learns whether the transfer worked, so it may keep its "
             "leg up, drop it too early, or show its user the wrong state.")
    refer_to = request.sip.header_values("Refer-To")
    finding = ctx.finding("xfer-notify-failed", title, text, highlight,
                          call=ctx.session.call(request.call_id), scope="dialog",
                          rfc="RFC 3515 §2.4.4, §2.4.5; RFC 6665 §4.2.2",
                          inconclusive=undecided is not None, undecided=undecided,
                          evidence={"case": case, "transferor": request.src,
                                    "transferee": transferee, "user_agent": ua,
                                    "accepted": accepted.status,
                                    "refer_to": refer_to[0] if refer_to else "",
                                    "notifies": len(reports),
                                    "refused": [f.status for _, f in refused],
                                    "reported": [_sipfrag(t.request) for t in reports]})
    finding.time = (refused[0][1].ts if refused else accepted.ts)
    return finding
