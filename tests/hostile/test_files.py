"""Issue 17 class 9: an export never overwrites an input and is never left half-written; raw
bytes read back from a capture that changed on disk after loading are refused, not wrong."""

from __future__ import annotations

import os
import shutil

import pytest

from sipscope.cli import main
from sipscope.core.export.output import OutputError, refuse_inputs, written_atomically
from sipscope.core.model import rawstore
from sipscope.core.model.loader import load_files

from .hostile_build import DATA, KNOWN


@pytest.fixture
def capture(tmp_path, monkeypatch):
    monkeypatch.setenv("SIPSCOPE_READER_PROCESS", "0")
    path = tmp_path / "trace.pcap"
    shutil.copy(KNOWN, path)
    return path


def test_export_onto_its_input_is_refused(capture, tmp_path, capsys, monkeypatch, qapp):
    monkeypatch.chdir(tmp_path)
    original = capture.read_bytes()
    link = tmp_path / "link.pcap"
    link.symlink_to(capture)
    for output in (str(capture), "./trace.pcap", "link.pcap"):
        assert main(["export", "-o", output, str(capture)]) == 1
        assert "is the input file" in capsys.readouterr().err
    assert capture.read_bytes() == original
    with pytest.raises(OutputError):
        refuse_inputs(str(tmp_path / "sub" / ".." / "trace.pcap"), [str(capture)])
    refuse_inputs(str(tmp_path / "other.png"), [str(capture), "-"])


def test_an_export_replaces_the_old_file_whole_or_not_at_all(capture, tmp_path, qapp):
    """(qapp: a QApplication, so GUI tests run later in this process can make widgets.)"""
    out = tmp_path / "ladder.png"
    out.write_bytes(b"old")
    assert main(["export", "-o", str(out), str(capture)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(RuntimeError):
        with written_atomically(str(out), ".png") as temporary:
            with open(temporary, "wb") as handle:
                handle.write(b"half")
            raise RuntimeError("interrupted")
    assert out.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ladder.png", "trace.pcap"]


def _stored(session):
    return [m for m in session.messages if m.payload is None]


def test_raw_bytes_of_a_capture_changed_on_disk_are_refused(capture, monkeypatch):
    session = load_files([str(capture)])
    stored = _stored(session)
    assert stored, "the test needs messages read back from the file"
    first = stored[0].raw
    assert first.startswith(b"INVITE") or first[:1].isalpha()
    monkeypatch.setattr(rawstore, "CHECK_INTERVAL", 0.0)
    shutil.copyfile(DATA / "udp-compact-form-headers-invite.pcap", capture)   # in place
    raw = stored[0].raw
    assert raw.startswith(b"[sipscope: the bytes of this message cannot be shown: ")
    assert b"changed on disk after it was loaded" in raw


def test_same_size_rewrite_is_noticed_and_a_rename_is_harmless(capture, tmp_path, monkeypatch):
    session = load_files([str(capture)])
    stored = _stored(session)
    before = [m.raw for m in stored[:3]]
    monkeypatch.setattr(rawstore, "CHECK_INTERVAL", 0.0)
    replacement = tmp_path / "new.pcap"
    shutil.copy(DATA / "udp-compact-form-headers-invite.pcap", replacement)
    os.replace(replacement, capture)             # a new file under the old name
    assert [m.raw for m in stored[:3]] == before
    other = load_files([str(capture)])
    data = bytearray(capture.read_bytes())
    data[-200:] = b"\x00" * 200
    stat = os.stat(capture)
    with open(capture, "r+b") as handle:         # same size, rewritten in place
        handle.write(bytes(data))
    os.utime(capture, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert b"changed on disk" in _stored(other)[0].raw
