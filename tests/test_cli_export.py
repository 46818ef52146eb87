"""`sipscope export` (PNG, headless) and `sipscope ladder` (text) run as a user would run them."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
BLOG = str(DATA / "blog-grandstream-forked-call.txt")
TWO_CALLS = str(DATA / "udp-two-calls-rtp-g711-pcma-pcmu.pcap")


def sipscope(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}   # as on a server
    return subprocess.run([sys.executable, "-m", "sipscope", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_export_ladder_of_the_blog_call_headless(tmp_path):
    out = tmp_path / "blog.png"
    result = sipscope("export", BLOG, "--view", "ladder", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "ladder of call 1 (12 messages, 3 columns)" in result.stdout
    width, height = png_size(out)
    assert 600 <= width <= 900 and 400 <= height <= 600
    assert 5_000 < out.stat().st_size < 300_000


def test_export_chosen_call_with_highlight_and_scale(tmp_path):
    out = tmp_path / "call2.png"
    result = sipscope("export", TWO_CALLS, "--call", "2", "--messages", "6,7", "--scale", "2",
                      "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "ladder of call 2 (4 messages, 2 columns)" in result.stdout
    width, height = png_size(out)
    assert width % 2 == 0 and height > 2 * 150


def test_export_by_call_id_and_branches(tmp_path):
    out = tmp_path / "fork.png"
    result = sipscope("export", BLOG, "--call", "1330352b536b8d7a74970bcf4df83a4c@jnctn.net",
                      "--branches", "2", "--merge-hosts", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "2 columns" in result.stdout and out.exists()


@pytest.mark.parametrize("args, message", [
    (("--call", "9"), "no call '9'"),
    (("--messages", "1,99"), "no message 99"),
    (("--branches", "3"), "--branches takes positions 1..2"),
])
def test_export_errors_are_one_clear_line(tmp_path, args, message):
    result = sipscope("export", BLOG, *args, "-o", str(tmp_path / "x.png"))
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("view, module, function", [
    ("timeline", "sipscope.gui.export", "timeline_image"),
    ("window", "sipscope.gui.export", "window_image"),
    ("diff", "sipscope.render.diff_painter", "diff_image"),
])
def test_other_views_export_or_say_they_are_missing(tmp_path, view, module, function):
    out = tmp_path / f"{view}.png"
    result = sipscope("export", BLOG, "--view", view, "-o", str(out))
    available = importlib.util.find_spec(module) is not None
    if available:
        assert result.returncode == 0, result.stderr
        assert png_size(out)[0] > 100
    else:
        assert result.returncode == 1 and not out.exists()
        assert f"--view {view} is not available in this build" in result.stderr
        assert module in result.stderr and "Traceback" not in result.stderr


def test_ladder_prints_every_message_of_the_call():
    result = sipscope("ladder", BLOG)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [line for line in lines if re.match(r"^[ EWi] \d\d:\d\d:\d\d\.\d{3}", line)]
    assert len(rows) == 12
    assert lines[1].split() == ["time", "66.227.1xx.2xx:5060", "24.33.2xx.3xx:5060",
                                "24.33.2xx.3xx:5064"]
    assert "INVITE" in rows[0] and rows[0].endswith("branch .2")
    assert "481 No Such Call" in rows[11]
    assert sum("SDP audio" in line for line in lines) == 3


def test_ladder_width_and_call_selection():
    result = sipscope("ladder", TWO_CALLS, "--call", "2", "--width", "70")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 70
    assert lines[0].startswith("Call 2 · INVITE · 1-1968@10.0.2.20")
    assert sum(1 for line in lines if re.match(r"^[ EWi] \d\d:", line)) == 4


def test_summary_lists_each_fault_with_its_share_of_the_calls():
    """`report --summary` tells a tech which faults a capture holds and on how many calls,
    worst first (on a capture of a whole afternoon, the per-call findings run to thousands)."""
    result = sipscope("report", "--summary", BLOG)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "12 SIP messages, 1 call, 5 transactions, 1 dialog, 1 fork set, 0 retransmissions, " \
           "0 capture duplicates" in lines
    start = lines.index(next(line for line in lines if line.startswith("fault ")))
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[start + 2:start + 10]]
    assert [row[:4] for row in rows] == [
        ["dlg-481-in-dialog", "error", "1", "1 of 1 call (100.0 %)"],
        ["fork-identical-to-tag", "error", "1", "1 of 1 call (100.0 %)"],
        ["fork-response-wrong-endpoint", "error", "1", "1 of 1 call (100.0 %)"],
        ["txn-final-after-2xx", "error", "1", "1 of 1 call (100.0 %)"],
        ["fork-same-device", "warning", "1", "1 of 1 call (100.0 %)"],
        ["nat-private-sdp", "warning", "1", "1 of 1 call (100.0 %)"],
        ["tmr-2xx-no-ack", "info", "1", "1 of 1 call (100.0 %)"],
        ["txn-cancel-ineffective", "info", "1", "1 of 1 call (100.0 %)"]]
    assert rows[0][4].startswith("An in-dialog request gets 481")


def test_summary_counts_security_faults_per_source_not_per_call():
    """The SIPVicious sweep: 26 OPTIONS from 11 addresses, each its own "call"."""
    from sipscope.core.export.report import fault_table
    from sipscope.core.model.loader import load_files
    session = load_files([str(DATA / "scanner-friendly-scanner-options-sweep.pcap")])
    rows = [re.split(r"\s{2,}", line.strip()) for line in fault_table(session)[2:]]
    assert [row[:4] for row in rows] == [
        ["sec-scanner-user-agent", "warning", "11", "11 sources"],
        ["tmr-non-invite-timeout", "info", "1", "1 of 26 calls (3.8 %)"]]
