"""Who did it: the identity every admin write carries into the audit log."""

from __future__ import annotations

from typing import NotRequired, TypedDict


class Actor(TypedDict):
    """A signed-in user (id, username, role, and the client of a tenant user) or a system process (id None, a
    name such as "cli")."""

    id: int | None
    username: str
    role: NotRequired[str]
    client_id: NotRequired[int | None]


def system_actor(name: str) -> Actor:
    """The actor of work no person did directly: the CLI, the demo seed, a sign-in attempt."""
    return {"id": None, "username": name}
