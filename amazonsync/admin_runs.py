"""The admin of sync runs and Amazon API calls: what the workers did, how long it took.

A run's page shows its summary and, in a second tab, the Amazon API calls it made; while a
run is queued or running the page reloads itself every few seconds, so a person who asked
for it ("Run now" on a seller account) watches its counts grow until it finishes. The
"failing flows" panel of the home page is registered at the bottom."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html
from unfold.decorators import action, display

from .adminkit import ReadOnlyAdmin, TabularInline
from .crypto import redact_secrets
from .dashboard import Figure, PanelData, register_panel
from .health import get_metric
from .models import AlertSent, ApiCall, SyncRun
from .registry import all_flows
from .runs import RunRefused, failing_flows, flow_label, run_enqueue

STATUS_LABELS = {
    SyncRun.Status.SUCCEEDED: "success",
    SyncRun.Status.FAILED: "danger",
    SyncRun.Status.RUNNING: "info",
    SyncRun.Status.QUEUED: "info",
    SyncRun.Status.REFUSED: "warning",
    SyncRun.Status.SKIPPED: "",
}
REFRESH_SECONDS = 2


def _duration(obj) -> str:
    d = obj.duration
    if d is None:
        return "still going" if obj.status in (SyncRun.Status.QUEUED,
                                               SyncRun.Status.RUNNING) else "-"
    seconds = d.total_seconds()
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def run_counts(run: SyncRun) -> str:
    """"120 fetched · 40 created · 3 failed": the non-zero counts in words."""
    parts = [f"{getattr(run, key):,} {key}" for key in
             ("fetched", "created", "updated", "unchanged", "failed") if getattr(run, key)]
    if parts:
        return " · ".join(parts)
    going = run.status in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)
    return "nothing read yet" if going else "nothing"


class FlowFilter(admin.SimpleListFilter):
    """The flows by their names for people (``?flow=orders``)."""

    title = "flow"
    parameter_name = "flow"

    def lookups(self, request, model_admin):
        return sorted(((spec.name, flow_label(spec.name)) for spec in all_flows()),
                      key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        return queryset.filter(flow=self.value()) if self.value() else queryset


class ApiCallInline(TabularInline):
    model = ApiCall
    extra = 0
    fields = ("created_at", "operation", "method", "path", "status_code", "duration_ms",
              "throttled", "request_id", "error")
    readonly_fields = fields
    can_delete = False
    show_change_link = False
    max_num = 0
    tab = True
    verbose_name = "Amazon API call"
    verbose_name_plural = "Amazon API calls"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    superuser_may_delete = True  # to prune old runs
    list_display = ("run_number", "flow_name", "account", "where", "status_badge",
                    "started_at", "duration", "counts", "calls")
    list_display_links = ("run_number", "flow_name")
    list_filter = ("status", FlowFilter, "trigger", "account", "marketplace")
    list_select_related = ("account", "marketplace")
    search_fields = ("flow", "error", "account__name", "account__selling_partner_id")
    date_hierarchy = "started_at"
    inlines = [ApiCallInline]
    actions_detail = ["run_again"]
    change_form_outer_before_template = "admin/amazonsync/runs/run_refresh.html"
    fieldsets = (
        ("Summary", {"classes": ["tab"], "fields": (
            ("flow_name", "status_shown"), ("account", "where"), ("trigger", "requested_by"),
            ("started_at", "finished_at", "duration"), "since", "counts",
            ("api_calls", "throttled"), "shown_error",
        )}),
    )
    readonly_fields = ("flow_name", "status_shown", "account", "where", "trigger",
                       "requested_by", "started_at", "finished_at", "duration", "since",
                       "counts", "api_calls", "throttled", "shown_error")

    @display(description="run", ordering="id")
    def run_number(self, obj):
        return f"#{obj.pk}"

    @display(description="flow", ordering="flow")
    def flow_name(self, obj):
        return flow_label(obj.flow)

    @display(description="marketplace", ordering="marketplace__code")
    def where(self, obj):
        return str(obj.marketplace) if obj.marketplace_id else "All marketplaces"

    @display(description="status", ordering="status", label=STATUS_LABELS)
    def status_badge(self, obj):
        return obj.status, obj.get_status_display()

    @display(description="status")
    def status_shown(self, obj):
        """The badge on the run's page (unfold draws label badges in lists only)."""
        tone = {"success": "green", "danger": "red", "info": "blue", "warning": "amber"}.get(
            STATUS_LABELS.get(obj.status, ""), "grey")
        return format_html('<span class="as-badge as-badge-{}">{}</span>', tone,
                           obj.get_status_display())

    @display(description="duration")
    def duration(self, obj):
        return _duration(obj)

    @display(description="records")
    def counts(self, obj):
        return run_counts(obj)

    @display(description="Amazon API calls", ordering="api_calls")
    def calls(self, obj):
        if obj.throttled:
            return f"{obj.api_calls:,} ({obj.throttled:,} throttled)"
        return f"{obj.api_calls:,}"

    @display(description="error")
    def shown_error(self, obj):
        return redact_secrets(obj.error) or "-"  # rows stored before redaction existed

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "marketplace",
                                                            "requested_by")

    @action(description="Run again", icon="replay", url_path="run-again",
            permissions=["amazonsync.run_flow"])
    def run_again(self, request, object_id):
        """Queue the same flow for the same account and marketplace (not its backfill date)."""
        run = get_object_or_404(SyncRun, pk=object_id)
        here = reverse("admin:amazonsync_syncrun_change", args=[run.pk])
        try:
            again = run_enqueue(flow=run.flow, account_id=run.account_id,
                                marketplace_id=run.marketplace_id, user=request.user)
        except RunRefused as refused:
            messages.error(request, str(refused))
            return HttpResponseRedirect(here)
        messages.success(request, f"{flow_label(run.flow)} queued again (run #{again.pk}). "
                         "This page follows it until it finishes.")
        return HttpResponseRedirect(reverse("admin:amazonsync_syncrun_change", args=[again.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        run = self.get_object(request, object_id)
        if run is not None and run.status in (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING):
            extra_context["refresh_seconds"] = REFRESH_SECONDS
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(ApiCall)
class ApiCallAdmin(ReadOnlyAdmin):
    superuser_may_delete = True
    list_display = ("id", "created_at", "operation", "answer", "duration_ms", "throttled",
                    "account", "run_link", "request_id")
    list_filter = ("operation", "throttled", "status_code")
    list_select_related = ("account", "run")
    search_fields = ("request_id", "path", "operation")
    show_full_result_count = False

    @display(description="answer", ordering="status_code",
             label={"ok": "success", "error": "danger", "none": ""})
    def answer(self, obj):
        if obj.status_code is None:
            return "none", "no answer"
        return ("ok" if obj.status_code < 400 else "error"), str(obj.status_code)

    @display(description="sync run", ordering="run_id")
    def run_link(self, obj):
        if obj.run_id is None:
            return "-"
        url = reverse("admin:amazonsync_syncrun_change", args=[obj.run_id])
        return format_html('<a href="{}">{} #{}</a>', url, flow_label(obj.run.flow),
                           obj.run_id)


@admin.register(AlertSent)
class AlertSentAdmin(ReadOnlyAdmin):
    """What the alert digests already said (each event is alerted once)."""

    list_display = ("sent_at", "kind_badge", "team", "what", "cleared_at")
    list_filter = ("kind", "team")
    search_fields = ("key",)

    @display(description="about", ordering="key")
    def what(self, obj):
        if obj.kind == AlertSent.Kind.RED:
            code, _, key = obj.key.partition("/")
            try:
                return f"{get_metric(key).label} in {code}"
            except KeyError:
                return obj.key
        url = reverse("admin:amazonsync_syncexception_change", args=[obj.key])
        return format_html('<a href="{}">Exception #{}</a>', url, obj.key)

    @display(description="kind", ordering="kind",
             label={"critical": "danger", "overdue": "warning", "red": "danger"})
    def kind_badge(self, obj):
        return obj.kind, obj.get_kind_display()


# --- home page ---------------------------------------------------------------------------


def _runs_url(**filters) -> str:
    query = "&".join(f"{key}={value}" for key, value in filters.items() if value is not None)
    return f"{reverse('admin:amazonsync_syncrun_changelist')}?{query}"


@register_panel("failing_flows", title="Failing flows", audience="ops",
                permission="amazonsync.view_syncrun", order=20)
def failing_flows_panel(request, now) -> PanelData:
    """The flows whose latest run failed or was refused, per account and marketplace."""
    failing = failing_flows()
    rows = []
    for f in failing[:10]:
        link = _runs_url(flow=f.flow, account__id__exact=f.account_id,
                         marketplace__id__exact=f.marketplace_id)
        badge = "as-badge-amber" if f.status == SyncRun.Status.REFUSED else "as-badge-red"
        rows.append((
            format_html('<a href="{}">{}</a>', link, f.label),
            f"{f.account} · {f.marketplace}" if f.marketplace else f.account,
            format_html('<span class="as-badge {}" title="{}">{}</span>', badge, f.error,
                        SyncRun.Status(f.status).label.split(" (")[0]),
        ))
    figures = [Figure(label="flows failing", value=str(len(failing)), tone="bad",
                      link=_runs_url(status__exact=SyncRun.Status.FAILED))] if failing else []
    return PanelData(
        figures=figures, headers=("flow", "where", "latest run") if rows else (), rows=rows,
        empty="Every flow's latest run succeeded.",
        link=reverse("admin:amazonsync_syncrun_changelist"), link_label="All sync runs",
    )

