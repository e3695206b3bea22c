"""An endpoint's "in flight" setting, with a real listener process, PostgreSQL and receiver: at 1
one request at a time, in order; above 1 that many at once, each message still sent once, and
retries, rate limits and the failure count still the endpoint's own."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import psycopg

from tests.conftest import Hook, insert_reports
from tests.processes import ListenerProcess
from tests.receiver import Receiver, Reply
from tests.waiting import wait_until
from webapp.maintenance.models import Machine

StartListener = Callable[..., ListenerProcess]
MakeHook = Callable[..., Hook]
SLOW = Reply(delay=0.3)


def test_at_one_in_flight_a_slow_endpoint_gets_one_request_at_a_time_in_order(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("ordered", ["problem_report.created"])
    receiver.behave(hook.path, lambda n: Reply(delay=0.1))
    start_listener()
    events = insert_reports(db_url, machine, 6)
    wait_until(lambda: len(receiver.at(hook.path)) == 6, what="six deliveries")
    assert receiver.event_ids(hook.path) == events
    assert receiver.most_in_flight[hook.path] == 1


def test_above_one_in_flight_that_many_requests_are_on_their_way_at_once(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hook = make_hook("parallel", ["problem_report.created"], in_flight=4)
    receiver.behave(hook.path, lambda n: SLOW)
    start_listener()
    events = insert_reports(db_url, machine, 12, per_transaction=12)
    wait_until(lambda: len(receiver.at(hook.path)) >= 12, what="twelve deliveries")
    assert Counter(receiver.event_ids(hook.path)) == Counter(events), "each exactly once"
    assert receiver.most_in_flight[hook.path] == 4


def test_above_one_in_flight_a_retry_and_a_rate_limit_hold_only_their_own_endpoint(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    busy = make_hook("busy", ["problem_report.created"], in_flight=4)
    calm = make_hook("calm", ["problem_report.created"])
    limited = json.dumps({"message": "You are being rate limited.", "retry_after": 1.0}).encode()
    # The first request fails with a 500; the second is answered, after 0.3 s, with a 429 asking
    # for a second's rest; the others take 50 ms each.
    answers = {0: Reply(500), 1: Reply(429, limited, delay=0.3)}
    receiver.behave(busy.path, lambda n: answers.get(n, Reply(delay=0.05)))
    start_listener("--retry-max-delay", "5")
    events = insert_reports(db_url, machine, 40, per_transaction=40)

    def delivered(hook: Hook) -> int:
        with psycopg.connect(db_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM notification_deliveries"
                " WHERE endpoint_id = %s AND status = 'delivered'",
                [hook.endpoint.pk],
            ).fetchone()
        return row[0] if row else 0

    wait_until(lambda: delivered(busy) == 40, timeout=30, what="all forty delivered to busy")
    arrivals = receiver.at(busy.path)
    limited_at = arrivals[1].at + 0.3
    # Nothing new reached the busy endpoint during the second it asked for (what was already on
    # its way when the 429 came back may land just after it) ...
    during = [a.at - limited_at for a in arrivals if limited_at + 0.05 < a.at < limited_at + 0.9]
    assert not during, f"requests {during} s into the endpoint's rest"
    assert max(a.at for a in arrivals) >= limited_at + 0.9, "the rest waited for it"
    # ... while the calm one was served meanwhile, in order.
    assert receiver.event_ids(calm.path) == events
    assert max(a.at for a in receiver.at(calm.path)) < limited_at + 0.9
    # Every event reached busy; the two refused ones were tried twice, the others once.
    counts = Counter(receiver.event_ids(busy.path))
    assert set(counts) == set(events)
    assert sorted(counts.values()) == [1] * 38 + [2] * 2
    with psycopg.connect(db_url) as conn:
        health = conn.execute(
            "SELECT endpoint_id, consecutive_failures, last_failure_at IS NOT NULL"
            " FROM notification_endpoint_health WHERE endpoint_id = ANY(%s) ORDER BY 1",
            [[busy.endpoint.pk, calm.endpoint.pk]],
        ).fetchall()
    assert health == [(busy.endpoint.pk, 0, True), (calm.endpoint.pk, 0, False)]


def test_two_listeners_above_one_in_flight_send_each_message_exactly_once(
    start_listener: StartListener,
    make_hook: MakeHook,
    receiver: Receiver,
    machine: Machine,
    db_url: str,
) -> None:
    hooks = [make_hook(f"crew{n}", ["problem_report.created"], in_flight=4) for n in range(3)]
    start_listener()
    start_listener()
    events = insert_reports(db_url, machine, 300, per_transaction=10)

    def all_arrived() -> bool:
        return all(len(receiver.at(hook.path)) >= 300 for hook in hooks)

    wait_until(all_arrived, timeout=90, what="300 deliveries to each endpoint")
    for hook in hooks:
        counts = Counter(receiver.event_ids(hook.path))
        assert set(counts) == set(events)
        assert set(counts.values()) == {1}, "a delivery arrived twice"
