"""`make bench`: the gateway under load beside its two ceilings, at concurrency 8 and 32, in one run.

Rows (same load tool, same gunicorn.conf.py worker settings, a fresh f010 per request):
  gateway  POST /api/v1/payment/process, Basic + App-ID      → http service → loopback sink
  gateway  the same with a Bearer token
  gateway  POST /api/v1/payment/status (Basic + App-ID)
  gateway  STK push → M-Pesa adapter → Daraja simulator; callbacks (and their confirming queries) must settle
  (b)      bare pipeline: request function, the same HTTP call, response function, nothing else (gunicorn)
  (a)      pgbench over the same request + response function pair
  (r)      pgbench over the records one payment writes, and nothing else (bench/records.sql)
With --split, all of them again with PostgreSQL on CPUs of its own (bench/topology.py).
Prints req/s, p50, p99 per row, the ratios gateway/(b) and gateway/(a), and the records against the target
(records_bound); writes bench/results/latest.json.

    .venv/bin/python -m bench.run [--seconds 10] [--with-data] [--split] [--portal] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import requests

from bench import load, profile, round_trips, seed, topology
from bench.cpu import COLUMNS as CPU_COLUMNS
from bench.cpu import CpuMeter
from bench.report import PAIR_KINDS, label
from bench.stack import BENCH_RATE_LIMIT, ROOT, Stack, gunicorn_settings
from bench.topology import SPLIT_TAG

RESULTS = ROOT / "bench" / "results"
CONCURRENCY = (8, 32)
STK_PHONE = "254708374149"  # the simulator's success number
FINAL = {"completed", "failed", "timed_out"}
RECORDS_RATE_LIMIT = 1_000_000  # per minute, as BENCH_RATE_LIMIT: row (r) counts its hits but is never refused


def _bodies(m: seed.Merchant, status_f010: str) -> dict[str, dict]:
    pay = {"f000": seed.HTTP_SERVICE, "f002": "pay", "f003": m.app_id, "f004": "100", "f010": "__F010__"}
    stk = {
        "f000": seed.MPESA_SERVICE,
        "f002": "stkpush",
        "f003": m.app_id,
        "f004": "10",
        "f005": STK_PHONE,
        "f006": "INV1",
        "f010": "__F010__",
    }
    return {
        "basic": pay,
        "bearer": pay,
        "status": {"f003": m.app_id, "f010": status_f010},
        "stk": stk,
        "bare": pay,
    }


def _first_payment(url: str, m: seed.Merchant) -> str:
    """One request before the load: proves the path works and gives the status rows an f010 to look up."""
    f010 = "bench-first-" + secrets.token_hex(4)
    body = {"f000": seed.HTTP_SERVICE, "f002": "pay", "f003": m.app_id, "f004": "100", "f010": f010}
    resp = requests.post(
        f"{url}/api/v1/payment/process", json=body, headers={"Authorization": m.basic, "App-ID": m.app_id}, timeout=10
    )
    if resp.status_code != 200:
        raise RuntimeError(f"the first payment failed: HTTP {resp.status_code} {resp.text[:300]}")
    return f010


def _bearer(url: str, m: seed.Merchant) -> str:
    resp = requests.post(f"{url}/api/v1/auth/token", headers={"Authorization": m.basic, "App-ID": m.app_id}, timeout=10)
    resp.raise_for_status()
    return "Bearer " + resp.json()["token"]


def _settle(database_url: str, prefix: str, timeout_s: float) -> dict:
    """Wait until every STK push of a row reached a final state (callback applied, query confirmed)."""
    started = time.monotonic()
    while True:
        counts = seed.states(database_url, prefix)
        open_rows = sum(n for state, n in counts.items() if state not in FINAL)
        if not open_rows or time.monotonic() - started > timeout_s:
            return {
                "pushed": sum(counts.values()),
                "completed": counts.get("completed", 0),
                "not_final": open_rows,
                "states": counts,
                "settle_s": round(time.monotonic() - started, 1),
            }
        time.sleep(0.5)


class Bench:
    """One run: the stack, the merchant, and the rows measured so far."""

    def __init__(self, stack: Stack, merchant: seed.Merchant, args: argparse.Namespace, run_id: str) -> None:
        self.stack, self.m, self.args, self.run_id = stack, merchant, args, run_id
        self.split_described: str | None = None  # set when the split rows run
        self.paired_results: list[dict] = []
        self.bodies = _bodies(merchant, _first_payment(stack.urls["gateway"], merchant))
        self.auth = {
            "basic": (merchant.basic, merchant.app_id),
            "bearer": (_bearer(stack.urls["gateway"], merchant), ""),
            "status": (merchant.basic, merchant.app_id),
            "stk": (merchant.basic, merchant.app_id),
        }
        self.paths = {
            "basic": "/api/v1/payment/process",
            "bearer": "/api/v1/payment/process",
            "status": "/api/v1/payment/status",
            "stk": "/api/v1/payment/process",
        }

    def gateway_row(self, kind: str, c: int, tag: str = "") -> dict:
        prefix = f"{kind}{c}{tag}-{self.run_id}"
        auth, app_id = self.auth[kind]
        profiler = raw = None
        if self.args.profile and kind == "basic" and c == CONCURRENCY[0] and not tag:
            raw = RESULTS / "profile-basic-c8.txt"
            pid = self.stack.gateway_worker_pids()[0]
            profiler = profile.start(pid, self.args.seconds, raw)
            if profiler is None:
                print("  no profile: py-spy not found (pip install py-spy, or set PYSPY=/path/to/py-spy)")
        with CpuMeter(self.stack.cpu_groups("gateway")) as cpu:
            figures = load.run_wrk(
                self.stack.urls["gateway"],
                self.paths[kind],
                json.dumps(self.bodies[kind]),
                c,
                self.args.seconds,
                prefix,
                auth,
                app_id,
            )
        row = _measured(f"gateway {kind}", kind, c, figures, cpu)
        if kind == "stk":
            row["settled"] = _settle(self.stack.database_url, prefix, self.args.settle_timeout)
        if profiler is not None and raw is not None:
            profiler.wait(self.args.seconds + 30)
            if raw.exists():
                row["profile"] = profile.summarise(raw)
        return row

    def round_trips(self) -> dict:
        """Statements (= round trips) per request of each synchronous kind, from pg_stat_statements."""
        out = {}
        for kind in ("basic", "bearer", "status"):
            auth, app_id = self.auth[kind]
            headers = {"Authorization": auth, **({"App-ID": app_id} if app_id else {})}
            out[kind] = round_trips.count(
                self.stack.database_url,
                self.stack.urls["gateway"],
                self.paths[kind],
                self.bodies[kind],
                headers,
                f"rt{kind}-{self.run_id}-",
            )
        return out

    def basic_slice(self, c: int, tag: str) -> float:
        """One short Basic slice (--pair-seconds) against this bench's gateway: its req/s."""
        auth, app_id = self.auth["basic"]
        body = json.dumps(self.bodies["basic"])
        prefix = f"p{tag}{c}-{self.run_id}-"
        return load.run_wrk(
            self.stack.urls["gateway"], self.paths["basic"], body, c, self.args.pair_seconds, prefix, auth, app_id
        ).rate

    def paired(self, c: int, split: bool = False) -> dict:
        """(b) and the gateway's Basic row in alternating short slices: a neighbour noise has not had time to
        change, so the ratio of each pair is the gateway's alone; their median is the figure to quote."""
        rates: list[tuple[float, float]] = []
        tag = "s" if split else ""
        body = json.dumps(self.bodies["bare"])
        for i in range(self.args.pairs):
            prefix = f"pb{c}{tag}{i}-{self.run_id}-"
            bare = load.run_wrk(self.stack.urls["bare"], "/bare", body, c, self.args.pair_seconds, prefix).rate
            rates.append((bare, self.basic_slice(c, f"g{tag}{i}")))
        return paired_summary("gateway basic", c, self.args.pair_seconds, rates, split)

    def paired_full(self, full: Bench, c: int) -> dict:
        """This (empty-db) gateway and the full-db one in alternating Basic slices: full/empty of each pair."""
        rates = [(self.basic_slice(c, f"e{i}"), full.basic_slice(c, f"f{i}")) for i in range(self.args.pairs)]
        return paired_summary("gateway basic, full/empty", c, self.args.pair_seconds, rates, False)

    def bare_row(self, c: int) -> dict:
        with CpuMeter(self.stack.cpu_groups("bare")) as cpu:
            figures = load.run_wrk(
                self.stack.urls["bare"], "/bare", json.dumps(self.bodies["bare"]), c, self.args.seconds, f"bare{c}-"
            )
        return _measured("(b) bare pipeline", "bare", c, figures, cpu)

    def pgbench_row(self, c: int) -> dict:
        script = load.pair_script(self.m.request_fn, self.m.response_fn, self.bodies["bare"], {"message": "sink ok"})
        with CpuMeter(self.stack.cpu_groups(None)) as cpu:
            figures = load.run_pgbench(self.stack.database_url, script, c, self.args.seconds)
        return _measured("(a) pgbench pair", "pgbench", c, figures, cpu)

    @cached_property
    def records_script(self) -> str:
        """Row (r)'s functions installed and its script built on first use: only the main stack runs (r), the
        full-db stack of DATA=1 never does."""
        auth = seed.install_records(self.stack.database_url, self.m, RECORDS_RATE_LIMIT)
        return load.records_script(auth, self.bodies["bare"], {"message": "sink ok"}, self.stack.urls["sink"] + "/pay")

    def records_row(self, c: int) -> dict:
        """Row (r): what the records of one payment cost with no gateway around them (bench/records.sql)."""
        with CpuMeter(self.stack.cpu_groups(None)) as cpu:
            figures = load.run_pgbench(self.stack.database_url, self.records_script, c, self.args.seconds)
        return _measured("(r) records alone", "records", c, figures, cpu)


def _measured(name: str, kind: str, c: int, figures: load.Figures, cpu: CpuMeter) -> dict:
    """One measured row: its figures, the load average as it ended, and its CPU per request."""
    return {
        "row": name,
        "kind": kind,
        "concurrency": c,
        **figures.as_dict(),
        "load_1m": _load(),
        "cpu_ms": cpu.per_request(figures.requests),
    }


def _rows_at(bench: Bench, c: int, full: Bench | None = None, split: bool = False) -> list[dict]:
    """The rows of one concurrency: ceilings first, then each gateway row right after (b) and, with a full-db
    gateway, its twin right after it (on a shared machine, neighbours in time compare best), then the paired
    slices. Split rows carry "split" and their own wrk prefixes."""
    mark, tag = ({"split": True}, SPLIT_TAG) if split else ({}, "")
    rows = [{**bench.pgbench_row(c), **mark}, {**bench.records_row(c), **mark}, {**bench.bare_row(c), **mark}]
    print(
        f"  measured ceilings c={c}{tag}: (a) {rows[0]['rate']:,.0f} pairs/s, (r) {rows[1]['rate']:,.0f} pairs/s, "
        f"(b) {rows[2]['rate']:,.0f} req/s",
        flush=True,
    )
    for kind in ("basic", "bearer", "status", "stk"):
        rows.append({**bench.gateway_row(kind, c, "s" if split else ""), **mark})
        print(f"  measured gateway {kind} c={c}{tag}: {rows[-1]['rate']:,.0f} req/s", flush=True)
        if full is not None:
            rows.append({**full.gateway_row(kind, c, "f"), "data": True})
            print(f"  measured gateway {kind} c={c}, full db: {rows[-1]['rate']:,.0f} req/s", flush=True)
    if bench.args.pairs:
        bench.paired_results.append(bench.paired(c, split))
        print(f"  paired slices c={c}{tag}: median {bench.paired_results[-1]['median']}", flush=True)
        if full is not None:
            bench.paired_results.append(bench.paired_full(full, c))
            print(f"  paired full/empty c={c}: median {bench.paired_results[-1]['median']}", flush=True)
    return rows


def _split_rows(bench: Bench) -> list[dict]:
    """Every row again with PostgreSQL on CPUs of its own and the rest on the others."""
    rows: list[dict] = []
    with topology.Split([bench.stack.postmaster_pid], bench.stack.app_pids()) as split:
        bench.split_described = split.describe()
        print(f"split: {bench.split_described}", flush=True)
        for c in CONCURRENCY:
            rows += _rows_at(bench, c, split=True)
    return rows


def paired_summary(row: str, c: int, seconds: int, rates: list[tuple[float, float]], split: bool) -> dict:
    """The ratio second/first (gateway/(b), or full/empty) of each neighbouring pair of slices, with their
    median and range."""
    each = [round(g / b, 3) for b, g in rates if b]
    return {
        "row": row + (SPLIT_TAG if split else ""),
        "concurrency": c,
        "slice_s": seconds,
        "rates": [[round(b, 1), round(g, 1)] for b, g in rates],
        "ratios": each,
        "median": round(statistics.median(each), 3) if each else None,
        "low": min(each, default=None),
        "high": max(each, default=None),
    }


def print_paired(items: list[dict]) -> None:
    if not items:
        return
    print(f"\n{'paired slices (ratio per pair)':<32}{'c':>4}{'median':>9}{'range':>14}  pairs")
    for p in items:
        spread = f"{p['low']:.2f}-{p['high']:.2f}" if p["ratios"] else "-"
        count = f"{len(p['ratios'])}×{p['slice_s']} s"
        print(f"{p['row']:<32}{p['concurrency']:>4}{p['median'] or 0:>9.2f}{spread:>14}  {count}")


def _warm_up(bench: Bench) -> None:
    """2 s of load, not recorded: both gunicorn workers open their pool connections."""
    load.run_wrk(
        bench.stack.urls["gateway"],
        bench.paths["basic"],
        json.dumps(bench.bodies["basic"]),
        8,
        2,
        f"warm-{bench.run_id}",
        *bench.auth["basic"],
    )


def _full_stack(exits: ExitStack, log_dir: Path, args: argparse.Namespace, run_id: str) -> tuple[Bench, dict]:
    """A second gateway with its own PostgreSQL (same settings), loaded with the 1M/5M rows and vacuumed before
    any row runs, with its own services and worker: each full-db row runs right after its empty-db twin, so the
    two meet the same machine (a shared machine's speed drifts over the minutes between blocks of rows)."""
    (log_dir / "full").mkdir()
    stack = Stack(exits, log_dir / "full")
    stack.database(fsync=args.fsync)
    env = stack.gateway_env()
    merchant = seed.seed(env, stack.urls["sink"], stack.urls["mpesa"], stack.urls["daraja"])
    print(
        f"loading {args.transactions:,} transactions and {args.api_logs:,} API log rows into a second database…",
        flush=True,
    )
    app = seed.seed_app(env)
    from bench.data import preload

    loaded = preload(app, args.transactions, args.api_logs)
    app.extensions["db_engine"].dispose()
    print(f"  loaded in {loaded['seconds']} s", flush=True)
    stack.start_services()
    stack.start_gateway()
    stack.start_worker()
    bench = Bench(stack, merchant, args, f"{run_id}f")
    _warm_up(bench)
    return bench, loaded


def _load() -> float:
    # The machine's 1-minute load average when a row ends: on a shared machine, the context of its figures.
    return round(os.getloadavg()[0], 1)


def ratios(rows: list[dict]) -> list[dict]:
    """gateway/(b) and gateway/(a) in throughput, and the p50 the gateway adds over (b), per gateway row."""
    # Split rows are divided by the ceilings measured split, the others by the others.
    ceiling = {(r["kind"], r["concurrency"], bool(r.get("split"))): r for r in rows if r["kind"] in ("bare", "pgbench")}
    out = []
    for r in rows:
        if not r["row"].startswith("gateway") or r.get("data"):
            continue
        split = bool(r.get("split"))
        bare = ceiling.get(("bare", r["concurrency"], split))
        pgb = ceiling.get(("pgbench", r["concurrency"], split))
        out.append(
            {
                "row": r["row"] + (SPLIT_TAG if split else ""),
                "concurrency": r["concurrency"],
                "vs_bare": round(r["rate"] / bare["rate"], 3) if bare and bare["rate"] else None,
                "vs_pgbench": round(r["rate"] / pgb["rate"], 4) if pgb and pgb["rate"] else None,
                "added_p50_ms": round(r["p50_ms"] - bare["p50_ms"], 2) if bare else None,
                "cpu_vs_bare": cpu_ratio(bare, r) if bare else None,
            }
        )
    return out


def cpu_ratio(bare: dict, row: dict) -> float | None:
    """(b)'s CPU per request over the gateway row's, all processes counted (bench.cpu): on a saturated machine
    the throughput ratio should come out close to it."""
    b, g = (bare.get("cpu_ms") or {}).get("total"), (row.get("cpu_ms") or {}).get("total")
    return round(b / g, 3) if b and g else None


TARGET = 0.7  # issue 14: the payment at 0.7 of (b) or better


def records_bound(rows: list[dict]) -> list[dict]:
    """Per concurrency (unsplit rows: there the throughput ratio is the CPU ratio), what the records alone leave
    of the target: (b)'s CPU per request, the PostgreSQL CPU the records add to the function pair ((r) minus
    (a)), the CPU 0.7 of (b) allows above (b), what the Basic payment spends above (b), and the best ratio a
    gateway could reach that spent nothing but (b)'s work and the records."""
    unsplit = {(r["kind"], r["concurrency"]): r for r in rows if not r.get("split") and not r.get("data")}
    out = []
    for c in sorted({c for _, c in unsplit}):
        b, a, rec, gw = (unsplit.get((k, c), {}).get("cpu_ms") for k in ("bare", "pgbench", "records", "basic"))
        if not (b and a and rec):
            continue
        records_pg = rec["postgres"] - a["postgres"]
        out.append(
            {
                "concurrency": c,
                "bare_ms": round(b["total"], 3),
                "records_pg_ms": round(records_pg, 3),
                "allowed_above_bare_ms": round(b["total"] / TARGET - b["total"], 3),
                "gateway_above_bare_ms": round(gw["total"] - b["total"], 3) if gw else None,
                "bound": round(b["total"] / (b["total"] + records_pg), 3),
            }
        )
    return out


def full_vs_empty(rows: list[dict]) -> list[dict]:
    """Each full-db row over its empty-db twin (same kind and concurrency, unsplit: the twins ran side by side)."""
    empty = {
        (r["kind"], r["concurrency"]): r
        for r in rows
        if r["row"].startswith("gateway") and not r.get("data") and not r.get("split")
    }
    return [
        {
            "row": r["row"],
            "concurrency": r["concurrency"],
            "ratio": round(r["rate"] / empty[(r["kind"], r["concurrency"])]["rate"], 3),
        }
        for r in rows
        if r.get("data")
    ]


def print_table(rows: list[dict]) -> None:
    print(f"\n{'row':<32}{'c':>4}{'req/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'load':>7}")
    for r in rows:
        name = label(r, data_tag=" (full db)")
        unit = " pairs" if r["kind"] in PAIR_KINDS else ""
        print(
            f"{name:<32}{r['concurrency']:>4}{r['rate']:>11,.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
            f"{r['errors']:>8}{r.get('load_1m', 0):>7.1f}{unit}"
        )
        if "settled" in r:
            s = r["settled"]
            print(
                f"{'':<6}STK: {s['pushed']} pushed, {s['completed']} completed, {s['not_final']} not final "
                f"{s['settle_s']} s after the load"
            )


def print_cpu(rows: list[dict]) -> None:
    print(f"\n{'CPU ms per request (bench.cpu)':<32}{'c':>4}" + "".join(f"{c:>10}" for c in CPU_COLUMNS))
    for r in rows:
        cpu = r.get("cpu_ms") or {}
        if not cpu:
            continue
        name = label(r, data_tag=" (full db)")
        print(f"{name:<32}{r['concurrency']:>4}" + "".join(f"{cpu.get(c, 0):>10.3f}" for c in CPU_COLUMNS))


def print_round_trips(budget: dict) -> None:
    print("\nround trips per request (pg_stat_statements, top-level statements incl. BEGIN/COMMIT/pings):")
    for kind, data in budget.items():
        parts = ", ".join(f"{s['per_request']:g}× {s['statement'][:40]}" for s in data["statements"])
        print(f"  {kind:<7}{data['round_trips']:>5g}  {parts}")


def print_ratios(items: list[dict]) -> None:
    print(f"\n{'ratio':<32}{'c':>4}{'gw/(b)':>9}{'gw/(a)':>9}{'+p50 ms':>9}{'CPU (b)/gw':>12}")
    for r in items:
        print(
            f"{r['row']:<32}{r['concurrency']:>4}{r['vs_bare'] or 0:>9.2f}{r['vs_pgbench'] or 0:>9.3f}"
            f"{r['added_p50_ms'] or 0:>9.1f}{r.get('cpu_vs_bare') or 0:>12.2f}"
        )


def print_records_bound(items: list[dict]) -> None:
    """CPU ms per payment, unsplit: (b); the records' PostgreSQL CPU, (r) minus (a); what 0.7 of (b) allows
    above (b); what the Basic payment spends above (b); the best ratio with the records alone."""
    print(f"\n{'records vs target, CPU ms':<32}{'c':>4}{'(b)':>8}{'(r)-(a)':>9}{'allowed':>9}{'spent':>8}")
    for r in items:
        print(
            f"{'unsplit; best ratio ' + format(r['bound'], '.2f'):<32}{r['concurrency']:>4}{r['bare_ms']:>8.2f}"
            f"{r['records_pg_ms']:>9.2f}{r['allowed_above_bare_ms']:>9.2f}{r['gateway_above_bare_ms'] or 0:>8.2f}"
        )


def _portal(database_url: str | None) -> dict:
    """The portal benchmark (scripts/bench_portal.py), on the loaded database when there is one."""
    args = [sys.executable, str(ROOT / "scripts" / "bench_portal.py")]
    env = dict(os.environ)
    if database_url:
        env["DATABASE_URL"] = database_url
        args += ["--transactions", "0"]
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    print(out.stdout + out.stderr, end="")
    return {"returncode": out.returncode, "output": out.stdout.splitlines()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each row")
    parser.add_argument("--with-data", action="store_true", help="repeat the gateway rows with 1M/5M rows loaded")
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--api-logs", type=int, default=5_000_000)
    parser.add_argument("--portal", action="store_true", help="then run the portal benchmark (scripts/bench_portal.py)")
    parser.add_argument("--profile", action="store_true", help="py-spy one gateway worker during the Basic c8 row")
    parser.add_argument("--fsync", action="store_true", help="PostgreSQL with fsync on (default off, as make run)")
    parser.add_argument(
        "--pairs", type=int, default=5, help="alternating (b)/gateway Basic slices per concurrency (0: none)"
    )
    parser.add_argument("--pair-seconds", type=int, default=4, help="length of each paired slice")
    parser.add_argument(
        "--split", action="store_true", help="then every row again with PostgreSQL on CPUs of its own (Linux)"
    )
    parser.add_argument("--settle-timeout", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    if args.split and topology.halves(os.sched_getaffinity(0)) is None:
        print("SPLIT needs at least two CPUs for this process: the split rows are skipped", flush=True)
        args.split = False

    started = time.monotonic()
    started_at, load_start = datetime.now(UTC).isoformat(timespec="seconds"), os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    run_id = secrets.token_hex(3)
    rows: list[dict] = []
    result: dict = {}
    with ExitStack() as exits:
        log_dir = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="bench-logs-")))
        stack = Stack(exits, log_dir)
        stack.database(fsync=args.fsync)
        env = stack.gateway_env()
        merchant = seed.seed(env, stack.urls["sink"], stack.urls["mpesa"], stack.urls["daraja"])
        round_trips.enable(stack.database_url)
        stack.start_services()
        stack.start_gateway()
        stack.start_bare(merchant.request_fn, merchant.response_fn)
        workers = gunicorn_settings()
        print(
            f"gateway: gunicorn {workers['worker_class']} workers={workers['workers']} threads={workers['threads']}, "
            f"GATEWAY_ENV=production, rate limit raised to {BENCH_RATE_LIMIT} (default 6000/minute per client); "
            f"PostgreSQL fsync {'on' if args.fsync else 'off (as make run)'}; {os.cpu_count()} CPUs, load average "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; {args.seconds} s per row, wrk -t2",
            flush=True,
        )
        full, loaded = _full_stack(exits, log_dir, args, run_id) if args.with_data else (None, None)
        bench = Bench(stack, merchant, args, run_id)
        _warm_up(bench)
        budget = bench.round_trips()  # before the worker starts: nothing else may touch the database
        print_round_trips(budget)
        stack.start_worker()
        for c in CONCURRENCY:
            rows += _rows_at(bench, c, full)
        if args.split:
            rows += _split_rows(bench)
        result = {
            "started": started_at,
            "when": datetime.now(UTC).isoformat(timespec="seconds"),  # when the gateway rows ended
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_start": load_start,
                "load_end": os.getloadavg(),
            },
            "settings": {
                "gunicorn": workers,
                "rate_limit": BENCH_RATE_LIMIT,
                "seconds_per_row": args.seconds,
                "paired": {"pairs": args.pairs, "slice_s": args.pair_seconds},
                "wrk_threads": 2,
                "postgres": f"testing.postgresql, fsync {'on' if args.fsync else 'off (as make run)'}",
                "split": bench.split_described,
            },
            "round_trips": budget,
            "rows": rows,
            "ratios": ratios(rows),
            "records_bound": records_bound(rows),
            "paired": bench.paired_results,
            "loaded": loaded,
        }
        if loaded:
            result["full_vs_empty"] = full_vs_empty(rows)
        if args.portal:
            stack.stop_all()
            if full is not None:
                full.stack.stop_all()
            result["portal"] = _portal(full.stack.database_url if full is not None else None)
    result["seconds"] = round(time.monotonic() - started, 1)
    print_table(rows)
    print_cpu(rows)
    print_ratios(result["ratios"])
    print_records_bound(result["records_bound"])
    print_paired(result.get("paired", []))
    for item in result.get("full_vs_empty", []):
        print(f"full/empty {item['row']:<24} c={item['concurrency']:<3} {item['ratio']:.2f}")
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(
        f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} "
        f"({result['seconds']} s in all)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
