"""Times sipscope against tshark (and sngrep, and bare dpkt loops) on the same captures.

    python benchmarks/run_benchmarks.py FILE... [--runs 3] [--markdown]
    python benchmarks/run_benchmarks.py --generate [--scratch DIR] [--pcapng] [--runs 3]

Every measured run happens in a fresh wrapper process that starts the command, waits for it and
reports its own RUSAGE_CHILDREN (wall time, user+system CPU of the command and all its helper
processes), so one run's peak never leaks into another's.  Peak memory is the larger of the
biggest single process (ru_maxrss) and the summed RSS of the whole process tree sampled every
0.1 s (sipscope reads big captures in a second process; both count). The table shows medians over the runs and ratios to tshark on that file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
TOOLS = ("tshark", "sngrep", "sipscope", "model", "bare", "decode")

# the two standard captures of the "big captures" issue: (name, generator arguments)
STANDARD = (
    ("sip-heavy-100k", ["--calls", "100000"]),
    ("rtp-heavy-1200x10s", ["--calls", "1200", "--rtp-seconds", "10"]),
)

# targets from the issue, as ratios to tshark on the same file in the same run
TARGETS = {"sip-heavy": {"time": 0.6, "rss_ratio": 0.5},
           "rtp-heavy": {"time": 0.3, "rss_mib": 250.0}}

_WRAPPER = r"""
import json, os, resource, subprocess, sys, time


def tree_rss_kib(root):
    # the summed VmRSS of root and every descendant (sipscope reads big files in a child process)
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)
        except (OSError, ValueError):
            pass
    return total


cmd = json.loads(sys.argv[1])
t0 = time.perf_counter()
peak = 0
with open(sys.argv[2], "wb") as err:
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    rc = None
    while rc is None:
        try:
            rc = proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            peak = max(peak, tree_rss_kib(proc.pid))
            if time.perf_counter() - t0 > float(sys.argv[3]):
                proc.kill()
                proc.wait()
                rc = "timeout"
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
# ru_maxrss is the largest single process; the sampled tree sum counts helpers too
print(json.dumps({"rc": rc, "wall": wall, "cpu": ru.ru_utime + ru.ru_stime,
                  "rss_kib": max(ru.ru_maxrss, peak), "largest_kib": ru.ru_maxrss,
                  "tree_kib": peak}))
"""


@dataclass
class Result:
    tool: str
    file: str
    command: list[str]
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def rss_mib(self) -> float:
        return statistics.median(self.rss)


def measure(cmd: list[str], timeout: float) -> dict:
    """One run of cmd inside a fresh wrapper process; returns rc, wall, cpu, rss_kib, stderr."""
    err_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"sipscope-bench-{os.getpid()}.err"
    out = subprocess.run([PY, "-c", _WRAPPER, json.dumps(cmd), str(err_path), str(timeout)],
                         capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        return {"rc": f"wrapper failed: {out.stderr.strip()[-300:]}"}
    res = json.loads(out.stdout)
    try:
        res["stderr"] = err_path.read_text(errors="replace").strip()
        err_path.unlink()
    except OSError:
        res["stderr"] = ""
    return res


def sipscope_command() -> list[str] | None:
    """`sipscope` from this interpreter's environment if the CLI answers `report --help`."""
    exe = Path(PY).parent / "sipscope"
    base = [str(exe)] if exe.exists() else [PY, "-m", "sipscope"]
    try:
        ok = subprocess.run(base + ["report", "--help"], capture_output=True, timeout=120,
                            cwd=REPO).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return base if ok else None


def commands(path: str, tools: list[str], sipscope: list[str] | None) -> dict[str, list[str] | None]:
    """The command each tool runs on path; None when the tool is not available here."""
    cmds: dict[str, list[str] | None] = {}
    for tool in tools:
        if tool == "tshark":
            cmds[tool] = (["tshark", "-r", path, "-Y", "sip", "-T", "fields", "-e", "sip.Call-ID"]
                          if shutil.which("tshark") else None)
        elif tool == "sngrep":
            # -N: no interface; with -I it exits at the end of the file (checked with 1.6.0)
            cmds[tool] = (["sngrep", "-N", "-l", "1000000", "-I", path]
                          if shutil.which("sngrep") and not path.endswith(".gz") else None)
        elif tool == "sipscope":
            cmds[tool] = sipscope + ["report", "--summary", path] if sipscope else None
        elif tool == "model":         # the time to the call list: load + model, no rules
            cmds[tool] = [PY, "-m", "benchmarks.model_only", path]
        elif tool == "bare":
            cmds[tool] = [PY, "-m", "benchmarks.bare_read", path]
        elif tool == "decode":
            cmds[tool] = [PY, "-m", "benchmarks.bare_read", "--decode", path]
    return cmds


def run_file(path: str, tools: list[str], sipscope: list[str] | None, runs: int, timeout: float,
             log) -> list[Result]:
    results = []
    for tool, cmd in commands(path, tools, sipscope).items():
        res = Result(tool, path, cmd or [])
        if cmd is None:
            res.error = "n/a"
            results.append(res)
            continue
        for i in range(runs):
            m = measure(cmd, timeout)
            if m["rc"] != 0:
                tail = (m.get("stderr") or "").splitlines()[-1:] or [""]
                res.error = f"failed (rc={m['rc']}) {tail[0][:80]}".strip()
                break
            res.walls.append(m["wall"])
            res.cpus.append(m["cpu"])
            res.rss.append(m["rss_kib"] / 1024)
            log(f"  {tool:8s} run {i + 1}/{runs}: {m['wall']:.2f} s wall, {m['cpu']:.2f} s CPU, "
                f"{m['rss_kib'] / 1024:.0f} MiB")
        results.append(res)
    return results


def kind_of(path: str) -> str | None:
    """sip-heavy / rtp-heavy from the generator's manifest, if there is one."""
    mpath = Path(path + ".manifest.json")
    if not mpath.exists():
        return None
    m = json.loads(mpath.read_text())
    return "rtp-heavy" if m.get("rtp_packets") else "sip-heavy"


def verdict(res: Result, ref: Result | None) -> str:
    kind = kind_of(res.file)
    if res.tool != "sipscope" or res.error or kind is None or ref is None or ref.error:
        return ""
    t = TARGETS[kind]
    misses = []
    if res.wall > t["time"] * ref.wall:
        misses.append(f"time>{t['time']}x")
    if "rss_ratio" in t and res.rss_mib > t["rss_ratio"] * ref.rss_mib:
        misses.append(f"RSS>{t['rss_ratio']}x")
    if "rss_mib" in t and res.rss_mib > t["rss_mib"]:
        misses.append(f"RSS>{t['rss_mib']:.0f}MiB")
    return "ok" if not misses else "MISS " + ",".join(misses)


def table(results: list[Result], markdown: bool) -> str:
    head = ["tool", "file", "wall s", "CPU s", "peak MiB", "time/tshark", "CPU/tshark",
            "RSS/tshark", "target"]
    rows = []
    ref = {r.file: r for r in results if r.tool == "tshark"}
    for r in results:
        name = os.path.basename(r.file)
        if r.error:
            rows.append([r.tool, name, r.error] + [""] * (len(head) - 3))
            continue
        t = ref.get(r.file)
        good = t is not None and not t.error
        rows.append([r.tool, name, f"{r.wall:.2f}", f"{r.cpu:.2f}", f"{r.rss_mib:.0f}",
                     f"{r.wall / t.wall:.2f}x" if good else "",
                     f"{r.cpu / t.cpu:.2f}x" if good else "",
                     f"{r.rss_mib / t.rss_mib:.2f}x" if good else "", verdict(r, t)])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths))]
                     + [fmt.format(*row) for row in rows])


def generate(scratch: Path, pcapng: bool, log) -> list[str]:
    """Make (or reuse) the standard captures in scratch; returns their paths."""
    scratch.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, gen_args in STANDARD:
        for fmt in ("pcap", "pcapng") if pcapng else ("pcap",):
            path = scratch / f"{name}.{fmt}"
            manifest = Path(str(path) + ".manifest.json")
            argv = [PY, str(REPO / "benchmarks" / "generate_capture.py"), *gen_args,
                    "--format", fmt, "--manifest", "-q", "-o", str(path)]
            if not (path.exists() and manifest.exists()
                    and json.loads(manifest.read_text()).get("file_bytes") == path.stat().st_size):
                log(f"generating {path} ...")
                subprocess.run(argv, check=True, cwd=REPO)
            m = json.loads(manifest.read_text())
            log(f"{path}: {m['packets']:,} packets, {m['sip_messages']:,} SIP messages "
                f"({100 * m['sip_messages'] / m['packets']:.1f} %), {m['calls']:,} calls, "
                f"{m['file_bytes'] / 1e6:.0f} MB")
            paths.append(str(path))
    return paths


def check_counts(path: str, log) -> None:
    """tshark must see every SIP message and Call-ID the manifest promises (not timed)."""
    mpath = Path(path + ".manifest.json")
    if not mpath.exists() or not shutil.which("tshark"):
        return
    m = json.loads(mpath.read_text())
    out = subprocess.run(["tshark", "-r", path, "-Y", "sip", "-T", "fields", "-e", "sip.Call-ID"],
                         capture_output=True, text=True).stdout
    ids = [x for line in out.splitlines() for x in line.split(",") if x]
    ok = len(ids) == m["sip_messages"] and len(set(ids)) == m["call_ids"]
    log(f"check {os.path.basename(path)}: tshark {len(ids):,} SIP messages / "
        f"{len(set(ids)):,} Call-IDs, manifest {m['sip_messages']:,} / {m['call_ids']:,}: "
        f"{'OK' if ok else 'MISMATCH'}")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for tool, flag in (("tshark", "--version"), ("sngrep", "-V")):
        if shutil.which(tool):
            out = subprocess.run([tool, flag], capture_output=True, text=True).stdout
            versions.append(out.splitlines()[0].strip() if out else tool)
    import dpkt
    return (f"{cpu}, {os.cpu_count()} CPUs; Python {platform.python_version()}, "
            f"dpkt {dpkt.__version__}; " + "; ".join(versions))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", help="captures to measure")
    p.add_argument("--generate", action="store_true",
                   help="make (or reuse) the two standard captures in --scratch and measure them")
    p.add_argument("--scratch", default=os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                     "sipscope-bench"),
                   help="where --generate writes (default: $TMPDIR/sipscope-bench)")
    p.add_argument("--pcapng", action="store_true", help="with --generate, also make pcapng copies")
    p.add_argument("--runs", type=int, default=3, help="runs per command (default 3)")
    p.add_argument("--tools", default=",".join(TOOLS),
                   help=f"comma-separated subset of {','.join(TOOLS)}")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run (default 1800)")
    p.add_argument("--check", action="store_true",
                   help="also check tshark's SIP message / Call-ID counts against the manifest")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--no-warm", action="store_true", help="do not read each file once first")
    args = p.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        p.error(f"unknown tools: {', '.join(sorted(unknown))}")
    files = list(args.files)
    if args.generate:
        files = generate(Path(args.scratch), args.pcapng, log) + files
    if not files:
        p.error("give capture files or --generate")
    sipscope = sipscope_command() if "sipscope" in tools else None
    if "sipscope" in tools and sipscope is None:
        log("sipscope: `sipscope report --help` does not run yet; its rows will say n/a")
    results: list[Result] = []
    for path in files:
        if args.check:
            check_counts(path, log)
        if not args.no_warm:
            with open(path, "rb") as fh:      # page cache warm-up, so run 1 is like run 3
                while fh.read(1 << 24):
                    pass
        log(f"{path}:")
        results += run_file(path, tools, sipscope, args.runs, args.timeout, log)
    print(f"\nMachine: {machine()}")
    print(f"Medians of {args.runs} run(s); peak MiB = median of per-run peak RSS; targets are "
          "judged on wall time (compare CPU on a busy machine).\n")
    print(table(results, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
