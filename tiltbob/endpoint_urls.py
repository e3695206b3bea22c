"""Endpoint URLs: checking them, guessing their kind, encrypting them at rest, masking them.

A URL is a secret (a Discord webhook URL is a bearer token): it is stored only encrypted,
shown only masked, and never written to a log line or an error message.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

MAILTO = "mailto"
_ADDRESS = re.compile(r"^[^@\s<>,;:\"\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


class InvalidEndpointURL(ValueError):
    """The URL cannot be used; the message says why, without repeating the URL."""


def mail_recipients(url: str) -> list[str]:
    """The addresses of a ``mailto:`` URL (comma-separated, as RFC 6068 allows)."""
    parts = urlsplit(url)
    return [unquote(a).strip() for a in parts.path.split(",") if a.strip()]


def validate(url: str, *, allow_http: bool) -> str:
    """The URL, stripped, if it can be an endpoint; else :class:`InvalidEndpointURL`."""
    url = url.strip()
    if any(c in url for c in "\r\n\t ") or not url:
        raise InvalidEndpointURL("the URL is empty or contains spaces or line breaks")
    parts = urlsplit(url)
    if parts.scheme == MAILTO:
        recipients = mail_recipients(url)
        if not recipients or not all(_ADDRESS.match(a) for a in recipients):
            raise InvalidEndpointURL(
                "a mailto: URL needs one or more addresses, e.g. mailto:crew@example.org"
            )
        return url
    if parts.scheme not in {"https", "http"}:
        raise InvalidEndpointURL("the URL must start with https:// (or be a mailto: address list)")
    if parts.scheme == "http" and not allow_http:
        raise InvalidEndpointURL(
            "plain http:// is refused: use https://, or set TILTBOB_ALLOW_HTTP=1 for local testing"
        )
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise InvalidEndpointURL("the URL's host or port is malformed") from None
    if not host:
        raise InvalidEndpointURL("the URL has no host")
    return url


DISCORD_HOSTS = {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}
LOOKS_LIKE = {
    "discord": "A Discord webhook URL looks like https://discord.com/api/webhooks/<id>/<token>"
    " (the channel's settings → Integrations → Webhooks → Copy Webhook URL).",
    "slack": "A Slack incoming-webhook URL looks like https://hooks.slack.com/services/T…/B…/…"
    " (the Slack app's Incoming Webhooks page).",
    "email": "Mail endpoints are mailto: addresses, e.g. mailto:crew@example.org,ana@example.org.",
    "json": "A JSON webhook needs an https:// URL, e.g. https://example.org/hooks/tiltbob.",
}


def validate_for_kind(url: str, kind: str, *, allow_http: bool) -> str:
    """The URL, stripped, if it suits ``kind``; else InvalidEndpointURL saying what is wrong and
    what a right one looks like. With TILTBOB_ALLOW_HTTP (development, tests) any http(s) host
    may stand in for Discord's or Slack's, e.g. a local receiver."""
    try:
        url = validate(url, allow_http=allow_http)
    except InvalidEndpointURL as error:
        raise InvalidEndpointURL(f"{error}. {LOOKS_LIKE.get(kind, '')}".strip()) from None
    parts = urlsplit(url)
    is_mail = parts.scheme == "mailto"
    if (kind == "email") != is_mail:
        raise InvalidEndpointURL(
            "This is not a mailto: URL. " + LOOKS_LIKE["email"]
            if kind == "email"
            else f"A mailto: URL is for the Email kind. {LOOKS_LIKE.get(kind, '')}"
        )
    local = allow_http and parts.scheme == "http"
    if kind == "discord" and not local:
        segments = [s for s in parts.path.split("/") if s]
        if (parts.hostname or "") not in DISCORD_HOSTS or segments[:2] != ["api", "webhooks"]:
            raise InvalidEndpointURL("This is not a Discord webhook URL. " + LOOKS_LIKE["discord"])
        if len(segments) < 4:
            raise InvalidEndpointURL(
                "The Discord webhook URL is cut short: it needs the id and the token. "
                + LOOKS_LIKE["discord"]
            )
    if kind == "slack" and not local and (parts.hostname or "") != "hooks.slack.com":
        raise InvalidEndpointURL("This is not a Slack webhook URL. " + LOOKS_LIKE["slack"])
    return url


def forbidden(address: str) -> bool:
    """Loopback, private, link-local (cloud metadata services: 169.254.169.254), multicast or
    otherwise reserved: not a place on the internet a webhook should reach."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def guess_kind(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme == MAILTO:
        return "email"
    if host in {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"} and (
        parts.path.startswith("/api/webhooks/")
    ):
        return "discord"
    if host == "hooks.slack.com":
        return "slack"
    return "json"


def mask(url: str) -> str:
    """Enough to recognise an endpoint by, too little to use it."""
    parts = urlsplit(url.strip())
    if parts.scheme == MAILTO:
        shown = []
        for address in mail_recipients(url):
            local, _, domain = address.partition("@")
            shown.append(f"{local[:1]}…@{domain}")
        return "mailto:" + ",".join(shown)
    tail = (parts.path.rstrip("/") + ("?" + parts.query if parts.query else ""))[-4:]
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}/…{tail}" if tail else f"{parts.scheme}://{host}/"


def secret_parts(url: str) -> list[str]:
    """The pieces of a URL that must never be shown: path segments, query, credentials — each
    as written, percent-encoded and decoded, since an error may echo any of them."""
    parts = urlsplit(url.strip())
    pieces = [url.strip(), parts.path, parts.query, parts.password or "", parts.username or ""]
    pieces += [segment for segment in parts.path.split("/") if len(segment) >= 6]
    pieces += [value for _, value in parse_qsl(parts.query) if len(value) >= 6]
    spelled = {form for p in pieces for form in (p, quote(p, safe=""), quote(p), unquote(p))}
    return sorted({p for p in spelled if len(p) >= 4}, key=len, reverse=True)


def redact(text: str, url: str) -> str:
    """``text`` (an exception's message, say) with every secret part of ``url`` cut out."""
    for piece in secret_parts(url):
        text = text.replace(piece, "…")
    return text


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_ANY_ADDRESS = re.compile(r"([^\s@<>\"',;:()\[\]]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def tidy_error(text: str, limit: int = 300) -> str:
    """An error as it may be stored and shown: no control characters (a terminal's escape
    sequences), mail addresses masked, one line, at most ``limit`` characters."""
    text = _CONTROL.sub(" ", text)
    text = _ANY_ADDRESS.sub(lambda m: f"{m.group(1)[:1]}…@{m.group(2)}", text)
    return " ".join(text.split())[:limit]


class URLCipher:
    """Fernet under ``TILTBOB_SECRET_KEYS``: encrypts with the newest, decrypts with any."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, url: str) -> str:
        return self._fernet.encrypt(url.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise InvalidEndpointURL(_UNDECRYPTABLE) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt under the newest key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise InvalidEndpointURL(_UNDECRYPTABLE) from None


_UNDECRYPTABLE = (
    "the stored URL cannot be decrypted with TILTBOB_SECRET_KEYS: was the key that encrypted it "
    "removed? Put it back (after the newest) or enter the URL again"
)
