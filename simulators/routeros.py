"""RouterOS API simulator: the binary protocol on TCP, the ISP menus in memory (docs/protocols/routeros.md).

Run it with ``python -m simulators.routeros`` (see ``main``); tests build ``RouterOSSimulator(port=0)``.
Facts the real router was not observed on are simulator choices and are listed in docs/routeros-simulator.md.

This module is the TCP face (connections, login, tags) and the entry point. The layers under it:
``routeros_wire`` (length/word/sentence codec), ``routeros_menus`` (menu specs, items, query stack) and
``routeros_commands`` (``Router``: command verbs and the dial-in hook).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import re
import secrets
import socket
import socketserver
import ssl
import threading
from collections.abc import Mapping

from config import Config
from simulators.routeros_commands import Router, SessionRefused
from simulators.routeros_menus import MENUS, Menu, MenuSpec, Trap, matches
from simulators.routeros_wire import (
    MAX_LENGTH,
    ProtocolViolation,
    decode_length,
    encode_length,
    encode_sentence,
    encode_word,
    prefix_size,
    read_sentence,
)

# Re-exported: tests, docs and callers import the codec, the query evaluator and the exceptions from here.
__all__ = [
    "DEMO_HOTSPOT_PROFILES",
    "DEMO_PPP_PROFILES",
    "MAX_LENGTH",
    "MENUS",
    "Menu",
    "MenuSpec",
    "ProtocolViolation",
    "Router",
    "RouterOSSimulator",
    "SessionRefused",
    "Trap",
    "decode_length",
    "encode_length",
    "encode_sentence",
    "encode_word",
    "main",
    "matches",
    "prefix_size",
    "read_sentence",
]

log = logging.getLogger(__name__)

# The challenge (MD5) login of RouterOS before 6.43 is unsupported after 6.45.1; later routers, v7 among them, still
# hand out a challenge but refuse the response like a wrong password (docs/protocols/routeros.md, "Login").
LEGACY_LOGIN_LAST = (6, 45, 1)
DEFAULT_VERSION = "7.18"


def version_tuple(ros_version: str) -> tuple[int, ...]:
    """``"7.18.2"`` → ``(7, 18, 2)``; anything after the numbers ("rc1", " (stable)") is ignored."""
    return tuple(int(p) for p in re.findall(r"\d+", ros_version.split(" ")[0])[:3])


# ---------------------------------------------------------------------------------------------- TCP face


class _Connection:
    """Per-connection login state."""

    def __init__(self) -> None:
        self.logged_in = False
        self.challenge: bytes | None = None


def _split(words: list[str]) -> tuple[dict[str, str], dict[str, str], list[str], list[str]]:
    """Separate ``=attr=``, ``.api=`` and ``?query`` words; anything else is returned as unknown."""
    attrs, api, queries, unknown = {}, {}, [], []
    for word in words:
        if word.startswith("="):
            key, _, value = word[1:].partition("=")
            attrs[key] = value
        elif word.startswith("."):
            key, _, value = word[1:].partition("=")
            api[key] = value
        elif word.startswith("?"):
            queries.append(word)
        else:
            unknown.append(word)
    return attrs, api, queries, unknown


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        self.handshake_ok = True
        context = self.server.sim.ssl_context
        if context is not None:
            try:
                self.request = context.wrap_socket(self.request, server_side=True)
            except OSError as exc:  # ssl.SSLError is an OSError
                log.debug("routeros-sim TLS handshake failed: %s", exc)
                self.handshake_ok = False
        super().setup()

    def handle(self) -> None:
        sim = self.server.sim
        if not self.handshake_ok:
            return
        sim._track(self.request, add=True)
        try:
            self._serve(sim)
        except (OSError, EOFError) as exc:
            log.debug("routeros-sim connection ended: %s", exc)
        finally:
            sim._track(self.request, add=False)

    def _read_exact(self, n: int) -> bytes:
        data = self.rfile.read(n)
        if len(data) < n:
            raise EOFError("peer closed the connection")
        return data

    def _serve(self, sim: RouterOSSimulator) -> None:
        conn = _Connection()
        while True:
            try:
                words = read_sentence(self._read_exact, sim.max_word_bytes)
            except ProtocolViolation as exc:
                self.wfile.write(encode_sentence(["!fatal", f"protocol error: {exc}"]))
                return
            if not words or sim.unresponsive:  # empty sentences are ignored; a wedged router answers nothing
                continue
            log.debug("routeros-sim <- %s", [_mask(w) for w in words])
            attrs, api, queries, unknown = _split(words[1:])
            replies, close = sim._reply(conn, words[0], attrs, queries, unknown)
            suffix = [f".tag={api['tag']}"] if "tag" in api else []
            self.wfile.write(b"".join(encode_sentence([*s, *suffix]) for s in replies))
            if close:
                return


def _mask(word: str) -> str:
    return "=password=***" if word.startswith("=password=") else word


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], sim: RouterOSSimulator) -> None:
        self.sim = sim
        super().__init__(address, _Handler)


class RouterOSSimulator:
    """A MikroTik router's API service on loopback, with test hooks on the Python object.

    :param port: 0 picks a free port; read ``.port`` after ``start()``.
    :param users: login name → password (default admin / sim-router-pass).
    :param ros_version: the RouterOS version emulated (default "7.18"). From 7.18 an empty print answers ``!empty``
        then ``!done`` (before: ``!done``); up to 6.45.1 the legacy challenge login is accepted, later it is refused.
    :param ppp_profiles / hotspot_profiles: extra profiles (name → fields) present after every ``reset()``.
    :param ssl_context: a server context with a certificate, to serve api-ssl.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        users: Mapping[str, str] | None = None,
        ros_version: str = DEFAULT_VERSION,
        ppp_profiles: Mapping[str, Mapping[str, str]] | None = None,
        hotspot_profiles: Mapping[str, Mapping[str, str]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_word_bytes: int = 8 << 20,
    ) -> None:
        self.host, self.port = host, port
        self.users = dict(users or {"admin": "sim-router-pass"})
        self.router = Router(ros_version, ppp_profiles or {}, hotspot_profiles or {})
        self.legacy_login = version_tuple(ros_version) <= LEGACY_LOGIN_LAST
        self.ssl_context = ssl_context
        self.max_word_bytes = max_word_bytes
        self.unresponsive = False  # True: accept connections, read commands, never answer (timeouts)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    # -- lifecycle: stop() is also how a test takes the router down, start() brings it back on the same port
    def start(self) -> RouterOSSimulator:
        """Listen and serve in a daemon thread; return self."""
        if self._server is None:
            self._server = _Server((self.host, self.port), self)
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(
                # A short poll keeps stop() (and so every test teardown) fast.
                target=self._server.serve_forever,
                args=(0.02,),
                name=f"routeros-sim:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection (connections are then refused)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join()
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for sock in conns:
            with contextlib.suppress(OSError):  # already gone
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> RouterOSSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(sock)

    # -- test hooks
    def reset(self) -> None:
        """Forget every account and session; profiles go back to the built-ins plus the constructor's."""
        self.router.reset()

    def state(self) -> dict[str, list[dict[str, str]]]:
        """Return a copy of every menu: path → items (each with ``.id``)."""
        with self.router.lock:
            return {path: [dict(i) for i in menu.items.values()] for path, menu in self.router.menus.items()}

    def connect_session(
        self,
        service_type: str,
        username: str,
        *,
        password: str | None = None,
        address: str | None = None,
        mac_address: str | None = None,
        server: str = "hotspot1",
    ) -> str:
        """Create an active session as if ``username`` dialled in; return its ``.id``.

        :raise SessionRefused: unknown or disabled account, or wrong password when one is given.
        """
        return self.router.connect_session(
            service_type, username, password=password, address=address, mac_address=mac_address, server=server
        )

    # -- protocol
    def _reply(
        self, conn: _Connection, command: str, attrs: dict[str, str], queries: list[str], unknown: list[str]
    ) -> tuple[list[list[str]], bool]:
        """Return (reply sentences, close connection afterwards)."""
        if command == "/quit":
            return [["!fatal", "session terminated on request"]], True
        if command == "/login":
            return self._login(conn, attrs), False
        if not conn.logged_in:
            return Trap("not logged in").sentences(), False
        if unknown:
            return Trap("unknown parameter").sentences(), False
        return self.router.execute(command, attrs, queries), False

    def _login(self, conn: _Connection, attrs: Mapping[str, str]) -> list[list[str]]:
        name = attrs.get("name")
        if name is None and "password" not in attrs:  # legacy step 1: hand out a challenge
            conn.challenge = secrets.token_bytes(16)
            return [["!done", f"=ret={conn.challenge.hex()}"]]
        if "response" in attrs:  # legacy step 2: 00 + md5(0x00 + password + challenge)
            expected = None
            if conn.challenge is not None and name in self.users:
                digest = hashlib.md5(b"\x00" + self.users[name].encode() + conn.challenge, usedforsecurity=False)
                expected = "00" + digest.hexdigest()
            conn.challenge = None
            if not self.legacy_login:
                return Trap("invalid user name or password (6)").sentences()
            if expected is None or not secrets.compare_digest(attrs["response"], expected):
                return Trap("cannot log in").sentences()
            conn.logged_in = True
            return [["!done"]]
        password = attrs.get("password", "")
        if name not in self.users or not secrets.compare_digest(self.users[name], password):
            return Trap("invalid user name or password (6)").sentences()
        conn.logged_in = True
        return [["!done"]]


# ---------------------------------------------------------------------------------------------- entry point

DEMO_PPP_PROFILES = {"10M": {"rate-limit": "5M/10M"}, "20M": {"rate-limit": "10M/20M"}}
DEMO_HOTSPOT_PROFILES = {"10M": {"rate-limit": "5M/10M", "shared-users": "1"},
                         "20M": {"rate-limit": "10M/20M", "shared-users": "2"}}  # fmt: skip


def _default_port() -> int:
    # config.py is the only reader of the environment; ROUTEROS_SIM_PORT may not be declared there yet.
    return int(getattr(Config, "ROUTEROS_SIM_PORT", 8728))


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator with demo profiles until interrupted (``make run``)."""
    parser = argparse.ArgumentParser(description="MikroTik RouterOS API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: Config.ROUTEROS_SIM_PORT or 8728")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="sim-router-pass")
    parser.add_argument(
        "--ros-version",
        default=getattr(Config, "ROUTEROS_SIM_VERSION", DEFAULT_VERSION),
        help="RouterOS version to emulate, e.g. 7.17 or 6.42 (default: Config.ROUTEROS_SIM_VERSION, 7.18)",
    )
    parser.add_argument("--tls-cert", help="PEM certificate (with --tls-key) to serve api-ssl instead of api")
    parser.add_argument("--tls-key")
    parser.add_argument(
        "--hotspot-port",
        type=int,
        default=None,
        help="also serve the hotspot's HTTP login page (POST /login) on this port; 0 = any free one",
    )
    args = parser.parse_args(argv)
    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    sim = RouterOSSimulator(
        args.host,
        args.port if args.port is not None else _default_port(),
        users={args.user: args.password},
        ros_version=args.ros_version,
        ppp_profiles=DEMO_PPP_PROFILES,
        hotspot_profiles=DEMO_HOTSPOT_PROFILES,
        ssl_context=context,
    )
    sim.start()
    log.info("RouterOS API simulator (v%s) on %s:%d, login %s", args.ros_version, sim.host, sim.port, args.user)
    hotspot = None
    if args.hotspot_port is not None:
        from simulators.hotspot_login import HotspotLoginServer  # imports this module: load it only when asked

        hotspot = HotspotLoginServer(sim, args.hotspot_port).start()
        log.info("hotspot login page on %s (use it as link-login-only)", hotspot.login_url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        if hotspot is not None:
            hotspot.stop()
        sim.stop()


if __name__ == "__main__":
    main()
