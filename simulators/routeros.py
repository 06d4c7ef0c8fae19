"""RouterOS API simulator: the binary protocol of PROTOCOLS.md B.1 on TCP, the ISP menus of B.2 in memory.

Run it with ``python -m simulators.routeros`` (see ``main``); tests build ``RouterOSSimulator(port=0)``.
Facts the real router was not observed on are simulator choices and are listed in docs/routeros-simulator.md.
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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from config import Config

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------- wire codec

MAX_LENGTH = 0xFFFFFFFF  # the 5-byte form carries 4 length bytes


class ProtocolViolation(Exception):
    """The peer sent bytes that are not a valid API word; the router drops such a connection."""


def encode_length(length: int) -> bytes:
    """Return the 1-5 byte API length prefix for ``length``; ValueError outside 0..0xFFFFFFFF."""
    if not 0 <= length <= MAX_LENGTH:
        raise ValueError(f"word length {length} cannot be encoded")
    if length < 0x80:
        return length.to_bytes(1, "big")
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    return b"\xf0" + length.to_bytes(4, "big")


def prefix_size(first_byte: int) -> int:
    """Return how many bytes the length prefix starting with ``first_byte`` has.

    :raise ProtocolViolation: for the reserved control bytes 0xF8-0xFF (and 0xF1-0xF7, never valid).
    """
    if first_byte < 0x80:
        return 1
    if first_byte < 0xC0:
        return 2
    if first_byte < 0xE0:
        return 3
    if first_byte < 0xF0:
        return 4
    if first_byte == 0xF0:
        return 5
    raise ProtocolViolation(f"reserved control byte 0x{first_byte:02X}")


def decode_length(prefix: bytes) -> int:
    """Return the length carried by a complete prefix (as sized by ``prefix_size``)."""
    size = prefix_size(prefix[0])
    if len(prefix) != size:
        raise ProtocolViolation(f"length prefix needs {size} bytes, got {len(prefix)}")
    if size == 5:
        return int.from_bytes(prefix[1:], "big")
    mask = (0x80, 0xC000, 0xE00000, 0xF0000000)[size - 1]
    return int.from_bytes(prefix, "big") & ~mask


def encode_word(word: str) -> bytes:
    """Return ``word`` as prefix + UTF-8 bytes."""
    data = word.encode("utf-8", "surrogateescape")
    return encode_length(len(data)) + data


def encode_sentence(words: Iterable[str]) -> bytes:
    """Return the words followed by the zero-length word that ends a sentence."""
    return b"".join(encode_word(w) for w in words) + b"\x00"


def read_sentence(read_exact: Callable[[int], bytes], max_word: int = 1 << 20) -> list[str]:
    """Read one sentence with ``read_exact(n)`` (which raises EOFError when the peer closes).

    :raise ProtocolViolation: on a control byte or a word longer than ``max_word``.
    """
    words: list[str] = []
    while True:
        prefix = read_exact(1)
        prefix += read_exact(prefix_size(prefix[0]) - 1)
        length = decode_length(prefix)
        if length == 0:
            return words
        if length > max_word:
            raise ProtocolViolation(f"word of {length} bytes exceeds the {max_word}-byte limit")
        words.append(read_exact(length).decode("utf-8", "surrogateescape"))


# ---------------------------------------------------------------------------------------------- menus

PPP_SERVICES = frozenset({"any", "async", "l2tp", "ovpn", "pppoe", "pptp", "sstp"})


@dataclass(frozen=True)
class MenuSpec:
    """What one menu accepts and prints."""

    path: str
    fields: tuple[str, ...]  # settable, in print order
    defaults: Mapping[str, str] = field(default_factory=dict)  # printed even when never set; may be read-only
    choices: Mapping[str, frozenset[str]] = field(default_factory=dict)
    profile_menu: str | None = None  # where `profile` values must exist
    duplicate_message: str = "failure: item with the same name already exists"
    scope: str | None = None  # names are unique per value of this field ("all" overlaps every value)
    sessions: bool = False  # active-session menu: print and remove only


PPP_SECRET = MenuSpec(
    "/ppp/secret",
    ("name", "password", "service", "profile", "remote-address", "local-address", "caller-id", "routes",
     "limit-bytes-in", "limit-bytes-out", "disabled", "comment"),
    {"password": "", "service": "any", "caller-id": "", "profile": "default", "routes": "",
     "limit-bytes-in": "0", "limit-bytes-out": "0", "disabled": "false"},
    choices={"service": PPP_SERVICES},
    profile_menu="/ppp/profile",
    duplicate_message="failure: secret with the same name already exists",
)  # fmt: skip
PPP_PROFILE = MenuSpec(
    "/ppp/profile",
    ("name", "local-address", "remote-address", "rate-limit", "only-one", "session-timeout", "idle-timeout",
     "dns-server", "address-list", "comment"),
    {"only-one": "default"},
    choices={"only-one": frozenset({"yes", "no", "default"})},
    duplicate_message="failure: profile with the same name already exists",
)  # fmt: skip
PPP_ACTIVE = MenuSpec(
    "/ppp/active",
    ("name", "service", "caller-id", "address", "uptime", "encoding", "session-id", "limit-bytes-in",
     "limit-bytes-out", "radius"),
    sessions=True,
)  # fmt: skip
HOTSPOT_USER = MenuSpec(
    "/ip/hotspot/user",
    ("server", "name", "password", "profile", "limit-uptime", "limit-bytes-in", "limit-bytes-out",
     "limit-bytes-total", "mac-address", "address", "email", "disabled", "comment"),
    {"server": "all", "password": "", "profile": "default", "uptime": "0s", "bytes-in": "0", "bytes-out": "0",
     "packets-in": "0", "packets-out": "0", "disabled": "false"},  # counters are read-only: not in fields
    profile_menu="/ip/hotspot/user/profile",
    duplicate_message="failure: already have user with this name for this server",
    scope="server",
)  # fmt: skip
HOTSPOT_PROFILE = MenuSpec(
    "/ip/hotspot/user/profile",
    ("name", "rate-limit", "shared-users", "session-timeout", "idle-timeout", "keepalive-timeout", "address-pool",
     "mac-cookie-timeout", "on-login", "on-logout", "comment"),
    {"shared-users": "1"},
    duplicate_message="failure: profile with the same name already exists",
)  # fmt: skip
HOTSPOT_ACTIVE = MenuSpec(
    "/ip/hotspot/active",
    ("server", "user", "address", "mac-address", "login-by", "uptime", "session-time-left", "idle-time",
     "bytes-in", "bytes-out"),
    sessions=True,
)  # fmt: skip
MENUS = {m.path: m for m in (PPP_SECRET, PPP_PROFILE, PPP_ACTIVE, HOTSPOT_USER, HOTSPOT_PROFILE, HOTSPOT_ACTIVE)}
BOOLEANS = frozenset({"disabled", "radius"})
# Built-in profiles keep the ids a real router gives them; they cannot be removed.
BUILTIN_PROFILES = {"/ppp/profile": {"*0": "default", "*FFFFFFFE": "default-encryption"},
                    "/ip/hotspot/user/profile": {"*0": "default"}}  # fmt: skip


class Trap(Exception):
    """A command failed; answered as ``!trap`` then ``!done``."""

    def __init__(self, message: str, category: int | None = None) -> None:
        super().__init__(message)
        self.message, self.category = message, category

    def sentences(self) -> list[list[str]]:
        trap = ["!trap", f"=message={self.message}"]
        if self.category is not None:
            trap.append(f"=category={self.category}")
        return [trap, ["!done"]]


class SessionRefused(Exception):
    """``connect_session`` was refused the way the router refuses a dial-in (unknown, disabled, bad password)."""


def _bool_text(key: str, value: str) -> str:
    lowered = value.lower()
    if lowered in ("yes", "true"):
        return "true"
    if lowered in ("no", "false"):
        return "false"
    raise Trap(f"input does not match any value of {key}", 1)


def _compare(left: str, right: str) -> int:
    """Numbers compare as numbers, everything else as text."""
    if left.isdigit() and right.isdigit():
        return (int(left) > int(right)) - (int(left) < int(right))
    return (left > right) - (left < right)


def _query_term(item: Mapping[str, str], body: str) -> bool:
    if body.startswith("-"):
        return body[1:] not in item
    if body[:1] in ("<", ">"):
        key, _, value = body[1:].partition("=")
        if key not in item:
            return False
        return _compare(item[key], value) == (-1 if body[0] == "<" else 1)
    key, sep, value = body.removeprefix("=").partition("=")
    if not sep:
        return key in item
    if key in BOOLEANS and value.lower() in ("yes", "no", "true", "false"):
        value = _bool_text(key, value)
    return item.get(key) == value


def matches(item: Mapping[str, str], queries: Iterable[str]) -> bool:
    """Evaluate API query words against one item: a boolean stack over an endless floor of true."""
    stack: list[bool] = []

    def pop() -> bool:
        return stack.pop() if stack else True

    for word in queries:
        body = word[1:]
        if not body.startswith("#"):
            stack.append(_query_term(item, body))
            continue
        for op in body[1:]:
            if op == "!":
                stack.append(not pop())
            elif op in "&|":
                right, left = pop(), pop()
                stack.append(left and right if op == "&" else left or right)
            elif op == ".":
                top = pop()
                stack += [top, top]
            elif op.isdigit():  # copy of the value at that depth, 0 = top (simulator choice)
                depth = int(op)
                stack.append(stack[-1 - depth] if depth < len(stack) else True)
            else:
                raise Trap(f"unknown query operation {op!r}", 5)
    return all(stack)


class Menu:
    """Items of one menu, keyed by ``.id``; ids grow and are never reused until ``reset``."""

    def __init__(self, spec: MenuSpec) -> None:
        self.spec = spec
        self.items: dict[str, dict[str, str]] = {}
        self.next_id = 1
        self.builtin: set[str] = set()

    def print_order(self, key: str) -> int:
        """Sort key putting ``.id`` first, then fields in the menu's order, then read-only counters."""
        order = (".id", *self.spec.fields, *self.spec.defaults)
        return order.index(key) if key in order else len(order)

    def insert(self, values: Mapping[str, str], item_id: str | None = None) -> str:
        if item_id is None:
            item_id, self.next_id = f"*{self.next_id:X}", self.next_id + 1
        self.items[item_id] = {".id": item_id, **self.spec.defaults, **values}
        return item_id

    def resolve(self, raw: str) -> list[str]:
        """Turn ``*1,*2`` or item names into ids. :raise Trap: ``no such item`` if any is unknown."""
        ids = []
        for ref in (r.strip() for r in raw.split(",")):
            if ref in self.items:
                ids.append(ref)
                continue
            named = [i for i, item in self.items.items() if item.get("name") == ref]
            if not named:
                raise Trap("no such item")
            ids.extend(named)
        return ids

    def check_unique(self, values: Mapping[str, str], skip: str | None = None) -> None:
        scope = self.spec.scope
        for item_id, item in self.items.items():
            if item_id == skip or item.get("name") != values.get("name"):
                continue
            if scope is None or "all" in (item.get(scope), values.get(scope)) or item.get(scope) == values.get(scope):
                raise Trap(self.spec.duplicate_message)


# ---------------------------------------------------------------------------------------------- the router


class Router:
    """The router's configuration and command handling, shared by every connection; thread-safe."""

    def __init__(
        self,
        ros_version: str,
        ppp_profiles: Mapping[str, Mapping[str, str]],
        hotspot_profiles: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.version = tuple(int(p) for p in re.findall(r"\d+", ros_version)[:2])
        self._seed = {"/ppp/profile": ppp_profiles, "/ip/hotspot/user/profile": hotspot_profiles}
        self.lock = threading.RLock()
        self.menus: dict[str, Menu] = {}
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.menus = {path: Menu(spec) for path, spec in MENUS.items()}
            self._sessions = 0
            for path, builtins in BUILTIN_PROFILES.items():
                for item_id, name in builtins.items():
                    self.menus[path].insert({"name": name}, item_id)
                    self.menus[path].builtin.add(item_id)
            for path, profiles in self._seed.items():
                for name, values in profiles.items():
                    self.menus[path].insert({"name": name, **values})

    def execute(self, command: str, attrs: dict[str, str], queries: list[str]) -> list[list[str]]:
        """Run one logged-in command; return the reply sentences (a Trap becomes ``!trap`` + ``!done``)."""
        path, _, verb = command.rpartition("/")
        try:
            with self.lock:
                menu = self.menus.get(path)
                if menu is None or verb not in self._verbs(menu.spec):
                    raise Trap("no such command prefix", 0)
                return getattr(self, f"_cmd_{verb}")(menu, attrs, queries)
        except Trap as trap:
            return trap.sentences()

    @staticmethod
    def _verbs(spec: MenuSpec) -> set[str]:
        if spec.sessions:
            return {"print", "remove"}
        return {"print", "add", "set", "remove"} | ({"enable", "disable"} if "disabled" in spec.fields else set())

    def _cmd_print(self, menu: Menu, attrs: dict[str, str], queries: list[str]) -> list[list[str]]:
        proplist = [p for p in attrs.pop(".proplist", "").split(",") if p]
        count_only = attrs.pop("count-only", None) is not None
        for ignored in ("detail", "terse", "without-paging"):
            attrs.pop(ignored, None)
        if attrs:
            raise Trap("unknown parameter")
        rows = [item for item in menu.items.values() if matches(item, queries)]
        if count_only:
            return [["!done", f"=ret={len(rows)}"]]
        if not rows and self.version >= (7, 18):
            return [["!empty"], ["!done"]]
        out = []
        for item in rows:
            keys = [k for k in proplist if k in item] if proplist else sorted(item, key=menu.print_order)
            out.append(["!re", *(f"={k}={item[k]}" for k in keys)])
        return [*out, ["!done"]]

    def _values(self, menu: Menu, attrs: Mapping[str, str]) -> dict[str, str]:
        """Validate and normalise settable attributes. :raise Trap: on an unknown field or a bad value."""
        spec, values = menu.spec, {}
        for key, value in attrs.items():
            if key not in spec.fields:
                raise Trap("unknown parameter")
            if key in BOOLEANS:
                value = _bool_text(key, value)
            elif key in spec.choices and value not in spec.choices[key]:
                raise Trap(f"input does not match any value of {key}", 1)
            elif key == "profile" and spec.profile_menu:
                value = self._profile(spec.profile_menu, value)
            values[key] = value
        return values

    def _profile(self, profile_menu: str, value: str) -> str:
        """Exact name, or an unambiguous prefix of one, as the router's enum parser allows."""
        names = [item["name"] for item in self.menus[profile_menu].items.values()]
        if value in names:
            return value
        candidates = [n for n in names if value and n.startswith(value)]
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            raise Trap("ambiguous value of profile, more than one possible value matches input", 1)
        raise Trap("input does not match any value of profile", 1)

    def _cmd_add(self, menu: Menu, attrs: dict[str, str], _q: list[str]) -> list[list[str]]:
        values = self._values(menu, attrs)
        if not values.get("name"):
            raise Trap("missing value(s) of argument(s) name", 1)
        menu.check_unique({**menu.spec.defaults, **values})
        return [["!done", f"=ret={menu.insert(values)}"]]

    def _target_ids(self, menu: Menu, attrs: dict[str, str]) -> list[str]:
        raw = attrs.pop(".id", None) or attrs.pop("numbers", None)
        attrs.pop("numbers", None)
        if not raw:
            raise Trap("missing value(s) of argument(s) numbers", 1)
        return menu.resolve(raw)

    def _cmd_set(self, menu: Menu, attrs: dict[str, str], _q: list[str]) -> list[list[str]]:
        ids = self._target_ids(menu, attrs)
        values = self._values(menu, attrs)
        for item_id in ids:
            menu.check_unique({**menu.items[item_id], **values}, skip=item_id)
        for item_id in ids:
            menu.items[item_id].update(values)
        return [["!done"]]

    def _cmd_enable(self, menu: Menu, attrs: dict[str, str], queries: list[str]) -> list[list[str]]:
        self._no_extra(attrs)
        return self._cmd_set(menu, {**attrs, "disabled": "false"}, queries)

    def _cmd_disable(self, menu: Menu, attrs: dict[str, str], queries: list[str]) -> list[list[str]]:
        self._no_extra(attrs)
        return self._cmd_set(menu, {**attrs, "disabled": "true"}, queries)

    @staticmethod
    def _no_extra(attrs: Mapping[str, str]) -> None:
        if set(attrs) - {".id", "numbers"}:
            raise Trap("unknown parameter")

    def _cmd_remove(self, menu: Menu, attrs: dict[str, str], _q: list[str]) -> list[list[str]]:
        ids = self._target_ids(menu, attrs)
        self._no_extra(attrs)
        if menu.builtin.intersection(ids):
            raise Trap("failure: default profile can not be removed")
        for item_id in ids:
            menu.items.pop(item_id, None)
        return [["!done"]]

    def connect_session(
        self,
        service_type: str,
        username: str,
        *,
        password: str | None,
        address: str | None,
        mac_address: str | None,
        server: str,
    ) -> str:
        """Add an active session as if the subscriber dialled in; return its ``.id``.

        :raise SessionRefused: the account is missing, disabled, of another PPP service, or the password differs.
        """
        if service_type not in ("pppoe", "hotspot"):
            raise ValueError("service_type must be 'pppoe' or 'hotspot'")
        pppoe = service_type == "pppoe"
        accounts, active = ("/ppp/secret", "/ppp/active") if pppoe else ("/ip/hotspot/user", "/ip/hotspot/active")
        with self.lock:
            account = next((i for i in self.menus[accounts].items.values() if i.get("name") == username), None)
            if account is None:
                raise SessionRefused(f"no {accounts} named {username!r}")
            if account["disabled"] == "true":
                raise SessionRefused(f"{username!r} is disabled")
            if pppoe and account["service"] not in ("any", "pppoe"):
                raise SessionRefused(f"{username!r} is a {account['service']} secret")
            if password is not None and account.get("password") != password:
                raise SessionRefused(f"wrong password for {username!r}")
            self._sessions += 1
            row = _session_row(pppoe, username, self._sessions, address, mac_address, server)
            return self.menus[active].insert(row)


def _session_row(pppoe: bool, user: str, n: int, address: str | None, mac: str | None, server: str) -> dict[str, str]:
    mac = mac or f"02:00:00:00:{n // 256 % 256:02X}:{n % 256:02X}"
    address = address or f"10.{64 + n // 65536 % 64}.{n // 256 % 256}.{n % 256}"
    if pppoe:
        return {"name": user, "service": "pppoe", "caller-id": mac, "address": address, "uptime": "0s",
                "encoding": "", "session-id": f"0x{0x81500000 + n:X}", "limit-bytes-in": "0",
                "limit-bytes-out": "0", "radius": "false"}  # fmt: skip
    return {"server": server, "user": user, "address": address, "mac-address": mac, "login-by": "http-chap",
            "uptime": "0s", "idle-time": "0s", "bytes-in": "0", "bytes-out": "0"}  # fmt: skip


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
    :param ros_version: "7.18" or later answers an empty print with ``!empty`` then ``!done``; "7.17" with ``!done``.
    :param ppp_profiles / hotspot_profiles: extra profiles (name → fields) present after every ``reset()``.
    :param ssl_context: a server context with a certificate, to serve api-ssl.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        users: Mapping[str, str] | None = None,
        ros_version: str = "7.18",
        ppp_profiles: Mapping[str, Mapping[str, str]] | None = None,
        hotspot_profiles: Mapping[str, Mapping[str, str]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_word_bytes: int = 8 << 20,
    ) -> None:
        self.host, self.port = host, port
        self.users = dict(users or {"admin": "sim-router-pass"})
        self.router = Router(ros_version, ppp_profiles or {}, hotspot_profiles or {})
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
    parser.add_argument("--ros-version", default="7.18")
    parser.add_argument("--tls-cert", help="PEM certificate (with --tls-key) to serve api-ssl instead of api")
    parser.add_argument("--tls-key")
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
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
