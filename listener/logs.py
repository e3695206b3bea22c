"""Structured logs (structlog): short snake_case event names with key-value context.

A last processor cuts every known endpoint URL's secret parts out of every value, so that not
even an unexpected exception message can put a webhook token into a log line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

from tiltbob.endpoint_urls import secret_parts


class SecretScrubber:
    """Holds the secret parts of the URLs in use; replaces them with ``…`` in log values."""

    def __init__(self) -> None:
        self._pieces: list[str] = []

    def know(self, urls: Iterable[str]) -> None:
        pieces = {p for url in urls for p in secret_parts(url)}
        self._pieces = sorted(pieces | set(self._pieces), key=len, reverse=True)

    def scrub(self, value: str) -> str:
        for piece in self._pieces:
            if piece in value:
                value = value.replace(piece, "…")
        return value

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in event_dict.items():
            if isinstance(value, str):
                event_dict[key] = self.scrub(value)
            elif not isinstance(value, int | float | bool | type(None)):
                event_dict[key] = self.scrub(str(value))
        return event_dict


SCRUBBER = SecretScrubber()


def configure(log_format: str = "json") -> None:
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if log_format == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            SCRUBBER,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def get(name: str = "tiltbob") -> Any:
    return structlog.get_logger(name)
