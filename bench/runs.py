"""Several full runs of ``make bench`` side by side: every target with its figure in each run
and how many runs met it.

    python -m bench.runs                  # the last five full runs (bench/results/runs/)
    python -m bench.runs A.json B.json …  # these results files, in this order

Every full run of ``make bench`` keeps its results in ``bench/results/runs/<date>.json``. The
machine's speed is shown beside them (aiohttp's own CPU per POST, from the HTTP client
workload): a shared machine can be several times slower one day than the next, and a
throughput target judged on a slow day says as much about the day as about tiltbob.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.run import RUNS, verdicts

LAST = 5


def side_by_side(runs: list[dict[str, Any]]) -> str:
    """A Markdown table: a row per target, a column per run, and the runs that met it."""
    per_run = [{what: (value, met) for what, value, _, met in verdicts(r["results"])} for r in runs]
    targets: dict[str, str] = {}
    for r in runs:
        for what, _, target, _ in verdicts(r["results"]):
            targets.setdefault(what, target)
    header = ["target", "wanted", *(f"run {n}" for n in range(1, len(runs) + 1)), "met"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for what, target in targets.items():
        cells = []
        met = 0
        judged = 0
        for figures in per_run:
            value, ok = figures.get(what, ("-", None))
            cells.append(value if ok is not False else f"**{value}**")
            judged += ok is not None
            met += ok is True
        lines.append(f"| {what} | {target} | " + " | ".join(cells) + f" | {met} of {judged} |")
    speed = [_aiohttp_cpu(r["results"]) for r in runs]
    lines.append("| the machine: aiohttp's CPU per POST, ms | | " + " | ".join(speed) + " | |")
    dates = ", ".join(r["meta"]["date"] for r in runs)
    return f"Runs (figures that miss their target in bold): {dates}\n\n" + "\n".join(lines)


def _aiohttp_cpu(results: dict[str, Any]) -> str:
    figures = results.get("http_cpu", {}).get("aiohttp")
    return "-" if not figures else f"{figures['sequential_ms']:g}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.runs", description=__doc__)
    parser.add_argument("files", nargs="*", type=Path, help="results files (default: the last 5)")
    options = parser.parse_args()
    files = options.files or sorted(RUNS.glob("*.json"))[-LAST:]
    if not files:
        raise SystemExit(f"no runs in {RUNS}: run make bench first")
    print(side_by_side([json.loads(path.read_text()) for path in files]))


if __name__ == "__main__":
    main()
