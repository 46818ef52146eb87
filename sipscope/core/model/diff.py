"""Header-aware diffs: two messages header by header, and two branches (or dialogs, or calls)
message by message.  The result is plain data, so the GUI, the text output and the PNG draw the
same diff.

Headers are aligned by their long names (compact forms folded, RFC 3261 §7.3.3); repeated headers
and comma-joined values (§7.3.1) are paired in order; values are compared down to their parts
(URI user/host/port/parameters, header parameters such as branch, tag, rport, received).  SDP is
compared by meaning (RFC 4566): codecs by name and rate, not by payload number (RFC 3264 §6.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher

from sipscope.core.sip import names
from sipscope.core.sip.message import SipMessage
from sipscope.core.sip.multipart import find_sdp
from sipscope.core.sip.sdp import parse_sdp
from sipscope.core.sip.params import parse_name_addr, parse_via, split_unquoted

SAME, CHANGED, ADDED, REMOVED, MOVED = "same", "changed", "added", "removed", "moved"

# Fields that always differ between two requests; hidden unless asked for (issue: diff options).
VOLATILE_HEADERS = frozenset({"call-id", "content-length", "date", "max-forwards"})
VOLATILE_PARTS = frozenset({"branch", "tag", "cseq number"})
# Token lists compare as sets in one row (`Allow: INVITE, ACK` == `Allow: ACK, INVITE`).
TOKEN_LIST_HEADERS = frozenset({"allow", "supported", "require", "proxy-require", "unsupported",
                                "accept", "allow-events", "accept-encoding", "accept-language",
                                "content-encoding"})
NAME_ADDR_HEADERS = frozenset({"from", "to", "contact", "route", "record-route", "refer-to",
                               "referred-by", "p-asserted-identity", "reply-to"})


@dataclass(slots=True)
class Part:
    """One changed piece of a header value: `branch`, `uri host`, `param rport`..."""

    name: str
    left: str | None
    right: str | None

    @property
    def volatile(self) -> bool:
        return self.name in VOLATILE_PARTS

    def to_json(self) -> dict:
        return {"name": self.name, "left": self.left, "right": self.right}


@dataclass(slots=True)
class DiffRow:
    """A header (or start line, or SDP line) on both sides and how it changed."""

    name: str                   # "Via", "Via #2", "start line", "SDP m=audio #1"
    left: str | None
    right: str | None
    status: str                 # same | changed | added | removed | moved
    section: str = "header"     # start | header | sdp
    parts: list[Part] = field(default_factory=list)
    volatile: bool = False      # only fields that always differ changed

    def to_json(self) -> dict:
        return {"name": self.name, "left": self.left, "right": self.right, "status": self.status,
                "section": self.section, "volatile": self.volatile,
                "parts": [p.to_json() for p in self.parts]}


@dataclass(slots=True)
class MessageDiff:
    left_index: int | None
    right_index: int | None
    rows: list[DiffRow]

    @property
    def changed(self) -> list[DiffRow]:
        return [r for r in self.rows if r.status != SAME]

    def visible_rows(self, hide_volatile: bool = True, hide_same: bool = False) -> list[DiffRow]:
        rows = self.rows
        if hide_volatile:
            rows = [r for r in rows if not (r.volatile and r.status == CHANGED)]
        if hide_same:
            rows = [r for r in rows if r.status != SAME]
        return rows

    def to_json(self, hide_volatile: bool = False) -> dict:
        return {"left": self.left_index, "right": self.right_index,
                "rows": [r.to_json() for r in self.visible_rows(hide_volatile)]}


# -- message diff -----------------------------------------------------------------------------
def _values(message: SipMessage) -> list[tuple[str, str]]:
    """(key, value) per header value, comma lists split, in message order."""
    values = []
    tokens: dict[str, int] = {}
    for header in message.headers:
        key = header.key
        if key in TOKEN_LIST_HEADERS:
            if key in tokens:   # a repeated token-list header extends the first one (§7.3.1)
                position = tokens[key]
                values[position] = (key, f"{values[position][1]}, {header.value.strip()}")
            else:
                tokens[key] = len(values)
                values.append((key, header.value.strip()))
        elif key in names.LIST_HEADERS:
            split = [v.strip() for v in split_unquoted(header.value, ",") if v.strip()]
            values += [(key, v) for v in split] or [(key, "")]
        else:
            values.append((key, header.value.strip()))
    return values


def _numbered(values: list[tuple[str, str]]) -> list[tuple[tuple[str, int], str]]:
    """Give each repeated header its occurrence number so repeats pair in order."""
    seen: dict[str, int] = {}
    out = []
    for key, value in values:
        seen[key] = seen.get(key, 0) + 1
        out.append(((key, seen[key]), value))
    return out


def _label(key: tuple[str, int], counts: dict[str, int]) -> str:
    name = _display_name(key[0])
    return f"{name} #{key[1]}" if counts.get(key[0], 1) > 1 else name


def _display_name(key: str) -> str:
    """`call-id` -> `Call-ID`; unknown lower-case keys -> `X-Custom-Header`."""
    canonical = names.canonical(key)
    return canonical if canonical != key else "-".join(p.capitalize() for p in key.split("-"))


def compare_values(key: str, left: str, right: str) -> list[Part]:
    """The parts that differ between two values of one header."""
    if left == right:
        return []
    if key == "via":
        return _compare_via(left, right)
    if key in NAME_ADDR_HEADERS:
        return _compare_name_addr(left, right)
    if key in TOKEN_LIST_HEADERS:
        a = {t.strip().upper() for t in left.split(",") if t.strip()}
        b = {t.strip().upper() for t in right.split(",") if t.strip()}
        parts = []
        if a - b:
            parts.append(Part("removed", ", ".join(sorted(a - b)), None))
        if b - a:
            parts.append(Part("added", None, ", ".join(sorted(b - a))))
        return parts
    if key == "cseq":
        ln, _, lm = left.partition(" ")
        rn, _, rm = right.partition(" ")
        parts = []
        if ln.strip() != rn.strip():
            parts.append(Part("cseq number", ln.strip(), rn.strip()))
        if lm.strip().upper() != rm.strip().upper():
            parts.append(Part("method", lm.strip(), rm.strip()))
        return parts
    if " ".join(left.split()) == " ".join(right.split()):
        return []
    return [Part("value", left, right)]


def _compare_params(prefix: str, left: list, right: list) -> list[Part]:
    lmap = {k.lower(): v for k, v in left}
    rmap = {k.lower(): v for k, v in right}
    parts = []
    for name in list(dict.fromkeys([*lmap, *rmap])):
        if lmap.get(name, "\0") != rmap.get(name, "\0"):
            label = name if name in ("branch", "tag", "received", "rport") else f"{prefix}{name}"
            parts.append(Part(label, _param_text(lmap, name), _param_text(rmap, name)))
    return parts


def _param_text(params: dict, name: str) -> str | None:
    if name not in params:
        return None
    value = params[name]
    return name if value is None else value


def _compare_via(left: str, right: str) -> list[Part]:
    a, b = parse_via(left), parse_via(right)
    parts = []
    for name, x, y in (("transport", a.transport, b.transport), ("sent-by host", a.host, b.host),
                       ("sent-by port", a.port, b.port)):
        if x != y:
            parts.append(Part(name, _str(x), _str(y)))
    return parts + _compare_params("param ", a.params, b.params)


def _compare_name_addr(left: str, right: str) -> list[Part]:
    a, b = parse_name_addr(left), parse_name_addr(right)
    parts = []
    if a.display != b.display:
        parts.append(Part("display name", a.display, b.display))
    ua, ub = a.uri, b.uri
    if (ua is None) != (ub is None):
        parts.append(Part("uri", ua.text if ua else None, ub.text if ub else None))
    elif ua is not None and ub is not None:
        for name, x, y in (("uri scheme", ua.scheme, ub.scheme), ("uri user", ua.user, ub.user),
                           ("uri host", ua.host, ub.host), ("uri port", ua.port, ub.port)):
            if x != y:
                parts.append(Part(name, _str(x), _str(y)))
        parts += _compare_params("uri param ", ua.params, ub.params)
    return parts + _compare_params("param ", a.params, b.params)


def _str(value) -> str | None:
    return None if value is None or value == "" else str(value)


def diff_messages(left: SipMessage, right: SipMessage, *, ignore_order: bool = False,
                  left_index: int | None = None, right_index: int | None = None,
                  with_sdp: bool = True) -> MessageDiff:
    """Align two messages header by header (see module docstring)."""
    rows = [_start_line_row(left, right)]
    lvals, rvals = _numbered(_values(left)), _numbered(_values(right))
    counts: dict[str, int] = {}
    for (key, number), _ in lvals + rvals:
        counts[key] = max(counts.get(key, 0), number)
    rmap = dict(rvals)
    lkeys = [k for k, _ in lvals]
    rkeys = [k for k, _ in rvals if k in dict(lvals)]
    in_order = set(_common_in_order(lkeys, rkeys))
    emitted = set()
    right_positions = {k: i for i, (k, _) in enumerate(rvals)}
    pending_right = [k for k, _ in rvals if k not in dict(lvals)]
    for key, value in lvals:
        # right-only headers that stand before this one on the right come first
        while pending_right and right_positions[pending_right[0]] < right_positions.get(key, -1):
            extra = pending_right.pop(0)
            rows.append(DiffRow(_label(extra, counts), None, rmap[extra], ADDED))
        if key not in rmap:
            rows.append(DiffRow(_label(key, counts), value, None, REMOVED))
            continue
        parts = compare_values(key[0], value, rmap[key])
        status = CHANGED if parts else SAME
        if status == SAME and not ignore_order and key not in in_order:
            status = MOVED
        volatile = bool(parts) and (key[0] in VOLATILE_HEADERS or all(p.volatile for p in parts))
        rows.append(DiffRow(_label(key, counts), value, rmap[key], status, parts=parts,
                            volatile=volatile))
        emitted.add(key)
    for extra in pending_right:
        rows.append(DiffRow(_label(extra, counts), None, rmap[extra], ADDED))
    if with_sdp:
        rows += diff_sdp(left, right)
    return MessageDiff(left_index, right_index, rows)


def _common_in_order(left: list, right: list) -> list:
    """Keys that keep their relative order on both sides (a longest common subsequence)."""
    matcher = SequenceMatcher(a=left, b=right, autojunk=False)
    common = []
    for block in matcher.get_matching_blocks():
        common += left[block.a: block.a + block.size]
    return common


def _start_line_row(left: SipMessage, right: SipMessage) -> DiffRow:
    parts = []
    if left.method != right.method:
        parts.append(Part("method", left.method, right.method))
    if left.status != right.status:
        parts.append(Part("status", _str(left.status or None), _str(right.status or None)))
    if left.request_uri != right.request_uri and left.request_uri and right.request_uri:
        parts += [Part(f"request-uri {p.name.removeprefix('uri ')}", p.left, p.right)
                  for p in _compare_name_addr(f"<{left.request_uri}>", f"<{right.request_uri}>")]
    return DiffRow("start line", left.start_line, right.start_line,
                   CHANGED if parts else SAME, section="start", parts=parts)


# -- SDP by meaning -----------------------------------------------------------------------------
def _sdp_of(message: SipMessage):
    body = find_sdp(message.get("Content-Type") or "", message.body)
    return parse_sdp(body) if body else None


def _media_facts(media) -> dict[str, str]:
    codecs = ", ".join(sorted(f"{c}" for _, c in media.codecs())) if hasattr(media, "codecs") else ""
    facts = {"port": str(media.port), "proto": media.proto, "codecs": codecs,
             "direction": media.direction or "", "ptime": _str(media.ptime) or "",
             "address": getattr(media, "address", None) or ""}
    return facts


def diff_sdp(left: SipMessage, right: SipMessage) -> list[DiffRow]:
    a, b = _sdp_of(left), _sdp_of(right)
    if a is None and b is None:
        return []
    rows = []
    if a is None or b is None:
        return [DiffRow("SDP", "present" if a else None, "present" if b else None,
                        REMOVED if a else ADDED, section="sdp")]
    ao, bo = a.origin, b.origin
    left_o = f"{ao.username} {ao.sess_id} v{ao.sess_version} {ao.address}" if ao else None
    right_o = f"{bo.username} {bo.sess_id} v{bo.sess_version} {bo.address}" if bo else None
    parts = []
    if ao and bo:
        for name, x, y in (("origin user", ao.username, bo.username),
                           ("session id", ao.sess_id, bo.sess_id),
                           ("session version", ao.sess_version, bo.sess_version),
                           ("origin address", ao.address, bo.address)):
            if x != y:
                parts.append(Part(name, _str(x), _str(y)))
    rows.append(DiffRow("SDP o=", left_o, right_o, CHANGED if parts or (ao is None) != (bo is None)
                        else SAME, section="sdp", parts=parts))
    rows.append(_fact_row("SDP c=", a.connection, b.connection))
    for number in range(max(len(a.media), len(b.media))):
        ma = a.media[number] if number < len(a.media) else None
        mb = b.media[number] if number < len(b.media) else None
        kind = (ma or mb).kind
        fa, fb = (_media_facts(ma) if ma else None), (_media_facts(mb) if mb else None)
        if fa is None or fb is None:
            rows.append(DiffRow(f"SDP m={kind} #{number + 1}", _facts_text(fa), _facts_text(fb),
                                REMOVED if fa else ADDED, section="sdp"))
            continue
        parts = [Part(name, fa[name] or None, fb[name] or None) for name in fa if fa[name] != fb[name]]
        rows.append(DiffRow(f"SDP m={kind} #{number + 1}", _facts_text(fa), _facts_text(fb),
                            CHANGED if parts else SAME, section="sdp", parts=parts))
    return rows


def _fact_row(name: str, left, right) -> DiffRow:
    status = SAME if left == right else CHANGED
    parts = [] if status == SAME else [Part("value", _str(left), _str(right))]
    return DiffRow(name, _str(left), _str(right), status, section="sdp", parts=parts)


def _facts_text(facts: dict | None) -> str | None:
    if facts is None:
        return None
    return (f"{facts['address']}:{facts['port']} {facts['proto']} [{facts['codecs']}] "
            f"{facts['direction']}" + (f" ptime {facts['ptime']}" if facts["ptime"] else "")).strip()
