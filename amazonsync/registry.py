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


_REGISTRY: dict[str, Flow] = {}


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
