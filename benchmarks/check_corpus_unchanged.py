"""Corpus guard: snapshot or compare `sipscope report --json` results for every shared trace.

    python -m benchmarks.check_corpus_unchanged --snapshot DIR    # before a change
    python -m benchmarks.check_corpus_unchanged --compare DIR     # after: exit 1 on any difference

Per file it records message/call/transaction/dialog counts, the findings (id, severity, messages,
inconclusive, call_id, role) and a digest of the whole `report --json` document (messages, calls,
streams, findings with their text).  The subset must match exactly; a digest difference alone is
reported too (it means some other field of the JSON changed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

DEFAULT_TRACES = Path(__file__).resolve().parent.parent.parent / "shared" / "traces"


def describe(path: Path) -> dict:
    from sipscope.core.analysis.options import AnalysisOptions
    from sipscope.core.export import report
    from sipscope.core.model.loader import load_files
    try:
        session = load_files([str(path)], options=AnalysisOptions())
    except Exception as exc:  # noqa: BLE001 - the error text is part of the snapshot
        return {"error": f"{type(exc).__name__}: {exc}"}
    full = report.session_json(session)
    digest = hashlib.sha256(json.dumps(full, sort_keys=True, default=str).encode()).hexdigest()
    return {
        "messages": len(session.messages), "calls": len(session.calls),
        "transactions": len(session.transactions), "dialogs": len(session.dialogs),
        "findings": [{"id": f.id, "severity": f.severity, "messages": list(f.messages),
                      "inconclusive": f.inconclusive, "call_id": f.call_id,
                      "role": getattr(f, "role", None)} for f in session.findings],
        "digest": digest,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--snapshot", metavar="DIR")
    mode.add_argument("--compare", metavar="DIR")
    parser.add_argument("--traces", default=str(DEFAULT_TRACES))
    args = parser.parse_args(argv)
    files = sorted(p for p in Path(args.traces).iterdir() if p.is_file() and p.name != "MANIFEST.md")
    current = {p.name: describe(p) for p in files}
    if args.snapshot:
        os.makedirs(args.snapshot, exist_ok=True)
        Path(args.snapshot, "corpus.json").write_text(json.dumps(current, indent=1, sort_keys=True))
        print(f"snapshot of {len(current)} files written to {args.snapshot}/corpus.json")
        return 0
    before = json.loads(Path(args.compare, "corpus.json").read_text())
    bad = digest_only = 0
    for name in sorted(set(before) | set(current)):
        old, new = before.get(name), current.get(name)
        if old is None or new is None:
            print(f"{name}: {'new' if old is None else 'missing'} file")
            bad += 1
            continue
        subset_old = {k: v for k, v in old.items() if k != "digest"}
        subset_new = {k: v for k, v in new.items() if k != "digest"}
        if subset_old != subset_new:
            bad += 1
            for key in subset_old:
                if subset_old.get(key) != subset_new.get(key):
                    print(f"{name}: {key} differs")
        elif old.get("digest") != new.get("digest"):
            digest_only += 1
            print(f"{name}: counts and findings equal, other JSON fields differ")
    print(f"{len(current)} files: {bad} differ in counts/findings, {digest_only} differ elsewhere only")
    return 1 if bad or digest_only else 0


if __name__ == "__main__":
    sys.exit(main())
