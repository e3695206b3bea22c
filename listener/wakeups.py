"""LISTEN for wake-ups: one dedicated connection; each notification only says where to look.

After every (re)connect everything is looked at again, so nothing committed while nobody was
listening waits for the poll timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from listener.backoff import Backoff, keep_running
from listener.store import Store
from tiltbob.catalogue import CONFIG_CHANNEL, DELIVERIES_CHANNEL, EVENTS_CHANNEL


class Wakeups:
    def __init__(
        self,
        store: Store,
        *,
        poll_interval: float,
        on_events: Callable[[], None],
        on_config: Callable[[], None],
        on_deliveries: Callable[[str], None],
        stopping: asyncio.Event,
        log: Any,
    ) -> None:
        """``on_deliveries`` gets the payload: the origin of the fan-out that wrote them."""
        self._store = store
        self._poll_interval = poll_interval
        self._on_events = on_events
        self._on_config = on_config
        self._on_deliveries = on_deliveries
        self._log = log
        self._stopping = stopping
        self._backoff = Backoff(0.05, 5.0)

    async def run(self) -> None:
        await keep_running(
            "listener",
            self._listen,
            backoff=self._backoff,
            log=self._log,
            stopped=self._stopping.is_set,
        )

    async def _listen(self) -> None:
        channels = (EVENTS_CHANNEL, CONFIG_CHANNEL, DELIVERIES_CHANNEL)
        async with await self._store.listening(channels) as conn:
            if self._backoff.failures:
                self._log.info("listener.reconnected", after_failures=self._backoff.failures)
                self._backoff.succeeded()
            # Catch up on whatever was committed while nobody was listening.
            self._on_events()
            self._on_config()
            self._on_deliveries("")
            while not self._stopping.is_set():
                async for notify in conn.notifies(timeout=self._poll_interval):
                    self._on_notification(notify.channel, notify.payload)
                # A server gone without a goodbye shows up here, not in notifies().
                await conn.execute("SELECT 1")

    def _on_notification(self, channel: str, payload: str) -> None:
        if channel == EVENTS_CHANNEL:
            self._on_events()
        elif channel == CONFIG_CHANNEL:
            self._on_config()
        elif channel == DELIVERIES_CHANNEL:
            self._on_deliveries(payload)
