"""The drift page's charts and tables: one bar chart per currency (never two currencies on
one axis), each settlement a bar in its marketplace's colour, zero marked, and a table of
drift per marketplace. Rendered on the server as SVG (``amazonsync.charts``): no script, no
CDN. When nothing drifted in the period, each currency says so instead of drawing a flat
line."""

from __future__ import annotations

from datetime import date

from django.urls import reverse

from amazonsync.charts import Bar, bar_chart_svg
from amazonsync.money import display as money_display
from marketplaces.reference import marketplace_label

from .review import MEASURES, drift_by_marketplace, drift_points

PALETTE = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d",
           "#dc2626", "#4b5563"]


def _colours(charts) -> dict[str | None, str]:
    ids: list[str | None] = []
    for chart in charts:
        ids += [m for m in chart.marketplaces if m not in ids]
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(sorted(ids, key=str))}


def drift_charts(
    *, measure: str = "any", account_id: int | None = None, marketplace_id: str | None = None,
    date_from: date | None = None, date_to: date | None = None,
) -> dict:
    """Context for the drift page: ``charts`` [{currency, svg, legend, with_drift, count}]
    and ``by_marketplace`` rows of already formatted cells."""
    charts = drift_points(measure=measure, account_id=account_id,
                          marketplace_id=marketplace_id, date_from=date_from,
                          date_to=date_to)
    colours = _colours(charts)
    reconciliation = reverse("admin:settlements_settlement_reconciliation", args=[0])
    out = []
    for chart in charts:
        currency = chart.currency

        def axis(value, currency=currency):
            return money_display(value, currency)

        bars = [
            Bar(value=p["value"], text=money_display(p["value"], currency),
                label=f"{p['date']:%d %b %Y}", colour=colours[p["marketplace"]],
                title=(f"Settlement {p['settlement']}, "
                       f"{marketplace_label(p['marketplace'] or '') or 'marketplace unknown'}"
                       f", {p['date']:%Y-%m-%d}: {money_display(p['value'], currency)}"),
                link=reconciliation.replace("/0/", f"/{p['pk']}/"))
            for p in chart.points
        ]
        out.append({
            "currency": currency,
            "count": len(chart.points),
            "with_drift": sum(1 for p in chart.points if p["value"]),
            "svg": bar_chart_svg(
                bars, axis_text=axis, aria_label=f"Drift in {currency} per settlement",
                empty_text=f"No drift in the period: all {len(bars)} settlements in "
                           f"{currency} balance.",
            ),
            "legend": [(marketplace_label(m or "") or "marketplace unknown", colours[m])
                       for m in chart.marketplaces],
        })
    rows = [
        {
            "marketplace": marketplace_label(r["marketplace_id"] or "") or "unknown",
            "currency": r["currency"],
            "settlements": r["settlements"],
            "with_drift": r["with_drift"],
            "journal": money_display(r["journal"], r["currency"]),
            "internal": money_display(r["internal"], r["currency"]),
            "drifts": bool(r["journal"] or r["internal"] or r["with_drift"]),
        }
        for r in drift_by_marketplace(since=date_from, until=date_to, account_id=account_id)
        if not marketplace_id or r["marketplace_id"] == marketplace_id
    ]
    return {"charts": out, "by_marketplace": rows, "measure_label": MEASURES[
        measure if measure in MEASURES else "any"]}
