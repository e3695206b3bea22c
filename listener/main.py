"""``tiltbob listen``: run the listener until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import threading
from collections.abc import Coroutine, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from listener import logs
from listener.http import HttpSender, http_transport
from listener.mail import MailSender, SmtpConfig, default_sender
from listener.retry import RetryPolicy
from listener.senders import Senders
from listener.service import Listener
from listener.settings import ListenerSettings
from listener.store import Store
from tiltbob import database, environment, keys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = {name: f.default for name, f in ListenerSettings.__dataclass_fields__.items()}
    r = RetryPolicy()
    options = [
        (
            "--poll-interval",
            d["poll_interval"],
            "seconds between looks for work a lost wake-up would leave",
        ),
        ("--connect-timeout", d["connect_timeout"], "seconds to connect to an endpoint"),
        ("--read-timeout", d["read_timeout"], "seconds to wait for an endpoint's answer"),
        ("--retry-first-delay", r.first_delay, "seconds before the first retry; doubles each time"),
        ("--retry-max-delay", r.max_delay, "longest wait between attempts, in seconds"),
        ("--give-up-after", r.give_up_after, "seconds after which a failing delivery is failed"),
        (
            "--prune-after-days",
            d["prune_after_days"],
            "delete finished deliveries after this many days",
        ),
        ("--shutdown-grace", d["shutdown_grace"], "seconds SIGTERM waits for requests in flight"),
    ]
    for flag, default, text in options:
        parser.add_argument(flag, type=float, default=default, help=f"{text} (default {default:g})")


def settings_from(options: argparse.Namespace) -> ListenerSettings:
    env = environment.load()
    logs.configure(env.log_format)
    try:
        smtp = SmtpConfig.from_url(env.smtp_url) if env.smtp_url else None
    except ValueError as error:
        raise environment.ConfigurationError(str(error)) from None
    return ListenerSettings(
        database_url=database.url(env),
        site_url=env.site_url,
        secret_keys=keys.secret_keys(env),
        allow_http=env.allow_http,
        allow_private_endpoints=env.allow_private_endpoints,
        smtp=smtp,
        mail_from=default_sender(smtp, env.site_host),
        poll_interval=options.poll_interval,
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        retry=RetryPolicy(
            first_delay=options.retry_first_delay,
            max_delay=options.retry_max_delay,
            give_up_after=options.give_up_after,
        ),
        prune_after_days=options.prune_after_days,
        shutdown_grace=options.shutdown_grace,
        time_zone=ZoneInfo(env.time_zone),
    )


def stop_requests() -> threading.Event:
    """SIGTERM and Ctrl-C from now on set the event, rather than end the process at once:
    one that arrives while the listener is starting is answered once it has started."""
    requested = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: requested.set())
    return requested


async def serve(settings: ListenerSettings, stop_requested: threading.Event | None = None) -> None:
    """The listener with what it needs, each opened here and closed on the way out."""
    s = settings
    async with (
        Store.open(
            s.database_url, pool_size=s.pool_size, connect_timeout=s.connect_timeout
        ) as store,
        http_transport(
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            allow_private=s.allow_private_endpoints,
        ) as http,
    ):
        senders = Senders(
            http=HttpSender(
                http, request_timeout=s.request_timeout, allow_private=s.allow_private_endpoints
            ),
            mail=MailSender(s.smtp, timeout=s.connect_timeout + s.read_timeout),
        )
        listener = Listener(settings, store, senders)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, listener.stop)
        if stop_requested is not None and stop_requested.is_set():
            listener.stop()  # asked to stop while starting
        await listener.run()


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (a cheaper event loop), else on asyncio's own."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tiltbob listen", description="Deliver the outbox's events to the endpoints."
    )
    add_arguments(parser)
    settings = settings_from(parser.parse_args(argv))
    run_loop(serve(settings, stop_requests()))
    return 0
