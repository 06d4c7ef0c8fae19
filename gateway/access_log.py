"""gunicorn's access logger with callback tokens masked: the path of a callback URL is a bearer secret."""

from __future__ import annotations

import datetime
from typing import Any

from gunicorn.glogging import Logger

from core.masking import mask_callback_tokens


class MaskedAccessLogger(Logger):
    """Logs /api/v1/callbacks/**** in every atom that could carry the path (%(U)s, %(r)s, RAW_URI, referrer)."""

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: datetime.timedelta) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: mask_callback_tokens(v) if isinstance(v, str) else v for k, v in atoms.items()}
