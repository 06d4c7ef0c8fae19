"""ISP billing fixtures: an ISP client built through the real service layer, and, for end-to-end flows, the
Daraja simulator, the M-Pesa and router adapters served for real, and RouterOS simulators on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import requests
from sqlalchemy import text

from admin import clients, services
from billing import catalogue
from core import db
from gateway import function_builder
from microservices.mpesa.app import create_app as create_mpesa_app
from microservices.router.app import create_app as create_router_app
from simulators.daraja import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, RunningSimulator
from simulators.routeros import RouterOSSimulator
from tests.conftest import basic, unique_name
from tests.factories import ACTOR, MerchantClient, make_admin, make_client
from tests.routeros_fixtures import ROUTER_PASSWORD, ROUTER_USER, make_simulator
from tests.servers import LiveServer

NOWHERE = "http://127.0.0.1:9"  # base URL of services the SQL-only tests never call
SIM_KEY, SIM_SECRET = "isp-key", "isp-secret"
SIM_SETTINGS = {
    "apps": [{"consumer_key": SIM_KEY, "consumer_secret": SIM_SECRET}],
    "passkeys": {SANDBOX_SHORTCODE: SANDBOX_PASSKEY},
    "callback_delay_s": 0.2,
    "late_callback_delay_s": 1.0,
    "expire_after_s": 0.5,
    "subscriber_lock": False,
    "callback_timeout_s": 3.0,
}
SUBSCRIBER_PASSWORD = "s3cret-pppoe"


@dataclass
class Isp:
    """An ISP client with its two services assigned, plans and subscribers created through billing.py."""

    merchant: MerchantClient
    isp_service: str
    router_service: str
    plans: dict[str, dict] = field(default_factory=dict)
    subscribers: dict[str, dict] = field(default_factory=dict)

    @property
    def app_id(self) -> str:
        return self.merchant.app_id

    @property
    def client_id(self) -> int:
        return self.merchant.id

    def fn(self, route: str, abi: str = "request", service: str | None = None) -> str:
        names = function_builder.function_names(self.app_id, service or self.isp_service, route)
        return names.of(abi)


def make_isp(
    app,
    *,
    mpesa_url: str = NOWHERE,
    router_url: str = NOWHERE,
    daraja_url: str | None = None,
    router_port: int | None = None,
    plans: tuple[dict, ...] = (),
    subscribers: tuple[dict, ...] = (),
    with_router_service: bool = True,
) -> Isp:
    """Create the client, its `subscription` and `router` services (unique names), assign them, store the
    provider settings, and add plans and subscribers."""
    merchant = make_client(app)
    isp = Isp(merchant, unique_name("i"), unique_name("r"))
    with app.app_context(), db.transaction() as conn:
        services.create_service(
            conn,
            {
                "name": isp.isp_service,
                "display_name": "ISP",
                "kind": "subscription",
                "base_url": mpesa_url,
                "routes": ["pay", "status"],
                "timeout_s": 10,
            },
            ACTOR,
        )
        services.assign(conn, isp.app_id, isp.isp_service, ACTOR)
        if with_router_service:
            services.create_service(
                conn,
                {
                    "name": isp.router_service,
                    "display_name": "Router",
                    "kind": "router",
                    "base_url": router_url,
                    "routes": ["activate", "suspend", "kick"],
                    "timeout_s": 5,
                },
                ACTOR,
            )
            services.assign(conn, isp.app_id, isp.router_service, ACTOR)
        if daraja_url:
            clients.set_mpesa_credentials(
                conn,
                isp.app_id,
                {
                    "consumer_key": SIM_KEY,
                    "consumer_secret": SIM_SECRET,
                    "shortcode": SANDBOX_SHORTCODE,
                    "passkey": SANDBOX_PASSKEY,
                    "transaction_type": "CustomerPayBillOnline",
                    "environment": "custom",
                    "base_url": daraja_url,
                },
                ACTOR,
            )
        if router_port:
            clients.set_router_settings(
                conn,
                isp.app_id,
                {
                    "host": "127.0.0.1",
                    "port": router_port,
                    "username": ROUTER_USER,
                    "password": ROUTER_PASSWORD,
                    "tls": False,
                },
                ACTOR,
            )
        for plan in plans:
            isp.plans[plan["code"]] = catalogue.create_plan(conn, isp.app_id, plan, ACTOR)
        for sub in subscribers:
            isp.subscribers[sub["username"]] = catalogue.create_subscriber(conn, isp.app_id, sub, ACTOR)
    return isp


def plan(
    code: str = "DAY", duration: str = "1 day", price: str = "10", profile: str = "10M", service_type: str = "pppoe"
) -> dict:
    return {
        "code": code,
        "name": f"{code} plan",
        "price": price,
        "duration": duration,
        "profile": profile,
        "service_type": service_type,
    }


def subscriber(username: str = "alice", phone: str | None = "254708374149", service_type: str = "pppoe") -> dict:
    return {"username": username, "password": SUBSCRIBER_PASSWORD, "phone": phone, "service_type": service_type}


@pytest.fixture
def isp_factory(app) -> Callable[..., Isp]:
    def build(**kwargs) -> Isp:
        return make_isp(app, **kwargs)

    return build


@pytest.fixture
def isp(app) -> Isp:
    """A SQL-only ISP: a 10-shilling daily plan, a 20-shilling 20M plan, a hotspot plan, and two subscribers."""
    return make_isp(
        app,
        plans=(plan("DAY"), plan("FAST", price="20", profile="20M"), plan("HS", service_type="hotspot")),
        subscribers=(subscriber("alice"), subscriber("bob", phone=None)),
    )


def sql(app, statement: str, **params):
    """Run one statement in its own committed transaction; JSON results come back as Python data."""
    with app.app_context(), db.transaction() as conn:
        result = conn.execute(text(statement), params)
        value = result.scalar() if result.returns_rows else None
    return json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value


def rows(app, statement: str, **params) -> list[dict]:
    with app.app_context(), db.transaction() as conn:
        return [dict(r) for r in conn.execute(text(statement), params).mappings().all()]


def payment(
    app, isp: Isp, username: str, code: str, amount: str = "10", *, state: str = "pending", ref: str | None = None
) -> str:
    """A payment transaction row as begin_payment leaves it (the gateway's own tests cover that path).
    Returns its f010."""
    f010 = unique_name("tx")
    request = {
        "f000": isp.isp_service,
        "f001": code,
        "f002": "pay",
        "f003": isp.app_id,
        "f004": amount,
        "f006": username,
        "f010": f010,
    }
    sql(
        app,
        "INSERT INTO gateway.transactions (client_id, service, route, f010, payload_hash, request, state, "
        "amount, provider_ref, account_ref) VALUES (:c, :s, 'pay', :f, 'h', CAST(:r AS jsonb), :st, :a, :ref, :u)",
        c=isp.client_id,
        s=isp.isp_service,
        f=f010,
        r=json.dumps(request),
        st=state,
        a=amount,
        ref=ref,
        u=username,
    )
    return f010


def invoke(
    app,
    isp: Isp,
    route: str,
    abi: str,
    data_input: dict,
    *,
    unique_id: str = "u1",
    code: int | None = None,
    data: dict | None = None,
    service: str | None = None,
) -> dict:
    """Call a generated function the way the gateway does (gateway.invoke); returns its result object."""
    out = sql(
        app,
        "SELECT gateway.invoke('clientfn', :fn, :abi, :uid, CAST(:inp AS json), :code, CAST(:d AS json))",
        fn=isp.fn(route, abi, service),
        abi=abi,
        uid=unique_id,
        inp=json.dumps(data_input),
        code=code,
        d=None if data is None else json.dumps(data),
    )
    assert out["ok"], out
    return out["result"]


@pytest.fixture(scope="session")
def admin_headers(app) -> dict:
    """One admin token for the session (hashing a password per test would cost most of the run)."""
    username, password = make_admin(app, "admin")
    token = app.test_client().post("/api/v1/admin/auth/token", headers={"Authorization": basic(username, password)})
    return {"Authorization": f"Bearer {token.get_json()['token']}"}


# ---------------------------------------------------------------------------------------------- live stack


@pytest.fixture(scope="session")
def isp_daraja() -> Iterator[RunningSimulator]:
    sim = RunningSimulator(SIM_SETTINGS)
    yield sim
    sim.stop()


@pytest.fixture(scope="session")
def isp_mpesa_adapter(app, database_url) -> Iterator[LiveServer]:
    adapter = create_mpesa_app(
        {
            "DATABASE_URL": database_url,
            "INTERNAL_TOKEN": app.config["INTERNAL_TOKEN"],
            "ENCRYPTION_KEY": app.config["ENCRYPTION_KEY"],
            "DARAJA_RETRY_BACKOFF_S": 0.01,
        }
    )
    server = LiveServer(adapter).start()
    yield server
    server.stop()
    adapter.extensions["mpesa_client"].close()


@pytest.fixture(scope="session")
def isp_router_adapter(app) -> Iterator[LiveServer]:
    server = LiveServer(
        create_router_app({"INTERNAL_TOKEN": app.config["INTERNAL_TOKEN"], "ROUTER_TIMEOUT_S": 2})
    ).start()
    yield server
    server.stop()


@pytest.fixture
def routeros() -> Iterator[RouterOSSimulator]:
    """A fresh RouterOS simulator per test (demo profiles 10M and 20M), so a test may take it down."""
    sim = make_simulator()
    yield sim
    sim.stop()


@pytest.fixture
def live_isp(app, live_gateway, isp_daraja, isp_mpesa_adapter, isp_router_adapter, routeros) -> Isp:
    """An ISP wired to the live stack: a 2-second plan, a 1-hour plan, and subscriber alice (PPPoE)."""
    requests.post(f"{isp_daraja.base_url}/simulator/reset", timeout=5).raise_for_status()
    return make_isp(
        app,
        mpesa_url=isp_mpesa_adapter.url,
        router_url=isp_router_adapter.url,
        daraja_url=isp_daraja.base_url,
        router_port=routeros.port,
        plans=(plan("QUICK", duration="2 seconds"), plan("HOUR", duration="1 hour", profile="20M")),
        subscribers=(subscriber("alice"),),
    )
