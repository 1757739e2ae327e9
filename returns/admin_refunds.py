"""Refunds admin: refund matches (did each refund find its return?), reimbursement
candidates (what Amazon may owe, per currency, with a Dismiss button) and credit memos (CSV
export for the ERP). Money is shown with its currency on every row and totalled per currency
above each list, never across currencies. Thin: buttons and actions call services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from amazonsync.adminkit import ExportAdmin, ModelAdmin, ReadOnlyAdmin
from amazonsync.spreadsheets import CSV  # inert formulas, exact keys

from . import selectors, services
from .admin_cells import (
    CANDIDATE_COLOURS,
    CSS,
    OUTCOME_COLOURS,
    back_to,
    badge,
    currency_totals,
    day,
    marketplace_cell,
    money_cell,
    order_and_sku,
    two_lines,
)
from .models import CreditMemo, RefundMatch, ReimbursementCandidate
from .resources import CreditMemoResource

TOTALS_TEMPLATE = "admin/returns/currency_totals.html"


class CurrencyTotalsMixin:
    """Above the list: rows and the sum of ``totals_field`` per currency of what the list
    shows (filters and search applied), one query."""

    totals_field = ""
    totals_title = ""
    list_before_template = TOTALS_TEMPLATE

    def totals_queryset(self, queryset):
        return queryset

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context is not None and "cl" in context:
            context["currency_totals"] = currency_totals(
                selectors.money_by_currency(self.totals_queryset(context["cl"].queryset),
                                            self.totals_field))
            context["currency_totals_title"] = self.totals_title
        return response


class _Cells:
    @display(description="order", ordering="order_id")
    def order_and_sku(self, obj):
        return order_and_sku(obj)

    @display(description="marketplace", ordering="marketplace")
    def marketplace_shown(self, obj):
        return marketplace_cell(obj)


# --------------------------------------------------------------------------- refunds


@admin.register(RefundMatch)
class RefundMatchAdmin(CurrencyTotalsMixin, _Cells, ReadOnlyAdmin):
    Media = type("Media", (), {"css": CSS})
    totals_field, totals_title = "refunded_amount", "Refunded"
    list_display = ("order_and_sku", "marketplace_and_channel", "outcome_shown", "refunded",
                    "units", "when", "follow_up_shown")
    list_filter = ("outcome", "channel", "follow_up", "currency", "marketplace")
    search_fields = ("order_id", "seller_sku")
    date_hierarchy = "matched_at"
    readonly_fields = ("account", "marketplace_shown", "order_id", "seller_sku", "channel",
                       "outcome_shown", "follow_up_shown", "refunded", "refunded_quantity",
                       "refunded_at", "returned_quantity", "returned_at", "matched_at")
    fields = readonly_fields

    @display(description="marketplace", ordering="marketplace")
    def marketplace_and_channel(self, obj):
        return marketplace_cell(obj, channel=True)

    @display(description="outcome", ordering="outcome")
    def outcome_shown(self, obj):
        return badge(OUTCOME_COLOURS.get(obj.outcome, "grey"), obj.get_outcome_display())

    @display(description="when", ordering="refunded_at")
    def when(self, obj):
        return two_lines(f"refunded {day(obj.refunded_at)}", f"returned {day(obj.returned_at)}")

    @display(description="refunded", ordering="refunded_amount")
    def refunded(self, obj):
        return money_cell(obj.refunded_amount if obj.currency else None, obj.currency)

    @display(description="follow-up", ordering="follow_up")
    def follow_up_shown(self, obj):
        return badge("amber", "Ask the buyer") if obj.follow_up else "—"

    @display(description="units")
    def units(self, obj):
        return two_lines(f"{obj.refunded_quantity} refunded", f"{obj.returned_quantity} returned")


# --------------------------------------------------------------------------- candidates


@admin.register(ReimbursementCandidate)
class ReimbursementCandidateAdmin(CurrencyTotalsMixin, _Cells, ModelAdmin):
    Media = type("Media", (), {"css": CSS})
    totals_field, totals_title = "amount_at_stake", "Open candidates, at stake"
    list_display = ("order_and_sku", "kind", "status_shown", "marketplace_shown", "quantity",
                    "at_stake", "age_days", "reimbursed")
    list_filter = ("status", "kind", "currency", "marketplace")
    search_fields = ("order_id", "seller_sku")
    ordering = ("status", "opened_at")
    actions = ["dismiss"]
    actions_detail = ["dismiss_button"]
    readonly_fields = ("account", "marketplace_shown", "kind", "status_shown", "order_id",
                       "seller_sku", "quantity", "at_stake", "opened_at", "age_days", "match",
                       "return_event", "reimbursement_line", "reimbursed", "closed_at")
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")

    def totals_queryset(self, queryset):
        return selectors.candidates_open(queryset=queryset)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @display(description="status", ordering="status")
    def status_shown(self, obj):
        return badge(CANDIDATE_COLOURS.get(obj.status, "grey"), obj.get_status_display())

    @display(description="at stake", ordering="amount_at_stake")
    def at_stake(self, obj):
        return money_cell(obj.amount_at_stake, obj.currency)

    @display(description="age (days)", ordering="opened_at")
    def age_days(self, obj):
        return selectors.candidate_age_days(obj, now=timezone.now())

    @display(description="reimbursed", ordering="reimbursed_amount")
    def reimbursed(self, obj):
        return money_cell(obj.reimbursed_amount or None, obj.currency)

    @admin.action(description="Dismiss: nothing to claim", permissions=["change"])
    def dismiss(self, request, queryset):
        dismissed = sum(services.candidate_dismiss(candidate=candidate, user=request.user)
                        for candidate in queryset)
        skipped = len(queryset) - dismissed
        note = f"; {skipped} already closed, left as they were" if skipped else ""
        messages.success(request, f"{dismissed} dismissed{note}.")

    def get_actions_detail(self, request, object_id):
        found = ReimbursementCandidate.objects.filter(
            pk=object_id, status=ReimbursementCandidate.Status.OPEN).exists()
        return super().get_actions_detail(request, object_id) if found else []

    @action(description="Dismiss: nothing to claim", url_path="dismiss", icon="block",
            variant=ActionVariant.DANGER, permissions=["change"],
            dialog={"title": "Dismiss this candidate?",
                    "description": "It leaves the open candidates: nothing will be claimed "
                    "from Amazon for it.", "form_submit_text": "Dismiss"})
    def dismiss_button(self, request, form, object_id):
        candidate = self.get_object(request, object_id)
        if candidate is None:
            raise Http404("No such reimbursement candidate.")
        if services.candidate_dismiss(candidate=candidate, user=request.user):
            messages.success(request, f"Dismissed: {candidate}.")
        else:
            messages.warning(request, f"Not dismissed: {candidate} is already "
                             f"{candidate.get_status_display().lower()}.")
        return back_to(request, reverse("admin:returns_reimbursementcandidate_change",
                                        args=[candidate.pk]))


# --------------------------------------------------------------------------- credit memos


@admin.register(CreditMemo)
class CreditMemoAdmin(CurrencyTotalsMixin, _Cells, ExportAdmin):
    Media = type("Media", (), {"css": CSS})
    totals_field, totals_title = "total", "Credited"
    resource_classes = [CreditMemoResource]
    export_formats = [CSV]
    list_display = ("number", "order_and_sku", "marketplace_shown", "refund_date", "quantity",
                    "total_shown", "exported")
    list_filter = ("currency", "marketplace", ("exported_at", admin.EmptyFieldListFilter))
    search_fields = ("number", "order_id", "seller_sku", "line_key")
    date_hierarchy = "refund_date"
    actions = ["export_for_erp"]
    readonly_fields = ("account", "marketplace_shown", "number", "order_id", "line_key",
                       "seller_sku", "order_line", "quantity", "principal_shown",
                       "tax_shown", "shipping_shown", "promotion_shown", "total_shown",
                       "refund_date", "match", "created_at", "exported_at", "exported_by")
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @display(description="total", ordering="total")
    def total_shown(self, obj):
        return money_cell(obj.total, obj.currency)

    @display(description="item price")
    def principal_shown(self, obj):
        return money_cell(obj.principal, obj.currency)

    @display(description="tax")
    def tax_shown(self, obj):
        return money_cell(obj.tax, obj.currency)

    @display(description="shipping")
    def shipping_shown(self, obj):
        return money_cell(obj.shipping, obj.currency)

    @display(description="promotion taken back")
    def promotion_shown(self, obj):
        return money_cell(obj.promotion, obj.currency)

    @display(description="sent to the ERP", ordering="exported_at")
    def exported(self, obj):
        if obj.exported_at is None:
            return badge("grey", "Not yet")
        return badge("green", f"Exported {day(obj.exported_at)}")

    @admin.action(description="Export selected as CSV for the ERP", permissions=["change"])
    def export_for_erp(self, request, queryset):
        memos = queryset.select_related("account", "marketplace")
        text = services.credit_memos_export(memos=memos, user=request.user)
        response = HttpResponse(text, content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="credit-memos-{stamp}.csv"'
        return response
