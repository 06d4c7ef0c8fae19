"""The simulated router: its menus and how it executes one logged-in API command on them; the dial-in hook.

Shared by every connection of ``simulators.routeros``; all state is guarded by ``Router.lock``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

from simulators.routeros_menus import BOOLEANS, BUILTIN_PROFILES, MENUS, Menu, MenuSpec, Trap, bool_text, matches
from simulators.routeros_system import SystemMenus


class SessionRefused(Exception):
    """``connect_session`` was refused the way the router refuses a dial-in (unknown, disabled, bad password)."""


class Router:
    """The router's configuration and command handling, shared by every connection; thread-safe."""

    def __init__(
        self,
        ros_version: str,
        ppp_profiles: Mapping[str, Mapping[str, str]],
        hotspot_profiles: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.version = tuple(int(p) for p in re.findall(r"\d+", ros_version)[:2])
        self.system = SystemMenus(ros_version, self.version)
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
            self.system.reset()

    def execute(self, command: str, attrs: dict[str, str], queries: list[str]) -> list[list[str]]:
        """Run one logged-in command; return the reply sentences (a Trap becomes ``!trap`` + ``!done``)."""
        path, _, verb = command.rpartition("/")
        try:
            with self.lock:
                if path in SystemMenus.PATHS:
                    return self.system.execute(path, verb, attrs, queries)
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
                value = bool_text(key, value)
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
