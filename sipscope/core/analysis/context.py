"""What every rule gets: the session, the options, and the shared judgements of catalog §1."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from sipscope.core.analysis.catalog import CATALOG
from sipscope.core.analysis.finding import (UNDECIDED_EXCERPT, UNDECIDED_HORIZON,
                                            UNDECIDED_OTHER, UNDECIDED_PATH, Finding, Undecided)
from sipscope.core.analysis.options import AnalysisOptions
from sipscope.core.model.call import Call
from sipscope.core.model.message import Message, host_of
from sipscope.core.model.session import Session

# User-Agent / Server (RFC 3261 §20.41, §20.35): a message whose bytes hold neither name anywhere
# cannot have either header, so it needs no full parse
_UA_HEADER = re.compile(rb"user-agent|server", re.IGNORECASE)

T1, T2, T4 = 0.5, 4.0, 5.0      # RFC 3261 §17.1.1.1 defaults (catalog D6)
TIMER_B = 64 * T1               # 32 s: Timers B, F, H and the 2xx retransmission window


class Context:
    """Rule input.  Helpers here implement catalog D6 (timers), D7 (horizon, vantage), D8."""

    def __init__(self, session: Session, options: AnalysisOptions | None = None) -> None:
        self.session = session
        self.options = options or AnalysisOptions()
        self._senders: set[str] | None = None
        self._ua: dict[str, str] = {}
        self._by_src: dict[str, list[Message]] | None = None
        self._t1: dict[str, float] | None = None

    # -- D7 horizon and vantage ---------------------------------------------------------------
    @property
    def excerpt(self) -> bool:
        return self.session.excerpt

    def horizon_ok(self, trigger: float, window: float) -> bool:
        """The capture covers [trigger, trigger + window]; never true for a curated excerpt."""
        return not self.excerpt and self.session.end >= trigger + window

    def undecided(self, trigger: float, window: float = TIMER_B, path: str = "",
                  what: str = "it") -> Undecided:
        """D7: why an absence cannot be decided here, as one sentence with its numbers.

        trigger: time of the message whose answer (ACK, PRACK ...) is missing; window: the seconds
        the decision needs after it (64*T1 = 32 s for Timers B/F/H and the 2xx retransmissions);
        path: a clause saying that (and why) the missing message would travel where this capture
        does not look, e.g. "the ACK goes to the Contact 10.0.0.9:5060, and no packet to or from
        that address is in the capture"; what: the trigger message named in the sentence.
        Pass the result as ctx.finding(..., inconclusive=True, undecided=...)."""
        if self.excerpt:
            return Undecided("Undecided: this trace is a curated excerpt (its messages were picked "
                             "by hand), so a message missing from it proves nothing.",
                             {"undecided": UNDECIDED_EXCERPT})
        if path:
            return Undecided(f"Undecided: {path}.", {"undecided": UNDECIDED_PATH, "path": path})
        after = max(self.session.end - trigger, 0.0)
        shown = _secs(after)
        if after < window:
            return Undecided(f"Undecided: the capture ends {shown} s after {what}, and deciding "
                             f"this needs {_secs(window)} s.",
                             {"undecided": UNDECIDED_HORIZON, "capture_after_s": round(after, 3),
                              "needed_s": round(window, 3)})
        return Undecided(f"Undecided: the capture runs on for {shown} s after {what}, but what it "
                         "shows does not settle this.",
                         {"undecided": UNDECIDED_OTHER, "capture_after_s": round(after, 3)})

    def seen_sending(self, address: str) -> bool:
        """Vantage: some packet from this transport address (or host) was captured."""
        if self._senders is None:
            self._senders = {m.src for m in self.session.messages}
            self._senders |= {host_of(a) for a in self._senders}
        return address in self._senders

    # -- elements ----------------------------------------------------------------------------
    def user_agent(self, address: str) -> str:
        """The User-Agent (or Server) an element sends from this address, '' when unknown."""
        if address not in self._ua:
            found = ""
            for message in self._sent_by_address().get(address, ()):
                if _UA_HEADER.search(message.raw):      # cheap superset test before the parse
                    found = message.sip.user_agent
                    if found:
                        break
            self._ua[address] = found
        return self._ua[address]

    def _sent_by_address(self) -> dict[str, list[Message]]:
        """Messages per source address, in time order (built once, on first use)."""
        if self._by_src is None:
            by_src: dict[str, list[Message]] = {}
            for message in self.session.messages:
                by_src.setdefault(message.src, []).append(message)
            self._by_src = by_src
        return self._by_src

    def device(self, address: str) -> str:
        ua = self.user_agent(address)
        return f"the device at {address} ({ua})" if ua else f"the device at {address}"

    def element_t1(self, address: str) -> float:
        """D6: an element's T1 is its first retransmission gap when that is 0.1-3 s."""
        if self._t1 is None:      # one pass: the first qualifying transaction of each sender
            t1: dict[str, float] = {}
            for transaction in self.session.transactions:
                request = transaction.request
                if request is None or request.src in t1:
                    continue
                copies = [m for m in transaction.messages
                          if m.is_request and m.method == request.method]
                if len(copies) >= 2:
                    gap = copies[1].ts - copies[0].ts
                    if 0.1 <= gap <= 3.0:
                        t1[request.src] = gap
            self._t1 = t1
        return self._t1.get(address, T1)

    # -- findings ----------------------------------------------------------------------------
    def finding(self, rule_id: str, title: str, explanation: str, messages: list[Message],
                call: Call | None = None, severity: str | None = None, scope: str = "call",
                rfc: str = "", inconclusive: bool = False, evidence: dict | None = None,
                source: str | None = None, undecided: Undecided | None = None) -> Finding:
        """Build a Finding; an inconclusive one is shown as info (catalog §0) and says why it is
        undecided (`undecided`, see Context.undecided; without it the reason is worked out from
        the first message and the default 32 s window)."""
        evidence = dict(evidence or {})
        if inconclusive:
            severity = "info"
            if undecided is None:
                trigger = min((m.ts for m in messages), default=self.session.end)
                undecided = self.undecided(trigger, TIMER_B, what="the first message shown")
            if undecided is not None:
                if undecided.sentence not in explanation:
                    explanation = f"{explanation} {undecided.sentence}"
                for key, value in undecided.evidence.items():
                    evidence.setdefault(key, value)
        call_id = call.call_id if call is not None else (messages[0].call_id if messages and scope != "source" else None)
        return Finding(id=rule_id, severity=severity or CATALOG[rule_id][1], title=title,
                       explanation=explanation, messages=sorted({m.index for m in messages}),
                       call_id=call_id, scope=scope, rfc=rfc, inconclusive=inconclusive,
                       evidence=evidence, source=source)


def _secs(value: float) -> str:
    """Seconds for a sentence: one decimal below 10 s, whole seconds above."""
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


@lru_cache(maxsize=65536)
def is_private(host: str) -> bool:
    """D8: RFC 1918, RFC 6598, link-local, loopback and ULA addresses are private."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if address.version == 4:
        return any(address in net for net in _PRIVATE_V4)
    return (address.is_private or address.is_link_local or address.is_loopback
            or address.is_site_local)        # fec0::/10, deprecated by RFC 3879 but still seen


_PRIVATE_V4 = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
    "127.0.0.0/8"))


def is_hold_address(host: str) -> bool:
    """D8: 0.0.0.0 and :: in SDP mean hold / no address."""
    return host.strip() in ("0.0.0.0", "::")


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
