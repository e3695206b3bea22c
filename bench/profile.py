"""Where the listener's CPU goes: a json catch-up under py-spy, summed by function.

    python -m bench.profile [--events 20000] [--in-flight 1] [--top 40]

Writes bench/results/profile.txt (collapsed stacks, for flame-graph tools) and prints the
functions with the most samples, inclusive and own, as shares of all samples.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.harness import RESULTS, bench_database


def summarize(collapsed: str, top: int) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    lines = [f"{total} samples", "", "inclusive %  own %  function"]
    for frame, samples in inclusive.most_common(top):
        lines.append(f"{100 * samples / total:10.1f}  {100 * own[frame] / total:5.1f}  {frame}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=1)
    parser.add_argument("--top", type=int, default=40)
    options = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "profile.txt"
    with (
        tempfile.TemporaryDirectory(prefix="tiltbob-profile-") as workdir,
        bench_database(Path(workdir)) as bench,
    ):
        bench.add_endpoint("profiled", "/profiled", in_flight=options.in_flight)
        committed = bench.write_reports(options.events, per_tx=500)
        with bench.listener() as listener:
            record = [spy, "record", "--format", "raw", "--rate", "250", "-o", str(out)]
            spying = subprocess.Popen([*record, "--pid", str(listener.pid)])
            bench.wait_arrivals("/profiled", set(committed), timeout=900)
            spying.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
            spying.wait(timeout=60)
    print(summarize(out.read_text(), options.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
