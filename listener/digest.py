"""Calm bursts: an endpoint with a quiet period holds what one person does to one machine while
they keep at it, and sends it as one digest once they have been quiet that long.

Nothing is held in memory: held deliveries stay pending in the database, and each look at the
queue plans again from what is there and the listener's clock, so a restart in the middle
sends them once, later. A problem report (a visitor is waiting for somebody to come), a test
message and the notifier's own alerts are never held.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from listener.messages import Delivery
from listener.render.threads import subject_of

LONGEST_HOLD = 3
"""A burst is sent at the latest this many quiet periods after its first event, however long
its author keeps going."""

NEVER_HELD = frozenset({"problem_report.created"})


def holdable(delivery: Delivery) -> bool:
    snap = delivery.snapshot if isinstance(delivery.snapshot, dict) else {}
    return (
        delivery.type not in NEVER_HELD
        and not delivery.type.startswith("endpoint.")
        and not snap.get("test")
    )


def _burst_key(delivery: Delivery, forum: bool) -> tuple[str, object, str]:
    """One person on one machine (in one forum thread, for a forum)."""
    snap = delivery.snapshot if isinstance(delivery.snapshot, dict) else {}
    machine = snap.get("machine")
    machine_id = machine.get("id") if isinstance(machine, dict) else None
    return (delivery.actor, machine_id, subject_of(delivery).key if forum else "")


@dataclass
class Plan:
    units: list[list[Delivery]] = field(default_factory=list)
    """What goes out now, in queue order: single deliveries, and bursts (sent as a digest)."""
    held: list[Delivery] = field(default_factory=list)
    wake_at: datetime | None = None
    """When the first held burst is due, by the listener's clock."""


def plan(
    deliveries: Sequence[Delivery], quiet: timedelta, now: datetime, *, forum: bool = False
) -> Plan:
    """Split due deliveries (oldest first) into what goes out now and what is held."""
    bursts: dict[tuple[str, object, str], list[Delivery]] = {}
    order: list[tuple[int, list[Delivery]]] = []
    for d in deliveries:
        if not holdable(d):
            order.append((d.id, [d]))
            continue
        key = _burst_key(d, forum)
        if key not in bursts:
            bursts[key] = []
            order.append((d.id, bursts[key]))
        bursts[key].append(d)
    result = Plan()
    for _, unit in sorted(order, key=lambda item: item[0]):
        if not holdable(unit[0]):
            result.units.append(unit)
            continue
        due = min(
            max(d.occurred_at for d in unit) + quiet,
            min(d.occurred_at for d in unit) + LONGEST_HOLD * quiet,
        )
        if due <= now:
            result.units.append(unit)
        else:
            result.held.extend(unit)
            result.wake_at = due if result.wake_at is None else min(result.wake_at, due)
    return result
