"""The public report form's defences: anyone who can read a QR code can reach it, so it must
not become a way to flood the museum's channels.

- Rate limits per client address and per machine, counted in PostgreSQL (every web process and
  host sees the same counts).
- A honeypot field and a minimum time to fill the form: a bot that trips either is thanked and
  nothing is written.
- The same text for the same machine while an identical report is open is not a new report.
- The client address is ``REMOTE_ADDR``, or ``X-Forwarded-For`` only through the proxies that
  ``TILTBOB_TRUSTED_PROXIES`` names (django-ipware).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import cast

from django.conf import settings
from django.core import signing
from django.http import HttpRequest
from django.utils import timezone
from ipware import get_client_ip

from webapp.maintenance.models import Machine, ProblemReport, ReportStatus, VisitorSubmission

HONEYPOT = "website"
STARTED = "started"
_SALT = "tiltbob.public-form.started"


@dataclass(frozen=True)
class Limit:
    reports: int
    seconds: int


def client_address(request: HttpRequest) -> str:
    """``REMOTE_ADDR``; when that is a trusted proxy, the client it (and the trusted proxies
    before it) name in ``X-Forwarded-For`` — a header anyone else sends is ignored."""
    remote = str(request.META.get("REMOTE_ADDR") or "0.0.0.0")
    trusted = list(settings.TILTBOB_TRUSTED_PROXIES)
    if remote not in trusted:
        return remote
    # The whole path, as ipware reads it: what the proxies added, then the proxy we see.
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR") or "").strip()
    path = f"{forwarded}, {remote}" if forwarded else remote
    seen = cast(HttpRequest, SimpleNamespace(META={"HTTP_X_FORWARDED_FOR": path}))
    ip, _ = get_client_ip(
        seen, proxy_trusted_ips=trusted, request_header_order=["HTTP_X_FORWARDED_FOR"]
    )
    return ip or remote


def started_token() -> str:
    """When the form was shown, signed: the minimum fill time cannot be faked."""
    return signing.dumps(time.time(), salt=_SALT)


def looks_automated(data: dict[str, str]) -> bool:
    """A filled honeypot, or a form sent back faster than a person could fill it."""
    if data.get(HONEYPOT, "").strip():
        return True
    least = settings.TILTBOB_REPORT_MIN_SECONDS
    if not least:
        return False
    try:
        shown = float(signing.loads(data.get(STARTED, ""), salt=_SALT, max_age=86400))
    except (signing.BadSignature, TypeError, ValueError):
        return True
    return time.time() - shown < least


def over_limit(address: str, machine: Machine) -> Limit | None:
    """The limit this report would break, if any."""
    now = timezone.now()
    checks = (
        (settings.TILTBOB_REPORTS_PER_ADDRESS, {"address": address}),
        (settings.TILTBOB_REPORTS_PER_MACHINE, {"machine": machine}),
    )
    for (reports, seconds), where in checks:
        since = now - timedelta(seconds=seconds)
        if VisitorSubmission.objects.filter(created_at__gte=since, **where).count() >= reports:
            return Limit(reports, seconds)
    return None


def record(address: str, machine: Machine) -> None:
    VisitorSubmission.objects.create(address=address, machine=machine)
    # A day is longer than any limit's window: older rows only take space.
    VisitorSubmission.objects.filter(created_at__lt=timezone.now() - timedelta(days=1)).delete()


def _same(text: str) -> str:
    return " ".join(text.split()).casefold()


def already_known(machine: Machine, problem_type: str, description: str) -> ProblemReport | None:
    """An open report of this machine with the same problem and the same words."""
    wanted = _same(description)
    for report in ProblemReport.objects.filter(
        machine=machine, status=ReportStatus.OPEN, problem_type=problem_type
    ):
        if _same(report.description) == wanted:
            return report
    return None
