from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from amazonsync.adminkit import HistoryAdmin, ReadOnlyAdmin, TabularInline
from amazonsync.crypto import redact_secrets, undecryptable

from .models import AccountMarketplace, AmazonTerm, Marketplace, SellerAccount
from .selectors import EXPIRED, EXPIRING, secret_expiry
from .services import account_set_credentials


@admin.register(Marketplace)
class MarketplaceAdmin(ReadOnlyAdmin):
    """Reference data, seeded by a migration."""

    list_display = ("code", "name", "id", "region", "currency", "time_zone", "spapi_host")
    list_filter = ("region", "currency")
    search_fields = ("code", "name", "id", "domain")
    readonly_fields = [f.name for f in Marketplace._meta.fields]


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
            )


@admin.register(AmazonTerm)
class AmazonTermAdmin(HistoryAdmin):
    """Amazon's codes with the words people use for them, editable by staff."""

    list_display = ("code", "label", "kind", "description")
    list_filter = ("kind",)
    search_fields = ("code", "label", "description")
    ordering = ("kind", "code")
