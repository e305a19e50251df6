"""A TCP proxy in front of a real server that misbehaves on demand: it answers HTTP errors, hangs,
trickles bytes, holds back GETs, or cuts every connection — faults of a remote store, caused for real
on the loopback network between TensorBoard and the S3 server (moto)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

ERROR_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>'
    b"<Message>injected by the test's proxy</Message></Error>"
)


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream``; set ``mode`` ("pass", "error", "hang"),
    ``rate`` (bytes per second from the server, or None), ``delay_get`` (seconds to hold each
    object GET before forwarding it) at any time; :meth:`cut_all` drops every open connection."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.mode = "pass"
        self.rate: float | None = None
        self.delay_get = 0.0
        self.gets = 0  # object GETs seen
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode: str) -> None:
        """Switch mode; open connections are cut, so every next request meets the new mode."""
        self.mode = mode
        self.cut_all()

    def _hold_get(self, request: bytes) -> None:
        if request.startswith(b"GET ") and b"list-type" not in request.split(b"\r\n", 1)[0]:
            self.gets += 1
            time.sleep(self.delay_get)

    def cut_all(self) -> None:
        with self._lock:
            sockets, self._open = list(self._open), set()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def stop(self) -> None:
        self._stopped = True
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut_all()

    def _track(self, s: socket.socket) -> None:
        with self._lock:
            self._open.add(s)

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            head = client.recv(65536)
        except OSError:
            return
        if not head:
            return
        if self.mode == "hang":
            while not self._stopped and self.mode == "hang":
                time.sleep(0.1)
            return _close(client)
        if self.mode == "error":
            client.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n"
                + f"Content-Length: {len(ERROR_BODY)}\r\nConnection: close\r\n\r\n".encode()
                + ERROR_BODY
            )
            return _close(client)
        self._hold_get(head)
        try:
            server = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            return _close(client)
        server.settimeout(None)
        self._track(server)
        try:
            server.sendall(head)
        except OSError:
            return _close(client, server)
        threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
        self._pump(server, client, True)

    def _pump(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        try:
            while True:
                chunk = src.recv(16384 if from_server and self.rate else 65536)
                if not chunk:
                    break
                if from_server and self.rate:
                    time.sleep(len(chunk) / self.rate)
                elif not from_server:
                    self._hold_get(chunk)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(src, dst)


def _close(*sockets: socket.socket) -> None:
    for s in sockets:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            s.close()
