"""A results file as Markdown tables, for docs/performance.md: python -m bench.report [bench/results/latest.json]"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.cpu import COLUMNS as CPU_COLUMNS
from bench.topology import SPLIT_TAG

DEFAULT = Path(__file__).resolve().parent / "results" / "latest.json"
PAIR_KINDS = ("pgbench", "records")  # rows whose unit is a pair of statements, not a request


def label(row: dict, name: str | None = None, data_tag: str = " (1M txns, 5M logs)") -> str:
    """A row's name as tables show it: marked when it ran on the full database or split."""
    return (name or row["row"]) + (data_tag if row.get("data") else "") + (SPLIT_TAG if row.get("split") else "")


def _rows(result: dict) -> list[str]:
    out = ["| row | c | req/s | p50 ms | p99 ms | non-2xx/errors | load |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        name = label(r)
        rate = f"{r['rate']:,.0f}" + (" pairs/s" if r["kind"] in PAIR_KINDS else "")
        out.append(
            f"| {name} | {r['concurrency']} | {rate} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} "
            f"| {r.get('load_1m', '')} |"
        )
    return out


def _stk(result: dict) -> list[str]:
    out = [
        "| STK row | c | pushes/s | pushed | completed | not final | settled after |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        if "settled" in r:
            s = r["settled"]
            name = label(r, "STK push", " (full db)")
            out.append(
                f"| {name} | {r['concurrency']} | {r['rate']:.1f} | {s['pushed']} | {s['completed']} "
                f"| {s['not_final']} | {s['settle_s']} s |"
            )
    return out


def _ratios(result: dict) -> list[str]:
    out = [
        "| gateway row | c | gateway/(b) | gateway/(a) | p50 added over (b) | CPU per request, (b)/gateway |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["ratios"]:
        cpu = f"{r['cpu_vs_bare']:.2f}" if r.get("cpu_vs_bare") else ""
        out.append(
            f"| {r['row']} | {r['concurrency']} | {r['vs_bare']:.2f} | {r['vs_pgbench']:.3f} "
            f"| {r['added_p50_ms']:.1f} ms | {cpu} |"
        )
    for r in result.get("full_vs_empty", []):
        out.append(f"| {r['row']}, full/empty | {r['concurrency']} | {r['ratio']:.2f} (full db / empty db) | | | |")
    return out


def _records_bound(result: dict) -> list[str]:
    items = result.get("records_bound") or []
    if not items:
        return []
    out = [
        "| c | (b) CPU per request | the records' PostgreSQL CPU, (r) − (a) | above (b), 0.7 allows "
        "| above (b), the payment spends | best ratio with the records alone |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in items:
        spent = f"{r['gateway_above_bare_ms']:.2f} ms" if r.get("gateway_above_bare_ms") is not None else ""
        out.append(
            f"| {r['concurrency']} | {r['bare_ms']:.2f} ms | {r['records_pg_ms']:.2f} ms "
            f"| {r['allowed_above_bare_ms']:.2f} ms | {spent} | {r['bound']:.2f} |"
        )
    return out


def _cpu(result: dict) -> list[str]:
    rows = [r for r in result["rows"] if r.get("cpu_ms")]
    if not rows:
        return []
    out = ["| CPU ms per request | c | " + " | ".join(CPU_COLUMNS) + " |", "|---|---:|" + "---:|" * len(CPU_COLUMNS)]
    for r in rows:
        name = label(r)
        cells = " | ".join(f"{r['cpu_ms'].get(c, 0):.2f}" for c in CPU_COLUMNS)
        out.append(f"| {name} | {r['concurrency']} | {cells} |")
    return out


def _paired(result: dict) -> list[str]:
    items = result.get("paired") or []
    if not items:
        return []
    out = [
        "| alternating slices: gateway/(b), or full db/empty db | c | median | range | pairs |",
        "|---|---:|---:|---:|---:|",
    ]
    for p in items:
        spread = f"{p['low']:.2f}–{p['high']:.2f}" if p["ratios"] else ""
        count = f"{len(p['ratios'])} × {p['slice_s']} s"
        out.append(f"| {p['row']} | {p['concurrency']} | {p['median']:.2f} | {spread} | {count} |")
    return out


def _round_trips(result: dict) -> list[str]:
    out = ["| request | round trips | statements per request |", "|---|---:|---|"]
    for kind, data in result.get("round_trips", {}).items():
        parts = ", ".join(f"{s['per_request']:g}× `{s['statement'][:38].strip()}`" for s in data["statements"])
        late = sum(s["per_request"] for s in data.get("at_commit", []))
        if late:
            parts += f"; at their COMMIT, {late:g} delta rows of deferred stats triggers (no round trip)"
        out.append(f"| {kind} | {data['round_trips']:g} | {parts} |")
    return out


def _profile(result: dict) -> list[str]:
    found = [r for r in result["rows"] if "profile" in r]
    if not found:
        return []
    p = found[0]["profile"]
    out = [
        f"py-spy, one gateway worker, {p['samples']} samples ({p['idle_samples']} idle):",
        "",
        "| where a busy worker thread is | share |",
        "|---|---:|",
    ]
    out += [f"| {label} | {share:.0%} |" for label, share in p["busy"].items()]
    out += ["", "| our function (inclusive) | share of samples |", "|---|---:|"]
    out += [f"| `{f['frame']}` | {f['share']:.0%} |" for f in p["inclusive"][:12]]
    return out


def render(result: dict) -> str:
    settings = result["settings"]
    g = settings["gunicorn"]
    machine = result["machine"]
    loads = "; ".join(
        f"{label} {', '.join(f'{x:.1f}' for x in machine[key])}"
        for label, key in (("at the start", "load_start"), ("when the rows ended", "load_end"))
        if key in machine
    )
    head = (
        f"Run {'started ' + result['started'] + ', ' if result.get('started') else ''}gateway rows ended "
        f"{result['when']}, on {machine['cpus']} CPUs (load average {loads}); gunicorn {g['worker_class']} "
        f"workers={g['workers']} threads={g['threads']}; {settings['seconds_per_row']} s per row; rate limit "
        f"{settings['rate_limit']}; PostgreSQL {settings['postgres']}."
    )
    if settings.get("split"):
        head += f" Rows marked [split] ran with {settings['split']}."
    parts = [
        head,
        "",
        *_rows(result),
        "",
        *_stk(result),
        "",
        *_ratios(result),
        "",
        *_cpu(result),
        "",
        *_records_bound(result),
        "",
        *_paired(result),
        "",
        *_round_trips(result),
    ]
    if result.get("loaded"):
        loaded = result["loaded"]
        parts += [
            "",
            f"The full-db rows ran on a second gateway whose own database held {loaded['transactions']:,} "
            f"transactions and {loaded['api_logs']:,} API log rows (loaded and vacuumed in {loaded['seconds']} s "
            "before any row), each right after its empty-db twin.",
        ]
    profile = _profile(result)
    if profile:
        parts += ["", *profile]
    return "\n".join(parts) + "\n"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    sys.stdout.write(render(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
