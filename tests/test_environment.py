"""What tiltbob reads from the environment: defaults, and a clear error for an unusable value."""

from __future__ import annotations

import pytest

from tiltbob.environment import ConfigurationError, load


def test_defaults() -> None:
    env = load({})
    assert env.site_url == "http://127.0.0.1:8000"
    assert env.report_min_seconds == 3
    assert env.trusted_proxies == ()
    assert not env.allow_private_endpoints


def test_the_public_forms_minimum_fill_time_can_be_set() -> None:
    assert load({"TILTBOB_REPORT_MIN_SECONDS": "0"}).report_min_seconds == 0
    assert load({"TILTBOB_REPORT_MIN_SECONDS": " 1.5 "}).report_min_seconds == 1.5


@pytest.mark.parametrize("value", ["soon", "-1", "601", "nan"])
def test_an_unusable_minimum_fill_time_is_named(value: str) -> None:
    with pytest.raises(ConfigurationError, match="TILTBOB_REPORT_MIN_SECONDS must be"):
        load({"TILTBOB_REPORT_MIN_SECONDS": value})


def test_site_url_must_be_absolute() -> None:
    with pytest.raises(ConfigurationError, match="SITE_URL must be an absolute"):
        load({"SITE_URL": "museum.example.org"})
