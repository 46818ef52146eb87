"""`sipscope export FILE --view diff --branches A,B | --messages I,J -o OUT.png`, headless."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
BLOG = str(DATA / "blog-grandstream-forked-call.txt")
TWO_CALLS = str(DATA / "udp-two-calls-rtp-g711-pcma-pcmu.pcap")

if not (REPO / "sipscope" / "commands" / "export.py").exists():
    pytest.skip("sipscope/commands/export.py (the export command) is not in this build yet",
                allow_module_level=True)


def sipscope(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}   # as on a server
    return subprocess.run([sys.executable, "-m", "sipscope", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def ink(path: Path) -> tuple[int, int, float]:
    """(width, height, share of non-white pixels) of a PNG file, sampled every 2 px."""
    from PySide6.QtGui import QImage
    image = QImage(str(path))
    assert not image.isNull(), f"{path} is not a readable PNG"
    inked = total = 0
    colours = set()
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            value = image.pixel(x, y) & 0xFFFFFF
            colours.add(value)
            inked += value != 0xFFFFFF
            total += 1
    assert len(colours) > 40, "the PNG has almost no colours: blank or a flat fill"
    return image.width(), image.height(), inked / total


def test_branch_diff_png_of_the_blog_fork(tmp_path, qapp):
    out = tmp_path / "branches.png"
    result = sipscope("export", BLOG, "--view", "diff", "--branches", "1,2", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "diff of branch .2 and branch .5" in result.stdout
    width, height, share = ink(out)
    assert width == 1200 and 550 <= height <= 1000
    assert 0.15 < share < 0.8
    assert out.stat().st_size < 300_000
    default = tmp_path / "default.png"               # default: worst call, branches 1 and 2
    result = sipscope("export", BLOG, "--view", "diff", "-o", str(default))
    assert result.returncode == 0, result.stderr
    assert default.read_bytes() == out.read_bytes()


def test_message_diff_png_of_the_two_calls_invites(tmp_path, qapp):
    out = tmp_path / "messages.png"
    result = sipscope("export", TWO_CALLS, "--view", "diff", "--messages", "0,6", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "diff of messages 0 and 6" in result.stdout
    width, height, share = ink(out)
    assert width == 1200 and 400 <= height <= 900 and 0.1 < share < 0.8


def test_message_diff_png_of_the_blog_invites(tmp_path, qapp):
    out = tmp_path / "blog-messages.png"
    result = sipscope("export", BLOG, "--view", "diff", "--messages", "0,1", "-o", str(out))
    assert result.returncode == 0, result.stderr
    width, height, share = ink(out)
    assert width == 1200 and height > 500 and share > 0.1


@pytest.mark.parametrize("file, args, message", [
    (TWO_CALLS, (), "has no fork set; use --messages I,J"),
    (BLOG, ("--branches", "1,9"), "--branches needs two positions 1..2"),
    (BLOG, ("--messages", "0"), "--messages needs two indices"),
])
def test_diff_export_errors_are_one_clear_line(tmp_path, file, args, message):
    out = tmp_path / "x.png"
    result = sipscope("export", file, "--view", "diff", *args, "-o", str(out))
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
