"""A big capture is read in a second process (model/reader_process.py) while this one files the
messages: the Session must be exactly the one the single-process load builds, for in-order and
out-of-order captures, and errors, truncation and cancel must behave as in-process."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from sipscope.core.model import reader_process
from sipscope.core.model.builder import HOLD_BACK, LoadCancelled
from sipscope.core.model.loader import load_files
from sipscope.core.sources.datagram import NotACaptureError
from tests.core.sources.pcap_build import T0, pcap_file, udp4_frame

DATA = Path(__file__).resolve().parents[2] / "data"


def _load(monkeypatch, path, process: bool, **kwargs):
    monkeypatch.setenv(reader_process.ENV, "1" if process else "0")
    return load_files([str(path)], **kwargs)


def _shape(session) -> list[tuple]:
    return [(m.index, m.ts, m.src, m.dst, m.transport, m.frame, m.flags, m.method, m.status,
             m.call_id, m.branch, m.from_tag, m.to_tag, m.body_length, m.raw,
             m.transaction.id, m.dialog.id if m.dialog else None) for m in session.messages]


def _findings(session) -> list[tuple]:
    return [(f.id, f.severity, tuple(f.messages), f.role) for f in session.findings]


@pytest.mark.parametrize("name", ["udp-call-info-dtmf-cancel.pcap",
                                  "tcp-register-split-across-segments.pcap",
                                  "udp-two-calls-rtp-g711-pcma-pcmu.pcap",
                                  "scanner-friendly-scanner-options-sweep.pcap"])
def test_same_session_as_the_single_process_load(monkeypatch, name):
    alone = _load(monkeypatch, DATA / name, process=False)
    split = _load(monkeypatch, DATA / name, process=True)
    assert len(split.messages) == len(alone.messages) > 0
    assert _shape(split) == _shape(alone)
    assert [len(c.messages) for c in split.calls] == [len(c.messages) for c in alone.calls]
    assert len(split.transactions) == len(alone.transactions)
    assert len(split.dialogs) == len(alone.dialogs)
    assert _findings(split) == _findings(alone)
    assert split.inputs[0].to_json() == alone.inputs[0].to_json()
    assert split.non_sip_payloads == alone.non_sip_payloads
    # media statistics come back from the child (RTP never crosses the pipe packet by packet)
    assert [(s.src, s.dst, s.ssrc, s.packets) for s in split.media.streams] == \
        [(s.src, s.dst, s.ssrc, s.packets) for s in alone.media.streams]


def _request(number: int, call: int) -> bytes:
    return (f"OPTIONS sip:svc@10.0.0.2 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-{call}-{number}\r\n"
            f"From: <sip:a@10.0.0.1>;tag=f{call}\r\nTo: <sip:svc@10.0.0.2>\r\n"
            f"Call-ID: order-{call}\r\nCSeq: {number} OPTIONS\r\nContent-Length: 0\r\n\r\n"
            ).encode()


def test_out_of_order_capture_builds_the_same_model(monkeypatch, tmp_path):
    """Records stored far out of time order (merged captures) cannot be filed while reading:
    the parent notices and builds again after a full sort."""
    frames = [(T0 + i, udp4_frame("10.0.0.1", "10.0.0.2", 5060, 5060, _request(i + 1, i % 3)))
              for i in range(40)]
    late = frames.pop(5)
    frames.insert(30, late)                      # 25 s out of order, far beyond HOLD_BACK
    assert frames[30][0] + HOLD_BACK < frames[29][0]
    path = tmp_path / "out-of-order.pcap"
    path.write_bytes(pcap_file(frames))
    alone = _load(monkeypatch, path, process=False)
    split = _load(monkeypatch, path, process=True)
    assert [m.ts for m in split.messages] == sorted(m.ts for m in split.messages)
    assert _shape(split) == _shape(alone)
    assert [m.frame for m in split.messages][:7] == [1, 2, 3, 4, 5, 31, 6]


def test_not_a_capture_says_so_from_the_child(monkeypatch, tmp_path):
    path = tmp_path / "notes.bin"
    path.write_bytes(b"\x00\x01garbage that is no capture\xff" * 50)
    with pytest.raises(NotACaptureError) as alone:
        _load(monkeypatch, path, process=False)
    with pytest.raises(NotACaptureError) as split:
        _load(monkeypatch, path, process=True)
    assert str(split.value) == str(alone.value)
    assert not multiprocessing.active_children()


def test_truncated_capture_loads_what_it_can_and_says_where(monkeypatch, tmp_path):
    data = (DATA / "udp-call-info-dtmf-cancel.pcap").read_bytes()
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[: len(data) * 2 // 3])
    alone = _load(monkeypatch, path, process=False)
    split = _load(monkeypatch, path, process=True)
    assert split.inputs[0].stopped_at == alone.inputs[0].stopped_at is not None
    assert split.inputs[0].warnings == alone.inputs[0].warnings != []
    assert _shape(split) == _shape(alone)


def test_cancel_stops_the_child(monkeypatch, tmp_path):
    frames = [(T0 + i * 0.01, udp4_frame("10.0.0.1", "10.0.0.2", 5060, 5060, _request(i, i)))
              for i in range(1, 3 * reader_process.BATCH)]
    path = tmp_path / "many.pcap"
    path.write_bytes(pcap_file(frames))
    progress: list[float] = []

    def cancelled() -> bool:
        return len(progress) >= 1

    with pytest.raises(LoadCancelled):
        _load(monkeypatch, path, process=True,
              progress=lambda fraction, _text: progress.append(fraction), cancelled=cancelled)
    assert progress and 0 < progress[0] <= 1
    assert not multiprocessing.active_children()


def test_a_child_that_cannot_start_falls_back_to_one_process(monkeypatch):
    def broken(self):
        self.close()
        raise reader_process.ReaderProcessError("no child here")

    monkeypatch.setattr(reader_process.ReaderProcess, "open", broken)
    session = _load(monkeypatch, DATA / "udp-call-info-dtmf-cancel.pcap", process=True)
    assert len(session.messages) == len(
        _load(monkeypatch, DATA / "udp-call-info-dtmf-cancel.pcap", process=False).messages)


def test_only_big_single_files_on_several_cores_use_a_process(monkeypatch, tmp_path):
    small = DATA / "udp-call-info-dtmf-cancel.pcap"
    monkeypatch.delenv(reader_process.ENV, raising=False)
    monkeypatch.setattr(reader_process, "MIN_SIZE", 1)
    monkeypatch.setattr(reader_process, "_allowed", False)
    assert not reader_process.wanted([str(small)])   # a library caller: only when asked (env)
    monkeypatch.setattr(reader_process, "_allowed", True)       # the CLI and GUI allow it
    monkeypatch.setattr(reader_process, "MIN_SIZE", 1 << 40)
    assert not reader_process.wanted([str(small)])                   # below MIN_SIZE
    monkeypatch.setattr(reader_process, "MIN_SIZE", 1)
    monkeypatch.setattr(reader_process, "_cores", lambda: 2)
    assert reader_process.wanted([str(small)])
    assert not reader_process.wanted([str(small), str(small)])     # merged inputs: in-process
    assert not reader_process.wanted(["-"])
    monkeypatch.setattr(reader_process, "_cores", lambda: 1)
    assert not reader_process.wanted([str(small)])
    monkeypatch.setenv(reader_process.ENV, "0")
    monkeypatch.setattr(reader_process, "_cores", lambda: 8)
    assert not reader_process.wanted([str(small)])


def test_freed_memory_goes_back_after_a_build_on_glibc():
    """Linux/glibc: malloc_trim is found and called (elsewhere the call is a no-op)."""
    import platform

    from sipscope.core.model.free_memory import release_free_memory
    expected = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert release_free_memory() is expected


def test_a_reader_that_stops_half_way_is_replaced_by_a_load_in_this_process(monkeypatch):
    """A child killed on the way (out of memory, a signal) costs time, not the load."""
    name = DATA / "udp-call-info-dtmf-cancel.pcap"
    real_batches = reader_process.ReaderProcess.batches
    died: list[int] = []

    def dying(self):
        for batch in real_batches(self):
            yield batch[: len(batch) // 2]        # half of the first batch arrives, then...
            self._process.kill()
            died.append(len(batch))
            raise reader_process.ReaderProcessError("the reader process stopped")

    monkeypatch.setattr(reader_process.ReaderProcess, "batches", dying)
    session = _load(monkeypatch, name, process=True)
    assert died and died[0] > 1                   # the failure happened with messages filed
    assert _shape(session) == _shape(_load(monkeypatch, name, process=False))
    assert not multiprocessing.active_children()
