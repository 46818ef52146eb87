"""Per-phase and per-rule CPU times of one load: `python -m benchmarks.phases FILE [--top N]`.

Phases: read (datagrams only), build (summaries + model, no rules), then each fault rule over one
Context, slowest first, with the garbage collector paused as runner.run_rules does.  Peak RSS at
the end.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--no-read", action="store_true", help="skip the read-only pass")
    args = parser.parse_args(argv)

    from sipscope.core.analysis.context import Context
    from sipscope.core.analysis.registry import load_rules
    from sipscope.core.model.gcpause import gc_paused
    from sipscope.core.model.loader import load_files
    from sipscope.core.sources.registry import open_input

    if not args.no_read:
        t0 = time.process_time()
        _, stream = open_input(args.file, None, 0)
        count = sum(1 for _ in stream)
        read = time.process_time() - t0
        print(f"read       {read:7.2f} s  {count:,} datagrams  {read / max(count, 1) * 1e6:.1f} us each")

    t0 = time.process_time()
    session = load_files([args.file], with_rules=False)
    build = time.process_time() - t0
    n = len(session.messages)
    print(f"load+build {build:7.2f} s  {n:,} messages  {len(session.calls):,} calls  "
          f"{build / max(n, 1) * 1e6:.1f} us/message")

    context = Context(session)
    times = []
    total_findings = 0
    with gc_paused():                 # as runner.run_rules: no GC passes over the big model
        for rule in load_rules().values():
            t0 = time.process_time()
            found = list(rule.func(context) or ())
            times.append((time.process_time() - t0, rule.id, len(found)))
            total_findings += len(found)
    times.sort(reverse=True)
    print(f"rules      {sum(t for t, _, _ in times):7.2f} s  {len(times)} rules  {total_findings:,} findings")
    for spent, rule_id, found in times[: args.top]:
        print(f"  {rule_id:6s} {spent:7.3f} s  {found:,} findings")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS   {peak:7.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
