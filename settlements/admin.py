"""Admin for accountants: settlements with their reconciliation, drift badges and links to
their lines and journal batches, the lines (an honest count without COUNT(*) over millions of
rows), the drift charts (one per currency, server-rendered SVG) and the report files. Journal
batches and the GL chart are in ``admin_journals``. Thin: every action calls a service; data
that came from Amazon is read-only; money is shown by ``amazonsync.money`` only."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_date
from django.utils.html import format_html
from unfold.decorators import action

from amazonsync.adminkit import ModelAdmin, ReadOnlyAdmin, TabularInline
from amazonsync.money import display as money_display
from marketplaces.reference import marketplace_label

from . import (
    admin_journals,  # noqa: F401  (registers journal batches and the GL chart)
    selectors,
    services,
)
from .admin_cells import (
    badge,
    drift_badge,
    money_cell,
    page_terms_load,
    settlement_state,
    settlement_term,
    status_badge,
)
from .drift import drift_charts
from .models import JournalBatch, Settlement, SettlementLine, SettlementReportDocument
from .review import MEASURES, needs_review_q

# --------------------------------------------------------------------------- settlements


class DriftFilter(admin.SimpleListFilter):
    title = "reconciliation"
    parameter_name = "drift"

    def lookups(self, request, model_admin):
        return [("review", "Needs review"), ("yes", "With drift"), ("no", "Balanced"),
                ("unmapped", "Lines without a GL account")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "review":
            return queryset.filter(needs_review_q())
        if value == "yes":
            return queryset.filter(has_drift=True)
        if value == "no":
            return queryset.filter(has_drift=False)
        if value == "unmapped":
            return queryset.filter(unmapped_lines__gt=0)
        return queryset


class JournalBatchInline(TabularInline):
    model = JournalBatch
    fk_name = "settlement"
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "journal batches"
    fields = ("reference", "period_", "kind", "status_", "debit", "credit",
              "unmapped_lines", "ready_by", "approved_by")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("ready_by", "approved_by")

    @admin.display(description="accounting month")
    def period_(self, obj):
        return f"{obj.period:%B %Y}"

    @admin.display(description="status")
    def status_(self, obj):
        return status_badge(obj)

    @admin.display(description="debit")
    def debit(self, obj):
        return money_cell(obj.debit_total, obj.currency)

    @admin.display(description="credit")
    def credit(self, obj):
        return money_cell(obj.credit_total, obj.currency)


MONEY_FIELDS = ("total_amount", "sum_of_lines", "internal_drift", "journal_net",
                "adjustment_net", "journal_drift", "deposit_drift", "previous_reserve",
                "current_reserve", "reserve_drift")


def _money_field(name: str):
    label = Settlement._meta.get_field(name).verbose_name

    def cell(self, obj):
        value = getattr(obj, name)
        if name.endswith("_drift"):
            unchecked = "Not checked" if name != "deposit_drift" else "No bank deposit yet"
            return format_html("{} {}", drift_badge(value, obj.currency, unchecked=unchecked),
                               money_cell(value, obj.currency) if value else "")
        return money_cell(value, obj.currency)

    cell.short_description = label
    cell.__name__ = f"{name}_"
    return cell


@admin.register(Settlement)
class SettlementAdmin(ModelAdmin):
    change_list_template = "admin/settlements/settlement/change_list.html"
    list_display = ("settlement_id", "account", "marketplace_", "period", "total",
                    "lines", "state", "journal_", "links")
    list_select_related = ("account",)
    list_filter = (DriftFilter, "marketplace", "account", "currency", "end_date")
    search_fields = ("=settlement_id",)
    date_hierarchy = "end_date"
    inlines = [JournalBatchInline]
    actions = ["rebuild_journals", "reconcile"]
    actions_detail = ["open_lines", "open_reconciliation", "open_batches"]
    actions_list = ["open_drift_charts"]
    fieldsets = (
        ("Overview", {"classes": ["tab"], "fields": (
            "state", "account", "marketplace_", "settlement_id", "period", "deposit_date",
            "total_amount_", "lines")}),
        ("Reconciliation", {"classes": ["tab"], "fields": (
            "internal_drift_", "journal_net_", "adjustment_net_", "journal_drift_",
            "deposit_drift_", "previous_reserve_", "current_reserve_", "reserve_drift_",
            "unmapped_lines", "order_issues", "reconciled_at")}),
        ("Bank", {"classes": ["tab"], "fields": ("bank_deposit_amount",)}),
        ("From Amazon's file", {"classes": ["tab"], "fields": (
            "currency", "start_date", "end_date", "sum_of_lines_", "source_name",
            "report_document_id", "imported_at", "columns_")}),
    )
    total_amount_ = _money_field("total_amount")
    sum_of_lines_ = _money_field("sum_of_lines")
    internal_drift_ = _money_field("internal_drift")
    journal_net_ = _money_field("journal_net")
    adjustment_net_ = _money_field("adjustment_net")
    journal_drift_ = _money_field("journal_drift")
    deposit_drift_ = _money_field("deposit_drift")
    previous_reserve_ = _money_field("previous_reserve")
    current_reserve_ = _money_field("current_reserve")
    reserve_drift_ = _money_field("reserve_drift")

    def get_readonly_fields(self, request, obj=None):
        editable = {"bank_deposit_amount"}
        return [f.name for f in Settlement._meta.fields if f.name not in editable] + [
            f"{name}_" for name in MONEY_FIELDS
        ] + ["state", "marketplace_", "period", "lines", "links", "columns_"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", {}).get("cl")
        if cl is not None:
            rows = (cl.queryset.order_by().values("currency")
                    .annotate(n=Count("pk"), total=Sum("total_amount"))
                    .order_by("currency"))
            response.context_data["currency_totals"] = [
                {"currency": r["currency"], "n": r["n"],
                 "total": money_display(r["total"], r["currency"])} for r in rows
            ]
        return response

    def save_model(self, request, obj, form, change):
        services.settlement_record_deposit(
            settlement=obj, amount=form.cleaned_data.get("bank_deposit_amount"),
            user=request.user,
        )

    @admin.display(description="marketplace", ordering="marketplace")
    def marketplace_(self, obj):
        return marketplace_label(obj.marketplace_id) if obj.marketplace_id else "unknown"

    @admin.display(description="period", ordering="end_date")
    def period(self, obj):
        return f"{obj.start_date:%Y-%m-%d} – {obj.end_date:%Y-%m-%d}"

    @admin.display(description="total paid out", ordering="total_amount")
    def total(self, obj):
        return money_cell(obj.total_amount, obj.currency)

    @admin.display(description="lines", ordering="line_count")
    def lines(self, obj):
        url = reverse("admin:settlements_settlementline_changelist")
        return format_html(
            '<a class="as-nowrap text-primary-600" href="{}?settlement__id__exact={}">{} lines'
            "</a>", url, obj.pk, f"{obj.line_count:,}")

    @admin.display(description="reconciliation", ordering="has_drift")
    def state(self, obj):
        return settlement_state(obj)

    @admin.display(description="journal batches")
    def journal_(self, obj):
        url = reverse("admin:settlements_journalbatch_changelist")
        return format_html(
            '<a class="text-primary-600" href="{}?settlement__id__exact={}">Journal batches</a>',
            url, obj.pk)

    @admin.display(description="")
    def links(self, obj):
        url = reverse("admin:settlements_settlement_reconciliation", args=[obj.pk])
        return format_html('<a class="text-primary-600" href="{}">Reconciliation</a>', url)

    @admin.display(description="file columns")
    def columns_(self, obj):
        return ", ".join(obj.columns or []) or "—"

    @action(description="Drift charts", icon="bar_chart", url_path="drift-charts")
    def open_drift_charts(self, request):
        return HttpResponseRedirect(reverse("admin:settlements_settlement_drift_chart"))

    @action(description="Lines", icon="receipt_long")
    def open_lines(self, request, object_id):
        return HttpResponseRedirect(
            reverse("admin:settlements_settlementline_changelist")
            + f"?settlement__id__exact={int(object_id)}")

    @action(description="Reconciliation", icon="balance")
    def open_reconciliation(self, request, object_id):
        return HttpResponseRedirect(
            reverse("admin:settlements_settlement_reconciliation", args=[int(object_id)]))

    @action(description="Journal batches", icon="menu_book")
    def open_batches(self, request, object_id):
        return HttpResponseRedirect(
            reverse("admin:settlements_journalbatch_changelist")
            + f"?settlement__id__exact={int(object_id)}")

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
        data = selectors.reconciliation(settlement)
        page_terms_load()
        for group in data["groups"]:
            for name in ("transaction_type", "amount_type", "amount_description"):
                group[f"{name}_cell"] = settlement_term(name, group[name])
        cur = settlement.currency
        context = {
            **self.admin_site.each_context(request),
            **data,
            "state": settlement_state(settlement),
            "checks": {
                "internal": drift_badge(settlement.internal_drift, cur),
                "journal": drift_badge(settlement.journal_drift, cur, unchecked="No journal"),
                "deposit": drift_badge(settlement.deposit_drift, cur,
                                       unchecked="No bank deposit yet"),
                "reserve": drift_badge(settlement.reserve_drift, cur),
            },
            "journal_booked": (None if settlement.journal_net is None
                               else settlement.journal_net + settlement.adjustment_net),
            "batch_rows": [{"batch": b, "status": status_badge(b)} for b in data["batches"]],
            "line_count_text": f"{settlement.line_count:,} lines",
            "marketplace": marketplace_label(settlement.marketplace_id or ""),
            "opts": self.model._meta,
            "title": f"Reconciliation of settlement {settlement.settlement_id}",
        }
        return TemplateResponse(request, "admin/settlements/reconciliation.html", context)

    def drift_chart_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        get = request.GET
        account = get.get("account") or ""
        measure = get.get("measure") if get.get("measure") in MEASURES else "any"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Settlement drift",
            **drift_charts(
                measure=measure, marketplace_id=get.get("marketplace") or None,
                account_id=int(account) if account.isdigit() else None,
                date_from=parse_date(get.get("from") or ""),
                date_to=parse_date(get.get("to") or ""),
            ),
            **selectors.drift_chart_choices(),
            "measures": MEASURES.items(),
            "selected": {"marketplace": get.get("marketplace", ""), "account": account,
                         "from": get.get("from", ""), "to": get.get("to", ""),
                         "measure": measure},
        }
        return TemplateResponse(request, "admin/settlements/drift_chart.html", context)


# --------------------------------------------------------------------------- lines


class LinesPaginator(Paginator):
    template_name = "admin/settlements/settlementline/pagination.html"


class LookaheadChangeList(ChangeList):
    """Pages without COUNT(*) over the lines: one row more than a page says whether there
    is a next one. The count shown is still true: a settlement's lines are its stored line
    count, all lines the sum of those (one small query over settlements); under a search or
    another filter the list says "more than N" rather than guess."""

    def _known_count(self, request) -> int | None:
        params = {k for k in request.GET if k not in ("p", "o", "_changelist_filters")}
        if self.query or params - {"settlement__id__exact"}:
            return None
        settlement = request.GET.get("settlement__id__exact")
        settlements = Settlement.objects.all()
        if settlement:
            if not settlement.isdigit():
                return None
            settlements = settlements.filter(pk=int(settlement))
        return settlements.aggregate(n=Sum("line_count"))["n"] or 0

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
        seen = offset + len(rows)
        known = self._known_count(request)
        if known is not None and known >= seen and (has_more or known == seen):
            count, self.count_text = known, f"{known:,} settlement lines"
        else:
            count = seen + (1 if has_more else 0)
            self.count_text = (f"more than {seen:,} settlement lines" if has_more
                               else f"{seen:,} settlement lines")
        self.paginator = LinesPaginator(range(count), per_page)
        self.result_count = count
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.full_result_count = count  # the honest count is in the footer
        self.result_list = rows
        self.can_show_all = False
        self.multi_page = count > per_page or page > 1


@admin.register(SettlementLine)
class SettlementLineAdmin(ReadOnlyAdmin):
    list_display = ("settlement_", "line_number", "posted_date", "transaction_type_",
                    "amount_type_", "amount_description_", "amount_", "order_id", "sku")
    list_select_related = ("settlement",)
    list_display_links = ("line_number",)
    show_full_result_count = False
    list_per_page = 100
    search_fields = ("=order_id", "=sku", "=settlement__settlement_id")
    ordering = ("-id",)

    def get_changelist(self, request, **kwargs):
        return LookaheadChangeList

    def changelist_view(self, request, extra_context=None):
        page_terms_load()
        return super().changelist_view(request, extra_context)

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

    @admin.display(description="settlement", ordering="settlement")
    def settlement_(self, obj):
        url = reverse("admin:settlements_settlement_change", args=[obj.settlement_id])
        return format_html('<a class="text-primary-600" href="{}">{}</a>', url,
                           obj.settlement.settlement_id)

    @admin.display(description="transaction type")
    def transaction_type_(self, obj):
        return settlement_term("transaction_type", obj.transaction_type)

    @admin.display(description="amount type")
    def amount_type_(self, obj):
        return settlement_term("amount_type", obj.amount_type)

    @admin.display(description="amount description")
    def amount_description_(self, obj):
        return settlement_term("amount_description", obj.amount_description)

    @admin.display(description="amount")
    def amount_(self, obj):
        return money_cell(obj.amount, obj.settlement.currency)

    @admin.display(description="other columns")
    def extra_(self, obj):
        return "; ".join(f"{key}: {value}" for key, value in (obj.extra or {}).items()) or "—"

    def get_fields(self, request, obj=None):
        skip = {"id", "amount", "extra"}
        return ["settlement_", "amount_"] + [
            f.name for f in SettlementLine._meta.fields if f.name not in skip
            and f.name != "settlement"] + ["extra_"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)


# --------------------------------------------------------------------------- report files


@admin.register(SettlementReportDocument)
class SettlementReportDocumentAdmin(ReadOnlyAdmin):
    # a superuser may delete a document's record, so that the flow imports it again
    superuser_may_delete = True
    list_display = ("report_id", "account", "settlement", "outcome_", "created_time",
                    "processed_at")
    list_select_related = ("account", "settlement")
    list_filter = ("outcome",)

    @admin.display(description="outcome", ordering="outcome")
    def outcome_(self, obj):
        colours = {"created": "green", "unchanged": "grey", "conflict": "red"}
        return badge(obj.get_outcome_display(), colours.get(obj.outcome, "grey"))
