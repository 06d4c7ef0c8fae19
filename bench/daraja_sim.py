"""The Daraja simulator as the benchmark runs it: callbacks after 0.5 s and no one-prompt-per-phone lock, so
many pushes to the sandbox success number can be in flight at once. Run: python -m bench.daraja_sim PORT"""

from __future__ import annotations

import logging
import sys

from werkzeug.serving import make_server

from simulators.daraja import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, create_app

CONSUMER_KEY, CONSUMER_SECRET = "bench-consumer-key", "bench-consumer-secret"  # noqa: S105 - simulator only
SETTINGS = {
    "apps": [{"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET}],
    "passkeys": {SANDBOX_SHORTCODE: SANDBOX_PASSKEY},
    "callback_delay_s": 0.5,
    "subscriber_lock": False,
    "callback_timeout_s": 10.0,
}


def credentials(base_url: str) -> dict:
    """The M-Pesa credentials a benchmark client stores (encrypted) for this simulator."""
    return {
        "consumer_key": CONSUMER_KEY,
        "consumer_secret": CONSUMER_SECRET,
        "shortcode": SANDBOX_SHORTCODE,
        "passkey": SANDBOX_PASSKEY,
        "transaction_type": "CustomerPayBillOnline",
        "environment": "custom",
        "base_url": base_url,
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    make_server("127.0.0.1", int(sys.argv[1]), create_app(SETTINGS), threaded=True).serve_forever()


if __name__ == "__main__":
    main()
