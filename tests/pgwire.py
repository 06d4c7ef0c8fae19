"""A loopback TCP proxy in front of PostgreSQL that records what clients send, message by message.

It sees every round trip the driver makes, including the ones no SQLAlchemy event shows: BEGIN and COMMIT
sent by psycopg2 itself, pool pings, SET commands. Connect through it with sslmode=disable so the stream
stays readable.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from urllib.parse import urlsplit, urlunsplit

_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104


class WireRecorder:
    """Proxy 127.0.0.1:<port> → the database of `url`; `queries` lists the SQL text of each Query message
    and `syncs` counts extended-protocol round trips."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._listener = socket.create_server(("127.0.0.1", 0))
        port = self._listener.getsockname()[1]
        netloc = parts.netloc.rsplit("@", 1)
        auth = netloc[0] + "@" if len(netloc) == 2 else ""
        query = "sslmode=disable&gssencmode=disable" + ("&" + parts.query if parts.query else "")
        self.url = urlunsplit((parts.scheme, f"{auth}127.0.0.1:{port}", parts.path, query, ""))
        self.queries: list[str] = []
        self.syncs = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def clear(self) -> None:
        with self._lock:
            self.queries.clear()
            self.syncs = 0

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, server, self._record), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, record) -> None:
        buffer, started = b"", False
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                if record is None:
                    continue
                buffer += data
                while True:
                    if not started:  # untyped startup packets: length, then a code or protocol version
                        if len(buffer) < 8:
                            break
                        length, code = struct.unpack("!II", buffer[:8])
                        if len(buffer) < length:
                            break
                        buffer = buffer[length:]
                        started = code not in (_SSL_REQUEST, _GSS_REQUEST)
                        continue
                    if len(buffer) < 5:
                        break
                    kind, length = buffer[:1], struct.unpack("!I", buffer[1:5])[0]
                    if len(buffer) < 1 + length:
                        break
                    record(kind, buffer[5 : 1 + length])
                    buffer = buffer[1 + length :]
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def _record(self, kind: bytes, payload: bytes) -> None:
        with self._lock:
            if kind == b"Q":
                self.queries.append(" ".join(payload.rstrip(b"\0").decode("utf-8", "replace").split()))
            elif kind == b"S":
                self.syncs += 1
