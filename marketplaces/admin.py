from __future__ import annotations

import datetime
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from amazonsync.adminkit import HistoryAdmin, ReadOnlyAdmin, TabularInline
from amazonsync.crypto import redact_secrets, undecryptable
from amazonsync.models import SyncRun
from amazonsync.registry import all_flows, get_flow
from amazonsync.runs import RunRefused, flow_label, latest_runs, run_enqueue

from .models import AccountMarketplace, AmazonTerm, Marketplace, SellerAccount
from .selectors import EXPIRED, EXPIRING, secret_expiry
from .services import account_set_credentials


@admin.register(Marketplace)
class MarketplaceAdmin(ReadOnlyAdmin):
    """Reference data, seeded by a migration."""

    list_display = ("marketplace", "name", "amazon_id", "region", "currency", "time_zone",
                    "spapi_host")
    list_filter = ("region", "currency")
    search_fields = ("code", "name", "id", "domain")
    readonly_fields = [f.name for f in Marketplace._meta.fields]

    @admin.display(description="marketplace", ordering="code")
    def marketplace(self, obj):
        return str(obj)

    @admin.display(description="Amazon's marketplace id", ordering="id")
    def amazon_id(self, obj):
        # the id as Amazon writes it (in reports and API calls), its meaning on hover
        return format_html('<code title="Amazon\'s id of {}">{}</code>', obj, obj.pk)


class AccountMarketplaceInline(TabularInline):
    model = AccountMarketplace
    extra = 0
    autocomplete_fields = ("marketplace",)
    fields = ("marketplace", "orders", "shipments", "inventory", "prices", "settlements",
              "returns")


class SellerAccountForm(forms.ModelForm):
    """Secrets are write-only: the form never renders them, empty means unchanged."""

    new_client_secret = forms.CharField(
        label="LWA client secret", required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave empty to keep the stored secret.",
    )
    new_refresh_token = forms.CharField(
        label="Refresh token", required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Paste a new token after the seller re-authorises.",
    )

    class Meta:
        model = SellerAccount
        fields = ("selling_partner_id", "name", "region", "active", "lwa_client_id",
                  "client_secret_rotated_on", "api_base_url", "token_url",
                  "orders_api_version")


RUN_PERMISSION = "amazonsync.run_flow"


@dataclass(frozen=True)
class FlowRow:
    """One flow of an account in one marketplace (or once for the account), on its page."""

    flow: str
    label: str
    description: str
    marketplace_id: str | None
    marketplace: str
    switched_on: bool
    backfill: bool
    latest: SyncRun | None


def account_flow_rows(account: SellerAccount) -> list[FlowRow]:
    """Every registered flow of the account, per marketplace where it runs per marketplace,
    with its switch and latest run (two queries)."""
    links = list(AccountMarketplace.objects.filter(account=account)
                 .select_related("marketplace").order_by("marketplace__code"))
    latest = latest_runs(account_id=account.pk)
    rows = []
    for spec in all_flows():
        targets = [(link, str(link.marketplace)) for link in links] if spec.per_marketplace \
            else [(None, "All marketplaces")]
        for link, where in targets:
            if link is not None:
                on = getattr(link, spec.switch) if spec.switch else True
            else:
                on = not spec.switch or any(getattr(lk, spec.switch) for lk in links)
            marketplace_id = link.marketplace_id if link is not None else None
            rows.append(FlowRow(
                flow=spec.name, label=flow_label(spec.name), description=spec.description,
                marketplace_id=marketplace_id, marketplace=where, switched_on=on,
                backfill=spec.backfill, latest=latest.get((spec.name, marketplace_id)),
            ))
    return rows


class BackfillForm(forms.Form):
    since = forms.DateField(
        label="Read again from", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The flow reads everything that changed from this day (00:00 UTC) on.",
    )

    def clean_since(self):
        since = self.cleaned_data["since"]
        if since > timezone.now().date():
            raise forms.ValidationError("Choose a day in the past.")
        return since


def _secret_state(value: str) -> str:
    if undecryptable(value):
        return "stored, but unreadable with the current encryption key: enter it again"
    return "set" if value else "not set"


@admin.register(SellerAccount)
class SellerAccountAdmin(HistoryAdmin):
    form = SellerAccountForm
    inlines = [AccountMarketplaceInline]
    list_display = ("name", "selling_partner_id", "region", "active", "client_secret",
                    "secret_expiry", "needs_reauthorization", "endpoint")
    list_filter = ("region", "active", "needs_reauthorization")
    search_fields = ("name", "selling_partner_id")
    readonly_fields = ("secret_status", "needs_reauthorization", "shown_reason",
                       "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "selling_partner_id", "region", "active")}),
        ("Login with Amazon", {"fields": ("lwa_client_id", "new_client_secret",
                                          "client_secret_rotated_on", "new_refresh_token",
                                          "secret_status")}),
        ("Endpoints", {"fields": ("api_base_url", "token_url", "orders_api_version")}),
        ("State", {"fields": ("needs_reauthorization", "shown_reason",
                              "created_at", "updated_at")}),
    )
    history_list_display = ("name", "active", "needs_reauthorization")
    change_form_outer_after_template = "admin/marketplaces/selleraccount/flows.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/run/", view(self.run_view),
                 name="marketplaces_selleraccount_run"),
            path("<path:object_id>/backfill/", view(self.backfill_view),
                 name="marketplaces_selleraccount_backfill"),
            *super().get_urls(),
        ]

    def _runnable(self, request, object_id) -> SellerAccount:
        account = get_object_or_404(SellerAccount, pk=object_id)
        if not self.has_view_permission(request, account):
            raise PermissionDenied("viewing seller accounts needs their view permission")
        if not request.user.has_perm(RUN_PERMISSION) and request.method == "POST":
            raise PermissionDenied("running flows needs the permission to run flows")
        return account

    def _back_to_account(self, request, account, refusal: str | None = None):
        if refusal:
            messages.error(request, refusal)
        return HttpResponseRedirect(
            reverse("admin:marketplaces_selleraccount_change", args=[account.pk]))

    def _enqueue(self, request, account, *, flow: str, marketplace_id: str | None,
                 since: datetime.date | None = None):
        account_url = reverse("admin:marketplaces_selleraccount_change", args=[account.pk])
        try:
            run = run_enqueue(flow=flow, account_id=account.pk,
                              marketplace_id=marketplace_id or None, user=request.user,
                              since=since)
        except RunRefused as refused:
            messages.error(request, str(refused))
            return HttpResponseRedirect(account_url)
        what = f"Backfill of {flow_label(flow)} from {since:%Y-%m-%d}" if since \
            else flow_label(flow)
        where = f" in {run.marketplace}" if run.marketplace_id else ""
        messages.success(request, f"{what} queued for {account.name}{where} (run #{run.pk}). "
                         "This page follows it until it finishes.")
        run_url = reverse("admin:amazonsync_syncrun_change", args=[run.pk])
        return HttpResponseRedirect(f"{run_url}?next={account_url}")

    @staticmethod
    def _known_flow(name: str):
        try:
            return get_flow(name)
        except KeyError:
            return None

    def run_view(self, request, object_id):
        """POST: queue one run of a flow (Run now); GET leads back to the account."""
        account = self._runnable(request, object_id)
        if request.method != "POST":
            return self._back_to_account(request, account)
        return self._enqueue(request, account, flow=request.POST.get("flow", ""),
                             marketplace_id=request.POST.get("marketplace") or None)

    def backfill_view(self, request, object_id):
        """A date form, then a run that reads again from that date (Backfill from…)."""
        account = self._runnable(request, object_id)
        if not request.user.has_perm(RUN_PERMISSION):
            return self._back_to_account(
                request, account, "Backfilling a flow needs the permission to run flows.")
        flow = request.GET.get("flow") or request.POST.get("flow", "")
        marketplace_id = request.GET.get("marketplace") or request.POST.get("marketplace")
        spec = self._known_flow(flow)
        if spec is None or not spec.backfill:
            return self._back_to_account(
                request, account, f"The {flow_label(flow) or 'chosen'} flow cannot backfill "
                "from a date.")
        if request.method == "POST":
            form = BackfillForm(request.POST)
            if form.is_valid():
                return self._enqueue(request, account, flow=flow, marketplace_id=marketplace_id,
                                     since=form.cleaned_data["since"])
        else:
            default = timezone.now().date() - datetime.timedelta(
                days=getattr(settings, "ORDERS_BACKFILL_DAYS", 90))
            form = BackfillForm(initial={"since": default})
        marketplace = Marketplace.objects.filter(pk=marketplace_id).first()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Backfill {flow_label(flow)} for {account.name}",
            "opts": self.opts,
            "account": account,
            "flow": flow,
            "flow_label": flow_label(flow),
            "marketplace": marketplace,
            "form": form,
            "account_url": reverse("admin:marketplaces_selleraccount_change", args=[account.pk]),
        }
        return TemplateResponse(request, "admin/marketplaces/selleraccount/backfill.html",
                                context)

    @admin.display(description="client secret")
    def client_secret(self, obj):
        if undecryptable(obj.lwa_client_secret):
            return "unreadable (encryption key changed)"
        return "•••••••• (set)" if obj.lwa_client_secret else "not set"

    @admin.display(description="reauthorization reason")
    def shown_reason(self, obj):
        if obj is None or not obj.reauthorization_reason:
            return "-"
        return redact_secrets(obj.reauthorization_reason, secrets=(
            obj.lwa_client_secret, obj.refresh_token, obj.access_token))

    @admin.display(description="secret expires")
    def secret_expiry(self, obj):
        expiry = secret_expiry(obj)
        if expiry is None:
            return "-"
        state, days = expiry
        if state == EXPIRED:
            return format_html('<strong style="color:#ba2121">expired {} days ago</strong>',
                               -days)
        if state == EXPIRING:
            return format_html('<strong style="color:#b36b00">in {} days</strong>', days)
        return f"in {days} days"

    @admin.display(description="endpoint")
    def endpoint(self, obj):
        return obj.api_base_url or "Amazon (regional)"

    @admin.display(description="stored secrets")
    def secret_status(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return (f"client secret: {_secret_state(obj.lwa_client_secret)}; "
                f"refresh token: {_secret_state(obj.refresh_token)}")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if obj is not None:
            extra_context["flow_rows"] = account_flow_rows(obj)
            extra_context["may_run_flows"] = request.user.has_perm(RUN_PERMISSION)
        if obj is not None and request.method == "GET":
            state, days = secret_expiry(obj) or (None, None)
            if state == EXPIRED:
                messages.error(request, "The LWA client secret has expired: flows refuse to "
                               "run until a new secret is saved.")
            elif state == EXPIRING:
                messages.warning(request, f"The LWA client secret expires in {days} days: "
                                 "rotate it in the developer console.")
            if obj.needs_reauthorization:
                messages.error(request, "Amazon refused the refresh token: the seller must "
                               "authorise the application again.")
            if undecryptable(obj.lwa_client_secret) or undecryptable(obj.refresh_token):
                messages.error(request, "The stored credentials cannot be read: the encryption "
                               "key changed since they were saved. Enter the LWA client "
                               "secret and refresh token again, or restore the previous key.")
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        secret = form.cleaned_data.get("new_client_secret")
        token = form.cleaned_data.get("new_refresh_token")
        if secret or token:
            # a rotation date typed with the new secret, else the service's today
            account_set_credentials(
                account=obj, client_secret=secret or None, refresh_token=token or None,
                rotated_on=form.cleaned_data.get("client_secret_rotated_on")
                if "client_secret_rotated_on" in form.changed_data else None,
                actor=request.user,
            )


@admin.register(AmazonTerm)
class AmazonTermAdmin(HistoryAdmin):
    """Amazon's codes with the words people use for them, editable by staff."""

    list_display = ("label", "amazon_code", "kind", "description")
    list_filter = ("kind",)
    search_fields = ("code", "label", "description")
    ordering = ("kind", "code")

    @admin.display(description="Amazon's code", ordering="code")
    def amazon_code(self, obj):
        # the code exactly as Amazon writes it, with the words for it on hover
        return format_html('<code title="{}">{}</code>', obj.label, obj.code)
