"""A service's field rules live on its row (migration 0100): every edit of service_fields refreshes the JSON and
its version, which authentication hands out without aggregating the fields per request."""

from __future__ import annotations

from sqlalchemy import text

from core import db
from tests.factories import make_client, unique_name

_RULES = text("SELECT field_rules, rules_version FROM gateway.services WHERE id = :s")
_AUTH = text(
    "SELECT gateway.authenticate_client(:app, NULL, NULL, NULL, :name, '', NULL, false) -> 'fields', "
    "gateway.authenticate_client(:app, NULL, NULL, NULL, :name, '', NULL, false) ->> 'rules_version'"
)


def test_rules_follow_every_edit_of_the_fields(app):
    merchant = make_client(app)
    name = unique_name("svc")
    with app.app_context(), db.transaction() as conn:
        service = conn.execute(
            text(
                "INSERT INTO gateway.services (name, display_name, kind, base_url) "
                "VALUES (:n, :n, 'http', 'http://127.0.0.1:9') RETURNING id"
            ),
            {"n": name},
        ).scalar_one()
        empty = conn.execute(_RULES, {"s": service}).one()
        assert empty.field_rules == []
        conn.execute(
            text(
                "INSERT INTO gateway.service_fields (service_id, field, required, pattern, max_length) "
                "VALUES (:s, 'f005', true, '^2547[0-9]{8}$', 12), (:s, 'f004', true, NULL, NULL)"
            ),
            {"s": service},
        )
        two = conn.execute(_RULES, {"s": service}).one()
        assert [r["field"] for r in two.field_rules] == ["f004", "f005"]  # ordered by field
        assert two.field_rules[1] == {"field": "f005", "required": True, "pattern": "^2547[0-9]{8}$", "max_length": 12}
        assert two.rules_version != empty.rules_version
        conn.execute(
            text("UPDATE gateway.service_fields SET required = false WHERE service_id = :s AND field = 'f005'"),
            {"s": service},
        )
        edited = conn.execute(_RULES, {"s": service}).one()
        assert edited.field_rules[1]["required"] is False and edited.rules_version not in (
            two.rules_version,
            empty.rules_version,
        )
        conn.execute(text("DELETE FROM gateway.service_fields WHERE service_id = :s"), {"s": service})
        assert tuple(conn.execute(_RULES, {"s": service}).one()) == tuple(empty)
        conn.execute(
            text("INSERT INTO gateway.service_fields (service_id, field, required) VALUES (:s, 'f006', false)"),
            {"s": service},
        )
        stored = conn.execute(_RULES, {"s": service}).one()
        handed_out = conn.execute(_AUTH, {"app": merchant.app_id, "name": name}).one()
    assert handed_out[0] == stored.field_rules and handed_out[1] == stored.rules_version
