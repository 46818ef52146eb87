"""Split MIME multipart bodies (RFC 2046 §5.1) and find the SDP part of a SIP body.

Lenient on purpose: LF or CRLF line ends, a missing close delimiter, a truncated last part,
preamble and epilogue text, and a missing boundary parameter (guessed from a body that starts
with "--") are all accepted.  Nothing here raises on bad input.
"""

from __future__ import annotations

import base64
import binascii
import re

Part = tuple[list[tuple[str, str]], bytes]

_MAX_DEPTH = 5
_SDP_TYPE = "application/sdp"


def media_type(content_type: str | None) -> str:
    """The lower-cased type/subtype of a Content-Type value, without parameters."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def content_type_param(content_type: str | None, name: str) -> str | None:
    """A parameter of a Content-Type value (RFC 2045 §5.1), unquoted; names are case-insensitive."""
    if not content_type:
        return None
    want = name.lower()
    # parameters: ; name = value | ; name = "quoted value"
    for match in re.finditer(r';\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)', content_type):
        if match.group(1).lower() == want:
            value = match.group(2).strip()
            if value.startswith('"'):
                value = value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:]
                value = re.sub(r"\\(.)", r"\1", value)
            return value
    return None


def _parse_headers(block: bytes) -> list[tuple[str, str]]:
    """Part headers (RFC 2045 / RFC 5322 syntax), unfolding continuation lines."""
    headers: list[tuple[str, str]] = []
    for raw in block.split(b"\n"):
        line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
        if not line.strip():
            continue
        if line[0] in " \t" and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.strip(), value.strip()))
    return headers


def _split_part(chunk: bytes) -> Part:
    """Split one body part into its headers and content at the first empty line."""
    # RFC 2046 §5.1.1: a part with no headers starts with an empty line.
    if chunk.startswith(b"\r\n"):
        return [], chunk[2:]
    if chunk.startswith(b"\n"):
        return [], chunk[1:]
    match = re.search(rb"\r?\n\r?\n", chunk)
    if match is None:
        # No empty line: headers only if every line looks like a header, else all content.
        lines = [ln for ln in chunk.split(b"\n") if ln.strip()]
        if lines and all(re.match(rb"^[!-9;-~]+:", ln) for ln in lines):
            return _parse_headers(chunk), b""
        return [], chunk
    return _parse_headers(chunk[:match.start()]), chunk[match.end():]


def _guess_boundary(body: bytes) -> str | None:
    stripped = body.lstrip(b"\r\n")
    if not stripped.startswith(b"--"):
        return None
    line = stripped.split(b"\n", 1)[0].rstrip(b"\r \t")[2:]
    return line.decode("latin-1") if line else None


def split_multipart(content_type: str | None, body: bytes) -> list[Part]:
    """The parts of a multipart body as [(headers, content)], [] when none can be found."""
    boundary = content_type_param(content_type, "boundary") or _guess_boundary(body)
    if not boundary:
        return []
    delimiter = b"--" + boundary.encode("latin-1", errors="replace")
    # RFC 2046 §5.1.1: a delimiter is CRLF "--" boundary at the start of a line; the CRLF
    # before it belongs to the delimiter, not to the preceding part.
    starts = [m.start() for m in re.finditer(rb"(?:^|(?<=\n))" + re.escape(delimiter), body)]
    parts: list[Part] = []
    for index, start in enumerate(starts):
        after = start + len(delimiter)
        if body[after:after + 2] == b"--":          # close delimiter: the epilogue follows
            break
        line_end = body.find(b"\n", after)
        if line_end < 0:                            # delimiter at the very end (truncated)
            break
        content_start = line_end + 1
        if index + 1 < len(starts):
            end = starts[index + 1]
            if body[end - 2:end] == b"\r\n":
                end -= 2
            elif body[end - 1:end] == b"\n":
                end -= 1
        else:
            end = len(body)                         # no close delimiter: keep what there is
        parts.append(_split_part(body[content_start:max(end, content_start)]))
    return parts


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    want = name.lower()
    for key, value in headers:
        if key.lower() == want:
            return value
    return None


def _decoded(headers: list[tuple[str, str]], content: bytes) -> bytes:
    # RFC 2045 §6: a part may be base64 or quoted-printable; SIP bodies are almost always 8bit.
    encoding = (_header(headers, "Content-Transfer-Encoding") or "").strip().lower()
    if encoding == "base64":
        try:
            return base64.b64decode(re.sub(rb"\s+", b"", content), validate=False)
        except (binascii.Error, ValueError):
            return content
    return content


def _looks_like_sdp(content: bytes) -> bool:
    return content.lstrip(b"\r\n \t").startswith(b"v=0")


def find_sdp(content_type: str | None, body: bytes, _depth: int = 0) -> bytes | None:
    """The application/sdp bytes of a SIP body, direct or inside a multipart body; else None.

    A body with no Content-Type at all is taken as SDP when it starts with "v=0"; inside a
    multipart, a part without Content-Type that starts with "v=0" is used only when no part
    is labelled application/sdp.
    """
    kind = media_type(content_type)
    if kind == _SDP_TYPE:
        return body
    if not kind:
        return body if _looks_like_sdp(body) else None
    if not kind.startswith("multipart/") or _depth >= _MAX_DEPTH:
        return None
    fallback = None
    for headers, content in split_multipart(content_type, body):
        part_type = _header(headers, "Content-Type")
        part_kind = media_type(part_type)
        if part_kind == _SDP_TYPE:
            return _decoded(headers, content)
        if part_kind.startswith("multipart/"):
            inner = find_sdp(part_type, content, _depth + 1)
            if inner is not None:
                return inner
        elif not part_kind and fallback is None and _looks_like_sdp(content):
            fallback = content
    return fallback
