"""Production refuses to start with development defaults."""

from __future__ import annotations

import pytest

import config
from app import create_app


def test_production_refuses_dev_secrets():
    with pytest.raises(RuntimeError, match="SECRET_KEY, ENCRYPTION_KEY, INTERNAL_TOKEN, DATABASE_URL"):
        create_app({"ENV": "production", "DATABASE_URL": ""})


def test_production_starts_with_real_settings(database_url):
    from cryptography.fernet import Fernet

    app = create_app(
        {
            "ENV": "production",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "s" * 40,
            "ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "INTERNAL_TOKEN": "t" * 40,
        }
    )
    assert app.config["ENV"] == "production"
    app.extensions["db_engine"].dispose()


def test_development_allows_defaults():
    config.check_production({"ENV": "development", "SECRET_KEY": config.DEV_SECRET_KEY})
