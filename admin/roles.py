"""Who may do what: the gateway's roles and the client (tenant) roles, and the permissions each holds. The
portal and the admin API check the same table, so a role means the same thing on both."""

from __future__ import annotations

GATEWAY_ROLES = ("super_admin", "admin", "viewer")
CLIENT_ROLES = ("org_admin", "manager", "user")

# read          see pages and objects (a tenant user: only their own client's)
# operate       redeliver webhooks, ISP billing work (plans, subscribers, router jobs)
# credentials   rotate the API and webhook secrets, set M-Pesa and router credentials
# client_users  manage a client's own users
# write         gateway configuration: services, clients, assignments, limits, the function workshop
# users         the gateway's own users
PERMISSIONS: dict[str, frozenset[str]] = {
    "super_admin": frozenset({"read", "operate", "credentials", "client_users", "write", "users"}),
    "admin": frozenset({"read", "operate", "credentials", "client_users", "write"}),
    "viewer": frozenset({"read"}),
    "org_admin": frozenset({"read", "operate", "credentials", "client_users"}),
    "manager": frozenset({"read", "operate"}),
    "user": frozenset({"read"}),
}
PERMISSION_TEXT = {
    "read": "your role cannot read this page",
    "operate": "this action needs the admin role (gateway) or the org_admin or manager role (client)",
    "credentials": "changing credentials needs the admin role (gateway) or the org_admin role (client)",
    "client_users": "managing a client's users needs the admin role (gateway) or the org_admin role (client)",
    "write": "changing clients, services and functions needs the admin or super_admin role",
    "users": "managing gateway users needs the super_admin role",
}
GATEWAY_ONLY = "this is a gateway administrators' page; your account belongs to a client"


def allows(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())


def refusal(role: str, permission: str) -> str:
    """The 403 message for a role without `permission`."""
    read_only = " (read-only)" if PERMISSIONS.get(role) == frozenset({"read"}) else ""
    return f"not allowed for role {role}{read_only}: {PERMISSION_TEXT[permission]}"


def is_client_role(role: str) -> bool:
    return role in CLIENT_ROLES
