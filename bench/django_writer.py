"""The yardstick's writer: problem reports saved through the Django ORM (so post_save fires).

    DJANGO_SETTINGS_MODULE=bench.djangoq_settings python -m bench.django_writer WORKLOAD

WORKLOAD: a key of bench.workloads.LATENCY_RATES (300 reports at that rate) or ``burst``.

Prints {"started": t, "committed": {report id: t}} with time.monotonic() stamps.
"""

from __future__ import annotations

import json
import sys
import time

import django


def main(workload: str) -> None:
    django.setup()
    from django.db import transaction

    from bench.workloads import BURST_COUNT, LATENCY_COUNT, LATENCY_RATES
    from webapp.maintenance.models import Machine, ProblemReport

    if workload in LATENCY_RATES:
        count, interval = LATENCY_COUNT, 1 / LATENCY_RATES[workload]
    else:
        count, interval = BURST_COUNT, 0.0
    machine = Machine.objects.order_by("id").first()
    assert machine is not None
    committed: dict[int, float] = {}
    started = next_at = time.monotonic()
    for n in range(count):
        with transaction.atomic():
            report = ProblemReport.objects.create(
                machine=machine, problem_type="stuck_ball", description=f"bench report {n}"
            )
        committed[report.pk] = time.monotonic()
        if interval:
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
    print(json.dumps({"started": started, "committed": committed}))


if __name__ == "__main__":
    main(sys.argv[1])
