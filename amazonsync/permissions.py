"""Who may do what: the model permissions of the Ops and Accounting groups, and which
exception teams each group works (the refusal, in plain words, when it is not theirs).

One map, applied by data migrations (each app's migration calls ``ensure_groups`` after
adding its models) and by ``manage.py demo``. Applying it twice changes nothing. Models not
installed yet are skipped.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

ALL = ("view", "add", "change", "delete")

GROUP_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "Ops": {
        "marketplaces.marketplace": ("view",),
        "marketplaces.selleraccount": ("view",),
        "marketplaces.accountmarketplace": ("view", "change"),
        "marketplaces.amazonterm": ("view", "add", "change"),
        "amazonsync.syncrun": ("view", "run_flow"),
        "amazonsync.alertsent": ("view",),
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
        "marketplaces.amazonterm": ("view", "add", "change"),
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


# Which exception teams (``SyncException.owner_team``) each group works. Ops staff work the
# operational queue and fix the mappings behind merch exceptions (unmapped SKUs, listings
# waiting on a mapping) in the same admin; accountants own the money (settlements, GL
# mappings, refunds and reimbursements). Superusers work every team's exceptions.
GROUP_TEAMS: dict[str, tuple[str, ...]] = {
    "Ops": ("ops", "merch"),
    "Accounting": ("finance",),
}
# Which groups work a team's exceptions, in words for refusals ("the Accounting group").
TEAM_GROUPS: dict[str, tuple[str, ...]] = {
    team: tuple(group for group, teams in GROUP_TEAMS.items() if team in teams)
    for team in sorted({team for teams in GROUP_TEAMS.values() for team in teams})
}


def user_teams(user) -> frozenset[str] | None:
    """The exception teams a user works; None means every team (a superuser)."""
    if getattr(user, "is_superuser", False):
        return None
    if user is None or not getattr(user, "is_active", False):
        return frozenset()
    names = user.groups.values_list("name", flat=True)
    return frozenset(team for name in names for team in GROUP_TEAMS.get(name, ()))


class ExceptionOwnershipError(PermissionDenied):
    """Someone tried to resolve or ignore exceptions another team owns; nothing changed."""

    def __init__(self, *, verb: str, refused: dict[str, list[int]]):
        self.refused = refused
        super().__init__(ownership_refusal(verb=verb, refused=refused) + " Nothing was changed.")


def ownership_refusal(*, verb: str, refused: dict[str, list[int]]) -> str:
    """Plain words for exceptions a user may not ``verb`` (resolve, ignore), per team."""
    parts = []
    for team, ids in sorted(refused.items()):
        groups = " or ".join(TEAM_GROUPS.get(team, ())) or "no"
        shown = ", ".join(f"#{pk}" for pk in ids[:20]) + (" …" if len(ids) > 20 else "")
        parts.append(
            f"{len(ids)} exception(s) belong to the {team} team ({shown}): only the {team} "
            f"team (the {groups} group) or a superuser can {verb} them."
        )
    return " ".join(parts)


# --- the 403 page: which permission a refused admin page needs, and which group has it ----

ADMIN_VIEW_ACTIONS = {"changelist": "view", "change": "view", "history": "view",
                      "add": "add", "delete": "delete"}


def groups_granting(permission: str) -> list[str]:
    """The groups of the map that hold ``permission`` ("settlements.view_journalbatch")."""
    app_label, _, codename = permission.partition(".")
    action, _, model_name = codename.partition("_")
    return [group for group, model_perms in GROUP_PERMISSIONS.items()
            if {action, codename} & set(model_perms.get(f"{app_label}.{model_name}", ()))]


def permission_needed(path: str, method: str = "GET") -> dict | None:
    """What an admin URL needs, as {"permission", "what", "groups"}: the model permission
    of its page ("view" for a list or an object, "change" to save one), or None when the URL
    is not a model's admin page."""
    from django.apps import apps
    from django.urls import Resolver404, resolve

    try:
        match = resolve(path)
    except Resolver404:
        return None
    if match.app_name != "admin" or not match.url_name:
        return None
    for model in apps.get_models():
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if match.url_name.startswith(prefix):
            page = match.url_name[len(prefix):]
            action = ADMIN_VIEW_ACTIONS.get(page, "change")
            if page == "change" and method == "POST":
                action = "change"
            permission = f"{model._meta.app_label}.{action}_{model._meta.model_name}"
            return {"permission": permission, "groups": groups_granting(permission),
                    "what": f"{action} {model._meta.verbose_name_plural}"}
    return None


def permission_denied(request, exception=None):
    """The 403 page: in plain words, what was refused and which group would allow it."""
    from django.shortcuts import render

    needed = permission_needed(request.path, request.method)
    if needed is not None and request.user.has_perm(needed["permission"]):
        needed = None  # refused for another reason: the exception's own words say which
    context = {"exception": str(exception or ""), "needed": needed}
    return render(request, "403.html", context, status=403)
