"""The admin's sidebar, grouped by job rather than by Django app.

Each entry names an admin page by its URL name (no app is imported) and shows only to users
who may view it. A model whose app is not installed is left out."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

# (group title, [(label, icon, model "app.model" or URL name, permission or None)])
GROUPS: tuple[tuple[str, tuple[tuple[str, str, str, str | None], ...]], ...] = (
    ("Needs attention", (
        ("Home", "home", "admin:index", None),
        ("Exception queue", "report", "amazonsync.syncexception", None),
    )),
    ("Catalog", (
        ("Items", "inventory_2", "catalog.item", None),
        ("Listings (SKU mappings)", "sell", "catalog.listing", None),
        ("Warehouse stock", "warehouse", "catalog.merchantstock", None),
        ("FBA stock", "local_shipping", "catalog.fbastock", None),
        ("FBA inbound shipments", "move_to_inbox", "catalog.inboundshipment", None),
        ("Stock pushes to Amazon", "upload", "catalog.pushfeed", None),
    )),
    ("Orders", (
        ("Orders", "shopping_cart", "orders.order", None),
        ("MFN shipments", "package_2", "orders.shipment", None),
        ("Customers", "group", "orders.customer", None),
        ("Carrier mappings", "conversion_path", "orders.carriermapping", None),
    )),
    ("Money", (
        ("Settlements", "account_balance", "settlements.settlement", None),
        ("Settlement lines", "receipt_long", "settlements.settlementline", None),
        ("Journal batches", "menu_book", "settlements.journalbatch", None),
        ("Drift charts", "monitoring", "admin:settlements_settlement_drift_chart",
         "settlements.view_settlement"),
        ("GL accounts", "account_tree", "settlements.glaccount", None),
        ("GL mappings", "alt_route", "settlements.glmapping", None),
        ("Settlement report files", "description", "settlements.settlementreportdocument",
         None),
    )),
    ("Returns", (
        ("Returns", "assignment_return", "returns.returnevent", None),
        ("Reimbursement candidates", "request_quote", "returns.reimbursementcandidate", None),
        ("Refund matches", "compare_arrows", "returns.refundmatch", None),
        ("Stock adjustments", "tune", "returns.inventoryadjustment", None),
        ("Credit memos", "receipt", "returns.creditmemo", None),
        ("Disposition rules", "rule", "returns.dispositionrule", None),
    )),
    ("Health", (
        ("Integration health", "monitor_heart", "health", "amazonsync.view_syncrun"),
        ("Sync runs", "sync", "amazonsync.syncrun", None),
        ("Amazon API calls", "api", "amazonsync.apicall", None),
        ("Alerts sent", "notifications", "amazonsync.alertsent", None),
        ("Scheduled jobs", "schedule", "django_q.schedule", None),
        ("Failed jobs", "error", "django_q.failure", None),
    )),
    ("Settings", (
        ("Seller accounts", "storefront", "marketplaces.selleraccount", None),
        ("Marketplaces", "public", "marketplaces.marketplace", None),
        ("Amazon terms", "dictionary", "marketplaces.amazonterm", None),
        ("Users", "person", "auth.user", None),
        ("Groups", "groups", "auth.group", None),
    )),
)


def _target(target: str) -> tuple[str, str | None]:
    """(URL name, the view permission it needs) of a model label or a URL name."""
    if "." in target and ":" not in target:
        app_label, model = target.split(".")
        return f"admin:{app_label}_{model}_changelist", f"{app_label}.view_{model}"
    return target, None


def sidebar(request) -> list[dict]:
    user = request.user
    groups = []
    for title, entries in GROUPS:
        items = []
        for label, icon, target, permission in entries:
            url_name, needed = _target(target)
            needed = permission or needed
            if needed and not user.has_perm(needed):
                continue
            try:
                link = reverse(url_name)
            except NoReverseMatch:  # an app not installed, a model not registered
                continue
            items.append({"title": label, "icon": icon, "link": link})
        if items:
            groups.append({"title": title, "separator": True, "collapsible": True,
                           "items": items})
    return groups
