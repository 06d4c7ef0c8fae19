"""Rate limiting per App-ID answers 429 in the JSON error shape."""

from __future__ import annotations

from app import create_app


def test_rate_limit_is_429_json(database_url):
    limited = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_DEFAULT": "2/minute",
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    try:
        client = limited.test_client()
        headers = {"App-ID": "ratelimited", "Content-Type": "application/json"}
        codes = [client.post("/api/v1/payment/status", headers=headers, data="{}").status_code for _ in range(3)]
        assert codes[:2] != [429, 429]
        assert codes[2] == 429
        resp = client.post("/api/v1/payment/status", headers=headers, data="{}")
        assert resp.get_json()["status"] == "429"
        assert "Retry-After" in resp.headers
    finally:
        limited.extensions["db_engine"].dispose()
