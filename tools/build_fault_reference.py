"""Build resources/fault-reference.json, the fault reference the app shows (Help > Fault
reference), from the fault catalog (../shared/docs/fault-catalog.md) and the project's own
docs/fault-reference.md.  Run it after either changes:  python tools/build_fault_reference.py
(tests/test_fault_reference.py checks that every rule has an entry and that the file is current).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT.parent / "shared" / "docs" / "fault-catalog.md"
OWN = ROOT / "docs" / "fault-reference.md"
OUT = ROOT / "resources" / "fault-reference.json"

HEADING = re.compile(r"^### (?:(\d+\.\d+) )?`([a-z0-9-]+)` — (.+)$")
FIELD = re.compile(r"^- \*\*([A-Za-z -]+?)(?: \(([^)]*)\))?:\*\*\s*(.*)$")
# which fields the app shows, under which heading, from either document
SHOWN = {"Means": "What it means", "Scope": "Scope", "Tech text": "What the tech reads",
         "Text": "What the tech reads", "Standard": "Standard",
         "False-positive traps": "What is not this fault", "Detect": "How it is detected"}


def entries(text: str, source: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    current = None
    field = None
    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading:
            section, fault_id, severity = heading.groups()
            current = found[fault_id] = {"id": fault_id, "section": section or "",
                                         "severity": severity.strip(), "source": source,
                                         "fields": {}}
            field = None
            continue
        if line.startswith(("## ", "### ", "---")):
            current = field = None
            continue
        if current is None:
            continue
        match = FIELD.match(line)
        if match:
            name, case, rest = match.groups()
            field = SHOWN.get(name)
            if field is not None:
                current["fields"].setdefault(field, [])
                if case:                     # "Tech text (a):" -- one sub-case of the rule
                    current["fields"][field].append(f"({case})")
                if rest.strip():
                    current["fields"][field].append(_clean(rest))
            continue
        if field is not None and line.strip():
            current["fields"][field].append(_clean(line.strip()))
    return found


def _clean(text: str) -> str:
    text = re.sub(r"^[-*>]\s*", "", text)
    text = re.sub(r"^\d+\.\s+", "", text)
    text = text.replace("**", "").replace("`", "")
    return text.strip().strip('"').strip("“”")


def build() -> dict:
    reference = entries(CATALOG.read_text("utf-8"), "fault catalog") if CATALOG.exists() else {}
    for fault_id, entry in entries(OWN.read_text("utf-8"), "docs/fault-reference.md").items():
        reference.setdefault(fault_id, entry)
    return {fault_id: reference[fault_id] for fault_id in sorted(reference)}


def main() -> int:
    if not CATALOG.exists():
        print(f"build_fault_reference: {CATALOG} is missing", file=sys.stderr)
        return 1
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
