"""The `sipscope` command as a real process: output and exit status survive the fast exit
(cli.entry leaves without freeing the model of a loaded capture)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sipscope", *args], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent)


def test_report_prints_everything_and_exits_zero():
    done = run("report", "--summary", str(DATA / "udp-call-info-dtmf-cancel.pcap"))
    assert done.returncode == 0, done.stderr
    assert "SIP messages" in done.stdout and done.stdout.rstrip().splitlines()[-1].strip()
    json_done = run("report", "--json", str(DATA / "udp-call-info-dtmf-cancel.pcap"))
    assert json_done.returncode == 0 and json_done.stdout.rstrip().endswith("}")


def test_not_a_capture_exits_two_with_a_sentence(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02 not a capture \xff" * 40)
    done = run("report", str(junk))
    assert done.returncode == 2 and done.stderr.startswith("sipscope: ")
