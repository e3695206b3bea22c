"""Forget what is finished: deliveries done (and events with nothing left pending) older than
the retention, once at start and then every ``prune_interval``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from listener.backoff import Backoff, keep_running
from listener.settings import ListenerSettings
from listener.store import Store

PRUNE_BATCH = 5000
"""Rows a prune statement takes at most."""


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
        deliveries = events = 0
        more = True
        # In batches: a long history (a first prune, a year of events) is taken a few thousand
        # rows at a time, each a short statement that the deliveries' own never wait behind.
        while more and not self._stopping.is_set():
            gone, emptied, more = await self._store.prune(cutoff, PRUNE_BATCH)
            deliveries, events = deliveries + gone, events + emptied
            await asyncio.sleep(0)
        if deliveries or events:
            self._log.info(
                "prune.done", deliveries=deliveries, events=events, cutoff=cutoff.isoformat()
            )
        await asyncio.sleep(self._settings.prune_interval)
