"""One key per purpose: JWTs, sessions and keyed hashes never share the master SECRET_KEY; production wants
32-byte keys; microservices refuse development tokens in production."""

from __future__ import annotations

import jwt
import pytest
from cryptography.fernet import Fernet

import config
from app import create_app
from core.crypto import keyed_hash
from gateway import auth
from microservices.echo.app import create_app as create_echo
from microservices.mpesa.app import create_app as create_mpesa
from microservices.router.app import create_app as create_router

MASTER = "m" * 48


def _app(**settings):
    return create_app({"DATABASE_URL": "", "SECRET_KEY": MASTER, **settings})


def test_keys_are_derived_and_distinct():
    app = _app()
    keys = {k: app.config[k] for k in ("JWT_SECRET_KEY", "SESSION_SECRET_KEY", "HASH_KEY")}
    assert len(set(keys.values())) == 3 and MASTER not in keys.values()
    assert all(len(bytes.fromhex(v)) == 32 for v in keys.values())
    assert app.config["SECRET_KEY"] == keys["SESSION_SECRET_KEY"]  # Flask signs sessions with the session key
    assert _app().config["HASH_KEY"] == keys["HASH_KEY"]  # stable across restarts: stored hashes keep matching


def test_configured_keys_are_used():
    app = _app(JWT_SECRET_KEY="j" * 40, SESSION_SECRET_KEY="s" * 40, HASH_KEY="h" * 40)
    assert app.config["JWT_SECRET_KEY"] == "j" * 40 and app.config["SECRET_KEY"] == "s" * 40
    with app.app_context():
        assert auth.hash_api_secret("x") == keyed_hash("h" * 40, "x")


def test_a_token_signed_with_the_master_or_hash_key_is_refused():
    app = _app()
    with app.app_context():
        token, _ = auth.issue_token("admin", "1", 0)
        assert jwt.decode(token, app.config["JWT_SECRET_KEY"], algorithms=["HS256"], options={"verify_aud": False})
        for key in (MASTER, app.config["HASH_KEY"], app.config["SESSION_SECRET_KEY"]):
            forged = jwt.encode(
                {"sub": "1", "typ": "admin", "ver": 0, "iat": 1, "exp": 9999999999, "iss": app.config["JWT_ISSUER"]},
                key,
                algorithm="HS256",
            )
            with pytest.raises(auth.AuthError):
                auth.decode_token(forged, "admin")
        assert auth.hash_api_secret("secret") != keyed_hash(MASTER, "secret")


def _production(**overrides) -> dict:
    return {
        "ENV": "production",
        "DATABASE_URL": "postgresql://x@127.0.0.1/x",
        "SECRET_KEY": "s" * 40,
        "ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "INTERNAL_TOKEN": "t" * 40,
        **overrides,
    }


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"SECRET_KEY": "short-but-not-dev"}, "SECRET_KEY"),
        ({"JWT_SECRET_KEY": "j" * 16}, "JWT_SECRET_KEY"),
        ({"HASH_KEY": "h" * 31}, "HASH_KEY"),
    ],
)
def test_production_wants_32_byte_keys(overrides, named):
    with pytest.raises(RuntimeError, match=f"shorter than 32 bytes: .*{named}"):
        config.check_production(_production(**overrides))


def test_production_accepts_short_master_when_every_key_is_configured():
    config.check_production(
        _production(SECRET_KEY="x" * 20, JWT_SECRET_KEY="j" * 32, SESSION_SECRET_KEY="s" * 32, HASH_KEY="h" * 32)
    )


@pytest.mark.parametrize(
    "factory",
    [
        lambda s: create_echo(s),
        lambda s: create_router(s),
        lambda s: create_mpesa({"ENCRYPTION_KEY": Fernet.generate_key().decode(), **s}),
    ],
)
def test_microservices_refuse_dev_tokens_in_production(factory):
    with pytest.raises(RuntimeError, match="INTERNAL_TOKEN"):
        factory({"ENV": "production", "INTERNAL_TOKEN": config.DEV_INTERNAL_TOKEN})
    factory({"ENV": "production", "INTERNAL_TOKEN": "t" * 40})  # a real token starts


def test_mpesa_service_refuses_dev_encryption_key_in_production():
    with pytest.raises(RuntimeError, match="ENCRYPTION_KEY"):
        create_mpesa({"ENV": "production", "INTERNAL_TOKEN": "t" * 40, "ENCRYPTION_KEY": config.DEV_ENCRYPTION_KEY})
