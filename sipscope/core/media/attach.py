"""Attach media streams to a dialog by its negotiated media addresses (D10 attach rule).

Pure functions over plain values, so the session model can call them with whatever it holds:
a stream is anything with `src` and `dst` ("ip:port" or "[v6]:port") and, for time windows,
`first_ts` / `last_ts` (RtpStream, RtcpPair and PacketPair all qualify).  A side's advertised
media address is the SDP `c=` address plus the `m=` port, as `(ip, port)`; several m= lines
may be given as a list of such pairs.

A stream is "caller_to_callee" when it goes toward the callee's media address, and the other
way round (D10: "A->B" means packets whose destination is B's advertised or latched address).
Scores, best first:
  3  destination = one side's advertised address and source = the other side's (symmetric RTP);
  2  destination = one side's advertised address (D10 first rule; RTCP: port+1, or the same port
     with rtcp-mux);
  1  NAT latching: source = one side's advertised address and destination IP = the other side's
     SIP source IP (the sender answers to where the packets came from, not to the private c=).
D10's second rule (source IP = peer's SIP IP and destination = the local advertised address) is
already covered by score 2 and 3.  Hold addresses (0.0.0.0, ::) and port 0 never match (D8).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from sipscope.core.sip.numbers import header_int

CALLER_TO_CALLEE = "caller_to_callee"
CALLEE_TO_CALLER = "callee_to_caller"

Addr = tuple[str, int]
AddrInput = Addr | Sequence[Addr] | None

_HOLD = ("0.0.0.0", "::")                       # RFC 3264 §8.4; D8
_WINDOW_SLACK_S = 2.0                           # media may start a little before the 200 OK


class _Flow(Protocol):
    src: str
    dst: str


@lru_cache(maxsize=4096)
@lru_cache(maxsize=65536)
def norm_ip(ip: str) -> str:
    """Canonical text of an IP address (IPv6 compressed, lower case); other text lower-cased."""
    text = ip.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(text.split("%")[0]))
    except ValueError:
        return text.lower()


@lru_cache(maxsize=65536)
def split_addr(addr: str) -> Addr | None:
    """("ip", port) from "ip:port" or "[v6]:port"; None when there is no port."""
    text = addr.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, sep, port = text.rpartition(":")
        if ":" in host:                          # bare IPv6 without brackets: no usable port
            return None
    number = header_int(port) if sep else None
    return None if number is None else (norm_ip(host), number)


def _addresses(media: AddrInput, rtcp: bool, rtcp_mux: bool) -> frozenset[Addr]:
    """The transport addresses a side receives on (RTCP: port+1 unless rtcp-mux, RFC 5761)."""
    if media is None:
        return frozenset()
    pairs: Iterable[Any] = [media] if isinstance(media, tuple) and len(media) == 2 \
        and isinstance(media[1], int) else media
    out = set()
    for pair in pairs:
        if not pair or pair[0] is None or not pair[1]:
            continue
        ip = norm_ip(str(pair[0]))
        if ip in _HOLD:
            continue
        port = int(pair[1]) + (1 if rtcp and not rtcp_mux else 0)
        out.add((ip, port))
    return frozenset(out)


def stream_direction(src: str, dst: str, caller: frozenset[Addr], callee: frozenset[Addr],
                     caller_sip_ip: str | None, callee_sip_ip: str | None
                     ) -> tuple[str, int] | None:
    """(direction, score) of one flow against one dialog's addresses, None when unrelated."""
    s, d = split_addr(src), split_addr(dst)
    if s is None or d is None:
        return None
    if d in callee:
        return CALLER_TO_CALLEE, 3 if s in caller else 2
    if d in caller:
        return CALLEE_TO_CALLER, 3 if s in callee else 2
    if s in callee and caller_sip_ip and d[0] == norm_ip(caller_sip_ip):
        return CALLEE_TO_CALLER, 1
    if s in caller and callee_sip_ip and d[0] == norm_ip(callee_sip_ip):
        return CALLER_TO_CALLEE, 1
    return None


def _in_window(flow: Any, window: tuple[float | None, float | None] | None) -> bool:
    if window is None:
        return True
    start, end = window
    first = getattr(flow, "first_ts", None)
    last = getattr(flow, "last_ts", None)
    if first is None or last is None:
        return True
    if end is not None and first > end + _WINDOW_SLACK_S:
        return False
    return not (start is not None and last < start - _WINDOW_SLACK_S)


def match_streams(streams: Iterable[_Flow], caller_media: AddrInput, callee_media: AddrInput,
                  caller_sip_ip: str | None = None, callee_sip_ip: str | None = None, *,
                  window: tuple[float | None, float | None] | None = None,
                  rtcp: bool = False, rtcp_mux: bool = False, min_score: int = 1
                  ) -> dict[str, list]:
    """The streams of one dialog, split by direction (D10).

    caller_media / callee_media: each side's advertised (ip, port) from its SDP (for the usual
    early offer: the offer's and the answer's c=/m=); window: (start, end) of the dialog, to
    leave out streams that do not overlap it (2 s slack); rtcp: match RTCP flows (port+1, or
    the same port with rtcp_mux; for an explicit a=rtcp port, pass those addresses with
    rtcp=False).  Streams keep their input order.
    """
    caller = _addresses(caller_media, rtcp, rtcp_mux)
    callee = _addresses(callee_media, rtcp, rtcp_mux)
    out: dict[str, list] = {CALLER_TO_CALLEE: [], CALLEE_TO_CALLER: []}
    if not caller and not callee:
        return out
    for flow in streams:
        found = stream_direction(flow.src, flow.dst, caller, callee, caller_sip_ip, callee_sip_ip)
        if found and found[1] >= min_score and _in_window(flow, window):
            out[found[0]].append(flow)
    return out


@dataclass(slots=True, frozen=True)
class MediaEndpoints:
    """What `attach_streams` needs to know about one dialog's current session."""

    key: Any                                   # the caller's own dialog identifier
    caller_media: AddrInput
    callee_media: AddrInput
    caller_sip_ip: str | None = None
    callee_sip_ip: str | None = None
    start: float | None = None                 # e.g. time of the INVITE / answer
    end: float | None = None                   # e.g. time of the BYE, None if still up
    rtcp_mux: bool = False


def attach_streams(streams: Iterable[_Flow], dialogs: Sequence[MediaEndpoints], *,
                   rtcp: bool = False) -> dict[Any, dict[str, list]]:
    """Give each stream to at most one dialog: the best score wins (see the module docstring),
    then a dialog whose time window holds the stream, then the latest dialog started before it.

    Needed when many dialogs advertise the same address (SIPp's UAS uses one media port for
    every call; private c= addresses repeat behind different NATs).
    """
    prepared = [(d, _addresses(d.caller_media, rtcp, d.rtcp_mux),
                 _addresses(d.callee_media, rtcp, d.rtcp_mux)) for d in dialogs]
    by_addr: dict[Addr, list[int]] = {}
    for index, (_, caller, callee) in enumerate(prepared):
        for addr in caller | callee:
            by_addr.setdefault(addr, []).append(index)
    out: dict[Any, dict[str, list]] = {d.key: {CALLER_TO_CALLEE: [], CALLEE_TO_CALLER: []}
                                       for d in dialogs}
    for flow in streams:
        s, d = split_addr(flow.src), split_addr(flow.dst)
        candidates = set(by_addr.get(d, ())) | set(by_addr.get(s, ())) if s and d else set()
        best: tuple | None = None
        for index in candidates:
            dialog, caller, callee = prepared[index]
            found = stream_direction(flow.src, flow.dst, caller, callee,
                                     dialog.caller_sip_ip, dialog.callee_sip_ip)
            if not found:
                continue
            inside = _in_window(flow, (dialog.start, dialog.end))
            first = getattr(flow, "first_ts", None)
            started_before = dialog.start is None or first is None or dialog.start <= first
            rank = (found[1], inside, started_before,
                    dialog.start if started_before and dialog.start is not None else float("-inf"),
                    -index)
            if best is None or rank > best[0]:
                best = (rank, dialog.key, found[0])
        if best is not None:
            out[best[1]][best[2]].append(flow)
    return out
