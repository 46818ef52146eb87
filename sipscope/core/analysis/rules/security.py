"""Security and scanning fault rules (catalog §11): scanner User-Agents, extension enumeration,
password guessing, weak digest passwords and toll-fraud probes.

Findings are per source IP (scope "source", no call): one finding per source, with counts,
targets and a time range, so that one scan does not bury the call faults.  One pass over the
transactions builds a per-source index (shared with registration.py); only requests that need it
are read further (credentials from the raw header block, the User-Agent of prefiltered ones).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

from sipscope.core.analysis.context import Context
from sipscope.core.analysis.digest import (FULL_SEARCH_ACCOUNTS, DigestChallenge, crack,
                                          credentials_of, dictionary, mask)
from sipscope.core.analysis.finding import Finding
from sipscope.core.analysis.registry import rule
from sipscope.core.analysis.text import fill, when
from sipscope.core.model.message import HAS_CREDENTIALS, MAY_NAME_TOOL, Message, host_of
from sipscope.core.model.transaction import Transaction
from sipscope.core.sip.params import parse_uri

# §11.1: attack and scanning tools (case-insensitive substring; short names as whole words)
SCANNER_UA = re.compile(
    r"friendly-scanner|sipvicious|sipcli|vaxsipuseragent|vaxipuseragent|sundayddr|sip-scan|"
    r"sipscan|siparmyknife|pplsip|nsauditor|nmap nse|(?<![a-z0-9])(?:smap|iwar|sivus)(?![a-z])",
    re.I)
TEST_TOOL_UA = re.compile(r"^\s*(?:sipsak|sipp)\b", re.I)
_UA_LINE = re.compile(
    rb"^(?:user-agent|from|f)[ \t]*:[^\r\n]*(?:friendly-scanner|sipvicious|sipcli|vaxs?ipuseragent|"
    rb"sundayddr|sip-?scan|siparmyknife|pplsip|nsauditor|nmap|smap|iwar|sivus|sipsak|sipp\b|"
    rb"100@1\.1\.1\.1)", re.I | re.M)
# Every tool alternative of _UA_LINE contains one of summary.TOOL_LITERALS: the summary pass
# flags the messages whose User-Agent or From lines hold one (MAY_NAME_TOOL), so the bytes of
# all other requests are never read back here.  HAS_CREDENTIALS likewise marks the messages
# with an Authorization or Proxy-Authorization header.


_TO = re.compile(rb"^(?:to|t)[ \t]*:[^\r\n]*?(?:sips?|tel):([^@;>\s]+)", re.I | re.M)

PROBE_METHODS = frozenset({"REGISTER", "OPTIONS", "INVITE", "SUBSCRIBE"})   # §11.2
ENUM_WINDOW, ENUM_MIN = 60.0, 10                                            # §11.2
BRUTE_WINDOW, BRUTE_MIN = 60.0, 20                                          # §11.3 (a)
STUFF_WINDOW, STUFF_MIN = 600.0, 10                                         # §11.3 (b)
NONCE_REUSE_MIN = 3                                                         # §11.3 (c)
PROBE_WINDOW, PROBE_MIN, SUFFIX_DIGITS = 300.0, 5, 7                        # §11.5 (b)
NOT_FOUND = (404, 403, 484)
CHALLENGES = (401, 407)
MAX_ACCOUNTS = 1000           # §11.4 output hygiene: cap the cracking work per capture
EXTERNAL_PREFIXES = ("+", "00", "011", "900", "9011")


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
    host: str
    requests: list[Req] = field(default_factory=list)
    scanner_ua: str = ""               # §11.1 match (a tool name, or the svmap From)
    test_tool: str = ""
    flagged: set[str] = field(default_factory=set)    # rule ids that fire for this source
    brute_success: set[str] = field(default_factory=set)
    enumeration: tuple | None = None          # (probes, peak per minute)
    bruteforce: tuple | None = None           # (failed requests, sub-cases)
    toll: tuple | None = None                 # (invites, accepted, probing, after_brute)


# -- the per-source index, shared with registration.py --------------------------------------

def target_of(message: Message) -> str:
    if message.method == "REGISTER":
        found = _TO.search(message.raw)
        return found.group(1).decode("utf-8", "replace") if found else ""
    return parse_uri(message.request_uri or "").user


def security_index(ctx: Context) -> dict[str, Source]:
    """Every source host's requests, built once per analysis run."""
    cache = vars(ctx).setdefault("_security_cache", {})
    if "sources" in cache:
        return cache["sources"]
    sources: dict[str, Source] = {}
    for transaction in ctx.session.transactions:
        request = transaction.request
        if request is None or request.method in ("ACK", "CANCEL"):
            continue
        final = transaction.final
        host = host_of(request.src)
        source = sources.get(host)
        if source is None:
            source = sources[host] = Source(host)
        flags = request.flags
        creds = (credentials_of(request) or ()) if flags & HAS_CREDENTIALS else ()
        req = Req(request, transaction, final.status if final else 0, creds)
        source.requests.append(req)
        if flags & MAY_NAME_TOOL and not source.scanner_ua and _UA_LINE.search(request.raw):
            _tool_of(source, request)
    for source in sources.values():
        source.requests.sort(key=lambda r: r.ts)
    cache["sources"] = sources
    _judge(ctx, sources)
    return sources


def _tool_of(source: Source, message: Message) -> None:
    sip = message.sip
    ua = (sip.get("User-Agent") or "").strip()
    from_ = sip.from_
    if ua and SCANNER_UA.search(ua):
        source.scanner_ua = ua
    elif from_.display.lower() == "sipvicious" or (
            from_.uri is not None and from_.uri.user == "100" and from_.uri.host == "1.1.1.1"):
        source.scanner_ua = f"{ua or 'no User-Agent'}, with the SIPVicious default From " \
                            f"'{from_.text}'"
    elif ua and TEST_TOOL_UA.search(ua) and not source.test_tool:
        source.test_tool = ua


def _judge(ctx: Context, sources: dict[str, Source]) -> None:
    """Decide once which sources the §11 rules report; registration.py leaves those sources to
    them (§10.1 traps: refused credentials from an attacker are not a misconfigured phone)."""
    peers = _peers(ctx)
    for source in sources.values():
        if source.scanner_ua:
            source.flagged.add("sec-scanner-user-agent")
        source.enumeration = _enumeration(source, peers)
        if source.enumeration is not None:
            source.flagged.add("sec-extension-enumeration")
        source.bruteforce = _bruteforce(source)
        if source.bruteforce is not None:
            source.flagged.add("sec-password-bruteforce")
            failed = source.bruteforce[0]
            names = {r.username() for r in failed}
            source.brute_success = {r.username() for r in source.requests if r.ok and r.creds
                                    and r.username() in names and r.ts > failed[0].ts}
    for source in sources.values():
        if any(r.message.method == "INVITE" for r in source.requests):
            source.toll = _toll(ctx, source, peers)
            if source.toll is not None:
                source.flagged.add("sec-toll-fraud-probe")


def flagged_sources(ctx: Context) -> set[str]:
    """Hosts that a security rule reports (their auth/registration failures are attacks)."""
    return {host for host, source in security_index(ctx).items() if source.flagged}


def bruteforce_sources(ctx: Context) -> set[str]:
    return {host for host, s in security_index(ctx).items()
            if "sec-password-bruteforce" in s.flagged}


# -- text helpers -----------------------------------------------------------------------------





def span(first: float, last: float) -> str:
    seconds = last - first
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def sample(values, n: int = 6) -> str:
    values = list(values)
    text = ", ".join(values[:n])
    return text + (f" … ({len(values)} in all)" if len(values) > n else "")


def source_finding(ctx: Context, rule_id: str, source: Source, title: str, explanation: str,
                   messages: list[Message], severity: str | None = None, rfc: str = "",
                   evidence: dict | None = None) -> Finding:
    finding = ctx.finding(rule_id, title, explanation, messages, severity=severity,
                          scope="source", rfc=rfc, evidence=evidence, source=source.host)
    finding.call_id = None
    return finding


def _highlights(reqs: list[Req], extra: list[Message] = ()) -> list[Message]:
    """The first and last request, plus a few examples (never every message of a big scan)."""
    picked = [reqs[0].message, reqs[-1].message] if reqs else []
    return picked + list(extra)


# -- 11.1 sec-scanner-user-agent ------------------------------------------------------------

SCANNER_TEXT = (
    "Requests from {ip} identify themselves as '{ua}', a well-known SIP attack or scanning tool. "
    "Someone is probing this system for phone accounts to break into ({n} requests between {t1} "
    "and {t2}). If everything was refused, no harm was done yet: block the source on the "
    "firewall, make sure every extension has a long random password, and check that the server "
    "answers unknown and known users the same way.")


@rule("sec-scanner-user-agent", text=SCANNER_TEXT, index="security")
def scanner_user_agent(ctx: Context) -> list[Finding]:
    out = []
    for source in security_index(ctx).values():
        tool = source.scanner_ua or source.test_tool
        if not tool:
            continue
        reqs = source.requests
        wins = [r for r in reqs if r.ok and r.message.method in ("REGISTER", "INVITE")]
        severity = "error" if wins else "warning"
        test_only = not source.scanner_ua
        if test_only and not (source.flagged - {"sec-scanner-user-agent"}):
            severity = "info"
        explanation = fill(SCANNER_TEXT, ip=source.host, ua=tool, n=f"{len(reqs):,}",
                           t1=when(reqs[0].ts), t2=when(reqs[-1].ts))
        if test_only:
            explanation = (f"Requests from {source.host} carry the User-Agent '{tool}', a SIP test "
                           f"tool ({len(reqs):,} requests). Usually an authorised test; make sure "
                           "it was one.")
        if "VaxSIP" in tool or "VaxIP" in tool:
            explanation += (" Note: VaxSIPUserAgent is also the name of a commercial softphone SDK; "
                            "check the call pattern before blocking.")
        if wins:
            explanation += (f" {len(wins)} of its REGISTER/INVITE requests were accepted (2xx): "
                            "treat the accounts involved as compromised.")
        out.append(source_finding(
            ctx, "sec-scanner-user-agent", source, f"{source.host}: scanner User-Agent '{tool}' "
            f"({len(reqs):,} requests)", explanation,
            _highlights(reqs, [w.message for w in wins[:3]]), severity=severity,
            rfc="Operational (SIPVicious and similar tools)",
            evidence={"ua": tool, "requests": len(reqs), "first": reqs[0].ts,
                      "last": reqs[-1].ts, "accepted": len(wins),
                      "methods": dict(Counter(r.message.method for r in reqs))}))
    return out


# -- 11.2 sec-extension-enumeration ---------------------------------------------------------

ENUM_TEXT = (
    "One address ({ip}) tried {n} different extension numbers ({sample}) in {t} seconds. It is "
    "mapping which accounts exist before guessing their passwords.{leak} Block the source, "
    "configure the server to answer unknown and known users the same way, use non-obvious "
    "account names instead of extension numbers, and check the passwords of the revealed "
    "accounts.")


def _enumeration(source: Source, peers: set[str]):
    """(probes, peak) when some 60 s window holds >= 10 distinct targets and not one 2xx (§11.2).
    Hosts that other elements send their own requests to (trunks, PBXs) are peers, not
    scanners: their failed calls to many numbers are ordinary traffic (§11.2 traps)."""
    if source.host in peers:
        return None
    probes = [r for r in source.requests if r.message.method in PROBE_METHODS and r.final]
    if sum(1 for r in probes if not r.ok) < ENUM_MIN:
        return None
    probes = [r for r in probes if r.target]
    best = None
    counts: Counter = Counter()
    oks = lo = 0
    for req in probes:
        counts[req.target] += 1
        oks += req.ok
        while probes[lo].ts < req.ts - ENUM_WINDOW:
            old = probes[lo]
            counts[old.target] -= 1
            if not counts[old.target]:
                del counts[old.target]
            oks -= old.ok
            lo += 1
        if not oks and len(counts) >= ENUM_MIN and (best is None or len(counts) > best):
            best = len(counts)
    if best is None:
        return None
    succeeded = {r.target for r in probes if r.ok}
    return [r for r in probes if r.target not in succeeded], best


@rule("sec-extension-enumeration", text=ENUM_TEXT, index="security")
def extension_enumeration(ctx: Context) -> list[Finding]:
    out = []
    for source in security_index(ctx).values():
        if source.enumeration is None:
            continue
        probes, peak = source.enumeration
        users = list(dict.fromkeys(r.target for r in probes))
        first_response: dict[str, int] = {}
        for req in probes:
            if not req.creds:
                first_response.setdefault(req.target, req.final)
        challenged = [u for u, s in first_response.items() if s in CHALLENGES]
        missing = [u for u, s in first_response.items() if s in NOT_FOUND]
        leak = ""
        examples = []
        if challenged and missing:
            leak = (f" The server's different answers ('not found' versus 'password required') "
                    f"reveal that {sample(challenged, 8)} exist.")
            examples = [next(r.message for r in probes if r.target == challenged[0]),
                        next(r.message for r in probes if r.target == missing[0])]
        numeric = sorted(int(u) for u in users if u.isdigit() and len(u) < 10)
        run = _longest_run(numeric)
        explanation = fill(ENUM_TEXT, ip=source.host, n=f"{len(users):,}", sample=sample(users),
                           t=f"{probes[-1].ts - probes[0].ts:.0f}", leak=leak)
        if peak < len(users):
            explanation += f" (Up to {peak} different extensions within one minute.)"
        out.append(source_finding(
            ctx, "sec-extension-enumeration", source,
            f"{source.host} probed {len(users):,} extensions ({sample(users, 4)})",
            explanation, _highlights(probes, examples),
            rfc="Operational (AST-2009-003, AST-2011-011)",
            evidence={"targets": len(users), "sample": users[:20], "peak_per_minute": peak,
                      "consecutive_run": run, "exists": challenged[:50], "leak": bool(leak),
                      "methods": dict(Counter(r.message.method for r in probes)),
                      "first": probes[0].ts, "last": probes[-1].ts}))
    return out


def _longest_run(numbers: list[int]) -> int:
    best = run = 0
    previous = None
    for n in numbers:
        run = run + 1 if previous is not None and n == previous + 1 else (run if n == previous else 1)
        best = max(best, run)
        previous = n
    return best


# -- 11.3 sec-password-bruteforce -----------------------------------------------------------

BRUTE_TEXT = (
    "{ip} made {n} password attempts against {accounts} in {t}, {outcome}. This is an automated "
    "password-guessing attack.{success} Block the source, use long random passwords, and allow "
    "registrations only from known networks (ACLs).")


def _bruteforce(source: Source):
    failed = [r for r in source.requests if r.failed_auth]
    if not failed:
        return None
    cases = []
    lo = 0
    for hi, req in enumerate(failed):
        while failed[lo].ts < req.ts - BRUTE_WINDOW:
            lo += 1
        if hi - lo + 1 >= BRUTE_MIN:
            cases.append("a")
            break
    users: Counter = Counter()
    lo = 0
    for req in failed:
        users[req.username()] += 1
        while failed[lo].ts < req.ts - STUFF_WINDOW:
            name = failed[lo].username()
            users[name] -= 1
            if not users[name]:
                del users[name]
            lo += 1
        if len(users) >= STUFF_MIN:
            cases.append("b")
            break
    responses: dict[tuple, set[str]] = {}
    for req in source.requests:
        for c in req.creds:
            key = tuple(c.get(k, "") for k in ("username", "realm", "nonce", "uri", "nc",
                                               "cnonce", "qop"))
            responses.setdefault(key, set()).add(c.get("response", "").lower())
    if any(len(v) >= NONCE_REUSE_MIN for v in responses.values()):
        cases.append("c")
    return (failed, cases) if cases else None


@rule("sec-password-bruteforce", text=BRUTE_TEXT, index="security")
def password_bruteforce(ctx: Context) -> list[Finding]:
    out = []
    for source in security_index(ctx).values():
        if source.bruteforce is None:
            continue
        failed, cases = source.bruteforce
        accounts = list(dict.fromkeys(r.username() or r.target for r in failed))
        wins = [r for r in source.requests if r.ok and r.creds
                and r.username() in source.brute_success and r.ts > failed[0].ts]
        outcome = "all refused" if not wins else "and at least one succeeded"
        success = ""
        if wins:
            success = (f" The attacker now knows the password of {sample(sorted(source.brute_success))}: "
                       "change it immediately and check the call records for unauthorised "
                       "international calls.")
        account_text = f"account {accounts[0]}" if len(accounts) == 1 else \
            f"{len(accounts):,} accounts ({sample(accounts, 5)})"
        explanation = fill(BRUTE_TEXT, ip=source.host, n=f"{len(failed):,}", accounts=account_text,
                           t=span(failed[0].ts, failed[-1].ts), outcome=outcome, success=success)
        if "c" in cases:
            explanation += (" Several attempts reuse one challenge (same nonce and cnonce) with "
                            "different responses: only different passwords produce that.")
        out.append(source_finding(
            ctx, "sec-password-bruteforce", source,
            f"{source.host}: {len(failed):,} failed password attempts against {len(accounts):,} "
            f"account{'s' if len(accounts) != 1 else ''}" + (" - one SUCCEEDED" if wins else ""),
            explanation, _highlights(failed, [w.message for w in wins[:3]]),
            rfc="RFC 3261 §26.1.1, §22", evidence={
                "attempts": len(failed), "accounts": accounts[:50], "cases": cases,
                "succeeded": sorted(source.brute_success), "first": failed[0].ts,
                "last": failed[-1].ts,
                "responses": dict(Counter(str(r.final) for r in failed))}))
    return out


# -- 11.4 sec-weak-digest-password ----------------------------------------------------------

WEAK_TEXT = (
    "The password of account {user} was recovered from this capture in under a second: it is "
    "{kind}. Anyone who can see this traffic, or who tries common passwords over the internet, "
    "can register as this phone and make calls on your account (toll fraud). Change it to a long "
    "random secret that differs for every account, allow registrations only from the networks "
    "you expect (ACLs), and avoid account names that equal the extension number.")


@rule("sec-weak-digest-password", text=WEAK_TEXT, index="security")
def weak_digest_password(ctx: Context) -> list[Finding]:
    words = dictionary(ctx.options.wordlist)
    found_by_source: dict[str, list[tuple[Req, DigestChallenge, str, str]]] = {}
    tried: dict[tuple[str, str], tuple[str, str] | None] = {}
    for source in security_index(ctx).values():
        for req in source.requests:
            if not req.creds or req.message.method in ("ACK", "CANCEL"):
                continue
            if not _accepted_or_unknown(req, attacker=bool(source.flagged)):
                continue                        # refused guesses belong to §11.3 (catalog trap)
            for params in req.creds:
                challenge = DigestChallenge.from_params(params, req.message)
                if challenge is None:
                    continue
                account = (challenge.username, challenge.realm)
                if account in tried:
                    known = tried[account]
                    if known is None or not challenge.check(known[0].encode("utf-8")):
                        continue
                    result = known
                elif len(tried) >= MAX_ACCOUNTS:
                    continue
                else:
                    full = len(tried) < FULL_SEARCH_ACCOUNTS
                    result = crack(challenge, words if full else None, _identity(req, challenge),
                                   ctx.session.digest_ahead)
                    tried[account] = result
                    if result is None:
                        continue
                found_by_source.setdefault(source.host, []).append((req, challenge) + result)
    out = []
    sources = security_index(ctx)
    for host, hits in found_by_source.items():
        out.append(_weak_finding(ctx, sources[host], hits))
    return out


def _accepted_or_unknown(req: Req, attacker: bool = False) -> bool:
    """A 2xx (or a stale-nonce challenge) proves the password; an unknown outcome counts too,
    except from a source that attacks: its unanswered attempts are guesses."""
    if req.ok or (req.final == 0 and not attacker):
        return True
    if req.final in CHALLENGES:              # stale=true: the password was right (RFC 2617 §3.2.1)
        for message in req.transaction.messages:
            if message.status in CHALLENGES and b"stale=true" in message.raw.lower():
                return True
    return False


def _identity(req: Req, challenge: DigestChallenge) -> list[tuple[str, str]]:
    """(candidate, kind) derived from the identities in this request (§11.4 dictionary)."""
    sip = req.message.sip
    from_, to = sip.from_, sip.to
    names = [(challenge.username, "the account name")]
    if from_.uri is not None and from_.uri.user:
        names.append((from_.uri.user, "the caller's user name"))
    if to.uri is not None and to.uri.user:
        names.append((to.uri.user, "the user name"))
    digits = "".join(ch for ch in challenge.username if ch.isdigit())
    if digits and digits != challenge.username:
        names.append((digits, "the extension number"))
    out: list[tuple[str, str]] = []
    for name, what in names:
        out += [(name, f"the same as {what}"), (name[::-1], f"{what} reversed"),
                (name + name, f"{what} written twice")]
        out += [(name + suffix, f"{what} followed by '{suffix}'")
                for suffix in ("1", "12", "123", "1234", "!")]
    out.append((challenge.realm, "the realm (domain) name"))
    if from_.uri is not None and from_.uri.host:
        out.append((from_.uri.host, "the domain name"))
    if from_.display:
        out.append((from_.display.lower(), "the display name"))
        out.append((from_.display.lower().replace(" ", ""), "the display name"))
    out.append(("", "empty"))
    return out


def _weak_finding(ctx: Context, source: Source, hits) -> Finding:
    show = ctx.options.show_passwords
    accounts: dict[str, tuple] = {}
    for req, challenge, password, kind in hits:
        accounts.setdefault(challenge.username, (req, challenge, password, kind))
    parts = []
    evidence_accounts = []
    for user, (req, challenge, password, kind) in accounts.items():
        shown = password if show else mask(password)
        outcome = "accepted" if req.ok else ("accepted (stale nonce)" if req.final in CHALLENGES
                                             else "result unknown")
        parts.append(f"{user}@{challenge.realm}: {kind} ('{shown}', {outcome})")
        evidence_accounts.append({"user": user, "realm": challenge.realm, "kind": kind,
                                  "password": shown, "outcome": outcome,
                                  "message": req.message.index})
    first_user, (req, challenge, password, kind) = next(iter(accounts.items()))
    explanation = fill(WEAK_TEXT, user=f"{first_user} (from {source.host})",
                       kind=f"{kind} ('{password if show else mask(password)}')")
    if len(accounts) > 1:
        explanation += " Other weak accounts from this source: " + "; ".join(parts[1:]) + "."
    if not req.ok and req.final not in CHALLENGES:
        explanation += (" The server's answer to this request is not in the capture: this is the "
                        "password of an attempt whose result is unknown.")
    messages = [h[0].message for h in hits[:10]]
    for h in hits[:3]:
        challenge_msg = _challenge_message(ctx, h[0])
        if challenge_msg is not None:
            messages.append(challenge_msg)
    return source_finding(
        ctx, "sec-weak-digest-password", source,
        f"Weak password: account {first_user} from {source.host}: {kind}"
        + (f" (+{len(accounts) - 1} more accounts)" if len(accounts) > 1 else ""),
        explanation, messages, rfc="RFC 3261 §22.4, §26.1.1; RFC 2617 §3.2.2; RFC 7616",
        evidence={"accounts": evidence_accounts, "masked": not show})


def _challenge_message(ctx: Context, req: Req) -> Message | None:
    """The 401/407 this credentialed request answers: the latest one sent back to its source
    in the same call before it."""
    call = ctx.session.call_of(req.message)
    best = None
    for transaction in call.transactions if call is not None else ():
        for message in transaction.messages:
            if message.status in CHALLENGES and message.dst == req.message.src \
                    and message.ts <= req.message.ts and (best is None or message.ts > best.ts):
                best = message
    return best


# -- 11.5 sec-toll-fraud-probe --------------------------------------------------------------

TOLL_TEXT = (
    "{ip} tried to call the same foreign number {n} times with different dialling prefixes "
    "({sample}). That is the classic pattern of someone testing which prefix your system lets "
    "out, to run up premium-rate calls at your expense (toll fraud).{accepted}")
ACCEPTED_TEXT = (
    " One attempt was put through without any password: the system accepts outside calls without "
    "authentication. Close this immediately (require authentication, disable guest/anonymous "
    "calling, restrict international dialling).")


def external(user: str) -> str:
    """'strong' for an international prefix, 'weak' for 10+ digits, '' for a local number."""
    digits = user.replace("-", "").replace(".", "")
    if digits.startswith(EXTERNAL_PREFIXES) and digits.lstrip("+").isdigit() and len(digits) >= 7:
        return "strong"
    if digits.isdigit() and len(digits) >= 10:
        return "weak"
    return ""


@rule("sec-toll-fraud-probe", text=TOLL_TEXT + " / accepted: " + ACCEPTED_TEXT, index="security")
def toll_fraud_probe(ctx: Context) -> list[Finding]:
    out = []
    for source in security_index(ctx).values():
        if source.toll is not None:
            out.append(_toll_finding(ctx, source, *source.toll))
    return out


def _toll(ctx: Context, source: Source, peers: set[str]) -> tuple | None:
    """(invites, accepted, probing, after_brute) when §11.5 (a), (b) or (c) holds."""
    invites = [r for r in source.requests if r.message.method == "INVITE"
               and not r.message.to_tag and r.target]
    if not invites:
        return None
    authenticated = any(r.ok and (r.creds or r.message.method == "REGISTER")
                        for r in source.requests)
    suspicious = bool(source.flagged)
    accepted = []
    if not authenticated and source.host not in peers:
        for req in invites:
            kind = external(req.target)
            if req.creds or not kind or (kind == "weak" and not suspicious):
                continue
            if _got_through(req) or _onward(ctx, req):
                accepted.append(req)
    probing = _prefix_probing(invites)
    after_brute = []
    if source.brute_success and source.bruteforce is not None:
        start = source.bruteforce[0][0].ts
        after_brute = [r for r in invites if external(r.target) and r.ts > start]
    if not (accepted or probing or after_brute):
        return None
    return invites, accepted, probing, after_brute


def _got_through(req: Req) -> bool:
    return any(m.status in (180, 183) or 200 <= m.status < 300
               for m in req.transaction.messages if m.is_response)


def _onward(ctx: Context, req: Req) -> bool:
    """The receiving element sent an INVITE for the same number on to another host (a trunk)."""
    call = ctx.session.call_of(req.message)
    if call is None:
        return False
    me, them = host_of(req.message.dst), host_of(req.message.src)
    suffix = "".join(ch for ch in req.target if ch.isdigit())[-SUFFIX_DIGITS:]
    for transaction in call.transactions:
        other = transaction.request
        if transaction.method != "INVITE" or other is None or other is req.message:
            continue
        if host_of(other.src) == me and host_of(other.dst) not in (me, them) \
                and other.ts >= req.ts and suffix and \
                parse_uri(other.request_uri or "").user.endswith(suffix):
            return True
    return False


def _peers(ctx: Context) -> set[str]:
    """Hosts that an element sends its own requests to (trunks and peers, not attackers)."""
    peers = set()
    for transaction in ctx.session.transactions:
        request = transaction.request
        if request is not None and request.method in ("OPTIONS", "REGISTER") or (
                request is not None and request.method == "INVITE" and not request.to_tag):
            peers.add(host_of(request.dst))
    return peers


def _prefix_probing(invites: list[Req]) -> list[Req]:
    groups: dict[str, list[Req]] = {}
    for req in invites:
        digits = req.target.lstrip("+")
        if not digits.isdigit() or len(digits) < SUFFIX_DIGITS + 1:
            continue
        groups.setdefault(digits[-SUFFIX_DIGITS:], []).append(req)
    best: list[Req] = []
    for members in groups.values():
        if len(members) < PROBE_MIN or len({r.target for r in members}) < 2:
            continue
        times = [r.ts for r in members]
        for i, req in enumerate(members):
            j = bisect_left(times, req.ts + PROBE_WINDOW)
            window = members[i:j]
            if len(window) >= PROBE_MIN and len({r.target for r in window}) >= 2:
                if len(members) > len(best):
                    best = members
                break
    return best


def _toll_finding(ctx, source: Source, invites, accepted, probing, after_brute) -> Finding:
    severity = "warning"
    parts = []
    through = [r for r in probing if _got_through(r)]
    if accepted or through or after_brute:
        severity = "error"
    targets = list(dict.fromkeys(r.target for r in (probing or accepted or after_brute)))
    explanation = fill(TOLL_TEXT, ip=source.host, n=f"{len(probing or accepted):,}",
                       sample=sample(targets), accepted=ACCEPTED_TEXT if accepted else "")
    if not probing:
        explanation = (f"{source.host} placed calls to outside numbers ({sample(targets)}) "
                       "without authenticating." + (ACCEPTED_TEXT if accepted else ""))
    if through and not accepted:
        explanation += (f" {len(through)} of the probing calls got through (ringing, progress or "
                        "answer): check which prefix was let out.")
    if after_brute:
        explanation += (f" The source had guessed the password of "
                        f"{sample(sorted(source.brute_success))} and then called outside numbers "
                        f"({sample(list(dict.fromkeys(r.target for r in after_brute)))}).")
        parts.append("c")
    if accepted:
        parts.append("a")
    if probing:
        parts.append("b")
    reqs = probing or accepted or after_brute
    messages = _highlights(reqs, [r.message for r in (accepted or through)[:3]])
    return source_finding(
        ctx, "sec-toll-fraud-probe", source,
        f"{source.host}: toll-fraud probing, {len(reqs):,} calls to {sample(targets, 3)}"
        + (" - calls got through" if severity == "error" else ""),
        explanation, messages, severity=severity, rfc="Operational (toll fraud)",
        evidence={"cases": parts, "targets": targets[:30], "invites": len(invites),
                  "got_through": len(through) + len(accepted), "first": reqs[0].ts,
                  "last": reqs[-1].ts})
