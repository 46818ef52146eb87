"""RTP fault rules (catalog §9): one-way audio, no media, media that stops mid-call.

They run only when the capture holds media (a MediaCollector with RTP streams), and they measure
what the SDP promised (media/calls.py pairs offers and answers and ties streams to dialogs)
against the packets: per-stream 100 ms activity buckets, never per-packet lists.
"""

from __future__ import annotations


from sipscope.core.analysis.context import Context, is_private
from sipscope.core.analysis.finding import Finding
from sipscope.core import timefmt
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.rules.sdp import fill
from sipscope.core.analysis.text import plural
from sipscope.core.media.attach import norm_ip, split_addr
from sipscope.core.media.calls import CALLEE, CALLER, MediaSession, media_index
from sipscope.core.sip.sdp import STATIC_PAYLOAD_TYPES

SETTLE = 2.0              # §9.1: the window starts 2 s after the ACK (at most, see below)
MIN_WINDOW = 5.0          # §9.2: the window must last at least 5 s
ONE_WAY_MIN = 25          # §9.1 (3): packets A->B
ONE_WAY_SPREAD = 2.0      # ... spread over at least 2 s (at most, see below)
# A short call is judged too: the settle time and the least window and spread are the time the
# sending side needs for this many packets at its own packet rate (0.5 s at 20 ms packets),
# capped by the catalog's 2 s settle and 5 s window.
WINDOW_PACKETS = 25
MIN_INTERVAL, MAX_INTERVAL = 0.005, 0.2     # packet intervals believed (5 ms .. 200 ms)
TALKSPURTS = 2            # marker bits that show a sender suppressing silence (RFC 3551 §4.1)
SPARSE_MIN, SPARSE_GAP = 3, 1.0   # a burst then a frame every few seconds, no sequence gap
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


def talker_of(toward: str) -> str:
    return CALLER if toward == CALLEE else CALLEE


def shared_streams(ctx: Context, ms: MediaSession, toward: str) -> list:
    """Streams between exactly this dialog's audio addresses, toward one side, that the index
    gave to another call: one (src, dst, SSRC) stream spans several calls when endpoints reuse
    their ports and SSRC (test tools, replayed media)."""
    receiver = ms.addresses(toward, "audio")
    sender = ms.addresses(talker_of(toward), "audio")
    own = {id(s) for s in ms.streams(toward)}
    return [s for s in _streams_on(ctx, receiver) if id(s) not in own
            and split_addr(s.dst) in receiver and split_addr(s.src) in sender]


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


def two_way_intervals(ms: MediaSession, start: float, end: float,
                      settle: float = SETTLE) -> list[tuple[float, float]]:
    """Parts of [start, end) where the current session is two-way (`settle` s after a change)."""
    out = []
    timeline_states = states(ms)
    for i, (t, caller, callee) in enumerate(timeline_states):
        t_next = timeline_states[i + 1][0] if i + 1 < len(timeline_states) else end
        if caller and callee:
            lo = max(start, t + (settle if i else 0.0))
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


def packet_interval(streams) -> float:
    """Seconds between packets of the busiest stream (its duration over its packets), kept
    within 5-200 ms: the pace the windows of §9.1 are measured in."""
    busiest = max(streams, key=lambda s: s.packets, default=None)
    if busiest is None or busiest.packets < 2 or busiest.duration <= 0:
        return 0.02
    return min(MAX_INTERVAL, max(MIN_INTERVAL, busiest.duration / (busiest.packets - 1)))


def suppression(streams, ms: MediaSession, toward: str, intervals=None) -> dict:
    """Signs that the sender of these streams suppresses silence (VAD/DTX): comfort-noise packets
    (RFC 3389, PT 13 or a CN rtpmap) and talkspurt marker bits (RFC 3551 §4.1); with `intervals`
    also a sparse stream whose sequence numbers have no gap (RFC 3550 §5.1: the sender chose not
    to send, nothing was lost) spread over at least half of them; {} when none."""
    found = {}
    if intervals:
        span = sum(hi - lo for lo, hi in intervals)
        for stream in streams:
            n, spread = count_in(timeline([stream]), intervals)
            if n >= SPARSE_MIN and spread >= span / 2 and stream.max_gap_s >= SPARSE_GAP \
                    and not stream.lost and not stream.seq_gaps:
                found["sparse_without_loss"] = f"{stream.src} -> {stream.dst}"
                break
    cn = _cn_packets(streams, ms, toward)
    if cn:
        found["comfort_noise_packets"] = cn
    markers = sum(getattr(s, "markers", 0) for s in streams)
    if markers >= TALKSPURTS:
        found["talkspurt_markers"] = markers
    return found


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
        for toward in (CALLEE, CALLER):
            back = CALLER if toward == CALLEE else CALLEE
            forward_streams = audio_streams(ms, toward)
            if not forward_streams:
                continue
            pace = packet_interval(forward_streams) * WINDOW_PACKETS
            settle = min(SETTLE, pace)
            intervals = two_way_intervals(ms, start + settle, end, settle)
            window = sum(hi - lo for lo, hi in intervals)
            if window < min(MIN_WINDOW, pace):
                continue
            sent, spread = count_in(timeline(forward_streams), intervals)
            if sent < ONE_WAY_MIN or spread < min(ONE_WAY_SPREAD, pace):
                continue
            back_streams = audio_streams(ms, back) + shared_streams(ctx, ms, talker_of(toward))
            returned, _ = count_in(timeline(back_streams), intervals)
            if returned >= ONE_WAY_RATIO * sent:
                continue
            if suppression(back_streams, ms, back, intervals) \
                    and any(s.packets for s in back_streams):
                continue        # §9.1 trap: the back side sends only while its user speaks
            key = (call.call_id, _label(ms, CALLER), _label(ms, CALLEE), toward)
            if key in done:
                continue
            done.add(key)
            window_facts = {"sent_in_window": sent, "returned_in_window": returned,
                            "window_s": round(window, 3), "settle_s": round(settle, 3),
                            "from": intervals[0][0], "to": intervals[-1][1]}
            # RFC 3550 sequence numbers tell how many packets the silent side really sent
            estimated = sum(count_in(timeline([s]), intervals)[0] / max(1.0 - s.loss_ratio, 0.01)
                            for s in back_streams)
            out.append(_one_way_finding(ctx, call, ms, toward, forward_streams, back_streams,
                                        window_facts, estimated >= ONE_WAY_RATIO * sent))
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


def _one_way_finding(ctx, call, ms: MediaSession, toward: str, forward_streams, back_streams,
                     window_facts: dict, capture_lost: bool) -> Finding:
    """The text names the packet counts of the streams the call's stream table lists."""
    silent = toward                     # the side that receives but sends (almost) nothing back
    talker = CALLER if toward == CALLEE else CALLEE
    sent = sum(s.packets for s in forward_streams)
    back = sum(s.packets for s in back_streams)
    a, b = f"the {talker} ({_label(ms, talker)})", f"the {silent} ({_label(ms, silent)})"
    advertised = ms.addresses(talker)
    relayed = sorted({s.src for s in forward_streams if split_addr(s.src) not in advertised})
    flow = fill(ONE_WAY_TEXT.split(" So ")[0], A=a, B=b, n=f"{sent:,}")
    if relayed:
        flow = flow.replace(f"({sent:,} packets)", f"({sent:,} packets, sent from "
                                                   f"{', '.join(relayed)})")
    if back:
        flow = flow.replace("but nothing came back", f"but only {back:,} came back")
        if not window_facts["returned_in_window"]:
            flow += (f" {'It was not' if back == 1 else 'None of them was'} sent between "
                     f"{clock_at(ctx, window_facts['from'])} and "
                     f"{clock_at(ctx, window_facts['to'])}, while the call was up and two-way.")
    consequence = (f" So the {silent}'s user could hear the {talker}, while the {talker}'s user "
                   "heard silence.")
    explanation = flow + consequence
    evidence = {"sent": sent, "returned": back, "toward": silent,
                talker: _label(ms, talker), silent: _label(ms, silent),
                "streams": [f"{s.src} -> {s.dst}" for s in forward_streams],
                "stream_packets": {f"{s.src} -> {s.dst}": s.packets
                                   for s in (*forward_streams, *back_streams)},
                **window_facts}
    stray = _stray(ctx, ms, silent)
    nat = nat_facts(ms)
    if stray:
        explanation += (f" Packets from the {silent}'s audio address were seen going elsewhere: "
                        + ", ".join(stray[:3]) + ". It sends its audio to an address this call "
                        "did not agree on.")
        evidence["stray"] = stray
    elif nat:
        explanation += (" This capture shows NAT: " + "; ".join(nat) + ". " +
                        ONE_WAY_TEXT.split("silence. ")[1])
        evidence["nat"] = nat
    elif relayed:
        explanation += (f" The {talker}'s audio comes from {', '.join(relayed)}, not from the "
                        "address in its SDP: a NAT or a media relay sits on the path, and the "
                        f"{silent}'s audio may be going to the SDP address instead. Compare the "
                        "audio addresses in the highlighted SDP with where the audio actually "
                        "comes from and goes to.")
        evidence["relayed_from"] = relayed
    else:
        explanation += (" This capture shows no NAT between the two ends (no side advertises a "
                        "private audio address while its SIP comes from another address), so it "
                        f"does not show why the {silent} sent {'next to ' if back else ''}nothing "
                        "back: check that it sends "
                        "audio at all (mute, a codec it cannot encode) and any firewall between "
                        f"it and the {talker}.")
    exchange = (ms.completed() or ms.exchanges)[-1]
    messages = [m for m in (exchange.offer, exchange.answer) if m is not None]
    path = ""
    expected = sum(s.expected for s in back_streams)
    lost = sum(s.lost for s in back_streams)
    if back and capture_lost:
        path = (f"the sequence numbers of the {silent}'s packets show {expected:,} were sent while "
                f"{back:,} were captured ({lost:,} lost): the capture (or the network before it) "
                "lost them, so this is not proven one-way audio")
        evidence["back_expected"], evidence["back_lost"] = expected, lost
    elif _same_host(ctx, ms):
        path = ("both ends' media addresses are on the same host, so the return audio never "
                "crossed the captured interface")
    elif (move := unseen_move(ctx, ms)) is not None:
        kind, answered, a_addr, b_addr = move
        path = (f"the {kind} answered at {clock_at(ctx, answered)} moved the media to {a_addr} / "
                f"{b_addr}, and this capture shows no packet of that path, so the audio may "
                "have flowed there, off this capture point")
        evidence["moved_to"] = [a_addr, b_addr]
        evidence["moved_at"] = answered
    elif not visible(ctx, ms, silent):
        path = (f"no packet of any kind from the {silent}'s hosts is in this capture, so its "
                "audio may take a path this capture point does not see")
    undecided = ctx.undecided(messages[0].ts if messages else ctx.session.end, path=path) \
        if path else None
    title = f"One-way audio: {sent:,} packets to the {silent}, {back:,} back"
    if path:        # undecided: what the customer heard is a possibility, not a fact (pattern 2)
        explanation = explanation.replace(consequence, (
            f" If the {silent} really sent {'only that' if back else 'nothing'} back, its user "
            f"could hear the {talker} while the {talker}'s user heard silence."))
        title = (f"One-way audio seen here: {sent:,} packets to the {silent}, {back:,} back "
                 "(undecided)")
    return ctx.finding("rtp-one-way", title, explanation, messages, call=call,
                       inconclusive=bool(path), undecided=undecided,
                       rfc="RFC 3264 §6.1; RFC 8866 §5.7, §5.14", evidence=evidence)


def nat_facts(ms: MediaSession) -> list[str]:
    """NAT this capture shows for a dialog's media (D8): a side advertising a private audio
    address while its SIP comes from a public one."""
    out = []
    for side in (CALLER, CALLEE):
        sip_ip = ms.sip_ip(side)
        if not sip_ip or is_private(sip_ip):
            continue
        for ip, _ in sorted(ms.addresses(side, "audio")):
            if ip != norm_ip(sip_ip) and is_private(ip):
                out.append(f"the {side} advertises the private audio address {ip} while its "
                           f"SIP comes from {sip_ip}")
                break
    return out


def _stray(ctx: Context, ms: MediaSession, side: str) -> list[str]:
    """Streams sent from the silent side's media address to somewhere this dialog did not name."""
    own = ms.addresses(side, "audio")
    named = ms.addresses(CALLER) | ms.addresses(CALLEE)
    attached = {id(s) for s in (*ms.to_callee, *ms.to_caller)}
    out = []
    for stream in getattr(ctx.session.media, "streams", []):
        if id(stream) not in attached and split_addr(stream.src) in own \
                and split_addr(stream.dst) not in named:
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
        # the media path in effect when media was due: a re-INVITE/UPDATE/REFER-driven offer
        # answered by then (a PBX's direct media) may have moved it between other hosts
        current = max((e for e in pairs if e.answer.ts <= start + NO_MEDIA_WAIT
                       and e.offer_desc.audio() is not None and e.answer_desc.audio() is not None
                       and e.offer_desc.audio().endpoint() and e.answer_desc.audio().endpoint()),
                      key=lambda e: e.answer.ts, default=first)
        key = (call.call_id, _label(ms, CALLER), _label(ms, CALLEE))
        if key in done:
            continue
        done.add(key)
        out.append(_no_media_finding(ctx, call, ms, first, current, start, end, later))
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


def _endpoint_text(addr: tuple[str, int] | None) -> str:
    if addr is None:
        return "no address"
    ip, port = addr
    return f"{'[' + ip + ']' if ':' in ip else ip}:{port}"


def _no_media_finding(ctx, call, ms, first, current, start: float, end: float,
                      later: int) -> Finding:
    a_end = current.desc_of(CALLER).audio().endpoint()
    b_end = current.desc_of(CALLEE).audio().endpoint()
    a_addr, b_addr = _endpoint_text(a_end), _endpoint_text(b_end)
    evidence = {"caller_media": a_addr, "callee_media": b_addr, "window_s": round(end - start, 3)}
    messages = [m for m in (first.offer, first.answer, ms.ack, ms.bye) if m is not None]
    moved = current is not first
    mover = {"reinvite": "re-INVITE", "update": "UPDATE", "prack": "PRACK"}.get(
        current.kind, "offer") if moved else ""
    if moved:
        messages += [m for m in (current.offer, current.answer) if m is not None]
        evidence["moved_by"] = mover
    unexpected = _unexpected(ctx, ms, start, end)
    if unexpected:
        evidence["unexpected"] = unexpected
    if later:
        evidence["packets_later"] = later
        first_packet = min((s.first_ts for s in _streams_on(ctx, {a_end, b_end} - {None})
                            if s.first_ts >= ms.answered.ts), default=None)
        delay = (first_packet - ms.answered.ts) if first_packet is not None else None
        when = (f"{delay:.1f} s after the answer" if delay is not None
                else f"more than {NO_MEDIA_WAIT:.0f} s after the answer")
        evidence["delay_s"] = round(delay, 1) if delay is not None else None
        evidence["wait_s"] = NO_MEDIA_WAIT
        explanation = (f"The call connected, but audio between {a_addr} and {b_addr} only started "
                       f"{when}: until then the customer heard silence (RTP is due within "
                       f"{NO_MEDIA_WAIT:.0f} s). Check for slow media setup (ICE, a media server, "
                       "a firewall opening late).")
        if unexpected:
            explanation += " Media on unexpected ports: " + ", ".join(unexpected[:3]) + "."
        return ctx.finding("rtp-no-media", f"Audio started {when} ({a_addr} / {b_addr})",
                           explanation, messages, call=call, severity="warning",
                           rfc="RFC 3264 §6.1", evidence=evidence)
    explanation = fill(NO_MEDIA_TEXT, A_addr=a_addr, B_addr=b_addr)
    nat = nat_facts(ms)
    if nat:
        explanation += " This capture shows NAT: " + "; ".join(nat) + "."
        evidence["nat"] = nat
    else:       # a NAT cause only where the capture shows one (issue 14 pattern 1)
        explanation = explanation.replace("both sides behind NAT with private addresses, ", "")
    if moved:
        explanation = explanation.replace(
            "The two ends agreed", f"After the {mover} answered at "
            f"{clock_at(ctx, current.answer.ts)} moved the media, the two ends agreed")
    if unexpected:
        explanation += " Media on unexpected ports: " + ", ".join(unexpected[:3]) + "."
    seen = "media on unexpected ports of these hosts is captured" if unexpected else \
        path_seen(ctx, a_end, b_end)
    if seen:
        evidence["vantage"] = seen
        return ctx.finding("rtp-no-media", f"No RTP in either direction after answer ({a_addr} / "
                           f"{b_addr})", explanation, messages, call=call,
                           rfc="RFC 3264 §6.1", evidence=evidence)
    # Absence is claimed only where this capture provably sees the path (catalog §9.2 traps:
    # a capture filter, direct media between endpoints that bypasses the capture point).
    explanation = (f"The call connected and the two ends agreed to send audio between {a_addr} "
                   f"and {b_addr}, but this capture holds no packet of that media.")
    path = (f"no packet to or from {a_addr} or {b_addr} is in the capture, nor media between "
            "those two hosts, nor media of either host with other hosts, so this capture point "
            "may not be on the media path")
    if moved:
        path = (f"the {mover} answered at {clock_at(ctx, current.answer.ts)} moved the media to "
                f"{a_addr} / {b_addr}, and " + path)
    evidence["vantage"] = ""
    return ctx.finding("rtp-no-media", f"No RTP of this call at this capture point ({a_addr} / "
                       f"{b_addr}): media path not visible here", explanation, messages,
                       call=call, inconclusive=True,
                       undecided=ctx.undecided(ms.answered.ts, path=path),
                       rfc="RFC 3264 §6.1", evidence=evidence)


def path_seen(ctx: Context, a: tuple[str, int] | None, b: tuple[str, int] | None) -> str:
    """Why this capture provably sees the media path a <-> b ('' when it does not): a packet of
    any kind (RTP, RTCP, STUN, UDPTL) to or from either address (or its RTCP port), media
    between the two hosts, or media of either host with two or more other hosts (the capture
    is taken on or next to that host)."""
    cache = vars(ctx).setdefault("_rtp_cache", {})
    flows = cache.get("flows")
    if flows is None:
        addresses, pairs, peers = set(), set(), {}
        media = ctx.session.media
        for group in (getattr(media, "streams", []), getattr(media, "rtcp", []),
                      getattr(media, "other", [])):
            for flow in group:
                s, d = split_addr(flow.src), split_addr(flow.dst)
                if not s or not d:
                    continue
                addresses.update((s, d))
                pairs.add(frozenset((s[0], d[0])))
                peers.setdefault(s[0], set()).add(d[0])
                peers.setdefault(d[0], set()).add(s[0])
        flows = cache["flows"] = (addresses, pairs, peers)
    addresses, pairs, peers = flows
    ends = [e for e in (a, b) if e is not None]
    for ip, port in ends:
        if (ip, port) in addresses or (ip, port + 1) in addresses:
            return f"packets to or from {_endpoint_text((ip, port))} are captured"
    if a is not None and b is not None and frozenset((a[0], b[0])) in pairs:
        return f"media between {a[0]} and {b[0]} is captured"
    for ip, _ in ends:
        others = peers.get(ip, set()) - {ip}
        if len(others) >= 2:
            return f"media of {ip} with {len(others)} other hosts is captured"
    return ""


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
            if suppression(streams, ms, toward):
                continue           # §9.3 trap: VAD/DTX, the sender is silent while its user is
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


def media_moves(ms: MediaSession) -> list:
    """(exchange, caller address, callee address) of every completed mid-call offer/answer that
    changed an audio address (a re-INVITE/UPDATE of a PBX's direct media, a transfer)."""
    out, previous = [], None
    for exchange in ms.completed():
        offer, answer = exchange.offer_desc.audio(), exchange.answer_desc.audio()
        if offer is None or answer is None:
            continue
        ends = (exchange.desc_of(CALLER).audio().endpoint(),
                exchange.desc_of(CALLEE).audio().endpoint())
        if previous is not None and ends != previous and None not in ends:
            out.append((exchange, *ends))
        previous = ends
    return out


def unseen_move(ctx: Context, ms: MediaSession):
    """(kind, answer time, caller address, callee address) of the first media move to a path
    this capture provably does not see (path_seen), None when there is none."""
    for exchange, a, b in media_moves(ms):
        if not path_seen(ctx, a, b):
            kind = {"reinvite": "re-INVITE", "update": "UPDATE"}.get(exchange.kind, "offer")
            return kind, exchange.answer.ts, _endpoint_text(a), _endpoint_text(b)
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
    for exchange, _, _ in media_moves(ms):
        if t - HOLD_GRACE <= exchange.answer.ts <= t + HOLD_GRACE:
            return False        # §9.3: a new address after a re-INVITE starts a new stream
    return sending


def _stopped_finding(ctx, call, ms, sender: str, streams, gap_start: float, gap_end: float,
                     resumed: bool, lossy: list) -> Finding:
    gap = gap_end - gap_start
    last = max((s for s in streams if s.first_ts <= gap_start), key=lambda s: s.last_ts,
               default=None)
    side = f"the {sender} ({_label(ms, sender)})"
    during = [m for m in ms.call.messages if gap_start <= m.ts <= gap_end]
    t_text = "about " + clock_at(ctx, gap_start)[:-2]     # 100 ms activity buckets
    explanation = fill(STOPPED_TEXT.split(" Customers")[0], side=side, t=t_text,
                       gap=f"{gap:.0f}")
    explanation += (" The other direction kept flowing, and this side's packets show no silence "
                    "suppression (no comfort noise, no talkspurt markers), so this is not a pause "
                    "in speech.")
    nat = nat_facts(ms)
    if nat:
        explanation += (" This capture shows NAT (" + "; ".join(nat) + "): a router mapping that "
                        "expired during a silence is a common cause.")
    else:
        explanation += (" The capture does not show why: the other side may have changed its "
                        "media address without this side following, or the device stopped "
                        "sending.")
    evidence = {"side": sender, "gap_s": round(gap, 3), "resumed": resumed,
                "gap_start": gap_start, sender: _label(ms, sender),
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
    undecided = None
    if lossy:
        evidence["lost"] = lossy[0].lost
        undecided = ctx.undecided(gap_start, path=(
            f"{lossy[0].lost:,} of the packets of {lossy[0].src} -> {lossy[0].dst} are missing "
            "from the capture (RTP sequence numbers), so the gap may be a capture artefact"))
    if notes:
        explanation += " " + " ".join(notes)
    messages = during[:10]
    if ms.bye is not None and ms.bye not in messages:
        messages.append(ms.bye)
    if not messages:
        messages = [m for m in (ms.ack, ms.answered) if m is not None]
    title = f"RTP from the {sender} stopped for {gap:.0f} s mid-call"
    if lossy:       # undecided: the title states what the capture holds, not that it stopped
        title = f"No RTP from the {sender} in the capture for {gap:.0f} s mid-call"
    return ctx.finding("rtp-stopped", title,
                       explanation, messages, call=call, rfc="RFC 3264 §6.1 (observation)",
                       inconclusive=bool(lossy), undecided=undecided, evidence=evidence)


def clock_at(ctx: Context, ts: float) -> str:
    """The time of day as every view writes it (core/timefmt.py)."""
    return timefmt.clock(ts)



def _stream_owner(ctx: Context, stream):
    """(call, media session, toward) of a stream the offer/answer index tied to a call."""
    found = media_index(ctx.session).direction.get(id(stream))
    if found is None:
        return None
    toward, ms = found
    return ms.call, ms, toward


def _sender(ctx: Context, ms: MediaSession, stream) -> str:
    """'the device at 1.2.3.4:5060 (UA)': the SIP element of the call on the host a stream
    comes from, else 'the device at <stream source>'."""
    found = split_addr(stream.src)
    host = found[0] if found else ""
    for message in ms.call.messages:
        if message.src_host == host:
            return ctx.device(message.src)
    return f"the device at {stream.src}"


def _reverse(ctx: Context, stream) -> list:
    """The captured streams that flow back from a stream's destination to its source."""
    return [s for s in ctx.session.media.streams
            if s.src == stream.dst and s.dst == stream.src and s.packets]


def codec_of(ctx: Context, stream) -> str:
    """The codec a stream carries: its main payload type named by the SDP of the side it goes to
    (RFC 3264 §5.1), else by the RFC 3551 static table, else 'payload type N'."""
    pt = stream.main_pt
    if pt is None:
        return "no payload"
    names = media_index(ctx.session).pt_names(stream)
    if pt in names:
        return names[pt]
    static = STATIC_PAYLOAD_TYPES.get(pt)
    return f"{static[0]}/{static[1]}" if static else f"payload type {pt}"


# -- rtp-duplicate-packets (project rule, docs/fault-reference.md) --------------------------------

DUPLICATE_MIN = 10        # repeats of the previous sequence number, at least ...
DUPLICATE_SHARE = 0.01    # ... and this share of the stream
CLEAN_STREAM_MIN = 50     # a stream this long without a duplicate shows the capture does not double

DUPLICATE_TEXT = (
    "{sender} sent {n} of the {packets} packets of its stream {stream} twice: each copy repeats "
    "the SSRC and sequence number of the packet before it (RFC 3550 §5.1). These are duplicates, "
    "not loss. Receivers with a strict jitter buffer play or drop the copies unpredictably, and "
    "the extra packets double the bandwidth of that direction; look for a sender (or a "
    "redundancy/bonding setting on its network path) that transmits each packet twice.")


@rule("rtp-duplicate-packets", text=DUPLICATE_TEXT, index="media")
def duplicate_packets(ctx: Context) -> list[Finding]:
    if not has_media(ctx):
        return []
    streams = ctx.session.media.streams
    doubled = [s for s in streams if s.duplicates >= DUPLICATE_MIN
               and s.duplicates >= DUPLICATE_SHARE * s.packets]
    if not doubled:
        return []
    clean = sum(1 for s in streams if s.packets >= CLEAN_STREAM_MIN and not s.duplicates)
    out = []
    for stream in doubled:
        owner = _stream_owner(ctx, stream)
        if owner is None:
            continue
        call, ms, toward = owner
        out.append(_duplicate_finding(ctx, call, ms, toward, stream, clean))
    return out


def _duplicate_finding(ctx, call, ms: MediaSession, toward: str, stream, clean: int) -> Finding:
    name = f"{stream.src} -> {stream.dst} (SSRC 0x{stream.ssrc:08X})"
    explanation = fill(DUPLICATE_TEXT, sender=_sender(ctx, ms, stream), n=f"{stream.duplicates:,}",
                       packets=f"{stream.packets:,}", stream=name)
    first, last = stream.first_dup_ts, stream.last_dup_ts
    evidence = {"stream": f"{stream.src} -> {stream.dst}", "ssrc": f"0x{stream.ssrc:08X}",
                "duplicates": stream.duplicates, "packets": stream.packets, "lost": stream.lost,
                "clean_streams": clean, "clean_stream_min": CLEAN_STREAM_MIN,
                "sender": _sender(ctx, ms, stream)}
    if first is not None and last is not None:
        evidence["first_duplicate"], evidence["last_duplicate"] = first, last
        explanation += f" The copies were sent from {clock_at(ctx, first)} to {clock_at(ctx, last)}"
        answered = ms.answered.ts if ms.answered is not None else None
        if answered is not None and last < answered:
            explanation += (f", all during early media, before the call was answered at "
                            f"{clock_at(ctx, answered)}.")
        elif answered is not None and first < answered:
            explanation += (f"; the call was answered at {clock_at(ctx, answered)}, during "
                            "that time.")
        else:
            explanation += "."
    messages = [m for e in ms.exchanges[:1] for m in (e.offer, e.answer) if m is not None]
    if ms.answered is not None:
        messages.append(ms.answered)
    if clean:
        explanation += (f" The capture itself does not double packets: "
                        f"{plural(clean, 'other stream')} in it, each at least {CLEAN_STREAM_MIN} "
                        f"long, {'has' if clean == 1 else 'have'} no duplicate.")
        return ctx.finding("rtp-duplicate-packets", f"Duplicated RTP: {stream.duplicates:,} of "
                           f"{stream.packets:,} packets sent twice ({stream.src} -> {stream.dst})",
                           explanation, messages, call=call, rfc="RFC 3550 §5.1, §A.1",
                           evidence=evidence)
    return ctx.finding("rtp-duplicate-packets", f"RTP packets captured twice: {stream.duplicates:,}"
                       f" of {stream.packets:,} ({stream.src} -> {stream.dst})", explanation,
                       messages, call=call, rfc="RFC 3550 §5.1, §A.1", evidence=evidence,
                       inconclusive=True, undecided=ctx.undecided(first or stream.first_ts, path=(
                           "no other stream in this capture is long enough to show whether the "
                           "capture point itself doubles packets (a mirror port copying both "
                           "directions does)")))


# -- rtp-ptime-above-maxptime (project rule, docs/fault-reference.md) -----------------------------

PTIME_SLACK_MS = 0.5

PTIME_TEXT = (
    "{sender} sends {ptime} ms of audio per packet ({codec}, {stream}), but the receiver's SDP "
    "({where}) says a=maxptime:{maxptime}: it accepts at most {maxptime} ms per packet (RFC 8866 "
    "§6.4). Set the sender's packetisation (ptime) to {maxptime} ms or less for this peer.")


@rule("rtp-ptime-above-maxptime", text=PTIME_TEXT, index="media")
def ptime_above_maxptime(ctx: Context) -> list[Finding]:
    if not has_media(ctx):
        return []
    out = []
    for stream in ctx.session.media.streams:
        ptime = stream.payload_ms
        if ptime is None:
            continue
        owner = _stream_owner(ctx, stream)
        if owner is None:
            continue
        call, ms, toward = owner
        limit = _maxptime(ms, toward)
        if limit is None or ptime <= limit[0] + PTIME_SLACK_MS:
            continue
        out.append(_ptime_finding(ctx, call, ms, toward, stream, ptime, *limit))
    return out


def _maxptime(ms: MediaSession, side: str):
    """(maxptime, message) from the audio line of the SDP a side sent, latest first."""
    for exchange in sorted(ms.exchanges, key=lambda e: e.time, reverse=True):
        desc = exchange.desc_of(side)
        line = desc.audio() if desc is not None else None
        if line is not None and line.maxptime:
            return line.maxptime, exchange.message_of(side)
    return None


def _ptime_finding(ctx, call, ms: MediaSession, toward: str, stream, ptime: float,
                   maxptime: int, where) -> Finding:
    codec = codec_of(ctx, stream)
    payload = (stream.octets - 12 * stream.packets) / stream.packets
    explanation = fill(PTIME_TEXT, sender=_sender(ctx, ms, stream), ptime=f"{ptime:.0f}",
                       codec=f"{codec}, {payload:.0f} payload bytes per packet",
                       stream=f"{stream.src} -> {stream.dst}",
                       where=where.label if where is not None else "its answer",
                       maxptime=str(maxptime))
    if stream.packets >= 2 and _reverse(ctx, stream):
        explanation += (f" Here the receiver tolerated it: the stream carried "
                        f"{stream.packets:,} packets over {stream.duration:.1f} s and audio "
                        "flowed back; a strict receiver drops or garbles such packets.")
    evidence = {"stream": f"{stream.src} -> {stream.dst}", "ptime_ms": round(ptime, 1),
                "sender": _sender(ctx, ms, stream),
                "maxptime_ms": maxptime, "codec": codec, "payload_bytes": round(payload, 1),
                "packets": stream.packets, "duration_s": round(stream.duration, 3)}
    messages = [where] if where is not None else []
    return ctx.finding("rtp-ptime-above-maxptime", f"{ptime:.0f} ms packets sent against "
                       f"a=maxptime:{maxptime} ({stream.src} -> {stream.dst})", explanation,
                       messages, call=call, rfc="RFC 8866 §6.4; RFC 3551 §4.5",
                       evidence=evidence)
