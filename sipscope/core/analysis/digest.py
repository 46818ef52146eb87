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
_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')
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

    def search(self, words: list[bytes]) -> int:
        """Index of the word that produced the response, or -1 (the hot loop: two hashes per
        word; HA2 and the tail are precomputed)."""
        if self.sess:
            check = self.check
            return next((i for i, word in enumerate(words) if check(word)), -1)
        hash_, prefix, tail, target, hexl = self.hash, self.prefix, self.tail, self.target, hexlify
        for i, word in enumerate(words):
            if hash_(hexl(hash_(prefix + word).digest()) + tail).digest() == target:
                return i
        return -1


def crack(challenge: DigestChallenge, words: tuple[list[bytes], list[str]] | None,
          identity: list[tuple[str, str]]) -> tuple[str, str] | None:
    """(password, kind of word) when a candidate reproduces the response, else None.
    words None: the identity-derived candidates only."""
    for text, kind in identity:
        if challenge.check(text.encode("utf-8")):
            return text, kind
    if words is None:
        return None
    found = challenge.search(words[0])
    if found < 0:
        return None
    return words[0][found].decode("utf-8", "replace"), words[1][found]


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
