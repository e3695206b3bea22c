"""The public report form cannot flood the channels: rate limits kept in PostgreSQL, bot traps,
duplicates recognised, and the client address taken only from whom it may be trusted."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django.core import signing
from django.test import Client, override_settings

from webapp.maintenance.models import Machine, ProblemReport
from webapp.maintenance.public_form import started_token

pytestmark = pytest.mark.django_db(transaction=True)


def report(client: Client, machine: Machine, address: str = "203.0.113.7", **fields: Any) -> Any:
    data = {"problem_type": "stuck_ball", "description": "", "started": started_token(), **fields}
    return client.post(f"/p/{machine.slug}/", data, REMOTE_ADDR=address)


@override_settings(TILTBOB_REPORTS_PER_ADDRESS=(3, 600))
def test_an_address_over_its_limit_gets_a_polite_429_and_nothing_is_written(
    machine: Machine, db_url: str
) -> None:
    for n in range(3):
        assert report(Client(), machine, description=f"report {n}").status_code == 302
    turned_away = report(Client(), machine, description="one too many")
    assert turned_away.status_code == 429
    assert "that is plenty for now" in turned_away.content.decode()
    assert ProblemReport.objects.count() == 3
    # Another address is not held back by this one's reports.
    assert report(Client(), machine, address="198.51.100.9", description="x").status_code == 302
    # The count lives in PostgreSQL: what another web process or host wrote counts too.
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO visitor_submissions (address, machine_id) VALUES ('192.0.2.1', %s),"
            " ('192.0.2.1', %s), ('192.0.2.1', %s)",
            [machine.pk] * 3,
        )
    assert report(Client(), machine, address="192.0.2.1", description="y").status_code == 429


@override_settings(TILTBOB_REPORTS_PER_MACHINE=(2, 3600))
def test_a_machine_over_its_limit_turns_away_every_address(machine: Machine) -> None:
    assert report(Client(), machine, address="192.0.2.10", description="a").status_code == 302
    assert report(Client(), machine, address="192.0.2.11", description="b").status_code == 302
    assert report(Client(), machine, address="192.0.2.12", description="c").status_code == 429
    assert ProblemReport.objects.count() == 2


def test_a_filled_honeypot_is_thanked_and_nothing_is_written(machine: Machine) -> None:
    answer = report(Client(), machine, website="http://spam.example", description="buy now")
    assert answer.status_code == 302 and answer["Location"].endswith("/thanks/")
    assert not ProblemReport.objects.exists()


@override_settings(TILTBOB_REPORT_MIN_SECONDS=3)
def test_a_form_sent_back_too_fast_is_thanked_and_nothing_is_written(machine: Machine) -> None:
    assert report(Client(), machine, description="instant").status_code == 302
    assert report(Client(), machine, description="no token", started="").status_code == 302
    forged = report(Client(), machine, description="forged", started="12345")
    assert forged.status_code == 302
    assert not ProblemReport.objects.exists()
    earlier = signing.dumps(time.time() - 10, salt="tiltbob.public-form.started")
    assert report(Client(), machine, description="a person", started=earlier).status_code == 302
    assert list(ProblemReport.objects.values_list("description", flat=True)) == ["a person"]
    page = Client().get(f"/p/{machine.slug}/").content.decode()
    assert 'name="started"' in page and 'name="website"' in page


def test_the_same_words_while_an_identical_report_is_open_are_already_known(
    machine: Machine,
) -> None:
    assert report(Client(), machine, description="Ball stuck  in the GATE").status_code == 302
    again = report(Client(), machine, address="192.0.2.20", description="ball stuck in the gate")
    assert again.status_code == 200 and "We know about this one already" in again.content.decode()
    assert ProblemReport.objects.count() == 1
    other = report(
        Client(), machine, problem_type="no_credits", description="ball stuck in the gate"
    )
    assert other.status_code == 302 and ProblemReport.objects.count() == 2
    ProblemReport.objects.filter(problem_type="stuck_ball").update(status="closed")
    back = report(Client(), machine, address="192.0.2.21", description="ball stuck in the gate")
    assert back.status_code == 302 and ProblemReport.objects.count() == 3


@override_settings(TILTBOB_REPORTS_PER_ADDRESS=(1, 600), TILTBOB_TRUSTED_PROXIES=("10.0.0.1",))
def test_forwarded_for_counts_only_through_a_trusted_proxy(machine: Machine) -> None:
    first = Client().post(
        f"/p/{machine.slug}/",
        {"problem_type": "other", "description": "1"},
        HTTP_X_FORWARDED_FOR="203.0.113.50",
        REMOTE_ADDR="10.0.0.1",
    )
    second = Client().post(
        f"/p/{machine.slug}/",
        {"problem_type": "other", "description": "2"},
        HTTP_X_FORWARDED_FOR="203.0.113.51",
        REMOTE_ADDR="10.0.0.1",
    )
    assert (first.status_code, second.status_code) == (302, 302), "two clients behind the proxy"
    # Not from the proxy: the header is the sender's own claim, and ignored.
    spoofed = [
        Client().post(
            f"/p/{machine.slug}/",
            {"problem_type": "other", "description": f"s{n}"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
            REMOTE_ADDR="192.0.2.99",
        )
        for n in range(2)
    ]
    assert [a.status_code for a in spoofed] == [302, 429]


def test_logins_are_throttled_after_repeated_failures(ana: Any) -> None:
    def attempt(password: str, address: str = "203.0.113.77") -> Any:
        return Client().post(
            "/login/", {"username": ana.username, "password": password}, REMOTE_ADDR=address
        )

    for _ in range(4):
        assert attempt("wrong").status_code == 200  # the form again, with its error
    assert attempt("wrong").status_code == 429  # the fifth failure locks the pair out
    locked = attempt(ana.password)
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    # The same for the admin's login page, and only for that pair: another address may log in.
    admin = Client().post(
        "/admin/login/",
        {"username": ana.username, "password": ana.password},
        REMOTE_ADDR="203.0.113.77",
    )
    assert admin.status_code == 429
    assert attempt(ana.password, address="198.51.100.77").status_code == 302
