"""ISP billing in the portal, per client: plans, subscribers (search, page, create, edit, suspend, resume, remove),
one subscriber's story, subscriptions (running, ending soon, expired) and the router (settings, connection test,
job queue with retry, drift reports, reconcile now). Viewers read; admins write. A client's own users reach their
client's screens: every role reads, org_admin and manager operate (plans, subscribers, jobs), and only org_admin
changes the router login ("credentials"). Every write calls the same billing functions as the admin API, so
validation, audit and router jobs are the same; each takes the app_id of the address, which the portal guard has
already held to the tenant's own.

Forms are plain HTML posting to these views: the billing layer checks every field and names it in its message
(shown as a flash), and the portal guard checks the CSRF token of every POST.
"""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for

from admin import clients
from billing import catalogue, jobs, queue, subscribers
from core import db
from core.errors import GatewayError
from routes.portal import access
from routes.portal.forms import RouterForm, attach_error, router_data

bp = access.portal_blueprint("portal_billing", __name__, "/portal/billing")
PER_PAGE = 25
PLAN_FIELDS = ("code", "name", "price", "duration", "profile", "service_type")


def _back(endpoint: str, app_id: str, message: str, category: str = "success", **args: str) -> Response:
    flash(message, category)
    return redirect(url_for(endpoint, app_id=app_id, **args))


def _form(*keys: str) -> dict:
    return {k: request.form.get(k, "").strip() for k in keys if k in request.form}


@bp.get("")
@access.requires("read", tenants=True)
def index() -> Response | str:
    """The clients that run ISP billing (a client's own user: straight to their client's screens)."""
    if access.scope().is_tenant:
        return redirect(url_for("portal_billing.subscriber_list", app_id=access.scope().app_id))
    with db.transaction() as conn:
        isps = queue.isp_clients(conn)
    return render_template("portal/billing/index.html", isps=isps)


@bp.get("/<app_id>")
@access.requires("read", tenants=True)
def overview(app_id: str) -> Response:
    return redirect(url_for("portal_billing.subscriber_list", app_id=app_id))


# ---------------------------------------------------------------------------------------------- plans


@bp.get("/<app_id>/plans")
@access.requires("read", tenants=True)
def plans(app_id: str) -> str:
    with db.transaction() as conn:
        items = catalogue.list_plans(conn, app_id)
    return render_template("portal/billing/plans.html", app_id=app_id, plans=items, tab="plans")


@bp.post("/<app_id>/plans")
@access.requires("operate", tenants=True)
def create_plan(app_id: str) -> Response:
    try:
        with db.transaction() as conn:
            plan = catalogue.create_plan(conn, app_id, _form(*PLAN_FIELDS), access.actor())
    except GatewayError as exc:
        return _back("portal_billing.plans", app_id, f"Plan not created: {exc.message}", "danger")
    return _back("portal_billing.plans", app_id, f"Plan {plan['code']} created.")


@bp.post("/<app_id>/plans/<code>")
@access.requires("operate", tenants=True)
def update_plan(app_id: str, code: str) -> Response:
    """Edit name, price, duration, profile; or (de)activate with active=0|1 alone."""
    changes: dict = _form("name", "price", "duration", "profile")
    if "active" in request.form:
        changes = {"active": request.form["active"] == "1"}
    try:
        with db.transaction() as conn:
            plan = catalogue.update_plan(conn, app_id, code, changes, access.actor())
    except GatewayError as exc:
        return _back("portal_billing.plans", app_id, f"Plan {code} not changed: {exc.message}", "danger")
    extra = f" New profile sent to {plan['reprofiled']} running subscriber(s)." if plan["reprofiled"] else ""
    return _back("portal_billing.plans", app_id, f"Plan {code} saved.{extra}")


# ---------------------------------------------------------------------------------------------- subscribers


@bp.get("/<app_id>/subscribers")
@access.requires("read", tenants=True)
def subscriber_list(app_id: str) -> str:
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    q = (request.args.get("q") or "").strip()
    with db.transaction() as conn:
        result = subscribers.search(conn, app_id, q, page, PER_PAGE)
    return render_template("portal/billing/subscribers.html", app_id=app_id, result=result, q=q, tab="subscribers")


@bp.post("/<app_id>/subscribers")
@access.requires("operate", tenants=True)
def create_subscriber(app_id: str) -> Response:
    data = {**_form("username", "phone", "service_type"), "password": request.form.get("password", "")}
    try:
        with db.transaction() as conn:
            created = catalogue.create_subscriber(conn, app_id, data, access.actor())
    except GatewayError as exc:
        return _back("portal_billing.subscriber_list", app_id, f"Subscriber not created: {exc.message}", "danger")
    return _back("portal_billing.subscriber", app_id, f"Subscriber {created['username']} created.",
                 username=created["username"])  # fmt: skip


@bp.get("/<app_id>/subscribers/<username>")
@access.requires("read", tenants=True)
def subscriber(app_id: str, username: str, router_check: dict | None = None) -> str:
    with db.transaction() as conn:
        detail = subscribers.get(conn, app_id, username)
    return render_template("portal/billing/subscriber.html", app_id=app_id, s=detail, tab="subscribers",
                           router_check=router_check)  # fmt: skip


@bp.post("/<app_id>/subscribers/<username>/router")
@access.requires("operate", tenants=True)
def check_on_router(app_id: str, username: str) -> str:
    """Ask the router now how it holds this account (enabled, profile)."""
    return subscriber(app_id, username, queue.router_account(app_id, username))


@bp.post("/<app_id>/subscribers/<username>/<action>")
@access.requires("operate", tenants=True)
def subscriber_action(app_id: str, username: str, action: str) -> Response:
    """edit (phone, password) | suspend (reason) | resume | remove."""
    done = {"edit": "saved", "suspend": "suspended", "resume": "resumed", "remove": "removed"}
    try:
        with db.transaction() as conn:
            if action == "edit":
                data = {k: v for k, v in request.form.items() if k in ("phone", "password") and v != ""}
                subscribers.update(conn, app_id, username, data, access.actor())
            elif action == "suspend":
                subscribers.suspend(conn, app_id, username, _form("reason"), access.actor())
            elif action == "resume":
                subscribers.resume(conn, app_id, username, access.actor())
            elif action == "remove":
                subscribers.remove(conn, app_id, username, access.actor())
            else:
                return _back("portal_billing.subscriber", app_id, f"Unknown action {action}.", "danger",
                             username=username)  # fmt: skip
    except GatewayError as exc:
        return _back("portal_billing.subscriber", app_id, f"Not {done.get(action, 'done')}: {exc.message}", "danger",
                     username=username)  # fmt: skip
    return _back("portal_billing.subscriber", app_id, f"Subscriber {username} {done[action]}.", username=username)


# ---------------------------------------------------------------------------------------------- subscriptions


@bp.get("/<app_id>/subscriptions")
@access.requires("read", tenants=True)
def subscriptions(app_id: str) -> str:
    status = request.args.get("status") or "active"
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    with db.transaction() as conn:
        ending = queue.expiring(conn, app_id) if status == "active" else []
        result = catalogue.list_subscriptions(conn, app_id, {"status": status}, page, PER_PAGE)
    return render_template("portal/billing/subscriptions.html", app_id=app_id, result=result, ending=ending,
                           status=status, tab="subscriptions")  # fmt: skip


# ---------------------------------------------------------------------------------------------- router


def _router_page(app_id: str, form: RouterForm | None = None, test: dict | None = None, status: int = 200):
    state = request.args.get("state") or None
    with db.transaction() as conn:
        client = clients.get_client(conn, app_id)
        providers = clients.provider_summaries(conn, client["id"])
        jobs_list = queue.router_jobs(conn, app_id, state)
        drift = catalogue.list_drift_reports(conn, app_id, 50)
    return render_template("portal/billing/router.html", app_id=app_id, providers=providers, jobs=jobs_list,
                           drift=drift, state=state, test=test, form=form or _router_form(providers),
                           tab="router"), status  # fmt: skip


def _router_form(providers: dict) -> RouterForm:
    # The stored login minus its password (write-only: never filled back).
    router = providers.get("router") or {}
    return RouterForm(formdata=None, data={k: router.get(k) for k in ("host", "port", "username", "tls")
                                           if router.get(k) is not None})  # fmt: skip


@bp.get("/<app_id>/router")
@access.requires("read", tenants=True)
def router(app_id: str):
    return _router_page(app_id)


@bp.post("/<app_id>/router/settings")
@access.requires("credentials", tenants=True)
def router_settings(app_id: str):
    form = RouterForm()
    if form.validate_on_submit():
        try:
            with db.transaction() as conn:
                clients.set_router_settings(conn, app_id, router_data(form), access.actor())
        except GatewayError as exc:
            attach_error(form, exc.message)
        else:
            return _back("portal_billing.router", app_id, "Router settings saved.")
    return _router_page(app_id, form, status=400)


@bp.post("/<app_id>/router/test")
@access.requires("operate", tenants=True)
def router_test(app_id: str):
    return _router_page(app_id, test=queue.test_connection(app_id))


@bp.post("/<app_id>/router/jobs/<int:outbox_id>/retry")
@access.requires("operate", tenants=True)
def retry_job(app_id: str, outbox_id: int) -> Response:
    try:
        with db.transaction() as conn:
            queue.retry_job(conn, app_id, outbox_id, access.actor())
    except GatewayError as exc:
        return _back("portal_billing.router", app_id, exc.message, "danger")
    return _back("portal_billing.router", app_id, f"Job {outbox_id} queued again; the worker runs it next.")


@bp.post("/<app_id>/router/reconcile")
@access.requires("operate", tenants=True)
def reconcile(app_id: str) -> Response:
    """Compare the router with billing now; repairs are queued for the worker."""
    result = jobs.run_drift(0, app_id=app_id, limit=1)
    if not result["routers"]:
        return _back("portal_billing.router", app_id, "Nothing to check: the client needs subscribers, router "
                     "settings and an assigned router service.", "warning")  # fmt: skip
    category = "warning" if result["errors"] else "success"
    return _back("portal_billing.router", app_id, f"Router checked: {result['differences']} difference(s) found, "
                 f"{result['errors']} error(s).", category)  # fmt: skip
