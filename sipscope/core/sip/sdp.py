"""Lenient SDP model: parse a session description (RFC 8866, formerly RFC 4566) without raising.

`parse_sdp(body)` never raises on bad input: every line it cannot use is recorded in
`Sdp.warnings` and parsing goes on.  CRLF and bare LF line ends, trailing spaces and a missing
final newline are all accepted (RFC 8866 §5 asks for CRLF but lets parsers accept LF).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sipscope.core.sip.numbers import MAX_DIGITS, header_int

# RFC 3551 §6, Tables 4 and 5: static payload types -> (encoding name, clock rate, channels).
# Payload types 1, 2 and 19 are reserved; 20-24 and 27, 29, 30 are unassigned.
STATIC_PAYLOAD_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1),
    7: ("LPC", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),      # RTP clock 8000 although sampled at 16 kHz (RFC 3551 §4.5.2)
    10: ("L16", 44100, 2),
    11: ("L16", 44100, 1),
    12: ("QCELP", 8000, 1),
    13: ("CN", 8000, 1),
    14: ("MPA", 90000, 1),
    15: ("G728", 8000, 1),
    16: ("DVI4", 11025, 1),
    17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1),
    25: ("CelB", 90000, 1),
    26: ("JPEG", 90000, 1),
    28: ("nv", 90000, 1),
    31: ("H261", 90000, 1),
    32: ("MPV", 90000, 1),
    33: ("MP2T", 90000, 1),
    34: ("H263", 90000, 1),
}

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")   # RFC 8866 §6.7
HOLD_ADDRESSES = ("0.0.0.0", "::")                               # RFC 3264 §8.4 (legacy hold)
_MAX_WARN_TEXT = 60


@dataclass(slots=True, frozen=True)
class Codec:
    """One RTP payload format: encoding name, clock rate and channel count (RFC 8866 §6.6)."""

    name: str
    rate: int | None
    channels: int = 1

    def label(self) -> str:
        return f"{self.name}/{self.rate}" if self.rate else self.name


@dataclass(slots=True)
class Origin:
    """The o= line (RFC 8866 §5.2)."""

    username: str
    sess_id: str
    sess_version: int | None
    nettype: str
    addrtype: str
    address: str


@dataclass(slots=True)
class Media:
    """One m= section (RFC 8866 §5.14) with the attributes that matter for offer/answer."""

    kind: str
    port: int
    port_count: int = 1
    proto: str = ""
    formats: list[str] = field(default_factory=list)
    connection: str | None = None            # media-level c= address
    session_connection: str | None = None    # session-level c= (for `address`)
    bandwidths: list[tuple[str, int | None]] = field(default_factory=list)
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    rtpmap: dict[int, Codec] = field(default_factory=dict)
    fmtp: dict[int | str, str] = field(default_factory=dict)
    direction: str = "sendrecv"              # media-level, else session-level, else sendrecv
    ptime: int | None = None
    rtcp_mux: bool = False
    rtcp: int | None = None                  # a=rtcp port (RFC 3605)
    rtcp_address: str | None = None

    @property
    def address(self) -> str | None:
        """Where this stream wants media: media-level c=, else session-level c= (RFC 8866 §5.7)."""
        return self.connection if self.connection is not None else self.session_connection

    @property
    def is_rtp(self) -> bool:
        return "RTP" in self.proto.upper()

    def codec(self, pt: int) -> Codec | None:
        """The codec for a payload type: rtpmap first, then the RFC 3551 static table."""
        found = self.rtpmap.get(pt)
        if found is None and pt in STATIC_PAYLOAD_TYPES:
            name, rate, channels = STATIC_PAYLOAD_TYPES[pt]
            found = Codec(name, rate, channels)
        return found

    def codecs(self) -> list[tuple[int, str]]:
        """(pt, "NAME/rate") for each RTP format, in m= order; unknown dynamic types as "?"."""
        if not self.is_rtp:
            return []
        out = []
        for fmt in self.formats:
            if not _is_number(fmt):
                continue
            pt = int(fmt)
            codec = self.codec(pt)
            out.append((pt, codec.label() if codec else "?"))
        return out

    def codec_names(self) -> list[str]:
        """Encoding names (or raw formats for non-RTP media such as t38), in m= order."""
        if not self.is_rtp:
            return list(self.formats)
        names = []
        for fmt in self.formats:
            codec = self.codec(int(fmt)) if _is_number(fmt) else None
            names.append(codec.name if codec else fmt)
        return names

    def pt_for(self, name: str) -> list[int]:
        """Payload types whose rtpmap (or static) name equals `name`, case-insensitive."""
        want = name.casefold()
        return [pt for pt, label in self.codecs() if label.split("/")[0].casefold() == want]

    def attribute(self, name: str) -> str | None:
        """Value of the first a=name attribute ("" for a flag), None when absent."""
        want = name.lower()
        for key, value in self.attributes:
            if key.lower() == want:
                return "" if value is None else value
        return None

    def is_hold(self) -> bool:
        """True when this active stream is held (RFC 3264 §8.4): sendonly/inactive or c=0.0.0.0."""
        if self.port == 0:
            return False
        return self.direction in ("sendonly", "inactive") or self.address in HOLD_ADDRESSES

    def summary(self, max_codecs: int = 8) -> str:
        """Short label, e.g. "audio 19870 PCMU,PCMA,telephone-event sendrecv"."""
        names = self.codec_names()
        if len(names) > max_codecs:
            names = names[:max_codecs] + [f"+{len(names) - max_codecs}"]
        text = f"{self.kind} {self.port} {','.join(names) or '-'} {self.direction}"
        if self.port == 0:
            text += " (rejected)"
        elif self.address in HOLD_ADDRESSES:
            text += f" (c={self.address})"
        return text


@dataclass(slots=True)
class Sdp:
    """A parsed session description; `warnings` lists every problem met while parsing."""

    version: str | None = None
    origin: Origin | None = None
    session_name: str | None = None
    connection: str | None = None                       # session-level c= address
    bandwidths: list[tuple[str, int | None]] = field(default_factory=list)
    timing: list[str] = field(default_factory=list)     # raw t= values
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def direction(self) -> str | None:
        """Session-level direction attribute, None when there is none."""
        for key, _ in self.attributes:
            if key.lower() in DIRECTIONS:
                return key.lower()
        return None

    def attribute(self, name: str) -> str | None:
        want = name.lower()
        for key, value in self.attributes:
            if key.lower() == want:
                return "" if value is None else value
        return None

    def is_hold(self) -> bool:
        """True when any active stream is held: sendonly/inactive or c=0.0.0.0 / :: (RFC 3264 §8.4)."""
        active = [m for m in self.media if m.port != 0]
        if not active:
            return self.direction in ("sendonly", "inactive") or self.connection in HOLD_ADDRESSES
        return any(m.is_hold() for m in active)

    def first(self, kind: str = "audio") -> Media | None:
        for m in self.media:
            if m.kind.lower() == kind:
                return m
        return None

    def summary(self) -> str:
        """One line for ladder labels: the m= summaries joined with "; "."""
        if not self.media:
            return "no media"
        return "; ".join(m.summary() for m in self.media)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_WARN_TEXT else text[:_MAX_WARN_TEXT] + "..."


def _is_number(text: str) -> bool:
    """ASCII digits only ("²".isdigit() is true, but int("²") fails), and no more of them than
    a number field holds (numbers.py: a 5,000-digit port is invalid, not a crash)."""
    return len(text) <= MAX_DIGITS and text.isascii() and text.isdigit()


def _int(text: str) -> int | None:
    return header_int(text)


def _bandwidth(value: str, lineno: int, warnings: list[str]) -> tuple[str, int | None]:
    # RFC 8866 §5.8: b=<bwtype>:<bandwidth>
    kind, sep, amount = value.partition(":")
    number = _int(amount)
    if not sep or number is None:
        warnings.append(f"line {lineno}: bad b= line {_short(value)!r}")
    return kind.strip(), number


def _connection(value: str, lineno: int, warnings: list[str]) -> str | None:
    # RFC 8866 §5.7: c=<nettype> <addrtype> <connection-address>[/ttl][/count]
    parts = value.split()
    if len(parts) < 3:
        warnings.append(f"line {lineno}: bad c= line {_short(value)!r}")
        return parts[-1].split("/")[0] if parts else None
    return parts[2].split("/")[0]           # drop multicast /ttl and /count


def _origin(value: str, warnings: list[str]) -> Origin | None:
    # RFC 8866 §5.2: o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>
    parts = value.split()
    if len(parts) != 6:
        warnings.append(f"o= line has {len(parts)} fields instead of 6: {_short(value)!r}")
        if len(parts) < 3:
            return None
        parts = (parts + ["", "", ""])[:6]
    version = _int(parts[2])
    if version is None:
        warnings.append(f"o= session version is not a number: {_short(parts[2])!r}")
    return Origin(parts[0], parts[1], version, parts[3], parts[4], parts[5])


def _media(value: str, warnings: list[str]) -> Media:
    # RFC 8866 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ...
    parts = value.split()
    kind = parts[0] if parts else ""
    port_text = parts[1] if len(parts) > 1 else ""
    port_part, _, count_part = port_text.partition("/")
    port = _int(port_part)
    count = _int(count_part) if count_part else 1
    if port is None or port > 65535 or count is None:
        warnings.append(f"bad port in m= line {_short(value)!r}")
    if len(parts) < 4:
        warnings.append(f"m= line lacks proto or formats: {_short(value)!r}")
    return Media(kind=kind, port=port if port is not None and port <= 65535 else 0,
                 port_count=count or 1, proto=parts[2] if len(parts) > 2 else "",
                 formats=parts[3:])


def _media_attribute(m: Media, name: str, value: str | None, lineno: int,
                     warnings: list[str]) -> None:
    """Fill the typed fields of a media section from one a= line."""
    key = name.lower()
    if key == "rtpmap":
        # RFC 8866 §6.6: a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
        pt_text, _, enc = (value or "").strip().partition(" ")
        pt = _int(pt_text)
        pieces = enc.strip().split("/")
        rate = _int(pieces[1]) if len(pieces) > 1 else None
        if pt is None or not pieces[0] or rate is None:
            warnings.append(f"line {lineno}: bad rtpmap {_short(value or '')!r}")
        if pt is not None and pieces[0]:
            channels = _int(pieces[2]) if len(pieces) > 2 else 1
            m.rtpmap[pt] = Codec(pieces[0], rate, channels or 1)
    elif key == "fmtp":
        # RFC 8866 §6.15: a=fmtp:<format> <format specific parameters>
        fmt, _, params = (value or "").strip().partition(" ")
        if not fmt:
            warnings.append(f"line {lineno}: empty fmtp")
        else:
            m.fmtp[int(fmt) if _is_number(fmt) else fmt] = params.strip()
    elif key in DIRECTIONS:
        m.direction = key
    elif key == "ptime":
        # RFC 8866 §6.4: a=ptime:<packet time> in milliseconds (may carry a fraction)
        try:
            m.ptime = int(round(float((value or "").strip())))
        except (ValueError, OverflowError):
            warnings.append(f"line {lineno}: bad ptime {_short(value or '')!r}")
    elif key == "rtcp-mux":
        m.rtcp_mux = True                                    # RFC 5761 §5.1.1
    elif key == "rtcp":
        # RFC 3605 §2.1: a=rtcp:<port> [<nettype> <addrtype> <connection-address>]
        parts = (value or "").split()
        port = _int(parts[0]) if parts else None
        if port is None:
            warnings.append(f"line {lineno}: bad a=rtcp {_short(value or '')!r}")
        m.rtcp = port
        if len(parts) >= 4:
            m.rtcp_address = parts[3]


def parse_sdp(body: bytes | str) -> Sdp:
    """Parse an SDP body; never raises, records problems in `Sdp.warnings`."""
    sdp = Sdp()
    warnings = sdp.warnings
    if isinstance(body, (bytes, bytearray, memoryview)):
        text = bytes(body).decode("utf-8", errors="replace")   # RFC 8866 §5: UTF-8 text
    else:
        text = str(body)
    current: Media | None = None
    session_direction_set = False
    seen_v = False
    first_line = True
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r").strip()
        if not line:
            continue
        if "\x00" in line:
            line = line.replace("\x00", "")
        kind, eq, value = line.partition("=")
        if not eq or len(kind) != 1 or not kind.isalpha():
            warnings.append(f"line {lineno}: not a <type>=<value> line: {_short(line)!r}")
            first_line = False
            continue
        if kind.isupper():
            warnings.append(f"line {lineno}: upper-case line type {kind}= read as {kind.lower()}=")
            kind = kind.lower()
        if first_line and kind != "v":
            warnings.append(f"line {lineno}: SDP does not start with v= (starts with {kind}=)")
        first_line = False
        if kind == "v":
            if seen_v:
                warnings.append(f"line {lineno}: second v= line (two descriptions concatenated?)")
            seen_v = True
            sdp.version = value.strip()
            if sdp.version != "0":
                warnings.append(f"line {lineno}: unknown SDP version {_short(value)!r}")
        elif kind == "m":
            current = _media(value, warnings)
            current.session_connection = sdp.connection
            sdp.media.append(current)
        elif kind == "c":
            address = _connection(value, lineno, warnings)
            if current is None:
                if sdp.connection is not None:
                    warnings.append(f"line {lineno}: second session-level c= line")
                else:
                    sdp.connection = address
            elif current.connection is None:
                current.connection = address
        elif kind == "b":
            (sdp.bandwidths if current is None else current.bandwidths).append(
                _bandwidth(value, lineno, warnings))
        elif kind == "a":
            # RFC 8866 §5.13: a=<attribute-name>[:<attribute-value>]
            name, colon, val = value.partition(":")
            name = name.strip()
            attr_value = val.strip() if colon else None
            if not name:
                warnings.append(f"line {lineno}: empty attribute name")
                continue
            if current is None:
                sdp.attributes.append((name, attr_value))
                if name.lower() in DIRECTIONS:
                    session_direction_set = True
            else:
                current.attributes.append((name, attr_value))
                _media_attribute(current, name, attr_value, lineno, warnings)
        elif current is not None:
            if kind not in "ik":                   # i=, k= are allowed at media level
                warnings.append(f"line {lineno}: session-level {kind}= line inside an m= section")
        elif kind == "o":
            if sdp.origin is not None:
                warnings.append(f"line {lineno}: second o= line")
            else:
                sdp.origin = _origin(value, warnings)
        elif kind == "s":
            sdp.session_name = value
        elif kind == "t":
            sdp.timing.append(value.strip())
        elif kind not in "iuepzrk":
            warnings.append(f"line {lineno}: unknown line type {kind}=")
    if not seen_v:
        warnings.append("no v= line")
    if seen_v and sdp.origin is None:
        warnings.append("no o= line")
    if seen_v and sdp.session_name is None:
        warnings.append("no s= line")
    session_direction = sdp.direction if session_direction_set else None
    session_ptime = sdp.attribute("ptime")
    for m in sdp.media:
        m.session_connection = sdp.connection
        if not any(k.lower() in DIRECTIONS for k, _ in m.attributes):
            m.direction = session_direction or "sendrecv"
        if m.ptime is None and session_ptime:
            m.ptime = _int(session_ptime)
        if m.port != 0 and m.address is None:
            warnings.append(f"m={m.kind} {m.port} has no c= line at any level")
        if m.is_rtp:
            for fmt in m.formats:
                if _is_number(fmt) and int(fmt) >= 96 and int(fmt) not in m.rtpmap:
                    warnings.append(f"m={m.kind}: dynamic payload type {fmt} has no rtpmap")
    return sdp
