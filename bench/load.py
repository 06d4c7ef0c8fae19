"""The two load tools of the benchmark and their figures: wrk for HTTP rows, pgbench for ceiling (a).

Both report the same figures: requests (or function pairs) per second, p50 and p99 in milliseconds, errors.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "wrk" / "request.lua"


@dataclass
class Figures:
    """One measured row: throughput, latency percentiles, and how many answers were not 2xx."""

    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def as_dict(self) -> dict:
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in asdict(self).items()}


def parse_wrk(output: str) -> Figures:
    """Figures from the BENCH_JSON line request.lua prints at the end of a wrk run."""
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON ") :])
            seconds = data["duration_us"] / 1e6
            errors = sum(data["errors"].values())
            return Figures(
                rate=data["requests"] / seconds if seconds else 0.0,
                p50_ms=data["latency_us"]["p50"] / 1000,
                p99_ms=data["latency_us"]["p99"] / 1000,
                requests=data["requests"],
                errors=errors,
            )
    raise RuntimeError(f"wrk printed no BENCH_JSON line:\n{output[-2000:]}")


def run_wrk(
    url: str,
    path: str,
    body: str,
    connections: int,
    seconds: int,
    prefix: str,
    auth: str = "",
    app_id: str = "",
    threads: int = 2,
) -> Figures:
    """wrk -t threads -c connections for `seconds` against url+path, a fresh f010 per request."""
    env = {
        **os.environ,
        "BENCH_PATH": path,
        "BENCH_BODY": body,
        "BENCH_AUTH": auth,
        "BENCH_APP_ID": app_id,
        "BENCH_PREFIX": prefix,
    }
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), url]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr[-2000:]}")
    return parse_wrk(out.stdout)


def pgbench_path() -> str:
    """pgbench of the installed PostgreSQL (PATH first, then the server's bin directory)."""
    found = shutil.which("pgbench")
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True):
        return str(candidate)
    raise RuntimeError("pgbench not found: it comes with PostgreSQL (Debian: apt-get install postgresql-contrib)")


def pair_script(request_fn: str, response_fn: str, data_input: dict, data_output: dict) -> str:
    """The pgbench script of ceiling (a): the request function, then the response function, fresh unique id."""
    data_in = json.dumps(data_input).replace("'", "''")
    data_out = json.dumps(data_output).replace("'", "''")
    uid = "'pgb-' || :client_id || '-' || :n"
    return (
        "\\set n random(1, 2000000000)\n"
        f"SELECT results FROM {request_fn}({uid}, '{data_in}'::json);\n"
        f"SELECT results FROM {response_fn}({uid}, '{data_in}'::json, 200, '{data_out}'::json);\n"
    )


def records_script(auth: dict, data_input: dict, data_output: dict, service_url: str) -> str:
    """The pgbench script of row (r): bench/records.sql's begin_pair, then finish_pair on the row it began, with
    a fresh f010 and callback token each time. auth: app_id, username, secret_hash (as stored), service, route,
    rate_limit (per minute)."""

    def lit(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    # The gateway adds its callback URL (a 43-character token) to what the functions see.
    data_in = json.dumps({**data_input, "callback_url": "http://127.0.0.1/api/v1/callbacks/" + "x" * 43})
    out = json.dumps(data_output)
    sent = json.dumps({"data": data_input, "route": auth["route"], "unique_id": data_input.get("f010", "")})
    log_body = json.dumps(data_input)
    f010 = "'rec-' || :client_id || '-' || :n"
    return (
        "\\set n random(1, 2000000000)\n"
        f"SELECT bench_records.begin_pair({lit(auth['app_id'])}, {lit(auth['username'])}, "
        f"{lit(auth['secret_hash'])}, {lit(auth['service'])}, {lit(auth['route'])}, {int(auth['rate_limit'])}, "
        f"{f010}, md5({f010}), {lit(log_body)}::jsonb, {lit(data_in)}::json, md5('cb-' || {f010}), 100) "
        "AS txn \\gset\n"
        f"SELECT bench_records.finish_pair(:txn, 200, {lit(out)}::json, {lit(service_url)}, {lit(sent)}, "
        f"{lit(out)}, {lit(data_in)}::json, {lit(auth['app_id'])}, '/api/v1/payment/process', '127.0.0.1', "
        f"{lit(log_body)});\n"
    )


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))]


def run_pgbench(database_url: str, script: str, connections: int, seconds: int, threads: int = 2) -> Figures:
    """pgbench -c connections over the script; p50/p99 from its per-transaction log (microseconds)."""
    with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as tmp:
        script_path = Path(tmp) / "pair.sql"
        script_path.write_text(script)
        args = [
            pgbench_path(),
            "-n",  # no vacuum of pgbench's own tables: we do not use them
            f"-c{connections}",
            f"-j{threads}",
            f"-T{seconds}",
            "-f",
            str(script_path),
            "-l",
            f"--log-prefix={tmp}/log",
            database_url,
        ]
        out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
        if out.returncode != 0:
            raise RuntimeError(f"pgbench failed ({out.returncode}): {out.stderr[-2000:]}")
        latencies, failed = [], 0
        for log in Path(tmp).glob("log*"):
            for line in log.read_text().splitlines():
                parts = line.split()
                if parts[2] == "failed":
                    failed += 1
                else:
                    latencies.append(int(parts[2]) / 1000)
    latencies.sort()
    tps = next((line for line in out.stdout.splitlines() if line.startswith("tps = ")), "")
    rate = float(tps.split()[2]) if tps else len(latencies) / seconds
    return Figures(
        rate=rate,
        p50_ms=statistics.median(latencies) if latencies else 0.0,
        p99_ms=_percentile(latencies, 0.99),
        requests=len(latencies),
        errors=failed,
    )
