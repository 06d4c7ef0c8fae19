"""The benchmark harness measures what it says: the sink answers at once on kept-alive connections, wrk sends
a fresh f010 per request with the right headers, pgbench runs the real function pair, the bare pipeline calls
the real functions and service, and the ratios divide the right rows."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import sys
import threading

import pytest
from flask import Flask, request
from sqlalchemy import text

from bench import bare_app, load
from bench.run import ratios, records_bound
from core import db
from tests.conftest import ROOT, _free_port
from tests.factories import echo_setup
from tests.servers import LiveServer


def _function_pair(app, merchant, service) -> tuple[str, str]:
    with app.app_context(), db.transaction() as conn:
        row = conn.execute(
            text(
                "SELECT fn_schema || '.' || request_fn, fn_schema || '.' || response_fn FROM gateway.function_registry "
                "WHERE client_id = :c AND service_id = (SELECT id FROM gateway.services WHERE name = :s)"
            ),
            {"c": merchant.id, "s": service["name"]},
        ).first()
    return row[0], row[1]


@pytest.fixture
def sink():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.sink", str(port)], cwd=ROOT)
    try:
        from bench.stack import wait_tcp

        wait_tcp(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_sink_answers_every_request_on_one_kept_alive_connection(sink):
    conn = http.client.HTTPConnection("127.0.0.1", sink, timeout=5)
    answers = []
    for n in range(3):
        conn.request("POST", "/pay", body=json.dumps({"n": n}), headers={"Content-Type": "application/json"})
        if n == 0:
            first_socket = conn.sock
        resp = conn.getresponse()
        answers.append((resp.status, json.loads(resp.read())))
        assert conn.sock is first_socket  # no reconnect: the sink keeps the connection open
    conn.close()
    assert answers == [(200, {"message": "sink ok"})] * 3


WRK_LINE = (
    'BENCH_JSON {"requests":2000,"duration_us":10000000,"errors":{"connect":0,"read":0,"write":0,"status":3,'
    '"timeout":1},"latency_us":{"p50":7300,"p90":9000,"p99":12000,"mean":7500.0,"max":30000}}'
)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (f"Running 10s test\n{WRK_LINE}\n", load.Figures(200.0, 7.3, 12.0, 2000, 4)),
        ("Running 10s test\nno summary\n", None),
    ],
)
def test_parse_wrk(output, expected):
    if expected is None:
        with pytest.raises(RuntimeError, match="no BENCH_JSON"):
            load.parse_wrk(output)
    else:
        assert load.parse_wrk(output) == expected


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/install_wrk.sh)")
def test_wrk_sends_a_fresh_f010_per_request_with_the_headers():
    seen: list[dict] = []
    lock = threading.Lock()
    receiver = Flask("receiver")

    @receiver.post("/api/v1/payment/process")
    def pay():
        with lock:
            seen.append(
                {
                    "body": request.get_json(),
                    "auth": request.headers.get("Authorization"),
                    "app_id": request.headers.get("App-ID"),
                }
            )
        return {"status": "200"}

    server = LiveServer(receiver).start()
    try:
        body = json.dumps({"f000": "svc", "f002": "pay", "f003": "shop", "f010": "__F010__"})
        figures = load.run_wrk(server.url, "/api/v1/payment/process", body, 4, 1, "t1", "Basic abc", "shop")
    finally:
        server.stop()
    f010s = [s["body"]["f010"] for s in seen]
    assert figures.requests > 10 and figures.errors == 0
    assert len(seen) >= figures.requests
    assert len(set(f010s)) == len(f010s)  # every request a new payment
    assert all(f.startswith("t1-") and "__F010__" not in f for f in f010s)
    assert {(s["auth"], s["app_id"]) for s in seen} == {("Basic abc", "shop")}
    assert {s["body"]["f000"] for s in seen} == {"svc"}


def test_pgbench_runs_the_real_function_pair(app, echo_service, database_url):
    merchant, service = echo_setup(app, echo_service.url)
    request_fn, response_fn = _function_pair(app, merchant, service)
    body = merchant.fields(service["name"], "pay", f004="100")
    script = load.pair_script(request_fn, response_fn, body, {"message": "sink ok"})
    figures = load.run_pgbench(database_url, script, connections=2, seconds=1)
    assert figures.requests > 10 and figures.errors == 0 and figures.rate > 0
    with pytest.raises(RuntimeError, match="pgbench failed"):  # a wrong function is an error, not a fast row
        load.run_pgbench(database_url, script.replace(request_fn, "clientfn.no_such_fn"), 1, 1)


def test_bare_pipeline_calls_the_functions_and_the_service(app, echo_service, database_url, monkeypatch):
    merchant, service = echo_setup(app, echo_service.url)
    request_fn, response_fn = _function_pair(app, merchant, service)
    monkeypatch.setenv("BARE_DATABASE_URL", database_url)
    monkeypatch.setenv("BARE_REQUEST_FN", request_fn)
    monkeypatch.setenv("BARE_RESPONSE_FN", response_fn)
    monkeypatch.setenv("BARE_SERVICE_URL", echo_service.url)
    monkeypatch.setenv("INTERNAL_TOKEN", app.config["INTERNAL_TOKEN"])
    bare = bare_app.create_app()
    body = merchant.fields(service["name"], "pay", f004="100")
    resp = bare.test_client().post("/bare", json=body)
    assert resp.status_code == 200, resp.get_json()
    result = resp.get_json()
    assert result["action"] == "OUTPUT" and result["data"]["echo"]["f010"] == body["f010"]
    monkeypatch.setenv("BARE_REQUEST_FN", "clientfn.x; DROP TABLE gateway.clients")
    with pytest.raises(RuntimeError, match="BARE_REQUEST_FN"):
        bare_app.create_app()


def test_ratios_divide_each_gateway_row_by_the_ceilings_at_its_concurrency():
    def row(name, kind, c, rate, p50):
        return {"row": name, "kind": kind, "concurrency": c, "rate": rate, "p50_ms": p50}

    rows = [
        row("gateway basic", "basic", 8, 200.0, 35.0),
        row("(b) bare pipeline", "bare", 8, 1000.0, 7.0),
        row("(a) pgbench pair", "pgbench", 8, 20000.0, 0.4),
        row("gateway basic", "basic", 32, 300.0, 100.0),
        row("(b) bare pipeline", "bare", 32, 600.0, 50.0),
        row("(a) pgbench pair", "pgbench", 32, 10000.0, 3.0),
        {**row("gateway basic", "basic", 8, 190.0, 36.0), "data": True},
    ]
    assert ratios(rows) == [
        {
            "row": "gateway basic",
            "concurrency": 8,
            "vs_bare": 0.2,
            "vs_pgbench": 0.01,
            "added_p50_ms": 28.0,
            "cpu_vs_bare": None,
        },
        {
            "row": "gateway basic",
            "concurrency": 32,
            "vs_bare": 0.5,
            "vs_pgbench": 0.03,
            "added_p50_ms": 50.0,
            "cpu_vs_bare": None,
        },
    ]


def test_the_cpu_ratio_divides_the_ceilings_cpu_per_request_by_the_gateways():
    def row(name, kind, rate, total):
        cpu = {"postgres": total / 2, "app": total / 2, "total": total}
        return {"row": name, "kind": kind, "concurrency": 8, "rate": rate, "p50_ms": 1.0, "cpu_ms": cpu}

    rows = [row("(b) bare pipeline", "bare", 900.0, 2.0), row("gateway basic", "basic", 400.0, 4.0)]
    assert ratios(rows)[0]["cpu_vs_bare"] == 0.5
    rows[1]["cpu_ms"] = {}  # a row measured without the meter has no CPU ratio, not a zero
    assert ratios(rows)[0]["cpu_vs_bare"] is None


def test_the_records_bound_sets_the_records_against_what_the_target_allows():
    def row(kind, postgres, total, **extra):
        cpu = {"postgres": postgres, "total": total}
        return {"row": kind, "kind": kind, "concurrency": 8, "rate": 1.0, "p50_ms": 1.0, "cpu_ms": cpu, **extra}

    rows = [
        row("pgbench", 0.1, 0.15),
        row("records", 1.1, 1.15),
        row("bare", 0.3, 2.1),
        row("basic", 1.6, 3.6),
        row("records", 0.5, 0.55, split=True),  # split and full-db rows never stand in for the unsplit ones
        row("basic", 9.0, 9.0, data=True),
    ]
    [bound] = records_bound(rows)
    assert bound == {
        "concurrency": 8,
        "bare_ms": 2.1,
        "records_pg_ms": 1.0,  # (r) minus (a): the records, without the functions both rows call
        "allowed_above_bare_ms": 0.9,  # 2.1 / 0.7 - 2.1
        "gateway_above_bare_ms": 1.5,
        "bound": 0.677,  # 2.1 / (2.1 + 1.0)
    }
    assert records_bound(rows[1:]) == []  # without (a), no bound


def test_split_rows_are_divided_by_the_ceilings_measured_split():
    def row(name, kind, rate, p50, **extra):
        return {"row": name, "kind": kind, "concurrency": 8, "rate": rate, "p50_ms": p50, **extra}

    rows = [
        row("(b) bare pipeline", "bare", 1000.0, 7.0),
        row("(a) pgbench pair", "pgbench", 10000.0, 0.4),
        row("gateway basic", "basic", 500.0, 15.0),
        row("(a) pgbench pair", "pgbench", 5000.0, 0.8, split=True),
        row("(b) bare pipeline", "bare", 500.0, 14.0, split=True),
        row("gateway basic", "basic", 400.0, 18.0, split=True),
    ]
    assert ratios(rows) == [
        {
            "row": "gateway basic",
            "concurrency": 8,
            "vs_bare": 0.5,
            "vs_pgbench": 0.05,
            "added_p50_ms": 8.0,
            "cpu_vs_bare": None,
        },
        {
            "row": "gateway basic [split]",
            "concurrency": 8,
            "vs_bare": 0.8,
            "vs_pgbench": 0.08,
            "added_p50_ms": 4.0,
            "cpu_vs_bare": None,
        },
    ]


def test_full_db_rows_are_divided_by_their_unsplit_empty_twins():
    from bench.run import full_vs_empty

    def row(rate, **extra):
        return {"row": "gateway basic", "kind": "basic", "concurrency": 8, "rate": rate, **extra}

    rows = [row(400.0), row(360.0, data=True), row(300.0, split=True)]
    assert full_vs_empty(rows) == [{"row": "gateway basic", "concurrency": 8, "ratio": 0.9}]


def test_paired_slices_give_each_pair_its_ratio_and_the_median():
    from bench.run import paired_summary

    summary = paired_summary("gateway basic", 8, 4, [(1000.0, 500.0), (500.0, 300.0), (800.0, 400.0)], split=True)
    assert summary["row"] == "gateway basic [split]"
    assert summary["ratios"] == [0.5, 0.6, 0.5]
    assert (summary["median"], summary["low"], summary["high"]) == (0.5, 0.5, 0.6)
    assert paired_summary("gateway basic", 8, 4, [(0.0, 10.0)], split=False)["median"] is None


def test_report_renders_a_result_as_markdown_tables():
    from bench.report import render

    result = {
        "when": "2026-11-30T16:00:00+00:00",
        "machine": {"cpus": 2, "load_start": [1.0, 0.5, 0.2]},
        "settings": {
            "gunicorn": {"worker_class": "gthread", "workers": 2, "threads": 4},
            "seconds_per_row": 10,
            "rate_limit": "1000000/minute",
            "postgres": "fsync off",
        },
        "rows": [
            {
                "row": "gateway stk",
                "kind": "stk",
                "concurrency": 8,
                "rate": 20.0,
                "p50_ms": 300.0,
                "p99_ms": 900.0,
                "errors": 0,
                "load_1m": 1.5,
                "settled": {"pushed": 200, "completed": 199, "not_final": 1, "settle_s": 4.0},
            },
            {
                "row": "(a) pgbench pair",
                "kind": "pgbench",
                "concurrency": 8,
                "rate": 18825.0,
                "p50_ms": 0.4,
                "p99_ms": 1.0,
                "errors": 0,
            },
        ],
        "ratios": [
            {"row": "gateway stk", "concurrency": 8, "vs_bare": 0.02, "vs_pgbench": 0.001, "added_p50_ms": 290.0}
        ],
        "round_trips": {"basic": {"round_trips": 14, "statements": [{"statement": "BEGIN", "per_request": 3}]}},
    }
    text_out = render(result)
    assert "| (a) pgbench pair | 8 | 18,825 pairs/s | 0.4 | 1.0 | 0 |  |" in text_out
    assert "| STK push | 8 | 20.0 | 200 | 199 | 1 | 4.0 s |" in text_out
    assert "| gateway stk | 8 | 0.02 | 0.001 | 290.0 ms |" in text_out
    assert "| basic | 14 | 3× `BEGIN` |" in text_out
    assert "alternating slices" not in text_out  # no paired slices in this result
    assert "CPU ms per request" not in text_out  # nor CPU figures
    result["rows"][1]["cpu_ms"] = {"postgres": 0.05, "load tool": 0.02, "total": 0.07}
    assert "| (a) pgbench pair | 8 | 0.05 | 0.00 | 0.00 | 0.00 | 0.02 | 0.07 |" in render(result)
    result["paired"] = [
        {
            "row": "gateway basic",
            "concurrency": 8,
            "slice_s": 4,
            "ratios": [0.5, 0.6],
            "median": 0.55,
            "low": 0.5,
            "high": 0.6,
        }
    ]
    assert "| gateway basic | 8 | 0.55 | 0.50–0.60 | 2 × 4 s |" in render(result)
    assert "best ratio with the records alone" not in render(result)
    bound = {"concurrency": 8, "bare_ms": 2.1, "records_pg_ms": 1.0, "allowed_above_bare_ms": 0.9}
    result["records_bound"] = [{**bound, "gateway_above_bare_ms": 1.5, "bound": 0.677}]
    assert "| 8 | 2.10 ms | 1.00 ms | 0.90 ms | 1.50 ms | 0.68 |" in render(result)


def test_statements_of_deferred_triggers_at_commit_are_no_round_trips():
    from bench.round_trips import budget

    statements = [
        {"statement": "INSERT INTO gateway.transaction_stats_delta (hour, …", "per_request": 3},
        {"statement": "SELECT gateway.begin_request(CAST($1 AS jsonb), …", "per_request": 1},
        {"statement": "SELECT gateway.finish_payment($1, $2, …", "per_request": 1},
    ]
    result = budget(20, statements)
    assert result["round_trips"] == 2
    assert [s["per_request"] for s in result["at_commit"]] == [3]


def test_profile_categories_read_class_qualified_frames(tmp_path):
    from bench import profile

    raw = tmp_path / "raw.txt"
    raw.write_text(
        "_worker (concurrent/futures/thread.py:81) 5\n"
        "ThreadWorker.handle_request (gunicorn/workers/gthread.py:333);"
        "DefaultDialect.do_execute (sqlalchemy/engine/default.py:951) 3\n"
        "ThreadWorker.handle_request (gunicorn/workers/gthread.py:333);HttpAdapter.call (adapters/http.py:84);"
        "HTTPConnection.send (http/client.py:1009) 2\n"
    )
    summary = profile.summarise(raw)
    assert summary["idle_samples"] == 5
    assert summary["busy"] == {"database: statements (incl. BEGIN)": 0.6, "HTTP call to the microservice": 0.4}
