from __future__ import annotations

from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from marketplaces.reference import marketplace_label

MONEY = {"max_digits": 18, "decimal_places": 4}


class Item(models.Model):
    """One of our products, by internal SKU."""

    sku = models.CharField("internal SKU", max_length=64, unique=True,
                           help_text="Our own product code; listings on Amazon map to it.")
    name = models.CharField("product name", max_length=255)
    barcode = models.CharField(max_length=32, blank=True, help_text="EAN, UPC or GTIN.")
    unit_cost = models.DecimalField("unit cost", **MONEY, null=True, blank=True,
                                    help_text="What one unit costs us, in the cost currency.")
    cost_currency = models.CharField("cost currency", max_length=3, blank=True,
                                     help_text="Three-letter code, e.g. EUR or USD.")
    active = models.BooleanField(default=True, help_text="Inactive items are kept for history.")
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("last changed", auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = "item"
        verbose_name_plural = "items"
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
    component = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="in_kits",
                                  help_text="An item the kit is made of.")
    quantity = models.PositiveIntegerField(default=1, help_text="Units of it in one kit.")

    class Meta:
        verbose_name = "kit component"
        verbose_name_plural = "kit components"
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


class Condition(models.TextChoices):
    NEW = "new_new", "New"
    NEW_OPEN_BOX = "new_open_box", "New, open box"
    NEW_OEM = "new_oem", "New, OEM"
    REFURBISHED = "refurbished_refurbished", "Refurbished"
    USED_LIKE_NEW = "used_like_new", "Used, like new"
    USED_VERY_GOOD = "used_very_good", "Used, very good"
    USED_GOOD = "used_good", "Used, good"
    USED_ACCEPTABLE = "used_acceptable", "Used, acceptable"
    COLLECTIBLE_LIKE_NEW = "collectible_like_new", "Collectible, like new"
    COLLECTIBLE_VERY_GOOD = "collectible_very_good", "Collectible, very good"
    COLLECTIBLE_GOOD = "collectible_good", "Collectible, good"
    COLLECTIBLE_ACCEPTABLE = "collectible_acceptable", "Collectible, acceptable"
    CLUB = "club_club", "Club"


class Listing(models.Model):
    """The ASIN/SKU mapping: a seller SKU in one marketplace, mapped (or not) to an Item."""

    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="listings",
        verbose_name="seller account",
    )
    marketplace = models.ForeignKey(
        "marketplaces.Marketplace", on_delete=models.PROTECT, related_name="listings"
    )
    seller_sku = models.CharField("seller SKU", max_length=64,
                                  help_text="The SKU as it is in Seller Central.")
    asin = models.CharField("ASIN", max_length=10, blank=True,
                            help_text="Amazon's product number, e.g. B07XJ8C8F5.")
    fnsku = models.CharField("FNSKU", max_length=10, blank=True,
                             help_text="Amazon's label code for FBA units.")
    channel = models.CharField("fulfilment", max_length=3, choices=Channel.choices,
                               default=Channel.MFN,
                               help_text="Who ships it: Amazon (FBA) or we do (MFN).")
    condition = models.CharField(max_length=32, choices=Condition.choices,
                                 default=Condition.NEW)
    product_type = models.CharField(
        max_length=64, default="PRODUCT",
        help_text="Amazon product type sent with feed messages (PRODUCT works for offers).",
    )
    parent_asin = models.CharField("parent ASIN", max_length=10, blank=True)
    item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.PROTECT, related_name="listings",
        verbose_name="mapped to item",
        help_text="Type an internal SKU or product name. Empty means unmapped: orders of "
        "this SKU wait until it is mapped.",
    )
    price = models.DecimalField(**MONEY, null=True, blank=True,
                                help_text="Our price on Amazon; sent by the price push.")
    currency = models.CharField(max_length=3, blank=True,
                                help_text="The marketplace's currency, e.g. EUR.")
    push_enabled = models.BooleanField(
        "push to Amazon", default=True,
        help_text="Send this listing's stock and price to Amazon automatically.")
    buffer_quantity = models.PositiveIntegerField(
        "safety buffer", default=0, help_text="Units held back from the quantity shown on Amazon.")
    max_quantity = models.PositiveIntegerField(
        "maximum shown", null=True, blank=True,
        help_text="Never show Amazon more than this many units; empty means no limit.")
    last_pushed_quantity = models.IntegerField("quantity last sent", null=True, blank=True)
    last_pushed_quantity_at = models.DateTimeField("quantity sent at", null=True, blank=True)
    last_pushed_price = models.DecimalField("price last sent", **MONEY, null=True, blank=True)
    last_pushed_price_at = models.DateTimeField("price sent at", null=True, blank=True)
    discovered_from = models.CharField(
        "first seen in", max_length=32, blank=True,
        help_text="Where an unmapped SKU was first seen (orders, returns, FBA stock…).",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("last changed", auto_now=True)
    history = HistoricalRecords(
        excluded_fields=["updated_at", "last_pushed_quantity_at", "last_pushed_price_at"]
    )

    class Meta:
        verbose_name = "listing"
        verbose_name_plural = "listings"
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
        return f"{self.seller_sku} @ {marketplace_label(self.marketplace_id)}"


class MerchantStock(models.Model):
    """Our own warehouse stock of an Item: feeds MFN listings only."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="merchant_stock")
    on_hand = models.IntegerField("on hand", default=0,
                                  help_text="Units on our own shelves.")
    reserved = models.IntegerField(default=0, help_text="Units held by open MFN orders.")
    updated_at = models.DateTimeField("last changed", auto_now=True)

    class Meta:
        verbose_name = "warehouse stock"
        verbose_name_plural = "warehouse stock"
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
    fulfillable = models.IntegerField("sellable", default=0,
                                      help_text="Units Amazon can ship now.")
    inbound = models.IntegerField("on the way", default=0,
                                  help_text="Units in inbound shipments not yet received.")
    reserved = models.IntegerField(default=0,
                                   help_text="Units Amazon holds for orders or transfers.")
    unfulfillable = models.IntegerField("damaged", default=0,
                                        help_text="Units Amazon cannot sell (damaged, expired).")
    amazon_updated_at = models.DateTimeField("Amazon updated", null=True, blank=True)
    pulled_at = models.DateTimeField("read from Amazon", null=True, blank=True)

    class Meta:
        verbose_name = "FBA stock"
        verbose_name_plural = "FBA stock"

    def __str__(self) -> str:
        return f"{self.listing}: {self.fulfillable} fulfillable"


class InboundStatus(models.TextChoices):
    """Amazon's inbound shipment statuses, in the order a shipment goes through them."""

    WORKING = "WORKING", "Being prepared"
    READY_TO_SHIP = "READY_TO_SHIP", "Ready to ship"
    SHIPPED = "SHIPPED", "Shipped"
    IN_TRANSIT = "IN_TRANSIT", "In transit"
    DELIVERED = "DELIVERED", "Delivered"
    CHECKED_IN = "CHECKED_IN", "Checked in"
    RECEIVING = "RECEIVING", "Receiving"
    CLOSED = "CLOSED", "Closed"
    CANCELLED = "CANCELLED", "Cancelled"
    DELETED = "DELETED", "Deleted"
    ERROR = "ERROR", "Error"


class InboundShipment(models.Model):
    """An FBA inbound shipment (fulfillment inbound v0)."""

    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="+",
        verbose_name="seller account",
    )
    marketplace = models.ForeignKey(
        "marketplaces.Marketplace", on_delete=models.PROTECT, related_name="+", null=True,
        blank=True,
    )
    shipment_id = models.CharField("shipment ID", max_length=32)
    name = models.CharField(max_length=255, blank=True)
    destination_fc = models.CharField("destination warehouse", max_length=16, blank=True,
                                      help_text="Amazon fulfilment centre code, e.g. PHX7.")
    status = models.CharField(max_length=32, choices=InboundStatus.choices)
    closed_at = models.DateTimeField("closed", null=True, blank=True)
    raw = models.JSONField("as Amazon sent it", default=dict, blank=True)
    updated_at = models.DateTimeField("last changed", auto_now=True)

    class Meta:
        verbose_name = "FBA inbound shipment"
        verbose_name_plural = "FBA inbound shipments"
        constraints = [
            models.UniqueConstraint(fields=["account", "shipment_id"], name="uniq_inbound")
        ]
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.shipment_id


class InboundShipmentItem(models.Model):
    shipment = models.ForeignKey(InboundShipment, on_delete=models.CASCADE, related_name="items")
    seller_sku = models.CharField("seller SKU", max_length=64)
    fnsku = models.CharField("FNSKU", max_length=10, blank=True)
    listing = models.ForeignKey(Listing, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    quantity_shipped = models.IntegerField("shipped", default=0)
    quantity_received = models.IntegerField("received", default=0)
    quantity_in_case = models.IntegerField("units per case", default=0)

    class Meta:
        verbose_name = "inbound shipment item"
        verbose_name_plural = "inbound shipment items"
        constraints = [
            models.UniqueConstraint(fields=["shipment", "seller_sku"], name="uniq_inbound_item")
        ]

    @property
    def discrepancy(self) -> int:
        return self.quantity_received - self.quantity_shipped


class FeedStatus(models.TextChoices):
    """A feed's state: ours while sending, then Amazon's processing status."""

    SUBMITTING = "SUBMITTING", "Sending"
    IN_QUEUE = "IN_QUEUE", "Queued at Amazon"
    IN_PROGRESS = "IN_PROGRESS", "Being processed"
    DONE = "DONE", "Processed"
    CANCELLED = "CANCELLED", "Cancelled"
    FATAL = "FATAL", "Failed"


# Feed statuses after which Amazon applied nothing of it.
FEED_FAILED_STATUSES = (FeedStatus.CANCELLED, FeedStatus.FATAL)


class PushFeed(models.Model):
    """One JSON_LISTINGS_FEED we sent: what it carried and what Amazon made of it."""

    class Kind(models.TextChoices):
        QUANTITY = "quantity", "Inventory quantities"
        PRICE = "price", "Prices"

    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="+",
        verbose_name="seller account",
    )
    marketplace = models.ForeignKey(
        "marketplaces.Marketplace", on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField("what was sent", max_length=16, choices=Kind.choices)
    run = models.ForeignKey(
        "amazonsync.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name="sync run",
    )
    feed_id = models.CharField("Amazon feed ID", max_length=64, blank=True)
    status = models.CharField(max_length=32, blank=True, choices=FeedStatus.choices,
                              help_text="Amazon's processing status of the feed.")
    messages = models.PositiveIntegerField("listings sent", default=0)
    accepted = models.PositiveIntegerField(default=0, help_text="Listings Amazon applied.")
    rejected = models.PositiveIntegerField(default=0, help_text="Listings Amazon refused.")
    submitted_at = models.DateTimeField("sent")
    finished_at = models.DateTimeField("finished", null=True, blank=True)

    class Meta:
        verbose_name = "push to Amazon"
        verbose_name_plural = "stock pushes to Amazon"
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(accepted__lte=models.F("messages")),
                                   name="pushfeed_accepted_within_messages"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} feed {self.feed_id or '(not sent)'}"
