"""Helpers for the text trace reader tests: read a text through a module, summarise, compare."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from sipscope.core.sources.datagram import Datagram, InputReport

DATA = Path(__file__).resolve().parents[2] / "data"
GOLDEN = DATA / "golden"
CALL_ID = re.compile(rb"^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)", re.M | re.I)


def read_with(module, text: str) -> tuple[InputReport, list[Datagram]]:
    report = InputReport(path="<test>", format=module.NAME)
    return report, list(module.read_text(text, report, 0))


def read_file_with(module, path: Path) -> tuple[InputReport, list[Datagram]]:
    report = InputReport(path=str(path), format=module.NAME)
    with open(path, "rb") as stream:
        return report, list(module.read(stream, report, 0))


def call_ids(datagrams: list[Datagram]) -> set[bytes]:
    found = set()
    for datagram in datagrams:
        match = CALL_ID.search(datagram.payload)
        if match:
            found.add(match.group(1))
    return found


def first_line(datagram: Datagram) -> str:
    return datagram.payload.split(b"\r\n", 1)[0].decode("utf-8", "replace")


def summary(datagrams: list[Datagram]) -> list[list]:
    """The compact form kept in golden files: (src, dst, transport, first line, ts)."""
    return [[d.src, d.dst, d.transport, first_line(d), round(d.ts, 6)] for d in datagrams]


def check_golden(name: str, datagrams: list[Datagram]) -> None:
    """Compare with tests/data/golden/<name>.json (SIPSCOPE_UPDATE_GOLDEN=1 writes it)."""
    path = GOLDEN / f"{name}.json"
    got = summary(datagrams)
    if os.environ.get("SIPSCOPE_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        rows = ",\n ".join(json.dumps(row, ensure_ascii=False) for row in got)
        path.write_text(f"[{rows}]\n", encoding="utf-8")
    assert path.exists(), f"golden file {path} is missing (run with SIPSCOPE_UPDATE_GOLDEN=1 once)"
    assert got == json.loads(path.read_text(encoding="utf-8"))


def essence(datagrams: list[Datagram], ignore_flags: int = 0) -> list[tuple]:
    """What a reader read, without where in the text it was (line numbers) or notes."""
    return [(d.src, d.dst, d.transport, d.payload, d.ts, d.flags & ~ignore_flags) for d in datagrams]
