"""``make bench``: every workload in one run, one table, JSON and a PNG chart in bench/results/.

Absolute times are only comparable within one run (the machine is shared and noisy), so every
figure is measured beside its yardstick here, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import workloads
from bench.harness import RESULTS, Bench, bench_database

RUNS = RESULTS / "runs"
"""Every full run's results, one file each (``python -m bench.runs`` puts them side by side)."""

TARGETS = {
    "latency_p50_vs_floor": 1.5,
    "latency_p99_ms": 10.0,
    "latency_p50_gain_vs_djangoq": 30.0,
    "burst_tail_s": 1.0,
    "burst_rate_gain_vs_djangoq": 10.0,
    "fanout_per_s": 2000.0,
    "catchup_per_s": 2000.0,
    "catchup_rss_mb": 150.0,
    "isolation_p99_ratio": 2.0,
    "write_cost_ratio": 1.5,
    "scale_ratio": 0.15,
    "history_write_ratio": 0.10,
}


def measure(only: set[str] | None) -> dict[str, Any]:
    steps: list[tuple[str, Callable[[Bench], dict[str, Any]]]] = [
        ("tiltbob", workloads.tiltbob_latency_and_burst),
        ("floor", workloads.floor),
        ("djangoq", workloads.djangoq),
        ("fanout", workloads.fanout),
        ("catchup", workloads.catchup),
        ("in_flight", workloads.in_flight),
        ("isolation", workloads.isolation),
        ("write_cost", workloads.write_cost),
        ("scale", workloads.scale),
        ("two_listeners", workloads.two_listeners),
        ("http_cpu", workloads.http_cpu),
        ("public_form", workloads.public_form),
    ]
    results: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="tiltbob-bench-") as workdir,
        bench_database(Path(workdir)) as bench,
    ):
        for name, step in steps:
            if only and name not in only:
                continue
            started = time.monotonic()
            print(f"bench: {name} …", flush=True)
            results[name] = step(bench)
            results[name]["wall_s"] = round(time.monotonic() - started, 1)
    return results


def verdicts(r: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(what, measured, target, met) for every target the results allow to judge."""
    rows: list[tuple[str, str, str, bool | None]] = []

    def add(what: str, value: float | None, target: str, met: bool | None) -> None:
        rows.append((what, "-" if value is None else f"{value:g}", target, met))

    t, f, q = r.get("tiltbob"), r.get("floor"), r.get("djangoq")
    for key, per_s in workloads.LATENCY_RATES.items():
        if t and f and key in t and key in f:
            ratio = t[key]["p50_ms"] / f[key]["p50_ms"]
            add(
                f"latency p50 / floor p50, {per_s}/s",
                round(ratio, 2),
                "≤ 1.5",
                ratio <= TARGETS["latency_p50_vs_floor"],
            )
        if t and key in t:
            p99 = t[key]["p99_ms"]
            add(f"latency p99 (ms), {per_s}/s", p99, "< 10", p99 < TARGETS["latency_p99_ms"])
    if t:
        tail = t["burst"]["last_delivery_after_last_commit_s"]
        add(
            "burst: last delivery after last commit (s)",
            tail,
            "≤ 1",
            tail <= TARGETS["burst_tail_s"],
        )
    if t and q:
        gain = q["latency"]["p50_ms"] / t["latency"]["p50_ms"]
        add(
            f"latency p50 gain vs django-q, {workloads.LATENCY_RATES['latency']}/s",
            round(gain, 1),
            "≥ 30 times",
            gain >= TARGETS["latency_p50_gain_vs_djangoq"],
        )
        rate = t["burst"]["deliveries_per_s"] / q["burst"]["deliveries_per_s"]
        add(
            "burst deliveries/s gain vs django-q",
            round(rate, 1),
            "≥ 10 times",
            rate >= TARGETS["burst_rate_gain_vs_djangoq"],
        )
    if "fanout" in r:
        v = r["fanout"]["deliveries_per_s"]
        add("fan-out deliveries/s", v, "≥ 2000", v >= TARGETS["fanout_per_s"])
    if "catchup" in r:
        for kind in ("json", "discord"):
            v = r["catchup"][kind]["deliveries_per_s"]
            add(f"catch-up deliveries/s ({kind})", v, "≥ 2000", v >= TARGETS["catchup_per_s"])
            rss = r["catchup"][kind]["listener_peak_rss_mb"]
            add(
                f"catch-up listener peak RSS, MB ({kind})",
                rss,
                "< 150",
                rss < TARGETS["catchup_rss_mb"],
            )
    if "isolation" in r:
        ratio = r["isolation"]["beside_hanging"]["p99_ms"] / r["isolation"]["alone"]["p99_ms"]
        add(
            "isolation: healthy p99 beside a hanging one / alone",
            round(ratio, 2),
            "≤ 2",
            ratio <= TARGETS["isolation_p99_ratio"],
        )
    if "write_cost" in r:
        v = r["write_cost"]["cost_ratio"]
        add(
            "write cost: bare INSERT rate / with triggers",
            v,
            "≤ 1.5",
            v <= TARGETS["write_cost_ratio"],
        )
    if "scale" in r:
        s, within = r["scale"], TARGETS["scale_ratio"]
        for what, key in (
            ("deliveries/s", "catchup_rate_ratio"),
            ("peak RSS", "catchup_rss_ratio"),
        ):
            v = s[key]
            add(f"catch-up 200,000 / 20,000: {what}", v, "1 ± 0.15", abs(v - 1) <= within)
        for what, key in (
            ("beside 1M delivered", "write_history_ratio"),
            ("after the prune", "write_pruned_ratio"),
        ):
            v = s[key]
            add(
                f"write cost {what} / on empty tables",
                v,
                "≤ 1.1",
                v <= 1 + TARGETS["history_write_ratio"],
            )
    return rows


def table(r: dict[str, Any]) -> str:
    lines = []
    systems = [(name, r[name]) for name in ("floor", "tiltbob", "djangoq") if name in r]
    if systems:
        lines.append(
            "| system | events/s | p50 ms | p90 ms | p99 ms | max ms"
            " | burst commits/s | burst deliveries/s | tail s |"
        )
        lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        labels = {
            "floor": "bare LISTEN/NOTIFY → aiohttp (floor)",
            "tiltbob": "tiltbob",
            "djangoq": "Django post_save + on_commit + django-q2 (ORM, a worker per core)",
        }
        for name, data in systems:
            b = data["burst"]
            for key, per_s in workloads.LATENCY_RATES.items():
                lat = data[key]
                lines.append(
                    f"| {labels[name]} | {per_s} | {lat['p50_ms']} | {lat['p90_ms']}"
                    f" | {lat['p99_ms']} | {lat['max_ms']}"
                    f" | {b['writer_commits_per_s']} | {b['deliveries_per_s']}"
                    f" | {b['last_delivery_after_last_commit_s']} |"
                )
        lines.append("")
    rows = verdicts(r)
    if rows:
        lines.append("| target | measured | wanted | met |")
        lines.append("| --- | --- | --- | --- |")
        for what, value, target, met in rows:
            lines.append(f"| {what} | {value} | {target} | {'yes' if met else 'no'} |")
        lines.append("")
    extra = []
    if "fanout" in r:
        f = r["fanout"]
        extra.append(
            f"fan-out: {f['deliveries']} deliveries at {f['deliveries_per_s']}/s in "
            f"{f['seconds']} s; CPU: listener {f['listener_cpu_s']} s, "
            f"receiver {f['receiver_cpu_s']} s"
        )
    if "catchup" in r:
        c = r["catchup"]
        for kind in ("json", "discord"):
            extra.append(
                f"catch-up ({kind}): {c['events']} events at {c[kind]['deliveries_per_s']}/s in "
                f"{c[kind]['seconds']} s, listener peak RSS {c[kind]['listener_peak_rss_mb']} MB; "
                f"CPU: listener {c[kind]['listener_cpu_s']} s, "
                f"receiver {c[kind]['receiver_cpu_s']} s"
            )
    if "in_flight" in r:
        for case in r["in_flight"].values():
            if not isinstance(case, dict):
                continue
            where = f"answering in {case['answer_ms']} ms" if case["answer_ms"] else "on loopback"
            extra.append(
                f"json catch-up, {case['in_flight']} in flight, receiver {where}:"
                f" {case['events']} events at {case['deliveries_per_s']}/s;"
                f" listener CPU {case['listener_cpu_ms_per_delivery']} ms per delivery"
            )
    if "scale" in r:
        s = r["scale"]
        for n in workloads.SCALE_BACKLOGS:
            c = s[f"catchup_{n}"]
            extra.append(
                f"scale: json catch-up of {n} events at {c['deliveries_per_s']}/s,"
                f" listener peak RSS {c['listener_peak_rss_mb']} MB"
            )
        extra.append(
            f"scale: commits/s with triggers {s['write_empty']} on empty tables,"
            f" {s['write_with_history']} beside {s['history_events']} delivered events,"
            f" {s['write_after_prune']} after the prune"
        )
    if "two_listeners" in r:
        for label, v in r["two_listeners"].items():
            if isinstance(v, dict):
                extra.append(
                    f"{label.replace('_', ' ')}: fan-out {v['fanout_per_s']}/s, catch-up to 10"
                    f" json endpoints {v['catchup_per_s']}/s, {v['sent_twice']} sent twice"
                )
    if "isolation" in r:
        i = r["isolation"]
        extra.append(
            f"isolation: healthy p99 {i['alone']['p99_ms']} ms alone, "
            f"{i['beside_hanging']['p99_ms']} ms beside a hanging endpoint"
        )
    if "write_cost" in r:
        w = r["write_cost"]
        bare, full = w["without_triggers"], w["with_triggers"]
        extra.append(f"write cost: {bare} commits/s bare, {full} with triggers")
    if "public_form" in r:
        p = r["public_form"]
        extra.append(
            f"public form: {p['visitors']} visitors for {p['seconds']} s, {p['posts']} posts"
            f" (statuses {p['statuses']}), {p['server_errors']} server errors;"
            f" {p['accepted_reports']} reports accepted, {p['outbox_events']} outbox events"
            f" ({p['outbox_events_distinct']} distinct), {p['delivered']} deliveries"
            f" ({p['delivered_distinct']} distinct); post p50 {p['post_p50_ms']} ms,"
            f" p99 {p['post_p99_ms']} ms"
        )
    if "http_cpu" in r:
        for client, figures in r["http_cpu"].items():
            if isinstance(figures, dict):
                extra.append(
                    f"HTTP client CPU per POST, {client}: {figures['sequential_ms']} ms one at a"
                    f" time, {figures['concurrent_100_ms']} ms with 100 in flight"
                )
    if "tiltbob" in r:
        extra.append(
            f"burst CPU: listener {r['tiltbob']['listener_cpu_s']} s, "
            f"receiver {r['tiltbob']['burst']['receiver_cpu_s']} s"
        )
    lines += [f"- {e}" for e in extra]
    return "\n".join(lines)


def chart(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = [n for n in ("floor", "tiltbob", "djangoq") if n in r]
    if not systems:
        return
    cases = [c for c in r.get("in_flight", {}).values() if isinstance(c, dict)]
    fig, panels = plt.subplots(1, 3 if cases else 2, figsize=(15 if cases else 11, 4))
    left, right = panels[0], panels[1]
    p50 = [r[n]["latency"]["p50_ms"] for n in systems]
    p99 = [r[n]["latency"]["p99_ms"] for n in systems]
    x = range(len(systems))
    left.bar([i - 0.2 for i in x], p50, width=0.4, label="p50")
    left.bar([i + 0.2 for i in x], p99, width=0.4, label="p99")
    left.set_xticks(list(x), systems)
    left.set_yscale("log")
    rate = workloads.LATENCY_RATES["latency"]
    left.set_ylabel(f"commit → POST received at {rate}/s (ms, log)")
    left.legend()
    right.bar(systems, [r[n]["burst"]["deliveries_per_s"] for n in systems], color="tab:green")
    right.set_ylabel("burst deliveries/s")
    if cases:
        flight = panels[2]
        for answer_ms in sorted({c["answer_ms"] for c in cases}):
            mine = sorted(
                (c for c in cases if c["answer_ms"] == answer_ms), key=lambda c: c["in_flight"]
            )
            label = f"receiver answers in {answer_ms} ms" if answer_ms else "receiver on loopback"
            flight.plot(
                [c["in_flight"] for c in mine],
                [c["deliveries_per_s"] for c in mine],
                marker="o",
                label=label,
            )
        flight.set_xscale("log", base=2)
        flight.set_yscale("log")
        flight.set_xlabel("messages in flight (endpoint setting)")
        flight.set_ylabel("json catch-up deliveries/s (log)")
        flight.legend()
    fig.suptitle(f"tiltbob benchmarks, {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", action="append", help="run only these steps (repeatable)")
    options = parser.parse_args()
    results = measure(set(options.only) if options.only else None)
    date = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {
        "date": date,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved = json.dumps({"meta": meta, "results": results}, indent=2)
    (RESULTS / "results.json").write_text(saved)
    if not options.only:
        # Kept for ``python -m bench.runs``: a target is judged over several full runs.
        RUNS.mkdir(exist_ok=True)
        (RUNS / f"{date.replace(':', '')}.json").write_text(saved)
    chart(results, RESULTS / "results.png")
    text = table(results)
    (RESULTS / "results.md").write_text(f"{meta['date']}, {meta['cores']} cores\n\n{text}\n")
    print(f"\n{meta['date']}, {meta['cores']} cores\n\n{text}")
    return 0
