"""Forget what is finished: deliveries done (and events with nothing left pending) older than
the retention, once at start and then every ``prune_interval``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from listener.backoff import Backoff, keep_running
from listener.settings import ListenerSettings
from listener.store import Store


class Pruner:
    def __init__(
        self, store: Store, settings: ListenerSettings, stopping: asyncio.Event, log: Any
    ) -> None:
        self._store = store
        self._settings = settings
        self._stopping = stopping
        self._log = log

    async def run(self) -> None:
        await keep_running(
            "prune",
            self._prune_then_wait,
            backoff=Backoff(0.1, self._settings.poll_interval),
            log=self._log,
            stopped=self._stopping.is_set,
        )

    async def _prune_then_wait(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=self._settings.prune_after_days)
        deliveries, events = await self._store.prune(cutoff)
        if deliveries or events:
            self._log.info(
                "prune.done", deliveries=deliveries, events=events, cutoff=cutoff.isoformat()
            )
        await asyncio.sleep(self._settings.prune_interval)
