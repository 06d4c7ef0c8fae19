"""The HTTP side of a MikroTik hotspot, beside the RouterOS API simulator: the login page a captive portal's
"link-login-only" points at. POST /login with username and password signs the device in exactly as the router
would, so it appears in /ip/hotspot/active of the simulator, then redirects to dst.

The real hotspot knows the device's IP and MAC from the connection; here the IP is the client's address and the
MAC comes from ``devices`` (set by a test) or is derived from the IP. HTTP PAP only (login-by=http-pap); CHAP is
not simulated. Run beside ``python -m simulators.routeros`` with ``HotspotLoginServer(sim).start()``.
"""

from __future__ import annotations

import html
import ipaddress
import threading

from werkzeug.serving import make_server
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from simulators.routeros import RouterOSSimulator, SessionRefused

PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width"><title>{title}</title></head>
<body><h1>{title}</h1><p id="error">{error}</p>
<form method="post" action="/login"><input name="username" placeholder="login"><input name="password"
type="password" placeholder="password"><button>OK</button></form></body></html>"""


def derived_mac(ip: str) -> str:
    """02:00:<the IPv4 bytes> (a locally administered MAC), so a device's MAC is stable per address."""
    try:
        packed = ipaddress.IPv4Address(ip).packed
    except ValueError:
        packed = b"\x00\x00\x00\x01"
    return ":".join(f"{b:02X}" for b in b"\x02\x00" + packed)


class HotspotLoginServer:
    """A threaded HTTP server on 127.0.0.1 (port 0 = any free port) serving /login and /status."""

    def __init__(self, sim: RouterOSSimulator, port: int = 0, server: str = "hotspot1") -> None:
        self.sim = sim
        self.server_name = server
        self.devices: dict[str, str] = {}  # ip → MAC, for tests that need a particular MAC
        self.logins: list[dict] = []  # what was posted (never the password)
        self._http = make_server("127.0.0.1", port, self._app, threaded=True)
        self.port = self._http.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def login_url(self) -> str:
        return f"{self.url}/login"

    def start(self) -> HotspotLoginServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    @Request.application
    def _app(self, request: Request) -> Response:
        if request.path == "/login" and request.method == "POST":
            return self._login(request)
        if request.path in ("/login", "/status"):
            return self._page("hotspot login", "")
        return Response("not found", status=404)

    def _login(self, request: Request) -> Response:
        ip = request.remote_addr or "127.0.0.1"
        mac = self.devices.get(ip) or derived_mac(ip)
        username = request.form.get("username", "")
        self.logins.append({"username": username, "ip": ip, "mac": mac, "dst": request.form.get("dst")})
        try:
            self.sim.connect_session("hotspot", username, password=request.form.get("password", ""), address=ip,
                                     mac_address=mac, server=self.server_name)  # fmt: skip
        except SessionRefused:
            # The router answers with its login page again and $(error); it never says which part was wrong.
            return self._page("hotspot login", "invalid username or password")
        dst = request.form.get("dst")
        if dst and dst.startswith(("http://", "https://")):
            return redirect(dst, code=302)
        return self._page("You are logged in", "")

    @staticmethod
    def _page(title: str, error: str) -> Response:
        return Response(PAGE.format(title=html.escape(title), error=html.escape(error)), mimetype="text/html")
