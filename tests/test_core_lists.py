"""The one page type and the one filter builder: checked values, bound (never pasted) patterns, honest paging."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from admin import clients
from core import db, paging
from core.errors import InvalidField
from core.filters import Filters, date_range
from models import Client
from tests.conftest import unique_name
from tests.factories import make_client


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"date_from": "yesterday"}, "date_from must be a date such as 2026-11-23"),
        ({"date_to": "2026-13-01"}, "date_to must be a date"),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_from is after date_to: swap them"),
    ],
)
def test_bad_dates_say_what_to_send(args, message):
    with pytest.raises(InvalidField, match=message):
        date_range(args)


@pytest.mark.parametrize("value", ["2xx", "404", "599"])
def test_http_status_accepts_codes_and_classes(value):
    assert len(Filters({"status": value}).http_status("status", Client.id).conditions) == 1


@pytest.mark.parametrize("value", ["600", "4xx5", "abc", "-1"])
def test_http_status_refuses_anything_else(value):
    with pytest.raises(InvalidField, match="status must be an HTTP status such as 401"):
        Filters({"status": value}).http_status("status", Client.id)


def test_equal_with_choices_names_them():
    with pytest.raises(InvalidField, match="status must be one of a, b"):
        Filters({"status": "c"}).equal("status", Client.status, ("a", "b"))


def test_empty_values_add_no_condition():
    built = Filters({"q": "", "app_id": None}).search("q", Client.app_id).equal("app_id", Client.app_id)
    assert built.conditions == []


def test_search_matches_wildcards_literally(app):
    marker = unique_name("pct")
    percent = make_client(app, company_name=f"100% {marker}")
    plain = make_client(app, company_name=f"100 {marker}")
    with app.app_context(), db.transaction() as conn:
        found = {c["app_id"] for c in clients.list_clients(conn, f"100% {marker}", 1, 50)["items"]}
        underscore = clients.list_clients(conn, f"1_0 {marker}", 1, 50)["items"]
    assert percent.app_id in found and plain.app_id not in found
    assert underscore == []


def test_pages_know_whether_there_is_a_next_one(app):
    marker = unique_name("pg")
    for _ in range(3):
        make_client(app, company_name=f"Paged {marker}")
    query = select(Client.app_id).where(Client.company_name == f"Paged {marker}").order_by(Client.id)
    with app.app_context(), db.transaction() as conn:
        first = paging.fetch(conn, query, 1, 2, count=True)
        second = paging.fetch(conn, query, 2, 2)
    assert (len(first.items), first.has_next, first.total) == (2, True, 3)
    assert (len(second.items), second.has_next, second.total) == (1, False, None)
    assert "total" not in second.as_dict()
    assert paging.clamp(0, 10_000) == (1, paging.MAX_PER_PAGE)
