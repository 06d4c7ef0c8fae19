"""Secret masking for everything we persist or log: by key name, and by the request's own secret values."""

from __future__ import annotations

import json
import re
from typing import Any

MASK = "****"
# A callback URL's last segment is a bearer secret: whoever holds it can post a callback for that payment.
_CALLBACK_TOKEN = re.compile(r"(/api/v1/callbacks/)[^/?#\s\"'<>\\]+")
# Keys whose values are secrets wherever they appear (f007/f008 are the MosPay password fields).
SECRET_KEYS = frozenset(
    {
        "f007",
        "f008",
        "password",
        "passkey",
        "consumer_secret",
        "consumer_key",
        "api_secret",
        "secret",
        "access_token",
        "token",
        "authorization",
        "webhook_secret",
        "totp_secret",
        "security_credential",
        "x-internal-token",
        "new_password",
        "current_password",
    }
)


def mask_json(value: Any) -> Any:
    """A copy of value with every secret key's value replaced by ****."""
    if isinstance(value, dict):
        return {
            k: (MASK if str(k).lower() in SECRET_KEYS and v not in (None, "") else mask_json(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_json(v) for v in value]
    return value


def mask_callback_tokens(text: str) -> str:
    """text with every callback URL's token replaced: /api/v1/callbacks/****."""
    return _CALLBACK_TOKEN.sub(r"\g<1>" + MASK, text) if "/api/v1/callbacks/" in text else text


def mask_text(text: str | None, secrets: list[str] | tuple[str, ...] = (), limit: int = 4000) -> str | None:
    """Replace each known secret value in free text (bodies, errors), then truncate."""
    if text is None:
        return None
    text = mask_callback_tokens(text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text if len(text) <= limit else text[:limit] + "…[truncated]"


def dump_masked(value: Any, secrets: list[str] | tuple[str, ...] = (), limit: int = 4000) -> str:
    """JSON text of value with secret keys and secret values masked."""
    return mask_text(json.dumps(mask_json(value), default=str, separators=(",", ":")), secrets, limit) or ""
