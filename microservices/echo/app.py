"""A tiny echo microservice for the walk-through and the tests: answers what it was sent.

Behaviour is chosen by the request's f001 (so merchants can try every path offline):
  "sleep:<s>"   wait s seconds first          "status:<code>"  answer with that HTTP status
  "pending"     answer PENDING, then POST {"status":"completed","reference","amount"} to data.callback_url after 0.2 s
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter

import requests
from flask import Flask, jsonify, request

from config import Config, check_microservice_production
from microservices import http_face


def create_app(settings: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update({"INTERNAL_TOKEN": Config.INTERNAL_TOKEN, **(settings or {})})
    check_microservice_production(app.config)
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    # /calls/<id> is the tests' and the tour's counter of calls received; it reveals nothing else.
    http_face.install(
        app,
        "POST /<route>, GET /calls/<unique_id> and GET /healthz",
        "echo service",
        frozenset({"healthz", "call_count"}),
    )

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @app.get("/calls/<unique_id>")
    def call_count(unique_id: str):
        return jsonify({"unique_id": unique_id, "calls": calls[unique_id]})

    @app.post("/<route>")
    def echo(route: str):
        payload = request.get_json(silent=True) or {}
        data = payload.get("data") or {}
        with lock:
            calls[str(payload.get("unique_id"))] += 1
        mode = str(data.get("f001") or "")
        if mode.startswith("sleep:"):
            time.sleep(float(mode.split(":", 1)[1]))
        if mode.startswith("status:"):
            code = int(mode.split(":", 1)[1])
            return jsonify({"message": f"echo answering {code} as asked"}), code
        if mode == "pending" and data.get("callback_url"):
            threading.Thread(target=_call_back, args=(data["callback_url"], data.get("f004")), daemon=True).start()
            return jsonify({"action": "PENDING", "message": "accepted; will call back", "reference": "echo-ref-1"})
        return jsonify(
            {
                "message": f"echo {route} ok",
                "route": route,
                "echo": {k: v for k, v in data.items() if k not in ("f007", "f008", "callback_url")},
            }
        )

    return app


def _call_back(url: str, amount: str | None) -> None:
    time.sleep(0.2)
    # The gateway applies a success only when it names the reference and the amount of the payment.
    body = {"status": "completed", "reference": "echo-ref-1", "amount": amount, "message": "echo done"}
    # A lost callback is the gateway's to reconcile; an echo service has nothing to retry.
    with contextlib.suppress(requests.RequestException):
        requests.post(url, json=body, timeout=5)


def main() -> None:
    create_app().run(host="127.0.0.1", port=Config.ECHO_SERVICE_PORT, threaded=True)


if __name__ == "__main__":
    main()
