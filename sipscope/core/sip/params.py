"""Parameters, URIs, Via and name-addr values (RFC 3261 §19.1, §20.10, §20.42, §25.1)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sipscope.core.sip.numbers import header_int


def split_unquoted(text: str, sep: str) -> list[str]:
    """Split on sep outside double quotes and angle brackets."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quoted:
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            if ch == "<":
                depth += 1
            elif ch == ">" and depth:
                depth -= 1
            elif ch == sep and depth == 0:
                parts.append(text[start:i])
                start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def parse_params(text: str) -> list[tuple[str, str | None]]:
    """`;a=1;b;c="x"` (leading separator optional) into an ordered list of (name, value)."""
    params = []
    for piece in split_unquoted(text, ";"):
        piece = piece.strip()
        if not piece:
            continue
        name, eq, value = piece.partition("=")
        params.append((name.strip(), value.strip() if eq else None))
    return params


def param(params: list[tuple[str, str | None]], name: str) -> str | None:
    lowered = name.lower()
    for key, value in params:
        if key.lower() == lowered:
            return value if value is not None else ""
    return None


@dataclass(slots=True)
class Uri:
    """A SIP/SIPS/tel URI split into its parts (RFC 3261 §19.1.1); text is kept as written."""

    text: str
    scheme: str = ""
    user: str = ""
    host: str = ""
    port: int | None = None
    params: list[tuple[str, str | None]] = field(default_factory=list)
    headers: str = ""

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}" if self.port is not None else self.host


def parse_uri(text: str) -> Uri:
    text = text.strip()
    uri = Uri(text=text)
    scheme, colon, rest = text.partition(":")
    if not colon:
        uri.host = text
        return uri
    uri.scheme = scheme.lower()
    rest, _, uri.headers = rest.partition("?")
    rest, semi, params = rest.partition(";")
    if semi:
        uri.params = parse_params(params)
    if "@" in rest:
        uri.user, _, rest = rest.rpartition("@")
    uri.host, uri.port = split_hostport(rest)
    return uri


def split_hostport(text: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]:port` into (host, port)."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        host = text[: end + 1] if end > 0 else text
        rest = text[end + 1:] if end > 0 else ""
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.partition(":")
    port = header_int(port_text) if port_text else None
    return host, port


@dataclass(slots=True)
class NameAddr:
    """From/To/Contact/Route value: display name, URI and header parameters (§20.10)."""

    text: str
    display: str = ""
    uri: Uri | None = None
    params: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def tag(self) -> str | None:
        return param(self.params, "tag")


def parse_name_addr(text: str) -> NameAddr:
    text = text.strip()
    value = NameAddr(text=text)
    lt = _find_unquoted(text, "<")
    if lt >= 0:
        gt = text.find(">", lt)
        gt = gt if gt > 0 else len(text)
        value.display = text[:lt].strip().strip('"')
        value.uri = parse_uri(text[lt + 1: gt])
        value.params = parse_params(text[gt + 1:])
        return value
    # addr-spec form: parameters after the URI belong to the header, not the URI (§20.10)
    pieces = split_unquoted(text, ";")
    head = pieces[0].strip()
    if head.startswith('"') or " " in head and ":" not in head.split(" ")[-1]:
        value.display = head.strip('"')
    elif head:
        value.uri = parse_uri(head)
    value.params = parse_params(";".join(pieces[1:]))
    return value


def _find_unquoted(text: str, char: str) -> int:
    quoted = False
    for index, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == char and not quoted:
            return index
    return -1


MAGIC_COOKIE = "z9hG4bK"  # RFC 3261 §8.1.1.7


@dataclass(slots=True)
class Via:
    """One Via value (RFC 3261 §20.42): protocol, transport, sent-by and parameters."""

    text: str
    protocol: str = ""
    transport: str = ""
    host: str = ""
    port: int | None = None
    params: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def sent_by(self) -> str:
        return f"{self.host}:{self.port}" if self.port is not None else self.host

    @property
    def branch(self) -> str:
        return param(self.params, "branch") or ""

    @property
    def received(self) -> str | None:
        return param(self.params, "received")

    @property
    def rport(self) -> str | None:
        return param(self.params, "rport")


def parse_via(text: str) -> Via:
    text = text.strip()
    via = Via(text=text)
    head, semi, params = text.partition(";")
    if semi:
        via.params = parse_params(params)
    proto, _, sent_by = head.strip().partition(" ")
    if "/" in proto:
        name, _, rest = proto.partition("/")
        version, _, transport = rest.partition("/")
        via.protocol = f"{name}/{version}".strip()
        via.transport = transport.strip().upper()
    via.host, via.port = split_hostport(sent_by.strip())
    return via
