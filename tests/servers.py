"""Serving WSGI apps for real on loopback ports inside the test process."""

from __future__ import annotations

import threading

from werkzeug.serving import make_server


class LiveServer:
    """A threaded werkzeug server on 127.0.0.1 and a free port."""

    def __init__(self, app, port: int = 0) -> None:
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
