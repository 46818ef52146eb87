"""Replace every identity in SIP text (messages, SDP, log lines around them) by its pseudonym.

The text is bytes read as Latin-1 (one character = one byte) and every replacement keeps its
length, so whatever counts bytes around the text (Content-Length, IP/UDP lengths, TCP sequence
numbers, the framing of a text trace) stays right.  One pass of one pattern: an identity is
replaced where SIP grammar says it is one (a URI's user part, a tag, a Digest parameter, a display
name ...), and any other word only when the capture has used it as an identity somewhere
(KnownIdentities, filled from the parsed messages) or when it is an IP address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sipscope.core.analysis.rules.security import SCANNER_UA
from sipscope.core.export.pseudonyms import PseudonymMap, all_digits, is_number

RUN = r"[A-Za-z0-9_.+\-~!*'`]+"
MAC = (r"(?<![0-9A-Fa-f:.\-])[0-9A-Fa-f]{2}(?P<macsep>[:-])(?:[0-9A-Fa-f]{2}(?P=macsep)){4}"
       r"[0-9A-Fa-f]{2}(?![0-9A-Fa-f:\-])")
_ID_HEADERS = r"call-id|i|replaces|join|target-dialog|in-reply-to"
_NAME_HEADERS = (r"from|to|f|t|contact|m|p-asserted-identity|p-preferred-identity|"
                 r"remote-party-id|diversion|referred-by|refer-to|r|b|p-called-party-id|"
                 r"history-info|route|record-route|path|service-route")
_HOST = r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.\-]*"
PATTERN = re.compile(
    # User-Agent and Server (§20.41, §20.35) stay readable: versions look like addresses
    r"(?P<ua>^(?i:user-agent|server)[ \t]*:)(?P<uav>[^\r\n]*)"
    # Call-ID (RFC 3261 §20.8) and the headers that repeat one (RFC 3891, 3911, 4538)
    rf"|(?P<cid>^(?i:{_ID_HEADERS})[ \t]*:[ \t]*)(?P<cidv>[^\r\n;]+)"
    # tag (§19.3), branch (§8.1.1.7), and their copies in Replaces, also %-escaped in a Refer-To
    r"|(?P<prm>(?:[;?&]|%3[Bb]|%26)[ \t]*(?i:tag|branch|to-tag|from-tag|ftag|ttag)(?:=|%3[Dd]))"
    rf"(?P<prmv>{RUN})"
    # SIP/SIPS/tel URI (§19.1, RFC 3966): user part and host
    rf"|(?P<uri>(?i:sips?|tel|im|pres):)(?:(?P<user>[^@\s;>\"<,?:/]+)@)?(?P<host>{_HOST})?"
    # Via sent-by (§20.42)
    rf"|(?P<via>SIP/2\.0/[A-Za-z]+[ \t]+)(?P<viah>{_HOST})"
    # display names (§20.10), quoted or a bare token before <
    rf"|(?P<dn>^(?i:{_NAME_HEADERS})[ \t]*:[ \t]*)(?P<dnv>[^<\r\n]*[^<\r\n \t])(?=[ \t]*<)"
    r'|(?P<dq>")(?P<dqv>(?:[^"\\\r\n]|\\.)*)(?="[ \t]*<)'
    # Digest parameters (RFC 2617 §3.2.2, §3.2.3; RFC 7616)
    r"|(?P<dg>\b(?P<dgn>(?i:username|realm|nonce|cnonce|response|opaque|nextnonce|rspauth))"
    r"[ \t]*=[ \t]*\"?)(?P<dgv>[^\",\s]+)"
    # channel names in Asterisk logs: SIP/100-0000001a
    r"|(?P<chan>\b(?:PJSIP|SIP|IAX2)/)(?P<chanv>[A-Za-z0-9_.+\-]+?)(?=-[0-9a-f]{8}\b)"
    # device identity (RFC 5626 §4.1 +sip.instance)
    r"|(?P<uuid>(?i:urn:uuid:))(?P<uuidv>[0-9A-Fa-f\-]+)"
    # a %-escape is a separator; after an @ (escaped or not) comes a host
    r"|(?P<esc>%(?!40)[0-9A-Fa-f]{2})"
    rf"|(?P<at>@|%40)(?P<ath>{_HOST})"
    # a MAC address (before IPv6: six groups are no IPv6 address)
    rf"|(?P<mac>{MAC})"
    # an IPv6 address anywhere (checked with ipaddress)
    r"|(?P<v6>(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![0-9A-Za-z:]))"
    # any other word: an IPv4 address, a known name or id, or left alone
    rf"|(?P<run>{RUN})",
    re.M)
_UA_WORD = re.compile(rf"{MAC}|{RUN}")
IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")
MASKED_V4 = re.compile(r"\d{1,3}\.[\dxX*#]{1,3}\.[\dxX*#]{1,3}\.[\dxX*#]{1,3}")
DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9\-]+)+")
_EDGES = re.compile(r"^([.'`!*~\-]*)(.*?)([.'`!*~\-]*)$", re.S)
_PIECE = re.compile(r"[A-Za-z0-9\x80-\xff]+")     # a word, UTF-8 letters read as Latin-1
# An attack tool's signature names no one and the security rules (catalog §11.1) read it: a
# display or user name of a known tool, and SIPVicious' default From sip:100@1.1.1.1, are kept.
TOOL_DEFAULT_URIS = frozenset(("100@1.1.1.1",))
_SECOND_LEVEL = frozenset(("co", "com", "net", "org", "ac", "gov", "edu", "ne", "or"))
# Words of SIP/SDP grammar that a user part may happen to equal: never replaced outside a URI.
GRAMMAR = frozenset(
    "sip sips tel user phone ip transport udp tcp tls sctp ws wss lr tag branch rport received "
    "maddr ttl method expires q ob gr comp sigcomp audio video rtp avp in ip4 ip6 invite ack bye "
    "cancel options register subscribe notify refer info update prack message publish true false "
    "yes no none null test admin root default conference presence dialog talk hold timer "
    "replaces path session early call application sdp refer message summary voicemail "
    "service line".split())


def _quoted(match: re.Match) -> bool:
    """The word stands alone between quotes ('6001', "6001")."""
    text, start, end = match.string, match.start(), match.end()
    return 0 < start and end < len(text) and text[start - 1] == text[end] and text[end] in "'\""


def registrable(name: str) -> str:
    """The part of a host name an organisation registers (acme.com, acme.co.uk)."""
    labels = name.lower().rstrip(".").split(".")
    take = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-take:])


@dataclass(slots=True)
class KnownIdentities:
    """Words the capture uses as identities, to be replaced wherever else they appear."""

    tokens: set[str] = field(default_factory=set)       # user parts, digest values
    ids: set[str] = field(default_factory=set)          # Call-IDs, tags, branches
    users: set[str] = field(default_factory=set)        # user names (lower case)
    addresses: set[str] = field(default_factory=set)    # IPv4 addresses seen as addresses
    short_numbers: set[str] = field(default_factory=set)  # 3-5 digit user parts (extensions)
    hosts: set[str] = field(default_factory=set)        # host names, lower case
    domains: set[str] = field(default_factory=set)      # their registrable parts

    def add_token(self, text: str, min_length: int = 6) -> None:
        """Replace this word everywhere, if it is distinctive enough that it means the same
        identity wherever it appears (a 3-digit extension could be a status code)."""
        text = text.strip()
        if is_number(text):
            digits = "".join(ch for ch in text if ch in "0123456789")
            if len(digits) >= 6:
                self.tokens.update((text, digits, "+" + digits))
        elif len(text) >= min_length or (len(text) >= 3 and min_length <= 3):
            if text.lower() not in GRAMMAR:
                self.tokens.add(text)

    def originals(self) -> set[str]:
        """Every value noted, lower case (a pseudonym must be none of them)."""
        return {v.lower() for group in (self.tokens, self.ids, self.users, self.hosts,
                                        self.addresses) for v in group} \
            | {label for host in self.hosts for label in host.split(".")}

    def add_id(self, text: str) -> None:
        """A Call-ID, tag or branch: replaced everywhere when 6 characters or longer."""
        for word in re.findall(RUN, text):
            word = _EDGES.match(word).group(2)
            if len(word) >= 6:
                self.ids.add(word)

    def add_user(self, text: str) -> None:
        """A URI user part or Digest user name: a name of 3 letters or more is replaced
        everywhere, whatever its case; a number when it has 6 digits or more."""
        text = text.strip()
        if is_number(text):
            self.add_token(text)
            if 3 <= len(text) <= 5 and all_digits(text):
                self.short_numbers.add(text)
        elif len(text) >= 3 and text.lower() not in GRAMMAR and not IPV4.fullmatch(text):
            self.users.add(text.lower())

    def add_display(self, name: str) -> None:
        """A display name: its words are replaced everywhere as user names are."""
        if not SCANNER_UA.search(name):
            for word in _PIECE.findall(name):
                self.add_user(word)

    def add_host(self, host: str) -> None:
        host = host.strip().strip("[]").rstrip(".")
        if not host or IPV4.fullmatch(host) or ":" in host or MASKED_V4.fullmatch(host):
            return
        if not DOMAIN.fullmatch(host) and not re.fullmatch(r"[A-Za-z0-9\-]+", host):
            return
        if "." in host:
            self.hosts.add(host.lower())
            self.domains.add(registrable(host))
        elif len(host) >= 3 and not all_digits(host) and host.lower() not in GRAMMAR:
            self.hosts.add(host.lower())


class TextRewriter:
    """rewrite(bytes) -> bytes of the same length with every identity pseudonymised."""

    def __init__(self, pseudonyms: PseudonymMap, known: KnownIdentities) -> None:
        self.map = pseudonyms
        self.known = known
        self._names: re.Pattern | bool | None = None     # built on first use

    def rewrite_binary(self, data: bytes) -> bytes:
        """A payload of another protocol (binary, length-prefixed strings such as '\x04Ivan'):
        rewritten as text, then known names replaced even inside longer words."""
        return self.rewrite_names(self.rewrite(data))

    def rewrite_names(self, data: bytes) -> bytes:
        """Every known user name (4+ characters) and host name replaced wherever it appears --
        all that can be done for encrypted bytes (TLS: the names in its handshake)."""
        if self._names is None:
            names = sorted({u for u in self.known.users if len(u) >= 4} | self.known.hosts,
                           key=len, reverse=True)
            self._names = re.compile("|".join(map(re.escape, names)), re.I) if names else False
        if not self._names:
            return data
        return self._names.sub(lambda m: self.host(m.group(0)) if m.group(0).lower()
                               in self.known.hosts else self.user(m.group(0)),
                               data.decode("latin-1")).encode("latin-1")

    def rewrite(self, data: bytes) -> bytes:
        if not data:
            return data
        text = data.decode("latin-1")
        out = PATTERN.sub(self._replace, text)
        if len(out) != len(text):          # a pseudonym of another length is a bug: fail loudly
            raise AssertionError("anonymized text changed length")
        return out.encode("latin-1")

    # -- one match ----------------------------------------------------------------------------
    def _replace(self, match: re.Match) -> str:
        kind = match.lastgroup
        group = match.group
        if kind == "run":
            run = group("run")
            if run in self.known.short_numbers and _quoted(match):
                return self.map.number(run)
            return self.word(run, forced=False)
        if kind == "esc":
            return group("esc")
        if kind == "ath":
            return group("at") + self.host(group("ath"))
        if kind == "uav":
            return group("ua") + _UA_WORD.sub(
                lambda m: self.map.mac_text(m.group(0)) if m.group("macsep") else
                self.word(m.group(0), forced=False, product=True), group("uav"))
        if kind in ("mac", "macsep"):
            return self.map.mac_text(group("mac"))
        if kind == "cidv":
            return group("cid") + self.identifier(group("cidv"))
        if kind == "prmv":
            return group("prm") + self.map.identifier(group("prmv"))
        if kind in ("user", "host", "uri"):
            return self._uri(match)
        if kind == "viah":
            return group("via") + self.host(group("viah"))
        if kind == "dqv":
            return group("dq") + self.display(group("dqv"))
        if kind == "dnv":
            return group("dn") + self.display(group("dnv"))
        if kind == "dgv":
            return group("dg") + self._digest(group("dgn").lower(), group("dgv"))
        if kind == "chanv":
            return group("chan") + self.map.token(group("chanv"))
        if kind == "uuidv":
            return group("uuid") + self.map.identifier(group("uuidv"))
        if kind == "v6":
            return self._v6(group("v6"))
        return match.group(0)

    def _uri(self, match: re.Match) -> str:
        scheme, user, host = match.group("uri"), match.group("user"), match.group("host")
        out = scheme
        if f"{user}@{host}" in TOOL_DEFAULT_URIS:
            return match.group(0)
        if user is not None:
            out += self.user(user) + "@"
        if host:
            out += self.user(host) if scheme.lower() == "tel:" else self.host(host)
        return out

    def _digest(self, name: str, value: str) -> str:
        if name == "username":
            return self.user(value)
        if name == "realm":
            return self.host(value) if DOMAIN.fullmatch(value) or IPV4.fullmatch(value) \
                else self.map.token(value)
        return self.map.token(value)       # nonce, cnonce, response, opaque: same-length hex

    def _v6(self, text: str) -> str:
        head = text.split("%")[0]
        mapped = self.map.address(head)
        return mapped + text[len(head):] if mapped != head else text

    # -- kinds of value --------------------------------------------------------------------------
    def user(self, text: str) -> str:
        """A URI user part or Digest user name (may be an address: sip:10.0.0.1@...); a name is
        mapped whatever its case (Lisa and lisa are one person), the case is kept."""
        if IPV4.fullmatch(text):
            return self.map.address(text)
        if is_number(text):
            return self.map.number(text)
        if SCANNER_UA.search(text):
            return text
        mapped = self.map.token(text.lower())
        return "".join(m.upper() if o.isupper() else m for o, m in zip(text, mapped))

    def host(self, text: str) -> str:
        """A host: an address (also [IPv6] and a hand-masked one) or a name; the dot an ngrep
        line ends with stays outside."""
        inner = text.strip("[]")
        pre, core, post = _EDGES.match(inner).groups()
        if IPV4.fullmatch(core) or ":" in core:
            mapped = self.map.address(core)
        elif MASKED_V4.fullmatch(core):
            mapped = self.map.masked_v4(core)
        else:
            mapped = self.map.domain(core)
        mapped = pre + mapped + post
        return text.replace(inner, mapped) if inner != text else mapped

    def display(self, text: str) -> str:
        """A display name (§20.10): its words mapped as user names are (so the name 100 and the
        extension 100, or Lisa and lisa, stay alike); quotes and escapes kept."""
        return _PIECE.sub(lambda m: m.group(0) if SCANNER_UA.search(text) else self.user(m.group(0)),
                          text)

    def identifier(self, value: str) -> str:
        """A Call-ID: every piece replaced (whatever its length), an address after @ mapped."""
        local, at, host = value.rpartition("@")
        if not at:
            return self._id_words(value)
        return self._id_words(local) + at + (self.host(host) if re.fullmatch(_HOST, host.strip())
                                             else self._id_words(host))

    def _id_words(self, text: str) -> str:
        def one(match: re.Match) -> str:
            pre, core, post = _EDGES.match(match.group(0)).groups()
            if IPV4.fullmatch(core):
                return pre + self.map.address(core) + post
            return pre + self.map.identifier(core) + post if core else match.group(0)
        return re.sub(RUN, one, text)

    def word(self, run: str, forced: bool, product: bool = False) -> str:
        """Any other word.  In User-Agent/Server text (product) an IPv4-looking word is replaced
        only when the capture used it as an address (versions look like addresses)."""
        pre, core, post = _EDGES.match(run).groups()
        if not core:
            return run
        if IPV4.fullmatch(core):
            if product and core not in self.known.addresses:
                return run
            mapped = self.map.address(core)
        elif core in self.known.ids:
            mapped = self.map.identifier(core)
        elif core.lower() in self.known.users and not product:
            mapped = self.user(core)
        elif MASKED_V4.fullmatch(core) and any(ch in "xX*#" for ch in core):
            mapped = self.map.masked_v4(core)
        elif core in self.known.tokens:
            mapped = self.map.token(core)
        elif self._known_host(core) and not (product and "." not in core):
            mapped = self.map.domain(core)      # (a host 'pbx' leaves "Asterisk PBX" alone)
        elif not product and _PIECE.fullmatch(core) is None and self._known_pieces(core):
            mapped = _PIECE.sub(lambda m: self.user(m.group(0))
                                if m.group(0).lower() in self.known.users else m.group(0), core)
        elif forced:
            mapped = self.host(core) if "." in core and DOMAIN.fullmatch(core) \
                and not all_digits(core.replace(".", "")) else self.map.token(core)
        else:
            return run
        return pre + mapped + post

    def _known_pieces(self, core: str) -> bool:
        """A word made of pieces (nodejs-Session, alice_home) of which one is a user name."""
        return any(piece.lower() in self.known.users for piece in _PIECE.findall(core))

    def known_host(self, name: str) -> bool:
        """A name the capture uses as a host, or one in the same registered domain."""
        return self._known_host(name)

    def _known_host(self, core: str) -> bool:
        lower = core.lower()
        if lower in self.known.hosts:
            return True
        return "." in core and DOMAIN.fullmatch(core) is not None \
            and registrable(core) in self.known.domains and not all_digits(core.replace(".", ""))
