"""Long fuzz run (not collected by pytest): every target of targets.py on hostile variants of the
real captures and traces, for as long as you leave it.

    python tests/fuzz/long_run.py --minutes 30 [--targets pcap,rules] [--seed 1] [--out DIR]

Each input is run in this process under a time limit per input (SIGALRM, POSIX); an input that
raises, or takes longer than --timeout seconds, is saved to DIR/<target>-<n>.bin with its
traceback in a .txt beside it.  Turn each one into a case of REGRESSIONS in test_fuzz.py after
fixing it.  At the end (or on Ctrl-C) the number of inputs tried per target is printed.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/: the fuzz package

from fuzz.targets import TARGETS, corpus, mutate  # noqa: E402


class _Slow(Exception):
    pass


def _alarm(signum, frame):
    raise _Slow()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--timeout", type=int, default=20, help="seconds one input may take")
    parser.add_argument("--out", default="fuzz-findings")
    args = parser.parse_args()
    names = [n for n in args.targets.split(",") if n]
    out = Path(args.out)
    rng = random.Random(args.seed)
    seeds = {kind: corpus(kind) for kind in ("pcap", "text")}
    tried = {name: 0 for name in names}
    crashes = {name: 0 for name in names}
    deadline = time.monotonic() + args.minutes * 60
    use_alarm = hasattr(signal, "SIGALRM")
    if use_alarm:
        signal.signal(signal.SIGALRM, _alarm)
    print(f"seed {args.seed}; targets {', '.join(names)}; {args.minutes} min", flush=True)
    try:
        while time.monotonic() < deadline:
            for name in names:
                target, kind = TARGETS[name]
                data = mutate(rng, rng.choice(seeds[kind]))
                tried[name] += 1
                try:
                    if use_alarm:
                        signal.alarm(args.timeout)
                    target(data)
                except Exception as exc:           # noqa: BLE001 - what the run looks for
                    crashes[name] += 1
                    out.mkdir(parents=True, exist_ok=True)
                    stem = out / f"{name}-{crashes[name]}"
                    stem.with_suffix(".bin").write_bytes(data)
                    why = "took longer than the time limit" if isinstance(exc, _Slow) else \
                        "".join(traceback.format_exception(exc))
                    stem.with_suffix(".txt").write_text(why)
                    print(f"{name}: {type(exc).__name__} -> {stem}.bin", flush=True)
                finally:
                    if use_alarm:
                        signal.alarm(0)
    except KeyboardInterrupt:
        pass
    for name in names:
        print(f"{name:14} {tried[name]:8,} inputs  {crashes[name]:4} crashing")
    return 1 if any(crashes.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
