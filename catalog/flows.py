"""Catalog flows: pushes to Amazon and pulls of FBA stock and inbound shipments. Thin: each
calls one service with the flow's context."""

from __future__ import annotations

from amazonsync.flows import FlowContext, register_flow
from amazonsync.models import Team

from . import services


@register_flow("inventory_push", switch="inventory", owner_team=Team.OPS, every=15)
def inventory_push(ctx: FlowContext) -> None:
    """Push changed MFN quantities (merchant stock, kits from components) as listings feeds."""
    services.quantities_push(ctx=ctx)


@register_flow("price_push", switch="prices", owner_team=Team.OPS, every=15)
def price_push(ctx: FlowContext) -> None:
    """Push changed listing prices as listings feeds."""
    services.prices_push(ctx=ctx)


@register_flow("fba_inventory_pull", switch="inventory", owner_team=Team.OPS,
               every=30)
def fba_inventory_pull(ctx: FlowContext) -> None:
    """Pull FBA stock per SKU (getInventorySummaries) with its freshness."""
    services.fba_stock_pull(ctx=ctx)


@register_flow("inbound_pull", switch="inventory", owner_team=Team.OPS, every=60)
def inbound_pull(ctx: FlowContext) -> None:
    """Pull FBA inbound shipments; discrepancies after closing become ops exceptions."""
    services.inbound_pull(ctx=ctx)
