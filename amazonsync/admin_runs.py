"""The admin of sync runs and Amazon API calls: what the workers did, how long it took."""

from __future__ import annotations

from django.contrib import admin

from .adminkit import ReadOnlyAdmin, TabularInline
from .crypto import redact_secrets
from .models import ApiCall, SyncRun


def _duration(obj) -> str:
    d = obj.duration
    if d is None:
        return "-"
    seconds = d.total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


class ApiCallInline(TabularInline):
    model = ApiCall
    extra = 0
    fields = ("operation", "method", "path", "status_code", "duration_ms", "throttled",
              "request_id", "error")
    readonly_fields = fields
    can_delete = False
    show_change_link = False
    max_num = 0

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    superuser_may_delete = True  # to prune old runs
    list_display = ("id", "flow", "account", "marketplace", "status", "trigger", "started_at",
                    "duration", "fetched", "created", "updated", "unchanged", "failed",
                    "api_calls", "throttled")
    list_filter = ("status", "flow", "trigger", "account", "marketplace")
    list_select_related = ("account", "marketplace")
    search_fields = ("flow", "error", "account__name", "account__selling_partner_id")
    date_hierarchy = "started_at"
    inlines = [ApiCallInline]
    readonly_fields = ("flow", "account", "marketplace", "trigger", "status", "started_at",
                       "finished_at", "duration", "fetched", "created", "updated", "unchanged",
                       "failed", "api_calls", "throttled", "shown_error")
    fields = readonly_fields

    @admin.display(description="duration")
    def duration(self, obj):
        return _duration(obj)

    @admin.display(description="error")
    def shown_error(self, obj):
        return redact_secrets(obj.error)  # rows stored before redaction existed


@admin.register(ApiCall)
class ApiCallAdmin(ReadOnlyAdmin):
    superuser_may_delete = True
    list_display = ("id", "created_at", "operation", "status_code", "duration_ms", "throttled",
                    "account", "run", "request_id")
    list_filter = ("operation", "throttled", "status_code")
    list_select_related = ("account", "run")
    search_fields = ("request_id", "path", "operation")
    show_full_result_count = False
