"""The fan-out loop: claim the events committed since last time, write one delivery per
subscribed, enabled endpoint (``tiltbob_fan_out``, one round trip), and give what it wrote to
the workers of this process; other listeners hear of it only if it wrote for an endpoint this
process does not drive. Woken by NOTIFY, and by the poll timer for a lost wake-up."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Collection
from typing import Any

from listener.backoff import Backoff, keep_running
from listener.settings import ListenerSettings
from listener.store import FannedOut, Store

GAP = 0.005
"""Seconds between the starts of two fan-outs, at least."""


class FanOut:
    def __init__(
        self,
        store: Store,
        settings: ListenerSettings,
        origin: str,
        driven: Callable[[], Collection[int]],
        give_to_workers: Callable[[FannedOut], None],
        stopping: asyncio.Event,
        log: Any,
    ) -> None:
        self._store = store
        self._settings = settings
        self._origin = origin
        self._driven = driven
        self._give_to_workers = give_to_workers
        self._log = log
        self._stopping = stopping
        self._wake = asyncio.Event()
        self._wake.set()  # a first look at start
        self._last_start = 0.0  # monotonic

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        await keep_running(
            "fan_out",
            self._wait_then_fan_out,
            backoff=Backoff(0.1, self._settings.poll_interval),
            log=self._log,
            after_failure=self._look_again,
            stopped=self._stopping.is_set,
        )

    async def _look_again(self) -> None:
        self._wake.set()  # what failed is still to be fanned out: no need for a wake-up

    async def _wait_then_fan_out(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._settings.poll_interval):
                await self._wake.wait()
        self._wake.clear()
        # Under a stream of commits, a fan-out per commit would cost more than the rest of the
        # delivery; a short breather lets the next few gather into one. A lone event goes at once.
        breather = self._last_start + GAP - time.monotonic()
        if breather > 0:
            await asyncio.sleep(breather)
        self._last_start = time.monotonic()
        batch = self._settings.fan_out_batch
        while not self._stopping.is_set():
            fanned = await self._store.fan_out(batch, self._origin, self._driven())
            self._give_to_workers(fanned)
            # Let the workers just given something send it before this bookkeeping.
            await asyncio.sleep(0)
            if fanned.events:
                self._log.info(
                    "events.fanned_out", events=fanned.events, endpoints=len(fanned.endpoints)
                )
            if fanned.events < batch:
                break
