from __future__ import annotations

from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

MONEY = {"max_digits": 18, "decimal_places": 4}


class Item(models.Model):
    """One of our products, by internal SKU."""

    sku = models.CharField("internal SKU", max_length=64, unique=True)
    name = models.CharField(max_length=255)
    barcode = models.CharField(max_length=32, blank=True)
    unit_cost = models.DecimalField(**MONEY, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(
                condition=Q(unit_cost__isnull=True) | Q(unit_cost__gte=0),
                name="item_unit_cost_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(unit_cost__isnull=True) | ~Q(cost_currency=""),
                name="item_cost_has_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} · {self.name}"


class KitComponent(models.Model):
    """A kit Item is made of component Items, each in a quantity."""

    kit = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="components")
    component = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="in_kits")
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kit", "component"], name="uniq_kit_component"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="kit_quantity_positive"),
            models.CheckConstraint(condition=~Q(kit=models.F("component")),
                                   name="kit_not_its_own_component"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.component.sku}"


class Channel(models.TextChoices):
    FBA = "FBA", "Fulfilled by Amazon"
    MFN = "MFN", "Merchant fulfilled"


class Listing(models.Model):
    """The ASIN/SKU mapping: a seller SKU in one marketplace, mapped (or not) to an Item."""

    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="listings"
    )
    marketplace = models.ForeignKey(
        "marketplaces.Marketplace", on_delete=models.PROTECT, related_name="listings"
    )
    seller_sku = models.CharField("seller SKU", max_length=64)
    asin = models.CharField("ASIN", max_length=10, blank=True)
    fnsku = models.CharField("FNSKU", max_length=10, blank=True)
    channel = models.CharField(max_length=3, choices=Channel.choices, default=Channel.MFN)
    condition = models.CharField(max_length=32, default="new_new")
    product_type = models.CharField(
        max_length=64, default="PRODUCT",
        help_text="Amazon product type sent with feed messages (PRODUCT works for offers).",
    )
    parent_asin = models.CharField("parent ASIN", max_length=10, blank=True)
    item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.PROTECT, related_name="listings",
        help_text="Empty = unmapped.",
    )
    price = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    push_enabled = models.BooleanField(default=True)
    buffer_quantity = models.PositiveIntegerField(default=0)
    max_quantity = models.PositiveIntegerField(null=True, blank=True)
    last_pushed_quantity = models.IntegerField(null=True, blank=True)
    last_pushed_quantity_at = models.DateTimeField(null=True, blank=True)
    last_pushed_price = models.DecimalField(**MONEY, null=True, blank=True)
    last_pushed_price_at = models.DateTimeField(null=True, blank=True)
    discovered_from = models.CharField(
        max_length=32, blank=True, help_text="where an unmapped SKU was first seen"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(
        excluded_fields=["updated_at", "last_pushed_quantity_at", "last_pushed_price_at"]
    )

    class Meta:
        ordering = ["account", "marketplace", "seller_sku"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "marketplace", "seller_sku"], name="uniq_listing_sku"
            ),
            models.CheckConstraint(
                condition=Q(price__isnull=True) | (Q(price__gte=0) & ~Q(currency="")),
                name="listing_price_with_currency",
            ),
            models.CheckConstraint(
                condition=Q(max_quantity__isnull=True) | Q(max_quantity__gte=0),
                name="listing_max_quantity_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["FBA", "MFN"]), name="listing_channel_known"
            ),
        ]
        indexes = [
            models.Index(fields=["asin"]),
            models.Index(fields=["item"]),
        ]

    def __str__(self) -> str:
        return f"{self.seller_sku} @ {self.marketplace_id}"


class MerchantStock(models.Model):
    """Our own warehouse stock of an Item: feeds MFN listings only."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="merchant_stock")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0, help_text="held by open MFN orders")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(reserved__gte=0), name="reserved_not_negative"),
        ]

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved)

    def __str__(self) -> str:
        return f"{self.item.sku}: {self.on_hand} on hand, {self.reserved} reserved"


class FbaStock(models.Model):
    """Amazon's fulfilment-centre stock of a listing (getInventorySummaries)."""

    listing = models.OneToOneField(Listing, on_delete=models.CASCADE, related_name="fba_stock")
    fulfillable = models.IntegerField(default=0)
    inbound = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    unfulfillable = models.IntegerField(default=0)
    amazon_updated_at = models.DateTimeField(null=True, blank=True)
    pulled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.listing}: {self.fulfillable} fulfillable"


class InboundShipment(models.Model):
    """An FBA inbound shipment (fulfillment inbound v0)."""

    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="+"
    )
    marketplace = models.ForeignKey(
        "marketplaces.Marketplace", on_delete=models.PROTECT, related_name="+", null=True,
        blank=True,
    )
    shipment_id = models.CharField(max_length=32)
    name = models.CharField(max_length=255, blank=True)
    destination_fc = models.CharField("destination FC", max_length=16, blank=True)
    status = models.CharField(max_length=32)
    closed_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "shipment_id"], name="uniq_inbound")
        ]
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.shipment_id


class InboundShipmentItem(models.Model):
    shipment = models.ForeignKey(InboundShipment, on_delete=models.CASCADE, related_name="items")
    seller_sku = models.CharField(max_length=64)
    fnsku = models.CharField(max_length=10, blank=True)
    listing = models.ForeignKey(Listing, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    quantity_shipped = models.IntegerField(default=0)
    quantity_received = models.IntegerField(default=0)
    quantity_in_case = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shipment", "seller_sku"], name="uniq_inbound_item")
        ]

    @property
    def discrepancy(self) -> int:
        return self.quantity_received - self.quantity_shipped


class PushFeed(models.Model):
    """One JSON_LISTINGS_FEED we sent: what it carried and what Amazon made of it."""

    class Kind(models.TextChoices):
        QUANTITY = "quantity", "Inventory quantities"
        PRICE = "price", "Prices"

    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="+"
    )
    marketplace = models.ForeignKey(
        "marketplaces.Marketplace", on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    run = models.ForeignKey(
        "amazonsync.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    feed_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, blank=True)
    messages = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(accepted__lte=models.F("messages")),
                                   name="pushfeed_accepted_within_messages"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} feed {self.feed_id or '(not sent)'}"
