"""The listening socket of ``stampede serve``, bound before anything else is opened.

Binding first means a busy port or a bad address is reported before the SQLite store exists, so a failed
start leaves no database behind; uvicorn then serves on this very socket (``Server.run(sockets=[...])``), so
port 0 (any free port) is read back from it rather than guessed.
"""

from __future__ import annotations

import errno
import socket

from simulator.errors import StampedeError

__all__ = ["PORT_MAX", "ListenError", "bind_listener", "check_port"]

PORT_MAX = 65535


class ListenError(StampedeError, OSError):
    """The address cannot be listened on; the message is one line for the user."""


def check_port(port: int) -> None:
    """0 (any free port) or 1–65535; anything else would wrap around or fail deep inside the server."""
    if not 0 <= port <= PORT_MAX:
        raise ListenError(f"--port {port}: expected 1–{PORT_MAX}, or 0 for any free port, e.g. --port 8000")


def bind_listener(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A TCP socket bound to (host, port) and listening; ``ListenError`` with a one-line reason otherwise."""
    check_port(port)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ListenError(f"--host {host}: cannot resolve it ({exc.strerror}); e.g. --host 127.0.0.1") from None
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart after TIME_WAIT
        listener.bind(address)
        listener.listen(backlog)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(f"port {port} is in use — choose another with --port, or 0 for a free one") from None
        if exc.errno == errno.EACCES:
            raise ListenError(f"port {port} needs privileges on this machine — choose one above 1023 with --port, "
                              "or 0 for a free one") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ListenError(f"--host {host}: not an address of this machine; e.g. --host 127.0.0.1") from None
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    listener.setblocking(False)
    return listener
