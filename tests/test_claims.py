"""Every sentence true (issue 14): each fact a finding's title and explanation name is backed by
the finding's `evidence` and by the model the tables show.

For every capture in ../shared/traces (and real/; skipped with a reason when absent) and in
tests/data (so it runs in CI), the capture is loaded, the rules run, and every finding's words are
checked.  One test per (capture, rule family), so that a family's owner can mark a capture they
have not fixed yet with a strict xfail that flips when they do.

What is extracted from `title + " " + explanation`, in this order, and how each is checked
("evidence" = every key and value of `Finding.evidence`, flattened: numbers, strings, the numbers
and addresses inside those strings, and the length of every list and nested dict):

1. Exempt, removed first:
   - RFC and section references (`RFC 3261 §17.1.1.2; §21.4.9`, `§10.2`, `steps 3-4`): they cite
     the standard, they say nothing about the capture.
   - Quoted text ('…' or "…"): capture content shown verbatim (a User-Agent, a reason phrase, a
     masked password) or a template's quoted term ('not found'); numbers in it are not claims.
   - Constants of the catalog text: a number-with-unit or number-with-noun phrase written
     literally in the rule's registered tech text (`about 30 seconds`, `1300 bytes`), and a
     codec name written there (the rule's subject or advice: "with G.711 only").
   - Words copied whole, or as an elided part (`…6.d2c78147.5`), from an evidence string that
     is not just a number (a branch, a version): their digits are not counts.
2. Times: `YYYY-MM-DD HH:MM:SS` and `HH:MM:SS(.mmm)` must be the UTC time (to the precision
   shown, cut or rounded) of a message of the finding, of the finding's time, or of an epoch time
   in evidence.
   `message N` must name one of the finding's messages (or a message index in evidence).
3. URIs (`sip:user@host`) and addresses of record (`alice@example.com`): the user part is an
   account (5), the host an address (4) when it is an IP address.
4. Addresses: IPv4 / IPv6, with or without a port.  The host must be in evidence and in the
   model (a message's source or destination, a stream's end, or the bytes of some message); with
   a port, `host:port` must be in evidence (or host and port both as values).
5. Accounts and extensions: the words after `account`/`accounts (`/`extensions (`/`extension
   numbers (`/`account names (`/`users (`: each one must be in evidence and be a user the
   messages show (From/To/Request-URI/Contact user or digest username).
6. Codec names (PCMU, PCMA, G.722, G.729, opus, telephone-event, …): in evidence, and named by
   an SDP of the finding's call (or the static payload type of an m= line there).
7. Durations (`0.06 s`, `12 ms`, `7.4 h`, `3,599 s`): some evidence number, read as seconds (or
   already in the unit shown), must round to the value shown at the precision shown.  Percentages
   likewise (evidence ratio x 100, or the percentage itself).
8. Every other number (thousands separators allowed): an evidence number equal to it (decimals:
   rounding as shown).  A number in 100-699 that is not in evidence must be the status code of a
   message of the finding, of its call, or sent to its source (a status code the text quotes).
   `N packets` must in addition equal a counter of the stream table `sipscope report` prints
   under the finding's call (`streams_for_call`; the whole capture's streams for a finding
   without a call): packets, expected, lost, duplicates or late of one stream, or the packets
   of the call's streams of one direction; a single stream of the capture may also be named
   (a stray stream not tied to the call).  Checked whenever the capture has RTP streams.

It must be able to fail: test_the_checker_catches_mutations changes a count, an address, a
status code, a time, an account, a duration and the evidence of the findings of a scan (catalog
§11.2's `+` case) and expects each change to be caught; test_the_checker_catches_a_codec_and_a_
packet_count does the same for a codec name and for a packet count that is in evidence but not in
the stream table.

Limits (said, not hidden): a number passes when it equals any evidence number, so a wrong count
that happens to equal another value of the same evidence is not caught; quoted text is not
checked; a one-word lower-case account name after "account" is read as prose.  The KNOWN table
below routes the other families' failures to their owners (`python tests/test_claims.py`
prints it afresh).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

from sipscope.core.analysis.registry import load_rules
from sipscope.core.model.loader import NoSipError, load_files
from sipscope.core.model.message import host_of

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
SHARED = REPO.parent / "shared" / "traces"
TRACE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".txt", ".log")

# -- who owns which rule family (team brief); a failure is routed to its owner ----------------
OWNERS = {"security": "security-and-claims", "nat": "signalling-truth",
          "syntax": "signalling-truth", "timers": "signalling-truth",
          "transaction": "signalling-truth", "rtp": "media-truth", "sdp": "media-truth",
          "forking": "roles-and-new-rules", "dialog": "roles-and-new-rules",
          "registration": "roles-and-new-rules", "events": "roles-and-new-rules",
          "transfer": "roles-and-new-rules", "interop": "reviewed-corpus"}


def owner(family: str) -> str:
    return OWNERS.get(family, f"owner of rules/{family}.py")


# -- evidence, flattened ------------------------------------------------------------------------

_NUM_IN_TEXT = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")
_IPV4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?(?![\w.])")
_IPV6 = re.compile(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?|(?<![\w:.])((?:[0-9A-Fa-f]{0,4}:){2,7}"
                   r"[0-9A-Fa-f.]{0,15})(?![\w:])")


@dataclass
class Flat:
    strings: set[str]
    numbers: list[float]

    def has_number(self, value: float, decimals: int = 0) -> bool:
        tolerance = 0.5 * 10 ** -decimals + 1e-9
        return any(abs(n - value) <= tolerance for n in self.numbers)

    def has_string(self, text: str) -> bool:
        lowered = text.lower()
        return any(lowered == s.lower() for s in self.strings) or any(
            re.search(rf"(?<![\w.]){re.escape(lowered)}(?![\w])", s.lower())
            for s in self.strings)


def flatten(evidence) -> Flat:
    flat = Flat(set(), [])

    def add_string(text: str) -> None:
        flat.strings.add(text)
        for match in _NUM_IN_TEXT.finditer(text.replace(",", "")):
            flat.numbers.append(float(match.group()))

    def walk(value, top: bool = False) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, (int, float)):
            flat.numbers.append(float(value))
        elif isinstance(value, str):
            add_string(value)
        elif isinstance(value, dict):
            if not top:                  # the number of evidence keys is no fact
                flat.numbers.append(float(len(value)))
            for key, item in value.items():
                walk(str(key))
                walk(item)
        elif isinstance(value, (list, tuple, set, frozenset)):
            flat.numbers.append(float(len(value)))
            for item in value:
                walk(item)
        else:
            add_string(str(value))

    walk(evidence, top=True)
    return flat


# -- the model's facts, per session ---------------------------------------------------------------

@dataclass
class ModelFacts:
    hosts: set[str]
    sockets: set[str]
    users: set[str]
    stream_counts: set[int]
    has_streams: bool
    single_stream_counts: set[int] = None
    by_call: dict = None


_USER = re.compile(rb"(?:sips?|tel):([^@;>\s:]+)@", re.I)
_DIGEST_USER = re.compile(rb'username\s*=\s*"([^"]*)"', re.I)


def model_facts(session) -> ModelFacts:
    hosts, sockets, users = set(), set(), set()
    for message in session.messages:
        for address in (message.src, message.dst):
            sockets.add(address)
            hosts.add(host_of(address))
        raw = message.raw
        users.update(u.decode("utf-8", "replace") for u in _USER.findall(raw[:4096]))
        users.update(u.decode("utf-8", "replace") for u in _DIGEST_USER.findall(raw[:4096]))
    streams = list(getattr(session.media, "streams", []) or [])
    for stream in streams:
        sockets.update((stream.src, stream.dst))
        hosts.update((host_of(stream.src), host_of(stream.dst)))
    return ModelFacts(hosts, sockets, users, stream_counts(streams), bool(streams),
                      stream_counts(streams, directions=False), {})


def stream_counts(streams, directions: bool = True) -> set[int]:
    """The counters the stream table shows (per stream), and the packets per direction."""
    counts: set[int] = set()
    by_direction: dict[tuple[str, str], int] = {}
    for stream in streams:
        counts.update((stream.packets, stream.expected, stream.lost, stream.duplicates,
                       stream.late))
        key = (host_of(stream.src), host_of(stream.dst))
        by_direction[key] = by_direction.get(key, 0) + stream.packets
    if directions:
        counts.update(by_direction.values())
    return counts


def call_stream_counts(finding, session, facts: ModelFacts) -> set[int]:
    """The stream-table counts of the finding's call (`sipscope report` prints these streams
    under the call); the whole capture's for a finding without a call."""
    messages = [session.messages[i] for i in finding.messages if i < len(session.messages)]
    call = session.call_of(messages[0]) if messages and finding.call_id else None
    if call is None:
        return facts.stream_counts
    # the call's streams, and any single stream of the capture (a text may name a stray
    # stream that is not tied to the call: "… seen going elsewhere: A -> B (750 packets)")
    if call.call_id not in facts.by_call:
        facts.by_call[call.call_id] = stream_counts(
            session.media.streams_for_call(session, call)) | facts.single_stream_counts
    return facts.by_call[call.call_id]


def host_in_raw(session, host: str) -> bool:
    needle = host.encode()
    return any(needle in m.raw for m in session.messages)


# -- extraction ---------------------------------------------------------------------------------

RFC_REF = re.compile(r"\bRFC\s?\d+(?:\s*(?:§|section)\s*[\d.]+[a-z]?)?|(?:§|section\s)\s*[\d.]+[a-z]?"
                     r"|\bsteps?\s+\d+(?:\s*[-–,]\s*\d+)*", re.I)
QUOTED = re.compile(r"(?<![\w])'[^']*'(?![\w])|\"[^\"]*\"")
DATETIME = re.compile(r"\b(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?))?\b"
                      r"|\b(\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)\b")
MESSAGE_REF = re.compile(r"\bmessages?\s+(\d+)\b")
URI = re.compile(r"\b(?:sips?|tel):([^\s,;)>'\"<]+)", re.I)
# one account name: it has a digit, a capital or a sign in it (a lower-case word after "account"
# is prose: "the account name", "the account from ...")
ACCOUNT_ONE = re.compile(r"\baccount\s+((?=[\w.+-]*[A-Za-z0-9])[\w.+-]*[\d.+A-Z-][\w.+-]*)"
                         r"(?=[\s,:;)]|\.\s|\.?$)")
AOR = re.compile(r"(?<![\w.+-])([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)")
ACCOUNT_LIST = re.compile(r"\b(?:accounts|extensions|extension numbers|account names|users)\s+"
                          r"\(([^()]*)")
CODECS = ("PCMU", "PCMA", "G722", "G.722", "G729", "G.729", "G723", "G.723", "G726", "G.726",
          "GSM", "iLBC", "speex", "opus", "telephone-event", "AMR-WB", "AMR", "L16", "H263",
          "H.263", "H264", "H.264", "VP8", "T38", "T.38", "G711", "G.711")
CODEC = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(c) for c in CODECS) + r")(?![\w-])",
                   re.I)
STATIC_PT = {"pcmu": 0, "gsm": 3, "g723": 4, "pcma": 8, "g722": 9, "g729": 18, "h263": 34}
UNITS = {"ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001, "s": 1, "sec": 1,
         "second": 1, "seconds": 1, "min": 60, "minute": 60, "minutes": 60, "h": 3600,
         "hour": 3600, "hours": 3600}
NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
DURATION = re.compile(rf"(?<![\w.:/@#-])({NUMBER})\s?(ms|milliseconds?|sec|seconds?|s|min|"
                      rf"minutes?|h|hours?)\b")
PERCENT = re.compile(rf"(?<![\w.:/@#-])({NUMBER})\s?%")
PLAIN = re.compile(rf"(?<![\w.:/@#'-])({NUMBER})(?![\w@/]|\.\d|:\d)")
PACKETS = re.compile(rf"(?<![\w.:/@#-])({NUMBER})\s+(?:RTP\s+)?packets\b")


@dataclass
class Problem:
    finding: object
    kind: str
    word: str
    why: str

    def __str__(self) -> str:
        return f"{self.finding.id} [{self.kind}] '{self.word}': {self.why} -- {self.finding.title}"


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _value(text: str) -> float:
    return float(text.replace(",", ""))


def _constants(template: str) -> set[str]:
    """Number phrases written literally in a rule's tech text template (catalog constants)."""
    found = set()
    for match in re.finditer(rf"({NUMBER})(\s?[A-Za-z%]+)?", template):
        found.add(match.group(0).strip())
        found.add(match.group(1))
    return found


def _times_of(finding, session) -> list[float]:
    times = [session.messages[i].ts for i in finding.messages if i < len(session.messages)]
    if finding.time is not None:
        times.append(finding.time)
    times += [n for n in flatten(finding.evidence).numbers if n > 1e5]
    return times


def _time_matches(token_date: str | None, token_time: str | None, ts: float) -> bool:
    """The UTC date / time of day of ts, cut (as text.clock does) or rounded to the digits shown."""
    whole, _, frac = (token_time or "").partition(".")
    candidates = [ts]
    if frac:
        candidates.append(round(ts, len(frac)))
    for value in candidates:
        stamp = _dt.datetime.fromtimestamp(value, _dt.timezone.utc)
        if token_date and stamp.strftime("%Y-%m-%d") != token_date:
            continue
        if token_time and (stamp.strftime("%H:%M:%S") != whole or
                           frac and f"{stamp.microsecond:06d}"[:len(frac)] != frac):
            continue
        return True
    return False


def check_finding(finding, session, facts: ModelFacts, template: str) -> list[Problem]:
    """Every problem with the facts `finding` names (see the module docstring)."""
    problems: list[Problem] = []
    flat = flatten(finding.evidence)
    constants = _constants(template)
    text = f"{finding.title} \n {finding.explanation}"

    def bad(kind: str, word: str, why: str) -> None:
        problems.append(Problem(finding, kind, word, why))

    # 1. exempt
    text = RFC_REF.sub(" ", text)
    text = QUOTED.sub(" ", text)
    text = _copied_tokens(text, flat)

    # 2. times and message references
    times = None
    for match in DATETIME.finditer(text):
        times = times if times is not None else _times_of(finding, session)
        day, clock = match.group(1), match.group(2) or match.group(3)
        if not any(_time_matches(day, clock, ts) for ts in times):
            bad("time", match.group(0), "no message of the finding or evidence time is then")
    text = DATETIME.sub(" ", text)
    for match in MESSAGE_REF.finditer(text):
        index = int(match.group(1))
        if index not in finding.messages and not flat.has_number(index):
            bad("message", match.group(0), "not a message of the finding")
    text = MESSAGE_REF.sub(" ", text)

    # 3-4. URIs and addresses
    accounts: list[str] = []
    for match in URI.finditer(text):
        rest = match.group(1)
        user, at, hostport = rest.rpartition("@")
        if at and user:
            accounts.append(user)
        if not flat.has_string(match.group(0).rstrip(".")) and not flat.has_string(rest.rstrip(".")):
            bad("uri", match.group(0), "not in evidence")
    text = URI.sub(" ", text)
    for match in AOR.finditer(text):                 # an address of record without its scheme
        accounts.append(match.group(1))
        if not flat.has_string(match.group(0)) and not flat.has_string(match.group(1)):
            bad("account", match.group(0), "not in evidence")
    text = AOR.sub(lambda m: " " + m.group(2) + " ", text)
    for host, port, word in _addresses(text):
        if not (flat.has_string(host) or flat.has_string(f"[{host}]")):
            bad("address", word, "host not in evidence")
        elif port and not (flat.has_string(f"{host}:{port}") or flat.has_string(f"[{host}]:{port}")
                           or flat.has_number(int(port))):
            bad("address", word, "port not in evidence")
        if host not in facts.hosts and not host_in_raw(session, host):
            bad("address", word, "host not in any message or stream")
    text = _IPV6.sub(lambda m: " " if _is_v6(m) else m.group(0), _IPV4.sub(" ", text))

    # 5. accounts
    for match in ACCOUNT_ONE.finditer(text):
        accounts.append(match.group(1).rstrip("."))
    for match in ACCOUNT_LIST.finditer(text):
        for item in match.group(1).split(","):
            item = item.split("…")[0].strip()
            if item:
                accounts.append(item)
    for name in accounts:
        if not flat.has_string(name):
            bad("account", name, "not in evidence")
        elif name not in facts.users and not any(name.encode() in m.raw for m in
                                                 _messages_of(finding, session)):
            bad("account", name, "no message shows this user")

    # 6. codecs
    for match in CODEC.finditer(text):
        name = match.group(1)
        if name in template:           # the rule's subject or advice ("use G.711 only")
            continue
        names = [name, name.replace(".", "")]
        if name.replace(".", "").upper() == "G711":    # the family of PCMU and PCMA
            names += ["PCMU", "PCMA"]
        if not any(flat.has_string(n) for n in names):
            bad("codec", name, "not in evidence")
        elif not any(_codec_in_sdp(finding, session, n) for n in names):
            bad("codec", name, "no SDP of the finding's call names it")
    text = CODEC.sub(" ", text)

    # 7. durations and percentages
    for match in DURATION.finditer(text):
        if match.group(0) in constants:
            continue
        shown, unit = match.group(1), match.group(2)
        value, decimals = _value(shown), _decimals(shown)
        scale = UNITS[unit]
        tolerance = 0.5 * 10 ** -decimals + 1e-9
        if not any(abs(n / scale - value) <= tolerance or abs(n - value) <= tolerance
                   for n in flat.numbers):
            bad("duration", match.group(0), "no evidence value rounds to it")
    text = DURATION.sub(" ", text)
    for match in PERCENT.finditer(text):
        shown = match.group(1)
        value, decimals = _value(shown), _decimals(shown)
        tolerance = 0.5 * 10 ** -decimals + 1e-9
        if not any(abs(n * 100 - value) <= tolerance or abs(n - value) <= tolerance
                   for n in flat.numbers):
            bad("percent", match.group(0), "no evidence ratio rounds to it")
    text = PERCENT.sub(" ", text)

    # 8. packets, then every other number
    for match in PACKETS.finditer(text):
        count = int(_value(match.group(1)))
        if facts.has_streams and match.group(0) not in constants \
                and count not in call_stream_counts(finding, session, facts):
            bad("packets", match.group(0), "no stream of the call's stream table has this count")
    statuses = None
    for match in PLAIN.finditer(text):
        shown = match.group(1)
        if shown in constants:
            continue
        value = _value(shown)
        if flat.has_number(value, _decimals(shown)):
            continue
        if "." not in shown and 100 <= value <= 699:
            statuses = statuses if statuses is not None else _statuses(finding, session)
            if int(value) in statuses:
                continue
            bad("status", shown, "not in evidence nor a status of the finding's messages")
            continue
        bad("number", shown, "not in evidence")
    return problems


def _copied_tokens(text: str, flat: Flat) -> str:
    """Drop the words copied whole, or as an elided part (`…6.d2c78147.5`), from an evidence
    string that is not just a number: a branch, a version, a tag.  Their digits are not counts."""
    def keep(match) -> str:
        word = match.group(0).strip("…,;:()[]").rstrip(".")
        if not word or word.replace(",", "").replace(".", "").isdigit() \
                or not any(ch.isdigit() for ch in word) or _IPV4.fullmatch(word):
            return match.group(0)
        return " " if word in joined else match.group(0)
    joined = "\x00".join(flat.strings)
    return re.sub(r"\S+", keep, text)


def _is_v6(match) -> bool:
    candidate = match.group(1) or match.group(3)
    if not candidate or candidate.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _addresses(text: str) -> Iterator[tuple[str, str | None, str]]:
    for match in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(match.group(1))
        except ValueError:
            continue
        yield match.group(1), match.group(2), match.group(0)
    for match in _IPV6.finditer(text):
        if _is_v6(match):
            host = match.group(1) or match.group(3)
            yield host, match.group(2), match.group(0)


def _messages_of(finding, session):
    messages = [session.messages[i] for i in finding.messages if i < len(session.messages)]
    call = session.call_of(messages[0]) if messages else None
    return call.messages if call is not None else messages


def _statuses(finding, session) -> set[int]:
    statuses = {m.status for m in _messages_of(finding, session) if m.status}
    if finding.source:
        statuses |= {m.status for m in session.messages
                     if m.status and host_of(m.dst) == finding.source}
    return statuses


def _codec_in_sdp(finding, session, name: str) -> bool:
    needle = name.replace(".", "").lower()
    for message in _messages_of(finding, session):
        raw = message.raw.lower()
        if needle.encode() in raw.replace(b".", b""):
            return True
        pt = STATIC_PT.get(needle)
        if pt is not None and re.search(rb"^m=\w+ \d+ [\w/]+(?: \d+)* " + str(pt).encode()
                                        + rb"(?: |\r|\n|$)", raw, re.M):
            return True
    return False


# -- the corpus -----------------------------------------------------------------------------------

def corpus() -> list[tuple[str, Path]]:
    """(id, path) of every trace: tests/data always, ../shared/traces and real/ when present."""
    out = [(f"data/{p.name}", p) for p in sorted(DATA.glob("*")) if p.suffix in TRACE_SUFFIXES]
    for folder, prefix in ((SHARED, "shared/"), (SHARED / "real", "real/")):
        if folder.is_dir():
            out += [(prefix + p.name, p) for p in sorted(folder.glob("*"))
                    if p.suffix in TRACE_SUFFIXES]
    return out


CORPUS = corpus()
FAMILIES = sorted({rule.family for rule in load_rules().values()})


@lru_cache(maxsize=4)
def analysed(path: str):
    try:
        session = load_files([path])
    except NoSipError:
        return None, None
    return session, model_facts(session)


def problems_of(path: str, family: str) -> list[Problem]:
    session, facts = analysed(path)
    if session is None:
        return []
    rules = load_rules()
    out = []
    for finding in session.findings:
        rule = rules.get(finding.id)
        if rule is None or rule.family != family:
            continue
        out += check_finding(finding, session, facts, rule.text)
    return out


# (capture id, family) -> the offending words, for families whose owner has not fixed them yet.
# Each is a strict xfail naming the owner: it flips to a failure when the texts are fixed.
# `python tests/test_claims.py` prints this table for the tree as it is (never for security:
# those are fixed, not listed).
KNOWN: dict[tuple[str, str], str] = {}


def _params():
    if not CORPUS:
        return [pytest.param("<none>", None, "-", marks=pytest.mark.skip(reason="no traces"))]
    out = []
    for name, path in CORPUS:
        for family in FAMILIES:
            marks = []
            if (name, family) in KNOWN:
                marks = [pytest.mark.xfail(strict=True, reason=f"owner: {owner(family)} - "
                                                               f"{KNOWN[(name, family)]}")]
            out.append(pytest.param(name, path, family, marks=marks, id=f"{name}-{family}"))
    return out


@pytest.mark.parametrize("name,path,family", _params())
def test_claims_hold(name, path, family):
    problems = problems_of(str(path), family)
    assert not problems, f"{name} ({owner(family)}):\n" + "\n".join(map(str, problems))


def test_the_shared_corpus_is_checked_when_present():
    if not (SHARED / "MANIFEST.md").exists():
        pytest.skip(f"the shared trace corpus is not at {SHARED}; only tests/data was checked")
    names = {name for name, _ in CORPUS}
    assert any(n.startswith("real/") for n in names) and any(n.startswith("shared/") for n in names)


# -- the checker can fail -------------------------------------------------------------------------

def _scan_session():
    """One source (192.0.2.66, friendly-scanner) REGISTERs users 100-120 in 7.6 s: 404 for most,
    401 for 101 and 105 (catalog §11.2's + test)."""
    from factory import Flow, request, response
    f = Flow()
    for i, user in enumerate(range(100, 121)):
        t, src = i * 0.38, "192.0.2.66:5070"
        req = f.add(t, src, "198.51.100.1:5060", request(
            "REGISTER", "sip:pbx.example.com", call_id=f"scan-{user}", branch=f"z9hG4bK-{user}",
            via=src, from_uri=f"sip:{user}@pbx.example.com", to_uri=f"sip:{user}@pbx.example.com",
            contact=f"sip:{user}@{src}", extra=(("User-Agent", "friendly-scanner"),)))
        status, reason = (401, "Unauthorized") if user in (101, 105) else (404, "Not Found")
        f.add(t + 0.02, "198.51.100.1:5060", src, response(req, status, reason, to_tag=f"t{user}"))
    return f.session()


def _codec_session():
    from factory import Flow, request, response, sdp
    f = Flow()
    invite = f.add(0.0, "192.0.2.10:5060", "198.51.100.1:5060", request(
        "INVITE", "sip:bob@198.51.100.1", via="192.0.2.10:5060",
        body=sdp("192.0.2.10", codecs="8 101")))
    f.add(0.5, "198.51.100.1:5060", "192.0.2.10:5060", response(
        invite, 200, "OK", to_tag="t1", body=sdp("198.51.100.1", codecs="0")))
    return f.session()


def _problems(finding, session) -> list[Problem]:
    return check_finding(finding, session, model_facts(session), load_rules()[finding.id].text)


def _mutated(finding, **changes):
    import copy
    clone = copy.copy(finding)
    clone.evidence = copy.deepcopy(finding.evidence)
    for name, value in changes.items():
        setattr(clone, name, value)
    return clone


def test_the_checker_catches_mutations():
    session = _scan_session()
    scanner = next(f for f in session.findings if f.id == "sec-scanner-user-agent")
    brute = next(f for f in session.findings if f.id == "sec-extension-enumeration")
    assert not _problems(scanner, session) and not _problems(brute, session)   # control

    def caught(finding, kind, **changes) -> None:
        problems = _problems(_mutated(finding, **changes), session)
        assert any(p.kind == kind for p in problems), (kind, changes, problems)

    # a count changed in the title
    assert "(21 requests)" in scanner.title
    caught(scanner, "number", title=scanner.title.replace("(21 requests)", "(22 requests)"))
    # an address changed in the text
    caught(scanner, "address", explanation=scanner.explanation.replace("192.0.2.66", "192.0.2.67"))
    # a status code the source never got
    assert "404 ×19" in scanner.explanation
    caught(scanner, "status", explanation=scanner.explanation.replace("404 ×19", "486 ×19"))
    # a time one second off
    caught(scanner, "time", explanation=scanner.explanation.replace(":20 and", ":21 and"))
    # an account that is not in evidence
    assert "reveal that 101, 105 exist" in brute.explanation
    caught(brute, "account", explanation=brute.explanation.replace(
        "reveal that 101, 105 exist", "reveal that accounts (101, 121) exist"))
    # a duration rounded another way
    assert "in 7.6 s" in brute.explanation
    caught(brute, "duration", explanation=brute.explanation.replace("in 7.6 s", "in 7.9 s"))
    # the evidence changed under an unchanged text
    caught(scanner, "address", evidence={**scanner.evidence, "source": "203.0.113.1",
                                         "activity": None})
    caught(brute, "account", evidence={k: v for k, v in brute.evidence.items()
                                       if k not in ("sample", "exists", "activity")})
    caught(brute, "duration", evidence={**brute.evidence, "duration_s": 9.0, "activity": None})


def test_the_checker_catches_a_codec_and_a_packet_count():
    session = _codec_session()
    [codec] = [f for f in session.findings if f.id == "sdp-no-common-codec"]
    assert not [p for p in _problems(codec, session) if p.kind == "codec"]
    assert "PCMU" in codec.title
    problems = _problems(_mutated(codec, title=codec.title.replace("PCMU", "G.729")), session)
    assert any(p.kind == "codec" and p.word == "G.729" for p in problems), problems
    # a packet count that is in evidence but no stream of the stream table has
    facts = model_facts(session)
    facts.has_streams, facts.stream_counts = True, {600}
    fake = _mutated(codec, title="Audio", explanation="Audio flowed (500 packets).",
                    evidence={"packets": 500}, call_id=None)
    problems = check_finding(fake, session, facts, "")
    assert [p.kind for p in problems] == ["packets"]
    fake.explanation = "Audio flowed (600 packets)."
    fake.evidence = {"packets": 600}
    assert not check_finding(fake, session, facts, "")


def known_table() -> str:
    """The KNOWN table for the current tree (run this file as a script)."""
    rows = []
    for name, path in CORPUS:
        for family in FAMILIES:
            if family == "security":
                continue
            words = list(dict.fromkeys(f"{p.finding.id} '{p.word}'"
                                       for p in problems_of(str(path), family)))
            if words:
                reason = "; ".join(words[:3]) + (f" (+{len(words) - 3} more)"
                                                 if len(words) > 3 else "")
                rows.append(f"    ({name!r}, {family!r}):\n        {reason!r},")
    return "KNOWN: dict[tuple[str, str], str] = {\n" + "\n".join(rows) + "\n}"


if __name__ == "__main__":
    print(known_table())
