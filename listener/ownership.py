"""Which endpoints this process drives: the endpoints are reloaded on a config change, and a
session advisory lock is taken per enabled endpoint on a connection of its own; the process
holding the lock runs that endpoint's worker. When a process dies its session ends, its locks
go, and another process takes the endpoints over."""

from __future__ import annotations

import asyncio
from typing import Any

from listener import endpoints as endpoint_config
from listener.backoff import Backoff, keep_running
from listener.endpoints import Endpoint
from listener.senders import Senders
from listener.settings import ListenerSettings
from listener.store import EndpointLocks, FannedOut, Store
from listener.worker import EndpointWorker
from tiltbob.endpoint_urls import URLCipher


class Ownership:
    def __init__(
        self,
        store: Store,
        senders: Senders,
        settings: ListenerSettings,
        stopping: asyncio.Event,
        log: Any,
    ) -> None:
        self._stopping = stopping
        self._store = store
        self._senders = senders
        self._settings = settings
        self._log = log
        self._cipher = URLCipher(settings.secret_keys)
        self._wake = asyncio.Event()
        self._wake.set()  # a first load at start
        self._workers: dict[int, tuple[EndpointWorker, asyncio.Task[None]]] = {}
        self._locks: EndpointLocks | None = None
        self._endpoints: dict[int, Endpoint] = {}

    def config_changed(self) -> None:
        self._wake.set()

    def driven(self) -> list[int]:
        """The endpoints this process drives now (a worker each)."""
        return list(self._workers)

    def give_to_workers(self, fanned: FannedOut) -> None:
        """What a fan-out of this process wrote: each idle worker of ours takes its whole new
        queue as it is; every other worker of ours reads its queue."""
        for endpoint_id, deliveries in fanned.whole_queues.items():
            if endpoint_id in self._workers:
                self._workers[endpoint_id][0].take_fresh(deliveries)
        self.read_queues(fanned.to_read)

    def read_queues(self, endpoint_ids: set[int] | None = None) -> None:
        """Tell the workers (all, or those of ``endpoint_ids``) to read their queues."""
        for endpoint_id, (worker, _) in self._workers.items():
            if endpoint_ids is None or endpoint_id in endpoint_ids:
                worker.read_queue_soon()

    async def run(self) -> None:
        await keep_running(
            "ownership",
            self._wait_then_reconcile,
            backoff=Backoff(0.1, self._settings.poll_interval),
            log=self._log,
            after_failure=self._let_go,
            stopped=self._stopping.is_set,
        )

    async def shutdown(self) -> None:
        """Once the loop is cancelled: let the workers finish what is in flight, let go of the
        endpoints."""
        await self.stop_workers(graceful=True)
        await self._close_locks()

    async def _let_go(self) -> None:
        # Without the lock connection this process may no longer own its endpoints.
        await self.stop_workers(graceful=False)
        await self._close_locks()
        self._wake.set()

    async def _wait_then_reconcile(self) -> None:
        try:
            async with asyncio.timeout(self._settings.poll_interval):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()
        rows = await self._store.endpoint_rows()
        endpoints = endpoint_config.from_rows(
            rows, self._cipher, allow_http=self._settings.allow_http
        )
        if endpoints != self._endpoints:
            self._log.info("config.loaded", endpoints=len(endpoints))
            for endpoint in endpoints.values():
                if endpoint.refusal and endpoint.enabled:
                    self._log.error(
                        "endpoint.http_refused", endpoint_id=endpoint.id, error=endpoint.refusal
                    )
            self._endpoints = endpoints
        locks = await self._lock_connection()
        wanted = {e.id: e for e in endpoints.values() if e.enabled and not e.refusal}
        for endpoint_id in list(self._workers):
            if endpoint_id not in wanted:
                await self._release(endpoint_id, locks)
        for endpoint_id, endpoint in wanted.items():
            if endpoint_id in self._workers:
                self._workers[endpoint_id][0].update(endpoint)
            elif not self._stopping.is_set() and await locks.try_lock(endpoint_id):
                self._start_worker(endpoint)
        await locks.check()

    async def _lock_connection(self) -> EndpointLocks:
        if self._locks is None or not self._locks.usable:
            self._locks = await self._store.endpoint_locks()
        return self._locks

    async def _close_locks(self) -> None:
        if self._locks is not None:
            await self._locks.close()
            self._locks = None

    def _start_worker(self, endpoint: Endpoint) -> None:
        worker = EndpointWorker(endpoint, self._store, self._senders, self._settings)
        task = asyncio.create_task(worker.run(), name=f"endpoint-{endpoint.id}")
        self._workers[endpoint.id] = (worker, task)
        self._log.info("endpoint.acquired", endpoint_id=endpoint.id, kind=endpoint.kind)

    async def _release(self, endpoint_id: int, locks: EndpointLocks) -> None:
        worker, task = self._workers.pop(endpoint_id)
        worker.stop()
        await self._finish([task], graceful=True)
        await locks.unlock(endpoint_id)
        self._log.info("endpoint.released", endpoint_id=endpoint_id)

    async def stop_workers(self, *, graceful: bool) -> None:
        workers, self._workers = self._workers, {}
        for worker, _ in workers.values():
            worker.stop()
        await self._finish([task for _, task in workers.values()], graceful=graceful)

    async def _finish(self, tasks: list[asyncio.Task[None]], *, graceful: bool) -> None:
        """Let the requests in flight finish (up to the grace period), then cancel: an abandoned
        delivery stays pending and is sent again by whoever drives its endpoint next."""
        if not tasks:
            return
        if graceful:
            _, late = await asyncio.wait(tasks, timeout=self._settings.shutdown_grace)
        else:
            late = set(tasks)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
