"""SDP and media negotiation fault rules (catalog §8): codecs, answers, DTMF, hold, 183, o= version.

Offers and answers are paired by media/calls.py (D9, per To tag and per hop); the same exchange
seen on two legs of a proxied call gives one finding per call, with both legs' messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sipscope.core.analysis.context import Context
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.text import clock, fill, plural
from sipscope.core.media.attach import norm_ip, split_addr
from sipscope.core.media.calls import (CALLEE, CALLER, Desc, Exchange, MLine, media_index,
                                       sdp_body)
from sipscope.core.media.calls import fingerprint as normalised
from sipscope.core.model.call import Call
from sipscope.core.model.message import Message
from sipscope.core.sip.sdp import STATIC_PAYLOAD_TYPES

# formats that carry no voice: left out of the codec comparison (§8.1 d)
NON_CODECS = frozenset({"telephone-event", "cn", "red", "ulpfec", "comfort-noise", "rtx",
                        "flexfec", "ulpfec"})
# compressed voice codecs: in-band DTMF tones are unreliable with them (§8.3 b)
COMPRESSED = frozenset({"g729", "g729a", "g729b", "g723", "g7231", "g723.1", "gsm", "ilbc",
                        "opus", "amr", "amr-wb", "speex", "silk", "g726-32", "g728", "lpc"})
FRIENDLY = {"pcmu": "G.711 u-law (PCMU)", "pcma": "G.711 A-law (PCMA)", "g729": "G.729",
            "g722": "G.722", "opus": "Opus", "telephone-event": "telephone-event (DTMF)"}
DIRECTION_ANSWERS = {"sendonly": ("recvonly", "inactive"), "recvonly": ("sendonly", "inactive"),
                     "inactive": ("inactive",)}       # RFC 3264 §6.1
HOLD_ENDED_AFTER = 300.0                              # §8.4 (c)
EARLY_MEDIA_WAIT = 2.0                                # §8.5 (c)
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}






def who(ctx: Context, message: Message | None) -> str:
    """'the device at 1.2.3.4:5060 (UA)' for the sender of a message (its own UA header first)."""
    if message is None:
        return "the far end"
    ua = message.sip.user_agent
    return f"the device at {message.src} ({ua})" if ua else f"the device at {message.src}"


def codec_list(line: MLine | None) -> str:
    if line is None:
        return "nothing"
    labels = [FRIENDLY.get(f.name, f.label()) for f in line.formats]
    return ", ".join(labels) if labels else "no formats"


def worst(severities: Iterable[str]) -> str:
    return min(severities, key=lambda s: SEVERITY_RANK.get(s, 9), default="info")


def exchanges_by_call(ctx: Context) -> Iterable[tuple[Call, list[Exchange]]]:
    index = media_index(ctx.session)
    for call in ctx.session.calls:
        exchanges = index.call_exchanges(call)
        if exchanges:
            yield call, exchanges


def _same_format(a, b) -> bool:
    """§8.1 (d): static payload types compare by number, dynamic ones by name, rate, channels."""
    if a.pt is None or b.pt is None:
        return a.name == b.name
    if a.pt < 96 and b.pt < 96 and not (a.name and b.name and a.name != b.name):
        return a.pt == b.pt
    return a.name == b.name and (a.rate == b.rate or not a.rate or not b.rate) \
        and a.channels == b.channels


def voice(line: MLine) -> list:
    return [f for f in line.formats if f.name not in NON_CODECS]


def common_formats(offer: MLine, answer: MLine) -> list:
    return [f for f in voice(answer) if any(_same_format(f, o) for o in voice(offer))]


class Collector:
    """One finding per call and key: later occurrences (other legs) only add their messages."""

    def __init__(self) -> None:
        self.findings: dict[tuple, Finding] = {}

    def add(self, key: tuple, make, messages: list[Message]) -> None:
        found = self.findings.get(key)
        if found is None:
            self.findings[key] = make()
        else:
            found.messages = sorted(set(found.messages) | {m.index for m in messages if m})

    def result(self) -> list[Finding]:
        return list(self.findings.values())


# -- 8.1 sdp-no-common-codec --------------------------------------------------------------------

NO_CODEC_TEXT = (
    "The two ends could not agree on a voice format (codec). {offerer} offered {offered} and "
    "{answerer} accepts only {accepted}, so the call was refused ({code}). The customer gets a "
    "fast busy or an immediate failure right after dialling. Enable at least one shared codec on "
    "both sides (G.711 μ-law/A-law is the safe common choice), or enable transcoding on the PBX.")
UNSUPPORTED_BODY_TEXT = (
    "{answerer} did not understand the kind of attachment in the request ({content_type}); check "
    "for multipart or compressed bodies that it cannot read.")
REJECT_CODES = (488, 606)


@rule("sdp-no-common-codec", text=NO_CODEC_TEXT + " / 415: " + UNSUPPORTED_BODY_TEXT, index="media")
def no_common_codec(ctx: Context) -> list[Finding]:
    out = Collector()
    index = media_index(ctx.session)
    for call in ctx.session.calls:
        for transaction in call.transactions:
            final = transaction.final
            request = transaction.request
            if final is None or request is None:
                continue
            if final.status in REJECT_CODES and transaction.method in ("INVITE", "UPDATE"):
                _rejected(ctx, out, index, call, request, final)
            elif final.status == 415 and request.body_length > 0:
                _unsupported(ctx, out, call, request, final)
        for exchange in index.call_exchanges(call):
            if exchange.complete and not exchange.preview:
                _no_shared(ctx, out, call, exchange)
    return out.result()


def _rejected(ctx, out: Collector, index, call: Call, request: Message, final: Message) -> None:
    reinvite = bool(request.to_tag) or request.method == "UPDATE"
    offer = index.desc(request)
    t38 = offer is not None and any(m.kind == "image" and not m.rejected for m in offer.media)
    severity = "warning" if reinvite or t38 else "error"
    audio = offer.audio() if offer is not None else None
    answer = index.desc(final)
    accepted = codec_list(answer.audio()) if answer is not None and answer.audio() else \
        "none of them"
    warnings = final.sip.header_values("Warning")
    notes = []
    if warnings:
        notes.append(f"Its Warning header says: {'; '.join(warnings)}.")
    if audio is not None and "SAVP" in audio.proto.upper():
        notes.append(f"The offer asks for encrypted media ({audio.proto}); a {final.status} often "
                     "means the far end does not do SRTP (or insists on it), not a codec problem.")
    if t38:
        notes.append("The request asked to switch to T.38 fax; the call stays on audio.")
    elif reinvite:
        notes.append("This was a mid-call change (re-INVITE/UPDATE): the call keeps its old media "
                     "(RFC 3261 §14.1).")
    code = f"{final.status} {final.reason}".strip()
    offerer = who(ctx, request)
    explanation = fill(NO_CODEC_TEXT, offerer=offerer[:1].upper() + offerer[1:],
                       answerer=who(ctx, final),
                       offered=codec_list(audio) if audio else
                       ("T.38 fax (m=image udptl)" if t38 else "its media"), accepted=accepted,
                       code=code)
    explanation = explanation.replace("accepts only none of them", "accepted none of them")
    if reinvite or t38:
        # a refused mid-call offer leaves the call up (RFC 3261 §14.1): no "fast busy"
        explanation = explanation.replace("so the call was refused", "so the change was refused")
        explanation = explanation.replace(" " + _FAST_BUSY, "")
        if t38 and audio is None:
            explanation = explanation.replace(
                "The two ends could not agree on a voice format (codec).",
                "The far end refused to switch this call to T.38 fax.")
            explanation = explanation.replace(_CODEC_ADVICE, (
                "If fax must work here, enable T.38 on that device, or let the fax travel as "
                "G.711 audio (pass-through)."))
    retry = None if reinvite or t38 else _later_answer(call, request)
    if not (reinvite or t38):
        if retry is not None:
            explanation = explanation.replace(
                _FAST_BUSY, f"The caller then tried again and the call was answered "
                            f"({retry.label} at {clock(retry)}), so the customer only saw a delay.")
    if notes:
        explanation += " " + " ".join(notes)
    key = ("reject", request.method, request.cseq_num, final.status)
    out.add((call.call_id,) + key, lambda: ctx.finding(
        "sdp-no-common-codec", f"{request.method} refused with {code}: no common media format",
        explanation, [request, final], call=call, severity=severity,
        rfc="RFC 3261 §13.3.1.3, §21.4.26; RFC 3264 §6.1",
        evidence={"case": "a", "code": final.status, "offered": audio.codec_labels() if audio
                  else [], "warning": warnings, "reinvite": reinvite, "t38": t38,
                  "offerer": offerer, "answerer": who(ctx, final),
                  "retry": retry.label if retry is not None else None,
                  "retry_ts": retry.ts if retry is not None else None}),
        [request, final])


_FAST_BUSY = ("The customer gets a fast busy or an immediate failure right after dialling.")
_CODEC_ADVICE = ("Enable at least one shared codec on both sides (G.711 μ-law/A-law is the safe "
                 "common choice), or enable transcoding on the PBX.")


def _later_answer(call: Call, request: Message) -> Message | None:
    """A 2xx to a later initial INVITE of the same call (a retry after the refusal)."""
    for transaction in call.transactions:
        later = transaction.request
        final = transaction.final
        if transaction.method == "INVITE" and later is not None and not later.to_tag \
                and later.ts > request.ts and final is not None and 200 <= final.status < 300:
            return final
    return None


def _unsupported(ctx, out: Collector, call: Call, request: Message, final: Message) -> None:
    content_type = request.sip.get("Content-Type") or "(none)"
    encoding = request.sip.get("Content-Encoding")
    if encoding:
        content_type += f", Content-Encoding {encoding}"
    severity = "error" if request.method == "INVITE" else "warning"
    explanation = fill(UNSUPPORTED_BODY_TEXT, answerer=who(ctx, final), content_type=content_type)
    out.add((call.call_id, "415", request.method, request.cseq_num), lambda: ctx.finding(
        "sdp-no-common-codec", f"{request.method} refused with 415 Unsupported Media Type",
        explanation, [request, final], call=call, severity=severity, rfc="RFC 3261 §21.4.13",
        evidence={"case": "b", "content_type": content_type, "answerer": who(ctx, final)}),
        [request, final])


def _no_shared(ctx, out: Collector, call: Call, exchange: Exchange) -> None:
    offer, answer = exchange.offer_desc, exchange.answer_desc
    active = [i for i, m in enumerate(offer.media) if not m.rejected]
    if not active or not answer.media:
        return
    all_rejected = all(i < len(answer.media) and answer.media[i].rejected for i in active)
    problems = []
    if all_rejected:
        problems.append(("c", active[0], "every offered media line was rejected (port 0)"))
    else:
        for i in active:
            if i >= len(answer.media):
                continue
            a, o = answer.media[i], offer.media[i]
            if a.rejected or a.direction == "inactive" or a.kind != o.kind:
                continue
            if a.is_rtp and voice(o) and not common_formats(o, a):
                problems.append(("d", i, f"the answer's {a.kind} formats share none with the offer"))
            elif not a.is_rtp and o.formats and a.formats and \
                    not {f.name for f in a.formats} & {f.name for f in o.formats}:
                problems.append(("d", i, f"the answer's {a.kind} formats share none with the offer"))
    if not problems:
        return
    case, i, what = problems[0]
    severity = "error" if exchange.kind == "initial" else "warning"
    o_line = offer.media[i]
    a_line = answer.media[i] if i < len(answer.media) else None
    offerer = who(ctx, exchange.offer)
    explanation = (f"The two ends could not agree on a voice format (codec). "
                   f"{offerer[:1].upper() + offerer[1:]} offered {codec_list(o_line)} and "
                   f"{who(ctx, exchange.answer)} answered "
                   f"{codec_list(a_line) if a_line and not a_line.rejected else 'none'} "
                   f"({what}, in its {exchange.answer.label}).")
    outcome, outcome_evidence = _pair_outcome(ctx, call, exchange)
    explanation += " " + outcome
    if o_line.is_rtp and a_line is not None and o_line.proto.upper() != a_line.proto.upper():
        explanation += (f" The transport profiles differ ({o_line.proto} offered, {a_line.proto} "
                        "answered): this may be an encrypted-media (SRTP) mismatch.")
    messages = [exchange.offer, exchange.answer]
    key = (call.call_id, "pair", exchange.kind, case, tuple(o_line.codec_labels()),
           tuple(a_line.codec_labels()) if a_line else ())
    out.add(key, lambda: ctx.finding(
        "sdp-no-common-codec", f"No common codec: offer {codec_list(o_line)}, answer "
        f"{codec_list(a_line) if a_line and not a_line.rejected else 'rejected'}",
        explanation, messages, call=call, severity=severity, rfc="RFC 3264 §6.1",
        evidence={"case": case, "offered": o_line.codec_labels(),
                  "answered": a_line.codec_labels() if a_line else [], "kind": exchange.kind,
                  "offerer": offerer, "answerer": who(ctx, exchange.answer),
                  **outcome_evidence}),
        messages)


def voice_streams(streams) -> list:
    """Streams that carry voice: not mostly RFC 4733 event packets (§2.3 4-byte payloads)."""
    out = []
    for stream in streams:
        pt = stream.main_pt
        stat = stream.pt_stats.get(pt) if pt is not None else None
        if stat is not None and stat.event_like < 0.5 * stat.count:
            out.append(stream)
    return out


def flowing_codecs(ctx: Context, streams) -> list[str]:
    """The codecs that actually flow in these streams: each stream's main payload type named
    through the SDP of the side it goes to (RFC 3264 §5.1), else the RFC 3551 static table."""
    index = media_index(ctx.session)
    out = []
    for stream in sorted(streams, key=lambda s: -s.packets):
        pt = stream.main_pt
        if pt is None:
            continue
        name = index.pt_names(stream).get(pt)
        if name is None:
            static = STATIC_PAYLOAD_TYPES.get(pt)
            name = f"{static[0]}/{static[1]}" if static else f"payload type {pt}"
        if name not in out:
            out.append(name)
    return out


def _pair_outcome(ctx: Context, call: Call, exchange: Exchange) -> tuple[str, dict]:
    """What the capture shows happened after a codec-less answer: the consequence clause and
    advice of sdp-no-common-codec (c)/(d), chosen from the call's final response and media."""
    advice = _CODEC_ADVICE
    if exchange.kind != "initial":
        return ("This was a mid-call change; the call may keep its old media (RFC 3261 §14.1). "
                + advice, {})
    final = exchange.transaction.final
    if final is not None and final.status >= 300:
        return (f"The call then ended with {final.label}: the customer gets a fast busy or an "
                "immediate failure. " + advice, {"final": final.status})
    outcome, evidence = call_outcome(ctx, call, exchange, "Yet this call",
                                     "the far end tolerated the broken answer; a stricter device "
                                     "would drop the call or play noise")
    return (f"{outcome} {advice}" if outcome else advice), evidence


def call_outcome(ctx: Context, call: Call, exchange: Exchange, head: str,
                 tolerated: str) -> tuple[str, dict]:
    """One sentence on what the capture shows after an initial offer/answer: answered or not,
    and the audio that flowed (the stream table's packets, the codec the RTP carries)."""
    final = exchange.transaction.final
    if exchange.kind != "initial" or final is None or final.status >= 300:
        return "", {}
    ms = next((m for m in media_index(ctx.session).call_sessions(call)
               if exchange in m.exchanges), None)
    forward = voice_streams(ms.to_callee if ms else ())
    backward = voice_streams(ms.to_caller if ms else ())
    evidence = {"final": final.status,
                "packets_to_callee": sum(s.packets for s in forward),
                "packets_to_caller": sum(s.packets for s in backward)}
    head = f"{head} was answered ({final.label})"
    if forward and backward:
        codecs = flowing_codecs(ctx, forward + backward)
        evidence["codecs_flowing"] = codecs
        return (f"{head} and audio flowed both ways as {' and '.join(codecs)} "
                f"({evidence['packets_to_callee']:,} packets to the callee, "
                f"{evidence['packets_to_caller']:,} to the caller): {tolerated}.", evidence)
    if forward or backward:
        codecs = flowing_codecs(ctx, forward or backward)
        evidence["codecs_flowing"] = codecs
        toward = "callee" if forward else "caller"
        return (f"{head}; audio flowed only toward the {toward} "
                f"({sum(s.packets for s in forward or backward):,} packets, "
                f"{' and '.join(codecs)}), nothing came back.", evidence)
    if not getattr(ctx.session.media, "streams", None):
        return (f"{head}; this capture holds no RTP, so it cannot show which codec was used or "
                "whether audio flowed.", evidence)
    return (f"{head}; no RTP of this call is in the capture, so it cannot show which codec "
            "was used.", evidence)


# -- 8.2 sdp-answer-invalid ---------------------------------------------------------------------

ANSWER_INVALID_TEXT = (
    "The far end's reply describing how to carry the media does not fit the offer it answers "
    "({detail}). Devices react unpredictably: no audio, missing video, or a call dropped right "
    "after answer. This is a bug in {answerer} ({ua}); save the two highlighted bodies for the "
    "vendor.")


ODDITY_TEXT = (
    "{answerer} answered the media offer in a permitted but unusual way ({detail}). RFC 3264 "
    "§6.1 allows it, but formats the offer did not list cannot be used until they are offered, "
    "and a renumbered payload type confuses some devices. Worth knowing if audio or DTMF fails.")


@rule("sdp-answer-invalid", text=ANSWER_INVALID_TEXT + " / info: " + ODDITY_TEXT, index="media")
def answer_invalid(ctx: Context) -> list[Finding]:
    out = Collector()
    for call, exchanges in exchanges_by_call(ctx):
        for exchange in exchanges:
            if not exchange.complete or exchange.preview:
                continue
            problems = answer_problems(exchange.offer_desc, exchange.answer_desc)
            if not problems:
                continue
            severity = worst(s for s, _, _ in problems)
            detail = "; ".join(text for _, _, text in problems)
            answer = exchange.answer
            ua = answer.sip.user_agent or "unknown software"
            messages = [exchange.offer, answer]
            explanation = fill(ANSWER_INVALID_TEXT, detail=detail,
                               answerer=f"the device at {answer.src}", ua=ua)
            outcome, facts = call_outcome(ctx, call, exchange, "Here the call",
                                          "the offerer coped with it; a stricter device may not")
            if severity == "info":
                explanation = fill(ODDITY_TEXT, detail=detail, answerer=who(ctx, answer))
                cases = {c for _, c, _ in problems}
                # only the clauses of the oddities found (issue 14 pattern 1)
                if "d" not in cases:
                    explanation = explanation.replace(
                        ", and a renumbered payload type confuses some devices", "")
                if "f" not in cases:
                    explanation = explanation.replace(
                        " but formats the offer did not list cannot be used until they are "
                        "offered, and", " but")
                if cases == {"g"}:
                    # RFC 8866 §6.6: a dynamic payload type needs its a=rtpmap; read as the
                    # offer's format of that number, which most devices do
                    explanation = (fill("{answerer} answered the media offer, but {detail}. ",
                                        answerer=who(ctx, answer), detail=detail) + "RFC "
                                   "8866 §6.6 wants an a=rtpmap for every dynamic payload type; "
                                   "most devices read it as the offer's format of that number, a "
                                   "strict one may not use it. Worth knowing if DTMF or that "
                                   "format fails.")
            elif outcome:
                # the catalog's consequences are possibilities; what happened here is chosen
                explanation = explanation.replace(
                    "Devices react unpredictably: no audio, missing video, or a call dropped right "
                    "after answer.", "Devices react unpredictably (no audio, missing video, a "
                    "call dropped right after answer). " + outcome)
            key = (call.call_id, detail)
            out.add(key, lambda: ctx.finding(
                "sdp-answer-invalid", f"SDP answer does not fit its offer: {problems[0][2]}",
                explanation, messages, call=call, severity=severity, rfc="RFC 3264 §6, §6.1",
                evidence={"cases": [c for _, c, _ in problems], "detail": detail,
                          "answerer": who(ctx, answer), "ua": ua,
                          **(facts if severity != "info" else {})}), messages)
    return out.result()


def answer_problems(offer: Desc, answer: Desc) -> list[tuple[str, str, str]]:
    """(severity, sub-case, text) for each way the answer breaks RFC 3264 §6 / §6.1."""
    problems = []
    if len(offer.media) != len(answer.media):
        problems.append(("error", "a", f"{plural(len(answer.media), 'media line')} in answer "
                                       f"to {len(offer.media)}"))
    for i, (o, a) in enumerate(zip(offer.media, answer.media), start=1):
        if o.kind != a.kind or (not o.rejected and not a.rejected
                                and o.proto.upper() != a.proto.upper()):
            problems.append(("error", "b", f"media line {i} is {a.kind} {a.proto} in answer to "
                                           f"{o.kind} {o.proto}"))
            continue
        if o.rejected or a.rejected:
            continue
        allowed = DIRECTION_ANSWERS.get(o.direction)
        if allowed and a.direction not in allowed:
            problems.append(("error", "c", f"'{a.direction}' in answer to a '{o.direction}' offer "
                                           f"on media line {i}"))
        if not a.is_rtp:
            continue
        for f in a.formats:
            if f.pt is None or f.pt < 96 or not f.name:
                continue
            same = [g for g in o.formats if g.name == f.name and g.rate == f.rate]
            if same and all(g.pt != f.pt for g in same):
                problems.append(("info", "d", f"{f.label()} answered as payload type {f.pt}, "
                                              f"offered as {same[0].pt}"))
        # a dynamic payload type listed without its a=rtpmap but offered under the same number
        # is that offered format (the common reading); named, not called an addition
        bare = [f for f in a.formats if f.pt is not None and f.pt >= 96 and not f.name
                and any(g.pt == f.pt and g.name for g in o.formats)]
        for f in bare:
            named = next(g for g in o.formats if g.pt == f.pt and g.name)
            problems.append(("info", "g", f"the answer lists payload type {f.pt} without an "
                                          f"a=rtpmap (the offer's {f.pt} is {named.label()})"))
        extra = [f.label() for f in a.formats if f not in bare
                 and not any(_same_format(f, g) for g in o.formats)
                 and not any(g.name == f.name for g in o.formats)]
        if extra and (common_formats(o, a) or not voice(o)):    # else sdp-no-common-codec says it
            problems.append(("info", "f", f"the answer adds formats the offer did not list "
                                          f"({', '.join(extra)})"))
    if offer.timing and answer.timing and offer.timing != answer.timing:
        problems.append(("warning", "e", f"t={answer.timing[0]} in answer to t={offer.timing[0]}"))
    return problems


# -- 8.3 sdp-dtmf-not-negotiated ----------------------------------------------------------------

DTMF_TEXT = (
    "Key presses (DTMF) in this call cannot be sent the usual digital way: {reason}. Customers "
    "report menus, voicemail or PIN prompts that ignore their button presses, or register the "
    "wrong digits. Set the same DTMF mode on both sides: RFC 2833/4733 'telephone-event' is the "
    "common choice; otherwise use SIP INFO, or in-band tones with G.711 only.")
TE = "telephone-event"
DTMF_CONSEQUENCE = ("Customers report menus, voicemail or PIN prompts that ignore their button "
                    "presses, or register the wrong digits.")
NO_DTMF_NEED_TEXT = (
    "Neither side offered 'telephone-event' (RFC 4733), the usual way to send key presses "
    "(DTMF) in the audio stream. No DTMF need shows in this capture ({signs}), so nothing here "
    "failed; it matters only if calls like this one must reach a menu, voicemail or PIN prompt. "
    "{fallback}")


@rule("sdp-dtmf-not-negotiated", text=DTMF_TEXT, index="media")
def dtmf_not_negotiated(ctx: Context) -> list[Finding]:
    index = media_index(ctx.session)
    out = []
    for call in ctx.session.calls:
        sessions = index.call_sessions(call)
        found = None
        for ms in sessions:
            pairs = [e for e in ms.completed() if e.kind == "initial"] or ms.completed()
            if not pairs:
                continue
            flowing = flowing_codecs(ctx, voice_streams((*ms.to_callee, *ms.to_caller)))
            reasons = _dtmf_reasons(call, ms, pairs[0], flowing)
            if reasons:
                found = (ms, pairs[0], reasons)
                break
        if found is None:
            continue
        ms, exchange, reasons = found
        severity = worst(r[0] for r in reasons)
        reason = "; also ".join(r[2] for r in reasons)
        messages = [exchange.offer, exchange.answer]
        facts = {"codecs": _voice_codecs(ctx, ms, exchange)}
        for r in reasons:
            messages += r[3]
            facts.update(r[4] if len(r) > 4 else {})
        title = f"DTMF (telephone-event) not negotiated: {reasons[0][2]}"
        explanation = fill(DTMF_TEXT, reason=reason)
        if severity == "info" and [r[1] for r in reasons] == ["b"]:
            # catalog 8.3 (b) at info: no DTMF need is evident, so no failure is claimed
            codecs = _voice_codecs(ctx, ms, exchange)
            compressed = [c for c in codecs if c.split("/")[0].lower() in COMPRESSED]
            title = "DTMF: neither side offered telephone-event (no DTMF need in this capture)"
            if compressed:
                fallback = (f"Then SIP INFO would have to carry the digits: in-band tones are "
                            f"unreliable with {' and '.join(compressed)}, used in this call.")
            elif codecs:
                fallback = (f"Then in-band tones would carry the digits: the call uses "
                            f"{' and '.join(codecs)}, which passes them intact; or SIP INFO.")
            else:
                fallback = "Then SIP INFO or in-band tones would have to carry the digits."
            explanation = fill(NO_DTMF_NEED_TEXT, signs=(
                "no RFC 4733 event packets and no SIP INFO carrying digits" if has_rtp(ctx)
                else "no SIP INFO carrying digits; it holds no RTP"), fallback=fallback)
        elif any(r[1] == "d" for r in reasons):
            explanation = explanation.replace(DTMF_CONSEQUENCE, (
                "Key presses were sent in this call, so menus, voicemail or PIN prompts on the "
                "far side may have ignored or misread them."))
        else:
            explanation = explanation.replace(DTMF_CONSEQUENCE, (
                "If this call had to reach a menu, voicemail or PIN prompt, the key presses would "
                "be lost or misread there."))
        out.append(ctx.finding(
            "sdp-dtmf-not-negotiated", title,
            explanation, [m for m in messages if m is not None], call=call,
            severity=severity, rfc="RFC 4733 §2.3, §7.1; RFC 3264 §6.1",
            evidence={"cases": [r[1] for r in reasons],
                      "offered": exchange.offer_desc.audio().pts(TE),
                      "answered": exchange.answer_desc.audio().pts(TE), **facts}))
    return out


def has_rtp(ctx: Context) -> bool:
    return bool(getattr(ctx.session.media, "streams", None))


def _voice_codecs(ctx: Context, ms, exchange: Exchange) -> list[str]:
    """The voice codecs of a call: those that flow (RTP payload types named through the SDP,
    busiest first), else the first one the answer shares with the offer."""
    flowing = flowing_codecs(ctx, voice_streams((*ms.to_callee, *ms.to_caller)))
    if flowing:
        return flowing
    offer, answer = exchange.offer_desc.audio(), exchange.answer_desc.audio()
    chosen = next(iter(common_formats(offer, answer)), None) or next(iter(voice(answer)), None)
    return [chosen.label()] if chosen is not None else []


def chosen_format(offer: MLine, answer: MLine, flowing: list[str] | None = None):
    """The voice format of a call: the answer's format whose label is the codec the RTP carries
    (issue 14: name what flows), else the answer's first format shared with the offer."""
    candidates = common_formats(offer, answer) or voice(answer)
    for label in flowing or ():
        for f in candidates:
            if f.label() == label:
                return f
    return next(iter(candidates), None)


def _dtmf_reasons(call: Call, ms, exchange: Exchange, flowing: list[str] | None = None
                  ) -> list[tuple]:
    """(severity, case, text, extra messages[, evidence facts]) per §8.3 sub-case found."""
    offer, answer = exchange.offer_desc.audio(), exchange.answer_desc.audio()
    if offer is None or answer is None or offer.rejected or answer.rejected:
        return []
    offered, answered = offer.pts(TE), answer.pts(TE)
    # the answer's bare dynamic payload type (no a=rtpmap) that the offer named telephone-event
    answered = answered or {f.pt for f in answer.formats
                            if f.pt in offered and not f.name} or answered
    reasons = []
    if offered and not answered:
        reasons.append(("warning", "a", "the far end's answer dropped 'telephone-event'", []))
    elif not offered and not answered:
        chosen = chosen_format(offer, answer, flowing)
        compressed = chosen is not None and chosen.name in COMPRESSED
        if compressed and not _info_dtmf(call):
            reasons.append(("warning", "b", f"neither side offered it, and the call uses "
                                            f"{chosen.label()}, which distorts in-band tones", [],
                            {"chosen": chosen.label()}))
        else:
            reasons.append(("info", "b", "neither side offered it (in-band tones or SIP INFO may "
                                         "still work)", []))
    else:
        chosen = chosen_format(offer, answer, flowing) if common_formats(offer, answer) else None
        rates = {f.rate for f in answer.formats if f.name == TE}
        if chosen is not None and chosen.rate and rates and chosen.rate not in rates:
            reasons.append(("warning", "c", f"telephone-event is agreed only at "
                                            f"{'/'.join(str(r) for r in sorted(rates))} Hz while "
                                            f"the voice codec {chosen.label()} runs at "
                                            f"{chosen.rate} Hz", [],
                            {"chosen": chosen.label(), "rates": sorted(rates)}))
    event_reason = _event_packets(ms, exchange, bool(offered and answered))
    if event_reason:
        reasons.append(event_reason)
    return reasons


def _event_packets(ms, exchange: Exchange, negotiated: bool) -> tuple | None:
    """§8.3 (d): event-like RTP packets (4-byte payload, RFC 4733 §2.3) on a payload type that
    the receiving side never mapped to telephone-event."""
    for toward in (CALLEE, CALLER):
        desc = exchange.desc_of(toward)
        line = desc.audio() if desc is not None else None
        allowed = set(line.pts(TE)) if line is not None and negotiated else set()
        voice_pts = {f.pt for f in voice(line)} if line is not None else set()
        for stream in ms.streams(toward):
            for pt, stat in stream.pt_stats.items():
                if stat.event_like < 3 or stat.event_like < 0.9 * stat.count:
                    continue
                if pt in allowed or (pt in voice_pts and pt < 96):
                    continue
                side = "the callee" if toward == CALLEE else "the caller"
                return ("warning", "d", f"{stat.event_like} key-press (RFC 4733 event) packets "
                                        f"were sent to {side} with payload type {pt}, which was "
                                        f"never agreed for telephone-event", [],
                        {"event_packets": stat.event_like, "event_pt": pt})
    return None


def _info_dtmf(call: Call) -> bool:
    for transaction in call.transactions:
        request = transaction.request
        if transaction.method == "INFO" and request is not None and request.body_length > 0:
            if "dtmf" in request.sip.content_type:
                return True
    return False


# -- 8.4 sdp-hold -------------------------------------------------------------------------------

HOLD_TEXT = (
    "At {t}, {side} put the call on hold (its offer said it would only send, or neither send nor "
    "receive, audio){legacy}. This is normal, but if customers report 'no audio after resume' or "
    "'calls drop while on hold', check that the resume offer arrived and was answered, and that "
    "the PBX's RTP-inactivity timeout does not hang up held calls.")


@rule("sdp-hold", text=HOLD_TEXT, index="media")
def hold(ctx: Context) -> list[Finding]:
    out = Collector()
    index = media_index(ctx.session)
    for call in ctx.session.calls:
        for ms in index.call_sessions(call):
            held: tuple[Exchange, MLine] | None = None
            for exchange in ms.completed():
                if exchange.kind == "initial":
                    continue
                line = _held_line(exchange.offer_desc)
                if held is None and line is not None:
                    held = (exchange, line)
                elif held is not None and line is None and _resumes(exchange.offer_desc):
                    _hold_finding(ctx, out, call, ms, held, exchange)
                    held = None
            if held is not None:
                _hold_finding(ctx, out, call, ms, held, None)
    return out.result()


def _held_line(desc: Desc | None) -> MLine | None:
    if desc is None:
        return None
    return next((m for m in desc.media if m.kind in ("audio", "video") and m.held), None)


def _resumes(desc: Desc | None) -> bool:
    return desc is not None and any(m.kind in ("audio", "video") and not m.rejected
                                    and m.direction in ("sendrecv", "recvonly") and m.endpoint()
                                    for m in desc.media)


def _hold_finding(ctx, out: Collector, call: Call, ms, held, resume: Exchange | None) -> None:
    exchange, line = held
    legacy = line.address in ("0.0.0.0", "::")
    side = who(ctx, exchange.offer)
    explanation = fill(HOLD_TEXT, t=clock(exchange.offer), side=side,
                       legacy=" using an old method (audio address 0.0.0.0) that some devices "
                              "misread" if legacy else "")
    messages = [exchange.offer, exchange.answer]
    title = f"Call put on hold ({line.direction if not legacy else 'c=' + str(line.address)})"
    if resume is not None:
        messages += [resume.offer, resume.answer]
        explanation += f" The call was resumed at {clock(resume.offer)}."
        title += ", then resumed"
    elif ms.bye is not None:
        held_for = ms.bye.ts - exchange.offer.ts
        messages.append(ms.bye)
        if held_for >= HOLD_ENDED_AFTER:
            explanation += (f" The call ended while still on hold, after {held_for:.0f} s on "
                            "hold: this often means an RTP-inactivity timer on the PBX.")
            title += f", ended while on hold ({held_for:.0f} s)"
    key = (call.call_id, ms.caller_tag, ms.callee_tag, exchange.offer.cseq_num,
           exchange.offer_side)
    out.add(key, lambda: ctx.finding(
        "sdp-hold", title, explanation, messages, call=call, rfc="RFC 3264 §8.4",
        evidence={"direction": line.direction, "legacy": legacy,
                  "resumed": resume is not None, "by": exchange.offer.src, "side": side,
                  "address": line.address}), messages)


# -- 8.5 sdp-183-without-sdp --------------------------------------------------------------------

PROGRESS_TEXT = (
    "The far end said 'call in progress' (183) but gave no audio details and never said "
    "'ringing' (180). Most phones only play a ring tone on 180, or play the network's audio when "
    "the 183 carries it, so the caller probably heard dead silence until the call was answered "
    "or failed, and may have hung up thinking it did not connect. Ask the carrier or PBX to send "
    "180 Ringing, or to include ringback audio with the 183; many PBXs have a 'progress in-band' "
    "or 'ringback' option.")
NO_EARLY_MEDIA_TEXT = (
    "The far end announced early media in its 183 (with SDP) but sent no audio within "
    "{wait:.0f} s while the call was still unanswered, so the caller most likely heard silence "
    "instead of ringback or an announcement (a phone that gets SDP in a 183 usually stops its own "
    "ring tone and plays what the network sends).")


def _initial_invites(ctx: Context, index):
    """(call, transaction, its responses, the first 183 without SDP or None) per initial INVITE."""
    for call in ctx.session.calls:
        for transaction in call.transactions:
            request = transaction.request
            if transaction.method != "INVITE" or request is None or request.to_tag:
                continue
            responses = [m for m in transaction.messages if m.is_response and not m.copy]
            bare = next((m for m in responses if m.status == 183 and index.desc(m) is None), None)
            yield call, transaction, responses, bare


@rule("sdp-183-without-sdp", text=PROGRESS_TEXT, index="media")
def progress_without_sdp(ctx: Context) -> list[Finding]:
    """Catalog 8.5 (a) and (b): a 183 without SDP."""
    out = Collector()
    index = media_index(ctx.session)
    for call, transaction, responses, bare in _initial_invites(ctx, index):
        if bare is not None:
            _bare_183(ctx, out, index, call, transaction, responses, bare)
    return out.result()


@rule("sdp-183-no-early-media", text=NO_EARLY_MEDIA_TEXT, index="media")
def early_media_not_sent(ctx: Context) -> list[Finding]:
    """Catalog 8.5 (c) under its own id (a 183 *with* SDP is not "183 without SDP"): early
    media announced in a 183 with SDP, and no RTP from the far end while unanswered."""
    out = Collector()
    if not getattr(ctx.session.media, "streams", None):
        return out.result()
    index = media_index(ctx.session)
    for call, transaction, responses, bare in _initial_invites(ctx, index):
        if bare is None:
            _silent_183(ctx, out, index, call, transaction, responses)
    return out.result()


def _bare_183(ctx, out, index, call, transaction, responses, bare: Message) -> None:
    final = next((m for m in responses if m.status >= 200), None)
    end = final.ts if final is not None else float("inf")
    if any(m.status in range(180, 190) and m.to_tag == bare.to_tag and index.desc(m) is not None
           for m in responses if m.ts < end):
        return
    for exchange in index.call_exchanges(call):
        if exchange.kind in ("update", "prack") and exchange.offer is not None \
                and exchange.offer.ts < end and bare.to_tag in (exchange.callee_tag,):
            return                               # negotiated in PRACK/UPDATE instead
    ringing = next((m for m in responses if m.status == 180 and m.ts < end), None)
    inconclusive = final is None or ctx.excerpt
    severity = "info" if ringing is not None else "warning"
    messages = [bare] + ([ringing] if ringing else []) + ([final] if final else [])
    explanation = fill(PROGRESS_TEXT)
    if ringing is not None:
        explanation = ("The far end sent 183 Session Progress without SDP but also 180 Ringing, "
                       "so the caller should have heard a local ring tone.")
    elif final is not None:
        explanation += f" The final answer ({final.label}) came {final.ts - bare.ts:.1f} s later."
    out.add((call.call_id, "183"), lambda: ctx.finding(
        "sdp-183-without-sdp", "183 Session Progress without SDP" +
        (" (180 also sent)" if ringing else " and no 180 Ringing"), explanation, messages,
        call=call, severity=severity, inconclusive=inconclusive and ringing is None,
        rfc="RFC 3261 §21.1.5, §13.3.1.1; RFC 3960", evidence={"case": "b" if ringing else "a"}),
        messages)


def _silent_183(ctx, out, index, call, transaction, responses) -> None:
    early = next((m for m in responses if m.status == 183 and index.desc(m) is not None), None)
    if early is None:
        return
    final = next((m for m in responses if m.status >= 200), None)
    until = early.ts + EARLY_MEDIA_WAIT
    if final is not None and final.ts < until:
        return                                   # answered before early media was due
    if final is None and not ctx.horizon_ok(early.ts, EARLY_MEDIA_WAIT):
        return
    for ms in index.call_sessions(call):
        if ms.callee_tag != early.to_tag:
            continue
        if not ms.to_callee and not ms.to_caller:
            return                               # no media of this call in the capture at all
        if packets_between(ms.to_caller, early.ts - 0.5, until) > 0:
            return
        messages = [early] + ([final] if final else [])
        out.add((call.call_id, "183c"), lambda: ctx.finding(
            "sdp-183-no-early-media", "183 with SDP but no early media from the far end",
            fill(NO_EARLY_MEDIA_TEXT, wait=EARLY_MEDIA_WAIT), messages, call=call,
            severity="warning", rfc="RFC 3960 §3", evidence={"case": "c"}), messages)
        return


def packets_between(streams, start: float, end: float) -> int:
    """RTP packets of these streams in [start, end) from their 100 ms activity buckets."""
    total = 0
    for stream in streams:
        if stream.last_ts < start or stream.first_ts >= end:
            continue
        activity = stream.activity
        first = max(0, int(start * 10) - stream.bucket0)
        last = min(len(activity), int(end * 10) - stream.bucket0 + 1)
        total += sum(activity[first:last])
    return total


# -- 8.6 sdp-version-stale ----------------------------------------------------------------------

STALE_TEXT = (
    "When {side} changed this call's media (for example after a transfer or a hold/resume), it "
    "did not update the version number of its media description. A device that follows the rule "
    "treats an 'unchanged' description as nothing new and keeps sending audio to the old address, "
    "which gives one-way or no audio after transfers or resumes. Fix the firmware or border "
    "controller (SBC) so that it increments the SDP version; some PBXs have an 'ignore SDP "
    "version' option for such peers.")


@rule("sdp-version-stale", text=STALE_TEXT, index="media")
def version_stale(ctx: Context) -> list[Finding]:
    out = Collector()
    for call, exchanges in exchanges_by_call(ctx):
        sequences: dict[tuple, list[tuple[Message, Desc]]] = {}
        seen: set[tuple] = set()
        for exchange in exchanges:
            if exchange.answer_desc is None:
                continue           # a refused offer does not change the session (RFC 3264 §8)
            for side in (CALLER, CALLEE):
                message, desc = exchange.message_of(side), exchange.desc_of(side)
                if message is None or desc is None or desc.origin is None or message.copy:
                    continue
                key = (exchange.caller_tag, exchange.callee_tag, side, message.src)
                if (message.index, key) in seen:
                    continue
                seen.add((message.index, key))
                sequences.setdefault(key, []).append((message, desc))
        for key, items in sequences.items():
            items.sort(key=lambda item: item[0].ts)
            for (m1, d1), (m2, d2) in zip(items, items[1:]):
                if m1.index == m2.index:
                    continue
                problem = _version_problem(m1, d1, m2, d2)
                if problem:
                    _stale_finding(ctx, out, call, key, m1, m2, problem)
    return out.result()


def fingerprint(message: Message) -> int:
    body = sdp_body(message)
    return normalised(body) if body else 0


def _version_problem(m1: Message, d1: Desc, m2: Message, d2: Desc) -> tuple | None:
    (user1, sess1, v1, addr1), (user2, sess2, v2, addr2) = d1.origin, d2.origin
    if (user1, sess1, addr1) != (user2, sess2, addr2):
        return ("info", "d", f"the o= line changed from '{user1} {sess1} … {addr1}' to "
                             f"'{user2} {sess2} … {addr2}' mid-dialog")
    if v1 is None or v2 is None:
        return None
    if v1 == v2 and d1.body_hash != d2.body_hash and fingerprint(m1) != fingerprint(m2):
        return ("warning", "a", f"the SDP changed but kept o= version {v2}")
    if v2 < v1:
        return ("warning", "b", f"the o= version went down from {v1} to {v2}")
    if v2 > v1 + 1:
        return ("info", "c", f"the o= version jumped from {v1} to {v2}")
    return None


def _stale_finding(ctx, out, call, key, m1: Message, m2: Message, problem) -> None:
    severity, case, detail = problem
    side = who(ctx, m2)
    explanation = fill(STALE_TEXT, side=side) + f" Here {detail}."
    facts: dict = {}
    if case in ("a", "b"):
        followed, facts = _followed(ctx, m1, m2)
        explanation += followed
    if case == "c":
        explanation = (f"{side[0].upper()}{side[1:]}: {detail}. RFC 3264 §8 asks for an "
                       "increase of exactly one; most devices only check that the version went "
                       "up, but a strict peer may misread it.")
    elif case == "d":
        explanation = (f"{side[0].upper()}{side[1:]}: {detail}. RFC 3264 §8 wants the o= line "
                       "kept except for its version; B2BUAs that re-route media often start a "
                       "new one and most devices accept it, but a peer that checks the o= line "
                       "may treat the SDP as a new session.")
    messages = [m1, m2]
    out.add((call.call_id, key, m2.index, case), lambda: ctx.finding(
        "sdp-version-stale", f"SDP version problem: {detail}", explanation, messages, call=call,
        severity=severity, rfc="RFC 3264 §8", evidence={"case": case, "detail": detail,
                                                        "side": side, **facts}),
        messages)


def _followed(ctx: Context, m1: Message, m2: Message) -> tuple[str, dict]:
    """Whether the capture shows the other side following a changed audio address (the
    consequence clause of sdp-version-stale (a)/(b)), and its facts."""
    index = media_index(ctx.session)
    d1, d2 = index.desc(m1), index.desc(m2)
    a1 = d1.audio() if d1 is not None else None
    a2 = d2.audio() if d2 is not None else None
    old = a1.endpoint() if a1 is not None else None
    new = a2.endpoint() if a2 is not None else None
    if old is None or new is None or old == new:
        return "", {}
    facts = {"old_address": f"{old[0]}:{old[1]}", "new_address": f"{new[0]}:{new[1]}"}
    streams = getattr(ctx.session.media, "streams", None)
    if not streams:
        return (" This capture holds no RTP, so it cannot show whether the other side followed "
                "the change."), facts
    to_new = [st for st in streams if split_addr(st.dst) == new and st.last_ts >= m2.ts]
    to_old = [st for st in streams if split_addr(st.dst) == old and st.last_ts > m2.ts + 2.0]
    if to_new:
        busiest = max(to_new, key=lambda st: st.packets)
        facts["followed_stream"] = f"{busiest.src} -> {busiest.dst}"
        facts["followed_packets"] = busiest.packets
        return (f" Here the other side did follow: {busiest.src} -> {busiest.dst} carried "
                f"{busiest.packets:,} packets to the new address."), facts
    if to_old:
        busiest = max(to_old, key=lambda st: st.packets)
        facts["stale_stream"] = f"{busiest.src} -> {busiest.dst}"
        facts["stale_packets"] = busiest.packets
        return (f" Here audio kept going to the old address after the change "
                f"({busiest.src} -> {busiest.dst}, {busiest.packets:,} packets in that stream): "
                "this is that failure."), facts
    return (" No RTP to either address after the change is in the capture, so it cannot show "
            "whether the other side followed."), facts


# -- sdp-t38-media-to-wrong-port (project rule, docs/fault-reference.md) ---------------------------

T38_TEXT = (
    "After {answerer} accepted the switch to T.38 fax ({answer} at {t}: m=image {port} udptl), "
    "{offerer} sent its fax packets (UDPTL) to {wrong} and none to {right}, the address of the "
    "answer (RFC 3264 §6: media goes to the address the answer gives).")
T38_SLACK = 2.0


@rule("sdp-t38-media-to-wrong-port", text=T38_TEXT, index="media")
def t38_wrong_port(ctx: Context) -> list[Finding]:
    udptl = [p for p in getattr(ctx.session.media, "other", ()) if p.kind == "udptl"]
    if not udptl:
        return []
    out = Collector()
    index = media_index(ctx.session)
    for call in ctx.session.calls:
        for ms in index.call_sessions(call):
            for exchange in ms.completed():
                _t38_exchange(ctx, out, call, ms, exchange, udptl)
    return out.result()


def _image(desc: Desc | None) -> MLine | None:
    return next((m for m in desc.media if m.kind == "image" and not m.rejected
                 and "udptl" in m.proto.lower()), None) if desc is not None else None


def _t38_exchange(ctx, out: Collector, call: Call, ms, exchange: Exchange, udptl: list) -> None:
    offered, answered = _image(exchange.offer_desc), _image(exchange.answer_desc)
    right = answered.endpoint() if answered is not None else None
    if offered is None or right is None:
        return
    start = exchange.answer.ts - T38_SLACK
    end = (ms.ended if ms.ended is not None else ctx.session.end) + T38_SLACK
    offerer = exchange.offer_side
    hosts = {ip for ip, _ in ms.addresses(offerer)}
    if ms.sip_ip(offerer):
        hosts.add(norm_ip(ms.sip_ip(offerer)))
    flows = [(p, split_addr(p.src), split_addr(p.dst)) for p in udptl
             if p.last_ts >= start and p.first_ts <= end]
    # only packets addressed to the answer's own IP have comparable ports (behind a NAT the
    # capture outside sees mapped ports, which prove nothing)
    toward = [(p, d) for p, s, d in flows if s and d and s[0] in hosts and d[0] == right[0]]
    if not toward or any(d == right for _, d in toward):
        return
    wrong = sorted({d for _, d in toward})
    packets = sum(p.packets for p, _ in toward)
    answerer_sent = sum(p.packets for p, s, _ in flows if s and s[0] == right[0])
    earlier = {e for x in ms.exchanges if x.answer is not None and x.answer.ts < exchange.answer.ts
               for e in [_audio_end(x.desc_of(exchange.answer_side))] if e}
    wrong_text = ", ".join(f"{ip}:{port}" for ip, port in wrong)
    if set(wrong) & earlier:
        wrong_text += " (its audio port before the switch)"
    explanation = fill(T38_TEXT, answerer=who(ctx, exchange.answer), answer=exchange.answer.label,
                       t=clock(exchange.answer), port=str(answered.port),
                       offerer=who(ctx, exchange.offer), wrong=wrong_text,
                       right=f"{right[0]}:{right[1]}")
    explanation += f" {packets:,} fax packets went there."
    if not answerer_sent:
        explanation += (f" {who(ctx, exchange.answer)[:1].upper()}{who(ctx, exchange.answer)[1:]} "
                        "sent no fax packet at all, so no fax exchange shows in this capture.")
    else:
        explanation += f" The answering side sent {answerer_sent:,} fax packets of its own."
    messages = [exchange.offer, exchange.answer]
    if ms.bye is not None and ms.bye.ts >= exchange.answer.ts:
        messages.append(ms.bye)
        explanation += (f" The call was cleared {ms.bye.ts - exchange.answer.ts:.1f} s after the "
                        f"switch ({ms.bye.label} from {ms.bye.src}).")
    explanation += (" A common cause, which the packets cannot prove: the far end latches onto "
                    "the address packets last came from (symmetric RTP through a NAT or SBC), "
                    "and the answering side never sent from its new port. Check that the T.38 "
                    "side sends from the port it answered, or that the far end honours the SDP.")
    evidence = {"answer_address": f"{right[0]}:{right[1]}", "sent_to": [f"{ip}:{port}"
                for ip, port in wrong], "packets": packets, "answerer_packets": answerer_sent,
                "offerer": who(ctx, exchange.offer), "answerer": who(ctx, exchange.answer)}
    if ms.bye is not None and ms.bye.ts >= exchange.answer.ts:
        evidence["cleared_after_s"] = round(ms.bye.ts - exchange.answer.ts, 3)
        evidence["cleared_by"] = ms.bye.src
    out.add((call.call_id, "t38", exchange.answer.index), lambda: ctx.finding(
        "sdp-t38-media-to-wrong-port", f"T.38 fax sent to {wrong_text.split(' (')[0]} instead "
        f"of the answered {right[0]}:{right[1]}", explanation, messages, call=call,
        rfc="RFC 3264 §6; ITU-T T.38 Annex D", evidence=evidence), messages)


def _audio_end(desc: Desc | None):
    line = desc.audio() if desc is not None else None
    return line.endpoint() if line is not None else None


# -- sdp-t38-mismatch (project rule, docs/fault-reference.md) -------------------------------------

T38_MISMATCH_TEXT = (
    "{answerer} accepted the switch to T.38 fax but answered T38FaxRateManagement:{answered} to "
    "an offer of T38FaxRateManagement:{offered}. This is the one mandatory T.38 SDP parameter "
    "(ITU-T T.38 Annex D): with UDPTL, transferredTCF is the usual method, and many devices "
    "expect the answer to echo the offered value; a peer that keeps its own method can fail the "
    "fax training (TCF) phase. Make the T.38 side answer with the offered rate management.")
_RATE_MANAGEMENT = re.compile(rb"^a=T38FaxRateManagement[ \t]*:[ \t]*([A-Za-z]+)", re.I | re.M)


@rule("sdp-t38-mismatch", text=T38_MISMATCH_TEXT, index="media")
def t38_mismatch(ctx: Context) -> list[Finding]:
    out = Collector()
    for call, exchanges in exchanges_by_call(ctx):
        for exchange in exchanges:
            if not exchange.complete or exchange.preview or \
                    _image(exchange.offer_desc) is None or _image(exchange.answer_desc) is None:
                continue
            offered, answered = _rate_management(exchange.offer), \
                _rate_management(exchange.answer)
            if not offered or not answered or offered.lower() == answered.lower():
                continue
            answerer = who(ctx, exchange.answer)
            explanation = fill(T38_MISMATCH_TEXT, answerer=answerer[:1].upper() + answerer[1:],
                               answered=answered, offered=offered)
            messages = [exchange.offer, exchange.answer]
            out.add((call.call_id, "t38-rate", exchange.answer.index), lambda: ctx.finding(
                "sdp-t38-mismatch", f"T.38 answer changes T38FaxRateManagement: {offered} "
                f"offered, {answered} answered", explanation, messages, call=call,
                rfc="ITU-T T.38 Annex D; RFC 3264 §6", evidence={
                    "offered": offered, "answered": answered, "answerer": answerer}), messages)
    return out.result()


def _rate_management(message: Message | None) -> str:
    """The T38FaxRateManagement value of a message's SDP (read only for T.38 offers/answers)."""
    body = sdp_body(message) if message is not None else None
    found = _RATE_MANAGEMENT.search(body) if body else None
    return found.group(1).decode("ascii") if found else ""
