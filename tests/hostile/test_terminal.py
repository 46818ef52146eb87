"""Issue 17 class 7: no text output of the CLI writes escape sequences, NUL, C1 or bidi
controls taken from a capture or a file name; JSON keeps the exact values, escaped."""

from __future__ import annotations

import json
import re

import pytest
from factory import request, response

from sipscope.cli import main
from sipscope.core.untrusted import terminal_safe, visible_controls, visible_lines

# window title, clear screen, a hyperlink, C1 CSI, right-to-left override, an isolate
EVIL = "\x1b]0;pwned\x07\x1b[2J\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\\x9b6n\u202eevil\u2066"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


@pytest.fixture
def evil_trace(tmp_path):
    invite = request("INVITE", "sip:bob@10.0.0.2", call_id=f"c{EVIL}@x",
                     extra=(("User-Agent", f"UA{EVIL}"),))
    invite = invite.replace(b"From: <", f'From: "Name{EVIL}" <'.encode())
    busy = response(invite, 486, f"Busy{EVIL}", to_tag="t")
    path = tmp_path / "evil\x1b[2J\u202e.txt"
    path.write_bytes(invite + b"\r\n" + busy)
    return path


@pytest.mark.parametrize("command", [["report"], ["report", "--summary"],
                                     ["report", "--faults-only"], ["ladder"],
                                     ["diff", "--messages", "0,1"]])
def test_text_outputs_carry_no_control_characters(command, evil_trace, capsys):
    assert main(command + [str(evil_trace)]) == 0
    out, err = capsys.readouterr()
    assert out and not UNSAFE.findall(out + err)
    if command == ["report"]:
        assert "Busy\u241b]0;pwned\u2407\u241b[2J" in out       # shown, not obeyed


def test_json_keeps_the_exact_values_escaped(evil_trace, capsys):
    assert main(["report", "--json", str(evil_trace)]) == 0
    out, _ = capsys.readouterr()
    assert not UNSAFE.findall(out)
    data = json.loads(out)
    assert data["calls"][0]["call_id"] == f"c{EVIL}@x"


def test_error_messages_naming_a_file_are_clean(tmp_path, capsys):
    missing = tmp_path / "no\x1b]0;title\x07such.pcap"
    assert main(["report", str(missing)]) == 2
    _, err = capsys.readouterr()
    assert "no\u241b]0;title\u2407such.pcap" in err and not UNSAFE.findall(err)


def test_the_one_sanitiser():
    assert terminal_safe("a\tb\nc\x00\x1b\x7f\x85\u202e") == "a\tb\nc\u2400\u241b\u2421\ufffd\ufffd"
    assert terminal_safe("plain ascii\n") == "plain ascii\n"
    assert visible_controls("x\ny\u2069") == "x y\ufffd"
    assert visible_lines("\u05e9\u05dc\u05d5\u05dd\u202e\r\nx") == "\u05e9\u05dc\u05d5\u05dd\ufffd\nx"
