"""The admin of the exception queue: one place for staff to fix what went wrong."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html

from . import services
from .adminkit import ModelAdmin
from .crypto import redact_secrets, redact_value
from .models import SyncException
from .permissions import ownership_refusal, user_teams
from .selectors import exceptions_outside_teams

ACTIVE = (SyncException.Status.OPEN, SyncException.Status.RETRYING)

# object_kind -> callable(exception) -> admin URL of the object to fix, or None.
OBJECT_LINKS: dict = {}


def register_object_link(object_kind: str):
    """Apps say where staff fix an exception's object (e.g. the listing to map)."""

    def decorator(func):
        OBJECT_LINKS[object_kind] = func
        return func

    return decorator


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


class NoteForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                           required=True, label="Why is it safe to ignore these?")


@admin.register(SyncException)
class SyncExceptionAdmin(ModelAdmin):
    list_display = ("id", "status", "severity", "sla", "owner_team", "assignee", "reason_code",
                    "object_kind", "object_key", "short_message", "fix_link", "account",
                    "marketplace", "age", "attempts", "occurrences", "last_seen")
    list_filter = ("status", "severity", "owner_team", "reason_code", "flow", AgeFilter,
                   "marketplace", ("assignee", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("account", "marketplace", "assignee")
    search_fields = ("object_key", "message", "reason_code")
    actions = ["retry_selected", "resolve_selected", "ignore_selected", "assign_to_me"]
    readonly_fields = ("flow", "account", "marketplace", "object_kind", "object_key",
                       "reason_code", "shown_message", "owner_team", "severity", "due_at",
                       "status",
                       "attempts", "occurrences", "first_seen", "last_seen", "depends_on",
                       "resolved_at", "resolved_by", "resolution_note", "manual_fix",
                       "last_run", "fix_link", "pretty_payload")
    fields = ("assignee",) + readonly_fields
    raw_id_fields = ("assignee",)
    ordering = ("status", "severity_rank", "due_at")

    @admin.display(description="SLA", ordering="due_at")
    def sla(self, obj):
        if obj.due_at is None or obj.status not in ("open", "retrying"):
            return "-"
        left = obj.due_at - timezone.now()
        hours = int(left.total_seconds() // 3600)
        if hours < 0:
            return format_html('<strong style="color:#ba2121">overdue {} h</strong>', -hours)
        return f"{hours} h left"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        # only the assignee is editable on the form
        services.exceptions_assign(exception_ids=[obj.pk], assignee=obj.assignee)

    @admin.display(description="fix")
    def fix_link(self, obj):
        func = OBJECT_LINKS.get(obj.object_kind)
        url = func(obj) if func else None
        if not url:
            return "-"
        return format_html('<a class="fix-link" href="{}">open {}</a>', url,
                           obj.object_kind.replace("_", " "))

    @admin.display(description="message")
    def short_message(self, obj):
        message = redact_secrets(obj.message)
        return message if len(message) <= 90 else message[:87] + "…"

    @admin.display(description="message")
    def shown_message(self, obj):
        return redact_secrets(obj.message)  # rows stored before redaction existed

    @admin.display(description="age", ordering="first_seen")
    def age(self, obj):
        delta = timezone.now() - obj.first_seen
        if delta.days:
            return f"{delta.days} d"
        hours = delta.seconds // 3600
        return f"{hours} h" if hours else f"{delta.seconds // 60} min"

    @admin.display(description="raw payload")
    def pretty_payload(self, obj):
        return format_html(
            '<pre style="white-space:pre-wrap;max-height:40em;overflow:auto">{}</pre>',
            json.dumps(redact_value(obj.payload), indent=2, sort_keys=True, default=str),
        )

    @admin.action(description="Retry selected exceptions", permissions=["change"])
    def retry_selected(self, request, queryset):
        outcome = services.exceptions_retry(
            exception_ids=list(queryset.values_list("pk", flat=True)), user=request.user
        )
        self.message_user(
            request,
            f"Retried: {outcome.resolved} resolved, {outcome.still_open} still open"
            + (f", {outcome.errors} failed again" if outcome.errors else "") + ".",
            messages.SUCCESS if not outcome.still_open and not outcome.errors
            else messages.WARNING,
        )

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

    def _split_by_team(self, request, queryset, *, statuses):
        """(ids the user may change, {team: ids} they may not) of the selected rows."""
        ids = list(queryset.values_list("pk", flat=True))
        refused = exceptions_outside_teams(exception_ids=ids, teams=user_teams(request.user),
                                           statuses=statuses)
        not_allowed = {pk for pks in refused.values() for pk in pks}
        return [pk for pk in ids if pk not in not_allowed], refused

    def _report_refused(self, request, refused, verb):
        if refused:
            self.message_user(
                request, "Left as they were: "
                + ownership_refusal(verb=verb, refused=refused), messages.WARNING,
            )

    @admin.action(description="Mark selected as resolved", permissions=["change"])
    def resolve_selected(self, request, queryset):
        allowed, refused = self._split_by_team(request, queryset, statuses=ACTIVE)
        if allowed or not refused:
            n = services.exceptions_resolve(exception_ids=allowed, user=request.user)
            self.message_user(request, f"{n} exception(s) marked resolved.", messages.SUCCESS)
        self._report_refused(request, refused, "resolve")

    @admin.action(description="Assign selected to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        n = services.exceptions_assign(
            exception_ids=list(queryset.values_list("pk", flat=True)), assignee=request.user
        )
        self.message_user(request, f"{n} exception(s) assigned to you.", messages.SUCCESS)

    @admin.action(description="Ignore selected (note required)", permissions=["change"])
    def ignore_selected(self, request, queryset):
        allowed, refused = self._split_by_team(request, queryset.exclude(status="ignored"),
                                               statuses=None)
        form = NoteForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            if allowed or not refused:
                n = services.exceptions_ignore(
                    exception_ids=allowed, user=request.user, note=form.cleaned_data["note"],
                )
                self.message_user(request, f"{n} exception(s) ignored.", messages.SUCCESS)
            self._report_refused(request, refused, "ignore")
            return None
        return render(
            request,
            "admin/amazonsync/ignore_note.html",
            {
                **self.admin_site.each_context(request),
                "title": "Ignore exceptions",
                "form": form,
                "queryset": queryset,
                "allowed": set(allowed),
                "refused_text": ownership_refusal(verb="ignore", refused=refused)
                if refused else "",
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )
