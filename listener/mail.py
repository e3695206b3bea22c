"""How to send a mail: SMTP per ``SMTP_URL`` with aiosmtplib, answers sorted into delivered,
retry (4xx, connection trouble) or failed (5xx, every recipient refused)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from listener.messages import Message
from listener.outcome import Outcome, Result
from tiltbob.endpoint_urls import mail_recipients, tidy_error

ERROR_LIMIT = 300


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    mail_from: str | None = None
    starttls: bool | None = None
    """True: required (no password without it); None: when offered; False: never."""

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """``smtp://[user:password@]host[:port][?from=address][&starttls=off]`` or ``smtps://…``
        (TLS from the first byte, port 465 by default).

        With credentials, ``smtp://`` requires STARTTLS: a server (or someone in between) that
        does not offer it gets no password. Without credentials STARTTLS is used when offered;
        ``starttls=off`` (a local relay) never uses it, and is refused with credentials."""
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError(
                "SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465"
            )
        implicit = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        sender = query["from"][0] if "from" in query else None
        starttls_off = query.get("starttls", ["on"])[0].lower() in {"off", "false", "no", "0"}
        if starttls_off and parts.username:
            raise ValueError(
                "SMTP_URL: starttls=off would send the password in clear; keep STARTTLS, use "
                "smtps://, or drop the credentials (for a local relay that needs none)"
            )
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            mail_from=sender,
            starttls=False if starttls_off else (True if parts.username else None),
        )


def default_sender(config: SmtpConfig | None, site_host: str) -> str:
    if config and config.mail_from:
        return config.mail_from
    return f"tiltbob@{site_host}"


class MailSender:
    def __init__(self, config: SmtpConfig | None, *, timeout: float) -> None:
        self._config = config
        self._timeout = timeout

    async def send(self, url: str, message: Message) -> Outcome:
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 3)

        if message.mail is None:
            return Outcome(Result.FAILED, None, "nothing to mail", elapsed())
        if self._config is None:
            return Outcome(
                Result.RETRY, None, "SMTP_URL is not set: mail cannot be sent", elapsed()
            )
        c = self._config
        try:
            errors, _ = await aiosmtplib.send(
                message.mail,
                recipients=mail_recipients(url),
                hostname=c.host,
                port=c.port,
                username=c.username,
                password=c.password,
                use_tls=c.implicit_tls,
                start_tls=False if c.implicit_tls else c.starttls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            return Outcome(
                Result.FAILED, None, _short(f"every recipient refused: {error}"), elapsed()
            )
        except aiosmtplib.SMTPResponseException as error:
            result = Result.FAILED if error.code >= 500 else Result.RETRY
            return Outcome(
                result, error.code, _short(f"SMTP {error.code}: {error.message}"), elapsed()
            )
        except aiosmtplib.SMTPException as error:
            reason = f"{type(error).__name__}: {error}"
            if c.starttls and "STARTTLS" in str(error):
                reason = (
                    "the mail server does not offer STARTTLS, so the password was not sent: "
                    "use a server that offers it, or smtps://"
                )
            return Outcome(Result.RETRY, None, _short(reason), elapsed())
        except OSError as error:
            return Outcome(
                Result.RETRY, None, _short(f"{type(error).__name__}: {error}"), elapsed()
            )
        refused = ", ".join(sorted(errors))
        return Outcome(
            Result.DELIVERED,
            250,
            f"some recipients refused: {refused}" if refused else None,
            elapsed(),
        )


def _short(text: str) -> str:
    return tidy_error(text, ERROR_LIMIT)
