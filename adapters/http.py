"""The microservice HTTP adapter: one pooled session, timeouts, bounded retries for idempotent calls,
a base-URL allow-list and host policy against SSRF, no redirects, masked records. Failures become reply codes,
never exceptions."""

from __future__ import annotations

import functools
import logging
import random
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from adapters import ServiceCall, ServiceReply
from adapters.url_policy import ServiceHostRefused, check_url
from core.masking import dump_masked, mask_text

log = logging.getLogger(__name__)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
ALLOWED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
BLOCKED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "x-internal-token"})


class ServiceUrlError(ValueError):
    """The call spec points outside the service's registered base URL."""


@functools.lru_cache(maxsize=1024)
def resolve_url(base_url: str, serviceurl: str) -> str:
    """A relative serviceurl is joined to base_url; an absolute one must stay under base_url. A pure function of
    its two strings, so each pair is worked out once (a refusal raises and is not kept)."""
    base = base_url.rstrip("/") + "/"
    target = urljoin(base, serviceurl.lstrip("/")) if not urlsplit(serviceurl).scheme else serviceurl
    b, t = urlsplit(base), urlsplit(target)
    same_origin = (b.scheme, b.hostname, b.port) == (t.scheme, t.hostname, t.port) and not t.username
    if not same_origin or not (t.path + "/").startswith(b.path) or ".." in t.path.split("/"):
        raise ServiceUrlError(f"serviceurl {serviceurl[:200]!r} is outside the service's base URL {base_url}")
    return target


def make_session(pool_size: int = 20) -> requests.Session:
    """One pooled session per process; retries are ours (bounded, idempotent only), not urllib3's."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False  # never route internal calls through an environment proxy
    return session


class HttpAdapter:
    """Calls a microservice and reports the outcome as a ServiceReply."""

    def __init__(
        self,
        session: requests.Session,
        internal_token: str,
        retries: int = 1,
        host_allowlist: list[str] | None = None,
    ) -> None:
        self.session = session
        self.internal_token = internal_token
        self.retries = retries
        self.host_allowlist = host_allowlist or []

    def call(self, call: ServiceCall) -> ServiceReply:
        method = call.method.upper()
        headers = {k: v for k, v in call.headers.items() if k.lower() not in BLOCKED_HEADERS}
        headers.update({"X-Internal-Token": self.internal_token, "Idempotency-Key": call.idempotency_key})
        request_body = dump_masked(call.payload, call.secrets)
        try:
            # Checked again at call time: a host name may point somewhere else than when the service was saved.
            check_url(call.url, self.host_allowlist)
        except ServiceHostRefused as exc:
            error = mask_text(str(exc), call.secrets)
            log.warning("service call refused", extra={"url": call.url, "error": error})
            return ServiceReply(
                code=502, data={"error": error, "message": error}, latency_ms=0, error=error, request_body=request_body
            )
        tries = 1 + (self.retries if method in IDEMPOTENT_METHODS else 0)
        started = time.monotonic()
        reply = None
        for attempt in range(tries):
            reply = self._once(method, call, headers, request_body, started)
            if reply.code not in (502, 503, 504) or attempt + 1 == tries:
                break
            time.sleep(min(2.0, 0.2 * 2**attempt) * (0.5 + random.random()))
        return reply

    def _once(self, method: str, call: ServiceCall, headers: dict, request_body: str, started: float) -> ServiceReply:
        # Never follow redirects: the internal token and any provider credentials go to the service's own host
        # only; a 3xx is handed to the response function like any other code.
        kwargs: dict[str, Any] = {
            "headers": headers,
            "timeout": (min(3.0, call.timeout_s), call.timeout_s),
            "allow_redirects": False,
        }
        if method in ("GET", "DELETE"):
            kwargs["params"] = call.payload if isinstance(call.payload, dict) else None
        else:
            kwargs["json"] = call.payload
        try:
            resp = self.session.request(method, call.url, **kwargs)
        except requests.Timeout as exc:
            return self._failure(504, f"timed out after {call.timeout_s:g}s", exc, call, request_body, started)
        except requests.RequestException as exc:
            return self._failure(502, "unreachable", exc, call, request_body, started)
        latency = int((time.monotonic() - started) * 1000)
        try:
            data = resp.json() if resp.content else {}
        except ValueError:
            data = {"message": f"service answered HTTP {resp.status_code} with a non-JSON body"}
        return ServiceReply(
            code=resp.status_code,
            data=data,
            latency_ms=latency,
            request_body=request_body,
            response_body=mask_text(resp.text, call.secrets),
        )

    def _failure(
        self, code: int, what: str, exc: Exception, call: ServiceCall, request_body: str, started: float
    ) -> ServiceReply:
        error = mask_text(f"{call.url}: {what} ({type(exc).__name__})", call.secrets)
        log.warning("service call failed", extra={"url": call.url, "code": code, "error": error})
        return ServiceReply(
            code=code,
            data={"error": what, "message": f"service {what}"},
            latency_ms=int((time.monotonic() - started) * 1000),
            error=error,
            request_body=request_body,
        )
