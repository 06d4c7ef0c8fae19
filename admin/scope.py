"""The data a signed-in user may see: everything (a gateway user) or one client's (a tenant user). Every
query of the portal and the admin API is narrowed by the scope on the server; an object of another client
answers exactly as one that does not exist, so nobody learns what other clients have."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import NotFound


@dataclass(frozen=True)
class Scope:
    client_id: int | None = None  # None: gateway-wide
    app_id: str | None = None

    @classmethod
    def of(cls, user: dict) -> Scope:
        """The scope of a users row as admin.users.get_user returns it (with client_app_id)."""
        return cls(user.get("client_id"), user.get("client_app_id"))

    @property
    def is_tenant(self) -> bool:
        return self.client_id is not None

    def check_app(self, app_id: str) -> None:
        """NotFound, worded as for a client that does not exist, unless `app_id` is in scope."""
        if self.is_tenant and app_id != self.app_id:
            raise NotFound(f"no client with app_id {app_id!r}")

    def where(self, client_column: Any) -> tuple[Any, ...]:
        """The conditions that keep a query to the scope's client, given the query's client-id column: none
        gateway-wide. Every scoped read narrows through here: `query.where(*scope.where(Table.client_id))`."""
        return (client_column == self.client_id,) if self.is_tenant else ()

    def owns(self, client_id: int | None) -> bool:
        return not self.is_tenant or client_id == self.client_id


GATEWAY = Scope()
