"""A Discord forum endpoint's threads: each message goes into its subject's thread, or opens it.

The worker sends a forum endpoint's messages one at a time, in order, and asks here just before
each: so a report's first message has opened the report's thread, and its id is written down
(``notification_threads``), before anything else about the report is sent. A thread Discord no
longer knows (deleted: 404, code 10003) is forgotten, and the message is sent again at once,
opening a new one.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Protocol

from listener.messages import Message, Subject
from listener.outcome import Outcome, Result

UNKNOWN_CHANNEL = 10003
"""Discord's error code for a channel (a thread is one) that does not exist."""


class ThreadStore(Protocol):
    async def thread_of(self, endpoint_id: int, subject: str) -> str | None: ...

    async def keep_thread(self, endpoint_id: int, subject: str, thread_id: str) -> None: ...

    async def forget_thread(self, endpoint_id: int, subject: str, thread_id: str) -> None: ...


def _json(body: bytes) -> dict[str, Any]:
    try:
        found = json.loads(body)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


class ForumThreads:
    def __init__(self, store: ThreadStore, endpoint_id: int, log: Any) -> None:
        self._store = store
        self._endpoint_id = endpoint_id
        self._log = log
        self._known: dict[str, str] = {}
        """Subject → thread id, as far as this worker has read or written them."""

    async def address(self, message: Message) -> Message:
        """The message as it must go out: into its subject's thread (``thread_id``), or opening
        it (``thread_name`` in the body)."""
        subject: Subject | None = message.thread
        if subject is None:
            return message
        thread_id = self._known.get(subject.key)
        if thread_id is None:
            thread_id = await self._store.thread_of(self._endpoint_id, subject.key)
            if thread_id is not None:
                self._known[subject.key] = thread_id
        if thread_id is not None:
            return replace(message, query={**message.query, "thread_id": thread_id})
        body = {**json.loads(message.body), "thread_name": subject.name}
        return replace(message, body=json.dumps(body, ensure_ascii=False).encode())

    async def settle(self, sent: Message, outcome: Outcome) -> Outcome:
        """Learn from the answer: the id of a thread just opened, or that a thread is gone (then
        the message is to be sent again at once, and opens a new one)."""
        subject: Subject | None = sent.thread
        if subject is None:
            return outcome
        thread_id = sent.query.get("thread_id")
        if outcome.result is Result.DELIVERED and thread_id is None:
            opened = _json(outcome.answer).get("channel_id")
            if isinstance(opened, str) and opened:
                await self._store.keep_thread(self._endpoint_id, subject.key, opened)
                self._known[subject.key] = opened
                self._log.info("thread.opened", subject=subject.key, thread_id=opened)
            else:
                # Discord always answers a wait=true post with the message; without it the next
                # message about the subject opens another thread rather than failing.
                self._log.warning("thread.id_missing", subject=subject.key)
            return outcome
        gone = _json(outcome.answer).get("code") == UNKNOWN_CHANNEL
        if outcome.status_code == 404 and thread_id is not None and gone:
            await self._store.forget_thread(self._endpoint_id, subject.key, thread_id)
            self._known.pop(subject.key, None)
            self._log.warning("thread.gone", subject=subject.key, thread_id=thread_id)
            return Outcome(
                Result.RETRY,
                404,
                "404 unknown thread: deleted on Discord's side; a new one is opened",
                outcome.duration_ms,
                retry_after=0.0,
            )
        return outcome
