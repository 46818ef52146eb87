"""What one source address did, counted once (catalog §11): the objects every security finding
takes its numbers, accounts and addresses from.

`Req` is one request as the security rules see it, `Source` the requests of one source host and
the judgements the rules made about it, and `Activity` the per-source summary (counts per
method, destinations, targets, answers, accepted requests, registrations granted).  A security
finding's text names only values of these objects, and its `evidence` carries the same values.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field

from sipscope.core.model.message import Message, host_of
from sipscope.core.model.transaction import Transaction
from sipscope.core.sip.numbers import header_int
from sipscope.core.sip.params import param, parse_uri

_TO = re.compile(rb"^(?:to|t)[ \t]*:[^\r\n]*?(?:sips?|tel):([^@;>\s]+)", re.I | re.M)
PROBE_METHODS = frozenset({"REGISTER", "OPTIONS", "INVITE", "SUBSCRIBE"})   # §11.2


def target_of(message: Message) -> str:
    """To user for REGISTER (the account), Request-URI user otherwise (§11.2)."""
    if message.method == "REGISTER":
        found = _TO.search(message.raw)
        return found.group(1).decode("utf-8", "replace") if found else ""
    return parse_uri(message.request_uri or "").user


@dataclass(slots=True, eq=False)
class Req:
    """One request as the security rules see it (first copy of its transaction)."""

    message: Message
    transaction: Transaction
    final: int                         # first final status, 0 when none was captured
    creds: list[dict] | tuple = ()     # parsed Authorization headers (most requests: none)
    _target: str | None = None

    @property
    def target(self) -> str:
        """To user for REGISTER, Request-URI user otherwise (read when first needed)."""
        if self._target is None:
            self._target = target_of(self.message)
        return self._target

    @property
    def ts(self) -> float:
        return self.message.ts

    @property
    def failed_auth(self) -> bool:
        return bool(self.creds) and self.final in (401, 403, 407)

    @property
    def ok(self) -> bool:
        return 200 <= self.final < 300

    def username(self) -> str:
        return next((c.get("username", "") for c in self.creds if c.get("username")), "")


@dataclass(slots=True, eq=False)
class Source:
    """The requests of one source host and what the §11 rules decided about it."""

    host: str
    requests: list[Req] = field(default_factory=list)
    scanner_ua: str = ""               # §11.1 match (a tool name, or the svmap From)
    test_tool: str = ""
    flagged: set[str] = field(default_factory=set)    # rule ids that fire for this source
    brute_success: set[str] = field(default_factory=set)
    enumeration: tuple | None = None          # (probes, peak per minute)
    bruteforce: tuple | None = None           # (failed requests, sub-cases)
    toll: tuple | None = None                 # (invites, accepted, probing, after_brute)
    _activity: Activity | None = None

    @property
    def activity(self) -> Activity:
        if self._activity is None:
            self._activity = Activity.of(self)
        return self._activity


@dataclass(slots=True)
class Binding:
    """A registration the registrar granted (RFC 3261 §10.3 step 8: the 200 lists the bindings)."""

    account: str
    contact: str            # the Contact URI the request asked for
    expires: int | None     # granted lifetime from the 200 (Contact expires, else Expires)
    request: Message
    response: Message

    def to_json(self) -> dict:
        return {"account": self.account, "contact": self.contact, "expires": self.expires,
                "request": self.request.index, "response": self.response.index}


def granted_binding(req: Req) -> Binding | None:
    """The binding an accepted REGISTER obtained, read from the 2xx (§10.3 step 8, §20.19)."""
    message = req.message
    if message.method != "REGISTER" or not req.ok:
        return None
    ok = next((m for m in req.transaction.messages if m.is_response and 200 <= m.status < 300),
              None)
    asked = [c.uri for c in message.sip.contacts if c.uri is not None]
    if ok is None or not asked:
        return None
    wanted = asked[0]
    expires = None
    for contact in ok.sip.contacts:
        if contact.uri is not None and contact.uri.user == wanted.user \
                and contact.uri.host == wanted.host:
            expires = header_int(param(contact.params, "expires"))
            break
    if expires is None:
        expires = header_int(ok.sip.get("Expires"))
    if expires == 0 or wanted.text.strip() == "*":
        return None                         # a removal (§10.2.2), not a binding
    return Binding(req.target, wanted.text, expires, message, ok)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(slots=True, eq=False)
class Activity:
    """One source's requests counted once: per method the count, the distinct destination
    sockets and hosts and the distinct targets (§11.2), the answers, what was accepted."""

    host: str
    requests: int
    first: float
    last: float
    methods: dict[str, int]                  # method -> requests, in order of first use
    destinations: dict[str, list[str]]       # method -> distinct destination sockets
    dest_hosts: dict[str, list[str]]         # method -> distinct destination hosts
    targets: dict[str, list[str]]            # method -> distinct target users (§11.2)
    answers: dict[str, int]                  # first final status -> requests
    unanswered: int
    accepted: list[Req]                      # REGISTER / INVITE answered 2xx
    bindings: list[Binding]                  # what the accepted REGISTERs were granted
    loopback: bool

    @classmethod
    def of(cls, source: Source, requests: list | None = None) -> Activity:
        """`requests`: a part of the source's requests (those of one program on a loopback
        address shared by several), else all of them."""
        reqs = source.requests if requests is None else requests
        methods: Counter = Counter()
        destinations: dict[str, dict[str, None]] = {}
        hosts: dict[str, dict[str, None]] = {}
        targets: dict[str, dict[str, None]] = {}
        answers: Counter = Counter()
        for req in reqs:
            method = req.message.method
            methods[method] += 1
            destinations.setdefault(method, {})[req.message.dst] = None
            hosts.setdefault(method, {})[host_of(req.message.dst)] = None
            if method in PROBE_METHODS and req.target:
                targets.setdefault(method, {})[req.target] = None
            if req.final:
                answers[str(req.final)] += 1
        accepted = [r for r in reqs if r.ok and r.message.method in ("REGISTER", "INVITE")]
        bindings = [b for b in map(granted_binding, accepted) if b is not None]
        return cls(source.host, len(reqs), reqs[0].ts if reqs else 0.0,
                   reqs[-1].ts if reqs else 0.0, dict(methods),
                   {k: list(v) for k, v in destinations.items()},
                   {k: list(v) for k, v in hosts.items()},
                   {k: list(v) for k, v in targets.items()}, dict(answers),
                   sum(1 for r in reqs if not r.final), accepted, bindings,
                   is_loopback(source.host))

    @property
    def duration(self) -> float:
        return self.last - self.first

    def to_json(self) -> dict:
        """The evidence every security finding of this source carries."""
        return {"requests": self.requests, "first": self.first, "last": self.last,
                "duration_s": self.duration, "methods": dict(self.methods),
                "destinations": {k: v[:50] for k, v in self.destinations.items()},
                "destination_counts": {k: len(v) for k, v in self.destinations.items()},
                "destination_hosts": {k: v[:50] for k, v in self.dest_hosts.items()},
                "destination_host_counts": {k: len(v) for k, v in self.dest_hosts.items()},
                "targets": {k: v[:50] for k, v in self.targets.items()},
                "target_counts": {k: len(v) for k, v in self.targets.items()},
                "answers": dict(self.answers), "unanswered": self.unanswered,
                "accepted": len(self.accepted),
                "accepted_messages": [r.message.index for r in self.accepted[:20]],
                "bindings": [b.to_json() for b in self.bindings[:20]],
                "loopback": self.loopback}
