"""Safe deployment defaults: the health check, https-only cookies and HSTS behind https, and
debug pages that print no secret."""

from __future__ import annotations

import os

from django.test import Client

from tests.processes import run_tiltbob

DB_PASSWORD = "db-pass-Zq81xkPw"
SMTP_PASSWORD = "smtp-pass-Hh2yy7Qa"
KEY = "c2VjcmV0LWtleS1mb3ItdGhlLWRlYnVnLXRlc3QtMDA="


def test_healthz_answers_when_the_database_does(client: Client, db: None) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.content == b"ok\n"
    assert "no-cache" in answer["Cache-Control"]


def shell(db_url: str, code: str, **env: str) -> str:
    done = run_tiltbob("shell", "-c", code, db_url=db_url, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_behind_https_cookies_are_secure_and_hsts_is_on(db_url: str) -> None:
    code = (
        "from django.test import Client\n"
        "c = Client()\n"
        "r = c.get('/login/', secure=True, HTTP_HOST='museum.example.org')\n"
        "from django.conf import settings\n"
        "print('RESULT', r.status_code, r.get('Strict-Transport-Security'),"
        " bool(r.cookies['csrftoken']['secure']), settings.SESSION_COOKIE_SECURE)\n"
    )

    def result(site: str) -> list[str]:
        [line] = [x for x in shell(db_url, code, SITE_URL=site).splitlines() if "RESULT" in x]
        return line.split()[1:]

    status, hsts, *secure = result("https://museum.example.org")
    assert status == "200" and hsts.startswith("max-age=") and secure == ["True", "True"]
    status, hsts, *secure = result("http://museum.example.org")
    assert status == "200" and hsts == "None" and secure == ["False", "False"]


def test_debug_pages_show_no_secret(db_url: str) -> None:
    with_password = (
        f"{db_url} password={DB_PASSWORD}"
        if "://" not in db_url
        else db_url.replace("://", f"://:{DB_PASSWORD}@", 1)
    )
    code = (
        "from django.views.debug import SafeExceptionReporterFilter\n"
        "print(repr(SafeExceptionReporterFilter().get_safe_settings()))\n"
    )
    shown = shell(
        with_password,
        code,
        TILTBOB_DEBUG="1",
        TILTBOB_SECRET_KEYS=KEY,
        SMTP_URL=f"smtp://crew:{SMTP_PASSWORD}@mail.example.org:587",
    )
    assert "DATABASES" in shown and "SECRET_KEY" in shown
    for secret in (DB_PASSWORD, SMTP_PASSWORD, KEY):
        assert secret not in shown
