"""One sipscope per user: a second start hands its files to the running one (QLocalServer).

    second start                           running sipscope
    ------------                           ----------------
    connect(name) ---- {"open": [...]} --> on_request(paths) -> open in a window, raise it
                  <--------- "ok" -------
    exit 0

The name is per user (two users of one machine each get their own sipscope).  When nothing
answers, the starting process becomes the server itself; a socket file left behind by a crashed
instance is removed first (QLocalServer.removeServer).  `SIPSCOPE_SINGLE_INSTANCE=0` turns the
hand-over off; `SIPSCOPE_INSTANCE_NAME` names the server (tests use their own).
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_TIMEOUT_MS = 1000
REPLY_TIMEOUT_MS = 3000
MAX_REQUEST_BYTES = 1 << 20       # a request names files: a megabyte is far more than enough


def server_name() -> str:
    configured = os.environ.get("SIPSCOPE_INSTANCE_NAME")
    if configured:
        return configured
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (some containers): one name for all
        user = "user"
    return "sipscope-" + "".join(ch if ch.isalnum() else "_" for ch in user)


def enabled() -> bool:
    return os.environ.get("SIPSCOPE_SINGLE_INSTANCE", "1") != "0"


def hand_over(paths: list[str], name: str | None = None) -> bool:
    """Give `paths` to a running sipscope; True when it took them (then this process exits).
    Paths are made absolute: the running instance has its own working directory."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    request = json.dumps({"open": [os.path.abspath(p) for p in paths]}).encode() + b"\n"
    socket.write(request)
    socket.waitForBytesWritten(REPLY_TIMEOUT_MS)    # False when flushed already: not an error
    reply = b""
    while b"\n" not in reply and socket.waitForReadyRead(REPLY_TIMEOUT_MS):
        reply += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return reply.strip() == b"ok"


class InstanceServer(QObject):
    """Listens for later starts and passes the files they name to `on_request`."""

    def __init__(self, on_request: Callable[[list[str]], None], name: str | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_request = on_request
        self._buffers: dict[int, bytes] = {}          # id(socket) -> bytes read so far
        self.name = name or server_name()
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.UserAccessOption)
        self.server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        if self.server.listen(self.name):
            return True
        # A socket left by a crashed instance: nobody answered hand_over(), so it is stale.
        QLocalServer.removeServer(self.name)
        return self.server.listen(self.name)

    def close(self) -> None:
        self.server.close()
        for socket in self.server.findChildren(QLocalSocket):
            socket.readyRead.disconnect()
            socket.abort()
        self._buffers.clear()

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            self._buffers[id(socket)] = b""
            socket.readyRead.connect(self._on_ready_read)
            # Qt's own slot deletes the socket: no Python callback runs while it is destroyed.
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():         # arrived before readyRead was connected
                self._read(socket)

    def _on_ready_read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        key = id(socket)
        data = self._buffers.get(key, b"") + bytes(socket.readAll().data())
        if len(data) > MAX_REQUEST_BYTES:
            self._buffers.pop(key, None)
            socket.abort()
            return
        self._buffers[key] = data
        if b"\n" not in data:
            return
        self._buffers.pop(key, None)
        paths = _paths_of(data.split(b"\n", 1)[0])
        socket.write(b"ok\n" if paths is not None else b"bad\n")
        socket.flush()
        if paths is not None:
            self._on_request(paths)


def _paths_of(line: bytes) -> list[str] | None:
    try:
        request = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    paths = request.get("open") if isinstance(request, dict) else None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        return None
    return paths
