"""Endpoint URLs: validation, kinds, masking, redaction, and encryption with key rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from tiltbob.endpoint_urls import (
    InvalidEndpointURL,
    URLCipher,
    guess_kind,
    mask,
    redact,
    validate,
)

DISCORD = "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
SLACK = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        (DISCORD, "discord"),
        ("https://discordapp.com/api/webhooks/1/x", "discord"),
        (SLACK, "slack"),
        ("mailto:crew@example.org", "email"),
        ("https://example.org/hooks/tiltbob", "json"),
        ("https://discord.com/channels/1/2", "json"),
    ],
)
def test_kind_is_guessed_from_the_url(url: str, kind: str) -> None:
    assert guess_kind(url) == kind


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        ("discord.com/api/webhooks/1/x", "must start with https://"),
        ("ftp://example.org/x", "must start with https://"),
        ("http://example.org/x", "plain http:// is refused"),
        ("https://exa mple.org/x", "spaces"),
        ("https://example.org:99999/x", "port is malformed"),
        ("https:///nohost", "no host"),
        ("mailto:", "one or more addresses"),
        ("mailto:not-an-address", "one or more addresses"),
        ("https://example.org/x\r\nX-Injected: 1", "line breaks"),
    ],
)
def test_a_bad_url_is_refused_with_a_reason_that_does_not_repeat_it(url: str, reason: str) -> None:
    with pytest.raises(InvalidEndpointURL) as caught:
        validate(url, allow_http=False)
    assert reason in str(caught.value)
    if len(url) > 8:
        assert url not in str(caught.value)


def test_http_only_when_allowed() -> None:
    assert validate("http://127.0.0.1:9000/x", allow_http=True) == "http://127.0.0.1:9000/x"


def test_several_mail_recipients() -> None:
    url = "mailto:ana@example.org,ben@example.org"
    assert validate(url, allow_http=False) == url
    assert mask(url) == "mailto:a…@example.org,b…@example.org"


def test_mask_shows_too_little_to_use() -> None:
    masked = mask(DISCORD)
    assert masked == "https://discord.com/…6789"
    assert "AbCdEf" not in masked and "123456789012345678" not in masked


def test_redact_cuts_every_secret_part() -> None:
    text = (
        f"error posting to {DISCORD}; token AbCdEfGhIjKlMnOpQrStUvWxYz0123456789;"
        " id 123456789012345678"
    )
    cleaned = redact(text, DISCORD)
    assert "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" not in cleaned
    assert "123456789012345678" not in cleaned
    assert cleaned.startswith("error posting to")


def test_encrypted_urls_survive_a_key_rotation() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = URLCipher([old]).encrypt(DISCORD)
    assert DISCORD not in token
    rotated = URLCipher([new, old])
    assert rotated.decrypt(token) == DISCORD
    # Re-encrypted under the newest key, the old one can go.
    assert URLCipher([new]).decrypt(rotated.rotate(token)) == DISCORD
    with pytest.raises(InvalidEndpointURL, match="cannot be decrypted"):
        URLCipher([new]).decrypt(token)
