"""A TCP proxy in front of PostgreSQL that records every simple-protocol query the client sends.

psycopg2 sends each statement (BEGIN, COMMIT and SQLAlchemy's pre-ping included) as one 'Q' message and waits for
the answer, so the recorded list is the request's client-server round trips as the server sees them.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit, urlunsplit

_UNTYPED_REQUESTS = {80877103, 80877104}  # SSLRequest, GSSENCRequest: answered by one byte, then the startup


class CountingProxy:
    """Listens on a free loopback port and forwards to the database of `database_url`."""

    def __init__(self, database_url: str) -> None:
        self._target = urlsplit(database_url)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.queries: list[str] = []
        self._lock = threading.Lock()
        port = self._listener.getsockname()[1]
        netloc = self._target.netloc.rsplit(":", 1)[0] + f":{port}"
        self.url = urlunsplit(self._target._replace(netloc=netloc))
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.queries.clear()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((self._target.hostname, self._target.port))
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
            threading.Thread(target=self._frontend, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()

    def _frontend(self, client: socket.socket, upstream: socket.socket) -> None:
        buffer, typed = b"", False
        try:
            while data := client.recv(65536):
                upstream.sendall(data)
                buffer += data
                while True:
                    if not typed:  # startup phase: length, then a request code, no type byte
                        if len(buffer) < 8 or len(buffer) < int.from_bytes(buffer[:4], "big"):
                            break
                        length, code = int.from_bytes(buffer[:4], "big"), int.from_bytes(buffer[4:8], "big")
                        buffer, typed = buffer[length:], code not in _UNTYPED_REQUESTS
                        continue
                    if len(buffer) < 5 or len(buffer) < 1 + int.from_bytes(buffer[1:5], "big"):
                        break
                    kind, length = buffer[:1], int.from_bytes(buffer[1:5], "big")
                    body, buffer = buffer[5 : 1 + length], buffer[1 + length :]
                    if kind == b"Q":
                        with self._lock:
                            self.queries.append(" ".join(body.rstrip(b"\0").decode(errors="replace").split()))
        except OSError:
            pass
        finally:
            upstream.close()
