"""gateway.stk_outcome: Daraja callbacks and STK query answers, by code; metadata by Name."""

from __future__ import annotations

import json

import pytest
from psycopg2.errors import RaiseException
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

ITEMS = [
    {"Name": "Amount", "Value": 1.00},
    {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
    {"Name": "Balance"},
    {"Name": "TransactionDate", "Value": 20191219102115},
    {"Name": "PhoneNumber", "Value": 254708374149},
]


def _callback(code, items=None):
    cb = {"MerchantRequestID": "m", "CheckoutRequestID": "ws_CO_1", "ResultCode": code, "ResultDesc": "d"}
    if items is not None:
        cb["CallbackMetadata"] = {"Item": items}
    return {"Body": {"stkCallback": cb}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            _callback(0, ITEMS),
            {
                "state": "paid",
                "receipt": "NLJ7RT61SV",
                "amount": "1.0",
                "phone": "254708374149",
                "date": "20191219102115",
                "reference": "ws_CO_1",
                "settled_by": "callback",
            },
        ),
        (_callback(0, list(reversed(ITEMS))), {"state": "paid", "receipt": "NLJ7RT61SV"}),  # order does not matter
        (_callback(1032), {"state": "declined", "code": "1032", "message": "cancelled by the customer"}),
        (_callback(2001), {"state": "declined", "message": "wrong M-Pesa PIN entered"}),
        (_callback(1), {"state": "declined", "message": "insufficient M-Pesa balance"}),
        (_callback(9999), {"state": "declined", "message": "M-Pesa declined the payment: d"}),
        ({"source": "stkquery", "state": "pending"}, {"state": "pending"}),
        (
            {"source": "stkquery", "state": "completed", "result_code": "0", "CheckoutRequestID": "ws_CO_1"},
            {"state": "paid", "receipt": None, "settled_by": "stkquery"},
        ),
        (
            {
                "source": "stkquery",
                "state": "completed",
                "result_code": "0",
                "CheckoutRequestID": "ws_CO_1",
                "callback": _callback(0, ITEMS),
            },
            {"state": "paid", "receipt": "NLJ7RT61SV"},
        ),
        (
            {
                "source": "stkquery",
                "state": "completed",
                "result_code": "0",
                "CheckoutRequestID": "ws_CO_2",
                "callback": _callback(0, ITEMS),
            },
            {"state": "paid", "receipt": None},
        ),  # held callback of another push
        (
            {"source": "stkquery", "state": "failed", "result_code": "1037", "CheckoutRequestID": "ws_CO_1"},
            {"state": "declined", "code": "1037"},
        ),
    ],
)
def test_stk_outcome(app, body, expected):
    from core import db

    with app.app_context(), db.transaction() as conn:
        got = conn.execute(text("SELECT gateway.stk_outcome(CAST(:b AS json))"), {"b": json.dumps(body)}).scalar()
    for key, value in expected.items():
        assert got.get(key) == value, key


def test_stk_outcome_refuses_other_bodies(app):
    with app.app_context(), app.extensions["db_engine"].connect() as conn, pytest.raises(DBAPIError) as err:
        conn.execute(text("SELECT gateway.stk_outcome(CAST(:b AS json))"), {"b": '{"hello": 1}'})
    assert isinstance(err.value.orig, RaiseException)
