"""Admin for accountants: settlements with their reconciliation, GL chart and mapping rules
(CSV import/export), journal batches with four-eyes approval and CSV export. Thin: every
action calls a service; data that came from Amazon is read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html

from amazonsync.adminkit import (
    ImportExportHistoryAdmin,
    ModelAdmin,
    ReadOnlyAdmin,
    TabularInline,
    money_display,
)
from amazonsync.spreadsheets import CSV, XLSX

from . import selectors, services
from .models import (
    GLAccount,
    GLMapping,
    JournalBatch,
    JournalLine,
    Settlement,
    SettlementLine,
    SettlementReportDocument,
)
from .resources import GLAccountResource, GLMappingResource


def _drift_cell(value, currency):
    if value is None:
        return format_html('<span class="drift-na">n/a</span>')
    if value:
        return format_html('<span class="drift drift-yes">{}</span>',
                           money_display(value, currency))
    return format_html('<span class="drift-ok">{}</span>', money_display(value, currency))


# --------------------------------------------------------------------------- settlements


class DriftFilter(admin.SimpleListFilter):
    title = "drift"
    parameter_name = "drift"

    def lookups(self, request, model_admin):
        return [("yes", "With drift"), ("no", "Reconciled"), ("unmapped", "Unmapped lines")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(has_drift=True)
        if self.value() == "no":
            return queryset.filter(has_drift=False)
        if self.value() == "unmapped":
            return queryset.filter(unmapped_lines__gt=0)
        return queryset


class JournalBatchInline(TabularInline):
    model = JournalBatch
    fk_name = "settlement"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("reference", "period", "kind", "status", "debit_total", "credit_total",
              "unmapped_lines", "prepared_by", "approved_by")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("prepared_by", "approved_by")


@admin.register(Settlement)
class SettlementAdmin(ModelAdmin):
    change_list_template = "admin/settlements/settlement/change_list.html"
    list_display = (
        "settlement_id", "account", "marketplace", "end_date", "currency", "total",
        "line_count", "internal", "journal", "deposit", "reserve", "unmapped_lines",
        "reconciliation_link",
    )
    list_select_related = ("account", "marketplace")
    list_filter = (DriftFilter, "marketplace", "account", "currency", "end_date")
    search_fields = ("=settlement_id",)
    date_hierarchy = "end_date"
    inlines = [JournalBatchInline]
    actions = ["rebuild_journals", "reconcile"]
    fieldsets = (
        ("From Amazon", {"fields": (
            "account", "marketplace", "settlement_id", "start_date", "end_date",
            "deposit_date", "total_amount", "currency", "line_count", "sum_of_lines",
            "source_name", "report_document_id", "imported_at", "columns")}),
        ("Bank", {"fields": ("bank_deposit_amount",)}),
        ("Reconciliation", {"fields": (
            "internal_drift", "journal_net", "adjustment_net", "journal_drift",
            "deposit_drift",
            "previous_reserve", "current_reserve", "reserve_drift", "unmapped_lines",
            "order_issues", "has_drift", "reconciled_at")}),
    )

    def get_readonly_fields(self, request, obj=None):
        editable = {"bank_deposit_amount"}
        return [f.name for f in Settlement._meta.fields if f.name not in editable] + [
            "columns"
        ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.settlement_record_deposit(
            settlement=obj, amount=form.cleaned_data.get("bank_deposit_amount"),
            user=request.user,
        )

    @admin.display(description="total", ordering="total_amount")
    def total(self, obj):
        return money_display(obj.total_amount, obj.currency)

    @admin.display(description="internal drift", ordering="internal_drift")
    def internal(self, obj):
        return _drift_cell(obj.internal_drift, obj.currency)

    @admin.display(description="journal drift", ordering="journal_drift")
    def journal(self, obj):
        return _drift_cell(obj.journal_drift, obj.currency)

    @admin.display(description="deposit drift")
    def deposit(self, obj):
        return _drift_cell(obj.deposit_drift, obj.currency)

    @admin.display(description="reserve drift")
    def reserve(self, obj):
        return _drift_cell(obj.reserve_drift, obj.currency)

    @admin.display(description="")
    def reconciliation_link(self, obj):
        url = reverse("admin:settlements_settlement_reconciliation", args=[obj.pk])
        return format_html('<a href="{}">reconciliation</a>', url)

    @admin.action(description="Rebuild journals with the current GL mapping (retry)")
    def rebuild_journals(self, request, queryset):
        if not request.user.has_perm("settlements.change_journalbatch"):
            raise PermissionDenied
        for settlement in queryset:
            services.settlement_retry(settlement=settlement, user=request.user)
        self.message_user(request, f"Rebuilt the journals of {queryset.count()} settlements.")

    @admin.action(description="Reconcile again")
    def reconcile(self, request, queryset):
        for settlement in queryset:
            services.settlement_reconcile(settlement=settlement)
        self.message_user(request, f"Reconciled {queryset.count()} settlements.")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/reconciliation/", view(self.reconciliation_view),
                 name="settlements_settlement_reconciliation"),
            path("drift-chart/", view(self.drift_chart_view),
                 name="settlements_settlement_drift_chart"),
            *super().get_urls(),
        ]

    def reconciliation_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        settlement = get_object_or_404(
            Settlement.objects.select_related("account", "marketplace"), pk=pk
        )
        context = {
            **self.admin_site.each_context(request),
            **selectors.reconciliation(settlement),
            "opts": self.model._meta,
            "title": f"Reconciliation of settlement {settlement.settlement_id}",
        }
        return TemplateResponse(request, "admin/settlements/reconciliation.html", context)

    def drift_chart_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        marketplace = request.GET.get("marketplace") or None
        account = request.GET.get("account") or None
        date_from = parse_date(request.GET.get("from") or "") if request.GET.get("from") else None
        date_to = parse_date(request.GET.get("to") or "") if request.GET.get("to") else None
        series = selectors.drift_series(
            account_id=int(account) if account and account.isdigit() else None,
            marketplace_id=marketplace, date_from=date_from, date_to=date_to,
        )
        change_url = reverse("admin:settlements_settlement_change", args=[0]).replace(
            "/0/", "/{pk}/"
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Settlement drift over time",
            "series": series,
            "chart_data": {"series": series, "reconciliation_url": change_url.replace(
                "/change/", "/reconciliation/")},
            **selectors.drift_chart_choices(),
            "selected": {"marketplace": marketplace or "", "account": account or "",
                         "from": request.GET.get("from", ""), "to": request.GET.get("to", "")},
        }
        return TemplateResponse(request, "admin/settlements/drift_chart.html", context)


# --------------------------------------------------------------------------- lines


class LookaheadChangeList(ChangeList):
    """Pages without COUNT(*): fetch one row more than a page to know if there is a next."""

    def get_results(self, request):
        per_page = self.list_per_page
        page = max(int(self.page_num or 1), 1)
        offset = (page - 1) * per_page
        if offset + per_page >= 2**63:  # no database takes such an OFFSET
            raise IncorrectLookupParameters(f"page {page} does not exist")
        rows = list(self.queryset[offset:offset + per_page + 1])
        if not rows and page > 1:  # past the end: like Django's own lists, "?e=1"
            raise IncorrectLookupParameters(f"page {page} does not exist")
        has_more = len(rows) > per_page
        rows = rows[:per_page]
        count = offset + len(rows) + (1 if has_more else 0)
        self.paginator = Paginator(range(count), per_page)
        self.result_count = count
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.full_result_count = None
        self.result_list = rows
        self.can_show_all = False
        self.multi_page = has_more or page > 1


@admin.register(SettlementLine)
class SettlementLineAdmin(ReadOnlyAdmin):
    list_display = ("settlement", "line_number", "transaction_type", "amount_type",
                    "amount_description", "amount", "order_id", "sku", "posted_date")
    list_select_related = ("settlement",)
    show_full_result_count = False
    list_per_page = 100
    search_fields = ("=order_id", "=sku", "=settlement__settlement_id")
    ordering = ("-id",)

    def get_changelist(self, request, **kwargs):
        return LookaheadChangeList

    def get_search_results(self, request, queryset, search_term):
        queryset, _ = super().get_search_results(request, queryset, search_term)
        return queryset, False  # exact lookups only: never DISTINCT

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        settlement = request.GET.get("settlement__id__exact")
        return qs.filter(settlement_id=settlement) if settlement else qs

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "settlement__id__exact" or super().lookup_allowed(
            lookup, value, request
        )


# --------------------------------------------------------------------------- GL


class GLAccountForm(forms.ModelForm):
    class Meta:
        model = GLAccount
        fields = "__all__"

    def clean_code(self):
        code = self.cleaned_data["code"]
        if self.instance.pk and code != self.instance.code:
            reference = selectors.gl_account_pinned_by(self.instance)
            if reference:
                raise forms.ValidationError(
                    f"This account is used by approved journal batch {reference}: its code "
                    "cannot change. Create a new account and map to it instead."
                )
        return code


@admin.register(GLAccount)
class GLAccountAdmin(ImportExportHistoryAdmin):
    form = GLAccountForm
    resource_classes = [GLAccountResource]
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]
    list_display = ("code", "name", "type", "role", "active")
    list_filter = ("type", "active")
    search_fields = ("code", "name")

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and selectors.gl_account_pinned_by(obj):
            readonly.append("code")  # approved books re-export as approved
        return readonly

    def save_model(self, request, obj, form, change):
        try:
            services.gl_account_save(account=obj, user=request.user)
        except services.SettlementError as exc:
            raise PermissionDenied(str(exc)) from exc


@admin.register(GLMapping)
class GLMappingAdmin(ImportExportHistoryAdmin):
    resource_classes = [GLMappingResource]
    import_formats = [CSV, XLSX]
    export_formats = [CSV, XLSX]
    list_display = ("transaction_type_", "amount_type_", "amount_description_", "pattern",
                    "marketplace", "gl_account", "memo")
    list_select_related = ("gl_account", "marketplace")
    list_filter = ("gl_account", "marketplace", "pattern")
    search_fields = ("transaction_type", "amount_type", "amount_description",
                     "gl_account__code")
    autocomplete_fields = ()

    @admin.display(description="transaction type", ordering="transaction_type")
    def transaction_type_(self, obj):
        return obj.transaction_type or "(any)"

    @admin.display(description="amount type", ordering="amount_type")
    def amount_type_(self, obj):
        return obj.amount_type or "(any)"

    @admin.display(description="amount description", ordering="amount_description")
    def amount_description_(self, obj):
        return obj.amount_description or "(any)"


# --------------------------------------------------------------------------- journals


class JournalLineInline(TabularInline):
    model = JournalLine
    extra = 0
    can_delete = False
    fields = ("entry_date", "gl_account", "role", "debit", "credit", "currency", "memo",
              "explanation", "recorded_by")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("gl_account", "recorded_by")


class AdjustmentForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=GLAccount.objects.filter(active=True).exclude(
            role=GLAccount.Role.AMAZON_CLEARING
        ),
        label="GL account", help_text="where the difference belongs",
    )
    amount = forms.DecimalField(
        max_digits=18, decimal_places=4,
        help_text="positive: Amazon owes us (credited to the account); negative: debited. "
                  "The Amazon clearing account takes the other side.",
    )
    explanation = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="why: kept with the journal and shown to whoever approves it",
    )


@admin.register(JournalBatch)
class JournalBatchAdmin(ModelAdmin):
    list_display = ("reference", "settlement_link", "period", "kind", "status_badge",
                    "debit_total", "credit_total", "balanced_", "unmapped_lines",
                    "prepared_by", "last_changed_by", "approved_by")
    list_select_related = ("settlement", "prepared_by", "last_changed_by", "approved_by")
    list_filter = ("status", "kind", "period", "currency")
    search_fields = ("reference", "=settlement__settlement_id")
    inlines = [JournalLineInline]
    actions = ["mark_ready", "approve", "return_to_draft", "export_csv", "reverse"]
    readonly_fields = [f.name for f in JournalBatch._meta.fields] + ["add_adjustment"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # drafts are rebuilt, approved batches are reversed

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_locked:
            return False
        return super().has_change_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("settlements.approve_journalbatch"):
            actions.pop("approve", None)
        return actions

    @admin.display(description="settlement", ordering="settlement__settlement_id")
    def settlement_link(self, obj):
        url = reverse("admin:settlements_settlement_reconciliation", args=[obj.settlement_id])
        return format_html('<a href="{}">{}</a>', url, obj.settlement.settlement_id)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return format_html('<span class="jb-status jb-{}">{}</span>', obj.status,
                           obj.get_status_display())

    @admin.display(description="balanced", boolean=True)
    def balanced_(self, obj):
        return obj.balanced

    @admin.display(description="explain drift")
    def add_adjustment(self, obj):
        if obj is None or obj.pk is None or obj.is_locked:
            return "—"
        url = reverse("admin:settlements_journalbatch_adjust", args=[obj.pk])
        return format_html('<a class="button" href="{}">Add an explained adjustment</a>', url)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/adjust/", view(self.adjust_view),
                 name="settlements_journalbatch_adjust"),
            *super().get_urls(),
        ]

    def adjust_view(self, request, pk):
        batch = get_object_or_404(JournalBatch.objects.select_related("settlement"), pk=pk)
        if not self.has_change_permission(request, batch):
            raise PermissionDenied
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.journal_batch_add_adjustment(
                    batch=batch, account=form.cleaned_data["account"],
                    amount=form.cleaned_data["amount"],
                    explanation=form.cleaned_data["explanation"], user=request.user,
                )
            except services.SettlementError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Adjustment recorded on {batch.reference}; it is "
                                           "back in draft for review.")
                return HttpResponseRedirect(
                    reverse("admin:settlements_journalbatch_change", args=[batch.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Explained adjustment on {batch.reference}",
            "batch": batch,
            "unexplained": selectors.settlement_unexplained(batch.settlement),
            "form": form,
        }
        return TemplateResponse(request, "admin/settlements/journalbatch/adjust.html", context)

    def _each(self, request, queryset, func, done: str):
        ok = 0
        for batch in queryset:
            try:
                func(batch=batch, user=request.user)
                ok += 1
            except services.SettlementError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            except DatabaseError as exc:  # a database guard held where a service did not
                reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
                self.message_user(
                    request, f"{batch.reference}: the database refused this: {reason}",
                    messages.ERROR,
                )
        if ok:
            self.message_user(request, f"{ok} batch(es) {done}.")

    @admin.action(description="Mark ready for approval")
    def mark_ready(self, request, queryset):
        self._each(request, queryset, services.journal_batch_mark_ready, "marked ready")

    @admin.action(description="Approve (four eyes)", permissions=["change"])
    def approve(self, request, queryset):
        self._each(request, queryset, services.journal_batch_approve, "approved")

    @admin.action(description="Return to draft")
    def return_to_draft(self, request, queryset):
        self._each(request, queryset, services.journal_batch_return_to_draft,
                   "returned to draft")

    @admin.action(description="Reverse (correction batch)")
    def reverse(self, request, queryset):
        self._each(request, queryset, services.journal_batch_reverse, "reversed")

    @admin.action(description="Export CSV journal (approved batches)")
    def export_csv(self, request, queryset):
        try:
            text = services.journal_batches_export(batches=queryset, user=request.user)
        except services.SettlementError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        response = HttpResponse(text, content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="journal-{stamp}.csv"'
        return response


@admin.register(SettlementReportDocument)
class SettlementReportDocumentAdmin(ReadOnlyAdmin):
    # a superuser may delete a document's record, so that the flow imports it again
    superuser_may_delete = True
    list_display = ("report_id", "report_document_id", "account", "settlement", "outcome",
                    "created_time", "processed_at")
    list_select_related = ("account", "settlement")
    list_filter = ("outcome",)

