import httpx
from django.conf import settings

from webapp.maintenance.models import ProblemReport

# One client per worker process, kept alive between tasks (a new one per POST would pay a
# connection and httpx's set-up each time).
CLIENT = httpx.Client(timeout=10)


def post_report(report_id: int) -> None:
    report = ProblemReport.objects.select_related("machine").get(pk=report_id)
    CLIENT.post(
        getattr(settings, "BENCH_RECEIVER_URL"),  # noqa: B009 - set by bench.djangoq_settings
        json={
            "report_id": report.pk,
            "machine": report.machine.name,
            "problem_type": report.problem_type,
            "description": report.description,
        },
    )
