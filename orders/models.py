"""Orders, their lines and customers as Amazon reports them, and MFN shipments we confirm.

Data from Amazon is stored as it came (``raw``) next to typed columns; money is a Decimal
next to its ISO currency code. Natural keys and the simple invariants are enforced by the
database (unique constraints, CHECK constraints), not by ``save()``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from .carriers import AMAZON_CARRIER_CODES, CARRIER_CHOICES

MONEY = {"max_digits": 18, "decimal_places": 4, "null": True, "blank": True}


class OrderStatus(models.TextChoices):
    PENDING = "Pending", "Pending"
    UNSHIPPED = "Unshipped", "Unshipped"
    PARTIALLY_SHIPPED = "PartiallyShipped", "Partially shipped"
    SHIPPED = "Shipped", "Shipped"
    CANCELED = "Canceled", "Canceled"
    UNFULFILLABLE = "Unfulfillable", "Unfulfillable"
    INVOICE_UNCONFIRMED = "InvoiceUnconfirmed", "Invoice unconfirmed"
    PENDING_AVAILABILITY = "PendingAvailability", "Pending availability"


# Statuses in which an MFN order still holds merchant stock.
OPEN_STATUSES = (
    OrderStatus.PENDING,
    OrderStatus.PENDING_AVAILABILITY,
    OrderStatus.UNSHIPPED,
    OrderStatus.PARTIALLY_SHIPPED,
    OrderStatus.INVOICE_UNCONFIRMED,
)
# Statuses in which an MFN order can be confirmed as shipped.
SHIPPABLE_STATUSES = (OrderStatus.UNSHIPPED, OrderStatus.PARTIALLY_SHIPPED)


class FulfillmentChannel(models.TextChoices):
    AFN = "AFN", "Fulfilled by Amazon (FBA)"
    MFN = "MFN", "Merchant fulfilled (MFN)"


class SalesChannel(models.TextChoices):
    """Where the order was sold: on Amazon, or elsewhere and only fulfilled by Amazon from
    the seller's FBA stock (Multi-Channel Fulfilment, sales channel "Non-Amazon")."""

    AMAZON = "amazon", "Amazon"
    MCF = "mcf", "Multi-channel (MCF)"


class Source(models.TextChoices):
    API = "api", "Orders API"
    REPORT = "report", "All-orders report"


class Customer(models.Model):
    """A buyer, matched by Amazon's (anonymised) buyer token, else one per order.

    Amazon does not expose e-mail addresses: ``buyer_token`` is the anonymised
    ``BuyerEmail`` Amazon gives, and nothing beyond what the order payload carries is kept.
    """

    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="customers",
        verbose_name="seller account",
    )
    buyer_token = models.CharField(
        "Amazon buyer e-mail (anonymised)", max_length=255, blank=True,
        help_text="The anonymised address Amazon gives; it identifies a repeat buyer.",
    )
    order_key = models.CharField(
        "only order", max_length=32, blank=True,
        help_text="The order this customer stands for when Amazon gave no buyer address.",
    )
    name = models.CharField(max_length=255, blank=True)
    country_code = models.CharField("country", max_length=2, blank=True)
    created_at = models.DateTimeField("first seen", auto_now_add=True)

    class Meta:
        verbose_name = "customer"
        verbose_name_plural = "customers"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "buyer_token"], condition=~Q(buyer_token=""),
                name="uniq_customer_token",
            ),
            models.UniqueConstraint(
                fields=["account", "order_key"], condition=~Q(order_key=""),
                name="uniq_customer_order",
            ),
            models.CheckConstraint(
                condition=(Q(buyer_token="") & ~Q(order_key=""))
                | (~Q(buyer_token="") & Q(order_key="")),
                name="customer_token_xor_order",
            ),
        ]

    def __str__(self) -> str:
        if self.buyer_token:
            return self.name or self.buyer_token
        return self.name or f"buyer of {self.order_key}"


class Order(models.Model):
    account = models.ForeignKey(
        "marketplaces.SellerAccount", on_delete=models.CASCADE, related_name="orders",
        verbose_name="seller account",
    )
    marketplace = models.ForeignKey(
        "marketplaces.Marketplace", on_delete=models.PROTECT, related_name="orders"
    )
    amazon_order_id = models.CharField("Amazon order ID", max_length=32)
    seller_order_id = models.CharField(
        "seller order ID", max_length=64, blank=True,
        help_text="the seller's own order id (for a multi-channel order: its merchant order id)",
    )
    sales_channel = models.CharField(
        max_length=8, choices=SalesChannel.choices, default=SalesChannel.AMAZON,
        db_index=True,
        help_text="Amazon, or a multi-channel (MCF) order sold elsewhere and fulfilled by "
        "Amazon from FBA stock",
    )
    fulfils = models.ForeignKey(
        "self", null=True, blank=True, verbose_name="fulfils order",
        on_delete=models.SET_NULL, related_name="mcf_orders",
        help_text="multi-channel orders: the order it fulfils (the order whose Amazon or "
        "seller order id is its merchant order id)",
    )
    purchase_date = models.DateTimeField("ordered", db_index=True)
    last_update_date = models.DateTimeField("Amazon last updated", db_index=True)
    status = models.CharField(max_length=24, choices=OrderStatus.choices, db_index=True)
    fulfillment_channel = models.CharField("fulfilment", max_length=3,
                                           choices=FulfillmentChannel.choices)
    is_prime = models.BooleanField("Prime", default=False)
    is_seller_fulfilled_prime = models.BooleanField(
        "seller fulfilled Prime", default=False, help_text="Prime order shipped by us (MFN)"
    )
    is_premium = models.BooleanField("premium shipping", default=False)
    is_business = models.BooleanField("business order", default=False)
    is_replacement = models.BooleanField("replacement", default=False)
    replaced_order_id = models.CharField("replaces order", max_length=32, blank=True)
    order_total = models.DecimalField("order total", **MONEY)
    currency = models.CharField(max_length=3)
    ship_service_level = models.CharField("shipping service", max_length=64, blank=True)
    ship_service_category = models.CharField("shipping category", max_length=32, blank=True)
    earliest_ship_date = models.DateTimeField("ship from", null=True, blank=True)
    latest_ship_date = models.DateTimeField(
        "ship by", null=True, blank=True,
        help_text="Amazon's latest ship date: confirm the shipment before it.")
    purchase_order_number = models.CharField("purchase order number", max_length=64,
                                             blank=True)
    ship_city = models.CharField("city", max_length=128, blank=True)
    ship_state = models.CharField("state or region", max_length=128, blank=True)
    ship_postal_code = models.CharField("postal code", max_length=32, blank=True)
    ship_country = models.CharField("country", max_length=2, blank=True)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    source = models.CharField("read from", max_length=8, choices=Source.choices,
                              default=Source.API)
    first_stored_at = models.DateTimeField("first stored",
                                           help_text="when this back office first stored it")
    version_stored_at = models.DateTimeField(
        "this version stored", null=True, blank=True,
        help_text="when the API version of the order (its last update) was stored, on the "
        "sync's clock; empty for versions from a report (backfill): the sync latency",
    )
    acknowledged_at = models.DateTimeField(
        "shipment confirmed", null=True, blank=True,
        help_text="first shipment confirmation accepted by Amazon"
    )
    shipped_at = models.DateTimeField("shipped", null=True, blank=True,
                                      help_text="first seen shipped")
    ack_sla_met = models.BooleanField(
        "shipped on time", null=True, blank=True,
        help_text="the shipment was confirmed to Amazon before the latest ship date",
    )
    raw = models.JSONField("as Amazon sent it", default=dict, blank=True)
    updated_at = models.DateTimeField("last changed", auto_now=True)

    class Meta:
        verbose_name = "order"
        verbose_name_plural = "orders"
        ordering = ["-purchase_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "amazon_order_id"], name="uniq_order_per_account"
            ),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="order_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(fulfillment_channel__in=FulfillmentChannel.values),
                name="order_channel_valid",
            ),
            models.CheckConstraint(
                condition=Q(sales_channel__in=SalesChannel.values),
                name="order_sales_channel_valid",
            ),
            models.CheckConstraint(
                condition=Q(sales_channel="amazon") | Q(fulfillment_channel="AFN"),
                name="order_mcf_fulfilled_by_amazon",
            ),
            models.CheckConstraint(
                condition=Q(fulfils__isnull=True) | Q(sales_channel="mcf"),
                name="order_only_mcf_fulfils",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="order_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(order_total__isnull=True) | Q(order_total__gte=0),
                name="order_total_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(last_update_date__gte=F("purchase_date")),
                name="order_updated_after_purchase",
            ),
            models.CheckConstraint(
                condition=Q(is_seller_fulfilled_prime=False)
                | (Q(fulfillment_channel="MFN") & Q(is_prime=True)),
                name="order_sfp_is_mfn_prime",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "marketplace", "-purchase_date"]),
            models.Index(fields=["status", "fulfillment_channel"]),
        ]

    def __str__(self) -> str:
        return self.amazon_order_id

    @property
    def is_mfn(self) -> bool:
        return self.fulfillment_channel == FulfillmentChannel.MFN

    @property
    def is_mcf(self) -> bool:
        return self.sales_channel == SalesChannel.MCF


class OrderLine(models.Model):
    """One order item. Lines from the all-orders report have no order item id until the
    Orders API gives it; they are matched by seller SKU meanwhile."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    order_item_id = models.CharField("Amazon order item ID", max_length=32, blank=True)
    seller_sku = models.CharField("seller SKU", max_length=64)
    asin = models.CharField("ASIN", max_length=10, blank=True)
    title = models.CharField(max_length=500, blank=True)
    listing = models.ForeignKey(
        "catalog.Listing", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="order_lines", help_text="empty while the SKU is not mapped",
    )
    unmapped = models.BooleanField(
        "SKU not mapped", default=False, db_index=True,
        help_text="the seller SKU is not mapped to an item yet")
    quantity_ordered = models.PositiveIntegerField("ordered", default=0)
    quantity_shipped = models.PositiveIntegerField("shipped", default=0)
    cancelled = models.BooleanField(
        default=False, help_text="the item was cancelled: what it has not shipped never will, "
        "and its amounts are not in the order total",
    )
    currency = models.CharField(max_length=3)
    item_price = models.DecimalField("item price", **MONEY)
    item_tax = models.DecimalField("item tax", **MONEY)
    shipping_price = models.DecimalField("shipping", **MONEY)
    shipping_tax = models.DecimalField("shipping tax", **MONEY)
    shipping_discount = models.DecimalField("shipping discount", **MONEY)
    promotion_discount = models.DecimalField("promotion discount", **MONEY)
    promotion_discount_tax = models.DecimalField("promotion discount tax", **MONEY)
    promotion_ids = models.CharField("promotions", max_length=255, blank=True)
    reserved_quantity = models.PositiveIntegerField(
        "reserved", default=0, help_text="merchant stock this line holds (MFN, open orders)"
    )
    stock_item = models.ForeignKey(
        "catalog.Item", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name="stock held on item",
        help_text="the item whose merchant stock the reservation is held on",
    )
    raw = models.JSONField("as Amazon sent it", default=dict, blank=True)

    class Meta:
        verbose_name = "order line"
        verbose_name_plural = "order lines"
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "order_item_id"], condition=~Q(order_item_id=""),
                name="uniq_order_item",
            ),
            models.UniqueConstraint(
                fields=["order", "seller_sku"], condition=Q(order_item_id=""),
                name="uniq_order_sku_without_item_id",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="order_line_currency_iso"
            ),
            models.CheckConstraint(
                condition=Q(reserved_quantity__lte=F("quantity_ordered")),
                name="order_line_reserved_within_ordered",
            ),
            models.CheckConstraint(
                condition=Q(reserved_quantity=0) | Q(stock_item__isnull=False),
                name="order_line_reservation_has_item",
            ),
        ]
        indexes = [models.Index(fields=["seller_sku"]), models.Index(fields=["asin"])]

    def __str__(self) -> str:
        return f"{self.quantity_ordered} × {self.seller_sku}"

    @property
    def quantity_unshipped(self) -> int:
        """Units still to ship (none once the item is cancelled)."""
        if self.cancelled:
            return 0
        return max(0, self.quantity_ordered - self.quantity_shipped)


class CarrierMapping(models.Model):
    """Our carrier (and ship method) -> the carrier code Amazon accepts."""

    carrier = models.CharField(
        max_length=64, help_text="our carrier name, as ops or the ERP write it"
    )
    ship_method = models.CharField(
        max_length=64, blank=True, help_text="our ship method; empty = any method"
    )
    amazon_carrier_code = models.CharField(
        "Amazon carrier", max_length=64, choices=CARRIER_CHOICES,
        help_text="one of the codes Amazon accepts"
    )
    amazon_carrier_name = models.CharField(
        "carrier name for Amazon", max_length=64, blank=True,
        help_text='required when the code is "Other"'
    )
    shipping_method = models.CharField(
        "shipping method for Amazon", max_length=64, blank=True,
        help_text="shipping method sent to Amazon"
    )
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField("last changed", auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = "carrier mapping"
        verbose_name_plural = "carrier mappings"
        ordering = ["carrier", "ship_method"]
        constraints = [
            models.UniqueConstraint(fields=["carrier", "ship_method"], name="uniq_carrier_map"),
            models.CheckConstraint(
                condition=~Q(amazon_carrier_code="Other") | ~Q(amazon_carrier_name=""),
                name="carrier_other_has_name",
            ),
            models.CheckConstraint(condition=~Q(carrier=""), name="carrier_not_empty"),
            models.CheckConstraint(
                condition=Q(amazon_carrier_code__in=AMAZON_CARRIER_CODES),
                name="carrier_code_accepted_by_amazon",
            ),
        ]

    def __str__(self) -> str:
        ours = f"{self.carrier} {self.ship_method}".strip()
        return f"{ours} → {self.amazon_carrier_code}"


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", "Pending confirmation"
    CONFIRMED = "confirmed", "Confirmed by Amazon"
    FAILED = "failed", "Rejected by Amazon"
    CANCELED = "canceled", "Canceled (order canceled)"


class Shipment(models.Model):
    """One MFN package, confirmed to Amazon with confirmShipment."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    package_reference_id = models.CharField("package reference", max_length=64)
    carrier = models.CharField(max_length=64, help_text="our carrier name")
    ship_method = models.CharField("ship method", max_length=64, blank=True)
    carrier_code = models.CharField(
        "Amazon carrier", max_length=64, blank=True,
        help_text="Amazon carrier code sent (from the mapping)"
    )
    carrier_name = models.CharField("carrier name sent", max_length=64, blank=True)
    shipping_method = models.CharField("shipping method sent", max_length=64, blank=True)
    tracking_number = models.CharField("tracking number", max_length=64, blank=True)
    ship_date = models.DateTimeField("ship date")
    status = models.CharField(
        max_length=10, choices=ShipmentStatus.choices, default=ShipmentStatus.PENDING,
        db_index=True,
    )
    amazon_response = models.JSONField("Amazon's answer", default=dict, blank=True)
    last_error = models.TextField("problem", blank=True)
    attempts = models.PositiveIntegerField("times sent", default=0)
    confirmed_at = models.DateTimeField("confirmed", null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name="recorded by",
    )
    created_at = models.DateTimeField("recorded", auto_now_add=True)

    class Meta:
        verbose_name = "MFN shipment"
        verbose_name_plural = "MFN shipments"
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "package_reference_id"], name="uniq_shipment_package"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ShipmentStatus.values), name="shipment_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(confirmed_at__isnull=False),
                name="shipment_confirmed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order.amazon_order_id} package {self.package_reference_id}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()

    class Meta:
        verbose_name = "package line"
        verbose_name_plural = "package lines"
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "order_line"], name="uniq_shipment_line"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="shipment_qty_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.order_line.seller_sku}"
