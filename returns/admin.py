"""Returns admin: returns with their stock effect and refund outcome, disposition rules
(edited by ops), reimbursement candidates with the amount at stake and age, refund matches,
credit memos (CSV export for the ERP), returns by reason per SKU (chart) and refund latency
per marketplace. Thin: actions and forms call services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from amazonsync.adminkit import (
    ExportAdmin,
    ImportExportHistoryAdmin,
    ModelAdmin,
    ReadOnlyAdmin,
    StackedInline,
    money_display,
)
from amazonsync.spreadsheets import CSV  # inert formulas, exact keys

from . import selectors, services
from .defaults import DISPOSITIONS
from .models import (
    CreditMemo,
    DispositionRule,
    InventoryAdjustment,
    RefundMatch,
    RefundOutcome,
    ReimbursementCandidate,
    ReturnEvent,
)
from .resources import CreditMemoResource, DispositionRuleResource

# --------------------------------------------------------------------------- returns


class MatchedStateFilter(admin.SimpleListFilter):
    title = "refund outcome"
    parameter_name = "matched"

    def lookups(self, request, model_admin):
        return [("unmatched", "Not matched yet"), *RefundOutcome.choices]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "unmatched":
            return queryset.filter(refund_match__isnull=True)
        if value in RefundOutcome.values:
            return queryset.filter(refund_match__outcome=value)
        return queryset


class StockEffectFilter(admin.SimpleListFilter):
    title = "stock effect"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("applied", "Applied"), ("pending", "Not applied yet"),
                ("inspect", "MFN awaiting inspection")]

    def queryset(self, request, queryset):
        applied = Exists(InventoryAdjustment.objects.filter(return_event=OuterRef("pk")))
        if self.value() == "applied":
            return queryset.filter(applied)
        if self.value() == "pending":
            return queryset.exclude(applied)
        if self.value() == "inspect":
            return queryset.exclude(applied).filter(channel="MFN", disposition="",
                                                    graded_disposition="")
        return queryset


class DispositionFilter(admin.SimpleListFilter):
    title = "disposition"
    parameter_name = "disposition"

    def lookups(self, request, model_admin):
        seen = (ReturnEvent.objects.order_by().values_list("disposition", flat=True)
                .distinct())
        return [(d or "-", d or "(none reported)") for d in sorted(set(seen))]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(disposition="" if value == "-" else value)


class ReasonFilter(admin.SimpleListFilter):
    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        seen = ReturnEvent.objects.order_by().values_list("reason", flat=True).distinct()
        return [(r or "-", r or "(none given)") for r in sorted(set(seen))]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(reason="" if value == "-" else value)


class GradeForm(forms.ModelForm):
    graded_disposition = forms.CharField(
        required=False, label="Disposition found on inspection",
        help_text="MFN returns: what you found when the unit came back ("
        + ", ".join(DISPOSITIONS) + "). Saving applies its rule to merchant stock, once.",
        widget=forms.TextInput(attrs={"list": "dispositions"}),
    )

    class Meta:
        model = ReturnEvent
        fields = ("graded_disposition",)


class InventoryAdjustmentInline(StackedInline):
    model = InventoryAdjustment
    fields = ("action", "pool", "quantity", "disposition", "rule", "listing", "item",
              "applied_at", "applied_by", "detail")
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReturnEvent)
class ReturnEventAdmin(ModelAdmin):
    form = GradeForm
    change_list_template = "admin/returns/returnevent/change_list.html"
    list_display = ("return_date", "order_id", "seller_sku", "channel", "marketplace",
                    "quantity", "disposition_shown", "reason", "status", "stock_effect",
                    "refund_outcome")
    list_filter = ("channel", DispositionFilter, ReasonFilter, MatchedStateFilter,
                   StockEffectFilter, "marketplace", "account")
    list_select_related = ("marketplace", "refund_match", "adjustment")
    search_fields = ("order_id", "seller_sku", "license_plate_number", "rma_id", "asin",
                     "fnsku")
    date_hierarchy = "return_date"
    inlines = [InventoryAdjustmentInline]
    actions = ["apply_rules"]
    readonly_fields = (
        "account", "marketplace", "channel", "order_id", "linked_order", "order_line",
        "seller_sku", "listing", "item", "asin", "fnsku", "product_name", "quantity",
        "return_date", "disposition", "reason", "customer_comment", "status",
        "fulfillment_center", "license_plate_number", "rma_id", "received_at",
        "refunded_amount", "currency", "refund_match", "report_type", "source", "raw",
        "created_at", "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("account", "marketplace", "channel", "order_id", "linked_order",
                           "order_line", "seller_sku", "listing", "item", "asin", "fnsku",
                           "product_name")}),
        ("Return", {"fields": ("return_date", "quantity", "disposition",
                               "graded_disposition", "reason", "customer_comment", "status",
                               "fulfillment_center", "license_plate_number", "rma_id",
                               "received_at", "refunded_amount", "currency")}),
        ("Refund", {"fields": ("refund_match",)}),
        ("Source", {"classes": ("collapse",),
                    "fields": ("report_type", "source", "raw", "created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "account", "marketplace", "refund_match", "adjustment", "listing", "item",
            "linked_order", "order_line")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and not selectors.return_gradeable(obj):
            fields.append("graded_disposition")
        return fields

    @admin.display(description="disposition", ordering="disposition")
    def disposition_shown(self, obj):
        if obj.graded_disposition:
            return f"{obj.graded_disposition} (inspected)"
        return obj.disposition or "-"

    @admin.display(description="stock effect")
    def stock_effect(self, obj):
        adjustment = getattr(obj, "adjustment", None)
        if adjustment is None:
            return "awaiting inspection" if obj.channel == "MFN" and not \
                obj.effective_disposition else "not applied"
        return str(adjustment)

    @admin.display(description="refund", ordering="refund_match__outcome")
    def refund_outcome(self, obj):
        return obj.refund_match.get_outcome_display() if obj.refund_match else "-"

    def save_model(self, request, obj, form, change):
        grade = form.cleaned_data.get("graded_disposition", "")
        if not grade or "graded_disposition" not in form.changed_data:
            return
        try:
            outcome = services.return_grade(return_event=obj, disposition=grade,
                                            user=request.user)
        except services.ReturnsError as err:
            messages.error(request, str(err))
            return
        if outcome.applied:
            messages.success(request, f"Applied: {outcome.adjustment}.")
        else:
            messages.warning(request, f"Recorded; not applied to stock yet: {outcome.pending}.")

    @admin.action(description="Apply the disposition rule to stock (once)",
                  permissions=["change"])
    def apply_rules(self, request, queryset):
        applied = pending = 0
        for event in queryset:
            outcome = services.return_adjustment_apply(return_event=event, user=request.user)
            applied += outcome.applied
            pending += outcome.adjustment is None
        messages.info(request, f"{applied} applied now, {pending} still waiting "
                      "(inspection, rule or mapping); the others were applied already.")

    # --- extra views -------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("by-reason/", view(self.by_reason_view), name="returns_returnevent_by_reason"),
            path("refund-latency/", view(self.latency_view),
                 name="returns_returnevent_latency"),
            *super().get_urls(),
        ]

    def _context(self, request, title):
        return {**self.admin_site.each_context(request), "opts": self.model._meta,
                "title": title}

    def by_reason_view(self, request):
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        sku = request.GET.get("sku", "").strip()
        rows = selectors.returns_by_reason(sku=sku)
        reasons = selectors.reasons_overall()
        palette = ["#417690", "#79aec8", "#e28b3f", "#ba2121", "#5b8c5a", "#8e6bb3",
                   "#c9a227", "#4a4a4a", "#d17db1", "#2aa198"]
        colours = {r["reason"]: palette[i % len(palette)] for i, r in enumerate(reasons)}
        for row in rows:
            for reason in row["reasons"]:
                reason["colour"] = colours.get(reason["reason"], "#999")
        widest = max((row["units"] for row in rows), default=1) or 1
        for row in rows:
            row["width"] = round(100 * row["units"] / widest)
        context = self._context(request, "Returns by reason per SKU")
        context.update({"rows": rows, "reasons": [{**r, "colour": colours[r["reason"]]}
                                                  for r in reasons], "sku": sku})
        return TemplateResponse(request, "admin/returns/by_reason.html", context)

    def latency_view(self, request):
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        context = self._context(request, "Refund processing latency per marketplace")
        context["rows"] = selectors.refund_latency_by_marketplace()
        return TemplateResponse(request, "admin/returns/latency.html", context)


# --------------------------------------------------------------------------- rules


@admin.register(DispositionRule)
class DispositionRuleAdmin(ImportExportHistoryAdmin):
    resource_classes = [DispositionRuleResource]
    import_formats = [CSV]
    export_formats = [CSV]
    list_display = ("disposition", "channel_shown", "reason_shown", "action", "amazon_fault",
                    "active", "note")
    list_editable = ("action", "amazon_fault", "active")
    list_filter = ("action", "amazon_fault", "active", "channel")
    search_fields = ("disposition", "reason", "note")
    fields = ("disposition", "channel", "reason", "action", "amazon_fault", "active", "note")

    @admin.display(description="channel", ordering="channel")
    def channel_shown(self, obj):
        return obj.channel or "any"

    @admin.display(description="reason", ordering="reason")
    def reason_shown(self, obj):
        return obj.reason or "any"

    def save_model(self, request, obj, form, change):
        services.disposition_rule_save(rule=obj, user=request.user)


@admin.register(InventoryAdjustment)
class InventoryAdjustmentAdmin(ReadOnlyAdmin):
    list_display = ("applied_at", "return_event", "action", "pool", "quantity", "listing",
                    "item", "applied_by")
    list_filter = ("action", "pool")
    list_select_related = ("return_event", "listing", "listing__marketplace", "item",
                           "applied_by")
    search_fields = ("return_event__order_id", "return_event__seller_sku",
                     "return_event__license_plate_number")
    readonly_fields = ("return_event", "rule", "disposition", "action", "pool", "quantity",
                       "listing", "item", "detail", "applied_at", "applied_by")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "return_event", "listing", "listing__marketplace", "item", "applied_by", "rule")


# --------------------------------------------------------------------------- refunds


@admin.register(RefundMatch)
class RefundMatchAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "seller_sku", "channel", "marketplace", "outcome",
                    "refunded", "refunded_quantity", "returned_quantity", "refunded_at",
                    "returned_at", "follow_up")
    list_filter = ("outcome", "channel", "follow_up", "marketplace")
    list_select_related = ("marketplace",)
    search_fields = ("order_id", "seller_sku")
    date_hierarchy = "matched_at"
    readonly_fields = ("account", "marketplace", "order_id", "seller_sku", "channel",
                       "outcome", "follow_up", "refunded_amount", "currency",
                       "refunded_quantity", "refunded_at", "returned_quantity", "returned_at",
                       "matched_at")
    exclude = ("refund_lines",)

    @admin.display(description="refunded", ordering="refunded_amount")
    def refunded(self, obj):
        return money_display(obj.refunded_amount if obj.currency else None, obj.currency)


@admin.register(ReimbursementCandidate)
class ReimbursementCandidateAdmin(ModelAdmin):
    list_display = ("order_id", "seller_sku", "kind", "status", "marketplace", "quantity",
                    "at_stake", "age_days", "opened_at", "reimbursed")
    list_filter = ("status", "kind", "marketplace")
    list_select_related = ("marketplace",)
    search_fields = ("order_id", "seller_sku")
    ordering = ("status", "opened_at")
    actions = ["dismiss"]
    readonly_fields = ("account", "marketplace", "kind", "status", "order_id", "seller_sku",
                       "quantity", "amount_at_stake", "currency", "opened_at", "match",
                       "return_event", "reimbursement_line", "reimbursed_amount", "closed_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        at_stake = [{**row, "amount_shown": money_display(row["amount"], row["currency"])}
                    for row in selectors.candidates_at_stake()]
        extra_context = {**(extra_context or {}), "at_stake": at_stake}
        return super().changelist_view(request, extra_context)

    change_list_template = "admin/returns/reimbursementcandidate/change_list.html"

    @admin.display(description="amount at stake", ordering="amount_at_stake")
    def at_stake(self, obj):
        return money_display(obj.amount_at_stake, obj.currency)

    @admin.display(description="age (days)", ordering="opened_at")
    def age_days(self, obj):
        return selectors.candidate_age_days(obj, now=timezone.now())

    @admin.display(description="reimbursed")
    def reimbursed(self, obj):
        return money_display(obj.reimbursed_amount or None, obj.currency)

    @admin.action(description="Dismiss: nothing to claim", permissions=["change"])
    def dismiss(self, request, queryset):
        for candidate in queryset:
            services.candidate_dismiss(candidate=candidate, user=request.user)
        messages.success(request, "Dismissed.")


@admin.register(CreditMemo)
class CreditMemoAdmin(ExportAdmin):
    resource_classes = [CreditMemoResource]
    export_formats = [CSV]
    list_display = ("number", "order_id", "seller_sku", "marketplace", "refund_date",
                    "quantity", "total_shown", "exported_at")
    list_filter = ("currency", "marketplace", ("exported_at", admin.EmptyFieldListFilter))
    list_select_related = ("marketplace",)
    search_fields = ("number", "order_id", "seller_sku", "line_key")
    date_hierarchy = "refund_date"
    actions = ["export_for_erp"]
    readonly_fields = ("account", "marketplace", "number", "order_id", "line_key",
                       "seller_sku", "order_line", "quantity", "currency", "principal", "tax",
                       "shipping", "promotion", "total", "refund_date", "match", "created_at",
                       "exported_at", "exported_by")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="total", ordering="total")
    def total_shown(self, obj):
        return money_display(obj.total, obj.currency)

    @admin.action(description="Export selected as CSV for the ERP", permissions=["change"])
    def export_for_erp(self, request, queryset):
        memos = queryset.select_related("account", "marketplace")
        text = services.credit_memos_export(memos=memos, user=request.user)
        response = HttpResponse(text, content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="credit-memos-{stamp}.csv"'
        return response

