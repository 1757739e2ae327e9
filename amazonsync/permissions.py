"""Who may do what: the model permissions of the Ops and Accounting groups.

One map, applied by data migrations (each app's migration calls ``ensure_groups`` after
adding its models) and by ``manage.py demo``. Applying it twice changes nothing. Models not
installed yet are skipped.
"""

from __future__ import annotations

ALL = ("view", "add", "change", "delete")

GROUP_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "Ops": {
        "marketplaces.marketplace": ("view",),
        "marketplaces.selleraccount": ("view",),
        "marketplaces.accountmarketplace": ("view", "change"),
        "amazonsync.syncrun": ("view",),
        "amazonsync.syncexception": ("view", "change"),
        "amazonsync.apicall": ("view",),
        # catalog
        "catalog.item": ALL,
        "catalog.kitcomponent": ALL,
        "catalog.listing": ALL,
        "catalog.merchantstock": ("view", "change"),
        "catalog.fbastock": ("view",),
        "catalog.inboundshipment": ("view",),
        "catalog.inboundshipmentitem": ("view",),
        "catalog.pushfeed": ("view",),
        # orders
        "orders.order": ("view",),
        "orders.orderline": ("view",),
        "orders.customer": ("view",),
        "orders.shipment": ALL,
        "orders.shipmentline": ALL,
        "orders.carriermapping": ALL,
        # returns
        "returns.returnevent": ("view", "change"),
        "returns.dispositionrule": ALL,
        "returns.inventoryadjustment": ("view",),
        "returns.refundmatch": ("view",),
        "returns.reimbursementcandidate": ("view", "change"),
    },
    "Accounting": {
        "marketplaces.marketplace": ("view",),
        "marketplaces.selleraccount": ("view",),
        "amazonsync.syncrun": ("view",),
        "amazonsync.syncexception": ("view", "change"),
        # settlements
        "settlements.settlement": ("view", "change"),
        "settlements.settlementline": ("view",),
        "settlements.glaccount": ALL,
        "settlements.glmapping": ALL,
        "settlements.journalbatch": ("view", "change", "approve_journalbatch"),
        "settlements.journalline": ("view",),
        # returns (credit memos and refunds are money)
        "returns.returnevent": ("view",),
        "returns.refundmatch": ("view",),
        "returns.reimbursementcandidate": ("view",),
        "returns.creditmemo": ("view", "change"),
    },
}


def ensure_groups(apps=None, verbosity: int = 0) -> None:
    """Create the groups and give them exactly the permissions of the map."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    apps = apps or global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")

    for app_config in apps.get_app_configs():
        if not getattr(app_config, "models_module", None):
            app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=verbosity)

    for group_name, model_perms in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = set()
        for label, actions in model_perms.items():
            app_label, model_name = label.split(".")
            try:
                apps.get_model(app_label, model_name)
            except LookupError:
                continue
            ct, _ = ContentType.objects.get_or_create(app_label=app_label, model=model_name)
            for action in actions:
                codename = action if "_" in action else f"{action}_{model_name}"
                perm = Permission.objects.filter(content_type=ct, codename=codename).first()
                if perm is not None:
                    wanted.add(perm.pk)
        current = set(group.permissions.values_list("pk", flat=True))
        if current != wanted:
            group.permissions.set(wanted)
