"""The one money formatter: the currency's own places, thousands separators, sign, code;
the template filter; amounts without a currency never padded with zeros."""

from __future__ import annotations

from decimal import Decimal

from django.template import Context, Template

from amazonsync.money import decimals, display, quantize


def test_places_separators_sign_and_code():
    assert display(Decimal("12.9900"), "USD") == "12.99 USD"
    assert display(Decimal("131030.0000"), "JPY") == "131,030 JPY"
    assert display(Decimal("-49.5400000000000"), "EUR") == "-49.54 EUR"
    assert display(Decimal("-0.005"), "GBP") == "-0.01 GBP"
    assert display(Decimal("1234.5678"), "KWD") == "1,234.568 KWD"
    assert display(Decimal("7"), "usd") == "7.00 USD"
    assert display(None, "USD") == "—" and display(None, "USD", empty="") == ""
    assert decimals("JPY") == 0 and decimals("XXX") == 2
    assert quantize(Decimal("2.5"), "JPY") == Decimal("3")


def test_without_a_currency_no_padding_and_no_loss():
    assert display(Decimal("12.9900"), "") == "12.99"
    assert display(Decimal("1500.0000"), "") == "1,500.00"
    assert display(Decimal("0.1250"), "") == "0.125"


def test_template_filter():
    out = Template("{% load money %}{{ a|money:'JPY' }} / {{ b|money:c }} / {{ n|money:c }}")
    text = out.render(Context({"a": Decimal("1500.0000"), "b": "43.0300", "c": "USD",
                               "n": None}))
    assert text == "1,500 JPY / 43.03 USD / —"
