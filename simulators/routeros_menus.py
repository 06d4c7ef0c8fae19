"""RouterOS menus in memory: what each ISP menu of routeros.md §3 holds, its items, and the API query stack.

``Trap`` lives here because a bad query word or an unknown item reference is already a command failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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


def bool_text(key: str, value: str) -> str:
    """Normalise yes/no/true/false to the ``true``/``false`` the router prints. :raise Trap: on anything else."""
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
        value = bool_text(key, value)
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
