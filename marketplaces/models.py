from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from amazonsync.crypto import EncryptedTextField


class Region(models.TextChoices):
    NA = "NA", "North America"
    EU = "EU", "Europe"
    FE = "FE", "Far East"


class Marketplace(models.Model):
    """Amazon marketplace reference data, loaded by a data migration."""

    id = models.CharField("marketplace id", max_length=20, primary_key=True)
    code = models.CharField("country code", max_length=2, unique=True)
    name = models.CharField(max_length=64)
    domain = models.CharField(max_length=64)
    region = models.CharField(max_length=2, choices=Region.choices)
    spapi_host = models.CharField("SP-API host", max_length=128)
    currency = models.CharField("default currency", max_length=3)
    time_zone = models.CharField(max_length=64)

    class Meta:
        ordering = ["region", "code"]

    def __str__(self) -> str:
        return f"{self.domain[:1].upper()}{self.domain[1:]} ({self.code})"


class OrdersApiVersion(models.TextChoices):
    V0 = "v0", "Orders API v0"
    V2026 = "2026-01-01", "Orders API 2026-01-01"


class SellerAccount(models.Model):
    """A selling partner authorised for this application.

    The LWA client secret, the refresh token and the cached access token are encrypted at
    rest and never rendered by the admin.
    """

    selling_partner_id = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=128)
    region = models.CharField(max_length=2, choices=Region.choices)
    active = models.BooleanField(default=True)
    lwa_client_id = models.CharField("LWA client id", max_length=255, blank=True)
    lwa_client_secret = EncryptedTextField("LWA client secret", blank=True, editable=True)
    refresh_token = EncryptedTextField(blank=True)
    client_secret_rotated_on = models.DateField(
        null=True, blank=True, help_text="LWA client secrets expire 180 days after rotation."
    )
    api_base_url = models.URLField(
        "API base URL override",
        blank=True,
        help_text="Leave empty for Amazon's regional endpoint; set to the local sandbox URL "
        "to point this account at the simulator.",
    )
    token_url = models.URLField(
        "LWA token URL override", blank=True, help_text="Leave empty for Login with Amazon."
    )
    orders_api_version = models.CharField(
        max_length=16, choices=OrdersApiVersion.choices, default=OrdersApiVersion.V0
    )
    needs_reauthorization = models.BooleanField(default=False)
    reauthorization_reason = models.TextField(blank=True)
    # Access token cache shared by every worker process.
    access_token = EncryptedTextField(blank=True, editable=False)
    access_token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    marketplaces = models.ManyToManyField(
        Marketplace, through="AccountMarketplace", related_name="accounts"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Secrets and the token cache never enter the history tables.
    history = HistoricalRecords(
        excluded_fields=[
            "lwa_client_secret", "refresh_token", "access_token", "access_token_expires_at",
            "updated_at",
        ]
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.selling_partner_id})"

    @property
    def client_secret_expires_on(self) -> datetime.date | None:
        if self.client_secret_rotated_on is None:
            return None
        return self.client_secret_rotated_on + datetime.timedelta(
            days=settings.LWA_SECRET_LIFETIME_DAYS
        )

    def client_secret_days_left(self, today: datetime.date | None = None) -> int | None:
        expires = self.client_secret_expires_on
        if expires is None:
            return None
        return (expires - (today or timezone.localdate())).days


class AccountMarketplace(models.Model):
    """A marketplace an account sells in, with a switch per flow."""

    account = models.ForeignKey(
        SellerAccount, on_delete=models.CASCADE, related_name="account_marketplaces"
    )
    marketplace = models.ForeignKey(Marketplace, on_delete=models.PROTECT, related_name="+")
    orders = models.BooleanField(default=True)
    shipments = models.BooleanField(default=True)
    inventory = models.BooleanField(default=True)
    prices = models.BooleanField(default=True)
    settlements = models.BooleanField(default=True)
    returns = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "marketplace"], name="uniq_account_marketplace"
            )
        ]
        ordering = ["account", "marketplace"]

    def __str__(self) -> str:
        return f"{self.account.name} · {self.marketplace.code}"


class TermKind(models.TextChoices):
    RETURN_REASON = "return_reason", "Return reason"
    DISPOSITION = "disposition", "Return disposition"
    TRANSACTION_TYPE = "transaction_type", "Settlement transaction type"
    AMOUNT_TYPE = "amount_type", "Settlement amount type"
    FEE_TYPE = "fee_type", "Fee type"
    EXCEPTION_REASON = "exception_reason", "Exception reason"


class AmazonTerm(models.Model):
    """Amazon's codes (return reasons, dispositions, fee and transaction types) with a label
    and a plain-language description, shown next to the code wherever the code appears.

    Seeded by data migration; staff may edit the wording or add codes Amazon introduces."""

    kind = models.CharField(max_length=32, choices=TermKind.choices)
    code = models.CharField(max_length=128, help_text="Exactly as Amazon writes it.")
    label = models.CharField(max_length=128, help_text="A short name for people.")
    description = models.TextField(blank=True, help_text="What it means, in plain words.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = "Amazon term"
        constraints = [
            models.UniqueConstraint(fields=["kind", "code"], name="amazonterm_kind_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.code})"
