"""One consistent pseudonym for every identity in a capture (addresses, numbers, names, ids).

Every pseudonym has exactly the length of what it replaces, in bytes, so Content-Length, IP/UDP
lengths and TCP sequence numbers of an anonymized capture stay valid without being recomputed.
The map is random for each run (never a hash of the original: a phone number's hash can be
brute-forced), and one map serves every file anonymized together.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
import re
import secrets
import string

from sipscope.core.analysis.context import is_private

LOWER, UPPER, DIGITS, HEX = string.ascii_lowercase, string.ascii_uppercase, string.digits, "0123456789abcdef"
MAGIC_COOKIE = "z9hG4bK"            # RFC 3261 §8.1.1.7: a branch keeps it
# Public IPv4 pseudonyms: the documentation ranges (RFC 5737 §3), by the length of the address text.
DOC_PREFIXES_V4 = ("192.0.2.", "203.0.113.", "198.51.100.")
# Private blocks (D8 of the fault catalogue): a private address stays in its own block, so a
# finding that names the range ("192.168/16") reads the same.
PRIVATE_BLOCKS_V4 = (("10.", 1), ("172.", 2), ("192.168.", 2), ("100.", 2), ("169.254.", 2))
# Values that name nobody, kept as they are (RFC 3323 §4.1.1.3 anonymous, RFC 2606 names).
KEPT_WORDS = frozenset(("anonymous", "unknown", "unavailable", "restricted", "private", "invalid",
                        "localhost", "-", "s"))
KEPT_SUFFIXES = ("example.com", "example.net", "example.org", ".example", ".invalid", ".test",
                 ".localhost", "localhost")


def _scramble(text: str, rng: random.Random) -> str:
    """Same length, same kind of character: digit -> digit, letter -> letter of the same case,
    any other byte above 127 (the text is bytes decoded as Latin-1) -> a lower-case letter;
    lowercase hex stays lowercase hex so a hex id still reads as one."""
    hexish = len(text) >= 4 and all(ch in HEX for ch in text)
    out = []
    for ch in text:
        if hexish:
            out.append(rng.choice(HEX))
        elif ch in DIGITS:
            out.append(rng.choice(DIGITS))
        elif "a" <= ch <= "z":
            out.append(rng.choice(LOWER))
        elif "A" <= ch <= "Z":
            out.append(rng.choice(UPPER))
        elif ord(ch) >= 0x80:
            out.append(rng.choice(LOWER))
        else:
            out.append(ch)
    return "".join(out)


class PseudonymMap:
    """original -> pseudonym, one per kind of identity, consistent for the life of the map."""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(secrets.randbits(64) if seed is None else seed)
        self.addresses: dict[str, str] = {}         # canonical address text -> pseudonym address
        self.tokens: dict[str, str] = {}            # user parts, ids, tags, names ... -> pseudonym
        self.labels: dict[str, str] = {}            # domain label (lower case) -> pseudonym label
        self.digits: dict[str, str] = {}            # digit string of a number -> pseudonym digits
        self._used: set[str] = set()
        self._originals: set[str] = set()           # never hand out an original as pseudonym
        self._spelled: dict[str, str] = {}          # address as written -> pseudonym text
        self._packed: dict[bytes, bytes] = {}       # address in an IP header -> pseudonym
        self.macs: dict[bytes, bytes] = {}
        self._used_macs: set[bytes] = set()
        self._perms: dict[str, str] = {}   # (first?, digits to the right) -> digit permutation

    # -- generic tokens ----------------------------------------------------------------------
    def reserve(self, originals) -> None:
        """Values the inputs hold: no pseudonym will be one of them (ua128 must not become the
        pseudonym of ua561 while ua128 itself is in the capture)."""
        self._originals.update(originals)

    def _fresh(self, make, original: str, tries: int = 50, exhaustive: bool = True) -> str:
        """A new pseudonym from make() that no other original has; when random tries keep
        hitting used ones (a small space: one-letter pieces), the first free one in order."""
        for _ in range(tries):
            candidate = make()
            if candidate != original and candidate not in self._used \
                    and candidate.lower() not in self._originals:
                self._used.add(candidate)
                return candidate
        for letters in itertools.product(*(_alphabet(ch) for ch in original if exhaustive)):
            candidate = "".join(letters)
            if candidate != original and candidate not in self._used \
                    and candidate.lower() not in self._originals:
                self._used.add(candidate)
                return candidate
        self._used.add(candidate)
        return candidate              # every value of this shape is taken: reuse (cannot happen
                                      # for tokens, whose originals come from the same space)

    def token(self, text: str) -> str:
        """An opaque value (Call-ID part, tag, nonce, display name, user name ...)."""
        if not text or text.lower() in KEPT_WORDS:
            return text
        found = self.tokens.get(text)
        if found is None:
            if text.startswith(MAGIC_COOKIE):
                rest = text[len(MAGIC_COOKIE):]
                found = MAGIC_COOKIE + self._fresh(lambda: _scramble(rest, self.rng), rest)
            elif is_number(text):
                found = self.number(text)
            else:
                found = self._fresh(lambda: _scramble(text, self.rng), text)
            self.tokens[text] = found
        return found

    def identifier(self, text: str) -> str:
        """A Call-ID, tag or branch: each piece between punctuation replaced on its own, so ids
        that share a piece keep sharing it (a proxy's forked branches z9hG4bKd146.d2c78147.2 and
        .5, SIPp's 1-1966@ Call-ID and z9hG4bK-1966-1-0 branch), the magic cookie kept."""
        head = MAGIC_COOKIE if text.startswith(MAGIC_COOKIE) else ""
        return head + _PIECES.sub(lambda m: self.token(m.group(0)), text[len(head):])

    def number(self, text: str) -> str:
        """A phone number or numeric user part: same length, digits stay digits, '+' and
        leading zeros kept (00 still reads as an international prefix), other characters kept.
        Each digit is permuted by a random permutation chosen by the digits to its right (the
        first significant digit among 1-9), so numbers that end alike still end alike (a scanner
        dialling one number behind many prefixes, catalog §11.5) and no two numbers share a
        pseudonym."""
        core = "".join(ch for ch in text if ch in DIGITS)
        found = self.digits.get(core)
        if found is None:
            lead = len(core) - len(core.lstrip("0"))
            out = []
            for i in range(len(core) - 1, lead - 1, -1):
                first = i == lead
                key = ("1" if first else "0") + core[i + 1:]
                perm = self._perms.get(key)
                if perm is None:
                    pool = list("123456789" if first else DIGITS)
                    self.rng.shuffle(pool)
                    perm = self._perms[key] = ("0" if first else "") + "".join(pool)
                out.append(perm[int(core[i])])
            found = self.digits[core] = core[:lead] + "".join(reversed(out))
        it = iter(found)
        return "".join(next(it) if ch in DIGITS else ch for ch in text)

    # -- host and domain names ----------------------------------------------------------------
    def domain(self, name: str) -> str:
        """Each label is replaced consistently (so sip.acme.com and acme.com stay related);
        the top-level label, names of RFC 2606 and 'localhost' are kept."""
        lower = name.lower().rstrip(".")
        if not lower or lower in KEPT_WORDS or lower.endswith(KEPT_SUFFIXES):
            return name
        labels = name.split(".")
        keep_last = len(labels) > 1 and labels[-1].isalpha()
        out = []
        for i, label in enumerate(labels):
            if not label or (keep_last and i == len(labels) - 1):
                out.append(label)
                continue
            key = label.lower()
            mapped = self.labels.get(key)
            if mapped is None:
                mapped = self._fresh(lambda: _scramble(key, self.rng), key)
                self.labels[key] = mapped
            out.append("".join(m.upper() if o.isupper() else m for o, m in zip(label, mapped)))
        return ".".join(out)

    # -- addresses ------------------------------------------------------------------------------
    def address(self, text: str) -> str:
        """An IPv4 or IPv6 address in text: its pseudonym in the same class and the same text
        length (unchanged when it names nobody: unspecified, loopback, multicast, broadcast)."""
        known = self._spelled.get(text)
        if known is not None:
            return known
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return text
        canonical = str(addr)
        found = self.addresses.get(canonical)
        if found is None:
            found = self._new_v4(addr) if addr.version == 4 else self._new_v6(addr)
            self.addresses[canonical] = found
            self._used.add(found)
        if addr.version == 6 and text != canonical:
            found = _render_v6_like(text, found) or self.token(text)
        self._spelled[text] = found
        return found

    def mac(self, raw: bytes) -> bytes:
        """A MAC address (6 bytes): the maker's prefix (OUI) kept, the device part replaced;
        group (multicast/broadcast) addresses and the all-zero one (loopback captures) kept."""
        if len(raw) != 6 or raw[0] & 1 or not any(raw):
            return raw
        found = self.macs.get(raw)
        if found is None:
            for _ in range(1000):
                found = raw[:3] + bytes(self.rng.randrange(256) for _ in range(3))
                if found != raw and found not in self._used_macs:
                    break
            self._used_macs.add(found)
            self.macs[raw] = found
        return found

    def mac_text(self, text: str) -> str:
        """The same for a MAC written as text (00:15:65:aa:bb:cc), in the same spelling."""
        separator = text[2]
        mapped = self.mac(bytes.fromhex(text.replace(separator, ""))).hex(separator)
        return mapped.upper() if text.isupper() else mapped

    def masked_v4(self, text: str) -> str:
        """A hand-masked address ("66.227.1xx.2xx"): the masking characters stay, the digits
        are replaced, and the first octets that make it private (D8) are kept so it stays in its
        class; a public first octet is replaced by another public one of as many digits."""
        found = self.tokens.get(text)
        if found is None:
            octets = text.split(".")
            fixed = next((n for prefix, n in PRIVATE_BLOCKS_V4 + (("127.", 1),)
                          if text.startswith(prefix)), 0)
            out = octets[:fixed]
            for i, octet in enumerate(octets[fixed:], fixed):
                if i == 0 and all_digits(octet):
                    out.append(self._public_first_octet(len(octet)))
                elif all_digits(octet):
                    out.append(_octet(len(octet), self.rng, last=(i == 3)))
                else:               # "1xx": a first digit that keeps the octet below 256
                    out.append("".join(
                        (self.rng.choice("12") if j == 0 and len(octet) == 3
                         else self.rng.choice(DIGITS)) if ch in DIGITS else ch
                        for j, ch in enumerate(octet)))
            found = self._fresh(lambda: ".".join(out), text) if ".".join(out) != text else text
            self.tokens[text] = found
        return found

    def _public_first_octet(self, digits: int) -> str:
        while True:
            value = self.rng.randint(1 if digits == 1 else 10 ** (digits - 1),
                                     min(10 ** digits - 1, 223))
            if value not in (10, 100, 127, 169, 172, 192):
                return str(value)

    def packed(self, raw: bytes) -> bytes:
        """The same for an address as it sits in an IP header (4 or 16 bytes)."""
        found = self._packed.get(raw)
        if found is None:
            if len(raw) not in (4, 16):
                return raw
            found = ipaddress.ip_address(self.address(str(ipaddress.ip_address(raw)))).packed
            self._packed[raw] = found
        return found

    def _kept(self, addr) -> bool:
        return (addr.is_unspecified or addr.is_loopback or addr.is_multicast
                or (addr.version == 4 and str(addr) == "255.255.255.255"))

    def _new_v4(self, addr: ipaddress.IPv4Address) -> str:
        text = str(addr)
        if self._kept(addr):
            return text
        octets = text.split(".")
        for prefix, fixed in PRIVATE_BLOCKS_V4:
            if text.startswith(prefix) and _private_v4(addr):
                return self._fresh(lambda: self._fill_private(octets, fixed), text, 5000, False)
        return self._public_v4(len(text), text)

    def _fill_private(self, octets: list[str], fixed: int) -> str:
        out = list(octets[:fixed])
        if octets[0] == "172":                       # 172.16.0.0/12
            out = ["172", str(self.rng.randint(16, 31))]
        elif octets[0] == "100":                     # 100.64.0.0/10 (RFC 6598)
            out = ["100", str(self.rng.randint(64, 99) if len(octets[1]) == 2
                              else self.rng.randint(100, 127))]
        out += [_octet(len(o), self.rng, last=(i == 3)) for i, o in enumerate(octets) if i >= fixed]
        return ".".join(out)

    def _public_v4(self, length: int, original: str) -> str:
        """Documentation ranges first (RFC 5737), then, when their addresses of this text length
        are used up (or none has it), 240.0.0.0/4 (reserved, never routed), or 0.0.0.0/8 for the
        7-8 character ones -- both still read as public to sipscope, like the original."""
        free = [prefix + str(last) for prefix in DOC_PREFIXES_V4
                for digits in [length - len(prefix)] if 1 <= digits <= 3
                for last in range(10 ** (digits - 1) if digits > 1 else 1,
                                  min(10 ** digits, 255))
                if prefix + str(last) not in self._used
                and prefix + str(last) not in self._originals]
        if free:
            return self.rng.choice(free)
        first = "0" if length <= 8 else str(self.rng.randint(240, 254))
        for _ in range(1000):
            rest = length - len(first) - 3
            sizes = [self.rng.randint(1, 3) for _ in range(2)]
            sizes.append(rest - sum(sizes))
            if 1 <= sizes[2] <= 3:
                candidate = ".".join([first] + [_octet(n, self.rng, last=(i == 2))
                                                 for i, n in enumerate(sizes)])
                if candidate not in self._used and candidate not in self._originals \
                        and candidate != original:
                    return candidate
        raise ValueError(f"no pseudonym address of length {length} left")

    def _new_v6(self, addr: ipaddress.IPv6Address) -> str:
        if self._kept(addr):
            return str(addr)
        groups = [int(g, 16) for g in addr.exploded.split(":")]
        widths = [len(f"{g:x}") if g else 0 for g in groups]
        keep = 1 if (addr.is_link_local or addr.is_site_local or groups[0] >> 9 == 0x7E) else 0
        if keep == 0 and widths[0] == 4 and widths[1] and sum(widths[2:]) >= 1:
            # A documentation prefix: move the hex digits the prefix gains or loses to the
            # other non-zero groups, so the text keeps its length and its '::'.
            rest = [i for i in range(2, 8) if widths[i]]
            new_widths = list(widths)
            new_widths[0], new_widths[1] = 4, 3
            budget = sum(widths[i] for i in rest) + (widths[0] + widths[1] - 7)
            if len(rest) <= budget <= 4 * len(rest):
                for i in rest:
                    new_widths[i] = 1
                extra = budget - len(rest)
                for i in rest:
                    add = min(3, extra)
                    new_widths[i] += add
                    extra -= add
                # 2001:db8::/32 counts as private for sipscope (Python's ipaddress, D8): a
                # public address goes to 3fff::/20 (RFC 9637), the other documentation prefix.
                head = [0x2001, 0xDB8] if is_private(str(addr)) else [0x3FFF, None]
                return self._fresh(lambda: self._fill_v6(head, new_widths, 2), str(addr), 5000,
                                   False)
        return self._fresh(lambda: self._fill_v6(groups[:keep], widths, keep), str(addr), 5000,
                           False)

    def _fill_v6(self, head: list, widths: list[int], start: int) -> str:
        groups = [self.rng.randint(0x100, 0xFFF) if g is None else g for g in head]
        for width in widths[start:]:
            groups.append(0 if not width else self.rng.randint(16 ** (width - 1) if width > 1 else 1,
                                                               16 ** width - 1))
        return str(ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups)))


def _alphabet(ch: str) -> str:
    if ch in DIGITS:
        return DIGITS
    if "a" <= ch <= "z":
        return LOWER
    if "A" <= ch <= "Z":
        return UPPER
    return LOWER if ord(ch) >= 0x80 else ch


_PIECES = re.compile(r"[^.\-_~!*'`+@:;=/%]+")


def _private_v4(addr: ipaddress.IPv4Address) -> bool:
    return any(addr in net for net in _PRIVATE_NETS)


_PRIVATE_NETS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"))


def _octet(digits: int, rng: random.Random, last: bool = False) -> str:
    if digits == 1:
        return str(rng.randint(1 if last else 0, 9))
    if digits == 2:
        return str(rng.randint(10, 99))
    return str(rng.randint(100, 254 if last else 255))


def _render_v6_like(original: str, pseudonym: str) -> str | None:
    """The pseudonym written the way the original was (upper case, or all groups written out)."""
    addr = ipaddress.IPv6Address(pseudonym)
    for form in (pseudonym, pseudonym.upper(), addr.exploded, addr.exploded.upper()):
        if len(form) == len(original) and (form.isupper() == original.isupper()
                                           or not any(c.isalpha() for c in original)):
            return form
    return None                         # an odd spelling: the caller scrambles it as a token


def is_number(text: str) -> bool:
    """A phone number or numeric user part: digits with an optional '+' and visual separators."""
    digits = sum(ch in DIGITS for ch in text)
    return digits >= 1 and all(ch in DIGITS or ch in "+-.()*#" for ch in text) \
        and "+" not in text[1:] and digits * 2 > len(text)


def all_digits(text: str) -> bool:
    """Only ASCII digits (str.isdigit also accepts '²', which a capture may hold)."""
    return bool(text) and all(ch in DIGITS for ch in text)
