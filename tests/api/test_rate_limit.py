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
        answers = [client.post("/api/v1/payment/status", headers=headers, data="{}") for _ in range(3)]
        codes = [a.status_code for a in answers]
        assert codes[:2] != [429, 429]
        assert codes[2] == 429
        for answer in answers[:2]:  # Retry-After belongs to the 429 alone; the X-RateLimit-* headers stay
            assert "Retry-After" not in answer.headers and "X-RateLimit-Remaining" in answer.headers
        healthy = client.get("/healthz")
        assert healthy.status_code == 200 and "Retry-After" not in healthy.headers
        resp = client.post("/api/v1/payment/status", headers=headers, data="{}")
        assert resp.get_json()["status"] == "429"
        assert "Retry-After" in resp.headers
    finally:
        limited.extensions["db_engine"].dispose()
