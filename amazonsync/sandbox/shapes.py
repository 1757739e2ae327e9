"""The things of the sandbox world: marketplaces, products, orders, inbound shipments, money.

Plain dataclasses shared by every part of the sandbox: ``world.py`` generates them (the
ledger and settlements in ``ledger.py``), ``serializers.py`` renders them as SP-API JSON and
``reports.py`` as flat files, ``api/`` serves them. This module imports none of those, so
each of them can import it. Times are epoch seconds (``int``); money is ``Decimal`` rounded
per currency. An order's state at an instant (``order_state``) is a pure function of its
timeline, so it lives here with the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .money import quantize

HOUR = 3600
DAY = 86400


@dataclass(frozen=True)
class Marketplace:
    code: str
    id: str
    name: str  # Amazon's marketplace name, e.g. "Amazon.com"
    country: str
    currency: str
    language: str
    domain: str
    fx: Decimal  # USD -> currency, for generated prices
    fba_channel: str  # fulfillmentChannelCode for FBA listings
    order_prefixes: tuple[str, ...]
    fcs: tuple[str, ...]
    std_level: str
    exp_level: str
    tax_rates: tuple[Decimal, ...]
    facilitator_tax: bool  # Amazon collects and withholds the tax (US/CA)
    cities: tuple[tuple[str, str, str], ...]  # (city, state/region, postal code)


MARKETPLACES: dict[str, Marketplace] = {
    m.code: m
    for m in (
        Marketplace(
            "US", "ATVPDKIKX0DER", "Amazon.com", "US", "USD", "en_US", "www.amazon.com",
            Decimal("1"), "AMAZON_NA", ("111", "112", "113", "114"),
            ("PHX7", "ABE8", "ONT8", "MDW2"), "Std US D2D Dom", "Exp US D2D Dom",
            (Decimal("0.0600"), Decimal("0.0725"), Decimal("0.0825"), Decimal("0.0950")), True,
            (("Seattle", "WA", "98109"), ("Austin", "TX", "78701"),
             ("Columbus", "OH", "43215"), ("Denver", "CO", "80202")),
        ),
        Marketplace(
            "CA", "A2EUQ1WTGCTBG2", "Amazon.ca", "CA", "CAD", "en_CA", "www.amazon.ca",
            Decimal("1.35"), "AMAZON_NA", ("701", "702"), ("YYZ4", "YVR2"),
            "Std CA Dom_1", "Exp CA Dom_1", (Decimal("0.05"), Decimal("0.13")), True,
            (("Toronto", "ON", "M5V 2T6"), ("Vancouver", "BC", "V6B 1A1")),
        ),
        Marketplace(
            "UK", "A1F83G8C2ARO7P", "Amazon.co.uk", "GB", "GBP", "en_GB", "www.amazon.co.uk",
            Decimal("0.79"), "AMAZON_EU", ("202", "203", "204", "205", "206"), ("LTN1", "BHX4"),
            "Std UK Dom_1", "Exp UK Dom_1", (Decimal("0.20"),), False,
            (("London", "Greater London", "EC1A 1BB"), ("Leeds", "West Yorkshire", "LS1 4AP")),
        ),
        Marketplace(
            "DE", "A1PA6795UKMFR9", "Amazon.de", "DE", "EUR", "de_DE", "www.amazon.de",
            Decimal("0.92"), "AMAZON_EU", ("302", "303", "304", "305", "306"), ("DUS2", "LEJ1"),
            "Std DE Dom_1", "Exp DE Dom_1", (Decimal("0.19"),), False,
            (("Berlin", "Berlin", "10115"), ("München", "Bayern", "80331")),
        ),
        Marketplace(
            "JP", "A1VC38T7YXB528", "Amazon.co.jp", "JP", "JPY", "ja_JP", "www.amazon.co.jp",
            Decimal("150"), "AMAZON_JP", ("249", "250", "503"), ("NRT1", "KIX2"),
            "Std JP Kanto8", "Exp JP Kanto8", (Decimal("0.10"),), False,
            (("Shibuya-ku", "Tokyo", "150-0002"), ("Kita-ku", "Osaka", "530-0001")),
        ),
    )
}
MARKETPLACE_BY_ID = {m.id: m for m in MARKETPLACES.values()}

# Amazon's accepted carrier codes (a representative subset of the published list).
CARRIER_CODES = (
    "UPS", "USPS", "FedEx", "DHL", "DHL Express", "Royal Mail", "Parcelforce", "Deutsche Post",
    "DPD", "Hermes", "GLS", "Japan Post", "Yamato", "Yamato Transport", "Sagawa",
    "Sagawa Express", "Canada Post", "Purolator", "Amazon Shipping", "OnTrac", "Other",
)

# Amazon's FBA fulfilment fee per unit, by size tier, in US dollars (converted per marketplace).
FBA_FEE_USD = {"small": Decimal("3.22"), "standard": Decimal("4.75"), "large": Decimal("6.85")}


@dataclass
class Product:
    sku: str
    asin: str
    fnsku: str | None
    title: str
    product_type: str
    kind: str  # simple | kit | parent | child
    usd_cents: int
    size_tier: str
    channels: dict[str, str]  # marketplace code -> "AFN" | "MFN"
    created: int
    parent_sku: str | None = None
    children: list[str] = field(default_factory=list)
    components: list[tuple[str, int]] = field(default_factory=list)
    variation: dict[str, str] = field(default_factory=dict)
    mfn_quantity: int = 0

    @property
    def sellable(self) -> bool:
        return self.kind != "parent"

    def price(self, mp: Marketplace) -> Decimal:
        amount = Decimal(self.usd_cents) / 100 * mp.fx
        if mp.currency == "JPY":
            return quantize(amount / 10, "JPY") * 10
        return quantize(amount, mp.currency)

    def fba_fee(self, mp: Marketplace) -> Decimal:
        """Amazon's FBA fulfilment fee for one unit in ``mp``'s currency."""
        return quantize(FBA_FEE_USD[self.size_tier] * mp.fx, mp.currency)


@dataclass
class ReturnEvent:
    time: int  # customer return / return request
    refund_time: int
    quantity: int
    reason: str
    disposition: str
    lpn: str
    rma: str
    fc: str
    comments: str


@dataclass
class OrderItem:
    id: str
    product: Product
    quantity: int
    unit_price: Decimal
    item_price: Decimal
    item_tax: Decimal
    shipping_price: Decimal
    shipping_tax: Decimal
    promotion: Decimal
    promotion_tax: Decimal
    promotion_id: str | None
    ship_time: int | None
    shipment_id: str | None
    ret: ReturnEvent | None = None

    @property
    def principal_net(self) -> Decimal:
        return self.item_price


@dataclass
class Order:
    index: int
    id: str
    mp: Marketplace
    channel: str  # AFN | MFN
    purchase: int
    pending_until: int
    cancel: int | None
    items: list[OrderItem]
    is_prime: bool
    is_premium: bool
    is_business: bool
    service_category: str  # Standard | Expedited | NextDay | SecondDay
    seller_order_id: str | None
    po_number: str | None
    address: tuple[str, str, str]
    buyer_email: str
    tax_rate: Decimal

    @property
    def currency(self) -> str:
        return self.mp.currency

    @property
    def ship_level(self) -> str:
        return self.mp.std_level if self.service_category == "Standard" else self.mp.exp_level

    def events(self) -> list[int]:
        times = [self.purchase]
        if self.cancel is not None:
            if self.pending_until < self.cancel:
                times.append(self.pending_until)
            times.append(self.cancel)
            return times
        times.append(self.pending_until)
        times.extend(i.ship_time for i in self.items if i.ship_time is not None)
        return times


@dataclass
class InboundShipment:
    id: str
    name: str
    mp: Marketplace
    fc: str
    created: int
    shipped: int
    receiving: int
    closed: int
    cancelled: bool
    items: list[tuple[Product, int, int]]  # product, quantity shipped, quantity finally received

    def status(self, now: int) -> str:
        if self.cancelled and now >= self.shipped:
            return "CANCELLED"
        if now >= self.closed:
            return "CLOSED"
        if now >= self.receiving:
            return "RECEIVING"
        if now >= self.shipped:
            return "SHIPPED"
        return "WORKING"

    def last_updated(self, now: int) -> int:
        stamps = [t for t in (self.created, self.shipped, self.receiving, self.closed) if t <= now]
        if self.cancelled:
            stamps = [t for t in (self.created, self.shipped) if t <= now]
        return max(stamps)

    def received(self, now: int, shipped_qty: int, final_qty: int) -> int:
        if self.cancelled or now < self.receiving:
            return 0
        if now >= self.closed:
            return final_qty
        span = self.closed - self.receiving
        return final_qty * (now - self.receiving) // span


@dataclass
class LedgerLine:
    amount_type: str
    description: str
    amount: Decimal
    order_item_code: str = ""
    sku: str = ""
    quantity: str = ""
    promotion_id: str = ""


@dataclass
class Posting:
    """One money movement: what a settlement groups and listFinancialEvents reports."""

    time: int
    mp: Marketplace
    transaction_type: str  # Order | Refund | other-transaction | Storage Fee | ...
    lines: list[LedgerLine]
    order: Order | None = None
    shipment_id: str = ""
    adjustment_id: str = ""
    key: str = ""


@dataclass
class Settlement:
    id: str
    mp: Marketplace
    period: int
    start: int
    end: int
    deposit: int
    postings: list[Posting]
    reserve_previous: Decimal
    reserve_current: Decimal

    @property
    def currency(self) -> str:
        return self.mp.currency

    @property
    def created(self) -> int:
        return self.end + DAY

    @property
    def report_id(self) -> str:
        return str(50_000_000_000 + int(self.id) % 10_000_000_000)

    @property
    def document_id(self) -> str:
        return f"amzn1.spdoc.1.4.na.settlement.{self.id}"


@dataclass
class OrderState:
    """An order as seen at one instant."""

    status: str  # Orders v0 OrderStatus
    last_update: int
    shipped: dict[str, int]  # order item id -> quantity shipped
    ship_times: dict[str, int]  # order item id -> last shipment time (shipped items only)


def order_state(
    order: Order, now: int, shipments: dict[str, list[tuple[int, int]]] | None = None
) -> OrderState | None:
    """The order's state at ``now``; ``shipments`` adds seller confirmations (item -> [(t, q)])."""
    if now < order.purchase:
        return None
    if order.cancel is not None and now >= order.cancel:
        return OrderState("Canceled", order.cancel, {i.id: 0 for i in order.items}, {})
    if now < order.pending_until:
        return OrderState("Pending", order.purchase, {i.id: 0 for i in order.items}, {})
    last = order.pending_until
    shipped: dict[str, int] = {}
    times: dict[str, int] = {}
    for item in order.items:
        qty = 0
        if item.ship_time is not None and item.ship_time <= now:
            qty = item.quantity
            times[item.id] = item.ship_time
        for when, count in (shipments or {}).get(item.id, ()):
            if when <= now:
                qty += count
                times[item.id] = max(times.get(item.id, when), when)
        shipped[item.id] = min(qty, item.quantity)
        if item.id in times:
            last = max(last, times[item.id])
    total = sum(i.quantity for i in order.items)
    done = sum(shipped.values())
    status = "Shipped" if done >= total else ("PartiallyShipped" if done else "Unshipped")
    return OrderState(status, last, shipped, times)
