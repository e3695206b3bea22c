"""Discord forum channels: a thread per problem report and per machine, opened by the first
message about it and used for everything after, against a local receiver that behaves as
Discord does (tests.receiver.DiscordForum), with real listener processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import CommandError, call_command

from listener import logs
from listener.messages import Message
from listener.outcome import Outcome, Result
from listener.render import RenderContext, discord, render
from listener.render.threads import THREAD_NAME, subject_of
from listener.threads import ForumThreads
from tests.conftest import Hook, delivery_statuses
from tests.processes import ListenerProcess
from tests.receiver import DiscordForum, Receiver
from tests.rendering import NOW, SITE, check_discord, delivery, endpoint
from tests.test_plans import add_endpoint
from tests.waiting import wait_until
from tiltbob.catalogue import EVENT_TYPES
from tiltbob.samples import snapshot
from webapp.maintenance.models import Machine, MachineStatus, ProblemReport
from webapp.notifications.models import Endpoint

GOLDEN = Path(__file__).resolve().parent / "golden" / "discord-forum"
UPDATE = bool(os.environ.get("TILTBOB_UPDATE_GOLDEN"))


# -- which thread ------------------------------------------------------------------------------


def test_each_event_finds_its_subjects_thread() -> None:
    def subject(event_type: str, **changes: Any) -> tuple[str, str]:
        found = subject_of(delivery(event_type, {**snapshot(event_type), **changes}))
        return found.key, found.name

    report = ("report:12", "Medieval Madness · Stuck ball #12")
    assert subject("problem_report.created") == report
    assert subject("problem_report.closed") == report
    assert subject("problem_report.reopened") == report
    # A work log tied to the report goes into the report's thread; one tied to none, the machine's.
    assert (
        subject(
            "log_entry.created", problem_report=snapshot("problem_report.created")["problem_report"]
        )
        == report
    )
    machine = ("machine:1", "Medieval Madness")
    assert subject("log_entry.created") == machine
    assert subject("machine.status_changed") == machine
    assert subject("machine.added") == machine
    assert subject("endpoint.disabled") == ("notifier", "tiltbob: endpoints")
    test = subject_of(
        delivery("problem_report.created", snapshot("problem_report.created", test=True))
    )
    assert test.key == "test:42" and test.name.startswith("🧪 TEST")


def test_a_thread_name_keeps_within_discords_limit() -> None:
    snap = snapshot("problem_report.created")
    snap["machine"] = {**snap["machine"], "name": "Attack from Mars " * 20}
    name = subject_of(delivery("problem_report.created", snap)).name
    assert len(name) <= THREAD_NAME and name.endswith("…")


def test_a_forum_message_carries_one_subjects_deliveries() -> None:
    report = snapshot("problem_report.created")["problem_report"]
    queue = [
        delivery("problem_report.created", snapshot("problem_report.created"), event_id=1),
        delivery(
            "log_entry.created",
            {**snapshot("log_entry.created"), "problem_report": report},
            event_id=2,
        ),
        delivery("machine.status_changed", snapshot("machine.status_changed"), event_id=3),
        delivery("problem_report.closed", snapshot("problem_report.closed"), event_id=4),
    ]
    messages = discord.render(queue, SITE, forum=True)
    assert [[d.event_id for d in m.deliveries] for m in messages] == [[1, 2], [3], [4]]
    assert [m.thread.key for m in messages if m.thread] == ["report:12", "machine:1", "report:12"]
    # To a text channel, as before: one message, no thread.
    (plain,) = discord.render(queue, SITE)
    assert plain.thread is None and len(plain.deliveries) == 4


# -- a report's life, as the forum receives it (golden files) ----------------------------------


class Kept:
    """The thread store, in memory."""

    def __init__(self) -> None:
        self.threads: dict[str, str] = {}

    async def thread_of(self, endpoint_id: int, subject: str) -> str | None:
        return self.threads.get(subject)

    async def keep_thread(self, endpoint_id: int, subject: str, thread_id: str) -> None:
        self.threads[subject] = thread_id

    async def forget_thread(self, endpoint_id: int, subject: str, thread_id: str) -> None:
        self.threads.pop(subject, None)


def readable(message: Message) -> str:
    query = "&".join(f"{k}={v}" for k, v in message.query.items())
    return (
        f"query: ?{query}\n\n"
        + json.dumps(json.loads(message.body), indent=2, ensure_ascii=False)
        + "\n"
    )


def test_a_reports_life_in_a_forum_golden() -> None:
    asyncio.run(_a_reports_life())


async def _a_reports_life() -> None:
    report = snapshot("problem_report.created")["problem_report"]
    life = {
        "opened": delivery("problem_report.created", snapshot("problem_report.created")),
        "logged": delivery(
            "log_entry.created",
            {**snapshot("log_entry.created"), "problem_report": report},
            event_id=43,
        ),
        "closed": delivery("problem_report.closed", snapshot("problem_report.closed"), event_id=44),
    }
    forum = endpoint("discord")
    forum = type(forum)(**{**forum.__dict__, "forum": True})
    threads = ForumThreads(Kept(), forum.id, logs.get())
    context = RenderContext(SITE, "tiltbob@museum.example.org", NOW)
    for step, d in life.items():
        (message,) = render(forum, [d], context)
        sent = await threads.address(message)
        check_discord(json.loads(sent.body))
        text = readable(sent)
        path = GOLDEN / f"{step}.txt"
        if UPDATE:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        assert path.exists(), f"no golden file {path}: run with TILTBOB_UPDATE_GOLDEN=1"
        assert text == path.read_text(), step
        answer = json.dumps({"id": "2000", "channel_id": "1001"}).encode()
        await threads.settle(sent, Outcome(Result.DELIVERED, 200, None, 1.0, answer=answer))


# -- end to end ----------------------------------------------------------------------------------


@pytest.fixture
def forum(receiver: Receiver) -> Callable[[Hook], DiscordForum]:
    def make(hook: Hook) -> DiscordForum:
        fake = DiscordForum()
        receiver.answer(hook.path, fake)
        return fake

    return make


def forum_hook(make_hook: Callable[..., Hook], name: str) -> Hook:
    # Not machine.added: the machine fixture's own event would open the machine's thread first.
    events = [t for t in EVENT_TYPES if t != "machine.added"]
    hook = make_hook(name, events, kind="discord")
    Endpoint.objects.filter(pk=hook.endpoint.pk).update(forum=True)
    return hook


def log_work(db_url: str, machine: Machine, report: ProblemReport, text: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO log_entries (machine_id, problem_report_id, text) VALUES (%s, %s, %s)",
            [machine.pk, report.pk, text],
        )


def stored_threads(db_url: str, endpoint_id: int) -> dict[str, str]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT subject, thread_id FROM notification_threads WHERE endpoint_id = %s",
            [endpoint_id],
        ).fetchall()
    return dict(rows)


def types_in(fake: DiscordForum, thread: str) -> list[str]:
    """The event types posted into a thread, in order (embeds' titles say them)."""
    return [embed["title"] for post in fake.posts.get(thread, []) for embed in post.json["embeds"]]


def test_a_report_opens_its_thread_and_everything_about_it_follows_there(
    make_hook: Callable[..., Hook],
    forum: Callable[[Hook], DiscordForum],
    start_listener: Callable[..., ListenerProcess],
    db_url: str,
    machine: Machine,
) -> None:
    hook = forum_hook(make_hook, "forum")
    fake = forum(hook)
    start_listener()

    report = ProblemReport.objects.create(
        machine=machine, problem_type="stuck_ball", description="behind the gate"
    )
    thread = wait_until(lambda: fake.threads and fake.thread_of("Stuck ball"), what="a thread")
    assert fake.threads[thread] == f"Medieval Madness · Stuck ball #{report.pk}"
    log_work(db_url, machine, report, "freed the ball")
    report.status = "closed"
    report.save()
    wait_until(lambda: len(types_in(fake, thread)) == 3, what="the log and the closing, in it")
    titles = types_in(fake, thread)
    assert titles[0].startswith("🚨 Problem report") and titles[1].startswith("🔧 Work logged")
    assert titles[2].startswith("✅ Report closed")
    for post in fake.posts[thread]:
        check_discord(post.json)
    # Into the thread: one post each, or one for both when they queued up together.
    later = fake.posts[thread][1:]
    assert later and {p.query for p in later} == {f"wait=true&thread_id={thread}"}

    # The machine's own events go to the machine's thread, opened once and reused.
    machine.status = MachineStatus.BROKEN
    machine.save()
    wait_until(lambda: len(fake.threads) == 2, what="the machine's thread")
    (machine_thread,) = [t for t, name in fake.threads.items() if name == "Medieval Madness"]
    machine.status = MachineStatus.FIXING
    machine.save()
    wait_until(lambda: len(types_in(fake, machine_thread)) == 2, what="a second machine event")
    assert len(fake.threads) == 2
    assert stored_threads(db_url, hook.endpoint.pk) == {
        f"report:{report.pk}": thread,
        f"machine:{machine.pk}": machine_thread,
    }


def test_a_thread_deleted_on_discords_side_gets_a_new_one(
    make_hook: Callable[..., Hook],
    forum: Callable[[Hook], DiscordForum],
    start_listener: Callable[..., ListenerProcess],
    db_url: str,
    machine: Machine,
) -> None:
    hook = forum_hook(make_hook, "forum")
    fake = forum(hook)
    listener = start_listener()
    report = ProblemReport.objects.create(machine=machine, problem_type="no_credits")
    first = wait_until(lambda: fake.threads and fake.thread_of("No credits"), what="a thread")
    fake.deleted.add(first)

    report.status = "closed"
    report.save()
    wait_until(lambda: len(fake.threads) == 2, what="a new thread for the report")
    second = next(t for t in fake.threads if t != first)
    wait_until(lambda: types_in(fake, second), what="the closing, opening the new thread")
    assert types_in(fake, second)[0].startswith("✅ Report closed")
    assert stored_threads(db_url, hook.endpoint.pk) == {f"report:{report.pk}": second}
    listener.wait_for("thread.gone", thread_id=first)
    statuses = delivery_statuses(db_url, hook.endpoint.pk)
    assert statuses == {"delivered": 2}, "nothing failed, nothing left behind"


def test_a_reports_thread_survives_a_listener_restart(
    make_hook: Callable[..., Hook],
    forum: Callable[[Hook], DiscordForum],
    start_listener: Callable[..., ListenerProcess],
    machine: Machine,
) -> None:
    hook = forum_hook(make_hook, "forum")
    fake = forum(hook)
    first = start_listener()
    report = ProblemReport.objects.create(machine=machine, problem_type="wont_start")
    thread = wait_until(lambda: fake.threads and fake.thread_of("start"), what="a thread")
    first.kill(signal.SIGTERM)
    start_listener()
    report.status = "closed"
    report.save()
    wait_until(lambda: len(types_in(fake, thread)) == 2, what="the closing, in the same thread")
    assert len(fake.threads) == 1


def test_two_listeners_opening_a_reports_thread_at_once_leave_one_thread_in_use(
    make_hook: Callable[..., Hook],
    forum: Callable[[Hook], DiscordForum],
    start_listener: Callable[..., ListenerProcess],
    receiver: Receiver,
    db_url: str,
    machine: Machine,
) -> None:
    """The first listener is opening the report's thread when it dies, its request still in
    flight; the second takes the endpoint over, opens the thread itself, and everything later
    about the report follows it there, in order."""
    hook = forum_hook(make_hook, "forum")
    fake = forum(hook)
    fake.hold_openings.set()
    first = start_listener()
    first.wait_for("endpoint.acquired", endpoint_id=hook.endpoint.pk)
    second = start_listener()
    report = ProblemReport.objects.create(machine=machine, problem_type="stuck_ball")
    wait_until(lambda: receiver.at(hook.path), what="the first listener opening the thread")
    log_work(db_url, machine, report, "looked at it")

    first.kill(signal.SIGKILL)
    fake.hold_openings.clear()
    second.wait_for("endpoint.acquired", endpoint_id=hook.endpoint.pk, timeout=30)
    thread = wait_until(lambda: fake.threads and fake.thread_of("Stuck ball"), what="a thread")
    report.status = "closed"
    report.save()
    wait_until(lambda: len(types_in(fake, thread)) == 3, what="the report's life, in its thread")
    titles = types_in(fake, thread)
    assert [t.split(":")[0] for t in titles] == [
        "🚨 Problem report",
        "🔧 Work logged",
        "✅ Report closed",
    ]
    assert len(fake.threads) == 1
    assert stored_threads(db_url, hook.endpoint.pk) == {f"report:{report.pk}": thread}


def test_two_listeners_with_a_forum_each_keep_their_threads_apart(
    make_hook: Callable[..., Hook],
    forum: Callable[[Hook], DiscordForum],
    start_listener: Callable[..., ListenerProcess],
    db_url: str,
    machine: Machine,
) -> None:
    hooks = [forum_hook(make_hook, name) for name in ("north", "south")]
    fakes = [forum(h) for h in hooks]
    for fake, first_id in zip(fakes, (5_000_000, 7_000_000), strict=True):
        fake._next = first_id  # each forum numbers its threads its own way, as channels do
    start_listener()
    start_listener()
    report = ProblemReport.objects.create(machine=machine, problem_type="stuck_ball")

    def opened(fake: DiscordForum) -> str:
        return str(
            wait_until(lambda: fake.threads and fake.thread_of("Stuck ball"), what="a thread")
        )

    threads = [opened(fake) for fake in fakes]
    report.status = "closed"
    report.save()
    for fake, thread, hook in zip(fakes, threads, hooks, strict=True):
        wait_until(lambda: len(types_in(fake, thread)) == 2, what="the closing")  # noqa: B023
        assert stored_threads(db_url, hook.endpoint.pk) == {f"report:{report.pk}": thread}


# -- settings ----------------------------------------------------------------------------------


def test_only_a_discord_endpoint_can_be_a_forum(raw: psycopg.Connection[Any]) -> None:
    json_endpoint = add_endpoint(raw, "plain")
    raw.commit()
    with pytest.raises(CommandError, match="only a Discord endpoint"):
        call_command("endpoints", "edit", str(json_endpoint), "--forum")
    call_command("endpoints", "edit", str(json_endpoint), "--kind", "discord", "--forum")
    assert Endpoint.objects.get(pk=json_endpoint).forum
    call_command("endpoints", "edit", str(json_endpoint), "--no-forum")
    assert not Endpoint.objects.get(pk=json_endpoint).forum
