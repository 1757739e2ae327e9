"""Sums gathered while a settlement's lines stream past (see :class:`LineTotals`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from .records import SettlementLineData

_ZERO = Decimal("0")


class LineTotals:
    """Sums gathered while the lines stream past, so that nothing has to read the stored
    lines back: amount and count per (posted date, transaction type, amount type, amount
    description, marketplace name) and, for the (type, amount type, description) triples
    ``classify`` names (e.g. order principal, refund principal), the amount per (order id,
    SKU) in ``orders[kind]`` (SKU '' when the line names none; lines without an order id
    are left out). Per SKU because one order can be settled in parts: a split shipment's
    items fall into different settlements.

    ``classify(transaction_type, amount_type, amount_description)`` returns a kind name or
    None; it is called once per distinct cell, never per line. Amounts are exact Decimals.
    """

    def __init__(self, classify: Callable[[str, str, str], str | None] | None = None) -> None:
        self.classify = classify
        # key -> [amount, count, {(order id, sku): amount} or None]
        self.cells: dict[tuple[date | None, str, str, str, str], list] = {}
        self.orders: dict[str, dict[tuple[str, str], Decimal]] = {}

    def cell(self, key: tuple[date | None, str, str, str, str]) -> list:
        kind = self.classify(key[1], key[2], key[3]) if self.classify is not None else None
        cell = [Decimal("0"), 0, None if kind is None else self.orders.setdefault(kind, {})]
        self.cells[key] = cell
        return cell

    def add(self, x: SettlementLineData) -> None:
        key = (x.posted_date, x.transaction_type, x.amount_type, x.amount_description,
               x.marketplace_name)
        cell = self.cells.get(key) or self.cell(key)
        cell[0] += x.amount
        cell[1] += 1
        if cell[2] is not None and x.order_id:
            item = (x.order_id, x.sku)
            cell[2][item] = cell[2].get(item, _ZERO) + x.amount

    def groups(self) -> dict[tuple[date | None, str, str, str], list]:
        """{(first day of the posted month or None, type, amount type, description):
        [amount, count]}"""
        out: dict[tuple[date | None, str, str, str], list] = {}
        for (day, ttype, atype, desc, _), (amount, count, _) in self.cells.items():
            key = (day.replace(day=1) if day is not None else None, ttype, atype, desc)
            group = out.get(key)
            if group is None:
                out[key] = [amount, count]
            else:
                group[0] += amount
                group[1] += count
        return out

    def marketplaces(self) -> dict[str, int]:
        """Lines per marketplace name, in order of first appearance."""
        out: dict[str, int] = {}
        for key, cell in self.cells.items():
            out[key[4]] = out.get(key[4], 0) + cell[1]
        return out
