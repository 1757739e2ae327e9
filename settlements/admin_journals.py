"""Admin for the books: the GL chart and mapping rules (CSV/XLSX import and export), and
journal batches with their four-eyes workflow where the batch is: Mark ready, Return to
draft, Approve and Reverse buttons on the batch page (each shown only when this person may
do it to this batch now, each asking for confirmation and calling the service), the same as
bulk actions on the list, and the audit trail (built, prepared, approved, exported, reversed,
and every recorded change) on the page and in its history. Refusals are messages."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, models
from django.db.models import Count, Sum
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.template_utils import HistoricalRecordContextHelper
from unfold.decorators import action
from unfold.enums import ActionVariant

from amazonsync.adminkit import HistoryAdmin, ImportExportHistoryAdmin, TabularInline
from amazonsync.money import display as money_display
from amazonsync.spreadsheets import CSV, XLSX

from . import selectors, services
from .admin_cells import badge, money_cell, page_terms_load, settlement_term, status_badge
from .models import GLAccount, GLMapping, JournalBatch, JournalLine
from .resources import GLAccountResource, GLMappingResource
from .review import awaiting_approval_q, batch_audit, batch_possible_actions

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
    list_display = ("code", "name", "type", "role_", "active_")
    list_filter = ("type", "active")
    search_fields = ("code", "name")

    @admin.display(description="role", ordering="role")
    def role_(self, obj):
        return obj.get_role_display() if obj.role else "—"

    @admin.display(description="active", ordering="active")
    def active_(self, obj):
        return badge("Active", "green") if obj.active else badge("Inactive", "grey")

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

    def changelist_view(self, request, extra_context=None):
        page_terms_load()
        return super().changelist_view(request, extra_context)

    def _rule_part(self, obj, field: str):
        value = getattr(obj, field)
        if not value:
            return format_html('<span class="as-muted">{}</span>', "(any)")
        if obj.pattern and any(c in value for c in "*?["):
            return value  # a pattern, not one of Amazon's codes
        return settlement_term(field, value)

    @admin.display(description="transaction type", ordering="transaction_type")
    def transaction_type_(self, obj):
        return self._rule_part(obj, "transaction_type")

    @admin.display(description="amount type", ordering="amount_type")
    def amount_type_(self, obj):
        return self._rule_part(obj, "amount_type")

    @admin.display(description="amount description", ordering="amount_description")
    def amount_description_(self, obj):
        return self._rule_part(obj, "amount_description")


# --------------------------------------------------------------------------- journals


class JournalLineInline(TabularInline):
    model = JournalLine
    extra = 0
    can_delete = False
    fields = ("entry_date", "gl_account", "role", "debit_", "credit_", "memo", "explanation",
              "recorded_by")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("gl_account", "recorded_by")

    @admin.display(description="debit")
    def debit_(self, obj):
        return money_cell(obj.debit, obj.currency) if obj.debit else ""

    @admin.display(description="credit")
    def credit_(self, obj):
        return money_cell(obj.credit, obj.currency) if obj.credit else ""


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


class StatusFilter(admin.SimpleListFilter):
    title = "waiting for"
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        return [("me", "My approval (four eyes)")]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(awaiting_approval_q(request.user))
        return queryset


class BatchHistoryHelper(HistoricalRecordContextHelper):
    """The history page's "what changed" in words: money with its currency's places,
    choices by their label, dates to the minute."""

    def prepare_delta_change_value(self, change, value):
        field = self.model._meta.get_field(change.field)
        if value is None or value == "" or (field.is_relation
                                            and getattr(value, "pk", None) is None):
            return "—"
        if isinstance(field, models.DecimalField):
            return money_display(value, getattr(self.record, "currency", ""))
        if field.choices:
            return dict(field.flatchoices).get(value, value)
        if isinstance(field, models.DateTimeField):
            return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
        return super().prepare_delta_change_value(change, value)


def _dialog(title: str, description: str, submit: str) -> dict:
    return {"title": title, "description": description, "form_submit_text": submit}


@admin.register(JournalBatch)
class JournalBatchAdmin(HistoryAdmin):
    list_display = ("reference", "settlement_link", "period_", "kind", "status_",
                    "debit", "credit", "balanced_", "unmapped_lines", "ready_by",
                    "approved_by")
    list_select_related = ("settlement", "ready_by", "approved_by")
    list_filter = (StatusFilter, "status", "kind", "period", "currency")
    search_fields = ("reference", "=settlement__settlement_id")
    inlines = [JournalLineInline]
    actions = ["mark_ready", "approve", "return_to_draft", "export_csv", "reverse"]
    actions_detail = ["ready_button", "approve_button", "draft_button", "reverse_button",
                      "adjust_button"]
    change_form_before_template = "admin/settlements/journalbatch/audit.html"
    change_list_template = "admin/settlements/journalbatch/change_list.html"
    object_history_list_template = "admin/settlements/journalbatch/history_list.html"
    fieldsets = (
        (None, {"fields": ("reference", "settlement_link", "period_", "kind", "status_",
                           "entry_date", "debit", "credit", "balanced_", "unmapped_lines",
                           "generation", "reverses")}),
    )
    readonly_fields = ("reference", "settlement_link", "period_", "kind", "status_",
                       "entry_date", "debit", "credit", "balanced_", "unmapped_lines",
                       "generation", "reverses")

    def has_add_permission(self, request):
        return False

    def get_historical_record_context_helper(self, request, historical_record):
        return BatchHistoryHelper(self.model, historical_record)

    def revert_disabled(self, request, obj=None):
        return True  # a batch moves only through its services (four eyes, reversals)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":  # a past version is shown, never saved back
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def has_delete_permission(self, request, obj=None):
        return False  # drafts are rebuilt, approved batches are reversed

    def has_change_permission(self, request, obj=None):
        # a batch is never edited as a form: it changes through its buttons (services)
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def _may_change(self, request, batch) -> bool:
        return (request.user.has_perm("settlements.change_journalbatch")
                and not batch.is_locked)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("settlements.approve_journalbatch"):
            actions.pop("approve", None)
        return actions

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "settlement__id__exact" or super().lookup_allowed(
            lookup, value, request
        )

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", {}).get("cl")
        if cl is not None:
            rows = (cl.queryset.order_by().values("currency")
                    .annotate(n=Count("pk"), d=Sum("debit_total"), c=Sum("credit_total"))
                    .order_by("currency"))
            response.context_data["currency_totals"] = [
                {"currency": r["currency"], "n": r["n"],
                 "total": f"debit {money_display(r['d'], r['currency'])}, credit "
                          f"{money_display(r['c'], r['currency'])}"}
                for r in rows
            ]
        return response

    # ------------------------------------------------------------------ cells

    @admin.display(description="settlement", ordering="settlement__settlement_id")
    def settlement_link(self, obj):
        url = reverse("admin:settlements_settlement_change", args=[obj.settlement_id])
        recon = reverse("admin:settlements_settlement_reconciliation", args=[obj.settlement_id])
        return format_html('<a href="{}">{}</a> · <a href="{}">reconciliation</a>', url,
                           obj.settlement.settlement_id, recon)

    @admin.display(description="accounting month", ordering="period")
    def period_(self, obj):
        return f"{obj.period:%B %Y}"

    @admin.display(description="status", ordering="status")
    def status_(self, obj):
        return status_badge(obj)

    @admin.display(description="debit", ordering="debit_total")
    def debit(self, obj):
        return money_cell(obj.debit_total, obj.currency)

    @admin.display(description="credit", ordering="credit_total")
    def credit(self, obj):
        return money_cell(obj.credit_total, obj.currency)

    @admin.display(description="balanced")
    def balanced_(self, obj):
        if obj.balanced:
            return badge("Balanced", "green")
        diff = obj.debit_total - obj.credit_total
        return badge(f"Off by {money_display(diff, obj.currency)}", "red")

    # ------------------------------------------------------------------ the batch page

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if object_id:
            batch = self._batch(request, object_id)
            if batch is not None:
                extra_context["audit"] = batch_audit(batch)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _batch(self, request, object_id):
        cache = request.__dict__.setdefault("_journal_batches", {})
        key = str(object_id)
        if key not in cache:
            cache[key] = (JournalBatch.objects.select_related(
                "settlement", "prepared_by", "ready_by", "approved_by", "exported_by",
                "last_changed_by", "reverses").filter(pk=int(key)).first()
                if key.isdigit() else None)
        return cache[key]

    def get_actions_detail(self, request, object_id):
        actions = super().get_actions_detail(request, object_id)
        batch = self._batch(request, object_id)
        if batch is None:
            return []
        possible = batch_possible_actions(batch, request.user)
        names = {"ready_button": "mark_ready", "approve_button": "approve",
                 "draft_button": "return_to_draft", "reverse_button": "reverse",
                 "adjust_button": "adjust"}
        return [a for a in actions
                if names.get(a.action_name.rsplit("journalbatch_", 1)[-1]) in possible]

    def _done(self, request, object_id, func, done: str):
        batch = get_object_or_404(JournalBatch, pk=int(object_id))
        ok = self._run(request, batch, func)
        if ok:
            self.message_user(request, f"{batch.reference} {done}.", messages.SUCCESS)
        url = reverse("admin:settlements_journalbatch_change", args=[batch.pk])
        if ok is not None and func is services.journal_batch_reverse:
            url = reverse("admin:settlements_journalbatch_change", args=[ok.pk])
        if request.headers.get("HX-Request"):
            response = HttpResponse("")
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)

    def _run(self, request, batch, func):
        """The service's result, or None after telling the person why it was refused."""
        try:
            return func(batch=batch, user=request.user)
        except services.SettlementError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        except DatabaseError as exc:  # a database guard held where a service did not
            reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            self.message_user(
                request, f"{batch.reference}: the database refused this: {reason}",
                messages.ERROR,
            )
        return None

    @action(description="Mark ready for approval", url_path="mark-ready", icon="task_alt",
            variant=ActionVariant.PRIMARY, permissions=["settlements.change_journalbatch"],
            dialog=_dialog("Mark this batch ready for approval?",
                           "Another accountant then approves it (four eyes). The batch must "
                           "be balanced, fully mapped and its settlement reconciled.",
                           "Mark ready"))
    def ready_button(self, request, form, object_id):
        return self._done(request, object_id, services.journal_batch_mark_ready,
                          "is ready for approval")

    @action(description="Approve", url_path="approve", icon="verified",
            variant=ActionVariant.SUCCESS, permissions=["settlements.approve_journalbatch"],
            dialog=_dialog("Approve this journal batch?",
                           "Approved batches are locked: corrections are reversal batches.",
                           "Approve"))
    def approve_button(self, request, form, object_id):
        return self._done(request, object_id, services.journal_batch_approve, "is approved")

    @action(description="Return to draft", url_path="return-to-draft", icon="undo",
            permissions=["settlements.change_journalbatch"],
            dialog=_dialog("Return this batch to draft?",
                           "It leaves the approval queue until it is marked ready again.",
                           "Return to draft"))
    def draft_button(self, request, form, object_id):
        return self._done(request, object_id, services.journal_batch_return_to_draft,
                          "is back in draft")

    @action(description="Reverse", url_path="reverse", icon="history",
            variant=ActionVariant.DANGER, permissions=["settlements.change_journalbatch"],
            dialog=_dialog("Reverse this approved batch?",
                           "A reversal batch (debits and credits swapped) is prepared in "
                           "draft and the month's journal is built again.", "Reverse"))
    def reverse_button(self, request, form, object_id):
        return self._done(request, object_id, services.journal_batch_reverse,
                          "is reversed: here is the reversal batch")

    @action(description="Add an explained adjustment", url_path="adjust-drift",
            icon="edit_note", permissions=["settlements.change_journalbatch"])
    def adjust_button(self, request, object_id):
        return HttpResponseRedirect(
            reverse("admin:settlements_journalbatch_adjust", args=[int(object_id)]))

    # ------------------------------------------------------------------ adjustments

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/adjust/", view(self.adjust_view),
                 name="settlements_journalbatch_adjust"),
            *super().get_urls(),
        ]

    def adjust_view(self, request, pk):
        batch = get_object_or_404(JournalBatch.objects.select_related("settlement"), pk=pk)
        if not self._may_change(request, batch):
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
        unexplained = selectors.settlement_unexplained(batch.settlement)
        currency = batch.currency
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Explained adjustment on {batch.reference}",
            "batch": batch,
            "unexplained": unexplained,
            "figures": {
                name: money_display(getattr(unexplained, name), currency)
                for name in ("total", "booked", "adjusted", "drift")
            },
            "form": form,
        }
        return TemplateResponse(request, "admin/settlements/journalbatch/adjust.html", context)

    # ------------------------------------------------------------------ bulk actions

    def _each(self, request, queryset, func, done: str):
        ok = sum(1 for batch in queryset if self._run(request, batch, func) is not None)
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
