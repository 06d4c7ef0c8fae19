"""Kenyan mobile numbers in the 2547XXXXXXXX / 2541XXXXXXXX form Daraja requires (docs/protocols/daraja.md §2, §6)."""

from __future__ import annotations

import re

MSISDN_RE = re.compile(r"^254[17][0-9]{8}$")
ACCEPTED_FORMS = "07XXXXXXXX, 01XXXXXXXX, +2547XXXXXXXX, 2547XXXXXXXX, 7XXXXXXXX (or the same with 1 for 7)"
_SEPARATORS = re.compile(r"[\s\-().]")


def normalise_msisdn(raw: object) -> str:
    """Return the number as 254[17]XXXXXXXX.

    :raises ValueError: with a message listing the accepted forms.
    """
    if not isinstance(raw, str):
        raise ValueError(f"phone must be a string in one of the forms {ACCEPTED_FORMS}")
    digits = _SEPARATORS.sub("", raw)
    if digits.startswith("+"):
        digits = digits[1:]
    if len(digits) == 10 and digits.startswith("0"):
        digits = "254" + digits[1:]
    elif len(digits) == 9:
        digits = "254" + digits
    if not MSISDN_RE.fullmatch(digits):
        raise ValueError(f"phone {raw!r} is not a Safaricom mobile number; use one of the forms {ACCEPTED_FORMS}")
    return digits


def mask_msisdn(msisdn: str) -> str:
    """Keep the prefix and the last 3 digits, enough to correlate logs without exposing the payer."""
    return msisdn[:5] + "*" * max(0, len(msisdn) - 8) + msisdn[-3:]
