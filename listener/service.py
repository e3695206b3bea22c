"""The listener process: four loops around one store.

- wake-ups (``wakeups.py``): LISTEN; a notification only says where to look;
- fan-out (``fan_out.py``): events → one delivery per subscribed, enabled endpoint;
- ownership (``ownership.py``): which endpoints this process drives, a worker each
  (``worker.py``);
- prune (``prune.py``): forget what finished long ago.
"""

from __future__ import annotations

import asyncio
import secrets

from listener import logs
from listener.fan_out import FanOut
from listener.ownership import Ownership
from listener.prune import Pruner
from listener.senders import Senders
from listener.settings import ListenerSettings
from listener.store import Store
from listener.wakeups import Wakeups


class Listener:
    def __init__(self, settings: ListenerSettings, store: Store, senders: Senders) -> None:
        self._log = logs.get()
        self._stopping = asyncio.Event()
        # Sent with this process's fan-outs: their deliveries' NOTIFY is news only to others.
        origin = secrets.token_hex(8)
        stopping = self._stopping
        self._ownership = Ownership(store, senders, settings, stopping, self._log)
        self._fan_out = FanOut(
            store,
            settings,
            origin,
            self._ownership.driven,
            self._ownership.give_to_workers,
            stopping,
            self._log,
        )
        self._wakeups = Wakeups(
            store,
            poll_interval=settings.poll_interval,
            on_events=self._fan_out.wake,
            on_config=self._ownership.config_changed,
            on_deliveries=lambda payload: (
                None if payload == origin else self._ownership.read_queues()
            ),
            stopping=stopping,
            log=self._log,
        )
        self._pruner = Pruner(store, settings, stopping, self._log)
        self._poll_interval = settings.poll_interval
        self._grace = settings.shutdown_grace

    def stop(self) -> None:
        """Stop claiming; requests in flight finish (or stay pending); then run() returns."""
        if not self._stopping.is_set():
            self._log.info("listener.stopping")
        self._stopping.set()

    async def run(self) -> None:
        loops = [
            asyncio.create_task(self._wakeups.run(), name="wakeups"),
            asyncio.create_task(self._fan_out.run(), name="fan_out"),
            asyncio.create_task(self._ownership.run(), name="ownership"),
            asyncio.create_task(self._pruner.run(), name="prune"),
        ]
        self._log.info("listener.started", poll_interval=self._poll_interval)
        await self._stopping.wait()
        # Each loop also checks the stopping flag: a cancellation that a library swallows in
        # mid-query (psycopg may) cannot keep a loop going.
        for task in loops:
            task.cancel()
        _, stuck = await asyncio.wait(loops, timeout=self._grace)
        for task in stuck:
            self._log.error("listener.loop_stuck", loop=task.get_name())
        await self._ownership.shutdown()
        self._log.info("listener.stopped")
