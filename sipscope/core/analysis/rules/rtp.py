"""RTP fault rules (catalog §9): one-way audio, no media, media that stops mid-call.

They run only when the capture holds media (a MediaCollector with RTP streams), and they measure
what the SDP promised (media/calls.py pairs offers and answers and ties streams to dialogs)
against the packets: per-stream 100 ms activity buckets, never per-packet lists.
"""

from __future__ import annotations

import datetime as _dt

from sipscope.core.analysis.context import Context
from sipscope.core.analysis.finding import NOT_VISIBLE_TEXT, Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.rules.sdp import fill
from sipscope.core.media.attach import split_addr
from sipscope.core.media.calls import CALLEE, CALLER, MediaSession, media_index

SETTLE = 2.0              # §9.1: the window starts 2 s after the ACK
MIN_WINDOW = 5.0          # §9.1 / §9.2: the window must last at least 5 s
ONE_WAY_MIN = 25          # §9.1 (3): packets A->B
ONE_WAY_SPREAD = 2.0      # ... spread over at least 2 s
ONE_WAY_RATIO = 0.05      # §9.1 (4): B->A below 5 % of A->B
NO_MEDIA_WAIT = 5.0       # §9.2
STOP_MIN_PACKETS = 100    # §9.3
STOP_GAP = 10.0           # §9.3
HOLD_GRACE = 2.0          # §9.3 exclusion: an offer in the preceding 2 s
CAPTURE_LOSS = 0.2        # a stream missing this share of its sequence numbers: capture gaps
CN_NAMES = ("cn", "comfort-noise")
BUCKETS_PER_S = 10


def has_media(ctx: Context) -> bool:
    return bool(getattr(ctx.session.media, "streams", None))


def sessions(ctx: Context):
    index = media_index(ctx.session)
    for call in ctx.session.calls:
        for ms in index.call_sessions(call):
            if ms.answered is not None:
                yield call, ms


def audio_streams(ms: MediaSession, toward: str) -> list:
    """The streams toward one side that belong to an audio m= line (by address, D10)."""
    receiver = ms.addresses(toward, "audio")
    sender = ms.addresses(CALLER if toward == CALLEE else CALLEE, "audio")
    other = ms.addresses(toward) | ms.addresses(CALLER if toward == CALLEE else CALLEE)
    out = []
    for stream in ms.streams(toward):
        d, s = split_addr(stream.dst), split_addr(stream.src)
        if d in receiver or s in sender or (d not in other and s not in other):
            out.append(stream)
    return out


def timeline(streams) -> dict[int, int]:
    """Packets per absolute 100 ms bucket over several streams."""
    out: dict[int, int] = {}
    for stream in streams:
        base = stream.bucket0
        for i, count in enumerate(stream.activity):
            if count:
                out[base + i] = out.get(base + i, 0) + count
    return out


def count_in(buckets: dict[int, int], intervals: list[tuple[float, float]]) -> tuple[int, float]:
    """(packets, spread in seconds between the first and last busy bucket) inside intervals."""
    total, busy = 0, []
    for start, end in intervals:
        lo, hi = int(start * BUCKETS_PER_S), int(end * BUCKETS_PER_S)
        for bucket, count in buckets.items():
            if lo <= bucket < hi:
                total += count
                busy.append(bucket)
    spread = (max(busy) - min(busy) + 1) / BUCKETS_PER_S if busy else 0.0
    return total, spread


def states(ms: MediaSession) -> list[tuple[float, bool, bool]]:
    """Session state after each completed pair (D9): (time, caller sends, callee sends) of the
    audio stream, from the answer's and the offer's directions (RFC 3264 §6.1)."""
    out = []
    for exchange in ms.completed():
        offer, answer = exchange.offer_desc.audio(), exchange.answer_desc.audio()
        if offer is None or answer is None or offer.rejected or answer.rejected:
            out.append((exchange.answer.ts, False, False))
            continue
        offer_sends = offer.direction in ("sendrecv", "sendonly") and answer.direction in (
            "sendrecv", "recvonly") and answer.endpoint() is not None
        answer_sends = answer.direction in ("sendrecv", "sendonly") and offer.direction in (
            "sendrecv", "recvonly") and offer.endpoint() is not None
        caller = offer_sends if exchange.offer_side == CALLER else answer_sends
        callee = answer_sends if exchange.offer_side == CALLER else offer_sends
        out.append((exchange.answer.ts, caller, callee))
    return out


def two_way_intervals(ms: MediaSession, start: float, end: float) -> list[tuple[float, float]]:
    """Parts of [start, end) where the current session is two-way (2 s settle after a change)."""
    out = []
    timeline_states = states(ms)
    for i, (t, caller, callee) in enumerate(timeline_states):
        t_next = timeline_states[i + 1][0] if i + 1 < len(timeline_states) else end
        if caller and callee:
            lo = max(start, t + (SETTLE if i else 0.0))
            hi = min(end, t_next)
            if hi > lo:
                out.append((lo, hi))
    return out


def visible(ctx: Context, ms: MediaSession, side: str) -> bool:
    """D7 vantage for §9: some packet of any kind from this side's media or SIP host."""
    hosts = {ip for ip, _ in ms.addresses(side)}
    sip_ip = ms.sip_ip(side)
    if sip_ip:
        hosts.add(sip_ip)
    senders = _media_senders(ctx)
    return any(host in senders or ctx.seen_sending(host) for host in hosts)


def _media_senders(ctx: Context) -> set[str]:
    cache = vars(ctx).setdefault("_rtp_cache", {})
    if "senders" not in cache:
        media = ctx.session.media
        found = set()
        for group in (getattr(media, "streams", []), getattr(media, "rtcp", []),
                      getattr(media, "other", [])):
            for flow in group:
                addr = split_addr(flow.src)
                if addr:
                    found.add(addr[0])
        cache["senders"] = found
    return cache["senders"]


def _cn_packets(streams, ms: MediaSession, toward: str) -> int:
    cn_pts = {13}
    for exchange in ms.exchanges:
        for side in (CALLER, CALLEE):
            desc = exchange.desc_of(side)
            line = desc.audio() if desc else None
            if line is not None:
                cn_pts.update(f.pt for f in line.formats if f.name in CN_NAMES and f.pt is not None)
    return sum(stat.count for s in streams for pt, stat in s.pt_stats.items() if pt in cn_pts)


def _window(ctx: Context, ms: MediaSession) -> tuple[float, float]:
    start_msg = ms.ack or ms.answered
    end = ms.bye.ts if ms.bye is not None else ctx.session.end
    return start_msg.ts, end


def answered_windows(ctx: Context):
    """(call, media session, start, end) of every answered media session: from its ACK (or
    2xx) to its BYE (or the end of the capture)."""
    for call, ms in sessions(ctx):
        yield (call, ms, *_window(ctx, ms))


def _label(ms: MediaSession, side: str) -> str:
    addrs = sorted(ms.addresses(side, "audio")) or sorted(ms.addresses(side))
    if addrs:
        ip, port = addrs[0]
        return f"{'[' + ip + ']' if ':' in ip else ip}:{port}"
    return ms.sip_ip(side) or side


# -- 9.1 rtp-one-way ----------------------------------------------------------------------------

ONE_WAY_TEXT = (
    "Audio flowed from {A} to {B} ({n} packets) but nothing came back from {B}. So {B}'s user "
    "could hear {A}, while {A} heard silence. This is usually a NAT or firewall problem: one side "
    "gave a private or wrong address for its audio, a firewall blocks incoming audio packets "
    "(RTP), or a router's 'SIP ALG' feature rewrote the address. Compare the audio addresses in "
    "the highlighted SDP with where the audio actually comes from and goes to.")


@rule("rtp-one-way", text=ONE_WAY_TEXT, index="media")
def one_way(ctx: Context) -> list[Finding]:
    if not has_media(ctx):
        return []
    out: list[Finding] = []
    done: set[tuple] = set()
    for call, ms, start, end in answered_windows(ctx):
        intervals = two_way_intervals(ms, start + SETTLE, end)
        if sum(hi - lo for lo, hi in intervals) < MIN_WINDOW:
            continue
        for toward in (CALLEE, CALLER):
            back = CALLER if toward == CALLEE else CALLEE
            forward_streams = audio_streams(ms, toward)
            sent, spread = count_in(timeline(forward_streams), intervals)
            if sent < ONE_WAY_MIN or spread < ONE_WAY_SPREAD:
                continue
            back_streams = audio_streams(ms, back)
            returned, _ = count_in(timeline(back_streams), intervals)
            if returned >= ONE_WAY_RATIO * sent or _cn_packets(back_streams, ms, back):
                continue
            key = (call.call_id, _label(ms, CALLER), _label(ms, CALLEE), toward)
            if key in done:
                continue
            done.add(key)
            # RFC 3550 sequence numbers tell how many packets the silent side really sent
            estimated = sum(count_in(timeline([s]), intervals)[0] / max(1.0 - s.loss_ratio, 0.01)
                            for s in back_streams)
            out.append(_one_way_finding(ctx, call, ms, toward, sent, returned, forward_streams,
                                        estimated))
    return out


def _same_host(ctx: Context, ms: MediaSession) -> bool:
    """Both ends' media on one host: packets between them never cross the wire unless the
    capture was taken on the loopback interface (then some stream goes host -> same host)."""
    caller = {ip for ip, _ in ms.addresses(CALLER, "audio")}
    callee = {ip for ip, _ in ms.addresses(CALLEE, "audio")}
    if not caller or caller != callee:
        return False
    for stream in getattr(ctx.session.media, "streams", []):
        s, d = split_addr(stream.src), split_addr(stream.dst)
        if s and d and s[0] == d[0]:
            return False
    return True


def _one_way_finding(ctx, call, ms: MediaSession, toward: str, sent: int, returned: int,
                     streams, estimated: float = 0.0) -> Finding:
    silent = toward                     # the side that receives but sends nothing back
    talker = CALLER if toward == CALLEE else CALLEE
    a, b = f"the {talker} ({_label(ms, talker)})", f"the {silent} ({_label(ms, silent)})"
    explanation = fill(ONE_WAY_TEXT, A=a, B=b, n=f"{sent:,}")
    stray = _stray(ctx, ms, silent)
    evidence = {"sent": sent, "returned": returned, "toward": silent,
                "streams": [f"{s.src} -> {s.dst}" for s in streams]}
    if stray:
        explanation += (" Packets from the silent side were seen going elsewhere: "
                        + ", ".join(stray[:3]) + ".")
        evidence["stray"] = stray
    exchange = (ms.completed() or ms.exchanges)[-1]
    messages = [m for m in (exchange.offer, exchange.answer) if m is not None]
    inconclusive = False
    if estimated >= ONE_WAY_RATIO * sent:
        inconclusive = True
        explanation += (f" However, the sequence numbers of the {silent}'s packets show about "
                        f"{estimated:.0f} were sent while only {returned} were captured: the "
                        "capture (or the network) lost them, so this is not proven one-way "
                        "audio.")
        evidence["estimated_sent_back"] = round(estimated)
    elif _same_host(ctx, ms):
        inconclusive = True
        explanation += (" Both ends' media addresses are on the same host, so the return audio "
                        "never crossed the captured interface. " + NOT_VISIBLE_TEXT)
    elif not visible(ctx, ms, silent):
        inconclusive = True
        explanation += " " + NOT_VISIBLE_TEXT
    finding = ctx.finding("rtp-one-way", f"One-way audio: {sent:,} packets to the {silent}, "
                          f"{returned:,} back", explanation, messages, call=call,
                          inconclusive=inconclusive,
                          rfc="RFC 3264 §6.1; RFC 8866 §5.7, §5.14", evidence=evidence)
    return finding


def _stray(ctx: Context, ms: MediaSession, side: str) -> list[str]:
    """Streams sent from the silent side's media address to somewhere this dialog did not name."""
    own = ms.addresses(side, "audio")
    attached = {id(s) for s in (*ms.to_callee, *ms.to_caller)}
    out = []
    for stream in getattr(ctx.session.media, "streams", []):
        if id(stream) not in attached and split_addr(stream.src) in own:
            out.append(f"{stream.src} -> {stream.dst} ({stream.packets} packets)")
    return out


# -- 9.2 rtp-no-media ---------------------------------------------------------------------------

NO_MEDIA_TEXT = (
    "The call connected, but no audio flowed in either direction. The two ends agreed on where to "
    "send audio ({A_addr} and {B_addr}), but nothing arrived. Usually the media path is blocked: "
    "both sides behind NAT with private addresses, a firewall closing the RTP port range, a media "
    "server that failed to start, or one side expecting encrypted media (SRTP) that the other "
    "does not send.")


@rule("rtp-no-media", text=NO_MEDIA_TEXT, index="media")
def no_media(ctx: Context) -> list[Finding]:
    if not has_media(ctx):
        return []
    out: list[Finding] = []
    done: set[tuple] = set()
    for call, ms in sessions(ctx):
        pairs = ms.completed()
        if not pairs:
            continue
        first = next((e for e in pairs if e.answer.ts >= ms.answered.ts - 0.001), pairs[-1])
        offer, answer = first.offer_desc.audio(), first.answer_desc.audio()
        if offer is None or answer is None or offer.rejected or answer.rejected \
                or "inactive" in (offer.direction, answer.direction):
            continue
        start, end = _window(ctx, ms)
        if end - start < MIN_WINDOW:
            continue
        streams = _streams_on(ctx, ms.addresses(CALLER, "audio") | ms.addresses(CALLEE, "audio"))
        busy = timeline(streams)
        early, _ = count_in(busy, [(ms.answered.ts - 0.5, start + NO_MEDIA_WAIT)])
        if early:
            continue
        later, _ = count_in(busy, [(start + NO_MEDIA_WAIT, end)])
        key = (call.call_id, _label(ms, CALLER), _label(ms, CALLEE))
        if key in done:
            continue
        done.add(key)
        out.append(_no_media_finding(ctx, call, ms, first, start, end, later))
    return out


def _streams_on(ctx: Context, addresses: set) -> list:
    """Every stream sent to or from these media addresses, whichever call it was given to
    (a B2BUA leg, or a twin dialog, may carry the same media)."""
    cache = vars(ctx).setdefault("_rtp_cache", {})
    by_addr = cache.get("by_addr")
    if by_addr is None:
        by_addr = cache["by_addr"] = {}
        for stream in getattr(ctx.session.media, "streams", []):
            for addr in (split_addr(stream.src), split_addr(stream.dst)):
                if addr:
                    by_addr.setdefault(addr, []).append(stream)
    found = {}
    for addr in addresses:
        for stream in by_addr.get(addr, ()):
            found[id(stream)] = stream
    return list(found.values())


def _no_media_finding(ctx, call, ms, exchange, start: float, end: float, later: int) -> Finding:
    a_addr, b_addr = _label(ms, CALLER), _label(ms, CALLEE)
    explanation = fill(NO_MEDIA_TEXT, A_addr=a_addr, B_addr=b_addr)
    severity = None
    evidence = {"caller_media": a_addr, "callee_media": b_addr, "window_s": round(end - start, 3)}
    if later:
        severity = "warning"
        explanation = (f"The call connected, but audio only started more than {NO_MEDIA_WAIT:.0f} s "
                       f"after the answer ({a_addr} and {b_addr}); the customer heard silence at "
                       "the start of the call. Check for slow media setup (ICE, a media server, "
                       "a firewall opening late).")
        evidence["packets_later"] = later
    unexpected = _unexpected(ctx, ms, start, end)
    if unexpected:
        explanation += " Media on unexpected ports: " + ", ".join(unexpected[:3]) + "."
        evidence["unexpected"] = unexpected
    inconclusive = not (_media_seen_for(ctx, ms) or unexpected)
    if inconclusive:
        explanation += (" No media of these hosts appears anywhere in the capture, so it may have "
                        "bypassed the capture point. " + NOT_VISIBLE_TEXT)
        severity = "info"
    messages = [m for m in (exchange.offer, exchange.answer, ms.ack, ms.bye) if m is not None]
    return ctx.finding("rtp-no-media", f"No RTP in either direction after answer ({a_addr} / "
                       f"{b_addr})", explanation, messages, call=call, severity=severity,
                       rfc="RFC 3264 §6.1", evidence=evidence)


def _media_seen_for(ctx: Context, ms: MediaSession) -> bool:
    """Vantage: some media packet to or from one of the dialog's media hosts was captured."""
    hosts = {ip for ip, _ in ms.addresses(CALLER) | ms.addresses(CALLEE)}
    cache = vars(ctx).setdefault("_rtp_cache", {})
    if "media_hosts" not in cache:
        found = set()
        media = ctx.session.media
        for group in (getattr(media, "streams", []), getattr(media, "rtcp", []),
                      getattr(media, "other", [])):
            for flow in group:
                for addr in (split_addr(flow.src), split_addr(flow.dst)):
                    if addr:
                        found.add(addr[0])
        cache["media_hosts"] = found
    return bool(hosts & cache["media_hosts"])


def _unexpected(ctx: Context, ms: MediaSession, start: float, end: float) -> list[str]:
    hosts = {ip for ip, _ in ms.addresses(CALLER) | ms.addresses(CALLEE)}
    index = media_index(ctx.session)
    out = []
    for stream in getattr(ctx.session.media, "streams", []):
        if stream.last_ts < start or stream.first_ts > end or index.toward(stream) is not None:
            continue
        s, d = split_addr(stream.src), split_addr(stream.dst)
        if (s and s[0] in hosts) or (d and d[0] in hosts):
            out.append(f"{stream.src} -> {stream.dst} ({stream.packets} packets)")
    return out


# -- 9.3 rtp-stopped ----------------------------------------------------------------------------

STOPPED_TEXT = (
    "Audio from {side} stopped at {t} and did not resume for {gap} seconds, although the call "
    "stayed connected. Customers report audio going silent mid-call, often right after a "
    "transfer, hold or resume, or after a long silence. Likely causes: the other side changed its "
    "media address and this side did not follow, a router mapping expired during the silence, or "
    "the device stopped sending during silence (DTX) and the PBX then timed the call out.")


@rule("rtp-stopped", text=STOPPED_TEXT, index="media")
def stopped(ctx: Context) -> list[Finding]:
    if not has_media(ctx):
        return []
    out: list[Finding] = []
    done: set[tuple] = set()
    for call, ms, start, end in answered_windows(ctx):
        for toward in (CALLEE, CALLER):
            sender = CALLER if toward == CALLEE else CALLEE
            streams = audio_streams(ms, toward)
            gap = _first_gap(timeline(streams), start, end)
            if gap is None:
                continue
            gap_start, gap_end, resumed = gap
            if not _sending_at(ms, sender, gap_start):
                continue
            other, _ = count_in(timeline(audio_streams(ms, sender)),
                                [(gap_start, min(gap_end, gap_start + STOP_GAP))])
            if other < 5:
                continue           # both directions went quiet: hold, a media move, capture end
            key = (call.call_id, _label(ms, CALLER), _label(ms, CALLEE), toward)
            if key in done:
                continue
            done.add(key)
            lossy = [st for st in streams if st.loss_ratio >= CAPTURE_LOSS]
            out.append(_stopped_finding(ctx, call, ms, sender, streams, gap_start, gap_end,
                                        resumed, lossy))
    return out


def _first_gap(buckets: dict[int, int], start: float, end: float):
    """(gap start, gap end, resumed) of the first silence >= 10 s after 100 packets, or None."""
    if not buckets:
        return None
    lo, hi = int(start * BUCKETS_PER_S), int(end * BUCKETS_PER_S)
    total, last_busy = 0, None
    for bucket in sorted(buckets):
        if bucket < lo:
            total += buckets[bucket]
            last_busy = bucket
            continue
        if bucket > hi:
            break
        if last_busy is not None and total >= STOP_MIN_PACKETS \
                and (bucket - last_busy - 1) / BUCKETS_PER_S >= STOP_GAP and last_busy >= lo:
            return (last_busy + 1) / BUCKETS_PER_S, bucket / BUCKETS_PER_S, True
        total += buckets[bucket]
        last_busy = bucket
    if last_busy is not None and total >= STOP_MIN_PACKETS and last_busy >= lo \
            and (hi - last_busy - 1) / BUCKETS_PER_S >= STOP_GAP:
        return (last_busy + 1) / BUCKETS_PER_S, end, False
    return None


def _sending_at(ms: MediaSession, side: str, t: float) -> bool:
    """§9.3 exclusions: that side was meant to send at t (no hold, no sendonly/inactive offer
    toward it in the preceding 2 s)."""
    sending = True
    for answered_at, caller, callee in states(ms):
        if answered_at <= t + HOLD_GRACE:
            sending = caller if side == CALLER else callee
    for exchange in ms.exchanges:
        offer = exchange.offer
        if offer is not None and t - HOLD_GRACE <= offer.ts <= t + HOLD_GRACE and \
                exchange.offer_desc is not None and exchange.offer_desc.audio() is not None and \
                exchange.offer_desc.audio().held:
            return False
    return sending


def _stopped_finding(ctx, call, ms, sender: str, streams, gap_start: float, gap_end: float,
                     resumed: bool, lossy: list) -> Finding:
    gap = gap_end - gap_start
    last = max((s for s in streams if s.first_ts <= gap_start), key=lambda s: s.last_ts,
               default=None)
    side = f"the {sender} ({_label(ms, sender)})"
    during = [m for m in ms.call.messages if gap_start <= m.ts <= gap_end]
    t_text = clock_at(ctx, gap_start)
    explanation = fill(STOPPED_TEXT, side=side, t=t_text, gap=f"{gap:.0f}")
    evidence = {"side": sender, "gap_s": round(gap, 3), "resumed": resumed,
                "last_stream": f"{last.src} -> {last.dst}" if last else None}
    notes = []
    if resumed:
        reinvite = next((m for m in during if m.method in ("INVITE", "UPDATE") and m.to_tag), None)
        if reinvite is not None:
            notes.append("Media resumed after a re-INVITE/UPDATE (check sdp-version-stale).")
    if ms.bye is not None and ms.bye.ts >= gap_start:
        reason = ms.bye.sip.get("Reason") or ""
        if any(word in reason.lower() for word in ("rtp", "media")):
            notes.append(f"The BYE gives the reason '{reason}': the PBX hung up because audio "
                         "stopped.")
    if lossy:
        notes.append(f"However {lossy[0].lost:,} of this stream's packets are missing from the "
                     "capture (RTP sequence numbers), so the gap may be a capture artefact.")
    if notes:
        explanation += " " + " ".join(notes)
    messages = during[:10]
    if ms.bye is not None and ms.bye not in messages:
        messages.append(ms.bye)
    if not messages:
        messages = [m for m in (ms.ack, ms.answered) if m is not None]
    return ctx.finding("rtp-stopped", f"RTP from the {sender} stopped for {gap:.0f} s mid-call",
                       explanation, messages, call=call, rfc="RFC 3264 §6.1 (observation)",
                       inconclusive=bool(lossy), evidence=evidence)


def clock_at(ctx: Context, ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%H:%M:%S.%f")[:-3]

