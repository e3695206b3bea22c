"""``tiltbob listen``: run the listener until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

from listener import logs
from listener.mail import SmtpConfig, default_sender
from listener.retry import RetryPolicy
from listener.service import Listener
from listener.settings import ListenerSettings
from tiltbob import database, environment, keys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = ListenerSettings.__dataclass_fields__
    r = RetryPolicy()
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=d["poll_interval"].default,
        help="seconds between looks for work a lost wake-up would leave (default 5)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=d["connect_timeout"].default,
        help="seconds to connect to an endpoint (default 5)",
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=d["read_timeout"].default,
        help="seconds to wait for an endpoint's answer (default 15)",
    )
    parser.add_argument(
        "--retry-first-delay",
        type=float,
        default=r.first_delay,
        help="seconds before the first retry; doubles each time (default 2)",
    )
    parser.add_argument(
        "--retry-max-delay",
        type=float,
        default=r.max_delay,
        help="longest wait between attempts (default 3600)",
    )
    parser.add_argument(
        "--give-up-after",
        type=float,
        default=r.give_up_after,
        help="seconds after which a failing delivery is marked failed (default 86400)",
    )
    parser.add_argument(
        "--prune-after-days",
        type=float,
        default=d["prune_after_days"].default,
        help="delete finished deliveries and their events after this many days (default 30)",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=d["shutdown_grace"].default,
        help="seconds SIGTERM waits for requests in flight (default 10)",
    )


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
    )


async def serve(settings: ListenerSettings) -> None:
    listener = Listener(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, listener.stop)
    await listener.run()


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tiltbob listen", description="Deliver the outbox's events to the endpoints."
    )
    add_arguments(parser)
    asyncio.run(serve(settings_from(parser.parse_args(argv))))
    return 0
