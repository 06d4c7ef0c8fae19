"""Money as the API and the admin screens accept it: a positive decimal with at most 2 places, as a string
(or, for admin JSON, a number), parsed to Decimal; never a float."""

from __future__ import annotations

import re
from decimal import Decimal

from core.errors import InvalidField


def parse_amount(raw: object, field: str, example: str = '"100" or "99.50"', max_digits: int = 12) -> Decimal:
    """The amount as a Decimal; `max_digits` before the point fits the column it goes to.
    :raise InvalidField: naming the field and the expected form."""
    pattern = rf"^\d{{1,{max_digits}}}(\.\d{{1,2}})?$"
    if isinstance(raw, bool) or not isinstance(raw, str | int | float) or not re.match(pattern, str(raw)):
        raise InvalidField(f"{field} must be a positive amount with at most 2 decimal places, e.g. {example}")
    amount = Decimal(str(raw))
    if amount <= 0:
        raise InvalidField(f"{field} must be greater than zero")
    return amount
