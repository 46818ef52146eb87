"""Command line: write a deterministic, realistic SIP (+ optional RTP) capture for benchmarks.

    python benchmarks/generate_capture.py --calls 100000 [--rtp-seconds 10] [--seed 1]
        [--format pcap|pcapng] [--gzip] [--manifest [PATH]] -o FILE

Frames are produced in time order by a heap merge of per-call generators and written as they
come, so memory stays proportional to the number of concurrent calls, never to the file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

if __package__ in (None, ""):        # run as a script: make `benchmarks` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.capgen.capture import CaptureGenerator, Config  # noqa: E402
from benchmarks.capgen.writers import PcapngWriter, PcapWriter, open_output  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, required=True, help="number of INVITE calls")
    p.add_argument("--rtp-seconds", type=float, default=0.0,
                   help="give every answered call N seconds of G.711 RTP both ways (default 0)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cps", type=float, default=7.0, help="call attempts per second (default 7)")
    p.add_argument("--tcp-share", type=float, default=0.10,
                   help="share of calls whose caller leg uses TCP (default 0.10)")
    p.add_argument("--format", choices=("pcap", "pcapng"), default="pcap")
    p.add_argument("--gzip", action="store_true", help="gzip the output")
    p.add_argument("--manifest", nargs="?", const="", default=None, metavar="PATH",
                   help="write expected counts as JSON (default path: OUTPUT.manifest.json)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-o", "--output", required=True)
    return p.parse_args(argv)


def generate(args: argparse.Namespace) -> dict:
    cfg = Config(calls=args.calls, rtp_seconds=args.rtp_seconds, seed=args.seed, cps=args.cps,
                 tcp_share=args.tcp_share)
    gen = CaptureGenerator(cfg)
    out = open_output(args.output, args.gzip)
    writer = (PcapngWriter if args.format == "pcapng" else PcapWriter)(out)
    started = time.perf_counter()
    write = writer.write
    n = 0
    first = last = 0
    for n, (ts, frame) in enumerate(gen.frames(), 1):
        write(ts, frame)
        if n == 1:
            first = ts
        if not args.quiet and n % 200_000 == 0:
            print(f"  {n:,} packets, {time.perf_counter() - started:.0f} s", file=sys.stderr)
        last = ts
    writer.close()
    manifest = gen.manifest()
    if manifest["packets"] != n:
        raise AssertionError(f"wrote {n} packets but counted {manifest['packets']}")
    manifest.update(file=os.path.basename(args.output), format=args.format, gzip=args.gzip,
                    file_bytes=os.path.getsize(args.output), uncompressed_bytes=writer.bytes_written,
                    first_ts=first / 1e6, last_ts=last / 1e6,
                    generate_seconds=round(time.perf_counter() - started, 1))
    if args.manifest is not None:
        path = args.manifest or args.output + ".manifest.json"
        with open(path, "w") as fh:
            json.dump(manifest, fh, indent=2)
            fh.write("\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    m = generate(args)
    if not args.quiet:
        print(f"{args.output}: {m['packets']:,} packets, {m['sip_messages']:,} SIP messages, "
              f"{m['calls']:,} calls, {m['call_ids']:,} Call-IDs, {m['rtp_packets']:,} RTP, "
              f"{m['uncompressed_bytes'] / 2**20:.1f} MiB, {m['generate_seconds']} s",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
