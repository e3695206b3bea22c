"""The bare floor: LISTEN/NOTIFY, re-read the row, POST it with aiohttp. No outbox, no retries,
no persistence: the least any database-driven notifier can do.

    python -m bench.floor DATABASE_URL RECEIVER_URL
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import psycopg

CHANNEL = "bench_floor"


async def run(database_url: str, receiver_url: str) -> None:
    async with (
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as listen,
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as read,
        aiohttp.ClientSession() as http,
    ):
        await listen.execute(f"LISTEN {CHANNEL}")
        print("floor.ready", flush=True)
        async for notify in listen.notifies():
            cur = await read.execute(
                "SELECT id, machine_id, problem_type, description"
                " FROM problem_reports WHERE id = %s",
                [int(notify.payload)],
            )
            row = await cur.fetchone()
            if row is None:
                continue
            payload = {
                "report_id": row[0],
                "machine_id": row[1],
                "problem_type": row[2],
                "description": row[3],
            }
            async with http.post(receiver_url, json=payload) as response:
                await response.read()


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], sys.argv[2]))
