"""The flow registry: which flows exist, what they switch on and who owns their failures.

Apps declare flows with ``amazonsync.flows.register_flow`` (in their ``flows.py``, discovered
at start-up). The registry sits under both the runner (``amazonsync.services.flow_run``) and
the context flows run in (``amazonsync.flows.FlowContext``), so neither imports the other
through it: each ``Flow`` carries the context class the runner builds for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class UnknownFlow(KeyError):
    pass


@dataclass(frozen=True)
class Flow:
    name: str
    func: Callable[[Any], None]
    switch: str | None
    per_marketplace: bool
    owner_team: str
    description: str
    # builds the context the flow runs in: context(run=, account=, marketplace=, flow=)
    context: Callable[..., Any]
    # how often its django-q2 schedule runs it, in minutes (staff may change a schedule's
    # interval in the admin afterwards; schedules_sync leaves an edited interval alone)
    every: int = 60
    # the flow reads again from a date given by a person (``FlowContext.since``): the admin
    # offers "Backfill from…" for it
    backfill: bool = False


@dataclass(frozen=True)
class Housekeeping:
    """A scheduled task that is not a flow (one schedule, not one per account)."""

    name: str
    func: str  # dotted path django-q2 imports, stored in the Schedule row
    schedule_type: str  # a django_q Schedule.TYPE value, e.g. "D" for daily
    minutes: int | None = None  # the interval of a "minutes" schedule


_REGISTRY: dict[str, Flow] = {}
_HOUSEKEEPING: dict[str, Housekeeping] = {}


def flow_add(flow: Flow) -> Flow:
    _REGISTRY[flow.name] = flow
    return flow


def get_flow(name: str) -> Flow:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UnknownFlow(f"unknown flow {name!r} (known flows: {known})") from None


def all_flows() -> list[Flow]:
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def unregister_flow(name: str) -> None:
    """For tests that register throw-away flows."""
    _REGISTRY.pop(name, None)


def register_housekeeping(name: str, *, schedule_type: str, minutes: int | None = None):
    """Decorate a module-level task function to give it one schedule of its own."""

    def decorator(func):
        _HOUSEKEEPING[name] = Housekeeping(
            name=name, func=f"{func.__module__}.{func.__qualname__}", schedule_type=schedule_type,
            minutes=minutes,
        )
        return func

    return decorator


def all_housekeeping() -> list[Housekeeping]:
    return [_HOUSEKEEPING[name] for name in sorted(_HOUSEKEEPING)]
