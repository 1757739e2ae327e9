"""The exception queue: one row per problem, the fix link first, work done in bulk.

Rows that are the same problem met in several marketplaces, accounts or flows share a
``group_key`` (``amazonsync.problems``); the list shows the first row of each group with how
many it stands for and where (``selectors.exceptions_grouped``, a constant number of queries),
and an action on a row applies to every row of its group still to work. The fix link opens
the object to fix with ``?next=`` the queue as filtered, so saving comes back here. Resolve
and ignore ask for a note on a confirmation page; a team's exceptions are resolved or ignored
by that team only (refusals are messages). The detail page has tabs: the problem, the data
received (redacted) and its history, with the rows of its group.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.decorators import action
from unfold.views import ChangeList

from . import services
from .adminkit import ModelAdmin
from .crypto import redact_secrets, redact_value
from .models import SyncException
from .permissions import ownership_refusal, user_teams
from .problems import fix_verb, object_identity, reason_label
from .runs import flow_label
from .selectors import (
    EXCEPTION_ACTIVE,
    exception_group_ids,
    exception_group_members,
    exception_group_rows,
    exceptions_grouped,
    exceptions_outside_teams,
)

ACTIVE = EXCEPTION_ACTIVE
NOT_IGNORED = tuple(s for s in SyncException.Status if s != SyncException.Status.IGNORED)
SEVERITY_BADGES = {"critical": "as-badge-red", "high": "as-badge-amber", "normal": "as-badge-blue",
                   "low": "as-badge-grey"}
STATUS_BADGES = {"open": "as-badge-amber", "retrying": "as-badge-blue",
                 "resolved": "as-badge-green", "ignored": "as-badge-grey"}

# object_kind -> callable(exception) -> admin URL of the object to fix, or None.
OBJECT_LINKS: dict = {}


def register_object_link(object_kind: str):
    """Apps say where staff fix an exception's object (e.g. the listing to map)."""

    def decorator(func):
        OBJECT_LINKS[object_kind] = func
        return func

    return decorator


def _admin_url(name: str, *args, query: str = "") -> str | None:
    try:
        url = reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return None
    return f"{url}?{query}" if query else url


def _object_name(exc: SyncException) -> str:
    payload = exc.payload if isinstance(exc.payload, dict) else {}
    if exc.object_kind == "seller_account" and exc.account_id:
        return exc.account.name
    name = payload.get("seller_sku") or object_identity(
        exc.object_key,
        account_key=exc.account.selling_partner_id if exc.account_id else "",
        marketplace_keys=(exc.marketplace.code, exc.marketplace_id) if exc.marketplace_id
        else (),
    )
    return name if len(name) <= 40 else name[:39] + "…"


def _default_link(exc: SyncException) -> str | None:
    """Where the object behind a problem is fixed, when its app registered no link."""
    payload = exc.payload if isinstance(exc.payload, dict) else {}
    if exc.reason_code in ("unmapped_sku", "waiting_on_mapping") and payload.get("seller_sku"):
        return _admin_url("catalog_listing_changelist", query="q=" + quote(payload["seller_sku"]))
    if exc.object_kind == "seller_account" and exc.account_id:
        return _admin_url("marketplaces_selleraccount_change", exc.account_id)
    if exc.object_kind == "flow" and exc.last_run_id:
        return _admin_url("amazonsync_syncrun_change", exc.last_run_id)
    if exc.object_kind == "shipment" and payload.get("shipment_id"):
        return _admin_url("orders_shipment_change", payload["shipment_id"])
    by_reason = {"unmapped_lines": "settlements_glmapping_changelist",
                 "unknown_carrier": "orders_carriermapping_changelist",
                 "no_disposition_rule": "returns_dispositionrule_changelist"}
    if exc.reason_code in by_reason:
        return _admin_url(by_reason[exc.reason_code])
    return None


def fix_target(exc: SyncException) -> tuple[str, str | None]:
    """("map SKU ABC-1", url of the page where it is fixed or None)."""
    func = OBJECT_LINKS.get(exc.object_kind)
    url = (func(exc) if func else None) or _default_link(exc)
    verb = fix_verb(exc.object_kind, exc.reason_code)
    words = f"{verb} {_object_name(exc)}" if verb else (
        f"open {exc.object_kind.replace('_', ' ')} {_object_name(exc)}")
    return words, url


def with_next(url: str, back: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}next={quote(back)}"


def closed_by_words(exc: SyncException) -> str:
    """Who closed it: the person, or "system (mapping saved by ops)" for the system."""
    if exc.status not in (SyncException.Status.RESOLVED, SyncException.Status.IGNORED):
        return ""
    who = exc.resolved_by.get_username() if exc.resolved_by_id else ""
    if exc.status == SyncException.Status.IGNORED:
        return f"{who or 'system'} (ignored)"
    if exc.manual_fix:
        return who or "by hand"
    cause = exc.resolved_cause or "resolved automatically"
    return f"system ({cause} by {who})" if who else f"system ({cause})"


def _place(row: SyncException) -> str:
    parts = [row.account.name if row.account_id else "", str(row.marketplace)
             if row.marketplace_id else ""]
    return " · ".join(p for p in parts if p) or "No account or marketplace"


def where_words(exc: SyncException) -> str:
    """"Sandbox Seller · Amazon.de (DE)", or "×5 marketplaces: Amazon.com (US), …"."""
    rows = getattr(exc, "group_rows", None) or [exc]
    if len(rows) == 1:
        return _place(exc)
    markets = list(dict.fromkeys(str(r.marketplace) for r in rows if r.marketplace_id))
    accounts = list(dict.fromkeys(r.account.name for r in rows if r.account_id))
    flows = list(dict.fromkeys(flow_label(r.flow) for r in rows))
    if len(markets) > 1:
        what, names = "marketplaces", markets
    elif len(accounts) > 1:
        what, names = "accounts", accounts
    else:
        what, names = "flows", flows
        if accounts:
            names = [f"{accounts[0]}: " + ", ".join(flows)]
    shown = ", ".join(names[:3]) + ("…" if len(names) > 3 else "")
    if what != "flows" and len(rows) > len(names):  # several objects per place: say so
        noun = exc.object_kind.replace("_", " ") + "s"
        return f"{len(rows)} {noun} in {len(names)} {what}: {shown}"
    return f"×{len(rows)} {what}: {shown}"


def _age(delta) -> str:
    if delta.days:
        return f"{delta.days} d"
    hours = delta.seconds // 3600
    return f"{hours} h" if hours else f"{delta.seconds // 60} min"


class StateFilter(admin.SimpleListFilter):
    """Status, "needs work" (open or retrying) unless chosen otherwise."""

    title = "status"
    parameter_name = "state"

    def __init__(self, request, params, model, model_admin):
        # a link that names a status itself (?status__exact=resolved) gets exactly that
        self.status_given = any(key.split("__")[0] == "status" for key in params)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [("active", "Needs work"), *SyncException.Status.choices, ("all", "All")]

    def value(self):
        return super().value() or ("all" if self.status_given else "active")

    def queryset(self, request, queryset):
        value = self.value()
        if value == "active":
            return queryset.filter(status__in=ACTIVE)
        if value in SyncException.Status.values:
            return queryset.filter(status=value)
        return queryset

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {"selected": self.value() == str(lookup), "display": title,
                   "query_string": changelist.get_query_string({self.parameter_name: lookup})}


class ReasonFilter(admin.SimpleListFilter):
    title = "problem"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        codes = (SyncException.objects.order_by("reason_code").values_list("reason_code", flat=True)
                 .distinct())
        return [(code, reason_label(code)) for code in codes]

    def queryset(self, request, queryset):
        return queryset.filter(reason_code=self.value()) if self.value() else queryset


class SlaFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue"), ("on_time", "Within SLA")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "overdue":
            return queryset.filter(status__in=ACTIVE, due_at__lt=now)
        if self.value() == "on_time":
            return queryset.filter(status__in=ACTIVE, due_at__gte=now)
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BUCKETS = {"1h": 1 / 24, "1d": 1, "7d": 7, "30d": 30}

    def lookups(self, request, model_admin):
        return [("1h", "older than 1 hour"), ("1d", "older than 1 day"),
                ("7d", "older than 7 days"), ("30d", "older than 30 days")]

    def queryset(self, request, queryset):
        if self.value() in self.BUCKETS:
            cutoff = timezone.now() - timezone.timedelta(days=self.BUCKETS[self.value()])
            return queryset.filter(first_seen__lt=cutoff)
        return queryset


class ProblemChangeList(ChangeList):
    """The queue's list: one row per problem of what the filters kept (see the module)."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        if exclude_parameters is None:
            self.ungrouped_queryset = queryset
        if request.method == "POST":
            return queryset  # an action: the selected rows as they are (groups added later)
        return exceptions_grouped(queryset)

    def get_results(self, request):
        super().get_results(request)
        rows = list(self.result_list)
        members = exception_group_members(self.ungrouped_queryset, rows)
        back = request.get_full_path()
        for row in rows:
            row.group_rows = members.get((row.group_key, row.status)) or [row]
            row.group_size = len(row.group_rows)
            row.queue_url = back
        self.result_list = rows


class NoteForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=True)

    def __init__(self, *args, label: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].label = label


# verb -> what the confirmation page says and which rows of a group the verb applies to
VERBS = {
    "retry": {"title": "Retry exceptions", "statuses": ACTIVE, "note": None,
              "button": "Retry"},
    "resolve": {"title": "Resolve exceptions", "statuses": ACTIVE, "button": "Mark resolved",
                "note": "What fixed it?"},
    "ignore": {"title": "Ignore exceptions", "statuses": NOT_IGNORED, "button": "Ignore",
               "note": "Why is it safe to ignore these?"},
}


@admin.register(SyncException)
class SyncExceptionAdmin(ModelAdmin):
    list_display = ("fix_link", "severity_badge", "problem", "where", "age_sla", "team",
                    "status_badge")
    list_display_links = ("problem",)
    list_filter = (StateFilter, "severity", "owner_team", ReasonFilter, SlaFilter, AgeFilter,
                   "flow", ("marketplace", admin.RelatedOnlyFieldListFilter),
                   ("assignee", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("account", "marketplace", "resolved_by")
    list_per_page = 50
    show_full_result_count = False
    search_fields = ("object_key", "message", "reason_code")
    actions = ["retry_selected", "resolve_selected", "ignore_selected", "assign_to_me"]
    actions_detail = ["retry_detail", "resolve_detail", "ignore_detail"]
    readonly_fields = (
        "problem_words", "shown_message", "fix_link", "where", "severity_badge", "status_badge",
        "owner_team", "group_rows_table", "pretty_payload", "first_seen", "last_seen",
        "occurrences", "attempts", "due_at", "closed_by", "resolved_at", "resolution_note",
        "last_run", "depends_on", "flow", "object_kind", "object_key", "reason_code",
    )
    fieldsets = (
        ("Problem", {"classes": ["tab"], "fields": (
            "problem_words", "shown_message", "fix_link", "where", ("severity_badge",
                                                                     "status_badge"),
            ("owner_team", "assignee"), "group_rows_table")}),
        ("Data received", {"classes": ["tab"], "fields": ("pretty_payload",)}),
        ("History", {"classes": ["tab"], "fields": (
            ("first_seen", "last_seen"), ("occurrences", "attempts"), "due_at",
            ("closed_by", "resolved_at"), "resolution_note", "last_run", "depends_on",
            ("flow", "object_kind"), ("object_key", "reason_code"))}),
    )
    raw_id_fields = ("assignee",)
    ordering = ("severity_rank", "due_at")

    def get_changelist(self, request, **kwargs):
        return ProblemChangeList

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "marketplace",
                                                            "resolved_by")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        # only the assignee is editable on the form
        services.exceptions_assign(exception_ids=[obj.pk], assignee=obj.assignee)

    # --- columns -----------------------------------------------------------------------

    @admin.display(description="Fix")
    def fix_link(self, obj):
        words, url = fix_target(obj)
        back = getattr(obj, "queue_url", None) or reverse(
            "admin:amazonsync_syncexception_changelist")
        if url is None:
            detail = reverse("admin:amazonsync_syncexception_change", args=[obj.pk])
            return format_html('<a class="fix-link as-muted" href="{}">Look into it</a>',
                               with_next(detail, back))
        return format_html('<a class="fix-link" href="{}"><strong>Fix:</strong> {}</a>',
                           with_next(url, back), words)

    @admin.display(description="Severity", ordering="severity_rank")
    def severity_badge(self, obj):
        return format_html('<span class="as-badge {}">{}</span>',
                           SEVERITY_BADGES.get(obj.severity, "as-badge-grey"),
                           obj.get_severity_display())

    @admin.display(description="Problem", ordering="reason_code")
    def problem(self, obj):
        message = redact_secrets(obj.message)
        short = message if len(message) <= 110 else message[:109] + "…"
        return format_html(
            '<span class="as-problem"><strong>{}</strong><br>'
            '<span class="as-muted" title="{}">{}</span></span>',
            reason_label(obj.reason_code), message, short)

    @admin.display(description="Where")
    def where(self, obj):
        return where_words(obj)

    @admin.display(description="Age / SLA", ordering="first_seen")
    def age_sla(self, obj):
        now = timezone.now()
        age = _age(now - obj.first_seen)
        if obj.due_at is None or obj.status not in ACTIVE:
            return age
        left = obj.due_at - now
        if left.total_seconds() < 0:
            return format_html('{} <span class="as-badge as-badge-red">overdue {}</span>', age,
                               _age(-left))
        return format_html('{} <span class="as-muted">· {} left</span>', age, _age(left))

    @admin.display(description="Team", ordering="owner_team")
    def team(self, obj):
        return obj.get_owner_team_display()

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        badge = format_html('<span class="as-badge {}">{}</span>',
                            STATUS_BADGES.get(obj.status, "as-badge-grey"),
                            obj.get_status_display())
        closed = closed_by_words(obj)
        if closed:
            return format_html('{}<br><span class="as-muted">by {}</span>', badge, closed)
        return badge

    # --- detail page -------------------------------------------------------------------

    @admin.display(description="Problem")
    def problem_words(self, obj):
        return reason_label(obj.reason_code)

    @admin.display(description="Message")
    def shown_message(self, obj):
        return redact_secrets(obj.message)  # rows stored before redaction existed

    @admin.display(description="Closed by")
    def closed_by(self, obj):
        return closed_by_words(obj) or "Still open"

    @admin.display(description="Data received")
    def pretty_payload(self, obj):
        return format_html(
            '<pre style="white-space:pre-wrap;max-height:40em;overflow:auto">{}</pre>',
            json.dumps(redact_value(obj.payload), indent=2, sort_keys=True, default=str),
        )

    @admin.display(description="The same problem elsewhere")
    def group_rows_table(self, obj):
        rows = list(exception_group_rows(obj))
        if len(rows) <= 1:
            return "Only here."
        body = format_html_join("", (
            '<tr{}><td><a href="{}">#{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
            '<td>{}</td></tr>'),
            ((format_html(' class="{}"', "as-current") if r.pk == obj.pk else "",
              reverse("admin:amazonsync_syncexception_change", args=[r.pk]), r.pk, _place(r),
              r.flow, r.get_status_display(), closed_by_words(r) or _age(
                  timezone.now() - r.first_seen) + " old") for r in rows))
        return format_html(
            '<table class="as-group-rows"><thead><tr><th>Row</th><th>Where</th><th>Flow</th>'
            "<th>Status</th><th>Closed by / age</th></tr></thead><tbody>{}</tbody></table>",
            body)

    # --- work: retry, resolve, ignore (list actions and buttons on the detail page) ------

    def _work(self, request, *, verb, selected_ids, hidden, back):
        """Confirm (with a note where needed) and apply ``verb`` to the selected rows and
        their groups; returns a response to show, or None once done (messages say what)."""
        spec = VERBS[verb]
        ids = exception_group_ids(exception_ids=selected_ids, statuses=spec["statuses"])
        refused = {} if verb == "retry" else exceptions_outside_teams(
            exception_ids=ids, teams=user_teams(request.user), statuses=spec["statuses"])
        not_allowed = {pk for pks in refused.values() for pk in pks}
        allowed = [pk for pk in ids if pk not in not_allowed]
        applying = request.method == "POST" and "apply" in request.POST
        form = NoteForm(request.POST if applying else None, label=spec["note"]) \
            if spec["note"] else None
        if not applying or (form is not None and not form.is_valid()):
            rows = SyncException.objects.filter(pk__in=ids).select_related(
                "account", "marketplace").order_by("pk")
            return render(request, "admin/amazonsync/ignore_note.html", {
                **self.admin_site.each_context(request), "opts": self.model._meta,
                "title": spec["title"], "verb": verb, "button": spec["button"], "form": form,
                "rows": [(r, reason_label(r.reason_code), _place(r), r.pk in allowed)
                         for r in rows],
                "allowed": allowed, "hidden": hidden, "back": back,
                "refused_text": ownership_refusal(verb=verb, refused=refused) if refused
                else "",
            })
        if verb == "retry":
            self._retry(request, allowed)
        elif allowed or not refused:
            if verb == "resolve":
                n = services.exceptions_resolve(exception_ids=allowed, user=request.user,
                                                note=form.cleaned_data["note"])
            else:
                n = services.exceptions_ignore(exception_ids=allowed, user=request.user,
                                               note=form.cleaned_data["note"])
            done = "marked resolved" if verb == "resolve" else "ignored"
            self.message_user(request, f"{n} exception(s) {done}.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Left as they were: "
                              + ownership_refusal(verb=verb, refused=refused), messages.WARNING)
        return None

    def _retry(self, request, ids):
        outcome = services.exceptions_retry(exception_ids=ids, user=request.user)
        self.message_user(
            request,
            f"Retried: {outcome.resolved} resolved, {outcome.still_open} still open"
            + (f", {outcome.errors} failed again" if outcome.errors else "") + ".",
            messages.SUCCESS if not outcome.still_open and not outcome.errors
            else messages.WARNING,
        )

    def _list_work(self, request, queryset, verb, action_name):
        selected = list(queryset.values_list("pk", flat=True))
        hidden = [("action", action_name)] + [(ACTION_CHECKBOX_NAME, pk) for pk in selected]
        return self._work(request, verb=verb, selected_ids=selected, hidden=hidden,
                          back=request.get_full_path())

    @admin.action(description="Retry selected exceptions", permissions=["change"])
    def retry_selected(self, request, queryset):
        ids = exception_group_ids(exception_ids=queryset.values_list("pk", flat=True),
                                  statuses=ACTIVE)
        self._retry(request, ids)

    @admin.action(description="Mark selected as resolved", permissions=["change"])
    def resolve_selected(self, request, queryset):
        return self._list_work(request, queryset, "resolve", "resolve_selected")

    @admin.action(description="Ignore selected (note required)", permissions=["change"])
    def ignore_selected(self, request, queryset):
        return self._list_work(request, queryset, "ignore", "ignore_selected")

    @admin.action(description="Assign selected to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        n = services.exceptions_assign(
            exception_ids=exception_group_ids(
                exception_ids=queryset.values_list("pk", flat=True), statuses=ACTIVE),
            assignee=request.user,
        )
        self.message_user(request, f"{n} exception(s) assigned to you.", messages.SUCCESS)

    def _detail_work(self, request, object_id, verb):
        obj = get_object_or_404(SyncException, pk=object_id)
        page = reverse("admin:amazonsync_syncexception_change", args=[obj.pk])
        response = self._work(request, verb=verb, selected_ids=[obj.pk], hidden=[],
                              back=page)
        return response or HttpResponseRedirect(page)

    @action(description="Retry", url_path="retry", permissions=["change"], icon="refresh")
    def retry_detail(self, request, object_id):
        return self._detail_work(request, object_id, "retry")

    @action(description="Resolve", url_path="resolve", permissions=["change"],
            icon="check_circle")
    def resolve_detail(self, request, object_id):
        return self._detail_work(request, object_id, "resolve")

    @action(description="Ignore", url_path="ignore", permissions=["change"],
            icon="do_not_disturb_on")
    def ignore_detail(self, request, object_id):
        return self._detail_work(request, object_id, "ignore")

    # --- resolve / ignore: only the owning team (or a superuser) -------------------------
    TEAM_ACTIONS = ("resolve_selected", "ignore_selected")

    def get_actions(self, request):
        actions = super().get_actions(request)
        teams = user_teams(request.user)
        if teams is None:
            return actions
        for name in self.TEAM_ACTIONS:
            if name not in actions:
                continue
            if not teams:  # works no team's exceptions: offer neither
                del actions[name]
                continue
            func, action_name, description = actions[name]
            actions[name] = (func, action_name,
                             f"{description} ({' and '.join(sorted(teams))} exceptions only)")
        return actions


from . import panels_exceptions  # noqa: E402,F401  (the home page's exceptions panel)
