"""``{% load money %}`` then ``{{ amount|money:currency }}``: the one money formatter
(``amazonsync.money.display``) in templates: ``1,318.49 EUR``, ``131,804 JPY``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

from amazonsync.money import display

register = template.Library()


@register.filter(name="money")
def money(amount, currency: str = "") -> str:
    if amount is None or amount == "":
        return "—"
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return str(amount)
    return display(value, currency or "")
