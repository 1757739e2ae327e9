"""Returns admin: returns with their reason and disposition in words, their stock effect and
refund outcome; disposition rules (edited by ops); the stock adjustments they made; the
returns by reason per SKU and the refund latency per marketplace. Refund matches,
reimbursement candidates and credit memos are in ``admin_refunds``. Thin: buttons, actions
and forms call services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from amazonsync.adminkit import (
    ImportExportHistoryAdmin,
    ModelAdmin,
    ReadOnlyAdmin,
    StackedInline,
)
from amazonsync.spreadsheets import CSV  # inert formulas, exact keys
from marketplaces.models import TermKind
from marketplaces.reference import marketplace_label
from marketplaces.selectors import terms

from . import (
    admin_refunds,  # noqa: F401  (registers refund matches, candidates, memos)
    selectors,
    services,
)
from .admin_cells import (
    CSS,
    OUTCOME_COLOURS,
    ReturnTermCells,
    RuleTermCells,
    back_to,
    day,
    disposition_html,
    marketplace_cell,
    money_cell,
    order_and_sku,
    page_terms,
    term_html,
)
from .defaults import DISPOSITIONS
from .models import (
    DispositionRule,
    InventoryAdjustment,
    RefundOutcome,
    ReturnEvent,
)
from .resources import DispositionRuleResource

# --------------------------------------------------------------------------- filters


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
                ("inspect", "Merchant fulfilled, awaiting inspection")]

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


class _CodeFilter(admin.SimpleListFilter):
    """The codes present in the returns, each by its label with the code after it."""

    kind = ""
    field = ""
    none_label = ""

    def lookups(self, request, model_admin):
        seen = ReturnEvent.objects.order_by().values_list(self.field, flat=True).distinct()
        words = page_terms(request)(self.kind)
        out = []
        for code in sorted(set(seen)):
            term = words.get(code)
            label = f"{term.label} ({code})" if term is not None else code
            out.append((code or "-", label if code else self.none_label))
        return sorted(out, key=lambda pair: pair[1].lower())

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(**{self.field: "" if value == "-" else value})


class DispositionFilter(_CodeFilter):
    title = "disposition"
    parameter_name = "disposition"
    kind, field, none_label = TermKind.DISPOSITION, "disposition", "(none reported)"


class ReasonFilter(_CodeFilter):
    title = "return reason"
    parameter_name = "reason"
    kind, field, none_label = TermKind.RETURN_REASON, "reason", "(no reason given)"


# --------------------------------------------------------------------------- returns


class TermInput(forms.TextInput):
    """A text box offering Amazon's codes of one kind by name (a datalist): ops pick
    "Damaged by the buyer" and the code is what is saved; any other code may still be
    typed. ``codes``: {code: fallback text} to offer, else every term of the kind."""

    def __init__(self, kind: str, codes: dict[str, str] | None = None, attrs=None):
        self.kind, self.codes = kind, codes
        super().__init__({**(attrs or {}), "list": f"terms-{kind}"})

    def render(self, name, value, attrs=None, renderer=None):
        words = terms(self.kind)
        codes = self.codes if self.codes is not None else {
            code: term.label for code, term in words.items()}
        options = format_html_join(
            "", '<option value="{}">{}</option>',
            ((code, words[code].label if code in words else text)
             for code, text in codes.items()))
        return format_html('{}<datalist id="terms-{}">{}</datalist>',
                           super().render(name, value, attrs, renderer), self.kind, options)


class DispositionRuleForm(forms.ModelForm):
    class Meta:
        model = DispositionRule
        fields = ("disposition", "channel", "reason", "action", "amazon_fault", "active",
                  "note")
        widgets = {"disposition": TermInput(TermKind.DISPOSITION, DISPOSITIONS),
                   "reason": TermInput(TermKind.RETURN_REASON)}


class GradeForm(forms.ModelForm):
    graded_disposition = forms.CharField(
        required=False, label="Disposition found on inspection",
        help_text="Merchant-fulfilled returns: what you found when the unit came back (pick "
        "from the list). Saving applies its rule to merchant stock, once.",
        widget=TermInput(TermKind.DISPOSITION, DISPOSITIONS),
    )

    class Meta:
        model = ReturnEvent
        fields = ("graded_disposition",)


def stock_detail_html(detail: dict):
    """The stock rows an adjustment changed, in words: ``Merchant stock, item 12: on hand
    5 → 6``."""
    rows = []
    for pool, changes in sorted((detail or {}).items()):
        place = pool.replace("_", " ").replace("fba", "FBA").capitalize()
        for change in changes:
            target = "item" if "item" in change else "listing"
            rows.append((place, target, change.get(target, "?"),
                         str(change.get("column", "")).replace("_", " "),
                         change.get("before", "?"), change.get("after", "?")))
    if not rows:
        return "No stock changed."
    return format_html_join(mark_safe("<br>"), "{}, {} {}: {} {} → {}", rows)


class InventoryAdjustmentInline(StackedInline):
    model = InventoryAdjustment
    verbose_name = "stock effect"
    verbose_name_plural = "stock effect"
    fields = ("action", "pool", "quantity", "disposition", "rule", "listing", "item",
              "applied_at", "applied_by_shown", "stock_changed")
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @display(description="applied by")
    def applied_by_shown(self, obj):
        return obj.applied_by or "the sync"

    @display(description="stock changed")
    def stock_changed(self, obj):
        return stock_detail_html(obj.detail)


STOCK_EFFECTS = {"sellable": "Back in stock", "quarantine": "Quarantined",
                 "write_off": "Written off", "none": "No stock effect"}


@admin.register(ReturnEvent)
class ReturnEventAdmin(ModelAdmin):
    Media = type("Media", (), {"css": CSS})
    form = GradeForm
    list_display = ("returned", "order_and_sku", "marketplace_shown", "quantity", "reason",
                    "disposition", "after_return")
    list_filter = ("channel", DispositionFilter, ReasonFilter, MatchedStateFilter,
                   StockEffectFilter, "marketplace", "account")
    list_select_related = ("refund_match", "adjustment")
    search_fields = ("order_id", "seller_sku", "license_plate_number", "rma_id", "asin",
                     "fnsku")
    date_hierarchy = "return_date"
    inlines = [InventoryAdjustmentInline]
    actions = ["apply_rules"]
    actions_list = ["by_reason_page", "latency_page"]
    actions_detail = ["apply_rule_button"]
    readonly_fields = (
        "account", "marketplace_shown", "channel", "order_id", "linked_order", "order_line",
        "seller_sku", "listing", "item", "asin", "fnsku", "product_name", "quantity",
        "return_date", "reported_disposition", "reason_shown", "customer_comment", "status",
        "fulfillment_center", "license_plate_number", "rma_id", "received_at",
        "refunded_shown", "refund_match", "report_type", "source", "report_row",
        "created_at", "updated_at",
    )
    fieldsets = (
        ("Return", {"classes": ["tab"], "fields": (
            "return_date", "order_id", "linked_order", "order_line", "seller_sku",
            "product_name", "quantity", "reason_shown", "customer_comment",
            "reported_disposition", "graded_disposition", "status", "refunded_shown",
            "refund_match")}),
        ("Where", {"classes": ["tab"], "fields": (
            "account", "marketplace_shown", "channel", "listing", "item", "asin", "fnsku",
            "fulfillment_center", "license_plate_number", "rma_id", "received_at")}),
        ("Source", {"classes": ["tab"], "fields": (
            "report_type", "source", "report_row", "created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "account", "refund_match", "adjustment", "listing", "item", "linked_order",
            "order_line")

    def get_list_display(self, request):
        cells = ReturnTermCells(request)
        return ["returned", "order_and_sku", "marketplace_shown", "quantity", cells.reason,
                cells.disposition, "after_return"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        if obj is not None and not selectors.return_gradeable(obj):
            fields.append("graded_disposition")
        return fields

    # --- cells ---------------------------------------------------------------------
    @display(description="order", ordering="order_id")
    def order_and_sku(self, obj):
        return order_and_sku(obj)

    @display(description="returned", ordering="return_date")
    def returned(self, obj):
        return day(obj.return_date)

    @display(description="marketplace", ordering="marketplace")
    def marketplace_shown(self, obj):
        return marketplace_cell(obj, channel=True)

    @display(description="stock · refund", ordering="refund_match__outcome")
    def after_return(self, obj):
        """What the return did to stock, and whether its refund was matched: two badges."""
        adjustment = getattr(obj, "adjustment", None)
        if adjustment is not None:
            stock = ("green", STOCK_EFFECTS.get(adjustment.action, adjustment.action))
        elif obj.channel == "MFN" and not obj.effective_disposition:
            stock = ("amber", "Awaiting inspection")
        else:
            stock = ("grey", "Stock unchanged")
        match = obj.refund_match
        refund = (("grey", "Refund not matched") if match is None else
                  (OUTCOME_COLOURS[match.outcome], match.get_outcome_display()))
        return format_html(
            '<span class="as-two-lines as-badges"><span class="as-badge as-badge-{}">{}</span>'
            '<span class="as-badge as-badge-{}">{}</span></span>', *stock, *refund)

    @display(description="return reason")
    def reason_shown(self, obj):
        return term_html(terms(TermKind.RETURN_REASON), obj.reason, empty="no reason given")

    @display(description="disposition reported by Amazon")
    def reported_disposition(self, obj):
        return disposition_html(terms(TermKind.DISPOSITION), obj.disposition)

    @display(description="refunded")
    def refunded_shown(self, obj):
        return money_cell(obj.refunded_amount, obj.currency)

    @display(description="report row")
    def report_row(self, obj):
        if not obj.raw:
            return "—"
        return format_html(
            '<table class="as-table">{}</table>',
            format_html_join("", '<tr><th>{}</th><td title="As the report wrote it">{}</td></tr>',
                             ((key, value if value not in ("", None) else "—")
                              for key, value in obj.raw.items())))

    # --- writes --------------------------------------------------------------------
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
        _tell_outcome(request, outcome)

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

    @action(description="Apply the disposition rule", url_path="apply-rule", icon="inventory",
            variant=ActionVariant.PRIMARY, permissions=["change"],
            dialog={"title": "Apply the disposition rule to stock?",
                    "description": "The rule for this return's disposition moves the units "
                    "into the right stock, once. Nothing happens if it was applied already.",
                    "form_submit_text": "Apply"})
    def apply_rule_button(self, request, form, object_id):
        event = self.get_object(request, object_id)
        if event is None:
            raise Http404("No such return.")
        outcome = services.return_adjustment_apply(return_event=event, user=request.user)
        if outcome.adjustment is not None and not outcome.applied:
            messages.info(request, f"Already applied: {outcome.adjustment}.")
        else:
            _tell_outcome(request, outcome)
        return back_to(request, reverse("admin:returns_returnevent_change",
                                          args=[event.pk]))

    # --- pages ---------------------------------------------------------------------
    @action(description="Returns by reason", url_path="by-reason-page", icon="bar_chart")
    def by_reason_page(self, request):
        return HttpResponseRedirect(reverse("admin:returns_returnevent_by_reason"))

    @action(description="Refund latency", url_path="latency-page", icon="timer")
    def latency_page(self, request):
        return HttpResponseRedirect(reverse("admin:returns_returnevent_latency"))

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
            raise PermissionDenied
        sku = request.GET.get("sku", "").strip()
        context = self._context(request, "Returns by reason per SKU")
        context.update(_by_reason(request, sku))
        return TemplateResponse(request, "admin/returns/by_reason.html", context)

    def latency_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = self._context(request, "Refund processing time per marketplace")
        context["rows"] = [{**row, "marketplace_name": marketplace_label(row["marketplace"])}
                           for row in selectors.refund_latency_by_marketplace()]
        return TemplateResponse(request, "admin/returns/latency.html", context)


PALETTE = ["#417690", "#79aec8", "#e28b3f", "#ba2121", "#5b8c5a", "#8e6bb3", "#c9a227",
           "#4a4a4a", "#d17db1", "#2aa198"]


def _by_reason(request, sku: str) -> dict:
    """The by-reason page's rows and legend: reasons in words, one colour each."""
    words = page_terms(request)(TermKind.RETURN_REASON)
    reasons = selectors.reasons_overall()
    colours = {r["reason"]: PALETTE[i % len(PALETTE)] for i, r in enumerate(reasons)}

    def named(code: str) -> dict:
        term = words.get(code)
        if not code:
            return {"label": "No reason given", "description": "",
                    "colour": colours.get(code, "#999")}
        return {"label": term.label if term is not None else code,
                "description": term.description if term is not None else "",
                "colour": colours.get(code, "#999")}

    rows = selectors.returns_by_reason(sku=sku)
    widest = max((row["units"] for row in rows), default=1) or 1
    for row in rows:
        row["width"] = round(100 * row["units"] / widest)
        row["reasons"] = [{**reason, **named(reason["reason"])} for reason in row["reasons"]]
    return {"rows": rows, "sku": sku,
            "reasons": [{**r, **named(r["reason"])} for r in reasons]}


def _tell_outcome(request, outcome) -> None:
    if outcome.applied:
        messages.success(request, f"Applied: {outcome.adjustment}.")
    else:
        messages.warning(request, f"Recorded; not applied to stock yet: {outcome.pending}.")


# --------------------------------------------------------------------------- rules


@admin.register(DispositionRule)
class DispositionRuleAdmin(ImportExportHistoryAdmin):
    Media = type("Media", (), {"css": CSS})
    resource_classes = [DispositionRuleResource]
    import_formats = [CSV]
    export_formats = [CSV]
    list_display = ("disposition", "channel_shown", "reason", "action", "amazon_fault",
                    "active", "note")
    list_editable = ("action", "amazon_fault", "active")
    list_filter = ("action", "amazon_fault", "active", "channel")
    search_fields = ("disposition", "reason", "note")
    fields = ("disposition", "channel", "reason", "action", "amazon_fault", "active", "note")
    form = DispositionRuleForm

    def get_list_display(self, request):
        cells = RuleTermCells(request)
        return [cells.disposition, "channel_shown", cells.reason, "action", "amazon_fault",
                "active", "note"]

    def get_list_display_links(self, request, list_display):
        return [list_display[0]]

    @display(description="channel", ordering="channel")
    def channel_shown(self, obj):
        return obj.get_channel_display() if obj.channel else "Both channels"

    def save_model(self, request, obj, form, change):
        services.disposition_rule_save(rule=obj, user=request.user)


@admin.register(InventoryAdjustment)
class InventoryAdjustmentAdmin(ReadOnlyAdmin):
    Media = type("Media", (), {"css": CSS})
    list_display = ("applied_at", "return_event", "action", "pool", "quantity", "listing",
                    "item", "applied_by_shown")
    list_filter = ("action", "pool")
    list_select_related = ("return_event", "listing", "item", "applied_by")
    search_fields = ("return_event__order_id", "return_event__seller_sku",
                     "return_event__license_plate_number")
    readonly_fields = ("return_event", "rule", "disposition_shown", "action", "pool",
                       "quantity", "listing", "item", "stock_changed", "applied_at",
                       "applied_by_shown")
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "return_event", "listing", "item", "applied_by", "rule")

    @display(description="applied by", ordering="applied_by")
    def applied_by_shown(self, obj):
        return obj.applied_by or "the sync"

    @display(description="stock changed")
    def stock_changed(self, obj):
        return stock_detail_html(obj.detail)

    @display(description="disposition")
    def disposition_shown(self, obj):
        return disposition_html(terms(TermKind.DISPOSITION), obj.disposition)
