"""The one rule for app, service and route names: they become parts of PL/pgSQL function names
(`<app>_<service>_<route>`), so each is lowercase `[a-z][a-z0-9]*` and at most 16 characters, which keeps every
name (with the `callback_` prefix) inside PostgreSQL's 63-byte limit and typeable unquoted in psql."""

from __future__ import annotations

import re

NAME_MAX_LENGTH = 16
NAME_PATTERN = rf"^[a-z][a-z0-9]{{0,{NAME_MAX_LENGTH - 1}}}$"
NAME_RE = re.compile(NAME_PATTERN)
NAME_HELP = (
    f"lowercase letters and digits, starting with a letter, at most {NAME_MAX_LENGTH} characters "
    "(it becomes part of PostgreSQL function names)"
)


def is_name(value: str) -> bool:
    return bool(NAME_RE.match(value))
