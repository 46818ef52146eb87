"""Digest authentication (RFC 2617 §3.2.2, RFC 7616 §3.4): parsing, the dictionary, cracking."""

from __future__ import annotations

import hashlib
import re
import sys
from binascii import hexlify
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sipscope.core.model.message import Message


# -- digest computation and the dictionary (RFC 2617 §3.2.2, RFC 7616 §3.4) -------------------

try:                                      # CPython's built-in MD5 is ~2x faster than OpenSSL's
    from _md5 import md5 as _md5          # for the short inputs of digest cracking
except ImportError:                       # pragma: no cover - builds without it
    _md5 = hashlib.md5


def _sha512_256(data: bytes = b""):
    return hashlib.new("sha512_256", data)


HASHES = {"MD5": _md5, "SHA-256": hashlib.sha256, "SHA-512-256": _sha512_256}
_AUTHZ = re.compile(rb"^(proxy-authorization|authorization)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
# a name starts only where no name character precedes it: without the look-behind, findall
# tried a name at every position of a long word, quadratic (70 KB of letters: 20 s; issue 17)
_PARAM = re.compile(r'(?<![A-Za-z0-9_-])([A-Za-z][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')
# §11.4 on a busy PBX capture (thousands of phones): the whole dictionary (~17,000 words, ~10 ms
# an account) for the first accounts only; later accounts get the identity-derived candidates
# (password = extension, user name reversed, ...), which cost microseconds.
FULL_SEARCH_ACCOUNTS = 100
NUMBER_KINDS = {1: "a 1-digit number", 2: "a 2-digit number", 3: "a 3-digit number",
                4: "a 4-digit number"}


def parse_digest(value: str) -> dict | None:
    """`Digest username="101", realm="x", ...` into lower-case keys and unquoted values."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params = {}
    for name, raw in _PARAM.findall(rest):
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1] if raw.endswith('"') and len(raw) > 1
                         else raw[1:])
        params[name.lower()] = raw
    return params


def credentials_of(message: Message) -> list[dict]:
    """The Digest parameters of every Authorization / Proxy-Authorization header (RFC 3261 §22)."""
    raw = message.raw
    end = raw.find(b"\r\n\r\n")
    head = raw if end < 0 else raw[:end]
    out = []
    for match in _AUTHZ.finditer(head):
        params = parse_digest(match.group(2).decode("utf-8", "replace"))
        if params is not None:
            params["header"] = match.group(1).decode("ascii", "replace").lower()
            out.append(params)
    return out


@dataclass(slots=True)
class DigestChallenge:
    """One captured digest response, with everything but HA1 precomputed (HA2, the tail)."""

    username: str
    realm: str
    target: bytes                      # the captured response, as bytes
    hash: object                       # hashlib-style constructor
    prefix: bytes                      # b"username:realm:"
    tail: bytes                        # b":nonce:nc:cnonce:qop:HA2" or b":nonce:HA2"
    sess: bytes = b""                  # b":nonce:cnonce" for the -sess algorithms

    @classmethod
    def from_params(cls, params: dict, message: Message) -> DigestChallenge | None:
        """RFC 2617 §3.2.2 / RFC 7616 §3.4.1-3: use the `uri` parameter exactly as quoted and
        the method of the request that carries the credentials."""
        response, uri = params.get("response", ""), params.get("uri")
        algorithm = (params.get("algorithm") or "MD5").upper()
        sess = algorithm.endswith("-SESS")
        hash_ = HASHES.get(algorithm[:-5] if sess else algorithm)
        qop = (params.get("qop") or "").lower()
        if hash_ is None or uri is None or qop not in ("", "auth", "auth-int") or not response:
            return None
        try:
            target = bytes.fromhex(response)
        except ValueError:
            return None
        nonce, nc, cnonce = params.get("nonce", ""), params.get("nc", ""), params.get("cnonce", "")
        a2 = f"{message.method}:{uri}".encode("utf-8")
        if qop == "auth-int":                    # RFC 2617 §3.2.2.3: H(entity-body)
            a2 += b":" + hexlify(hash_(message.sip.body).digest())
        ha2 = hexlify(hash_(a2).digest())
        if qop:
            tail = f":{nonce}:{nc}:{cnonce}:{qop}:".encode("utf-8") + ha2
        else:
            tail = f":{nonce}:".encode("utf-8") + ha2
        username, realm = params.get("username", ""), params.get("realm", "")
        return cls(username=username, realm=realm, target=target, hash=hash_,
                   prefix=f"{username}:{realm}:".encode("utf-8"), tail=tail,
                   sess=f":{nonce}:{cnonce}".encode("utf-8") if sess else b"")

    def check(self, password: bytes) -> bool:
        hash_ = self.hash
        ha1 = hexlify(hash_(self.prefix + password).digest())
        if self.sess:
            ha1 = hexlify(hash_(ha1 + self.sess).digest())
        return hash_(ha1 + self.tail).digest() == self.target

    @property
    def key(self) -> tuple:
        """Everything the search result depends on (besides the word list)."""
        return self.hash, self.prefix, self.tail, self.target, self.sess

    def search(self, words: list[bytes], start: int = 0, stop: int | None = None) -> int:
        """Index of the first word in words[start:stop] that produced the response, or -1 (the
        hot loop: two hashes per word; HA2 and the tail are precomputed)."""
        stop = len(words) if stop is None else min(stop, len(words))
        if self.sess:
            check = self.check
            return next((i for i in range(start, stop) if check(words[i])), -1)
        hash_, prefix, tail, target, hexl = self.hash, self.prefix, self.tail, self.target, hexlify
        for i in range(start, stop):
            if hash_(hexl(hash_(prefix + words[i]).digest()) + tail).digest() == target:
                return i
        return -1


def crack(challenge: DigestChallenge, words: tuple[list[bytes], list[str]] | None,
          identity: list[tuple[str, str]],
          ahead: DigestPrecompute | None = None) -> tuple[str, str] | None:
    """(password, kind of word) when a candidate reproduces the response, else None.
    words None: the identity-derived candidates only.  ahead: searches already done while the
    capture was loading (used only when made with the same word list)."""
    for text, kind in identity:
        if challenge.check(text.encode("utf-8")):
            return text, kind
    if words is None:
        return None
    found = ahead.search(challenge, words) if ahead is not None else challenge.search(words[0])
    if found < 0:
        return None
    return words[0][found].decode("utf-8", "replace"), words[1][found]


class DigestPrecompute:
    """Dictionary searches done ahead of the rules, in the time the loader waits for the reader
    process (issue: big captures): credentials are offered as messages arrive, `step()` searches
    one slice of the dictionary and returns whether work is left.  Results are exact and keyed by
    DigestChallenge.key; the rule resumes a search that was not finished.  Only the first
    `limit` accounts are searched ahead, like the rule's full searches (FULL_SEARCH_ACCOUNTS)."""

    SLICE = 1024                    # words per step: about a millisecond

    def __init__(self, wordlist: str | None, limit: int) -> None:
        self.wordlist = wordlist
        self.limit = limit
        self._words: tuple[list[bytes], list[str]] | None = None
        self._accounts: set[tuple[str, str]] = set()
        self._queue: list[DigestChallenge] = []
        self._done: dict[tuple, tuple[int, int]] = {}      # key -> (searched up to, found)

    def offer(self, messages) -> None:
        from sipscope.core.model.message import HAS_CREDENTIALS
        for message in messages:
            if not message.flags & HAS_CREDENTIALS or message.method in ("ACK", "CANCEL"):
                continue
            for params in credentials_of(message):
                challenge = DigestChallenge.from_params(params, message)
                account = (challenge.username, challenge.realm) if challenge else None
                if account is None or account in self._accounts \
                        or len(self._accounts) >= self.limit:
                    continue
                self._accounts.add(account)
                self._queue.append(challenge)

    def step(self) -> bool:
        """Search the next slice; False when nothing is waiting."""
        if not self._queue:
            return False
        if self._words is None:
            self._words = dictionary(self.wordlist)
        words = self._words[0]
        challenge = self._queue[0]
        start, found = self._done.get(challenge.key, (0, -1))
        stop = min(start + self.SLICE, len(words))
        found = challenge.search(words, start, stop)
        self._done[challenge.key] = (len(words) if found >= 0 else stop, found)
        if found >= 0 or stop >= len(words):
            self._queue.pop(0)
        return True

    def search(self, challenge: DigestChallenge, words: tuple[list[bytes], list[str]]) -> int:
        """challenge.search(words[0]), reusing what was searched ahead."""
        if words is not self._words:
            return challenge.search(words[0])
        start, found = self._done.get(challenge.key, (0, -1))
        return found if found >= 0 else challenge.search(words[0], start)


def mask(password: str) -> str:
    """`1234` -> `1***`: the first character and one star per other character."""
    if not password:
        return "(empty)"
    return password[0] + "*" * (len(password) - 1)


def resources_dir() -> Path:
    """resources/ at the top of the source tree, else the installed data directory."""
    import sipscope
    here = Path(sipscope.__file__).resolve().parents[1] / "resources"
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "sipscope"


FALLBACK_WORDS = {   # used only when resources/wordlists/weak-passwords.txt cannot be read
    "a sample-config default": ["blah", "blahpoly", "digium", "guessit", "youwillneverguessit",
                                "gissadetdu", "topsecret", "unsecurepassword", "mysecret"],
    "a common password": ["password", "Password", "passw0rd", "secret", "pass", "admin",
                          "administrator", "voip", "sip", "phone", "welcome", "changeme",
                          "default", "test", "guest", "user", "qwerty", "abc123", "asterisk",
                          "freepbx", "trixbox", "elastix", "polycom", "cisco", "yealink",
                          "grandstream", "snom", "123456", "654321", "112233", "121212"],
}


def _shipped_words() -> list[tuple[str, str]]:
    path = resources_dir() / "wordlists" / "weak-passwords.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return [(w, kind) for kind, ws in FALLBACK_WORDS.items() for w in ws]
    out, kind = [], "a common password"
    for line in text.splitlines():
        if line.startswith("## kind:"):
            kind = line[len("## kind:"):].strip()
        elif line and not line.startswith("#"):
            out.append((line, kind))
    return out


@lru_cache(maxsize=4)
def dictionary(extra: str | None = None) -> tuple[list[bytes], list[str]]:
    """(words, kind of each word): the shipped list, every 1-4 digit number, then `extra`."""
    words: list[bytes] = []
    kinds: list[str] = []
    seen: set[bytes] = set()

    def add(word: str, kind: str) -> None:
        data = word.encode("utf-8")
        if data not in seen:
            seen.add(data)
            words.append(data)
            kinds.append(kind)

    for word, kind in _shipped_words():
        add(word, kind)
    for width in range(1, 5):                       # 0 … 9999, leading zeros included
        for number in range(10 ** width):
            add(f"{number:0{width}d}", NUMBER_KINDS[width])
    for digit in "0123456789":
        add(digit * 6, "a repeated digit")
    for n in range(1, 10):                          # svcrack-style defaults N000 and NN00
        add(f"{n}000", "a round number")
    if extra:
        try:
            lines = Path(extra).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            lines = []
        for line in lines:
            if line:
                add(line, f"a word from your wordlist ({Path(extra).name})")
    return words, kinds
